"""Tiny FinBERT-shaped models for tests: built in-process from a BertConfig and a hand-written vocab, never downloaded.

``build_tiny_finbert(path)`` writes a ``BertForSequenceClassification`` (hidden 32, 2 layers, 2 heads) and its
``BertTokenizer`` with ``save_pretrained``, so tests exercise the real loading code. Weights are seeded (same
seed, same model, same outputs). ``force_label`` makes the classifier pick one output index for every input, so
a test can check that labels are read from ``config.id2label`` rather than assumed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

FINBERT_ID2LABEL: dict[int, str] = {0: "positive", 1: "negative", 2: "neutral"}
"""ProsusAI/finbert's label order."""

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
FINANCE_WORDS = [
    "the", "a", "of", "to", "in", "on", "as", "after", "for", "and", "its", "with", "by", "at",
    "company", "shares", "stock", "stocks", "market", "markets", "bank", "earnings", "profit", "profits", "loss",
    "losses", "revenue", "sales", "guidance", "dividend", "quarter", "quarterly", "annual", "results", "report",
    "reports", "investors", "analysts", "outlook", "forecast", "rise", "rises", "rally", "surge", "soar",
    "beat", "beats", "record", "high", "strong", "growth", "upgrade", "gain", "gains", "fall", "falls", "drop",
    "plunge", "slump", "miss", "misses", "weak", "cut", "cuts", "downgrade", "lawsuit", "fraud", "crisis",
    "bankruptcy", "layoffs", "meeting", "holds", "schedules", "announces", "ceo", "board", "tuesday", "march",
    ",", ".", ":", "-", "%", "$", "1", "2", "3", "10",
]  # fmt: skip
VOCAB: list[str] = SPECIAL_TOKENS + FINANCE_WORDS


def build_tiny_finbert(
    path: Path | str,
    *,
    id2label: Mapping[int, str] | None = None,
    force_label: int | None = None,
    seed: int = 1234,
    initializer_range: float = 0.5,
) -> Path:
    """Write a tiny sequence classifier and its tokenizer to ``path`` and return it.

    ``id2label``: the label names, in output order (FinBERT's by default). ``force_label``: an output index the
    classifier always prefers by a wide margin (weights zeroed, bias +10 there), whatever the text.
    ``initializer_range``: the weights' spread (large by default so different texts get visibly different
    probabilities). The global torch RNG is left as it was.
    """
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    labels = dict(id2label if id2label is not None else FINBERT_ID2LABEL)
    # transformers 5's BertTokenizer takes the vocab as a dict (a ``vocab_file=`` keyword is silently ignored).
    tokenizer = BertTokenizer(vocab={token: index for index, token in enumerate(VOCAB)}, do_lower_case=True)
    (path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")  # readable; tokenizer.json rules

    config = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        initializer_range=initializer_range,
        num_labels=len(labels),
        id2label=labels,
        label2id={name: index for index, name in labels.items()},
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertForSequenceClassification(config)
    model.eval()
    if force_label is not None:
        if not 0 <= force_label < len(labels):
            raise ValueError(f"force_label {force_label} is not an output index of {labels}")
        with torch.no_grad():
            model.classifier.weight.zero_()
            model.classifier.bias.zero_()
            model.classifier.bias[force_label] = 10.0
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
