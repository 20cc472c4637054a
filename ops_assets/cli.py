"""The Dagster commands the project runs itself (`make run`, CI, tests), built in one place, and
``python -m ops_assets.cli``: one materialization, recorded under the workspace's code location.

``dagster asset materialize -m ops_assets.definitions`` records its runs with no code location at all, so the UI
(``dagster dev -w workspace.yaml``, location ``ops_assets``) warns on "Re-execute" and cannot re-run them cleanly.
This command loads the code location exactly as ``workspace.yaml`` declares it, records the run with that
location's origin (location, repository and job name: what the UI's Re-execute looks up), then executes it in
this process like ``dagster asset materialize`` does. Dagster's event log goes to stderr as usual (and into the
instance); stdout gets one progress line per finished step and a one-line result.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import dagster as dg
    from dagster._core.remote_origin import CodeLocationOrigin, RemoteJobOrigin

FUNDAMENTALS = "group:fundamentals"
EVENT_PIPELINE = "group:news or group:markets or group:signals"
MARKETS_AND_SIGNALS = "group:markets or group:signals"
FORECASTING_DATA = "key:daily_prices or key:price_features"
FORECASTING_TRAINING = "key:forecast_model"
FORECASTING_SERVING = "key:forecast_predictions or key:forecast_performance or key:forecast_report"

REPO = Path(__file__).resolve().parents[1]
WORKSPACE = REPO / "workspace.yaml"

QUIETED_WARNINGS = (
    # Ours, deliberate: the domains link each asset to its source in the UI (with_source_code_references) and
    # forecasting backfills a range in one run (backfill_policy). Both are Dagster beta APIs; the warning says
    # only that, at every load. Dagster raises the last two from inside with_source_code_references.
    "Function `with_source_code_references` is currently in beta",
    "Class `LocalFileCodeReference` is currently in beta",
    "Class `CodeReferencesMetadataValue` is currently in beta",
    "Parameter `backfill_policy` of function `asset` is currently in beta",
    # Dagster's own: its selection-string parser passes a beta parameter to its own AssetSelection.groups for
    # every "group:..." (nothing we call with it).
    "Parameter `include_sources` of function `AssetSelection.groups` is currently in beta",
)
"""Beta notices `make run` does not repeat six times; matched by message, Dagster's BetaWarning only."""


def quiet_known_warnings() -> None:
    import dagster as dg

    for message in QUIETED_WARNINGS:
        warnings.filterwarnings("ignore", message=re.escape(message), category=dg.BetaWarning)


def materialize_command(partition: str | None, python: str = "python", selection: str = FUNDAMENTALS) -> list[str]:
    """``python -m ops_assets.cli`` materializing ``selection`` (the weekly fundamentals by default) for one partition
    (``None``: an unpartitioned selection), recorded under the workspace's code location."""
    command = [python, "-m", "ops_assets.cli", "--select", selection]
    return command if partition is None else [*command, "--partition", partition]


def workspace_location(workspace: Path = WORKSPACE) -> CodeLocationOrigin:
    """The (single) code location ``workspace`` declares, as Dagster's own workspace loader reads it."""
    from dagster._core.workspace.load import location_origins_from_yaml_paths

    origins = location_origins_from_yaml_paths([str(workspace)])
    if len(origins) != 1:
        raise SystemExit(f"{workspace} declares {len(origins)} code locations; make run expects exactly one.")
    return origins[0]


def workspace_job_origin(location: CodeLocationOrigin, repository_name: str, job_name: str) -> RemoteJobOrigin:
    """The origin the UI gives ``job_name``: what its Re-execute looks up in the loaded workspace."""
    from dagster._core.remote_origin import RemoteJobOrigin, RemoteRepositoryOrigin

    return RemoteJobOrigin(RemoteRepositoryOrigin(location, repository_name), job_name)


