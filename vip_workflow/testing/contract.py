"""The storage contract: the tests every ``InstanceStore`` adapter must pass.

Subclass ``StorageContract`` in your adapter's tests and override the ``store`` fixture::

    class TestSQLiteStore(StorageContract):
        @pytest.fixture
        def store(self, tmp_path):
            return SQLiteInstanceStore(tmp_path / "vip.db")

Each test gets a fresh, empty store. The tests of the optional ``BulkInstanceStore`` capability
(``commit_many``, ``existing_ids``) skip a store without it, unless the subclass sets
``requires_bulk = True`` (then they fail). The tests of the optional ``NoticeQueue`` capability
(``enqueue_notices``, ``notice_keys``) do the same with ``requires_notice_queue``, and those of
``WorkIndex`` (``find_work``, ``get_many``, ``rewrite_work``) with ``requires_work_index``.
Every store keeps an instance's ``work`` and ``escalated_to`` (a final instance keeps no keys).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from attrs import evolve

from vip_workflow.domain.instances import LedgerEntry, Notice, ProcessInstance, Timer, entry_hash
from vip_workflow.errors import ConcurrentUpdateError, ConflictError, NotFoundError, StorageError
from vip_workflow.ports import (
    BulkInstanceStore,
    InstanceStore,
    NoticeQueue,
    WorkCursor,
    WorkIndex,
)

__all__ = ["StorageContract", "advance", "new_instance", "with_work"]

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def _entry(instance: ProcessInstance, action: str, dest: str, at: datetime,
           data: Mapping[str, Any] | None = None) -> LedgerEntry:
    prev = instance.history[-1] if instance.history else None
    seq = prev.seq + 1 if prev else 0
    prev_hash = prev.hash if prev else ""
    source = prev.dest if prev else None
    digest = entry_hash(instance.id, prev_hash, seq, at, "u1", None, action, source, dest, "",
                        data)
    return LedgerEntry(seq, at, "u1", None, action, source, dest, "", data, prev_hash, digest)


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
    final: bool = False, data: Mapping[str, Any] | None = None,
) -> tuple[ProcessInstance, list[LedgerEntry]]:
    """The next version of ``instance`` in ``state``, with its new ledger entry (carrying
    ``data``: ``{"changes": {field: [old, new]}}`` for an entry that changes the context)."""
    entry = _entry(instance, action, state, T0 + timedelta(minutes=instance.version), data)
    new = evolve(instance, state=state, version=instance.version + 1,
                 history=(*instance.history, entry), timers=tuple(timers), final=final)
    return new, [entry]


def with_work(instance: ProcessInstance, *keys: str, **changes: Any) -> ProcessInstance:
    """``instance`` holding the keys of work ``keys`` (and any other ``changes``)."""
    return evolve(instance, work=frozenset(keys), **changes)


def _notice(instance: ProcessInstance, kind: str = "task_assigned") -> Notice:
    return Notice(kind, instance.id, instance.definition, instance.state, T0, ("account_manager",))


class StorageContract:
    """Behaviour every ``InstanceStore`` shares. Override the ``store`` fixture."""

    #: Fail (instead of skip) the ``BulkInstanceStore`` tests when the store lacks it.
    requires_bulk = False
    #: Fail (instead of skip) the ``NoticeQueue`` tests when the store lacks it.
    requires_notice_queue = False
    #: Fail (instead of skip) the ``WorkIndex`` tests when the store lacks it.
    requires_work_index = False

    def _bulk(self, store: InstanceStore) -> BulkInstanceStore:
        if not isinstance(store, BulkInstanceStore):
            if self.requires_bulk:
                pytest.fail(f"{type(store).__name__} has no commit_many/existing_ids")
            pytest.skip("the store does not offer the optional BulkInstanceStore capability")
        return store

    def _queue(self, store: InstanceStore) -> NoticeQueue:
        if not isinstance(store, NoticeQueue):
            if self.requires_notice_queue:
                pytest.fail(f"{type(store).__name__} has no enqueue_notices/notice_keys")
            pytest.skip("the store does not offer the optional NoticeQueue capability")
        return store

    def _index(self, store: InstanceStore) -> WorkIndex:
        if not isinstance(store, WorkIndex):
            if self.requires_work_index:
                pytest.fail(f"{type(store).__name__} has no find_work/get_many/rewrite_work")
            pytest.skip("the store does not offer the optional WorkIndex capability")
        return store

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

    def test_commit_many_stores_every_item_as_get_returns_it(self, store: InstanceStore) -> None:
        """A batch of new instances and an update: each comes back equal, ledger included."""
        bulk = self._bulk(store)
        old, old_entries = new_instance("old")
        bulk.commit(old, None, old_entries, [])
        moved, moved_entries = advance(old, "review",
                                       timers=[Timer(T0 + timedelta(hours=3), "remind")])
        batch = [new_instance(f"b{i}", timers=[Timer(T0 + timedelta(hours=i + 1), "overdue")],
                              context={"customer_id": f"c{i}", "n": i}) for i in range(5)]
        bulk.commit_many([(inst, None, entries, []) for inst, entries in batch]
                         + [(moved, 1, moved_entries, [])])
        for inst, entries in [*batch, (moved, [*old_entries, *moved_entries])]:
            assert bulk.get(inst.id) == inst
            assert bulk.ledger(inst.id) == tuple(entries)
            assert bulk.get(inst.id).verify_ledger()
        assert bulk.find() == ["old", "b0", "b1", "b2", "b3", "b4"]
        assert bulk.due(T0 + timedelta(hours=3)) == ["b0", "b1", "b2", "old"]
        bulk.commit_many([])  # an empty batch is nothing to do

    def test_commit_many_enqueues_the_notices_in_item_order(self, store: InstanceStore) -> None:
        """Every notice of a batch lands in the outbox, in item (then notice) order."""
        bulk = self._bulk(store)
        batch = [new_instance(f"n{i}") for i in range(3)]
        bulk.commit_many([(inst, None, entries, [_notice(inst, f"{inst.id}a"),
                                                 _notice(inst, f"{inst.id}b")])
                          for inst, entries in batch])
        pending = bulk.pending_notices()
        assert [n.kind for _, n in pending] == ["n0a", "n0b", "n1a", "n1b", "n2a", "n2b"]
        assert [n.instance_id for _, n in pending] == ["n0", "n0", "n1", "n1", "n2", "n2"]

    def test_a_batch_with_an_existing_id_writes_nothing(self, store: InstanceStore) -> None:
        """One id that is taken (or given twice) fails the batch: no instance, ledger entry
        or notice of any item is written."""
        bulk = self._bulk(store)
        taken, taken_entries = new_instance("taken")
        bulk.commit(taken, None, taken_entries, [_notice(taken)])
        bulk.ack_notices([i for i, _ in bulk.pending_notices()])
        first, e1 = new_instance("first")
        again, e2 = new_instance("taken", state="other")
        last, e3 = new_instance("last")
        with pytest.raises(ConflictError):
            bulk.commit_many([(first, None, e1, [_notice(first)]),
                              (again, None, e2, [_notice(again)]),
                              (last, None, e3, [_notice(last)])])
        with pytest.raises(ConflictError):  # the same new id twice in one batch
            bulk.commit_many([(first, None, e1, [_notice(first)]),
                              (first, None, e1, [_notice(first)])])
        for instance_id in ("first", "last"):
            with pytest.raises(NotFoundError):
                bulk.get(instance_id)
            with pytest.raises(NotFoundError):
                bulk.ledger(instance_id)
        assert bulk.get("taken") == taken
        assert bulk.ledger("taken") == tuple(taken_entries)
        assert bulk.pending_notices() == []
        assert bulk.find() == ["taken"]

    def test_a_batch_with_a_stale_version_writes_nothing(self, store: InstanceStore) -> None:
        """An update whose expected version is stale fails the whole batch with
        ConcurrentUpdateError; its new instances and notices are not written either."""
        bulk = self._bulk(store)
        inst, entries = new_instance("moving")
        bulk.commit(inst, None, entries, [])
        first, first_entries = advance(inst, "review")
        bulk.commit(first, 1, first_entries, [])
        lost, lost_entries = advance(inst, "lost")  # made from version 1, now stale
        fresh, fresh_entries = new_instance("fresh")
        with pytest.raises(ConcurrentUpdateError):
            bulk.commit_many([(fresh, None, fresh_entries, [_notice(fresh)]),
                              (lost, 1, lost_entries, [_notice(lost, "completed")])])
        with pytest.raises(NotFoundError):
            bulk.get("fresh")
        assert bulk.get("moving") == first
        assert len(bulk.ledger("moving")) == 2
        assert bulk.pending_notices() == []
        gone, gone_entries = advance(new_instance("ghost")[0], "review")
        with pytest.raises(NotFoundError):  # an update of an unknown id
            bulk.commit_many([(fresh, None, fresh_entries, []), (gone, 1, gone_entries, [])])
        assert bulk.find() == ["moving"]

    def test_existing_ids_names_the_stored_ones(self, store: InstanceStore) -> None:
        """existing_ids() returns the given ids that are stored, whatever else is given."""
        bulk = self._bulk(store)
        for instance_id in ("x", "y"):
            inst, entries = new_instance(instance_id)
            bulk.commit(inst, None, entries, [])
        assert bulk.existing_ids(["y", "nope", "x", "y"]) == {"x", "y"}
        assert bulk.existing_ids([]) == set()
        many = [f"m{i}" for i in range(1200)]  # more than one IN (...) list's worth
        assert bulk.existing_ids(iter([*many, "x"])) == {"x"}

    def test_enqueued_notices_are_pending_with_their_keys_once(
        self, store: InstanceStore
    ) -> None:
        """enqueue_notices() adds keyed notices after the committed ones; a key already in the
        outbox (or given twice) is ignored, before and after the notice is acknowledged."""
        queue = self._queue(store)
        inst, entries = new_instance()
        store.commit(inst, None, entries, [_notice(inst, "committed")])
        queue.enqueue_notices([("task:1", _notice(inst, "one")), ("task:2", _notice(inst, "two")),
                               ("task:1", _notice(inst, "again"))])
        queue.enqueue_notices([("task:2", _notice(inst, "repeat"))])
        queue.enqueue_notices([])
        pending = store.pending_notices()
        assert [n.kind for _, n in pending] == ["committed", "one", "two"]
        assert pending[1][1] == _notice(inst, "one")
        keys = queue.notice_keys([i for i, _ in pending])
        assert [keys[i] for i, _ in pending[1:]] == ["task:1", "task:2"]
        store.ack_notices([pending[1][0]])
        assert [n.kind for _, n in store.pending_notices()] == ["committed", "two"]
        queue.enqueue_notices([("task:1", _notice(inst, "late")), ("task:3", _notice(inst, "new"))])
        store.ack_notices([i for i, _ in store.pending_notices()][:2])
        assert [n.kind for _, n in store.pending_notices()] == ["new"]
        assert queue.notice_keys([]) == {}

    def test_the_dispatcher_sends_enqueued_notices_with_their_keys(
        self, store: InstanceStore
    ) -> None:
        """Dispatcher delivers enqueued notices with the given keys, and acknowledges them."""
        from vip_workflow.outbox import Dispatcher

        queue = self._queue(store)
        inst, _ = new_instance()
        sent: list[tuple[str, str | None]] = []

        class Keyed:
            def send(self, notice: Notice, *, key: str | None = None) -> None:
                sent.append((notice.kind, key))

        queue.enqueue_notices([("k-a", _notice(inst, "a")), ("k-b", _notice(inst, "b"))])
        report = Dispatcher(store, Keyed(), clock=lambda: T0 + timedelta(days=1)).dispatch()
        assert report.delivered == 2 and sent == [("a", "k-a"), ("b", "k-b")]
        assert store.pending_notices() == []

    # ------------------------------------------------------------- work (per-user)

    def test_work_and_escalated_to_come_back_from_every_commit(
        self, store: InstanceStore
    ) -> None:
        """An instance's keys of work and the role it was escalated to are kept by commit and
        by commit_many, new and updated, and come back from get(); Chinese ids too."""
        inst, entries = new_instance("w-1")
        inst = with_work(inst, "user:张伟", "role:account_manager")
        store.commit(inst, None, entries, [])
        assert store.get(inst.id) == inst
        moved, moved_entries = advance(inst, "review")
        moved = with_work(moved, "role:director", escalated_to="director")
        store.commit(moved, 1, moved_entries, [])
        assert store.get(inst.id) == moved
        assert store.get(inst.id).escalated_to == "director"
        bulk = self._bulk(store)
        again, again_entries = advance(moved, "signed")
        again = with_work(again, "user:u2", escalated_to=None, assignee="u2")
        fresh, fresh_entries = new_instance("w-2")
        fresh = with_work(fresh, "user:u1")
        bulk.commit_many([(again, 2, again_entries, []), (fresh, None, fresh_entries, [])])
        assert bulk.get(again.id) == again and bulk.get(fresh.id) == fresh
        assert bulk.get(again.id).work == frozenset({"user:u2"})

    def test_a_final_instance_keeps_no_keys(self, store: InstanceStore) -> None:
        """Work of a finished instance is nobody's: get() gives it no keys and find_work does
        not find it."""
        index = self._index(store)
        inst, entries = new_instance("done")
        store.commit(with_work(inst, "user:u1"), None, entries, [])
        closed, closed_entries = advance(with_work(inst, "user:u1"), "closed", final=True)
        store.commit(closed, 1, closed_entries, [])
        assert store.get("done").work == frozenset()
        assert evolve(store.get("done"), work=closed.work) == closed
        assert index.find_work(["user:u1"]).ids == []
        index.rewrite_work([("done", frozenset({"user:u1"}))])
        assert index.find_work(["user:u1"]).ids == [] and store.get("done").work == frozenset()

    def _work_fixture(self, store: InstanceStore) -> dict[str, ProcessInstance]:
        """Five instances with keys of work and timers (some without), one of them final."""
        made: dict[str, ProcessInstance] = {}
        for name, definition, due, keys in [
                ("c", "sales", 3, ("user:u1",)), ("a", "sales", None, ("user:u1", "role:am")),
                ("b", "after_sales", 1, ("role:am",)), ("d", "sales", None, ("user:u2",)),
                ("e", "sales", 2, ("role:dd",))]:
            timers = [Timer(T0 + timedelta(hours=due), "overdue")] if due else []
            inst, entries = new_instance(name, definition=definition, timers=timers)
            made[name] = with_work(inst, *keys)
            store.commit(made[name], None, entries, [])
        closed, closed_entries = advance(made["e"], "closed", final=True)
        store.commit(closed, 1, closed_entries, [])
        return made

    def test_find_work_by_keys_definition_and_limit_in_due_order(
        self, store: InstanceStore
    ) -> None:
        """find_work() gives the running instances having any of the keys, overdue first
        (earliest timer; none last), then by id; filtered by definition, cut by limit."""
        index = self._index(store)
        self._work_fixture(store)
        assert index.find_work(["user:u1"]).ids == ["c", "a"]
        assert index.find_work(["user:u1", "role:am"]).ids == ["b", "c", "a"]
        assert index.find_work({"user:u1", "role:am", "user:u2"}).ids == ["b", "c", "a", "d"]
        assert index.find_work(["user:u1", "role:am"], definition="sales").ids == ["c", "a"]
        assert index.find_work(["user:u1", "role:am"], limit=2).ids == ["b", "c"]
        assert index.find_work(["user:u1", "role:am"], limit=0).ids == []
        assert index.find_work(["role:dd"]).ids == []  # e is final
        assert index.find_work(["user:nobody"]).ids == [] and index.find_work([]).ids == []

    def test_find_work_follows_every_commit(self, store: InstanceStore) -> None:
        """A commit replaces the instance's keys: the old ones no longer find it; a stale
        commit changes none."""
        index = self._index(store)
        made = self._work_fixture(store)
        moved, entries = advance(made["a"], "review")
        store.commit(with_work(moved, "user:u3"), 1, entries, [])
        assert index.find_work(["user:u1"]).ids == ["c"]
        assert index.find_work(["user:u3"]).ids == ["a"]
        stale, stale_entries = advance(made["a"], "lost")
        with pytest.raises(ConcurrentUpdateError):
            store.commit(with_work(stale, "user:thief"), 1, stale_entries, [])
        assert index.find_work(["user:thief"]).ids == []
        assert index.find_work(["user:u3"]).ids == ["a"]
        bulk = self._bulk(store)
        again, again_entries = advance(made["c"], "review")
        bulk.commit_many([(with_work(again, "role:am"), 1, again_entries, [])])
        assert index.find_work(["user:u1"]).ids == []
        assert index.find_work(["role:am"]).ids == ["b", "c"]

    def test_find_work_order_follows_a_new_due_time(self, store: InstanceStore) -> None:
        """A commit that keeps an instance's keys but moves its timer moves it in
        find_work's order (one commit, commit_many and rewrite_work alike)."""
        index = self._index(store)
        made = self._work_fixture(store)
        assert index.find_work(["user:u1", "role:am"]).ids == ["b", "c", "a"]
        sooner = [Timer(T0 + timedelta(minutes=5), "overdue")]
        moved, entries = advance(made["a"], "draft", timers=sooner)
        store.commit(with_work(moved, "user:u1", "role:am"), 1, entries, [])
        assert index.find_work(["user:u1", "role:am"]).ids == ["a", "b", "c"]
        assert index.find_work(["user:u1", "role:am"], definition="sales").ids == ["a", "c"]
        later = [Timer(T0 + timedelta(days=9), "overdue")]
        again, again_entries = advance(made["b"], "draft", timers=later)
        self._bulk(store).commit_many([(with_work(again, "role:am"), 1, again_entries, [])])
        assert index.find_work(["user:u1", "role:am"]).ids == ["a", "c", "b"]
        index.rewrite_work([("b", frozenset({"role:am", "user:u9"}))])
        assert index.find_work(["user:u9"]).ids == ["b"]
        assert index.find_work(["user:u1", "role:am"]).ids == ["a", "c", "b"]

    def _many(self, store: InstanceStore, prefix: str, dues: Sequence[int | None], *,
              key: str = "role:am", states: Sequence[str] = ("draft",)) -> list[str]:
        """Instances ``prefix-NNN`` with ``key``, their timers ``dues`` hours after T0 (None:
        no timer) and states taken in turn from ``states``; their ids."""
        ids = []
        for n, due in enumerate(dues):
            timers = [Timer(T0 + timedelta(hours=due), "overdue")] if due is not None else []
            inst, entries = new_instance(f"{prefix}-{n:03d}", timers=timers,
                                         state=states[n % len(states)])
            store.commit(with_work(inst, key), None, entries, [])
            ids.append(inst.id)
        return ids

    @staticmethod
    def _walk(index: WorkIndex, keys: Sequence[str], limit: int,
              between: Any = None, **filters: Any) -> list[list[str]]:
        """Every page of ``find_work(keys, limit=limit, **filters)`` by its cursor (calling
        ``between(page_number)`` after each page); the pages' ids."""
        pages: list[list[str]] = []
        after = None
        while True:
            page = index.find_work(keys, after=after, limit=limit, **filters)
            assert len(page.found) <= limit
            assert (page.next is None) or page.next == page.found[-1]
            pages.append(page.ids)
            if page.next is None:
                return pages
            assert len(pages) < 10_000, "the cursor does not move on"
            if between is not None:
                between(len(pages))
            after = page.next

    def test_find_work_pages_cover_every_instance_once(self, store: InstanceStore) -> None:
        """Paging by the cursor, any page size, gives every matching instance once, in the
        order of one unpaged call — ties of due time broken by id, instances without a timer
        last — and only the last page has no next cursor."""
        index = self._index(store)
        dues = [3, None, 1, 3, 3, None, 2, 1, 5, None, 3, 4, 0, 2, 3]
        self._many(store, "p", dues)
        whole = index.find_work(["role:am", "user:nobody"]).ids
        assert len(whole) == len(dues) and whole[-3:] == ["p-001", "p-005", "p-009"]
        assert whole[:3] == ["p-012", "p-002", "p-007"]
        for limit in (1, 2, 3, 4, 7, 14, 15, 16):
            pages = self._walk(index, ["role:am"], limit)
            assert [i for page in pages for i in page] == whole, limit
            assert all(len(page) == limit for page in pages[:-1]), limit
        assert index.find_work(["role:am"], limit=15).next is None
        last = index.find_work(["role:am"], limit=1000).found[-1]
        assert index.find_work(["role:am"], after=last).found == ()

    def test_find_work_filters_by_state_and_due_time_in_the_store(
        self, store: InstanceStore
    ) -> None:
        """state, due_by (overdue at a time) and due_after (not yet due, or no timer) filter
        before the page is cut: pages of a filter hold only matching instances and cover them
        all."""
        index = self._index(store)
        dues = [3, None, 1, 3, 5, None, 2, 1, 4, 0]
        self._many(store, "f", dues, states=("draft", "review"))
        at = T0 + timedelta(hours=3)
        whole = index.find_work(["role:am"]).ids
        by_state = [i for i in whole if int(i[2:]) % 2 == 1]
        assert index.find_work(["role:am"], state="review").ids == by_state
        hours = {i: dues[int(i[2:])] for i in whole}
        overdue = [i for i in whole if (due := hours[i]) is not None and due <= 3]
        assert index.find_work(["role:am"], due_by=at).ids == overdue
        later = [i for i in whole if i not in overdue]
        assert index.find_work(["role:am"], due_after=at).ids == later
        assert index.find_work(["role:am"], state="review", due_by=at).ids == [
            i for i in overdue if i in by_state]
        for limit in (1, 2, 3):
            for filters, expected in (({"state": "review"}, by_state),
                                      ({"due_by": at}, overdue), ({"due_after": at}, later)):
                pages = self._walk(index, ["role:am"], limit, **filters)
                assert [i for page in pages for i in page] == expected, (limit, filters)

    def test_find_work_pages_are_stable_under_inserts(self, store: InstanceStore) -> None:
        """Instances committed between two pages neither repeat an instance nor hide one that
        was there before: each earlier instance is seen once, and a new one placed after the
        cursor is seen too."""
        index = self._index(store)
        before = self._many(store, "s", [1, 3, None, 5, 2, None, 4, 0])
        added: list[str] = []

        def insert(page_number: int) -> None:
            added.extend(self._many(store, f"t{page_number}", [0, 9, None, 3]))

        pages = self._walk(index, ["role:am"], 3, between=insert)
        seen = [i for page in pages for i in page]
        assert len(seen) == len(set(seen))
        assert set(before) <= set(seen)
        order = {i: pos for pos, i in enumerate(index.find_work(["role:am"]).ids)}
        assert [order[i] for i in seen] == sorted(order[i] for i in seen)
        assert {"t1-001", "t1-002"} <= set(seen)  # due at +9 h and untimed: after the cursor

    def test_find_work_paging_property(self, store: InstanceStore) -> None:
        """Hypothesis: for any dues, page size and filter, the pages concatenate to the
        unpaged, filtered answer, each instance once."""
        from hypothesis import HealthCheck, given, settings
        from hypothesis import strategies as st

        index = self._index(store)
        counter = iter(range(1_000_000))

        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture,
                                         HealthCheck.too_slow])
        @given(dues=st.lists(st.one_of(st.none(), st.integers(0, 6)), max_size=14),
               limit=st.integers(1, 6), cut=st.one_of(st.none(), st.integers(0, 6)),
               review=st.booleans())
        def paging(dues: list[int | None], limit: int, cut: int | None, review: bool) -> None:
            key = f"user:prop{next(counter)}"
            ids = self._many(store, key[5:], dues, key=key, states=("draft", "review"))
            filters: dict[str, Any] = {}
            if cut is not None:
                filters["due_by"] = T0 + timedelta(hours=cut)
            if review:
                filters["state"] = "review"

            def matches(n: int) -> bool:
                due = dues[n]
                if cut is not None and (due is None or due > cut):
                    return False
                return not review or n % 2 == 1

            places = [WorkCursor(None if due is None else T0 + timedelta(hours=due), i)
                      for n, (due, i) in enumerate(zip(dues, ids, strict=True)) if matches(n)]
            expected = [place.id for place in sorted(places, key=lambda place: place.order)]
            pages = self._walk(index, [key], limit, **filters)
            assert [i for page in pages for i in page] == expected
            assert index.find_work([key], **filters).ids == expected

        paging()

    def test_get_many_gives_instances_in_the_order_asked(self, store: InstanceStore) -> None:
        """get_many() returns each known instance as get() does, ledger and keys included, in
        the order asked; unknown ids are skipped."""
        index = self._index(store)
        made = self._work_fixture(store)
        many = [new_instance(f"m{i:04d}")[0].id for i in range(3)]
        got = index.get_many(["d", "nope", "a", "e", "c"])
        assert [i.id for i in got] == ["d", "a", "e", "c"]
        assert got == [store.get(i) for i in ("d", "a", "e", "c")]
        assert got[1] == made["a"] and got[1].verify_ledger()
        assert got[2].final and got[2].work == frozenset() and len(got[2].history) == 2
        assert index.get_many([]) == [] and index.get_many(many) == []

    def test_get_many_reads_more_than_one_chunk(self, store: InstanceStore) -> None:
        """Over a thousand ids (more than one IN list) still come back whole and in order."""
        index = self._index(store)
        bulk = self._bulk(store)
        batch = [new_instance(f"n{i:04d}") for i in range(1100)]
        bulk.commit_many([(with_work(inst, f"user:u{i % 7}"), None, entries, [])
                          for i, (inst, entries) in enumerate(batch)])
        ids = [inst.id for inst, _ in reversed(batch)]
        got = index.get_many(ids)
        assert [i.id for i in got] == ids
        assert got[-1] == with_work(batch[0][0], "user:u0")
        assert len(index.find_work(["user:u3"]).ids) == len(range(3, 1100, 7))

    def test_rewrite_work_replaces_keys_without_a_new_version(
        self, store: InstanceStore
    ) -> None:
        """rewrite_work() sets the keys of stored instances and leaves their versions (and
        everything else) as they were; an unknown id changes nothing and raises."""
        index = self._index(store)
        made = self._work_fixture(store)
        index.rewrite_work([("a", frozenset({"role:dd"})), ("d", frozenset())])
        assert store.get("a") == with_work(made["a"], "role:dd")
        assert store.get("a").version == made["a"].version
        assert index.find_work(["user:u1"]).ids == ["c"]
        assert index.find_work(["user:u2"]).ids == []
        assert index.find_work(["role:dd"]).ids == ["a"]
        with pytest.raises(NotFoundError):
            index.rewrite_work([("c", frozenset({"role:x"})), ("ghost", frozenset())])
        assert index.find_work(["role:x"]).ids == [] and store.get("c") == made["c"]
        index.rewrite_work([])
        moved, entries = advance(store.get("a"), "review")
        store.commit(moved, 1, entries, [])  # the version it had: rewriting did not bump it
        assert store.get("a") == moved


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
