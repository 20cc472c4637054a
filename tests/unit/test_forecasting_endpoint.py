"""The online forecast endpoint on a local object store: forecasts, the window rule, A/B split, bad input, reload."""

from __future__ import annotations

import json
import logging
import random
import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from starlette.testclient import TestClient

from ops_assets.forecasting import trading_calendar
from ops_assets.forecasting.bundle import ForecasterBundle
from ops_assets.forecasting.endpoint import FEATURE_WARMUP, create_app
from ops_assets.forecasting.features import FEATURE_COLUMNS, price_features
from ops_assets.forecasting.keys import features_key
from ops_assets.forecasting.model import LstmForecaster, ModelConfig, fit
from ops_assets.forecasting.prices import bars_frame
from ops_assets.forecasting.registry import ModelCard, ModelRegistry
from ops_assets.forecasting.storage import frame_to_parquet
from resources.object_store import LocalObjectStore
from resources.sample_sources.prices import sample_daily_history

TICKER = "AMZN"
LAST_DAY = date(2026, 11, 27)
NEXT_SESSION = date(2026, 11, 30)


@dataclass(frozen=True)
class Fixture:
    root: Path
    prices: pd.DataFrame
    features: pd.DataFrame
    model: LstmForecaster


def card(kind: str) -> ModelCard:
    return ModelCard(
        version=-1,
        kind=kind,
        config={"window": 20, "hidden_size": 8, "epochs": 2},
        data_start="2024-01-02",
        data_end=LAST_DAY.isoformat(),
        data_hash="test",
        metrics={"mase": 0.99},
        evaluation_window="2026-08-31..2026-11-27",
        code_version="test",
        created_at="2026-11-29T00:00:00+00:00",
        tickers=[TICKER],
    )


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    """A store with AMZN's features, the naive champion (version 0) and one tiny LSTM (version 1)."""
    root = tmp_path_factory.mktemp("endpoint") / "objects"
    store = LocalObjectStore(root=str(root))
    prices = bars_frame(sample_daily_history(TICKER, date(2024, 1, 2), LAST_DAY).bars)
    features = price_features(prices)
    store.put_bytes(features_key(TICKER), frame_to_parquet(features))
    model = fit(features, ModelConfig(epochs=2, hidden_size=8), train_end=LAST_DAY)
    registry = ModelRegistry(store)
    assert (
        registry.register(ForecasterBundle(kind="lstm", forecasters={TICKER: model}).to_bytes(), card("lstm")).version
        == 1
    )
    return Fixture(root, prices, features, model)


@pytest.fixture
def fx(template: Fixture, tmp_path: Path) -> Fixture:
    """A private copy of the store (tests promote and register)."""
    root = tmp_path / "objects"
    shutil.copytree(template.root, root)
    return Fixture(root, template.prices, template.features, template.model)


def store_of(fx: Fixture) -> LocalObjectStore:
    return LocalObjectStore(root=str(fx.root))


def client(fx: Fixture, **kwargs: Any) -> TestClient:
    options = {"challenger_version": None, "challenger_weight": 0.0, "random_seed": 7, **kwargs}
    return TestClient(create_app(store_of(fx), **options))


def window(fx: Fixture, rows: int) -> list[dict[str, Any]]:
    tail = fx.prices.tail(rows)
    return [
        {"day": r.day.isoformat(), "open": r.open, "high": r.high, "low": r.low, "close": r.close, "volume": r.volume}
        for r in tail.itertuples()
    ]


def test_the_feature_warmup_is_what_price_features_needs(fx: Fixture) -> None:
    complete = price_features(fx.prices.head(60)).dropna(subset=FEATURE_COLUMNS)
    assert complete.index[0] == FEATURE_WARMUP == 20


def test_get_forecast_by_the_naive_champion_is_the_last_avg_price(fx: Fixture) -> None:
    with client(fx) as http:
        answer = http.get("/forecast/AMZN")
        lower = http.get("/forecast/amzn")
    assert answer.status_code == 200
    assert answer.json() == {
        "ticker": TICKER,
        "origin_day": LAST_DAY.isoformat(),
        "target_day": NEXT_SESSION.isoformat(),
        "forecast": pytest.approx(float(fx.features["avg_price"].iloc[-1])),
        "variant": "champion",
        "model_version": 0,
        "model_kind": "naive",
    }
    assert lower.json()["ticker"] == TICKER


def test_get_forecast_by_the_lstm_matches_the_model(fx: Fixture) -> None:
    expected = fx.model.predict(fx.features).iloc[-1]
    with client(fx, challenger_version=1, challenger_weight=1.0) as http:
        body = http.get("/forecast/AMZN").json()
    assert (body["variant"], body["model_version"], body["model_kind"]) == ("challenger", 1, "lstm")
    assert body["origin_day"] == LAST_DAY.isoformat()
    assert body["forecast"] == pytest.approx(float(expected["forecast"]), rel=1e-9)


