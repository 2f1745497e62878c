"""The cycle report: the period dashboard in one self-contained page, its charts (ECharts
options), numbers formatted for readers, valid HTML, and every table as CSV and .xlsx."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import vip_workflow as vw
from vip_workflow.reporting import charts
from vip_workflow.reporting import format as fmt
from vip_workflow.reporting.report import render_report, write_report
from vip_workflow.samples import load_sample_portfolio, monthly_portfolios

TIERS = ("A", "B", "C")


class _Page(HTMLParser):
    """The ids, the chart options and the text of each table cell of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.specs: dict[str, Any] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self._spec: str | None = None
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.append(str(found["id"]))
        if tag == "script" and found.get("type") == "application/json":
            self._spec = str(found["id"])
            self.specs[self._spec] = ""
        elif tag == "table" and found.get("id"):
            self._table = str(found["id"])
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._spec is not None:
            self.specs[self._spec] = json.loads(self.specs[self._spec])
            self._spec = None
        elif tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._spec is not None:
            self.specs[self._spec] += data
        elif self._cell is not None:
            self._cell.append(data)


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    return parser


def _charts(page: str) -> list[str]:
    """The charts of a page, in page order (each an ECharts option the browser draws)."""
    return re.findall(r'<div class="chart"[^>]*data-chart="spec-([\w-]+)"', page)


def _column(page: _Page, table: str, heading: str) -> list[str]:
    rows = page.tables[table]
    index = rows[0].index(heading)
    return [row[index] for row in rows[1:]]


@pytest.fixture
def judged() -> pl.DataFrame:
    return pl.DataFrame({
        "customer_id": [f"C{i}" for i in range(10)],
        "name": ["武汉长江钢铁集团", "<script>alert(1)</script>"] + [f"N{i}" for i in range(8)],
        "account_manager": ["AM001"] * 5 + ["AM002"] * 5,
        "tier": pl.Series(["A", "A", "B", "B", "B", "C", "C", "C", "C", None],
                          dtype=pl.Enum(TIERS)),
        "revenue": [1_585_000.0, 500_000, 300, 200, 100, 50, 40, 30, 20, 10],
    })


@pytest.fixture
def signals() -> pl.DataFrame:
    """Trigger-scan results, in customer order (not severity order)."""
    return pl.DataFrame({
        "customer_id": ["C1", "C2", "C3", "C4"],
        "trigger": ["drop", "drop", "upsell", "lapse"],
        "family": ["流失预警", "流失预警", "develop", "retain"],
        "severity": ["low", "critical", "medium", "high"],
        "action": ["call", "visit", "offer", "call"],
        "evidence": [[{"name": "arpu_drop", "value": 0.31234}], [{"name": "months",
                                                                  "value": 3.0}], [], []],
    })


@pytest.fixture
def kpis() -> pl.DataFrame:
    """KPI results shaped like ``KpiBook.check``: a share, a count per manager, a range, yuan."""
    return pl.DataFrame([
        {"kpi": "coverage", "title": "会员覆盖率", "by": None, "segment": None, "value": 0.952,
         "target": "0.27", "comparison": ">=", "status": "pass", "gap": 0.682,
         "unit": "percent"},
        {"kpi": "staffing", "title": "Customers per manager", "by": None, "segment": None,
         "value": 60.0, "target": "50", "comparison": "<=", "status": "fail", "gap": 10.0,
         "unit": "per_manager"},
        {"kpi": "services", "title": "Services per key person", "by": "tier", "segment": "A",
         "value": 1.5, "target": "[1, 2]", "comparison": "between", "status": "pass",
         "gap": 0.0, "unit": "number"},
        {"kpi": "revenue", "title": "Revenue", "by": "account_manager", "segment": "AM001",
         "value": 158_500.0, "target": "100000", "comparison": ">=", "status": "pass",
         "gap": 58_500.0, "unit": "cny"},
    ])


def _render(judged: pl.DataFrame, language: str = "en", **parts: Any) -> str:
    return render_report(title="cycle", period="2026-09", judged=judged, tiers=TIERS,
                         reference_shares={"A": 0.2, "B": 0.3, "C": 0.5}, language=language,
                         **parts)


