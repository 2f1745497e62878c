"""Definitions as data: safe loading, located errors, graph checks, the Python API."""

from __future__ import annotations

import json

import pytest

import vip_workflow as vw
from vip_workflow.processes.definitions import parse_duration
from vip_workflow.processes.loader import bundled_definitions, definition_from_dict

GOOD = """\
name: mini
version: 1
context:
  amount: {type: number, default: 0}
initial: draft
states:
  - name: draft
    owner: account_manager
  - name: review
    gate:
      approved: done
      rejected: draft
      levels:
        - name: business
          approvers: [{role: business_manager}]
  - name: done
    final: true
transitions:
  - {event: submit, source: draft, dest: review}
"""


def load_error(text: str) -> vw.ProcessDefinitionError:
    with pytest.raises(vw.ProcessDefinitionError) as caught:
        vw.load_definition("mini.yaml", text=text)
    return caught.value


#: DOMAIN §4 steps with more than one owner: every role named may move the step on.
MANUAL_SHARED_STEPS = {
    ("segmentation", "1.2"): {"industry_manager", "account_manager"},
    ("segmentation", "1.3"): {"industry_manager", "account_manager"},
}


class TestLoading:
    """YAML is read safely; every error names file, line, column and field."""

    def test_a_good_definition_loads(self):
        """The minimal definition loads and compiles."""
        definition = vw.load_definition("mini.yaml", text=GOOD)
        assert definition.state_names == ("draft", "review", "done")

    def test_a_pydantic_error_is_located(self):
        """A bad quorum names line, column and the field path."""
        error = load_error(GOOD.replace("approvers: [{role: business_manager}]",
                                        "approvers: [{role: business_manager}]\n"
                                        "          quorum: 5"))
        assert error.path == "mini.yaml"
        assert error.field == "states[1].gate.levels[0]"
        assert error.line == 14
        assert "quorum 5" in error.reason

    def test_an_unknown_state_is_located(self):
        """A transition to an undefined state points at its dest."""
        error = load_error(GOOD.replace("dest: review}", "dest: reviw}"))
        assert error.field == "transitions[0].dest"
        assert (error.line, error.column) == (19, 36)
        assert "reviw" in error.reason

    def test_every_problem_is_listed(self):
        """Several problems are reported together."""
        text = GOOD.replace("owner: account_manager", "owner: wizard").replace(
            "role: business_manager", "role: sorcerer")
        error = load_error(text)
        assert len(error.problems) == 2
        assert {p.field for p in error.problems} == {
            "states[0].owner", "states[1].gate.levels[0].approvers[0].role"}

    def test_unknown_keys_are_refused(self):
        """A typo in a key is an error, not silently ignored."""
        error = load_error(GOOD.replace("initial: draft", "initial: draft\ninital: draft"))
        assert error.field == "inital"

    def test_code_is_never_executed(self):
        """Python tags are refused by the safe loader."""
        error = load_error("!!python/object/apply:os.system ['echo pwned']\n")
        assert "YAML" in error.reason

    def test_aliases_and_duplicate_keys_are_refused(self):
        """Anchors/aliases and duplicate keys are errors with a line."""
        assert "aliases" in load_error(GOOD + "roles: &r [a]\nstarters: *r\n").reason
        error = load_error(GOOD + "name: again\n")
        assert "duplicate" in error.reason
        assert error.line == 20

    def test_a_condition_is_data_not_code(self):
        """Conditions are (field, op, value); expressions are refused."""
        text = GOOD.replace("approvers: [{role: business_manager}]",
                            "approvers: [{role: business_manager}]\n"
                            "          when: \"amount > 5\"")
        assert "when" in load_error(text).field

    def test_a_condition_on_an_undeclared_field_is_refused(self):
        """Conditions may read only declared context fields."""
        text = GOOD.replace("approvers: [{role: business_manager}]",
                            "approvers: [{role: business_manager}]\n"
                            "          when: {field: amont, op: '>', value: 5}")
        assert "amont" in load_error(text).reason

    def test_reserved_events_are_refused(self):
        """A transition may not be called approve."""
        assert "reserved" in load_error(GOOD.replace("event: submit", "event: approve")).reason

    def test_the_json_schema_describes_a_process_file(self):
        """ProcessDefinition.json_schema() is a JSON Schema with the top-level fields."""
        schema = vw.ProcessDefinition.json_schema()
        assert {"name", "states", "transitions", "initial"} <= set(schema["properties"])
        json.dumps(schema)

    def test_definitions_can_be_built_in_python(self):
        """The pydantic models are the Python API."""
        from vip_workflow.processes import StateSpec, TransitionSpec

        definition = vw.ProcessDefinition(
            name="tiny", initial="a",
            states=[StateSpec(name="a", owner="account_manager"), StateSpec(name="b", final=True)],
            transitions=[TransitionSpec(event="go", source="a", dest="b")],
        )
        engine = vw.ProcessEngine(definitions=[definition], bundled=False)
        actor = vw.Actor("u", roles={"account_manager"})
        inst = engine.start("tiny", actor=actor)
        assert engine.fire(inst.id, "go", actor=actor).state == "b"

    def test_plain_data_can_be_deployed(self):
        """engine.deploy accepts a dict, checked like a file."""
        engine = vw.ProcessEngine(bundled=False)
        data = {"name": "tiny", "initial": "a",
                "states": [{"name": "a", "owner": "account_manager"}, {"name": "b", "final": True}],
                "transitions": [{"event": "go", "source": "a", "dest": "b"}]}
        assert engine.deploy(data).name == "tiny"
        with pytest.raises(vw.ProcessDefinitionError, match="cannot be reached"):
            engine.deploy({**data, "name": "broken", "transitions": []})

    def test_durations_are_iso_8601(self):
        """P6M is six calendar months; PT48H 48 hours; nonsense is refused."""
        assert parse_duration("P6M") == (6, 0)
        assert parse_duration("P1W") == (0, 7 * 86400)
        for bad in ["6 months", "P", "PT", "P0D"]:
            with pytest.raises(ValueError):
                parse_duration(bad)


