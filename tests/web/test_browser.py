"""The workbench in a real browser: Playwright for Python driving Debian's Chromium.

Playwright's own browser download is not available here: the tests launch
``/usr/bin/chromium`` (``apt-get install chromium fonts-noto-cjk``; ``.ci/run`` installs them
when missing). Without it they skip, except under ``CI=true`` where they fail. Screenshots
go to the session's artifact folder, and also to ``$WORKBENCH_SCREENSHOTS`` when set (the
docs' copies in ``docs/img`` are made with ``WORKBENCH_SCREENSHOTS=docs/img``). The
``chromium`` and ``shots`` fixtures are in ``conftest.py`` (the static report's browser test
shares them).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.conftest import LiveServer
from tests.web.conftest import start_case

pytestmark = pytest.mark.slow

def _context(chromium: Any, lang: str = "zh-CN", width: int = 1366) -> Any:
    return chromium.new_context(locale=lang, viewport={"width": width, "height": 768},
                                extra_http_headers={"Accept-Language": lang})


def _sign_in(page: Any, live: LiveServer, user: str) -> None:
    page.goto(f"{live.url}/web/inbox")
    assert "/web/login" in page.url
    page.fill("#token", live.tokens[user])
    page.press("#token", "Enter")
    page.wait_for_url(f"{live.url}/web/inbox")


def _no_dialogs(page: Any) -> list[str]:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    return dialogs


def test_a_manager_works_a_case_and_a_business_manager_approves(
        web: LiveServer, chromium: Any, shots: Any) -> None:
    """AM001 sees their case and not AM002's, opens it, proposes an offer; BM001 approves
    in another browser context; the ledger shows both and is verified."""
    mine = start_case(web, "G0000002", "AM001")
    theirs = start_case(web, "G0000003", "AM002")
    manager = _context(chromium, "en-US").new_page()
    dialogs = _no_dialogs(manager)
    _sign_in(manager, web, "AM001")
    inbox = manager.locator("[data-testid=inbox]")
    assert inbox.locator(f"a[href='/web/instances/{mine}']").count() == 1
    assert inbox.locator(f"a[href='/web/instances/{theirs}']").count() == 0
    shots(manager, "inbox")
    manager.click(f"a[href='/web/instances/{mine}']")
    manager.wait_for_selector("pre.mermaid[data-drawn=true] svg")
    assert manager.locator("pre.mermaid svg .current").count() >= 1  # the current state
    shots(manager, "instance")
    form = manager.locator("form:has(button[data-event=propose_offer])")
    form.locator("textarea").fill("续约折扣 10%")
    form.locator("button").click()
    manager.wait_for_selector("text=offer_approval")

    approver = _context(chromium, "zh-CN").new_page()
    _sign_in(approver, web, "BM001")
    approver.goto(f"{web.url}/web/instances/{mine}")
    approver.fill("#approve-comment", "同意")
    approver.click("[data-testid=approve]")
    approver.wait_for_selector("[data-testid=verified]")
    ledger = approver.locator(".timeline").inner_text()
    assert "续约折扣 10%" in ledger and "同意" in ledger and "BM001" in ledger
    assert approver.locator("[data-testid=verified]").inner_text() == "已校验"
    shots(approver, "ledger")
    manager.reload()
    assert manager.locator("[data-testid=verified]").inner_text() == "verified"
    assert dialogs == []


def test_the_language_switch_shows_chinese_labels(web: LiveServer, chromium: Any,
                                                  shots: Any) -> None:
    page = _context(chromium, "en-US").new_page()
    _sign_in(page, web, "AM001")
    assert page.locator("h1").inner_text() == "My inbox"
    page.select_option("#lang-select", "zh_CN")
    page.click("form.lang button")
    page.wait_for_function("document.querySelector('h1').innerText === '我的待办'")
    assert page.locator("label[for=lang-select]").inner_text() == "语言"
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.goto(f"{web.url}/web/books/hubei-2006")  # the choice is kept
    assert "版本" in page.locator("main").inner_text()


def test_chinese_names_and_titles_are_text_in_the_charts(web: LiveServer, chromium: Any,
                                                         shots: Any) -> None:
    page = _context(chromium, "zh-CN").new_page()
    _sign_in(page, web, "AM001")
    page.goto(f"{web.url}/web/customers/G0000002")
    page.wait_for_selector("[data-testid=chart-history][data-drawn=true] svg")
    texts = page.locator("[data-testid=chart-history] svg text").all_text_contents()
    assert any("武汉长江钢铁集团" in t for t in texts), texts
    tasks = web.service.workspace.store.tasks()
    with_case = tasks.filter(tasks["case_id"].is_not_null())["customer"][0]
    page.goto(f"{web.url}/web/customers/{with_case}")  # one with signals, tasks and a case
    page.wait_for_selector("[data-testid=chart-history][data-drawn=true] svg")
    assert page.locator("[data-testid=signals] li").count() >= 1
    shots(page, "customer")
    page.goto(f"{web.url}/web/periods/2026-10")
    page.wait_for_selector("[data-testid=chart-tiers][data-drawn=true] svg")
    titles = page.locator("[data-testid=chart-tiers] svg text").all_text_contents()
    assert "级别分布与参考比例" in titles, titles
    assert page.locator("#changes").get_by_text("武汉长江钢铁集团").count() == 1
    first = page.locator("#changes tbody tr").first
    page.locator("#changes th button", has_text="名称").click()  # sort by name
    assert first.locator("td").nth(1).inner_text() == "<script>alert(1)</script>"
    page.locator("#changes th button", has_text="名称").press("Enter")  # and back
    assert first.locator("td").nth(1).inner_text() == "武汉长江钢铁集团"
    page.goto(f"{web.url}/web/periods/2026-09")  # the month with signals and tasks
    page.wait_for_selector("[data-testid=chart-signals][data-drawn=true] svg")
    page.wait_for_selector("[data-testid=chart-tasks][data-drawn=true] svg")
    shots(page, "dashboard")


def test_a_script_name_is_shown_as_text(web: LiveServer, chromium: Any) -> None:
    page = _context(chromium, "en-US").new_page()
    dialogs = _no_dialogs(page)
    _sign_in(page, web, "AM001")
    page.goto(f"{web.url}/web/customers/G0000001")
    page.wait_for_selector("[data-testid=chart-history][data-drawn=true] svg")
    heading = page.locator("[data-testid=customer-name]").inner_text()
    assert heading.startswith("<script>alert(1)</script>")
    texts = page.locator("[data-testid=chart-history] svg text").all_text_contents()
    assert any("<script>alert(1)</script>" in t for t in texts)
    page.goto(f"{web.url}/web/periods/2026-10")
    page.wait_for_selector("[data-testid=chart-tiers][data-drawn=true] svg")
    assert dialogs == []


def test_keyboard_and_phone_width(web: LiveServer, chromium: Any, shots: Any) -> None:
    """The sign-in form works from the keyboard alone; the inbox fits a phone's width."""
    page = _context(chromium, "zh-CN", width=390).new_page()
    page.goto(f"{web.url}/web/login")
    page.keyboard.type(web.tokens["AM002"])  # the token field has the focus
    page.keyboard.press("Enter")
    page.wait_for_url(f"{web.url}/web/inbox")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    shots(page, "inbox-phone", full_page=False)
    page.goto(f"{web.url}/web/periods/2026-09")  # wide tables scroll inside their box
    page.wait_for_selector("[data-testid=chart-tiers][data-drawn=true] svg")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
