"""Trigger and KPI books in Excel: export → edit → import, with located errors (sheet, row,
column), and the round trip proven on the presets and random books (hypothesis)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import vip_workflow as vw
from tests.triggers.generated import kpi_book, trigger_book
from vip_workflow.cli.excel import read_rule_workbook, write_rule_workbook
from vip_workflow.cli.main import app

runner = CliRunner()
TRIGGERS, KPIS = "seed-001-triggers", "china-mobile-2006-kpis"
#: text an analyst types: Chinese, Latin letters, digits, spaces and punctuation
WORDS = st.text(st.characters(codec="utf-8", categories=("L", "N", "Zs", "Po")),
                min_size=1, max_size=30).map(str.strip).filter(bool)


def _round_trip(book: Any, path: Path) -> Any:
    write_rule_workbook(book, path)
    return read_rule_workbook(path)


def _edited(tmp_path: Path, preset: str, sheet: str, cells: dict[tuple[int, int], Any]) -> Path:
    """The preset's workbook with ``cells`` ((row, column) → value) of ``sheet`` changed."""
    path = tmp_path / f"{preset}.xlsx"
    write_rule_workbook(vw.preset(preset), path)
    workbook = openpyxl.load_workbook(path)
    for (row, column), value in cells.items():
        workbook[sheet].cell(row=row, column=column).value = value
    workbook.save(path)
    return path


class TestRoundTrip:
    """Export then import gives the same book, key for key."""

    @pytest.mark.parametrize("name", [TRIGGERS, KPIS])
    def test_the_presets(self, tmp_path: Path, name: str) -> None:
        """The bundled trigger and KPI books come back equal."""
        book = vw.preset(name)
        back = _round_trip(book, tmp_path / "book.xlsx")
        assert back.to_dict() == book.to_dict()
        assert back.rules == book.rules

    def test_the_sheets(self, tmp_path: Path) -> None:
        """Book holds the header; Triggers one trigger a row, its condition as in a file."""
        path = tmp_path / "t.xlsx"
        write_rule_workbook(vw.preset(TRIGGERS), path)
        workbook = openpyxl.load_workbook(path)
        assert workbook.sheetnames == ["Book", "Triggers"]
        rows = list(workbook["Triggers"].iter_rows(values_only=True))
        assert rows[0] == ("id", "family", "severity", "title", "action", "emit", "enabled",
                           "when")
        assert rows[1][7] == ("{all: [{field: competitor_share, op: '>=', value: 0.5}, "
                              "{field: members, op: '>=', value: 220}]}")
        book = dict(list(workbook["Book"].iter_rows(values_only=True))[1:])
        assert book["kind"] == "triggers" and book["name"] == TRIGGERS

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(seed=st.integers(0, 100_000), title=WORDS, action=WORDS)
    def test_random_trigger_books(self, tmp_path: Path, seed: int, title: str,
                                  action: str) -> None:
        """Random trigger books (every condition kind, nested all/any/not), Chinese text
        included: export → import → the same book."""
        data = trigger_book(seed).to_dict()
        data["title"] = title
        data["triggers"][0] |= {"title": title, "action": action, "enabled": seed % 2 == 0}
        book = vw.load_rules(data, kind="triggers")
        assert _round_trip(book, tmp_path / "t.xlsx").to_dict() == book.to_dict()

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(seed=st.integers(0, 100_000), title=WORDS)
    def test_random_kpi_books(self, tmp_path: Path, seed: int, title: str) -> None:
        """Random KPI books (ratios, filters, groups, per-group and between targets), Chinese
        text included: export → import → the same book."""
        data = kpi_book(seed).to_dict()
        data["kpis"][0]["title"] = title
        data["description"] = title
        book = vw.load_rules(data, kind="kpis")
        assert _round_trip(book, tmp_path / "k.xlsx").to_dict() == book.to_dict()


