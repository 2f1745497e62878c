"""Dirty portfolios and row-by-row comparison for the tier back-end agreement suite
(``tier_agreement``): another engine's answers against the polars reference.

A back end agrees when every row gets the same ``tier``, ``rule``, ``reason`` text and
``computed_tier`` as ``book.judge_many`` on a polars frame. ``dirty_portfolio`` makes the data
that finds disagreements: values at, just below and just above every bound the book reads,
NaN, ±inf, nulls, unknown categories and override rows; ``mismatches`` lists the rows that
differ::

    reference = book.judge_many(frame)
    candidate = pl.from_arrow(book.judge_many(spark.createDataFrame(frame.to_arrow())).toArrow())
    assert mismatches(reference, candidate, key="customer_id") == []
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import attrs
import polars as pl

from vip_workflow.rules.tiers.compiled import Interval

if TYPE_CHECKING:
    from vip_workflow.rules.tiers.book import RuleBook

__all__ = ["ANSWERS", "bounds", "dirty_portfolio", "mismatches"]

#: The answer columns a back end must give exactly.
ANSWERS = ("tier", "rule", "reason", "computed_tier")
_UNKNOWN_TEXTS = ("", "  ", "未知类别", "??")


def bounds(book: RuleBook) -> list[float]:
    """The finite interval bounds anywhere in the book's portfolio query, sorted."""
    found: set[float] = set()

    def walk(node: Any) -> None:
        if isinstance(node, Interval):
            found.update(b for b in (node.low, node.high) if math.isfinite(b))
        elif isinstance(node, tuple):
            for item in node:
                walk(item)
        elif attrs.has(type(node)):
            for field in attrs.fields(type(node)):
                walk(getattr(node, field.name))

    query = book.query
    walk((query.lets, query.rule, query.reason, query.computed_tier))
    return sorted(found)


def _edges(book: RuleBook) -> list[float]:
    """At, just below and just above every bound; NaN and ±inf."""
    values: list[float] = []
    for bound in bounds(book):
        values += [bound, math.nextafter(bound, -math.inf), math.nextafter(bound, math.inf)]
    return [*values, math.nan, math.inf, -math.inf]


def dirty_portfolio(book: RuleBook, frame: pl.DataFrame, *, every: int = 7) -> pl.DataFrame:
    """``frame`` made dirty for ``book``: in every ``every``-th row of each number column a
    boundary value, NaN, ±inf or null; of each text column an unknown category or null; and,
    when the book takes overrides, override columns with valid, unknown and half-filled rows."""
    height = frame.height
    edges = _edges(book)
    columns: list[pl.Series] = []
    for name, dtype in frame.schema.items():
        series = frame.get_column(name)
        if dtype.is_float():
            dirty = [edges[(i // every) % len(edges)] if i % every == 1 else None
                     if i % (every * 5) == 3 else v for i, v in enumerate(series.to_list())]
            columns.append(pl.Series(name, dirty, dtype=pl.Float64))
        elif dtype == pl.String and name != book.plan.id_field:
            unknown = _UNKNOWN_TEXTS
            dirty = [unknown[(i // every) % len(unknown)] if i % every == 2 else None
                     if i % (every * 5) == 4 else v for i, v in enumerate(series.to_list())]
            columns.append(pl.Series(name, dirty, dtype=pl.String))
        elif dtype.is_integer():
            dirty = [None if i % (every * 3) == 5 else v for i, v in enumerate(series.to_list())]
            columns.append(pl.Series(name, dirty, dtype=dtype))
        else:
            columns.append(series)
    override = book.plan.override
    if override is not None:
        tiers = [*book.tiers, "Z", None]
        who = ["li", "", None, "  ", "王"]
        columns += [
            pl.Series(override.tier, [tiers[i % len(tiers)] if i % 3 == 0 else None
                                      for i in range(height)], dtype=pl.String),
            pl.Series(override.by, [who[i % len(who)] for i in range(height)], dtype=pl.String),
            pl.Series(override.reason, [who[(i // 2) % len(who)] for i in range(height)],
                      dtype=pl.String),
        ]
    return pl.DataFrame(columns)


def _answers(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    present = [c for c in ANSWERS if c in frame.columns]
    return frame.select(key, *(pl.col(c).cast(pl.String) for c in present))


def mismatches(reference: pl.DataFrame, candidate: pl.DataFrame, *, key: str,
               limit: int = 10) -> list[str]:
    """The rows (matched on ``key``) whose answers differ, described; [] when all agree.
    A row missing from either side, or an answer column only one side has, is a mismatch."""
    ours, theirs = _answers(reference, key), _answers(candidate, key)
    problems: list[str] = []
    if set(ours.columns) != set(theirs.columns):
        problems.append(f"answer columns differ: {sorted(ours.columns)} vs "
                        f"{sorted(theirs.columns)}")
        return problems
    if ours.height != theirs.height:
        problems.append(f"row counts differ: {ours.height} vs {theirs.height}")
    joined = ours.join(theirs, on=key, how="full", suffix="__other", coalesce=True,
                       nulls_equal=True)
    names = [c for c in ours.columns if c != key]
    differs = pl.any_horizontal([pl.col(c).ne_missing(pl.col(c + "__other")) for c in names])
    for row in joined.filter(differs).head(limit).iter_rows(named=True):
        pairs = ", ".join(f"{c}: {row[c]!r} vs {row[c + '__other']!r}" for c in names
                          if row[c] != row[c + "__other"])
        problems.append(f"{key}={row[key]!r}: {pairs}")
    return problems
