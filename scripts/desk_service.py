"""The trading desk's always-on service: landed Actant files -> Redis within 2 s, TT working orders every 30 s.

One process, two loops (see :mod:`ops_assets.desk.consumer` and :mod:`ops_assets.desk.snapshotter` for why they
live outside Dagster):

- the **consumer** (main thread): each landed ``market-data/``, ``eod/`` or ``sod/`` file goes through
  :func:`ops_assets.desk.processing.process_file` as soon as it is seen. ``OPS_ENV=local``: the local object
  store's landing prefixes are listed every ``OPS_DESK_POLL_SECONDS``; ``OPS_ENV=aws``: the SQS queue
  ``OPS_DESK_QUEUE_URL`` that receives the bucket's ``s3:ObjectCreated:*`` notifications is long-polled. A file
  that fails stays where it landed and is retried with a bounded back-off (the reconciliation sensor in Dagster
  also picks up anything left behind); an alert goes out when files start failing and when they recover.
- the **snapshotter** (a thread): a TT working-orders snapshot every ``OPS_DESK_SNAPSHOT_SECONDS`` on fixed marks
  (no drift, no overlap); TT down keeps the last good orders, marked stale, with one alert per outage.

The parts come from the environment (:func:`ops_assets.environments.resources_for`: ``object_store``,
``desk_cache``, ``desk_history``, ``working_orders``, ``notifier``). SIGTERM (ECS stopping the task) and SIGINT
(Ctrl-C) stop both loops cleanly: the file in hand is finished, a file not acked comes back later.

Settings (environment variables):

``OPS_DESK_POLL_SECONDS``
    How often the local object store's landing prefixes are listed (local only). Default ``0.1``.
``OPS_DESK_SNAPSHOT_SECONDS``
    The working-orders snapshot cadence. Default ``30``.
``OPS_DESK_TIMEZONE``
    The IANA zone of Actant's naive timestamps. Default ``America/Chicago``.
``OPS_DESK_QUEUE_URL``
    (aws, required) the SQS queue of the bucket's object-created notifications.
``OPS_DESK_SQS_WAIT_SECONDS``
    (aws) the SQS long-poll wait, 0-20. Default ``1`` (a stop is noticed within it).

Run it::

    .venv/bin/python scripts/desk_service.py                  # until SIGTERM / Ctrl-C
    .venv/bin/python scripts/desk_service.py --for-seconds 60  # a bounded run (demos, smoke tests)
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ops_assets.desk.consumer import Arrival, Arrivals, ListingArrivals, SqsArrivals
from ops_assets.desk.consumer import run as run_consumer
from ops_assets.desk.parsing import ACTANT_TIMEZONE, resolve_timezone
from ops_assets.desk.processing import FileOutcome, process_file
from ops_assets.desk.snapshotter import SnapshotOutcome, run_snapshots, take_snapshot

logger = logging.getLogger("desk_service")

PREFIX = "OPS_DESK_"
REQUIRED_RESOURCES = ("object_store", "desk_cache", "desk_history", "working_orders", "notifier")
FAILING_FORGET_SECONDS = 600.0
"""A failing key not seen again for this long was handled elsewhere (the reconciliation sensor): forgotten."""
SNAPSHOT_JOIN_SECONDS = 30.0


@dataclass(frozen=True)
class Settings:
    poll_seconds: float = 0.1
    snapshot_seconds: float = 30.0
    timezone: str = ACTANT_TIMEZONE
    queue_url: str | None = None
    sqs_wait_seconds: int = 1


def settings_from(environ: Mapping[str, str]) -> Settings:
    """The settings above; a malformed value stops the start with a message naming the variable."""

    def raw(name: str) -> str | None:
        value = environ.get(PREFIX + name, "").strip()
        return value or None

    def number(name: str, default: float, low: float, high: float) -> float:
        value = raw(name)
        if value is None:
            return default
        try:
            parsed = float(value)
        except ValueError:
            raise SystemExit(f"{PREFIX}{name} must be a number, got {value!r}") from None
        if not (math.isfinite(parsed) and low <= parsed <= high):
            raise SystemExit(f"{PREFIX}{name} must be between {low:g} and {high:g}, got {value!r}")
        return parsed

    defaults = Settings()
    timezone = raw("TIMEZONE") or defaults.timezone
    try:
        resolve_timezone(timezone)
    except ValueError as exc:
        raise SystemExit(f"{PREFIX}TIMEZONE: {exc}") from None
    return Settings(
        poll_seconds=number("POLL_SECONDS", defaults.poll_seconds, 0.01, 60.0),
        snapshot_seconds=number("SNAPSHOT_SECONDS", defaults.snapshot_seconds, 1.0, 3600.0),
        timezone=timezone,
        queue_url=raw("QUEUE_URL"),
        sqs_wait_seconds=int(number("SQS_WAIT_SECONDS", defaults.sqs_wait_seconds, 0, 20)),
    )


class DeskService:
    """The consumer and the snapshotter over given parts (``alert(subject, body)`` sends a notification)."""

    def __init__(
        self,
        *,
        arrivals: Arrivals,
        objects: Any,
        latest: Any,
        history: Any,
        source: Any,
        alert: Callable[[str, str], None],
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.arrivals = arrivals
        self.objects = objects
        self.latest = latest
        self.history = history
        self.source = source
        self.alert = alert
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._failing: dict[str, float] = {}  # key -> monotonic time of its last failure
        self._snapshot_failing = False

    # -- the consumer ------------------------------------------------------------------------------------------

    def handle(self, arrival: Arrival) -> FileOutcome:
        outcome = process_file(
            arrival.key,
            objects=self.objects,
            latest=self.latest,
            history=self.history,
            arrived_at=arrival.arrived_at,
            timezone=self.settings.timezone,
            alert=self._send,
        )
        lag = (datetime.now(UTC) - arrival.arrived_at).total_seconds()
        logger.info(
            "%s %s (%s, %d rows, attempt %d, %.0f ms after landing)",
            outcome.outcome,
            arrival.key,
            outcome.kind or "-",
            outcome.rows,
            arrival.attempt,
            lag * 1000,
        )
        self._succeeded(arrival.key)
        return outcome

    def on_error(self, arrival: Arrival, exc: Exception) -> None:
        logger.error(
            "processing %s failed (attempt %d), it stays and is retried: %s", arrival.key, arrival.attempt, exc
        )
        now = self._clock()
        with self._lock:
            for key in [k for k, at in self._failing.items() if now - at > FAILING_FORGET_SECONDS]:
                del self._failing[key]
            first = not self._failing
            self._failing[arrival.key] = now
        if first:
            self._send(
                f"Desk files FAILING - {type(exc).__name__}",
                f"Processing {arrival.key} failed: {exc}\nFiles stay where they landed and are retried with a "
                "back-off (nothing is lost); one more alert when they go through again.",
            )

    def _succeeded(self, key: str) -> None:
        with self._lock:
            if key not in self._failing:
                return
            del self._failing[key]
            recovered = not self._failing
        if recovered:
            self._send("Desk files RECOVERED", f"{key} and the other failed files went through.")

    # -- the snapshotter ---------------------------------------------------------------------------------------

    def take(self, now: datetime) -> SnapshotOutcome:
        outcome = take_snapshot(
            now, source=self.source, latest=self.latest, history=self.history, objects=self.objects, alert=self._send
        )
        if outcome.outcome == "taken":
            logger.info("working orders: %d at %s -> %s", outcome.orders, outcome.at.isoformat(), outcome.key)
        if self._snapshot_failing:
            self._snapshot_failing = False
            self._send("Desk snapshots RECOVERED", "Working-orders snapshots are written again.")
        return outcome

    def on_snapshot_error(self, exc: Exception) -> None:
        if not self._snapshot_failing:
            self._snapshot_failing = True
            self._send(
                f"Desk snapshots FAILING - {type(exc).__name__}",
                f"A working-orders snapshot could not be stored: {exc}\nThe next ticks try again.",
            )

    # -- both --------------------------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Both loops until ``stop``: the snapshotter in a thread, the consumer here."""
        snapshots = threading.Thread(
            target=run_snapshots,
            args=(self.take,),
            kwargs={"interval": self.settings.snapshot_seconds, "stop": stop, "on_error": self.on_snapshot_error},
            name="desk-snapshotter",
            daemon=True,
        )
        snapshots.start()
        try:
            stats = run_consumer(self.arrivals, self.handle, stop=stop, on_error=self.on_error)
            logger.info(
                "consumer stopped: %d handled, %d failed, %d failed polls",
                stats.handled,
                stats.failed,
                stats.poll_failures,
            )
        finally:
            stop.set()
            snapshots.join(SNAPSHOT_JOIN_SECONDS)
            if snapshots.is_alive():
                logger.warning("the snapshot in progress did not end within %.0f s; exiting", SNAPSHOT_JOIN_SECONDS)

    def _send(self, subject: str, body: str) -> None:
        try:
            self.alert(subject, body)
        except Exception:
            logger.exception("could not send the alert %r", subject)


