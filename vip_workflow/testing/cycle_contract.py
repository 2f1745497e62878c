"""The cycle store contract: the tests every ``CycleStore`` adapter must pass.

Subclass ``CycleStoreContract`` in your adapter's tests and override the ``store`` fixture::

    class TestMyCycleStore(CycleStoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            return SQLInstanceStore(tmp_path / "vip.db").cycle

Each test gets a fresh, empty store. The tests that commit process instances in a unit of work
use ``instances(store)`` (by default the store's ``instances`` attribute) and skip a store
without one, unless the subclass sets ``requires_instances = True`` (then they fail).
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl
import pytest

from vip_workflow.domain.instances import Notice, ProcessInstance
from vip_workflow.errors import ConflictError, NotFoundError, StorageError
from vip_workflow.ports import (
    SIGNAL_FIELDS,
    TASK_FIELDS,
    TIER_FIELDS,
    BulkInstanceStore,
    CycleStore,
    NoticeQueue,
)
from vip_workflow.testing.contract import T0, new_instance

__all__ = ["CycleStoreContract", "signals", "tasks", "tiers"]

#: Customer names and ids as a Chinese key-account book has them.
CN = "湖北省人民政府"


def tiers(*rows: tuple[str, str], book: str = "hubei-2006") -> pl.DataFrame:
    """A period's tiers from ``(customer, tier)`` pairs."""
    return pl.DataFrame([(c, t, "规则1", t, book, "1") for c, t in rows],
                        schema=dict.fromkeys(TIER_FIELDS, pl.String), orient="row")


def signals(*rows: tuple[str, str], evidence: Any = None) -> pl.DataFrame:
    """A trigger scan's signals from ``(customer_id, trigger)`` pairs."""
    found = evidence if evidence is not None else [{"name": "消费", "value": 1.5}]
    return pl.DataFrame({
        "customer_id": [c for c, _ in rows], "trigger": [t for _, t in rows],
        "family": ["retain"] * len(rows), "severity": ["high"] * len(rows),
        "action": ["回访客户"] * len(rows), "evidence": [found] * len(rows)})


def tasks(*ids: str, period: str = "2026-01", status: str = "open") -> pl.DataFrame:
    """Tasks with the given ids (customer ``c-<id>``)."""
    return pl.DataFrame([(i, period, f"c-{i}", "t1", "retain", "high", "call", "张经理",
                          status, None) for i in ids],
                        schema=dict.fromkeys(TASK_FIELDS, pl.String), orient="row")


class _Boom(Exception):
    """Raised inside a unit of work to abandon it."""


