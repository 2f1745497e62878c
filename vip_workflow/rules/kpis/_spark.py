"""The Spark back end of ``KpiBook.check``: a Spark DataFrame in, a lazy Spark DataFrame of
results out — the rows and columns the polars check gives (``book.py``, the reference).

Each KPI is one group-aggregate of the rule IR lowered to Spark (``rules/_ir_spark.py``); its
value, target, status and gap are columns computed from the aggregates, as ``check_kpi``
computes them in Python (a NaN gap fails, as Python's comparisons say). The KPIs' tables are
unioned and sorted by KPI, then segment (null last), then the groups of ``targets`` the
portfolio lacks.

Sums: Spark adds each partition's rows in order, then the partitions' totals; polars adds its
own way. On sums that are not exact the two can differ in the last place (integers, and
amounts in whole fen below 2⁵³, are exact).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from vip_workflow._extras import LazyModule
from vip_workflow.errors import EvaluationError
from vip_workflow.rules._ir_spark import col, group_aggregate
from vip_workflow.rules.kpis.book import (
    RESULT_SCHEMA,
    Kpi,
    _columns,
    _show_target,
    check_filter_types,
    query_ir,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
else:
    F = LazyModule("pyspark.sql.functions", "checking KPIs on a Spark DataFrame")
    T = LazyModule("pyspark.sql.types", "checking KPIs on a Spark DataFrame")

__all__ = ["SPARK", "check_spark"]

_SPARK_TYPES = {pl.String(): "string", pl.Float64(): "double", pl.Int64(): "bigint"}
_ORDER, _EXTRA = "__vw_kpi", "__vw_extra"


def _polars_dtype(dtype: T.DataType) -> pl.DataType:
    """The polars type a Spark column's values would have (for the filter-type check)."""
    if isinstance(dtype, T.BooleanType):
        return pl.Boolean()
    if isinstance(dtype, T.IntegralType):
        return pl.Int64()
    if isinstance(dtype, T.FractionalType | T.DecimalType):
        return pl.Float64()
    if isinstance(dtype, T.StringType | T.CharType | T.VarcharType):
        return pl.String()
    if isinstance(dtype, T.DateType):
        return pl.Date()
    if isinstance(dtype, T.TimestampType | T.TimestampNTZType):
        return pl.Datetime()
    return pl.Null()


def _by_segment(segment: Column, targets: dict[str, Any], default: Any) -> Column:
    """``targets[segment]``, or ``default`` (a null segment takes ``default``)."""
    chain: Any = F
    for key, value in targets.items():
        chain = chain.when(segment == F.lit(key), F.lit(value))
    return F.lit(default) if chain is F else chain.otherwise(F.lit(default))


def _target_parts(target: Any) -> tuple[str | None, float | None, float | None]:
    """(text, low or the target, high)."""
    if target is None:
        return None, None, None
    if isinstance(target, list):
        return _show_target(target), float(target[0]), float(target[1])
    return _show_target(target), float(target), None


def _status(kpi: Kpi, value: Column, segment: Column) -> tuple[Column, Column, Column]:
    """(target text, status, gap) as ``_judge`` gives them."""
    targets = {key: _target_parts(t) for key, t in (kpi.targets or {}).items()}
    default = _target_parts(kpi.target)
    text, low, high = (
        _by_segment(segment, {k: parts[i] for k, parts in targets.items()}, default[i])
        for i in range(3))
    low, high = low.cast("double"), high.cast("double")
    gaps = {">=": value - low, ">": value - low, "<=": low - value, "<": low - value,
            "==": -F.abs(value - low), "between": F.least(value - low, high - value)}
    gap = gaps[kpi.compare]
    if kpi.compare in (">", "<"):
        passed = gap > F.lit(0.0)
    elif kpi.compare == "==":
        passed = gap == F.lit(0.0)
    else:
        passed = gap >= F.lit(0.0)
    ok = ~F.isnan(gap) & passed  # Python says False to NaN; Spark's NaN is above every number
    known = text.isNotNull() & value.isNotNull()
    status = (F.when(text.isNull(), F.lit("no target")).when(value.isNull(), F.lit("n/a"))
              .when(ok, F.lit("pass")).otherwise(F.lit("fail")))
    return text.cast("string"), status, F.when(known, gap)


