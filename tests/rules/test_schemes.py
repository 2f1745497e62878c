"""Tier schemes: the seed thresholds and every policy, boundaries included."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import pandas as pd
import polars as pl
import pytest
from pydantic import BaseModel

import vip_workflow as vw

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
        ("township_gov", "B+"), ("none", "C"), ("unheard_of", "C"),
    ])
    def test_importance_levels(self, importance: str, tier: str) -> None:
        """Government levels map to A+, A, B+; anything else passes on."""
        assert HUBEI.judge(group(importance=importance)).tier == tier

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
        """A value no band covers scores the factor's `otherwise` points."""
        book = vw.preset("hubei-scoring")
        decision = book.judge({"importance": "party", "revenue": 0, "info_revenue": 0,
                               "payment_mode": "cash", "arpu": 0})
        assert (decision.score, decision.tier) == (0, "C")


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
        assert decision.override == vw.Override("A", "li", "party committee")
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
