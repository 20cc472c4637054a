"""Deterministic offline Actant files for the trading-desk feed: market data through a day, EOD and SOD.

Written by this project (no market data is copied; prices are a seeded random walk, option prices Bachelier's
formula). Every function answers ``(key, bytes)`` pairs under the seed's bucket layout, so a test or a demo can
drop them into the object store exactly as Actant's uploader would::

    market-data/YYYY/MM/DD/GE_XCME.<root>_YYYYMMDD_HHMMSS.csv   one file per product and interval
    eod/YYYY/MM/DD/actant_eod_YYYYMMDD.csv                      positions, settlements and greeks per account
    sod/YYYY/MM/DD/actant_sod_YYYYMMDD.csv                      start-of-day positions (the last weekday's EOD)

(The key layout is written out here rather than imported: resources know no domain.)

- **Instruments** (:func:`sample_instruments`): the CME futures ``ZN``, ``ZF``, ``ZB`` (10-, 5-, 30-year
  Treasury notes/bonds, priced in 64ths, 128ths and 32nds) and ``ES`` (E-mini S&P 500, quarter points), named
  by their root as the dashboard's ``actant:market:ZN`` keys expect, and options on ES and ZN named
  ``<root> <expiry YYYY-MM> <C|P><strike>`` (``ES 2026-12 C5900``, ``ZN 2026-12 P110``), expiring in the next
  quarterly month.
- **Market data** (:func:`sample_market_files`): one file per product (the future and its options) every
  ``every`` minutes through CME's regular session (08:30-15:15 Chicago), with columns
  ``instrument, price, bid, ask, volume, timestamp, exchange``. File names and timestamps are Chicago time,
  as Actant writes them: naive by default (``time_style="local"``; parse them with ``America/Chicago``), or
  with an offset, or epoch milliseconds. Each file lands a few seconds after a round interval (names such as
  ``GE_XCME.ZN_20240115_103938.csv``); its rows' timestamps are up to two seconds before landing.
- **EOD / SOD** (:func:`sample_eod_file`, :func:`sample_sod_file`): the accounts :data:`SAMPLE_ACCOUNTS`, each
  holding a few instruments. EOD settlements are the day's last prices; greeks are per position (futures:
  delta = position, the rest 0). A day's SOD positions are the previous weekday's EOD positions.
- **Malformed files** (:func:`sample_malformed_file`, kinds :data:`MALFORMED_KINDS`): market-data files a
  loader must refuse whole (missing column, NaN price, bad timestamp, empty, ...), landing after the close so
  that their keys never collide with the good files'.

Everything is a pure function of its arguments (generators seeded by the text of names and dates): the same
bytes in every process.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

SAMPLE_DESK_DAY = date(2026, 11, 20)
"""The default sample trading day (a Friday; CME open as usual)."""
SAMPLE_TIMEZONE = "America/Chicago"
"""Actant's exchange-local time for CME products: file names and naive timestamps are in it."""
SAMPLE_ACCOUNTS = ("FRGM01", "FRGM02")
SESSION_START = time(8, 30)
SESSION_END = time(15, 15)
EXCHANGE = "XCME"
MARKET_HEADER = ("instrument", "price", "bid", "ask", "volume", "timestamp", "exchange")
EOD_HEADER = ("date", "instrument", "account", "position", "settlement_price", "delta", "gamma", "vega", "theta")
SOD_HEADER = ("account_date", "instrument", "account", "position", "avg_price")
MALFORMED_KINDS = (
    "missing_column",
    "nan_price",
    "bad_timestamp",
    "empty",
    "negative_volume",
    "conflicting_duplicate",
    "not_utf8",
    "header_only",
)
"""The deliberately broken market-data files :func:`sample_malformed_file` writes."""

TimeStyle = Literal["local", "offset", "epoch_ms"]
_CHICAGO = ZoneInfo(SAMPLE_TIMEZONE)


@dataclass(frozen=True)
class _Product:
    """A futures root: its tick, price level, a 5-minute move in ticks, option strikes and normal volatility."""

    root: str
    tick: Decimal
    level: Decimal
    step_ticks: float
    option_tick: Decimal
    strikes: tuple[tuple[str, Decimal], ...]  # (C|P, strike)
    normal_vol: float  # price points per sqrt(year)
    volume_per_step: int


