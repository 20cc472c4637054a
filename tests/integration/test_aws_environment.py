"""OPS_ENV=aws end to end: Dagster storage in the machine's PostgreSQL, S3/SNS/SSM on a moto server.

The run is launched from the CLI with infra/dagster.yaml as the instance config, exactly as production
loads it; only the endpoints differ.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import boto3
import dagster as dg
import psycopg2
import pyarrow.parquet as pq
import pytest

from ops_assets.cli import materialize_command
from ops_assets.fundamentals.sensors import notify_success
from resources.notifier import SnsNotifier
from resources.sample_sources.server import AlphaVantageSampleServer
from tests.conftest import pg_url

REPO = Path(__file__).resolve().parents[2]
PARTITION = "2026-11-22"
SSM_KEY = "ssm-held-key-5f2b"

pytestmark = pytest.mark.integration


@pytest.fixture
def aws_env(moto_server: str, pg_database: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    bucket = f"financial-data-pipeline-{pg_database['db_name'][-12:]}"
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "infra" / "dagster.yaml").read_text())
    settings = {
        "OPS_ENV": "aws",
        "DAGSTER_HOME": str(home),
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_REGION": "us-east-1",
        "OPS_BUCKET": bucket,
        "DAGSTER_PG_HOST": pg_database["host"],
        "DAGSTER_PG_PORT": pg_database["port"],
        "DAGSTER_PG_USER": pg_database["user"],
        "DAGSTER_PG_PASSWORD": pg_database["password"],
        "DAGSTER_PG_DB": pg_database["db_name"],
        "DAGSTER_COMPUTE_LOGS_BUCKET": f"{bucket}-logs",
        "OPS_ALPHA_VANTAGE_REQUESTS_PER_MINUTE": "60000",
        "OPS_CENTRAL_STORE_URL": pg_url(pg_database),
        # Not polled here (no event-pipeline run in this module): in aws they must be configured all the same.
        "OPS_NEWS_FEEDS": "wire=http://127.0.0.1:9/feed.xml",
        "OPS_MARKETS_WATCHED_TICKERS": "AXQT",
        "OPS_REDIS_HOST": "127.0.0.1",
        "OPS_TT_API_URL": "http://127.0.0.1:9",
    }
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=f"{bucket}-logs")
    sns = boto3.client("sns", endpoint_url=moto_server, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    topic = sns.create_topic(Name="financial-pipeline-notifications")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"inbox-{pg_database['db_name']}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    boto3.client("ssm", endpoint_url=moto_server, region_name="us-east-1").put_parameter(
        Name="/avpipeline/alpha-vantage-api-key", Value=SSM_KEY, Type="SecureString", Overwrite=True
    )
    settings["OPS_SNS_TOPIC_ARN"] = topic
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ALPHA_VANTAGE_API_KEY", raising=False)
    return {
        "bucket": bucket,
        "logs_bucket": f"{bucket}-logs",
        "s3": s3,
        "sqs": sqs,
        "queue_url": queue_url,
        "topic": topic,
        "home": home,
        "pg": pg_database,
    }


def materialize_from_cli() -> subprocess.CompletedProcess:
    command = materialize_command(PARTITION, sys.executable)
    return subprocess.run(command, cwd=REPO, env=dict(os.environ), capture_output=True, text=True, timeout=300)


def test_weekly_run_on_aws_configuration(aws_env: dict, moto_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with AlphaVantageSampleServer(invalid_keys=frozenset({"bad-key"})) as server:
        monkeypatch.setenv("OPS_ALPHA_VANTAGE_BASE_URL", server.url)
        result = materialize_from_cli()
        assert result.returncode == 0, result.stderr[-3000:]
        assert server.requests, "the client never reached the Alpha Vantage server"

    # The artifact is in S3 under the dated key.
    key = f"ttm-artifacts/{PARTITION}/ttm_per_share_financial_artifact.parquet"
    body = aws_env["s3"].get_object(Bucket=aws_env["bucket"], Key=key)["Body"].read()
    assert pq.read_table(BytesIO(body)).num_rows > 0

    # Dagster's run and event storage is the PostgreSQL database.
    with (
        psycopg2.connect(dbname=aws_env["pg"]["db_name"], host="127.0.0.1", user="postgres") as conn,
        conn.cursor() as cur,
    ):
        cur.execute("SELECT run_id, status FROM runs")
        runs = cur.fetchall()
    assert [status for _, status in runs] == ["SUCCESS"]
    # The steps' stdout/stderr are in the compute-log bucket (S3ComputeLogManager of infra/dagster.yaml).
    logs = aws_env["s3"].list_objects_v2(Bucket=aws_env["logs_bucket"], Prefix=f"compute-logs/storage/{runs[0][0]}/")
    assert logs.get("KeyCount", 0) > 0

    # The success notification goes to SNS and is read back through the SQS subscription.
    instance = dg.DagsterInstance.get()
    assert "Postgres" in type(instance.run_storage).__name__
    run = instance.get_run_by_id(runs[0][0])
    # What fundamentals_success_notification does for each finished run it reads.
    notify_success(instance, run, SnsNotifier(topic_arn=aws_env["topic"], endpoint_url=moto_server))
    instance.dispose()
    messages = aws_env["sqs"].receive_message(QueueUrl=aws_env["queue_url"], MaxNumberOfMessages=10)["Messages"]
    envelope = json.loads(messages[0]["Body"])
    assert envelope["Subject"] == f"Financial Pipeline SUCCESS - {PARTITION}"
    assert f"s3://{aws_env['bucket']}/{key}" in envelope["Message"]
    # The key came from SSM and never reached logs.
    assert SSM_KEY not in result.stdout + result.stderr


def test_wrong_key_in_ssm_fails_the_run_without_artifact(
    aws_env: dict, monkeypatch: pytest.MonkeyPatch, moto_server: str
) -> None:
    boto3.client("ssm", endpoint_url=moto_server, region_name="us-east-1").put_parameter(
        Name="/avpipeline/alpha-vantage-api-key", Value="bad-key", Type="SecureString", Overwrite=True
    )
    with AlphaVantageSampleServer(invalid_keys=frozenset({"bad-key"})) as server:
        monkeypatch.setenv("OPS_ALPHA_VANTAGE_BASE_URL", server.url)
        result = materialize_from_cli()
    assert result.returncode != 0
    assert "rejected the API key as invalid or missing" in result.stdout + result.stderr
    listing = aws_env["s3"].list_objects_v2(Bucket=aws_env["bucket"], Prefix="ttm-artifacts/")
    assert listing.get("KeyCount", 0) == 0
