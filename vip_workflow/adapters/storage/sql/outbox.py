"""The outbox half of the SQL store: notices waiting, claimed, delivered or dead-lettered,
and notices enqueued with their own keys (``NoticeQueue``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from vip_workflow.adapters.storage import _schema as s
from vip_workflow.adapters.storage.sql.engine import translated, utc_text
from vip_workflow.domain import serial
from vip_workflow.domain.instances import Notice
from vip_workflow.outbox import OutboxItem

__all__ = ["EPOCH", "SQLOutbox", "enqueue_keyed"]

T = TypeVar("T")

_PG_CLAIM = (
    f"UPDATE {s.outbox.name} SET next_attempt_at = %(until)s::text WHERE id IN ("
    f"SELECT id FROM {s.outbox.name} WHERE status = 'pending' "
    "AND next_attempt_at <= %(now)s::text ORDER BY id LIMIT %(limit)s::integer "
    f"FOR UPDATE SKIP LOCKED) RETURNING {', '.join(c.name for c in s.outbox.columns)}")
_PG_ACK = (f"UPDATE {s.outbox.name} SET status = 'delivered', delivered_at = %(at)s::text "
           "WHERE id = ANY(%(ids)s::integer[])")

EPOCH = "0001-01-01T00:00:00.000000+00:00"  # "due at once", whatever the dispatcher's clock


def enqueue_keyed(c: sa.Connection, items: Iterable[tuple[str, Notice]]) -> None:
    """Insert keyed notices on ``c`` (in its transaction); a key already in the outbox, or
    given twice, is ignored (``ON CONFLICT (key) DO NOTHING``)."""
    rows: dict[str, dict[str, Any]] = {}
    for key, notice in items:
        rows.setdefault(key, {**serial.notice_to_row(notice), "key": key,
                              "status": "pending", "attempts": 0,
                              "next_attempt_at": utc_text(notice.at)})
    if not rows:
        return
    dialect = postgresql if c.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(s.outbox).on_conflict_do_nothing(index_elements=["key"])
    c.execute(statement, list(rows.values()))


class SQLOutbox:
    """The outbox methods of ``SQLInstanceStore`` (``OutboxStore`` and ``NoticeQueue``)."""

    engine: sa.Engine
    _write: sa.Engine
    _postgres: bool
    _pg_writer: sa.Engine | None

    def pg_once(self, run: Callable[[sa.Connection], T], *, relaxed: bool = False) -> T:
        raise NotImplementedError  # SQLInstanceStore's

    def pending_notices(self, limit: int = 1000) -> list[tuple[int, Notice]]:
        """Outbox entries not yet delivered (nor dead), oldest first, with their ids."""
        return [(item.id, item.notice) for item in self._items("pending", limit)]

    def ack_notices(self, outbox_ids: Iterable[int]) -> None:
        """Mark outbox entries as delivered."""
        ids = list(outbox_ids)
        if not ids:
            return
        at = utc_text(datetime.now(UTC))
        with translated("acknowledging notices"):
            if self._pg_writer is not None:  # one statement, autocommit: one round trip
                self.pg_once(lambda c: c.exec_driver_sql(_PG_ACK, {"ids": ids, "at": at}),
                             relaxed=True)
                return
            statement = (s.outbox.update().where(s.outbox.c.id.in_(ids))
                         .values(status="delivered", delivered_at=at))
            with self._write.begin() as c:
                c.execute(statement)

    # ------------------------------------------------------------- NoticeQueue

    def enqueue_notices(self, items: Iterable[tuple[str, Notice]]) -> None:
        """Add notices with their keys in one transaction; a key already in the outbox is
        ignored (``ON CONFLICT (key) DO NOTHING``; see ``NoticeQueue``)."""
        with translated("enqueueing notices"), self._write.begin() as c:
            enqueue_keyed(c, items)

    def notice_keys(self, outbox_ids: Iterable[int]) -> dict[int, str]:
        """The keys of the given outbox entries."""
        ids = list(outbox_ids)
        o = s.outbox.c
        found: dict[int, str] = {}
        with translated("reading notice keys"), self.engine.connect() as c:
            for start in range(0, len(ids), 500):
                query = sa.select(o.id, o.key).where(o.id.in_(ids[start:start + 500]))
                found.update({row[0]: row[1] for row in c.execute(query)})
        return found

    # ------------------------------------------------------------- OutboxStore

    def claim_notices(self, now: datetime, limit: int = 100, *,
                      lease: timedelta = timedelta(seconds=60)) -> list[OutboxItem]:
        """Pending notices due at ``now``, oldest first, leased for ``lease``: another
        dispatcher does not see them until the lease ends (or they are acked or failed)."""
        if self._pg_writer is not None:
            return self._claim_postgres(utc_text(now), limit, utc_text(now + lease))
        o = s.outbox.c
        query = (sa.select(s.outbox).where(o.status == "pending",
                                           o.next_attempt_at <= utc_text(now))
                 .order_by(o.id).limit(limit))
        with translated("claiming notices"), self._write.begin() as c:
            rows = c.execute(query).mappings().all()
            if rows:
                c.execute(s.outbox.update().where(o.id.in_([r["id"] for r in rows]))
                          .values(next_attempt_at=utc_text(now + lease)))
        return [_item(r) for r in rows]

    def _claim_postgres(self, now: str, limit: int, until: str) -> list[OutboxItem]:
        """Claim as one statement (``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)
        RETURNING``, plain SQL: nothing built or compiled a call) on an autocommit
        connection: one round trip. Repeating it after a dropped connection claims only
        what is still unclaimed."""
        params = {"now": now, "limit": limit, "until": until}
        with translated("claiming notices"):
            rows = self.pg_once(lambda c: c.exec_driver_sql(_PG_CLAIM, params).mappings().all(),
                                relaxed=True)
        return [_item(r) for r in sorted(rows, key=lambda r: r["id"])]

    def fail_notice(self, outbox_id: int, *, error: str, retry_at: datetime | None) -> None:
        """Count a failed attempt: try again at ``retry_at``, or (``None``) dead-letter it."""
        o = s.outbox.c
        values: dict[str, Any] = {"attempts": o.attempts + 1, "last_error": error[:2000]}
        if retry_at is None:
            values["status"] = "dead"
        else:
            values["next_attempt_at"] = utc_text(retry_at)
        with translated("recording a failed delivery"), self._write.begin() as c:
            c.execute(s.outbox.update().where(o.id == outbox_id).values(values))

    def dead_notices(self, limit: int = 1000) -> list[OutboxItem]:
        """Dead-lettered notices, oldest first."""
        return self._items("dead", limit)

    def requeue_notices(self, outbox_ids: Iterable[int]) -> int:
        """Give dead-lettered notices a fresh set of attempts; returns how many."""
        ids = list(outbox_ids)
        if not ids:
            return 0
        o = s.outbox.c
        with translated("requeueing notices"), self._write.begin() as c:
            done = c.execute(s.outbox.update().where(o.id.in_(ids), o.status == "dead").values(
                status="pending", attempts=0, next_attempt_at=EPOCH))
            return done.rowcount

    def outbox_counts(self) -> dict[str, int]:
        """How many outbox entries are ``pending``, ``delivered`` and ``dead``."""
        o = s.outbox.c
        with translated("counting notices"), self.engine.connect() as c:
            rows = c.execute(sa.select(o.status, sa.func.count()).group_by(o.status)).all()
        return {"pending": 0, "delivered": 0, "dead": 0, **{r[0]: r[1] for r in rows}}

    def _items(self, status: str, limit: int) -> list[OutboxItem]:
        o = s.outbox.c
        query = sa.select(s.outbox).where(o.status == status).order_by(o.id).limit(limit)
        with translated("reading the outbox"), self.engine.connect() as c:
            return [_item(r) for r in c.execute(query).mappings()]


def _item(row: Any) -> OutboxItem:
    return OutboxItem(
        id=row["id"], notice=serial.notice_from_row(row), key=row["key"],
        attempts=row["attempts"], next_attempt_at=datetime.fromisoformat(row["next_attempt_at"]),
        last_error=row["last_error"], status=row["status"])

