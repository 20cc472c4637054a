"""The online forecast endpoint: champion and challenger from the model registry over HTTP. Plain, no Dagster.

Routes (every answer is JSON; every forecast answer and every error of a forecast route carries ``variant`` and
``model_version``)::

    GET  /forecast/{ticker}   the next session's forecast from the ticker's latest stored features
                              (``forecasting/features/<TICKER>.parquet``)
    POST /predict             {"ticker": "AMZN", "prices": [{"day": "2026-11-27", "open": .., "high": .., "low": ..,
                              "close": .., "volume": ..}, ...]}: the session after the window's last day
    GET  /health              champion and challenger versions, when they were loaded, ok or the problems

A forecast answer is ``{"ticker", "origin_day", "target_day", "forecast", "variant", "model_version",
"model_kind"}``; an error is ``{"error", "variant", "model_version"}`` with 400 (not JSON), 404 (no features, or a
ticker the model version does not forecast), 413 (body over :data:`MAX_BODY_BYTES`) or 422 (anything else wrong
with the input). Input never causes a 5xx: every check is explicit, and the model only sees validated numbers.

The window of ``POST /predict``. Exactly :func:`ForecastService.window_rows` daily prices, oldest first, on
consecutive NYSE sessions: the forecaster's ``history_rows`` (the complete feature rows one forecast reads: 20
for the default LSTM, 1 for the naive forecast) plus :data:`FEATURE_WARMUP` sessions, the history the features of
a row need before they are complete (the 20-session volatility reads 20 log returns, i.e. 21 prices). When a
challenger is active for the ticker the window is the longer of the two variants' (the same request must be
servable by whichever variant the draw picks): 40 for an LSTM with a 20-session window, 21 for the naive forecast
alone. Every 422 about the length states the number and how it is made up.

A/B split. Each forecast request draws once from a ``random.Random`` (seeded for tests): the challenger with
probability ``challenger_weight`` when a challenger is configured, loaded and not the champion itself, the
champion otherwise. A challenger that does not forecast the requested ticker leaves the request to the champion
(and the answer says ``"champion"``). The variant and version are in the answer and in the one log line per
request (logger ``ops_assets.forecasting.endpoint``: method, path, status, variant, version, milliseconds).

Reload without restart. At most every ``reload_seconds`` a request re-reads ``champion.json`` (a cheap read; the
request that finds the check due does it, concurrent ones go on with the models they have). When the champion
version changed, its bundle is loaded and swapped in atomically; a failed load is logged, reported by
``/health`` and leaves the old champion serving; the same failed version is retried at most every
:data:`FAILED_LOAD_RETRY_SECONDS`. The stored features are cached per ticker for the same ``reload_seconds``
(they change once a day). ``/health`` answers 200 with ``"ok": false`` and the problems when degraded (still
serving), so a load balancer does not replace a task that serves the previous champion with one that cannot start.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ops_assets.forecasting import trading_calendar
from ops_assets.forecasting.bundle import ForecasterBundle, UnknownTickerError, load_version
from ops_assets.forecasting.features import price_features
from ops_assets.forecasting.keys import features_key
from ops_assets.forecasting.model import Forecaster
from ops_assets.forecasting.registry import BlobStore, ModelRegistry
from ops_assets.forecasting.storage import frame_from_parquet
from resources.object_store import ObjectNotFoundError

logger = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
FEATURE_WARMUP = 20
"""Sessions of prices before the first complete feature row (:func:`~ops_assets.forecasting.features.price_features`:
the 20-session volatility of log returns needs 21 prices, so row 20, counting from 0, is the first complete one)."""
MAX_BODY_BYTES = 256 * 1024
"""A window of 40 sessions is about 4 KB of JSON."""
FAILED_LOAD_RETRY_SECONDS = 60.0
PRICE_FIELDS = ("open", "high", "low", "close")
TICKER_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9.\-]{0,14}")
DAY_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
OHLC_TOLERANCE = 1e-6
"""Relative slack for open/close against high/low (float round trips of split-adjusted prices)."""


class InputError(Exception):
    """Something about the request is wrong: answered with ``status`` and ``message``, never a 5xx."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class LoadedModel:
    version: int
    bundle: ForecasterBundle
    loaded_at: str
    """UTC, ISO 8601."""

    @property
    def kind(self) -> str:
        return self.bundle.kind

    def forecaster(self, ticker: str) -> Forecaster | None:
        try:
            return self.bundle.forecaster(ticker)
        except UnknownTickerError:
            return None


