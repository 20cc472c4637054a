"""Alpha Vantage's error and throttle bodies, word for word.

Every one of them comes back with **HTTP 200**; only the JSON body says what went wrong. The wording is
Alpha Vantage's own (see ``/work/shared/reference/alpha-vantage.md``): the client classifies on it and the
sample server serves it, so both sides share these constants.

Functions build the bodies that embed a value (the function name, or — for the daily quota — the caller's
API key, which the client must never repeat).
"""

from __future__ import annotations

from typing import Any

PREMIUM_URL = "https://www.alphavantage.co/premium/"
DOCUMENTATION_URL = "https://www.alphavantage.co/documentation/"
API_KEY_URL = "https://www.alphavantage.co/support/#api-key"


def INVALID_API_CALL(function: str) -> dict[str, Any]:
    """Bad symbol, or a function that does not apply to it (also: delisted symbols)."""
    return {
        "Error Message": (
            f"Invalid API call. Please retry or visit the documentation ({DOCUMENTATION_URL}) for {function}."
        )
    }


INVALID_API_KEY: dict[str, Any] = {
    "Error Message": (
        "the parameter apikey is invalid or missing. Please claim your free API key on "
        f"({API_KEY_URL}). It should take less than 20 seconds."
    )
}


def DAILY_QUOTA(key: str) -> dict[str, Any]:
    """Free daily quota spent. NOTE: Alpha Vantage echoes the caller's key in this body."""
    return {
        "Information": (
            f"We have detected your API key as {key} and our standard API rate limit is 25 requests per "
            f"day. Please subscribe to any of the premium plans at {PREMIUM_URL} to instantly remove all "
            "daily rate limits."
        )
    }


BURST_LIMIT: dict[str, Any] = {
    "Information": (
        "Thank you for using Alpha Vantage! Please consider spreading out your free API requests more "
        "sparingly (1 request per second). You may subscribe to any of the premium plans at "
        f"{PREMIUM_URL} to lift the free key rate limit (25 requests per day), raise the per-second burst "
        "limit, and enable all premium features."
    )
}
"""Burst limit. NOTE: it also mentions "25 requests per day": classify it before the daily quota."""

PREMIUM_ENDPOINT: dict[str, Any] = {
    "Information": (
        "Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe to any of the "
        f"premium plans at {PREMIUM_URL} to instantly unlock all premium endpoints"
    )
}


def PREMIUM_OUTPUTSIZE(function: str) -> dict[str, Any]:
    """``outputsize=full`` asked for on a plan without it (TIME_SERIES_DAILY)."""
    return {
        "Information": (
            "Thank you for using Alpha Vantage! The outputsize=full parameter value is a premium feature "
            f"for the {function} endpoint. You may subscribe to any of the premium plans at {PREMIUM_URL} "
            "to instantly unlock all premium features"
        )
    }


DEMO_KEY: dict[str, Any] = {
    "Information": (
        "The **demo** API key is for demo purposes only. Please claim your free API key at "
        f"({API_KEY_URL}) to explore our full API offerings. It takes fewer than 20 seconds."
    )
}

NOTE_THROTTLE: dict[str, Any] = {
    "Note": (
        "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 "
        f"calls per day. Please visit {PREMIUM_URL} if you would like to target a higher API call frequency."
    )
}
"""Older form of the throttle message."""

UNKNOWN_SYMBOL: dict[str, Any] = {}
"""What OVERVIEW (and a few others) answer for a symbol they do not know."""

__all__ = [
    "BURST_LIMIT",
    "DAILY_QUOTA",
    "DEMO_KEY",
    "INVALID_API_CALL",
    "INVALID_API_KEY",
    "NOTE_THROTTLE",
    "PREMIUM_ENDPOINT",
    "PREMIUM_OUTPUTSIZE",
    "UNKNOWN_SYMBOL",
]
