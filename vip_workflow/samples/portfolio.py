"""Synthetic, reproducible customer portfolios for demos, tests and benchmarks.

Everything is drawn with one seeded numpy ``Generator`` and assembled with vectorised numpy and
polars operations, so a million group customers take well under two seconds and the same seed
always yields the same frame.

The distributions follow the domain brief (DOMAIN.md §1–3): revenue, headcount and ARPU are
heavy-tailed (80/20), most groups are not "important", and a few per cent reach the top revenue
bands of the Hubei 2006 factor chain.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from importlib import resources
from typing import TYPE_CHECKING

import polars as pl

from vip_workflow._extras import LazyModule

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy", "sample data (vip_workflow.samples)")

__all__ = ["load_sample_portfolio", "sample_individuals", "sample_portfolio"]

SAMPLE_PORTFOLIO_FILE = "sample_portfolio.csv"
SAMPLE_PORTFOLIO_ROWS = 2_000
SAMPLE_PORTFOLIO_SEED = 7

# Hubei cities (pinyin) with rough weights by size of the business.
_REGIONS = {
    "Wuhan": 0.30,
    "Yichang": 0.09,
    "Xiangyang": 0.09,
    "Jingzhou": 0.08,
    "Huanggang": 0.08,
    "Xiaogan": 0.07,
    "Shiyan": 0.06,
    "Jingmen": 0.05,
    "Huangshi": 0.05,
    "Xianning": 0.04,
    "Enshi": 0.04,
    "Suizhou": 0.03,
    "Ezhou": 0.02,
}

# Industry mix: many small firms, few key-industry groups (DOMAIN §2, seed 004).
_INDUSTRIES = {
    "manufacturing": 0.17,
    "retail": 0.15,
    "other": 0.12,
    "construction": 0.09,
    "logistics": 0.07,
    "education": 0.07,
    "healthcare": 0.06,
    "government": 0.04,
    "banking": 0.035,
    "insurance": 0.03,
    "securities": 0.015,
    "power": 0.02,
    "telecom": 0.015,
    "post": 0.015,
    "water": 0.015,
    "gas": 0.015,
    "highway": 0.015,
    "railway": 0.01,
    "airport": 0.005,
}

# The last word of a generated name, by industry.
_NAME_SUFFIX = {
    "telecom": "Telecom Co.",
    "post": "Post Office",
    "banking": "Bank",
    "power": "Power Supply Co.",
    "water": "Water Works",
    "gas": "Gas Co.",
    "highway": "Expressway Co.",
    "airport": "Airport Co.",
    "railway": "Railway Section",
    "securities": "Securities",
    "insurance": "Insurance",
    "manufacturing": "Manufacturing Co.",
    "retail": "Trading Co.",
    "education": "School",
    "healthcare": "Hospital",
    "government": "Administration Bureau",
    "construction": "Construction Group",
    "logistics": "Logistics Co.",
    "other": "Enterprises",
}

_NAME_PREFIXES = (
    "Changjiang", "Jingchu", "Hanjiang", "Huaxin", "Hengtong", "Dongfang", "Xinghe", "Tianyuan",
    "Hongda", "Zhongxing", "Jinqiao", "Minsheng", "Ruifeng", "Kaiyuan", "Shengshi", "Yongtai",
    "Guanggu", "Donghu", "Qingchuan", "Huanghe", "Lianhua", "Xinhua", "Chutian", "Wudang",
)

# Importance (DOMAIN §3.1): mostly none; ~1 % provincial/municipal, ~3 % county, ~5 % township.
_IMPORTANCE = {
    "provincial_gov": 0.003,
    "municipal_gov": 0.007,
    "county_gov": 0.03,
    "township_gov": 0.05,
    "none": 0.91,
}

_PAYMENT_MODES = ("individual", "unified")

PORTFOLIO_SCHEMA: dict[str, pl.DataType] = {
    "customer_id": pl.String(),
    "name": pl.String(),
    "region": pl.String(),
    "industry": pl.String(),
    "importance": pl.String(),
    "revenue": pl.Float64(),
    "headcount": pl.Int64(),
    "handsets": pl.Int64(),
    "info_revenue": pl.Float64(),
    "payment_mode": pl.String(),
    "arpu": pl.Float64(),
    "top500_taxpayer": pl.Boolean(),
    "bundling": pl.Int64(),
    "account_manager": pl.String(),
}

INDIVIDUALS_SCHEMA: dict[str, pl.DataType] = {
    "subscriber_id": pl.String(),
    "arpu": pl.Float64(),
    "bills": pl.List(pl.Float64()),
    "arrears": pl.Float64(),
}


def sample_portfolio(n: int = 1000, *, seed: int = 7) -> pl.DataFrame:
    """Return ``n`` synthetic group customers; the same ``seed`` gives the same frame.

    Columns follow DOMAIN.md §8: ``customer_id, name, region, industry, importance, revenue,
    headcount, handsets, info_revenue, payment_mode, arpu, top500_taxpayer, bundling,
    account_manager``.
    """
    _check_size(n)
    rng = np.random.default_rng(seed)

    region = _choice(rng, _REGIONS, n)
    industry = _choice(rng, _INDUSTRIES, n)
    importance = _choice(rng, _IMPORTANCE, n)
    # Most important bodies are government units; the rest stay public institutions of their kind.
    is_important = importance != list(_IMPORTANCE).index("none")
    to_gov = is_important & (rng.random(n) < 0.7)
    industry[to_gov] = list(_INDUSTRIES).index("government")

    # Size and spend: correlated log-normals (80/20). Median group ~35 members, ~850 CNY/month;
    # about 8 % reach 18 000 CNY and 2-3 % reach 60 000 CNY.
    z_size = rng.standard_normal(n)
    z_own = rng.standard_normal(n)
    headcount = np.maximum(5, np.rint(np.exp(np.log(35.0) + 1.25 * z_size))).astype(np.int64)
    rho = 0.6
    log_rev = np.log(850.0) + 2.15 * (rho * z_size + np.sqrt(1.0 - rho**2) * z_own)
    revenue = np.round(np.maximum(50.0, np.exp(log_rev)), 2)

    # Handsets: the share of members on our network, never more than the headcount.
    handsets = np.maximum(1, np.floor(headcount * rng.beta(5.0, 2.0, n))).astype(np.int64)
    arpu = np.round(revenue / handsets, 2)

    # Informatisation revenue: usually zero, more likely and larger for big spenders.
    big = 1.0 / (1.0 + np.exp(-(log_rev - np.log(20_000.0))))
    has_info = rng.random(n) < 0.05 + 0.6 * big
    info_revenue = np.where(has_info, np.round(revenue * rng.beta(2.0, 12.0, n), 2), 0.0)
    unified = rng.random(n) < np.where(has_info, 0.7, 0.2)

    top500 = rng.random(n) < np.where(revenue >= 60_000, 0.2, 0.005)
    bundling = rng.binomial(6, np.clip(0.1 + 0.5 * big, 0.0, 1.0)).astype(np.int64)

    managers = max(1, -(-n // 50))  # one account manager per ~50 groups
    manager = rng.integers(1, managers + 1, n)

    width = max(7, len(str(n)))
    am_width = max(3, len(str(managers)))
    prefix = rng.integers(0, len(_NAME_PREFIXES), n)
    regions = _labels(_REGIONS, region)
    industries = _labels(_INDUSTRIES, industry)
    suffixes = _labels({_NAME_SUFFIX[k]: 0 for k in _INDUSTRIES}, industry)
    frame = pl.DataFrame(
        {
            "customer_id": _ids("G", np.arange(1, n + 1), width),
            "name": _join(regions, _labels(dict.fromkeys(_NAME_PREFIXES), prefix), suffixes),
            "region": regions,
            "industry": industries,
            "importance": _labels(_IMPORTANCE, importance),
            "revenue": revenue,
            "headcount": headcount,
            "handsets": handsets,
            "info_revenue": info_revenue,
            "payment_mode": _labels(_PAYMENT_MODES, unified.astype(np.int64)),
            "arpu": arpu,
            "top500_taxpayer": top500,
            "bundling": bundling,
            "account_manager": _ids("AM", manager, am_width),
        },
    )
    return frame.cast(pl.Schema(PORTFOLIO_SCHEMA))


def sample_individuals(n: int = 1000, *, seed: int = 7) -> pl.DataFrame:
    """Return ``n`` synthetic individual subscribers (credit key-account candidates).

    ``bills`` holds the last three monthly bills, ``arpu`` is their mean, so every Sichuan tier
    (C1 ≥ 3000 … C6 200–300) and the sub-200 band occur; ``arrears`` is mostly zero.
    """
    _check_size(n)
    rng = np.random.default_rng(seed)
    level = np.exp(np.log(350.0) + 0.9 * rng.standard_normal(n))
    bills = np.round(level[:, None] * np.exp(0.15 * rng.standard_normal((n, 3))), 2)
    arpu = np.round(bills.mean(axis=1), 2)
    in_arrears = rng.random(n) < 0.05
    arrears = np.where(in_arrears, np.round(np.exp(np.log(100.0) + rng.standard_normal(n)), 2), 0.0)
    frame = pl.DataFrame(
        {
            "subscriber_id": _ids("139", np.arange(1, n + 1), max(8, len(str(n)))),
            "arpu": arpu,
            "bills": pl.Series(bills).cast(pl.List(pl.Float64)),
            "arrears": arrears,
        },
    )
    return frame.cast(pl.Schema(INDIVIDUALS_SCHEMA))


def load_sample_portfolio() -> pl.DataFrame:
    """Read the shipped sample (2 000 groups, seed 7) from the package data."""
    data = resources.files("vip_workflow.samples").joinpath("data", SAMPLE_PORTFOLIO_FILE)
    return pl.read_csv(io.BytesIO(data.read_bytes()), schema=PORTFOLIO_SCHEMA)


def write_sample_portfolio(path: str) -> None:
    """Regenerate the shipped sample file (used when the generator changes)."""
    sample_portfolio(SAMPLE_PORTFOLIO_ROWS, seed=SAMPLE_PORTFOLIO_SEED).write_csv(path)


def _check_size(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")


def _choice(rng: np.random.Generator, weights: dict[str, float], n: int) -> np.ndarray:
    p = np.fromiter(weights.values(), dtype=np.float64, count=len(weights))
    return rng.choice(len(weights), size=n, p=p / p.sum())


def _labels(weights: Iterable[str], index: np.ndarray) -> pl.Series:
    return pl.Series(list(weights), dtype=pl.String).gather(index)


def _join(*parts: pl.Series) -> pl.Series:
    columns = {f"part{i}": part for i, part in enumerate(parts)}
    return pl.DataFrame(columns).select(pl.concat_str(pl.all(), separator=" ")).to_series()


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    digits = pl.Series(numbers).cast(pl.String).str.zfill(width)
    return (prefix + digits).rename("")


_TITLES = ("chairman", "general manager", "CIO", "procurement director", "office director",
           "finance director", "telecom administrator")
_DEPARTMENTS = ("board", "management", "IT", "procurement", "general office", "finance", "IT")
_SURNAMES = ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu",
             "Sun", "Ma", "Zhu", "Hu", "Guo", "He", "Lin", "Luo", "Gao")
_GIVEN = ("Wei", "Fang", "Min", "Jing", "Lei", "Yan", "Tao", "Jun", "Hui", "Qiang", "Ping",
          "Xin", "Bo", "Li", "Hong", "Ying")
#: seed 002's attitude scale of key influencers
_ATTITUDES = {"A": "recommend", "B": "support", "C": "accept", "D": "doubt", "E": "oppose"}


def sample_organisation(portfolio: pl.DataFrame, *, seed: int = 7,
                        max_members: int = 200) -> dict[str, pl.DataFrame]:
    """The people and places behind a group portfolio (seed 000 §I.7, seed 002).

    Returns four frames keyed ``branches``, ``members``, ``key_persons`` and ``managers``:

    - ``branches``: ``customer_id, branch_id, name, region`` — 0 to 5 per group, more for
      larger groups;
    - ``members``: ``customer_id, member_id, branch_id, arpu, joined`` — up to ``max_members``
      per group (a group's ``headcount`` can be far larger);
    - ``key_persons``: ``customer_id, name, title, department, influence, attitude (A–E:
      recommend … oppose), services_this_year (0–2), last_contact``;
    - ``managers``: ``account_manager, kind (industry or area), groups`` — industry managers
      for large groups, area managers for small and medium ones (DOMAIN §1).

    The same portfolio and seed give the same frames.
    """
    rng = np.random.default_rng(seed)
    ids = portfolio.get_column("customer_id")
    headcount = portfolio.get_column("headcount").to_numpy()
    n = len(ids)

    branch_count = np.minimum(5, (np.log10(np.maximum(headcount, 1)) * rng.random(n) * 2)
                              .astype(np.int64))
    owner = np.repeat(np.arange(n), branch_count)
    within = np.concatenate([np.arange(k) for k in branch_count]) if owner.size else owner
    regions = portfolio.get_column("region").to_numpy()
    branches = pl.DataFrame({
        "customer_id": ids.gather(owner),
        "branch_id": _concat(ids.gather(owner), pl.Series(["-B"] * owner.size),
                           pl.Series((within + 1).astype(str))),
        "name": _concat(pl.Series(regions[owner].astype(str)), pl.Series(
            [" branch "] * owner.size), pl.Series((within + 1).astype(str))),
        "region": pl.Series(regions[owner].astype(str)),
    })

    member_count = np.minimum(headcount, max_members).astype(np.int64)
    m_owner = np.repeat(np.arange(n), member_count)
    numbers = 13_900_000_000 + rng.choice(99_999_999, size=m_owner.size, replace=False) \
        if m_owner.size <= 99_999_999 else np.arange(m_owner.size)
    has_branch = branch_count[m_owner] > 0
    branch_pick = (rng.random(m_owner.size) * np.maximum(branch_count[m_owner], 1)).astype(int)
    member_branch = pl.select(pl.when(pl.Series(has_branch)).then(_concat(
        ids.gather(m_owner), pl.Series(["-B"] * m_owner.size),
        pl.Series((branch_pick + 1).astype(str))))).to_series()
    members = pl.DataFrame({
        "customer_id": ids.gather(m_owner),
        "member_id": pl.Series(numbers.astype(np.int64).astype(str)),
        "branch_id": member_branch.cast(pl.String),
        "arpu": np.round(rng.lognormal(4.3, 0.8, m_owner.size), 2),
        "joined": pl.Series(np.datetime64("2015-01-01") + rng.integers(
            0, 365 * 11, m_owner.size).astype("timedelta64[D]")).cast(pl.Date),
    })

    kp_count = 1 + (headcount >= 50).astype(int) + (headcount >= 500).astype(int)
    k_owner = np.repeat(np.arange(n), kp_count)
    k_index = np.concatenate([np.arange(k) for k in kp_count]) if k_owner.size else k_owner
    titles = np.array(_TITLES)[np.minimum(k_index * 2 + rng.integers(0, 2, k_owner.size),
                                          len(_TITLES) - 1)]
    departments = {t: d for t, d in zip(_TITLES, _DEPARTMENTS, strict=True)}
    attitude = rng.choice(list(_ATTITUDES), size=k_owner.size, p=[.15, .3, .35, .15, .05])
    key_persons = pl.DataFrame({
        "customer_id": ids.gather(k_owner),
        "name": _concat(pl.Series(rng.choice(_SURNAMES, k_owner.size)), pl.Series(
            [" "] * k_owner.size), pl.Series(rng.choice(_GIVEN, k_owner.size))),
        "title": pl.Series(titles.astype(str)),
        "department": pl.Series([departments[t] for t in titles]),
        "influence": pl.Series(np.where(k_index == 0, "high", np.where(
            rng.random(k_owner.size) < 0.5, "medium", "low")).astype(str)),
        "attitude": pl.Series(attitude.astype(str)),
        "services_this_year": rng.integers(0, 3, k_owner.size),
        "last_contact": pl.Series(np.datetime64("2026-01-01") + rng.integers(
            0, 300, k_owner.size).astype("timedelta64[D]")).cast(pl.Date),
    })

    size = portfolio.group_by("account_manager").agg(
        pl.len().alias("groups"), pl.col("headcount").median().alias("_median"))
    managers = size.select(
        "account_manager",
        pl.when(pl.col("_median") >= 200).then(pl.lit("industry")).otherwise(pl.lit("area"))
        .alias("kind"), "groups").sort("account_manager")
    return {"branches": branches, "members": members, "key_persons": key_persons,
            "managers": managers}


def _concat(*parts: pl.Series) -> pl.Series:
    """Join text series element by element, with nothing between."""
    return pl.select(pl.concat_str([p.cast(pl.String) for p in parts])).to_series()
