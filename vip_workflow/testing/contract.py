"""The storage contract: the tests every ``InstanceStore`` adapter must pass.

Subclass ``StorageContract`` in your adapter's tests and override the ``store`` fixture::

    class TestSQLiteStore(StorageContract):
        @pytest.fixture
        def store(self, tmp_path):
            return SQLiteInstanceStore(tmp_path / "vip.db")

Each test gets a fresh, empty store.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from attrs import evolve

from vip_workflow.errors import ConcurrentUpdateError, ConflictError, NotFoundError, StorageError
from vip_workflow.ports import InstanceStore
from vip_workflow.processes.instance import LedgerEntry, Notice, ProcessInstance, Timer, entry_hash

__all__ = ["StorageContract", "advance", "new_instance"]

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def _entry(instance: ProcessInstance, action: str, dest: str, at: datetime) -> LedgerEntry:
    prev = instance.history[-1] if instance.history else None
    seq = prev.seq + 1 if prev else 0
    prev_hash = prev.hash if prev else ""
    source = prev.dest if prev else None
    digest = entry_hash(instance.id, prev_hash, seq, at, "u1", None, action, source, dest, "",
                        None)
    return LedgerEntry(seq, at, "u1", None, action, source, dest, "", None, prev_hash, digest)


def new_instance(
    instance_id: str = "i-1", *, definition: str = "sales", state: str = "draft",
    timers: Sequence[Timer] = (), context: dict[str, Any] | None = None,
) -> tuple[ProcessInstance, list[LedgerEntry]]:
    """A first version of an instance and its ledger entry, for ``commit(.., None, ..)``."""
    blank = ProcessInstance(
        id=instance_id, definition=definition, definition_version=1, state=state,
        context=context or {"customer_id": "c1"}, version=0, created_at=T0,
    )
    entry = _entry(blank, "start", state, T0)
    return evolve(blank, version=1, history=(entry,), timers=tuple(timers)), [entry]


def advance(
    instance: ProcessInstance, state: str, *, action: str = "go", timers: Sequence[Timer] = (),
    final: bool = False,
) -> tuple[ProcessInstance, list[LedgerEntry]]:
    """The next version of ``instance`` in ``state``, with its new ledger entry."""
    entry = _entry(instance, action, state, T0 + timedelta(minutes=instance.version))
    new = evolve(instance, state=state, version=instance.version + 1,
                 history=(*instance.history, entry), timers=tuple(timers), final=final)
    return new, [entry]


def _notice(instance: ProcessInstance, kind: str = "task_assigned") -> Notice:
    return Notice(kind, instance.id, instance.definition, instance.state, T0, ("account_manager",))


class StorageContract:
    """Behaviour every ``InstanceStore`` shares. Override the ``store`` fixture."""

    @pytest.fixture
    def store(self) -> InstanceStore:
        """The store under test (override in the subclass)."""
        raise NotImplementedError("override the 'store' fixture")

    def test_store_satisfies_the_protocol(self, store: InstanceStore) -> None:
        """The adapter has every method of the InstanceStore protocol."""
        assert isinstance(store, InstanceStore)

    def test_a_saved_instance_comes_back_equal(self, store: InstanceStore) -> None:
        """What was committed is what get() returns, history included."""
        inst, entries = new_instance(timers=[Timer(T0 + timedelta(days=1), "overdue")])
        store.commit(inst, None, entries, [])
        assert store.get(inst.id) == inst
        assert store.ledger(inst.id) == tuple(entries)

    def test_an_unknown_id_raises_not_found(self, store: InstanceStore) -> None:
        """get() and ledger() of an unknown id raise NotFoundError."""
        with pytest.raises(NotFoundError):
            store.get("nope")
        with pytest.raises(NotFoundError):
            store.ledger("nope")

    def test_creating_an_existing_id_is_a_conflict(self, store: InstanceStore) -> None:
        """A second create with the same id raises ConflictError."""
        inst, entries = new_instance()
        store.commit(inst, None, entries, [])
        with pytest.raises(ConflictError):
            store.commit(inst, None, entries, [])

    def test_a_stale_expected_version_raises_concurrent_update(self, store: InstanceStore) -> None:
        """Two writers read version 1; the second commit loses and changes nothing."""
        inst, entries = new_instance()
        store.commit(inst, None, entries, [])
        first, first_entries = advance(inst, "review")
        second, second_entries = advance(inst, "lost")
        store.commit(first, 1, first_entries, [_notice(first)])
        with pytest.raises(ConcurrentUpdateError):
            store.commit(second, 1, second_entries, [_notice(second, "completed")])
        assert store.get(inst.id) == first
        assert [n.kind for _, n in store.pending_notices()] == ["task_assigned"]

    def test_a_failed_commit_writes_nothing(self, store: InstanceStore) -> None:
        """Instance, ledger entries and notices commit together or not at all."""
        inst, entries = new_instance()
        store.commit(inst, None, entries, [_notice(inst)])
        store.ack_notices([i for i, _ in store.pending_notices()])
        later, later_entries = advance(inst, "review")
        with pytest.raises(StorageError):
            store.commit(later, 7, later_entries, [_notice(later)])
        assert store.get(inst.id) == inst
        assert len(store.ledger(inst.id)) == 1
        assert store.pending_notices() == []

    def test_ledger_order_is_stable(self, store: InstanceStore) -> None:
        """Ledger entries come back in sequence order, each chaining to the one before."""
        inst, entries = new_instance()
        store.commit(inst, None, entries, [])
        for state in ["a", "b", "c", "d"]:
            nxt, new_entries = advance(inst, state)
            store.commit(nxt, inst.version, new_entries, [])
            inst = nxt
        ledger = store.ledger(inst.id)
        assert [e.seq for e in ledger] == [0, 1, 2, 3, 4]
        assert [e.dest for e in ledger] == ["draft", "a", "b", "c", "d"]
        assert store.get(inst.id).verify_ledger()

    def test_the_ledger_is_append_only(self, store: InstanceStore) -> None:
        """A commit cannot rewrite recorded entries: it is refused or the old entry stays."""
        inst, entries = new_instance()
        store.commit(inst, None, entries, [])
        nxt, new_entries = advance(inst, "review")
        forged = evolve(nxt.history[0], comment="rewritten", actor="mallory")
        tampered = evolve(nxt, history=(forged, *nxt.history[1:]))
        try:
            store.commit(tampered, inst.version, new_entries, [])
        except StorageError:
            assert store.get(inst.id) == inst
        assert store.ledger(inst.id)[0] == entries[0]

    def test_notices_wait_in_the_outbox_until_acknowledged(self, store: InstanceStore) -> None:
        """Pending notices keep their order; acknowledged ones are gone."""
        inst, entries = new_instance()
        store.commit(inst, None, entries, [_notice(inst, "a"), _notice(inst, "b")])
        pending = store.pending_notices()
        assert [n.kind for _, n in pending] == ["a", "b"]
        store.ack_notices([pending[0][0]])
        assert [n.kind for _, n in store.pending_notices()] == ["b"]

    def test_due_lists_instances_whose_timers_have_come(self, store: InstanceStore) -> None:
        """due(now) returns ids with a timer at or before now, earliest first."""
        late, e1 = new_instance("late", timers=[Timer(T0 + timedelta(hours=5), "overdue")])
        early, e2 = new_instance("early", timers=[Timer(T0 + timedelta(hours=1), "remind")])
        none, e3 = new_instance("none")
        for inst, entries in [(late, e1), (early, e2), (none, e3)]:
            store.commit(inst, None, entries, [])
        assert store.due(T0) == []
        assert store.due(T0 + timedelta(hours=2)) == ["early"]
        assert store.due(T0 + timedelta(hours=5)) == ["early", "late"]
        moved, entries = advance(early, "next", timers=[Timer(T0 + timedelta(days=9), "overdue")])
        store.commit(moved, early.version, entries, [])
        assert store.due(T0 + timedelta(hours=5)) == ["late"]

    def test_find_filters_by_definition_version_state_and_finality(
        self, store: InstanceStore
    ) -> None:
        """find() applies every filter given."""
        a, ea = new_instance("a", definition="sales")
        b, eb = new_instance("b", definition="after_sales")
        store.commit(a, None, ea, [])
        store.commit(b, None, eb, [])
        done, ed = advance(b, "closed", final=True)
        store.commit(done, 1, ed, [])
        assert store.find(definition="sales") == ["a"]
        assert sorted(store.find()) == ["a", "b"]
        assert store.find(include_final=False) == ["a"]
        assert store.find(state="closed") == ["b"]
        assert store.find(definition="sales", definition_version=2) == []


class NotifierContract:
    """Behaviour every ``Notifier`` shares. Override ``notifier`` and ``received``.

    ``received(notifier)`` returns what reached the receiver, as a list of notices (or of
    anything with ``kind`` and ``instance_id``), oldest first.
    """

    @pytest.fixture
    def notifier(self) -> Any:
        """The notifier under test (override in the subclass)."""
        raise NotImplementedError("override the 'notifier' fixture")

    def received(self, notifier: Any) -> list[Any]:
        """What the receiver got (override in the subclass)."""
        raise NotImplementedError("override received()")

    def test_notifier_satisfies_the_protocol(self, notifier: Any) -> None:
        """The adapter has the Notifier protocol's send method."""
        from vip_workflow.ports import Notifier

        assert isinstance(notifier, Notifier)

    def test_each_notice_arrives_once_in_order(self, notifier: Any) -> None:
        """Every kind of notice is delivered once, in the order sent."""
        inst, _ = new_instance()
        kinds = ["task_assigned", "approval_requested", "approval_granted", "approval_rejected",
                 "reminder", "escalated", "overdue", "completed"]
        for kind in kinds:
            notifier.send(_notice(inst, kind))
        got = self.received(notifier)
        assert [n.kind for n in got] == kinds
        assert {n.instance_id for n in got} == {inst.id}
