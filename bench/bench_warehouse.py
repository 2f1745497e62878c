"""The monthly cycle in the warehouse against the polars cycle, on the same data, same run.

N groups with a 24-month history are written as Hive tables (Spark's built-in metastore in a
temporary folder; the history partitioned by month); two periods run through the polars cycle
(in memory) and through ``run_cycle(..., engine="spark")`` (from the tables). Printed: the
seconds of each, whether tier changes, reviews, signals, tasks and KPI rows are equal (KPI
values to 12 significant digits: Spark adds the amounts in another order), and which months of
history the Spark scan read. Usage::

    python -m bench warehouse [--n 100000] [--months 24] [--cores 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table

import vip_workflow as vw
from bench._harness import machine
from vip_workflow.testing.frames import same_rows

CONFIG = """\
name: warehouse bench
storage: sqlite:///vip.db
tiers: {preset: hubei-2006}
triggers: {preset: seed-001-triggers}
kpis: {preset: china-mobile-2006-kpis}
reports: out
tier_history_table: bench_tiers
"""


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench warehouse", description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="group customers")
    parser.add_argument("--months", type=int, default=24, help="months of history")
    parser.add_argument("--cores", type=int, default=2, help="local[N]")
    return parser.parse_args(argv)


def session(cores: int, home: Path) -> Any:
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master(f"local[{cores}]").appName("vip_workflow warehouse")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", str(cores * 4))
             .config("spark.driver.memory", "4g")
             .config("spark.sql.warehouse.dir", str(home / "warehouse"))
             .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                     f"jdbc:derby:;databaseName={home / 'metastore_db'};create=true")
             .config("spark.driver.extraJavaOptions",  # see bench_spark.session
                     f"-Dderby.system.home={home} -XX:-DontCompileHugeMethods")
             .enableHiveSupport().getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col(pl.Enum, pl.Categorical).cast(pl.String))


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    from vip_workflow.samples import (
        monthly_portfolios,
        sample_history,
        sample_kpi_portfolio,
        sample_portfolio,
    )

    console = Console()
    console.print(f"The cycle in the warehouse vs polars — {args.n:,} groups × {args.months} "
                  f"months, local[{args.cores}] — {machine()}")
    portfolio = sample_portfolio(args.n, seed=7)
    history = sample_history(months=args.months, start="2024-11", seed=3, portfolio=portfolio,
                             portfolio_month="2024-11")
    months = monthly_portfolios(portfolio, start="2024-11", months=args.months,
                                history=history)
    periods = list(months)[-2:]
    kpi_data = sample_kpi_portfolio(seed=3, portfolio=portfolio)
    with tempfile.TemporaryDirectory(prefix="vw-bench-warehouse-") as folder:
        home = Path(folder)
        spark = session(args.cores, home)
        try:
            spark.createDataFrame(_flat(history).to_arrow()).write.partitionBy(
                "period").saveAsTable("snapshots")
            spark.createDataFrame(_flat(kpi_data).to_arrow()).write.saveAsTable("kpi_groups")
            for period in periods:
                spark.createDataFrame(_flat(months[period]).to_arrow()).write.saveAsTable(
                    f"groups_{period.replace('-', '_')}")
            rows = []
            for side in ("polars", "spark"):
                (home / side).mkdir()
                (home / side / "vip.yaml").write_text(CONFIG, encoding="utf-8")
            here = vw.Workspace.from_file(home / "polars" / "vip.yaml")
            there = vw.Workspace.from_file(home / "spark" / "vip.yaml")
            for period in periods:
                start = time.perf_counter()
                expected = here.run_cycle(period, months[period], history=history,
                                          kpi_data=kpi_data)
                polars_s = time.perf_counter() - start
                start = time.perf_counter()
                got = there.run_cycle(period, f"groups_{period.replace('-', '_')}",
                                      history="snapshots", kpi_data="kpi_groups",
                                      engine="spark")
                spark_s = time.perf_counter() - start
                rows.append((period, polars_s, spark_s, expected, got))
        finally:
            spark.stop()
    table = Table("period", "polars s", "Spark s", "ratio", "changes", "signals", "tasks",
                  "KPIs", "equal", "history months read")
    for period, polars_s, spark_s, expected, got in rows:
        equal = all((same_rows(expected.changes, got.changes),
                     same_rows(expected.signals, got.signals),
                     same_rows(expected.tasks, got.tasks),
                     same_rows(expected.kpis, got.kpis, rel=1e-12),
                     sorted(expected.reviews) == sorted(got.reviews)))
        table.add_row(period, f"{polars_s:.1f}", f"{spark_s:.1f}", f"{spark_s / polars_s:.1f}×",
                      f"{got.changes.height:,}",
                      f"{0 if got.signals is None else got.signals.height:,}",
                      f"{0 if got.tasks is None else got.tasks.height:,}",
                      f"{0 if got.kpis is None else got.kpis.height:,}",
                      "yes" if equal else "NO",
                      f"{len(got.history_months)} ({got.history_months[0]} … "
                      f"{got.history_months[-1]})" if got.history_months else "-")
    console.print(table)
