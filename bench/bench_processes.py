"""Process engine benchmark: start N instances and take each through 3 transitions, in memory.

Compared in the same run with plain ``transitions``: one ``Machine`` per model, and one
``Machine`` with many models. Reports transitions per second and bytes per idle instance
(tracemalloc, measured in a separate pass so tracing does not slow the timed one).

Then ``tasks_for`` through the stores' work index (``bench/_work.py``): 100 000 running
instances on memory, SQLite and PostgreSQL, one user's work looked up 200 times (median and p95),
beside the old full scan.

Run: ``.venv/bin/python bench/bench_processes.py [--n 100000] [--n-plain 10000]
[--tasks-n 100000] [--lookups 200] [--postgres URL]`` (also ``python -m bench processes``).
Floors: ≥ 20 000 transitions/s, ≤ 2 KiB per instance, tasks_for ≤ 20 ms (median) on every
store.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in {None, ""}:  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from transitions import Machine

import vip_workflow as vw
from bench import _work

FLOOR_RATE = 20_000
FLOOR_BYTES = 2048
PG_DEFAULT = os.environ.get("VW_BENCH_POSTGRES",
                            "postgresql+psycopg://postgres@127.0.0.1:5432/test")

DEFINITION = """
name: bench_flow
version: 1
context:
  customer_id: {type: string, required: true}
  contract_value: {type: number, default: 0}
initial: plan
states:
  - {name: plan, owner: account_manager}
  - {name: draft, owner: account_manager}
  - {name: order, owner: account_manager}
  - {name: done, final: true}
transitions:
  - {event: plan_ready, source: plan, dest: draft}
  - {event: drafted, source: draft, dest: order}
  - {event: ordered, source: order, dest: done}
