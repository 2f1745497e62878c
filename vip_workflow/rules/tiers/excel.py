"""A tier book as an Excel decision table, and back (the ``excel`` extra: openpyxl).

The workbook an analyst reads and edits has one sheet per part of the rule file:

* ``Book``: the header and every single setting, one ``key`` / ``value`` row each (``name``,
  ``title``, ``tiers``, ``scheme.type``, ``scheme.default``, ``override.tier`` …);
* ``Bands``: the factors and their bands, one band a row. A factor's own cells (``field``,
  ``label``, ``values`` …) stand on its first band's row; a row with ``field`` filled starts
  the next factor. ``part`` says which list the rows belong to: ``scheme.factors``,
  ``scheme.score.factors``, ``scheme.tiers`` (bands on a total) or ``subtiers.TIER``, and is
  carried down until the next one;
* ``Terms`` (weighted models), ``Conditions`` (eligibility) and ``Quotas`` (ABC shares): one
  item a row.

Lists and maps in a cell are written as in a rule file: ``[provincial_gov, municipal_gov]``,
``{none: 0, county_gov: 2}`` (the brackets may be left out of a list). An empty cell is a key
left out. Importing goes through the rule files' own validation, so every problem is the one
located error, its "file" the workbook and its sheet: ``tiers.xlsx:Bands:7:11:
scheme.factors[1] (revenue).bands[0].min: a number is needed``; line and column are the
sheet's row and column numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from difflib import get_close_matches
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from vip_workflow._extras import require
from vip_workflow.errors import RuleFileError
from vip_workflow.rules.files.reader import MAX_NODES, read_text
from vip_workflow.rules.files.workbook import WorkbookDocument

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

    from vip_workflow.rules.tiers.book import RuleBook

__all__ = ["MAX_WORKBOOK_BYTES", "SHEETS", "read_decision_table", "write_decision_table"]

#: The largest workbook imported (an xlsx is zipped: ten times the largest rule file).
MAX_WORKBOOK_BYTES = 10 * 1_048_576

PathKey = tuple[str | int, ...]
Cell = tuple[str, int, int]  # sheet, row, column (1-based)
Columns = Mapping[str, str | None]  # column title → key in the rule file (None: no key)

FACTOR_COLUMNS: Columns = {"part": None, "factor": "id", "field": "field", "label": "label",
                  "factor closed": "closed", "values": "values", "unknown": "unknown",
                  "otherwise": "otherwise", "default": "default"}
BAND_COLUMNS: Columns = {"band": "id", "in": "in", "range": "range", "min": "min", "max": "max",
                "closed": "closed", "tier": "tier", "points": "points", "note": "note"}
TERM_COLUMNS: Columns = {"part": None, "field": "field", "weight": "weight", "map": "map",
                "otherwise": "otherwise", "label": "label"}
CONDITION_COLUMNS: Columns = {"field": "field", "aggregate": "aggregate", "window": "window",
                     "label": "label", "in": "in", "range": "range", "min": "min", "max": "max",
                     "closed": "closed"}
QUOTA_COLUMNS: Columns = {"tier": "tier", "share": "share"}
#: sheet → its columns (column title → key in the rule file)
SHEETS: dict[str, Columns] = {
    "Book": {"key": None, "value": None},
    "Bands": {**FACTOR_COLUMNS, **BAND_COLUMNS},
    "Terms": TERM_COLUMNS,
    "Conditions": CONDITION_COLUMNS,
    "Quotas": QUOTA_COLUMNS,
}
#: keys whose cells hold a list or a map, written as in a rule file
FLOW_KEYS = {"tiers", "in", "values", "map"}
FACTOR_PARTS = ("scheme.factors", "scheme.score.factors")
BAND_PARTS = ("scheme.tiers",)
TERM_PARTS = ("scheme.terms", "scheme.score.terms")
TABLES = {*FACTOR_PARTS, *BAND_PARTS, *TERM_PARTS, "scheme.conditions", "scheme.quotas",
          "subtiers"}


# -- writing ----------------------------------------------------------------------------------

def _flow(value: Any) -> str:
    return str(yaml.safe_dump(value, default_flow_style=True, allow_unicode=True,
                              width=10_000)).strip().removesuffix("...").strip()


def _cell_value(key: str, value: Any) -> Any:
    """What a cell holds for ``value`` of rule-file key ``key``."""
    if key in FLOW_KEYS or isinstance(value, list | dict):
        return _flow(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "inf" if value > 0 else "-inf"
    return value


def _flatten(data: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) for every setting outside the tables, in file order."""
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if dotted in TABLES:
            continue
        if isinstance(value, dict):
            yield from _flatten(value, f"{dotted}.")
        else:
            yield dotted, value


