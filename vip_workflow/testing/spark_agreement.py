"""Agreement suite for trigger and KPI back ends that run a batch as one job (Spark): generated
trigger files over boundary-heavy monthly histories, and generated KPI files over dirty
portfolios, run by a back end must give exactly what the polars reference gives — the same
(customer, period, trigger, evidence) rows, and the same KPI rows, values bit for bit.

A *runner* takes a batch of (book, polars frame) pairs and returns the back end's answers, one
polars frame per pair: a back end that pays for each job (Spark) runs the whole batch as one.
``spark_trigger_runner(session)`` and ``spark_kpi_runner(session)`` are here; another back end
brings its own (the SQL back ends use ``batch_agreement``, which loads each batch into a
database table)::

    from vip_workflow.testing.spark_agreement import assert_triggers_agree
    def test_my_backend_agrees() -> None:
        assert_triggers_agree(my_runner, examples=10, batch=30)

The histories hold what the scan must get right: months missing in the middle (a lag across
the gap is unknown, not the month before it), null, NaN (read as unknown), ±inf, ties at
every threshold (small integers), an integer column, and an agreement end date.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from vip_workflow.rules.kpis.book import KpiBook
from vip_workflow.rules.tiers.book import load_rules
from vip_workflow.rules.triggers import TriggerBook

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["FIELDS", "KpiRunner", "TriggerRunner", "assert_kpis_agree",
           "assert_triggers_agree", "histories", "kpi_files", "kpi_portfolios",
           "kpi_rows", "signal_rows", "spark_kpi_runner", "spark_trigger_runner",
           "trigger_files", "trigger_mismatches"]

TriggerRunner = Callable[[Sequence[tuple[TriggerBook, pl.DataFrame]]], list[pl.DataFrame]]
KpiRunner = Callable[[Sequence[tuple[KpiBook, pl.DataFrame]]], list[pl.DataFrame]]

#: Numeric history columns (``complaints`` is an integer column: no NaN, no inf).
FIELDS = ("revenue", "members", "arrears", "complaints")
_OPS = (">", ">=", "<", "<=", "==", "!=")
_CASE = "__vw_case"

# -- trigger files ---------------------------------------------------------------------------
_small = st.integers(0, 6)


@st.composite
def _test(draw: st.DrawFn, low: int, high: int) -> dict[str, Any]:
    op = draw(st.sampled_from((*_OPS, "between")))
    if op == "between":
        a, b = sorted((draw(st.integers(low, high)), draw(st.integers(low, high))))
        return {"op": op, "value": [a, b]}
    return {"op": op, "value": draw(st.integers(low, high))}


@st.composite
def _leaf(draw: st.DrawFn) -> dict[str, Any]:
    f = draw(st.sampled_from(FIELDS))
    kind = draw(st.sampled_from(("field", "consecutive", "change_pct", "anomaly", "days_until",
                                 "sum", "count")))
    if kind == "field":
        return {"field": f, **draw(_test(0, 6))}
    if kind == "consecutive":
        return {"consecutive": f, "direction": draw(st.sampled_from(("decline", "increase"))),
                "months": draw(st.integers(1, 3))}
    if kind == "change_pct":
        return {"change_pct": f, "months": draw(st.integers(1, 3)),
                "op": draw(st.sampled_from(_OPS)),
                "value": draw(st.sampled_from((-100, -50, 0, 20, 50, 100)))}
    if kind == "anomaly":
        window = draw(st.integers(2, 5))
        return {"anomaly": f, "method": draw(st.sampled_from(("zscore", "robust"))),
                "window": window, "min_periods": draw(st.integers(2, window)),
                "threshold": draw(st.sampled_from((0.5, 1, 2, 3))),
                "direction": draw(st.sampled_from(("both", "up", "down")))}
    if kind == "days_until":
        return {"days_until": "agreement_end", **draw(_test(-30, 120))}
    if kind == "sum":
        return {"sum": f, "months": draw(st.integers(1, 3)), **draw(_test(0, 12))}
    return {"count": f, "months": draw(st.integers(1, 4)), "where": draw(_test(0, 6)),
            **draw(_test(0, 4))}


_conditions = st.recursive(
    _leaf(), lambda inner: st.builds(lambda kind, parts: {kind: parts},
                                     st.sampled_from(("all", "any")),
                                     st.lists(inner, min_size=1, max_size=3)),
    max_leaves=4)


@st.composite
def trigger_files(draw: st.DrawFn) -> dict[str, Any]:
    """A trigger file of 1–4 triggers over every leaf kind, ``every`` and ``onset``."""
    whens = draw(st.lists(_conditions, min_size=1, max_size=4))
    return {"kind": "triggers", "name": "generated", "triggers": [
        {"id": f"g{i}", "family": draw(st.sampled_from(("risk", "retain", "develop"))),
         "severity": draw(st.sampled_from(("low", "medium", "high"))), "action": "look",
         "emit": draw(st.sampled_from(("every", "onset"))), "when": when}
        for i, when in enumerate(whens)]}


_number = st.one_of(
    _small.map(float), _small.map(float), _small.map(float),
    st.sampled_from((None, None, math.nan, math.inf, -math.inf, 0.5, -1.0, 1e6)))
_count = st.one_of(_small, _small, st.none())


@st.composite
def histories(draw: st.DrawFn) -> pl.DataFrame:
    """1–3 customers of 1–12 months (some missing in between), shuffled."""
    rows = []
    for customer in range(draw(st.integers(1, 3))):
        first, length = draw(st.integers(0, 3)), draw(st.integers(1, 12))
        dropped = draw(st.sets(st.integers(first, first + length - 1), max_size=3))
        months = [m for m in range(first, first + length) if m not in dropped] or [first]
        end = draw(st.one_of(st.none(), st.integers(0, 500)))
        for month in months:
            rows.append({
                "customer_id": f"客户{customer}",
                "period": date(2025 + month // 12, month % 12 + 1, 1),
                **{f: draw(_number) for f in FIELDS[:-1]},
                "complaints": draw(_count),
                "agreement_end": None if end is None else date(2025, 1, 1) + timedelta(end),
            })
    schema = {"customer_id": pl.String, "period": pl.Date,
              **dict.fromkeys(FIELDS[:-1], pl.Float64), "complaints": pl.Int64,
              "agreement_end": pl.Date}
    frame = pl.DataFrame(rows, schema=schema)
    return frame.sample(fraction=1.0, shuffle=True, seed=draw(st.integers(0, 99)))


# -- KPI files -------------------------------------------------------------------------------
_KPI_NUMBERS = ("revenue", "members", "cost")


@st.composite
def _filter(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    roll = draw(st.integers(0, 9))
    if depth < 2 and roll < 2:
        kind = draw(st.sampled_from(("all", "any")))
        return {kind: draw(st.lists(_filter(depth + 1), min_size=1, max_size=3))}
    if depth < 2 and roll < 3:
        return {"not": draw(_filter(depth + 1))}
    if roll < 5:
        op = draw(st.sampled_from(("==", "!=", "in", "not_in", "is_null", "not_null")))
        if op in ("is_null", "not_null"):
            return {"field": "segment", "op": op}
        if op in ("in", "not_in"):
            return {"field": "segment", "op": op, "value": draw(st.lists(
                st.sampled_from(("A", "B", "C", "D", " ")), min_size=1, max_size=3,
                unique=True))}
        return {"field": "segment", "op": op, "value": draw(st.sampled_from(("A", "B", " ")))}
    if roll < 6:
        return {"field": "stable", "op": draw(st.sampled_from(("==", "!="))),
                "value": draw(st.booleans())}
    field = draw(st.sampled_from(_KPI_NUMBERS))
    op = draw(st.sampled_from((*_OPS, "between", "in", "not_in", "is_null", "not_null")))
    if op == "between":
        a, b = sorted((draw(st.integers(0, 12)), draw(st.integers(0, 12))))
        return {"field": field, "op": op, "value": [a, b]}
    if op in ("in", "not_in"):
        return {"field": field, "op": op,
                "value": draw(st.lists(st.sampled_from((0, 1, 3, 6, 1.5, 12)), min_size=1,
                                       max_size=4))}
    if op in ("is_null", "not_null"):
        return {"field": field, "op": op}
    return {"field": field, "op": op, "value": draw(st.sampled_from((0, 3, 6, 12, 2.5)))}


@st.composite
def _aggregate(draw: st.DrawFn) -> dict[str, Any]:
    agg = draw(st.sampled_from(("sum", "count", "mean", "n_unique", "min", "max")))
    out: dict[str, Any] = {"agg": agg}
    if agg != "count" or draw(st.booleans()):
        out["field"] = draw(st.sampled_from(_KPI_NUMBERS))
    if draw(st.booleans()):
        out["where"] = draw(_filter())
    return out


@st.composite
def kpi_files(draw: st.DrawFn) -> dict[str, Any]:
    """A KPI file of 1–3 KPIs: every measure, filters, groups, targets per group."""
    kpis = []
    for i in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(("ratio", "sum", "count", "mean", "n_unique")))
        measure: dict[str, Any] = {"type": kind}
        if kind == "ratio":
            measure |= {"numerator": draw(_aggregate()), "denominator": draw(_aggregate())}
        else:
            if kind != "count" or draw(st.booleans()):
                measure["field"] = draw(st.sampled_from(_KPI_NUMBERS))
            if draw(st.booleans()):
                measure["where"] = draw(_filter())
        compare = draw(st.sampled_from((">=", "<=", ">", "<", "==", "between")))
        target: Any = ([0.2, 0.9] if compare == "between"
                       else draw(st.sampled_from((0.0, 0.5, 3.0, 6.0, 40.0))))
        kpi: dict[str, Any] = {"id": f"k{i}", "measure": measure, "compare": compare,
                               "target": target}
        if draw(st.booleans()):
            kpi["where"] = draw(_filter())
        if draw(st.booleans()):
            kpi["by"] = "segment"
            if draw(st.booleans()):
                kpi["targets"] = {"A": target, "Z": target}
        kpis.append(kpi)
    return {"kind": "kpis", "name": "generated", "kpis": kpis}


@st.composite
def kpi_portfolios(draw: st.DrawFn) -> pl.DataFrame:
    """0–30 rows: segments (null and blank among them), booleans, dirty numbers."""
    n = draw(st.integers(0, 30))
    return pl.DataFrame({
        "segment": draw(st.lists(st.sampled_from(("A", "B", "C", " ", None)), min_size=n,
                                 max_size=n)),
        "stable": draw(st.lists(st.sampled_from((True, False, None)), min_size=n,
                                max_size=n)),
        **{f: draw(st.lists(_number, min_size=n, max_size=n)) for f in _KPI_NUMBERS},
    }, schema={"segment": pl.String, "stable": pl.Boolean,
               **dict.fromkeys(_KPI_NUMBERS, pl.Float64)})


# -- comparing -------------------------------------------------------------------------------
def _exact(value: Any, digits: int | None = None) -> Any:
    """A value compared exactly: floats by repr (NaN equal to NaN, -0.0 not 0.0), or rounded
    to ``digits`` significant digits."""
    if isinstance(value, float):
        return repr(value) if digits is None else format(value, f".{digits}g")
    if isinstance(value, list):
        return tuple(_exact(v, digits) for v in value)
    if isinstance(value, dict):
        return tuple((k, _exact(v, digits)) for k, v in value.items())
    return value


def signal_rows(signals: pl.DataFrame) -> list[tuple[Any, ...]]:
    """(customer, period, trigger, family, severity, action, evidence) of each signal, exact,
    sorted."""
    columns = ("customer_id", "period", "trigger", "family", "severity", "action", "evidence")
    frame = signals.select(pl.col(c).cast(pl.String) if c in ("family", "severity")
                           else pl.col(c) for c in columns)
    return sorted((tuple(_exact(v) for v in row) for row in frame.iter_rows()), key=repr)


def kpi_rows(results: pl.DataFrame, *, digits: int | None = None) -> list[tuple[Any, ...]]:
    """Each KPI result row, in order, exact (or numbers to ``digits`` significant digits:
    sums of amounts that are not exact in binary depend on the order of the additions)."""
    return [tuple(_exact(v, digits) for v in row) for row in results.iter_rows()]


def _settings(examples: int) -> Callable[[Any], Any]:
    # derandomized: a suite in CI must not pass or fail by the draw; no shrinking (each
    # example is a batch, and a failure prints the file and frame that disagree)
    return settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                    phases=(Phase.explicit, Phase.reuse, Phase.generate),
                    suppress_health_check=list(HealthCheck))


def assert_triggers_agree(run: TriggerRunner, *, examples: int = 10, batch: int = 30) -> None:
    """``examples`` batches of ``batch`` generated trigger files, each over its own generated
    history: the back end's signals are the polars scan's, evidence included. Hypothesis's
    first example is its simplest (every file minimal): give ``examples`` ≥ 2."""

    @_settings(examples)
    @given(cases=st.lists(st.tuples(trigger_files(), histories()), min_size=batch,
                          max_size=batch))
    def agree(cases: list[tuple[dict[str, Any], pl.DataFrame]]) -> None:
        found = trigger_mismatches(run, [(_trigger_book(data), frame) for data, frame in cases])
        assert not found, found[0]

    agree()


def trigger_mismatches(run: TriggerRunner, pairs: Sequence[tuple[TriggerBook, pl.DataFrame]]
                       ) -> list[str]:
    """The pairs whose signals on the back end (one ``run`` of the batch) differ from the
    polars scan's, each told with its file and history."""
    found = []
    for (book, frame), got in zip(pairs, run(pairs), strict=True):
        want, have = signal_rows(book.scan(frame)), signal_rows(got)
        if have != want:
            found.append(f"back end {have}\npolars {want}\n{book.to_yaml()}\n"
                         f"{frame.sort('customer_id', 'period')}")
    return found


