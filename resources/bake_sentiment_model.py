"""Bake a sentiment model into a directory at image build time, so that runs never download one.

    python -m resources.bake_sentiment_model ProsusAI/finbert /opt/models/sentiment --revision <commit>

Downloads ``model`` (a Hugging Face hub name, or copies a local directory), checks that it is a sentiment
classifier (``config.id2label`` names positive and negative), writes it with ``save_pretrained`` and proves
the written copy loads offline and classifies a headline through the same code the platform runs
(:mod:`resources.sentiment`). The copy is written beside the destination and renamed into place only when
all of that worked: a failed bake leaves no half-written model behind. Point ``OPS_SENTIMENT_MODEL`` at the
destination (the Dockerfile does).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from resources.sentiment import SentimentModelError, TransformersSentiment, clear_model_cache, label_indices

PROBE_HEADLINE = "Shares rise after the company raises its full-year guidance"


def bake_model(model: str, destination: str | Path, *, revision: str | None = None) -> Path:
    """Write ``model`` (hub name or directory, at ``revision``) to ``destination``; return the destination."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    options = {"revision": revision} if revision else {}
    config = AutoConfig.from_pretrained(model, **options)
    try:
        label_indices(config.id2label)
    except SentimentModelError as exc:
        raise SentimentModelError(f"'{model}' is not a sentiment model this platform can use: {exc}") from None
    tokenizer = AutoTokenizer.from_pretrained(model, **options)
    network = AutoModelForSequenceClassification.from_pretrained(model, config=config, **options)

    target = Path(destination).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        tokenizer.save_pretrained(staging)
        network.save_pretrained(staging)
        # Load the written copy offline, exactly as a run would, and classify one headline with it.
        [probe] = TransformersSentiment(model=str(staging), quantize_int8=False).classify([PROBE_HEADLINE])
        clear_model_cache()
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    print(
        f"Baked {model}{f' @ {revision}' if revision else ''} into {target} (probe: {probe.label} {probe.score:+.2f})"
    )
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="Hugging Face model name or a local model directory")
    parser.add_argument("destination", help="directory to write (replaced if it exists)")
    parser.add_argument("--revision", default=None, help="hub revision (a commit hash pins the exact weights)")
    args = parser.parse_args(argv)
    try:
        bake_model(args.model, args.destination, revision=args.revision)
    except (OSError, ValueError, SentimentModelError) as exc:
        print(f"Could not bake {args.model}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
