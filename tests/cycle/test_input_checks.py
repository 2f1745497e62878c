"""A portfolio or history the cycle cannot use fails the run before anything is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

import vip_workflow as vw
from tests.triggers.helpers import spend_triggers
from vip_workflow.cli.main import app
from vip_workflow.errors import CustomerIdError, DataError, MissingColumnsError

CONFIG = """\
name: input checks
storage: {storage}
tiers: {{preset: hubei-2006}}
triggers: {{files: [spend.yaml]}}
reports: out
"""


def _workspace(folder: Path, storage: str) -> vw.Workspace:
    spend_triggers("1", None, 100).save(folder / "spend.yaml")
    (folder / "vip.yaml").write_text(CONFIG.format(storage=storage), encoding="utf-8")
    return vw.Workspace.from_file(folder / "vip.yaml")


def _groups(ids: list[Any], **columns: list[Any]) -> pl.DataFrame:
    data: dict[str, Any] = {"customer_id": ids, "importance": ["none"] * len(ids),
                            "revenue": [500.0] * len(ids), "headcount": [0] * len(ids)}
    data.update(columns)
    return pl.DataFrame(data, schema_overrides={"customer_id": pl.String})


def _history(ids: list[Any]) -> pl.DataFrame:
    return pl.DataFrame({"customer_id": ids, "period": ["2026-09"] * len(ids),
                         "revenue": [500.0] * len(ids)}, schema_overrides={
                             "customer_id": pl.String})


def _assert_nothing_written(workspace: vw.Workspace, folder: Path) -> None:
    assert workspace.store.periods() == []
    assert workspace.store.tasks().is_empty() and workspace.store.signals().is_empty()
    assert workspace.engine.store.find() == []
    assert not (folder / "out").exists() or not any((folder / "out").iterdir())
    assert [r["status"] for r in workspace.store.runs()] == ["started", "failed"]


class TestCustomerIds:
    """Empty or repeated customer ids: one CustomerIdError on every store, nothing written."""

    @pytest.mark.parametrize(("ids", "reason", "rows"), [
        (["G1", None, "G3", "  "], "empty customer id", (1, 3)),
        (["G1", "G2", "G1"], "more than one row", (0, 2)),
    ])
    def test_a_bad_portfolio_id_fails_the_run_before_anything_is_written(
            self, tmp_path: Path, storage: str, ids: list[Any], reason: str,
            rows: tuple[int, ...]) -> None:
        """The error names the rows; the store, engine and reports stay empty."""
        workspace = _workspace(tmp_path, storage)
        with pytest.raises(CustomerIdError, match=reason) as caught:
            workspace.run_cycle("2026-09", _groups(ids), history=_history(["G1"]))
        error = caught.value
        assert (error.code, error.source, error.column, error.rows) == (
            "customer_id_error", "portfolio", "customer_id", rows)
        assert error.ids == tuple(ids[r] for r in rows)
        assert isinstance(error, DataError) and isinstance(error, vw.VipWorkflowError)
        _assert_nothing_written(workspace, tmp_path)

    def test_an_empty_id_in_the_history_fails_the_run_before_anything_is_written(
            self, tmp_path: Path, storage: str) -> None:
        """The same error for the history, naming the caller's row; a re-run fails alike."""
        workspace = _workspace(tmp_path, storage)
        for _ in range(2):
            with pytest.raises(CustomerIdError, match="history") as caught:
                workspace.run_cycle("2026-09", _groups(["G1"]),
                                    history=_history(["G1", None]))
            assert (caught.value.source, caught.value.rows) == ("history", (1,))
        assert workspace.store.periods() == [] and workspace.store.tasks().is_empty()
        assert [r["status"] for r in workspace.store.runs()][-1] == "failed"


class TestHistoryIds:
    """The trigger scans refuse a history row without a customer id, both the same way."""

    def test_scan_and_scan_live_raise_the_same_error(self) -> None:
        """No signals for a customer 'None'."""
        book = spend_triggers("1", None, 100)
        history = _history(["G1", None])
        errors = []
        for scan in (book.scan, book.scan_live):
            with pytest.raises(CustomerIdError) as caught:
                scan(history)
            errors.append((type(caught.value), str(caught.value), caught.value.rows))
        assert errors[0] == errors[1] and errors[0][2] == (1,)


class TestMissingColumns:
    """A column the tier rules read, missing from the portfolio, fails the run."""

    def test_a_missing_column_fails_the_run_naming_it_and_the_rule_file(
            self, tmp_path: Path, storage: str) -> None:
        """Not a month of "could not judge" recorded as finished."""
        workspace = _workspace(tmp_path, storage)
        with pytest.raises(MissingColumnsError, match="revenue") as caught:
            workspace.run_cycle("2026-09", _groups(["G1", "G2"]).drop("revenue"))
        assert caught.value.columns == ("revenue",)
        assert caught.value.rule_file == "preset:hubei-2006.yaml"
        assert caught.value.code == "missing_columns"
        _assert_nothing_written(workspace, tmp_path)

    def test_a_partly_empty_column_leaves_those_customers_unjudged(
            self, tmp_path: Path) -> None:
        """A present column with nulls is per customer: the run finishes."""
        workspace = _workspace(tmp_path, "memory://")
        result = workspace.run_cycle("2026-09", _groups(["G1", "G2"], revenue=[None, 500.0]))
        assert result.judged.get_column("tier").null_count() == 1
        assert workspace.store.runs()[-1]["status"] == "finished"

    @pytest.mark.parametrize("command", ["judge", "run"])
    def test_the_cli_names_the_missing_column_and_exits_non_zero(
            self, tmp_path: Path, command: str) -> None:
        """A clear message, exit 1, no traceback."""
        data = tmp_path / "groups.csv"
        _groups(["G1", "G2"]).drop("revenue").write_csv(data)
        if command == "judge":
            args = ["judge", str(data), "--preset", "hubei-2006"]
        else:
            _workspace(tmp_path, "memory://")
            args = ["run", "--config", str(tmp_path / "vip.yaml"), "--period", "2026-09",
                    "--data", str(data)]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1, result.output
        assert "revenue" in result.output and "hubei-2006" in result.output
        assert "Traceback" not in result.output
        assert isinstance(result.exception, SystemExit)  # typer.Exit, not a crash


class TestStoreErrors:
    """Behind the checks, every cycle store still speaks the library's errors."""

    def test_a_refused_row_is_a_conflict_error_not_a_driver_error(self, storage: str) -> None:
        """A null customer written to the tier history directly: ConflictError."""
        from vip_workflow.cycle.history import open_cycle_store

        store = open_cycle_store(storage)
        row = {"customer": [None], "tier": ["A"], "rule": ["r"], "computed_tier": ["A"],
               "book": ["b"], "book_version": ["1"]}
        with pytest.raises(vw.ConflictError, match="refused"):
            store.replace_tiers("2026-09", pl.DataFrame(row, schema_overrides={
                "customer": pl.String}))
        assert store.periods() == []