def build(resources: Mapping[str, Any], env: str, settings: Settings, stack: ExitStack) -> DeskService:
    """The service over the environment's resources, initialised here and torn down when ``stack`` closes (outside
    Dagster, ``dg.EnvVar`` fields are resolved by ``process_config_and_initialize``; the ``_cm`` form runs the
    teardown of those that have one, e.g. the TT source's HTTP session)."""
    missing = [name for name in REQUIRED_RESOURCES if name not in resources]
    if missing:
        raise SystemExit(f"The {env} environment provides no {', '.join(missing)} resource(s) for the desk service.")
    parts = {
        name: stack.enter_context(resources[name].process_config_and_initialize_cm()) for name in REQUIRED_RESOURCES
    }
    objects = parts["object_store"]
    arrivals: Arrivals
    if env == "aws":
        if not settings.queue_url:
            raise SystemExit(f"{PREFIX}QUEUE_URL must name the SQS queue of the bucket's object-created events.")
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        arrivals = SqsArrivals(settings.queue_url, region, wait_seconds=settings.sqs_wait_seconds)
    else:
        arrivals = ListingArrivals(objects, interval_seconds=settings.poll_seconds)
    notifier = parts["notifier"]
    return DeskService(
        arrivals=arrivals,
        objects=objects,
        latest=parts["desk_cache"],
        history=parts["desk_history"],
        source=parts["working_orders"],
        alert=notifier.publish,
        settings=settings,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--for-seconds", type=float, default=None, help="stop after this long (default: run on)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the local central store's migrations, not ours

    from ops_assets.environments import current_environment, resources_for

    settings = settings_from(os.environ)
    env = current_environment()
    with ExitStack() as stack:
        serve(build(resources_for(env), env, settings, stack), env, settings, args.for_seconds)


def serve(service: DeskService, env: str, settings: Settings, for_seconds: float | None) -> None:
    """Run ``service`` until SIGTERM / SIGINT (or ``for_seconds``)."""
    try:
        service.latest.ping()
    except Exception as exc:  # keep running: files wait where they land and go through once Redis is back
        logger.error("Redis does not answer yet (files will wait and be retried): %s", exc)

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        logger.info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if for_seconds is not None:
        timer = threading.Timer(for_seconds, stop.set)
        timer.daemon = True
        timer.start()
    logger.info(
        "desk service (%s): %s, snapshots every %g s, Actant times in %s",
        env,
        f"SQS {settings.queue_url}" if env == "aws" else f"listing the object store every {settings.poll_seconds:g} s",
        settings.snapshot_seconds,
        settings.timezone,
    )
    service.run(stop)


if __name__ == "__main__":
    main()
