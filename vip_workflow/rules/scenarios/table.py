"""Scenario cases as a table: ``NAME.scenarios.csv`` or ``NAME.scenarios.xlsx`` beside
``NAME.yaml``, for analysts who keep their cases in Excel.

One column names the case (``case``); the columns whose title starts with ``expect`` say what
it expects; ``note`` is free text; every other column is a field of the data. What the
expectation columns are says which kind of book the table tests:

- ``expect tier`` (and optionally ``expect rule``): a tier book, one case a row, the other
  cells the customer's fields;
- ``expect signals``: a trigger book, one row a month of a case's history (``period``
  YYYY-MM), the trigger ids expected that month in ``expect signals`` (comma-separated; empty:
  none);
- ``expect ID`` for a KPI id: a KPI book, the rows of a case its small portfolio, the outcome
  (``pass``, ``fail``, ``n/a``, or ``{GROUP: pass, …}``) on one of its rows.

An empty ``case`` cell carries the case above down (the next month, the next portfolio row).
A cell is read as a rule file reads a value: a number, ``true`` / ``false``, ``null``, a list
``[600, 600, 600]`` or a map; anything else is text. An empty cell is a field left out.

The table becomes the same plain data as a ``kind: scenarios`` YAML file, each value located
at its cell, and is checked by the same code, so every problem is the one located error:
``cards.scenarios.csv:4:3: cases[2].expect.tier: unknown tier 'silvr' …`` (the line of the CSV
file, the column's number) or ``cards.scenarios.xlsx:Sheet1:4:3: …`` (the sheet, its row and
column). CSV text is UTF-8 (a byte-order mark is skipped), UTF-16 with its mark, or GBK /
GB18030, the usual Chinese Excel export.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from vip_workflow._extras import require
from vip_workflow._text import sniff_decode
from vip_workflow.errors import RuleFileError
from vip_workflow.rules.files.document import Document
from vip_workflow.rules.files.reader import read_text

__all__ = ["MAX_TABLE_BYTES", "MAX_TABLE_ROWS", "TABLE_SUFFIXES", "is_table", "read_table"]

TABLE_SUFFIXES = (".scenarios.csv", ".scenarios.xlsx")
#: the largest table read (an .xlsx is zipped, a CSV is not)
MAX_TABLE_BYTES = 10 * 1_048_576
#: the most data rows of a table
MAX_TABLE_ROWS = 100_000
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_WORDS = {"true": True, "false": False, "null": None, "~": None}
PathKey = tuple[str | int, ...]
Cell = tuple[int, int]  # line (or sheet row), column; 1-based
Row = tuple[int, dict[str, tuple[Any, int]]]  # line, {column title: (value, column)}
Note = Callable[[str], None]


def is_table(path: str | Path) -> bool:
    """True for ``NAME.scenarios.csv`` and ``NAME.scenarios.xlsx``."""
    return str(path).lower().endswith(TABLE_SUFFIXES)


def read_table(path: str | Path, *, note: Note | None = None) -> Document:
    """A scenario table as the Document of the equivalent scenario file (each value located
    at its cell); ``note`` hears what was guessed (a GBK file)."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise RuleFileError("file not found", path=str(path)) from None
    if size > MAX_TABLE_BYTES:
        raise RuleFileError(f"{size:,} bytes exceeds the {MAX_TABLE_BYTES // 1_048_576} MiB "
                            "limit of a scenario table; split it", path=str(path))
    if path.name.lower().endswith(".xlsx"):
        where, rows = _excel_rows(path)
    else:
        where, rows = str(path), _csv_rows(path, note)
    name = path.name[: -len(".scenarios.csv")] if path.name.lower().endswith(".csv") \
        else path.name[: -len(".scenarios.xlsx")]
    return _Builder(where, name).build(rows)


# -- reading the cells ------------------------------------------------------------------------

def _csv_rows(path: Path, note: Note | None) -> Iterator[tuple[int, list[str]]]:
    raw = path.read_bytes()
    try:
        text, codec = sniff_decode(raw)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise RuleFileError(f"byte 0x{raw[exc.start]:02x} is neither UTF-8 nor GBK/GB18030 "
                            "text; save the table as CSV UTF-8", path=str(path), line=line,
                            column=column) from None
    if codec == "gb18030" and note is not None:
        note(f"{path} is not UTF-8; read it as GB18030 (GBK), the usual Chinese Excel export")
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    try:
        for values in reader:
            yield start, values
            start = reader.line_num + 1
    except csv.Error as exc:
        raise RuleFileError(f"not a CSV table: {exc}", path=str(path),
                            line=reader.line_num) from None


def _excel_rows(path: Path) -> tuple[str, Iterator[tuple[int, list[Any]]]]:
    openpyxl = require("openpyxl", "scenario tables in Excel")
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile, XML and openpyxl's own errors: all "not a workbook"
        raise RuleFileError(f"not an Excel workbook (.xlsx): {exc}", path=str(path)) from None
    sheet = workbook.worksheets[0]
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    workbook.close()
    return f"{path}:{sheet.title}", iter(enumerate(values, start=1))


