"""Worker processes for the fault tests (run as ``python -m tests.adapters._workers MODE …``).

* ``storm URL NAME INSTANCES STEPS`` — commits transitions round-robin over its instances
  (each with a ledger entry and a notice) and prints ``ack <id> <version>`` after each commit
  returns; on restart it carries on from what the store holds.
* ``approve URL ACTOR START_AT`` — waits until ``START_AT`` (epoch seconds), then approves the
  one instance at its gate; prints ``ok``, ``conflict`` or ``refused <ErrorName>``.
* ``bump URL ACTOR START_AT TIMES`` — adds 1 to ``contract_value`` ``TIMES`` times, each a
  read and a commit at the version read, with ``retry_on_conflict``; prints ``done <retries>``.
* ``dispatch URL WEBHOOK`` — runs a dispatcher to the webhook forever.
"""

from __future__ import annotations

import sys
import time
from itertools import count

from vip_workflow.adapters.storage.sql import SQLInstanceStore
from vip_workflow.errors import ConcurrentUpdateError, NotFoundError, VipWorkflowError
from vip_workflow.outbox import retry_on_conflict
from vip_workflow.processes.instance import Actor, Notice
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
        new, entries = advance(current, current.state, action="update")
        value = current.context["contract_value"] + 1
        store.commit(evolve(new, context={**current.context, "contract_value": value}),
                     current.version, entries, [])

    for _ in range(times):
        retry_on_conflict(once, attempts=500, delay=0.001)
    print(f"done {next(retries) - times}", flush=True)


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
    else:
        raise SystemExit(f"unknown mode {mode}")
