"""Tier history and signals per customer and period, tasks, and the record of cycle runs.

``CycleStore`` is the port; ``MemoryCycleStore`` keeps everything in memory and
``SQLCycleStore`` keeps it in any SQLAlchemy database (SQLite file by default, PostgreSQL).
Replacing a period's tiers (or its signals) is one transaction, so re-running a period is
idempotent and a failed write leaves the previous content in place.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import polars as pl

from vip_workflow.errors import (
    ConflictError,
    NotFoundError,
    StorageError,
    StorageUnavailableError,
)

__all__ = ["SIGNAL_COLUMNS", "TASK_COLUMNS", "TIER_COLUMNS", "CycleStore", "MemoryCycleStore",
           "SQLCycleStore", "open_cycle_store"]

TIER_COLUMNS = {"customer": pl.String, "tier": pl.String, "rule": pl.String,
                "computed_tier": pl.String, "book": pl.String, "book_version": pl.String}
TASK_COLUMNS = {"id": pl.String, "period": pl.String, "customer": pl.String,
                "trigger": pl.String, "family": pl.String, "severity": pl.String,
                "action": pl.String, "assignee": pl.String, "status": pl.String,
                "case_id": pl.String}
#: A stored signal: the cycle's period (``YYYY-MM``), the customer (the scan's ``customer_id``),
#: the trigger and its family, severity and action, and the evidence as JSON text
#: (``[{"name": …, "value": …}, …]``), given back as that same text.
SIGNAL_COLUMNS = {"period": pl.String, "customer": pl.String, "trigger": pl.String,
                  "family": pl.String, "severity": pl.String, "action": pl.String,
                  "evidence": pl.String}


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=TIER_COLUMNS)


@runtime_checkable
class CycleStore(Protocol):
    """Where a workspace keeps its tier history and its cycle runs."""

    def tiers(self, period: str) -> pl.DataFrame:
        """The tiers recorded for ``period`` (columns of TIER_COLUMNS; empty if none)."""
        ...

    def periods(self) -> list[str]:
        """Periods with recorded tiers, oldest first."""
        ...

    def replace_tiers(self, period: str, frame: pl.DataFrame) -> None:
        """Atomically replace the tiers of ``period``."""
        ...

    def replace_signals(self, period: str, frame: pl.DataFrame) -> None:
        """Atomically replace the signals of ``period`` with ``frame`` (a trigger scan's
        signals: ``customer_id``, ``trigger``, ``family``, ``severity``, ``action``,
        ``evidence``)."""
        ...

    def signals(self, period: str | None = None, *,
                customer: str | None = None) -> pl.DataFrame:
        """Stored signals (columns of SIGNAL_COLUMNS), of one period and/or one customer,
        ordered by period, customer and trigger."""
        ...

    def history(self, customer: str) -> pl.DataFrame:
        """One customer's tiers over all periods (a ``period`` column first)."""
        ...

    def record_run(self, period: str, status: str, summary: dict[str, Any]) -> None:
        """Note that a cycle for ``period`` started, finished or failed."""
        ...

    def runs(self) -> list[dict[str, Any]]:
        """Every recorded run, oldest first."""
        ...

    def add_tasks(self, tasks: pl.DataFrame) -> None:
        """Record new tasks (columns of TASK_COLUMNS); a task id already recorded is kept."""
        ...

    def tasks(self, *, status: str | None = None) -> pl.DataFrame:
        """Recorded tasks, optionally only those with ``status``."""
        ...

    def set_task_status(self, task_id: str, status: str) -> None:
        """Close (``done``, ``dismissed``) or reopen a task."""
        ...


