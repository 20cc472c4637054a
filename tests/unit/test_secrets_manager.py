"""Secrets Manager (on moto) and JSON secrets: resources/secrets.py's backend for the desk's ``dev/tt-api``."""

from __future__ import annotations

import json
import re

import boto3
import pytest
from moto import mock_aws

from resources.secrets import SecretNotFoundError, SecretsManagerSecrets, StaticSecrets, read_json_secret

VALUE = json.dumps({"api_key": "k-7f3a9c1e5b", "api_secret": "s-0d4e8b2a6c"})


def test_read_json_secret_fields() -> None:
    secrets = StaticSecrets(values={"s": json.dumps({"a": " 1 ", "b": "2", "c": 3})})
    assert read_json_secret(secrets, "s", ("a", "b")) == {"a": "1", "b": "2"}
    with pytest.raises(SecretNotFoundError, match="no \\(or an empty\\) c"):
        read_json_secret(secrets, "s", ("a", "c"))
    plain = StaticSecrets(values={"s": "plain-value-123"})
    with pytest.raises(SecretNotFoundError, match=re.escape('it must hold {"a": "...", "b": "..."}')) as caught:
        read_json_secret(plain, "s", ("a", "b"))
    assert "plain-value-123" not in str(caught.value)


@mock_aws
def test_secrets_manager_reads_caches_and_forgets() -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name="dev/tt-api", SecretString=VALUE)
    secrets = SecretsManagerSecrets(region_name="us-east-1")
    assert secrets.get("dev/tt-api") == VALUE

    client.put_secret_value(SecretId="dev/tt-api", SecretString="rotated")
    assert secrets.get("dev/tt-api") == VALUE  # cached for cache_seconds
    secrets.forget("dev/tt-api")
    assert secrets.get("dev/tt-api") == "rotated"  # read again after forget (e.g. the service refused it)
    assert SecretsManagerSecrets(region_name="us-east-1", cache_seconds=0).get("dev/tt-api") == "rotated"


@mock_aws
def test_secrets_manager_prefix_binary_and_missing() -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name="dev/redis", SecretBinary=b'{"auth_token": "t"}')
    assert SecretsManagerSecrets(region_name="us-east-1", name_prefix="dev/").get("redis") == '{"auth_token": "t"}'

    with pytest.raises(SecretNotFoundError, match="aws secretsmanager create-secret --name prod/tt-api") as caught:
        SecretsManagerSecrets(region_name="us-east-1").get("prod/tt-api")
    assert "us-east-1" in str(caught.value)
