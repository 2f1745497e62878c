"""The Spark back end: ``book.judge_many(spark_df)`` gives the polars back end's answers.

The suite's one local Spark session (``local[2]``, the ``spark`` fixture) serves the file.
Rule files are judged ten to a Spark job: each book's answers over the same DataFrame,
tagged with the book's number, are unioned and collected once. Under CI=true a missing
pyspark or Java fails these tests.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import attrs
import polars as pl
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import vip_workflow as vw
from vip_workflow.rules.tiers import _spark
from vip_workflow.rules.tiers.backends import backend, backend_for
from vip_workflow.rules.tiers.compiled import Interval
from vip_workflow.samples import load_sample_portfolio
from vip_workflow.testing.tier_agreement import assert_backend_agrees, compare, spark_sql_runner
from vip_workflow.testing.tier_dirty import ANSWERS, dirty_portfolio, mismatches
from vip_workflow.testing.tier_strategies import ALL_TIERS, portfolios, rule_files

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas")]
ROW = "__row"
BATCH = 10  # books per Spark job: bigger unions cost more to plan than they save


def _indexed(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with a ``__row`` number (Int64: Spark takes no unsigned integers)."""
    return frame.with_row_index(ROW).with_columns(pl.col(ROW).cast(pl.Int64))


def _to_spark(spark: SparkSession, frame: pl.DataFrame) -> DataFrame:
    return spark.createDataFrame(frame.to_arrow())


def _judge_together(spark: SparkSession, books: list[vw.RuleBook],
                    frame: pl.DataFrame) -> list[pl.DataFrame]:
    """Each book's Spark answers over ``frame`` (which has a ``__row`` column), from one
    collect of the union of all books' answers."""
    from pyspark.sql import functions as F

    source = _to_spark(spark, frame)

    def tagged(number: int, book: vw.RuleBook) -> DataFrame:
        out: DataFrame = book.judge_many(source)
        present = [c for c in ANSWERS if c in out.columns]
        return out.select(F.lit(number).alias("book"), ROW, *(F.col(c) for c in present),
                          *(F.lit(None).cast("string").alias(c) for c in ANSWERS
                            if c not in present))

    # building a book's plan is thousands of short calls into the JVM, each mostly waiting
    # for its answer: four threads overlap the waits
    with ThreadPoolExecutor(max_workers=4) as pool:
        parts = list(pool.map(tagged, range(len(books)), books))
    union = parts[0]
    for part in parts[1:]:
        union = union.unionByName(part)
    collected = pl.from_arrow(union.toArrow())
    assert isinstance(collected, pl.DataFrame)
    return [collected.filter(pl.col("book") == number).drop("book")
            for number in range(len(books))]


def _disagreements(spark: SparkSession, books: list[vw.RuleBook],
                   frame: pl.DataFrame) -> list[str]:
    found = []
    candidates = [answers for start in range(0, len(books), BATCH)
                  for answers in _judge_together(spark, books[start:start + BATCH], frame)]
    for book, candidate in zip(books, candidates, strict=True):
        reference = book.judge_many(frame)
        candidate = candidate.select(ROW, *(c for c in ANSWERS if c in reference.columns))
        problems = mismatches(reference, candidate, key=ROW, limit=3)
        found += [f"{book.to_yaml()}\n{p}" for p in problems]
    return found


