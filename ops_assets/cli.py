"""The Dagster CLI commands the project runs itself (`make run`, CI, tests), built in one place."""

FUNDAMENTALS = "group:fundamentals"
EVENT_PIPELINE = "group:news or group:markets or group:signals"
MARKETS_AND_SIGNALS = "group:markets or group:signals"
FORECASTING = "group:forecasting"


def materialize_command(partition: str, python: str = "python", selection: str = FUNDAMENTALS) -> list[str]:
    """`dagster asset materialize` of ``selection`` (the weekly fundamentals by default) for one partition."""
    return [
        python, "-m", "dagster", "asset", "materialize",
        "-m", "ops_assets.definitions",
        "--select", selection,
        "--partition", partition,
    ]  # fmt: skip
