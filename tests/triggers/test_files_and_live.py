"""Trigger files (located errors, lint, the preset) and the live engine's lifecycle."""

from __future__ import annotations

import gc
from datetime import date

import pytest
import yaml

import vip_workflow as vw
import vip_workflow.rules.tiers.book as rules_book
from tests.triggers.helpers import book_of, history
from vip_workflow.rules.files.conditions import upgrade_data, upgrade_text
from vip_workflow.rules.triggers import TriggerBook, _durable, explain_signals
from vip_workflow.rules.triggers.snapshots import MonthlySnapshot

GOOD = """\
kind: triggers
name: demo
triggers:
  - id: retain.spend
    family: retain
    action: call
    when: {type: consecutive, field: revenue, direction: decline, periods: 3}
"""


def load(text: str) -> TriggerBook:
    return rules_book.loads_rules(text, name="t.yaml")


class TestBadFiles:
    @pytest.mark.parametrize(("old", "new", "reason", "line"), [
        ("family: retain", "family: keep", "develop", 5),
        ("periods: 3", "periods: 0", "greater than or equal to 1", 7),
        ("direction: decline", "direction: down", "decline", 7),
        ("type: consecutive", "type: trend", "unknown type 'trend'", 7),
        ("    action: call\n", "    action: call\n    acton: x\n", "unknown key 'acton'", 7),
        ("    action: call\n", "", "the required key 'action' is missing", 4),
        ("field: revenue", "field: 'rev enue'", "should match pattern", 7),
    ])
    def test_mistakes_are_located(self, old: str, new: str, reason: str, line: int) -> None:
        """Each mistake names the file, the line and the field."""
        with pytest.raises(vw.RuleFileError, match=reason) as info:
            load(GOOD.replace(old, new))
        assert info.value.path == "t.yaml"
        assert info.value.line == line

    def test_a_duplicate_id_points_at_the_second_one(self) -> None:
        """Two triggers, one id."""
        text = GOOD + GOOD.split("triggers:\n")[1]
        with pytest.raises(vw.RuleFileError, match="used twice") as info:
            load(text)
        assert info.value.line == 8 and "triggers[1]" in info.value.field

    def test_anomaly_min_periods_above_the_window_is_refused(self) -> None:
        """It could never fire."""
        with pytest.raises(vw.RuleFileError, match="never fire"):
            book_of({"type": "anomaly", "field": "revenue", "window": 3, "min_periods": 5})

    def test_yaml_tags_are_refused(self) -> None:
        """Rule files are data: no python objects."""
        with pytest.raises(vw.RuleFileError, match="tag"):
            load(GOOD.replace("action: call", "action: !!python/object:os.system x"))


class TestLint:
    def codes(self, *conditions: dict) -> list[tuple[str, str]]:
        new = [upgrade_data(c) for c in conditions]  # old spellings are tested elsewhere
        return [(f.severity, f.code) for f in book_of(*new).lint().findings]

    def test_thresholds_that_cannot_hold_are_errors(self) -> None:
        """Counts are never negative; a count cannot exceed its months."""
        assert self.codes({"type": "threshold", "field": "complaints", "op": "<",
                           "value": 0}) == [("error", "never-fires")]
        assert self.codes({"type": "count", "field": "arrears", "periods": 3,
                           "value": 4}) == [("error", "never-fires")]
        assert self.codes({"type": "threshold", "field": "competitor_share", "op": ">",
                           "value": 1}) == [("error", "never-fires")]

    def test_contradictory_parts_of_an_all_are_an_error(self) -> None:
        """revenue > 10 and revenue < 5."""
        assert self.codes({"type": "all", "conditions": [
            {"type": "threshold", "field": "revenue", "op": ">", "value": 10},
            {"type": "threshold", "field": "revenue", "op": "<", "value": 5}]}) == [
            ("error", "never-fires")]

    def test_wrong_sign_and_always_true_are_warnings(self) -> None:
        """A 'drop' of ≥ −20 % holds when nothing changes; revenue ≥ 0 always holds."""
        assert self.codes({"type": "change", "field": "revenue", "op": ">=",
                           "percent": -20}) == [("warning", "wrong-sign")]
        assert self.codes({"type": "threshold", "field": "revenue", "op": ">=",
                           "value": 0}) == [("warning", "always-fires")]
        assert self.codes({"type": "change", "field": "revenue", "op": "<",
                           "percent": -100}) == [("error", "never-fires")]

    def test_unknown_fields_are_warnings_with_a_line(self) -> None:
        """The history must bring the column."""
        report = load(upgrade_text(GOOD).replace("consecutive: revenue",
                                                 "consecutive: revenu")).lint()
        assert [(f.code, f.line) for f in report.findings] == [("unknown-field", 7)]

    def test_a_clean_book_has_no_findings(self) -> None:
        """The good example (in the one condition language; the old one is reported)."""
        assert load(upgrade_text(GOOD)).lint().findings == []
        assert [f.code for f in load(GOOD).lint().findings] == ["old-spelling"]


class TestPreset:
    def test_seed_001_has_twenty_triggers_in_five_families(self) -> None:
        """Develop 2, maintain 4, retain 6, upgrade 2, risk 6."""
        book = vw.preset("seed-001-triggers")
        assert len(book) == 20 and len(set(book.ids)) == 20
        families = [t.family for t in book]
        assert {f: families.count(f) for f in set(families)} == {
            "develop": 2, "maintain": 4, "retain": 6, "upgrade": 2, "risk": 6}
        assert all(t.action and t.title for t in book)

    def test_the_preset_lints_clean_and_describes_itself(self) -> None:
        """No findings; describe() gives one row per trigger."""
        book = vw.preset("seed-001-triggers")
        assert book.lint().findings == []
        assert book.describe().height == 20
        assert "retain.spend_declining" in book._repr_html_()

    def test_a_book_round_trips_through_yaml(self, tmp_path: object) -> None:
        """save → load gives the same triggers."""
        book = vw.preset("seed-001-triggers")
        path = book.save(tmp_path / "copy.yaml")  # type: ignore[operator]
        assert rules_book.load_rules(path).rules == book.rules


