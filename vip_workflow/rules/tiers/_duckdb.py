"""The DuckDB back end: a relation in, a relation out, judged by the SQL of ``_sqlglot``.

``book.judge_many(relation)`` returns a lazy DuckDB relation with ``tier``, ``rule`` and
``reason`` (and ``computed_tier``) appended; ``.pl()`` or ``.arrow()`` fetches it as Arrow.
``book.judge_sql(connection, "table")`` takes a raw ``duckdb`` connection (or a duckdb_engine
SQLAlchemy engine) and a table name and returns a polars frame, fetched as Arrow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vip_workflow._extras import require
from vip_workflow.rules.tiers._sqlglot import Column, judgement_sql

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from vip_workflow.rules.tiers.book import RuleBook

__all__ = ["LOWERING", "DuckDBLowering", "columns_of", "judge_table"]

_INTEGERS = {"tinyint", "smallint", "integer", "bigint", "hugeint", "utinyint", "usmallint",
             "uinteger", "ubigint", "uhugeint"}
_OTHER = {"date": "date", "timestamp": "datetime", "timestamp with time zone": "datetime",
          "interval": "timedelta", "time": "time", "blob": "bytes"}
_INPUT = "__vw_input"


def _column(dtype: Any) -> Column:
    kind_id = str(dtype.id).lower()
    held = str(dtype)
    if kind_id in _INTEGERS:
        return Column("number", "int", False, held)
    if kind_id in ("float", "double"):
        return Column("number", "float", True, held)
    if kind_id == "decimal":
        return Column("number", "Decimal", False, held)
    if kind_id in ("varchar", "enum"):
        return Column("text", "str", False, held)
    if kind_id == "boolean":
        return Column("boolean", "bool", False, held)
    if kind_id in ("list", "array"):
        child = str(dtype.child.id).lower().split("(")[0]
        numeric = child in _INTEGERS or child in ("float", "double", "decimal")
        return Column("months" if numeric else None, "list", False, held)
    if kind_id == "null":
        return Column(None, "null", False, held)
    return Column(None, _OTHER.get(kind_id), False, held)


def columns_of(relation: duckdb.DuckDBPyRelation) -> dict[str, Column]:
    """Each column of a relation as the SQL lowering sees it."""
    return {name: _column(dtype) for name, dtype in zip(relation.columns, relation.dtypes,
                                                        strict=True)}


def judge_relation(book: RuleBook, relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """The relation with the answer columns appended (lazy: nothing runs until fetched)."""
    answers = ("tier", "rule", "reason", "computed_tier")
    keep = [c for c in relation.columns if c not in answers]
    sql = judgement_sql(book.plan, book.query, columns_of(relation), _INPUT,
                        dialect="duckdb", keep=keep)
    judged = relation.query(_INPUT, sql)
    assert judged is not None  # a SELECT always gives a relation
    return judged


def judge_table(book: RuleBook, connection: duckdb.DuckDBPyConnection, table: str, *,
                keep: list[str] | None = None, order_by: str | None = None) -> pl.DataFrame:
    """A table of a DuckDB connection judged inside DuckDB, fetched as Arrow into polars."""
    import polars as pl

    relation = connection.table(table)
    if keep is not None:
        relation = relation.select(*keep)
    judged = judge_relation(book, relation)
    if order_by is not None and order_by in judged.columns:
        judged = judged.order(f'"{order_by}"')
    frame = pl.from_arrow(judged.arrow())
    assert isinstance(frame, pl.DataFrame)
    return _typed(book, frame)


def _typed(book: RuleBook, frame: pl.DataFrame) -> pl.DataFrame:
    """Tier and rule as the polars Enums judge_many gives."""
    import polars as pl

    tiers = pl.Enum(list(book.plan.tiers))
    names = [c for c in ("tier", "computed_tier") if c in frame.columns]
    return frame.with_columns(*(pl.col(c).cast(tiers) for c in names),
                              pl.col("rule").cast(pl.Enum(list(book.plan.rule_ids))),
                              pl.col("reason").cast(pl.String))


def raw_connection(bind: object) -> duckdb.DuckDBPyConnection | None:
    """The duckdb connection behind ``bind`` (itself, or a duckdb_engine engine/connection)."""
    module = type(bind).__module__
    if module.startswith(("duckdb", "_duckdb")) and hasattr(bind, "table"):
        return bind  # type: ignore[return-value]
    dialect = getattr(bind, "dialect", None)
    if dialect is None or dialect.name != "duckdb":
        return None
    import sqlalchemy as sa

    if isinstance(bind, sa.Engine):
        raw = bind.raw_connection().driver_connection
    else:
        raw = bind.connection.driver_connection  # type: ignore[attr-defined]
    return getattr(raw, "_ConnectionWrapper__c", raw)


class DuckDBLowering:
    """The DuckDB back end of the registry: takes a ``DuckDBPyRelation``."""

    def accepts(self, data: object) -> bool:
        module = type(data).__module__
        return module.startswith(("duckdb", "_duckdb")) and hasattr(data, "query") \
            and hasattr(data, "columns")

    def judge(self, book: RuleBook, data: Any, **options: Any) -> Any:
        require("duckdb", "judging a DuckDB relation")
        return judge_relation(book, data)


LOWERING = DuckDBLowering()
