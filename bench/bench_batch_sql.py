"""Trigger scans and KPI checks in a database, against polars, in one run.

* **triggers** — seed-001-triggers over ``--customers`` × ``--months`` of the sample history:
  ``book.scan`` on polars (in memory), on a DuckDB relation fetched as Arrow, on a SQLite table
  and (``--postgres URL``) on a PostgreSQL table; the signal counts must be equal.
* **kpis** — china-mobile-2006-kpis over ``--portfolio`` customers, the same engines.

Loading the data into each database is not timed. Run: ``python -m bench batch_sql
[--customers 5000] [--months 24] [--portfolio 50000] [--postgres postgresql+psycopg://…]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from pathlib import Path
from typing import Any

if __package__ in {None, ""}:  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import polars as pl

from bench._harness import best_of, machine
from vip_workflow.rules.tiers.book import preset
from vip_workflow.samples import sample_history
from vip_workflow.samples.history import sample_kpi_portfolio
from vip_workflow.testing.batch_agreement import load_table


def _engines(frame: pl.DataFrame, postgres: str | None) -> dict[str, tuple[Any, dict[str, Any]]]:
    """Each engine's input for ``frame`` and the call options (the load is not timed)."""
    import duckdb
    import sqlalchemy as sa

    connection = duckdb.connect()
    connection.register("data", frame.to_arrow())
    connection.execute("create table t as select * from data")
    engines: dict[str, tuple[Any, dict[str, Any]]] = {
        "polars": (frame, {}), "duckdb": (connection.table("t"), {})}
    sqlite = sa.create_engine("sqlite://")
    engines["sqlite"] = (load_table(frame, sqlite, "t"), {"bind": sqlite})
    if postgres:
        engine = sa.create_engine(postgres)
        engines["postgresql"] = (load_table(frame, engine, f"b_{uuid.uuid4().hex[:8]}"),
                                 {"bind": engine})
    return engines


def _fetched(result: Any) -> pl.DataFrame:
    return result if isinstance(result, pl.DataFrame) else result.pl()


def _measure(label: str, run: Any, frame: pl.DataFrame, postgres: str | None,
             repeats: int) -> None:
    engines = _engines(frame, postgres)
    base = None
    rows = None
    for name, (data, options) in engines.items():
        seconds, result = best_of(lambda d=data, o=options: _fetched(run(d, **o)), repeats)
        base = base or seconds
        rows = rows if rows is not None else result.height
        same = "yes" if result.height == rows else f"NO ({result.height} rows)"
        print(f"{label:9} {name:11} {seconds:7.2f} s  {seconds / base:5.1f}× polars  "
              f"rows {result.height:,}  same count {same}")
    for name, (data, options) in engines.items():
        if "bind" in options:  # drop the loaded tables
            with options["bind"].begin() as connection:
                data.drop(connection)
            if name == "postgresql":
                options["bind"].dispose()

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_batch_sql", description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--portfolio", type=int, default=50_000)
    parser.add_argument("--postgres", default=os.environ.get("VW_POSTGRES_URL"))
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    print(machine())
    if hasattr(os, "getloadavg"):
        print("load average before the run: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    history = sample_history(args.customers, args.months, seed=1, missing=0.02)
    print(f"history: {args.customers:,} customers × {args.months} months = {history.height:,} "
          f"rows; portfolio: {args.portfolio:,} customers")
    triggers, kpis = preset("seed-001-triggers"), preset("china-mobile-2006-kpis")
    _measure("triggers", triggers.scan, history, args.postgres, args.repeats)
    _measure("kpis", kpis.check, sample_kpi_portfolio(args.portfolio, seed=3), args.postgres,
             args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