def _band_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The Bands sheet: one dict (column title → value) a band."""
    scheme = data["scheme"]
    groups: list[tuple[str, dict[str, Any] | None, list[dict[str, Any]]]] = []
    for part in FACTOR_PARTS:
        holder = scheme.get("score", {}) if part.startswith("scheme.score") else scheme
        groups += [(part, factor, factor["bands"]) for factor in holder.get("factors") or []]
    if scheme.get("tiers"):
        groups.append(("scheme.tiers", None, scheme["tiers"]))
    for tier, split in (data.get("subtiers") or {}).items():
        groups.append((f"subtiers.{tier}", split, split["bands"]))
    rows: list[dict[str, Any]] = []
    last_part = None
    for part, factor, bands in groups:
        for index, band in enumerate(bands):
            row = {title: band[key] for title, key in BAND_COLUMNS.items() if key in band}
            if index == 0:
                if part != last_part:
                    row["part"] = part
                for title, key in FACTOR_COLUMNS.items():
                    if key is not None and factor is not None and key in factor:
                        row[title] = factor[key]
            rows.append(row)
        last_part = part
    return rows


def _table_rows(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every sheet's rows: column title → value."""
    scheme = data["scheme"]
    sheets: dict[str, list[dict[str, Any]]] = {
        "Book": [{"key": key, "value": value} for key, value in _flatten(data)],
        "Bands": _band_rows(data),
    }
    terms: list[dict[str, Any]] = []
    for part in TERM_PARTS:
        holder = scheme.get("score", {}) if part.startswith("scheme.score") else scheme
        for index, term in enumerate(holder.get("terms") or []):
            row = {title: term[key] for title, key in TERM_COLUMNS.items() if key in term}
            terms.append({"part": part, **row} if index == 0 else row)
    sheets["Terms"] = terms
    sheets["Conditions"] = [{t: c[k] for t, k in CONDITION_COLUMNS.items() if k in c}
                            for c in scheme.get("conditions") or []]
    sheets["Quotas"] = [{t: q[k] for t, k in QUOTA_COLUMNS.items() if k in q}
                        for q in scheme.get("quotas") or []]
    return sheets


def write_decision_table(book: RuleBook, path: str | Path) -> Path:
    """Write ``book`` as an Excel decision table (see the module's docstring)."""
    openpyxl = require("openpyxl", "Excel decision tables")
    from openpyxl.styles import Font

    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in _table_rows(book.to_dict()).items():
        if not rows and name != "Bands":
            continue
        sheet = workbook.create_sheet(name)
        titles = [t for t in SHEETS[name] if name == "Book" or t in ("part", "field")
                  or any(t in row for row in rows)]
        sheet.append(titles)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            _append(sheet, titles, row)
        sheet.freeze_panes = "A2"
        for column, title in enumerate(titles, start=1):
            width = max([len(str(title)), *(len(str(r.get(title, ""))) for r in rows)])
            letter = sheet.cell(row=1, column=column).column_letter
            sheet.column_dimensions[letter].width = min(60, width + 2)
    target = Path(path)
    workbook.save(target)
    return target


def _append(sheet: Worksheet, titles: list[str], row: dict[str, Any]) -> None:
    values: list[Any] = []
    for title in titles:
        key = SHEETS["Bands"].get(title) or SHEETS["Terms"].get(title) or title
        if title == "value":
            key = str(row.get("key", "")).rpartition(".")[2]
        values.append(_cell_value(str(key), row[title]) if title in row else None)
    sheet.append(values)
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"  # text, never a formula ("=…")


# -- reading ----------------------------------------------------------------------------------

#: a decision table read as a rule file: errors located at ``WORKBOOK:SHEET:row:column``
ExcelDocument = WorkbookDocument


