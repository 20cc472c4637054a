"""cfn-lint is clean (errors and warnings) on every stage's template."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import STAGES

CFN_LINT = str(Path(sys.executable).with_name("cfn-lint"))


@pytest.mark.parametrize("stage", STAGES)
def test_cfn_lint_is_clean(synthesized, stage):
    result = subprocess.run([CFN_LINT, str(synthesized[stage].path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
