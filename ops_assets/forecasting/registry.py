"""The model registry in the object store. Plain, no Dagster.

Layout (same keys locally and on S3)::

    forecasting/models/<version>/model.bin      the forecaster's bytes (``model.load_forecaster(kind, data)``)
    forecasting/models/<version>/card.json      kind, config, data window and hash, metrics, code version, created
    forecasting/models/champion.json            the current champion: version, since, reason
    forecasting/models/events/<utc>_<kind>.json one record per registration, promotion, rejection, rollback

Version ``0`` is the naive forecast (tomorrow = today): always available, never stored, the champion until a
trained model beats it. Trained versions are 1, 2, 3... A candidate becomes champion only when its walk-forward
MASE on the same window beats the champion's by the configured margin (:func:`promotion_decision`); every
decision is recorded with its numbers, and :meth:`ModelRegistry.rollback` restores the previous champion.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from resources.object_store import ObjectNotFoundError

PREFIX = "forecasting/models"
NAIVE_VERSION = 0


class BlobStore(Protocol):
    def get_bytes(self, key: str) -> bytes: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def list(self, prefix: str) -> Any: ...


@dataclass(frozen=True)
class ModelCard:
    """What a version is: enough to reproduce and to judge it."""

    version: int
    kind: str
    """``naive`` or ``lstm``."""
    config: dict[str, Any]
    data_start: str
    data_end: str
    """The training data's first and last session."""
    data_hash: str
    """sha256 of the training features, so two versions trained on the same data can be told apart."""
    metrics: dict[str, float]
    """Walk-forward metrics (MAE, RMSE, MAPE, directional accuracy, MASE) on ``evaluation_window``."""
    evaluation_window: str
    code_version: str
    created_at: str
    tickers: list[str] = field(default_factory=list)
    training_windows: dict[str, list[str]] = field(default_factory=dict)
    """Ticker -> [first, last] session the served model was fitted on (the drift check's reference window)."""


class RegistryError(RuntimeError):
    """The registry is inconsistent (a champion without its card or bytes): say so rather than guess."""


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def promotion_decision(candidate_mase: float, champion_mase: float, margin: float) -> Decision:
    """Promote only when the candidate's MASE is below the champion's by at least ``margin`` (relative)."""
    needed = champion_mase * (1 - margin)
    if candidate_mase < needed:
        return Decision(True, f"MASE {candidate_mase:.4f} beats the champion's {champion_mase:.4f} by more than "
                              f"{margin:.0%} (needed < {needed:.4f})")  # fmt: skip
    return Decision(False, f"MASE {candidate_mase:.4f} does not beat the champion's {champion_mase:.4f} by "
                           f"{margin:.0%} (needed < {needed:.4f})")  # fmt: skip


class ModelRegistry:
    """Versions, the champion pointer and the decision log, over an object store."""

    def __init__(self, store: BlobStore, prefix: str = PREFIX) -> None:
        self.store = store
        self.prefix = prefix

    # -- reading -------------------------------------------------------------------------------------------------

    def _json(self, key: str) -> Any | None:
        try:
            return json.loads(self.store.get_bytes(key))
        except ObjectNotFoundError:
            return None

    def versions(self) -> list[int]:
        """Trained versions, oldest first (the naive version 0 is implicit)."""
        found = set()
        for info in self.store.list(f"{self.prefix}/"):
            parts = info.key.removeprefix(f"{self.prefix}/").split("/")
            if len(parts) == 2 and parts[0].isdigit() and parts[1] == "card.json":
                found.add(int(parts[0]))
        return sorted(found)

    def card(self, version: int) -> ModelCard | None:
        data = self._json(f"{self.prefix}/{version}/card.json")
        return ModelCard(**data) if data else None

    def champion_card(self) -> ModelCard | None:
        """The champion's card; ``None`` for the naive forecast. A champion without a card is an error."""
        version = self.champion()
        if version == NAIVE_VERSION:
            return None
        card = self.card(version)
        if card is None:
            raise RegistryError(
                f"The champion is version {version} but {self.prefix}/{version}/card.json is missing: the registry "
                "is damaged. Roll back to the previous champion (ModelRegistry.rollback) or promote a good version."
            )
        return card

    def model_bytes(self, version: int) -> bytes:
        return self.store.get_bytes(f"{self.prefix}/{version}/model.bin")

    def champion(self) -> int:
        pointer = self._json(f"{self.prefix}/champion.json")
        return int(pointer["version"]) if pointer else NAIVE_VERSION

    def champion_record(self) -> dict[str, Any]:
        return self._json(f"{self.prefix}/champion.json") or {
            "version": NAIVE_VERSION,
            "since": None,
            "reason": "no trained model has been promoted: the naive forecast serves",
            "previous": [],
        }

    def events(self) -> list[dict[str, Any]]:
        keys = sorted(info.key for info in self.store.list(f"{self.prefix}/events/"))
        return [json.loads(self.store.get_bytes(key)) for key in keys]

    # -- writing -------------------------------------------------------------------------------------------------

    def register(self, model: bytes, card: ModelCard) -> ModelCard:
        """Store a new version (its number is assigned here: one above the highest) and record it."""
        version = (self.versions() or [NAIVE_VERSION])[-1] + 1
        card = ModelCard(**{**asdict(card), "version": version})
        # Model first, card last: a version is listed (by its card) only once its bytes are there.
        self.store.put_bytes(f"{self.prefix}/{version}/model.bin", model)
        self.store.put_bytes(f"{self.prefix}/{version}/card.json", json.dumps(asdict(card), indent=2).encode())
        self._event("registered", version, f"{card.kind} trained on {card.data_start}..{card.data_end}")
        return card

    def promote(self, version: int, reason: str) -> None:
        record = self.champion_record()
        previous = [record["version"], *record.get("previous", [])][:20]
        self._set_champion({"version": version, "since": _now(), "reason": reason, "previous": previous})
        self._event("promoted", version, reason)

    def reject(self, version: int, reason: str) -> None:
        self._event("rejected", version, reason)

    def rollback(self, reason: str) -> int:
        """Make the previous champion the champion again; returns it (the naive version when there is none)."""
        record = self.champion_record()
        previous = list(record.get("previous", []))
        target = previous.pop(0) if previous else NAIVE_VERSION
        self._set_champion({"version": target, "since": _now(), "reason": f"rollback: {reason}", "previous": previous})
        self._event("rolled_back", target, f"from version {record['version']}: {reason}")
        return target

    def _set_champion(self, record: dict[str, Any]) -> None:
        self.store.put_bytes(f"{self.prefix}/champion.json", json.dumps(record, indent=2).encode())

    def _event(self, kind: str, version: int, reason: str) -> None:
        at = _now()
        stamp = at.replace(":", "").replace("-", "").replace("+0000", "Z")
        event = {"at": at, "kind": kind, "version": version, "reason": reason}
        self.store.put_bytes(f"{self.prefix}/events/{stamp}_{kind}_{version}.json", json.dumps(event).encode())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")
