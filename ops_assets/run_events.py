"""Finished runs as the notification sensors read them, and their errors in words a person can act on.

The notification sensors are plain sensors reading the instance's run-status events (RUN_SUCCESS /
RUN_FAILURE) after a storage-id cursor, not ``run_status_sensor``s: those write "Sensor X acted on run status
..." into the log of every run they monitor, so a sensor watching all runs to find its own would show up in
every news and signals run. Reading the events sees runs of every code location (the CLI's
``dagster asset materialize`` records runs under a location of its own) and writes nothing into other runs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg

RUN_EVENT_TYPES = {"SUCCESS": dg.DagsterEventType.RUN_SUCCESS, "FAILURE": dg.DagsterEventType.RUN_FAILURE}
PARTITION_TAG = "dagster/partition"
FETCH_LIMIT = 200

# A dotted Python path ending in a class name, as exceptions print: "dagster._core.definitions.events.Failure: ".
_CLASS_PATH = re.compile(r"^\s*(?:[A-Za-z_][\w]*\.)+[A-Za-z_]\w*:\s*")
# Dagster's own wrappers say where, not what: the cause below them has the real error.
_WRAPPERS = (
    "dagster._core.errors.DagsterExecutionStepExecutionError",
    "dagster._core.errors.DagsterUserCodeExecutionError",
    "dagster._core.errors.DagsterExecutionInterruptedError",
)
_MAX_SUMMARY = 300


@dataclass(frozen=True)
class RunChange:
    """One run that finished: ``status`` is ``SUCCESS`` or ``FAILURE``; ``at`` its event's Unix time."""

    storage_id: int
    status: str
    run: dg.DagsterRun
    at: float


def strip_class_path(text: str) -> str:
    """``"dagster._core.definitions.events.Failure: model missing"`` -> ``"model missing"``.

    Only a dotted path is removed; a bare builtin name (``KeyError: 'x'``) stays, it says what happened.
    """
    return _CLASS_PATH.sub("", text, count=1)


def error_summary(chain: Sequence[str]) -> str:
    """One line for a person from an error and its causes (outermost first, as Dagster records them).

    Dagster's wrapper errors ("Error occurred while executing op ...") are skipped for their cause; the
    result is the first non-empty line of the first real error, without its Python class path, at most
    300 characters. ``"unknown error"`` when nothing usable was recorded.
    """
    messages = [m for m in chain if m and m.strip()]
    real = [m for m in messages if not m.lstrip().startswith(_WRAPPERS)] or messages
    for message in real:
        for line in message.strip().splitlines():
            line = strip_class_path(line).strip()
            if line:
                return line if len(line) <= _MAX_SUMMARY else line[: _MAX_SUMMARY - 3] + "..."
    return "unknown error"


def _chain(error: object) -> list[str]:
    messages: list[str] = []
    while error is not None and len(messages) < 10:
        messages.append(getattr(error, "message", "") or "")
        error = getattr(error, "cause", None)
    return messages


def run_errors(instance: dg.DagsterInstance, run_id: str) -> tuple[str, list[str]]:
    """The run's error summary (:func:`error_summary`) and the keys of its failed steps.

    The first failed step's error when a step failed, else the run failure's own (a run that never started
    its steps: a missing resource, a launch error).
    """
    failed_steps: list[str] = []
    summary: str | None = None
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        failed_steps.append(event.step_key or "")
        error = getattr(event.event_specific_data, "error", None)
        if summary is None and error is not None:
            summary = error_summary(_chain(error))
    if summary is not None:
        return summary, failed_steps
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    event = records[-1].event_log_entry.dagster_event if records else None
    if event is None:
        return "unknown error", failed_steps
    error = getattr(event.event_specific_data, "error", None)
    return error_summary(_chain(error) if error is not None else [event.message or ""]), failed_steps


def planned_assets(instance: dg.DagsterInstance, run: dg.DagsterRun) -> frozenset[dg.AssetKey]:
    """The assets the run set out to materialize (jobs and ad-hoc materializations alike)."""
    if run.asset_selection:
        return frozenset(run.asset_selection)
    planned = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
    return frozenset(
        record.event_log_entry.dagster_event.event_specific_data.asset_key
        for record in planned.records
        if record.event_log_entry.dagster_event
    )


def latest_storage_id(instance: dg.DagsterInstance, statuses: Sequence[str]) -> int:
    """The newest run-status event's storage id (-1 when none): where a new sensor starts reading."""
    latest = -1
    for status in statuses:
        records = instance.fetch_run_status_changes(records_filter=RUN_EVENT_TYPES[status], limit=1).records
        if records:
            latest = max(latest, records[0].storage_id)
    return latest


def run_changes_after(
    instance: dg.DagsterInstance, after: int, statuses: Sequence[str], *, limit: int = FETCH_LIMIT
) -> tuple[list[RunChange], int]:
    """Runs that finished with one of ``statuses`` after storage id ``after``, oldest first, and the new cursor.

    At most ``limit`` events per status are read; when one status has more, the batch stops where that
    status's page ends, so events are never skipped and a job's failures and successes stay in order.
    """
    pages: list[tuple[str, list[dg.EventLogRecord]]] = []
    cap: int | None = None
    for status in statuses:
        records = list(
            instance.fetch_run_status_changes(
                records_filter=dg.RunStatusChangeRecordsFilter(
                    event_type=RUN_EVENT_TYPES[status], after_storage_id=after
                ),
                limit=limit,
                ascending=True,
            ).records
        )
        pages.append((status, records))
        if len(records) >= limit:
            cap = records[-1].storage_id if cap is None else min(cap, records[-1].storage_id)
    events = sorted(
        (
            (record, status)
            for status, records in pages
            for record in records
            if cap is None or record.storage_id <= cap
        ),
        key=lambda pair: pair[0].storage_id,
    )
    run_ids = sorted({record.event_log_entry.run_id for record, _ in events})
    runs = {r.run_id: r for r in instance.get_runs(filters=dg.RunsFilter(run_ids=run_ids))} if run_ids else {}
    changes = [
        RunChange(record.storage_id, status, runs[record.event_log_entry.run_id], record.timestamp)
        for record, status in events
        if record.event_log_entry.run_id in runs
    ]
    new_cursor = max([after, *(record.storage_id for record, _ in events)])
    return changes, new_cursor
