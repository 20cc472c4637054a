"""A snapshot of the asset graph: an accidental change to keys, groups, owners, partitions, checks, jobs, schedules
or sensors shows in review as a diff of ``tests/snapshots/definitions.json``.

After a deliberate change, rewrite the snapshot and commit it with the change:
``UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/unit/test_definitions_snapshot.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

SNAPSHOT = Path(__file__).resolve().parents[1] / "snapshots" / "definitions.json"


def describe(defs: dg.Definitions) -> dict[str, Any]:
    """The shape of the code location, as plain sorted JSON (no resource config: that depends on the machine)."""
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    assets = {}
    for node in sorted(graph.asset_nodes, key=lambda n: n.key.to_user_string()):
        partitions = node.partitions_def
        assets[node.key.to_user_string()] = {
            "group": node.group_name,
            "owners": sorted(node.owners),
            "kinds": sorted(node.kinds),
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "partitions": None if partitions is None else str(partitions),
            "freshness": None if node.freshness_policy is None else type(node.freshness_policy).__name__,
            "code_reference": any(key == "dagster/code_references" for key in (node.metadata or {})),
        }
    checks = {
        f"{key.asset_key.to_user_string()}:{key.name}": {"blocking": graph.get_check_spec(key).blocking}
        for key in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name))
    }
    jobs = {
        job.name: {
            "assets": sorted(k.to_user_string() for k in job.asset_layer.executable_asset_keys),
            "tags": {k: v for k, v in sorted(job.tags.items()) if not k.startswith("dagster/")},
        }
        for job in sorted(repo.get_all_jobs(), key=lambda j: j.name)
        if not job.name.startswith("__")
    }
    schedules = {
        s.name: {
            "cron": s.cron_schedule,
            "timezone": s.execution_timezone,
            "job": s.job_name,
            "status": s.default_status.value,
        }
        for s in sorted(repo.schedule_defs, key=lambda s: s.name)
    }
    sensors = {
        s.name: {"type": s.sensor_type.value, "status": s.default_status.value}
        for s in sorted(repo.sensor_defs, key=lambda s: s.name)
    }
    resources = sorted(repo.get_top_level_resources())
    return {
        "assets": assets,
        "checks": checks,
        "jobs": jobs,
        "schedules": schedules,
        "sensors": sensors,
        "resources": resources,
    }


def test_definitions_match_the_snapshot(local_env) -> None:
    from ops_assets.definitions import defs

    current = describe(defs)
    text = json.dumps(current, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(text)
        pytest.skip("snapshot rewritten")
    assert SNAPSHOT.exists(), f"No snapshot yet: run with UPDATE_SNAPSHOTS=1 to write {SNAPSHOT}"
    assert json.loads(SNAPSHOT.read_text()) == current, (
        "The definitions changed. If that was deliberate, run with UPDATE_SNAPSHOTS=1 and commit the new snapshot."
    )


def test_the_snapshot_sees_a_change(local_env) -> None:
    # A renamed group must change the description the snapshot compares (the test above can fail).
    from ops_assets.definitions import defs

    @dg.asset(group_name="renamed")
    def raw_news_events() -> None: ...

    before = describe(defs)["assets"]["raw_news_events"]["group"]
    after = describe(dg.Definitions(assets=[raw_news_events]))["assets"]["raw_news_events"]["group"]
    assert (before, after) == ("news", "renamed")
