"""Claim: the online endpoint answers ``GET /forecast/<ticker>`` in a few milliseconds, and HTTP adds little to the
forecast itself.

Setup (a temporary local object store, nothing outside loopback): AMZN's features from the bundled sample prices
(2024-01-02..2026-11-27), an LSTM with the default architecture (window 20, hidden 32, 1 layer; trained for only
``--epochs`` epochs: the serving cost does not depend on how long it trained) registered as version 1 and promoted,
so every request runs the LSTM. With ``--challenger-weight`` > 0 the naive version 0 is the challenger.

Measured: the app in its own uvicorn process (``--serve`` mode of this file: httptools, access log off, the
endpoint's one log line per request written to a file as in production) on a free loopback port; an asyncio
httpx client (keep-alive) sends ``--requests`` GETs at each concurrency level (1 and 16 clients) after a warm-up.
Side by side, the plain reference: the same forecast computed in this process without HTTP by the endpoint's own
:class:`~ops_assets.forecasting.endpoint.ForecastService` (``route()`` + ``forecast_latest()``), sequentially for
1 client and from 16 threads for 16. The ratio HTTP / reference is what the HTTP layer (uvicorn, starlette, JSON,
the client, the processes sharing the cores) costs.

    .venv/bin/python benchmarks/bench_endpoint.py --requests 2000
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from ops_assets.forecasting.bundle import ForecasterBundle
from ops_assets.forecasting.endpoint import ForecastService, create_app
from ops_assets.forecasting.features import price_features
from ops_assets.forecasting.keys import features_key
from ops_assets.forecasting.model import ModelConfig, fit
from ops_assets.forecasting.prices import bars_frame
from ops_assets.forecasting.registry import ModelCard, ModelRegistry
from ops_assets.forecasting.storage import frame_to_parquet
from resources.object_store import LocalObjectStore
from resources.sample_sources.prices import sample_daily_history

TICKER = "AMZN"
LAST_DAY = date(2026, 11, 27)
LEVELS = (1, 16)
WARMUP_REQUESTS = 100
STARTUP_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class Result:
    latencies_ms: list[float]
    seconds: float

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p99(self) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds


def build_store(root: Path, epochs: int) -> float:
    """The store described in the module doc; returns the training seconds."""
    store = LocalObjectStore(root=str(root))
    features = price_features(bars_frame(sample_daily_history(TICKER, date(2024, 1, 2), LAST_DAY).bars))
    store.put_bytes(features_key(TICKER), frame_to_parquet(features))
    started = time.perf_counter()
    config = ModelConfig(epochs=epochs)
    model = fit(features, config, train_end=LAST_DAY)
    trained = time.perf_counter() - started
    registry = ModelRegistry(store)
    card = ModelCard(
        version=-1,
        kind="lstm",
        config=config.to_dict(),
        data_start="2024-01-02",
        data_end=LAST_DAY.isoformat(),
        data_hash="bench",
        metrics={},
        evaluation_window="",
        code_version="bench",
        created_at="2026-11-29T00:00:00+00:00",
        tickers=[TICKER],
    )
    version = registry.register(ForecasterBundle(kind="lstm", forecasters={TICKER: model}).to_bytes(), card).version
    registry.promote(version, "benchmark")
    return trained


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(root: Path, port: int, challenger_weight: float, log_file: Path) -> None:
    """``--serve``: the app under uvicorn on 127.0.0.1 (runs until terminated)."""
    import uvicorn

    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("ops_assets").addHandler(handler)
    logging.getLogger("ops_assets").setLevel(logging.INFO)
    app = create_app(
        LocalObjectStore(root=str(root)),
        challenger_version=0 if challenger_weight > 0 else None,
        challenger_weight=challenger_weight,
        random_seed=1,
    )
    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning", http="httptools")


async def http_level(url: str, clients: int, requests: int) -> Result:
    latencies: list[float] = []
    remaining = requests
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        for _ in range(WARMUP_REQUESTS):
            (await client.get(url)).raise_for_status()

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                answer = await client.get(url)
                latencies.append((time.perf_counter() - started) * 1000)
                answer.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return Result(latencies, time.perf_counter() - started)


def reference_level(service: ForecastService, clients: int, requests: int) -> Result:
    def once() -> float:
        started = time.perf_counter()
        service.maybe_reload()
        service.forecast_latest(service.route(), TICKER)
        return (time.perf_counter() - started) * 1000

    for _ in range(WARMUP_REQUESTS):
        once()
    started = time.perf_counter()
    if clients == 1:
        latencies = [once() for _ in range(requests)]
    else:
        with ThreadPoolExecutor(clients) as pool:
            latencies = list(pool.map(lambda _: once(), range(requests)))
    return Result(latencies, time.perf_counter() - started)


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < STARTUP_TIMEOUT_S:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode} before answering")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"the server did not answer {url} within {STARTUP_TIMEOUT_S:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per concurrency level")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--challenger-weight", type=float, default=0.0)
    parser.add_argument("--serve", nargs=3, metavar=("ROOT", "PORT", "LOG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        root, port, log_file = args.serve
        serve(Path(root), int(port), args.challenger_weight, Path(log_file))
        return

    with tempfile.TemporaryDirectory(prefix="bench-endpoint-") as tmp:
        root = Path(tmp) / "objects"
        trained = build_store(root, args.epochs)
        port = free_port()
        log_file = Path(tmp) / "endpoint.log"
        command = [sys.executable, __file__, "--serve", str(root), str(port), str(log_file)]
        command += ["--challenger-weight", str(args.challenger_weight)]
        server = subprocess.Popen(command, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            base = f"http://127.0.0.1:{port}"
            startup = wait_until_up(f"{base}/health", server)
            health = httpx.get(f"{base}/health").json()
            print(
                f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; model: LSTM (window 20, hidden 32) "
                f"trained in {trained:.1f} s; server up in {startup:.1f} s on {base}; champion version "
                f"{health['champion_version']} ({health['champion_kind']}), challenger weight {args.challenger_weight}"
            )
            service = ForecastService(
                LocalObjectStore(root=str(root)),
                challenger_version=0 if args.challenger_weight > 0 else None,
                challenger_weight=args.challenger_weight,
                random_seed=1,
            )
            print(f"\nGET /forecast/{TICKER}, {args.requests} requests per level after {WARMUP_REQUESTS} warm-up\n")
            header = (
                f"{'clients':>7}  {'HTTP p50 ms':>11} {'p99 ms':>8} {'req/s':>8}   "
                f"{'ref p50 ms':>10} {'p99 ms':>8} {'calls/s':>8}   {'p50 x':>6} {'p99 x':>6} {'rate /':>6}"
            )
            print(header)
            print("-" * len(header))
            for clients in LEVELS:
                http = asyncio.run(http_level(f"{base}/forecast/{TICKER}", clients, args.requests))
                plain = reference_level(service, clients, args.requests)
                print(
                    f"{clients:>7}  {http.p50:>11.2f} {http.p99:>8.2f} {http.rate:>8.0f}   "
                    f"{plain.p50:>10.2f} {plain.p99:>8.2f} {plain.rate:>8.0f}   "
                    f"{http.p50 / plain.p50:>6.1f} {http.p99 / plain.p99:>6.1f} {plain.rate / http.rate:>6.1f}"
                )
            lines = log_file.read_text().splitlines()
            print(f"\n{len(lines)} log lines from the server; the last: {lines[-1] if lines else '-'}")
            print("x = HTTP / reference latency; rate / = reference calls/s / HTTP requests/s")
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    main()