def test_get_forecast_of_a_ticker_without_features_is_404(fx: Fixture) -> None:
    with client(fx) as http:
        for path in ("/forecast/MSFT", "/forecast/..", "/forecast/%20", "/forecast/" + "X" * 40):
            answer = http.get(path)
            assert answer.status_code == 404, path
            assert answer.json()["error"]
            assert answer.json()["variant"] in {"champion", None}


def test_post_predict_forecasts_the_session_after_the_window(fx: Fixture) -> None:
    # With the LSTM challenger active the window is 20 + 20 sessions, and its forecast equals GET's.
    with client(fx, challenger_version=1, challenger_weight=1.0) as http:
        posted = http.post("/predict", json={"ticker": TICKER, "prices": window(fx, 40)})
        stored = http.get("/forecast/AMZN").json()
    assert posted.status_code == 200, posted.text
    body = posted.json()
    assert (body["origin_day"], body["target_day"]) == (LAST_DAY.isoformat(), NEXT_SESSION.isoformat())
    assert (body["variant"], body["model_version"], body["model_kind"]) == ("challenger", 1, "lstm")
    assert body["forecast"] == pytest.approx(stored["forecast"], rel=1e-6)

    # The naive champion alone needs 1 + 20 sessions; its forecast is the window's last avg_price.
    with client(fx) as http:
        naive = http.post("/predict", json={"ticker": "tsla", "prices": window(fx, 21)})
        long = http.post("/predict", json={"ticker": TICKER, "prices": window(fx, 40)})
    assert naive.status_code == 200, naive.text
    last = fx.prices.iloc[-1]
    assert naive.json()["forecast"] == pytest.approx((last.open + last.high + last.low + last.close) / 4)
    assert naive.json()["ticker"] == "TSLA"
    assert long.status_code == 422
    assert "exactly 21 daily prices" in long.json()["error"]
    assert "1 complete feature row the model reads + 20 sessions of feature warm-up" in long.json()["error"]


def test_the_ab_split_follows_the_weight(fx: Fixture) -> None:
    with client(fx, challenger_version=1, challenger_weight=0.3, random_seed=2026) as http:
        answers = [http.get("/forecast/AMZN").json() for _ in range(2000)]
    counts = Counter(a["variant"] for a in answers)
    assert counts["challenger"] / 2000 == pytest.approx(0.3, abs=0.03)  # 3 standard deviations is 0.031
    assert {(a["variant"], a["model_version"], a["model_kind"]) for a in answers} == {
        ("champion", 0, "naive"),
        ("challenger", 1, "lstm"),
    }


def test_every_answer_and_log_line_names_variant_and_version(fx: Fixture, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ops_assets.forecasting.endpoint")
    with client(fx, challenger_version=1, challenger_weight=0.5) as http:
        for _ in range(10):
            http.get("/forecast/AMZN")
        http.post("/predict", content=b"{oops")
        http.get("/nowhere")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith(("GET ", "POST "))]
    assert len(lines) == 12
    assert {line.split(" variant=")[1].split(" ")[0] for line in lines[:10]} == {"champion", "challenger"}
    assert any(line.startswith("GET /forecast/AMZN 200 variant=challenger version=1 ms=") for line in lines)
    assert lines[10].startswith("POST /predict 400 variant=")
    assert lines[11].startswith("GET /nowhere 404 variant=- version=- ms=")


