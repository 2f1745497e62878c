"""A rule book of items — triggers, KPIs — as an Excel workbook, and back (the ``excel``
extra: openpyxl).

Two sheets: ``Book``, the header as ``key`` / ``value`` rows (``kind``, ``name``, ``title``,
``version``, ``effective`` …), and one row per item on ``Triggers`` or ``KPIs``, one column per
key of an item (``id``, ``family``, ``action``, ``when`` … or ``id``, ``measure``, ``compare``,
``target`` …). A cell holding a structure — a trigger's ``when``, a KPI's ``measure``,
``where``, ``targets`` or a ``between`` target — is written as in a rule file, in flow style:
``{count: revenue, months: 3, where: {op: ">=", value: 60000}, op: ">=", value: 3}``. An empty
cell is a key left out.

Reading builds the rule file's plain data and notes the cell of every key, so the book's own
validation locates every problem in the workbook: the "file" is ``WORKBOOK:SHEET``, line and
column are the sheet's row and column (``triggers.xlsx:Triggers:4:9: triggers[2]
(retain.spend).when.months: …``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import yaml

from vip_workflow._extras import require
from vip_workflow.errors import RuleFileError
from vip_workflow.rules.files.document import Document, describe
from vip_workflow.rules.files.reader import MAX_NODES, read_text

__all__ = ["ITEM_SHEETS", "MAX_WORKBOOK_BYTES", "WorkbookDocument", "read_item_workbook",
           "sheet_names", "write_item_workbook"]

#: the largest workbook read (an xlsx is zipped: ten times the largest rule file)
MAX_WORKBOOK_BYTES = 10 * 1_048_576
#: kind → (the items' sheet, the items' key in the rule file, the keys held as structures)
ITEM_SHEETS: dict[str, tuple[str, str, frozenset[str]]] = {
    "triggers": ("Triggers", "triggers", frozenset({"when"})),
    "kpis": ("KPIs", "kpis", frozenset({"measure", "where", "targets", "target"})),
}
PathKey = tuple[str | int, ...]
Cell = tuple[str, int, int]  # sheet, row, column (1-based)


def _flow(value: Any) -> str:
    return str(yaml.safe_dump(value, default_flow_style=True, allow_unicode=True,
                              width=10_000, sort_keys=False)).strip().removesuffix("...").strip()


def _cell_value(value: Any) -> Any:
    if isinstance(value, list | dict):
        return _flow(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "inf" if value > 0 else "-inf"
    return value


def write_item_workbook(data: Mapping[str, Any], kind: str, columns: Sequence[str],
                        path: str | Path) -> Path:
    """Write a trigger or KPI book's plain data (``book.to_dict()``) as a workbook: the header
    on ``Book``, one item a row on the items' sheet, in ``columns`` order (the item model's
    keys; only the columns some item uses)."""
    openpyxl = require("openpyxl", "rule books in Excel")
    from openpyxl.styles import Font

    title, key, _ = ITEM_SHEETS[kind]
    items = list(data.get(key) or [])
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    header = [["key", "value"], *([k, v] for k, v in data.items() if k != key)]
    used = [c for c in columns if any(c in item for item in items)]
    rows = [used, *([item.get(c) for c in used] for item in items)]
    for name, table in (("Book", header), (title, rows)):
        sheet = workbook.create_sheet(name)
        for values in table:
            sheet.append([_cell_value(v) for v in values])
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # text, never a formula ("=…")
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for index in range(1, len(table[0]) + 1):
            width = max(len(str(_cell_value(r[index - 1]) or "")) for r in table
                        if len(r) >= index)
            letter = sheet.cell(row=1, column=index).column_letter
            sheet.column_dimensions[letter].width = min(60, width + 2)
    target = Path(path)
    workbook.save(target)
    return target


class WorkbookDocument(Document):
    """A workbook read as a rule file: each located key also knows its sheet, and an error's
    "file" is ``WORKBOOK:SHEET`` (line and column are the sheet's row and column)."""

    def __init__(self, data: Any, cells: dict[PathKey, Cell], path: str) -> None:
        super().__init__(data, {key: (row, col) for key, (_, row, col) in cells.items()}, path)
        self.cells = cells

    def error(self, reason: str, where: Iterable[str | int] = ()) -> Any:
        where = tuple(where)
        key = where
        while key and key not in self.cells:
            key = key[:-1]
        sheet, row, column = self.cells.get(key, ("Book", 1, 1))
        return RuleFileError(reason, path=f"{self.path}:{sheet}", line=row, column=column,
                             field=describe(where, self.data))


def _open(path: Path) -> Any:
    """The workbook, read-only; a missing, oversized or broken file is a RuleFileError."""
    openpyxl = require("openpyxl", "rule books in Excel")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise RuleFileError("file not found", path=str(path)) from None
    if size > MAX_WORKBOOK_BYTES:
        raise RuleFileError(f"{size:,} bytes exceeds the {MAX_WORKBOOK_BYTES // 1_048_576} MiB "
                            "limit of a rule workbook", path=str(path))
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile, XML and openpyxl's own errors: all "not a workbook"
        raise RuleFileError(f"not an Excel workbook (.xlsx): {exc}", path=str(path)) from None


def sheet_names(path: str | Path) -> list[str]:
    """The sheets of a workbook, in order (to tell a decision table from an item book)."""
    workbook = _open(Path(path))
    try:
        return list(workbook.sheetnames)
    finally:
        workbook.close()


def _value(raw: Any, structured: bool, where: str, cell: Cell, field: str) -> Any:
    if isinstance(raw, datetime):
        return raw.date().isoformat() if raw.time() == datetime.min.time() else raw
    if isinstance(raw, date):
        return raw.isoformat()
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if not structured or not text.startswith(("[", "{")):
        return text
    try:
        return read_text(text, path=where).data
    except RuleFileError as exc:
        sheet, row, column = cell
        raise RuleFileError(f"{raw!r} is not a map or list ({exc.reason}); write it as in a "
                            "rule file, e.g. {field: revenue, op: \">=\", value: 18000}",
                            path=f"{where}:{sheet}", line=row, column=column,
                            field=field) from None


def _rows(sheet: Any) -> Iterable[tuple[int, tuple[Any, ...]]]:
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        if number > MAX_NODES:
            raise RuleFileError(f"more than {MAX_NODES:,} rows", path=f"{sheet.title}",
                                line=number, column=1)
        yield number, values


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_item_workbook(path: str | Path, kind: str, columns: Sequence[str]) -> WorkbookDocument:
    """A trigger or KPI workbook as the Document of its rule file (every value located at its
    cell); the book's loader (``from_document``) validates it."""
    name = str(path)
    title, key, structured = ITEM_SHEETS[kind]
    workbook = _open(Path(path))
    try:
        sheets = {sheet.title: sheet for sheet in workbook.worksheets}
        for other in sheets:
            if other not in ("Book", title):
                raise RuleFileError(f"unknown sheet {other!r}; a {kind} workbook has the sheets "
                                    f"Book, {title}", path=f"{name}:{other}", line=1, column=1)
        data: dict[str, Any] = {}
        cells: dict[PathKey, Cell] = {(): ("Book", 1, 1)}
        if "Book" in sheets:
            _read_book(sheets["Book"], name, data, cells)
        data.setdefault("kind", kind)
        items: list[dict[str, Any]] = []
        data[key] = items
        cells[(key,)] = (title, 1, 1)
        if title in sheets:
            _read_items(sheets[title], name, (key, title, structured), columns, items, cells)
    finally:
        workbook.close()
    return WorkbookDocument(data, cells, name)


def _read_book(sheet: Any, name: str, data: dict[str, Any],
               cells: dict[PathKey, Cell]) -> None:
    for number, values in _rows(sheet):
        if number == 1:
            continue
        cells_of_row = [*values, None, None]
        setting, raw = cells_of_row[0], cells_of_row[1]
        if _empty(setting):
            if not _empty(raw):
                raise RuleFileError("a value without a key: say in column A which setting "
                                    "this is (name, title, version …)", path=f"{name}:Book",
                                    line=number, column=2)
            continue
        setting = str(setting).strip()
        if setting in data:
            raise RuleFileError(f"{setting} is set twice", path=f"{name}:Book", line=number,
                                column=1, field=setting)
        if _empty(raw):
            continue
        cell = ("Book", number, 2)
        data[setting] = _value(raw, False, name, cell, setting)
        cells[(setting,)] = cell


def _read_items(sheet: Any, name: str, what: tuple[str, str, frozenset[str]],
                columns: Sequence[str], items: list[dict[str, Any]],
                cells: dict[PathKey, Cell]) -> None:
    key, title, structured = what
    titles: dict[int, str] = {}
    for number, values in _rows(sheet):
        if number == 1:
            for index, value in enumerate(values):
                if _empty(value):
                    continue
                column = str(value).strip()
                if column not in columns:
                    close = get_close_matches(column, list(columns), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    raise RuleFileError(f"unknown column {column!r}{hint} (columns: "
                                        f"{', '.join(columns)})", path=f"{name}:{title}",
                                        line=1, column=index + 1)
                if column in titles.values():
                    raise RuleFileError(f"the column {column!r} is given twice",
                                        path=f"{name}:{title}", line=1, column=index + 1)
                titles[index] = column
            continue
        row = {i: v for i, v in enumerate(values) if i in titles and not _empty(v)}
        if not row:
            continue
        at: PathKey = (key, len(items))
        cells[at] = (title, number, min(row) + 1)
        item: dict[str, Any] = {}
        for index, raw in row.items():
            column = titles[index]
            cell = (title, number, index + 1)
            item[column] = _value(raw, column in structured, name, cell, column)
            cells[(*at, column)] = cell
        items.append(item)
