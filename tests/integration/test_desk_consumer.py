"""The always-on consumer on real parts: the local object store listed by :class:`ListingArrivals`, the machine's
Redis, the central store (PostgreSQL and SQLite) as the history, and SQS + S3 event notifications on moto server
for :class:`SqsArrivals`. Waits poll the outcome under a generous deadline; nothing here asserts a speed (that is
``benchmarks/bench_desk_latency.py``'s job)."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from ops_assets.desk.consumer import (
    Arrival,
    ConsumerStats,
    ListingArrivals,
    NotAnS3Event,
    SqsArrivals,
    parse_s3_message,
    retry_delay,
    run,
)
from ops_assets.desk.files import processed_key
from ops_assets.desk.processing import FileOutcome, process_file
from resources.cache import RedisCache, RedisUnavailableError
from resources.central_store import CentralStore
from resources.desk_history import CentralStoreDeskHistory
from resources.object_store import LocalObjectStore, S3ObjectStore
from resources.sample_sources.actant import sample_market_file, sample_market_files
from tests.conftest import free_port

pytestmark = pytest.mark.integration

DEADLINE_SECONDS = 60.0


def wait_for(condition: Callable[[], bool], what: str, deadline: float = DEADLINE_SECONDS) -> None:
    """Poll ``condition`` until true; fail naming ``what`` after ``deadline`` s (a liveness bound, not a speed)."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"not within {deadline:g} s: {what}")
        time.sleep(0.02)


class Consumer:
    """``run`` in a thread over ``arrivals``; handles with ``process_file``, records outcomes and errors."""

    def __init__(self, arrivals: Any, objects: Any, latest: Any, history: Any) -> None:
        self.arrivals = arrivals
        self.objects = objects
        self.latest = latest
        self.history = history
        self.outcomes: list[FileOutcome] = []
        self.errors: list[tuple[str, int, Exception]] = []
        self.attempts: list[tuple[str, int]] = []
        self.alerts: list[tuple[str, str]] = []
        self.on_failure: Callable[[Arrival, Exception], None] | None = None
        self.stop = threading.Event()
        self.stats: ConsumerStats | None = None
        self._thread = threading.Thread(target=self._run, name="test-consumer", daemon=True)

    def _run(self) -> None:
        self.stats = run(self.arrivals, self.handle, stop=self.stop, on_error=self.on_error)

    def handle(self, arrival: Arrival) -> FileOutcome:
        self.attempts.append((arrival.key, arrival.attempt))
        outcome = process_file(
            arrival.key,
            objects=self.objects,
            latest=self.latest,
            history=self.history,
            arrived_at=arrival.arrived_at,
            alert=lambda subject, body: self.alerts.append((subject, body)),
        )
        self.outcomes.append(outcome)
        return outcome

    def on_error(self, arrival: Arrival, exc: Exception) -> None:
        self.errors.append((arrival.key, arrival.attempt, exc))
        if self.on_failure is not None:
            self.on_failure(arrival, exc)

    def __enter__(self) -> Consumer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the consumer loop did not end after stop"


@pytest.fixture
def local(tmp_path: Path, store: CentralStore, cache: RedisCache) -> dict[str, Any]:
    objects = LocalObjectStore(root=str(tmp_path / "bucket"))
    return {"objects": objects, "latest": cache, "history": CentralStoreDeskHistory(store=store)}


# ------------------------------------------------------------------------------------------------ listing, local


