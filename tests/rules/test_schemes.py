"""Tier schemes: the seed thresholds and every policy, boundaries included."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import pandas as pd
import polars as pl
import pytest
from pydantic import BaseModel

import vip_workflow as vw
from vip_workflow.domain.decisions import Override, Step
from vip_workflow.samples import load_sample_portfolio

HUBEI = vw.preset("hubei-2006")


def group(importance: str = "none", revenue: float = 0.0, headcount: int = 0,
          **extra: Any) -> dict[str, Any]:
    return {"importance": importance, "revenue": revenue, "headcount": headcount, **extra}


class TestHubeiChain:
    """hubei-2006: importance → revenue → headcount, policy highest, [lower, upper)."""

    @pytest.mark.parametrize(("revenue", "tier"), [
        (60000, "A+"), (59999.99, "A"), (18000, "A"), (17999.99, "B"), (7000, "B"),
        (6999.99, "C"), (0, "C"), (-5, "C"),
    ])
    def test_revenue_bounds_include_the_lower_and_exclude_the_upper(
        self, revenue: float, tier: str
    ) -> None:
        """Every revenue threshold of DOMAIN §3.1, on and just below it."""
        assert HUBEI.judge(group(revenue=revenue)).tier == tier

    @pytest.mark.parametrize(("headcount", "tier"), [
        (800, "A+"), (799, "A"), (220, "A"), (219, "B+"), (150, "B+"), (149, "C"),
    ])
    def test_headcount_220_is_a_not_b_plus(self, headcount: int, tier: str) -> None:
        """220 sits in two source ranges; the preset's choice puts it in A."""
        assert HUBEI.judge(group(headcount=headcount)).tier == tier

    @pytest.mark.parametrize(("importance", "tier"), [
        ("provincial_gov", "A+"), ("municipal_gov", "A+"), ("county_gov", "A"),
        ("township_gov", "B+"), ("none", "C"),
    ])
    def test_importance_levels(self, importance: str, tier: str) -> None:
        """Government levels map to A+, A, B+; none passes on to revenue and headcount."""
        assert HUBEI.judge(group(importance=importance)).tier == tier

    @pytest.mark.parametrize("importance", ["unheard_of", "provincal_gov", "Provincial_gov", ""])
    def test_an_importance_outside_the_five_values_cannot_be_judged(self,
                                                                   importance: str) -> None:
        """importance is one of five values (unknown: reject): a typo is not silently C."""
        decision = HUBEI.judge(group(importance=importance, revenue=70000))
        assert (decision.tier, decision.rule) == (None, None)
        assert decision.reason == (
            f"importance '{importance}' is not one of the declared values ('provincial_gov', "
            "'municipal_gov', 'county_gov', 'township_gov', 'none')")
        assert "not one of the declared values → cannot judge" in decision.explain()

    def test_highest_takes_the_best_factor(self) -> None:
        """Township (B+) with revenue in A → A, decided by the revenue rule."""
        decision = HUBEI.judge(group("township_gov", revenue=20000, headcount=100))
        assert (decision.tier, decision.rule) == ("A", "revenue.2")

    def test_highest_stops_at_the_top_tier(self) -> None:
        """Once A+ is reached the later fields are not needed."""
        decision = HUBEI.judge({"importance": "provincial_gov"})
        assert (decision.tier, decision.rule) == ("A+", "importance.1")
        assert [s.factor for s in decision.trace] == ["importance", "policy"]

    def test_the_explanation_reads_like_the_issue_example(self) -> None:
        """explain() names each value, its band and the policy."""
        text = HUBEI.judge(group(revenue=17500, headcount=230, customer_id="G1")).explain()
        assert "revenue 17500 in [7000, 18000) → B" in text
        assert "headcount 230 in [220, 800) → A" in text
        assert "highest tier reached → A" in text
        assert text.startswith("customer G1: tier A")

    def test_a_missing_needed_field_cannot_be_judged(self) -> None:
        """No revenue and no A+ before it: tier None with the reason."""
        decision = HUBEI.judge({"importance": "none", "headcount": 900})
        assert decision.tier is None and decision.rule is None
        assert decision.reason == "revenue is missing"
        assert not decision.ok

    @pytest.mark.parametrize("value", [None, math.nan])
    def test_null_and_nan_are_missing_not_zero(self, value: Any) -> None:
        """None and NaN are never read as 0."""
        assert HUBEI.judge(group(revenue=value)).reason == "revenue is missing"

    @pytest.mark.parametrize("value", ["17500", True, [1]])
    def test_wrong_types_cannot_be_judged(self, value: Any) -> None:
        """A text, a boolean or a list where a number belongs is a wrong type."""
        decision = HUBEI.judge(group(revenue=value))
        assert decision.tier is None
        assert "expected a number" in decision.reason

    def test_strict_raises_an_evaluation_error(self) -> None:
        """strict=True turns 'could not judge' into a typed error."""
        with pytest.raises(vw.EvaluationError, match="revenue is missing"):
            HUBEI.judge({"importance": "none", "customer_id": "G9"}, strict=True)

    def test_pydantic_models_are_records(self) -> None:
        """A pydantic model is read by attribute."""

        class Group(BaseModel):
            importance: str
            revenue: float
            headcount: int

        assert HUBEI.judge(Group(importance="none", revenue=0, headcount=900)).tier == "A+"

    def test_decimals_are_numbers_and_pandas_na_is_missing(self) -> None:
        """Database decimals are numbers; pandas' NA is a missing value, not a wrong type."""
        from decimal import Decimal

        assert HUBEI.judge(group(revenue=Decimal("18000.00"))).tier == "A"
        assert HUBEI.judge(group(revenue=pd.NA)).reason == "revenue is missing"

    def test_numpy_numbers_are_numbers(self) -> None:
        """Values from pandas rows (numpy scalars) are read as numbers."""
        import numpy as np

        assert HUBEI.judge(group(revenue=np.float64(20000), headcount=np.int64(5))).tier == "A"


