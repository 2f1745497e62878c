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
    """``frame`` as an Excel workbook of one sheet (filters on, the header row frozen)."""
    require("xlsxwriter", "writing Excel files")
    buffer = io.BytesIO()
    _flat(frame).write_excel(buffer, worksheet=sheet[:31], autofilter=True,
                             freeze_panes=(1, 0), float_precision=2)
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
