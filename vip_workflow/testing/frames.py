"""Comparing result frames of two back ends: the same rows in any order, floats exactly or to
a relative tolerance (an engine that adds in another order differs in the last bits)."""

from __future__ import annotations

import polars as pl

__all__ = ["same_rows"]


def same_rows(a: pl.DataFrame | None, b: pl.DataFrame | None, *, rel: float = 0.0) -> bool:
    """True when ``a`` and ``b`` hold the same rows in any order (enum and categorical columns
    read as text; both None counts as equal); with ``rel``, float columns equal to that
    relative tolerance, NaN equal to NaN."""
    if a is None or b is None:
        return a is None and b is None
    text = pl.col(pl.Enum, pl.Categorical).cast(pl.String)
    a, b = a.with_columns(text), b.with_columns(text)
    if set(a.columns) != set(b.columns):
        return False
    b = b.select(a.columns).cast(a.schema)
    floats = [c for c, t in a.schema.items() if t.is_float()] if rel else []
    keys = [c for c in a.columns if c not in floats]
    a, b = a.sort(keys), b.sort(keys)
    if not a.select(keys).equals(b.select(keys)):
        return False
    for column in floats:
        for x, y in zip(a.get_column(column), b.get_column(column), strict=True):
            if x is None or y is None or x != x or y != y:
                if not ((x is None and y is None) or (x != x and y != y)):
                    return False
            elif abs(x - y) > rel * max(abs(x), abs(y), 1e-300):
                return False
    return True
