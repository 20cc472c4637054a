"""Fundamentals (avpipeline): the weekly trailing-twelve-month per-share artifact for an ETF's holdings.

etf_holdings -> av_raw_statements / av_raw_prices / av_raw_splits -> quarterly_financials -> ttm_per_share
"""

import io
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ops_assets.freshness import WEEKLY
from ops_assets.fundamentals import keys
from ops_assets.fundamentals.artifact import (
    build_quarterly,
    load_raw_ticker,
    price_loader_from_store,
    write_ttm_artifact,
)
from ops_assets.fundamentals.checks import artifact_check_specs, blocking_failures, evaluate_artifact_checks
from ops_assets.fundamentals.fetching import TickerFetchOutcome, has_cached_data, refresh_ticker
from ops_assets.fundamentals.metadata import (
    COVERAGE_HEADERS,
    UNKNOWN_SOURCE,
    artifact_coverage,
    coverage_by_year,
    coverage_rows,
    data_source,
)
from ops_assets.fundamentals.partitions import partition_date, weekly_partitions
from ops_assets.fundamentals.quarterly import to_quarterly_table
from ops_assets.fundamentals.settings import FundamentalsSettings
from ops_assets.fundamentals.universe import parse_etf_holdings
from ops_assets.tables import markdown_table
from resources.alpha_vantage import (
    AlphaVantageDailyQuotaError,
    AlphaVantageError,
    AlphaVantageResource,
    AlphaVantageRunError,
)
from resources.object_store import ObjectStore

GROUP = "fundamentals"
OWNERS = ["team:fundamentals"]


@dg.asset(
    partitions_def=weekly_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "json"},
    freshness_policy=WEEKLY,
)
def etf_holdings(
    context: dg.AssetExecutionContext,
    alpha_vantage: AlphaVantageResource,
    object_store: ObjectStore,
    fundamentals_settings: FundamentalsSettings,
) -> dg.MaterializeResult:
    """The ETF's equity holdings this week (Alpha Vantage ETF_PROFILE, cash rows removed).

    These tickers are the universe of the week's artifact. The ETF is the `etf_symbol` setting (QQQ by
    default); `max_tickers` keeps only the first N holdings. `source` says which Alpha Vantage answered: the
    live service or the bundled offline sample.
    """
    as_of = partition_date(context.partition_key)
    etf = fundamentals_settings.etf_symbol
    source = data_source(alpha_vantage.base_url)
    try:
        payload = alpha_vantage.get("ETF_PROFILE", etf)
    except AlphaVantageError as exc:
        raise dg.Failure(description=f"Could not read the holdings of {etf}: {exc}", allow_retries=False) from None
    holdings = parse_etf_holdings(payload)
    if fundamentals_settings.max_tickers:
        holdings = holdings[: fundamentals_settings.max_tickers]
    if not holdings:
        raise dg.Failure(description=f"ETF_PROFILE for {etf} lists no equity holdings: nothing to build.")
    object_store.put_json(keys.raw_key("ETF_PROFILE", etf), payload)
    holdings_key = keys.holdings_key(as_of)
    object_store.put_json(
        holdings_key,
        {
            "etf_symbol": etf,
            "source": source,
            "as_of": as_of.isoformat(),
            "holdings": [{"symbol": h.symbol, "description": h.description, "weight": h.weight} for h in holdings],
        },
    )
    return dg.MaterializeResult(
        metadata={
            # The contract other domains read (news matches tickers against these holdings).
            "object_key": holdings_key,
            "etf_symbol": etf,
            "source": source,
            "tickers": len(holdings),
            "holdings": markdown_table(
                ["symbol", "description", "weight"],
                [[h.symbol, h.description, "" if h.weight is None else h.weight] for h in holdings],
            ),
        }
    )


