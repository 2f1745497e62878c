"""The synthetic portfolio generator and the shipped sample file."""

from __future__ import annotations

from itertools import pairwise

import polars as pl
import pytest

import vip_workflow as vw
import vip_workflow.samples as samples
from vip_workflow.samples.portfolio import (
    INDIVIDUALS_SCHEMA,
    PORTFOLIO_SCHEMA,
    SAMPLE_PORTFOLIO_ROWS,
    SAMPLE_PORTFOLIO_SEED,
    load_sample_portfolio,
    sample_individuals,
    sample_portfolio,
)

INDUSTRIES = {
    "telecom", "post", "banking", "power", "water", "gas", "highway", "airport", "railway",
    "securities", "insurance", "manufacturing", "retail", "education", "healthcare", "government",
    "construction", "logistics", "other",
}
IMPORTANCE = {"provincial_gov", "municipal_gov", "county_gov", "township_gov", "none"}


@pytest.fixture(scope="module")
def portfolio() -> pl.DataFrame:
    return sample_portfolio(100_000, seed=11)


@pytest.fixture(scope="module")
def individuals() -> pl.DataFrame:
    return sample_individuals(100_000, seed=11)


class TestSamplePortfolio:
    def test_same_seed_gives_identical_frames(self):
        """A fixed seed reproduces the frame exactly."""
        assert sample_portfolio(5_000, seed=3).equals(sample_portfolio(5_000, seed=3))

    def test_different_seeds_give_different_frames(self):
        """The seed actually drives the draws."""
        assert not sample_portfolio(1_000, seed=1).equals(sample_portfolio(1_000, seed=2))

    def test_columns_and_dtypes_match_the_contract(self, portfolio):
        """Column names, order and dtypes are the published contract."""
        assert portfolio.schema == pl.Schema(PORTFOLIO_SCHEMA)
        assert portfolio.height == 100_000

    def test_empty_portfolio_has_the_schema(self):
        """n=0 gives an empty frame with the full schema."""
        empty = sample_portfolio(0)
        assert empty.height == 0
        assert empty.schema == pl.Schema(PORTFOLIO_SCHEMA)

    @pytest.mark.parametrize("bad", [-1, 1.5, True, "10"])
    def test_bad_size_is_rejected(self, bad):
        """n must be a non-negative int."""
        with pytest.raises(ValueError, match="non-negative int"):
            sample_portfolio(bad)

    def test_ids_are_unique_and_formatted(self, portfolio):
        """customer_id is G + 7 digits and unique; managers look like AM001."""
        assert portfolio["customer_id"].is_unique().all()
        assert portfolio["customer_id"][0] == "G0000001"
        assert portfolio["customer_id"].str.contains(r"^G\d{7}$").all()
        assert portfolio["account_manager"].str.contains(r"^AM\d{3,}$").all()

    def test_one_account_manager_per_about_fifty_groups(self, portfolio):
        """Staffing ratio 1:50 (DOMAIN §1)."""
        managers = portfolio["account_manager"].n_unique()
        assert 1_900 <= managers <= 2_000

    def test_categorical_columns_stay_in_their_domains(self, portfolio):
        """Industry, importance, payment mode and region take only the documented values."""
        assert set(portfolio["industry"].unique()) <= INDUSTRIES
        assert set(portfolio["importance"].unique()) == IMPORTANCE
        assert set(portfolio["payment_mode"].unique()) == {"unified", "individual"}
        assert "Wuhan" in set(portfolio["region"].unique())
        assert portfolio["name"].str.len_chars().min() > 0

    def test_numeric_columns_are_consistent(self, portfolio):
        """Counts are positive, handsets never exceed headcount, bundling is 0–6."""
        checks = portfolio.select(
            (pl.col("revenue") > 0).all().alias("revenue"),
            (pl.col("info_revenue") >= 0).all().alias("info"),
            (pl.col("info_revenue") <= pl.col("revenue")).all().alias("info_share"),
            (pl.col("handsets") >= 1).all().alias("handsets"),
            (pl.col("handsets") <= pl.col("headcount")).all().alias("handsets_le"),
            pl.col("bundling").is_between(0, 6).all().alias("bundling"),
            ((pl.col("arpu") - pl.col("revenue") / pl.col("handsets")).abs() <= 0.01)
            .all()
            .alias("arpu"),
        )
        assert all(checks.row(0)), checks

    def test_distributions_are_realistic(self, portfolio):
        """Shares follow the brief: heavy-tailed revenue, few important or top-500 groups."""
        shares = portfolio.select(
            (pl.col("revenue") >= 18_000).mean().alias("rev18"),
            (pl.col("revenue") >= 60_000).mean().alias("rev60"),
            pl.col("importance").is_in(["provincial_gov", "municipal_gov"]).mean().alias("gov"),
            (pl.col("importance") == "county_gov").mean().alias("county"),
            (pl.col("importance") == "township_gov").mean().alias("township"),
            pl.col("top500_taxpayer").mean().alias("top500"),
            (pl.col("info_revenue") == 0).mean().alias("no_info"),
            (pl.col("headcount") >= 800).mean().alias("big"),
        ).row(0, named=True)
        assert 0.05 <= shares["rev18"] <= 0.10
        assert 0.01 <= shares["rev60"] <= 0.05
        assert 0.007 <= shares["gov"] <= 0.013
        assert 0.025 <= shares["county"] <= 0.035
        assert 0.045 <= shares["township"] <= 0.055
        assert 0.005 <= shares["top500"] <= 0.015
        assert shares["no_info"] > 0.5
        assert 0.001 <= shares["big"] <= 0.02

    def test_revenue_follows_the_80_20_rule(self, portfolio):
        """The top fifth of groups brings at least 80 % of the revenue."""
        revenue = portfolio["revenue"].sort(descending=True)
        top = revenue.head(revenue.len() // 5).sum()
        assert top / revenue.sum() >= 0.8

    def test_every_tier_of_the_factor_chain_is_reachable(self, portfolio):
        """Each band of the hubei-2006 chain has customers in it."""
        bands = {
            "revenue_a_plus": pl.col("revenue") >= 60_000,
            "revenue_a": pl.col("revenue").is_between(18_000, 60_000, closed="left"),
            "revenue_b": pl.col("revenue").is_between(7_000, 18_000, closed="left"),
            "headcount_a_plus": pl.col("headcount") >= 800,
            "headcount_a": pl.col("headcount").is_between(220, 800, closed="left"),
            "headcount_b_plus": pl.col("headcount").is_between(150, 220, closed="left"),
        }
        counts = portfolio.select(expr.sum().alias(name) for name, expr in bands.items())
        assert min(counts.row(0)) > 0, counts


class TestSampleIndividuals:
    def test_same_seed_gives_identical_frames(self):
        """A fixed seed reproduces the frame exactly."""
        assert sample_individuals(2_000, seed=5).equals(sample_individuals(2_000, seed=5))

    def test_columns_and_dtypes_match_the_contract(self, individuals):
        """Column names and dtypes are the published contract; three bills per subscriber."""
        assert individuals.schema == pl.Schema(INDIVIDUALS_SCHEMA)
        assert (individuals["bills"].list.len() == 3).all()
        assert individuals["subscriber_id"].is_unique().all()

    def test_arpu_is_the_mean_of_the_bills(self, individuals):
        """arpu is the three-month average bill."""
        gap = (individuals["arpu"] - individuals["bills"].list.mean()).abs()
        assert gap.max() <= 0.01

    def test_every_sichuan_tier_occurs(self, individuals):
        """C1 ≥ 3000 … C6 200–300 and the sub-200 band all have subscribers."""
        edges = [0, 200, 300, 500, 800, 1500, 3000, float("inf")]
        arpu = individuals["arpu"]
        for low, high in pairwise(edges):
            assert ((arpu >= low) & (arpu < high)).sum() > 0, (low, high)

    def test_arrears_are_mostly_zero(self, individuals):
        """A few per cent of subscribers are in arrears, never negative."""
        arrears = individuals["arrears"]
        assert (arrears >= 0).all()
        assert 0.01 <= (arrears > 0).mean() <= 0.10


class TestShippedSample:
    def test_shipped_csv_equals_the_generator_output(self):
        """data/sample_portfolio.csv is sample_portfolio(2000, seed=7), byte for byte in values."""
        expected = sample_portfolio(SAMPLE_PORTFOLIO_ROWS, seed=SAMPLE_PORTFOLIO_SEED)
        loaded = load_sample_portfolio()
        assert loaded.schema == expected.schema
        assert loaded.equals(expected)

    def test_the_samples_package_exports_the_generators(self):
        """vip_workflow.samples re-exports the three helpers (the package root no longer does)."""
        for name in ("sample_portfolio", "sample_individuals", "load_sample_portfolio"):
            assert name in samples.__all__
            assert name not in vw.__all__
            assert getattr(samples, name) is globals()[name]


class TestSampleOrganisation:
    """Branches, members, key persons and managers behind the sample portfolio."""

    def test_every_frame_refers_to_portfolio_groups_and_is_reproducible(self) -> None:
        """Foreign keys hold, and the same seed gives the same frames."""
        portfolio = samples.sample_portfolio(300, seed=3)
        first = samples.sample_organisation(portfolio, seed=5)
        again = samples.sample_organisation(portfolio, seed=5)
        assert all(first[k].equals(again[k]) for k in first)
        groups = set(portfolio.get_column("customer_id"))
        for name in ("branches", "members", "key_persons"):
            assert set(first[name].get_column("customer_id")) <= groups
        branches = set(first["branches"].get_column("branch_id"))
        assert set(first["members"].get_column("branch_id").drop_nulls()) <= branches
        assert first["members"].get_column("member_id").n_unique() == first["members"].height

    def test_sizes_follow_the_groups(self) -> None:
        """Members are capped by headcount and max_members; every group has a key person."""
        portfolio = samples.sample_portfolio(300, seed=3)
        organisation = samples.sample_organisation(portfolio, seed=5, max_members=20)
        members = organisation["members"].group_by("customer_id").len()
        joined = members.join(portfolio.select("customer_id", "headcount"), on="customer_id")
        assert (joined["len"] <= joined["headcount"].clip(upper_bound=20)).all()
        assert organisation["key_persons"].get_column("customer_id").n_unique() == 300
        assert set(organisation["key_persons"].get_column("attitude")) <= set("ABCDE")
        managers = organisation["managers"]
        assert managers.get_column("groups").sum() == 300
        assert set(managers.get_column("kind")) <= {"industry", "area"}


@pytest.fixture(scope="module")
def groups() -> pl.DataFrame:
    return samples.sample_portfolio(600, seed=5)


@pytest.fixture(scope="module")
def history(groups) -> pl.DataFrame:
    return samples.sample_history(months=24, start="2025-01", seed=4, portfolio=groups)


class TestSamplesFromOnePortfolio:
    """sample_history / sample_kpi_portfolio / monthly_portfolios with ``portfolio=``: one
    set of customers behind the tiers, the signals and the KPIs."""

    def test_history_has_the_portfolios_customers_and_managers(self, groups, history):
        """Same ids (in order), one row per customer and month, same account manager."""
        assert history.height == groups.height * 24
        assert history["customer_id"].unique(maintain_order=True).equals(
            groups["customer_id"], check_names=False)
        managers = history.select("customer_id", "account_manager").unique()
        joined = managers.join(groups.select("customer_id", "account_manager"),
                               on="customer_id", suffix="_portfolio")
        assert joined.height == groups.height  # one manager per customer, all of them
        assert (joined["account_manager"] == joined["account_manager_portfolio"]).all()

    def test_history_ends_on_the_portfolios_values(self, groups, history):
        """In the last month (the portfolio's by default) revenue is the portfolio's within
        0.5 %, members its headcount, info revenue and ARPU its own; earlier months walk
        around it (most customers within a factor of two a year earlier)."""
        last = history.filter(pl.col("period") == history["period"].max()).join(
            groups, on="customer_id", suffix="_p")
        assert last.height == groups.height
        gap = ((last["revenue"] - last["revenue_p"]).abs() / last["revenue_p"]).max()
        assert gap <= 0.005
        assert (last["members"] == last["headcount"]).all()
        assert ((last["info_revenue"] - last["info_revenue_p"]).abs() <= 0.01).all()
        assert ((last["arpu"] - last["arpu_p"]).abs() <= 0.01).all()
        year_ago = history.filter(pl.col("period") == pl.date(2025, 12, 1)).join(
            groups, on="customer_id", suffix="_p")
        ratio = year_ago["revenue"] / year_ago["revenue_p"]
        assert ((ratio > 0.5) & (ratio < 2.0)).mean() > 0.9
        assert ratio.n_unique() > groups.height // 2  # not a flat copy

    def test_history_keeps_the_stories_for_the_triggers(self, history):
        """Every trigger family fires somewhere: declines, churn, arrears, upgrades …"""
        signals = vw.preset("seed-001-triggers").scan(history)
        families = set(signals["family"].cast(pl.String))
        assert families == {"develop", "maintain", "retain", "upgrade", "risk"}
        triggers = set(signals["trigger"])
        for trigger in ("retain.spend_declining", "retain.agreement_expiring",
                        "risk.frequent_arrears", "risk.spend_anomaly", "upgrade.members_up"):
            assert trigger in triggers

    def test_portfolio_month_can_be_inside_the_history(self, groups):
        """With portfolio_month the portfolio is that month; later months move on."""
        history = samples.sample_history(months=12, start="2025-11", seed=2, portfolio=groups,
                                    portfolio_month="2026-09")
        september = history.filter(pl.col("period") == pl.date(2026, 9, 1))
        assert september["revenue"].equals(groups["revenue"], check_names=False)
        october = history.filter(pl.col("period") == pl.date(2026, 10, 1))
        assert not october["revenue"].equals(groups["revenue"], check_names=False)
        with pytest.raises(ValueError, match="outside"):
            samples.sample_history(months=6, start="2025-01", portfolio=groups,
                              portfolio_month="2026-09")

    def test_history_refuses_a_mismatch(self, groups):
        """customers must agree with the portfolio, which needs its key columns."""
        with pytest.raises(ValueError, match="portfolio has 600 rows"):
            samples.sample_history(100, 6, portfolio=groups)
        with pytest.raises(ValueError, match="no headcount"):
            samples.sample_history(months=6, portfolio=groups.drop("headcount"))
        with pytest.raises(ValueError, match="needs a portfolio"):
            samples.sample_history(10, 6, portfolio_month="2025-03")

    def test_kpi_portfolio_covers_the_portfolios_groups(self, groups):
        """Its groups are the portfolio's (ids, managers, revenue, members = headcount);
        individual VIPs come on top; every KPI of the preset can be checked."""
        kpi = samples.sample_kpi_portfolio(seed=3, portfolio=groups)
        group_rows = kpi.filter(pl.col("kind") == "group")
        assert group_rows["customer_id"].equals(groups["customer_id"], check_names=False)
        assert set(groups["customer_id"]) <= set(kpi["customer_id"])
        assert group_rows["account_manager"].equals(groups["account_manager"],
                                                    check_names=False)
        assert group_rows["revenue"].equals(groups["revenue"], check_names=False)
        assert group_rows["members"].equals(groups["headcount"], check_names=False)
        assert (group_rows["employees"] >= group_rows["members"]).all()
        assert set(group_rows["segment"]) == {"A", "B", "C"}
        individuals = kpi.filter(pl.col("kind") == "individual")
        assert individuals.height == 900 and kpi["customer_id"].is_unique().all()
        book = vw.preset("china-mobile-2006-kpis")
        assert book.missing_columns(kpi.columns) == {}
        report = book.check(kpi)
        assert set(report["kpi"]) == set(book.ids())
        assert samples.sample_kpi_portfolio(700, portfolio=groups).height == 700
        with pytest.raises(ValueError, match="fewer than"):
            samples.sample_kpi_portfolio(100, portfolio=groups)

    def test_history_and_kpi_agree_on_segments(self, groups, history):
        """The A/B/C class of a group is the same in the history and the KPI portfolio."""
        kpi = samples.sample_kpi_portfolio(seed=3, portfolio=groups).filter(
            pl.col("kind") == "group")
        classes = history.select("customer_id", "segment").unique().join(
            kpi.select("customer_id", "segment"), on="customer_id", suffix="_kpi")
        assert (classes["segment"] == classes["segment_kpi"]).all()

    def test_monthly_portfolios_follow_the_history(self, groups):
        """With history=, each month after the first is the history's month."""
        history = samples.sample_history(months=6, start="2026-06", seed=4, portfolio=groups,
                                    portfolio_month="2026-09")
        months = samples.monthly_portfolios(groups, start="2026-09", months=3, history=history)
        assert months["2026-09"].equals(groups)
        for period, snapshot in months.items():
            rows = history.filter(pl.col("period").dt.strftime("%Y-%m") == period)
            assert snapshot.schema == groups.schema
            assert snapshot["revenue"].equals(rows["revenue"], check_names=False)
            assert snapshot["headcount"].equals(rows["members"], check_names=False)
            assert (snapshot["handsets"] <= snapshot["headcount"]).all()

    def test_the_same_seed_gives_the_same_frames(self, groups):
        """Fixed seed, identical frames twice; another seed, other frames."""
        first = samples.sample_history(months=12, seed=8, portfolio=groups)
        assert first.equals(samples.sample_history(months=12, seed=8, portfolio=groups))
        assert not first.equals(samples.sample_history(months=12, seed=9, portfolio=groups))
        kpi = samples.sample_kpi_portfolio(seed=8, portfolio=groups)
        assert kpi.equals(samples.sample_kpi_portfolio(seed=8, portfolio=groups))
        assert not kpi.equals(samples.sample_kpi_portfolio(seed=9, portfolio=groups))
