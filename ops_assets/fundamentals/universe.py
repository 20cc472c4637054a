"""The ETF's holdings: which tickers the fundamentals pipeline covers this week."""

from __future__ import annotations

from dataclasses import dataclass

# ETF_PROFILE lists cash and other non-equity lines with these placeholder symbols.
NON_EQUITY_SYMBOLS = frozenset({"", "N/A", "NA", "NONE", "-", "CASH"})


@dataclass(frozen=True)
class Holding:
    symbol: str
    description: str
    weight: float | None


def parse_etf_holdings(payload: dict) -> list[Holding]:
    """Equity holdings of an ETF_PROFILE payload, in the ETF's order, without cash rows or duplicates.

    Symbols are upper-cased and stripped; share classes keep Alpha Vantage's dash (``BRK-B``).
    """
    holdings = payload.get("holdings")
    if not isinstance(holdings, list):
        raise ValueError("ETF_PROFILE payload has no 'holdings' list")
    seen: set[str] = set()
    result: list[Holding] = []
    for row in holdings:
        symbol = str(row.get("symbol") or "").strip().upper()
        if symbol in NON_EQUITY_SYMBOLS or symbol in seen:
            continue
        seen.add(symbol)
        try:
            weight: float | None = float(row.get("weight"))
        except (TypeError, ValueError):
            weight = None
        result.append(Holding(symbol=symbol, description=str(row.get("description") or ""), weight=weight))
    return result
