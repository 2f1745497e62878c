"""The one reader and writer of data files: formats, encodings and located read errors."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import vip_workflow as vw
from vip_workflow.cli.io import InputFileError, read_table, write_table
from vip_workflow.cli.main import app
from vip_workflow.samples import sample_portfolio

runner = CliRunner()
NAMES = ["中国移动湖北公司", "武汉钢铁集团", "东风汽车", "华中科技大学", "湖北省人民医院"]


def _chinese_portfolio(n: int = 50) -> pl.DataFrame:
    frame = sample_portfolio(n, seed=5)
    return frame.with_columns(pl.Series("name", [NAMES[i % len(NAMES)] for i in range(n)]))


def _csv_text(frame: pl.DataFrame) -> str:
    return frame.write_csv()


class TestEncodings:
    """--encoding decodes text inputs; UTF-8 is the default and a wrong guess is located."""

    @pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
    def test_a_gbk_csv_with_chinese_names_is_judged(self, tmp_path: Path, encoding: str) -> None:
        """The usual Chinese Excel export (GBK) is judged as its UTF-8 twin would be."""
        frame = _chinese_portfolio()
        source = tmp_path / "groups.csv"
        source.write_bytes(_csv_text(frame).encode("gbk"))
        with pytest.raises(UnicodeDecodeError):
            source.read_bytes().decode("utf-8")  # really not UTF-8
        target = tmp_path / "judged.csv"
        result = runner.invoke(app, ["judge", "-p", "hubei-2006", str(source), "--encoding",
                                     encoding, "-o", str(target)])
        assert result.exit_code == 0, result.output
        written = pl.read_csv(target)
        assert written.get_column("name").to_list() == frame.get_column("name").to_list()
        expected = vw.preset("hubei-2006").judge_many(frame)
        assert written.get_column("tier").to_list() == (
            expected.get_column("tier").cast(pl.String).to_list())

    def test_a_gbk_file_read_as_utf8_names_the_line_and_the_fix(self, tmp_path: Path) -> None:
        """With --encoding utf-8 a GBK file fails cleanly, located, suggesting gb18030."""
        source = tmp_path / "groups.csv"
        source.write_bytes(_csv_text(_chinese_portfolio(5)).encode("gbk"))
        result = runner.invoke(app, ["judge", "-p", "hubei-2006", str(source), "--encoding",
                                     "utf-8"])
        assert result.exit_code == 1
        assert f"{source}:2:" in result.stderr
        assert "--encoding gb18030" in result.stderr
        assert "Traceback" not in result.output

    def test_a_utf8_byte_order_mark_is_skipped(self, tmp_path: Path) -> None:
        """Excel's "CSV UTF-8" starts with a BOM; the first column keeps its name."""
        source = tmp_path / "bom.csv"
        source.write_bytes(b"\xef\xbb\xbf" + "customer_id,name\nG1,东风汽车\n".encode())
        frame = read_table(source)
        assert frame.columns == ["customer_id", "name"]
        assert frame.get_column("name").to_list() == ["东风汽车"]

    def test_an_unknown_encoding_is_refused(self, tmp_path: Path) -> None:
        """exit 2, the encoding named."""
        source = tmp_path / "groups.csv"
        sample_portfolio(5).write_csv(source)
        result = runner.invoke(app, ["judge", "-p", "hubei-2006", str(source),
                                     "--encoding", "klingon"])
        assert result.exit_code == 2
        assert "unknown encoding 'klingon'" in result.stderr


