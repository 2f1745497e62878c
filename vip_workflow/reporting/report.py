"""The cycle report: one self-contained HTML page with charts (inline SVG, no network).

Charts: the tier distribution against its reference shares (the quota), the Pareto curve of
revenue (the 80/20 rule of seed 003), signals by trigger family, and KPIs against targets.
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from vip_workflow._extras import require

__all__ = ["render_report", "write_report"]

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem;color:#222}
h1{margin-bottom:.2rem} .sub{color:#666;margin-top:0}
section{margin:2rem 0} table{border-collapse:collapse} td,th{padding:.25rem .6rem;
border-bottom:1px solid #ddd;text-align:left} .pass{color:#17803d} .fail{color:#b42318}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:1.5rem} svg{max-width:100%;height:auto}
"""


def _svg(figure: Any, label: str | None = None) -> str:
    """The figure as inline SVG, labelled for screen readers (``label`` or the axes title)."""
    if label is None:
        label = next((a.get_title() for a in figure.axes if a.get_title()), "chart")
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    text = text[text.find("<svg"):]
    name = html.escape(label, quote=True)
    opening = text.find(">") + 1
    return (f'<svg role="img" aria-label="{name}"' + text[len("<svg"):opening]
            + f"<title>{html.escape(label)}</title>" + text[opening:])


def _figure(height: float = 3.4) -> tuple[Any, Any]:
    """A figure of its own, outside pyplot: the report never changes the user's backend or
    pyplot's current figure (in a notebook, ``plt.show()`` keeps working after a cycle)."""
    figure_module = require("matplotlib.figure", "the monthly report's charts")
    figure = figure_module.Figure(figsize=(6, height))
    return figure, figure.subplots()


def tier_chart(shares: Mapping[str, float], reference: Mapping[str, float] | None) -> str:
    """Bars of each tier's share of the portfolio, with the reference share beside it."""
    figure, axes = _figure()
    tiers = list(shares)
    positions = range(len(tiers))
    axes.bar([p - 0.2 for p in positions], [shares[t] * 100 for t in tiers], width=0.4,
             label="this period", color="#3b6ea8")
    if reference:
        axes.bar([p + 0.2 for p in positions], [reference.get(t, 0) * 100 for t in tiers],
                 width=0.4, label="reference", color="#c9a227")
    axes.set_xticks(list(positions), tiers)
    axes.set_ylabel("% of customers")
    axes.set_title("Tier distribution")
    axes.legend()
    return _svg(figure)


def pareto_chart(values: pl.Series) -> tuple[str, float]:
    """The Pareto curve of a value; returns the chart and the top-20 % share."""
    ordered = values.drop_nulls().sort(descending=True)
    total = float(ordered.sum()) or 1.0
    cumulative = (ordered.cum_sum() / total * 100).to_list()
    n = len(cumulative)
    x = [100 * (i + 1) / n for i in range(n)]
    top20 = cumulative[max(0, int(n * 0.2) - 1)] if n else 0.0
    figure, axes = _figure()
    axes.plot(x, cumulative, color="#3b6ea8")
    axes.axvline(20, color="#999", linestyle="--")
    axes.axhline(top20, color="#999", linestyle=":")
    axes.set_xlabel("% of customers (largest first)")
    axes.set_ylabel(f"% of {values.name}")
    axes.set_title(f"Pareto curve of {values.name}: top 20 % hold {top20:.0f} %")
    return _svg(figure), top20


def count_chart(counts: Mapping[str, int], title: str) -> str:
    figure, axes = _figure()
    labels = list(counts)
    axes.bar(labels, [counts[k] for k in labels], color="#8a4fa3")
    axes.set_title(title)
    axes.set_ylabel("count")
    return _svg(figure)


KPI_CHART_TITLE = "KPIs against targets"
_KPI_CAP = 200.0  # bars beyond this % of target are cut off (their label gives the value)
_KPI_ROWS = 40
_STATUS_COLOURS = {"pass": "#17803d", "fail": "#b42318"}


