"""Dashboard tables as files: CSV (UTF-8 with a BOM, so Excel reads Chinese) and .xlsx."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from vip_workflow._extras import require

__all__ = ["FORMATS", "csv_bytes", "table_bytes", "write_tables", "xlsx_bytes"]

#: download format -> media type
FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
_BOM = "\ufeff".encode()


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    """Enums as text; list and struct columns left out (neither format holds them)."""
    return frame.with_columns(pl.col(pl.Enum, pl.Categorical).cast(pl.String)).select(
        [c for c, t in frame.schema.items() if not t.is_nested()])


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """``frame`` as CSV: UTF-8 with a byte-order mark, a header row."""
    return _BOM + _flat(frame).write_csv().encode("utf-8")


def _as_text(page: Any) -> Any:
    """A writer of dates and times as ISO text (Excel shows a bare date as a serial number)."""
    return lambda row, column, value: page.write_string(row, column, value.isoformat())


def xlsx_bytes(frame: pl.DataFrame, sheet: str = "data") -> bytes:
    """``frame`` as an Excel workbook of one sheet: a bold header row, frozen, with filters.

    Written cell by cell with xlsxwriter, each column with the writer of its type (polars'
    ``write_excel`` builds an Excel table, slower on the tens of thousands of rows a signal
    list has).
    """
    xlsxwriter = require("xlsxwriter", "writing Excel files")
    flat = _flat(frame)
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "nan_inf_to_errors": True})
    page = book.add_worksheet(sheet[:31])
    whole = book.add_format({"num_format": "#,##0"})
    decimal = book.add_format({"num_format": "#,##0.00"})
    writers = []
    for column, (name, dtype) in enumerate(flat.schema.items()):
        values = flat.get_column(name)
        if dtype.is_numeric():
            writers.append(page.write_number)
            page.set_column(column, column, max(len(name), 12) + 2,
                            whole if dtype.is_integer() else decimal)
        else:
            writers.append(page.write_string if dtype == pl.String
                           else _as_text(page) if dtype.is_temporal() else page.write)
            longest = max((len(str(v)) for v in values.head(200) if v is not None), default=0)
            page.set_column(column, column, min(max(len(name), longest, 8), 60) + 2)
    page.write_row(0, 0, flat.columns, book.add_format({"bold": True}))
    for row, cells in enumerate(flat.iter_rows(), start=1):
        for column, value in enumerate(cells):
            if value is not None:
                writers[column](row, column, value)
    page.freeze_panes(1, 0)
    page.autofilter(0, 0, max(flat.height, 1), max(flat.width - 1, 0))
    book.close()
    return buffer.getvalue()


def table_bytes(frame: pl.DataFrame, fmt: str, sheet: str = "data") -> bytes:
    """``frame`` in ``fmt`` (``csv`` or ``xlsx``); ValueError for another format."""
    if fmt == "csv":
        return csv_bytes(frame)
    if fmt == "xlsx":
        return xlsx_bytes(frame, sheet)
    raise ValueError(f"no table format {fmt!r} (csv or xlsx)")


def write_tables(folder: str | Path, tables: Mapping[str, pl.DataFrame]) -> list[Path]:
    """Write each table as ``<name>.csv`` and ``<name>.xlsx`` in ``folder``."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        for fmt in FORMATS:
            path = target / f"{name}.{fmt}"
            path.write_bytes(table_bytes(frame, fmt, name))
            written.append(path)
    return written
