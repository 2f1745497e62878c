"""Scenario files: loading with located errors, running, rule and boundary coverage,
``--suggest``, the ``vip-workflow test`` command and the shipped presets' scenarios."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import vip_workflow as vw
from vip_workflow.cli.main import app
from vip_workflow.rules.files.kinds import KINDS, check_file, schema_for
from vip_workflow.rules.scenarios import (
    load_scenarios,
    loads_scenarios,
    preset_scenarios,
    run_suite,
    shipped_presets,
)
from vip_workflow.rules.scenarios.coverage import covers_all, step_of
from vip_workflow.rules.scenarios.suggest import suggest_cases, suggestions_yaml
from vip_workflow.rules.tiers.compiled import interval

runner = CliRunner()

TIERS = """\
kind: tiers
name: cards
tiers: [gold, silver, regular]
scheme:
  type: chain
  default: regular
  factors:
    - field: arpu
      bands:
        - {min: 1000, tier: gold}
        - {min: 500, max: 1000, tier: silver}
"""

SCENARIOS = """\
kind: scenarios
name: cards
cases:
  - name: 1000 is gold
    input: {arpu: 1000}
    expect: {tier: gold, rule: arpu.1}
  - name: 600 is silver
    input: {arpu: 600}
    expect: {tier: silver}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A rule file and its scenario file beside it."""
    (tmp_path / "cards.yaml").write_text(TIERS, encoding="utf-8")
    (tmp_path / "cards.scenarios.yaml").write_text(SCENARIOS, encoding="utf-8")
    return tmp_path


def _write(folder: Path, text: str, name: str = "cards.scenarios.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


class TestLoading:
    """One kernel: registered kind, JSON Schema, located errors."""

    def test_the_kind_is_registered_with_its_schema(self) -> None:
        """schema_for("scenarios") describes the file; check_file validates it."""
        assert "scenarios" in KINDS
        schema = schema_for("scenarios")
        assert schema["title"] == "vip_workflow scenario file"
        assert {"book", "cases", "defaults", "steps"} <= set(schema["properties"])

    def test_the_book_beside_it_is_found(self, folder: Path) -> None:
        """NAME.scenarios.yaml tests NAME.yaml by default."""
        suite = load_scenarios(folder / "cards.scenarios.yaml")
        assert suite.book.name == "cards" and suite.book_kind == "tiers"
        assert check_file(folder / "cards.scenarios.yaml").ok

    @pytest.mark.parametrize(("change", "line", "field", "words"), [
        ("expect: {tier: gold, rule: arpu.1}", 6, "cases[0].expect.tier",
         "unknown tier 'gld'; the book declares: gold, silver, regular; did you mean 'gold'?"),
        ("input: {arpu: 1000}", 5, "cases[0].input.arpuu", "reads no field 'arpuu'"),
    ])
    def test_a_wrong_reference_is_located(self, folder: Path, change: str, line: int,
                                          field: str, words: str) -> None:
        """An unknown tier or field: file:line:column, the field, did-you-mean."""
        wrong = change.replace("tier: gold", "tier: gld").replace("arpu: 1000", "arpuu: 1000")
        path = _write(folder, SCENARIOS.replace(change, wrong))
        with pytest.raises(vw.RuleFileError) as caught:
            load_scenarios(path)
        error = caught.value
        assert (error.path, error.line, error.field) == (str(path), line, field)
        assert words in error.reason

    def test_an_unknown_key_and_a_repeated_name(self, folder: Path) -> None:
        """The file model is strict; every problem is listed."""
        text = SCENARIOS.replace("  - name: 600 is silver", "  - name: 1000 is gold") \
            .replace("expect: {tier: silver}", "expect: {tier: silver}\n    expcet: 1")
        with pytest.raises(vw.RuleFileError) as caught:
            load_scenarios(_write(folder, text))
        reasons = [p.reason for p in caught.value.problems]
        assert any("unknown key 'expcet'" in r and "'expect'" in r for r in reasons), reasons

    def test_a_repeated_case_name_is_refused(self, folder: Path) -> None:
        """Case names identify test items: unique."""
        text = SCENARIOS.replace("  - name: 600 is silver", "  - name: 1000 is gold")
        with pytest.raises(vw.RuleFileError, match="used twice") as caught:
            load_scenarios(_write(folder, text))
        assert caught.value.line == 7

    def test_a_missing_book_is_located_at_book(self, folder: Path) -> None:
        """book: names a file that is not there."""
        text = SCENARIOS.replace("name: cards\n", "name: cards\nbook: nowhere.yaml\n")
        with pytest.raises(vw.RuleFileError, match=r"nowhere\.yaml") as caught:
            load_scenarios(_write(folder, text))
        assert (caught.value.line, caught.value.field) == (3, "book")

    def test_history_for_a_tier_book_is_refused(self, folder: Path) -> None:
        """A case gives the data its book reads."""
        text = SCENARIOS.replace("input: {arpu: 600}", "history: [{period: 2026-01}]")
        with pytest.raises(vw.RuleFileError, match="gives input, not history"):
            load_scenarios(_write(folder, text))

    def test_unknown_trigger_and_kpi_ids(self) -> None:
        """Trigger and KPI cases name ids their book has."""
        with pytest.raises(vw.RuleFileError, match=r"unknown trigger 'risk\.data_anomaly'"):
            loads_scenarios("kind: scenarios\nname: t\nbook: preset:seed-001-triggers\ncases:\n"
                            "  - name: a\n    history: [{period: 2026-01, data_anomalies: 1}]\n"
                            "    expect: {signals: {2026-01: [risk.data_anomaly]}}\n")
        with pytest.raises(vw.RuleFileError, match="unknown KPI 'member_coverge'"):
            loads_scenarios("kind: scenarios\nname: k\nbook: preset:china-mobile-2006-kpis\n"
                            "cases:\n  - name: a\n    rows: [{kind: group}]\n"
                            "    expect: {kpis: {member_coverge: pass}}\n")


class TestRunning:
    """Expected against got, with the explanation."""

    def test_a_mismatch_shows_expected_got_and_the_trace(self, folder: Path) -> None:
        """The failure message names the case where it stands and explains the decision."""
        path = _write(folder, SCENARIOS.replace("tier: silver}", "tier: gold}"))
        result = run_suite(load_scenarios(path))
        assert result.passed == 1 and len(result.failed) == 1
        message = result.failed[0].message()
        assert message.startswith(f"{path}:7:11: case '600 is silver': expected tier gold, "
                                  "got tier silver")
        assert "arpu 600 in [500, 1000) → silver" in message

    def test_defaults_and_an_unjudgeable_case(self, folder: Path) -> None:
        """Inputs start from `defaults`; `tier: null` expects the customer cannot be judged."""
        text = SCENARIOS.replace("name: cards\n", "name: cards\ndefaults: {arpu: 700}\n") \
            .replace("input: {arpu: 600}", "input: {}") + (
                "  - name: text cannot be judged\n    input: {arpu: lots}\n"
                "    expect: {tier: null}\n")
        result = run_suite(load_scenarios(_write(folder, text)))
        assert result.ok, [r.message() for r in result.failed]

    def test_a_trigger_mismatch_explains_the_signals(self) -> None:
        """Expected and fired signals per month, and what a missing trigger needs."""
        suite = loads_scenarios(
            "kind: scenarios\nname: t\nbook: preset:seed-001-triggers\ncases:\n"
            "  - name: anomalies\n    history:\n"
            "      - {period: 2026-01, data_anomalies: 1, key_person_contacts: 1}\n"
            "      - {period: 2026-02, data_anomalies: 0}\n"
            "    expect: {signals: {2026-02: [risk.data_anomalies]}}\n")
        failed = run_suite(suite).failed
        assert len(failed) == 1
        assert failed[0].expected == "2026-01: none; 2026-02: risk.data_anomalies"
        assert failed[0].got == "2026-01: risk.data_anomalies; 2026-02: none"
        assert "risk.data_anomalies did not fire: it needs data_anomalies" in failed[0].trace

    def test_a_month_that_is_not_a_month_is_located(self) -> None:
        """A history's period is YYYY-MM."""
        with pytest.raises(vw.RuleFileError, match="'2026-13' is not a month") as caught:
            loads_scenarios("kind: scenarios\nname: t\nbook: preset:seed-001-triggers\n"
                            "cases:\n  - name: a\n    history: [{period: 2026-13}]\n"
                            "    expect: {signals: {}}\n")
        assert (caught.value.line, caught.value.field) == (6, "cases[0].history[0].period")

    def test_data_the_book_cannot_read_is_reported_by_the_command(self, tmp_path: Path) -> None:
        """A KPI case whose rows the book cannot sum fails the command with the file named."""
        path = tmp_path / "k.scenarios.yaml"
        path.write_text("kind: scenarios\nname: k\nbook: preset:china-mobile-2006-kpis\n"
                        "cases:\n  - name: a\n"
                        "    rows: [{kind: group, members: many, employees: 100}]\n"
                        "    expect: {kpis: {member_coverage: pass}}\n", encoding="utf-8")
        result = runner.invoke(app, ["test", str(path)])
        assert result.exit_code == 1
        assert result.stderr.startswith(f"{path}:6:11: case 'a': its rows cannot be checked")

    def test_a_kpi_mismatch_shows_value_and_target(self) -> None:
        """A KPI expected to pass that fails shows its value against the target."""
        suite = loads_scenarios(
            "kind: scenarios\nname: k\nbook: preset:china-mobile-2006-kpis\ncases:\n"
            "  - name: low coverage\n"
            "    rows: [{kind: group, members: 1, employees: 100}]\n"
            "    expect: {kpis: {member_coverage: pass}}\n")
        result = run_suite(suite)
        assert [(r.expected, r.got) for r in result.failed] == [
            ("member_coverage pass", "member_coverage fail")]
        assert "member_coverage: 0.01 >= 0.27 → fail" in result.failed[0].trace
        assert result.coverage is not None
        hit = {i.id for i in result.coverage.items if i.hits}
        assert hit == {"member_coverage:fail"}
        bound = next(b for b in result.coverage.bounds if b.target == "member_coverage")
        assert (bound.value, bound.wanted["below"]) == (0.27, pytest.approx(0.26))
        assert not any(bound.tested.values())

    def test_kpi_targets_tested_at_and_around(self) -> None:
        """A KPI value at its target, one step below and one above."""
        rows = "".join(
            f"  - name: coverage {m}\n    rows: [{{kind: group, members: {m}, employees: 100}}]\n"
            f"    expect: {{kpis: {{member_coverage: {'pass' if m >= 27 else 'fail'}}}}}\n"
            for m in (26, 27, 28))
        suite = loads_scenarios("kind: scenarios\nname: k\nbook: preset:china-mobile-2006-kpis\n"
                                "cases:\n" + rows)
        result = run_suite(suite)
        assert result.ok and result.coverage is not None
        bound = next(b for b in result.coverage.bounds if b.target == "member_coverage")
        assert bound.tested == {"below": True, "at": True, "above": True}


