"""scripts/deploy.py: the dry-run plan per stage, prod's confirmation, and the local prerequisite checks.

The checks run real programs: each test builds a PATH holding only the tools it means to exist (small scripts that
answer like node or docker would, or a link to the real AWS CLI), so a missing tool is really missing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "deploy.py"
EMAIL = "ops@example.com"


def load_deploy():
    spec = importlib.util.spec_from_file_location("deploy_cli_under_test", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


deploy = load_deploy()
HEAD = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
CDK = f"npx --yes aws-cdk@{deploy.CDK_VERSION}"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=REPO,
        env=env or dict(os.environ),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def commands(section: str) -> list[str]:
    return [line.strip()[2:] for line in section.splitlines() if line.strip().startswith("$ ")]


def plans(stdout: str) -> dict[str, list[str]]:
    """A dry run's step commands per plan, in order."""
    found: dict[str, list[str]] = {}
    if "First deploy" in stdout:
        found["first"] = commands(stdout.split("First deploy", 1)[1].split("Update (", 1)[0])
    if "Update (" in stdout:
        found["update"] = commands(stdout.split("Update (", 1)[1].split("Then:", 1)[0])
    if "Steps:" in stdout:
        found["steps"] = commands(stdout.split("Steps:", 1)[1])
    return found


def check_names(stdout: str) -> list[str]:
    checks = stdout.split("Prerequisite checks", 1)[1]
    names = []
    for line in checks.splitlines()[1:]:
        if not line.startswith("  ") or line.startswith("   "):
            break
        names.append(line.split(":", 1)[0].strip())
    return names


# ------------------------------------------------------------------------------------------------ dry-run plans


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_dry_run_lists_every_command_in_order(stage: str) -> None:
    result = run_cli(
        "deploy",
        "--stage",
        stage,
        "--email",
        EMAIL,
        "--region",
        "eu-west-1",
        "--parameter",
        "WatchedTickers=AAPL,MSFT",
        "--dry-run",
    )
    assert result.returncode == 0, result.stderr
    stack = f"OpsPlatform-{stage}"
    python = shlex.quote(sys.executable)
    host = "'<account>.dkr.ecr.eu-west-1.amazonaws.com"
    context = f"--context stage={stage} --context region=eu-west-1 --context image_tag={HEAD}"
    parameters = f"--parameters {stack}:AlertEmail={EMAIL} --parameters '{stack}:WatchedTickers=***'"
    synth = f"(cd infra && {CDK} synth --app '{python} app.py' {context} --output cdk.out/{stage} --quiet {stack})"
    roll = f"(cd infra && {CDK} deploy --app cdk.out/{stage} --require-approval never {parameters} {stack})"
    login = f"aws ecr get-login-password --region eu-west-1 | docker login --username AWS --password-stdin {host}'"
    build = f"docker buildx build --platform linux/amd64 --tag {host}/<EcrRepositoryName>:{HEAD}' --push ."
    found = plans(result.stdout)
    assert found["first"] == [
        f"(cd infra && {CDK} synth --app '{python} app.py' {context} --context bootstrap=true "
        f"--output cdk.out/{stage}-bootstrap --quiet {stack})",
        f"(cd infra && {CDK} deploy --app cdk.out/{stage}-bootstrap --require-approval never {parameters} {stack})",
        login,
        build,
        "aws ecs run-task --cluster '<ClusterName>' --task-definition '<DbInitTaskDefinitionArn>' --launch-type "
        "FARGATE --network-configuration 'awsvpcConfiguration={subnets=[<AppSubnetIds>],"
        "securityGroups=[<WorkersSecurityGroupId>],assignPublicIp=DISABLED}' --query "
        "'{taskArn: tasks[0].taskArn, failures: failures}' --output json --region eu-west-1",
        "aws ecs wait tasks-stopped --cluster '<ClusterName>' --tasks '<task ARN>' --region eu-west-1",
        "aws ecs describe-tasks --cluster '<ClusterName>' --tasks '<task ARN>' --query "
        "'tasks[0].containers[0].exitCode' --output text --region eu-west-1",
        synth,
        roll,
    ]
    # An update pushes the image before the one deploy that rolls the services to it.
    assert found["update"] == [synth, login, build, roll]
    assert check_names(result.stdout) == [
        "python",
        "node",
        "aws-cli",
        "email",
        "git",
        "docker",
        "credentials",
        "cdk-bootstrap",
        "ssm-api-key",
    ]
    # It ends with the subscription the user has to confirm.
    assert "Confirm the SNS subscription" in result.stdout.rsplit("Then:", 1)[1]
    assert EMAIL in result.stdout.rsplit("Then:", 1)[1]
    assert ("nothing runs until confirmed" in result.stdout) == (stage == "prod")
    # Parameter values besides the e-mail never appear (feed URLs can carry tokens).
    assert "AAPL,MSFT" not in result.stdout


