"""KPI checks in a database: each KPI's population, groups and aggregates (its rule-IR
``GroupAggregate``) lowered to one grouped SELECT by ``vip_workflow.rules._ir_sql``, for DuckDB,
PostgreSQL and SQLite; only the group table leaves the database.

The KPIs of a book whose groups have one column type run as one ``UNION ALL`` (one round trip);
the group table is then read as ``ir.run_group_aggregate`` gives it (segment as text, null
last, the groups with targets but no rows added) and judged against the targets by the same
code as on polars. Sums are the database's (``SUM`` of doubles, in the order it reads the rows):
equal to polars' whenever the sum is exact, possibly not in the last place otherwise.

``book.check(table, bind=engine)`` returns the polars frame ``check`` gives on polars (a KPI
report is a few rows, whatever the size of the portfolio); ``book.check(relation)`` the same
rows as a DuckDB relation, as ``judge_many`` gives a relation for a relation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from vip_workflow._extras import require

require("sqlglot", "checking KPIs in a database")  # MissingExtraError names the extra

import polars as pl  # noqa: E402
from sqlglot import exp  # noqa: E402

from vip_workflow.errors import ConfigError  # noqa: E402
from vip_workflow.rules import _ir_sql as lower  # noqa: E402
from vip_workflow.rules import ir  # noqa: E402
from vip_workflow.rules.kpis.book import (  # noqa: E402
    RESULT_SCHEMA,
    Kpi,
    check_columns,
    kpi_rows,
    query_ir,
)

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["DUCKDB", "SQLALCHEMY", "check_in_database", "kpi_selects"]

_INPUT = "__vw_input"
_KPI = "__vw_kpi"


def kpi_selects(kpis: Sequence[Kpi], schema: pl.Schema, source: exp.Expr,
                dialect: str) -> list[tuple[list[int], exp.Expr]]:
    """The SELECTs of ``kpis`` over ``source``: (positions of the KPIs, their ``UNION ALL``)
    for each column type the KPIs group by (no ``by``: one group, with the text ones)."""
    batches: dict[str, list[int]] = {}
    for position, kpi in enumerate(kpis):
        dtype = schema[kpi.by] if kpi.by is not None else pl.String()
        batches.setdefault(str(dtype), []).append(position)
    selects = []
    for positions in batches.values():
        parts = []
        for position in positions:
            query = query_ir(kpis[position])
            select = lower.group_aggregate_sql(query, source.copy(), dialect)
            if len(query.aggregates) == 1:  # every part has numerator and denominator
                rows = select.expressions.pop()
                select = select.select(exp.Cast(this=exp.Null(), to=exp.DataType.build(
                    "double")).as_("denominator", quoted=True, copy=False), rows, copy=False)
            index = exp.Literal.number(position).as_(_KPI, quoted=True, copy=False)
            parts.append(select.select(index, copy=False))
        union: exp.Expr = parts[0]
        for part in parts[1:]:
            union = exp.union(union, part, distinct=False)
        selects.append((positions, union))
    return selects


def _group_table(kpi: Kpi, rows: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """One KPI's rows of the fetched table, as ``ir.run_group_aggregate`` gives them."""
    columns = ["segment", "numerator", *(["denominator"] if kpi.measure.type == "ratio"
                                          else []), "rows"]
    table = rows.select(columns)
    if kpi.by is None:
        return table.with_columns(pl.lit(None, pl.String).alias("segment"),
                                  pl.col("rows").cast(pl.UInt32))
    segment = pl.col("segment").cast(schema[kpi.by]).cast(pl.String)
    return ir.complete_groups(table.with_columns(segment, pl.col("rows").cast(pl.UInt32)),
                              list(kpi.targets or {}))


def check_in_database(kpis: Sequence[Kpi], schema: pl.Schema, source: exp.Expr,
                      dialect: str, fetch: Callable[[str], pl.DataFrame]) -> pl.DataFrame:
    """``KpiBook.check``'s frame for ``kpis`` over ``source`` (columns typed as ``schema``),
    each batch of SELECTs run by ``fetch``."""
    for kpi in kpis:
        check_columns(kpi, schema)
    results: list[dict[str, Any]] = []
    tables: dict[int, pl.DataFrame] = {}
    for positions, select in kpi_selects(kpis, schema, source, dialect):
        fetched = fetch(select.sql(dialect=dialect))
        fetched = fetched.with_columns(pl.col(c).cast(pl.Float64) for c in fetched.columns
                                       if c in ("numerator", "denominator"))
        for position in positions:
            rows = fetched.filter(pl.col(_KPI) == position)
            tables[position] = _group_table(kpis[position], rows, schema)
    for position, kpi in enumerate(kpis):
        results += kpi_rows(kpi, tables[position])
    return pl.DataFrame(results, schema=RESULT_SCHEMA)


