"""PLACEHOLDER for helper C's ``0005_work`` (per-user work index) — it does nothing.

It exists only so that the w3-server branch's ``0006_tokens`` has its parent and the branch's
migrations run on their own. On merge, the real ``0005_work.py`` of the w3-store branch
replaces this file (an add/add conflict: take theirs).

Revision ID: 0005_work
Revises: 0004_repair
"""

revision = "0005_work"
down_revision = "0004_repair"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing: the placeholder of a revision another branch writes."""


def downgrade() -> None:
    """Nothing."""
