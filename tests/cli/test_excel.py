"""Excel in and out: .xlsx data files read and written by every command, and tier books as
Excel decision tables (export → edit → import, with located errors)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from typer.testing import CliRunner

import vip_workflow as vw
from tests.rules.strategies import rule_files
from vip_workflow.cli.io import InputFileError, read_table, write_table
from vip_workflow.cli.main import app
from vip_workflow.rules.tiers.excel import read_decision_table, write_decision_table
from vip_workflow.samples import sample_portfolio

runner = CliRunner()
NAMES = ["中国移动湖北公司", "武汉钢铁集团", "东风汽车", "华中科技大学", "湖北省人民医院"]
HUBEI = "hubei-2006"

CHINESE_BOOK = """\
kind: tiers
name: 湖北集团客户
title: 湖北移动集团客户价值分级（2006）
description: 先看重要性，再看月收入
tiers: [金牌, 银牌, 铜牌]
id_field: 客户编号
scheme:
  type: chain
  policy: highest
  default: 铜牌
  factors:
    - id: 重要性
      field: 重要性
      label: 客户重要性
      values: [省级政府, 市级政府, 其他]
      bands:
        - {in: [省级政府], tier: 金牌, note: 省级政府机关}
        - {in: [市级政府], tier: 银牌}
    - field: 月收入
      label: 月收入（元）
      bands:
        - {min: 60000, tier: 金牌}
        - {min: 18000, max: 60000, tier: 银牌}