def cell_value(raw: Any) -> Any:
    """A cell as a rule file reads the value: numbers, true/false, null, ``[…]`` and ``{…}``
    as such (a text cell ``600`` is the number 600), anything else as text."""
    if not isinstance(raw, str):
        if hasattr(raw, "isoformat"):  # an Excel date
            text = raw.isoformat()
            return text[:10] if text.endswith("T00:00:00") else text
        return raw
    text = raw.strip()
    if text in _WORDS:
        return _WORDS[text]
    if _NUMBER.fullmatch(text):
        number = float(text)
        return int(text) if re.fullmatch(r"[-+]?\d+", text) else number
    if text.startswith(("[", "{")):
        return read_text(text, path="<cell>").data
    return text


def _statuses(raw: Any) -> Any:
    """A KPI outcome cell: a status, or a map of them by group."""
    if isinstance(raw, str) and raw.strip().startswith("{"):
        return read_text(raw.strip(), path="<cell>").data
    return raw.strip() if isinstance(raw, str) else raw


def _ids(raw: Any) -> list[str]:
    """An ``expect signals`` cell: trigger ids, comma-separated (brackets optional)."""
    text = str(raw).strip().removeprefix("[").removesuffix("]")
    return [part.strip() for part in re.split(r"[,，;；]", text) if part.strip()]


# -- building the scenario file's data --------------------------------------------------------

