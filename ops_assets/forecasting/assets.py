"""Forecasting: daily prices on the NYSE calendar, then the features the model reads."""

from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd

from ops_assets.forecasting import keys
from ops_assets.forecasting.bundle import UnknownTickerError, load_version
from ops_assets.forecasting.features import price_features as compute_features
from ops_assets.forecasting.ingest import TickerIngest, ingest_ticker, read_stored
from ops_assets.forecasting.model import ModelConfig
from ops_assets.forecasting.partitions import NEW_YORK, partition_days, trading_days
from ops_assets.forecasting.performance import PREDICTION_COLUMNS, realised_errors, rolling_mase
from ops_assets.forecasting.registry import NAIVE_VERSION, ModelCard, ModelRegistry, RegistryError, promotion_decision
from ops_assets.forecasting.report import forecast_report_png, report_markdown, report_table
from ops_assets.forecasting.search import DEFAULT_GRID
from ops_assets.forecasting.settings import ForecastingSettings
from ops_assets.forecasting.storage import frame_from_parquet, frame_to_parquet, load_features
from ops_assets.forecasting.trading_calendar import session_close
from ops_assets.forecasting.training import TrainingPlan, TrainingRun, code_version, train
from ops_assets.freshness import TRADING_DAILY, WEEKLY
from ops_assets.tables import frame_table
from resources.notifier import Notifier
from resources.object_store import ObjectStore
from resources.price_source import PriceSource, PriceSourceTickerError

GROUP = "forecasting"
OWNERS = ["team:forecasting"]


def utc_now() -> datetime:
    """The wall clock the close-of-session guard compares with (one place, so tests can set the time)."""
    return datetime.now(UTC)


@dg.asset(
    partitions_def=trading_days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "parquet"},
    freshness_policy=TRADING_DAILY,
)
def daily_prices(
    context: dg.AssetExecutionContext,
    price_source: PriceSource,
    object_store: ObjectStore,
    forecasting_settings: ForecastingSettings,
) -> dg.MaterializeResult:
    """Daily OHLCV per forecast ticker, one partition per NYSE session (`forecasting/prices/<TICKER>.parquet`).

    Stored split-adjusted for every split known, with the splits beside them; each provider answer is archived
    as received under `forecasting/raw/<TICKER>/year=/month=/day=/`. A backfill of a range fetches it in one
    request per ticker. A provider that changes stored days (a restatement or a split) is reported here, and
    the previous version is kept under `forecasting/prices/_superseded/`. A ticker the provider does not know,
    or answers empty for, is reported and the others go on.
    """
    first, last = partition_days(context)
    closes = session_close(last)
    if utc_now() < closes:
        raise dg.Failure(
            description=f"The session of {last} closes at {closes.astimezone(ZoneInfo(NEW_YORK)):%H:%M} "
            f"New York time; its prices are not final before then. Run this partition after the close.",
            allow_retries=False,
        )
    settings = forecasting_settings
    done: dict[str, TickerIngest] = {}
    failed: dict[str, str] = {}
    for ticker in settings.tickers:
        try:
            done[ticker] = ingest_ticker(
                object_store,
                price_source,
                ticker,
                first,
                last,
                refetch=settings.refetch_sessions,
                history_start=date.fromisoformat(settings.history_start_date),
            )
        except PriceSourceTickerError as exc:
            failed[ticker] = str(exc)
            context.log.warning(f"{ticker}: {exc}")
    for ticker, outcome in done.items():
        if outcome.report.changed_history:
            context.log.warning(f"{ticker}: the provider changed stored history: {outcome.report.describe()}")
    if not done:
        raise dg.Failure(description="No ticker could be fetched: " + "; ".join(f"{t}: {e}" for t, e in failed.items()))
    return dg.MaterializeResult(
        metadata={
            "sessions": f"{first} .. {last}",
            "source": price_source.source,
            "tickers": dg.MetadataValue.json({t: o.as_metadata() for t, o in done.items()}),
            "failed_tickers": dg.MetadataValue.json(failed),
            "history_changed": sorted(t for t, o in done.items() if o.report.changed_history),
        }
    )


