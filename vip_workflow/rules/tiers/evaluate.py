"""Judging one record at a time, with a trace: the reference semantics of every scheme.

The columnar back end must give exactly these answers; a property test holds it to that.
Semantics, shared by both paths:

* A value is *missing* when the field is absent, ``None`` or NaN; it has the *wrong type* when a
  number is not an int/float (booleans are not numbers), a text is not a ``str``, a flag not a
  ``bool``; a number is *not finite* when it is ±inf, or an integer too large for a float
  (beyond ±1.8e308; ``10**30`` is a finite number). In each case the record cannot be judged —
  but only if the decision needed that value: a chain stops reading once a factor decides.
* Bands are tried in file order; the first that holds the value is the one.
"""

from __future__ import annotations

import bisect
import itertools
import math
import numbers
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

from attrs import frozen

from vip_workflow.domain.decisions import Decision, Override, Step, show_value
from vip_workflow.errors import PortfolioRequiredError
from vip_workflow.rules.tiers.compiled import (
    Band,
    Chain,
    Condition,
    Eligibility,
    Factor,
    Interval,
    Plan,
    Quota,
    Scoring,
    Term,
    ValueSet,
    Weighted,
)

__all__ = ["RowEvaluator", "is_missing", "read_factor", "read_value", "undeclared_reason"]

MISSING: Any = object()
Getter = Callable[[str, Any], Any]  # get(field, MISSING): a mapping's .get or getattr
_NULL_TYPES = frozenset({"NAType", "NaTType"})  # pandas' missing-value markers
_LARGEST = sys.float_info.max  # an int beyond it has no float: not a finite number
_KIND_WORDS = {"number": "a number", "text": "a text", "boolean": "true or false"}


class CannotJudge(Exception):
    def __init__(self, reason: str, step: Step) -> None:
        self.reason = reason
        self.step = step


def _constant(value: object) -> Getter:
    """A getter that gives ``value`` whatever field is asked for."""
    return lambda _name, _default: value


def read_value(get: Getter, field: str, kind: str, label: str) -> Any:
    """The field's value, checked against its kind; raises CannotJudge otherwise."""
    value = get(field, MISSING)
    kind_of_value = type(value)
    if kind == "number":
        if kind_of_value is float:
            return _finite(value, label)
        if kind_of_value is int:
            return value if -_LARGEST <= value <= _LARGEST else _too_large(value, label)
    elif (kind == "text" and kind_of_value is str) or (kind == "boolean" and kind_of_value is bool):
        return value
    if is_missing(value):
        raise CannotJudge(f"{label} is missing", Step(label, "missing"))
    if kind == "number" and isinstance(value, Decimal):
        if value.is_nan():
            raise CannotJudge(f"{label} is missing", Step(label, "missing"))
        return _finite(float(value), label, value)
    if kind == "number" and isinstance(value, numbers.Real) and not _is_bool(value):
        if isinstance(value, numbers.Integral):
            whole = int(value)
            return whole if -_LARGEST <= whole <= _LARGEST else _too_large(whole, label)
        return _finite(float(value), label, value)
    if kind == "boolean" and _is_bool(value):
        return bool(value)
    if kind == "text" and isinstance(value, str):
        return str(value)
    note = f"expected {_KIND_WORDS[kind]}, got {type(value).__name__}"
    raise CannotJudge(f"{label}: {note}", Step(label, "wrong-type", value=value, note=note))


def undeclared_reason(factor: Factor, shown: str) -> str:
    """The reason a value outside an ``unknown: reject`` factor's values cannot be judged;
    ``shown`` is the value as text (quoted for a text). The same on every path."""
    allowed = ", ".join(value_text(v) for v in factor.values or ())
    return f"{factor.label} {shown} is not one of the declared values ({allowed})"


def value_text(value: Any) -> str:
    """A declared value as a reason shows it: texts quoted, true/false, numbers plainly."""
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    return show_value(value)


def read_factor(get: Getter, factor: Factor) -> Any:
    """The factor's value (see ``read_value``); under ``unknown: reject`` it must also be one
    of the factor's declared values."""
    value = read_value(get, factor.field, factor.kind, factor.label)
    if factor.reject_unknown and value not in (factor.values or ()):
        raise CannotJudge(undeclared_reason(factor, value_text(value)),
                          Step(factor.label, "wrong-type", value=value,
                               note="not one of the declared values"))
    return value


