"""Headline sentiment: a FinBERT-style transformer classifier, or the VADER lexicon as a light fallback.

Both backends implement :class:`SentimentResource` and return one :class:`Sentiment` per input text, in input
order: a label (``positive`` / ``negative`` / ``neutral``), a score in ``[-1, 1]`` (``P(positive) -
P(negative)`` for a model, VADER's compound for the lexicon) and the confidence of the chosen label.

:class:`TransformersSentiment` never downloads at run time unless told to (``allow_download=True``): the
model comes from a local directory or the local Hugging Face cache (the Docker image bakes it in). A model
that is not there fails with :class:`SentimentModelUnavailableError`, whose message says what to do, instead
of a hub traceback. The model and its tokenizer are loaded once per process and shared by every resource
instance (and every thread) that asks for the same ``(model, quantize_int8, device)``.

Labels are read from the model's ``config.id2label`` (FinBERT's is ``{0: positive, 1: negative,
2: neutral}``), case-insensitively; the order is never assumed.

``torch`` and ``transformers`` are imported on first use only, so importing this module (and building the
Dagster definitions) stays cheap when the lexicon backend is used.
"""

from __future__ import annotations

import importlib.metadata
import logging
import math
import os
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import dagster as dg
from pydantic import Field, PrivateAttr

if TYPE_CHECKING:
    import torch
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

logger = logging.getLogger(__name__)

POSITIVE = "positive"
NEGATIVE = "negative"
NEUTRAL = "neutral"
LABELS: frozenset[str] = frozenset({POSITIVE, NEGATIVE, NEUTRAL})
SentimentLabel = Literal["positive", "negative", "neutral"]

DEFAULT_MODEL = "ProsusAI/finbert"
MODEL_ENV_VAR = "OPS_SENTIMENT_MODEL"
"""Environment variable the deployment uses to point the transformer backend at a local model directory."""

LEXICON_THRESHOLD = 0.05
"""VADER's usual cut-off: compound >= +0.05 is positive, <= -0.05 negative, anything between neutral."""


@dataclass(frozen=True)
class Sentiment:
    """One classified text.

    ``label``: ``positive``, ``negative`` or ``neutral``. ``score``: ``P(positive) - P(negative)`` in
    ``[-1, 1]`` (the lexicon's compound for :class:`LexiconSentiment`). ``confidence``: the probability of
    the chosen label, in ``[0, 1]``.
    """

    label: SentimentLabel
    score: float
    confidence: float

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"sentiment label must be one of {sorted(LABELS)}, got {self.label!r}")
        if not (math.isfinite(self.score) and -1.0 <= self.score <= 1.0):
            raise ValueError(f"sentiment score must be in [-1, 1], got {self.score!r}")
        if not (math.isfinite(self.confidence) and 0.0 <= self.confidence <= 1.0):
            raise ValueError(f"sentiment confidence must be in [0, 1], got {self.confidence!r}")


EMPTY_TEXT_SENTIMENT = Sentiment(label=NEUTRAL, score=0.0, confidence=1.0)
"""What an empty or whitespace-only text classifies as, by every backend, without running a model."""


class SentimentModelError(RuntimeError):
    """The sentiment model cannot be used (wrong labels, broken files). The message says why."""


class SentimentModelUnavailableError(SentimentModelError):
    """The sentiment model is not on this machine (and downloading is off). The message says what to do."""


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def _check_texts(texts: Sequence[str]) -> None:
    if isinstance(texts, str):
        raise TypeError("classify() takes a sequence of texts, not a single string: wrap it in a list")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"text {i} is {type(text).__name__}, not str")


# --------------------------------------------------------------------------------------------- interface


