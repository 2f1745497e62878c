"""The cycle with its data in the warehouse (``engine="spark"``) gives the polars cycle's
tier changes, reviews, signals, tasks and cases; it writes the tier history as a Hive table
partitioned by period, re-runs a period idempotently and reads only the months it needs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest

import vip_workflow as vw
from vip_workflow.errors import ConfigError, CustomerIdError, MissingColumnsError
from vip_workflow.samples import load_sample_portfolio, monthly_portfolios
from vip_workflow.testing.frames import same_rows

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas")]

CONFIG = """\
name: warehouse test
storage: sqlite:///vip.db
tiers: {preset: hubei-2006}
important: {field: importance, values: [county_government]}
reports: out
"""


def _workspace(folder: Path, text: str = CONFIG) -> vw.Workspace:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vip.yaml").write_text(text, encoding="utf-8")
    return vw.Workspace.from_file(folder / "vip.yaml")


def _spark_frame(spark: SparkSession, frame: pl.DataFrame) -> DataFrame:
    return spark.createDataFrame(frame.with_columns(pl.col(pl.Enum).cast(pl.String)).to_arrow())


@pytest.fixture(scope="module")
def months() -> dict[str, pl.DataFrame]:
    return monthly_portfolios(load_sample_portfolio().head(600), start="2026-09", months=3,
                              seed=5)


def _table_name(request: pytest.FixtureRequest) -> str:
    return "t_" + request.node.name.replace("[", "_").replace("]", "").replace("-", "_")[:50]


def _sorted(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.sort(frame.columns).to_dicts()


class TestTiersInTheWarehouse:
    def test_changes_match_the_polars_cycle_and_history_is_partitioned(
        self, spark: SparkSession, tmp_path: Path, months: dict[str, pl.DataFrame],
        request: pytest.FixtureRequest,
    ) -> None:
        """Three months: each month's tier changes and reviews equal the polars cycle's; the
        Hive table holds one partition per period with every customer's tier."""
        table = _table_name(request)
        here, there = _workspace(tmp_path / "polars"), _workspace(tmp_path / "spark")
        for period, data in months.items():
            expected = here.run_cycle(period, data)
            got = there.run_cycle(period, _spark_frame(spark, data), engine="spark",
                                  tiers_table=table)
            assert _sorted(got.changes) == _sorted(expected.changes), period
            assert sorted(got.reviews) == sorted(expected.reviews), period
            counts = dict(expected.judged.get_column("tier").cast(pl.String)
                          .value_counts().iter_rows())
            assert dict(got.tier_counts.iter_rows()) == counts
        assert got.previous_period == "2026-10"
        assert got.changes.height > 0  # the months differ: the comparison was exercised
        partitions = [r[0] for r in spark.sql(f"SHOW PARTITIONS {table}").collect()]
        assert partitions == [f"period={p}" for p in months]
        last = spark.table(table).where("period = '2026-11'").select("customer", "tier")
        stored = pl.from_arrow(last.toArrow())
        assert isinstance(stored, pl.DataFrame)
        reference = expected.judged.select(pl.col("customer_id").alias("customer"),
                                           pl.col("tier").cast(pl.String))
        assert _sorted(stored) == _sorted(reference)
        # the workflow store keeps the changed customers' rows of the period
        kept = there.store.tiers("2026-11")
        assert set(kept.get_column("customer")) == set(got.changes.get_column("customer"))

    def test_a_rerun_replaces_the_partition_and_changes_nothing_else(
        self, spark: SparkSession, tmp_path: Path, months: dict[str, pl.DataFrame],
        request: pytest.FixtureRequest,
    ) -> None:
        table = _table_name(request)
        workspace = _workspace(tmp_path)
        (first, a), (second, b) = list(months.items())[:2]
        workspace.run_cycle(first, _spark_frame(spark, a), engine="spark", tiers_table=table)
        once = workspace.run_cycle(second, _spark_frame(spark, b), engine="spark",
                                   tiers_table=table)
        twice = workspace.run_cycle(second, _spark_frame(spark, b), engine="spark",
                                    tiers_table=table)
        assert _sorted(once.changes) == _sorted(twice.changes)
        assert once.reviews == twice.reviews
        rows = spark.table(table).groupBy("period").count().orderBy("period").collect()
        assert [(r[0], r[1]) for r in rows] == [(first, a.height), (second, b.height)]

    def test_table_names_are_read_from_the_catalog(
        self, spark: SparkSession, tmp_path: Path, months: dict[str, pl.DataFrame],
        request: pytest.FixtureRequest,
    ) -> None:
        period, data = next(iter(months.items()))
        source = _table_name(request) + "_groups"
        _spark_frame(spark, data).write.mode("overwrite").saveAsTable(source)
        result = _workspace(tmp_path).run_cycle(period, source, engine="spark",
                                                tiers_table=_table_name(request))
        assert result.customers == data.height
        assert result.previous_period is None and result.changes.height == 0


