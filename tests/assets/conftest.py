"""Fixtures for materializing the fundamentals assets against the local Alpha Vantage sample server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from resources.sample_sources.server import AlphaVantageSampleServer

PARTITION = "2026-11-22"
TEST_KEY = "test-key-d41d8cd98f"  # any key the sample server accepts; distinctive so leaks are findable


@pytest.fixture
def av_server() -> Iterator[AlphaVantageSampleServer]:
    with AlphaVantageSampleServer() as server:
        yield server


@pytest.fixture
def local_av(
    local_env: Path, av_server: AlphaVantageSampleServer, monkeypatch: pytest.MonkeyPatch
) -> AlphaVantageSampleServer:
    """OPS_ENV=local pointed at a fresh sample server with a key, as a user with a key would run it."""
    monkeypatch.setenv("OPS_ALPHA_VANTAGE_BASE_URL", av_server.url)
    monkeypatch.setenv("ALPHA_VANTAGE_API_KEY", TEST_KEY)
    monkeypatch.setenv("OPS_ALPHA_VANTAGE_REQUESTS_PER_MINUTE", "60000")
    return av_server


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    (tmp_path / "instance").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "instance")) as instance:
        yield instance


def materialize_week(
    instance: dg.DagsterInstance, partition: str = PARTITION, **settings: object
) -> dg.ExecuteInJobResult:
    """Materialize every fundamentals asset for one week with the environment's resources."""
    from ops_assets.environments import local_resources
    from ops_assets.fundamentals.assets import fundamentals_assets
    from ops_assets.fundamentals.settings import FundamentalsSettings

    resources = local_resources()
    if settings:
        resources["fundamentals_settings"] = FundamentalsSettings(**settings)
    return dg.materialize(
        fundamentals_assets,
        partition_key=partition,
        resources=resources,
        instance=instance,
        raise_on_error=False,
    )
