"""Offline sample sources: deterministic generators in the exact shapes of the outside APIs, and local
HTTP servers that serve them (so clients are exercised over real HTTP without any network)."""
