"""Fault tests with real processes, no mocks: workers killed with SIGKILL mid-storm, eight
processes racing on one gate, a dispatcher killed mid-delivery, engine hand-offs cut short by
hard exits and SIGKILL.

Run on SQLite (a WAL file) and on PostgreSQL (a fresh schema per test).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.adapters.receivers import HTTPReceiver
from vip_workflow.adapters.storage import _schema
from vip_workflow.adapters.storage.sql import SQLInstanceStore, notice_key
from vip_workflow.domain.instances import Actor
from vip_workflow.outbox import Backoff, Dispatcher

pytestmark = pytest.mark.slow  # more than a few seconds: `pytest -m 'not slow'` skips it

ROOT = Path(__file__).resolve().parents[2]
AM = Actor("am1", roles={"account_manager"})


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'vip.db'}"
    else:
        url = request.getfixturevalue("pg_schema")
    SQLInstanceStore(url).close()  # schema made once, before the workers race
    return url


class Worker:
    """A ``tests.adapters._workers`` subprocess whose stdout lines are collected."""

    def __init__(self, *args: Any) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.adapters._workers", *map(str, args)], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.strip())

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._reader.join(10)

    def finish(self, timeout: float = 60) -> list[str]:
        self.proc.wait(timeout)
        self._reader.join(10)
        assert self.proc.returncode == 0, self.proc.stderr.read() if self.proc.stderr else ""
        return self.lines


def _acks(workers: list[Worker]) -> list[tuple[str, int]]:
    found = []
    for worker in workers:
        for line in worker.lines:
            if line.startswith("ack "):
                _, instance_id, version = line.split()
                found.append((instance_id, int(version)))
    return found


def _check_consistent(store: SQLInstanceStore, acks: list[tuple[str, int]]) -> dict[str, int]:
    """Every ack is there; every instance is whole; returns each instance's version."""
    with store.engine.connect() as c:
        per_instance = dict(c.execute(sa.select(_schema.outbox.c.instance_id, sa.func.count())
                                      .group_by(_schema.outbox.c.instance_id)).all())
        ledger_rows = c.execute(sa.select(sa.func.count()).select_from(_schema.ledger)).scalar()
    versions = {}
    for instance_id in store.find():
        inst = store.get(instance_id)
        assert inst.verify_ledger(), instance_id
        assert [e.seq for e in inst.history] == list(range(inst.version)), instance_id
        assert per_instance.get(instance_id, 0) == inst.version  # one notice per commit
        versions[instance_id] = inst.version
    assert ledger_rows == sum(versions.values())  # no stray half-written entries
    for instance_id, version in acks:
        assert versions[instance_id] >= version, (instance_id, version)
    return versions


class TestKilledWorkers:
    """Workers killed with SIGKILL in a storm of transitions lose nothing acknowledged."""

    def test_a_storm_survives_sigkill_and_every_notice_is_delivered(self, url) -> None:
        """Kill three writers mid-storm and a dispatcher mid-delivery; restart; check all."""
        workers = [Worker("storm", url, f"w{k}", 5, 10_000) for k in range(3)]
        deadline = time.monotonic() + 20
        while len(_acks(workers)) < 300 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        for worker in workers:
            worker.kill()
        acks = _acks(workers)
        assert len(acks) >= 300, [w.proc.stderr.read() for w in workers if w.proc.stderr]
        store = SQLInstanceStore(url)
        before = _check_consistent(store, acks)
        assert len(before) == 15

        # restart: the same workers carry on from what was stored
        again = [Worker("storm", url, f"w{k}", 5, 3) for k in range(3)]
        for worker in again:
            worker.finish()
        after = _check_consistent(store, _acks(again))
        assert all(after[i] == before[i] + 3 for i in before)

        # deliver: a dispatcher killed mid-way, then one run to the end
        receiver = HTTPReceiver().start()
        receiver.delay = 0.002
        try:
            dispatcher = Worker("dispatch", url, receiver.url)
            deadline = time.monotonic() + 20
            while len(receiver.requests) < 50 and time.monotonic() < deadline:
                time.sleep(0.01)
            dispatcher.kill()
            # the killed worker's leases must lapse: a later clock sees them due again
            final = Dispatcher(store, _webhook(receiver), backoff=Backoff(base=0.01),
                               clock=lambda: _now() + _minutes(5))
            final.run()
            expected = {notice_key(i, v, 0) for i, n in after.items() for v in range(1, n + 1)}
            assert receiver.keys == expected
            assert len(receiver.requests) == len(expected)
            assert store.pending_notices() == [] and final.dead_letters() == []
        finally:
            receiver.stop()
            store.close()