def test_fifty_files_dropped_while_the_consumer_runs_are_each_processed_once(local: dict[str, Any]) -> None:
    objects = local["objects"]
    files = sample_market_files()[:50]
    arrivals = ListingArrivals(objects, interval_seconds=0.05)

    with Consumer(arrivals, objects, local["latest"], local["history"]) as consumer:
        for key, data in files:
            objects.put_bytes(key, data)
        wait_for(lambda: len(consumer.outcomes) >= len(files), "all 50 files processed")
        time.sleep(0.3)  # a few more polls: nothing may come back

    assert consumer.errors == []
    assert Counter(o.key for o in consumer.outcomes) == Counter(key for key, _ in files)  # each exactly once
    assert {o.outcome for o in consumer.outcomes} == {"processed"}
    for outcome in consumer.outcomes:
        assert local["history"].count_for_source("market", outcome.key) == outcome.rows > 0
        assert objects.exists(processed_key(outcome.key))
        assert not objects.exists(outcome.key)
    assert list(objects.list("market-data/")) == []
    for root in ("ZN", "ZF", "ES"):
        assert local["latest"].read_market(root)["price"]
    assert consumer.stats is not None
    assert consumer.stats.handled == 50


def test_a_file_that_fails_stays_and_is_retried_until_processed(local: dict[str, Any]) -> None:
    objects = local["objects"]
    key, data = sample_market_file("ZF")
    real = local["latest"]
    down = RedisCache(port=free_port(), key_prefix=real.key_prefix, retries=0)
    target: dict[str, Any] = {"latest": down}

    class Switchable:
        def apply_market_update(self, rows: Any, **kwargs: Any) -> bool:
            return target["latest"].apply_market_update(rows, **kwargs)

    arrivals = ListingArrivals(objects, interval_seconds=0.02, retry_initial_seconds=0.05, retry_max_seconds=0.2)
    still_there: list[bool] = []

    def after_failure(arrival: Arrival, exc: Exception) -> None:
        still_there.append(objects.exists(arrival.key))
        if arrival.attempt >= 3:
            target["latest"] = real  # Redis is back

    with Consumer(arrivals, objects, Switchable(), local["history"]) as consumer:
        consumer.on_failure = after_failure
        objects.put_bytes(key, data)
        wait_for(lambda: any(o.key == key for o in consumer.outcomes), "the file processed after the failures")

    assert [(k, attempt) for k, attempt, _ in consumer.errors] == [(key, 1), (key, 2), (key, 3)]
    assert all(isinstance(exc, RedisUnavailableError) for _, _, exc in consumer.errors)
    assert "redis-server" in str(consumer.errors[0][2])  # the error says how to start it
    assert still_there == [True, True, True]  # nothing lost while Redis was down
    assert consumer.attempts == [(key, 1), (key, 2), (key, 3), (key, 4)]
    assert [o.outcome for o in consumer.outcomes] == ["processed"]
    assert real.read_market("ZF")["price"]
    assert objects.exists(processed_key(key))
    assert not objects.exists(key)


def test_listing_returns_a_key_again_only_after_its_back_off_or_a_new_version(tmp_path: Path) -> None:
    objects = LocalObjectStore(root=str(tmp_path / "bucket"))
    now = [1000.0]
    arrivals = ListingArrivals(objects, retry_initial_seconds=1.0, retry_max_seconds=4.0, clock=lambda: now[0])
    (key_a, data_a), (key_b, data_b) = sample_market_files()[:2]
    objects.put_bytes(key_a, data_a)
    objects.put_bytes(key_b, data_b)
    objects.put_bytes("processed/" + key_a, data_a)  # not a landing prefix: never listed
    objects.put_bytes("working-orders/2026/11/20/orders_snapshot_1795161600.json", b"[]")

    first = arrivals.poll()
    assert [a.key for a in first] == [key_a, key_b]  # oldest first
    assert all(a.arrived_at.tzinfo is not None and a.attempt == 1 for a in first)
    assert arrivals.poll() == []  # out for handling: not again

    first[1].ack()
    objects.delete(key_b)  # handled: moved away
    now[0] += 0.5
    assert arrivals.poll() == []  # key_a's back-off (1 s) has not passed
    now[0] += 0.6
    (again,) = arrivals.poll()
    assert (again.key, again.attempt) == (key_a, 2)
    again.retry()  # failed again: the next back-off (2 s) counts from now
    now[0] += 1.5
    assert arrivals.poll() == []
    now[0] += 0.6
    (third,) = arrivals.poll()
    assert (third.key, third.attempt) == (key_a, 3)
    assert retry_delay(10, initial=1.0, cap=4.0) == 4.0  # bounded

    # Acked but left in place (a handler that did not move it): not returned again and again ...
    third.ack()
    now[0] += 100
    assert arrivals.poll() == []
    # ... until a new version lands under the same key.
    time.sleep(0.01)
    objects.put_bytes(key_a, data_a + b"\n")
    assert [(a.key, a.attempt) for a in arrivals.poll()] == [(key_a, 1)]


