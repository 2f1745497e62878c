"""The monthly snapshot: one row per customer and month, the input of triggers.

A *history* is a long table — one row per ``(customer_id, period)`` — with the columns of
:class:`MonthlySnapshot`. ``period`` is a month, held as a polars ``Date`` on the first day of
the month; the strings ``"2026-10"`` and ``"2026-10-01"`` and any date or datetime inside the
month are accepted and normalised to that first day.

Missing data is never read as zero:

* a **missing value** (null) makes every condition that reads it unknown, and an unknown
  condition does not fire;
* a **missing month** (a customer with rows for March and May but not April) is an unknown
  month: windows are counted in calendar months, so a run of "3 consecutive declines" cannot
  span the gap, a 3-month change has no base if the month 3 back is missing, and so on.

Only the columns a trigger reads must be present; the others may be absent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeGuard

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator

from vip_workflow.errors import CustomerIdError, EvaluationError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "SNAPSHOT_COLUMNS",
    "MonthlySnapshot",
    "check_customer_ids",
    "history_frame",
    "month_of",
    "normalise_history",
]


class MonthlySnapshot(BaseModel):
    """What is known about one customer for one month (amounts in CNY per month)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    customer_id: str = Field(description="The customer (group or individual VIP) id.")
    period: date = Field(description="The month, as its first day (\"2026-10\" is accepted).")
    revenue: float | None = Field(default=None, ge=0, description="Total spend in the month.")
    members: int | None = Field(
        default=None, ge=0, description="Members (headcount served) at the end of the month.")
    info_revenue: float | None = Field(
        default=None, ge=0, description="Informatisation / unified-payment revenue.")
    arpu: float | None = Field(default=None, ge=0, description="Average revenue per member.")
    arrears: float | None = Field(
        default=None, ge=0, description="Amount overdue at the end of the month (0 = none).")
    complaints: int | None = Field(default=None, ge=0, description="Complaints in the month.")
    service_cancellations: int | None = Field(
        default=None, ge=0, description="Services cancelled in the month.")
    churned_members: int | None = Field(
        default=None, ge=0, description="Members who left in the month.")
    returning_members: int | None = Field(
        default=None, ge=0, description="Former members who came back in the month.")
    competitor_calls: int | None = Field(
        default=None, ge=0, description="Calls from members to competitors' service lines.")
    service_changes: int | None = Field(
        default=None, ge=0, description="Service changes (plan, product, number) in the month.")
    data_anomalies: int | None = Field(
        default=None, ge=0, description="Data-quality anomalies found in the customer's file.")
    agreement_end: date | None = Field(
        default=None, description="End date of the current agreement, if any.")
    key_person_contacts: int | None = Field(
        default=None, ge=0, description="Effective services/contacts with key persons.")
    personalised_requests: int | None = Field(
        default=None, ge=0, description="Personalised (custom) service requests in the month.")
    competitor_share: float | None = Field(
        default=None, ge=0, le=1,
        description="Estimated share of the customer's telecom spend held by competitors.")
    account_manager: str | None = Field(
        default=None, description="The account manager responsible for the customer.")
    segment: str | None = Field(default=None, description="Tier or segment, e.g. A, B, C.")

    @field_validator("period", mode="before")
    @classmethod
    def _month(cls, value: Any) -> Any:
        return month_of(value)


def _dtype(name: str) -> pl.DataType:
    field = MonthlySnapshot.model_fields[name]
    text = str(field.annotation)
    if "date" in text:
        return pl.Date()
    if "int" in text:
        return pl.Int64()
    if "float" in text:
        return pl.Float64()
    return pl.String()


#: Column name → polars dtype of a history frame (``customer_id`` may also be an integer).
SNAPSHOT_COLUMNS: dict[str, pl.DataType] = {name: _dtype(name)
                                            for name in MonthlySnapshot.model_fields}

_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})(?:-(\d{1,2}))?\s*$")


def month_of(value: Any) -> date:
    """The first day of the month of ``value`` (a date, datetime or "YYYY-MM[-DD]" text)."""
    if isinstance(value, datetime):
        return date(value.year, value.month, 1)
    if isinstance(value, date):
        return value.replace(day=1)
    if isinstance(value, str):
        found = _MONTH.match(value)
        if found:
            year, month = int(found.group(1)), int(found.group(2))
            if 1 <= month <= 12:
                return date(year, month, 1)
    raise ValueError(f"{value!r} is not a month; write it as YYYY-MM or a date")


def history_frame(snapshots: Iterable[MonthlySnapshot | Mapping[str, Any]]) -> pl.DataFrame:
    """A history DataFrame from snapshots (models or mappings validated as models)."""
    rows = [s.model_dump() if isinstance(s, MonthlySnapshot)
            else MonthlySnapshot.model_validate(s).model_dump() for s in snapshots]
    return pl.DataFrame(rows, schema=SNAPSHOT_COLUMNS)


