"""A model version holds one forecaster per ticker: the bundle, stored as one ``model.bin``. Plain, no Dagster.

The bytes are a zip archive (no pickle): ``manifest.json`` (kind, tickers) and ``<TICKER>.bin`` per ticker, each
the forecaster's own ``to_bytes()``. Version 0, the naive forecast, is never stored: :func:`load_version` builds
it, and it forecasts any ticker.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field

from ops_assets.forecasting.model import Forecaster, NaiveForecaster, load_forecaster
from ops_assets.forecasting.registry import NAIVE_VERSION, ModelRegistry

MANIFEST = "manifest.json"


class UnknownTickerError(KeyError):
    """The version has no forecaster for this ticker."""


@dataclass
class ForecasterBundle:
    kind: str
    """``naive`` or ``lstm``."""
    forecasters: dict[str, Forecaster] = field(default_factory=dict)
    any_ticker: bool = False
    """The naive bundle forecasts every ticker with one forecaster."""

    def forecaster(self, ticker: str) -> Forecaster:
        if self.any_ticker:
            return self.forecasters["*"]
        try:
            return self.forecasters[ticker]
        except KeyError:
            raise UnknownTickerError(ticker) from None

    @property
    def tickers(self) -> list[str]:
        return sorted(t for t in self.forecasters if t != "*")

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, json.dumps({"kind": self.kind, "tickers": self.tickers}))
            for ticker, forecaster in sorted(self.forecasters.items()):
                archive.writestr(f"{ticker}.bin", forecaster.to_bytes())
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ForecasterBundle:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            manifest = json.loads(archive.read(MANIFEST))
            kind = manifest["kind"]
            forecasters = {t: load_forecaster(kind, archive.read(f"{t}.bin")) for t in manifest["tickers"]}
        return cls(kind=kind, forecasters=forecasters)


def naive_bundle(horizon: int = 1) -> ForecasterBundle:
    return ForecasterBundle(kind="naive", forecasters={"*": NaiveForecaster(horizon)}, any_ticker=True)


def load_version(registry: ModelRegistry, version: int, *, horizon: int = 1) -> ForecasterBundle:
    """The bundle of ``version`` (0: the naive forecast)."""
    if version == NAIVE_VERSION:
        return naive_bundle(horizon)
    return ForecasterBundle.from_bytes(registry.model_bytes(version))
