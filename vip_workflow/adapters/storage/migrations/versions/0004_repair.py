"""Repair databases whose cycle tables an earlier release made with ``create_all``.

The monthly cycle's store of releases up to 0003 made its own tables when they were missing,
without the index ``vw_tier_history_customer``, and migrations 0002/0003 keep tables that
exist: such a database never got the index. This revision adds every index the schema has
that the database lacks (and a cycle table that is missing altogether). It looks before it
adds, so it is harmless on a database that is already complete.

Revision ID: 0004_repair
Revises: 0003_signals
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_repair"
down_revision = "0003_signals"
branch_labels = None
depends_on = None

#: The indexes of the schema at this revision: name -> (table, columns).
_INDEXES = {
    "vw_instance_next_due": ("vw_instance", ["next_due"]),
    "vw_instance_definition": ("vw_instance", ["definition", "state"]),
    "vw_outbox_pending": ("vw_outbox", ["status", "next_attempt_at", "id"]),
    "vw_tier_history_customer": ("vw_tier_history", ["customer", "period"]),
    "vw_signals_customer": ("vw_signals", ["customer", "period"]),
}
_TIER = ["tier", "rule", "computed_tier", "book", "book_version"]
_TASK = ["period", "customer", "trigger", "family", "severity", "action", "assignee", "status",
         "case_id"]


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    _missing_tables(tables)
    for name, (table, columns) in _INDEXES.items():
        found = {i["name"] for i in inspector.get_indexes(table)} if table in tables else set()
        if name not in found:
            op.create_index(name, table, columns)


def _missing_tables(tables: set[str]) -> None:
    """The cycle's tables as migration 0002 makes them, where one is missing (their indexes
    are added by ``upgrade``)."""
    if "vw_tier_history" not in tables:
        op.create_table(
            "vw_tier_history",
            sa.Column("period", sa.String(16), primary_key=True),
            sa.Column("customer", sa.String(128), primary_key=True),
            *(sa.Column(name, sa.String(128)) for name in _TIER),
        )
    if "vw_cycle_runs" not in tables:
        op.create_table(
            "vw_cycle_runs",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("period", sa.String(16), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("at", sa.String(40), nullable=False),
            sa.Column("summary", sa.Text, nullable=False),
        )
    if "vw_tasks" not in tables:
        op.create_table(
            "vw_tasks",
            sa.Column("id", sa.String(200), primary_key=True),
            *(sa.Column(name, sa.Text) for name in _TASK),
        )


def downgrade() -> None:
    """Nothing to undo: the indexes belong to the schema of 0002 and 0003."""
