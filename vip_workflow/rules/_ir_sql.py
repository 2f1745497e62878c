"""The SQL lowering of the rule IR (:mod:`vip_workflow.rules.ir`): trigger facts and tests, KPI
filters and aggregates as sqlglot expressions, generated for DuckDB, PostgreSQL, SQLite and Spark
SQL from one dispatch table. A node kind this module has no rule for raises
:class:`vip_workflow.rules.ir.UnknownNode`; nothing falls back to another lowering.

The semantics are those of ``docs/semantics.md``, spelled out where a database differs:

* NaN: PostgreSQL, DuckDB and Spark compare NaN as polars does (equal to itself, above +inf),
  so comparisons need nothing; NaN is *tested* by each dialect's own means. SQLite holds no NaN
  (a NaN it would compute is null), the one documented gap;
* ``/`` by zero is written out (±inf, NaN for 0/0): PostgreSQL raises, SQLite gives null;
* ``Sqrt`` of a negative number is NaN (PostgreSQL raises);
* a boolean as a float is a ``CASE`` (PostgreSQL has no boolean → double cast);
* ``ListMedian`` ranks the items among themselves (ties by position), no list type needed.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from vip_workflow._extras import require

require("sqlglot", "running trigger and KPI books in a database")

from sqlglot import exp  # noqa: E402

from vip_workflow.rules import ir  # noqa: E402

if TYPE_CHECKING:
    import polars as pl
    import sqlalchemy as sa

__all__ = [
    "DIALECTS",
    "SqlContext",
    "aggregate_sql",
    "dialect_of",
    "fetch",
    "group_aggregate_sql",
    "is_duckdb_relation",
    "is_nan",
    "nan",
    "table_source",
    "to_sql",
]

DIALECTS = ("duckdb", "postgres", "sqlite", "spark")
_DOUBLE = "double"


def dialect_of(name: str) -> str:
    """The sqlglot dialect of a SQLAlchemy dialect name (``postgresql`` → ``postgres``)."""
    dialect = {"postgresql": "postgres"}.get(name, name)
    if dialect not in DIALECTS:
        raise ValueError(f"no SQL dialect {name!r}: one of {', '.join(DIALECTS)}")
    return dialect


class SqlContext:
    """How the SQL lowering reads what is outside the tree (as :class:`ir.PolarsContext`):
    ``lag(field, k)``, the row's ``period`` (a date), named ``refs``, and ``stash(let, expr)``
    which may turn a ``Let`` into a column computed once (the default computes it in place)."""

    def __init__(self, dialect: str, *, lag: Callable[[str, int], exp.Expr] | None = None,
                 period: exp.Expr | None = None,
                 refs: Mapping[str, exp.Expr] | None = None,
                 stash: Callable[[ir.Let, exp.Expr], exp.Expr] | None = None
                 ) -> None:
        self.dialect = dialect
        self.lag = lag
        self.period = period
        self.refs = dict(refs or {})
        self.stash = stash
        self.lets: dict[str, exp.Expr] = {}


# -- dialect pieces -------------------------------------------------------------------------
def _double(value: exp.Expr) -> exp.Expr:
    return exp.Cast(this=value, to=exp.DataType.build(_DOUBLE))


def nan(dialect: str) -> exp.Expr:
    """A NaN literal (SQLite has none: null)."""
    if dialect == "sqlite":
        return exp.Null()
    return _double(exp.Literal.string("NaN"))


def _inf(dialect: str, negative: bool = False) -> exp.Expr:
    if dialect == "sqlite":  # 9e999 overflows to inf when SQLite reads it
        return exp.Literal.number("-9e999" if negative else "9e999")
    return _double(exp.Literal.string("-Infinity" if negative else "Infinity"))


def is_duckdb_relation(data: object) -> bool:
    """A DuckDB relation (checked without importing duckdb)."""
    return type(data).__module__.startswith(("duckdb", "_duckdb")) and hasattr(data, "query") \
        and hasattr(data, "columns")


def is_nan(value: exp.Expr, dialect: str) -> exp.Expr:
    """True where ``value`` is NaN (null stays null)."""
    if dialect == "postgres":  # PostgreSQL: NaN = NaN is true
        return exp.Paren(this=exp.EQ(this=_double(value), expression=nan(dialect)))
    if dialect == "sqlite":
        return exp.Paren(this=exp.Case(ifs=[exp.If(
            this=exp.Is(this=value, expression=exp.Null()), true=exp.Null())],
            default=exp.false()))
    return exp.IsNan(this=_double(value))


def literal(value: Any, dialect: str) -> exp.Expr:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, float):
        if value != value:
            return nan(dialect)
        if math.isinf(value):
            return _inf(dialect, value < 0)
        return exp.Literal.number(repr(value))
    if isinstance(value, int):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def _case(whens: Sequence[tuple[exp.Expr, exp.Expr]],
          otherwise: exp.Expr | None = None) -> exp.Expr:
    return exp.Case(ifs=[exp.If(this=c, true=v) for c, v in whens], default=otherwise)


def _is_null(value: exp.Expr) -> exp.Expr:
    return exp.Is(this=value, expression=exp.Null())


def _paren(value: exp.Expr) -> exp.Expr:
    return exp.Paren(this=value)


# -- the nodes ------------------------------------------------------------------------------
def _operand(node: ir.Node, ctx: SqlContext) -> exp.Expr:
    return to_sql(node, ctx)


def _let(node: ir.Let, ctx: SqlContext) -> exp.Expr:
    done = ctx.lets.get(node.name)
    if done is None:
        value = to_sql(node.value, ctx)
        done = ctx.stash(node, value) if ctx.stash is not None else _paren(value)
        ctx.lets[node.name] = done
    return done.copy()


def _lag(node: ir.Lag, ctx: SqlContext) -> exp.Expr:
    if ctx.lag is None:
        raise ir.UnknownNode(f"SQL ({ctx.dialect})", node)
    return ctx.lag(node.field, node.months)


def _period(node: ir.Period, ctx: SqlContext) -> exp.Expr:
    if ctx.period is None:
        raise ir.UnknownNode(f"SQL ({ctx.dialect})", node)
    return ctx.period.copy()


def _divide(left: exp.Expr, right: exp.Expr, dialect: str) -> exp.Expr:
    """IEEE division: ``x / 0`` is ±inf by the sign of x, ``0 / 0`` and ``NaN / 0`` NaN (the
    sign of a zero divisor is not read: −0.0 divides as +0.0)."""
    by_zero = _case([(exp.GT(this=left.copy(), expression=exp.Literal.number(0)),
                      _inf(dialect)),
                     (exp.LT(this=left.copy(), expression=exp.Literal.number(0)),
                      _inf(dialect, negative=True))], nan(dialect))
    quotient = exp.Div(this=_double(left.copy()), expression=right.copy())
    return _case([(exp.EQ(this=right, expression=exp.Literal.number(0)), by_zero)],
                 quotient)


_MATH: dict[str, type[exp.Binary]] = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}
_CMP: dict[str, type[exp.Binary]] = {"==": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE,
                                     ">": exp.GT, ">=": exp.GTE}


def _math(node: ir.Math, ctx: SqlContext) -> exp.Expr:
    left, right = to_sql(node.left, ctx), to_sql(node.right, ctx)
    if node.op == "/":
        return _paren(_divide(left, right, ctx.dialect))
    return _paren(_MATH[node.op](this=left, expression=right))


def _safe_div(node: ir.SafeDiv, ctx: SqlContext) -> exp.Expr:
    num, den = to_sql(node.num, ctx), to_sql(node.den, ctx)
    zero = exp.or_(_is_null(den.copy()), exp.EQ(this=den.copy(), expression=exp.Literal.number(0)),
                   copy=False)
    return _case([(zero, exp.Null())], exp.Div(this=_double(num), expression=den))


def _sqrt(node: ir.Sqrt, ctx: SqlContext) -> exp.Expr:
    value = to_sql(node.value, ctx)
    negative = exp.LT(this=value.copy(), expression=exp.Literal.number(0))
    return _case([(negative, nan(ctx.dialect))], exp.Sqrt(this=_double(value)))


_BOOLEAN_NODES = (ir.Cmp, ir.Logic, ir.IsNull, ir.Known, ir.InList)


def _is_boolean(node: ir.Node) -> bool:
    if isinstance(node, ir.Const):
        return isinstance(node.value, bool)
    if isinstance(node, ir.FillNull):
        return _is_boolean(node.value)
    return isinstance(node, _BOOLEAN_NODES)


def _as_float(node: ir.AsFloat, ctx: SqlContext) -> exp.Expr:
    value = to_sql(node.value, ctx)
    if _is_boolean(node.value):  # PostgreSQL casts no boolean to a double
        return _case([(value, exp.Literal.number("1.0")),
                      (exp.Not(this=_paren(value.copy())), exp.Literal.number("0.0"))])
    return _double(value)


def _days(node: ir.DaysBetween, ctx: SqlContext) -> exp.Expr:
    end, start = to_sql(node.end, ctx), to_sql(node.start, ctx)
    if ctx.dialect == "sqlite":
        return _paren(exp.Sub(this=exp.Anonymous(this="julianday", expressions=[end]),
                              expression=exp.Anonymous(this="julianday", expressions=[start])))
    if ctx.dialect == "spark":
        return _double(exp.DateDiff(this=end, expression=start))
    date = exp.DataType.build("date")
    return _double(exp.Sub(this=exp.Cast(this=end, to=date),
                           expression=exp.Cast(this=start, to=date.copy())))


def _cmp(node: ir.Cmp, ctx: SqlContext) -> exp.Expr:
    return _paren(_CMP[node.op](this=to_sql(node.left, ctx), expression=to_sql(node.right, ctx)))


def _logic(node: ir.Logic, ctx: SqlContext) -> exp.Expr:
    items = [_paren(to_sql(item, ctx)) for item in node.items]
    if node.op == "not":
        return exp.Not(this=items[0])
    join = exp.and_ if node.op == "and" else exp.or_
    return _paren(join(*items, copy=False)) if len(items) > 1 else items[0]


def _in(node: ir.InList, ctx: SqlContext) -> exp.Expr:
    value = to_sql(node.value, ctx)
    if not node.values:  # x IN () is no SQL; null stays null
        return _case([(_is_null(value), exp.Null())], exp.false())
    if node.numeric:
        members = [literal(float(v), ctx.dialect) for v in node.values]
        return _paren(exp.In(this=_double(value), expressions=members))
    return _paren(exp.In(this=value, expressions=[literal(v, ctx.dialect)
                                                   for v in node.values]))


def _when(node: ir.When, ctx: SqlContext) -> exp.Expr:
    whens = [(to_sql(cond, ctx), to_sql(value, ctx)) for cond, value in node.cases]
    otherwise = node.otherwise
    default = None if isinstance(otherwise, ir.Const) and otherwise.value is None \
        else to_sql(otherwise, ctx)
    return _case(whens, default)


def _count_known(node: ir.CountKnown, ctx: SqlContext) -> exp.Expr:
    terms = [_case([(_is_null(to_sql(item, ctx)), exp.Literal.number(0))],
                   exp.Literal.number(1)) for item in node.items]
    total = terms[0]
    for term in terms[1:]:
        total = exp.Add(this=total, expression=term)
    return _paren(total)


def _median(node: ir.ListMedian, ctx: SqlContext) -> exp.Expr:
    """The median of the known items: each known item's rank among the known ones (a smaller
    value first, ties by position; NaN compares above every number, as the engines sort it),
    then ``(low + high) / 2`` of the items ranked ``(n - 1) // 2`` and ``n // 2``."""
    if ctx.stash is not None:  # each item read many times: a column computed once
        key = hashlib.blake2b(repr(node).encode(), digest_size=6).hexdigest()
        node = ir.ListMedian(tuple(
            item if isinstance(item, ir.Lag | ir.Column | ir.Let | ir.Const)
            else ir.Let(f"median{key}.{i}", item) for i, item in enumerate(node.items)))
    items = [to_sql(item, ctx) for item in node.items]
    known = [exp.Not(this=_is_null(item.copy())) for item in items]
    one, zero, two = exp.Literal.number(1), exp.Literal.number(0), exp.Literal.number(2)

    def rank(i: int) -> exp.Expr:
        total: exp.Expr = zero.copy()
        for j, other in enumerate(items):
            if j == i:
                continue
            before: exp.Expr = exp.LT(this=other.copy(), expression=items[i].copy())
            if j < i:
                before = exp.or_(before, exp.EQ(this=other.copy(), expression=items[i].copy()),
                                 copy=False)
            hit = _case([(exp.and_(known[j].copy(), _paren(before), copy=False), one.copy())],
                        zero.copy())
            total = exp.Add(this=total, expression=hit)
        return exp.Mul(this=two.copy(), expression=_paren(total))

    count = _count_known(ir.CountKnown(node.items), ctx)

    def pick(offsets: tuple[int, int]) -> exp.Expr:
        wanted = [exp.Sub(this=count.copy(), expression=exp.Literal.number(k)) for k in offsets]
        return _case([(exp.and_(known[i].copy(), exp.In(this=rank(i), expressions=[
            w.copy() for w in wanted]), copy=False), items[i].copy())
            for i in range(len(items))])

    low, high = pick((1, 2)), pick((0, 1))  # 2·rank = n−1 or n−2; n or n−1
    total = exp.Add(this=low, expression=high)
    return _paren(exp.Div(this=_paren(total), expression=exp.Literal.number("2.0")))


