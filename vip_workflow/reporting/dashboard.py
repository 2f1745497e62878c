"""The numbers behind a period's dashboard (polars in, tables out), for the static report and
the workbench alike.

The builders take plain frames, so the cycle renders its report from what it has just
computed (before anything is stored), and the workbench from the cycle store and the period's
published outputs (``reports/<period>/``, the same sources as ``/api/v1``) through
:func:`period_tables`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl

__all__ = [
    "SEVERITIES", "TABLES", "Dashboard", "changes_table", "customer_record", "distribution",
    "evidence_text", "kpi_table", "pareto_curve", "pareto_table", "period_dashboard",
    "period_tables", "reference_shares", "signal_list", "signal_summary", "stored_trends",
    "task_load", "trend_row", "trend_table",
]

#: Severities, the most urgent first: signals are listed in this order.
SEVERITIES = ("critical", "high", "medium", "low")
#: The dashboard's tables, in page order (each is also a CSV and an .xlsx download).
TABLES = ("tiers", "pareto", "changes", "signals", "signal_list", "tasks", "kpis", "trends")
#: Ranks of the Pareto table: the largest 1 %, 5 %, … of customers.
PARETO_RANKS = (0.01, 0.05, 0.1, 0.2, 0.5, 1.0)
#: How many stored periods the trends go back.
TREND_PERIODS = 24

_KPI_COLUMNS = ("kpi", "title", "by", "segment", "value", "target", "comparison", "status",
                "gap", "unit")


def _text(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col(pl.Enum, pl.Categorical).cast(pl.String))


def _severity_rank() -> pl.Expr:
    return pl.col("severity").cast(pl.String).replace_strict(
        {s: i for i, s in enumerate(SEVERITIES)}, default=len(SEVERITIES),
        return_dtype=pl.Int32)


# -- the builders -----------------------------------------------------------------------------
def distribution(people: pl.DataFrame, tiers: Sequence[str],
                 reference: Mapping[str, float] | None,
                 value_field: str | None = None) -> pl.DataFrame:
    """Customers per tier, their share, the reference share and (when ``people`` has it) the
    total of ``value_field``; customers the rules could not judge are not counted."""
    frame = _text(people.select([c for c in ("tier", value_field) if c and c in people.columns]))
    counts = dict(frame.group_by("tier").len().iter_rows()) if frame.height else {}
    total = max(sum(n for t, n in counts.items() if t is not None), 1)
    columns: dict[str, Any] = {
        "tier": list(tiers), "customers": [counts.get(t, 0) for t in tiers],
        "share": [counts.get(t, 0) / total for t in tiers],
        "reference": [(reference or {}).get(t) for t in tiers]}
    if value_field and value_field in frame.columns:
        values = dict(frame.group_by("tier").agg(pl.col(value_field).cast(pl.Float64).sum())
                      .iter_rows())
        columns[value_field] = [float(values.get(t) or 0.0) for t in tiers]
    return pl.DataFrame(columns, schema_overrides={"reference": pl.Float64,
                                                   "share": pl.Float64})


def _ordered(values: pl.Series) -> tuple[list[float], float]:
    ordered = values.cast(pl.Float64).drop_nulls().drop_nans().sort(descending=True)
    return ordered.cum_sum().to_list(), float(ordered.sum())


def pareto_table(values: pl.Series) -> pl.DataFrame:
    """The share of ``values`` (revenue) held by the largest 1 %, 5 %, 10 %, 20 %, 50 % and
    all customers."""
    cumulative, total = _ordered(values)
    n = len(cumulative)
    name = values.name or "value"
    rows = []
    for rank in PARETO_RANKS:
        count = max(1, round(n * rank)) if n else 0
        held = cumulative[count - 1] if count else 0.0
        rows.append({"top": rank, "customers": count,
                     name: held, "value_share": held / total if total else None})
    return pl.DataFrame(rows, schema={"top": pl.Float64, "customers": pl.Int64,
                                      name: pl.Float64, "value_share": pl.Float64})


def pareto_curve(values: pl.Series, points: int = 100) -> list[tuple[float, float]]:
    """``(share of customers, share of value)`` in percent, largest customers first, at
    ``points`` evenly spaced ranks (and the origin)."""
    cumulative, total = _ordered(values)
    n = len(cumulative)
    if not n or not total:
        return []
    curve = [(0.0, 0.0)]
    for step in range(1, points + 1):
        count = max(1, round(n * step / points))
        curve.append((round(100 * count / n, 2), round(100 * cumulative[count - 1] / total, 2)))
    return curve


def changes_table(changes: pl.DataFrame, people: pl.DataFrame | None, id_field: str,
                  value_field: str) -> pl.DataFrame:
    """Tier changes with each customer's name, account manager and value; upgrades and
    downgrades of the largest customers first."""
    columns = ["customer", "name", "account_manager", "previous_tier", "tier", "direction",
               value_field]
    frame = _text(changes)
    if "customer" in frame.columns:
        frame = frame.with_columns(pl.col("customer").cast(pl.String))
    if people is not None and id_field in people.columns and "customer" in frame.columns:
        keep = [c for c in (id_field, "name", "account_manager", value_field)
                if c in people.columns and (c == id_field or c not in frame.columns)]
        frame = frame.join(_text(people.select(keep)).with_columns(
            pl.col(id_field).cast(pl.String)).rename({id_field: "customer"}),
            on="customer", how="left")
    for column in columns:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.String).alias(column))
    frame = frame.select(columns)
    if frame.schema[value_field].is_numeric():
        frame = frame.sort(value_field, "customer", descending=[True, False], nulls_last=True)
    return frame


def signal_summary(signals: pl.DataFrame | None) -> pl.DataFrame:
    """Signals counted by severity (the most urgent first) and trigger family."""
    if signals is None or signals.is_empty():
        return pl.DataFrame(schema={"severity": pl.String, "family": pl.String,
                                    "signals": pl.UInt32})
    return _text(signals).group_by("severity", "family").agg(pl.len().alias("signals")).sort(
        _severity_rank(), "family").select("severity", "family", "signals")


def evidence_text(raw: Any, number: Callable[[Any], str]) -> str:
    """A signal's evidence (a list of ``{name, value}``, or that list as JSON text) as one
    readable sentence: ``arpu_drop = 31.5%; months = 3``."""
    try:
        items = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return str(raw)
    if isinstance(items, pl.Series):
        items = items.to_list()
    if not isinstance(items, list):
        return "" if items is None else str(items)
    parts = []
    for item in items:
        if isinstance(item, dict) and "name" in item:
            value = item.get("value")
            shown = number(value) if isinstance(value, int | float) else str(value)
            parts.append(f"{item['name']} = {shown}")
        else:
            parts.append(str(item))
    return "; ".join(parts)


def signal_list(signals: pl.DataFrame | None, people: pl.DataFrame | None, id_field: str,
                number: Callable[[Any], str]) -> pl.DataFrame:
    """Every signal, the most severe first (then by family, trigger and customer), with the
    customer's name and account manager and the evidence in words."""
    columns = ["severity", "family", "trigger", "customer", "name", "account_manager",
               "action", "evidence"]
    if signals is None or signals.is_empty():
        return pl.DataFrame(schema={c: pl.String for c in columns})
    frame = _text(signals)
    if "customer" not in frame.columns and id_field in frame.columns:
        frame = frame.rename({id_field: "customer"})
    frame = frame.with_columns(pl.col("customer").cast(pl.String))
    if people is not None and id_field in people.columns:
        keep = [c for c in (id_field, "name", "account_manager") if c in people.columns]
        frame = frame.join(_text(people.select(keep)).with_columns(
            pl.col(id_field).cast(pl.String)).rename({id_field: "customer"}),
            on="customer", how="left")
    evidence = [evidence_text(e, number) for e in frame.get_column("evidence").to_list()] \
        if "evidence" in frame.columns else [""] * frame.height
    frame = frame.with_columns(pl.Series("evidence", evidence, dtype=pl.String))
    for column in columns:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.String).alias(column))
    return frame.sort(_severity_rank(), "family", "trigger", "customer").select(columns)


