"""The IR-generated rule forms give, byte for byte, what the hand-written forms gave.

``tests/triggers/data/ir_expected.json.gz`` holds the outputs of the hand-written polars,
plain-Python and durable_rules forms (before the rule kinds moved onto ``vip_workflow.rules.ir``)
on 160 seeded trigger files over dirty histories (gaps, null, NaN, ±inf), 60 seeded KPI files
and the trigger and KPI presets: batch signals with evidence, live signals, every durable_rules
condition, every KPI row. Floats are compared by ``repr``.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from tests.triggers import generated as g


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    with gzip.open(g.EXPECTED, "rt", encoding="utf-8") as data:
        loaded: dict[str, Any] = json.load(data)
    return loaded


@pytest.mark.parametrize("seed", range(g.TRIGGER_FILES))
def test_trigger_forms_match_the_stored_outputs(seed: int, expected: dict[str, Any]) -> None:
    want = expected["triggers"][str(seed)]
    got = g.trigger_outputs(seed)
    assert got["durable"] == want["durable"]
    assert got["batch"] == want["batch"]
    assert got["live"] == want["live"]


@pytest.mark.parametrize("seed", range(g.KPI_FILES))
def test_kpi_values_match_the_stored_outputs(seed: int, expected: dict[str, Any]) -> None:
    assert g.kpi_outputs(seed) == expected["kpis"][str(seed)]


def test_the_presets_match_the_stored_outputs(expected: dict[str, Any]) -> None:
    assert g.preset_outputs() == expected["presets"]


def test_the_stored_outputs_exercise_every_path(expected: dict[str, Any]) -> None:
    """The fixture is not vacuous: signals fire, KPIs pass, fail and have no value."""
    triggers = expected["triggers"].values()
    assert sum(len(t["batch"]) for t in triggers) > 1000
    statuses = {row["status"] for rows in expected["kpis"].values() for row in rows}
    assert statuses == {"pass", "fail", "n/a"}
