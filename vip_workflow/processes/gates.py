"""Approval gates: who may fill which seat, quorum (all / any / N of M), veto and separation of
duties. Pure functions over definitions and ``GateRound`` values; the engine applies them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from attrs import frozen

from vip_workflow.domain.instances import SYSTEM, Actor, GateRound, ProcessInstance, Vote
from vip_workflow.errors import ApprovalError, PermissionDenied
from vip_workflow.processes.conditions import _MISSING, holds, lookup
from vip_workflow.processes.definitions import GateSpec, LevelSpec

__all__ = [
    "Authority",
    "active_levels",
    "check_not_requester",
    "choose_authority",
    "level_audit",
    "level_outcome",
    "level_spec",
    "requesters",
    "seat_roles",
    "seat_users",
]

Resolver = Callable[[ProcessInstance], Iterable[str]]


@frozen
class Authority:
    """The authority an approver acts with: their own, or a principal's through a delegation."""

    person: str
    roles: frozenset[str]
    on_behalf_of: str | None
    seats: tuple[str, ...]


def active_levels(gate: GateSpec, context: Mapping[str, object]) -> tuple[str, ...]:
    """The levels that apply to this instance (a level's ``when`` must hold), in order."""
    return tuple(
        level.name for level in gate.levels if level.when is None or holds(level.when, context)
    )


def level_spec(gate: GateSpec, name: str) -> LevelSpec:
    """The level called ``name``."""
    return next(level for level in gate.levels if level.name == name)


def level_audit(gate: GateSpec, context: Mapping[str, Any]) -> dict[str, Any]:
    """What a gate's ledger entry records: which levels apply, each ``when`` condition (in
    words) and whether it held, and the context values the conditions read."""
    applied, conditions, read = [], [], set()
    for level in gate.levels:
        held = level.when is None or holds(level.when, context)
        if held:
            applied.append(level.name)
        if level.when is not None:
            conditions.append({"level": level.name, "when": level.when.text(), "held": held})
            read |= level.when.fields()
    audit: dict[str, Any] = {"levels": applied}
    if conditions:
        audit["conditions"] = conditions
        values = {name: lookup(context, name) for name in sorted(read)}
        # a field the context lacks is recorded as null (the condition saw it missing)
        audit["values"] = {name: v if v is not _MISSING else None for name, v in values.items()}
    return audit


def seat_roles(level: LevelSpec, escalated_to: str | None) -> dict[str, str | None]:
    """Each seat's role: a role seat's (the level's ``pool`` role if it names one); an
    escalation (``escalated_to``) reassigns every seat to that role."""
    pool = level.assignee.pool if level.assignee is not None else None
    return {seat.key: escalated_to or (pool and seat.role and pool) or seat.role
            for seat in level.approvers}


def seat_users(
    level: LevelSpec, instance: ProcessInstance, resolvers: Mapping[str, Resolver]
) -> dict[str, frozenset[str]]:
    """The users a resolver names for each resolver seat (none once the level is reassigned)."""
    found: dict[str, frozenset[str]] = {}
    if instance.escalated_to:
        return found
    for seat in level.approvers:
        if seat.resolver is not None:
            found[seat.key] = frozenset(u for u in resolvers[seat.resolver](instance) if u)
    return found


def requesters(round_: GateRound, instance: ProcessInstance) -> frozenset[str]:
    """Everyone the four-eyes rule keeps from deciding on ``round_``.

    The round's requester and whoever they acted for; the instance's author (who started it,
    and on whose behalf: the monthly cycle starts a tier override as the system on behalf of
    the override's author); and whoever moved the instance into this gate before (an earlier
    submission, since rejected or recalled). The system itself is nobody's author.
    """
    people = set(round_.requesters)
    for entry in instance.history:
        if (entry.action == "start" and entry.source is None) or (
                entry.dest == round_.state and entry.source != round_.state):
            people.update(p for p in (entry.actor, entry.on_behalf_of)
                          if p and p != SYSTEM.id)
    return frozenset(people)


def check_not_requester(
    actor: str, people: Iterable[str], gate: GateSpec, asked: frozenset[str]
) -> None:
    """Raise the four-eyes ``ApprovalError`` if any of ``people`` (the actor, a principal) is
    a requester and the gate does not let requesters approve."""
    if not gate.separation_of_duties.requester_may_approve and asked.intersection(people):
        raise ApprovalError(f"{actor!r}: the requester may not approve their own request")


