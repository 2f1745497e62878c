"""The shared expression IR of the batch rule kinds: trigger facts and tests, KPI filters and
aggregates, each written once as a tree of nodes and lowered to every form the library runs.

Lowerings (one dispatch table each; a node kind a table lacks raises :class:`UnknownNode`,
never falls back):

* :func:`to_polars` — a polars expression, over a :class:`PolarsContext` that says how to read
  a field ``k`` months back, the row's month and named results (``Ref``), and may *stash* a
  ``Let`` as a column computed once;
* :func:`to_python` — a plain-Python closure, evaluated on one customer-month (trigger facts)
  or one row (KPI filters) through a :class:`PyEnv`; the same arithmetic in the same order as
  the polars form, so both give bit-identical numbers;
* :func:`to_durable` — a durable_rules JSON condition, for the tests of trigger facts;
* :func:`run_group_aggregate` / :func:`group_aggregate_python` — a filtered, grouped table of
  aggregates (KPIs) from polars or from plain rows.

The semantics every back end follows (null, NaN, ±inf, division by zero …) are in
``docs/semantics.md``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from types import MappingProxyType
from typing import Any, Literal

import polars as pl
from attrs import frozen

__all__ = [
    "Abs",
    "Aggregate",
    "AsFloat",
    "Cmp",
    "Column",
    "Const",
    "CountKnown",
    "DaysBetween",
    "FillNull",
    "Filter",
    "GroupAggregate",
    "InList",
    "IsNull",
    "Known",
    "Lag",
    "Let",
    "ListMedian",
    "Logic",
    "Math",
    "Node",
    "Period",
    "PolarsContext",
    "PyEnv",
    "Ref",
    "SafeDiv",
    "Sqrt",
    "UnknownNode",
    "When",
    "complete_groups",
    "fold",
    "group_aggregate_python",
    "ieee_div",
    "run_group_aggregate",
    "safe_div",
    "to_durable",
    "to_polars",
    "to_python",
]


class UnknownNode(TypeError):
    """A lowering met a node kind (or operator) it has no rule for."""

    def __init__(self, lowering: str, node: object) -> None:
        super().__init__(f"the {lowering} lowering has no rule for {type(node).__name__} "
                         f"({node!r})")


class Node:
    """Base of the IR nodes (immutable, compared by value)."""


# -- leaves ---------------------------------------------------------------------------------
@frozen
class Const(Node):
    """A literal: a number, text, boolean, or None (null)."""

    value: Any


@frozen
class Lag(Node):
    """``field`` ``months`` calendar months before the row's month (0 = this month); null when
    that month is before the customer's first or unknown."""

    field: str
    months: int = 0


@frozen
class Column(Node):
    """A column of the row as it is (KPI portfolios: no cast, no NaN cleaning)."""

    name: str


@frozen
class Period(Node):
    """The row's month (its first day), a date."""


@frozen
class Ref(Node):
    """A value the caller supplies by name (a leaf's fact in its test and evidence)."""

    name: str


@frozen
class Let(Node):
    """A named intermediate: computed once per row and reused (a stashed column in polars)."""

    name: str
    value: Node


# -- arithmetic ------------------------------------------------------------------------------
@frozen
class Math(Node):
    """``left op right``; null if either is null; ``/`` by zero is IEEE (±inf, NaN)."""

    op: Literal["+", "-", "*", "/"]
    left: Node
    right: Node


@frozen
class SafeDiv(Node):
    """``num / den``, null when ``den`` is zero or null."""

    num: Node
    den: Node


@frozen
class Abs(Node):
    value: Node


@frozen
class Sqrt(Node):
    value: Node


@frozen
class FillNull(Node):
    """``value``, or ``default`` where it is null."""

    value: Node
    default: Node


@frozen
class AsFloat(Node):
    """A number or boolean as a float (true → 1.0)."""

    value: Node


@frozen
class DaysBetween(Node):
    """Whole days from ``start`` to ``end`` (dates) as a float; null unless both are dates."""

    end: Node
    start: Node


# -- tests -------------------------------------------------------------------------------------
@frozen
class Cmp(Node):
    """A comparison; null when either side is null."""

    op: Literal["==", "!=", "<", "<=", ">", ">="]
    left: Node
    right: Node


