"""Notifier: pipeline notifications to a local outbox file plus the log (local), or an SNS topic (aws)."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path

import boto3
import dagster as dg

logger = logging.getLogger(__name__)

# SNS rejects subjects longer than 100 characters.
MAX_SUBJECT_LENGTH = 100

# A dotted path to a class and a colon, as exceptions print: "dagster._core.definitions.events.Failure: ".
_CLASS_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z_]\w*\.)+[A-Z]\w*:\s*")


def for_people(subject: str, body: str) -> tuple[str, str]:
    """Subject and body as people should read them: no Python class paths in the subject or the body's first
    line (the senders write words; this is the safety net for an exception text passed through as is), and the
    subject within SNS's 100 characters (cut with "...")."""
    subject = _CLASS_PATH.sub("", subject).strip()
    if len(subject) > MAX_SUBJECT_LENGTH:
        subject = subject[: MAX_SUBJECT_LENGTH - 3] + "..."
    first, newline, rest = body.partition("\n")
    return subject, _CLASS_PATH.sub("", first) + newline + rest


class Notifier(dg.ConfigurableResource):
    """Interface: ``publish(subject, body)``."""

    def publish(self, subject: str, body: str) -> str:
        """Send one notification; return an identifier of what was sent (message id or outbox line)."""
        raise NotImplementedError


class LocalOutboxNotifier(Notifier):
    """Appends each notification as one JSON line to ``outbox_path`` and logs its subject."""

    outbox_path: str

    def publish(self, subject: str, body: str) -> str:
        subject, body = for_people(subject, body)
        path = Path(self.outbox_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"sent_at": datetime.now(UTC).isoformat(), "subject": subject, "body": body}
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        logger.info("Notification written to %s: %s", path, subject)
        return f"{path}:{record['sent_at']}"


class SnsNotifier(Notifier):
    """Publishes to an SNS topic (email subscribers get the subject and body as sent)."""

    topic_arn: str
    region_name: str = "us-east-1"
    endpoint_url: str | None = None

    def publish(self, subject: str, body: str) -> str:
        subject, body = for_people(subject, body)
        client = boto3.client("sns", region_name=self.region_name, endpoint_url=self.endpoint_url or None)
        response = client.publish(TopicArn=self.topic_arn, Subject=subject, Message=body)
        return response["MessageId"]


def read_outbox(outbox_path: str | Path) -> list[dict[str, str]]:
    """The notifications in a local outbox, oldest first."""
    path = Path(outbox_path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