class TestGraphChecks:
    """networkx checks at load time, each a located error."""

    def _problems(self, data: dict) -> list[str]:
        with pytest.raises(vw.ProcessDefinitionError) as caught:
            definition_from_dict(data)
        return [p.reason for p in caught.value.problems]

    def _base(self) -> dict:
        return {
            "name": "g", "initial": "a",
            "states": [
                {"name": "a", "owner": "account_manager"},
                {"name": "b", "owner": "account_manager"},
                {"name": "end", "final": True},
            ],
            "transitions": [
                {"event": "go", "source": "a", "dest": "b"},
                {"event": "finish", "source": "b", "dest": "end"},
            ],
        }

    def test_an_unreachable_state(self):
        """A state no path reaches is reported."""
        data = self._base()
        data["states"].append({"name": "orphan", "owner": "account_manager"})
        data["transitions"].append({"event": "x", "source": "orphan", "dest": "end"})
        assert self._problems(data) == ["state 'orphan' is unreachable from 'a'"]

    def test_a_state_with_no_way_out(self):
        """A non-final state without transitions is a trap."""
        data = self._base()
        data["transitions"][1] = {"event": "finish", "source": "a", "dest": "end"}
        problems = self._problems(data)
        assert "state 'b' has no way out" in problems

    def test_an_unreachable_final_state(self):
        """A final state no path reaches is named as such."""
        data = self._base()
        data["states"].append({"name": "cancelled", "final": True})
        assert self._problems(data) == ["final state 'cancelled' cannot be reached from 'a'"]

    def test_unresolvable_approvers(self):
        """Unknown roles and undeclared or missing resolvers cannot be resolved."""
        data = self._base()
        data["states"][1] = {"name": "b", "gate": {
            "approved": "end", "rejected": "a",
            "levels": [{"name": "l", "approvers": [{"role": "wizard"}, {"resolver": "oracle"}]}],
        }}
        data["transitions"].pop()
        problems = self._problems(data)
        assert any("role 'wizard' is unknown" in p for p in problems)
        assert any("resolver 'oracle' is not declared" in p for p in problems)
        data["resolvers"] = ["oracle"]
        data["states"][1]["gate"]["levels"][0]["approvers"] = [{"resolver": "oracle"}]
        definition = definition_from_dict(data)
        with pytest.raises(vw.ProcessDefinitionError, match="no resolver 'oracle'"):
            vw.ProcessEngine(definitions=[definition], bundled=False)
        engine = vw.ProcessEngine(definitions=[definition], bundled=False,
                                  resolvers={"oracle": lambda inst: ["o"]})
        assert engine.definition("g").name == "g"

    def test_a_reject_loop_with_no_exit(self):
        """A gate whose approval leads back into the loop can never finish."""
        data = self._base()
        data["states"][1] = {"name": "b", "gate": {
            "approved": "a", "rejected": "a",
            "levels": [{"name": "l", "approvers": [{"role": "business_manager"}]}],
        }}
        data["transitions"].pop()
        problems = self._problems(data)
        assert "reject loop a → b has no exit" in problems
        assert "final state 'end' cannot be reached from 'a'" in problems

    def test_a_gate_into_itself_is_refused(self):
        """approved or rejected pointing back at the gate would loop."""
        data = self._base()
        data["states"][1] = {"name": "b", "gate": {
            "approved": "end", "rejected": "b",
            "levels": [{"name": "l", "approvers": [{"role": "business_manager"}]}],
        }}
        data["transitions"].pop()
        assert "a gate may not approve or reject into itself" in self._problems(data)

    def test_gates_that_all_skip_into_each_other_are_stopped(self):
        """Two gates whose levels never apply and approve into each other raise, not hang."""
        gate = {"rejected": "a", "levels": [{"name": "l", "approvers": [
            {"role": "business_manager"}], "when": {"field": "x", "op": "==", "value": 1}}]}
        data = {
            "name": "loop", "initial": "a", "context": {"x": {"type": "integer"}},
            "states": [
                {"name": "a", "owner": "account_manager"},
                {"name": "g1", "gate": {**gate, "approved": "g2"}},
                {"name": "g2", "gate": {**gate, "approved": "g1", "reject_to": ["end"]}},
                {"name": "end", "final": True},
            ],
            "transitions": [{"event": "go", "source": "a", "dest": "g1"}],
        }
        engine = vw.ProcessEngine(definitions=[data], bundled=False)
        actor = vw.Actor("u", roles={"account_manager"})
        inst = engine.start("loop", actor=actor)
        with pytest.raises(vw.ProcessError, match="loops"):
            engine.fire(inst.id, "go", actor=actor)
        assert engine.get(inst.id) == inst

    def test_every_bundled_definition_passes_every_check(self):
        """The shipped library loads cleanly and covers every stage."""
        names = {d.name for d in bundled_definitions()}
        assert names == {
            "segmentation", "needs_analysis", "solution_design", "sales", "after_sales",
            "service_activation", "new_product_development", "network_planning",
            "tier_override", "customer_development", "retention_case",
        }

    def test_every_bundled_hand_off_can_complete(self):
        """engine.check() finds every hand-off target and result state."""
        assert vw.ProcessEngine().check() == []

    def test_a_broken_hand_off_is_reported(self):
        """A hand-off to an undeployed process, or to a non-final result, is named."""
        text = """
name: parent
initial: a
states:
  - {name: a, owner: account_manager}
  - name: h
    handoff: {process: network_planning, results: {built: z, exploded: z}}
  - name: h2
    handoff: {process: ghost, wait: false, next: z}
  - {name: z, final: true}
transitions:
  - {event: go, source: a, dest: h}
  - {event: go2, source: a, dest: h2}
"""
        engine = vw.ProcessEngine(definitions=[vw.load_definition("p.yaml", text=text)])
        problems = engine.check()
        assert len(problems) == 2
        assert "'exploded' is not a final state of network_planning" in problems[0]
        assert "undeployed 'ghost'" in problems[1]

    def test_every_step_names_its_owner_role(self):
        """Each non-final state of the bundled definitions has an owner or is a hand-off."""
        for definition in bundled_definitions():
            for state in definition.states:
                assert state.final or state.owner or state.handoff, (definition.name, state.name)

    @pytest.mark.parametrize(("name", "steps"), [
        ("segmentation", [("1.1", "researcher"), ("1.2", "industry_manager"),
                          ("1.3", "industry_manager")]),
        ("needs_analysis", [("2.1", "account_manager"), ("2.2", "account_manager"),
                            ("2.3", "account_manager"), ("2.4", "account_manager"),
                            ("2.5", "industry_manager")]),
        ("solution_design", [("3.1", "solution_manager"), ("3.2", "solution_manager"),
                             ("3.3", "solution_manager"), ("6.2", None), ("6.3", None),
                             ("3.4", "solution_manager")]),
        ("sales", [("4.1", "account_manager"), ("4.2", "account_manager"),
                   ("4.3", "business_manager"), ("4.4", "account_manager"),
                   ("4.5", "business_manager"), ("4.6", "account_manager"), ("6.1", None)]),
        ("after_sales", [("5.1", "customer_service_centre"), ("5.2", "account_manager"),
                         ("5.3", "account_manager")]),
        ("service_activation", [("6.1", "network_operations")]),
    ])
    def test_each_stage_carries_the_manuals_steps_and_owners(self, name, steps):
        """DOMAIN §4: every stage's numbered steps in order, each with its owner role (a
        hand-off to another process, 6.x, has none: the other process owns it); and the roles
        that may move each step on are the manual's owners of that step — the owner role, or
        every role the manual names (1.2 and 1.3: industry and account managers)."""
        compiled = vw.ProcessEngine().compiled(name)
        definition = compiled.definition
        assert [(s.step, s.owner) for s in definition.states if s.step] == steps
        for state in definition.states:
            if state.step and state.owner is None:
                assert state.handoff, (name, state.name)
            if not state.step or state.gate or state.handoff:
                continue
            acting = {role for event in compiled.events(state.name)
                      for way in compiled.ways(state.name, event) for role in way.roles}
            expected = MANUAL_SHARED_STEPS.get((name, state.step), {state.owner})
            assert acting == expected, (name, state.step)

    def test_stage_steps_are_numbered_as_in_the_manual(self):
        """Sales carries 4.1–4.6 and needs analysis 2.1–2.5."""
        engine = vw.ProcessEngine()
        sales = [s.step for s in engine.definition("sales").states if s.step]
        assert sales[:6] == ["4.1", "4.2", "4.3", "4.4", "4.5", "4.6"]
        needs = [s.step for s in engine.definition("needs_analysis").states if s.step]
        assert needs == ["2.1", "2.2", "2.3", "2.4", "2.5"]


