"""Scenario cases as a table (``NAME.scenarios.csv`` / ``.xlsx``): read with located errors
(file, row, column), GBK and byte-order marks, run by ``vip-workflow test`` and by pytest."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

import vip_workflow as vw

# imported here, not first inside an in-process run (pytester drops what a run imported)
import vip_workflow.testing.pytest_plugin
from vip_workflow.cli.main import app
from vip_workflow.rules.scenarios import load_scenarios, run_suite

pytest_plugins = ["pytester"]

runner = CliRunner()

TIERS = """\
kind: tiers
name: cards
tiers: [金卡, silver, regular]
scheme:
  type: chain
  default: regular
  factors:
    - field: arpu
      bands:
        - {min: 1000, tier: 金卡}
        - {min: 500, max: 1000, tier: silver}
"""

TABLE = """\
case,arpu,expect tier,expect rule,note
1000 is 金卡,1000,金卡,arpu.1,
999 is silver,999,silver,,
half of it,500.0,silver,arpu.2,
no spend,0,regular,default,
a text cannot be judged,lots,null,,正文
"""


def _book(folder: Path, name: str, text: str | None = None) -> None:
    """The rule file NAME.yaml beside the table: ``text`` or the bundled preset NAME."""
    if text is None:
        text = resources.files("vip_workflow.rules.presets").joinpath(
            f"{name}.yaml").read_text("utf-8")
    (folder / f"{name}.yaml").write_text(text, encoding="utf-8")


def _xlsx(path: Path, rows: list[list[object]], sheet: str = "cases") -> Path:
    workbook = openpyxl.Workbook()
    worksheet = workbook.active
    assert worksheet is not None
    worksheet.title = sheet
    for row in rows:
        worksheet.append(row)
    workbook.save(path)
    return path


class TestTierTables:
    """One case a row; the expectation columns; values read as a rule file reads them."""

    def test_a_csv_table_runs_like_its_yaml(self, tmp_path: Path) -> None:
        """Every case passes: numbers, lists, null and Chinese tiers read from cells."""
        _book(tmp_path, "cards", TIERS)
        path = tmp_path / "cards.scenarios.csv"
        path.write_text(TABLE, encoding="utf-8")
        result = run_suite(load_scenarios(path))
        assert result.ok, [r.message() for r in result.failed]
        assert result.suite.cases[0].name == "1000 is 金卡"
        assert result.suite.cases[4].note == "正文"

    def test_a_failure_is_located_at_its_row(self, tmp_path: Path) -> None:
        """A wrong expectation fails with the CSV line of the case and the trace."""
        _book(tmp_path, "cards", TIERS)
        path = tmp_path / "cards.scenarios.csv"
        path.write_text(TABLE.replace("999,silver", "999,金卡"), encoding="utf-8")
        failed = run_suite(load_scenarios(path)).failed
        assert len(failed) == 1
        assert failed[0].message().startswith(
            f"{path}:3:1: case '999 is silver': expected tier 金卡, got tier silver")

    @pytest.mark.parametrize(("old", "new", "where", "reason"), [
        ("999,silver", "999,silvr", ":3:3: cases[1].expect.tier",
         "unknown tier 'silvr'; the book declares: 金卡, silver, regular; did you mean 'silver'?"),
        ("case,arpu,", "case,arpuu,", ":2:2: cases[0].input.arpuu",
         "the book 'cards' reads no field 'arpuu'; did you mean 'arpu'?"),
        ("金卡,arpu.1", "金卡,arpu.9", ":2:4: cases[0].expect.rule", "unknown rule 'arpu.9'"),
        ("half of it,500.0", "half of it,\"[500, 500\"", ":4:2: arpu", "is not a list or map"),
        ("no spend,0", "999 is silver,0", ":5:1: cases[3].name", "is used twice"),
        ("a text cannot be judged,lots", ",lots", ":6:2: case",
         "a tier case is one row: name the case"),
        ("expect tier,expect rule", "expect tier,expect rul", ":1:4:",
         "unknown column 'expect rul'; did you mean 'expect rule'?"),
        ("case,", "name,", ":1:1:", "no column 'case'"),
        (",expect tier,expect rule,", ",tier,rule,", ":1:1:", "no column says what a case "
         "expects"),
    ])
    def test_problems_are_located_at_their_cell(self, tmp_path: Path, old: str, new: str,
                                               where: str, reason: str) -> None:
        """file:line:column: field: reason, the line and column of the CSV cell."""
        _book(tmp_path, "cards", TIERS)
        path = tmp_path / "cards.scenarios.csv"
        assert old in TABLE
        path.write_text(TABLE.replace(old, new, 1), encoding="utf-8")
        with pytest.raises(vw.RuleFileError) as caught:
            load_scenarios(path)
        text = str(caught.value.problems[0] if caught.value.problems else caught.value)
        assert text.startswith(f"{path}{where}"), text
        assert reason in text

    def test_a_list_in_a_cell(self, tmp_path: Path) -> None:
        """A cell [600, 600, 600] is the list of a windowed field."""
        _book(tmp_path, "credit-key-account")
        path = tmp_path / "credit-key-account.scenarios.csv"
        path.write_text("case,bills,arrears,expect tier\n"
                        "steady,\"[600, 600, 600]\",0,credit_key_account\n"
                        "low,\"[499, 499, 499]\",0,not_eligible\n", encoding="utf-8")
        assert run_suite(load_scenarios(path)).ok

    @pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "utf-16"])
    def test_gbk_and_byte_order_marks_are_read(self, tmp_path: Path, encoding: str) -> None:
        """A Chinese Excel export (GBK), CSV UTF-8 with its mark and Unicode text all load."""
        _book(tmp_path, "cards", TIERS)
        path = tmp_path / "cards.scenarios.csv"
        path.write_bytes(TABLE.encode(encoding))
        notes: list[str] = []
        suite = load_scenarios(path, note=notes.append)
        assert run_suite(suite).ok
        assert suite.cases[0].name == "1000 is 金卡"
        assert bool(notes) == (encoding == "gbk")

    def test_bytes_that_are_no_text_are_located(self, tmp_path: Path) -> None:
        """Neither UTF-8 nor GB18030: the line and column of the first bad byte."""
        _book(tmp_path, "cards", TIERS)
        path = tmp_path / "cards.scenarios.csv"
        path.write_bytes(b"case,arpu,expect tier\nx,\xff\xff,gold\n")
        with pytest.raises(vw.RuleFileError, match="byte 0xff is neither UTF-8") as caught:
            load_scenarios(path)
        assert (caught.value.line, caught.value.column) == (2, 3)

    def test_an_xlsx_table_is_located_by_sheet_row_and_column(self, tmp_path: Path) -> None:
        """The first sheet is read; its numbers stay numbers; errors name the sheet."""
        _book(tmp_path, "cards", TIERS)
        rows: list[list[object]] = [["case", "arpu", "expect tier", "expect rule"],
                                    ["1000 is 金卡", 1000, "金卡", "arpu.1"],
                                    [None, None, None, None],
                                    ["500 is silver", 500.0, "silver", None]]
        path = _xlsx(tmp_path / "cards.scenarios.xlsx", rows)
        assert run_suite(load_scenarios(path)).ok
        rows[3][2] = "gold"
        _xlsx(path, rows)
        with pytest.raises(vw.RuleFileError) as caught:
            load_scenarios(path)
        assert str(caught.value).startswith(
            f"{path}:cases:4:3: cases[1].expect.tier: unknown tier 'gold'")


class TestTriggerAndKpiTables:
    """A month a row for triggers; a portfolio row a row for KPIs."""

    def test_a_trigger_table(self, tmp_path: Path) -> None:
        """The case carries down; expect signals lists the month's triggers."""
        _book(tmp_path, "seed-001-triggers")
        path = tmp_path / "seed-001-triggers.scenarios.csv"
        path.write_text(
            "case,period,competitor_share,members,key_person_contacts,expect signals\n"
            "large group,2026-01,0.6,300,1,develop.competitor_large_group\n"
            ",2026-02,0.2,300,1,\n"
            "anomalies,2026-01,,,1,\n", encoding="utf-8")
        result = run_suite(load_scenarios(path))
        assert result.ok, [r.message() for r in result.failed]
        assert [len(c.history or []) for c in result.suite.cases] == [2, 1]
        path.write_text(path.read_text("utf-8").replace(
            "1,develop.competitor_large_group", "1,develop.competitor_larg_group"),
            encoding="utf-8")
        with pytest.raises(vw.RuleFileError, match="unknown trigger") as caught:
            load_scenarios(path)
        assert (caught.value.line, caught.value.column) == (2, 6)

    def test_a_kpi_table(self, tmp_path: Path) -> None:
        """Rows form the case's portfolio; a grouped KPI's outcome is a map."""
        _book(tmp_path, "china-mobile-2006-kpis")
        path = tmp_path / "china-mobile-2006-kpis.scenarios.csv"
        path.write_text(
            "case,kind,segment,members,employees,archive_complete,expect member_coverage,"
            "expect archive_completeness\n"
            "covered,group,A,30,100,true,pass,\"{A: pass, C: fail}\"\n"
            ",group,C,30,100,false,,\n"
            "uncovered,group,A,20,100,true,fail,\n", encoding="utf-8")
        result = run_suite(load_scenarios(path))
        assert result.ok, [r.message() for r in result.failed]
        path.write_text(path.read_text("utf-8").replace("true,fail,", "true,pass,"),
                        encoding="utf-8")
        failed = run_suite(load_scenarios(path)).failed
        assert failed[0].message().startswith(
            f"{path}:4:1: case 'uncovered': expected member_coverage pass, got "
            "member_coverage fail")


