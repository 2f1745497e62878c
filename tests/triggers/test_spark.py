"""Triggers and KPIs on Spark: ``TriggerBook.scan(spark_df)`` and ``KpiBook.check(spark_df)``
give the polars answers, lazily.

The ``spark`` session fixture (``tests/conftest.py``) is shared with the tier tests. Generated
files run a batch to a Spark job (``vip_workflow.testing.spark_agreement``), so the whole file
costs a few Spark jobs. Under CI=true a missing pyspark or Java fails these tests.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest

import vip_workflow as vw
from tests.triggers import generated
from vip_workflow.rules import _ir_spark, ir
from vip_workflow.rules.kpis.book import KpiBook
from vip_workflow.rules.triggers import TriggerBook, explain_signals
from vip_workflow.samples import sample_history
from vip_workflow.samples.history import sample_kpi_portfolio
from vip_workflow.testing.spark_agreement import (
    assert_kpis_agree,
    assert_triggers_agree,
    kpi_rows,
    signal_rows,
    spark_kpi_runner,
    spark_trigger_runner,
    trigger_mismatches,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas")]


def _spark(spark: SparkSession, frame: pl.DataFrame) -> Any:
    return spark.createDataFrame(frame.to_arrow())


def _collect(frame: Any) -> pl.DataFrame:
    collected = pl.from_arrow(frame.toArrow())
    assert isinstance(collected, pl.DataFrame)
    return collected


class TestAgreement:
    def test_generated_trigger_files_agree(self, spark: SparkSession) -> None:
        """Generated trigger files over boundary-heavy histories (missing months, null, NaN,
        ±inf, ties) give the same signals and evidence on Spark as on polars."""
        assert_triggers_agree(spark_trigger_runner(spark), examples=3, batch=20)

    def test_generated_kpi_files_agree(self, spark: SparkSession) -> None:
        """Generated KPI files over dirty portfolios give the same rows on Spark as on
        polars: values, statuses and gaps bit for bit."""
        assert_kpis_agree(spark_kpi_runner(spark), examples=2, batch=15)

    def test_the_presets_agree_on_the_samples(self, spark: SparkSession) -> None:
        """seed-001-triggers on a sample history with unknown cells, and the KPI preset on its
        sample portfolio, give what polars gives."""
        triggers = vw.preset("seed-001-triggers")
        kpis = vw.preset("china-mobile-2006-kpis")
        assert isinstance(triggers, TriggerBook) and isinstance(kpis, KpiBook)
        history = sample_history(60, 24, seed=5, missing=0.02)
        portfolio = sample_kpi_portfolio(seed=3)
        assert signal_rows(_collect(triggers.scan(_spark(spark, history)))) == \
            signal_rows(triggers.scan(history))
        # amounts in fen are not exact in binary: Spark and polars add them in different
        # orders, so sums may differ in the last bits (docs/semantics.md)
        assert kpi_rows(_collect(kpis.check(_spark(spark, portfolio))), digits=12) == \
            kpi_rows(kpis.check(portfolio), digits=12)

    def test_a_planted_mutation_is_found(self, spark: SparkSession,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
        """The seeded trigger files of the IR test agree on Spark; with ``>=`` lowered as
        ``>`` in the Spark lowering the same comparison finds files that differ."""
        pairs = [(generated.trigger_book(seed), generated.history(seed)) for seed in range(12)]
        run = spark_trigger_runner(spark)
        assert trigger_mismatches(run, pairs) == []
        monkeypatch.setitem(_ir_spark._CMP, ">=", lambda a, b: a > b)
        assert trigger_mismatches(run, pairs) != []


class TestShown:
    def test_signals_are_explained_and_kpis_reported_from_spark(self, spark: SparkSession
                                                                 ) -> None:
        """``explain_signals`` and ``KpiBook.report`` take the Spark answers (fetched as
        Arrow) and say what they say of polars'."""
        triggers = vw.preset("seed-001-triggers")
        kpis = vw.preset("china-mobile-2006-kpis")
        assert isinstance(triggers, TriggerBook) and isinstance(kpis, KpiBook)
        history = sample_history(30, 24, seed=9, missing=0.02)
        sentences = explain_signals(triggers.scan(_spark(spark, history)))
        assert sorted(sentences) == sorted(explain_signals(triggers.scan(history)))
        assert sentences
        portfolio = sample_kpi_portfolio(seed=3)
        report = kpis.report(_spark(spark, portfolio))
        assert kpi_rows(report.frame, digits=12) == kpi_rows(kpis.check(portfolio), digits=12)


class TestScan:
    def test_a_missing_month_is_unknown_not_the_month_before(self, spark: SparkSession
                                                             ) -> None:
        """A lag reads calendar months: across a missing month a change has no base and a
        run of increases is broken; the result is a lazy Spark DataFrame."""
        from pyspark.sql import DataFrame

        book = vw.load_rules({"kind": "triggers", "name": "t", "triggers": [
            {"id": "up", "family": "develop", "action": "call",
             "when": {"change_pct": "revenue", "months": 1, "op": ">", "value": 0}},
            {"id": "run", "family": "develop", "action": "call", "emit": "onset",
             "when": {"consecutive": "revenue", "direction": "increase", "months": 1}}]})
        assert isinstance(book, TriggerBook)
        history = pl.DataFrame({
            "customer_id": ["a", "a", "a", "a"],
            "period": ["2026-01", "2026-02", "2026-04", "2026-05"],
            "revenue": [1.0, 2.0, 3.0, 4.0]})
        out = book.scan(_spark(spark, history))
        assert isinstance(out, DataFrame)
        got = _collect(out)
        assert got.columns == list(book.scan(history).columns)
        assert sorted((row["period"], row["trigger"]) for row in got.iter_rows(named=True)) \
            == [(date(2026, 2, 1), "run"), (date(2026, 2, 1), "up"), (date(2026, 5, 1), "run"),
                (date(2026, 5, 1), "up")]
        assert signal_rows(got) == signal_rows(book.scan(history))

    def test_a_missing_column_is_named_before_anything_runs(self, spark: SparkSession
                                                            ) -> None:
        """A history without a column a trigger reads, or a portfolio without one a KPI
        reads, raises EvaluationError naming it."""
        book = vw.preset("seed-001-triggers")
        kpis = vw.preset("china-mobile-2006-kpis")
        assert isinstance(book, TriggerBook) and isinstance(kpis, KpiBook)
        frame = _spark(spark, pl.DataFrame({"customer_id": ["a"], "period": ["2026-01"]}))
        with pytest.raises(vw.EvaluationError, match="lacks the column"):
            book.scan(frame)
        with pytest.raises(vw.EvaluationError, match="needs the column"):
            kpis.check(frame)

    def test_an_unknown_node_raises_rather_than_falls_back(self) -> None:
        """A node kind the Spark lowering has no rule for raises UnknownNode."""

        class Strange(ir.Node):
            pass

        with pytest.raises(ir.UnknownNode, match="spark lowering has no rule for Strange"):
            _ir_spark.to_spark(ir.Abs(Strange()))