class TestCoverage:
    """Items hit, bounds tested at, just below and just above."""

    def test_never_hit_and_untested_bounds(self, folder: Path) -> None:
        """Two cases hit two bands; the default and most bound checks are missing."""
        coverage = run_suite(load_scenarios(folder / "cards.scenarios.yaml")).coverage
        assert coverage is not None
        assert [i.id for i in coverage.never_hit] == ["default"]
        tested = {(b.value, c) for b in coverage.bounds for c in ("below", "at", "above")
                  if b.tested[c]}
        assert tested == {(1000.0, "at")}
        assert coverage.boundary_percent == pytest.approx(100 / 6)
        assert coverage.rules_percent == pytest.approx(75.0)

    def test_suggested_cases_complete_the_coverage(self, folder: Path) -> None:
        """--suggest's YAML, pasted under cases:, loads, passes and covers every bound."""
        result = run_suite(load_scenarios(folder / "cards.scenarios.yaml"))
        cases = suggest_cases(result)
        assert {c["name"] for c in cases} >= {"arpu just below 1000", "arpu at 500"}
        below = next(c for c in cases if c["name"] == "arpu just below 1000")
        assert below == {"name": "arpu just below 1000", "input": {"arpu": 999},
                         "expect": {"tier": "silver", "rule": "arpu.2"}}
        text = suggestions_yaml(result)
        assert text.startswith("# ") and "&" not in text
        pasted = SCENARIOS + "".join(
            "  " + line + "\n" for line in text.splitlines() if not line.startswith("#"))
        again = run_suite(load_scenarios(_write(folder, pasted)))
        assert again.ok and again.coverage is not None
        assert again.coverage.boundary_percent == 100.0 and again.coverage.rules_percent == 100

    def test_steps_set_what_just_below_means(self, folder: Path) -> None:
        """steps: {arpu: 0.01} makes 999 too far below 1000 and 999.99 near enough."""
        text = SCENARIOS.replace("name: cards\n", "name: cards\nsteps: {arpu: 0.01}\n") + (
            "  - {name: a, input: {arpu: 999}, expect: {tier: silver}}\n"
            "  - {name: b, input: {arpu: 999.99}, expect: {tier: silver}}\n")
        suite = load_scenarios(_write(folder, text))
        coverage = run_suite(suite).coverage
        assert coverage is not None
        bound = next(b for b in coverage.bounds if b.value == 1000)
        assert bound.tested["below"] and bound.wanted["below"] == pytest.approx(999.99)

    def test_score_bounds_use_the_reachable_totals(self) -> None:
        """hubei-scoring: just below 30 is the highest total the bands can add up to."""
        result = run_suite(preset_scenarios("hubei-scoring"))
        assert result.coverage is not None
        score = next(b for b in result.coverage.bounds if b.target == "score" and b.value == 30)
        assert score.wanted["below"] == 28 and score.wanted["above"] == 32
        assert result.targets["score"].reachable is not None

    def test_step_of_and_covers_all(self) -> None:
        """One unit of the last decimal; a set of intervals that holds every number."""
        assert step_of(60000) == 1 and step_of(0.3) == pytest.approx(0.1)
        assert step_of(0.012) == pytest.approx(0.001) and step_of(5, 0.5) == 0.5
        inf = math.inf
        assert covers_all([interval(-inf, 0, False, True), interval(0, inf, False, False)])
        assert not covers_all([interval(-inf, 0, False, False), interval(0, inf, False, False)])
        assert not covers_all([interval(0, inf, True, False)])


