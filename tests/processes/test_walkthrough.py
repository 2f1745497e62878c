"""Every bundled process can be walked to a final state by the roles it names."""

from __future__ import annotations

import itertools

import networkx as nx
import pytest

import vip_workflow as vw
from vip_workflow.processes.loader import bundled_definitions

CONTEXT = {"customer_id": "G-001", "account_manager_id": "am-own", "requested_tier": "A",
           "reason": "provincial government"}
_people = itertools.count()


def _person(role: str) -> vw.Actor:
    return vw.Actor(f"{role}-{next(_people)}", roles={role})


def _walk(engine: vw.ProcessEngine, instance_id: str, target: str) -> vw.ProcessInstance:
    """Drive the instance along a shortest path to ``target``, as the owners and approvers
    (as the person holding a step, where one does)."""
    inst = engine.get(instance_id)
    definition = engine.definition(inst.definition, inst.definition_version)
    path = nx.shortest_path(definition.graph(), inst.state, target)
    for here, there in itertools.pairwise(path):
        inst = engine.get(instance_id)
        spec = definition.state(here)
        if spec.gate is not None:
            while inst.state == here:
                level = next(lv for lv in spec.gate.levels if lv.name == inst.gate.level)
                decided = {v.seat for v in inst.gate.votes if v.level == level.name}
                seat = next(s for s in level.approvers if s.key not in decided)
                actor = (_person(seat.role) if seat.role
                         else vw.Actor(CONTEXT["account_manager_id"]))
                inst = engine.approve(instance_id, actor=actor, comment="ok")
        elif spec.handoff is not None and not spec.handoff.wait:
            continue  # the engine started the other process and moved on by itself
        elif spec.handoff is not None:
            result = next(r for r, dest in spec.handoff.results.items() if dest == there)
            _walk(engine, inst.waiting_for, result)
        else:
            transition = next(t for t in definition.transitions
                              if here in t.sources and t.dest == there)
            role = (transition.roles or (spec.owner,))[0]
            # a step held by a person (the customer's account manager) is theirs to move on
            actor = vw.Actor(inst.assignee, roles={role}) if inst.assignee else _person(role)
            engine.fire(instance_id, transition.event, actor=actor)
    return engine.get(instance_id)


@pytest.mark.parametrize("definition", bundled_definitions(), ids=lambda d: d.name)
def test_every_bundled_process_reaches_each_final_state(definition):
    """Each final state is reached by firing owners' events and approving every level."""
    engine = vw.ProcessEngine()
    fields = definition.context
    context = {k: v for k, v in CONTEXT.items() if k in fields}
    for final in definition.final_states:
        starter = _person(sorted(definition.starter_roles)[0])
        inst = engine.start(definition.name, context, actor=starter)
        done = _walk(engine, inst.id, final)
        assert (done.state, done.final) == (final, True)
        assert done.verify_ledger()
