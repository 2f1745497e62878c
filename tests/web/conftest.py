"""The workbench served by a real uvicorn on a free port, over a workspace with two months of
cycles, retention cases of two account managers, and customers with awkward names."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from tests.server.conftest import LiveServer, start_server, write_workspace
from tests.web.oidc_issuer import CLIENT_ID, Issuer

#: customer id -> the name the fixture gives it
NAMES = {"G0000001": "<script>alert(1)</script>", "G0000002": "武汉长江钢铁集团"}
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def _run_cycles(ws: Any) -> None:
    from vip_workflow.samples import (
        monthly_portfolios,
        sample_history,
        sample_kpi_portfolio,
        sample_portfolio,
    )

    portfolio = sample_portfolio(60).with_columns(
        pl.col("customer_id").replace_strict(NAMES, default=pl.col("name")).alias("name"))
    history = sample_history(months=14, start="2025-08", seed=3, portfolio=portfolio,
                             portfolio_month="2026-09")
    months = monthly_portfolios(portfolio, start="2026-09", months=2, history=history)
    kpi_data = sample_kpi_portfolio(seed=3, portfolio=portfolio)
    for period, snapshot in months.items():
        if period == "2026-10":  # two customers move up a tier in the second month
            snapshot = snapshot.with_columns(
                pl.when(pl.col("customer_id").is_in(list(NAMES)))
                .then(pl.lit(70_000.0)).otherwise(pl.col("revenue")).alias("revenue"))
        ws.run_cycle(period, snapshot, history=history, kpi_data=kpi_data)


@pytest.fixture(scope="session")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the web tests (each test that changes work starts its own case)."""
    folder = tmp_path_factory.mktemp("web")
    vip_yaml = write_workspace(folder, "sqlite:///vip.db",
                               "triggers: {preset: seed-001-triggers}\n"
                               "kpis: {preset: china-mobile-2006-kpis}\n"
                               "reference_shares: {A+: 0.05, A: 0.10, B+: 0.10, B: 0.05, "
                               "C: 0.70}\nreports: reports\n")
    server = start_server(vip_yaml)
    server.tokens["BM001"] = server.service.tokens.create("BM001", ("business_manager",))[1]
    try:
        _run_cycles(server.service.workspace)
        yield server
    finally:
        server.stop()


def csrf_of(page: httpx.Response) -> str:
    """The CSRF token in a page's forms."""
    found = CSRF_FIELD.search(page.text)
    assert found is not None, page.text[:500]
    return found.group(1)


def browser(live: LiveServer, lang: str | None = None) -> httpx.Client:
    """A client with a cookie jar, like a browser that has not signed in."""
    headers = {"Accept-Language": "en" if lang == "en" else "zh-CN,zh;q=0.9"}
    return live.client(**headers)


def signed_in(live: LiveServer, user: str, lang: str | None = None) -> httpx.Client:
    """A client signed in to the workbench as ``user`` (through the sign-in form)."""
    client = browser(live, lang)
    form = client.get("/web/login")
    answer = client.post("/web/login", data={"csrf": csrf_of(form),
                                             "token": live.tokens[user], "next": "/web/inbox"})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/web/inbox"
    return client


def start_case(live: LiveServer, customer: str, manager: str | None) -> str:
    """A retention case of ``customer`` assigned to ``manager`` (None: pool work)."""
    context = {"customer_id": customer, "trigger": "arpu_drop"}
    if manager:
        context["account_manager_id"] = manager
    response = live.client("AM001").post("/api/v1/instances", json={
        "process": "retention_case", "context": context})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def workdir(live: LiveServer) -> Path:
    """The workspace folder."""
    return Path(live.service.workspace.base_dir)


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    """A tiny real OIDC issuer on a free local port (tests/web/oidc_issuer.py)."""
    made = Issuer()
    yield made
    made.close()


@pytest.fixture(scope="module")
def oidc_web(tmp_path_factory: pytest.TempPathFactory, issuer: Issuer) -> Iterator[LiveServer]:
    """The service with the issuer and the workbench's client id in vip.yaml."""
    server = (f"server:\n  oidc:\n    issuer: {issuer.url}\n"
              f"    jwks_url: {issuer.url}/jwks\n    audience: vip-workflow\n"
              "    user_claim: preferred_username\n    roles_claim: groups\n"
              "    role_map: {/crm/key-account: account_manager}\n"
              f"    client_id: {CLIENT_ID}\n")
    live = start_server(write_workspace(tmp_path_factory.mktemp("oidc"), "sqlite:///vip.db",
                                        server))
    yield live
    live.stop()
# Debian's Chromium through Playwright, for the browser tests (test_browser.py and the static
# report's test_report_file.py): Playwright's own browser download is not available here.
CHROMIUM = Path(os.environ.get("VIP_WORKFLOW_CHROMIUM", "/usr/bin/chromium"))


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "playwright is not installed (pip install -e '.[dev]')"
    if missing is None and not CHROMIUM.exists():
        missing = f"no Chromium at {CHROMIUM} (apt-get install -y chromium fonts-noto-cjk)"
    if missing is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser tests cannot run under CI: {missing}")
        pytest.skip(missing)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``shots(page, name)`` saves a screenshot as a test artifact (and for the docs)."""
    folder = tmp_path_factory.mktemp("screenshots")
    docs = os.environ.get("WORKBENCH_SCREENSHOTS")

    def save(page: Any, name: str, *, full_page: bool = True) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        if docs:
            Path(docs).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(docs) / path.name)
        return path

    return save
