"""The vip-workflow command line, run in-process with typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import vip_workflow as vw
from vip_workflow.cli.main import app
from vip_workflow.samples import sample_portfolio

runner = CliRunner()

BAD = """\
name: bad
tiers: [A, B]
scheme:
  type: chain
  default: B
  factors:
    - field: revenue
      bands:
        - {min: 10, tier: Z}
"""


class TestRuleCommands:
    """validate, lint, schema, presets and explain."""

    def test_validate_accepts_a_good_file(self, tmp_path: Path) -> None:
        """A good file prints ok and exits 0."""
        path = vw.preset("hubei-2006").save(tmp_path / "h.yaml")
        result = runner.invoke(app, ["validate", str(path)])
        assert result.exit_code == 0, result.output
        assert "ok" in result.output and "hubei-2006" in result.output

    def test_validate_locates_a_bad_file_and_fails(self, tmp_path: Path) -> None:
        """A bad file prints file:line and the reason, and exits 1."""
        path = tmp_path / "bad.yaml"
        path.write_text(BAD, encoding="utf-8")
        result = runner.invoke(app, ["validate", str(path)])
        assert result.exit_code == 1
        assert f"{path}:9" in result.output and "unknown tier 'Z'" in result.output

    def test_lint_exits_non_zero_on_errors(self, tmp_path: Path) -> None:
        """An overlap error fails the lint run."""
        path = tmp_path / "overlap.yaml"
        path.write_text(BAD.replace("tier: Z}", "tier: A}\n        - {min: 5, max: 10, closed: "
                                    "both, tier: B}"), encoding="utf-8")
        result = runner.invoke(app, ["lint", str(path)])
        assert result.exit_code == 1
        assert "overlap" in result.output

    def test_lint_passes_a_preset(self) -> None:
        """Presets lint clean, even with --strict."""
        result = runner.invoke(app, ["lint", "--preset", "hubei-2006", "--strict"])
        assert result.exit_code == 0, result.output

    def test_schema_prints_json_schema(self) -> None:
        """schema prints a JSON Schema document."""
        result = runner.invoke(app, ["schema"])
        assert result.exit_code == 0
        assert json.loads(result.output)["title"] == "vip_workflow tier rule file"

    def test_presets_lists_every_preset(self) -> None:
        """Every bundled preset appears."""
        result = runner.invoke(app, ["presets"])
        for name in vw.presets():
            assert name in result.output

    def test_explain_judges_one_customer(self) -> None:
        """name=value fields are typed and the decision is explained."""
        result = runner.invoke(app, ["explain", "-p", "hubei-2006", "importance=none",
                                     "revenue=17500", "headcount=230"])
        assert result.exit_code == 0, result.output
        assert "tier A (rule headcount.2)" in result.output


class TestJudgeCommand:
    """judge reads CSV or Parquet, writes the judged rows and prints a summary."""

    def test_csv_in_parquet_out(self, tmp_path: Path) -> None:
        """Every row is judged, as judge_many would."""
        source = tmp_path / "groups.csv"
        portfolio = sample_portfolio(300, seed=2)
        portfolio.write_csv(source)
        target = tmp_path / "judged.parquet"
        result = runner.invoke(app, ["judge", "--preset", "hubei-2006", str(source),
                                     "-o", str(target)])
        assert result.exit_code == 0, result.output
        written = pl.read_parquet(target)
        expected = vw.preset("hubei-2006").judge_many(pl.read_csv(source))
        assert written.get_column("tier").cast(pl.String).to_list() == (
            expected.get_column("tier").cast(pl.String).to_list())
        assert "300 customers" in result.output

    def test_rules_and_preset_together_are_refused(self, tmp_path: Path) -> None:
        """Exactly one source of rules."""
        result = runner.invoke(app, ["judge", "--preset", "hubei-2006", "--rules", "x.yaml",
                                     str(tmp_path / "in.csv")])
        assert result.exit_code == 2

    def test_rules_file_parquet_in_csv_out(self, tmp_path: Path) -> None:
        """judge --rules FILE reads Parquet and writes CSV with judge_many's tiers."""
        rules = vw.preset("hubei-2006").save(tmp_path / "rules.yaml")
        source = tmp_path / "groups.parquet"
        sample_portfolio(200, seed=3).write_parquet(source)
        target = tmp_path / "judged.csv"
        result = runner.invoke(app, ["judge", "--rules", str(rules), str(source),
                                     "-o", str(target)])
        assert result.exit_code == 0, result.output
        written = pl.read_csv(target)
        expected = vw.load_rules(rules).judge_many(pl.read_parquet(source))
        assert written.height == 200
        assert written.get_column("tier").to_list() == (
            expected.get_column("tier").cast(pl.String).to_list())
        assert f"wrote {target}" in result.output

    def test_a_trigger_book_is_refused_with_exit_2(self, tmp_path: Path) -> None:
        """A trigger preset has no tiers: a clear message, no AttributeError traceback."""
        source = tmp_path / "groups.csv"
        sample_portfolio(20, seed=1).write_csv(source)
        result = runner.invoke(app, ["judge", "-p", "seed-001-triggers", str(source)])
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "not a tier rule book" in result.output
        assert "seed-001-triggers" in result.output

    def test_an_unknown_output_format_is_refused_before_judging(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """-o x.txt fails at once with exit 2: nothing is read or judged first."""
        def never(*args: object, **kwargs: object) -> None:
            raise AssertionError("judged before checking the output format")

        monkeypatch.setattr(vw.RuleBook, "judge_many", never)
        source = tmp_path / "groups.csv"
        sample_portfolio(20, seed=1).write_csv(source)
        result = runner.invoke(app, ["judge", "-p", "hubei-2006", str(source),
                                     "-o", str(tmp_path / "x.txt")])
        assert result.exit_code == 2, result.output
        assert "cannot write .txt; use .csv" in result.output
        assert not (tmp_path / "x.txt").exists()

    def test_a_missing_input_file_fails_cleanly(self, tmp_path: Path) -> None:
        """No traceback for a missing file."""
        result = runner.invoke(app, ["judge", "-p", "hubei-2006", str(tmp_path / "no.csv")])
        assert result.exit_code == 1
        assert "not found" in result.output


def test_validate_accepts_every_kind_of_preset(tmp_path: Path) -> None:
    """Tier, trigger and KPI files all validate."""
    paths = [str(vw.preset(name).save(tmp_path / f"{name}.yaml")) for name in vw.presets()]
    result = runner.invoke(app, ["validate", *paths])
    assert result.exit_code == 0, result.output
    assert result.output.count("ok ") == len(paths)
