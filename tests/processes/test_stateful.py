"""Random commands by random actors; the engine's invariants hold after every step.

Invariants: the state is always a state of the definition; no approval by an actor without
authority or by the requester; only the person holding a step or level (their delegate, or a
supervisor with a reason) moves it, claims and releases follow who holds the work, and
``tasks_for`` equals a brute-force scan after every step; one person per level and per
gate; quorum counted right (a level decides exactly when its quorum is reached with every
veto seat approving, or can no longer be reached, or a veto seat rejects); a refused
command changes nothing; the ledger is complete and verifiable.
"""

from __future__ import annotations

from datetime import timedelta

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

import vip_workflow as vw
from vip_workflow.processes.gates import level_spec
from vip_workflow.testing import FrozenClock

pytestmark = pytest.mark.slow  # more than a few seconds: `pytest -m 'not slow'` skips it

PANEL = """
name: panel
version: 1
supervisors: [department_director]
context:
  amount: {type: number, default: 0}
  account_manager_id: {type: string}
initial: draft
states:
  - {name: draft, owner: account_manager, assignee: {context: account_manager_id}}
  - name: review
    gate:
      approved: build
      rejected: draft
      reject_to: [dropped]
      levels:
        - name: panel
          quorum: 2
          veto: [finance]
          approvers:
            - {name: finance, role: business_manager}
            - {name: network, role: network_planner}
            - {name: support, role: technical_support_manager}
        - name: director
          when: {field: amount, op: ">", value: 100}
          approvers: [{role: department_director}]
      sla: {due: P2D, escalation: [{after: P1D, action: reassign, to: department_director}]}
  - {name: build, owner: network_planner}
  - {name: done, final: true}
  - {name: dropped, final: true}
transitions:
  - {event: submit, source: draft, dest: review}
  - {event: finish, source: build, dest: done}
  - {event: drop, source: draft, dest: dropped}
"""

ACTORS = [
    vw.Actor("am1", roles={"account_manager"}),
    vw.Actor("am2", roles={"account_manager", "business_manager"}),
    vw.Actor("bm1", roles={"business_manager"}),
    vw.Actor("bm2", roles={"business_manager", "department_director"}),
    vw.Actor("dd1", roles={"department_director"}),
    vw.Actor("vp1", roles={"vp_business_development"}),
    vw.Actor("np1", roles={"network_planner"}),
    vw.Actor("ts1", roles={"technical_support_manager", "network_planner"}),
    vw.Actor("deputy", roles=set()),
    vw.Actor("x1", roles={"researcher"}),
]
EVENTS = ["plan_ready", "submit", "rework_plan", "sign", "enter_order", "file", "lose",
          "finish", "drop"]
REFUSED = (vw.PermissionDenied, vw.ApprovalError, vw.TransitionNotAllowedError,
           vw.AlreadyClaimedError)
MANAGERS = [None, "am1", "am2"]
SUPERVISORS = {"department_director", "process_admin"}


