"""Benchmark: reading a portfolio from .xlsx, CSV and Parquet and judging it, through the
command line's one reader (``vip_workflow.cli.io.read_table``).

    python -m bench excel                 # 1 000 000 groups
    python -m bench excel --n 200000      # a quicker run
    python -m bench excel --formats parquet,csv

Writing the files is timed too (the .xlsx through xlsxwriter), but only reading and judging
count: an analyst's workbook is written by Excel.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table

import vip_workflow as vw
from vip_workflow.cli.io import read_table, write_table
from vip_workflow.samples import sample_portfolio

FORMATS = (".parquet", ".csv", ".xlsx")


def _timed(step: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = step()
    return time.perf_counter() - started, result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench excel")
    parser.add_argument("--n", type=int, default=1_000_000, help="group customers")
    parser.add_argument("--preset", default="hubei-2006")
    parser.add_argument("--formats", default=",".join(f[1:] for f in FORMATS),
                        help="which of parquet,csv,xlsx (writing 1 M rows of .xlsx takes "
                        "about 4 minutes)")
    args = parser.parse_args(argv)
    formats = [f".{name.strip()}" for name in args.formats.split(",")]
    console = Console()
    book = vw.preset(args.preset, kind="tiers")
    frame = sample_portfolio(args.n, seed=7)
    folder = Path(tempfile.mkdtemp(prefix="vw-bench-excel-"))
    table = Table("format", "size (MB)", "write (s)", "read (s)", "judge (s)",
                  "read + judge (s)", "rows/s", title=(
                      f"read and judge {args.n:,} groups ({frame.width} columns), "
                      f"{book.name}"))
    expected = book.judge_many(frame).get_column("tier")
    for suffix in formats:
        path = folder / f"groups{suffix}"
        written, _ = _timed(lambda path=path: write_table(frame, path))  # type: ignore[misc]
        read, loaded = _timed(lambda path=path: read_table(path))  # type: ignore[misc]
        judged_in, judged = _timed(lambda loaded=loaded: book.judge_many(loaded))  # type: ignore[misc]
        assert isinstance(judged, pl.DataFrame)
        same = judged.get_column("tier").cast(pl.String).equals(expected.cast(pl.String))
        total = read + judged_in
        table.add_row(suffix[1:], f"{path.stat().st_size / 1e6:.1f}", f"{written:.2f}",
                      f"{read:.2f}", f"{judged_in:.2f}", f"{total:.2f}",
                      f"{args.n / total:,.0f}" + ("" if same else " (tiers differ!)"))
        path.unlink()
    console.print(table)


if __name__ == "__main__":
    main()
