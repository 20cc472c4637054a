"""notebooks/forecast_analysis.ipynb runs top to bottom on real data (the forecasting chain materialized on the
sample in a temporary OPS_DATA_DIR), and fails loudly when the data it reads is missing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from ops_assets.forecasting.assets import (
    daily_prices,
    forecast_model,
    forecast_performance,
    forecast_predictions,
    price_features,
)
from ops_assets.forecasting.registry import ModelRegistry
from ops_assets.forecasting.settings import ForecastingSettings
from ops_assets.forecasting.trading_calendar import sessions
from resources.notifier import LocalOutboxNotifier
from resources.object_store import LocalObjectStore
from resources.sample_sources.prices import SAMPLE_PRICES_END
from resources.sample_sources.resources import SamplePriceSource

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "forecast_analysis.ipynb"
# Small and quick (as in test_forecasting_model.py): one config, two epochs, short windows; a negative margin so
# the trained version is promoted and the notebook has a trained champion to show.
QUICK = {
    "tickers": ["AMZN"],
    "history_start_date": "2023-01-03",
    "epochs": 2,
    "search_trials": 1,
    "evaluation_origins": 20,
    "validation_origins": 10,
    "refit_every": 10,
    "promotion_margin": -10.0,
}
DAYS = sessions(date(2026, 10, 26), SAMPLE_PRICES_END)


@pytest.fixture
def jupyter_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The kernel's runtime and IPython folders in tmp; a ``python3`` kernelspec for this interpreter, installed in
    tmp only when none is found."""
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        from ipykernel.kernelspec import install

        prefix = tmp_path / "kernels"
        install(kernel_name="python3", prefix=str(prefix))
        monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    return tmp_path


def build_forecasting_data(data_dir: Path) -> ModelRegistry:
    """Prices and features, a trained and promoted version, and 3 sessions of predictions and performance."""
    store = LocalObjectStore(root=str(data_dir / "object-store"))
    res = {
        "object_store": store,
        "price_source": SamplePriceSource(),
        "forecasting_settings": ForecastingSettings(**QUICK),
        "notifier": LocalOutboxNotifier(outbox_path=str(data_dir / "outbox.jsonl")),
    }
    assert dg.materialize([daily_prices, price_features], resources=res, partition_key=DAYS[-1].isoformat()).success
    assert dg.materialize([forecast_model], resources=res).success
    for day in DAYS[-3:]:
        assert dg.materialize(
            [forecast_predictions, forecast_performance], resources=res, partition_key=day.isoformat()
        ).success
    return ModelRegistry(store)


def execute(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    monkeypatch.setenv("OPS_DATA_DIR", str(data_dir))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    return nb


def text_of(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                parts.append(output.text)
            elif output.output_type in ("display_data", "execute_result"):
                parts.append(output.data.get("text/plain", ""))
            elif output.output_type == "error":
                parts.append(f"{output.ename}: {output.evalue}")
    return "\n".join(parts)


def test_the_committed_notebook_is_valid_and_has_no_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata.kernelspec.name == "python3"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)


def test_the_notebook_runs_on_real_data(jupyter_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = jupyter_env / "data"
    registry = build_forecasting_data(data_dir)
    champion = registry.champion()
    assert champion == 1

    nb = execute(data_dir, monkeypatch)

    outputs = [output for cell in nb.cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.output_type == "error"]
    text = text_of(nb)
    assert f"Champion: version {champion}" in text
    assert f"Object store: {data_dir / 'object-store'}" in text
    assert "3 predictions stored over 3 sessions." in text
    assert f"The latest, made after the close of {DAYS[-1]}:" in text
    assert "2 decision event(s) recorded" in text
    # The card, the versions, the decisions, the latest forecasts; the error chart and the day's report.
    assert "registered" in text
    assert "promoted" in text
    assert "lstm" in text
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(images) == 2


@pytest.mark.parametrize(
    ("folders", "error"),
    [([], "No local object store"), (["object-store/forecasting/models"], "No predictions under")],
    ids=["no store", "no predictions"],
)
def test_the_notebook_fails_loudly_without_data(
    jupyter_env: Path, monkeypatch: pytest.MonkeyPatch, folders: list[str], error: str
) -> None:
    data_dir = jupyter_env / "no-data"
    data_dir.mkdir()
    for folder in folders:
        (data_dir / folder).mkdir(parents=True)
    with pytest.raises(CellExecutionError, match=error):
        execute(data_dir, monkeypatch)
