"""Migrations and the first-use schema check: foreign, corrupt, old and unknown databases raise
a clear error and nothing is written."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.adapters.conftest import free_port_url
from vip_workflow.adapters.storage import _schema
from vip_workflow.adapters.storage.sql import (
    SQLInstanceStore,
    SQLiteInstanceStore,
    _head,
    current_revision,
    upgrade,
)
from vip_workflow.errors import SchemaVersionError, StorageError, StorageUnavailableError
from vip_workflow.testing.contract import new_instance


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class TestMigrations:
    """Alembic migrations shipped in the package."""

    def test_the_schema_module_knows_the_migrations_head(self) -> None:
        """_schema.HEAD is the newest migration."""
        assert _head() == _schema.HEAD

    def test_a_new_sqlite_file_is_created_in_wal_mode_at_head(self, tmp_path) -> None:
        """An empty file gets the schema on first use, in WAL mode."""
        path = tmp_path / "vip.db"
        SQLiteInstanceStore(path).close()
        assert current_revision(f"sqlite:///{path}") == _schema.HEAD
        with sqlite3.connect(path) as db:
            assert db.execute("pragma journal_mode").fetchone()[0] == "wal"
            tables = {r[0] for r in db.execute("select name from sqlite_master")}
        assert {"vw_instance", "vw_ledger", "vw_outbox", "vw_tier_history", "vw_tasks"} <= tables

    def test_upgrade_is_idempotent(self, tmp_path) -> None:
        """Running upgrade twice is harmless and reports the head."""
        url = f"sqlite:///{tmp_path / 'vip.db'}"
        assert upgrade(url) == _schema.HEAD
        assert upgrade(url) == _schema.HEAD

    def test_an_old_schema_asks_for_an_upgrade_and_then_works(self, tmp_path) -> None:
        """At an older revision the store refuses; after `db upgrade` it opens."""
        url = f"sqlite:///{tmp_path / 'vip.db'}"
        upgrade(url, "0001_core")
        before = _digest(tmp_path / "vip.db")
        with pytest.raises(SchemaVersionError, match="vip-workflow db upgrade") as info:
            SQLInstanceStore(url)
        assert (info.value.found, info.value.expected) == ("0001_core", _schema.HEAD)
        assert _digest(tmp_path / "vip.db") == before
        upgrade(url)
        with SQLInstanceStore(url) as store:
            inst, entries = new_instance()
            store.commit(inst, None, entries, [])
            assert store.get(inst.id) == inst

    @pytest.mark.parametrize("how", ["cli", "python"])
    def test_a_database_at_0002_is_upgraded_to_keep_signals(self, tmp_path, how) -> None:
        """`vip-workflow db upgrade URL` / upgrade(url) adds vw_signals to a 0002 database;
        then the stores open it and the cycle store keeps signals there."""
        import polars as pl
        from typer.testing import CliRunner

        from vip_workflow.cli.main import app
        from vip_workflow.cycle.history import SQLCycleStore

        url = f"sqlite:///{tmp_path / 'vip.db'}"
        upgrade(url, "0002_cycle")
        assert "vw_signals" not in sa.inspect(sa.create_engine(url)).get_table_names()
        with pytest.raises(SchemaVersionError):
            SQLInstanceStore(url)
        if how == "cli":
            result = CliRunner().invoke(app, ["db", "upgrade", url])
            assert result.exit_code == 0, result.output
        else:
            assert upgrade(url) == _schema.HEAD
        assert current_revision(url) == _schema.HEAD
        engine = sa.create_engine(url)
        indexes = {i["name"] for i in sa.inspect(engine).get_indexes("vw_signals")}
        assert sa.inspect(engine).get_pk_constraint("vw_signals")["constrained_columns"] == [
            "period", "customer", "trigger"]
        assert "vw_signals_customer" in indexes
        engine.dispose()
        SQLInstanceStore(url).close()
        cycle = SQLCycleStore(url)
        frame = pl.DataFrame({"customer_id": ["c1"], "trigger": ["t1"], "family": ["retain"],
                              "severity": ["high"], "action": ["call"],
                              "evidence": [[{"name": "spend", "value": 1.5}]]})
        cycle.replace_signals("2026-01", frame)
        assert cycle.signals("2026-01").row(0) == (
            "2026-01", "c1", "t1", "retain", "high", "call", '[{"name": "spend", "value": 1.5}]')
        cycle.engine.dispose()

    def test_a_signals_table_the_cycle_store_made_is_kept_by_the_migration(
        self, tmp_path
    ) -> None:
        """SQLCycleStore made vw_signals first: the migrations set up the rest and keep it."""
        import polars as pl

        from vip_workflow.cycle.history import SQLCycleStore

        url = f"sqlite:///{tmp_path / 'vip.db'}"
        cycle = SQLCycleStore(url)
        cycle.replace_signals("2026-01", pl.DataFrame(
            {"customer_id": ["c1"], "trigger": ["t1"], "family": ["grow"], "severity": ["low"],
             "action": ["offer"], "evidence": ['[]']}))
        cycle.engine.dispose()
        assert upgrade(url) == _schema.HEAD
        again = SQLCycleStore(url)
        assert again.signals(customer="c1").height == 1
        again.engine.dispose()

    def test_a_database_the_cycle_store_made_is_taken_over(self, tmp_path) -> None:
        """Tier history written by SQLCycleStore first stays, and the store sets up the rest."""
        import polars as pl

        from vip_workflow.cycle.history import TIER_COLUMNS, SQLCycleStore

        url = f"sqlite:///{tmp_path / 'vip.db'}"
        cycle = SQLCycleStore(url)
        frame = pl.DataFrame([["c1", "A", "r1", "A", "book", "1"]], schema=TIER_COLUMNS,
                             orient="row")
        cycle.replace_tiers("2026-01", frame)
        cycle.engine.dispose()
        SQLInstanceStore(url).close()
        assert current_revision(url) == _schema.HEAD
        again = SQLCycleStore(url)
        assert again.tiers("2026-01").to_dicts() == frame.to_dicts()
        again.engine.dispose()

    def test_postgres_schema_is_created_and_checked(self, pg_schema) -> None:
        """On PostgreSQL the schema is made in the (empty) search-path schema."""
        SQLInstanceStore(pg_schema).close()
        assert current_revision(pg_schema) == _schema.HEAD


class TestForeignAndCorruptDatabases:
    """A database that is not ours is never written to."""

    def test_a_foreign_sqlite_database_is_refused_untouched(self, tmp_path) -> None:
        """Another application's SQLite file: SchemaVersionError, same bytes after."""
        path = tmp_path / "crm.db"
        with sqlite3.connect(path) as db:
            db.execute("create table customers (id integer primary key, name text)")
            db.execute("insert into customers values (1, 'ACME')")
        before = _digest(path)
        with pytest.raises(SchemaVersionError, match="not a vip_workflow database"):
            SQLiteInstanceStore(path)
        assert _digest(path) == before
        assert not Path(f"{path}-wal").exists()

    def test_a_corrupt_file_is_refused_untouched(self, tmp_path) -> None:
        """Random bytes: SchemaVersionError saying the database is corrupt."""
        path = tmp_path / "vip.db"
        path.write_bytes(b"\x13\x37" * 4096)
        before = _digest(path)
        with pytest.raises(SchemaVersionError, match="corrupt"):
            SQLiteInstanceStore(path)
        assert _digest(path) == before

    def test_an_unknown_revision_is_refused_by_the_store_and_by_upgrade(self, tmp_path) -> None:
        """A revision this release does not know (a newer release's) is left alone."""
        path = tmp_path / "vip.db"
        SQLiteInstanceStore(path).close()
        with sqlite3.connect(path) as db:
            db.execute(f"update {_schema.VERSION_TABLE} set version_num = '9999_future'")
        before = _digest(path)
        with pytest.raises(SchemaVersionError, match="unknown"):
            SQLiteInstanceStore(path)
        with pytest.raises(SchemaVersionError, match="does not know"):
            upgrade(f"sqlite:///{path}")
        assert _digest(path) == before

    def test_tables_without_a_revision_are_refused(self, tmp_path) -> None:
        """Our table names without the version table: refused, not guessed at."""
        path = tmp_path / "vip.db"
        with sqlite3.connect(path) as db:
            db.execute("create table vw_instance (id text)")
        with pytest.raises(SchemaVersionError, match="no schema revision"):
            SQLiteInstanceStore(path)

    def test_create_false_refuses_an_empty_database(self, tmp_path) -> None:
        """With create=False an empty database is an error, not set up."""
        with pytest.raises(SchemaVersionError, match="empty"):
            SQLiteInstanceStore(tmp_path / "vip.db", create=False)

    def test_a_foreign_postgres_schema_is_refused_untouched(self, pg_schema) -> None:
        """A schema holding another application's tables is not written to."""
        engine = sa.create_engine(pg_schema)
        with engine.begin() as c:
            c.exec_driver_sql("create table invoices (id int primary key)")
        with pytest.raises(SchemaVersionError, match="not a vip_workflow database"):
            SQLInstanceStore(pg_schema)
        with engine.connect() as c:
            assert set(sa.inspect(c).get_table_names()) == {"invoices"}
        engine.dispose()

    def test_an_unreachable_server_is_storage_unavailable(self) -> None:
        """Nobody listening: StorageUnavailableError (a StorageError)."""
        with pytest.raises(StorageUnavailableError) as info:
            SQLInstanceStore(free_port_url(), connect_args={"connect_timeout": 2})
        assert isinstance(info.value, StorageError)
        assert info.value.__cause__ is not None