def _qualifying_seats(
    level: LevelSpec, person: str, roles: frozenset[str], instance: ProcessInstance,
    users: Mapping[str, frozenset[str]],
) -> tuple[str, ...]:
    if instance.assignee and person != instance.assignee:
        return ()  # the level is held by a person: only they (or their delegate) decide
    by_role = seat_roles(level, instance.escalated_to)
    return tuple(
        key for key, role in by_role.items()
        if (role is not None and role in roles) or person in users.get(key, frozenset())
    )


def choose_authority(
    *,
    actor: Actor,
    gate: GateSpec,
    round_: GateRound,
    instance: ProcessInstance,
    resolvers: Mapping[str, Resolver],
    now: datetime,
    action: str,
    supervisor: bool = False,
) -> Authority:
    """The authority ``actor`` decides with on the current level, after every check.

    Raises ``PermissionDenied`` when the actor can fill no seat of the level (neither directly
    nor through a live delegation) and ``ApprovalError`` when separation of duties forbids it or
    every seat they could fill is decided. A level held by a person is decided by them or
    their delegate; with ``supervisor`` (a supervisor acting with a reason) the actor may take
    any seat of it in their place.
    """
    level = level_spec(gate, round_.level)
    users = seat_users(level, instance, resolvers)
    options: list[tuple[str, frozenset[str], str | None]] = [(actor.id, actor.roles, None)]
    options += [
        (d.principal, d.roles, d.principal)
        for d in round_.delegations
        if d.delegate == actor.id and d.until > now
    ]
    qualified = []
    for person, roles, on_behalf_of in options:
        seats = _qualifying_seats(level, person, roles, instance, users)
        if seats:
            qualified.append(Authority(person, roles, on_behalf_of, seats))
    if not qualified and supervisor and instance.assignee:
        keys = tuple(seat.key for seat in level.approvers)
        qualified.append(Authority(actor.id, actor.roles, None, keys))
    if not qualified:
        raise PermissionDenied(actor.id, action, f"not an approver of level {level.name!r}")
    problem: ApprovalError | None = None
    asked = requesters(round_, instance)
    for authority in qualified:
        try:
            return _check_duties(actor, authority, gate, round_, level, asked)
        except ApprovalError as exc:
            problem = problem or exc
    assert problem is not None
    raise problem


def _check_duties(
    actor: Actor, authority: Authority, gate: GateSpec, round_: GateRound, level: LevelSpec,
    asked: frozenset[str],
) -> Authority:
    people = {actor.id, authority.person}
    duties = gate.separation_of_duties
    check_not_requester(actor.id, people, gate, asked)
    here = [v for v in round_.votes if v.level == level.name]
    if people & ({v.actor for v in here} | {v.person for v in here}):
        raise ApprovalError(f"{actor.id!r} has already decided on level {level.name!r}")
    if duties.one_level_per_person:
        elsewhere = [v for v in round_.votes if v.level != level.name]
        if people & ({v.actor for v in elsewhere} | {v.person for v in elsewhere}):
            raise ApprovalError(
                f"{actor.id!r}: one person may not approve two levels of gate {round_.state!r}"
            )
    filled = {v.seat for v in here}
    open_seats = tuple(s for s in authority.seats if s not in filled)
    if not open_seats:
        raise ApprovalError(f"every seat {actor.id!r} may fill on {level.name!r} is decided")
    return Authority(authority.person, authority.roles, authority.on_behalf_of, open_seats)


def level_outcome(level: LevelSpec, votes: Iterable[Vote]) -> str:
    """``approved``, ``rejected`` or ``pending`` for the votes cast on ``level``.

    ``all`` needs every seat and any rejection rejects; ``any`` needs one approval; an integer
    N needs N approvals. A level with veto seats is approved only once its quorum is met *and*
    every veto seat has approved, so the quorum cannot be reached around a veto; a rejection on
    a veto seat rejects at once. Otherwise the level is rejected when too few seats are left to
    reach the quorum.
    """
    approvals = rejections = 0
    approved_seats: set[str] = set()
    for vote in votes:
        if vote.level != level.name:
            continue
        if vote.decision == "approve":
            approvals += 1
            approved_seats.add(vote.seat)
        else:
            if level.quorum == "all" or vote.seat in level.veto:
                return "rejected"
            rejections += 1
    if approvals >= level.needed and approved_seats.issuperset(level.veto):
        return "approved"
    if len(level.approvers) - rejections < level.needed:
        return "rejected"
    return "pending"
