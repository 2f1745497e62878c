"""Agreement suite for tier back ends: generated rule files and boundary-heavy portfolios judged
by a back end must give exactly what the polars reference (``judge_many``) gives — tier, rule,
reason text and computed tier, row by row.

A *runner* takes a rule book and a polars frame (with a ``row_no`` column) and returns the back
end's answers as a polars frame ordered by ``row_no``. Runners for DuckDB, SQLite and PostgreSQL
are here (``duckdb_runner``, ``sqlalchemy_runner``), and one for the Spark SQL text
(``spark_sql_runner``); another back end brings its own::

    from vip_workflow.testing.tier_agreement import assert_backend_agrees, duckdb_runner
    def test_duckdb_agrees() -> None:
        assert_backend_agrees(duckdb_runner(), examples=300)

``flip_a_closed_bound(runner)`` plants a mutation (the first closed bound made open) to show
the suite catches one.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import attrs
import polars as pl
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

import vip_workflow as vw
from vip_workflow.rules.tiers import expressions as ex
from vip_workflow.testing.tier_strategies import MONTHS_FIELD, portfolios, rule_files

__all__ = ["Runner", "assert_backend_agrees", "compare", "duckdb_runner",
           "flip_a_closed_bound", "spark_sql_runner", "sqlalchemy_runner", "table_of"]

Runner = Callable[[vw.RuleBook, pl.DataFrame], pl.DataFrame]
_ANSWERS = ("tier", "rule", "reason", "computed_tier")


def fifteen_digits(reason: str | None) -> str | None:
    """A reason with every number in it rounded to 15 significant digits: how SQLite prints a
    float (``0.9999999999999999`` as ``1.0``), the one documented gap in reasons
    (docs/scale.md). Compare SQLite's reasons through it; every other back end exactly."""
    if reason is None:
        return None
    return _NUMBER.sub(lambda m: repr(float(format(float(m.group()), ".15g"))), reason)


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


def compare(book: vw.RuleBook, frame: pl.DataFrame, got: pl.DataFrame, *,
            reason: Callable[[str | None], str | None] | None = None) -> None:
    """Assert the back end's answers ``got`` are the polars reference's for ``frame``
    (reasons through ``reason`` on both sides, if given)."""
    expected = book.judge_many(frame)
    assert got.height == expected.height, (got.height, expected.height)
    for name in _ANSWERS:
        if name not in expected.columns:
            continue
        want = expected.get_column(name).cast(pl.String).to_list()
        have = got.get_column(name).cast(pl.String).to_list()
        if name == "reason" and reason is not None:
            want, have = [reason(w) for w in want], [reason(h) for h in have]
        for i, (w, h) in enumerate(zip(want, have, strict=True)):
            assert w == h, (f"{name} of row {i}: back end {h!r}, polars {w!r}\n"
                            f"row: {frame.row(i, named=True)}\nrules: {book.to_dict()}")


def assert_backend_agrees(run: Runner, *, examples: int = 300, lists: bool = True,
                          shrink: bool = True,
                          reason: Callable[[str | None], str | None] | None = None) -> None:
    """``examples`` generated rule files (quotas included), each on a generated portfolio,
    judged by ``run`` and by polars. ``lists``: the back end has lists of months; ``reason``:
    see ``compare``.

    The examples are derandomized (the same every run): a suite in CI must not pass or fail
    by the draw. Raise ``examples`` locally to explore further."""
    phases = tuple(Phase) if shrink else (Phase.explicit, Phase.reuse, Phase.generate)

    @settings(max_examples=examples, deadline=None, database=None, phases=phases,
              derandomize=True, suppress_health_check=list(HealthCheck))
    @given(data=st.data(), rules=rule_files(portfolio=True))
    def agree(data: st.DataObject, rules: dict[str, Any]) -> None:
        book = vw.load_rules(rules, kind="tiers")
        frame = data.draw(portfolios(rules["tiers"]))
        if not lists:
            assume(MONTHS_FIELD not in book.fields)
            frame = frame.drop(MONTHS_FIELD)
        frame = frame.with_row_index("row_no").with_columns(pl.col("row_no").cast(pl.Int64))
        compare(book, frame, run(book, frame), reason=reason)

    agree()


