"""Agreement suite for the trigger and KPI back ends: generated trigger files scanned over
boundary-heavy monthly histories, and generated KPI files checked over dirty portfolios, must
give on a back end exactly what polars gives — the same (customer, period, trigger, evidence)
rows, the same KPI rows (values compared bit for bit).

A *runner* takes several books and one polars frame, loads the frame into its engine once (one
table for the whole batch: test time goes into the rules, not into round trips) and returns
each book's result as a polars frame. Runners for DuckDB, SQLite and PostgreSQL are here::

    from vip_workflow.testing.batch_agreement import assert_triggers_agree, duckdb_runner
    def test_duckdb_scans_agree() -> None:
        assert_triggers_agree(duckdb_runner(), files=300)

The files and data are drawn by Hypothesis, derandomized (the same every run, so CI never
passes or fails by the draw); the shapes follow the project's seeded generators
(``tests/triggers/generated.py``): every condition kind, all/any trees, onsets; KPI ratios,
sums, counts, means and distinct counts with nested filters, groups and per-group targets.
Histories have gaps (a missing month is unknown), nulls, NaN and ±inf; values sit on the small
integers the thresholds use, so ties and exact bounds are common. ``flip_a_comparison(run)``
plants a mutation (``>=`` lowered as ``>``) to show the suite catches one.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import polars as pl
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import vip_workflow as vw
from vip_workflow.rules.kpis.book import KpiBook
from vip_workflow.rules.triggers import TriggerBook
from vip_workflow.rules.triggers.schema import FAMILIES, SEVERITIES
from vip_workflow.testing.tier_agreement import load_table

__all__ = ["BatchRunner", "assert_kpis_agree", "assert_triggers_agree", "duckdb_runner",
           "flip_a_comparison", "histories", "kpi_files", "load_table", "portfolios",
           "sqlalchemy_runner", "trigger_files"]

#: Several books and one frame in; each book's result (a polars frame) out, in order.
BatchRunner = Callable[[Sequence[Any], pl.DataFrame], list[pl.DataFrame]]

FIELDS = ("revenue", "members", "complaints", "arrears")
KPI_NUMBERS = ("revenue", "members", "employees", "cost")
_OPS = (">", ">=", "<", "<=", "==", "!=", "between")


# == trigger files and histories ==============================================================
def _test(low: int, high: int) -> st.SearchStrategy[dict[str, Any]]:
    def build(op: str, a: int, b: int) -> dict[str, Any]:
        return {"op": op, "value": sorted((a, b))} if op == "between" else {"op": op, "value": a}

    bound = st.integers(low, high)
    return st.builds(build, st.sampled_from(_OPS), bound, bound)


def _leaf() -> st.SearchStrategy[dict[str, Any]]:
    field = st.sampled_from(FIELDS)
    months = st.integers(1, 3)

    @st.composite
    def anomaly(draw: st.DrawFn) -> dict[str, Any]:
        window = draw(st.integers(2, 5))
        return {"anomaly": draw(field), "method": draw(st.sampled_from(["zscore", "robust"])),
                "window": window, "min_periods": draw(st.integers(2, window)),
                "threshold": draw(st.sampled_from([0.5, 1, 2, 3])),
                "direction": draw(st.sampled_from(["both", "up", "down"]))}

    return st.one_of(
        st.builds(lambda f, t: {"field": f, **t}, field, _test(0, 6)),
        st.builds(lambda f, d, n: {"consecutive": f, "direction": d, "months": n},
                  field, st.sampled_from(["decline", "increase"]), months),
        st.builds(lambda f, n, t: {"change_pct": f, "months": n, **t},
                  field, months, _test(-60, 120)),
        anomaly(),
        st.builds(lambda t: {"days_until": "agreement_end", **t}, _test(-30, 120)),
        st.builds(lambda f, n, t: {"sum": f, "months": n, **t}, field, months, _test(0, 12)),
        st.builds(lambda f, n, w, t: {"count": f, "months": n, "where": w, **t},
                  field, st.integers(1, 4), _test(0, 6), _test(0, 4)),
    )


_conditions = st.recursive(
    _leaf(), lambda inner: st.builds(lambda kind, parts: {kind: parts}, st.sampled_from(
        ["all", "any"]), st.lists(inner, min_size=1, max_size=3)), max_leaves=4)


@st.composite
def trigger_files(draw: st.DrawFn) -> dict[str, Any]:
    """A trigger file: 1–4 triggers of any family, severity and emit, conditions of every
    kind combined by all/any."""
    count = draw(st.integers(1, 4))
    return {"kind": "triggers", "name": "generated", "triggers": [
        {"id": f"g{i}", "family": draw(st.sampled_from(FAMILIES)),
         "severity": draw(st.sampled_from(SEVERITIES)), "action": f"look {i}",
         "emit": draw(st.sampled_from(["every", "onset"])), "when": draw(_conditions)}
        for i in range(count)]}


def _values(infinities: bool) -> st.SearchStrategy[float | None]:
    """Mostly the small integers thresholds use (ties and bounds), some unknown, NaN, ±inf."""
    odd = [math.nan, *([math.inf, -math.inf] if infinities else [])]
    return st.one_of(st.integers(0, 6).map(float), st.none(), st.sampled_from(odd),
                     st.sampled_from([0.5, -1.0, 0.25, 1e6]))


@st.composite
def histories(draw: st.DrawFn, *, infinities: bool = True) -> pl.DataFrame:
    """1–3 customers with 1–10 months each, some dropped (gaps), an agreement end or none."""
    rows = []
    values = _values(infinities)
    for customer in range(draw(st.integers(1, 3))):
        first, length = draw(st.integers(0, 3)), draw(st.integers(1, 10))
        dropped = draw(st.sets(st.integers(first + 1, first + length), max_size=2))
        end = draw(st.none() | st.integers(0, 500))
        for month in range(first, first + length):
            if month in dropped:
                continue
            rows.append({"customer_id": f"c{customer}",
                         "period": date(2025 + month // 12, month % 12 + 1, 1),
                         **{f: draw(values) for f in FIELDS},
                         "agreement_end": None if end is None else
                         date(2025, 1, 1) + timedelta(end)})
    schema = {"customer_id": pl.String, "period": pl.Date, **dict.fromkeys(FIELDS, pl.Float64),
              "agreement_end": pl.Date}
    return pl.DataFrame(rows, schema=schema)


# == KPI files and portfolios =================================================================
def _filters() -> st.SearchStrategy[dict[str, Any]]:
    segment = st.one_of(
        st.builds(lambda op, v: {"field": "segment", "op": op, "value": v},
                  st.sampled_from(["==", "!="]), st.sampled_from(["A", "B", "C", " "])),
        st.builds(lambda op, v: {"field": "segment", "op": op, "value": v},
                  st.sampled_from(["in", "not_in"]),
                  st.lists(st.sampled_from(["A", "B", "C", "D"]), min_size=1, max_size=3,
                           unique=True)),
        st.builds(lambda op: {"field": "segment", "op": op},
                  st.sampled_from(["is_null", "not_null"])))
    stable = st.builds(lambda op, v: {"field": "stable", "op": op, "value": v},
                       st.sampled_from(["==", "!="]), st.booleans())
    field = st.sampled_from(KPI_NUMBERS)
    number = st.one_of(
        st.builds(lambda f, op, v: {"field": f, "op": op, "value": v}, field,
                  st.sampled_from([">", ">=", "<", "<=", "==", "!="]),
                  st.integers(0, 50) | st.just(12.5)),
        st.builds(lambda f, a, b: {"field": f, "op": "between", "value": sorted((a, b))},
                  field, st.integers(0, 50), st.integers(0, 50)),
        st.builds(lambda f, op, v: {"field": f, "op": op, "value": v}, field,
                  st.sampled_from(["in", "not_in"]),
                  st.lists(st.integers(0, 50) | st.sampled_from([1.5, 10.0]), min_size=1,
                           max_size=4)),
        st.builds(lambda f, op: {"field": f, "op": op}, field,
                  st.sampled_from(["is_null", "not_null"])))
    leaf = st.one_of(segment, stable, number)
    return st.recursive(leaf, lambda inner: st.one_of(
        st.builds(lambda kind, parts: {kind: parts}, st.sampled_from(["all", "any"]),
                  st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda part: {"not": part}, inner)), max_leaves=3)


@st.composite
def _aggregate(draw: st.DrawFn) -> dict[str, Any]:
    agg = draw(st.sampled_from(["sum", "count", "mean", "n_unique", "min", "max"]))
    out: dict[str, Any] = {"agg": agg}
    if agg != "count" or draw(st.booleans()):
        out["field"] = draw(st.sampled_from(KPI_NUMBERS))
    if draw(st.booleans()):
        out["where"] = draw(_filters())
    return out


@st.composite
def kpi_files(draw: st.DrawFn) -> dict[str, Any]:
    """A KPI file: 1–4 KPIs of every measure, filters, groups and per-group targets."""
    kpis = []
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["ratio", "sum", "count", "mean", "n_unique"]))
        measure: dict[str, Any] = {"type": kind}
        if kind == "ratio":
            measure |= {"numerator": draw(_aggregate()), "denominator": draw(_aggregate())}
        else:
            if kind != "count" or draw(st.booleans()):
                measure["field"] = draw(st.sampled_from(KPI_NUMBERS))
            if draw(st.booleans()):
                measure["where"] = draw(_filters())
        compare = draw(st.sampled_from([">=", "<=", ">", "<", "==", "between"]))
        target: Any = [0.2, 0.9] if compare == "between" else draw(
            st.sampled_from([0.0, 0.5, 3.0, 40.0]))
        kpi: dict[str, Any] = {"id": f"k{i}", "measure": measure, "compare": compare,
                               "target": target}
        if draw(st.booleans()):
            kpi["where"] = draw(_filters())
        if draw(st.booleans()):
            kpi["by"] = "segment"
            if draw(st.booleans()):
                kpi["targets"] = {"A": target, "Z": target}
        kpis.append(kpi)
    return {"kind": "kpis", "name": "generated", "kpis": kpis}


@st.composite
def portfolios(draw: st.DrawFn, *, nan: bool = True, infinities: bool = True) -> pl.DataFrame:
    """0–30 rows: segments (a blank one, null), a boolean, numbers 0–50 with nulls, NaN, ±inf
    (``nan``, ``infinities``: whether to draw those)."""
    n = draw(st.integers(0, 30))
    odd: list[float | None] = [*([math.inf, -math.inf] if infinities else []),
                               *([math.nan] if nan else [])] or [None]
    number = st.one_of(st.integers(0, 50).map(float), st.none(), st.sampled_from(odd))
    rows = [{"segment": draw(st.sampled_from(["A", "B", "C", " ", None])),
             "stable": draw(st.none() | st.booleans()),
             **{f: draw(number) for f in KPI_NUMBERS}} for _ in range(n)]
    return pl.DataFrame(rows, schema={"segment": pl.String, "stable": pl.Boolean,
                                      **dict.fromkeys(KPI_NUMBERS, pl.Float64)})


# == comparing ================================================================================
def _plain(value: Any) -> Any:
    """Exact and comparable: floats by repr (NaN, -0.0 and the last bit count)."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _signal_rows(frame: pl.DataFrame) -> list[Any]:
    return [_plain((r["customer_id"], r["period"], r["trigger"], r["family"], r["severity"],
                    r["action"], r["evidence"])) for r in frame.to_dicts()]


