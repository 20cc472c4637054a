"""Which tickers a news headline (or summary) is about.

Pure functions, no network, no Dagster. :func:`extract_tickers` reads plain text (feed items are stored as
plain text already; see ``ops_assets.news.feeds``) and returns the sorted, unique tickers of a
:class:`TickerUniverse` that the text names. Anything that is not a symbol of the universe is dropped, so a
headline about a company we do not track yields ``[]``. A universe is built from ticker -> company name pairs
(:meth:`TickerUniverse.from_company_names`) or from an ETF's holdings as Alpha Vantage's ``ETF_PROFILE`` lists
them (:meth:`TickerUniverse.from_holdings`: ``("AAPL", "APPLE INC")`` -> ``"Apple"``, see
:func:`company_name_from_description`).

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
4. **Company names** — see below.
5. **Bare symbols in capitals** (``AXQT shares rise``), but only for symbols of at least three characters
   that are not word-like (:attr:`TickerUniverse.word_like`, by default :data:`DEFAULT_WORD_LIKE`: English
   words and abbreviations such as ``NOW``, ``IT``, ``ALL``, ``APP``, ``ARM``, ``TEAM``, ``POOL``, ``POST``,
   ``DOW``, ``ICE``...). Those are ordinary words in headlines ("IT spending", "the APP", "shares rise NOW"),
   so they are only accepted through rules 1-3, where the writer marked them as tickers. A company *name*
   (rule 4) is evidence in its own right: "Nowlane Software" names ``NOW`` even though the word "now" does not.

Company names
-------------
Names come from :attr:`TickerUniverse.company_names` (and :attr:`TickerUniverse.aliases`), with or without
their legal suffixes (``Inc``, ``Corp``, ``Ltd``, ``plc``, ``Holdings``, ``Group``, ``Co``...), a share-class
suffix (``Class B``) and a leading ``The``; a possessive (``Axqt's``) matches too. A name must be **written as
a name**:

- **Case.** In ordinary mixed-case text every word of the name must carry a capital ("Apple", "APPLE",
  "eBay", "AppLovin" — not "apple"; joining words such as ``of``/``and`` and legal suffixes such as ``plc``
  are exempt). In a sentence or line written all in capitals or all in lower case ("APPLE PIE SEASON", a
  lower-cased title) case says nothing: there, distinctive names still match ("NVIDIA BEATS", "axqt holdings
  rises") but ambiguous ones (next point) do not, unless a legal suffix follows ("SHELL PLC").
- **Ambiguous names** (:data:`AMBIGUOUS_NAMES`: ``Apple``, ``Shell``, ``Visa``, ``Amazon``, ``Meta``,
  ``Oracle``, ``Arm``, ``Ford``...): everyday words that, written as a name in business news, are nearly
  always the company. They match only as described above, and never inside a common phrase of
  :data:`COMMON_PHRASES` ("Apple pie", "Shell out", "Student Visa rules", "Amazon rainforest", "Meta-analysis",
  "the Oracle of Omaha") — which is what protects sentence starts and Title Case headlines, where case cannot.
- **Never alone** (:data:`COMMON_WORD_NAMES`, plus the universe's word-like symbols that are not ambiguous
  names): a shortened name that is a plain word or phrase too common to ever trust on its own (``Target``,
  ``Pool``, ``Post``, ``Block``, ``Match``, ``Booking``, ``Nasdaq``, ``Dow``, ``Palo Alto``...) is used only
  when a legal suffix follows it in the text ("Target Corp", "Pool Corp", "Post Holdings", "Block Inc"), and
  longer names that contain it are unaffected ("Palo Alto Networks", "General Motors").
- Nothing shorter than two characters is a name. A shortened name shared by two companies is ambiguous and
  dropped; one shared by share classes of the same company (``Alphabet`` for ``GOOGL`` and ``GOOG``) names
  every class.

The lists are sized for a real universe (S&P 500 / Nasdaq-100 and the like): extend them when a new holding's
name is an everyday word (an unknown word-like name is still protected by the case rule, but not at the start
of a sentence or in a Title Case headline).

Speed: everything that depends on the universe (symbol lookup tables, one compiled regex per rule, the
company-name regex built as a character trie) is built once per :class:`TickerUniverse` instance and cached on
it; a headline then costs a handful of regex scans and dict look-ups (well under a millisecond even for a
universe of thousands of symbols). Reuse the universe object across items.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from types import MappingProxyType
from typing import Any

__all__ = [
    "AMBIGUOUS_NAMES",
    "COMMON_PHRASES",
    "COMMON_WORD_NAMES",
    "DEFAULT_WORD_LIKE",
    "TickerUniverse",
    "company_name_from_description",
    "extract_tickers",
    "name_variants",
    "short_names",
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
        # Real symbols (S&P 500, Nasdaq-100 and beyond) that are words, names or slang in capitals.
        *("AIR", "ALLY", "AMP", "APA", "APP", "ARM", "BALL", "BEN", "BILL", "BOOM", "BRO", "CAKE", "COR", "DASH"),
        *("DOC", "DOW", "EARN", "EVER", "FANG", "FICO", "FIVE", "FLY", "FOUR", "GEN", "GOLD", "HEAR", "HOG", "HUM"),
        *("ICE", "JOBS", "LAND", "LULU", "LUV", "MAR", "MET", "MOVE", "NEAR", "OPEN", "PEAK", "PEG", "PEP", "PLAN"),
        *("PLUG", "POOL", "POST", "PWR", "ROCK", "SHOP", "SKY", "SNAP", "SNOW", "STAR", "TAP", "TEAM", "TEL", "TRIP"),
        *("TRU", "TXT", "USB", "WING", "WISH", "XYZ", "YUM", "ZEN"),
        # Capitalised abbreviations headlines use as words, not as symbols.
        *("CEO", "CFO", "COO", "CPI", "EPS", "ESG", "ETF", "EU", "EV", "FDA", "FED", "GDP", "IPO", "PE", "SEC"),
        *("TV", "UK", "USD", "EUR", "GBP", "M&A", "Q1", "Q2", "Q3", "Q4"),
        *("API", "ATH", "ATM", "BTC", "CTO", "DOJ", "ECB", "ETH", "FOMC", "FTC", "FY", "GPU", "IMF", "IRS", "LLC"),
        *("NATO", "NFT", "OPEC", "PMI", "REIT", "SPAC", "WHO", "YOY", "YTD"),
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
        # Shortened names of real large-cap companies that are everyday words, places or common surnames.
        *("alaska", "ally", "analog", "apollo", "applied", "axon", "ball", "booking", "cardinal", "carnival"),
        *("carrier", "charter", "constellation", "cooper", "crown", "delta", "devon", "diamondback", "discover"),
        *("dollar", "dominion", "dover", "dow", "duke", "eastman", "edison", "edwards", "electronic", "emerson"),
        *("everest", "fox", "franklin", "genuine", "gen", "hartford", "host", "hunt", "huntington", "intuitive"),
        *("juniper", "lam", "lincoln", "marathon", "match", "microchip", "monster", "mosaic", "nasdaq"),
        *("norwegian", "palo alto", "paramount", "pool", "post", "principal", "quest", "regions", "republic"),
        *("rockwell", "ross", "snowflake", "southern", "southwest", "stanley", "tapestry", "texas", "travelers"),
        *("tyler", "tyson", "union", "vertex", "cadence", "vulcan", "waters", "west", "williams", "zebra", "zoom"),
        *("align", "campbell", "corning", "jacobs", "strategy"),
    }
)
"""Company names (after their suffixes are removed) that are everyday words, places or common surnames: "a
kilo of gold" is not about Kilo Group Inc, "the Post" is not Post Holdings. Never used on their own (the
longer forms are). Compared case-insensitively; the universe's word-like symbols are added to it (except
those in :data:`AMBIGUOUS_NAMES`)."""

AMBIGUOUS_NAMES: frozenset[str] = frozenset(
    {
        *("adobe", "alphabet", "amazon", "apple", "arm", "caterpillar", "chevron", "ford", "intel", "lucid"),
        *("meta", "micron", "nike", "oracle", "shell", "snap", "tesla", "uber", "visa", "workday"),
    }
)
"""Shortened names that are everyday words but, written as a name in business news, nearly always mean the
company: used only in mixed-case text where written with a capital (or before a legal suffix), and never
inside one of :data:`COMMON_PHRASES`. Compared case-insensitively."""

_VISA_KINDS = (
    r"student|work|tourist|travel|golden|entry|exit|transit|business|investor|h-?1b|o-1|l-1|f-1|j-1|e-2|eb-5"
    r"|spousal|family|schengen|nomad|worker|employment|immigrant|immigration|residence|residency|working holiday"
)
_VISA_THINGS = (
    r"applications?|applicants?|requirements?|rules?|polic(?:y|ies)|bans?|waivers?|holders?|programs?"
    r"|programmes?|schemes?|restrictions?|overstays?|interviews?|sponsorships?|lottery|extensions?|renewals?"
    r"|processing|backlogs?|appointments?|categor(?:y|ies)|caps?|free|on arrival|denials?|stamps?"
)
COMMON_PHRASES: tuple[str, ...] = (
    # apple
    r"apple (?:pies?|juice|cider|sauce|orchards?|trees?|crumble|picking|growers?|farmers?|harvests?|crops?|cart"
    r"|varieties|tarts?|strudel|blossoms?|seeds?)",
    r"(?:big|bad|rotten|candy|toffee|crab|green|red|golden delicious) apples?",
    r"adam'?s apple",
    r"apples? (?:and|to) oranges",
    r"apple of (?:my|his|her|their|our|your|the) eyes?",
    # amazon
    r"amazon (?:rainforests?|rain forests?|river|basin|jungle|region|forests?|deforestation|tribes?|delta|fires)",
    r"(?:brazilian|peruvian|colombian|bolivian|ecuadorian) amazon",
    # shell
    r"shells? out",
    r"shell (?:compan(?:y|ies)|corporations?|firms?|entit(?:y|ies)|games?|shock(?:ed)?|scripts?|casings?|fish)",
    r"(?:sea|egg|turtle|snail|artillery|tank|mortar|empty|bash|command|outer) shells?",
    r"out of (?:his|her|its|their|my|your) shell",
    # visa
    rf"(?:{_VISA_KINDS}) visas?",
    rf"visas? (?:{_VISA_THINGS})",
    # meta
    r"meta ?(?:analys[ie]s|data|tags?|descriptions?|narratives?|commentary|physics|physical|cognition|cognitive"
    r"|learning|games?|humor|humour|joke|verse)",
    # alphabet
    r"(?:latin|cyrillic|greek|phonetic|english|arabic|roman|hebrew|korean|nato) alphabet",
    r"alphabet (?:soup|letters?|books?)",
    r"letters? of the alphabet",
    # oracle
    r"oracle (?:of (?:omaha|delphi)|bones?)",
    r"(?:delphic|the delphi) oracle",
    # arm
    r"arm (?:wrestling|twisting|in arm|injur(?:y|ies)|candy|bands?|rests?|and a leg)",
    r"arm'?s length",
    r"(?:strong|right|left|broken|long|outstretched|robotic|robot|mechanical|bionic|prosthetic|twisted) arms?",
    r"(?:investment|lending|financing|venture|consulting|retail|brokerage|asset management|wealth|insurance"
    r"|banking|research|charitable|political|military|enforcement|leasing|trading|advisory|capital|digital"
    r"|services|cloud|gaming|media|streaming|payments|mortgage|credit|card|property|real estate|shipping"
    r"|logistics|manufacturing|marketing|sales|security|defen[cs]e|publishing|film|television|health|medical"
    r"|technology|software|venture capital|private equity|lobbying|armed|propaganda) arm",
    r"long arm of",
    # ford
    r"(?:harrison|gerald|tom|henry|betty|doug|rob|john|whitey|glenn|edsel|bill) ford",
    r"ford (?:foundation|madox|frick|crossing)",
    r"ford (?:the|a|that|this) (?:river|stream|creek|brook)",
    # chevron
    r"chevron (?:deference|doctrine|precedent|framework|decision)",
    # intel
    r"(?:military|new|fresh|latest|secret|russian|israeli|ukrainian|western|chinese|iranian|u\.?s\.?) intel",
    r"intel (?:gathering|officials?|agenc(?:y|ies)|community|reports?|sources?|chiefs?|sharing|operatives?"
    r"|assessments?|briefings?|services?|suggests?|shows?)",
    # micron
    r"\d+(?:\.\d+)? microns?",
    r"micron (?:sized|thin|scale|level|thick|particles?)",
    # adobe
    r"adobe (?:houses?|homes?|bricks?|walls?|buildings?|structures?|style|church|village|dwellings?|pueblos?)",
    # tesla (the unit, the inventor)
    r"nikola tesla",
    r"\d+(?:\.\d+)? teslas?",
    r"tesla (?:coils?|units?|mri|scanners?|magnets?)",
    # nike, uber, lucid, snap, workday, caterpillar
    r"(?:winged|goddess) nike",
    r"nike of samothrace",
    r"uber (?:rich|wealthy|cool|popular|famous|luxury|elite|competitive|conservative|liberal)",
    r"lucid (?:dreams?|dreaming|moments?|intervals?)",
    r"(?:oh|cold) snap",
    r"snap (?:elections?|polls?|decisions?|judge?ments?|shots?|back|benefits|recipients|program|cuts)",
    r"(?:a|the|typical|average|normal|long|full|eight-hour|8-hour|four-day|4-day|shorter|longer) workdays?",
    r"workday (?:routines?|hours|schedules?|commutes?|lunch)",
    r"caterpillars? (?:to|into) (?:a )?butterfl(?:y|ies)",
)
"""Phrases (regular expressions, case-insensitive; a space matches any run of spaces or hyphens) in which an
:data:`AMBIGUOUS_NAMES` word is an ordinary word, not the company: a name match inside one is ignored."""

# Legal-form suffixes removed (repeatedly) from the end of a company name to get the names people write.
_LEGAL_WORDS = (
    r"inc|incorporated|corp|corporation|co|company|ltd|limited|plc|llc|l\.?p|holdings?|group|s\.?a|a\.?g|n\.?v|se"
)
_LEGAL_SUFFIX = re.compile(rf"(?:,\s*|\s+)(?:{_LEGAL_WORDS})\.?$", re.IGNORECASE)
_CLASS_SUFFIX = re.compile(r",?\s+(?:class|cl\.?|series)\s+[a-z0-9]{1,2}$", re.IGNORECASE)
_LEADING_THE = re.compile(r"^the\s+", re.IGNORECASE)
_TRAILING_JUNK = re.compile(r"[\s,&]+$")
_WHITESPACE = re.compile(r"\s+")
_CLASS_SEPARATORS = re.compile(r"[./]")
# A legal suffix written right after a name: "Shell plc", "Visa Inc." (never "company": "shell company").
_LEGAL_FOLLOWS = re.compile(
    r",?\s+(?:inc|incorporated|corp|corporation|ltd|limited|plc|llc|holdings|group|n\.v|s\.a|a\.g)(?![\w])",
    re.IGNORECASE,
)
# Words of a name that need no capital of their own.
_NAME_GLUE = frozenset(
    {"of", "and", "the", "de", "du", "des", "la", "le", "y", "for", "in", "at", "&", "und", "van", "von", "da"}
    | {"inc", "incorporated", "corp", "corporation", "co", "company", "ltd", "limited", "plc", "llc", "lp"}
    | {"l.p", "sa", "s.a", "ag", "a.g", "nv", "n.v", "se", "holding", "holdings", "group", "class", "cl", "series"}
)
# Where a sentence or line ends (the unit in which "written all in capitals" is judged).
_SEGMENT_BREAK = re.compile(r"[\r\n]+|(?<=[.!?;:])\s+")
_LETTER_WORD = re.compile(r"[^\W\d_]{2,}")

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


# ------------------------------------------------------------------------------------- names from ETF holdings

# What Alpha Vantage appends to a holding's description that is about the security, not the company.
_SECURITY_SUFFIX = re.compile(
    r"(?:,\s*|\s+)(?:sponsored\s+adr|spon\s+adr|adr|ads|ordinary\s+shares?|ord\s+shs?|ord|common\s+stock|common"
    r"|com\s+stk|shs|ny\s+reg(?:istry)?\s+shs?|reg|new|\(the\)|(?:class|cl\.?|series)\s+[a-z0-9]{1,2}"
    r"|(?:class|cl\.?|series)\s+[a-z0-9]{1,2}\s+(?:adr|ads|shs))\.?$",
    re.IGNORECASE,
)
_LEGAL_CASING = {
    "inc": "Inc",
    "incorporated": "Incorporated",
    "corp": "Corp",
    "corporation": "Corporation",
    "co": "Co",
    "company": "Company",
    "ltd": "Ltd",
    "limited": "Limited",
    "plc": "plc",
    "llc": "LLC",
    "lp": "LP",
    "nv": "NV",
    "sa": "SA",
    "ag": "AG",
    "se": "SE",
}
_LOWER_GLUE = frozenset({"of", "and", "the", "de", "du", "des", "la", "le", "y", "for", "in", "at", "und"})
# Short upper-case words in descriptions that are words, not acronyms (everything else of <= 3 letters is).
_SHORT_WORDS = frozenset(
    {"air", "all", "arm", "art", "bay", "big", "bio", "box", "car", "day", "dr", "fox", "gas", "key", "new", "oil"}
    | {"old", "one", "pet", "red", "sea", "sky", "sun", "tea", "top", "two", "web", "way", "bros", "st", "mr"}
    | {"gap", "dow", "aon", "ball", "cat", "dr", "arts", "lam", "ice", "ink", "inn", "ivy", "oak", "ore", "elk"}
)
# Trailing words that describe the business rather than name it: "Meta Platforms" is written "Meta".
_DESCRIPTORS = frozenset(
    {"platforms", "wholesale", "technology", "technologies", "pharmaceuticals", "laboratories", "analytics"}
    | {"athletica", "communications", "networks", "semiconductor", "semiconductors", "systems", "software"}
    | {"interactive", "sciences", "energy", "instruments", "devices", "materials", "surgical", "international"}
    | {"stores", "solutions", "automotive", "research", "computer", "beverage", "brands", "foods", "us"}
    | {"worldwide", "entertainment", "financial", "motor", "motors", "industries", "partners", "therapeutics"}
)
# Holdings rows that are not companies (Alpha Vantage lists cash and derivatives with these symbols).
_NON_EQUITY = frozenset({"", "N/A", "NA", "NONE", "-", "CASH", "USD"})


def _case_word(word: str, first: bool) -> str:
    lower = word.lower()
    if not first and lower in _LOWER_GLUE:
        return lower
    if lower.rstrip(".") in _LEGAL_CASING and not first:
        return _LEGAL_CASING[lower.rstrip(".")]
    if lower.endswith(".com") and len(lower) > 4:
        return _case_word(word[:-4], first) + ".com"
    for separator in ("-", "&", "/"):
        if separator in word.strip(separator):
            return separator.join(_case_word(part, True) if part else part for part in word.split(separator))
    letters = "".join(c for c in lower if c.isalpha())
    if not letters:
        return word
    # Acronyms: short words that are not English words, and words with no vowel after the first letter (ASML).
    if lower not in _SHORT_WORDS and (len(letters) <= 3 or not any(c in "aeiouy" for c in letters[1:])):
        return word.upper()
    if "'" in word:
        head, _, tail = word.partition("'")
        if len(tail) <= 1:  # possessive: McDonald's
            return _case_word(head, first) + "'" + tail.lower()
        return _case_word(head, first) + "'" + _case_word(tail, True)  # O'Reilly
    if lower.startswith("mc") and len(lower) > 3:
        return "Mc" + lower[2].upper() + lower[3:]
    return lower[0].upper() + lower[1:]


def company_name_from_description(description: str) -> str:
    """The name news writes for a company, from Alpha Vantage's upper-case holding description.

    Security descriptors (``ADR``, ``ORD``, ``COMMON STOCK``...), share-class suffixes and legal suffixes are
    removed and the words are cased sensibly (words title-cased, acronyms kept in capitals, ``.com`` joined):
    ``"APPLE INC"`` -> ``"Apple"``, ``"ALPHABET INC CLASS A"`` -> ``"Alphabet"``, ``"META PLATFORMS INC CLASS
    A"`` -> ``"Meta Platforms"``, ``"BERKSHIRE HATHAWAY INC CLASS B"`` -> ``"Berkshire Hathaway"``,
    ``"AMAZON COM INC"`` -> ``"Amazon"``, ``"ASML HOLDING NV ADR"`` -> ``"ASML"``, ``"O REILLY AUTOMOTIVE
    INC"`` -> ``"O'Reilly Automotive"``. Returns ``""`` for a blank description.
    """
    text = _WHITESPACE.sub(" ", description.replace("\u2019", "'")).strip().rstrip(".")
    while True:
        shorter = _TRAILING_JUNK.sub("", _SECURITY_SUFFIX.sub("", text))
        if shorter == text or not shorter:
            break
        text = shorter
    # "AMAZON COM INC" / "AMAZON.COM INC": the web address is part of the legal name, not the name people write.
    text = re.sub(r"(?:\.|\s+)com(?=\s|,|$)", "", text, flags=re.IGNORECASE)
    text = re.sub(r"\b([A-Z]) ([A-Z]{3,})\b", r"\1'\2", text) if re.match(r"^O [A-Z]{3,}", text) else text
    words = text.split(" ")
    cased = " ".join(_case_word(word, index == 0) for index, word in enumerate(words) if word)
    variants = name_variants(cased)
    core = next((v for v in reversed(variants) if not _LEADING_THE.match(v)), variants[-1] if variants else "")
    return core if sum(ch.isalnum() for ch in core) >= 2 else cased


def short_names(name: str) -> list[str]:
    """Shorter names news also writes for ``name`` (already without its legal suffix): the name without the
    trailing words that describe the business (:data:`_DESCRIPTORS`), one step at a time.

    ``"Meta Platforms"`` -> ``["Meta"]``, ``"Cognizant Technology Solutions"`` -> ``["Cognizant Technology",
    "Cognizant"]``, ``"Berkshire Hathaway"`` -> ``[]``. Stop lists are applied later, by the universe.
    """
    words = name.split()
    out: list[str] = []
    while len(words) > 1 and words[-1].lower().strip(".,") in _DESCRIPTORS:
        words = words[:-1]
        shorter = _TRAILING_JUNK.sub("", " ".join(words))
        if sum(ch.isalnum() for ch in shorter) >= 3:
            out.append(shorter)
    return out


def _holding_pair(holding: Any) -> tuple[str, str]:
    if isinstance(holding, Mapping):
        return str(holding.get("symbol") or ""), str(holding.get("description") or "")
    if isinstance(holding, Sequence) and not isinstance(holding, str) and len(holding) >= 2:
        return str(holding[0] or ""), str(holding[1] or "")
    return str(getattr(holding, "symbol", "") or ""), str(getattr(holding, "description", "") or "")


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
    ambiguous: frozenset[str]
    """Folded names of :data:`AMBIGUOUS_NAMES`."""
    never_alone: frozenset[str]
    """Folded names of the stop list: only followed by a legal suffix ("Pool Corp", "Post Holdings")."""
    name_pattern: re.Pattern[str] | None


@dataclass(frozen=True)
class TickerUniverse:
    """The tickers the platform knows, with their company names.

    ``symbols`` are returned as spelled here (``"KILO-B"``; ``$kilo.b`` in text resolves to it).
    ``company_names`` maps a symbol to its company name (``"NOW" -> "Nowlane Software Inc"``); ``aliases``
    maps a symbol to further names news uses for it (``"META" -> ("Meta",)``); names of symbols not in
    ``symbols`` are ignored. ``word_like`` lists symbols that are also English words: they are only accepted
    from explicit forms (cashtag, exchange tag, ``Company (TICKER)``) or the company name.

    Build it once and reuse it: the compiled patterns are cached on the instance.
    """

    symbols: frozenset[str]
    company_names: Mapping[str, str] = field(default_factory=dict, hash=False)
    word_like: frozenset[str] = DEFAULT_WORD_LIKE
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        # Freeze the inputs so the cached patterns can never go stale.
        object.__setattr__(self, "symbols", frozenset(self.symbols))
        object.__setattr__(self, "company_names", MappingProxyType(dict(self.company_names)))
        object.__setattr__(self, "word_like", frozenset(_key(symbol) for symbol in self.word_like))
        aliases = {symbol: tuple(names) for symbol, names in self.aliases.items() if names}
        object.__setattr__(self, "aliases", MappingProxyType(aliases))

    @classmethod
    def from_company_names(
        cls,
        company_names: Mapping[str, str],
        word_like: Iterable[str] = DEFAULT_WORD_LIKE,
        aliases: Mapping[str, Iterable[str]] | None = None,
    ) -> TickerUniverse:
        """A universe of exactly the symbols of ``company_names``."""
        return cls(
            frozenset(company_names),
            company_names,
            frozenset(word_like),
            {symbol: tuple(names) for symbol, names in (aliases or {}).items()},
        )

    @classmethod
    def from_holdings(
        cls,
        holdings: Iterable[Any],
        word_like: Iterable[str] = DEFAULT_WORD_LIKE,
        *,
        extra_names: Mapping[str, str] | None = None,
    ) -> TickerUniverse:
        """A universe of an ETF's holdings as Alpha Vantage's ``ETF_PROFILE`` lists them.

        ``holdings``: ``(symbol, description)`` pairs, ``{"symbol": ..., "description": ...}`` dicts or objects
        with ``symbol``/``description`` attributes, e.g. ``("AAPL", "APPLE INC")``, ``("BRK-B", "BERKSHIRE
        HATHAWAY INC CLASS B")``. Symbols are stripped and upper-cased (Alpha Vantage's ``BRK-B`` spelling is
        kept); cash/placeholder rows and repeats are dropped. Each company name is
        :func:`company_name_from_description` of the description (``"Meta Platforms"``), and its
        :func:`short_names` become :attr:`aliases` (``"Meta"``). Share classes (``GOOGL``/``GOOG``) get the same
        name, so the name finds both. ``extra_names`` (configured ``symbol -> name`` pairs) add symbols or
        replace a holding's derived name.
        """
        names: dict[str, str] = {}
        aliases: dict[str, tuple[str, ...]] = {}
        for holding in holdings:
            raw_symbol, description = _holding_pair(holding)
            symbol = raw_symbol.strip().upper()
            if symbol in _NON_EQUITY or symbol in names:
                continue
            name = company_name_from_description(description)
            names[symbol] = name
            if name:
                aliases[symbol] = tuple(short_names(name))
        for symbol, name in (extra_names or {}).items():
            names[symbol] = name
            aliases.pop(symbol, None)
        return cls(frozenset(names), names, frozenset(word_like), aliases)

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
    # Everyday words are kept as names, but only used before a legal suffix ("Target Corp"); see _name_accepted.
    stop = COMMON_WORD_NAMES | ({word.lower() for word in universe.word_like} - AMBIGUOUS_NAMES)
    # folded variant -> {symbol: its company name without the class suffix}
    claims: dict[str, dict[str, str]] = {}
    for symbol, name in universe.company_names.items():
        if symbol not in universe.symbols or not name or not name.strip():
            continue
        # Share classes of one company differ only in their class suffix.
        core = _fold(_CLASS_SUFFIX.sub("", _LEADING_THE.sub("", name.strip())))
        for written in (name, *universe.aliases.get(symbol, ())):
            for variant in name_variants(written):
                folded = _fold(variant)
                if sum(ch.isalnum() for ch in folded) < 2:
                    continue
                claims.setdefault(folded, {})[symbol] = core
    names: dict[str, tuple[str, ...]] = {}
    for folded, owners in claims.items():
        # Two companies behind one shortened name: ambiguous, unless they are classes of one company.
        if len(owners) == 1 or len(set(owners.values())) == 1:
            names[folded] = tuple(sorted(owners))
    pattern = re.compile(_trie_pattern(names), re.IGNORECASE) if names else None
    ambiguous = frozenset(name for name in names if name in AMBIGUOUS_NAMES)
    never_alone = frozenset(name for name in names if name in stop)
    return _Matcher(
        MappingProxyType(by_key), MappingProxyType(bare), MappingProxyType(names), ambiguous, never_alone, pattern
    )


def _phrase_regex(phrase: str) -> str:
    """``phrase`` with each space outside a character class standing for any run of spaces or hyphens."""
    out, in_class = [], False
    for index, char in enumerate(phrase):
        escaped = index > 0 and phrase[index - 1] == "\\"
        if char == "[" and not escaped:
            in_class = True
        elif char == "]" and not escaped:
            in_class = False
        out.append(r"[\s-]+" if char == " " and not in_class else char)
    return "".join(out)


_PHRASES = re.compile(
    r"(?<![\w])(?:" + "|".join(f"(?:{_phrase_regex(p)})" for p in COMMON_PHRASES) + r")(?![\w])",
    re.IGNORECASE,
)


class _Reading:
    """How the text around a name match is written (computed lazily, once per text)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._segments: list[tuple[int, int, bool]] | None = None
        self._phrases: list[tuple[int, int]] | None = None

    @staticmethod
    def _caseless(text: str) -> bool | None:
        """Whether ``text`` is written all in capitals or all in lower case (``None``: too short to tell)."""
        words = _LETTER_WORD.findall(text)
        if len(words) < 3:
            return None
        letters = "".join(words)
        return letters.isupper() or letters.islower()

    def caseless_at(self, position: int) -> bool:
        if self._segments is None:
            whole = bool(self._caseless(self.text))
            self._segments = []
            start = 0
            for brk in [*_SEGMENT_BREAK.finditer(self.text), None]:
                end = brk.start() if brk else len(self.text)
                judged = self._caseless(self.text[start:end])
                self._segments.append((start, end, whole if judged is None else judged))
                start = brk.end() if brk else end
        return next((caseless for start, end, caseless in self._segments if start <= position <= end), False)

    def in_phrase(self, start: int, end: int) -> bool:
        if self._phrases is None:
            self._phrases = [m.span() for m in _PHRASES.finditer(self.text)]
        return any(p_start <= start and end <= p_end for p_start, p_end in self._phrases)

    def legal_suffix_follows(self, end: int) -> bool:
        return _LEGAL_FOLLOWS.match(self.text, end) is not None


