"""The monthly cycle with its data in the warehouse: Spark judges, compares, scans and checks;
the library keeps the work.

``Workspace.run_cycle(period, data="db.groups", history="db.snapshots", engine="spark")``
runs the same steps as the polars cycle (``workspace.py``), split where the data lives:

* in Spark, lazily: the portfolio judged by the tier rules in force, the comparison with the
  previous period's tiers (read from the tier history table, one partition), the trigger scan
  over the lookback + 1 monthly partitions of the history only, the KPIs;
* collected into the library: only the tier changes, the overrides to review, the period's
  signals, the KPI rows and the account managers of the signalled customers — what the
  workflow store keeps and what planning tasks, opening cases and notices need;
* written back: the period's tiers as one partition (``period=YYYY-MM``) of the tier history
  table, replaced whole on a re-run (dynamic partition overwrite), so a period runs again as
  idempotently as the polars cycle does.

The tier history table is a Hive table (any catalog the session has: Spark's built-in
metastore, a Hive metastore, Unity …) with the columns ``customer, tier, rule,
computed_tier, book, book_version, period``. The workflow store gets the changed customers'
tier rows for the period (the full tier history is the warehouse table).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

import attrs
import polars as pl

from vip_workflow.cycle.checks import check_columns
from vip_workflow.errors import ConfigError, CustomerIdError, MissingExtraError
from vip_workflow.rules.versions import period_start

if TYPE_CHECKING:
    from vip_workflow.cycle.workspace import Workspace
    from vip_workflow.rules.tiers.book import RuleBook

__all__ = ["TIER_COLUMNS", "WarehouseCycleResult", "run_warehouse_cycle"]

#: The tier history table's columns (``period`` is its partition column, last).
TIER_COLUMNS = ("customer", "tier", "rule", "computed_tier", "book", "book_version", "period")
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")


@attrs.frozen
class WarehouseCycleResult:
    """What a cycle in the warehouse did. ``judged`` stays a lazy Spark DataFrame (cached
    for the run, released at its end: reading it again recomputes it); everything else is
    small and collected."""

    period: str
    book: str
    book_version: str
    judged: Any
    tier_counts: pl.DataFrame  # tier (null: could not judge), customers
    changes: pl.DataFrame
    reviews: tuple[str, ...]
    signals: pl.DataFrame | None
    kpis: pl.DataFrame | None
    tasks: pl.DataFrame | None
    tiers_table: str
    previous_period: str | None
    history_months: tuple[str, ...]  # the months of history the trigger scan read
    timings: dict[str, float] = attrs.field(factory=dict, eq=False)
    warnings: tuple[str, ...] = ()

    @property
    def customers(self) -> int:
        return int(self.tier_counts.get_column("customers").sum())

    def __repr__(self) -> str:
        signals = "" if self.signals is None else f", {self.signals.height:,} signals"
        return (f"<WarehouseCycleResult {self.period}: {self.customers:,} customers judged by "
                f"{self.book} v{self.book_version} in Spark, {self.changes.height:,} tier "
                f"changes{signals}; tiers in {self.tiers_table}>")


def _spark_functions() -> Any:
    try:
        from pyspark.sql import functions
    except ImportError as exc:  # pragma: no cover - the spark extra is installed in tests
        raise MissingExtraError("the cycle in the warehouse", "pyspark", "spark") from exc
    return functions


def _session(data: Any, history: Any) -> Any:
    for given in (data, history):
        session = getattr(given, "sparkSession", None)
        if session is not None:
            return session
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is None:
        raise ConfigError("engine='spark' with table names needs an active SparkSession "
                          "(or pass Spark DataFrames)")
    return session


def _table(spark: Any, given: Any, what: str) -> Any:
    if isinstance(given, str):
        if not _TABLE_NAME.match(given):
            raise ConfigError(f"{what} {given!r} is not a table name (db.table)")
        return spark.table(given)
    if type(given).__module__.startswith("pyspark"):
        return given
    raise ConfigError(f"engine='spark' takes the {what} as a table name or a Spark DataFrame, "
                      f"not {type(given).__name__}")


def _collect(frame: Any) -> pl.DataFrame:
    """A small Spark result as a polars frame (through Arrow)."""
    collected = pl.from_arrow(frame.toArrow())
    assert isinstance(collected, pl.DataFrame)
    return collected


def _check_ids(frame: Any, key: str) -> None:
    """Ids present and unique, as the polars cycle requires (Spark rows have no positions:
    the error names the ids and how many rows)."""
    F = _spark_functions()
    column = F.col(key)
    blank = column.isNull() | (F.trim(column.cast("string")) == "")
    empty = frame.where(blank).count()
    if empty:
        raise CustomerIdError("empty customer id", source="portfolio", column=key, rows=[],
                              ids=[None], count=empty)
    repeated = frame.groupBy(key).count().where(F.col("count") > 1)
    found = repeated.limit(CustomerIdError.LIMIT).collect()
    if found:
        raise CustomerIdError("customer id on more than one row", source="portfolio",
                              column=key, rows=[], ids=[row[0] for row in found],
                              count=repeated.count())


def _months_before(period: str, months: int) -> date:
    day = period_start(period)
    year, month = divmod(day.month - 1 - months, 12)
    return date(day.year + year, month + 1, 1)


def _stored_periods(spark: Any, table: str) -> list[str]:
    if not spark.catalog.tableExists(table):
        return []
    rows = spark.sql(f"SHOW PARTITIONS {table}").collect()
    return sorted(str(row[0]).split("=", 1)[1] for row in rows)


def _write_tiers(spark: Any, tiers: Any, table: str) -> None:
    """The period's partition of the tier history, replaced whole (dynamic overwrite)."""
    ordered = tiers.select(*TIER_COLUMNS)
    if not spark.catalog.tableExists(table):
        ordered.write.format("parquet").partitionBy("period").saveAsTable(table)
        return
    key = "spark.sql.sources.partitionOverwriteMode"
    before = spark.conf.get(key, "static")
    spark.conf.set(key, "dynamic")
    try:
        ordered.write.insertInto(table, overwrite=True)
    finally:
        spark.conf.set(key, before)


