"""The one reader and writer of data files for every command, and the one format of a located
problem (``file:line:column: field: reason``).

Formats, chosen by the file's suffix: ``.csv``, ``.tsv``, ``.parquet``, ``.json`` (an array of
records), ``.ndjson`` / ``.jsonl`` (one record a line). Excel workbooks are not read or written:
polars needs ``fastexcel`` / ``xlsxwriter`` for them, which are not dependencies; save the sheet
as CSV instead (Chinese Excel exports are usually GBK: read them with ``encoding="gb18030"``).

Text inputs are decoded with the given encoding (UTF-8 by default, a byte-order mark is
skipped). Whatever cannot be read raises :class:`InputFileError`, located as far as known.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

import polars as pl

__all__ = ["READ", "WRITTEN", "InputFileError", "check_writable", "located", "read_table",
           "write_table"]

READ = (".csv", ".tsv", ".parquet", ".json", ".ndjson", ".jsonl")
WRITTEN = READ
_TEXT = (".csv", ".tsv", ".json", ".ndjson", ".jsonl")
_EXCEL = (".xlsx", ".xls", ".xlsm", ".xlsb", ".ods")
_CSV_INFER = 10_000
#: distinct text values a mostly numeric column may hold before it counts as a text column
_MARKERS = 3


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
    if suffix in _EXCEL:
        reason = (f"cannot {verb} Excel files (polars needs fastexcel and xlsxwriter for them, "
                  "which are not installed); save the sheet as CSV")
    else:
        reason = f"cannot {verb} {suffix or 'a file without a suffix'}"
    return InputFileError(path, f"{reason}; use {', '.join(READ)}", exit_code=2)


def _codec(path: Path, encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InputFileError(path, f"unknown encoding {encoding!r} (try utf-8, gbk or gb18030)",
                             exit_code=2) from None


def _decode_error(path: Path, raw: bytes, exc: UnicodeDecodeError, encoding: str) -> InputFileError:
    start = exc.start
    line = raw.count(b"\n", 0, start) + 1
    column = start - (raw.rfind(b"\n", 0, start) + 1) + 1
    hint = (" (a Chinese Excel export is usually GBK: give --encoding gb18030)"
            if encoding == "utf-8" else "")
    return InputFileError(path, f"byte 0x{raw[start]:02x} is not {encoding} text{hint}",
                          line=line, column=column)


def _source(path: Path, encoding: str) -> bytes | Path:
    """What polars reads: the path itself for UTF-8, else the text re-encoded as UTF-8."""
    codec = _codec(path, encoding)
    if codec in ("utf-8", "utf-8-sig"):
        return path
    raw = path.read_bytes()
    try:
        return raw.decode(codec).encode("utf-8")
    except UnicodeDecodeError as exc:
        raise _decode_error(path, raw, exc, encoding) from None


def _read_text(path: Path, source: bytes | Path, suffix: str) -> pl.DataFrame:
    if suffix in (".ndjson", ".jsonl"):
        return pl.read_ndjson(source)
    if suffix == ".json":
        return pl.read_json(source)
    separator = "\t" if suffix == ".tsv" else ","
    try:
        return pl.read_csv(source, separator=separator, infer_schema_length=_CSV_INFER,
                           try_parse_dates=True)
    except pl.exceptions.ComputeError as exc:
        if "could not parse" not in str(exc):
            raise
        # a value after the rows the types were guessed from: guess from every row, so the
        # column becomes text and the check below names the cell
        return pl.read_csv(source, separator=separator, infer_schema_length=None,
                           try_parse_dates=True)


def read_table(path: str | Path, *, encoding: str = "utf-8") -> pl.DataFrame:
    """Read a data file by its suffix; raise :class:`InputFileError` naming the file (and the
    line, column and field where known) for anything that cannot be read."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in READ:
        raise _formats("read", path)
    if not path.exists():
        raise InputFileError(path, "file not found")
    if path.is_dir():
        raise InputFileError(path, "is a folder, not a file")
    try:
        if suffix == ".parquet":
            return pl.read_parquet(path)
        frame = _read_text(path, _source(path, encoding), suffix)
    except InputFileError:
        raise
    except pl.exceptions.NoDataError:
        raise InputFileError(path, "the file is empty") from None
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "utf-8" in message.lower() or "utf8" in message.lower():
            raw = path.read_bytes()
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as decode:
                raise _decode_error(path, raw, decode, "utf-8") from None
        raise InputFileError(path, f"cannot read as {suffix[1:].upper()}: {message}") from None
    _check_numbers(path, frame, suffix)
    return frame


def _check_numbers(path: Path, frame: pl.DataFrame, suffix: str) -> None:
    """Refuse a text column whose values are numbers but for a few text markers ("N/A", "-"):
    a missing value is an empty cell, and a marker would make the whole column text."""
    for index, name in enumerate(frame.columns):
        if frame.schema[name] != pl.String:
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
        rows = bad.arg_true()
        first = int(rows[0])
        if suffix in (".csv", ".tsv"):
            line: int | None = first + 2
        elif suffix == ".json":
            line = None
        else:
            line = first + 1
        more = f"; {n_bad:,} such cells" if n_bad > 1 else ""
        row = f" (row {first + 1})" if line is None else ""
        raise InputFileError(
            path, f"{values[0]!r} is not a number, though {n_numeric:,} other values in the "
            f"column are{row}; leave a missing value empty{more}",
            line=line, column=index + 1 if line is not None else None, field=name)


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


def write_table(frame: pl.DataFrame, path: str | Path) -> None:
    """Write ``frame`` in the format of ``path``'s suffix (text as UTF-8)."""
    path = Path(path)
    check_writable(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame.write_parquet(path)
        elif suffix == ".json":
            frame.write_json(path)
        elif suffix in (".ndjson", ".jsonl"):
            frame.write_ndjson(path)
        else:
            _flat(frame).write_csv(path, separator="\t" if suffix == ".tsv" else ",")
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputFileError(path, f"cannot write: {exc}") from None
