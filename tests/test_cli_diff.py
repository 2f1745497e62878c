"""vip-workflow diff refuses files it cannot compare: mismatched kinds and KPI files."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import vip_workflow as vw
from vip_workflow.cli.main import app
from vip_workflow.samples import load_sample_portfolio

runner = CliRunner()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """One file of each kind, plus a second tier file and a second trigger file."""
    return {
        "tiers": vw.preset("hubei-2006").save(tmp_path / "tiers.yaml"),
        "tiers2": vw.preset("china-mobile-abc").save(tmp_path / "tiers2.yaml"),
        "triggers": vw.preset("seed-001-triggers").save(tmp_path / "triggers.yaml"),
        "kpis": vw.preset("china-mobile-2006-kpis").save(tmp_path / "kpis.yaml"),
        "kpis2": vw.preset("china-mobile-2006-kpis").save(tmp_path / "kpis2.yaml"),
    }


def _diff(old: Path, new: Path, data: Path) -> object:
    return runner.invoke(app, ["diff", str(old), str(new), str(data)])


class TestRefusals:
    @pytest.mark.parametrize(("old", "new", "old_kind", "new_kind"), [
        ("tiers", "triggers", "a tier rule file", "a trigger file"),
        ("triggers", "tiers", "a trigger file", "a tier rule file"),
        ("tiers", "kpis", "a tier rule file", "a KPI file"),
        ("kpis", "triggers", "a KPI file", "a trigger file"),
    ])
    def test_files_of_different_kinds_are_refused(
            self, files: dict[str, Path], tmp_path: Path, old: str, new: str, old_kind: str,
            new_kind: str) -> None:
        """Exit 2 with both files and their kinds named, before the data is read (it need
        not even exist)."""
        result = _diff(files[old], files[new], tmp_path / "absent.csv")
        assert result.exit_code == 2, result.output
        assert "same kind" in result.stderr
        assert f"{files[old]} is {old_kind}" in result.stderr
        assert f"{files[new]} is {new_kind}" in result.stderr
        assert isinstance(result.exception, SystemExit)  # a clean exit, no crash

    def test_kpi_files_are_refused_with_the_command_to_use(
            self, files: dict[str, Path], tmp_path: Path) -> None:
        """Two KPI files: diff does not compare them; it points to vip-workflow kpi."""
        data = tmp_path / "portfolio.csv"
        result = _diff(files["kpis"], files["kpis2"], data)
        assert result.exit_code == 2, result.output
        assert "compares tier rule files or trigger files, not KPI files" in result.stderr
        assert f"({files['kpis']}, {files['kpis2']})" in result.stderr
        assert f"vip-workflow kpi {data} -r FILE" in result.stderr
        assert isinstance(result.exception, SystemExit)

    def test_a_bad_file_is_still_a_located_error(self, files: dict[str, Path],
                                                 tmp_path: Path) -> None:
        """A file that does not load exits 1, as before, whatever the other file."""
        bad = tmp_path / "bad.yaml"
        bad.write_text("kind: kpis\nname: x\nkpis: []\n", encoding="utf-8")
        result = _diff(files["tiers"], bad, tmp_path / "absent.csv")
        assert result.exit_code == 1, result.output


class TestSameKinds:
    def test_two_tier_files_are_compared(self, files: dict[str, Path], tmp_path: Path) -> None:
        """Different tier files of the same kind pass the check."""
        data = tmp_path / "groups.parquet"
        load_sample_portfolio().head(200).write_parquet(data)
        result = _diff(files["tiers"], files["tiers2"], data)
        assert result.exit_code == 0, result.output
        assert "customers by old and new tier" in result.output

    def test_two_trigger_files_are_compared(self, files: dict[str, Path],
                                            tmp_path: Path) -> None:
        """The same trigger file twice: no signal appears or disappears."""
        from vip_workflow.samples import sample_history

        data = tmp_path / "history.parquet"
        sample_history(50, 6, seed=2).write_parquet(data)
        result = _diff(files["triggers"], files["triggers"], data)
        assert result.exit_code == 0, result.output
        assert "signals by trigger" in result.output
