"""The monthly evaluation cycle: the job a key-account department runs every period.

``Workspace.run_cycle(period, data)``:

1. judges every customer with the tier rules in force for the period (trigger and KPI rules
   too are the versions in force for the period, so a past period replays as of its rules);
2. compares with the previous period's tiers and keeps the tier history;
3. opens a tier-review approval for every downgrade of an important account and every manual
   override (one per customer and period, however often the period is re-run);
4. scans the triggers into signals, tasks and retention cases, and checks the KPIs (when the
   workspace has trigger and KPI rule files);
5. writes the results (CSV and Parquet) and an HTML report.

Everything is computed, and the outputs rendered into a staging folder, before anything is
written: a failure up to there leaves no trace. The writes that follow are each atomic (a
period's tier history in one transaction, each process start, the output folder renamed into
place) and idempotent (processes and tasks have ids made of the period and the customer), so
re-running a period gives the same result and a run that failed can simply be run again.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import attrs
import polars as pl
from pydantic import Field

from vip_workflow.cycle.checks import check_portfolio
from vip_workflow.cycle.history import TASK_COLUMNS, CycleStore, open_cycle_store
from vip_workflow.cycle.staging import remove_stale, stage, unmark
from vip_workflow.errors import ConfigError, ConflictError
from vip_workflow.reporting.report import write_report
from vip_workflow.rules.files.document import read_document, validate_document
from vip_workflow.rules.files.model import FileModel
from vip_workflow.rules.tiers.book import RuleBook, preset
from vip_workflow.rules.triggers.snapshots import check_customer_ids
from vip_workflow.rules.versions import RuleVersions, period_start

if TYPE_CHECKING:
    from vip_workflow.cycle.warehouse import WarehouseCycleResult
    from vip_workflow.rules.kpis.book import KpiBook
    from vip_workflow.rules.triggers import TriggerBook

__all__ = ["STAGES", "CycleResult", "Progress", "Workspace", "WorkspaceConfig"]

_log = logging.getLogger(__name__)

#: A run's stages, in order: ``run_cycle(progress=…)`` is told each as it begins.
STAGES: tuple[str, ...] = (
    "judge tiers", "load previous tiers", "compare", "scan triggers", "check KPIs",
    "plan tasks and cases", "write outputs and report", "store the period (one transaction)",
    "open reviews", "dispatch notices", "publish outputs",
)

#: ``progress(stage, done, total)``: ``done`` of ``total`` stages are over and ``stage`` begins
#: (``"finished"`` with ``done == total`` at the end). It runs on the cycle's thread; what it
#: raises fails the run before anything of the stage is done.
Progress = Callable[[str, int, int], None]


@attrs.frozen
class _Work:
    """The tasks and retention cases a cycle's signals become, before they are written."""

    created: pl.DataFrame  # new tasks (TASK_COLUMNS)
    cases: dict[str, dict[str, Any]]  # retention case id -> context, to start
    report: pl.DataFrame  # every task of the period, earlier runs' included
    joins: list[tuple[str, str, str]]  # (open case id, task id, trigger) of tasks joining
    period: str


_Config = FileModel  # vip.yaml is a data file: the one strict base, the one reader


class RuleSource(_Config):
    """Where rules come from: a bundled preset, or rule files / folders of versions (the one
    in force for a period is the latest ``effective`` on or before its first day)."""

    preset: str | None = None
    files: list[str] | None = None


class ImportantAccounts(_Config):
    """Which customers are important: a downgrade of one opens a tier review."""

    field: str = "importance"
    values: list[str] = Field(default_factory=lambda: [
        "provincial_gov", "municipal_gov", "county_gov", "township_gov"])


class WorkspaceConfig(_Config):
    """The contents of ``vip.yaml``."""

    name: str = "vip-workspace"
    storage: str = Field(default="sqlite:///vip.db",
                         description="memory://, sqlite:///file.db or postgresql+psycopg://…")
    tiers: RuleSource
    triggers: RuleSource | None = None
    kpis: RuleSource | None = None
    id_field: str = "customer_id"
    value_field: str = Field(default="revenue", description="Value for the Pareto chart.")
    reference_shares: dict[str, float] | None = Field(
        default=None, description="Expected share of each tier, drawn beside the actual "
        "(default: the shares of a quota rule book, such as hubei-abc).")
    important: ImportantAccounts = Field(default_factory=ImportantAccounts)
    reviews: bool = Field(default=True, description="Open tier reviews for important "
                          "downgrades and manual overrides.")
    reports: str = "reports"
    tier_history_table: str = Field(default="vip_tier_history", description=(
        "The warehouse table (db.table) the cycle in Spark keeps the tier history in, "
        "partitioned by period (run_cycle(..., engine='spark'))."))
    report_language: Literal["zh_CN", "en"] = Field(
        default="zh_CN", description="Language of each period's report.html: zh_CN "
        "(Simplified Chinese) or en.")
    processes: list[str] = Field(default_factory=list, description="Extra process files.")
    notifiers: list[str | dict[str, Any]] = Field(default_factory=list, description=(
        "Where notices go: notifier URLs (log://, https://…, smtp://…, amqp://…, nats://…) "
        "or notifier settings; none: the engine keeps them in memory."))
    server: dict[str, Any] | None = Field(default=None, description=(
        "Settings of the HTTP service, vip-workflow serve (see docs/service.md)."))


