"""How long a run takes to start on each path of the routing run launcher (resources/run_launcher.py).

Everything runs through the production instance (infra/dagster.yaml): Dagster's storage in the machine's
PostgreSQL (a scratch database), compute logs in S3 and ECS/EC2 on a moto server, the code location served by a
real gRPC server process, as the code-location service serves it.

- **inline** (``ops/launch: inline``): ``desk_freshness_job`` (one asset check, about a second of work), launched
  as the daemon launches a dequeued run. Measured: the launch call, launch -> STARTED (the run worker process is
  up and has loaded the code), launch -> SUCCESS.
- **ecs**: ``weekly_fundamentals_job``, launched from inside a (moto) ECS task of the daemon, so the launcher reads
  the task metadata endpoint and the daemon task's network configuration, then calls RunTask. Measured: the launch
  call only, i.e. the ECS/EC2 API round trips against moto on loopback. What follows in AWS (Fargate provisioning,
  ENI attachment, the image pull, the container's start) cannot be measured here: no AWS account. AWS documents no
  typical figure; it documents that every Fargate task pulls its whole image (no cache) and that launch time grows
  with image size, and that an awsvpc ENI adds "several seconds". The issue's "30 s to minutes" is that claim,
  not a measurement of ours.
- **reference**: a fresh ``python -c "import ops_assets.definitions"``: the code-loading cost every new run worker
  pays before its first step, on either path (in ECS after the container has started).

    .venv/bin/python benchmarks/bench_run_launch.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

REGION = "us-east-1"
PG_DSN = os.environ.get("OPS_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
INLINE_JOB = "desk_freshness_job"
ECS_JOB = "weekly_fundamentals_job"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def moto_server() -> Any:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def scratch_database() -> Any:
    import psycopg2

    name = f"ops_bench_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(PG_DSN, connect_timeout=5)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def ecs_world(endpoint: str) -> dict[str, str]:
    """A cluster, the daemon's running awsvpc task and the run task definition, in moto."""
    import boto3

    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=REGION)
    ecs = boto3.client("ecs", endpoint_url=endpoint, region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="runs", Description="runs", VpcId=vpc)["GroupId"]
    cluster = ecs.create_cluster(clusterName="ops-bench")["cluster"]["clusterArn"]
    definitions = {}
    for family, container in (("ops-daemon", "daemon"), ("ops-run", "run")):
        definitions[container] = ecs.register_task_definition(
            family=family,
            containerDefinitions=[{"name": container, "image": "ops:bench", "essential": True, "memory": 512}],
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="512",
            memory="1024",
        )["taskDefinition"]["taskDefinitionArn"]
    daemon_task = ecs.run_task(
        cluster=cluster,
        taskDefinition=definitions["daemon"],
        launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}},
    )["tasks"][0]["taskArn"]
    return {"cluster": cluster, "daemon_task": daemon_task, "run_definition": definitions["run"]}


@contextmanager
def metadata_endpoint(task: dict[str, str]) -> Any:
    body = json.dumps(task).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v4/daemon"
    finally:
        server.shutdown()
        server.server_close()


def create_run(instance: Any, location: Any, job_name: str) -> Any:
    from dagster._core.test_utils import create_run_for_test

    [repository_name] = location.get_repository_names()
    job = location.get_repository(repository_name).get_full_job(job_name)
    plan = location.get_execution_plan(job, {}, step_keys_to_execute=None, known_state=None, instance=instance)
    return create_run_for_test(
        instance,
        job_name=job_name,
        tags=job.tags,
        job_snapshot=job.job_snapshot,
        execution_plan_snapshot=plan.execution_plan_snapshot,
        remote_job_origin=job.get_remote_origin(),
        job_code_origin=job.get_python_origin(),
    )


def summary(label: str, values: list[float]) -> str:
    array = np.array(values)
    return (
        f"  {label:<34} median {np.median(array):7.3f} s   p95 {np.percentile(array, 95):7.3f} s   "
        f"min {array.min():7.3f} s   (n={len(array)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import boto3
    import dagster as dg
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import ModuleTarget

    # moto accepts any credentials; never a real account's.
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": REGION})
    with ExitStack() as stack:
        endpoint = stack.enter_context(moto_server())
        database = stack.enter_context(scratch_database())
        world = ecs_world(endpoint)
        metadata = stack.enter_context(
            metadata_endpoint({"Cluster": world["cluster"], "TaskARN": world["daemon_task"]})
        )
        home = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        (home / "dagster.yaml").write_text((REPO / "infra" / "dagster.yaml").read_text())
        boto3.client("s3", endpoint_url=endpoint, region_name=REGION).create_bucket(Bucket="bench-compute-logs")
        os.environ.update(
            {
                "DAGSTER_HOME": str(home),
                "OPS_ENV": "local",
                "OPS_DATA_DIR": str(home / "data"),
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_REGION": REGION,
                "DAGSTER_PG_HOST": "127.0.0.1",
                "DAGSTER_PG_PORT": "5432",
                "DAGSTER_PG_USER": "postgres",
                "DAGSTER_PG_PASSWORD": "",
                "DAGSTER_PG_DB": database,
                "DAGSTER_RUN_TASK_DEFINITION": world["run_definition"],
                "DAGSTER_RUN_CONTAINER": "run",
                "DAGSTER_COMPUTE_LOGS_BUCKET": "bench-compute-logs",
                "ECS_CONTAINER_METADATA_URI_V4": metadata,
            }
        )
        instance = stack.enter_context(dg.DagsterInstance.get())
        target = ModuleTarget(
            module_name="ops_assets.definitions", attribute=None, working_directory=str(REPO), location_name="ops"
        )
        context = stack.enter_context(WorkspaceProcessContext(instance, target))
        workspace = context.create_request_context()
        location = workspace.get_code_location("ops")

        inline: dict[str, list[float]] = {"launch call": [], "launch -> STARTED": [], "launch -> SUCCESS": []}
        for _ in range(args.repeats):
            run = create_run(instance, location, INLINE_JOB)
            started = time.time()
            instance.launch_run(run.run_id, workspace)
            inline["launch call"].append(time.time() - started)
            while not instance.get_run_by_id(run.run_id).is_finished:
                time.sleep(0.05)
            record = instance.get_run_record_by_id(run.run_id)
            assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS, record.dagster_run.status
            inline["launch -> STARTED"].append(record.start_time - started)
            inline["launch -> SUCCESS"].append(record.end_time - started)

        ecs_calls = []
        for _ in range(args.repeats):
            run = create_run(instance, location, ECS_JOB)
            started = time.perf_counter()
            instance.launch_run(run.run_id, workspace)
            ecs_calls.append(time.perf_counter() - started)
            assert "ecs/task_arn" in instance.get_run_by_id(run.run_id).tags

        reference = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import ops_assets.definitions"], cwd=REPO, check=True)
            reference.append(time.perf_counter() - started)

        location.client.shutdown_server()

    print(f"Run launch latency through infra/dagster.yaml, {args.repeats} runs per path; {load()}")
    print(f"inline ({INLINE_JOB}, run worker = subprocess of the code-location gRPC server):")
    for label, values in inline.items():
        print(summary(label, values))
    print(f"ecs ({ECS_JOB}, EcsRunLauncher against moto on loopback):")
    print(summary("launch call (metadata + DescribeTasks + ENIs + RunTask)", ecs_calls))
    print("  + Fargate provisioning, ENI attachment, image pull, container start: NOT MEASURABLE HERE (no AWS)")
    print("reference (plain):")
    print(summary("python -c 'import ops_assets.definitions'", reference))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
