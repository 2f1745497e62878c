"""Ports: what the process engine needs from the outside world, as ``typing.Protocol``s.

Adapters implement these without inheriting anything. The storage port is shaped for SQL
back ends: one atomic ``commit`` writes the instance row (checked against the version it was
read at), appends its ledger entries and enqueues its notices in an outbox — all or nothing.
A store may also offer ``BulkInstanceStore``: many such commits in one transaction (the engine's
``start_many`` uses it when it is there, and commits one by one when it is not),
``NoticeQueue``: notices enqueued on their own with caller-given idempotency keys (the monthly
cycle's task notices), and ``WorkIndex``: running instances looked up by the keys of who may
pick up their work (``tasks_for``; the engine scans when a store lacks it).

``CycleStore`` keeps the monthly cycle's tier history, signals, tasks and runs; its
``unit_of_work()`` writes a period's results — and the process instances the cycle starts —
in one transaction, all or nothing. Its frames are polars ``DataFrame``s whose columns are
``TIER_COLUMNS``, ``SIGNAL_COLUMNS`` and ``TASK_COLUMNS`` (made on first use, so importing the
ports does not import polars).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

import attrs

from vip_workflow.domain.instances import LedgerEntry, Notice, ProcessInstance

if TYPE_CHECKING:
    import polars as pl

    TIER_COLUMNS: dict[str, Any]  # made on first use by __getattr__ below
    TASK_COLUMNS: dict[str, Any]
    SIGNAL_COLUMNS: dict[str, Any]

__all__ = [
    "SIGNAL_COLUMNS", "SIGNAL_FIELDS", "TASK_COLUMNS", "TASK_FIELDS", "TIER_COLUMNS",
    "TIER_FIELDS", "ApproverResolver", "BulkInstanceStore", "Clock", "CommitItem",
    "CycleStore", "CycleUnitOfWork", "InstanceStore", "NoticeQueue", "Notifier", "WorkCursor",
    "WorkIndex", "WorkPage",
]

#: The columns of a period's tiers (all text): the customer, the tier given and the rule that
#: gave it, the tier the rules computed (before an override), and the rule book and version.
TIER_FIELDS = ("customer", "tier", "rule", "computed_tier", "book", "book_version")
#: The columns of a task (all text); ``id`` is its key.
TASK_FIELDS = ("id", "period", "customer", "trigger", "family", "severity", "action",
               "assignee", "status", "case_id")
#: The columns of a stored signal (all text): the period (``YYYY-MM``), the customer (the scan's
#: ``customer_id``), the trigger and its family, severity and action, and the evidence as JSON
#: text (``[{"name": …, "value": …}, …]``), given back as that same text.
SIGNAL_FIELDS = ("period", "customer", "trigger", "family", "severity", "action", "evidence")
_FRAMES = {"TIER_COLUMNS": TIER_FIELDS, "TASK_COLUMNS": TASK_FIELDS,
           "SIGNAL_COLUMNS": SIGNAL_FIELDS}


def __getattr__(name: str) -> dict[str, Any]:
    """``TIER_COLUMNS``, ``TASK_COLUMNS``, ``SIGNAL_COLUMNS``: polars schemas of the cycle
    store's frames (``{column: pl.String}``), made on first use."""
    if name in _FRAMES:
        import polars as pl

        schema: dict[str, Any] = {field: pl.String for field in _FRAMES[name]}
        globals()[name] = schema
        return schema
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

#: The arguments of one ``InstanceStore.commit``: ``(instance, expected_version,
#: ledger_entries, notices)``.
CommitItem: TypeAlias = tuple[ProcessInstance, int | None, Sequence[LedgerEntry], Sequence[Notice]]


@runtime_checkable
class InstanceStore(Protocol):
    """Durable home of process instances, their ledgers and the notice outbox.

    Errors are ``vw.StorageError`` subclasses: ``NotFoundError`` for an unknown id,
    ``ConcurrentUpdateError`` for a stale ``expected_version``, ``ConflictError`` for a duplicate
    id, ``StorageUnavailableError`` when the back end cannot be reached.
    """

    def commit(
        self,
        instance: ProcessInstance,
        expected_version: int | None,
        ledger_entries: Sequence[LedgerEntry],
        notices: Sequence[Notice],
    ) -> None:
        """Atomically save ``instance``, append ``ledger_entries`` and enqueue ``notices``.

        ``expected_version`` is the version the caller read (``None`` creates a new instance).
        ``ledger_entries`` are the new tail of ``instance.history``. Nothing is written when
        the call raises.
        """
        ...

    def get(self, instance_id: str) -> ProcessInstance:
        """The instance with its full history (``NotFoundError`` if unknown)."""
        ...

    def ledger(self, instance_id: str) -> tuple[LedgerEntry, ...]:
        """The instance's ledger entries in order (``NotFoundError`` if unknown)."""
        ...

    def due(self, now: datetime, limit: int = 1000) -> list[str]:
        """Ids of instances whose earliest timer is at or before ``now``, earliest first."""
        ...

    def find(
        self,
        *,
        definition: str | None = None,
        definition_version: int | None = None,
        state: str | None = None,
        include_final: bool = True,
    ) -> list[str]:
        """Ids of the instances matching every given filter."""
        ...

    def pending_notices(self, limit: int = 1000) -> list[tuple[int, Notice]]:
        """Outbox entries not yet acknowledged, oldest first, with their outbox ids."""
        ...

    def ack_notices(self, outbox_ids: Iterable[int]) -> None:
        """Mark outbox entries as delivered."""
        ...


