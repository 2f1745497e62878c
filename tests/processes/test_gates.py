"""Approval gates: levels, conditions, quorum, veto, resolvers, separation of duties,
delegation, recall and reject-to-step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from vip_workflow.processes.instance import Vote

import vip_workflow as vw
from tests.processes.conftest import AM, BM, BM2, DD, DD2, NOBODY, VP, to_gate
from vip_workflow.processes.definitions import LevelSpec
from vip_workflow.processes.gates import level_outcome
from vip_workflow.testing import FrozenClock

PANEL = """
name: panel
version: 1
context:
  amount: {type: number, default: 0}
initial: draft
states:
  - {name: draft, owner: account_manager}
  - name: review
    gate:
      approved: done
      rejected: draft
      reject_to: [dropped]
      levels:
        - name: panel
          quorum: QUORUM
          veto: VETO
          approvers:
            - {name: finance, role: business_manager}
            - {name: network, role: network_planner}
            - {name: support, role: technical_support_manager}
  - {name: done, final: true}
  - {name: dropped, final: true}
transitions:
  - {event: submit, source: draft, dest: review}
"""

FIN = vw.Actor("f1", roles={"business_manager"})
NET = vw.Actor("n1", roles={"network_planner"})
SUP = vw.Actor("s1", roles={"technical_support_manager"})


def panel_engine(quorum: str, veto: str = "[]") -> tuple[vw.ProcessEngine, str]:
    text = PANEL.replace("QUORUM", quorum).replace("VETO", veto)
    definition = vw.load_definition("panel.yaml", text=text)
    engine = vw.ProcessEngine(definitions=[definition], bundled=False)
    inst = engine.start("panel", actor=AM)
    engine.fire(inst.id, "submit", actor=AM)
    return engine, inst.id


class TestSequentialLevels:
    """Levels run in order; conditions on the instance add levels."""

    def test_a_small_deal_needs_only_the_business_manager(self, engine):
        """Below every threshold one approval takes the deal to contract signing."""
        inst = to_gate(engine, contract_value=50_000)
        assert inst.gate.levels == ("business",)
        assert engine.approve(inst.id, actor=BM, comment="ok").state == "contract_signing"

    def test_contract_value_adds_the_director_and_the_vp(self, engine):
        """Above 500 000 the director and then the VP must approve, in that order."""
        inst = to_gate(engine, contract_value=600_000)
        assert inst.gate.levels == ("business", "director", "vp")
        with pytest.raises(vw.PermissionDenied):
            engine.approve(inst.id, actor=DD)  # the director's level is not open yet
        assert engine.approve(inst.id, actor=BM).gate.level == "director"
        assert engine.approve(inst.id, actor=DD).gate.level == "vp"
        done = engine.approve(inst.id, actor=VP)
        assert done.state == "contract_signing"
        assert done.gate is None

    def test_discount_and_tier_add_the_director(self, engine):
        """A 10 % discount or an A-tier customer also needs the director."""
        assert to_gate(engine, discount=0.12).gate.levels == ("business", "director")
        assert to_gate(engine, tier="A+").gate.levels == ("business", "director")
        assert to_gate(engine, discount=0.25).gate.levels == ("business", "director", "vp")


class TestQuorum:
    """Parallel approval: all, any, N of M, veto."""

    def test_all_needs_every_seat(self):
        """With quorum all the gate stays open until the last seat approves."""
        engine, iid = panel_engine("all")
        assert engine.approve(iid, actor=FIN).state == "review"
        assert engine.approve(iid, actor=NET).state == "review"
        assert engine.approve(iid, actor=SUP).state == "done"

    def test_all_is_rejected_by_any_single_rejection(self):
        """Under quorum all one rejection rejects."""
        engine, iid = panel_engine("all")
        engine.approve(iid, actor=FIN)
        assert engine.reject(iid, actor=NET, comment="no capacity").state == "draft"

    def test_any_needs_one_approval(self):
        """With quorum any the first approval passes the gate."""
        engine, iid = panel_engine("any")
        assert engine.approve(iid, actor=NET).state == "done"

    def test_any_is_rejected_only_when_every_seat_rejects(self):
        """Under quorum any, rejections count until no approval is possible."""
        engine, iid = panel_engine("any")
        assert engine.reject(iid, actor=FIN, comment="no").state == "review"
        assert engine.reject(iid, actor=NET, comment="no").state == "review"
        assert engine.reject(iid, actor=SUP, comment="no").state == "draft"

    def test_two_of_three(self):
        """N of M: two approvals pass; two rejections make two approvals impossible."""
        engine, iid = panel_engine("2")
        assert engine.approve(iid, actor=FIN).state == "review"
        assert engine.approve(iid, actor=SUP).state == "done"
        engine, iid = panel_engine("2")
        engine.reject(iid, actor=FIN, comment="no")
        assert engine.get(iid).state == "review"
        assert engine.reject(iid, actor=NET, comment="no").state == "draft"

    def test_after_escalation_the_new_role_decides_the_level_alone(self):
        """A reassigned panel is settled by one decision of the role it went to."""
        text = PANEL.replace("QUORUM", "all").replace("VETO", "[]").replace(
            "      levels:", "      sla: {due: P2D, escalation: [{after: P1D, action: reassign,"
            " to: department_director}]}\n      levels:")
        clock = FrozenClock()
        engine = vw.ProcessEngine(definitions=[vw.load_definition("p.yaml", text=text)],
                                  bundled=False, clock=clock)
        inst = engine.start("panel", actor=AM)
        engine.fire(inst.id, "submit", actor=AM)
        engine.approve(inst.id, actor=FIN)
        engine.tick(clock.advance(days=1))
        with pytest.raises(vw.PermissionDenied):
            engine.approve(inst.id, actor=NET)
        assert engine.approve(inst.id, actor=DD).state == "done"

    def test_a_veto_seat_rejects_at_once(self):
        """A rejection on a veto seat ends the gate even when the quorum could still be met."""
        engine, iid = panel_engine("any", "[finance]")
        assert engine.reject(iid, actor=FIN, comment="over budget").state == "draft"

    def test_a_quorum_without_the_veto_seat_does_not_pass(self):
        """Two of three: two non-veto approvals wait for the veto seat; its approval passes."""
        engine, iid = panel_engine("2", "[finance]")
        assert engine.approve(iid, actor=NET).state == "review"
        waiting = engine.approve(iid, actor=SUP)
        assert (waiting.state, waiting.gate.level) == ("review", "panel")
        assert engine.approve(iid, actor=FIN).state == "done"

    def test_a_veto_seat_still_rejects_after_the_quorum_is_met(self):
        """The veto holder can reject after the other seats have all approved."""
        engine, iid = panel_engine("2", "[finance]")
        engine.approve(iid, actor=NET)
        engine.approve(iid, actor=SUP)
        assert engine.reject(iid, actor=FIN, comment="over budget").state == "draft"

    def test_the_veto_seat_counts_towards_the_quorum(self):
        """The veto holder's approval is one of the N: it and one other seat pass."""
        engine, iid = panel_engine("2", "[finance]")
        assert engine.approve(iid, actor=FIN).state == "review"
        assert engine.approve(iid, actor=NET).state == "done"

    def test_any_with_a_veto_needs_the_veto_seat(self):
        """Quorum any plus a veto: another seat's approval is not enough on its own."""
        engine, iid = panel_engine("any", "[finance]")
        assert engine.approve(iid, actor=NET).state == "review"
        assert engine.approve(iid, actor=FIN).state == "done"

    def test_level_outcome_waits_for_every_veto_seat(self):
        """level_outcome itself: approved only with the quorum and every veto seat."""
        level = LevelSpec.model_validate({
            "name": "l", "quorum": 2, "veto": ["a", "b"],
            "approvers": [{"name": k, "role": k} for k in "abcd"],
        })
        at = datetime(2026, 1, 1, tzinfo=UTC)

        def outcome(*decided: tuple[str, str]) -> str:
            return level_outcome(level, [Vote("l", s, s, None, d, at) for s, d in decided])

        assert outcome(("c", "approve"), ("d", "approve")) == "pending"
        assert outcome(("a", "approve"), ("c", "approve")) == "pending"
        assert outcome(("a", "approve"), ("c", "approve"), ("b", "approve")) == "approved"
        assert outcome(("c", "approve"), ("d", "approve"), ("b", "reject")) == "rejected"
        assert outcome(("a", "approve"), ("b", "approve")) == "approved"

    def test_one_person_fills_one_seat(self):
        """A person holding two seat roles still decides once per level."""
        engine, iid = panel_engine("all")
        both = vw.Actor("b1", roles={"business_manager", "network_planner"})
        engine.approve(iid, actor=both)
        with pytest.raises(vw.ApprovalError):
            engine.approve(iid, actor=both)

    def test_bundled_product_review_is_two_of_three_with_a_business_veto(self):
        """new_product_development ships the N-of-M-with-veto gate."""
        level = vw.ProcessEngine().definition("new_product_development").state(
            "product_review").gate.levels[0]
        assert (level.quorum, level.veto, len(level.approvers)) == (2, ("business",), 3)

    def test_bundled_product_review_waits_for_business(self):
        """Network and support agreeing is not enough: business, holding the veto, decides."""
        engine = vw.ProcessEngine()
        pm = vw.Actor("pm1", roles={"product_manager"})
        inst = engine.start("new_product_development", {"customer_id": "c1"}, actor=pm)
        engine.fire(inst.id, "submit", actor=pm)
        engine.approve(inst.id, actor=NET)
        assert engine.approve(inst.id, actor=SUP).state == "product_review"
        assert engine.approve(inst.id, actor=BM).state == "development"


