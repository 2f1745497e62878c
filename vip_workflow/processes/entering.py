"""Entering a state on a change's behalf: timers, gates opened or skipped, hand-offs begun.

Every command that moves an instance ends here, and so does a new instance's start.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from attrs import evolve

from vip_workflow.domain.instances import SYSTEM, Actor, GateRound, ProcessInstance, Timer
from vip_workflow.errors import ProcessError
from vip_workflow.processes import gates
from vip_workflow.processes.change import (
    RESUME_PARENT,
    START_CHILD,
    Change,
    Request,
    child_id,
    markers,
)
from vip_workflow.processes.definitions import AssigneeSpec, GateSpec, Handoff, StateSpec
from vip_workflow.processes.machine import CompiledProcess
from vip_workflow.processes.schedule import add_duration, sla_timers
from vip_workflow.processes.work import pool_roles

if TYPE_CHECKING:
    from vip_workflow.processes.engine import ProcessEngine

__all__ = ["StateEntry"]


class StateEntry:
    """Puts changes' instances into states, for the engine it belongs to."""

    def __init__(self, engine: ProcessEngine) -> None:
        self.engine = engine

    def enter(
        self, change: Change, state: str, actor: Actor, on_behalf_of: str | None, *,
        origin: str | None, spawn: bool = True,
    ) -> None:
        """Put the instance in ``state``: reset timers, open gates, start hand-offs."""
        compiled = change.compiled
        if len(change.entries) > 2 * len(compiled.states) + 4:
            raise ProcessError(  # skipped gates and hand-offs chained into a loop
                f"{compiled.name}: entering {state!r} loops through states that pass on their own"
            )
        spec = compiled.states[state]
        fields = change.fields
        kept = markers(change) if change.get("timers") else ()
        fields["state"] = state
        fields["gate"] = None
        fields["assignee"] = None
        fields["escalated_to"] = None
        fields["timers"] = kept
        if spawn or "waiting_for" not in fields:
            fields["waiting_for"] = None
        if spec.final:
            self._finish(change, spec)
        elif spec.gate is not None:
            fields["final"] = False
            self._open_gate(change, spec.gate, state, actor, on_behalf_of, origin)
        elif spec.handoff is not None:
            fields["final"] = False
            self._hand_off(change, spec, spec.handoff, actor, spawn)
        else:
            fields["final"] = False
            fields["timers"] = kept + self._state_timers(change.now, spec)
            person = self.assign(change, spec.assignee, state)
            if person:
                change.notify("task_assigned", users=(person,))
            else:
                roles = sorted(pool_roles(compiled, spec)) if spec.assignee else (
                    [spec.owner] if spec.owner else [])
                change.notify("task_assigned", roles=roles)

    @staticmethod
    def _state_timers(now: datetime, spec: StateSpec) -> tuple[Timer, ...]:
        if spec.sla is None and not spec.timers:
            return ()
        return sla_timers(now, spec.sla) + tuple(
            Timer(add_duration(now, t.after), "event", t.event) for t in spec.timers)

    def _finish(self, change: Change, spec: StateSpec) -> None:
        change.fields["final"] = True
        change.notify("completed", data={"outcome": spec.outcome or spec.name})
        parent, child, now = change.inst.parent, change.inst.id, change.now
        if parent:
            change.fields["timers"] += (Timer(now, RESUME_PARENT, parent),)
            handoffs = self.engine._handoffs

            def resume() -> None:
                handoffs.resume_parent(parent, child, now)

            change.after.append(resume)

    def assign(self, change: Change, spec: AssigneeSpec | None, state: str) -> str | None:
        """Resolve who holds the step or level being opened (``None``: pool work). A context
        field or resolver that names nobody leaves it in the pool, and the ledger says so."""
        if spec is None or spec.pool is not None:
            return None
        ctx = change.get("context")
        if spec.context is not None:
            value = ctx.get(spec.context)
            person = str(value) if value not in (None, "") else None
        else:
            assert spec.resolver is not None  # one of context, resolver, pool
            inst = evolve(change.inst, context=ctx)
            person = next((str(u) for u in self.engine.resolvers[spec.resolver](inst) if u),
                          None)
        audit = {"source": spec.source, "person": person}
        if person is None:
            audit["fallback"] = "pool"
        else:
            change.fields["assignee"] = person
        if change.entries:  # the entry that opened the step says who holds it, and why
            change.amend({"assignee": audit})
        else:
            change.log(SYSTEM.id, "assign", state, state, data={"assignee": audit})
        return person

    def _open_gate(
        self, change: Change, gate: GateSpec, state: str, actor: Actor,
        on_behalf_of: str | None, origin: str | None,
    ) -> None:
        ctx = change.get("context")
        levels = gates.active_levels(gate, ctx)
        audit = gates.level_audit(gate, ctx)
        if not levels:
            change.log(SYSTEM.id, "gate_skipped", state, gate.approved,
                       comment="no approval level applies", data={"gate": audit})
            self.enter(change, gate.approved, actor, None, origin=state)
            return
        if change.entries:  # the entry that entered the gate says which levels apply
            change.amend({"gate": audit})
        else:
            change.log(SYSTEM.id, "gate_opened", state, state, data={"gate": audit})
        round_ = GateRound(state, actor.id, on_behalf_of, origin or state, change.now, levels)
        change.fields["gate"] = round_
        self.open_level(change, gate, round_)

    def open_level(self, change: Change, gate: GateSpec, round_: GateRound) -> None:
        """Ask the approvers of the round's open level (or the person who holds it)."""
        level = gates.level_spec(gate, round_.level)
        change.fields["timers"] = markers(change) + sla_timers(change.now, gate.sla)
        change.fields["assignee"] = None
        change.fields["escalated_to"] = None
        person = self.assign(change, level.assignee, round_.state)
        if person:
            change.notify("approval_requested", users=(person,),
                          data={"level": level.name, "requester": round_.requester})
            return
        roles, users = self.recipients(change, level)
        change.notify("approval_requested", roles=roles, users=users,
                      data={"level": level.name, "requester": round_.requester})

    def recipients(self, change: Change, level: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The roles and users who fill the seats of ``level`` for the change's instance."""
        escalated = change.get("escalated_to")
        roles = tuple(dict.fromkeys(
            r for r in gates.seat_roles(level, escalated).values() if r is not None
        ))
        inst = evolve(change.inst, context=change.get("context"), escalated_to=escalated)
        found = gates.seat_users(level, inst, self.engine.resolvers)
        users = tuple(sorted({u for group in found.values() for u in group}))
        return roles, users

    def leave_gate(
        self, change: Change, round_: GateRound, kind: str, actor: Actor, comment: str
    ) -> None:
        """Tell the requesters how their approval round ended."""
        change.notify(kind, users=tuple(sorted(round_.requesters)),
                      data={"by": actor.id, "comment": comment, "gate": round_.state})

    def _hand_off(
        self, change: Change, spec: StateSpec, handoff: Handoff, actor: Actor, spawn: bool
    ) -> None:
        if not spawn:
            return
        parent = change.inst
        new_id = child_id(parent.id, handoff.process, change.next_seq())
        # built (and so checked) before anything is committed; committed right after the
        # parent, whose commit carries the start_child marker in case that never happens
        child = self.child_change(parent, handoff, change.get("context"), new_id, change.now,
                                  on_behalf_of=actor.id)
        change.fields["timers"] = (*change.get("timers"), Timer(change.now, START_CHILD, new_id))
        handoffs = self.engine._handoffs
        change.after.append(lambda: handoffs.start_child(child))
        data = {"process": handoff.process, "child": new_id}
        if handoff.wait:
            change.fields["waiting_for"] = new_id
            change.log(SYSTEM.id, "handoff", spec.name, spec.name, data=data)
        else:
            change.log(SYSTEM.id, "handoff", spec.name, handoff.next, data=data)
            assert handoff.next is not None  # a hand-off that does not wait names its next
            self.enter(change, handoff.next, actor, None, origin=spec.name)

    def child_change(
        self, parent: ProcessInstance, handoff: Handoff, ctx: Mapping[str, Any],
        new_id: str, now: datetime, *, on_behalf_of: str | None, comment: str = "",
    ) -> Change:
        """The start of a hand-off's child (raises if the child's context does not fit)."""
        compiled = self.engine._registry.compiled(handoff.process)
        child_ctx = compiled.validate_context(
            {child: ctx[field] for child, field in handoff.context.items()
             if ctx.get(field) is not None})
        return self.start_change(
            compiled, child_ctx, new_id, now, actor=SYSTEM, on_behalf_of=on_behalf_of,
            comment=comment or f"hand-off from {parent.definition} {parent.id}",
            parent=parent.id if handoff.wait else None)

    def start_change(
        self, compiled: CompiledProcess, ctx: dict[str, Any], instance_id: str, now: datetime,
        *, actor: Actor, on_behalf_of: str | None, comment: str, parent: str | None,
        request: Request | None = None,
    ) -> Change:
        """The (uncommitted) start of a new instance, its initial state entered."""
        initial = compiled.definition.initial
        inst = ProcessInstance(
            id=instance_id, definition=compiled.name, definition_version=compiled.version,
            state=initial, context=ctx, version=0, created_at=now, parent=parent,
        )
        change = Change(inst, compiled, now, request)
        change.log(actor.id, "start", None, initial, on_behalf_of=on_behalf_of, comment=comment,
                   data={"context": dict(ctx)})
        self.enter(change, initial, actor, on_behalf_of, origin=None)
        return change
