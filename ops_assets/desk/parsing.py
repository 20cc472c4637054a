"""Actant CSV files and TT working-order snapshots, from bytes to typed rows; a bad file is refused whole.

One function per kind of file (:func:`parse_market`, :func:`parse_eod`, :func:`parse_sod`, :func:`parse_orders`,
or :func:`parse_file` to pick by :class:`~ops_assets.desk.files.FileKind`). Each answers a :class:`ParsedFile`
(the rows in file order, the header, how many data rows were read and how many exact repeats were dropped) or
raises :class:`MalformedFile` naming the line and column at fault. There is no partial result: a file is
applied as a whole or quarantined as a whole, so one bad row refuses the file.

**Read robustly**: UTF-8 with or without a byte-order mark, LF or CRLF line ends, quoted fields (commas and
line breaks inside quotes), surrounding spaces in headers and cells, header names in any case, blank lines
(and lines of only commas) anywhere, a trailing comma on every line.

**Refused** (the reason says which): a file that is empty or has only a header; bytes that are not UTF-8; a
broken CSV (an unclosed quote, a NUL byte anywhere); a missing required column, or a column named twice; a row with
more or fewer fields than the header; an empty or non-numeric number, ``NaN`` and ``inf`` in any spelling;
a number with more than 38 significant digits or an exponent beyond +/-100 (DynamoDB's range); a negative or
fractional volume; a data timestamp that is missing, unparseable, outside 2000-2100, or naive without a
configured time zone; two rows for the same instrument and timestamp (or account, day) with different
values; more than :data:`MAX_ROWS` data rows. Exact repeats of a row are harmless and dropped
(:attr:`ParsedFile.duplicates_dropped` counts them).

**Numbers** are :class:`~decimal.Decimal` built from the file's text, never through a float: ``0.1`` stays
``Decimal("0.1")`` and ``112.515625`` (a ZN price in 64ths) stays exact. Prices may be negative (calendar
spreads trade below zero); volumes may not.

**Times** are the data's own time (the seed's Lambda stamped the processing time instead), always returned in
UTC. Accepted: ISO-8601 with an offset or ``Z`` (``2024-01-15T10:39:38.125-06:00``), epoch seconds or
milliseconds (told apart by size: below 10**11 is seconds, i.e. up to year 5138; milliseconds from 2000 on
are above it), and naive ISO times **only** when a ``timezone`` is given. Actant writes exchange-local times
without an offset; for CME products that is Chicago time, :data:`ACTANT_TIMEZONE`, which the desk's settings
use as their default. The parsing functions themselves default to *no* time zone, so that a caller who forgot
it gets a quarantined file with a reason instead of rows shifted by five or six hours. A naive time that does
not exist in that zone (skipped by the spring daylight-saving change) or that exists twice (the autumn change
repeats an hour) is refused rather than guessed; CME's Globex is closed at those Sunday-morning hours, so
real files never carry one.

Plain module: no Dagster, no I/O.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, Generic, Literal, NoReturn, TypeVar
from zoneinfo import ZoneInfo

from ops_assets.desk.files import FileKind

ACTANT_TIMEZONE = "America/Chicago"
"""Actant's exchange-local time for CME products (ZN, ZF, ZB, ES): the desk settings' default ``timezone``."""
MAX_ROWS = 1_000_000
"""Most data rows one file may hold (a larger one is refused, not truncated)."""
MAX_SIGNIFICANT_DIGITS = 38
"""DynamoDB's number precision: a value with more significant digits could not be stored exactly."""
MAX_EXPONENT = 100
"""Largest decimal exponent (either sign) accepted; no price, position or greek comes near it."""
EARLIEST_DATA_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_DATA_TIME = datetime(2100, 1, 1, tzinfo=UTC)
"""Data times outside [2000, 2100) are refused: a date like ``20240115`` read as epoch seconds is 1970."""
EPOCH_MILLISECONDS_FROM = 10**11
"""Epoch values at or above this are milliseconds (as seconds it would be year 5138)."""

MARKET_COLUMNS = ("instrument", "price", "bid", "ask", "volume", "timestamp")
EOD_COLUMNS = ("instrument", "account", "position", "settlement_price", "delta", "gamma", "vega", "theta")
EOD_OPTIONAL_COLUMNS = ("date",)
SOD_COLUMNS = ("account_date", "instrument", "account", "position", "avg_price")
ORDER_FIELDS = ("id", "instrument", "side", "qty", "price", "status", "updated_at")

