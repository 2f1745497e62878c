"""The engine's commands: authority, ledger, timers and escalation, hand-offs, versions,
concurrency and notifications."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from attrs import evolve

import vip_workflow as vw
from tests.processes.conftest import ADMIN, AM, AM2, BM, DD, NOBODY, to_gate
from vip_workflow.adapters.notify.log import LogNotifier
from vip_workflow.adapters.storage.memory import MemoryInstanceStore
from vip_workflow.testing import FrozenClock

SOLUTION_MANAGER = vw.Actor("sm1", roles={"solution_manager"})
PRODUCT_MANAGER = vw.Actor("pm1", roles={"product_manager"})
NETWORK_PLANNER = vw.Actor("np1", roles={"network_planner"})
SUPPORT = vw.Actor("ts1", roles={"technical_support_manager"})
INDUSTRY = vw.Actor("im1", roles={"industry_manager"})


class TestStartAndFire:
    """Named transitions, fired by the roles that own the step."""

    def test_the_contract_example_runs(self):
        """The issue's API: start, fire, approve, get().state and history."""
        engine = vw.ProcessEngine()
        inst = engine.start("sales", context={"customer_id": "c1"}, actor=AM)
        engine.fire(inst.id, "plan_ready", actor=AM)
        engine.fire(inst.id, "submit", actor=AM)
        engine.approve(inst.id, actor=BM, comment="fine")
        assert engine.get(inst.id).state == "contract_signing"
        actions = [e.action for e in engine.get(inst.id).history]
        assert actions == ["start", "plan_ready", "submit", "approve"]

    def test_an_unknown_event_is_not_allowed(self, engine):
        """An event with no way out of the current state raises TransitionNotAllowedError."""
        inst = engine.start("sales", {"customer_id": "c1"}, actor=AM)
        with pytest.raises(vw.TransitionNotAllowedError) as caught:
            engine.fire(inst.id, "sign", actor=AM)
        assert (caught.value.state, caught.value.event) == ("communication_plan", "sign")

    def test_an_actor_without_the_owner_role_is_denied_and_nothing_changes(self, engine):
        """PermissionDenied on start and on fire; the instance is untouched."""
        with pytest.raises(vw.PermissionDenied):
            engine.start("sales", {"customer_id": "c1"}, actor=NOBODY)
        inst = engine.start("sales", {"customer_id": "c1"}, actor=AM)
        with pytest.raises(vw.PermissionDenied) as caught:
            engine.fire(inst.id, "plan_ready", actor=BM)
        assert caught.value.actor == "bm1"
        assert engine.get(inst.id) == inst

    def test_the_context_is_validated(self, engine):
        """Missing required fields, wrong types and unknown fields are refused."""
        with pytest.raises(vw.InvalidContextError, match="customer_id") as caught:
            engine.start("sales", {}, actor=AM)
        assert caught.value.problems[0][0] == "customer_id"
        assert isinstance(caught.value, ValueError | vw.ProcessError)
        with pytest.raises(vw.ProcessError, match="discount"):
            engine.start("sales", {"customer_id": "c", "discount": 3}, actor=AM)
        with pytest.raises(vw.ProcessError, match="colour"):
            engine.start("sales", {"customer_id": "c", "colour": "red"}, actor=AM)
        inst = engine.start("sales", {"customer_id": "c", "contract_value": "12.5"}, actor=AM)
        assert inst.context["contract_value"] == 12.5

    def test_fire_data_updates_the_context(self, engine):
        """Data given with an event is merged and re-validated, and recorded in the ledger."""
        inst = engine.start("sales", {"customer_id": "c1"}, actor=AM)
        inst = engine.fire(inst.id, "plan_ready", actor=AM, data={"contract_value": 700_000})
        assert inst.context["contract_value"] == 700_000
        assert inst.history[-1].data["data"] == {"contract_value": 700_000}
        assert inst.history[-1].data["changes"] == {"contract_value": [0, 700_000]}
        inst = engine.fire(inst.id, "submit", actor=AM)
        assert inst.gate.levels[-1] == "vp"

    def test_a_finished_instance_takes_no_more_events(self, engine):
        """After a final state every event is refused."""
        inst = engine.start("sales", {"customer_id": "c1"}, actor=AM)
        inst = engine.fire(inst.id, "lose", actor=AM, comment="went to a competitor")
        assert inst.final
        with pytest.raises(vw.TransitionNotAllowedError):
            engine.fire(inst.id, "lose", actor=AM)

    def test_an_unknown_instance_is_not_found(self, engine):
        """get() of an unknown id raises NotFoundError (also a KeyError)."""
        with pytest.raises(vw.NotFoundError):
            engine.get("missing")
        with pytest.raises(KeyError):
            engine.fire("missing", "x", actor=AM)

    def test_available_events_depend_on_the_actor(self, engine):
        """The owner sees the step's events; others see none."""
        inst = engine.start("sales", {"customer_id": "c1"}, actor=AM)
        assert engine.available_events(inst.id, AM) == ["plan_ready", "lose"]
        assert engine.available_events(inst.id, BM) == []

    def test_the_workbench_lists_what_an_actor_may_act_on(self, engine):
        """tasks_for: owners see their steps, approvers their open levels, requesters not."""
        draft = engine.start("sales", {"customer_id": "c1"}, actor=AM)
        waiting = to_gate(engine)
        assert [i.id for i in engine.tasks_for(AM)] == [draft.id]
        assert [i.id for i in engine.tasks_for(BM)] == [waiting.id]
        assert engine.tasks_for(DD) == []
        assert engine.tasks_for(BM, definition="after_sales") == []

    def test_update_context_is_for_the_owner(self, engine):
        """The step owner may change the context; others are denied."""
        inst = engine.start("sales", {"customer_id": "c1"}, actor=AM)
        with pytest.raises(vw.PermissionDenied):
            engine.update_context(inst.id, {"discount": 0.1}, actor=BM)
        assert engine.update_context(inst.id, {"discount": 0.1}, actor=AM).context["discount"]

    def test_a_trigger_opens_a_retention_case(self, engine, notifier):
        """open_for_trigger('retain') starts the retention case as the system."""
        started = engine.open_for_trigger(
            "retain", {"customer_id": "c7", "trigger": "spend_declining"}
        )
        assert [i.definition for i in started] == ["retention_case"]
        assert started[0].history[0].actor == "system"
        assert notifier.of_kind("task_assigned")[-1].roles == ("account_manager",)

    def test_deferred_dispatch_keeps_notices_in_the_outbox_until_dispatch(
            self, engine, store, notifier):
        """Inside deferred_dispatch() nothing is sent; the next dispatch() sends it all."""
        with engine.deferred_dispatch():
            for customer in ("c1", "c2"):
                engine.open_for_trigger("retain", {"customer_id": customer, "trigger": "t"})
            assert notifier.notices == []
            assert len(store.pending_notices()) >= 2
        assert notifier.notices == []
        sent = engine.dispatch()
        assert sent >= 2 and len(notifier.of_kind("task_assigned")) == 2
        assert store.pending_notices() == []
        engine.open_for_trigger("retain", {"customer_id": "c3", "trigger": "t"})
        assert len(notifier.of_kind("task_assigned")) == 3  # outside the block: at once


