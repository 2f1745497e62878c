"""The cycle stores' frames: polars frames in, rows out (and back), shared by the memory and
SQL cycle stores so both store exactly the same values."""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from vip_workflow.ports import SIGNAL_FIELDS, TASK_FIELDS, TIER_FIELDS

__all__ = ["history_frame", "signal_frame", "signal_rows", "task_frame", "task_rows",
           "tier_frame", "tier_rows"]

_TIERS = {name: pl.String for name in TIER_FIELDS}
_HISTORY = {"period": pl.String, **_TIERS}
_TASKS = {name: pl.String for name in TASK_FIELDS}
_SIGNALS = {name: pl.String for name in SIGNAL_FIELDS}


def _frame(rows: list[Any], schema: dict[str, Any]) -> pl.DataFrame:
    """A frame from rows, built column by column (faster than ``orient="row"``)."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    return pl.DataFrame({name: list(values) for name, values in zip(schema, columns,
                                                                    strict=True)},
                        schema=schema)


def _text(frame: pl.DataFrame, fields: tuple[str, ...]) -> pl.DataFrame:
    return frame.select([pl.col(name).cast(pl.String) for name in fields])


def tier_rows(period: str, frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    """``(period, customer, tier, …)`` rows of a period's tiers (columns of TIER_COLUMNS)."""
    return _text(frame, TIER_FIELDS).select(
        pl.lit(period, pl.String).alias("period"), pl.all()).rows()


def tier_frame(rows: list[Any]) -> pl.DataFrame:
    """A period's tiers from ``(customer, tier, …)`` rows."""
    return _frame(rows, _TIERS)


def history_frame(rows: list[Any]) -> pl.DataFrame:
    """One customer's tiers from ``(period, customer, tier, …)`` rows."""
    return _frame(rows, _HISTORY)


def task_rows(tasks: pl.DataFrame) -> list[tuple[Any, ...]]:
    """Rows of TASK_FIELDS."""
    return _text(tasks, TASK_FIELDS).rows()


def task_frame(rows: list[Any]) -> pl.DataFrame:
    """Tasks from rows of TASK_FIELDS."""
    return _frame(rows, _TASKS)


def _evidence_json(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, pl.Series):
        value = value.to_list()
    return json.dumps(value, default=str)


def signal_rows(period: str, frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    """A scan's signals as stored: rows of SIGNAL_FIELDS, the period set, the evidence as JSON
    text (kept as it is when it is text already)."""
    if "customer_id" in frame.columns and "customer" not in frame.columns:
        frame = frame.rename({"customer_id": "customer"})
    text = tuple(name for name in SIGNAL_FIELDS if name not in ("period", "evidence"))
    evidence = ([_evidence_json(v) for v in frame.get_column("evidence").to_list()]
                if "evidence" in frame.columns else [None] * frame.height)
    return _text(frame, text).select(
        pl.lit(period, pl.String).alias("period"), pl.all(),
        pl.Series("evidence", evidence, dtype=pl.String)).rows()


def signal_frame(rows: list[Any]) -> pl.DataFrame:
    """Stored signals from rows of SIGNAL_FIELDS."""
    return _frame(rows, _SIGNALS)