Side = Literal["BUY", "SELL"]
RowT = TypeVar("RowT")

_DECIMAL_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NOT_FINITE = {"nan", "snan", "qnan", "inf", "infinity"}
_EPOCH_RE = re.compile(r"\d{1,17}(?:\.\d{1,9})?")
_HAS_TIME_RE = re.compile(r"\d[Tt ]\d")
_DAY_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


# ---------------------------------------------------------------------------------------------------
# Results and the error
# ---------------------------------------------------------------------------------------------------


class MalformedFile(ValueError):
    """A file refused as a whole: ``reason`` for a person, the 1-based ``line`` (where the bad row starts; the
    header is line 1 when the file starts with it) and the ``column`` (or JSON field) at fault when known."""

    def __init__(self, reason: str, line: int | None = None, column: str | None = None) -> None:
        self.reason = reason
        self.line = line
        self.column = column
        super().__init__(self.describe())

    def describe(self) -> str:
        """``line 7, column 'price': price 'NaN' is not a finite number`` (the place only where known)."""
        place = ", ".join(
            part
            for part in (
                f"line {self.line}" if self.line is not None else "",
                f"column {self.column!r}" if self.column is not None else "",
            )
            if part
        )
        return f"{place}: {self.reason}" if place else self.reason

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready ``{"reason", "line", "column", "message"}``, e.g. for the quarantine's ``.reason.json``."""
        return {"reason": self.reason, "line": self.line, "column": self.column, "message": self.describe()}


@dataclass(frozen=True)
class ParsedFile(Generic[RowT]):
    """A whole file's rows, in file order, without exact repeats.

    ``source_rows`` counts the data rows read (blank lines excluded, repeats included), so
    ``len(rows) + duplicates_dropped == source_rows``; ``columns`` is the header as written (orders: the
    canonical field names).
    """

    kind: FileKind
    rows: tuple[RowT, ...]
    columns: tuple[str, ...]
    source_rows: int
    duplicates_dropped: int = 0


@dataclass(frozen=True, slots=True)
class MarketRow:
    """One market-data quote: the last ``price``, the top of book (``None`` where the side is empty), the day's
    ``volume`` and the data's own ``timestamp`` (UTC). Columns beyond the six required ones are kept in
    ``extra`` under their header names; ``line`` is where the row sits in its file (not compared)."""

    instrument: str
    price: Decimal
    bid: Decimal | None
    ask: Decimal | None
    volume: int
    timestamp: datetime
    extra: dict[str, str] = field(default_factory=dict)
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class EodRow:
    """One end-of-day position of an account in an instrument, with its settlement price and greeks.

    ``day`` is the file's ``date`` column, or the day in its name when it has none."""

    day: date
    instrument: str
    account: str
    position: Decimal
    settlement_price: Decimal
    delta: Decimal
    gamma: Decimal
    vega: Decimal
    theta: Decimal
    extra: dict[str, str] = field(default_factory=dict)
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class SodRow:
    """One start-of-day position of an account in an instrument, and its average price."""

    account_date: date
    instrument: str
    account: str
    position: Decimal
    avg_price: Decimal
    extra: dict[str, str] = field(default_factory=dict)
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class WorkingOrder:
    """One working order from TT: ``qty`` contracts, ``price`` ``None`` for orders without a limit price (market,
    stop-market); ``updated_at`` in UTC. Fields beyond the seven known ones are kept in ``extra`` as received
    (JSON numbers as Decimal); ``position`` is the order's index in the answer (not compared)."""

    order_id: str
    instrument: str
    side: Side
    qty: int
    price: Decimal | None
    status: str
    updated_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)
    position: int = field(default=0, compare=False)

    def to_json_dict(self) -> dict[str, Any]:
        """The order as JSON-ready values: Decimals as their exact text, ``updated_at`` as ISO-8601 UTC (``Z``).

        The id is written both as ``id`` (the seed's Redis example) and ``order_id`` (the seed's Lambda and the
        TT sample), so a reader of either spelling finds it; :func:`parse_orders` reads the result back."""
        return {
            "id": self.order_id,
            "order_id": self.order_id,
            "instrument": self.instrument,
            "side": self.side,
            "qty": self.qty,
            "price": None if self.price is None else str(self.price),
            "status": self.status,
            "updated_at": self.updated_at.isoformat().replace("+00:00", "Z"),
            **{key: _json_ready(value) for key, value in self.extra.items()},
        }