CHAIN_FIRST = {
    "name": "first", "tiers": ["A+", "A", "B+", "B", "C"],
    "scheme": {"type": "chain", "policy": "first", "default": "C", "factors": [
        {"field": "importance", "bands": [{"in": ["township_gov"], "tier": "B+"}]},
        {"field": "revenue", "bands": [{"min": 18000, "tier": "A"}]},
    ]},
}


class TestFirstPolicy:
    """Policy first: the first factor that matches decides."""

    def test_the_first_matching_factor_decides_even_if_a_later_one_is_higher(self) -> None:
        """Township B+ beats revenue A under first."""
        book = vw.load_rules(CHAIN_FIRST)
        assert book.judge({"importance": "township_gov", "revenue": 50000}).tier == "B+"

    def test_later_fields_are_not_needed_once_decided(self) -> None:
        """A decided record does not need the fields after the deciding factor."""
        assert vw.load_rules(CHAIN_FIRST).judge({"importance": "township_gov"}).tier == "B+"

    def test_no_match_gives_the_default_with_rule_default(self) -> None:
        """Nothing matches → default tier, rule 'default'."""
        decision = vw.load_rules(CHAIN_FIRST).judge({"importance": "none", "revenue": 1})
        assert (decision.tier, decision.rule) == ("C", "default")


class TestScoring:
    """Interval scoring: points per band, total → tier."""

    def test_points_add_up_and_pick_the_tier(self) -> None:
        """30 + 22 + 8 + 10 + 15 = 85 → A+."""
        book = vw.preset("hubei-scoring")
        decision = book.judge({"importance": "municipal_gov", "revenue": 20000,
                               "info_revenue": 1000, "payment_mode": "unified", "arpu": 250})
        assert decision.score == 85
        assert decision.tier == "A+"

    def test_unknown_category_scores_otherwise(self) -> None:
        """A value no band covers scores the factor's `otherwise` points (unknown: pass)."""
        data = vw.preset("hubei-scoring").to_dict()
        for factor in data["scheme"]["factors"]:
            factor.pop("unknown", None)
        book = vw.load_rules(data)
        decision = book.judge({"importance": "party", "revenue": 0, "info_revenue": 0,
                               "payment_mode": "cash", "arpu": 0})
        assert (decision.score, decision.tier) == (0, "C")

    @pytest.mark.parametrize(("field", "value", "reason"), [
        ("importance", "party", "importance 'party' is not one of the declared values"),
        ("payment_mode", "cash", "payment mode 'cash' is not one of the declared values "
                                 "('unified', 'individual')"),
    ])
    def test_the_preset_rejects_values_outside_its_lists(self, field: str, value: str,
                                                         reason: str) -> None:
        """hubei-scoring's importance and payment mode are closed lists."""
        record = {"importance": "none", "revenue": 0, "info_revenue": 0,
                  "payment_mode": "unified", "arpu": 0, field: value}
        book = vw.preset("hubei-scoring")
        decision = book.judge(record)
        assert decision.tier is None and decision.reason.startswith(reason)
        out = book.judge_many(pl.DataFrame([record]))
        assert out.get_column("reason").to_list() == [decision.reason]