class CycleStoreContract:
    """Behaviour every ``CycleStore`` shares. Override the ``store`` fixture."""

    #: Fail (instead of skip) the tests that commit instances when the store has none.
    requires_instances = False

    @pytest.fixture
    def store(self) -> CycleStore:
        """The store under test (override in the subclass)."""
        raise NotImplementedError("override the 'store' fixture")

    def instances(self, store: CycleStore) -> BulkInstanceStore:
        """The instance store ``store``'s unit of work commits to (override if not
        ``store.instances``)."""
        found = getattr(store, "instances", None)
        if not isinstance(found, BulkInstanceStore):
            if self.requires_instances:
                pytest.fail(f"{type(store).__name__} has no instance store")
            pytest.skip("the cycle store has no instance store to commit instances to")
        return found

    # ------------------------------------------------------------- tiers

    def test_store_satisfies_the_protocol(self, store: CycleStore) -> None:
        """The adapter has every method of the CycleStore protocol."""
        assert isinstance(store, CycleStore)

    def test_an_unknown_period_has_no_tiers(self, store: CycleStore) -> None:
        """tiers() of a period never written is empty, with the TIER_COLUMNS."""
        found = store.tiers("1999-01")
        assert found.is_empty() and tuple(found.columns) == TIER_FIELDS
        assert store.periods() == []

    def test_tiers_come_back_equal_with_chinese_text(self, store: CycleStore) -> None:
        """Replaced tiers are read back equal (sorted by customer), Chinese text included."""
        frame = tiers((f"{CN}-2", "B"), (f"{CN}-1", "A"), ("G3", "C"))
        store.replace_tiers("2026-01", frame)
        assert store.tiers("2026-01").to_dicts() == frame.sort("customer").to_dicts()

    def test_replacing_a_period_again_is_idempotent(self, store: CycleStore) -> None:
        """The same tiers twice give one copy; a smaller frame drops the others."""
        frame = tiers(("G1", "A"), ("G2", "B"))
        store.replace_tiers("2026-01", frame)
        store.replace_tiers("2026-01", frame)
        assert store.tiers("2026-01").height == 2
        store.replace_tiers("2026-01", tiers(("G2", "C")))
        assert store.tiers("2026-01").rows() == tiers(("G2", "C")).rows()

    def test_periods_are_oldest_first_and_kept_apart(self, store: CycleStore) -> None:
        """Each period has its own tiers; periods() lists them oldest first."""
        store.replace_tiers("2026-02", tiers(("G1", "B")))
        store.replace_tiers("2026-01", tiers(("G1", "A")))
        store.replace_tiers("2026-02", tiers(("G1", "C")))
        assert store.periods() == ["2026-01", "2026-02"]
        assert store.tiers("2026-01").get_column("tier").to_list() == ["A"]

    def test_history_gives_one_customer_over_the_periods(self, store: CycleStore) -> None:
        """history(customer) has a period column first and runs oldest first."""
        for period, tier in (("2026-03", "C"), ("2026-01", "A"), ("2026-02", "B")):
            store.replace_tiers(period, tiers((CN, tier), ("other", "A")))
        found = store.history(CN)
        assert found.columns == ["period", *TIER_FIELDS]
        assert found.select("period", "tier").rows() == [
            ("2026-01", "A"), ("2026-02", "B"), ("2026-03", "C")]
        assert store.history("nobody").is_empty()

    def test_a_repeated_customer_in_a_period_is_a_conflict(self, store: CycleStore) -> None:
        """Two tiers for one customer and period raise ConflictError; nothing changes."""
        store.replace_tiers("2026-01", tiers(("G1", "A")))
        with pytest.raises(ConflictError):
            store.replace_tiers("2026-01", tiers(("G2", "A"), ("G2", "B")))
        assert store.tiers("2026-01").rows() == tiers(("G1", "A")).rows()

    # ------------------------------------------------------------- signals

    def test_signals_are_kept_per_period_with_evidence_as_json(self, store: CycleStore) -> None:
        """A scan's signals come back as SIGNAL_COLUMNS, the evidence as JSON text."""
        store.replace_signals("2026-01", signals((CN, "消费下降"), ("G1", "t1")))
        found = store.signals("2026-01")
        assert tuple(found.columns) == SIGNAL_FIELDS
        assert found.select("customer", "trigger").rows() == [("G1", "t1"), (CN, "消费下降")]
        assert json.loads(found.get_column("evidence")[1]) == [{"name": "消费", "value": 1.5}]

    def test_signals_are_found_by_period_and_customer(self, store: CycleStore) -> None:
        """signals() filters by period and/or customer, ordered by period, customer, trigger."""
        store.replace_signals("2026-02", signals(("G1", "t2"), ("G2", "t1")))
        store.replace_signals("2026-01", signals(("G1", "t1")))
        assert store.signals(customer="G1").select("period", "trigger").rows() == [
            ("2026-01", "t1"), ("2026-02", "t2")]
        assert store.signals().height == 3
        assert store.signals("2026-02", customer="G2").height == 1
        store.replace_signals("2026-02", signals(("G3", "t1")))
        assert store.signals("2026-02").get_column("customer").to_list() == ["G3"]

    # ------------------------------------------------------------- tasks and runs

    def test_tasks_keep_the_first_of_an_id_and_filter_by_status(self, store: CycleStore) -> None:
        """add_tasks keeps a recorded id as it is; tasks() is by id, filtered by status."""
        store.add_tasks(tasks("任务-2", "任务-1"))
        store.add_tasks(tasks("任务-1", "任务-3", status="done"))
        found = store.tasks()
        assert found.get_column("id").to_list() == ["任务-1", "任务-2", "任务-3"]
        assert found.get_column("status").to_list() == ["open", "open", "done"]
        assert store.tasks(status="done").get_column("id").to_list() == ["任务-3"]
        assert tuple(found.columns) == TASK_FIELDS

    def test_a_task_status_is_updated_and_an_unknown_task_refused(
        self, store: CycleStore
    ) -> None:
        """set_task_status closes or reopens a task; an unknown id raises NotFoundError."""
        store.add_tasks(tasks("t-1", "t-2"))
        store.set_task_status("t-1", "done")
        assert store.tasks(status="open").get_column("id").to_list() == ["t-2"]
        store.set_task_status("t-1", "open")
        assert store.tasks(status="open").height == 2
        with pytest.raises(NotFoundError):
            store.set_task_status("nope", "done")

    def test_runs_are_recorded_oldest_first(self, store: CycleStore) -> None:
        """record_run keeps period, status and summary, in order."""
        store.record_run("2026-01", "started", {"customers": 3})
        store.record_run("2026-01", "finished", {"rules": {"tiers": "湖北 v1"}})
        found = store.runs()
        assert [(r["period"], r["status"]) for r in found] == [
            ("2026-01", "started"), ("2026-01", "finished")]
        assert found[1]["summary"] == {"rules": {"tiers": "湖北 v1"}}

    # ------------------------------------------------------------- the unit of work

    def test_a_unit_of_work_writes_everything_when_it_ends(self, store: CycleStore) -> None:
        """Tiers, signals, tasks, a status and a run written in one unit of work are all there
        afterwards."""
        store.add_tasks(tasks("old"))
        with store.unit_of_work() as uow:
            uow.replace_tiers("2026-01", tiers(("G1", "A")))
            uow.replace_signals("2026-01", signals(("G1", "t1")))
            uow.add_tasks(tasks("new"))
            uow.set_task_status("old", "done")
            uow.set_task_status("new", "dismissed")
            uow.record_run("2026-01", "finished", {})
        assert store.tiers("2026-01").height == 1
        assert store.signals("2026-01").height == 1
        assert store.tasks().select("id", "status").rows() == [
            ("new", "dismissed"), ("old", "done")]
        assert store.runs()[-1]["status"] == "finished"

    def test_a_failed_unit_of_work_leaves_the_previous_content(self, store: CycleStore) -> None:
        """An exception inside the block: tiers, signals, tasks and runs are as before."""
        store.replace_tiers("2026-01", tiers(("G1", "A")))
        store.replace_signals("2026-01", signals(("G1", "t1")))
        store.add_tasks(tasks("t-1"))
        before = (store.tiers("2026-01"), store.signals(), store.tasks(), store.runs())
        with pytest.raises(_Boom), store.unit_of_work() as uow:
            uow.replace_tiers("2026-01", tiers(("G2", "B"), ("G3", "C")))
            uow.replace_signals("2026-01", signals(("G2", "t2")))
            uow.replace_tiers("2026-02", tiers(("G2", "B")))
            uow.add_tasks(tasks("t-2"))
            uow.set_task_status("t-1", "done")
            uow.record_run("2026-01", "finished", {})
            raise _Boom
        after = (store.tiers("2026-01"), store.signals(), store.tasks(), store.runs())
        assert all(a.equals(b) for a, b in zip(after[:3], before[:3], strict=True))
        assert after[3] == before[3]
        assert store.periods() == ["2026-01"]

    def test_a_unit_of_work_that_meets_a_storage_error_writes_nothing(
        self, store: CycleStore
    ) -> None:
        """A StorageError inside (an unknown task) undoes the writes made before it."""
        with pytest.raises(NotFoundError), store.unit_of_work() as uow:
            uow.replace_tiers("2026-01", tiers(("G1", "A")))
            uow.set_task_status("nope", "done")
        assert store.periods() == []

    def test_instances_commit_with_the_cycle(self, store: CycleStore) -> None:
        """commit_instances and enqueue_notices in a unit of work are written with the
        period's tiers."""
        instances = self.instances(store)
        inst, entries = new_instance(f"retention:2026-01:{CN}")
        with store.unit_of_work() as uow:
            uow.replace_tiers("2026-01", tiers((CN, "A")))
            uow.commit_instances([(inst, None, entries, [])])
            uow.enqueue_notices(_keyed(inst))
        assert instances.get(inst.id) == inst
        assert store.tiers("2026-01").height == 1
        if isinstance(instances, NoticeQueue):
            assert [n.instance_id for _, n in instances.pending_notices()] == [inst.id]

    def test_instances_are_not_committed_when_the_unit_of_work_fails(
        self, store: CycleStore
    ) -> None:
        """An exception after commit_instances: no instance, no notice, no tiers."""
        instances = self.instances(store)
        inst, entries = new_instance("case-1")
        with pytest.raises(_Boom), store.unit_of_work() as uow:
            uow.commit_instances([(inst, None, entries, [])])
            uow.enqueue_notices(_keyed(inst))
            uow.replace_tiers("2026-01", tiers(("G1", "A")))
            raise _Boom
        assert instances.existing_ids([inst.id]) == set()
        assert instances.pending_notices() == []
        assert store.periods() == []

    def test_an_instance_conflict_undoes_the_whole_unit_of_work(self, store: CycleStore) -> None:
        """Starting an instance that exists raises ConflictError; the tiers are not
        written."""
        instances = self.instances(store)
        inst, entries = new_instance("case-1")
        instances.commit_many([(inst, None, entries, [])])
        with pytest.raises(ConflictError), store.unit_of_work() as uow:
            uow.replace_tiers("2026-01", tiers(("G1", "A")))
            uow.commit_instances([(inst, None, entries, [])])
        assert store.periods() == []

    def test_errors_are_storage_errors(self, store: CycleStore) -> None:
        """What the store raises for bad input is a StorageError."""
        with pytest.raises(StorageError):
            store.set_task_status("nope", "done")


def _keyed(instance: ProcessInstance) -> list[tuple[str, Notice]]:
    return [(f"task:{instance.id}", Notice("task_assigned", instance.id, "retention_case",
                                           "open", T0, ("account_manager",)))]
