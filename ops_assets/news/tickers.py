"""Which tickers a news headline (or summary) is about.

Pure functions, no network, no Dagster. :func:`extract_tickers` reads plain text (run
``ops_assets.news.feeds.plain_text`` on feed HTML first) and returns the sorted, unique tickers of a
:class:`TickerUniverse` that the text names. Anything that is not a symbol of the universe is dropped, so a
headline about a company we do not track yields ``[]``.

What counts as naming a ticker
------------------------------
1. **Cashtags**: ``$AXQT``, ``$axqt``, ``$KILO-B``, ``$kilo.b``, ``$KILO/B`` (share-class separators ``.``,
   ``-`` and ``/`` are equivalent and the universe's spelling is returned). A cashtag must start with a
   letter, so prices (``$5``, ``$5B``, ``$78,000``) are never tickers. An unknown suffix falls back to the
   base symbol (``$AXQT.O``, a Reuters-style exchange suffix, is ``AXQT``).
2. **Exchange tags**: ``(NASDAQ: BZLK)``, ``(NYSE:CRWQ)``, ``NYSE American: X``, ``NYSEARCA: X``,
   ``AMEX``, ``OTC``/``OTCQX``/``OTC Markets``, ``TSX``/``TSXV``, ``LSE``/``LON`` and a few more; the exchange
   is matched case-insensitively, the symbols must be written in capitals. Several symbols may follow one
   exchange (``(NASDAQ: AAA, BBB)``) when the list is closed by ``)``/``]``/``;``; outside brackets only the
   first symbol is taken, so prose after a tag ("NYSE: NOW, IT spending...") is not read as a list.
3. **``Company (TICKER)``**: a bare capitalised symbol in parentheses right after a capitalised word
   (``Eqzt Group Inc. (EQZT)``, ``Nowlane Software (NOW)``).
4. **Company names** from :attr:`TickerUniverse.company_names`, case-insensitive, on word boundaries, with or
   without their legal suffixes (``Inc``, ``Corp``, ``Ltd``, ``plc``, ``Holdings``, ``Group``, ``Co``...), a
   share-class suffix (``Class B``) and a leading ``The``; a possessive (``Axqt's``) matches too. A shortened
   name that is a common English word (``Kilo Group Inc`` -> ``Kilo``, ``Target Corp`` -> ``Target``) is not
   used on its own (see :data:`COMMON_WORD_NAMES`), nor is anything shorter than two characters. A shortened
   name shared by two companies is ambiguous and dropped; one shared by share classes of the same company
   (``Kilo Group`` for ``KILO-A`` and ``KILO-B``) names every class.
5. **Bare symbols in capitals** (``AXQT shares rise``), but only for symbols of at least three characters
   that are not word-like (:attr:`TickerUniverse.word_like`). ``NOW``, ``IT``, ``ALL``, ``A``, ``ON``... are
   ordinary words in headlines ("IT spending", "shares rise NOW"), so they are only accepted through rules
   1-3, where the writer marked them as tickers. A company *name* (rule 4) is evidence in its own right:
   "Nowlane Software" names ``NOW`` even though the word "now" does not.

Speed: everything that depends on the universe (symbol lookup tables, one compiled regex per rule, the
company-name regex built as a character trie) is built once per :class:`TickerUniverse` instance and cached on
it; a headline then costs a handful of regex scans and dict look-ups (well under a millisecond even for a
universe of thousands of symbols). Reuse the universe object across items.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from types import MappingProxyType

__all__ = [
    "COMMON_WORD_NAMES",
    "DEFAULT_WORD_LIKE",
    "TickerUniverse",
    "extract_tickers",
    "name_variants",
]

DEFAULT_WORD_LIKE: frozenset[str] = frozenset(
    {
        # English words that are (or could be) listed symbols.
        *("A", "AA", "AI", "ALL", "AM", "AN", "AND", "ANY", "ARE", "AS", "AT", "BE", "BIG", "BIT", "BOX", "BY"),
        *("CAN", "CAR", "CASH", "CAT", "COST", "DAY", "DO", "EAT", "EDIT", "FAST", "FOR", "FUN", "GO", "GOOD"),
        *("HAS", "HE", "HI", "HOME", "HOPE", "I", "IF", "IN", "IS", "IT", "JOB", "KEY", "LIFE", "LOVE", "LOW"),
        *("MAIN", "MAN", "ME", "MORE", "NEW", "NEXT", "NICE", "NO", "NOT", "NOW", "O", "OF", "OK", "ON", "ONE"),
        *("OR", "OUT", "PLAY", "REAL", "RUN", "SAFE", "SAVE", "SEE", "SO", "TALK", "THE", "TO", "TRUE", "TWO"),
        *("UP", "US", "USA", "WE", "WELL", "WIN", "WORK", "YOU"),
        # Capitalised abbreviations headlines use as words, not as symbols.
        *("CEO", "CFO", "COO", "CPI", "EPS", "ESG", "ETF", "EU", "EV", "FDA", "FED", "GDP", "IPO", "PE", "SEC"),
        *("TV", "UK", "USD", "EUR", "GBP", "M&A", "Q1", "Q2", "Q3", "Q4"),
    }
)
"""Symbols that are also ordinary words or abbreviations: accepted only from explicit ticker forms
(cashtag, exchange tag, ``Company (TICKER)``), never as a bare capitalised token."""

COMMON_WORD_NAMES: frozenset[str] = frozenset(
    {
        *("a", "all", "alpha", "american", "an", "and", "apex", "best", "big", "block", "bank", "capital"),
        *("central", "citizens", "energy", "first", "gap", "general", "global", "gold", "home", "international"),
        *("it", "key", "kilo", "life", "market", "matter", "national", "new", "news", "now", "on", "one", "open"),
        *("pacific", "prime", "progressive", "public", "royal", "sun", "target", "the", "trust", "united"),
        *("unity", "universal", "value", "vista", "western", "world"),
    }
)
"""Company names (after their suffixes are removed) that are everyday words: "a kilo of gold" is not
about Kilo Group Inc. Compared case-insensitively; the universe's word-like symbols are added to it."""

