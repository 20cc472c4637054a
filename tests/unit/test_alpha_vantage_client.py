"""AlphaVantageResource against the local sample server: real HTTP, no mocks of requests.

Every error/throttle body Alpha Vantage sends is served (HTTP 200) and must come back as the right exception
scope, or be retried until good data arrives. The API key used here is distinctive so the tests can assert
that it never leaks into exception messages, reprs, tracebacks or logs.
"""

from __future__ import annotations

import logging
import pickle
import socket
import threading
import traceback
from collections.abc import Iterator
from itertools import pairwise

import dagster as dg
import pytest

from resources.alpha_vantage import (
    EXPECTED_KEYS,
    AlphaVantageDailyQuotaError,
    AlphaVantageError,
    AlphaVantageResource,
    AlphaVantageRunError,
    AlphaVantageTickerError,
    _Retryable,
    classify_payload,
)
from resources.sample_sources import alpha_vantage_bodies as bodies
from resources.sample_sources.alpha_vantage import ERROR_TICKER, ORDINARY_TICKER, SampleAlphaVantageData
from resources.sample_sources.resources import SampleAlphaVantageResource
from resources.sample_sources.server import AlphaVantageSampleServer
from resources.secrets import StaticSecrets

KEY = "ZQ7-TOPSECRET-KEY-91f3"
SECRET_NAME = "alpha-vantage-api-key"
TICKER = ORDINARY_TICKER
DATA = SampleAlphaVantageData()  # shared: its payload cache keeps the suite fast


@pytest.fixture
def server() -> Iterator[AlphaVantageSampleServer]:
    with AlphaVantageSampleServer(DATA) as srv:
        yield srv


def make_client(url: str, key: str | None = KEY, **overrides: object) -> AlphaVantageResource:
    config: dict[str, object] = {
        "base_url": url,
        "secrets": StaticSecrets(values={SECRET_NAME: key} if key is not None else {}),
        "requests_per_minute": 6000,  # 10 ms spacing: fast tests
        # Generous: a loaded 2-core CI machine can take seconds to serve a full daily history; the timeout tests set
        # their own.
        "timeout_seconds": 30.0,
        "max_attempts": 5,
        "backoff_initial_seconds": 0.01,
        "backoff_max_seconds": 0.05,
    }
    config.update(overrides)
    return AlphaVantageResource(**config)  # type: ignore[arg-type]


def assert_key_absent(*texts: str) -> None:
    for text in texts:
        assert KEY not in text


# --------------------------------------------------------------------------------------------- good data


@pytest.mark.parametrize(
    ("function", "symbol", "params"),
    [
        ("INCOME_STATEMENT", TICKER, {}),
        ("BALANCE_SHEET", TICKER, {}),
        ("CASH_FLOW", TICKER, {}),
        ("EARNINGS", TICKER, {}),
        ("TIME_SERIES_DAILY", TICKER, {"outputsize": "compact"}),
        ("TIME_SERIES_DAILY_ADJUSTED", TICKER, {"outputsize": "full"}),
        ("TIME_SERIES_INTRADAY", TICKER, {"interval": "5min"}),
        ("SPLITS", TICKER, {}),
        ("DIVIDENDS", TICKER, {}),
        ("OVERVIEW", TICKER, {}),
        ("ETF_PROFILE", "QQQ", {}),
    ],
)
def test_good_data_for_every_function(server, function, symbol, params):
    client = make_client(server.url)
    payload = client.get(function, symbol, **params)
    expected = EXPECTED_KEYS[function].format(interval=params.get("interval", ""))
    assert expected in payload
    assert client.stats.requests == 1
    assert client.stats.retries == 0
    assert client.stats.per_symbol[symbol] == 1
    recorded = server.requests[-1]
    assert recorded.function == function
    assert recorded.symbol == symbol
    assert "apikey" not in recorded.params


# --------------------------------------------------------------------------------------------- every body


