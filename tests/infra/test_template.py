"""Template assertions (aws_cdk.assertions) on every security- and retention-relevant property of the stack."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from tests.infra.conftest import INFRA, PROD_CERTIFICATE, REPO, STAGES, Synthesized

DAGSTER_CONTAINERS = ("webserver", "daemon", "code-server", "run")


@pytest.fixture(scope="module")
def templates(synthesized: dict[str, Synthesized]) -> dict[str, Template]:
    return {stage: Template.from_json(s.template) for stage, s in synthesized.items()}


def _one(s: Synthesized, type_: str, predicate: Any = None) -> tuple[str, dict[str, Any]]:
    found = [(k, v) for k, v in s.resources(type_).items() if predicate is None or predicate(v)]
    assert len(found) == 1, f"expected one {type_}, found {[k for k, _ in found]}"
    return found[0]


def _containers(s: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        c["Name"]: c
        for td in s.resources("AWS::ECS::TaskDefinition").values()
        for c in td["Properties"]["ContainerDefinitions"]
    }


def _task_definition(s: Synthesized, container: str) -> tuple[str, dict[str, Any]]:
    return _one(
        s,
        "AWS::ECS::TaskDefinition",
        lambda td: any(c["Name"] == container for c in td["Properties"]["ContainerDefinitions"]),
    )


def _sg_id(s: Synthesized, description_start: str) -> str:
    return _one(
        s, "AWS::EC2::SecurityGroup", lambda r: r["Properties"]["GroupDescription"].startswith(description_start)
    )[0]


def _ingress(s: Synthesized, sg: str) -> list[dict[str, Any]]:
    """Every ingress rule of a security group (inline and separate AWS::EC2::SecurityGroupIngress)."""
    rules = list(s.template["Resources"][sg]["Properties"].get("SecurityGroupIngress", []))
    for r in s.resources("AWS::EC2::SecurityGroupIngress").values():
        target = r["Properties"]["GroupId"]
        if target == {"Fn::GetAtt": [sg, "GroupId"]}:
            rules.append(r["Properties"])
    return rules


def _source(rule: dict[str, Any]) -> str:
    return rule["SourceSecurityGroupId"]["Fn::GetAtt"][0]


# ------------------------------------------------------------------------------------------------ network


@pytest.mark.parametrize("stage", STAGES)
def test_redis_admits_only_the_desk_service_and_pipeline_runs(synthesized, stage):
    """Seed 004 "external Redis access -> timeout": no CIDR may reach Redis, only three security groups, on 6379."""
    s = synthesized[stage]
    redis_sg = _sg_id(s, "Redis")
    rules = _ingress(s, redis_sg)
    assert {_source(r) for r in rules} == {_sg_id(s, "Desk"), _sg_id(s, "Dagster daemon"), _sg_id(s, "Code-location")}
    assert all(r["FromPort"] == r["ToPort"] == 6379 and "CidrIp" not in r and "CidrIpv6" not in r for r in rules)
    # No egress either (CDK's "disallow all" placeholder rule).
    assert s.template["Resources"][redis_sg]["Properties"]["SecurityGroupEgress"][0]["CidrIp"] == "255.255.255.255/32"
    _, redis = _one(s, "AWS::ElastiCache::ReplicationGroup")
    assert redis["Properties"]["SecurityGroupIds"] == [{"Fn::GetAtt": [redis_sg, "GroupId"]}]


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_load_balancer_accepts_traffic_from_an_address_range(synthesized, stage):
    s = synthesized[stage]
    alb_sg = _sg_id(s, "ALB")
    for sg in s.resources("AWS::EC2::SecurityGroup"):
        for rule in _ingress(s, sg):
            if "CidrIp" in rule or "CidrIpv6" in rule:
                assert sg == alb_sg, f"{sg} admits an address range: {rule}"
                assert rule["FromPort"] in (80, 443)
    expected = "203.0.113.0/24" if stage == "prod" else "0.0.0.0/0"
    assert {r["CidrIp"] for r in _ingress(s, alb_sg)} == {expected}


@pytest.mark.parametrize("stage", STAGES)
def test_database_admits_dagster_processes_only(synthesized, stage):
    s = synthesized[stage]
    rules = _ingress(s, _sg_id(s, "PostgreSQL"))
    assert {_source(r) for r in rules} == {
        _sg_id(s, "Dagster webserver"),
        _sg_id(s, "Dagster daemon"),
        _sg_id(s, "Code-location"),
    }
    assert all(r["FromPort"] == r["ToPort"] == 5432 for r in rules)


def test_code_server_admits_grpc_from_webserver_and_daemon(dev):
    rules = _ingress(dev, _sg_id(dev, "Code-location"))
    assert {_source(r) for r in rules} == {_sg_id(dev, "Dagster webserver"), _sg_id(dev, "Dagster daemon")}
    assert all(r["FromPort"] == r["ToPort"] == 4000 for r in rules)
    assert not _ingress(dev, _sg_id(dev, "Desk"))
    assert not _ingress(dev, _sg_id(dev, "Dagster daemon"))


def _isolated_subnets(s: Synthesized) -> set[str]:
    """Subnets whose route table has no route at all (no internet gateway, no NAT)."""
    routed = {r["Properties"]["RouteTableId"]["Ref"] for r in s.resources("AWS::EC2::Route").values()}
    return {
        a["Properties"]["SubnetId"]["Ref"]
        for a in s.resources("AWS::EC2::SubnetRouteTableAssociation").values()
        if a["Properties"]["RouteTableId"]["Ref"] not in routed
    }


@pytest.mark.parametrize("stage", STAGES)
def test_database_and_redis_live_in_subnets_without_routes(synthesized, stage):
    s = synthesized[stage]
    isolated = _isolated_subnets(s)
    assert len(isolated) == 2
    _, db_subnets = _one(s, "AWS::RDS::DBSubnetGroup")
    assert {x["Ref"] for x in db_subnets["Properties"]["SubnetIds"]} == isolated
    _, cache_subnets = _one(s, "AWS::ElastiCache::SubnetGroup")
    assert {x["Ref"] for x in cache_subnets["Properties"]["SubnetIds"]} == isolated


@pytest.mark.parametrize("stage", STAGES)
def test_services_run_in_private_subnets_without_public_ips(synthesized, stage):
    s = synthesized[stage]
    public = {
        a["Properties"]["SubnetId"]["Ref"]
        for a in s.resources("AWS::EC2::SubnetRouteTableAssociation").values()
        for r in s.resources("AWS::EC2::Route").values()
        if r["Properties"]["RouteTableId"] == a["Properties"]["RouteTableId"] and "GatewayId" in r["Properties"]
    }
    services = s.resources("AWS::ECS::Service")
    assert len(services) == 5
    for service in services.values():
        vpc = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert vpc["AssignPublicIp"] == "DISABLED"
        subnets = {x["Ref"] for x in vpc["Subnets"]}
        assert not subnets & public
        assert not subnets & _isolated_subnets(s)


def test_vpc_flow_logs_and_gateway_endpoints(templates):
    t = templates["dev"]
    t.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "REJECT", "LogDestinationType": "cloud-watch-logs"})
    t.resource_count_is("AWS::EC2::VPCEndpoint", 2)


# ------------------------------------------------------------------------------------------------ RDS


@pytest.mark.parametrize("stage", STAGES)
def test_postgres_is_15_private_encrypted_backed_up(templates, synthesized, stage):
    templates[stage].has_resource(
        "AWS::RDS::DBInstance",
        {
            "Properties": Match.object_like(
                {
                    "Engine": "postgres",
                    "EngineVersion": Match.string_like_regexp(r"^15\."),
                    "PubliclyAccessible": False,
                    "StorageEncrypted": True,
                    "BackupRetentionPeriod": Match.any_value(),
                    "DeletionProtection": stage == "prod",
                    "DBName": "dagster",
                }
            ),
            "DeletionPolicy": "Snapshot",
            "UpdateReplacePolicy": "Snapshot",
        },
    )
    _, db = _one(synthesized[stage], "AWS::RDS::DBInstance")
    assert "{{resolve:secretsmanager:" in json.dumps(db["Properties"]["MasterUserPassword"])
    assert db["Properties"]["BackupRetentionPeriod"] >= 7
    assert db["Properties"]["MultiAZ"] is (stage == "prod")
    templates[stage].has_resource_properties(
        "AWS::RDS::DBParameterGroup", {"Family": "postgres15", "Parameters": Match.object_like({"rds.force_ssl": "1"})}
    )


def test_central_store_url_secret_holds_only_a_reference(dev):
    _, secret = _one(
        dev,
        "AWS::SecretsManager::Secret",
        lambda r: r["Properties"].get("Name") == "ops-platform-dev/central-store-url",
    )
    parts = secret["Properties"]["SecretString"]["Fn::Join"][1]
    text = json.dumps(parts)
    assert "{{resolve:secretsmanager:" in text
    assert ":SecretString:password::}}" in text
    assert parts[0].startswith("postgresql+psycopg2://dagster:{{resolve:secretsmanager:")
    assert parts[-1] == "/ops?sslmode=require"


@pytest.mark.parametrize("stage", STAGES)
def test_no_secret_value_is_written_into_the_template(synthesized, stage):
    s = synthesized[stage]
    for name, secret in s.resources("AWS::SecretsManager::Secret").items():
        props = secret["Properties"]
        # A generated value, a {{resolve:...}} reference, a NoEcho parameter's value, or nothing.
        string = props.get("SecretString")
        no_echo = isinstance(string, dict) and s.template["Parameters"].get(string.get("Ref"), {}).get("NoEcho")
        assert (
            "GenerateSecretString" in props
            or "resolve:secretsmanager" in json.dumps(string)
            or no_echo
            or ("SecretString" not in props)
        ), name
    # The Alpha Vantage key: referenced by IAM, never created (CloudFormation cannot create a SecureString).
    assert not s.resources("AWS::SSM::Parameter")
    _, redis = _one(s, "AWS::ElastiCache::ReplicationGroup")
    assert "{{resolve:secretsmanager:" in json.dumps(redis["Properties"]["AuthToken"])


@pytest.mark.parametrize("stage", STAGES)
def test_news_feeds_reach_containers_as_a_secret_only(synthesized, stage):
    """OPS_NEWS_FEEDS (URLs can carry tokens) is in no task definition's plain environment: a secret written from
    the NoEcho NewsFeeds parameter, injected through ECS secrets into every container that loads ops_assets."""
    s = synthesized[stage]
    secret_id, secret = _one(
        s, "AWS::SecretsManager::Secret", lambda r: r["Properties"].get("Name") == f"ops-platform-{stage}/news-feeds"
    )
    assert secret["Properties"]["SecretString"] == {"Ref": "NewsFeeds"}
    assert s.template["Parameters"]["NewsFeeds"]["NoEcho"] is True
    containers = _containers(s)
    for name, c in containers.items():
        assert "OPS_NEWS_FEEDS" not in {e["Name"] for e in c.get("Environment", [])}, name
        assert '"Ref": "NewsFeeds"' not in json.dumps(c), name
    for name in (*DAGSTER_CONTAINERS, "forecast-endpoint", "desk"):
        secrets = {e["Name"]: e["ValueFrom"] for e in containers[name]["Secrets"]}
        assert secrets["OPS_NEWS_FEEDS"] == {"Ref": secret_id}, name


def test_tt_secret_starts_as_a_json_placeholder(dev):
    """The TT secret holds {"api_key", "api_secret"} placeholders from the start (not a bare random string), the
    shape resources/working_orders.py reads."""
    _, secret = _one(
        dev, "AWS::SecretsManager::Secret", lambda r: r["Properties"].get("Name") == "ops-platform-dev/tt-api"
    )
    generated = secret["Properties"]["GenerateSecretString"]
    template = json.loads(generated["SecretStringTemplate"])
    assert set(template) | {generated["GenerateStringKey"]} == {"api_key", "api_secret"}
    assert "placeholder" in template["api_key"]


# ------------------------------------------------------------------------------------------------ Redis, DynamoDB


@pytest.mark.parametrize("stage", STAGES)
def test_redis_is_non_cluster_tls_auth(templates, stage):
    replicas = 1 if stage == "prod" else 0
    templates[stage].has_resource_properties(
        "AWS::ElastiCache::ReplicationGroup",
        {
            "Engine": "redis",
            "ClusterMode": "disabled",
            "NumCacheClusters": 1 + replicas,
            "NumNodeGroups": Match.absent(),
            "TransitEncryptionEnabled": True,
            "TransitEncryptionMode": "required",
            "AtRestEncryptionEnabled": True,
            "AutomaticFailoverEnabled": replicas > 0,
            "AuthToken": Match.any_value(),
        },
    )


@pytest.mark.parametrize("stage", STAGES)
def test_desk_tables_are_the_ones_the_code_queries(synthesized, stage):
    from resources.desk_history import DynamoDbDeskHistory

    s = synthesized[stage]
    tables = {t["Properties"]["TableName"]: (k, t) for k, t in s.resources("AWS::DynamoDB::Table").items()}
    for expected in DynamoDbDeskHistory(table_suffix=stage).table_definitions():
        _, table = tables.pop(expected["TableName"])
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["KeySchema"] == expected["KeySchema"]
        assert sorted(props["AttributeDefinitions"], key=str) == sorted(expected["AttributeDefinitions"], key=str)
        [gsi] = props["GlobalSecondaryIndexes"]
        [want] = expected["GlobalSecondaryIndexes"]
        assert (gsi["IndexName"], gsi["KeySchema"], gsi["Projection"]) == (
            want["IndexName"],
            want["KeySchema"],
            want["Projection"],
        )
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["SSESpecification"] == {"SSEEnabled": True}
        assert table["DeletionPolicy"] == "Retain"
        ttl = props.get("TimeToLiveSpecification")
        if expected["TableName"].startswith("TTWorkingOrders"):
            assert ttl == {"AttributeName": "expire_time", "Enabled": True}
        else:
            assert ttl is None
        assert props.get("DeletionProtectionEnabled", False) is (stage == "prod")
    assert not tables, f"tables the code does not use: {sorted(tables)}"


# ------------------------------------------------------------------------------------------------ S3, SQS, SNS


@pytest.mark.parametrize("stage", STAGES)
def test_every_bucket_is_private_encrypted_and_tls_only(synthesized, stage):
    s = synthesized[stage]
    buckets = s.resources("AWS::S3::Bucket")
    assert len(buckets) == 3
    policies = {p["Properties"]["Bucket"]["Ref"]: p for p in s.resources("AWS::S3::BucketPolicy").values()}
    for name, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        assert bucket["DeletionPolicy"] == "Retain"
        statements = policies[name]["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            st["Effect"] == "Deny" and st["Condition"].get("Bool", {}).get("aws:SecureTransport") == "false"
            for st in statements
        ), f"{name} accepts plain HTTP"
        assert "LifecycleConfiguration" in props, f"{name} has no retention"


def _data_bucket(s: Synthesized) -> dict[str, Any]:
    return _one(s, "AWS::S3::Bucket", lambda b: "VersioningConfiguration" in b["Properties"])[1]


def test_data_bucket_lifecycle_versioning_and_logging(dev):
    props = _data_bucket(dev)["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "LoggingConfiguration" in props
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    ttm = rules["ttm-artifacts-30-days"]
    assert (ttm["Prefix"], ttm["ExpirationInDays"], ttm["Status"]) == ("ttm-artifacts/", 30, "Enabled")
    for prefix in ("market-data/", "eod/", "sod/", "working-orders/", "processed/", "quarantine/"):
        rule = rules[f"archive-{prefix.rstrip('/')}"]
        assert rule["Prefix"] == prefix
        assert rule["Transitions"] == [{"StorageClass": "GLACIER", "TransitionInDays": 30}]
        assert "ExpirationInDays" not in rule
    assert rules["noncurrent-30-days"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    # Nothing else expires: the model registry (forecasting/) and backups/ are kept (backups prune themselves).
    assert {r.get("Prefix") for r in rules.values() if "ExpirationInDays" in r} == {"ttm-artifacts/"}


@pytest.mark.parametrize("stage", STAGES)
def test_compute_logs_expire(synthesized, stage):
    days = {"dev": 30, "staging": 60, "prod": 90}[stage]
    s = synthesized[stage]
    compute = [
        b
        for b in s.resources("AWS::S3::Bucket").values()
        if any(r["Id"] == "expire-compute-logs" for r in b["Properties"]["LifecycleConfiguration"]["Rules"])
    ]
    assert len(compute) == 1
    [rule] = compute[0]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == days


def test_desk_landing_prefixes_notify_the_encrypted_queue(dev, templates):
    _, notifications = _one(dev, "Custom::S3BucketNotifications")
    configs = notifications["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert {c["Filter"]["Key"]["FilterRules"][0]["Value"] for c in configs} == {"market-data/", "eod/", "sod/"}
    assert {c["Events"][0] for c in configs} == {"s3:ObjectCreated:*"}
    queue_id, queue = _one(dev, "AWS::SQS::Queue", lambda q: "RedrivePolicy" in q["Properties"])
    assert {c["QueueArn"]["Fn::GetAtt"][0] for c in configs} == {queue_id}
    assert queue["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 10
    assert queue["Properties"]["VisibilityTimeout"] == 60
    for q in dev.resources("AWS::SQS::Queue").values():
        assert "KmsMasterKeyId" in q["Properties"]
    templates["dev"].has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_topic_is_encrypted_and_mails_the_parameter(templates, dev):
    t = templates["dev"]
    t.has_resource_properties(
        "AWS::SNS::Topic",
        {"TopicName": "financial-pipeline-notifications-dev", "KmsMasterKeyId": Match.any_value()},
    )
    t.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": {"Ref": "AlertEmail"}})
    for name in ("AlertEmail", "EtfSymbol", "StartDate", "NewsFeeds", "WatchedTickers", "ForecastTickers", "TtApiUrl"):
        assert name in dev.template["Parameters"]
    assert dev.template["Parameters"]["EtfSymbol"]["Default"] == "QQQ"
    assert dev.template["Parameters"]["StartDate"]["Default"] == "2004-12-31"
    assert dev.template["Parameters"]["NewsFeeds"]["NoEcho"] is True


# ------------------------------------------------------------------------------------------------ ECS


@pytest.mark.parametrize("stage", STAGES)
def test_dagster_containers_get_the_contract_environment(synthesized, stage):
    from ops_assets.environments import REQUIRED_IN_AWS

    s = synthesized[stage]
    containers = _containers(s)
    run_td_id, _ = _task_definition(s, "run")
    for name in DAGSTER_CONTAINERS:
        c = containers[name]
        env = {e["Name"]: e["Value"] for e in c["Environment"]}
        secrets = {e["Name"] for e in c["Secrets"]}
        for key in ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER", "DAGSTER_PG_DB"):
            assert key in env, (name, key)
        assert env["DAGSTER_PG_USER"] == env["DAGSTER_PG_DB"] == "dagster"
        assert "DAGSTER_PG_PASSWORD" in secrets
        assert env["DAGSTER_RUN_CONTAINER"] == "run"
        assert env["OPS_ENV"] == "aws"
        assert "DAGSTER_COMPUTE_LOGS_BUCKET" in env
        missing = set(REQUIRED_IN_AWS) - set(env) - secrets
        assert not missing, (name, missing)
        expected_run_td = f"ops-platform-{stage}-run" if name == "run" else {"Ref": run_td_id}
        assert env["DAGSTER_RUN_TASK_DEFINITION"] == expected_run_td
    for name in ("forecast-endpoint", "desk"):
        c = containers[name]
        names = {e["Name"] for e in c["Environment"]} | {e["Name"] for e in c["Secrets"]}
        assert not set(REQUIRED_IN_AWS) - names, name
        assert "DAGSTER_PG_PASSWORD" not in names


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_alert_links_point_at_the_load_balancer(synthesized, stage):
    """OPS_UI_BASE_URL (the links in alert messages) is the ALB's URL: https with a certificate (prod), else http;
    without it every alert would link to http://localhost:3000."""
    s = synthesized[stage]
    alb_id, _ = _one(s, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    scheme = "https" if stage == "prod" else "http"
    expected = {"Fn::Join": ["", [f"{scheme}://", {"Fn::GetAtt": [alb_id, "DNSName"]}]]}
    containers = _containers(s)
    for name in ("daemon", "code-server", "run", "webserver", "desk", "forecast-endpoint"):
        env = {e["Name"]: e["Value"] for e in containers[name]["Environment"]}
        assert env.get("OPS_UI_BASE_URL") == expected, name
    assert s.template["Outputs"]["WebserverUrl"]["Value"] == expected


def test_commands_and_health_checks(dev):
    containers = _containers(dev)
    assert "Command" not in containers["code-server"]  # the image's CMD: the code server on 4000
    assert containers["code-server"]["HealthCheck"]["Command"] == [
        "CMD",
        "dagster",
        "api",
        "grpc-health-check",
        "-p",
        "4000",
    ]
    grpc = ["-w", "infra/workspace.yaml"]
    assert containers["webserver"]["Command"] == ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000", *grpc]
    assert containers["daemon"]["Command"] == ["dagster-daemon", "run", *grpc]
    assert containers["forecast-endpoint"]["Command"] == ["python", "scripts/serve_forecasts.py"]
    assert containers["desk"]["Command"] == ["python", "scripts/desk_service.py"]
    for name, path in (("webserver", "3000/server_info"), ("forecast-endpoint", "8080/health")):
        check = containers[name]["HealthCheck"]["Command"]
        assert check[:3] == ["CMD", "python", "-c"]
        assert f"127.0.0.1:{path}" in check[3]
        assert "curl" not in check[3]
    desk_env = {e["Name"]: e["Value"] for e in containers["desk"]["Environment"]}
    queue_id, _ = _one(dev, "AWS::SQS::Queue", lambda q: "RedrivePolicy" in q["Properties"])
    assert desk_env["OPS_DESK_QUEUE_URL"] == {"Ref": queue_id}


def test_run_task_definition_for_the_ecs_run_launcher(dev):
    _, td = _task_definition(dev, "run")
    props = td["Properties"]
    assert props["Family"] == "ops-platform-dev-run"
    assert props["RequiresCompatibilities"] == ["FARGATE"]
    assert (props["Cpu"], props["Memory"], props["EphemeralStorage"]) == ("1024", "4096", {"SizeInGiB": 30})
    assert [c["Name"] for c in props["ContainerDefinitions"]] == ["run"]


@pytest.mark.parametrize("stage", STAGES)
def test_every_log_group_has_a_retention(synthesized, stage):
    days = {"dev": 14, "staging": 30, "prod": 90}[stage]
    s = synthesized[stage]
    groups = s.resources("AWS::Logs::LogGroup")
    assert groups
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == days, name
    # Every container logs to one of them.
    for c in _containers(s).values():
        assert c["LogConfiguration"]["LogDriver"] == "awslogs"
        assert c["LogConfiguration"]["Options"]["awslogs-group"]["Ref"] in groups


def test_code_server_is_discoverable_and_singletons_never_double(dev, templates):
    services = {s["Properties"]["ServiceName"]: s["Properties"] for s in dev.resources("AWS::ECS::Service").values()}
    assert set(services) == {
        f"ops-platform-dev-{n}" for n in ("webserver", "daemon", "code-server", "forecast-endpoint", "desk")
    }
    assert "ServiceRegistries" in services["ops-platform-dev-code-server"]
    templates["dev"].has_resource_properties(
        "AWS::ServiceDiscovery::Service",
        {"Name": "code-server", "DnsConfig": Match.object_like({"DnsRecords": [{"TTL": 10, "Type": "A"}]})},
    )
    templates["dev"].has_resource_properties("AWS::ServiceDiscovery::PrivateDnsNamespace", {"Name": "ops-dev.local"})
    for name in ("daemon", "desk"):
        config = services[f"ops-platform-dev-{name}"]["DeploymentConfiguration"]
        assert (config["MaximumPercent"], config["MinimumHealthyPercent"]) == (100, 0)
    for props in services.values():
        assert props["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}


def test_ecr_repository_scans_and_expires_images(templates):
    templates["dev"].has_resource_properties(
        "AWS::ECR::Repository",
        {
            "RepositoryName": "ops-platform-dev",
            "ImageScanningConfiguration": {"ScanOnPush": True},
            "ImageTagMutability": "IMMUTABLE",
            "LifecyclePolicy": {"LifecyclePolicyText": Match.string_like_regexp("imageCountMoreThan")},
        },
    )


def test_request_serving_services_autoscale(dev):
    targets = dev.resources("AWS::ApplicationAutoScaling::ScalableTarget")
    scaled = {t["Properties"]["ResourceId"]["Fn::Join"][1][-1]["Fn::GetAtt"][0] for t in targets.values()}
    names = {dev.template["Resources"][k]["Properties"]["ServiceName"] for k in scaled}
    assert names == {"ops-platform-dev-webserver", "ops-platform-dev-forecast-endpoint"}
    assert len(dev.resources("AWS::ApplicationAutoScaling::ScalingPolicy")) == 4


def test_http_without_certificate_warns(dev, templates):
    templates["dev"].has_resource_properties("AWS::ElasticLoadBalancingV2::Listener", {"Port": 80, "Protocol": "HTTP"})
    templates["dev"].resource_count_is("AWS::ElasticLoadBalancingV2::Listener", 1)
    assert any("plain HTTP" in w for w in dev.warnings)


def test_https_with_certificate_redirects_http(prod, templates):
    t = templates["prod"]
    t.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {
            "Port": 443,
            "Protocol": "HTTPS",
            "Certificates": [{"CertificateArn": PROD_CERTIFICATE}],
            "SslPolicy": Match.string_like_regexp("TLS13"),
        },
    )
    t.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {"Port": 80, "DefaultActions": [Match.object_like({"Type": "redirect"})]},
    )
    assert not any("plain HTTP" in w for w in prod.warnings)
    t.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        {
            "LoadBalancerAttributes": Match.array_with(
                [
                    {"Key": "deletion_protection.enabled", "Value": "true"},
                    {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"},
                    {"Key": "access_logs.s3.enabled", "Value": "true"},
                ]
            )
        },
    )


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_endpoint_route_reaches_the_endpoint(synthesized, stage):
    """Each route of the endpoint's app (GET /forecast/{ticker}, POST /predict, GET /health) matches a path pattern
    of the listener rule that forwards to the endpoint's target group; the webserver stays the default."""
    import re
    from fnmatch import fnmatchcase

    s = synthesized[stage]
    endpoint_tg, _ = _one(s, "AWS::ElasticLoadBalancingV2::TargetGroup", lambda t: t["Properties"]["Port"] == 8080)
    [rule] = s.resources("AWS::ElasticLoadBalancingV2::ListenerRule").values()
    assert rule["Properties"]["Actions"] == [{"Type": "forward", "TargetGroupArn": {"Ref": endpoint_tg}}]
    [condition] = rule["Properties"]["Conditions"]
    patterns = condition["PathPatternConfig"]["Values"]
    # The routes as create_app declares them (building the app needs a model registry with a champion).
    source = (REPO / "ops_assets" / "forecasting" / "endpoint.py").read_text()
    paths = [p.replace("{ticker}", "AMZN") for p in re.findall(r'Route\("([^"]+)"', source)]
    assert sorted(paths) == ["/forecast/AMZN", "/health", "/predict"]
    for path in paths:
        assert any(fnmatchcase(path, p) for p in patterns), (path, patterns)


