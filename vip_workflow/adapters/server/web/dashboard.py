"""The numbers behind the customer page and the cycle dashboard (polars in, rows out).

Everything comes from the workspace's cycle store and the period's published outputs
(``reports/<period>/``), the same sources as ``/api/v1``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

__all__ = ["customer_record", "evidence_text", "period_tables", "reference_shares"]

SEVERITIES = ("critical", "high", "medium", "low")


def _outputs(ws: Any, period: str) -> Path:
    return Path((ws.base_dir / ws.config.reports / period).resolve())


def judged(ws: Any, period: str) -> pl.DataFrame | None:
    """The period's judged portfolio (names, managers, values), if it was published."""
    path = _outputs(ws, period) / "tiers.parquet"
    if not path.exists():
        return None
    frame = pl.read_parquet(path)
    return frame.with_columns(pl.col(pl.Enum, pl.Categorical).cast(pl.String))


def customer_record(ws: Any, period: str, customer: str) -> dict[str, Any] | None:
    """The customer's judged row of ``period`` (None when not published)."""
    frame = judged(ws, period)
    if frame is None:
        return None
    id_field = ws.config.id_field
    row = frame.filter(pl.col(id_field).cast(pl.String) == customer)
    return None if row.is_empty() else row.to_dicts()[0]


def evidence_text(raw: Any, number: Any) -> str:
    """A signal's evidence (JSON list of ``{name, value}``) as one readable sentence."""
    try:
        items = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return str(raw)
    if not isinstance(items, list):
        return str(items)
    parts = []
    for item in items:
        if isinstance(item, dict) and "name" in item:
            value = item.get("value")
            shown = number(value) if isinstance(value, int | float) else str(value)
            parts.append(f"{item['name']} = {shown}")
        else:
            parts.append(str(item))
    return "; ".join(parts)


def reference_shares(ws: Any, book: Any) -> dict[str, float]:
    """The workspace's reference tier shares, else a quota book's own shares."""
    if ws.config.reference_shares:
        return dict(ws.config.reference_shares)
    from vip_workflow.rules.tiers.compiled import Quota

    scheme = book.plan.scheme
    if not isinstance(scheme, Quota):
        return {}
    shares, before = {}, 0.0
    for tier, cumulative in scheme.cuts:
        shares[str(tier)] = float(cumulative) - before
        before = float(cumulative)
    return shares


def _distribution(ws: Any, period: str, tiers: pl.DataFrame,
                  people: pl.DataFrame | None) -> pl.DataFrame:
    book = ws.tier_book(period)
    reference = reference_shares(ws, book)
    counts = dict(tiers.group_by("tier").len().iter_rows()) if tiers.height else {}
    total = max(tiers.height, 1)
    value = ws.config.value_field
    values: dict[str, float] = {}
    if people is not None and value in people.columns:
        values = dict(people.group_by("tier").agg(pl.col(value).sum()).iter_rows())
    return pl.DataFrame({
        "tier": list(book.tiers), "customers": [counts.get(t, 0) for t in book.tiers],
        "share": [counts.get(t, 0) / total for t in book.tiers],
        "reference": [reference.get(t) for t in book.tiers],
        value: [float(values.get(t) or 0.0) for t in book.tiers],
    }, schema_overrides={"reference": pl.Float64})


def _changes(ws: Any, period: str, people: pl.DataFrame | None) -> pl.DataFrame:
    path = _outputs(ws, period) / "changes.csv"
    columns = ["customer", "name", "account_manager", "previous_tier", "tier", "direction",
               ws.config.value_field]
    if not path.exists():
        return pl.DataFrame({c: [] for c in columns}, schema={c: pl.String for c in columns})
    changes = pl.read_csv(path, infer_schema_length=None).with_columns(
        pl.col("customer").cast(pl.String))
    if people is not None:
        keep = [c for c in (ws.config.id_field, "name", "account_manager",
                            ws.config.value_field) if c in people.columns]
        changes = changes.join(people.select(keep).with_columns(
            pl.col(ws.config.id_field).cast(pl.String)).rename(
            {ws.config.id_field: "customer"}), on="customer", how="left")
    for column in columns:
        if column not in changes.columns:
            changes = changes.with_columns(pl.lit(None, pl.String).alias(column))
    return changes.select(columns)


def _signals(ws: Any, period: str) -> pl.DataFrame:
    signals: pl.DataFrame = ws.store.signals(period)
    if signals.is_empty():
        return pl.DataFrame(schema={"family": pl.String, "severity": pl.String,
                                    "signals": pl.UInt32})
    return signals.group_by("family", "severity").agg(pl.len().alias("signals")).sort(
        "family", pl.col("severity").replace_strict(
            {s: i for i, s in enumerate(SEVERITIES)}, default=len(SEVERITIES)))


def _tasks(ws: Any, period: str) -> pl.DataFrame:
    tasks: pl.DataFrame = ws.store.tasks()
    if "period" in tasks.columns:
        tasks = tasks.filter(pl.col("period") == period)
    if tasks.is_empty():
        return pl.DataFrame(schema={"assignee": pl.String, "open": pl.UInt32,
                                    "closed": pl.UInt32, "tasks": pl.UInt32})
    return tasks.group_by("assignee").agg(
        (pl.col("status") == "open").sum().alias("open"),
        (pl.col("status") != "open").sum().alias("closed"),
        pl.len().alias("tasks")).sort("tasks", "assignee", descending=[True, False])


def _kpis(ws: Any, period: str) -> pl.DataFrame:
    path = _outputs(ws, period) / "kpis.csv"
    if not path.exists():
        return pl.DataFrame(schema={"title": pl.String})
    frame = pl.read_csv(path, infer_schema_length=None)
    keep = [c for c in ("kpi", "title", "by", "segment", "value", "target", "comparison",
                        "status", "gap", "unit") if c in frame.columns]
    return frame.select(keep)


def period_tables(ws: Any, period: str) -> dict[str, pl.DataFrame]:
    """The dashboard's tables of ``period``, by name (each also a download)."""
    tiers = ws.store.tiers(period)
    people = judged(ws, period)
    return {"tiers": _distribution(ws, period, tiers, people),
            "changes": _changes(ws, period, people), "signals": _signals(ws, period),
            "tasks": _tasks(ws, period), "kpis": _kpis(ws, period)}