class TestAuthority:
    """Approvers are resolved by role or by a pluggable resolver."""

    def test_an_actor_without_the_role_is_denied_and_nothing_changes(self, engine, notifier):
        """PermissionDenied, same version, same ledger, no notice."""
        inst = to_gate(engine)
        sent = len(notifier.notices)
        with pytest.raises(vw.PermissionDenied):
            engine.approve(inst.id, actor=NOBODY)
        with pytest.raises(vw.PermissionDenied):
            engine.reject(inst.id, actor=NOBODY, comment="no")
        after = engine.get(inst.id)
        assert after == inst
        assert len(notifier.notices) == sent

    def test_a_resolver_names_the_customers_own_manager(self):
        """customer_development's first level is the customer's account manager only."""
        engine = vw.ProcessEngine()
        area = vw.Actor("ar1", roles={"area_manager"})
        inst = engine.start(
            "customer_development",
            {"customer_id": "c9", "account_manager_id": "am7", "expected_revenue": 80_000},
            actor=area,
        )
        inst = engine.fire(inst.id, "submit", actor=area)
        with pytest.raises(vw.PermissionDenied):
            engine.approve(inst.id, actor=AM)  # an account manager, but not this customer's
        inst = engine.approve(inst.id, actor=vw.Actor("am7", roles=set()))
        assert inst.gate.level == "director"
        requested = [n for n in engine.notifier.notices if n.kind == "approval_requested"]
        assert requested[0].users == ("am7",)

    def test_a_custom_resolver_is_plugged_in(self):
        """A resolver passed to the engine overrides the built-in one."""
        engine = vw.ProcessEngine(resolvers={"customer_manager": lambda inst: ["boss"]})
        area = vw.Actor("ar1", roles={"area_manager"})
        inst = engine.start("customer_development",
                            {"customer_id": "c9", "account_manager_id": "am7"}, actor=area)
        engine.fire(inst.id, "submit", actor=area)
        assert engine.approve(inst.id, actor=vw.Actor("boss")).state == "development_plan"