class TestCharts:
    """Which charts a report holds: drawn by the browser from ECharts options."""

    def test_a_full_report_has_every_chart_in_page_order(
        self, judged: pl.DataFrame, signals: pl.DataFrame, kpis: pl.DataFrame
    ) -> None:
        """Tiers, Pareto, signals, tasks, KPIs against targets and trends."""
        tasks = pl.DataFrame({"assignee": ["AM001", "AM001", "AM002"],
                              "status": ["open", "done", "open"]})
        page = _render(judged, signals=signals, kpis=kpis, tasks=tasks)
        assert _charts(page) == ["tiers", "pareto", "signals", "tasks", "kpis", "trends"]
        assert "<svg" not in page.split("<script>")[0]  # no chart is baked into the page

    def test_without_kpis_signals_or_tasks_their_sections_are_left_out(
        self, judged: pl.DataFrame
    ) -> None:
        """A workspace without trigger or KPI books: tiers, Pareto, changes and trends."""
        page = _render(judged)
        assert _charts(page) == ["tiers", "pareto", "trends"]
        assert 'id="h-kpis"' not in page and 'id="h-signals"' not in page
        assert 'id="h-changes"' in page

    def test_empty_signals_and_kpis_keep_their_tables_but_get_no_chart(
        self, judged: pl.DataFrame, signals: pl.DataFrame, kpis: pl.DataFrame
    ) -> None:
        page = _render(judged, signals=signals.clear(), kpis=kpis.clear())
        assert _charts(page) == ["tiers", "pareto", "trends"]
        assert 'id="h-signals"' in page and 'id="h-kpis"' in page

    def test_the_tier_chart_sets_each_share_beside_its_reference(
        self, judged: pl.DataFrame
    ) -> None:
        spec = _parse(_render(judged)).specs["spec-tiers"]
        assert spec["xAxis"]["data"] == list(TIERS)
        assert [s["data"] for s in spec["series"]] == [[22.2, 33.3, 44.4], [20.0, 30.0, 50.0]]

    def test_the_pareto_curve_runs_from_the_largest_customer(
        self, judged: pl.DataFrame
    ) -> None:
        """The largest customer of ten (10 % of them) holds 76 % of the revenue."""
        spec = _parse(_render(judged)).specs["spec-pareto"]
        curve = spec["series"][0]["data"]
        assert curve[0] == [0.0, 0.0] and curve[-1] == [100.0, 100.0]
        assert [10.0, 76.0] in [[x, round(y)] for x, y in curve]

    def test_kpis_are_bars_of_their_value_as_a_share_of_the_target(
        self, kpis: pl.DataFrame
    ) -> None:
        """0.952 of 0.27 is capped at 200 %; 60 of 50 is 120 %; 1.5 of [1, 2] is 75 %;
        each bar's label gives the value and the target in their unit, colour by status."""
        spec = charts.kpi_chart(kpis, lambda s: s, lambda row: fmt.measure(
            row["value"], row["unit"], "en"))
        assert spec is not None
        bars = spec["series"][0]["data"]
        assert [b["value"] for b in bars] == [200.0, 120.0, 75.0, 158.5]
        assert [b["label"]["formatter"] for b in bars] == [
            "95.2%", "60 per manager", "1.5", "CNY 158,500"]
        assert bars[1]["itemStyle"]["color"] != bars[0]["itemStyle"]["color"]
        assert spec["yAxis"]["data"][2:] == ["Services per key person · A", "Revenue · AM001"]
        assert charts.kpi_chart(kpis.with_columns(pl.lit("0").alias("target")),
                                lambda s: s) is None

    def test_the_results_of_a_kpi_book_chart_as_they_are(self) -> None:
        """The frame ``KpiBook.check`` returns feeds the chart without reshaping."""
        from vip_workflow.rules.kpis.book import KpiBook, KpiFile

        book = KpiBook(KpiFile.model_validate({"kind": "kpis", "name": "t", "kpis": [
            {"id": "big", "measure": {"type": "count", "where": [
                {"field": "revenue", "op": ">=", "value": 100}]},
             "compare": ">=", "target": 4, "unit": "number"}]}))
        results = book.check(pl.DataFrame({"revenue": [900.0, 500, 300, 200, 100, 5]}))
        spec = charts.kpi_chart(results, lambda s: s)
        assert spec is not None and spec["series"][0]["data"][0]["value"] == 125.0


