"""Per-user work: assignees, pools, supervisors, claim / release / reassign, ``tasks_for``
from the work index, and a ledger from which the context can be replayed."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

import vip_workflow as vw
from vip_workflow.adapters.storage.memory import MemoryInstanceStore
from vip_workflow.ports import WorkIndex

from .conftest import ADMIN, AM, AM2, BM, BM2, DD, NOBODY

AM018 = vw.Actor("AM018", roles={"account_manager"})
AM999 = vw.Actor("AM999", roles={"account_manager"})
IM = vw.Actor("im1", roles={"industry_manager"})


def _case(engine: vw.ProcessEngine, manager: str | None = "AM018") -> vw.ProcessInstance:
    context = {"customer_id": "C1", "trigger": "arpu_drop"}
    if manager:
        context["account_manager_id"] = manager
    return engine.start("retention_case", context, actor=vw.SYSTEM)


def _refused(engine, instance_id, error, call):
    before = engine.get(instance_id)
    with pytest.raises(error):
        call()
    assert engine.get(instance_id) == before


class ScanOnlyStore:
    """A third-party store without a work index: the engine scans it."""

    def __init__(self) -> None:
        self._inner = MemoryInstanceStore()

    def __getattr__(self, name):
        if name in {"find_work", "get_many", "rewrite_work"}:
            raise AttributeError(name)
        return getattr(self._inner, name)


class TestAssignees:
    def test_a_case_belongs_to_the_customers_account_manager(self, engine):
        """AM999 may not dismiss AM018's case; AM018 may; nothing changes on a refusal."""
        inst = _case(engine)
        assert inst.assignee == "AM018" and inst.work == {"user:AM018"}
        _refused(engine, inst.id, vw.PermissionDenied,
                 lambda: engine.fire(inst.id, "dismiss", actor=AM999))
        assert engine.fire(inst.id, "dismiss", actor=AM018).state == "no_action"

    def test_the_start_entry_says_who_holds_the_step_and_why(self, engine):
        inst = _case(engine)
        assert inst.history[0].data["assignee"] == {"source": "context:account_manager_id",
                                                    "person": "AM018"}

    def test_nobody_named_falls_back_to_the_pool(self, engine):
        """Without an account manager in the context any account manager may act."""
        inst = _case(engine, manager=None)
        assert inst.assignee is None and inst.work == {"role:account_manager"}
        assert inst.history[0].data["assignee"]["fallback"] == "pool"
        assert engine.fire(inst.id, "dismiss", actor=AM999).state == "no_action"

    def test_a_supervisor_acts_with_a_reason_only(self, engine):
        inst = _case(engine)
        _refused(engine, inst.id, vw.PermissionDenied,
                 lambda: engine.fire(inst.id, "dismiss", actor=DD))
        _refused(engine, inst.id, vw.PermissionDenied,
                 lambda: engine.fire(inst.id, "dismiss", actor=NOBODY, comment="why not"))
        done = engine.fire(inst.id, "dismiss", actor=DD, comment="AM018 is on leave")
        assert done.history[-1].data == {"override": "supervisor"}

    def test_an_sla_reassignment_hands_the_step_to_a_role(self, engine, clock):
        """escalated_to takes the role; the person no longer holds the step."""
        inst = _case(engine)
        engine.tick(clock.advance(days=3))
        moved = engine.get(inst.id)
        assert (moved.assignee, moved.escalated_to) == (None, "industry_manager")
        assert moved.work == {"role:industry_manager"}
        assert moved.history[-1].data == {"to": "industry_manager", "from_assignee": "AM018"}
        _refused(engine, inst.id, vw.PermissionDenied,
                 lambda: engine.fire(inst.id, "dismiss", actor=AM018))
        assert engine.fire(inst.id, "dismiss", actor=IM).state == "no_action"

    def test_segmentation_steps_1_2_and_1_3_take_industry_and_account_managers(self, engine):
        researcher = vw.Actor("r1", roles={"researcher"})
        inst = engine.start("segmentation", {"region": "Chengdu"}, actor=researcher)
        inst = engine.fire(inst.id, "analysed", actor=researcher)
        assert inst.work == {"role:industry_manager", "role:account_manager"}
        inst = engine.fire(inst.id, "segments_selected", actor=AM)
        assert engine.fire(inst.id, "submit", actor=IM).state == "list_approval"

    def test_the_update_of_a_held_step_is_the_holders(self, engine):
        inst = _case(engine)
        _refused(engine, inst.id, vw.PermissionDenied,
                 lambda: engine.update_context(inst.id, {"discount": 0.1}, actor=AM999))
        done = engine.update_context(inst.id, {"discount": 0.1}, actor=AM018)
        assert done.history[-1].data == {"changes": {"discount": [0, 0.1]}}