class TestLedger:
    """Every change is appended to a hash-chained ledger."""

    def test_every_change_is_recorded_with_actor_action_and_states(self, engine):
        """actor, on-behalf-of, action, from → to, comment and time are kept."""
        inst = engine.start("sales", {"customer_id": "c1"}, actor=AM, on_behalf_of="boss")
        inst = engine.fire(inst.id, "plan_ready", actor=AM, comment="plan agreed")
        first, second = inst.history
        assert (first.actor, first.on_behalf_of, first.action, first.dest) == (
            "am1", "boss", "start", "communication_plan")
        assert (second.source, second.dest, second.comment) == (
            "communication_plan", "draft_agreement", "plan agreed")
        assert second.prev_hash == first.hash
        assert inst.verify_ledger()

    def test_tampering_is_detected(self, engine):
        """Changing any recorded field, dropping or reordering entries breaks verification."""
        inst = to_gate(engine)
        engine.approve(inst.id, actor=BM, comment="ok")
        inst = engine.get(inst.id)
        assert inst.verify_ledger()
        history = list(inst.history)
        edited = [*history[:2], evolve(history[2], comment="nothing to see"), *history[3:]]
        assert not evolve(inst, history=tuple(edited)).verify_ledger()
        assert not evolve(inst, history=tuple(history[:2] + history[3:])).verify_ledger()
        swapped = [history[1], history[0], *history[2:]]
        assert not evolve(inst, history=tuple(swapped)).verify_ledger()
        assert not evolve(inst, state="won").verify_ledger()

    def test_a_rehashed_forgery_does_not_chain_to_another_instance(self, engine):
        """Entries are bound to their instance id: copying a ledger to another id fails."""
        a = engine.start("sales", {"customer_id": "c1"}, actor=AM)
        b = engine.start("sales", {"customer_id": "c2"}, actor=AM)
        assert not evolve(b, history=a.history).verify_ledger()


class TestTimers:
    """SLA timers and escalation, driven by tick(now); they survive restarts."""

    def test_a_gate_reminds_then_reassigns_then_reports_overdue(self, engine, clock, notifier):
        """sales 4.3: reminder after a day, reassignment to the director after two, overdue
        after three."""
        inst = to_gate(engine)
        assert engine.tick(clock.advance(hours=23)).instances == ()
        report = engine.tick(clock.advance(hours=2))
        assert report.reminders == 1
        assert notifier.of_kind("reminder")[-1].roles == ("business_manager",)
        report = engine.tick(clock.advance(days=1))
        assert report.escalations == 1
        assert engine.get(inst.id).escalated_to == "department_director"
        assert notifier.of_kind("escalated")[-1].roles == ("department_director",)
        with pytest.raises(vw.PermissionDenied):
            engine.approve(inst.id, actor=BM)  # reassigned away from the business manager
        assert engine.tick(clock.advance(days=1)).overdue == 1
        assert notifier.of_kind("overdue")
        assert engine.approve(inst.id, actor=DD).state == "contract_signing"
        assert engine.get(inst.id).verify_ledger()

    def test_timers_survive_a_restart(self, store, clock, notifier):
        """A new engine on the same store runs the timers the old one scheduled."""
        first = vw.ProcessEngine(store=store, clock=clock)
        inst = to_gate(first)
        second = vw.ProcessEngine(store=store, notifier=notifier, clock=clock)
        report = second.tick(clock.advance(days=2, hours=1))
        assert report.instances == (inst.id,)
        assert (report.reminders, report.escalations) == (1, 1)
        assert second.get(inst.id).escalated_to == "department_director"

    def test_a_tick_reads_due_instances_in_batches_until_none_is_left(self, engine, clock):
        """Five due instances with a batch of two are all handled in one tick."""
        ids = {engine.start("sales", {"customer_id": f"c{i}"}, actor=AM).id for i in range(5)}
        report = engine.tick(clock.advance(days=8), batch=2)
        assert set(report.instances) == ids
        assert report.reminders == 5

    def test_a_tick_runs_each_timer_once(self, engine, clock):
        """Ticking again at the same time does nothing more."""
        to_gate(engine)
        clock.advance(days=5)
        assert engine.tick().instances
        assert engine.tick().instances == ()

    def test_leaving_a_step_cancels_its_timers(self, engine, clock):
        """A step left before its SLA leaves nothing due."""
        inst = engine.start("retention_case", {"customer_id": "c1"}, actor=AM)
        engine.fire(inst.id, "dismiss", actor=AM)
        assert engine.tick(clock.advance(days=30)).instances == ()

    def test_a_step_escalates_to_the_next_role(self, engine, clock, notifier):
        """retention_case: after 3 days the assessment goes to the industry manager."""
        inst = engine.start("retention_case", {"customer_id": "c1"}, actor=AM)
        engine.tick(clock.advance(days=3))
        assert engine.get(inst.id).escalated_to == "industry_manager"
        with pytest.raises(vw.PermissionDenied):  # the old owner can no longer act
            engine.fire(inst.id, "dismiss", actor=AM)
        with pytest.raises(vw.PermissionDenied):
            engine.update_context(inst.id, {"note": "x"}, actor=AM)
        assert engine.fire(inst.id, "dismiss", actor=INDUSTRY).state == "no_action"

    def test_a_resolver_seat_is_reassigned_to_the_escalation_role(self, engine, clock):
        """customer_development: after 5 days the industry manager replaces the resolver seat."""
        area = vw.Actor("ar1", roles={"area_manager"})
        inst = engine.start("customer_development",
                            {"customer_id": "c9", "account_manager_id": "am7"}, actor=area)
        engine.fire(inst.id, "submit", actor=area)
        with pytest.raises(vw.PermissionDenied):
            engine.approve(inst.id, actor=INDUSTRY)
        engine.tick(clock.advance(days=5))
        with pytest.raises(vw.PermissionDenied):
            engine.approve(inst.id, actor=vw.Actor("am7"))
        assert engine.approve(inst.id, actor=INDUSTRY).state == "development_plan"

    def test_a_timed_event_that_cannot_fire_is_recorded_not_raised(self, clock):
        """A timer whose event has no way (its condition fails) leaves a ledger entry."""
        text = """
name: timed
context: {ready: {type: boolean, default: false}}
initial: wait
states:
  - name: wait
    owner: account_manager
    timers: [{after: P1D, event: go}]
  - {name: done, final: true}
transitions:
  - {event: go, source: wait, dest: done, when: {field: ready, op: "==", value: true}}
"""
        engine = vw.ProcessEngine(clock=clock, bundled=False,
                                  definitions=[vw.load_definition("t.yaml", text=text)])
        inst = engine.start("timed", actor=AM)
        assert engine.tick(clock.advance(days=2)).events == 1
        after = engine.get(inst.id)
        assert (after.state, after.history[-1].action) == ("wait", "timer_failed")
        assert after.verify_ledger()

    def test_the_key_customer_list_is_reviewed_every_half_year(self, engine, clock):
        """segmentation's timer fires half_yearly_review six months after approval."""
        researcher = vw.Actor("r1", roles={"researcher"})
        inst = engine.start("segmentation", {"region": "chengdu"}, actor=researcher)
        engine.fire(inst.id, "analysed", actor=researcher)
        engine.fire(inst.id, "segments_selected", actor=INDUSTRY)
        engine.fire(inst.id, "submit", actor=INDUSTRY)
        assert engine.approve(inst.id, actor=DD).state == "key_customer_list"
        engine.tick(clock.advance(days=180))
        assert engine.get(inst.id).state == "key_customer_list"
        report = engine.tick(clock.advance(days=5))
        assert report.events == 1
        after = engine.get(inst.id)
        assert after.state == "pick_key_customers"
        assert after.history[-1].actor == "system"