def _target_bounds(target: Any) -> tuple[float, float] | None:
    """``(low, high)`` of a KPI target: ``"0.27"`` → (0.27, 0.27), ``"[1, 2]"`` → (1, 2)."""
    if target is None:
        return None
    if isinstance(target, int | float):
        return float(target), float(target)
    text = str(target).strip()
    try:
        if text.startswith("["):
            low, high = (float(x) for x in text.strip("[]").split(","))
            return low, high
        return float(text), float(text)
    except ValueError:
        return None


def kpi_chart(kpis: pl.DataFrame) -> str:
    """One horizontal bar per KPI (and group): its value as a % of its target, a line at 100 %.

    KPIs in different units (shares, counts per manager, yuan) share one axis this way. A
    ``between`` target is drawn against its upper bound, with the allowed range shaded. Bars
    are coloured by status; the label beside each gives the value and the target in the KPI's
    unit. Returns ``""`` when no KPI has both a value and a positive target.
    """
    from vip_workflow.rules.kpis.book import _fmt, _fmt_target

    rows: list[tuple[str, float | None, tuple[float, float] | None, str, Any]] = []
    for row in kpis.head(_KPI_ROWS).iter_rows(named=True):
        bounds = _target_bounds(row.get("target"))
        value = row.get("value")
        name = str(row.get("title") or row.get("kpi") or "KPI")
        name = name if len(name) <= 34 else name[:33] + "…"
        if row.get("segment") is not None:
            name += f" · {row['segment']}"
        unit = row.get("unit") or "number"
        symbol = {">=": "≥", "<=": "≤", "==": "=", "between": "in"}.get(
            row.get("comparison") or "", row.get("comparison") or "target")
        try:
            shown_target = _fmt_target(str(row["target"]), unit) if bounds else "—"
        except ValueError:
            shown_target = str(row["target"])
        if value is None or bounds is None or bounds[1] <= 0:
            rows.append((name, None, None, f"{_fmt(value, unit)} ({symbol} {shown_target})",
                         row.get("status")))
            continue
        share = value / bounds[1] * 100
        band = (bounds[0] / bounds[1] * 100, 100.0) if bounds[0] != bounds[1] else None
        label = f"{_fmt(value, unit)} ({symbol} {shown_target}) · {share:.0f} %"
        rows.append((name, share, band, label, row.get("status")))
    if not any(share is not None for _, share, _, _, _ in rows):
        return ""
    figure, axes = _figure(max(3.4, 0.42 * len(rows) + 1.2))
    positions = list(range(len(rows)))
    shares = [min(share, _KPI_CAP) if share is not None else 0.0 for _, share, _, _, _ in rows]
    colours = [_STATUS_COLOURS.get(status or "", "#999") for *_, status in rows]
    axes.barh(positions, shares, color=colours, height=0.6)
    for position, (_, share, band, label, _) in zip(positions, rows, strict=True):
        if band is not None:
            axes.barh(position, band[1] - band[0], left=band[0], height=0.9, color="#c9a227",
                      alpha=0.25, zorder=0)
        shown = min(share, _KPI_CAP) if share is not None else 0.0
        axes.text(max(shown, 100.0) + 3, position, label, va="center", fontsize=7,
                  color="#333")
    axes.axvline(100, color="#222", linestyle="--", linewidth=1)
    from matplotlib.patches import Patch

    present = {status for *_, status in rows}
    handles = [Patch(color=colour, label=status) for status, colour in _STATUS_COLOURS.items()
               if status in present]
    if present - set(_STATUS_COLOURS):
        handles.append(Patch(color="#999", label="no value / target"))
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=7)
    axes.set_yticks(positions, [name for name, *_ in rows], fontsize=8)
    axes.invert_yaxis()
    top = max(shares)
    axes.set_xlim(min(0.0, min(shares)), max(top, 100.0) * 1.45)
    axes.set_xlabel("value as % of target (dashed line: target; shaded: allowed range)")
    more = f" (first {_KPI_ROWS} of {kpis.height})" if kpis.height > _KPI_ROWS else ""
    axes.set_title(KPI_CHART_TITLE + more)
    return _svg(figure, KPI_CHART_TITLE)


