"""The engine's commands: each loads an instance, checks the actor's authority and builds
the whole change (new state, ledger entries, notices) that the engine then commits at once.

A command that raises has changed nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from attrs import evolve

from vip_workflow.domain.instances import (
    SYSTEM,
    Actor,
    Delegation,
    GateRound,
    ProcessInstance,
    Vote,
)
from vip_workflow.errors import (
    ApprovalError,
    NotFoundError,
    PermissionDenied,
    ProcessError,
    RequestIdConflictError,
    TransitionNotAllowedError,
)
from vip_workflow.processes import gates
from vip_workflow.processes.change import Change, Request
from vip_workflow.processes.conditions import holds
from vip_workflow.processes.definitions import GateSpec
from vip_workflow.processes.machine import CompiledProcess, CompiledTransition

if TYPE_CHECKING:
    from vip_workflow.processes.engine import ProcessEngine

__all__ = ["ADMIN_ROLE", "Commands", "fire_roles"]

#: The role allowed to migrate instances between definition versions.
ADMIN_ROLE = "process_admin"


def fire_roles(inst: ProcessInstance, ways: Iterable[CompiledTransition]) -> frozenset[str]:
    """The roles that may fire one of ``ways`` in the instance's state."""
    if inst.assignee:  # escalated: the step now belongs to the role it was reassigned to
        return frozenset({inst.assignee})
    roles: frozenset[str] = frozenset()
    for way in ways:
        roles |= way.roles
    return roles


def check_starter(actor: Actor, compiled: CompiledProcess) -> None:
    """``PermissionDenied`` unless the actor may start the process."""
    if actor is not SYSTEM and not actor.has_any(compiled.starter_roles):
        raise PermissionDenied(actor.id, f"start {compiled.name}",
                               f"needs one of {sorted(compiled.starter_roles)}")


