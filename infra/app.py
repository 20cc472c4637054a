#!/usr/bin/env python3
"""CDK entry point: ``npx aws-cdk@<version> synth -c stage=dev`` (or staging / prod) from ``infra/``.

Context keys (``-c key=value``): ``stage`` (required: dev, staging, prod), ``image_tag`` (the image's tag in the
stack's ECR repository, default ``latest``), ``bootstrap=true`` (every service at 0 tasks: the first deploy, before
an image has been pushed), ``region`` and any field of :class:`ops_infra.config.StageConfig` (e.g.
``certificate_arn``, ``ingress_cidr``, ``run_cpu``, ``db_instance_class``). The stack is ``OpsPlatform-<stage>``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aws_cdk as cdk
from ops_infra.config import stage_config
from ops_infra.stack import OpsPlatformStack


def build(app: cdk.App) -> OpsPlatformStack:
    """The stage's stack in ``app`` (tests call this with their own App)."""
    stage = app.node.try_get_context("stage")
    if not stage:
        raise SystemExit("Pass the stage: npx aws-cdk synth -c stage=dev|staging|prod")
    context = {
        key: app.node.try_get_context(key)
        for key in (
            "region",
            "max_azs",
            "nat_gateways",
            "webserver_cpu",
            "webserver_memory",
            "daemon_cpu",
            "daemon_memory",
            "code_server_cpu",
            "code_server_memory",
            "endpoint_cpu",
            "endpoint_memory",
            "desk_cpu",
            "desk_memory",
            "run_cpu",
            "run_memory",
            "run_ephemeral_gib",
            "webserver_min",
            "webserver_max",
            "endpoint_min",
            "endpoint_max",
            "db_instance_class",
            "db_allocated_gib",
            "db_max_allocated_gib",
            "db_multi_az",
            "db_backup_days",
            "deletion_protection",
            "redis_node_type",
            "redis_replicas",
            "log_retention_days",
            "compute_log_days",
            "certificate_arn",
            "ingress_cidr",
            "billing_threshold_usd",
            "container_insights",
        )
    }
    try:
        config = stage_config(stage, context)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    bootstrap = str(app.node.try_get_context("bootstrap") or "false").lower() in ("1", "true", "yes")
    return OpsPlatformStack(
        app,
        f"OpsPlatform-{config.stage}",
        config=config,
        image_tag=str(app.node.try_get_context("image_tag") or "latest"),
        bootstrap=bootstrap,
        env=cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=config.region),
        description=f"ops platform ({config.stage}): Dagster on ECS Fargate, RDS, Redis, S3, DynamoDB, SQS, SNS",
        termination_protection=config.stage == "prod",
    )


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