def _solution_at_decision(engine):
    """A solution design at the gate "can a new solution be created?"."""
    inst = engine.start("solution_design", {"customer_id": "c1"}, actor=SOLUTION_MANAGER)
    for event in ["shortlisted", "chosen", "support_decided", "cannot_provide_now"]:
        inst = engine.fire(inst.id, event, actor=SOLUTION_MANAGER)
    return inst


class TestHandoffs:
    """Solution design hands off to 6.2/6.3 and waits; sales starts 6.1."""

    def _to_decision(self, engine):
        return _solution_at_decision(engine)

    def test_solution_design_waits_for_new_product_development(self, engine):
        """The parent waits; when the product launches it continues to 3.4."""
        inst = engine.fire(self._to_decision(engine).id, "develop_product",
                           actor=SOLUTION_MANAGER)
        assert inst.state == "new_product"
        child = engine.get(inst.waiting_for)
        assert (child.definition, child.parent, child.context) == (
            "new_product_development", inst.id, {"customer_id": "c1"})
        with pytest.raises(vw.TransitionNotAllowedError):
            engine.fire(inst.id, "submit", actor=SOLUTION_MANAGER)
        engine.fire(child.id, "submit", actor=PRODUCT_MANAGER)
        engine.approve(child.id, actor=NETWORK_PLANNER)
        engine.approve(child.id, actor=SUPPORT)
        engine.approve(child.id, actor=BM)  # the business seat holds a veto: it must approve
        engine.fire(child.id, "launch", actor=PRODUCT_MANAGER)
        parent = engine.get(inst.id)
        assert parent.state == "evaluate"
        assert parent.waiting_for is None
        assert parent.history[-1].action == "handoff_done"

    def test_a_cancelled_network_build_returns_to_the_second_question(self, engine):
        """network_planning cancelled → 'can a new solution be created?' again."""
        inst = engine.fire(self._to_decision(engine).id, "build_network",
                           actor=SOLUTION_MANAGER)
        engine.fire(inst.waiting_for, "cancel", actor=NETWORK_PLANNER)
        assert engine.get(inst.id).state == "can_create_new"

    def test_a_hand_off_whose_child_context_is_invalid_changes_nothing(self, clock):
        """The child's context is checked before the parent's move is committed."""
        text = """
name: needy
context: {customer_id: {type: string, required: true}}
initial: a
states:
  - {name: a, owner: account_manager}
  - name: h
    handoff: {process: service_activation, wait: false, next: z}
  - {name: z, final: true}
transitions:
  - {event: go, source: a, dest: h}
"""
        engine = vw.ProcessEngine(clock=clock,
                                  definitions=[vw.load_definition("n.yaml", text=text)])
        inst = engine.start("needy", {"customer_id": "c1"}, actor=AM)
        with pytest.raises(vw.ProcessError, match="customer_id"):
            engine.fire(inst.id, "go", actor=AM)  # the hand-off maps no customer_id
        assert engine.get(inst.id) == inst
        assert engine.store.find(definition="service_activation") == []

    def test_sales_starts_service_activation_without_waiting(self, engine):
        """4.6 CRM filing hands over to 6.1 and the sale is won."""
        inst = to_gate(engine, account_manager_id="am1")
        engine.approve(inst.id, actor=BM)
        engine.fire(inst.id, "sign", actor=AM)
        engine.fire(inst.id, "enter_order", actor=BM)
        inst = engine.fire(inst.id, "file", actor=AM)
        assert inst.state == "won"
        assert inst.verify_ledger()
        [child] = engine.store.find(definition="service_activation")
        assert engine.get(child).context["customer_id"] == "c1"
        assert engine.get(child).parent is None