class TestPage:
    """The page a reader opens: valid, formatted, in their language, escaped."""

    def test_every_id_is_unique(self, judged: pl.DataFrame, signals: pl.DataFrame,
                                kpis: pl.DataFrame) -> None:
        """Parsed with html.parser: no element id appears twice (the matplotlib report had
        110 duplicates across its inline SVGs)."""
        for language in ("en", "zh_CN"):
            ids = _parse(_render(judged, language, signals=signals, kpis=kpis)).ids
            assert len(ids) >= 20
            assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]

    def test_numbers_have_thousands_separators_and_shares_read_as_percentages(
        self, judged: pl.DataFrame, kpis: pl.DataFrame
    ) -> None:
        page = _parse(_render(judged, kpis=kpis))
        assert _column(page, "tiers", "Revenue") == ["2,085,000", "600", "140"]
        assert _column(page, "tiers", "Share") == ["22.2%", "33.3%", "44.4%"]
        assert _column(page, "pareto", "Share of the total")[-1] == "100.0%"
        assert "1.585e+05" not in str(page.tables) and "0.952" not in str(page.tables)

    def test_kpi_values_and_targets_carry_their_unit(self, judged: pl.DataFrame,
                                                     kpis: pl.DataFrame) -> None:
        page = _parse(_render(judged, kpis=kpis))
        assert _column(page, "kpis", "Value") == ["95.2%", "60 per manager", "1.5",
                                                  "CNY 158,500"]
        assert _column(page, "kpis", "Target") == [">= 27.0%", "<= 50 per manager",
                                                   "between [1, 2]", ">= CNY 100,000"]
        assert _column(page, "kpis", "Gap")[0] == "+68.2%"
        chinese = _parse(_render(judged, "zh_CN", kpis=kpis))
        assert _column(chinese, "kpis", "实际值")[3] == "158,500 元"

    def test_signals_are_listed_the_most_severe_first(
        self, judged: pl.DataFrame, signals: pl.DataFrame
    ) -> None:
        """Critical, high, medium, low — whatever order the scan found them in; the
        evidence reads as a sentence, names and managers beside each customer."""
        page = _parse(_render(judged, signals=signals))
        assert _column(page, "signal_list", "Severity") == ["critical", "high", "medium",
                                                            "low"]
        assert _column(page, "signal_list", "Customer") == ["C2", "C4", "C3", "C1"]
        assert _column(page, "signal_list", "Evidence")[-1] == "arpu_drop = 0.31"
        assert _column(page, "signals", "Severity") == ["critical", "high", "medium", "low"]
        assert _column(page, "signal_list", "Account manager")[0] == "AM001"
        chinese = _parse(_render(judged, "zh_CN", signals=signals))
        assert _column(chinese, "signal_list", "严重程度") == ["紧急", "高", "中", "低"]

    def test_tier_changes_name_the_customer_manager_and_revenue(
        self, judged: pl.DataFrame
    ) -> None:
        changes = pl.DataFrame({"customer": ["C0", "C1"], "previous_tier": ["B", "B"],
                                "tier": ["A", "A"], "direction": ["up", "up"],
                                "important": [False, False]})
        text = _render(judged, changes=changes)
        page = _parse(text)
        assert _column(page, "changes", "Name") == ["武汉长江钢铁集团",
                                                    "<script>alert(1)</script>"]
        assert _column(page, "changes", "Revenue") == ["1,585,000", "500,000"]
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        assert "<script>alert(1)" not in text

    def test_the_default_language_is_chinese(self, judged: pl.DataFrame) -> None:
        page = render_report(title="工作台", period="2026-09", judged=judged, tiers=TIERS)
        assert '<html lang="zh-CN">' in page and "级别分布" in page
        with pytest.raises(ValueError, match="no report language 'fr'"):
            _render(judged, "fr")

    def test_the_page_needs_no_network(self, judged: pl.DataFrame) -> None:
        """ECharts and the dashboard's script are inlined; nothing names another host."""
        page = _render(judged)
        assert not re.search(r'(src|href)="(https?:)?//', page)
        assert "<script src" not in page
        assert "echarts" in page and "data-sortable" in page