def _json_ready(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_ready(item) for item in value]
    return value


# ---------------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------------


def parse_decimal(text: str) -> Decimal:
    """The exact Decimal of a plain number (``-0.1``, ``112.515625``, ``1.5e-3``); ``ValueError`` for anything
    else: empty, ``NaN``/``inf``, thousands separators, more than 38 significant digits, exponent beyond 100."""
    value = text.strip()
    if not value:
        raise ValueError("is empty")
    if not _DECIMAL_RE.fullmatch(value):
        if value.lower().lstrip("+-") in _NOT_FINITE:
            raise ValueError(f"{value!r} is not a finite number")
        raise ValueError(f"{value!r} is not a number")
    number = Decimal(value)
    if len(value) <= 30 and "e" not in value and "E" not in value:
        return number  # at most 30 digits and an exponent within 30: nothing more to check
    digits = "".join(map(str, number.as_tuple().digits)).strip("0")  # not normalize(): it rounds to 28 digits
    if len(digits) > MAX_SIGNIFICANT_DIGITS:
        raise ValueError(f"{value!r} has more than {MAX_SIGNIFICANT_DIGITS} significant digits")
    if number and abs(number.adjusted()) > MAX_EXPONENT:
        raise ValueError(f"{value!r} is out of range (exponent beyond {MAX_EXPONENT})")
    return number


def resolve_timezone(timezone: str | tzinfo | None) -> tzinfo | None:
    """``ZoneInfo`` for an IANA name (``America/Chicago``), the tzinfo itself, or ``None``; a bad name raises
    ``ValueError`` (a configuration error, not a malformed file)."""
    if timezone is None or isinstance(timezone, tzinfo):
        return timezone
    try:
        return ZoneInfo(timezone)
    except (ValueError, KeyError) as exc:
        raise ValueError(f"unknown time zone {timezone!r}: use an IANA name such as {ACTANT_TIMEZONE!r}") from exc


def _zone_name(zone: tzinfo) -> str:
    return getattr(zone, "key", None) or str(zone)


def _localize(naive: datetime, zone: tzinfo) -> datetime:
    """``naive`` as a wall-clock time in ``zone``; a time skipped or repeated by a DST change is refused."""
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
            raise ValueError(
                f"{naive.isoformat(sep=' ')} does not exist in {_zone_name(zone)} (skipped by a daylight-saving change)"
            )
        raise ValueError(
            f"{naive.isoformat(sep=' ')} is ambiguous in {_zone_name(zone)} (repeated by a daylight-saving change)"
        )
    return first


def _in_range(at: datetime, text: str, how: str) -> datetime:
    if not EARLIEST_DATA_TIME <= at < LATEST_DATA_TIME:
        raise ValueError(
            f"{text!r}{how} is {at.isoformat()}, outside {EARLIEST_DATA_TIME.year}-{LATEST_DATA_TIME.year}: "
            "not a data time"
        )
    return at


def parse_data_time(text: str, timezone: str | tzinfo | None = None) -> datetime:
    """A data timestamp as an aware UTC datetime (see the module docstring for the accepted forms).

    ``timezone`` (IANA name or tzinfo) is applied to naive ISO times only; without it they are refused.
    ``ValueError`` says what is wrong.
    """
    value = text.strip()
    if not value:
        raise ValueError("is empty")
    if _EPOCH_RE.fullmatch(value):
        number = Decimal(value)
        unit = "seconds"
        if number >= EPOCH_MILLISECONDS_FROM:
            number, unit = number / 1000, "milliseconds"
        whole = int(number)
        if not EARLIEST_DATA_TIME.timestamp() <= whole < LATEST_DATA_TIME.timestamp():
            raise ValueError(
                f"{value!r} as epoch {unit} is outside {EARLIEST_DATA_TIME.year}-{LATEST_DATA_TIME.year}: "
                "not a data time"
            )
        micros = int((number - whole) * 1_000_000)
        return datetime.fromtimestamp(whole, UTC) + timedelta(microseconds=micros)
    if not _HAS_TIME_RE.search(value):
        raise ValueError(f"{value!r} is not ISO-8601 with a time of day nor epoch seconds/milliseconds")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not ISO-8601 nor epoch seconds/milliseconds") from None
    if not EARLIEST_DATA_TIME.year - 1 <= parsed.year <= LATEST_DATA_TIME.year:  # before converting: no overflow
        raise ValueError(f"{value!r} is outside {EARLIEST_DATA_TIME.year}-{LATEST_DATA_TIME.year}: not a data time")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        zone = resolve_timezone(timezone)
        if zone is None:
            raise ValueError(
                f"{value!r} has no UTC offset and no timezone is configured (Actant writes exchange-local time: "
                f"configure its zone, e.g. {ACTANT_TIMEZONE!r})"
            )
        parsed = _localize(parsed, zone)
        return _in_range(parsed.astimezone(UTC), value, f" in {_zone_name(zone)}")
    return _in_range(parsed.astimezone(UTC), value, "")