class TestReadErrors:
    """Unreadable input is one located line naming the file, not a traceback."""

    def test_n_a_in_a_numeric_column_names_line_column_and_field(self, tmp_path: Path) -> None:
        """"N/A" among revenues: file:line:column: revenue: ... is not a number."""
        frame = sample_portfolio(30, seed=1).with_columns(pl.col("revenue").cast(pl.String))
        frame = frame.with_columns(
            pl.when(pl.int_range(pl.len()) == 5).then(pl.lit("N/A"))
            .otherwise(pl.col("revenue")).alias("revenue"))
        source = tmp_path / "groups.csv"
        frame.write_csv(source)
        result = runner.invoke(app, ["judge", "-p", "hubei-2006", str(source)])
        assert result.exit_code == 1
        column = frame.columns.index("revenue") + 1
        assert (f"{source}:7:{column}: revenue: data row 6: 'N/A' is not a number"
                in result.stderr)
        assert "Traceback" not in result.output

    def test_n_a_after_the_rows_types_are_guessed_from_is_located(self, tmp_path: Path) -> None:
        """A marker on row 10,040 (past polars' schema guess) is found, not a parse crash."""
        n = 10_050
        revenue = [str(i) for i in range(n)]
        revenue[10_040] = "#N/A"
        source = tmp_path / "big.csv"
        pl.DataFrame({"customer_id": [f"G{i}" for i in range(n)], "revenue": revenue}).write_csv(
            source)
        with pytest.raises(InputFileError) as caught:
            read_table(source)
        error = caught.value
        assert (error.line, error.column, error.field) == (10_042, 2, "revenue")
        assert "'#N/A' is not a number" in error.reason

    def test_a_text_column_is_not_mistaken_for_numbers(self, tmp_path: Path) -> None:
        """Text columns with a few numeric-looking values read as they are."""
        source = tmp_path / "t.csv"
        source.write_text("customer_id,importance\nG1,none\nG2,provincial\nG3,2\n",
                          encoding="utf-8")
        assert read_table(source).get_column("importance").to_list() == [
            "none", "provincial", "2"]

    @pytest.mark.parametrize(("name", "content", "reason"), [
        ("empty.csv", b"", "the file is empty"),
        ("absent.csv", None, "file not found"),
        ("broken.parquet", b"not parquet at all", "cannot read as PARQUET"),
        ("broken.ndjson", b'{"a": 1}\n{"a": \n', "cannot read as NDJSON"),
    ])
    def test_a_broken_file_is_one_located_line(self, tmp_path: Path, name: str,
                                               content: bytes | None, reason: str) -> None:
        """exit 1 and the file named, for each kind of broken input."""
        source = tmp_path / name
        if content is not None:
            source.write_bytes(content)
        result = runner.invoke(app, ["kpi", str(source)])
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith(f"{source}:") and reason in result.stderr
        assert "Traceback" not in result.output

    def test_an_unread_format_is_refused_with_exit_2(self, tmp_path: Path) -> None:
        """An unknown suffix: exit 2, the formats that are read listed."""
        source = tmp_path / "groups.txt"
        source.write_bytes(b"x")
        result = runner.invoke(app, ["scan", str(source)])
        assert result.exit_code == 2
        assert ".csv, .tsv, .parquet, .json, .ndjson, .jsonl, .xlsx" in result.stderr


class TestFormats:
    """Every format is read and written by the same pair of functions."""

    @pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".json", ".ndjson",
                                        ".jsonl", ".xlsx"])
    def test_a_frame_round_trips(self, tmp_path: Path, suffix: str) -> None:
        """write_table then read_table gives the frame back (Chinese text included)."""
        frame = _chinese_portfolio(20).select("customer_id", "name", "revenue", "headcount")
        path = tmp_path / f"f{suffix}"
        write_table(frame, path)
        back = read_table(path)
        assert back.columns == frame.columns
        assert back.get_column("name").to_list() == frame.get_column("name").to_list()
        assert back.get_column("revenue").to_list() == frame.get_column("revenue").to_list()

    def test_nested_columns_are_written_to_csv_as_json(self, tmp_path: Path) -> None:
        """Signal evidence (a list of structs) becomes JSON text in a CSV."""
        frame = pl.DataFrame({"id": [1], "evidence": [[{"name": "x", "value": 2.0}]]})
        path = tmp_path / "s.csv"
        write_table(frame, path)
        assert pl.read_csv(path).get_column("evidence").to_list() == [
            '[{"name": "x", "value": 2.0}]']

    def test_judge_reads_json_lines_and_writes_json(self, tmp_path: Path) -> None:
        """judge DATA.ndjson -o OUT.json."""
        source = tmp_path / "groups.ndjson"
        sample_portfolio(40, seed=3).write_ndjson(source)
        target = tmp_path / "judged.json"
        result = runner.invoke(app, ["judge", "-p", "hubei-2006", str(source), "-o",
                                     str(target)])
        assert result.exit_code == 0, result.output
        assert pl.read_json(target).height == 40