class TestClaims:
    def test_claim_release_and_reassign(self, engine, notifier):
        inst = _case(engine, manager=None)
        claimed = engine.claim(inst.id, actor=AM)
        assert claimed.assignee == "am1" and claimed.work == {"user:am1"}
        assert notifier.of_kind("task_assigned")[-1].users == ("am1",)
        assert engine.claim(inst.id, actor=AM) == claimed  # one's own: nothing changes
        _refused(engine, inst.id, vw.AlreadyClaimedError,
                 lambda: engine.claim(inst.id, actor=AM2))
        _refused(engine, inst.id, vw.PermissionDenied,
                 lambda: engine.fire(inst.id, "dismiss", actor=AM2))
        _refused(engine, inst.id, vw.PermissionDenied,
                 lambda: engine.release(inst.id, actor=AM2))
        released = engine.release(inst.id, actor=AM, comment="busy")
        assert released.assignee is None and released.work == {"role:account_manager"}
        _refused(engine, inst.id, vw.PermissionDenied,
                 lambda: engine.reassign(inst.id, to="am2", actor=AM, reason="x"))
        _refused(engine, inst.id, vw.PermissionDenied,
                 lambda: engine.reassign(inst.id, to="am2", actor=DD, reason=" "))
        moved = engine.reassign(inst.id, to="am2", actor=DD, reason="knows the customer")
        assert moved.assignee == "am2"
        assert moved.history[-1].data == {"from": None, "to": "am2", "override": "supervisor"}
        assert notifier.of_kind("task_assigned")[-1].users == ("am2",)
        assert [e.action for e in moved.history[1:]] == ["claim", "release", "reassign"]
        assert moved.verify_ledger()

    def test_only_the_pool_may_claim(self, engine):
        inst = _case(engine, manager=None)
        _refused(engine, inst.id, vw.PermissionDenied, lambda: engine.claim(inst.id, actor=BM))

    def test_a_claim_with_a_request_id_is_a_safe_retry(self, engine):
        inst = _case(engine, manager=None)
        first = engine.claim(inst.id, actor=AM, request_id="k-1")
        assert engine.claim(inst.id, actor=AM, request_id="k-1") == first
        with pytest.raises(vw.RequestIdConflictError):
            engine.claim(inst.id, actor=AM2, request_id="k-1")

    def test_a_level_one_person_decides_can_be_claimed(self, engine):
        from .conftest import to_gate

        inst = to_gate(engine, contract_value=100)
        claimed = engine.claim(inst.id, actor=BM)
        assert claimed.work == {"user:bm1"}
        _refused(engine, inst.id, vw.PermissionDenied,
                 lambda: engine.approve(inst.id, actor=BM2))
        assert engine.approve(inst.id, actor=BM).state == "contract_signing"


LEVELS = """
kind: process
name: held
version: 1
resolvers: [customer_manager]
supervisors: [department_director]
context:
  amount: {type: number, default: 0}
  account_manager_id: {type: string}
  reviewer: {type: string}
initial: draft
states:
  - {name: draft, owner: account_manager, assignee: {pool: account_manager}}
  - name: review
    gate:
      approved: done
      rejected: draft
      levels:
        - name: business
          assignee: {context: reviewer}
          approvers: [{role: business_manager}]
        - name: big
          when: {field: amount, op: ">", value: 100}
          assignee: {resolver: customer_manager}
          approvers: [{role: department_director}]
  - {name: done, final: true}
transitions:
  - {event: submit, source: draft, dest: review}
"""