class TestFormat:
    @pytest.mark.parametrize(("value", "unit", "lang", "expected"), [
        (158_500.0, "number", "en", "158,500"), (0.952, "percent", "en", "95.2%"),
        (0.952, "percent", "zh_CN", "95.2%"), (12_300.4, "cny", "zh_CN", "12,300 元"),
        (12_300.4, "cny", "en", "CNY 12,300"), (3.456, "per_manager", "en",
                                                  "3.46 per manager"),
        (None, "percent", "en", ""), ("n/a", "number", "en", "n/a"),
    ])
    def test_measure(self, value: Any, unit: str, lang: str, expected: str) -> None:
        assert fmt.measure(value, unit, lang) == expected

    def test_targets_and_signs(self) -> None:
        assert fmt.target("[0.1, 0.25]", "percent", "en") == "[10.0%, 25.0%]"
        assert fmt.measure(0.05, "percent", "en", signed=True) == "+5.0%"
        assert fmt.number(float("nan"), "en") == "—"


class TestFiles:
    """Every table of the report is written beside it as CSV and .xlsx."""

    def test_every_table_is_written_as_csv_and_xlsx_with_chinese_intact(
        self, tmp_path: Path, judged: pl.DataFrame, signals: pl.DataFrame, kpis: pl.DataFrame
    ) -> None:
        changes = pl.DataFrame({"customer": ["C0"], "previous_tier": ["B"], "tier": ["A"],
                                "direction": ["up"], "important": [True]})
        page = write_report(tmp_path / "out" / "report.html", title="t", period="2026-09",
                            judged=judged, tiers=TIERS, signals=signals, kpis=kpis,
                            changes=changes, language="en")
        folder = page.parent / "tables"
        names = {"tiers", "pareto", "changes", "signals", "signal_list", "kpis", "trends"}
        assert {p.name for p in folder.iterdir()} == {f"{n}.{x}" for n in names
                                                     for x in ("csv", "xlsx")}
        for name in names:
            raw = (folder / f"{name}.csv").read_bytes()
            assert raw.startswith("\ufeff".encode()), name  # Excel reads it as UTF-8
            csv = pl.read_csv(io.BytesIO(raw[3:]))
            sheet = pl.read_excel(folder / f"{name}.xlsx")
            assert sheet.columns == csv.columns and sheet.height == csv.height, name
            assert f'href="tables/{name}.csv"' in page.read_text(encoding="utf-8")
        changed = pl.read_excel(folder / "changes.xlsx")
        assert changed.get_column("name").to_list() == ["武汉长江钢铁集团"]
        assert "武汉长江钢铁集团" in (folder / "changes.csv").read_text(encoding="utf-8-sig")
        assert "流失预警" in pl.read_excel(folder / "signals.xlsx").get_column("family").to_list()
        assert pl.read_excel(folder / "kpis.xlsx").get_column("title")[0] == "会员覆盖率"
        listed = pl.read_excel(folder / "signal_list.xlsx")  # values, not the page's words
        assert listed.get_column("severity").to_list() == ["critical", "high", "medium", "low"]