class TestWeighted:
    """Weighted model: y = intercept + Σ w·x, with maps for categories."""

    BOOK: ClassVar[dict[str, Any]] = {"name": "w", "tiers": ["A", "B"], "scheme": {
        "type": "weighted", "intercept": 1.0, "default": "B",
        "terms": [{"field": "revenue", "weight": 0.5},
                  {"field": "region", "weight": 2.0, "map": {"wuhan": 10, "yichang": 4}}],
        "tiers": [{"min": 30, "tier": "A"}]}}

    def test_y_is_the_weighted_sum(self) -> None:
        """1 + 0.5·20 + 2·10 = 31 → A."""
        decision = vw.load_rules(self.BOOK).judge({"revenue": 20, "region": "wuhan"})
        assert (decision.score, decision.tier) == (31.0, "A")

    def test_the_explanation_shows_each_value_weight_and_contribution(self) -> None:
        """Each term reads: value × weight = contribution (mapped categories show the map)."""
        text = vw.load_rules(self.BOOK).judge({"revenue": 20, "region": "wuhan"}).explain()
        assert "intercept: 1" in text
        assert "revenue: 20 × 0.5 = 10" in text
        assert "region: 'wuhan' → 10, × 2 = 20" in text
        assert "score 31 in [30, inf) → A" in text

    def test_an_unmapped_category_cannot_be_judged(self) -> None:
        """Without `otherwise`, a category outside the map is not guessed."""
        decision = vw.load_rules(self.BOOK).judge({"revenue": 20, "region": "xiangyang"})
        assert decision.tier is None
        assert "map" in decision.reason


