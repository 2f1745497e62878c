"""Signals become work: assignment, deduplication, retention cases, notices."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

import vip_workflow as vw
from tests.triggers.helpers import book_of, history
from vip_workflow.adapters.notify.memory import MemoryNotifier
from vip_workflow.rules.triggers import Signal
from vip_workflow.work.board import TaskBoard

NOW = datetime(2026, 5, 1, tzinfo=UTC)


def signal(customer: str = "c1", trigger: str = "retain.x", family: str = "retain",
           month: int = 1) -> Signal:
    return Signal(customer, date(2026, month, 1), trigger, family, "high", "call",
                  (("revenue", 1.0),))


class TestAssignment:
    def test_the_customers_own_manager_gets_the_task(self) -> None:
        """account_manager from a mapping."""
        board = TaskBoard(clock=lambda: NOW)
        report = board.ingest([signal()], managers={"c1": "amy"})
        assert [t.assignee for t in report.created] == ["amy"]

    def test_without_a_manager_the_least_loaded_of_the_pool_gets_it(self) -> None:
        """Fallback by load, ties by name."""
        board = TaskBoard(managers=["bob", "amy"], clock=lambda: NOW)
        board.ingest([signal("c1", "a"), signal("c2", "a"), signal("c3", "a")],
                     managers={"c1": "amy"})
        assert [t.assignee for t in board.tasks.values()] == ["amy", "bob", "amy"]
        assert board.load() == {"amy": 2, "bob": 1}

    def test_open_tasks_kept_elsewhere_count_in_the_load(self) -> None:
        """Earlier cycles' open tasks (open_elsewhere) steer the fallback too."""
        board = TaskBoard(managers=["amy", "bob"], clock=lambda: NOW,
                          open_elsewhere={"amy": 2})
        board.ingest([signal("c1", "a"), signal("c2", "a"), signal("c3", "a")])
        assert [t.assignee for t in board.tasks.values()] == ["bob", "bob", "amy"]
        assert board.load() == {"amy": 3, "bob": 2}

    def test_a_manager_outside_the_pool_is_replaced(self) -> None:
        """Someone who left: the pool takes over."""
        board = TaskBoard(managers=["bob"], clock=lambda: NOW)
        report = board.ingest([signal()], managers={"c1": "gone"})
        assert report.created[0].assignee == "bob"

    def test_no_pool_and_no_manager_leaves_the_task_unassigned(self) -> None:
        """Counted in the report."""
        report = TaskBoard(clock=lambda: NOW).ingest([signal(family="risk")])
        assert report.unassigned == 1 and report.created[0].assignee is None

    def test_managers_may_come_from_the_history_frame(self) -> None:
        """The last known account_manager per customer."""
        frame = history({"revenue": [1.0, 2.0]}).with_columns(
            pl.Series("account_manager", ["old", "new"]))
        report = TaskBoard(clock=lambda: NOW).ingest([signal(family="risk")], managers=frame)
        assert report.created[0].assignee == "new"


class TestDeduplication:
    def test_no_second_open_task_for_the_same_customer_and_trigger(self) -> None:
        """A repeated signal is recorded on the open task."""
        board = TaskBoard(clock=lambda: NOW)
        first = board.ingest([signal(month=1), signal(month=2)])
        again = board.ingest([signal(month=3)])
        assert len(first.created) == 1 and first.duplicates == 1 and again.duplicates == 1
        task = next(iter(board.tasks.values()))
        assert task.seen == [date(2026, 2, 1), date(2026, 3, 1)]

    def test_after_closing_a_new_signal_opens_a_new_task(self) -> None:
        """Dedup holds only while the task is open."""
        board = TaskBoard(clock=lambda: NOW)
        task = board.ingest([signal()]).created[0]
        board.close(task.id)
        assert len(board.ingest([signal(month=2)]).created) == 1
        assert board.task(task.id).status == "done"

    def test_an_unknown_task_is_not_found(self) -> None:
        """NotFoundError."""
        with pytest.raises(vw.NotFoundError):
            TaskBoard().close("T999")


