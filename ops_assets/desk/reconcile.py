"""The day's files, reconciled: what landed, what was processed, quarantined or left waiting. Plain, no Dagster.

The always-on consumer processes files within seconds of landing; Dagster owns the day afterwards:
:func:`reconcile_day` processes any file of the day still at its landing key (one the consumer missed or could
not process, e.g. while Redis was down) and replays into the history store every archived file of the day whose
rows it does not hold exactly (idempotent upserts on the natural keys), and :func:`day_report` compares each
processed file's rows with the history's rows for it; :func:`reconcile_and_report` does both in one pass over
the files (what the day's asset and its two checks use).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from ops_assets.desk.files import PREFIXES, PROCESSED_PREFIX, QUARANTINE_PREFIX, REASON_SUFFIX, FileKind, route
from ops_assets.desk.parsing import ACTANT_TIMEZONE, parse_file
from ops_assets.desk.processing import FileOutcome, History, LatestValues, etag_of, process_file, write_history

LOADED_KINDS = (FileKind.MARKET, FileKind.EOD, FileKind.SOD)


class Listing(Protocol):
    def list(self, prefix: str) -> Any: ...
    def get_bytes(self, key: str) -> bytes: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def delete(self, key: str) -> None: ...


class Counting(History, Protocol):
    def count_for_source(self, kind: str, source_key: str) -> int: ...


@dataclass
class DayReport:
    day: date
    pending: list[str] = field(default_factory=list)
    """Files still at their landing key (neither processed nor quarantined)."""
    processed: dict[str, int] = field(default_factory=dict)
    """Archived file -> rows in the file."""
    quarantined: dict[str, str] = field(default_factory=dict)
    """Quarantined file -> the reason."""
    mismatched: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Archived file -> (rows in the file, rows in the history for it), where they differ."""


def day_folders(day: date) -> dict[FileKind, str]:
    return {kind: f"{PREFIXES[kind]}{day:%Y/%m/%d}/" for kind in LOADED_KINDS}


def landed_keys(objects: Listing, day: date, *, root: str = "") -> list[tuple[str, datetime]]:
    """(key, landed at) of the day's feed files under ``root`` ("" = landing, ``processed/``, ``quarantine/``)."""
    found = []
    for folder in day_folders(day).values():
        for info in objects.list(f"{root}{folder}"):
            if not info.key.endswith(REASON_SUFFIX):
                found.append((info.key, info.last_modified))
    return sorted(found, key=lambda item: item[1])


def reconcile_day(
    day: date,
    *,
    objects: Listing,
    latest: LatestValues,
    history: Counting,
    timezone: str = ACTANT_TIMEZONE,
    alert: Callable[[str, str], None] | None = None,
) -> list[FileOutcome]:
    """Process the day's files still waiting at their landing keys, then replay into the history every archived
    file whose rows it does not hold exactly (a backfill after a loss rebuilds the day; a complete day is left
    untouched, its rows' arrival times included)."""
    outcomes, _ = _reconcile(day, objects=objects, latest=latest, history=history, timezone=timezone, alert=alert)
    return outcomes


def reconcile_and_report(
    day: date,
    *,
    objects: Listing,
    latest: LatestValues,
    history: Counting,
    timezone: str = ACTANT_TIMEZONE,
    alert: Callable[[str, str], None] | None = None,
) -> tuple[list[FileOutcome], DayReport]:
    """:func:`reconcile_day`, then :func:`day_report` without parsing the archived files a second time (the
    replay already counted their rows): one pass over the day's files for the asset and both of its checks."""
    outcomes, file_rows = _reconcile(
        day, objects=objects, latest=latest, history=history, timezone=timezone, alert=alert
    )
    return outcomes, day_report(day, objects=objects, history=history, timezone=timezone, file_rows=file_rows)


def _reconcile(
    day: date,
    *,
    objects: Listing,
    latest: LatestValues,
    history: Counting,
    timezone: str,
    alert: Callable[[str, str], None] | None,
) -> tuple[list[FileOutcome], dict[str, int]]:
    """(outcomes of the files processed now, archived key -> its rows) for the day."""
    outcomes = [
        process_file(
            key, objects=objects, latest=latest, history=history, arrived_at=arrived, timezone=timezone, alert=alert
        )
        for key, arrived in landed_keys(objects, day)
    ]
    file_rows: dict[str, int] = {}
    for archived, archived_at in landed_keys(objects, day, root=PROCESSED_PREFIX):
        key = archived.removeprefix(PROCESSED_PREFIX)
        landed = route(key)
        data = objects.get_bytes(archived)
        parsed = parse_file(landed.kind, data, day=landed.day, timezone=timezone)
        file_rows[archived] = len(parsed.rows)
        # A file whose rows are all in the history is left as it is: rewriting it would replace each row's
        # arrived_at (when the file landed) with the archive copy's time, which is all a replay knows. Only a file
        # with rows missing (or extra) is written again, stamped with that archive time.
        if history.count_for_source(str(landed.kind), key) != len(parsed.rows):
            write_history(history, landed, parsed.rows, key=key, etag=etag_of(data), arrived_at=archived_at)
    return outcomes, file_rows


def day_report(
    day: date,
    *,
    objects: Listing,
    history: Counting,
    timezone: str = ACTANT_TIMEZONE,
    file_rows: Mapping[str, int] | None = None,
) -> DayReport:
    """What became of the day's files, and whether the history holds each processed file's rows.

    ``file_rows``: archived key -> rows, already counted (by the replay); an archived file missing from it is
    read and parsed here.
    """
    known = file_rows or {}
    report = DayReport(day)
    report.pending = [key for key, _ in landed_keys(objects, day)]
    for archived, _ in landed_keys(objects, day, root=PROCESSED_PREFIX):
        key = archived.removeprefix(PROCESSED_PREFIX)
        landed = route(key)
        rows = known.get(archived)
        if rows is None:
            rows = len(parse_file(landed.kind, objects.get_bytes(archived), day=landed.day, timezone=timezone).rows)
        report.processed[key] = rows
        stored = history.count_for_source(str(landed.kind), key)
        if stored != rows:
            report.mismatched[key] = (rows, stored)
    for quarantined, _ in landed_keys(objects, day, root=QUARANTINE_PREFIX):
        note = json.loads(objects.get_bytes(quarantined + REASON_SUFFIX))
        report.quarantined[quarantined.removeprefix(QUARANTINE_PREFIX)] = note.get("reason", "")
    return report


def seconds_since(epoch: str | None, now: datetime | None = None) -> float | None:
    if not epoch:
        return None
    return (now or datetime.now(UTC)).timestamp() - float(epoch)
