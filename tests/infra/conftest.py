"""Shared fixtures of the infrastructure tests: each stage's template, synthesized once per session.

Synthesis (CDK through jsii/node) takes ~40 s a stage on two cores, so the three stacks are built once and every
test reads the JSON. ``prod`` is synthesized the way production is deployed (an ACM certificate ARN and a narrowed
ingress CIDR); ``dev`` and ``staging`` with the defaults (HTTP with a warning, open ingress with a warning), so
both listener paths are covered without a fourth synthesis.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
STAGES = ("dev", "staging", "prod")
PROD_CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
PROD_CONTEXT = {"certificate_arn": PROD_CERTIFICATE, "ingress_cidr": "203.0.113.0/24", "image_tag": "abc1234"}

_SYNTH = """
import json, sys
sys.path.insert(0, {infra!r})
import aws_cdk as cdk
import app as entry
context = json.load(open({cdk_json!r}))["context"]
context.update(json.loads(sys.argv[1]))
application = cdk.App(context=context, outdir=sys.argv[2])
entry.build(application)
application.synth()
"""


@dataclass(frozen=True)
class Synthesized:
    stage: str
    template: dict[str, Any]
    path: Path
    warnings: list[str]

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == type_}


def synthesize(stage: str, outdir: Path, extra: dict[str, str] | None = None) -> Synthesized:
    """``infra/app.py``'s stack for ``stage`` (with cdk.json's feature flags, as ``cdk synth`` reads them)."""
    context = {"stage": stage, **(extra or {})}
    script = _SYNTH.format(infra=str(INFRA), cdk_json=str(INFRA / "cdk.json"))
    env = {**os.environ, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"}
    env.pop("CDK_DEFAULT_ACCOUNT", None)
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(context), str(outdir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, f"synthesis of {stage} failed:\n{result.stderr[-4000:]}"
    path = outdir / f"OpsPlatform-{stage}.template.json"
    # Annotations are in the manifest or (newer CDK) in <stack>.metadata.json.
    manifest = json.loads((outdir / "manifest.json").read_text())
    metadata = [m for a in manifest["artifacts"].values() for m in a.get("metadata", {}).values()]
    side_file = outdir / f"OpsPlatform-{stage}.metadata.json"
    if side_file.exists():
        metadata += list(json.loads(side_file.read_text()).values())
    entries = [entry for group in metadata for entry in group]
    warnings = [str(e["data"]) for e in entries if e["type"] == "aws:cdk:warning"]
    errors = [str(e["data"]) for e in entries if e["type"] == "aws:cdk:error"]
    assert not errors, errors
    return Synthesized(stage, json.loads(path.read_text()), path, warnings)


def _load(stage: str, outdir: Path) -> Synthesized | None:
    path = outdir / f"OpsPlatform-{stage}.template.json"
    if not path.exists():
        return None
    return Synthesized(stage, json.loads(path.read_text()), path, json.loads((outdir / "warnings.json").read_text()))


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    """Every stage's template (synthesized once per session, in a subprocess so jsii's node exits with it).

    ``OPS_INFRA_REUSE_SYNTH=<dir>`` keeps the templates in ``<dir>`` and reuses them in later sessions: for
    iterating on the tests only (delete the folder after changing infra/).
    """
    reuse = os.environ.get("OPS_INFRA_REUSE_SYNTH")
    root = Path(reuse) if reuse else tmp_path_factory.mktemp("cdk")
    out = {}
    for stage in STAGES:
        loaded = _load(stage, root / stage) if reuse else None
        if loaded is None:
            loaded = synthesize(stage, root / stage, PROD_CONTEXT if stage == "prod" else None)
            (root / stage / "warnings.json").write_text(json.dumps(loaded.warnings))
        out[stage] = loaded
    return out


@pytest.fixture(scope="session")
def dev(synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized["dev"]


@pytest.fixture(scope="session")
def prod(synthesized: dict[str, Synthesized]) -> Synthesized:
    return synthesized["prod"]
