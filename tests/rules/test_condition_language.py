"""The one condition language: old spellings and their upgrades give identical results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.triggers.helpers import book_of, fired, history
from vip_workflow.processes.conditions import holds
from vip_workflow.rules.files.conditions import (
    Condition,
    old_spellings,
    upgrade_data,
    upgrade_file,
)
from vip_workflow.rules.kpis.book import Kpi, check_kpi

FAST = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
NUM_OPS = [">", ">=", "<", "<=", "==", "!="]
WORD_OPS = {"eq": "==", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}

# -- old trigger conditions ----------------------------------------------------------------
_small = st.integers(-3, 3).map(float)
_leaf_old = st.one_of(
    st.builds(lambda op, v: {"type": "threshold", "field": "revenue", "op": op, "value": v},
              st.sampled_from(NUM_OPS), _small),
    st.builds(lambda p, op, v: {"type": "change", "field": "revenue", "periods": p, "op": op,
                                "percent": v * 10}, st.integers(1, 2), st.sampled_from(NUM_OPS),
              _small),
    st.builds(lambda p, d: {"type": "consecutive", "field": "revenue", "direction": d,
                            "periods": p}, st.integers(1, 2),
              st.sampled_from(["decline", "increase"])),
    st.builds(lambda p, op, v: {"type": "sum", "field": "revenue", "periods": p, "op": op,
                                "value": v}, st.integers(1, 3), st.sampled_from(NUM_OPS), _small),
    st.builds(lambda p, wo, wv, v: {"type": "count", "field": "revenue", "periods": p,
                                    "where_op": wo, "where_value": wv, "value": v},
              st.integers(1, 3), st.sampled_from(NUM_OPS), _small, st.integers(0, 3)),
)
_trigger_old = st.recursive(
    _leaf_old,
    lambda inner: st.builds(lambda t, cs: {"type": t, "conditions": cs},
                            st.sampled_from(["all", "any"]), st.lists(inner, min_size=1,
                                                                      max_size=3)),
    max_leaves=4)
_revenue = st.lists(st.one_of(st.none(), _small), min_size=5, max_size=5)


class TestTriggersAgree:
    @FAST
    @given(_trigger_old, _revenue)
    def test_an_old_trigger_condition_and_its_upgrade_fire_alike(
            self, old: dict[str, Any], revenue: list[float | None]) -> None:
        """Batch and live signals are the same for both spellings on generated months."""
        new = upgrade_data(old)
        assert old_spellings({"kind": "triggers", "triggers": [{"when": new}]}) == []
        frame = history({"revenue": revenue})
        assert fired(book_of(old), frame) == fired(book_of(new), frame)


# -- old KPI filters -----------------------------------------------------------------------
_kpi_leaf = st.one_of(
    st.builds(lambda v: {"field": "segment", "value": v}, st.sampled_from(["A", "B", "C"])),
    st.builds(lambda op, v: {"field": "revenue", "op": op, "value": v},
              st.sampled_from(NUM_OPS), st.integers(0, 4)),
    st.builds(lambda vs: {"field": "segment", "op": "in", "value": vs},
              st.lists(st.sampled_from(["A", "B", "C"]), min_size=1, max_size=3)),
)
_rows = st.lists(st.fixed_dictionaries({
    "segment": st.one_of(st.none(), st.sampled_from(["A", "B", "C"])),
    "revenue": st.one_of(st.none(), st.integers(0, 4))}), min_size=1, max_size=8)


class TestKpisAgree:
    @FAST
    @given(st.lists(_kpi_leaf, max_size=3), _rows)
    def test_an_old_where_list_and_its_upgrade_count_alike(
            self, where: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
        """A count KPI filtered by the old list and by the upgraded condition agree."""
        frame = pl.DataFrame(rows, schema={"segment": pl.String, "revenue": pl.Int64})

        def result(filters: Any) -> Any:
            spec = {"id": "k", "measure": {"type": "count", "where": filters}, "target": 0}
            return check_kpi(Kpi.model_validate(spec), frame)

        new = upgrade_data(where, is_where=True)
        assert result(where) == result(new)


# -- old process conditions ----------------------------------------------------------------
_proc_leaf = st.one_of(
    st.builds(lambda op, v: {"field": "x", "op": op, "value": v},
              st.sampled_from([*WORD_OPS, *NUM_OPS]), st.integers(-2, 2)),
    st.builds(lambda op: {"field": "x", "op": op}, st.sampled_from(["exists", "missing"])),
    st.builds(lambda vs: {"field": "y", "op": "in", "value": vs},
              st.lists(st.sampled_from(["a", "b"]), max_size=2)),
)
_proc = st.recursive(
    _proc_leaf,
    lambda inner: st.one_of(
        st.builds(lambda k, cs: {k: cs}, st.sampled_from(["all", "any"]),
                  st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda c: {"not": c}, inner)),
    max_leaves=5)
_context = st.fixed_dictionaries({}, optional={
    "x": st.one_of(st.none(), st.integers(-2, 2), st.just("text")),
    "y": st.sampled_from(["a", "b", "c"])})


class TestProcessGuardsAgree:
    @settings(max_examples=200, deadline=None)
    @given(_proc, _context)
    def test_an_old_guard_and_its_upgrade_hold_alike(self, old: dict[str, Any],
                                                     context: dict[str, Any]) -> None:
        """Word operators, exists/missing and their upgrades give the same answer."""
        new = upgrade_data(old)
        assert holds(Condition.model_validate(old), context) == holds(
            Condition.model_validate(new), context)


class TestUpgradeFile:
    def test_old_spellings_are_rewritten_in_place_keeping_comments(self, tmp_path: Path
                                                                   ) -> None:
        """The rewritten file loads alike, has no old spelling left, and keeps its comments."""
        import vip_workflow.rules.tiers.book as rules_book
        from vip_workflow.rules.files.document import read_document

        path = tmp_path / "t.yaml"
        path.write_text(
            "kind: triggers  # a comment\nname: t\ntriggers:\n"
            "  # the first trigger\n  - id: a\n    family: risk\n    action: act\n"
            "    when:\n      type: all\n      conditions:\n"
            "        - {type: threshold, field: revenue, op: '>=', value: 5}\n"
            "        - {type: change, field: revenue, periods: 3, op: '<=', percent: -20}\n"
            "  # the second\n  - id: b\n    family: risk\n    action: act\n"
            "    when: {type: days_until, field: agreement_end, within: 90}  # soon\n",
            encoding="utf-8")
        before = rules_book.load_rules(path).to_dict()
        assert upgrade_file(path) is True
        text = path.read_text(encoding="utf-8")
        assert "# the first trigger" in text and "# the second" in text and "# soon" in text
        assert old_spellings(read_document(path).data) == []
        assert rules_book.load_rules(path).to_dict() == before
        assert upgrade_file(path) is False

    def test_lint_names_the_new_spelling_at_its_line(self) -> None:
        """An old spelling is a located old-spelling warning naming the new spelling."""
        book = book_of({"type": "threshold", "field": "revenue", "op": ">", "value": 1})
        found = [f for f in book.lint() if f.code == "old-spelling"]
        assert len(found) == 1
        assert "{field: revenue, op: \">\", value: 1}" in found[0].message
        assert found[0].line is not None
