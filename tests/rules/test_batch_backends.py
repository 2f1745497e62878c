"""Trigger scans and KPI checks on DuckDB, SQLite and PostgreSQL: the registry, the semantics
the SQL lowering spells out, and the agreement suite (generated files give exactly the polars
answers)."""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

import vip_workflow as vw
from vip_workflow.rules import _ir_sql, batch_backends, ir
from vip_workflow.rules.triggers import explain_signals
from vip_workflow.testing.batch_agreement import (
    assert_kpis_agree,
    assert_triggers_agree,
    duckdb_runner,
    flip_a_comparison,
    load_table,
    sqlalchemy_runner,
)

duckdb = pytest.importorskip("duckdb") if os.environ.get("CI") != "true" else __import__("duckdb")
POSTGRES_URL = os.environ.get("VW_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def pg_schema() -> Iterator[tuple[sa.Engine, str]]:
    engine = sa.create_engine(POSTGRES_URL)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("select 1"))
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}")
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}")
    name = f"vw_batch_{uuid.uuid4().hex[:10]}"
    with engine.begin() as connection:
        connection.execute(sa.text(f'create schema "{name}"'))
    yield engine, name
    with engine.begin() as connection:
        connection.execute(sa.text(f'drop schema "{name}" cascade'))
    engine.dispose()


def _triggers(when: dict[str, Any], emit: str = "every") -> vw.TriggerBook:
    return vw.load_rules({"kind": "triggers", "name": "t", "triggers": [
        {"id": "t0", "family": "risk", "action": "call", "emit": emit, "when": when}]},
        kind="triggers")


def _history(rows: list[tuple[str, str, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"customer_id": c, "period": date.fromisoformat(p + "-01"), "revenue": v}
         for c, p, v in rows],
        schema={"customer_id": pl.String, "period": pl.Date, "revenue": pl.Float64})


def _on_every_engine(book: Any, frame: pl.DataFrame, **call: Any) -> dict[str, pl.DataFrame]:
    """The result of ``book`` on polars, a DuckDB relation and a SQLite table."""
    run = book.scan if isinstance(book, vw.TriggerBook) else book.check
    engine = sa.create_engine("sqlite://")
    table = load_table(frame, engine, "data")
    relation = run(duckdb.connect().from_arrow(frame.to_arrow()), **call)
    return {"polars": run(frame, **call),
            "duckdb": relation if isinstance(relation, pl.DataFrame) else relation.pl(),
            "sqlite": run(table, bind=engine, **call)}


class TestRegistry:
    def test_built_in_back_ends_are_found_by_kind_name_and_input(self) -> None:
        """A DuckDB relation and a SQLAlchemy table each have a trigger and a KPI back end."""
        relation = duckdb.connect().sql("select 1.0 as revenue")
        table = sa.Table("t", sa.MetaData(), sa.Column("revenue", sa.Float))
        for kind in ("triggers", "kpis"):
            assert {"duckdb", "sqlalchemy"} <= set(batch_backends.names(kind))  # type: ignore[arg-type]
            assert batch_backends.backend_for(kind, relation) is batch_backends.backend(  # type: ignore[arg-type]
                kind, "duckdb")  # type: ignore[arg-type]
            assert batch_backends.backend_for(kind, table) is batch_backends.backend(  # type: ignore[arg-type]
                kind, "sqlalchemy")  # type: ignore[arg-type]
            assert batch_backends.backend_for(kind, [{"revenue": 1.0}]) is None  # type: ignore[arg-type]

    def test_an_unknown_back_end_is_named(self) -> None:
        with pytest.raises(vw.AdapterNotFoundError, match="trigger back end"):
            batch_backends.backend("triggers", "oracle")

    def test_a_registered_back_end_takes_its_inputs(self) -> None:
        """Another engine (Spark, say) plugs in by kind and name and is chosen by input."""
        class Marker:
            pass

        class Echo:
            def accepts(self, data: object) -> bool:
                return isinstance(data, Marker)

            def run(self, rules: Any, data: Any, **options: Any) -> Any:
                return ("echo", len(rules))

        batch_backends.register("triggers", "echo", Echo())
        try:
            book = _triggers({"field": "revenue", "op": ">", "value": 1})
            assert book.scan(Marker()) == ("echo", 1)
        finally:
            del batch_backends._REGISTERED["triggers"]["echo"]

    def test_an_unknown_node_raises_and_never_falls_back(self) -> None:
        class Strange(ir.Node):
            pass

        with pytest.raises(ir.UnknownNode, match="SQL"):
            _ir_sql.to_sql(ir.Math("+", ir.Column("x"), Strange()), _ir_sql.SqlContext("duckdb"))
        with pytest.raises(ir.UnknownNode, match="SQL"):
            _ir_sql.to_sql(ir.Lag("revenue", 1), _ir_sql.SqlContext("postgres"))