class MemoryCycleStore:
    """A CycleStore in memory: for tests and notebooks."""

    def __init__(self) -> None:
        self._tiers: dict[str, pl.DataFrame] = {}
        self._signals: dict[str, pl.DataFrame] = {}
        self._runs: list[dict[str, Any]] = []
        self._tasks: dict[str, dict[str, Any]] = {}

    def tiers(self, period: str) -> pl.DataFrame:
        return self._tiers.get(period, _empty())

    def periods(self) -> list[str]:
        return sorted(self._tiers)

    def replace_tiers(self, period: str, frame: pl.DataFrame) -> None:
        self._tiers[period] = frame.select(
            [pl.col(c).cast(t) for c, t in TIER_COLUMNS.items()]
        )

    def replace_signals(self, period: str, frame: pl.DataFrame) -> None:
        self._signals[period] = _signal_frame(period, frame)

    def signals(self, period: str | None = None, *,
                customer: str | None = None) -> pl.DataFrame:
        parts = [f for p, f in sorted(self._signals.items()) if period is None or p == period]
        found = pl.concat(parts) if parts else pl.DataFrame(schema=SIGNAL_COLUMNS)
        if customer is not None:
            found = found.filter(pl.col("customer") == customer)
        return found.sort("period", "customer", "trigger")

    def history(self, customer: str) -> pl.DataFrame:
        parts = [frame.filter(pl.col("customer") == customer)
                 .with_columns(pl.lit(period).alias("period"))
                 for period, frame in sorted(self._tiers.items())]
        if not parts:
            return _empty().with_columns(pl.lit(None, pl.String).alias("period"))
        return pl.concat(parts).select("period", *TIER_COLUMNS)

    def record_run(self, period: str, status: str, summary: dict[str, Any]) -> None:
        self._runs.append({"period": period, "status": status, "at": datetime.now(UTC),
                           "summary": summary})

    def runs(self) -> list[dict[str, Any]]:
        return list(self._runs)

    def add_tasks(self, tasks: pl.DataFrame) -> None:
        for row in _task_rows(tasks):
            self._tasks.setdefault(row["id"], row)

    def tasks(self, *, status: str | None = None) -> pl.DataFrame:
        rows = [r for r in self._tasks.values() if status is None or r["status"] == status]
        return pl.DataFrame(rows, schema=TASK_COLUMNS)

    def set_task_status(self, task_id: str, status: str) -> None:
        if task_id not in self._tasks:
            raise NotFoundError(f"no task {task_id!r}")
        self._tasks[task_id]["status"] = status


def _task_rows(tasks: pl.DataFrame) -> list[dict[str, Any]]:
    return tasks.select([pl.col(c).cast(t) for c, t in TASK_COLUMNS.items()]).to_dicts()


def _evidence_json(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, pl.Series):
        value = value.to_list()
    return json.dumps(value, default=str)


def _signal_frame(period: str, frame: pl.DataFrame) -> pl.DataFrame:
    """A scan's signals as stored: SIGNAL_COLUMNS, the period set, evidence as JSON text."""
    if "customer_id" in frame.columns and "customer" not in frame.columns:
        frame = frame.rename({"customer_id": "customer"})
    text = [c for c in SIGNAL_COLUMNS if c not in ("period", "evidence")]
    evidence = ([_evidence_json(v) for v in frame.get_column("evidence").to_list()]
                if "evidence" in frame.columns else [None] * frame.height)
    return frame.select([pl.col(c).cast(pl.String) for c in text]).with_columns(
        pl.lit(period, pl.String).alias("period"),
        pl.Series("evidence", evidence, dtype=pl.String),
    ).select(*SIGNAL_COLUMNS)