"""


def _portfolio(n: int = 50) -> pl.DataFrame:
    frame = sample_portfolio(n, seed=11)
    return frame.with_columns(pl.Series("name", [NAMES[i % len(NAMES)] for i in range(n)]))


class TestDataFiles:
    """.xlsx wherever a data file is read or written."""

    def test_judge_reads_and_writes_xlsx_as_it_does_csv(self, tmp_path: Path) -> None:
        """Chinese names survive; the tiers are those of the same rows from a CSV."""
        frame = _portfolio()
        source = tmp_path / "groups.xlsx"
        write_table(frame, source)
        target = tmp_path / "judged.xlsx"
        result = runner.invoke(app, ["judge", "-p", HUBEI, str(source), "-o", str(target)])
        assert result.exit_code == 0, result.output
        written = read_table(target)
        assert written.get_column("name").to_list() == frame.get_column("name").to_list()
        expected = vw.preset(HUBEI).judge_many(frame).get_column("tier").cast(pl.String)
        assert written.get_column("tier").to_list() == expected.to_list()

    @pytest.mark.parametrize("row", [2, 40])
    def test_text_in_a_number_column_is_located(self, tmp_path: Path, row: int) -> None:
        """calamine would read "N/A" as an empty cell: it is named by sheet row, column, data
        row and value instead."""
        frame = _portfolio(50).with_columns(pl.col("revenue").cast(pl.Float64))
        source = tmp_path / "groups.xlsx"
        write_table(frame, source)
        workbook = openpyxl.load_workbook(source)
        column = frame.columns.index("revenue") + 1
        workbook.active.cell(row=row + 1, column=column, value="N/A")
        workbook.save(source)
        with pytest.raises(InputFileError) as caught:
            read_table(source)
        error = caught.value
        assert (error.line, error.column, error.field) == (row + 1, column, "revenue")
        assert f"data row {row}: 'N/A' is not a number" in error.reason

    def _two_sheets(self, tmp_path: Path, frame: pl.DataFrame) -> Path:
        """A workbook whose first sheet is a note and whose second, 客户, holds ``frame``."""
        source = tmp_path / "groups.xlsx"
        write_table(frame, source)
        workbook = openpyxl.load_workbook(source)
        workbook.active.title = "客户"
        notes = workbook.create_sheet("说明", 0)
        notes.append(["本表为湖北集团客户名单"])
        workbook.save(source)
        return source

    @pytest.mark.parametrize("sheet", ["客户", "2"])
    def test_sheet_picks_the_sheet_read(self, tmp_path: Path, sheet: str) -> None:
        """--sheet by name or number: the data sheet after a sheet of notes is judged."""
        frame = _portfolio(20)
        source = self._two_sheets(tmp_path, frame)
        target = tmp_path / "judged.csv"
        result = runner.invoke(app, ["judge", "-p", HUBEI, str(source), "--sheet", sheet,
                                     "-o", str(target)])
        assert result.exit_code == 0, result.output
        expected = vw.preset(HUBEI).judge_many(frame).get_column("tier").cast(pl.String)
        assert read_table(target).get_column("tier").to_list() == expected.to_list()
        assert read_table(source, sheet=sheet).height == 20

    def test_an_unknown_sheet_and_a_sheet_of_a_csv(self, tmp_path: Path) -> None:
        """An unknown sheet lists the workbook's sheets with a did-you-mean; --sheet on a
        CSV is a wrong request; both exit 2."""
        source = self._two_sheets(tmp_path, _portfolio(5))
        result = runner.invoke(app, ["judge", "-p", HUBEI, str(source), "--sheet", "客"])
        assert result.exit_code == 2
        assert result.stderr.startswith(f"{source}: no sheet '客'; did you mean '客户'? (the "
                                        "workbook's sheets: 说明, 客户; or give a number from 1 "
                                        "to 2)")
        csv = tmp_path / "groups.csv"
        write_table(_portfolio(5), csv)
        result = runner.invoke(app, ["judge", "-p", HUBEI, str(csv), "--sheet", "2"])
        assert result.exit_code == 2
        assert "--sheet 2 is for Excel workbooks; this is CSV" in result.stderr

    def test_text_in_a_number_column_of_a_later_sheet(self, tmp_path: Path) -> None:
        """The number-column check reads the sheet asked for."""
        frame = _portfolio(10).with_columns(pl.col("revenue").cast(pl.Float64))
        source = self._two_sheets(tmp_path, frame)
        workbook = openpyxl.load_workbook(source)
        column = frame.columns.index("revenue") + 1
        workbook["客户"].cell(row=4, column=column, value="N/A")
        workbook.save(source)
        with pytest.raises(InputFileError) as caught:
            read_table(source, sheet="客户")
        assert (caught.value.line, caught.value.column) == (4, column)

    def test_a_chinese_book_judges_a_chinese_sheet(self, tmp_path: Path) -> None:
        """Chinese field names, values, tiers and customer names, from .xlsx to .xlsx."""
        book = vw.loads_rules(CHINESE_BOOK, kind="tiers")
        rules = book.save(tmp_path / "分级.yaml")
        frame = pl.DataFrame({"客户编号": ["G1", "G2", "G3"], "客户名称": NAMES[:3],
                              "重要性": ["省级政府", "其他", "其他"],
                              "月收入": [100.0, 20_000.0, 5.0]})
        source = tmp_path / "客户.xlsx"
        write_table(frame, source)
        target = tmp_path / "结果.xlsx"
        result = runner.invoke(app, ["judge", "-r", str(rules), str(source), "-o", str(target)])
        assert result.exit_code == 0, result.output
        written = read_table(target)
        assert written.get_column("tier").to_list() == ["金牌", "银牌", "铜牌"]
        assert written.get_column("客户名称").to_list() == NAMES[:3]

    def test_a_missing_extra_is_named(self, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
        """Without fastexcel: exit 2 naming pip install 'vip_workflow[excel]'."""
        source = tmp_path / "groups.xlsx"
        write_table(_portfolio(5), source)
        monkeypatch.setitem(sys.modules, "fastexcel", None)
        result = runner.invoke(app, ["judge", "-p", HUBEI, str(source)])
        assert result.exit_code == 2
        assert "vip_workflow[excel]" in result.stderr

    def test_a_broken_workbook_is_one_located_line(self, tmp_path: Path) -> None:
        """Not a zip: exit 1, the file named, no traceback."""
        source = tmp_path / "groups.xlsx"
        source.write_bytes(b"not a workbook")
        result = runner.invoke(app, ["kpi", str(source)])
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith(f"{source}: cannot read as Excel")


def _round_trip(book: vw.RuleBook, path: Path) -> vw.RuleBook:
    write_decision_table(book, path)
    return read_decision_table(path)


class TestDecisionTables:
    """A tier book exported to a workbook and imported back is the same book."""

    @pytest.mark.parametrize("name", vw.presets(kind="tiers"))
    def test_every_preset_round_trips(self, tmp_path: Path, name: str) -> None:
        """export then import: the same rule file, key for key."""
        book = vw.preset(name, kind="tiers")
        assert _round_trip(book, tmp_path / "t.xlsx").to_dict() == book.to_dict()

    def test_a_chinese_title_and_values_round_trip(self, tmp_path: Path) -> None:
        """Chinese title, tiers, fields, values and notes come back as written."""
        book = vw.loads_rules(CHINESE_BOOK, kind="tiers")
        back = _round_trip(book, tmp_path / "分级.xlsx")
        assert back.to_dict() == book.to_dict()
        assert back.rules.title == "湖北移动集团客户价值分级（2006）"

    def test_the_sheets_read_as_a_decision_table(self, tmp_path: Path) -> None:
        """Book holds the settings; Bands one band a row, the factor on its first row."""
        path = tmp_path / "t.xlsx"
        write_decision_table(vw.preset(HUBEI, kind="tiers"), path)
        workbook = openpyxl.load_workbook(path)
        assert workbook.sheetnames == ["Book", "Bands"]
        book = {row[0]: row[1] for row in workbook["Book"].iter_rows(values_only=True)}
        assert book["name"] == HUBEI and book["tiers"] == "[A+, A, B+, B, C]"
        rows = list(workbook["Bands"].iter_rows(values_only=True))
        titles = rows[0]
        revenue = [dict(zip(titles, row, strict=True)) for row in rows[1:]][3:6]
        assert [(r["field"], r["min"], r["max"], r["tier"]) for r in revenue] == [
            ("revenue", 60000, None, "A+"), (None, 18000, 60000, "A"), (None, 7000, 18000, "B")]

    def test_cli_export_then_import(self, tmp_path: Path) -> None:
        """vip-workflow export RULES -o X.xlsx; vip-workflow import X.xlsx -o Y.yaml."""
        rules = vw.preset(HUBEI).save(tmp_path / "tiers.yaml")
        workbook, back = tmp_path / "tiers.xlsx", tmp_path / "back.yaml"
        result = runner.invoke(app, ["export", str(rules), "-o", str(workbook)])
        assert result.exit_code == 0, result.output
        result = runner.invoke(app, ["import", str(workbook), "-o", str(back)])
        assert result.exit_code == 0, result.output
        assert vw.load_rules(back).to_dict() == vw.preset(HUBEI).to_dict()

    @pytest.mark.parametrize(("args", "message"), [
        (["export", "-p", HUBEI, "-o", "t.csv"], "written as .xlsx"),
    ])
    def test_wrong_requests_exit_2(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   args: list[str], message: str) -> None:
        """A non-.xlsx output: exit 2, said why (trigger and KPI books are exported too:
        tests/cli/test_excel_books.py)."""
        monkeypatch.chdir(tmp_path)
        result = runner.invoke(app, args)
        assert result.exit_code == 2
        assert message in result.stderr

    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(data=rule_files(portfolio=True))
    @pytest.mark.slow
    def test_export_then_import_gives_the_same_book(self, tmp_path: Path,
                                                    data: dict[str, Any]) -> None:
        """For random valid rule files of every scheme: export → import → the same book."""
        try:
            book = vw.load_rules(data, kind="tiers")
        except vw.RuleFileError:
            return  # the strategy may draw a file the compiler refuses
        assert _round_trip(book, tmp_path / "p.xlsx").to_dict() == book.to_dict()


def _edited(tmp_path: Path, edit: Any) -> Path:
    """The hubei-2006 decision table with ``edit(workbook)`` applied."""
    path = tmp_path / "tiers.xlsx"
    write_decision_table(vw.preset(HUBEI, kind="tiers"), path)
    workbook = openpyxl.load_workbook(path)
    edit(workbook)
    workbook.save(path)
    return path


def _cell(workbook: Any, sheet: str, title: str, row: int) -> Any:
    titles = [c.value for c in workbook[sheet][1]]
    return workbook[sheet].cell(row=row, column=titles.index(title) + 1)


class TestImportErrors:
    """An edited workbook with a mistake: the one located error, WORKBOOK:SHEET:row:column."""

    def test_text_in_a_bound_names_sheet_row_column_and_field(self, tmp_path: Path) -> None:
        """min = "lots" on the revenue factor's second band."""
        path = _edited(tmp_path, lambda wb: setattr(_cell(wb, "Bands", "min", 6), "value",
                                                    "lots"))
        result = runner.invoke(app, ["import", str(path)])
        assert result.exit_code == 1
        column = ["part", "factor", "field", "label", "values", "unknown", "in", "min"].index(
            "min") + 1
        assert result.stderr.startswith(
            f"{path}:Bands:6:{column}: scheme.factors[1] (revenue).bands[1] (A).min: 'lots' is "
            "not a number")
        assert "Traceback" not in result.output

    def test_an_unknown_tier_is_located_at_its_cell(self, tmp_path: Path) -> None:
        """A tier the Book does not declare: its cell in Bands."""
        def edit(wb: Any) -> None:
            _cell(wb, "Bands", "tier", 2).value = "AAA"

        path = _edited(tmp_path, edit)
        with pytest.raises(vw.RuleFileError) as caught:
            read_decision_table(path)
        error = caught.value
        assert (error.path, error.line) == (f"{path}:Bands", 2)
        assert "unknown tier 'AAA'" in error.reason

    def test_a_misspelt_setting_gets_a_did_you_mean(self, tmp_path: Path) -> None:
        """scheme.polcy in Book: located at its row, with the key it should be."""
        def edit(wb: Any) -> None:
            for row in wb["Book"].iter_rows(min_row=2):
                if row[0].value == "scheme.policy":
                    row[0].value = "scheme.polcy"

        path = _edited(tmp_path, edit)
        with pytest.raises(vw.RuleFileError) as caught:
            read_decision_table(path)
        text = "\n".join(str(p) for p in caught.value.problems)
        assert f"{path}:Book:" in text and "policy" in text

    @pytest.mark.parametrize(("edit", "located", "reason"), [
        (lambda wb: setattr(wb["Bands"]["C1"], "value", "feild"), "Bands:1:3",
         "unknown column 'feild'; did you mean 'field'?"),
        (lambda wb: wb.create_sheet("Notes"), "Notes:1:1", "unknown sheet 'Notes'"),
        (lambda wb: setattr(_cell(wb, "Bands", "part", 2), "value", "scheme.factorz"),
         "Bands:2:1", "unknown part 'scheme.factorz'"),
        (lambda wb: setattr(_cell(wb, "Bands", "in", 2), "value", "[a, b"), "Bands:2:7",
         "is not a list"),
    ])
    def test_a_broken_layout_is_located(self, tmp_path: Path, edit: Any, located: str,
                                        reason: str) -> None:
        """Unknown column, unknown sheet, unknown part, a list that does not parse."""
        path = _edited(tmp_path, edit)
        with pytest.raises(vw.RuleFileError) as caught:
            read_decision_table(path)
        assert str(caught.value).startswith(f"{path}:{located}:")
        assert reason in str(caught.value)

    def test_not_a_workbook(self, tmp_path: Path) -> None:
        """A file that is not an .xlsx: one line naming it, exit 1."""
        path = tmp_path / "tiers.xlsx"
        path.write_text("kind: tiers", encoding="utf-8")
        result = runner.invoke(app, ["import", str(path)])
        assert result.exit_code == 1
        assert result.stderr.startswith(f"{path}: not an Excel workbook")
