"""The Dockerfile cannot be built here (no Docker daemon, no hub): check that what it names exists and agrees."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "Dockerfile").read_text()
# Instructions with their continuation lines joined.
INSTRUCTIONS = [line for line in re.sub(r"\\\n\s*", " ", DOCKERFILE).splitlines() if line and not line.startswith("#")]


def test_every_copied_path_exists_and_is_not_docker_ignored() -> None:
    ignored = set((REPO / ".dockerignore").read_text().split())
    copies = [shlex.split(line)[1:-1] for line in INSTRUCTIONS if line.startswith("COPY ")]
    sources = [source for sources in copies for source in sources]
    assert sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert source.split("/")[0] not in ignored, source


def test_python_modules_run_at_build_time_exist_and_are_copied() -> None:
    modules = re.findall(r"python -m ([\w.]+)", DOCKERFILE)
    assert "resources.bake_sentiment_model" in modules
    copied = {shlex.split(line)[1] for line in INSTRUCTIONS if line.startswith("COPY ")}
    for module in modules:
        assert importlib.util.find_spec(module) is not None, module
        assert module.split(".")[0] in copied, module


def test_the_runtime_reads_the_model_the_build_baked() -> None:
    [bake] = [line for line in INSTRUCTIONS if "resources.bake_sentiment_model" in line]
    destination = shlex.split(bake.split("resources.bake_sentiment_model", 1)[1])[1]
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(line for line in INSTRUCTIONS if line.startswith("ENV "))))
    assert env["OPS_SENTIMENT_MODEL"] == destination
    assert env["OPS_SENTIMENT_BACKEND"] == "transformers"
    assert env["HF_HUB_OFFLINE"] == "1"
