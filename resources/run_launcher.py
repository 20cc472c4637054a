"""The production run launcher: each run goes to the code-location server or to its own ECS task, by its tag.

A Fargate task takes 30 s to minutes to start (image pull, ENI attachment), so the minutely and 5-minutely jobs
cannot start one per tick. Jobs tagged ``ops/launch: inline`` run as a subprocess of the always-on
code-location server (Dagster's ``DefaultRunLauncher``); every other run, including runs without the tag (an
ad-hoc materialization from the UI), gets an ECS task of its own from dagster-aws's ``EcsRunLauncher``, sized by
the run's ``ecs/cpu``, ``ecs/memory`` and ``ecs/ephemeral_storage`` tags.

Configured in ``infra/dagster.yaml``::

    run_launcher:
      module: resources.run_launcher
      class: RoutingRunLauncher
      config:
        ecs: {...}   # EcsRunLauncher's own configuration, passed through unchanged

The ECS launcher is built on the first run that needs it: building it calls the ECS API (it resolves the task
definition), which the webserver and the run workers loading this instance never need for inline runs.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Self

from dagster import Field, Shape
from dagster._config.config_schema import UserConfigSchema
from dagster._core.launcher import DefaultRunLauncher, LaunchRunContext, ResumeRunContext, RunLauncher
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._serdes import ConfigurableClass, ConfigurableClassData

LAUNCH_TAG = "ops/launch"
INLINE = "inline"
ECS = "ecs"


def launch_target(tags: Mapping[str, str]) -> str:
    """Where a run with these tags runs: ``inline`` only when asked for exactly, else ``ecs``.

    ECS is the default because it is the safe one: a run nobody sized still gets a task of its own instead of
    competing with the code-location server's gRPC traffic and the minutely jobs for its 1-2 vCPUs.
    """
    return INLINE if tags.get(LAUNCH_TAG, "").strip().lower() == INLINE else ECS


class RoutingRunLauncher(RunLauncher, ConfigurableClass):
    """Routes each run by its ``ops/launch`` tag: ``inline`` to the code-location server, anything else to ECS."""

    def __init__(self, inst_data: ConfigurableClassData | None = None, ecs: Mapping[str, Any] | None = None) -> None:
        self._inst_data = inst_data
        self._ecs_config = dict(ecs or {})
        self._inline = DefaultRunLauncher()
        self._ecs: RunLauncher | None = None
        self._ecs_lock = threading.Lock()
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> UserConfigSchema:
        from dagster_aws.ecs import EcsRunLauncher

        return {
            "ecs": Field(
                Shape(EcsRunLauncher.config_type()),
                is_required=False,
                default_value={},
                description="EcsRunLauncher's configuration, for every run not tagged `ops/launch: inline`.",
            )
        }

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]) -> Self:
        return cls(inst_data=inst_data, ecs=config_value.get("ecs"))

    def register_instance(self, instance: Any) -> None:
        super().register_instance(instance)
        self._inline.register_instance(instance)

    # -- delegation -------------------------------------------------------------------------------------------

    @property
    def ecs_launcher(self) -> RunLauncher:
        """dagster-aws's EcsRunLauncher, built (and attached to this instance) on first use."""
        with self._ecs_lock:
            if self._ecs is None:
                from dagster_aws.ecs import EcsRunLauncher

                launcher = EcsRunLauncher(**self._ecs_config)
                launcher.register_instance(self._instance)
                self._ecs = launcher
            return self._ecs

    def launcher_for(self, run: DagsterRun) -> RunLauncher:
        """The launcher responsible for ``run``: chosen from its tags at launch and for every later call."""
        return self._inline if launch_target(run.tags) == INLINE else self.ecs_launcher

    def launch_run(self, context: LaunchRunContext) -> None:
        self.launcher_for(context.dagster_run).launch_run(context)

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if run is None:
            return False
        return self.launcher_for(run).terminate(run_id)

    @property
    def supports_check_run_worker_health(self) -> bool:
        # Asked once for all runs; the ECS side supports it, the inline side answers below.
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        if launch_target(run.tags) == ECS:
            return self.ecs_launcher.check_run_worker_health(run)
        # Run monitoring fails a run on anything but RUNNING/SUCCESS, and the default launcher has no health
        # check. An inline run whose process dies is failed by the code server itself (its orphaned-run
        # check); one lost with the whole server (a redeploy) ends at the run's max runtime (the jobs'
        # dagster/max_runtime tags, run_monitoring.max_runtime_seconds) and is then retried.
        return CheckRunHealthResult(WorkerStatus.RUNNING, "inline run on the code-location server")

    def get_run_worker_debug_info(self, run: DagsterRun, include_container_logs: bool | None = True) -> str | None:
        if launch_target(run.tags) == INLINE:
            return self._inline.get_run_worker_debug_info(run, include_container_logs)
        return self.ecs_launcher.get_run_worker_debug_info(run, include_container_logs)

    @property
    def supports_resume_run(self) -> bool:
        return True

    def resume_run(self, context: ResumeRunContext) -> None:
        run = context.dagster_run
        if launch_target(run.tags) == ECS:
            self.ecs_launcher.resume_run(context)
            return
        # The code server cannot resume a run; fail it so that run retries start a fresh one.
        self._instance.report_run_failed(
            run, "An inline run cannot be resumed on the code-location server; failing it so it is retried."
        )

    def join(self, timeout: int = 30) -> None:
        self._inline.join(timeout)
        if self._ecs is not None:
            self._ecs.join(timeout)

    def dispose(self) -> None:
        self._inline.dispose()
        if self._ecs is not None:
            self._ecs.dispose()