def _combined(frames: Sequence[pl.DataFrame], key: str | None) -> pl.DataFrame:
    """The frames of a batch as one (customer ids prefixed by the frame's position)."""
    if key is not None:
        frames = [f.with_columns((pl.lit(f"{i}:") + pl.col(key)).alias(key))
                  for i, f in enumerate(frames)]
    return pl.concat(frames)


def _settings(examples: int, shrink: bool) -> Callable[[Any], Any]:
    phases = tuple(Phase) if shrink else (Phase.explicit, Phase.reuse, Phase.generate)
    return settings(max_examples=examples, deadline=None, database=None, phases=phases,
                    derandomize=True, suppress_health_check=list(HealthCheck))


def _batches(files: int, batch: int) -> tuple[int, int]:
    size = max(1, min(batch, files))
    return -(-files // size), size


def assert_triggers_agree(run: BatchRunner, *, files: int = 300, batch: int = 10,
                          infinities: bool = True, shrink: bool = True) -> None:
    """``files`` generated trigger files, ``batch`` of them to a table (their histories
    together), scanned by ``run`` and by polars: the same signal rows, evidence included,
    in the same order. ``infinities``: draw ±inf values (SQLite: see docs/scale.md)."""
    examples, size = _batches(files, batch)

    @_settings(examples, shrink)
    @given(st.lists(st.tuples(trigger_files(), histories(infinities=infinities)),
                    min_size=size, max_size=size))
    def agree(drawn: list[tuple[dict[str, Any], pl.DataFrame]]) -> None:
        books = [vw.load_rules(rules, kind="triggers") for rules, _ in drawn]
        history = _combined([frame for _, frame in drawn], "customer_id")
        results = run(books, history)
        for book, got in zip(books, results, strict=True):
            want = book.scan(history)
            assert _signal_rows(got) == _signal_rows(want), (
                f"back end:\n{got}\npolars:\n{want}\nrules: {book.to_dict()}\n"
                f"history:\n{history}")

    agree()


def assert_kpis_agree(run: BatchRunner, *, files: int = 300, batch: int = 10,
                      nan: bool = True, infinities: bool = True, shrink: bool = True) -> None:
    """``files`` generated KPI files, ``batch`` of them to a table (their portfolios
    together), checked by ``run`` and by polars: the same rows, every value bit for bit.
    ``nan``, ``infinities``: draw NaN and ±inf values (SQLite holds no NaN, and a NaN it
    would compute — the sum of +inf and −inf — is null there)."""
    examples, size = _batches(files, batch)

    @_settings(examples, shrink)
    @given(st.lists(st.tuples(kpi_files(), portfolios(nan=nan, infinities=infinities)),
                    min_size=size, max_size=size))
    def agree(drawn: list[tuple[dict[str, Any], pl.DataFrame]]) -> None:
        books = [vw.load_rules(rules, kind="kpis") for rules, _ in drawn]
        portfolio = _combined([frame for _, frame in drawn], None)
        results = run(books, portfolio)
        for book, got in zip(books, results, strict=True):
            want = book.check(portfolio)
            assert _plain(got.to_dicts()) == _plain(want.to_dicts()), (
                f"back end:\n{got}\npolars:\n{want}\nrules: {book.to_dict()}")

    agree()


# == runners ==================================================================================
def _run_book(book: Any, data: Any, **options: Any) -> Any:
    if isinstance(book, TriggerBook):
        return book.scan(data, **options)
    if isinstance(book, KpiBook):
        return book.check(data, **options)
    raise TypeError(f"no batch run for {type(book).__name__}")


def duckdb_runner() -> BatchRunner:
    """Each batch as one DuckDB relation; scans fetched from the lazy relation as Arrow."""
    import duckdb

    connection = duckdb.connect()

    def run(books: Sequence[Any], frame: pl.DataFrame) -> list[pl.DataFrame]:
        relation = connection.from_arrow(frame.to_arrow())
        results = []
        for book in books:
            result = _run_book(book, relation)
            results.append(result if isinstance(result, pl.DataFrame) else result.pl())
        return results

    return run


def sqlalchemy_runner(engine: Any, schema: str | None = None) -> BatchRunner:
    """Each batch loaded into a new table of ``engine``; every book run on it there."""
    def run(books: Sequence[Any], frame: pl.DataFrame) -> list[pl.DataFrame]:
        table = load_table(frame, engine, f"b_{uuid.uuid4().hex[:10]}", schema)
        try:
            return [_run_book(book, table, bind=engine) for book in books]
        finally:
            with engine.begin() as connection:
                table.drop(connection)

    return run


@contextmanager
def _flipped() -> Iterator[None]:
    from sqlglot import exp

    from vip_workflow.rules import _ir_sql

    kept = _ir_sql._CMP[">="]
    _ir_sql._CMP[">="] = exp.GT
    try:
        yield
    finally:
        _ir_sql._CMP[">="] = kept


def flip_a_comparison(run: BatchRunner) -> BatchRunner:
    """``run`` with a planted mutation in the SQL lowering: ``>=`` written as ``>``."""
    def mutated(books: Sequence[Any], frame: pl.DataFrame) -> list[pl.DataFrame]:
        with _flipped():
            return run(books, frame)

    return mutated