# Legal-form suffixes removed (repeatedly) from the end of a company name to get the names people write.
_LEGAL_SUFFIX = re.compile(
    r"(?:,\s*|\s+)(?:inc|incorporated|corp|corporation|co|company|ltd|limited|plc|llc|l\.?p|holdings?|group"
    r"|s\.?a|a\.?g|n\.?v|se)\.?$",
    re.IGNORECASE,
)
_CLASS_SUFFIX = re.compile(r",?\s+(?:class|cl\.?|series)\s+[a-z0-9]{1,2}$", re.IGNORECASE)
_LEADING_THE = re.compile(r"^the\s+", re.IGNORECASE)
_TRAILING_JUNK = re.compile(r"[\s,&]+$")
_WHITESPACE = re.compile(r"\s+")
_CLASS_SEPARATORS = re.compile(r"[./]")

# A symbol as written in explicit forms: a letter, then letters/digits, optionally a share-class part.
_SYMBOL_CAPS = r"[A-Z][A-Z0-9]{0,9}(?:[.\-/][A-Z0-9]{1,4})?"
_EXCHANGES = (
    r"NASDAQ(?:\s*(?:GS|GM|CM|Global\s+Select|Global\s+Market|Capital\s+Market))?",
    r"NYSE(?:\s*(?:American|MKT|Arca))?",
    r"AMEX",
    r"OTC(?:\s*(?:QX|QB|BB|Pink|Markets))?",
    r"TSX(?:\s*-?\s*V)?",
    r"LSE",
    r"LON",
    r"AIM",
    r"CBOE(?:\s*BZX)?",
    r"BATS",
    r"ASX",
    r"NEO",
    r"CSE",
)
_CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z][A-Za-z0-9]{0,9}(?:[.\-/][A-Za-z0-9]{1,4})?)(?![A-Za-z0-9])")
_EXCHANGE_TAG = re.compile(
    rf"(?<![\w])(?i:{'|'.join(_EXCHANGES)})\s*:\s*"
    rf"(?P<list>{_SYMBOL_CAPS}(?:\s*,\s*{_SYMBOL_CAPS})*)(?![A-Za-z0-9])(?P<closed>(?=\s*[)\];]))?"
)
_LIST_SEPARATOR = re.compile(r"\s*,\s*")
_PAREN_TICKER = re.compile(rf"(?<![\w])[A-Z0-9][\w&'’.\-]*\s*\(\s*({_SYMBOL_CAPS})\s*\)")
_BARE_TOKEN = re.compile(r"(?<![\w$&@#.\-/])([A-Z][A-Z0-9]*(?:[.\-/][A-Z0-9]+)*)(?![\w])")


