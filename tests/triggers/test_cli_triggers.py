"""scan_command and kpi_command, mounted on a private typer app as cli.py will mount them."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import typer
from typer.testing import CliRunner

from vip_workflow.cli.triggers import kpi_command, scan_command
from vip_workflow.samples import sample_history, sample_kpi_portfolio

app = typer.Typer()
app.command(name="scan")(scan_command)
app.command(name="kpi")(kpi_command)
runner = CliRunner()


def test_scan_prints_counts_and_explained_signals(tmp_path: Path) -> None:
    """Batch by default, with the seed preset; writes a CSV of signals."""
    history = tmp_path / "h.parquet"
    sample_history(60, 12, seed=2).write_parquet(history)
    out = tmp_path / "signals.csv"
    result = runner.invoke(app, ["scan", str(history), "--show", "3", "-o", str(out),
                                 "--tasks"])
    assert result.exit_code == 0, result.output
    assert "seed-001-triggers:" in result.output and "tasks:" in result.output
    assert pl.read_csv(out).columns[:3] == ["customer_id", "period", "trigger"]


def test_scan_live_agrees_with_batch_on_a_csv(tmp_path: Path) -> None:
    """--live replays through durable_rules; same first line."""
    history = tmp_path / "h.csv"
    sample_history(20, 8, seed=3).write_csv(history)
    batch = runner.invoke(app, ["scan", str(history), "-f", "retain", "--show", "0"])
    live = runner.invoke(app, ["scan", str(history), "-f", "retain", "--show", "0", "--live"])
    assert batch.exit_code == live.exit_code == 0, batch.output + live.output
    assert batch.output.splitlines()[0].replace("batch", "live") == live.output.splitlines()[0]


def test_scan_reports_a_bad_rule_file_with_its_line(tmp_path: Path) -> None:
    """Exit 1 and a located error."""
    rules = tmp_path / "t.yaml"
    rules.write_text("kind: triggers\nname: x\ntriggers:\n  - id: a\n    family: nope\n")
    history = tmp_path / "h.csv"
    sample_history(2, 2).write_csv(history)
    result = runner.invoke(app, ["scan", str(history), "-r", str(rules)])
    assert result.exit_code == 1
    assert "t.yaml:5" in result.output


def test_scan_refuses_a_tier_preset() -> None:
    """kind mismatch → exit 2."""
    result = runner.invoke(app, ["scan", "x.csv", "-p", "hubei-2006"])
    assert result.exit_code == 2


def test_kpi_prints_the_table_and_strict_fails_on_a_miss(tmp_path: Path) -> None:
    """The default preset; --strict exits 1 when a KPI fails."""
    portfolio = tmp_path / "p.csv"
    sample_kpi_portfolio(400, seed=1).write_csv(portfolio)
    result = runner.invoke(app, ["kpi", str(portfolio), "-o", str(tmp_path / "k.csv")])
    assert result.exit_code == 0, result.output
    assert "Group-member coverage" in result.output
    strict = runner.invoke(app, ["kpi", str(portfolio), "--strict"])
    failed = (pl.read_csv(tmp_path / "k.csv")["status"] == "fail").any()
    assert strict.exit_code == (1 if failed else 0)
