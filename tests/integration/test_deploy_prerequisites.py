"""scripts/deploy.py's AWS-side checks with the real AWS CLI against a moto server (AWS_ENDPOINT_URL).

Each test uses its own region, so the session's one moto server keeps their stacks and parameters apart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from tests.unit.test_deploy_cli import SCRIPT, deploy, write_tool

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"  # moto's account
SECRET = "av-key-never-printed-7f3a9c"
BUCKET_TEMPLATE = json.dumps({"Resources": {"StagingBucket": {"Type": "AWS::S3::Bucket"}}})


@pytest.fixture
def path_dir(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    write_tool(bin_dir, "node", 'echo "v20.11.1"')
    write_tool(bin_dir, "npx", "exit 0")
    write_tool(bin_dir, "docker", 'case "$1" in info) echo "28.2.2";; buildx) echo "buildx v0.25.0";; esac')
    (bin_dir / "aws").symlink_to(Path(sys.executable).with_name("aws"))
    return bin_dir


def aws_env(moto_server: str, path_dir: Path, tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": str(path_dir),
        "HOME": str(tmp_path),
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
    }


def checker(env: dict[str, str], region: str):
    settings = deploy.Settings(stage="dev", region=region, email="ops@example.com", image_tag="abc", build=False)
    return deploy.Checker(settings, env)


def client(service: str, moto_server: str, region: str):
    return boto3.client(service, region_name=region, endpoint_url=moto_server)


def test_credentials_name_the_account(moto_server: str, path_dir: Path, tmp_path: Path) -> None:
    check = checker(aws_env(moto_server, path_dir, tmp_path), "eu-west-1")
    ok, detail = check.credentials()
    assert ok, detail
    assert detail.startswith(f"account {ACCOUNT} as arn:aws:")
    assert check.account == ACCOUNT


def test_bootstrap_missing_then_present(moto_server: str, path_dir: Path, tmp_path: Path) -> None:
    region = "eu-west-2"
    check = checker(aws_env(moto_server, path_dir, tmp_path), region)
    assert check.credentials()[0]
    assert check.bootstrap() == (
        False,
        f"{region} of account {ACCOUNT} is not CDK-bootstrapped: run "
        f"`npx --yes aws-cdk@{deploy.CDK_VERSION} bootstrap aws://{ACCOUNT}/{region}`",
    )
    client("cloudformation", moto_server, region).create_stack(StackName="CDKToolkit", TemplateBody=BUCKET_TEMPLATE)
    assert check.bootstrap() == (True, f"CDKToolkit stack CREATE_COMPLETE in {region}")


def test_api_key_parameter_missing(moto_server: str, path_dir: Path, tmp_path: Path) -> None:
    region = "eu-central-1"
    ok, detail = checker(aws_env(moto_server, path_dir, tmp_path), region).api_key_parameter()
    assert not ok
    assert detail.startswith(f"SSM parameter /avpipeline/alpha-vantage-api-key does not exist in {region}:")
    # The fix it suggests reads the key without echo, so it lands in no shell history.
    assert "read -rs KEY && aws ssm put-parameter" in detail
    assert "--type SecureString" in detail


def test_api_key_parameter_of_the_wrong_type(moto_server: str, path_dir: Path, tmp_path: Path) -> None:
    region = "eu-north-1"
    client("ssm", moto_server, region).put_parameter(Name=deploy.API_KEY_PARAMETER, Value=SECRET, Type="String")
    ok, detail = checker(aws_env(moto_server, path_dir, tmp_path), region).api_key_parameter()
    assert not ok
    assert "is a String, not a SecureString" in detail
    assert SECRET not in detail


def test_every_check_passes_and_the_key_is_never_printed(moto_server: str, path_dir: Path, tmp_path: Path) -> None:
    region = "ap-southeast-2"
    client("ssm", moto_server, region).put_parameter(Name=deploy.API_KEY_PARAMETER, Value=SECRET, Type="SecureString")
    client("cloudformation", moto_server, region).create_stack(StackName="CDKToolkit", TemplateBody=BUCKET_TEMPLATE)
    env = aws_env(moto_server, path_dir, tmp_path)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "check", "--stage", "dev", "--region", region, "--email", "ops@example.com"],
        env={**env, "PATH": f"{path_dir}:{Path(sys.executable).parent}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert SECRET not in output
    lines = {line.split(":", 1)[0].split()[-1]: line.split()[0] for line in result.stdout.splitlines() if ":" in line}
    for name in ("node", "aws-cli", "email", "docker", "credentials", "cdk-bootstrap", "ssm-api-key"):
        assert lines[name] == "ok", output
    assert "ok   ssm-api-key: /avpipeline/alpha-vantage-api-key exists (SecureString; value not read)" in output
    # Whatever else fails here (the CDK library, a dirty work tree) is reported, and then the exit code says so.
    assert result.returncode == (0 if all(state == "ok" for state in lines.values()) else 1), output


def test_no_aws_call_sees_the_value(moto_server: str, path_dir: Path, tmp_path: Path) -> None:
    """The check asks for metadata only: the same call, made directly, carries no value at all."""
    region = "ca-central-1"
    client("ssm", moto_server, region).put_parameter(Name=deploy.API_KEY_PARAMETER, Value=SECRET, Type="SecureString")
    env = {**os.environ, **aws_env(moto_server, path_dir, tmp_path)}
    raw = subprocess.run(
        ["aws", "ssm", "describe-parameters", *deploy.API_KEY_QUERY[2:4], "--region", region, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert deploy.API_KEY_PARAMETER in raw.stdout
    assert SECRET not in raw.stdout
    assert "Value" not in json.loads(raw.stdout)["Parameters"][0]


# ------------------------------------------------------------------------------------------------ deploy helpers


def settings_for(region: str, tag: str = "abc123"):
    return deploy.Settings(stage="dev", region=region, email="ops@example.com", image_tag=tag)


def test_stack_status_and_outputs(moto_server: str, path_dir: Path, tmp_path: Path) -> None:
    region = "sa-east-1"
    env = aws_env(moto_server, path_dir, tmp_path)
    settings = settings_for(region)
    assert deploy.stack_status(settings, env) is None
    outputs = {
        "EcrRepositoryName": "ops-platform-dev",
        "ClusterName": "ops-platform-dev",
        "NotificationTopicArn": f"arn:aws:sns:{region}:{ACCOUNT}:ops-platform-dev",
    }
    template = json.loads(BUCKET_TEMPLATE)
    template["Outputs"] = {key: {"Value": value} for key, value in outputs.items()}
    cfn = client("cloudformation", moto_server, region)
    cfn.create_stack(StackName="OpsPlatform-dev", TemplateBody=json.dumps(template))
    assert deploy.stack_status(settings, env) == "CREATE_COMPLETE"
    assert deploy.stack_outputs(settings, env) == outputs
    assert deploy.topic_arn(outputs) == outputs["NotificationTopicArn"]
    # A first deploy also needs the database-init task's outputs.
    with pytest.raises(deploy.DeployError, match="has no output DbInitTaskDefinitionArn, AppSubnetIds"):
        deploy.stack_outputs(settings, env, deploy.DB_INIT_OUTPUTS)


def test_image_in_ecr(moto_server: str, path_dir: Path, tmp_path: Path) -> None:
    region = "ap-northeast-1"
    env = aws_env(moto_server, path_dir, tmp_path)
    ecr = client("ecr", moto_server, region)
    ecr.create_repository(repositoryName="ops-platform-dev", imageTagMutability="IMMUTABLE")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
    ecr.put_image(repositoryName="ops-platform-dev", imageManifest=json.dumps(manifest), imageTag="abc123")
    assert deploy.image_in_ecr(settings_for(region, "abc123"), env, "ops-platform-dev")
    assert not deploy.image_in_ecr(settings_for(region, "def456"), env, "ops-platform-dev")


def test_subscription_state(moto_server: str, path_dir: Path, tmp_path: Path) -> None:
    region = "ap-south-1"
    env = aws_env(moto_server, path_dir, tmp_path)
    sns = client("sns", moto_server, region)
    topic = sns.create_topic(Name="ops-platform-dev")["TopicArn"]
    settings = settings_for(region)
    # No subscription for the address yet: the user still has something to confirm.
    assert deploy.subscription_pending(settings, env, topic) is True
    # moto confirms an e-mail subscription at once (AWS waits for the click): the reminder turns into a statement.
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")
    assert deploy.subscription_pending(settings, env, topic) is False
    assert deploy.confirmation_lines(settings, topic, False) == [
        f"The SNS subscription of ops@example.com to {topic} is confirmed."
    ]
    # A topic that cannot be read leaves the reminder in place.
    assert deploy.subscription_pending(settings, env, topic + "-missing") is None
    assert deploy.confirmation_lines(settings, topic, None)[0].startswith("Confirm the SNS subscription")


# ------------------------------------------------------------------------------------------------ an update end to end

FAKE_NPX = r"""#!/bin/sh
# Plays the CDK CLI: synth writes a template into --output, deploy only records what it was given.
echo "npx $*" >> "$DEPLOY_LOG"
out=""
prev=""
for arg in "$@"; do
  if [ "$prev" = "--output" ]; then out="$arg"; fi
  prev="$arg"
