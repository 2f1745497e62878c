"""The transactional outbox and its dispatcher, on the memory, SQLite and PostgreSQL stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

import vip_workflow as vw
from tests.adapters.receivers import HTTPReceiver
from vip_workflow.adapters.notify.memory import MemoryNotifier
from vip_workflow.adapters.notify.webhook import WebhookNotifier
from vip_workflow.adapters.storage.memory import MemoryInstanceStore
from vip_workflow.adapters.storage.sql import SQLInstanceStore
from vip_workflow.domain.instances import Notice
from vip_workflow.errors import ConcurrentUpdateError, DeliveryError
from vip_workflow.outbox import Backoff, Dispatcher, retry_on_conflict
from vip_workflow.testing import FrozenClock
from vip_workflow.testing.contract import advance, new_instance


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request, tmp_path) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryInstanceStore()
        return
    url = (f"sqlite:///{tmp_path / 'vip.db'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_schema"))
    with SQLInstanceStore(url) as sql_store:
        yield sql_store


def _fill(store: Any, count: int) -> list[str]:
    """``count`` commits with one notice each; returns the instance ids."""
    ids = []
    for k in range(count):
        inst, entries = new_instance(f"i{k}")
        notice = Notice("task_assigned", inst.id, "sales", inst.state, inst.created_at)
        store.commit(inst, None, entries, [notice])
        ids.append(inst.id)
    return ids


class Flaky:
    """A notifier failing its first ``failures`` sends (or always, with ``retryable=False``)."""

    def __init__(self, failures: int = 0, *, retryable: bool = True) -> None:
        self.failures = failures
        self.retryable = retryable
        self.sent: list[tuple[str, str | None]] = []
        self.calls = 0

    def send(self, notice: Notice, *, key: str | None = None) -> None:
        self.calls += 1
        if not self.retryable or self.calls <= self.failures:
            raise DeliveryError("receiver down", retryable=self.retryable)
        self.sent.append((notice.instance_id, key))


NO_JITTER = Backoff(base=10, factor=2, jitter=0)


class TestDispatcher:
    """At-least-once delivery with retries, backoff, dead letters and keys."""

    def test_pending_notices_are_delivered_once_with_keys(self, store) -> None:
        """Each notice goes out once, with a key; a second run sends nothing."""
        ids = _fill(store, 5)
        notifier = Flaky()
        dispatcher = Dispatcher(store, notifier, clock=FrozenClock())
        assert dispatcher.dispatch().delivered == 5
        assert dispatcher.dispatch().delivered == 0
        assert [i for i, _ in notifier.sent] == ids
        keys = [k for _, k in notifier.sent]
        assert all(keys) and len(set(keys)) == 5
        assert store.pending_notices() == []

    def test_failures_back_off_exponentially_then_dead_letter(self, store) -> None:
        """A failing notice waits 10 s, 20 s, … and is dead after max_attempts."""
        _fill(store, 1)
        clock = FrozenClock()
        dispatcher = Dispatcher(store, Flaky(failures=99), max_attempts=3, backoff=NO_JITTER,
                                clock=clock)
        assert dispatcher.dispatch().retried == 1
        assert dispatcher.dispatch().attempted == 0  # not due yet
        clock.advance(seconds=10)
        assert dispatcher.dispatch().retried == 1
        clock.advance(seconds=19)
        assert dispatcher.dispatch().attempted == 0
        clock.advance(seconds=1)
        assert dispatcher.dispatch().dead == 1
        clock.advance(days=1)
        assert dispatcher.dispatch().attempted == 0
        (dead,) = dispatcher.dead_letters()
        assert dead.attempts == 3 and "receiver down" in dead.last_error

    def test_a_dead_letter_can_be_requeued(self, store) -> None:
        """requeue() gives dead letters fresh attempts; they are delivered with the same key."""
        _fill(store, 1)
        clock = FrozenClock()
        notifier = Flaky(failures=1)
        dispatcher = Dispatcher(store, notifier, max_attempts=1, clock=clock)
        assert dispatcher.dispatch().dead == 1
        key = dispatcher.dead_letters()[0].key
        assert dispatcher.requeue() == 1
        clock.advance(seconds=1)
        assert dispatcher.dispatch().delivered == 1
        assert notifier.sent[0][1] == key
        assert dispatcher.dead_letters() == []

    def test_a_permanent_failure_is_dead_at_once(self, store) -> None:
        """A non-retryable DeliveryError is not tried again."""
        _fill(store, 2)
        report = Dispatcher(store, Flaky(retryable=False), clock=FrozenClock()).dispatch()
        assert (report.delivered, report.dead) == (0, 2)

    def test_a_plain_notifier_without_key_works(self, store) -> None:
        """Notifiers whose send() takes only the notice are served too."""
        _fill(store, 3)
        notifier = MemoryNotifier()
        assert Dispatcher(store, notifier, clock=FrozenClock()).dispatch().delivered == 3
        assert len(notifier.notices) == 3


class TestReceiverDownForAWhile:
    """A real HTTP receiver is down, comes back; nothing is lost, duplicates are dropped."""

    def test_notices_wait_and_arrive_when_the_receiver_returns(self, store) -> None:
        """Sends fail while the server is down; after it starts, every notice arrives once."""
        ids = _fill(store, 20)
        receiver = HTTPReceiver()  # not started: connection refused
        notifier = WebhookNotifier(receiver.url, timeout=0.5)
        clock = FrozenClock()
        dispatcher = Dispatcher(store, notifier, max_attempts=10, backoff=NO_JITTER,
                                clock=clock)
        for _ in range(3):
            report = dispatcher.dispatch()
            assert report.delivered == 0
            clock.advance(minutes=30)
        receiver.start()
        try:
            assert dispatcher.dispatch().delivered == 20
            assert [p.instance_id for p in receiver.payloads()] == ids
            assert dispatcher.dispatch().attempted == 0
            assert dispatcher.dead_letters() == []
        finally:
            receiver.stop()
            notifier.close()

    def test_a_receiver_that_times_out_after_accepting_gets_a_duplicate_it_drops(
        self, store
    ) -> None:
        """The first send times out after the receiver kept it; the retry carries the same
        key and the receiver drops it: exactly one notice is kept."""
        _fill(store, 1)
        receiver = HTTPReceiver().start()
        receiver.delay = 0.6
        notifier = WebhookNotifier(receiver.url, timeout=0.2)
        clock = FrozenClock()
        dispatcher = Dispatcher(store, notifier, backoff=NO_JITTER, clock=clock)
        try:
            assert dispatcher.dispatch().retried == 1
            receiver.delay = 0
            clock.advance(seconds=11)
            assert dispatcher.dispatch().delivered == 1
            assert len(receiver.payloads()) == 1
            assert receiver.duplicates == 1
        finally:
            receiver.stop()
            notifier.close()


class TestLeases:
    """Two dispatchers on one SQL outbox do not claim the same notices."""

    def test_claimed_notices_are_hidden_from_another_dispatcher(self, tmp_path) -> None:
        """A claim leases its notices until acked, failed or the lease ends."""
        with SQLInstanceStore(f"sqlite:///{tmp_path / 'vip.db'}") as store:
            _fill(store, 6)
            clock = FrozenClock()
            first = store.claim_notices(clock(), 4)
            second = store.claim_notices(clock(), 4)
            assert len(first) == 4 and len(second) == 2
            assert not {i.id for i in first} & {i.id for i in second}
            assert store.claim_notices(clock() + timedelta(minutes=2), 10)  # leases ended


class TestRetryOnConflict:
    """retry_on_conflict re-runs a command that lost a race."""

    def test_a_conflict_is_retried_until_it_succeeds(self) -> None:
        """The function runs again after ConcurrentUpdateError."""
        calls = []

        def command() -> str:
            calls.append(1)
            if len(calls) < 3:
                raise ConcurrentUpdateError("stale")
            return "done"

        assert retry_on_conflict(command, attempts=5, delay=0) == "done"
        assert len(calls) == 3

    def test_the_last_conflict_propagates(self) -> None:
        """After the last attempt the ConcurrentUpdateError is raised."""
        with pytest.raises(ConcurrentUpdateError):
            retry_on_conflict(lambda: (_ for _ in ()).throw(ConcurrentUpdateError("x")),
                              attempts=2, delay=0)


class TestEngineOnSQL:
    """The process engine on the SQL store: its notices go through the outbox."""

    def test_an_engine_commit_and_its_notice_are_one_transaction(self, tmp_path) -> None:
        """A stale fire changes nothing and enqueues nothing; the winner's notice is kept."""
        with SQLInstanceStore(f"sqlite:///{tmp_path / 'vip.db'}") as store:
            inst, entries = new_instance()
            store.commit(inst, None, entries, [])
            winner, w_entries = advance(inst, "review")
            loser, l_entries = advance(inst, "lost")
            store.commit(winner, 1, w_entries, [Notice("a", inst.id, "sales", "review",
                                                       inst.created_at)])
            with pytest.raises(ConcurrentUpdateError):
                store.commit(loser, 1, l_entries, [Notice("b", inst.id, "sales", "lost",
                                                          inst.created_at)])
            assert [n.kind for _, n in store.pending_notices()] == ["a"]
            assert store.outbox_counts() == {"pending": 1, "delivered": 0, "dead": 0}


