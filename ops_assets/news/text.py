"""Text hygiene for everything the news ingest stores (plain functions, no Dagster).

Feeds are written by strangers. Before any text reaches the database it goes through :func:`clean_text`,
the one place that decides which characters may be stored:

- **NUL and the other C0 controls** (U+0000-U+001F except tab, newline and carriage return), **DEL** and the
  **C1 controls** (U+007F-U+009F) are removed. PostgreSQL refuses NUL in ``text`` and ``\\u0000`` in ``jsonb``
  outright (one such character fails the whole insert); the others are invisible junk.
- **Lone surrogates** (U+D800-U+DFFF) are removed: they cannot be encoded as UTF-8 at all.
- **Bidi overrides and isolates** (U+202A-U+202E, U+2066-U+2069) are removed: they reorder what a reader sees
  (a headline or link that displays differently from what it says). The plain marks (U+200E/U+200F) stay.
- The **non-characters** U+FFFE and U+FFFF are removed.

:func:`clean_json` applies it to every string (keys included) of a JSON payload and caps each string's
length; :func:`truncate` caps a string on a character boundary with an ellipsis. Both are idempotent: cleaning
clean text changes nothing, so the ingest cleans again at the storage boundary at no risk.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

__all__ = ["ELLIPSIS", "clean_json", "clean_text", "truncate"]

ELLIPSIS = "…"

_UNSAFE = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069\ufffe\uffff"
_UNSAFE_CHARS = re.compile(f"[{_UNSAFE}]")
_UNSAFE_OR_LINE_CHARS = re.compile(f"[{_UNSAFE}\t\n\r]")
# Characters that belong to the one before them: a cut must not separate them from it.
_JOINERS = frozenset("\u200c\u200d\ufe0e\ufe0f")


def clean_text(value: str, *, keep_whitespace_controls: bool = True) -> str:
    """``value`` without the characters no stored text may hold (see the module docstring).

    With ``keep_whitespace_controls=False`` tab, newline and carriage return go too (links, guids, headers).
    """
    pattern = _UNSAFE_CHARS if keep_whitespace_controls else _UNSAFE_OR_LINE_CHARS
    return pattern.sub("", value)


def _attached(char: str) -> bool:
    return char in _JOINERS or unicodedata.combining(char) != 0 or unicodedata.category(char) in ("Mn", "Me")


def truncate(value: str, limit: int, *, ellipsis: str = ELLIPSIS) -> str:
    """``value`` cut to at most ``limit`` characters, ending with ``ellipsis`` when it was cut.

    The cut never separates a base character from the combining marks or joiners that follow it (an accent,
    a skin-tone or emoji-presentation selector, a zero-width joiner sequence), and trailing whitespace before
    the ellipsis is dropped.
    """
    if limit < 0:
        raise ValueError("limit must be >= 0")
    if len(value) <= limit:
        return value
    if limit <= len(ellipsis):
        return ellipsis[:limit]
    cut = limit - len(ellipsis)
    while cut > 0 and (_attached(value[cut]) or value[cut - 1] in _JOINERS):
        cut -= 1
    return value[:cut].rstrip() + ellipsis


def clean_json(value: Any, *, max_chars: int | None = None) -> Any:
    """A JSON-serialisable copy of ``value`` with every string cleaned (:func:`clean_text`) and capped.

    Dicts (keys cleaned too; non-string keys become strings), lists and tuples (as lists) are walked;
    ``None``, booleans, ints and finite floats are kept; anything else (a datetime, a non-finite float...)
    becomes its cleaned ``str``. ``max_chars`` caps each string with :func:`truncate` (keys are not capped).
    """
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, str):
        cleaned = clean_text(value)
        return truncate(cleaned, max_chars) if max_chars is not None else cleaned
    if isinstance(value, Mapping):
        return {clean_text(str(key)): clean_json(item, max_chars=max_chars) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(item, max_chars=max_chars) for item in value]
    return clean_json(str(value), max_chars=max_chars)