def assert_kpis_agree(run: KpiRunner, *, examples: int = 10, batch: int = 30) -> None:
    """``examples`` batches of ``batch`` generated KPI files, each over its own generated
    portfolio: the back end's result rows are the polars check's, values bit for bit."""

    @_settings(examples)
    @given(cases=st.lists(st.tuples(kpi_files(), kpi_portfolios()), min_size=batch,
                          max_size=batch))
    def agree(cases: list[tuple[dict[str, Any], pl.DataFrame]]) -> None:
        pairs = [(_kpi_book(data), frame) for data, frame in cases]
        for (book, frame), got in zip(pairs, run(pairs), strict=True):
            want = kpi_rows(book.check(frame))
            assert kpi_rows(got) == want, (
                f"back end {kpi_rows(got)}\npolars {want}\n{book.to_dict()}\n{frame}")

    agree()


def _trigger_book(data: dict[str, Any]) -> TriggerBook:
    book = load_rules(data)
    assert isinstance(book, TriggerBook)
    return book


def _kpi_book(data: dict[str, Any]) -> KpiBook:
    book = load_rules(data)
    assert isinstance(book, KpiBook)
    return book


# -- Spark -----------------------------------------------------------------------------------
def _spark_batch(session: SparkSession, frames: Sequence[pl.DataFrame],
                 answer: Callable[[int, Any], Any]) -> list[pl.DataFrame]:
    """``answer(i, part_i)`` for each frame (as one Spark DataFrame, split by a case
    column), unioned and collected in one job, split back into polars frames."""
    from pyspark.sql import functions as F

    stacked = pl.concat([frame.with_columns(pl.lit(i, pl.Int32).alias(_CASE))
                         for i, frame in enumerate(frames)], how="vertical")
    source = session.createDataFrame(stacked.to_arrow())

    def part(i: int) -> Any:
        return answer(i, source.where(F.col(_CASE) == F.lit(i)).drop(_CASE)).select(
            F.lit(i).alias(_CASE), "*")

    # building a plan is thousands of short calls into the JVM, each mostly waiting for its
    # answer: four threads overlap the waits
    with ThreadPoolExecutor(max_workers=4) as pool:
        parts = list(pool.map(part, range(len(frames))))
    union = parts[0]
    for part in parts[1:]:
        union = union.unionByName(part)
    collected = pl.from_arrow(union.toArrow())
    assert isinstance(collected, pl.DataFrame)
    return [collected.filter(pl.col(_CASE) == i).drop(_CASE) for i in range(len(frames))]


def spark_trigger_runner(session: SparkSession) -> TriggerRunner:
    """Scan each history as a Spark DataFrame (``book.scan(spark_df)``), the whole batch in
    one Spark job."""

    def run(pairs: Sequence[tuple[TriggerBook, pl.DataFrame]]) -> list[pl.DataFrame]:
        return _spark_batch(session, [frame for _, frame in pairs],
                            lambda i, part: pairs[i][0].scan(part))

    return run


def spark_kpi_runner(session: SparkSession) -> KpiRunner:
    """Check each portfolio as a Spark DataFrame (``book.check(spark_df)``), the whole batch
    in one Spark job."""

    def run(pairs: Sequence[tuple[KpiBook, pl.DataFrame]]) -> list[pl.DataFrame]:
        return _spark_batch(session, [frame for _, frame in pairs],
                            lambda i, part: pairs[i][0].check(part))

    return run
