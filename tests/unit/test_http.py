"""The shared HTTP retry plumbing (resources/http.py) against a scripted loopback server (real HTTP)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from resources.http import (
    HTTPRequestError,
    RetriesExhausted,
    RetryPolicy,
    SessionHolder,
    TransientHTTPError,
    call_with_retries,
    check_transient_status,
    get,
    read_body,
)
from resources.sample_sources.local_http import LocalHttpServer
from tests.conftest import free_port

FAST = RetryPolicy(max_attempts=3, backoff_initial_seconds=0.01, backoff_max_seconds=0.02)


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        app: ScriptedServer = self.server.app  # type: ignore[attr-defined]
        step = app.next_step()
        app.paths.append(self.path)
        if step == "stall":
            time.sleep(1.0)
            return
        if step == "drop-mid-body":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        status = int(step)
        body = b"y" * app.body_bytes
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class ScriptedServer(LocalHttpServer):
    """Answers each GET with the next scripted step: a status code, ``"stall"`` or ``"drop-mid-body"``; then 200."""

    handler = _Handler
    thread_name = "scripted-http"

    def __init__(self) -> None:
        self.steps: list[str] = []
        self.paths: list[str] = []
        self.body_bytes = 5
        self._lock = threading.Lock()

    def script(self, *steps: str | int) -> None:
        with self._lock:
            self.steps = [str(s) for s in steps]
            self.paths = []

    def next_step(self) -> str:
        with self._lock:
            return self.steps.pop(0) if self.steps else "200"


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as srv:
        yield srv


@pytest.fixture
def holder() -> Iterator[SessionHolder]:
    sessions = SessionHolder()
    yield sessions
    sessions.close()


def fetch(server: ScriptedServer, holder: SessionHolder, timeout: float = 2.0, max_bytes: int = 1000) -> bytes:
    """What each resource's attempt does: get, transient statuses, bounded body."""
    response = get(holder.session(), server.base_url + "/x", timeout=timeout, stream=True)
    with response:
        check_transient_status(response, also=(429,))
        if response.status_code != 200:
            raise ValueError(f"final HTTP {response.status_code}")
        return read_body(
            response, max_bytes=max_bytes, timeout=timeout, too_large=lambda limit: ValueError(f"over {limit}")
        )


def test_5xx_and_extra_statuses_are_retried_until_an_answer(server: ScriptedServer, holder: SessionHolder) -> None:
    server.script(503, 429)
    seen: list[int] = []

    def attempt(number: int) -> bytes:
        seen.append(number)
        return fetch(server, holder)

    assert call_with_retries(attempt, FAST, name="test source") == b"yyyyy"
    assert seen == [1, 2, 3]
    assert len(server.paths) == 3


def test_running_out_says_what_happened_and_how_often(server: ScriptedServer, holder: SessionHolder) -> None:
    server.script(500, 502, 503, 504)
    with pytest.raises(RetriesExhausted) as caught:
        call_with_retries(lambda _: fetch(server, holder), FAST, name="test source")
    assert str(caught.value) == "answered HTTP 503 after 3 attempts"
    assert (caught.value.what, caught.value.http_status, caught.value.attempts) == ("answered HTTP 503", 503, 3)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    assert len(server.paths) == 3


def test_other_errors_are_not_retried(server: ScriptedServer, holder: SessionHolder) -> None:
    server.script(404)
    with pytest.raises(ValueError, match="final HTTP 404"):
        call_with_retries(lambda _: fetch(server, holder), FAST, name="test source")
    assert len(server.paths) == 1


def test_timeouts_are_transient(server: ScriptedServer, holder: SessionHolder) -> None:
    server.script("stall", "stall")
    with pytest.raises(RetriesExhausted) as caught:
        call_with_retries(
            lambda _: fetch(server, holder, timeout=0.2),
            RetryPolicy(max_attempts=2, backoff_initial_seconds=0.01, backoff_max_seconds=0.01),
            name="test source",
        )
    assert str(caught.value) == "timed out (no answer within 0.2 s) after 2 attempts"
    assert caught.value.http_status is None


def test_a_refused_connection_is_transient_and_chains_nothing(holder: SessionHolder) -> None:
    url = f"http://127.0.0.1:{free_port()}/x"
    with pytest.raises(TransientHTTPError) as caught:
        get(holder.session(), url, timeout=1)
    assert caught.value.what == "could not be reached (connection refused or dropped)"
    assert caught.value.__context__ is None  # requests' text (with the URL) is not attached
    with pytest.raises(HTTPRequestError, match=r"could not be requested \(MissingSchema\)"):
        get(holder.session(), "no-scheme/feed", timeout=1)


def test_a_body_dropped_midway_is_transient_and_retried(server: ScriptedServer, holder: SessionHolder) -> None:
    server.script("drop-mid-body")
    assert call_with_retries(lambda _: fetch(server, holder), FAST, name="test source") == b"yyyyy"
    assert len(server.paths) == 2


def test_an_oversized_body_is_the_callers_error(server: ScriptedServer, holder: SessionHolder) -> None:
    server.script(200)
    server.body_bytes = 2000
    try:
        with pytest.raises(ValueError, match="over 1000"):
            call_with_retries(lambda _: fetch(server, holder, max_bytes=1000), FAST, name="test source")
    finally:
        server.body_bytes = 5
    assert len(server.paths) == 1


def test_the_deadline_stops_waits_that_would_end_past_it(server: ScriptedServer, holder: SessionHolder) -> None:
    server.script(*([503] * 20))
    policy = RetryPolicy(max_attempts=20, backoff_initial_seconds=0.2, backoff_max_seconds=0.2, deadline_seconds=0.5)
    with pytest.raises(RetriesExhausted) as caught:
        call_with_retries(lambda _: fetch(server, holder), policy, name="test source")
    assert 1 < caught.value.attempts < 20


def test_each_retry_is_logged_with_the_name(
    server: ScriptedServer, holder: SessionHolder, caplog: pytest.LogCaptureFixture
) -> None:
    server.script(503)
    with caplog.at_level(logging.INFO, logger="resources.http"):
        call_with_retries(lambda _: fetch(server, holder), FAST, name="feed marketwire", log_level=logging.WARNING)
    (record,) = [r for r in caplog.records if r.name == "resources.http"]
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith("feed marketwire answered HTTP 503 (attempt 1); retrying in ")


def test_the_session_is_reused_and_reopened_after_close() -> None:
    holder = SessionHolder()
    first = holder.session()
    assert holder.session() is first
    holder.close()
    second = holder.session()
    assert isinstance(second, requests.Session)
    assert second is not first
    holder.close()
