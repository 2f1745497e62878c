"""The docs tell the truth: their examples load, lint and run, and the API page is current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import vip_workflow as vw
from vip_workflow import _apidoc

DOCS = Path(__file__).resolve().parents[2] / "docs"
README = DOCS.parent / "README.md"


def _blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


RULE_EXAMPLES = [b for b in _blocks(DOCS / "rules.md", "yaml") if "scheme:" in b]


@pytest.mark.parametrize("text", RULE_EXAMPLES, ids=lambda t: yaml.safe_load(t)["name"])
def test_every_rule_file_example_loads_and_lints_without_errors(text: str) -> None:
    """Each YAML example in docs/rules.md is a valid rule file with no lint errors."""
    report = vw.loads_rules(text, name="example.yaml").lint()
    assert report.ok, str(report)


def test_the_rules_page_has_an_example_of_every_scheme() -> None:
    """chain, scoring, weighted, quota and eligibility each have an example."""
    kinds = {yaml.safe_load(t)["scheme"]["type"] for t in RULE_EXAMPLES}
    assert kinds == {"chain", "scoring", "weighted", "quota", "eligibility"}


def test_the_api_page_is_current() -> None:
    """docs/api.md equals what the code renders (regenerate with python -m vip_workflow._apidoc)."""
    assert (DOCS / "api.md").read_text(encoding="utf-8") == _apidoc.render()


def test_the_rule_file_reference_is_current() -> None:
    """docs/rule-file-reference.md equals what the JSON Schema renders."""
    from vip_workflow import _schemadoc

    assert (DOCS / "rule-file-reference.md").read_text(encoding="utf-8") == _schemadoc.render()


def test_the_getting_started_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """The Python example on the docs' front page runs as written."""
    code = _blocks(DOCS / "index.md", "python")[0]
    exec(compile(code, "docs/index.md", "exec"), {})
    assert "tier A (rule headcount.2)" in capsys.readouterr().out


def test_the_readme_starts_with_the_two_commands() -> None:
    """README's first commands are make demo and make test."""
    text = README.read_text(encoding="utf-8")
    first_block = re.search(r"```(?:bash)?\n(.*?)```", text, re.S).group(1)
    assert [line.split()[0:2] for line in first_block.splitlines() if line.strip()][:2] == [
        ["make", "demo"], ["make", "test"]]
