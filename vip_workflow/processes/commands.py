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
    AlreadyClaimedError,
    ApprovalError,
    NotFoundError,
    PermissionDenied,
    ProcessError,
    RequestIdConflictError,
    TransitionNotAllowedError,
)
from vip_workflow.processes import gates
from vip_workflow.processes.change import Change, Request, context_changes
from vip_workflow.processes.conditions import holds
from vip_workflow.processes.definitions import GateSpec
from vip_workflow.processes.machine import CompiledProcess, CompiledTransition

if TYPE_CHECKING:
    from vip_workflow.processes.engine import ProcessEngine

__all__ = ["ADMIN_ROLE", "Commands", "fire_roles", "may_fire"]

#: The role allowed to migrate instances between definition versions.
ADMIN_ROLE = "process_admin"


def fire_roles(inst: ProcessInstance, ways: Iterable[CompiledTransition]) -> frozenset[str]:
    """The roles that may fire one of ``ways`` in the instance's state."""
    if inst.escalated_to:  # escalated: the step now belongs to the role it was reassigned to
        return frozenset({inst.escalated_to})
    roles: frozenset[str] = frozenset()
    for way in ways:
        roles |= way.roles
    return roles


def may_fire(actor: Actor, inst: ProcessInstance, compiled: CompiledProcess,
             ways: Iterable[CompiledTransition]) -> bool:
    """Whether ``actor`` may fire one of ``ways`` now in their own right: they hold a role
    that may, and the step is theirs (they hold it) or pool work of a role they hold."""
    if not actor.has_any(fire_roles(inst, ways)):
        return False
    if inst.assignee:
        return inst.assignee == actor.id
    spec = compiled.states[inst.state].assignee
    pool = spec.pool if spec is not None and not inst.escalated_to else None
    return pool is None or pool in actor.roles


def supervises(actor: Actor, compiled: CompiledProcess) -> bool:
    """Whether ``actor`` holds one of the definition's supervisor roles."""
    return actor.has_any(compiled.definition.supervisor_roles)


