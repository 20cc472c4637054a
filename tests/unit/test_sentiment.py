"""Sentiment resources: a tiny FinBERT-shaped model through the real loading code, and the VADER lexicon."""

from __future__ import annotations

import importlib.metadata
import threading
from pathlib import Path

import pytest

from resources import sentiment as sentiment_module
from resources.sentiment import (
    EMPTY_TEXT_SENTIMENT,
    LexiconSentiment,
    Sentiment,
    SentimentBackend,
    SentimentModelError,
    SentimentModelUnavailableError,
    SentimentResource,
    TransformersSentiment,
    cached_model_keys,
    clear_model_cache,
    label_indices,
)
from tests.sentiment_models import FINBERT_ID2LABEL, build_tiny_finbert

VADER_VERSION = importlib.metadata.version("vaderSentiment")

HEADLINES = [
    "Shares surge after strong earnings",
    "Bank fraud crisis",
    "Company holds annual meeting on Tuesday",
    "Stocks fall",
    "Profit",
    "The market rally as analysts upgrade bank stock after record quarterly results, guidance raised",
    "Revenue misses forecast; layoffs and a dividend cut",
    "CEO announces 10 % growth",
    "Unknown zyxwv words here",
]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sentiment-models")
    return {
        "random": build_tiny_finbert(root / "random"),
        # FinBERT order, always output index 1 ("negative").
        "always_1": build_tiny_finbert(root / "always_1", force_label=1),
        # Same output index 1, but here the config names it "Positive" (order swapped, mixed case).
        "swapped_always_1": build_tiny_finbert(
            root / "swapped_always_1", id2label={0: "NEGATIVE", 1: "Positive", 2: "Neutral"}, force_label=1
        ),
        "not_sentiment": build_tiny_finbert(root / "not_sentiment", id2label={0: "LABEL_0", 1: "LABEL_1"}),
    }


def test_tiny_model_tokenizer_knows_its_vocab(models: dict[str, Path]) -> None:
    tokenizer = TransformersSentiment(model=str(models["random"])).loaded().tokenizer
    assert tokenizer.tokenize("Bank earnings, zyxwv") == ["bank", "earnings", ",", "[UNK]"]


def test_labels_come_from_config_id2label(models: dict[str, Path]) -> None:
    results = TransformersSentiment(model=str(models["always_1"])).classify(HEADLINES[:3])
    assert [r.label for r in results] == ["negative"] * 3
    for r in results:
        assert r.score < -0.99
        assert r.confidence > 0.99


def test_swapped_label_order_and_case(models: dict[str, Path]) -> None:
    resource = TransformersSentiment(model=str(models["swapped_always_1"]))
    assert resource.loaded().labels == {"negative": 0, "positive": 1, "neutral": 2}
    results = resource.classify(HEADLINES[:3])
    assert [r.label for r in results] == ["positive"] * 3
    assert all(r.score > 0.99 for r in results)


def test_scores_and_confidences_are_consistent(models: dict[str, Path]) -> None:
    results = TransformersSentiment(model=str(models["random"])).classify(HEADLINES)
    assert len(results) == len(HEADLINES)
    for r in results:
        assert r.label in {"positive", "negative", "neutral"}
        assert -1.0 <= r.score <= 1.0
        assert 1 / 3 <= r.confidence <= 1.0  # the chosen label is the most probable of three
        # score = P(pos) - P(neg); the chosen label is the most probable one.
        if r.label == "positive":
            assert 0 <= r.score <= r.confidence
        elif r.label == "negative":
            assert -r.confidence <= r.score <= 0
        else:
            assert abs(r.score) <= 1 - r.confidence
    assert len({round(r.score, 6) for r in results}) > 3, "the random tiny model should tell texts apart"


def test_batching_matches_one_at_a_time(models: dict[str, Path]) -> None:
    batched = TransformersSentiment(model=str(models["random"]), batch_size=4).classify(HEADLINES)
    single_resource = TransformersSentiment(model=str(models["random"]), batch_size=1)
    single = [single_resource.classify([text])[0] for text in HEADLINES]
    assert [r.label for r in batched] == [r.label for r in single]
    for b, s in zip(batched, single, strict=True):
        assert b.score == pytest.approx(s.score, abs=1e-5)
        assert b.confidence == pytest.approx(s.confidence, abs=1e-5)


