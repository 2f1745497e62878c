"""The transactional outbox's dispatcher: delivers stored notices at least once.

Every notice is written by the store in the same transaction as the change that caused it;
``Dispatcher.dispatch()`` reads the due ones, hands each to the notifier with its idempotency
key, marks the delivered ones, and schedules failed ones again with exponential backoff — until
``max_attempts``, after which the notice is dead-lettered (kept, never sent again unless
requeued). A crash between sending and marking sends the notice again: receivers drop
duplicates by key.

Stores that implement ``OutboxStore`` (the SQL store) keep the retry state durably; for any
other ``InstanceStore`` (the memory store) the dispatcher keeps it itself. Notices enqueued
with their own keys (``NoticeQueue.enqueue_notices``) are sent with those keys; the other
notices of such a store get a fresh key each, kept for all their retries.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar, runtime_checkable

from attrs import field, frozen

from vip_workflow.domain.instances import Notice
from vip_workflow.errors import ConcurrentUpdateError, NotificationError
from vip_workflow.ports import InstanceStore, NoticeQueue, Notifier

__all__ = [
    "Backoff",
    "DispatchReport",
    "Dispatcher",
    "FanoutNotifier",
    "OutboxItem",
    "OutboxStore",
    "notice_key_of",
    "notice_payload",
    "retry_on_conflict",
    "send_with_key",
]

T = TypeVar("T")


@frozen
class OutboxItem:
    """A notice in the outbox with its delivery state."""

    id: int
    notice: Notice
    key: str
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    status: str = "pending"


@runtime_checkable
class OutboxStore(Protocol):
    """A store that keeps the outbox's delivery state itself (durably)."""

    def claim_notices(self, now: datetime, limit: int = 100, *,
                      lease: timedelta = ...) -> list[Any]:
        """Pending notices due at ``now`` (``OutboxItem``-like), leased to the caller."""
        ...

    def ack_notices(self, outbox_ids: Iterable[int]) -> None:
        """Mark notices delivered."""
        ...

    def fail_notice(self, outbox_id: int, *, error: str, retry_at: datetime | None) -> None:
        """Count a failed attempt; ``retry_at=None`` dead-letters the notice."""
        ...

    def dead_notices(self, limit: int = 1000) -> list[Any]:
        """Dead-lettered notices, oldest first."""
        ...

    def requeue_notices(self, outbox_ids: Iterable[int]) -> int:
        """Give dead-lettered notices a fresh set of attempts."""
        ...


@frozen
class Backoff:
    """Exponential backoff: ``base * factor ** (attempt - 1)``, capped at ``cap``, with up to
    ``jitter`` (a fraction) added at random."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 3600.0
    jitter: float = 0.1

    def delay(self, attempt: int) -> timedelta:
        """How long to wait after the ``attempt``-th failure (1-based)."""
        seconds = min(self.cap, self.base * self.factor ** max(0, attempt - 1))
        seconds += seconds * self.jitter * random.random()
        return timedelta(seconds=seconds)


@frozen
class DispatchReport:
    """What one ``dispatch()`` did."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0
    errors: tuple[str, ...] = field(default=(), repr=False)

    @property
    def attempted(self) -> int:
        """Notices handed to the notifier."""
        return self.delivered + self.retried + self.dead

    def __int__(self) -> int:
        return self.delivered


def notice_key_of(outbox_id: int, notice: Notice) -> str:
    """A key for a notice of a store that does not keep keys (derived from its content)."""
    from vip_workflow.domain import serial

    text = serial.dumps([outbox_id, serial.notice_to_row(notice)])
    return "vwm-" + hashlib.sha256(text.encode()).hexdigest()[:40]


