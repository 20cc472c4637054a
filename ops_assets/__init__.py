"""The ``ops_assets`` Dagster code location: one asset graph for the platform's data systems."""