TRIGGERS = """\
kind: triggers
name: watch
triggers:
  - id: spend.down
    family: retain
    action: call
    when: {change_pct: revenue, months: 3, op: "<=", value: -20}
  - id: complaints.many
    family: risk
    action: visit
    when: {sum: complaints, months: 3, op: ">=", value: 4}
  - id: arrears.often
    family: risk
    action: call
    when: {count: arrears, months: 4, where: {op: ">", value: 100}, op: ">=", value: 2}
  - id: agreement.ending
    family: retain
    action: renew
    when: {days_until: agreement_end, op: between, value: [0, 60]}
"""


class TestMultiMonthCoverage:
    """Thresholds of sums, counts, changes and days left; --suggest for triggers and KPIs."""

    def _suite(self, folder: Path, cases: str) -> object:
        (folder / "watch.yaml").write_text(TRIGGERS, encoding="utf-8")
        return load_scenarios(_write(folder, "kind: scenarios\nname: watch\ncases:\n" + cases,
                                     "watch.scenarios.yaml"))

    def test_a_change_is_tested_at_its_threshold(self, tmp_path: Path) -> None:
        """100 → 80 over three months is a change of -20 %: the bound is tested at."""
        result = run_suite(self._suite(tmp_path, (
            "  - name: down 20\n    history:\n"
            + "".join(f"      - {{period: 2026-0{m}, revenue: {v}}}\n"
                      for m, v in enumerate([100, 100, 100, 80], start=1))
            + "    expect: {signals: {2026-04: [spend.down]}}\n")))
        assert result.ok and result.coverage is not None
        bound = next(b for b in result.coverage.bounds if b.target.startswith("spend.down"))
        assert bound.target == "spend.down: change of revenue over 3 months (%)"
        assert bound.tested == {"below": False, "at": True, "above": False}
        count = next(b for b in result.coverage.bounds
                     if b.target == "arrears.often: months (of 4) with arrears > 100")
        assert count.wanted == {"below": 1.0, "at": 2.0, "above": 3.0}
        month = next(b for b in result.coverage.bounds
                     if b.target == "arrears.often: arrears (each month of the count)")
        assert month.value == 100.0

    def test_a_count_of_n_months_needs_no_case_beyond_n(self, tmp_path: Path) -> None:
        """A count of 4 months at least 4 has nothing above to test."""
        text = TRIGGERS.replace("op: \">=\", value: 2}", "op: \">=\", value: 4}")
        (tmp_path / "watch.yaml").write_text(text, encoding="utf-8")
        suite = load_scenarios(_write(tmp_path, "kind: scenarios\nname: watch\ncases:\n"
                                      "  - name: q\n    history: [{period: 2026-01}]\n"
                                      "    expect: {signals: {}}\n", "watch.scenarios.yaml"))
        coverage = run_suite(suite).coverage
        assert coverage is not None
        count = next(b for b in coverage.bounds if b.target.startswith("arrears.often: months"))
        assert count.wanted["above"] is None

    def test_suggested_histories_complete_the_coverage(self, tmp_path: Path) -> None:
        """The histories --suggest proposes give each threshold's fact; added to the file,
        every case passes and every bound is tested."""
        suite = self._suite(tmp_path, "  - name: quiet\n    history: [{period: 2026-01}]\n"
                                      "    expect: {signals: {}}\n")
        result = run_suite(suite)
        assert result.coverage is not None and result.coverage.boundary_percent == 0
        cases = suggest_cases(result)
        assert {"name": "spend.down: change of revenue over 3 months (%) at -20",
                "history": [{"period": f"2026-0{m}", "revenue": v}
                            for m, v in enumerate([100, 100, 100, 80], start=1)],
                "expect": {"signals": {"2026-04": ["spend.down"]}}} in cases
        text = suggestions_yaml(result)
        assert text.startswith("# ") and "signals" in text
        data = yaml.safe_load((tmp_path / "watch.scenarios.yaml").read_text("utf-8"))
        data["cases"] += cases
        _write(tmp_path, yaml.safe_dump(data, allow_unicode=True), "watch.scenarios.yaml")
        again = run_suite(load_scenarios(tmp_path / "watch.scenarios.yaml"))
        assert again.ok, [r.message() for r in again.failed]
        assert again.coverage is not None and again.coverage.boundary_percent == 100.0

    def test_suggested_portfolios_give_the_kpi_values(self) -> None:
        """For a KPI book, each proposed portfolio gives the value wanted (26 of 100 members
        covered is 0.26, 401 VIPs for one manager is 401), with the book's outcome."""
        suite = loads_scenarios(
            "kind: scenarios\nname: k\nbook: preset:china-mobile-2006-kpis\ncases:\n"
            "  - name: covered\n    rows: [{kind: group, members: 30, employees: 100}]\n"
            "    expect: {kpis: {member_coverage: pass}}\n")
        cases = {c["name"]: c for c in suggest_cases(run_suite(suite))}
        assert cases["member_coverage just below 0.27"] == {
            "name": "member_coverage just below 0.27",
            "rows": [{"kind": "group", "members": 26, "employees": 100}],
            "expect": {"kpis": {"member_coverage": "fail"}}}
        vips = cases["staffing_individual_vips just above 400"]
        assert len(vips["rows"]) == 401 and vips["expect"] == {
            "kpis": {"staffing_individual_vips": "fail"}}
        stable = cases["group_stability at 0.7"]["rows"]
        assert sum(r["stable"] is True for r in stable) == 7 and len(stable) == 10

    def test_a_share_of_rows_has_nothing_above_one(self) -> None:
        """A target of 100 % on a share of rows needs no case above it."""
        suite = loads_scenarios(
            "kind: scenarios\nname: k\nbook: preset:china-mobile-2006-kpis\ncases:\n"
            "  - name: a\n    rows: [{kind: group, segment: C, return_cost: 2000}]\n"
            "    expect: {kpis: {return_cost_range_c: {C: pass}}}\n")
        coverage = run_suite(suite).coverage
        assert coverage is not None
        bound = next(b for b in coverage.bounds if b.target == "return_cost_range_c[C]")
        assert bound.wanted["above"] is None and bound.tested["at"]


