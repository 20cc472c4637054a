"""Notifier: pipeline notifications to a local outbox file plus the log (local), or an SNS topic (aws)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import boto3
import dagster as dg

logger = logging.getLogger(__name__)

# SNS rejects subjects longer than 100 characters.
MAX_SUBJECT_LENGTH = 100


class Notifier(dg.ConfigurableResource):
    """Interface: ``publish(subject, body)``."""

    def publish(self, subject: str, body: str) -> str:
        """Send one notification; return an identifier of what was sent (message id or outbox line)."""
        raise NotImplementedError


class LocalOutboxNotifier(Notifier):
    """Appends each notification as one JSON line to ``outbox_path`` and logs its subject."""

    outbox_path: str

    def publish(self, subject: str, body: str) -> str:
        path = Path(self.outbox_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"sent_at": datetime.now(UTC).isoformat(), "subject": subject[:MAX_SUBJECT_LENGTH], "body": body}
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
        client = boto3.client("sns", region_name=self.region_name, endpoint_url=self.endpoint_url or None)
        response = client.publish(TopicArn=self.topic_arn, Subject=subject[:MAX_SUBJECT_LENGTH], Message=body)
        return response["MessageId"]


def read_outbox(outbox_path: str | Path) -> list[dict[str, str]]:
    """The notifications in a local outbox, oldest first."""
    path = Path(outbox_path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
