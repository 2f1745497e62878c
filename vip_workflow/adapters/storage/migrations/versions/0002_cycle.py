"""The monthly cycle's tables: tier decisions per customer and period, runs, tasks.

They match what ``vip_workflow.cycle.history.SQLCycleStore`` reads and writes; tables that
store already made (it creates them itself when missing) are kept as they are.

Revision ID: 0002_cycle
Revises: 0001_core
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_cycle"
down_revision = "0001_core"
branch_labels = None
depends_on = None

_TIER = ["tier", "rule", "computed_tier", "book", "book_version"]
_TASK = ["period", "customer", "trigger", "family", "severity", "action", "assignee", "status",
         "case_id"]


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "vw_tier_history" not in existing:
        _tier_history()
    if "vw_cycle_runs" not in existing:
        _runs()
    if "vw_tasks" not in existing:
        _tasks()


def _tier_history() -> None:
    op.create_table(
        "vw_tier_history",
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("customer", sa.String(128), primary_key=True),
        *(sa.Column(name, sa.String(128)) for name in _TIER),
    )
    op.create_index("vw_tier_history_customer", "vw_tier_history", ["customer", "period"])


def _runs() -> None:
    op.create_table(
        "vw_cycle_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
    )


def _tasks() -> None:
    op.create_table(
        "vw_tasks",
        sa.Column("id", sa.String(200), primary_key=True),
        *(sa.Column(name, sa.Text) for name in _TASK),
    )


def downgrade() -> None:
    op.drop_table("vw_tasks")
    op.drop_table("vw_cycle_runs")
    op.drop_table("vw_tier_history")
