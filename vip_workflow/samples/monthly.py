"""Monthly snapshots of the sample portfolio: a random walk from a starting month, or the
months of a history drawn from it (``sample_history(portfolio=…)``)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from vip_workflow._extras import LazyModule

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy", "sample data (vip_workflow.samples)")

__all__ = ["monthly_portfolios"]


def _add_months(start: date, months: int) -> str:
    year, month = divmod(start.month - 1 + months, 12)
    return f"{start.year + year:04d}-{month + 1:02d}"


def monthly_portfolios(portfolio: pl.DataFrame, *, start: str = "2026-09", months: int = 2,
                       seed: int = 11,
                       history: pl.DataFrame | None = None) -> dict[str, pl.DataFrame]:
    """``months`` monthly snapshots of ``portfolio``, keyed by period (``YYYY-MM``).

    Revenue, info revenue and ARPU drift by a few percent a month (a log-normal walk, with a
    small share of groups losing a fifth of their revenue), headcount by a few members; the
    first month is the portfolio as given. The same seed gives the same snapshots.

    With ``history`` (one row per customer and month, e.g. ``sample_history(portfolio=…)``)
    each month after the first takes its revenue, info revenue, ARPU and headcount (the
    history's ``members``) from the history's row of that month instead, so the tiers are
    judged on what the triggers see; handsets keep their share of the headcount, and a
    customer or value the history lacks keeps the month before's.
    """
    rng = np.random.default_rng(seed)
    first = date.fromisoformat(f"{start}-01")
    result: dict[str, pl.DataFrame] = {}
    current = portfolio
    for month in range(months):
        if month and history is not None:
            current = _from_history(current, history, _add_months(first, month))
        elif month:
            n = current.height
            drift = np.exp(rng.normal(0.0, 0.06, n))
            drift[rng.random(n) < 0.03] *= 0.8
            members = rng.integers(-3, 4, n)
            current = current.with_columns(
                (pl.col("revenue") * drift).round(2).alias("revenue"),
                (pl.col("info_revenue") * drift).round(2).alias("info_revenue"),
                (pl.col("arpu") * drift).round(2).alias("arpu"),
                (pl.col("headcount") + pl.Series(members)).clip(lower_bound=1)
                .cast(current.schema["headcount"]).alias("headcount"),
            )
        result[_add_months(first, month)] = current
    return result


def _from_history(previous: pl.DataFrame, history: pl.DataFrame, period: str) -> pl.DataFrame:
    """``previous`` with the values of ``history``'s month ``period`` (kept where absent)."""
    columns = {"revenue": "revenue", "info_revenue": "info_revenue", "arpu": "arpu",
               "members": "headcount"}
    when = (pl.col("period") == date.fromisoformat(f"{period}-01")
            if history.schema.get("period") == pl.Date
            else pl.col("period").cast(pl.String).str.slice(0, 7) == period)
    month = (history.filter(when)
             .select(pl.col("customer_id").cast(previous.schema["customer_id"]),
                     *(pl.col(c).alias(f"_{c}") for c in columns if c in history.columns))
             .unique("customer_id", keep="last", maintain_order=True))
    joined = previous.join(month, on="customer_id", how="left", maintain_order="left")
    updates = [pl.coalesce(f"_{source}", target).cast(previous.schema[target]).alias(target)
               for source, target in columns.items()
               if f"_{source}" in joined.columns and target in previous.columns]
    if "handsets" in previous.columns and "_members" in joined.columns:
        share = pl.col("handsets") / pl.col("headcount").clip(lower_bound=1)
        updates.append(pl.when(pl.col("_members").is_not_null())
                       .then((pl.col("_members") * share).round().clip(lower_bound=1))
                       .otherwise(pl.col("handsets")).cast(previous.schema["handsets"])
                       .alias("handsets"))
    return joined.with_columns(updates).select(previous.columns)
