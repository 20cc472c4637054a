"""Shared fixtures: isolated local data dirs, moto for AWS, the machine's PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests never touch a developer's real AWS account or the checkout's .local_data.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("ALPHA_VANTAGE_API_KEY", None)

PG_DSN = os.environ.get("OPS_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A real moto server process on loopback; yields its endpoint URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError("moto server did not start within 30 s")
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def pg_database() -> Iterator[dict[str, str]]:
    """A fresh, empty database on the machine's PostgreSQL; dropped afterwards."""
    import psycopg2

    name = f"ops_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg2.connect(PG_DSN, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_DSN} ({exc}). Start it: "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {"host": "127.0.0.1", "port": "5432", "user": "postgres", "password": "", "db_name": name}
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def local_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """OPS_ENV=local with its data dir and DAGSTER_HOME inside the test's tmp folder."""
    data_dir = tmp_path / "data"
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((Path(__file__).parents[1] / "dagster.yaml").read_text())
    monkeypatch.setenv("OPS_ENV", "local")
    monkeypatch.setenv("OPS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return data_dir


def pg_url(db: dict[str, str], *, password: str | None = None) -> str:
    """SQLAlchemy URL of a ``pg_database`` (optionally with a password, to test that it never leaks)."""
    from sqlalchemy.engine import URL

    url = URL.create(
        "postgresql+psycopg2",
        username=db["user"],
        password=password or db["password"] or None,
        host=db["host"],
        port=int(db["port"]),
        database=db["db_name"],
    )
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=["postgresql", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh central-store database: the machine's PostgreSQL, then a SQLite file."""
    if request.param == "postgresql":
        return pg_url(request.getfixturevalue("pg_database"))
    return f"sqlite:///{tmp_path / 'store' / 'central.db'}"


@pytest.fixture
def store(store_url: str) -> Iterator:
    from resources.central_store import CentralStore

    central = CentralStore(url=store_url)
    yield central
    central.dispose()


@pytest.fixture
def cache() -> Iterator:
    """A RedisCache on the machine's Redis under a unique key prefix; its keys are deleted afterwards."""
    from resources.cache import RedisCache, RedisUnavailableError

    cache = RedisCache(key_prefix=f"test:{uuid.uuid4().hex[:12]}:")
    try:
        cache.ping()
    except RedisUnavailableError as exc:
        pytest.fail(str(exc))
    yield cache
    client = cache.client()
    for key in list(client.scan_iter(match=f"{cache.key_prefix}*", count=1000)):
        client.delete(key)
