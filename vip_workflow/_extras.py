"""Optional dependencies: import one, or say which extra installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

from vip_workflow.errors import MissingExtraError

__all__ = ["EXTRAS", "LazyModule", "require"]

#: Top-level module → the extra of ``pip install 'vip_workflow[EXTRA]'`` that brings it.
EXTRAS: dict[str, str] = {
    "numpy": "numpy",
    "pandas": "pandas",
    "pyarrow": "pandas",
    "jinja2": "report",
    "psycopg": "postgres",
    "httpx": "webhook",
    "pika": "amqp",
    "nats": "nats",
    "apprise": "chat",
    "fastexcel": "excel",
    "xlsxwriter": "excel",
    "openpyxl": "excel",
    "fastapi": "server",
    "uvicorn": "server",
    "multipart": "server",
    "jwt": "server",
    "duckdb": "duckdb",
    "duckdb_engine": "duckdb",
    "sqlglot": "duckdb",
    "adbc_driver_postgresql": "duckdb",
    "pyspark": "spark",
    "py4j": "spark",
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


class LazyModule(ModuleType):
    """A stand-in for an optional module, imported through ``require`` on first attribute use.

    A module that needs numpy for some of its functions binds ``np = LazyModule("numpy",
    feature)`` (with the real import under ``TYPE_CHECKING``): importing it costs nothing and
    works without the extra; the first ``np.…`` raises ``MissingExtraError`` when it is missing.
    """

    def __init__(self, module: str, feature: str) -> None:
        super().__init__(module)
        self._vw_feature = feature

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        module = require(self.__name__, self._vw_feature)
        return getattr(module, name)
