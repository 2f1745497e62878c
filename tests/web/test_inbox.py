"""My inbox: my cases and my pools' work, not a colleague's; both languages; escaping."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.server.conftest import LiveServer, start_server, write_workspace
from tests.web.conftest import signed_in, start_case


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_the_inbox_lists_my_cases_and_not_a_colleagues(web: LiveServer, lang: str) -> None:
    mine = start_case(web, "G0000002", "AM001")
    theirs = start_case(web, "G0000003", "AM002")
    page = signed_in(web, "AM001", lang).get("/web/inbox")
    assert page.status_code == 200
    assert mine in page.text and theirs not in page.text
    title = "My inbox" if lang == "en" else "我的待办"
    assert f"<h1>{title}</h1>" in page.text
    # the definition's title, in the reader's language
    assert ("Retention case" if lang == "en" else "客户挽留") in page.text
    clock = "due in" if lang == "en" else "剩余"
    assert clock in page.text


def test_the_inbox_pages_and_answers_htmx_with_rows_only(web: LiveServer) -> None:
    for _ in range(3):
        start_case(web, "G0000004", None)  # pool work of every account manager
    client = signed_in(web, "AM002", "en")
    whole = client.get("/web/inbox")
    assert "<html" in whole.text
    rows = client.get("/web/inbox", headers={"HX-Request": "true"})
    assert rows.status_code == 200 and "<html" not in rows.text and "<table" in rows.text
    bad = client.get("/web/inbox?cursor=%25%25%25")
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("text/html")
    assert "cursor" in bad.text


def test_the_inbox_follows_its_cursor_page_by_page(tmp_path: Path) -> None:
    """With two rows a page, the Next links walk through every case once (paged in the
    store); later pages link back to the first; overdue only shows none of these fresh
    cases; both languages name the links."""
    live = start_server(write_workspace(tmp_path, "sqlite:///vip.db",
                                        "server: {page_size: 2}\n"))
    try:
        made = {start_case(live, f"G{n:07d}", None) for n in range(5)}
        client = signed_in(live, "AM002", "en")
        seen: list[str] = []
        url: str | None = "/web/inbox"
        pages = 0
        while url is not None:
            page = client.get(url)
            assert page.status_code == 200, page.text
            rows = re.findall(r'<td><a href="/web/instances/([^"]+)">', page.text)
            assert len(rows) <= 2
            seen += rows
            assert ("First page" in page.text) == (pages > 0)
            found = re.search(r'<a href="(/web/inbox\?cursor=[^"]+)"[^>]*data-testid="next-page"',
                              page.text)
            url = found.group(1).replace("&amp;", "&") if found else None
            pages += 1
        assert sorted(seen) == sorted(made) and pages == 3
        overdue = client.get("/web/inbox?overdue=true")
        assert "Nothing to do" in overdue.text and "Overdue only" in overdue.text
        chinese = signed_in(live, "AM002")
        first = chinese.get("/web/inbox")
        assert "只看逾期" in first.text and "下一页" in first.text
    finally:
        live.stop()