CHILD = "new_product_development"
MARKERS = {"start_child", "resume_parent"}


def _check_handoffs(store: SQLInstanceStore, *, repaired: bool) -> dict[str, int]:
    """Every parent is before a hand-off, waiting for its child, or resumed; children are
    named by their hand-off, none twice, none orphaned; every ledger verifies. ``repaired``
    (after a tick): every waiting parent's child exists and runs, and no marker is left."""
    parents = store.find(definition="solution_design")
    children = set(store.find(definition=CHILD))
    claimed: set[str] = set()
    counts: Counter[str] = Counter()
    for parent_id in parents:
        parent = store.get(parent_id)
        assert parent.verify_ledger(), parent_id
        handoffs = [e for e in parent.history if e.action == "handoff"]
        resumed = [e.data["child"] for e in parent.history if e.action == "handoff_done"]
        ids = [e.data["child"] for e in handoffs]
        assert ids == [f"{parent_id}/{CHILD}/{e.seq}" for e in handoffs]
        assert resumed == ids[:len(resumed)], parent_id  # each resumed once, in order
        claimed |= set(ids)
        if parent.state == "new_product":
            assert parent.waiting_for == ids[-1] and len(resumed) == len(ids) - 1, parent_id
            if parent.waiting_for not in children:
                counts["child_missing"] += 1
                assert not repaired, parent_id
            elif store.get(parent.waiting_for).final:
                counts["resume_missing"] += 1
                assert not repaired, parent_id
            counts["waiting"] += 1
        else:
            assert parent.waiting_for is None and resumed == ids, parent_id
            counts["final" if parent.final else "moving"] += 1
    assert children <= claimed  # no orphan, no duplicate: one child per hand-off entry
    for child_id in children:
        child = store.get(child_id)
        assert child.verify_ledger() and child.parent in parents, child_id
    if repaired:
        assert claimed == children
        for instance_id in store.find():
            assert not MARKERS & {t.kind for t in store.get(instance_id).timers}, instance_id
    return counts


class TestKilledHandoffs:
    """ProcessEngine commands through hand-offs (solution_design → new_product_development
    → resume) on SQLite: hard exits in each window a hand-off spans, SIGKILLs mid-storm."""

    def test_tick_repairs_every_hand_off_a_crash_cut_short(self, tmp_path) -> None:
        """Crash in both windows, kill two storms; one tick() repairs all; the storms finish."""
        url = f"sqlite:///{tmp_path / 'vip.db'}"
        SQLInstanceStore(url).close()
        # hard exits just before the third child's commit and the third parent resume
        crashing = [Worker("handoff", url, f"crash-{w}", 3, w) for w in ("child", "resume")]
        for worker in crashing:
            worker.proc.wait(30)
            assert worker.proc.returncode == 3, worker.proc.stderr.read()  # type: ignore[union-attr]
        rng = random.Random(20240607)
        for _round in range(2):  # storms (3 × 10 parents × 14 commands) killed at random
            workers = [Worker("handoff", url, f"w{k}", 10) for k in range(3)]
            deadline = time.monotonic() + 20
            goal = rng.randint(40, 160)
            while len(_acks_of(workers)) < goal and time.monotonic() < deadline:
                time.sleep(0.005)
            assert all(w.proc.poll() is None for w in workers), "the storm ended unkilled"
            for worker in workers:
                worker.kill()
        store = SQLInstanceStore(url)
        try:
            before = _check_handoffs(store, repaired=False)
            assert before["child_missing"] >= 1 and before["resume_missing"] >= 1, before
            crashed = store.get("crash-child-2")
            assert crashed.state == "new_product" and crashed.waiting_for not in store.find()

            from vip_workflow.processes.engine import ProcessEngine

            engine = ProcessEngine(store=store)
            report = engine.tick(_now() + _minutes(1))
            assert report.handoffs == before["child_missing"] + before["resume_missing"]
            after = _check_handoffs(store, repaired=True)
            assert after["waiting"] == before["waiting"] - before["resume_missing"]
            assert engine.get("crash-resume-2").state == "can_create_new"  # resumed: abandoned

            # the workers' driver runs every parent to the end: two children each, no more
            from tests.adapters._workers import handoff

            for name, n in [("crash-child", 3), ("crash-resume", 3)] + [(f"w{k}", 10)
                                                                        for k in range(3)]:
                handoff(url, name, n)
            engine.tick(_now() + _minutes(1))  # drops the last children's resume markers
            done = _check_handoffs(store, repaired=True)
            assert done["final"] == 36 and len(store.find(definition=CHILD)) == 72
            states = Counter(store.get(i).state for i in store.find(definition=CHILD))
            assert states == {"abandoned": 36, "launched": 36}
        finally:
            store.close()