def notice_payload(notice: Notice, key: str | None = None) -> dict[str, Any]:
    """The JSON body notifiers send: the notice's fields (times as ISO text) and its key."""
    return {
        "key": key, "kind": notice.kind, "instance_id": notice.instance_id,
        "process": notice.process, "state": notice.state, "at": notice.at.isoformat(),
        "roles": list(notice.roles), "users": list(notice.users),
        "data": None if notice.data is None else dict(notice.data),
    }


def send_with_key(notifier: Notifier, notice: Notice, key: str) -> None:
    """``notifier.send(notice, key=key)``: every ``Notifier`` takes the key (since 0.2)."""
    notifier.send(notice, key=key)


class FanoutNotifier:
    """Sends every notice to each of ``notifiers`` in turn; the first failure propagates (the
    dispatcher then retries the notice on all of them: receivers drop duplicates by key)."""

    def __init__(self, notifiers: Iterable[Notifier]) -> None:
        self.notifiers = list(notifiers)

    def __repr__(self) -> str:
        return f"FanoutNotifier({self.notifiers!r})"

    def send(self, notice: Notice, *, key: str | None = None) -> None:
        """Send to each notifier."""
        for notifier in self.notifiers:
            send_with_key(notifier, notice, key or notice_key_of(0, notice))