def test_empty_and_whitespace(models: dict[str, Path]) -> None:
    resource = TransformersSentiment(model=str(models["always_1"]))
    assert resource.classify([]) == []
    results = resource.classify(["", "Stocks fall", "  \n\t "])
    assert results[0] == EMPTY_TEXT_SENTIMENT
    assert results[2] == EMPTY_TEXT_SENTIMENT
    assert results[1].label == "negative"
    with pytest.raises(TypeError, match="single string"):
        resource.classify("Stocks fall")


def test_long_text_is_truncated(models: dict[str, Path]) -> None:
    resource = TransformersSentiment(model=str(models["random"]), max_length=16)
    long_text = " ".join(["earnings"] * 500)  # far past the tiny model's 128 positions
    [result] = resource.classify([long_text])
    assert -1.0 <= result.score <= 1.0


def test_quantized_model_loads_and_classifies(models: dict[str, Path]) -> None:
    fp32 = TransformersSentiment(model=str(models["random"]))
    int8 = TransformersSentiment(model=str(models["random"]), quantize_int8=True)
    linears = [m for m in int8.loaded().model.modules() if type(m).__name__ == "Linear"]
    assert linears
    assert all(type(m).__module__.startswith("torch.ao.nn.quantized.dynamic") for m in linears)
    assert fp32.loaded() is not int8.loaded()
    assert int8.model_name.endswith("@int8")
    fp32_results, int8_results = fp32.classify(HEADLINES), int8.classify(HEADLINES)
    for a, b in zip(fp32_results, int8_results, strict=True):
        assert -1.0 <= b.score <= 1.0
        assert b.score == pytest.approx(a.score, abs=0.15)
    forced = TransformersSentiment(model=str(models["always_1"]), quantize_int8=True).classify(HEADLINES[:2])
    assert [r.label for r in forced] == ["negative", "negative"]


def test_model_loaded_once_per_process(models: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    clear_model_cache()
    loads: list[str] = []
    real_load = sentiment_module._load_model

    def counting_load(model: str, **kwargs: object) -> object:
        loads.append(model)
        return real_load(model, **kwargs)

    monkeypatch.setattr(sentiment_module, "_load_model", counting_load)
    path = str(models["random"])
    resources = [TransformersSentiment(model=path, batch_size=b) for b in (1, 2, 4, 8)]
    barrier = threading.Barrier(len(resources))
    outputs: list[list[Sentiment]] = [[] for _ in resources]

    def work(i: int) -> None:
        barrier.wait()
        outputs[i] = resources[i].classify(HEADLINES)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(resources))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert loads == [path]
    assert cached_model_keys() == [(str(models["random"].resolve()), False, "cpu")]
    assert all(r.loaded() is resources[0].loaded() for r in resources)
    assert TransformersSentiment(model=path).loaded() is resources[0].loaded()
    assert [r.label for r in outputs[0]] == [r.label for r in outputs[-1]]


def test_missing_model_gives_actionable_error() -> None:
    with pytest.raises(SentimentModelUnavailableError) as raised:
        TransformersSentiment(model="ops-tests/no-such-finbert").classify(["Stocks fall"])
    message = str(raised.value)
    assert "model 'ops-tests/no-such-finbert' is not available locally" in message
    assert "OPS_SENTIMENT_MODEL" in message
    assert "lexicon" in message
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_missing_local_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "finbert"
    with pytest.raises(SentimentModelUnavailableError, match="does not exist"):
        TransformersSentiment(model=str(missing)).classify(["Stocks fall"])


def test_missing_model_is_not_cached(tmp_path: Path) -> None:
    target = tmp_path / "finbert"
    resource = TransformersSentiment(model=str(target))
    with pytest.raises(SentimentModelUnavailableError):
        resource.classify(["Stocks fall"])
    build_tiny_finbert(target, force_label=1)  # the model arrives: the next call loads it
    assert resource.classify(["Stocks fall"])[0].label == "negative"


def test_model_without_sentiment_labels(models: dict[str, Path]) -> None:
    with pytest.raises(SentimentModelError, match="expected 'positive' and 'negative'"):
        TransformersSentiment(model=str(models["not_sentiment"])).classify(["Stocks fall"])


