"""The always-on consumer of landed desk files: the part of the feed that meets the 2-second budget.

A Dagster run takes seconds to start (``benchmarks/bench_desk_latency.py`` measures it), so a run per file
cannot put a file's prices into Redis within 2 s of landing. This loop runs in its own long-lived process
(``scripts/desk_service.py``, an ECS service in ``aws``) and calls the same plain function as the Dagster
assets and the reconciliation sensor, :func:`ops_assets.desk.processing.process_file`, as soon as a file lands.

Where arrivals come from (both answer :class:`Arrival` s from ``poll()``):

- :class:`ListingArrivals` (``local``): lists the landing prefixes (``market-data/``, ``eod/``, ``sod/``) of the
  object store every ``interval_seconds`` (0.1 s). Processed files are moved to ``processed/`` (quarantined ones
  to ``quarantine/``), so a listing holds only pending files; ``arrived_at`` is the object's ``last_modified``.
- :class:`SqsArrivals` (``aws``): long-polls the SQS queue that receives the bucket's ``s3:ObjectCreated:*``
  event notifications. The key in an S3 event is URL-encoded (``+`` for a space): it is decoded with
  ``urllib.parse.unquote_plus``. ``s3:TestEvent`` messages (sent when the notification is configured) and bodies
  that are not S3 events are deleted and logged. A message is deleted only when its file was handled; one that
  is not acked becomes visible again after its visibility timeout and is delivered again: nothing is lost, and
  the queue's redrive policy moves a message that keeps failing to the dead-letter queue.

Delivery is **at least once** in both cases (S3 events are duplicated now and then; a crash between Redis and the
ack repeats a file): ``process_file`` is idempotent on the object's key + ETag, so a repeat changes nothing.

:func:`run` is the loop: a file handled without an exception is acked; an exception is reported through
``on_error`` and the file is *not* acked, so it stays where it landed and comes back after a bounded,
exponential back-off (:func:`retry_delay`: 1 s, 2 s, 4 s ... at most 30 s by default); one file's error never
ends the loop, nor does a failing listing or receive. ``stop`` ends it within one poll.

Plain module: no Dagster.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import unquote_plus

from ops_assets.desk.files import PREFIXES, FileKind

logger = logging.getLogger(__name__)

LANDING_PREFIXES: tuple[str, ...] = (PREFIXES[FileKind.MARKET], PREFIXES[FileKind.EOD], PREFIXES[FileKind.SOD])
"""Where Actant's files land (working-orders snapshots are written by the snapshotter, never consumed)."""

DEFAULT_RETRY_INITIAL_SECONDS = 1.0
DEFAULT_RETRY_MAX_SECONDS = 30.0
POLL_FAILURE_MAX_SECONDS = 5.0
"""Longest wait between two failing listings / receives (the loop keeps trying, never dies)."""


def retry_delay(
    attempt: int, *, initial: float = DEFAULT_RETRY_INITIAL_SECONDS, cap: float = DEFAULT_RETRY_MAX_SECONDS
) -> float:
    """Seconds before a file that failed ``attempt`` times (1, 2, ...) is tried again: ``initial * 2**(attempt-1)``,
    at most ``cap``."""
    if attempt < 1:
        return 0.0
    return min(cap, initial * 2 ** min(attempt - 1, 30))


@dataclass(frozen=True)
class Arrival:
    """A landed file to handle: its object ``key`` (decoded), when it landed (aware), and ``ack`` to call once it
    was handled (the file is then done; an arrival not acked comes back later).

    ``retry`` (optional) tells the source the attempt failed, so that it schedules the next one after its back-off
    from now; ``attempt`` counts deliveries of this key (1 the first time).
    """

    key: str
    arrived_at: datetime
    ack: Callable[[], None]
    retry: Callable[[], None] | None = field(default=None, compare=False)
    attempt: int = 1


class Arrivals(Protocol):
    """A source of :class:`Arrival` s. ``poll`` answers the pending ones, oldest first (possibly none, after
    waiting at most a second or so); ``idle_seconds`` is how long :func:`run` waits after an empty poll."""

    idle_seconds: float

    def poll(self) -> list[Arrival]: ...


# ------------------------------------------------------------------------------------------------ listing


@dataclass
class _Pending:
    attempts: int
    not_before: float  # monotonic: not returned again before this, unless acked first