@dg.asset(
    partitions_def=trading_days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=GROUP,
    owners=OWNERS,
    deps=[daily_prices],
    kinds={"python", "pandas", "parquet"},
    freshness_policy=TRADING_DAILY,
)
def price_features(
    context: dg.AssetExecutionContext, object_store: ObjectStore, forecasting_settings: ForecastingSettings
) -> dg.MaterializeResult:
    """The model's inputs per ticker and session (`forecasting/features/<TICKER>.parquet`): avg_price = (O+H+L+C)/4,
    log returns over 1 and 5 sessions, 5- and 20-session volatility, avg_price against its 20-session mean, the
    day's range and a volume z-score. Each row uses only sessions up to its own day, so the file always covers the
    whole stored history (re-running an old partition never cuts it short); readers cut at the day they need.
    """
    rows = {}
    for ticker in forecasting_settings.tickers:
        prices, _ = read_stored(object_store, ticker)
        if not len(prices):
            context.log.warning(f"{ticker}: no stored prices; no features.")
            continue
        features = compute_features(prices)
        object_store.put_bytes(keys.features_key(ticker), frame_to_parquet(features))
        rows[ticker] = {"rows": len(features), "last_day": str(features["day"].iloc[-1])}
    return dg.MaterializeResult(metadata={"tickers": dg.MetadataValue.json(rows)})


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    deps=[price_features],
    kinds={"python", "pytorch"},
    freshness_policy=WEEKLY,
)
def forecast_model(
    context: dg.AssetExecutionContext,
    object_store: ObjectStore,
    forecasting_settings: ForecastingSettings,
    notifier: Notifier,
) -> dg.MaterializeResult:
    """A new LSTM version per training run, evaluated walk-forward and promoted only if it beats the champion.

    The search scores a small grid on a validation window; the chosen config is then scored on the last
    `evaluation_origins` sessions (rolling origin, each fit seeing only data up to its origin) beside the naive
    forecast (tomorrow = today) and the current champion refitted on the same origins. Registered under
    `forecasting/models/<version>/`; promoted when its MASE beats the champion's by `promotion_margin`, otherwise
    recorded as rejected. Stock prices are close to a random walk: a MASE near 1.0 is the honest expectation.
    """
    settings = forecasting_settings
    frames = load_features(object_store, settings.tickers)
    frames, left_out = trainable(frames, settings)
    for ticker in sorted(set(settings.tickers) - set(frames) - set(left_out)):
        left_out[ticker] = "no features stored (materialize price_features)"
    for ticker, why in left_out.items():
        context.log.warning(f"{ticker} left out of training: {why}")
    if not frames:
        raise dg.Failure(description="No ticker can be trained: " + "; ".join(f"{t}: {w}" for t, w in left_out.items()))
    registry = ModelRegistry(object_store)
    champion_card = registry.champion_card()
    champion = champion_card.version if champion_card else NAIVE_VERSION
    champion_configs = {t: ModelConfig.from_dict(c) for t, c in champion_card.config.items()} if champion_card else None
    grid = [
        replace(c, epochs=settings.epochs, horizon=settings.horizon) for c in DEFAULT_GRID[: settings.search_trials]
    ]
    plan = TrainingPlan(
        origins=settings.evaluation_origins,
        validation_origins=settings.validation_origins,
        refit_every=settings.refit_every,
        search_budget_seconds=settings.search_budget_seconds,
        grid=grid,
    )
    run = train(frames, plan, champion_configs=champion_configs)
    card = registry.register(
        run.bundle().to_bytes(),
        ModelCard(
            version=-1,
            kind="lstm",
            config={t: r.config.to_dict() for t, r in run.tickers.items()},
            data_start=run.data_start.isoformat(),
            data_end=run.data_end.isoformat(),
            data_hash=run.data_hash,
            metrics={
                "mase": run.candidate_mase,
                "champion_mase": run.champion_mase,
                "last_close_mase": run.last_close_mase,
                **_mean_metrics(run),
            },
            evaluation_window=run.evaluation_window,
            code_version=code_version(),
            created_at=datetime.now(UTC).isoformat(),
            tickers=sorted(run.tickers),
            training_windows={
                t: [r.model.train_start.isoformat(), r.model.train_end.isoformat()] for t, r in run.tickers.items()
            },
        ),
    )
    decision = promotion_decision(run.candidate_mase, run.champion_mase, settings.promotion_margin)
    reason = f"version {card.version} vs champion version {champion}: {decision.reason}"
    if decision.promote:
        registry.promote(card.version, reason)
    else:
        registry.reject(card.version, reason)
    outcome = "PROMOTED" if decision.promote else "REJECTED"
    notifier.publish(f"Forecast model {outcome} - version {card.version}", f"{reason}\nScores: {run.scores()}")
    context.log.info(f"{outcome}: {reason}")
    return dg.MaterializeResult(
        metadata={
            "version": card.version,
            "decision": outcome,
            "reason": reason,
            "champion": registry.champion(),
            "mase": run.candidate_mase,
            "champion_mase": run.champion_mase,
            "last_close_mase": run.last_close_mase,
            "evaluation_window": run.evaluation_window,
            "left_out": dg.MetadataValue.json(left_out),
            "scores": dg.MetadataValue.json(run.scores()),
            "search_trials": dg.MetadataValue.json(
                {t: r.trials.astype(str).to_dict(orient="records") for t, r in run.tickers.items()}
            ),
            "training_seconds": round(run.seconds, 1),
        }
    )


