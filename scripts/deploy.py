"""Deploy the platform to AWS in one command: ``make deploy STAGE=dev`` (docs/DEPLOY.md, "Deploy command").

``deploy`` checks the prerequisites (every failure is listed with what to do about it), then:

* first deploy (no stack ``OpsPlatform-<stage>`` yet): synthesizes the CDK app in ``infra/`` with
  ``-c bootstrap=true`` and deploys it (every service at 0 tasks, since no image exists yet), builds the image for
  linux/amd64 and pushes it to the stack's ECR repository tagged with the git commit, runs the one-off task that
  creates the central store's database, then synthesizes with ``-c image_tag=<commit>`` and deploys again, which
  rolls the ECS services to the image (CloudFormation waits until they are stable);
* update (the stack exists): synthesizes with ``-c image_tag=<commit>``, pushes the image (unless that tag is in
  ECR already: the repository's tags are immutable and a commit's image is built once), and deploys, which applies
  the infrastructure changes and rolls the services in one CloudFormation update;

and ends with the SNS subscription the user still has to confirm.

``--dry-run`` prints every command (the checks', then both plans) and runs none of them, except reading the git
commit for the image tag. ``prod`` needs ``--yes`` or the stage name typed at the prompt. ``--image-tag`` deploys a
tag already in ECR without building (rollback of the image). ``destroy`` deletes the stack (what the stack retains:
docs/DEPLOY.md, "Update, rollback and teardown"); ``check`` runs only the prerequisite checks.

The Alpha Vantage key's SSM parameter is checked with ``describe-parameters``, which returns its metadata only:
the value is never requested, so it can never be printed. Stack parameter values other than the e-mail (feed URLs
can carry tokens) are shown as ``***`` in every printed command.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INFRA = REPO / "infra"
STAGES = ("dev", "staging", "prod")
# The CDK CLI is run through npx at this exact version (CLI releases are numbered 2.1xxx since 2025).
CDK_VERSION = "2.1148.1"
CDK = ("npx", "--yes", f"aws-cdk@{CDK_VERSION}")
MIN_NODE_MAJOR = 18
API_KEY_PARAMETER = "/avpipeline/alpha-vantage-api-key"
# The stack's contract with this script (infra/app.py, infra/ops_infra/stack.py): context, parameters, outputs.
EMAIL_PARAMETER = "AlertEmail"
REPOSITORY_OUTPUT = "EcrRepositoryName"
CLUSTER_OUTPUT = "ClusterName"
TOPIC_OUTPUTS = ("NotificationTopicArn", "NotificationsTopicArn")
DB_INIT_OUTPUTS = ("DbInitTaskDefinitionArn", "AppSubnetIds", "WorkersSecurityGroupId")
WEBSERVER_OUTPUT = "WebserverServiceName"
EMAIL_ENV = "OPS_NOTIFICATION_EMAIL"
# Other stack parameters as a JSON object (CI keeps it in a secret: the feeds' URLs can carry tokens).
PARAMETERS_ENV = "OPS_STACK_PARAMETERS"
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MASK = "***"

# The local checks' commands, as --dry-run shows them.
CHECK_COMMANDS: dict[str, tuple[str, ...]] = {
    "node": ("node", "--version"),
    "aws-cli": ("aws", "--version"),
    "git": ("git", "status", "--porcelain", "--untracked-files=no"),
    "docker": ("docker", "info", "--format", "{{.ServerVersion}}"),
}
BOOTSTRAP_QUERY = (
    "cloudformation",
    "describe-stacks",
    "--stack-name",
    "CDKToolkit",
    "--query",
    "Stacks[0].StackStatus",
    "--output",
    "text",
)
# Metadata only: describe-parameters never returns a parameter's value.
API_KEY_QUERY = (
    "ssm",
    "describe-parameters",
    "--parameter-filters",
    f"Key=Name,Option=Equals,Values={API_KEY_PARAMETER}",
    "--query",
    "Parameters[0].Type",
    "--output",
    "text",
)


# Stable states of a stack that can be used and updated (ROLLBACK_COMPLETE is a failed creation: delete it).
USABLE_STACK_STATES = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE")


class DeployError(Exception):
    """A step or check failed; the message says what to do."""


def stack_name(stage: str) -> str:
    return f"OpsPlatform-{stage}"


@dataclass(frozen=True)
class Settings:
    """What one invocation deploys."""

    stage: str
    region: str
    email: str
    image_tag: str
    # False with --image-tag: the tag must already be in ECR and nothing is built.
    build: bool = True
    # Stack parameters besides the e-mail (first deploy: those without a default are required).
    parameters: Mapping[str, str] = field(default_factory=dict)
    python: str = sys.executable

    @property
    def stack(self) -> str:
        return stack_name(self.stage)

    def assembly(self, bootstrap: bool = False) -> str:
        """The cloud assembly folder, relative to infra/: one per stage (and bootstrap) so they never mix."""
        return f"cdk.out/{self.stage}{'-bootstrap' if bootstrap else ''}"

    def stack_parameters(self) -> dict[str, str]:
        return {EMAIL_PARAMETER: self.email, **self.parameters} if self.email else dict(self.parameters)


@dataclass(frozen=True)
class Step:
    """One command of the plan. ``stdin_from``'s output is piped into ``argv`` and never shown (a password);
    ``masked`` values are printed as ***."""

    title: str
    argv: tuple[str, ...]
    cwd: Path = REPO
    stdin_from: tuple[str, ...] | None = None
    masked: tuple[str, ...] = ()

    def shell(self) -> str:
        shown = list(self.argv)
        for value in self.masked:
            shown = [arg.replace(value, MASK) for arg in shown]
        command = shlex.join(shown)
        if self.stdin_from:
            command = f"{shlex.join(self.stdin_from)} | {command}"
        if self.cwd != REPO:
            where = self.cwd.relative_to(REPO) if self.cwd.is_relative_to(REPO) else self.cwd
            command = f"(cd {shlex.quote(str(where))} && {command})"
        return command


# ---------------------------------------------------------------------------------------------------- the plan


def aws(settings: Settings, *args: str) -> tuple[str, ...]:
    return ("aws", *args, "--region", settings.region)


def synth_step(settings: Settings, bootstrap: bool = False) -> Step:
    context = [f"stage={settings.stage}", f"region={settings.region}", f"image_tag={settings.image_tag}"]
    if bootstrap:
        context.append("bootstrap=true")
    title = f"Synthesize {settings.stack}" + (" with every service at 0 tasks (first deploy)" if bootstrap else "")
    return Step(
        title,
        (
            *CDK,
            "synth",
            "--app",
            f"{shlex.quote(settings.python)} app.py",
            *[arg for item in context for arg in ("--context", item)],
            "--output",
            settings.assembly(bootstrap),
            "--quiet",
            settings.stack,
        ),
        cwd=INFRA,
    )


def cdk_deploy_step(settings: Settings, title: str, bootstrap: bool = False) -> Step:
    # The synthesized assembly is deployed as it is: what was synthesized and checked is what goes out. Parameters
    # not given keep their previous values (CDK's default --previous-parameters). The CDK CLI takes parameter values
    # only as --parameters arguments (no file, no environment variable), so NewsFeeds is on cdk's argv while it runs
    # (visible through ps to other users of this machine); it is masked in what is printed (docs/DEPLOY.md,
    # "Parameters and context").
    given = [
        arg
        for name, value in settings.stack_parameters().items()
        for arg in ("--parameters", f"{settings.stack}:{name}={value}")
    ]
    return Step(
        title,
        (*CDK, "deploy", "--app", settings.assembly(bootstrap), "--require-approval", "never", *given, settings.stack),
        cwd=INFRA,
        masked=tuple(value for value in settings.parameters.values() if value),
    )


def registry(account: str, region: str) -> str:
    return f"{account}.dkr.ecr.{region}.amazonaws.com"


def image_steps(settings: Settings, account: str, repository: str) -> list[Step]:
    host = registry(account, settings.region)
    return [
        Step(
            f"Log docker in to {host}",
            ("docker", "login", "--username", "AWS", "--password-stdin", host),
            stdin_from=aws(settings, "ecr", "get-login-password"),
        ),
        Step(
            f"Build the image for linux/amd64 and push {repository}:{settings.image_tag}",
            (
                "docker",
                "buildx",
                "build",
                "--platform",
                "linux/amd64",
                "--tag",
                f"{host}/{repository}:{settings.image_tag}",
                "--push",
                ".",
            ),
        ),
    ]


def db_init_steps(settings: Settings, outputs: Mapping[str, str], task_arn: str = "<task ARN>") -> list[Step]:
    """The one-off task that creates the central store's database (idempotent), and the wait for its exit code."""
    cluster = outputs[CLUSTER_OUTPUT]
    network = (
        f"awsvpcConfiguration={{subnets=[{outputs['AppSubnetIds']}],"
        f"securityGroups=[{outputs['WorkersSecurityGroupId']}],assignPublicIp=DISABLED}}"
    )
    return [
        Step(
            "Run the database-init task (creates the central store's database if it is missing)",
            aws(
                settings,
                "ecs",
                "run-task",
                "--cluster",
                cluster,
                "--task-definition",
                outputs["DbInitTaskDefinitionArn"],
                "--launch-type",
                "FARGATE",
                "--network-configuration",
                network,
                # The failures too: when ECS cannot place the task, run-task succeeds with no task and a reason.
                "--query",
                "{taskArn: tasks[0].taskArn, failures: failures}",
                "--output",
                "json",
            ),
        ),
        Step(
            "Wait for the database-init task to stop",
            aws(settings, "ecs", "wait", "tasks-stopped", "--cluster", cluster, "--tasks", task_arn),
        ),
        Step(
            "Read its exit code (0 = the database is ready)",
            aws(
                settings,
                "ecs",
                "describe-tasks",
                "--cluster",
                cluster,
                "--tasks",
                task_arn,
                "--query",
                "tasks[0].containers[0].exitCode",
                "--output",
                "text",
            ),
        ),
    ]