class EngineMachine(RuleBasedStateMachine):
    """Drives one engine with random commands and checks it after each."""

    instances = Bundle("instances")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FrozenClock()
        panel = vw.load_definition("panel.yaml", text=PANEL)
        self.engine = vw.ProcessEngine(clock=self.clock, definitions=[panel])
        self.ids: list[str] = []
        self.commits: dict[str, int] = {}
        self.decided = 0

    # ------------------------------------------------------------------ helpers

    def _attempt(self, instance_id: str, command, *args, **kwargs):
        before = self.engine.get(instance_id)
        try:
            after = command(instance_id, *args, **kwargs)
        except REFUSED:
            assert self.engine.get(instance_id) == before, "a refused command changed things"
            return before, None
        self.commits[instance_id] += 1
        return before, after

    def _qualifies(self, before: vw.ProcessInstance, actor: vw.Actor,
                   comment: str = "") -> set[str]:
        """People whose authority the actor may use on the open level (oracle)."""
        compiled = self.engine.compiled(before.definition, before.definition_version)
        gate = compiled.states[before.state].gate
        level = level_spec(gate, before.gate.level)
        roles = {before.escalated_to or s.role for s in level.approvers if s.role}
        holder = before.assignee
        people = {actor.id} if actor.roles & roles and holder in (None, actor.id) else set()
        for d in before.gate.delegations:
            if d.delegate == actor.id and d.until > self.clock() and d.roles & roles and (
                    holder in (None, d.principal)):
                people.add(d.principal)
        if holder and holder != actor.id and not people and actor.roles & SUPERVISORS \
                and comment.strip():
            people.add(actor.id)  # a supervisor in the holder's place, with a reason
        return people

    # ------------------------------------------------------------------ rules

    @rule(target=instances, process=st.sampled_from(["sales", "panel"]),
          actor=st.sampled_from(ACTORS), value=st.sampled_from([0, 50, 150, 200_000, 900_000]),
          manager=st.sampled_from(MANAGERS))
    def start(self, process, actor, value, manager):
        context = ({"customer_id": "c", "contract_value": value} if process == "sales"
                   else {"amount": value})
        if manager:
            context["account_manager_id"] = manager
        try:
            inst = self.engine.start(process, context, actor=actor)
        except vw.PermissionDenied:
            assert "account_manager" not in actor.roles
            inst = self.engine.start(process, context, actor=ACTORS[0])
        else:
            assert "account_manager" in actor.roles
        self.ids.append(inst.id)
        self.commits.setdefault(inst.id, 1)
        return inst.id

    @rule(target=instances, process=st.sampled_from(["sales", "panel"]),
          requester=st.sampled_from(ACTORS[:2]),
          value=st.sampled_from([0, 150, 200_000, 900_000]))
    def submitted(self, process, requester, value):
        """An instance already waiting at its gate (the common case worth exploring)."""
        if process == "sales":
            inst = self.engine.start("sales", {"customer_id": "c", "contract_value": value},
                                     actor=requester)
            self.engine.fire(inst.id, "plan_ready", actor=requester)
        else:
            inst = self.engine.start("panel", {"amount": value}, actor=requester)
        inst = self.engine.fire(inst.id, "submit", actor=requester)
        self.ids.append(inst.id)
        self.commits[inst.id] = inst.version
        return inst.id

    @rule(instance=instances, event=st.sampled_from(EVENTS), actor=st.sampled_from(ACTORS))
    def fire_anything(self, instance, event, actor):
        """Any event by anyone: mostly refused, never harmful."""
        self.commits.setdefault(instance, 1)
        before, after = self._attempt(instance, self.engine.fire, event, actor=actor)
        if after is not None:
            assert before.assignee in (None, actor.id), f"{actor.id} moved another's step"

    @rule(instance=instances, data=st.data())
    def advance(self, instance, data):
        """Fire an event the current state offers, by a random actor (often a wrong one)."""
        self.commits.setdefault(instance, 1)
        events = self.engine.available_events(instance)
        if events:
            event = data.draw(st.sampled_from(events))
            owners = [a for a in ACTORS if event in self.engine.available_events(instance, a)]
            actor = data.draw(st.sampled_from(owners if owners and data.draw(st.integers(0, 3))
                                              else ACTORS))
            before, after = self._attempt(instance, self.engine.fire, event, actor=actor)
            if after is not None:
                assert before.assignee in (None, actor.id), f"{actor.id} moved another's step"

    @rule(instance=instances, actor=st.sampled_from(ACTORS))
    def claim(self, instance, actor):
        self.commits.setdefault(instance, 1)
        before = self.engine.get(instance)
        try:
            after = self.engine.claim(instance, actor=actor)
        except REFUSED as exc:
            assert self.engine.get(instance) == before, "a refused claim changed things"
            if before.assignee not in (None, actor.id) and not before.final:
                assert isinstance(exc, vw.AlreadyClaimedError | vw.TransitionNotAllowedError
                                  | vw.ApprovalError)
            return
        if after.version != before.version:
            self.commits[instance] += 1
            assert before.assignee is None, "claimed work someone held"
            assert f"user:{actor.id}" in before.work or actor.roles & {
                k[5:] for k in before.work if k.startswith("role:")}
        assert after.assignee == actor.id and after.work >= {f"user:{actor.id}"}

    @rule(instance=instances, actor=st.sampled_from(ACTORS), comment=st.sampled_from(["", "x"]))
    def release(self, instance, actor, comment):
        self.commits.setdefault(instance, 1)
        before, after = self._attempt(instance, self.engine.release, actor=actor,
                                      comment=comment)
        if after is not None:
            assert before.assignee == actor.id or (actor.roles & SUPERVISORS and comment)
            assert after.assignee is None

    @rule(instance=instances, actor=st.sampled_from(ACTORS),
          to=st.sampled_from([a.id for a in ACTORS]), reason=st.sampled_from(["", "leave"]))
    def reassign(self, instance, actor, to, reason):
        self.commits.setdefault(instance, 1)
        _before, after = self._attempt(instance, self.engine.reassign, to=to, actor=actor,
                                       reason=reason)
        if after is not None:
            assert actor.roles & SUPERVISORS and reason
            assert after.assignee == to and after.work >= {f"user:{to}"}

    @rule(instance=instances, data=st.data())
    def decide(self, instance, data):
        """Approve or reject an open gate, usually as someone holding a seat's role."""
        before = self.engine.get(instance)
        if before.gate is None:
            return
        likely = [a for a in ACTORS if self._qualifies(before, a)]
        actor = data.draw(st.sampled_from(likely if likely and data.draw(st.integers(0, 3))
                                          else ACTORS))
        if data.draw(st.integers(0, 3)):
            self.approve(instance, actor)
        else:
            to = data.draw(st.sampled_from([None, "dropped", "communication_plan", "won"]))
            self.reject(instance, actor, to)

    def approve(self, instance, actor):
        self.commits.setdefault(instance, 1)
        before, after = self._attempt(instance, self.engine.approve, actor=actor)
        if after is None:
            return
        assert before.gate is not None
        entry = next(e for e in reversed(after.history) if e.action == "approve")
        person = entry.on_behalf_of or entry.actor
        assert entry.actor == actor.id
        assert person in self._qualifies(before, actor), f"{actor.id} approved without authority"
        assert not {actor.id, person} & before.gate.requesters, "the requester approved"
        self.decided += 1
        self._check_decided(before, after, "approve")

    def reject(self, instance, actor, to):
        self.commits.setdefault(instance, 1)
        before = self.engine.get(instance)
        try:
            after = self.engine.reject(instance, actor=actor, comment="no", to=to)
        except REFUSED:
            assert self.engine.get(instance) == before
            return
        self.commits[instance] += 1
        assert self._qualifies(before, actor, "no")
        self._check_decided(before, after, "reject")

    @rule(instance=instances, actor=st.sampled_from(ACTORS))
    def recall(self, instance, actor):
        self.commits.setdefault(instance, 1)
        before, after = self._attempt(instance, self.engine.recall, actor=actor)
        if after is not None:
            assert actor.id in before.gate.requesters

    @rule(instance=instances, actor=st.sampled_from(ACTORS),
          to=st.sampled_from([a.id for a in ACTORS]), hours=st.integers(-2, 48))
    def delegate(self, instance, actor, to, hours):
        self.commits.setdefault(instance, 1)
        until = self.clock() + timedelta(hours=hours)
        before, after = self._attempt(instance, self.engine.delegate, actor=actor, to=to,
                                      until=until)
        if after is not None:
            assert actor.id in self._qualifies(before, actor)
            assert to not in before.gate.requesters and to != actor.id and hours > 0

    @rule(hours=st.integers(1, 30))
    def tick(self, hours):
        report = self.engine.tick(self.clock.advance(hours=hours))
        for instance_id in report.instances:
            self.commits[instance_id] = self.commits.get(instance_id, 1) + 1

    # ------------------------------------------------------------------ checks

    def _check_decided(self, before, after, decision):
        """Quorum counted right: the level decided exactly when it should have."""
        compiled = self.engine.compiled(before.definition, before.definition_version)
        gate = compiled.states[before.state].gate
        level = level_spec(gate, before.gate.level)
        entry = next(e for e in reversed(after.history) if e.action == decision)
        votes = [v for v in before.gate.votes if v.level == level.name]
        seats = [v.seat for v in votes] + [entry.data["seat"]]
        assert len(set(seats)) == len(seats), "one seat decided twice"
        decisions = [v.decision for v in votes] + [decision]
        approvals = decisions.count("approve")
        approved_seats = {s for s, d in zip(seats, decisions, strict=True) if d == "approve"}
        rejections = decisions.count("reject")
        vetoed = decision == "reject" and (
            level.quorum == "all" or entry.data["seat"] in level.veto)
        impossible = len(level.approvers) - rejections < level.needed
        still_here = after.gate is not None and after.state == before.state and (
            after.gate.level == level.name)
        if before.escalated_to:  # escalated: the new role's one decision settles the level
            assert not still_here
        elif approvals >= level.needed and approved_seats.issuperset(level.veto):
            assert not still_here and decision == "approve"  # quorum met, every veto approved
        elif vetoed or impossible:
            assert not still_here and after.state in gate.reject_targets
        else:
            assert still_here

    @invariant()
    def tasks_for_equals_a_scan(self):
        """The work index finds exactly what reading every instance finds."""
        now = self.clock()
        running = [self.engine.get(i) for i in self.ids]
        for actor in ACTORS:
            scan = {i.id for i in running if self.engine._is_task_of(actor, i, now)}
            assert {i.id for i in self.engine.tasks_for(actor)} == scan, actor.id
        for inst in running:
            if inst.assignee and not inst.final:
                assert f"user:{inst.assignee}" in inst.work
            assert not inst.final or not inst.work

    @invariant()
    def every_instance_is_consistent(self):
        for instance_id in self.ids:
            inst = self.engine.get(instance_id)
            compiled = self.engine.compiled(inst.definition, inst.definition_version)
            assert inst.state in compiled.states
            assert inst.final == (inst.state in compiled.final_states)
            assert inst.verify_ledger()
            assert inst.version == self.commits[instance_id]
            assert len(inst.history) >= inst.version
            gate = compiled.states[inst.state].gate
            assert (inst.gate is not None) == (gate is not None)
            if inst.gate is not None:
                people = [v.person for v in inst.gate.votes] + [v.actor for v in inst.gate.votes]
                assert not set(people) & inst.gate.requesters, "a requester voted"
                by_level: dict[str, set[str]] = {}
                for vote in inst.gate.votes:
                    for other, persons in by_level.items():
                        if other != vote.level:
                            assert vote.person not in persons, "one person, two levels"
                    by_level.setdefault(vote.level, set()).update({vote.person, vote.actor})


EngineMachine.TestCase.settings = settings(
    max_examples=80, stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestEngineStateful = EngineMachine.TestCase