_SQL: dict[type[ir.Node], Callable[[Any, SqlContext], exp.Expr]] = {
    ir.Const: lambda n, c: literal(n.value, c.dialect),
    ir.Lag: _lag,
    ir.Column: lambda n, c: exp.column(n.name, quoted=True),
    ir.Period: _period,
    ir.Ref: lambda n, c: c.refs[n.name].copy(),
    ir.Let: _let,
    ir.Math: _math,
    ir.SafeDiv: _safe_div,
    ir.Abs: lambda n, c: exp.Abs(this=to_sql(n.value, c)),
    ir.Sqrt: _sqrt,
    ir.FillNull: lambda n, c: exp.Coalesce(this=to_sql(n.value, c),
                                           expressions=[to_sql(n.default, c)]),
    ir.AsFloat: _as_float,
    ir.DaysBetween: _days,
    ir.Cmp: _cmp,
    ir.Logic: _logic,
    ir.IsNull: lambda n, c: _paren(_is_null(to_sql(n.value, c))),
    ir.Known: lambda n, c: exp.Not(this=_paren(_is_null(to_sql(n.value, c)))),
    ir.InList: _in,
    ir.When: _when,
    ir.CountKnown: _count_known,
    ir.ListMedian: _median,
}


def to_sql(node: ir.Node, ctx: SqlContext) -> exp.Expr:
    """The sqlglot expression of ``node`` (raises UnknownNode for a kind it has no rule for:
    ``Filter`` and ``Aggregate`` run through ``aggregate_sql``)."""
    rule = _SQL.get(type(node))
    if rule is None:
        raise ir.UnknownNode(f"SQL ({ctx.dialect})", node)
    return rule(node, ctx)


