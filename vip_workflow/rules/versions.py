"""Rule versions in time, and previews of what a rule change would do.

A rule book — tiers, triggers or KPIs — carries a ``version`` and an ``effective`` date.
``RuleVersions`` holds the versions of one rule book and answers which is in force for a
period: the version with the latest effective date on or before the period's first day (a
version without a date is in force from the beginning of time). ``diff_tiers`` judges the
same portfolio under two books and reports who would change tier.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import polars as pl

from vip_workflow.errors import ConfigError
from vip_workflow.rules.tiers.book import AnyBook, RuleBook, load_rules

__all__ = ["RuleVersions", "SignalDiff", "TierDiff", "diff_signals", "diff_tiers",
           "period_start"]


def period_start(period: str | date) -> date:
    """The first day of a period: a date, ``YYYY-MM`` or ``YYYY-MM-DD``."""
    if isinstance(period, date):
        return period
    text = period.strip()
    try:
        if len(text) == 7:
            return date.fromisoformat(f"{text}-01")
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{period!r} is not a period: write YYYY-MM or YYYY-MM-DD") from None


class VersionedBook(Protocol):
    """What ``RuleVersions`` needs of a book: a name, a version and ``rules.effective``.

    Tier books (``RuleBook``), trigger books and KPI books all have them.
    """

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def rules(self) -> Any: ...


B = TypeVar("B", bound=VersionedBook)


def _effective(book: VersionedBook) -> date:
    return getattr(book.rules, "effective", None) or date.min


def _kind(book: VersionedBook) -> str:
    return str(getattr(book.rules, "kind", None) or "tiers")


class RuleVersions(Generic[B]):
    """The versions of one rule book, ordered by effective date.

    The book may be a tier book, a trigger book or a KPI book — every version of the same
    kind and name.
    """

    def __init__(self, books: Iterable[B]) -> None:
        books = list(books)
        if not books:
            raise ConfigError("RuleVersions needs at least one rule book")
        kinds = {_kind(b) for b in books}
        if len(kinds) > 1:
            raise ConfigError(f"the versions must be of one kind of rule file, not "
                              f"{', '.join(sorted(kinds))}")
        names = {b.name for b in books}
        if len(names) > 1:
            raise ConfigError(f"the versions must be of one rule book, not {sorted(names)}")
        dated = sorted(books, key=_effective)
        for earlier, later in itertools.pairwise(dated):
            if _effective(earlier) == _effective(later):
                raise ConfigError(
                    f"versions {earlier.version} and {later.version} of {earlier.name} take "
                    f"effect on the same date ({later.rules.effective or 'always'})"
                )
        self.books: tuple[B, ...] = tuple(dated)

    @classmethod
    def load(cls, paths: Iterable[str | Path], *,
             kind: str | None = None) -> RuleVersions[AnyBook]:
        """Load rule files (or every *.yaml / *.json in a folder) as versions.

        ``kind`` (tiers, triggers or kpis) refuses a file of another kind.
        """
        files: list[Path] = []
        for path in map(Path, paths):
            if path.is_dir():
                files += sorted([*path.glob("*.yaml"), *path.glob("*.yml"), *path.glob("*.json")])
            else:
                files.append(path)
        books: list[AnyBook] = []
        for file in files:
            book = load_rules(file)
            if kind is not None and _kind(book) != kind:
                raise ConfigError(f"{file} holds {_kind(book)} rules, not {kind}")
            books.append(book)
        if not books:
            raise ConfigError(f"no rule files in {', '.join(map(str, paths))}")
        return RuleVersions(books)

    @property
    def name(self) -> str:
        return self.books[0].name

    @property
    def kind(self) -> str:
        """tiers, triggers or kpis."""
        return _kind(self.books[0])

    @property
    def latest(self) -> B:
        """The version with the latest effective date."""
        return self.books[-1]

    def in_force(self, period: str | date) -> B:
        """The version that applies to ``period``."""
        start = period_start(period)
        chosen = [b for b in self.books if _effective(b) <= start]
        if not chosen:
            first = self.books[0].rules.effective
            raise ConfigError(f"no version of {self.name} is in force on {start}; the first "
                              f"takes effect on {first}")
        return chosen[-1]

    def __iter__(self) -> Iterator[B]:
        return iter(self.books)

    def __len__(self) -> int:
        return len(self.books)

    def __repr__(self) -> str:
        versions = ", ".join(f"{b.version}@{b.rules.effective or '-'}" for b in self.books)
        return f"<RuleVersions {self.name!r}: {versions}>"


class TierDiff:
    """What changes when a portfolio is judged by ``new`` instead of ``old``."""

    def __init__(self, old: RuleBook, new: RuleBook, judged: pl.DataFrame) -> None:
        self.old = old
        self.new = new
        self.judged = judged  # one row per customer: id, old_tier, new_tier, old_rule, new_rule

    @property
    def total(self) -> int:
        return self.judged.height

    @property
    def changed(self) -> pl.DataFrame:
        """Customers whose tier differs (a customer judged by one book only counts too)."""
        return self.judged.filter(pl.col("old_tier").ne_missing(pl.col("new_tier")))

    @property
    def matrix(self) -> pl.DataFrame:
        """Counts of customers by old tier (rows) and new tier (columns)."""
        order = list(dict.fromkeys([*self.new.tiers, *self.old.tiers]))
        rank = {t: i for i, t in enumerate(order)}
        counts = self.judged.with_columns(pl.col("new_tier").fill_null("(none)"))
        table = (counts.group_by("old_tier", "new_tier").len()
                 .pivot(on="new_tier", index="old_tier", values="len").fill_null(0))
        columns = sorted((c for c in table.columns if c != "old_tier"),
                         key=lambda t: rank.get(t, len(rank)))
        return (table.with_columns(pl.col("old_tier").replace_strict(rank, default=len(rank),
                                                                     return_dtype=pl.Int64)
                                   .alias("_rank"))
                .sort("_rank").select("old_tier", *columns))

    def moves(self) -> dict[str, int]:
        """How many customers go up, down, stay, or change judgeability."""
        order = {t: i for i, t in enumerate(self.new.tiers)}
        result = {"up": 0, "down": 0, "same": 0, "other": 0}
        for old, new, n in (self.judged.group_by("old_tier", "new_tier").len()
                            .iter_rows()):
            if old == new:
                result["same"] += n
            elif old in order and new in order:
                result["up" if order[new] < order[old] else "down"] += n
            else:
                result["other"] += n
        return result

    def summary(self) -> str:
        moves = self.moves()
        return (f"{self.old.name} {self.old.version} → {self.new.name} {self.new.version}: "
                f"{self.changed.height:,} of {self.total:,} customers change tier "
                f"({moves['up']:,} up, {moves['down']:,} down, {moves['other']:,} other)")

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.summary())}</p>{self.matrix._repr_html_()}"


def diff_tiers(old: RuleBook, new: RuleBook, data: Any, *, id_field: str | None = None) -> TierDiff:
    """Judge ``data`` by both books and compare the tiers, customer by customer."""
    frame = data if isinstance(data, pl.DataFrame) else pl.from_pandas(data) if (
        type(data).__module__.startswith("pandas")) else pl.DataFrame(list(data))
    key = id_field or old.plan.id_field or new.plan.id_field
    if key is None or key not in frame.columns:
        key = "customer_id" if "customer_id" in frame.columns else None
    before = old.judge_many(frame)
    after = new.judge_many(frame)
    ids = frame.get_column(key) if key else pl.Series("row", range(frame.height))
    judged = pl.DataFrame({
        "customer": ids,
        "old_tier": before.get_column("tier").cast(pl.String),
        "new_tier": after.get_column("tier").cast(pl.String),
        "old_rule": before.get_column("rule").cast(pl.String),
        "new_rule": after.get_column("rule").cast(pl.String),
    })
    return TierDiff(old, new, judged)


class SignalDiff:
    """Which signals a new trigger book adds or drops on the same history."""

    KEY = ("customer_id", "period", "trigger")

    def __init__(self, old: Any, new: Any, before: pl.DataFrame, after: pl.DataFrame) -> None:
        self.old = old
        self.new = new
        self.before = before
        self.after = after
        key = list(self.KEY)
        self.appear = after.join(before.select(key), on=key, how="anti")
        self.disappear = before.join(after.select(key), on=key, how="anti")

    def by_trigger(self) -> pl.DataFrame:
        """Signals before and after, and how many appear and disappear, per trigger."""
        def count(frame: pl.DataFrame, name: str) -> pl.DataFrame:
            return frame.group_by("trigger").len().rename({"len": name})

        table = count(self.before, "before")
        for frame, name in ((self.after, "after"), (self.appear, "appear"),
                            (self.disappear, "disappear")):
            table = table.join(count(frame, name), on="trigger", how="full", coalesce=True)
        return table.fill_null(0).sort("trigger")

    def summary(self) -> str:
        return (f"{self.old.name} {self.old.version} → {self.new.name} {self.new.version}: "
                f"{self.before.height:,} signals before, {self.after.height:,} after; "
                f"{self.appear.height:,} appear, {self.disappear.height:,} disappear")

    def __str__(self) -> str:
        return self.summary()


def diff_signals(old: Any, new: Any, history: Any) -> SignalDiff:
    """Scan ``history`` with two trigger books and compare the signals."""
    frame = history if isinstance(history, pl.DataFrame) else pl.from_pandas(history) if (
        type(history).__module__.startswith("pandas")) else pl.DataFrame(list(history))
    return SignalDiff(old, new, old.scan(frame), new.scan(frame))
