"""Notifier (outbox file, SNS read back through SQS) and secrets (environment, SSM SecureString)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from resources.notifier import LocalOutboxNotifier, SnsNotifier, read_outbox
from resources.secrets import EnvSecrets, SecretNotFoundError, SsmSecrets, StaticSecrets


def test_outbox_appends_one_json_line_per_notification(tmp_path: Path) -> None:
    notifier = LocalOutboxNotifier(outbox_path=str(tmp_path / "out" / "outbox.jsonl"))
    notifier.publish("Financial Pipeline SUCCESS - 2026-11-22", "body one")
    notifier.publish("Financial Pipeline FAILURE - 2026-11-29", "body two")
    sent = read_outbox(tmp_path / "out" / "outbox.jsonl")
    assert [m["subject"] for m in sent] == [
        "Financial Pipeline SUCCESS - 2026-11-22",
        "Financial Pipeline FAILURE - 2026-11-29",
    ]
    assert sent[1]["body"] == "body two"


@mock_aws
def test_sns_message_arrives_on_a_subscribed_queue() -> None:
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="financial-pipeline-notifications")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    SnsNotifier(topic_arn=topic).publish("Financial Pipeline SUCCESS - 2026-11-22", "Artifact: s3://b/k")

    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    envelope = json.loads(messages[0]["Body"])
    assert envelope["Subject"] == "Financial Pipeline SUCCESS - 2026-11-22"
    assert envelope["Message"] == "Artifact: s3://b/k"


def test_env_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHA_VANTAGE_API_KEY", "k-123")
    assert EnvSecrets().get("alpha-vantage-api-key") == "k-123"
    monkeypatch.delenv("ALPHA_VANTAGE_API_KEY")
    with pytest.raises(SecretNotFoundError, match="export ALPHA_VANTAGE_API_KEY"):
        EnvSecrets().get("alpha-vantage-api-key")


def test_static_secrets() -> None:
    assert StaticSecrets(values={"a": "b"}).get("a") == "b"
    with pytest.raises(SecretNotFoundError):
        StaticSecrets(values={}).get("a")


@mock_aws
def test_ssm_secure_string_and_missing_parameter() -> None:
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name="/avpipeline/alpha-vantage-api-key", Value="s3cr3t-value", Type="SecureString"
    )
    assert SsmSecrets().get("alpha-vantage-api-key") == "s3cr3t-value"
    with pytest.raises(SecretNotFoundError, match="/avpipeline/other-key does not exist") as excinfo:
        SsmSecrets().get("other-key")
    assert "s3cr3t-value" not in str(excinfo.value)
