"""The cycle's work across months: tasks listed once with their status, one open retention
case per customer."""

from __future__ import annotations

from pathlib import Path

import polars as pl

import vip_workflow as vw
from vip_workflow.rules.tiers.book import load_rules

CONFIG = """\
name: work
storage: {storage}
tiers: {{preset: hubei-2006}}
triggers: {{files: [retain.yaml]}}
reports: out
"""


def _workspace(folder: Path, storage: str) -> vw.Workspace:
    load_rules({"kind": "triggers", "name": "retain", "version": "1", "triggers": [
        {"id": "retain.low_spend", "family": "retain", "action": "visit",
         "when": {"type": "threshold", "field": "revenue", "op": "<", "value": 100}},
        {"id": "retain.no_members", "family": "retain", "action": "call",
         "when": {"type": "threshold", "field": "members", "op": "<", "value": 1}}]}
    ).save(folder / "retain.yaml")
    (folder / "vip.yaml").write_text(CONFIG.format(storage=storage), encoding="utf-8")
    return vw.Workspace.from_file(folder / "vip.yaml")


PORTFOLIO = pl.DataFrame({"customer_id": ["G1", "G2"], "importance": ["none", "none"],
                          "revenue": [50.0, 5000.0], "headcount": [0, 0],
                          "account_manager": ["amy", "bob"]})


def _history(members: list[int]) -> pl.DataFrame:
    """G1 spends little from March; in each month ``members`` says how many it has."""
    months = ["2026-03", "2026-04", "2026-05"][:len(members)]
    return pl.DataFrame({"customer_id": ["G1"] * len(months) + ["G2"] * len(months),
                         "period": months * 2,
                         "revenue": [50.0] * len(months) + [5000.0] * len(months),
                         "members": members + [10] * len(months)})


class TestTasksOfAPeriod:
    """A re-run lists each of the period's tasks once, with its stored status."""

    def test_a_closed_task_is_listed_once_as_done_after_a_rerun(
            self, tmp_path: Path, storage: str) -> None:
        """result.tasks and tasks.csv agree with the store."""
        workspace = _workspace(tmp_path, storage)
        first = workspace.run_cycle("2026-03", PORTFOLIO, history=_history([5]))
        assert first.tasks is not None and first.tasks.height == 1
        task_id = first.tasks.get_column("id")[0]
        workspace.store.set_task_status(task_id, "done")
        again = workspace.run_cycle("2026-03", PORTFOLIO, history=_history([5]))
        assert again.tasks is not None
        assert again.tasks.select("id", "status").rows() == [(task_id, "done")]
        listed = pl.read_csv(again.outputs / "tasks.csv")
        assert listed.select("id", "status").rows() == [(task_id, "done")]
        assert workspace.store.tasks().select("id", "status").rows() == [(task_id, "done")]


class TestRetentionCases:
    """One open retention case per customer, across months and closed tasks."""

    def test_a_new_retain_signal_joins_the_customers_open_case(
            self, tmp_path: Path, storage: str) -> None:
        """March opens the case; its task is closed; April's retain tasks join it (recorded
        in its ledger once, however often April runs) instead of opening a second."""
        workspace = _workspace(tmp_path, storage)
        march = workspace.run_cycle("2026-03", PORTFOLIO, history=_history([5]))
        assert march.tasks is not None
        case_id = "retention:2026-03:G1"
        assert march.tasks.get_column("case_id").to_list() == [case_id]
        workspace.store.set_task_status(march.tasks.get_column("id")[0], "done")
        for _ in range(2):
            april = workspace.run_cycle("2026-04", PORTFOLIO, history=_history([5, 0]))
            assert april.tasks is not None
            assert april.tasks.select("trigger", "case_id").sort("trigger").rows() == [
                ("retain.low_spend", case_id), ("retain.no_members", case_id)]
            assert "retention cases opened: 0" in april.summary()
        engine = workspace.engine
        assert engine.store.find(definition="retention_case") == [case_id]
        case = engine.get(case_id)
        assert case.state == "assess" and case.verify_ledger()
        assert sorted(e.comment for e in case.history if e.action == "update") == [
            f"retain signal {trigger} of 2026-04 joined: task task:2026-04:G1:{trigger}"
            for trigger in ("retain.low_spend", "retain.no_members")]

    def test_a_closed_case_lets_the_next_retain_signal_open_a_new_one(
            self, tmp_path: Path) -> None:
        """After the case is final, the next month's retain signal opens that month's case."""
        workspace = _workspace(tmp_path, "memory://")
        march = workspace.run_cycle("2026-03", PORTFOLIO, history=_history([5]))
        assert march.tasks is not None
        workspace.store.set_task_status(march.tasks.get_column("id")[0], "done")
        workspace.engine.fire("retention:2026-03:G1", "dismiss",
                              actor=vw.Actor("amy", roles={"account_manager"}))
        april = workspace.run_cycle("2026-04", PORTFOLIO, history=_history([5, 5]))
        assert april.tasks is not None
        assert april.tasks.get_column("case_id").to_list() == ["retention:2026-04:G1"]