@dataclass(frozen=True)
class SentimentBackend:
    """Which backend a resource classifies with, as it reports itself (the assets record it in their metadata).

    ``backend``: ``lexicon`` or ``transformers``. ``model``: what does the classifying (``VADER (vaderSentiment
    3.3.2)``, ``ProsusAI/finbert``). ``path``: where the model's files were read from, once loaded. ``revision``:
    the hub commit of those files when transformers knows it (a baked directory does not record one).
    ``details``: how it runs (int8, device; the lexicon's threshold).
    """

    backend: str
    model: str
    path: str | None = None
    revision: str | None = None
    details: str = ""

    def summary(self) -> str:
        """One line: ``transformers: ProsusAI/finbert from /opt/models/sentiment (revision abc, int8, cpu)``."""
        where = f" from {self.path}" if self.path else ""
        extra = ", ".join(p for p in (f"revision {self.revision}" if self.revision else "", self.details) if p)
        return f"{self.backend}: {self.model}{where}" + (f" ({extra})" if extra else "")

    def as_metadata(self) -> dict[str, str]:
        """``sentiment_backend`` (the summary); for a model also ``model_path`` (once loaded) and
        ``model_revision``."""
        metadata = {"sentiment_backend": self.summary()}
        if self.path:
            metadata["model_path"] = self.path
        if self.backend == "transformers":
            metadata["model_revision"] = self.revision or "not recorded (a saved model directory keeps none)"
        return metadata


class SentimentResource(dg.ConfigurableResource):
    """Classifies texts (news headlines) as positive / negative / neutral with a score in [-1, 1]."""

    def backend(self) -> SentimentBackend:
        """The backend this resource classifies with (the loaded model's path and revision, once loaded).

        Subclasses say more; this default names the class and its ``model_name``.
        """
        return SentimentBackend(backend=type(self).__name__, model=self.model_name)

    def classify(self, texts: Sequence[str]) -> list[Sentiment]:
        """One :class:`Sentiment` per text, in input order. Empty input gives ``[]``; an empty or
        whitespace-only text gives ``neutral`` with score 0."""
        raise NotImplementedError

    @property
    def model_name(self) -> str:
        """What classified the texts (recorded next to each classification)."""
        raise NotImplementedError


# ------------------------------------------------------------------------------------------ transformers


def label_indices(id2label: Mapping[Any, str]) -> dict[str, int]:
    """Canonical label -> output index, from a model's ``config.id2label`` (keys may be ints or digit strings).

    Names match case-insensitively. ``positive`` and ``negative`` are required; ``neutral`` is optional (a
    two-class model works); any other label, or a label that appears twice, is a :class:`SentimentModelError`.
    """
    found: dict[str, int] = {}
    unknown: list[str] = []
    for raw_index, raw_name in id2label.items():
        index = int(raw_index)
        name = str(raw_name).strip().lower()
        if name not in LABELS:
            unknown.append(str(raw_name))
            continue
        if name in found:
            raise SentimentModelError(f"label {name!r} appears twice in the model's id2label {dict(id2label)!r}")
        found[name] = index
    missing = sorted({POSITIVE, NEGATIVE} - found.keys())
    if missing or unknown:
        raise SentimentModelError(
            f"the model's labels {dict(id2label)!r} are not sentiment labels: expected 'positive' and "
            f"'negative' (and optionally 'neutral', any case) in config.id2label"
            + (f"; missing {missing}" if missing else "")
            + (f"; unknown {unknown}" if unknown else "")
        )
    return found


@dataclass(eq=False)
class LoadedModel:
    """A model and its tokenizer, loaded once per process and shared (read-only) by every caller."""

    source: str
    tokenizer: Any
    model: Any
    labels: dict[str, int]
    """Canonical label -> output index."""
    index_labels: dict[int, str]
    """Output index -> canonical label."""
    max_positions: int | None
    quantized: bool
    device: str
    revision: str | None = None
    """The hub commit the files came from, when transformers recorded one (not for a saved directory)."""
    tokenizer_lock: threading.Lock = field(default_factory=threading.Lock)
    """Fast tokenizers are not safe to call from several threads at once (they reconfigure padding)."""


