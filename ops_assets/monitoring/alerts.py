"""Which freshness changes deserve a notification, and what it says. Plain Python: states are strings.

An asset's freshness state is PASS, WARN, FAIL, UNKNOWN (never materialized) or NOT_APPLICABLE. We alert
when an asset turns WARN or FAIL (again when WARN escalates to FAIL) and once more when it recovers to
PASS; a flap between two sensor ticks that ends where it started sends nothing.

Dagster says UNKNOWN for an asset never materialized, however long its schedule has been failing. Such an
asset is new only until its freshness window has passed since a schedule or sensor that targets it started
(:func:`never_materialized_state`): then it is WARN / FAIL like any other late asset. An asset nothing
running targets stays UNKNOWN (nobody promised it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from ops_assets.timekeeping import format_duration

STALE_STATES = ("WARN", "FAIL")
MAX_SUBJECT_LENGTH = 100  # SNS's limit (resources.notifier cuts longer subjects blindly)
_SEVERITY = {"PASS": 0, "WARN": 1, "FAIL": 2}


@dataclass(frozen=True)
class FreshnessChange:
    """One asset whose freshness changed since it was last reported."""

    asset: str
    previous: str | None
    current: str
    last_materialized_at: datetime | None = None
    warn_after: timedelta | None = None
    fail_after: timedelta | None = None
    watched_since: datetime | None = None
    """For a never-materialized asset: since when it has been expected (its schedule or sensor started)."""

    @property
    def is_recovery(self) -> bool:
        return self.current == "PASS"


def changes_to_report(
    reported: Mapping[str, str], current: Mapping[str, str]
) -> tuple[dict[str, tuple[str | None, str]], dict[str, str]]:
    """The (previous, current) states worth a notification, and the new ``reported`` state map.

    ``reported`` is what the last notifications said per asset (the sensor's cursor); ``current`` is each
    asset's freshness state now. The returned map is what to store as the new cursor.
    """
    to_report: dict[str, tuple[str | None, str]] = {}
    new_reported = dict(reported)
    for asset, state in sorted(current.items()):
        previous = reported.get(asset)
        if state not in _SEVERITY:  # UNKNOWN / NOT_APPLICABLE: nothing to say, keep what we last said.
            continue
        worse = state in STALE_STATES and _SEVERITY[state] > _SEVERITY.get(previous or "PASS", 0)
        recovered = state == "PASS" and previous in STALE_STATES
        if worse or recovered:
            to_report[asset] = (previous, state)
        new_reported[asset] = state
    return to_report, new_reported


def never_materialized_state(
    *, watched_since: datetime | None, now: datetime, warn_after: timedelta | None, fail_after: timedelta | None
) -> str:
    """The state of an asset never materialized: its window runs from ``watched_since``, when a schedule or
    sensor targeting it started (``None``: nothing running targets it, it stays ``UNKNOWN``)."""
    if watched_since is None:
        return "UNKNOWN"
    waited = now - watched_since
    if fail_after is not None and waited >= fail_after:
        return "FAIL"
    if warn_after is not None and waited >= warn_after:
        return "WARN"
    return "UNKNOWN"


def freshness_message(changes: list[FreshnessChange], *, now: datetime) -> tuple[str, str]:
    """Subject and body of one notification covering every change seen in one evaluation."""
    stale = [change for change in changes if not change.is_recovery]
    recovered = [change for change in changes if change.is_recovery]
    if stale:
        worst = "FAIL" if any(change.current == "FAIL" for change in stale) else "WARN"
        subject = _fit(f"Freshness {worst} - {len(stale)} stale: ", [change.asset for change in stale])
    else:
        subject = _fit("Freshness RECOVERED - ", [change.asset for change in recovered])
    lines: list[str] = []
    if stale:
        lines.append("These assets have not been updated as often as their schedules promise:")
        lines += [_describe(change, now) for change in stale]
        lines += [
            "",
            "Look at the asset's latest runs in the Dagster UI (Assets > the asset > Runs): a failing run shows its",
            "error; no runs at all means the schedule or the daemon is stopped (Overview > Schedules / Deployment >",
            "Daemons). Consumers of these tables see data older than usual until the next successful run.",
        ]
    if recovered:
        if lines:
            lines.append("")
        lines.append("These assets are fresh again:")
        lines += [_describe(change, now) for change in recovered]
    return subject, "\n".join(lines)


def _fit(prefix: str, names: list[str]) -> str:
    """``prefix`` + as many names as fit in a subject (SNS allows 100 characters), then ``+N more``."""
    for shown in range(len(names), 0, -1):
        rest = len(names) - shown
        subject = prefix + ", ".join(names[:shown]) + (f", +{rest} more" if rest else "")
        if len(subject) <= MAX_SUBJECT_LENGTH:
            return subject
    return f"{prefix}{len(names)} assets"[:MAX_SUBJECT_LENGTH]


def _describe(change: FreshnessChange, now: datetime) -> str:
    parts = [f"  - {change.asset}: {change.previous or 'first seen'} -> {change.current}"]
    if change.last_materialized_at is not None:
        age = now - change.last_materialized_at
        parts.append(f"last updated {change.last_materialized_at:%Y-%m-%d %H:%M:%S} UTC ({format_duration(age)} ago)")
    elif change.watched_since is not None and not change.is_recovery:
        waited = format_duration(now - change.watched_since)
        parts.append(
            f"never materialized, although its schedule or sensor has been running since "
            f"{change.watched_since:%Y-%m-%d %H:%M:%S} UTC ({waited})"
        )
    if change.fail_after is not None:
        window = f"expected within {format_duration(change.fail_after)}"
        if change.warn_after is not None:
            window += f" (warning after {format_duration(change.warn_after)})"
        parts.append(window)
    return "; ".join(parts)