class TestPresets:
    """The shipped presets' scenarios: all pass; the tier books are fully covered."""

    def test_presets_do_not_list_scenario_files(self) -> None:
        """preset names stay rule books."""
        assert not any(name.endswith(".scenarios") for name in vw.presets())
        assert set(shipped_presets()) == set(vw.presets())

    @pytest.mark.parametrize("name", shipped_presets())
    def test_every_case_passes(self, name: str) -> None:
        """Each case gives what it expects; every preset — tier, trigger and KPI books —
        reaches 100 % rule and boundary coverage with the seeds' own thresholds."""
        result = run_suite(preset_scenarios(name))
        assert result.ok, "\n".join(r.message() for r in result.failed)
        coverage = result.coverage
        assert coverage is not None
        assert coverage.rules_percent == 100.0, [i.id for i in coverage.never_hit]
        assert coverage.boundary_percent == 100.0, [
            (b.target, b.value, b.missing) for b in coverage.bounds if b.missing]
        assert not suggest_cases(result)


class TestCommand:
    """vip-workflow test, validate and lint on scenario files."""

    def test_all_presets(self, tmp_path: Path) -> None:
        """Every shipped scenario passes; the coverage table and JSON are written."""
        target = tmp_path / "coverage.json"
        result = runner.invoke(app, ["test", "--all-presets", "--coverage-json", str(target)])
        assert result.exit_code == 0, result.output
        assert "scenario coverage" in result.output and "of " in result.output
        data = json.loads(target.read_text(encoding="utf-8"))
        assert len([f for f in data["files"] if f["kind"] == "tiers"]) == 7
        assert {f["kind"] for f in data["files"]} == {"tiers", "triggers", "kpis"}
        assert all(f["rules_percent"] == 100 and f["boundary_percent"] == 100
                   for f in data["files"])

    def test_a_folder_a_failure_and_fail_under(self, folder: Path) -> None:
        """A folder is searched; a failed case and low coverage exit 1."""
        result = runner.invoke(app, ["test", str(folder), "--fail-under", "90"])
        assert result.exit_code == 1
        assert "coverage 16.7 % is under --fail-under 90 %" in result.stderr
        assert "never hit: default default" in result.output
        _write(folder, SCENARIOS.replace("tier: silver}", "tier: gold}"))
        failed = runner.invoke(app, ["test", str(folder / "cards.scenarios.yaml")])
        assert failed.exit_code == 1 and "expected tier gold, got tier silver" in failed.output

    def test_suggest_prints_yaml(self, folder: Path) -> None:
        """--suggest prints the missing boundary cases as YAML."""
        result = runner.invoke(app, ["test", str(folder), "--suggest"])
        text = result.output[result.output.index("# "):]
        cases = yaml.safe_load(text)
        assert {"name": "arpu at 500", "input": {"arpu": 500},
                "expect": {"tier": "silver", "rule": "arpu.2"}} in cases

    def test_a_bad_file_is_located(self, folder: Path) -> None:
        """test, validate and lint print file:line:column: field: reason."""
        path = _write(folder, SCENARIOS.replace("tier: silver}", "tier: silvr}"))
        for command in (["test", str(path)], ["validate", str(path)], ["lint", str(path)]):
            result = runner.invoke(app, command)
            assert result.exit_code == 1, command
            assert f"{path}:9:20: cases[1].expect.tier: unknown tier 'silvr'" in result.stderr

    def test_validate_lint_and_schema_know_the_kind(self, folder: Path) -> None:
        """A good scenario file validates; schema --kind scenarios prints its schema."""
        path = folder / "cards.scenarios.yaml"
        assert runner.invoke(app, ["validate", str(path)]).exit_code == 0
        assert runner.invoke(app, ["lint", str(path)]).exit_code == 0
        schema = runner.invoke(app, ["schema", "--kind", "scenarios"])
        assert json.loads(schema.output)["title"] == "vip_workflow scenario file"

    def test_nothing_to_run_and_an_unknown_preset(self) -> None:
        """No file is a usage error (exit 2), as is a preset without scenarios."""
        assert runner.invoke(app, ["test"]).exit_code == 2
        result = runner.invoke(app, ["test", "--preset", "nope"])
        assert result.exit_code == 2 and "no preset named 'nope'" in result.stderr