_CacheKey = tuple[str, bool, str]
_MODEL_CACHE: dict[_CacheKey, LoadedModel] = {}
_KEY_LOCKS: dict[_CacheKey, threading.Lock] = {}
_CACHE_LOCK = threading.Lock()


def _source_of(model: str) -> str:
    """The cache identity of ``model``: an existing directory's resolved path, else the hub name as given."""
    path = Path(model).expanduser()
    return str(path.resolve()) if path.is_dir() else model


def _looks_like_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~")) or (os.sep != "/" and os.sep in model) or model.count("/") > 1


def _unavailable(model: str, allow_download: bool, cause: BaseException) -> SentimentModelUnavailableError:
    logger.debug("loading sentiment model %r failed: %r", model, cause)
    if _looks_like_path(model):
        why = f"directory '{model}' does not exist"
    elif allow_download:
        why = "not in the local Hugging Face cache, and the download failed"
    else:
        why = "not in the local Hugging Face cache, and downloading is off"
    return SentimentModelUnavailableError(
        f"model '{model}' is not available locally ({why}): set {MODEL_ENV_VAR} to a local directory containing "
        f"it (config.json, weights and tokenizer files as written by save_pretrained), or use the lexicon backend "
        f"(LexiconSentiment)."
    )


def _quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    import torch

    with warnings.catch_warnings():
        # torch.ao.quantization is deprecated in favour of torchao, which this platform does not ship; the
        # eager dynamic quantization still works and is what the benchmark measures.
        warnings.filterwarnings(
            "ignore", message=r".*torch\.ao\.quantization is deprecated", category=DeprecationWarning
        )
        warnings.filterwarnings("ignore", message=r".*quantize_per_tensor.*deprecated", category=UserWarning)
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def _load_model(model: str, *, quantize_int8: bool, device: str, allow_download: bool) -> LoadedModel:
    """Load config, tokenizer and weights (no caching here; see :func:`get_model`)."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    if quantize_int8 and torch.device(device).type != "cpu":
        raise SentimentModelError(f"quantize_int8 needs device 'cpu' (dynamic int8 runs on CPU), got {device!r}")
    source = _source_of(model)
    local_dir = Path(source).is_dir()
    options: dict[str, Any] = {"local_files_only": not allow_download}
    try:
        config = AutoConfig.from_pretrained(source, **options)
    except (OSError, ValueError) as exc:
        if local_dir:
            raise SentimentModelError(f"model directory '{source}' has no usable config.json: {exc}") from exc
        raise _unavailable(model, allow_download, exc) from None
    labels = label_indices(config.id2label)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **options)
        network = AutoModelForSequenceClassification.from_pretrained(source, config=config, **options)
    except (OSError, ValueError) as exc:
        if local_dir:
            raise SentimentModelError(f"model '{source}' could not be loaded: {exc}") from exc
        raise _unavailable(model, allow_download, exc) from None
    network.eval()
    if quantize_int8:
        network = _quantize_int8(network)
    network.to(torch.device(device))
    max_positions = getattr(config, "max_position_embeddings", None)
    logger.info(
        "loaded sentiment model %s (labels %s, int8=%s, device=%s)", source, config.id2label, quantize_int8, device
    )
    return LoadedModel(
        source=source,
        tokenizer=tokenizer,
        model=network,
        labels=labels,
        index_labels={index: name for name, index in labels.items()},
        max_positions=max_positions if isinstance(max_positions, int) else None,
        quantized=quantize_int8,
        device=device,
        revision=getattr(config, "_commit_hash", None) or None,
    )


def get_model(
    model: str, *, quantize_int8: bool = False, device: str = "cpu", allow_download: bool = False
) -> LoadedModel:
    """The process-wide shared :class:`LoadedModel` for ``(model, quantize_int8, device)``, loading it on first use.

    Thread-safe: concurrent first callers wait for a single load. A failed load is not cached (the next call
    tries again, e.g. after the model was copied in place).
    """
    key: _CacheKey = (_source_of(model), quantize_int8, device)
    with _CACHE_LOCK:
        loaded = _MODEL_CACHE.get(key)
        if loaded is not None:
            return loaded
        key_lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with key_lock:
        with _CACHE_LOCK:
            loaded = _MODEL_CACHE.get(key)
        if loaded is None:
            loaded = _load_model(model, quantize_int8=quantize_int8, device=device, allow_download=allow_download)
            with _CACHE_LOCK:
                _MODEL_CACHE[key] = loaded
        return loaded


def cached_model_keys() -> list[_CacheKey]:
    """``(model, quantize_int8, device)`` of every model loaded in this process."""
    with _CACHE_LOCK:
        return list(_MODEL_CACHE)


def clear_model_cache() -> None:
    """Forget every loaded model (tests; or to free memory). Resource instances holding one keep theirs."""
    with _CACHE_LOCK:
        _MODEL_CACHE.clear()
        _KEY_LOCKS.clear()


def _classify_batch(loaded: LoadedModel, batch: list[str], max_length: int) -> list[Sentiment]:
    import torch

    with loaded.tokenizer_lock:
        encoded = loaded.tokenizer(batch, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    inputs = {name: tensor.to(loaded.device) for name, tensor in encoded.items()}
    logits = loaded.model(**inputs).logits
    probabilities = torch.softmax(logits.float(), dim=-1).cpu().tolist()
    positive, negative = loaded.labels[POSITIVE], loaded.labels[NEGATIVE]
    results = []
    for row in probabilities:
        chosen = max(range(len(row)), key=row.__getitem__)
        results.append(
            Sentiment(
                label=loaded.index_labels[chosen],  # type: ignore[arg-type]
                score=_clamp(row[positive] - row[negative], -1.0, 1.0),
                confidence=_clamp(row[chosen], 0.0, 1.0),
            )
        )
    return results


class TransformersSentiment(SentimentResource):
    """Sentiment from a Hugging Face sequence-classification model (FinBERT by default), run locally with torch.

    The model is read from a local directory or the local Hugging Face cache: this platform never downloads at
    run time (the Docker image bakes the model in); a missing model fails with a message saying how to fix it.
    Labels come from the model's ``config.id2label``. Texts are classified in batches of ``batch_size`` (sorted
    by length so batches pad little), truncated to ``max_length`` tokens; the model is loaded once per process
    and shared by every instance. ``quantize_int8`` applies torch dynamic int8 quantization to the Linear
    layers (several times faster on CPU, with slightly different probabilities).
    """

    model: str = Field(
        default=DEFAULT_MODEL,
        description=f"Hugging Face model name (looked up in the local cache) or a local model directory; "
        f"deployments set it from {MODEL_ENV_VAR}.",
    )
    allow_download: bool = Field(
        default=False, description="Let transformers download a model missing locally (off in production)."
    )
    batch_size: int = Field(default=32, description="Texts per forward pass.")
    max_length: int = Field(default=64, description="Tokens per text; longer texts are truncated.")
    quantize_int8: bool = Field(default=False, description="Dynamic int8 quantization of the Linear layers (CPU).")
    device: str = Field(default="cpu", description="torch device the model runs on.")

    _loaded: LoadedModel | None = PrivateAttr(default=None)

    @property
    def model_name(self) -> str:
        return self.model + ("@int8" if self.quantize_int8 else "")

    def backend(self) -> SentimentBackend:
        how = ", ".join(p for p in ("int8" if self.quantize_int8 else "", self.device) if p)
        loaded = self._loaded
        if loaded is None:
            return SentimentBackend(
                backend="transformers", model=self.model, details=f"{how}; not loaded: nothing to classify yet"
            )
        return SentimentBackend(
            backend="transformers", model=self.model, path=loaded.source, revision=loaded.revision, details=how
        )

    def loaded(self) -> LoadedModel:
        """The shared loaded model (loading it now if this process has not yet)."""
        if self._loaded is None:
            self._loaded = get_model(
                self.model, quantize_int8=self.quantize_int8, device=self.device, allow_download=self.allow_download
            )
        return self._loaded

    def classify(self, texts: Sequence[str]) -> list[Sentiment]:
        _check_texts(texts)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.max_length < 2:
            raise ValueError(f"max_length must be at least 2 (room for the special tokens), got {self.max_length}")
        results: list[Sentiment | None] = [EMPTY_TEXT_SENTIMENT if not t.strip() else None for t in texts]
        todo = sorted((i for i, r in enumerate(results) if r is None), key=lambda i: len(texts[i]), reverse=True)
        if not todo:
            return [r for r in results if r is not None]

        import torch

        loaded = self.loaded()
        max_length = min(self.max_length, loaded.max_positions or self.max_length)
        with torch.inference_mode():
            for start in range(0, len(todo), self.batch_size):
                indices = todo[start : start + self.batch_size]
                batch = [" ".join(texts[i].split()) for i in indices]
                for i, sentiment in zip(indices, _classify_batch(loaded, batch, max_length), strict=True):
                    results[i] = sentiment
        return [r for r in results if r is not None]


# ---------------------------------------------------------------------------------------------- lexicon


_ANALYZER: SentimentIntensityAnalyzer | None = None
_ANALYZER_LOCK = threading.Lock()


def _analyzer() -> SentimentIntensityAnalyzer:
    global _ANALYZER
    with _ANALYZER_LOCK:
        if _ANALYZER is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            _ANALYZER = SentimentIntensityAnalyzer()
        return _ANALYZER


def _vader_version() -> str:
    try:
        return importlib.metadata.version("vaderSentiment")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def lexicon_sentiment(compound: float, threshold: float = LEXICON_THRESHOLD) -> Sentiment:
    """A :class:`Sentiment` from VADER's compound score (already in [-1, 1]; used as the score as is).

    Label by the usual thresholds (``>= +threshold`` positive, ``<= -threshold`` negative, else neutral). A
    lexicon has no probabilities: confidence is ``|compound|`` for a positive or negative label (how strong the
    polarity is) and ``1 - |compound|`` for neutral.
    """
    score = _clamp(float(compound), -1.0, 1.0)
    if score >= threshold:
        return Sentiment(label=POSITIVE, score=score, confidence=abs(score))
    if score <= -threshold:
        return Sentiment(label=NEGATIVE, score=score, confidence=abs(score))
    return Sentiment(label=NEUTRAL, score=score, confidence=1.0 - abs(score))


class LexiconSentiment(SentimentResource):
    """Sentiment from the VADER lexicon (vaderSentiment): no model, no download, microseconds per headline.

    A general-purpose social-media lexicon, not tuned to finance: a fallback when the transformer model is not
    available, and a baseline. Score = VADER's compound in [-1, 1]; label by its usual ±``threshold`` cut-off.
    """

    threshold: float = Field(default=LEXICON_THRESHOLD, description="|compound| at which a text stops being neutral.")

    @property
    def model_name(self) -> str:
        return "vader"

    def backend(self) -> SentimentBackend:
        return SentimentBackend(
            backend="lexicon",
            model=f"VADER (vaderSentiment {_vader_version()})",
            details=f"threshold ±{self.threshold}",
        )

    def classify(self, texts: Sequence[str]) -> list[Sentiment]:
        _check_texts(texts)
        analyzer = _analyzer() if any(t.strip() for t in texts) else None
        return [
            lexicon_sentiment(analyzer.polarity_scores(t)["compound"], self.threshold)
            if analyzer is not None and t.strip()
            else EMPTY_TEXT_SENTIMENT
            for t in texts
        ]