def task_load(tasks: pl.DataFrame | None) -> pl.DataFrame:
    """Open and closed tasks per assignee (the account managers' workload), busiest first."""
    if tasks is None or tasks.is_empty() or "assignee" not in tasks.columns:
        return pl.DataFrame(schema={"assignee": pl.String, "open": pl.UInt32,
                                    "closed": pl.UInt32, "tasks": pl.UInt32})
    return _text(tasks).group_by("assignee").agg(
        (pl.col("status") == "open").sum().cast(pl.UInt32).alias("open"),
        (pl.col("status") != "open").sum().cast(pl.UInt32).alias("closed"),
        pl.len().alias("tasks")).sort("tasks", "assignee", descending=[True, False])


def kpi_table(kpis: pl.DataFrame | None) -> pl.DataFrame:
    """KPI results (overall, then by segment and by manager) with the columns a reader
    needs."""
    if kpis is None or kpis.is_empty():
        return pl.DataFrame(schema={c: pl.String for c in ("title", "unit")})
    frame = _text(kpis)
    frame = frame.select([c for c in _KPI_COLUMNS if c in frame.columns])
    if "target" in frame.columns:
        frame = frame.with_columns(pl.col("target").cast(pl.String))
    return frame


def trend_row(period: str, tiers: pl.DataFrame, signals: int | None,
              tasks: int | None) -> dict[str, Any]:
    """One period of the trends: customers per tier, and the signals and tasks raised."""
    counts = dict(_text(tiers.select("tier")).group_by("tier").len().iter_rows()) \
        if tiers.height else {}
    return {"period": period, "customers": tiers.height, "counts": counts,
            "signals": signals, "tasks": tasks}