"""
EVENTS = ("plan_ready", "drafted", "ordered")
STATES = ["plan", "draft", "order", "done"]
PLAIN_TRANSITIONS = [
    {"trigger": "plan_ready", "source": "plan", "dest": "draft"},
    {"trigger": "drafted", "source": "draft", "dest": "order"},
    {"trigger": "ordered", "source": "order", "dest": "done"},
]


class _CountingNotifier:
    """Counts notices instead of keeping them, so memory measures instances only."""

    def __init__(self) -> None:
        self.sent = 0

    def send(self, notice: Any, *, key: str | None = None) -> None:
        self.sent += 1


def _engine() -> vw.ProcessEngine:
    definition = vw.load_definition("bench_flow.yaml", text=DEFINITION)
    counter = iter(range(10**9))
    return vw.ProcessEngine(
        definitions=[definition], bundled=False, notifier=_CountingNotifier(),
        id_factory=lambda: f"i{next(counter):08d}",
    )


def _measure_bytes(build: Callable[[int], Any], n: int) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    keep = build(n)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del keep
    return (after - before) / n


def bench_engine(n: int) -> dict[str, Any]:
    actor = vw.Actor("am1", roles={"account_manager"})
    engine = _engine()
    start = time.perf_counter()
    ids = [engine.start("bench_flow", {"customer_id": f"c{i}"}, actor=actor).id
           for i in range(n)]
    started = time.perf_counter()
    fire = engine.fire
    for event in EVENTS:
        for instance_id in ids:
            fire(instance_id, event, actor=actor)
    done = time.perf_counter()
    assert all(engine.get(i).state == "done" for i in ids[:100])
    assert engine.get(ids[-1]).verify_ledger()

    def idle(count: int) -> Any:
        fresh = _engine()
        for i in range(count):
            fresh.start("bench_flow", {"customer_id": f"c{i}"}, actor=actor)
        return fresh

    return {
        "name": "vip_workflow ProcessEngine (ledger, authority, outbox)",
        "n": n,
        "start_s": started - start,
        "fire_s": done - started,
        "bytes": _measure_bytes(idle, n),
    }


class _Model:
    pass


def bench_machine_per_model(n: int) -> dict[str, Any]:
    def build(count: int) -> list[_Model]:
        models = []
        for _ in range(count):
            model = _Model()
            Machine(model=model, states=STATES, transitions=PLAIN_TRANSITIONS, initial="plan",
                    auto_transitions=False)
            models.append(model)
        return models

    start = time.perf_counter()
    models = build(n)
    started = time.perf_counter()
    for event in EVENTS:
        for model in models:
            getattr(model, event)()
    done = time.perf_counter()
    assert all(m.state == "done" for m in models[:100])
    del models
    return {"name": "transitions: one Machine per model", "n": n, "start_s": started - start,
            "fire_s": done - started, "bytes": _measure_bytes(build, n)}


def bench_shared_machine(n: int) -> dict[str, Any]:
    def build(count: int) -> Machine:
        machine = Machine(model=None, states=STATES, transitions=PLAIN_TRANSITIONS,
                          initial="plan", auto_transitions=False)
        machine.add_model([_Model() for _ in range(count)])
        return machine

    start = time.perf_counter()
    machine = build(n)
    started = time.perf_counter()
    models = list(machine.models)
    for event in EVENTS:
        for model in models:
            getattr(model, event)()
    done = time.perf_counter()
    assert all(m.state == "done" for m in models[:100])
    del machine, models
    return {"name": "transitions: one Machine, many models", "n": n, "start_s": started - start,
            "fire_s": done - started, "bytes": _measure_bytes(build, n)}


def bytes_bundled_sales(n: int) -> float:
    """Bytes per idle instance of the bundled ``sales`` process (SLA timers, due index)."""
    actor = vw.Actor("am1", roles={"account_manager"})

    def idle(count: int) -> Any:
        counter = iter(range(10**9))
        engine = vw.ProcessEngine(notifier=_CountingNotifier(),
                                  id_factory=lambda: f"i{next(counter):08d}")
        for i in range(count):
            engine.start("sales", {"customer_id": f"c{i}", "contract_value": 1000.0 * i},
                         actor=actor)
        return engine

    return _measure_bytes(idle, n)


def _rate(row: dict[str, Any]) -> float:
    return 3 * row["n"] / row["fire_s"]


def _table(rows: list[dict[str, Any]]) -> str:
    header = ("engine", "instances", "start s", "3 transitions s", "transitions/s",
              "× bare", "B/instance")
    lines = [header]
    bare = _rate(rows[-1])  # one Machine, many models: bare pytransitions
    for row in rows:
        rate = _rate(row)
        lines.append((
            row["name"], f"{row['n']:,}", f"{row['start_s']:.2f}", f"{row['fire_s']:.2f}",
            f"{rate:,.0f}", f"{rate / bare:.2f}", f"{row['bytes']:,.0f}",
        ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for k, line in enumerate(lines):
        out.append("| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True))
                   + " |")
        if k == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_processes", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="instances for our engine")
    parser.add_argument("--n-plain", type=int, default=10_000,
                        help="models for plain transitions (one Machine per model costs ~9 KB "
                             "and ~0.2 ms each; add_model is quadratic in the model count)")
    parser.add_argument("--tasks-n", type=int, default=100_000,
                        help="running instances for the tasks_for figure (0: skip it)")
    parser.add_argument("--lookups", type=int, default=200, help="tasks_for lookups timed")
    parser.add_argument("--scan-n", type=int, default=2_000,
                        help="instances of the full-scan comparison (scaled to --tasks-n)")
    parser.add_argument("--postgres", default=PG_DEFAULT, help="PostgreSQL URL ('' to skip)")
    args = parser.parse_args(argv)
    print(f"Python {platform.python_version()} on {platform.system()} {platform.machine()}")
    rows = [bench_engine(args.n), bench_machine_per_model(args.n_plain),
            bench_shared_machine(args.n_plain)]
    print(_table(rows))
    sales_n = min(args.n, 50_000)
    print(f"bundled 'sales' instance idle at 4.1 (context, 2 SLA timers, due index): "
          f"{bytes_bundled_sales(sales_n):,.0f} B each over {sales_n:,} instances")
    ours = rows[0]
    rate = _rate(ours)
    print(f"engine / bare pytransitions (one Machine, many models), same run: "
          f"{rate / _rate(rows[-1]):.2f}")
    ok_rate = rate >= FLOOR_RATE
    ok_bytes = ours["bytes"] <= FLOOR_BYTES
    print(f"floor ≥ {FLOOR_RATE:,} transitions/s: {'met' if ok_rate else 'MISSED'} "
          f"({rate:,.0f}); floor ≤ {FLOOR_BYTES:,} B per idle instance: "
          f"{'met' if ok_bytes else 'MISSED'} ({ours['bytes']:,.0f} B)")
    ok_tasks = tasks_for(args) if args.tasks_n > 0 else True
    return 0 if ok_rate and ok_bytes and ok_tasks else 1


def tasks_for(args: argparse.Namespace) -> bool:
    """Print the tasks_for table; whether its floor was met on every store measured."""
    import sqlalchemy as sa

    from vip_workflow.errors import StorageUnavailableError

    rows = []
    for backend in ("memory", "sqlite", *(("postgresql",) if args.postgres else ())):
        try:
            rows.append(_work.measure(backend, args.tasks_n, args.lookups, args.scan_n,
                                      args.postgres))
        except (StorageUnavailableError, sa.exc.OperationalError) as exc:
            print(f"tasks_for on {backend}: not measured ({str(exc).splitlines()[0]})")
    print(f"tasks_for: {_work.USERS} users and {_work.ROLES} pool roles; a user with one role "
          f"asks find_work(limit) + get_many, {args.lookups} times "
          f"(load average {os.getloadavg()[0]:.2f})")
    print(_work.table(rows))
    ok = _work.floors_met(rows)
    print(f"floor tasks_for ≤ {_work.FLOOR_MS:.0f} ms (median, a page of {_work.PAGE}): "
          f"{'met' if ok else 'MISSED'}")
    return ok


if __name__ == "__main__":
    raise SystemExit(main())