def duckdb_runner() -> Runner:
    """Judge a frame as a DuckDB relation (``judge_many(relation)``), fetched as Arrow."""
    import duckdb

    connection = duckdb.connect()

    def run(book: vw.RuleBook, frame: pl.DataFrame) -> pl.DataFrame:
        relation = connection.from_arrow(frame.to_arrow())
        judged = book.judge_many(relation).order('"row_no"')
        result = pl.from_arrow(judged.arrow())
        assert isinstance(result, pl.DataFrame)
        return result

    return run


def spark_sql_runner(session: Any) -> Runner:
    """Judge a frame with the rule book's Spark SQL text (``book.sql(table,
    dialect="spark")``) run by ``session.sql`` over a temporary view — the text a Hive or
    Spark SQL job would run, not the Column API of ``judge_many(spark_df)``. Lists of months
    are left out (a SQL table has none)."""

    def run(book: vw.RuleBook, frame: pl.DataFrame) -> pl.DataFrame:
        name = f"t_{uuid.uuid4().hex[:10]}"
        table = table_of(frame, name)
        session.createDataFrame(frame.select([c.name for c in table.columns]).to_arrow()) \
            .createOrReplaceTempView(name)
        try:
            text = book.sql(table, dialect="spark")
            result = pl.from_arrow(session.sql(text).orderBy("row_no").toArrow())
        finally:
            session.catalog.dropTempView(name)
        assert isinstance(result, pl.DataFrame)
        return result

    return run


_TYPES = {pl.Int64: "BigInteger", pl.Float64: "Float", pl.String: "String",
          pl.Boolean: "Boolean", pl.Date: "Date"}


def table_of(frame: pl.DataFrame, name: str, schema: str | None = None) -> Any:
    """A SQLAlchemy table with the frame's column types (lists left out), not created."""
    import sqlalchemy as sa

    types = {str(k): v for k, v in _TYPES.items()}
    columns = [sa.Column(c, getattr(sa, types[str(t)])()) for c, t in frame.schema.items()
               if str(t) in types]
    return sa.Table(name, sa.MetaData(), *columns, schema=schema)


def load_table(frame: pl.DataFrame, engine: Any, name: str, schema: str | None = None) -> Any:
    """A SQLAlchemy table with the frame's column types (lists left out), its rows inserted
    (the tier, trigger and KPI agreement harnesses share it)."""
    table = table_of(frame, name, schema)
    columns = list(table.columns)
    with engine.begin() as connection:
        table.create(connection)
        rows = frame.select([c.name for c in columns]).to_dicts()
        if rows:
            connection.execute(table.insert(), rows)
    return table


def sqlalchemy_runner(engine: Any, schema: str | None = None) -> Runner:
    """Load each frame into a new table of ``engine`` and judge it there (``judge_sql``)."""
    def run(book: vw.RuleBook, frame: pl.DataFrame) -> pl.DataFrame:
        table = load_table(frame, engine, f"t_{uuid.uuid4().hex[:10]}", schema)
        try:
            return book.judge_sql(engine, table, order_by="row_no")
        finally:
            with engine.begin() as connection:
                table.drop(connection)

    return run


def _flip(node: Any, done: list[bool]) -> Any:
    """The first interval with a finite closed lower bound, made open."""
    if done[0]:
        return node
    if isinstance(node, ex.InInterval) and node.interval.low_closed \
            and node.interval.low != float("-inf"):
        done[0] = True
        return attrs.evolve(node, interval=attrs.evolve(node.interval, low_closed=False))
    if isinstance(node, tuple):
        return tuple(_flip(item, done) for item in node)
    if attrs.has(type(node)):
        return attrs.evolve(node, **{f.name: _flip(getattr(node, f.name), done)
                                     for f in attrs.fields(type(node)) if f.init})
    return node


def flip_a_closed_bound(run: Runner) -> Runner:
    """``run`` on a mutated query: its first closed lower bound made open."""
    def mutated(book: vw.RuleBook, frame: pl.DataFrame) -> pl.DataFrame:
        twin = vw.load_rules(book.to_dict(), kind="tiers")
        twin._query = _flip(book.query, [False])
        return run(twin, frame)

    return mutated
