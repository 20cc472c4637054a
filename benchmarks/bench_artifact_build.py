"""Claim: the streaming artifact build fits an IWB-size universe in the seed's 4 GB and is no slower
than a plain all-in-memory pandas build of the same maths.

Both builds start from the same stored raw payloads (a local object store written once from the
deterministic sample generator) and call the same per-ticker maths:

* streaming (ours, ``ops_assets.fundamentals.artifact``): the quarterly table for all tickers, then one
  ticker at a time into one parquet file (row groups of 250k rows);
* plain (reference): every ticker's daily frame kept in memory, ``pd.concat``, one ``to_parquet``.

Each build runs in its own fresh process; peak memory is that process's maximum RSS (ru_maxrss).
The plain build's address space is capped (``--plain-cap-gb``) so an out-of-memory build fails cleanly.

    .venv/bin/python benchmarks/bench_artifact_build.py --tickers 100 1000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

AS_OF = date(2026, 11, 22)
START = date(2006, 11, 22)  # 20 years of daily rows
OUT = REPO / "benchmarks" / "out"


def prepare_store(n_tickers: int) -> Path:
    """Write the raw payloads of an n-ticker sample universe into a local object store (once)."""
    from ops_assets.fundamentals.fetching import STATEMENT_FUNCTIONS
    from ops_assets.fundamentals.keys import raw_key
    from resources.object_store import LocalObjectStore
    from resources.sample_sources.alpha_vantage import ERROR_TICKER, SampleAlphaVantageData

    root = OUT / f"store-{n_tickers}"
    marker = root / ".complete"
    if marker.exists():
        return root
    store = LocalObjectStore(root=str(root))
    data = SampleAlphaVantageData(n_tickers=n_tickers)
    tickers = [t for t in data.tickers if t != ERROR_TICKER]
    for ticker in tickers:
        for function in (*STATEMENT_FUNCTIONS, "EARNINGS", "SPLITS"):
            store.put_bytes(raw_key(function, ticker), data.response_bytes(function, {"symbol": ticker}))
        store.put_bytes(
            raw_key("TIME_SERIES_DAILY", ticker),
            data.response_bytes("TIME_SERIES_DAILY", {"symbol": ticker, "outputsize": "full"}),
        )
    (root / "tickers.json").write_text(json.dumps(tickers))
    marker.write_text("ok")
    return root


def build(mode: str, root: Path, out_file: Path) -> dict:
    """One build in this process; returns measured figures."""
    import pandas as pd

    from ops_assets.fundamentals.artifact import (
        build_quarterly,
        load_raw_ticker,
        price_loader_from_store,
        write_ttm_artifact,
    )
    from ops_assets.fundamentals.daily import build_daily_per_share, to_artifact_table
    from resources.object_store import LocalObjectStore

    store = LocalObjectStore(root=str(root))
    tickers = json.loads((root / "tickers.json").read_text())
    started = time.perf_counter()
    raw = (load_raw_ticker(store, t) for t in tickers)
    quarterly = build_quarterly(raw, start_date=START, as_of=AS_OF, min_quarters=10, outlier_threshold=8.0).frame
    if mode == "streaming":
        loader = price_loader_from_store(store)
        rows = write_ttm_artifact(quarterly, loader, out_file, start_date=START, as_of=AS_OF).rows
    else:
        load = price_loader_from_store(store)
        frames = []
        for ticker, quarters in quarterly.groupby("ticker", sort=True):
            prices, splits = load(str(ticker))
            frames.append(
                build_daily_per_share(
                    quarters.reset_index(drop=True), prices, splits, ticker=str(ticker), start_date=START, as_of=AS_OF
                )
            )
        everything = pd.concat(frames, ignore_index=True)
        rows = len(everything)
        to_artifact_table(everything).to_pandas().to_parquet(out_file, compression="zstd", index=False)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "rows": rows, "seconds": seconds, "peak_mb": peak_mb, "bytes": out_file.stat().st_size}


def run_child(mode: str, root: Path, n: int, cap_gb: float) -> dict:
    out_file = OUT / f"artifact-{mode}-{n}.parquet"
    command = [sys.executable, __file__, "--child", mode, "--store", str(root), "--out", str(out_file)]
    if mode == "plain":
        command += ["--cap-gb", str(cap_gb)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stderr.strip().splitlines() or ["?"])[-1]
        return {"mode": mode, "failed": tail}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickers", type=int, nargs="+", default=[100])
    parser.add_argument("--plain-cap-gb", type=float, default=16.0)
    parser.add_argument("--child", choices=["streaming", "plain"])
    parser.add_argument("--store", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--cap-gb", type=float)
    args = parser.parse_args()

    if args.child:
        if args.cap_gb:
            cap = int(args.cap_gb * 1024**3)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        print(json.dumps(build(args.child, args.store, args.out)))
        return

    OUT.mkdir(parents=True, exist_ok=True)
    print(f"as_of {AS_OF}, daily rows from {START} (20 years); each build in a fresh process")
    print(f"{'tickers':>7} {'build':>9} {'rows':>10} {'wall s':>8} {'peak MB':>8} {'file MB':>8}")
    for n in args.tickers:
        t0 = time.perf_counter()
        root = prepare_store(n)
        print(f"# universe of {n} tickers stored in {time.perf_counter() - t0:.1f} s ({root})")
        results = {mode: run_child(mode, root, n, args.plain_cap_gb) for mode in ("streaming", "plain")}
        for mode, r in results.items():
            if "failed" in r:
                print(f"{n:>7} {mode:>9} failed: {r['failed']}")
            else:
                figures = f"{r['rows']:>10} {r['seconds']:>8.1f} {r['peak_mb']:>8.0f} {r['bytes'] / 1e6:>8.1f}"
                print(f"{n:>7} {mode:>9} {figures}")
        s, p = results["streaming"], results["plain"]
        if "failed" not in s and "failed" not in p:
            print(
                f"{n:>7}     ratio  plain/streaming wall {p['seconds'] / s['seconds']:.2f}x, "
                f"peak memory {p['peak_mb'] / s['peak_mb']:.2f}x"
            )


if __name__ == "__main__":
    main()
