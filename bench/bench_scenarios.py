"""Scenario tests: 10 000 cases loaded, run and measured for coverage (``python -m bench
scenarios``).

The cases are random customers of a tier preset, written as scenario files of 1 000 cases each
(one file is bounded at 25 000 values, about 2 000 cases), with the tier the preset gives them
as the expectation, so that every case passes. Timed, best of ``--repeats``:

- *load*: reading and validating the files, and checking each case against its book;
- *run*: judging every case and comparing (``run_suite(coverage=False)``);
- *run + coverage*: the same with rule and boundary coverage (``run_suite()``);
- *load, CSV tables*: the same cases read from ``NAME.scenarios.csv`` tables.

The floors (issue 13): the whole test (load + run) of 10 000 scenarios in ≤ 2 s; coverage adds
≤ 20 % to it.
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

import vip_workflow as vw
from bench._harness import best_of, machine
from vip_workflow.rules.scenarios import ScenarioSuite, load_scenarios, run_suite

FLOOR_SECONDS = 2.0
FLOOR_COVERAGE = 0.20
PER_FILE = 1_000
IMPORTANCE = ["provincial_gov", "municipal_gov", "county_gov", "township_gov", "none"]


def _customer(rng: random.Random, preset: str) -> dict[str, Any]:
    if preset == "hubei-scoring":
        return {"importance": rng.choice(IMPORTANCE), "revenue": rng.randint(0, 90_000),
                "info_revenue": rng.randint(-100, 8_000),
                "payment_mode": rng.choice(["unified", "individual"]),
                "arpu": rng.randint(0, 300)}
    return {"importance": rng.choice(IMPORTANCE), "revenue": rng.randint(0, 90_000),
            "headcount": rng.randint(0, 1_200)}


def write_files(folder: Path, preset: str, n: int, seed: int) -> list[Path]:
    """``n`` cases of ``preset`` in files of PER_FILE cases, expecting what the preset gives."""
    rng = random.Random(seed)
    book = vw.preset(preset, kind="tiers")
    paths = []
    for start in range(0, n, PER_FILE):
        inputs = [_customer(rng, preset) for _ in range(min(PER_FILE, n - start))]
        decisions = book.judge_rows(inputs)
        cases = [{"name": f"c{start + i}", "input": record,
                  "expect": {"tier": d.tier, "rule": d.rule}}
                 for i, (record, d) in enumerate(zip(inputs, decisions, strict=True))]
        data = {"kind": "scenarios", "name": f"{preset}-{start}", "book": f"preset:{preset}",
                "cases": cases}
        path = folder / f"{preset}-{start}.scenarios.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=None,
                                       width=200), encoding="utf-8")
        paths.append(path)
    return paths


def write_tables(folder: Path, preset: str, paths: list[Path]) -> list[Path]:
    """The same cases as CSV tables (``NAME.scenarios.csv``), each beside a copy of the
    preset's rule file (a table tests ``NAME.yaml`` beside it)."""
    text = resources.files("vip_workflow.rules.presets").joinpath(
        f"{preset}.yaml").read_text("utf-8")
    tables = []
    for path in paths:
        data = yaml.safe_load(path.read_text("utf-8"))
        stem = path.name.removesuffix(".scenarios.yaml")
        (folder / f"{stem}.yaml").write_text(text, encoding="utf-8")
        fields = list(dict.fromkeys(k for case in data["cases"] for k in case["input"]))
        table = folder / f"{stem}.scenarios.csv"
        with table.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["case", *fields, "expect tier", "expect rule"])
            for case in data["cases"]:
                writer.writerow([case["name"], *(case["input"].get(f, "") for f in fields),
                                 case["expect"]["tier"] or "null",
                                 case["expect"]["rule"] or ""])
        tables.append(table)
    return tables


def _load(paths: list[Path]) -> list[ScenarioSuite]:
    return [load_scenarios(p) for p in paths]


def measure(preset: str, n: int, repeats: int, seed: int) -> dict[str, Any]:
    """Seconds to load, run, and run with coverage ``n`` cases of ``preset``."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_files(Path(tmp), preset, n, seed)
        load, suites = best_of(lambda: _load(paths), repeats)
        tables = write_tables(Path(tmp), preset, paths)
        load_csv, from_csv = best_of(lambda: _load(tables), repeats)
    csv_failed = sum(len(run_suite(s, coverage=False).failed) for s in from_csv)
    run, results = best_of(lambda: [run_suite(s, coverage=False) for s in suites], repeats)
    covered, with_cov = best_of(lambda: [run_suite(s) for s in suites], repeats)
    failed = sum(len(r.failed) for r in results)
    boundary = min(r.coverage.boundary_percent for r in with_cov if r.coverage is not None)
    return {"preset": preset, "cases": n, "files": len(paths), "load": load, "run": run,
            "covered": covered, "failed": failed + csv_failed, "boundary": boundary,
            "load_csv": load_csv}


def table(rows: list[dict[str, Any]]) -> str:
    """A markdown table of the measurements, with the verdict per row."""
    lines = ["| book | cases (files) | load s | run s | run + coverage s | test s (load + run) "
             "| coverage adds | floors | load s, CSV tables |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        test = r["load"] + r["run"]
        added = (r["covered"] - r["run"]) / test
        ok = test + (r["covered"] - r["run"]) <= FLOOR_SECONDS and added <= FLOOR_COVERAGE \
            and not r["failed"]
        lines.append(
            f"| {r['preset']} | {r['cases']:,} ({r['files']}) | {r['load']:.3f} | "
            f"{r['run']:.3f} | {r['covered']:.3f} | {test:.3f} | {added:+.1%} | "
            f"{'met' if ok else 'MISSED'} | {r['load_csv']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="cases per book (10 000)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=13)
    args, _ = parser.parse_known_args(argv)
    print(f"{args.n:,} scenarios per book, best of {args.repeats}, {machine()}", flush=True)
    rows = [measure(p, args.n, args.repeats, args.seed) for p in ("hubei-2006", "hubei-scoring")]
    print(table(rows))
    print(f"floors: load + run + coverage ≤ {FLOOR_SECONDS:g} s, coverage adds ≤ "
          f"{FLOOR_COVERAGE:.0%} of load + run; every case passed: "
          f"{all(not r['failed'] for r in rows)}")


if __name__ == "__main__":
    main()