def _key(symbol: str) -> str:
    """Lookup key of a symbol: upper case, ``.``/``/`` class separators written as ``-``."""
    return _CLASS_SEPARATORS.sub("-", symbol.strip().upper())


def _fold(name: str) -> str:
    """Lookup key of a company name as written in text: case and runs of whitespace ignored."""
    return _WHITESPACE.sub(" ", name.strip()).lower()


def name_variants(name: str) -> list[str]:
    """The ways a company name is written in news, longest first (before any stop-list is applied).

    ``"Kilo Group Inc Class B"`` -> ``["Kilo Group Inc Class B", "Kilo Group Inc", "Kilo Group", "Kilo"]``;
    ``"The Foo Company, Ltd."`` also gives ``"Foo Company, Ltd."``, ``"Foo"``...
    """
    base = _WHITESPACE.sub(" ", name).strip()
    starts = [base]
    without_the = _LEADING_THE.sub("", base)
    if without_the != base:
        starts.append(without_the)
    variants: list[str] = []
    for start in starts:
        current = start.rstrip(".")
        variants += [start, current]
        while True:
            shorter = _CLASS_SUFFIX.sub("", current)
            shorter = _LEGAL_SUFFIX.sub("", shorter) if shorter == current else shorter
            shorter = _TRAILING_JUNK.sub("", shorter)
            if not shorter or shorter == current:
                break
            variants.append(shorter)
            current = shorter
    # Keep order (longest first within each start), drop repeats.
    return list(dict.fromkeys(variants))


def _trie_pattern(words: Iterable[str]) -> str:
    """A regex matching any of ``words`` (already folded), built as a character trie.

    A trie keeps the alternation cheap for thousands of names (each position tries one branch per distinct
    next character instead of every name). Longer continuations are tried first and every word end must be
    followed by a non-word character, so the longest name wins ("Kilo Group Inc Class B" over "Kilo Group").
    """
    trie: dict[str, dict] = {}
    end = ""  # marks the end of a word inside the trie
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[end] = {}

    def render(node: dict[str, dict]) -> str:
        branches = []
        for char in sorted(c for c in node if c != end):
            piece = r"\s+" if char == " " else re.escape(char)
            branches.append(piece + render(node[char]))
        if end in node:
            branches.append(r"(?!\w)")  # last: only when no longer name matches
        if len(branches) == 1:
            return branches[0]
        return "(?:" + "|".join(branches) + ")"

    return r"(?<!\w)" + render(trie)


@dataclass(frozen=True)
class _Matcher:
    """Everything :func:`extract_tickers` needs for one universe, built once."""

    by_key: Mapping[str, str]
    bare: Mapping[str, str]
    names: Mapping[str, tuple[str, ...]]
    name_pattern: re.Pattern[str] | None


@dataclass(frozen=True)
class TickerUniverse:
    """The tickers the platform knows, with their company names.

    ``symbols`` are returned as spelled here (``"KILO-B"``; ``$kilo.b`` in text resolves to it).
    ``company_names`` maps a symbol to its company name (``"NOW" -> "Nowlane Software Inc"``); names of
    symbols not in ``symbols`` are ignored. ``word_like`` lists symbols that are also English words: they are
    only accepted from explicit forms (cashtag, exchange tag, ``Company (TICKER)``) or the company name.

    Build it once and reuse it: the compiled patterns are cached on the instance.
    """

    symbols: frozenset[str]
    company_names: Mapping[str, str] = field(default_factory=dict, hash=False)
    word_like: frozenset[str] = DEFAULT_WORD_LIKE

    def __post_init__(self) -> None:
        # Freeze the inputs so the cached patterns can never go stale.
        object.__setattr__(self, "symbols", frozenset(self.symbols))
        object.__setattr__(self, "company_names", MappingProxyType(dict(self.company_names)))
        object.__setattr__(self, "word_like", frozenset(_key(symbol) for symbol in self.word_like))

    @classmethod
    def from_company_names(
        cls, company_names: Mapping[str, str], word_like: Iterable[str] = DEFAULT_WORD_LIKE
    ) -> TickerUniverse:
        """A universe of exactly the symbols of ``company_names``."""
        return cls(frozenset(company_names), company_names, frozenset(word_like))

    @cached_property
    def _matcher(self) -> _Matcher:
        # cached_property writes to the instance __dict__ directly, which a frozen dataclass allows; the
        # module-level cache also shares the work between equal universes rebuilt by separate runs.
        return _build_matcher(self)

    def resolve(self, written: str, *, base_fallback: bool = True) -> str | None:
        """The universe symbol ``written`` stands for (``"kilo.b"`` -> ``"KILO-B"``), or ``None``.

        With ``base_fallback``, an unknown share-class/exchange suffix falls back to the base symbol
        (``"AXQT.O"`` -> ``"AXQT"``).
        """
        by_key = self._matcher.by_key
        key = _key(written)
        symbol = by_key.get(key)
        if symbol is None and base_fallback and "-" in key:
            symbol = by_key.get(key.split("-", 1)[0])
        return symbol