def test_trends_read_earlier_periods_from_their_published_tables(
    tmp_path: Path, judged: pl.DataFrame, signals: pl.DataFrame
) -> None:
    """An earlier period's row comes from the few rows its report published (tables/), not
    from every customer's stored tier: here the store holds no tiers at all."""
    from vip_workflow.reporting.dashboard import stored_trends, trend_row

    for period, found in (("2026-07", signals.clear()), ("2026-08", signals)):
        write_report(tmp_path / period / "report.html", title="t", period=period,
                     judged=judged, tiers=TIERS, signals=found)
    store = vw.open_store("memory://").cycle
    assert store.tiers("2026-08").is_empty()
    current = trend_row("2026-09", judged.head(3), 0, 0)
    trends = stored_trends(store, ["2026-07", "2026-08"], list(TIERS), current,
                           outputs=tmp_path)
    assert trends.rows() == [("2026-07", 2, 3, 4, 9, 0, 0), ("2026-08", 2, 3, 4, 9, 4, 0),
                             ("2026-09", 2, 1, 0, 3, 0, 0)]


def test_a_cycle_with_triggers_and_kpis_writes_every_chart(tmp_path: Path) -> None:
    """The report of a real cycle (sample data, preset triggers and KPIs) has every chart,
    its tables beside it, and trends over the two stored periods."""
    from vip_workflow.samples import sample_history, sample_kpi_portfolio

    (tmp_path / "vip.yaml").write_text(
        "name: test workspace\nstorage: sqlite:///vip.db\ntiers: {preset: hubei-2006}\n"
        "reports: out\ntriggers: {preset: seed-001-triggers}\n"
        "kpis: {preset: china-mobile-2006-kpis}\nreport_language: en\n", encoding="utf-8")
    workspace = vw.Workspace.from_file(tmp_path / "vip.yaml")
    months = monthly_portfolios(load_sample_portfolio().head(400), start="2026-09",
                                months=2, seed=5)
    history = sample_history(400, 24, start="2024-11", seed=3)
    for period, data in months.items():
        result = workspace.run_cycle(period, data, history=history,
                                     kpi_data=sample_kpi_portfolio(400, seed=3))
    assert result.signals is not None and result.signals.height > 0
    text = result.report.read_text(encoding="utf-8")
    assert _charts(text)[:3] == ["tiers", "pareto", "signals"]
    assert {"kpis", "trends"} <= set(_charts(text))
    page = _parse(text)
    assert _column(page, "trends", "Period") == ["2026-09", "2026-10"]
    assert len(page.ids) == len(set(page.ids))
    assert (result.outputs / "tables" / "signal_list.xlsx").exists()


def test_a_quota_book_draws_its_own_shares_beside_the_actual(tmp_path: Path) -> None:
    """Without reference_shares in vip.yaml, a quota book's shares (5/25/70 %) are the
    reference of the tier chart and table; a chain book has none."""
    for preset, expected in (("hubei-abc", ["5.0%", "25.0%", "70.0%"]), ("hubei-2006", [])):
        folder = tmp_path / preset
        folder.mkdir()
        (folder / "vip.yaml").write_text(
            f"name: q\nstorage: sqlite:///vip.db\ntiers: {{preset: {preset}}}\nreports: out\n"
            "report_language: en\n", encoding="utf-8")
        workspace = vw.Workspace.from_file(folder / "vip.yaml")
        data = load_sample_portfolio().head(200).with_columns(  # hubei-abc reads it
            (pl.int_range(pl.len()) % 2 == 0).alias("industry_services"))
        page = _parse(workspace.run_cycle("2026-09", data).report.read_text(encoding="utf-8"))
        found = [share for share in _column(page, "tiers", "Reference") if share]
        assert found == expected, preset


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


def test_writing_a_report_never_imports_matplotlib(tmp_path: Path) -> None:
    """The charts are ECharts options: writing a report loads no plotting library, so it
    cannot change a caller's backend."""
    script = (
        "import sys, polars as pl\n"
        "from vip_workflow.reporting.report import write_report\n"
        "judged = pl.DataFrame({'customer_id': ['a', 'b'], 'tier': ['A', 'B'],"
        " 'revenue': [2.0, 1.0]})\n"
        f"write_report({str(tmp_path / 'report.html')!r}, title='t', period='2026-09',"
        " judged=judged, tiers=('A', 'B'))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).parents[2])
    assert done.stdout.strip() == "[]"
    assert (tmp_path / "report.html").exists()