def test_dry_run_of_an_existing_tag_builds_nothing() -> None:
    result = run_cli("deploy", "--stage", "staging", "--email", EMAIL, "--image-tag", "abc123", "--dry-run")
    assert result.returncode == 0, result.stderr
    found = plans(result.stdout)
    # A rollback goes to an existing stack only.
    assert set(found) == {"update"}
    assert len(found["update"]) == 2
    assert not any("docker" in command for command in found["update"])
    assert "--context image_tag=abc123" in found["update"][0]
    # Without a build, neither the work tree nor docker matters.
    assert "git" not in check_names(result.stdout)
    assert "docker" not in check_names(result.stdout)


def test_dry_run_of_destroy() -> None:
    result = run_cli("destroy", "--stage", "prod", "--dry-run")
    assert result.returncode == 0, result.stderr
    steps = plans(result.stdout)["steps"]
    assert steps[-1] == f"(cd infra && {CDK} destroy --app cdk.out/prod --force OpsPlatform-prod)"
    assert "ssm-api-key" not in check_names(result.stdout)


def test_parameters_from_the_environment_and_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    args = deploy.parser().parse_args(
        ["deploy", "--stage", "dev", "--parameter", "WatchedTickers=AAPL", "--parameter", "EtfSymbol=SPY"]
    )
    env = {"OPS_STACK_PARAMETERS": '{"NewsFeeds": "a=https://a.example/rss", "EtfSymbol": "QQQ"}'}
    assert deploy.stack_parameters(args, env) == {
        "NewsFeeds": "a=https://a.example/rss",
        "EtfSymbol": "SPY",
        "WatchedTickers": "AAPL",
    }
    with pytest.raises(deploy.DeployError, match="is not JSON"):
        deploy.stack_parameters(args, {"OPS_STACK_PARAMETERS": "NewsFeeds=x"})
    bad = deploy.parser().parse_args(["deploy", "--stage", "dev", "--parameter", "AlertEmail=x@y.z"])
    with pytest.raises(deploy.DeployError, match="give the e-mail with --email"):
        deploy.stack_parameters(bad, {})


def test_a_first_deploy_names_the_parameters_it_still_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deploy, "INFRA", tmp_path)
    settings = deploy.Settings(
        stage="dev", region="us-east-1", email=EMAIL, image_tag="abc", parameters={"WatchedTickers": "AAPL"}
    )
    template = tmp_path / "cdk.out" / "dev-bootstrap" / "OpsPlatform-dev.template.json"
    template.parent.mkdir(parents=True)
    declared = {
        "AlertEmail": {"Type": "String"},
        "NewsFeeds": {"Type": "String", "NoEcho": True},
        "WatchedTickers": {"Type": "String"},
        "EtfSymbol": {"Type": "String", "Default": "QQQ"},
        "BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/cdk-bootstrap/x/version"},
    }
    template.write_text(json.dumps({"Parameters": declared}))
    with pytest.raises(deploy.DeployError, match=r"every parameter without a default: --parameter NewsFeeds=\.\.\. "):
        deploy.check_template(settings, bootstrap=True, first=True)
    # An update keeps the previous values.
    deploy.check_template(settings, bootstrap=True, first=False)
    typo = deploy.Settings(stage="dev", region="us-east-1", email=EMAIL, image_tag="abc", parameters={"Tickers": "A"})
    with pytest.raises(deploy.DeployError, match="the stack has no parameter Tickers"):
        deploy.check_template(typo, bootstrap=True, first=False)


def test_the_cdk_cli_is_pinned_to_one_exact_version() -> None:
    assert all(part.isdigit() for part in deploy.CDK_VERSION.split(".")), deploy.CDK_VERSION
    assert deploy.CDK_VERSION.startswith("2.")


# ------------------------------------------------------------------------------------------------ confirmation