class TestQuota:
    """ABC quotas are portfolio-relative; ties share the better tier."""

    BOOK: ClassVar[dict[str, Any]] = {"name": "abc", "tiers": ["A", "B", "C"], "scheme": {
        "type": "quota", "by": "size",
        "quotas": [{"tier": "A", "share": 0.1}, {"tier": "B", "share": 0.3}, {"tier": "C"}]}}

    def test_shares_cut_a_ranked_portfolio(self) -> None:
        """Of 10 groups: 1 A, 3 B, 6 C."""
        book = vw.load_rules(self.BOOK)
        out = book.judge_many(pl.DataFrame({"size": list(range(10, 0, -1))}))
        assert out.get_column("tier").cast(pl.String).to_list() == (
            ["A"] + ["B"] * 3 + ["C"] * 6)

    def test_ties_share_the_better_tier(self) -> None:
        """Two groups tied at the top both get A, even over the 10 % share."""
        book = vw.load_rules(self.BOOK)
        out = book.judge_many(pl.DataFrame({"size": [50, 50, *range(8, 0, -1)]}))
        assert out.get_column("tier").cast(pl.String).to_list()[:3] == ["A", "A", "B"]

    def test_one_record_needs_the_portfolio(self) -> None:
        """judge() on a quota book says to use judge_many."""
        with pytest.raises(vw.PortfolioRequiredError, match="judge_many"):
            vw.load_rules(self.BOOK).judge({"size": 3})

    def test_missing_keys_are_not_ranked(self) -> None:
        """Rows without the ranking field cannot be judged and do not count."""
        out = vw.load_rules(self.BOOK).judge_many(pl.DataFrame({"size": [None, 5.0]}))
        assert out.get_column("tier").cast(pl.String).to_list() == [None, "A"]

    def test_hubei_abc_splits_a_and_b_into_service_tiers(self) -> None:
        """The hubei-abc preset gives A1/A2/B1/B2/C."""
        frame = pl.DataFrame({"headcount": list(range(100, 0, -1)),
                              "industry_services": [i % 2 == 0 for i in range(100)]})
        tiers = vw.preset("hubei-abc").judge_many(frame).get_column("tier").cast(pl.String)
        counts = dict(tiers.value_counts().iter_rows())
        assert counts == {"A1": 3, "A2": 2, "B1": 12, "B2": 13, "C": 70}

    @pytest.mark.parametrize(("quotas", "expected"), [
        ([{"tier": "A", "share": 0.07}, {"tier": "C"}], {"A": 7, "C": 93}),
        ([{"tier": "A", "share": 0.1}, {"tier": "B", "share": 0.2}, {"tier": "C"}],
         {"A": 10, "B": 20, "C": 70}),
        ([{"tier": "A", "share": 0.3}, {"tier": "B", "share": 0.6}, {"tier": "C"}],
         {"A": 30, "B": 60, "C": 10}),
    ])
    def test_cuts_are_exact_decimal_shares(self, quotas: list[dict[str, Any]],
                                           expected: dict[str, int]) -> None:
        """0.07 of 100 is 7 (not 8), 0.1 + 0.2 of 100 is 30 (not 31): no float drift."""
        book = vw.load_rules({"name": "abc", "tiers": ["A", "B", "C"],
                              "scheme": {"type": "quota", "by": "size", "quotas": quotas}})
        frame = pl.DataFrame({"size": [float(v) for v in range(100, 0, -1)]})
        many = book.judge_many(frame).get_column("tier").cast(pl.String)
        assert dict(many.value_counts().iter_rows()) == expected
        rows = pd.Series([d.tier for d in book.judge_rows(frame.to_dicts())])
        assert rows.value_counts().to_dict() == expected

    def test_the_explanation_shows_the_value_the_rank_and_the_cut(self) -> None:
        """A quota step says what was ranked, where the record stands and which cut it made."""
        book = vw.load_rules(self.BOOK)
        decisions = book.judge_rows([{"size": s} for s in range(10, 0, -1)])
        text = decisions[0].explain()
        assert "size 10 ranked 1 of 10, highest first" in text
        assert "A takes the top 10 % (rank ≤ 1) → A" in text
        assert "B takes the top 40 % (rank ≤ 4) → B" in decisions[3].explain()
        assert "past the top 40 % (rank > 4) → C" in decisions[9].explain()

    def test_a_score_ranked_quota_explains_the_score(self) -> None:
        """Ranked by a score: the score's terms appear before the rank."""
        book = vw.load_rules({"name": "s", "tiers": ["A", "B"], "scheme": {
            "type": "quota", "order": "descending",
            "score": {"type": "weighted", "terms": [{"field": "x", "weight": 2.0}]},
            "quotas": [{"tier": "A", "share": 0.5}, {"tier": "B"}]}})
        text = book.judge_rows([{"x": 3}, {"x": 1}])[0].explain()
        assert "x: 3 × 2 = 6" in text
        assert "score 6 ranked 1 of 2" in text

    @pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, None])
    def test_non_finite_keys_are_not_ranked(self, bad: Any) -> None:
        """An infinite or NaN ranking value cannot be judged and does not count."""
        book = vw.load_rules(self.BOOK)
        frame = pl.DataFrame({"size": [bad, 5.0, 4.0]}, schema={"size": pl.Float64})
        many = book.judge_many(frame)
        rows = book.judge_rows(frame.to_dicts())
        assert many.get_column("tier").cast(pl.String).to_list() == [None, "A", "C"]
        assert [d.tier for d in rows] == [None, "A", "C"]
        assert many.get_column("reason")[0] == rows[0].reason
        rows[0].explain()


class TestEligibility:
    """credit-key-account: 3-month average bill ≥ 500 and no arrears."""

    BOOK = vw.preset("credit-key-account")

    @pytest.mark.parametrize(("bills", "arrears", "tier"), [
        ([400, 600, 500], 0, "credit_key_account"),
        ([100, 400, 600, 499], 0, "not_eligible"),
        ([9000, 500, 500, 500], 0.0, "credit_key_account"),
        ([500, 500, 500], 12.5, "not_eligible"),
    ])
    def test_average_of_the_last_three_months_and_no_arrears(
        self, bills: list[float], arrears: float, tier: str
    ) -> None:
        """Only the last 3 months count; any arrears disqualify."""
        assert self.BOOK.judge({"bills": bills, "arrears": arrears}).tier == tier

    def test_the_explanation_says_each_condition_holds(self) -> None:
        """A condition that holds reads "→ holds", not "→ None points"."""
        text = self.BOOK.judge({"bills": [500, 500, 500], "arrears": 0}).explain()
        assert "mean of last 3 monthly bills 500 in [500, inf) → holds" in text
        assert "arrears 0 in (-inf, 0] → holds" in text
        assert "None" not in text

    @pytest.mark.parametrize("bad", [math.inf, -math.inf])
    def test_an_infinite_month_cannot_be_judged(self, bad: float) -> None:
        """An infinite monthly bill is not a number to average, in both paths."""
        record = {"bills": [500.0, bad, 500.0], "arrears": 0.0}
        decision = self.BOOK.judge(record)
        assert decision.tier is None and "not a finite number" in decision.reason
        many = self.BOOK.judge_many(pl.DataFrame([record]))
        assert many.get_column("tier").to_list() == [None]
        assert many.get_column("reason")[0] is not None

    def test_fewer_than_three_months_cannot_be_judged(self) -> None:
        """Two months of bills are not 3 consecutive months."""
        decision = self.BOOK.judge({"bills": [900, 900], "arrears": 0})
        assert decision.tier is None
        assert "needs 3 months" in decision.reason