class Crash(BaseException):
    """A simulated crash: not an ``Exception``, so nothing in the engine catches it."""


class FaultyStore:
    """Wraps a store; ``fail(when, error)`` makes the next commit matching ``when(instance)``
    raise ``error`` instead of writing anything."""

    def __init__(self, inner):
        self.inner = inner
        self.faults = []

    def fail(self, when, error, times=1):
        self.faults += [(when, error)] * times

    def commit(self, instance, expected_version, ledger_entries, notices):
        for i, (when, error) in enumerate(self.faults):
            if when(instance):
                del self.faults[i]
                raise error
        self.inner.commit(instance, expected_version, ledger_entries, notices)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _is(definition):
    return lambda inst: inst.definition == definition


def _children(store, definition="new_product_development"):
    return store.find(definition=definition)


def _assert_whole(store):
    """Every ledger verifies and nothing is left due (no pending hand-off marker)."""
    for instance_id in store.find():
        inst = store.get(instance_id)
        assert inst.verify_ledger(), instance_id
        assert not [t for t in inst.timers if t.kind in {"start_child", "resume_parent"}], inst


class TestCrashSafeHandoffs:
    """A hand-off spans two commits; a failure or crash between them is repaired by tick()."""

    def _parent(self, engine):
        return _solution_at_decision(engine)

    def _to_development(self, engine, child_id):
        engine.fire(child_id, "submit", actor=PRODUCT_MANAGER)
        for approver in (NETWORK_PLANNER, SUPPORT, BM):
            engine.approve(child_id, actor=approver)

    def test_the_child_has_an_id_derived_from_the_hand_off(self, engine, clock):
        """PARENT/PROCESS/SEQ, the seq of the parent's handoff entry; markers go at tick."""
        parent = engine.fire(self._parent(engine).id, "develop_product",
                             actor=SOLUTION_MANAGER)
        entry = parent.history[-1]
        assert entry.action == "handoff"
        assert parent.waiting_for == f"{parent.id}/new_product_development/{entry.seq}"
        assert [t.kind for t in parent.timers] == ["start_child"]  # until a tick checks it
        report = engine.tick(clock.advance(minutes=1))
        assert (report.instances, report.handoffs) == ((parent.id,), 0)
        assert engine.get(parent.id).timers == ()
        assert engine.tick(clock.advance(minutes=1)).instances == ()

    @pytest.mark.parametrize("error", [vw.StorageUnavailableError("db down"), Crash()],
                             ids=["error", "crash"])
    def test_a_child_whose_commit_fails_is_started_by_tick(self, store, notifier, clock,
                                                           error, caplog):
        """The parent's commit carries a start_child marker: tick() starts the child once."""
        faulty = FaultyStore(store)
        engine = vw.ProcessEngine(store=faulty, notifier=notifier, clock=clock)
        inst = self._parent(engine)
        faulty.fail(_is("new_product_development"), error)
        if isinstance(error, Crash):
            with pytest.raises(Crash):
                engine.fire(inst.id, "develop_product", actor=SOLUTION_MANAGER)
            engine = vw.ProcessEngine(store=store, notifier=notifier, clock=clock)  # restart
        else:
            with caplog.at_level(logging.ERROR, logger="vip_workflow.processes.engine"):
                engine.fire(inst.id, "develop_product", actor=SOLUTION_MANAGER)  # no raise
            assert "next tick() completes it" in caplog.text
        parent = store.get(inst.id)
        assert (parent.state, parent.version) == ("new_product", inst.version + 1)
        assert _children(store) == []
        report = engine.tick(clock.advance(minutes=1))
        assert (report.instances, report.handoffs) == ((parent.id,), 1)
        assert _children(store) == [parent.waiting_for]
        child = store.get(parent.waiting_for)
        assert (child.parent, child.state, child.context) == (
            parent.id, "proposal", {"customer_id": "c1"})
        start = child.history[0]  # as the hand-off itself would have started it
        assert (start.comment, start.on_behalf_of) == (
            f"hand-off from solution_design {parent.id}", SOLUTION_MANAGER.id)
        assert engine.tick(clock.advance(minutes=1)).instances == ()  # idempotent: done
        assert _children(store) == [child.id]
        _assert_whole(store)
        self._to_development(engine, child.id)  # and it runs to the end as usual
        engine.fire(child.id, "launch", actor=PRODUCT_MANAGER)
        assert store.get(parent.id).state == "evaluate"

    def test_a_crash_before_the_parent_resumes_is_resumed_by_tick_once(
            self, store, notifier, clock):
        """The child's final commit carries a resume_parent marker for tick()."""
        faulty = FaultyStore(store)
        engine = vw.ProcessEngine(store=faulty, notifier=notifier, clock=clock)
        parent = engine.fire(self._parent(engine).id, "develop_product",
                             actor=SOLUTION_MANAGER)
        child_id = parent.waiting_for
        self._to_development(engine, child_id)
        faulty.fail(lambda inst: inst.id == parent.id, Crash())
        with pytest.raises(Crash):
            engine.fire(child_id, "launch", actor=PRODUCT_MANAGER)
        assert store.get(child_id).final
        assert store.get(parent.id).state == "new_product"  # committed, waiting, stuck
        restarted = vw.ProcessEngine(store=store, notifier=notifier, clock=clock)
        report = restarted.tick(clock.advance(minutes=5))
        assert report.handoffs == 1
        resumed = store.get(parent.id)
        assert (resumed.state, resumed.waiting_for) == ("evaluate", None)
        assert [e.action for e in resumed.history].count("handoff_done") == 1
        for _ in range(2):  # again: nothing more happens
            assert restarted.tick(clock.advance(minutes=5)).handoffs == 0
        assert store.get(parent.id).history == resumed.history
        assert _children(store) == [child_id]
        _assert_whole(store)

    def test_a_resume_that_keeps_conflicting_is_finished_by_tick(self, store, notifier, clock):
        """Three conflicting commits used to drop the resume; now the marker keeps it."""
        faulty = FaultyStore(store)
        engine = vw.ProcessEngine(store=faulty, notifier=notifier, clock=clock)
        parent = engine.fire(self._parent(engine).id, "develop_product",
                             actor=SOLUTION_MANAGER)
        child_id = parent.waiting_for
        self._to_development(engine, child_id)
        faulty.fail(lambda inst: inst.id == parent.id, vw.ConcurrentUpdateError("busy"), 3)
        assert engine.fire(child_id, "launch", actor=PRODUCT_MANAGER).state == "launched"
        assert store.get(parent.id).state == "new_product"
        assert engine.tick(clock.advance(minutes=1)).handoffs == 1
        assert store.get(parent.id).state == "evaluate"
        _assert_whole(store)

    def test_a_crash_inside_the_repairing_tick_is_repaired_by_the_next(
            self, store, notifier, clock):
        """Repeating a repair is idempotent: no second child, every ledger verifies."""
        faulty = FaultyStore(store)
        engine = vw.ProcessEngine(store=faulty, notifier=notifier, clock=clock)
        inst = self._parent(engine)
        faulty.fail(_is("new_product_development"), vw.StorageUnavailableError("down"))
        parent = engine.fire(inst.id, "develop_product", actor=SOLUTION_MANAGER)
        faulty.fail(lambda i: i.id == parent.id, Crash())  # the tick's own commit
        with pytest.raises(Crash):
            engine.tick(clock.advance(minutes=1))
        assert _children(store) == [parent.waiting_for]  # it had started the child
        assert [t.kind for t in store.get(parent.id).timers] == ["start_child"]
        restarted = vw.ProcessEngine(store=store, notifier=notifier, clock=clock)
        report = restarted.tick(clock.advance(minutes=1))
        assert (report.instances, report.handoffs) == ((parent.id,), 0)
        assert _children(store) == [parent.waiting_for]
        assert restarted.tick(clock.advance(minutes=1)).instances == ()
        _assert_whole(store)

    def test_a_hand_off_that_does_not_wait_is_completed_by_tick(self, store, notifier, clock):
        """sales is won at once; its service activation is started by the next tick."""
        faulty = FaultyStore(store)
        engine = vw.ProcessEngine(store=faulty, notifier=notifier, clock=clock)
        inst = to_gate(engine, account_manager_id="am1")
        engine.approve(inst.id, actor=BM)
        engine.fire(inst.id, "sign", actor=AM)
        engine.fire(inst.id, "enter_order", actor=BM)
        faulty.fail(_is("service_activation"), vw.StorageUnavailableError("down"))
        won = engine.fire(inst.id, "file", actor=AM)
        assert won.state == "won" and _children(store, "service_activation") == []
        assert engine.tick(clock.advance(minutes=1)).handoffs == 1
        [child] = _children(store, "service_activation")
        assert (store.get(child).parent, store.get(child).context["customer_id"]) == (
            None, "c1")
        assert engine.tick(clock.advance(minutes=1)).instances == ()
        _assert_whole(store)

    def test_a_child_that_can_no_longer_start_is_recorded(self, store, notifier, clock):
        """A repair the child's newest version refuses leaves a handoff_failed entry."""
        faulty = FaultyStore(store)
        engine = vw.ProcessEngine(store=faulty, notifier=notifier, clock=clock)
        inst = self._parent(engine)
        faulty.fail(_is("new_product_development"), vw.StorageUnavailableError("down"))
        engine.fire(inst.id, "develop_product", actor=SOLUTION_MANAGER)
        stricter = engine.definition("new_product_development").model_dump()
        stricter["version"] = 2
        stricter["context"]["product"]["required"] = True
        engine.deploy(stricter)
        engine.tick(clock.advance(minutes=1))
        parent = store.get(inst.id)
        assert parent.history[-1].action == "handoff_failed"
        assert "product" in parent.history[-1].comment
        assert notifier.of_kind("handoff_failed")
        assert _children(store) == []
        _assert_whole(store)

    @pytest.mark.parametrize("process", ["new_product_development", "service_activation"])
    def test_a_child_started_by_tick_has_the_ledger_of_an_uncrashed_run(self, process):
        """Issue 9: a crash between the parent's commit and the child's start; tick() (at the
        same frozen time) starts the child on behalf of the requester, as the uncrashed run
        does, and writes the same ledger, hashes included."""
        crashed, uncrashed = self._child_ledger(process, crash=True), self._child_ledger(
            process, crash=False)
        assert crashed == uncrashed
        requester = SOLUTION_MANAGER if process == "new_product_development" else AM
        assert crashed[0].on_behalf_of == requester.id

    def _child_ledger(self, process, *, crash):
        """The ledger of the ``process`` child of a hand-off, with or without a crash right
        before the child's commit (fresh store, frozen clock and predictable ids)."""
        store, clock = MemoryInstanceStore(), FrozenClock()
        faulty = FaultyStore(store)

        def new_engine(store):
            ids = iter(f"i{n}" for n in range(100))
            return vw.ProcessEngine(store=store, clock=clock, id_factory=lambda: next(ids))

        engine = new_engine(faulty)
        if process == "new_product_development":
            inst, event, actor = self._parent(engine), "develop_product", SOLUTION_MANAGER
        else:
            inst, event, actor = to_gate(engine, account_manager_id="am1"), "file", AM
            engine.approve(inst.id, actor=BM)
            engine.fire(inst.id, "sign", actor=AM)
            engine.fire(inst.id, "enter_order", actor=BM)
        if crash:
            faulty.fail(_is(process), Crash())
            with pytest.raises(Crash):
                engine.fire(inst.id, event, actor=actor)
            assert _children(store, process) == []
            assert new_engine(store).tick().handoffs == 1  # restarted, at the same time
        else:
            engine.fire(inst.id, event, actor=actor)
            assert engine.tick().handoffs == 0  # it only drops the start_child marker
        [child] = _children(store, process)
        _assert_whole(store)
        return store.get(child).history

    def test_a_resume_the_definitions_make_impossible_does_not_stall_tick(self, clock):
        """The parent's next hand-off refuses its context: recorded, markers dropped."""
        outer = """
name: outer
context: {customer_id: {type: string}}
initial: a
states:
  - {name: a, owner: account_manager}
  - name: h1
    handoff: {process: inner, results: {done: h2}}
  - name: h2
    handoff: {process: service_activation, wait: false, next: z}
  - {name: z, final: true}
transitions:
  - {event: go, source: a, dest: h1}
"""
        inner = """
name: inner
initial: w
states:
  - {name: w, owner: account_manager}
  - {name: done, final: true}
transitions:
  - {event: finish, source: w, dest: done}
"""
        engine = vw.ProcessEngine(clock=clock, definitions=[
            vw.load_definition("i.yaml", text=inner), vw.load_definition("o.yaml", text=outer)])
        parent = engine.fire(engine.start("outer", actor=AM).id, "go", actor=AM)
        assert engine.fire(parent.waiting_for, "finish", actor=AM).final  # resume: logged
        assert engine.get(parent.id).state == "h1"
        report = engine.tick(clock.advance(minutes=1))
        assert report.handoffs == 0
        for instance_id in (parent.id, parent.waiting_for):
            inst = engine.get(instance_id)
            assert inst.history[-1].action == "handoff_failed", instance_id
            assert "customer_id" in inst.history[-1].comment
            assert inst.timers == () and inst.verify_ledger()
        assert engine.tick(clock.advance(minutes=1)).instances == ()

