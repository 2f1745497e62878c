"""What a new tier book version would do to the latest period: the library's ``diff_tiers``
on the period's published portfolio, with each changed customer's name, manager and value.

Uploaded versions (drafts) are kept in memory by their SHA-256, so the pages and downloads of
one comparison can name them; a service keeps the last few.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import attrs
import polars as pl

from vip_workflow.adapters.server.problems import Problem

__all__ = ["DRAFT", "Drafts", "Impact", "impact", "latest_portfolio"]

#: how a draft is named in a page's address: ``new=draft:<key>``
DRAFT = "draft:"
_KEEP = 16


@attrs.frozen
class Impact:
    """The comparison of two versions on one period's customers."""

    period: str
    old: str
    new: str  # the new version's number
    draft: bool  # the new version is an uploaded file
    total: int
    moves: dict[str, int]
    matrix: pl.DataFrame  # old_tier, then one column per new tier
    changed: pl.DataFrame  # customer, name, account_manager, value, old/new tier and rule


class Drafts:
    """Uploaded tier books by key (the first 16 hex digits of their text's SHA-256)."""

    def __init__(self) -> None:
        self._books: OrderedDict[str, Any] = OrderedDict()
        self._results: OrderedDict[tuple[str, ...], Impact] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, text: str, book: Any) -> str:
        """Keep ``book`` (loaded from ``text``); its key."""
        key = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        with self._lock:
            self._books[key] = book
            self._books.move_to_end(key)
            while len(self._books) > _KEEP:
                self._books.popitem(last=False)
        return key

    def get(self, key: str) -> Any:
        """The draft of ``key`` (404 when it is not kept any more)."""
        with self._lock:
            book = self._books.get(key)
        if book is None:
            raise Problem(404, "not_found", f"the uploaded version {key!r} is no longer "
                          "kept by the service: upload it again")
        return book

    def result(self, key: tuple[str, ...]) -> Impact | None:
        with self._lock:
            return self._results.get(key)

    def keep_result(self, key: tuple[str, ...], found: Impact) -> None:
        with self._lock:
            self._results[key] = found
            while len(self._results) > _KEEP:
                self._results.popitem(last=False)


def latest_portfolio(ws: Any) -> tuple[str, Path] | None:
    """The latest recorded period whose judged portfolio was published, and its file."""
    root = Path(ws.base_dir) / ws.config.reports
    for period in reversed(ws.store.periods()):
        path = root / period / "tiers.parquet"
        if path.exists():
            return period, path
    return None


def _direction(old: str | None, new: str | None, rank: dict[str, int]) -> str:
    if old in rank and new in rank:
        return "up" if rank[new] < rank[old] else "down"
    return "other"


def _changed(ws: Any, found: Any, frame: pl.DataFrame) -> pl.DataFrame:
    id_field, value = ws.config.id_field, ws.config.value_field
    rank = {t: i for i, t in enumerate(found.new.tiers)}
    changed: pl.DataFrame = found.changed.with_columns(pl.col("customer").cast(pl.String))
    directions = [_direction(o, n, rank) for o, n in
                  zip(changed["old_tier"].to_list(), changed["new_tier"].to_list(),
                      strict=True)]
    people = [c for c in ("name", "account_manager", value) if c in frame.columns
              and c != id_field]
    if id_field in frame.columns and people:
        changed = changed.join(
            frame.select(pl.col(id_field).cast(pl.String).alias("customer"), *people),
            on="customer", how="left")
    for column in ("name", "account_manager", value):
        if column not in changed.columns:
            changed = changed.with_columns(pl.lit(None, pl.String).alias(column))
    changed = changed.with_columns(pl.Series("direction", directions, pl.String))
    ordered = changed.select("customer", "name", "account_manager", value, "old_tier",
                             "new_tier", "direction", "old_rule", "new_rule")
    if ordered.schema[value].is_numeric():  # the most valuable first
        return ordered.sort([value, "customer"], descending=[True, False], nulls_last=True)
    return ordered.sort("customer")


def impact(ws: Any, old: Any, new: Any, *, draft: bool) -> Impact:
    """Judge the latest published period by ``old`` and ``new`` and compare."""
    from vip_workflow.rules.versions import diff_tiers

    latest = latest_portfolio(ws)
    if latest is None:
        raise Problem(409, "no_period", "no period has been run yet: there are no customers "
                      "to compare the versions on")
    period, path = latest
    frame = pl.read_parquet(path).with_columns(pl.col(pl.Enum, pl.Categorical)
                                               .cast(pl.String))
    keep = [c for c in frame.columns if c not in ("tier", "rule", "reason")]
    found = diff_tiers(old, new, frame.select(keep), id_field=ws.config.id_field)
    return Impact(period=period, old=old.version, new=new.version, draft=draft,
                  total=found.total, moves=found.moves(), matrix=_matrix(found),
                  changed=_changed(ws, found, frame))


def _matrix(found: Any) -> pl.DataFrame:
    """Customers by tier before (rows, ``from``) and after (columns): every tier of both
    books, zeros included; "(none)" for customers one book cannot judge."""
    none = "(none)"
    order = list(dict.fromkeys([*found.old.tiers, *found.new.tiers]))
    judged = found.judged.with_columns(pl.col("old_tier", "new_tier").fill_null(none))
    counts = {(a, b): n for a, b, n in judged.group_by("old_tier", "new_tier").len()
              .iter_rows()}
    rows = order + ([none] if any(a == none for a, _ in counts) else [])
    columns = order + ([none] if any(b == none for _, b in counts) else [])
    return pl.DataFrame([{"from": a} | {b: counts.get((a, b), 0) for b in columns}
                         for a in rows],
                        schema={"from": pl.String} | dict.fromkeys(columns, pl.Int64))
