"""Timers: SLA reminders, reassignments and overdue notices, timed events, hand-off markers.

Time comes only from the engine's clock or from the ``now`` given to ``tick``: there are no
threads and no sleeps.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from attrs import frozen

from vip_workflow.domain.instances import SYSTEM, Timer
from vip_workflow.errors import ConcurrentUpdateError, ProcessError
from vip_workflow.processes import gates
from vip_workflow.processes.change import MARKERS, Change

if TYPE_CHECKING:
    from vip_workflow.processes.engine import ProcessEngine

__all__ = ["TickReport", "Timers"]


@frozen
class TickReport:
    """What one ``tick`` did."""

    now: datetime
    instances: tuple[str, ...]
    reminders: int = 0
    escalations: int = 0
    overdue: int = 0
    events: int = 0
    handoffs: int = 0  # hand-off steps left undone by a crash: children started, parents resumed

    def _counts(self) -> dict[str, int]:
        return {"reminders": self.reminders, "escalations": self.escalations,
                "overdue": self.overdue, "events": self.events, "hand-offs": self.handoffs}

    def __repr__(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self._counts().items())
        return (f"<TickReport {self.now:%Y-%m-%d %H:%M}: {len(self.instances)} instance(s); "
                f"{counts}>")

    def _repr_html_(self) -> str:
        from vip_workflow import _html

        ids = _html.table(("instance",), [(i,) for i in self.instances], limit=20,
                          what="instances")
        return _html.frame(f"tick at {self.now:%Y-%m-%d %H:%M}", _html.fields(self._counts()),
                           ids, note=f"{len(self.instances)} instance(s) had timers due")


class Timers:
    """Runs the due timers of an engine's instances."""

    def __init__(self, engine: ProcessEngine) -> None:
        self.engine = engine

    def tick(self, now: datetime, batch: int) -> TickReport:
        """Run every timer due at ``now`` (see ``ProcessEngine.tick``); nothing dispatched."""
        counts = {"remind": 0, "reassign": 0, "overdue": 0, "event": 0, "handoff": 0}
        done: list[str] = []
        seen: set[str] = set()
        while True:
            ids = [i for i in self.engine.store.due(now, batch) if i not in seen]
            if not ids:
                break
            for instance_id in ids:
                seen.add(instance_id)
                fired = self._run_with_retries(instance_id, now)
                if fired is None:
                    continue
                for kind in fired:
                    counts[kind] += 1
                done.append(instance_id)
        return TickReport(
            now, tuple(done), counts["remind"], counts["reassign"], counts["overdue"],
            counts["event"], counts["handoff"],
        )

    def _run_with_retries(self, instance_id: str, now: datetime) -> list[str] | None:
        """``run``, again on a conflict; ``None`` if it kept conflicting (next tick)."""
        for _attempt in range(3):
            try:
                return self.run(instance_id, now)
            except ConcurrentUpdateError:
                continue
        return None

    def run(self, instance_id: str, now: datetime) -> list[str]:
        """Run the instance's due timers in one commit; the kinds of those that fired."""
        engine = self.engine
        inst = engine.store.get(instance_id)
        change = Change(inst, engine._registry.of(inst), now)
        due = [t for t in inst.timers if t.at <= now]
        change.fields["timers"] = tuple(t for t in inst.timers if t.at > now)
        handoffs = engine._handoffs
        fired = ["handoff" for t in due if t.kind in MARKERS and handoffs.marker_step(change, t)]
        if change.get("state") != inst.state:
            due = []  # a parent resumed: the timers of the state it left are void
        for timer in due:
            if timer.kind in MARKERS:
                continue
            fired.append(timer.kind)
            if timer.kind != "event":
                self._escalate(change, timer)
            elif self._fire_event(change, timer):
                break  # entering the next state replaced every timer
        engine._commit_update(change)
        return fired

    def _fire_event(self, change: Change, timer: Timer) -> bool:
        """Fire a timed event; ``False`` (and a ``timer_failed`` entry) if it cannot fire."""
        state = change.inst.state
        try:
            self.engine._commands.fire_event(change, timer.value or "", SYSTEM, None, "timer",
                                             None)
        except ProcessError as exc:  # e.g. no condition holds: record, do not stop
            change.log(SYSTEM.id, "timer_failed", state, state, comment=str(exc),
                       data={"event": timer.value})
            return False
        return True

    def _escalate(self, change: Change, timer: Timer) -> None:
        state = change.get("state")
        spec = change.compiled.states[state]
        round_ = change.get("gate")
        person = change.get("assignee")
        roles: tuple[str, ...]
        users: tuple[str, ...]
        if person:
            roles, users = (), (person,)
        elif spec.gate is not None and round_ is not None:
            level = gates.level_spec(spec.gate, round_.level)
            roles, users = self.engine._entry.recipients(change, level)
        else:
            owner = change.get("escalated_to") or spec.owner
            roles, users = ((owner,) if owner else ()), ()
        if timer.kind == "remind":
            change.log(SYSTEM.id, "remind", state, state)
            change.notify("reminder", roles=roles, users=users)
        elif timer.kind == "overdue":
            change.log(SYSTEM.id, "overdue", state, state)
            change.notify("overdue", roles=roles, users=users)
        else:
            change.fields["escalated_to"] = timer.value
            change.fields["assignee"] = None
            change.log(SYSTEM.id, "escalate", state, state,
                       data={"to": timer.value, **({"from_assignee": person} if person else {})})
            change.notify("escalated", roles=(timer.value,) if timer.value else (),
                          data={"from": list(roles or users), "to": timer.value})