V2 = """
name: sales
version: 2
context:
  customer_id: {type: string, required: true}
initial: preparation
states:
  - {name: preparation, owner: account_manager}
  - name: approval
    gate:
      approved: won
      rejected: preparation
      levels: [{name: business, approvers: [{role: business_manager}]}]
  - {name: won, final: true}
transitions:
  - {event: submit, source: preparation, dest: approval}
"""


class TestVersions:
    """New versions leave running instances alone; migration is explicit."""

    def test_running_instances_keep_their_version(self, engine):
        """After deploying v2, old instances run v1 and new ones start on v2."""
        old = engine.start("sales", {"customer_id": "c1"}, actor=AM)
        engine.deploy(vw.load_definition("sales-v2.yaml", text=V2))
        new = engine.start("sales", {"customer_id": "c2"}, actor=AM)
        assert (old.definition_version, new.definition_version) == (1, 2)
        assert engine.fire(old.id, "plan_ready", actor=AM).state == "draft_agreement"
        assert engine.start("sales", {"customer_id": "c3"}, actor=AM, version=1).state == (
            "communication_plan")

    def test_redeploying_a_version_with_other_content_is_refused(self, engine):
        """Same name and version must mean same content."""
        engine.deploy(vw.load_definition("sales-v2.yaml", text=V2))
        engine.deploy(vw.load_definition("sales-v2.yaml", text=V2))  # identical: fine
        with pytest.raises(vw.ProcessDefinitionError, match="already deployed"):
            engine.deploy(vw.load_definition("x.yaml", text=V2.replace("won", "done")))

    def test_migration_maps_old_states_to_new_ones(self, engine):
        """An explicit state map moves an instance; unmapped missing states are refused."""
        inst = to_gate(engine)
        engine.deploy(vw.load_definition("sales-v2.yaml", text=V2))
        with pytest.raises(vw.PermissionDenied):
            engine.migrate(inst.id, to_version=2, actor=AM, state_map={})
        with pytest.raises(vw.ProcessError, match="internal_approval"):
            engine.migrate(inst.id, to_version=2, actor=ADMIN, state_map={})
        moved = engine.migrate(inst.id, to_version=2, actor=ADMIN,
                               state_map={"internal_approval": "approval"})
        assert (moved.definition_version, moved.state) == (2, "approval")
        assert moved.history[-1].data["dropped_votes"] == 0
        assert moved.history[-1].data["dropped_fields"] == ["contract_value", "discount"]
        assert engine.approve(moved.id, actor=BM).state == "won"

    def test_migrate_all_moves_every_running_instance(self, engine):
        """migrate_all skips finished instances."""
        running = engine.start("sales", {"customer_id": "c1"}, actor=AM)
        finished = engine.fire(engine.start("sales", {"customer_id": "c2"}, actor=AM).id,
                               "lose", actor=AM)
        engine.deploy(vw.load_definition("sales-v2.yaml", text=V2))
        moved = engine.migrate_all("sales", from_version=1, to_version=2, actor=ADMIN,
                                   state_map={"communication_plan": "preparation"})
        assert moved == [running.id]
        assert engine.get(finished.id).definition_version == 1


