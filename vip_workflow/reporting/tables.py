"""Dashboard tables as files: CSV (UTF-8 with a BOM, so Excel reads Chinese) and .xlsx."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

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


def xlsx_bytes(frame: pl.DataFrame, sheet: str = "data") -> bytes:
    """``frame`` as an Excel workbook of one sheet: a bold header row, frozen, with filters.

    Written row by row with xlsxwriter in constant-memory mode (polars' ``write_excel`` builds
    an Excel table, several times slower on the tens of thousands of rows a signal list has).
    """
    xlsxwriter = require("xlsxwriter", "writing Excel files")
    flat = _flat(frame)
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"constant_memory": True, "in_memory": True,
                                        "nan_inf_to_errors": True})
    sheet_ = book.add_worksheet(sheet[:31])
    header = book.add_format({"bold": True})
    numbers = book.add_format({"num_format": "#,##0.00"})
    whole = book.add_format({"num_format": "#,##0"})
    formats = [whole if dtype.is_integer() else numbers if dtype.is_float() else None
               for dtype in flat.dtypes]
    for column, (name, fmt) in enumerate(zip(flat.columns, formats, strict=True)):
        width = max([len(name), *(len(str(v)) for v in flat.get_column(name).head(200))])
        sheet_.set_column(column, column, min(max(width, 8), 60) + 2, fmt)
    sheet_.write_row(0, 0, flat.columns, header)
    for row, values in enumerate(flat.iter_rows(), start=1):
        sheet_.write_row(row, 0, [v.isoformat() if hasattr(v, "isoformat") else v
                                  for v in values])
    sheet_.freeze_panes(1, 0)
    sheet_.autofilter(0, 0, max(flat.height, 1), max(len(flat.columns) - 1, 0))
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
