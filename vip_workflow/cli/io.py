"""The one reader and writer of data files for every command, and the one format of a located
problem (``file:line:column: field: reason``).

Formats, chosen by the file's suffix: ``.csv``, ``.tsv``, ``.parquet``, ``.json`` (an array of
records), ``.ndjson`` / ``.jsonl`` (one record a line) and Excel workbooks: ``.xlsx`` is read
and written, ``.xlsm``, ``.xlsb``, ``.xls`` and ``.ods`` are read (the first sheet, its first
row the header). Excel needs the ``excel`` extra (``fastexcel`` reads through polars' calamine
engine, ``xlsxwriter`` writes); without it a :class:`~vip_workflow.errors.MissingExtraError`
names the extra.

Text inputs are decoded with the given encoding. The default, ``auto``, reads UTF-8 (a
byte-order mark is skipped), UTF-16 with its byte-order mark (Excel's "Unicode text"), and a
file that is not UTF-8 but is whole GB18030 text (the usual Chinese Excel export) as GB18030,
saying so through ``note``. Column types are inferred from every row, so a text value in row
11 000 is found, not a parse error. Whatever cannot be read raises :class:`InputFileError`,
located as far as known; a column of numbers holding a few text cells ("N/A", "-") is refused
naming the column, the data row (1-based, the header not counted) and the value.
"""

from __future__ import annotations

import codecs
import difflib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from vip_workflow._text import sniff_decode
from vip_workflow.errors import MissingExtraError

__all__ = ["EXCEL_ROWS", "READ", "WRITTEN", "InputFileError", "check_writable", "located",
           "not_a_number",
           "read_table", "write_table"]

_EXCEL = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
READ = (".csv", ".tsv", ".parquet", ".json", ".ndjson", ".jsonl", *_EXCEL)
WRITTEN = (".csv", ".tsv", ".parquet", ".json", ".ndjson", ".jsonl", ".xlsx")
#: rows of one Excel sheet, the header included
EXCEL_ROWS = 1_048_576
_CSV_INFER = 10_000
#: distinct text values a mostly numeric column may hold before it counts as a text column
_MARKERS = 3
Note = Callable[[str], None]


def located(path: str | Path | None, reason: str, *, line: int | None = None,
            column: int | None = None, field: str | None = None,
            severity: str = "error") -> str:
    """One problem as ``file:line:column: field: reason``, with `` (warning)`` or `` (info)``
    appended for findings that are not errors; unknown parts are left out."""
    where = str(path) if path else "<input>"
    if line is not None:
        where += f":{line}"
        if column is not None:
            where += f":{column}"
    text = f"{where}: {field}: {reason}" if field else f"{where}: {reason}"
    return text if severity == "error" else f"{text} ({severity})"


class InputFileError(Exception):
    """A data file cannot be read or written; ``exit_code`` is 2 for a wrong request (an
    unsupported format, an unknown encoding) and 1 for a file that is wrong."""

    def __init__(self, path: str | Path, reason: str, *, line: int | None = None,
                 column: int | None = None, field: str | None = None,
                 exit_code: int = 1) -> None:
        self.path = str(path)
        self.reason = reason
        self.line = line
        self.column = column
        self.field = field
        self.exit_code = exit_code
        super().__init__(self.text)

    @property
    def text(self) -> str:
        return located(self.path, self.reason, line=self.line, column=self.column,
                       field=self.field)


def _formats(verb: str, path: Path) -> InputFileError:
    """The error for a format not read (``verb`` "read") or not written ("write")."""
    suffix = path.suffix.lower()
    done = READ if verb == "read" else WRITTEN
    reason = f"cannot {verb} {suffix or 'a file without a suffix'}"
    if suffix in _EXCEL:
        reason += " (Excel is written as .xlsx)"
    return InputFileError(path, f"{reason}; use {', '.join(done)}", exit_code=2)


def _codec(path: Path, encoding: str) -> str:
    if encoding.lower() == "auto":
        return "auto"
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InputFileError(path, f"unknown encoding {encoding!r} (try auto, utf-8, gbk or "
                             "gb18030)", exit_code=2) from None