class TestCollected:
    """vip-workflow test and pytest find the tables in a folder."""

    def test_the_command_runs_tables_in_a_folder(self, tmp_path: Path) -> None:
        """A folder's CSV and xlsx tables are run beside its YAML files."""
        _book(tmp_path, "cards", TIERS)
        (tmp_path / "cards.scenarios.csv").write_text(TABLE, encoding="utf-8")
        _book(tmp_path, "more", TIERS.replace("name: cards", "name: more"))
        _xlsx(tmp_path / "more.scenarios.xlsx", [["case", "arpu", "expect tier"],
                                                  ["gold", 5000, "金卡"]])
        (tmp_path / "~$more.scenarios.xlsx").write_bytes(b"an Excel lock file")
        result = runner.invoke(app, ["test", str(tmp_path)])
        assert result.exit_code == 0, result.output
        assert "6 of 6 case(s) passed in 2 file(s)" in result.stdout

    def test_pytest_collects_a_table(self, pytester: pytest.Pytester) -> None:
        """One test item per row of a CSV table, failures located at the row."""
        _book(pytester.path, "cards", TIERS)
        (pytester.path / "cards.scenarios.csv").write_text(
            TABLE.replace("999,silver", "999,金卡"), encoding="utf-8")
        result = pytester.runpytest("-v", "-p", "no:cacheprovider", "-W",
                                    "ignore::pytest.PytestAssertRewriteWarning")
        result.assert_outcomes(passed=4, failed=1)
        result.stdout.fnmatch_lines(["*cards.scenarios.csv::no spend PASSED*",
                                     "*cards.scenarios.csv:3:1: case '999 is silver'*"])