def _written_as_name(written: str) -> bool:
    """Every word of ``written`` that is not a joining word or legal suffix carries a capital."""
    for word in written.split():
        core = word.strip(".,'’()").lower()
        if not core or core in _NAME_GLUE or not any(c.isalpha() for c in core):
            continue
        if not any(c.isupper() for c in word):
            return False
    return True


def _name_accepted(match: re.Match[str], folded: str, matcher: _Matcher, reading: _Reading) -> bool:
    ambiguous, never_alone = folded in matcher.ambiguous, folded in matcher.never_alone
    if (ambiguous or never_alone) and reading.in_phrase(*match.span()):
        return False
    legal = (ambiguous or never_alone) and reading.legal_suffix_follows(match.end())
    if never_alone and not legal:
        return False
    if reading.caseless_at(match.start()):
        # Case says nothing here: only distinctive names, or a word-like one with its legal suffix.
        return not ambiguous or legal
    return _written_as_name(match.group())


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
        reading = _Reading(text)
        for match in matcher.name_pattern.finditer(text):
            folded = _fold(match.group())
            owners = matcher.names.get(folded, ())
            if owners and _name_accepted(match, folded, matcher, reading):
                found.update(owners)

    for match in _BARE_TOKEN.finditer(text):
        # Exact spelling only (no suffix fallback): a bare token is weak evidence.
        _add(found, matcher.bare.get(_key(match.group(1))))

    return sorted(found)


def _add(found: set[str], symbol: str | None) -> None:
    if symbol is not None:
        found.add(symbol)
