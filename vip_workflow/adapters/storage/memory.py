"""The in-memory reference store: fast, not durable, and the double the contract suite checks."""

from __future__ import annotations

import functools
import heapq
from collections import OrderedDict
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from attrs import evolve

from vip_workflow.domain.instances import LedgerEntry, Notice, ProcessInstance
from vip_workflow.errors import ConcurrentUpdateError, ConflictError, NotFoundError, StorageError
from vip_workflow.ports import WorkCursor, WorkPage

if TYPE_CHECKING:
    from vip_workflow.adapters.storage.memory_cycle import MemoryCycleStore
    from vip_workflow.ports import CommitItem

__all__ = ["MemoryInstanceStore"]


class MemoryInstanceStore:
    """Keeps instances in a dict, due timers in a heap, the work index in a dict (key -> ids)
    and the outbox in an ordered dict.

    ``commit`` (and ``commit_many``) checks everything before it changes anything, so a failed
    commit leaves no trace. Instances are immutable values, so storing the object itself is safe
    (a final instance is stored without keys of work, as the SQL store keeps none).
    """

    supports_concurrent_writers = False

    def __init__(self) -> None:
        self._instances: dict[str, ProcessInstance] = {}
        self._due_heap: list[tuple[datetime, str]] = []
        self._work: dict[str, set[str]] = {}  # key of work -> ids of the instances having it
        self._outbox: OrderedDict[int, Notice] = OrderedDict()
        self._next_outbox_id = 1
        # keys of enqueue_notices: every key ever enqueued (a repeat is ignored) -> outbox id
        self._keys: dict[str, int] = {}
        self._key_of: dict[int, str] = {}  # pending outbox id -> its given key

    def __len__(self) -> int:
        return len(self._instances)

    def commit(
        self,
        instance: ProcessInstance,
        expected_version: int | None,
        ledger_entries: Sequence[LedgerEntry],
        notices: Sequence[Notice],
    ) -> None:
        """Save, append and enqueue atomically (see ``InstanceStore.commit``)."""
        current = self._instances.get(instance.id)
        self._check(instance, expected_version, ledger_entries, current)
        self._apply(instance, notices, current)

    def commit_many(self, items: Sequence[CommitItem]) -> None:
        """Commit every item atomically (see ``BulkInstanceStore.commit_many``): all are
        checked before any is applied."""
        items = list(items)
        currents = self.check_many(items)
        for (instance, _expected, _entries, notices), current in zip(items, currents,
                                                                   strict=True):
            self._apply(instance, notices, current)

    def check_many(self, items: Sequence[CommitItem]) -> list[ProcessInstance | None]:
        """Raise what ``commit_many(items)`` would raise, changing nothing; returns the stored
        versions the items replace (``None`` for new ones)."""
        seen: set[str] = set()
        currents = []
        for instance, expected_version, ledger_entries, _notices in items:
            if instance.id in seen:
                raise ConflictError(f"instance {instance.id} is given twice in one batch")
            seen.add(instance.id)
            current = self._instances.get(instance.id)
            self._check(instance, expected_version, ledger_entries, current)
            currents.append(current)
        return currents

    @functools.cached_property
    def cycle(self) -> MemoryCycleStore:
        """The monthly cycle's store beside these instances: its unit of work commits
        instances here together with the cycle's own writes."""
        from vip_workflow.adapters.storage.memory_cycle import MemoryCycleStore

        return MemoryCycleStore(self)

    def existing_ids(self, instance_ids: Iterable[str]) -> set[str]:
        """Those of ``instance_ids`` that are stored."""
        return {i for i in instance_ids if i in self._instances}

    @staticmethod
    def _check(
        instance: ProcessInstance,
        expected_version: int | None,
        ledger_entries: Sequence[LedgerEntry],
        current: ProcessInstance | None,
    ) -> None:
        """Raise what ``commit`` raises for this change; change nothing."""
        if expected_version is None:
            if current is not None:
                raise ConflictError(f"instance {instance.id} already exists")
            previous = 0
        else:
            if current is None:
                raise NotFoundError(f"no instance {instance.id}")
            if current.version != expected_version:
                raise ConcurrentUpdateError(
                    f"instance {instance.id} is at version {current.version}, "
                    f"not {expected_version}"
                )
            previous = len(current.history)
        if instance.version != (expected_version or 0) + 1:
            raise ConflictError(
                f"instance {instance.id}: a commit raises the version by one "
                f"(expected {(expected_version or 0) + 1}, got {instance.version})"
            )
        history = instance.history
        if len(history) != previous + len(ledger_entries) or (
            ledger_entries and history[previous:] != tuple(ledger_entries)
        ):
            raise StorageError(f"instance {instance.id}: ledger entries are not the history's tail")
        if current is not None and previous and history[previous - 1] != current.history[-1]:
            raise StorageError(f"instance {instance.id}: the ledger is append-only")

    def _apply(
        self, instance: ProcessInstance, notices: Sequence[Notice],
        current: ProcessInstance | None,
    ) -> None:
        if instance.final and instance.work:
            instance = evolve(instance, work=frozenset())
        self._index(instance.id, current.work if current else frozenset(), instance.work)
        self._instances[instance.id] = instance
        due = instance.next_due
        if due is not None and (current is None or current.next_due != due):
            heapq.heappush(self._due_heap, (due, instance.id))
            if len(self._due_heap) > 2 * len(self._instances) + 1024:
                self._compact_due()
        for notice in notices:
            self._outbox[self._next_outbox_id] = notice
            self._next_outbox_id += 1

    def _index(self, instance_id: str, old: frozenset[str], new: frozenset[str]) -> None:
        """Move ``instance_id`` in the work index from the keys ``old`` to the keys ``new``."""
        for key in old - new:
            holders = self._work.get(key)
            if holders is not None:
                holders.discard(instance_id)
                if not holders:
                    del self._work[key]
        for key in new - old:
            self._work.setdefault(key, set()).add(instance_id)

    def _compact_due(self) -> None:
        """Rebuild the heap from the instances, dropping entries made stale by later commits."""
        heap: list[tuple[datetime, str]] = [
            (due, i.id) for i in self._instances.values() if (due := i.next_due) is not None
        ]
        heapq.heapify(heap)
        self._due_heap = heap

    def get(self, instance_id: str) -> ProcessInstance:
        """The stored instance (``NotFoundError`` if unknown)."""
        try:
            return self._instances[instance_id]
        except KeyError:
            raise NotFoundError(f"no instance {instance_id}") from None

    def ledger(self, instance_id: str) -> tuple[LedgerEntry, ...]:
        """The instance's ledger entries in order."""
        return self.get(instance_id).history

    def due(self, now: datetime, limit: int = 1000) -> list[str]:
        """Ids whose earliest timer is at or before ``now``, earliest first."""
        found: list[tuple[datetime, str]] = []
        taken: set[str] = set()
        heap = self._due_heap
        while heap and heap[0][0] <= now and len(found) < limit:
            at, instance_id = heapq.heappop(heap)
            current = self._instances.get(instance_id)
            if current is not None and current.next_due == at and instance_id not in taken:
                found.append((at, instance_id))
                taken.add(instance_id)
        for item in found:  # still due until a commit moves their timers
            heapq.heappush(heap, item)
        return [instance_id for _, instance_id in found]

    def find(
        self,
        *,
        definition: str | None = None,
        definition_version: int | None = None,
        state: str | None = None,
        include_final: bool = True,
    ) -> list[str]:
        """Ids of the instances matching every given filter, in creation order."""
        return [
            i.id
            for i in self._instances.values()
            if (definition is None or i.definition == definition)
            and (definition_version is None or i.definition_version == definition_version)
            and (state is None or i.state == state)
            and (include_final or not i.final)
        ]

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
        """A page of the running instances having any of ``keys``, earliest timer first (none
        last), then by id (see ``WorkIndex.find_work``)."""
        if limit is not None and limit <= 0:
            return WorkPage(())
        found = set().union(*(self._work.get(key, ()) for key in keys))
        start = None if after is None else after.order
        rows: list[tuple[bool, datetime | None, str]] = []
        for inst in (self._instances[i] for i in found):
            due = inst.next_due
            if ((definition is not None and inst.definition != definition)
                    or (state is not None and inst.state != state)
                    or (due_by is not None and (due is None or due > due_by))
                    or (due_after is not None and due is not None and due <= due_after)):
                continue
            row = (due is None, due, inst.id)
            if start is None or row > start:
                rows.append(row)
        chosen = sorted(rows) if limit is None else heapq.nsmallest(limit + 1, rows)
        places = tuple(WorkCursor(due, instance_id) for _, due, instance_id in chosen)
        if limit is None or len(places) <= limit:
            return WorkPage(places)
        return WorkPage(places[:limit], places[limit - 1])

    def get_many(self, ids: Sequence[str]) -> list[ProcessInstance]:
        """The stored instances of ``ids``, in the order asked (unknown ids skipped)."""
        return [self._instances[i] for i in ids if i in self._instances]

    def rewrite_work(self, items: Iterable[tuple[str, frozenset[str]]]) -> None:
        """Replace the keys of stored instances, versions untouched (``NotFoundError`` for an
        unknown id, nothing changed)."""
        given = dict(items)
        for instance_id in given:
            if instance_id not in self._instances:
                raise NotFoundError(f"no instance {instance_id}")
        for instance_id, keys in given.items():
            current = self._instances[instance_id]
            new = frozenset() if current.final else frozenset(keys)
            self._index(instance_id, current.work, new)
            self._instances[instance_id] = evolve(current, work=new)

    def pending_notices(self, limit: int = 1000) -> list[tuple[int, Notice]]:
        """Outbox entries not yet acknowledged, oldest first."""
        result: list[tuple[int, Notice]] = []
        for outbox_id, notice in self._outbox.items():
            if len(result) >= limit:
                break
            result.append((outbox_id, notice))
        return result

    def ack_notices(self, outbox_ids: Iterable[int]) -> None:
        """Drop delivered notices from the outbox (their keys stay taken)."""
        for outbox_id in outbox_ids:
            self._outbox.pop(outbox_id, None)
            self._key_of.pop(outbox_id, None)

    def enqueue_notices(self, items: Iterable[tuple[str, Notice]]) -> None:
        """Add notices with their keys, ignoring keys already taken (see ``NoticeQueue``)."""
        for key, notice in list(items):
            if key in self._keys:
                continue
            outbox_id = self._next_outbox_id
            self._next_outbox_id += 1
            self._outbox[outbox_id] = notice
            self._keys[key] = outbox_id
            self._key_of[outbox_id] = key

    def notice_keys(self, outbox_ids: Iterable[int]) -> dict[int, str]:
        """The given keys of the pending entries enqueued with one."""
        return {i: self._key_of[i] for i in outbox_ids if i in self._key_of}
