"""The image installs exactly the locked versions: the Dockerfile's own pip command, resolved into a fresh virtualenv.

The command is read from the Dockerfile (so the test follows it) and run with ``--dry-run --report``: pip resolves
every dependency against the package index as the image build would, without installing anything. Every resolved
distribution must be pinned in constraints.txt at exactly the resolved version; a package the lock forgot (pip
freeze leaves setuptools out, for one) would float in the image.

The machine's pip configuration is switched off (``PIP_CONFIG_FILE=/dev/null``) because the image has none. The
one difference from the image: PyTorch's CPU index (download.pytorch.org) is not reachable from this project's
build machine, so when it cannot be reached the same torch CPU wheel is taken from a local folder instead
(``OPS_TORCH_CPU_WHEELS``, default ``/opt/wheels``); the pinned version is what is checked either way.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
PYTORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PROJECT = "ops-platform"

pytestmark = pytest.mark.integration


def dockerfile_pip_arguments() -> list[str]:
    """The arguments of the Dockerfile's ``pip install`` (there is exactly one)."""
    joined = re.sub(r"\\\n\s*", " ", (REPO / "Dockerfile").read_text())
    [line] = [line for line in joined.splitlines() if line.startswith("RUN pip install ")]
    return shlex.split(line.removeprefix("RUN pip install "))


def locked_versions() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            name, version = requirement.split("==", 1)
            pins[canonicalize_name(name)] = version
    return pins


def reachable(url: str) -> bool:
    host = url.split("/")[2]
    try:
        with socket.create_connection((host, 443), timeout=5):
            return True
    except OSError:
        return False


def torch_source(arguments: list[str]) -> list[str]:
    """The Dockerfile's arguments, with PyTorch's CPU index swapped for a local wheel folder if it is unreachable."""
    if reachable(PYTORCH_CPU_INDEX):
        return arguments
    wheels = Path(os.environ.get("OPS_TORCH_CPU_WHEELS", "/opt/wheels"))
    torch_pin = locked_versions()["torch"]
    if not list(wheels.glob(f"torch-{torch_pin}-*.whl")):
        pytest.fail(
            f"{PYTORCH_CPU_INDEX} is unreachable and {wheels} has no torch-{torch_pin} wheel: "
            "set OPS_TORCH_CPU_WHEELS to a folder holding it"
        )
    index = arguments.index("--extra-index-url")
    assert arguments[index + 1] == PYTORCH_CPU_INDEX
    return [*arguments[:index], "--find-links", str(wheels), *arguments[index + 2 :]]


def test_the_image_pip_command_resolves_to_the_lock_exactly(tmp_path: Path) -> None:
    arguments = dockerfile_pip_arguments()
    assert arguments[-1] == "."
    assert arguments[arguments.index("-c") + 1] == "constraints.txt"

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    report = tmp_path / "report.json"
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    for name in ("PIP_FIND_LINKS", "PIP_CONSTRAINT", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        env.pop(name, None)
    result = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
            str(report),
            *torch_source(arguments),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert result.returncode == 0, result.stderr[-3000:]

    resolved = {
        canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    assert resolved.pop(PROJECT) == "0.1.0"
    pins = locked_versions()
    assert {name for name in resolved if name not in pins} == set(), "resolved but not locked"
    assert {name: version for name, version in resolved.items() if pins[name] != version} == {}
    assert resolved["torch"].endswith("+cpu")
    assert resolved["dagster"] == pins["dagster"]
    assert len(resolved) > 100
