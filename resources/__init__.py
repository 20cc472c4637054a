"""Resources: one module per outside system, each a Dagster ``ConfigurableResource``.

Which implementation runs (local folder or S3, outbox or SNS, environment or SSM) is decided in one
place, :mod:`ops_assets.environments`; assets only see the interfaces defined here.
"""
