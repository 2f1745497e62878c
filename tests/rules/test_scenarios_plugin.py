"""The pytest plugin: scenario files collected, one item per case, failures explained."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest

import vip_workflow.rules.presets

# imported here, not first inside an in-process run (pytester drops what a run imported)
import vip_workflow.testing.pytest_plugin

pytest_plugins = ["pytester"]

PLUGIN = "vip_workflow.testing.pytest_plugin"

SCENARIOS = """\
kind: scenarios
name: cards
book: preset:china-mobile-vip-cards
cases:
  - {name: 3000 is diamond, input: {arpu: 3000}, expect: {tier: diamond}}
  - {name: 2999 is gold, input: {arpu: 2999}, expect: {tier: gold}}
  - {name: 100 is regular, input: {arpu: 100}, expect: {tier: regular}}
"""


def _args() -> list[str]:
    """Load the plugin by name unless it is installed (its pytest11 entry point)."""
    installed = any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))
    quiet = ["-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    return quiet + ([] if installed else ["-p", PLUGIN])


def test_one_item_per_case(pytester: pytest.Pytester) -> None:
    """Three cases are three passing tests, named by the case."""
    pytester.makefile(".scenarios.yaml", cards=SCENARIOS)
    result = pytester.runpytest("-v", *_args())
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*cards.scenarios.yaml::2999 is gold PASSED*"])


def test_a_failure_shows_expected_got_and_the_trace(pytester: pytest.Pytester) -> None:
    """A wrong expectation fails its item only, with the decision's explanation."""
    pytester.makefile(".scenarios.yaml",
                      cards=SCENARIOS.replace("expect: {tier: gold}", "expect: {tier: silver}"))
    result = pytester.runpytest(*_args())
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*cards.scenarios.yaml:6:12: case '2999 is gold': expected tier silver, got tier gold*",
        "*ARPU 2999 in [1500, 3000) → gold*",
    ])


def test_a_bad_file_is_a_located_collection_error(pytester: pytest.Pytester) -> None:
    """A scenario file that does not load reports file:line:column: field: reason."""
    pytester.makefile(".scenarios.yaml",
                      cards=SCENARIOS.replace("tier: regular", "tier: reguler"))
    result = pytester.runpytest(*_args())
    result.assert_outcomes(errors=1)
    assert "cards.scenarios.yaml:7:63: cases[2].expect.tier: unknown tier 'reguler'" in \
        result.stdout.str()


def test_other_files_are_left_alone(pytester: pytest.Pytester) -> None:
    """Ordinary tests and other YAML files are collected as before."""
    pytester.makepyfile("def test_ok():\n    pass\n")
    pytester.makefile(".yaml", other="kind: tiers\n")
    result = pytester.runpytest(*_args())
    result.assert_outcomes(passed=1)


def test_the_presets_scenarios_pass_under_pytest(pytester: pytest.Pytester) -> None:
    """pytest collects the scenario files shipped beside the presets: every case passes."""
    from vip_workflow.rules.scenarios import preset_scenarios, shipped_presets

    folder = Path(vip_workflow.rules.presets.__file__).parent
    total = sum(len(preset_scenarios(name).cases) for name in shipped_presets())
    result = pytester.runpytest(str(folder), *_args())
    result.assert_outcomes(passed=total)