class TestEngineEndToEnd:
    """The process engine on SQLite and PostgreSQL, through a restart."""

    @pytest.fixture(params=["sqlite", "postgresql"])
    def url(self, request, tmp_path) -> str:
        if request.param == "sqlite":
            return f"sqlite:///{tmp_path / 'vip.db'}"
        return request.getfixturevalue("pg_schema")

    def test_a_sale_through_its_gate_survives_a_restart(self, url) -> None:
        """Start, submit, approve on one engine; a new engine on the same URL sees it all,
        runs its timers and its notices wait in the outbox until dispatched."""
        from vip_workflow.bootstrap import bootstrap

        am = vw.Actor("am1", roles={"account_manager"})
        bm = vw.Actor("bm1", roles={"business_manager"})
        clock = FrozenClock()
        down = Flaky(failures=10_000)  # the engine's own delivery fails: notices stay queued
        engine = bootstrap(url, notifier=down, clock=clock)
        inst = engine.start("sales", {"customer_id": "c1", "contract_value": 50_000}, actor=am)
        engine.fire(inst.id, "plan_ready", actor=am)
        engine.fire(inst.id, "submit", actor=am, comment="please")
        done = engine.approve(inst.id, actor=bm, comment="ok")
        assert done.state == "contract_signing"
        engine.store.close()

        again = bootstrap(url, notifier=down, clock=clock)
        assert again.get(inst.id) == done and again.get(inst.id).verify_ledger()
        clock.advance(days=11)
        assert inst.id in again.tick().instances  # the signing reminder
        pending = again.store.pending_notices()
        assert {n.kind for _, n in pending} >= {"task_assigned", "approval_requested",
                                                 "approval_granted", "reminder"}
        notifier = MemoryNotifier()
        clock.advance(hours=2)  # past the backoff of the engine's failed attempts
        assert Dispatcher(again.store, notifier, clock=clock).dispatch().delivered == len(
            pending)
        assert [n.kind for n in notifier.notices] == [n.kind for _, n in pending]
        again.store.close()