# -- KPIs: filtered, grouped aggregates ------------------------------------------------------
def aggregate_sql(node: ir.Aggregate, ctx: SqlContext) -> exp.Expr:
    """One aggregate as a float, with polars' rules: ``sum`` and ``count_true`` of no rows are
    0; ``min``/``max`` skip NaN unless every value is NaN; ``n_unique`` counts NaN once."""
    if node.fn == "len":
        return _double(exp.Count(this=exp.Star()))
    if node.value is None:
        raise ir.UnknownNode(f"SQL ({ctx.dialect})", node)
    value, keep = node.value, None
    if isinstance(value, ir.Filter):
        keep, value = to_sql(value.where, ctx), value.value
    if isinstance(value, ir.Filter | ir.Aggregate):
        raise ir.UnknownNode(f"SQL ({ctx.dialect})", node)
    read = to_sql(value, ctx)
    if node.fn == "count_true":
        hit = read if keep is None else exp.and_(_paren(keep), _paren(read), copy=False)
        return _double(exp.Coalesce(this=exp.Sum(this=_case(
            [(hit, exp.Literal.number(1))], exp.Literal.number(0))),
            expressions=[exp.Literal.number(0)]))

    def kept(where: exp.Expr | None = keep) -> exp.Expr:
        return read.copy() if where is None else _case([(where.copy(), read.copy())])

    if node.fn == "sum":
        return _double(exp.Coalesce(this=exp.Sum(this=kept()),
                                    expressions=[exp.Literal.number(0)]))
    if node.fn == "mean":
        return _double(exp.Avg(this=kept()))
    if node.fn == "min":  # NaN sorts above every number: MIN skips it unless all are NaN
        return _double(exp.Min(this=kept()))
    if node.fn == "max":
        number = exp.Not(this=is_nan(read.copy(), ctx.dialect))
        where = number if keep is None else exp.and_(_paren(keep.copy()), number, copy=False)
        return _double(exp.Coalesce(this=exp.Max(this=kept(where)),
                                    expressions=[exp.Max(this=kept())]))
    if node.fn == "n_unique":
        return _double(exp.Count(this=exp.Distinct(expressions=[kept()])))
    raise ir.UnknownNode(f"SQL ({ctx.dialect})", node)


