"""Seeded trigger files, KPI files and data for the IR agreement test.

Plain ``random.Random(seed)`` (not hypothesis), so the same seed gives the same files and data
on every run: ``expected_outputs()`` computed before the rule kinds moved onto the IR were
stored in ``tests/triggers/data/ir_expected.json.gz`` and the test compares today's outputs
with them byte for byte (floats by ``repr``). Regenerate only on a deliberate behaviour change:
``python -m tests.triggers.generated``.
"""

from __future__ import annotations

import gzip
import json
import math
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

import vip_workflow.rules.tiers.book as rules_book
from vip_workflow.rules.kpis.book import KpiBook
from vip_workflow.rules.triggers import TriggerBook

FIELDS = ["revenue", "members", "complaints", "arrears"]
OPS = [">", ">=", "<", "<=", "==", "!=", "between"]
EXPECTED = Path(__file__).parent / "data" / "ir_expected.json.gz"
TRIGGER_FILES = 160
KPI_FILES = 60


def _test(r: random.Random, low: int, high: int) -> dict[str, Any]:
    op = r.choice(OPS)
    if op == "between":
        a, b = sorted((r.randint(low, high), r.randint(low, high)))
        return {"op": op, "value": [a, b]}
    return {"op": op, "value": r.randint(low, high)}


def leaf(r: random.Random) -> dict[str, Any]:
    """One condition of any measure over months (the current spelling)."""
    f = r.choice(FIELDS)
    kind = r.choice(["field", "consecutive", "change_pct", "anomaly", "days_until", "sum",
                     "count"])
    if kind == "field":
        return {"field": f, **_test(r, 0, 6)}
    if kind == "consecutive":
        return {"consecutive": f, "direction": r.choice(["decline", "increase"]),
                "months": r.randint(1, 3)}
    if kind == "change_pct":
        return {"change_pct": f, "months": r.randint(1, 3),
                **_test(r, -60, 120)}
    if kind == "anomaly":
        window = r.randint(2, 5)
        return {"anomaly": f, "method": r.choice(["zscore", "robust"]), "window": window,
                "min_periods": r.randint(2, window), "threshold": r.choice([0.5, 1, 2, 3]),
                "direction": r.choice(["both", "up", "down"])}
    if kind == "days_until":
        return {"days_until": "agreement_end", **_test(r, -30, 120)}
    if kind == "sum":
        return {"sum": f, "months": r.randint(1, 3), **_test(r, 0, 12)}
    where = _test(r, 0, 6)
    return {"count": f, "months": r.randint(1, 4), "where": where, **_test(r, 0, 4)}


def condition(r: random.Random, depth: int = 0) -> dict[str, Any]:
    if depth < 2 and r.random() < 0.35:
        kind = r.choice(["all", "any"])
        return {kind: [condition(r, depth + 1) for _ in range(r.randint(1, 3))]}
    return leaf(r)


def trigger_book(seed: int) -> TriggerBook:
    r = random.Random(seed)
    triggers = [{"id": f"g{i}", "family": "risk", "action": "look",
                 "emit": r.choice(["every", "onset"]), "when": condition(r)}
                for i in range(r.randint(1, 4))]
    book = rules_book.load_rules(
        {"kind": "triggers", "name": f"generated-{seed}", "triggers": triggers})
    assert isinstance(book, TriggerBook)
    return book


def _value(r: random.Random) -> float | None:
    roll = r.random()
    if roll < 0.10:
        return None
    if roll < 0.13:
        return r.choice([math.inf, -math.inf, math.nan])
    if roll < 0.20:
        return r.choice([0.5, -1.0, 0.25, 1e6])
    return float(r.randint(0, 6))


