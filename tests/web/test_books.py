"""The rule book pages: a version's impact on the latest period (two versions compared, or
a new version uploaded), paged, and downloadable."""

from __future__ import annotations

import io
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import polars as pl
import pytest

from tests.server.conftest import LiveServer, start_server
from tests.web.conftest import csrf_of, signed_in

BOOK = "/web/books/hubei-2006"


def _preset_text() -> str:
    from importlib import resources

    return (resources.files("vip_workflow.rules.presets") / "hubei-2006.yaml").read_text(
        encoding="utf-8")


#: a new version: A+ by revenue from 80 000 instead of 60 000, revenue from 7 000 is B+
#: instead of B, a township government A instead of B+, and a group that no factor places
#: is B instead of C
NEW_VERSION = (_preset_text().replace('version: "2006.1"', 'version: "2027.1"')
               .replace("{min: 60000, tier: A+}", "{min: 80000, tier: A+}")
               .replace("{min: 18000, max: 60000, tier: A}", "{min: 18000, max: 80000, tier: A}")
               .replace("{min: 7000, max: 18000, tier: B}", "{min: 7000, max: 18000, tier: B+}")
               .replace("{in: [township_gov], tier: B+", "{in: [township_gov], tier: A")
               .replace("default: C", "default: B"))


def _upload(client: httpx.Client, text: str, *, filename: str = "hubei-2027.yaml",
            csrf: str | None = None) -> httpx.Response:
    book = client.get(BOOK)
    token = csrf_of(book) if csrf is None else csrf
    return client.post(f"{BOOK}/impact", data={"csrf": token, "old": "2006.1"},
                       files={"file": (filename, text.encode("utf-8"), "application/yaml")})


def _expected(web: LiveServer) -> pl.DataFrame:
    """Who the new version moves, computed here with the library on the published data."""
    import vip_workflow as vw
    from vip_workflow.rules.versions import diff_tiers

    ws = web.service.workspace
    latest = ws.store.periods()[-1]
    frame = pl.read_parquet(ws.base_dir / ws.config.reports / latest / "tiers.parquet")
    frame = frame.drop("tier", "rule", "reason")
    new = vw.loads_rules(NEW_VERSION, name="new.yaml", kind="tiers")
    return diff_tiers(ws.tier_book(latest), new, frame).changed