def bad_bodies(fx: Fixture) -> list[tuple[str, bytes, int]]:
    """(what, body, expected status): every one a 4xx with a message."""
    good = window(fx, 21)

    def with_row(index: int, **changes: Any) -> bytes:
        rows = [dict(r) for r in good]
        rows[index].update(changes)
        return json.dumps({"ticker": TICKER, "prices": rows}).encode()

    def without(index: int, name: str) -> bytes:
        rows = [dict(r) for r in good]
        del rows[index][name]
        return json.dumps({"ticker": TICKER, "prices": rows}).encode()

    def body(value: Any) -> bytes:
        return json.dumps(value).encode()

    swapped = [dict(r) for r in good]
    swapped[3], swapped[4] = swapped[4], swapped[3]
    duplicated = [dict(r) for r in good]
    duplicated[5] = dict(duplicated[4])
    gap = window(fx, 22)
    del gap[10]
    nan_row = json.dumps({"ticker": TICKER, "prices": good}).replace(f'"close": {good[7]["close"]}', '"close": NaN')
    inf_row = json.dumps({"ticker": TICKER, "prices": good}).replace(f'"open": {good[2]["open"]}', '"open": Infinity')
    return [
        ("empty body", b"", 400),
        ("not JSON", b"{oops", 400),
        ("not UTF-8", b"\xff\xfe\x00", 400),
        ("deeply nested", b"[" * 100_000 + b"]" * 100_000, 400),
        ("too large", b'{"ticker": "' + b"A" * 300_000 + b'"}', 413),
        ("a list", body([1, 2]), 422),
        ("a string", body("AMZN"), 422),
        ("null", b"null", 422),
        ("no ticker", body({"prices": good}), 422),
        ("no prices", body({"ticker": TICKER}), 422),
        ("ticker a number", body({"ticker": 5, "prices": good}), 422),
        ("ticker path-like", body({"ticker": "../AMZN", "prices": good}), 422),
        ("prices an object", body({"ticker": TICKER, "prices": {"a": 1}}), 422),
        ("prices empty", body({"ticker": TICKER, "prices": []}), 422),
        ("window too short", body({"ticker": TICKER, "prices": good[1:]}), 422),
        ("window too long", body({"ticker": TICKER, "prices": window(fx, 22)}), 422),
        ("row not an object", body({"ticker": TICKER, "prices": [*good[:-1], 3]}), 422),
        ("missing close", without(3, "close"), 422),
        ("missing day", without(0, "day"), 422),
        ("price as string", with_row(2, open="12.5"), 422),
        ("price as boolean", with_row(2, high=True), 422),
        ("price null", with_row(2, low=None), 422),
        ("NaN price", nan_row.encode(), 422),
        ("infinite price", inf_row.encode(), 422),
        ("huge integer price", with_row(4, close=10**400), 422),
        ("negative price", with_row(6, low=-1.0), 422),
        ("zero price", with_row(6, open=0), 422),
        ("negative volume", with_row(6, volume=-5), 422),
        ("high below low", with_row(8, high=1.0, low=2.0), 422),
        ("close above high", with_row(8, close=good[8]["high"] * 2), 422),
        ("day not a date", with_row(0, day="yesterday"), 422),
        ("day impossible", with_row(0, day="2026-02-30"), 422),
        ("day as number", with_row(0, day=20261127), 422),
        ("day outside the calendar", with_row(0, day="1999-01-04"), 422),
        ("day a holiday", with_row(20, day="2026-11-26"), 422),
        ("day a weekend", with_row(20, day="2026-11-28"), 422),
        ("duplicate day", body({"ticker": TICKER, "prices": duplicated}), 422),
        ("unsorted days", body({"ticker": TICKER, "prices": swapped}), 422),
        ("missing session", body({"ticker": TICKER, "prices": gap}), 422),
    ]


def test_every_bad_input_is_a_4xx_with_a_message(fx: Fixture) -> None:
    cases = bad_bodies(fx)
    with client(fx) as http:
        for what, body, status in cases:
            answer = http.post("/predict", content=body, headers={"content-type": "application/json"})
            assert answer.status_code == status, (what, answer.status_code, answer.text[:300])
            payload = answer.json()
            assert isinstance(payload["error"], str), what
            assert len(payload["error"]) > 10, what
            assert {"variant", "model_version"} <= set(payload), what
        answer = http.get("/predict")
        assert (answer.status_code, answer.json()["error"], answer.headers["allow"]) == (
            405,
            "Method Not Allowed",
            "POST",
        )


def test_an_unknown_ticker_is_404_once_the_champion_is_per_ticker(fx: Fixture) -> None:
    ModelRegistry(store_of(fx)).promote(1, "test")
    with client(fx) as http:
        answer = http.post("/predict", json={"ticker": "MSFT", "prices": window(fx, 40)})
        known = http.post("/predict", json={"ticker": TICKER, "prices": window(fx, 40)})
    assert answer.status_code == 404
    assert "unknown ticker MSFT" in answer.json()["error"]
    assert (answer.json()["variant"], answer.json()["model_version"]) == ("champion", 1)
    assert known.status_code == 200
    assert known.json()["model_kind"] == "lstm"


def test_windows_the_model_cannot_forecast_from_are_422(fx: Fixture) -> None:
    ModelRegistry(store_of(fx)).promote(1, "test")
    flat = [{**row, "volume": 1000.0} for row in window(fx, 40)]  # no volume z-score: incomplete features
    sessions = trading_calendar.sessions_before(trading_calendar.CALENDAR_END, 40)
    at_the_end = [{**row, "day": day.isoformat()} for row, day in zip(window(fx, 40), sessions, strict=True)]
    with client(fx) as http:
        incomplete = http.post("/predict", json={"ticker": TICKER, "prices": flat})
        too_late = http.post("/predict", json={"ticker": TICKER, "prices": at_the_end})
    assert incomplete.status_code == 422
    assert "features are incomplete at 2026-11-27" in incomplete.json()["error"]
    assert too_late.status_code == 422
    assert "the trading calendar ends" in too_late.json()["error"]


