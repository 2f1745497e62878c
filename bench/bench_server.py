"""HTTP service benchmark: ``vip-workflow serve`` with 2 uvicorn workers, 50 concurrent clients.

Measured, each for a bounded time (``--seconds``), from the same machine:

1. judge one customer (``POST /api/v1/books/hubei-2006/judge``): requests/s and p99 latency,
   beside the library's own ``RuleBook.judge`` on one core (the service's overhead as a ratio);
2. commands on PostgreSQL (SQLite when PostgreSQL is not reachable): each client takes its own
   tier overrides through ``submit`` (fire) and ``approve``: commands/s, errors other than 409.

Run: ``python -m bench server [--seconds 10] [--clients 50] [--storage URL]``.
Floors (issue 11): judge ≥ 1 000 req/s with p99 ≤ 50 ms; commands ≥ 300/s, 0 errors but 409.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
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


def _token(vip: Path, user: str, roles: str) -> str:
    done = subprocess.run(_cli("token", "create", "--workspace", str(vip), "--user", user,
                               "--roles", roles), capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    return done.stdout.strip().splitlines()[-1]


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {one:.1f} / {five:.1f} (1 / 5 min)"


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0


async def _judge_load(url: str, token: str, clients: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits,
                                 timeout=30) as client:
        async def one() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                began = time.perf_counter()
                response = await client.post("/api/v1/books/hubei-2006/judge",
                                             json={"customer": CUSTOMER})
                latencies.append(time.perf_counter() - began)
                errors += response.status_code != 200

        began = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return {"rate": len(latencies) / elapsed, "p99_ms": _p99(latencies) * 1000,
            "requests": len(latencies), "errors": errors}


async def _command_load(url: str, am: str, boss: str, clients: int,
                        seconds: float) -> dict[str, Any]:
    done = conflicts = others = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        async def one() -> None:
            nonlocal done, conflicts, others
            while time.perf_counter() < stop:
                started = await client.post(
                    "/api/v1/instances", json={"process": "tier_override", "context": OVERRIDE},
                    headers={"Authorization": f"Bearer {am}"})
                iid = started.json()["id"]
                for path, token in ((f"/api/v1/instances/{iid}/events/submit", am),
                                    (f"/api/v1/instances/{iid}/approve", boss)):
                    response = await client.post(path, json={},
                                                 headers={"Authorization": f"Bearer {token}"})
                    done += response.status_code == 200
                    conflicts += response.status_code == 409
                    others += response.status_code not in (200, 409)
                done += started.status_code == 201

        began = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return {"rate": done / elapsed, "commands": done, "conflicts": conflicts,
            "errors": others}


def _judge_process(args: tuple[str, str, int, float]) -> dict[str, Any]:
    return asyncio.run(_judge_load(*args))


def _judge_many(url: str, token: str, clients: int, seconds: float,
                processes: int) -> dict[str, Any]:
    """The judge load from ``processes`` client processes (one Python event loop cannot
    drive 50 connections fast enough to load the server)."""
    from concurrent.futures import ProcessPoolExecutor

    share = [clients // processes + (i < clients % processes) for i in range(processes)]
    with ProcessPoolExecutor(processes) as pool:
        parts = list(pool.map(_judge_process, [(url, token, n, seconds) for n in share]))
    return {"rate": sum(p["rate"] for p in parts),
            "p99_ms": max(p["p99_ms"] for p in parts),
            "requests": sum(p["requests"] for p in parts),
            "errors": sum(p["errors"] for p in parts)}


def _command_process(args: tuple[str, str, str, int, float]) -> dict[str, Any]:
    return asyncio.run(_command_load(*args))


def _commands_many(url: str, am: str, boss: str, clients: int, seconds: float,
                   processes: int) -> dict[str, Any]:
    from concurrent.futures import ProcessPoolExecutor

    share = [clients // processes + (i < clients % processes) for i in range(processes)]
    with ProcessPoolExecutor(processes) as pool:
        parts = list(pool.map(_command_process,
                              [(url, am, boss, n, seconds) for n in share]))
    return {key: sum(p[key] for p in parts)
            for key in ("rate", "commands", "conflicts", "errors")}


def _library_rate(seconds: float) -> float:
    book = vw.preset("hubei-2006")
    count, stop = 0, time.perf_counter() + seconds
    began = time.perf_counter()
    while time.perf_counter() < stop:
        book.judge(CUSTOMER)
        count += 1
    return count / (time.perf_counter() - began)


def _serve(vip: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        _cli("serve", "--workspace", str(vip), "--port", str(port), "--workers",
             str(workers), "--log-level", "warning"),
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).is_success:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("the server did not start")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--storage", default=None)
    parser.add_argument("--client-processes", type=int, default=5)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="vw-bench-server-"))
    storage = _storage(args.storage)
    vip = folder / "vip.yaml"
    vip.write_text(f"storage: {storage}\ntiers: {{preset: hubei-2006}}\n", encoding="utf-8")
    am = _token(vip, "AM001", "account_manager")
    boss = _token(vip, "DD001", "department_director")
    port = _free_port()
    process = _serve(vip, port, args.workers)
    url = f"http://127.0.0.1:{port}"
    try:
        judge = _judge_many(url, am, args.clients, args.seconds, args.client_processes)
        commands = _commands_many(url, am, boss, args.clients, args.seconds,
                                  args.client_processes)
    finally:
        process.terminate()
        process.wait(timeout=30)
        _drop(storage)
    library = _library_rate(min(args.seconds, 3.0))
    backend = "PostgreSQL" if storage.startswith("postgresql") else "SQLite"
    print(f"HTTP service: {args.workers} uvicorn workers, {args.clients} clients "
          f"({args.client_processes} client processes), "
          f"{args.seconds:g} s a phase, {backend}, {_load()}")
    print(f"| measure | value | floor |\n|---|---|---|\n"
          f"| judge one customer, requests/s | {judge['rate']:,.0f} | ≥ {FLOOR_JUDGE:,} |\n"
          f"| judge one customer, p99 | {judge['p99_ms']:.1f} ms | ≤ {FLOOR_P99_MS:g} ms |\n"
          f"| judge errors | {judge['errors']} | 0 |\n"
          f"| library RuleBook.judge, one core, calls/s | {library:,.0f} | |\n"
          f"| service overhead (library rate / service rate) | "
          f"{library / max(judge['rate'], 1):.1f}x | |\n"
          f"| start/fire/approve on {backend}, commands/s | {commands['rate']:,.0f} | "
          f"≥ {FLOOR_COMMANDS} |\n"
          f"| command conflicts (409) / other errors | {commands['conflicts']} / "
          f"{commands['errors']} | any / 0 |")


if __name__ == "__main__":
    main()
