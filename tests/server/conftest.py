"""A real uvicorn server on a free local port, serving a workspace on SQLite or PostgreSQL.

Tests talk to it over HTTP with httpx, as the company's other systems would.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests.adapters.conftest import PG_BASE, need, pg_url

#: user id -> roles of the test users (each gets an API token)
USERS: dict[str, tuple[str, ...]] = {
    "AM001": ("account_manager",),
    "AM002": ("account_manager",),
    "DD001": ("department_director",),
    "IM001": ("industry_manager",),
    "ADMIN": ("process_admin",),
    "NOBODY": (),
}


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveServer:
    """uvicorn running ``app`` in a thread; ``client(user)`` is an httpx client as ``user``."""

    def __init__(self, app: Any, tokens: dict[str, str]) -> None:
        self.app = app
        self.tokens = tokens
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self._clients: list[httpx.Client] = []

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        for client in self._clients:
            client.close()
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def client(self, user: str | None = None, **headers: str) -> httpx.Client:
        """A client sending ``user``'s token (none: no Authorization header)."""
        if user is not None:
            headers["Authorization"] = f"Bearer {self.tokens[user]}"
        client = httpx.Client(base_url=self.url, headers=headers, timeout=60)
        self._clients.append(client)
        return client

    @property
    def service(self) -> Any:
        return self.app.state.service


def write_workspace(folder: Path, storage: str, server: str = "") -> Path:
    """A vip.yaml with the hubei-2006 tier rules and ``storage``."""
    path = folder / "vip.yaml"
    path.write_text(f"name: 测试工作区\nstorage: {storage}\ntiers: {{preset: hubei-2006}}\n"
                    f"{server}", encoding="utf-8")
    return path


def start_server(vip_yaml: Path, **kwargs: Any) -> LiveServer:
    """A started server on the workspace, with a token for each of ``USERS``."""
    from vip_workflow.adapters.server import create_app

    app = create_app(vip_yaml, **kwargs)
    tokens = {user: app.state.service.tokens.create(user, roles)[1]
              for user, roles in USERS.items()}
    return LiveServer(app, tokens).start()


@pytest.fixture
def pg_storage() -> Iterator[str]:
    """A fresh PostgreSQL schema's URL (dropped afterwards)."""
    need("127.0.0.1", 5432, "PostgreSQL")
    import sqlalchemy as sa

    name = f"vw_srv_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.exec_driver_sql(f"create schema {name}")
    try:
        yield pg_url(name)
    finally:
        with engine.connect() as c:
            c.exec_driver_sql(f"drop schema if exists {name} cascade")
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """The service on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        storage = "sqlite:///vip.db"
    else:
        storage = request.getfixturevalue("pg_storage")
    server = start_server(write_workspace(tmp_path, storage))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sqlite_live(tmp_path: Path) -> Iterator[LiveServer]:
    """The service on SQLite only (for tests whose point is not the storage)."""
    server = start_server(write_workspace(tmp_path, "sqlite:///vip.db"))
    try:
        yield server
    finally:
        server.stop()


def is_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """Assert ``response`` is an RFC 9457 problem document with ``status``; return it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "code"} <= set(body)
    assert "Traceback" not in response.text
    return body