PRODUCTS: dict[str, _Product] = {
    "ZN": _Product(
        "ZN",
        Decimal("0.015625"),
        Decimal("110.5"),
        3.0,
        Decimal("0.015625"),
        (("C", Decimal(111)), ("P", Decimal(110))),
        6.0,
        9_000,
    ),
    "ZF": _Product("ZF", Decimal("0.0078125"), Decimal("108.25"), 4.0, Decimal("0.0078125"), (), 3.5, 6_000),
    "ZB": _Product("ZB", Decimal("0.03125"), Decimal("117.5"), 3.0, Decimal("0.015625"), (), 12.0, 2_500),
    "ES": _Product(
        "ES",
        Decimal("0.25"),
        Decimal(5900),
        6.0,
        Decimal("0.25"),
        (("C", Decimal(5900)), ("P", Decimal(5800))),
        900.0,
        20_000,
    ),
}
"""The sample's futures roots (CME), in the order their files land."""


def _rng(*parts: object) -> random.Random:
    """A generator seeded by the parts' text (``random`` hashes a str seed with SHA-512: the same in every process,
    and unrelated for similar names, unlike small integer seeds such as CRC-32 values)."""
    return random.Random("|".join(str(part) for part in parts))


def _text(value: Decimal) -> str:
    """A Decimal as plain text without trailing zeros (``110.500000`` -> ``110.5``, ``5.9E+3`` -> ``5900``)."""
    return format(value.normalize(), "f")


def option_expiry(day: date) -> date:
    """The quarterly expiry month (Mar/Jun/Sep/Dec) of the sample's options on ``day``: the third Friday of the
    first quarterly month whose third Friday is still ahead (or today)."""
    year, month = day.year, day.month
    while True:
        if month % 3 == 0:
            first = date(year, month, 1)
            third_friday = first + timedelta(days=(4 - first.weekday()) % 7 + 14)
            if third_friday >= day:
                return third_friday
        month += 1
        if month > 12:
            year, month = year + 1, 1


def sample_instruments(day: date = SAMPLE_DESK_DAY) -> dict[str, list[str]]:
    """Each root's instruments on ``day``: the future (the root itself) then its options."""
    expiry = option_expiry(day)
    return {
        root: [root] + [f"{root} {expiry:%Y-%m} {kind}{_text(strike)}" for kind, strike in product.strikes]
        for root, product in PRODUCTS.items()
    }


def sample_reference_quotes(day: date = SAMPLE_DESK_DAY) -> dict[str, tuple[Decimal, Decimal]]:
    """Each instrument of :func:`sample_instruments` -> (its price at the session's first mark, its tick): what
    the sample TT server prices its working orders around, so orders and market data name the same instruments
    at consistent prices."""
    steps = len(_session_marks(day, timedelta(minutes=5), SESSION_START, SESSION_END))
    opening = datetime.combine(day, SESSION_START)
    expiry = option_expiry(day)
    quotes: dict[str, tuple[Decimal, Decimal]] = {}
    for root, product in PRODUCTS.items():
        price = _futures_path(root, day, steps)[0][0]
        quotes[root] = (price, product.tick)
        for kind, strike in product.strikes:
            premium, *_ = _bachelier(kind, float(price), float(strike), product.normal_vol, _years_to(expiry, opening))
            option_price = _round_to(premium, product.option_tick, minimum=product.option_tick)
            quotes[f"{root} {expiry:%Y-%m} {kind}{_text(strike)}"] = (option_price, product.option_tick)
    return quotes


def _session_marks(day: date, every: timedelta, start: time, end: time) -> list[datetime]:
    if every <= timedelta(0):
        raise ValueError(f"every must be positive, got {every}")
    mark = datetime.combine(day, start)
    last = datetime.combine(day, end)
    marks = []
    while mark <= last:
        marks.append(mark)
        mark += every
    return marks