class TestSemantics:
    def test_a_missing_month_is_unknown_not_the_previous_row(self) -> None:
        """March compared with January is no one-month change: February is missing."""
        book = _triggers({"change_pct": "revenue", "months": 1, "op": "<", "value": -10})
        frame = _history([("c1", "2026-01", 100.0), ("c1", "2026-03", 50.0),
                          ("c1", "2026-04", 10.0)])
        results = _on_every_engine(book, frame)
        for name, got in results.items():
            assert got["period"].to_list() == [date(2026, 4, 1)], name
            assert got["evidence"].to_list() == results["polars"]["evidence"].to_list(), name

    def test_an_onset_needs_the_previous_calendar_month(self) -> None:
        """Held in January and March (February missing): March is an onset again."""
        book = _triggers({"field": "revenue", "op": ">=", "value": 5}, emit="onset")
        frame = _history([("c1", "2026-01", 5.0), ("c1", "2026-03", 6.0),
                          ("c1", "2026-04", 7.0)])
        for name, got in _on_every_engine(book, frame).items():
            assert got["period"].to_list() == [date(2026, 1, 1), date(2026, 3, 1)], name

    def test_nan_is_unknown_and_shown_as_null(self) -> None:
        """A NaN revenue fires nothing; a NaN evidence value is null on every engine."""
        book = _triggers({"sum": "revenue", "months": 2, "op": ">", "value": 0})
        frame = _history([("c1", "2026-01", math.nan), ("c1", "2026-02", 1.0),
                          ("c1", "2026-03", 2.0)])
        for name, got in _on_every_engine(book, frame).items():
            assert got["period"].to_list() == [date(2026, 3, 1)], name
            assert got["evidence"].to_list() == [[{"name": "revenue.sum[2]", "value": 3.0}]]

    def test_a_customer_month_given_twice_is_refused(self) -> None:
        book = _triggers({"field": "revenue", "op": ">", "value": 1})
        frame = _history([("c1", "2026-01", 1.0), ("c1", "2026-01", 2.0)])
        engine = sa.create_engine("sqlite://")
        table = load_table(frame, engine, "data")
        for data, call in ((duckdb.connect().from_arrow(frame.to_arrow()), {}),
                           (table, {"bind": engine})):
            with pytest.raises(vw.EvaluationError, match="two rows for the same month 2026-01"):
                book.scan(data, **call)

    def test_a_row_without_a_customer_id_is_refused(self) -> None:
        book = _triggers({"field": "revenue", "op": ">", "value": 1})
        for blank in (None, "  "):
            frame = _history([("c1", "2026-01", 1.0), ("c1", "2026-02", 2.0)]).with_columns(
                pl.when(pl.col("period") == date(2026, 2, 1)).then(pl.lit(blank))
                .otherwise(pl.col("customer_id")).alias("customer_id"))
            with pytest.raises(vw.EvaluationError, match="without a customer id"):
                book.scan(duckdb.connect().from_arrow(frame.to_arrow()))

    def test_a_table_needs_its_engine(self) -> None:
        table = sa.Table("t", sa.MetaData(), sa.Column("revenue", sa.Float))
        with pytest.raises(vw.ConfigError, match="bind=engine"):
            _triggers({"field": "revenue", "op": ">", "value": 1}).scan(table)

    def test_a_relation_stays_a_relation(self) -> None:
        """DuckDB in, a lazy DuckDB relation out, with scan's columns."""
        book = _triggers({"field": "revenue", "op": ">", "value": 1})
        frame = _history([("c1", "2026-01", 2.0)])
        result = book.scan(duckdb.connect().from_arrow(frame.to_arrow()))
        assert type(result).__module__.startswith(("duckdb", "_duckdb"))
        assert result.columns == ["customer_id", "period", "trigger", "family", "severity",
                                  "action", "evidence"]
        kpis = vw.load_rules({"kind": "kpis", "name": "k", "kpis": [
            {"id": "n", "measure": {"type": "count"}, "target": 1}]}, kind="kpis")
        checked = kpis.check(duckdb.connect().from_arrow(frame.to_arrow()))
        assert type(checked).__module__.startswith(("duckdb", "_duckdb"))
        assert checked.pl().to_dicts() == kpis.check(frame).to_dicts()
        assert kpis.report(duckdb.connect().from_arrow(frame.to_arrow())).ok
        assert explain_signals(result) == explain_signals(book.scan(frame)) != []

    def test_results_of_no_known_kind_are_refused_by_name(self) -> None:
        """Showing results takes polars, pandas, Arrow, DuckDB or Spark; a list is refused."""
        with pytest.raises(TypeError, match="cannot read results from a list"):
            explain_signals([{"trigger": "t"}])

    def test_kpi_max_skips_nan_unless_every_value_is_nan(self) -> None:
        """polars' rule: a max skips NaN; only an all-NaN group has a NaN max."""
        book = vw.load_rules({"kind": "kpis", "name": "k", "kpis": [
            {"id": "top", "measure": {"type": "ratio", "numerator": {"agg": "max", "field": "x"},
                                      "denominator": {"agg": "count"}},
             "by": "segment", "target": 0}]}, kind="kpis")
        frame = pl.DataFrame({"segment": ["A", "A", "B"], "x": [1.0, math.nan, math.nan]})
        want = book.check(frame)
        got = book.check(duckdb.connect().from_arrow(frame.to_arrow())).pl()
        assert want["numerator"].to_list()[0] == 1.0
        assert math.isnan(want["numerator"].to_list()[1])
        assert repr(got.to_dicts()) == repr(want.to_dicts())