def not_finite_reason(label: str) -> str:
    """The reason a record with ±inf in ``label`` cannot be judged (the same on every path)."""
    return f"{label} is not a finite number"


def _finite(number: float, label: str, shown: Any = None) -> float:
    """``number`` if finite; NaN is missing, ±inf is not a finite number."""
    if math.isfinite(number):
        return number
    if number != number:  # NaN
        raise CannotJudge(f"{label} is missing", Step(label, "missing"))
    raise CannotJudge(not_finite_reason(label),
                      Step(label, "wrong-type", value=number if shown is None else shown,
                           note="not a finite number"))


def _too_large(number: int, label: str) -> Any:
    """An integer no float can hold is not a finite number (as ±inf is)."""
    raise CannotJudge(not_finite_reason(label),
                      Step(label, "wrong-type", value=number, note="not a finite number"))


def _finite_score(total: float) -> float:
    """A score or weighted y that overflowed (±inf, or NaN from inf - inf) cannot judge."""
    if math.isfinite(total):
        return total
    raise CannotJudge(not_finite_reason("score"),
                      Step("score", "wrong-type", value=total, note="not a finite number"))


def aggregate_label(condition: Condition) -> str:
    """How an aggregate condition is named in steps and reasons: ``mean of last 3 bills``."""
    return f"{condition.aggregate} of last {condition.window} {condition.label}"


def is_missing(value: Any) -> bool:
    """Absent, None, NaN (of any kind: pandas writes NaN for a missing text too), pd.NA, NaT."""
    return (value is MISSING or value is None or (isinstance(value, float) and value != value)
            or type(value).__name__ in _NULL_TYPES)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or type(value).__name__ == "bool_"


def _first_band(bands: Sequence[Band], value: Any) -> Band | None:
    for band in bands:
        if band.matcher.contains(value):
            return band
    return None


Finder = Callable[[Any], "Band | None"]


def band_finder(bands: Sequence[Band]) -> Finder:
    """``_first_band`` for these bands, specialised once: intervals as flat bound tuples
    tried in file order, value sets as one lookup of the first band holding each value."""
    if bands and all(isinstance(b.matcher, Interval) for b in bands):
        bounds = tuple((b.matcher.low, b.matcher.high, b.matcher.low_closed,  # type: ignore[union-attr]
                        b.matcher.high_closed, b) for b in bands)  # type: ignore[union-attr]

        def in_interval(value: Any) -> Band | None:
            for low, high, low_closed, high_closed, band in bounds:
                if ((value >= low) if low_closed else (value > low)) and (
                        (value <= high) if high_closed else (value < high)):
                    return band
            return None
        return _bisected(bounds) or in_interval
    if bands and all(isinstance(b.matcher, ValueSet) for b in bands):
        first: dict[Any, Band] = {}
        try:
            for band in bands:
                for value in band.matcher.values:  # type: ignore[union-attr]
                    first.setdefault(value, band)
        except TypeError:  # an unhashable declared value: try the bands in order
            return lambda value: _first_band(bands, value)

        def in_set(value: Any) -> Band | None:
            try:
                return first.get(value)
            except TypeError:  # an unhashable value is in no set of hashable ones
                return None
        return in_set
    return lambda value: _first_band(bands, value)


Bounds = tuple[float, float, bool, bool, Band]


def _bisected(bounds: tuple[Bounds, ...]) -> Finder | None:
    """A binary search over the bands when no two of them share a value (so the first band
    holding a value is the only one): ordered by their low bound, each value has at most two
    candidates, the band starting at or below it and the one before. None when bands overlap
    or are too few to gain from it."""
    live = sorted((b for b in bounds if b[0] < b[1] or (b[0] == b[1] and b[2] and b[3])),
                  key=lambda b: (b[0], not b[2]))
    if len(live) < 8:
        return None
    for (_, high, _, high_closed, _), (low, _, low_closed, _, _) in itertools.pairwise(live):
        if high > low or (high == low and high_closed and low_closed):
            return None  # overlapping: the file order decides, try them in order
    lows = [b[0] for b in live]

    def search(value: Any) -> Band | None:
        at = bisect.bisect_right(lows, value) - 1
        for low, high, low_closed, high_closed, band in live[max(at - 1, 0):at + 1]:
            if ((value >= low) if low_closed else (value > low)) and (
                    (value <= high) if high_closed else (value < high)):
                return band
        return None
    return search


