"""The one SQL schema of the storage stack (SQLAlchemy Core tables, one ``MetaData``).

Process instances, their ledger, the index of their work (``vw_work``: one row per key of who
may pick an instance's work up, ``user:ID`` or ``role:NAME``, none for a final instance) and
the outbox, and the monthly cycle's tier history, runs,
tasks and signals. The Alembic migrations in ``migrations/`` make the database; a test checks
that autogenerate finds no difference between a migrated database and ``METADATA`` (indexes
included), so these objects are what both stores query with, on one engine.
"""

from __future__ import annotations

import sqlalchemy as sa

from vip_workflow.ports import TASK_FIELDS, TIER_FIELDS

__all__ = ["HEAD", "METADATA", "VERSION_TABLE", "api_tokens", "cycle_runs", "instance", "jobs",
           "ledger", "outbox", "signals", "tasks", "tier_history", "work"]

#: Alembic's bookkeeping table (prefixed, so a host application's own Alembic is not disturbed).
VERSION_TABLE = "vw_alembic_version"
#: The newest revision this release knows (kept equal to the migrations' head by a test).
HEAD = "0007_jobs"
#: Tables whose presence marks a vip_workflow database.
OWN_TABLES = frozenset({"vw_instance", "vw_ledger", "vw_outbox", VERSION_TABLE})
#: Tables the monthly cycle's store of earlier releases made itself (``create_all``) before any
#: migration ran;
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
    sa.Column("escalated_to", sa.String(200)),
    sa.Column("parent", sa.String(200)),
    sa.Column("waiting_for", sa.String(200)),
    sa.Column("final", sa.Boolean, nullable=False),
    sa.Column("next_due", sa.String(40)),
    sa.Column("ledger_seq", sa.Integer, nullable=False),
    sa.Column("ledger_hash", sa.String(64), nullable=False),
    sa.Index("vw_instance_next_due", "next_due"),
    sa.Index("vw_instance_definition", "definition", "state"),
)

#: Who may pick up a running instance's work, with the instance's due time and definition
#: copied beside each key: ``find_work`` reads only ``vw_work_due`` (key, due, id,
#: definition: an index-only range scan per key, in due order), never the instances;
#: ``vw_work_instance`` serves the deletes of a commit.
work = sa.Table(
    "vw_work", METADATA,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("instance_id", sa.String(200), primary_key=True),
    sa.Column("due", sa.String(40)),
    sa.Column("definition", sa.String(200), nullable=False),
    sa.Index("vw_work_instance", "instance_id"),
    sa.Index("vw_work_due", "key", "due", "instance_id", "definition"),
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
    sa.Index("vw_outbox_pending", "status", "next_attempt_at", "id"),
)

tier_history = sa.Table(
    "vw_tier_history", METADATA,
    sa.Column("period", sa.String(16), primary_key=True),
    sa.Column("customer", sa.String(128), primary_key=True),
    *(sa.Column(name, sa.String(128)) for name in TIER_FIELDS[1:]),
    sa.Index("vw_tier_history_customer", "customer", "period"),
)

cycle_runs = sa.Table(
    "vw_cycle_runs", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("period", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
)

tasks = sa.Table(
    "vw_tasks", METADATA,
    sa.Column("id", sa.String(200), primary_key=True),
    *(sa.Column(name, sa.Text) for name in TASK_FIELDS[1:]),
)

signals = sa.Table(
    "vw_signals", METADATA,
    sa.Column("period", sa.String(16), primary_key=True),
    sa.Column("customer", sa.String(128), primary_key=True),
    sa.Column("trigger", sa.String(200), primary_key=True),
    sa.Column("family", sa.String(128)),
    sa.Column("severity", sa.String(128)),
    sa.Column("action", sa.Text),
    sa.Column("evidence", sa.Text),
    sa.Index("vw_signals_customer", "customer", "period"),
)

api_tokens = sa.Table(  # the HTTP service's API tokens: SHA-256 hashes only (0006_tokens)
    "vw_api_token", METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("roles", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("expires_at", sa.String(40)),
    sa.Column("revoked_at", sa.String(40)),
)

jobs = sa.Table(  # the HTTP service's background jobs, seen by every worker (0007_jobs)
    "vw_job", METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("period", sa.String(16), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    # the period while the job is queued or running, else NULL: one live job per kind and
    # period, held by the unique constraint across every worker
    sa.Column("live_key", sa.String(80), unique=True),
    sa.Column("done", sa.Integer, nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("stage", sa.String(200), nullable=False),
    sa.Column("started_by", sa.String(200), nullable=False),
    sa.Column("worker", sa.String(200), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("started_at", sa.String(40)),
    sa.Column("finished_at", sa.String(40)),
    sa.Column("heartbeat_at", sa.String(40), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("result", sa.Text),
    sa.Index("vw_job_period", "kind", "period", "created_at"),
)