def test_the_loop_survives_failing_polls_and_handlers_and_stops_promptly() -> None:
    acked: list[str] = []
    polls = [0]

    class Flaky:
        idle_seconds = 0.01

        def poll(self) -> list[Arrival]:
            polls[0] += 1
            if polls[0] == 1:
                raise OSError("listing failed")
            if polls[0] == 2:
                now = datetime.now(UTC)
                return [Arrival(k, now, ack=lambda k=k: acked.append(k)) for k in ("bad", "good")]
            return []

    errors: list[tuple[str, str]] = []

    def handle(arrival: Arrival) -> None:
        if arrival.key == "bad":
            raise ValueError("boom")

    def on_error(arrival: Arrival, exc: Exception) -> None:
        errors.append((arrival.key, str(exc)))
        raise RuntimeError("a failing error reporter does not end the loop either")

    stop = threading.Event()
    result: list[ConsumerStats] = []
    thread = threading.Thread(target=lambda: result.append(run(Flaky(), handle, stop=stop, on_error=on_error)))
    thread.start()
    wait_for(lambda: polls[0] >= 5, "the loop keeps polling after the errors")
    stop.set()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert errors == [("bad", "boom")]
    assert acked == ["good"]  # the failed one is not acked
    (stats,) = result
    assert (stats.handled, stats.failed, stats.poll_failures) == (1, 1, 1)


# ------------------------------------------------------------------------------------------------ SQS on moto


def test_parse_s3_message_decodes_keys_and_tells_test_events_and_garbage_apart() -> None:
    event = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "eventTime": "2026-11-20T16:40:01.250Z",
                "s3": {"bucket": {"name": "frgm"}, "object": {"key": "market-data/2026/11/20/a+b%2Bc.csv"}},
            },
            {"eventName": "ObjectRemoved:Delete", "s3": {"object": {"key": "x"}}},
        ]
    }
    (created,) = parse_s3_message(json.dumps(event))
    assert created.key == "market-data/2026/11/20/a b+c.csv"
    assert created.event_time == datetime(2026, 11, 20, 16, 40, 1, 250000, tzinfo=UTC)
    wrapped = json.dumps({"Type": "Notification", "Message": json.dumps(event)})  # S3 -> SNS -> SQS
    assert [e.key for e in parse_s3_message(wrapped)] == [created.key]
    assert parse_s3_message(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})) is None
    for garbage in ("not json", "[]", json.dumps({"Records": "x"}), json.dumps({"Records": [{"s3": {}}]})):
        with pytest.raises(NotAnS3Event):
            parse_s3_message(garbage)


@pytest.fixture
def sqs_bucket(moto_server: str) -> dict[str, Any]:
    """A bucket whose object-created events go to a fresh queue (visibility timeout 1 s), on moto server."""
    name = f"desk-{uuid.uuid4().hex[:10]}"
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_server)
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=moto_server)
    s3.create_bucket(Bucket=name)
    queue_url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=name,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    return {"bucket": name, "queue_url": queue_url, "s3": s3, "sqs": sqs, "endpoint": moto_server}


