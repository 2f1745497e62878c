"""Every page in both languages, escaping, downloads and the rule book tables."""

from __future__ import annotations

import io

import polars as pl
import pytest

from tests.server.conftest import LiveServer
from tests.web.conftest import signed_in, start_case

#: path -> (an English and a Chinese text the page shows)
PAGES = {
    "/web/inbox": ("My inbox", "我的待办"),
    "/web/customers/G0000002": ("Tier history", "级别历史"),
    "/web/periods": ("Recent runs", "最近运行"),
    "/web/periods/2026-10": ("Tier distribution", "级别分布"),
    "/web/books": ("Rule books", "规则手册"),
    "/web/books/hubei-2006": ("factors", "版本"),
    "/web/books/hubei-2006/impact?old=2006.1&new=2006.1": ("Customers who change tier",
                                                          "级别改变的客户"),
}


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
@pytest.mark.parametrize("path", sorted(PAGES))
def test_every_page_in_both_languages(web: LiveServer, path: str, lang: str) -> None:
    page = signed_in(web, "AM001", lang).get(path)
    assert page.status_code == 200, page.text
    english, chinese = PAGES[path]
    assert (english if lang == "en" else chinese) in page.text
    if lang == "en":
        assert "我的待办" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_the_instance_page_in_both_languages(web: LiveServer, lang: str) -> None:
    iid = start_case(web, "G0000002", "AM001")
    page = signed_in(web, "AM001", lang).get(f"/web/instances/{iid}")
    assert page.status_code == 200
    assert ("verified" if lang == "en" else "已校验") in page.text
    assert "stateDiagram-v2" in page.text and "class assess current" in page.text


class TestEscaping:
    def test_a_script_name_is_text_everywhere(self, web: LiveServer) -> None:
        """The customer named <script>alert(1)</script> is escaped in the page, its title,
        the dashboard's table and the chart's JSON."""
        client = signed_in(web, "AM001", "en")
        for path in ("/web/customers/G0000001", "/web/periods/2026-10"):
            text = client.get(path).text
            assert "<script>alert(1)</script>" not in text
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        chart = client.get("/web/customers/G0000001").text
        assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in chart

    def test_chinese_names_are_kept(self, web: LiveServer) -> None:
        text = signed_in(web, "AM001").get("/web/customers/G0000002").text
        assert "<h1 data-testid=\"customer-name\">武汉长江钢铁集团" in text

    def test_unknown_things_are_404_pages(self, web: LiveServer) -> None:
        client = signed_in(web, "AM001", "en")
        for path in ("/web/customers/NOPE", "/web/periods/2030-01", "/web/books/nope",
                     "/web/instances/nope", "/web/periods/2026-10/tables/nope.csv"):
            answer = client.get(path)
            assert answer.status_code == 404, path
            assert answer.headers["content-type"].startswith("text/html")
            assert "Not found" in answer.text


class TestDashboard:
    def test_tier_changes_name_the_customers(self, web: LiveServer) -> None:
        client = signed_in(web, "AM001", "en")
        text = client.get("/web/periods/2026-10").text
        assert "武汉长江钢铁集团" in text and "70,000" in text
        assert 'data-chart="spec-tiers"' in text
        assert 'data-chart="spec-signals"' not in text  # no signals that month: no chart
        earlier = client.get("/web/periods/2026-09").text
        assert 'data-chart="spec-signals"' in earlier and 'data-chart="spec-tasks"' in earlier

    def test_kpis_show_percentages_as_percentages(self, web: LiveServer) -> None:
        text = signed_in(web, "AM001", "zh_CN").get("/web/periods/2026-09").text
        assert "&gt;= 27.0%" in text  # member coverage: target 0.27 percent
        assert "未达标" in text and "<th scope=\"col\" class=\"num\">实际值</th>" in text

    @pytest.mark.parametrize("name", ["tiers", "changes", "signals", "tasks", "kpis"])
    def test_every_table_downloads_as_csv_and_xlsx(self, web: LiveServer, name: str) -> None:
        client = signed_in(web, "AM001")
        period = "2026-10" if name == "changes" else "2026-09"  # the months that have rows
        csv = client.get(f"/web/periods/{period}/tables/{name}.csv")
        assert csv.status_code == 200 and csv.content.startswith("\ufeff".encode())
        frame = pl.read_csv(io.BytesIO(csv.content[3:]))
        xlsx = client.get(f"/web/periods/{period}/tables/{name}.xlsx")
        assert xlsx.status_code == 200
        assert xlsx.headers["content-disposition"] == \
            f'attachment; filename="{period}-{name}.xlsx"'
        sheet = pl.read_excel(io.BytesIO(xlsx.content))
        assert sheet.columns == frame.columns and sheet.height == frame.height
        assert frame.height > 0

    def test_changes_download_keeps_chinese(self, web: LiveServer) -> None:
        csv = signed_in(web, "AM001").get("/web/periods/2026-10/tables/changes.csv")
        assert "武汉长江钢铁集团" in csv.content.decode("utf-8-sig")


def test_the_rule_book_shows_bands_as_tables(web: LiveServer) -> None:
    text = signed_in(web, "AM001", "en").get("/web/books/hubei-2006").text
    assert "factors › importance › bands" in text
    assert "provincial or municipal government" in text
    assert "<td>60,000</td>" in text