# == DuckDB ====================================================================================
class DuckDBKpis:
    """KPI checks of a DuckDB relation."""

    def accepts(self, data: object) -> bool:
        return lower.is_duckdb_relation(data)

    def run(self, rules: Any, data: Any, **options: Any) -> Any:
        require("duckdb", "checking KPIs of a DuckDB relation")
        schema = data.limit(0).pl().schema

        def fetch(sql: str) -> pl.DataFrame:
            frame: pl.DataFrame = data.query(_INPUT, sql).pl()  # through Arrow
            return frame

        results = check_in_database(rules, schema, exp.to_table(_INPUT, quoted=True),
                                    "duckdb", fetch)
        return data.query(_INPUT, _values_sql(results))


_DUCK_TYPES = {pl.String(): "VARCHAR", pl.Float64(): "DOUBLE", pl.Int64(): "BIGINT"}


def _values_sql(frame: pl.DataFrame) -> str:
    """A SELECT of ``frame``'s rows as literals (floats through text: read back bit for
    bit), so a DuckDB relation in gives a DuckDB relation out, as ``judge_many`` does."""
    def cell(value: Any, dtype: pl.DataType) -> exp.Expr:
        text = exp.Null() if value is None else exp.Literal.string(
            repr(value) if isinstance(value, float) else str(value))
        return exp.Cast(this=text, to=exp.DataType.build(_DUCK_TYPES[dtype], dialect="duckdb"))

    columns = list(frame.schema.items())
    rows = frame.rows() or [tuple(None for _ in columns)]
    selects = [exp.select(*(cell(v, t).as_(name, quoted=True, copy=False)
                            for v, (name, t) in zip(row, columns, strict=True)))
               for row in rows]
    union: exp.Expr = selects[0]
    for select in selects[1:]:
        union = exp.union(union, select, distinct=False, copy=False)
    ordered = exp.select(*(exp.column(name, quoted=True) for name, _ in columns)).from_(
        exp.Subquery(this=union, alias=exp.TableAlias(this=exp.to_identifier("__vw_kpis"))),
        copy=False)
    if frame.height == 0:
        ordered = ordered.where(exp.false(), copy=False)
    return ordered.sql(dialect="duckdb")


# == SQLAlchemy tables =========================================================================
def _dtype(sql_type: Any) -> pl.DataType:
    import sqlalchemy as sa

    kinds: list[tuple[type[Any], pl.DataType]] = [
        (sa.Boolean, pl.Boolean()), (sa.Integer, pl.Int64()), (sa.Float, pl.Float64()),
        (sa.Numeric, pl.Float64()), (sa.DateTime, pl.Datetime()), (sa.Date, pl.Date()),
        (sa.String, pl.String()), (sa.Text, pl.String()), (sa.Enum, pl.String())]
    return next((dtype for kind, dtype in kinds if isinstance(sql_type, kind)), pl.Null())


def table_schema(table: sa.Table) -> pl.Schema:
    """The polars types of a table's columns (as the filters' type checks read them)."""
    return pl.Schema({c.name: _dtype(c.type) for c in table.columns})


class SQLAlchemyKpis:
    """KPI checks of a SQLAlchemy ``Table`` (``check(table, bind=engine)``)."""

    def accepts(self, data: object) -> bool:
        return type(data).__module__.startswith("sqlalchemy") and hasattr(data, "columns") \
            and hasattr(data, "metadata")

    def run(self, rules: Any, data: Any, **options: Any) -> Any:
        bind = options.get("bind")
        if bind is None:
            raise ConfigError(f"checking the table {data.name!r} needs its database: "
                              "check(table, bind=engine)")
        dialect = lower.dialect_of(bind.dialect.name)
        return check_in_database(rules, table_schema(data), lower.table_source(data), dialect,
                                 lambda sql: lower.fetch(bind, sql, dialect))


DUCKDB = DuckDBKpis()
SQLALCHEMY = SQLAlchemyKpis()
