"""Ports: what the process engine needs from the outside world, as ``typing.Protocol``s.

Adapters implement these without inheriting anything. The storage port is shaped for SQL
back ends: one atomic ``commit`` writes the instance row (checked against the version it was
read at), appends its ledger entries and enqueues its notices in an outbox — all or nothing.
A store may also offer ``BulkInstanceStore``: many such commits in one transaction (the engine's
``start_many`` uses it when it is there, and commits one by one when it is not), and
``NoticeQueue``: notices enqueued on their own with caller-given idempotency keys (the monthly
cycle's task notices).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol, TypeAlias, runtime_checkable

from vip_workflow.domain.instances import LedgerEntry, Notice, ProcessInstance

__all__ = [
    "ApproverResolver", "BulkInstanceStore", "Clock", "CommitItem", "InstanceStore", "NoticeQueue",
    "Notifier",
]

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
