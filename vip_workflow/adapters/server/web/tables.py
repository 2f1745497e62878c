"""A dashboard table as a download: CSV (UTF-8 with BOM, so Excel reads Chinese) or .xlsx."""

from __future__ import annotations

import io
from typing import Any

import polars as pl
from starlette.responses import Response

from vip_workflow.adapters.server.problems import Problem

__all__ = ["download"]

MEDIA = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col(pl.Enum, pl.Categorical).cast(pl.String)).select(
        [c for c, t in frame.schema.items() if not t.is_nested()])


def _xlsx(frame: pl.DataFrame) -> bytes:
    from vip_workflow._extras import require

    require("xlsxwriter", "writing Excel files")
    buffer = io.BytesIO()
    frame.write_excel(buffer, worksheet="data", autofilter=True, freeze_panes=(1, 0),
                      float_precision=2)
    return buffer.getvalue()


def download(frame: pl.DataFrame, fmt: str, filename: str) -> Response:
    """``frame`` as a CSV or Excel file named ``filename``."""
    flat = _flat(frame)
    body: Any
    if fmt == "csv":
        body = "\ufeff".encode() + flat.write_csv().encode("utf-8")
    elif fmt == "xlsx":
        body = _xlsx(flat)
    else:
        raise Problem(404, "not_found", f"no download format {fmt!r} (csv or xlsx)")
    return Response(body, media_type=MEDIA[fmt], headers={
        "Content-Disposition": f'attachment; filename="{filename}.{fmt}"',
        "X-Content-Type-Options": "nosniff"})
