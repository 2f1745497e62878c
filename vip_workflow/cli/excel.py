"""``vip-workflow export`` and ``vip-workflow import``: a tier book as an Excel decision
table and back (see :mod:`vip_workflow.rules.tiers.excel`).

Plain functions with typer annotations, registered on the main app by ``main.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import vip_workflow as vw
from vip_workflow.cli.common import fail, kind_of, load_book, out, print_problems

__all__ = ["export_command", "import_command"]


def export_command(
    rules: Annotated[Path | None, typer.Argument(
        metavar="RULES", help="The tier rule file (YAML or JSON).", show_default=False)] = None,
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="The workbook to write (.xlsx).")] = Path("tiers.xlsx"),
    preset: Annotated[str | None, typer.Option(
        "--preset", "-p", help="Export a bundled tier book instead.")] = None,
) -> None:
    """Write a tier book as an Excel decision table an analyst can read and edit."""
    from vip_workflow.rules.tiers.excel import write_decision_table

    if output.suffix.lower() != ".xlsx":
        fail(f"{output}: a decision table is written as .xlsx", 2)
    book = load_book(rules, preset)
    if kind_of(book) != "tiers":
        fail(f"{rules or preset} is a {kind_of(book)} book; export writes tier books", 2)
    try:
        write_decision_table(book, output)
    except vw.MissingExtraError as exc:
        fail(str(exc), 2)
    except OSError as exc:
        fail(f"{output}: cannot write: {exc.strerror or exc}")
    out.print(f"wrote {output}: {book.name} v{book.version}", markup=False, highlight=False)


def import_command(
    workbook: Annotated[Path, typer.Argument(
        metavar="FILE.xlsx", help="The decision table (as written by export).")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="The rule file to write (.yaml, or .json); without it the "
        "YAML is printed.")] = None,
) -> None:
    """Read a tier book from an Excel decision table, check it as a rule file is checked,
    and write it as YAML; every problem is WORKBOOK:SHEET:row:column: field: reason."""
    from vip_workflow.rules.tiers.excel import read_decision_table

    if output is not None and output.suffix.lower() not in (".yaml", ".yml", ".json"):
        fail(f"{output}: a rule file is written as .yaml or .json", 2)
    try:
        book = read_decision_table(workbook)
    except vw.MissingExtraError as exc:
        fail(str(exc), 2)
    except vw.RuleFileError as exc:
        print_problems(exc)
        raise typer.Exit(1) from None
    if output is None:
        typer.echo(book.to_yaml(), nl=False)
        return
    try:
        book.save(output)
    except OSError as exc:
        fail(f"{output}: cannot write: {exc.strerror or exc}")
    out.print(f"wrote {output}: {book.name} v{book.version}", markup=False, highlight=False)
