"""Serve the online forecast endpoint (:mod:`ops_assets.forecasting.endpoint`) with uvicorn.

The object store is the environment's (``OPS_ENV``: ``local`` reads ``$OPS_DATA_DIR/object-store``, ``aws`` the
bucket ``$OPS_BUCKET``; see :mod:`ops_assets.environments`). The rest comes from these environment variables:

``OPS_FORECAST_ENDPOINT_HOST``
    Address to listen on. Default ``127.0.0.1`` (loopback); ``0.0.0.0`` in a container.
``OPS_FORECAST_ENDPOINT_PORT``
    Port. Default ``8080``.
``OPS_FORECAST_ENDPOINT_CHALLENGER_VERSION``
    The registry version served as the challenger next to the champion. Default empty: no challenger, the
    champion answers every request.
``OPS_FORECAST_ENDPOINT_CHALLENGER_WEIGHT``
    Share of requests the challenger answers, 0 to 1. Default ``0.1``.
``OPS_FORECAST_ENDPOINT_RELOAD_SECONDS``
    How often (at most) ``champion.json`` is re-read so a promotion is served without a restart. Default ``30``.

One log line per request (method, path, status, variant, version, ms) goes to stderr; uvicorn's own access log is
off (it would repeat the line without the variant)::

    OPS_FORECAST_ENDPOINT_CHALLENGER_VERSION=3 .venv/bin/python scripts/serve_forecasts.py
    curl -s localhost:8080/forecast/AMZN
"""

from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn

from ops_assets.environments import resources_for
from ops_assets.forecasting.endpoint import create_app

PREFIX = "OPS_FORECAST_ENDPOINT_"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    challenger_version: int | None = None
    challenger_weight: float = 0.1
    reload_seconds: float = 30.0


def settings_from(environ: Mapping[str, str]) -> Settings:
    """The settings above; a malformed value stops the start with a message naming the variable."""

    def raw(name: str) -> str | None:
        value = environ.get(PREFIX + name, "").strip()
        return value or None

    def number(name: str, kind: type, default: float, low: float, high: float) -> float:
        value = raw(name)
        if value is None:
            return default
        try:
            parsed = kind(value)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise SystemExit(f"{PREFIX}{name} must be {what}, got {value!r}") from None
        if not (math.isfinite(parsed) and low <= parsed <= high):
            raise SystemExit(f"{PREFIX}{name} must be between {low:g} and {high:g}, got {value!r}")
        return parsed

    defaults = Settings()
    challenger = raw("CHALLENGER_VERSION")
    return Settings(
        host=raw("HOST") or defaults.host,
        port=int(number("PORT", int, defaults.port, 1, 65535)),
        challenger_version=None if challenger is None else int(number("CHALLENGER_VERSION", int, 0, 0, 10**9)),
        challenger_weight=number("CHALLENGER_WEIGHT", float, defaults.challenger_weight, 0.0, 1.0),
        reload_seconds=number("RELOAD_SECONDS", float, defaults.reload_seconds, 0.0, 86_400.0),
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the local central store's migrations, not ours
    settings = settings_from(os.environ)
    # Outside Dagster a resource's dg.EnvVar fields (the bucket in aws) are resolved by initialising it.
    store = resources_for()["object_store"].process_config_and_initialize()
    app = create_app(
        store,
        challenger_version=settings.challenger_version,
        challenger_weight=settings.challenger_weight,
        reload_seconds=settings.reload_seconds,
    )
    uvicorn.run(app, host=settings.host, port=settings.port, access_log=False, log_level="info")


if __name__ == "__main__":
    main()