def bootstrap_steps(settings: Settings) -> list[Step]:
    return [
        synth_step(settings, bootstrap=True),
        cdk_deploy_step(settings, f"Deploy {settings.stack} (services at 0 tasks)", bootstrap=True),
    ]


def roll_step(settings: Settings, first: bool) -> Step:
    title = (
        f"Roll the ECS services to {settings.image_tag} (CloudFormation waits until stable)"
        if first
        else f"Deploy {settings.stack}: infrastructure changes and the services rolled to {settings.image_tag}"
    )
    return cdk_deploy_step(settings, title)


def first_deploy_plan(
    settings: Settings, account: str, outputs: Mapping[str, str], image_in_ecr: bool = False
) -> list[Step]:
    """A new stack: its ECR repository exists only once the stack does, so the services start at 0 tasks."""
    build = image_steps(settings, account, outputs[REPOSITORY_OUTPUT]) if not image_in_ecr else []
    return [
        *bootstrap_steps(settings),
        *build,
        *db_init_steps(settings, outputs),
        synth_step(settings),
        roll_step(settings, first=True),
    ]


def update_plan(
    settings: Settings,
    account: str,
    outputs: Mapping[str, str],
    image_in_ecr: bool = False,
    unfinished_first_deploy: bool = False,
) -> list[Step]:
    """An existing stack: the image is pushed before the deploy that makes the services run it. A stack still at
    0 tasks from a first deploy that stopped half-way also gets the database-init task first."""
    build = image_steps(settings, account, outputs[REPOSITORY_OUTPUT]) if settings.build and not image_in_ecr else []
    init = db_init_steps(settings, outputs) if unfinished_first_deploy else []
    return [synth_step(settings), *build, *init, roll_step(settings, first=unfinished_first_deploy)]