class _Builder:
    """The scenario file's plain data from the table's rows, noting each value's cell."""

    def __init__(self, where: str, name: str) -> None:
        self.where = where
        self.cases: list[dict[str, Any]] = []
        self.data: dict[str, Any] = {"kind": "scenarios", "name": name,
                                     "book": f"{name}.yaml", "cases": self.cases}
        self.locations: dict[PathKey, Cell] = {(): (1, 1), ("kind",): (1, 1),
                                               ("name",): (1, 1), ("book",): (1, 1)}
        self.kind = ""

    def fail(self, reason: str, line: int, column: int, field: str | None = None
             ) -> RuleFileError:
        return RuleFileError(reason, path=self.where, line=line, column=column, field=field)

    def build(self, rows: Iterator[tuple[int, list[Any]]]) -> Document:
        titles: dict[int, str] | None = None
        for line, values in rows:
            if titles is None:
                titles = self._titles(values)
                continue
            if line > MAX_TABLE_ROWS + 1:
                raise self.fail(f"more than {MAX_TABLE_ROWS:,} rows; split the table", line, 1)
            cells = {titles[i]: (v, i + 1) for i, v in enumerate(values)
                     if i in titles and v is not None and not (isinstance(v, str)
                                                               and not v.strip())}
            if cells:
                self._row(line, cells)
        if titles is None:
            raise self.fail("the table is empty: its first row names the columns (case, "
                            "expect tier …)", 1, 1)
        if not self.cases:
            raise self.fail("the table has no case: one row a case (or a month, or a row of "
                            "a portfolio) after the header", 2, 1)
        return Document(self.data, dict(self.locations), self.where)

    def _titles(self, values: list[Any]) -> dict[int, str]:
        titles: dict[int, str] = {}
        seen: dict[str, int] = {}
        for index, value in enumerate(values):
            if value is None or not str(value).strip():
                continue
            title = re.sub(r"\s+", " ", str(value).strip())
            if title in seen:
                raise self.fail(f"the column {title!r} is given twice (also column "
                                f"{seen[title] + 1})", 1, index + 1)
            seen[title] = index
            titles[index] = title
        if "case" not in seen:
            close = difflib.get_close_matches("case", list(seen), n=1)
            hint = f"; is {close[0]!r} meant to be 'case'?" if close else ""
            raise self.fail(f"no column 'case' (the name of each case){hint}", 1, 1)
        expects = [t for t in seen if t.lower().startswith("expect")]
        lowered = {t.lower() for t in expects}
        if "expect tier" in lowered:
            self.kind = "tiers"
        elif "expect signals" in lowered:
            self.kind = "triggers"
        elif expects:
            self.kind = "kpis"
        else:
            raise self.fail("no column says what a case expects: 'expect tier' (a tier book), "
                            "'expect signals' (triggers) or 'expect ID' for a KPI id", 1, 1)
        if self.kind != "kpis":
            wanted = {"tiers": ("expect tier", "expect rule"),
                      "triggers": ("expect signals",)}[self.kind]
            for title in expects:
                if title.lower() not in wanted:
                    close = difflib.get_close_matches(title.lower(), wanted, n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    raise self.fail(f"unknown column {title!r}{hint} (a table for a "
                                    f"{self.kind} book expects {', '.join(wanted)})", 1,
                                    seen[title] + 1)
        if self.kind == "triggers" and "period" not in seen:
            raise self.fail("no column 'period': one row a month of a case's history "
                            "(YYYY-MM)", 1, 1)
        return titles

    def _row(self, line: int, cells: dict[str, tuple[Any, int]]) -> None:
        first = min(column for _, column in cells.values())
        if "case" in cells:
            raw, column = cells.pop("case")
            self._start(str(raw).strip() if isinstance(raw, str) else str(raw), line, column)
        elif not self.cases:
            raise self.fail("the first row names its case (column case)", line, first, "case")
        elif self.kind == "tiers":
            raise self.fail("a tier case is one row: name the case", line, first, "case")
        at: PathKey = ("cases", len(self.cases) - 1)
        case = self.cases[-1]
        if "note" in cells:
            raw, column = cells.pop("note")
            if "note" in case:
                raise self.fail("the case has a note already", line, column, "note")
            case["note"] = str(raw)
            self.locations[(*at, "note")] = (line, column)
        expects = {t: v for t, v in cells.items() if t.lower().startswith("expect")}
        data = {t: v for t, v in cells.items() if t not in expects}
        if self.kind == "tiers":
            self._tier(at, case, line, data, expects)
        elif self.kind == "triggers":
            self._month(at, case, line, first, data, expects)
        else:
            self._portfolio_row(at, case, line, first, data, expects)

    def _start(self, name: str, line: int, column: int) -> None:
        at: PathKey = ("cases", len(self.cases))
        data_key = {"tiers": "input", "triggers": "history", "kpis": "rows"}[self.kind]
        expect: dict[str, Any] = {"signals": {}} if self.kind == "triggers" else \
            {"kpis": {}} if self.kind == "kpis" else {}
        self.cases.append({"name": name, data_key: {} if self.kind == "tiers" else [],
                           "expect": expect})
        for key in (at, (*at, "name"), (*at, data_key), (*at, "expect")):
            self.locations[key] = (line, column)

    def _tier(self, at: PathKey, case: dict[str, Any], line: int,
              data: dict[str, tuple[Any, int]], expects: dict[str, tuple[Any, int]]) -> None:
        for title, (raw, column) in data.items():
            case["input"][title] = self._value(raw, line, column, title)
            self.locations[(*at, "input", title)] = (line, column)
        for title, (raw, column) in expects.items():
            key = title.lower().removeprefix("expect ").strip()
            value = self._value(raw, line, column, title)
            case["expect"][key] = None if value is None else str(value)
            self.locations[(*at, "expect", key)] = (line, column)

    def _month(self, at: PathKey, case: dict[str, Any], line: int, first: int,
               data: dict[str, tuple[Any, int]], expects: dict[str, tuple[Any, int]]) -> None:
        j = len(case["history"])
        month: dict[str, Any] = {}
        self.locations[(*at, "history", j)] = (line, first)
        for title, (raw, column) in data.items():
            month[title] = str(raw).strip() if title == "period" else \
                self._value(raw, line, column, title)
            if title == "period" and hasattr(raw, "strftime"):  # an Excel date
                month[title] = raw.strftime("%Y-%m")
            self.locations[(*at, "history", j, title)] = (line, column)
        case["history"].append(month)
        if expects:
            raw, column = next(iter(expects.values()))
            period = str(month.get("period"))
            signals = case["expect"]["signals"]
            if period in signals:
                raise self.fail(f"the signals of {period} are given twice", line, column)
            signals[period] = _ids(raw)
            self.locations[(*at, "expect", "signals", period)] = (line, column)

    def _portfolio_row(self, at: PathKey, case: dict[str, Any], line: int, first: int,
                       data: dict[str, tuple[Any, int]],
                       expects: dict[str, tuple[Any, int]]) -> None:
        if data:
            j = len(case["rows"])
            self.locations[(*at, "rows", j)] = (line, first)
            case["rows"].append({t: self._value(raw, line, column, t)
                                 for t, (raw, column) in data.items()})
            for title, (_, column) in data.items():
                self.locations[(*at, "rows", j, title)] = (line, column)
        for title, (raw, column) in expects.items():
            kpi = title[len("expect"):].strip()
            if kpi in case["expect"]["kpis"]:
                raise self.fail(f"the case's outcome of {kpi} is given twice", line, column,
                                title)
            try:
                case["expect"]["kpis"][kpi] = _statuses(raw)
            except RuleFileError as exc:
                raise self.fail(f"{raw!r} is not pass, fail, n/a or a map of them by group "
                                f"({exc.reason})", line, column, title) from None
            self.locations[(*at, "expect", "kpis", kpi)] = (line, column)

    def _value(self, raw: Any, line: int, column: int, title: str) -> Any:
        try:
            return cell_value(raw)
        except RuleFileError as exc:
            raise self.fail(f"{raw!r} is not a list or map ({exc.reason}); write it like "
                            "[600, 600, 600] or {a: 1}", line, column, title) from None
