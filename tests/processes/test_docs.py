"""The process docs: one page per bundled process, generated and current; links resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import vip_workflow as vw
from vip_workflow.processes.docs import render_map_page, render_process_page
from vip_workflow.processes.loader import bundled_definitions

DOCS = Path(__file__).resolve().parents[2] / "docs" / "processes"
NAMES = [d.name for d in bundled_definitions()]


@pytest.mark.parametrize("name", NAMES)
def test_each_bundled_process_has_a_current_page_with_its_diagram(name):
    """docs/processes/NAME.md equals what the code generates, and holds a mermaid block."""
    definition = vw.ProcessEngine().definition(name)
    page = (DOCS / f"{name}.md").read_text(encoding="utf-8")
    assert page == render_process_page(definition, known=NAMES), (
        "regenerate with: python -m vip_workflow.processes.docs docs/processes")
    assert f"```mermaid\n{definition.to_mermaid()}```" in page


def test_the_process_map_page_is_current():
    """docs/processes/map.md is generated from the bundled definitions."""
    assert (DOCS / "map.md").read_text(encoding="utf-8") == render_map_page(
        bundled_definitions())


def test_every_relative_link_in_the_process_docs_resolves():
    """mkdocs --strict needs every relative link to exist."""
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" not in target:
                assert (page.parent / target).exists(), f"{page.name} → {target}"


def test_the_guide_quick_start_runs():
    """The first Python example of docs/processes/index.md runs as written."""
    text = (DOCS / "index.md").read_text(encoding="utf-8")
    code = re.findall(r"```python\n(.*?)```", text, re.S)[0]
    namespace: dict = {}
    exec(compile(code, "docs/processes/index.md", "exec"), namespace)
    inst = namespace["engine"].get(namespace["inst"].id)
    assert inst.state == "contract_signing"
    assert inst.verify_ledger()


def test_the_guide_yaml_example_is_a_valid_definition():
    """The YAML example of the guide loads and runs through its gate."""
    text = (DOCS / "index.md").read_text(encoding="utf-8")
    example = next(b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "states:" in b)
    definition = vw.load_definition("guide.yaml", text=example)
    engine = vw.ProcessEngine(definitions=[definition], bundled=False)
    am = vw.Actor("a", roles={"account_manager"})
    inst = engine.start("sales", {"customer_id": "c", "contract_value": 600_000}, actor=am)
    inst = engine.fire(inst.id, "submit", actor=am)
    assert inst.gate.levels == ("business", "vp")


def test_the_process_file_reference_is_current():
    """docs/processes/reference.md equals what the JSON Schema renders."""
    from vip_workflow.processes.docs import render_reference_page

    assert (DOCS / "reference.md").read_text(encoding="utf-8") == render_reference_page()


def test_the_assignee_example_runs():
    """The guide's assignee example loads; its steps and level are held as it says."""
    text = (DOCS / "index.md").read_text(encoding="utf-8")
    example = next(b for b in re.findall(r"```yaml\n(.*?)```", text, re.S)
                   if "name: claim_review" in b)
    engine = vw.ProcessEngine(definitions=[vw.load_definition("c.yaml", text=example)],
                              bundled=False)
    am = vw.Actor("AM018", roles={"account_manager"})
    inst = engine.start("claim_review", {"customer_id": "c", "account_manager_id": "AM018",
                                         "reviewer": "bm7"}, actor=am)
    assert inst.work == {"user:AM018"}
    inst = engine.fire(inst.id, "submit", actor=am)
    assert inst.work == {"user:bm7"}
    inst = engine.approve(inst.id, actor=vw.Actor("bm7", roles={"business_manager"}))
    assert inst.work == {"role:customer_service_centre"}