class TestLocatedErrors:
    """Importing gives the rule files' own errors, located at the sheet's row and column."""

    def test_a_bad_value_in_a_cell(self, tmp_path: Path) -> None:
        """An unknown family: WORKBOOK:Triggers:row:column, the field and a did-you-mean."""
        path = _edited(tmp_path, TRIGGERS, "Triggers", {(3, 2): "devlop"})
        with pytest.raises(vw.RuleFileError) as caught:
            read_rule_workbook(path)
        assert str(caught.value).startswith(
            f"{path}:Triggers:3:2: triggers[1] (develop.competitor_high_value).family: "
            "unknown family 'devlop'")
        assert "did you mean 'develop'?" in str(caught.value)

    def test_a_bad_condition_is_located_at_its_cell(self, tmp_path: Path) -> None:
        """A condition that is not valid is located at the trigger's when cell."""
        path = _edited(tmp_path, TRIGGERS, "Triggers",
                       {(4, 8): "{count: revenue, months: 0, op: '>=', value: 3}"})
        with pytest.raises(vw.RuleFileError) as caught:
            read_rule_workbook(path)
        assert str(caught.value).startswith(f"{path}:Triggers:4:8: triggers[2]")
        path = _edited(tmp_path, TRIGGERS, "Triggers", {(4, 8): "{count: revenue, months: 3"})
        with pytest.raises(vw.RuleFileError, match="is not a map or list") as caught:
            read_rule_workbook(path)
        assert (caught.value.line, caught.value.column) == (4, 8)

    def test_a_kpi_target_and_the_header(self, tmp_path: Path) -> None:
        """A text target on KPIs; a version typed on Book."""
        path = _edited(tmp_path, KPIS, "KPIs", {(2, 9): "lots"})
        with pytest.raises(vw.RuleFileError) as caught:
            read_rule_workbook(path)
        assert str(caught.value).startswith(f"{path}:KPIs:2:9: kpis[0] (member_coverage).")
        workbook = openpyxl.load_workbook(path)
        assert workbook["KPIs"].cell(row=1, column=9).value == "target"

    @pytest.mark.parametrize(("sheet", "cells", "where", "reason"), [
        ("Triggers", {(1, 2): "famly"}, ":Triggers:1:2:",
         "unknown column 'famly'; did you mean 'family'?"),
        ("Triggers", {(1, 3): "family"}, ":Triggers:1:3:", "the column 'family' is given twice"),
        ("Book", {(4, 1): "name"}, ":Book:4:1: name:", "name is set twice"),
    ])
    def test_columns_and_settings(self, tmp_path: Path, sheet: str,
                                  cells: dict[tuple[int, int], Any], where: str,
                                  reason: str) -> None:
        """A misspelt column, a column given twice, a setting given twice."""
        path = _edited(tmp_path, TRIGGERS, sheet, cells)
        with pytest.raises(vw.RuleFileError) as caught:
            read_rule_workbook(path)
        assert str(caught.value).startswith(f"{path}{where}")
        assert reason in str(caught.value)

    def test_an_unknown_sheet(self, tmp_path: Path) -> None:
        """A sheet the book does not have is named."""
        path = tmp_path / "t.xlsx"
        write_rule_workbook(vw.preset(TRIGGERS), path)
        workbook = openpyxl.load_workbook(path)
        workbook.create_sheet("Notes")
        workbook.save(path)
        with pytest.raises(vw.RuleFileError, match="unknown sheet 'Notes'; a triggers "
                                                   "workbook has the sheets Book, Triggers"):
            read_rule_workbook(path)


class TestCommands:
    """vip-workflow export / import take trigger and KPI books."""

    @pytest.mark.parametrize("name", [TRIGGERS, KPIS])
    def test_export_then_import(self, tmp_path: Path, name: str) -> None:
        """export --preset writes the workbook; import prints the same book as YAML."""
        path = tmp_path / "book.xlsx"
        result = runner.invoke(app, ["export", "--preset", name, "-o", str(path)])
        assert result.exit_code == 0, result.output
        printed = runner.invoke(app, ["import", str(path)])
        assert printed.exit_code == 0, printed.output
        assert vw.loads_rules(printed.stdout).to_dict() == vw.preset(name).to_dict()

    def test_import_prints_every_problem_located(self, tmp_path: Path) -> None:
        """A bad workbook: exit 1, the problem located on stderr."""
        path = _edited(tmp_path, TRIGGERS, "Triggers", {(3, 2): "devlop"})
        result = runner.invoke(app, ["import", str(path)])
        assert result.exit_code == 1
        assert f"{path}:Triggers:3:2:" in result.stderr
