"""Which runs the daily run-retention job deletes: a plain decision over run summaries, no Dagster here.

A run is deleted once it is finished and older than its age limit: ``max_age_days`` for runs that succeeded or
were canceled, ``failed_max_age_days`` (longer) for failed runs, so a failure can still be investigated weeks
later. A run that is queued, starting, running or canceling is never deleted, whatever its age, nor is a run
that holds the latest materialization or observation of an asset, the latest materialization of any partition of
an asset, or the latest execution of an asset check (deleting it would take the asset's, the partition's or the
check's current state from the catalog when it has not been rebuilt for longer than the age limit).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

SUCCESS, FAILURE, CANCELED = "SUCCESS", "FAILURE", "CANCELED"
FINISHED = frozenset({SUCCESS, FAILURE, CANCELED})


class RetentionSettingsError(ValueError):
    """Retention settings that would delete too much or nothing sensible."""


@dataclass(frozen=True)
class RetentionPolicy:
    """How long runs are kept, in days; ``batch_size`` runs are read and deleted at a time."""

    max_age_days: int = 30
    failed_max_age_days: int = 90
    batch_size: int = 500

    def __post_init__(self) -> None:
        if self.max_age_days < 1:
            raise RetentionSettingsError(
                f"Run retention max_age_days={self.max_age_days}: keep runs at least 1 day (OPS_RUN_RETENTION_DAYS)."
            )
        if self.failed_max_age_days < self.max_age_days:
            raise RetentionSettingsError(
                f"Run retention failed_max_age_days={self.failed_max_age_days} is shorter than max_age_days="
                f"{self.max_age_days}: failed runs are kept at least as long as the others "
                "(OPS_FAILED_RUN_RETENTION_DAYS)."
            )
        if self.batch_size < 1:
            raise RetentionSettingsError(
                f"Run retention batch_size={self.batch_size} must be at least 1 (OPS_RUN_RETENTION_BATCH_SIZE)."
            )

    def oldest_cutoff(self, now: datetime) -> datetime:
        """Runs created before this are candidates (the shorter age: nothing newer can be deleted)."""
        return now - timedelta(days=self.max_age_days)

    def cutoff_for(self, status: str, now: datetime) -> datetime:
        days = self.failed_max_age_days if status == FAILURE else self.max_age_days
        return now - timedelta(days=days)


@dataclass(frozen=True)
class RunSummary:
    """What the decision needs from a run record."""

    run_id: str
    status: str
    created_at: datetime


@dataclass
class RetentionReport:
    """Counts over one retention pass, for the job's logs and metadata."""

    examined: int = 0
    deleted: int = 0
    deleted_by_status: dict[str, int] = field(default_factory=dict)
    kept_in_progress: int = 0
    kept_failed: int = 0
    kept_latest_asset_event: int = 0
    batches: int = 0

    def as_metadata(self) -> dict[str, int]:
        return {
            "runs examined": self.examined,
            "runs deleted": self.deleted,
            **{f"{status.lower()} runs deleted": n for status, n in sorted(self.deleted_by_status.items())},
            "in-progress runs kept": self.kept_in_progress,
            "failed runs kept (younger than the failed-run age)": self.kept_failed,
            "runs kept for an asset's latest event": self.kept_latest_asset_event,
            "batches": self.batches,
        }


def _utc(moment: datetime) -> datetime:
    # Run storage returns naive UTC timestamps on some backends.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def runs_to_delete(
    runs: Iterable[RunSummary],
    now: datetime,
    policy: RetentionPolicy,
    protected: Collection[str] = frozenset(),
    report: RetentionReport | None = None,
) -> list[str]:
    """The ids among ``runs`` to delete at ``now`` (in the given order); ``report`` counts what was kept and why."""
    report = report if report is not None else RetentionReport()
    doomed: list[str] = []
    for run in runs:
        report.examined += 1
        if run.status not in FINISHED:
            report.kept_in_progress += 1
            continue
        if _utc(run.created_at) >= policy.cutoff_for(run.status, _utc(now)):
            if run.status == FAILURE and _utc(run.created_at) < policy.oldest_cutoff(_utc(now)):
                report.kept_failed += 1
            continue
        if run.run_id in protected:
            report.kept_latest_asset_event += 1
            continue
        doomed.append(run.run_id)
    return doomed


def next_cursor(page: Sequence[RunSummary], deleted: Collection[str], cursor: str | None) -> str | None:
    """Where the next page starts (Dagster pages after an existing run id): the last run of ``page`` that stays.

    When every run of the page is deleted, the previous cursor (a run that stays) is still the right start.
    """
    kept = [run.run_id for run in page if run.run_id not in deleted]
    return kept[-1] if kept else cursor
