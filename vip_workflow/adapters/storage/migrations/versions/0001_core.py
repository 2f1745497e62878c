"""Process instances, their ledger and the notice outbox.

Revision ID: 0001_core
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vw_instance",
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
    op.create_index("vw_instance_next_due", "vw_instance", ["next_due"])
    op.create_index("vw_instance_definition", "vw_instance", ["definition", "state"])
    op.create_table(
        "vw_ledger",
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
    op.create_table(
        "vw_outbox",
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
    op.create_index("vw_outbox_pending", "vw_outbox", ["status", "next_attempt_at", "id"])


def downgrade() -> None:
    op.drop_table("vw_outbox")
    op.drop_table("vw_ledger")
    op.drop_table("vw_instance")