class ListingArrivals:
    """Arrivals from listing the landing prefixes of an object store (the local store; any store works).

    A key returned by :meth:`poll` is not returned again until its ``ack`` (then only if the object is still there
    with another ``last_modified``: a new version) or until its retry back-off has passed: ``retry_delay(n)``
    after the ``n``-th delivery (after its ``retry`` call, when the loop makes one). Keys that vanished from the
    listing (handled elsewhere, e.g. by the reconciliation sensor) are forgotten.
    """

    def __init__(
        self,
        objects: Any,
        prefixes: Sequence[str] = LANDING_PREFIXES,
        interval_seconds: float = 0.1,
        *,
        retry_initial_seconds: float = DEFAULT_RETRY_INITIAL_SECONDS,
        retry_max_seconds: float = DEFAULT_RETRY_MAX_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval_seconds < 0:
            raise ValueError(f"interval_seconds must be >= 0, got {interval_seconds}")
        self.objects = objects
        self.prefixes = tuple(prefixes)
        self.idle_seconds = float(interval_seconds)
        self.retry_initial_seconds = retry_initial_seconds
        self.retry_max_seconds = retry_max_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._done: dict[str, tuple[datetime, int]] = {}  # acked key -> (last_modified, size) it had

    @property
    def interval_seconds(self) -> float:
        return self.idle_seconds

    def poll(self) -> list[Arrival]:
        """The pending files not already out for handling, oldest ``last_modified`` first."""
        listed: list[Any] = []
        for prefix in self.prefixes:
            listed.extend(self._list(prefix))
        listed.sort(key=lambda info: (info.last_modified, info.key))
        now = self._clock()
        arrivals: list[Arrival] = []
        with self._lock:
            seen = {info.key for info in listed}
            for key in [k for k in self._pending if k not in seen]:
                del self._pending[key]
            for key in [k for k in self._done if k not in seen]:
                del self._done[key]
            for info in listed:
                key = info.key
                done = self._done.get(key)
                if done is not None:
                    if done == (info.last_modified, info.size):
                        continue  # handled, yet still there (the handler left it): not again and again
                    del self._done[key]  # a new version landed under the same key
                pending = self._pending.get(key)
                if pending is not None and now < pending.not_before:
                    continue
                attempts = 1 if pending is None else pending.attempts + 1
                delay = retry_delay(attempts, initial=self.retry_initial_seconds, cap=self.retry_max_seconds)
                self._pending[key] = _Pending(attempts, now + delay)
                arrivals.append(
                    Arrival(
                        key=key,
                        arrived_at=_aware(info.last_modified),
                        ack=_bind(self._ack, key, (info.last_modified, info.size)),
                        retry=_bind(self._retry, key),
                        attempt=attempts,
                    )
                )
        return arrivals

    def _list(self, prefix: str) -> list[Any]:
        # A file handled (moved away) by someone else while the folder is walked can vanish between the walk and
        # its stat: list again (a few times), rather than fail the whole poll.
        for attempt in range(3):
            try:
                return list(self.objects.list(prefix))
            except FileNotFoundError:
                if attempt == 2:
                    raise
        return []

    def _ack(self, key: str, version: tuple[datetime, int]) -> None:
        with self._lock:
            self._pending.pop(key, None)
            self._done[key] = version

    def _retry(self, key: str) -> None:
        with self._lock:
            pending = self._pending.get(key)
            if pending is not None:
                delay = retry_delay(pending.attempts, initial=self.retry_initial_seconds, cap=self.retry_max_seconds)
                pending.not_before = self._clock() + delay


def _bind(function: Callable[..., None], *args: Any) -> Callable[[], None]:
    def bound() -> None:
        function(*args)

    return bound


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None or value.utcoffset() is None else value


# ------------------------------------------------------------------------------------------------ SQS


@dataclass(frozen=True)
class S3Event:
    """One ``ObjectCreated`` record of an S3 event notification: the decoded key and the event's time."""

    key: str
    event_time: datetime | None
    bucket: str | None = None
    event_name: str = ""


class NotAnS3Event(ValueError):
    """A queue message that is neither an S3 event notification nor S3's test event."""


def parse_s3_message(body: str) -> list[S3Event] | None:
    """The ``ObjectCreated`` records of an SQS message body from an S3 event notification.

    Answers ``None`` for S3's ``s3:TestEvent``, ``[]`` for an event without ``ObjectCreated`` records (e.g.
    ``ObjectRemoved``), and raises :class:`NotAnS3Event` for anything else. An S3 event wrapped in an SNS
    notification (``{"Type": "Notification", "Message": "<event JSON>"}``, S3 -> SNS -> SQS fan-out) is unwrapped.
    Keys are decoded with ``unquote_plus`` (S3 writes a space as ``+`` and a ``+`` as ``%2B``).
    """
    try:
        document = json.loads(body)
    except (TypeError, ValueError):
        raise NotAnS3Event("the body is not JSON") from None
    if (
        isinstance(document, dict)
        and document.get("Type") == "Notification"
        and isinstance(document.get("Message"), str)
    ):
        try:
            document = json.loads(document["Message"])
        except ValueError:
            raise NotAnS3Event("an SNS notification whose Message is not JSON") from None
    if not isinstance(document, dict):
        raise NotAnS3Event(f"the body is a JSON {type(document).__name__}, not an S3 event")
    if document.get("Event") == "s3:TestEvent":
        return None
    records = document.get("Records")
    if not isinstance(records, list):
        raise NotAnS3Event("the body has no Records list")
    events: list[S3Event] = []
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise NotAnS3Event(f"record {number} is not an object")
        name = record.get("eventName")
        s3 = record.get("s3")
        if not isinstance(name, str) or not isinstance(s3, dict):
            raise NotAnS3Event(f"record {number} has no eventName / s3")
        if not name.startswith("ObjectCreated"):
            continue
        obj = s3.get("object")
        raw_key = obj.get("key") if isinstance(obj, dict) else None
        if not isinstance(raw_key, str) or not raw_key:
            raise NotAnS3Event(f"record {number} has no s3.object.key")
        bucket = s3.get("bucket")
        events.append(
            S3Event(
                key=unquote_plus(raw_key),
                event_time=_event_time(record.get("eventTime")),
                bucket=bucket.get("name") if isinstance(bucket, dict) else None,
                event_name=name,
            )
        )
    return events


def _event_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return _aware(parsed)


class SqsArrivals:
    """Arrivals from an SQS queue fed by the bucket's ``s3:ObjectCreated:*`` notifications (``aws``).

    ``poll`` long-polls up to ``wait_seconds`` for at most ``max_messages`` messages. ``ack`` deletes the message
    (once every file it names was acked); an un-acked message is delivered again after the queue's visibility
    timeout, or sooner after a failure: ``retry`` sets the message's visibility to the back-off of its receive
    count. Test events and garbage are deleted at once and logged. ``arrived_at`` is the event's ``eventTime``
    (else when SQS received the message).

    Set the queue's visibility timeout above the longest file's processing time (e.g. 60 s) and a redrive policy
    (e.g. 10 receives to a dead-letter queue, alarmed on); filter the bucket's notifications to the landing
    prefixes (one queue configuration per prefix). Keys outside them (``processed/``, ``working-orders/``) are
    harmless anyway: :func:`~ops_assets.desk.processing.process_file` answers ``ignored`` and the message is acked.
    """

    def __init__(
        self,
        queue_url: str,
        region_name: str,
        wait_seconds: int = 1,
        *,
        endpoint_url: str | None = None,
        max_messages: int = 10,
        retry_initial_seconds: float = DEFAULT_RETRY_INITIAL_SECONDS,
        retry_max_seconds: float = DEFAULT_RETRY_MAX_SECONDS,
        client: Any = None,
    ) -> None:
        if not queue_url:
            raise ValueError("SqsArrivals needs the queue URL (OPS_DESK_QUEUE_URL).")
        if not 0 <= wait_seconds <= 20:
            raise ValueError(f"wait_seconds must be 0-20 (SQS long polling), got {wait_seconds}")
        self.queue_url = queue_url
        self.region_name = region_name
        self.wait_seconds = int(wait_seconds)
        self.max_messages = max(1, min(10, max_messages))
        self.retry_initial_seconds = retry_initial_seconds
        self.retry_max_seconds = retry_max_seconds
        self.idle_seconds = 0.0  # the long poll already waited
        self.dropped = 0
        """Messages deleted without a file to handle (test events, garbage, events of other kinds)."""
        if client is None:
            import boto3
            from botocore.config import Config

            # The read timeout must outlast the long poll.
            config = Config(read_timeout=self.wait_seconds + 10, retries={"mode": "standard", "max_attempts": 5})
            client = boto3.client("sqs", region_name=region_name, endpoint_url=endpoint_url or None, config=config)
        self._sqs = client

    def poll(self) -> list[Arrival]:
        response = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.max_messages,
            WaitTimeSeconds=self.wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
        )
        arrivals: list[Arrival] = []
        for message in response.get("Messages", []):
            arrivals.extend(self._arrivals(message))
        return arrivals

    def _arrivals(self, message: dict[str, Any]) -> list[Arrival]:
        handle = message["ReceiptHandle"]
        message_id = message.get("MessageId", "?")
        try:
            events = parse_s3_message(message.get("Body", ""))
        except NotAnS3Event as exc:
            logger.warning(
                "SQS message %s is not an S3 event notification (%s); deleted: %.200r",
                message_id,
                exc,
                message.get("Body", ""),
            )
            self._drop(handle)
            return []
        if events is None:
            logger.info("SQS message %s is S3's test event (s3:TestEvent); deleted", message_id)
            self._drop(handle)
            return []
        if not events:
            logger.info("SQS message %s holds no ObjectCreated record; deleted", message_id)
            self._drop(handle)
            return []
        attributes = message.get("Attributes", {})
        receives = _int(attributes.get("ApproximateReceiveCount"), 1)
        sent = _int(attributes.get("SentTimestamp"), 0)
        fallback = datetime.fromtimestamp(sent / 1000, UTC) if sent else datetime.now(UTC)
        remaining = [len(events)]
        lock = threading.Lock()

        def ack() -> None:
            with lock:
                remaining[0] -= 1
                last = remaining[0] == 0
            if last:
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=handle)

        def retry() -> None:
            delay = retry_delay(receives, initial=self.retry_initial_seconds, cap=self.retry_max_seconds)
            try:
                self._sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=handle, VisibilityTimeout=max(0, round(delay))
                )
            except Exception as exc:  # the message still comes back after the queue's visibility timeout
                logger.warning("could not shorten the visibility of SQS message %s: %s", message_id, exc)

        return [
            Arrival(key=e.key, arrived_at=e.event_time or fallback, ack=ack, retry=retry, attempt=receives)
            for e in events
        ]

    def _drop(self, handle: str) -> None:
        self.dropped += 1
        self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=handle)


