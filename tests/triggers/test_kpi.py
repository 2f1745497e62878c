"""KPI files: ratios, sums, counts by segment, comparisons, gaps, displays, bad files."""

from __future__ import annotations

import polars as pl
import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from rich.console import Console

import vip_workflow as vw
import vip_workflow.rules.tiers.book as rules_book
from vip_workflow.rules.kpis.book import KpiBook
from vip_workflow.samples import load_sample_portfolio, sample_kpi_portfolio

PORTFOLIO = pl.DataFrame({
    "customer_id": ["a", "b", "c", "d", "e"],
    "kind": ["group", "group", "group", "individual", "individual"],
    "segment": ["A", "C", "C", "gold", "gold"],
    "account_manager": ["m1", "m1", "m2", "v1", "v1"],
    "members": [30, 10, 0, 1, 1],
    "employees": [100, 100, 100, 1, 1],
    "stable": [True, False, True, True, None],
    "return_cost": [16000.0, 1000.0, 3000.0, 0.0, 0.0],
})


def kpi_book(*kpis: dict) -> KpiBook:
    text = yaml.safe_dump({"kind": "kpis", "name": "test", "kpis": list(kpis)})
    return rules_book.loads_rules(text, name="kpis.yaml")


def one(results: pl.DataFrame, segment: str | None = None) -> dict:
    rows = [r for r in results.iter_rows(named=True) if r["segment"] == segment]
    assert len(rows) == 1
    return rows[0]


class TestMeasures:
    def test_a_ratio_of_sums_over_a_filtered_population(self) -> None:
        """Coverage = 40 / 300 over groups; below 27 % fails with a negative gap."""
        book = kpi_book({"id": "cov", "measure": {
            "type": "ratio", "numerator": {"agg": "sum", "field": "members"},
            "denominator": {"agg": "sum", "field": "employees"}},
            "where": [{"field": "kind", "value": "group"}], "target": 0.27})
        row = one(book.check(PORTFOLIO))
        assert row["value"] == pytest.approx(40 / 300)
        assert row["status"] == "fail" and row["gap"] == pytest.approx(40 / 300 - 0.27)
        assert (row["numerator"], row["denominator"], row["rows"]) == (40, 300, 3)

    def test_a_count_ratio_where_unknown_is_not_true(self) -> None:
        """stable null is not stable: 3 of 5."""
        book = kpi_book({"id": "stab", "measure": {
            "type": "ratio", "numerator": {"agg": "count",
                                           "where": [{"field": "stable", "value": True}]},
            "denominator": {"agg": "count"}}, "target": 0.6})
        row = one(book.check(PORTFOLIO))
        assert row["value"] == pytest.approx(0.6) and row["status"] == "pass"

    def test_staffing_is_customers_per_distinct_manager(self) -> None:
        """3 groups, 2 managers → 1.5 per manager, at most 50."""
        book = kpi_book({"id": "staff", "measure": {
            "type": "ratio", "numerator": {"agg": "count"},
            "denominator": {"agg": "n_unique", "field": "account_manager"}},
            "where": [{"field": "kind", "value": "group"}], "compare": "<=", "target": 50})
        row = one(book.check(PORTFOLIO))
        assert row["value"] == 1.5 and row["gap"] == 48.5

    def test_by_segment_with_targets_per_segment(self) -> None:
        """Mean return cost per tier against its budget; a budgeted tier with no rows is n/a."""
        book = kpi_book({"id": "cost", "measure": {"type": "mean", "field": "return_cost"},
                         "where": [{"field": "kind", "value": "group"}], "by": "segment",
                         "compare": "<=", "targets": {"A": 15000, "B": 8000, "C": 2000}})
        results = book.check(PORTFOLIO)
        assert one(results, "A")["status"] == "fail"
        assert one(results, "C")["value"] == 2000 and one(results, "C")["status"] == "pass"
        assert one(results, "B")["status"] == "n/a" and one(results, "B")["rows"] == 0

    def test_between_passes_inside_the_range(self) -> None:
        """Key-person services 1–2 a year."""
        book = kpi_book({"id": "kp", "measure": {"type": "sum", "field": "members"},
                         "compare": "between", "target": [40, 45]})
        row = one(book.check(PORTFOLIO))
        assert row["value"] == 42 and row["status"] == "pass" and row["gap"] == 2

    def test_a_zero_denominator_gives_no_value(self) -> None:
        """n/a, not a division error."""
        book = kpi_book({"id": "z", "measure": {
            "type": "ratio", "numerator": {"agg": "sum", "field": "members"},
            "denominator": {"agg": "sum", "field": "members",
                            "where": [{"field": "kind", "value": "none"}]}}, "target": 1})
        assert one(book.check(PORTFOLIO))["status"] == "n/a"

    def test_a_missing_column_is_named(self) -> None:
        """EvaluationError with the column."""
        book = kpi_book({"id": "x", "measure": {"type": "sum", "field": "nope"}, "target": 1})
        with pytest.raises(vw.EvaluationError, match="nope"):
            book.check(PORTFOLIO)