@frozen
class Logic(Node):
    """Kleene and/or/not (and/or over any number of items, ``not`` over one)."""

    op: Literal["and", "or", "not"]
    items: tuple[Node, ...]


@frozen
class IsNull(Node):
    value: Node


@frozen
class Known(Node):
    """True where ``value`` is not null."""

    value: Node


@frozen
class InList(Node):
    """``value`` is one of ``values`` (null stays null); ``numeric``: compare as floats."""

    value: Node
    values: tuple[Any, ...]
    numeric: bool = False


@frozen
class When(Node):
    """The value of the first case whose condition is true, else ``otherwise`` (a null
    condition is not true)."""

    cases: tuple[tuple[Node, Node], ...]
    otherwise: Node = Const(None)


# -- lists of values ---------------------------------------------------------------------------
@frozen
class CountKnown(Node):
    """How many of ``items`` are not null (an integer)."""

    items: tuple[Node, ...]


@frozen
class ListMedian(Node):
    """The median of the non-null ``items`` (mean of the two middle ones); null when none."""

    items: tuple[Node, ...]


# -- whole-table nodes (KPIs) ------------------------------------------------------------------
@frozen
class Filter(Node):
    """The rows of ``value`` where ``where`` is true."""

    value: Node
    where: Node


@frozen
class Aggregate(Node):
    """One value per group, as a float: ``sum mean min max n_unique`` (non-null values) of
    ``value``, ``len`` (rows), ``count_true`` (rows where the boolean ``value`` is true)."""

    fn: Literal["sum", "mean", "min", "max", "n_unique", "len", "count_true"]
    value: Node | None = None


@frozen
class GroupAggregate:
    """Rows passing ``where``, grouped by ``by`` (a text ``segment``; one group when None),
    with named ``aggregates`` and ``rows`` (how many rows the group has)."""

    where: Node | None
    by: str | None
    aggregates: tuple[tuple[str, Aggregate], ...]


def fold(op: Literal["+", "-", "*", "/"], items: Sequence[Node]) -> Node:
    """``items`` combined left to right (``((a + b) + c)``: the order every back end adds in)."""
    total = items[0]
    for item in items[1:]:
        total = Math(op, total, item)
    return total


# == polars ===================================================================================
class PolarsContext:
    """How a polars lowering reads what is outside the tree.

    ``lag(field, k)`` gives the field k months back; ``period`` the row's month; ``refs`` the
    named values; ``stash(name, expr)`` may turn a ``Let`` into a column computed once (the
    default computes it in place).
    """

    def __init__(self, lag: Callable[[str, int], pl.Expr] | None = None,
                 period: pl.Expr | None = None, refs: Mapping[str, pl.Expr] | None = None,
                 stash: Callable[[str, pl.Expr], pl.Expr] | None = None) -> None:
        self.lag = lag or _no_lag
        self.period = period if period is not None else pl.col("period")
        self.refs = dict(refs or {})
        self.stash = stash
        self.lets: dict[str, pl.Expr] = {}


def _no_lag(field: str, k: int) -> pl.Expr:
    return pl.col(field) if k == 0 else pl.col(field).shift(k)


_PL_CMP: dict[str, Callable[[pl.Expr, Any], pl.Expr]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
}
_PL_MATH: dict[str, Callable[[pl.Expr, Any], pl.Expr]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
}


def _pl_operand(node: Node, ctx: PolarsContext) -> Any:
    """A constant as a plain Python value (polars types it as the old hand-written forms did),
    anything else lowered."""
    return node.value if isinstance(node, Const) else to_polars(node, ctx)


def _pl_let(node: Let, ctx: PolarsContext) -> pl.Expr:
    done = ctx.lets.get(node.name)
    if done is None:
        value = to_polars(node.value, ctx)
        done = ctx.stash(node.name, value) if ctx.stash is not None else value
        ctx.lets[node.name] = done
    return done


def _pl_when(node: When, ctx: PolarsContext) -> pl.Expr:
    (first, value), *rest = node.cases
    chain: Any = pl.when(to_polars(first, ctx)).then(_pl_operand(value, ctx))
    for cond, then in rest:
        chain = chain.when(to_polars(cond, ctx)).then(_pl_operand(then, ctx))
    if isinstance(node.otherwise, Const) and node.otherwise.value is None:
        return chain  # type: ignore[no-any-return]
    return chain.otherwise(_pl_operand(node.otherwise, ctx))  # type: ignore[no-any-return]


