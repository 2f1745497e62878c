"""Synthetic monthly histories (and KPI portfolios) for demos, tests and benchmarks.

Everything is drawn with one seeded numpy ``Generator`` in whole arrays, so 100 000 customers ×
24 months take about a second and the same seed gives the same frame. A share of customers is
given a story the seed-001 triggers look for: spend declining, members churning, complaints
rising, arrears, an agreement ending, a competitor holding a large share.

Both generators take an optional ``portfolio=`` (e.g. ``sample_portfolio(…)``): the history and
the KPI portfolio then describe that portfolio's customers — the same ids and account managers,
the history's revenue and members ending at the portfolio's revenue and headcount, the KPI
portfolio's groups being the portfolio's groups.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from vip_workflow._extras import LazyModule
from vip_workflow.rules.triggers.snapshots import SNAPSHOT_COLUMNS, month_of

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy", "sample data (vip_workflow.samples)")

__all__ = ["sample_history", "sample_kpi_portfolio"]

#: the columns ``portfolio=`` must have (``handsets`` and ``info_revenue`` are used if present)
PORTFOLIO_COLUMNS = ("customer_id", "revenue", "headcount", "account_manager")


def sample_history(
    customers: int | None = None,
    months: int = 24,
    *,
    start: str | date = "2025-01",
    seed: int = 1,
    missing: float = 0.0,
    portfolio: pl.DataFrame | None = None,
    portfolio_month: str | date | None = None,
) -> pl.DataFrame:
    """A long history: one row per customer and month with every snapshot column.

    Args:
        customers: number of customers (ids ``G0000001`` …); default 1 000, or with
            ``portfolio`` its number of rows (the only value allowed then).
        months: number of consecutive months from ``start``.
        start: the first month.
        seed: the random seed.
        missing: share of numeric cells set to null (unknown), to exercise missing data.
        portfolio: a group portfolio (``customer_id, revenue, headcount, account_manager``,
            optionally ``handsets, info_revenue``) to describe: its ids, account managers and
            segments, revenue and members that equal its revenue and headcount in
            ``portfolio_month`` and walk around them in the other months (with the same
            stories); info revenue keeps its share of revenue, ARPU is per handset.
        portfolio_month: the month ``portfolio`` describes (default the last month).
    """
    rng = np.random.default_rng(seed)
    first = month_of(start)
    t = months
    anchor: int | None = None
    if portfolio is None:
        if portfolio_month is not None:
            raise ValueError("portfolio_month needs a portfolio")
        n = 1_000 if customers is None else customers
        base = rng.lognormal(mean=9.0, sigma=1.1, size=n)  # monthly revenue, heavy-tailed
    else:
        given = _portfolio_arrays(portfolio)
        n = portfolio.height
        if customers is not None and customers != n:
            raise ValueError(f"customers={customers} but the portfolio has {n} rows "
                             "(pass portfolio.head(customers) for fewer)")
        anchor = t - 1 if portfolio_month is None else _months_between(
            first, month_of(portfolio_month))
        if not 0 <= anchor < t:
            raise ValueError(f"portfolio_month {portfolio_month} is outside the {t} months "
                             f"from {first:%Y-%m}")
        base = given["revenue"]
    story = rng.random(n)
    declining = story < 0.03
    growing = (story >= 0.03) & (story < 0.07)
    drift = np.where(declining, -0.06, np.where(growing, 0.04, 0.0))
    trend = drift[:, None] * np.arange(t)[None, :]  # stationary noise around a trend
    level = trend + rng.normal(0.0, 0.04, size=(n, t))
    if anchor is not None:  # the portfolio's month is the portfolio
        level = level - level[:, [anchor]]
    revenue = base[:, None] * np.exp(level)
    spikes = rng.random((n, t)) < 0.004
    if anchor is not None:
        spikes[:, anchor] = False
    revenue = np.where(spikes, revenue * rng.uniform(2.5, 5.0, size=(n, t)), revenue)
    revenue = np.round(revenue, 2)

    members0 = np.maximum(10, np.round(base / rng.uniform(60, 160, size=n))).astype(np.int64)
    member_steps = np.where(rng.random((n, t)) < 0.01, rng.normal(0, 0.3, size=(n, t)),
                            rng.normal(0.0, 0.01, size=(n, t)))
    walk = np.cumsum(member_steps, axis=1)
    if anchor is not None:
        members0 = given["headcount"]
        walk = walk - walk[:, [anchor]]
    members = np.maximum(1, np.round(members0[:, None] * np.exp(walk))).astype(np.int64)
    ramp = np.linspace(0.5, 2.0, t)[None, :]
    churny = story > 0.96
    churn_rate = np.where(churny[:, None], 0.02 * ramp, 0.005) * members
    churned = rng.poisson(churn_rate)
    returning = rng.poisson(0.002 * members)
    complaints = rng.poisson(np.where((story > 0.93)[:, None], 0.8 * ramp, 0.1), size=(n, t))
    cancellations = rng.poisson(np.where(churny[:, None], 1.0 * ramp, 0.1), size=(n, t))
    competitor_calls = rng.poisson(np.where(churny[:, None], 2.0 * ramp, 0.3), size=(n, t))
    service_changes = rng.poisson(0.3, size=(n, t))
    data_anomalies = (rng.random((n, t)) < 0.01).astype(np.int64)
    arrears_prone = rng.random(n) < 0.03
    late = rng.random((n, t)) < np.where(arrears_prone, 0.5, 0.02)[:, None]
    arrears = np.where(late, np.round(revenue * rng.uniform(0.2, 1.0, size=(n, t)), 2), 0.0)
    key_contacts = rng.poisson(0.35, size=(n, t))
    personalised = rng.poisson(np.where(growing[:, None], 0.6 * ramp, 0.2), size=(n, t))
    share = np.round(rng.beta(1.2, 3.0, size=n), 3)
    info_share = rng.uniform(0.0, 0.05, size=n)
    if anchor is not None and "info_revenue" in given:
        info_share = given["info_revenue"] / np.maximum(base, 1e-9)
    info_revenue = np.round(revenue * info_share[:, None], 2)
    if anchor is not None and "handsets" in given:  # ARPU per handset, as in the portfolio
        on_net = given["handsets"] / np.maximum(given["headcount"], 1)
        arpu = np.round(revenue / np.maximum(1, np.round(members * on_net[:, None])), 2)
    else:
        arpu = np.round(revenue / members, 2)
    end_offset = rng.integers(0, 36 * 31, size=n)
    first_ordinal = first.toordinal()
    agreement_end = np.array(first_ordinal + 120 + end_offset - 719_163, dtype="datetime64[D]")

    if anchor is None:
        ids = np.char.add("G", np.char.zfill(np.arange(1, n + 1).astype(str), 7))
        managers_count = max(1, n // 50)
        manager = np.char.add("AM", np.char.zfill(
            (rng.integers(0, managers_count, size=n) + 1).astype(str), 4))
    else:
        ids, manager = given["customer_id"], given["account_manager"]
    segment = _segments(base)

    frame = pl.DataFrame({
        "customer_id": np.repeat(ids, t),
        "month": np.tile(np.arange(t), n),
        "revenue": revenue.ravel(),
        "members": members.ravel(),
        "info_revenue": info_revenue.ravel(),
        "arpu": arpu.ravel(),
        "arrears": arrears.ravel(),
        "complaints": complaints.ravel().astype(np.int64),
        "service_cancellations": cancellations.ravel().astype(np.int64),
        "churned_members": churned.ravel().astype(np.int64),
        "returning_members": returning.ravel().astype(np.int64),
        "competitor_calls": competitor_calls.ravel().astype(np.int64),
        "service_changes": service_changes.ravel().astype(np.int64),
        "data_anomalies": data_anomalies.ravel(),
        "agreement_end": np.repeat(agreement_end, t),
        "key_person_contacts": key_contacts.ravel().astype(np.int64),
        "personalised_requests": personalised.ravel().astype(np.int64),
        "competitor_share": np.repeat(share, t),
        "account_manager": np.repeat(manager, t),
        "segment": np.repeat(segment, t),
    })
    frame = frame.with_columns(
        pl.lit(first).dt.offset_by(pl.format("{}mo", pl.col("month"))).alias("period"),
        pl.col("agreement_end").cast(pl.Date),
    ).drop("month")
    if missing > 0:
        numeric = [c for c, d in SNAPSHOT_COLUMNS.items() if d.is_numeric()]
        masks = rng.random((len(numeric), frame.height)) < missing
        frame = frame.with_columns(
            pl.when(pl.Series(mask)).then(None).otherwise(pl.col(c)).alias(c)
            for c, mask in zip(numeric, masks, strict=True))
    return frame.select(list(SNAPSHOT_COLUMNS))


def sample_kpi_portfolio(customers: int | None = None, *, seed: int = 1,
                         portfolio: pl.DataFrame | None = None) -> pl.DataFrame:
    """A portfolio for KPI checks: one row per customer (group or individual VIP).

    Columns: ``customer_id, kind (group|individual), segment (A/B/C for groups, VIP card tier
    for individuals), account_manager, employees, members, verified_members, archive_complete,
    stable, revenue, info_revenue, key_persons, key_person_services, return_cost``.

    ``customers`` is the number of rows (default 2 000, about 40 % groups). With ``portfolio``
    (a group portfolio as for :func:`sample_history`) the groups are its rows, in its order,
    with its ids, account managers, revenue and info revenue, members = its headcount and as
    many key persons as :func:`~vip_workflow.samples.sample_organisation` gives them; individual
    VIPs (ids ``V0000001`` …) follow up to ``customers`` rows (default 1.5 per group).
    """
    rng = np.random.default_rng(seed)
    if portfolio is None:
        return _kpi_portfolio(2_000 if customers is None else customers, rng)
    given = _portfolio_arrays(portfolio)
    g = portfolio.height
    total = g + round(1.5 * g) if customers is None else customers
    if total < g:
        raise ValueError(f"customers={customers} is fewer than the portfolio's {g} groups")
    revenue = given["revenue"]
    segment = _segments(revenue)
    members = given["headcount"]
    employees = np.maximum(members, np.ceil(members / rng.uniform(0.15, 0.6, size=g)))
    verified = np.where(rng.random(g) < 0.9, members, np.round(members * 0.95))
    complete_p = np.where(np.isin(segment, ["A", "B"]), 0.96, 0.82)
    key_persons = 1 + (members >= 50).astype(np.int64) + (members >= 500).astype(np.int64)
    info = given.get("info_revenue")
    if info is None:
        info = np.round(revenue * rng.uniform(0.0, 0.03, size=g), 2)
    groups = pl.DataFrame({
        "customer_id": given["customer_id"],
        "kind": np.full(g, "group"),
        "segment": segment,
        "account_manager": given["account_manager"],
        "employees": employees.astype(np.int64),
        "members": members.astype(np.int64),
        "verified_members": verified.astype(np.int64),
        "archive_complete": rng.random(g) < complete_p,
        "stable": rng.random(g) < 0.72,
        "revenue": revenue,
        "info_revenue": info,
        "key_persons": key_persons,
        "key_person_services": np.round(key_persons * rng.uniform(0.5, 2.2, size=g))
        .astype(np.int64),
        "return_cost": _return_cost(rng, segment),
    })
    v = total - g
    vip_revenue = np.round(rng.lognormal(8.5, 1.2, size=v), 2)
    vip_ids = [f"V{i:07d}" for i in range(1, v + 1)]
    if not set(given["customer_id"]).isdisjoint(vip_ids):
        raise ValueError("the portfolio's ids clash with the individual VIPs' (V0000001 …)")
    individuals = pl.DataFrame({
        "customer_id": vip_ids,
        "kind": np.full(v, "individual"),
        "segment": rng.choice(["diamond", "gold", "silver"], size=v, p=[0.05, 0.25, 0.70]),
        "account_manager": [f"VM{i}" for i in rng.integers(1, -(-v // 380) + 1, size=v)],
        "employees": np.ones(v, dtype=np.int64),
        "members": np.ones(v, dtype=np.int64),
        "verified_members": np.ones(v, dtype=np.int64),
        "archive_complete": rng.random(v) < 0.82,
        "stable": rng.random(v) < 0.72,
        "revenue": vip_revenue,
        "info_revenue": np.round(vip_revenue * rng.uniform(0.0, 0.03, size=v), 2),
        "key_persons": np.zeros(v, dtype=np.int64),
        "key_person_services": np.zeros(v, dtype=np.int64),
        "return_cost": np.zeros(v),
    })
    return pl.concat([groups, individuals.cast(groups.schema)])


def _kpi_portfolio(n: int, rng: np.random.Generator) -> pl.DataFrame:
    """The KPI portfolio of made-up customers (ids ``K…``, managers ``GM…``/``VM…``)."""
    is_group = rng.random(n) < 0.4
    revenue = np.round(rng.lognormal(8.5, 1.2, size=n), 2)
    rank = np.argsort(np.argsort(-(revenue + is_group * 1e9))) / max(1, n - 1)
    group_share = is_group.mean() if n else 0.0
    group_rank = rank / max(group_share, 1e-9)
    segment = np.where(
        is_group,
        np.where(group_rank < 0.05, "A", np.where(group_rank < 0.30, "B", "C")),
        rng.choice(["diamond", "gold", "silver"], size=n, p=[0.05, 0.25, 0.70]))
    employees = np.where(is_group, rng.integers(10, 3000, size=n), 1)
    members = np.where(is_group, np.round(employees * rng.uniform(0.1, 0.5, size=n)), 1)
    verified = np.where(rng.random(n) < 0.9, members, np.round(members * 0.95))
    group_managers = max(1, int(is_group.sum()) // 45)
    vip_managers = max(1, int((~is_group).sum()) // 380)
    manager = np.where(
        is_group,
        np.char.add("GM", rng.integers(1, group_managers + 1, size=n).astype(str)),
        np.char.add("VM", rng.integers(1, vip_managers + 1, size=n).astype(str)))
    complete_p = np.where(np.isin(segment, ["A", "B"]), 0.96, 0.82)
    key_persons = np.where(is_group, rng.integers(1, 6, size=n), 0)
    return pl.DataFrame({
        "customer_id": [f"K{i:07d}" for i in range(1, n + 1)],
        "kind": np.where(is_group, "group", "individual"),
        "segment": segment,
        "account_manager": manager,
        "employees": employees.astype(np.int64),
        "members": members.astype(np.int64),
        "verified_members": verified.astype(np.int64),
        "archive_complete": rng.random(n) < complete_p,
        "stable": rng.random(n) < 0.72,
        "revenue": revenue,
        "info_revenue": np.round(revenue * rng.uniform(0.0, 0.03, size=n), 2),
        "key_persons": key_persons.astype(np.int64),
        "key_person_services": np.round(key_persons * rng.uniform(0.5, 2.2, size=n))
        .astype(np.int64),
        "return_cost": _return_cost(rng, segment, is_group),
    })


# Yearly return-cost budgets per group (DOMAIN §2, seed 003): A 15 000 (12 000–20 000),
# B 8 000 (5 000–10 000), C 2 000 (1 000–3 000). Spending is drawn inside each range, skewed so
# the mean stays under the budget, with about 2 % of groups overspending their range by up to
# 30 % — something for the range KPIs to find.
_RETURN_COST = {"A": (12_000, 12_000, 20_000), "B": (5_000, 7_000, 10_000),
                "C": (1_000, 1_600, 3_000)}


def _return_cost(rng: np.random.Generator, segment: np.ndarray,
                 spends: np.ndarray | None = None) -> np.ndarray:
    """Each group's yearly return cost (zero where ``spends`` is false, e.g. individuals)."""
    cost = np.zeros(segment.size)
    over = rng.random(segment.size) < 0.02
    for tier, (low, mode, high) in _RETURN_COST.items():
        mask = segment == tier
        cost[mask] = rng.triangular(low, mode, high, size=int(mask.sum()))
        overspent = mask & over
        cost[overspent] = high * rng.uniform(1.05, 1.3, size=int(overspent.sum()))
    if spends is not None:
        cost = np.where(spends, cost, 0.0)
    return np.round(cost, 2)


