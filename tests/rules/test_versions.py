"""Rule versions in time and rule-change previews."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

import vip_workflow as vw
from tests.triggers.helpers import spend_triggers
from vip_workflow.cli.main import app
from vip_workflow.rules.versions import diff_signals, diff_tiers
from vip_workflow.samples import load_sample_portfolio


def _version(version: str, effective: str | None, headcount_a: float = 220) -> vw.RuleBook:
    data: dict[str, Any] = vw.preset("hubei-2006").to_dict()
    data["version"] = version
    data.pop("effective", None)
    if effective:
        data["effective"] = effective
    data["scheme"]["factors"][2]["bands"][1]["min"] = headcount_a
    data["scheme"]["factors"][2]["bands"][2]["max"] = headcount_a
    return vw.load_rules(data)


class TestRuleVersions:
    """The version in force for a period is the latest effective on its first day."""

    def test_a_month_is_its_first_day(self) -> None:
        """effective: 2007-01 means 1 January 2007."""
        assert _version("2", "2007-01").rules.effective == date(2007, 1, 1)

    def test_the_latest_version_in_force_applies(self) -> None:
        """Periods before, on and after the second version's date."""
        versions = vw.RuleVersions([_version("2", "2007-01"), _version("1", None)])
        assert [versions.in_force(p).version for p in ("2006-12", "2007-01", "2008-05-17")] == [
            "1", "2", "2"]

    def test_no_version_in_force_is_a_config_error(self) -> None:
        """A period before every version's date has no rules."""
        versions = vw.RuleVersions([_version("2", "2007-01")])
        with pytest.raises(vw.ConfigError, match="in force"):
            versions.in_force("2006-06")

    def test_two_versions_on_one_date_are_refused(self) -> None:
        """The version in force must be unambiguous."""
        with pytest.raises(vw.ConfigError, match="same date"):
            vw.RuleVersions([_version("1", "2007-01"), _version("2", "2007-01-01")])

    def test_versions_load_from_a_folder(self, tmp_path: Path) -> None:
        """Every rule file of a folder is a version."""
        _version("1", "2006-07").save(tmp_path / "v1.yaml")
        _version("2", "2007-01", 200).save(tmp_path / "v2.yaml")
        versions = vw.RuleVersions.load([tmp_path])
        assert [b.version for b in versions] == ["1", "2"]
        assert versions.in_force("2007-03").judge(
            {"importance": "none", "revenue": 0, "headcount": 205}).tier == "A"


class TestDiff:
    """diff_tiers shows who changes tier under a new version."""

    def test_moving_a_bound_moves_exactly_the_customers_between(self) -> None:
        """Lowering A's headcount floor from 220 to 200 lifts 200–219 from B+ to A."""
        portfolio = load_sample_portfolio()
        result = diff_tiers(_version("1", None), _version("2", None, 200), portfolio)
        judged = vw.preset("hubei-2006").judge_many(portfolio)
        between = judged.filter(pl.col("headcount").is_between(200, 219)
                                & (pl.col("tier") == "B+"))
        assert result.changed.height == between.height > 0
        assert set(result.changed.get_column("customer")) == set(between["customer_id"])
        assert result.moves() == {"up": between.height, "down": 0, "other": 0,
                                  "same": portfolio.height - between.height}

    def test_the_cli_prints_the_preview(self, tmp_path: Path) -> None:
        """vip-workflow diff --rules OLD NEW --data FILE."""
        old = _version("1", None).save(tmp_path / "old.yaml")
        new = _version("2", None, 200).save(tmp_path / "new.yaml")
        data = tmp_path / "groups.parquet"
        load_sample_portfolio().write_parquet(data)
        result = CliRunner().invoke(app, ["diff", "--rules", str(old), str(new),
                                          "--data", str(data)])
        assert result.exit_code == 0, result.output
        assert "customers change tier" in result.output