@attrs.frozen
class CycleResult:
    """What one cycle did."""

    period: str
    book: str
    book_version: str
    judged: pl.DataFrame
    changes: pl.DataFrame
    reviews: tuple[str, ...]
    signals: pl.DataFrame | None
    kpis: pl.DataFrame | None
    tasks: pl.DataFrame | None
    outputs: Path
    report: Path
    timings: dict[str, float] = attrs.field(factory=dict, eq=False)
    notices_sent: int = 0
    warnings: tuple[str, ...] = ()
    trigger_book: str | None = None  # the trigger rules in force (None: no triggers ran)
    trigger_version: str | None = None
    kpi_book: str | None = None  # the KPI rules in force (None: no KPIs checked)
    kpi_version: str | None = None

    @property
    def rules(self) -> dict[str, str]:
        """The rule versions the cycle used: ``{"tiers": "hubei-2006 v1", "triggers": …,
        "kpis": …}`` (triggers and kpis only when they ran)."""
        used = {"tiers": f"{self.book} v{self.book_version}"}
        if self.trigger_book:
            used["triggers"] = f"{self.trigger_book} v{self.trigger_version}"
        if self.kpi_book:
            used["kpis"] = f"{self.kpi_book} v{self.kpi_version}"
        return used

    def __repr__(self) -> str:
        signals = "" if self.signals is None else f", {self.signals.height:,} signals"
        return (f"<CycleResult {self.period}: {self.judged.height:,} customers judged by "
                f"{self.book} v{self.book_version}, {self.changes.height:,} tier changes"
                f"{signals}; report {self.report}>")

    def _repr_html_(self) -> str:
        """The summary and small counts, never the whole frames (they stay attributes)."""
        from vip_workflow import _html

        tiers = self.judged.get_column("tier").cast(pl.String).value_counts(sort=True)
        parts = [f"<pre>{_html.esc(self.summary(), 20_000)}</pre>",
                 "<p><strong>customers per tier</strong></p>",
                 _html.table(("tier", "customers"), tiers.head(30).iter_rows(),
                             total=tiers.height, what="tiers")]
        if self.changes.height:
            shown = self.changes.head(10)
            parts += ["<p><strong>tier changes (first 10)</strong></p>",
                      _html.table(shown.columns, shown.iter_rows(), total=self.changes.height,
                                  what="changes")]
        return _html.frame(f"cycle {self.period}", *parts,
                           note=", ".join(f"{k}: {v}" for k, v in self.rules.items()))

    def summary(self) -> str:
        counts = dict(self.judged.get_column("tier").cast(pl.String).value_counts().iter_rows())
        tiers = ", ".join(f"{k}: {v:,}" for k, v in sorted(counts.items(), key=lambda kv:
                                                             str(kv[0])) if k is not None)
        unjudged = counts.get(None, 0)
        lines = [f"period {self.period}: {self.judged.height:,} customers judged by "
                 f"{self.book} v{self.book_version} ({tiers}; could not judge: {unjudged:,})",
                 f"  tier changes: {self.changes.height:,}; tier reviews opened: "
                 f"{len(self.reviews):,}"]
        if self.signals is not None:
            new_tasks = 0 if self.tasks is None else self.tasks.height  # of this period
            cases = 0 if self.tasks is None else self.tasks.filter(
                pl.col("case_id").str.starts_with(f"retention:{self.period}:")
            ).get_column("case_id").n_unique()
            lines.append(f"  signals: {self.signals.height:,}; tasks: {new_tasks:,}; "
                         f"retention cases opened: {cases:,}"
                         + (f" (triggers: {self.trigger_book} v{self.trigger_version})"
                            if self.trigger_book else ""))
        if self.kpis is not None and "status" in self.kpis.columns:
            failing = self.kpis.filter(pl.col("status") == "fail").height
            lines.append(f"  KPIs: {self.kpis.height:,} checked, {failing:,} below target"
                         + (f" (KPIs: {self.kpi_book} v{self.kpi_version})"
                            if self.kpi_book else ""))
        if self.notices_sent:
            lines.append(f"  notices that had waited in the outbox, now delivered: "
                         f"{self.notices_sent:,}")
        lines += [f"  warning: {w}" for w in self.warnings]
        lines.append(f"  report: {self.report}")
        return "\n".join(lines)


