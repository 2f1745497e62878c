"""The monthly cycle's store in SQL, on the engine of a ``SQLInstanceStore``.

``SQLCycleStore`` keeps tier history, signals, tasks and runs in the tables of
``_schema.METADATA`` (made by the one Alembic history). ``unit_of_work()`` opens one
transaction (``BEGIN IMMEDIATE`` on SQLite) in which a period's tiers and signals are
replaced, its tasks added, and — through the instance store on the same engine — process
instances committed and keyed notices enqueued; it commits when the ``with`` block ends and
rolls back if it raises. Rows go in as plain tuples, with an ``executemany`` of multi-row
``INSERT … VALUES`` statements per table (on SQLite about twice as fast as one row a
statement).
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import sqlalchemy as sa

from vip_workflow.adapters.storage import _frames as f
from vip_workflow.adapters.storage import _schema as s
from vip_workflow.adapters.storage.sql.engine import translated
from vip_workflow.adapters.storage.sql.instances import SQLInstanceStore
from vip_workflow.adapters.storage.sql.outbox import enqueue_keyed
from vip_workflow.domain.instances import Notice
from vip_workflow.errors import NotFoundError, StorageError
from vip_workflow.ports import SIGNAL_FIELDS, TASK_FIELDS, TIER_FIELDS

if TYPE_CHECKING:
    from vip_workflow.ports import CommitItem

__all__ = ["SQLCycleStore", "SQLCycleUnitOfWork"]

_TIER_COLUMNS = ("period", *TIER_FIELDS)


class SQLCycleStore:
    """A ``CycleStore`` in SQLite or PostgreSQL.

    Args:
        url: a storage URL (``sqlite:///vip.db``, ``postgresql+psycopg://…``) or a
            ``SQLInstanceStore`` to share (its engine, schema check and instances).
        options: passed to ``SQLInstanceStore`` when ``url`` is a URL (``create``,
            ``schema``, ``synchronous``, engine options).

    ``SQLInstanceStore(url).cycle`` is the usual way to get one; ``SQLCycleStore(url)`` opens
    its own instance store (and so its own engine).
    """

    def __init__(self, url: str | sa.URL | Path | SQLInstanceStore, **options: Any) -> None:
        self.instances = (url if isinstance(url, SQLInstanceStore)
                          else SQLInstanceStore(url, **options))
        self.engine = self.instances.engine
        self.url = self.instances.url
        self._write = self.engine.execution_options(vw_write=True)
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        self._insert_tiers = _Insert(s.tier_history, _TIER_COLUMNS, mark)
        self._insert_signals = _Insert(s.signals, SIGNAL_FIELDS, mark)
        self._insert_tasks = _Insert(s.tasks, TASK_FIELDS, mark, " ON CONFLICT (id) DO NOTHING")
        self._mark = mark

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.instances.name!r})"

    def close(self) -> None:
        """Release the connections (those of the instance store too)."""
        self.instances.close()

    # ------------------------------------------------------------- writes

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[SQLCycleUnitOfWork]:
        """One transaction for everything done in the ``with`` block (see ``CycleStore``)."""
        with translated(f"writing the cycle to {self.instances.name}"), \
                self._write.begin() as connection:
            yield SQLCycleUnitOfWork(self, connection)

    def replace_tiers(self, period: str, frame: pl.DataFrame) -> None:
        """Atomically replace the tiers of ``period``."""
        with self.unit_of_work() as uow:
            uow.replace_tiers(period, frame)

    def replace_signals(self, period: str, frame: pl.DataFrame) -> None:
        """Atomically replace the signals of ``period``."""
        with self.unit_of_work() as uow:
            uow.replace_signals(period, frame)

    def add_tasks(self, tasks: pl.DataFrame) -> None:
        """Record new tasks; a task id already recorded is kept."""
        with self.unit_of_work() as uow:
            uow.add_tasks(tasks)

    def set_task_status(self, task_id: str, status: str) -> None:
        """Change a task's status (``NotFoundError`` if unknown)."""
        with self.unit_of_work() as uow:
            uow.set_task_status(task_id, status)

    def record_run(self, period: str, status: str, summary: dict[str, Any]) -> None:
        """Note that a cycle for ``period`` started, finished or failed."""
        with self.unit_of_work() as uow:
            uow.record_run(period, status, summary)

    # ------------------------------------------------------------- reads

    def _rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of a driver-level query, as plain tuples."""
        with translated(f"reading {self.instances.name}"), self.engine.connect() as c:
            result = c.exec_driver_sql(query, tuple(params))
            try:  # the driver's own tuples: no Row objects for 100 000 tiers
                return list(result.cursor.fetchall())
            except self.engine.dialect.loaded_dbapi.Error as exc:
                raise StorageError(f"reading {self.instances.name}: {exc}") from exc
            finally:
                result.close()

    def _copied(self, select: str, period: str, schema: dict[str, Any]) -> pl.DataFrame:
        """PostgreSQL: the rows of ``select`` (text columns, one ``%s`` for ``period``) sent
        by ``COPY … TO STDOUT`` as CSV, every value quoted so that an empty text and a NULL
        stay apart, and read by polars: no Python object a value (100 000 tiers: a tenth of
        the time of fetching rows)."""
        from psycopg import sql

        statement = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE *)").format(
            sql.SQL(select.replace("%s", "{}")).format(sql.Literal(period)))
        with translated(f"reading {self.instances.name}"), self.engine.connect() as c:
            raw: Any = c.connection.dbapi_connection  # a psycopg connection
            try:
                with raw.cursor() as cursor, cursor.copy(statement) as copy:
                    data = b"".join(bytes(block) for block in copy)
            except self.engine.dialect.loaded_dbapi.Error as exc:
                raise StorageError(f"reading {self.instances.name}: {exc}") from exc
        if not data:
            return pl.DataFrame(schema=schema)
        return pl.read_csv(data, has_header=False, new_columns=list(schema), schema=schema)

    def tiers(self, period: str) -> pl.DataFrame:
        """The tiers recorded for ``period``, by customer."""
        if self.engine.dialect.name == "postgresql":
            return self._copied(f"SELECT {', '.join(TIER_FIELDS)} FROM {s.tier_history.name} "
                                "WHERE period = %s ORDER BY customer", period,
                                {name: pl.String for name in TIER_FIELDS})
        return f.tier_frame(self._rows(
            f"SELECT {', '.join(TIER_FIELDS)} FROM {s.tier_history.name} "
            f"WHERE period = {self._mark} ORDER BY customer", (period,)))

    def periods(self) -> list[str]:
        """Periods with recorded tiers, oldest first."""
        return [r[0] for r in self._rows(
            f"SELECT DISTINCT period FROM {s.tier_history.name} ORDER BY period")]

    def history(self, customer: str) -> pl.DataFrame:
        """One customer's tiers over all periods, oldest first."""
        return f.history_frame(self._rows(
            f"SELECT {', '.join(_TIER_COLUMNS)} FROM {s.tier_history.name} "
            f"WHERE customer = {self._mark} ORDER BY period", (customer,)))

    def signals(self, period: str | None = None, *,
                customer: str | None = None) -> pl.DataFrame:
        """Stored signals of one period and/or one customer."""
        where, params = [], []
        for name, value in (("period", period), ("customer", customer)):
            if value is not None:
                where.append(f"{name} = {self._mark}")
                params.append(value)
        query = (f"SELECT {', '.join(SIGNAL_FIELDS)} FROM {s.signals.name}"
                 + (f" WHERE {' AND '.join(where)}" if where else "")
                 + " ORDER BY period, customer, trigger")
        return f.signal_frame(self._rows(query, params))

    def tasks(self, *, status: str | None = None) -> pl.DataFrame:
        """Recorded tasks by id, optionally only those with ``status``."""
        query = f"SELECT {', '.join(TASK_FIELDS)} FROM {s.tasks.name}"
        params: tuple[str, ...] = ()
        if status is not None:
            query, params = query + f" WHERE status = {self._mark}", (status,)
        return f.task_frame(self._rows(query + " ORDER BY id", params))

    def runs(self) -> list[dict[str, Any]]:
        """Every recorded run, oldest first."""
        rows = self._rows(f"SELECT period, status, at, summary FROM {s.cycle_runs.name} "
                          "ORDER BY id")
        return [{"period": period, "status": status, "at": at, "summary": json.loads(summary)}
                for period, status, at, summary in rows]


class SQLCycleUnitOfWork:
    """The writes of one ``SQLCycleStore.unit_of_work()``, each run at once on its
    connection, committed together when the block ends."""

    def __init__(self, store: SQLCycleStore, connection: sa.Connection) -> None:
        self._store = store
        self._c = connection

    def _executemany(self, insert: _Insert, rows: list[tuple[Any, ...]]) -> None:
        """Insert ``rows``: an executemany of multi-row statements (``_Insert.ROWS`` rows
        each, about twice as fast as one row a statement on SQLite), then the rest."""
        whole = len(rows) - len(rows) % insert.rows
        if whole:
            width = insert.rows * insert.width
            flat = [value for row in rows[:whole] for value in row]
            self._c.exec_driver_sql(insert.statement(insert.rows), [
                tuple(flat[start:start + width]) for start in range(0, len(flat), width)])
        if whole < len(rows):
            self._c.exec_driver_sql(insert.statement(1), rows[whole:])

    def replace_tiers(self, period: str, frame: pl.DataFrame) -> None:
        """Replace the tiers of ``period``."""
        table = s.tier_history
        self._c.execute(table.delete().where(table.c.period == period))
        self._executemany(self._store._insert_tiers, f.tier_rows(period, frame))

    def replace_signals(self, period: str, frame: pl.DataFrame) -> None:
        """Replace the signals of ``period``."""
        table = s.signals
        self._c.execute(table.delete().where(table.c.period == period))
        self._executemany(self._store._insert_signals, f.signal_rows(period, frame))

    def add_tasks(self, tasks: pl.DataFrame) -> None:
        """Record new tasks; a task id already recorded (or given twice) is kept."""
        self._executemany(self._store._insert_tasks, f.task_rows(tasks))

    def set_task_status(self, task_id: str, status: str) -> None:
        """Change a task's status (``NotFoundError`` if unknown)."""
        done = self._c.execute(s.tasks.update().where(s.tasks.c.id == task_id)
                               .values(status=status))
        if done.rowcount == 0:
            raise NotFoundError(f"no task {task_id!r}")

    def record_run(self, period: str, status: str, summary: dict[str, Any]) -> None:
        """Note a cycle run."""
        self._c.execute(s.cycle_runs.insert().values(
            period=period, status=status, at=datetime.now(UTC).isoformat(),
            summary=json.dumps(summary, default=str)))

    def commit_instances(self, items: Sequence[CommitItem]) -> None:
        """Commit process instances of the same store in this transaction."""
        if items:
            self._store.instances.commit_many_on(self._c, items)

    def enqueue_notices(self, items: Iterable[tuple[str, Notice]]) -> None:
        """Enqueue keyed notices in this transaction (a key already there is ignored)."""
        enqueue_keyed(self._c, items)


class _Insert:
    """The text of an INSERT into ``table`` of ``rows`` rows at a time (multi-row VALUES,
    under 1 000 bound parameters a statement: within every SQLite's limit)."""

    def __init__(self, table: sa.Table, columns: Sequence[str], mark: str,
                 suffix: str = "") -> None:
        self.width = len(columns)
        self.rows = max(1, 990 // self.width)
        self._head = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
        self._one = "(" + ", ".join(mark for _ in columns) + ")"
        self._suffix = suffix

    @functools.lru_cache(maxsize=4)  # noqa: B019 (a few instances per store, kept with it)
    def statement(self, rows: int) -> str:
        return self._head + ", ".join([self._one] * rows) + self._suffix
