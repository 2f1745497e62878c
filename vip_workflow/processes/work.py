"""Who may pick an instance's work up now, as index keys (``user:ID`` and ``role:NAME``), and
an actor's work a page at a time.

``work_keys`` is a pure function of the instance and its compiled definition: the engine
computes the keys of every instance a change leaves (``Change.result``), stores persist and
index them, and ``ProcessEngine.tasks_page`` asks the store for a page of the instances having
any of an actor's keys (filters and the keyset cursor applied in the store) before the exact
check (separation of duties, live delegations) on those few.

The exact check may drop some of a page (an approver who requested the change, or already
decided on another level): ``page_tasks`` then reads on from the index page's cursor until
the page is full or the index ends, and the cursor it gives is the place of the last task
returned, so nothing is skipped or repeated.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

import attrs

from vip_workflow.domain.instances import ProcessInstance
from vip_workflow.ports import WorkCursor, WorkIndex
from vip_workflow.processes.definitions import LevelSpec, StateSpec
from vip_workflow.processes.machine import CompiledProcess

__all__ = ["TaskPage", "actor_keys", "page_tasks", "pool_roles", "scan_tasks", "work_keys"]


@attrs.frozen
class TaskPage:
    """A page of an actor's work and the cursor of the next (``None``: the last page)."""

    items: list[ProcessInstance]
    next: WorkCursor | None = None


def page_tasks(store: WorkIndex, keys: Collection[str], is_task: Callable[[ProcessInstance], bool],
               *, after: WorkCursor | None, limit: int | None,
               filters: Mapping[str, Any]) -> TaskPage:
    """A page of at most ``limit`` instances found by ``keys`` that pass ``is_task``, after
    ``after``; refilled from the index when ``is_task`` drops some (see the module)."""
    if limit is None:
        found = store.get_many(store.find_work(keys, after=after, **filters).ids)
        return TaskPage([inst for inst in found if is_task(inst)])
    wanted = limit + 1  # one more than asked: whether a next page exists
    ask = max(2 * wanted, 16)
    items: list[tuple[WorkCursor, ProcessInstance]] = []
    while len(items) < wanted:
        page = store.find_work(keys, after=after, limit=ask, **filters)
        place_of = {place.id: place for place in page.found}
        for inst in store.get_many(page.ids):
            if is_task(inst):
                items.append((place_of[inst.id], inst))
                if len(items) == wanted:
                    break
        if page.next is None:
            break
        after, ask = page.next, min(4 * ask, 4096)  # many dropped: read further at once
    chosen = items[:limit]
    more = len(items) > limit and bool(chosen)
    return TaskPage([inst for _, inst in chosen], chosen[-1][0] if more else None)


def scan_tasks(instances: Iterable[ProcessInstance], is_task: Callable[[ProcessInstance], bool],
               *, after: WorkCursor | None, limit: int | None) -> TaskPage:
    """``page_tasks`` for a store without a work index: the instances given (already
    filtered) are checked and sorted in the index's order."""
    places = sorted(((WorkCursor(inst.next_due, inst.id), inst) for inst in instances
                     if is_task(inst)), key=lambda pair: pair[0].order)
    if after is not None:
        places = [pair for pair in places if pair[0].order > after.order]
    if limit is None or len(places) <= limit:
        return TaskPage([inst for _, inst in places])
    return TaskPage([inst for _, inst in places[:limit]], places[limit - 1][0])

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
