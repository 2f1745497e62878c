"""The cycle store contract on every built-in CycleStore: memory (with and without an instance
store), SQLite (a WAL file and in memory) and PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.adapters.conftest import pg_schema  # noqa: F401 (the PostgreSQL fixture)
from vip_workflow.adapters.storage.memory import MemoryInstanceStore
from vip_workflow.adapters.storage.memory_cycle import MemoryCycleStore
from vip_workflow.adapters.storage.sql import SQLCycleStore, SQLInstanceStore
from vip_workflow.registry import open_cycle_store
from vip_workflow.testing.cycle_contract import CycleStoreContract


class TestEveryCycleStore(CycleStoreContract):
    """Each built-in CycleStore keeps the whole contract, instances in its unit of work too."""

    requires_instances = True

    @pytest.fixture(params=["memory", "sqlite-file", "sqlite-memory", "postgresql"])
    def store(self, request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
        if request.param == "memory":
            yield MemoryInstanceStore().cycle
            return
        url = {"sqlite-file": f"sqlite:///{tmp_path / 'vip.db'}",
               "sqlite-memory": "sqlite://"}.get(request.param)
        with SQLInstanceStore(url or request.getfixturevalue("pg_schema")) as instances:
            yield instances.cycle


class TestAloneMemoryCycleStore(CycleStoreContract):
    """A MemoryCycleStore made on its own keeps the contract; it has no instances."""

    # the contract's instance tests need an instance store: not collected here (not skipped)
    test_instances_commit_with_the_cycle = None
    test_instances_are_not_committed_when_the_unit_of_work_fails = None
    test_an_instance_conflict_undoes_the_whole_unit_of_work = None

    @pytest.fixture
    def store(self) -> MemoryCycleStore:
        return MemoryCycleStore()

    def test_committing_instances_without_an_instance_store_is_refused(
        self, store: MemoryCycleStore
    ) -> None:
        """commit_instances needs an instance store: StorageError, nothing written."""
        from vip_workflow.errors import StorageError
        from vip_workflow.testing.contract import new_instance
        from vip_workflow.testing.cycle_contract import tiers

        inst, entries = new_instance()
        with pytest.raises(StorageError, match="no instance store"), \
                store.unit_of_work() as uow:
            uow.replace_tiers("2026-01", tiers(("G1", "A")))
            uow.commit_instances([(inst, None, entries, [])])
        assert store.periods() == []


class TestOneStorageStack:
    """The cycle store and the instance store share one engine and one database."""

    def test_the_cycle_store_of_a_sql_store_shares_its_engine(self, tmp_path: Any) -> None:
        """store.cycle uses store.engine; open_cycle_store(url) is open_store(url).cycle."""
        with SQLInstanceStore(tmp_path / "vip.db") as store:
            assert store.cycle.engine is store.engine and store.cycle.instances is store
            assert store.cycle is store.cycle
        opened = open_cycle_store(f"sqlite:///{tmp_path / 'vip.db'}")
        assert isinstance(opened, SQLCycleStore)
        opened.close()

    def test_a_memory_url_gives_a_memory_cycle_store_with_instances(self) -> None:
        """open_cycle_store('memory://') is the cycle of a fresh MemoryInstanceStore."""
        store = open_cycle_store("memory://")
        assert isinstance(store, MemoryCycleStore)
        assert isinstance(store.instances, MemoryInstanceStore)

    def test_a_store_without_a_cycle_is_a_config_error(self, monkeypatch: Any) -> None:
        """A storage adapter without .cycle: ConfigError naming it."""
        from vip_workflow import registry
        from vip_workflow.errors import ConfigError

        class Plain(MemoryInstanceStore):
            cycle = None  # type: ignore[assignment]

        monkeypatch.setitem(registry._registered[registry.STORAGE_GROUP], "plain", Plain)
        with pytest.raises(ConfigError, match="no cycle store"):
            open_cycle_store("plain://")