class Commands:
    """Builds and commits the changes of an engine's commands."""

    def __init__(self, engine: ProcessEngine) -> None:
        self.engine = engine

    def load(self, instance_id: str, now: datetime | None = None,
             request: Request | None = None) -> Change:
        """A change of the stored instance, at ``now`` (default: the clock)."""
        engine = self.engine
        inst = engine.store.get(instance_id)
        return Change(inst, engine._registry.of(inst), now or engine.clock(), request)

    def replay(self, instance_id: str, request: Request | None) -> ProcessInstance | None:
        """The current instance if ``request`` was already applied to it; ``None`` if its id
        is new there. ``RequestIdConflictError`` if the id was used by another actor, command
        or arguments (an entry written before digests were kept is matched by actor and
        action)."""
        if request is None:
            return None
        try:
            inst = self.engine.store.get(instance_id)
        except NotFoundError:
            return None
        for entry in reversed(inst.history):
            if not entry.data or entry.data.get("request_id") != request.id:
                continue
            digest = entry.data.get("request_digest")
            if digest == request.digest or (digest is None and entry.actor == request.actor
                                            and entry.action == request.action):
                return inst
            raise RequestIdConflictError(
                inst.id, request.id, request.actor, request.command,
                f"it was first used by {entry.actor!r} for {entry.action!r} (ledger entry "
                f"{entry.seq}); a replay must repeat that call exactly")
        return None

    # ----------------------------------------------------------------- fire, update

    def fire_event(
        self, change: Change, event: str, actor: Actor, on_behalf_of: str | None,
        comment: str, data: Mapping[str, Any] | None,
    ) -> None:
        """Take the first transition for ``event`` whose condition holds."""
        inst, compiled = change.inst, change.compiled
        if inst.final:
            raise TransitionNotAllowedError(inst.id, inst.state, event, "the instance is finished")
        ways = compiled.ways(inst.state, event)
        if not ways:
            hint = "use approve/reject/recall" if inst.gate is not None else ""
            raise TransitionNotAllowedError(inst.id, inst.state, event, hint)
        if actor is not SYSTEM:
            roles = fire_roles(inst, ways)
            if not actor.has_any(roles):
                raise PermissionDenied(actor.id, f"fire {event!r} in {inst.state!r}",
                                       f"needs one of {sorted(roles)}")
        ctx = inst.context
        if data:
            ctx = compiled.validate_context({**inst.context, **data})
            change.fields["context"] = ctx
        for way in ways:
            if way.when is None or holds(way.when, ctx):
                break
        else:
            raise TransitionNotAllowedError(inst.id, inst.state, event, "no condition holds")
        change.log(actor.id, event, inst.state, way.dest, on_behalf_of=on_behalf_of,
                   comment=comment, data=dict(data) if data else None)
        self.engine._entry.enter(change, way.dest, actor, on_behalf_of, origin=inst.state)

    def update_context(self, change: Change, data: Mapping[str, Any], actor: Actor,
                       comment: str) -> None:
        """Change context fields; the current step's owner (or assignee) or an admin may."""
        inst = change.inst
        owner = inst.assignee or change.compiled.states[inst.state].owner
        allowed = {ADMIN_ROLE} | ({owner} if owner else set())
        if inst.final or not actor.has_any(allowed):
            raise PermissionDenied(actor.id, f"update the context of {inst.id}")
        change.fields["context"] = change.compiled.validate_context({**inst.context, **data})
        change.log(actor.id, "update", inst.state, inst.state, comment=comment, data=dict(data))

    # ----------------------------------------------------------------- gates

    def open_gate(self, change: Change, action: str) -> tuple[GateRound, GateSpec]:
        """The instance's open approval round and its gate (or ``TransitionNotAllowedError``)."""
        inst = change.inst
        spec = change.compiled.states[inst.state]
        if inst.gate is None or spec.gate is None:
            raise TransitionNotAllowedError(inst.id, inst.state, action, "no open approval")
        return inst.gate, spec.gate

    def decide(self, change: Change, actor: Actor, decision: str, comment: str,
               to: str | None) -> None:
        """Record an approval or rejection on the open level, and move on if it is decided."""
        inst, now = change.inst, change.now
        round_, gate = self.open_gate(change, decision)
        authority = gates.choose_authority(
            actor=actor, gate=gate, round_=round_, instance=inst,
            resolvers=self.engine.resolvers, now=now, action=f"{decision} {inst.id}",
        )
        if to is not None and to not in gate.reject_targets:
            raise ApprovalError(
                f"cannot reject to {to!r}; allowed: {', '.join(gate.reject_targets)}"
            )
        level = gates.level_spec(gate, round_.level)
        vote = Vote(level.name, authority.seats[0], actor.id, authority.on_behalf_of, decision,
                    now, comment)
        votes = (*round_.votes, vote)
        if inst.assignee:  # escalated: the role it was reassigned to decides the level alone
            outcome = "approved" if decision == "approve" else "rejected"
        else:
            outcome = gates.level_outcome(level, votes)
        last_level = round_.position + 1 >= len(round_.levels)
        if outcome == "approved" and last_level:
            _check_separation(inst, gate, round_, votes)
        round_ = evolve(round_, votes=votes)
        change.fields["gate"] = round_
        dest = {"pending": inst.state, "rejected": to or gate.rejected}.get(
            outcome, inst.state if not last_level else gate.approved)
        change.log(actor.id, decision, inst.state, dest, comment=comment,
                   on_behalf_of=authority.on_behalf_of,
                   data={"level": level.name, "seat": vote.seat})
        if outcome != "pending":
            self._after_decision(change, gate, round_, outcome, last_level, dest, actor,
                                 comment)

    def _after_decision(
        self, change: Change, gate: GateSpec, round_: GateRound, outcome: str,
        last_level: bool, dest: str, actor: Actor, comment: str,
    ) -> None:
        entry, state = self.engine._entry, change.inst.state
        if outcome == "approved" and not last_level:
            change.fields["gate"] = evolve(round_, position=round_.position + 1, delegations=())
            change.fields["assignee"] = None
            entry.open_level(change, gate, change.fields["gate"])
            return
        kind = "approval_granted" if outcome == "approved" else "approval_rejected"
        entry.leave_gate(change, round_, kind, actor, comment)
        entry.enter(change, dest, actor, None, origin=state)

    def recall(self, change: Change, actor: Actor, comment: str) -> None:
        """The requester withdraws an open approval request; the instance goes back."""
        inst = change.inst
        round_ = inst.gate
        if round_ is None:
            raise TransitionNotAllowedError(inst.id, inst.state, "recall", "no open approval")
        if actor.id not in round_.requesters:
            raise PermissionDenied(actor.id, f"recall {inst.id}", "only the requester may")
        change.log(actor.id, "recall", inst.state, round_.origin, comment=comment)
        entry = self.engine._entry
        entry.leave_gate(change, round_, "approval_recalled", actor, comment)
        entry.enter(change, round_.origin, actor, None, origin=inst.state)

    def delegate(self, change: Change, actor: Actor, to: str, until: datetime,
                 comment: str) -> None:
        """Let user ``to`` decide in the actor's place on the open gate until ``until``."""
        inst, now = change.inst, change.now
        round_, gate = self.open_gate(change, "delegate")
        live = [d for d in round_.delegations if d.until > now]
        self._check_delegator(inst, gate, round_, actor, live)
        asked = gates.requesters(round_, inst)
        gates.check_not_requester(actor.id, (actor.id,), gate, asked)
        _check_delegation(actor, to, until, now, asked, live)
        delegation = Delegation(actor.id, to, until, actor.roles)
        change.fields["gate"] = evolve(round_, delegations=(*live, delegation))
        change.log(actor.id, "delegate", inst.state, inst.state, comment=comment,
                   data={"to": to, "until": until.isoformat()})
        change.notify("task_assigned", users=(to,),
                      data={"delegated_by": actor.id, "until": until.isoformat()})

    def _check_delegator(self, inst: ProcessInstance, gate: GateSpec, round_: GateRound,
                         actor: Actor, live: list[Delegation]) -> None:
        """The actor must be an approver of the open level in their own right."""
        level = gates.level_spec(gate, round_.level)
        users = gates.seat_users(level, inst, self.engine.resolvers)
        direct = [
            key for key, role in gates.seat_roles(level, inst.assignee).items()
            if (role in actor.roles) or actor.id in users.get(key, frozenset())
        ]
        if direct:
            return
        if any(d.delegate == actor.id for d in live):
            raise ApprovalError(f"{actor.id!r} acts by delegation and may not delegate on")
        raise PermissionDenied(actor.id, f"delegate on {inst.id}", "not an approver")

    # ----------------------------------------------------------------- migrate

    def migrate(self, inst: ProcessInstance, target: CompiledProcess, actor: Actor,
                state_map: Mapping[str, str] | None, context: Mapping[str, Any] | None,
                comment: str) -> Change:
        """The change moving an instance to another version of its definition."""
        state = (state_map or {}).get(inst.state, inst.state)
        if state not in target.states:
            raise ProcessError(
                f"state {inst.state!r} has no counterpart in {inst.definition} "
                f"v{target.version}; map it in state_map"
            )
        change = Change(inst, target, self.engine.clock())
        declared = target.definition.context
        dropped = sorted(k for k in inst.context if k not in declared)
        kept = {k: v for k, v in inst.context.items() if k in declared}
        change.fields["context"] = target.validate_context({**kept, **(context or {})})
        change.fields["definition_version"] = target.version
        data: dict[str, Any] = {"from_version": inst.definition_version,
                                "to_version": target.version}
        if dropped:
            data["dropped_fields"] = dropped
        if inst.gate is not None:
            data["dropped_votes"] = len(inst.gate.votes)
        change.log(actor.id, "migrate", inst.state, state, comment=comment, data=data)
        spawn = not (inst.waiting_for and target.states[state].handoff is not None)
        if not spawn:
            change.fields["waiting_for"] = inst.waiting_for
        self.engine._entry.enter(change, state, actor, None,
                                 origin=inst.gate.origin if inst.gate else None, spawn=spawn)
        return change