def _parse_day(text: str) -> date:
    value = text.strip()
    if not _DAY_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not a date YYYY-MM-DD" if value else "is empty")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a real date") from None


# ---------------------------------------------------------------------------------------------------
# CSV reading shared by the three Actant kinds
# ---------------------------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    """UTF-8 text without its byte-order mark; empty or undecodable bytes are refused."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"expected the file's bytes, got {type(data).__name__}")
    raw = bytes(data)
    if not raw.strip():
        raise MalformedFile("empty file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        hint = " (it starts with a UTF-16 byte-order mark)" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise MalformedFile(
            f"not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start} cannot be decoded{hint}",
            line=raw.count(b"\n", 0, exc.start) + 1,
        ) from None
    if not text.strip():
        raise MalformedFile("empty file")
    nul = text.find("\x00")
    if nul >= 0:
        raise MalformedFile(
            "NUL byte in the file (a corrupt or partly written file)", line=text.count("\n", 0, nul) + 1
        )
    return text


@dataclass
class _Row:
    """One data row: its starting line, the required/optional columns by canonical name, the other columns."""

    line: int
    values: dict[str, str]
    extra: dict[str, str]

    def text(self, column: str) -> str:
        return self.values.get(column, "").strip()

    def convert(self, column: str, convert: Callable[[str], Any]) -> Any:
        """``convert(cell)``; its ``ValueError`` becomes a :class:`MalformedFile` naming this line and column."""
        try:
            return convert(self.values.get(column, ""))
        except MalformedFile:
            raise
        except ValueError as exc:
            raise MalformedFile(f"{column} {exc}", self.line, column) from None

    def required_text(self, column: str) -> str:
        value = self.text(column)
        if not value:
            raise MalformedFile(f"{column} is empty", self.line, column)
        if _CONTROL_RE.search(value):
            raise MalformedFile(f"{column} {value!r} contains control characters", self.line, column)
        return value

    def decimal(self, column: str) -> Decimal:
        return self.convert(column, parse_decimal)

    def optional_decimal(self, column: str) -> Decimal | None:
        return self.decimal(column) if self.text(column) else None


