"""A dashboard table as a download: CSV (UTF-8 with BOM, so Excel reads Chinese) or .xlsx."""

from __future__ import annotations

import polars as pl
from starlette.responses import Response

from vip_workflow.adapters.server.problems import Problem
from vip_workflow.reporting.tables import FORMATS, table_bytes

__all__ = ["download"]


def download(frame: pl.DataFrame, fmt: str, filename: str) -> Response:
    """``frame`` as a CSV or Excel file named ``filename``."""
    if fmt not in FORMATS:
        raise Problem(404, "not_found", f"no download format {fmt!r} (csv or xlsx)")
    return Response(table_bytes(frame, fmt), media_type=FORMATS[fmt], headers={
        "Content-Disposition": f'attachment; filename="{filename}.{fmt}"',
        "X-Content-Type-Options": "nosniff"})
