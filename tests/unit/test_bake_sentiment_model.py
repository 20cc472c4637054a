"""Baking a sentiment model for the image: the written copy loads offline and classifies like its source."""

from __future__ import annotations

from pathlib import Path

import pytest

from resources.bake_sentiment_model import bake_model, main
from resources.sentiment import SentimentModelError, TransformersSentiment, clear_model_cache
from tests.sentiment_models import build_tiny_finbert

HEADLINES = ["Shares surge after strong earnings", "Bank fraud crisis", "Company holds annual meeting"]


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    clear_model_cache()


def test_baked_copy_classifies_exactly_like_its_source(tmp_path: Path) -> None:
    source = build_tiny_finbert(tmp_path / "source")
    baked = bake_model(str(source), tmp_path / "image" / "models" / "sentiment")

    assert baked == (tmp_path / "image" / "models" / "sentiment").resolve()
    assert (baked / "config.json").is_file()
    assert (baked / "tokenizer_config.json").is_file()
    expected = TransformersSentiment(model=str(source), quantize_int8=False).classify(HEADLINES)
    clear_model_cache()
    assert TransformersSentiment(model=str(baked), quantize_int8=False).classify(HEADLINES) == expected
    # Nothing but the destination is left in its parent (the staging directory was renamed into place).
    assert [p.name for p in baked.parent.iterdir()] == ["sentiment"]


def test_rebaking_replaces_the_previous_copy(tmp_path: Path) -> None:
    destination = tmp_path / "sentiment"
    bake_model(str(build_tiny_finbert(tmp_path / "first", seed=1)), destination)
    first = TransformersSentiment(model=str(destination), quantize_int8=False).classify(HEADLINES)
    clear_model_cache()
    bake_model(str(build_tiny_finbert(tmp_path / "second", seed=2)), destination)
    second = TransformersSentiment(model=str(destination), quantize_int8=False).classify(HEADLINES)
    assert second != first


def test_a_model_without_sentiment_labels_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    source = build_tiny_finbert(tmp_path / "source", id2label={0: "LABEL_0", 1: "LABEL_1"})
    with pytest.raises(SentimentModelError, match="is not a sentiment model this platform can use"):
        bake_model(str(source), tmp_path / "out" / "sentiment")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_command_line_says_what_went_wrong(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "no-such-model"), str(tmp_path / "dest")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"Could not bake {tmp_path / 'no-such-model'}:")
    assert not (tmp_path / "dest").exists()

    source = build_tiny_finbert(tmp_path / "source")
    assert main([str(source), str(tmp_path / "dest")]) == 0
    assert "Baked" in capsys.readouterr().out