def _read_csv(
    data: bytes, required: Sequence[str], optional: Sequence[str] = (), *, max_rows: int = MAX_ROWS
) -> tuple[tuple[str, ...], Iterator[_Row]]:
    """The header (as written) and an iterator of its data rows; refuses what every Actant CSV must not be."""
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 0  # the last physical line the reader consumed

    def next_record() -> tuple[int, list[str]] | None:
        nonlocal line
        try:
            record = next(reader, None)
        except csv.Error as exc:
            raise MalformedFile(f"not a well-formed CSV: {exc}", line=line + 1) from None
        start, line = line + 1, reader.line_num
        return None if record is None else (start, record)

    while True:
        got = next_record()
        if got is None:
            raise MalformedFile("empty file")
        header_line, header = got
        if any(cell.strip() for cell in header):
            break
    names = [cell.strip() for cell in header]
    canonical = [name.lower() for name in names]
    seen: dict[str, int] = {}
    for index, name in enumerate(canonical):
        if name and name in seen:
            raise MalformedFile(f"column {names[index]!r} appears twice in the header", header_line, names[index])
        seen[name] = index
    missing = [column for column in required if column not in seen]
    if missing:
        raise MalformedFile(
            f"missing required column(s) {', '.join(missing)} (header: {', '.join(n for n in names if n)})",
            header_line,
            missing[0],
        )
    known = set(required) | set(optional)
    width = len(names)
    named = width  # rows may leave out trailing unnamed columns (a header written with trailing commas)
    while named and not names[named - 1]:
        named -= 1

    def rows() -> Iterator[_Row]:
        count = 0
        while (got := next_record()) is not None:
            start, record = got
            if not any(cell.strip() for cell in record):
                continue  # blank line, or a line of only commas
            if len(record) > width and not any(cell.strip() for cell in record[width:]):
                record = record[:width]  # trailing commas
            elif named <= len(record) < width:
                record = record + [""] * (width - len(record))  # the header alone ends with commas
            if len(record) != width:
                raise MalformedFile(f"row has {len(record)} fields, the header has {width}", start)
            count += 1
            if count > max_rows:
                raise MalformedFile(f"more than {max_rows:,} data rows: refused, not truncated", start)
            values: dict[str, str] = {}
            extra: dict[str, str] = {}
            for name, key, cell in zip(names, canonical, record, strict=True):
                if key in known:
                    values[key] = cell
                elif name:
                    extra[name] = cell.strip()
                elif cell.strip():
                    raise MalformedFile(f"value {cell.strip()!r} under a column with no name", start)
            yield _Row(start, values, extra)

    return tuple(name for name in names if name), rows()


def _collect(
    kind: FileKind,
    columns: tuple[str, ...],
    rows: Iterator[tuple[Any, RowT, str, int | None, str]],
    describe: Callable[[Any], str],
    *,
    allow_empty: bool = False,
) -> ParsedFile[RowT]:
    """Rows in order, exact repeats dropped; a repeated key with different values refuses the file.

    ``rows`` yields (key, row, where it is for a person, its line or None, the column to blame for a clash).
    """
    kept: dict[Any, tuple[RowT, str]] = {}
    read = 0
    for key, row, where, line, column in rows:
        read += 1
        previous = kept.get(key)
        if previous is None:
            kept[key] = (row, where)
        elif previous[0] != row:
            raise MalformedFile(
                f"{describe(key)} appears twice with different values ({previous[1]} and {where})", line, column
            )
    if not read and not allow_empty:
        raise MalformedFile("no data rows (header only)")
    unique = tuple(row for row, _ in kept.values())
    return ParsedFile(kind, unique, columns, source_rows=read, duplicates_dropped=read - len(unique))


# ---------------------------------------------------------------------------------------------------
# The four kinds
# ---------------------------------------------------------------------------------------------------


def parse_market(
    data: bytes, *, timezone: str | tzinfo | None = None, max_rows: int = MAX_ROWS
) -> ParsedFile[MarketRow]:
    """A market-data CSV (``instrument, price, bid, ask, volume, timestamp`` + any extra columns).

    ``price`` is required; ``bid``/``ask`` may be empty (no quote on that side); ``volume`` is a whole number
    >= 0. ``timezone`` is the zone of naive timestamps (:data:`ACTANT_TIMEZONE` for CME); without it they are
    refused. Rows are keyed by instrument + timestamp.
    """
    columns, records = _read_csv(data, MARKET_COLUMNS, max_rows=max_rows)
    zone = resolve_timezone(timezone)

    def volume(text: str) -> int:
        number = parse_decimal(text)
        if number != number.to_integral_value():
            raise ValueError(f"{text.strip()!r} is not a whole number")
        if number < 0:
            raise ValueError(f"{text.strip()!r} is negative")
        return int(number)

    def timestamp(text: str) -> datetime:
        return parse_data_time(text, zone)

    def typed() -> Iterator[tuple[Any, MarketRow, str, int | None, str]]:
        for record in records:
            row = MarketRow(
                instrument=record.required_text("instrument"),
                price=record.decimal("price"),
                bid=record.optional_decimal("bid"),
                ask=record.optional_decimal("ask"),
                volume=record.convert("volume", volume),
                timestamp=record.convert("timestamp", timestamp),
                extra=record.extra,
                line=record.line,
            )
            yield (row.instrument, row.timestamp), row, f"line {record.line}", record.line, "timestamp"

    return _collect(FileKind.MARKET, columns, typed(), lambda key: f"instrument {key[0]!r} at {key[1].isoformat()}")


