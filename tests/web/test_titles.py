"""Process, step and event names in the reader's language: the bundled definitions' titles
through the catalogs, a workspace's own translations for one-language definitions."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from tests.server.conftest import LiveServer
from tests.web.conftest import signed_in, start_case
from vip_workflow.adapters.server.web.i18n import translations
from vip_workflow.adapters.server.web.labels import BUNDLED_TITLES, EVENTS, Titles


def _library() -> list[dict[str, object]]:
    folder = resources.files("vip_workflow.processes.library")
    return [yaml.safe_load(p.read_text(encoding="utf-8")) for p in folder.iterdir()
            if p.name.endswith(".yaml")]


def test_every_bundled_title_and_event_has_a_chinese_label() -> None:
    """A title, an untitled step's label or an event added to the library without a label
    here fails (and the catalog check then asks for its translation)."""
    chinese = translations("zh_CN").gettext
    for definition in _library():
        states: list[dict[str, str]] = definition["states"]  # type: ignore[assignment]
        texts = [str(definition["title"])] + [
            s.get("title") or s["name"].replace("_", " ").capitalize() for s in states]
        for text in texts:
            assert text in BUNDLED_TITLES, (definition["name"], text)
            assert chinese(text) != text, text
        transitions: list[dict[str, str]] = definition["transitions"]  # type: ignore[assignment]
        for t in transitions:
            assert t["event"] in EVENTS, (definition["name"], t["event"])
            assert chinese(EVENTS[t["event"]]) != EVENTS[t["event"]]


def test_the_workspaces_own_translations_come_first() -> None:
    """A definition titled in Chinese only gets its English title from server.titles; an
    event named there gets its label; anything else falls back to the catalogs."""
    extra = {"挽留案例": {"en": "Retention"}, "propose_offer": {"en": "Make an offer"}}
    english = Titles(translations("en").gettext, "en", extra)
    chinese = Titles(translations("zh_CN").gettext, "zh_CN", extra)
    assert english.text("挽留案例") == "Retention" and chinese.text("挽留案例") == "挽留案例"
    assert english.event("propose_offer") == "Make an offer"
    assert chinese.event("propose_offer") == "提出挽留方案"
    assert english.event("call_back_later") == "call back later"
    assert chinese.action("approve") == "已批准" and english.action("approve") == "approved"
    assert english.text("") == ""


def test_the_setting_is_checked() -> None:
    from vip_workflow.adapters.server.settings import settings_from
    from vip_workflow.errors import ConfigError

    assert settings_from({"titles": {"挽留案例": {"en": "Retention"}}}).titles == {
        "挽留案例": {"en": "Retention"}}
    with pytest.raises(ConfigError, match=r"server\.titles\.挽留案例\.fr"):
        settings_from({"titles": {"挽留案例": {"fr": "Rétention"}}})


@pytest.mark.parametrize(("lang", "process", "step", "button"), [
    ("en", "Retention case", "Assess the churn risk", "Propose an offer"),
    ("zh_CN", "客户挽留", "评估流失风险", "提出挽留方案")])
def test_inbox_and_instance_show_titles_in_the_readers_language(
        web: LiveServer, lang: str, process: str, step: str, button: str) -> None:
    iid = start_case(web, "G0000002", "AM001")
    client = signed_in(web, "AM001", lang)
    inbox = client.get("/web/inbox").text
    assert f"<td>{process}</td>" in inbox and step in inbox
    page = client.get(f"/web/instances/{iid}").text
    assert f"<h1>{process}: {step}</h1>" in page
    assert f'data-event="propose_offer">{button}</button>' in page
    diagram = page.split('data-testid="diagram">')[1].split("</pre>")[0]
    assert step in diagram and button in diagram
    if lang == "zh_CN":
        assert "Retention" not in page.split("<main")[1]
        assert "已批准" in diagram and "approved" not in diagram  # the approval edge
