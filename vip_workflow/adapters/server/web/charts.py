"""ECharts options for the pages' charts (drawn in the browser as SVG: text stays text)."""

from __future__ import annotations

from typing import Any

import polars as pl

__all__ = ["kpi_chart", "signal_chart", "task_chart", "tier_chart", "tier_history_chart"]

_FONT = {"fontFamily": "system-ui, 'Noto Sans CJK SC', 'PingFang SC', 'Microsoft YaHei', "
                       "sans-serif"}


def _base(title: str) -> dict[str, Any]:
    return {"title": {"text": title, "left": 8, "top": 4,
                      "textStyle": _FONT | {"fontSize": 14}},
            "textStyle": _FONT, "tooltip": {"trigger": "axis"},
            "legend": {"top": 30, "left": 8},
            "grid": {"top": 72, "left": 16, "right": 16, "bottom": 16, "containLabel": True},
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


def signal_chart(table: pl.DataFrame, _: Any) -> dict[str, Any]:
    """Signals by family, stacked by severity."""
    families = sorted(set(table.get_column("family").to_list())) if table.height else []
    severities = list(dict.fromkeys(table.get_column("severity").to_list())) \
        if table.height else []
    counts = {(f, s): n for f, s, n in table.iter_rows()}
    option = _base(_("Signals by family and severity"))
    option |= {"xAxis": {"type": "category", "data": families},
               "yAxis": {"type": "value", "minInterval": 1},
               "series": [{"name": s, "type": "bar", "stack": "all",
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


def kpi_chart(table: pl.DataFrame, _: Any) -> dict[str, Any] | None:
    """The overall percentage KPIs against their targets."""
    if table.is_empty() or not {"by", "unit", "value", "target"} <= set(table.columns):
        return None
    overall = table.filter(pl.col("by").is_null() & (pl.col("unit") == "percent"))
    if overall.is_empty():
        return None
    targets = [float(t) * 100 if _number(t) else None for t in overall["target"].to_list()]
    option = _base(_("KPIs against their targets"))
    option |= {"xAxis": {"type": "category", "data": overall.get_column("title").to_list(),
                         "axisLabel": {"interval": 0, "rotate": 20}},
               "yAxis": {"type": "value", "axisLabel": {"formatter": "{value} %"}},
               "series": [{"name": _("Value"), "type": "bar",
                           "data": [round(float(v) * 100, 1)
                                    for v in overall.get_column("value").to_list()]},
                          {"name": _("Target"), "type": "scatter", "symbolSize": 14,
                           "data": [None if t is None else round(t, 1) for t in targets]}]}
    return option


def _number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


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
