"""Per-user work: ``vw_instance.escalated_to`` and the work index ``vw_work``.

Before this revision ``vw_instance.assignee`` held the role an SLA reassignment handed the
work to; that meaning moves to the new column ``escalated_to`` (the value is copied and
``assignee``, now a person, is cleared). ``vw_work`` holds one row per key of who may pick up
a running instance's work (``user:ID``, ``role:NAME``), with the instance's due time and
definition beside it (so a lookup never reads the instances); the migration cannot compute the keys
(they come from the process definitions), so the table starts empty and
``ProcessEngine.reindex_work()`` fills it.

Revision ID: 0005_work
Revises: 0004_repair
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_work"
down_revision = "0004_repair"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("vw_instance", sa.Column("escalated_to", sa.String(200)))
    op.execute("UPDATE vw_instance SET escalated_to = assignee, assignee = NULL "
               "WHERE assignee IS NOT NULL")
    op.create_table(
        "vw_work",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("instance_id", sa.String(200), primary_key=True),
        sa.Column("due", sa.String(40)),
        sa.Column("definition", sa.String(200), nullable=False),
    )
    op.create_index("vw_work_instance", "vw_work", ["instance_id"])
    op.create_index("vw_work_due", "vw_work", ["key", "due", "instance_id", "definition"])


def downgrade() -> None:
    """Back to 0004: the escalation role returns to ``assignee`` where one was recorded (a
    person assigned there is lost: 0004 has no place for it), and the index is dropped."""
    op.drop_index("vw_work_due", table_name="vw_work")
    op.drop_index("vw_work_instance", table_name="vw_work")
    op.drop_table("vw_work")
    op.execute("UPDATE vw_instance SET assignee = escalated_to")
    with op.batch_alter_table("vw_instance") as batch:
        batch.drop_column("escalated_to")
