"""Storage benchmark: durable transitions per second on SQLite and PostgreSQL.

A durable transition is one committed transaction through ``SQLInstanceStore.commit``: the
instance row updated where its version is still the one read, one ledger entry appended and one
outbox row (with its idempotency key) enqueued. The naive baseline, on the same database with the
same settings, runs ``UPDATE state`` + ``INSERT history`` per transition in one transaction —
no version check, no hash chain, no outbox.

The transitions (new instance values, hashed ledger entries, notices) are built before the clock
starts, so the figures are the store's. Each figure is the best of ``--repeats`` runs.

Run: ``.venv/bin/python bench/bench_storage.py [--n 3000] [--postgres URL]``
(also ``python -m bench storage``). Floors: ≥ 1 500/s on SQLite, ≥ 800/s on PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in {None, ""}:  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from attrs import evolve

from vip_workflow.adapters.storage.sql import SQLInstanceStore
from vip_workflow.domain.instances import LedgerEntry, Notice, ProcessInstance, entry_hash
from vip_workflow.errors import StorageUnavailableError

FLOORS = {"sqlite": 1500, "postgresql": 800}
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
PG_DEFAULT = os.environ.get("VW_BENCH_POSTGRES",
                            "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _entry(inst: ProcessInstance, dest: str) -> LedgerEntry:
    prev = inst.history[-1] if inst.history else None
    seq = prev.seq + 1 if prev else 0
    prev_hash = prev.hash if prev else ""
    at = T0 + timedelta(seconds=seq)
    source = prev.dest if prev else None
    digest = entry_hash(inst.id, prev_hash, seq, at, "am1", None, "go", source, dest, "", None)
    return LedgerEntry(seq, at, "am1", None, "go", source, dest, "", None, prev_hash, digest)


def _plan(instances: int, steps: int) -> tuple[list[tuple], list[tuple]]:
    """Creates and transitions: ``(instance, expected_version, entries, notices)`` each."""
    creates, moves = [], []
    current = []
    for k in range(instances):
        blank = ProcessInstance(f"b{k}", "sales", 1, "plan", {"customer_id": f"c{k}"}, 0, T0)
        entry = _entry(blank, "plan")
        inst = evolve(blank, version=1, history=(entry,))
        creates.append((inst, None, [entry], []))
        current.append(inst)
    for step in range(steps):
        for k, inst in enumerate(current):
            entry = _entry(inst, f"s{step % 5}")
            new = evolve(inst, state=entry.dest, version=inst.version + 1,
                         history=(*inst.history, entry))
            notice = Notice("task_assigned", new.id, "sales", new.state, entry.at,
                            ("account_manager",))
            moves.append((new, inst.version, [entry], [notice]))
            current[k] = new
    return creates, moves


SYNCHRONOUS = {"value": "NORMAL"}


def _store_run(url: str, creates: list[tuple], moves: list[tuple]) -> float:
    with SQLInstanceStore(url, synchronous=SYNCHRONOUS["value"]) as store:
        for args in creates:
            store.commit(*args)
        start = time.perf_counter()
        for args in moves:
            store.commit(*args)
        seconds = time.perf_counter() - start
        assert store.get(moves[-1][0].id).version == moves[-1][0].version
    return seconds


def _naive_run(url: str, creates: list[tuple], moves: list[tuple]) -> float:
    with SQLInstanceStore(url, synchronous=SYNCHRONOUS["value"]) as store:  # same settings
        engine = store._write
        meta = sa.MetaData()
        state = sa.Table("naive_state", meta, sa.Column("id", sa.String(200), primary_key=True),
                         sa.Column("state", sa.String(200)), sa.Column("version", sa.Integer))
        history = sa.Table("naive_history", meta,
                           sa.Column("n", sa.Integer, primary_key=True, autoincrement=True),
                           sa.Column("id", sa.String(200)), sa.Column("state", sa.String(200)),
                           sa.Column("at", sa.String(40)))
        meta.create_all(engine)
        with engine.begin() as c:
            c.execute(state.insert(), [{"id": i[0].id, "state": i[0].state, "version": 1}
                                       for i in creates])
        update = state.update().where(state.c.id == sa.bindparam("i")).values(
            state=sa.bindparam("s"), version=state.c.version + 1)
        start = time.perf_counter()
        for inst, _, entries, _ in moves:
            with engine.begin() as c:
                c.execute(update, {"i": inst.id, "s": inst.state})
                c.execute(history.insert(), {"id": inst.id, "state": inst.state,
                                             "at": entries[0].at.isoformat()})
        return time.perf_counter() - start


def _sqlite_url(folder: str, name: str) -> str:
    return f"sqlite:///{Path(folder) / name}"


class _PgSchema:
    def __init__(self, base: str) -> None:
        self.base = base
        self.name = f"vw_bench_{uuid.uuid4().hex[:10]}"
        self.engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")

    def __enter__(self) -> str:
        with self.engine.connect() as c:
            c.exec_driver_sql(f"create schema {self.name}")
        return f"{self.base}?options=-csearch_path%3D{self.name}"

    def __exit__(self, *exc: object) -> None:
        with self.engine.connect() as c:
            c.exec_driver_sql(f"drop schema if exists {self.name} cascade")
        self.engine.dispose()


def measure(backend: str, n: int, repeats: int, pg_url: str) -> list[dict[str, Any]]:
    instances = 100
    creates, moves = _plan(instances, max(1, n // instances))
    rows = []
    for label, run in [("SQLInstanceStore.commit", _store_run), ("naive baseline", _naive_run)]:
        best = float("inf")
        for _ in range(repeats):
            if backend == "sqlite":
                with tempfile.TemporaryDirectory() as folder:
                    best = min(best, run(_sqlite_url(folder, "bench.db"), creates, moves))
            else:
                with _PgSchema(pg_url) as url:
                    best = min(best, run(url, creates, moves))
        rows.append({"backend": backend, "what": label, "transitions": len(moves),
                     "seconds": best, "rate": len(moves) / best})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=3000, help="transitions per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--postgres", default=PG_DEFAULT, help="PostgreSQL URL ('' to skip)")
    parser.add_argument("--synchronous", default="NORMAL", choices=["NORMAL", "FULL"],
                        help="SQLite PRAGMA synchronous (the store's default is NORMAL)")
    args = parser.parse_args(argv)
    SYNCHRONOUS["value"] = args.synchronous
    backends = ["sqlite"] + (["postgresql"] if args.postgres else [])
    rows = []
    for backend in backends:
        try:
            rows += measure(backend, args.n, args.repeats, args.postgres)
        except (StorageUnavailableError, sa.exc.OperationalError) as exc:
            print(f"{backend}: not measured ({str(exc).splitlines()[0]})")
    print(f"# storage: durable transitions/s (SQLite synchronous={args.synchronous}; "
          f"{platform.python_version()}, "
          f"{platform.machine()}, load {os.getloadavg()[0]:.2f})")
    print("| backend | what | transitions | seconds | transitions/s | floor |")
    print("|---|---|---:|---:|---:|---:|")
    failed = False
    for row in rows:
        floor = FLOORS[row["backend"]] if row["what"].startswith("SQL") else None
        ok = floor is None or row["rate"] >= floor
        failed |= not ok
        verdict = "" if floor is None else f"≥ {floor} {'ok' if ok else 'MISSED'}"
        print(f"| {row['backend']} | {row['what']} | {row['transitions']} | "
              f"{row['seconds']:.3f} | {row['rate']:,.0f} | {verdict} |")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
