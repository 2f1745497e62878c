"""The schema's one Alembic history (``vip_workflow/adapters/storage/migrations``): upgrade a
database, read its revision, and the first-use check every SQL store makes."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from vip_workflow.adapters.storage import _schema as s
from vip_workflow.adapters.storage.sql.engine import (
    is_memory_sqlite,
    make_engine,
    safe_name,
    translated,
)
from vip_workflow.errors import SchemaVersionError

__all__ = ["check_schema", "current_revision", "head", "upgrade"]

_MIGRATIONS = "vip_workflow.adapters.storage:migrations"
_LOCK_ID = 0x7669705F77660001  # pg_advisory_xact_lock key of schema changes ("vip_wf")


def _alembic_config(connection: sa.Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", _MIGRATIONS)
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision of the shipped migrations."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", _MIGRATIONS)
    return ScriptDirectory.from_config(config).get_current_head() or ""


def _lock(connection: sa.Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("select pg_advisory_xact_lock(:k)"), {"k": _LOCK_ID})


def _revision(connection: sa.Connection) -> tuple[str | None, set[str]]:
    """The recorded revision (``None`` when there is no version table) and the tables seen."""
    tables = set(sa.inspect(connection).get_table_names())
    if s.VERSION_TABLE not in tables:
        return None, tables
    rows = connection.execute(sa.text(f"select version_num from {s.VERSION_TABLE}")).all()
    if len(rows) != 1:
        return "", tables
    return rows[0][0], tables


def current_revision(url: str | sa.URL, **engine_kwargs: Any) -> str | None:
    """The schema revision recorded in the database at ``url`` (``None`` if none)."""
    engine = make_engine(url, **engine_kwargs)
    try:
        with translated(f"reading the schema revision of {safe_name(url)}"), engine.connect() as c:
            return _revision(c)[0]
    finally:
        engine.dispose()


def upgrade(url: str | sa.URL, revision: str = "head", **engine_kwargs: Any) -> str:
    """Apply the migrations to ``url`` up to ``revision``; returns the revision reached.

    This is what ``vip-workflow db upgrade URL`` runs. It is safe to run again and, on
    PostgreSQL, safe to run from several processes at once (an advisory lock serialises them).
    """
    engine = make_engine(url, **engine_kwargs)
    try:
        return _upgrade_engine(engine, revision, safe_name(url))
    finally:
        engine.dispose()


def _upgrade_engine(engine: sa.Engine, revision: str, name: str) -> str:
    from alembic import command

    with translated(f"upgrading {name}"):
        _enable_wal(engine)
        with engine.execution_options(vw_write=True).begin() as connection:
            _lock(connection)
            found, _ = _revision(connection)
            if found and found not in _known_revisions():
                raise SchemaVersionError(
                    f"{name} is at schema revision {found!r}, which this release of "
                    f"vip_workflow does not know (made by a newer release?)",
                    url=name, found=found, expected=head())
            command.upgrade(_alembic_config(connection), revision)
            return _revision(connection)[0] or ""


def _known_revisions() -> set[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", _MIGRATIONS)
    return {r.revision for r in ScriptDirectory.from_config(config).walk_revisions()}


def _enable_wal(engine: sa.Engine) -> None:
    """Put a SQLite file in WAL mode (persistent; done once the file is known to be ours)."""
    if engine.dialect.name == "sqlite" and not is_memory_sqlite(engine.url):
        raw = engine.raw_connection()  # outside any transaction
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.close()
        finally:
            raw.close()



def check_schema(engine: sa.Engine, name: str, *, create: bool) -> None:
    """Check the database behind ``engine`` before a store uses it: an empty one (or one with
    only the tables an old cycle store made) is set up by the migrations when ``create``; one
    at this release's revision is used; anything else raises ``SchemaVersionError`` and
    nothing is written."""
    expected = head()
    with translated(f"opening {name}"):
        with engine.connect() as connection:
            found, tables = _revision(connection)
        if found is None and tables <= s.CYCLE_TABLES and create:
            _upgrade_engine(engine, "head", name)
            return
    if found == expected:
        _enable_wal(engine)
        return
    if found is None:
        raise SchemaVersionError(
            f"{name} {_unrevised(tables)}; nothing was written. Point the store at its own "
            f"database (or schema), or run `vip-workflow db upgrade URL` to add the "
            f"vip_workflow tables to it.", url=name, found=None, expected=expected)
    if found in _known_revisions():
        raise SchemaVersionError(
            f"{name} is at schema revision {found!r}, this release needs {expected!r}; "
            f"run `vip-workflow db upgrade URL` (nothing was written)",
            url=name, found=found, expected=expected)
    raise SchemaVersionError(
        f"{name} is at schema revision {found!r}, unknown to this release (which "
        f"needs {expected!r}); nothing was written", url=name, found=found, expected=expected)


def _unrevised(tables: set[str]) -> str:
    """What a database without a revision holds, in words."""
    if tables <= s.CYCLE_TABLES:
        return "is empty and create=False"
    own = sorted(tables & (s.OWN_TABLES | s.CYCLE_TABLES))
    if own:
        return f"has vip_workflow tables ({', '.join(own)}) but no schema revision"
    return (f"is not a vip_workflow database (it has {len(tables)} other table(s)"
            + (", e.g. " + ", ".join(sorted(tables)[:3]) if tables else "") + ")")