def _int(value: object, default: int) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


# ------------------------------------------------------------------------------------------------ the loop


@dataclass
class ConsumerStats:
    """What :func:`run` did: arrivals handled (and acked), failed (not acked), polls that failed."""

    handled: int = 0
    failed: int = 0
    poll_failures: int = 0


def run(
    arrivals: Arrivals,
    handle: Callable[[Arrival], object],
    *,
    stop: threading.Event,
    on_error: Callable[[Arrival, Exception], None],
    on_poll_error: Callable[[Exception], None] | None = None,
) -> ConsumerStats:
    """Handle arrivals until ``stop`` is set; answers what was done.

    Each arrival: ``handle(arrival)``; returned normally -> ``arrival.ack()``; raised -> ``on_error(arrival, exc)``,
    ``arrival.retry()`` when the source offers it, and no ack (the file stays and comes back after its back-off).
    An empty poll waits ``arrivals.idle_seconds`` (or until ``stop``); a failing poll is logged (and passed to
    ``on_poll_error``) and retried after 0.1 s, doubling up to :data:`POLL_FAILURE_MAX_SECONDS`. Neither a
    failing ``on_error`` nor a failing ``ack`` ends the loop (an ack that failed only means a repeat delivery).
    """
    stats = ConsumerStats()
    poll_backoff = 0.0
    while not stop.is_set():
        try:
            batch = arrivals.poll()
        except Exception as exc:
            stats.poll_failures += 1
            poll_backoff = min(POLL_FAILURE_MAX_SECONDS, max(0.1, poll_backoff * 2))
            logger.warning("polling for desk files failed (%s); trying again in %.1f s", exc, poll_backoff)
            _call_quietly(on_poll_error, exc)
            stop.wait(poll_backoff)
            continue
        poll_backoff = 0.0
        if not batch:
            idle = getattr(arrivals, "idle_seconds", 0.0)
            if idle > 0:
                stop.wait(idle)
            continue
        for arrival in batch:
            if stop.is_set():
                break  # not acked: it comes back after a restart (listing) or the visibility timeout (SQS)
            _handle_one(arrival, handle, on_error, stats)
    return stats


def _handle_one(
    arrival: Arrival,
    handle: Callable[[Arrival], object],
    on_error: Callable[[Arrival, Exception], None],
    stats: ConsumerStats,
) -> None:
    try:
        handle(arrival)
    except Exception as exc:
        stats.failed += 1
        try:
            on_error(arrival, exc)
        except Exception:
            logger.exception("on_error failed for %s", arrival.key)
        if arrival.retry is not None:
            try:
                arrival.retry()
            except Exception:
                logger.exception("scheduling the retry of %s failed", arrival.key)
        return
    stats.handled += 1
    try:
        arrival.ack()
    except Exception as exc:
        logger.warning("ack of %s failed (%s): it will be delivered again, harmlessly (idempotent)", arrival.key, exc)


def _call_quietly(function: Callable[[Exception], None] | None, exc: Exception) -> None:
    if function is None:
        return
    try:
        function(exc)
    except Exception:
        logger.exception("on_poll_error failed")