class Dispatcher:
    """Delivers a store's outbox through a notifier, with retries and dead letters.

    Args:
        store: any ``InstanceStore``; an ``OutboxStore`` keeps retry state durably.
        notifier: a ``Notifier``; its ``send`` gets each notice's ``key=``.
        max_attempts: attempts before a notice is dead-lettered.
        backoff: a ``Backoff`` (or a callable ``attempt -> timedelta``).
        clock: returns the current aware ``datetime`` (default UTC now).
        lease: how long a claimed notice stays hidden from other dispatchers.
    """

    def __init__(
        self,
        store: InstanceStore,
        notifier: Notifier,
        *,
        max_attempts: int = 8,
        backoff: Backoff | Callable[[int], timedelta] | None = None,
        clock: Callable[[], datetime] | None = None,
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.store = store
        self.notifier = notifier
        self.max_attempts = max_attempts
        backoff = backoff if backoff is not None else Backoff()
        self._delay = backoff.delay if isinstance(backoff, Backoff) else backoff
        self.clock = clock or (lambda: datetime.now(UTC))
        self.lease = lease
        self._durable = isinstance(store, OutboxStore)
        self._given_keys = isinstance(store, NoticeQueue)
        # retry state of a store that does not keep it: outbox id -> item
        self._tracked: dict[int, OutboxItem] = {}
        self._dead: dict[int, OutboxItem] = {}
        # keys for a store that keeps none: unique to this dispatcher, then the outbox id
        self._key_prefix = uuid.uuid4().hex[:16]

    # ------------------------------------------------------------- dispatch

    def dispatch(self, limit: int = 1000) -> DispatchReport:
        """Try every due notice once (up to ``limit``); returns what happened."""
        now = self.clock()
        items = self._claim(now, limit)
        delivered: list[int] = []
        retried = dead = 0
        errors: list[str] = []
        send = self.notifier.send
        for item in items:
            try:
                send(item.notice, key=item.key)
            except NotificationError as exc:
                retryable = getattr(exc, "retryable", True)
                attempts = item.attempts + 1
                give_up = not retryable or attempts >= self.max_attempts
                retry_at = None if give_up else now + self._delay(attempts)
                self._fail(item, f"{type(exc).__name__}: {exc}", retry_at)
                errors.append(f"{item.key}: {exc}")
                if give_up:
                    dead += 1
                else:
                    retried += 1
                continue
            delivered.append(item.id)
        if delivered:
            self.store.ack_notices(delivered)
            for outbox_id in delivered:
                self._tracked.pop(outbox_id, None)
        return DispatchReport(len(delivered), retried, dead, tuple(errors))

    def run(self, *, forever: bool = False, interval: float = 1.0, limit: int = 1000,
            stop: Callable[[], bool] | None = None) -> DispatchReport:
        """Dispatch until nothing is due (or, with ``forever``, until ``stop()`` is true),
        sleeping ``interval`` seconds when idle; returns the totals."""
        total = DispatchReport()
        while True:
            report = self.dispatch(limit)
            total = DispatchReport(total.delivered + report.delivered,
                                   total.retried + report.retried, total.dead + report.dead,
                                   (*total.errors, *report.errors)[-100:])
            if stop is not None and stop():
                return total
            if report.attempted == 0 or (report.delivered == 0 and report.retried):
                if not forever:
                    return total
                time.sleep(interval)

    # ------------------------------------------------------------- dead letters

    def dead_letters(self, limit: int = 1000) -> list[OutboxItem]:
        """Notices that ran out of attempts (or failed for good), oldest first."""
        if self._durable:
            return list(self.store.dead_notices(limit))  # type: ignore[attr-defined]
        return list(self._dead.values())[:limit]

    def requeue(self, outbox_ids: Iterable[int] | None = None) -> int:
        """Give dead letters (all, or those named) a fresh set of attempts."""
        ids = [i.id for i in self.dead_letters()] if outbox_ids is None else list(outbox_ids)
        if self._durable:
            return int(self.store.requeue_notices(ids))  # type: ignore[attr-defined]
        count = 0
        for outbox_id in ids:
            item = self._dead.pop(outbox_id, None)
            if item is not None:
                self._tracked[outbox_id] = OutboxItem(item.id, item.notice, item.key)
                count += 1
        return count

    # ------------------------------------------------------------- state keeping

    def _claim(self, now: datetime, limit: int) -> list[OutboxItem]:
        if self._durable:
            return list(self.store.claim_notices(now, limit, lease=self.lease))  # type: ignore
        items = []
        pending = self.store.pending_notices(limit + len(self._dead))
        fresh = [i for i, _ in pending if i not in self._tracked and i not in self._dead]
        given: dict[int, str] = (self.store.notice_keys(fresh)  # type: ignore[attr-defined]
                                 if fresh and self._given_keys else {})
        for outbox_id, notice in pending:
            if outbox_id in self._dead:
                continue
            item = self._tracked.get(outbox_id)
            if item is None:  # its given key or a fresh one, kept for every retry of it
                key = given.get(outbox_id) or f"vwm-{self._key_prefix}-{outbox_id}"
                item = OutboxItem(outbox_id, notice, key)
                self._tracked[outbox_id] = item
            if item.next_attempt_at is None or item.next_attempt_at <= now:
                items.append(item)
            if len(items) >= limit:
                break
        return items

    def _fail(self, item: OutboxItem, error: str, retry_at: datetime | None) -> None:
        if self._durable:
            self.store.fail_notice(item.id, error=error, retry_at=retry_at)  # type: ignore
            return
        failed = OutboxItem(item.id, item.notice, item.key, item.attempts + 1, retry_at, error,
                            "pending" if retry_at else "dead")
        if retry_at is None:
            self._tracked.pop(item.id, None)
            self._dead[item.id] = failed
        else:
            self._tracked[item.id] = failed


def retry_on_conflict(fn: Callable[[], T], *, attempts: int = 5, delay: float = 0.005,
                      factor: float = 2.0) -> T:
    """Call ``fn()`` again when it raises ``ConcurrentUpdateError`` (up to ``attempts`` calls,
    sleeping ``delay * factor ** k`` with jitter in between); ``fn`` must re-read what it
    changes, e.g. ``retry_on_conflict(lambda: engine.approve(iid, actor=a))``.

    Other errors, and the last conflict, propagate.
    """
    for attempt in range(attempts):
        try:
            return fn()
        except ConcurrentUpdateError:
            if attempt == attempts - 1:
                raise
            time.sleep(delay * factor ** attempt * (1 + random.random()))
    raise AssertionError("unreachable")  # pragma: no cover