RAW_SPECS = [
    dg.AssetSpec(
        "av_raw_statements",
        deps=[etf_holdings],
        description="Raw quarterly INCOME_STATEMENT, BALANCE_SHEET, CASH_FLOW and EARNINGS JSON per ticker, as "
        "Alpha Vantage returned them. Statements are fetched again only when EARNINGS shows a newer report or "
        "the stored copy is too old.",
        group_name=GROUP,
        owners=OWNERS,
        kinds={"json"},
        freshness_policy=WEEKLY,
    ),
    dg.AssetSpec(
        "av_raw_prices",
        deps=[etf_holdings],
        description="Raw TIME_SERIES_DAILY JSON per ticker (as traded, unadjusted); the recent 100 days are "
        "merged into the stored history every week.",
        group_name=GROUP,
        owners=OWNERS,
        kinds={"json"},
        freshness_policy=WEEKLY,
    ),
    dg.AssetSpec(
        "av_raw_splits",
        deps=[etf_holdings],
        description="Raw SPLITS JSON per ticker (split factor = new shares / old shares).",
        group_name=GROUP,
        owners=OWNERS,
        kinds={"json"},
        freshness_policy=WEEKLY,
    ),
]


@dg.multi_asset(specs=RAW_SPECS, partitions_def=weekly_partitions, can_subset=False)
def alpha_vantage_raw(
    context: dg.AssetExecutionContext,
    alpha_vantage: AlphaVantageResource,
    object_store: ObjectStore,
    fundamentals_settings: FundamentalsSettings,
) -> Iterator[dg.MaterializeResult]:
    """Fetches each holding's raw payloads under the client's rate limit.

    A ticker whose data Alpha Vantage refuses is reported and skipped (its previously stored copy, if any,
    stays usable); a bad key or a plan without the needed endpoint stops the run; a spent daily quota stops
    fetching and the run continues with what is stored.
    """
    as_of = partition_date(context.partition_key)
    holdings = object_store.get_json(keys.holdings_key(as_of))
    tickers = [h["symbol"] for h in holdings["holdings"]]
    now = datetime.now(UTC)
    outcomes: list[TickerFetchOutcome] = []
    quota_message: str | None = None
    for ticker in tickers:
        if quota_message:
            outcomes.append(TickerFetchOutcome(ticker=ticker, status="not_fetched", error=quota_message))
            continue
        try:
            outcome = refresh_ticker(
                alpha_vantage,
                object_store,
                ticker,
                now=now,
                as_of=as_of,
                max_statement_age=fundamentals_settings.max_statement_age,
                full_price_history=fundamentals_settings.full_price_history,
            )
        except AlphaVantageDailyQuotaError as exc:
            quota_message = str(exc)
            context.log.warning(f"Daily quota spent at {ticker}; continuing with stored data. {exc}")
            outcome = TickerFetchOutcome(ticker=ticker, status="not_fetched", error=quota_message)
        except AlphaVantageRunError as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None
        outcomes.append(outcome)
        if outcome.status == "ok":
            context.log.info(
                f"{ticker}: fetched {', '.join(outcome.fetched)}"
                + (f" ({outcome.refresh_reason})" if outcome.refresh_reason else "; statements unchanged")
            )
        else:
            context.log.warning(f"{ticker}: {outcome.error}")

    usable = [o.ticker for o in outcomes if o.status == "ok" or has_cached_data(object_store, o.ticker)]
    if not usable:
        reasons = "; ".join(f"{o.ticker}: {o.error}" for o in outcomes[:5])
        raise dg.Failure(description=f"No ticker has usable data for {as_of} (first reasons: {reasons}).")
    report = {
        "as_of": as_of.isoformat(),
        "usable_tickers": usable,
        "outcomes": [o.as_dict() for o in outcomes],
    }
    object_store.put_json(keys.fetch_report_key(as_of), report)

    table = markdown_table(
        ["ticker", "status", "fetched", "reused", "reason / error"],
        [[o.ticker, o.status, ",".join(o.fetched), ",".join(o.reused), o.error or o.refresh_reason] for o in outcomes],
    )
    counts = {
        "tickers": len(tickers),
        "tickers_ok": sum(o.status == "ok" for o in outcomes),
        "tickers_failed": sum(o.status == "failed" for o in outcomes),
        "tickers_not_fetched": sum(o.status == "not_fetched" for o in outcomes),
        "tickers_usable": len(usable),
        "api_requests": sum(o.requests for o in outcomes),
    }
    statements_refreshed = sum("INCOME_STATEMENT" in o.fetched for o in outcomes)
    yield dg.MaterializeResult(
        asset_key="av_raw_statements",
        metadata={**counts, "statements_refreshed": statements_refreshed, "per_ticker": table},
    )
    yield dg.MaterializeResult(asset_key="av_raw_prices", metadata=counts)
    yield dg.MaterializeResult(asset_key="av_raw_splits", metadata=counts)