def destroy_plan(settings: Settings) -> list[Step]:
    return [
        synth_step(settings),
        Step(
            f"Destroy {settings.stack}",
            (*CDK, "destroy", "--app", settings.assembly(), "--force", settings.stack),
            cwd=INFRA,
        ),
    ]


# ------------------------------------------------------------------------------------------ prerequisite checks


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    # Not run because a check it needs failed (reported, and it fails the run like a failed check).
    skipped: bool = False


@dataclass
class Checker:
    """Runs the prerequisite checks with ``env`` (its PATH decides which tools exist)."""

    settings: Settings
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    root: Path = REPO
    account: str | None = None

    def which(self, tool: str) -> str | None:
        return shutil.which(tool, path=self.env.get("PATH", ""))

    def run(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv), cwd=self.root, env=dict(self.env), capture_output=True, text=True, timeout=120, check=False
        )

    @staticmethod
    def last_line(result: subprocess.CompletedProcess[str]) -> str:
        lines = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        return lines[-1] if lines else f"exit code {result.returncode}"

    # Each check returns (ok, detail); a failing detail says what to do.

    def python_env(self) -> tuple[bool, str]:
        python = Path(self.settings.python)
        in_venv = sys.prefix != sys.base_prefix
        if not in_venv:
            return False, f"{python} is not a virtualenv's python: run `make setup`, then `make deploy STAGE=...`"
        if importlib.util.find_spec("aws_cdk") is None:
            return False, f"aws-cdk-lib is not installed in {sys.prefix}: run `make setup` (it installs the dev extra)"
        return True, f"{python} (virtualenv {sys.prefix}, aws-cdk-lib installed)"

    def node(self) -> tuple[bool, str]:
        missing = [tool for tool in ("node", "npx") if self.which(tool) is None]
        if missing:
            return False, (
                f"{' and '.join(missing)} not found on PATH: install Node.js {MIN_NODE_MAJOR} or newer "
                "(https://nodejs.org or your package manager); the CDK CLI runs through npx"
            )
        result = self.run(["node", "--version"])
        match = re.match(r"v(\d+)\.", result.stdout.strip())
        if result.returncode != 0 or not match:
            return False, f"`node --version` failed ({self.last_line(result)}): reinstall Node.js"
        if int(match.group(1)) < MIN_NODE_MAJOR:
            return False, f"Node.js {result.stdout.strip()} is too old: the CDK CLI needs {MIN_NODE_MAJOR} or newer"
        return True, f"node {result.stdout.strip()}, CDK CLI {CDK_VERSION} through npx"

    def aws_cli(self) -> tuple[bool, str]:
        if self.which("aws") is None:
            return (
                False,
                "aws (the AWS CLI) not found on PATH: run `make setup` (awscli is in the dev extra) or install it",
            )
        result = self.run(["aws", "--version"])
        if result.returncode != 0:
            return False, f"`aws --version` failed ({self.last_line(result)}): reinstall the AWS CLI"
        return True, (result.stdout or result.stderr).strip().split()[0]

    def credentials(self) -> tuple[bool, str]:
        result = self.run(aws(self.settings, "sts", "get-caller-identity", "--output", "json"))
        if result.returncode != 0:
            return False, (
                f"no usable AWS credentials ({self.last_line(result)}): run `aws configure`, `aws sso login "
                "--profile NAME` and export AWS_PROFILE=NAME, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
            )
        identity = json.loads(result.stdout)
        self.account = identity["Account"]
        return True, f"account {identity['Account']} as {identity['Arn']}"

    def bootstrap(self) -> tuple[bool, str]:
        result = self.run(aws(self.settings, *BOOTSTRAP_QUERY))
        status = result.stdout.strip()
        command = f"npx --yes aws-cdk@{CDK_VERSION} bootstrap aws://{self.account}/{self.settings.region}"
        if result.returncode != 0:
            if "does not exist" not in result.stderr:
                return False, f"cannot read the CDKToolkit stack ({self.last_line(result)})"
            return False, f"{self.settings.region} of account {self.account} is not CDK-bootstrapped: run `{command}`"
        if status not in USABLE_STACK_STATES:
            return False, f"the CDKToolkit stack is {status}: fix it in the CloudFormation console, then `{command}`"
        return True, f"CDKToolkit stack {status} in {self.settings.region}"

    def api_key_parameter(self) -> tuple[bool, str]:
        # describe-parameters returns metadata only, never the value.
        result = self.run(aws(self.settings, *API_KEY_QUERY))
        create = (
            f"read -rs KEY && aws ssm put-parameter --region {self.settings.region} --name {API_KEY_PARAMETER} "
            '--type SecureString --value "$KEY"'
        )
        if result.returncode != 0:
            return (
                False,
                f"cannot read SSM parameters ({self.last_line(result)}): the role needs ssm:DescribeParameters",
            )
        kind = result.stdout.strip()
        if kind in ("", "None"):
            return False, f"SSM parameter {API_KEY_PARAMETER} does not exist in {self.settings.region}: `{create}`"
        if kind != "SecureString":
            return False, f"SSM parameter {API_KEY_PARAMETER} is a {kind}, not a SecureString: recreate it (`{create}`)"
        return True, f"{API_KEY_PARAMETER} exists (SecureString; value not read)"

    def email(self) -> tuple[bool, str]:
        if not self.settings.email:
            return False, f"no notification e-mail: pass --email ADDRESS or set {EMAIL_ENV} (make deploy EMAIL=...)"
        if not EMAIL_PATTERN.match(self.settings.email):
            return False, f"{self.settings.email!r} is not an e-mail address"
        return True, f"SNS subscription for {self.settings.email}"

    def git(self) -> tuple[bool, str]:
        result = self.run(["git", "status", "--porcelain", "--untracked-files=no"])
        if result.returncode != 0:
            return False, f"`git status` failed ({self.last_line(result)}): deploy from a git checkout"
        if result.stdout.strip():
            return False, (
                f"the work tree has uncommitted changes, so image tag {self.settings.image_tag} would not name what "
                "is built: commit or stash them"
            )
        return True, f"clean work tree at {self.settings.image_tag}"

    def docker(self) -> tuple[bool, str]:
        if self.which("docker") is None:
            return False, "docker not found on PATH: install Docker (Desktop or Engine) with the buildx plugin"
        info = self.run(["docker", "info", "--format", "{{.ServerVersion}}"])
        if info.returncode != 0:
            return False, f"the Docker engine does not answer ({self.last_line(info)}): start Docker"
        buildx = self.run(["docker", "buildx", "version"])
        if buildx.returncode != 0:
            return False, f"docker buildx is missing ({self.last_line(buildx)}): install the buildx plugin"
        return True, f"engine {info.stdout.strip()}, {buildx.stdout.strip()}"

    def checks(self, purpose: str = "deploy") -> list[tuple[str, Callable[[], tuple[bool, str]], tuple[str, ...]]]:
        """(name, check, what it needs) in order; a check whose needs failed is reported as not checked."""
        local: list[tuple[str, Callable[[], tuple[bool, str]], tuple[str, ...]]] = [
            ("python", self.python_env, ()),
            ("node", self.node, ()),
            ("aws-cli", self.aws_cli, ()),
        ]
        if purpose == "deploy":
            local.append(("email", self.email, ()))
            if self.settings.build:
                local += [("git", self.git, ()), ("docker", self.docker, ())]
        remote: list[tuple[str, Callable[[], tuple[bool, str]], tuple[str, ...]]] = [
            ("credentials", self.credentials, ("aws-cli",)),
            ("cdk-bootstrap", self.bootstrap, ("credentials",)),
        ]
        if purpose == "deploy":
            remote.append(("ssm-api-key", self.api_key_parameter, ("credentials",)))
        return local + remote

    def run_checks(self, purpose: str = "deploy") -> list[CheckResult]:
        results: dict[str, CheckResult] = {}
        for name, check, needs in self.checks(purpose):
            failed = [need for need in needs if not results[need].ok]
            if failed:
                results[name] = CheckResult(name, False, f"not checked: needs {', '.join(failed)}", skipped=True)
                continue
            ok, detail = check()
            results[name] = CheckResult(name, ok, detail)
        return list(results.values())

    def commands(self, purpose: str = "deploy") -> list[str]:
        """The commands the checks run, for --dry-run."""
        s = self.settings
        shown = {
            "python": f"{shlex.quote(s.python)} -c 'import aws_cdk'",
            "credentials": shlex.join(aws(s, "sts", "get-caller-identity", "--output", "json")),
            "cdk-bootstrap": shlex.join(aws(s, *BOOTSTRAP_QUERY)),
            "ssm-api-key": shlex.join(aws(s, *API_KEY_QUERY)),
            "email": f"(no command: {s.email or 'missing'})",
        }
        lines = []
        for name, _, _ in self.checks(purpose):
            command = shown.get(name) or shlex.join(CHECK_COMMANDS[name])
            if name == "docker":
                command += " && docker buildx version"
            lines.append(f"{name}: {command}")
        return lines