def trend_table(rows: Sequence[Mapping[str, Any]], tiers: Sequence[str]) -> pl.DataFrame:
    """The trends over the periods, oldest first: customers in each tier, all customers,
    signals and tasks."""
    columns: dict[str, list[Any]] = {"period": [r["period"] for r in rows]}
    for tier in tiers:
        columns[str(tier)] = [int(r["counts"].get(tier, 0)) for r in rows]
    columns["customers"] = [int(r["customers"]) for r in rows]
    columns["signals"] = [r["signals"] for r in rows]
    columns["tasks"] = [r["tasks"] for r in rows]
    schema = {c: (pl.String if c == "period" else pl.Int64) for c in columns}
    return pl.DataFrame(columns, schema=schema).sort("period")


# -- the workbench: a stored period ---------------------------------------------------------
def _outputs(ws: Any, period: str) -> Path:
    return Path((ws.base_dir / ws.config.reports / period).resolve())


def judged(ws: Any, period: str) -> pl.DataFrame | None:
    """The period's judged portfolio (names, managers, values), if it was published."""
    path = _outputs(ws, period) / "tiers.parquet"
    if not path.exists():
        return None
    return _text(pl.read_parquet(path))


def customer_record(ws: Any, period: str, customer: str) -> dict[str, Any] | None:
    """The customer's judged row of ``period`` (None when not published)."""
    frame = judged(ws, period)
    if frame is None:
        return None
    row = frame.filter(pl.col(ws.config.id_field).cast(pl.String) == customer)
    return None if row.is_empty() else row.to_dicts()[0]


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


def _period_tasks(ws: Any, period: str) -> pl.DataFrame:
    tasks: pl.DataFrame = ws.store.tasks()
    return tasks.filter(pl.col("period") == period) if "period" in tasks.columns else tasks


def _stored_kpis(ws: Any, period: str) -> pl.DataFrame | None:
    path = _outputs(ws, period) / "kpis.csv"
    return pl.read_csv(path, infer_schema_length=None) if path.exists() else None


