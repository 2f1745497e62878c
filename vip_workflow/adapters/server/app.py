"""The app factory: a workspace's ``vip.yaml`` → a FastAPI app serving ``/api/v1``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

import vip_workflow as vw
from vip_workflow.adapters.server import problems
from vip_workflow.adapters.server.auth import Authenticator
from vip_workflow.adapters.server.deps import Service
from vip_workflow.adapters.server.jobs import Jobs, JobStore
from vip_workflow.adapters.server.limits import BodyLimit
from vip_workflow.adapters.server.settings import ServerSettings, settings_from
from vip_workflow.adapters.server.timing import ServerTiming
from vip_workflow.adapters.server.tokens import TokenStore

if TYPE_CHECKING:
    from vip_workflow import Workspace

__all__ = ["ENV_WORKSPACE", "create_app", "create_app_from_env", "open_jobs", "open_tokens"]

#: The variable ``vip-workflow serve`` passes the workspace in to each uvicorn worker.
ENV_WORKSPACE = "VIP_WORKFLOW_WORKSPACE"

API_DESCRIPTION = """The key-account department's rules, processes, inbox, customers and
monthly cycle over HTTP. Every request acts as the caller (`Authorization: Bearer` with an API
token or an OIDC JWT); the engine decides what the caller may do. Every error is an RFC 9457
`application/problem+json` document."""


def _workspace(source: str | Path | Workspace) -> Workspace:
    if isinstance(source, str | Path):
        return vw.Workspace.from_file(source)
    return source


def open_tokens(workspace: Workspace, *, cache_seconds: float = 0.0) -> TokenStore:
    """The token store in the workspace's database (in memory for ``memory://``)."""
    instances = getattr(workspace.store, "instances", None)
    return TokenStore(getattr(instances, "engine", None), cache_seconds=cache_seconds)


def open_jobs(workspace: Workspace, settings: ServerSettings) -> Jobs:
    """The background jobs, kept in the workspace's database (``vw_job``) so that every
    worker sees them (in memory for ``memory://``)."""
    instances = getattr(workspace.store, "instances", None)
    store = JobStore(getattr(instances, "engine", None),
                     stale_seconds=settings.job_stale_seconds)
    return Jobs(store, heartbeat_seconds=settings.job_heartbeat_seconds)


def create_app(workspace: str | Path | Workspace = "vip.yaml", *,
               settings: ServerSettings | None = None) -> Any:
    """The ASGI app of a workspace (a ``vip.yaml`` path or a ``Workspace``); ``settings``
    default to the ``server:`` section of its ``vip.yaml``."""
    from vip_workflow.adapters.server import web
    from vip_workflow.adapters.server.routes import books, periods, processes, work

    ws = _workspace(workspace)
    settings = settings or settings_from(ws.config.server)
    tokens = open_tokens(ws, cache_seconds=settings.token_cache_seconds)
    service = Service(workspace=ws, settings=settings, tokens=tokens,
                      auth=Authenticator(tokens, settings.oidc),
                      jobs=open_jobs(ws, settings))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        ws.engine  # noqa: B018 - deploy the definitions before the first request
        yield
        service.jobs.close()

    app = FastAPI(title=f"vip_workflow: {ws.config.name}", version=vw.__version__,
                  description=API_DESCRIPTION, lifespan=lifespan,
                  openapi_url="/openapi.json", docs_url="/docs", redoc_url=None)
    app.state.service = service
    problems.install(app)
    for module in (books, processes, work, periods):
        app.include_router(module.router, prefix="/api/v1")
    app.router.routes[:0] = books.fast_routes("/api/v1")  # matched before their twins
    web.install(app)  # the workbench's pages at /web
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(ServerTiming)  # outermost: the whole of the app's time
    return app


def create_app_from_env() -> Any:
    """The app of the workspace named by ``VIP_WORKFLOW_WORKSPACE`` (uvicorn's factory for
    ``vip-workflow serve --workers N``: each worker process builds its own app)."""
    return create_app(os.environ.get(ENV_WORKSPACE, "vip.yaml"))
