"""Benchmark: one full monthly cycle on a large portfolio, on SQLite, with a phase breakdown.

    python -m bench cycle                 # 100 000 groups × 24 months
    python -m bench cycle --n 20000       # a quicker run
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import vip_workflow as vw
from vip_workflow.cycle.history import open_cycle_store
from vip_workflow.samples import monthly_portfolios, sample_portfolio


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench cycle")
    parser.add_argument("--n", type=int, default=100_000, help="group customers")
    parser.add_argument("--months", type=int, default=24)
    args = parser.parse_args(argv)
    console = Console()
    started = time.perf_counter()
    from vip_workflow.samples import sample_history, sample_kpi_portfolio

    # one portfolio behind everything: the history ends on its figures, the KPI data are its
    # groups (plus individual VIPs), and each month's portfolio takes that month's history
    portfolio = sample_portfolio(args.n, seed=7)
    history = sample_history(months=args.months, start="2024-11", seed=3, portfolio=portfolio,
                             portfolio_month="2024-11")
    months = monthly_portfolios(portfolio, start="2024-11", months=args.months,
                                   history=history)
    kpi_data = sample_kpi_portfolio(seed=3, portfolio=portfolio)
    made = time.perf_counter() - started
    folder = Path(tempfile.mkdtemp(prefix="vw-bench-cycle-"))
    (folder / "vip.yaml").write_text(
        "name: bench\nstorage: sqlite:///vip.db\ntiers: {preset: hubei-2006}\n"
        "triggers: {preset: seed-001-triggers}\nkpis: {preset: china-mobile-2006-kpis}\n",
        encoding="utf-8")
    workspace = vw.Workspace.from_file(folder / "vip.yaml")
    periods = list(months)
    workspace.run_cycle(periods[-2], months[periods[-2]], history=history,  # the month before
                        kpi_data=kpi_data)
    started = time.perf_counter()
    result = workspace.run_cycle(periods[-1], months[periods[-1]], history=history,
                                 kpi_data=kpi_data)
    total = time.perf_counter() - started
    table = Table("phase", "seconds", "share", title=(
        f"monthly cycle {periods[-1]}: {args.n:,} groups, history {args.months} months "
        f"({history.height:,} rows), SQLite"))
    for phase, seconds in result.timings.items():
        table.add_row(phase, f"{seconds:.3f}", f"{seconds / total:.0%}")
    table.add_row("[bold]total (end to end)[/bold]", f"[bold]{total:.3f}[/bold]", "100%")
    console.print(table)
    signals = 0 if result.signals is None else result.signals.height
    tasks = 0 if result.tasks is None else result.tasks.height
    console.print(f"(sample data generated in {made:.1f} s, not counted; "
                  f"{result.changes.height:,} tier changes, {len(result.reviews):,} reviews, "
                  f"{signals:,} signals, {tasks:,} new tasks)")
    _store_only(console, workspace.store, periods[-1])


def _store_only(console: Console, store: Any, period: str) -> None:
    """The store side alone: the period's tiers, signals and tasks written again into new
    SQLite files, each write in its own transaction and then all of them in one unit of work,
    so the store's speed is seen apart from the rest of the cycle."""
    tiers, signals, tasks = store.tiers(period), store.signals(period), store.tasks()
    folder = Path(tempfile.mkdtemp(prefix="vw-bench-store-"))
    fresh = open_cycle_store(f"sqlite:///{folder / 'apart.db'}")
    table = Table("store step", "rows", "seconds", title="store only (SQLite file)")
    steps = [("replace_tiers", tiers.height, lambda: fresh.replace_tiers(period, tiers)),
             ("replace_signals", signals.height, lambda: fresh.replace_signals(period, signals)),
             ("add_tasks", tasks.height, lambda: fresh.add_tasks(tasks)),
             ("tiers (read back)", tiers.height, lambda: fresh.tiers(period))]
    total = 0.0
    for name, rows, step in steps:
        seconds = _timed(step)
        total += seconds
        table.add_row(name, f"{rows:,}", f"{seconds:.3f}")
    table.add_row("[bold]total, one transaction per write[/bold]", "", f"[bold]{total:.3f}[/bold]")
    together = open_cycle_store(f"sqlite:///{folder / 'together.db'}")

    def one_unit() -> None:
        with together.unit_of_work() as uow:
            uow.replace_tiers(period, tiers)
            uow.replace_signals(period, signals)
            uow.add_tasks(tasks)

    table.add_row("the three writes in one unit of work",
                  f"{tiers.height + signals.height + tasks.height:,}", f"{_timed(one_unit):.3f}")
    table.add_row("the same again (a re-run of the period)", "", f"{_timed(one_unit):.3f}")
    console.print(table)


def _timed(step: Callable[[], object]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started
