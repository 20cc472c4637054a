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
   ``DOW``, ``ICE``, and S&P 500 symbols such as ``CRM``, ``CMS``, ``NWS``, ``PSA``, ``RTX``, ``TKO``...).
   Those are ordinary words in headlines ("IT spending", "the APP", "shares rise NOW", "CMS proposes a
   Medicare rule"), so they are only accepted through rules 1-3, where the writer marked them as tickers. A
   company *name* (rule 4) is evidence in its own right: "Nowlane Software" names ``NOW`` even though the word
   "now" does not. A bare symbol right before a place word is the place ("PNC Park"), and one that spells its
   company's name is judged as the name (below).

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
  ``Oracle``, ``Arm``, ``Ford``, ``Mohawk``, ``Gilead``, ``Waste Management``, ``Best Buy``...): everyday
  words that, written as a name in business news, are nearly always the company. They match only as described
  above, and never inside a common phrase of :data:`COMMON_PHRASES` ("Apple pie", "Shell out", "Student Visa
  rules", "Amazon rainforest", "Meta-analysis", "the Oracle of Omaha", "Mohawk haircut").
- **Sentence starts.** At the start of a headline, sentence or line (after ``.``, ``!``, ``?``, ``:``, ``;``, a
  line break or a spaced dash) case cannot tell a name from a word: "Visa delays strand students", "Waste
  Management tips for a greener kitchen". There an ambiguous name counts only with a second sign that a
  company is meant: a legal suffix ("Visa Inc."), a possessive or ``.com`` ("Alphabet's Waymo",
  "Amazon.com"), a business word of :data:`BUSINESS_WORDS` (shares, stock, earnings, revenue, CEO, reports,
  beats, misses, raises, cuts...) within :data:`BUSINESS_WORD_REACH` words ("Visa shares rise", "Oracle cloud
  revenue jumps"), ``to``/``will`` and a verb of :data:`CORPORATE_VERBS` ("Meta to spend", "Intel to cut"), a
  capitalised word right after it in a sentence that is not Title Case ("Amazon Web Services outage"), or
  another company named in the same sentence ("Apple and Microsoft lead gains"). An explicit form (cashtag,
  exchange tag, ``(TICKER)``) counts on its own, as always.
- **Places.** :data:`PLACE_NAMES` ("Iron Mountain", "State Street", "Charles River") need such a sign
  anywhere, not only at a sentence start ("Iron Mountain hike reopens" names nothing; "Shares of Iron
  Mountain rose" names ``IRM``). Any name followed by a capitalised place or venue word of
  :data:`PLACE_WORDS` is that place, not the company ("Globe Life Field", "Oracle Park", "Capital One Arena",
  "PPG Paints Arena", "Mohawk Nation"; a bare symbol too: "PNC Park"), and so is ``the <name> at|of
  <Capitalised>`` ("the Oracle at Delphi", "the Nvidia of Europe").
- **People.** A name right after a given name of :data:`GIVEN_NAMES` or an honorific of :data:`HONORIFICS` is
  a surname ("Paris Hilton", "Greg Abbott", "Governor Abbott", "Bill O'Reilly"), except the brands of
  :data:`BRANDS_WITH_A_GIVEN_NAME` ("John Deere"); a one-word name that is itself a given name, followed by a
  capitalised word that is not a business word, is a person ("Otis Redding", "Lennox Lewis"; "Otis wins a
  contract" still names ``OTIS``). A bare symbol that spells its company's name is judged as that name ("OTIS
  REDDING").
- **Never alone** (:data:`COMMON_WORD_NAMES`, plus the universe's word-like symbols that are not ambiguous
  names): a shortened name that is a plain word or phrase too common to ever trust on its own (``Target``,
  ``Pool``, ``Post``, ``Block``, ``Match``, ``Booking``, ``Nasdaq``, ``Dow``, ``Palo Alto``, ``Cincinnati``,
  ``SBA``...) is used only when a legal suffix follows it in the text ("Target Corp", "Pool Corp", "Post
  Holdings", "Block Inc"), and longer names that contain it are unaffected ("Palo Alto Networks", "General
  Motors", "Cincinnati Financial").
- A legal suffix right after a name settles it: the place, person and sentence-start rules do not apply
  ("Globe Life Inc").
- Nothing shorter than two characters is a name. A shortened name shared by two companies is ambiguous and
  dropped; one shared by share classes of the same company (``Alphabet`` for ``GOOGL`` and ``GOOG``) names
  every class.

The lists are sized for a real universe (S&P 500 / Nasdaq-100 and the like; tested on ~500 S&P 500 holdings
against ordinary headlines about sports, celebrities, weather, travel, politics and food): extend them when a
new holding's name is an everyday word, a place or a first name. Known gaps: an everyday-word name not on the
lists is guarded only by the case rule, and an ambiguous name in the *middle* of a Title Case headline ("Why
Students Face Visa Delays") is judged by case alone (the phrases still apply); some real mentions are given
up for precision ("Otis Elevator" reads as a person, "Apple Park" as a place, a headline-start "Visa" with no
business word is not counted).

Speed: everything that depends on the universe (symbol lookup tables, one compiled regex per rule, the
company-name regex built as a character trie) is built once per :class:`TickerUniverse` instance and cached on
it; a headline then costs a handful of regex scans and dict look-ups (well under a millisecond even for a
universe of thousands of symbols). Reuse the universe object across items.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from types import MappingProxyType
from typing import Any

__all__ = [
    "AMBIGUOUS_NAMES",
    "BRANDS_WITH_A_GIVEN_NAME",
    "BUSINESS_WORDS",
    "BUSINESS_WORD_REACH",
    "COMMON_PHRASES",
    "COMMON_WORD_NAMES",
    "CORPORATE_VERBS",
    "DEFAULT_WORD_LIKE",
    "GIVEN_NAMES",
    "HONORIFICS",
    "PLACE_NAMES",
    "PLACE_WORDS",
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
        # S&P 500 symbols that are acronyms or words in their own right ("RTX 5090", "CRM software", "NWS
        # warning", "PSA:", "TKO", "COP summit", "AES encryption", "CMS proposes", "ROBIN HOOD", "TECH STOCKS").
        *("AES", "AMT", "CMS", "CNC", "COIN", "COP", "CPT", "CRM", "EMR", "ERIE", "EXE", "GIS", "HAL", "HOOD"),
        *("IEX", "KEYS", "MLM", "MOS", "MRNA", "MTD", "NWS", "PKG", "PNW", "PSA", "REG", "ROK", "RTX", "TECH"),
        *("TKO", "URI"),
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
        # ... and S&P 500 ones: cities, agencies and plain words ("Cincinnati Bengals", "SBA loans", "Expand
        # your garden").
        *("cincinnati", "expand", "sba", "centerpoint"),
    }
)
"""Company names (after their suffixes are removed) that are everyday words, places or common surnames: "a
kilo of gold" is not about Kilo Group Inc, "the Post" is not Post Holdings. Never used on their own (the
longer forms are). Compared case-insensitively; the universe's word-like symbols are added to it (except
those in :data:`AMBIGUOUS_NAMES`)."""

PLACE_NAMES: frozenset[str] = frozenset({"iron mountain", "state street", "charles river"})
"""Names that are also places ("a hike up Iron Mountain", "the parade on State Street", "rowing on the Charles
River"): treated as :data:`AMBIGUOUS_NAMES`, and counted *anywhere* only with a business signal (see
:data:`BUSINESS_WORDS`). Compared case-insensitively."""

AMBIGUOUS_NAMES: frozenset[str] = frozenset(
    {
        *("adobe", "alphabet", "amazon", "apple", "arm", "caterpillar", "chevron", "ford", "intel", "lucid"),
        *("meta", "micron", "nike", "oracle", "shell", "snap", "tesla", "uber", "visa", "workday"),
        # S&P 500 names that are everyday words, peoples, places or product lines too.
        *("best buy", "cognizant", "gilead", "mohawk", "rtx", "waste management"),
        *PLACE_NAMES,
    }
)
"""Shortened names that are everyday words but, written as a name in business news, nearly always mean the
company: used only in mixed-case text where written with a capital (or before a legal suffix), never inside
one of :data:`COMMON_PHRASES`, and at the start of a headline or sentence only with a second sign of a company
(see the module docstring, "Sentence starts"). Compared case-insensitively."""

_VISA_KINDS = (
    r"student|work|tourist|travel|golden|entry|exit|transit|business|investor|h-?1b|o-1|l-1|f-1|j-1|e-2|eb-5"
    r"|spousal|family|schengen|nomad|worker|employment|immigrant|immigration|residence|residency|working holiday"
)
_VISA_THINGS = (
    r"applications?|applicants?|requirements?|rules?|polic(?:y|ies)|bans?|waivers?|holders?|programs?"
    r"|programmes?|schemes?|restrictions?|overstays?|interviews?|sponsorships?|lottery|extensions?|renewals?"
    r"|processing|backlogs?|appointments?|categor(?:y|ies)|caps?|free|on arrival|denials?|stamps?|bulletins?"
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
    # S&P 500 names inside other names and phrases
    r"mohawk (?:haircuts?|hairstyles?|hair|cuts?|tribes?|people|peoples|language|warriors?|ironworkers|nation"
    r"|valley|river|territory|council|community|communities|elders?|college)",
    r"(?:a|his|her|their|the) mohawks?",
    r"(?:republic|balm|land|commander|aunts?) of gilead",
    r"rtx ?\d{3,4}(?: ?ti| super)?",
    r"(?:on|along|down|up|off|near|across) state street",
    r"(?:on|along|across|the|rowing|banks of the) charles river",
    r"(?:up|on|atop|climb(?:ing)?|hik(?:e|ing) up|summit of) iron mountain",
    r"waste management phoenix open",
    r"waste management (?:tips|ideas|advice|hacks|plans?|problems?|crisis|policy|policies|course|degree)",
    r"cognizant of",
    r"hilton head",
    r"dolby atmos",
    r"arista records",
    r"valero texas open",
    r"abbott (?:elementary|and costello)",
)
"""Phrases (regular expressions, case-insensitive; a space matches any run of spaces or hyphens) in which a
company name is an ordinary word or part of another name, not the company: a name match inside one is
ignored (any name, though the list is written for :data:`AMBIGUOUS_NAMES` and a few others)."""

BUSINESS_WORDS: frozenset[str] = frozenset(
    {
        *("shares", "share", "stock", "stocks", "earnings", "revenue", "revenues", "sales", "profit", "profits"),
        *("margin", "margins", "quarter", "quarterly", "results", "guidance", "outlook", "forecast", "forecasts"),
        *("dividend", "dividends", "buyback", "buybacks", "ceo", "cfo", "chief", "executives", "board", "investors"),
        *("analysts", "valuation", "ipo", "deal", "deals", "merger", "acquisition", "takeover", "stake", "bid"),
        *("contract", "contracts", "layoffs", "stores", "store", "customers", "subscribers", "deliveries"),
        *("shipments", "orders", "bonds", "debt", "lawsuit", "antitrust", "regulators", "eps", "q1", "q2", "q3"),
        *("q4", "fy", "reports", "reported", "beats", "misses", "missed", "raises", "cuts", "lifts", "lowers"),
        *("tops", "posts", "sues", "sued", "settles", "buys", "buy", "sells", "acquires", "acquire", "invests"),
        *("hires", "appoints", "announces", "launches", "unveils", "recalls", "recall", "files", "agrees", "wins"),
        *("upgrade", "upgraded", "upgrades", "downgrade", "downgraded", "downgrades", "rallies", "slumps"),
        *("tumbles", "plunges", "soars", "surges"),
    }
)
"""Words that make an everyday-word name a company (compared case-insensitively): where case cannot tell a
name from a word — an :data:`AMBIGUOUS_NAMES` name at the start of a headline or sentence, a
:data:`PLACE_NAMES` name anywhere — the name counts with one of these within :data:`BUSINESS_WORD_REACH`
words after or before it ("Visa shares rise", "Shares of Iron Mountain rose"), or with another sign (see the
module docstring, "Sentence starts")."""

CORPORATE_VERBS: frozenset[str] = frozenset(
    {
        *("buy", "sell", "acquire", "merge", "cut", "slash", "hire", "spend", "invest", "build", "close", "shut"),
        *("open", "launch", "raise", "pay", "lay", "expand", "exit", "list", "delist", "spin", "split", "boost"),
        *("offer", "sue", "settle", "appeal", "report", "release", "unveil", "add", "drop", "halt", "pause"),
        *("resume", "axe", "trim", "issue", "repurchase", "restructure", "reorganize", "reorganise"),
    }
)
"""Verbs that, after ``to`` or ``will`` right after a name, say a company acts: "Meta to spend $65 billion",
"Intel to cut 15% of jobs", "Apple will invest" (but "Visa to be required for visitors" is not). A sign like
the :data:`BUSINESS_WORDS`. Compared case-insensitively."""

BUSINESS_WORD_REACH = 6
"""How many words before or after a name a :data:`BUSINESS_WORDS` word may be: "Apple Falls 5% After Earnings",
"Oracle wins a $10 billion cloud deal", "Shares of Iron Mountain rose" — but not a word at the far end of a
long summary sentence."""

PLACE_WORDS: frozenset[str] = frozenset(
    {
        *("field", "park", "stadium", "arena", "center", "centre", "coliseum", "dome", "superdome", "forum"),
        *("fieldhouse", "garden", "gardens", "amphitheater", "amphitheatre", "theater", "theatre", "pavilion"),
        *("ballpark", "speedway", "raceway", "palace", "hall", "plaza", "tower", "nation", "river", "valley"),
        *("lake", "mountain", "mountains", "island", "islands", "bay", "beach", "canyon", "creek", "forest"),
        *("county", "street", "avenue", "boulevard", "road", "square", "bridge", "trail", "hills"),
        *("reservation", "college", "university", "elementary", "airport"),
    }
)
"""Words that, written with a capital right after a name, make it a place or venue named after the company
or the word, not the company: "Globe Life Field", "Oracle Park", "Capital One Arena", "Mohawk Nation",
"Caesars Palace", "PNC Park". The venues of :data:`_VENUE_WORDS` count after one more capitalised word too
("PPG Paints Arena"). Compared case-insensitively; the word must carry a capital unless the text is
caseless. (Verbs a Title Case headline capitalises, such as "Falls", are left out.)"""

_VENUE_WORDS = frozenset(
    {"arena", "stadium", "ballpark", "coliseum", "fieldhouse", "amphitheater", "amphitheatre", "speedway"}
    | {"raceway", "superdome"}
)

GIVEN_NAMES: frozenset[str] = frozenset(
    {
        *("aaron", "adam", "alan", "albert", "alex", "alexander", "alice", "amanda", "amy", "andrew", "andy"),
        *("angela", "ann", "anna", "anne", "anthony", "arthur", "ashley", "barbara", "ben", "benjamin", "betty"),
        *("beverly", "bill", "billy", "bob", "bobby", "brandon", "brenda", "brian", "bruce", "bryan", "carl"),
        *("carol", "caroline", "catherine", "charles", "cheryl", "chris", "christian", "christine", "christopher"),
        *("cindy", "conrad", "craig", "cynthia", "dan", "daniel", "danielle", "dave", "david", "deborah", "debra"),
        *("dennis", "diana", "diane", "donald", "donna", "doris", "dorothy", "doug", "douglas", "dylan", "ed"),
        *("eddie", "edward", "elaine", "eli", "elizabeth", "ellen", "elon", "elvis", "emily", "emma", "eric"),
        *("ethan", "eugene", "evelyn", "frances", "frank", "fred", "gary", "gavin", "gene", "george", "gerald"),
        *("gina", "gloria", "greg", "gregory", "hannah", "harold", "harry", "heather", "helen", "henry", "howard"),
        *("ian", "isaac", "jack", "jacob", "james", "jamie", "jane", "janet", "janice", "jason", "jean", "jeff"),
        *("jeffrey", "jennifer", "jeremy", "jerome", "jerry", "jesse", "jessica", "jill", "jim", "jimmy", "joan"),
        *("joe", "john", "johnny", "jonathan", "joseph", "josh", "joshua", "joyce", "juan", "judith", "judy"),
        *("julia", "julie", "justin", "karen", "kate", "katherine", "kathleen", "kathryn", "keith", "kelly"),
        *("ken", "kenneth", "kevin", "kim", "kimberly", "kyle", "larry", "laura", "lauren", "lawrence", "lennox"),
        *("leo", "linda", "lisa", "louis", "lucy", "luke", "margaret", "maria", "marie", "marilyn", "mark"),
        *("martha", "mary", "matt", "matthew", "megan", "melissa", "michael", "michelle", "mick", "mike", "naomi"),
        *("nancy", "nathan", "neil", "nicholas", "nick", "nicole", "noah", "oliver", "olivia", "oprah", "otis"),
        *("pamela", "paris", "patricia", "patrick", "paul", "peter", "philip", "rachel", "ralph", "randy"),
        *("raymond", "rebecca", "richard", "rob", "robert", "roger", "ronald", "roy", "russell", "ruth", "ryan"),
        *("sam", "samantha", "samuel", "sandra", "sara", "sarah", "scott", "sean", "serena", "sharon", "shirley"),
        *("simon", "sophia", "stephanie", "stephen", "steve", "steven", "susan", "taylor", "teresa", "terry"),
        *("theresa", "thomas", "tim", "timothy", "tom", "tommy", "tony", "victor", "vincent"),
        *("walter", "warren", "wayne", "william", "willie", "zachary"),
    }
)
"""Common given names (compared case-insensitively; city and country names such as Austin or Jordan are left
out). A company name right after one is a person's surname ("Paris Hilton", "Greg Abbott", "Bill O'Reilly"),
and a one-word company name that is one of them, followed by a capitalised surname, is a person's given name
("Otis Redding", "Lennox Lewis"); neither counts (:data:`HONORIFICS` work like given names)."""

HONORIFICS: frozenset[str] = frozenset(
    {
        *("mr", "mrs", "ms", "miss", "mx", "dr", "sir", "dame", "lady", "lord", "gov", "governor", "sen"),
        *("senator", "rep", "president", "judge", "justice", "prof", "professor", "rev", "reverend", "saint"),
        *("king", "queen", "prince", "princess", "coach"),
    }
)
"""Titles before a surname: "Governor Abbott", "Mr. Dell". Compared case-insensitively, a final dot ignored."""

BRANDS_WITH_A_GIVEN_NAME: frozenset[str] = frozenset({"john deere"})
"""``"<given name> <company name>"`` pairs that are the company's brand, not a person ("John Deere raises
prices"): the given-name rule does not apply to them. Compared case-insensitively."""

# Legal-form suffixes removed (repeatedly) from the end of a company name to get the names people write.
_LEGAL_WORDS = (
    r"inc|incorporated|corp|corporation|co|company|ltd|limited|plc|llc|l\.?p|holdings?|group|s\.?a|a\.?g|n\.?v|se"
)
_LEGAL_SUFFIX = re.compile(rf"(?:,\s*|\s+)(?:{_LEGAL_WORDS})\.?$", re.IGNORECASE)
_CLASS_SUFFIX = re.compile(r",?\s+(?:class|cl\.?|series)\s+[a-z0-9]{1,2}$", re.IGNORECASE)
_LEADING_THE = re.compile(r"^the\s+", re.IGNORECASE)
_TRAILING_JUNK = re.compile(r"(?:[\s,&]|\s+and(?=\s|$))+$", re.IGNORECASE)
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
# Where a sentence or line ends (the unit in which "written all in capitals" and sentence starts are judged).
_SEGMENT_BREAK = re.compile(r"[\r\n]+|(?<=[.!?;:])\s+|\s+[-\u2013\u2014|]\s+")
# What surrounds a name match (see _Reading).
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9&'\u2019-]*")
_ALNUM = re.compile(r"[^\W_]")
_POSSESSIVE_OR_DOT_COM = re.compile(r"['\u2019]s(?!\w)|\.com(?!\w)", re.IGNORECASE)
_TO_VERB = re.compile(r"\s+(?:to|will)\s+([A-Za-z]+)", re.IGNORECASE)
_WORD_BEFORE = re.compile(r"([A-Za-z]+)(\.?)\s+$")
_THE_BEFORE = re.compile(r"(?<!\w)the\s+$", re.IGNORECASE)
_AT_OR_OF_PLACE = re.compile(r"\s+(?:at|of)\s+([A-Za-z])", re.IGNORECASE)
_NEXT_WORDS = re.compile(r"[^\S\n]+([^\s]+)(?:[^\S\n]+([^\s]+))?")
_EDGE_PUNCTUATION = "\"'\u2018\u2019\u201c\u201d()[]{}"
_CLAUSE_PUNCTUATION = ",;:.!?"
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
    | {"eli"}
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
    INC"`` -> ``"O'Reilly Automotive"``, ``"ELI LILLY AND CO"`` -> ``"Eli Lilly"`` (a joining word left at the
    end by a removed suffix goes too). Returns ``""`` for a blank description.
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
    places: frozenset[str]
    """Folded names of :data:`PLACE_NAMES`: need a business signal anywhere."""
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
    # Everyday words are kept as names, but only used before a legal suffix ("Target Corp"); see _name_verdict.
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
    places = frozenset(name for name in names if name in PLACE_NAMES)
    return _Matcher(
        MappingProxyType(by_key),
        MappingProxyType(bare),
        MappingProxyType(names),
        ambiguous,
        never_alone,
        places,
        pattern,
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
        self._starts: list[int] | None = None
        self._phrases: list[tuple[int, int]] | None = None

    @staticmethod
    def _caseless(text: str) -> bool | None:
        """Whether ``text`` is written all in capitals or all in lower case (``None``: too short to tell)."""
        words = _LETTER_WORD.findall(text)
        if len(words) < 3:
            return None
        letters = "".join(words)
        return letters.isupper() or letters.islower()

    @property
    def segments(self) -> list[tuple[int, int, bool]]:
        """``(start, end, caseless)`` of each sentence or line (:data:`_SEGMENT_BREAK`)."""
        if self._segments is None:
            whole = bool(self._caseless(self.text))
            self._segments = []
            start = 0
            for brk in [*_SEGMENT_BREAK.finditer(self.text), None]:
                end = brk.start() if brk else len(self.text)
                judged = self._caseless(self.text[start:end])
                self._segments.append((start, end, whole if judged is None else judged))
                start = brk.end() if brk else end
        return self._segments

    def segment(self, position: int) -> tuple[int, int, bool]:
        """The sentence or line ``position`` lies in (the one before a break it falls inside)."""
        segments = self.segments
        if self._starts is None:
            self._starts = [start for start, _, _ in segments]
        return segments[max(0, bisect_right(self._starts, position) - 1)]

    def caseless_at(self, position: int) -> bool:
        return self.segment(position)[2]

    def at_start(self, position: int) -> bool:
        """Whether ``position`` starts its sentence or line (only quotes or brackets before it there)."""
        return _ALNUM.search(self.text, self.segment(position)[0], position) is None

    def in_phrase(self, start: int, end: int) -> bool:
        if self._phrases is None:
            self._phrases = [m.span() for m in _PHRASES.finditer(self.text)]
        return any(p_start <= start and end <= p_end for p_start, p_end in self._phrases)

    def legal_suffix_follows(self, end: int) -> bool:
        return _LEGAL_FOLLOWS.match(self.text, end) is not None

    def possessive_or_dot_com_follows(self, end: int) -> bool:
        return _POSSESSIVE_OR_DOT_COM.match(self.text, end) is not None

    def business_near(self, start: int, end: int) -> bool:
        """A :data:`BUSINESS_WORDS` word among the :data:`BUSINESS_WORD_REACH` words after ``end`` (past a
        possessive or ``.com``) or as many before ``start``, in the same sentence; or ``to``/``will`` and one
        of the :data:`CORPORATE_VERBS` right after ``end``."""
        seg_start, seg_end, _ = self.segment(start)
        suffix = _POSSESSIVE_OR_DOT_COM.match(self.text, end)
        acts = _TO_VERB.match(self.text, suffix.end() if suffix else end)
        if acts is not None and acts.group(1).lower() in CORPORATE_VERBS:
            return True
        after = _WORD.findall(self.text, suffix.end() if suffix else end, seg_end)[:BUSINESS_WORD_REACH]
        before = _WORD.findall(self.text, seg_start, start)[-BUSINESS_WORD_REACH:]
        return any(_bare_word(word) in BUSINESS_WORDS for word in (*after, *before))

    def next_words(self, end: int) -> tuple[str | None, str | None]:
        """The two words after ``end`` (edge quotes and brackets stripped); the second is ``None`` when the
        first ends a clause ("Oracle Park, ..." has no second word)."""
        found = _NEXT_WORDS.match(self.text, end)
        if found is None:
            return None, None
        first, second = found.group(1).strip(_EDGE_PUNCTUATION), found.group(2)
        if first.endswith(tuple(_CLAUSE_PUNCTUATION)) or second is None:
            return first.rstrip(_CLAUSE_PUNCTUATION), None
        return first, second.strip(_EDGE_PUNCTUATION).rstrip(_CLAUSE_PUNCTUATION)

    def title_case(self, position: int) -> bool:
        """Whether the sentence at ``position`` capitalises every word of four letters or more (and has at
        least three), as Title Case headlines do."""
        seg_start, seg_end, _ = self.segment(position)
        long_words = [w for w in _LETTER_WORD.findall(self.text, seg_start, seg_end) if len(w) >= 4]
        return len(long_words) >= 3 and all(w[0].isupper() for w in long_words)

    def proper_noun_follows(self, end: int, caseless: bool) -> bool:
        """A capitalised word right after ``end`` in a sentence that is not Title Case: the name is part of
        a proper noun ("Amazon Web Services", "Oracle Cloud", "Charles River Labs"), not a common word."""
        first, _ = self.next_words(end)
        return bool(first and not caseless and first[0].isupper() and not self.title_case(end))

    def place_follows(self, end: int, caseless: bool) -> bool:
        """A :data:`PLACE_WORDS` word right after ``end`` ("Globe Life Field"), or a venue after one more
        capitalised word ("PPG Paints Arena"), written with a capital (any case in caseless text)."""
        first, second = self.next_words(end)
        if first and _capitalised(first, caseless) and first.lower() in PLACE_WORDS:
            return True
        return bool(
            first
            and second
            and _capitalised(first, caseless)
            and _capitalised(second, caseless)
            and second.lower() in _VENUE_WORDS
        )

    def the_name_at_or_of_a_place(self, start: int, end: int, caseless: bool) -> bool:
        """``the <name> at|of <Capitalised>``: "the Oracle at Delphi", "the Nvidia of Europe"."""
        if _THE_BEFORE.search(self.text, max(0, start - 8), start) is None:
            return False
        place = _AT_OR_OF_PLACE.match(self.text, end)
        return place is not None and (caseless or place.group(1).isupper())

    def person_before(self, start: int, written: str, caseless: bool) -> bool:
        """A given name or an honorific right before ``start`` ("Paris Hilton", "Gov. Abbott")."""
        before = _WORD_BEFORE.search(self.text, max(0, start - 40), start)
        if before is None or not _capitalised(before.group(1), caseless):
            return False
        word, dot = before.group(1).lower(), before.group(2)
        if f"{word} {_fold(written)}" in BRANDS_WITH_A_GIVEN_NAME:
            return False
        return word in HONORIFICS or (not dot and word in GIVEN_NAMES)

    def surname_follows(self, end: int, caseless: bool) -> bool:
        """A capitalised word right after ``end`` that is neither a business word nor a joining word ("Otis
        Redding")."""
        first, _ = self.next_words(end)
        if not first or not first[0].isalpha() or not _capitalised(first, caseless):
            return False
        if not caseless and not any(c.islower() for c in first):  # an acronym ("Otis CEO"), not a surname
            return False
        word = _bare_word(first)
        return word not in BUSINESS_WORDS and word not in _NAME_GLUE and len(word) > 2


def _capitalised(word: str, caseless: bool) -> bool:
    return caseless or word[:1].isupper()


def _bare_word(word: str) -> str:
    """``word`` as compared with the word lists: lower case, without a possessive or edge punctuation."""
    lowered = word.lower().strip(_EDGE_PUNCTUATION).rstrip(_CLAUSE_PUNCTUATION)
    return lowered[:-2] if lowered.endswith(("'s", "\u2019s")) else lowered


def _written_as_name(written: str) -> bool:
    """Every word of ``written`` that is not a joining word or legal suffix carries a capital."""
    for word in written.split():
        core = word.strip(".,'’()").lower()
        if not core or core in _NAME_GLUE or not any(c.isalpha() for c in core):
            continue
        if not any(c.isupper() for c in word):
            return False
    return True


_ACCEPT, _REJECT, _WITH_ANOTHER_COMPANY = "accept", "reject", "with another company"


def _name_verdict(match: re.Match[str], folded: str, matcher: _Matcher, reading: _Reading) -> str:
    """Whether a company-name match names the company (see the module docstring, "Company names")."""
    start, end = match.span()
    ambiguous, never_alone = folded in matcher.ambiguous, folded in matcher.never_alone
    if reading.in_phrase(start, end):
        return _REJECT
    legal = reading.legal_suffix_follows(end)
    if never_alone and not legal:
        return _REJECT
    caseless = reading.caseless_at(start)
    if caseless:
        # Case says nothing here: only distinctive names, or a word-like one with its legal suffix.
        if ambiguous and not legal:
            return _REJECT
    elif not _written_as_name(match.group()):
        return _REJECT
    if legal:
        return _ACCEPT
    if reading.place_follows(end, caseless) or reading.the_name_at_or_of_a_place(start, end, caseless):
        return _REJECT
    if reading.person_before(start, match.group(), caseless):
        return _REJECT
    if " " not in folded and folded in GIVEN_NAMES and reading.surname_follows(end, caseless):
        return _REJECT
    place = folded in matcher.places
    if ambiguous and (place or reading.at_start(start)):
        # Where case cannot tell a name from a word, an everyday name needs a second sign of a company.
        if (
            reading.business_near(start, end)
            or reading.proper_noun_follows(end, caseless)
            or (not place and reading.possessive_or_dot_com_follows(end))
        ):
            return _ACCEPT
        return _WITH_ANOTHER_COMPANY
    return _ACCEPT


def extract_tickers(text: str, universe: TickerUniverse) -> list[str]:
    """Sorted unique symbols of ``universe`` that ``text`` (plain text, not HTML) names.

    See the module docstring for the rules. Example, with a universe holding ``AXQT``, ``NOW`` and ``GHXV``:
    ``"Nowlane Software (NYSE: NOW) beats; $GHXV and AXQT rally, IT stocks lag now"`` ->
    ``["AXQT", "GHXV", "NOW"]``.
    """
    if not text:
        return []
    matcher = universe._matcher
    # (position, symbol) of every piece of evidence; names that need another company named beside them wait.
    found: list[tuple[int, str]] = []
    waiting: list[tuple[int, tuple[str, ...]]] = []

    # The cheap `in` tests skip a regex scan when its marker character is absent (most headlines).
    if "$" in text:
        for match in _CASHTAG.finditer(text):
            _add(found, match.start(), universe.resolve(match.group(1)))

    if ":" in text:
        for match in _EXCHANGE_TAG.finditer(text):
            written = _LIST_SEPARATOR.split(match.group("list"))
            # Outside brackets, a comma may start ordinary prose: only the first symbol is the tag's.
            for symbol in written if match.group("closed") is not None else written[:1]:
                _add(found, match.start(), universe.resolve(symbol))

    if "(" in text:
        for match in _PAREN_TICKER.finditer(text):
            _add(found, match.start(), universe.resolve(match.group(1)))

    reading = _Reading(text)
    doubted: set[tuple[int, int]] = set()  # spans of name matches not accepted on their own
    if matcher.name_pattern is not None:
        for match in matcher.name_pattern.finditer(text):
            folded = _fold(match.group())
            owners = matcher.names.get(folded, ())
            if not owners:
                continue
            verdict = _name_verdict(match, folded, matcher, reading)
            if verdict == _ACCEPT:
                found.extend((match.start(), symbol) for symbol in owners)
                continue
            doubted.add(match.span())
            if verdict == _WITH_ANOTHER_COMPANY:
                waiting.append((match.start(), owners))

    for match in _BARE_TOKEN.finditer(text):
        # Exact spelling only (no suffix fallback): a bare token is weak evidence. A symbol that spells its
        # company's name is judged as that name ("OTIS REDDING"), and "PNC Park" is a place.
        symbol = matcher.bare.get(_key(match.group(1)))
        if symbol is None or match.span(1) in doubted:
            continue
        if not reading.place_follows(match.end(), reading.caseless_at(match.start())):
            found.append((match.start(), symbol))

    symbols = {symbol for _, symbol in found}
    for position, owners in waiting:
        seg_start, seg_end, _ = reading.segment(position)
        if any(seg_start <= at <= seg_end and symbol not in owners for at, symbol in found):
            symbols.update(owners)
    return sorted(symbols)


def _add(found: list[tuple[int, str]], position: int, symbol: str | None) -> None:
    if symbol is not None:
        found.append((position, symbol))
