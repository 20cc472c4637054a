"""Secrets: from environment variables (local), SSM Parameter Store or Secrets Manager (aws).

A secret is asked for by a short name such as ``alpha-vantage-api-key`` or ``dev/tt-api``. Values are never
logged; error messages name the secret and where it was looked for, never its value. A secret holding a JSON
object (the desk's ``dev/tt-api``: ``{"api_key": ..., "api_secret": ...}``) is read with :func:`read_json_secret`.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence

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


class SecretsManagerSecrets(SecretsResource):
    """AWS Secrets Manager: ``get("dev/tt-api")`` answers the secret's ``SecretString`` (JSON for the seed's).

    Values are cached for ``cache_seconds`` (a rotated secret is picked up after that). Errors name the secret
    and the region, never a value.
    """

    region_name: str = Field(default="us-east-1", description="Region of the secrets.")
    endpoint_url: str | None = Field(default=None, description="Another endpoint (moto in tests).")
    name_prefix: str = Field(default="", description="Prepended to every name (e.g. 'dev/').")
    cache_seconds: float = Field(default=300, description="How long a value is reused before it is read again.")

    _cache: dict[str, tuple[float, str]] = PrivateAttr(default_factory=dict)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def secret_id(self, name: str) -> str:
        return f"{self.name_prefix}{name}"

    def get(self, name: str) -> str:
        with self._lock:
            cached = self._cache.get(name)
        if cached is not None and time.monotonic() - cached[0] < self.cache_seconds:
            return cached[1]
        secret_id = self.secret_id(name)
        client = boto3.client("secretsmanager", region_name=self.region_name, endpoint_url=self.endpoint_url or None)
        problem: str | None = None
        value: str | None = None
        try:
            response = client.get_secret_value(SecretId=secret_id)
            value = response.get("SecretString")
            if value is None and response.get("SecretBinary") is not None:
                value = bytes(response["SecretBinary"]).decode("utf-8")
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                problem = (
                    f"Secrets Manager secret {secret_id} does not exist in {self.region_name}: create it with "
                    f"`aws secretsmanager create-secret --name {secret_id} --secret-string '{{...}}'`."
                )
            else:
                problem = f"Could not read Secrets Manager secret {secret_id}: {code or type(exc).__name__}."
        except BotoCoreError as exc:
            problem = f"Could not reach Secrets Manager to read {secret_id}: {type(exc).__name__}."
        except UnicodeDecodeError:
            problem = f"Secrets Manager secret {secret_id} is binary, not text."
        if problem is not None or value is None:
            raise SecretNotFoundError(problem or f"Secrets Manager secret {secret_id} has no value.")
        with self._lock:
            self._cache[name] = (time.monotonic(), value)
        return value

    def forget(self, name: str) -> None:
        """Drop a cached value (the next ``get`` reads it again): after the service refused it."""
        with self._lock:
            self._cache.pop(name, None)


def read_json_secret(secrets: SecretsResource, name: str, fields: Sequence[str]) -> dict[str, str]:
    """The named fields of a secret holding a JSON object, e.g. ``{"api_key": ..., "api_secret": ...}``.

    Raises :class:`~resources.secrets.SecretNotFoundError` when the secret is missing, is not a JSON object, or
    lacks a field (or has it empty); the message names the secret and the fields, never a value.
    """
    raw = secrets.get(name)
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        shape = ", ".join(f'"{f}": "..."' for f in fields)
        raise SecretNotFoundError(f"Secret '{name}' is not a JSON object; it must hold {{{shape}}}.")
    missing = [f for f in fields if not isinstance(parsed.get(f), str) or not parsed[f].strip()]
    if missing:
        raise SecretNotFoundError(f"Secret '{name}' has no (or an empty) {', '.join(missing)}.")
    return {f: parsed[f].strip() for f in fields}