@pytest.mark.parametrize(
    ("body", "error", "scope", "phrase"),
    [
        (bodies.INVALID_API_CALL("TIME_SERIES_DAILY"), AlphaVantageTickerError, "ticker", "Invalid API call"),
        (bodies.INVALID_API_KEY, AlphaVantageRunError, "run", "invalid or missing"),
        (bodies.DAILY_QUOTA(KEY), AlphaVantageDailyQuotaError, "day", "daily request quota"),
        (bodies.PREMIUM_ENDPOINT, AlphaVantageRunError, "run", "premium plan is needed"),
        (bodies.PREMIUM_OUTPUTSIZE("TIME_SERIES_DAILY"), AlphaVantageRunError, "run", "outputsize=compact"),
        (bodies.DEMO_KEY, AlphaVantageRunError, "run", "demo"),
        (bodies.UNKNOWN_SYMBOL, AlphaVantageTickerError, "ticker", "empty body"),
    ],
    ids=["invalid-call", "invalid-key", "daily-quota", "premium-endpoint", "premium-outputsize", "demo", "empty"],
)
def test_error_bodies_raise_the_right_scope_without_retry(server, body, error, scope, phrase):
    server.inject(body, times=5)
    client = make_client(server.url)
    with pytest.raises(error) as info:
        client.get("TIME_SERIES_DAILY", TICKER)
    assert type(info.value) is error
    assert info.value.scope == scope
    assert phrase in str(info.value)
    assert info.value.function == "TIME_SERIES_DAILY"
    assert info.value.symbol == TICKER
    assert len(server.requests) == 1, "errors that would fail again must not be retried"
    assert_key_absent(str(info.value), repr(info.value))


@pytest.mark.parametrize("body", [bodies.BURST_LIMIT, bodies.NOTE_THROTTLE], ids=["burst", "note"])
def test_throttle_bodies_are_retried_then_succeed(server, body):
    server.inject(body, times=2)
    client = make_client(server.url)
    payload = client.get("EARNINGS", TICKER)
    assert "quarterlyEarnings" in payload
    stats = client.stats
    assert stats.retries == 2
    assert stats.throttled == 2
    assert stats.requests == 3
    assert len(server.requests) == 3


def test_premium_messages_name_the_plan(server):
    server.inject(bodies.PREMIUM_ENDPOINT)
    with pytest.raises(AlphaVantageRunError, match=r"premium plan.*alphavantage.co/premium"):
        make_client(server.url).get("TIME_SERIES_DAILY_ADJUSTED", TICKER)


# --------------------------------------------------------------------------------------------- HTTP level


@pytest.mark.parametrize("status", [500, 503, 429])
def test_http_5xx_and_429_are_retried_then_succeed(server, status):
    server.inject("Service Unavailable", status=status, times=2)
    client = make_client(server.url)
    assert "quarterlyReports" in client.get("CASH_FLOW", TICKER)
    assert client.stats.retries == 2
    assert client.stats.throttled == (2 if status == 429 else 0)


def test_retries_exhausted_on_503_says_what_kept_happening(server):
    server.inject("", status=503, times=10)
    client = make_client(server.url)
    with pytest.raises(AlphaVantageTickerError) as info:
        client.get("TIME_SERIES_DAILY", TICKER)
    assert "Alpha Vantage kept answering HTTP 503 for TIME_SERIES_DAILY AXQT after 5 attempts" in str(info.value)
    assert client.stats.requests == 5
    assert client.stats.retries == 4


def test_retries_exhausted_on_burst_limit(server):
    server.inject(bodies.BURST_LIMIT, times=10)
    client = make_client(server.url, max_attempts=3)
    with pytest.raises(AlphaVantageTickerError, match=r"kept throttling \(burst limit\).*after 3 attempts"):
        client.get("EARNINGS", TICKER)
    assert len(server.requests) == 3


def test_timeout_is_retried_then_succeeds(server):
    server.inject(bodies.UNKNOWN_SYMBOL, delay_seconds=0.6)  # the client gives up before this arrives
    client = make_client(server.url, timeout_seconds=0.15)
    assert "quarterlyEarnings" in client.get("EARNINGS", TICKER)
    assert client.stats.retries == 1
    assert len(server.requests) == 2


def test_timeouts_exhausted(server):
    server.inject(bodies.UNKNOWN_SYMBOL, delay_seconds=0.5, times=2)
    client = make_client(server.url, timeout_seconds=0.1, max_attempts=2)
    with pytest.raises(AlphaVantageTickerError, match=r"kept timing out .* after 2 attempts"):
        client.get("EARNINGS", TICKER)


def test_connection_refused_is_retried_then_reported():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make_client(f"http://127.0.0.1:{port}/query", max_attempts=2)
    with pytest.raises(AlphaVantageTickerError, match=r"kept failing to connect .* after 2 attempts") as info:
        client.get("EARNINGS", TICKER)
    assert_key_absent(str(info.value), repr(info.value), "".join(traceback.format_exception(info.value)))


@pytest.mark.parametrize(
    ("raw", "starts"),
    [
        ('{"Meta Data": {"1. Information": "Daily Prices"', 'starts with \'{"Meta Data"'),
        ("<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", "starts with '<html>"),
        ("", "starts with ''"),
    ],
    ids=["truncated-json", "html", "empty"],
)
def test_non_json_bodies_fail_the_ticker_without_retry(server, raw, starts):
    server.inject(raw)
    with pytest.raises(AlphaVantageTickerError) as info:
        make_client(server.url).get("TIME_SERIES_DAILY", TICKER)
    message = str(info.value)
    assert message.startswith("Alpha Vantage returned a body that is not JSON for TIME_SERIES_DAILY AXQT: ")
    assert starts in message
    assert len(message) < 250, "quote only the start of the body"
    assert len(server.requests) == 1


