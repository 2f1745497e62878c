"""``vip-workflow demo``: the main job on the embedded default, start to finish.

Two monthly cycles on the bundled sample portfolio in a SQLite workspace, then one sales
process walked through its approval levels, and where to find the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table

from vip_workflow.cycle.workspace import CycleResult, Workspace, WorkspaceConfig
from vip_workflow.samples import monthly_portfolios

__all__ = ["run_demo"]

DEMO_CONFIG = """\
# A vip_workflow workspace: the monthly key-account cycle.
name: vip_workflow demo
storage: sqlite:///vip.db
tiers: {preset: hubei-2006}
triggers: {preset: seed-001-triggers}
kpis: {preset: china-mobile-2006-kpis}
reference_shares: {A+: 0.05, A: 0.10, B+: 0.10, B: 0.05, C: 0.70}
reports: reports
"""


def _tier_table(result: CycleResult) -> Table:
    counts = dict(result.judged.get_column("tier").cast(pl.String).value_counts().iter_rows())
    table = Table("tier", "customers", title=f"{result.period}: {result.book} v"
                  f"{result.book_version}")
    for tier in result.judged.get_column("tier").dtype.categories:  # type: ignore[attr-defined]
        table.add_row(tier, f"{counts.get(tier, 0):,}")
    return table


def _walk_sales(workspace: Workspace, console: Console, customer: dict[str, Any]) -> None:
    from vip_workflow.processes import Actor

    engine = workspace.engine
    manager = Actor("am-li", roles={"account_manager"})
    business = Actor("bm-zhao", roles={"business_manager"})
    director = Actor("dd-wang", roles={"department_director"})
    vp = Actor("vp-chen", roles={"vp_business_development"})
    context = {"customer_id": customer["customer_id"], "customer_name": customer["name"],
               "tier": customer["tier"], "account_manager_id": manager.id,
               "contract_value": 650_000, "discount": 0.05}
    inst = engine.start("sales", context, actor=manager, comment="annual group contract")
    steps: list[tuple[str, Any]] = [
        ("plan_ready", manager), ("submit", manager), ("approve", business),
        ("approve", director), ("approve", vp), ("sign", manager), ("enter_order", business),
        ("file", manager),
    ]
    for event, actor in steps:
        if event == "approve":
            engine.approve(inst.id, actor=actor, comment="ok")
        else:
            engine.fire(inst.id, event, actor=actor)
    done = engine.get(inst.id)
    console.print(f"\nSales process {done.id} for {customer['name']} ({customer['tier']}), "
                  f"contract 650 000 CNY: three approval levels (business manager, department "
                  f"director, VP — the VP level because the value exceeds 500 000).")
    table = Table("actor", "action", "from", "to", title="audit ledger")
    for entry in done.history:
        table.add_row(entry.actor, entry.action, str(entry.source or ""),
                      str(entry.dest or ""))
    console.print(table)
    console.print(f"final state: {done.state}; ledger verifies: {done.verify_ledger()}")


def run_demo(directory: str | Path, console: Console) -> Path:
    """Run the demo in ``directory`` (created if needed); returns the last report's path."""
    folder = Path(directory).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / "vip.yaml"
    if not config_path.exists():
        config_path.write_text(DEMO_CONFIG, encoding="utf-8")
    workspace = Workspace.from_file(config_path)
    assert isinstance(workspace.config, WorkspaceConfig)
    from vip_workflow.samples import load_sample_portfolio, sample_history, sample_kpi_portfolio

    # One portfolio behind everything: the history ends on it (2026-09) and runs a month
    # on, the October snapshot is the history's October, the KPI data are its groups.
    portfolio = load_sample_portfolio()
    history = sample_history(months=24, start="2024-11", seed=3, portfolio=portfolio,
                             portfolio_month="2026-09")
    months = monthly_portfolios(portfolio, start="2026-09", months=2, history=history)
    kpi_portfolio = sample_kpi_portfolio(seed=3, portfolio=portfolio)
    console.rule(f"vip_workflow demo — workspace {folder}")
    console.print(f"storage {workspace.config.storage}; tier rules "
                  f"{workspace.tier_book('2026-09').name}; sample portfolio of "
                  f"{portfolio.height:,} group customers and "
                  f"{portfolio.get_column('account_manager').n_unique():,} account managers, "
                  f"two months; the same customers' 24-month history feeds the triggers and "
                  f"their KPI data (plus {kpi_portfolio.height - portfolio.height:,} "
                  f"individual VIPs) the KPIs")
    result: CycleResult | None = None
    for period, snapshot in months.items():
        result = workspace.run_cycle(period, snapshot, history=history,
                                     kpi_data=kpi_portfolio)
        console.print(_tier_table(result))
        console.print(result.summary(), highlight=False)
    assert result is not None
    if result.changes.height:
        moves = dict(result.changes.get_column("direction").value_counts().iter_rows())
        console.print(f"tier changes {result.period}: {moves}")
    judged = result.judged.filter(pl.col("tier").cast(pl.String).is_in(["A+", "A"]))
    customer = judged.row(0, named=True)
    customer["tier"] = str(customer["tier"])
    _walk_sales(workspace, console, customer)
    console.print(f"\nReport: {result.report}")
    console.print(f"Results: {result.outputs} (tiers, changes, signals, tasks, KPIs)")
    _how_to_serve(console, config_path, str(customer.get("account_manager") or "AM001"))
    return result.report


def _how_to_serve(console: Console, config_path: Path, manager: str) -> None:
    """The commands that serve the demo workspace (the HTTP service and the workbench)."""
    from importlib.util import find_spec

    console.print("\nServe the workspace (HTTP API and the workbench at /web):")
    if find_spec("fastapi") is None:
        console.print("  pip install 'vip_workflow[server]'", highlight=False, soft_wrap=True)
    console.print(f"  vip-workflow token create --workspace {config_path} --user {manager} "
                  "--roles account_manager", highlight=False, soft_wrap=True)
    console.print(f"  vip-workflow serve --workspace {config_path}", highlight=False,
                  soft_wrap=True)