def group_aggregate_sql(query: ir.GroupAggregate, source: exp.Expr, dialect: str
                        ) -> exp.Select:
    """``query`` over ``source`` (a table or sub-select): ``segment`` (the ``by`` column as it
    is: the caller reads it as text, sorts and adds the groups it lacks, as
    ``ir.run_group_aggregate`` does), the aggregates, ``rows``."""
    ctx = SqlContext(dialect)
    segment: exp.Expr = exp.column(query.by, quoted=True) if query.by is not None \
        else exp.Cast(this=exp.Null(), to=exp.DataType.build("text"))
    outputs = [segment.as_("segment", quoted=True, copy=False)]
    outputs += [aggregate_sql(agg, ctx).as_(name, quoted=True, copy=False)
                for name, agg in query.aggregates]
    outputs.append(exp.Count(this=exp.Star()).as_("rows", quoted=True, copy=False))
    select = exp.select(*outputs).from_(source, copy=False)
    if query.where is not None:
        select = select.where(to_sql(query.where, ctx), copy=False)
    if query.by is not None:
        select = select.group_by(exp.column(query.by, quoted=True), copy=False)
    return select


# -- running a SELECT -------------------------------------------------------------------------
def table_source(table: sa.Table) -> exp.Expr:
    return exp.to_table(f"{table.schema}.{table.name}" if table.schema else table.name,
                        quoted=True)


def fetch(bind: sa.Engine | sa.Connection, sql: str, dialect: str) -> pl.DataFrame:
    """The rows of ``sql`` as a polars frame: Arrow from DuckDB and PostgreSQL (ADBC, else
    COPY), the cursor on SQLite — the paths tier books use."""
    from vip_workflow.rules.tiers import _sqlalchemy as tiers_sql

    fetcher = {"postgres": tiers_sql._fetch_postgres, "duckdb": tiers_sql._fetch_duckdb}.get(
        dialect, tiers_sql._fetch_rows)
    return fetcher(bind, sql)