def report(results: Sequence[CheckResult], out: Callable[[str], None] = print) -> bool:
    for result in results:
        out(f"  {'ok  ' if result.ok else 'skip' if result.skipped else 'FAIL'} {result.name}: {result.detail}")
    return all(result.ok for result in results)


# -------------------------------------------------------------------------------------------------- execution


def run_step(step: Step, env: Mapping[str, str], capture: bool = False) -> str:
    """Run one step, its output streamed (or captured and returned); a failure stops the deploy."""
    print(f"\n==> {step.title}\n    $ {step.shell()}", flush=True)
    output = subprocess.PIPE if capture else None
    if step.stdin_from:
        with subprocess.Popen(step.stdin_from, cwd=step.cwd, env=dict(env), stdout=subprocess.PIPE) as source:
            result = subprocess.run(
                step.argv, cwd=step.cwd, env=dict(env), stdin=source.stdout, stdout=output, text=True, check=False
            )
            code = result.returncode or source.wait()
    else:
        result = subprocess.run(step.argv, cwd=step.cwd, env=dict(env), stdout=output, text=True, check=False)
        code = result.returncode
    if code:
        raise DeployError(f"'{step.title}' failed (exit code {code}); nothing after it ran. Its output is above.")
    return (result.stdout or "").strip()


