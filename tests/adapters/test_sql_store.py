"""The storage contract, the same tests on every built-in store: memory, SQLite (a WAL file and
in memory) and PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from vip_workflow.adapters.storage.memory import MemoryInstanceStore
from vip_workflow.adapters.storage.sql import SQLInstanceStore
from vip_workflow.testing.agreement import store_agreement
from vip_workflow.testing.contract import StorageContract


class TestEveryStore(StorageContract):
    """Each built-in InstanceStore keeps the whole storage contract, bulk commits included."""

    requires_bulk = True
    requires_notice_queue = True
    requires_work_index = True

    @pytest.fixture(params=["memory", "sqlite-file", "sqlite-memory", "postgresql"])
    def store(self, request, tmp_path) -> Iterator[Any]:
        if request.param == "memory":
            yield MemoryInstanceStore()
            return
        url = {"sqlite-file": f"sqlite:///{tmp_path / 'vip.db'}",
               "sqlite-memory": "sqlite://"}.get(request.param)
        with SQLInstanceStore(url or request.getfixturevalue("pg_schema")) as store:
            yield store


class TestDurableStores:
    """The stores that keep data outside the process give it back to a new connection pool."""

    @pytest.fixture(params=["sqlite-file", "postgresql"])
    def url(self, request, tmp_path) -> str:
        if request.param == "sqlite-file":
            return f"sqlite:///{tmp_path / 'vip.db'}"
        return request.getfixturevalue("pg_schema")

    def test_a_stored_instance_survives_reopening(self, url) -> None:
        """An instance committed through one store is read back equal through another."""
        from vip_workflow.testing.contract import new_instance

        inst, entries = new_instance()
        with SQLInstanceStore(url) as store:
            store.commit(inst, None, entries, [])
        with SQLInstanceStore(url) as again:
            assert again.get(inst.id) == inst


TestSQLiteAgreesWithMemory = store_agreement(lambda: SQLInstanceStore("sqlite://")).TestCase


_PG_SCHEMAS: list[str] = []


def _postgres_store() -> SQLInstanceStore:
    """A store in a fresh PostgreSQL schema (dropped at the end of the module)."""
    import uuid

    import sqlalchemy as sa

    from tests.adapters.conftest import PG_BASE, need, pg_url

    need("127.0.0.1", 5432, "PostgreSQL")
    name = f"vw_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.exec_driver_sql(f"create schema {name}")
    engine.dispose()
    _PG_SCHEMAS.append(name)
    return SQLInstanceStore(pg_url(name), pool_size=1, max_overflow=1)


@pytest.fixture(scope="module", autouse=True)
def _drop_agreement_schemas() -> Iterator[None]:
    yield
    if not _PG_SCHEMAS:
        return
    import sqlalchemy as sa

    from tests.adapters.conftest import PG_BASE

    engine = sa.create_engine(PG_BASE, isolation_level="AUTOCOMMIT",
                              connect_args={"options": "-c lock_timeout=10000"})
    with engine.connect() as c:
        for name in _PG_SCHEMAS:
            c.exec_driver_sql(f"drop schema if exists {name} cascade")
    engine.dispose()
    _PG_SCHEMAS.clear()


TestPostgresAgreesWithMemory = store_agreement(_postgres_store, max_examples=10).TestCase


class TestPostgresConnections:
    """PostgreSQL commits survive the server dropping a pooled connection."""

    def test_a_commit_after_the_server_dropped_the_connection_goes_through(
            self, pg_schema) -> None:
        """The first commit on a connection the server closed retries once on a new one."""
        import sqlalchemy as sa

        from tests.adapters.conftest import PG_BASE
        from vip_workflow.testing.contract import advance, new_instance

        with SQLInstanceStore(pg_schema) as store:
            inst, entries = new_instance()
            store.commit(inst, None, entries, [])
            with store._pg_writer.connect() as c:  # the pooled connection the next commit gets
                pid = c.exec_driver_sql("select pg_backend_pid()").scalar()
            admin = sa.create_engine(PG_BASE, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                assert c.exec_driver_sql(f"select pg_terminate_backend({pid})").scalar()
            admin.dispose()
            moved, new_entries = advance(inst, "signed", action="sign")
            store.commit(moved, inst.version, new_entries, [])
            assert store.get(inst.id) == moved


class TestTrailingLedgerDeletion:
    """Deleting the newest ledger rows behind the store's back fails verify_ledger()."""

    @pytest.fixture(params=["sqlite-file", "postgresql"])
    def url(self, request, tmp_path) -> str:
        if request.param == "sqlite-file":
            return f"sqlite:///{tmp_path / 'vip.db'}"
        return request.getfixturevalue("pg_schema")

    def test_a_deleted_last_entry_is_detected(self, url) -> None:
        """The row's recorded head no longer matches the shortened (still chaining) ledger."""
        import sqlalchemy as sa

        from vip_workflow.testing.contract import advance, new_instance

        inst, entries = new_instance()
        with SQLInstanceStore(url) as store:
            store.commit(inst, None, entries, [])
            # a same-state entry last: without it the shorter chain still ends in the state
            for state, action in [("review", "submit"), ("review", "approve")]:
                nxt, new_entries = advance(inst, state, action=action)
                store.commit(nxt, inst.version, new_entries, [])
                inst = nxt
            before = store.get(inst.id)
            assert len(before.history) == 3 and before.verify_ledger()
            raw = sa.create_engine(url)
            try:
                with raw.begin() as c:
                    deleted = c.execute(
                        sa.text("delete from vw_ledger where instance_id = :i and seq = :s"),
                        {"i": inst.id, "s": 2})
                    assert deleted.rowcount == 1
            finally:
                raw.dispose()
            after = store.get(inst.id)
        assert len(after.history) == 2
        assert after.history[-1].dest == after.state  # the shorter chain alone looks intact
        assert not after.verify_ledger()
