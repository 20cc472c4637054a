"""The forecasters: an LSTM over windows of features, and the naive forecast it has to beat. Plain, no Dagster.

What the LSTM predicts. For an origin session ``t`` and a horizon ``h``, the model predicts the log ratio
``log(avg_price[t+h] / avg_price[t])`` (a return: roughly stationary, unlike the price level, which drifts
far outside any training range within a few years); the forecast is ``avg_price[t] * exp(prediction)``.
``t+h`` is the ``h``-th NYSE session after ``t`` (:mod:`~ops_assets.forecasting.trading_calendar`), never a
calendar-day offset.

What it reads. The window of the ``window`` sessions up to and including ``t`` (rows with a NaN in a model
column are dropped first, so a window is ``window`` consecutive *complete* rows). Every column is scaled by
a mean and a standard deviation fitted on the training rows only. One column is transformed before scaling:
``avg_price`` enters as the window-relative log price ``log(avg_price[s] / avg_price[t])`` (0 at the origin),
the shape of the recent path rather than its level, for the same reason the target is a return.

Training. One LSTM (``hidden_size`` x ``num_layers``) over the window, a linear head on the last step; mean
squared error on the standardised target, Adam, ``epochs`` full passes in shuffled mini-batches, gradients
clipped to norm 1. The head starts at zero, i.e. at "the training mean return", so an undertrained model
forecasts close to today's price plus the average drift rather than noise. No early stopping: the walk-forward
evaluation, not a training-set split, decides whether a model is any good.

No look-ahead. :func:`fit` with ``train_end = D`` uses only rows with ``day <= D`` and only targets whose
target session is ``<= D``; the scaler sees the same rows. The features themselves are backward-looking
(:mod:`~ops_assets.forecasting.features`), and a forecast for origin ``t`` reads only its own window, so
nothing after ``t`` can change it (tested).

Determinism. :func:`fit` seeds torch, numpy and Python's ``random`` from the config (and restores the
caller's random states afterwards), turns on ``torch.use_deterministic_algorithms``, shuffles batches with
its own seeded generator and runs on a fixed number of threads (:data:`TORCH_THREADS`, restored afterwards):
the same features and config give bit-identical weights and forecasts on the same machine and torch build
(tested). Different CPUs or torch versions may differ in the last bits.

Serialised form (:meth:`LstmForecaster.to_bytes`): a magic line, one line of JSON (kind, config, scaler,
training window) and the weights, written by ``torch.save`` of the state dict and read back with
``weights_only=True`` (no pickled code is ever executed on load).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import pandas as pd
import torch
from torch import nn

from ops_assets.forecasting import trading_calendar
from ops_assets.forecasting.features import FEATURE_COLUMNS

PRICE_COLUMN = "avg_price"
"""The forecast variable (and a model input, window-relative)."""
TORCH_THREADS = 1
"""Threads torch uses inside :func:`fit` and :meth:`LstmForecaster.predict` (the caller's setting is restored).
Fixed, so a result never depends on what the process was set to. One thread: on the idle 2-core development
machine 2 threads fitted the default config 10-25 % faster, but while other processes used the cores the 2-thread
fits slowed 3-20x (threads waiting on each other) and the 1-thread fits by under 2x (``benchmarks/bench_training.py``
prints both)."""
PREDICT_CHUNK = 4096
"""Windows per forward pass in :meth:`LstmForecaster.predict` (bounds memory on long histories)."""
MAGIC = b"ops-forecasting-model/1\n"
PREDICTION_COLUMNS = ["origin_day", "target_day", "forecast"]


# ------------------------------------------------------------------------------------------------- config


@dataclass(frozen=True)
class ModelConfig:
    """The LSTM's hyperparameters. Every field is part of a model version (saved with the weights)."""

    window: int = 20
    """Sessions per input sequence (the origin and the ``window - 1`` sessions before it)."""
    horizon: int = 1
    """Sessions ahead: 1 forecasts the next session's avg_price."""
    hidden_size: int = 32
    num_layers: int = 1
    learning_rate: float = 1e-3
    epochs: int = 30
    batch_size: int = 64
    seed: int = 7
    max_train_rows: int = 2520
    """At most this many of the most recent complete rows up to ``train_end`` are used (2520 = ~10 years)."""
    features: tuple[str, ...] = tuple(FEATURE_COLUMNS)
    """Input columns, in this order."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        for name in ("window", "horizon", "hidden_size", "num_layers", "epochs", "batch_size", "max_train_rows"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"ModelConfig.{name} must be at least 1, got {getattr(self, name)!r}")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ValueError(f"ModelConfig.learning_rate must be positive, got {self.learning_rate!r}")
        if not self.features or len(set(self.features)) != len(self.features):
            raise ValueError(f"ModelConfig.features must be distinct column names, got {self.features!r}")
        if self.max_train_rows < self.window + self.horizon:
            raise ValueError("ModelConfig.max_train_rows must leave room for at least one window and its target")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (``features`` as a list)."""
        values = asdict(self)
        values["features"] = list(self.features)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        """The inverse of :meth:`to_dict`; unknown keys are an error (a model from a newer version of the code)."""
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown ModelConfig fields: {sorted(unknown)}")
        values = dict(values)
        if "features" in values:
            values["features"] = tuple(values["features"])
        return cls(**values)

    def label(self) -> str:
        """A short description for tables and logs, e.g. ``w20 h1 lstm32x1 lr0.001 e30``."""
        return (
            f"w{self.window} h{self.horizon} lstm{self.hidden_size}x{self.num_layers} "
            f"lr{self.learning_rate:g} e{self.epochs}"
        )


# ------------------------------------------------------------------------------------------------- helpers


@runtime_checkable
class Forecaster(Protocol):
    """What the evaluation, the registry and the predictions need from a model."""

    name: str
    horizon: int

    @property
    def history_rows(self) -> int:
        """Complete feature rows a forecast for one origin reads (its window)."""
        ...

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """``origin_day``, ``target_day``, ``forecast`` for every origin in ``features`` the model can forecast."""
        ...

    def to_bytes(self) -> bytes: ...


def sessions_after(days: Sequence[date] | pd.Series, horizon: int) -> list[date]:
    """For each day, the ``horizon``-th NYSE session after it (for a non-session day, counting from the next one)."""
    sessions = trading_calendar.nyse().sessions
    stamps = pd.DatetimeIndex(pd.to_datetime(pd.Series(list(days), dtype="object")))
    positions = sessions.searchsorted(stamps, side="right") + (horizon - 1)
    if len(positions) and positions.max() >= len(sessions):
        raise ValueError(
            f"the trading calendar ends {trading_calendar.CALENDAR_END}: no session {horizon} after {max(days)}"
        )
    return [d.date() for d in sessions[positions]]


def prepare(features: pd.DataFrame) -> pd.DataFrame:
    """A copy sorted by day, with ``day`` as ``datetime.date`` (whatever type it came in) and a fresh index."""
    if "day" not in features.columns:
        raise ValueError("the feature frame needs a 'day' column")
    frame = features.copy()
    frame["day"] = [d.date() if isinstance(d, pd.Timestamp) else d for d in pd.to_datetime(frame["day"])]
    frame = frame.sort_values("day", kind="stable").reset_index(drop=True)
    if frame["day"].duplicated().any():
        raise ValueError("the feature frame has duplicate days")
    return frame


def _empty_predictions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "origin_day": pd.Series(dtype="object"),
            "target_day": pd.Series(dtype="object"),
            "forecast": pd.Series(dtype="float64"),
        }
    )


