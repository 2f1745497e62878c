"""Process instances and their ledgers in SQLite (the embedded default, WAL mode) or
PostgreSQL (psycopg 3), on SQLAlchemy 2 Core.

``commit`` is one transaction: the instance row is updated only where its version is still
the one the caller read (a stale write raises ``ConcurrentUpdateError`` and changes nothing),
the new ledger entries are appended and the notices are enqueued in the outbox with their
idempotency keys. On PostgreSQL the whole commit is a single statement (writable CTEs) sent
on an autocommit connection: one round trip a commit. ``commit_many`` commits a batch in one
ordinary transaction (``BEGIN IMMEDIATE`` on SQLite), all or nothing, with executemany
inserts; ``commit_many_on`` does the same inside a caller's transaction (the cycle's unit of
work).

Every commit path also replaces the instance's rows in the work index ``vw_work`` (one row per
key of ``ProcessInstance.work``, none for a final instance), in the same transaction:
``find_work`` is a range scan of its primary key, joined to the instances for their order.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from attrs import evolve

from vip_workflow.adapters.storage import _schema as s
from vip_workflow.adapters.storage.sql.engine import make_engine, safe_name, translated, utc_text
from vip_workflow.adapters.storage.sql.migrate import check_schema
from vip_workflow.adapters.storage.sql.outbox import SQLOutbox
from vip_workflow.domain import serial
from vip_workflow.domain.instances import LedgerEntry, Notice, ProcessInstance
from vip_workflow.errors import (
    ConcurrentUpdateError,
    ConflictError,
    NotFoundError,
    StorageError,
)
from vip_workflow.ports import WorkCursor, WorkPage

if TYPE_CHECKING:
    from vip_workflow.adapters.storage.sql.cycle import SQLCycleStore
    from vip_workflow.ports import CommitItem

__all__ = ["PostgresInstanceStore", "SQLInstanceStore", "SQLiteInstanceStore", "notice_key"]


def notice_key(instance_id: str, version: int, index: int) -> str:
    """The idempotency key of the ``index``-th notice of the commit that made ``version``.

    The same change always gets the same key, so a receiver can drop duplicates by it.
    """
    digest = hashlib.sha256(f"{instance_id}\x1f{version}\x1f{index}".encode()).hexdigest()
    return f"vw1-{digest[:40]}"



_COLUMNS = [c.name for c in s.instance.columns if c.name not in ("pk", "id")]
_INSERT_INSTANCE = s.instance.insert()
_UPDATE = (s.instance.update()
           .where(s.instance.c.id == sa.bindparam("b_id"),
                  s.instance.c.version == sa.bindparam("b_expected"))
           .values({name: sa.bindparam(name) for name in _COLUMNS}))
_UPDATE_CHAINED = _UPDATE.where(s.instance.c.ledger_seq == sa.bindparam("b_seq"),
                                s.instance.c.ledger_hash == sa.bindparam("b_hash"))
_INSERT_LEDGER = s.ledger.insert()
_INSERT_WORK = s.work.insert()
_INSERT_OUTBOX = s.outbox.insert()
_IN_CHUNK = 500  # ids per IN (...) list: well within every back end's bound-parameter limit
T = TypeVar("T")

#: An instance, its ledger (JSON objects keyed by column, in order) and its work keys in one
#: PostgreSQL statement: one snapshot, so the three always agree.
_PG_GET = (
    f"SELECT i.*, (SELECT coalesce(json_agg(e ORDER BY e.seq), '[]'::json) "
    f"FROM {s.ledger.name} e WHERE e.instance_id = i.id) AS vw_ledger_rows, "
    f"(SELECT coalesce(array_agg(w.key ORDER BY w.key), '{{}}'::text[]) "
    f"FROM {s.work.name} w WHERE w.instance_id = i.id) AS vw_work_keys "
    f"FROM {s.instance.name} i WHERE i.id = %(id)s::text")
_PG_GET_MANY = _PG_GET.replace("i.id = %(id)s::text", "i.id = ANY(%(ids)s::text[])")


def _pg_param(name: str, column: sa.Column[Any]) -> str:
    """A typed psycopg placeholder for a value of ``column``."""
    if isinstance(column.type, sa.Boolean):
        kind = "boolean"
    else:
        kind = "integer" if isinstance(column.type, sa.Integer) else "text"
    return f"%({name})s::{kind}"


@functools.lru_cache(maxsize=64)
def _pg_commit(kind: str, entries: int, notices: int) -> str:
    """One PostgreSQL statement that saves the instance, appends the ledger and enqueues the
    notices: writable CTEs, so the whole commit is one round trip and one transaction.

    ``kind`` is ``insert``, ``update`` or ``chained`` (an update whose new entries must follow
    the stored ledger). The ledger, work-index and outbox rows are written only if the
    instance row was, so a stale version writes nothing; the statement returns the rows
    written. The instance's keys (``w_keys``, a text array) replace its index rows: those it
    no longer has are deleted, the others inserted or given the new due time (the two touch
    different rows, as the sub-statements of one statement must).
    """
    table, c = s.instance.name, s.instance.c
    if kind == "insert":
        names = [col.name for col in s.instance.columns if col.name != "pk"]
        head = (f"INSERT INTO {table} ({', '.join(names)}) VALUES ("
                + ", ".join(_pg_param(n, c[n]) for n in names) + ") RETURNING 1")
    else:
        assignments = ", ".join(f"{n} = {_pg_param(n, c[n])}" for n in _COLUMNS)
        where = f"id = {_pg_param('b_id', c.id)} AND version = {_pg_param('b_expected', c.version)}"
        if kind == "chained":
            where += (f" AND ledger_seq = {_pg_param('b_seq', c.ledger_seq)}"
                      f" AND ledger_hash = {_pg_param('b_hash', c.ledger_hash)}")
        head = f"UPDATE {table} SET {assignments} WHERE {where} RETURNING 1"
    parts = [f"written AS ({head})"]
    keys, instance_id = "%(w_keys)s::text[]", _pg_param("id", c.id)
    if kind != "insert":  # the keys no longer held; the others are kept as they are
        parts.append(f"{s.work.name}_gone AS (DELETE FROM {s.work.name} "
                     f"WHERE instance_id = {instance_id} AND key <> ALL({keys}) "
                     "AND EXISTS (SELECT FROM written))")
    parts.append(f"{s.work.name} AS (INSERT INTO {s.work.name} "
                 "(key, instance_id, due, definition) "
                 f"SELECT k, {instance_id}, {_pg_param('next_due', c.next_due)}, "
                 f"{_pg_param('definition', c.definition)} FROM unnest({keys}) AS k "
                 "WHERE EXISTS (SELECT FROM written) ON CONFLICT (key, instance_id) DO UPDATE "
                 "SET due = EXCLUDED.due, definition = EXCLUDED.definition)")
    for prefix, rows_table, count in (("e", s.ledger, entries), ("n", s.outbox, notices)):
        if not count:
            continue
        columns = _pg_columns(rows_table)
        listed = ", ".join(col.name for col in columns)
        rows = ", ".join("(" + ", ".join(_pg_param(f"{prefix}{i}_{col.name}", col)
                                         for col in columns) + ")" for i in range(count))
        parts.append(f"{rows_table.name} AS (INSERT INTO {rows_table.name} ({listed}) "
                     f"SELECT {listed} FROM (VALUES {rows}) AS v ({listed}) "
                     "WHERE EXISTS (SELECT FROM written))")
    return f"WITH {', '.join(parts)} SELECT count(*) FROM written"


def _pg_columns(table: sa.Table) -> list[sa.Column[Any]]:
    """The columns a commit writes (all but an autoincremented key)."""
    return [col for col in table.columns if not (col.primary_key and col.autoincrement is True)]


class SQLInstanceStore(SQLOutbox):
    """An ``InstanceStore`` (and ``OutboxStore``) in SQLite or PostgreSQL.

    It is a ``BulkInstanceStore`` too: ``commit_many`` commits a batch in one transaction.
    ``cycle`` is the monthly cycle's ``CycleStore`` on the same engine (and in the same
    schema), whose unit of work can commit instances of this store in its transaction.

    Args:
        url: a SQLAlchemy URL: ``sqlite:///vip.db``, ``sqlite://`` (in memory),
            ``postgresql+psycopg://user@host/db`` (``postgresql://`` means psycopg 3 too).
        create: set up the schema when the database (or PostgreSQL schema) is empty; a
            non-empty database without vip_workflow's schema is never touched.
        schema: PostgreSQL schema to use (sets the search path).
        synchronous: SQLite ``PRAGMA synchronous`` (``NORMAL`` survives a killed process,
            ``FULL`` also a power cut).
        engine_kwargs: passed to ``sqlalchemy.create_engine``.
    """

    supports_concurrent_writers = True

    def __init__(
        self,
        url: str | sa.URL | Path,
        *,
        create: bool = True,
        schema: str | None = None,
        synchronous: str = "NORMAL",
        **engine_kwargs: Any,
    ) -> None:
        if isinstance(url, Path):
            url = f"sqlite:///{url}"
        self.url = sa.make_url(url)
        self.name = safe_name(self.url)
        self.engine = make_engine(self.url, schema=schema, synchronous=synchronous,
                                  **engine_kwargs)
        self._write = self.engine.execution_options(vw_write=True)
        self._postgres = self.engine.dialect.name == "postgresql"
        # PostgreSQL commits go through their own pool of autocommit connections, unpinged:
        # each commit is one statement, so it costs one round trip (see _commit_postgres).
        # It keeps 10 connections open (up to 16 under load): a connection opened above the
        # pool's size is closed on return, and opening one costs the server a process, so a
        # pool smaller than the callers' threads spends its time connecting.
        self._pg_writer = make_engine(self.url, schema=schema, **{
            "pool_size": 10, "max_overflow": 6, **engine_kwargs,
            "pool_pre_ping": False, "isolation_level": "AUTOCOMMIT",
        }) if self._postgres else None
        # The outbox's own bookkeeping (a claim's lease, an acknowledgement) on a small pool
        # whose commits do not wait for the WAL flush (about 5 ms a commit on a plain disk).
        # Losing one in a server crash only means a notice is delivered once more, which the
        # outbox allows (at least once, receivers drop duplicates by key); the changes and
        # their notices are always committed durably, on the pool above.
        self._pg_relaxed = _relaxed(make_engine(self.url, schema=schema, **{
            **engine_kwargs, "pool_pre_ping": False, "isolation_level": "AUTOCOMMIT",
            "pool_size": 8, "max_overflow": 4,
        })) if self._postgres else None
        try:
            check_schema(self.engine, self.name, create=create)
        except BaseException:
            self.engine.dispose()
            raise

    @functools.cached_property
    def cycle(self) -> SQLCycleStore:
        """The monthly cycle's store on this store's engine (one database, one transaction
        for a period's writes: ``store.cycle.unit_of_work()``)."""
        from vip_workflow.adapters.storage.sql.cycle import SQLCycleStore

        return SQLCycleStore(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()
        for engine in (self._pg_writer, self._pg_relaxed):
            if engine is not None:
                engine.dispose()

    def __enter__(self) -> SQLInstanceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------- InstanceStore

    def commit(
        self,
        instance: ProcessInstance,
        expected_version: int | None,
        ledger_entries: Sequence[LedgerEntry],
        notices: Sequence[Notice],
    ) -> None:
        """Save, append and enqueue in one transaction (see ``InstanceStore.commit``)."""
        row, entries, outbox_rows = self._prepare(instance, expected_version, ledger_entries,
                                                  notices)
        keys = _keys(instance)
        if self._postgres:
            self._commit_postgres(instance, expected_version, row, entries, outbox_rows, keys)
            return
        with translated(f"committing instance {instance.id}"), self._write.begin() as c:
            if expected_version is None:
                try:
                    c.execute(_INSERT_INSTANCE, row)
                except sa.exc.IntegrityError as exc:
                    raise ConflictError(f"instance {instance.id} already exists") from exc
            else:
                row["b_id"], row["b_expected"] = instance.id, expected_version
                if entries:  # the new entries must follow the stored ledger (append-only)
                    first = entries[0]
                    row["b_seq"], row["b_hash"] = first.seq - 1, first.prev_hash
                    done = c.execute(_UPDATE_CHAINED, row)
                else:
                    done = c.execute(_UPDATE, row)
                if done.rowcount != 1:
                    self._explain_stale(c, instance.id, expected_version)
                c.execute(s.work.delete().where(s.work.c.instance_id == instance.id))
            if keys:
                c.execute(_INSERT_WORK, _work_rows(instance.id, keys, row))
            if entries:
                c.execute(_INSERT_LEDGER, [serial.entry_to_row(instance.id, e) for e in entries])
            if outbox_rows:
                c.execute(_INSERT_OUTBOX, outbox_rows)

    @staticmethod
    def _prepare(
        instance: ProcessInstance, expected_version: int | None,
        ledger_entries: Sequence[LedgerEntry], notices: Sequence[Notice],
    ) -> tuple[dict[str, Any], tuple[LedgerEntry, ...], list[dict[str, Any]]]:
        """The checks ``commit`` makes before touching the database, and the rows it writes:
        the instance row, the new ledger entries and the outbox rows."""
        entries = tuple(ledger_entries)
        if instance.version != (expected_version or 0) + 1:
            raise ConflictError(
                f"instance {instance.id}: a commit raises the version by one "
                f"(expected {(expected_version or 0) + 1}, got {instance.version})")
        history = instance.history
        if entries and history[len(history) - len(entries):] != entries:
            raise StorageError(f"instance {instance.id}: ledger entries are not the history's "
                               "tail")
        row = serial.instance_to_row(instance)
        del row["work"]  # kept in vw_work
        due = instance.next_due
        row["next_due"] = utc_text(due) if due is not None else None
        last = history[-1] if history else None
        row["ledger_seq"] = last.seq if last else -1
        row["ledger_hash"] = last.hash if last else ""
        outbox_rows = [  # due from the notice's own time on
            {**serial.notice_to_row(n), "key": notice_key(instance.id, instance.version, i),
             "status": "pending", "attempts": 0, "next_attempt_at": utc_text(n.at)}
            for i, n in enumerate(notices)
        ]
        return row, entries, outbox_rows

    def commit_many(self, items: Sequence[CommitItem]) -> None:
        """Commit every item in one transaction, all or nothing (see
        ``BulkInstanceStore.commit_many``).

        SQLite: one ``BEGIN IMMEDIATE`` transaction; PostgreSQL: one transaction (not the
        single-statement path of ``commit``). New instances, ledger entries and notices are
        inserted with one executemany each; updates are version-checked first (their rows
        locked on PostgreSQL) and then written with one executemany per statement shape.
        """
        items = list(items)
        if not items:
            return
        with translated(_batch_name(items)), self._write.begin() as c:
            self.commit_many_on(c, items)

    def commit_many_on(self, c: sa.Connection, items: Sequence[CommitItem]) -> None:
        """``commit_many`` within the caller's transaction on ``c`` (a unit of work's)."""
        items = list(items)
        prepared = []
        seen: set[str] = set()
        for instance, expected_version, ledger_entries, notices in items:
            if instance.id in seen:
                raise ConflictError(f"instance {instance.id} is given twice in one batch")
            seen.add(instance.id)
            row, entries, outbox_rows = self._prepare(instance, expected_version,
                                                      ledger_entries, notices)
            prepared.append((instance.id, expected_version, row, entries, outbox_rows))
        inserts = [row for _, expected, row, _, _ in prepared if expected is None]
        updates = [(i, expected, row, entries) for i, expected, row, entries, _ in prepared
                   if expected is not None]
        ledger_rows = [serial.entry_to_row(i, e) for i, _, _, entries, _ in prepared
                       for e in entries]
        outbox_rows = [r for *_, rows in prepared for r in rows]
        work_rows = [w for (instance, *_), (*_, row, _, _) in zip(items, prepared, strict=True)
                     for w in _work_rows(instance.id, _keys(instance), row)]
        if updates:
            self._update_many(c, updates)
            _delete_work(c, [u[0] for u in updates])
        if inserts:
            try:
                c.execute(_INSERT_INSTANCE, inserts)
            except sa.exc.IntegrityError as exc:
                detail = (str(exc.orig).splitlines() or [""])[0]
                raise ConflictError(f"{_batch_name(items)}: an instance already exists "
                                    f"({detail})") from exc
        if work_rows:
            c.execute(_INSERT_WORK, work_rows)
        if ledger_rows:
            c.execute(_INSERT_LEDGER, ledger_rows)
        if outbox_rows:
            c.execute(_INSERT_OUTBOX, outbox_rows)

    def _update_many(self, c: sa.Connection,
                     updates: list[tuple[str, int, dict[str, Any], tuple[LedgerEntry, ...]]]
                     ) -> None:
        """Check the stored versions (and ledger heads) of a batch's updates, then write them
        (within the caller's transaction; raises as ``commit`` does)."""
        t = s.instance.c
        stored: dict[str, Any] = {}
        ids = [u[0] for u in updates]
        for start in range(0, len(ids), _IN_CHUNK):
            query = (sa.select(t.id, t.version, t.ledger_seq, t.ledger_hash)
                     .where(t.id.in_(ids[start:start + _IN_CHUNK])))
            if self._postgres:  # held to the end of the transaction: no one moves them on
                query = query.with_for_update()
            stored.update({r.id: r for r in c.execute(query)})
        plain, chained = [], []
        for instance_id, expected, row, entries in updates:
            found = stored.get(instance_id)
            if found is None:
                raise NotFoundError(f"no instance {instance_id}")
            if found.version != expected:
                raise ConcurrentUpdateError(
                    f"instance {instance_id} is at version {found.version}, not {expected}")
            params = {**row, "b_id": instance_id, "b_expected": expected}
            if entries:  # the new entries must follow the stored ledger (append-only)
                first = entries[0]
                if (found.ledger_seq, found.ledger_hash) != (first.seq - 1, first.prev_hash):
                    raise StorageError(f"instance {instance_id}: the new ledger entries do not "
                                       "follow the stored ledger (it is append-only)")
                params["b_seq"], params["b_hash"] = first.seq - 1, first.prev_hash
                chained.append(params)
            else:
                plain.append(params)
        for statement, rows in ((_UPDATE_CHAINED, chained), (_UPDATE, plain)):
            if rows and c.execute(statement, rows).rowcount != len(rows):
                raise ConcurrentUpdateError(  # a safety net: the rows were checked above
                    f"{len(rows)} instances: another writer moved one on meanwhile")

    def existing_ids(self, instance_ids: Iterable[str]) -> set[str]:
        """Those of ``instance_ids`` that are stored (read in chunks)."""
        ids = list(dict.fromkeys(instance_ids))
        found: set[str] = set()
        if not ids:
            return found
        t = s.instance.c
        with translated("looking up instance ids"), self.engine.connect() as c:
            for start in range(0, len(ids), _IN_CHUNK):
                found.update(c.execute(sa.select(t.id).where(
                    t.id.in_(ids[start:start + _IN_CHUNK]))).scalars())
        return found

    def _commit_postgres(self, instance: ProcessInstance, expected_version: int | None,
                         row: dict[str, Any], entries: tuple[LedgerEntry, ...],
                         outbox_rows: list[dict[str, Any]], keys: list[str]) -> None:
        """``commit`` as one statement in autocommit mode: one round trip to the server
        instead of BEGIN, five statements and COMMIT."""
        params = {**row, "w_keys": keys}
        if expected_version is None:
            kind = "insert"
        else:
            params["b_id"], params["b_expected"] = instance.id, expected_version
            kind = "chained" if entries else "update"
            if entries:
                params["b_seq"], params["b_hash"] = entries[0].seq - 1, entries[0].prev_hash
        for prefix, table, rows in (
                ("e", s.ledger, [serial.entry_to_row(instance.id, e) for e in entries]),
                ("n", s.outbox, outbox_rows)):
            for i, values in enumerate(rows):
                params.update({f"{prefix}{i}_{c.name}": values.get(c.name)
                               for c in _pg_columns(table)})
        statement = _pg_commit(kind, len(entries), len(outbox_rows))
        assert self._pg_writer is not None
        with translated(f"committing instance {instance.id}"):
            for attempt in (1, 2):
                with self._pg_writer.connect() as c:
                    try:
                        written = c.exec_driver_sql(statement, params).scalar_one()
                    except sa.exc.IntegrityError as exc:
                        diag = getattr(exc.orig, "diag", None)
                        if kind == "insert" and getattr(diag, "table_name", None) == \
                                s.instance.name:
                            raise ConflictError(
                                f"instance {instance.id} already exists") from exc
                        raise
                    except sa.exc.DBAPIError as exc:
                        # A pooled connection the server dropped (a restart): one more try
                        # on a new one. Safe even if the first try committed unseen: the
                        # version check then refuses the second.
                        if attempt == 1 and exc.connection_invalidated:
                            continue
                        raise
                    if written != 1:
                        self._explain_stale(c, instance.id, expected_version or 0)
                    return

    def _explain_stale(self, c: sa.Connection, instance_id: str, expected: int) -> None:
        version = c.execute(sa.select(s.instance.c.version).where(
            s.instance.c.id == instance_id)).scalar()
        if version is None:
            raise NotFoundError(f"no instance {instance_id}")
        if version != expected:
            raise ConcurrentUpdateError(
                f"instance {instance_id} is at version {version}, not {expected}")
        raise StorageError(f"instance {instance_id}: the new ledger entries do not follow the "
                           "stored ledger (it is append-only)")

    def get(self, instance_id: str) -> ProcessInstance:
        """The instance with its full history (``NotFoundError`` if unknown).

        PostgreSQL: one statement (the row, its ledger and its keys, one snapshot) on an
        autocommit connection: one round trip. Elsewhere: three queries in one transaction.
        """
        if self._pg_writer is not None:
            return self._get_postgres(instance_id)
        with translated(f"reading instance {instance_id}"), self.engine.connect() as c:
            row = c.execute(sa.select(s.instance).where(
                s.instance.c.id == instance_id)).mappings().first()
            if row is None:
                raise NotFoundError(f"no instance {instance_id}")
            history = self._ledger(c, instance_id)
            keys = () if row["final"] else c.execute(
                sa.select(s.work.c.key).where(s.work.c.instance_id == instance_id)).scalars()
            return _instance(row, history, keys)

    def _get_postgres(self, instance_id: str) -> ProcessInstance:
        with translated(f"reading instance {instance_id}"):
            row = self.pg_once(lambda c: c.exec_driver_sql(
                _PG_GET, {"id": instance_id}).mappings().first())
        if row is None:
            raise NotFoundError(f"no instance {instance_id}")
        history = [serial.entry_from_row(e) for e in row["vw_ledger_rows"]]
        return _instance(row, history, () if row["final"] else row["vw_work_keys"])

    def pg_once(self, run: Callable[[sa.Connection], T], *, relaxed: bool = False) -> T:
        """``run`` on a connection of the PostgreSQL autocommit pool (no ping, no BEGIN or
        ROLLBACK: one statement, one round trip), once more on a new connection if the
        server had dropped the pooled one. Only for work that is safe to repeat.
        ``relaxed``: on the pool whose commits do not wait for the WAL flush (the outbox's
        bookkeeping only)."""
        engine = self._pg_relaxed if relaxed else self._pg_writer
        assert engine is not None
        for attempt in (1, 2):
            with engine.connect() as c:
                try:
                    return run(c)
                except sa.exc.DBAPIError as exc:
                    if attempt == 1 and exc.connection_invalidated:
                        continue
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _ledger(self, c: sa.Connection, instance_id: str) -> list[LedgerEntry]:
        rows = c.execute(sa.select(s.ledger).where(s.ledger.c.instance_id == instance_id)
                         .order_by(s.ledger.c.seq)).mappings()
        return [serial.entry_from_row(dict(r)) for r in rows]

    def ledger(self, instance_id: str) -> tuple[LedgerEntry, ...]:
        """The instance's ledger entries in order (``NotFoundError`` if unknown)."""
        with translated(f"reading the ledger of {instance_id}"), self.engine.connect() as c:
            entries = self._ledger(c, instance_id)
            if not entries and c.execute(sa.select(s.instance.c.pk).where(
                    s.instance.c.id == instance_id)).first() is None:
                raise NotFoundError(f"no instance {instance_id}")
        return tuple(entries)

    def due(self, now: datetime, limit: int = 1000) -> list[str]:
        """Ids of instances whose earliest timer is at or before ``now``, earliest first (ties
        by id, as the memory store orders them)."""
        query = (sa.select(s.instance.c.id)
                 .where(s.instance.c.next_due.is_not(None),
                        s.instance.c.next_due <= utc_text(now))
                 .order_by(s.instance.c.next_due, s.instance.c.id).limit(limit))
        with translated("listing due instances"), self.engine.connect() as c:
            return list(c.execute(query).scalars())

    def find(
        self,
        *,
        definition: str | None = None,
        definition_version: int | None = None,
        state: str | None = None,
        include_final: bool = True,
    ) -> list[str]:
        """Ids of the instances matching every given filter, in creation order."""
        t = s.instance.c
        query = sa.select(t.id).order_by(t.pk)
        if definition is not None:
            query = query.where(t.definition == definition)
        if definition_version is not None:
            query = query.where(t.definition_version == definition_version)
        if state is not None:
            query = query.where(t.state == state)
        if not include_final:
            query = query.where(t.final.is_(False))
        with translated("finding instances"), self.engine.connect() as c:
            return list(c.execute(query).scalars())

    # ------------------------------------------------------------- WorkIndex

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
        last), then by id (see ``WorkIndex.find_work``).

        A range scan of ``vw_work_due`` per key: each index row carries the instance's due time
        and definition (written with the keys on every commit), so the instances are read only
        for a ``state`` filter. The cursor is a keyset condition on (due, id); final instances
        have no rows in ``vw_work``.
        """
        keys = sorted(set(keys))
        if not keys or (limit is not None and limit <= 0):
            return WorkPage(())
        w = s.work.c
        query = (sa.select(w.instance_id, w.due).distinct().where(w.key.in_(keys))
                 .order_by(w.due.asc().nulls_last(), w.instance_id))
        if definition is not None:
            query = query.where(w.definition == definition)
        if state is not None:
            t = s.instance.c
            query = query.where(sa.exists().where(t.id == w.instance_id, t.state == state))
        if due_by is not None:
            query = query.where(w.due.is_not(None), w.due <= utc_text(due_by))
        if due_after is not None:
            query = query.where(sa.or_(w.due.is_(None), w.due > utc_text(due_after)))
        if after is not None:
            query = query.where(_after(w, after))
        if limit is not None:
            query = query.limit(limit + 1)
        with translated("finding work"), self.engine.connect() as c:
            places = [WorkCursor(None if due is None else _parse_due(due), instance_id)
                      for instance_id, due in c.execute(query)]
        if limit is None or len(places) <= limit:
            return WorkPage(tuple(places))
        return WorkPage(tuple(places[:limit]), places[limit - 1])

    def get_many(self, ids: Sequence[str]) -> list[ProcessInstance]:
        """The instances of ``ids`` with their ledgers, in the order asked (unknown ids
        skipped): their rows in one query, their ledgers in one, their keys in one (per 500
        ids)."""
        wanted = list(dict.fromkeys(ids))
        if self._pg_writer is not None:
            return self._get_many_postgres(ids, wanted)
        rows: dict[str, Any] = {}
        ledgers: dict[str, list[LedgerEntry]] = {}
        keys: dict[str, list[str]] = {}
        t, led, w = s.instance.c, s.ledger.c, s.work.c
        with translated(f"reading {len(wanted)} instances"), self.engine.connect() as c:
            for start in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[start:start + _IN_CHUNK]
                rows.update((r["id"], r) for r in c.execute(
                    sa.select(s.instance).where(t.id.in_(chunk))).mappings())
                for entry in c.execute(sa.select(s.ledger).where(led.instance_id.in_(chunk))
                                       .order_by(led.instance_id, led.seq)).mappings():
                    ledgers.setdefault(entry["instance_id"], []).append(
                        serial.entry_from_row(dict(entry)))
                for key, owner in c.execute(sa.select(w.key, w.instance_id)
                                            .where(w.instance_id.in_(chunk))):
                    keys.setdefault(owner, []).append(key)
        return [_instance(rows[i], ledgers.get(i, ()), () if rows[i]["final"] else
                          keys.get(i, ())) for i in ids if i in rows]

    def _get_many_postgres(self, ids: Sequence[str], wanted: list[str]) -> list[ProcessInstance]:
        """``get_many`` as one statement (``= ANY`` of an array: one query text whatever the
        count, one snapshot) on an autocommit connection."""
        if not wanted:
            return []
        with translated(f"reading {len(wanted)} instances"):
            found = self.pg_once(lambda c: c.exec_driver_sql(
                _PG_GET_MANY, {"ids": wanted}).mappings().all())
        rows = {r["id"]: r for r in found}
        return [_instance(rows[i], [serial.entry_from_row(e) for e in rows[i]["vw_ledger_rows"]],
                          () if rows[i]["final"] else rows[i]["vw_work_keys"])
                for i in ids if i in rows]

    def rewrite_work(self, items: Iterable[tuple[str, frozenset[str]]]) -> None:
        """Replace the keys of stored instances in one transaction, versions untouched (see
        ``WorkIndex.rewrite_work``; ``NotFoundError`` for an unknown id, nothing written)."""
        given = dict(items)
        if not given:
            return
        t = s.instance.c
        ids = list(given)
        with translated(f"rewriting the work keys of {len(ids)} instances"), \
                self._write.begin() as c:
            stored: dict[str, Any] = {}
            for start in range(0, len(ids), _IN_CHUNK):
                stored.update((r["id"], r) for r in c.execute(
                    sa.select(t.id, t.final, t.next_due, t.definition).where(
                        t.id.in_(ids[start:start + _IN_CHUNK]))).mappings())
            missing = [i for i in ids if i not in stored]
            if missing:
                raise NotFoundError(f"no instance {missing[0]}"
                                    + (f" (and {len(missing) - 1} more)" if len(missing) > 1
                                       else ""))
            _delete_work(c, ids)
            rows = [w for i, keys in given.items() if not stored[i]["final"]
                    for w in _work_rows(i, sorted(set(keys)), stored[i])]
            if rows:
                c.execute(_INSERT_WORK, rows)



class SQLiteInstanceStore(SQLInstanceStore):
    """The SQL store on a SQLite file (WAL mode): ``SQLiteInstanceStore("vip.db")``."""

    def __init__(self, path: str | Path = "vip.db", **kwargs: Any) -> None:
        text = str(path)
        url = text if text.startswith("sqlite:") else (
            "sqlite://" if text == ":memory:" else f"sqlite:///{text}")
        super().__init__(url, **kwargs)


class PostgresInstanceStore(SQLInstanceStore):
    """The SQL store on PostgreSQL through psycopg 3."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        if not sa.make_url(url).get_backend_name() == "postgresql":
            raise StorageError(f"not a PostgreSQL URL: {safe_name(url)}")
        super().__init__(url, **kwargs)


def _relaxed(engine: sa.Engine) -> sa.Engine:
    """``engine`` whose sessions commit without waiting for the WAL flush."""
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi: Any, _record: Any) -> None:
        with dbapi.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")
    return engine


