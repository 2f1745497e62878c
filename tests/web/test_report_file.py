"""The cycle's static report.html in a real browser: opened from ``file://`` with every
request that is not a local file refused, its charts draw (ECharts, SVG: Chinese as text)
and its tables sort. Debian's Chromium through Playwright, as in ``test_browser.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.conftest import LiveServer
from tests.web.conftest import workdir

pytestmark = pytest.mark.slow


def _offline_page(browser: Any, lang: str) -> tuple[Any, list[str]]:
    """A page whose requests, other than for local files, are aborted and recorded."""
    context = browser.new_context(locale=lang, viewport={"width": 1366, "height": 768})
    refused: list[str] = []

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith("file://"):
            request_route.continue_()
        else:
            refused.append(url)
            request_route.abort()

    context.route("**/*", route)
    return context.new_page(), refused


def test_the_static_report_draws_its_charts_offline(web: LiveServer, chromium: Any,
                                                    shots: Any) -> None:
    """The September report of the web fixture's workspace (signals, tasks, KPIs; Chinese
    and ``<script>`` customer names): every chart is drawn as SVG, Chinese text is text."""
    report = workdir(web) / "reports" / "2026-09" / "report.html"
    page, refused = _offline_page(chromium, "zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: (errors.append(dialog.message), dialog.dismiss()))
    page.goto(report.as_uri())
    charts = page.locator("[data-chart]")
    expected = {"tiers", "pareto", "signals", "tasks", "kpis", "trends"}
    assert {c.get_attribute("data-testid")[len("chart-"):] for c in charts.all()} == expected
    for name in expected:
        page.wait_for_selector(f"[data-testid=chart-{name}][data-drawn=true] svg")
    titles = page.locator("[data-testid=chart-tiers] svg text").all_text_contents()
    assert "级别分布与参考比例" in titles, titles
    kpi_texts = "".join(page.locator("[data-testid=chart-kpis] svg text").all_text_contents())
    assert any("\u4e00" <= ch <= "\u9fff" for ch in kpi_texts), kpi_texts
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    severities = page.locator("#signal_list tbody tr td:first-child").all_text_contents()
    order = ["紧急", "高", "中", "低"]  # critical, high, medium, low
    assert severities == sorted(severities, key=order.index)
    shots(page, "report")
    assert refused == [] and errors == []


def test_the_static_report_sorts_its_tables_and_escapes_names(
        web: LiveServer, chromium: Any, shots: Any) -> None:
    """October's tier changes name both customers; a ``<script>`` name is text; a column
    heading sorts the table; the download links point at the files beside the page."""
    report = workdir(web) / "reports" / "2026-10" / "report.html"
    page, refused = _offline_page(chromium, "en-US")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(report.as_uri())
    page.wait_for_selector("[data-testid=chart-tiers][data-drawn=true] svg")
    changes = page.locator("#changes")
    assert changes.get_by_text("武汉长江钢铁集团").count() == 1
    assert changes.get_by_text("<script>alert(1)</script>").count() == 1
    first = page.locator("#changes tbody tr").first
    heading = page.locator("#changes th button").nth(1)  # the name
    heading.click()
    assert first.locator("td").nth(1).inner_text() == "<script>alert(1)</script>"
    heading.click()
    assert first.locator("td").nth(1).inner_text() == "武汉长江钢铁集团"
    link = page.locator("a[href='tables/changes.xlsx']")
    assert (report.parent / str(link.get_attribute("href"))).exists()
    assert refused == [] and dialogs == []