@dataclass
class Progress:
    """What a run did so far, printed as one line per finished step (a single updating line on a terminal)."""

    out: TextIO
    steps_done: int = 0
    materialized: set[str] = field(default_factory=set)
    checks: dict[str, int] = field(default_factory=dict)
    failed_checks: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def show(self, event: dg.DagsterEvent) -> None:
        kind = event.event_type_value
        if kind == "ASSET_MATERIALIZATION" and event.asset_key:
            self.materialized.add(event.asset_key.to_user_string())
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            severity = str(getattr(evaluation.severity, "value", evaluation.severity))  # type: ignore[union-attr]
            outcome = "passed" if evaluation.passed else ("warned" if severity == "WARN" else "failed")  # type: ignore[union-attr]
            self.checks[outcome] = self.checks.get(outcome, 0) + 1
            if not evaluation.passed:  # type: ignore[union-attr]
                self.failed_checks.append(evaluation.check_name)  # type: ignore[union-attr]
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            self.steps_done += 1
            seconds = getattr(event.event_specific_data, "duration_ms", None)
            took = f" ({seconds / 1000:.1f} s)" if seconds else ""
            if kind == "STEP_FAILURE":
                error = event.event_specific_data.error  # type: ignore[union-attr]
                while error is not None and error.cause is not None:  # the user's error, not Dagster's wrapper
                    error = error.cause
                message = error.message.strip().splitlines()[-1] if error else "failed"
                self.failures.append(f"{event.step_key}: {message}")
            line = f"    {self.steps_done:>2}. {event.step_key} {'FAILED' if kind == 'STEP_FAILURE' else 'done'}{took}"
            if self.out.isatty():
                self.out.write("\r\033[K" + line)
            else:
                self.out.write(line + "\n")
            self.out.flush()

    def summary(self, run_id: str, seconds: float, success: bool) -> str:
        if self.out.isatty():
            self.out.write("\r\033[K")
        checks = ", ".join(f"{n} check{'s' * (n != 1)} {outcome}" for outcome, n in sorted(self.checks.items()))
        parts = [f"{len(self.materialized)} asset{'s' * (len(self.materialized) != 1)} materialized", checks]
        if self.failed_checks:
            parts.append("not passed: " + ", ".join(self.failed_checks))
        status = "done" if success else "FAILED"
        line = f"  {status} in {seconds:.0f} s: {'; '.join(p for p in parts if p)} (run {run_id[:8]})"
        return "\n".join([line, *(f"  {failure}" for failure in self.failures)])


def materialize(selection: str, partition: str | None, out: TextIO = sys.stdout) -> bool:
    """Materialize ``selection`` (one partition or none) as a run of the workspace's code location."""
    import dagster as dg
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.execution.api import execute_run_iterator

    started = time.monotonic()
    location = workspace_location()
    target = location.loadable_target_origin  # type: ignore[attr-defined]
    recon_repo = ReconstructableRepository.for_module(
        target.module_name, target.attribute or "defs", working_directory=target.working_directory
    )
    repo_def = recon_repo.get_definition()
    asset_keys = dg.AssetSelection.from_coercible(selection.split(",")).resolve(repo_def.asset_graph)
    job_def = repo_def.get_implicit_job_def_for_assets(asset_keys)
    if job_def is None:
        raise SystemExit(f"{selection!r}: the selected assets do not share one partitioning; select fewer.")
    tags = job_def.get_tags_for_partition_key(partition, selected_asset_keys=asset_keys) if partition else {}
    recon_job = recon_repo.get_reconstructable_job(job_def.name).with_repository_load_data(
        repo_def.repository_load_data
    )
    with dg.DagsterInstance.get() as instance:
        run = instance.create_run_for_job(
            job_def=recon_job.get_definition(),
            run_config={},
            tags=tags,
            asset_selection=frozenset(asset_keys),
            job_code_origin=recon_job.get_python_origin(),
            remote_job_origin=workspace_job_origin(location, repo_def.name, job_def.name),
            repository_load_data=repo_def.repository_load_data,
        )
        progress = Progress(out)
        for event in execute_run_iterator(recon_job, run, instance):
            progress.show(event)
        final = instance.get_run_by_id(run.run_id)
        success = final is not None and final.status == dg.DagsterRunStatus.SUCCESS
    out.write(progress.summary(run.run_id, time.monotonic() - started, success) + "\n")
    out.flush()
    return success


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--select", required=True, help="asset selection, e.g. 'group:fundamentals'")
    parser.add_argument("--partition", help="the partition key (omit for unpartitioned assets)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    quiet_known_warnings()
    return 0 if materialize(args.select, args.partition) else 1


if __name__ == "__main__":
    raise SystemExit(main())
