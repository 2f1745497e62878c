"""Monthly snapshots of the sample portfolio: a random walk from a starting month."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

__all__ = ["monthly_portfolios"]


def _add_months(start: date, months: int) -> str:
    year, month = divmod(start.month - 1 + months, 12)
    return f"{start.year + year:04d}-{month + 1:02d}"


def monthly_portfolios(portfolio: pl.DataFrame, *, start: str = "2026-09", months: int = 2,
                       seed: int = 11) -> dict[str, pl.DataFrame]:
    """``months`` monthly snapshots of ``portfolio``, keyed by period (``YYYY-MM``).

    Revenue, info revenue and ARPU drift by a few percent a month (a log-normal walk, with a
    small share of groups losing a fifth of their revenue), headcount by a few members; the
    first month is the portfolio as given. The same seed gives the same snapshots.
    """
    rng = np.random.default_rng(seed)
    first = date.fromisoformat(f"{start}-01")
    result: dict[str, pl.DataFrame] = {}
    current = portfolio
    for month in range(months):
        if month:
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