def history(seed: int) -> pl.DataFrame:
    """1–4 customers, gaps, unknown, NaN and ±inf values, an agreement end date."""
    r = random.Random(10_000 + seed)
    rows = []
    for customer in range(r.randint(1, 4)):
        first, length = r.randint(0, 3), r.randint(1, 12)
        dropped = {r.randint(first, first + length) for _ in range(r.randint(0, 2))}
        months = [m for m in range(first, first + length) if m not in dropped] or [first]
        end = None if r.random() < 0.3 else r.randint(0, 500)
        for month in months:
            rows.append({
                "customer_id": f"c{customer}",
                "period": date(2025 + month // 12, month % 12 + 1, 1),
                **{f: _value(r) for f in FIELDS},
                "agreement_end": None if end is None else date(2025, 1, 1) + timedelta(end),
            })
    schema = {"customer_id": pl.String, "period": pl.Date, **dict.fromkeys(FIELDS, pl.Float64),
              "agreement_end": pl.Date}
    return pl.DataFrame(rows, schema=schema).sample(fraction=1.0, shuffle=True, seed=seed)


# -- KPI files -----------------------------------------------------------------------------
KPI_NUMBERS = ["revenue", "members", "employees", "cost"]


def _filter(r: random.Random, depth: int = 0) -> dict[str, Any]:
    roll = r.random()
    if depth < 2 and roll < 0.2:
        return {r.choice(["all", "any"]): [_filter(r, depth + 1) for _ in range(r.randint(1, 3))]}
    if depth < 2 and roll < 0.3:
        return {"not": _filter(r, depth + 1)}
    pick = r.random()
    if pick < 0.3:
        op = r.choice(["==", "!=", "in", "not_in", "is_null", "not_null"])
        if op in ("is_null", "not_null"):
            return {"field": "segment", "op": op}
        if op in ("in", "not_in"):
            return {"field": "segment", "op": op,
                    "value": r.sample(["A", "B", "C", "D"], r.randint(1, 3))}
        return {"field": "segment", "op": op, "value": r.choice(["A", "B", "C"])}
    if pick < 0.45:
        return {"field": "stable", "op": r.choice(["==", "!="]), "value": r.random() < 0.5}
    field = r.choice(KPI_NUMBERS)
    op = r.choice([">", ">=", "<", "<=", "==", "!=", "between", "in", "not_in", "is_null",
                   "not_null"])
    if op == "between":
        a, b = sorted((r.randint(0, 50), r.randint(0, 50)))
        return {"field": field, "op": op, "value": [a, b]}
    if op in ("in", "not_in"):
        return {"field": field, "op": op, "value": [r.randint(0, 50) for _ in range(3)]
                + [r.choice([1.5, 10])]}
    if op in ("is_null", "not_null"):
        return {"field": field, "op": op}
    return {"field": field, "op": op, "value": r.choice([r.randint(0, 50), 12.5])}


def _fixed(filter_: dict[str, Any]) -> dict[str, Any]:
    """Drop a value from is_null/not_null (the file must not give one)."""
    if filter_.get("op") in ("is_null", "not_null"):
        filter_.pop("value", None)
    return filter_


def _aggregate(r: random.Random) -> dict[str, Any]:
    agg = r.choice(["sum", "count", "mean", "n_unique", "min", "max"])
    out: dict[str, Any] = {"agg": agg}
    if agg != "count" or r.random() < 0.3:
        out["field"] = r.choice(KPI_NUMBERS)
    if r.random() < 0.5:
        out["where"] = _fixed(_filter(r))
    return out


def kpi_book(seed: int) -> KpiBook:
    r = random.Random(20_000 + seed)
    kpis = []
    for i in range(r.randint(1, 4)):
        kind = r.choice(["ratio", "sum", "count", "mean", "n_unique"])
        measure: dict[str, Any] = {"type": kind}
        if kind == "ratio":
            measure |= {"numerator": _aggregate(r), "denominator": _aggregate(r)}
        else:
            if kind != "count" or r.random() < 0.3:
                measure["field"] = r.choice(KPI_NUMBERS)
            if r.random() < 0.5:
                measure["where"] = _fixed(_filter(r))
        compare = r.choice([">=", "<=", ">", "<", "==", "between"])
        target: Any = ([0.2, 0.9] if compare == "between" else r.choice([0.0, 0.5, 3.0, 40.0]))
        kpi: dict[str, Any] = {"id": f"k{i}", "measure": measure, "compare": compare,
                               "target": target}
        if r.random() < 0.4:
            kpi["where"] = _fixed(_filter(r))
        if r.random() < 0.4:
            kpi["by"] = "segment"
            if r.random() < 0.5:
                kpi["targets"] = {"A": target, "Z": target}
        kpis.append(kpi)
    book = rules_book.load_rules({"kind": "kpis", "name": f"k-{seed}", "kpis": kpis})
    assert isinstance(book, KpiBook)
    return book


def portfolio(seed: int) -> pl.DataFrame:
    r = random.Random(30_000 + seed)
    n = r.randint(0, 40)

    def number() -> float | None:
        roll = r.random()
        if roll < 0.1:
            return None
        if roll < 0.13:
            return r.choice([math.inf, -math.inf, math.nan])
        return float(r.randint(0, 50))

    return pl.DataFrame({
        "segment": [r.choice(["A", "B", "C", None]) for _ in range(n)],
        "stable": [r.choice([True, False, None]) for _ in range(n)],
        **{f: [number() for _ in range(n)] for f in KPI_NUMBERS},
    }, schema={"segment": pl.String, "stable": pl.Boolean,
               **dict.fromkeys(KPI_NUMBERS, pl.Float64)})


# -- outputs -------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """JSON-safe and exact: floats by repr, dates ISO."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _run(call: Any) -> Any:
    try:
        return _plain(call())
    except Exception as exc:
        return {"error": type(exc).__name__, "message": str(exc)}


def trigger_outputs(seed: int) -> dict[str, Any]:
    from vip_workflow.rules.triggers.plan import TriggerPlan

    book = trigger_book(seed)
    frame = history(seed)
    plans: list[TriggerPlan] = list(book.plans)
    return {
        "durable": _plain([plan.durable() for plan in plans]),
        "batch": _run(lambda: book.scan(frame).to_dicts()),
        "live": _run(lambda: book.scan_live(frame).to_dicts()),
    }


def kpi_outputs(seed: int) -> Any:
    return _run(lambda: kpi_book(seed).check(portfolio(seed)).to_dicts())


def preset_outputs() -> dict[str, Any]:
    """The trigger and KPI presets on the sample generators (2 % unknown cells)."""
    import vip_workflow as vw
    from vip_workflow.samples import sample_history
    from vip_workflow.samples.history import sample_kpi_portfolio

    triggers = vw.preset("seed-001-triggers")
    kpis = vw.preset("china-mobile-2006-kpis")
    assert isinstance(triggers, TriggerBook) and isinstance(kpis, KpiBook)
    return {
        "triggers": _run(lambda: triggers.scan(
            sample_history(200, 24, seed=5, missing=0.02)).to_dicts()),
        "kpis": _run(lambda: kpis.check(sample_kpi_portfolio(seed=3)).to_dicts()),
    }


def expected_outputs() -> dict[str, Any]:
    return {
        "triggers": {str(s): trigger_outputs(s) for s in range(TRIGGER_FILES)},
        "kpis": {str(s): kpi_outputs(s) for s in range(KPI_FILES)},
        "presets": preset_outputs(),
    }


if __name__ == "__main__":
    EXPECTED.parent.mkdir(exist_ok=True)
    with gzip.open(EXPECTED, "wt", encoding="utf-8") as out:
        json.dump(expected_outputs(), out, ensure_ascii=False, sort_keys=True, indent=0)
    print(f"wrote {EXPECTED}")