def test_prod_without_yes_and_without_a_terminal_stops_before_any_check(tmp_path: Path) -> None:
    # An empty PATH: had anything run, it would have failed differently.
    result = run_cli(
        "deploy",
        "--stage",
        "prod",
        "--email",
        EMAIL,
        "--image-tag",
        "abc123",
        env={**os.environ, "PATH": str(tmp_path)},
    )
    assert result.returncode == 1
    assert "Deploy to prod needs --yes" in result.stderr
    assert "Checking the prerequisites" not in result.stdout


def test_without_git_the_tag_must_be_given(tmp_path: Path) -> None:
    result = run_cli("deploy", "--stage", "dev", "--dry-run", env={**os.environ, "PATH": str(tmp_path)})
    assert result.returncode == 1
    assert "git not found on PATH: the image tag is the commit; install git or pass --image-tag" in result.stderr
    assert "Traceback" not in result.stderr


def test_destroy_asks_even_for_dev() -> None:
    result = run_cli("destroy", "--stage", "dev")
    assert result.returncode == 1
    assert "Destroy dev needs --yes" in result.stderr


# ------------------------------------------------------------------------------------------------ the checks


def write_tool(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    """A PATH folder with working node, npx, docker and git, and the real AWS CLI."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    write_tool(bin_dir, "node", 'echo "v20.11.1"')
    write_tool(bin_dir, "npx", "exit 0")
    write_tool(
        bin_dir,
        "docker",
        'case "$1" in info) echo "28.2.2";; buildx) echo "github.com/docker/buildx v0.25.0";; *) exit 1;; esac',
    )
    (bin_dir / "git").symlink_to(shutil_which("git"))
    (bin_dir / "aws").symlink_to(Path(sys.executable).with_name("aws"))
    return bin_dir


def shutil_which(tool: str) -> str:
    import shutil

    found = shutil.which(tool)
    assert found, f"{tool} is needed by this test"
    return found


def checker(bin_dir: Path, *, email: str = EMAIL, build: bool = True, root: Path = REPO, **env: str):
    settings = deploy.Settings(stage="dev", region="us-east-1", email=email, image_tag="abc123", build=build)
    return deploy.Checker(settings, {"PATH": str(bin_dir), "HOME": str(bin_dir.parent), **env}, root=root)


def results(check) -> dict[str, tuple[bool, str]]:
    return {result.name: (result.ok, result.detail) for result in check.run_checks("deploy")}


def test_local_tools_present(tools: Path) -> None:
    check = checker(tools)
    assert check.node() == (True, f"node v20.11.1, CDK CLI {deploy.CDK_VERSION} through npx")
    ok, detail = check.aws_cli()
    assert ok, detail
    assert detail.startswith("aws-cli/1.")
    assert check.docker() == (True, "engine 28.2.2, github.com/docker/buildx v0.25.0")
    assert check.email() == (True, f"SNS subscription for {EMAIL}")


def test_missing_node(tools: Path) -> None:
    (tools / "node").unlink()
    (tools / "npx").unlink()
    ok, detail = checker(tools).node()
    assert not ok
    assert detail.startswith("node and npx not found on PATH: install Node.js 18 or newer")


def test_old_node(tools: Path) -> None:
    write_tool(tools, "node", 'echo "v16.20.2"')
    assert checker(tools).node() == (False, "Node.js v16.20.2 is too old: the CDK CLI needs 18 or newer")


def test_missing_aws_cli_skips_every_aws_check(tools: Path) -> None:
    (tools / "aws").unlink()
    found = results(checker(tools))
    assert found["aws-cli"] == (
        False,
        "aws (the AWS CLI) not found on PATH: run `make setup` (awscli is in the dev extra) or install it",
    )
    assert found["credentials"] == (False, "not checked: needs aws-cli")
    assert found["cdk-bootstrap"] == (False, "not checked: needs credentials")
    assert found["ssm-api-key"] == (False, "not checked: needs credentials")


def test_missing_docker(tools: Path) -> None:
    (tools / "docker").unlink()
    ok, detail = checker(tools).docker()
    assert (ok, detail) == (
        False,
        "docker not found on PATH: install Docker (Desktop or Engine) with the buildx plugin",
    )


def test_docker_engine_not_running(tools: Path) -> None:
    write_tool(
        tools,
        "docker",
        'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. '
        'Is the docker daemon running?" >&2; exit 1',
    )
    ok, detail = checker(tools).docker()
    assert not ok
    assert detail.startswith("the Docker engine does not answer (Cannot connect to the Docker daemon")
    assert detail.endswith("start Docker")


def test_docker_without_buildx(tools: Path) -> None:
    write_tool(
        tools, "docker", 'case "$1" in info) echo "28.2.2";; *) echo "unknown command: buildx" >&2; exit 1;; esac'
    )
    assert checker(tools).docker() == (
        False,
        "docker buildx is missing (unknown command: buildx): install the buildx plugin",
    )


def test_docker_and_git_are_not_needed_to_deploy_an_existing_tag(tools: Path) -> None:
    (tools / "docker").unlink()
    found = results(checker(tools, build=False))
    assert "docker" not in found
    assert "git" not in found


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("", "no notification e-mail: pass --email ADDRESS or set OPS_NOTIFICATION_EMAIL (make deploy EMAIL=...)"),
        ("ops.example.com", "'ops.example.com' is not an e-mail address"),
    ],
)
def test_notification_email_is_required(tools: Path, email: str, message: str) -> None:
    assert checker(tools, email=email).email() == (False, message)


def test_uncommitted_changes_fail_the_git_check(tools: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=work, check=True)
    (work / "file.txt").write_text("one\n")
    subprocess.run([*git, "add", "file.txt"], cwd=work, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "one"], cwd=work, check=True)
    assert checker(tools, root=work).git() == (True, "clean work tree at abc123")
    (work / "file.txt").write_text("two\n")
    ok, detail = checker(tools, root=work).git()
    assert not ok
    assert detail.startswith("the work tree has uncommitted changes, so image tag abc123 would not name what is built")


def test_no_credentials(tools: Path, tmp_path: Path) -> None:
    check = checker(
        tools,
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    ok, detail = check.credentials()
    assert not ok
    assert detail.startswith("no usable AWS credentials (Unable to locate credentials")
    assert "aws configure" in detail
    assert check.account is None


def test_outside_a_virtualenv(monkeypatch: pytest.MonkeyPatch, tools: Path) -> None:
    monkeypatch.setattr(deploy.sys, "prefix", deploy.sys.base_prefix)
    ok, detail = checker(tools).python_env()
    assert not ok
    assert detail.endswith("is not a virtualenv's python: run `make setup`, then `make deploy STAGE=...`")


def test_without_the_cdk_library(monkeypatch: pytest.MonkeyPatch, tools: Path) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(deploy.importlib.util, "find_spec", lambda name: None if name == "aws_cdk" else real(name))
    ok, detail = checker(tools).python_env()
    assert not ok
    assert detail.startswith("aws-cdk-lib is not installed in")
    assert detail.endswith("run `make setup` (it installs the dev extra)")


def test_the_login_password_is_piped_never_shown() -> None:
    settings = deploy.Settings(stage="dev", region="us-east-1", email=EMAIL, image_tag="abc")
    login = deploy.image_steps(settings, "123456789012", "repo")[0]
    assert login.stdin_from == ("aws", "ecr", "get-login-password", "--region", "us-east-1")
    assert "--password-stdin" in login.argv
    assert "--password" not in [arg for arg in login.argv if arg != "--password-stdin"]


def test_a_redeployed_commit_reuses_its_image() -> None:
    settings = deploy.Settings(stage="dev", region="us-east-1", email=EMAIL, image_tag="abc")
    steps = deploy.update_plan(settings, "1", {"EcrRepositoryName": "repo"}, image_in_ecr=True)
    assert [step.argv[3] for step in steps] == ["synth", "deploy"]


# ------------------------------------------------------------------------------------------------ make targets


def test_make_deploy_passes_its_variables_to_the_cli() -> None:
    result = subprocess.run(
        ["make", "-n", "deploy", "STAGE=prod", "YES=1", f"EMAIL={EMAIL}", "IMAGE_TAG=abc123", "REGION=eu-west-1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    [line] = [line for line in result.stdout.replace("\\\n", " ").splitlines() if "scripts/deploy.py" in line]
    assert line.split("scripts/deploy.py", 1)[1].split() == [
        "deploy",
        "--stage",
        "prod",
        "--region",
        "eu-west-1",
        "--yes",
        "--email",
        EMAIL,
        "--image-tag",
        "abc123",
    ]
    assert line.startswith('PATH="')
    assert "/.venv/bin:$PATH" in line


def test_make_deploy_without_a_stage_runs_nothing() -> None:
    env = {key: value for key, value in os.environ.items() if key != "STAGE"}
    result = subprocess.run(["make", "deploy"], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert "make deploy/destroy needs STAGE=dev, STAGE=staging or STAGE=prod" in result.stdout
    assert "pip install" not in result.stdout


def test_the_deploy_docs_name_the_pinned_cdk_and_every_check() -> None:
    docs = (REPO / "docs" / "DEPLOY.md").read_text()
    for section in ("## Deploy command", "## Update, rollback and teardown", "## CI workflows"):
        assert section in docs
    assert f"aws-cdk@{deploy.CDK_VERSION}" in docs
    assert not {v for v in re.findall(r"aws-cdk@([\d.]+)", docs)} - {deploy.CDK_VERSION}
    settings = deploy.Settings(stage="dev", region="us-east-1", email=EMAIL, image_tag="abc")
    for name, _, _ in deploy.Checker(settings).checks("deploy"):
        assert f"| `{name}` |" in docs, name


def test_an_unfinished_first_deploy_gets_its_database_before_the_services_start() -> None:
    settings = deploy.Settings(stage="dev", region="us-east-1", email=EMAIL, image_tag="abc")
    outputs = {key: key for key in ("EcrRepositoryName", "ClusterName", *deploy.DB_INIT_OUTPUTS)}
    steps = deploy.update_plan(settings, "1", outputs, image_in_ecr=True, unfinished_first_deploy=True)
    assert [step.argv[:3] for step in steps] == [
        ("npx", "--yes", f"aws-cdk@{deploy.CDK_VERSION}"),
        ("aws", "ecs", "run-task"),
        ("aws", "ecs", "wait"),
        ("aws", "ecs", "describe-tasks"),
        ("npx", "--yes", f"aws-cdk@{deploy.CDK_VERSION}"),
    ]
    assert steps[-1].argv[3] == "deploy"


def test_a_db_init_task_ecs_could_not_start_stops_the_deploy_with_its_failures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """run-task exits 0 with `failures` and no task: the deploy stops there, naming ECS's reason, and never waits on
    a task ARN of "None"."""
    settings = deploy.Settings(stage="dev", region="us-east-1", email=EMAIL, image_tag="abc")
    outputs = {key: key for key in ("ClusterName", *deploy.DB_INIT_OUTPUTS)}
    answer = {
        "taskArn": None,
        "failures": [{"arn": "arn:aws:ecs:us-east-1:1:cluster/c", "reason": "RESOURCE:ENI", "detail": "limit"}],
    }
    ran: list[tuple[str, ...]] = []

    def fake_run_step(step, env, capture=False):
        ran.append(step.argv[:3])
        return json.dumps(answer)

    monkeypatch.setattr(deploy, "run_step", fake_run_step)
    with pytest.raises(deploy.DeployError, match=r"started no database-init task: .*RESOURCE:ENI limit"):
        deploy.run_db_init(settings, {}, outputs)
    assert ran == [("aws", "ecs", "run-task")]

    answer = {"taskArn": "arn:aws:ecs:us-east-1:1:task/c/abc", "failures": []}
    assert deploy.started_task_arn(json.dumps(answer)) == "arn:aws:ecs:us-east-1:1:task/c/abc"
    for output in ("None", "", "null", json.dumps({"taskArn": "None", "failures": []})):
        with pytest.raises(deploy.DeployError, match="no task and no failure reported"):
            deploy.started_task_arn(output)


def test_the_last_message_says_where_the_real_tt_credentials_go() -> None:
    """The stack seeds the TT secret with placeholders: the deploy's closing lines name the secret to put them in."""
    lines = "\n".join(deploy.tt_credentials_lines("ops-platform-dev/tt-api"))
    assert "Put the real TT API credentials in the secret ops-platform-dev/tt-api" in lines
    assert "put-secret-value --secret-id ops-platform-dev/tt-api --secret-string file://" in lines
    assert '"api_key"' in lines
    assert '"api_secret"' in lines
    result = run_cli("deploy", "--stage", "dev", "--email", EMAIL, "--image-tag", "abc1234", "--dry-run")
    assert result.returncode == 0, result.stderr
    closing = result.stdout.split("Then:", 1)[1]
    assert f"Put the real TT API credentials in the secret <{deploy.TT_SECRET_OUTPUT}>" in closing
