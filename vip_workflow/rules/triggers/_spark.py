"""The Spark back end of ``TriggerBook.scan``: a Spark DataFrame in, a lazy Spark DataFrame of
signals out, the polars scan's rows (``batch.py``, the reference) with the same evidence.

A field ``k`` calendar months back is read through one window per customer, ordered by a month
number and framed to exactly ``k`` months back (``rangeBetween(-k, -k)``): a month missing from
the history is an empty frame, so it reads as null — never as the row before it. Every lag
shares the window's partitioning and order, so the facts cost one shuffle and one sort; the
``onset`` test (held this month, not the month before) is a second window on the same spec.
The signals of all triggers leave one projection as an array of structs, exploded; they are not
sorted (the polars scan sorts by customer, period and trigger order).

The input is read as the polars scan reads it: ``period`` (a date, timestamp or ``YYYY-MM[-DD]``
text) as the first day of its month, numbers as doubles with NaN unknown, ``agreement_end`` as a
date. Unlike the polars scan, nothing is collected to check the input: two rows for one customer
and month are not refused (the lag then reads either), an unreadable period is dropped and a
text that is not a number reads as unknown.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from functools import reduce
from typing import TYPE_CHECKING

from vip_workflow._extras import LazyModule, require
from vip_workflow.errors import EvaluationError
from vip_workflow.rules._ir_spark import SparkContext, col, to_spark
from vip_workflow.rules.triggers.plan import TriggerPlan, unique_items

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, Window
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
    from pyspark.sql.window import WindowSpec
else:
    F = LazyModule("pyspark.sql.functions", "scanning a Spark DataFrame")
    T = LazyModule("pyspark.sql.types", "scanning a Spark DataFrame")

__all__ = ["SPARK", "scan_spark"]

_MONTH = "__vw_month"
_DATE_FIELDS = ("agreement_end",)


def _window() -> type[Window]:
    window: type[Window] = require("pyspark.sql.window", "scanning a Spark DataFrame").Window
    return window


def _months_back(k: int) -> WindowSpec:
    """The row exactly ``k`` calendar months before this one, of the same customer."""
    return _window().partitionBy("customer_id").orderBy(_MONTH).rangeBetween(-k, -k)


def _as_date(value: Column, dtype: T.DataType) -> Column:
    if isinstance(dtype, T.DateType):
        return value
    if isinstance(dtype, T.StringType):
        text = F.trim(value)
        text = F.when(F.length(text) <= F.lit(7), F.concat(text, F.lit("-01"))).otherwise(text)
        return F.try_to_date(text, "yyyy-M-d")
    return F.to_date(value)


def _source(field: str, dtype: T.DataType) -> Column:
    """The field as the facts read it: dates as dates, numbers as doubles with NaN unknown."""
    if field in _DATE_FIELDS:
        return _as_date(col(field), dtype)
    number = col(field).try_cast("double")
    return F.when(~F.isnan(number), number)


class _Columns:
    """The lag columns the lowered facts refer to (named, added in one projection) and the
    intermediates (``Let``) stashed as columns, each computed once."""

    def __init__(self) -> None:
        self.lags: dict[str, Column] = {}
        self.stashed: list[list[tuple[str, Column]]] = []  # per context, in order

    def lag(self, field: str, k: int) -> Column:
        name = f"__vw_{field}@{k}"
        if k and name not in self.lags:
            self.lags[name] = F.first(col(f"__vw_{field}@0")).over(_months_back(k))
        return col(name)

    def context(self, prefix: str) -> SparkContext:
        """A lowering context whose ``Let``s become columns named after ``prefix``."""

        mine: list[tuple[str, Column]] = []
        self.stashed.append(mine)

        def stash(name: str, value: Column) -> Column:
            column = f"__vw_{prefix}.{name}"
            mine.append((column, value))
            return col(column)

        return SparkContext(self.lag, F.col("period"), stash=stash)


def _prepare(history: DataFrame, fields: Sequence[str]) -> DataFrame:
    """customer_id, period (first day of its month), the month number and each field's
    source column ``__vw_{field}@0``."""
    types = {f.name: f.dataType for f in history.schema.fields}
    missing = [c for c in ("customer_id", "period", *fields) if c not in types]
    if missing:
        raise EvaluationError(f"the history lacks the column(s) {', '.join(sorted(set(missing)))}",
                              field=missing[0])
    period = F.trunc(_as_date(col("period"), types["period"]), "month")
    frame = history.select(col("customer_id").alias("customer_id"), period.alias("period"),
                           *(_source(f, types[f]).alias(f"__vw_{f}@0")
                             for f in dict.fromkeys(fields)))
    frame = frame.where(F.col("period").isNotNull())
    return frame.withColumn(_MONTH, F.year("period") * F.lit(12) + F.month("period"))


def _evidence(items: list[tuple[str, Column]]) -> Column:
    """The evidence of one trigger: an array of ``{name, value}``, NaN shown as null."""
    pairs = []
    for name, value in unique_items(items):
        number = value.cast("double")
        pairs.append(F.struct(F.lit(name).alias("name"),
                              F.when(~F.isnan(number), number).alias("value")))
    return F.array(*pairs)


def scan_spark(plans: Sequence[TriggerPlan], history: DataFrame) -> DataFrame:
    """The signals of ``plans`` over a Spark ``history`` (see ``TriggerBook.scan``): a lazy
    DataFrame of ``customer_id, period, trigger, family, severity, action, evidence``, not
    sorted (a global sort is a shuffle of its own: ``orderBy`` when the order matters). Within
    a customer-month the triggers come in file order."""
    fields = [f for plan in plans for f in plan.fields]
    frame = _prepare(history, fields)
    columns = _Columns()
    fact_columns: dict[str, Column] = {}
    holds: dict[str, Column] = {}
    evidence: dict[int, Column] = {}
    for plan in plans:
        facts: dict[str, Column] = {}
        items: list[tuple[str, Column]] = []
        for leaf in plan.leaves:
            name = f"__vw_t{plan.index}{leaf.key}"
            ctx = columns.context(f"t{plan.index}{leaf.key}")
            fact_columns[name] = to_spark(leaf.definition.fact, ctx)
            facts[leaf.key] = ctx.refs[leaf.key] = col(name)
            items += [(label, to_spark(node, ctx)) for label, node in leaf.definition.evidence]
        held = to_spark(plan.condition_ir, SparkContext(refs=facts))
        holds[f"__vw_h{plan.index}"] = F.coalesce(held, F.lit(False))
        evidence[plan.index] = _evidence(items)
    frame = frame.withColumns(columns.lags)
    # a context's n-th intermediate reads only its earlier ones: one projection per rank
    for rank in range(max((len(mine) for mine in columns.stashed), default=0)):
        frame = frame.withColumns({name: value for mine in columns.stashed
                                   if rank < len(mine) for name, value in [mine[rank]]})
    frame = frame.withColumns(fact_columns).withColumns(holds)
    emitted: dict[str, Column] = {}
    for plan in plans:
        held = col(f"__vw_h{plan.index}")
        if plan.trigger.emit == "onset":  # held last month (a month with data) → not an onset
            before = F.first(held).over(_months_back(1))
            held = held & ~F.coalesce(before, F.lit(False))
        emitted[f"__vw_e{plan.index}"] = held
    frame = frame.withColumns(emitted)
    signals = []
    for plan in plans:
        t = plan.trigger
        signals.append(F.when(col(f"__vw_e{plan.index}"), F.struct(
            F.lit(plan.index).alias("order"), F.lit(t.id).alias("trigger"),
            F.lit(t.family).alias("family"), F.lit(t.severity).alias("severity"),
            F.lit(t.action).alias("action"), evidence[plan.index].alias("evidence"))))
    if not signals:
        return frame.where(F.lit(False)).select(
            "customer_id", "period", *(F.lit(None).cast("string").alias(name) for name in
                                       ("trigger", "family", "severity", "action")),
            F.lit(None).cast("array<struct<name:string,value:double>>").alias("evidence"))
    # Only the months where something fired build the array (most emit nothing); a null
    # array explodes to no row. Not a filter before the explode: Spark would push it down
    # through every projection, writing each fact, intermediate and lag back into the
    # condition — an expression that grows with every reuse (a z-score reads its mean
    # 2 × window times) until the generated code is past the JVM's 64 KB.
    fired = F.when(reduce(operator.or_, (col(name) for name in emitted)), F.array(*signals))
    exploded = frame.select("customer_id", "period", F.explode(fired).alias("s"))
    return exploded.where(F.col("s").isNotNull()).select(
        "customer_id", "period", *(F.col("s")[name].alias(name) for name in
                                   ("trigger", "family", "severity", "action", "evidence")))


class _SparkScan:
    """The Spark back end of ``TriggerBook.scan`` (``vip_workflow.rules.batch_backends``)."""

    def accepts(self, data: object) -> bool:
        from vip_workflow.rules._ir_spark import is_spark_frame

        return is_spark_frame(data)

    def run(self, rules: Sequence[TriggerPlan], data: DataFrame, **options: object
            ) -> DataFrame:
        return scan_spark(rules, data)


SPARK = _SparkScan()