class TestFiles:
    @pytest.mark.parametrize(("kpi", "reason"), [
        ({"id": "a", "measure": {"type": "sum", "field": "x"}}, "target"),
        ({"id": "a", "measure": {"type": "ratio"}, "target": 1}, "numerator"),
        ({"id": "a", "measure": {"type": "sum", "field": "x"}, "compare": "between",
          "target": 1}, "between"),
        ({"id": "a", "measure": {"type": "sum", "field": "x"}, "target": 1, "targte": 2},
         "unknown key"),
        ({"id": "a", "measure": {"type": "sum", "field": "x"}, "targets": {"A": 1}}, "by"),
    ])
    def test_bad_kpi_files_raise_located_errors(self, kpi: dict, reason: str) -> None:
        """Every mistake names the file, line and field."""
        with pytest.raises(vw.RuleFileError, match=reason) as info:
            kpi_book(kpi)
        assert info.value.path == "kpis.yaml" and info.value.line is not None


class TestPreset:
    def test_the_preset_has_the_seed_targets(self) -> None:
        """Coverage 27 %, stability 70 %, archive 95/80 %, authenticity 100 %, 1:400, 1:50,
        key persons 1–2, budgets 15 000 / 8 000 / 2 000."""
        book = vw.preset("china-mobile-2006-kpis")
        kpis = {k.id: k for k in book.kpis}
        assert kpis["member_coverage"].target == 0.27
        assert kpis["group_stability"].target == 0.70
        assert kpis["archive_completeness"].targets == {"A": 0.95, "B": 0.95, "C": 0.80}
        assert kpis["member_authenticity"].target == 1.0
        assert kpis["staffing_individual_vips"].target == 400
        assert kpis["staffing_groups"].target == 50
        assert kpis["key_person_services"].target == [1, 2]
        budgets = {tier: kpis[f"return_cost_budget_{tier.lower()}"].targets[tier]
                   for tier in "ABC"}
        assert budgets == {"A": 15000, "B": 8000, "C": 2000}

    def test_the_hubei_tiers_take_the_a_and_b_targets(self) -> None:
        """The sources set A/B/C targets only; A+ is checked like A and B+ like B (archive
        95 %, budgets 15 000 / 8 000, ranges 12 000–20 000 / 5 000–10 000)."""
        book = vw.preset("china-mobile-2006-kpis")
        portfolio = pl.DataFrame({
            "kind": ["group"] * 6,
            "segment": ["A+", "A", "B+", "B", "C", "C"],
            "archive_complete": [True] * 6,
            "return_cost": [20000.0, 12000.0, 10000.0, 4999.0, 1000.0, 3000.0],
        })
        results = book.check(portfolio, kpis=[
            "archive_completeness", "return_cost_budget_a", "return_cost_budget_b",
            "return_cost_budget_c", "return_cost_range_a", "return_cost_range_b",
            "return_cost_range_c"])
        by = {(r["kpi"], r["segment"]): r for r in results.iter_rows(named=True)}
        assert "no target" not in set(results["status"])
        assert {s: by["archive_completeness", s]["target"] for s in ("A+", "B+", "C")} == {
            "A+": "0.95", "B+": "0.95", "C": "0.8"}
        assert by["return_cost_budget_a", "A+"]["target"] == "15000"
        assert by["return_cost_budget_a", "A+"]["status"] == "fail"  # 20 000 > 15 000
        assert by["return_cost_budget_b", "B+"]["target"] == "8000"
        assert by["return_cost_budget_b", "B+"]["status"] == "fail"  # 10 000 > 8 000
        # the ranges include both bounds
        assert by["return_cost_range_a", "A+"]["status"] == "pass"
        assert by["return_cost_range_a", "A"]["status"] == "pass"
        assert by["return_cost_range_b", "B+"]["status"] == "pass"
        assert by["return_cost_range_b", "B"]["value"] == 0  # 4 999 < 5 000
        assert by["return_cost_range_c", "C"]["value"] == 1.0

    def test_a_group_outside_its_tier_range_fails_the_range_check(self) -> None:
        """The means can pass while single groups leave the range: 2 of 4 A groups are out
        (11 000 and 21 000) though the mean 15 000 is on budget."""
        book = vw.preset("china-mobile-2006-kpis")
        portfolio = pl.DataFrame({"kind": ["group"] * 4, "segment": ["A"] * 4,
                                  "return_cost": [11000.0, 14000.0, 14000.0, 21000.0]})
        budget, in_range = book.check(
            portfolio, kpis=["return_cost_budget_a", "return_cost_range_a"]).iter_rows(
            named=True)
        assert budget["status"] == "pass" and budget["value"] == 15000
        assert in_range["status"] == "fail" and in_range["value"] == 0.5
        assert (in_range["numerator"], in_range["denominator"]) == (2, 4)

    def test_a_missing_base_tier_is_n_a_and_a_missing_hubei_tier_is_silent(self) -> None:
        """With only C groups, A and B show as n/a (no rows); A+ and B+ add no rows."""
        book = vw.preset("china-mobile-2006-kpis")
        portfolio = pl.DataFrame({"kind": ["group"], "segment": ["C"],
                                  "archive_complete": [True], "return_cost": [1500.0]})
        results = book.check(portfolio, kpis=["archive_completeness", "return_cost_budget_a",
                                               "return_cost_range_b"])
        rows = {(r["kpi"], r["segment"]): r["status"] for r in results.iter_rows(named=True)}
        assert rows == {("archive_completeness", "A"): "n/a",
                        ("archive_completeness", "B"): "n/a",
                        ("archive_completeness", "C"): "pass",
                        ("return_cost_budget_a", "A"): "n/a",
                        ("return_cost_range_b", "B"): "n/a"}

    def test_the_sample_portfolio_is_checked_fully(self) -> None:
        """On the demo's sample portfolio every KPI (and tier) gets a pass or fail: no
        n/a and no "no target" rows, no missing columns."""
        book = vw.preset("china-mobile-2006-kpis")
        portfolio = sample_kpi_portfolio(portfolio=load_sample_portfolio())
        assert book.missing_columns(portfolio.columns) == {}
        results = book.check(portfolio)
        assert set(results["kpi"]) == set(book.ids())
        assert set(results["status"]) <= {"pass", "fail"}

    def test_the_preset_lints_clean(self) -> None:
        """No errors and no warnings."""
        report = vw.preset("china-mobile-2006-kpis").lint()
        assert report.clean, str(report)

    def test_the_report_renders_for_terminals_and_notebooks(self) -> None:
        """A rich table and HTML with every KPI title."""
        book = vw.preset("china-mobile-2006-kpis")
        report = book.report(sample_kpi_portfolio(500, seed=3))
        console = Console(record=True, width=160)
        console.print(report.to_rich_table())
        text = console.export_text()
        html = report._repr_html_()
        for kpi in book.kpis:
            assert kpi.title in text and kpi.title in html
        assert set(report.frame["status"]) <= {"pass", "fail", "n/a"}

    def test_pandas_portfolios_work(self) -> None:
        """Same results from pandas."""
        book = vw.preset("china-mobile-2006-kpis")
        portfolio = sample_kpi_portfolio(300, seed=4)
        assert book.check(portfolio).equals(book.check(portfolio.to_pandas()))


