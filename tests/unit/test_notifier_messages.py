"""The notifier's safety net: no Python class path reaches a subject or a first line, subjects fit SNS."""

from __future__ import annotations

from pathlib import Path

from resources.notifier import LocalOutboxNotifier, for_people, read_outbox


def test_class_paths_are_removed_from_subject_and_first_line_only() -> None:
    subject, body = for_people(
        "Desk FAILED - dagster._core.definitions.events.Failure: feed stalled",
        "resources.cache.RedisUnavailableError: Redis down\ntraceback keeps dagster._core.errors.X: as is",
    )
    assert subject == "Desk FAILED - feed stalled"
    assert body.splitlines()[0] == "Redis down"
    assert "dagster._core.errors.X: as is" in body


def test_words_times_and_urls_are_left_alone() -> None:
    text = "Run FAILED - news_job: see https://ui.example.com/runs/1 at 12:00; KeyError: 'x'; version 1.2: ok"
    assert len(text) < 100
    assert for_people(text, "a.b c: d") == (text, "a.b c: d")
    assert for_people("Freshness WARN - 2 stale: a, b", "")[0] == "Freshness WARN - 2 stale: a, b"


def test_the_outbox_gets_the_cleaned_message(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    LocalOutboxNotifier(outbox_path=str(outbox)).publish("x" * 150, "ops.Boom: first\nsecond")
    [message] = read_outbox(outbox)
    assert len(message["subject"]) == 100
    assert message["body"] == "first\nsecond"
