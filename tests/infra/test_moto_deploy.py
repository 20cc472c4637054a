"""Smoke test: each stage's template, less what moto cannot create, deploys on moto's CloudFormation; then the seed
000 testing checklist and the seed 004 bucket checks, run with the AWS CLI (awscli) against the deployed stack.

What moto does not create is listed exactly (``NOT_DEPLOYED_ON_MOTO``, repeated in docs/DEPLOY.md, "What could not
be proven here"): when a moto upgrade learns a type, this test says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest

from tests.infra.conftest import PROD_CERTIFICATE, STAGES, Synthesized
from tests.infra.moto_template import moto_subset, supported_types

pytestmark = pytest.mark.integration

NOT_DEPLOYED_ON_MOTO = {
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
    "AWS::CloudWatch::Alarm",
    "AWS::EC2::SecurityGroupEgress",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::ElastiCache::SubnetGroup",
    "AWS::Logs::MetricFilter",
    "AWS::S3::BucketPolicy",
    "AWS::SNS::Subscription",
    "AWS::SNS::TopicPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::SecretsManager::Secret",
    "AWS::SecretsManager::SecretTargetAttachment",
    "AWS::ServiceDiscovery::PrivateDnsNamespace",
    "AWS::ServiceDiscovery::Service",
    "Custom::S3BucketNotifications",
}
PARAMETERS = {
    "AlertEmail": "ops@example.com",
    "NewsFeeds": "wire=https://example.com/rss.xml",
    "WatchedTickers": "AAPL,MSFT",
}
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def aws_env(moto_server: str) -> dict[str, str]:
    return {**CREDENTIALS, "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto_server}


def _client(service: str, env: dict[str, str]) -> Any:
    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="module")
def deployed(synthesized: dict[str, Synthesized], aws_env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every stage's stack created on the moto server: {stage: {status, reason, outputs, dropped, template}}."""
    cloudformation = _client("cloudformation", aws_env)
    supported = supported_types()
    out = {}
    # prod is synthesized with an ACM certificate ARN that moto does not know: issue one there and use its ARN.
    certificate = _client("acm", aws_env).request_certificate(DomainName="ops.example.com")["CertificateArn"]
    for stage in STAGES:
        template, dropped = moto_subset(synthesized[stage].template, supported)
        template = json.loads(json.dumps(template).replace(PROD_CERTIFICATE, certificate))
        cloudformation.create_stack(
            StackName=f"OpsPlatform-{stage}",
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMETERS.items()],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
        stack = cloudformation.describe_stacks(StackName=f"OpsPlatform-{stage}")["Stacks"][0]
        out[stage] = {
            "status": stack["StackStatus"],
            "reason": stack.get("StackStatusReason"),
            "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
            "dropped": dropped,
            "template": template,
        }
    return out


@pytest.mark.parametrize("stage", STAGES)
def test_stack_creates_on_moto(deployed, stage):
    result = deployed[stage]
    assert result["status"] == "CREATE_COMPLETE", result["reason"]
    assert set(result["dropped"].values()) == NOT_DEPLOYED_ON_MOTO
    # Most of the stack is created: everything but the types above.
    assert len(result["template"]["Resources"]) >= 100


