"""Background jobs of the HTTP service: ``vw_job``, one row per job, seen by every worker.

A job (a period of the monthly cycle run in the background) is run by the worker that accepted
it, which writes its status, progress (``done`` of ``total`` stages, the current ``stage``)
and a heartbeat; any worker answers a poll from the row. ``live_key`` holds the kind and
period while the job is queued or running (NULL after): its unique constraint lets only one
job of a period be live at once, whichever worker is asked.

Revision ID: 0007_jobs
Revises: 0006_tokens
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_jobs"
down_revision = "0006_tokens"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vw_job",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
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
    )
    op.create_index("vw_job_period", "vw_job", ["kind", "period", "created_at"])


def downgrade() -> None:
    op.drop_index("vw_job_period", table_name="vw_job")
    op.drop_table("vw_job")
