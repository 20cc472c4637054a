"""What a key in the desk's bucket is: routing by prefix, and the archive, quarantine and snapshot keys.

The bucket layout is the seed's (the dashboard and Actant's uploader rely on it)::

    market-data/YYYY/MM/DD/<file>.csv                       e.g. market-data/2024/01/15/GE_XCME.ZN_20240115_103938.csv
    eod/YYYY/MM/DD/actant_eod_YYYYMMDD.csv                  end-of-day positions and greeks
    sod/YYYY/MM/DD/actant_sod_YYYYMMDD.csv                  start-of-day positions
    working-orders/YYYY/MM/DD/orders_snapshot_<epoch>.json  TT working-order snapshots (epoch seconds, UTC day)
    processed/<original key>                                archived after a successful load
    quarantine/<original key> (+ .reason.json)              refused files and why

:func:`route` decides **by the key's first path segment only**. The seed's Lambda tested ``'eod' in key``, so
``market-data/2024/01/15/eod_spreads.csv`` went to the EOD loader and ``processed/eod/...`` was loaded again;
here the prefix decides, then the rest of the key must match the layout exactly (zero-padded real date
folders, the expected file name, the date in an EOD/SOD name equal to its folder's).

A refused key comes back as a :class:`RouteError` (never an exception) with ``ours``:

- ``ours=False``: not the feed's (``processed/``, ``quarantine/``, any other prefix): leave it alone;
- ``ours=True``: under a feed prefix but breaking the layout (``market-data/test.csv``, ``eod/2024/02/30/...``):
  a file somebody meant for the feed, to quarantine with :attr:`RouteError.reason` so that it is seen.

Keys are S3 object keys as stored (an S3 event's key is URL-encoded: decode it with
``urllib.parse.unquote_plus`` first). Plain module: no Dagster, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

from ops_assets.timekeeping import require_aware


class FileKind(StrEnum):
    """The four kinds of file the desk feed loads (the value is the kind's name in logs and metadata)."""

    MARKET = "market"
    EOD = "eod"
    SOD = "sod"
    ORDERS = "orders"


PREFIXES: dict[FileKind, str] = {
    FileKind.MARKET: "market-data/",
    FileKind.EOD: "eod/",
    FileKind.SOD: "sod/",
    FileKind.ORDERS: "working-orders/",
}
"""Each kind's top-level folder in the bucket (with the trailing slash)."""

PROCESSED_PREFIX = "processed/"
QUARANTINE_PREFIX = "quarantine/"
REASON_SUFFIX = ".reason.json"

_KIND_BY_SEGMENT = {prefix.rstrip("/"): kind for kind, prefix in PREFIXES.items()}
_NOT_OURS_SEGMENTS = {
    PROCESSED_PREFIX.rstrip("/"): "an archived file (processed/)",
    QUARANTINE_PREFIX.rstrip("/"): "a quarantined file (quarantine/)",
}
_FOLDER_RE = (re.compile(r"\d{4}"), re.compile(r"\d{2}"), re.compile(r"\d{2}"))
_MARKET_NAME_RE = re.compile(r"[^/\s][^/]*\.csv")
_DAILY_NAME_RE = {
    FileKind.EOD: re.compile(r"actant_eod_(\d{8})\.csv"),
    FileKind.SOD: re.compile(r"actant_sod_(\d{8})\.csv"),
}
_SNAPSHOT_NAME_RE = re.compile(r"orders_snapshot_(\d{1,12})\.json")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class LandedFile:
    """A key that :func:`route` accepted: what it is, the trading day of its folder, its file name.

    ``snapshot_at`` is the snapshot's time (from ``orders_snapshot_<epoch>.json``, UTC) for working orders,
    ``None`` for the Actant files (their rows carry their own times).
    """

    kind: FileKind
    key: str
    day: date
    file_name: str
    snapshot_at: datetime | None = None


@dataclass(frozen=True)
class RouteError:
    """A key :func:`route` refused, and why (see the module docstring for ``ours``)."""

    key: str
    reason: str
    ours: bool

    def __str__(self) -> str:
        return f"{self.key!r}: {self.reason}"


def route(key: str) -> LandedFile | RouteError:
    """Classify a bucket key by its prefix: a :class:`LandedFile` to load, or a :class:`RouteError` saying why not.

    Only the first path segment chooses the kind; the remaining segments must then be exactly
    ``YYYY/MM/DD/<file name>`` with a real, zero-padded date. Market-data files may have any name ending in
    ``.csv``; EOD and SOD files must be ``actant_eod_YYYYMMDD.csv`` / ``actant_sod_YYYYMMDD.csv`` with the
    folder's date; snapshots must be ``orders_snapshot_<epoch seconds>.json`` whose UTC day is the folder's.
    """
    if not key:
        return RouteError(key, "empty key", ours=False)
    segments = key.split("/")
    head = segments[0]
    if head in _NOT_OURS_SEGMENTS:
        return RouteError(key, f"not a feed file: {_NOT_OURS_SEGMENTS[head]}", ours=False)
    kind = _KIND_BY_SEGMENT.get(head)
    if kind is None:
        expected = ", ".join(PREFIXES.values())
        return RouteError(key, f"not a feed file: its prefix {head + '/'!r} is none of {expected}", ours=False)

    def invalid(reason: str) -> RouteError:
        return RouteError(key, f"{kind.value} file with a bad key: {reason}", ours=True)

    if _CONTROL_RE.search(key):
        return invalid("the key contains control characters")
    layout = f"{PREFIXES[kind]}YYYY/MM/DD/<file>"
    if len(segments) != 5:
        return invalid(f"expected {layout}, got {len(segments) - 1} segment(s) after {PREFIXES[kind]!r}")
    year, month, day_text, name = segments[1:]
    for text, pattern, what in zip((year, month, day_text), _FOLDER_RE, ("YYYY", "MM", "DD"), strict=True):
        if not pattern.fullmatch(text):
            return invalid(f"date folder {text!r} is not {what} (expected {layout}, zero-padded)")
    try:
        day = date(int(year), int(month), int(day_text))
    except ValueError as exc:
        return invalid(f"date folder {year}/{month}/{day_text} is not a real date ({exc})")

    if kind is FileKind.MARKET:
        if not _MARKET_NAME_RE.fullmatch(name):
            return invalid(f"file name {name!r} is not <name>.csv")
        return LandedFile(kind, key, day, name)
    if kind in _DAILY_NAME_RE:
        match = _DAILY_NAME_RE[kind].fullmatch(name)
        if not match:
            return invalid(f"file name {name!r} is not actant_{kind.value}_YYYYMMDD.csv")
        if match.group(1) != day.strftime("%Y%m%d"):
            return invalid(f"file name {name!r} is dated {match.group(1)} but sits in the {day.isoformat()} folder")
        return LandedFile(kind, key, day, name)
    match = _SNAPSHOT_NAME_RE.fullmatch(name)
    if not match:
        return invalid(f"file name {name!r} is not orders_snapshot_<epoch seconds>.json")
    at = datetime.fromtimestamp(int(match.group(1)), UTC)
    if at.date() != day:
        return invalid(f"snapshot time {at.isoformat()} is not on the folder's day {day.isoformat()} (UTC)")
    return LandedFile(kind, key, day, name, snapshot_at=at)


def _require_feed_key(key: str) -> str:
    """``key`` if it is a feed file's key (not already archived or quarantined), else ``ValueError``."""
    if key.startswith((PROCESSED_PREFIX, QUARANTINE_PREFIX)) or not key:
        raise ValueError(f"{key!r} is not an original feed key (already archived or quarantined, or empty)")
    return key


def processed_key(key: str) -> str:
    """Where a successfully loaded file is archived: ``processed/<original key>``."""
    return PROCESSED_PREFIX + _require_feed_key(key)


def quarantine_key(key: str) -> str:
    """Where a refused file is moved: ``quarantine/<original key>``."""
    return QUARANTINE_PREFIX + _require_feed_key(key)


def quarantine_reason_key(key: str) -> str:
    """The JSON note beside a quarantined file saying why: ``quarantine/<original key>.reason.json``."""
    return quarantine_key(key) + REASON_SUFFIX


def original_key(archived: str) -> str:
    """The feed key an archived or quarantined key came from (a reason note gives its file's key)."""
    for prefix in (PROCESSED_PREFIX, QUARANTINE_PREFIX):
        if archived.startswith(prefix):
            inner = archived.removeprefix(prefix)
            return inner.removesuffix(REASON_SUFFIX) if prefix == QUARANTINE_PREFIX else inner
    raise ValueError(f"{archived!r} is neither under {PROCESSED_PREFIX!r} nor under {QUARANTINE_PREFIX!r}")


def _day_folder(day: date) -> str:
    return f"{day:%Y}/{day:%m}/{day:%d}"


def market_key(day: date, file_name: str) -> str:
    """``market-data/YYYY/MM/DD/<file_name>`` (the name must end in ``.csv`` and contain no ``/``)."""
    if not _MARKET_NAME_RE.fullmatch(file_name):
        raise ValueError(f"market-data file name {file_name!r} is not <name>.csv")
    return f"{PREFIXES[FileKind.MARKET]}{_day_folder(day)}/{file_name}"


def eod_key(day: date) -> str:
    """``eod/YYYY/MM/DD/actant_eod_YYYYMMDD.csv``."""
    return f"{PREFIXES[FileKind.EOD]}{_day_folder(day)}/actant_eod_{day:%Y%m%d}.csv"


def sod_key(day: date) -> str:
    """``sod/YYYY/MM/DD/actant_sod_YYYYMMDD.csv``."""
    return f"{PREFIXES[FileKind.SOD]}{_day_folder(day)}/actant_sod_{day:%Y%m%d}.csv"


def snapshot_key(at: datetime) -> str:
    """Where the snapshot taken at ``at`` goes: ``working-orders/YYYY/MM/DD/orders_snapshot_<epoch>.json``.

    ``at`` must be timezone-aware; the folder is its UTC day and the epoch its whole seconds (so two snapshots
    30 s apart never share a key, and :func:`route` reads the same time back).
    """
    at_utc = require_aware(at, "at").astimezone(UTC)
    epoch = int(at_utc.timestamp() // 1)
    return f"{PREFIXES[FileKind.ORDERS]}{_day_folder(at_utc.date())}/orders_snapshot_{epoch}.json"