class TestRetentionAndNotices:
    def test_retain_signals_open_one_case_per_customer_with_a_callable(self) -> None:
        """Two retain triggers for one customer share the case; risk opens none."""
        opened: list[str] = []

        def open_case(task: object) -> str:
            opened.append(task.trigger)  # type: ignore[attr-defined]
            return f"case-{len(opened)}"

        board = TaskBoard(retention=open_case, clock=lambda: NOW)
        report = board.ingest([signal(trigger="retain.a"), signal(trigger="retain.b"),
                               signal(trigger="risk.c", family="risk")])
        assert opened == ["retain.a"] and report.cases == ["case-1"]
        assert [t.case_id for t in report.created] == ["case-1", "case-1", None]

    def test_with_the_process_engine_a_retention_case_process_starts(self) -> None:
        """The bundled retention_case definition, context from the task."""
        engine = vw.ProcessEngine(clock=lambda: NOW)
        board = TaskBoard(retention=engine, clock=lambda: NOW)
        report = board.ingest([signal()], managers={"c1": "amy"})
        case = engine.get(report.cases[0])
        assert case.definition == "retention_case"
        assert case.context["customer_id"] == "c1"
        assert case.context["account_manager_id"] == "amy"

    def test_each_new_task_sends_a_notice_to_its_assignee(self) -> None:
        """Through the notifier port (MemoryNotifier)."""
        notifier = MemoryNotifier()
        board = TaskBoard(notifier=notifier, clock=lambda: NOW)
        board.ingest([signal(), signal(month=2)], managers={"c1": "amy"})
        assert [(n.kind, n.users) for n in notifier.notices] == [("task_assigned", ("amy",))]
        assert notifier.notices[0].data["trigger"] == "retain.x"


def test_a_scan_feeds_the_board_end_to_end() -> None:
    """scan → ingest: one task per customer and trigger."""
    book = book_of({"type": "threshold", "field": "complaints", "op": ">=", "value": 1},
                   family="risk")
    frame = pl.concat([history({"complaints": [1, 2, 3]}, customer="a"),
                       history({"complaints": [0, 0, 4]}, customer="b")])
    board = TaskBoard(managers=["amy", "bob"], clock=lambda: NOW)
    report = board.ingest(book.scan(frame))
    assert [(t.customer_id, t.assignee) for t in report.created] == [("a", "amy"),
                                                                       ("b", "bob")]
    assert report.duplicates == 2
    assert board.frame().height == 2


class TestOneOpenRetentionCase:
    """A customer's retention case stays theirs while it is open, whatever its tasks do."""

    def test_a_retain_task_after_a_closed_one_joins_the_open_case(self) -> None:
        """Closing the task does not close the case: March's case takes April's signal, and
        its ledger records the join."""
        engine = vw.ProcessEngine(clock=lambda: NOW)
        board = TaskBoard(retention=engine, clock=lambda: NOW)
        first = board.ingest([signal(month=3)], managers={"c1": "amy"}).created[0]
        board.close(first.id)
        second = board.ingest([signal(month=4)], managers={"c1": "amy"}).created[0]
        assert second.case_id == first.case_id is not None
        assert engine.store.find(definition="retention_case") == [first.case_id]
        case = engine.get(first.case_id)
        assert case.state == "assess" and case.verify_ledger()
        assert [(e.action, e.comment) for e in case.history][1:] == [
            ("update", f"retain signal retain.x of 2026-04 joined: task {second.id}")]

    def test_a_closed_case_lets_the_next_retain_signal_open_a_new_one(self) -> None:
        """Once the case is final, a new retain signal opens another."""
        engine = vw.ProcessEngine(clock=lambda: NOW)
        board = TaskBoard(retention=engine, clock=lambda: NOW)
        first = board.ingest([signal(month=3)]).created[0]
        board.close(first.id)
        engine.fire(first.case_id, "dismiss", actor=vw.Actor("amy", roles={"account_manager"}))
        second = board.ingest([signal(month=4)]).created[0]
        assert second.case_id not in (None, first.case_id)

    def test_a_new_board_finds_the_customers_open_case_in_the_engine(self) -> None:
        """The engine, not the board's memory, says which case is open."""
        engine = vw.ProcessEngine(clock=lambda: NOW)
        first = TaskBoard(retention=engine, clock=lambda: NOW).ingest([signal()]).created[0]
        again = TaskBoard(retention=engine, clock=lambda: NOW).ingest([signal(month=2)])
        assert again.created[0].case_id == first.case_id and again.cases == [first.case_id]
        assert len(engine.store.find(definition="retention_case")) == 1

    def test_with_a_callable_case_open_says_when_a_case_closed(self) -> None:
        """Without case_open the case stays; with it, a closed case is replaced."""
        closed: set[str] = set()
        opened: list[str] = []

        def open_case(task: object) -> str:
            opened.append(f"case-{len(opened) + 1}")
            return opened[-1]

        board = TaskBoard(retention=open_case, clock=lambda: NOW,
                          case_open=lambda case: case not in closed)
        board.close(board.ingest([signal(month=1)]).created[0].id)
        assert board.ingest([signal(month=2)]).created[0].case_id == "case-1"
        closed.add("case-1")
        board.close(next(t.id for t in board.open_tasks()))
        assert board.ingest([signal(month=3)]).created[0].case_id == "case-2"