def poll_until(arrivals: SqsArrivals, condition: Callable[[list[Arrival]], bool], what: str) -> list[Arrival]:
    end = time.monotonic() + DEADLINE_SECONDS
    while True:
        got = arrivals.poll()
        if condition(got):
            return got
        if time.monotonic() > end:
            pytest.fail(f"not within {DEADLINE_SECONDS:g} s: {what}")


def queue_depth(sqs_bucket: dict[str, Any]) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attrs = sqs_bucket["sqs"].get_queue_attributes(QueueUrl=sqs_bucket["queue_url"], AttributeNames=names)
    return sum(int(attrs["Attributes"][n]) for n in names)


def test_sqs_arrivals_decode_the_key_retry_unacked_and_drop_garbage(sqs_bucket: dict[str, Any]) -> None:
    arrivals = SqsArrivals(sqs_bucket["queue_url"], "us-east-1", wait_seconds=1, endpoint_url=sqs_bucket["endpoint"])
    # Configuring the notification sent S3's test event: dropped.
    poll_until(arrivals, lambda _: arrivals.dropped >= 1, "the s3:TestEvent dropped")
    assert queue_depth(sqs_bucket) == 0

    key = "market-data/2026/11/20/GE_XCME.ZN 20261120+103938.csv"  # a space and a plus
    before = datetime.now(UTC) - timedelta(seconds=5)
    sqs_bucket["s3"].put_object(Bucket=sqs_bucket["bucket"], Key=key, Body=b"x")
    (first,) = poll_until(arrivals, bool, "the object-created event")
    assert first.key == key
    assert first.attempt == 1
    assert before <= first.arrived_at <= datetime.now(UTC) + timedelta(seconds=5)

    # Not acked: it comes back after the visibility timeout (1 s).
    (again,) = poll_until(arrivals, bool, "the un-acked message delivered again")
    assert (again.key, again.attempt) == (key, 2)
    again.ack()
    quiet_until = time.monotonic() + 2.5  # past the visibility timeout: an acked message does not come back
    while time.monotonic() < quiet_until:
        assert arrivals.poll() == []
    assert queue_depth(sqs_bucket) == 0

    dropped = arrivals.dropped
    sqs_bucket["sqs"].send_message(QueueUrl=sqs_bucket["queue_url"], MessageBody="<html>not an event</html>")
    poll_until(arrivals, lambda _: arrivals.dropped > dropped, "the garbage message dropped")
    assert queue_depth(sqs_bucket) == 0


def test_the_consumer_processes_files_announced_by_s3_events(
    sqs_bucket: dict[str, Any], store: CentralStore, cache: RedisCache
) -> None:
    objects = S3ObjectStore(bucket=sqs_bucket["bucket"], endpoint_url=sqs_bucket["endpoint"])
    arrivals = SqsArrivals(sqs_bucket["queue_url"], "us-east-1", wait_seconds=1, endpoint_url=sqs_bucket["endpoint"])
    history = CentralStoreDeskHistory(store=store)
    files = sample_market_files()[:5]

    with Consumer(arrivals, objects, cache, history) as consumer:
        for key, data in files:
            objects.put_bytes(key, data)
        wanted = {key for key, _ in files}
        wait_for(lambda: wanted <= {o.key for o in consumer.outcomes}, "the 5 files processed")
        # The archive copies under processed/ raised events too: routed as not ours, ignored, acked like the rest.
        wait_for(lambda: queue_depth(sqs_bucket) == 0, "every message acked (deleted)")

    assert consumer.errors == []
    by_key = {o.key: o.outcome for o in consumer.outcomes}
    assert {key: by_key[key] for key, _ in files} == {key: "processed" for key, _ in files}
    for key, _ in files:
        assert objects.exists(processed_key(key))
        assert not objects.exists(key)
        assert history.count_for_source("market", key) > 0
    assert {o.outcome for o in consumer.outcomes if o.key not in wanted} <= {"ignored"}


# ------------------------------------------------------------------------------------------------ the service