class TestConcurrencyAndNotices:
    """Optimistic concurrency and the notification events."""

    def test_a_stale_writer_gets_concurrent_update_error(self, store, clock):
        """Two engines on one store: the slower commit of the same version loses."""
        engine = vw.ProcessEngine(store=store, clock=clock)
        inst = engine.start("sales", {"customer_id": "c1"}, actor=AM)
        moved = engine.fire(inst.id, "plan_ready", actor=AM)
        stale_next = evolve(moved, version=inst.version + 1)
        with pytest.raises(vw.ConcurrentUpdateError):
            store.commit(stale_next, inst.version, [], [])
        assert engine.get(inst.id) == moved

    def test_the_notice_kinds(self, engine, notifier):
        """task assigned, approval requested / granted / rejected, completed."""
        inst = to_gate(engine)
        engine.reject(inst.id, actor=BM, comment="price")
        engine.fire(inst.id, "submit", actor=AM)
        engine.approve(inst.id, actor=BM)
        engine.fire(inst.id, "lose", actor=AM)
        kinds = {n.kind for n in notifier.notices}
        assert {"task_assigned", "approval_requested", "approval_granted", "approval_rejected",
                "completed"} <= kinds
        assert notifier.of_kind("approval_granted")[-1].users == ("am1",)

    def test_a_failed_delivery_stays_in_the_outbox(self, store, clock):
        """A notifier raising DeliveryError loses nothing; the next dispatch delivers."""

        class Flaky:
            def __init__(self):
                self.up = False
                self.got = []

            def send(self, notice, *, key=None):
                if not self.up:
                    raise vw.DeliveryError("down")
                self.got.append(notice)

        flaky = Flaky()
        engine = vw.ProcessEngine(store=store, notifier=flaky, clock=clock)
        engine.start("sales", {"customer_id": "c1"}, actor=AM2)
        assert len(store.pending_notices()) == 1
        flaky.up = True
        assert engine.dispatch() == 0  # backing off after the failed attempt
        clock.advance(seconds=2)
        assert engine.dispatch() == 1
        assert store.pending_notices() == []
        assert flaky.got[0].kind == "task_assigned"

    def test_a_notice_that_keeps_failing_is_dead_lettered(self, store, clock):
        """After dispatcher.max_attempts failures the notice is kept but not sent again."""

        class Down:
            def send(self, notice, *, key=None):
                raise vw.DeliveryError("down")

        engine = vw.ProcessEngine(store=store, notifier=Down(), clock=clock)
        engine.start("sales", {"customer_id": "c1"}, actor=AM2)
        for _ in range(engine.dispatcher.max_attempts):
            clock.advance(hours=2)
            engine.dispatch()
        (dead,) = engine.dispatcher.dead_letters()
        assert dead.notice.kind == "task_assigned" and dead.attempts == 8

    def test_notices_carry_an_idempotency_key_and_a_notifier_bug_does_not_undo_a_command(
            self, store, clock):
        """Each notice gets a key; a notifier raising after the commit leaves the change."""
        keys = []

        class Recording:
            def send(self, notice, *, key=None):
                keys.append(key)

        engine = vw.ProcessEngine(store=store, notifier=Recording(), clock=clock)
        engine.start("sales", {"customer_id": "c1"}, actor=AM2)
        assert keys and all(keys)

        class Broken:
            def send(self, notice, *, key=None):
                raise RuntimeError("a bug in the notifier")

        engine = vw.ProcessEngine(store=store, notifier=Broken(), clock=clock)
        inst = engine.start("sales", {"customer_id": "c2"}, actor=AM2)
        assert engine.get(inst.id).state == inst.state

    def test_the_log_notifier_logs_each_notice(self, store, clock, caplog):
        """LogNotifier writes one line per notice."""
        engine = vw.ProcessEngine(store=store, clock=clock, notifier=LogNotifier())
        with caplog.at_level(logging.INFO, logger="vip_workflow.notices"):
            engine.start("sales", {"customer_id": "c1"}, actor=AM)
        assert "task_assigned sales/" in caplog.text
        assert "role:account_manager" in caplog.text