def test_malformed_bodies_never_get_a_5xx(fx: Fixture) -> None:
    """A few dozen random mutations of a valid body: whatever happens, the status is below 500."""
    rng = random.Random(11)
    good = window(fx, 40)
    junk: list[Any] = [None, True, -1, 0, 1e308, -1e-9, "", "x", [], {}, float("nan"), "2026-13-01", 10**30]
    statuses = Counter()
    with client(fx, challenger_version=1, challenger_weight=0.5) as http:
        for _ in range(60):
            rows = [dict(r) for r in good[rng.randrange(0, 3) :]]
            for _ in range(rng.randrange(1, 4)):
                row = rng.choice(rows)
                row[rng.choice([*row, "extra"])] = rng.choice(junk)
            payload: Any = {"ticker": rng.choice([TICKER, "amzn", "", None, "Z" * 20]), "prices": rows}
            if rng.random() < 0.15:
                payload = rng.choice(junk)
            text = json.dumps(payload)
            if rng.random() < 0.15:
                text = text[: rng.randrange(len(text))]
            answer = http.post("/predict", content=text.encode())
            assert answer.status_code < 500, (text[:300], answer.text)
            assert answer.headers["content-type"] == "application/json"
            statuses[answer.status_code] += 1
    assert set(statuses) <= {200, 400, 404, 422}
    assert sum(n for s, n in statuses.items() if s >= 400) >= 40


def test_health_reports_versions_and_load_times(fx: Fixture) -> None:
    with client(fx, challenger_version=1, challenger_weight=0.1) as http:
        body = http.get("/health").json()
    assert (body["ok"], body["status"], body["problems"]) == (True, "ok", [])
    assert (body["champion_version"], body["champion_kind"]) == (0, "naive")
    assert (body["challenger_version"], body["challenger_kind"], body["challenger_active"]) == (1, "lstm", True)
    assert body["challenger_weight"] == 0.1
    assert all(body["loaded_at"][variant] for variant in ("champion", "challenger"))


def test_a_missing_challenger_is_reported_and_the_champion_serves(fx: Fixture) -> None:
    with client(fx, challenger_version=9, challenger_weight=1.0) as http:
        health = http.get("/health").json()
        answer = http.get("/forecast/AMZN").json()
    assert health["ok"] is False
    assert "the challenger, version 9, could not be loaded" in health["problems"][0]
    assert (answer["variant"], answer["model_version"]) == ("champion", 0)


def test_the_champion_reloads_without_a_restart(fx: Fixture, caplog: pytest.LogCaptureFixture) -> None:
    registry = ModelRegistry(store_of(fx))
    with client(fx, reload_seconds=0) as http:
        assert http.get("/forecast/AMZN").json()["model_version"] == 0
        registry.promote(1, "beats naive")
        after = http.get("/forecast/AMZN").json()
        assert (after["variant"], after["model_version"], after["model_kind"]) == ("champion", 1, "lstm")
        assert http.get("/health").json()["champion_version"] == 1

        # A version that cannot be loaded: logged, reported, and the previous champion keeps serving.
        broken = registry.register(b"not a bundle", card("lstm")).version
        registry.promote(broken, "broken on purpose")
        caplog.set_level(logging.INFO, logger="ops_assets.forecasting.endpoint")
        still = http.get("/forecast/AMZN")
        health = http.get("/health").json()
        assert (still.status_code, still.json()["model_version"]) == (200, 1)
        assert (health["ok"], health["champion_version"]) == (False, 1)
        assert f"names version {broken}, which could not be loaded" in health["problems"][0]
        assert any(f"champion version {broken} could not be loaded" in r.getMessage() for r in caplog.records)

        registry.rollback("back to 1")
        assert http.get("/health").json()["ok"] is True


def test_reload_waits_reload_seconds(fx: Fixture) -> None:
    with client(fx, reload_seconds=3600) as http:
        ModelRegistry(store_of(fx)).promote(1, "beats naive")
        assert http.get("/forecast/AMZN").json()["model_version"] == 0


def test_a_promoted_challenger_takes_all_traffic(fx: Fixture) -> None:
    with client(fx, challenger_version=1, challenger_weight=0.5, reload_seconds=0) as http:
        ModelRegistry(store_of(fx)).promote(1, "beats naive")
        answers = [http.get("/forecast/AMZN").json() for _ in range(20)]
        health = http.get("/health").json()
    assert {(a["variant"], a["model_version"]) for a in answers} == {("champion", 1)}
    assert (health["challenger_active"], health["ok"]) == (False, True)


def test_settings_are_checked(fx: Fixture) -> None:
    with pytest.raises(ValueError, match="challenger_weight"):
        create_app(store_of(fx), challenger_version=1, challenger_weight=1.5)
    with pytest.raises(ValueError, match="reload_seconds"):
        create_app(store_of(fx), challenger_version=None, challenger_weight=0.1, reload_seconds=-1)