def _old_cycle_tables(url: str, *, with_signals: bool) -> None:
    """The cycle tables as SQLCycleStore made them before 0004 (``create_all``; no
    ``vw_tier_history_customer`` index; vw_signals from the 0003 release on)."""
    meta = sa.MetaData()
    sa.Table("vw_tier_history", meta,
             sa.Column("period", sa.String(16), primary_key=True),
             sa.Column("customer", sa.String(128), primary_key=True),
             *(sa.Column(n, sa.String(128))
               for n in ("tier", "rule", "computed_tier", "book", "book_version")))
    sa.Table("vw_cycle_runs", meta,
             sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("period", sa.String(16), nullable=False),
             sa.Column("status", sa.String(16), nullable=False),
             sa.Column("at", sa.String(40), nullable=False),
             sa.Column("summary", sa.Text, nullable=False))
    sa.Table("vw_tasks", meta, sa.Column("id", sa.String(200), primary_key=True),
             *(sa.Column(n, sa.Text) for n in ("period", "customer", "trigger", "family",
                                                "severity", "action", "assignee", "status",
                                                "case_id")))
    if with_signals:
        sa.Table("vw_signals", meta,
                 sa.Column("period", sa.String(16), primary_key=True),
                 sa.Column("customer", sa.String(128), primary_key=True),
                 sa.Column("trigger", sa.String(200), primary_key=True),
                 *(sa.Column(n, sa.String(128)) for n in ("family", "severity")),
                 sa.Column("action", sa.Text), sa.Column("evidence", sa.Text),
                 sa.Index("vw_signals_customer", "customer", "period"))
    engine = sa.create_engine(url)
    with engine.begin() as c:
        meta.create_all(c)
        c.exec_driver_sql("INSERT INTO vw_tier_history VALUES "
                          "('2026-01', '湖北客户', 'A', 'r1', 'A', 'book', '1')")
    engine.dispose()


