"""The ``tasks_for`` figure of ``python -m bench processes``: one user's work out of 100 000
running instances, through the store's work index, on memory, SQLite and PostgreSQL.

Each instance holds one key of work: 90 % are assigned to one of ``USERS`` account managers
(``user:amNNN``), 10 % are pool work of one of ``ROLES`` roles (``role:poolN``); 70 % have a
timer. A lookup is what ``ProcessEngine.tasks_for`` asks of the store for a user holding one
role: ``find_work({"user:…", "role:…"}, limit=…)`` then ``get_many`` of the ids found. The old
way, a full scan (``find`` of the running instances, then ``get`` of each and a look at its
keys), is timed in the same run on a smaller store and scaled to the full count.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from vip_workflow.adapters.storage.memory import MemoryInstanceStore
from vip_workflow.adapters.storage.sql import SQLInstanceStore
from vip_workflow.domain.instances import LedgerEntry, ProcessInstance, Timer, entry_hash

USERS = 500
ROLES = 10
PAGE = 50  # an inbox page
FLOOR_MS = 20.0
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
_CHUNK = 5_000


def _instance(k: int, rng: random.Random) -> ProcessInstance:
    """A running instance at its first step, with one ledger entry and one key of work."""
    instance_id = f"w{k:07d}"
    digest = entry_hash(instance_id, "", 0, T0, "am000", None, "start", None, "plan", "", None)
    entry = LedgerEntry(0, T0, "am000", None, "start", None, "plan", "", None, "", digest)
    key = (f"role:pool{rng.randrange(ROLES)}" if rng.random() < 0.1
           else f"user:am{rng.randrange(USERS):03d}")
    timers = ((Timer(T0 + timedelta(minutes=rng.randrange(60 * 24 * 30)), "overdue"),)
              if rng.random() < 0.7 else ())
    return ProcessInstance(instance_id, "retention", 1, "plan", {"customer_id": f"c{k}"}, 1, T0,
                           history=(entry,), timers=timers, work=frozenset({key}))


def load(store: Any, n: int, seed: int = 11) -> float:
    """Commit ``n`` instances with ``commit_many`` in chunks; returns the seconds it took."""
    rng = random.Random(seed)
    start = time.perf_counter()
    for first in range(0, n, _CHUNK):
        batch = [_instance(k, rng) for k in range(first, min(n, first + _CHUNK))]
        store.commit_many([(inst, None, inst.history, ()) for inst in batch])
    return time.perf_counter() - start


def _lookups(count: int, seed: int = 12) -> list[frozenset[str]]:
    rng = random.Random(seed)
    return [frozenset({f"user:am{rng.randrange(USERS):03d}", f"role:pool{rng.randrange(ROLES)}"})
            for _ in range(count)]


def _timed(call: Callable[[frozenset[str]], int], lookups: list[frozenset[str]]
           ) -> tuple[list[float], int]:
    """Milliseconds of each lookup, and the instances the last one gave."""
    times, found = [], 0
    for keys in lookups:
        start = time.perf_counter()
        found = call(keys)
        times.append((time.perf_counter() - start) * 1000)
    return times, found


def _indexed(store: Any, limit: int | None) -> Callable[[frozenset[str]], int]:
    def call(keys: frozenset[str]) -> int:
        return len(store.get_many(store.find_work(keys, limit=limit).ids))
    return call


def _last_page(store: Any) -> Callable[[frozenset[str]], int]:
    """The last page of one user's work, reached by following the cursor (only the last
    request is timed: ``measure`` walks to it first)."""
    def call(keys: frozenset[str]) -> int:
        return len(store.get_many(store.find_work(keys, after=_before_last[keys],
                                                  limit=PAGE).ids))
    return call


_before_last: dict[frozenset[str], Any] = {}


def _walk_to_last(store: Any, lookups: list[frozenset[str]]) -> None:
    for keys in lookups:
        page, before = store.find_work(keys, limit=PAGE), None
        while page.next is not None:
            before, page = page.next, store.find_work(keys, after=page.next, limit=PAGE)
        _before_last[keys] = before


def _scan(store: Any) -> Callable[[frozenset[str]], int]:
    """The old way: read every running instance and keep those holding one of the keys."""
    def call(keys: frozenset[str]) -> int:
        return sum(1 for i in store.find(include_final=False) if store.get(i).work & keys)
    return call


@contextmanager
def _store(backend: str, pg_url: str) -> Iterator[Any]:
    if backend == "memory":
        yield MemoryInstanceStore()
    elif backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder, \
                SQLInstanceStore(f"sqlite:///{Path(folder) / 'work.db'}") as store:
            yield store
    else:
        name = f"vw_bench_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.exec_driver_sql(f"create schema {name}")
        try:
            with SQLInstanceStore(f"{pg_url}?options=-csearch_path%3D{name}") as store:
                yield store
        finally:
            with admin.connect() as c:
                c.exec_driver_sql(f"drop schema if exists {name} cascade")
            admin.dispose()


def measure(backend: str, n: int, lookups: int, scan_n: int, pg_url: str) -> dict[str, Any]:
    """The figures of one back end: load time, then indexed lookups (a page and all), then
    the full scan on ``scan_n`` instances."""
    asked = _lookups(lookups)
    with _store(backend, pg_url) as store:
        load_s = load(store, n)
        if hasattr(store, "engine") and store.engine.dialect.name == "postgresql":
            # the state autovacuum would leave: fresh statistics and visibility map
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql("VACUUM ANALYZE")
        page, page_found = _timed(_indexed(store, PAGE), asked)
        deep_asked = asked[: max(1, lookups // 4)]
        _walk_to_last(store, deep_asked)
        last, _ = _timed(_last_page(store), deep_asked)
        full, full_found = _timed(_indexed(store, None), asked[: max(1, lookups // 4)])
    with _store(backend, pg_url) as small:
        load(small, scan_n)
        scan, _ = _timed(_scan(small), asked[:3])
    return {"backend": backend, "n": n, "load_s": load_s, "page": page, "page_found": page_found,
            "last": last,
            "all": full, "all_found": full_found, "scan_n": scan_n,
            "scan_ms": statistics.median(scan)}


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def table(rows: list[dict[str, Any]]) -> str:
    """The figures as a Markdown table."""
    lines = ["| store | running instances | load s | tasks_for page of "
             f"{PAGE}: median ms | p95 ms | last page by cursor: median ms "
             "| all of one user's work: median ms (instances) "
             "| full scan (old way): ms, scaled to the count | floor ≤ "
             f"{FLOOR_MS:.0f} ms |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        median = statistics.median(row["page"])
        scaled = row["scan_ms"] * row["n"] / row["scan_n"]
        verdict = "met" if median <= FLOOR_MS else "MISSED"
        lines.append(
            f"| {row['backend']} | {row['n']:,} | {row['load_s']:.1f} | {median:.2f} | "
            f"{_p95(row['page']):.2f} | {statistics.median(row['last']):.2f} | "
            f"{statistics.median(row['all']):.2f} "
            f"({row['all_found']:,}) | {scaled:,.0f} ({row['scan_ms']:,.1f} over "
            f"{row['scan_n']:,}) | {verdict} |")
    return "\n".join(lines)


def floors_met(rows: list[dict[str, Any]]) -> bool:
    """Whether every store answered a page of tasks_for within the floor (median)."""
    return all(statistics.median(row["page"]) <= FLOOR_MS for row in rows)
