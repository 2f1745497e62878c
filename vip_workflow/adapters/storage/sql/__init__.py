"""The SQL storage adapter: SQLite (the embedded default, WAL mode) and PostgreSQL (psycopg 3),
on SQLAlchemy 2 Core — one engine, one schema (``_schema.METADATA``) and one Alembic history
for everything vip_workflow keeps.

``SQLInstanceStore`` holds process instances, their ledgers and the notice outbox; its
``cycle`` is the monthly cycle's ``SQLCycleStore`` on the same engine, whose
``unit_of_work()`` writes a period's tiers, signals, tasks, process starts and notices in one
transaction.

The schema is made by the Alembic migrations shipped in ``migrations/`` (``upgrade(url)``, or
``vip-workflow db upgrade URL``). On first use a store checks the database's revision; an empty
database is set up (``create=True``), anything else that is not at this release's revision —
a foreign database, a corrupt file, an older or newer schema — raises ``SchemaVersionError``
before anything is written.

Modules: ``engine`` (engines, error translation), ``migrate`` (Alembic), ``instances``,
``outbox``, ``cycle``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vip_workflow.adapters.storage.sql.engine import make_engine, utc_text
from vip_workflow.adapters.storage.sql.instances import (
    PostgresInstanceStore,
    SQLInstanceStore,
    SQLiteInstanceStore,
    notice_key,
)
from vip_workflow.adapters.storage.sql.migrate import current_revision, upgrade
from vip_workflow.adapters.storage.sql.migrate import head as _head  # noqa: F401 (tests)
from vip_workflow.outbox import OutboxItem

if TYPE_CHECKING:
    from vip_workflow.adapters.storage.sql.cycle import SQLCycleStore

__all__ = [
    "OutboxItem",
    "PostgresInstanceStore",
    "SQLCycleStore",
    "SQLInstanceStore",
    "SQLiteInstanceStore",
    "current_revision",
    "make_engine",
    "notice_key",
    "upgrade",
    "utc_text",
]


def __getattr__(name: str) -> Any:
    """``SQLCycleStore`` is imported on first use (it needs polars; the instance store not)."""
    if name == "SQLCycleStore":
        from vip_workflow.adapters.storage.sql.cycle import SQLCycleStore

        return SQLCycleStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