def _acks_of(workers: list[Worker]) -> list[str]:
    return [line for worker in workers for line in worker.lines if line.startswith("ack ")]


def _webhook(receiver: HTTPReceiver) -> Any:
    from vip_workflow.adapters.notify.webhook import WebhookNotifier

    return WebhookNotifier(receiver.url, timeout=2)


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _minutes(n: int) -> Any:
    from datetime import timedelta

    return timedelta(minutes=n)


class TestRacingApprovers:
    """Eight processes decide on one gate at once."""

    def _at_gate(self, url: str) -> str:
        from vip_workflow.processes.engine import ProcessEngine

        engine = ProcessEngine(store=SQLInstanceStore(url))
        inst = engine.start("sales", {"customer_id": "c1", "contract_value": 200_000},
                            actor=AM)
        engine.fire(inst.id, "plan_ready", actor=AM)
        engine.fire(inst.id, "submit", actor=AM, comment="please approve")
        engine.store.close()
        return inst.id

    def test_exactly_one_approval_counts_for_the_slot(self, url) -> None:
        """One business-level vote is recorded; the others lose cleanly."""
        instance_id = self._at_gate(url)
        start_at = time.time() + 2.0
        workers = [Worker("approve", url, f"bm{k}", start_at) for k in range(8)]
        outcomes = Counter(line for w in workers for line in w.finish())
        assert outcomes["ok"] == 1, outcomes
        assert sum(outcomes.values()) == 8
        assert set(outcomes) <= {"ok", "conflict", "refused ApprovalError",
                                 "refused PermissionDenied"}, outcomes
        with SQLInstanceStore(url) as store:
            inst = store.get(instance_id)
            assert inst.verify_ledger()
            assert inst.gate is not None and inst.gate.level == "director"
            assert [v.level for v in inst.gate.votes] == ["business"]
            assert sum(1 for e in inst.history if e.action == "approve") == 1

    def test_no_update_is_lost_under_retry(self, url) -> None:
        """8 processes × 15 read-increment-commits with retry_on_conflict: 120 exactly."""
        instance_id = self._at_gate(url)
        start_at = time.time() + 2.0
        workers = [Worker("bump", url, f"admin{k}", start_at, 15) for k in range(8)]
        lines = [line for w in workers for line in w.finish(120)]
        assert len(lines) == 8 and all(line.startswith("done") for line in lines)
        assert sum(int(line.split()[1]) for line in lines) > 0  # the writers did collide
        with SQLInstanceStore(url) as store:
            inst = store.get(instance_id)
            assert inst.context["contract_value"] == 200_000 + 120
            assert inst.verify_ledger()
            assert sum(1 for e in inst.history if e.action == "update") == 120
