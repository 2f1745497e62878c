"""Checks a definition before it is used: names, roles, and the shape of its graph (networkx).

Every problem is located by a field path into the definition (``("states", 3, "gate")``) so the
loader can turn it into a file, line and column.
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx

from vip_workflow.processes.definitions import (
    AssigneeSpec,
    Condition,
    ProcessDefinition,
    SlaSpec,
)
from vip_workflow.processes.graphs import definition_graph

__all__ = ["Problem", "check_definition"]

Path = tuple[str | int, ...]
Problem = tuple[Path, str]


def check_definition(
    definition: ProcessDefinition, *, resolvers: Iterable[str] | None = None
) -> list[Problem]:
    """Every problem of the definition, in file order; an empty list means it is usable.

    ``resolvers`` are the approver resolvers the engine has; when given, a seat naming a resolver
    the engine lacks cannot be resolved and is a problem.
    """
    problems: list[Problem] = []
    index = {spec.name: i for i, spec in enumerate(definition.states)}
    problems += _check_names(definition, index)
    problems += _check_roles(definition, resolvers)
    problems += _check_assignees(definition, resolvers)
    problems += _check_conditions(definition)
    if not problems:
        problems += _check_graph(definition, index)
    return problems


def _check_names(definition: ProcessDefinition, index: dict[str, int]) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, spec in enumerate(definition.states):
        if spec.name in seen:
            problems.append((("states", i, "name"), f"state {spec.name!r} is defined twice"))
        seen.add(spec.name)
    if definition.initial not in index:
        problems.append((("initial",), f"initial state {definition.initial!r} is not defined"))
    elif definition.state(definition.initial).final:
        problems.append((("initial",), "the initial state may not be final"))
    for t, transition in enumerate(definition.transitions):
        for s, source in enumerate(transition.sources):
            where: Path = ("transitions", t, "source")
            if not isinstance(transition.source, str):
                where += (s,)
            if source not in index:
                problems.append((where, f"source state {source!r} is not defined"))
            elif definition.states[index[source]].final:
                problems.append((where, f"final state {source!r} cannot be left"))
            elif definition.states[index[source]].gate is not None:
                problems.append(
                    (where, f"{source!r} is a gate: it is left by approve/reject/recall only")
                )
        if transition.dest not in index:
            problems.append(
                (("transitions", t, "dest"), f"dest state {transition.dest!r} is not defined")
            )
    events_from: dict[str, set[str]] = {}
    for transition in definition.transitions:
        for source in transition.sources:
            events_from.setdefault(source, set()).add(transition.event)
    for i, spec in enumerate(definition.states):
        if spec.gate is not None:
            gate = spec.gate
            if gate.approved == spec.name or spec.name in gate.reject_targets:
                problems.append(
                    (("states", i, "gate"), "a gate may not approve or reject into itself")
                )
            if gate.approved not in index:
                problems.append(
                    (("states", i, "gate", "approved"), f"state {gate.approved!r} is not defined")
                )
            if gate.rejected not in index:
                problems.append(
                    (("states", i, "gate", "rejected"), f"state {gate.rejected!r} is not defined")
                )
            for r, target in enumerate(gate.reject_to):
                if target not in index:
                    problems.append(
                        (("states", i, "gate", "reject_to", r), f"state {target!r} is not defined")
                    )
        if spec.handoff is not None:
            handoff = spec.handoff
            for result, dest in handoff.results.items():
                if dest not in index:
                    problems.append(
                        (("states", i, "handoff", "results", result),
                         f"state {dest!r} is not defined")
                    )
            if spec.name in {handoff.next, *handoff.results.values()}:
                problems.append(
                    (("states", i, "handoff"), "a hand-off may not lead back into itself")
                )
            if handoff.next is not None and handoff.next not in index:
                problems.append(
                    (("states", i, "handoff", "next"), f"state {handoff.next!r} is not defined")
                )
            if handoff.process == definition.name:
                problems.append(
                    (("states", i, "handoff", "process"), "a process may not hand off to itself")
                )
        for k, timer in enumerate(spec.timers):
            if timer.event not in events_from.get(spec.name, set()):
                problems.append(
                    (("states", i, "timers", k, "event"),
                     f"no transition {timer.event!r} leaves {spec.name!r}")
                )
    return problems


def _sla_roles(sla: SlaSpec | None, where: Path, known: frozenset[str]) -> list[Problem]:
    problems: list[Problem] = []
    for e, rung in enumerate(sla.escalation if sla else ()):
        if rung.to is not None and rung.to not in known:
            problems.append(
                ((*where, "escalation", e, "to"), f"escalation role {rung.to!r} is unknown")
            )
    return problems


def _check_roles(definition: ProcessDefinition, resolvers: Iterable[str] | None) -> list[Problem]:
    known = definition.known_roles
    available = set(resolvers) if resolvers is not None else None
    problems: list[Problem] = []
    for r, role in enumerate(definition.starters or ()):
        if role not in known:
            problems.append((("starters", r), f"role {role!r} is unknown"))
    for i, spec in enumerate(definition.states):
        if spec.owner is not None and spec.owner not in known:
            problems.append((("states", i, "owner"), f"owner role {spec.owner!r} is unknown"))
        problems += _sla_roles(spec.sla, ("states", i, "sla"), known)
        if spec.gate is None:
            continue
        problems += _sla_roles(spec.gate.sla, ("states", i, "gate", "sla"), known)
        for lv, level in enumerate(spec.gate.levels):
            for s, seat in enumerate(level.approvers):
                where: Path = ("states", i, "gate", "levels", lv, "approvers", s)
                if seat.role is not None and seat.role not in known:
                    problems.append(
                        ((*where, "role"),
                         f"approvers cannot be resolved: role {seat.role!r} is unknown")
                    )
                if seat.resolver is not None:
                    if seat.resolver not in definition.resolvers:
                        problems.append(
                            ((*where, "resolver"),
                             f"approvers cannot be resolved: resolver {seat.resolver!r} is not "
                             "declared under 'resolvers'")
                        )
                    elif available is not None and seat.resolver not in available:
                        problems.append(
                            ((*where, "resolver"),
                             f"approvers cannot be resolved: the engine has no resolver "
                             f"{seat.resolver!r}")
                        )
    for t, transition in enumerate(definition.transitions):
        for r, role in enumerate(transition.roles or ()):
            if role not in known:
                problems.append((("transitions", t, "roles", r), f"role {role!r} is unknown"))
        if transition.roles is None:
            for source in transition.sources:
                if source in definition.state_names and definition.state(source).owner is None:
                    problems.append(
                        (("transitions", t, "roles"),
                         f"nobody may fire {transition.event!r}: {source!r} has no owner, so "
                         "name the roles")
                    )
    return problems


def _check_assignee(
    definition: ProcessDefinition, spec: AssigneeSpec | None, where: Path,
    available: set[str] | None,
) -> list[Problem]:
    if spec is None:
        return []
    if spec.context is not None and spec.context not in definition.context:
        return [((*where, "context"),
                 f"assignee reads undeclared context field {spec.context!r}")]
    if spec.resolver is not None and (spec.resolver not in definition.resolvers or (
            available is not None and spec.resolver not in available)):
        return [((*where, "resolver"),
                 f"assignee resolver {spec.resolver!r} is not declared under 'resolvers' "
                 "or the engine lacks it")]
    if spec.pool is not None and spec.pool not in definition.known_roles:
        return [((*where, "pool"), f"pool role {spec.pool!r} is unknown")]
    return []


def _check_assignees(
    definition: ProcessDefinition, resolvers: Iterable[str] | None
) -> list[Problem]:
    """Assignee specs read declared fields, resolvers and roles; supervisors are known."""
    available = set(resolvers) if resolvers is not None else None
    problems: list[Problem] = [(("supervisors", r), f"supervisor role {role!r} is unknown")
                for r, role in enumerate(definition.supervisors)
                if role not in definition.known_roles]
    for i, spec in enumerate(definition.states):
        problems += _check_assignee(definition, spec.assignee, ("states", i, "assignee"),
                                    available)
        for lv, level in enumerate(spec.gate.levels if spec.gate else ()):
            problems += _check_assignee(
                definition, level.assignee, ("states", i, "gate", "levels", lv, "assignee"),
                available)
    return problems


def _check_condition(cond: Condition | None, where: Path, fields: set[str]) -> list[Problem]:
    if cond is None:
        return []
    unknown = {name.split(".")[0] for name in cond.fields()} - fields
    return [(where, f"condition reads undeclared context field {n!r}") for n in sorted(unknown)]


def _check_conditions(definition: ProcessDefinition) -> list[Problem]:
    fields = set(definition.context)
    problems: list[Problem] = []
    for t, transition in enumerate(definition.transitions):
        problems += _check_condition(transition.when, ("transitions", t, "when"), fields)
    for i, spec in enumerate(definition.states):
        for lv, level in enumerate(spec.gate.levels if spec.gate else ()):
            problems += _check_condition(
                level.when, ("states", i, "gate", "levels", lv, "when"), fields
            )
    return problems


def _check_graph(definition: ProcessDefinition, index: dict[str, int]) -> list[Problem]:
    graph = definition_graph(definition)
    problems: list[Problem] = []
    finals = set(definition.final_states)
    if not finals:
        problems.append((("states",), "the process has no final state"))
    reachable = nx.descendants(graph, definition.initial) | {definition.initial}
    for name in definition.state_names:
        if name not in reachable:
            reason = (
                f"final state {name!r} cannot be reached from {definition.initial!r}"
                if name in finals
                else f"state {name!r} is unreachable from {definition.initial!r}"
            )
            problems.append((("states", index[name]), reason))
    if finals and not finals & reachable:
        problems.append((("initial",), "no final state can be reached from the initial state"))
    for name in definition.state_names:
        if name not in finals and graph.out_degree(name) == 0:
            problems.append((("states", index[name]), f"state {name!r} has no way out"))
    condensed = nx.condensation(graph)
    for component, data in condensed.nodes(data=True):
        members = data["members"]
        if condensed.out_degree(component) or members & finals or len(members) < 2:
            continue
        names = sorted(members, key=index.__getitem__)
        kinds = {k for u, v, d in graph.subgraph(members).edges(data=True) for k in d["kinds"]}
        what = "reject loop" if kinds & {"reject", "recall"} else "loop"
        problems.append(
            (("states", index[names[0]]), f"{what} {' → '.join(names)} has no exit")
        )
    return problems