class TestTheDocs:
    """docs/scenarios.md tells the truth about its example."""

    PAGE = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"

    def _example(self, tmp_path: Path) -> tuple[Path, str, str]:
        text = self.PAGE.read_text(encoding="utf-8")
        blocks = [b for b in text.split("```yaml\n")[1:3]]
        tiers, scenarios = (b.split("```")[0] for b in blocks)
        (tmp_path / "cards.yaml").write_text(tiers, encoding="utf-8")
        return _write(tmp_path, scenarios), scenarios, text

    def test_the_example_passes_with_the_coverage_shown(self, tmp_path: Path) -> None:
        """The example's cases pass; its coverage and suggestions are the page's."""
        path, _, text = self._example(tmp_path)
        result = run_suite(load_scenarios(path))
        assert result.ok and result.coverage is not None
        assert result.coverage.rules_percent == 100.0
        assert f'"boundary_percent": {round(result.coverage.boundary_percent, 2)}' in text
        for case in suggest_cases(result)[:2]:
            assert f"- name: {case['name']}\n  input: {{arpu: {case['input']['arpu']}}}\n" \
                   f"  expect: {{tier: {case['expect']['tier']}, rule: {case['expect']['rule']}}}" \
                   in text

    @pytest.mark.parametrize(("old", "new"), [("tier: silver}", "tier: silvr}"),
                                              ("input: {arpu: 1000}", "input: {arpuu: 1000}")])
    def test_the_errors_shown_are_the_real_ones(self, tmp_path: Path, old: str,
                                                new: str) -> None:
        """The located errors on the page are what loading the changed example says."""
        path, scenarios, text = self._example(tmp_path)
        _write(tmp_path, scenarios.replace(old, new))
        with pytest.raises(vw.RuleFileError) as caught:
            load_scenarios(path)
        error = caught.value
        shown = f"cards.scenarios.yaml:{error.line}:{error.column}: {error.field}: {error.reason}"
        assert shown in text

    def test_the_failure_shown_is_the_real_one(self, tmp_path: Path) -> None:
        """Expecting gold for 999 prints what the page shows."""
        path, scenarios, text = self._example(tmp_path)
        _write(tmp_path, scenarios.replace("expect: {tier: silver}", "expect: {tier: gold}"))
        message = run_suite(load_scenarios(path)).failed[0].message()
        assert message.replace(str(tmp_path) + "/", "") in text


