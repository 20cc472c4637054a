"""checkov (its own virtualenv, ``--skip-download``): every finding left is one docs/DEPLOY.md explains.

The test compares the set of (check id, stage) that fail with the table in docs/DEPLOY.md, "Security scan
findings": a new finding fails the test until it is fixed or explained, and so does an explained finding that no
longer occurs (the table must stay true).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import REPO, STAGES

CHECKOV_VERSION = "3.3.30"
VENV = REPO / ".venv-checkov"
DEPLOY_DOC = REPO / "docs" / "DEPLOY.md"
ROW = re.compile(r"^\|\s*`?(CKV2?_AWS_\d+)`?\s*\|\s*([a-z, ]+?)\s*\|")


@pytest.fixture(scope="session")
def checkov() -> Path:
    """checkov in ``.venv-checkov/`` (git-ignored), created on first use from PyPI (a few minutes, once)."""
    binary = VENV / "bin" / "checkov"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        install = subprocess.run(
            [
                str(VENV / "bin" / "pip"),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                f"checkov=={CHECKOV_VERSION}",
            ],
            capture_output=True,
            text=True,
            timeout=1200,
        )
        assert install.returncode == 0, f"could not install checkov into {VENV}: {install.stderr[-2000:]}"
    return binary


def documented_findings() -> set[tuple[str, str]]:
    text = DEPLOY_DOC.read_text()
    section = text.split("## Security scan findings", 1)[1].split("\n## ", 1)[0]
    found = set()
    for line in section.splitlines():
        match = ROW.match(line)
        if match:
            found |= {(match.group(1), stage.strip()) for stage in match.group(2).split(",")}
    return found


def test_documented_findings_parse():
    findings = documented_findings()
    assert findings
    assert {stage for _, stage in findings} <= set(STAGES)


def test_every_remaining_checkov_finding_is_explained(checkov, synthesized):
    failed = set()
    for stage in STAGES:
        result = subprocess.run(
            [
                str(checkov),
                "-f",
                str(synthesized[stage].path),
                "--framework",
                "cloudformation",
                "--skip-download",
                "--quiet",
                "--compact",
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode in (0, 1), result.stderr[-2000:]
        report = json.loads(result.stdout)
        report = report[0] if isinstance(report, list) else report
        assert report["summary"]["parsing_errors"] == 0
        failed |= {(check["check_id"], stage) for check in report["results"]["failed_checks"]}
    documented = documented_findings()
    assert not failed - documented, (
        f"new checkov findings, fix or explain in docs/DEPLOY.md: {sorted(failed - documented)}"
    )
    assert not documented - failed, f"explained findings that no longer occur: {sorted(documented - failed)}"
