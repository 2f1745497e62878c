"""Scenario tests for rule books: named cases kept beside a rule file, and rule coverage.

- ``model``: the ``kind: scenarios`` file (``NAME.scenarios.yaml``) and its loading, through the
  one rule-file kernel (located errors, ``schema_for("scenarios")``);
- ``table``: the same cases as a table, ``NAME.scenarios.csv`` or ``.xlsx``, each value located
  at its cell;
- ``run``: each case judged by its book and compared with what it expects;
- ``coverage``: the bands, factors, triggers and KPIs the cases exercised, and boundary
  coverage of every numeric bound (at, just below, just above);
- ``suggest`` (and ``kpi_suggest``): the missing boundary cases — customers, histories or
  portfolios — with what the book gives them, as YAML an analyst can paste.

See ``docs/scenarios.md``.
"""

from vip_workflow.rules.scenarios.model import (
    ScenarioFile,
    ScenarioSuite,
    load_scenarios,
    loads_scenarios,
    preset_scenarios,
    shipped_presets,
)
from vip_workflow.rules.scenarios.run import CaseResult, SuiteResult, run_suite

__all__ = ["CaseResult", "ScenarioFile", "ScenarioSuite", "SuiteResult", "load_scenarios",
           "loads_scenarios", "preset_scenarios", "run_suite", "shipped_presets"]