class TestLiveEngine:
    def test_events_one_by_one_return_their_signals(self) -> None:
        """The third decline fires; evidence and explanation carry the values."""
        book = load(GOOD)
        with book.live() as engine:
            out = [engine.post({"customer_id": "c", "period": f"2026-0{m}", "revenue": r})
                   for m, r in enumerate([100, 90, 80, 70], start=1)]
        assert [len(o) for o in out] == [0, 0, 0, 1]
        signal = out[3][0]
        assert signal.period == date(2026, 4, 1) and signal.family == "retain"
        assert dict(signal.evidence) == {"revenue[-3]": 100, "revenue[-2]": 90,
                                         "revenue[-1]": 80, "revenue": 70}
        assert "revenue[-1]=80" in signal.explain()

    def test_pydantic_snapshots_are_accepted(self) -> None:
        """MonthlySnapshot in, signal out."""
        book = book_of({"type": "threshold", "field": "complaints", "op": ">=", "value": 2})
        with book.live() as engine:
            snapshot = MonthlySnapshot(customer_id="c", period="2026-05", complaints=3)
            assert [s.trigger for s in engine.post(snapshot)] == ["t0"]

    def test_months_must_increase_per_customer(self) -> None:
        """An old month after a newer one is refused; other customers are independent."""
        book = load(GOOD)
        with book.live() as engine:
            engine.post({"customer_id": "a", "period": "2026-03", "revenue": 1})
            engine.post({"customer_id": "b", "period": "2026-01", "revenue": 1})
            with pytest.raises(vw.EvaluationError, match="increasing order"):
                engine.post({"customer_id": "a", "period": "2026-02", "revenue": 1})

    def test_engines_from_one_book_are_independent_and_closable(self) -> None:
        """Unique ruleset names; a closed engine refuses events."""
        book = load(GOOD)
        first, second = book.live(), book.live()
        assert first.ruleset_name != second.ruleset_name
        first.close()
        first.close()  # idempotent
        assert first.closed and not second.closed
        with pytest.raises(vw.ConfigError, match="closed"):
            first.post({"customer_id": "c", "period": "2026-01", "revenue": 1})
        second.close()

    def test_rerunning_a_notebook_cell_works(self) -> None:
        """Building the same engine again and again (and dropping old ones) just works."""
        book = load(GOOD)
        frame = history({"revenue": [4.0, 3.0, 2.0, 1.0]})
        results = []
        for _ in range(5):
            engine = book.live()  # the cell: no close, the old engine is dropped
            results.append(len(engine.post_many(frame.iter_rows(named=True))))
            del engine
            gc.collect()
        assert results == [1] * 5

    def test_the_ruleset_lives_on_a_private_host(self) -> None:
        """durable.lang's global host is never created by us."""
        import durable.lang

        book = load(GOOD)
        with book.live():
            pass
        assert durable.lang._rulesets == {}

    def test_nothing_is_left_pending_in_durable_rules(self) -> None:
        """Each event is consumed or dropped at once."""
        with _durable.DurableRuleset("probe", {"r": ({"$gt": {"x": 1}}, lambda e: None)}) as rs:
            rs.post([{"x": 0}, {"x": 5}, {"y": 1}])
            assert rs.pending() == []

    def test_explain_signals_gives_one_sentence_per_row(self) -> None:
        """Batch results explain themselves too."""
        book = load(GOOD)
        result = book.scan(history({"revenue": [4.0, 3.0, 2.0, 1.0]}))
        assert explain_signals(result) == [
            "retain.spend (retain, medium) for c1 in 2026-04: revenue[-3]=4, revenue[-2]=3, "
            "revenue[-1]=2, revenue=1"]


def test_the_trigger_file_format_is_plain_yaml() -> None:
    """to_dict survives a YAML round trip."""
    book = vw.preset("seed-001-triggers")
    assert yaml.safe_load(book.to_yaml()) == book.to_dict()


def test_the_presets_validate_against_their_json_schemas() -> None:
    """triggers_schema() and kpis_schema() accept the shipped presets."""
    jsonschema = pytest.importorskip("jsonschema")
    from vip_workflow.rules.kpis.book import kpis_schema
    from vip_workflow.rules.triggers import triggers_schema

    jsonschema.validate(vw.preset("seed-001-triggers").to_dict(), triggers_schema())
    jsonschema.validate(vw.preset("china-mobile-2006-kpis").to_dict(), kpis_schema())


def test_live_dates_may_be_text_or_datetimes() -> None:
    """agreement_end as '2026-03-31' or a datetime means that day."""
    from datetime import datetime

    book = book_of({"type": "days_until", "field": "agreement_end", "within": 30})
    with book.live() as engine:
        a = engine.post({"customer_id": "a", "period": "2026-03", "agreement_end": "2026-03-31"})
        b = engine.post({"customer_id": "b", "period": datetime(2026, 3, 9),
                         "agreement_end": datetime(2026, 3, 31, 12)})
    assert [s.trigger for s in a + b] == ["t0", "t0"]