class TestRetries:
    """A caller-chosen request_id makes a command safe to retry."""

    def test_a_repeated_fire_changes_nothing(self, engine):
        """The second call with the same request_id returns the instance unchanged."""
        inst = engine.start("sales", {"customer_id": "c1"}, actor=AM)
        first = engine.fire(inst.id, "plan_ready", actor=AM, request_id="r-1")
        again = engine.fire(inst.id, "plan_ready", actor=AM, request_id="r-1")
        assert again == first
        assert first.history[-1].data["request_id"] == "r-1"
        # the entry also says who holds the step it opened (here: nobody, the pool)
        assert set(first.history[-1].data) == {"request_id", "request_digest", "assignee"}
        assert first.history[-1].data["assignee"]["fallback"] == "pool"
        with pytest.raises(vw.TransitionNotAllowedError):
            engine.fire(inst.id, "plan_ready", actor=AM, request_id="r-2")

    def test_a_repeated_approval_is_counted_once(self, engine):
        """Retrying an approval does not raise 'already decided' nor add a vote."""
        inst = to_gate(engine, contract_value=200_000)
        first = engine.approve(inst.id, actor=BM, request_id="a-1")
        assert engine.approve(inst.id, actor=BM, request_id="a-1") == first
        assert len(first.gate.votes) == 1

    def test_a_repeated_start_returns_the_first_instance(self, engine):
        """start with a request_id derives the instance id from it."""
        first = engine.start("sales", {"customer_id": "c1"}, actor=AM, request_id="s-1")
        again = engine.start("sales", {"customer_id": "c1"}, actor=AM, request_id="s-1")
        assert again == first
        assert engine.start("sales", {"customer_id": "c1"}, actor=AM,
                            request_id="s-2").id != first.id
        assert first.verify_ledger()


class _OneByOneStore:
    """A store with only the InstanceStore methods: no commit_many, so start_many commits
    one by one."""

    def __init__(self, inner):
        self.inner = inner
        self.commits = 0

    def commit(self, instance, expected_version, ledger_entries, notices):
        self.commits += 1
        self.inner.commit(instance, expected_version, ledger_entries, notices)

    def get(self, instance_id):
        return self.inner.get(instance_id)

    def ledger(self, instance_id):
        return self.inner.ledger(instance_id)

    def due(self, now, limit=1000):
        return self.inner.due(now, limit)

    def find(self, **filters):
        return self.inner.find(**filters)

    def pending_notices(self, limit=1000):
        return self.inner.pending_notices(limit)

    def ack_notices(self, outbox_ids):
        self.inner.ack_notices(outbox_ids)


class _CountingStore(MemoryInstanceStore):
    """Counts commits and batches; ``race`` ids appear (as if another writer started them)
    between start_many's look-up and its commit_many."""

    def __init__(self, race=()):
        super().__init__()
        self.commits = self.batches = 0
        self.race = list(race)

    def commit(self, instance, expected_version, ledger_entries, notices):
        self.commits += 1
        super().commit(instance, expected_version, ledger_entries, notices)

    def commit_many(self, items):
        self.batches += 1
        for instance_id in self.race:
            from vip_workflow.testing.contract import new_instance

            inst, entries = new_instance(instance_id, definition="retention_case",
                                         state="assess")
            super().commit(inst, None, entries, [])
        self.race = []
        super().commit_many(items)


def _cases(n, prefix="case"):
    return [(f"{prefix}{i}", {"customer_id": f"c{i}", "trigger": "t",
                              "account_manager_id": "am1"}, f"opened by t{i}")
            for i in range(n)]