def load_service_module() -> Any:
    path = Path(__file__).resolve().parents[2] / "scripts" / "desk_service.py"
    spec = importlib.util.spec_from_file_location("desk_service_under_test", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def test_service_settings_come_from_the_environment_and_bad_ones_stop_the_start() -> None:
    service = load_service_module()
    assert service.settings_from({}) == service.Settings(0.1, 30.0, "America/Chicago", None, 1)
    settings = service.settings_from(
        {"OPS_DESK_POLL_SECONDS": "0.5", "OPS_DESK_SNAPSHOT_SECONDS": "15", "OPS_DESK_TIMEZONE": "Europe/London"}
    )
    assert (settings.poll_seconds, settings.snapshot_seconds, settings.timezone) == (0.5, 15.0, "Europe/London")
    for bad in ({"OPS_DESK_POLL_SECONDS": "fast"}, {"OPS_DESK_SNAPSHOT_SECONDS": "0"}, {"OPS_DESK_TIMEZONE": "Mars"}):
        with pytest.raises(SystemExit, match=next(iter(bad))):
            service.settings_from(bad)


def test_the_service_runs_both_loops_and_alerts_once_per_failure_streak(local: dict[str, Any]) -> None:
    from resources.sample_sources.tt_orders import SAMPLE_TT_CREDENTIALS_JSON, TTOrdersSampleServer
    from resources.secrets import StaticSecrets
    from resources.working_orders import TTWorkingOrdersSource

    module = load_service_module()
    objects, real = local["objects"], local["latest"]
    target: dict[str, Any] = {"latest": RedisCache(port=free_port(), key_prefix=real.key_prefix, retries=0)}

    class Switchable:  # Redis, down until the test brings it back
        def __getattr__(self, name: str) -> Any:
            return getattr(target["latest"], name)

    alerts: list[str] = []
    errors: list[str] = []
    files = sample_market_files()[:3]
    with TTOrdersSampleServer() as server:
        source = TTWorkingOrdersSource(
            base_url=server.base_url, secrets=StaticSecrets(values={"dev/tt-api": SAMPLE_TT_CREDENTIALS_JSON})
        )
        service = module.DeskService(
            arrivals=ListingArrivals(
                objects, interval_seconds=0.02, retry_initial_seconds=0.02, retry_max_seconds=0.05
            ),
            objects=objects,
            latest=Switchable(),
            history=local["history"],
            source=source,
            alert=lambda subject, body: alerts.append(subject),
            settings=module.Settings(poll_seconds=0.02, snapshot_seconds=0.1),
        )
        count_errors = service.on_error

        def on_error(arrival: Arrival, exc: Exception) -> None:
            errors.append(arrival.key)
            count_errors(arrival, exc)

        service.on_error = on_error
        stop = threading.Event()
        thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
        thread.start()
        try:
            for key, data in files:
                objects.put_bytes(key, data)
            wait_for(lambda: len(errors) >= 3 * len(files), "each file failed a few times while Redis was down")
            wait_for(lambda: "Desk snapshots FAILING - RedisUnavailableError" in alerts, "a snapshot failed")
            target["latest"] = real  # Redis is back
            wait_for(lambda: not list(objects.list("market-data/")), "the files went through")
            wait_for(lambda: real.read_orders().state == "orders", "a snapshot stored")
            wait_for(lambda: "Desk snapshots RECOVERED" in alerts, "the snapshots' recovery alert")
        finally:
            stop.set()
            thread.join(timeout=30)
        assert not thread.is_alive()

    assert Counter(alerts) == {
        "Desk files FAILING - RedisUnavailableError": 1,
        "Desk files RECOVERED": 1,
        "Desk snapshots FAILING - RedisUnavailableError": 1,
        "Desk snapshots RECOVERED": 1,
    }
    for key, _ in files:
        assert objects.exists(processed_key(key))
    assert list(objects.list("working-orders/"))
