"""The storage contract, run against the in-memory reference store."""

from __future__ import annotations

import pytest

from vip_workflow.adapters.storage.memory import MemoryInstanceStore
from vip_workflow.testing.contract import StorageContract


class TestMemoryInstanceStore(StorageContract):
    """MemoryInstanceStore keeps the whole storage contract."""

    requires_work_index = True

    @pytest.fixture
    def store(self) -> MemoryInstanceStore:
        return MemoryInstanceStore()

    def test_stale_due_entries_are_compacted(self, store):
        """Many timer moves on one instance do not grow the due heap without bound."""
        from datetime import timedelta

        from vip_workflow.domain.instances import Timer
        from vip_workflow.testing.contract import T0, advance, new_instance

        inst, entries = new_instance(timers=[Timer(T0 + timedelta(days=1), "overdue")])
        store.commit(inst, None, entries, [])
        for k in range(3000):
            nxt, new_entries = advance(inst, "s", timers=[Timer(T0 + timedelta(days=2 + k),
                                                               "overdue")])
            store.commit(nxt, inst.version, new_entries, [])
            inst = nxt
        assert len(store._due_heap) <= 2 * len(store) + 1025
        assert store.due(T0 + timedelta(days=5000)) == [inst.id]
