"""The Dagster CLI commands the project runs itself (`make run`, CI, tests), built in one place."""

FUNDAMENTALS = "group:fundamentals"
EVENT_PIPELINE = "group:news or group:markets or group:signals"
MARKETS_AND_SIGNALS = "group:markets or group:signals"
FORECASTING_DATA = "key:daily_prices or key:price_features"
FORECASTING_TRAINING = "key:forecast_model"
FORECASTING_SERVING = "key:forecast_predictions or key:forecast_performance or key:forecast_report"


def materialize_command(partition: str | None, python: str = "python", selection: str = FUNDAMENTALS) -> list[str]:
    """`dagster asset materialize` of ``selection`` (the weekly fundamentals by default) for one partition
    (``None``: an unpartitioned selection)."""
    command = [python, "-m", "dagster", "asset", "materialize", "-m", "ops_assets.definitions", "--select", selection]
    return command if partition is None else [*command, "--partition", partition]
