"""The production instance (infra/dagster.yaml) launching real runs of the code location.

The instance's storage is the machine's PostgreSQL; ECS, EC2 and S3 are a moto server. An ECS run is launched
the way the daemon launches it in production: from inside a (moto) ECS task of the daemon, whose metadata
endpoint is served here, so ``use_current_ecs_task_config`` copies the cluster, subnets and security groups
from it. An inline run is executed by a real code-location gRPC server, without any ECS call.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
import pytest
from dagster._core.errors import DagsterUserCodeUnreachableError
from dagster._core.events import RunFailureReason
from dagster._core.launcher.base import WorkerStatus
from dagster._core.remote_representation.code_location import CodeLocation
from dagster._core.remote_representation.external import RemoteJob
from dagster._core.storage.tags import GRPC_INFO_TAG, PARENT_RUN_ID_TAG, RUN_FAILURE_REASON_TAG
from dagster._core.test_utils import create_run_for_test
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.auto_run_reexecution.auto_run_reexecution import consume_new_runs_for_automatic_reexecution
from dagster._daemon.monitoring import run_monitoring
from dagster._grpc.types import CanCancelExecutionRequest, CanCancelExecutionResult
from dagster._serdes import deserialize_value

from resources.run_launcher import RoutingRunLauncher

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
LOCATION = "ops_assets"

pytestmark = pytest.mark.integration


class _MetadataHandler(BaseHTTPRequestHandler):
    """ECS task metadata endpoint v4 (``$ECS_CONTAINER_METADATA_URI_V4/task``) of the daemon's task."""

    task: dict[str, str] = {}  # noqa: RUF012 (set per server)

    def do_GET(self) -> None:
        body = json.dumps(self.task if self.path.endswith("/task") else {"Name": "daemon"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def ecs_world(moto_server: str) -> dict[str, Any]:
    """A cluster with the daemon's task running in it (awsvpc, one subnet, one security group) and the run task
    definition the CDK app would register."""
    ec2 = boto3.client("ec2", endpoint_url=moto_server, region_name=REGION)
    ecs = boto3.client("ecs", endpoint_url=moto_server, region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    # Task VPCs resolve DNS hostnames (and moto 5.2 needs it to attach an awsvpc task's network interface).
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"runs-{vpc}", Description="runs", VpcId=vpc)["GroupId"]
    cluster = ecs.create_cluster(clusterName=f"ops-{vpc[-8:]}")["cluster"]["clusterArn"]
    common = {
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "512",
        "memory": "1024",
    }
    daemon_definition = ecs.register_task_definition(
        family="ops-daemon",
        containerDefinitions=[{"name": "daemon", "image": "ops:test", "essential": True, "memory": 512}],
        **common,
    )["taskDefinition"]["taskDefinitionArn"]
    run_definition = ecs.register_task_definition(
        family="ops-run",
        containerDefinitions=[{"name": "run", "image": "ops:test", "essential": True, "memory": 512}],
        **common,
    )["taskDefinition"]["taskDefinitionArn"]
    daemon_task = ecs.run_task(
        cluster=cluster,
        taskDefinition=daemon_definition,
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}},
    )["tasks"][0]["taskArn"]
    return {
        "ecs": ecs,
        "cluster": cluster,
        "subnet": subnet,
        "group": group,
        "daemon_task": daemon_task,
        "run_definition": run_definition,
    }


