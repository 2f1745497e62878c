"""Who may pick an instance's work up now, as index keys (``user:ID`` and ``role:NAME``).

A pure function of the instance and its compiled definition: the engine computes the keys of
every instance a change leaves (``Change.result``), stores persist and index them, and
``ProcessEngine.tasks_for`` asks the store for the instances having any of an actor's keys
before the exact check (separation of duties, live delegations) on those few.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from vip_workflow.domain.instances import ProcessInstance
from vip_workflow.processes.definitions import LevelSpec, StateSpec
from vip_workflow.processes.machine import CompiledProcess

__all__ = ["actor_keys", "pool_roles", "work_keys"]

Resolver = Callable[[ProcessInstance], Iterable[str]]


def actor_keys(user: str, roles: Iterable[str]) -> frozenset[str]:
    """The keys an actor's work is found by: their own and their roles'."""
    return frozenset({f"user:{user}", *(f"role:{role}" for role in roles)})


def pool_roles(compiled: CompiledProcess, spec: StateSpec) -> frozenset[str]:
    """The roles whose holders may take up the step when no person holds it: the step's
    ``pool`` if it names one, else every role that may fire an event there (the owner for a
    step nothing leaves)."""
    if spec.assignee is not None and spec.assignee.pool is not None:
        return frozenset({spec.assignee.pool})
    roles: frozenset[str] = frozenset()
    for event in compiled.events(spec.name):
        for way in compiled.ways(spec.name, event):
            roles |= way.roles
    return roles or frozenset({spec.owner} if spec.owner else ())


def _level_keys(
    level: LevelSpec, inst: ProcessInstance, resolvers: Mapping[str, Resolver]
) -> set[str]:
    if inst.assignee:
        return {f"user:{inst.assignee}"}
    if inst.escalated_to:
        return {f"role:{inst.escalated_to}"}
    pool = level.assignee.pool if level.assignee is not None else None
    keys: set[str] = set()
    for seat in level.approvers:
        if seat.role is not None:
            keys.add(f"role:{pool or seat.role}")
        elif seat.resolver is not None and seat.resolver in resolvers:
            keys.update(f"user:{u}" for u in resolvers[seat.resolver](inst) if u)
    return keys


def work_keys(
    inst: ProcessInstance, compiled: CompiledProcess, resolvers: Mapping[str, Resolver]
) -> frozenset[str]:
    """The keys of who may pick the instance's work up now (see the module's docstring).

    A step held by a person: ``user:P``; escalated to a role: ``role:R``; in a pool: the pool's
    roles. An open gate level: per seat its role (or the resolver's users), or the level's
    holder, plus every delegate. A finished instance, or one waiting for a child: none.
    """
    if inst.final or inst.waiting_for:
        return frozenset()
    spec = compiled.states.get(inst.state)
    if spec is None:
        return frozenset()
    if spec.gate is not None:
        round_ = inst.gate
        if round_ is None:
            return frozenset()
        level = next(lv for lv in spec.gate.levels if lv.name == round_.level)
        keys = _level_keys(level, inst, resolvers)
        keys.update(f"user:{d.delegate}" for d in round_.delegations)
        return frozenset(keys)
    if spec.handoff is not None:
        return frozenset()
    if inst.assignee:
        return frozenset({f"user:{inst.assignee}"})
    if inst.escalated_to:
        return frozenset({f"role:{inst.escalated_to}"})
    pool = compiled.pool_keys.get(spec.name)
    if pool is None:  # a pure function of the compiled definition: computed once per step
        pool = compiled.pool_keys[spec.name] = frozenset(
            f"role:{role}" for role in pool_roles(compiled, spec))
    return pool
