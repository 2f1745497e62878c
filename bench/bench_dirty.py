"""Every tier preset on a dirty portfolio, on every back end, against polars.

The issue's check "every preset on a dirty 1 M portfolio identical on every back end, reasons
included", at full size. For each preset, ``sample_portfolio(rows)`` is made dirty for it
(``vip_workflow.testing.tier_dirty.dirty_portfolio``: boundary values, NaN, ±inf and nulls in
number columns, unknown categories and nulls in text, override columns with valid, unknown
and half-filled rows), judged by polars (the reference) and by:

- DuckDB: ``judge_many(relation)``, fetched as Arrow;
- SQLite: ``judge_sql`` on a file database;
- PostgreSQL: ``judge_sql`` through ADBC (``--postgres URL``; ``--postgres ''`` skips it);
- Spark local[2]: ``judge_many`` of the portfolio read from Parquet.

Prints one row per preset and back end: rows whose tier, rule, reason or computed tier
differ from polars' (0 expected) and the back end's seconds. SQLite and PostgreSQL have no
lists of months: a preset reading one (credit-key-account) is "not run" there, as
documented. SQLite prints floats to 15 significant digits inside reasons (docs/scale.md), so
its reasons are compared through ``tier_agreement.fifteen_digits`` on both sides; every other
back end exactly. Usage::

    python -m bench dirty [--rows 1000000] [--only duckdb,sqlite,postgresql,spark]
                          [--postgres URL]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

import vip_workflow as vw
from bench._harness import machine
from bench.bench_scale import POSTGRES_URL, _postgres_table, _reachable
from vip_workflow.samples import sample_portfolio
from vip_workflow.testing.tier_agreement import fifteen_digits
from vip_workflow.testing.tier_dirty import mismatches

BACK_ENDS = ("duckdb", "sqlite", "postgresql", "spark")
ROW = "row_no"
Judge = Callable[[vw.RuleBook, pl.DataFrame], pl.DataFrame]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench dirty", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="portfolio size")
    parser.add_argument("--only", default=",".join(BACK_ENDS),
                        help="comma-separated back ends (default: all)")
    parser.add_argument("--postgres", default=POSTGRES_URL, help="SQLAlchemy URL ('' skips)")
    return parser.parse_args(argv)


def _duckdb(book: vw.RuleBook, frame: pl.DataFrame) -> pl.DataFrame:
    import duckdb

    connection = duckdb.connect()
    result = pl.from_arrow(book.judge_many(connection.from_arrow(frame.to_arrow())).arrow())
    assert isinstance(result, pl.DataFrame)
    return result


def _sqlite(folder: Path) -> Judge:
    def judge(book: vw.RuleBook, frame: pl.DataFrame) -> pl.DataFrame:
        path = folder / f"{book.name}.db"
        path.unlink(missing_ok=True)
        types = {pl.Int64: "INTEGER", pl.Float64: "REAL", pl.String: "TEXT",
                 pl.Boolean: "BOOLEAN"}
        columns = ", ".join(f'"{name}" {types[dtype.base_type()]}'
                            for name, dtype in frame.schema.items())
        with sqlite3.connect(path) as connection:
            connection.execute(f"create table groups ({columns})")
            marks = ", ".join("?" * frame.width)
            connection.executemany(f"insert into groups values ({marks})", frame.iter_rows())
        return book.judge_sql(f"sqlite:///{path}", "groups", order_by=ROW)

    return judge


def _postgres(url: str) -> Judge:
    def judge(book: vw.RuleBook, frame: pl.DataFrame) -> pl.DataFrame:
        with _postgres_table(url, frame) as (engine, table):
            return book.judge_sql(engine, table, order_by=ROW)

    return judge


def _spark(folder: Path) -> tuple[Judge, Callable[[], None]]:
    from bench.bench_spark import session

    spark = session(2)

    def judge(book: vw.RuleBook, frame: pl.DataFrame) -> pl.DataFrame:
        path = folder / f"{book.name}.parquet"
        frame.write_parquet(path)
        result = pl.from_arrow(book.judge_many(spark.read.parquet(str(path))).toArrow())
        assert isinstance(result, pl.DataFrame)
        return result

    return judge, spark.stop


def _differing(reference: pl.DataFrame, got: pl.DataFrame, *, sqlite: bool) -> list[str]:
    if sqlite:
        fifteen = pl.col("reason").map_elements(fifteen_digits, return_dtype=pl.String)
        reference = reference.with_columns(fifteen)
        got = got.with_columns(fifteen)
    return mismatches(reference, got, key=ROW, limit=1_000_000)


def main(argv: Sequence[str] | None = None) -> None:
    from vip_workflow.testing.tier_dirty import dirty_portfolio

    args = parse_args(argv)
    wanted = [name for name in args.only.split(",") if name]
    print(f"Every tier preset on a dirty portfolio of {args.rows:,} rows — {machine()}")
    base = sample_portfolio(args.rows, seed=7)
    with tempfile.TemporaryDirectory(prefix="vw-bench-dirty-") as name:
        folder = Path(name)
        judges: dict[str, Judge] = {}
        stops: list[Callable[[], None]] = []
        if "duckdb" in wanted:
            judges["duckdb"] = _duckdb
        if "sqlite" in wanted:
            judges["sqlite"] = _sqlite(folder)
        if "postgresql" in wanted and args.postgres and _reachable(args.postgres):
            judges["postgresql"] = _postgres(args.postgres)
        elif "postgresql" in wanted:
            print(f"PostgreSQL at {args.postgres!r} not reachable: left out")
        if "spark" in wanted:
            judges["spark"], stop = _spark(folder)
            stops.append(stop)
        print("| preset | back end | rows | rows that differ | seconds |")
        print("|---|---|---:|---:|---:|")
        total = 0
        try:
            for preset in vw.presets("tiers"):
                book = vw.preset(preset, kind="tiers")
                frame = dirty_portfolio(book, base).with_row_index(ROW).with_columns(
                    pl.col(ROW).cast(pl.Int64))
                reference = book.judge_many(frame)
                for back_end, judge in judges.items():
                    start = time.perf_counter()
                    try:
                        got = judge(book, frame)
                    except vw.UnsupportedExpressionError as error:  # lists of months in SQL
                        print(f"| {preset} | {back_end} | {frame.height:,} | not run: "
                              f"{error} | |")
                        continue
                    seconds = time.perf_counter() - start
                    differ = _differing(reference, got, sqlite=back_end == "sqlite")
                    total += len(differ)
                    print(f"| {preset} | {back_end} | {frame.height:,} | {len(differ):,} | "
                          f"{seconds:.1f} |", flush=True)
                    for line in differ[:3]:
                        print(f"    {line}")
        finally:
            for stop in stops:
                stop()
    print(f"rows that differ, all presets and back ends: {total:,}")