@lru_cache(maxsize=64)
def _futures_path(root: str, day: date, steps: int) -> tuple[tuple[Decimal, int], ...]:
    """(price, cumulative volume) at each of ``steps`` marks: a seeded walk in ticks around the day's level."""
    product = PRODUCTS[root]
    rng = _rng("actant-futures", root, day.isoformat())
    level_ticks = int(product.level / product.tick)
    ticks = level_ticks + round(rng.gauss(0, product.step_ticks * 8))
    volume = rng.randint(product.volume_per_step, product.volume_per_step * 3)
    path = []
    for _ in range(steps):
        ticks += round(rng.gauss(0, product.step_ticks))
        volume += rng.randint(product.volume_per_step // 2, product.volume_per_step * 2)
        path.append((product.tick * ticks, volume))
    return tuple(path)


def _normal_cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def _normal_pdf(x: float) -> float:
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def _bachelier(kind: str, forward: float, strike: float, vol: float, years: float) -> tuple[float, ...]:
    """(price, delta, gamma, vega, theta per day) of one option under Bachelier's normal model."""
    spread = vol * math.sqrt(max(years, 1e-6))
    d = (forward - strike) / spread
    if kind == "C":
        price, delta = (forward - strike) * _normal_cdf(d) + spread * _normal_pdf(d), _normal_cdf(d)
    else:
        price, delta = (strike - forward) * _normal_cdf(-d) + spread * _normal_pdf(d), _normal_cdf(d) - 1
    gamma = _normal_pdf(d) / spread
    vega = math.sqrt(max(years, 1e-6)) * _normal_pdf(d)
    theta = -vol * _normal_pdf(d) / (2 * math.sqrt(max(years, 1e-6))) / 365
    return price, delta, gamma, vega, theta


def _round_to(value: float, tick: Decimal, *, minimum: Decimal | None = None) -> Decimal:
    rounded = tick * round(Decimal(repr(value)) / tick)
    return max(rounded, minimum) if minimum is not None else rounded


def _years_to(expiry: date, at: datetime) -> float:
    close = datetime.combine(expiry, SESSION_END)
    return max((close - at).total_seconds(), 60.0) / (365 * 86_400)


def _format_time(local: datetime, style: TimeStyle) -> str:
    aware = local.replace(tzinfo=_CHICAGO)
    if style == "local":
        return local.isoformat(sep=" ", timespec="milliseconds")
    if style == "offset":
        return aware.isoformat(timespec="milliseconds")
    if style == "epoch_ms":
        return str(round(aware.timestamp() * 1000))
    raise ValueError(f"time_style must be 'local', 'offset' or 'epoch_ms', got {style!r}")


def _csv(header: Iterable[str], rows: Iterable[Iterable[str]]) -> bytes:
    """Plain CSV (no cell of the samples needs quoting) with LF line ends."""
    lines = [",".join(header), *(",".join(row) for row in rows)]
    return ("\n".join(lines) + "\n").encode()


def _day_folder(day: date) -> str:
    return f"{day:%Y}/{day:%m}/{day:%d}"


def market_file_name(root: str, landed_local: datetime) -> str:
    """Actant's market-data file name: ``GE_XCME.<root>_YYYYMMDD_HHMMSS.csv`` (Chicago time of landing)."""
    return f"GE_{EXCHANGE}.{root}_{landed_local:%Y%m%d_%H%M%S}.csv"


def _landing_offset(root: str, day: date) -> timedelta:
    """How long after each round mark the root's file lands: a fixed 5-55 s per root and day."""
    return timedelta(seconds=5 + zlib.crc32(f"landing|{root}|{day.isoformat()}".encode()) % 51)


def _market_rows(
    root: str, day: date, step: int, at: datetime, style: TimeStyle, price: Decimal, volume: int
) -> list[list[str]]:
    """The future's quote and its options' at one mark (the options priced off the future)."""
    product = PRODUCTS[root]
    rng = _rng("actant-quote", root, day.isoformat(), step)
    rows = []
    spread_ticks = 1
    bid = price - product.tick * rng.randint(0, spread_ticks)
    quote_time = at - timedelta(milliseconds=rng.randint(50, 2_000))
    rows.append(
        [
            root,
            _text(price),
            _text(bid),
            _text(bid + product.tick),
            str(volume),
            _format_time(quote_time, style),
            EXCHANGE,
        ]
    )
    expiry = option_expiry(day)
    for index, (kind, strike) in enumerate(product.strikes):
        premium, *_ = _bachelier(kind, float(price), float(strike), product.normal_vol, _years_to(expiry, at))
        option_price = _round_to(premium, product.option_tick, minimum=product.option_tick)
        option_bid = max(option_price - product.option_tick, product.option_tick)
        option_volume = volume // (7 + 5 * index)
        option_time = quote_time - timedelta(milliseconds=rng.randint(1, 900))
        instrument = f"{root} {expiry:%Y-%m} {kind}{_text(strike)}"
        rows.append(
            [
                instrument,
                _text(option_price),
                _text(option_bid),
                _text(option_bid + 2 * product.option_tick),
                str(option_volume),
                _format_time(option_time, style),
                EXCHANGE,
            ]
        )
    return rows


def sample_market_files(
    day: date = SAMPLE_DESK_DAY,
    *,
    every: timedelta = timedelta(minutes=5),
    start: time = SESSION_START,
    end: time = SESSION_END,
    roots: Iterable[str] = tuple(PRODUCTS),
    time_style: TimeStyle = "local",
) -> list[tuple[str, bytes]]:
    """The day's market-data files in landing order: one per root at each mark from ``start`` to ``end``
    (Chicago), landing 5-55 s after the mark (a fixed offset per root and day).

    The futures' walk advances in 5-minute steps, so any ``every`` (a multiple of 5 minutes keeps the prices
    of the default cadence) samples the same path. Raises ``KeyError`` for an unknown root.
    """
    roots = tuple(roots)
    for root in roots:
        if root not in PRODUCTS:
            raise KeyError(f"unknown sample root {root!r}: choose from {', '.join(PRODUCTS)}")
    marks = _session_marks(day, every, start, end)
    day_start = datetime.combine(day, SESSION_START)
    steps = len(_session_marks(day, timedelta(minutes=5), SESSION_START, SESSION_END))
    landed: list[tuple[datetime, str, bytes]] = []
    for root in roots:
        path = _futures_path(root, day, steps)
        for mark in marks:
            step = min(max(int((mark - day_start) / timedelta(minutes=5)), 0), steps - 1)
            at = mark + _landing_offset(root, day)
            rows = _market_rows(root, day, step, at, time_style, *path[step])
            key = f"market-data/{_day_folder(day)}/{market_file_name(root, at)}"
            landed.append((at, key, _csv(MARKET_HEADER, rows)))
    landed.sort(key=lambda item: (item[0], item[1]))
    return [(key, body) for _, key, body in landed]


def sample_market_file(
    root: str = "ZN", day: date = SAMPLE_DESK_DAY, at: time = time(10, 39), *, time_style: TimeStyle = "local"
) -> tuple[str, bytes]:
    """One market-data file of ``root``: the one of the 5-minute mark at or before ``at`` (Chicago)."""
    mark = datetime.combine(day, at).replace(second=0, microsecond=0)
    mark -= timedelta(minutes=mark.minute % 5)
    files = sample_market_files(day, start=mark.time(), end=mark.time(), roots=(root,), time_style=time_style)
    return files[0]


def sample_large_market_file(
    rows: int = 10_000, day: date = SAMPLE_DESK_DAY, *, time_style: TimeStyle = "local"
) -> tuple[str, bytes]:
    """One market-data file of ``rows`` rows (benchmarks): a ladder of ES and ZN option strikes, each quoted
    once, all within the second before 12:00:00 Chicago."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    at = datetime.combine(day, time(12, 0))
    expiry = option_expiry(day)
    ladders = (
        ("ES", Decimal(5), Decimal(4000), Decimal("0.25")),
        ("ZN", Decimal("0.25"), Decimal(90), Decimal("0.015625")),
    )
    body = []
    rng = _rng("actant-large", day.isoformat(), rows)
    for index in range(rows):
        root, increment, lowest, tick = ladders[index % 2]
        strike = lowest + increment * (index // 4)
        kind = "C" if index % 4 < 2 else "P"
        price = tick * rng.randint(1, 4_000)
        quoted = at - timedelta(microseconds=1_000 * (index % 1_000))
        body.append(
            [
                f"{root} {expiry:%Y-%m} {kind}{_text(strike)}",
                _text(price),
                _text(price - tick),
                _text(price + tick),
                str(rng.randint(0, 5_000)),
                _format_time(quoted, time_style),
                EXCHANGE,
            ]
        )
    key = f"market-data/{_day_folder(day)}/{market_file_name('ES', at)}"
    return key, _csv(MARKET_HEADER, body)


def _previous_weekday(day: date) -> date:
    previous = day - timedelta(days=1)
    while previous.weekday() >= 5:
        previous -= timedelta(days=1)
    return previous


def _positions(day: date) -> list[tuple[str, str, int]]:
    """(account, instrument, position) at the end of ``day``: each account holds a seeded few instruments."""
    held = []
    for account in SAMPLE_ACCOUNTS:
        for instruments in sample_instruments(day).values():
            for instrument in instruments:
                rng = _rng("actant-position", account, instrument, day.isoformat())
                if rng.random() < 0.6:
                    size = rng.randint(1, 60) * rng.choice((-1, 1))
                    held.append((account, instrument, size))
    return held


def _settlements(day: date) -> dict[str, tuple[Decimal, tuple[float, ...]]]:
    """Each instrument's settlement (the day's last price) and its per-contract greeks at the close."""
    steps = len(_session_marks(day, timedelta(minutes=5), SESSION_START, SESSION_END))
    close = datetime.combine(day, SESSION_END)
    expiry = option_expiry(day)
    settled: dict[str, tuple[Decimal, tuple[float, ...]]] = {}
    for root, product in PRODUCTS.items():
        price, _ = _futures_path(root, day, steps)[-1]
        settled[root] = (price, (1.0, 0.0, 0.0, 0.0))
        for kind, strike in product.strikes:
            premium, *greeks = _bachelier(
                kind, float(price), float(strike), product.normal_vol, _years_to(expiry, close)
            )
            option_price = _round_to(premium, product.option_tick, minimum=product.option_tick)
            settled[f"{root} {expiry:%Y-%m} {kind}{_text(strike)}"] = (option_price, tuple(greeks))
    return settled


def _greek(value: float, places: str = "0.000001") -> str:
    if value == 0:
        value = 0.0  # no "-0" for a flat greek of a short position
    return _text(Decimal(repr(value)).quantize(Decimal(places)))


def sample_eod_file(day: date = SAMPLE_DESK_DAY, *, with_date_column: bool = True) -> tuple[str, bytes]:
    """``eod/YYYY/MM/DD/actant_eod_YYYYMMDD.csv``: every account's positions at the close of ``day`` with the
    settlement price and position greeks (delta in contracts, gamma per point, vega per point of normal vol,
    theta per calendar day). ``with_date_column=False`` leaves the ``date`` column out (the day is then only
    in the file's name)."""
    settled = _settlements(day)
    rows = []
    for account, instrument, position in _positions(day):
        price, (delta, gamma, vega, theta) = settled[instrument]
        row = [
            day.isoformat(),
            instrument,
            account,
            str(position),
            _text(price),
            _greek(delta * position),
            _greek(gamma * position, "0.00000001"),
            _greek(vega * position),
            _greek(theta * position),
        ]
        rows.append(row if with_date_column else row[1:])
    header = EOD_HEADER if with_date_column else EOD_HEADER[1:]
    return f"eod/{_day_folder(day)}/actant_eod_{day:%Y%m%d}.csv", _csv(header, rows)


def sample_sod_file(day: date = SAMPLE_DESK_DAY) -> tuple[str, bytes]:
    """``sod/YYYY/MM/DD/actant_sod_YYYYMMDD.csv``: each account's positions at the start of ``day`` (those of
    the previous weekday's EOD file) with an average price near that day's settlement."""
    previous = _previous_weekday(day)
    settled = _settlements(previous)
    rows = []
    for account, instrument, position in _positions(previous):
        price = settled[instrument][0]
        product = PRODUCTS[instrument.split(" ")[0]]
        is_option = " " in instrument
        tick = product.option_tick if is_option else product.tick
        average = price + tick * _rng("actant-avg-price", account, instrument, day.isoformat()).randint(-40, 40)
        if is_option:
            average = max(average, tick)  # an option never traded below its minimum tick
        rows.append([day.isoformat(), instrument, account, str(position), _text(average)])
    return f"sod/{_day_folder(day)}/actant_sod_{day:%Y%m%d}.csv", _csv(SOD_HEADER, rows)


def sample_desk_day(day: date = SAMPLE_DESK_DAY, *, every: timedelta = timedelta(minutes=5)) -> list[tuple[str, bytes]]:
    """A whole day in landing order: the SOD file (06:00), the market-data files, the EOD file (16:30)."""
    return [sample_sod_file(day), *sample_market_files(day, every=every), sample_eod_file(day)]


def sample_malformed_file(kind: str, day: date = SAMPLE_DESK_DAY) -> tuple[str, bytes]:
    """A market-data file a loader must refuse whole, of one of :data:`MALFORMED_KINDS`:

    ``missing_column`` (no ``price`` column), ``nan_price`` (a ``NaN`` price on line 3), ``bad_timestamp``
    (``2026-11-20 25:61:00``-like on line 3), ``empty`` (zero bytes), ``negative_volume`` (line 3),
    ``conflicting_duplicate`` (line 5 repeats line 2's instrument and time with another price), ``not_utf8``
    (a Latin-1 byte on line 3), ``header_only``. All other rows are valid, so only the named fault explains a
    refusal. Keys land after the close (16:00:0N Chicago), never on a good file's key.
    """
    if kind not in MALFORMED_KINDS:
        raise KeyError(f"unknown malformed kind {kind!r}: choose from {', '.join(MALFORMED_KINDS)}")
    at = datetime.combine(day, time(16, 0, MALFORMED_KINDS.index(kind)))
    key = f"market-data/{_day_folder(day)}/{market_file_name('ZN', at)}"
    stamp = _format_time(at - timedelta(seconds=1), "local")
    good = [
        ["ZN", "110.515625", "110.5", "110.515625", "120345", stamp, EXCHANGE],
        ["ZF", "108.2578125", "108.25", "108.2578125", "80211", stamp, EXCHANGE],
        ["ZB", "117.5", "117.46875", "117.5", "30555", stamp, EXCHANGE],
    ]
    if kind == "empty":
        return key, b""
    if kind == "header_only":
        return key, _csv(MARKET_HEADER, [])
    if kind == "missing_column":
        return key, _csv(
            [c for c in MARKET_HEADER if c != "price"], [[c for i, c in enumerate(r) if i != 1] for r in good]
        )
    rows = [list(row) for row in good]
    if kind == "nan_price":
        rows[1][1] = "NaN"
    elif kind == "bad_timestamp":
        rows[1][5] = f"{day.isoformat()} 25:61:00"
    elif kind == "negative_volume":
        rows[1][4] = "-80211"
    elif kind == "conflicting_duplicate":
        rows.append(["ZN", "110.53125", "110.515625", "110.53125", "120345", stamp, EXCHANGE])
    elif kind == "not_utf8":
        rows[1][6] = "XCM\u00c9"
        return key, "\n".join(",".join(row) for row in [list(MARKET_HEADER), *rows]).encode("latin-1") + b"\n"
    return key, _csv(MARKET_HEADER, rows)


def sample_malformed_files(day: date = SAMPLE_DESK_DAY) -> dict[str, tuple[str, bytes]]:
    """Every :data:`MALFORMED_KINDS` file of ``day``, by kind."""
    return {kind: sample_malformed_file(kind, day) for kind in MALFORMED_KINDS}


def utc(local: datetime) -> datetime:
    """A naive Chicago time of the samples as aware UTC (for tests comparing parsed timestamps)."""
    return local.replace(tzinfo=_CHICAGO).astimezone(UTC)
