"""The SQL database back end: a SQLAlchemy ``Table`` (SQLite, PostgreSQL, DuckDB through
duckdb_engine) judged by one SELECT from ``_sqlglot``, the answer fetched as Arrow.

PostgreSQL answers come through ADBC (``adbc-driver-postgresql``) when it is installed, else
through ``COPY (…) TO STDOUT`` in CSV with psycopg, read by polars in one go; DuckDB's natively;
SQLite's through its cursor (one file, one process: there is no faster way out).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from vip_workflow.errors import ConfigError
from vip_workflow.rules.tiers._sqlglot import Column, judgement_sql

if TYPE_CHECKING:
    import polars as pl
    import sqlalchemy as sa

    from vip_workflow.rules.tiers.book import RuleBook

__all__ = ["LOWERING", "SQLAlchemyLowering", "columns_of", "judge_table"]

_DIALECTS = {"postgresql": "postgres", "sqlite": "sqlite", "duckdb": "duckdb"}


def _column(sql_type: Any, dialect: str) -> Column:
    import sqlalchemy as sa

    held = str(sql_type)
    if isinstance(sql_type, sa.Boolean):
        return Column("boolean", "bool", False, held)
    if isinstance(sql_type, sa.Integer):  # SQLite's columns take any value whatever their type
        return Column("number", "int", dialect == "sqlite", held)
    if isinstance(sql_type, sa.Float):
        return Column("number", "float", True, held)
    if isinstance(sql_type, sa.Numeric):
        return Column("number", "Decimal", dialect != "duckdb", held)
    if isinstance(sql_type, sa.String | sa.Text | sa.Enum):
        return Column("text", "str", False, held)
    if isinstance(sql_type, sa.ARRAY):
        return Column("months", "list", False, held)
    names = {sa.Date: "date", sa.DateTime: "datetime", sa.Interval: "timedelta",
             sa.Time: "time", sa.LargeBinary: "bytes"}
    python = next((n for t, n in names.items() if isinstance(sql_type, t)), None)
    return Column(None, python, False, held)


def columns_of(table: sa.Table, dialect: str) -> dict[str, Column]:
    """Each column of a table as the SQL lowering sees it (from its declared types)."""
    return {c.name: _column(c.type, dialect) for c in table.columns}


def statement(book: RuleBook, table: sa.Table, *, dialect: str, keep: list[str]) -> str:
    """The judging SELECT for ``table`` in a sqlglot dialect."""
    name = f"{table.schema}.{table.name}" if table.schema else table.name
    return judgement_sql(book.plan, book.query, columns_of(table, dialect), name,
                         dialect=dialect, keep=keep)


def judge_table(book: RuleBook, bind: sa.Engine | sa.Connection, table: sa.Table, *,
                keep: list[str] | None = None, order_by: str | None = None) -> pl.DataFrame:
    """Judge ``table`` inside its database; a polars frame of ``keep`` plus the answers."""
    from vip_workflow.rules.tiers._duckdb import _typed

    dialect = _DIALECTS.get(bind.dialect.name)
    if dialect is None:
        raise ConfigError(f"judging in {bind.dialect.name} is not supported: "
                          f"one of {', '.join(_DIALECTS)}")
    keep = list(keep) if keep is not None else [c.name for c in table.columns]
    sql = statement(book, table, dialect=dialect, keep=keep)
    if order_by is not None and order_by in keep:
        quote = "`" if dialect == "spark" else '"'
        sql = f"{sql} ORDER BY {quote}{order_by}{quote}"
    fetch = {"postgres": _fetch_postgres, "duckdb": _fetch_duckdb}.get(dialect, _fetch_rows)
    return _typed(book, fetch(bind, sql))


def _fetch_duckdb(bind: sa.Engine | sa.Connection, sql: str) -> pl.DataFrame:
    import polars as pl

    from vip_workflow.rules.tiers._duckdb import raw_connection

    connection = raw_connection(bind)
    assert connection is not None
    frame = pl.from_arrow(connection.sql(sql).arrow())
    assert isinstance(frame, pl.DataFrame)
    return frame


def _fetch_postgres(bind: sa.Engine | sa.Connection, sql: str) -> pl.DataFrame:
    """Through ADBC when installed (Arrow all the way), else COPY … TO STDOUT."""
    import polars as pl

    try:
        from adbc_driver_postgresql import dbapi  # type: ignore[import-untyped]
    except ImportError:
        return _copy_postgres(bind, sql)
    url = bind.engine.url if hasattr(bind, "engine") else bind.url  # type: ignore[union-attr]
    uri = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with dbapi.connect(uri) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        frame = pl.from_arrow(cursor.fetch_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def _copy_postgres(bind: sa.Engine | sa.Connection, sql: str) -> pl.DataFrame:
    import polars as pl

    buffer = io.BytesIO()
    raw = bind.raw_connection() if hasattr(bind, "raw_connection") else \
        bind.connection
    try:
        cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
            for block in copy:
                buffer.write(block)
    finally:
        if hasattr(bind, "raw_connection"):
            raw.close()
    buffer.seek(0)
    return pl.read_csv(buffer, infer_schema_length=None)


def _fetch_rows(bind: sa.Engine | sa.Connection, sql: str) -> pl.DataFrame:
    import polars as pl
    import sqlalchemy as sa

    with bind.connect() if isinstance(bind, sa.Engine) else bind as connection:
        result = connection.exec_driver_sql(sql)
        names = list(result.keys())
        rows = result.fetchall()
    return pl.DataFrame([tuple(r) for r in rows], schema=names, orient="row",
                        infer_schema_length=None)


class SQLAlchemyLowering:
    """The back end of the registry for a SQLAlchemy ``Table``: ``judge_many(table,
    bind=engine)`` (a Table carries no engine of its own)."""

    def accepts(self, data: object) -> bool:
        return type(data).__module__.startswith("sqlalchemy") and hasattr(data, "columns") \
            and hasattr(data, "metadata")

    def judge(self, book: RuleBook, data: Any, **options: Any) -> Any:
        bind = options.get("bind")
        if bind is None:
            raise ConfigError(f"judging the table {data.name!r} needs its database: "
                              "judge_many(table, bind=engine)")
        return judge_table(book, bind, data, order_by=book.plan.id_field)


LOWERING = SQLAlchemyLowering()
