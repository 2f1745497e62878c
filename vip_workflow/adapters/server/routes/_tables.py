"""Uploaded tables in (CSV, TSV, Parquet, JSON rows) and judged tables out."""

from __future__ import annotations

import codecs
import io
from typing import Any

import polars as pl
from fastapi import Response

from vip_workflow.adapters.server.problems import Problem

__all__ = ["MEDIA", "read_upload", "table_response"]

MEDIA = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


def _decode(raw: bytes, encoding: str, name: str) -> bytes:
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise Problem(400, "unknown_encoding", f"unknown encoding {encoding!r}: give "
                      "encoding=utf-8, gbk or gb18030") from None
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        hint = (" (a Chinese Excel export is usually GBK: send the form field "
                "encoding=gb18030)" if codec in ("utf-8", "utf-8-sig") else "")
        raise Problem(400, "bad_encoding", f"{name}: line {line}: byte "
                      f"0x{raw[exc.start]:02x} is not {encoding} text{hint}",
                      field="encoding") from None
    return text.encode("utf-8")


def read_upload(raw: bytes, filename: str, *, encoding: str = "utf-8") -> pl.DataFrame:
    """A data frame of an uploaded file, by its suffix (``DataError``-like problems: 400)."""
    name = filename or "upload.csv"
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else "csv"
    if not raw:
        raise Problem(400, "empty_file", f"{name}: the file is empty")
    try:
        if suffix == "parquet":
            return pl.read_parquet(io.BytesIO(raw))
        if suffix not in ("csv", "tsv", "json", "ndjson", "jsonl"):
            raise Problem(400, "unknown_format", f"{name}: cannot read .{suffix} files "
                          "(CSV, TSV, Parquet, JSON or NDJSON)")
        text = _decode(raw, encoding, name)
        if suffix in ("ndjson", "jsonl"):
            return pl.read_ndjson(io.BytesIO(text))
        if suffix == "json":
            return pl.read_json(io.BytesIO(text))
        return pl.read_csv(io.BytesIO(text), separator="\t" if suffix == "tsv" else ",",
                           infer_schema_length=10_000)
    except Problem:
        raise
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise Problem(400, "unreadable_file",
                      f"{name}: cannot read as {suffix.upper()}: {first}") from None


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col(pl.Enum, pl.Categorical).cast(pl.String)).select(
        [c for c, t in frame.schema.items() if not t.is_nested()])


def rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """The frame as JSON-ready rows."""
    return frame.with_columns(pl.col(pl.Enum, pl.Categorical).cast(pl.String)).to_dicts()


def table_response(frame: pl.DataFrame, fmt: str, filename: str) -> Response:
    """The frame as a downloadable CSV or Parquet file."""
    buffer = io.BytesIO()
    if fmt == "parquet":
        frame.with_columns(pl.col(pl.Enum, pl.Categorical).cast(pl.String)).write_parquet(buffer)
    else:
        _flat(frame).write_csv(buffer)
    return Response(buffer.getvalue(), media_type=MEDIA[fmt], headers={
        "Content-Disposition": f'attachment; filename="{filename}.{fmt}"'})