def _decode_error(path: Path, raw: bytes, exc: UnicodeDecodeError, encoding: str) -> InputFileError:
    start = exc.start
    line = raw.count(b"\n", 0, start) + 1
    column = start - (raw.rfind(b"\n", 0, start) + 1) + 1
    if encoding == "auto":
        reason = "is neither UTF-8 nor GBK/GB18030 text (give --encoding, e.g. big5 or latin-1)"
    else:
        hint = (" (a Chinese Excel export is usually GBK: give --encoding gb18030)"
                if encoding == "utf-8" else "")
        reason = f"is not {encoding} text{hint}"
    return InputFileError(path, f"byte 0x{raw[start]:02x} {reason}", line=line, column=column)


def _detect(path: Path, raw: bytes, note: Note | None) -> bytes | Path:
    """``auto``: UTF-8 as it is (the path), UTF-16 by its byte-order mark, else GB18030 when
    the whole file decodes as such (said through ``note``); else the located UTF-8 error."""
    try:
        text, codec = sniff_decode(raw)
    except UnicodeDecodeError as exc:
        raise _decode_error(path, raw, exc, "auto") from None
    if codec in ("utf-8", "utf-8-sig"):
        return path
    if codec == "gb18030" and note is not None:
        note(f"{path} is not UTF-8; read it as GB18030 (GBK), the usual Chinese Excel "
             "export. Give --encoding to read it otherwise.")
    return text.encode("utf-8")


def _source(path: Path, encoding: str, note: Note | None) -> bytes | Path:
    """What polars reads: the path itself for UTF-8, else the text re-encoded as UTF-8."""
    codec = _codec(path, encoding)
    if codec in ("utf-8", "utf-8-sig"):
        return path
    raw = path.read_bytes()
    if codec == "auto":
        return _detect(path, raw, note)
    try:
        return raw.decode(codec).encode("utf-8")
    except UnicodeDecodeError as exc:
        raise _decode_error(path, raw, exc, encoding) from None


def _read_text(path: Path, source: bytes | Path, suffix: str) -> pl.DataFrame:
    if suffix in (".ndjson", ".jsonl"):
        return pl.read_ndjson(source, infer_schema_length=None)
    if suffix == ".json":
        return pl.read_json(source, infer_schema_length=None)
    separator = "\t" if suffix == ".tsv" else ","
    try:
        frame = pl.read_csv(source, separator=separator, infer_schema_length=_CSV_INFER)
    except pl.exceptions.ComputeError as exc:
        if "could not parse" not in str(exc):
            raise
        # a value after the rows the types were guessed from: guess from every row, so the
        # column becomes text and the check below names the cell
        frame = pl.read_csv(source, separator=separator, infer_schema_length=None)
    return _dates(frame)


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?")


def _dates(frame: pl.DataFrame) -> pl.DataFrame:
    """Text columns of ISO dates (or date-times) as dates: only columns whose first value
    looks like one are tried (polars' ``try_parse_dates`` tries every text column, ten times
    the cost of reading), and a column is converted only when every value parses."""
    converted: list[pl.Series] = []
    for name, dtype in frame.schema.items():
        if dtype != pl.String:
            continue
        column = frame.get_column(name)
        first = column.drop_nulls().head(1).to_list()
        if not first or not _DATE.fullmatch(str(first[0]).strip()):
            continue
        for parse in (column.str.to_date, column.str.to_datetime):
            try:
                converted.append(parse(strict=True))
                break
            except pl.exceptions.PolarsError:
                continue
    return frame.with_columns(converted) if converted else frame


