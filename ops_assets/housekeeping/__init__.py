"""Housekeeping: the platform tidying up after itself (old runs and their event logs)."""
