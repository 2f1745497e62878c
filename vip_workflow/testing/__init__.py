"""Helpers for testing code that uses vip_workflow: a frozen clock, sample instances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["FrozenClock"]


class FrozenClock:
    """A clock that stands still until moved: pass it as ``ProcessEngine(clock=...)``.

    >>> clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    >>> clock.advance(days=2).isoformat()
    '2026-01-03T00:00:00+00:00'
    """

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
        if self.now.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move forward by ``delta`` or by ``timedelta(**parts)``; returns the new time."""
        self.now += delta if delta is not None else timedelta(**parts)
        return self.now

    def set(self, now: datetime) -> datetime:
        """Jump to ``now``."""
        if now.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self.now = now
        return now
