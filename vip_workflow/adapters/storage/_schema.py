"""The SQL schema of the storage adapter (SQLAlchemy Core tables) and its revision check.

The tables here mirror what the Alembic migrations in ``migrations/`` create; the migrations
are the source of truth for the database, these objects are what the adapter queries with.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["HEAD", "METADATA", "VERSION_TABLE", "instance", "ledger", "outbox"]

#: Alembic's bookkeeping table (prefixed, so a host application's own Alembic is not disturbed).
VERSION_TABLE = "vw_alembic_version"
#: The newest revision this release knows (kept equal to the migrations' head by a test).
HEAD = "0003_signals"
#: Tables whose presence marks a vip_workflow database.
OWN_TABLES = frozenset({"vw_instance", "vw_ledger", "vw_outbox", VERSION_TABLE})
#: Tables the monthly cycle's store (``SQLCycleStore``) may have made before any migration ran;
#: a database holding only these is set up like an empty one (the migration keeps them).
CYCLE_TABLES = frozenset({"vw_tier_history", "vw_cycle_runs", "vw_tasks", "vw_signals"})

METADATA = sa.MetaData()

instance = sa.Table(
    "vw_instance", METADATA,
    sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(200), nullable=False, unique=True),
    sa.Column("definition", sa.String(200), nullable=False),
    sa.Column("definition_version", sa.Integer, nullable=False),
    sa.Column("state", sa.String(200), nullable=False),
    sa.Column("context", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("gate", sa.Text),
    sa.Column("timers", sa.Text, nullable=False),
    sa.Column("assignee", sa.String(200)),
    sa.Column("parent", sa.String(200)),
    sa.Column("waiting_for", sa.String(200)),
    sa.Column("final", sa.Boolean, nullable=False),
    sa.Column("next_due", sa.String(40)),
    sa.Column("ledger_seq", sa.Integer, nullable=False),
    sa.Column("ledger_hash", sa.String(64), nullable=False),
)

ledger = sa.Table(
    "vw_ledger", METADATA,
    sa.Column("instance_id", sa.String(200), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("on_behalf_of", sa.String(200)),
    sa.Column("action", sa.String(200), nullable=False),
    sa.Column("source", sa.String(200)),
    sa.Column("dest", sa.String(200)),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("data", sa.Text),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

outbox = sa.Table(
    "vw_outbox", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(300), nullable=False, unique=True),
    sa.Column("kind", sa.String(100), nullable=False),
    sa.Column("instance_id", sa.String(200), nullable=False),
    sa.Column("process", sa.String(200), nullable=False),
    sa.Column("state", sa.String(200), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("roles", sa.Text, nullable=False),
    sa.Column("users", sa.Text, nullable=False),
    sa.Column("data", sa.Text),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.String(40), nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("delivered_at", sa.String(40)),
)