class TestAgreement:
    # no shrinking: each example is a Spark job, and a failure prints its rule file anyway
    @settings(max_examples=10, deadline=None, database=None, phases=[Phase.generate],
              derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data(), files=st.lists(rule_files(portfolio=True), min_size=30,
                                          max_size=30))
    def test_generated_rule_files_agree(self, spark: SparkSession, data: st.DataObject,
                                        files: list[dict[str, Any]]) -> None:
        """300 generated rule files (10 × 30, ten to a Spark job) on boundary-heavy
        dirty portfolios: identical tiers, rules, reason texts and computed tiers."""
        frame = _indexed(data.draw(portfolios(list(ALL_TIERS), rows=40)))
        books = [vw.load_rules(f, kind="tiers") for f in files]
        assert _disagreements(spark, books, frame) == []

    def test_every_preset_on_a_dirty_portfolio(self, spark: SparkSession) -> None:
        """Every tier preset on the sample made dirty (boundary values, NaN, ±inf, nulls,
        unknown categories, overrides) gives what polars gives, reasons included."""
        books = [vw.preset(name, kind="tiers") for name in vw.presets("tiers")]
        sample = load_sample_portfolio()
        for book in books:
            frame = _indexed(dirty_portfolio(book, sample))
            assert _disagreements(spark, [book], frame) == [], book.name

    def test_the_spark_sql_text_gives_the_same_answers(self, spark: SparkSession) -> None:
        """``book.sql(table, dialect="spark")`` — the text a Hive or Spark SQL job runs —
        run by ``spark.sql`` gives polars' answers: every preset on its dirty portfolio,
        reasons included, and 20 generated rule files on boundary-heavy portfolios."""
        run = spark_sql_runner(spark)
        for name in vw.presets("tiers"):
            book = vw.preset(name, kind="tiers")
            frame = dirty_portfolio(book, load_sample_portfolio()).with_row_index(
                "row_no").with_columns(pl.col("row_no").cast(pl.Int64))
            frame = frame.select([c for c, t in frame.schema.items()
                                  if not isinstance(t, pl.List)])
            compare(book, frame, run(book, frame))
        assert_backend_agrees(run, examples=20, lists=False, shrink=False)

    def test_a_planted_mutation_is_found(self, spark: SparkSession,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
        """With one closed bound flipped to open in the Spark lowering, the same comparison
        reports rows that differ: the suite can fail."""
        book = vw.preset("hubei-2006", kind="tiers")
        frame = _indexed(dirty_portfolio(book, load_sample_portfolio()))
        assert _disagreements(spark, [book], frame) == []
        interval = _spark._Compiler.interval

        def flipped(value: Any, bound: Interval) -> Any:
            return interval(value, attrs.evolve(bound, low_closed=False))

        monkeypatch.setattr(_spark._Compiler, "interval", staticmethod(flipped))
        assert _disagreements(spark, [book], frame) != []


class TestLazyAndScalable:
    def test_the_answer_is_a_lazy_spark_dataframe(self, spark: SparkSession) -> None:
        """judge_many of a Spark DataFrame returns a Spark DataFrame with the input's columns
        and the answers, chosen through the back-end registry."""
        from pyspark.sql import DataFrame

        book = vw.preset("hubei-2006", kind="tiers")
        source = _to_spark(spark, load_sample_portfolio().head(20))
        assert backend_for(source) is backend("spark")
        out: DataFrame = book.judge_many(source)
        assert isinstance(out, DataFrame)
        assert out.columns == [*source.columns, "tier", "rule", "reason"]

    def test_a_quota_has_no_single_partition_stage(self, spark: SparkSession) -> None:
        """A quota ranks with counts per key and bucketed running sums: the physical plan
        has no single-partition exchange or window, and the cut counts equal polars'."""
        book = vw.preset("hubei-abc", kind="tiers")
        sample = load_sample_portfolio()
        out = book.judge_many(_to_spark(spark, sample))
        plan = out._jdf.queryExecution().executedPlan().toString()
        assert "SinglePartition" not in plan
        assert "Window" in plan  # the running sums are windows, partitioned by bucket
        counts = pl.from_arrow(out.groupBy("tier").count().toArrow())
        assert isinstance(counts, pl.DataFrame)
        expected = book.judge_many(sample).group_by(pl.col("tier").cast(pl.String)).len()
        assert dict(counts.iter_rows()) == dict(expected.iter_rows())

    def test_ranks_are_exact_across_buckets(self, spark: SparkSession) -> None:
        """Keys spread over many octaves, signs, ties and ±0 rank as polars ranks them."""
        values = [0.0, -0.0, 1e-300, -1e-300, 5e-324, 1.0, 1.0, 1.0000000000000002, 3.0,
                  1e300, -1e300, 2.0**60, -(2.0**60), 7.5, 7.5, -7.5, 1234.5678, 1e-9, None]
        frame = _indexed(pl.DataFrame({"score": values * 3}))
        files = [{"name": "q", "tiers": ["A", "B", "C", "D"],
                  "scheme": {"type": "quota", "by": "score", "order": order,
                             "quotas": [{"tier": "A", "share": share},
                                        {"tier": "B", "share": 0.25}, {"tier": "C",
                                                                       "share": 0.25},
                                        {"tier": "D"}]}}
                 for order in ("descending", "ascending") for share in (0.05, 0.1, 0.3)]
        books = [vw.load_rules(f, kind="tiers") for f in files]
        assert _disagreements(spark, books, frame) == []

    def test_numbers_in_reasons_print_as_polars_prints_them(self, spark: SparkSession) -> None:
        """An undeclared number shows in the reason as polars shows it."""
        values = [0.5, 7.999, 1e-5, 1.5e-5, 1e-6, 2.5e-7, 1.5e20, 12345678.5, 1e15, 1e16,
                  -3.25, 17500.0, 0.30000000000000004, 123456789012.25, -1e-7]
        book = vw.load_rules({"name": "n", "tiers": ["A", "B"], "scheme": {
            "type": "chain", "default": "B", "factors": [{
                "id": "f", "field": "x", "values": [1.0], "unknown": "reject",
                "bands": [{"in": [1.0], "tier": "A"}]}]}}, kind="tiers")
        frame = _indexed(pl.DataFrame({"x": values}))
        assert _disagreements(spark, [book], frame) == []