class TestOverride:
    """A manual override keeps both tiers and says who and why."""

    def test_the_override_wins_and_the_computed_tier_is_kept(self) -> None:
        """override_tier with who and why replaces the tier; computed_tier stays."""
        decision = HUBEI.judge(group(revenue=1, override_tier="A", override_by="li",
                                     override_reason="party committee"))
        assert (decision.tier, decision.computed_tier, decision.rule) == ("A", "C", "override")
        assert decision.override == Override("A", "li", "party committee")
        assert "by li: party committee → A" in decision.explain()

    def test_an_override_without_who_or_why_cannot_be_judged(self) -> None:
        """Overrides need a person and a reason."""
        decision = HUBEI.judge(group(override_tier="A", override_by=" "))
        assert decision.tier is None and "who" in decision.reason

    def test_an_override_to_an_undeclared_tier_cannot_be_judged(self) -> None:
        """The override tier must be one of the book's tiers."""
        decision = HUBEI.judge(group(override_tier="AAA", override_by="li",
                                     override_reason="x"))
        assert decision.tier is None and "not a declared tier" in decision.reason

    def test_an_override_can_place_a_record_the_rules_cannot(self) -> None:
        """Missing data plus an override: the override tier, computed tier None."""
        decision = HUBEI.judge({"override_tier": "A+", "override_by": "li",
                                "override_reason": "provincial party office"})
        assert (decision.tier, decision.computed_tier) == ("A+", None)


class TestJudgeMany:
    """judge_many returns the input's library, in order, plus tier, rule and reason."""

    def test_polars_in_polars_out(self) -> None:
        """Columns are the input's plus tier, rule, reason; rows keep their order."""
        frame = pl.DataFrame([group(revenue=r) for r in (70000, 20000, 1)])
        out = HUBEI.judge_many(frame)
        assert out.columns == [*frame.columns, "tier", "rule", "reason"]
        assert out.get_column("tier").cast(pl.String).to_list() == ["A+", "A", "C"]
        assert out.get_column("rule").cast(pl.String).to_list() == [
            "revenue.1", "revenue.2", "default"]

    def test_pandas_keeps_its_index(self) -> None:
        """A pandas frame comes back as pandas with the same index."""
        frame = pd.DataFrame([group(revenue=r) for r in (70000, 1)], index=["x", "y"])
        out = HUBEI.judge_many(frame)
        assert isinstance(out, pd.DataFrame)
        assert list(out.index) == ["x", "y"]
        assert list(out["tier"].astype(str)) == ["A+", "C"]

    def test_records_give_pandas(self) -> None:
        """An iterable of mappings gives a pandas frame."""
        out = HUBEI.judge_many(iter([group(revenue=70000), group(revenue="lots")]))
        assert isinstance(out, pd.DataFrame)
        assert out["tier"].iloc[0] == "A+" and pd.isna(out["tier"].iloc[1])
        assert "expected a number" in out["reason"].iloc[1]

    def test_a_wrong_column_type_cannot_be_judged(self) -> None:
        """A text revenue column is never parsed or read as zero."""
        out = HUBEI.judge_many(pl.DataFrame({"importance": ["none"], "revenue": ["17500"],
                                             "headcount": [900]}))
        assert out.get_column("tier").to_list() == [None]
        assert "expected a number" in out.get_column("reason")[0]

    def test_decisions_and_frames_render_in_notebooks(self) -> None:
        """Decision and RuleBook have HTML reprs."""
        assert "<table>" in HUBEI.judge(group())._repr_html_()
        assert "hubei-2006" in HUBEI._repr_html_()