def _getter(record: Any) -> Getter:
    if type(record) is dict or isinstance(record, Mapping):
        return record.get
    return lambda name, default: getattr(record, name, default)


class RowEvaluator:
    """Judges one record against a compiled plan, recording every step."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.rank = {tier: position for position, tier in enumerate(plan.tiers)}
        self.splits = dict(plan.subtiers)
        scheme = plan.scheme
        factors = [*getattr(scheme, "factors", ()), *(s.factor for s in self.splits.values())]
        if isinstance(scheme, Quota) and isinstance(scheme.score, Scoring):
            factors += scheme.score.factors
        #: each factor's bands as a specialised finder (by the factor's identity)
        self._finders = {id(f): band_finder(f.bands) for f in factors}
        self._chain_factors = tuple((f, self._finders[id(f)])
                                    for f in getattr(scheme, "factors", ()))
        policy = getattr(scheme, "policy", None)
        default = getattr(scheme, "default", None)
        #: the chain's closing notes, written once
        self._notes = {tier: f"{policy} tier reached → {tier}" for tier in plan.tiers}
        self._notes["default"] = f"no factor matched → default {default}"
        self._id_fields = tuple(dict.fromkeys(
            name for name in (plan.id_field, "customer_id", "id") if name is not None))
        self._base: Callable[[Getter, list[Step]], tuple[str, str, float | None]]
        if isinstance(scheme, Chain):
            self._base = self._chain
        elif isinstance(scheme, Scoring | Weighted):
            self._base = self._scored
        elif isinstance(scheme, Eligibility):
            self._base = self._eligibility
        else:
            self._base = self._no_portfolio

    # -- one record ------------------------------------------------------------------------
    def judge(self, record: Any, *, quota: Placement | None = None) -> Decision:
        get = _getter(record)
        customer = self._customer(get)
        steps: list[Step] = []
        tier: str | None
        rule: str | None
        score: float | None = None
        reason: str | None = None
        base: str | None = None
        try:
            if quota is not None:
                scheme: Quota = self.plan.scheme  # type: ignore[assignment]
                if scheme.score is not None:  # the score's terms, for the explanation
                    self.score(get, scheme.score, steps)
                tier, rule, score = quota.tier, quota.rule, quota.key
                steps.append(Step("quota", "note", value=score, tier=tier, rule=rule,
                                  note=quota.note(scheme)))
            else:
                tier, rule, score = self._base(get, steps)
            base = tier
            if self.splits:
                tier = self._split(get, tier, steps)
        except CannotJudge as problem:
            steps.append(problem.step)
            tier, rule, reason = None, None, problem.reason
        computed = tier
        override = None if self.plan.override is None else self._override(get, steps)
        if override is not None:
            if isinstance(override, str):
                return Decision(None, None, tuple(steps), reason=override, computed_tier=computed,
                                base_tier=base, score=score, customer=customer,
                                book=self.plan.name)
            return Decision(override.tier, "override", tuple(steps), computed_tier=computed,
                            base_tier=base, override=override, score=score, customer=customer,
                            book=self.plan.name)
        return Decision(tier, rule, tuple(steps), reason, computed, base, None, score, customer,
                        self.plan.name)

    def _customer(self, get: Getter) -> Any:
        for name in self._id_fields:
            value = get(name, MISSING)
            if value is not MISSING:
                return value
        return None

    # -- schemes ---------------------------------------------------------------------------
    def _chain(self, get: Getter, steps: list[Step]) -> tuple[str, str, float | None]:
        scheme: Chain = self.plan.scheme  # type: ignore[assignment]
        best: Band | None = None
        best_rank = len(self.rank)
        rank_of = self.rank
        for factor, find in self._chain_factors:
            value = read_factor(get, factor)
            band = find(value)
            if band is None:
                steps.append(Step(factor.label, "miss", value))
                continue
            tier: str = band.tier  # type: ignore[assignment]
            steps.append(Step(factor.label, "match", value, band.matcher.text, tier, None,
                              band.id))
            if scheme.policy == "first":
                return tier, band.id, None
            rank = rank_of[tier]
            if rank < best_rank:
                best, best_rank = band, rank
                if rank == 0:
                    break
        if best is None:
            steps.append(Step("policy", "note", None, None, scheme.default, None, None,
                              self._notes["default"]))
            return scheme.default, "default", None
        tier = best.tier  # type: ignore[assignment]
        steps.append(Step("policy", "note", None, None, tier, None, None, self._notes[tier]))
        return tier, best.id, None

    def _scored(self, get: Getter, steps: list[Step]) -> tuple[str, str, float | None]:
        scheme: Scoring | Weighted = self.plan.scheme  # type: ignore[assignment]
        total = _finite_score(self.score(get, scheme, steps))
        band = _first_band(scheme.tier_bands, total)
        if band is None:
            steps.append(Step("score", "note", value=total, tier=scheme.default,
                              note=f"total {total:g} in no band → default {scheme.default}"))
            return scheme.default, "default", total
        steps.append(Step("score", "match", value=total, band=band.matcher.text, tier=band.tier,
                          rule=band.id))
        return band.tier, band.id, total  # type: ignore[return-value]

    def score(self, get: Getter, scheme: Scoring | Weighted, steps: list[Step]) -> float:
        """The total of a scoring scheme or the y of a weighted model."""
        if isinstance(scheme, Scoring):
            total = 0.0
            for factor in scheme.factors:
                total = total + self._points(get, factor, steps)
            return total
        y = scheme.intercept
        if y:
            steps.append(Step("intercept", "note", value=y, note=show_value(y)))
        for term in scheme.terms:
            y = y + self._term_value(get, term, steps)
        return y

    def _points(self, get: Getter, factor: Factor, steps: list[Step]) -> float:
        value = read_factor(get, factor)
        band = self._finders[id(factor)](value)
        if band is None:
            points = factor.otherwise if factor.otherwise is not None else 0.0
            steps.append(Step(factor.label, "miss", value, None, None, points, None,
                              f"{points:g} points"))
            return points
        steps.append(Step(factor.label, "match", value, band.matcher.text, None, band.points,
                          band.id))
        return band.points  # type: ignore[return-value]

    @staticmethod
    def _term_value(get: Getter, term: Term, steps: list[Step]) -> float:
        """The term's contribution, weight × value; the step shows the value read."""
        value = read_value(get, term.field, term.kind, term.label)
        weight = show_value(term.weight)
        if term.mapping is None:
            contribution = term.weight * value
            steps.append(Step(term.label, "note", value=value, points=contribution,
                              note=f"{show_value(value)} × {weight} = "
                                   f"{show_value(contribution)}"))
            return contribution  # type: ignore[no-any-return]
        mapped = dict(term.mapping).get(value, term.otherwise)
        if mapped is None:
            reason = f"{term.label} {value!r} has no number in the model's map"
            raise CannotJudge(reason, Step(term.label, "wrong-type", value=value,
                                           note="not in the model's map"))
        contribution = term.weight * mapped
        steps.append(Step(term.label, "note", value=value, points=contribution,
                          note=f"{show_value(value)} → {show_value(mapped)}, × {weight} = "
                               f"{show_value(contribution)}"))
        return contribution

    def _eligibility(self, get: Getter, steps: list[Step]) -> tuple[str, str, float | None]:
        scheme: Eligibility = self.plan.scheme  # type: ignore[assignment]
        for condition in scheme.conditions:
            if condition.aggregate is None:
                value = read_value(get, condition.field, condition.kind, condition.label)
                label = condition.label
            else:
                value = self._aggregate(get, condition.field, condition.aggregate,
                                        condition.window, condition.label)  # type: ignore[arg-type]
                label = aggregate_label(condition)
                value = _finite(value, label)  # a sum of finite months can still overflow
            if not condition.matcher.contains(value):
                steps.append(Step(label, "miss", value=value,
                                  note=f"not in {condition.matcher.text} → {scheme.default}"))
                return scheme.default, "default", None
            steps.append(Step(label, "match", value=value, band=condition.matcher.text))
        steps.append(Step("eligibility", "note", tier=scheme.tier,
                          note=f"all conditions hold → {scheme.tier}"))
        return scheme.tier, scheme.rule, None

    @staticmethod
    def _aggregate(get: Getter, field: str, how: str, window: int, label: str) -> float:
        months = get(field, MISSING)
        if is_missing(months):
            raise CannotJudge(f"{label} is missing", Step(label, "missing"))
        if isinstance(months, str | bytes | Mapping) or not isinstance(months, Iterable):
            note = f"expected a list of monthly numbers, got {type(months).__name__}"
            raise CannotJudge(f"{label}: {note}", Step(label, "wrong-type", value=months,
                                                       note=note))
        months = list(months)
        if len(months) < window:
            note = f"needs {window} months, has {len(months)}"
            raise CannotJudge(f"{label}: {note}", Step(label, "wrong-type", value=months,
                                                       note=note))
        recent = [read_value(_constant(v), field, "number", label) for v in months[-window:]]
        if how == "last":
            return float(recent[-1])
        if how == "min":
            return float(min(recent))
        if how == "max":
            return float(max(recent))
        total = 0.0
        for value in recent:
            total = total + value
        return total / window if how == "mean" else total

    def _no_portfolio(self, get: Getter, steps: list[Step]) -> tuple[str, str, float | None]:
        raise PortfolioRequiredError(
            f"rule book {self.plan.name!r} assigns tiers by quota (a share of the portfolio): "
            "judge the whole portfolio with judge_many()",
        )

    # -- sub-tiers and overrides -----------------------------------------------------------
    def _split(self, get: Getter, tier: str, steps: list[Step]) -> str:
        split = self.splits.get(tier)
        if split is None:
            return tier
        factor = split.factor
        value = read_factor(get, factor)
        band = self._finders[id(factor)](value)
        if band is None:
            steps.append(Step(factor.label, "miss", value=value, tier=split.default,
                              note=f"sub-tier of {tier} → {split.default}"))
            return split.default
        steps.append(Step(factor.label, "match", value=value, band=band.matcher.text,
                          tier=band.tier, rule=band.id, note=f"sub-tier of {tier}"))
        return band.tier  # type: ignore[return-value]

    def _override(self, get: Getter, steps: list[Step]) -> Override | str | None:
        fields = self.plan.override
        if fields is None:
            return None
        wanted = get(fields.tier, MISSING)
        if wanted is MISSING or wanted is None or (isinstance(wanted, float) and wanted != wanted):
            return None
        if not isinstance(wanted, str) or wanted not in self.rank:
            reason = (f"override tier {wanted!r} is not a declared tier "
                      f"({', '.join(self.plan.tiers)})")
            steps.append(Step("override", "wrong-type", value=wanted, note="not a declared tier"))
            return reason
        by, why = get(fields.by, MISSING), get(fields.reason, MISSING)
        if not (isinstance(by, str) and by.strip() and isinstance(why, str) and why.strip()):
            steps.append(Step("override", "wrong-type", value=wanted, note="who or why missing"))
            return (f"an override needs who ({fields.by}) and why ({fields.reason}) "
                    "as non-empty texts")
        steps.append(Step("override", "note", value=wanted, tier=wanted,
                          note=f"by {by}: {why} → {wanted}"))
        return Override(wanted, by, why)

    # -- a portfolio, row by row (the reference for quotas) --------------------------------
    def quota_keys(self, records: Sequence[Any]) -> list[float | CannotJudge]:
        """Each record's ranking key, or why it has none."""
        scheme: Quota = self.plan.scheme  # type: ignore[assignment]
        keys: list[float | CannotJudge] = []
        for record in records:
            get = _getter(record)
            try:
                if scheme.by is not None:
                    keys.append(float(read_value(get, scheme.by, "number", scheme.by)))
                else:
                    keys.append(_finite_score(self.score(get, scheme.score, [])))  # type: ignore[arg-type]
            except CannotJudge as problem:
                keys.append(problem)
        return keys

    def judge_rows(self, records: Iterable[Any]) -> list[Decision]:
        """Judge each record; a quota scheme ranks them against each other."""
        records = list(records)
        if not isinstance(self.plan.scheme, Quota):
            return [self.judge(record) for record in records]
        keys = self.quota_keys(records)
        places = quota_tiers(self.plan.scheme, [k.reason if isinstance(k, CannotJudge) else k
                                                for k in keys])
        return [
            self.judge(record, quota=place) if isinstance(place, Placement)
            else self._quota_failure(record, key)  # type: ignore[arg-type]
            for record, key, place in zip(records, keys, places, strict=True)
        ]

    def _quota_failure(self, record: Any, problem: CannotJudge) -> Decision:
        get = _getter(record)
        steps = [problem.step]
        override = self._override(get, steps)
        customer = self._customer(get)
        if isinstance(override, Override):
            return Decision(override.tier, "override", tuple(steps), override=override,
                            customer=customer, book=self.plan.name)
        return Decision(None, None, tuple(steps), reason=override or problem.reason,
                        customer=customer, book=self.plan.name)


