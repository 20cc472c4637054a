"""Data-quality checks on the stored daily prices. The first three are blocking: a failure stops the run's
features (and, later, training) for that partition. They look at each ticker's last
``validation_window_sessions`` NYSE sessions up to the run's last partition."""

from collections.abc import Callable, Iterator
from datetime import date

import dagster as dg
import pandas as pd

from ops_assets.forecasting import validation
from ops_assets.forecasting.assets import daily_prices, forecast_performance, price_features
from ops_assets.forecasting.drift import ChampionHealth
from ops_assets.forecasting.health import champion_health
from ops_assets.forecasting.ingest import read_stored
from ops_assets.forecasting.settings import ForecastingSettings
from ops_assets.forecasting.trading_calendar import sessions_before
from resources.object_store import ObjectStore

PARTITION_TAGS = ("dagster/asset_partition_range_end", "dagster/partition")


def window_end(context: dg.AssetCheckExecutionContext, prices: pd.DataFrame) -> date | None:
    """The run's last partition (one day or a backfill's range), else the last stored day."""
    for tag in PARTITION_TAGS:
        if value := context.run.tags.get(tag):
            return date.fromisoformat(value)
    return max(prices["day"]) if len(prices) else None


def per_ticker(
    context: dg.AssetCheckExecutionContext,
    object_store: ObjectStore,
    settings: ForecastingSettings,
    rule: Callable[[pd.DataFrame, list[date]], object],
) -> dict[str, object]:
    """``rule(window_prices, window_sessions)`` for every ticker whose result is a finding (truthy).

    A ticker with nothing stored (the provider does not know it: ``daily_prices`` reports it) is not judged, so
    it cannot block the others; when no ticker has anything stored, that is the finding.
    """
    findings: dict[str, object] = {}
    unstored = []
    for ticker in settings.tickers:
        prices, _ = read_stored(object_store, ticker)
        end = window_end(context, prices)
        if end is None or not len(prices):
            unstored.append(ticker)
            continue
        # Sessions before the ticker's first stored day (a listing inside the window) are not missing.
        first_day = min(prices["day"])
        sessions = [s for s in sessions_before(end, settings.validation_window_sessions) if s >= first_day]
        if not sessions:
            findings[ticker] = f"no stored prices up to {end}"
            continue
        window = prices[(prices["day"] >= sessions[0]) & (prices["day"] <= sessions[-1])]
        if finding := rule(window, sessions):
            findings[ticker] = finding
    if len(unstored) == len(settings.tickers):
        findings.update({ticker: "no stored prices" for ticker in unstored})
    return findings


def result(findings: dict[str, object], what: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=not findings,
        description=f"{what}: " + ("none" if not findings else ", ".join(sorted(findings))),
        metadata={"findings": dg.MetadataValue.json({t: _jsonable(f) for t, f in findings.items()})},
    )


def _jsonable(value: object) -> object:
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value if isinstance(value, int | float | str | None) else str(value)


@dg.asset_check(asset=daily_prices, blocking=True, description="No session missing, none twice, in the window.")
def sessions_complete(
    context: dg.AssetCheckExecutionContext, object_store: ObjectStore, forecasting_settings: ForecastingSettings
) -> dg.AssetCheckResult:
    def rule(prices: pd.DataFrame, sessions: list[date]) -> object:
        missing, duplicated = validation.missing_and_duplicate_sessions(prices, sessions)
        return (
            {"missing": missing[:20], "missing_count": len(missing), "duplicated": duplicated}
            if (missing or duplicated)
            else None
        )

    return result(per_ticker(context, object_store, forecasting_settings, rule), "Tickers with gaps or repeats")


@dg.asset_check(
    asset=daily_prices,
    blocking=True,
    description="Every bar is possible: prices positive, low <= open, close <= high, volume >= 0.",
)
def bars_consistent(
    context: dg.AssetCheckExecutionContext, object_store: ObjectStore, forecasting_settings: ForecastingSettings
) -> dg.AssetCheckResult:
    def rule(prices: pd.DataFrame, _sessions: list[date]) -> object:
        return validation.inconsistent_bars(prices)

    return result(per_ticker(context, object_store, forecasting_settings, rule), "Tickers with impossible bars")


@dg.asset_check(
    asset=daily_prices, blocking=True, description="No run of identical bars (a feed repeating a stale quote)."
)
def no_frozen_bars(
    context: dg.AssetCheckExecutionContext, object_store: ObjectStore, forecasting_settings: ForecastingSettings
) -> dg.AssetCheckResult:
    length = forecasting_settings.frozen_run_length

    def rule(prices: pd.DataFrame, _sessions: list[date]) -> object:
        return validation.frozen_runs(prices, length)

    return result(per_ticker(context, object_store, forecasting_settings, rule), "Tickers with frozen bars")


