"""Which statements a weekly run fetches again, how price history is merged, and the ETF universe."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ops_assets.fundamentals.fetching import merge_daily_prices, statements_refresh_reason
from ops_assets.fundamentals.notifications import failure_message, success_message
from ops_assets.fundamentals.universe import parse_etf_holdings

NOW = datetime(2026, 11, 22, 6, tzinfo=UTC)
AS_OF = date(2026, 11, 22)
AGE = timedelta(days=90)


def statements(newest: str) -> dict:
    report = {"quarterlyReports": [{"fiscalDateEnding": newest}, {"fiscalDateEnding": "2026-03-31"}]}
    return {"INCOME_STATEMENT": report, "BALANCE_SHEET": report, "CASH_FLOW": report}


def earnings(*rows: tuple[str, str]) -> dict:
    return {"quarterlyEarnings": [{"fiscalDateEnding": f, "reportedDate": r} for f, r in rows]}


def test_no_refresh_when_earnings_show_nothing_newer() -> None:
    reason = statements_refresh_reason(
        statements("2026-09-30"),
        earnings(("2026-09-30", "2026-10-30"), ("2026-06-30", "2026-07-30")),
        NOW - timedelta(days=10),
        now=NOW,
        as_of=AS_OF,
        max_statement_age=AGE,
    )
    assert reason == ""


def test_refresh_when_earnings_report_a_newer_quarter() -> None:
    reason = statements_refresh_reason(
        statements("2026-06-30"),
        earnings(("2026-09-30", "2026-10-30")),
        NOW - timedelta(days=10),
        now=NOW,
        as_of=AS_OF,
        max_statement_age=AGE,
    )
    assert reason.startswith("new report: quarter ending 2026-09-30")


def test_week_period_end_a_few_days_off_is_not_a_new_quarter() -> None:
    # Statements use a 52/53-week end (2026-09-27); EARNINGS the month end (2026-09-30).
    reason = statements_refresh_reason(
        statements("2026-09-27"),
        earnings(("2026-09-30", "2026-10-30")),
        NOW - timedelta(days=10),
        now=NOW,
        as_of=AS_OF,
        max_statement_age=AGE,
    )
    assert reason == ""


def test_report_after_as_of_is_ignored() -> None:
    reason = statements_refresh_reason(
        statements("2026-06-30"),
        earnings(("2026-09-30", "2026-11-25")),
        NOW - timedelta(days=10),
        now=NOW,
        as_of=AS_OF,
        max_statement_age=AGE,
    )
    assert reason == ""


def test_refresh_when_stored_copy_is_too_old_or_missing() -> None:
    old = statements_refresh_reason(
        statements("2026-09-30"), earnings(), NOW - timedelta(days=91), now=NOW, as_of=AS_OF, max_statement_age=AGE
    )
    assert old == "stored copy older than 90 days"
    partial = statements("2026-09-30")
    partial["CASH_FLOW"] = None
    missing = statements_refresh_reason(partial, earnings(), NOW, now=NOW, as_of=AS_OF, max_statement_age=AGE)
    assert missing == "not stored: CASH_FLOW"


def series(*days: str) -> dict:
    return {"Meta Data": {}, "Time Series (Daily)": {d: {"4. close": d[-2:]} for d in days}}


def test_merge_keeps_history_and_takes_recent_values() -> None:
    stored = series("2026-11-18", "2026-11-17", "2026-11-16")
    recent = {
        "Meta Data": {"x": 1},
        "Time Series (Daily)": {"2026-11-19": {"4. close": "new"}, "2026-11-18": {"4. close": "fix"}},
    }
    merged = merge_daily_prices(stored, recent)
    assert merged is not None
    assert list(merged["Time Series (Daily)"]) == ["2026-11-19", "2026-11-18", "2026-11-17", "2026-11-16"]
    assert merged["Time Series (Daily)"]["2026-11-18"] == {"4. close": "fix"}


def test_merge_refuses_a_gap() -> None:
    assert merge_daily_prices(series("2026-01-02"), series("2026-11-19", "2026-11-18")) is None
    assert merge_daily_prices(None, series("2026-11-19")) is None


def test_etf_holdings_drop_cash_and_duplicates() -> None:
    payload = {
        "holdings": [
            {"symbol": "AAPL", "description": "APPLE INC", "weight": "0.09"},
            {"symbol": "n/a", "description": "CASH", "weight": "0.001"},
            {"symbol": " brk-b ", "description": "BERKSHIRE", "weight": "n/a"},
            {"symbol": "AAPL", "description": "dup", "weight": "0.01"},
            {"symbol": "", "description": "blank"},
        ]
    }
    holdings = parse_etf_holdings(payload)
    assert [h.symbol for h in holdings] == ["AAPL", "BRK-B"]
    assert holdings[0].weight == pytest.approx(0.09)
    assert holdings[1].weight is None
    with pytest.raises(ValueError, match="holdings"):
        parse_etf_holdings({})


def test_notification_texts() -> None:
    subject, body = success_message(
        day="2026-11-22",
        artifact_uri="s3://bucket/ttm-artifacts/2026-11-22/ttm_per_share_financial_artifact.parquet",
        etf_symbol="QQQ",
        tickers=["AAA", "BBB"],
        rows=1234,
        failed_tickers={"ZZZ": "Invalid API call; left out"},
        duration_seconds=75.2,
        run_id="abc",
    )
    assert subject == "Financial Pipeline SUCCESS - 2026-11-22"
    assert "s3://bucket/ttm-artifacts/2026-11-22/ttm_per_share_financial_artifact.parquet" in body
    assert "Tickers: 2" in body
    assert "Rows: 1234" in body
    assert "1 min 15 s" in body
    assert "  - ZZZ: Invalid API call; left out" in body
    subject, body = failure_message(
        day="2026-11-22", error="bad key", failed_steps=["etf_holdings"], duration_seconds=1.5, run_id="r"
    )
    assert subject == "Financial Pipeline FAILURE - 2026-11-22"
    assert "Error: bad key" in body
    assert "1.5 s" in body