class TestSeparationOfDuties:
    """Declared per gate: requester may not approve, one level per person, four eyes."""

    def test_the_requester_may_not_approve(self, engine):
        """Even holding the approver's role, the requester is refused."""
        both = vw.Actor("am-bm", roles={"account_manager", "business_manager"})
        inst = engine.start("sales", {"customer_id": "c1"}, actor=both)
        engine.fire(inst.id, "plan_ready", actor=both)
        engine.fire(inst.id, "submit", actor=both)
        with pytest.raises(vw.ApprovalError):
            engine.approve(inst.id, actor=both)
        assert engine.approve(inst.id, actor=BM).state == "contract_signing"

    def test_one_person_may_not_approve_two_levels(self, engine):
        """A director-and-business-manager approves one level only."""
        both = vw.Actor("x", roles={"business_manager", "department_director"})
        inst = to_gate(engine, contract_value=200_000)
        engine.approve(inst.id, actor=both)
        with pytest.raises(vw.ApprovalError):
            engine.approve(inst.id, actor=both)
        assert engine.approve(inst.id, actor=DD).state == "contract_signing"

    def test_a_tier_override_needs_a_second_person(self):
        """The requester cannot approve their own override even as a director."""
        engine = vw.ProcessEngine()
        director_am = vw.Actor("da", roles={"account_manager", "department_director"})
        inst = engine.start(
            "tier_override",
            {"customer_id": "c1", "requested_tier": "A", "reason": "provincial government"},
            actor=director_am,
        )
        engine.fire(inst.id, "submit", actor=director_am)
        with pytest.raises(vw.ApprovalError):
            engine.approve(inst.id, actor=director_am)
        assert engine.approve(inst.id, actor=DD).state == "applied"

    def test_min_people_holds_when_the_requester_may_approve(self):
        """With requester_may_approve and min_people 2, a lone requester cannot pass the gate."""
        text = PANEL.replace("QUORUM", "any").replace("VETO", "[]").replace(
            "      levels:", "      separation_of_duties: {requester_may_approve: true}\n"
            "      levels:")
        engine = vw.ProcessEngine(definitions=[vw.load_definition("p.yaml", text=text)],
                                  bundled=False)
        both = vw.Actor("me", roles={"account_manager", "business_manager"})
        inst = engine.start("panel", actor=both)
        engine.fire(inst.id, "submit", actor=both)
        with pytest.raises(vw.ApprovalError, match="2 different people"):
            engine.approve(inst.id, actor=both)


