"""Batch scan: every trigger over every customer × month, column-wise with polars.

The history is sorted by customer and month and completed to whole calendar months (gaps become
rows of nulls that emit nothing). ``lag(field, k)`` is then a plain ``shift(k)`` masked where the
row is fewer than ``k`` rows into its customer — no Python loop over rows or customers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from vip_workflow.errors import EvaluationError
from vip_workflow.rules.triggers.plan import TriggerPlan, unique_items
from vip_workflow.rules.triggers.schema import FAMILIES, SEVERITIES
from vip_workflow.rules.triggers.snapshots import normalise_history

__all__ = ["EVIDENCE_DTYPE", "SIGNAL_SCHEMA", "empty_signals", "scan_frame"]

EVIDENCE_DTYPE = pl.List(pl.Struct({"name": pl.String, "value": pl.Float64}))
SIGNAL_SCHEMA: dict[str, pl.DataType] = {
    "customer_id": pl.String(),
    "period": pl.Date(),
    "trigger": pl.String(),
    "family": pl.Enum(FAMILIES),
    "severity": pl.Enum(SEVERITIES),
    "action": pl.String(),
    "evidence": EVIDENCE_DTYPE,
}
_I = "__vw_i"
_PRESENT = "__vw_present"
_ROW = "__vw_row"


def empty_signals(customer_dtype: pl.DataType | None = None) -> pl.DataFrame:
    schema = dict(SIGNAL_SCHEMA)
    if customer_dtype is not None:
        schema["customer_id"] = customer_dtype
    return pl.DataFrame(schema=schema)


def prepare(history: Any, fields: Sequence[str]) -> pl.DataFrame:
    """Normalise, sort, check duplicates and complete to calendar months; adds the
    row-in-customer index ``_I`` and the ``_PRESENT`` marker (False on filled-in months)."""
    frame = normalise_history(history, required=fields, check_duplicates=False)
    keep = ["customer_id", "period", *[f for f in dict.fromkeys(fields)]]
    frame = frame.select(keep)
    customer, period = pl.col("customer_id"), pl.col("period")
    if not _ordered(frame):
        frame = frame.sort("customer_id", "period")
    # periods are first days of months: a step of 0 days is a duplicate, more than 31 a gap
    same = (customer == customer.shift(1)).fill_null(False)
    days = period.cast(pl.Int32).diff().fill_null(1)
    check = frame.select((same & (days == 0)).any().alias("dup"),
                         (same & (days > 31)).any().alias("gaps")).row(0, named=True)
    if check["dup"]:
        position = frame.select((same & (days == 0)).arg_true().first()).item()
        row = frame.row(position, named=True)
        raise EvaluationError(f"two rows for the same month {row['period']:%Y-%m}",
                              customer=row["customer_id"], field="period")
    frame = frame.with_columns(pl.lit(True).alias(_PRESENT))
    if check["gaps"]:
        spans = frame.group_by("customer_id").agg(
            pl.col("period").min().alias("first"), pl.col("period").max().alias("last"))
        grid = spans.select(
            "customer_id", pl.date_ranges("first", "last", "1mo").alias("period"),
        ).explode("period")
        frame = grid.join(frame, on=["customer_id", "period"], how="left")
        frame = frame.sort("customer_id", "period").with_columns(
            pl.col(_PRESENT).fill_null(False))
    index = pl.int_range(pl.len(), dtype=pl.Int64)
    starts = customer != customer.shift(1)
    first_row = pl.when(starts.fill_null(True)).then(index).forward_fill()
    return frame.with_columns((index - first_row).alias(_I), index.alias(_ROW))


def _ordered(frame: pl.DataFrame) -> bool:
    """Sorted by customer, then strictly by month within each customer."""
    customers = frame["customer_id"]
    if not customers.is_sorted():
        return False
    customer, period = pl.col("customer_id"), pl.col("period")
    return bool(frame.select(((customer != customer.shift(1)) | (period > period.shift(1)))
                             .fill_null(True).all()).item())


def _source(field: str) -> pl.Expr:
    """The field as the facts read it: dates as dates, numbers as Float64 with NaN unknown."""
    column = pl.col(field)
    return column if field == "agreement_end" else column.cast(pl.Float64).fill_nan(None)


class _Columns:
    """Collects the lag and intermediate columns the compiled expressions refer to."""

    def __init__(self) -> None:
        self.sources: dict[str, pl.Expr] = {}
        self.lags: dict[str, pl.Expr] = {}
        self.stashed: list[tuple[str, pl.Expr]] = []

    def lag(self, field: str, k: int) -> pl.Expr:
        """The field ``k`` months back (null before the customer's first month)."""
        if k == 0:
            name = f"__vw_{field}@0"
            if name not in self.sources:
                self.sources[name] = _source(field).alias(name)
            return pl.col(name)
        name = f"__vw_{field}@{k}"
        if name not in self.lags:
            source = self.lag(field, 0)
            self.lags[name] = pl.when(pl.col(_I) >= k).then(source.shift(k)).alias(name)
        return pl.col(name)

    def stasher(self, prefix: str) -> Any:
        def stash(name: str, expr: pl.Expr) -> pl.Expr:
            column = f"__vw_{prefix}.{name}"
            self.stashed.append((column, expr.alias(column)))
            return pl.col(column)

        return stash


def scan_frame(plans: Sequence[TriggerPlan], history: Any) -> pl.DataFrame:
    """The signals of ``plans`` over ``history`` (see ``TriggerBook.scan``)."""
    fields = [f for plan in plans for f in plan.fields]
    frame = prepare(history, fields)
    customer_dtype = frame.schema["customer_id"]
    if frame.height == 0 or not plans:
        return empty_signals(customer_dtype)
    columns = _Columns()
    period = pl.col("period")
    holds: list[pl.Expr] = []
    for plan in plans:
        facts = {leaf.key: leaf.fact_expr(columns.lag, period,
                                          columns.stasher(f"t{plan.index}{leaf.key}"))
                 for leaf in plan.leaves}
        holds.append((plan.holds_expr(facts) & pl.col(_PRESENT)).alias(f"__vw_h{plan.index}"))
    flags_of = []
    for plan in plans:
        cond = pl.col(f"__vw_h{plan.index}")
        if plan.trigger.emit == "onset":  # held last month (a month with data) → not an onset
            before = pl.when(pl.col(_I) >= 1).then(cond.shift(1)).fill_null(False)
            cond = cond & ~before
        flags_of.append(cond.alias(f"__vw_t{plan.index}"))
    work = frame.lazy().with_columns(columns.sources.values()).with_columns(
        columns.lags.values())
    for _, expr in columns.stashed:  # each may read the ones before it
        work = work.with_columns(expr)
    try:
        flags = work.select(_I, *holds).collect().select(*flags_of)
    except pl.exceptions.PolarsError as exc:  # e.g. a text column where numbers are needed
        raise EvaluationError(f"the history cannot be scanned: {exc}".split("\n")[0]) \
            from None
    parts = []
    sources: dict[str, pl.Series] = {}
    depth_all = frame[_I]
    for plan in plans:
        rows = flags[f"__vw_t{plan.index}"].arg_true().cast(pl.Int64)
        if rows.len() == 0:
            continue
        for field in plan.fields:
            if field not in sources:
                sources[field] = frame.select(_source(field)).to_series()
        parts.append(_signals(plan, frame, rows, depth_all.gather(rows), sources))
    if not parts:
        return empty_signals(customer_dtype)
    return pl.concat(parts).sort("__vw_row", "__vw_order").drop("__vw_row", "__vw_order")


def _signals(plan: TriggerPlan, frame: pl.DataFrame, rows: pl.Series, depth: pl.Series,
             sources: dict[str, pl.Series]) -> pl.DataFrame:
    """Signal rows of one trigger at ``rows`` (with their row-in-customer ``depth``); the
    evidence reads the lags of those rows from ``frame``."""
    lagged: dict[str, pl.Series] = {}
    for leaf in plan.leaves:
        source = sources[leaf.field]
        for k in range(leaf.lookback + 1):
            name = f"{leaf.field}@{k}"
            if name in lagged:
                continue
            values = source.gather((rows - k).clip(0))
            lagged[name] = pl.select(
                pl.when(depth >= k).then(values).alias(name)).to_series()
    table = frame.select("customer_id", "period", _ROW).gather(rows).with_columns(
        *lagged.values())

    def lag_hit(field: str, k: int) -> pl.Expr:
        return pl.col(f"{field}@{k}")

    items: list[tuple[str, pl.Expr]] = []
    for leaf in plan.leaves:
        fact = leaf.fact_expr(lag_hit, pl.col("period"))
        items += leaf.evidence_exprs(lag_hit, fact)
    kept = unique_items(items)
    evidence = _evidence_column(
        [name for name, _ in kept],
        table.select(expr.cast(pl.Float64).alias(f"v{i}") for i, (_, expr) in enumerate(kept)))
    table = table.with_columns(evidence)
    t = plan.trigger
    return table.select(
        "customer_id", "period",
        pl.lit(t.id, pl.String).alias("trigger"),
        pl.lit(t.family, pl.Enum(FAMILIES)).alias("family"),
        pl.lit(t.severity, pl.Enum(SEVERITIES)).alias("severity"),
        pl.lit(t.action, pl.String).alias("action"),
        "evidence",
        pl.lit(plan.index, pl.Int32).alias("__vw_order"),
        _ROW,
    )


def _evidence_column(names: list[str], values: pl.DataFrame) -> pl.Series:
    """A List[Struct{name, value}] column, built flat and reshaped (``concat_list`` of
    structs is two orders of magnitude slower)."""
    rows, width = values.height, len(names)
    # row by row, left to right (an Array column explodes in place; a List one copies)
    flat = values.select(pl.concat_arr(pl.all()).alias("value")).to_series().arr.explode()
    flat = flat.fill_nan(None)
    labels = pl.Series("name", names, dtype=pl.String).gather(
        pl.int_range(0, rows * width, dtype=pl.Int64, eager=True) % width)
    pairs = pl.DataFrame([labels, flat]).to_struct("evidence")
    return pairs.reshape((rows, width)).cast(EVIDENCE_DTYPE)