def trainable(frames: dict, settings: ForecastingSettings) -> tuple[dict, dict[str, str]]:
    """The tickers with enough history for the search's and the test's windows, and why the others are not."""
    needed = (
        settings.evaluation_origins + settings.validation_origins + 2 * max(DEFAULT_GRID, key=lambda c: c.window).window
    )
    kept, left_out = {}, {}
    for ticker, frame in frames.items():
        complete = int(frame.dropna().shape[0])
        if complete < needed:
            left_out[ticker] = f"{complete} complete sessions of features; training needs {needed}"
        else:
            kept[ticker] = frame
    return kept, left_out


def _mean_metrics(run: TrainingRun) -> dict[str, float]:
    names = ("mae", "rmse", "mape", "directional_accuracy")
    return {n: float(sum(r.candidate.metrics[n] for r in run.tickers.values()) / len(run.tickers)) for n in names}


@dg.asset(
    partitions_def=trading_days,
    group_name=GROUP,
    owners=OWNERS,
    deps=[price_features, forecast_model],
    kinds={"python", "parquet"},
    freshness_policy=TRADING_DAILY,
)
def forecast_predictions(
    context: dg.AssetExecutionContext, object_store: ObjectStore, forecasting_settings: ForecastingSettings
) -> dg.MaterializeResult:
    """Each session's forecast of the next session's avg_price per ticker, by the model that serves it
    (`forecasting/predictions/year=/month=/day=/predictions.parquet`, with the model version).

    The model is the newest champion whose training data ends on or before the session (so a backfill of a past
    day never uses a model that saw later prices); before any such model, the naive forecast (version 0).
    """
    day = date.fromisoformat(context.partition_key)
    registry = ModelRegistry(object_store)
    version = serving_version(registry, day)
    bundle = load_version(registry, version, horizon=forecasting_settings.horizon)
    rows = []
    for ticker, features in load_features(object_store, forecasting_settings.tickers, up_to=day).items():
        try:
            forecaster = bundle.forecaster(ticker)
        except UnknownTickerError:
            naive = load_version(registry, NAIVE_VERSION, horizon=forecasting_settings.horizon)
            forecaster, used = naive.forecaster(ticker), NAIVE_VERSION
        else:
            used = version
        predicted = forecaster.predict(features)
        hit = predicted[predicted["origin_day"] == day]
        if hit.empty:
            context.log.warning(f"{ticker}: no forecast from {day} (no full window of features ending that day).")
            continue
        rows.append(
            {
                "ticker": ticker,
                "origin_day": day,
                "target_day": hit["target_day"].iloc[0],
                "forecast": float(hit["forecast"].iloc[0]),
                # The avg_price it was made from, in that day's units: a later split rescales stored prices,
                # and the performance rescales the forecast by the same factor through this.
                "origin_price": float(features.loc[features["day"] == day, "avg_price"].iloc[0]),
                "model_version": used,
                "model_kind": "naive" if used == NAIVE_VERSION else bundle.kind,
            }
        )
    table = pd.DataFrame(rows, columns=PREDICTION_COLUMNS)
    object_store.put_bytes(keys.predictions_key(day), frame_to_parquet(table))
    return dg.MaterializeResult(
        metadata={
            "model_version": version,
            "forecasts": frame_table(table),
        }
    )