class TestHeldLevels:
    @pytest.fixture
    def engine(self, store, notifier, clock):
        definition = vw.load_definition("held.yaml", text=LEVELS)
        return vw.ProcessEngine(store=store, notifier=notifier, clock=clock,
                                definitions=[definition], bundled=False)

    def test_a_held_level_is_decided_by_its_holder_or_their_delegate(self, engine, clock):
        inst = engine.start("held", {"reviewer": "bm2", "amount": 50}, actor=AM)
        inst = engine.fire(inst.id, "submit", actor=AM)
        assert inst.assignee == "bm2" and inst.work == {"user:bm2"}
        _refused(engine, inst.id, vw.PermissionDenied, lambda: engine.approve(inst.id, actor=BM))
        delegated = engine.delegate(inst.id, actor=BM2, to="bm1",
                                    until=clock() + timedelta(days=1))
        assert delegated.work == {"user:bm2", "user:bm1"}
        assert engine.approve(inst.id, actor=BM).state == "done"

    def test_the_gate_entry_says_which_levels_apply_and_why(self, engine):
        inst = engine.start("held", {"reviewer": "bm2", "amount": 500}, actor=AM)
        inst = engine.fire(inst.id, "submit", actor=AM)
        gate = inst.history[-1].data["gate"]
        assert gate["levels"] == ["business", "big"]
        assert gate["conditions"] == [{"level": "big", "when": "amount > 100", "held": True}]
        assert gate["values"] == {"amount": 500}

    def test_a_supervisor_decides_a_held_level_with_a_reason(self, engine):
        inst = engine.start("held", {"reviewer": "bm2"}, actor=AM)
        inst = engine.fire(inst.id, "submit", actor=AM)
        _refused(engine, inst.id, vw.PermissionDenied, lambda: engine.approve(inst.id, actor=DD))
        done = engine.approve(inst.id, actor=DD, comment="bm2 is away")
        assert done.state == "done"
        assert done.history[-1].data["override"] == "supervisor"

    def test_a_resolver_assignee_and_a_pool_step(self, engine):
        inst = engine.start("held", {"reviewer": "bm2", "amount": 500,
                                     "account_manager_id": "dd1"}, actor=AM)
        assert inst.work == {"role:account_manager"}
        inst = engine.fire(inst.id, "submit", actor=AM)
        inst = engine.approve(inst.id, actor=BM2)
        assert inst.assignee == "dd1" and inst.work == {"user:dd1"}

    def test_an_assignee_must_read_a_declared_field(self):
        bad = LEVELS.replace("assignee: {context: reviewer}", "assignee: {context: nobody}")
        with pytest.raises(vw.ProcessDefinitionError, match="nobody"):
            vw.ProcessEngine(definitions=[vw.load_definition("bad.yaml", text=bad)])


class TestTasksFor:
    def test_my_cases_and_my_pools_only(self, engine):
        mine, other, pool = _case(engine), _case(engine, "AM031"), _case(engine, None)
        assert isinstance(engine.store, WorkIndex)
        assert {i.id for i in engine.tasks_for(AM018)} == {mine.id, pool.id}
        assert {i.id for i in engine.tasks_for(vw.Actor("AM031", roles={"account_manager"}))} \
            == {other.id, pool.id}
        assert engine.tasks_for(AM018, limit=1)[0].id in {mine.id, pool.id}
        assert engine.tasks_for(BM) == []

    def test_the_index_agrees_with_a_scan(self, clock, notifier):
        scanned = vw.ProcessEngine(store=ScanOnlyStore(), notifier=notifier, clock=clock)
        indexed = vw.ProcessEngine(notifier=notifier, clock=clock)
        assert not isinstance(scanned.store, WorkIndex)
        for engine in (scanned, indexed):
            for manager in ("AM018", None, "AM031"):
                _case(engine, manager)
        for actor in (AM018, AM, BM, DD):
            assert sorted(i.context.get("account_manager_id") or "" for i in
                          scanned.tasks_for(actor)) == sorted(
                i.context.get("account_manager_id") or "" for i in indexed.tasks_for(actor))

    def test_reindex_work_restores_the_keys(self, engine, store):
        inst = _case(engine)
        store.rewrite_work([(inst.id, frozenset())])
        assert engine.tasks_for(AM018) == []
        assert engine.reindex_work() == 1
        assert [i.id for i in engine.tasks_for(AM018)] == [inst.id]
        assert engine.get(inst.id).version == inst.version


class TestLedgerAudit:
    def test_the_context_is_replayed_from_the_ledger(self, engine):
        inst = _case(engine)
        assert inst.history[0].data["context"]["account_manager_id"] == "AM018"
        inst = engine.fire(inst.id, "propose_offer", actor=AM018, data={"discount": 0.2})
        assert inst.history[-1].data["changes"] == {"discount": [0, 0.2]}
        assert inst.history[-1].data["gate"]["levels"] == ["business", "director"]
        assert inst.verify_ledger()
        tampered = attrs.evolve(inst, context={**inst.context, "discount": 0.5})
        assert not tampered.verify_ledger()

    def test_a_ledger_from_before_keeps_verifying(self, engine):
        """A start entry without a context (written before 0.4) skips the context check."""
        from vip_workflow.domain.instances import LedgerEntry, entry_hash

        inst = _case(engine)
        start = inst.history[0]
        data = {k: v for k, v in start.data.items() if k != "context"}
        digest = entry_hash(inst.id, "", 0, start.at, start.actor, start.on_behalf_of,
                            "start", None, start.dest, start.comment, data)
        old = LedgerEntry(0, start.at, start.actor, start.on_behalf_of, "start", None,
                          start.dest, start.comment, data, "", digest)
        legacy = attrs.evolve(inst, history=(old,), context={"anything": 1})
        assert legacy.verify_ledger()

    def test_an_admin_update_records_old_and_new_values(self, engine):
        inst = _case(engine, manager=None)
        done = engine.update_context(inst.id, {"account_manager_id": "AM018"}, actor=ADMIN)
        assert done.history[-1].data == {"changes": {"account_manager_id": [None, "AM018"]}}
        assert done.verify_ledger()