def _stored_changes(ws: Any, period: str) -> pl.DataFrame:
    path = _outputs(ws, period) / "changes.csv"
    if not path.exists():
        return pl.DataFrame(schema={"customer": pl.String})
    return pl.read_csv(path, infer_schema_length=None)


def _published_row(folder: Path, period: str) -> dict[str, Any] | None:
    """A period's trend row from the tables its report published (``tables/tiers.csv`` and
    ``tables/signals.csv``, a few rows each), or None when it has none."""
    tiers = folder / "tables" / "tiers.csv"
    if not tiers.exists():
        return None
    frame = pl.read_csv(tiers, schema_overrides={"tier": pl.String, "customers": pl.Int64})
    counts = dict(frame.select("tier", "customers").iter_rows())
    signals = folder / "tables" / "signals.csv"
    raised = (int(pl.read_csv(signals, schema_overrides={"signals": pl.Int64})
                  .get_column("signals").sum()) if signals.exists() else None)
    return {"period": period, "customers": int(frame.get_column("customers").sum()),
            "counts": counts, "signals": raised, "tasks": None}


def stored_trends(store: Any, periods: Sequence[str], tiers: Sequence[str],
                  current: Mapping[str, Any] | None = None,
                  outputs: Path | None = None) -> pl.DataFrame:
    """The trends of the last :data:`TREND_PERIODS` of ``periods`` with ``current`` (a
    :func:`trend_row` not stored yet) as the latest. Each stored period is read from the
    tables its report published in ``outputs/<period>/`` when there are any (a few rows),
    else from the cycle store (every customer's tier)."""
    tasks: pl.DataFrame = store.tasks()
    per_period = (dict(tasks.group_by("period").len().iter_rows())
                  if "period" in tasks.columns and tasks.height else {})
    rows: list[Mapping[str, Any]] = []
    stored = [p for p in periods if current is None or p != current["period"]]
    for period in stored[-(TREND_PERIODS - (current is not None)):]:
        row = _published_row(outputs / period, period) if outputs is not None else None
        if row is None:
            row = trend_row(period, store.tiers(period), store.signals(period).height, None)
        elif row["signals"] is None:
            row["signals"] = store.signals(period).height
        row["tasks"] = per_period.get(period, 0)
        rows.append(row)
    if current is not None:
        rows.append(current)
    return trend_table(rows, tiers)


class Dashboard(NamedTuple):
    """A period's dashboard: its tables by name (see :data:`TABLES`) and the Pareto curve."""

    tables: dict[str, pl.DataFrame]
    curve: list[tuple[float, float]]


def period_tables(ws: Any, period: str, number: Callable[[Any], str] = str
                  ) -> dict[str, pl.DataFrame]:
    """The dashboard's tables of a stored ``period``, by name (see :data:`TABLES`)."""
    return period_dashboard(ws, period, number).tables


def period_dashboard(ws: Any, period: str, number: Callable[[Any], str] = str) -> Dashboard:
    """The dashboard of a stored ``period``: tables and the Pareto curve."""
    book = ws.tier_book(period)
    people = judged(ws, period)
    counted = people if people is not None else ws.store.tiers(period)
    value = ws.config.value_field
    signals = ws.store.signals(period)
    id_field = ws.config.id_field
    periods = [p for p in ws.store.periods() if p <= period]
    values = people.get_column(value) if people is not None and value in people.columns \
        else pl.Series(value, [], pl.Float64)
    tables = {
        "tiers": distribution(counted, list(book.tiers), reference_shares(ws, book), value),
        "pareto": pareto_table(values),
        "changes": changes_table(_stored_changes(ws, period), people, id_field, value),
        "signals": signal_summary(signals),
        "signal_list": signal_list(signals, people, id_field, number),
        "tasks": task_load(_period_tasks(ws, period)),
        "kpis": kpi_table(_stored_kpis(ws, period)),
        "trends": stored_trends(ws.store, periods, list(book.tiers),
                                outputs=_outputs(ws, period).parent),
    }
    return Dashboard(tables, pareto_curve(values))