class _Reader:
    """Builds the rule file's plain data from the sheets, noting the cell of every key."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.data: dict[str, Any] = {}
        self.cells: dict[PathKey, Cell] = {(): ("Book", 1, 1)}

    def fail(self, reason: str, cell: Cell, field: str | None = None) -> RuleFileError:
        sheet, row, column = cell
        return RuleFileError(reason, path=f"{self.path}:{sheet}", line=row, column=column,
                             field=field)

    def value(self, key: str, raw: Any, cell: Cell) -> Any:
        """A cell's value as the rule file would hold it."""
        if isinstance(raw, datetime):
            return raw.date().isoformat() if raw.time() == datetime.min.time() else raw
        if isinstance(raw, date):
            return raw.isoformat()
        if not isinstance(raw, str) or key not in FLOW_KEYS:
            return raw.strip() if isinstance(raw, str) else raw
        text = raw.strip()
        if key != "map" and not text.startswith("["):
            text = f"[{text}]"
        try:
            return read_text(text, path=self.path).data
        except RuleFileError as exc:
            raise self.fail(f"{raw!r} is not a {'map' if key == 'map' else 'list'} "
                            f"({exc.reason}); write it like [a, b] or {{a: 1, b: 2}}", cell,
                            key) from None

    def put(self, where: PathKey, value: Any, cell: Cell) -> None:
        node: Any = self.data
        for step, following in pairwise(where):
            if isinstance(node, dict):
                node = node.setdefault(step, [] if isinstance(following, int) else {})
            else:
                assert isinstance(step, int)
                while len(node) <= step:
                    node.append([] if isinstance(following, int) else {})
                node = node[step]
            if not isinstance(node, dict | list):
                raise self.fail(f"{'.'.join(map(str, where))} is set here and also as a "
                                "single value", cell)
        last = where[-1]
        if isinstance(node, dict):
            if last in node and not isinstance(node[last], dict | list):
                raise self.fail("this key is set twice", cell, str(last))
            node[last] = value
        else:
            node.append(value)
        self.cells.setdefault(where, cell)

    # -- the sheets -------------------------------------------------------------------------
    def book(self, rows: list[tuple[int, dict[str, tuple[Any, int]]]]) -> None:
        for number, cells in rows:
            if "key" not in cells:
                raise self.fail("a value without a key: say in column A which setting this "
                                "is (name, title, tiers, scheme.type …)", ("Book", number, 2))
            key = cells["key"][0]
            if "value" not in cells:
                continue  # a key left out
            raw, column = cells["value"]
            where = tuple(str(key).strip().split("."))
            cell = ("Book", number, column)
            self.put(where, self.value(where[-1], raw, cell), cell)
            self.cells[where] = cell

    def bands(self, rows: list[tuple[int, dict[str, tuple[Any, int]]]]) -> None:
        part: str | None = None
        counts: dict[str, int] = {}
        factor: PathKey = ()
        for number, cells in rows:
            first = ("Bands", number, min(column for _, column in cells.values()))
            if "part" in cells:
                part = self._part(cells["part"][0], ("Bands", number, cells["part"][1]))
            if part is None:
                raise self.fail("say in the part column which list this row belongs to (e.g. "
                                "scheme.factors)", first)
            base = _path(part)
            own = {t: v for t, v in cells.items() if t in FACTOR_COLUMNS and t != "part"}
            if part in BAND_PARTS:
                if own:
                    title = next(iter(own))
                    raise self.fail(f"the bands of {part} have no factor: leave {title} empty",
                                    ("Bands", number, own[title][1]), title)
                factor = ()
                band = (*base, self._next(counts, part))
            else:
                if "field" in own or "part" in cells or not factor:
                    factor = self._factor(part, base, counts, first)
                    self._put_cells(factor, own, FACTOR_COLUMNS, "Bands", number)
                elif own:
                    title = next(iter(own))
                    raise self.fail("a factor's own cells stand on its first band's row; fill "
                                    "field to start the next factor",
                                    ("Bands", number, own[title][1]), title)
                band = (*factor, "bands", self._next(counts, factor))
            banded = {t: v for t, v in cells.items() if t in BAND_COLUMNS}
            if banded:
                self.cells[band] = ("Bands", number, min(c for _, c in banded.values()))
                self._put_cells(band, banded, BAND_COLUMNS, "Bands", number)

    def _part(self, raw: Any, cell: Cell) -> str:
        part = str(raw).strip()
        if part in (*FACTOR_PARTS, *BAND_PARTS) or (
                part.startswith("subtiers.") and part.partition(".")[2]):
            return part
        raise self.fail(f"unknown part {part!r}; one of {', '.join(FACTOR_PARTS + BAND_PARTS)} "
                        "or subtiers.TIER (the tier it splits)", cell, "part")

    def _factor(self, part: str, base: PathKey, counts: dict[Any, int], cell: Cell) -> PathKey:
        if part.startswith("subtiers."):
            if part in counts:
                raise self.fail(f"{part} splits its tier once: one field a split", cell)
            counts[part] = 0
            factor = base
        else:
            factor = (*base, self._next(counts, part))
        self.cells.setdefault(factor, cell)
        return factor

    @staticmethod
    def _next(counts: dict[Any, int], key: Any) -> int:
        counts[key] = counts.get(key, -1) + 1
        return counts[key]

    def _put_cells(self, at: PathKey, cells: dict[str, tuple[Any, int]],
                   columns: Columns, sheet: str, number: int) -> None:
        for title, (raw, column) in cells.items():
            key = columns.get(title)
            if key is None:
                continue
            cell = (sheet, number, column)
            self.put((*at, key), self.value(key, raw, cell), cell)

    def items(self, sheet: str, rows: list[tuple[int, dict[str, tuple[Any, int]]]],
              columns: Columns, parts: tuple[str, ...]) -> None:
        """Terms, Conditions, Quotas: one item a row (``parts[0]`` unless ``part`` says)."""
        part = parts[0]
        counts: dict[Any, int] = {}
        for number, cells in rows:
            if "part" in cells:
                raw, column = cells["part"]
                part = str(raw).strip()
                if part not in parts:
                    raise self.fail(f"unknown part {part!r}; one of {', '.join(parts)}",
                                    (sheet, number, column), "part")
            at = (*_path(part), self._next(counts, part))
            self.cells[at] = (sheet, number, min(c for _, c in cells.values()))
            self._put_cells(at, cells, columns, sheet, number)


