"""The cycle report: four charts (tiers, Pareto, signals, KPIs), each only when it has data."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

import vip_workflow as vw
from vip_workflow.reporting.report import kpi_chart, render_report
from vip_workflow.samples import load_sample_portfolio, monthly_portfolios

TIERS = ("A", "B", "C")
TIER_CHART = "Tier distribution"
PARETO_CHART = "Pareto curve of revenue"
SIGNALS_CHART = "Signals by family"
KPI_CHART = "KPIs against targets"


def _charts(page: str) -> list[str]:
    """The accessible names of the inline SVG charts, in page order."""
    return re.findall(r'<svg role="img" aria-label="([^"]*)"', page)


def _texts(svg: str) -> list[str]:
    """Matplotlib writes each text as glyph paths preceded by a comment holding the text."""
    return re.findall(r"<!-- (.*?) -->", svg)


@pytest.fixture
def judged() -> pl.DataFrame:
    return pl.DataFrame({
        "customer_id": [f"C{i}" for i in range(10)],
        "tier": pl.Series(["A", "A", "B", "B", "B", "C", "C", "C", "C", None],
                          dtype=pl.Enum(TIERS)),
        "revenue": [900.0, 500, 300, 200, 100, 50, 40, 30, 20, 10],
    })


@pytest.fixture
def signals() -> pl.DataFrame:
    return pl.DataFrame({"customer_id": ["C1", "C2", "C3"],
                         "trigger": ["drop", "drop", "upsell"],
                         "family": ["retain", "retain", "develop"]})


@pytest.fixture
def kpis() -> pl.DataFrame:
    """KPI results shaped like ``KpiBook.check``: a share, a count per manager, a range."""
    return pl.DataFrame([
        {"kpi": "coverage", "title": "Member coverage", "segment": None, "value": 0.30,
         "target": "0.25", "comparison": ">=", "status": "pass", "unit": "percent"},
        {"kpi": "staffing", "title": "Customers per manager", "segment": None, "value": 60.0,
         "target": "50", "comparison": "<=", "status": "fail", "unit": "per_manager"},
        {"kpi": "services", "title": "Services per key person", "segment": "A", "value": 1.5,
         "target": "[1, 2]", "comparison": "between", "status": "pass", "unit": "number"},
    ])


def _render(judged: pl.DataFrame, **parts: object) -> str:
    return render_report(title="cycle", period="2026-09", judged=judged, tiers=TIERS,
                         reference_shares={"A": 0.2, "B": 0.3, "C": 0.5}, **parts)


class TestCharts:
    """Which charts a report holds."""

    def test_a_full_report_has_all_four_charts(
        self, judged: pl.DataFrame, signals: pl.DataFrame, kpis: pl.DataFrame
    ) -> None:
        """Tiers, Pareto, signals by family and KPIs against targets, in that order."""
        charts = _charts(_render(judged, signals=signals, kpis=kpis))
        assert len(charts) == 4
        assert charts[0] == TIER_CHART
        assert charts[1].startswith(PARETO_CHART)
        assert charts[2:] == [SIGNALS_CHART, KPI_CHART]

    def test_the_kpi_chart_sits_in_the_kpi_section_before_the_table(
        self, judged: pl.DataFrame, kpis: pl.DataFrame
    ) -> None:
        """The KPI table is kept, under its chart."""
        page = _render(judged, kpis=kpis)
        section = page[page.index("<h2>KPIs against targets</h2>"):]
        assert section.index(f'aria-label="{KPI_CHART}"') < section.index("<table>")
        assert "Customers per manager" in section[section.index("<table>"):]

    def test_without_kpis_there_is_no_kpi_chart(
        self, judged: pl.DataFrame, signals: pl.DataFrame
    ) -> None:
        """No KPI results: no KPI section and no KPI chart, the rest renders."""
        page = _render(judged, signals=signals)
        assert KPI_CHART not in _charts(page)
        assert SIGNALS_CHART in _charts(page)
        assert "<h2>KPIs against targets</h2>" not in page

    def test_without_signals_there_is_no_signals_chart(
        self, judged: pl.DataFrame, kpis: pl.DataFrame
    ) -> None:
        """No signals: no signals chart, the KPI chart is still there."""
        page = _render(judged, kpis=kpis)
        assert SIGNALS_CHART not in _charts(page)
        assert KPI_CHART in _charts(page)
        assert "<h2>Signals" not in page

    def test_with_neither_only_the_tier_charts_remain(self, judged: pl.DataFrame) -> None:
        charts = _charts(_render(judged))
        assert len(charts) == 2 and charts[0] == TIER_CHART

    def test_kpis_without_any_value_keep_their_table_but_get_no_chart(
        self, judged: pl.DataFrame, kpis: pl.DataFrame
    ) -> None:
        """All KPIs n/a (or a zero target): nothing to draw, the table still shows them."""
        empty = kpis.with_columns(pl.lit(None, pl.Float64).alias("value"),
                                  pl.lit("n/a").alias("status"))
        page = _render(judged, kpis=empty)
        assert KPI_CHART not in _charts(page)
        assert "Member coverage" in page
        assert kpi_chart(kpis.with_columns(pl.lit("0").alias("target"))) == ""

    def test_empty_signals_and_kpis_render(self, judged: pl.DataFrame, signals: pl.DataFrame,
                                           kpis: pl.DataFrame) -> None:
        page = _render(judged, signals=signals.clear(), kpis=kpis.clear())
        assert _charts(page)[2:] == []
        assert "<h2>Signals (0)</h2>" in page


class TestKpiChart:
    """Each KPI is a bar of its value as a share of its target."""

    def test_one_bar_label_per_kpi_with_value_target_and_share(
        self, kpis: pl.DataFrame
    ) -> None:
        """Shares of target: 0.30/0.25 = 120 %, 60/50 = 120 %, 1.5 of [1, 2] = 75 %."""
        texts = _texts(kpi_chart(kpis))
        assert "30.0 % (≥ 25.0 %) · 120 %" in texts
        assert "60 (≤ 50) · 120 %" in texts
        assert "1.5 (in [1, 2]) · 75 %" in texts
        assert "Services per key person · A" in texts

    def test_bars_are_coloured_by_status(self, kpis: pl.DataFrame) -> None:
        svg = kpi_chart(kpis)
        assert "#17803d" in svg and "#b42318" in svg
        assert "#b42318" not in kpi_chart(kpis.with_columns(pl.lit("pass").alias("status")))

    def test_the_results_of_a_kpi_book_chart_as_they_are(self) -> None:
        """The frame ``KpiBook.check`` returns feeds the chart without reshaping."""
        from vip_workflow.rules.kpis.book import KpiBook, KpiFile

        book = KpiBook(KpiFile.model_validate({"kind": "kpis", "name": "t", "kpis": [
            {"id": "big", "measure": {"type": "count", "where": [
                {"field": "revenue", "op": ">=", "value": 100}]},
             "compare": ">=", "target": 4, "unit": "number"}]}))
        results = book.check(pl.DataFrame({"revenue": [900.0, 500, 300, 200, 100, 5]}))
        texts = _texts(kpi_chart(results))
        assert "5 (≥ 4) · 125 %" in texts


def test_a_cycle_with_triggers_and_kpis_writes_all_four_charts(tmp_path: Path) -> None:
    """The report of a real cycle (sample data, preset triggers and KPIs) has every chart."""
    from vip_workflow.samples import sample_history, sample_kpi_portfolio

    (tmp_path / "vip.yaml").write_text(
        "name: test workspace\nstorage: sqlite:///vip.db\ntiers: {preset: hubei-2006}\n"
        "reports: out\ntriggers: {preset: seed-001-triggers}\n"
        "kpis: {preset: china-mobile-2006-kpis}\n", encoding="utf-8")
    workspace = vw.Workspace.from_file(tmp_path / "vip.yaml")
    months = monthly_portfolios(load_sample_portfolio().head(400), start="2026-09",
                                   months=1, seed=5)
    period, data = next(iter(months.items()))
    result = workspace.run_cycle(period, data, history=sample_history(400, 24, start="2024-11",
                                                                      seed=3),
                                 kpi_data=sample_kpi_portfolio(400, seed=3))
    assert result.signals is not None and result.signals.height > 0
    charts = _charts(result.report.read_text(encoding="utf-8"))
    assert charts[0] == TIER_CHART and charts[1].startswith(PARETO_CHART)
    assert charts[2:] == [SIGNALS_CHART, KPI_CHART]


def test_a_quota_book_draws_its_own_shares_beside_the_actual(tmp_path: Path) -> None:
    """Without reference_shares in vip.yaml, a quota book's shares (5/25/70 %) are the
    reference of the tier chart and table; a chain book has none."""
    for preset, expected in (("hubei-abc", ["5.0%", "25.0%", "70.0%"]), ("hubei-2006", [])):
        folder = tmp_path / preset
        folder.mkdir()
        (folder / "vip.yaml").write_text(
            f"name: q\nstorage: sqlite:///vip.db\ntiers: {{preset: {preset}}}\nreports: out\n",
            encoding="utf-8")
        workspace = vw.Workspace.from_file(folder / "vip.yaml")
        data = load_sample_portfolio().head(200).with_columns(  # hubei-abc reads it
            (pl.int_range(pl.len()) % 2 == 0).alias("industry_services"))
        page = workspace.run_cycle("2026-09", data).report.read_text(encoding="utf-8")
        found = re.findall(r"<td>(\d+\.\d%)</td>", page)
        assert all(share in found for share in expected), (preset, found)
        if not expected:
            assert "70.0%" not in found


def test_charts_leave_the_users_pyplot_alone(judged: pl.DataFrame) -> None:
    """In a notebook the report must not switch the backend nor leave figures open in
    pyplot: the user's next ``plt.show()`` keeps working."""
    import matplotlib
    import matplotlib.pyplot as plt

    previous = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        mine = plt.figure()
        _render(judged)
        assert matplotlib.get_backend() == "svg"
        assert plt.get_fignums() == [mine.number]
        assert plt.gcf() is mine
    finally:
        plt.close("all")
        matplotlib.use(previous)
