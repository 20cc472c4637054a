"""Asset checks of the published TTM per-share artifact.

They run inside the ``ttm_per_share`` step on the freshly built file, before it is published: an
artifact that breaks an ERROR-level check is never written under its dated key.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg

from ops_assets.fundamentals import validation

# name -> (check function, severity, what it guarantees)
ARTIFACT_CHECKS: dict[str, tuple[Callable[[Path], validation.CheckOutcome], dg.AssetCheckSeverity]] = {
    "columns_and_types": (validation.check_schema, dg.AssetCheckSeverity.ERROR),
    "unique_ticker_date": (validation.check_unique_ticker_date, dg.AssetCheckSeverity.ERROR),
    "no_value_before_reported_date": (validation.check_no_lookahead, dg.AssetCheckSeverity.ERROR),
    "plausible_values": (validation.check_plausible_values, dg.AssetCheckSeverity.ERROR),
    "ttm_coverage_per_ticker": (validation.check_ttm_coverage, dg.AssetCheckSeverity.WARN),
}


def artifact_check_specs(asset: str) -> list[dg.AssetCheckSpec]:
    """The checks' specs for the asset that builds the artifact (its name, given where it is declared)."""
    return [
        dg.AssetCheckSpec(name=name, asset=asset, description=(function.__doc__ or "").strip().splitlines()[0])
        for name, (function, _severity) in ARTIFACT_CHECKS.items()
    ]


def evaluate_artifact_checks(path: Path) -> list[dg.AssetCheckResult]:
    """Every check on the built file; results name no asset (the asset running them is the one checked)."""
    results = []
    for name, (function, severity) in ARTIFACT_CHECKS.items():
        outcome = function(path)
        results.append(
            dg.AssetCheckResult(
                check_name=name,
                passed=outcome.passed,
                severity=severity,
                description=outcome.description,
                metadata=outcome.metadata,
            )
        )
    return results


def blocking_failures(results: list[dg.AssetCheckResult]) -> list[dg.AssetCheckResult]:
    return [r for r in results if not r.passed and r.severity == dg.AssetCheckSeverity.ERROR]