class TestLint:
    def test_a_percent_target_written_as_a_whole_number_is_flagged(self) -> None:
        """27 instead of 0.27 — with the file line."""
        book = kpi_book({"id": "stab", "unit": "percent", "measure": {
            "type": "ratio", "numerator": {"agg": "count",
                                           "where": {"field": "stable", "op": "==",
                                                     "value": True}},
            "denominator": {"agg": "count"}}, "target": 70})
        codes = [(f.severity, f.code) for f in book.lint().findings]
        assert codes == [("error", "never-passes"), ("warning", "percent-scale")]
        assert all(f.line is not None for f in book.lint().findings)

    def test_the_preset_lints_clean(self) -> None:
        """No findings."""
        assert vw.preset("china-mobile-2006-kpis").lint().findings == []


def where_kpi(value: object, *, field: str = "return_cost", op: str = "==",
              at: str = "kpi") -> dict:
    """A count KPI with one filter ``field op value`` at the KPI, the measure or a numerator."""
    where = [{"field": field, "op": op, "value": value}]
    kpi: dict = {"id": "x", "target": 1}
    if at == "kpi":
        kpi.update(measure={"type": "count"}, where=where)
    elif at == "measure":
        kpi.update(measure={"type": "count", "where": where})
    else:
        kpi.update(measure={"type": "ratio", "numerator": {"agg": "count", "where": where},
                            "denominator": {"agg": "count"}})
    return kpi


