"""The cycle report: the period's dashboard rendered into one self-contained ``report.html``.

The same templates, tables and chart options as the workbench's period page, with Apache
ECharts, the dashboard's script and styles inlined: the page opens from ``file://`` with no
network and no server. Charts are drawn by the browser as SVG, so Chinese stays text.
Numbers carry thousands separators, shares read as percentages, KPI values their unit.
Every table is also written beside the page as ``tables/<name>.csv`` (UTF-8 with a BOM, so
Excel reads Chinese) and ``tables/<name>.xlsx``.

Nothing here imports matplotlib: a report never touches the caller's plotting backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl

from vip_workflow.reporting import charts, dashboard, i18n
from vip_workflow.reporting import format as fmt
from vip_workflow.reporting.labels import column_labels, value_labels

__all__ = ["TABLES_FOLDER", "render_dashboard", "render_report", "report_tables",
           "write_report"]

#: The folder beside ``report.html`` that holds its tables as CSV and .xlsx.
TABLES_FOLDER = "tables"
#: Rows of a long table (tier changes, signals) shown in the page; all are in the files.
LIST_LIMIT = 200
_STATIC = Path(__file__).parent / "static"


@lru_cache(maxsize=4)
def _asset(name: str) -> str:
    text = (_STATIC / name).read_text(encoding="utf-8")
    if "</script" in text.lower() or "<!--" in text:
        raise ValueError(f"{name} cannot be inlined in a <script> element")
    return text


def report_tables(*, judged: pl.DataFrame, tiers: Sequence[str],
                  reference_shares: Mapping[str, float] | None = None,
                  value_column: str | None = "revenue", changes: pl.DataFrame | None = None,
                  signals: pl.DataFrame | None = None, kpis: pl.DataFrame | None = None,
                  tasks: pl.DataFrame | None = None, trends: pl.DataFrame | None = None,
                  period: str | None = None, id_field: str = "customer_id",
                  language: str = i18n.DEFAULT) -> dashboard.Dashboard:
    """The dashboard's tables of a cycle's results (only those it has: no trigger book, no
    signal tables) and its Pareto curve."""
    value = value_column if value_column and value_column in judged.columns else None
    values = judged.get_column(value) if value else pl.Series("value", [], pl.Float64)
    number = (lambda v: fmt.number(v, language))  # noqa: E731
    tables = {"tiers": dashboard.distribution(judged, list(tiers), reference_shares, value),
              "pareto": dashboard.pareto_table(values),
              "changes": dashboard.changes_table(
                  changes if changes is not None else pl.DataFrame(schema={"customer": pl.String}),
                  judged, id_field, value or "revenue")}
    if signals is not None:
        tables["signals"] = dashboard.signal_summary(signals)
        tables["signal_list"] = dashboard.signal_list(signals, judged, id_field, number)
    if tasks is not None:
        tables["tasks"] = dashboard.task_load(tasks)
    if kpis is not None:
        tables["kpis"] = dashboard.kpi_table(kpis)
    if trends is None:
        row = dashboard.trend_row(period or "", judged.filter(pl.col("tier").is_not_null()),
                                  None if signals is None else signals.height,
                                  None if tasks is None else tasks.height)
        trends = dashboard.trend_table([row], list(tiers))
    tables["trends"] = trends
    return dashboard.Dashboard(tables, dashboard.pareto_curve(values))


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.with_columns(pl.col(pl.Enum, pl.Categorical).cast(pl.String)).to_dicts()


def render_dashboard(board: dashboard.Dashboard, *, tiers: Sequence[str], value_field: str,
                     language: str, gettext: Any, href: str, template: Any,
                     **context: Any) -> str:
    """Render ``template`` (the report page, or the workbench's period page) with a
    dashboard's tables and charts."""
    labels = column_labels(gettext, value_field)

    def describe(row: Mapping[str, Any]) -> str:
        unit = row.get("unit")
        return (f"{fmt.measure(row.get('value'), unit, language)} "
                f"({row.get('comparison') or ''} {fmt.target(row.get('target'), unit, language)})")

    specs = charts.dashboard_charts(
        {k: board.tables.get(k, pl.DataFrame()) for k in dashboard.TABLES}, board.curve,
        tiers, labels.get(value_field, value_field), gettext, describe)
    shown = {k: v for k, v in specs.items() if k in board.tables or k == "pareto"}
    return str(template.render(
        tables={k: _rows(v) for k, v in board.tables.items()},
        columns={k: v.columns for k, v in board.tables.items()}, charts=shown,
        labels=labels, values=value_labels(gettext), value_field=value_field,
        tiers=list(tiers), href=href, list_limit=LIST_LIMIT, **context))


def render_report(*, title: str, period: str, judged: pl.DataFrame, tiers: Sequence[str],
                  reference_shares: Mapping[str, float] | None = None,
                  value_column: str | None = "revenue", changes: pl.DataFrame | None = None,
                  signals: pl.DataFrame | None = None, kpis: pl.DataFrame | None = None,
                  tasks: pl.DataFrame | None = None, trends: pl.DataFrame | None = None,
                  notes: list[str] | None = None, id_field: str = "customer_id",
                  language: str = i18n.DEFAULT, generated: datetime | None = None,
                  board: dashboard.Dashboard | None = None) -> str:
    """The report as one self-contained HTML page (``language``: ``zh_CN`` or ``en``)."""
    from vip_workflow.reporting.templating import environment

    if language not in i18n.LANGUAGES:
        raise ValueError(f"no report language {language!r} (one of {', '.join(i18n.LANGUAGES)})")
    if board is None:
        board = report_tables(judged=judged, tiers=tiers, reference_shares=reference_shares,
                              value_column=value_column, changes=changes, signals=signals,
                              kpis=kpis, tasks=tasks, trends=trends, period=period,
                              id_field=id_field, language=language)
    translations = i18n.translations(language)
    env = environment(language, translations)
    counts = judged.get_column("tier").null_count()
    return render_dashboard(
        board, tiers=tiers, value_field=value_column or "revenue", language=language,
        gettext=translations.gettext, href=f"{TABLES_FOLDER}/{{name}}.{{fmt}}",
        template=env.get_template("report.html"), title=title, period=period,
        customers=judged.height, unjudged=counts, notes=notes or [],
        generated=generated or datetime.now(UTC), css=_asset("report.css"),
        scripts=[_asset("echarts.min.js"), _asset("dashboard.js")])


def write_report(path: str | Path, **parts: Any) -> Path:
    """Render the report to ``path`` and write each of its tables beside it, as
    ``tables/<name>.csv`` and ``tables/<name>.xlsx``. Returns the page's path."""
    from vip_workflow.reporting.tables import write_tables

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    keys = ("judged", "tiers", "reference_shares", "value_column", "changes", "signals",
            "kpis", "tasks", "trends", "period", "id_field", "language")
    board = report_tables(**{k: v for k, v in parts.items() if k in keys})
    target.write_text(render_report(**parts, board=board), encoding="utf-8")
    write_tables(target.parent / TABLES_FOLDER, board.tables)
    return target