def serving_version(registry: ModelRegistry, day: date) -> int:
    """The newest champion (current, then earlier ones) trained on data up to ``day`` at the latest; else 0."""
    record = registry.champion_record()
    for version in [record["version"], *record.get("previous", [])]:
        if version == NAIVE_VERSION:
            continue
        card = registry.card(version)
        if card is None:
            raise RegistryError(
                f"Champion history names version {version}, which has no card: the registry is damaged."
            )
        if date.fromisoformat(card.data_end) <= day:
            return int(version)
    return NAIVE_VERSION


@dg.asset(
    partitions_def=trading_days,
    group_name=GROUP,
    owners=OWNERS,
    deps=[forecast_predictions],
    kinds={"python", "parquet"},
    freshness_policy=TRADING_DAILY,
)
def forecast_performance(
    context: dg.AssetExecutionContext, object_store: ObjectStore, forecasting_settings: ForecastingSettings
) -> dg.MaterializeResult:
    """Realised errors of every stored prediction whose target session has arrived by this session, and each
    model version's rolling 20- and 60-session MASE against the naive forecast
    (`forecasting/performance/<date>.parquet`)."""
    day = date.fromisoformat(context.partition_key)
    predictions = read_predictions(object_store, up_to=day)
    features = load_features(object_store, forecasting_settings.tickers, up_to=day)
    scored = realised_errors(predictions, features, as_of=day)
    table = rolling_mase(scored)
    object_store.put_bytes(keys.performance_key(day), frame_to_parquet(scored))
    return dg.MaterializeResult(
        metadata={
            "scored_predictions": len(scored),
            "rolling_mase": frame_table(table, empty="none yet"),
        }
    )


def read_predictions(object_store: ObjectStore, *, up_to: date) -> pd.DataFrame:
    """Every stored prediction made on or before ``up_to``."""
    frames = [
        frame_from_parquet(object_store.get_bytes(info.key))
        for info in object_store.list(keys.PREDICTIONS_PREFIX)
        if info.key.endswith("predictions.parquet")
    ]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=PREDICTION_COLUMNS)
    table = pd.concat(frames, ignore_index=True)
    for column in ("origin_day", "target_day"):
        table[column] = pd.to_datetime(table[column]).dt.date
    return table[table["origin_day"] <= up_to]


@dg.asset(
    partitions_def=trading_days,
    group_name=GROUP,
    owners=OWNERS,
    deps=[forecast_predictions, forecast_performance],
    kinds={"python", "matplotlib"},
    freshness_policy=TRADING_DAILY,
)
def forecast_report(
    context: dg.AssetExecutionContext, object_store: ObjectStore, forecasting_settings: ForecastingSettings
) -> dg.MaterializeResult:
    """The day's report: actual avg_price against the served forecasts with their error band, per ticker, and
    each model version's realised MAE and rolling MASE (`forecasting/reports/YYYY/MM/DD/forecast_report.png`,
    shown below)."""
    day = date.fromisoformat(context.partition_key)
    scored = frame_from_parquet(object_store.get_bytes(keys.performance_key(day)))
    features = load_features(object_store, forecasting_settings.tickers, up_to=day)
    pending = frame_from_parquet(object_store.get_bytes(keys.predictions_key(day)))
    png = forecast_report_png(scored, features, day=day, pending=pending)
    key = keys.report_key(day)
    object_store.put_bytes(key, png)
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.md(report_markdown(key, report_table(scored, day=day), png=png)),
            "uri": object_store.uri(key),
        }
    )


forecasting_assets = [
    daily_prices,
    price_features,
    forecast_model,
    forecast_predictions,
    forecast_performance,
    forecast_report,
]