@dataclass(frozen=True)
class ServingState:
    """What serves now; replaced as a whole on reload, so a request always sees a consistent pair."""

    champion: LoadedModel
    challenger: LoadedModel | None
    """``None`` when none is configured, it failed to load, or it is the champion itself."""


@dataclass(frozen=True)
class Forecast:
    ticker: str
    origin_day: date
    target_day: date
    forecast: float
    variant: str
    model_version: int
    model_kind: str

    def to_json(self) -> dict[str, Any]:
        return {
            "ticker": self.ticker,
            "origin_day": self.origin_day.isoformat(),
            "target_day": self.target_day.isoformat(),
            "forecast": self.forecast,
            "variant": self.variant,
            "model_version": self.model_version,
            "model_kind": self.model_kind,
        }


@dataclass
class Routed:
    """The variant a request was given (set before the input is looked at, so errors carry it too)."""

    variant: str
    model: LoadedModel
    state: ServingState


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ForecastService:
    """Everything but HTTP: the models, the A/B draw, reloads, stored features and forecasts.

    The benchmark's in-process reference calls the same methods the routes call.
    """

    def __init__(
        self,
        store: BlobStore,
        *,
        challenger_version: int | None,
        challenger_weight: float,
        reload_seconds: float = 30,
        random_seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(challenger_weight, bool) or not (0.0 <= float(challenger_weight) <= 1.0):
            raise ValueError(f"challenger_weight must be between 0 and 1, got {challenger_weight!r}")
        if not (math.isfinite(float(reload_seconds)) and reload_seconds >= 0):
            raise ValueError(f"reload_seconds must be a finite number >= 0, got {reload_seconds!r}")
        self.store = store
        self.registry = ModelRegistry(store)
        self.challenger_version = challenger_version
        self.challenger_weight = float(challenger_weight)
        self.reload_seconds = float(reload_seconds)
        self._clock = clock
        self._random = random.Random(random_seed)
        self._draw_lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._predict_lock = threading.Lock()
        """model.py sets torch's global thread count and determinism around each predict: one at a time."""
        self._features: dict[str, tuple[float, pd.DataFrame]] = {}
        self._problems: dict[str, str] = {}
        self._failed: dict[int, float] = {}
        """Versions whose load failed, with when (clock): retried at most every FAILED_LOAD_RETRY_SECONDS."""

        champion_version = self.registry.champion()
        champion = self._load(champion_version)
        if champion is None:
            raise RuntimeError(f"the champion, version {champion_version}, could not be loaded (see the log)")
        self._challenger: LoadedModel | None = None
        if challenger_version is not None:
            if challenger_version == champion_version:
                self._challenger = champion
            else:
                self._challenger = self._load(challenger_version)
                if self._challenger is None:
                    self._failed[challenger_version] = clock()
                    self._problems["challenger"] = (
                        f"the challenger, version {challenger_version}, could not be loaded: all traffic goes to "
                        "the champion"
                    )
        self._state = self._serving(champion)
        self._last_checked = _utc_now()
        self._next_check = clock() + self.reload_seconds
        logger.info(
            "serving champion version %d (%s), challenger %s at weight %.3f",
            champion.version,
            champion.kind,
            "none" if self._state.challenger is None else f"version {self._state.challenger.version}",
            self.challenger_weight,
        )

    # -- models ---------------------------------------------------------------------------------------------------

    @property
    def state(self) -> ServingState:
        return self._state

    def _load(self, version: int) -> LoadedModel | None:
        try:
            bundle = load_version(self.registry, version)
        except Exception as error:
            # A missing object needs no traceback; a corrupt or incompatible bundle does.
            missing = isinstance(error, ObjectNotFoundError)
            logger.error(
                "model version %d could not be loaded: %s%s",
                version,
                "no such object " if missing else f"{type(error).__name__}: ",
                error,
                exc_info=not missing,
            )
            return None
        return LoadedModel(version, bundle, _utc_now())

    def _serving(self, champion: LoadedModel) -> ServingState:
        challenger = self._challenger
        if challenger is not None and challenger.version == champion.version:
            challenger = None
        return ServingState(champion, challenger)

    def _retry_due(self, version: int, now: float) -> bool:
        failed_at = self._failed.get(version)
        return failed_at is None or now - failed_at >= max(self.reload_seconds, FAILED_LOAD_RETRY_SECONDS)

    def maybe_reload(self) -> None:
        """Re-read ``champion.json`` when ``reload_seconds`` have passed since the last look (module doc)."""
        now = self._clock()
        if now < self._next_check or not self._reload_lock.acquire(blocking=False):
            return
        try:
            if now < self._next_check:
                return
            self._next_check = now + self.reload_seconds
            self._last_checked = _utc_now()
            self._reload_challenger(now)
            self._reload_champion(now)
        finally:
            self._reload_lock.release()

    def _reload_challenger(self, now: float) -> None:
        version = self.challenger_version
        if version is None or self._challenger is not None or not self._retry_due(version, now):
            return
        loaded = self._load(version)
        if loaded is None:
            self._failed[version] = now
            return
        self._failed.pop(version, None)
        self._challenger = loaded
        self._problems.pop("challenger", None)
        self._state = self._serving(self._state.champion)
        logger.info("challenger version %d loaded", version)

    def _reload_champion(self, now: float) -> None:
        try:
            version = self.registry.champion()
        except Exception as error:
            logger.exception("could not read the champion from the registry: %s", error)
            self._problems["registry"] = f"could not read champion.json: {error}"
            return
        self._problems.pop("registry", None)
        current = self._state.champion
        if version == current.version:
            self._problems.pop("champion", None)
            return
        if not self._retry_due(version, now):
            return
        challenger = self._challenger
        loaded = challenger if challenger is not None and challenger.version == version else self._load(version)
        if loaded is None:
            self._failed[version] = now
            self._problems["champion"] = (
                f"champion.json names version {version}, which could not be loaded; still serving version "
                f"{current.version}"
            )
            logger.error("champion version %d could not be loaded: still serving version %d", version, current.version)
            return
        self._failed.pop(version, None)
        self._problems.pop("champion", None)
        self._state = self._serving(loaded)
        logger.info("champion changed from version %d to version %d: reloaded", current.version, version)

    def route(self) -> Routed:
        """The draw: challenger with probability ``challenger_weight`` when one is active, else the champion."""
        state = self._state
        with self._draw_lock:
            pick_challenger = self._random.random() < self.challenger_weight
        if pick_challenger and state.challenger is not None:
            return Routed(CHALLENGER, state.challenger, state)
        return Routed(CHAMPION, state.champion, state)

    def forecaster_for(self, routed: Routed, ticker: str) -> Forecaster:
        """The drawn variant's forecaster for ``ticker`` (the champion's when the challenger lacks it), or 404."""
        forecaster = routed.model.forecaster(ticker)
        if forecaster is None and routed.variant == CHALLENGER:
            routed.variant, routed.model = CHAMPION, routed.state.champion
            forecaster = routed.model.forecaster(ticker)
        if forecaster is None:
            raise InputError(
                404, f"unknown ticker {ticker}: model version {routed.model.version} has no forecaster for it"
            )
        return forecaster

    def window_rows(self, state: ServingState, ticker: str) -> tuple[int, int]:
        """(prices ``POST /predict`` needs for ``ticker``, the model rows within them): module doc."""
        rows = [m.forecaster(ticker) for m in (state.champion, state.challenger) if m is not None]
        history = max(f.history_rows for f in rows if f is not None)
        return history + FEATURE_WARMUP, history

    # -- forecasts ------------------------------------------------------------------------------------------------

    def latest_features(self, ticker: str) -> pd.DataFrame:
        """The ticker's stored features (cached for ``reload_seconds``), or 404."""
        now = self._clock()
        cached = self._features.get(ticker)
        if cached is not None and now - cached[0] < self.reload_seconds:
            return cached[1]
        try:
            data = self.store.get_bytes(features_key(ticker))
        except ObjectNotFoundError:
            raise InputError(404, f"unknown ticker {ticker}: no stored features") from None
        frame = frame_from_parquet(data).sort_values("day").reset_index(drop=True)
        self._features[ticker] = (now, frame)
        return frame

    def _predict(self, forecaster: Forecaster, features: pd.DataFrame) -> pd.DataFrame:
        with self._predict_lock, np.errstate(all="ignore"):
            return forecaster.predict(features)

    def forecast_latest(self, routed: Routed, ticker: str) -> Forecast:
        """``GET /forecast``: from the latest stored session the model can forecast from (normally the last)."""
        forecaster = self.forecaster_for(routed, ticker)
        features = self.latest_features(ticker)
        if features.empty:
            raise InputError(404, f"no forecast for {ticker}: its stored features are empty")
        # The last history_rows rows are one window; only when they are incomplete look further back.
        predictions = self._predict(forecaster, features.iloc[-forecaster.history_rows :])
        if predictions.empty or predictions["origin_day"].iloc[-1] != features["day"].iloc[-1]:
            predictions = self._predict(forecaster, features.iloc[-(4 * forecaster.history_rows + FEATURE_WARMUP) :])
        if predictions.empty:
            raise InputError(404, f"no forecast for {ticker}: its latest stored features have no complete window")
        return self._answer(routed, ticker, predictions.iloc[-1])

    def forecast_window(self, routed: Routed, payload: Any) -> Forecast:
        """``POST /predict`` on a parsed JSON body (validated here: module doc)."""
        if not isinstance(payload, dict):
            raise InputError(422, f"the body must be a JSON object with 'ticker' and 'prices', got {_kind(payload)}")
        missing = [name for name in ("ticker", "prices") if name not in payload]
        if missing:
            raise InputError(422, f"missing field(s): {', '.join(missing)}")
        ticker = parse_ticker(payload["ticker"], status=422)
        forecaster = self.forecaster_for(routed, ticker)
        prices = payload["prices"]
        if not isinstance(prices, list):
            raise InputError(422, f"'prices' must be a list of daily prices, oldest first, got {_kind(prices)}")
        needed, history = self.window_rows(routed.state, ticker)
        if len(prices) != needed:
            raise InputError(
                422,
                f"'prices' must hold exactly {needed} daily prices for {ticker}, oldest first, on consecutive NYSE "
                f"sessions ({history} complete feature row{'s' * (history != 1)} the model reads + {FEATURE_WARMUP} "
                f"sessions of feature warm-up); got {len(prices)}",
            )
        frame = validate_prices(prices)
        with np.errstate(all="ignore"):
            features = price_features(frame)
        try:
            predictions = self._predict(forecaster, features.iloc[-forecaster.history_rows :])
        except ValueError as error:  # e.g. a last day at the end of the trading calendar
            raise InputError(422, f"no forecast from this window: {error}") from None
        last_day = frame["day"].iloc[-1]
        if predictions.empty or predictions["origin_day"].iloc[-1] != last_day:
            raise InputError(
                422,
                f"no forecast from this window: its features are incomplete at {last_day.isoformat()} "
                "(e.g. the same volume on 20 sessions in a row)",
            )
        return self._answer(routed, ticker, predictions.iloc[-1])

    def _answer(self, routed: Routed, ticker: str, row: pd.Series) -> Forecast:
        value = float(row["forecast"])
        if not math.isfinite(value):
            raise InputError(422, f"no forecast for {ticker}: the model's result is not a finite number")
        return Forecast(
            ticker=ticker,
            origin_day=_as_date(row["origin_day"]),
            target_day=_as_date(row["target_day"]),
            forecast=value,
            variant=routed.variant,
            model_version=routed.model.version,
            model_kind=routed.model.kind,
        )

    def health(self) -> dict[str, Any]:
        state = self._state
        problems = list(self._problems.values())
        challenger = self._challenger
        return {
            "ok": not problems,
            "status": "ok" if not problems else "degraded",
            "variant": None,
            "model_version": state.champion.version,
            "champion_version": state.champion.version,
            "champion_kind": state.champion.kind,
            "challenger_version": self.challenger_version,
            "challenger_kind": challenger.kind if challenger is not None else None,
            "challenger_active": state.challenger is not None,
            "challenger_weight": self.challenger_weight,
            "loaded_at": {
                CHAMPION: state.champion.loaded_at,
                CHALLENGER: challenger.loaded_at if challenger is not None else None,
            },
            "last_reload_check": self._last_checked,
            "reload_seconds": self.reload_seconds,
            "problems": problems,
        }


# -- input ------------------------------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def _as_date(value: Any) -> date:
    return value.date() if isinstance(value, pd.Timestamp | datetime) else value


def parse_ticker(value: Any, *, status: int) -> str:
    if not isinstance(value, str):
        raise InputError(status, f"'ticker' must be a string, got {_kind(value)}")
    ticker = value.upper()
    if not TICKER_PATTERN.fullmatch(ticker):
        raise InputError(status, f"invalid ticker {value[:40]!r}: 1 to 15 letters, digits, '.' or '-'")
    return ticker


def _number(row: dict[str, Any], name: str, where: str, *, positive: bool) -> float:
    if name not in row:
        raise InputError(422, f"{where} lacks '{name}'")
    value = row[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(422, f"{where}.{name} must be a number, got {_kind(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise InputError(422, f"{where}.{name} is out of range") from None
    if not math.isfinite(number):
        raise InputError(422, f"{where}.{name} must be a finite number, got {number}")
    if positive and number <= 0:
        raise InputError(422, f"{where}.{name} must be positive, got {number}")
    if number < 0:
        raise InputError(422, f"{where}.{name} must not be negative, got {number}")
    return number


def _day(row: dict[str, Any], where: str) -> date:
    if "day" not in row:
        raise InputError(422, f"{where} lacks 'day'")
    value = row["day"]
    if not isinstance(value, str) or not DAY_PATTERN.fullmatch(value):
        raise InputError(422, f"{where}.day must be a date as 'YYYY-MM-DD', got {str(value)[:40]!r}")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InputError(422, f"{where}.day {value!r} is not a valid date") from None
    if not trading_calendar.CALENDAR_START <= day <= trading_calendar.CALENDAR_END:
        raise InputError(
            422,
            f"{where}.day {value} is outside the trading calendar ({trading_calendar.CALENDAR_START} to "
            f"{trading_calendar.CALENDAR_END})",
        )
    if not trading_calendar.is_session(day):
        raise InputError(422, f"{where}.day {value} is not an NYSE session")
    return day


def validate_prices(prices: list[Any]) -> pd.DataFrame:
    """The window as a price frame, or the first thing wrong with it (422)."""
    rows = []
    for index, row in enumerate(prices):
        where = f"prices[{index}]"
        if not isinstance(row, dict):
            raise InputError(422, f"{where} must be an object with day, open, high, low, close, volume")
        day = _day(row, where)
        values = {name: _number(row, name, where, positive=True) for name in PRICE_FIELDS}
        volume = _number(row, "volume", where, positive=False)
        high, low = values["high"], values["low"]
        if high < low:
            raise InputError(422, f"{where}: high {high} is below low {low}")
        for name in ("open", "close"):
            if not low * (1 - OHLC_TOLERANCE) <= values[name] <= high * (1 + OHLC_TOLERANCE):
                raise InputError(422, f"{where}: {name} {values[name]} is outside the day's range [{low}, {high}]")
        rows.append({"day": day, **values, "volume": volume})
    for index in range(1, len(rows)):
        before, day = rows[index - 1]["day"], rows[index]["day"]
        if day == before:
            raise InputError(422, f"prices[{index}].day {day} is a duplicate of prices[{index - 1}].day")
        if day < before:
            raise InputError(422, f"prices must be oldest first: prices[{index}].day {day} comes before {before}")
    if rows:
        first, last = rows[0]["day"], rows[-1]["day"]
        sessions = trading_calendar.sessions(first, last)
        if len(sessions) != len(rows):
            gap = next(s for s, r in zip(sessions, rows, strict=False) if s != r["day"])
            raise InputError(
                422,
                f"prices must be on consecutive NYSE sessions: {len(sessions) - len(rows)} session(s) missing "
                f"between {first} and {last} (the first is {gap})",
            )
    return pd.DataFrame(rows, columns=["day", *PRICE_FIELDS, "volume"])


# -- HTTP -------------------------------------------------------------------------------------------------------


def _error(status: int, message: str, routed: Routed | None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {
            "error": message,
            "variant": routed.variant if routed else None,
            "model_version": routed.model.version if routed else None,
        },
        status_code=status,
        headers=headers,
    )


def _mark(request: Request, routed: Routed | None) -> None:
    """What the log line needs (read by :class:`RequestLog` from the scope's state)."""
    if routed is not None:
        request.state.variant = routed.variant
        request.state.model_version = routed.model.version


class RequestLog:
    """One log line per HTTP request: method, path, status, variant, version, milliseconds."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            logger.info(
                "%s %s %d variant=%s version=%s ms=%.2f",
                scope.get("method", "-"),
                scope.get("path", "-"),
                status,
                state.get("variant", "-"),
                state.get("model_version", "-"),
                (time.perf_counter() - started) * 1000,
            )


def create_app(
    store: BlobStore,
    *,
    challenger_version: int | None,
    challenger_weight: float,
    reload_seconds: float = 30,
    random_seed: int | None = None,
) -> Starlette:
    """The endpoint over the registry in ``store`` (module doc). Raises when the champion cannot be loaded."""
    service = ForecastService(
        store,
        challenger_version=challenger_version,
        challenger_weight=challenger_weight,
        reload_seconds=reload_seconds,
        random_seed=random_seed,
    )

    def get_forecast(request: Request) -> Response:
        service.maybe_reload()
        routed = service.route()
        try:
            ticker = parse_ticker(request.path_params["ticker"], status=404)
            return JSONResponse(service.forecast_latest(routed, ticker).to_json())
        except InputError as error:
            return _error(error.status, error.message, routed)
        finally:
            _mark(request, routed)

    def predict_body(request: Request, body: bytes) -> Response:
        service.maybe_reload()
        routed = service.route()
        try:
            return JSONResponse(service.forecast_window(routed, _parse_json(body)).to_json())
        except InputError as error:
            return _error(error.status, error.message, routed)
        finally:
            _mark(request, routed)

    async def predict(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return _error(413, f"the body is larger than {MAX_BODY_BYTES} bytes", None)
        return await run_in_threadpool(predict_body, request, bytes(body))

    def health(request: Request) -> Response:
        service.maybe_reload()
        body = service.health()
        request.state.model_version = body["champion_version"]
        return JSONResponse(body)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _error(exc.status_code, str(exc.detail), None, dict(exc.headers or {}))

    async def server_error(request: Request, exc: Exception) -> Response:
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, "internal error (logged)", None)

    app = Starlette(
        routes=[
            Route("/forecast/{ticker}", get_forecast, methods=["GET"]),
            Route("/predict", predict, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ],
        middleware=[Middleware(RequestLog)],
        exception_handlers={HTTPException: http_error, 500: server_error},
    )
    app.state.service = service
    return app


def _parse_json(body: bytes) -> Any:
    if not body.strip():
        raise InputError(400, 'the body is empty: send JSON {"ticker": ..., "prices": [...]}')
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InputError(400, f"the body is not valid JSON: {str(error)[:200]}") from None