def test_label_indices() -> None:
    assert label_indices(FINBERT_ID2LABEL) == {"positive": 0, "negative": 1, "neutral": 2}
    assert label_indices({"1": "POSITIVE", "0": "Negative"}) == {"positive": 1, "negative": 0}
    with pytest.raises(SentimentModelError, match="twice"):
        label_indices({0: "positive", 1: "Positive", 2: "negative"})
    with pytest.raises(SentimentModelError, match="unknown"):
        label_indices({0: "positive", 1: "negative", 2: "mixed"})


def test_sentiment_validates() -> None:
    with pytest.raises(ValueError, match="label"):
        Sentiment(label="bullish", score=0.0, confidence=1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="score"):
        Sentiment(label="positive", score=1.5, confidence=1.0)
    with pytest.raises(ValueError, match="confidence"):
        Sentiment(label="positive", score=0.5, confidence=float("nan"))


def test_lexicon_backend() -> None:
    lexicon = LexiconSentiment()
    assert lexicon.model_name == "vader"
    positive, negative, neutral, empty = lexicon.classify(
        [
            "Strong earnings: shares rally on great results",
            "Bank collapses amid scandal, investors fear crisis",
            "Company to hold annual shareholder meeting on Tuesday",
            "   ",
        ]
    )
    assert positive.label == "positive"
    assert positive.score > 0.5
    assert negative.label == "negative"
    assert negative.score < -0.5
    assert neutral == Sentiment(label="neutral", score=0.0, confidence=1.0)
    assert empty == EMPTY_TEXT_SENTIMENT
    assert lexicon.classify([]) == []


@pytest.mark.parametrize("backend", ["transformers", "lexicon"])
def test_works_as_a_dagster_resource(models: dict[str, Path], backend: str) -> None:
    import dagster as dg

    @dg.asset
    def headline_sentiment(sentiment: SentimentResource) -> list[str]:
        labels = [s.label for s in sentiment.classify(["Strong earnings: shares rally on great results", ""])]
        # What the asset records: the backend of the resource it was given, after it classified.
        return [*labels, sentiment.model_name, sentiment.backend().summary()]

    resource = TransformersSentiment(model=str(models["always_1"])) if backend == "transformers" else LexiconSentiment()
    with dg.instance_for_test() as instance:
        result = dg.materialize([headline_sentiment], resources={"sentiment": resource}, instance=instance)
        assert result.success
        labels = result.output_for_node("headline_sentiment")
    expected_first = "negative" if backend == "transformers" else "positive"
    assert labels[:3] == [expected_first, "neutral", resource.model_name]
    if backend == "transformers":
        assert labels[3] == f"transformers: {models['always_1']} from {models['always_1'].resolve()} (cpu)"
    else:
        assert labels[3] == f"lexicon: VADER (vaderSentiment {VADER_VERSION}) (threshold ±0.05)"


def test_backend_reports_what_is_loaded(models: dict[str, Path]) -> None:
    resource = TransformersSentiment(model=str(models["random"]), quantize_int8=True)
    before = resource.backend()
    assert before.path is None
    assert before.summary() == f"transformers: {models['random']} (int8, cpu; not loaded: nothing to classify yet)"
    resource.classify(["Shares rise"])
    after = resource.backend()
    assert after.path == str(models["random"].resolve())
    # A saved directory records no hub commit: the metadata says so rather than inventing one.
    assert after.revision is None
    assert after.as_metadata() == {
        "sentiment_backend": f"transformers: {models['random']} from {models['random'].resolve()} (int8, cpu)",
        "model_path": str(models["random"].resolve()),
        "model_revision": "not recorded (a saved model directory keeps none)",
    }


def test_backend_summary_with_a_revision() -> None:
    backend = SentimentBackend(
        backend="transformers",
        model="ProsusAI/finbert",
        path="/opt/models/sentiment",
        revision="4556d13",
        details="cpu",
    )
    assert backend.summary() == "transformers: ProsusAI/finbert from /opt/models/sentiment (revision 4556d13, cpu)"
    assert backend.as_metadata()["model_revision"] == "4556d13"
    assert LexiconSentiment().backend().as_metadata() == {
        "sentiment_backend": f"lexicon: VADER (vaderSentiment {VADER_VERSION}) (threshold ±0.05)"
    }