done
case " $* " in
  *" synth "*)
    mkdir -p "$out"
    printf '%s' '{"Parameters": {"AlertEmail": {"Type": "String"}, "WatchedTickers": {"Type": "String"}}}' \
      > "$out/OpsPlatform-dev.template.json";;
esac
"""
FAKE_DOCKER = r"""#!/bin/sh
# Plays docker: the engine answers; login records whether a password came on stdin (never the password).
case "$1" in
  info) echo "28.2.2";;
  buildx) if [ "$2" = "version" ]; then echo "buildx v0.25.0"; else echo "docker $*" >> "$DEPLOY_LOG"; fi;;
  login) password=$(cat); [ -n "$password" ] && echo "docker $* (password on stdin)" >> "$DEPLOY_LOG";;
esac
"""


UPDATE_REGIONS = {
    "test_an_update_pushes_the_image_before_the_deploy_that_rolls_it": "us-west-1",
    "test_a_rollback_to_a_tag_not_in_ecr_stops_before_deploying": "us-west-2",
    "test_a_rollback_to_a_tag_in_ecr_builds_nothing": "us-east-2",
}


@pytest.fixture
def existing_stack(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> tuple[str, dict[str, str]]:
    """An existing OpsPlatform-dev in moto (its ECR repository, SNS topic, CDK bootstrap, SSM key), fake npx and
    docker on PATH, and deploy.py's infra/ folder in tmp. Each test gets its own region."""
    region = UPDATE_REGIONS[request.node.name]
    outputs = {
        "EcrRepositoryName": "ops-platform-dev",
        "ClusterName": "ops-platform-dev",
        "NotificationTopicArn": client("sns", moto_server, region).create_topic(Name="ops-dev")["TopicArn"],
    }
    template = json.loads(BUCKET_TEMPLATE)
    template["Outputs"] = {key: {"Value": value} for key, value in outputs.items()}
    cfn = client("cloudformation", moto_server, region)
    cfn.create_stack(StackName="OpsPlatform-dev", TemplateBody=json.dumps(template))
    cfn.create_stack(StackName="CDKToolkit", TemplateBody=BUCKET_TEMPLATE)
    client("ssm", moto_server, region).put_parameter(Name=deploy.API_KEY_PARAMETER, Value=SECRET, Type="SecureString")
    client("ecr", moto_server, region).create_repository(repositoryName="ops-platform-dev")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("npx", FAKE_NPX), ("docker", FAKE_DOCKER)):
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    write_tool(bin_dir, "node", 'echo "v20.11.1"')
    (bin_dir / "aws").symlink_to(Path(sys.executable).with_name("aws"))
    (tmp_path / "infra").mkdir()
    monkeypatch.setattr(deploy, "INFRA", tmp_path / "infra")
    # The work tree's state is the git check's business (tests/unit); here the deploy itself is under test.
    monkeypatch.setattr(deploy.Checker, "git", lambda self: (True, "clean"))
    env = {
        **aws_env(moto_server, bin_dir, tmp_path),
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "DEPLOY_LOG": str(tmp_path / "deploy.log"),
    }
    return region, env