class TestDelegationRecallReject:
    """Time-bounded delegation, recall by the requester, reject to a named step."""

    def test_a_delegate_approves_on_behalf_until_the_delegation_ends(self, engine, clock):
        """The ledger names the delegate and the principal; an expired delegation is void."""
        inst = to_gate(engine)
        engine.delegate(inst.id, actor=BM, to="deputy", until=clock() + timedelta(days=1))
        deputy = vw.Actor("deputy", roles=set())
        clock.advance(days=2)
        with pytest.raises(vw.PermissionDenied):
            engine.approve(inst.id, actor=deputy)
        inst = to_gate(engine)
        engine.delegate(inst.id, actor=BM, to="deputy", until=clock() + timedelta(days=1))
        done = engine.approve(inst.id, actor=deputy, comment="for bm1")
        entry = [e for e in done.history if e.action == "approve"][-1]
        assert (entry.actor, entry.on_behalf_of) == ("deputy", "bm1")

    def test_delegations_cannot_be_chained(self, engine, clock):
        """A delegate may not pass the authority on."""
        inst = to_gate(engine)
        until = clock() + timedelta(days=1)
        engine.delegate(inst.id, actor=BM, to="deputy", until=until)
        with pytest.raises(vw.ApprovalError, match="delegation"):
            engine.delegate(inst.id, actor=vw.Actor("deputy"), to="other", until=until)

    def test_delegations_cannot_form_a_cycle(self, engine, clock):
        """bm1 → bm2 then bm2 → bm1 is refused; so is delegating to oneself or the requester."""
        inst = to_gate(engine)
        until = clock() + timedelta(days=1)
        engine.delegate(inst.id, actor=BM, to="bm2", until=until)
        with pytest.raises(vw.ApprovalError, match="cycle"):
            engine.delegate(inst.id, actor=BM2, to="bm1", until=until)
        with pytest.raises(vw.ApprovalError):
            engine.delegate(inst.id, actor=BM2, to="bm2", until=until)
        with pytest.raises(vw.ApprovalError):
            engine.delegate(inst.id, actor=BM2, to=AM.id, until=until)
        with pytest.raises(vw.ApprovalError):
            engine.delegate(inst.id, actor=BM2, to="z", until=clock() - timedelta(hours=1))

    def test_only_an_approver_may_delegate(self, engine, clock):
        """Someone outside the level is denied."""
        inst = to_gate(engine)
        with pytest.raises(vw.PermissionDenied):
            engine.delegate(inst.id, actor=NOBODY, to="y", until=clock() + timedelta(days=1))

    def test_the_requester_recalls_the_request(self, engine, notifier):
        """Recall returns to the step that asked; others may not recall."""
        inst = to_gate(engine)
        with pytest.raises(vw.PermissionDenied):
            engine.recall(inst.id, actor=BM)
        back = engine.recall(inst.id, actor=AM, comment="wrong price")
        assert back.state == "draft_agreement"
        assert back.gate is None
        assert notifier.of_kind("approval_recalled")[-1].users == ("am1",)

    def test_reject_goes_back_to_a_named_step_with_a_reason(self, engine, notifier):
        """A rejection needs a reason; 'to' picks one of the gate's reject targets."""
        inst = to_gate(engine)
        with pytest.raises(vw.ApprovalError, match="reason"):
            engine.reject(inst.id, actor=BM, comment="")
        with pytest.raises(vw.ApprovalError, match="allowed"):
            engine.reject(inst.id, actor=BM, comment="no", to="won")
        back = engine.reject(inst.id, actor=BM, comment="rethink the plan",
                             to="communication_plan")
        assert back.state == "communication_plan"
        last = back.history[-1] if back.history[-1].action == "reject" else back.history[-2]
        assert (last.action, last.comment) == ("reject", "rethink the plan")
        assert notifier.of_kind("approval_rejected")[-1].data["comment"] == "rethink the plan"

    def test_a_default_rejection_returns_to_the_draft(self, engine):
        """Without 'to', the gate's 'rejected' step is used."""
        inst = to_gate(engine)
        assert engine.reject(inst.id, actor=BM, comment="price").state == "draft_agreement"

    def test_a_second_director_cannot_decide_twice(self, engine):
        """A decided level no longer accepts the same person; another level does."""
        inst = to_gate(engine, contract_value=200_000)
        engine.approve(inst.id, actor=BM)
        engine.approve(inst.id, actor=DD)
        with pytest.raises(vw.TransitionNotAllowedError):
            engine.approve(inst.id, actor=DD2)
