"""ECharts options of the dashboard's charts, drawn in the browser as SVG: text stays text, so
Chinese renders with the reader's fonts. The same options serve the workbench and the static
report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from vip_workflow.reporting.labels import value_labels

__all__ = ["dashboard_charts", "kpi_chart", "pareto_chart", "signal_chart", "task_chart",
           "tier_chart", "tier_history_chart", "trend_chart"]

_FONT = {"fontFamily": "system-ui, 'Noto Sans CJK SC', 'PingFang SC', 'Microsoft YaHei', "
                       "sans-serif"}
#: Severity -> bar colour (the most urgent the darkest red).
_SEVERITY_COLOURS = {"critical": "#7a0916", "high": "#d92d20", "medium": "#f79009",
                     "low": "#98a2b3"}
_STATUS_COLOURS = {"pass": "#067647", "fail": "#b42318"}
_KPI_ROWS = 40
_KPI_CAP = 200.0


def _base(title: str) -> dict[str, Any]:
    return {"title": {"text": title, "left": 8, "top": 4,
                      "textStyle": _FONT | {"fontSize": 14}},
            "textStyle": _FONT, "tooltip": {"trigger": "axis"},
            "legend": {"top": 30, "left": 8},
            "grid": {"top": 72, "left": 16, "right": 24, "bottom": 16, "containLabel": True},
            "aria": {"enabled": True}, "animation": False}


def tier_chart(table: pl.DataFrame, _: Any) -> dict[str, Any]:
    """Each tier's share of the portfolio beside its reference share (percent)."""
    option = _base(_("Tier distribution against the reference"))
    option |= {
        "xAxis": {"type": "category", "data": table.get_column("tier").to_list()},
        "yAxis": {"type": "value", "axisLabel": {"formatter": "{value} %"}},
        "series": [
            {"name": _("Share"), "type": "bar",
             "data": [round(v * 100, 1) for v in table.get_column("share").to_list()]},
            {"name": _("Reference"), "type": "bar",
             "data": [None if v is None else round(v * 100, 1)
                      for v in table.get_column("reference").to_list()]},
        ]}
    return option


def pareto_chart(curve: Sequence[tuple[float, float]], value_label: str,
                 _: Any) -> dict[str, Any] | None:
    """The share of value (revenue) held by the largest customers: the Pareto curve, with the
    line of an even spread and a mark at the top 20 %."""
    if not curve:
        return None
    top20 = next((y for x, y in curve if x >= 20), curve[-1][1])
    option = _base(_("Pareto curve: share of %(value)s by customer rank")
                   % {"value": value_label})
    option |= {
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "value", "min": 0, "max": 100, "name": _("% of customers"),
                  "nameLocation": "middle", "nameGap": 24,
                  "axisLabel": {"formatter": "{value} %"}},
        "yAxis": {"type": "value", "min": 0, "max": 100,
                  "axisLabel": {"formatter": "{value} %"}},
        "series": [
            {"name": _("Share of %(value)s") % {"value": value_label}, "type": "line",
             "showSymbol": False, "data": [list(point) for point in curve],
             "markLine": {"symbol": "none", "silent": True,
                          "label": {"formatter": _("top 20 %%: %(share)s %%")
                                    % {"share": f"{top20:.0f}"}},
                          "data": [{"xAxis": 20}]}},
            {"name": _("Even spread"), "type": "line", "showSymbol": False,
             "lineStyle": {"type": "dashed"}, "data": [[0, 0], [100, 100]]},
        ]}
    return option


def signal_chart(table: pl.DataFrame, _: Any) -> dict[str, Any]:
    """Signals by family, stacked by severity (the most urgent at the bottom)."""
    rows = table.select("family", "severity", "signals").iter_rows() if table.height else []
    counts = {(f, s): n for f, s, n in rows}
    families = sorted({f for f, _s in counts})
    severities = list(dict.fromkeys(s for _f, s in counts))
    words = value_labels(_)["severity"]
    option = _base(_("Signals by family and severity"))
    option |= {"xAxis": {"type": "category", "data": families},
               "yAxis": {"type": "value", "minInterval": 1},
               "series": [{"name": words.get(s, s), "type": "bar", "stack": "all",
                           "itemStyle": {"color": _SEVERITY_COLOURS.get(s, "#667085")},
                           "data": [counts.get((f, s), 0) for f in families]}
                          for s in severities]}
    return option


def task_chart(table: pl.DataFrame, _: Any) -> dict[str, Any]:
    """Open and closed tasks per account manager (the workload)."""
    managers = [str(m) for m in table.get_column("assignee").to_list()] if table.height else []
    option = _base(_("Tasks by manager"))
    option |= {"xAxis": {"type": "category", "data": managers,
                         "axisLabel": {"rotate": 30 if len(managers) > 8 else 0}},
               "yAxis": {"type": "value", "minInterval": 1},
               "series": [{"name": _("open"), "type": "bar", "stack": "all",
                           "data": table.get_column("open").to_list() if table.height else []},
                          {"name": _("closed"), "type": "bar", "stack": "all",
                           "data": table.get_column("closed").to_list()
                           if table.height else []}]}
    return option


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _upper(target: Any) -> float | None:
    text = "" if target is None else str(target).strip()
    if text.startswith("["):
        parts = text.strip("[]").split(",")
        return _number(parts[-1]) if len(parts) == 2 else None
    return _number(text)