def _indexes(url: str, table: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return {i["name"] for i in sa.inspect(engine).get_indexes(table)}
    finally:
        engine.dispose()


def _differences(url: str) -> list[object]:
    """What Alembic's autogenerate finds between the database and ``_schema.METADATA``."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            context = MigrationContext.configure(c, opts={
                "include_name": lambda name, kind, _parent: kind != "table"
                or name != _schema.VERSION_TABLE})
            return list(compare_metadata(context, _schema.METADATA))
    finally:
        engine.dispose()


class TestRepairOfOldDatabases:
    """Migration 0004 gives databases made by the old cycle store's create_all what they
    lack, and every migrated database is exactly the MetaData."""

    @pytest.mark.parametrize("with_signals", [True, False])
    def test_the_upgrade_adds_the_index_the_old_create_all_left_out(
        self, tmp_path, with_signals
    ) -> None:
        """Old tables, then the migrations as the old instance store ran them (0002/0003 keep
        the tables and are stamped), then upgrade: the index is there, the rows kept."""
        url = f"sqlite:///{tmp_path / 'vip.db'}"
        _old_cycle_tables(url, with_signals=with_signals)
        assert upgrade(url, "0003_signals") == "0003_signals"
        assert "vw_tier_history_customer" not in _indexes(url, "vw_tier_history")
        assert upgrade(url) == _schema.HEAD
        assert "vw_tier_history_customer" in _indexes(url, "vw_tier_history")
        assert _differences(url) == []
        assert upgrade(url) == _schema.HEAD  # idempotent
        from vip_workflow.adapters.storage.sql import SQLCycleStore

        cycle = SQLCycleStore(url)
        assert cycle.history("湖北客户").get_column("tier").to_list() == ["A"]
        cycle.close()

    def test_a_database_holding_only_old_cycle_tables_is_set_up_and_repaired(
        self, tmp_path
    ) -> None:
        """open_cycle_store on a database only the old cycle store used: the migrations
        add the rest and the missing index, and keep the rows."""
        from vip_workflow.cycle.history import open_cycle_store

        url = f"sqlite:///{tmp_path / 'vip.db'}"
        _old_cycle_tables(url, with_signals=True)
        store = open_cycle_store(url)
        assert current_revision(url) == _schema.HEAD
        assert "vw_tier_history_customer" in _indexes(url, "vw_tier_history")
        assert store.periods() == ["2026-01"]
        assert _differences(url) == []

    def test_postgres_old_tables_are_repaired(self, pg_schema) -> None:
        """The same repair on PostgreSQL."""
        _old_cycle_tables(pg_schema, with_signals=True)
        upgrade(pg_schema, "0003_signals")
        assert "vw_tier_history_customer" not in _indexes(pg_schema, "vw_tier_history")
        assert upgrade(pg_schema) == _schema.HEAD
        assert "vw_tier_history_customer" in _indexes(pg_schema, "vw_tier_history")
        assert _differences(pg_schema) == []

    @pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
    def test_a_migrated_database_is_exactly_the_metadata(self, tmp_path, request,
                                                        backend) -> None:
        """Autogenerate compares a freshly migrated database with _schema.METADATA and finds
        no difference (tables, columns, indexes)."""
        url = (f"sqlite:///{tmp_path / 'vip.db'}" if backend == "sqlite"
               else request.getfixturevalue("pg_schema"))
        upgrade(url)
        assert _differences(url) == []


def _old_instance_row(url: str, instance_id: str, assignee: str | None) -> None:
    """An instance row as a 0004 database holds it: ``assignee`` is the role an SLA
    reassignment handed the work to (the ledger is left out: the migration reads rows only)."""
    from vip_workflow.domain import serial

    inst, entries = new_instance(instance_id)
    row = {k: v for k, v in serial.instance_to_row(inst).items()
           if k not in ("escalated_to", "work")}
    row.update(assignee=assignee, ledger_seq=0, ledger_hash=entries[0].hash)
    engine = sa.create_engine(url)
    table = sa.Table("vw_instance", sa.MetaData(), autoload_with=engine)
    with engine.begin() as c:
        c.execute(table.insert(), row)
    engine.dispose()


def _columns(url: str, query: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            return [tuple(r) for r in c.exec_driver_sql(query)]
    finally:
        engine.dispose()


class TestWorkMigration:
    """Migration 0005 moves the old role-valued assignee to escalated_to and adds vw_work."""

    @pytest.fixture(params=["sqlite", "postgresql"])
    def url(self, request, tmp_path) -> str:
        if request.param == "sqlite":
            return f"sqlite:///{tmp_path / 'vip.db'}"
        return request.getfixturevalue("pg_schema")

    def test_an_old_escalation_role_moves_to_escalated_to(self, url) -> None:
        """At 0004 an instance escalated to 'director' (and one never escalated); after the
        upgrade escalated_to holds the role, assignee (now a person) is empty, the work index
        exists (empty: the engine's reindex_work fills it) and the database is the MetaData."""
        assert upgrade(url, "0004_repair") == "0004_repair"
        _old_instance_row(url, "escalated", "director")
        _old_instance_row(url, "plain", None)
        assert upgrade(url, "0005_work") == "0005_work"
        assert _columns(url, "select id, assignee, escalated_to from vw_instance order by id") \
            == [("escalated", None, "director"), ("plain", None, None)]
        assert upgrade(url) == _schema.HEAD
        assert _differences(url) == []
        with SQLInstanceStore(url) as store:
            assert store.get("escalated").escalated_to == "director"
            assert store.get("escalated").assignee is None
            assert store.find_work(["role:director"]).ids == []
            store.rewrite_work([("escalated", frozenset({"role:director"}))])
            assert store.find_work(["role:director"]).ids == ["escalated"]
            assert store.get("escalated").version == 1

    def test_the_downgrade_gives_the_role_back_to_assignee(self, url) -> None:
        """Downgrading to 0004 puts escalated_to back into assignee and drops vw_work."""
        from alembic import command

        from vip_workflow.adapters.storage.sql.migrate import _alembic_config

        upgrade(url, "0004_repair")
        _old_instance_row(url, "escalated", "director")
        upgrade(url)
        engine = sa.create_engine(url)
        with engine.begin() as c:
            command.downgrade(_alembic_config(c), "0004_repair")
        assert "vw_work" not in sa.inspect(engine).get_table_names()
        engine.dispose()
        assert current_revision(url) == "0004_repair"
        assert _columns(url, "select id, assignee from vw_instance") == [("escalated", "director")]
        assert upgrade(url) == _schema.HEAD

    def test_db_upgrade_across_0005_fills_the_work_index(self, url, tmp_path) -> None:
        """A running retention case of a 0004 database (which had no assigned person: the
        downgrade drops AM001 as 0004 would never have had it) is pool work of account
        managers after `vip-workflow db upgrade` — the migration cannot compute keys; the
        command does — and an instance of a definition the command does not know is left as
        it is."""
        from alembic import command
        from typer.testing import CliRunner

        from vip_workflow.adapters.storage.sql.migrate import _alembic_config
        from vip_workflow.cli.main import app
        from vip_workflow.domain.instances import Actor
        from vip_workflow.processes.engine import ProcessEngine

        upgrade(url)
        with SQLInstanceStore(url) as store:
            engine = ProcessEngine(store=store)
            case = engine.start("retention_case", {"customer_id": "G1",
                                                   "account_manager_id": "AM001"},
                                actor=Actor("AM001", roles={"account_manager"}))
            assert store.find_work(["user:AM001"]).ids == [case.id]
        _old_instance_row(url, "of-an-unknown-process", None)  # definition "sales" v1: known
        engine_ = sa.create_engine(url)
        with engine_.begin() as c:
            c.exec_driver_sql("update vw_instance set definition = 'gone' "
                              "where id = 'of-an-unknown-process'")
            command.downgrade(_alembic_config(c), "0004_repair")
        engine_.dispose()
        result = CliRunner().invoke(app, ["db", "upgrade", url])
        assert result.exit_code == 0, result.output
        assert "work index filled for 2 running instance(s)" in result.output
        with SQLInstanceStore(url) as store:
            assert store.get(case.id).assignee is None
            assert store.find_work(["user:AM001"]).ids == []
            assert store.find_work(["role:account_manager"]).ids == [case.id]
            assert store.get(case.id).work == {"role:account_manager"}
            assert store.get("of-an-unknown-process").work == frozenset()
        again = CliRunner().invoke(app, ["db", "upgrade", url])
        assert again.exit_code == 0 and "work index" not in again.output