def run_aws(settings: Settings, env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(aws(settings, *args), env=dict(env), capture_output=True, text=True, check=False)


def stack_status(settings: Settings, env: Mapping[str, str]) -> str | None:
    """The stack's status, or None when it does not exist."""
    result = run_aws(
        settings,
        env,
        "cloudformation",
        "describe-stacks",
        "--stack-name",
        settings.stack,
        "--query",
        "Stacks[0].StackStatus",
        "--output",
        "text",
    )
    if result.returncode != 0:
        if "does not exist" in result.stderr:
            return None
        raise DeployError(f"cannot read stack {settings.stack}: {result.stderr.strip()}")
    return result.stdout.strip()


def stack_outputs(settings: Settings, env: Mapping[str, str], required: Sequence[str] = ()) -> dict[str, str]:
    result = run_aws(
        settings,
        env,
        "cloudformation",
        "describe-stacks",
        "--stack-name",
        settings.stack,
        "--query",
        "Stacks[0].Outputs",
        "--output",
        "json",
    )
    if result.returncode != 0:
        raise DeployError(f"cannot read the outputs of {settings.stack}: {result.stderr.strip()}")
    found = {item["OutputKey"]: item["OutputValue"] for item in json.loads(result.stdout or "null") or []}
    missing = [key for key in (REPOSITORY_OUTPUT, CLUSTER_OUTPUT, *required) if key not in found]
    if not any(key in found for key in TOPIC_OUTPUTS):
        missing.append(TOPIC_OUTPUTS[0])
    if missing:
        raise DeployError(f"stack {settings.stack} has no output {', '.join(missing)} (infra/ must export it)")
    return found


def topic_arn(outputs: Mapping[str, str]) -> str:
    return next(outputs[key] for key in TOPIC_OUTPUTS if key in outputs)


def image_in_ecr(settings: Settings, env: Mapping[str, str], repository: str) -> bool:
    result = run_aws(
        settings,
        env,
        "ecr",
        "describe-images",
        "--repository-name",
        repository,
        "--image-ids",
        f"imageTag={settings.image_tag}",
    )
    return result.returncode == 0


def check_template(settings: Settings, bootstrap: bool, first: bool) -> None:
    """The synthesized template declares the e-mail parameter, and a first deploy gives every parameter that has
    no default (an update keeps the previous values)."""
    template = INFRA / settings.assembly(bootstrap) / f"{settings.stack}.template.json"
    declared: dict[str, dict[str, object]] = json.loads(template.read_text()).get("Parameters", {})
    if EMAIL_PARAMETER not in declared:
        raise DeployError(f"{template} declares no parameter {EMAIL_PARAMETER}: infra/ must declare it")
    unknown = sorted(set(settings.parameters) - set(declared))
    if unknown:
        raise DeployError(f"the stack has no parameter {', '.join(unknown)}; its parameters: {', '.join(declared)}")
    given = settings.stack_parameters()
    needed = sorted(
        name
        for name, spec in declared.items()
        if "Default" not in spec and name not in given and not name.startswith("BootstrapVersion")
    )
    if first and needed:
        flags = " ".join(f"--parameter {name}=..." for name in needed)
        raise DeployError(
            f"a first deploy needs every parameter without a default: {flags} (or in ${PARAMETERS_ENV} as JSON; "
            "see docs/DEPLOY.md)"
        )


def started_task_arn(run_task_output: str) -> str:
    """The task ARN from ``run-task``'s output (:func:`db_init_steps`); ECS's failures as a :class:`DeployError`
    when it started no task (``run-task`` exits 0 then, with ``failures`` and no task)."""
    try:
        answer = json.loads(run_task_output or "null")
    except ValueError:
        answer = None
    answer = answer if isinstance(answer, dict) else {}
    arn = answer.get("taskArn")
    if isinstance(arn, str) and arn.startswith("arn:"):
        return arn
    failures = answer.get("failures") or []
    reasons = (
        "; ".join(" ".join(str(f[key]) for key in ("arn", "reason", "detail") if f.get(key)) for f in failures if f)
        or f"no task and no failure reported (output: {run_task_output[:300]!r})"
    )
    raise DeployError(
        f"ECS started no database-init task: {reasons}. The services stay at 0 tasks; fix the cause (capacity, "
        "subnets, the task definition) and run the same command again"
    )


def run_db_init(settings: Settings, env: Mapping[str, str], outputs: Mapping[str, str]) -> None:
    task = started_task_arn(run_step(db_init_steps(settings, outputs)[0], env, capture=True))
    wait, read_exit_code = db_init_steps(settings, outputs, task_arn=task)[1:]
    run_step(wait, env)
    if (code := run_step(read_exit_code, env, capture=True)) != "0":
        raise DeployError(
            f"the database-init task exited with {code}: read its log stream (prefix db-init) in CloudWatch Logs; "
            "the services stay at 0 tasks; fix the cause and run the same command again"
        )


def at_zero_tasks(settings: Settings, env: Mapping[str, str], outputs: Mapping[str, str]) -> bool:
    """Whether the webserver service wants 0 tasks: the stack is still as a first deploy's bootstrap step left it."""
    service = outputs.get(WEBSERVER_OUTPUT)
    if not service:
        return False
    result = run_aws(
        settings,
        env,
        "ecs",
        "describe-services",
        "--cluster",
        outputs[CLUSTER_OUTPUT],
        "--services",
        service,
        "--query",
        "services[0].desiredCount",
        "--output",
        "text",
    )
    return result.returncode == 0 and result.stdout.strip() == "0"


def confirmation_lines(settings: Settings, topic: str, pending: bool | None) -> list[str]:
    if pending is False:
        return [f"The SNS subscription of {settings.email} to {topic} is confirmed."]
    return [
        f"Confirm the SNS subscription: AWS sent 'AWS Notification - Subscription Confirmation' to {settings.email}.",
        "Open it and click 'Confirm subscription'; no pipeline notification is delivered until then",
        f"(topic {topic}; check with `aws sns list-subscriptions-by-topic --topic-arn {topic}`).",
    ]


TT_SECRET_OUTPUT = "TtApiSecretName"


def tt_credentials_lines(secret_name: str) -> list[str]:
    """The stack creates the TT secret with JSON placeholders; the desk's TT snapshots fail until it holds the real
    credentials (the command never reads or writes it: a credential passes through no deploy log)."""
    return [
        f"Put the real TT API credentials in the secret {secret_name} (it holds placeholders until then, and the desk",
        "service's TT snapshots fail):",
        f"  aws secretsmanager put-secret-value --secret-id {secret_name} --secret-string file://tt-api.json",
        '  with tt-api.json holding {"api_key": "...", "api_secret": "..."} (skip this if it was done already).',
    ]


def subscription_pending(settings: Settings, env: Mapping[str, str], topic: str) -> bool | None:
    result = run_aws(settings, env, "sns", "list-subscriptions-by-topic", "--topic-arn", topic, "--output", "json")
    if result.returncode != 0:
        return None
    mine = [s for s in json.loads(result.stdout)["Subscriptions"] if s.get("Endpoint") == settings.email]
    return not mine or any(s["SubscriptionArn"] == "PendingConfirmation" for s in mine)


def confirm(stage: str, action: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise DeployError(f"{action} {stage} needs --yes (make ... YES=1) when there is no terminal to confirm in")
    answer = input(f"{action} {stage}: type '{stage}' to go on: ").strip()
    if answer != stage:
        raise DeployError(f"not confirmed ({answer!r} is not {stage!r}); nothing was done")


def print_steps(steps: Sequence[Step]) -> None:
    for number, step in enumerate(steps, 1):
        print(f"  {number}. {step.title}\n     $ {step.shell()}")


def print_checks(checker: Checker, purpose: str) -> None:
    print("Prerequisite checks (each runs one command):")
    for line in checker.commands(purpose):
        print(f"  {line}")


def dry_run_deploy(settings: Settings, checker: Checker) -> None:
    print(f"Dry run of the deploy of {settings.stack} to {settings.region}; nothing is run.")
    if settings.stage == "prod":
        print("prod: nothing runs until confirmed (--yes, or 'prod' typed at the prompt).")
    print_checks(checker, "deploy")
    status = shlex.join(aws(settings, "cloudformation", "describe-stacks", "--stack-name", settings.stack))
    print(f"Then `{status}` decides between the two plans below.")
    account = "<account>"
    outputs = {key: f"<{key}>" for key in (REPOSITORY_OUTPUT, CLUSTER_OUTPUT, *DB_INIT_OUTPUTS)}
    if settings.build:
        print(f"First deploy (no stack {settings.stack} yet):")
        print_steps(first_deploy_plan(settings, account, outputs))
    print("Update (the stack exists):")
    print_steps(update_plan(settings, account, outputs))
    if settings.build:
        print("  (the login and the build are left out when the tag is in ECR already: a commit's image is built once)")
    print("Then:", *confirmation_lines(settings, f"<{TOPIC_OUTPUTS[0]}>", None), sep="\n  ")
    print("\n".join(f"  {line}" for line in tt_credentials_lines(f"<{TT_SECRET_OUTPUT}>")))


def deploy(settings: Settings, args: argparse.Namespace, env: Mapping[str, str]) -> None:
    checker = Checker(settings, env)
    if args.dry_run:
        dry_run_deploy(settings, checker)
        return
    if settings.stage == "prod":
        confirm(settings.stage, "Deploy to", args.yes)
    print(f"Checking the prerequisites for {settings.stack} in {settings.region}:")
    if not report(checker.run_checks("deploy")):
        raise DeployError("fix the failed checks above, then run the same command again")
    account = checker.account or ""
    status = stack_status(settings, env)
    if status is not None and (status == "ROLLBACK_COMPLETE" or status.endswith("_IN_PROGRESS")):
        raise DeployError(
            f"{settings.stack} is {status}: "
            + (
                f"its first deploy failed and CloudFormation cannot update it; `make destroy STAGE={settings.stage}` "
                "and deploy again"
                if status == "ROLLBACK_COMPLETE"
                else "another deploy is running; wait for it to finish"
            )
        )
    if status is None:
        if not settings.build:
            raise DeployError(
                f"{settings.stack} does not exist yet: its first deploy builds the image (no --image-tag)"
            )
        print(f"\n{settings.stack} does not exist yet: first deploy.")
        bootstrap_synth, bootstrap_deploy = bootstrap_steps(settings)
        run_step(bootstrap_synth, env)
        check_template(settings, bootstrap=True, first=True)
        run_step(bootstrap_deploy, env)
        outputs = stack_outputs(settings, env, DB_INIT_OUTPUTS)
        if not image_in_ecr(settings, env, outputs[REPOSITORY_OUTPUT]):
            for step in image_steps(settings, account, outputs[REPOSITORY_OUTPUT]):
                run_step(step, env)
        run_db_init(settings, env, outputs)
        run_step(synth_step(settings), env)
        check_template(settings, bootstrap=False, first=False)
        run_step(roll_step(settings, first=True), env)
    else:
        print(f"\n{settings.stack} is {status}: update.")
        outputs = stack_outputs(settings, env)
        repository = outputs[REPOSITORY_OUTPUT]
        present = image_in_ecr(settings, env, repository)
        if not settings.build and not present:
            raise DeployError(
                f"image tag {settings.image_tag} is not in ECR repository {repository}; the tags there: "
                f"`aws ecr list-images --repository-name {repository} --region {settings.region}`"
            )
        if present and settings.build:
            print(f"{repository}:{settings.image_tag} is already in ECR: not rebuilt.")
        unfinished = at_zero_tasks(settings, env, outputs)
        if unfinished:
            print(f"{settings.stack} is still at 0 tasks (a first deploy stopped half-way): finishing it.")
            outputs = stack_outputs(settings, env, DB_INIT_OUTPUTS)
        # The steps of update_plan, with the database-init task's ARN read as it runs.
        run_step(synth_step(settings), env)
        check_template(settings, bootstrap=False, first=False)
        if settings.build and not present:
            for step in image_steps(settings, account, repository):
                run_step(step, env)
        if unfinished:
            run_db_init(settings, env, outputs)
        run_step(roll_step(settings, first=unfinished), env)
        outputs = stack_outputs(settings, env)
    print(f"\n{settings.stack} runs image {outputs[REPOSITORY_OUTPUT]}:{settings.image_tag}. Stack outputs:")
    for key, value in sorted(outputs.items()):
        print(f"  {key}: {value}")
    topic = topic_arn(outputs)
    print("", *confirmation_lines(settings, topic, subscription_pending(settings, env, topic)), sep="\n")
    print("", *tt_credentials_lines(outputs.get(TT_SECRET_OUTPUT, f"ops-platform-{settings.stage}/tt-api")), sep="\n")


def destroy(settings: Settings, args: argparse.Namespace, env: Mapping[str, str]) -> None:
    checker = Checker(settings, env)
    steps = destroy_plan(settings)
    if args.dry_run:
        print(f"Dry run of the teardown of {settings.stack} in {settings.region}; nothing is run.")
        print_checks(checker, "destroy")
        print("Steps:")
        print_steps(steps)
        return
    confirm(settings.stage, "Destroy", args.yes)
    print(f"Checking the prerequisites for destroying {settings.stack}:")
    if not report(checker.run_checks("destroy")):
        raise DeployError("fix the failed checks above, then run the same command again")
    for step in steps:
        run_step(step, env)
    print(
        f"\n{settings.stack} is deleted. Kept on purpose (delete them by hand when no longer needed): the RDS "
        "final snapshot, the retained S3 buckets and ECR repository, and the SSM parameter "
        f"{API_KEY_PARAMETER} (not part of the stack). docs/DEPLOY.md lists them."
    )


def stack_parameters(args: argparse.Namespace, env: Mapping[str, str]) -> dict[str, str]:
    """``$OPS_STACK_PARAMETERS`` (a JSON object), then ``--parameter NAME=VALUE`` flags over it."""
    parameters: dict[str, str] = {}
    if raw := env.get(PARAMETERS_ENV, "").strip():
        try:
            loaded = json.loads(raw)
        except json.JSONDecodeError as error:
            raise DeployError(f"${PARAMETERS_ENV} is not JSON ({error.msg}): give an object of strings") from None
        if not isinstance(loaded, dict):
            raise DeployError(f"${PARAMETERS_ENV} must be a JSON object of parameter names to values")
        parameters.update({str(key): str(value) for key, value in loaded.items()})
    for item in getattr(args, "parameter", None) or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise DeployError(f"--parameter {item!r}: write NAME=VALUE")
        parameters[name] = value
    if EMAIL_PARAMETER in parameters:
        raise DeployError(f"give the e-mail with --email (or ${EMAIL_ENV}), not as the parameter {EMAIL_PARAMETER}")
    return parameters


def git_commit(env: Mapping[str, str]) -> str:
    if shutil.which("git", path=env.get("PATH", "")) is None:
        raise DeployError("git not found on PATH: the image tag is the commit; install git or pass --image-tag")
    result = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, env=dict(env), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise DeployError(f"cannot read the git commit for the image tag ({result.stderr.strip()}); pass --image-tag")
    return result.stdout.strip()


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="scripts/deploy.py")
    commands = root.add_subparsers(dest="command", required=True)
    for name, text in (
        ("deploy", "check, synthesize, deploy, build and push the image, roll the services"),
        ("destroy", "delete the stack (asks for the stage name unless --yes)"),
        ("check", "run the prerequisite checks only"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--stage", required=True, choices=STAGES)
        command.add_argument(
            "--region",
            default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            help="AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1)",
        )
        command.add_argument("--dry-run", action="store_true", help="print every command, run none")
        command.add_argument("--yes", action="store_true", help="no confirmation prompt (required for prod in CI)")
        if name in ("deploy", "check"):
            command.add_argument("--email", default=os.environ.get(EMAIL_ENV, ""), help=f"default: ${EMAIL_ENV}")
            command.add_argument(
                "--image-tag", help="deploy this tag, already in ECR, without building (rollback of the image)"
            )
            command.add_argument(
                "--parameter",
                action="append",
                metavar="NAME=VALUE",
                help=f"a stack parameter (repeatable; over ${PARAMETERS_ENV}, a JSON object); unchanged ones keep "
                "their previous values",
            )
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    env = dict(os.environ)
    try:
        tag = getattr(args, "image_tag", None)
        settings = Settings(
            stage=args.stage,
            region=args.region,
            email=getattr(args, "email", "") or "",
            image_tag=tag or (git_commit(env) if args.command != "destroy" else ""),
            build=tag is None,
            parameters=stack_parameters(args, env) if args.command != "destroy" else {},
        )
        if args.command == "deploy":
            deploy(settings, args, env)
        elif args.command == "destroy":
            destroy(settings, args, env)
        else:
            checker = Checker(settings, env)
            if args.dry_run:
                print("\n".join(checker.commands("deploy")))
                return 0
            if not report(checker.run_checks("deploy")):
                raise DeployError("fix the failed checks above")
    except DeployError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
