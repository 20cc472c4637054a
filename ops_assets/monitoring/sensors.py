"""The platform's watchdogs: failed runs of any job, and assets that miss their freshness window.

``run_failure_alerts`` reads every finished run (all code locations) and sends the first failure of a job, a
digest while it keeps failing, and a message when it recovers (rules in ``monitoring/run_alerts.py``).

``freshness_alerts``: one notification when assets go stale, one when they recover.

Dagster's freshness daemon (part of `dagster-daemon` / `dagster dev`; our `dagster.yaml`s enable it
explicitly) evaluates every asset's
freshness policy every 30 s and records PASS / WARN / FAIL in the event log, where the UI shows it. This
sensor reads those states and sends them through the notifier (the outbox locally, SNS in aws), keeping
what it last reported in its cursor so each change is said once.
"""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg

from ops_assets.monitoring import run_alerts
from ops_assets.monitoring.alerts import FreshnessChange, changes_to_report, freshness_message, never_materialized_state
from ops_assets.monitoring.settings import MonitoringSettings
from ops_assets.run_events import PARTITION_TAG, latest_storage_id, planned_assets, run_changes_after, run_errors
from resources.notifier import Notifier

# Asset groups whose runs have a notice of their own, for success and failure alike: the generic alert skips
# their runs so a failure is said once ("Financial Pipeline FAILURE - <day>", fundamentals_failure_notification).
OWN_NOTICE_GROUPS = frozenset({"fundamentals"})
AD_HOC_JOB = "__ASSET_JOB"


def _now() -> datetime:
    """The sensors' clock (a function, so tests can move it)."""
    return datetime.now(UTC)


def _policies(context: dg.SensorEvaluationContext) -> dict[dg.AssetKey, dg.FreshnessPolicy]:
    graph = context.repository_def.asset_graph
    return {node.key: node.freshness_policy for node in graph.asset_nodes if node.freshness_policy is not None}


def _last_materialized(instance: dg.DagsterInstance, keys: list[dg.AssetKey]) -> dict[dg.AssetKey, datetime]:
    times = {}
    for record in instance.get_asset_records(keys):
        event = record.asset_entry.last_materialization
        if event is not None:
            times[record.asset_entry.asset_key] = datetime.fromtimestamp(event.timestamp, UTC)
    return times


def _targeting_instigators(repository: dg.RepositoryDefinition) -> dict[dg.AssetKey, list[tuple[str, bool]]]:
    """Per asset, the schedules and sensors whose job materializes it: ``(name, running by default)``."""
    targets: dict[dg.AssetKey, list[tuple[str, bool]]] = {}
    instigators = [
        *((s.name, s.job_name, s.default_status == dg.DefaultScheduleStatus.RUNNING) for s in repository.schedule_defs),
        *(
            (s.name, target.job_name, s.default_status == dg.DefaultSensorStatus.RUNNING)
            for s in repository.sensor_defs
            for target in s.targets
        ),
    ]
    for name, job_name, by_default in instigators:
        if not job_name or not repository.has_job(job_name):
            continue
        for key in repository.get_job(job_name).asset_layer.selected_asset_keys:
            targets.setdefault(key, []).append((name, by_default))
    return targets


def _instigator_starts(instance: dg.DagsterInstance) -> dict[str, tuple[bool, datetime | None]]:
    """Stored schedule/sensor states by name: (running, when it was started, if recorded)."""
    states: dict[str, tuple[bool, datetime | None]] = {}
    for state in instance.all_instigator_state():
        data = state.instigator_data
        started = getattr(data, "start_timestamp", None) or getattr(data, "last_sensor_start_timestamp", None)
        states[state.name] = (state.is_running, datetime.fromtimestamp(started, UTC) if started else None)
    return states


def _watched_since(
    context: dg.SensorEvaluationContext, keys: list[dg.AssetKey], first_seen: dict[str, str], now: datetime
) -> dict[dg.AssetKey, datetime]:
    """Since when each asset has been expected: the earliest start of a running schedule/sensor targeting it.

    When a running instigator's start is not recorded (declared running in code, never toggled), the first
    evaluation of this sensor that saw the asset unmaterialized stands in (kept in the cursor).
    """
    targets = _targeting_instigators(context.repository_def)
    states = _instigator_starts(context.instance)
    since: dict[dg.AssetKey, datetime] = {}
    for key in keys:
        starts: list[datetime] = []
        for name, by_default in targets.get(key, []):
            running, started = states.get(name, (by_default, None))
            if running:
                seen = first_seen.setdefault(key.to_user_string(), now.isoformat())
                starts.append(started or datetime.fromisoformat(seen))
        if starts:
            since[key] = min(starts)
    return since