def _load_source(source: RuleSource, base: Path, kind: str) -> RuleVersions[Any]:
    """The versions of a rule source: a preset is one version in force from always."""
    if (source.preset is None) == (source.files is None):
        raise ConfigError(f"give exactly one of preset or files for the {kind} rules")
    if source.preset is not None:
        book = preset(source.preset)
        if book.rules.kind != kind:
            raise ConfigError(f"the preset {source.preset!r} holds {book.rules.kind} rules, "
                              f"not {kind}")
        return RuleVersions([book])
    return RuleVersions.load([base / p for p in source.files or []], kind=kind)


def _named(label: str, book: Any) -> str:
    """A report note: which version of a rule book was used."""
    effective = book.rules.effective
    return (f"{label}: {book.name} v{book.version}"
            + (f" (effective {effective})" if effective else ""))


class Workspace:
    """A configured key-account department: rules, processes, storage and reports."""

    def __init__(
        self,
        config: WorkspaceConfig,
        *,
        base_dir: str | Path = ".",
        store: CycleStore | None = None,
        engine: Any = None,
        clock: Callable[[], Any] | None = None,
    ) -> None:
        self.config = config
        self.base_dir = Path(base_dir)
        if store is None:  # one storage stack: the cycle and the processes on one engine
            from vip_workflow.registry import open_store

            instances = open_store(self._storage_url(config.storage))
            store = getattr(instances, "cycle", None) or open_cycle_store(
                self._storage_url(config.storage))
        self.store: CycleStore = store
        self.tier_versions: RuleVersions[RuleBook] = _load_source(
            config.tiers, self.base_dir, "tiers")
        self.trigger_versions: RuleVersions[TriggerBook] | None = _load_source(
            config.triggers, self.base_dir, "triggers") if config.triggers else None
        self.kpi_versions: RuleVersions[KpiBook] | None = _load_source(
            config.kpis, self.base_dir, "kpis") if config.kpis else None
        self._engine = engine
        self._clock = clock

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> Workspace:
        """Read ``vip.yaml`` (paths in it are relative to its folder) through the one reader
        of data files; a problem is a ``RuleFileError`` at ``vip.yaml:line:column: field``."""
        document = read_document(path)
        config = validate_document(document, WorkspaceConfig)
        return cls(config, base_dir=Path(path).parent, **kwargs)

    def _storage_url(self, url: str) -> str:
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix:
            return prefix + str((self.base_dir / url[len(prefix):]).resolve())
        return url

    @property
    def engine(self) -> Any:
        """The process engine (started on first use)."""
        if self._engine is None:
            from vip_workflow.bootstrap import bootstrap

            # the processes live in the workspace's storage too, on the cycle store's own
            # instance store where it has one (one engine, one transaction per period)
            instances = getattr(self.store, "instances", None)
            self._engine = bootstrap(instances or self._storage_url(self.config.storage),
                                     clock=self._clock, notifier=self.config.notifiers or None)
            for extra in self.config.processes:
                self._engine.deploy(self.base_dir / extra)
        return self._engine

    def tier_book(self, period: str | date) -> RuleBook:
        """The tier rules in force for ``period``."""
        return self.tier_versions.in_force(period)

    def trigger_book(self, period: str | date) -> TriggerBook | None:
        """The trigger rules in force for ``period`` (None: the workspace has none)."""
        return None if self.trigger_versions is None else self.trigger_versions.in_force(period)

    def kpi_book(self, period: str | date) -> KpiBook | None:
        """The KPI rules in force for ``period`` (None: the workspace has none)."""
        return None if self.kpi_versions is None else self.kpi_versions.in_force(period)

    @property
    def triggers(self) -> TriggerBook | None:
        """The latest trigger rules; ``trigger_book(period)`` gives a period's."""
        return None if self.trigger_versions is None else self.trigger_versions.latest

    @property
    def kpis(self) -> KpiBook | None:
        """The latest KPI rules; ``kpi_book(period)`` gives a period's."""
        return None if self.kpi_versions is None else self.kpi_versions.latest

    # -- the cycle -------------------------------------------------------------------------
    @overload
    def run_cycle(self, period: str, data: Any, *, history: Any = None,
                  kpi_data: Any = None, engine: Literal["polars"] = "polars",
                  tiers_table: None = None, progress: Progress | None = None) -> CycleResult: ...

    @overload
    def run_cycle(self, period: str, data: Any, *, history: Any = None,
                  kpi_data: Any = None, engine: Literal["spark"],
                  tiers_table: str | None = None,
                  progress: Progress | None = None) -> WarehouseCycleResult: ...

    def run_cycle(self, period: str, data: Any, *, history: Any = None,
                  kpi_data: Any = None, engine: Literal["polars", "spark"] = "polars",
                  tiers_table: str | None = None, progress: Progress | None = None
                  ) -> CycleResult | WarehouseCycleResult:
        """Run the monthly evaluation for ``period`` on the portfolio ``data``.

        ``history`` (one row per customer and month) feeds the triggers; ``kpi_data`` is the
        portfolio the KPIs are checked on (default: the judged portfolio). ``progress`` is
        called as each of ``STAGES`` begins and once more with ``"finished"`` at the end
        (the polars cycle).

        ``engine="spark"`` runs it where the data lives: ``data``, ``history`` and
        ``kpi_data`` are table names (``"db.groups"``) or Spark DataFrames, the tier history
        is the warehouse table ``tiers_table`` (default: the config's
        ``tier_history_table``), and only the changes, signals and KPI rows come into the
        library (``warehouse.py``).
        """
        if engine == "spark":
            from vip_workflow.cycle.warehouse import run_warehouse_cycle

            return run_warehouse_cycle(self, period, data, history=history, kpi_data=kpi_data,
                                       tiers_table=tiers_table)
        if engine != "polars":
            raise ConfigError(f"unknown cycle engine {engine!r} (polars or spark)")
        period = f"{period_start(period):%Y-%m}"
        frame = _polars(data)
        self.store.record_run(period, "started", {"customers": frame.height})
        try:
            result = self._run(period, frame, history,
                               None if kpi_data is None else _polars(kpi_data), progress)
        except Exception as exc:
            self.store.record_run(period, "failed", {"error": repr(exc)})
            raise
        self.store.record_run(period, "finished", {
            "customers": result.judged.height, "changes": result.changes.height,
            "reviews": len(result.reviews), "rules": result.rules,
        })
        if progress is not None:
            progress("finished", len(STAGES), len(STAGES))
        return result

    def _run(self, period: str, frame: pl.DataFrame, history: Any,
             kpi_data: pl.DataFrame | None, progress: Progress | None = None) -> CycleResult:
        book = self.tier_book(period)
        triggers = self.trigger_book(period) if history is not None else None
        kpi_book = self.kpi_book(period)
        key = self.config.id_field
        if key not in frame.columns:
            raise ConfigError(f"the data has no {key!r} column to identify customers")
        check_portfolio(book, frame, key)
        timings: dict[str, float] = {}
        clock = time.perf_counter

        def timed(phase: str, step: Callable[[], Any]) -> Any:
            if progress is not None:
                progress(phase, STAGES.index(phase), len(STAGES))
            started = clock()
            value = step()
            timings[phase] = timings.get(phase, 0.0) + clock() - started
            return value

        judged = timed("judge tiers", lambda: book.judge_many(frame))
        tiers = self._tier_rows(judged, book)
        previous_period = max((p for p in self.store.periods() if p < period), default=None)
        previous = timed("load previous tiers", lambda: self.store.tiers(previous_period)
                         if previous_period else None)
        changes = timed("compare", lambda: self._changes(tiers, previous, book, frame))
        signals = timed("scan triggers", lambda: self._signals(period, triggers, history))
        warnings: list[str] = []
        kpis = timed("check KPIs", lambda: self._kpi_results(
            kpi_book, judged if kpi_data is None else kpi_data, explicit=kpi_data is not None,
            warnings=warnings))
        work = timed("plan tasks and cases", lambda: self._plan_work(period, signals, frame))
        # -- outputs first, into a staging folder: a failure here has written nothing -------
        staging = timed("write outputs and report", lambda: self._write_outputs(
            period, book, judged, changes, signals, kpis,
            None if work is None else work.report, previous_period,
            triggers=triggers if signals is not None else None,
            kpi_book=kpi_book if kpis is not None else None))
        # -- commit phase: the period's tiers, signals, tasks and new cases in one unit of
        # work (all or nothing); then the idempotent steps a re-run completes
        try:
            holding = (self.engine.deferred_dispatch()  # all sent in "dispatch notices"
                       if self.config.reviews or work is not None
                       else contextlib.nullcontext())
            with holding:
                timed("store the period (one transaction)",
                      lambda: self._commit_period(period, tiers, signals, work))
                reviews = timed("open reviews", lambda: self._open_reviews(
                    period, judged, changes, previous) if self.config.reviews else ())
            sent = timed("dispatch notices", lambda: self._dispatch(work))
            outputs = timed("publish outputs", lambda: self._publish(period, staging))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        ran = triggers if signals is not None else None
        checked = kpi_book if kpis is not None else None
        return CycleResult(period, book.name, book.version, judged, changes, reviews, signals,
                           kpis, None if work is None else work.report, outputs,
                           outputs / "report.html", timings, sent, tuple(warnings),
                           trigger_book=ran.name if ran else None,
                           trigger_version=ran.version if ran else None,
                           kpi_book=checked.name if checked else None,
                           kpi_version=checked.version if checked else None)

    def _tier_rows(self, judged: pl.DataFrame, book: RuleBook) -> pl.DataFrame:
        computed = (pl.col("computed_tier").cast(pl.String) if "computed_tier" in judged.columns
                    else pl.col("tier").cast(pl.String))
        return judged.select(
            pl.col(self.config.id_field).cast(pl.String).alias("customer"),
            pl.col("tier").cast(pl.String), pl.col("rule").cast(pl.String),
            computed.alias("computed_tier"),
            pl.lit(book.name).alias("book"), pl.lit(book.version).alias("book_version"),
        )

    def _changes(self, tiers: pl.DataFrame, previous: pl.DataFrame | None, book: RuleBook,
                 frame: pl.DataFrame) -> pl.DataFrame:
        schema = {"customer": pl.String, "previous_tier": pl.String, "tier": pl.String,
                  "direction": pl.String, "important": pl.Boolean}
        if previous is None or previous.height == 0:
            return pl.DataFrame(schema=schema)
        rank = {t: i for i, t in enumerate(book.tiers)}
        joined = tiers.join(previous.select("customer", pl.col("tier").alias("previous_tier")),
                            on="customer", how="full", coalesce=True)
        changed = joined.filter(pl.col("tier").ne_missing(pl.col("previous_tier")))
        important = self._important(frame)

        def direction(old: str | None, new: str | None) -> str:
            if old is None:
                return "new"
            if new is None:
                return "left"
            if old in rank and new in rank:
                return "up" if rank[new] < rank[old] else "down"
            return "changed"

        rows = [{"customer": c, "previous_tier": old, "tier": new,
                 "direction": direction(old, new), "important": c in important}
                for c, old, new in changed.select("customer", "previous_tier", "tier")
                .iter_rows()]
        return pl.DataFrame(rows, schema=schema)

    def _important(self, frame: pl.DataFrame) -> set[str]:
        spec = self.config.important
        if spec.field not in frame.columns:
            return set()
        rows = frame.filter(pl.col(spec.field).cast(pl.String).is_in(spec.values))
        return set(rows.get_column(self.config.id_field).cast(pl.String).to_list())

    def _open_reviews(self, period: str, judged: pl.DataFrame, changes: pl.DataFrame,
                      previous: pl.DataFrame | None) -> tuple[str, ...]:
        from vip_workflow.processes import SYSTEM

        opened: list[str] = []

        def start(customer: str, context: dict[str, Any], kind: str, by: str | None) -> None:
            instance_id = f"{kind}:{period}:{customer}"
            with contextlib.suppress(ConflictError):  # opened by an earlier run of the period
                self.engine.start("tier_override", context, actor=SYSTEM,
                                  instance_id=instance_id, on_behalf_of=by,
                                  comment=f"monthly cycle {period}")
            opened.append(instance_id)

        downgrades = changes.filter((pl.col("direction") == "down") & pl.col("important"))
        for customer, old, new in downgrades.select("customer", "previous_tier", "tier") \
                .iter_rows():
            start(customer, {"customer_id": customer, "computed_tier": new,
                             "requested_tier": old,
                             "reason": f"important account downgraded from {old} to {new} in "
                                       f"{period}: keep {old}?"}, "tier-review", None)
        if "computed_tier" in judged.columns:
            override = self.tier_book(period).plan.override
            overrides = judged.filter(pl.col("rule") == "override")
            if previous is not None and previous.height:  # the same override as last period
                kept = previous.filter(pl.col("rule") == "override").select(
                    pl.col("customer").alias(self.config.id_field), pl.col("tier").alias("_was"))
                overrides = overrides.with_columns(
                    pl.col(self.config.id_field).cast(pl.String)).join(
                    kept, on=self.config.id_field, how="left").filter(
                    pl.col("_was").is_null() | (pl.col("_was") != pl.col("tier").cast(pl.String)))
            for row in overrides.iter_rows(named=True):
                customer = str(row[self.config.id_field])
                start(customer, {
                    "customer_id": customer,
                    "computed_tier": None if row["computed_tier"] is None
                    else str(row["computed_tier"]),
                    "requested_tier": str(row["tier"]),
                    "reason": str(row.get(override.reason) if override else "manual override"),
                }, "tier-override", str(row.get(override.by)) if override else None)
        return tuple(opened)

    def _signals(self, period: str, triggers: TriggerBook | None,
                 history: Any) -> pl.DataFrame | None:
        """The period's signals, from the trigger rules in force for the period (the earlier
        months of the history are read as evidence, by the same rules)."""
        if triggers is None or history is None:
            return None
        frame = _polars(history)
        if "customer_id" in frame.columns:  # rows named as the caller's history numbers them
            check_customer_ids(frame, "customer_id", source="history")
        if "period" in frame.columns and frame.schema["period"] == pl.Date:
            # only the months the triggers can look back on (plus one to tell an onset)
            first = _add_months(period_start(period), -(triggers.lookback + 1))
            frame = frame.filter(pl.col("period").is_between(first, period_start(period)))
        signals: pl.DataFrame = triggers.scan(frame)
        if "period" in signals.columns:
            signals = signals.filter(pl.col("period").cast(pl.String).str.slice(0, 7) == period)
        return signals

    def _plan_work(self, period: str, signals: pl.DataFrame | None,
                   frame: pl.DataFrame | None, *,
                   staff: tuple[pl.DataFrame | None, list[str]] | None = None
                   ) -> _Work | None:
        """What the signals become, written nowhere yet: one open task per customer and
        trigger (kept in the store across cycles; a task this period already has, open or
        closed, is not planned again), and for retain signals the customer's open retention
        case, or a new one. ``report`` also holds the tasks an earlier run of the period
        opened, with their stored status."""
        if signals is None:
            return None
        from vip_workflow.work.board import TaskBoard

        stored = self.store.tasks()
        open_tasks = stored.filter(pl.col("status") == "open")
        earlier = stored.filter(pl.col("period") == period).cast(TASK_COLUMNS)  # type: ignore
        known = pl.concat([open_tasks, earlier]).select(
            pl.col("customer").alias("customer_id"), "trigger")
        fresh = signals.with_columns(pl.col("customer_id").cast(pl.String)).join(
            known, on=["customer_id", "trigger"], how="anti")
        existing = self._open_cases(fresh)
        to_open: dict[str, dict[str, Any]] = {}

        def retention(task: Any) -> str:
            """The customer's open case (called once per customer), or a new one."""
            customer = str(task.customer_id)
            case_id = f"retention:{period}:{customer}"
            if existing.get(customer, case_id) != case_id:
                return existing[customer]  # opened in an earlier period: the task joins it
            context = {"customer_id": customer, "trigger": task.trigger}
            if task.assignee:
                context["account_manager_id"] = task.assignee
            to_open[case_id] = context  # start_many skips it if an earlier run opened it
            return case_id

        managers, pool = staff if staff is not None else self._managers(
            pl.DataFrame() if frame is None else frame)
        load = dict(open_tasks.drop_nulls("assignee").group_by("assignee").len().iter_rows())
        board = TaskBoard(managers=pool, retention=retention,  # notices go after the commit
                          open_elsewhere=load)  # fallback balances earlier cycles' tasks too
        board.ingest(fresh, managers=managers)
        created = _task_frame(period, board.frame())
        joined = set(existing.values()) - set(to_open)
        joins = created.filter(pl.col("case_id").is_in(list(joined))).select(
            "case_id", "id", "trigger").rows()
        return _Work(created, to_open, pl.concat([earlier, created]), joins, period)

    def _open_cases(self, fresh: pl.DataFrame) -> dict[str, str]:
        """The open retention case of each customer with a retain signal in ``fresh``."""
        from vip_workflow.work.board import open_cases

        retain = fresh.filter(pl.col("family").cast(pl.String) == "retain")
        if retain.is_empty():
            return {}
        return open_cases(self.engine, set(retain.get_column("customer_id").to_list()))

    def _managers(self, frame: pl.DataFrame) -> tuple[pl.DataFrame | None, list[str]]:
        """Each customer's account manager (if the portfolio has them) and the pool."""
        if "account_manager" not in frame.columns:
            return None, []
        managers = frame.select(pl.col(self.config.id_field).cast(pl.String)
                                .alias("customer_id"), "account_manager")
        return managers, frame.get_column("account_manager").drop_nulls().unique().to_list()

    def _commit_period(self, period: str, tiers: pl.DataFrame, signals: pl.DataFrame | None,
                       work: _Work | None) -> None:
        """Write the period in one unit of work: tier history, signals, the new retention
        cases with their notices, the task notices and the tasks — all or nothing. Joins of
        later signals to open cases follow (each recorded once, however often it runs)."""
        from vip_workflow.processes import SYSTEM
        from vip_workflow.work.board import record_join

        shared = getattr(self.store, "instances", None) is self.engine.store
        plan = None
        if work is not None and work.cases and shared:  # ids opened before are left out
            plan = self.engine.plan_start_many("retention_case", [
                (case_id, context, f"opened by {context['trigger']}")
                for case_id, context in work.cases.items()], actor=SYSTEM)
        if work is not None and not shared and work.created.height:
            from vip_workflow.ports import NoticeQueue

            if isinstance(self.engine.store, NoticeQueue):  # queued before the tasks are stored
                self.engine.store.enqueue_notices([(task["id"], notice)
                                                   for task, notice in self._task_notices(work)])
        with self.store.unit_of_work() as uow:
            uow.replace_tiers(period, tiers)
            if signals is not None:
                uow.replace_signals(period, signals)
            if work is not None:
                if plan is not None:
                    uow.commit_instances(plan.items)
                if shared:
                    uow.enqueue_notices([(task["id"], notice)
                                         for task, notice in self._task_notices(work)])
                uow.add_tasks(work.created)
        if plan is not None:
            plan.finish()
        if work is None:
            return
        if work.cases and not shared:  # a cycle store of its own: the cases after the period
            self.engine.start_many("retention_case", [
                (case_id, context, f"opened by {context['trigger']}")
                for case_id, context in work.cases.items()], actor=SYSTEM)
        for case_id, task_id, trigger in work.joins:
            record_join(self.engine, case_id, task_id=task_id, trigger=trigger,
                        period=work.period)

    def _task_notices(self, work: _Work) -> list[tuple[dict[str, Any], Any]]:
        """One ``task_assigned`` notice per new task (its instance id is the task id)."""
        from vip_workflow.domain.instances import Notice

        now = (self._clock or self.engine.clock)()
        return [(task, Notice("task_assigned", task["id"], "trigger_task", "open", now,
                              roles=("account_manager",),
                              users=(task["assignee"],) if task["assignee"] else (),
                              data={k: task[k] for k in ("customer", "trigger", "family",
                                                         "severity", "action", "case_id")}))
                for task in work.created.iter_rows(named=True)]

    def _dispatch(self, work: _Work | None) -> int:
        """The outbox's notices (with the task notices ``_commit_period`` queued, keyed by task
        id); for a store without ``NoticeQueue``, one direct ``task_assigned`` per new task."""
        from vip_workflow.ports import NoticeQueue

        sent = 0
        if self._engine is not None:
            try:
                # every due notice, batch after batch (a cycle queues thousands of them)
                sent = self.engine.dispatcher.run(limit=1000).delivered
            except Exception as exc:  # committed: the notices wait in the outbox for a retry
                _log.warning("dispatching notices failed (they stay in the outbox): %s", exc)
        if work is None or work.created.height == 0 or isinstance(self.engine.store,
                                                                   NoticeQueue):
            return sent
        from vip_workflow.outbox import send_with_key

        for task, notice in self._task_notices(work):
            try:
                send_with_key(self.engine.notifier, notice, task["id"])
            except Exception as exc:  # the task is stored: it is on the manager's workbench
                _log.warning("task notice %s not sent: %s", task["id"], exc)
                continue
            sent += 1
        return sent

    def _kpi_results(self, book: KpiBook | None, portfolio: pl.DataFrame, *, explicit: bool,
                     warnings: list[str]) -> pl.DataFrame | None:
        """The KPIs (of the version in force) on ``kpi_data`` (every KPI must be checkable)
        or, when none was given, those the judged portfolio has the columns for (the others
        are named in ``warnings``)."""
        if book is None:
            return None
        if explicit:
            return book.check(portfolio)
        missing = book.missing_columns(portfolio.columns)
        for kpi, columns in missing.items():
            warnings.append(f"KPI {kpi} not checked: the portfolio has no "
                            f"{', '.join(columns)} (pass kpi_data / --kpi-data)")
        usable = [k for k in book.ids() if k not in missing]
        return book.check(portfolio, kpis=usable)

    def _write_outputs(self, period: str, book: RuleBook, judged: pl.DataFrame,
                       changes: pl.DataFrame, signals: pl.DataFrame | None,
                       kpis: pl.DataFrame | None, tasks: pl.DataFrame | None,
                       previous_period: str | None, *, triggers: TriggerBook | None = None,
                       kpi_book: KpiBook | None = None) -> Path:
        root = (self.base_dir / self.config.reports).resolve()
        root.mkdir(parents=True, exist_ok=True)
        for folder in remove_stale(root):  # left by killed runs
            _log.info("removed the stale staging folder %s", folder)
        staging = stage(root, f".{period}-")
        try:
            flat = judged.with_columns(pl.col(pl.Enum).cast(pl.String))
            flat.write_parquet(staging / "tiers.parquet")
            flat.select([c for c, t in flat.schema.items() if not t.is_nested()]).write_csv(
                staging / "tiers.csv")
            changes.write_csv(staging / "changes.csv")
            if signals is not None:
                signals.write_parquet(staging / "signals.parquet")
            if kpis is not None:
                kpis.write_csv(staging / "kpis.csv")
            if tasks is not None:
                tasks.write_csv(staging / "tasks.csv")
            notes = [_named("tier rules", book)]
            if triggers is not None:
                notes.append(_named("trigger rules", triggers))
            if kpi_book is not None:
                notes.append(_named("KPI rules", kpi_book))
            notes.append(f"compared with {previous_period}" if previous_period
                         else "first recorded period: no tier changes yet")
            write_report(staging / "report.html", title=self.config.name, period=period,
                         judged=judged, tiers=book.tiers,
                         reference_shares=self.config.reference_shares or _quota_shares(book),
                         value_column=self.config.value_field, changes=changes,
                         signals=signals, kpis=kpis, tasks=tasks, notes=notes,
                         trends=self._trends(period, book, judged, signals, tasks),
                         id_field=self.config.id_field, language=self.config.report_language)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return staging

    def _trends(self, period: str, book: RuleBook, judged: pl.DataFrame,
                signals: pl.DataFrame | None, tasks: pl.DataFrame | None) -> pl.DataFrame:
        """The report's trends: the stored periods before ``period``, and this one."""
        from vip_workflow.reporting.dashboard import stored_trends, trend_row

        current = trend_row(period, judged.filter(pl.col("tier").is_not_null()),
                            None if signals is None else signals.height,
                            None if tasks is None else tasks.height)
        earlier = [p for p in self.store.periods() if p < period]
        return stored_trends(self.store, earlier, list(book.tiers), current,
                             outputs=(self.base_dir / self.config.reports).resolve())

    def _publish(self, period: str, staging: Path) -> Path:
        """Put the staged outputs in place of the period's folder (two renames)."""
        target = staging.parent / period
        unmark(staging)
        if target.exists():
            old = stage(staging.parent, f".{period}-old-")
            target.rename(old / "previous")
            staging.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(target)
        return target


