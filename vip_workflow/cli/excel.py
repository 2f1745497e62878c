"""``vip-workflow export`` and ``vip-workflow import``: a tier book as an Excel decision
table and back (see :mod:`vip_workflow.rules.tiers.excel`), a trigger or KPI book as a
workbook of one item a row and back (see :mod:`vip_workflow.rules.files.workbook`).

Plain functions with typer annotations, registered on the main app by ``main.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

import vip_workflow as vw
from vip_workflow.cli.common import fail, kind_of, load_book, out, print_problems

__all__ = ["export_command", "import_command", "read_rule_workbook", "write_rule_workbook"]


def _columns(kind: str) -> list[str]:
    if kind == "triggers":
        from vip_workflow.rules.triggers.schema import Trigger

        return list(Trigger.model_fields)
    from vip_workflow.rules.kpis.book import Kpi

    return list(Kpi.model_fields)


def write_rule_workbook(book: Any, path: Path) -> Path:
    """A tier book as a decision table, a trigger or KPI book as a workbook of items."""
    kind = kind_of(book)
    if kind == "tiers":
        from vip_workflow.rules.tiers.excel import write_decision_table

        return write_decision_table(book, path)
    from vip_workflow.rules.files.workbook import write_item_workbook

    return write_item_workbook(book.to_dict(), kind, _columns(kind), path)


def read_rule_workbook(path: Path) -> Any:
    """The book in a workbook written by ``export``: a trigger book (sheet ``Triggers``), a
    KPI book (``KPIs``) or a tier book (a decision table); every problem is a located
    ``RuleFileError`` (``WORKBOOK:SHEET:row:column``)."""
    from vip_workflow.rules.files.workbook import ITEM_SHEETS, read_item_workbook, sheet_names

    sheets = sheet_names(path)
    for kind, (title, _, _) in ITEM_SHEETS.items():
        if title in sheets:
            document = read_item_workbook(path, kind, _columns(kind))
            if kind == "triggers":
                from vip_workflow.rules.triggers import from_document as triggers_from

                return triggers_from(document)
            from vip_workflow.rules.kpis.book import from_document as kpis_from

            return kpis_from(document)
    from vip_workflow.rules.tiers.excel import read_decision_table

    return read_decision_table(path)


def export_command(
    rules: Annotated[Path | None, typer.Argument(
        metavar="RULES", help="The rule file (YAML or JSON): tiers, triggers or KPIs.",
        show_default=False)] = None,
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="The workbook to write (.xlsx).")] = Path("tiers.xlsx"),
    preset: Annotated[str | None, typer.Option(
        "--preset", "-p", help="Export a bundled book instead.")] = None,
) -> None:
    """Write a rule book as an Excel workbook an analyst can read and edit: a tier book as a
    decision table, a trigger or KPI book one trigger or KPI a row."""
    if output.suffix.lower() != ".xlsx":
        fail(f"{output}: a rule book is written as .xlsx", 2)
    book = load_book(rules, preset)
    try:
        write_rule_workbook(book, output)
    except vw.MissingExtraError as exc:
        fail(str(exc), 2)
    except OSError as exc:
        fail(f"{output}: cannot write: {exc.strerror or exc}")
    out.print(f"wrote {output}: {book.name} v{book.version}", markup=False, highlight=False)


def import_command(
    workbook: Annotated[Path, typer.Argument(
        metavar="FILE.xlsx", help="The workbook (as written by export).")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="The rule file to write (.yaml, or .json); without it the "
        "YAML is printed.")] = None,
) -> None:
    """Read a rule book from an Excel workbook (a tier decision table, or a trigger or KPI
    book), check it as a rule file is checked, and write it as YAML; every problem is
    WORKBOOK:SHEET:row:column: field: reason."""
    if output is not None and output.suffix.lower() not in (".yaml", ".yml", ".json"):
        fail(f"{output}: a rule file is written as .yaml or .json", 2)
    try:
        book = read_rule_workbook(workbook)
    except vw.MissingExtraError as exc:
        fail(str(exc), 2)
    except vw.RuleFileError as exc:
        print_problems(exc)
        raise typer.Exit(1) from None
    if output is None:
        from vip_workflow.rules.files.document import dump_yaml

        text = book.to_yaml() if hasattr(book, "to_yaml") else dump_yaml(book.to_dict())
        typer.echo(text, nl=False)
        return
    try:
        book.save(output)
    except OSError as exc:
        fail(f"{output}: cannot write: {exc.strerror or exc}")
    out.print(f"wrote {output}: {book.name} v{book.version}", markup=False, highlight=False)
