"""API tokens of the HTTP service (``vip-workflow token create``): stored as hashes only.

``vw_api_token`` holds one row per token: a short public id (what ``token list`` shows and
``token revoke`` takes), the SHA-256 of the token (the token itself is shown once and never
stored), the user and roles it acts as, and when it was made, expires and was revoked.

Revision ID: 0006_tokens
Revises: 0005_work
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_tokens"
down_revision = "0005_work"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "vw_api_token" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "vw_api_token",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("expires_at", sa.String(40)),
        sa.Column("revoked_at", sa.String(40)),
    )


def downgrade() -> None:
    op.drop_table("vw_api_token")