def _pl_logic(node: Logic, ctx: PolarsContext) -> pl.Expr:
    items = [to_polars(item, ctx) for item in node.items]
    if node.op == "not":
        return ~items[0]
    return pl.all_horizontal(items) if node.op == "and" else pl.any_horizontal(items)


def _pl_in(node: InList, ctx: PolarsContext) -> pl.Expr:
    value = to_polars(node.value, ctx)
    if node.numeric:
        return value.cast(pl.Float64).is_in([float(v) for v in node.values])
    return value.is_in(list(node.values))


def _pl_median(node: ListMedian, ctx: PolarsContext) -> pl.Expr:
    values = pl.concat_list([to_polars(i, ctx) for i in node.items]).list.drop_nulls()
    ordered = values.list.sort()
    n = ordered.list.len()
    low = ordered.list.get((n - 1) // 2, null_on_oob=True)
    high = ordered.list.get(n // 2, null_on_oob=True)
    return (low + high) / 2.0


def _pl_aggregate(node: Aggregate, ctx: PolarsContext) -> pl.Expr:
    if node.fn == "len":
        return pl.len().cast(pl.Float64)
    if node.value is None:
        raise UnknownNode("polars", node)
    value = to_polars(node.value, ctx)
    aggregates: dict[str, Callable[[], pl.Expr]] = {
        "sum": value.sum, "mean": value.mean, "min": value.min, "max": value.max,
        "n_unique": lambda: value.drop_nulls().n_unique(), "count_true": value.sum,
    }
    if node.fn not in aggregates:
        raise UnknownNode("polars", node)
    return aggregates[node.fn]().cast(pl.Float64)


_POLARS: dict[type[Node], Callable[[Any, PolarsContext], pl.Expr]] = {
    Const: lambda n, c: pl.lit(n.value),
    Lag: lambda n, c: c.lag(n.field, n.months),
    Column: lambda n, c: pl.col(n.name),
    Period: lambda n, c: c.period,
    Ref: lambda n, c: c.refs[n.name],
    Let: _pl_let,
    Math: lambda n, c: _PL_MATH[n.op](to_polars(n.left, c), _pl_operand(n.right, c)),
    SafeDiv: lambda n, c: pl.when(to_polars(n.den, c) != 0).then(
        to_polars(n.num, c) / to_polars(n.den, c)),
    Abs: lambda n, c: to_polars(n.value, c).abs(),
    Sqrt: lambda n, c: to_polars(n.value, c).sqrt(),
    FillNull: lambda n, c: to_polars(n.value, c).fill_null(_pl_operand(n.default, c)),
    AsFloat: lambda n, c: to_polars(n.value, c).cast(pl.Float64),
    DaysBetween: lambda n, c: (to_polars(n.end, c) - to_polars(n.start, c))
    .dt.total_days().cast(pl.Float64),
    Cmp: lambda n, c: _PL_CMP[n.op](to_polars(n.left, c), _pl_operand(n.right, c)),
    Logic: _pl_logic,
    IsNull: lambda n, c: to_polars(n.value, c).is_null(),
    Known: lambda n, c: to_polars(n.value, c).is_not_null(),
    InList: _pl_in,
    When: _pl_when,
    CountKnown: lambda n, c: pl.sum_horizontal(
        [to_polars(i, c).is_not_null().cast(pl.Int32) for i in n.items]),
    ListMedian: _pl_median,
    Filter: lambda n, c: to_polars(n.value, c).filter(to_polars(n.where, c)),
    Aggregate: _pl_aggregate,
}


def to_polars(node: Node, ctx: PolarsContext | None = None) -> pl.Expr:
    """The polars expression of ``node`` (raises UnknownNode for a kind it has no rule for)."""
    rule = _POLARS.get(type(node))
    if rule is None:
        raise UnknownNode("polars", node)
    return rule(node, ctx if ctx is not None else PolarsContext())


def run_group_aggregate(query: GroupAggregate, frame: pl.DataFrame,
                        extra_groups: Sequence[str] = ()) -> pl.DataFrame:
    """``query`` over a polars frame: columns ``segment``, the aggregates, ``rows``; groups
    sorted by segment (null last), then the ``extra_groups`` the rows lack (no rows)."""
    ctx = PolarsContext()
    rows = frame.filter(to_polars(query.where, ctx)) if query.where is not None else frame
    aggs = [to_polars(agg, ctx).alias(name) for name, agg in query.aggregates]
    aggs.append(pl.len().alias("rows"))
    if query.by is None:
        return rows.select(aggs).with_columns(pl.lit(None, pl.String).alias("segment"))
    table = rows.group_by(pl.col(query.by).cast(pl.String).alias("segment")).agg(aggs)
    return complete_groups(table, extra_groups)


def complete_groups(table: pl.DataFrame, extra_groups: Sequence[str] = ()) -> pl.DataFrame:
    """A grouped table (text ``segment``, aggregates, ``rows``) sorted by segment (null
    last), then the ``extra_groups`` it lacks (no rows): the tail every back end shares."""
    table = table.sort("segment", nulls_last=True)
    known = set(table["segment"].to_list())
    missing = [g for g in extra_groups if g not in known]
    if missing:
        empty: dict[str, list[Any]] = {name: [None] * len(missing) for name in table.columns}
        empty |= {"segment": missing, "rows": [0] * len(missing)}
        table = pl.concat([table, pl.DataFrame(empty, schema=table.schema)])
    return table


# == plain Python ============================================================================
_EMPTY: Mapping[str, Any] = MappingProxyType({})


class PyEnv:
    """What a Python closure reads: ``values[field]`` — the field's values oldest first, the
    last being the row's month — the row's ``period``, named ``refs`` and a ``row`` mapping
    (KPI filters). ``lets`` caches intermediates for one evaluation."""

    __slots__ = ("lets", "period", "refs", "row", "values")

    def __init__(self, values: Mapping[str, Sequence[Any]] = _EMPTY,
                 period: date | None = None, refs: Mapping[str, Any] = _EMPTY,
                 row: Mapping[str, Any] = _EMPTY) -> None:
        self.values = values
        self.period = period
        self.refs = refs
        self.row = row
        self.lets: dict[str, Any] = {}


PyFn = Callable[[PyEnv], Any]


def ieee_div(a: float, b: float) -> float:
    """``a / b`` as IEEE 754 (and polars) divide: by zero gives ±inf, or NaN for 0/0."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or a != a:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def safe_div(a: float | None, b: float | None) -> float | None:
    """``a / b``; None when either is None or ``b`` is zero."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def _total_order(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    """``op`` with NaN equal to itself and above every number (+inf included), as polars,
    PostgreSQL, DuckDB and Spark compare; plain Python says False to every NaN test."""

    def compare(a: Any, b: Any) -> bool:
        a_nan, b_nan = a != a, b != b
        if a_nan or b_nan:
            return op(a_nan, b_nan)
        return op(a, b)

    return compare


_PY_CMP: dict[str, Callable[[Any, Any], bool]] = {
    name: _total_order(op) for name, op in {
        "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
        ">": operator.gt, ">=": operator.ge}.items()
}
_PY_MATH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": ieee_div,
}


def _py_sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0 or x != x else math.nan


def _py_const(node: Const) -> PyFn:
    value = node.value
    return lambda env: value


def _py_lag(node: Lag) -> PyFn:
    field, back = node.field, node.months + 1

    def lag(env: PyEnv) -> Any:
        series = env.values[field]
        return series[len(series) - back] if back <= len(series) else None

    return lag


def _py_let(node: Let) -> PyFn:
    name, value = node.name, to_python(node.value)

    def let(env: PyEnv) -> Any:
        lets = env.lets
        if name in lets:
            return lets[name]
        lets[name] = result = value(env)
        return result

    return let


def _py_binary(op: Callable[[Any, Any], Any], left_node: Node, right_node: Node) -> PyFn:
    """``op`` of two operands, null if either is null (a constant right side bound once)."""
    left = to_python(left_node)
    if isinstance(right_node, Const) and right_node.value is not None:
        constant = right_node.value

        def with_const(env: PyEnv) -> Any:
            a = left(env)
            return None if a is None else op(a, constant)

        return with_const
    right = to_python(right_node)

    def binary(env: PyEnv) -> Any:
        a = left(env)
        if a is None:
            return None
        b = right(env)
        return None if b is None else op(a, b)

    return binary


def _py_math(node: Math) -> PyFn:
    return _py_binary(_PY_MATH[node.op], node.left, node.right)


def _py_unary(fn: Callable[[Any], Any]) -> Callable[[Any], PyFn]:
    def build(node: Any) -> PyFn:
        value = to_python(node.value)

        def unary(env: PyEnv) -> Any:
            x = value(env)
            return None if x is None else fn(x)

        return unary

    return build


def _py_safe_div(node: SafeDiv) -> PyFn:
    num, den = to_python(node.num), to_python(node.den)

    def div(env: PyEnv) -> Any:
        b = den(env)
        if b is None or b == 0:
            return None
        a = num(env)
        return None if a is None else ieee_div(a, b)

    return div


def _py_fill(node: FillNull) -> PyFn:
    value, default = to_python(node.value), to_python(node.default)

    def fill(env: PyEnv) -> Any:
        x = value(env)
        return default(env) if x is None else x

    return fill


def _py_days(node: DaysBetween) -> PyFn:
    end, start = to_python(node.end), to_python(node.start)

    def days(env: PyEnv) -> Any:
        a, b = end(env), start(env)
        if not isinstance(a, date) or not isinstance(b, date):
            return None
        return float((a - b).days)

    return days


def _py_cmp(node: Cmp) -> PyFn:
    return _py_binary(_PY_CMP[node.op], node.left, node.right)


def _py_logic(node: Logic) -> PyFn:
    items = [to_python(item) for item in node.items]
    if node.op == "not":
        (only,) = items
        return lambda env: None if (x := only(env)) is None else not x
    stop = node.op != "and"  # and stops at False, or at True

    def logic(env: PyEnv) -> Any:
        unknown = False
        for item in items:
            x = item(env)
            if x is None:
                unknown = True
            elif bool(x) is stop:
                return stop
        return None if unknown else not stop

    return logic


def _py_in(node: InList) -> PyFn:
    value = to_python(node.value)
    if node.numeric:
        wanted = {float(v) for v in node.values}

        def numeric_in(env: PyEnv) -> Any:
            x = value(env)
            return None if x is None else float(x) in wanted

        return numeric_in
    values = tuple(node.values)

    def found(env: PyEnv) -> Any:
        x = value(env)
        return None if x is None else x in values

    return found


def _py_when(node: When) -> PyFn:
    cases = [(to_python(cond), to_python(value)) for cond, value in node.cases]
    otherwise = to_python(node.otherwise)
    if len(cases) == 1:
        (only, then), = cases

        def when_one(env: PyEnv) -> Any:
            return then(env) if only(env) else otherwise(env)

        return when_one

    def when(env: PyEnv) -> Any:
        for cond, value in cases:
            if cond(env):
                return value(env)
        return otherwise(env)

    return when


def _py_count(node: CountKnown) -> PyFn:
    items = [to_python(i) for i in node.items]
    return lambda env: sum(1 for item in items if item(env) is not None)


def _nan_last(x: float) -> tuple[bool, float]:
    return (True, 0.0) if x != x else (False, x)


def _py_median(node: ListMedian) -> PyFn:
    items = [to_python(i) for i in node.items]

    def median(env: PyEnv) -> Any:
        ordered = sorted((x for item in items if (x := item(env)) is not None),
                         key=_nan_last)
        n = len(ordered)
        return (ordered[(n - 1) // 2] + ordered[n // 2]) / 2.0 if n else None

    return median


def _py_column(node: Column) -> PyFn:
    name = node.name
    return lambda env: env.row.get(name)


def _py_ref(node: Ref) -> PyFn:
    name = node.name
    return lambda env: env.refs.get(name)


_PYTHON: dict[type[Node], Callable[[Any], PyFn]] = {
    Const: _py_const,
    Lag: _py_lag,
    Column: _py_column,
    Period: lambda n: lambda env: env.period,
    Ref: _py_ref,
    Let: _py_let,
    Math: _py_math,
    SafeDiv: _py_safe_div,
    Abs: _py_unary(abs),
    Sqrt: _py_unary(_py_sqrt),
    FillNull: _py_fill,
    AsFloat: _py_unary(float),
    DaysBetween: _py_days,
    Cmp: _py_cmp,
    Logic: _py_logic,
    IsNull: lambda n: (lambda value: lambda env: value(env) is None)(to_python(n.value)),
    Known: lambda n: (lambda value: lambda env: value(env) is not None)(to_python(n.value)),
    InList: _py_in,
    When: _py_when,
    CountKnown: _py_count,
    ListMedian: _py_median,
}


def to_python(node: Node) -> PyFn:
    """A closure computing ``node`` for one :class:`PyEnv` (raises UnknownNode for a kind it
    has no rule for — ``Filter`` and ``Aggregate`` run through ``group_aggregate_python``)."""
    rule = _PYTHON.get(type(node))
    if rule is None:
        raise UnknownNode("python", node)
    return rule(node)


def _sum(values: list[float]) -> float:
    """Exactly rounded (``math.fsum``) when every value is finite; else IEEE (NaN, ±inf)."""
    if all(math.isfinite(v) for v in values):
        return math.fsum(values)
    total = 0.0
    for v in values:
        total += v
    return total


def _aggregate_rows(agg: Aggregate, rows: Sequence[Mapping[str, Any]]) -> float | None:
    if agg.fn == "len":
        return float(len(rows))
    if agg.value is None:
        raise UnknownNode("python", agg)
    value: Node = agg.value
    keep = None
    if isinstance(value, Filter):
        keep = to_python(value.where)
        value = value.value
    read = to_python(value)
    envs = [PyEnv(row=row) for row in rows]
    xs = [read(env) for env in envs if keep is None or keep(env)]
    known = [x for x in xs if x is not None]
    if agg.fn == "count_true":
        return float(sum(1 for x in known if x))
    if agg.fn == "n_unique":
        return float(len({("nan",) if x != x else x for x in known}))
    if not known:
        return 0.0 if agg.fn == "sum" else None
    numbers = [x for x in known if x == x] or known  # min/max skip NaN unless all are NaN
    reducers: dict[str, Callable[[list[Any]], Any]] = {
        "sum": _sum, "mean": lambda v: _sum(v) / len(v),
        "min": lambda v: min(numbers), "max": lambda v: max(numbers)}
    if agg.fn not in reducers:
        raise UnknownNode("python", agg)
    return float(reducers[agg.fn](known))


def group_aggregate_python(query: GroupAggregate, rows: Sequence[Mapping[str, Any]]
                           ) -> list[dict[str, Any]]:
    """``query`` over plain rows (one dict each): one dict per group, as
    ``run_group_aggregate`` gives them (sums by ``math.fsum``: exactly rounded)."""
    keep = to_python(query.where) if query.where is not None else None
    kept = [row for row in rows if keep is None or keep(PyEnv(row=row))]
    groups: dict[Any, list[Mapping[str, Any]]] = {}
    if query.by is None:
        groups[None] = kept
    else:
        for row in kept:
            key = row.get(query.by)
            groups.setdefault(None if key is None else str(key), []).append(row)
    order = sorted(groups, key=lambda k: (k is None, k or ""))
    return [{"segment": key, **{name: _aggregate_rows(agg, groups[key])
                                for name, agg in query.aggregates}, "rows": len(groups[key])}
            for key in order]


# == durable_rules ===========================================================================
_DURABLE_OPS = {">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte", "!=": "$neq"}


def _durable_cmp(node: Cmp) -> dict[str, Any]:
    if not isinstance(node.left, Ref) or not isinstance(node.right, Const):
        raise UnknownNode("durable_rules", node)
    key, value = node.left.name, node.right.value
    return {key: value} if node.op == "==" else {_DURABLE_OPS[node.op]: {key: value}}


def _durable_logic(node: Logic) -> dict[str, Any]:
    if node.op == "not":
        raise UnknownNode("durable_rules", node)
    return {"$and" if node.op == "and" else "$or": [to_durable(i) for i in node.items]}


_DURABLE: dict[type[Node], Callable[[Any], dict[str, Any]]] = {
    Cmp: _durable_cmp,
    Logic: _durable_logic,
}


def to_durable(node: Node) -> dict[str, Any]:
    """A durable_rules condition for a test of posted facts: comparisons of a ``Ref`` (the
    fact's key) with a constant, combined by and/or. Anything else raises UnknownNode."""
    rule = _DURABLE.get(type(node))
    if rule is None:
        raise UnknownNode("durable_rules", node)
    return rule(node)