def _task_frame(period: str, board: pl.DataFrame) -> pl.DataFrame:
    """A TaskBoard's tasks as the store keeps them: ids of period, customer and trigger."""
    return board.select(
        pl.format("task:{}:{}:{}", pl.lit(period), pl.col("customer_id").cast(pl.String),
                  pl.col("trigger")).alias("id"),
        pl.lit(period).alias("period"), pl.col("customer_id").cast(pl.String)
        .alias("customer"), "trigger", "family", "severity", "action", "assignee",
        "status", "case_id",
    ).cast(TASK_COLUMNS)  # type: ignore[arg-type]


def _quota_shares(book: RuleBook) -> dict[str, float] | None:
    """A quota book's own shares per tier (A top 5 %, B next 25 %, …), for the tier chart."""
    from vip_workflow.rules.tiers.compiled import Quota

    scheme = book.plan.scheme
    if not isinstance(scheme, Quota):
        return None
    shares: dict[str, float] = {}
    before: Any = 0
    for tier, cumulative in scheme.cuts:
        shares[tier] = float(cumulative - before)
        before = cumulative
    return shares


def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    return date(day.year + year, month + 1, 1)


def _polars(data: Any) -> pl.DataFrame:
    if isinstance(data, pl.DataFrame):
        return data
    if isinstance(data, pl.LazyFrame):
        return data.collect()
    if type(data).__module__.startswith("pandas"):
        converted = pl.from_pandas(data)
        assert isinstance(converted, pl.DataFrame)  # a pandas frame, not a series
        return converted
    if isinstance(data, str | Path):
        path = Path(data)
        return pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path)
    if isinstance(data, Mapping):
        return pl.DataFrame(data)
    return pl.DataFrame(list(data))