class TestSegmentationOutputs:
    """DOMAIN §4 stage 1: key-industry list, key-customer list, monthly industry-trend report."""

    INDUSTRY = vw.Actor("im1", roles={"industry_manager"})
    RESEARCHER = vw.Actor("r1", roles={"researcher"})
    DIRECTOR = vw.Actor("dd1", roles={"department_director"})

    def _to_list_in_force(self, engine: vw.ProcessEngine) -> vw.ProcessInstance:
        inst = engine.start("segmentation", {"region": "chengdu"}, actor=self.RESEARCHER)
        engine.fire(inst.id, "analysed", actor=self.RESEARCHER)
        engine.fire(inst.id, "segments_selected", actor=self.INDUSTRY,
                    data={"key_industries": ["banking", "power"]})
        engine.fire(inst.id, "submit", actor=self.INDUSTRY,
                    data={"key_customers": ["G001", "G002"]})
        return engine.approve(inst.id, actor=self.DIRECTOR)

    def test_an_account_manager_may_select_the_segments_and_pick_the_customers(self, engine):
        """Seed 000 names industry and account managers for 1.2 and 1.3: an account manager
        can take the stage from 1.2 to the list's approval."""
        am = vw.Actor("am1", roles={"account_manager"})
        inst = engine.start("segmentation", {"region": "chengdu"}, actor=self.RESEARCHER)
        assert engine.available_events(inst.id, am) == []  # 1.1 is the researchers' alone
        engine.fire(inst.id, "analysed", actor=self.RESEARCHER)
        assert engine.available_events(inst.id, am) == ["segments_selected"]
        inst = engine.fire(inst.id, "segments_selected", actor=am,
                           data={"key_industries": ["banking"]})
        assert inst.state == "pick_key_customers"
        inst = engine.fire(inst.id, "submit", actor=am, data={"key_customers": ["G001"]})
        assert inst.state == "list_approval"

    def test_the_definition_carries_and_describes_the_three_outputs(self):
        """key_industries (1.2) and key_customers (1.3) are context fields, trend_report
        records the monthly report; the description names all three."""
        definition = vw.ProcessEngine().definition("segmentation")
        assert {"key_industries", "key_customers", "trend_report"} <= set(definition.context)
        assert definition.context["key_industries"].type == "list"
        assert "1.2" in definition.context["key_industries"].description
        for output in ("key-industry list", "key-customer list", "monthly industry-trend report"):
            assert output in definition.description

    def test_the_monthly_report_has_no_timer_or_self_transition(self):
        """Re-entering key_customer_list would restart its half-yearly timer, so the list
        state keeps that single timer and no transition leads from it back to itself."""
        definition = vw.ProcessEngine().definition("segmentation")
        state = next(s for s in definition.states if s.name == "key_customer_list")
        assert [(t.after, t.event) for t in state.timers] == [("P6M", "half_yearly_review")]
        assert not [t for t in definition.transitions
                    if t.dest == "key_customer_list" and "key_customer_list" in t.sources]

    def test_the_outputs_are_kept_and_monthly_reports_leave_the_review_timer_alone(
            self, engine, clock):
        """Set at 1.2 and 1.3, the lists survive approval; recording five monthly reports
        changes no state and the review still comes six months after approval."""
        inst = self._to_list_in_force(engine)
        assert inst.state == "key_customer_list"
        assert inst.context["key_industries"] == ["banking", "power"]
        assert inst.context["key_customers"] == ["G001", "G002"]
        for month in ("2026-02", "2026-03", "2026-04", "2026-05", "2026-06"):
            engine.tick(clock.advance(days=30))
            inst = engine.update_context(inst.id, {"trend_report": month}, actor=self.INDUSTRY)
            assert inst.state == "key_customer_list"
        assert engine.get(inst.id).context["trend_report"] == "2026-06"
        engine.tick(clock.advance(days=30))  # 180 days after approval: not yet six months
        assert engine.get(inst.id).state == "key_customer_list"
        assert engine.tick(clock.advance(days=5)).events == 1
        after = engine.get(inst.id)
        assert (after.state, after.history[-1].action) == (
            "pick_key_customers", "half_yearly_review")
        assert after.context["key_industries"] == ["banking", "power"]