def kpi_chart(table: pl.DataFrame, _: Any, describe: Any = None) -> dict[str, Any] | None:
    """Every KPI (overall, by segment, by manager) as its value in percent of its target
    (a ``between`` target: of its upper bound), coloured by status; a line at 100 %. KPIs in
    different units share one axis this way; ``describe(row)`` gives each bar's label (the
    value and the target in their unit). None when no KPI has a value and a positive target."""
    if table.is_empty() or not {"value", "target"} <= set(table.columns):
        return None
    names, bars = [], []
    for row in table.head(_KPI_ROWS).iter_rows(named=True):
        value, upper = _number(row.get("value")), _upper(row.get("target"))
        if value is None or upper is None or upper <= 0:
            continue
        name = str(row.get("title") or row.get("kpi") or "KPI")
        if row.get("segment") is not None:
            name += f" · {row['segment']}"
        share = value / upper * 100
        bars.append({"value": round(min(share, _KPI_CAP), 1),
                     "itemStyle": {"color": _STATUS_COLOURS.get(row.get("status") or "",
                                                                "#98a2b3")},
                     "label": {"show": True, "position": "right",
                               "formatter": describe(row) if describe else f"{share:.0f} %"}})
        names.append(name)
    if not bars:
        return None
    option = _base(_("KPIs against their targets"))
    option |= {"tooltip": {"trigger": "item"},
               "grid": {"top": 48, "left": 16, "right": 160, "bottom": 24,
                        "containLabel": True},
               "xAxis": {"type": "value", "max": _KPI_CAP,
                         "axisLabel": {"formatter": "{value} %"},
                         "name": _("% of target"), "nameLocation": "middle", "nameGap": 24},
               "yAxis": {"type": "category", "data": names, "inverse": True,
                         "axisLabel": {"width": 220, "overflow": "truncate"}},
               "series": [{"name": _("% of target"), "type": "bar", "data": bars,
                           "markLine": {"symbol": "none", "silent": True,
                                        "data": [{"xAxis": 100}]}}]}
    return option


def trend_chart(table: pl.DataFrame, tiers: Sequence[str], _: Any) -> dict[str, Any] | None:
    """Customers per tier over the stored periods (stacked), with the signals raised."""
    if table.height < 1:
        return None
    option = _base(_("Trends over the periods"))
    series: list[dict[str, Any]] = [
        {"name": str(t), "type": "bar", "stack": "tiers", "barMaxWidth": 48,
         "data": table.get_column(str(t)).to_list()} for t in tiers if str(t) in table.columns]
    series.append({"name": _("Signals"), "type": "line", "yAxisIndex": 1,
                   "data": table.get_column("signals").to_list()})
    option |= {"xAxis": {"type": "category", "data": table.get_column("period").to_list()},
               "yAxis": [{"type": "value", "name": _("Customers"), "minInterval": 1},
                         {"type": "value", "name": _("Signals"), "minInterval": 1}],
               "series": series}
    return option


def dashboard_charts(tables: dict[str, pl.DataFrame], curve: Sequence[tuple[float, float]],
                     tiers: Sequence[str], value_label: str, _: Any,
                     describe_kpi: Any = None) -> dict[str, dict[str, Any]]:
    """The options of every chart of a period's dashboard that has something to draw."""
    specs = {"tiers": tier_chart(tables["tiers"], _),
             "pareto": pareto_chart(curve, value_label, _),
             "signals": signal_chart(tables["signals"], _) if tables["signals"].height
             else None,
             "tasks": task_chart(tables["tasks"], _) if tables["tasks"].height else None,
             "kpis": kpi_chart(tables["kpis"], _, describe_kpi),
             "trends": trend_chart(tables["trends"], tiers, _)}
    return {k: v for k, v in specs.items() if v is not None}


def tier_history_chart(name: str, history: list[dict[str, Any]], tiers: list[str],
                       _: Any) -> dict[str, Any]:
    """A customer's tier over the periods (the highest tier on top)."""
    option = _base(_("%(name)s: tier by period") % {"name": name})
    option |= {"tooltip": {"trigger": "axis"},
               "xAxis": {"type": "category", "data": [h["period"] for h in history]},
               "yAxis": {"type": "category", "data": list(reversed(tiers))},
               "series": [{"name": name, "type": "line", "step": "middle",
                           "symbolSize": 10, "data": [h["tier"] for h in history],
                           "label": {"show": True}}]}
    return option
