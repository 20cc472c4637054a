"""``OpsPlatform-<stage>``: the whole platform on AWS in one stack.

Layout (``docs/DEPLOY.md``, "Infrastructure", says what each part is for):

- network: VPC (public subnets for the ALB and NAT only; ``app`` subnets with egress for the tasks; isolated
  ``data`` subnets for RDS and Redis), S3/DynamoDB gateway endpoints, flow logs;
- data: the platform bucket (``OPS_BUCKET``: ``ttm-artifacts/``, ``forecasting/``, ``backups/`` and the desk
  feed's seed-004 layout), the compute-log bucket, the access-log bucket, the desk queue (+ DLQ), the four
  DynamoDB history tables, RDS PostgreSQL 15, ElastiCache Redis (cluster mode disabled), secrets, SNS;
- compute: ECR, the ECS cluster, five Fargate services (webserver behind the ALB, daemon, code-location server
  on Cloud Map, forecast endpoint behind the ALB, desk service), the run task definition for ``EcsRunLauncher``
  and the one-off database-init task;
- monitoring: log metric filters, alarms to SNS, the billing alarm, a dashboard.

Security groups (who may open a connection to whom) are in :func:`OpsPlatformStack._network`; the table in
``docs/DEPLOY.md`` repeats it. IAM: one task role per service and one for runs, each statement naming its actions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import (
    Annotations,
    CfnOutput,
    CfnParameter,
    Duration,
    Fn,
    RemovalPolicy,
    SecretValue,
    Stack,
)
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_servicediscovery as servicediscovery
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ops_infra.config import StageConfig

PG_USER = "dagster"
# PostgreSQL 15 so that the image's Debian postgresql-client-15 pg_dump can dump it (pg_dump refuses newer servers);
# a full minor version because RDS no longer creates instances from the bare "15" (cfn-lint W3691).
PG_VERSION = rds.PostgresEngineVersion.of("15.17", "15")
DAGSTER_DB = "dagster"
CENTRAL_DB = "ops"
CODE_SERVER_PORT = 4000
WEBSERVER_PORT = 3000
ENDPOINT_PORT = 8080
REDIS_PORT = 6379
# The ALB paths that go to the forecast endpoint: every route it serves (tests/infra compares them with the app's).
ENDPOINT_PATHS = ("/forecast/*", "/forecast", "/predict", "/health")
RUN_CONTAINER = "run"
ALPHA_VANTAGE_PARAMETER = "/avpipeline/alpha-vantage-api-key"
TTM_PREFIX = "ttm-artifacts/"
DESK_LANDING_PREFIXES = ("market-data/", "eod/", "sod/")
DESK_PREFIXES = (*DESK_LANDING_PREFIXES, "working-orders/", "processed/", "quarantine/")
FORECASTING_PREFIX = "forecasting/"
# What the Dagster daemon (dagster 1.13, dagster/_daemon/) logs right before it marks a run failed, by reason: the
# terms of one log line (all must match). With max_resume_run_attempts 0 and max_user_code_failure_retries 0
# (infra/dagster.yaml) each of these lines is followed by the run's failure. tests/infra checks the texts against
# the installed dagster.
DAEMON_RUN_FAILURE_LINES: dict[str, tuple[str, ...]] = {
    "StartTimeout": ("Run timed out due to taking longer than",),
    "WorkerFailed": ("Detected run worker status", "as failed"),
    "MaxRuntime": ("has exceeded maximum runtime of",),
    "LaunchError": ("Caught an error dequeuing run",),
}
# The TT secret's placeholder api_key until the real credentials are put (docs/DEPLOY.md).
TT_PLACEHOLDER_KEY = "placeholder-put-the-real-tt-api-key"

# The desk history tables (resources/desk_history.py, DynamoDbDeskHistory.table_definitions):
# name, partition key, sort key, sort key type, TTL attribute. tests/infra compares them with the code's.
DESK_TABLES = (
    ("ActantMarketData", "instrument_id", "timestamp", dynamodb.AttributeType.NUMBER, None),
    ("ActantEODData", "instrument_id", "timestamp", dynamodb.AttributeType.NUMBER, None),
    ("ActantSODData", "account_date", "instrument_id", dynamodb.AttributeType.STRING, None),
    ("TTWorkingOrders", "order_id", "timestamp", dynamodb.AttributeType.NUMBER, "expire_time"),
)
SOURCE_INDEX = "source_key-index"

# Characters left out of the generated database password: it is embedded in OPS_CENTRAL_STORE_URL (a URL), so
# nothing that URL syntax gives a meaning to.
URL_UNSAFE = " %+~`#$&*()|[]{}:;<>?!'/@\"\\=,^"

# Read-only Python health probes (the image has no curl).
HTTP_PROBE = (
    "import sys,urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout=4); sys.exit(0)"
)


_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


def _retention(days: int) -> logs.RetentionDays:
    try:
        return _RETENTION[days]
    except KeyError:
        raise ValueError(f"log_retention_days must be one of {sorted(_RETENTION)}, got {days}") from None


@dataclass
class _Service:
    name: str
    service: ecs.FargateService
    task_definition: ecs.FargateTaskDefinition
    log_group: logs.LogGroup


class OpsPlatformStack(Stack):
    """The platform for one stage; ``config`` holds the stage's sizes (:func:`ops_infra.config.stage_config`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        image_tag: str = "latest",
        bootstrap: bool = False,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.stage = config.stage
        self.prefix = f"ops-platform-{config.stage}"
        self.image_tag = image_tag
        self.bootstrap = bootstrap
        self.prod = config.stage == "prod"
        cdk.Tags.of(self).add("project", "ops-platform")
        cdk.Tags.of(self).add("stage", config.stage)
        if image_tag == "latest":
            Annotations.of(self).add_warning_v2(
                "ops:image-tag",
                "image_tag is 'latest': pass -c image_tag=<git sha> (the ECR repository's tags are immutable, so "
                "'latest' can be pushed once only).",
            )

        self._parameters()
        self._key()
        self._network()
        self._buckets()
        self._queue()
        self._tables()
        self._secrets_and_topic()
        self._database()
        self._redis()
        self._compute()
        self._monitoring()
        self._outputs()

    # ------------------------------------------------------------------------------------------------ parameters

    def _parameters(self) -> None:
        """Deploy-time values (the seeds' Terraform variables); changing one needs no re-synthesis or rebuild."""
        self.alert_email = CfnParameter(
            self,
            "AlertEmail",
            type="String",
            description="E-mail address subscribed to the notification topic (confirm the subscription mail).",
            allowed_pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
            constraint_description="an e-mail address",
        )
        self.etf_symbol = CfnParameter(
            self, "EtfSymbol", type="String", default="QQQ", description="OPS_FUNDAMENTALS_ETF_SYMBOL (seed 001)."
        )
        self.start_date = CfnParameter(
            self,
            "StartDate",
            type="String",
            default="2004-12-31",
            allowed_pattern=r"^\d{4}-\d{2}-\d{2}$",
            description="OPS_FUNDAMENTALS_START_DATE, YYYY-MM-DD (seed 001).",
        )
        self.news_feeds = CfnParameter(
            self,
            "NewsFeeds",
            type="String",
            no_echo=True,  # feed URLs can carry tokens
            min_length=1,
            description="OPS_NEWS_FEEDS: name=url pairs separated by ';' (or a JSON object).",
        )
        self.watched_tickers = CfnParameter(
            self,
            "WatchedTickers",
            type="String",
            min_length=1,
            description="OPS_MARKETS_WATCHED_TICKERS: comma-separated tickers with 5-minute telemetry.",
        )
        self.forecast_tickers = CfnParameter(
            self, "ForecastTickers", type="String", default="AMZN", description="OPS_FORECASTING_TICKERS."
        )
        self.tt_api_url = CfnParameter(
            self,
            "TtApiUrl",
            type="String",
            default="https://api.tradingtechnologies.com",
            allowed_pattern=r"^https://.+",
            description="OPS_TT_API_URL: the TT REST API root (seed 004).",
        )

    # ------------------------------------------------------------------------------------------------ KMS

    def _key(self) -> None:
        """One customer-managed key for SNS, SQS and CloudWatch Logs (AWS-managed keys cannot admit CloudWatch
        alarms or S3 notifications)."""
        self.key = kms.Key(
            self,
            "PlatformKey",
            alias=f"alias/{self.prefix}",
            description=f"ops-platform {self.stage}: SNS, SQS and log encryption",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN if self.prod else RemovalPolicy.DESTROY,
        )
        logs_arn = f"arn:{self.partition}:logs:{self.region}:{self.account}:*"
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogs",
                principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncryptFrom",
                    "kms:ReEncryptTo",
                    "kms:GenerateDataKey",
                    "kms:DescribeKey",
                ],
                resources=["*"],
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": logs_arn}},
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsToSns",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
            )
        )

    def _log_group(self, name: str) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            f"Logs{name.title().replace('-', '')}",
            log_group_name=f"/ecs/{self.prefix}/{name}",
            retention=_retention(self.config.log_retention_days),
            encryption_key=self.key,
            removal_policy=RemovalPolicy.RETAIN if self.prod else RemovalPolicy.DESTROY,
        )

    # ------------------------------------------------------------------------------------------------ network

    def _network(self) -> None:
        cfg = self.config
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.40.0.0/16"),
            max_azs=cfg.max_azs,
            nat_gateways=cfg.nat_gateways,
            # The custom resource that empties the default SG needs a Lambda; its rules are removed by the
            # deploy instructions instead (docs/DEPLOY.md, "Security scan findings").
            restrict_default_security_group=False,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20),
                ec2.SubnetConfiguration(name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ],
            gateway_endpoints={
                # Free, and S3/DynamoDB traffic (desk files, history writes) stays off the NAT gateway's per-GB fee.
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
                "DynamoDB": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB),
            },
        )
        flow_logs = logs.LogGroup(
            self,
            "FlowLogs",
            log_group_name=f"/vpc/{self.prefix}/flow-logs",
            retention=_retention(self.config.log_retention_days),
            encryption_key=self.key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
        self.app_subnets = ec2.SubnetSelection(subnet_group_name="app")
        self.data_subnets = ec2.SubnetSelection(subnet_group_name="data")

        def sg(name: str, description: str, *, outbound: bool) -> ec2.SecurityGroup:
            return ec2.SecurityGroup(
                self, f"{name}Sg", vpc=self.vpc, description=description, allow_all_outbound=outbound
            )

        # Tasks need outbound HTTPS to AWS APIs and the outside sources (Alpha Vantage, RSS, Yahoo, TT).
        self.alb_sg = sg("Alb", "ALB: HTTP(S) from ingress_cidr", outbound=False)
        self.webserver_sg = sg("Webserver", "Dagster webserver: 3000 from the ALB", outbound=True)
        self.endpoint_sg = sg("Endpoint", "Forecast endpoint: 8080 from the ALB", outbound=True)
        self.code_sg = sg("CodeServer", "Code-location server: gRPC 4000 from webserver and daemon", outbound=True)
        # EcsRunLauncher gives each run task the network configuration of the task that launches it (the daemon),
        # so the daemon and the run tasks share one group.
        self.workers_sg = sg("Workers", "Dagster daemon and run tasks: no inbound", outbound=True)
        self.desk_sg = sg("Desk", "Desk service: no inbound", outbound=True)
        self.db_sg = sg("Database", "PostgreSQL: 5432 from Dagster processes only", outbound=False)
        self.redis_sg = sg("Redis", "Redis: 6379 from the desk service and pipeline runs only", outbound=False)

        self.alb_sg.add_ingress_rule(ec2.Peer.ipv4(cfg.ingress_cidr), ec2.Port.tcp(80), "HTTP (redirect or app)")
        if cfg.certificate_arn:
            self.alb_sg.add_ingress_rule(ec2.Peer.ipv4(cfg.ingress_cidr), ec2.Port.tcp(443), "HTTPS")
        if cfg.ingress_cidr == "0.0.0.0/0":
            Annotations.of(self).add_warning_v2(
                "ops:open-ingress",
                "The ALB admits 0.0.0.0/0 and Dagster's webserver has no login: pass -c ingress_cidr=<office/VPN "
                "CIDR> or put an authenticating proxy in front.",
            )
        self.alb_sg.add_egress_rule(self.webserver_sg, ec2.Port.tcp(WEBSERVER_PORT), "to the webserver")
        self.alb_sg.add_egress_rule(self.endpoint_sg, ec2.Port.tcp(ENDPOINT_PORT), "to the forecast endpoint")
        self.webserver_sg.add_ingress_rule(self.alb_sg, ec2.Port.tcp(WEBSERVER_PORT), "from the ALB")
        self.endpoint_sg.add_ingress_rule(self.alb_sg, ec2.Port.tcp(ENDPOINT_PORT), "from the ALB")
        for peer, why in ((self.webserver_sg, "webserver"), (self.workers_sg, "daemon")):
            self.code_sg.add_ingress_rule(peer, ec2.Port.tcp(CODE_SERVER_PORT), f"gRPC from the {why}")
        # Dagster's storage: webserver, daemon/runs and the code server (inline runs write events).
        for peer, why in (
            (self.webserver_sg, "webserver"),
            (self.workers_sg, "daemon and runs"),
            (self.code_sg, "code server"),
        ):
            self.db_sg.add_ingress_rule(peer, ec2.Port.tcp(5432), f"PostgreSQL from the {why}")
        # Redis: the desk service and the desk jobs (run tasks and inline runs on the code server).
        for peer, why in (
            (self.desk_sg, "desk service"),
            (self.workers_sg, "run tasks"),
            (self.code_sg, "inline runs"),
        ):
            self.redis_sg.add_ingress_rule(peer, ec2.Port.tcp(REDIS_PORT), f"Redis from the {why}")

    # ------------------------------------------------------------------------------------------------ S3

    def _bucket(self, name: str, **kwargs: object) -> s3.Bucket:
        kwargs.setdefault("object_ownership", s3.ObjectOwnership.BUCKET_OWNER_ENFORCED)
        return s3.Bucket(
            self,
            name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            removal_policy=RemovalPolicy.RETAIN,
            **kwargs,
        )

    def _buckets(self) -> None:
        self.access_logs = self._bucket(
            "AccessLogs",
            # ALB access logs are written with SSE-S3 only; S3 server access logs are admitted by bucket policy.
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(90))],
        )
        desk_rules = [
            s3.LifecycleRule(
                id=f"archive-{prefix.rstrip('/')}",
                prefix=prefix,
                transitions=[s3.Transition(storage_class=s3.StorageClass.GLACIER, transition_after=Duration.days(30))],
            )
            for prefix in DESK_PREFIXES
        ]
        self.data_bucket = self._bucket(
            "Data",
            # Versioning protects the model registry, backups and artifacts from an overwrite or a delete;
            # noncurrent versions go after 30 days so the desk's moves (landing -> processed/) cost nothing lasting.
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="s3/data/",
            lifecycle_rules=[
                s3.LifecycleRule(id="ttm-artifacts-30-days", prefix=TTM_PREFIX, expiration=Duration.days(30)),
                *desk_rules,
                s3.LifecycleRule(
                    id="noncurrent-30-days",
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                    expired_object_delete_marker=True,
                ),
            ],
        )
        self.compute_logs = self._bucket(
            "ComputeLogs",
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="s3/compute-logs/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-compute-logs",
                    expiration=Duration.days(self.config.compute_log_days),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )

    def _queue(self) -> None:
        """The desk's landing notifications: S3 object-created on market-data/, eod/, sod/ -> SQS (+ DLQ)."""
        self.desk_dlq = sqs.Queue(
            self,
            "DeskDeadLetters",
            queue_name=f"{self.prefix}-desk-files-dlq",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.desk_queue = sqs.Queue(
            self,
            "DeskFiles",
            queue_name=f"{self.prefix}-desk-files",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            # Above the slowest file's processing (ops_assets.desk.consumer.SqsArrivals).
            visibility_timeout=Duration.seconds(60),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=10, queue=self.desk_dlq),
        )
        for prefix in DESK_LANDING_PREFIXES:
            self.data_bucket.add_event_notification(
                s3.EventType.OBJECT_CREATED,
                s3n.SqsDestination(self.desk_queue),
                s3.NotificationKeyFilter(prefix=prefix),
            )
        # CDK's notification resource and handler carry a DependsOn next to the GetAtt that already orders them.
        for path in (
            "Data/Notifications/Resource",
            "BucketNotificationsHandler050a0587b7544547bf325f094a3db834/Resource",
        ):
            resource = self.node.try_find_child(path.split("/")[0])
            for part in path.split("/")[1:]:
                resource = resource.node.try_find_child(part) if resource else None
            if isinstance(resource, cdk.CfnResource):
                resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})

    # ------------------------------------------------------------------------------------------------ DynamoDB

    def _tables(self) -> None:
        self.tables: list[dynamodb.Table] = []
        for name, pk, sk, sk_type, ttl in DESK_TABLES:
            table = dynamodb.Table(
                self,
                name,
                table_name=f"{name}-{self.stage}",
                partition_key=dynamodb.Attribute(name=pk, type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name=sk, type=sk_type),
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                time_to_live_attribute=ttl,
                deletion_protection=self.prod,
                removal_policy=RemovalPolicy.RETAIN,
            )
            table.add_global_secondary_index(
                index_name=SOURCE_INDEX,
                partition_key=dynamodb.Attribute(name="source_key", type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name=sk, type=sk_type),
                projection_type=dynamodb.ProjectionType.KEYS_ONLY,
            )
            self.tables.append(table)

    # ------------------------------------------------------------------------------------------------ secrets, SNS

    def _secrets_and_topic(self) -> None:
        self.tt_secret = secretsmanager.Secret(
            self,
            "TtApiSecret",
            secret_name=f"{self.prefix}/tt-api",
            encryption_key=self.key,
            description='TT REST API credentials: put {"api_key": ..., "api_secret": ...} after the first deploy.',
            # A JSON placeholder of the shape the code reads (resources/working_orders.py), so the desk service sees
            # a well-formed secret; the deploy command's last message says to put the real credentials here.
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"api_key": TT_PLACEHOLDER_KEY}),
                generate_string_key="api_secret",
                exclude_punctuation=True,
                password_length=32,
            ),
            removal_policy=RemovalPolicy.RETAIN if self.prod else RemovalPolicy.DESTROY,
        )
        self.redis_secret = secretsmanager.Secret(
            self,
            "RedisAuthSecret",
            secret_name=f"{self.prefix}/redis",
            encryption_key=self.key,
            description='Redis AUTH token (ElastiCache): {"auth_token": ...}',
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template="{}",
                generate_string_key="auth_token",
                exclude_punctuation=True,  # ElastiCache refuses @ " / and spaces in a token
                password_length=64,
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        # OPS_NEWS_FEEDS: feed URLs can carry tokens, so the value goes from the NoEcho parameter into a secret
        # (CloudFormation writes it; the template holds only the parameter reference) and containers get it through
        # ECS `secrets`, never in a task definition's plain environment (readable with ecs:DescribeTaskDefinition).
        self.news_feeds_secret = secretsmanager.Secret(
            self,
            "NewsFeedsSecret",
            secret_name=f"{self.prefix}/news-feeds",
            encryption_key=self.key,
            description="OPS_NEWS_FEEDS (from the NoEcho NewsFeeds parameter)",
            secret_string_value=SecretValue.cfn_parameter(self.news_feeds),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.topic = sns.Topic(
            self,
            "Notifications",
            topic_name=f"financial-pipeline-notifications-{self.stage}",
            display_name="Ops platform",
            master_key=self.key,
            enforce_ssl=True,
        )
        self.topic.add_subscription(subscriptions.EmailSubscription(self.alert_email.value_as_string))

    # ------------------------------------------------------------------------------------------------ RDS

    def _database(self) -> None:
        cfg = self.config
        instance_id = f"{self.prefix}-postgres"
        parameters = rds.ParameterGroup(
            self,
            "PostgresParameters",
            engine=rds.DatabaseInstanceEngine.postgres(version=PG_VERSION),
            parameters={"rds.force_ssl": "1", "log_min_duration_statement": "2000", "log_connections": "1"},
        )
        db_logs = logs.LogGroup(
            self,
            "PostgresLogs",
            # The name RDS writes its exported log to; created here so that it has a retention.
            log_group_name=f"/aws/rds/instance/{instance_id}/postgresql",
            retention=_retention(cfg.log_retention_days),
            encryption_key=self.key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.db = rds.DatabaseInstance(
            self,
            "Postgres",
            instance_identifier=instance_id,
            engine=rds.DatabaseInstanceEngine.postgres(version=PG_VERSION),
            instance_type=ec2.InstanceType(cfg.db_instance_class),
            vpc=self.vpc,
            vpc_subnets=self.data_subnets,
            security_groups=[self.db_sg],
            credentials=rds.Credentials.from_generated_secret(
                PG_USER,
                secret_name=f"{self.prefix}/postgres",
                exclude_characters=URL_UNSAFE,
                encryption_key=self.key,
            ),
            database_name=DAGSTER_DB,
            parameter_group=parameters,
            allocated_storage=cfg.db_allocated_gib,
            max_allocated_storage=cfg.db_max_allocated_gib,
            storage_type=rds.StorageType.GP3,
            storage_encrypted=True,
            multi_az=cfg.db_multi_az,
            publicly_accessible=False,
            backup_retention=Duration.days(cfg.db_backup_days),
            preferred_backup_window="03:00-04:00",
            copy_tags_to_snapshot=True,
            delete_automated_backups=not self.prod,
            deletion_protection=cfg.deletion_protection,
            removal_policy=RemovalPolicy.SNAPSHOT,
            auto_minor_version_upgrade=True,
            iam_authentication=True,
            cloudwatch_logs_exports=["postgresql"],
            enable_performance_insights=self.prod,
            monitoring_interval=Duration.seconds(60),
        )
        self.db.node.add_dependency(db_logs)
        self.db_secret = self.db.secret
        # OPS_CENTRAL_STORE_URL: the event pipeline's database on the same instance (its own Alembic history
        # must not share Dagster's alembic_version table). CloudFormation resolves the password reference when it
        # writes this secret; the template holds only the reference.
        password = self.db_secret.secret_value_from_json("password").unsafe_unwrap()
        url = Fn.join(
            "",
            [
                f"postgresql+psycopg2://{PG_USER}:",
                password,
                "@",
                self.db.db_instance_endpoint_address,
                ":",
                self.db.db_instance_endpoint_port,
                f"/{CENTRAL_DB}?sslmode=require",
            ],
        )
        self.central_url_secret = secretsmanager.Secret(
            self,
            "CentralStoreUrl",
            secret_name=f"{self.prefix}/central-store-url",
            encryption_key=self.key,
            description="OPS_CENTRAL_STORE_URL (SQLAlchemy URL with the RDS password)",
            secret_string_value=SecretValue.unsafe_plain_text(url),
            removal_policy=RemovalPolicy.DESTROY,
        )

    # ------------------------------------------------------------------------------------------------ Redis

    def _redis(self) -> None:
        cfg = self.config
        subnets = elasticache.CfnSubnetGroup(
            self,
            "RedisSubnets",
            description="Redis: isolated data subnets",
            subnet_ids=self.vpc.select_subnets(subnet_group_name="data").subnet_ids,
        )
        redis_logs = logs.LogGroup(
            self,
            "RedisSlowLog",
            log_group_name=f"/elasticache/{self.prefix}/slow-log",
            retention=_retention(cfg.log_retention_days),
            encryption_key=self.key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        replicas = cfg.redis_replicas
        self.redis = elasticache.CfnReplicationGroup(
            self,
            "Redis",
            replication_group_description=f"ops-platform {self.stage} desk dashboard cache",
            engine="redis",
            engine_version="7.1",
            # Cluster mode disabled: one shard, a primary endpoint; redis-py here is not cluster-aware.
            cluster_mode="disabled",
            cache_node_type=cfg.redis_node_type,
            num_cache_clusters=1 + replicas,
            automatic_failover_enabled=replicas > 0,
            multi_az_enabled=replicas > 0,
            cache_subnet_group_name=subnets.ref,
            security_group_ids=[self.redis_sg.security_group_id],
            port=REDIS_PORT,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            at_rest_encryption_enabled=True,
            auth_token=self.redis_secret.secret_value_from_json("auth_token").unsafe_unwrap(),
            auto_minor_version_upgrade=True,
            snapshot_retention_limit=7 if self.prod else 1,
            log_delivery_configurations=[
                elasticache.CfnReplicationGroup.LogDeliveryConfigurationRequestProperty(
                    destination_type="cloudwatch-logs",
                    log_format="json",
                    log_type="slow-log",
                    destination_details=elasticache.CfnReplicationGroup.DestinationDetailsProperty(
                        cloud_watch_logs_details=elasticache.CfnReplicationGroup.CloudWatchLogsDestinationDetailsProperty(
                            log_group=redis_logs.log_group_name
                        )
                    ),
                )
            ],
        )

    # ------------------------------------------------------------------------------------------------ IAM helpers

    def _s3_statements(
        self, bucket: s3.IBucket, prefixes: tuple[str, ...], *, write: bool
    ) -> list[iam.PolicyStatement]:
        objects = [bucket.arn_for_objects(f"{p}*") for p in prefixes]
        statements = [
            iam.PolicyStatement(actions=["s3:GetObject"], resources=objects),
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes] + [""]}}
                if prefixes != ("",)
                else None,
            ),
        ]
        if write:
            statements.append(iam.PolicyStatement(actions=["s3:PutObject", "s3:DeleteObject"], resources=objects))
        return statements

    def _desk_data_statements(self) -> list[iam.PolicyStatement]:
        """The desk's Redis and TT credentials and its DynamoDB history tables (with the source-key index): what the
        desk service and the pipeline runs (the day's replay and checks) both need."""
        table_arns = [t.table_arn for t in self.tables] + [f"{t.table_arn}/index/{SOURCE_INDEX}" for t in self.tables]
        return [
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                resources=[self.redis_secret.secret_arn, self.tt_secret.secret_arn],
            ),
            iam.PolicyStatement(
                actions=[
                    "dynamodb:GetItem",
                    "dynamodb:Query",
                    "dynamodb:DescribeTable",
                    "dynamodb:PutItem",
                    "dynamodb:BatchWriteItem",
                    "dynamodb:UpdateItem",
                ],
                resources=table_arns,
            ),
        ]

    def _pipeline_statements(self) -> list[iam.PolicyStatement]:
        """What a pipeline run needs (run tasks and inline runs on the code server)."""
        return [
            *self._s3_statements(self.data_bucket, ("",), write=True),
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[self.compute_logs.arn_for_objects("*")]),
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn]),
            iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[self.key.key_arn]),
            iam.PolicyStatement(
                actions=["ssm:GetParameter"],
                resources=[f"arn:{self.partition}:ssm:{self.region}:{self.account}:parameter{ALPHA_VANTAGE_PARAMETER}"],
            ),
            # The SecureString's default key (aws/ssm): decrypt through SSM only.
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[f"arn:{self.partition}:kms:{self.region}:{self.account}:key/*"],
                conditions={"StringEquals": {"kms:ViaService": f"ssm.{self.region}.amazonaws.com"}},
            ),
            *self._desk_data_statements(),
        ]

    def _task_role(self, name: str, statements: list[iam.PolicyStatement]) -> iam.Role:
        role = iam.Role(
            self,
            f"{name}TaskRole",
            role_name=f"{self.prefix}-{name.lower()}-task",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description=f"ops-platform {self.stage}: {name} containers",
        )
        for statement in statements:
            role.add_to_policy(statement)
        return role

    def _execution_role(self, name: str) -> iam.Role:
        return iam.Role(
            self,
            f"{name}ExecutionRole",
            role_name=f"{self.prefix}-{name.lower()}-exec",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description=f"ops-platform {self.stage}: pull the image, write logs, inject secrets for {name}",
        )

    # ------------------------------------------------------------------------------------------------ ECS

    def _compute(self) -> None:
        cfg = self.config
        self.repository = ecr.Repository(
            self,
            "Repository",
            repository_name=self.prefix,
            image_scan_on_push=True,
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                ecr.LifecycleRule(
                    rule_priority=1,
                    description="untagged images after 7 days",
                    tag_status=ecr.TagStatus.UNTAGGED,
                    max_image_age=Duration.days(7),
                ),
                ecr.LifecycleRule(
                    rule_priority=2,
                    description="keep the newest 10 images",
                    tag_status=ecr.TagStatus.ANY,
                    max_image_count=10,
                ),
            ],
        )
        self.image = ecs.ContainerImage.from_ecr_repository(self.repository, self.image_tag)
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            cluster_name=self.prefix,
            vpc=self.vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED
            if cfg.container_insights
            else ecs.ContainerInsights.DISABLED,
        )
        self.namespace = servicediscovery.PrivateDnsNamespace(
            self, "Namespace", name=f"ops-{self.stage}.local", vpc=self.vpc, description="ops-platform services"
        )
        self.code_server_host = f"code-server.ops-{self.stage}.local"

        self._alb()

        # -- roles (one per service, one for runs)
        self.run_role = self._task_role("Run", self._pipeline_statements())
        self.run_exec_role = self._execution_role("Run")
        code_role = self._task_role("CodeServer", self._pipeline_statements())
        code_exec = self._execution_role("CodeServer")
        daemon_role = self._task_role("Daemon", [])
        webserver_role = self._task_role("Webserver", self._s3_statements(self.compute_logs, ("",), write=False))
        endpoint_role = self._task_role(
            "Endpoint", self._s3_statements(self.data_bucket, (FORECASTING_PREFIX,), write=False)
        )
        desk_role = self._task_role("Desk", self._desk_statements())

        # -- the run task definition (EcsRunLauncher: container "run"; per-job tags override cpu/memory/disk)
        run_logs = self._log_group("run")
        self.run_logs = run_logs
        self.run_task = ecs.FargateTaskDefinition(
            self,
            "RunTask",
            family=f"{self.prefix}-run",
            cpu=cfg.run_cpu,
            memory_limit_mib=cfg.run_memory,
            ephemeral_storage_gib=cfg.run_ephemeral_gib,
            task_role=self.run_role,
            execution_role=self.run_exec_role,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64, operating_system_family=ecs.OperatingSystemFamily.LINUX
            ),
        )
        # A run task's own env names its family, not its ARN (a task definition cannot reference itself).
        self.run_task.add_container(
            RUN_CONTAINER,
            image=self.image,
            logging=ecs.LogDrivers.aws_logs(stream_prefix="run", log_group=run_logs),
            environment=self._dagster_environment(run_task_definition=f"{self.prefix}-run"),
            secrets=self._secrets(dagster=True),
            readonly_root_filesystem=False,
        )
        run_task_arn = self.run_task.task_definition_arn

        def launcher_statements(launch: bool) -> list[iam.PolicyStatement]:
            family_arn = f"arn:{self.partition}:ecs:{self.region}:{self.account}:task-definition/{self.prefix}-run:*"
            task_arn = f"arn:{self.partition}:ecs:{self.region}:{self.account}:task/{self.prefix}/*"
            cluster_cond = {"ArnEquals": {"ecs:cluster": self.cluster.cluster_arn}}
            statements = [
                iam.PolicyStatement(actions=["ecs:DescribeTasks", "ecs:StopTask"], resources=[task_arn]),
                # Read-only calls that IAM cannot scope to a resource.
                iam.PolicyStatement(
                    # (infra/dagster.yaml sets secrets_tag: null, so no secretsmanager:ListSecrets.)
                    actions=["ecs:DescribeTaskDefinition", "ec2:DescribeNetworkInterfaces"],
                    resources=["*"],
                ),
            ]
            if launch:
                statements += [
                    iam.PolicyStatement(actions=["ecs:RunTask"], resources=[family_arn], conditions=cluster_cond),
                    iam.PolicyStatement(
                        actions=["ecs:TagResource"],
                        resources=[task_arn],
                        conditions={"StringEquals": {"ecs:CreateAction": "RunTask"}},
                    ),
                    iam.PolicyStatement(
                        actions=["iam:PassRole"],
                        resources=[self.run_role.role_arn, self.run_exec_role.role_arn],
                        conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
                    ),
                ]
            return statements

        # With the QueuedRunCoordinator every launch happens in the daemon (EcsRunLauncher copies the daemon task's
        # network configuration); the webserver only stops runs.
        for statement in launcher_statements(launch=True):
            daemon_role.add_to_policy(statement)
        for statement in launcher_statements(launch=False):
            webserver_role.add_to_policy(statement)

        code_port = str(CODE_SERVER_PORT)
        # infra/workspace.yaml: the code-location service over gRPC (DAGSTER_CODE_SERVER_HOST, port 4000) under the
        # location name `ops_assets`, the same as locally.
        grpc = ["-w", "infra/workspace.yaml"]
        dagster_env = self._dagster_environment(run_task_definition=run_task_arn)

        self.code_service = self._service(
            "code-server",
            cpu=cfg.code_server_cpu,
            memory=cfg.code_server_memory,
            task_role=code_role,
            execution_role=code_exec,
            command=None,  # the image's CMD: dagster code-server start -h 0.0.0.0 -p 4000 -m ops_assets.definitions
            environment=dagster_env,
            secrets=self._secrets(dagster=True),
            port=CODE_SERVER_PORT,
            health=["CMD", "dagster", "api", "grpc-health-check", "-p", code_port],
            security_group=self.code_sg,
            desired=1,
            cloud_map=True,
        )
        self.daemon_service = self._service(
            "daemon",
            cpu=cfg.daemon_cpu,
            memory=cfg.daemon_memory,
            task_role=daemon_role,
            execution_role=self._execution_role("Daemon"),
            command=["dagster-daemon", "run", *grpc],
            environment=dagster_env,
            secrets=self._secrets(dagster=True),
            port=None,
            health=["CMD", "dagster-daemon", "liveness-check"],
            security_group=self.workers_sg,
            desired=1,
            singleton=True,
        )
        self.webserver_service = self._service(
            "webserver",
            cpu=cfg.webserver_cpu,
            memory=cfg.webserver_memory,
            task_role=webserver_role,
            execution_role=self._execution_role("Webserver"),
            command=["dagster-webserver", "-h", "0.0.0.0", "-p", str(WEBSERVER_PORT), *grpc],
            environment=dagster_env,
            secrets=self._secrets(dagster=True),
            port=WEBSERVER_PORT,
            health=["CMD", "python", "-c", HTTP_PROBE.format(port=WEBSERVER_PORT, path="/server_info")],
            security_group=self.webserver_sg,
            desired=cfg.webserver_min,
        )
        endpoint_env = {
            **self._ops_environment(),
            "OPS_FORECAST_ENDPOINT_HOST": "0.0.0.0",
            "OPS_FORECAST_ENDPOINT_PORT": str(ENDPOINT_PORT),
        }
        self.endpoint_service = self._service(
            "forecast-endpoint",
            cpu=cfg.endpoint_cpu,
            memory=cfg.endpoint_memory,
            task_role=endpoint_role,
            execution_role=self._execution_role("Endpoint"),
            command=["python", "scripts/serve_forecasts.py"],
            environment=endpoint_env,
            secrets=self._secrets(dagster=False),
            port=ENDPOINT_PORT,
            health=["CMD", "python", "-c", HTTP_PROBE.format(port=ENDPOINT_PORT, path="/health")],
            security_group=self.endpoint_sg,
            desired=cfg.endpoint_min,
        )
        self.desk_service = self._service(
            "desk",
            cpu=cfg.desk_cpu,
            memory=cfg.desk_memory,
            task_role=desk_role,
            execution_role=self._execution_role("Desk"),
            command=["python", "scripts/desk_service.py"],
            environment={
                **self._ops_environment(),
                "OPS_DESK_QUEUE_URL": self.desk_queue.queue_url,
                "OPS_DESK_SQS_WAIT_SECONDS": "1",
            },
            secrets=self._secrets(dagster=False),
            port=None,
            health=None,
            security_group=self.desk_sg,
            desired=1,
            # Two snapshotters would write every snapshot twice.
            singleton=True,
        )

        # -- one-off: create the central store's database (run once after the first deploy; idempotent)
        init_logs = self._log_group("db-init")
        self.db_init_task = ecs.FargateTaskDefinition(
            self,
            "DbInitTask",
            family=f"{self.prefix}-db-init",
            cpu=256,
            memory_limit_mib=512,
            task_role=self._task_role("DbInit", []),
            execution_role=self._execution_role("DbInit"),
        )
        create_db = (
            "import os,psycopg2;"
            "c=psycopg2.connect(host=os.environ['DAGSTER_PG_HOST'],port=os.environ['DAGSTER_PG_PORT'],"
            "user=os.environ['DAGSTER_PG_USER'],password=os.environ['DAGSTER_PG_PASSWORD'],"
            "dbname=os.environ['DAGSTER_PG_DB'],sslmode='require');"
            "c.autocommit=True;k=c.cursor();"
            f"k.execute(\"select 1 from pg_database where datname='{CENTRAL_DB}'\");"
            f"k.fetchone() or k.execute('create database {CENTRAL_DB}');"
            f"print('database {CENTRAL_DB} ready')"
        )
        self.db_init_task.add_container(
            "db-init",
            image=self.image,
            command=["python", "-c", create_db],
            logging=ecs.LogDrivers.aws_logs(stream_prefix="db-init", log_group=init_logs),
            environment=self._pg_environment(),
            secrets={"DAGSTER_PG_PASSWORD": ecs.Secret.from_secrets_manager(self.db_secret, "password")},
        )

        self._load_balancer()

    def _desk_statements(self) -> list[iam.PolicyStatement]:
        return [
            *self._s3_statements(self.data_bucket, DESK_PREFIXES, write=True),
            iam.PolicyStatement(
                actions=[
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                    "sqs:GetQueueUrl",
                ],
                resources=[self.desk_queue.queue_arn],
            ),
            iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[self.key.key_arn]),
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn]),
            *self._desk_data_statements(),
        ]

    # ------------------------------------------------------------------------------------------------ environment

    def _pg_environment(self) -> dict[str, str]:
        return {
            "DAGSTER_PG_HOST": self.db.db_instance_endpoint_address,
            "DAGSTER_PG_PORT": self.db.db_instance_endpoint_port,
            "DAGSTER_PG_USER": PG_USER,
            "DAGSTER_PG_DB": DAGSTER_DB,
        }

    def _ops_environment(self) -> dict[str, str]:
        """OPS_ENV=aws and every setting it requires (ops_assets.environments.REQUIRED_IN_AWS), minus the secrets
        OPS_CENTRAL_STORE_URL and OPS_NEWS_FEEDS (injected from Secrets Manager, :meth:`_secrets`)."""
        return {
            "OPS_ENV": "aws",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "OPS_BUCKET": self.data_bucket.bucket_name,
            "OPS_SNS_TOPIC_ARN": self.topic.topic_arn,
            "OPS_MARKETS_WATCHED_TICKERS": self.watched_tickers.value_as_string,
            "OPS_REDIS_HOST": self.redis.attr_primary_end_point_address,
            "OPS_REDIS_PORT": self.redis.attr_primary_end_point_port,
            "OPS_REDIS_SECRET": self.redis_secret.secret_name,
            "OPS_TT_API_URL": self.tt_api_url.value_as_string,
            "OPS_TT_SECRET": self.tt_secret.secret_name,
            "OPS_DESK_TABLE_SUFFIX": self.stage,
            "OPS_FUNDAMENTALS_ETF_SYMBOL": self.etf_symbol.value_as_string,
            "OPS_FUNDAMENTALS_START_DATE": self.start_date.value_as_string,
            "OPS_FORECASTING_TICKERS": self.forecast_tickers.value_as_string,
            "OPS_CODE_VERSION": self.image_tag,
            # Alert links (ops_assets.monitoring) point at the webserver through the ALB, not localhost.
            "OPS_UI_BASE_URL": self.url,
        }

    def _dagster_environment(self, run_task_definition: str) -> dict[str, str]:
        return {
            **self._ops_environment(),
            **self._pg_environment(),
            "DAGSTER_RUN_TASK_DEFINITION": run_task_definition,
            "DAGSTER_RUN_CONTAINER": RUN_CONTAINER,
            "DAGSTER_COMPUTE_LOGS_BUCKET": self.compute_logs.bucket_name,
            "DAGSTER_CODE_SERVER_HOST": self.code_server_host,
            "DAGSTER_CODE_SERVER_PORT": str(CODE_SERVER_PORT),
        }

    def _secrets(self, *, dagster: bool) -> dict[str, ecs.Secret]:
        secrets = {
            "OPS_CENTRAL_STORE_URL": ecs.Secret.from_secrets_manager(self.central_url_secret),
            "OPS_NEWS_FEEDS": ecs.Secret.from_secrets_manager(self.news_feeds_secret),
        }
        if dagster:
            secrets["DAGSTER_PG_PASSWORD"] = ecs.Secret.from_secrets_manager(self.db_secret, "password")
        return secrets

    def _service(
        self,
        name: str,
        *,
        cpu: int,
        memory: int,
        task_role: iam.IRole,
        execution_role: iam.IRole,
        command: list[str] | None,
        environment: dict[str, str],
        secrets: dict[str, ecs.Secret],
        port: int | None,
        health: list[str] | None,
        security_group: ec2.ISecurityGroup,
        desired: int,
        cloud_map: bool = False,
        singleton: bool = False,
    ) -> _Service:
        log_group = self._log_group(name)
        task = ecs.FargateTaskDefinition(
            self,
            f"{name.title().replace('-', '')}Task",
            family=f"{self.prefix}-{name}",
            cpu=cpu,
            memory_limit_mib=memory,
            task_role=task_role,
            execution_role=execution_role,
        )
        container = task.add_container(
            name,
            image=self.image,
            command=command,
            logging=ecs.LogDrivers.aws_logs(stream_prefix=name, log_group=log_group),
            environment=environment,
            secrets=secrets,
            health_check=ecs.HealthCheck(
                command=health,
                interval=Duration.seconds(30),
                timeout=Duration.seconds(10),
                retries=3,
                start_period=Duration.seconds(120),
            )
            if health
            else None,
            stop_timeout=Duration.seconds(60),
        )
        if port:
            container.add_port_mappings(ecs.PortMapping(container_port=port, name=name))
        service = ecs.FargateService(
            self,
            f"{name.title().replace('-', '')}Service",
            service_name=f"{self.prefix}-{name}",
            cluster=self.cluster,
            task_definition=task,
            desired_count=0 if self.bootstrap else desired,
            security_groups=[security_group],
            vpc_subnets=self.app_subnets,
            assign_public_ip=False,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            # A singleton stops before its replacement starts (never two daemons or two snapshotters).
            min_healthy_percent=0 if singleton else 100,
            max_healthy_percent=100 if singleton else 200,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
            enable_ecs_managed_tags=True,
            cloud_map_options=ecs.CloudMapOptions(
                name="code-server",
                cloud_map_namespace=self.namespace,
                dns_record_type=servicediscovery.DnsRecordType.A,
                dns_ttl=Duration.seconds(10),
            )
            if cloud_map
            else None,
        )
        return _Service(name=name, service=service, task_definition=task, log_group=log_group)

    # ------------------------------------------------------------------------------------------------ ALB

    def _alb(self) -> None:
        """The load balancer and its URL, before the services: their ``OPS_UI_BASE_URL`` is this URL (alert links
        point at the webserver behind it). Listeners and target groups: :meth:`_load_balancer`."""
        self.alb = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            load_balancer_name=self.prefix,
            vpc=self.vpc,
            internet_facing=True,
            security_group=self.alb_sg,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            drop_invalid_header_fields=True,
            deletion_protection=self.prod,
        )
        self.alb.log_access_logs(self.access_logs, prefix="alb")
        scheme = "https" if self.config.certificate_arn else "http"
        self.url = f"{scheme}://{self.alb.load_balancer_dns_name}"

    def _load_balancer(self) -> None:
        cfg = self.config
        webserver_tg = elbv2.ApplicationTargetGroup(
            self,
            "WebserverTargets",
            vpc=self.vpc,
            port=WEBSERVER_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            targets=[self.webserver_service.service],
            health_check=elbv2.HealthCheck(path="/server_info", healthy_http_codes="200"),
            deregistration_delay=Duration.seconds(30),
        )
        endpoint_tg = elbv2.ApplicationTargetGroup(
            self,
            "EndpointTargets",
            vpc=self.vpc,
            port=ENDPOINT_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            targets=[self.endpoint_service.service],
            health_check=elbv2.HealthCheck(path="/health", healthy_http_codes="200"),
            deregistration_delay=Duration.seconds(30),
        )
        self.target_groups = {"webserver": webserver_tg, "forecast-endpoint": endpoint_tg}
        if cfg.certificate_arn:
            listener = self.alb.add_listener(
                "Https",
                port=443,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[acm.Certificate.from_certificate_arn(self, "Certificate", cfg.certificate_arn)],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
                default_target_groups=[webserver_tg],
                open=False,
            )
            self.alb.add_listener(
                "HttpRedirect",
                port=80,
                open=False,
                default_action=elbv2.ListenerAction.redirect(protocol="HTTPS", port="443", permanent=True),
            )
        else:
            Annotations.of(self).add_warning_v2(
                "ops:no-https",
                "No certificate_arn: the ALB serves plain HTTP. Pass -c certificate_arn=<ACM ARN> for HTTPS.",
            )
            listener = self.alb.add_listener(
                "Http",
                port=80,
                protocol=elbv2.ApplicationProtocol.HTTP,
                default_target_groups=[webserver_tg],
                open=False,
            )
        # Every path the endpoint serves (ops_assets/forecasting/endpoint.py: GET /forecast/{ticker}, POST /predict,
        # GET /health); the webserver serves none of them. Everything else goes to the webserver.
        listener.add_target_groups(
            "Forecasts",
            priority=10,
            conditions=[elbv2.ListenerCondition.path_patterns(list(ENDPOINT_PATHS))],
            target_groups=[endpoint_tg],
        )

        # Autoscaling where a service serves requests (not in the bootstrap deploy: it would start tasks before an
        # image exists).
        scaled = (
            ()
            if self.bootstrap
            else (
                (self.webserver_service, webserver_tg, cfg.webserver_min, cfg.webserver_max),
                (self.endpoint_service, endpoint_tg, cfg.endpoint_min, cfg.endpoint_max),
            )
        )
        for svc, tg, low, high in scaled:
            scaling = svc.service.auto_scale_task_count(min_capacity=low, max_capacity=high)
            scaling.scale_on_cpu_utilization(
                f"{svc.name}-cpu", target_utilization_percent=60, scale_in_cooldown=Duration.minutes(5)
            )
            scaling.scale_on_request_count(f"{svc.name}-requests", requests_per_target=500, target_group=tg)
        _ = appscaling  # scaling targets are created by auto_scale_task_count

    # ------------------------------------------------------------------------------------------------ monitoring

    def _monitoring(self) -> None:
        action = cw_actions.SnsAction(self.topic)
        namespace = f"OpsPlatform/{self.stage}"
        # A run worker logs RUN_FAILURE when its run fails: in the run task's log (ECS runs) and in the code
        # server's (inline runs). A run the daemon fails (start timeout, dead worker, max runtime, ECS launch
        # error) gets its failure event in the database only (DagsterInstance.report_run_failed logs nothing), so
        # no RUN_FAILURE line appears anywhere: the daemon's log is matched on the line it writes just before it
        # marks such a run failed (DAEMON_RUN_FAILURE_LINES). One metric, all sources.
        failed_runs = cw.Metric(
            namespace=namespace, metric_name="FailedRuns", statistic="Sum", period=Duration.minutes(5)
        )
        for svc_log, name in ((self.run_logs, "Run"), (self.code_service.log_group, "CodeServer")):
            logs.MetricFilter(
                self,
                f"FailedRunsFrom{name}",
                log_group=svc_log,
                metric_namespace=namespace,
                metric_name="FailedRuns",
                filter_pattern=logs.FilterPattern.literal('"RUN_FAILURE"'),
                metric_value="1",
                default_value=0,
            )
        for reason, terms in DAEMON_RUN_FAILURE_LINES.items():
            logs.MetricFilter(
                self,
                f"FailedRunsFromDaemon{reason}",
                log_group=self.daemon_service.log_group,
                metric_namespace=namespace,
                metric_name="FailedRuns",
                filter_pattern=logs.FilterPattern.all_terms(*terms),
                metric_value="1",
                default_value=0,
            )
        alarms: list[cw.Alarm] = []

        def alarm(
            name: str, metric: cw.IMetric, threshold: float, op: cw.ComparisonOperator, desc: str, **kw: object
        ) -> cw.Alarm:
            a = cw.Alarm(
                self,
                name,
                alarm_name=f"{self.prefix}-{name}",
                alarm_description=desc,
                metric=metric,
                threshold=threshold,
                comparison_operator=op,
                evaluation_periods=kw.pop("periods", 1),
                treat_missing_data=kw.pop("missing", cw.TreatMissingData.NOT_BREACHING),
                **kw,
            )
            a.add_alarm_action(action)
            alarms.append(a)
            return a

        gte = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        gt = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
        lt = cw.ComparisonOperator.LESS_THAN_THRESHOLD
        alarm(
            "failed-runs",
            failed_runs,
            1,
            gte,
            "A Dagster run failed (RUN_FAILURE in the run or code-server log, or the daemon failed it).",
        )
        # RunningTaskCount exists only with Container Insights; without it these alarms would have no data ever, and
        # missing data counts as breaching (below), so they would be in alarm for good: no alarm then.
        if not self.config.container_insights:
            Annotations.of(self).add_warning_v2(
                "ops:no-running-alarms",
                "container_insights is off: no <service>-not-running alarms (their metric comes from Container "
                "Insights); the ALB's unhealthy-target alarms still cover the webserver and the forecast endpoint.",
            )
        for svc in self._services() if self.config.container_insights else ():
            running = cw.Metric(
                namespace="ECS/ContainerInsights",
                metric_name="RunningTaskCount",
                dimensions_map={"ClusterName": self.cluster.cluster_name, "ServiceName": svc.service.service_name},
                statistic="Minimum",
                period=Duration.minutes(1),
            )
            alarm(
                f"{svc.name}-not-running",
                running,
                1,
                lt,
                f"{svc.name}: no healthy task running (unhealthy tasks are replaced; this one keeps failing).",
                periods=5,
                # With Container Insights on, a service with no task reports nothing: missing data is the failure
                # (except in the bootstrap deploy, where every service is at 0 tasks on purpose).
                missing=cw.TreatMissingData.BREACHING if not self.bootstrap else cw.TreatMissingData.NOT_BREACHING,
            )
        for name, tg in self.target_groups.items():
            alarm(
                f"{name}-unhealthy-targets",
                tg.metrics.unhealthy_host_count(period=Duration.minutes(1), statistic="Maximum"),
                1,
                gte,
                f"{name}: the ALB sees an unhealthy target.",
                periods=3,
            )
        alarm(
            "rds-free-storage",
            self.db.metric_free_storage_space(period=Duration.minutes(5)),
            2 * 1024**3,
            lt,
            "RDS free storage below 2 GiB (autoscaling storage has reached its maximum?).",
        )
        alarm(
            "rds-cpu",
            self.db.metric_cpu_utilization(period=Duration.minutes(5)),
            80,
            gt,
            "RDS CPU above 80 %.",
            periods=3,
        )
        alarm(
            "desk-queue-age",
            self.desk_queue.metric_approximate_age_of_oldest_message(period=Duration.minutes(1), statistic="Maximum"),
            120,
            gt,
            "A landed desk file has waited over 2 minutes (the seed's goal is 2 s): is the desk service running?",
            periods=2,
        )
        alarm(
            "desk-dead-letters",
            self.desk_dlq.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            1,
            gte,
            "A desk notification failed 10 receives and went to the dead-letter queue.",
        )
        if self.region == "us-east-1":
            # AWS/Billing exists only in us-east-1 (enable "Receive Billing Alerts" in the account first).
            alarm(
                "billing",
                cw.Metric(
                    namespace="AWS/Billing",
                    metric_name="EstimatedCharges",
                    dimensions_map={"Currency": "USD"},
                    statistic="Maximum",
                    period=Duration.hours(6),
                ),
                self.config.billing_threshold_usd,
                gt,
                f"Estimated charges this month above {self.config.billing_threshold_usd} USD (whole account).",
            )
        else:
            Annotations.of(self).add_warning_v2(
                "ops:billing-alarm", "The billing alarm needs us-east-1 (AWS/Billing is published there only)."
            )

        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=self.prefix)
        dashboard.add_widgets(
            cw.GraphWidget(title="Failed runs", left=[failed_runs], width=8),
            cw.GraphWidget(
                title="Desk queue: oldest message (s), dead letters",
                left=[self.desk_queue.metric_approximate_age_of_oldest_message()],
                right=[self.desk_dlq.metric_approximate_number_of_messages_visible()],
                width=8,
            ),
            cw.GraphWidget(
                title="Forecast endpoint and webserver requests",
                left=[tg.metrics.request_count() for tg in self.target_groups.values()],
                right=[tg.metrics.target_response_time() for tg in self.target_groups.values()],
                width=8,
            ),
        )
        dashboard.add_widgets(
            cw.GraphWidget(
                title="ECS CPU %",
                left=[s.service.metric_cpu_utilization() for s in self._services()],
                width=8,
            ),
            cw.GraphWidget(
                title="ECS memory %",
                left=[s.service.metric_memory_utilization() for s in self._services()],
                width=8,
            ),
            cw.GraphWidget(
                title="RDS CPU %, free storage",
                left=[self.db.metric_cpu_utilization()],
                right=[self.db.metric_free_storage_space()],
                width=8,
            ),
        )
        dashboard.add_widgets(
            cw.GraphWidget(
                title="DynamoDB writes (history tables)",
                left=[t.metric_consumed_write_capacity_units() for t in self.tables],
                width=12,
            ),
            cw.AlarmStatusWidget(title="Alarms", alarms=alarms, width=12),
        )

    def _services(self) -> list[_Service]:
        return [
            self.webserver_service,
            self.daemon_service,
            self.code_service,
            self.endpoint_service,
            self.desk_service,
        ]

    # ------------------------------------------------------------------------------------------------ outputs

    def _outputs(self) -> None:
        outputs = {
            "EcrRepositoryName": self.repository.repository_name,
            "EcrRepositoryUri": self.repository.repository_uri,
            "ClusterName": self.cluster.cluster_name,
            "WebserverServiceName": self.webserver_service.service.service_name,
            "DaemonServiceName": self.daemon_service.service.service_name,
            "CodeServerServiceName": self.code_service.service.service_name,
            "ForecastEndpointServiceName": self.endpoint_service.service.service_name,
            "DeskServiceName": self.desk_service.service.service_name,
            "RunTaskDefinitionArn": self.run_task.task_definition_arn,
            "DbInitTaskDefinitionArn": self.db_init_task.task_definition_arn,
            "AppSubnetIds": Fn.join(",", self.vpc.select_subnets(subnet_group_name="app").subnet_ids),
            "WorkersSecurityGroupId": self.workers_sg.security_group_id,
            "WebserverUrl": self.url,
            "DataBucketName": self.data_bucket.bucket_name,
            "ComputeLogsBucketName": self.compute_logs.bucket_name,
            "NotificationTopicArn": self.topic.topic_arn,
            "DeskQueueUrl": self.desk_queue.queue_url,
            "DatabaseSecretArn": self.db_secret.secret_arn,
            "TtApiSecretName": self.tt_secret.secret_name,
            "AlphaVantageParameterName": ALPHA_VANTAGE_PARAMETER,
        }
        for key, value in outputs.items():
            CfnOutput(self, key, value=value)