COLUMN_WORDS = {"return_cost": "numbers", "members": "numbers", "kind": "text",
                "stable": "true or false"}


class TestFilterTypes:
    """A where value of another kind than its column is named, not a polars crash."""

    def test_a_quoted_number_against_a_number_column_is_named(self) -> None:
        """The issue's case: value '5000' against revenue numbers."""
        book = kpi_book(where_kpi("5000", op=">="))
        with pytest.raises(vw.EvaluationError) as info:
            book.check(PORTFOLIO)
        assert str(info.value) == (
            "kpi 'x': where.return_cost: '5000' is text but column return_cost holds numbers")
        assert (info.value.rule, info.value.field) == ("x", "where.return_cost")

    @pytest.mark.parametrize("at", ["kpi", "measure", "numerator"])
    @pytest.mark.parametrize(("field", "value", "op"), [
        ("return_cost", "5000", ">="), ("return_cost", "5000", "=="), ("members", True, "=="),
        ("members", ["1", "2"], "in"), ("kind", 5, "=="), ("kind", [True], "in"),
        ("kind", 1.5, ">"), ("stable", 1, "=="), ("stable", "true", "=="),
        ("stable", ["yes"], "in"),
    ])
    def test_every_mismatch_raises_an_evaluation_error_naming_kpi_and_field(
        self, field: str, value: object, op: str, at: str
    ) -> None:
        """Each kind of value against each other kind of column, wherever the filter is."""
        book = kpi_book(where_kpi(value, field=field, op=op, at=at))
        with pytest.raises(vw.EvaluationError, match=rf"^kpi 'x': .*where\.{field}: .* "
                           rf"but column {field} holds {COLUMN_WORDS[field]}$") as info:
            book.check(PORTFOLIO)
        assert info.value.rule == "x" and info.value.field.endswith(f"where.{field}")

    @pytest.mark.parametrize(("field", "value", "op"), [
        ("return_cost", 5000, ">="), ("return_cost", 0.5, "<"), ("members", [1, 2.5], "in"),
        ("kind", "group", "=="), ("kind", ["group"], "in"), ("stable", True, "=="),
        ("segment", "A", "!="),
    ])
    def test_matching_kinds_still_filter(self, field: str, value: object, op: str) -> None:
        """A value of its column's kind filters as before (int and float columns alike)."""
        book = kpi_book(where_kpi(value, field=field, op=op))
        assert one(book.check(PORTFOLIO))["status"] in ("pass", "fail")

    def test_a_pandas_portfolio_is_checked_too(self) -> None:
        """The same error for a pandas frame."""
        book = kpi_book(where_kpi("5000", op=">="))
        with pytest.raises(vw.EvaluationError, match="'5000' is text"):
            book.check(PORTFOLIO.to_pandas())

    def test_an_all_null_column_takes_any_value(self) -> None:
        """A column of nulls has no kind to disagree with: no row passes."""
        frame = PORTFOLIO.with_columns(pl.lit(None).alias("return_cost"))
        row = one(kpi_book(where_kpi("5000")).check(frame))
        assert (row["rows"], row["status"]) == (0, "n/a")

    @pytest.mark.parametrize(("where", "reason"), [
        ([{"field": "return_cost", "value": "5000"}],
         r"'5000' is text but return_cost is summed, so it holds numbers"),
        ([{"field": "return_cost", "op": "in", "value": [1, "2"]}],
         r"the values mix kinds \(a number, text\); a column holds one kind"),
    ])
    def test_a_mismatch_the_file_shows_is_found_at_load_time(self, where: list,
                                                             reason: str) -> None:
        """A filter on a summed field, or an 'in' list mixing kinds, fails to load."""
        kpi = {"id": "x", "measure": {"type": "sum", "field": "return_cost", "where": where},
               "target": 1}
        with pytest.raises(vw.RuleFileError, match=reason) as info:
            kpi_book(kpi)
        assert info.value.line is not None and "where" in (info.value.field or "")


