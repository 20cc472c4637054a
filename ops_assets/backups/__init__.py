"""Backups of the central store: a nightly dump to the object store, checked by restoring it (the restore drill)."""