def _keys(instance: ProcessInstance) -> list[str]:
    """The keys an instance keeps in ``vw_work`` (none when it is final)."""
    return [] if instance.final else sorted(instance.work)


def _work_rows(instance_id: str, keys: Sequence[str], row: Mapping[str, Any]
               ) -> list[dict[str, Any]]:
    """The ``vw_work`` rows of an instance's keys, its due time and definition (from its
    instance ``row``) beside each."""
    due, definition = row["next_due"], row["definition"]
    return [{"key": k, "instance_id": instance_id, "due": due, "definition": definition}
            for k in keys]


def _delete_work(c: sa.Connection, ids: Sequence[str]) -> None:
    """Delete the ``vw_work`` rows of ``ids`` (in chunks, within the caller's transaction)."""
    for start in range(0, len(ids), _IN_CHUNK):
        c.execute(s.work.delete().where(s.work.c.instance_id.in_(ids[start:start + _IN_CHUNK])))


def _instance(row: Any, history: Iterable[LedgerEntry], keys: Iterable[str]) -> ProcessInstance:
    """An instance from its row, ledger and keys. The row's ledger head (written in the same
    transaction as the entries) lets ``verify_ledger()`` see trailing entries deleted behind
    the store's back."""
    found: ProcessInstance = evolve(serial.instance_from_row(row, history, work=keys),
                                    ledger_head=(int(row["ledger_seq"]), row["ledger_hash"]))
    return found


def _batch_name(items: Sequence[CommitItem]) -> str:
    return (f"committing instance {items[0][0].id}" if len(items) == 1
            else f"committing {len(items)} instances")


def _parse_due(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _after(w: Any, cursor: WorkCursor) -> Any:
    """The keyset condition of the rows after ``cursor`` in (due nulls last, id) order."""
    if cursor.due is None:
        return sa.and_(w.due.is_(None), w.instance_id > cursor.id)
    due = utc_text(cursor.due)
    return sa.or_(w.due > due, sa.and_(w.due == due, w.instance_id > cursor.id),
                  w.due.is_(None))
