"""The monthly cycle's signals, kept per period (one row per period, customer and trigger).

It matches what ``vip_workflow.cycle.history.SQLCycleStore`` reads and writes; a table that
store already made (it creates it itself when missing) is kept as it is.

Revision ID: 0003_signals
Revises: 0002_cycle
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_signals"
down_revision = "0002_cycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "vw_signals" in set(sa.inspect(op.get_bind()).get_table_names()):
        return
    op.create_table(
        "vw_signals",
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("customer", sa.String(128), primary_key=True),
        sa.Column("trigger", sa.String(200), primary_key=True),
        sa.Column("family", sa.String(128)),
        sa.Column("severity", sa.String(128)),
        sa.Column("action", sa.Text),
        sa.Column("evidence", sa.Text),
    )
    op.create_index("vw_signals_customer", "vw_signals", ["customer", "period"])


def downgrade() -> None:
    op.drop_table("vw_signals")