@dg.asset_check(
    asset=daily_prices,
    description="Close-to-close jumps above the threshold, each with its likely cause (an unlisted split or a move).",
)
def jumps_explained(
    context: dg.AssetCheckExecutionContext, object_store: ObjectStore, forecasting_settings: ForecastingSettings
) -> dg.AssetCheckResult:
    threshold = forecasting_settings.jump_threshold

    def rule(prices: pd.DataFrame, _sessions: list[date]) -> object:
        return [f"{j.day}: {j.change:+.1%} ({j.cause})" for j in validation.outsized_jumps(prices, threshold)]

    findings = per_ticker(context, object_store, forecasting_settings, rule)
    outcome = result(findings, "Tickers with outsized jumps")
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=outcome.description,
        metadata=outcome.metadata,
    )


FEATURES_MATCH_TRAINING = dg.AssetCheckSpec(
    "features_match_training",
    asset=price_features,
    description="The champion's inputs still look like its training data (PSI per feature below the threshold).",
)
CHAMPION_PERFORMANCE_HOLDS = dg.AssetCheckSpec(
    "champion_performance_holds",
    asset=forecast_performance,
    description="The champion's live 60-session MASE is within the threshold of what its backtest promised.",
)


def drift_result(health: ChampionHealth | None) -> dg.AssetCheckResult:
    """``features_match_training`` for the champion's health (``None``: the naive forecast is champion)."""
    if health is None:
        return dg.AssetCheckResult(
            asset_key=FEATURES_MATCH_TRAINING.asset_key,
            check_name=FEATURES_MATCH_TRAINING.name,
            passed=True,
            description="The naive forecast is champion: nothing to drift from.",
        )
    return dg.AssetCheckResult(
        asset_key=FEATURES_MATCH_TRAINING.asset_key,
        check_name=FEATURES_MATCH_TRAINING.name,
        passed=not health.drifted,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(f"{t}: {', '.join(f)}" for t, f in sorted(health.drifted.items())) or "no drift",
        metadata={"champion": health.version, "psi": dg.MetadataValue.json(health.psi)},
    )


def degradation_result(health: ChampionHealth | None) -> dg.AssetCheckResult:
    """``champion_performance_holds`` for the champion's health (``None``: the naive forecast is champion)."""
    if health is None:
        return dg.AssetCheckResult(
            asset_key=CHAMPION_PERFORMANCE_HOLDS.asset_key,
            check_name=CHAMPION_PERFORMANCE_HOLDS.name,
            passed=True,
            description="The naive forecast is champion: MASE 1.0 by definition.",
        )
    return dg.AssetCheckResult(
        asset_key=CHAMPION_PERFORMANCE_HOLDS.asset_key,
        check_name=CHAMPION_PERFORMANCE_HOLDS.name,
        passed=not health.degraded,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"live MASE {health.live_mase:.3f} vs backtest {health.backtest_mase:.3f}"
            if health.live_mase == health.live_mase
            else "fewer than 60 scored predictions of the champion yet"
        ),
        metadata={
            "champion": health.version,
            "live_mase_60": None if health.live_mase != health.live_mase else health.live_mase,
            "backtest_mase": health.backtest_mase,
        },
    )


@dg.multi_asset_check(
    specs=[FEATURES_MATCH_TRAINING, CHAMPION_PERFORMANCE_HOLDS],
    can_subset=True,
    description="The champion's health, computed once (features, card, realised performance) for both checks.",
)
def champion_health_checks(
    context: dg.AssetCheckExecutionContext, object_store: ObjectStore, forecasting_settings: ForecastingSettings
) -> Iterator[dg.AssetCheckResult]:
    # One op for both checks: champion_health loads every ticker's features and the performance table and
    # computes PSI, which two separate checks did twice per run. It runs after both assets (in the daily job),
    # so the live MASE includes the performance this run just wrote.
    health = _health(object_store, forecasting_settings)
    selected = context.selected_asset_check_keys
    if FEATURES_MATCH_TRAINING.key in selected:
        yield drift_result(health)
    if CHAMPION_PERFORMANCE_HOLDS.key in selected:
        yield degradation_result(health)


def _health(object_store: ObjectStore, settings: ForecastingSettings) -> ChampionHealth | None:
    return champion_health(
        object_store,
        settings.tickers,
        psi_threshold=settings.drift_psi_threshold,
        degradation_threshold=settings.degradation_threshold,
    )


forecasting_checks = [
    sessions_complete,
    bars_consistent,
    no_frozen_bars,
    jumps_explained,
    champion_health_checks,
]
