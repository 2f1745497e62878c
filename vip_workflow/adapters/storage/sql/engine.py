"""Engines and error translation shared by every SQL store: one engine per database, SQLite
pragmas (``BEGIN IMMEDIATE`` for writers, busy timeout, ``synchronous``), PostgreSQL search
path, and driver errors turned into ``vw.StorageError`` subclasses."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from vip_workflow.errors import (
    ConcurrentUpdateError,
    ConflictError,
    SchemaVersionError,
    StorageError,
    StorageUnavailableError,
)

__all__ = ["is_memory_sqlite", "make_engine", "safe_name", "translated", "utc_text"]


def utc_text(moment: datetime) -> str:
    """A fixed-width UTC ISO text of ``moment``: text order is time order."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")



def _is_sqlite(url: sa.URL) -> bool:
    return url.get_backend_name() == "sqlite"


def is_memory_sqlite(url: sa.URL) -> bool:
    return _is_sqlite(url) and url.database in (None, "", ":memory:")


def make_engine(url: str | sa.URL, *, schema: str | None = None,
                synchronous: str = "NORMAL", **kwargs: Any) -> sa.Engine:
    """A SQLAlchemy engine set up for the store (SQLite pragmas, PostgreSQL search path)."""
    url = sa.make_url(url)
    if _is_sqlite(url):
        if is_memory_sqlite(url):
            kwargs.setdefault("poolclass", sa.pool.StaticPool)
            kwargs.setdefault("connect_args", {"check_same_thread": False})
        engine = sa.create_engine(url, **kwargs)

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi: Any, _record: Any) -> None:
            dbapi.isolation_level = None  # we issue BEGIN ourselves (see _begin)
            cursor = dbapi.cursor()
            cursor.execute("PRAGMA busy_timeout = 30000")
            cursor.execute(f"PRAGMA synchronous = {synchronous}")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(connection: sa.Connection) -> None:
            immediate = connection.get_execution_options().get("vw_write", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    if url.get_backend_name() == "postgresql" and url.get_driver_name() in ("", "psycopg2"):
        url = url.set(drivername="postgresql+psycopg")
    if schema:
        args = dict(kwargs.pop("connect_args", {}))
        args["options"] = f"{args.get('options', '')} -csearch_path={schema}".strip()
        kwargs["connect_args"] = args
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, **kwargs)


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    """Driver errors become ``StorageError`` subclasses (``raise … from exc``)."""
    try:
        yield
    except StorageError:
        raise
    except sa.exc.IntegrityError as exc:
        raise ConflictError(f"{what}: a row was refused: {exc.orig}") from exc
    except sa.exc.OperationalError as exc:
        text = str(exc.orig)
        if "not a database" in text or "malformed" in text:
            raise SchemaVersionError(f"{what}: the database is corrupt: {text}") from exc
        if "could not serialize" in text or "deadlock" in text:
            raise ConcurrentUpdateError(f"{what}: {text}") from exc
        raise StorageUnavailableError(f"{what}: {text}") from exc
    except sa.exc.InterfaceError as exc:
        raise StorageUnavailableError(f"{what}: {exc.orig}") from exc
    except sa.exc.DatabaseError as exc:
        text = str(exc.orig)
        if "not a database" in text or "malformed" in text:
            raise SchemaVersionError(f"{what}: the database is corrupt: {text}") from exc
        raise StorageError(f"{what}: {text}") from exc


def safe_name(url: str | sa.URL) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)