def _table(frame: pl.DataFrame, *, status_column: str | None = None, limit: int = 50) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    rows = []
    for row in frame.head(limit).iter_rows(named=True):
        cells = []
        for column, value in row.items():
            if value is None:
                text = ""
            elif isinstance(value, bool):
                text = "yes" if value else "no"
            elif isinstance(value, int):
                text = f"{value:,}"
            elif isinstance(value, float):
                text = f"{value:,.4g}"
            else:
                text = str(value)
            css = ""
            if column == status_column and isinstance(value, str):
                css = f' class="{html.escape(value)}"'
            cells.append(f"<td{css}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = (f"<p>… and {frame.height - limit:,} more rows (see the CSV/Parquet files)</p>"
            if frame.height > limit else "")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"


def render_report(
    *,
    title: str,
    period: str,
    judged: pl.DataFrame,
    tiers: tuple[str, ...],
    reference_shares: Mapping[str, float] | None = None,
    value_column: str | None = "revenue",
    changes: pl.DataFrame | None = None,
    signals: pl.DataFrame | None = None,
    kpis: pl.DataFrame | None = None,
    notes: list[str] | None = None,
) -> str:
    """The report as one HTML page."""
    total = judged.height
    counts = dict(judged.get_column("tier").cast(pl.String).value_counts().iter_rows())
    shares = {t: counts.get(t, 0) / total if total else 0.0 for t in tiers}
    unjudged = counts.get(None, 0)
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p class='sub'>Period {html.escape(period)} · {total:,} customers · "
             f"{unjudged:,} could not be judged · generated "
             f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC</p>"]
    if notes:
        parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    charts = [tier_chart(shares, reference_shares)]
    if value_column and value_column in judged.columns:
        chart, _ = pareto_chart(judged.get_column(value_column).cast(pl.Float64))
        charts.append(chart)
    parts.append("<section><h2>Tiers</h2><div class='grid'>" + "".join(charts) + "</div>")
    tier_rows = pl.DataFrame({"tier": list(tiers),
                              "customers": [counts.get(t, 0) for t in tiers],
                              "share": [f"{shares[t]:.1%}" for t in tiers],
                              "reference": ["" if not reference_shares or t not in
                                            reference_shares else f"{reference_shares[t]:.1%}"
                                            for t in tiers]})
    parts.append(_table(tier_rows) + "</section>")
    if changes is not None:
        parts.append(f"<section><h2>Tier changes ({changes.height:,})</h2>"
                     f"{_table(changes)}</section>")
    if signals is not None:
        family = "family" if "family" in signals.columns else None
        by_family = (dict(signals.get_column(family).cast(pl.String).value_counts().iter_rows())
                     if family and signals.height else {})
        chart = count_chart(by_family, "Signals by family") if by_family else ""
        parts.append(f"<section><h2>Signals ({signals.height:,})</h2>{chart}"
                     f"{_table(signals)}</section>")
    if kpis is not None:
        status = "status" if "status" in kpis.columns else None
        chart = (kpi_chart(kpis) if kpis.height and {"value", "target"} <= set(kpis.columns)
                 else "")
        parts.append(f"<section><h2>KPIs against targets</h2>{chart}"
                     f"{_table(kpis, status_column=status)}</section>")
    body = "\n".join(parts)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{_STYLE}</style></head><body>{body}</body></html>")


def write_report(path: str | Path, **parts: Any) -> Path:
    """Render the report and write it to ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_report(**parts), encoding="utf-8")
    return target
