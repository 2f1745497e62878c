"""Inputs an analyst can act on: encodings detected, text in number columns located by
column, data row and value, explain by id, did-you-mean, no silent overwrite, lists that say
how many more."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import vip_workflow as vw
from vip_workflow.cli.main import app
from vip_workflow.samples import sample_portfolio

runner = CliRunner()
NAMES = ["中国移动湖北公司", "武汉钢铁集团", "东风汽车", "华中科技大学", "湖北省人民医院"]
HUBEI = "hubei-2006"


def _portfolio(n: int = 40) -> pl.DataFrame:
    frame = sample_portfolio(n, seed=7)
    return frame.with_columns(pl.Series("name", [NAMES[i % len(NAMES)] for i in range(n)]))


def _tiers(path: Path) -> list[str | None]:
    return pl.read_csv(path).get_column("tier").to_list()


def _expected(frame: pl.DataFrame) -> list[str | None]:
    judged = vw.preset(HUBEI).judge_many(frame)
    return judged.get_column("tier").cast(pl.String).to_list()


class TestEncodingDetection:
    """The default --encoding auto reads UTF-8, UTF-8 with a BOM, UTF-16 and GBK, and says
    which it guessed."""

    def test_a_gbk_export_is_read_as_gb18030_with_a_note(self, tmp_path: Path) -> None:
        """No option needed: the note names the file and the encoding; names survive."""
        frame = _portfolio()
        source = tmp_path / "groups.csv"
        source.write_bytes(frame.write_csv().encode("gbk"))
        target = tmp_path / "judged.csv"
        result = runner.invoke(app, ["judge", "-p", HUBEI, str(source), "-o", str(target)])
        assert result.exit_code == 0, result.output
        assert f"note: {source} is not UTF-8; read it as GB18030" in result.stderr
        assert pl.read_csv(target).get_column("name").to_list() == frame["name"].to_list()
        assert _tiers(target) == _expected(frame)

    @pytest.mark.parametrize(("mark", "codec"), [(b"\xef\xbb\xbf", "utf-8"),
                                                 (b"", "utf-16")])
    def test_byte_order_marks_are_read_silently(self, tmp_path: Path, mark: bytes,
                                                codec: str) -> None:
        """Excel's "CSV UTF-8" (BOM) and "Unicode text" (UTF-16): no note, the first column
        keeps its name."""
        frame = _portfolio(10)
        source = tmp_path / "groups.csv"
        source.write_bytes(mark + frame.write_csv().encode(codec))
        target = tmp_path / "judged.csv"
        result = runner.invoke(app, ["judge", "-p", HUBEI, str(source), "-o", str(target)])
        assert result.exit_code == 0, result.output
        assert "note:" not in result.stderr
        written = pl.read_csv(target)
        assert written.columns[0] == "customer_id"
        assert written.get_column("name").to_list() == frame["name"].to_list()

    def test_a_file_in_no_known_encoding_is_located(self, tmp_path: Path) -> None:
        """Bytes neither UTF-8 nor GB18030: file:line:column and the --encoding hint."""
        source = tmp_path / "groups.csv"
        source.write_bytes(b"customer_id,name\nG1,ok\nG2,\x80\xff\n")
        result = runner.invoke(app, ["judge", "-p", HUBEI, str(source)])
        assert result.exit_code == 1
        assert (f"{source}:3:4: byte 0x80 is neither UTF-8 nor GBK/GB18030 text (give "
                "--encoding") in result.stderr


def _with_text(n: int, row: int, value: str) -> pl.DataFrame:
    """A portfolio of ``n`` whose revenue in data row ``row`` (1-based) is ``value``."""
    frame = sample_portfolio(n, seed=3).with_columns(pl.col("revenue").cast(pl.String))
    return frame.with_columns(
        pl.when(pl.int_range(pl.len()) == row - 1).then(pl.lit(value))
        .otherwise(pl.col("revenue")).alias("revenue"))


class TestNumberColumns:
    """Text in a column of numbers names the column, the data row (1-based, the header not
    counted) and the value, wherever it is."""

    @pytest.mark.parametrize("row", [2, 11_000])
    def test_n_a_is_located_by_column_row_and_value(self, tmp_path: Path, row: int) -> None:
        """Row 2 (inside polars' type guess) and row 11 000 (past it): the same error."""
        frame = _with_text(11_050, row, "N/A")
        source = tmp_path / "groups.csv"
        frame.write_csv(source)
        result = runner.invoke(app, ["judge", "-p", HUBEI, str(source)])
        assert result.exit_code == 1, result.output
        column = frame.columns.index("revenue") + 1
        assert (f"{source}:{row + 1}:{column}: revenue: data row {row:,}: 'N/A' is not a "
                "number") in result.stderr
        assert "Traceback" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1

    def test_a_column_of_text_numbers_is_refused_by_what_the_rules_read(
            self, tmp_path: Path) -> None:
        """"12,000" in every row makes the column text; the rules compare revenue as a
        number, so the first such cell is named rather than every customer left unjudged."""
        frame = sample_portfolio(20, seed=2).with_columns(
            (pl.col("revenue") + 1_000).map_elements(lambda v: f"{v:,.0f}",
                                                     return_dtype=pl.String))
        source = tmp_path / "groups.csv"
        frame.write_csv(source)
        result = runner.invoke(app, ["judge", "-p", HUBEI, str(source)])
        assert result.exit_code == 1, result.output
        first = frame["revenue"][0]
        assert (f"revenue: data row 1: {first!r} is not a number, though the rules compare "
                "revenue as a number; write numbers without thousands separators; 19 more "
                "such cells") in result.stderr

    def test_a_text_column_the_rules_read_as_text_is_left_alone(self, tmp_path: Path) -> None:
        """importance is text: no refusal."""
        source = tmp_path / "groups.csv"
        _portfolio(10).write_csv(source)
        assert runner.invoke(app, ["judge", "-p", HUBEI, str(source)]).exit_code == 0


class TestExplain:
    """explain by id from a data file, and did-you-mean for a misspelt field."""

    def test_explain_by_id_matches_explaining_the_record(self, tmp_path: Path) -> None:
        """--data FILE --id G…: the same explanation as the customer's fields given by hand."""
        frame = _portfolio(30)
        source = tmp_path / "groups.csv"
        frame.write_csv(source)
        record = frame.row(4, named=True)
        result = runner.invoke(app, ["explain", "-p", HUBEI, "--data", str(source), "--id",
                                     record["customer_id"]])
        decision = vw.preset(HUBEI).judge(record)
        assert result.exit_code == (0 if decision.ok else 1), result.output
        assert result.stdout.strip() == decision.explain().strip()

    def test_fields_given_with_an_id_ask_what_if(self, tmp_path: Path) -> None:
        """revenue=70000 replaces the customer's revenue: the top tier by revenue."""
        frame = _portfolio(30).with_columns(pl.lit("none").alias("importance"),
                                            pl.lit(10).alias("headcount"))
        source = tmp_path / "groups.csv"
        frame.write_csv(source)
        result = runner.invoke(app, ["explain", "-p", HUBEI, "--data", str(source), "--id",
                                     frame["customer_id"][0], "revenue=70000"])
        assert result.exit_code == 0, result.output
        assert "A+" in result.stdout

    def test_an_unknown_id_says_so_and_suggests(self, tmp_path: Path) -> None:
        """exit 1, the file, the column and a close id."""
        frame = _portfolio(30)
        source = tmp_path / "groups.csv"
        frame.write_csv(source)
        known = frame["customer_id"][3]
        result = runner.invoke(app, ["explain", "-p", HUBEI, "--data", str(source), "--id",
                                     known + "9"])
        assert result.exit_code == 1
        assert f"no customer {known + '9'!r} in column customer_id" in result.stderr
        assert known in result.stderr

    def test_an_id_without_data_is_refused(self) -> None:
        """--id needs --data: exit 2."""
        result = runner.invoke(app, ["explain", "-p", HUBEI, "--id", "G1"])
        assert result.exit_code == 2
        assert "--data FILE and --id ID together" in result.stderr

    def test_a_misspelt_field_gets_a_did_you_mean(self) -> None:
        """revnue=… is refused with exit 2 naming revenue, not judged as "revenue missing"."""
        result = runner.invoke(app, ["explain", "-p", HUBEI, "importance=none",
                                     "revnue=17500", "headcount=10"])
        assert result.exit_code == 2
        assert "unknown field 'revnue'; did you mean 'revenue'?" in result.stderr

    def test_a_field_the_rules_do_not_read_is_a_note(self) -> None:
        """name=… is not a typo of anything: a note, and the decision as usual."""
        result = runner.invoke(app, ["explain", "-p", HUBEI, "importance=none",
                                     "revenue=17500", "headcount=10", "name=东风汽车"])
        assert result.exit_code == 0, result.output
        assert "note: the rules do not read 'name'" in result.stderr


class TestOverwrite:
    """judge refuses an input that already has its result columns unless --overwrite."""

    def test_a_judged_file_is_refused(self, tmp_path: Path) -> None:
        """exit 2 naming the columns and the option; nothing written."""
        judged = vw.preset(HUBEI).judge_many(_portfolio(10))
        source = tmp_path / "judged.csv"
        judged.with_columns(pl.col("tier", "rule").cast(pl.String)).write_csv(source)
        target = tmp_path / "again.csv"
        result = runner.invoke(app, ["judge", "-p", HUBEI, str(source), "-o", str(target)])
        assert result.exit_code == 2
        assert "already has the column(s) tier, rule, reason" in result.stderr
        assert "--overwrite" in result.stderr
        assert not target.exists()

    def test_overwrite_replaces_them(self, tmp_path: Path) -> None:
        """With --overwrite the old tiers are replaced, and each column appears once."""
        frame = _portfolio(10)
        source = tmp_path / "judged.csv"
        frame.with_columns(pl.lit("C").alias("tier")).write_csv(source)
        target = tmp_path / "again.csv"
        result = runner.invoke(app, ["judge", "-p", HUBEI, str(source), "-o", str(target),
                                     "--overwrite"])
        assert result.exit_code == 0, result.output
        written = pl.read_csv(target)
        assert written.columns.count("tier") == 1
        assert written.get_column("tier").to_list() == _expected(frame)


class TestListsThatStop:
    """A list cut short says how many more there are and how to see them."""

    def test_diff_says_how_many_more_changed(self, tmp_path: Path) -> None:
        """--show 3 of many changes: "… N more changed customers (--show N lists more)"."""
        old = vw.preset(HUBEI).save(tmp_path / "old.yaml")
        text = old.read_text(encoding="utf-8").replace("min: 7000", "min: 5000")
        new = tmp_path / "new.yaml"
        new.write_text(text, encoding="utf-8")
        data = tmp_path / "groups.csv"
        frame = sample_portfolio(2_000, seed=1)
        frame.write_csv(data)
        changed = (vw.preset(HUBEI).judge_many(frame)["tier"].cast(pl.String)
                   != vw.load_rules(new).judge_many(frame)["tier"].cast(pl.String)).sum()
        assert changed > 3
        result = runner.invoke(app, ["diff", str(old), str(new), str(data), "--show", "3"])
        assert result.exit_code == 0, result.output
        assert f"… {changed - 3:,} more changed customers (--show N lists more)" in result.stdout


class TestProgress:
    """A bar for more than a few thousand rows, none for a few."""

    @pytest.mark.parametrize(("n", "shown"), [(6_000, True), (100, False)])
    def test_judge_counts_customers_on_large_inputs(self, tmp_path: Path, n: int,
                                                    shown: bool) -> None:
        """judge: "judging … 6000/6000" on stderr past 5 000 rows; -q shows nothing."""
        source = tmp_path / "groups.csv"
        sample_portfolio(n, seed=1).write_csv(source)
        result = runner.invoke(app, ["judge", "-p", HUBEI, str(source)])
        assert result.exit_code == 0, result.output
        assert (f"{n}/{n}" in result.stderr) is shown
        quiet = runner.invoke(app, ["judge", "-p", HUBEI, str(source), "-q"])
        assert quiet.stderr == ""

    def test_judge_lists_five_reasons_and_says_how_many_more(self, tmp_path: Path) -> None:
        """Seven kinds of unjudgeable customers: five listed, "… 2 more reasons"."""
        frame = sample_portfolio(7, seed=1).with_columns(
            pl.Series("importance", [f"typo{i}" for i in range(7)]))
        source = tmp_path / "groups.csv"
        frame.write_csv(source)
        result = runner.invoke(app, ["judge", "-p", HUBEI, str(source)])
        assert result.exit_code == 0, result.output
        assert result.stdout.count("could not judge 1:") == 5
        assert "… 2 more reasons" in result.stdout

    def test_other_steps_show_elapsed_time_on_a_terminal(
            self, monkeypatch: pytest.MonkeyPatch) -> None:
        """working(): a bar with the step's name on a terminal past 5 000 rows, and nothing
        for a few rows or when stderr is not a terminal (a log)."""
        import io as text_io

        from rich.console import Console

        from vip_workflow.cli import common

        for terminal, rows, shown in [(True, 6_000, True), (True, 10, False),
                                      (False, 6_000, False)]:
            buffer = text_io.StringIO()
            monkeypatch.setattr(common, "err", Console(file=buffer, force_terminal=terminal))
            with common.working("scanning 6,000 rows", rows):
                pass
            assert ("scanning 6,000 rows" in buffer.getvalue()) is shown