class TestSignalDiff:
    """diff_signals shows which signals a trigger change adds or drops."""

    def test_lowering_a_threshold_only_adds_signals_of_that_trigger(self, tmp_path: Path) -> None:
        """A looser competitor-share threshold adds signals to that trigger alone."""
        from vip_workflow.samples import sample_history

        history = sample_history(300, 12, seed=4)
        old = vw.preset("seed-001-triggers")
        data = old.to_dict()
        data["version"] = "2"
        changed = data["triggers"][0]
        changed["when"]["all"][0]["value"] = 0.3
        new = vw.load_rules(data)
        result = diff_signals(old, new, history)
        assert result.disappear.height == 0
        assert set(result.appear.get_column("trigger")) <= {changed["id"]}
        table = dict(result.by_trigger().select("trigger", "appear").iter_rows())
        assert table[changed["id"]] == result.appear.height
        old_path, new_path = old.save(tmp_path / "old.yaml"), new.save(tmp_path / "new.yaml")
        history.write_parquet(tmp_path / "history.parquet")
        output = CliRunner().invoke(app, ["diff", "--rules", str(old_path), str(new_path),
                                          "--data", str(tmp_path / "history.parquet")])
        assert output.exit_code == 0, output.output
        assert f"{result.appear.height:,} appear" in output.output




def _kpis(version: str, effective: str | None, target: float = 1000) -> Any:
    data: dict[str, Any] = {
        "kind": "kpis", "name": "revenue-kpis", "version": version,
        "kpis": [{"id": "revenue", "measure": {"type": "sum", "field": "revenue"},
                  "target": target}]}
    if effective:
        data["effective"] = effective
    return vw.load_rules(data)


class TestTriggerAndKpiVersions:
    """Trigger and KPI books have versions in time too, picked the same way."""

    @pytest.mark.parametrize("make", [spend_triggers, _kpis], ids=["triggers", "kpis"])
    def test_the_latest_version_in_force_applies(self, make: Any) -> None:
        """effective: YYYY-MM is the month's first day; the latest on or before applies."""
        versions = vw.RuleVersions([make("2", "2007-01"), make("1", None)])
        assert versions.books[1].rules.effective == date(2007, 1, 1)
        assert [versions.in_force(p).version for p in ("2006-12", "2007-01", "2008-05")] == [
            "1", "2", "2"]
        assert versions.kind == make("1", None).rules.kind
        assert versions.latest.version == "2"

    @pytest.mark.parametrize("make", [spend_triggers, _kpis], ids=["triggers", "kpis"])
    def test_two_versions_on_one_date_are_refused(self, make: Any) -> None:
        with pytest.raises(vw.ConfigError, match="same date"):
            vw.RuleVersions([make("1", "2007-01"), make("2", "2007-01-01")])

    def test_versions_of_different_kinds_are_refused(self) -> None:
        """A trigger book is not a version of a KPI book (nor of a tier book)."""
        with pytest.raises(vw.ConfigError, match="one kind"):
            vw.RuleVersions([spend_triggers("1", None), _kpis("2", "2007-01")])
        with pytest.raises(vw.ConfigError, match="one kind"):
            vw.RuleVersions([_version("1", None), spend_triggers("2", "2007-01")])

    def test_a_folder_of_trigger_versions_loads_and_checks_its_kind(self, tmp_path: Path) -> None:
        """load(kind=…) refuses a file of another kind in the folder."""
        spend_triggers("1", None).save(tmp_path / "v1.yaml")
        spend_triggers("2", "2026-10", 1000).save(tmp_path / "v2.yaml")
        versions = vw.RuleVersions.load([tmp_path], kind="triggers")
        assert [(b.version, b.rules.effective) for b in versions] == [
            ("1", None), ("2", date(2026, 10, 1))]
        assert versions.in_force("2026-09").trigger("risk.high_spend").when.value == 100
        assert versions.in_force("2026-10").trigger("risk.high_spend").when.value == 1000
        with pytest.raises(vw.ConfigError, match="holds triggers rules, not kpis"):
            vw.RuleVersions.load([tmp_path], kind="kpis")
        (tmp_path / "empty").mkdir()
        with pytest.raises(vw.ConfigError, match="no rule files"):
            vw.RuleVersions.load([tmp_path / "empty"])
