"""Run routing: the tag rule, and every job of the code location saying deliberately where it runs.

The launcher's delegation against moto's ECS and a real code server is in tests/integration/test_run_launcher.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest
from dagster._core.launcher import LaunchRunContext, ResumeRunContext, RunLauncher
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus
from dagster._core.test_utils import create_run_for_test

from ops_assets.definitions import defs
from resources.run_launcher import ECS, INLINE, LAUNCH_TAG, RoutingRunLauncher, launch_target

# Fargate's valid task sizes (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html):
# cpu units -> memory MiB allowed.
FARGATE_MEMORY = {
    256: {512, 1024, 2048},
    512: set(range(1024, 4097, 1024)),
    1024: set(range(2048, 8193, 1024)),
    2048: set(range(4096, 16385, 1024)),
    4096: set(range(8192, 30721, 1024)),
}
JOBS = sorted(defs.resolve_all_job_defs(), key=lambda job: job.name)
PROJECT_JOBS = [job for job in JOBS if not job.name.startswith("__")]


@pytest.mark.parametrize(
    ("tags", "target"),
    [
        ({LAUNCH_TAG: "inline"}, INLINE),
        ({LAUNCH_TAG: " Inline "}, INLINE),
        ({LAUNCH_TAG: "ecs"}, ECS),
        ({LAUNCH_TAG: "anything-else"}, ECS),
        ({}, ECS),
    ],
)
def test_only_an_explicit_inline_tag_runs_inline(tags: dict[str, str], target: str) -> None:
    assert launch_target(tags) == target


def test_the_code_location_has_jobs_of_both_kinds() -> None:
    targets = {launch_target(job.tags) for job in PROJECT_JOBS}
    assert targets == {INLINE, ECS}


@pytest.mark.parametrize("job", PROJECT_JOBS, ids=lambda job: job.name)
def test_every_job_says_where_it_runs(job) -> None:
    assert job.tags.get(LAUNCH_TAG) in {INLINE, ECS}, f"{job.name} needs an explicit `{LAUNCH_TAG}` tag"


@pytest.mark.parametrize("job", [job for job in PROJECT_JOBS if job.tags.get(LAUNCH_TAG) == ECS], ids=lambda j: j.name)
def test_ecs_jobs_ask_for_a_valid_fargate_size(job) -> None:
    cpu, memory = int(job.tags["ecs/cpu"]), int(job.tags["ecs/memory"])
    assert memory in FARGATE_MEMORY[cpu], f"{job.name}: {cpu} CPU units cannot have {memory} MiB on Fargate"
    if "ecs/ephemeral_storage" in job.tags:
        assert 21 <= int(job.tags["ecs/ephemeral_storage"]) <= 200


@pytest.mark.parametrize(
    "job", [job for job in PROJECT_JOBS if job.tags.get(LAUNCH_TAG) == INLINE], ids=lambda j: j.name
)
def test_inline_jobs_have_a_runtime_limit(job) -> None:
    # An inline run lost with the code server is ended by this limit (run monitoring cannot see its process).
    assert 0 < int(job.tags["dagster/max_runtime"]) <= 3600
    assert not any(key.startswith("ecs/") for key in job.tags), "ECS size tags on an inline job are ignored"


def test_the_weekly_job_gets_the_seeds_container() -> None:
    [weekly] = [job for job in PROJECT_JOBS if job.name == "weekly_fundamentals_job"]
    assert (weekly.tags["ecs/cpu"], weekly.tags["ecs/memory"], weekly.tags["ecs/ephemeral_storage"]) == (
        "2048",
        "4096",
        "30",
    )


def test_frequent_and_operator_jobs_are_not_retried() -> None:
    never = {"news_job", "market_signals_job", "desk_freshness_job", "forecast_rollback_job", "reset_kill_switch_job"}
    assert {job.name for job in PROJECT_JOBS if job.tags.get("dagster/max_retries") == "0"} == never


class RecordingLauncher(RunLauncher):
    """Stands in for one side of the router and records what it is asked."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str]] = []

    def launch_run(self, context: LaunchRunContext) -> None:
        self.calls.append(("launch", context.dagster_run.run_id))

    def terminate(self, run_id: str) -> bool:
        self.calls.append(("terminate", run_id))
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        self.calls.append(("health", run.run_id))
        return CheckRunHealthResult(WorkerStatus.FAILED, "task stopped")

    def resume_run(self, context: ResumeRunContext) -> None:
        self.calls.append(("resume", context.dagster_run.run_id))


@pytest.fixture
def router() -> Iterator[tuple[dg.DagsterInstance, RoutingRunLauncher, RecordingLauncher, RecordingLauncher]]:
    with dg.instance_for_test() as instance:
        launcher = RoutingRunLauncher()
        launcher.register_instance(instance)
        inline, ecs = RecordingLauncher(), RecordingLauncher()
        launcher._inline, launcher._ecs = inline, ecs
        yield instance, launcher, inline, ecs


def test_every_call_goes_to_the_launcher_that_owns_the_run(router) -> None:
    instance, launcher, inline, ecs = router
    inline_run = create_run_for_test(instance, tags={LAUNCH_TAG: INLINE}, status=dg.DagsterRunStatus.STARTED)
    ecs_run = create_run_for_test(instance, tags={}, status=dg.DagsterRunStatus.STARTED)
    for run in (inline_run, ecs_run):
        launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
        assert launcher.terminate(run.run_id)
    assert launcher.check_run_worker_health(ecs_run).status == WorkerStatus.FAILED
    launcher.resume_run(ResumeRunContext(dagster_run=ecs_run, workspace=None))
    assert inline.calls == [("launch", inline_run.run_id), ("terminate", inline_run.run_id)]
    assert ecs.calls == [
        ("launch", ecs_run.run_id),
        ("terminate", ecs_run.run_id),
        ("health", ecs_run.run_id),
        ("resume", ecs_run.run_id),
    ]
    assert not launcher.terminate("no-such-run")


def test_inline_runs_stay_healthy_and_an_inline_resume_fails_the_run_for_retry(router) -> None:
    instance, launcher, inline, ecs = router
    run = create_run_for_test(instance, tags={LAUNCH_TAG: INLINE}, status=dg.DagsterRunStatus.STARTED)
    # Run monitoring fails anything but RUNNING/SUCCESS: the default launcher cannot see the process.
    assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING
    launcher.resume_run(ResumeRunContext(dagster_run=run, workspace=None))
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    assert inline.calls == []
    assert ecs.calls == []


def test_the_ecs_launcher_is_only_built_when_a_run_needs_it() -> None:
    with dg.instance_for_test() as instance:
        launcher = RoutingRunLauncher(ecs={"task_definition": {"env": "UNSET_RUN_TASK_DEFINITION_FOR_TEST"}})
        launcher.register_instance(instance)
        run = create_run_for_test(instance, tags={LAUNCH_TAG: INLINE}, status=dg.DagsterRunStatus.STARTED)
        assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING
        assert launcher._ecs is None
        ecs_run = create_run_for_test(instance, tags={LAUNCH_TAG: ECS}, status=dg.DagsterRunStatus.STARTED)
        # Building it reads the task definition from the environment: unset here, so it fails, and says why.
        with pytest.raises(Exception, match="UNSET_RUN_TASK_DEFINITION_FOR_TEST"):
            launcher.check_run_worker_health(ecs_run)
