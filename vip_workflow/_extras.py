"""Optional dependencies: import one, or say which extra installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

from vip_workflow.errors import MissingExtraError

__all__ = ["EXTRAS", "require"]

#: Top-level module → the extra of ``pip install 'vip_workflow[EXTRA]'`` that brings it.
EXTRAS: dict[str, str] = {
    "pandas": "pandas",
    "pyarrow": "pandas",
    "matplotlib": "report",
    "psycopg": "postgres",
    "httpx": "webhook",
    "pika": "amqp",
    "nats": "nats",
    "apprise": "chat",
    "fastapi": "server",
    "uvicorn": "server",
    "multipart": "server",
    "jwt": "server",
}


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` for ``feature``, or raise ``MissingExtraError`` naming the extra."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.partition(".")[0]
        if exc.name is None or exc.name.partition(".")[0] != top:
            raise  # something the module itself imports is missing: not ours to explain
        raise MissingExtraError(feature, top, EXTRAS.get(top, "all")) from exc
