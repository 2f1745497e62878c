"""The storage port fits SQL: a 70-line sqlite3 sketch passes the same contract.

Not a shipped adapter (that is the adapters issue): it shows that ``commit`` maps to one
transaction (update-where-version, insert ledger rows, insert outbox rows) and that
``vip_workflow.domain.serial`` round-trips instances exactly.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import pytest

import vip_workflow as vw
from tests.processes.conftest import AM, BM, DD, to_gate
from vip_workflow.domain import serial
from vip_workflow.testing.agreement import store_agreement
from vip_workflow.testing.contract import StorageContract

SCHEMA = """
create table instance (id text primary key, definition text, definition_version int,
  state text, context text, version int, created_at text, gate text, timers text,
  assignee text, escalated_to text, work text, parent text, waiting_for text, final int,
  next_due text);
create index instance_due on instance (next_due);
create table ledger (instance_id text, seq int, at text, actor text, on_behalf_of text,
  action text, source text, dest text, comment text, data text, prev_hash text, hash text,
  primary key (instance_id, seq));
create table outbox (id integer primary key autoincrement, kind text, instance_id text,
  process text, state text, at text, roles text, users text, data text, key text unique,
  delivered int not null default 0);
"""


class SketchSQLiteStore:
    """An InstanceStore on sqlite3, for the contract only."""

    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:", isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.executescript(SCHEMA)

    def _insert(self, table: str, row: dict) -> None:
        names = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        self.db.execute(f"insert into {table} ({names}) values ({marks})", row)

    def commit(self, instance, expected_version, ledger_entries, notices) -> None:
        self.commit_many([(instance, expected_version, ledger_entries, notices)])

    def commit_many(self, items) -> None:
        """Every item in one transaction (the optional BulkInstanceStore capability)."""
        try:
            self.db.execute("begin")
            for item in items:
                self._apply(*item)
            self.db.execute("commit")
        except sqlite3.IntegrityError as exc:
            self.db.execute("rollback")
            raise vw.ConflictError(str(exc)) from exc
        except BaseException:
            self.db.execute("rollback")
            raise

    def existing_ids(self, ids):
        wanted = list(dict.fromkeys(ids))
        found = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            found |= {r[0] for r in self.db.execute(
                f"select id from instance where id in ({marks})", chunk)}
        return found

    def _apply(self, instance, expected_version, ledger_entries, notices) -> None:
        row = serial.instance_to_row(instance)
        if expected_version is None:
            self._insert("instance", row)
        else:
            sets = ", ".join(f"{k} = :{k}" for k in row if k != "id")
            done = self.db.execute(
                f"update instance set {sets} where id = :id and version = :expected",
                {**row, "expected": expected_version},
            )
            if done.rowcount != 1:
                known = self.db.execute("select 1 from instance where id = ?",
                                        (instance.id,)).fetchone()
                if known is None:
                    raise vw.NotFoundError(f"no instance {instance.id}")
                raise vw.ConcurrentUpdateError(f"instance {instance.id} changed")
        for entry in ledger_entries:
            self._insert("ledger", serial.entry_to_row(instance.id, entry))
        for notice in notices:
            self._insert("outbox", serial.notice_to_row(notice))

    def ledger(self, instance_id):
        self.get(instance_id)
        rows = self.db.execute("select * from ledger where instance_id = ? order by seq",
                               (instance_id,)).fetchall()
        return tuple(serial.entry_from_row(r) for r in rows)

    def get(self, instance_id):
        row = self.db.execute("select * from instance where id = ?", (instance_id,)).fetchone()
        if row is None:
            raise vw.NotFoundError(f"no instance {instance_id}")
        rows = self.db.execute("select * from ledger where instance_id = ? order by seq",
                               (instance_id,)).fetchall()
        return serial.instance_from_row(dict(row), [serial.entry_from_row(r) for r in rows])

    def due(self, now: datetime, limit: int = 1000):
        rows = self.db.execute(
            "select id, next_due from instance where next_due is not null")
        due = sorted((datetime.fromisoformat(d), i) for i, d in rows
                     if datetime.fromisoformat(d) <= now)
        return [i for _, i in due[:limit]]

    def find(self, *, definition=None, definition_version=None, state=None,
             include_final=True):
        sql, args = "select id from instance where 1 = 1", []
        for column, value in [("definition", definition),
                              ("definition_version", definition_version), ("state", state)]:
            if value is not None:
                sql += f" and {column} = ?"
                args.append(value)
        if not include_final:
            sql += " and final = 0"
        return [r[0] for r in self.db.execute(sql + " order by rowid", args)]

    def pending_notices(self, limit: int = 1000):
        rows = self.db.execute("select * from outbox where delivered = 0 order by id limit ?",
                               (limit,)).fetchall()
        return [(r["id"], serial.notice_from_row(dict(r))) for r in rows]

    def ack_notices(self, outbox_ids):  # delivered rows stay: their keys remain taken
        self.db.executemany("update outbox set delivered = 1 where id = ?",
                            [(i,) for i in outbox_ids])

    def enqueue_notices(self, items) -> None:
        """The optional NoticeQueue capability: keyed rows, a taken key is ignored."""
        rows = [{**serial.notice_to_row(n), "key": k} for k, n in items]
        self.db.execute("begin")
        try:
            self.db.executemany(
                "insert or ignore into outbox (kind, instance_id, process, state, at, roles, "
                "users, data, key) values (:kind, :instance_id, :process, :state, :at, :roles, "
                ":users, :data, :key)", rows)
        except BaseException:
            self.db.execute("rollback")
            raise
        self.db.execute("commit")

    def notice_keys(self, outbox_ids):
        ids = list(outbox_ids)
        marks = ", ".join("?" for _ in ids)
        return {r[0]: r[1] for r in self.db.execute(
            f"select id, key from outbox where key is not null and id in ({marks})", ids)}


class TestSketchSQLiteStore(StorageContract):
    """The storage contract, bulk commits included, holds for a SQL-shaped store."""

    requires_bulk = True
    requires_notice_queue = True

    # The sketch stands for a store without the optional WorkIndex (the engine scans such a
    # store in tasks_for): the index's contract tests do not apply, so they are not collected
    # rather than skipped.
    test_a_final_instance_keeps_no_keys = None
    test_find_work_by_keys_definition_and_limit_in_due_order = None
    test_find_work_follows_every_commit = None
    test_get_many_gives_instances_in_the_order_asked = None
    test_get_many_reads_more_than_one_chunk = None
    test_rewrite_work_replaces_keys_without_a_new_version = None
    test_find_work_order_follows_a_new_due_time = None
    test_find_work_pages_cover_every_instance_once = None
    test_find_work_filters_by_state_and_due_time_in_the_store = None
    test_find_work_pages_are_stable_under_inserts = None
    test_find_work_paging_property = None

    @pytest.fixture
    def store(self):
        return SketchSQLiteStore()

    def test_the_sketch_offers_no_work_index(self, store):
        """What the lines above rely on: the sketch really lacks the capability."""
        from vip_workflow.ports import WorkIndex

        assert not isinstance(store, WorkIndex)


class TestThroughSQL:
    """A whole process through the SQL sketch, with a restart in the middle."""

    def test_a_sale_survives_a_restart_and_its_ledger_verifies(self, clock):
        """Gate votes, delegations and timers round-trip through JSON columns."""
        store = SketchSQLiteStore()
        engine = vw.ProcessEngine(store=store, clock=clock)
        inst = to_gate(engine, contract_value=200_000, account_manager_id="am1")
        engine.approve(inst.id, actor=BM, comment="ok")
        engine.delegate(inst.id, actor=DD, to="deputy", until=clock() + timedelta(days=3))
        restarted = vw.ProcessEngine(store=store, clock=clock)
        assert restarted.get(inst.id) == engine.get(inst.id)
        done = restarted.approve(inst.id, actor=vw.Actor("deputy"), comment="for dd1")
        assert done.state == "contract_signing"
        assert restarted.get(inst.id).verify_ledger()
        assert restarted.get(inst.id).history[-1].on_behalf_of == "dd1"
        assert restarted.get(inst.id).history[0].actor == AM.id


TestSketchAgreesWithMemory = store_agreement(SketchSQLiteStore).TestCase
