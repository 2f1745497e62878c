"""Worker processes for the fault tests (run as ``python -m tests.adapters._workers MODE …``).

* ``storm URL NAME INSTANCES STEPS`` — commits transitions round-robin over its instances
  (each with a ledger entry and a notice) and prints ``ack <id> <version>`` after each commit
  returns; on restart it carries on from what the store holds.
* ``approve URL ACTOR START_AT`` — waits until ``START_AT`` (epoch seconds), then approves the
  one instance at its gate; prints ``ok``, ``conflict`` or ``refused <ErrorName>``.
* ``bump URL ACTOR START_AT TIMES`` — adds 1 to ``contract_value`` ``TIMES`` times, each a
  read and a commit at the version read, with ``retry_on_conflict``; prints ``done <retries>``.
* ``dispatch URL WEBHOOK`` — runs a dispatcher to the webhook forever.
* ``handoff URL NAME PARENTS [CRASH]`` — real ``ProcessEngine`` commands, round-robin over its
  ``solution_design`` instances, through two hand-offs to ``new_product_development`` each
  (the first child abandoned, the second launched) to ``agreed``; prints ``ack <id> <step>``
  after each command and ``idle`` when no parent can move (all final, or waiting on a
  hand-off a crash left for ``tick``). ``CRASH`` (``child`` or ``resume``) exits the process
  hard just before the third child's first commit or the third parent resume's commit.
"""

from __future__ import annotations

import os
import sys
import time
from itertools import count

from vip_workflow.adapters.storage.sql import SQLInstanceStore
from vip_workflow.domain.instances import Actor, Notice
from vip_workflow.errors import ConcurrentUpdateError, NotFoundError, VipWorkflowError
from vip_workflow.outbox import retry_on_conflict
from vip_workflow.testing.contract import advance, new_instance


def _notice(inst) -> Notice:
    return Notice("task_assigned", inst.id, inst.definition, inst.state, inst.created_at,
                  ("account_manager",), (), {"version": inst.version})


def storm(url: str, name: str, instances: int, steps: int) -> None:
    store = SQLInstanceStore(url)
    ids = [f"{name}-{k}" for k in range(instances)]
    for step in range(steps):
        for instance_id in ids:
            try:
                current = store.get(instance_id)
            except NotFoundError:
                inst, entries = new_instance(instance_id)
                store.commit(inst, None, entries, [_notice(inst)])
            else:
                inst, entries = advance(current, f"s{step % 7}")
                store.commit(inst, current.version, entries, [_notice(inst)])
            print(f"ack {inst.id} {inst.version}", flush=True)


def _engine(url: str):
    from vip_workflow.adapters.notify.log import LogNotifier
    from vip_workflow.processes.engine import ProcessEngine

    return ProcessEngine(store=SQLInstanceStore(url), notifier=LogNotifier())


def _wait(start_at: float) -> None:
    while time.time() < start_at:
        time.sleep(0.001)


def approve(url: str, actor: str, start_at: float) -> None:
    engine = _engine(url)
    (instance_id,) = engine.store.find(state="internal_approval")
    who = Actor(actor, roles={"business_manager"})
    _wait(start_at)
    try:
        engine.approve(instance_id, actor=who, comment=f"ok from {actor}")
    except ConcurrentUpdateError:
        print("conflict", flush=True)
        return
    except VipWorkflowError as exc:
        print(f"refused {type(exc).__name__}", flush=True)
        return
    print("ok", flush=True)


def bump(url: str, actor: str, start_at: float, times: int) -> None:
    """Read-modify-write of one counter, committed against the version that was read."""
    from attrs import evolve

    store = SQLInstanceStore(url)
    (instance_id,) = store.find()
    retries = count()
    _wait(start_at)

    def once() -> None:
        next(retries)
        current = store.get(instance_id)
        old = current.context["contract_value"]
        value = old + 1
        new, entries = advance(current, current.state, action="update",
                               data={"changes": {"contract_value": [old, value]}})
        store.commit(evolve(new, context={**current.context, "contract_value": value}),
                     current.version, entries, [])

    for _ in range(times):
        retry_on_conflict(once, attempts=500, delay=0.001)
    print(f"done {next(retries) - times}", flush=True)


