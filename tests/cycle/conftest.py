"""Fixtures of the cycle tests: a workspace storage URL on every store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.adapters.conftest import pg_schema  # noqa: F401  (a fixture, used by name)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A storage URL for vip.yaml: memory://, a SQLite file, a fresh PostgreSQL schema."""
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'vip.db'}"
    return str(request.getfixturevalue("pg_schema"))