class TestStartMany:
    """Bulk starts: the same instances as one start each, in one store transaction."""

    @pytest.mark.parametrize("kind", ["memory", "sqlite", "one-by-one"])
    def test_the_same_as_one_start_each(self, clock, kind):
        """States, contexts, ledgers (verifying) and notices equal those of single starts."""
        from vip_workflow.adapters.storage.sql import SQLInstanceStore
        from vip_workflow.processes import SYSTEM

        single = vw.ProcessEngine(clock=clock)
        for instance_id, context, comment in _cases(5):
            single.start("retention_case", context, actor=SYSTEM, instance_id=instance_id,
                         comment=comment)
        store = {"memory": MemoryInstanceStore,
                 "sqlite": lambda: SQLInstanceStore("sqlite://"),
                 "one-by-one": lambda: _OneByOneStore(MemoryInstanceStore())}[kind]()
        bulk = vw.ProcessEngine(store=store, clock=clock)
        started = bulk.start_many("retention_case", _cases(5), actor=SYSTEM)
        assert [inst.id for inst in started] == [f"case{i}" for i in range(5)]
        for inst in started:
            stored = bulk.get(inst.id)
            assert stored == inst == single.get(inst.id)
            assert stored.verify_ledger() and stored.state == "assess"
            assert stored.history[0].comment == f"opened by t{inst.id[4:]}"
        assert bulk.notifier.notices == single.notifier.notices
        assert bulk.notifier.of_kind("task_assigned")
        assert bulk.store.pending_notices() == []
        later = clock() + timedelta(days=9)
        assert bulk.store.due(later) == single.store.due(later)

    def test_one_transaction_with_a_bulk_store(self, clock):
        """A BulkInstanceStore gets one commit_many and no single commits."""
        from vip_workflow.processes import SYSTEM

        store = _CountingStore()
        engine = vw.ProcessEngine(store=store, clock=clock)
        assert len(engine.start_many("retention_case", _cases(50), actor=SYSTEM)) == 50
        assert (store.batches, store.commits) == (1, 0)
        assert engine.start_many("retention_case", [], actor=SYSTEM) == []
        assert store.batches == 1

    def test_ids_that_exist_are_skipped(self, engine, store, notifier):
        """A re-run starts only what is missing; an id given twice is started once."""
        from vip_workflow.processes import SYSTEM

        first = engine.start("retention_case", {"customer_id": "c1"}, actor=SYSTEM,
                             instance_id="case1")
        notifier.clear()
        items = [*_cases(3), ("case2", {"customer_id": "other"}, "a second time")]
        started = engine.start_many("retention_case", items, actor=SYSTEM)
        assert [inst.id for inst in started] == ["case0", "case2"]
        assert engine.get("case1") == first
        assert engine.get("case2").context["customer_id"] == "c2"
        assert {n.instance_id for n in notifier.notices} == {"case0", "case2"}
        notifier.clear()
        assert engine.start_many("retention_case", _cases(3), actor=SYSTEM) == []
        assert sorted(store.find()) == ["case0", "case1", "case2"]
        assert notifier.notices == []

    def test_ids_another_writer_takes_meanwhile_are_skipped(self, clock):
        """A ConflictError of the batch (an id started between the look-up and the commit)
        leaves those out and commits the rest, still in one batch."""
        from vip_workflow.processes import SYSTEM

        store = _CountingStore(race=["case1"])
        engine = vw.ProcessEngine(store=store, clock=clock)
        started = engine.start_many("retention_case", _cases(3), actor=SYSTEM)
        assert [inst.id for inst in started] == ["case0", "case2"]
        assert store.batches == 2 and store.get("case1").history[0].actor == "u1"
        assert all(store.get(i).verify_ledger() for i in store.find())

    def test_an_unauthorised_actor_changes_nothing(self, engine, store, notifier):
        """PermissionDenied before anything is built or written."""
        with pytest.raises(vw.PermissionDenied):
            engine.start_many("retention_case", _cases(3), actor=NOBODY)
        assert store.find() == [] and store.pending_notices() == []
        assert notifier.notices == []
        started = engine.start_many("retention_case", _cases(2), actor=AM, comment="all")
        assert [inst.history[0].actor for inst in started] == ["am1", "am1"]

    def test_one_invalid_context_changes_nothing(self, engine, store):
        """Every context is validated before the batch is committed."""
        items = [*_cases(2), ("bad", {"customer_id": "c", "discount": 7})]
        with pytest.raises(vw.InvalidContextError):
            engine.start_many("retention_case", items, actor=AM)
        assert store.find() == []
        with pytest.raises(vw.ProcessError, match="instance_id, context"):
            engine.start_many("retention_case", [("x", {"customer_id": "c"}, "a", "b")],
                              actor=AM)

    def test_a_shared_comment_and_generated_ids(self, engine):
        """Two-value items take ``comment``; an id of None gets a new one."""
        started = engine.start_many("sales", [(None, {"customer_id": "c1"}),
                                              (None, {"customer_id": "c2"})],
                                    actor=AM, comment="campaign")
        assert len({inst.id for inst in started}) == 2
        assert [inst.history[0].comment for inst in started] == ["campaign", "campaign"]

    def test_notices_wait_inside_deferred_dispatch(self, engine, store, notifier):
        """Inside deferred_dispatch the notices stay in the outbox until dispatch()."""
        from vip_workflow.processes import SYSTEM

        with engine.deferred_dispatch():
            engine.start_many("retention_case", _cases(3), actor=SYSTEM)
            assert notifier.notices == []
        assert len(store.pending_notices()) >= 3
        engine.dispatch()
        assert len(notifier.of_kind("task_assigned")) == 3

    def test_a_start_that_hands_off_starts_its_child(self, clock):
        """The hand-off steps of the initial states run after the commit, as with start()."""
        text = """
name: relay
starters: [account_manager]
context: {customer_id: {type: string, required: true}}
initial: h
states:
  - name: h
    handoff: {process: service_activation, wait: false, next: z,
              context: {customer_id: customer_id}}
  - {name: z, final: true}
"""
        single, engine = (vw.ProcessEngine(clock=clock, definitions=[
            vw.load_definition("r.yaml", text=text)]) for _ in range(2))
        items = [("r1", {"customer_id": "c1"}), ("r2", {"customer_id": "c2"})]
        started = engine.start_many("relay", items, actor=AM)
        assert started == [single.start("relay", context, actor=AM, instance_id=instance_id)
                           for instance_id, context in items]
        assert [inst.state for inst in started] == ["z", "z"]
        assert sorted(engine.store.find(definition="service_activation")) == [
            "r1/service_activation/1", "r2/service_activation/1"]
        engine.tick(clock.advance(minutes=1))  # drops the done start_child markers
        _assert_whole(engine.store)