def override(actor: Actor, inst: ProcessInstance, compiled: CompiledProcess, comment: str,
             action: str) -> dict[str, str]:
    """The ledger data of a supervisor acting in the place of the person holding the work;
    ``PermissionDenied`` for anyone else, or a supervisor without a reason."""
    if not supervises(actor, compiled):
        raise PermissionDenied(actor.id, action, f"the work is assigned to {inst.assignee!r}")
    if not comment.strip():
        raise PermissionDenied(actor.id, action, f"the work is assigned to {inst.assignee!r}; "
                               "a supervisor acting in their place gives a reason (comment)")
    return {"override": "supervisor"}


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
        audit = self._fire_authority(change, event, ways, actor, comment)
        ctx = inst.context
        if data:
            ctx = compiled.validate_context({**inst.context, **data})
            change.fields["context"] = ctx
            audit["data"] = dict(data)
            changes = context_changes(inst.context, ctx)
            if changes:
                audit["changes"] = changes
        for way in ways:
            if way.when is None or holds(way.when, ctx):
                break
        else:
            raise TransitionNotAllowedError(inst.id, inst.state, event, "no condition holds")
        change.log(actor.id, event, inst.state, way.dest, on_behalf_of=on_behalf_of,
                   comment=comment, data=audit or None)
        self.engine._entry.enter(change, way.dest, actor, on_behalf_of, origin=inst.state)

    def _fire_authority(self, change: Change, event: str, ways: tuple[CompiledTransition, ...],
                        actor: Actor, comment: str) -> dict[str, Any]:
        """Check the actor may fire; the ledger data of a supervisor's override (or none)."""
        inst, compiled = change.inst, change.compiled
        if actor is SYSTEM or may_fire(actor, inst, compiled, ways):
            return {}
        action = f"fire {event!r} in {inst.state!r}"
        if inst.assignee:
            return override(actor, inst, compiled, comment, action)
        roles = fire_roles(inst, ways)
        spec = compiled.states[inst.state].assignee
        if spec is not None and spec.pool is not None and not inst.escalated_to:
            roles = roles & {spec.pool}
        raise PermissionDenied(actor.id, action, f"needs one of {sorted(roles)}")

    def update_context(self, change: Change, data: Mapping[str, Any], actor: Actor,
                       comment: str) -> None:
        """Change context fields: the step's owner role (the role it was escalated to) or an
        admin; while a person holds the step, that person (or a supervisor, with a reason)."""
        inst = change.inst
        action = f"update the context of {inst.id}"
        owner = inst.escalated_to or change.compiled.states[inst.state].owner
        allowed = {ADMIN_ROLE} | ({owner} if owner else set())
        if inst.final or not actor.has_any(allowed):
            raise PermissionDenied(actor.id, action)
        audit: dict[str, Any] = {}
        if inst.assignee and inst.assignee != actor.id:
            audit = override(actor, inst, change.compiled, comment, action)
        ctx = change.compiled.validate_context({**inst.context, **data})
        change.fields["context"] = ctx
        audit["changes"] = context_changes(inst.context, ctx)
        change.log(actor.id, "update", inst.state, inst.state, comment=comment, data=audit)

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
        supervisor = bool(inst.assignee) and inst.assignee != actor.id and supervises(
            actor, change.compiled) and bool(comment.strip())
        authority = gates.choose_authority(
            actor=actor, gate=gate, round_=round_, instance=inst,
            resolvers=self.engine.resolvers, now=now, action=f"{decision} {inst.id}",
            supervisor=supervisor,
        )
        if to is not None and to not in gate.reject_targets:
            raise ApprovalError(
                f"cannot reject to {to!r}; allowed: {', '.join(gate.reject_targets)}"
            )
        level = gates.level_spec(gate, round_.level)
        vote = Vote(level.name, authority.seats[0], actor.id, authority.on_behalf_of, decision,
                    now, comment)
        votes = (*round_.votes, vote)
        if inst.escalated_to:  # escalated: the role it was reassigned to decides alone
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
        data = {"level": level.name, "seat": vote.seat}
        if authority.person == actor.id and authority.on_behalf_of is None and inst.assignee \
                and inst.assignee != actor.id:
            data["override"] = "supervisor"
        change.log(actor.id, decision, inst.state, dest, comment=comment,
                   on_behalf_of=authority.on_behalf_of, data=data)
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
            key for key, role in gates.seat_roles(level, inst.escalated_to).items()
            if (role in actor.roles) or actor.id in users.get(key, frozenset())
        ] if inst.assignee in (None, actor.id) else []
        if direct:
            return
        if any(d.delegate == actor.id for d in live):
            raise ApprovalError(f"{actor.id!r} acts by delegation and may not delegate on")
        raise PermissionDenied(actor.id, f"delegate on {inst.id}", "not an approver")

    # ----------------------------------------------------------------- who holds the work

    def _holdable(self, change: Change, action: str, actor: Actor) -> None:
        """The instance's current work may be held by one person: a running step, or a gate
        level one decision settles (``TransitionNotAllowedError`` / ``ApprovalError``)."""
        inst, compiled = change.inst, change.compiled
        spec = compiled.states[inst.state]
        if inst.final or inst.waiting_for or spec.handoff is not None:
            raise TransitionNotAllowedError(inst.id, inst.state, action,
                                            "there is no step or approval to hold")
        if spec.gate is not None and inst.gate is not None and not inst.escalated_to:
            level = gates.level_spec(spec.gate, inst.gate.level)
            if level.needed > 1:
                raise ApprovalError(f"level {level.name!r} needs {level.needed} approvers; "
                                    "one person cannot hold it")

    def _may_take(self, change: Change, actor: Actor) -> None:
        """``PermissionDenied`` unless ``actor`` could act on the pool work themselves."""
        inst, compiled = change.inst, change.compiled
        spec = compiled.states[inst.state]
        if spec.gate is not None and inst.gate is not None:
            gates.choose_authority(actor=actor, gate=spec.gate, round_=inst.gate, instance=inst,
                                   resolvers=self.engine.resolvers, now=change.now,
                                   action=f"claim {inst.id}")
            return
        ways = [w for event in compiled.events(inst.state)
                for w in compiled.ways(inst.state, event)]
        if not may_fire(actor, inst, compiled, ways):
            raise PermissionDenied(actor.id, f"claim {inst.id}",
                                   f"not in the pool of {inst.state!r}")

    def claim(self, change: Change, actor: Actor) -> None:
        """The actor takes pool work: from now on it is theirs alone."""
        inst = change.inst
        self._holdable(change, "claim", actor)
        if inst.assignee:
            raise AlreadyClaimedError(inst.id, inst.assignee, actor.id)
        self._may_take(change, actor)
        change.fields["assignee"] = actor.id
        change.log(actor.id, "claim", inst.state, inst.state, data={"assignee": actor.id})
        change.notify("task_assigned", users=(actor.id,), data={"claimed_by": actor.id})

    def release(self, change: Change, actor: Actor, comment: str) -> None:
        """The person holding the work (or a supervisor, with a reason) gives it back to the
        pool."""
        inst, compiled = change.inst, change.compiled
        self._holdable(change, "release", actor)
        if not inst.assignee:
            raise TransitionNotAllowedError(inst.id, inst.state, "release", "nobody holds it")
        data: dict[str, Any] = {"from": inst.assignee}
        if inst.assignee != actor.id:
            data.update(override(actor, inst, compiled, comment, f"release {inst.id}"))
        change.fields["assignee"] = None
        change.log(actor.id, "release", inst.state, inst.state, comment=comment, data=data)
        keys = self._pool_keys(change)
        change.notify("task_assigned", roles=sorted(k[5:] for k in keys if k[:5] == "role:"),
                      users=sorted(k[5:] for k in keys if k[:5] == "user:"),
                      data={"released_by": actor.id})

    def _pool_keys(self, change: Change) -> frozenset[str]:
        return change.result().work

    def reassign(self, change: Change, to: str, actor: Actor, reason: str) -> None:
        """A supervisor gives the work to person ``to``, with a reason."""
        inst, compiled = change.inst, change.compiled
        if not supervises(actor, compiled):
            raise PermissionDenied(actor.id, f"reassign {inst.id}",
                                   f"needs one of {sorted(compiled.definition.supervisor_roles)}")
        if not reason or not reason.strip():
            raise PermissionDenied(actor.id, f"reassign {inst.id}", "a reason is required")
        if not to or not to.strip():
            raise ProcessError("reassign names the person the work goes to ('to')")
        self._holdable(change, "reassign", actor)
        if inst.gate is not None and to in gates.requesters(inst.gate, inst):
            raise ApprovalError(f"{to!r} requested this approval and may not hold it")
        change.fields["assignee"] = to
        change.log(actor.id, "reassign", inst.state, inst.state, comment=reason,
                   data={"from": inst.assignee, "to": to, "override": "supervisor"})
        change.notify("task_assigned", users=(to,), data={"reassigned_by": actor.id,
                                                          "reason": reason})

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
        ctx = target.validate_context({**kept, **(context or {})})
        change.fields["context"] = ctx
        change.fields["definition_version"] = target.version
        data: dict[str, Any] = {"from_version": inst.definition_version,
                                "to_version": target.version}
        changes = context_changes(inst.context, ctx)
        if changes:
            data["changes"] = changes
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