def _load_cursor(cursor: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """(states last reported, first sighting of never-materialized assets); the old flat cursor is the first."""
    data = json.loads(cursor) if cursor else {}
    if "reported" in data:
        return dict(data["reported"]), dict(data.get("first_seen", {}))
    return data, {}


def _dump_cursor(reported: dict[str, str], first_seen: dict[str, str]) -> str:
    return json.dumps({"reported": reported, "first_seen": first_seen}, sort_keys=True)


def _windows(policy: dg.FreshnessPolicy) -> tuple[timedelta | None, timedelta | None]:
    warn = policy.warn_window.to_timedelta() if getattr(policy, "warn_window", None) else None
    fail = policy.fail_window.to_timedelta() if getattr(policy, "fail_window", None) else None
    return warn, fail


@dg.sensor(
    name="freshness_alerts",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Notifies when an asset misses its freshness window (WARN, then FAIL) and when it is fresh again, "
        "from the states Dagster's freshness daemon records; an asset never materialized is late once its "
        "window has passed since its schedule or sensor started."
    ),
)
def freshness_alerts(context: dg.SensorEvaluationContext, notifier: Notifier) -> dg.SkipReason | None:
    now = _now()
    policies = _policies(context)
    keys = sorted(policies, key=lambda key: key.to_user_string())
    records = context.instance.get_freshness_state_records(keys)
    reported, first_seen = _load_cursor(context.cursor)
    current = {key.to_user_string(): record.freshness_state.value for key, record in records.items()}
    last_materialized = _last_materialized(context.instance, keys)
    never = [key for key in keys if key not in last_materialized]
    watched_since = _watched_since(context, never, first_seen, now)
    for key in never:
        if current.get(key.to_user_string(), "UNKNOWN") == "UNKNOWN":
            warn, fail = _windows(policies[key])
            current[key.to_user_string()] = never_materialized_state(
                watched_since=watched_since.get(key), now=now, warn_after=warn, fail_after=fail
            )
    # Materialized assets need no first sighting any more.
    first_seen = {name: at for name, at in first_seen.items() if dg.AssetKey.from_user_string(name) in never}
    to_report, new_reported = changes_to_report(reported, current)
    new_cursor = _dump_cursor(new_reported, first_seen)
    if not to_report:
        if new_cursor != context.cursor:
            context.update_cursor(new_cursor)
        return dg.SkipReason("No freshness changes to report.")
    changes = []
    for key in keys:
        name = key.to_user_string()
        if name not in to_report:
            continue
        previous, state = to_report[name]
        warn, fail = _windows(policies[key])
        changes.append(
            FreshnessChange(
                asset=name,
                previous=previous,
                current=state,
                last_materialized_at=last_materialized.get(key),
                warn_after=warn,
                fail_after=fail,
                watched_since=watched_since.get(key) if key in never else None,
            )
        )
    subject, body = freshness_message(changes, now=now)
    notifier.publish(subject, body)
    # The cursor moves only after the notification went out: a failed publish is retried next tick.
    context.update_cursor(new_cursor)
    context.log.info(subject)
    return None


def _job_label(instance: dg.DagsterInstance, run: dg.DagsterRun, groups: dict[dg.AssetKey, str | None]) -> str | None:
    """The name alerts use for the run's job (ad hoc: its assets), or None for runs with their own notice."""
    assets = planned_assets(instance, run)
    if any(groups.get(key) in OWN_NOTICE_GROUPS for key in assets):
        return None
    if run.job_name != AD_HOC_JOB:
        return run.job_name
    names = sorted(key.to_user_string() for key in assets)
    shown = ", ".join(names[:3]) + (f" +{len(names) - 3} more" if len(names) > 3 else "")
    return f"ad hoc materialization of {shown or 'assets'}"


@dg.sensor(
    name="run_failure_alerts",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Alerts when a run of any job fails (job, partition, the error, a link to the run); while the job keeps "
        "failing, one digest per quiet period; once when it succeeds again. The weekly fundamentals runs have "
        "their own notice and are left to it."
    ),
)
def run_failure_alerts(
    context: dg.SensorEvaluationContext, notifier: Notifier, monitoring_settings: MonitoringSettings
) -> dg.SkipReason | None:
    statuses = ("FAILURE", "SUCCESS")
    after, streaks = run_alerts.load_state(context.cursor)
    if after is None:
        # First evaluation: runs that finished before the sensor existed are history, not news.
        context.update_cursor(run_alerts.dump_state(latest_storage_id(context.instance, statuses), {}))
        return dg.SkipReason("Started watching finished runs.")
    quiet, base_url = monitoring_settings.quiet_period(), monitoring_settings.ui_base_url
    groups = {node.key: node.group_name for node in context.repository_def.asset_graph.asset_nodes}
    changes, new_after = run_changes_after(context.instance, after, statuses)
    messages: list[tuple[str, str]] = []
    for change in changes:
        job = _job_label(context.instance, change.run, groups)
        if job is None:
            continue
        at = datetime.fromtimestamp(change.at, UTC)
        streak = streaks.get(job)
        if change.status == "SUCCESS":
            if run_alerts.on_success(streak) == run_alerts.RECOVERED and streak is not None:
                messages.append(
                    run_alerts.recovered_message(streak, run_id=change.run.run_id, ui_base_url=base_url, at=at)
                )
                del streaks[job]
            continue
        error, steps = run_errors(context.instance, change.run.run_id)
        failed = run_alerts.FailedRun(
            job, change.run.run_id, change.run.tags.get(PARTITION_TAG), error, tuple(steps), at
        )
        decision, streak = run_alerts.on_failure(streak, failed, quiet_period=quiet)
        if decision == run_alerts.ALERT:
            messages.append(run_alerts.failure_message(failed, ui_base_url=base_url, quiet_period=quiet))
        elif decision == run_alerts.DIGEST:
            messages.append(run_alerts.digest_message(streak, ui_base_url=base_url, now=at))
            streak = run_alerts.after_digest(streak, now=at)
        streaks[job] = streak
    now = _now()
    for job, streak in sorted(streaks.items()):
        if run_alerts.on_tick(streak, now=now, quiet_period=quiet) == run_alerts.DIGEST:
            messages.append(run_alerts.digest_message(streak, ui_base_url=base_url, now=now))
            streaks[job] = run_alerts.after_digest(streak, now=now)
    for subject, body in messages:
        notifier.publish(subject, body)
        context.log.info(subject)
    # The cursor moves only once every message went out: a failed publish is retried on the next tick (a message
    # sent before it may then go out twice; one too many beats none).
    context.update_cursor(run_alerts.dump_state(new_after, streaks))
    if not messages:
        return dg.SkipReason(f"{len(changes)} finished runs read, nothing to send.")
    return None
