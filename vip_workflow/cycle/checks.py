"""Checks a run makes on its input before it judges anything (and so before it writes).

A portfolio must name each customer once, and hold every column its tier rules read: a
column that is missing altogether is a broken feed, not a month of unjudgeable customers
(a column present but partly empty still leaves those customers "could not judge").
"""

from __future__ import annotations

from typing import Any

import polars as pl

from vip_workflow.errors import MissingColumnsError
from vip_workflow.rules.triggers.snapshots import check_customer_ids

__all__ = ["check_columns", "check_portfolio"]


def check_columns(book: Any, columns: list[str], *, source: str = "portfolio") -> None:
    """Raise ``MissingColumnsError`` naming the columns ``book`` reads that are absent, and
    the rule file (or preset) needing them."""
    missing = [field for field in book.fields if field not in columns]
    if missing:
        raise MissingColumnsError(missing, source=source,
                                  rule_file=book.path or f"{book.name} v{book.version}")


def check_portfolio(book: Any, frame: pl.DataFrame, id_field: str) -> None:
    """A portfolio the cycle can judge and store: ids present and unique (``CustomerIdError``
    naming the rows), and every column the tier rules read (``MissingColumnsError``)."""
    check_customer_ids(frame, id_field, source="portfolio", unique=True)
    check_columns(book, frame.columns)