def _check_separation(inst: ProcessInstance, gate: GateSpec, round_: GateRound,
                      votes: tuple[Vote, ...]) -> None:
    """The last approval needs enough different people, the requesters included."""
    people = gates.requesters(round_, inst) | {v.person for v in votes} | {
        v.actor for v in votes}
    if len(people) < gate.separation_of_duties.min_people:
        raise ApprovalError(
            f"gate {inst.state!r} needs {gate.separation_of_duties.min_people} different "
            "people (requester included)"
        )


def _check_delegation(actor: Actor, to: str, until: datetime, now: datetime,
                      asked: frozenset[str] | set[str], live: list[Delegation]) -> None:
    """Refuse a delegation to oneself, to a requester, into the past, or in a cycle/chain."""
    if to == actor.id:
        raise ApprovalError("one cannot delegate to oneself")
    if to in asked:
        raise ApprovalError("the requester may not receive a delegation for their request")
    if until <= now:
        raise ApprovalError("a delegation must end in the future")
    if any(d.principal == to and d.delegate == actor.id for d in live):
        raise ApprovalError(f"{to!r} delegated to {actor.id!r}: that would be a cycle")
    if any(d.principal == actor.id for d in live):
        raise ApprovalError(f"{actor.id!r} has already delegated on this gate")
    if any(d.principal == to for d in live):
        raise ApprovalError(f"{to!r} has delegated their own authority; no chains")
