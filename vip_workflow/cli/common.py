"""What every command shares: the consoles, the ``--rules``/``--preset``/``--encoding``
options, loading a book, reading and writing data files, and printing problems in the one
located format (see :func:`vip_workflow.cli.io.located`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import polars as pl
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

import vip_workflow as vw
from vip_workflow.cli.io import (
    InputFileError,
    check_writable,
    located,
    not_a_number,
    read_table,
    write_table,
)

__all__ = ["PROGRESS_ROWS", "EncodingOption", "PresetOption", "RulesOption", "SheetOption",
           "check_numbers", "deprecated", "err", "fail", "kind_of", "load_book", "more", "out",
           "print_problems", "read", "refuse_output", "working", "write"]

#: inputs longer than this get a progress bar on stderr
PROGRESS_ROWS = 5_000

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

RulesOption = Annotated[
    Path | None, typer.Option("--rules", "-r", help="Rule file (YAML or JSON).")
]
PresetOption = Annotated[
    str | None, typer.Option("--preset", "-p", help="Name of a bundled rule book.")
]
SheetOption = Annotated[str | None, typer.Option(
    "--sheet", help="The sheet of an Excel data file to read: its name, or its number from 1 "
    "(default: the first sheet).", show_default=False)]
EncodingOption = Annotated[str, typer.Option(
    "--encoding", help="Encoding of text inputs (CSV, TSV, JSON): auto (the default) reads "
    "UTF-8 with or without a byte-order mark, UTF-16 with one, and GBK/GB18030 (a Chinese "
    "Excel export), saying which; or name one, e.g. utf-8 or gb18030.")]


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


def _note(text: str) -> None:
    err.print(f"note: {text}", markup=False, highlight=False)


def read(path: Path, encoding: str = "auto", *, quiet: bool = False,
         sheet: str | None = None) -> pl.DataFrame:
    """``read_table``, exiting with the located problem instead of raising; what was guessed
    (an encoding) is a note on stderr. A missing extra (Excel) exits 2 naming it."""
    try:
        with working(f"reading {path.name}", PROGRESS_ROWS + 1 if _big(path) else 0,
                     quiet=quiet):
            return read_table(path, encoding=encoding, note=_note, sheet=sheet)
    except InputFileError as exc:
        err.print(exc.text, markup=False, highlight=False)
        raise typer.Exit(exc.exit_code) from None
    except vw.MissingExtraError as exc:
        fail(str(exc), 2)


def _big(path: Path) -> bool:
    """A file of more than a few thousand rows, guessed from its size (about 50 bytes a row)."""
    try:
        return path.stat().st_size > 50 * PROGRESS_ROWS
    except OSError:
        return False


def _numeric(match: dict[str, Any]) -> bool:
    """A band or condition that compares numbers (bounds, or a list of numbers)."""
    if any(key in match for key in ("min", "max", "range")):
        return True
    values = match.get("in") or []
    return any(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def number_fields(book: vw.RuleBook) -> set[str]:
    """The fields a tier book compares as numbers, read from its rule file."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        field = node.get("field")
        if isinstance(field, str) and "aggregate" not in node and (
                _numeric(node) or any(_numeric(b) for b in node.get("bands", []))
                or ("weight" in node and "map" not in node)):
            found.add(field)
        if node.get("type") == "quota" and isinstance(node.get("by"), str):
            found.add(node["by"])
        for value in node.values():
            walk(value)

    walk(book.to_dict())
    return found


def check_numbers(book: vw.RuleBook, frame: pl.DataFrame, path: Path) -> None:
    """Exit 1 naming the column, data row and value when a field the rules compare as a
    number holds text (a column read as text: "12,000", or "N/A" in most rows)."""
    numbers = number_fields(book)
    for index, name in enumerate(frame.columns):
        if name not in numbers or frame.schema[name] != pl.String:
            continue
        text = frame.get_column(name).str.strip_chars()
        bad = text.is_not_null() & (text != "") & text.cast(pl.Float64, strict=False).is_null()
        if not bad.any():
            continue
        exc = not_a_number(path, path.suffix.lower(), name, index, int(bad.arg_true()[0]),
                           text.filter(bad)[0], f"the rules compare {name} as a number",
                           int(bad.sum()))
        err.print(exc.text, markup=False, highlight=False)
        raise typer.Exit(1)


@contextmanager
def working(label: str, rows: int, *, quiet: bool = False) -> Iterator[None]:
    """An elapsed-time bar on stderr while a step over ``rows`` rows runs, when they are more
    than :data:`PROGRESS_ROWS` and stderr is a terminal (a step that counts its own progress
    uses ``rich`` itself)."""
    if quiet or rows <= PROGRESS_ROWS or not err.is_terminal:
        yield
        return
    with Progress(TextColumn(label), BarColumn(), TimeElapsedColumn(), console=err,
                  transient=True) as progress:
        progress.add_task(label, total=None)
        yield


def more(shown: int, total: int, what: str, option: str | None = None) -> str | None:
    """"… 12 more changed customers (--show N lists more)" for a list cut at ``shown`` of
    ``total``; None when nothing was left out."""
    if total <= shown:
        return None
    hint = f" ({option} lists more)" if option else ""
    return f"… {total - shown:,} more {what}{hint}"


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
