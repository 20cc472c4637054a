"""TT working orders: the client against the sample TT server (headers, retries, refusals, timeouts, secrets)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from resources.sample_sources.tt_orders import (
    SAMPLE_TT_API_KEY,
    SAMPLE_TT_API_SECRET,
    SAMPLE_TT_CREDENTIALS_JSON,
    SAMPLE_TT_START,
    TTOrdersSampleServer,
    sample_order_history,
    sample_orders_at,
)
from resources.secrets import SecretsManagerSecrets, StaticSecrets
from resources.working_orders import (
    TTWorkingOrdersSource,
    WorkingOrdersAuthError,
    WorkingOrdersSource,
    WorkingOrdersUnavailableError,
)
from tests.conftest import free_port

KEY = "tt-key-7f3a9c1e5b"
SECRET = "tt-secret-0d4e8b2a6c"


@pytest.fixture
def server() -> Iterator[TTOrdersSampleServer]:
    with TTOrdersSampleServer(api_key=KEY, api_secret=SECRET) as srv:
        yield srv


def source(base_url: str, credentials: dict[str, str] | None = None, **settings: float) -> TTWorkingOrdersSource:
    values = {"dev/tt-api": json.dumps(credentials or {"api_key": KEY, "api_secret": SECRET})}
    options = {"backoff_initial_seconds": 0.01, "backoff_max_seconds": 0.05, "timeout_seconds": 2.0, **settings}
    return TTWorkingOrdersSource(base_url=base_url, secrets=StaticSecrets(values=values), **options)


def test_fetch_sends_both_headers_and_answers_the_working_orders(server: TTOrdersSampleServer) -> None:
    tt = source(server.base_url)
    assert isinstance(tt, WorkingOrdersSource)
    before = datetime.now(UTC)
    answer = tt.fetch()
    after = datetime.now(UTC)

    (request,) = server.requests
    assert (request.path, request.status) == ("/v1/orders/working", 200)
    assert (request.has_api_key, request.has_api_secret, request.credentials_ok) == (True, True, True)
    assert answer.orders == server.orders_at()
    assert len(answer.orders) > 10
    assert json.loads(answer.raw) == answer.orders  # the exact body, for the bucket's snapshot file
    assert answer.fetched_at.tzinfo is UTC
    # Stamped when the answer came: between the call and its return (no wall-clock tolerance).
    assert before <= answer.fetched_at <= after
    assert answer.fetched_epoch == int(answer.fetched_at.timestamp())
    assert answer.attempts == 1
    by_id = answer.by_order_id()
    assert set(by_id) == {o["order_id"] for o in answer.orders}
    assert all(json.loads(by_id[o["order_id"]]) == o for o in answer.orders)


def test_orders_appear_fill_and_cancel_as_the_clock_moves(server: TTOrdersSampleServer) -> None:
    tt = source(server.base_url)
    before = {o["order_id"]: o for o in tt.fetch().orders}
    server.advance(120)
    after = {o["order_id"]: o for o in tt.fetch().orders}

    ended = sample_order_history(SAMPLE_TT_START, SAMPLE_TT_START + 120)
    assert set(before) - set(after) == {order_id for order_id in ended if order_id in before}
    assert set(ended.values()) == {"FILLED", "CANCELLED"}
    assert set(after) - set(before)  # new orders arrived
    still = set(before) & set(after)
    assert any(after[i]["filled_qty"] > before[i]["filled_qty"] for i in still)  # partial fills progressed
    for order in after.values():
        assert 0 <= order["filled_qty"] < order["qty"]
        assert order["status"] == ("PARTIALLY_FILLED" if order["filled_qty"] else "WORKING")

    # Deterministic: the same seed gives the same book at the same time; another seed another book.
    assert sample_orders_at(SAMPLE_TT_START + 120) == list(after.values())
    assert sample_orders_at(SAMPLE_TT_START + 120, seed=1) != list(after.values())


def test_refused_credentials_raise_an_auth_error_without_retrying(server: TTOrdersSampleServer) -> None:
    wrong = source(server.base_url, {"api_key": KEY, "api_secret": "not-the-secret-31337"})
    with pytest.raises(WorkingOrdersAuthError, match=r"refused the API credentials \(HTTP 401\)") as caught:
        wrong.fetch()
    assert caught.value.http_status == 401
    assert caught.value.attempts == 1
    assert [r.status for r in server.requests] == [401]
    assert not server.requests[0].credentials_ok

    server.reset()
    server.refuse_next(1, status=403)  # TT refusing good credentials (revoked, no permission)
    with pytest.raises(WorkingOrdersAuthError, match="HTTP 403"):
        source(server.base_url).fetch()
    assert len(server.requests) == 1


def test_server_errors_are_retried_then_succeed(server: TTOrdersSampleServer) -> None:
    server.fail_next(2, status=503)
    answer = source(server.base_url, max_attempts=3).fetch()
    assert answer.attempts == 3
    assert [r.status for r in server.requests] == [503, 503, 200]
    assert answer.orders == server.orders_at()


def test_retries_are_bounded(server: TTOrdersSampleServer) -> None:
    server.fail_next(10, status=500)
    with pytest.raises(WorkingOrdersUnavailableError, match="answered HTTP 500") as caught:
        source(server.base_url, max_attempts=3).fetch()
    assert (caught.value.attempts, caught.value.http_status) == (3, 500)
    assert len(server.requests) == 3

    # The deadline stops retrying before the attempts run out: no wait starts that would end past it.
    server.reset()
    server.fail_next(10, status=502)
    with pytest.raises(WorkingOrdersUnavailableError):
        source(
            server.base_url, max_attempts=10, backoff_initial_seconds=0.2, backoff_max_seconds=0.2, deadline_seconds=0.5
        ).fetch()
    # The request count shows it: attempts stopped at the deadline, long before the 10 allowed.
    assert 2 <= len(server.requests) < 10


def test_a_hanging_server_times_out_and_is_retried(server: TTOrdersSampleServer) -> None:
    server.hang_next(1, seconds=5)
    started = time.monotonic()
    answer = source(server.base_url, timeout_seconds=0.3).fetch()
    assert answer.attempts == 2
    # Not a speed claim: returning before the 5 s hang ended shows the client gave up on the hanging answer.
    assert time.monotonic() - started < 4.5

    server.hang_next(5, seconds=5)
    started = time.monotonic()
    with pytest.raises(WorkingOrdersUnavailableError, match=r"timed out \(no answer within 0.3 s\)") as caught:
        source(server.base_url, timeout_seconds=0.3, max_attempts=2).fetch()
    assert caught.value.attempts == 2
    assert caught.value.http_status is None
    assert time.monotonic() - started < 4.5  # both attempts gave up before one 5 s hang was over


def test_unreachable_and_other_errors_are_unavailable() -> None:
    with pytest.raises(WorkingOrdersUnavailableError, match="could not be reached") as caught:
        source(f"http://127.0.0.1:{free_port()}", max_attempts=2).fetch()
    assert caught.value.attempts == 2


def test_not_found_and_garbage_are_not_retried(server: TTOrdersSampleServer) -> None:
    with pytest.raises(WorkingOrdersUnavailableError, match=r"HTTP 404 \(check base_url\)"):
        source(server.base_url + "/wrong").fetch()
    assert len(server.requests) == 1

    server.reset()
    server.garble_next(1)
    with pytest.raises(WorkingOrdersUnavailableError, match="unusable body: the body is not JSON"):
        source(server.base_url).fetch()
    assert len(server.requests) == 1


def test_credentials_never_appear_in_errors_logs_or_repr(
    server: TTOrdersSampleServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key, secret = "leaky-key-55aa55aa", "leaky-secret-66bb66bb"  # not what the server expects: 401
    tt = source(server.base_url, {"api_key": key, "api_secret": secret}, timeout_seconds=0.2, max_attempts=2)
    failures: list[BaseException] = []
    with pytest.raises(WorkingOrdersAuthError) as refused:
        tt.fetch()
    failures.append(refused.value)
    server.fail_next(2)
    with pytest.raises(WorkingOrdersUnavailableError) as down:
        tt.fetch()
    failures.append(down.value)
    server.hang_next(2, seconds=2)
    with pytest.raises(WorkingOrdersUnavailableError) as slow:
        tt.fetch()
    failures.append(slow.value)

    texts = [str(f) for f in failures] + [repr(f) for f in failures] + [caplog.text, repr(tt), str(tt)]
    for text in texts:
        assert key not in text
        assert secret not in text
    assert all(f.__cause__ is None for f in failures)


def test_a_missing_or_malformed_secret_is_an_auth_error_naming_it(server: TTOrdersSampleServer) -> None:
    empty = TTWorkingOrdersSource(base_url=server.base_url, secrets=StaticSecrets(values={}))
    with pytest.raises(WorkingOrdersAuthError, match="'dev/tt-api'"):
        empty.fetch()

    not_json = TTWorkingOrdersSource(
        base_url=server.base_url, secrets=StaticSecrets(values={"dev/tt-api": "plain-secret-value-123"})
    )
    with pytest.raises(WorkingOrdersAuthError, match=r"not a JSON object.*\"api_key\"") as caught:
        not_json.fetch()
    assert "plain-secret-value-123" not in str(caught.value)

    half = source(server.base_url, {"api_key": KEY})
    with pytest.raises(WorkingOrdersAuthError, match="no \\(or an empty\\) api_secret"):
        half.fetch()
    assert server.requests == []  # nothing was sent without credentials


@mock_aws
def test_credentials_from_secrets_manager(server: TTOrdersSampleServer) -> None:
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="dev/tt-api", SecretString=json.dumps({"api_key": KEY, "api_secret": SECRET, "environment": "live"})
    )
    tt = TTWorkingOrdersSource(base_url=server.base_url, secrets=SecretsManagerSecrets(region_name="us-east-1"))
    assert tt.fetch().orders == server.orders_at()

    missing = TTWorkingOrdersSource(
        base_url=server.base_url,
        secrets=SecretsManagerSecrets(region_name="us-east-1"),
        credentials_secret_name="prod/tt-api",
    )
    with pytest.raises(WorkingOrdersAuthError, match="aws secretsmanager create-secret --name prod/tt-api"):
        missing.fetch()


def test_the_sample_defaults_work_together() -> None:
    with TTOrdersSampleServer() as srv:
        secrets = StaticSecrets(values={"dev/tt-api": SAMPLE_TT_CREDENTIALS_JSON})
        answer = TTWorkingOrdersSource(base_url=srv.base_url, secrets=secrets).fetch()
        assert answer.orders == srv.orders_at()
    assert json.loads(SAMPLE_TT_CREDENTIALS_JSON) == {"api_key": SAMPLE_TT_API_KEY, "api_secret": SAMPLE_TT_API_SECRET}


def test_sample_orders_name_the_actant_samples_instruments() -> None:
    # A dashboard joins tt:orders:active with actant:market:<instrument>: every order's instrument must be one the
    # Actant sample writes market data for that day, priced near that day's quotes.
    from resources.sample_sources.actant import SAMPLE_DESK_DAY, sample_market_files, sample_reference_quotes

    in_files = {
        line.split(",")[0]
        for _, body in sample_market_files(SAMPLE_DESK_DAY)
        for line in body.decode().splitlines()[1:]
    }
    quotes = sample_reference_quotes(SAMPLE_DESK_DAY)
    assert set(quotes) == in_files
    seen: set[str] = set()
    for t in range(SAMPLE_TT_START, SAMPLE_TT_START + 6 * 3600, 600):  # through the trading day
        for order in sample_orders_at(t):
            price, tick = quotes[order["instrument"]]
            assert abs(order["price"] - float(price)) <= 40 * float(tick) + 1e-9, order
            assert order["price"] > 0
            seen.add(order["instrument"])
    assert seen == in_files  # the futures and the ES/ZN options all get orders


def test_a_fixed_instruments_day_keeps_the_names_of_that_days_files() -> None:
    # make run drops the Actant sample day's files while the TT sample follows the wall clock: pinned to that day,
    # the option names match even after the sample's options expired.
    from datetime import date

    from resources.sample_sources.actant import SAMPLE_DESK_DAY, sample_instruments

    later = SAMPLE_TT_START + 60 * 86_400  # January 2027: the December options have expired
    names = {name for names in sample_instruments(SAMPLE_DESK_DAY).values() for name in names}
    pinned = {o["instrument"] for o in sample_orders_at(later, start=later, day=SAMPLE_DESK_DAY)}
    assert pinned <= names
    own_day = {o["instrument"] for o in sample_orders_at(later, start=later)}
    assert own_day <= {n for ns in sample_instruments(date(2027, 1, 19)).values() for n in ns}
    assert any(" 2027-03 " in name for name in own_day)
    with TTOrdersSampleServer(start=later, instruments_day=SAMPLE_DESK_DAY) as srv:
        assert {o["instrument"] for o in srv.orders_at()} == pinned