def test_the_batch_path_gives_the_row_paths_results(tmp_path: Path) -> None:
    """Without coverage, many cases are judged column-wise: the same passes and failures,
    and a failure still explains itself."""
    book = vw.preset("hubei-2006", kind="tiers")
    inputs = [{"importance": ["none", "county_gov", "provincal_gov"][i % 3],
               "revenue": (i * 97) % 70_000, "headcount": (i * 13) % 900} for i in range(1_200)]
    cases = [{"name": f"c{i}", "input": record,
              "expect": {"tier": d.tier, "rule": d.rule}}
             for i, (record, d) in enumerate(zip(inputs, book.judge_rows(inputs), strict=True))]
    cases[7]["expect"] = {"tier": "C"}
    data = {"kind": "scenarios", "name": "many", "book": "preset:hubei-2006", "cases": cases}
    path = tmp_path / "many.scenarios.yaml"
    path.write_text(yaml.safe_dump(data, default_flow_style=None), encoding="utf-8")
    suite = load_scenarios(path)
    batch, rows = run_suite(suite, coverage=False), run_suite(suite)
    assert [r.passed for r in batch.results] == [r.passed for r in rows.results]
    assert [r.name for r in batch.failed] == ["c7"]
    assert batch.failed[0].message() == rows.failed[0].message()
    assert any(c["expect"]["tier"] is None for c in cases)  # unjudgeable cases are compared too
