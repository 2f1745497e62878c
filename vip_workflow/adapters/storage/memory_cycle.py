"""The monthly cycle's store in memory: for tests and notebooks, and the reference the
``CycleStoreContract`` checks the SQL store against.

A unit of work checks each call at once and keeps it aside; when the ``with`` block ends, the
process instances are committed first (``commit_many``, which checks everything before it
changes anything) and then the rest is applied, so a block that raises leaves no trace.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from vip_workflow.adapters.storage import _frames as f
from vip_workflow.domain.instances import Notice
from vip_workflow.errors import ConflictError, NotFoundError, StorageError

if TYPE_CHECKING:
    from vip_workflow.adapters.storage.memory import MemoryInstanceStore
    from vip_workflow.ports import CommitItem

__all__ = ["MemoryCycleStore", "MemoryCycleUnitOfWork"]

_STATUS = 8  # position of ``status`` in a task row (TASK_FIELDS)


class MemoryCycleStore:
    """A ``CycleStore`` in memory; ``instances`` is the instance store its unit of work
    commits to (``MemoryInstanceStore().cycle`` sets it)."""

    def __init__(self, instances: MemoryInstanceStore | None = None) -> None:
        self.instances = instances
        self._tiers: dict[str, list[tuple[Any, ...]]] = {}  # period -> (period, customer, …)
        self._signals: dict[str, list[tuple[Any, ...]]] = {}
        self._runs: list[dict[str, Any]] = []
        self._tasks: dict[str, list[Any]] = {}

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[MemoryCycleUnitOfWork]:
        """Everything done in the block, applied when it ends (nothing if it raises)."""
        uow = MemoryCycleUnitOfWork(self)
        yield uow
        uow.apply()

    def replace_tiers(self, period: str, frame: pl.DataFrame) -> None:
        with self.unit_of_work() as uow:
            uow.replace_tiers(period, frame)

    def replace_signals(self, period: str, frame: pl.DataFrame) -> None:
        with self.unit_of_work() as uow:
            uow.replace_signals(period, frame)

    def add_tasks(self, tasks: pl.DataFrame) -> None:
        with self.unit_of_work() as uow:
            uow.add_tasks(tasks)

    def set_task_status(self, task_id: str, status: str) -> None:
        with self.unit_of_work() as uow:
            uow.set_task_status(task_id, status)

    def record_run(self, period: str, status: str, summary: dict[str, Any]) -> None:
        with self.unit_of_work() as uow:
            uow.record_run(period, status, summary)

    def tiers(self, period: str) -> pl.DataFrame:
        return f.tier_frame(sorted((row[1:] for row in self._tiers.get(period, [])),
                                   key=lambda row: row[0]))

    def periods(self) -> list[str]:
        return sorted(p for p, rows in self._tiers.items() if rows)

    def history(self, customer: str) -> pl.DataFrame:
        return f.history_frame([row for period in sorted(self._tiers)
                                for row in self._tiers[period] if row[1] == customer])

    def signals(self, period: str | None = None, *,
                customer: str | None = None) -> pl.DataFrame:
        rows = [row for p, found in self._signals.items() if period is None or p == period
                for row in found if customer is None or row[1] == customer]
        return f.signal_frame(sorted(rows, key=lambda row: row[:3]))

    def runs(self) -> list[dict[str, Any]]:
        return [dict(run) for run in self._runs]

    def tasks(self, *, status: str | None = None) -> pl.DataFrame:
        return f.task_frame([list(row) for task_id, row in sorted(self._tasks.items())
                             if status is None or row[_STATUS] == status])


class MemoryCycleUnitOfWork:
    """The writes of one ``MemoryCycleStore.unit_of_work()``, kept until it ends."""

    def __init__(self, store: MemoryCycleStore) -> None:
        self._store = store
        self._changes: list[Callable[[], None]] = []
        self._tasks: dict[str, list[Any]] = {}  # added in this unit of work
        self._instances: list[CommitItem] = []
        self._notices: list[tuple[str, Notice]] = []

    def replace_tiers(self, period: str, frame: pl.DataFrame) -> None:
        rows = _unique(f.tier_rows(period, frame), 2, "tier")
        self._changes.append(lambda: self._store._tiers.__setitem__(period, rows))

    def replace_signals(self, period: str, frame: pl.DataFrame) -> None:
        rows = _unique(f.signal_rows(period, frame), 3, "signal")
        self._changes.append(lambda: self._store._signals.__setitem__(period, rows))

    def add_tasks(self, tasks: pl.DataFrame) -> None:
        for row in f.task_rows(tasks):
            if row[0] not in self._store._tasks:
                self._tasks.setdefault(row[0], list(row))

    def set_task_status(self, task_id: str, status: str) -> None:
        if task_id in self._tasks:
            self._tasks[task_id][_STATUS] = status
            return
        if task_id not in self._store._tasks:
            raise NotFoundError(f"no task {task_id!r}")
        self._changes.append(
            lambda: self._store._tasks[task_id].__setitem__(_STATUS, status))

    def record_run(self, period: str, status: str, summary: dict[str, Any]) -> None:
        run = {"period": period, "status": status, "at": datetime.now(UTC).isoformat(),
               "summary": summary}
        self._changes.append(lambda: self._store._runs.append(run))

    def commit_instances(self, items: Sequence[CommitItem]) -> None:
        instances = self._instances_store()
        taken = {item[0].id for item in self._instances}
        for item in items:
            if item[0].id in taken:
                raise ConflictError(f"instance {item[0].id} is given twice in one unit of work")
            taken.add(item[0].id)
        instances.check_many(items)
        self._instances.extend(items)

    def enqueue_notices(self, items: Iterable[tuple[str, Notice]]) -> None:
        self._instances_store()
        self._notices.extend(items)

    def _instances_store(self) -> MemoryInstanceStore:
        if self._store.instances is None:
            raise StorageError("this MemoryCycleStore has no instance store: make it with "
                               "MemoryInstanceStore().cycle to commit instances with the cycle")
        return self._store.instances

    def apply(self) -> None:
        """Make every change of the unit of work: the instances first (checked again, all
        or nothing), then the notices and the cycle's own changes, which cannot fail."""
        instances = self._store.instances
        if self._instances and instances is not None:
            instances.commit_many(self._instances)
        if self._notices and instances is not None:
            instances.enqueue_notices(self._notices)
        for change in self._changes:
            change()
        for task_id, row in self._tasks.items():
            self._store._tasks.setdefault(task_id, row)


def _unique(rows: list[tuple[Any, ...]], width: int, what: str) -> list[tuple[Any, ...]]:
    """``rows`` if their keys (the first ``width`` values) are given and unique, as the SQL
    store's primary keys require; ``ConflictError`` otherwise."""
    keys = {row[:width] for row in rows}
    if len(keys) != len(rows) or any(None in key for key in keys):
        raise ConflictError(f"a row was refused: {what} rows with a missing or repeated key "
                            f"(period, customer{', trigger' if width == 3 else ''})")
    return rows