def _segments(revenue: np.ndarray) -> np.ndarray:
    """A/B/C by revenue rank: the top 5 % A, the next 25 % B, the rest C."""
    rank = np.argsort(np.argsort(-revenue)) / max(1, revenue.size - 1)
    return np.where(rank < 0.05, "A", np.where(rank < 0.30, "B", "C"))


def _portfolio_arrays(portfolio: pl.DataFrame) -> dict[str, np.ndarray]:
    """The columns of ``portfolio`` the generators use, checked, as numpy arrays."""
    absent = [c for c in PORTFOLIO_COLUMNS if c not in portfolio.columns]
    if absent:
        raise ValueError(f"the portfolio has no {', '.join(absent)}")
    optional = [c for c in ("handsets", "info_revenue") if c in portfolio.columns]
    used = portfolio.select(
        pl.col("customer_id", "account_manager").cast(pl.String),
        pl.col("revenue", *(["info_revenue"] if "info_revenue" in optional else []))
        .cast(pl.Float64),
        pl.col("headcount", *(["handsets"] if "handsets" in optional else [])).cast(pl.Int64))
    nulls = [c for c, k in zip(used.columns, used.null_count().row(0), strict=True) if k]
    if nulls:
        raise ValueError(f"the portfolio has missing values in {', '.join(nulls)}")
    if not used.get_column("customer_id").is_unique().all():
        raise ValueError("the portfolio's customer_id values are not unique")
    return {c: used.get_column(c).to_numpy() for c in used.columns}


def _months_between(first: date, month: date) -> int:
    return (month.year - first.year) * 12 + month.month - first.month