def _sheet_of(path: Path, sheet: str | None) -> dict[str, Any]:
    """polars' sheet argument: the first sheet, or the one named (or numbered, from 1); an
    unknown sheet is an InputFileError listing the workbook's sheets."""
    if sheet is None:
        return {"sheet_id": 1}
    import fastexcel

    names = fastexcel.read_excel(str(path)).sheet_names
    if sheet in names:
        return {"sheet_name": sheet}
    if sheet.isdigit() and 1 <= int(sheet) <= len(names):
        return {"sheet_id": int(sheet)}
    close = difflib.get_close_matches(sheet, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise InputFileError(path, f"no sheet {sheet!r}{hint} (the workbook's sheets: "
                         f"{', '.join(names)}; or give a number from 1 to {len(names)})",
                         exit_code=2)


def _read_excel(path: Path, sheet: str | None = None) -> pl.DataFrame:
    """The first sheet (or ``sheet``), its types inferred from every row (the ``excel``
    extra). Empty rows are kept while the number columns are checked, so a data row is the
    sheet row less one."""
    from vip_workflow._extras import require

    require("fastexcel", "reading Excel files")
    which = _sheet_of(path, sheet)
    frame = pl.read_excel(path, engine="calamine", infer_schema_length=None,
                          drop_empty_rows=False, **which)
    assert isinstance(frame, pl.DataFrame)  # one sheet asked for
    _check_excel_numbers(path, frame, which)
    return frame.filter(~pl.all_horizontal(pl.all().is_null())) if frame.width else frame


def _check_excel_numbers(path: Path, frame: pl.DataFrame, which: dict[str, Any]) -> None:
    """calamine reads a text cell in a column of numbers as empty: read the number columns
    that have empty cells again as text, and refuse a cell that is not a number."""
    suspects = [name for name, dtype in frame.schema.items()
                if dtype.is_numeric() and frame.get_column(name).null_count()]
    if not suspects:
        return
    texts = pl.read_excel(path, engine="calamine", drop_empty_rows=False,
                          read_options={"dtypes": "string", "use_columns": suspects}, **which)
    assert isinstance(texts, pl.DataFrame)
    for name in suspects:
        text = texts.get_column(name).str.strip_chars()
        bad = text.is_not_null() & (text != "") & text.cast(pl.Float64, strict=False).is_null()
        if bad.any():
            n_numeric = frame.get_column(name).is_not_null().sum()
            raise not_a_number(path, ".xlsx", name, frame.columns.index(name),
                               int(bad.arg_true()[0]), text.filter(bad)[0],
                               f"{n_numeric:,} other values in the column are numbers",
                               int(bad.sum()))


def _read(path: Path, suffix: str, encoding: str, note: Note | None,
          sheet: str | None = None) -> pl.DataFrame:
    if suffix == ".parquet":
        return pl.read_parquet(path)
    if suffix in _EXCEL:
        return _read_excel(path, sheet)
    return _read_text(path, _source(path, encoding, note), suffix)


def read_table(path: str | Path, *, encoding: str = "auto", note: Note | None = None,
               sheet: str | None = None) -> pl.DataFrame:
    """Read a data file by its suffix; raise :class:`InputFileError` naming the file (and the
    line, column and field where known) for anything that cannot be read. ``note`` hears what
    was guessed (an encoding). ``sheet`` names (or numbers, from 1) the sheet of a workbook
    read; the default is the first."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in READ:
        raise _formats("read", path)
    if sheet is not None and suffix not in _EXCEL:
        raise InputFileError(path, f"--sheet {sheet} is for Excel workbooks; this is "
                             f"{suffix[1:].upper()}", exit_code=2)
    if not path.exists():
        raise InputFileError(path, "file not found")
    if path.is_dir():
        raise InputFileError(path, "is a folder, not a file")
    try:
        frame = _read(path, suffix, encoding, note, sheet)
    except (InputFileError, MissingExtraError):
        raise
    except pl.exceptions.NoDataError:
        raise InputFileError(path, "the file is empty") from None
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise _unreadable(path, suffix, exc) from None
    except Exception as exc:  # fastexcel's own errors (a broken workbook)
        if type(exc).__module__.partition(".")[0].lstrip("_") != "fastexcel":
            raise
        raise _unreadable(path, suffix, exc) from None
    _check_numbers(path, frame, suffix)
    return frame


def _unreadable(path: Path, suffix: str, exc: Exception) -> InputFileError:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "utf-8" in message.lower() or "utf8" in message.lower():
        raw = path.read_bytes()
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as decode:
            return _decode_error(path, raw, decode, "utf-8")
    kind = "Excel" if suffix in _EXCEL else suffix[1:].upper()
    return InputFileError(path, f"cannot read as {kind}: {message}")


def _line_of(suffix: str, row: int) -> int | None:
    """The line (Excel: the sheet row) of data row ``row`` (0-based), where a file has one."""
    if suffix in (".csv", ".tsv", *_EXCEL):
        return row + 2  # after the header
    if suffix in (".ndjson", ".jsonl"):
        return row + 1
    return None


def _check_numbers(path: Path, frame: pl.DataFrame, suffix: str) -> None:
    """Refuse a text column whose values are numbers but for a few text markers ("N/A", "-"):
    a missing value is an empty cell, and a marker would make the whole column text."""
    for index, name in enumerate(frame.columns):
        if frame.schema[name] != pl.String or _many_words(frame.get_column(name)):
            continue
        text = frame.get_column(name).str.strip_chars()
        filled = text.is_not_null() & (text != "")
        numeric = text.cast(pl.Float64, strict=False).is_not_null()
        bad = filled & ~numeric
        n_numeric, n_bad = int(numeric.sum()), int(bad.sum())
        if not n_bad or n_numeric <= n_bad:
            continue
        values = text.filter(bad)
        if values.n_unique() > _MARKERS:
            continue
        raise not_a_number(path, suffix, name, index, int(bad.arg_true()[0]), values[0],
                           f"{n_numeric:,} other values in the column are numbers", n_bad)


def _many_words(column: pl.Series) -> bool:
    """More than a few distinct non-numbers in the first rows: a text column, whatever the
    rest holds (the check cannot apply), found without reading the whole column."""
    text = column.head(2_000).str.strip_chars()
    words = text.filter(text.is_not_null() & (text != "")
                        & text.cast(pl.Float64, strict=False).is_null())
    return words.n_unique() > _MARKERS


def not_a_number(path: str | Path, suffix: str, name: str, index: int, row: int, value: Any,
                 why: str, count: int) -> InputFileError:
    """The located error for text ``value`` at data row ``row`` (0-based) of number column
    ``name`` (``index`` 0-based): the column, the data row (1-based) and the value."""
    line = _line_of(suffix, row)
    more = f"; {count - 1:,} more such cells" if count > 1 else ""
    return InputFileError(
        path, f"data row {row + 1:,}: {value!r} is not a number, though {why}; "
        f"{_fix(str(value))}{more}",
        line=line, column=index + 1 if line is not None else None, field=name)


def _fix(value: str) -> str:
    """What to do about a text cell in a column of numbers."""
    bare = value.replace(",", "").replace("，", "").replace(" ", "")
    try:
        float(bare)
    except ValueError:
        return "leave a missing value empty"
    return "write numbers without thousands separators"


def check_writable(path: str | Path) -> None:
    """Raise :class:`InputFileError` (exit code 2) for an output ``write_table`` cannot write,
    so a command can refuse it before doing any work."""
    path = Path(path)
    if path.suffix.lower() not in WRITTEN:
        raise _formats("write", path)


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    """Nested columns as JSON text and categories as text, for CSV."""
    columns: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, (pl.List, pl.Array, pl.Struct, pl.Object)):
            columns.append(pl.col(name).map_elements(_json, return_dtype=pl.String))
        elif isinstance(dtype, (pl.Enum, pl.Categorical)):
            columns.append(pl.col(name).cast(pl.String))
    return frame.with_columns(columns) if columns else frame


def _json(value: Any) -> str:
    if isinstance(value, pl.Series):
        value = value.to_list()
    return json.dumps(value, ensure_ascii=False, default=str)


def _write_excel(frame: pl.DataFrame, path: Path) -> None:
    from vip_workflow._extras import require

    require("xlsxwriter", "writing Excel files")
    if frame.height >= EXCEL_ROWS:
        raise InputFileError(path, f"{frame.height:,} rows do not fit in one Excel sheet "
                             f"({EXCEL_ROWS - 1:,} at most); write .csv or .parquet")
    _flat(frame).write_excel(path, worksheet="data", autofilter=True,
                             freeze_panes=(1, 0), float_precision=2)


def write_table(frame: pl.DataFrame, path: str | Path) -> None:
    """Write ``frame`` in the format of ``path``'s suffix (text as UTF-8)."""
    path = Path(path)
    check_writable(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame.write_parquet(path)
        elif suffix == ".xlsx":
            _write_excel(frame, path)
        elif suffix == ".json":
            frame.write_json(path)
        elif suffix in (".ndjson", ".jsonl"):
            frame.write_ndjson(path)
        else:
            _flat(frame).write_csv(path, separator="\t" if suffix == ".tsv" else ",")
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputFileError(path, f"cannot write: {exc}") from None
