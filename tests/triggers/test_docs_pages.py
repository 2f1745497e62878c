"""docs/triggers.md and docs/kpis.md tell the truth: examples load, lint clean and run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import vip_workflow as vw
import vip_workflow.rules.tiers.book as rules_book

DOCS = Path(__file__).resolve().parents[2] / "docs"


def blocks(page: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", (DOCS / page).read_text("utf-8"), re.S)


@pytest.mark.parametrize("text", [b for b in blocks("triggers.md", "yaml")
                                  if "kind: triggers" in b] + blocks("kpis.md", "yaml"),
                         ids=lambda t: yaml.safe_load(t)["name"])
def test_every_rule_file_example_loads_and_lints_clean(text: str) -> None:
    """Each YAML example is a valid file without lint errors or warnings."""
    book = rules_book.loads_rules(text, name="example.yaml")
    assert book.lint().findings == []


def test_the_preset_table_lists_every_trigger_of_the_preset() -> None:
    """The documented table and the shipped file name the same 20 triggers."""
    text = (DOCS / "triggers.md").read_text("utf-8")
    section = text.split("## The `seed-001-triggers` preset")[1].split("\n## ")[0]
    documented = re.findall(r"^\| `([a-z_.0-9]+)` \|", section, re.M)
    assert documented == list(vw.preset("seed-001-triggers").ids)


def test_the_kpi_preset_table_lists_every_kpi() -> None:
    """Same for the KPI preset."""
    text = (DOCS / "kpis.md").read_text("utf-8")
    section = text.split("## The `china-mobile-2006-kpis` preset")[1].split("\n## ")[0]
    documented = re.findall(r"^\| `([a-z_.0-9]+)` \|", section, re.M)
    assert documented == [k.id for k in vw.preset("china-mobile-2006-kpis").kpis]


def test_the_python_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    """The triggers page's snippets run in order; then the KPI page's first one."""
    namespace: dict = {}
    for number, code in enumerate(blocks("triggers.md", "python")):
        if "monthly_events" in code:
            namespace["monthly_events"] = namespace["history"].head(30).iter_rows(named=True)
        exec(compile(code, f"docs/triggers.md#{number}", "exec"), namespace)
    assert namespace["report"].created
    exec(compile(blocks("kpis.md", "python")[0], "docs/kpis.md", "exec"), {})
    assert "customer_id" in capsys.readouterr().out
