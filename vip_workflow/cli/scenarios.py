"""``vip-workflow test``: run scenario files, print rule and boundary coverage, suggest cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

import vip_workflow as vw
from vip_workflow.cli.common import err, fail, out, print_problems
from vip_workflow.cli.io import located

if TYPE_CHECKING:
    from vip_workflow.rules.scenarios.coverage import Coverage
    from vip_workflow.rules.scenarios.run import SuiteResult

__all__ = ["load_rule_file", "test_command"]

#: how many never-hit items or missing bound checks are listed per file
SHOWN = 10


def load_rule_file(path: Path) -> Any:
    """A rule book, or a scenario file (``kind: scenarios``) with the book it tests."""
    from vip_workflow.rules.files.document import read_document
    from vip_workflow.rules.scenarios.model import from_document, is_scenario_file
    from vip_workflow.rules.scenarios.table import is_table, read_table

    if is_scenario_file(path) and is_table(path):
        return from_document(read_table(path, note=_note))
    document = read_document(path)
    data = document.data
    if isinstance(data, dict) and data.get("kind") == "scenarios":
        return from_document(document)
    return vw.load_rules(path)


def _note(text: str) -> None:
    err.print(text, markup=False, highlight=False)


def _files(paths: list[Path]) -> list[Path]:
    from vip_workflow.rules.scenarios.model import is_scenario_file

    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and is_scenario_file(p))
        else:
            found.append(path)
    return found


def _suites(paths: list[Path], preset: str | None, all_presets: bool) -> tuple[list[Any], bool]:
    """The scenario files to run, and whether any could not be loaded."""
    from vip_workflow.rules.scenarios import load_scenarios, preset_scenarios, shipped_presets

    suites: list[Any] = []
    failed = False
    names = shipped_presets() if all_presets else [preset] if preset else []
    for name in names:
        try:
            suites.append(preset_scenarios(name))
        except vw.UnknownPresetError as exc:
            fail(f"{exc} (presets with scenarios: {', '.join(exc.known)})", 2)
        except vw.RuleFileError as exc:
            print_problems(exc)
            failed = True
    for path in _files(paths):
        try:
            suites.append(load_scenarios(path, note=_note))
        except vw.RuleFileError as exc:
            print_problems(exc)
            failed = True
    return suites, failed


def _coverage(result: SuiteResult) -> Coverage:
    if result.coverage is None:  # run_suite measures it unless told not to
        raise AssertionError("no coverage measured")
    return result.coverage


def _print_failures(result: Any) -> None:
    for case in result.failed:
        out.print(case.message(), markup=False, highlight=False)


def _print_gaps(coverage: Any) -> None:
    gaps = [f"never hit: {i.kind} {i.id} ({i.label})" for i in coverage.never_hit]
    gaps += [f"bound {b.target} {b.value:g}: no case {check} it" for b in coverage.bounds
             for check in (("just " + c if c != "at" else c) for c in b.missing)]
    for line in gaps[:SHOWN]:
        out.print(f"  {coverage.name}: {line}", markup=False, highlight=False)
    if len(gaps) > SHOWN:
        out.print(f"  {coverage.name}: … and {len(gaps) - SHOWN} more (--coverage-json FILE "
                  "lists them all)", markup=False, highlight=False)


def _table(results: list[Any]) -> Table:
    table = Table("scenarios", "book", "cases", "failed", "rules", "boundaries",
                  title="scenario coverage")
    for result in results:
        cov = result.coverage
        table.add_row(result.suite.name, f"{cov.book} ({cov.kind})", str(len(result.results)),
                      str(len(result.failed)), f"{cov.rules_percent:.1f} %",
                      f"{cov.boundary_percent:.1f} %" if cov.bounds else "-")
    return table


def test_command(
    paths: Annotated[list[Path] | None, typer.Argument(
        metavar="[PATH]...", show_default=False,
        help="Scenario files (NAME.scenarios.yaml) or folders holding them.")] = None,
    preset: Annotated[str | None, typer.Option(
        "--preset", "-p", help="Run the scenarios shipped with a bundled preset.")] = None,
    all_presets: Annotated[bool, typer.Option(
        "--all-presets", help="Run the scenarios of every bundled preset.")] = False,
    coverage_json: Annotated[Path | None, typer.Option(
        "--coverage-json", help="Write the rule and boundary coverage as JSON here.")] = None,
    fail_under: Annotated[float | None, typer.Option(
        "--fail-under", metavar="PERCENT",
        help="Exit 1 when a file's rule or boundary coverage is below PERCENT.")] = None,
    suggest: Annotated[bool, typer.Option(
        "--suggest", help="Print the missing boundary cases, with what the current rule "
        "file gives them: as YAML, or as CSV rows for a scenario table.")] = False,
) -> None:
    """Run scenario files against their rule books; print rule and boundary coverage."""
    from vip_workflow.rules.scenarios import run_suite
    from vip_workflow.rules.scenarios.suggest import suggestions_table, suggestions_yaml
    from vip_workflow.rules.scenarios.table import is_table

    suites, failed = _suites(list(paths or []), preset, all_presets)
    if not suites and not failed:
        fail("name scenario files or folders, --preset NAME or --all-presets", 2)
    results = []
    for suite in suites:
        try:
            results.append(run_suite(suite))
        except vw.VipWorkflowError as exc:  # data the book cannot read, e.g. a text in a sum
            text = str(exc)
            err.print(text if text.startswith(suite.path) else located(suite.path, text),
                      markup=False, highlight=False)
            failed = True
    coverages = [_coverage(r) for r in results]
    for result in results:
        _print_failures(result)
        failed = failed or not result.ok
    if results:
        out.print(_table(results))
    for result in results:
        _print_gaps(result.coverage)
    total = sum(len(r.results) for r in results)
    bad = sum(len(r.failed) for r in results)
    out.print(f"{total - bad} of {total} case(s) passed in {len(results)} file(s)",
              highlight=False)
    if suggest:
        for result in results:
            table = is_table(result.suite.path.rpartition(".xlsx:")[0] + ".xlsx"
                             if ".xlsx:" in result.suite.path else result.suite.path)
            text = suggestions_table(result) if table else suggestions_yaml(result)
            if text:
                typer.echo(text)
    if coverage_json is not None:
        data = {"files": [{"path": r.suite.path, "cases": len(r.results),
                           "failed": len(r.failed), **c.to_dict()}
                          for r, c in zip(results, coverages, strict=True)]}
        coverage_json.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                                 encoding="utf-8")
    if fail_under is not None:
        for r, c in zip(results, coverages, strict=True):
            low = min(c.rules_percent, c.boundary_percent)
            if low < fail_under:
                err.print(located(r.suite.path, f"coverage {low:.1f} % is under "
                                  f"--fail-under {fail_under:g} %"), markup=False,
                          highlight=False)
                failed = True
    raise typer.Exit(1 if failed else 0)
