"""What every command shares: the consoles, the ``--rules``/``--preset``/``--encoding``
options, loading a book, reading and writing data files, and printing problems in the one
located format (see :func:`vip_workflow.cli.io.located`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import polars as pl
import typer
from rich.console import Console

import vip_workflow as vw
from vip_workflow.cli.io import InputFileError, check_writable, located, read_table, write_table

__all__ = ["EncodingOption", "PresetOption", "RulesOption", "deprecated", "err", "fail",
           "kind_of", "load_book", "out", "print_problems", "read", "refuse_output", "write"]

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

RulesOption = Annotated[
    Path | None, typer.Option("--rules", "-r", help="Rule file (YAML or JSON).")
]
PresetOption = Annotated[
    str | None, typer.Option("--preset", "-p", help="Name of a bundled rule book.")
]
EncodingOption = Annotated[str, typer.Option(
    "--encoding", help="Encoding of text inputs (CSV, JSON), e.g. gb18030 for a Chinese Excel "
    "export.")]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error that has no location on stderr and exit with ``code``."""
    err.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


def deprecated(old: str, new: str) -> None:
    """Say on stderr that a spelling goes away in the next release."""
    err.print(f"warning: {old} is deprecated and will be removed in 0.3; write {new}",
              markup=False, highlight=False)


def print_problems(exc: vw.RuleFileError | vw.ProcessDefinitionError) -> None:
    """Every problem of a rule file or process definition, one located line each, on stderr."""
    for problem in exc.problems:
        err.print(located(problem.path or "<rules>", problem.reason, line=problem.line,
                          column=problem.column, field=problem.field),
                  markup=False, highlight=False)


def kind_of(book: Any) -> str:
    """``tiers``, ``triggers``, ``kpis`` (or whatever kind a book says it is)."""
    if isinstance(book, vw.RuleBook):
        return "tiers"
    return str(getattr(getattr(book, "rules", None), "kind", type(book).__name__))


def load_book(rules: Path | None, preset: str | None, *, kind: str | None = None,
              default: str | None = None) -> Any:
    """The book named by ``--rules FILE`` or ``--preset NAME`` (or the ``default`` preset);
    exit 1 on a broken file, 2 on a wrong request or a book of another ``kind``."""
    if rules is not None and preset is not None:
        fail("give one of --rules FILE or --preset NAME, not both", 2)
    preset = preset if rules is not None or preset is not None else default
    if rules is None and preset is None:
        fail("give --rules FILE or --preset NAME", 2)
    try:
        book = vw.load_rules(rules) if rules is not None else vw.preset(str(preset))
    except vw.RuleFileError as exc:
        print_problems(exc)
        raise typer.Exit(1) from None
    except vw.UnknownPresetError as exc:
        fail(str(exc), 2)
    if kind is not None and kind_of(book) != kind:
        source = f"preset {preset}" if rules is None else str(rules)
        wanted = {"tiers": "a tier rule book", "triggers": "a trigger book",
                  "kpis": "a KPI book"}.get(kind, f"of kind {kind}")
        others = ", ".join(vw.presets(kind=kind))
        fail(f"{source} is not {wanted} (kind: {kind_of(book)}); presets of kind {kind}: "
             f"{others}", 2)
    return book


def read(path: Path, encoding: str = "utf-8") -> pl.DataFrame:
    """``read_table``, exiting with the located problem instead of raising."""
    try:
        return read_table(path, encoding=encoding)
    except InputFileError as exc:
        err.print(exc.text, markup=False, highlight=False)
        raise typer.Exit(exc.exit_code) from None


def refuse_output(path: Path | None) -> None:
    """Exit 2 at once for an output format that cannot be written."""
    if path is None:
        return
    try:
        check_writable(path)
    except InputFileError as exc:
        err.print(exc.text, markup=False, highlight=False)
        raise typer.Exit(exc.exit_code) from None


def write(frame: pl.DataFrame, path: Path, *, quiet: bool = False) -> None:
    """``write_table``, exiting with the problem instead of raising; says what it wrote
    unless ``quiet``."""
    try:
        write_table(frame, path)
    except InputFileError as exc:
        err.print(exc.text, markup=False, highlight=False)
        raise typer.Exit(exc.exit_code) from None
    if not quiet:
        out.print(f"wrote {path}", markup=False, highlight=False)
