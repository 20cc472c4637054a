"""Watching the platform itself: freshness expectations per cadence and the alerts when they are missed."""
