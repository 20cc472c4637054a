"""Sizes and switches per stage (seed 003: dev / staging / prod), overridable by CDK context (``-c key=value``).

Deploy-time values that an operator changes without re-synthesizing (e-mail, ETF symbol, feeds, tickers, ...) are
CloudFormation parameters in the stack instead (:mod:`ops_infra.stack`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

STAGES = ("dev", "staging", "prod")


@dataclass(frozen=True)
class StageConfig:
    """Everything that differs between stages. Sizes are Fargate/RDS/ElastiCache units."""

    stage: str
    region: str = "us-east-1"
    # Network: one NAT gateway outside prod (cost), one per AZ in prod (an AZ outage keeps egress).
    max_azs: int = 2
    nat_gateways: int = 1
    # Fargate task sizes (cpu units / MiB).
    webserver_cpu: int = 512
    webserver_memory: int = 1024
    daemon_cpu: int = 512
    daemon_memory: int = 1024
    # The code server also executes the inline-routed minutely / 5-minutely runs (the routing launcher).
    code_server_cpu: int = 1024
    code_server_memory: int = 4096
    endpoint_cpu: int = 512
    endpoint_memory: int = 2048
    desk_cpu: int = 512
    desk_memory: int = 1024
    # The run task definition's defaults; per-job tags override them (weekly TTM: 2 vCPU, 4 GB, 30 GB).
    run_cpu: int = 1024
    run_memory: int = 4096
    run_ephemeral_gib: int = 30
    # Services that serve requests scale between these counts.
    webserver_min: int = 1
    webserver_max: int = 2
    endpoint_min: int = 1
    endpoint_max: int = 3
    # RDS PostgreSQL 15 (the image's pg_dump is postgresql-client-15).
    db_instance_class: str = "t4g.micro"
    db_allocated_gib: int = 20
    db_max_allocated_gib: int = 100
    db_multi_az: bool = False
    db_backup_days: int = 7
    deletion_protection: bool = False
    # ElastiCache Redis, cluster mode disabled (redis-py here is not cluster-aware).
    redis_node_type: str = "cache.t4g.micro"
    redis_replicas: int = 0
    # CloudWatch Logs retention (days) and S3 retention of Dagster compute logs.
    log_retention_days: int = 14
    compute_log_days: int = 30
    # The webserver's HTTPS certificate (ACM ARN); empty: HTTP with a synth-time warning.
    certificate_arn: str = ""
    # Who may reach the ALB. Dagster's webserver has no login of its own: narrow this to the office / VPN.
    ingress_cidr: str = "0.0.0.0/0"
    # Billing alarm threshold (USD, month to date); the metric exists in us-east-1 only.
    billing_threshold_usd: int = 300
    container_insights: bool = True


DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {},
    "staging": {
        "db_instance_class": "t4g.small",
        "redis_node_type": "cache.t4g.small",
        "log_retention_days": 30,
        "compute_log_days": 60,
        "billing_threshold_usd": 350,
    },
    "prod": {
        "nat_gateways": 2,
        "webserver_min": 2,
        "webserver_max": 4,
        "endpoint_min": 2,
        "endpoint_max": 6,
        "db_instance_class": "t4g.medium",
        "db_allocated_gib": 50,
        "db_max_allocated_gib": 500,
        "db_multi_az": True,
        "db_backup_days": 14,
        "deletion_protection": True,
        "redis_node_type": "cache.t4g.small",
        "redis_replicas": 1,
        "log_retention_days": 90,
        "compute_log_days": 90,
        "billing_threshold_usd": 600,
    },
}


def _coerce(value: Any, like: Any, key: str) -> Any:
    if isinstance(like, bool):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"context {key}={value!r} is not a boolean (true/false)")
        return text in ("true", "1", "yes")
    if isinstance(like, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError(f"context {key}={value!r} is not an integer") from None
    return str(value)


def stage_config(stage: str, context: dict[str, Any] | None = None) -> StageConfig:
    """The stage's defaults with any context key of the same name applied (``-c db_instance_class=t4g.small``)."""
    if stage not in STAGES:
        raise ValueError(f"stage {stage!r} is not one of {', '.join(STAGES)} (pass -c stage=dev|staging|prod)")
    config = replace(StageConfig(stage=stage), **DEFAULTS[stage])
    overrides = {}
    for field in fields(StageConfig):
        if field.name != "stage" and context and context.get(field.name) is not None:
            overrides[field.name] = _coerce(context[field.name], getattr(config, field.name), field.name)
    config = replace(config, **overrides)
    if config.redis_replicas < 0 or config.redis_replicas > 5:
        raise ValueError("redis_replicas must be 0-5")
    if config.webserver_min > config.webserver_max or config.endpoint_min > config.endpoint_max:
        raise ValueError("a service's min count exceeds its max")
    return config