def parse_eod(data: bytes, *, day: date | None = None, max_rows: int = MAX_ROWS) -> ParsedFile[EodRow]:
    """An end-of-day positions/greeks CSV (``instrument, account, position, settlement_price, delta, gamma, vega,
    theta``, optionally ``date``).

    ``day`` is the file's day (from its name, :attr:`LandedFile.day`): the rows' day when there is no ``date``
    column, and a check when there is (a row dated otherwise refuses the file). Rows are keyed by day +
    instrument + account. Every number is required (a flat greek is written ``0``).
    """
    columns, records = _read_csv(data, EOD_COLUMNS, EOD_OPTIONAL_COLUMNS, max_rows=max_rows)
    has_date = "date" in {name.lower() for name in columns}
    if not has_date and day is None:
        raise ValueError("an EOD file without a 'date' column needs the file's day (day=LandedFile.day)")

    def typed() -> Iterator[tuple[Any, EodRow, str, int | None, str]]:
        for record in records:
            row_day = record.convert("date", _parse_day) if has_date else day
            if day is not None and row_day != day:
                raise MalformedFile(
                    f"date {row_day.isoformat()} is not the file's day {day.isoformat()}", record.line, "date"
                )
            row = EodRow(
                day=row_day,
                instrument=record.required_text("instrument"),
                account=record.required_text("account"),
                position=record.decimal("position"),
                settlement_price=record.decimal("settlement_price"),
                delta=record.decimal("delta"),
                gamma=record.decimal("gamma"),
                vega=record.decimal("vega"),
                theta=record.decimal("theta"),
                extra=record.extra,
                line=record.line,
            )
            yield (row.day, row.instrument, row.account), row, f"line {record.line}", record.line, "instrument"

    return _collect(
        FileKind.EOD,
        columns,
        typed(),
        lambda key: f"account {key[2]!r} in {key[1]!r} on {key[0].isoformat()}",
    )


def parse_sod(data: bytes, *, day: date | None = None, max_rows: int = MAX_ROWS) -> ParsedFile[SodRow]:
    """A start-of-day positions CSV (``account_date`` YYYY-MM-DD, ``instrument, account, position, avg_price``).

    With ``day`` (the file's day), a row whose ``account_date`` differs refuses the file. Rows are keyed by
    account_date + instrument + account.
    """
    columns, records = _read_csv(data, SOD_COLUMNS, max_rows=max_rows)

    def typed() -> Iterator[tuple[Any, SodRow, str, int | None, str]]:
        for record in records:
            account_date = record.convert("account_date", _parse_day)
            if day is not None and account_date != day:
                raise MalformedFile(
                    f"account_date {account_date.isoformat()} is not the file's day {day.isoformat()}",
                    record.line,
                    "account_date",
                )
            row = SodRow(
                account_date=account_date,
                instrument=record.required_text("instrument"),
                account=record.required_text("account"),
                position=record.decimal("position"),
                avg_price=record.decimal("avg_price"),
                extra=record.extra,
                line=record.line,
            )
            yield (row.account_date, row.instrument, row.account), row, f"line {record.line}", record.line, "instrument"

    return _collect(
        FileKind.SOD,
        columns,
        typed(),
        lambda key: f"account {key[2]!r} in {key[1]!r} on {key[0].isoformat()}",
    )


def _refuse_constant(name: str) -> NoReturn:
    raise MalformedFile(f"JSON constant {name} is not a finite number")


