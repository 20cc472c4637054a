"""What `make run` prints for a run: one line per finished step, then a result line naming what did not pass."""

from __future__ import annotations

import io

import dagster as dg

from ops_assets.cli import Progress


@dg.asset(
    check_specs=[
        dg.AssetCheckSpec("rows_present", asset="prices"),
        dg.AssetCheckSpec("fresh", asset="prices"),
    ]
)
def prices() -> dg.MaterializeResult:
    return dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(check_name="rows_present", passed=True),
            dg.AssetCheckResult(check_name="fresh", passed=False, severity=dg.AssetCheckSeverity.WARN),
        ]
    )


@dg.asset(deps=[prices])
def report() -> None:
    raise RuntimeError("the chart could not be drawn")


def test_steps_and_result_line() -> None:
    result = dg.materialize([prices, report], raise_on_error=False)
    out = io.StringIO()  # not a terminal: one line per step, no redrawing
    progress = Progress(out)
    for event in result.all_events:
        progress.show(event)
    summary = progress.summary(result.run_id, 12.4, success=result.success)

    lines = out.getvalue().splitlines()
    assert [line.split(" (")[0] for line in lines] == ["     1. prices done", "     2. report FAILED"]
    assert summary.startswith(
        "  FAILED in 12 s: 1 asset materialized; 1 check passed, 1 check warned; not passed: fresh (run "
    )
    assert "(run " + result.run_id[:8] + ")" in summary
    assert "  report: RuntimeError: the chart could not be drawn" in summary
