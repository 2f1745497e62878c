"""My inbox: my cases and my pools' work, not a colleague's; both languages; escaping."""

from __future__ import annotations

import pytest

from tests.server.conftest import LiveServer
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
    rows = client.get("/web/inbox?page=1", headers={"HX-Request": "true"})
    assert rows.status_code == 200 and "<html" not in rows.text and "<table" in rows.text
    bad = client.get("/web/inbox?page=0")
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    assert "query.page" in bad.text