# ------------------------------------------------------------------------------------------------ IAM

READ_ONLY_ANY_RESOURCE = {
    "ecs:DescribeTaskDefinition",
    "ec2:DescribeNetworkInterfaces",
    "ecr:GetAuthorizationToken",
}


def _statements(s: Synthesized) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name, policy in s.resources("AWS::IAM::Policy").items():
        out += [(name, st) for st in policy["Properties"]["PolicyDocument"]["Statement"]]
    return out


@pytest.mark.parametrize("stage", STAGES)
def test_no_wildcard_actions_and_no_any_resource_writes(synthesized, stage):
    s = synthesized[stage]
    for name, st in _statements(s):
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        assert not [a for a in actions if "*" in a], (name, actions)
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        if "*" in resources:
            allowed = READ_ONLY_ANY_RESOURCE | {"s3:PutBucketNotification", "kms:Decrypt"}
            assert set(actions) <= allowed, (name, actions)
            if "kms:Decrypt" in actions:
                assert "kms:ViaService" in json.dumps(st.get("Condition", {})), name


def test_one_task_role_per_service_and_one_for_runs(dev):
    roles = {}
    for td in dev.resources("AWS::ECS::TaskDefinition").values():
        name = td["Properties"]["ContainerDefinitions"][0]["Name"]
        roles[name] = td["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
    assert len(set(roles.values())) == len(roles) == 7  # five services, runs, db-init


def _policy_actions(s: Synthesized, role_fragment: str) -> set[str]:
    actions: set[str] = set()
    for policy in s.resources("AWS::IAM::Policy").values():
        if any(role_fragment in r["Ref"] for r in policy["Properties"]["Roles"]):
            for st in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions |= set(st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
    return actions


def test_least_privilege_per_role(dev):
    assert _policy_actions(dev, "EndpointTaskRole") == {"s3:GetObject", "s3:ListBucket"}
    assert "ecs:RunTask" in _policy_actions(dev, "DaemonTaskRole")
    assert "ecs:RunTask" not in _policy_actions(dev, "WebserverTaskRole")
    assert "ecs:StopTask" in _policy_actions(dev, "WebserverTaskRole")
    assert not {"ecs:RunTask", "iam:PassRole"} & _policy_actions(dev, "CodeServerTaskRole")
    assert not {"s3:PutObject", "dynamodb:PutItem"} & _policy_actions(dev, "WebserverTaskRole")
    run = _policy_actions(dev, "RunTaskRole")
    assert {"ssm:GetParameter", "sns:Publish", "s3:PutObject", "dynamodb:BatchWriteItem"} <= run
    assert "ecs:RunTask" not in run
    desk = _policy_actions(dev, "DeskTaskRole")
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "dynamodb:BatchWriteItem"} <= desk
    assert "ssm:GetParameter" not in desk
    ssm = [st for _, st in _statements(dev) if st["Action"] == "ssm:GetParameter"]
    assert ssm
    assert all("parameter/avpipeline/alpha-vantage-api-key" in json.dumps(st["Resource"]) for st in ssm)


# ------------------------------------------------------------------------------------------------ monitoring


@pytest.mark.parametrize("stage", STAGES)
def test_alarms_notify_the_topic(synthesized, stage):
    s = synthesized[stage]
    alarms = {a["Properties"]["AlarmName"]: a["Properties"] for a in s.resources("AWS::CloudWatch::Alarm").values()}
    prefix = f"ops-platform-{stage}-"
    expected = {
        "failed-runs",
        "rds-free-storage",
        "rds-cpu",
        "desk-queue-age",
        "desk-dead-letters",
        "billing",
        "webserver-unhealthy-targets",
        "forecast-endpoint-unhealthy-targets",
        *(f"{n}-not-running" for n in ("webserver", "daemon", "code-server", "forecast-endpoint", "desk")),
    }
    assert {n.removeprefix(prefix) for n in alarms} == expected
    topic_id, _ = _one(s, "AWS::SNS::Topic")
    for props in alarms.values():
        assert props["AlarmActions"] == [{"Ref": topic_id}]
    assert alarms[prefix + "billing"]["Namespace"] == "AWS/Billing"
    filters = s.resources("AWS::Logs::MetricFilter")
    assert {f["Properties"]["MetricTransformations"][0]["MetricName"] for f in filters.values()} == {"FailedRuns"}
    assert len(s.resources("AWS::CloudWatch::Dashboard")) == 1


def _log_group_of(s: Synthesized, container: str) -> str:
    return _containers(s)[container]["LogConfiguration"]["Options"]["awslogs-group"]["Ref"]


def test_failed_runs_counts_runs_the_daemon_fails_too(dev):
    """RUN_FAILURE in the run and code-server logs, and in the daemon's log the lines it writes when it fails a run
    itself (start timeout, dead worker, max runtime, launch error): those runs log no RUN_FAILURE anywhere."""
    by_group: dict[str, set[str]] = {}
    for f in dev.resources("AWS::Logs::MetricFilter").values():
        props = f["Properties"]
        assert props["MetricTransformations"][0]["MetricName"] == "FailedRuns"
        by_group.setdefault(props["LogGroupName"]["Ref"], set()).add(props["FilterPattern"])
    assert by_group[_log_group_of(dev, "run")] == {'"RUN_FAILURE"'}
    assert by_group[_log_group_of(dev, "code-server")] == {'"RUN_FAILURE"'}
    assert by_group[_log_group_of(dev, "daemon")] == {
        '"Run timed out due to taking longer than"',
        '"Detected run worker status" "as failed"',
        '"has exceeded maximum runtime of"',
        '"Caught an error dequeuing run"',
    }
    assert set(by_group) == {_log_group_of(dev, n) for n in ("run", "code-server", "daemon")}


def test_the_daemon_lines_are_what_the_installed_dagster_logs():
    """Each daemon pattern's terms occur in the daemon module that fails the run (a dagster upgrade that rewords
    them fails here, not silently in CloudWatch)."""
    import sys
    from pathlib import Path

    import dagster

    sys.path.insert(0, str(INFRA))
    from ops_infra.stack import DAEMON_RUN_FAILURE_LINES

    daemon = Path(dagster.__file__).parent / "_daemon"
    sources = {
        "StartTimeout": daemon / "monitoring" / "run_monitoring.py",
        "WorkerFailed": daemon / "monitoring" / "run_monitoring.py",
        "MaxRuntime": daemon / "monitoring" / "run_monitoring.py",
        "LaunchError": daemon / "run_coordinator" / "queued_run_coordinator_daemon.py",
    }
    assert set(DAEMON_RUN_FAILURE_LINES) == set(sources)
    for reason, terms in DAEMON_RUN_FAILURE_LINES.items():
        text = sources[reason].read_text()
        assert "report_run_failed" in text
        for term in terms:
            assert term in text, (reason, term)


def test_outputs_for_the_deploy_command(dev):
    outputs = dev.template["Outputs"]
    for key in (
        "EcrRepositoryName",
        "ClusterName",
        "WebserverServiceName",
        "DaemonServiceName",
        "CodeServerServiceName",
        "ForecastEndpointServiceName",
        "DeskServiceName",
        "RunTaskDefinitionArn",
        "DbInitTaskDefinitionArn",
        "TtApiSecretName",  # the deploy command's last message names it
    ):
        assert key in outputs


# ------------------------------------------------------------------------------------------------ app


def test_stage_config_rejects_unknown_stage_and_bad_values():
    import sys

    sys.path.insert(0, str(INFRA))
    from ops_infra.config import stage_config

    with pytest.raises(ValueError, match="dev, staging, prod"):
        stage_config("qa")
    with pytest.raises(ValueError, match="run_cpu"):
        stage_config("dev", {"run_cpu": "two"})
    assert stage_config("dev", {"run_cpu": "2048"}).run_cpu == 2048
    assert stage_config("prod").deletion_protection is True


def test_cdk_out_is_ignored_by_git():
    result = subprocess.run(["git", "check-ignore", "-q", "infra/cdk.out/x.json"], cwd=REPO)
    assert result.returncode == 0


def test_bootstrap_starts_no_task(tmp_path):
    """``-c bootstrap=true`` (the first deploy, before an image exists): every service at 0, nothing scales them up."""
    from tests.infra.conftest import synthesize

    s = synthesize("dev", tmp_path, {"bootstrap": "true", "image_tag": "abc1234"})
    services = s.resources("AWS::ECS::Service")
    assert len(services) == 5
    assert {svc["Properties"]["DesiredCount"] for svc in services.values()} == {0}
    assert not s.resources("AWS::ApplicationAutoScaling::ScalableTarget")
    # The infrastructure the image push and the database-init task need is all there.
    assert s.resources("AWS::ECR::Repository")
    assert s.resources("AWS::RDS::DBInstance")
    assert {"EcrRepositoryName", "DbInitTaskDefinitionArn", "AppSubnetIds", "WorkersSecurityGroupId"} <= set(
        s.template["Outputs"]
    )


def test_without_container_insights_no_alarm_waits_on_a_metric_that_never_comes(tmp_path):
    """``-c container_insights=false``: the `<svc>-not-running` alarms read Container Insights' RunningTaskCount and
    treat missing data as breaching, so they would be in alarm for good; they are left out (with a warning)."""
    from tests.infra.conftest import synthesize

    s = synthesize("dev", tmp_path, {"container_insights": "false", "image_tag": "abc1234"})
    alarms = {a["Properties"]["AlarmName"]: a["Properties"] for a in s.resources("AWS::CloudWatch::Alarm").values()}
    assert not [n for n in alarms if n.endswith("-not-running")]
    assert not [a for a in alarms.values() if a.get("Namespace") == "ECS/ContainerInsights"]
    assert "ops-platform-dev-failed-runs" in alarms
    assert any("container_insights is off" in w for w in s.warnings)
