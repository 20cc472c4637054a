"""Subjects and bodies of the weekly pipeline's success and failure notifications."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ops_assets.timekeeping import format_duration

SUBJECT = "Financial Pipeline {status} - {day}"


def success_message(
    *,
    day: str,
    artifact_uri: str,
    etf_symbol: str,
    tickers: Sequence[str],
    rows: int,
    failed_tickers: Mapping[str, str],
    duration_seconds: float | None,
    run_id: str,
) -> tuple[str, str]:
    """Subject and body for a weekly run that published its artifact."""
    lines = [
        f"The weekly TTM per-share artifact for {day} was published.",
        "",
        f"Artifact: {artifact_uri}",
        f"ETF: {etf_symbol}",
        f"Tickers: {len(tickers)}",
        *_wrapped(sorted(tickers)),
        f"Rows: {rows}",
        f"Duration: {format_duration(duration_seconds)}",
        f"Run: {run_id}",
    ]
    if failed_tickers:
        lines += ["", f"Tickers left out ({len(failed_tickers)}):"]
        lines += [f"  - {ticker}: {reason}" for ticker, reason in sorted(failed_tickers.items())]
    return SUBJECT.format(status="SUCCESS", day=day), "\n".join(lines)


def _wrapped(tickers: Sequence[str], width: int = 72) -> list[str]:
    """The ticker symbols, comma-separated, indented, in lines of at most ``width`` characters."""
    lines: list[str] = []
    line = ""
    for ticker in tickers:
        candidate = f"{line}, {ticker}" if line else ticker
        if line and len(candidate) + 2 > width:
            lines.append(f"  {line},")
            candidate = ticker
        line = candidate
    return [*lines, f"  {line}"] if line else lines


def failure_message(
    *, day: str, error: str, failed_steps: Sequence[str], duration_seconds: float | None, run_id: str
) -> tuple[str, str]:
    """Subject and body for a weekly run that failed; nothing was published by it."""
    lines = [
        f"The weekly TTM per-share run for {day} failed; no artifact was published for it.",
        "",
        f"Error: {error}",
        f"Failed steps: {', '.join(failed_steps) or 'n/a'}",
        f"Duration: {format_duration(duration_seconds)}",
        f"Run: {run_id}",
        "",
        "Fix the cause and re-execute the run (or materialize the partition again): fetched data is kept.",
    ]
    return SUBJECT.format(status="FAILURE", day=day), "\n".join(lines)