@frozen
class Placement:
    """Where a quota put one record: its tier, its rank and the cut that rank made."""

    tier: str
    rule: str
    key: float
    rank: int  # 1 is the best; equal keys share the best rank among them
    count: int  # how many records were ranked
    index: int  # position of the tier's cut in ``Quota.cuts``

    def note(self, scheme: Quota) -> str:
        """E.g. ``size 95 ranked 6 of 100, highest first; B takes the top 30 % (rank ≤ 30) → B``."""
        what = f"{scheme.by or 'score'} {show_value(self.key)}"
        order = "highest" if scheme.descending else "lowest"
        head = f"{what} ranked {self.rank} of {self.count}, {order} first"
        cumulative = scheme.cuts[self.index][1]
        if self.index < len(scheme.cuts) - 1:
            return (f"{head}; {self.tier} takes the top {_percent(cumulative)} "
                    f"(rank ≤ {cut_rank(cumulative, self.count)}) → {self.tier}")
        if self.index == 0:
            return f"{head}; {self.tier} takes everyone → {self.tier}"
        before = scheme.cuts[self.index - 1][1]
        return (f"{head}; past the top {_percent(before)} "
                f"(rank > {cut_rank(before, self.count)}) → {self.tier}")


def _percent(share: Fraction) -> str:
    return f"{float(share * 100):g} %"