def test_json_that_is_not_an_object(server):
    server.inject("[1, 2, 3]")
    with pytest.raises(AlphaVantageTickerError, match="not an object"):
        make_client(server.url).get("EARNINGS", TICKER)


def test_body_without_expected_key(server):
    server.inject({"Meta Data": {"2. Symbol": TICKER}})
    with pytest.raises(AlphaVantageTickerError, match=r"no 'Time Series \(Daily\)' key"):
        make_client(server.url).get("TIME_SERIES_DAILY", TICKER)


def test_http_404_fails_the_ticker_without_retry(server):
    server.inject("Not Found", status=404)
    with pytest.raises(AlphaVantageTickerError, match="HTTP 404"):
        make_client(server.url).get("EARNINGS", TICKER)
    assert len(server.requests) == 1


# --------------------------------------------------------------------------------------------- server-driven


def test_delisted_ticker_from_the_sample_data(server):
    with pytest.raises(AlphaVantageTickerError, match="Invalid API call"):
        make_client(server.url).get("INCOME_STATEMENT", ERROR_TICKER)


def test_bad_key_stops_the_run(server):
    with pytest.raises(AlphaVantageRunError, match="invalid or missing"):
        make_client(server.url, key="bad-key").get("EARNINGS", TICKER)


def test_demo_key_answers_only_the_documentation_examples(server):
    client = make_client(server.url, key="demo")
    assert "quarterlyReports" in client.get("INCOME_STATEMENT", "IBM")
    assert "holdings" in client.get("ETF_PROFILE", "QQQ")
    with pytest.raises(AlphaVantageRunError, match="'demo' API key only answers"):
        client.get("INCOME_STATEMENT", TICKER)


def test_plan_without_premium():
    with AlphaVantageSampleServer(DATA, premium=False) as srv:
        client = make_client(srv.url)
        assert "Time Series (Daily)" in client.get("TIME_SERIES_DAILY", TICKER, outputsize="compact")
        with pytest.raises(AlphaVantageRunError, match="outputsize=full on TIME_SERIES_DAILY is a premium"):
            client.get("TIME_SERIES_DAILY", TICKER, outputsize="full")
        with pytest.raises(
            AlphaVantageRunError, match="TIME_SERIES_DAILY_ADJUSTED is a premium Alpha Vantage endpoint"
        ):
            client.get("TIME_SERIES_DAILY_ADJUSTED", TICKER, outputsize="full")


def test_daily_quota_from_the_server_does_not_repeat_the_key(caplog):
    caplog.set_level(logging.DEBUG)
    with AlphaVantageSampleServer(DATA, daily_limit=3) as srv:
        client = make_client(srv.url)
        for _ in range(3):
            client.get("SPLITS", TICKER)
        with pytest.raises(AlphaVantageDailyQuotaError) as info:
            client.get("SPLITS", TICKER)
    assert info.value.scope == "day"
    assert_key_absent(str(info.value), repr(info.value), caplog.text)


def test_missing_secret_stops_the_run(server):
    with pytest.raises(AlphaVantageRunError, match=f"Secret '{SECRET_NAME}'") as info:
        make_client(server.url, key=None).get("EARNINGS", TICKER)
    assert info.value.scope == "run"
    assert server.requests == []


def test_sample_resource_needs_no_secret():
    client = SampleAlphaVantageResource(secrets=StaticSecrets(values={}))
    assert "quarterlyEarnings" in client.get("EARNINGS", TICKER)
    client.close()


# --------------------------------------------------------------------------------------------- the key


def _provoke(server: AlphaVantageSampleServer, case: str) -> AlphaVantageError:
    client = make_client(server.url, timeout_seconds=0.1, max_attempts=2)
    injections = {
        "invalid-call": (bodies.INVALID_API_CALL("EARNINGS"), {}),
        "daily-quota": (bodies.DAILY_QUOTA(KEY), {}),
        "html-echoing-url": (f"<html>bad request /query?function=EARNINGS&apikey={KEY}</html>", {}),
        "html-echoing-key": (f"<html>key {KEY} rejected</html>", {}),
        "unknown-notice": ({"Information": f"Your key {KEY} is under review"}, {}),
        "unknown-error": ({"Error Message": f"Something about {KEY}"}, {}),
        "http-503": ("oops", {"status": 503, "times": 2}),
        "timeout": (bodies.UNKNOWN_SYMBOL, {"delay_seconds": 0.4, "times": 2}),
        "burst": (bodies.BURST_LIMIT, {"times": 2}),
        "empty": (bodies.UNKNOWN_SYMBOL, {}),
    }
    body, options = injections[case]
    server.inject(body, **options)
    with pytest.raises(AlphaVantageError) as info:
        client.get("EARNINGS", TICKER)
    return info.value


