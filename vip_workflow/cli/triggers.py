"""Command-line functions for triggers and KPIs: ``vip-workflow scan`` and ``vip-workflow kpi``.

They are plain functions with typer annotations, registered on the main app by ``cli.py``::

    app.command(name="scan")(scan_command)
    app.command(name="kpi")(kpi_command)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from vip_workflow.errors import EvaluationError, RuleFileError, UnknownPresetError
from vip_workflow.rules.tiers.book import load_rules, preset

__all__ = ["kpi_command", "scan_command"]

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DEFAULT_TRIGGERS = "seed-001-triggers"
DEFAULT_KPIS = "china-mobile-2006-kpis"


def _read(path: Path) -> pl.DataFrame:
    if not path.exists():
        err.print(f"[red]{path}: file not found[/red]")
        raise typer.Exit(1)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pl.read_parquet(path)
        if suffix in (".json", ".ndjson", ".jsonl"):
            return pl.read_ndjson(path) if suffix != ".json" else pl.read_json(path)
        return pl.read_csv(path, try_parse_dates=True, infer_schema_length=None)
    except (pl.exceptions.PolarsError, OSError) as exc:
        err.print(f"[red]{path}: cannot read: {exc}[/red]")
        raise typer.Exit(1) from None


def _book(rules: Path | None, preset_name: str | None, default: str, kind: str) -> Any:
    try:
        book = load_rules(rules) if rules is not None else preset(preset_name or default)
    except RuleFileError as exc:
        for problem in exc.problems:
            field = f" in {problem.field}" if problem.field else ""
            err.print(f"[red]error[/red] {problem.location}{field}: {problem.reason}",
                      highlight=False)
        raise typer.Exit(1) from None
    except UnknownPresetError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    actual = getattr(getattr(book, "rules", None), "kind", "tiers")
    if actual != kind:
        err.print(f"[red]{book.name} is a {actual} file; this command needs kind: {kind}[/red]")
        raise typer.Exit(2)
    return book


def _write(frame: pl.DataFrame, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame.write_parquet(path)
        return
    flat = frame
    if "evidence" in frame.columns:
        flat = frame.with_columns(pl.col("evidence").map_elements(
            lambda items: json.dumps({i["name"]: i["value"] for i in items}),
            return_dtype=pl.String))
    if suffix == ".json":
        flat.write_json(path)
    elif suffix in (".ndjson", ".jsonl"):
        flat.write_ndjson(path)
    else:
        flat.with_columns(pl.col(pl.Enum).cast(pl.String)).write_csv(path)


def scan_command(
    history: Annotated[Path, typer.Argument(
        help="Monthly history: CSV, Parquet or JSON, one row per customer and month.")],
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
        "--output", "-o", help="Write the signals (.csv, .parquet, .json, .ndjson).")] = None,
    show: Annotated[int, typer.Option(help="Signals to print (0: none).")] = 20,
    tasks: Annotated[bool, typer.Option(
        help="Turn the signals into tasks (account_manager column, dedup) and summarise.")
    ] = False,
) -> None:
    """Scan a monthly history with a trigger book; print counts per trigger and the signals."""
    book = _book(rules, preset_name, DEFAULT_TRIGGERS, "triggers")
    frame = _read(history)
    try:
        signals = (book.scan_live(frame, families=family, triggers=trigger) if live
                   else book.scan(frame, families=family, triggers=trigger))
    except EvaluationError as exc:
        err.print(f"[red]error: {exc}[/red]")
        raise typer.Exit(1) from None
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
        if signals.height > show:
            out.print(f"  … {signals.height - show} more", highlight=False)
    if tasks:
        from vip_workflow.work.board import TaskBoard

        managers = (sorted(frame["account_manager"].drop_nulls().unique().to_list())
                    if "account_manager" in frame.columns else [])
        board = TaskBoard(managers=managers)
        report = board.ingest(signals, managers=frame if managers else None)
        out.print(f"tasks: {len(report.created)} opened, {report.duplicates} duplicate "
                  f"signal(s) folded, {report.unassigned} unassigned", highlight=False)
    if output is not None:
        _write(signals, output)
        out.print(f"wrote {output}", highlight=False)


def kpi_command(
    portfolio: Annotated[Path, typer.Argument(
        help="Portfolio: CSV, Parquet or JSON, one row per customer.")],
    rules: Annotated[Path | None, typer.Option(
        "--rules", "-r", help="KPI file (kind: kpis).")] = None,
    preset_name: Annotated[str | None, typer.Option(
        "--preset", "-p", help=f"Bundled KPI book (default {DEFAULT_KPIS}).")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the results (.csv, .parquet, .json).")] = None,
    strict: Annotated[bool, typer.Option(help="Exit 1 when a KPI fails.")] = False,
) -> None:
    """Check a portfolio against KPI targets; print a table of value, target, status, gap."""
    book = _book(rules, preset_name, DEFAULT_KPIS, "kpis")
    frame = _read(portfolio)
    try:
        report = book.report(frame)
    except EvaluationError as exc:
        err.print(f"[red]error: {exc}[/red]")
        raise typer.Exit(1) from None
    out.print(report.to_rich_table())
    if output is not None:
        _write(report.frame, output)
        out.print(f"wrote {output}", highlight=False)
    if strict and not report.ok:
        raise typer.Exit(1)
