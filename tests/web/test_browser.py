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

from pathlib import Path
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
    manager.wait_for_selector("text=Retention offer approval")

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
    # the token field takes the focus by itself (autofocus); the browser may give it a moment
    # after the load event, so wait for it rather than type into nothing
    page.wait_for_function("document.activeElement && document.activeElement.id === 'token'")
    page.keyboard.type(web.tokens["AM002"])
    assert page.input_value("#token") == web.tokens["AM002"]
    page.keyboard.press("Enter")
    page.wait_for_url(f"{web.url}/web/inbox")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    shots(page, "inbox-phone", full_page=False)
    page.goto(f"{web.url}/web/periods/2026-09")  # wide tables scroll inside their box
    page.wait_for_selector("[data-testid=chart-tiers][data-drawn=true] svg")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_signing_in_through_the_oidc_issuer(oidc_web: LiveServer, issuer: Any,
                                            chromium: Any, shots: Any) -> None:
    """The browser follows the redirects to the issuer and back (authorization code with
    PKCE) and lands, signed in, where it was going — from the keyboard alone."""
    page = _context(chromium, "en-US").new_page()
    page.goto(f"{oidc_web.url}/web/periods")
    assert "/web/login" in page.url
    shots(page, "login-oidc", full_page=False)
    page.focus("[data-testid=oidc-sign-in]")
    page.keyboard.press("Enter")
    # the callback's page moves on at once (meta refresh): wait for the last page's content
    page.wait_for_selector("[data-testid=user]")
    assert page.url == f"{oidc_web.url}/web/periods"
    assert page.locator("[data-testid=user]").inner_text() == "AM777"
    assert issuer.exchanges  # the code was exchanged by the service, not the browser
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["vw_session"]["httpOnly"] and cookies["vw_session"]["sameSite"] == "Strict"


def _pages(web: LiveServer) -> dict[str, str]:
    """Every kind of page: name -> path."""
    iid = start_case(web, "G0000002", "AM001")
    return {"inbox": "/web/inbox", "instance": f"/web/instances/{iid}",
            "customer-page": "/web/customers/G0000002", "periods": "/web/periods",
            "period": "/web/periods/2026-10", "books": "/web/books",
            "book": "/web/books/hubei-2006",
            "impact": "/web/books/hubei-2006/impact?old=2006.1&new=2006.1"}


_UNLABELLED = """() => Array.from(document.querySelectorAll(
    "input:not([type=hidden]), select, textarea")).filter(el =>
    el.labels.length === 0 && !el.getAttribute("aria-label")
    && !el.getAttribute("aria-labelledby")).map(el => el.outerHTML)"""
_NAMELESS_BUTTONS = """() => Array.from(document.querySelectorAll("button, a[href]"))
    .filter(el => !(el.innerText || el.getAttribute("aria-label") || "").trim())
    .map(el => el.outerHTML)"""


@pytest.mark.parametrize("width", [1366, 390])
def test_every_page_has_labels_and_fits_the_screen(web: LiveServer, chromium: Any,
                                                  shots: Any, width: int) -> None:
    """Every input has a label and every button a name; at a phone's 390 px nothing makes
    the page scroll sideways (wide tables scroll inside their box). Screenshots of each."""
    page = _context(chromium, "zh-CN", width=width).new_page()
    _sign_in(page, web, "AM001")
    for name, path in {"login": "/web/login", **_pages(web)}.items():
        page.goto(f"{web.url}{path}")
        page.wait_for_load_state("load")
        if page.locator("[data-chart]").count():
            page.wait_for_selector("[data-chart][data-drawn=true] svg")
        assert page.evaluate(_UNLABELLED) == [], (path, "inputs without a label")
        assert page.evaluate(_NAMELESS_BUTTONS) == [], (path, "buttons without a name")
        scroll, inner = page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, (path, scroll, inner)
        shots(page, f"a11y-{name}-{width}", full_page=False)


def test_the_impact_is_reached_and_shown_from_the_keyboard(web: LiveServer, chromium: Any,
                                                         shots: Any) -> None:
    """From the top of a rule book's page, Tab reaches "Show the impact" and Enter shows the
    impact of the chosen versions on the latest period."""
    page = _context(chromium, "en-US").new_page()
    _sign_in(page, web, "AM001")
    page.goto(f"{web.url}/web/books/hubei-2006")
    page.locator("body").focus()
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.testid") == "compare":
            break
    else:
        pytest.fail("Tab never reached the 'Show the impact' button")
    page.keyboard.press("Enter")
    page.wait_for_url("**/web/books/hubei-2006/impact?old=2006.1&new=2006.1")
    assert "0 of 60 customers of 2026-10 change tier" in page.locator(
        "[data-testid=impact-summary]").inner_text()
    shots(page, "impact-same", full_page=False)


def test_an_uploaded_version_shows_its_impact_in_the_browser(web: LiveServer, chromium: Any,
                                                           shots: Any, tmp_path: Path) -> None:
    """The analyst uploads a new version; the matrix and the changed customers (a Chinese
    name among them) are shown, at a laptop's and a phone's width."""
    from tests.web.test_books import NEW_VERSION

    draft = tmp_path / "hubei-2027.yaml"
    draft.write_text(NEW_VERSION, encoding="utf-8")
    page = _context(chromium, "zh-CN").new_page()
    _sign_in(page, web, "AM001")
    page.goto(f"{web.url}/web/books/hubei-2006")
    page.set_input_files("#upload-file", str(draft))
    page.click("[data-testid=upload]")
    page.wait_for_url("**/impact?old=2006.1&new=draft*")
    assert page.locator("#matrix td.moved").count() >= 3
    assert page.locator("#changed").get_by_text("武汉长江钢铁集团").count() == 1
    shots(page, "impact")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shots(page, "impact-phone", full_page=False)