COLUMNS_OF_EACH_KIND = {
    "number": pl.Series([1, None, 3], dtype=pl.Int64), "float": pl.Series([1.5, None, 3.0]),
    "text": pl.Series(["a", None, "b"]), "category": pl.Series(["a", "b", "a"],
                                                               dtype=pl.Categorical),
    "boolean": pl.Series([True, None, False]),
}
KIND_OF_COLUMN = {"number": "number", "float": "number", "text": "text", "category": "text",
                  "boolean": "boolean"}
scalars = st.one_of(st.booleans(), st.integers(-5, 5), st.floats(-5, 5, allow_nan=False),
                    st.sampled_from(["a", "b", "5000", ""]))


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else "text"


class TestFilterTypeProperty:
    """Any filter value against any column: a named error exactly when the kinds differ."""

    @settings(max_examples=200, deadline=None)
    @given(column=st.sampled_from(sorted(COLUMNS_OF_EACH_KIND)),
           op=st.sampled_from(["==", "!=", ">", ">=", "<", "<=", "in"]),
           values=st.lists(scalars, min_size=1, max_size=3),
           at=st.sampled_from(["kpi", "measure", "numerator"]))
    def test_kinds_that_differ_raise_and_kinds_that_agree_filter(
        self, column: str, op: str, values: list, at: str
    ) -> None:
        """Never a polars error: EvaluationError naming the column, or a result."""
        kinds = {_kind(v) for v in values}
        assume(op == "in" or len(values) == 1)
        assume(len(kinds) == 1)  # mixed lists fail at load time (tested above)
        assume(op in ("==", "!=", "in") or kinds != {"boolean"})
        frame = pl.DataFrame(COLUMNS_OF_EACH_KIND)
        book = kpi_book(where_kpi(values if op == "in" else values[0], field=column, op=op,
                                  at=at))
        if kinds == {KIND_OF_COLUMN[column]}:
            assert len(book.check(frame)) == 1
        else:
            with pytest.raises(vw.EvaluationError, match=f"but column {column} holds"):
                book.check(frame)