class TestNonFiniteNumbers:
    """NaN is missing and ±inf is not a finite number: either way the customer cannot be judged,
    by judge, judge_many and judge_sql alike, and the explanation still prints."""

    @pytest.mark.parametrize(("value", "reason"), [
        (math.inf, "revenue is not a finite number"),
        (-math.inf, "revenue is not a finite number"),
        (math.nan, "revenue is missing"),
    ])
    def test_judge_and_judge_many_agree(self, value: float, reason: str) -> None:
        """hubei-2006 with revenue=inf: tier None with the reason on both paths (was C vs A+)."""
        record = group(revenue=value, headcount=5)
        decision = HUBEI.judge(record)
        assert (decision.tier, decision.rule, decision.reason) == (None, None, reason)
        out = HUBEI.judge_many(pl.DataFrame([record]))
        assert out.get_column("tier").to_list() == [None]
        assert out.get_column("reason").to_list() == [reason]
        assert reason in decision.explain()

    def test_a_top_tier_reached_before_the_value_still_decides(self) -> None:
        """Only values the decision needs count: provincial_gov is A+ whatever the revenue."""
        record = group("provincial_gov", revenue=math.inf)
        assert HUBEI.judge(record).tier == "A+"
        assert HUBEI.judge_many(pl.DataFrame([record])).get_column("tier").cast(
            pl.String).to_list() == ["A+"]

    def test_numpy_decimal_and_pandas_infinities(self) -> None:
        """Infinities of every number type are refused the same way."""
        from decimal import Decimal

        import numpy as np

        for value in (np.float64("inf"), Decimal("-Infinity"), np.float32("inf")):
            assert HUBEI.judge(group(revenue=value)).reason == "revenue is not a finite number"
        assert HUBEI.judge(group(revenue=Decimal("NaN"))).reason == "revenue is missing"
        out = HUBEI.judge_many(pd.DataFrame([group(revenue=math.inf), group(revenue=1.0)]))
        assert [None if pd.isna(t) else t for t in out["tier"].astype(object)] == [None, "C"]

    @pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
    def test_explain_prints_non_finite_values(self, value: float) -> None:
        """explain() never crashes on inf or NaN (it called int(value) first)."""
        step = Step("revenue", "miss", value=value)
        decision = vw.Decision("C", "default", (step,))
        assert str(value) in decision.explain()
        overflow = vw.load_rules({"name": "o", "tiers": ["A", "B"], "scheme": {
            "type": "weighted", "terms": [{"field": "x", "weight": 10.0}], "default": "B",
            "tiers": [{"min": 0, "tier": "A"}]}})
        assert "score inf: not a finite number → cannot judge" in overflow.judge(
            {"x": 1e308}).explain()

    @pytest.mark.parametrize("record", [{"x": 1e308, "y": 0.0}, {"x": 1e308, "y": 1e308}])
    def test_a_score_that_overflows_cannot_be_judged(self, record: dict[str, float]) -> None:
        """10·1e308 is inf and inf - inf is NaN: a computed score that is not finite cannot
        judge either, by both paths (polars read inf as inside [0, inf))."""
        book = vw.load_rules({"name": "o", "tiers": ["A", "B"], "scheme": {
            "type": "weighted", "default": "B", "terms": [
                {"field": "x", "weight": 10.0}, {"field": "y", "weight": -10.0}],
            "tiers": [{"min": 0, "tier": "A"}]}})
        decision = book.judge(record)
        assert (decision.tier, decision.reason) == (None, "score is not a finite number")
        out = book.judge_many(pl.DataFrame([record]))
        assert out.get_column("reason").to_list() == ["score is not a finite number"]

    def test_a_sum_of_months_that_overflows_cannot_be_judged(self) -> None:
        """Finite months whose sum overflows: not a finite number, by both paths."""
        book = vw.load_rules({"name": "e", "tiers": ["Y", "N"], "scheme": {
            "type": "eligibility", "tier": "Y", "default": "N", "conditions": [
                {"field": "bills", "aggregate": "sum", "window": 2, "min": 5}]}})
        record = {"bills": [1.7e308, 1.7e308]}
        decision = book.judge(record)
        assert decision.reason == "sum of last 2 bills is not a finite number"
        out = book.judge_many(pl.DataFrame([record]))
        assert out.get_column("reason").to_list() == [decision.reason]


def _judged_both_ways(book: vw.RuleBook, record: dict[str, Any]) -> str | None:
    """The tier judge gives, after checking judge_many gives the same."""
    tier = book.judge(record).tier
    many = book.judge_many(pl.DataFrame([record])).get_column("tier").cast(pl.String)
    assert many.to_list() == [tier]
    return tier