SM = Actor("sm1", roles={"solution_manager"})
PM = Actor("pm1", roles={"product_manager"})
SEATS = {"business": Actor("bm1", roles={"business_manager"}),
         "network": Actor("np1", roles={"network_planner"}),
         "support": Actor("ts1", roles={"technical_support_manager"})}
PARENT_EVENTS = {"shortlist": "shortlisted", "analyse_and_choose": "chosen",
                 "internal_support": "support_decided", "can_provide_now": "cannot_provide_now",
                 "can_create_new": "develop_product", "evaluate": "submit"}


class _CrashingStore:
    """Exits the process (no cleanup, like SIGKILL) before the ``nth`` commit ``when`` picks."""

    def __init__(self, inner, when, nth: int = 3) -> None:
        self.inner, self.when, self.left = inner, when, nth

    def commit(self, instance, expected_version, ledger_entries, notices) -> None:
        if self.when(instance, expected_version, ledger_entries):
            self.left -= 1
            if not self.left:
                os._exit(3)
        self.inner.commit(instance, expected_version, ledger_entries, notices)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


_CRASHES = {
    "child": lambda inst, expected, entries: expected is None and inst.parent is not None,
    "resume": lambda inst, expected, entries: any(e.action == "handoff_done" for e in entries),
}


def _handoff_step(engine, parent_id: str) -> str | None:
    """One command that moves the parent (or its child) on; ``None`` if none can."""
    try:
        parent = engine.get(parent_id)
    except NotFoundError:
        engine.start("solution_design", {"customer_id": parent_id}, actor=SM,
                     instance_id=parent_id)
        return "start"
    if parent.final:
        return None
    if parent.state in PARENT_EVENTS:
        event = PARENT_EVENTS[parent.state]
        engine.fire(parent_id, event, actor=SM)
        return event
    if parent.state == "solution_review":
        engine.approve(parent_id, actor=SEATS["business"])
        return "approve"
    try:
        child = engine.get(parent.waiting_for)
    except NotFoundError:
        return None  # a crash left the hand-off half done: tick() starts the child
    if child.final:
        return None  # likewise: tick() resumes the parent
    if child.state == "proposal":
        first = sum(1 for e in parent.history if e.action == "handoff") == 1
        event = "abandon" if first else "submit"
        engine.fire(child.id, event, actor=PM)
        return f"child-{event}"
    if child.state == "product_review":
        voted = {v.seat for v in child.gate.votes} if child.gate else set()
        seat = next(s for s in SEATS if s not in voted)
        engine.approve(child.id, actor=SEATS[seat])
        return f"child-approve-{seat}"
    engine.fire(child.id, "launch", actor=PM)
    return "child-launch"


def handoff(url: str, name: str, parents: int, crash: str = "") -> None:
    engine = _engine(url)
    if crash:
        engine.store = _CrashingStore(engine.store, _CRASHES[crash])
    ids = [f"{name}-{k}" for k in range(parents)]
    with engine.deferred_dispatch():  # notices wait in the outbox: fewer transactions
        moved = True
        while moved:
            moved = False
            for parent_id in ids:
                step = _handoff_step(engine, parent_id)
                if step is not None:
                    moved = True
                    print(f"ack {parent_id} {step}", flush=True)
    engine.store.close()
    print("idle", flush=True)


def dispatch(url: str, webhook: str) -> None:
    from vip_workflow.adapters.notify.webhook import WebhookNotifier
    from vip_workflow.outbox import Backoff, Dispatcher

    dispatcher = Dispatcher(SQLInstanceStore(url), WebhookNotifier(webhook, timeout=2),
                            backoff=Backoff(base=0.05), max_attempts=50)
    print("ready", flush=True)
    dispatcher.run(forever=True, interval=0.01, limit=20)


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "storm":
        storm(args[0], args[1], int(args[2]), int(args[3]))
    elif mode == "approve":
        approve(args[0], args[1], float(args[2]))
    elif mode == "bump":
        bump(args[0], args[1], float(args[2]), int(args[3]))
    elif mode == "dispatch":
        dispatch(args[0], args[1])
    elif mode == "handoff":
        handoff(args[0], args[1], int(args[2]), *args[3:])
    else:
        raise SystemExit(f"unknown mode {mode}")
