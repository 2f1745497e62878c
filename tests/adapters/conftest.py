"""Fixtures of the adapter tests: real services (PostgreSQL, RabbitMQ, NATS, SMTP, HTTP).

A service that cannot be reached skips its tests with the reason, except under ``CI=true``,
where it fails them: CI runs every service.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest

PG_BASE = os.environ.get("VW_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def service_up(host: str, port: int) -> bool:
    """Whether something listens on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need(host: str, port: int, name: str) -> None:
    """Skip (fail under CI) when the service is not reachable."""
    if service_up(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{message} (CI=true: every service must run)")
    pytest.skip(message)


def pg_url(schema: str) -> str:
    """The test database URL with ``schema`` as the search path."""
    return f"{PG_BASE}?options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema (dropped afterwards); yields its URL."""
    need("127.0.0.1", 5432, "PostgreSQL")
    import sqlalchemy as sa

    name = f"vw_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(PG_BASE, isolation_level="AUTOCOMMIT",
                              connect_args={"options": "-c lock_timeout=10000"})
    with engine.connect() as c:
        c.exec_driver_sql(f"create schema {name}")
    try:
        yield pg_url(name)
    finally:
        with engine.connect() as c:
            c.exec_driver_sql(f"drop schema if exists {name} cascade")
        engine.dispose()


def free_port_url() -> str:
    """A PostgreSQL URL on a port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"