class TestChinaMobileABC:
    """china-mobile-abc (DOMAIN §2, seed 004): policy highest over importance, top-500
    taxpayers, key industries and handsets, [lower, upper)."""

    BOOK = vw.preset("china-mobile-abc")

    @staticmethod
    def plain(**fields: Any) -> dict[str, Any]:
        record = {"importance": "none", "top500_taxpayer": False, "industry": "retail",
                  "handsets": 5}
        return {**record, **fields}

    @pytest.mark.parametrize(("handsets", "tier"), [
        (5000, "A"), (500, "A"), (499, "B"), (100, "B"), (99, "C"), (10, "C"), (9, "C"),
        (0, "C"),
    ])
    def test_handset_bounds(self, handsets: int, tier: str) -> None:
        """≥ 500 handsets A, 100–499 B, 10–99 C (and fewer than 10 C by default)."""
        assert _judged_both_ways(self.BOOK, self.plain(handsets=handsets)) == tier

    @pytest.mark.parametrize("industry", ["telecom", "post", "banking", "power", "water", "gas",
                                          "highway", "airport", "railway"])
    def test_key_industries_are_a(self, industry: str) -> None:
        """Every key industry of §2 gives A, even with few handsets."""
        assert _judged_both_ways(self.BOOK, self.plain(industry=industry)) == "A"

    @pytest.mark.parametrize("industry", ["securities", "insurance"])
    def test_securities_and_insurance_are_b(self, industry: str) -> None:
        """Securities and insurance give B; 500 handsets still lift them to A."""
        assert _judged_both_ways(self.BOOK, self.plain(industry=industry)) == "B"
        assert _judged_both_ways(self.BOOK, self.plain(industry=industry, handsets=500)) == "A"

    @pytest.mark.parametrize("importance", ["provincial_gov", "municipal_gov", "county_gov",
                                            "township_gov"])
    def test_every_government_level_is_a(self, importance: str) -> None:
        """Party, government and military bodies at any level are A."""
        assert _judged_both_ways(self.BOOK, self.plain(importance=importance)) == "A"

    @pytest.mark.parametrize(("taxpayer", "tier"), [(True, "A"), (False, "C")])
    def test_top500_taxpayers_are_a(self, taxpayer: bool, tier: str) -> None:
        """The province's top-500 taxpayers are A."""
        assert _judged_both_ways(self.BOOK, self.plain(top500_taxpayer=taxpayer)) == tier

    def test_a_government_body_needs_no_other_field(self) -> None:
        """A is the top tier: once reached, later fields are not read."""
        assert self.BOOK.judge({"importance": "county_gov"}).tier == "A"

    def test_importance_is_a_closed_list_but_industry_is_open(self) -> None:
        """A misspelt importance cannot be judged; any industry value may appear (no
        industry rule applies to an unlisted one)."""
        assert _judged_both_ways(self.BOOK, self.plain(importance="goverment")) is None
        assert _judged_both_ways(self.BOOK, self.plain(industry="fishing")) == "C"


CLOSED = """\
name: closed
tiers: [A, B, C]
scheme:
  type: chain
  policy: first
  default: C
  factors:
    - field: segment
      values: [gold, silver, bronze]
      {unknown}
      bands:
        - {{in: [gold], tier: A}}
        - {{in: [silver], tier: B}}
    - field: revenue
      bands:
        - {{min: 100, tier: A}}
"""


