"""HTTP service benchmark: ``vip-workflow serve`` with 2 uvicorn workers, 50 concurrent clients.

Measured from the same machine, each load phase for a bounded time (``--seconds``):

1. judge one customer (``POST /api/v1/books/hubei-2006/judge``): requests/s and p99 latency,
   beside the library's own ``RuleBook.judge`` in this process (the service's overhead as a
   ratio, of rates and of CPU time a call);
2. commands on PostgreSQL (SQLite when PostgreSQL is not reachable): each client starts its own
   tier override, fires ``submit`` and approves: commands/s, errors other than 409, beside the
   library's engine doing the same in this process;
3. 8 clients approving the same level at once: how many 200s and 409s, the ledger verified;
4. pages: a page of the inbox of a user with 10 000 open tasks (the workbench's ``/web/inbox``
   and ``/api/v1/inbox?limit=50``) and the dashboard of a 100 000-customer period
   (``/web/periods/{period}``), in **server time**: the ``Server-Timing: app;dur=`` header the
   service adds (from the request reaching the app to its response starting: routing,
   authentication, the handler, rendering; not the network nor uvicorn's parsing).

The load comes from one client process speaking raw HTTP/1.1 over keep-alive sockets (asyncio
and uvloop; no HTTP library): an httpx client spends several times the server's CPU on each
request, and on a 2-core machine it would take the cores the server needs. The client's and
the server workers' CPU shares are measured and printed, with the load average.

Run: ``python -m bench server [--seconds 10] [--clients 50] [--storage URL] [--quick]``.
Floors: issue 11 (judge ≥ 1 000 req/s with p99 ≤ 50 ms; commands ≥ 300/s, 0 errors but 409;
8 approvers: one 200); issue 14 (inbox page ≤ 300 ms, 100 000-customer dashboard ≤ 1 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in {None, ""}:  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

import vip_workflow as vw

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("VW_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CUSTOMER = {"customer_id": "G1", "importance": "provincial_gov", "revenue": 25000.0,
            "headcount": 3000}
OVERRIDE = {"customer_id": "G1", "requested_tier": "A", "reason": "bench"}
FLOOR_JUDGE, FLOOR_P99_MS, FLOOR_COMMANDS = 1000, 50.0, 300
FLOOR_INBOX_MS, FLOOR_DASHBOARD_MS = 300.0, 1000.0
INBOX_TASKS, PERIOD_CUSTOMERS, RACERS = 10_000, 100_000, 8
JUDGE_PATH = "/api/v1/books/hubei-2006/judge"


# ----------------------------------------------------------------------- the load client


class RawClient:
    """One keep-alive HTTP/1.1 connection: a request written as bytes, the response read by
    its ``Content-Length`` (the service always sends one)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> RawClient:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def post(self, path: str, body: bytes, token: str) -> tuple[int, bytes]:
        """POST a JSON ``body``: the status and the response body."""
        assert self._reader is not None and self._writer is not None
        self._writer.write(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                           b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                           % (path.encode(), token.encode(), len(body), body))
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = next((int(line[15:]) for line in lines[1:]
                       if line[:15].lower() == b"content-length:"), 0)
        return status, await self._reader.readexactly(length)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0


async def _timed_load(port: int, clients: int, seconds: float,
                      one: Callable[[RawClient, float], Awaitable[None]]) -> dict[str, float]:
    """``clients`` connections each running ``one(client, stop)`` until ``stop``: the wall
    and CPU seconds of this (client) process."""
    connections = [await RawClient(port).open() for _ in range(clients)]
    began, cpu = time.perf_counter(), time.process_time()
    stop = began + seconds
    try:
        await asyncio.gather(*(one(c, stop) for c in connections))
    finally:
        for c in connections:
            c.close()
    return {"elapsed": time.perf_counter() - began, "client_cpu": time.process_time() - cpu}


