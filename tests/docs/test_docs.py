"""The docs tell the truth: their examples load, lint and run, and the API page is current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import vip_workflow as vw
from vip_workflow import errors

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


def test_the_api_page_documents_every_public_name() -> None:
    """docs/api.md has a mkdocstrings entry for every name in __all__ (and the moved ones)."""
    page = (DOCS / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: [\w.]*?\.(\w+)$", page, re.M))
    documented |= {m for block in re.findall(r"members: \[(.*?)\]", page)
                   for m in re.split(r",\s*", block)}
    documented |= set(errors.__all__) if "::: vip_workflow.errors" in page else set()
    public = {n for n in vw.__all__ if n != "__version__"}
    moved = {attribute for _, attribute in vw._MOVED.values()}
    assert public - documented == set()
    assert moved - documented == set()


@pytest.mark.parametrize("kind", ["tiers", "triggers", "kpis"])
def test_every_file_reference_is_current(kind: str) -> None:
    """Each generated file-reference page equals what its JSON Schema renders (regenerate with
    python -m tools.schemadoc --write docs)."""
    from tools import schemadoc as _schemadoc

    page = _schemadoc.PAGES[kind].page
    assert (DOCS / page).read_text(encoding="utf-8") == _schemadoc.render(kind), (
        f"docs/{page} is stale: python -m tools.schemadoc --write docs")


@pytest.mark.parametrize("kind", ["tiers", "triggers", "kpis"])
def test_every_file_reference_covers_its_whole_schema(kind: str) -> None:
    """Every model of the schema has a section and every key a row; links resolve."""
    from tools import schemadoc as _schemadoc

    page = _schemadoc.PAGES[kind]
    schema = page.load()
    text = _schemadoc.render(kind)
    sections = set(re.findall(r"^## (\w+)$", text, re.M))
    assert sections == {page.root, *schema.get("$defs", {})}
    for name, model in {page.root: schema, **schema.get("$defs", {})}.items():
        body = text.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]
        for key in model.get("properties", {}):
            assert f"| `{key}` |" in body, f"{name}.{key} has no row"
    assert set(re.findall(r"\]\(#(\w+)\)", text)) <= {s.lower() for s in sections}


def test_the_schema_notes_name_real_keys() -> None:
    """A note for a key the schema does not have would never show (a renamed key)."""
    from tools import schemadoc as _schemadoc

    for page in _schemadoc.PAGES.values():
        schema = page.load()
        models = {page.root: schema, **schema.get("$defs", {})}
        for note in page.notes:
            name, key = note.split(".", 1)
            assert key in models.get(name, {}).get("properties", {}), note


def test_the_schemadoc_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No argument prints the tier page; a kind prints its page; --write writes all three."""
    from tools import schemadoc as _schemadoc

    assert _schemadoc.main([]) == 0
    assert capsys.readouterr().out == _schemadoc.render()
    assert _schemadoc.main(["kpis"]) == 0
    assert capsys.readouterr().out == _schemadoc.render("kpis")
    assert _schemadoc.main(["--write", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.page for p in _schemadoc.PAGES.values())
    assert _schemadoc.main(["rules"]) == 2
    with pytest.raises(ValueError, match="no kind"):
        _schemadoc.render("rules")


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