def _failed_tickers(report: dict) -> dict[str, str]:
    usable = set(report["usable_tickers"])
    failed = {}
    for outcome in report["outcomes"]:
        if outcome["status"] == "ok":
            continue
        note = "Using the copy stored earlier." if outcome["ticker"] in usable else "Left out."
        failed[outcome["ticker"]] = f"{outcome['error']} {note}"
    return failed


def _parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


@dg.asset(
    partitions_def=weekly_partitions,
    group_name=GROUP,
    owners=OWNERS,
    deps=["av_raw_statements", "av_raw_prices"],
    kinds={"pandas", "parquet"},
    freshness_policy=WEEKLY,
)
def quarterly_financials(
    context: dg.AssetExecutionContext,
    object_store: ObjectStore,
    fundamentals_settings: FundamentalsSettings,
) -> dg.MaterializeResult:
    """One row per ticker and fiscal quarter: the three statements joined with EARNINGS' reportedDate.

    Includes `<metric>_ttm` sums (present only when four consecutive quarters are), `visible_from` (the
    first trading day the quarter was public) and the as-reported share count. One-quarter spikes are
    cleaned and every change is listed in `cleaning_log.parquet` beside it. See docs/fundamentals.md.
    """
    as_of = partition_date(context.partition_key)
    report = object_store.get_json(keys.fetch_report_key(as_of))
    build = build_quarterly(
        (load_raw_ticker(object_store, ticker) for ticker in report["usable_tickers"]),
        start_date=fundamentals_settings.start_date,
        as_of=as_of,
        min_quarters=fundamentals_settings.min_quarters,
        outlier_threshold=fundamentals_settings.outlier_threshold,
    )
    if build.frame.empty:
        raise dg.Failure(
            description=f"No ticker has enough quarterly data for {as_of}: "
            + "; ".join(f"{t}: {r}" for t, r in build.skipped.items())
        )
    left_out = {**_failed_tickers(report), **build.skipped}
    object_store.put_bytes(keys.quarterly_key(as_of), _parquet_bytes(to_quarterly_table(build.frame)))
    cleaning_log = pa.Table.from_pandas(build.cleaning_log, preserve_index=False)
    object_store.put_bytes(keys.cleaning_log_key(as_of), _parquet_bytes(cleaning_log))
    object_store.put_json(keys.left_out_key(as_of), left_out)
    for ticker, reason in build.skipped.items():
        context.log.warning(f"{ticker} left out: {reason}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(build.frame),
            "tickers": len(build.tickers),
            "cleaned_cells": len(build.cleaning_log),
            "left_out": dg.MetadataValue.json(left_out),
            "path": object_store.uri(keys.quarterly_key(as_of)),
        }
    )


