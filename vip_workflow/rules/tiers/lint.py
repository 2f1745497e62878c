"""Lint: find gaps, overlaps, shadowed bands and tiers no rule can give.

Numeric bands are checked exactly: every band bound cuts the number line into elementary
pieces — open stretches between bounds and the bounds themselves — and each piece lies wholly
inside or outside every band. Coverage questions then become questions about sets of pieces.

Severities: ``error`` (the file says something it cannot mean: a band that can never decide, two
bands that disagree on the same value, a value outside the field's declared values), ``warning``
(likely a mistake: a scoring gap that silently scores 0, a tier band no total can reach),
``info`` (worth knowing: values a chain factor passes on to the next factor).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from vip_workflow.rules.files.findings import Finding, LintReport, Severity
from vip_workflow.rules.tiers.compiled import (
    Band,
    Chain,
    Factor,
    Interval,
    Quota,
    Scoring,
    Weighted,
    interval,
)

if TYPE_CHECKING:
    from vip_workflow.rules.tiers.book import RuleBook

__all__ = ["Finding", "LintReport", "lint_book"]

# -- number-line pieces ------------------------------------------------------------------------


def _pieces(intervals: Sequence[Interval]) -> list[Interval]:
    bounds = sorted({b for iv in intervals for b in (iv.low, iv.high) if not math.isinf(b)})
    if not bounds:
        return [interval(-math.inf, math.inf, False, False)]
    pieces = [interval(-math.inf, bounds[0], False, False)]
    for i, bound in enumerate(bounds):
        pieces.append(interval(bound, bound, True, True))
        upper = bounds[i + 1] if i + 1 < len(bounds) else math.inf
        pieces.append(interval(bound, upper, False, False))
    return pieces


def _probe(piece: Interval) -> float:
    if piece.low == piece.high:
        return piece.low
    if math.isinf(piece.low):
        return piece.high - 1.0
    if math.isinf(piece.high):
        return piece.low + 1.0
    return piece.low + (piece.high - piece.low) / 2


def _as_interval(band: Band) -> Interval:
    if isinstance(band.matcher, Interval):
        return band.matcher
    raise TypeError("not an interval")


def _merge(pieces: list[Interval]) -> list[Interval]:
    """Adjacent pieces joined into readable intervals."""
    merged: list[Interval] = []
    for piece in pieces:
        if merged and merged[-1].high == piece.low and (
            merged[-1].high_closed or piece.low_closed
        ):
            last = merged[-1]
            merged[-1] = interval(last.low, piece.high, last.low_closed, piece.high_closed)
        else:
            merged.append(piece)
    return merged


def _numeric_sets(bands: Sequence[Band]) -> list[list[Interval]]:
    """Each band as a list of intervals (a numeric `in` list becomes points)."""
    result = []
    for band in bands:
        if isinstance(band.matcher, Interval):
            result.append([band.matcher])
        else:
            result.append([interval(float(v), float(v), True, True) for v in band.matcher.values])
    return result


def _outcome(band: Band) -> Any:
    return band.tier if band.tier is not None else band.points


class _Linter:
    def __init__(self, book: RuleBook) -> None:
        self.book = book
        self.findings: list[Finding] = []
        self.document = getattr(book, "document", None)

    def add(self, severity: Severity, code: str, message: str, *where: str | int) -> None:
        line = column = None
        field = None
        if where:
            field = ".".join(str(w) if not isinstance(w, int) else f"[{w}]" for w in where)
            field = field.replace(".[", "[")
        if self.document is not None:
            line, column = self.document.locate(where)
        self.findings.append(Finding(severity, code, message, field, line, column))

    # -- one factor ------------------------------------------------------------------------
    def factor(self, factor: Factor, where: tuple[str | int, ...], *, falls_through: bool,
               scored: bool) -> None:
        if factor.kind == "number":
            self.numeric_factor(factor, where, falls_through=falls_through, scored=scored)
        else:
            self.category_factor(factor, where, falls_through=falls_through, scored=scored)

    def numeric_factor(self, factor: Factor, where: tuple[str | int, ...], *,
                       falls_through: bool, scored: bool) -> None:
        sets = _numeric_sets(factor.bands)
        pieces = _pieces([iv for s in sets for iv in s])
        covered_by: list[set[int]] = [
            {p for p, piece in enumerate(pieces) if any(iv.contains(_probe(piece)) for iv in s)}
            for s in sets
        ]
        self.bands(factor, covered_by, lambda ps: _describe(pieces, ps), where)
        uncovered = [pieces[p] for p in range(len(pieces))
                     if not any(p in c for c in covered_by)]
        if uncovered:
            gaps = ", ".join(_text(iv) for iv in _merge(uncovered))
            self.gap(factor, gaps, where, falls_through=falls_through, scored=scored)

    def category_factor(self, factor: Factor, where: tuple[str | int, ...], *,
                        falls_through: bool, scored: bool) -> None:
        covered_by = [set(band.matcher.values) for band in factor.bands]  # type: ignore[union-attr]
        self.bands(factor, covered_by, lambda vs: ", ".join(sorted(map(str, vs))), where)
        domain = (factor.values if factor.values is not None
                  else (True, False) if factor.kind == "boolean" else None)
        if domain is None:
            return
        for i, values in enumerate(covered_by):
            for value in sorted(set(values) - set(domain), key=str):
                self.add("error", "unknown-value",
                         f"{value!r} is not one of the values of {factor.field} "
                         f"({', '.join(map(str, domain))})", *where, "bands", i)
        missed = [v for v in domain if not any(v in c for c in covered_by)]
        if missed:
            self.gap(factor, ", ".join(map(str, missed)), where, falls_through=falls_through,
                     scored=scored)

    def bands(self, factor: Factor, covered_by: list[set[Any]], show: Any,
              where: tuple[str | int, ...]) -> None:
        for i, mine in enumerate(covered_by):
            earlier: set[Any] = set().union(*covered_by[:i]) if i else set()
            band = factor.bands[i]
            if mine and mine <= earlier:
                self.add("error", "shadowed",
                         f"band {band.id} ({band.matcher.text}) can never decide: earlier bands "
                         "already hold all its values", *where, "bands", i)
                continue
            for j in range(i):
                shared = mine & covered_by[j]
                if not shared:
                    continue
                other = factor.bands[j]
                same = _outcome(other) == _outcome(band)
                self.add("warning" if same else "error", "overlap",
                         f"{show(shared)} is in both band {other.id} ({other.matcher.text}) and "
                         f"band {band.id} ({band.matcher.text}); the first wins"
                         + ("" if same else f", giving {_outcome(other)} not {_outcome(band)}"),
                         *where, "bands", i)

    def gap(self, factor: Factor, gaps: str, where: tuple[str | int, ...], *,
            falls_through: bool, scored: bool) -> None:
        if scored and factor.otherwise is None:
            self.add("warning", "gap",
                     f"no band covers {gaps}: such values score 0 points; cover them or set "
                     "`otherwise`", *where)
        elif falls_through:
            self.add("info", "gap", f"no band covers {gaps}: such values pass to the next "
                     "factor", *where)

    # -- schemes ---------------------------------------------------------------------------
    def run(self) -> LintReport:
        plan = self.book.plan
        scheme = plan.scheme
        at: tuple[str | int, ...] = ("scheme",)
        if isinstance(scheme, Chain):
            default_rank = plan.rank(scheme.default)
            for i, factor in enumerate(scheme.factors):
                where = (*at, "factors", i)
                self.factor(factor, where, falls_through=True, scored=False)
                if scheme.policy == "highest" and all(
                    plan.rank(b.tier) >= default_rank for b in factor.bands  # type: ignore[arg-type]
                ):
                    self.add("warning", "useless-factor",
                             f"factor {factor.id} never gives a tier above the default "
                             f"{scheme.default}, so under policy highest it cannot matter", *where)
        elif isinstance(scheme, Scoring | Weighted):
            self.score(scheme, at)
        elif isinstance(scheme, Quota) and scheme.score is not None:
            self.score(scheme.score, (*at, "score"))
        for tier, split in plan.subtiers:
            self.factor(split.factor, ("subtiers", tier), falls_through=False, scored=False)
        self.unused_tiers()
        return LintReport(self.findings, self.book.path)

    def score(self, scheme: Scoring | Weighted, at: tuple[str | int, ...]) -> None:
        if isinstance(scheme, Scoring):
            low = high = 0.0
            for i, factor in enumerate(scheme.factors):
                self.factor(factor, (*at, "factors", i), falls_through=False, scored=True)
                points = [b.points for b in factor.bands if b.points is not None]
                points.append(factor.otherwise if factor.otherwise is not None else 0.0)
                low += min(points)
                high += max(points)
            reachable = interval(low, high, True, True)
            for i, band in enumerate(scheme.tier_bands):
                iv = _as_interval(band)
                pieces = _pieces([iv, reachable])
                if not any(iv.contains(_probe(p)) and reachable.contains(_probe(p))
                           for p in pieces):
                    self.add("warning", "unreachable",
                             f"no total can reach band {band.id} ({iv.text}): totals range "
                             f"from {low:g} to {high:g}", *at, "tiers", i)
        if scheme.tier_bands:
            sets = [[_as_interval(b)] for b in scheme.tier_bands]
            pieces = _pieces([s[0] for s in sets])
            covered_by = [
                {p for p, piece in enumerate(pieces) if s[0].contains(_probe(piece))}
                for s in sets
            ]
            fake = Factor("score", "score", "score", "number", scheme.tier_bands)
            self.bands(fake, covered_by, lambda ps: _describe(pieces, ps), (*at, "tiers"))

    def unused_tiers(self) -> None:
        plan = self.book.plan
        given = set(plan.rule_tiers[:-1])  # the last rule is "override"
        given |= {b.tier for _, s in plan.subtiers for b in s.factor.bands if b.tier is not None}
        given |= {s.default for _, s in plan.subtiers}
        split = {tier for tier, _ in plan.subtiers}
        for tier in plan.tiers:
            if tier not in given:
                self.add("info", "unused-tier",
                         f"no rule gives tier {tier} (only an override can)", "tiers")
            elif tier in split:
                self.add("info", "split-tier",
                         f"tier {tier} is always split into its sub-tiers", "subtiers", tier)


def _text(iv: Interval) -> str:
    return f"{iv.low:g}" if iv.low == iv.high else iv.text


def _describe(pieces: list[Interval], chosen: set[int]) -> str:
    return ", ".join(_text(iv) for iv in _merge([pieces[p] for p in sorted(chosen)]))


def lint_book(book: RuleBook) -> LintReport:
    """Lint a loaded rule book."""
    return _Linter(book).run()