@lru_cache(maxsize=8)
def _build_matcher(universe: TickerUniverse) -> _Matcher:
    """Lookup tables and compiled patterns for ``universe`` (about a second for 5,000 companies)."""
    by_key = {_key(symbol): symbol for symbol in sorted(universe.symbols)}
    bare = {
        key: symbol
        for key, symbol in by_key.items()
        if len(symbol) >= 3 and key not in universe.word_like and _BARE_TOKEN.fullmatch(symbol.upper())
    }
    stop = COMMON_WORD_NAMES | {word.lower() for word in universe.word_like}
    # folded variant -> {symbol: its company name without the class suffix}
    claims: dict[str, dict[str, str]] = {}
    for symbol, name in universe.company_names.items():
        if symbol not in universe.symbols or not name or not name.strip():
            continue
        variants = name_variants(name)
        # Share classes of one company differ only in their class suffix.
        core = _fold(_CLASS_SUFFIX.sub("", _LEADING_THE.sub("", name.strip())))
        for variant in variants:
            folded = _fold(variant)
            if sum(ch.isalnum() for ch in folded) < 2 or folded in stop:
                continue
            claims.setdefault(folded, {})[symbol] = core
    names: dict[str, tuple[str, ...]] = {}
    for folded, owners in claims.items():
        # Two companies behind one shortened name: ambiguous, unless they are classes of one company.
        if len(owners) == 1 or len(set(owners.values())) == 1:
            names[folded] = tuple(sorted(owners))
    pattern = re.compile(_trie_pattern(names), re.IGNORECASE) if names else None
    return _Matcher(MappingProxyType(by_key), MappingProxyType(bare), MappingProxyType(names), pattern)


def extract_tickers(text: str, universe: TickerUniverse) -> list[str]:
    """Sorted unique symbols of ``universe`` that ``text`` (plain text, not HTML) names.

    See the module docstring for the rules. Example, with a universe holding ``AXQT``, ``NOW`` and ``GHXV``:
    ``"Nowlane Software (NYSE: NOW) beats; $GHXV and AXQT rally, IT stocks lag now"`` ->
    ``["AXQT", "GHXV", "NOW"]``.
    """
    if not text:
        return []
    matcher = universe._matcher
    found: set[str] = set()

    # The cheap `in` tests skip a regex scan when its marker character is absent (most headlines).
    if "$" in text:
        for match in _CASHTAG.finditer(text):
            _add(found, universe.resolve(match.group(1)))

    if ":" in text:
        for match in _EXCHANGE_TAG.finditer(text):
            written = _LIST_SEPARATOR.split(match.group("list"))
            # Outside brackets, a comma may start ordinary prose: only the first symbol is the tag's.
            for symbol in written if match.group("closed") is not None else written[:1]:
                _add(found, universe.resolve(symbol))

    if "(" in text:
        for match in _PAREN_TICKER.finditer(text):
            _add(found, universe.resolve(match.group(1)))

    if matcher.name_pattern is not None:
        for match in matcher.name_pattern.finditer(text):
            found.update(matcher.names.get(_fold(match.group()), ()))

    for match in _BARE_TOKEN.finditer(text):
        # Exact spelling only (no suffix fallback): a bare token is weak evidence.
        _add(found, matcher.bare.get(_key(match.group(1))))

    return sorted(found)


def _add(found: set[str], symbol: str | None) -> None:
    if symbol is not None:
        found.add(symbol)
