"""When a failed run deserves a message, and what it says. Plain Python: no Dagster, times are datetimes.

Per job (ad-hoc materializations: per set of assets) the state is a failure streak:

- The first failure of a job that was fine **alerts** at once.
- Further failures are **suppressed** (counted) until the quiet period has passed since the last message; then
  the next failure, or the next sensor tick if no more runs come, sends a **digest**: how many failed meanwhile
  and the latest error. A job failing every minute with a 60-minute quiet period sends one message an hour.
- The first success after a streak sends **recovered after N failures** and ends the streak.

The streaks live in the sensor's cursor (:func:`dump_state` / :func:`load_state`), which Dagster keeps in its
instance storage: they survive daemon restarts and need nothing else to be up.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from ops_assets.timekeeping import format_duration

ALERT = "ALERT"
SUPPRESS = "SUPPRESS"
DIGEST = "DIGEST"
RECOVERED = "RECOVERED"
MAX_SUBJECT_LENGTH = 100  # SNS's limit


@dataclass(frozen=True)
class FailedRun:
    """One failed run as the message shows it; ``error`` is already a summary in words."""

    job: str
    run_id: str
    partition: str | None
    error: str
    failed_steps: tuple[str, ...]
    at: datetime


@dataclass(frozen=True)
class Streak:
    """A job's failures in a row. ``unreported``: failures since the last message (digest material)."""

    job: str
    first_failure_at: datetime
    failures: int
    unreported: int
    last_alert_at: datetime
    last_run_id: str
    last_error: str
    last_partition: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["first_failure_at"] = self.first_failure_at.isoformat()
        data["last_alert_at"] = self.last_alert_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Streak:
        return cls(
            **{
                **data,
                "first_failure_at": datetime.fromisoformat(data["first_failure_at"]),
                "last_alert_at": datetime.fromisoformat(data["last_alert_at"]),
            }
        )


def on_failure(streak: Streak | None, run: FailedRun, *, quiet_period: timedelta) -> tuple[str, Streak]:
    """``ALERT`` (first failure), ``DIGEST`` (quiet period over) or ``SUPPRESS``, and the streak after it."""
    if streak is None:
        return ALERT, Streak(run.job, run.at, 1, 0, run.at, run.run_id, run.error, run.partition)
    grown = replace(
        streak,
        failures=streak.failures + 1,
        unreported=streak.unreported + 1,
        last_run_id=run.run_id,
        last_error=run.error,
        last_partition=run.partition,
    )
    if run.at - streak.last_alert_at >= quiet_period:
        return DIGEST, grown
    return SUPPRESS, grown


def on_success(streak: Streak | None) -> str | None:
    """``RECOVERED`` when the job was failing (the caller drops the streak), else ``None``."""
    return RECOVERED if streak is not None else None


def on_tick(streak: Streak, *, now: datetime, quiet_period: timedelta) -> str | None:
    """``DIGEST`` when failures went unreported for a whole quiet period (no new run needs to come), else None."""
    if streak.unreported > 0 and now - streak.last_alert_at >= quiet_period:
        return DIGEST
    return None


def after_digest(streak: Streak, *, now: datetime) -> Streak:
    """The streak once a digest went out: nothing unreported, the quiet period starts again."""
    return replace(streak, unreported=0, last_alert_at=now)


def run_link(ui_base_url: str, run_id: str) -> str:
    """The run's page in the Dagster UI."""
    return f"{ui_base_url.rstrip('/')}/runs/{run_id}"


def _subject(text: str) -> str:
    return text if len(text) <= MAX_SUBJECT_LENGTH else text[: MAX_SUBJECT_LENGTH - 3] + "..."


def _partition(partition: str | None) -> str:
    return f" for partition {partition}" if partition else ""


def failure_message(run: FailedRun, *, ui_base_url: str, quiet_period: timedelta) -> tuple[str, str]:
    """Subject and body of the first alert of a streak."""
    lines = [
        f"{run.job} failed{_partition(run.partition)}: {run.error}",
        "",
        f"Job: {run.job}",
        f"Partition: {run.partition or 'none'}",
        f"Error: {run.error}",
        f"Failed steps: {', '.join(run.failed_steps) or 'none (the run failed before or between steps)'}",
        f"Run: {run_link(ui_base_url, run.run_id)}",
        f"Failed at: {run.at:%Y-%m-%d %H:%M:%S} UTC",
        "",
        "Open the run for the full error and its logs, fix the cause, then re-execute it from the UI.",
        f"While this job keeps failing you get one digest every {format_duration(quiet_period)}, and a message",
        "when it succeeds again.",
    ]
    return _subject(f"Run FAILED - {run.job}: {run.error}"), "\n".join(lines)


def digest_message(streak: Streak, *, ui_base_url: str, now: datetime) -> tuple[str, str]:
    """Subject and body of a digest: the job still fails; how many since the last message."""
    since = format_duration(now - streak.first_failure_at)
    lines = [
        f"{streak.job} is still failing: {streak.unreported} more failed runs since the last message, "
        f"{streak.failures} in a row over {since}.",
        "",
        f"First failure: {streak.first_failure_at:%Y-%m-%d %H:%M:%S} UTC",
        f"Latest error: {streak.last_error}",
        f"Latest partition: {streak.last_partition or 'none'}",
        f"Latest run: {run_link(ui_base_url, streak.last_run_id)}",
    ]
    return _subject(f"Run STILL FAILING - {streak.job}: {streak.unreported} more failures"), "\n".join(lines)


def recovered_message(streak: Streak, *, run_id: str, ui_base_url: str, at: datetime) -> tuple[str, str]:
    """Subject and body when a failing job succeeds again."""
    lines = [
        f"{streak.job} succeeded again after {streak.failures} failed runs in a row "
        f"(failing for {format_duration(at - streak.first_failure_at)}).",
        "",
        f"First failure: {streak.first_failure_at:%Y-%m-%d %H:%M:%S} UTC",
        f"Last error: {streak.last_error}",
        f"Successful run: {run_link(ui_base_url, run_id)}",
    ]
    noun = "failure" if streak.failures == 1 else "failures"
    return _subject(f"Run RECOVERED - {streak.job} after {streak.failures} {noun}"), "\n".join(lines)


def load_state(cursor: str | None) -> tuple[int | None, dict[str, Streak]]:
    """The event cursor (None: never evaluated) and the streaks, from the sensor's cursor."""
    if not cursor:
        return None, {}
    data = json.loads(cursor)
    return int(data["after"]), {job: Streak.from_json(s) for job, s in data.get("streaks", {}).items()}


def dump_state(after: int, streaks: dict[str, Streak]) -> str:
    return json.dumps(
        {"after": after, "streaks": {job: s.to_json() for job, s in sorted(streaks.items())}}, sort_keys=True
    )
