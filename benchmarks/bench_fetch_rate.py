"""Achieved request rate of AlphaVantageResource against its configured limit, next to a plain loop.

Starts local sample servers (no network), then for each configured rate R runs, side by side in two threads
against two servers of their own:

- the client: N sequential ``client.get(...)`` calls with ``requests_per_minute=R``;
- a plain reference: a bare ``requests`` loop with ``time.sleep(60 / R)`` between calls.

It prints measured figures only: requests per minute from the server's arrival times (first to last
request) and from the caller's wall clock, the share of the limit R reached (goal: >= 95 %, without ever
exceeding it), the smallest gap between two requests, and the client/reference ratio.

    .venv/bin/python benchmarks/bench_fetch_rate.py                 # 600/min for 30 s, 75/min for ~40 s
    .venv/bin/python benchmarks/bench_fetch_rate.py --runs 120:20   # rate:seconds pairs
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resources.alpha_vantage import AlphaVantageResource
from resources.sample_sources.alpha_vantage import ORDINARY_TICKER, SampleAlphaVantageData
from resources.sample_sources.server import AlphaVantageSampleServer
from resources.secrets import StaticSecrets


@dataclass
class Measured:
    n: int
    wall_seconds: float
    arrivals: list[float]

    @property
    def server_rpm(self) -> float:
        span = self.arrivals[-1] - self.arrivals[0]
        return (len(self.arrivals) - 1) / span * 60 if span > 0 else float("nan")

    @property
    def wall_rpm(self) -> float:
        return self.n / self.wall_seconds * 60

    @property
    def min_gap_ms(self) -> float:
        return min(b - a for a, b in pairwise(self.arrivals)) * 1000

    @property
    def median_gap_ms(self) -> float:
        return statistics.median(b - a for a, b in pairwise(self.arrivals)) * 1000


def run_client(server: AlphaVantageSampleServer, rpm: float, n: int, function: str) -> Measured:
    client = AlphaVantageResource(
        base_url=server.url,
        secrets=StaticSecrets(values={"alpha-vantage-api-key": "bench-key"}),
        requests_per_minute=rpm,
    )
    client.get(function, ORDINARY_TICKER)  # warm the connection and the payload cache; takes the first permit
    server.reset()
    started = time.perf_counter()
    for _ in range(n):
        client.get(function, ORDINARY_TICKER)
    wall = time.perf_counter() - started
    client.close()
    return Measured(n, wall, [r.time for r in server.requests])


def run_reference(server: AlphaVantageSampleServer, rpm: float, n: int, function: str) -> Measured:
    session = requests.Session()
    params = {"function": function, "symbol": ORDINARY_TICKER, "apikey": "bench-key"}
    session.get(server.url, params=params, timeout=30).json()
    time.sleep(60 / rpm)
    server.reset()
    started = time.perf_counter()
    for i in range(n):
        session.get(server.url, params=params, timeout=30).json()
        if i < n - 1:
            time.sleep(60 / rpm)
    wall = time.perf_counter() - started
    session.close()
    return Measured(n, wall, [r.time for r in server.requests])


Runner = Callable[[AlphaVantageSampleServer, float, int, str], Measured]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--runs",
        nargs="+",
        default=["600:30", "75:40"],
        help="rate:seconds pairs (requests per minute : approximate duration); default 600:30 75:40",
    )
    parser.add_argument("--function", default="SPLITS", help="Alpha Vantage function to call (default SPLITS)")
    args = parser.parse_args()

    data = SampleAlphaVantageData()
    print(f"function={args.function} symbol={ORDINARY_TICKER}; client and reference run side by side")
    header = (
        f"{'limit/min':>9} {'n':>5} | {'client/min':>10} {'wall/min':>9} {'of limit':>8} {'min gap':>8} | "
        f"{'plain/min':>9} {'of limit':>8} {'min gap':>8} | {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for spec in args.runs:
        rate_text, seconds_text = spec.split(":")
        rpm, seconds = float(rate_text), float(seconds_text)
        n = max(2, round(seconds * rpm / 60) + 1)
        results: dict[str, Measured] = {}

        def measure(
            into: dict[str, Measured], name: str, runner: Runner, server: AlphaVantageSampleServer, rpm: float, n: int
        ) -> None:
            into[name] = runner(server, rpm, n, args.function)

        with AlphaVantageSampleServer(data) as client_server, AlphaVantageSampleServer(data) as plain_server:
            threads = [
                threading.Thread(target=measure, args=(results, "client", run_client, client_server, rpm, n)),
                threading.Thread(target=measure, args=(results, "plain", run_reference, plain_server, rpm, n)),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        client, plain = results["client"], results["plain"]
        print(
            f"{rpm:>9.0f} {n:>5} | {client.server_rpm:>10.2f} {client.wall_rpm:>9.2f} "
            f"{client.server_rpm / rpm:>8.1%} {client.min_gap_ms:>6.1f}ms | "
            f"{plain.server_rpm:>9.2f} {plain.server_rpm / rpm:>8.1%} {plain.min_gap_ms:>6.1f}ms | "
            f"{client.server_rpm / plain.server_rpm:>6.3f}"
        )
        print(
            f"{'':>9} {'':>5}   median gap client {client.median_gap_ms:.1f} ms, plain {plain.median_gap_ms:.1f} ms; "
            f"wall client {client.wall_seconds:.1f} s, plain {plain.wall_seconds:.1f} s"
        )


if __name__ == "__main__":
    main()
