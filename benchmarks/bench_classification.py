"""Headline classification rate on this CPU for a BERT-base-sized (FinBERT-shaped) model.

Builds, in-process, a ``BertForSequenceClassification`` with FinBERT's configuration (``BertConfig`` defaults:
hidden 768, 12 layers, 12 heads, 30,522-token vocabulary; labels ``{0: positive, 1: negative, 2: neutral}``)
with random weights, and a word-level tokenizer over a generated vocabulary. Nothing is downloaded: random
weights cost exactly what FinBERT's cost. The model is saved to a temporary directory and every mode goes
through :class:`resources.sentiment.TransformersSentiment`, so the real loading and batching code is what is
measured, on ~32-token headlines:

- (a) one at a time, fp32 (``batch_size=1``, one ``classify`` call per headline: a naive worker loop);
- (b) batched fp32 (``batch_size=32``);
- (c) batched, dynamic int8 quantization of the Linear layers (``quantize_int8=True``).

It prints measured headlines/second and the ratio to (a) (goal: (c) >= 4x (a)), plus load times and how
often (c) agrees with (b) on the label (random weights: a sanity figure, not an accuracy).

    .venv/bin/python benchmarks/bench_classification.py                  # 64 single, 256 batched: < 3 min
    .venv/bin/python benchmarks/bench_classification.py --single 32 --batched 128 --threads 2
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resources.sentiment import TransformersSentiment, clear_model_cache

FINBERT_ID2LABEL = {0: "positive", 1: "negative", 2: "neutral"}
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def make_vocab(size: int) -> list[str]:
    """Special tokens plus pronounceable made-up lowercase words ("bamoki"), all distinct."""
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    words: list[str] = []
    seen: set[str] = set()
    rng = random.Random(7)
    while len(words) < size - len(SPECIAL_TOKENS):
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return SPECIAL_TOKENS + words


def make_headlines(vocab: list[str], count: int, tokens: int, seed: int = 11) -> list[str]:
    """Headlines of ``tokens - 2`` +/- 3 in-vocabulary words (so ~``tokens`` tokens with [CLS] and [SEP])."""
    rng = random.Random(seed)
    words = vocab[len(SPECIAL_TOKENS) :]
    return [
        " ".join(rng.choice(words) for _ in range(tokens - 2 + rng.randint(-3, 3))).capitalize() for _ in range(count)
    ]


def build_model(path: Path) -> tuple[list[str], BertTokenizer]:
    config = BertConfig(  # BertConfig defaults are BERT-base, FinBERT's shape
        num_labels=3, id2label=FINBERT_ID2LABEL, label2id={v: k for k, v in FINBERT_ID2LABEL.items()}
    )
    vocab = make_vocab(config.vocab_size)
    torch.manual_seed(0)
    model = BertForSequenceClassification(config).eval()
    parameters = sum(p.numel() for p in model.parameters())
    model.save_pretrained(path)
    tokenizer = BertTokenizer(vocab={token: i for i, token in enumerate(vocab)})
    tokenizer.save_pretrained(path)
    print(
        f"model: BertForSequenceClassification hidden={config.hidden_size} layers={config.num_hidden_layers} "
        f"heads={config.num_attention_heads} vocab={config.vocab_size} params={parameters / 1e6:.1f}M"
    )
    return vocab, tokenizer


def measure(resource: TransformersSentiment, headlines: list[str], one_at_a_time: bool) -> tuple[float, list[str]]:
    """Headlines per second (after a warm-up) and the labels."""
    resource.classify(headlines[:2])  # warm-up: first-call allocations
    start = time.perf_counter()
    results = [resource.classify([h])[0] for h in headlines] if one_at_a_time else resource.classify(headlines)
    elapsed = time.perf_counter() - start
    return len(headlines) / elapsed, [r.label for r in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--single", type=int, default=64, help="headlines for (a), one at a time")
    parser.add_argument("--batched", type=int, default=256, help="headlines for (b) and (c)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=32, help="tokens per headline, [CLS] and [SEP] included")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"quantized engine {torch.backends.quantized.engine}"
    )

    with tempfile.TemporaryDirectory(prefix="bench-finbert-") as tmp:
        path = Path(tmp)
        start = time.perf_counter()
        vocab, tokenizer = build_model(path)
        print(f"built and saved in {time.perf_counter() - start:.1f} s")
        headlines = make_headlines(vocab, max(args.single, args.batched), args.tokens)
        lengths = [len(ids) for ids in tokenizer(headlines)["input_ids"]]
        print(
            f"headlines: {len(headlines)}, tokens min/mean/max "
            f"{min(lengths)}/{sum(lengths) / len(lengths):.1f}/{max(lengths)}"
        )

        modes = [
            ("(a) one at a time, fp32", False, 1, args.single, True),
            (f"(b) batched {args.batch_size}, fp32", False, args.batch_size, args.batched, False),
            (f"(c) batched {args.batch_size}, int8 dynamic", True, args.batch_size, args.batched, False),
        ]
        rates: list[float] = []
        labels: dict[bool, list[str]] = {}
        for name, int8, batch_size, count, single in modes:
            resource = TransformersSentiment(model=str(path), batch_size=batch_size, quantize_int8=int8)
            start = time.perf_counter()
            resource.loaded()
            load_s = time.perf_counter() - start
            rate, mode_labels = measure(resource, headlines[:count], single)
            if not single:
                labels[int8] = mode_labels
            rates.append(rate)
            print(
                f"{name:<32} {rate:8.1f} headlines/s  x{rate / rates[0]:5.2f} vs (a)  "
                f"({count} headlines; load{' + quantize' if int8 else ''} {load_s:.1f} s)"
            )
        clear_model_cache()

    agree = sum(a == b for a, b in zip(labels[False], labels[True], strict=True)) / len(labels[False])
    print(f"int8 vs fp32 label agreement on the batched headlines: {agree:.1%} (random weights)")
    verdict = "met" if rates[2] >= 4 * rates[0] else "NOT met"
    print(f"goal batched int8 >= 4x one-at-a-time fp32: {verdict} (x{rates[2] / rates[0]:.2f})")


if __name__ == "__main__":
    main()