def cut_rank(cumulative: Fraction, count: int) -> int:
    """The last rank inside a cumulative share: ``better < cumulative × count`` is
    ``rank ≤ ceil(cumulative × count)`` (exact: shares are fractions)."""
    return math.ceil(cumulative * count)


def quota_tiers(scheme: Quota, keys: list[float | str]) -> list[Placement | str]:
    """Cut ranked keys by cumulative shares; equal keys share the better tier.

    A record is in the first tier whose cumulative share *s* satisfies
    ``better < s × n`` (``better``: records strictly better, ``n``: records ranked), computed
    exactly: *s* is a fraction, so 0.07 of 100 is 7, never 7.000000000000001."""
    valid = sorted((k for k in keys if not isinstance(k, str)), reverse=scheme.descending)
    n = len(valid)
    result: list[Placement | str] = []
    for key in keys:
        if isinstance(key, str):
            result.append(key)
            continue
        better = _count_better(valid, key, scheme.descending)
        for index, (tier, cumulative) in enumerate(scheme.cuts):
            if better < cumulative * n or index == len(scheme.cuts) - 1:
                result.append(Placement(tier, f"quota.{tier}", key, better + 1, n, index))
                break
    return result


def _count_better(ordered: list[float], key: float, descending: bool) -> int:
    """How many keys are strictly better than ``key`` in ``ordered`` (sorted best first)."""
    low, high = 0, len(ordered)
    while low < high:
        middle = (low + high) // 2
        if (ordered[middle] > key) if descending else (ordered[middle] < key):
            low = middle + 1
        else:
            high = middle
    return low
