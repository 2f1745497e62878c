"""`vip-workflow run`: the production form of the monthly cycle."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

import vip_workflow as vw
from vip_workflow.cli.main import app
from vip_workflow.samples import load_sample_portfolio, sample_kpi_portfolio

runner = CliRunner()
CONFIG = ("name: cli test\nstorage: sqlite:///vip.db\ntiers: {preset: hubei-2006}\n"
          "kpis: {preset: china-mobile-2006-kpis}\nreports: out\n")


def _folder(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "vip.yaml").write_text(CONFIG, encoding="utf-8")
    data = tmp_path / "groups.csv"
    load_sample_portfolio().head(300).write_csv(data)
    return tmp_path / "vip.yaml", data


class TestRunCommand:
    """`run DATA --config --period [--history] [--kpi-data]`."""

    def test_a_portfolio_without_kpi_columns_runs_and_warns(self, tmp_path: Path) -> None:
        """KPIs the portfolio cannot answer are named in warnings; the cycle completes."""
        config, data = _folder(tmp_path)
        result = runner.invoke(app, ["run", "-c", str(config), "--period", "2026-10",
                                     str(data)])
        assert result.exit_code == 0, result.output
        assert "warning: KPI member_coverage not checked" in result.output
        assert (tmp_path / "out" / "2026-10" / "report.html").exists()

    def test_kpi_data_checks_every_kpi(self, tmp_path: Path) -> None:
        """With --kpi-data every KPI is checked and none is skipped."""
        config, data = _folder(tmp_path)
        kpis = tmp_path / "kpi.parquet"
        sample_kpi_portfolio(300, seed=3).write_parquet(kpis)
        result = runner.invoke(app, ["run", "-c", str(config), "--period", "2026-10",
                                     str(data), "--kpi-data", str(kpis)])
        assert result.exit_code == 0, result.output
        assert "warning" not in result.output
        checked = (tmp_path / "out" / "2026-10" / "kpis.csv").read_text().count("\n") - 1
        assert checked >= len(vw.preset("china-mobile-2006-kpis"))

    def test_bad_data_is_a_clean_error_not_a_traceback(self, tmp_path: Path) -> None:
        """A portfolio without the id column: exit 1, the error named, nothing stored."""
        config, _ = _folder(tmp_path)
        bad = tmp_path / "bad.csv"
        load_sample_portfolio().head(10).drop("customer_id").write_csv(bad)
        result = runner.invoke(app, ["run", "-c", str(config), "--period", "2026-10",
                                     str(bad)])
        assert result.exit_code == 1
        assert "ConfigError" in result.output and "customer_id" in result.output
        assert "Traceback" not in result.output
        assert not (tmp_path / "out" / "2026-10").exists()
