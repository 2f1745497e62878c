"""Fitting a weighted model from history: least squares, written out as a rule file.

Seed 003's "ideal" model is y = Σ wᵢ·xᵢ with the weights from a linear regression over past
data. ``fit_weights`` estimates them (numeric fields as they are, categorical fields one-hot
encoded into a value map) and returns a weighted-model RuleBook whose tier cut-offs either are
given or split the fitted scores by shares (ABC: 5 % / 25 % / 70 % by default).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

import polars as pl

from vip_workflow._extras import require
from vip_workflow.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["fit_weights"]


def _is_pandas(data: object) -> TypeGuard[pd.DataFrame]:
    return type(data).__module__.startswith("pandas")


def _frame(data: Any) -> pl.DataFrame:
    if isinstance(data, pl.DataFrame):
        return data
    if _is_pandas(data):
        return pl.from_pandas(data)
    return pl.DataFrame(list(data))


def fit_weights(
    data: Any,
    *,
    target: str,
    features: Sequence[str],
    categorical: Sequence[str] = (),
    tiers: Sequence[str] = ("A", "B", "C"),
    shares: Sequence[float] = (0.05, 0.25),
    cuts: Sequence[float] | None = None,
    name: str = "fitted-weights",
    path: str | Path | None = None,
) -> Any:
    """Fit y = intercept + Σ wᵢ·xᵢ by least squares and return it as a RuleBook.

    Args:
        data: history (polars or pandas DataFrame, or mappings) with ``target`` and features.
        target: the value to explain (e.g. next year's revenue or a value score).
        features: numeric fields; ``categorical`` fields become value maps.
        tiers: tier names, highest first.
        shares: shares of the fitted scores for every tier but the last (ignored with ``cuts``).
        cuts: lowest score of every tier but the last, highest first, instead of shares.
        path: also write the rule file here (YAML, or JSON for a .json path).

    Rows with a missing target or feature are left out of the fit (``book.rules.description``
    says how many). Raises ConfigError when there is too little data to fit, and
    MissingExtraError without numpy (``pip install 'vip_workflow[numpy]'``).
    """
    from vip_workflow.rules.tiers.book import load_rules

    np = require("numpy", "fit_weights")

    frame = _frame(data)
    columns = [target, *features, *categorical]
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise ConfigError(f"fit_weights: the data has no column {', '.join(absent)}")
    usable = frame.select(columns).drop_nulls()
    numeric = [c for c in (target, *features)]
    usable = usable.filter(~pl.any_horizontal([pl.col(c).cast(pl.Float64).is_nan()
                                                for c in numeric]))
    dropped = frame.height - usable.height

    blocks = [np.ones((usable.height, 1))]
    labels: list[tuple[str, Any]] = []
    for feature in features:
        blocks.append(usable.get_column(feature).cast(pl.Float64).to_numpy().reshape(-1, 1))
        labels.append((feature, None))
    for feature in categorical:
        values = sorted(usable.get_column(feature).cast(pl.String).unique().to_list())
        column = usable.get_column(feature).cast(pl.String)
        for value in values[1:]:  # the first value is the baseline (0)
            blocks.append((column == value).cast(pl.Float64).to_numpy().reshape(-1, 1))
            labels.append((feature, value))
    design = np.hstack(blocks)
    if usable.height <= design.shape[1]:
        raise ConfigError(
            f"fit_weights: {usable.height} usable rows cannot fit {design.shape[1]} weights"
        )
    y = usable.get_column(target).cast(pl.Float64).to_numpy()
    solution, *_ = np.linalg.lstsq(design, y, rcond=None)
    fitted = design @ solution
    residual = float(((y - fitted) ** 2).sum())
    spread = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - residual / spread if spread else 1.0

    terms: list[dict[str, Any]] = [
        {"field": f, "weight": float(w)}
        for (f, value), w in zip(labels, solution[1:], strict=True) if value is None
    ]
    for feature in categorical:
        values = sorted(usable.get_column(feature).cast(pl.String).unique().to_list())
        mapping = {values[0]: 0.0} if values else {}
        mapping |= {value: float(w) for (f, value), w in zip(labels, solution[1:], strict=True)
                    if f == feature and value is not None}
        terms.append({"field": feature, "weight": 1.0, "map": mapping})

    tier_names = list(tiers)
    if cuts is None:
        if len(shares) != len(tier_names) - 1:
            raise ConfigError("fit_weights: give one share for every tier but the last")
        cumulative = np.cumsum(shares)
        cuts = [float(np.quantile(fitted, 1.0 - c)) for c in cumulative]
    if len(cuts) != len(tier_names) - 1:
        raise ConfigError("fit_weights: give one cut for every tier but the last")
    if any(a <= b for a, b in itertools.pairwise(cuts)):
        raise ConfigError(f"fit_weights: the cut-offs {list(cuts)} must fall from tier to tier")
    bands = []
    upper: float | None = None
    for tier, cut in zip(tier_names, cuts, strict=False):
        band: dict[str, Any] = {"min": float(cut), "tier": tier}
        if upper is not None:
            band["max"] = upper
        bands.append(band)
        upper = float(cut)
    rules = {
        "name": name,
        "description": (f"least-squares fit of {target} on {usable.height} rows "
                        f"({dropped} left out for missing values); R² = {r2:.4f}"),
        "tiers": tier_names,
        "scheme": {"type": "weighted", "intercept": float(solution[0]), "terms": terms,
                   "tiers": bands, "default": tier_names[-1]},
    }
    book = load_rules(rules)
    if path is not None:
        book.save(path)
    return book