class TestTheDocs:
    """docs/scenarios.md's tables run and fail as shown."""

    def _blocks(self) -> list[str]:
        text = (Path(__file__).parents[2] / "docs" / "scenarios.md").read_text("utf-8")
        section = text[text.index("## Cases as a table"):text.index("## Checking the files")]
        return section.split("```text\n")[1:]

    def test_the_tables_shown_pass(self, tmp_path: Path) -> None:
        """The tier, trigger and KPI tables of the page pass against their books."""
        docs = (Path(__file__).parents[2] / "docs" / "scenarios.md").read_text("utf-8")
        cards = docs.split("```yaml\n")[1].split("```")[0]
        _book(tmp_path, "cards", cards)
        _book(tmp_path, "seed-001-triggers")
        _book(tmp_path, "china-mobile-2006-kpis")
        blocks = self._blocks()
        names = ["cards", "seed-001-triggers", "china-mobile-2006-kpis"]
        for name, block in zip(names, blocks, strict=False):
            path = tmp_path / f"{name}.scenarios.csv"
            path.write_text(block.split("```")[0], encoding="utf-8")
            result = run_suite(load_scenarios(path))
            assert result.ok, [r.message() for r in result.failed]
        path = tmp_path / "cards.scenarios.csv"
        table = blocks[0].split("```")[0]
        path.write_text(table.replace("999,silver", "999,silvr"), encoding="utf-8")
        with pytest.raises(vw.RuleFileError) as caught:
            load_scenarios(path)
        shown = blocks[3].split("```")[0].splitlines()
        assert f"cards.scenarios.csv{str(caught.value).partition(str(path))[2]}" == shown[0]
        path.write_text(table.replace("expect rule", "expect rul"), encoding="utf-8")
        with pytest.raises(vw.RuleFileError) as caught:
            load_scenarios(path)
        assert f"cards.scenarios.csv{str(caught.value).partition(str(path))[2]}" == shown[2]


def test_validate_and_lint_take_a_table(tmp_path: Path) -> None:
    """vip-workflow validate and lint check a scenario table as a scenario file."""
    _book(tmp_path, "cards", TIERS)
    path = tmp_path / "cards.scenarios.csv"
    path.write_text(TABLE, encoding="utf-8")
    for command in ("validate", "lint"):
        result = runner.invoke(app, [command, str(path)])
        assert result.exit_code == 0, result.output
    path.write_text(TABLE.replace("999,silver", "999,silvr"), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:3:3: cases[1].expect.tier: unknown tier 'silvr'" in result.output


class TestSuggestRows:
    """--suggest on a table prints CSV rows, which read back as passing cases."""

    @pytest.mark.parametrize(("name", "text"), [
        ("cards", "case,arpu,expect tier\n1000 is 金卡,1000,金卡\n"),
        ("seed-001-triggers", "case,period,revenue,expect signals\nquiet,2026-01,100,\n"),
        ("china-mobile-2006-kpis", "case,kind,members,employees,expect member_coverage\n"
                                   "covered,group,30,100,pass\n"),
    ])
    def test_the_rows_read_back_and_pass(self, tmp_path: Path, name: str, text: str) -> None:
        """The printed header and rows are themselves a table whose cases all pass."""
        _book(tmp_path, name, TIERS if name == "cards" else None)
        path = tmp_path / f"{name}.scenarios.csv"
        path.write_text(text, encoding="utf-8")
        result = runner.invoke(app, ["test", str(path), "--suggest"])
        printed = result.stdout[result.stdout.index("# "):]
        rows = printed.split("\n", 1)[1]
        assert rows.startswith("case,")
        path.write_text(rows, encoding="utf-8")
        again = run_suite(load_scenarios(path))
        assert again.ok, [r.message() for r in again.failed][:3]
        assert len(again.results) > 1