@contextlib.contextmanager
def _torch_settings(*, seed: int | None) -> Iterator[None]:
    """Fixed threads and deterministic algorithms (and, with a seed, seeded RNGs); the caller's state comes back."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    python_state = random.getstate()
    numpy_state = np.random.get_state()
    torch.set_num_threads(TORCH_THREADS)
    torch.use_deterministic_algorithms(True)
    try:
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
                np.random.seed(seed)
                random.seed(seed)
            yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def _split_blob(data: bytes) -> tuple[dict[str, Any], bytes]:
    if not data.startswith(MAGIC):
        raise ValueError("not a serialised forecaster (missing header)")
    head, _, rest = data[len(MAGIC) :].partition(b"\n")
    return json.loads(head.decode("utf-8")), rest


def _join_blob(meta: dict[str, Any], payload: bytes = b"") -> bytes:
    return MAGIC + json.dumps(meta, sort_keys=True, separators=(",", ":")).encode("utf-8") + b"\n" + payload


# ------------------------------------------------------------------------------------------------- LSTM


@dataclass(frozen=True)
class Scaler:
    """Means and standard deviations fitted on the training rows only (a zero deviation is stored as 1)."""

    feature_mean: tuple[float, ...]
    """Per input column, in ``config.features`` order. For ``avg_price``: of the window-relative log price over
    the training windows; for every other column: of the column over the training rows."""
    feature_std: tuple[float, ...]
    target_mean: float
    """Of the training targets ``log(avg_price[t+h] / avg_price[t])``."""
    target_std: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature_mean": list(self.feature_mean),
            "feature_std": list(self.feature_std),
            "target_mean": self.target_mean,
            "target_std": self.target_std,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Scaler:
        return cls(
            feature_mean=tuple(float(v) for v in values["feature_mean"]),
            feature_std=tuple(float(v) for v in values["feature_std"]),
            target_mean=float(values["target_mean"]),
            target_std=float(values["target_std"]),
        )


def _std(values: np.ndarray) -> float:
    deviation = float(np.std(values))
    return deviation if deviation > 0 and math.isfinite(deviation) else 1.0


class _Network(nn.Module):
    """LSTM over the window; a linear head on the last step's hidden state gives the scaled log ratio."""

    def __init__(self, inputs: int, hidden_size: int, num_layers: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(inputs, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)
        # Start from "the training mean return" (scaled target 0): training learns departures from it.
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        output, _ = self.lstm(windows)
        return self.head(output[:, -1, :]).squeeze(-1)


@dataclass
class _Windows:
    """Complete rows of a feature frame and their windows (unscaled, avg_price already window-relative)."""

    days: list[date]
    """The origin of each window."""
    price: np.ndarray
    """avg_price at each origin."""
    inputs: np.ndarray
    """(windows, window, columns), float64."""


def _windows(frame: pd.DataFrame, config: ModelConfig) -> _Windows:
    """Windows over the rows of ``frame`` that are complete in the model's columns (NaN rows dropped first)."""
    missing = [c for c in (*config.features, PRICE_COLUMN) if c not in frame.columns]
    if missing:
        raise ValueError(f"the feature frame lacks the model's columns {missing}")
    complete = frame.dropna(subset=[*config.features, PRICE_COLUMN]).reset_index(drop=True)
    rows = len(complete) - config.window + 1
    if rows <= 0:
        return _Windows([], np.empty(0), np.empty((0, config.window, len(config.features))))
    matrix = complete[list(config.features)].to_numpy(dtype="float64")
    inputs = np.lib.stride_tricks.sliding_window_view(matrix, config.window, axis=0).transpose(0, 2, 1).copy()
    if PRICE_COLUMN in config.features:
        column = config.features.index(PRICE_COLUMN)
        log_price = np.log(inputs[:, :, column])
        inputs[:, :, column] = log_price - log_price[:, -1:]
    price = complete[PRICE_COLUMN].to_numpy(dtype="float64")[config.window - 1 :]
    return _Windows(list(complete["day"].iloc[config.window - 1 :]), price, inputs)


def _scale(inputs: np.ndarray, scaler: Scaler) -> torch.Tensor:
    mean = np.asarray(scaler.feature_mean, dtype="float64")
    std = np.asarray(scaler.feature_std, dtype="float64")
    return torch.from_numpy(((inputs - mean) / std).astype("float32"))


class LstmForecaster:
    """A fitted LSTM: forecasts avg_price ``config.horizon`` sessions ahead of every origin with a full window."""

    name: ClassVar[str] = "lstm"

    def __init__(
        self,
        config: ModelConfig,
        network: _Network,
        scaler: Scaler,
        *,
        train_start: date,
        train_end: date,
        training_samples: int,
        final_loss: float,
    ) -> None:
        self.config = config
        self.network = network
        self.scaler = scaler
        self.train_start = train_start
        """First session of the training rows (the oldest row any window or scaler statistic used)."""
        self.train_end = train_end
        """The ``train_end`` the model was fitted with: nothing after it was read."""
        self.training_samples = training_samples
        """(window, target) pairs trained on."""
        self.final_loss = final_loss
        """Mean squared error (scaled target) over the last epoch."""
        self.network.eval()

    @property
    def horizon(self) -> int:
        return self.config.horizon

    @property
    def history_rows(self) -> int:
        return self.config.window

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """One forecast per origin with a full window of complete rows in ``features``, oldest first."""
        windows = _windows(prepare(features), self.config)
        if not windows.days:
            return _empty_predictions()
        scaled = _scale(windows.inputs, self.scaler)
        outputs = []
        with _torch_settings(seed=None), torch.no_grad():
            for start in range(0, len(scaled), PREDICT_CHUNK):
                outputs.append(self.network(scaled[start : start + PREDICT_CHUNK]).numpy().astype("float64"))
        log_ratio = np.concatenate(outputs) * self.scaler.target_std + self.scaler.target_mean
        return pd.DataFrame(
            {
                "origin_day": windows.days,
                "target_day": sessions_after(windows.days, self.config.horizon),
                "forecast": windows.price * np.exp(log_ratio),
            }
        )

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        torch.save(self.network.state_dict(), buffer)
        meta = {
            "kind": self.name,
            "config": self.config.to_dict(),
            "scaler": self.scaler.to_dict(),
            "train_start": self.train_start.isoformat(),
            "train_end": self.train_end.isoformat(),
            "training_samples": self.training_samples,
            "final_loss": self.final_loss,
        }
        return _join_blob(meta, buffer.getvalue())

    @classmethod
    def from_bytes(cls, data: bytes) -> LstmForecaster:
        meta, payload = _split_blob(data)
        if meta.get("kind") != cls.name:
            raise ValueError(f"not an LSTM forecaster: kind {meta.get('kind')!r}")
        config = ModelConfig.from_dict(meta["config"])
        network = _Network(len(config.features), config.hidden_size, config.num_layers)
        network.load_state_dict(torch.load(io.BytesIO(payload), weights_only=True))
        return cls(
            config,
            network,
            Scaler.from_dict(meta["scaler"]),
            train_start=date.fromisoformat(meta["train_start"]),
            train_end=date.fromisoformat(meta["train_end"]),
            training_samples=int(meta["training_samples"]),
            final_loss=float(meta["final_loss"]),
        )

    def __repr__(self) -> str:
        return f"LstmForecaster({self.config.label()}, trained {self.train_start}..{self.train_end})"


@dataclass
class _TrainingSet:
    rows: pd.DataFrame
    """The complete rows up to train_end (the most recent ``max_train_rows``): windows and scaler read only these."""
    windows: _Windows
    targets: np.ndarray
    """``log(avg_price[t+h] / avg_price[t])`` of the windows with a known target."""
    has_target: np.ndarray = field(repr=False)


def _training_set(features: pd.DataFrame, config: ModelConfig, train_end: date) -> _TrainingSet:
    frame = prepare(features)
    frame = frame[frame["day"] <= train_end]
    complete = frame.dropna(subset=[*config.features, PRICE_COLUMN])
    complete = complete.iloc[-config.max_train_rows :]
    windows = _windows(complete, config)
    if not windows.days:
        raise ValueError(
            f"not enough complete feature rows up to {train_end} for one window of {config.window} sessions"
        )
    # The target of origin t is avg_price on the session h after t, read only from rows up to train_end.
    known = frame.dropna(subset=[PRICE_COLUMN]).set_index("day")[PRICE_COLUMN]
    target_days = sessions_after(windows.days, config.horizon)
    target_price = known.reindex(target_days).to_numpy(dtype="float64")
    has_target = np.array([d <= train_end for d in target_days]) & np.isfinite(target_price)
    if not has_target.any():
        raise ValueError(f"no training window up to {train_end} has a target {config.horizon} session(s) later")
    targets = np.log(target_price[has_target] / windows.price[has_target])
    return _TrainingSet(complete, windows, targets, has_target)


def fit_scaler(features: pd.DataFrame, config: ModelConfig, *, train_end: date) -> Scaler:
    """The scaler :func:`fit` would use: statistics of the training rows up to ``train_end`` only."""
    return _fit_scaler(_training_set(features, config, train_end), config)


def _fit_scaler(training: _TrainingSet, config: ModelConfig) -> Scaler:
    means, stds = [], []
    for index, column in enumerate(config.features):
        if column == PRICE_COLUMN:
            values = training.windows.inputs[:, :, index].ravel()
        else:
            values = training.rows[column].to_numpy(dtype="float64")
        means.append(float(np.mean(values)))
        stds.append(_std(values))
    return Scaler(tuple(means), tuple(stds), float(np.mean(training.targets)), _std(training.targets))


def fit(features: pd.DataFrame, config: ModelConfig, *, train_end: date) -> LstmForecaster:
    """Train an LSTM on the rows up to ``train_end`` (see the module doc: no look-ahead, deterministic).

    ``features`` is a :func:`~ops_assets.forecasting.features.price_features` frame (``day`` and the feature
    columns, one row per session). Rows after ``train_end`` may be present; they are never read.
    """
    training = _training_set(features, config, train_end)
    scaler = _fit_scaler(training, config)
    inputs = _scale(training.windows.inputs[training.has_target], scaler)
    targets = torch.from_numpy(((training.targets - scaler.target_mean) / scaler.target_std).astype("float32"))
    samples = len(targets)
    with _torch_settings(seed=config.seed):
        network = _Network(len(config.features), config.hidden_size, config.num_layers)
        optimiser = torch.optim.Adam(network.parameters(), lr=config.learning_rate)
        loss_fn = nn.MSELoss()
        order = torch.Generator().manual_seed(config.seed)
        network.train()
        final_loss = float("nan")
        for _ in range(config.epochs):
            permutation = torch.randperm(samples, generator=order)
            total = 0.0
            for start in range(0, samples, config.batch_size):
                batch = permutation[start : start + config.batch_size]
                optimiser.zero_grad()
                loss = loss_fn(network(inputs[batch]), targets[batch])
                loss.backward()
                nn.utils.clip_grad_norm_(network.parameters(), max_norm=1.0)
                optimiser.step()
                total += float(loss.detach()) * len(batch)
            final_loss = total / samples
        network.eval()
    return LstmForecaster(
        config,
        network,
        scaler,
        train_start=training.rows["day"].iloc[0],
        train_end=train_end,
        training_samples=samples,
        final_loss=final_loss,
    )


# ------------------------------------------------------------------------------------------------- naive


class NaiveForecaster:
    """The random-walk forecast: avg_price ``horizon`` sessions ahead equals today's (version 0, always there)."""

    name: ClassVar[str] = "naive"

    def __init__(self, horizon: int = 1) -> None:
        if horizon < 1:
            raise ValueError(f"horizon must be at least 1, got {horizon}")
        self.horizon = horizon

    @property
    def history_rows(self) -> int:
        return 1

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """One forecast per row with an avg_price: the avg_price itself."""
        if PRICE_COLUMN not in features.columns:
            raise ValueError(f"the feature frame lacks {PRICE_COLUMN!r}")
        rows = prepare(features).dropna(subset=[PRICE_COLUMN])
        if rows.empty:
            return _empty_predictions()
        days = list(rows["day"])
        return pd.DataFrame(
            {
                "origin_day": days,
                "target_day": sessions_after(days, self.horizon),
                "forecast": rows[PRICE_COLUMN].to_numpy(dtype="float64"),
            }
        )

    def to_bytes(self) -> bytes:
        return _join_blob({"kind": self.name, "horizon": self.horizon})

    @classmethod
    def from_bytes(cls, data: bytes) -> NaiveForecaster:
        meta, _ = _split_blob(data)
        if meta.get("kind") != cls.name:
            raise ValueError(f"not a naive forecaster: kind {meta.get('kind')!r}")
        return cls(int(meta["horizon"]))

    def __repr__(self) -> str:
        return f"NaiveForecaster(horizon={self.horizon})"


FORECASTERS: dict[str, type[LstmForecaster] | type[NaiveForecaster]] = {
    LstmForecaster.name: LstmForecaster,
    NaiveForecaster.name: NaiveForecaster,
}


def load_forecaster(kind: str, data: bytes) -> LstmForecaster | NaiveForecaster:
    """A forecaster from :meth:`to_bytes` output; ``kind`` is its ``name`` (``"lstm"`` or ``"naive"``)."""
    if kind not in FORECASTERS:
        raise ValueError(f"unknown forecaster kind {kind!r}; known: {sorted(FORECASTERS)}")
    return FORECASTERS[kind].from_bytes(data)
