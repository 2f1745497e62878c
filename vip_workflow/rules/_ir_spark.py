"""The Spark lowering of the rule IR (:mod:`vip_workflow.rules.ir`): PySpark ``Column``
expressions for trigger facts and tests and for KPI filters and aggregates.

:func:`to_spark` dispatches through one table of node kinds, like ``to_polars``; a kind (or an
operator) it has no rule for raises :class:`~vip_workflow.rules.ir.UnknownNode` — it never falls
back. The semantics are those of ``docs/semantics.md``, kept explicitly where Spark differs
from polars:

* ``Math("/")`` divides as IEEE 754 does (``x / 0`` is ±inf, ``0 / 0`` NaN); Spark's own ``/``
  gives null (or, under ANSI mode, an error) for a zero divisor;
* ``min``/``max`` skip NaN unless every value is NaN (Spark's NaN is above every number);
  ``sum`` of no value is 0;
* comparisons use Spark's own order, which is polars': NaN equals NaN and is above +inf.

``lag(field, k)`` — the field ``k`` calendar months back — is the caller's: the trigger scan
reads it through a window over a month number, ranged to exactly ``k`` months back, so a month
missing from the history reads as null, never as the row before it.

pyspark is imported on first use (``vip_workflow[spark]``); importing this module, or asking
:func:`is_spark_frame`, does not load it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from vip_workflow._extras import LazyModule
from vip_workflow.rules import ir

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame
    from pyspark.sql import functions as F
else:
    F = LazyModule("pyspark.sql.functions", "rules on a Spark DataFrame")

__all__ = ["SparkContext", "col", "group_aggregate", "ieee_divide", "is_spark_frame",
           "to_spark"]


def is_spark_frame(data: object) -> bool:
    """True for a pyspark DataFrame (classic or Spark Connect), without importing pyspark."""
    kind = type(data)
    return kind.__name__ == "DataFrame" and kind.__module__.startswith("pyspark.sql")


def col(name: str) -> Column:
    """A column by its exact name (dots and backticks in it are not paths)."""
    return F.col("`" + name.replace("`", "``") + "`")


class SparkContext:
    """What a Spark lowering reads outside the tree: ``lag(field, k)``, the row's ``period``,
    named ``refs``; ``stash(name, column)`` may turn a ``Let`` into a column computed once
    (the default computes it in place). ``lets`` caches each ``Let`` for the context."""

    def __init__(self, lag: Callable[[str, int], Column] | None = None,
                 period: Column | None = None, refs: Mapping[str, Column] | None = None,
                 stash: Callable[[str, Column], Column] | None = None) -> None:
        self.lag = lag or _no_lag
        self.period = period if period is not None else col("period")
        self.refs = dict(refs or {})
        self.stash = stash
        self.lets: dict[str, Column] = {}
        self.bound: dict[ir.Node, Column] = {}


def _no_lag(field: str, k: int) -> Column:
    if k:
        raise ir.UnknownNode("spark", ir.Lag(field, k))  # a lag needs the scan's window
    return col(field)


def _const(value: Any) -> Column:
    return F.lit(value)


def ieee_divide(a: Column, b: Column) -> Column:
    """``a / b`` as IEEE 754 (and polars) divide: by ±0 gives ±inf, or NaN for 0/0 and NaN/0;
    null when either is null."""
    a, b = a.cast("double"), b.cast("double")
    negative_zero = b.cast("string").startswith("-")  # -0.0 == 0.0 in Spark
    infinite = F.when((a > F.lit(0)) != negative_zero, F.lit(math.inf)).otherwise(
        F.lit(-math.inf))
    return (F.when(a.isNull() | b.isNull(), F.lit(None).cast("double"))
            .when(b == F.lit(0.0), F.when(F.isnan(a) | (a == F.lit(0.0)), F.lit(math.nan))
                  .otherwise(infinite))
            .otherwise(F.try_divide(a, b)))


_LEAVES = (ir.Const, ir.Lag, ir.Column, ir.Period, ir.Ref, ir.Let)


def _operand(node: ir.Node, ctx: SparkContext) -> Column:
    """The column of an operand that a lowering repeats (a division reads each side three
    or four times). A compound one is stashed as a column first when the context can: Spark
    generates the code of a repeated expression once per use, and a method grown past the
    JVM's 8 000-byte limit is never compiled — the scan then runs interpreted, several
    times slower (the seed preset's spend-anomaly spread: 2.9 s → 0.6 s on 480 000 rows)."""
    if ctx.stash is None or isinstance(node, _LEAVES):
        return to_spark(node, ctx)
    done = ctx.bound.get(node)
    if done is None:
        done = ctx.bound[node] = ctx.stash(f"~{len(ctx.bound)}", to_spark(node, ctx))
    return done


def _math(node: ir.Math, ctx: SparkContext) -> Column:
    if node.op == "/":
        return ieee_divide(_operand(node.left, ctx), _operand(node.right, ctx))
    left, right = to_spark(node.left, ctx), to_spark(node.right, ctx)
    if node.op == "+":
        return left + right
    if node.op == "-":
        return left - right
    if node.op == "*":
        return left * right
    raise ir.UnknownNode("spark", node)


def _safe_div(node: ir.SafeDiv, ctx: SparkContext) -> Column:
    num = _operand(node.num, ctx).cast("double")
    den = _operand(node.den, ctx).cast("double")
    return F.when(den != F.lit(0.0), F.try_divide(num, den))


_CMP: dict[str, Callable[[Column, Column], Column]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _cmp(node: ir.Cmp, ctx: SparkContext) -> Column:
    compare = _CMP.get(node.op)
    if compare is None:
        raise ir.UnknownNode("spark", node)
    return compare(to_spark(node.left, ctx), to_spark(node.right, ctx))


def _logic(node: ir.Logic, ctx: SparkContext) -> Column:
    items = [to_spark(item, ctx) for item in node.items]
    if node.op == "not":
        return ~items[0]
    if node.op not in ("and", "or"):
        raise ir.UnknownNode("spark", node)
    result = items[0]
    for item in items[1:]:  # Spark's and/or are Kleene's, as polars' are
        result = result & item if node.op == "and" else result | item
    return result


def _in(node: ir.InList, ctx: SparkContext) -> Column:
    value = to_spark(node.value, ctx)
    if not node.values:
        return F.when(value.isNotNull(), F.lit(False))
    if node.numeric:
        return value.cast("double").isin([float(v) for v in node.values])
    return value.isin(list(node.values))


def _when(node: ir.When, ctx: SparkContext) -> Column:
    (first, value), *rest = node.cases
    chain = F.when(to_spark(first, ctx), to_spark(value, ctx))
    for cond, then in rest:
        chain = chain.when(to_spark(cond, ctx), to_spark(then, ctx))
    if isinstance(node.otherwise, ir.Const) and node.otherwise.value is None:
        return chain
    return chain.otherwise(to_spark(node.otherwise, ctx))


def _count_known(node: ir.CountKnown, ctx: SparkContext) -> Column:
    total = F.lit(0)
    for item in node.items:
        total = total + to_spark(item, ctx).isNotNull().cast("int")
    return total


def _median(node: ir.ListMedian, ctx: SparkContext) -> Column:
    """The median of the non-null items, NaN sorted last (Spark's order, and polars'); nulls
    sort after every value, so the first ``n`` items are the known ones (no lambda: Spark
    interprets those row by row)."""
    values = [to_spark(i, ctx).cast("double") for i in node.items]
    ordered = F.array_sort(F.array(*values))
    n = F.lit(0)
    for value in values:
        n = n + value.isNotNull().cast("int")
    low = F.try_element_at(ordered, F.shiftright(n - F.lit(1), 1) + F.lit(1))
    high = F.try_element_at(ordered, F.shiftright(n, 1) + F.lit(1))
    return F.when(n > F.lit(0), (low + high) / F.lit(2.0))


def _let(node: ir.Let, ctx: SparkContext) -> Column:
    done = ctx.lets.get(node.name)
    if done is None:
        value = to_spark(node.value, ctx)
        done = ctx.stash(node.name, value) if ctx.stash is not None else value
        ctx.lets[node.name] = done
    return done


def _not_nan(value: Column) -> Column:
    return F.when(~F.isnan(value), value)


def _aggregate(node: ir.Aggregate, ctx: SparkContext) -> Column:
    """One aggregate over a group's rows, as a double (see ``ir.Aggregate``)."""
    if node.fn == "len":
        return F.count(F.lit(1)).cast("double")
    if node.value is None:
        raise ir.UnknownNode("spark", node)
    value = to_spark(node.value, ctx)
    number = value.cast("double")
    found: Column
    if node.fn == "sum":
        found = F.coalesce(F.sum(number), F.lit(0.0))
    elif node.fn == "mean":
        found = F.avg(number)
    elif node.fn == "min":  # NaN only when every value is NaN
        found = F.coalesce(F.min(_not_nan(number)), F.min(number))
    elif node.fn == "max":
        found = F.coalesce(F.max(_not_nan(number)), F.max(number))
    elif node.fn == "n_unique":
        found = F.count_distinct(value)
    elif node.fn == "count_true":
        found = F.count(F.when(value, F.lit(1)))
    else:
        raise ir.UnknownNode("spark", node)
    return found.cast("double")


_SPARK: dict[type[ir.Node], Callable[[Any, SparkContext], Column]] = {
    ir.Const: lambda n, c: _const(n.value),
    ir.Lag: lambda n, c: c.lag(n.field, n.months),
    ir.Column: lambda n, c: col(n.name),
    ir.Period: lambda n, c: c.period,
    ir.Ref: lambda n, c: c.refs[n.name],
    ir.Let: _let,
    ir.Math: _math,
    ir.SafeDiv: _safe_div,
    ir.Abs: lambda n, c: F.abs(to_spark(n.value, c)),
    ir.Sqrt: lambda n, c: F.sqrt(to_spark(n.value, c)),
    ir.FillNull: lambda n, c: F.coalesce(to_spark(n.value, c), to_spark(n.default, c)),
    ir.AsFloat: lambda n, c: to_spark(n.value, c).cast("double"),
    ir.DaysBetween: lambda n, c: F.datediff(to_spark(n.end, c), to_spark(n.start, c))
    .cast("double"),
    ir.Cmp: _cmp,
    ir.Logic: _logic,
    ir.IsNull: lambda n, c: to_spark(n.value, c).isNull(),
    ir.Known: lambda n, c: to_spark(n.value, c).isNotNull(),
    ir.InList: _in,
    ir.When: _when,
    ir.CountKnown: _count_known,
    ir.ListMedian: _median,
    ir.Filter: lambda n, c: F.when(to_spark(n.where, c), to_spark(n.value, c)),
    ir.Aggregate: _aggregate,
}


def to_spark(node: ir.Node, ctx: SparkContext | None = None) -> Column:
    """The Spark column of ``node`` (raises UnknownNode for a kind it has no rule for)."""
    rule = _SPARK.get(type(node))
    if rule is None:
        raise ir.UnknownNode("spark", node)
    return rule(node, ctx if ctx is not None else SparkContext())


def group_aggregate(query: ir.GroupAggregate, frame: DataFrame) -> DataFrame:
    """``query`` over a Spark DataFrame, lazily: ``segment`` (``by`` as text; null without
    ``by``), the aggregates and ``rows`` — one row per group, unordered (see
    ``ir.run_group_aggregate``, which also sorts and adds empty groups)."""
    ctx = SparkContext()
    rows = frame.where(to_spark(query.where, ctx)) if query.where is not None else frame
    aggs = [to_spark(agg, ctx).alias(name) for name, agg in query.aggregates]
    aggs.append(F.count(F.lit(1)).alias("rows"))
    if query.by is None:
        return rows.agg(*aggs).withColumn("segment", F.lit(None).cast("string"))
    return rows.groupBy(col(query.by).cast("string").alias("segment")).agg(*aggs)