class TestDuckDB:
    @pytest.mark.slow
    def test_300_generated_trigger_files_agree(self) -> None:
        assert_triggers_agree(duckdb_runner(), files=300)

    @pytest.mark.slow
    def test_300_generated_kpi_files_agree(self) -> None:
        assert_kpis_agree(duckdb_runner(), files=300)

    def test_a_flipped_comparison_is_caught(self) -> None:
        """The planted mutation (``>=`` lowered as ``>``) fails the suite."""
        with pytest.raises(AssertionError, match="back end"):
            assert_triggers_agree(flip_a_comparison(duckdb_runner()), files=60, shrink=False)
        with pytest.raises(AssertionError, match="back end"):
            assert_kpis_agree(flip_a_comparison(duckdb_runner()), files=60, shrink=False)


class TestSQLite:
    """SQLite holds no NaN and computes none (``inf - inf`` is null there): the histories and
    portfolios drawn for it have no NaN and no ±inf (docs/scale.md)."""

    @pytest.mark.slow
    def test_300_generated_trigger_files_agree(self) -> None:
        assert_triggers_agree(sqlalchemy_runner(sa.create_engine("sqlite://")), files=300,
                              infinities=False)

    @pytest.mark.slow
    def test_300_generated_kpi_files_agree(self) -> None:
        assert_kpis_agree(sqlalchemy_runner(sa.create_engine("sqlite://")), files=300,
                          nan=False, infinities=False)


class TestPostgreSQL:
    @pytest.mark.slow
    def test_300_generated_trigger_files_agree(self, pg_schema: tuple[sa.Engine, str]) -> None:
        engine, schema = pg_schema
        assert_triggers_agree(sqlalchemy_runner(engine, schema), files=300)

    @pytest.mark.slow
    def test_300_generated_kpi_files_agree(self, pg_schema: tuple[sa.Engine, str]) -> None:
        engine, schema = pg_schema
        assert_kpis_agree(sqlalchemy_runner(engine, schema), files=300)

    def test_a_table_in_a_schema_is_scanned_inside_the_database(
            self, pg_schema: tuple[sa.Engine, str]) -> None:
        engine, schema = pg_schema
        book = _triggers({"consecutive": "revenue", "direction": "decline", "months": 2})
        frame = _history([("c1", "2026-01", 3.0), ("c1", "2026-02", 2.0),
                          ("c1", "2026-03", 1.0), ("c2", "2026-03", 1.0)])
        table = load_table(frame, engine, f"h_{uuid.uuid4().hex[:8]}", schema)
        got = book.scan(table, bind=engine)
        assert got.to_dicts() == book.scan(frame).to_dicts()
        assert got["customer_id"].to_list() == ["c1"]


def _near(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> bool:
    """The same rows, floats equal to 12 significant digits (sums of cents are not exact:
    each engine adds in its own order, docs/scale.md)."""
    def same(a: Any, b: Any) -> bool:
        if isinstance(a, float) and isinstance(b, float):
            return math.isclose(a, b, rel_tol=1e-12) or (math.isnan(a) and math.isnan(b))
        return bool(a == b)

    return len(got) == len(want) and all(
        g.keys() == w.keys() and all(same(g[k], w[k]) for k in g)
        for g, w in zip(got, want, strict=True))


class TestPresets:
    def test_the_trigger_and_kpi_presets_agree_on_every_engine(
            self, pg_schema: tuple[sa.Engine, str]) -> None:
        """seed-001-triggers over 150 customers × 24 months (2 % unknown cells): the polars
        signals exactly; the china-mobile-2006 KPIs over 400 customers with amounts in cents:
        the polars rows, sums to 12 significant digits, on DuckDB, SQLite and PostgreSQL."""
        from vip_workflow.samples import sample_history
        from vip_workflow.samples.history import sample_kpi_portfolio

        engine, schema = pg_schema
        triggers, kpis = vw.preset("seed-001-triggers"), vw.preset("china-mobile-2006-kpis")
        history = sample_history(150, 24, seed=5, missing=0.02)
        portfolio = sample_kpi_portfolio(400, seed=3)
        for book, frame in ((triggers, history), (kpis, portfolio)):
            runners = {"duckdb": duckdb_runner(),
                       "sqlite": sqlalchemy_runner(sa.create_engine("sqlite://")),
                       "postgresql": sqlalchemy_runner(engine, schema)}
            run = book.scan if isinstance(book, vw.TriggerBook) else book.check
            want = run(frame).to_dicts()
            assert len(want) > 10
            for name, runner in runners.items():
                (got,) = runner([book], frame)
                if isinstance(book, vw.TriggerBook):
                    assert repr(got.to_dicts()) == repr(want), name
                else:
                    assert _near(got.to_dicts(), want), (name, got, want)
