"""Hostile-file benchmark (issue 9): the worst time and memory of any load, over a corpus.

Generates a seeded corpus of hostile files — every kind (tier, trigger and KPI books, process
definitions), broken in every way ``tests/rules/hostile.py`` knows (control characters, huge
integers, deep nesting, wide flow lists, aliases, tags, invalid UTF-8, byte-order marks,
truncation, random bytes, JSON variants), plus near-cap files of about a mebibyte built to be
as costly as possible, and over-cap ones (5 MB files, 50 MB texts). Each file goes through
every loader: ``load_rules(path)``, ``loads_rules(text)``, ``load_definition(path)`` and
``load_definition(path, text=)``. Every load must give a result or the loader's own located
error (RuleFileError / ProcessDefinitionError with a line); anything else is counted as a
failure and shown.

Wall time is measured untraced, for every load; peak memory in a second, traced run
(``tracemalloc``: Python's allocations, the loaded data and PyYAML's events included) of every
file over 20 KB or slower than 50 ms, and of one file in ten of the rest.

Run: ``.venv/bin/python bench/bench_hostile.py [--n 10000] [--big 40] [--seed 9]``
(also ``python -m bench hostile``). Floors: every load ≤ 1 s and ≤ 200 MB.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in {None, ""}:  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import vip_workflow as vw
from bench._harness import machine
from tests.rules.hostile import ALL_KINDS, hostile, near_cap
from vip_workflow.rules.files import MAX_BYTES

FLOOR_SECONDS = 1.0
FLOOR_BYTES = 200 * 1024 * 1024


@dataclass
class Case:
    kind: str
    mutation: str
    name: str
    raw: bytes
    path: Path | None = None


@dataclass
class Row:
    """The worst figures of one loader over the corpus."""

    loader: str
    loads: int = 0
    loaded: int = 0
    refused: int = 0
    failures: list[str] = field(default_factory=list)
    worst_seconds: float = 0.0
    worst_time_case: str = ""
    worst_bytes: int = 0
    worst_memory_case: str = ""
    traced: int = 0


def corpus(n: int, big: int, seed: int) -> list[Case]:
    """``n`` hostile files of every kind, then ``big`` near-cap ones and the over-cap ones."""
    rng = random.Random(seed)
    cases = []
    for i in range(n):
        kind = ALL_KINDS[i % len(ALL_KINDS)]
        mutation, name, raw = hostile(rng, kind, big=rng.random() < 0.01)
        cases.append(Case(kind, mutation, name, raw))
    for i in range(big):
        kind = ALL_KINDS[i % len(ALL_KINDS)]
        how, name, raw = near_cap(rng, kind, MAX_BYTES)
        cases.append(Case(kind, f"near-cap {how}", name, raw))
    cases.append(Case("tiers", "over-cap 5 MB flow list", "tiers.yaml",
                      b"x: [" + b"1," * 2_400_000 + b"1]\n"))
    cases.append(Case("process", "over-cap 50 MB text", "process.yaml",
                      b"a: " + b"x" * 50_000_000 + b"\n"))
    return cases


def _loaders() -> dict[str, Callable[[Case, str | None], Any]]:
    return {
        "load_rules(path)": lambda case, text: vw.load_rules(case.path),
        "loads_rules(text)": lambda case, text: vw.loads_rules(text, name=case.name),
        "load_definition(path)": lambda case, text: vw.load_definition(case.path),
        "load_definition(text=)": lambda case, text: vw.load_definition(case.name, text=text),
    }


_EXPECTED = {"load_rules(path)": vw.RuleFileError, "loads_rules(text)": vw.RuleFileError,
             "load_definition(path)": vw.ProcessDefinitionError,
             "load_definition(text=)": vw.ProcessDefinitionError}


def _run(call: Callable[[], Any], expected: type[Exception]) -> str:
    """'loaded', 'refused', or a description of the failure."""
    try:
        call()
    except expected as exc:
        if type(exc) is not expected or exc.line is None:  # type: ignore[attr-defined]
            return f"{type(exc).__name__} without a line: {exc}"
        return "refused"
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc)[:120]}"
    return "loaded"


def _bind(load: Callable[[Case, str | None], Any], case: Case,
          text: str | None) -> Callable[[], Any]:
    return lambda: load(case, text)


def measure(cases: list[Case], *, memory: bool = True,
            progress: bool = False) -> list[Row]:
    rows = {name: Row(name) for name in _loaders()}
    with tempfile.TemporaryDirectory() as folder:
        for index, case in enumerate(cases):
            case.path = Path(folder) / f"{index:05}-{case.name}"
            case.path.write_bytes(case.raw)
            try:
                text: str | None = case.raw.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            for name, load in _loaders().items():
                if text is None and "text" in name:
                    continue
                row = rows[name]
                label = f"{case.kind}/{case.mutation} ({len(case.raw):,} B)"
                call = _bind(load, case, text)
                if len(case.raw) > 100_000:  # a full collection costs ~0.3 s: big files only
                    gc.collect()
                started = time.perf_counter()
                outcome = _run(call, _EXPECTED[name])
                seconds = time.perf_counter() - started
                row.loads += 1
                if outcome == "loaded":
                    row.loaded += 1
                elif outcome == "refused":
                    row.refused += 1
                else:
                    row.failures.append(f"{label}: {outcome}")
                if seconds > row.worst_seconds:
                    row.worst_seconds, row.worst_time_case = seconds, label
                # tracing is slow (3-4x): every big or slow load is traced, and one file in
                # ten of the rest (peak memory follows size and time)
                if memory and (len(case.raw) > 20_000 or seconds > 0.05 or index % 10 == 0):
                    row.traced += 1
                    tracemalloc.start()
                    _run(call, _EXPECTED[name])
                    peak = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
                    if peak > row.worst_bytes:
                        row.worst_bytes, row.worst_memory_case = peak, label
            case.path.unlink()
            case.raw = b""  # keep the corpus's memory small
            if progress and (index + 1) % 1000 == 0:
                worst = max(rows.values(), key=lambda r: r.worst_seconds)
                print(f"  {index + 1:,} files: worst {worst.worst_seconds * 1000:.0f} ms "
                      f"({worst.loader}, {worst.worst_time_case}), worst peak "
                      f"{max(r.worst_bytes for r in rows.values()) / 1e6:.1f} MB", flush=True)
    return list(rows.values())


def table(rows: list[Row]) -> str:
    lines = ["| loader | loads | loaded | refused | failures | worst time | traced "
             "| worst peak memory |", "|---|---:|---:|---:|---:|---|---:|---|"]
    for r in rows:
        lines.append(
            f"| `{r.loader}` | {r.loads:,} | {r.loaded:,} | {r.refused:,} | {len(r.failures)} "
            f"| {r.worst_seconds * 1000:.0f} ms — {r.worst_time_case} | {r.traced:,} "
            f"| {r.worst_bytes / 1e6:.1f} MB — {r.worst_memory_case} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="hostile files (default 10 000)")
    parser.add_argument("--big", type=int, default=40, help="near-cap files (default 40)")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--no-memory", action="store_true", help="skip the traced pass")
    args, _ = parser.parse_known_args(argv)
    started = time.perf_counter()
    cases = corpus(args.n, args.big, args.seed)
    print(f"{len(cases):,} hostile files (seed {args.seed}), {machine()}", flush=True)
    rows = measure(cases, memory=not args.no_memory, progress=True)
    print(table(rows))
    worst_s = max(r.worst_seconds for r in rows)
    worst_b = max(r.worst_bytes for r in rows)
    failures = [f for r in rows for f in r.failures]
    for failure in failures[:20]:
        print("FAILURE", failure)
    verdict = ("ok" if worst_s <= FLOOR_SECONDS and worst_b <= FLOOR_BYTES and not failures
               else "OVER THE FLOOR")
    print(f"worst time {worst_s:.3f} s (floor {FLOOR_SECONDS} s), worst peak memory "
          f"{worst_b / 1e6:.1f} MB (floor {FLOOR_BYTES // 2**20} MiB), "
          f"{len(failures)} untyped or unlocated error(s): {verdict} "
          f"[{time.perf_counter() - started:.0f} s]")


if __name__ == "__main__":
    main()