def _kpi_frame(kpi: Kpi, order: int, frame: DataFrame) -> DataFrame:
    missing = sorted(c for c in _columns(kpi) if c not in frame.columns)
    if missing:
        raise EvaluationError(f"KPI {kpi.id} needs the column(s) {', '.join(missing)}",
                              rule=kpi.id, field=missing[0])
    check_filter_types(kpi, pl.Schema({f.name: _polars_dtype(f.dataType)
                                       for f in frame.schema.fields}))
    ratio = kpi.measure.type == "ratio"
    table = group_aggregate(query_ir(kpi), frame).withColumn(_EXTRA, F.lit(0))
    if not ratio:
        table = table.withColumn("denominator", F.lit(None).cast("double"))
    if kpi.by is not None and kpi.targets:
        wanted = frame.sparkSession.range(1).select(F.inline(F.array(*(
            F.struct(F.lit(key).alias("segment"), F.lit(i).alias(_EXTRA))
            for i, key in enumerate(kpi.targets, start=1)))))
        absent = wanted.join(table.select("segment"), "segment", "left_anti")
        table = table.unionByName(absent, allowMissingColumns=True)
    numerator, denominator, rows = col("numerator"), col("denominator"), F.coalesce(
        col("rows"), F.lit(0)).cast("bigint")
    value = (F.when(denominator != F.lit(0.0), F.try_divide(numerator, denominator))
             if ratio else numerator)
    value = F.when(rows != F.lit(0), value)
    segment = col("segment")
    target, status, gap = _status(kpi, value, segment)
    text = {"kpi": kpi.id, "title": kpi.title or kpi.id, "by": kpi.by,
            "comparison": kpi.compare, "unit": kpi.unit}
    computed = {"segment": segment, "value": value, "target": target, "status": status,
                "gap": gap, "numerator": numerator, "denominator": denominator, "rows": rows}
    columns = [(F.lit(text[name]) if name in text else computed[name])
               .cast(_SPARK_TYPES[dtype]).alias(name) for name, dtype in RESULT_SCHEMA.items()]
    return table.select(*columns, F.lit(order).alias(_ORDER), col(_EXTRA))


def check_spark(kpis: Sequence[Kpi], portfolio: DataFrame) -> DataFrame:
    """``kpis`` over a Spark ``portfolio`` (see ``KpiBook.check``), as a lazy DataFrame."""
    if not kpis:
        ddl = ", ".join(f"`{name}` {_SPARK_TYPES[dtype]}" for name, dtype in
                        RESULT_SCHEMA.items())
        return portfolio.sparkSession.createDataFrame([], ddl)
    parts = [_kpi_frame(kpi, order, portfolio) for order, kpi in enumerate(kpis)]
    union = parts[0]
    for part in parts[1:]:
        union = union.unionByName(part)
    # a few rows: sorted in one partition (a global sort would sample them in a job first)
    return (union.coalesce(1)
            .sortWithinPartitions(_ORDER, _EXTRA, F.col("segment").asc_nulls_last())
            .select(*RESULT_SCHEMA))


class _SparkCheck:
    """The Spark back end of ``KpiBook.check`` (``vip_workflow.rules.batch_backends``)."""

    def accepts(self, data: object) -> bool:
        from vip_workflow.rules._ir_spark import is_spark_frame

        return is_spark_frame(data)

    def run(self, rules: Sequence[Kpi], data: DataFrame, **options: object) -> DataFrame:
        return check_spark(rules, data)


SPARK = _SparkCheck()