@pytest.mark.parametrize(
    "case",
    [
        "invalid-call",
        "daily-quota",
        "html-echoing-url",
        "html-echoing-key",
        "unknown-notice",
        "unknown-error",
        "http-503",
        "timeout",
        "burst",
        "empty",
    ],
)
def test_key_never_in_messages_reprs_tracebacks_or_logs(server, caplog, case):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    exc = _provoke(server, case)
    text = "".join(traceback.format_exception(exc))
    assert_key_absent(str(exc), repr(exc), text, caplog.text)
    assert exc.__cause__ is None
    assert exc.__context__ is None, "no requests/urllib3 exception (which carries the URL) may be chained"
    assert any(r.name.startswith("urllib3") for r in caplog.records), "urllib3 debug lines were captured"


def test_key_not_in_resource_repr_or_stats(server):
    client = make_client(server.url)
    client.get("SPLITS", TICKER)
    assert_key_absent(repr(client), str(client), repr(client.stats))


def test_missing_secret_from_a_run_error_is_pickleable():
    error = AlphaVantageRunError("stop", function="EARNINGS", symbol=None)
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is AlphaVantageRunError
    assert (clone.message, clone.function, clone.symbol, clone.scope) == ("stop", "EARNINGS", None, "run")


# --------------------------------------------------------------------------------------------- rate limit


def test_rate_limiter_spaces_requests_evenly(server):
    client = make_client(server.url, requests_per_minute=600)  # one request every 100 ms
    for _ in range(11):
        client.get("SPLITS", TICKER)
    times = [r.time for r in server.requests]
    gaps = [b - a for a, b in pairwise(times)]
    assert len(gaps) == 10
    # Unthrottled, local requests arrive ~1-3 ms apart; the limiter holds them 100 ms apart. Half the
    # spacing separates the two with room for scheduling jitter on a busy machine.
    assert min(gaps) >= 0.05, gaps


def test_rate_limiter_also_spaces_retries(server):
    server.inject(bodies.BURST_LIMIT, times=2)
    client = make_client(server.url, requests_per_minute=600, backoff_initial_seconds=0.001)
    client.get("SPLITS", TICKER)
    times = [r.time for r in server.requests]
    assert len(times) == 3
    assert min(b - a for a, b in pairwise(times)) >= 0.05


def test_rate_limiter_is_shared_by_threads(server):
    client = make_client(server.url, requests_per_minute=1200)  # 50 ms
    threads = [threading.Thread(target=lambda: [client.get("SPLITS", TICKER) for _ in range(3)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    times = sorted(r.time for r in server.requests)
    assert len(times) == 12
    # Permits are 50 ms apart; arrival order between threads jitters, so check the span, with half the
    # spacing as margin (unthrottled, 12 local requests take ~20 ms in all).
    assert times[-1] - times[0] >= 11 * 0.05 * 0.5
    assert client.stats.requests == 12


# --------------------------------------------------------------------------------------------- pure pieces


def test_classify_burst_before_daily_quota():
    with pytest.raises(_Retryable):
        classify_payload(bodies.BURST_LIMIT, function="EARNINGS", symbol=TICKER, expected_key="quarterlyEarnings")
    with pytest.raises(AlphaVantageDailyQuotaError):
        classify_payload(bodies.DAILY_QUOTA("x"), function="EARNINGS", symbol=TICKER, expected_key="quarterlyEarnings")
    good = {"symbol": TICKER, "quarterlyEarnings": []}
    assert classify_payload(good, function="EARNINGS", symbol=TICKER, expected_key="quarterlyEarnings") is None


def test_get_refuses_an_explicit_apikey(server):
    with pytest.raises(ValueError, match="apikey"):
        make_client(server.url).get("EARNINGS", TICKER, apikey="x")


def test_works_as_a_dagster_resource(server):
    @dg.asset
    def earnings(alpha_vantage: AlphaVantageResource) -> int:
        return len(alpha_vantage.get("EARNINGS", TICKER)["quarterlyEarnings"])

    result = dg.materialize([earnings], resources={"alpha_vantage": make_client(server.url)})
    assert result.success
    assert result.output_for_node("earnings") > 70