def run_warehouse_cycle(workspace: Workspace, period: str, data: Any, *, history: Any = None,
                        kpi_data: Any = None, tiers_table: str | None = None
                        ) -> WarehouseCycleResult:
    """Run ``period`` with the portfolio ``data`` and the monthly ``history`` in Spark (table
    names or Spark DataFrames); see the module's docstring for what runs where."""
    F = _spark_functions()
    period = f"{period_start(period):%Y-%m}"
    spark = _session(data, history)
    table = tiers_table or workspace.config.tier_history_table
    if not _TABLE_NAME.match(table):
        raise ConfigError(f"tier history table {table!r} is not a table name (db.table)")
    frame = _table(spark, data, "portfolio")
    book = workspace.tier_book(period)
    key = workspace.config.id_field
    if key not in frame.columns:
        raise ConfigError(f"the data has no {key!r} column to identify customers")
    check_columns(book, frame.columns)
    workspace.store.record_run(period, "started", {"engine": "spark", "tiers_table": table})
    try:
        result = _run(workspace, spark, F, period, book, frame, history, kpi_data, table)
    except Exception as exc:
        workspace.store.record_run(period, "failed", {"error": repr(exc)})
        raise
    workspace.store.record_run(period, "finished", {
        "engine": "spark", "tiers_table": table, "customers": result.customers,
        "changes": result.changes.height, "reviews": len(result.reviews),
    })
    return result