def run_deploy(region: str, env: dict[str, str], *flags: str) -> None:
    args = deploy.parser().parse_args(["deploy", "--stage", "dev", "--region", region, *flags])
    tag = args.image_tag or "c0ffee"
    settings = deploy.Settings(
        stage="dev",
        region=region,
        email="ops@example.com",
        image_tag=tag,
        build=args.image_tag is None,
        parameters=deploy.stack_parameters(args, env),
    )
    deploy.deploy(settings, args, env)


def test_an_update_pushes_the_image_before_the_deploy_that_rolls_it(
    existing_stack: tuple[str, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    region, env = existing_stack
    run_deploy(region, env, "--parameter", "WatchedTickers=AAPL,MSFT")
    log = Path(env["DEPLOY_LOG"]).read_text().splitlines()
    host = f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com"
    assert [line.split()[:3] for line in log] == [
        ["npx", "--yes", f"aws-cdk@{deploy.CDK_VERSION}"],
        ["docker", "login", "--username"],
        ["docker", "buildx", "build"],
        ["npx", "--yes", f"aws-cdk@{deploy.CDK_VERSION}"],
    ]
    assert " synth " in log[0]
    assert "--context image_tag=c0ffee" in log[0]
    assert log[1] == f"docker login --username AWS --password-stdin {host} (password on stdin)"
    assert log[2] == f"docker buildx build --platform linux/amd64 --tag {host}/ops-platform-dev:c0ffee --push ."
    assert log[3].endswith(
        "deploy --app cdk.out/dev --require-approval never --parameters OpsPlatform-dev:AlertEmail=ops@example.com "
        "--parameters OpsPlatform-dev:WatchedTickers=AAPL,MSFT OpsPlatform-dev"
    )
    out = capsys.readouterr().out
    assert "OpsPlatform-dev is CREATE_COMPLETE: update." in out
    assert "OpsPlatform-dev runs image ops-platform-dev:c0ffee" in out
    assert "AAPL,MSFT" not in out
    assert SECRET not in out


def test_a_rollback_to_a_tag_not_in_ecr_stops_before_deploying(existing_stack: tuple[str, dict[str, str]]) -> None:
    region, env = existing_stack
    with pytest.raises(deploy.DeployError, match="image tag 0ld is not in ECR repository ops-platform-dev"):
        run_deploy(region, env, "--image-tag", "0ld")
    # Nothing ran: not even the synth.
    assert not Path(env["DEPLOY_LOG"]).exists()


def test_a_rollback_to_a_tag_in_ecr_builds_nothing(
    moto_server: str, existing_stack: tuple[str, dict[str, str]]
) -> None:
    region, env = existing_stack
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
    ecr = client("ecr", moto_server, region)
    ecr.put_image(repositoryName="ops-platform-dev", imageManifest=json.dumps(manifest), imageTag="0ld")
    run_deploy(region, env, "--image-tag", "0ld")
    log = Path(env["DEPLOY_LOG"]).read_text()
    assert "docker" not in log
    assert "--context image_tag=0ld" in log
    assert log.count(" deploy ") == 1


def test_a_stack_left_at_zero_tasks_is_recognised(moto_server: str, path_dir: Path, tmp_path: Path) -> None:
    region = "eu-south-1"
    env = aws_env(moto_server, path_dir, tmp_path)
    ecs = client("ecs", moto_server, region)
    ecs.create_cluster(clusterName="ops")
    ecs.register_task_definition(family="web", containerDefinitions=[{"name": "web", "image": "x", "memory": 512}])
    for name, count in (("web-bootstrap", 0), ("web-running", 2)):
        ecs.create_service(cluster="ops", serviceName=name, taskDefinition="web", desiredCount=count)
    settings = settings_for(region)
    outputs = {"ClusterName": "ops"}
    assert deploy.at_zero_tasks(settings, env, {**outputs, "WebserverServiceName": "web-bootstrap"})
    assert not deploy.at_zero_tasks(settings, env, {**outputs, "WebserverServiceName": "web-running"})
    # A stack without the output (or a service that cannot be read) is taken as finished.
    assert not deploy.at_zero_tasks(settings, env, outputs)
    assert not deploy.at_zero_tasks(settings, env, {**outputs, "WebserverServiceName": "missing"})
