"""Alembic migrations of the SQL storage adapter (applied by ``vip-workflow db upgrade URL``)."""