def normalise_history(history: Any, *, required: Iterable[str] = (),
                      check_duplicates: bool = True) -> pl.DataFrame:
    """History (polars, pandas, or an iterable of snapshots) → a polars frame, period a Date.

    Raises EvaluationError when ``customer_id``, ``period`` or a ``required`` column is
    missing, a period cannot be read as a month, or a customer has two rows for one month;
    CustomerIdError when rows have no customer id.
    """
    frame = _as_polars(history)
    missing = [c for c in ("customer_id", "period", *required) if c not in frame.columns]
    if missing:
        raise EvaluationError(f"the history lacks the column(s) {', '.join(sorted(set(missing)))}",
                              field=missing[0])
    check_customer_ids(frame, "customer_id", source="history")
    frame = frame.with_columns(_period_expr(frame.schema["period"]))
    if frame["period"].null_count():
        raise EvaluationError("some periods are empty or not months (write YYYY-MM)",
                              field="period")
    casts = {name: SNAPSHOT_COLUMNS[name] for name in frame.columns
             if name in SNAPSHOT_COLUMNS and name not in {"customer_id", "period"}
             and frame.schema[name] != SNAPSHOT_COLUMNS[name]}
    if casts:
        try:
            frame = frame.with_columns(_cast(name, frame.schema[name], dtype)
                                       for name, dtype in casts.items())
        except pl.exceptions.PolarsError as exc:
            raise EvaluationError(f"a snapshot column has values of the wrong type: {exc}") \
                from None
    if check_duplicates and frame.select(
            pl.struct("customer_id", "period").is_duplicated().any()).item():
        dup = frame.filter(pl.struct("customer_id", "period").is_duplicated()).row(0, named=True)
        raise EvaluationError(
            f"two rows for the same month {dup['period']:%Y-%m}", customer=dup["customer_id"],
            field="period")
    return frame


def check_customer_ids(frame: pl.DataFrame, column: str, *, source: str,
                       unique: bool = False) -> None:
    """Refuse rows whose id is null or blank text (and, with ``unique``, an id on two rows):
    a ``CustomerIdError`` naming the rows (0-based) and ids."""
    ids = pl.col(column)
    empty = ids.is_null()
    if frame.schema[column] == pl.String():
        empty = empty | (ids.str.strip_chars() == "")
    _refuse(frame, column, empty, "empty customer id", source)
    if unique:
        _refuse(frame, column, ids.is_duplicated(), "customer id on more than one row", source)


def _refuse(frame: pl.DataFrame, column: str, bad: pl.Expr, reason: str, source: str) -> None:
    found = frame.select(pl.int_range(pl.len()).alias("row"), pl.col(column).alias("id"),
                         bad.fill_null(True).alias("bad")).filter("bad")
    if found.height:
        raise CustomerIdError(reason, source=source, column=column,
                              rows=found.get_column("row").to_list(),
                              ids=found.get_column("id").to_list())


def _cast(name: str, source: pl.DataType, target: pl.DataType) -> pl.Expr:
    column = pl.col(name)
    if target == pl.Date() and source == pl.String():
        return column.str.to_date(strict=False).alias(name)
    if target == pl.Float64() or (target == pl.Int64() and source.is_float()):
        return column.cast(pl.Float64)  # counts may arrive as floats: keep them exact
    return column.cast(target)


def _period_expr(dtype: pl.DataType) -> pl.Expr:
    column = pl.col("period")
    if dtype == pl.String():
        text = column.str.strip_chars()
        text = pl.when(text.str.len_chars() <= 7).then(text + "-01").otherwise(text)
        return text.str.to_date("%Y-%m-%d", strict=False).dt.month_start().alias("period")
    if dtype == pl.Date() or isinstance(dtype, pl.Datetime):
        return column.cast(pl.Date).dt.month_start().alias("period")
    raise EvaluationError(f"period must be a date or YYYY-MM text, not {dtype}", field="period")


def _as_polars(history: Any) -> pl.DataFrame:
    if isinstance(history, pl.LazyFrame):
        return history.collect()
    if isinstance(history, pl.DataFrame):
        return history
    if _is_pandas(history):
        return pl.from_pandas(history, include_index=False)
    if isinstance(history, Iterable):
        items = list(history)
        if items and isinstance(items[0], MonthlySnapshot | Mapping):
            return history_frame(items)
        return pl.DataFrame(schema=SNAPSHOT_COLUMNS)
    raise EvaluationError(f"cannot read a history from {type(history).__name__}")


def _is_pandas(data: object) -> TypeGuard[pd.DataFrame]:
    return type(data).__module__.startswith("pandas")
