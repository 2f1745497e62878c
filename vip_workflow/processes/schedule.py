"""Time for the engine: the default clock, ISO 8601 durations, the timers of an SLA."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from vip_workflow.domain.instances import Timer
from vip_workflow.processes.definitions import SlaSpec, parse_duration

__all__ = ["add_duration", "sla_timers", "utc_now"]


def utc_now() -> datetime:
    """The default clock: the current time in UTC."""
    return datetime.now(UTC)


_parse = lru_cache(maxsize=256)(parse_duration)


def add_duration(moment: datetime, duration: str) -> datetime:
    """``moment`` plus an ISO 8601 duration; months are calendar months (clamped to month end)."""
    months, seconds = _parse(duration)
    if months:
        year, month = divmod(moment.month - 1 + months, 12)
        year += moment.year
        day = min(moment.day, calendar.monthrange(year, month + 1)[1])
        moment = moment.replace(year=year, month=month + 1, day=day)
    return moment + timedelta(seconds=seconds)


def sla_timers(now: datetime, sla: SlaSpec | None) -> tuple[Timer, ...]:
    """The timers an SLA starts at ``now``: overdue, reminders and reassignments, in order."""
    if sla is None:
        return ()
    timers = [Timer(add_duration(now, sla.due), "overdue")]
    for rung in sla.escalation:
        kind = "remind" if rung.action == "remind" else "reassign"
        timers.append(Timer(add_duration(now, rung.after), kind, rung.to))
    return tuple(sorted(timers, key=lambda t: t.at))
