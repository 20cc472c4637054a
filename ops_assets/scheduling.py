"""Schedules for the latency-sensitive jobs: re-materialize today's partition, never pile runs up."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from ops_assets.partitions import daily_partitions

IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def incremental_schedule(job: dg.UnresolvedAssetJobDefinition, cron: str, *, description: str) -> dg.ScheduleDefinition:
    """Every tick requests today's (UTC) partition of ``job``, and skips while a run of ``job`` is going."""

    @dg.schedule(
        job=job,
        cron_schedule=cron,
        execution_timezone="UTC",
        name=f"{job.name}_schedule",
        description=description,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        running = context.instance.get_run_records(
            filters=dg.RunsFilter(job_name=job.name, statuses=IN_PROGRESS), limit=1
        )
        if running:
            return dg.SkipReason(f"{job.name} run {running[0].dagster_run.run_id} is still going; skipping this tick.")
        tick = context.scheduled_execution_time or datetime.now(UTC)
        partition = daily_partitions.get_partition_key_for_timestamp(tick.timestamp())
        return dg.RunRequest(partition_key=partition)

    return _schedule