@dg.asset(
    partitions_def=weekly_partitions,
    group_name=GROUP,
    owners=OWNERS,
    deps=[quarterly_financials, "av_raw_prices", "av_raw_splits"],
    kinds={"pandas", "parquet", "s3"},
    check_specs=artifact_check_specs("ttm_per_share"),
    freshness_policy=WEEKLY,
)
def ttm_per_share(
    context: dg.AssetExecutionContext,
    object_store: ObjectStore,
    fundamentals_settings: FundamentalsSettings,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """The published artifact: one row per ticker and trading day with TTM and per-share fundamentals.

    Written to `ttm-artifacts/YYYY-MM-DD/ttm_per_share_financial_artifact.parquet` (the partition's
    Sunday). A quarter's numbers appear from the first trading day it was public (never earlier); per-share
    values use the share count adjusted for splits since the report, so they sit consistently beside the
    as-traded close. Artifacts older than the retention (30 days) are pruned. Columns: docs/fundamentals.md.

    The metadata says which source built it (`source`: the live Alpha Vantage or the bundled sample) and what
    it covers: trading days and fiscal quarters per ticker (`coverage`), quarters per ticker and year
    (`quarters_by_year`), and which tickers miss a quarter between their first and last one.
    """
    as_of = partition_date(context.partition_key)
    key = keys.artifact_key(as_of)
    left_out: dict[str, str] = object_store.get_json(keys.left_out_key(as_of))
    source = object_store.get_json(keys.holdings_key(as_of)).get("source", UNKNOWN_SOURCE)
    with tempfile.TemporaryDirectory(prefix="ttm-") as tmp:
        quarterly_path = Path(tmp) / "quarterly.parquet"
        object_store.download_file(keys.quarterly_key(as_of), quarterly_path)
        quarterly = pd.read_parquet(quarterly_path)
        artifact_path = Path(tmp) / keys.ARTIFACT_FILENAME
        summary = write_ttm_artifact(
            quarterly,
            price_loader_from_store(object_store),
            artifact_path,
            start_date=fundamentals_settings.start_date,
            as_of=as_of,
        )
        left_out.update(summary.skipped)
        checks = evaluate_artifact_checks(artifact_path)
        failures = blocking_failures(checks)
        if failures:
            raise dg.Failure(
                description="The artifact failed its checks and was not published: "
                + "; ".join(f"{c.check_name}: {c.description}" for c in failures),
                metadata={c.check_name: c.description for c in checks},
            )
        object_store.upload_file(artifact_path, key)
        size = artifact_path.stat().st_size
    coverage = artifact_coverage(quarterly, summary.days_per_ticker, tickers=summary.tickers)
    year_headers, year_rows = coverage_by_year(coverage)
    pruned = object_store.prune_older_than(keys.ARTIFACT_PREFIX, fundamentals_settings.artifact_retention)
    for pruned_key in pruned:
        context.log.info(f"Pruned {pruned_key} (older than {fundamentals_settings.artifact_retention_days} days)")
    for ticker, reason in sorted(left_out.items()):
        context.log.warning(f"{ticker}: {reason}")
    yield from checks
    yield dg.MaterializeResult(
        metadata={
            "artifact_uri": object_store.uri(key),
            "artifact_key": key,
            "etf_symbol": fundamentals_settings.etf_symbol,
            "source": source,
            "dagster/row_count": summary.rows,
            "rows": summary.rows,
            "tickers": len(summary.tickers),
            "ticker_list": ", ".join(summary.tickers),  # for people, in the UI
            "ticker_symbols": dg.MetadataValue.json(summary.tickers),  # for code: the success notification
            "failed_tickers": dg.MetadataValue.json(left_out),
            "quarter_coverage_pct": coverage.quarter_coverage_pct,
            "tickers_missing_quarters": ", ".join(coverage.tickers_missing_quarters) or "none",
            "missing_quarters": coverage.missing_quarters,
            "coverage": markdown_table(COVERAGE_HEADERS, coverage_rows(coverage)),
            "quarters_by_year": markdown_table(year_headers, year_rows),
            "size_bytes": size,
            "pruned": len(pruned),
        }
    )


fundamentals_assets = [etf_holdings, alpha_vantage_raw, quarterly_financials, ttm_per_share]