@runtime_checkable
class BulkInstanceStore(InstanceStore, Protocol):
    """An ``InstanceStore`` that can also commit many changes in one transaction (optional).

    Every built-in store has it; a store without it still works (the engine then commits
    one by one). Check with ``isinstance(store, BulkInstanceStore)``.
    """

    def commit_many(self, items: Sequence[CommitItem]) -> None:
        """Commit every ``(instance, expected_version, ledger_entries, notices)`` in one
        transaction, all or nothing.

        Each item is checked as ``commit`` checks it and raises the same errors
        (``ConflictError`` for an id that exists or is given twice in ``items``,
        ``ConcurrentUpdateError`` for a stale version, ``NotFoundError`` for an update of an
        unknown id); when the call raises, nothing of any item is written. The notices are
        enqueued in item order.
        """
        ...

    def existing_ids(self, instance_ids: Iterable[str]) -> set[str]:
        """Those of ``instance_ids`` that are stored (an idempotent bulk start skips them)."""
        ...


@attrs.frozen(order=False)
class WorkCursor:
    """A place in the work index's order — overdue first (earliest timer first, instances
    without a timer last), then by id: ``find_work(after=cursor)`` starts after it.

    ``encode()`` gives an opaque text (an HTTP cursor); ``decode`` reads it back
    (``ValueError`` for a text it did not make).
    """

    due: datetime | None
    id: str

    @property
    def order(self) -> tuple[bool, datetime | None, str]:
        """The sort key of this place (``None`` due sorts last)."""
        return (self.due is None, self.due, self.id)

    def encode(self) -> str:
        """An opaque, URL-safe text of the cursor."""
        import base64
        import json

        due = None if self.due is None else self.due.isoformat()
        raw = json.dumps([due, self.id], ensure_ascii=False, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> WorkCursor:
        """The cursor ``encode`` made (``ValueError`` for any other text)."""
        import base64
        import binascii
        import json

        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            due, instance_id = json.loads(raw.decode("utf-8"))
            when = None if due is None else datetime.fromisoformat(due)
        except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
            raise ValueError("not a work cursor") from None
        if not isinstance(instance_id, str) or (when is not None and when.tzinfo is None):
            raise ValueError("not a work cursor")
        return cls(when, instance_id)


@attrs.frozen
class WorkPage:
    """A page of ``find_work``: the places found, in order, and where the next page starts
    (``None``: nothing follows)."""

    found: tuple[WorkCursor, ...]
    next: WorkCursor | None = None

    @property
    def ids(self) -> list[str]:
        """The ids found, in order."""
        return [place.id for place in self.found]


@runtime_checkable
class WorkIndex(Protocol):
    """A store that indexes ``ProcessInstance.work`` (optional; every built-in store has it).

    Every commit keeps the keys of the instance it writes (``user:ID``, ``role:NAME``); a final
    instance keeps none. The engine's ``tasks_for`` asks ``find_work`` then ``get_many``, and
    reads every running instance when a store lacks this (check with
    ``isinstance(store, WorkIndex)``).
    """

    def find_work(
        self,
        keys: Collection[str],
        *,
        definition: str | None = None,
        state: str | None = None,
        due_by: datetime | None = None,
        due_after: datetime | None = None,
        after: WorkCursor | None = None,
        limit: int | None = None,
    ) -> WorkPage:
        """A page of the running instances having any of ``keys``, in ``WorkCursor`` order
        (earliest timer first, instances without one last, then id), each once.

        Filters, each applied in the store: ``definition``, ``state``, ``due_by`` (only
        instances with a timer at or before it: overdue at that time) and ``due_after`` (only
        those without a timer or with one after it). The page starts after ``after`` and
        holds at most ``limit`` places; its ``next`` is the last place when more follow (else
        ``None``). Paging by ``next`` visits every matching instance once, and an instance
        committed meanwhile neither repeats nor hides another."""
        ...

    def get_many(self, ids: Sequence[str]) -> list[ProcessInstance]:
        """The instances of ``ids`` with their ledgers, in the order asked, read in a constant
        number of queries; unknown ids are skipped."""
        ...

    def rewrite_work(self, items: Iterable[tuple[str, frozenset[str]]]) -> None:
        """Replace the stored keys of each ``(instance id, keys)``, in one transaction, without
        changing the instances' versions (``ProcessEngine.reindex_work()`` after an upgrade);
        an unknown id is ``NotFoundError``, and a final instance keeps no keys."""
        ...


@runtime_checkable
class NoticeQueue(Protocol):
    """A store whose outbox also takes notices with caller-given keys (optional).

    The notices are delivered by ``vip_workflow.outbox.Dispatcher`` like those of ``commit``,
    each with its given key. Every built-in store has it; check with
    ``isinstance(store, NoticeQueue)``.
    """

    def enqueue_notices(self, items: Iterable[tuple[str, Notice]]) -> None:
        """Add every ``(key, notice)`` to the outbox in one transaction, all or nothing.

        A key already in the outbox (pending, delivered or dead) or given twice is ignored
        (the first wins), so enqueueing the same keys again is harmless.
        """
        ...

    def notice_keys(self, outbox_ids: Iterable[int]) -> dict[int, str]:
        """The keys of those of ``outbox_ids`` that have one (at least every entry enqueued
        here: the key it was given)."""
        ...


@runtime_checkable
class CycleUnitOfWork(Protocol):
    """The writes of one period, made together: given by ``CycleStore.unit_of_work()``.

    Nothing is visible to others until the ``with`` block ends; if it raises, nothing of it is
    written. Errors are raised by the call that meets them (SQL) or at the end of the block
    (memory), always as ``vw.StorageError`` subclasses.
    """

    def replace_tiers(self, period: str, frame: pl.DataFrame) -> None:
        """Replace the tiers of ``period`` (columns of TIER_COLUMNS)."""
        ...

    def replace_signals(self, period: str, frame: pl.DataFrame) -> None:
        """Replace the signals of ``period`` (a trigger scan's signals: ``customer_id``,
        ``trigger``, ``family``, ``severity``, ``action``, ``evidence``)."""
        ...

    def add_tasks(self, tasks: pl.DataFrame) -> None:
        """Record new tasks (columns of TASK_COLUMNS); a task id already recorded is kept."""
        ...

    def set_task_status(self, task_id: str, status: str) -> None:
        """Change a task's status (``NotFoundError`` if unknown)."""
        ...

    def record_run(self, period: str, status: str, summary: dict[str, Any]) -> None:
        """Note that a cycle for ``period`` started, finished or failed."""
        ...

    def commit_instances(self, items: Sequence[CommitItem]) -> None:
        """``BulkInstanceStore.commit_many`` of the store's instances, in this transaction
        (each instance at most once per unit of work; ``StorageError`` when the cycle store
        has no instance store)."""
        ...

    def enqueue_notices(self, items: Iterable[tuple[str, Notice]]) -> None:
        """``NoticeQueue.enqueue_notices`` of the store's outbox, in this transaction."""
        ...


@runtime_checkable
class CycleStore(Protocol):
    """Where a workspace keeps its tier history, signals, tasks and cycle runs.

    Each write method is one transaction of its own; ``unit_of_work()`` groups several (and
    the starts of the cycle's process instances) into one.
    """

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
        """One customer's tiers over all periods, oldest first (a ``period`` column first)."""
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
        """Recorded tasks ordered by id, optionally only those with ``status``."""
        ...

    def set_task_status(self, task_id: str, status: str) -> None:
        """Close (``done``, ``dismissed``) or reopen a task (``NotFoundError`` if unknown)."""
        ...

    def unit_of_work(self) -> AbstractContextManager[CycleUnitOfWork]:
        """A unit of work: ``with store.unit_of_work() as uow: uow.replace_tiers(…); …`` —
        everything in the block is written in one transaction when it ends, or nothing if it
        raises."""
        ...


@runtime_checkable
class Notifier(Protocol):
    """Delivers notices (raises ``vw.DeliveryError`` when it cannot)."""

    def send(self, notice: Notice, *, key: str | None = None) -> None:
        """Deliver one notice; ``key`` is its idempotency key (the same for every retry of
        it), for receivers that drop duplicates. A notifier may ignore it."""
        ...


class Clock(Protocol):
    """Returns the current time as an aware ``datetime``."""

    def __call__(self) -> datetime: ...


class ApproverResolver(Protocol):
    """Names the users who may fill a seat (e.g. the customer's own account manager)."""

    def __call__(self, instance: ProcessInstance) -> Iterable[str]: ...
