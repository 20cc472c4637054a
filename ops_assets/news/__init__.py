"""News events: RSS/Atom feed items parsed, identified by a stable ``event_uid`` and deduplicated."""