@pytest.fixture
def metadata_endpoint(ecs_world: dict[str, Any]) -> Iterator[str]:
    handler = type(
        "Handler", (_MetadataHandler,), {"task": {"Cluster": ecs_world["cluster"], "TaskARN": ecs_world["daemon_task"]}}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v4/daemon"
    server.shutdown()
    server.server_close()


@pytest.fixture
def production_instance(
    moto_server: str,
    pg_database: dict[str, str],
    ecs_world: dict[str, Any],
    metadata_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dg.DagsterInstance]:
    """infra/dagster.yaml with the environment the CDK app gives the daemon's task."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "infra" / "dagster.yaml").read_text())
    logs_bucket = f"compute-logs-{pg_database['db_name'][-12:]}"
    boto3.client("s3", endpoint_url=moto_server, region_name=REGION).create_bucket(Bucket=logs_bucket)
    settings = {
        "DAGSTER_HOME": str(home),
        "OPS_ENV": "local",
        "OPS_DATA_DIR": str(tmp_path / "data"),
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_REGION": REGION,
        "DAGSTER_PG_HOST": pg_database["host"],
        "DAGSTER_PG_PORT": pg_database["port"],
        "DAGSTER_PG_USER": pg_database["user"],
        "DAGSTER_PG_PASSWORD": pg_database["password"],
        "DAGSTER_PG_DB": pg_database["db_name"],
        "DAGSTER_RUN_TASK_DEFINITION": ecs_world["run_definition"],
        "DAGSTER_RUN_CONTAINER": "run",
        "DAGSTER_COMPUTE_LOGS_BUCKET": logs_bucket,
        "ECS_CONTAINER_METADATA_URI_V4": metadata_endpoint,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    with dg.DagsterInstance.get() as instance:
        yield instance


@pytest.fixture
def code_location(production_instance: dg.DagsterInstance) -> Iterator[tuple[Any, CodeLocation, Any]]:
    """The ``ops_assets`` code location served by a gRPC server process, as the code-location service serves it."""
    target = ModuleTarget(
        module_name="ops_assets.definitions", attribute=None, working_directory=str(REPO), location_name=LOCATION
    )
    with WorkspaceProcessContext(production_instance, target) as context:
        workspace = context.create_request_context()
        location = workspace.get_code_location(LOCATION)
        yield workspace, location, context
        # Stop the server before the test database is dropped (it would otherwise retry its connection).
        location.client.shutdown_server()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                location.client.ping("")
            except DagsterUserCodeUnreachableError:
                break
            time.sleep(0.2)


def create_run(instance: dg.DagsterInstance, location: CodeLocation, job_name: str) -> dg.DagsterRun:
    """A run of ``job_name`` as the webserver or a schedule creates it: snapshots, origins and the job's tags."""
    [repository_name] = location.get_repository_names()
    job: RemoteJob = location.get_repository(repository_name).get_full_job(job_name)
    plan = location.get_execution_plan(job, {}, step_keys_to_execute=None, known_state=None, instance=instance)
    return create_run_for_test(
        instance,
        job_name=job_name,
        tags=job.tags,
        job_snapshot=job.job_snapshot,
        execution_plan_snapshot=plan.execution_plan_snapshot,
        remote_job_origin=job.get_remote_origin(),
        job_code_origin=job.get_python_origin(),
        asset_selection=None,
    )


def test_the_production_instance_uses_the_routing_launcher_and_its_settings(
    production_instance: dg.DagsterInstance,
) -> None:
    instance = production_instance
    assert isinstance(instance.run_launcher, RoutingRunLauncher)
    assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    assert type(instance.compute_log_manager).__name__ == "S3ComputeLogManager"
    assert "Postgres" in type(instance.run_storage).__name__
    assert instance.run_monitoring_enabled
    assert instance.run_monitoring_start_timeout_seconds == 600
    assert instance.run_monitoring_max_resume_run_attempts == 0
    assert instance.run_retries_enabled
    assert instance.run_retries_max_retries == 2
    assert not instance.run_retries_retry_on_asset_or_op_failure
    limits = instance.run_coordinator.get_run_queue_config().tag_concurrency_limits
    assert {"key": "ops/launch", "value": "inline", "limit": 4} in limits


@pytest.mark.parametrize(
    ("job_name", "cpu", "memory", "ephemeral"),
    [("weekly_fundamentals_job", "2048", "4096", 30), ("forecasting_training_job", "2048", "8192", None)],
)
def test_an_ecs_run_reaches_ecs_with_its_size_command_and_tags(
    production_instance: dg.DagsterInstance,
    code_location: tuple[Any, CodeLocation, Any],
    ecs_world: dict[str, Any],
    job_name: str,
    cpu: str,
    memory: str,
    ephemeral: int | None,
) -> None:
    instance = production_instance
    workspace, location, _ = code_location
    run = create_run(instance, location, job_name)
    instance.launch_run(run.run_id, workspace)

    run = instance.get_run_by_id(run.run_id)
    ecs = ecs_world["ecs"]
    [task_arn] = ecs.list_tasks(cluster=ecs_world["cluster"], family="ops-run")["taskArns"]
    assert run.tags["ecs/task_arn"] == task_arn
    [task] = ecs.describe_tasks(cluster=ecs_world["cluster"], tasks=[task_arn], include=["TAGS"])["tasks"]
    assert task["taskDefinitionArn"] == ecs_world["run_definition"]
    assert run.tags["ecs/cluster"] == ecs_world["cluster"]
    [container] = task["overrides"]["containerOverrides"]
    assert container["name"] == "run"
    assert container["command"][:3] == ["dagster", "api", "execute_run"]
    assert run.run_id in container["command"][3]
    assert (task["overrides"]["cpu"], task["overrides"]["memory"]) == (cpu, memory)
    assert (container["cpu"], container["memory"]) == (int(cpu), int(memory))
    if ephemeral is None:
        assert "ephemeralStorage" not in task["overrides"]
    else:
        assert task["overrides"]["ephemeralStorage"] == {"sizeInGiB": ephemeral}
    tags = {tag["key"]: tag["value"] for tag in task["tags"]}
    assert tags["dagster/run_id"] == run.run_id
    assert tags["dagster/job_name"] == job_name
    assert tags["ops/launch"] == "ecs"
    assert tags["project"] == "ops-platform"
    # Networking copied from the daemon's task.
    [attachment] = task["attachments"]
    details = {d["name"]: d["value"] for d in attachment["details"]}
    assert details["subnetId"] == ecs_world["subnet"]
    # Run monitoring asks ECS about the task.
    health = instance.run_launcher.check_run_worker_health(run)
    assert health.status == WorkerStatus.RUNNING


def test_an_inline_run_executes_on_the_code_server_without_ecs(
    production_instance: dg.DagsterInstance,
    code_location: tuple[Any, CodeLocation, Any],
    ecs_world: dict[str, Any],
    moto_server: str,
) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name=REGION)
    instance = production_instance
    workspace, location, _ = code_location
    run = create_run(instance, location, "desk_freshness_job")
    assert run.tags["ops/launch"] == "inline"
    instance.launch_run(run.run_id, workspace)

    deadline = time.monotonic() + 120
    while not instance.get_run_by_id(run.run_id).is_finished and time.monotonic() < deadline:
        time.sleep(0.25)
    run = instance.get_run_by_id(run.run_id)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert "ecs/task_arn" not in run.tags
    assert ecs_world["ecs"].list_tasks(cluster=ecs_world["cluster"], family="ops-run")["taskArns"] == []
    # The code server ran it (it recorded its address on the run) and has let go of the run's process.
    assert json.loads(run.tags[GRPC_INFO_TAG])
    request = CanCancelExecutionRequest(run_id=run.run_id)
    while deserialize_value(location.client.can_cancel_execution(request), CanCancelExecutionResult).can_cancel:
        assert time.monotonic() < deadline, "the code server never released the finished run"
        time.sleep(0.25)
    # The step's stdout/stderr went to the compute-log bucket.
    listing = s3.list_objects_v2(Bucket=os.environ["DAGSTER_COMPUTE_LOGS_BUCKET"], Prefix="compute-logs/")
    assert listing.get("KeyCount", 0) > 0
    # Run monitoring must not fail a healthy inline run.
    assert instance.run_launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING


def test_a_run_stuck_in_starting_fails_at_the_start_timeout_and_is_retried(
    production_instance: dg.DagsterInstance,
    code_location: tuple[Any, CodeLocation, Any],
    ecs_world: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    instance = production_instance
    workspace, location, context = code_location
    logger = logging.getLogger("test_run_launcher")
    run = create_run(instance, location, "weekly_fundamentals_job")
    instance.launch_run(run.run_id, workspace)
    # moto's task never runs the worker, so the run stays STARTING, like a Fargate task that never comes up.
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTING
    launched = instance.get_run_stats(run.run_id).launch_time

    # The daemon's monitoring pass, with its clock moved past the launch.
    monkeypatch.setattr(run_monitoring, "get_current_timestamp", lambda: launched + 599)
    run_monitoring.monitor_starting_run(instance, instance.get_run_record_by_id(run.run_id), logger)
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTING
    monkeypatch.setattr(run_monitoring, "get_current_timestamp", lambda: launched + 601)
    run_monitoring.monitor_starting_run(instance, instance.get_run_record_by_id(run.run_id), logger)
    failed = instance.get_run_by_id(run.run_id)
    assert failed.status == dg.DagsterRunStatus.FAILURE
    assert failed.tags[RUN_FAILURE_REASON_TAG] == RunFailureReason.START_TIMEOUT.value

    # The run-retry daemon's pass: a re-execution is submitted to the queue, with the job's tags (so it goes to
    # ECS again, with the same size).
    list(consume_new_runs_for_automatic_reexecution(context, [instance.get_run_record_by_id(run.run_id)], logger))
    [retry] = instance.get_runs(filters=dg.RunsFilter(tags={PARENT_RUN_ID_TAG: run.run_id}))
    assert retry.status == dg.DagsterRunStatus.QUEUED
    assert retry.tags["dagster/retry_number"] == "1"
    assert (retry.tags["ops/launch"], retry.tags["ecs/cpu"], retry.tags["ecs/memory"]) == ("ecs", "2048", "4096")


def test_the_production_workspace_reaches_the_code_server_as_ops_assets(
    production_instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The webserver and daemon tasks run with ``-w infra/workspace.yaml`` against the code-location service, which
    runs the image's CMD (``dagster code-server start -p 4000 -m ops_assets.definitions``). The location keeps the
    name ``ops_assets``, as under ``make ui`` locally, so runs and "Re-execute" read the same everywhere."""
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster._grpc.client import DagsterGrpcClient

    from tests.conftest import free_port

    port = free_port()
    dagster = str(Path(sys.executable).parent / "dagster")
    command = [dagster, "code-server", "start", "-h", "127.0.0.1", "-p", str(port), "-m", "ops_assets.definitions"]
    server = subprocess.Popen(
        command,
        cwd=REPO,
        start_new_session=True,
    )
    try:
        client = DagsterGrpcClient(port=port, host="127.0.0.1")
        deadline = time.monotonic() + 180
        while True:
            try:
                client.ping("")
                break
            except DagsterUserCodeUnreachableError:
                assert server.poll() is None, "the code server exited before it answered"
                assert time.monotonic() < deadline, "the code server never answered"
                time.sleep(0.5)
        monkeypatch.setenv("DAGSTER_CODE_SERVER_HOST", "127.0.0.1")
        monkeypatch.setenv("DAGSTER_CODE_SERVER_PORT", str(port))
        target = WorkspaceFileTarget(paths=[str(REPO / "infra" / "workspace.yaml")])
        with WorkspaceProcessContext(production_instance, target) as context:
            workspace = context.create_request_context()
            assert workspace.code_location_errors() == []
            location = workspace.get_code_location(LOCATION)
            [repository_name] = location.get_repository_names()
            jobs = {job.name for job in location.get_repository(repository_name).get_all_jobs()}
            assert {"weekly_fundamentals_job", "news_job", "desk_freshness_job"} <= jobs
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