def test_created_resources_have_the_template_settings(deployed, aws_env):
    outputs = deployed["dev"]["outputs"]
    ecs = _client("ecs", aws_env)
    run = ecs.describe_task_definition(taskDefinition="ops-platform-dev-run")["taskDefinition"]
    assert [c["name"] for c in run["containerDefinitions"]] == ["run"]
    services = ecs.list_services(cluster=outputs["ClusterName"])["serviceArns"]
    assert len(services) == 5
    tables = _client("dynamodb", aws_env)
    orders = tables.describe_table(TableName="TTWorkingOrders-dev")["Table"]
    assert orders["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [i["IndexName"] for i in orders["GlobalSecondaryIndexes"]] == ["source_key-index"]
    rds = _client("rds", aws_env)
    [db] = rds.describe_db_instances(DBInstanceIdentifier="ops-platform-dev-postgres")["DBInstances"]
    assert (db["Engine"], db["EngineVersion"], db["StorageEncrypted"], db["PubliclyAccessible"]) == (
        "postgres",
        "15.17",
        True,
        False,
    )
    logs = _client("logs", aws_env)
    groups = logs.describe_log_groups(logGroupNamePrefix="/ecs/ops-platform-dev/")["logGroups"]
    assert len(groups) == 7
    assert {g["retentionInDays"] for g in groups} == {14}
    ecr = _client("ecr", aws_env)
    [repo] = ecr.describe_repositories(repositoryNames=[outputs["EcrRepositoryName"]])["repositories"]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    # (moto's CloudFormation applies neither an ECR LifecyclePolicy nor a bucket's LifecycleConfiguration /
    # VersioningConfiguration, nor a table's TimeToLiveSpecification, nor a task definition's Cpu/Memory:
    # test_template asserts them on the template; the CLI tests below apply the bucket's rules themselves.)


# ------------------------------------------------------------------------------------------------ AWS CLI


def cfn_lifecycle_to_api(rules: list[dict[str, Any]]) -> dict[str, Any]:
    """A bucket's CloudFormation lifecycle rules in the S3 API's shape (put-bucket-lifecycle-configuration)."""
    out = []
    for rule in rules:
        api: dict[str, Any] = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
        if "ExpirationInDays" in rule:
            api["Expiration"] = {"Days": rule["ExpirationInDays"]}
        elif rule.get("ExpiredObjectDeleteMarker"):
            api["Expiration"] = {"ExpiredObjectDeleteMarker": True}
        if "Transitions" in rule:
            api["Transitions"] = [
                {"Days": t["TransitionInDays"], "StorageClass": t["StorageClass"]} for t in rule["Transitions"]
            ]
        if "NoncurrentVersionExpiration" in rule:
            api["NoncurrentVersionExpiration"] = {
                "NoncurrentDays": rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
            }
        if "AbortIncompleteMultipartUpload" in rule:
            api["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
        out.append(api)
    return {"Rules": out}


@pytest.fixture(scope="module")
def data_bucket(deployed: dict[str, dict[str, Any]], aws_env: dict[str, str], synthesized) -> str:
    """The dev stack's data bucket with the template's lifecycle rules and versioning.

    moto's CloudFormation creates the bucket but applies only its encryption, so the CLI applies the template's
    own LifecycleConfiguration and VersioningConfiguration (S3's API validates them) before the checks read them.
    """
    bucket = deployed["dev"]["outputs"]["DataBucketName"]
    props = next(
        r["Properties"]
        for r in synthesized["dev"].template["Resources"].values()
        if r["Type"] == "AWS::S3::Bucket" and "VersioningConfiguration" in r["Properties"]
    )
    config = cfn_lifecycle_to_api(props["LifecycleConfiguration"]["Rules"])
    aws(aws_env, "s3api", "put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled")
    aws(
        aws_env,
        "s3api",
        "put-bucket-lifecycle-configuration",
        "--bucket",
        bucket,
        "--lifecycle-configuration",
        json.dumps(config),
    )
    return bucket


AWS_CLI = str(Path(sys.executable).with_name("aws"))


def aws(env: dict[str, str], *args: str, stdin: str | None = None) -> Any:
    """Run the AWS CLI against moto; the parsed JSON output (or the text when it is not JSON)."""
    result = subprocess.run(
        [AWS_CLI, "--endpoint-url", env["AWS_ENDPOINT_URL"], "--output", "json", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        input=stdin,
        timeout=120,
    )
    assert result.returncode == 0, f"aws {' '.join(args)} failed: {result.stderr[-2000:]}"
    try:
        return json.loads(result.stdout) if result.stdout.strip() else None
    except json.JSONDecodeError:
        return result.stdout


def test_seed_000_checklist_with_the_aws_cli(deployed, data_bucket, aws_env, tmp_path, monkeypatch):
    """Artifact under its dated key, the 30-day lifecycle, the SNS message, the Parameter Store read."""
    from ops_assets.fundamentals.keys import artifact_key
    from ops_assets.fundamentals.notifications import success_message
    from resources.notifier import SnsNotifier
    from resources.secrets import SsmSecrets

    outputs = deployed["dev"]["outputs"]
    bucket = data_bucket
    day = date(2025, 1, 19)

    # "Artifact appears in S3 with correct date-based key"
    artifact = tmp_path / "ttm_per_share_financial_artifact.parquet"
    artifact.write_bytes(b"PAR1 test artifact PAR1")
    key = artifact_key(day)
    assert key == "ttm-artifacts/2025-01-19/ttm_per_share_financial_artifact.parquet"
    aws(aws_env, "s3", "cp", str(artifact), f"s3://{bucket}/{key}")
    listing = aws(aws_env, "s3", "ls", f"s3://{bucket}/ttm-artifacts/", "--recursive")
    assert key in listing

    # "S3 lifecycle policy deletes old artifacts after 30 days"
    lifecycle = aws(aws_env, "s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket)
    ttm = [r for r in lifecycle["Rules"] if r.get("Filter", {}).get("Prefix", r.get("Prefix")) == "ttm-artifacts/"]
    assert len(ttm) == 1
    assert ttm[0]["Expiration"]["Days"] == 30
    assert ttm[0]["Status"] == "Enabled"

    # "SNS notification received with correct status": the platform's notifier publishes to the stack's topic;
    # an SQS subscriber (moto sends no e-mail) receives the subject and body.
    topic = outputs["NotificationTopicArn"]
    inbox = aws(aws_env, "sqs", "create-queue", "--queue-name", "checklist-inbox")["QueueUrl"]
    inbox_arn = aws(aws_env, "sqs", "get-queue-attributes", "--queue-url", inbox, "--attribute-names", "QueueArn")[
        "Attributes"
    ]["QueueArn"]
    aws(aws_env, "sns", "subscribe", "--topic-arn", topic, "--protocol", "sqs", "--notification-endpoint", inbox_arn)
    subject, body = success_message(
        day=day.isoformat(),
        artifact_uri=f"s3://{bucket}/{key}",
        etf_symbol="QQQ",
        tickers=["AAPL", "MSFT"],
        rows=2,
        failed_tickers={},
        duration_seconds=61.0,
        run_id="checklist",
    )
    SnsNotifier(topic_arn=topic, region_name="us-east-1", endpoint_url=aws_env["AWS_ENDPOINT_URL"]).publish(
        subject, body
    )
    received = aws(aws_env, "sqs", "receive-message", "--queue-url", inbox, "--wait-time-seconds", "2")
    [message] = received["Messages"]
    envelope = json.loads(message["Body"])
    assert envelope["Subject"] == "Financial Pipeline SUCCESS - 2025-01-19"
    assert f"s3://{bucket}/{key}" in envelope["Message"]

    # "Parameter Store retrieval works in container": the operator stores the key (the template never holds it),
    # the platform's SSM reader and the CLI read it back decrypted.
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    aws(
        aws_env,
        "ssm",
        "put-parameter",
        "--name",
        "/avpipeline/alpha-vantage-api-key",
        "--type",
        "SecureString",
        "--value",
        "checklist-key",
    )
    read = aws(aws_env, "ssm", "get-parameter", "--name", "/avpipeline/alpha-vantage-api-key", "--with-decryption")
    assert read["Parameter"]["Type"] == "SecureString"
    assert read["Parameter"]["Value"] == "checklist-key"
    reader = SsmSecrets(region_name="us-east-1", endpoint_url=aws_env["AWS_ENDPOINT_URL"])
    assert reader.get("alpha-vantage-api-key") == "checklist-key"


def test_seed_004_bucket_checks_with_the_aws_cli(deployed, data_bucket, aws_env, tmp_path, synthesized):
    """The desk layout's lifecycle (Glacier after 30 days) and the landing prefixes' notifications to the queue."""
    outputs = deployed["dev"]["outputs"]
    bucket = data_bucket
    lifecycle = aws(aws_env, "s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket)
    by_prefix = {r.get("Filter", {}).get("Prefix", r.get("Prefix")): r for r in lifecycle["Rules"]}
    for prefix in ("market-data/", "eod/", "sod/", "working-orders/", "processed/", "quarantine/"):
        assert by_prefix[prefix]["Transitions"] == [{"Days": 30, "StorageClass": "GLACIER"}], prefix
        assert "Expiration" not in by_prefix[prefix]

    # The notification configuration is applied by a CDK custom resource (a Lambda moto cannot run): apply the
    # same configuration with the CLI, then land files as Actant would and read the queue the desk service polls.
    notifications = next(
        r for r in synthesized["dev"].template["Resources"].values() if r["Type"] == "Custom::S3BucketNotifications"
    )
    queue_url = outputs["DeskQueueUrl"]
    queue_arn = aws(aws_env, "sqs", "get-queue-attributes", "--queue-url", queue_url, "--attribute-names", "QueueArn")[
        "Attributes"
    ]["QueueArn"]
    configs = notifications["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    config = {"QueueConfigurations": [{**c, "QueueArn": queue_arn} for c in configs]}
    aws(
        aws_env,
        "s3api",
        "put-bucket-notification-configuration",
        "--bucket",
        bucket,
        "--notification-configuration",
        json.dumps(config),
    )
    sample = tmp_path / "sample.csv"
    sample.write_text("instrument,price\nZN,112.50\n")
    landed = "market-data/2024/01/15/GE_XCME.ZN_20240115_103938.csv"
    aws(aws_env, "s3", "cp", str(sample), f"s3://{bucket}/{landed}")
    aws(aws_env, "s3", "cp", str(sample), f"s3://{bucket}/processed/{landed}")  # not a landing prefix
    keys = []
    for _ in range(3):
        received = aws(
            aws_env, "sqs", "receive-message", "--queue-url", queue_url, "--max-number-of-messages", "10"
        ) or {"Messages": []}
        for message in received.get("Messages", []):
            # An S3 event's key is URL-encoded, as the desk consumer knows (unquote_plus).
            keys += [unquote_plus(r["s3"]["object"]["key"]) for r in json.loads(message["Body"]).get("Records", [])]
    assert keys == [landed]