def _run(ws: Workspace, spark: Any, F: Any, period: str, book: RuleBook, frame: Any,
         history: Any, kpi_data: Any, table: str) -> WarehouseCycleResult:
    timings: dict[str, float] = {}

    def timed(phase: str, step: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        value = step()
        timings[phase] = timings.get(phase, 0.0) + time.perf_counter() - started
        return value

    key = ws.config.id_field
    timed("check ids", lambda: _check_ids(frame, key))
    judged = book.judge_many(frame).persist()
    try:
        return _steps(ws, spark, F, period, book, frame, judged, history, kpi_data, table,
                      timed, timings)
    finally:
        judged.unpersist()


def _steps(ws: Workspace, spark: Any, F: Any, period: str, book: RuleBook, frame: Any,
           judged: Any, history: Any, kpi_data: Any, table: str,
           timed: Callable[[str, Callable[[], Any]], Any],
           timings: dict[str, float]) -> WarehouseCycleResult:
    key = ws.config.id_field
    computed = F.col("computed_tier") if "computed_tier" in judged.columns else F.col("tier")
    tiers = judged.select(
        F.col(key).cast("string").alias("customer"), F.col("tier").cast("string"),
        F.col("rule").cast("string"), computed.cast("string").alias("computed_tier"),
        F.lit(book.name).alias("book"), F.lit(book.version).alias("book_version"),
        F.lit(period).alias("period"))
    counts = timed("judge tiers", lambda: _collect(
        tiers.groupBy("tier").agg(F.count(F.lit(1)).alias("customers")).orderBy("tier")))
    earlier = [p for p in timed("list stored periods", lambda: _stored_periods(spark, table))
               if p < period]
    previous_period = earlier[-1] if earlier else None
    previous = (spark.table(table).where(F.col("period") == previous_period)
                if previous_period else None)
    changes, previous_small = timed("compare", lambda: _changes(
        ws, F, book, tiers, previous, frame))
    reviews_input = timed("collect overrides", lambda: _overrides(F, judged, key))
    signals, months = timed("scan triggers", lambda: _signals(ws, spark, F, period, history))
    warnings: list[str] = []
    kpis = timed("check KPIs", lambda: _kpis(ws, spark, F, period, judged, kpi_data, warnings))
    staff = timed("collect managers", lambda: _staff(F, frame, key, signals))
    work = timed("plan tasks and cases", lambda: ws._plan_work(period, signals, None,
                                                               staff=staff))
    # -- the warehouse first: a re-run replaces the partition, so a failure after it is
    # mended by running the period again; then the store, as the polars cycle commits it
    timed("write the tier history", lambda: _write_tiers(spark, tiers, table))
    changed_rows = timed("collect changed tiers", lambda: _changed_tiers(F, tiers, changes))
    holding = (ws.engine.deferred_dispatch() if ws.config.reviews or work is not None
               else contextlib.nullcontext())
    with holding:
        timed("store the period (one transaction)",
              lambda: ws._commit_period(period, changed_rows, signals, work))
        reviews = timed("open reviews", lambda: ws._open_reviews(
            period, reviews_input, changes, previous_small) if ws.config.reviews else ())
    timed("dispatch notices", lambda: ws._dispatch(work))
    return WarehouseCycleResult(
        period, book.name, book.version, judged, counts, changes, reviews, signals, kpis,
        None if work is None else work.report, table, previous_period, months, timings,
        tuple(warnings))


def _changes(ws: Workspace, F: Any, book: RuleBook, tiers: Any, previous: Any,
             frame: Any) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """The tier changes, computed on the changed customers only (collected): the rows the
    polars comparison would give, by the same code."""
    if previous is None:
        return ws._changes(pl.DataFrame(), None, book, pl.DataFrame()), None
    before = previous.select("customer", F.col("tier").alias("previous_tier"),
                             F.col("rule").alias("previous_rule"))
    joined = tiers.select("customer", "tier", "rule").join(before, "customer", "full_outer")
    moved = joined.where(~F.col("tier").eqNullSafe(F.col("previous_tier")))
    spec = ws.config.important
    wanted = [F.col(ws.config.id_field).cast("string").alias("customer")]
    if spec.field in frame.columns:
        wanted.append(F.col(spec.field))
    portfolio = frame.select(*wanted)
    small = _collect(moved.join(portfolio, "customer", "left"))
    now = small.filter(pl.col("tier").is_not_null() | pl.col("rule").is_not_null()).select(
        "customer", "tier", "rule")
    was = small.filter(pl.col("previous_tier").is_not_null()
                       | pl.col("previous_rule").is_not_null()).select(
        "customer", pl.col("previous_tier").alias("tier"), pl.col("previous_rule").alias("rule"))
    people = small.select(pl.col("customer").alias(ws.config.id_field),
                          *([spec.field] if spec.field in small.columns else []))
    changes = ws._changes(now, was, book, people).sort("customer")
    # the previous period's overrides (for "the same override as last period")
    overrides = _collect(previous.where(F.col("rule") == "override").select("customer", "tier",
                                                                            "rule"))
    return changes, overrides


def _overrides(F: Any, judged: Any, key: str) -> pl.DataFrame:
    """The judged rows a review may open for: manual overrides (the others are not read)."""
    if "computed_tier" not in judged.columns:
        return pl.DataFrame({key: [], "tier": [], "rule": []},
                            schema={key: pl.String, "tier": pl.String, "rule": pl.String})
    return _collect(judged.where(F.col("rule") == "override"))


def _signals(ws: Workspace, spark: Any, F: Any, period: str,
             history: Any) -> tuple[pl.DataFrame | None, tuple[str, ...]]:
    triggers = ws.trigger_book(period) if history is not None else None
    if triggers is None:
        return None, ()
    months = _table(spark, history, "history")
    first = _months_before(period, triggers.lookback + 1)
    last = period_start(period)
    if "period" not in months.columns:
        raise ConfigError("the history has no 'period' column (the month of each row)")
    kind = dict(months.dtypes)["period"]
    bounds = (F.lit(first), F.lit(last)) if kind == "date" else (
        F.lit(f"{first:%Y-%m-%d}"), F.lit(f"{last:%Y-%m-%d}"))
    window = months.where(F.col("period").between(*bounds))
    read = tuple(f"{m.year:04d}-{m.month:02d}" for m in _month_range(first, last))
    scanned = triggers.scan(window)
    current = scanned.where(F.substring(F.col("period").cast("string"), 1, 7) == period)
    return _collect(current), read


def _month_range(first: date, last: date) -> list[date]:
    out, day = [], first
    while day <= last:
        out.append(day)
        year, month = divmod(day.month, 12)
        day = date(day.year + year, month + 1, 1)
    return out


def _kpis(ws: Workspace, spark: Any, F: Any, period: str, judged: Any, kpi_data: Any,
          warnings: list[str]) -> pl.DataFrame | None:
    book = ws.kpi_book(period)
    if book is None:
        return None
    if kpi_data is not None:
        return _collect(book.check(_table(spark, kpi_data, "KPI data")))
    missing = book.missing_columns(judged.columns)
    for kpi, columns in missing.items():
        warnings.append(f"KPI {kpi} not checked: the portfolio has no "
                        f"{', '.join(columns)} (pass kpi_data)")
    usable = [k for k in book.ids() if k not in missing]
    return _collect(book.check(judged, kpis=usable))


def _staff(F: Any, frame: Any, key: str, signals: pl.DataFrame | None
           ) -> tuple[pl.DataFrame | None, list[str]]:
    """The signalled customers' account managers and every manager of the portfolio (the
    pool the least-loaded fallback picks from), collected."""
    if signals is None or "account_manager" not in frame.columns:
        return None, []
    pool = sorted(str(row[0]) for row in frame.select("account_manager").where(
        F.col("account_manager").isNotNull()).distinct().collect())
    wanted = frame.select(F.col(key).cast("string").alias("customer_id"),
                          F.col("account_manager").cast("string"))
    ids = signals.select(pl.col("customer_id").cast(pl.String)).unique()
    return _collect(_only(wanted, "customer_id", ids)), pool


def _only(frame: Any, column: str, ids: pl.DataFrame) -> Any:
    """The rows of ``frame`` whose ``column`` is one of ``ids`` (a one-column polars frame
    of that name), by a broadcast join rather than a literal IN list."""
    F = _spark_functions()
    if ids.height == 0:
        return frame.limit(0)
    keys = frame.sparkSession.createDataFrame(ids.to_arrow())
    return frame.join(F.broadcast(keys), column, "left_semi")


def _changed_tiers(F: Any, tiers: Any, changes: pl.DataFrame) -> pl.DataFrame:
    """The period's tier rows of the changed customers (what the workflow store keeps)."""
    columns = ["customer", "tier", "rule", "computed_tier", "book", "book_version"]
    if not changes.height:
        return pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
    ids = changes.select("customer").drop_nulls()
    return _collect(_only(tiers, "customer", ids).select(*columns))
