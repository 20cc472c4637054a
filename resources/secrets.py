"""Secrets: from environment variables (local) or SSM Parameter Store (aws).

A secret is asked for by a short name such as ``alpha-vantage-api-key``. Values are never logged; error
messages name the secret and where it was looked for, never its value.
"""

from __future__ import annotations

import os

import boto3
import dagster as dg
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field, PrivateAttr


class SecretNotFoundError(Exception):
    """The named secret is not configured where this environment looks for it."""


class SecretsResource(dg.ConfigurableResource):
    """Interface: ``get(name)`` returns the secret's value or raises :class:`SecretNotFoundError`."""

    def get(self, name: str) -> str:
        raise NotImplementedError


class EnvSecrets(SecretsResource):
    """Reads ``alpha-vantage-api-key`` from ``ALPHA_VANTAGE_API_KEY`` (upper case, dashes to underscores)."""

    @staticmethod
    def env_var_for(name: str) -> str:
        return name.upper().replace("-", "_").replace("/", "_")

    def get(self, name: str) -> str:
        var = self.env_var_for(name)
        value = os.environ.get(var, "").strip()
        if not value:
            raise SecretNotFoundError(f"Secret '{name}' is not set: export {var}=... and run again.")
        return value


class StaticSecrets(SecretsResource):
    """Fixed, non-secret values: the bundled offline sample sources and tests."""

    values: dict[str, str] = Field(repr=False)

    def get(self, name: str) -> str:
        if name not in self.values:
            raise SecretNotFoundError(f"Secret '{name}' is not among the configured static values.")
        return self.values[name]


class SsmSecrets(SecretsResource):
    """SSM Parameter Store SecureStrings under ``path_prefix``: ``/avpipeline/`` + ``alpha-vantage-api-key``."""

    path_prefix: str = "/avpipeline/"
    region_name: str = "us-east-1"
    endpoint_url: str | None = None

    _cache: dict[str, str] = PrivateAttr(default_factory=dict)

    def parameter_name(self, name: str) -> str:
        return self.path_prefix.rstrip("/") + "/" + name

    def get(self, name: str) -> str:
        if name in self._cache:
            return self._cache[name]
        parameter = self.parameter_name(name)
        client = boto3.client("ssm", region_name=self.region_name, endpoint_url=self.endpoint_url or None)
        try:
            response = client.get_parameter(Name=parameter, WithDecryption=True)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ParameterNotFound":
                raise SecretNotFoundError(
                    f"SSM parameter {parameter} does not exist in {self.region_name}: create it with "
                    f"`aws ssm put-parameter --name {parameter} --type SecureString --value ...`."
                ) from None
            raise SecretNotFoundError(f"Could not read SSM parameter {parameter}: {code or exc}.") from None
        except BotoCoreError as exc:
            raise SecretNotFoundError(f"Could not reach SSM to read {parameter}: {exc}.") from None
        value = response["Parameter"]["Value"]
        self._cache[name] = value
        return value
