"""Claim: smart refresh needs 6 requests per ticker the first time and 3 in a week without new reports.

Runs the pipeline's fetch step (``refresh_ticker``, the function the ``alpha_vantage_raw`` asset calls) for a
sample universe against the local sample server, three weeks in a row, counting the requests the server
received per ticker. Side by side: the plain reference, which re-fetches all six payloads every week (what a
cache-less weekly job does; the original pipeline instead never refreshed at all).

Week 1: empty store (full refresh). Week 2: the same data (no new reports). Week 3: a week of
earnings season later (the tickers that reported in it fetch their statements again).

    .venv/bin/python benchmarks/bench_refresh_requests.py --tickers 100
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ops_assets.fundamentals.fetching import refresh_ticker
from resources.alpha_vantage import AlphaVantageResource
from resources.object_store import LocalObjectStore
from resources.sample_sources.alpha_vantage import ERROR_TICKER, SampleAlphaVantageData
from resources.sample_sources.server import AlphaVantageSampleServer
from resources.secrets import StaticSecrets

PLAIN_REQUESTS_PER_TICKER = 6  # EARNINGS, 3 statements, TIME_SERIES_DAILY, SPLITS


def run_week(data: SampleAlphaVantageData, store: LocalObjectStore, as_of: date) -> Counter:
    with AlphaVantageSampleServer(data) as server:
        client = AlphaVantageResource(
            base_url=server.url,
            secrets=StaticSecrets(values={"alpha-vantage-api-key": "bench"}),
            requests_per_minute=1e6,
        )
        now = datetime.combine(as_of, datetime.min.time(), UTC)
        for ticker in data.tickers:
            if ticker != ERROR_TICKER:
                refresh_ticker(client, store, ticker, now=now, as_of=as_of, max_statement_age=timedelta(days=90))
        return Counter(r.symbol for r in server.requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickers", type=int, default=100)
    args = parser.parse_args()

    weeks = [
        ("week 1: empty store", date(2026, 10, 18), date(2026, 10, 16)),
        ("week 2: no new reports", date(2026, 10, 25), date(2026, 10, 16)),
        ("week 3: earnings season", date(2026, 11, 1), date(2026, 10, 30)),
    ]
    print(f"{args.tickers} tickers (the error ticker excluded); plain reference = {PLAIN_REQUESTS_PER_TICKER}/ticker")
    print(f"{'week':<26} {'requests':>8} {'per ticker':>10} {'plain':>6} {'ratio':>6}  distribution")
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalObjectStore(root=tmp)
        for label, as_of, data_end in weeks:
            data = SampleAlphaVantageData(n_tickers=args.tickers, end=data_end)
            counts = run_week(data, store, as_of)
            total, tickers = sum(counts.values()), len(counts)
            per_ticker = total / tickers
            spread = dict(sorted(Counter(counts.values()).items()))
            print(
                f"{label:<26} {total:>8} {per_ticker:>10.2f} {PLAIN_REQUESTS_PER_TICKER:>6} "
                f"{per_ticker / PLAIN_REQUESTS_PER_TICKER:>6.2f}  {spread} (requests: tickers)"
            )


if __name__ == "__main__":
    main()
