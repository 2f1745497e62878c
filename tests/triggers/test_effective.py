"""Trigger and KPI files carry a version and an effective date, validated like tier files'."""

from __future__ import annotations

from datetime import date

import pytest

import vip_workflow as vw
from vip_workflow.rules.kpis.book import kpis_schema
from vip_workflow.rules.triggers import triggers_schema

TRIGGERS = """\
kind: triggers
name: spend
version: 2
effective: {effective}
triggers:
  - id: risk.high_spend
    family: risk
    action: call
    when: {{type: threshold, field: revenue, op: ">", value: 1000}}
"""

KPIS = """\
kind: kpis
name: revenue-kpis
version: 2
effective: {effective}
kpis:
  - id: revenue
    measure: {{type: sum, field: revenue}}
    target: 1000
"""


@pytest.mark.parametrize("text", [TRIGGERS, KPIS], ids=["triggers", "kpis"])
class TestEffective:
    """effective: a date, or YYYY-MM for the month's first day; anything else is located."""

    @pytest.mark.parametrize(("written", "expected"), [
        ("2026-10-01", date(2026, 10, 1)), ('"2026-10-15"', date(2026, 10, 15)),
        ("2026-10", date(2026, 10, 1)), ('" 2026-10 "', date(2026, 10, 1))])
    def test_a_date_or_a_month_is_read(self, text: str, written: str, expected: date) -> None:
        book = vw.loads_rules(text.format(effective=written), name="rules.yaml")
        assert book.rules.effective == expected
        assert book.version == "2"  # a number is read as text
        assert vw.load_rules(book.to_dict()).rules.effective == expected  # saved as a date

    @pytest.mark.parametrize("written", [
        "2026-13", '"2026-02-30"', "soon", "[2026]", "20261001", "2026-02-30"])
    def test_a_bad_date_is_a_located_error(self, text: str, written: str) -> None:
        with pytest.raises(vw.RuleFileError) as caught:
            vw.loads_rules(text.format(effective=written), name="rules.yaml")
        assert caught.value.line == 4
        assert "effective" in str(caught.value)
        assert str(caught.value).startswith("rules.yaml:4:")

    def test_effective_may_be_left_out(self, text: str) -> None:
        lines = [line for line in text.format(effective="x").splitlines()
                 if not line.startswith("effective")]
        assert vw.loads_rules("\n".join(lines), name="rules.yaml").rules.effective is None


@pytest.mark.parametrize("name", ["seed-001-triggers", "china-mobile-2006-kpis"])
def test_the_presets_load_without_an_effective_date(name: str) -> None:
    """A preset is in force from always; it loads as one version."""
    book = vw.preset(name)
    versions = vw.RuleVersions([book])
    assert versions.in_force("1990-01") is book
    assert book.rules.effective is None or isinstance(book.rules.effective, date)


def test_the_schemas_document_the_keys() -> None:
    """Editors see version and effective in the trigger and KPI JSON Schemas."""
    for schema in (triggers_schema(), kpis_schema()):
        assert {"version", "effective"} <= set(schema["properties"])
        assert "YYYY-MM" in schema["properties"]["effective"]["description"]