def parse_orders(
    data: bytes, *, timezone: str | tzinfo | None = None, max_rows: int = MAX_ROWS
) -> ParsedFile[WorkingOrder]:
    """A TT working-orders answer (or a stored snapshot of one): a JSON list of orders, or ``{"orders": [...]}``.

    Each order needs ``id`` (string or integer; the seed's Lambda read ``order_id``, accepted when ``id`` is
    absent), ``instrument``, ``side`` (``BUY``/``SELL``, any case), ``qty`` (a whole number > 0), ``price``
    (a number, or ``null`` for an order without a limit price), ``status`` and ``updated_at`` (ISO-8601 or
    epoch seconds/milliseconds; naive only with ``timezone``). JSON numbers are read as Decimal (never float);
    ``NaN``/``Infinity`` are refused. An empty list is a valid answer: no working orders. Two entries with the
    same id and different content refuse the answer; exact repeats are dropped. Errors name the order's index
    (``line`` is set only for JSON syntax errors).
    """
    text = _decode(data)
    try:
        document = json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise MalformedFile(f"not valid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from None
    if isinstance(document, dict) and isinstance(document.get("orders"), list):
        document = document["orders"]
    if not isinstance(document, list):
        raise MalformedFile(f"expected a JSON list of orders (or {{'orders': [...]}}), got {type(document).__name__}")
    if len(document) > max_rows:
        raise MalformedFile(f"more than {max_rows:,} orders: refused, not truncated")
    zone = resolve_timezone(timezone)

    def typed() -> Iterator[tuple[Any, WorkingOrder, str, int | None, str]]:
        for index, item in enumerate(document):
            order = _order(item, index, zone)
            yield order.order_id, order, f"order #{index}", None, "id"

    return _collect(FileKind.ORDERS, ORDER_FIELDS, typed(), lambda key: f"order id {key!r}", allow_empty=True)


def _order(item: object, index: int, zone: tzinfo | None) -> WorkingOrder:
    """One order of a TT answer, typed; :class:`MalformedFile` names its index and field."""
    if not isinstance(item, dict):
        raise MalformedFile(f"order #{index} is a {type(item).__name__}, not an object")
    where = f"order #{index}"

    def fail(name: str, problem: str) -> MalformedFile:
        return MalformedFile(f"{where}: {name} {problem}", None, name)

    def text(name: str) -> str:
        value = item.get(name)
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise fail(name, f"must be a non-empty string, got {value!r}")
        value = str(value).strip()
        if not value or _CONTROL_RE.search(value):
            raise fail(name, f"must be a non-empty string without control characters, got {value!r}")
        return value

    def number(name: str) -> Decimal:
        value = item.get(name)
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise fail(name, f"must be a number, got {value!r}")
        try:
            return parse_decimal(str(value))
        except ValueError as exc:
            raise fail(name, str(exc)) from None

    if "id" in item and "order_id" in item and str(item["id"]) != str(item["order_id"]):
        raise fail("id", f"{item['id']!r} differs from order_id {item['order_id']!r}")
    id_field = "id" if "id" in item else "order_id"
    if id_field not in item:
        raise fail("id", "is missing")
    order_id = text(id_field)
    where = f"order #{index} (id {order_id})"
    for name in ORDER_FIELDS[1:]:
        if name not in item:
            raise fail(name, "is missing")
    side = text("side").upper()
    if side not in ("BUY", "SELL"):
        raise fail("side", f"{item['side']!r} is neither BUY nor SELL")
    qty = number("qty")
    if qty != qty.to_integral_value() or qty <= 0:
        raise fail("qty", f"{item['qty']!r} is not a whole number above zero")
    price = None if item["price"] is None else number("price")
    raw_time = item["updated_at"]
    if isinstance(raw_time, bool) or not isinstance(raw_time, str | int | Decimal):
        raise fail("updated_at", f"must be ISO-8601 or epoch seconds/milliseconds, got {raw_time!r}")
    try:
        updated_at = parse_data_time(str(raw_time), zone)
    except ValueError as exc:
        raise fail("updated_at", str(exc)) from None
    known = {*ORDER_FIELDS, "order_id"}
    return WorkingOrder(
        order_id=order_id,
        instrument=text("instrument"),
        side=side,  # type: ignore[arg-type]  # checked above
        qty=int(qty),
        price=price,
        status=text("status"),
        updated_at=updated_at,
        extra={key: value for key, value in item.items() if key not in known},
        position=index,
    )


def parse_file(
    kind: FileKind, data: bytes, *, day: date | None = None, timezone: str | tzinfo | None = None
) -> ParsedFile[Any]:
    """Parse ``data`` as a file of ``kind`` (:attr:`LandedFile.kind`), passing ``day`` to EOD/SOD and
    ``timezone`` to market data and orders."""
    if kind is FileKind.MARKET:
        return parse_market(data, timezone=timezone)
    if kind is FileKind.EOD:
        return parse_eod(data, day=day)
    if kind is FileKind.SOD:
        return parse_sod(data, day=day)
    if kind is FileKind.ORDERS:
        return parse_orders(data, timezone=timezone)
    raise ValueError(f"unknown file kind {kind!r}")