class SQLCycleStore:
    """A CycleStore in a SQL database through SQLAlchemy Core (SQLite in WAL mode, PostgreSQL)."""

    def __init__(self, url: str) -> None:
        try:
            import sqlalchemy as sa
        except ImportError as exc:  # pragma: no cover - a dependency of the project
            raise StorageError("SQLCycleStore needs SQLAlchemy") from exc
        self._sa = sa
        self.url = url
        self.engine = sa.create_engine(url, future=True)
        if url.startswith("sqlite"):
            @sa.event.listens_for(self.engine, "connect")
            def _wal(connection: Any, _record: Any) -> None:
                cursor = connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA busy_timeout=10000")
                cursor.close()

        meta = sa.MetaData()
        self.tier_table = sa.Table(
            "vw_tier_history", meta,
            sa.Column("period", sa.String(16), primary_key=True),
            sa.Column("customer", sa.String(128), primary_key=True),
            *(sa.Column(name, sa.String(128)) for name in list(TIER_COLUMNS)[1:]),
        )
        self.run_table = sa.Table(
            "vw_cycle_runs", meta,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("period", sa.String(16), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("at", sa.String(40), nullable=False),
            sa.Column("summary", sa.Text, nullable=False),
        )
        self.task_table = sa.Table(
            "vw_tasks", meta,
            sa.Column("id", sa.String(200), primary_key=True),
            *(sa.Column(name, sa.Text) for name in list(TASK_COLUMNS)[1:]),
        )
        self.signal_table = sa.Table(
            "vw_signals", meta,
            sa.Column("period", sa.String(16), primary_key=True),
            sa.Column("customer", sa.String(128), primary_key=True),
            sa.Column("trigger", sa.String(200), primary_key=True),
            *(sa.Column(name, sa.String(128)) for name in ("family", "severity")),
            sa.Column("action", sa.Text),
            sa.Column("evidence", sa.Text),
            sa.Index("vw_signals_customer", "customer", "period"),
        )
        try:
            meta.create_all(self.engine)
        except sa.exc.OperationalError as exc:
            raise StorageUnavailableError(f"cannot open {url}: {exc.orig}") from exc
        except sa.exc.DatabaseError as exc:
            raise StorageError(f"{url} is not a usable database: {exc.orig}") from exc

    def tiers(self, period: str) -> pl.DataFrame:
        sa = self._sa
        query = sa.select(*(self.tier_table.c[c] for c in TIER_COLUMNS)).where(
            self.tier_table.c.period == period)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return pl.DataFrame([tuple(r) for r in rows], schema=TIER_COLUMNS, orient="row")

    def periods(self) -> list[str]:
        sa = self._sa
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(self.tier_table.c.period).distinct()).all()
        return sorted(r[0] for r in rows)

    @contextlib.contextmanager
    def _write(self) -> Iterator[Any]:
        """One transaction; a refused row (null or repeated key) becomes ``ConflictError``."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except self._sa.exc.IntegrityError as exc:
            raise ConflictError(f"{self.url}: a row was refused: {exc.orig}") from exc

    def replace_tiers(self, period: str, frame: pl.DataFrame) -> None:
        rows = [dict(row, period=period) for row in
                frame.select([pl.col(c).cast(t) for c, t in TIER_COLUMNS.items()]).to_dicts()]
        with self._write() as connection:  # one transaction: all or nothing
            connection.execute(self.tier_table.delete().where(
                self.tier_table.c.period == period))
            if rows:
                connection.execute(self.tier_table.insert(), rows)

    def replace_signals(self, period: str, frame: pl.DataFrame) -> None:
        rows = _signal_frame(period, frame).to_dicts()
        table = self.signal_table
        with self._write() as connection:  # one transaction: all or nothing
            connection.execute(table.delete().where(table.c.period == period))
            if rows:
                connection.execute(table.insert(), rows)

    def signals(self, period: str | None = None, *,
                customer: str | None = None) -> pl.DataFrame:
        table = self.signal_table
        query = self._sa.select(*(table.c[c] for c in SIGNAL_COLUMNS))
        if period is not None:
            query = query.where(table.c.period == period)
        if customer is not None:
            query = query.where(table.c.customer == customer)
        query = query.order_by(table.c.period, table.c.customer, table.c.trigger)
        with self.engine.connect() as connection:
            rows = [tuple(r) for r in connection.execute(query)]
        return pl.DataFrame(rows, schema=SIGNAL_COLUMNS, orient="row")

    def history(self, customer: str) -> pl.DataFrame:
        sa = self._sa
        columns = ["period", *TIER_COLUMNS]
        query = (sa.select(*(self.tier_table.c[c] for c in columns))
                 .where(self.tier_table.c.customer == customer)
                 .order_by(self.tier_table.c.period))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return pl.DataFrame([tuple(r) for r in rows],
                            schema={"period": pl.String, **TIER_COLUMNS}, orient="row")

    def record_run(self, period: str, status: str, summary: dict[str, Any]) -> None:
        with self.engine.begin() as connection:
            connection.execute(self.run_table.insert().values(
                period=period, status=status, at=datetime.now(UTC).isoformat(),
                summary=json.dumps(summary, default=str)))

    def runs(self) -> list[dict[str, Any]]:
        sa = self._sa
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(self.run_table).order_by(
                self.run_table.c.id)).mappings().all()
        return [{"period": r["period"], "status": r["status"], "at": r["at"],
                 "summary": json.loads(r["summary"])} for r in rows]

    def add_tasks(self, tasks: pl.DataFrame) -> None:
        rows = _task_rows(tasks)
        if not rows:
            return
        with self._write() as connection:
            known = {r[0] for r in connection.execute(
                self._sa.select(self.task_table.c.id).where(
                    self.task_table.c.id.in_([r["id"] for r in rows])))}
            fresh = [r for r in rows if r["id"] not in known]
            if fresh:
                connection.execute(self.task_table.insert(), fresh)

    def tasks(self, *, status: str | None = None) -> pl.DataFrame:
        query = self._sa.select(*(self.task_table.c[c] for c in TASK_COLUMNS))
        if status is not None:
            query = query.where(self.task_table.c.status == status)
        with self.engine.connect() as connection:
            rows = [tuple(r) for r in connection.execute(query.order_by(self.task_table.c.id))]
        return pl.DataFrame(rows, schema=TASK_COLUMNS, orient="row")

    def set_task_status(self, task_id: str, status: str) -> None:
        with self.engine.begin() as connection:
            done = connection.execute(self.task_table.update().where(
                self.task_table.c.id == task_id).values(status=status))
            if done.rowcount == 0:
                raise NotFoundError(f"no task {task_id!r}")


def open_cycle_store(url: str) -> CycleStore:
    """A CycleStore for a storage URL: ``memory://``, ``sqlite:///file.db``, ``postgresql…``."""
    if url.startswith("memory:"):
        return MemoryCycleStore()
    return SQLCycleStore(url)
