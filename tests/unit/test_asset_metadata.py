"""What the assets' metadata shows people: the artifact's source and coverage, and the news feeds' health."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from ops_assets.fundamentals.metadata import (
    COVERAGE_HEADERS,
    KEY_TTM_COLUMNS,
    SAMPLE_SOURCE,
    artifact_coverage,
    coverage_by_year,
    coverage_rows,
    data_source,
)
from ops_assets.news.health import HEALTH_HEADERS, feed_health, health_rows, read_feed_states
from ops_assets.news.ingest import FeedOutcome
from ops_assets.tables import markdown_table
from resources.alpha_vantage import DEFAULT_BASE_URL
from resources.central_schema import feed_state
from resources.central_store import CentralStore


def test_source_says_sample_or_live_and_never_the_query() -> None:
    assert data_source("sample://alpha-vantage") == SAMPLE_SOURCE == "sample (bundled offline data)"
    assert data_source(DEFAULT_BASE_URL) == "alpha_vantage"
    assert data_source("http://127.0.0.1:8123/query?apikey=secret") == "alpha_vantage at http://127.0.0.1"


def quarters(ticker: str, names: list[str], *, ttm_from: int = 3) -> pd.DataFrame:
    """Quarterly rows of one ticker; the key TTM sums are known from the ``ttm_from``-th row on, and a TTM
    sum of a field the company never reports is always empty (it must not hide the others)."""
    frame = pd.DataFrame({"ticker": ticker, "calendar_quarter": names})
    for column in KEY_TTM_COLUMNS:
        frame[column] = [1.0 if i >= ttm_from else float("nan") for i in range(len(names))]
    frame["dividendPayoutPreferredStock_ttm"] = float("nan")
    return frame


def test_coverage_finds_the_missing_quarters() -> None:
    quarterly = pd.concat(
        [
            quarters("AAA", ["2023Q3", "2023Q4", "2024Q1", "2024Q2", "2024Q3"]),
            # 2024Q1 and 2024Q2 are missing between its first and last quarter.
            quarters("BBB", ["2023Q4", "2024Q3", "2024Q4"], ttm_from=9),
        ],
        ignore_index=True,
    )
    days = {"AAA": (date(2023, 11, 1), date(2024, 11, 29), 270), "BBB": (date(2024, 2, 1), date(2024, 11, 29), 210)}

    coverage = artifact_coverage(quarterly, days)

    aaa, bbb = coverage.tickers
    assert (aaa.ticker, aaa.missing_quarters, aaa.quarters_with_ttm, aaa.trading_days) == ("AAA", [], 2, 270)
    assert (bbb.ticker, bbb.missing_quarters, bbb.quarters_with_ttm) == ("BBB", ["2024Q1", "2024Q2"], 0)
    assert coverage.tickers_missing_quarters == ["BBB"]
    assert coverage.missing_quarters == 2
    # 8 quarters present of 10 expected (5 for AAA, 5 for BBB between 2023Q4 and 2024Q4).
    assert coverage.quarter_coverage_pct == 80.0
    assert coverage_rows(coverage) == [
        ["AAA", 270, date(2023, 11, 1), date(2024, 11, 29), 5, 2, "2023Q3", "2024Q3", "none"],
        ["BBB", 210, date(2024, 2, 1), date(2024, 11, 29), 3, 0, "2023Q4", "2024Q4", "2024Q1, 2024Q2"],
    ]
    assert len(COVERAGE_HEADERS) == len(coverage_rows(coverage)[0])

    headers, rows = coverage_by_year(coverage)
    assert headers == ["ticker", "2023", "2024"]
    assert rows == [["AAA", "2", "3"], ["BBB", "1", "2*"]]
    table = markdown_table(headers, rows).value
    assert "| BBB | 1 | 2* |" in table


def test_coverage_of_a_ticker_with_days_but_no_quarters_and_a_long_gap() -> None:
    coverage = artifact_coverage(
        quarters("CCC", ["2010Q1", "2013Q1"]), {"DDD": (date(2024, 1, 2), date(2024, 1, 3), 2)}
    )
    ccc, ddd = coverage.tickers
    assert len(ccc.missing_quarters) == 11
    assert coverage_rows(coverage)[0][-1].endswith("(+3 more)")
    assert (ddd.quarters, ddd.missing_quarters, ddd.trading_days) == ([], [], 2)
    headers, rows = coverage_by_year(coverage)
    assert headers[1:] == ["2010", "2011", "2012", "2013"]
    assert rows[0] == ["CCC", "1*", "0*", "0*", "1"]
    # Outside a ticker's span (here: it has no quarter at all) the cell is blank, not "0".
    assert rows[1] == ["DDD", "", "", "", ""]


def test_coverage_of_nothing() -> None:
    coverage = artifact_coverage(pd.DataFrame(columns=["ticker", "calendar_quarter"]), {})
    assert coverage.tickers == []
    assert coverage.quarter_coverage_pct == 100.0
    assert coverage_by_year(coverage) == (["ticker"], [])


def test_feed_health_joins_the_poll_with_the_stored_state(tmp_path) -> None:
    store = CentralStore(url=f"sqlite:///{tmp_path / 'central.db'}")
    last_ok = datetime(2026, 11, 29, 9, 30, tzinfo=UTC)
    store.upsert(
        feed_state,
        [
            {"feed_name": "wire", "url": "https://w.example", "last_success_at": last_ok, "consecutive_failures": 0},
            {"feed_name": "desk", "url": "https://d.example", "last_success_at": None, "consecutive_failures": 4},
        ],
        key=["feed_name"],
    )
    outcomes = [
        FeedOutcome("wire", "ok", items=12, error="1 entry skipped (link is not a valid URL)"),
        FeedOutcome("desk", "error", error="feed desk could not be fetched:\nHTTP 503 | retry later " + "x" * 300),
        FeedOutcome("new", "not_modified"),
    ]

    health = feed_health(outcomes, read_feed_states(store, [o.feed_name for o in outcomes]))
    rows = health_rows(health)
    store.dispose()

    assert [h.feed for h in health] == ["desk", "new", "wire"]
    desk, new, wire = rows
    assert wire == ["wire", "ok", 12, "2026-11-29 09:30 UTC", 0, "1 entry skipped (link is not a valid URL)"]
    assert new == ["new", "not_modified", 0, "never", 0, ""]
    assert desk[:5] == ["desk", "error", 0, "never", 4]
    assert desk[5].startswith("feed desk could not be fetched: HTTP 503")
    assert len(desk[5]) <= 160
    table = markdown_table(HEALTH_HEADERS, rows).value
    # The "|" in the error cannot break the table.
    assert "HTTP 503 / retry later" in table
    assert read_feed_states(store, []) == {}