class TestUnknownValues:
    """`unknown: reject` makes a value outside a factor's `values` "could not judge" — the
    same on every path; unset (or `pass`) keeps it an ordinary value no band covers."""

    RECORDS: ClassVar[list[dict[str, Any]]] = [
        {"segment": "gold", "revenue": 0}, {"segment": "bronze", "revenue": 500},
        {"segment": "platinum", "revenue": 500}, {"segment": None, "revenue": 500},
        {"segment": "sliver", "revenue": 0},
    ]

    @pytest.mark.parametrize(("unknown", "tiers"), [
        ("", ["A", "A", "A", None, "C"]),
        ("unknown: pass", ["A", "A", "A", None, "C"]),
        ("unknown: reject", ["A", "A", None, None, None]),
    ])
    def test_judge_judge_many_and_sql_agree(self, unknown: str,
                                           tiers: list[str | None]) -> None:
        """The three paths give the same tiers and the same reasons, word for word."""
        import sqlalchemy as sa

        book = vw.loads_rules(CLOSED.format(unknown=unknown))
        decisions = [book.judge(r) for r in self.RECORDS]
        assert [d.tier for d in decisions] == tiers
        frame = pl.DataFrame(self.RECORDS, schema={"segment": pl.String, "revenue": pl.Int64})
        many = book.judge_many(frame)
        engine = sa.create_engine("sqlite://")
        frame.with_row_index("row_no").write_database("groups", engine)
        in_sql = book.judge_sql(engine, "groups", order_by="row_no")
        reasons = [d.reason for d in decisions]
        for out in (many, in_sql):
            assert out.get_column("tier").cast(pl.String).to_list() == tiers
            assert out.get_column("reason").to_list() == reasons
        if unknown == "unknown: reject":
            assert reasons[2] == ("segment 'platinum' is not one of the declared values "
                                  "('gold', 'silver', 'bronze')")
            assert reasons[3] == "segment is missing"

    def test_a_categorical_column_is_checked_too(self) -> None:
        """A polars Categorical column holds texts like any other."""
        book = vw.loads_rules(CLOSED.format(unknown="unknown: reject"))
        frame = pl.DataFrame({"segment": ["gold", "tin"], "revenue": [0, 0]}).with_columns(
            pl.col("segment").cast(pl.Categorical))
        assert book.judge_many(frame).get_column("tier").cast(pl.String).to_list() == ["A", None]

    def test_a_later_factor_is_not_checked_once_the_first_decides(self) -> None:
        """Only values the decision needs count: policy first stops at the deciding factor."""
        text = CLOSED.replace("    - field: revenue\n", "    - field: region\n"
                              "      values: [east]\n      unknown: reject\n      bands:\n"
                              "        - {{in: [east], tier: B}}\n    - field: revenue\n")
        book = vw.loads_rules(text.format(unknown=""))
        assert book.judge({"segment": "gold", "region": "west"}).tier == "A"
        assert book.judge({"segment": "tin", "region": "west"}).tier is None

    @pytest.mark.parametrize(("change", "reason"), [
        ("      values: [gold, silver, bronze]\n", "unknown: reject needs the factor's `values`"),
        ("values: [gold, silver, bronze]", "values: [1, 2]"),
    ])
    def test_reject_needs_values_of_the_factor_s_kind(self, change: str, reason: str) -> None:
        """Without values, or with values of another kind, reject would reject everything."""
        text = CLOSED.format(unknown="unknown: reject")
        if change.startswith("values"):
            text, reason = text.replace(change, reason), "must be of the bands' kind (text)"
        else:
            text = text.replace(change, "")
        with pytest.raises(vw.RuleFileError) as caught:
            vw.loads_rules(text, name="t.yaml")
        assert reason in caught.value.reason
        assert caught.value.line is not None


@pytest.mark.parametrize("name", vw.presets(kind="tiers"))
def test_the_sample_portfolio_is_judged_as_fully_as_before(name: str) -> None:
    """Closing the presets' category lists leaves no sample customer unjudged that was judged:
    every preset but the two whose fields the sample lacks judges all 2 000 groups."""
    out = vw.preset(name).judge_many(load_sample_portfolio())
    unjudged = {"credit-key-account": 2000, "hubei-abc": 601}.get(name, 0)
    assert out.get_column("tier").null_count() == unjudged


class TestSichuanVipArpu:
    """sichuan-vip-arpu (DOMAIN §2, seed 000): C1 ≥ 3000 … C6 200–300, regular below 200."""

    BOOK = vw.preset("sichuan-vip-arpu")

    @pytest.mark.parametrize(("arpu", "tier"), [
        (3000, "C1"), (2999.99, "C2"), (1500, "C2"), (1499.99, "C3"), (800, "C3"),
        (799.99, "C4"), (500, "C4"), (499.99, "C5"), (300, "C5"), (299.99, "C6"), (200, "C6"),
        (199, "regular"), (199.99, "regular"), (0, "regular"),
    ])
    def test_arpu_bounds(self, arpu: float, tier: str) -> None:
        """Each ARPU threshold, on and just below it."""
        assert _judged_both_ways(self.BOOK, {"arpu": arpu}) == tier


class TestChinaMobileVipCards:
    """china-mobile-vip-cards (DOMAIN §2, seed 004): diamond ≥ 3000, gold 1500–3000,
    silver 666–1500, no card below 666."""

    BOOK = vw.preset("china-mobile-vip-cards")

    @pytest.mark.parametrize(("arpu", "tier"), [
        (3000, "diamond"), (2999.99, "gold"), (1500, "gold"), (1499.99, "silver"),
        (666, "silver"), (665.99, "regular"), (665, "regular"), (0, "regular"),
    ])
    def test_arpu_bounds(self, arpu: float, tier: str) -> None:
        """Each card threshold, on and just below it."""
        assert _judged_both_ways(self.BOOK, {"arpu": arpu}) == tier