class TestBadInput:
    def test_a_repeated_id_is_refused_before_anything_is_written(
        self, spark: SparkSession, tmp_path: Path, months: dict[str, pl.DataFrame],
        request: pytest.FixtureRequest,
    ) -> None:
        period, data = next(iter(months.items()))
        doubled = pl.concat([data, data.head(2)])
        table = _table_name(request)
        with pytest.raises(CustomerIdError, match="more than one row"):
            _workspace(tmp_path).run_cycle(period, _spark_frame(spark, doubled),
                                           engine="spark", tiers_table=table)
        assert not spark.catalog.tableExists(table)

    def test_a_missing_column_and_a_bad_table_name_are_named(
        self, spark: SparkSession, tmp_path: Path, months: dict[str, pl.DataFrame],
    ) -> None:
        period, data = next(iter(months.items()))
        workspace = _workspace(tmp_path)
        with pytest.raises(MissingColumnsError, match="revenue"):
            workspace.run_cycle(period, _spark_frame(spark, data.drop("revenue")),
                                engine="spark")
        with pytest.raises(ConfigError, match="not a table name"):
            workspace.run_cycle(period, "groups; DROP TABLE x", engine="spark")
        with pytest.raises(ConfigError, match="unknown cycle engine"):
            workspace.run_cycle(period, data, engine="flink")  # type: ignore[call-overload]


TRIGGERS = """\
name: warehouse test
storage: sqlite:///vip.db
tiers: {preset: hubei-2006}
triggers: {preset: seed-001-triggers}
kpis: {preset: china-mobile-2006-kpis}
reports: out
"""


class TestSignalsInTheWarehouse:
    def test_signals_tasks_cases_and_kpis_match_the_polars_cycle(
        self, spark: SparkSession, tmp_path: Path, request: pytest.FixtureRequest,
    ) -> None:
        """Two months of a portfolio with a 24-month history, partitioned by month in a Hive
        table: the Spark cycle gives the polars cycle's signals, tasks, cases and KPI rows, and
        its scan reads only the lookback + 1 monthly partitions."""
        from vip_workflow.samples import sample_history, sample_kpi_portfolio

        portfolio = load_sample_portfolio().head(300)
        history = sample_history(months=24, start="2024-11", seed=3, portfolio=portfolio,
                                 portfolio_month="2026-09")
        months = monthly_portfolios(portfolio, start="2026-09", months=2, history=history)
        kpi_data = sample_kpi_portfolio(seed=3, portfolio=portfolio)
        table = _table_name(request)
        _spark_frame(spark, history).write.partitionBy("period").saveAsTable(table + "_hist")
        here, there = _workspace(tmp_path / "polars", TRIGGERS), _workspace(tmp_path / "spark",
                                                                             TRIGGERS)
        for period, data in months.items():
            expected = here.run_cycle(period, data, history=history, kpi_data=kpi_data)
            got = there.run_cycle(period, _spark_frame(spark, data), history=table + "_hist",
                                  kpi_data=_spark_frame(spark, kpi_data), engine="spark",
                                  tiers_table=table)
            assert same_rows(expected.signals, got.signals), period
            assert same_rows(expected.tasks, got.tasks), period
            assert same_rows(expected.kpis, got.kpis, rel=1e-12), period
            assert _sorted(got.changes) == _sorted(expected.changes), period
        assert expected.signals is not None and expected.signals.height > 0
        assert expected.tasks is not None and expected.tasks.height > 0
        lookback = there.trigger_book("2026-10").lookback  # type: ignore[union-attr]
        assert len(got.history_months) == lookback + 2  # first … the period itself
        assert got.history_months[-1] == "2026-10"
        # the scan's input reads those partitions' files and no others
        first = got.history_months[0] + "-01"
        window = spark.table(table + "_hist").where(
            f"period BETWEEN DATE'{first}' AND DATE'2026-10-01'")
        read = {f.split("period=")[1][:7] for f in window.inputFiles()}
        assert read == set(got.history_months)
        cases = sorted(there.engine.store.find(definition="retention_case"))
        assert cases and cases == sorted(here.engine.store.find(definition="retention_case"))