class TestImpact:
    def test_the_book_page_offers_both_comparisons_with_labels(self, web: LiveServer) -> None:
        text = signed_in(web, "AM001", "en").get(BOOK).text
        assert "Impact on the latest period" in text and "customers of 2026-10" in text
        for field in ("impact-old", "impact-new", "upload-old", "upload-file"):
            assert f'<label for="{field}">' in text and f'id="{field}"' in text
        assert 'enctype="multipart/form-data"' in text

    def test_a_version_against_itself_moves_nobody(self, web: LiveServer) -> None:
        """The matrix has everyone on its diagonal and the list is empty."""
        client = signed_in(web, "AM001", "en")
        page = client.get(f"{BOOK}/impact", params={"old": "2006.1", "new": "2006.1"})
        assert page.status_code == 200, page.text
        assert "0 of 60 customers of 2026-10 change tier" in page.text
        assert "Nobody changes tier." in page.text
        matrix = pl.read_csv(io.BytesIO(client.get(
            f"{BOOK}/impact/matrix.csv", params={"old": "2006.1", "new": "2006.1"}
        ).content[3:]))
        diagonal = sum(row[row["from"]] for row in matrix.to_dicts())
        assert diagonal == 60

    def test_an_uploaded_version_shows_who_moves_with_name_manager_and_revenue(
            self, web: LiveServer) -> None:
        """The Chinese-named customer at 70 000 goes from A+ to A, with its name, account
        manager and revenue; the counts agree with the library's diff."""
        client = signed_in(web, "AM001", "zh_CN")
        answer = _upload(client, NEW_VERSION)
        assert answer.status_code == 303, answer.text
        location = answer.headers["location"]
        query = parse_qs(urlparse(location).query)
        assert query["old"] == ["2006.1"] and query["new"][0].startswith("draft:")
        expected = _expected(web)
        assert expected.height > 50  # more than one page of 50
        page = client.get(location)
        assert page.status_code == 200
        assert f"{expected.height} 位" in page.text  # "… of 60 customers change tier"
        csv = client.get(f"{BOOK}/impact/changes.csv", params=query)
        assert csv.content.startswith("\ufeff".encode())
        table = pl.read_csv(io.BytesIO(csv.content[3:]), infer_schema_length=None)
        assert table.height == expected.height
        assert sorted(table["customer"].cast(pl.String)) == sorted(
            expected["customer"].cast(pl.String))
        wuhan = table.filter(pl.col("customer") == "G0000002").to_dicts()[0]
        assert wuhan["name"] == "武汉长江钢铁集团"
        assert (wuhan["old_tier"], wuhan["new_tier"], wuhan["direction"]) == ("A+", "A",
                                                                              "down")
        assert wuhan["revenue"] == 70_000 and wuhan["account_manager"]
        assert "武汉长江钢铁集团" in page.text
        xlsx = client.get(f"{BOOK}/impact/changes.xlsx", params=query)
        assert pl.read_excel(io.BytesIO(xlsx.content)).height == expected.height
        matrix = pl.read_csv(io.BytesIO(client.get(
            f"{BOOK}/impact/matrix.csv", params=query).content[3:]))
        tiers = ["A+", "A", "B+", "B", "C"]  # every tier, zeros included: a square matrix
        assert matrix.columns == ["from", *tiers] and matrix["from"].to_list() == tiers
        moved = {(r["from"], t): r[t] for r in matrix.to_dicts() for t in tiers}
        assert moved[("A+", "A")] >= 1 and moved[("C", "C")] == 0 and moved[("A+", "A+")] == 0
        assert sum(n for (a, b), n in moved.items() if a != b) == expected.height

    def test_the_changed_customers_are_paged(self, web: LiveServer) -> None:
        """Every changed customer appears on exactly one page."""
        client = signed_in(web, "AM001", "en")
        location = _upload(client, NEW_VERSION).headers["location"]
        seen: list[str] = []
        page_no, pages = 1, 1
        while page_no <= pages:
            text = client.get(f"{location}&page={page_no}").text
            found = re.search(r"Page (\d+) of (\d+)", text)
            assert found is not None, text
            pages = int(found.group(2))
            table = text.split('data-testid="changed"')[1].split("</table>")[0]
            seen += re.findall(r'href="/web/customers/([^"]+)"', table)
            page_no += 1
        assert pages == 2
        assert sorted(seen) == sorted(_expected(web)["customer"].cast(pl.String))

    def test_customers_a_version_cannot_judge_are_shown_as_not_judged(
            self, web: LiveServer) -> None:
        """A version that rejects the importance "none" cannot judge most customers: they
        are a column of their own, and "other" in the list."""
        strict = _preset_text().replace(
            "values: [provincial_gov, municipal_gov, county_gov, township_gov, none]",
            "values: [provincial_gov, municipal_gov, county_gov, township_gov]")
        client = signed_in(web, "AM001", "en")
        location = _upload(client, strict, filename="strict.yaml").headers["location"]
        page = client.get(location).text
        matrix = page.split('data-testid="matrix"')[1].split("</table>")[0]
        assert '<th scope="col" class="num">not judged</th>' in matrix
        assert '<td class="other">other</td>' in page

    def test_a_broken_rule_file_is_refused_naming_the_line(self, web: LiveServer) -> None:
        client = signed_in(web, "AM001", "en")
        broken = NEW_VERSION.replace("tiers: [A+, A, B+, B, C]", "tiers: [A+, A, B+, B, C")
        answer = _upload(client, broken, filename="broken.yaml")
        assert answer.status_code == 422
        assert re.search(r"broken\.yaml:\d+:\d+: not valid YAML", answer.text), answer.text

    def test_another_kind_of_file_is_refused(self, web: LiveServer) -> None:
        client = signed_in(web, "AM001", "en")
        answer = _upload(client, "kind: kpis\nname: k\nversion: '1'\nkpis: []\n",
                         filename="k.yaml")
        assert answer.status_code == 422, answer.text

    def test_an_upload_without_the_csrf_token_is_refused(self, web: LiveServer) -> None:
        client = signed_in(web, "AM001", "en")
        assert _upload(client, NEW_VERSION, csrf="").status_code == 403

    @pytest.mark.parametrize(("old", "new", "status"), [
        ("2006.1", "draft:0123456789abcdef", 404), ("9.9", "2006.1", 404)])
    def test_unknown_versions_are_404(self, web: LiveServer, old: str, new: str,
                                      status: int) -> None:
        page = signed_in(web, "AM001", "en").get(f"{BOOK}/impact",
                                                  params={"old": old, "new": new})
        assert page.status_code == status


def test_two_stored_versions_are_compared_on_the_latest_period(tmp_path: Path) -> None:
    """A workspace whose tier rules are two version files: the book page proposes the
    version before and the latest; the impact agrees with the library's diff."""
    from vip_workflow.rules.versions import diff_tiers
    from vip_workflow.samples import sample_portfolio

    (tmp_path / "v1.yaml").write_text(_preset_text(), encoding="utf-8")
    (tmp_path / "v2.yaml").write_text(NEW_VERSION.replace(
        'effective: "2006-07-25"', 'effective: "2030-01-01"'), encoding="utf-8")
    vip_yaml = tmp_path / "vip.yaml"
    vip_yaml.write_text("name: 两个版本\nstorage: sqlite:///vip.db\n"
                        "tiers: {files: [v1.yaml, v2.yaml]}\n", encoding="utf-8")
    live = start_server(vip_yaml)
    try:
        ws = live.service.workspace
        portfolio = sample_portfolio(40)
        ws.run_cycle("2026-11", portfolio)
        client = signed_in(live, "AM001", "en")
        book = client.get(BOOK).text
        assert '<option value="2006.1" selected>' in book.split('id="impact-old"')[1]
        assert '<option value="2027.1" selected>' in book.split('id="impact-new"')[1]
        page = client.get(f"{BOOK}/impact", params={"old": "2006.1", "new": "2027.1"})
        assert page.status_code == 200, page.text
        versions = {b.version: b for b in ws.tier_versions}
        expected = diff_tiers(versions["2006.1"], versions["2027.1"], portfolio).changed
        assert expected.height > 0
        assert (f"{expected.height} of 40 customers of 2026-11 change tier"
                in page.text)
        csv = client.get(f"{BOOK}/impact/changes.csv",
                         params={"old": "2006.1", "new": "2027.1"})
        table = pl.read_csv(io.BytesIO(csv.content[3:]), infer_schema_length=None)
        assert sorted(table["customer"].cast(pl.String)) == sorted(
            expected["customer"].cast(pl.String))
    finally:
        live.stop()
