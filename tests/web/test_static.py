"""The vendored browser files are the ones the static README names, and the catalogs are
complete and compiled."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from tests.server.conftest import LiveServer
from tools.catalogs import problems
from vip_workflow.adapters.server.web import CHARTS_DIR, STATIC_DIR


@pytest.mark.parametrize(("folder", "files", "licences"), [
    (STATIC_DIR, {"htmx.min.js", "mermaid.min.js"}, ("htmx.LICENSE", "mermaid.LICENSE")),
    (CHARTS_DIR, {"echarts.min.js"}, ("echarts.LICENSE", "echarts.NOTICE")),
], ids=["workbench", "dashboard"])
def test_vendored_files_match_the_readme(folder: Path, files: set[str],
                                         licences: tuple[str, ...]) -> None:
    readme = (folder / "README.md").read_text(encoding="utf-8")
    sums = dict((name, digest) for digest, name in
                re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, flags=re.M))
    assert set(sums) == files
    for name, digest in sums.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
        assert f"`{name}`" in readme
    for licence in licences:
        assert (folder / "licenses" / licence).stat().st_size > 100


def test_catalogs_are_complete_and_compiled() -> None:
    """Every message is in both .po files of each catalog (the workbench's, the
    dashboard's), Chinese is translated, the .mo are current."""
    assert problems() == []


def test_static_files_are_served_without_a_session(web: LiveServer) -> None:
    client = web.client()
    for name in ("htmx.min.js", "mermaid.min.js", "app.js", "app.css"):
        answer = client.get(f"/web/static/{name}")
        assert answer.status_code == 200, name
        assert answer.content == (STATIC_DIR / name).read_bytes()
    for name in ("echarts.min.js", "dashboard.js"):
        answer = client.get(f"/web/static/charts/{name}")
        assert answer.status_code == 200, name
        assert answer.content == (CHARTS_DIR / name).read_bytes()


def test_pages_load_nothing_from_elsewhere(web: LiveServer) -> None:
    """No page names another host: scripts, styles and fonts come from the service."""
    from tests.web.conftest import signed_in

    client = signed_in(web, "AM001")
    for path in ("/web/inbox", "/web/periods/2026-09", "/web/customers/G0000002"):
        text = client.get(path).text
        assert not re.search(r'(src|href)="(https?:)?//', text), path
