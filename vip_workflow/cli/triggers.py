"""Command-line functions for triggers and KPIs: ``vip-workflow scan`` and ``vip-workflow kpi``.

They are plain functions with typer annotations, registered on the main app by ``main.py``::

    app.command(name="scan")(scan_command)
    app.command(name="kpi")(kpi_command)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.table import Table

import vip_workflow as vw
from vip_workflow.cli.common import (
    EncodingOption,
    SheetOption,
    fail,
    load_book,
    more,
    out,
    read,
    refuse_output,
    working,
    write,
)

__all__ = ["kpi_command", "scan_command"]

DEFAULT_TRIGGERS = "seed-001-triggers"
DEFAULT_KPIS = "china-mobile-2006-kpis"


def scan_command(
    history: Annotated[Path, typer.Argument(
        metavar="DATA", help="Monthly history: CSV, TSV, Parquet, JSON, NDJSON or Excel, one "
        "row per customer and month.")],
    rules: Annotated[Path | None, typer.Option(
        "--rules", "-r", help="Trigger file (kind: triggers).")] = None,
    preset_name: Annotated[str | None, typer.Option(
        "--preset", "-p", help=f"Bundled trigger book (default {DEFAULT_TRIGGERS}).")] = None,
    family: Annotated[list[str] | None, typer.Option(
        "--family", "-f", help="Only these families (repeat).")] = None,
    trigger: Annotated[list[str] | None, typer.Option(
        "--trigger", "-t", help="Only these trigger ids (repeat).")] = None,
    live: Annotated[bool, typer.Option(
        help="Replay month by month through the live durable_rules engine.")] = False,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the signals (.csv, .tsv, .parquet, .json, .ndjson, .xlsx).")
    ] = None,
    show: Annotated[int, typer.Option(help="Signals to print (0: none).")] = 20,
    tasks: Annotated[bool, typer.Option(
        help="Turn the signals into tasks (account_manager column, dedup) and summarise.")
    ] = False,
    encoding: EncodingOption = "auto",
    sheet: SheetOption = None,
) -> None:
    """Scan a monthly history with a trigger book; print counts per trigger and the signals."""
    refuse_output(output)
    book = load_book(rules, preset_name, kind="triggers", default=DEFAULT_TRIGGERS)
    frame = read(history, encoding, sheet=sheet)
    try:
        with working(f"scanning {frame.height:,} rows", frame.height):
            signals = (book.scan_live(frame, families=family, triggers=trigger) if live
                       else book.scan(frame, families=family, triggers=trigger))
    except vw.EvaluationError as exc:
        fail(str(exc))
    customers = frame["customer_id"].n_unique() if "customer_id" in frame.columns else 0
    out.print(f"{book.name}: {signals.height} signal(s) for "
              f"{signals['customer_id'].n_unique()} of {customers} customers "
              f"({'live' if live else 'batch'})", highlight=False)
    counts = (signals.group_by("trigger", "family", "severity").len()
              .join(book.describe().select(pl.col("id").alias("trigger"),
                                           pl.int_range(pl.len()).alias("order")),
                    on="trigger").sort("order"))
    table = Table("trigger", "family", "severity", "signals")
    for row in counts.iter_rows(named=True):
        table.add_row(row["trigger"], str(row["family"]), str(row["severity"]),
                      f"{row['len']:,}")
    out.print(table)
    if show > 0 and signals.height:
        from vip_workflow.rules.triggers import explain_signals

        for line in explain_signals(signals.head(show)):
            out.print(f"  {line}", highlight=False)
        left = more(show, signals.height, "signals", "--show N")
        if left:
            out.print(f"  {left}", highlight=False)
    if tasks:
        from vip_workflow.work.board import TaskBoard

        managers = (sorted(frame["account_manager"].drop_nulls().unique().to_list())
                    if "account_manager" in frame.columns else [])
        board = TaskBoard(managers=managers)
        report = board.ingest(signals, managers=frame if managers else None)
        out.print(f"tasks: {len(report.created)} opened, {report.duplicates} duplicate "
                  f"signal(s) folded, {report.unassigned} unassigned", highlight=False)
    if output is not None:
        write(signals, output)


def kpi_command(
    portfolio: Annotated[Path, typer.Argument(
        metavar="DATA", help="Portfolio: CSV, TSV, Parquet, JSON, NDJSON or Excel, one row per "
        "customer.")],
    rules: Annotated[Path | None, typer.Option(
        "--rules", "-r", help="KPI file (kind: kpis).")] = None,
    preset_name: Annotated[str | None, typer.Option(
        "--preset", "-p", help=f"Bundled KPI book (default {DEFAULT_KPIS}).")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the results (.csv, .tsv, .parquet, .json, .ndjson, .xlsx).")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Exit 1 when a KPI fails.")] = False,
    encoding: EncodingOption = "auto",
    sheet: SheetOption = None,
) -> None:
    """Check a portfolio against KPI targets; print a table of value, target, status, gap."""
    refuse_output(output)
    book = load_book(rules, preset_name, kind="kpis", default=DEFAULT_KPIS)
    frame = read(portfolio, encoding, sheet=sheet)
    try:
        with working(f"checking {frame.height:,} customers", frame.height):
            report = book.report(frame)
    except vw.EvaluationError as exc:
        fail(str(exc))
    out.print(report.to_rich_table())
    if output is not None:
        write(report.frame, output)
    if strict and not report.ok:
        raise typer.Exit(1)