async def _judge_load(port: int, token: str, clients: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    body = json.dumps({"customer": CUSTOMER}).encode()

    async def one(client: RawClient, stop: float) -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            began = time.perf_counter()
            status, _ = await client.post(JUDGE_PATH, body, token)
            latencies.append(time.perf_counter() - began)
            errors += status != 200

    done = await _timed_load(port, clients, seconds, one)
    return {**done, "requests": len(latencies), "rate": len(latencies) / done["elapsed"],
            "p50_ms": statistics.median(latencies) * 1000, "p99_ms": _p99(latencies) * 1000,
            "errors": errors}


async def _command_load(port: int, am: str, boss: str, clients: int,
                        seconds: float) -> dict[str, Any]:
    counts = {"commands": 0, "conflicts": 0, "errors": 0}
    latencies: list[float] = []
    start = json.dumps({"process": "tier_override", "context": OVERRIDE}).encode()

    def count(status: int, ok: int) -> None:
        counts["commands"] += status == ok
        counts["conflicts"] += status == 409
        counts["errors"] += status not in (ok, 409)

    async def one(client: RawClient, stop: float) -> None:
        while time.perf_counter() < stop:
            began = time.perf_counter()
            status, answer = await client.post("/api/v1/instances", start, am)
            latencies.append(time.perf_counter() - began)
            count(status, 201)
            if status != 201:
                continue
            iid = json.loads(answer)["id"]
            for path, token in ((f"/api/v1/instances/{iid}/events/submit", am),
                                (f"/api/v1/instances/{iid}/approve", boss)):
                began = time.perf_counter()
                status, _ = await client.post(path, b"{}", token)
                latencies.append(time.perf_counter() - began)
                count(status, 200)

    done = await _timed_load(port, clients, seconds, one)
    return {**done, **counts, "rate": counts["commands"] / done["elapsed"],
            "p99_ms": _p99(latencies) * 1000}


async def _race(port: int, am: str, boss: str) -> dict[str, Any]:
    """One override submitted, then ``RACERS`` connections approve its level at once."""
    client = await RawClient(port).open()
    try:
        _, answer = await client.post(
            "/api/v1/instances", json.dumps({"process": "tier_override",
                                              "context": OVERRIDE}).encode(), am)
        iid = json.loads(answer)["id"]
        await client.post(f"/api/v1/instances/{iid}/events/submit", b"{}", am)
    finally:
        client.close()
    racers = [await RawClient(port).open() for _ in range(RACERS)]
    try:
        answers = await asyncio.gather(*(r.post(f"/api/v1/instances/{iid}/approve", b"{}", boss)
                                         for r in racers))
    finally:
        for r in racers:
            r.close()
    statuses = sorted(status for status, _ in answers)
    return {"id": iid, "ok": statuses.count(200), "conflicts": statuses.count(409),
            "other": len(statuses) - statuses.count(200) - statuses.count(409)}


def _run(coroutine: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    try:
        import uvloop
    except ImportError:  # the server extra brings it; plain asyncio otherwise
        return asyncio.run(coroutine)
    result: dict[str, Any] = uvloop.run(coroutine)
    return result


# ----------------------------------------------------------------------- the server side


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _storage(choice: str | None) -> str:
    if choice:
        return choice
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            pass
    except OSError:
        return "sqlite:///vip.db"
    import sqlalchemy as sa

    schema = f"vw_bench_{os.getpid()}"
    engine = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.exec_driver_sql(f"drop schema if exists {schema} cascade")
        c.exec_driver_sql(f"create schema {schema}")
    engine.dispose()
    return f"{PG}?options=-csearch_path%3D{schema}"


def _drop(storage: str) -> None:
    """Drop the benchmark's PostgreSQL schema (nothing for SQLite: a temporary folder)."""
    if "search_path%3D" not in storage:
        return
    import sqlalchemy as sa

    schema = storage.rsplit("search_path%3D", 1)[1]
    engine = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.exec_driver_sql(f"drop schema if exists {schema} cascade")
    engine.dispose()


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from vip_workflow.cli.main import main; main()", *args]


def _serve(vip: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        _cli("serve", "--workspace", str(vip), "--port", str(port), "--workers",
             str(workers), "--log-level", "warning"),
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL)
    for _ in range(1200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).is_success:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("the server did not start")


class ServerCpu:
    """CPU seconds of the server's processes (its uvicorn workers), from Linux's ``/proc``."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._root = process.pid
        self._tick = os.sysconf("SC_CLK_TCK")

    def _stats(self) -> dict[int, list[str]]:
        found = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    text = (entry / "stat").read_text()
                except OSError:  # a process that ended meanwhile
                    continue
                found[int(entry.name)] = text.rsplit(")", 1)[1].split()
        return found

    def seconds(self) -> float:
        stats = self._stats()
        family, grew = {self._root}, True
        while grew:  # the server and its descendants (field 2 after the name: the parent)
            more = {pid for pid, fields in stats.items() if int(fields[1]) in family}
            grew = not more <= family
            family |= more
        return sum(int(stats[pid][11]) + int(stats[pid][12])
                   for pid in family if pid in stats) / self._tick


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {one:.1f} / {five:.1f} (1 / 5 min)"


# ----------------------------------------------------------------------- seeding the pages


def _seed_period(ws: Any, customers: int) -> str:
    """Two periods of ``customers`` customers run through the cycle (the second with revenues
    moved, so it has tier changes); returns the second."""
    import polars as pl

    from vip_workflow.samples import sample_kpi_portfolio, sample_portfolio

    portfolio = sample_portfolio(customers, seed=7)
    kpi_data = sample_kpi_portfolio(seed=3, portfolio=portfolio)
    ws.run_cycle("2026-01", portfolio, kpi_data=kpi_data)
    rng = random.Random(5)
    moved = portfolio.with_columns(
        pl.Series("revenue", [v * rng.uniform(0.6, 1.4) for v in portfolio["revenue"]]))
    ws.run_cycle("2026-02", moved, kpi_data=kpi_data)
    return "2026-02"


def _seed_inbox(ws: Any, user: str, roles: tuple[str, ...], tasks: int) -> None:
    """``tasks`` open tier overrides assigned to ``user``: one started through the engine,
    the rest copies of it under new ids (each with its own ledger start), committed in
    batches."""
    from attrs import evolve

    from vip_workflow.domain.instances import Actor, LedgerEntry, entry_hash

    first = ws.engine.start("tier_override", OVERRIDE, actor=Actor(user, roles=roles))
    start = first.history[0]
    batch = []
    for k in range(1, tasks):
        iid = f"inbox-{k:06d}"
        digest = entry_hash(iid, "", 0, start.at, start.actor, None, start.action,
                            start.source, start.dest, start.comment, start.data)
        entry = LedgerEntry(0, start.at, start.actor, None, start.action, start.source,
                            start.dest, start.comment, start.data, "", digest)
        copy = evolve(first, id=iid, history=(entry,), ledger_head=None)
        batch.append((copy, None, copy.history, ()))
        if len(batch) == 5_000 or k == tasks - 1:
            ws.engine.store.commit_many(batch)
            batch = []


def _session(url: str, token: str) -> httpx.Client:
    """A workbench session (signed in with ``token``)."""
    client = httpx.Client(base_url=url, timeout=120, follow_redirects=False)
    client.get("/web/login")
    signed = client.post("/web/login", data={"token": token, "next": "/web/inbox",
                                             "csrf": client.cookies.get("vw_csrf") or ""})
    if signed.status_code != 303:
        raise SystemExit(f"the bench could not sign in to the workbench: {signed.status_code}")
    return client


def _server_ms(client: httpx.Client, path: str, repeats: int,
               headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Server time of ``repeats`` GETs of ``path`` (the first one is a warm-up, not counted)."""
    times, status, size = [], 0, 0
    for i in range(repeats + 1):
        response = client.get(path, headers=headers)
        status, size = response.status_code, len(response.content)
        timing = response.headers.get("server-timing", "app;dur=nan")
        if i:
            times.append(float(timing.split("dur=", 1)[1]))
    return {"median_ms": statistics.median(times), "max_ms": max(times), "status": status,
            "bytes": size}


# ----------------------------------------------------------------------- the library side


def _library_judge(seconds: float) -> dict[str, float]:
    book: Any = vw.preset("hubei-2006")
    count, stop = 0, time.perf_counter() + seconds
    began, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() < stop:
        book.judge(CUSTOMER)
        count += 1
    return {"rate": count / (time.perf_counter() - began),
            "cpu_us": (time.process_time() - cpu) / count * 1e6}


def _library_commands(ws: Any, am: Any, boss: Any, seconds: float) -> dict[str, float]:
    """start + submit + approve through the workspace's engine in this process, one at a
    time, on the same database: commands/s and CPU time a command."""
    engine = ws.engine
    count, stop = 0, time.perf_counter() + seconds
    began, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() < stop:
        inst = engine.start("tier_override", OVERRIDE, actor=am)
        engine.fire(inst.id, "submit", actor=am)
        engine.approve(inst.id, actor=boss)
        count += 3
    elapsed = time.perf_counter() - began
    return {"rate": count / elapsed, "cpu_us": (time.process_time() - cpu) / count * 1e6,
            "ms": elapsed / count * 1000}


# ----------------------------------------------------------------------- main


def _phase(cpu: ServerCpu, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    before = cpu.seconds()
    result = run()
    result["server_cpu"] = cpu.seconds() - before
    result["load"] = os.getloadavg()[0]
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--storage", default=None)
    parser.add_argument("--quick", action="store_true",
                        help="no pages phase (no 100 000-customer period, no 10 000 tasks)")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="vw-bench-server-"))
    storage = _storage(args.storage)
    vip = folder / "vip.yaml"
    vip.write_text(f"name: bench\nstorage: {storage}\ntiers: {{preset: hubei-2006}}\n"
                   "kpis: {preset: china-mobile-2006-kpis}\n", encoding="utf-8")
    try:
        _bench(args, vip, storage)
    finally:
        _drop(storage)


def _bench(args: argparse.Namespace, vip: Path, storage: str) -> None:
    from vip_workflow.adapters.server.app import open_tokens
    from vip_workflow.domain.instances import Actor

    ws = vw.Workspace.from_file(vip)
    tokens = open_tokens(ws)
    am_roles, boss_roles = ("account_manager",), ("department_director",)
    am_actor, boss_actor = Actor("AM001", roles=am_roles), Actor("DD001", roles=boss_roles)
    am = tokens.create(am_actor.id, am_roles)[1]
    boss = tokens.create(boss_actor.id, boss_roles)[1]
    seeded: dict[str, Any] = {}
    if not args.quick:
        began = time.perf_counter()
        seeded["period"] = _seed_period(ws, PERIOD_CUSTOMERS)
        _seed_inbox(ws, "AM002", am_roles, INBOX_TASKS)
        seeded["inbox_token"] = tokens.create("AM002", am_roles)[1]
        seeded["seconds"] = time.perf_counter() - began
    port = _free_port()
    process = _serve(vip, port, args.workers)
    url = f"http://127.0.0.1:{port}"
    try:
        cpu = ServerCpu(process)
        load_before = _load()
        judge = _phase(cpu, lambda: _run(_judge_load(port, am, args.clients, args.seconds)))
        commands = _phase(cpu, lambda: _run(_command_load(port, am, boss, args.clients,
                                                          args.seconds)))
        race = _run(_race(port, am, boss))
        race["verified"] = httpx.get(f"{url}/api/v1/instances/{race['id']}", headers={
            "Authorization": f"Bearer {boss}"}).json()["ledger_verified"]
        pages = _pages(url, seeded) if seeded else {}
    finally:
        process.terminate()
        process.wait(timeout=30)
    library = _library_judge(min(args.seconds, 3.0))
    engine_rate = _library_commands(ws, am_actor, boss_actor, min(args.seconds, 3.0))
    backend = "PostgreSQL" if storage.startswith("postgresql") else "SQLite"
    _report(args, backend, load_before, judge, commands, race, pages, library, engine_rate,
            seeded)


def _pages(url: str, seeded: dict[str, Any]) -> dict[str, Any]:
    web = _session(url, seeded["inbox_token"])
    try:
        return {
            "web_inbox": _server_ms(web, "/web/inbox", 5),
            "api_inbox": _server_ms(web, "/api/v1/inbox?limit=50", 5, headers={
                "Authorization": f"Bearer {seeded['inbox_token']}"}),
            "dashboard": _server_ms(web, f"/web/periods/{seeded['period']}", 3),
        }
    finally:
        web.close()


def _share(cpu: float, phase: dict[str, Any]) -> str:
    return f"{cpu / phase['elapsed'] / (os.cpu_count() or 1):.0%}"


def _report(args: argparse.Namespace, backend: str, load_before: str, judge: dict[str, Any],
            commands: dict[str, Any], race: dict[str, Any], pages: dict[str, Any],
            library: dict[str, float], engine_rate: dict[str, float],
            seeded: dict[str, Any]) -> None:
    judge_cpu_us = judge["server_cpu"] / max(judge["requests"], 1) * 1e6
    command_cpu_us = commands["server_cpu"] / max(commands["commands"], 1) * 1e6
    print(f"HTTP service: {args.workers} uvicorn workers, {args.clients} clients (one raw "
          f"HTTP/1.1 client process), {args.seconds:g} s a phase, {backend}; "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; before the run: {load_before}; "
          f"1-min load average at the end of judge / commands: {judge['load']:.1f} / "
          f"{commands['load']:.1f}")
    rows = [
        ("judge one customer, requests/s", f"{judge['rate']:,.0f}", f"≥ {FLOOR_JUDGE:,}"),
        ("judge one customer, p50 / p99", f"{judge['p50_ms']:.1f} / {judge['p99_ms']:.1f} ms",
         f"p99 ≤ {FLOOR_P99_MS:g} ms"),
        ("judge errors", str(judge["errors"]), "0"),
        ("judge: server workers' CPU / client's CPU (share of all cores)",
         f"{_share(judge['server_cpu'], judge)} / {_share(judge['client_cpu'], judge)}", ""),
        ("judge: server CPU a request", f"{judge_cpu_us:,.0f} µs", ""),
        ("library RuleBook.judge in this process, calls/s (CPU a call)",
         f"{library['rate']:,.0f} ({library['cpu_us']:.1f} µs)", ""),
        ("service overhead: CPU a request / CPU a library call",
         f"{judge_cpu_us / library['cpu_us']:,.0f}×", ""),
        (f"start/fire/approve on {backend}, commands/s", f"{commands['rate']:,.0f}",
         f"≥ {FLOOR_COMMANDS}"),
        ("commands: p99 latency", f"{commands['p99_ms']:.0f} ms", ""),
        ("command conflicts (409) / other errors",
         f"{commands['conflicts']} / {commands['errors']}", "any / 0"),
        ("commands: server workers' CPU / client's CPU (share of all cores)",
         f"{_share(commands['server_cpu'], commands)} / "
         f"{_share(commands['client_cpu'], commands)}", ""),
        ("commands: server CPU a command", f"{command_cpu_us:,.0f} µs", ""),
        (f"library engine on {backend}, one caller: commands/s (CPU a command)",
         f"{engine_rate['rate']:,.0f} ({engine_rate['cpu_us']:,.0f} µs)", ""),
        (f"{RACERS} clients approve one level at once: 200 / 409 / other, ledger verified",
         f"{race['ok']} / {race['conflicts']} / {race['other']}, {race['verified']}",
         "1 / 7 / 0, True"),
    ]
    if pages:
        for key, label, floor in (
                ("web_inbox", f"inbox page, {INBOX_TASKS:,} open tasks (/web/inbox)",
                 FLOOR_INBOX_MS),
                ("api_inbox", "inbox page, same user (/api/v1/inbox?limit=50)", FLOOR_INBOX_MS),
                ("dashboard", f"dashboard of a {PERIOD_CUSTOMERS:,}-customer period",
                 FLOOR_DASHBOARD_MS)):
            found = pages[key]
            rows.append((f"{label}, server time median / max",
                         f"{found['median_ms']:,.0f} / {found['max_ms']:,.0f} ms "
                         f"(HTTP {found['status']}, {found['bytes'] / 1024:,.0f} KiB)",
                         f"≤ {floor:,.0f} ms"))
    print("| measure | value | floor |\n|---|---:|---:|")
    for row in rows:
        print(f"| {' | '.join(row)} |")
    if seeded:
        print(f"(pages seeded in {seeded['seconds']:.0f} s: two cycle periods of "
              f"{PERIOD_CUSTOMERS:,} customers and {INBOX_TASKS:,} open tasks; not counted)")


if __name__ == "__main__":
    main()