def _path(part: str) -> PathKey:
    if part.startswith("subtiers."):
        return ("subtiers", part.partition(".")[2])
    return tuple(part.split("."))


def _rows(sheet: Worksheet, name: str, path: str
          ) -> list[tuple[int, dict[str, tuple[Any, int]]]]:
    """The sheet's rows after the header: row number → {column title: (value, column)},
    empty cells left out; an unknown column title is a located error."""
    known = SHEETS[name]
    titles: dict[int, str] = {}
    rows: list[tuple[int, dict[str, tuple[Any, int]]]] = []
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        if number > MAX_NODES:
            raise RuleFileError(f"more than {MAX_NODES:,} rows", path=f"{path}:{name}",
                                line=number, column=1)
        if number == 1:
            titles = _titles(values, known, f"{path}:{name}")
            continue
        cells = {titles[i]: (v, i + 1) for i, v in enumerate(values)
                 if i in titles and v is not None and not (isinstance(v, str) and not v.strip())}
        if cells:
            rows.append((number, cells))
    return rows


def _titles(values: tuple[Any, ...], known: Columns, where: str) -> dict[int, str]:
    titles: dict[int, str] = {}
    for index, value in enumerate(values):
        if value is None or not str(value).strip():
            continue
        title = str(value).strip()
        if title not in known:
            close = get_close_matches(title, list(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise RuleFileError(f"unknown column {title!r}{hint} (columns: {', '.join(known)})",
                                path=where, line=1, column=index + 1)
        titles[index] = title
    return titles


def read_decision_table(path: str | Path) -> RuleBook:
    """Read a tier book from an Excel decision table; every problem is a located
    ``RuleFileError`` (``WORKBOOK:SHEET:row:column: field: reason``)."""
    openpyxl = require("openpyxl", "Excel decision tables")
    from vip_workflow.rules.tiers.book import tier_book_from

    name = str(path)
    workbook = _open(openpyxl, Path(path))
    reader = _Reader(name)
    sheets = {sheet.title: sheet for sheet in workbook.worksheets}
    for title in sheets:
        if title not in SHEETS:
            raise RuleFileError(f"unknown sheet {title!r}; a decision table has the sheets "
                                f"{', '.join(SHEETS)}", path=f"{name}:{title}", line=1,
                                column=1)
    if "Book" not in sheets:
        raise RuleFileError("no sheet Book (the key/value settings: name, tiers, scheme.type "
                            "…)", path=name)
    reader.book(_rows(sheets["Book"], "Book", name))
    if "Bands" in sheets:
        reader.bands(_rows(sheets["Bands"], "Bands", name))
    for title, columns, parts in (("Terms", TERM_COLUMNS, TERM_PARTS),
                                  ("Conditions", CONDITION_COLUMNS, ("scheme.conditions",)),
                                  ("Quotas", QUOTA_COLUMNS, ("scheme.quotas",))):
        if title in sheets:
            reader.items(title, _rows(sheets[title], title, name), columns, parts)
    workbook.close()
    return tier_book_from(ExcelDocument(reader.data, reader.cells, name))


def _open(openpyxl: Any, path: Path) -> Any:
    """The workbook, read-only; a missing, oversized or broken file is a RuleFileError."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise RuleFileError("file not found", path=str(path)) from None
    if size > MAX_WORKBOOK_BYTES:
        raise RuleFileError(f"{size:,} bytes exceeds the {MAX_WORKBOOK_BYTES // 1_048_576} MiB "
                            "limit of a decision table", path=str(path))
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile, XML and openpyxl's own errors: all "not a workbook"
        raise RuleFileError(f"not an Excel workbook (.xlsx): {exc}", path=str(path)) from None
