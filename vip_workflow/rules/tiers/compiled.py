"""The compiled form of a rule file: normalised, immutable, independent of any back end.

A validated ``RuleFile`` is compiled once into these attrs values. The row evaluator
(``evaluate.py``) walks them to judge one record with a trace; the expression builder
(``expressions.py``) turns them into a back-end-neutral expression tree that a columnar back end
(``_polars.py`` today, SQL later) runs over a whole portfolio.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any, Literal

from attrs import field, frozen

from vip_workflow.errors import RuleFileError
from vip_workflow.rules.files.document import Document
from vip_workflow.rules.tiers import schema

__all__ = [
    "Band",
    "Chain",
    "Condition",
    "Eligibility",
    "Factor",
    "Interval",
    "Plan",
    "Quota",
    "Scoring",
    "Split",
    "Term",
    "ValueSet",
    "Weighted",
    "compile_rules",
]

Kind = Literal["number", "text", "boolean"]


@frozen
class Interval:
    """A numeric interval with explicit inclusive or exclusive bounds."""

    low: float
    high: float
    low_closed: bool
    high_closed: bool
    text: str = field(eq=False)

    def contains(self, value: float) -> bool:
        low_ok = value >= self.low if self.low_closed else value > self.low
        if not low_ok:
            return False
        return value <= self.high if self.high_closed else value < self.high

    @property
    def is_empty(self) -> bool:
        if self.low > self.high:
            return True
        return self.low == self.high and not (self.low_closed and self.high_closed)


@frozen
class ValueSet:
    """A set of category values (text, booleans or exact numbers)."""

    values: tuple[Any, ...]
    text: str = field(eq=False)

    def contains(self, value: Any) -> bool:
        return value in self.values


Matcher = Interval | ValueSet


@frozen
class Band:
    """One band: a matcher and what it gives (a tier or points)."""

    id: str
    matcher: Matcher
    tier: str | None = None
    points: float | None = None


@frozen
class Factor:
    """A factor reads one field and finds the first band its value falls in."""

    id: str
    field: str
    label: str
    kind: Kind
    bands: tuple[Band, ...]
    otherwise: float | None = None
    values: tuple[Any, ...] | None = None
    #: a value outside ``values`` makes the record unjudgeable (``unknown: reject``)
    reject_unknown: bool = False


@frozen
class Chain:
    policy: Literal["first", "highest"]
    factors: tuple[Factor, ...]
    default: str


@frozen
class Scoring:
    factors: tuple[Factor, ...]
    tier_bands: tuple[Band, ...]
    default: str


@frozen
class Term:
    field: str
    label: str
    weight: float
    kind: Kind
    mapping: tuple[tuple[str, float], ...] | None = None
    otherwise: float | None = None


@frozen
class Weighted:
    intercept: float
    terms: tuple[Term, ...]
    tier_bands: tuple[Band, ...]
    default: str


@frozen
class Quota:
    """Rank the portfolio by a field or a score, then cut it by cumulative shares."""

    by: str | None
    score: Scoring | Weighted | None
    descending: bool
    # (tier, cumulative share) as exact fractions, e.g. 0.1 + 0.2 is 3/10, not
    # 0.30000000000000004; the last share is 1. Every back end compares ranks with these
    # in exact (integer) arithmetic, so all cut at the same customer.
    cuts: tuple[tuple[str, Fraction], ...]


MAX_SHARE_DENOMINATOR = 10**9  # shares are exact to 9 decimal places


def exact_share(share: float) -> Fraction:
    """A share as the decimal fraction it was written as: 0.07 is 7/100 (the float 0.07 is
    not). Shares with more than 9 decimal places are rounded to the nearest fraction with a
    denominator of at most 10**9 (0.3333333333333333 is 1/3)."""
    return Fraction(str(share)).limit_denominator(MAX_SHARE_DENOMINATOR)


@frozen
class Condition:
    field: str
    label: str
    kind: Kind
    matcher: Matcher
    aggregate: str | None = None
    window: int | None = None


@frozen
class Eligibility:
    conditions: tuple[Condition, ...]
    tier: str
    rule: str
    default: str


@frozen
class Split:
    """A sub-tier split of one tier by a second criterion."""

    factor: Factor
    default: str


Scheme = Chain | Scoring | Weighted | Quota | Eligibility


@frozen
class Plan:
    """Everything needed to judge a customer, and nothing about how a file looked."""

    name: str
    version: str
    tiers: tuple[str, ...]
    scheme: Scheme
    subtiers: tuple[tuple[str, Split], ...] = ()
    override: schema.OverrideFields | None = None
    id_field: str | None = None
    rule_ids: tuple[str, ...] = ()
    rule_tiers: tuple[str, ...] = ()  # the tier each rule gives, by position

    def rank(self, tier: str) -> int:
        """Position in the declared order: 0 is the highest tier."""
        return self.tiers.index(tier)

    @property
    def needs_portfolio(self) -> bool:
        return isinstance(self.scheme, Quota)

    def fields(self) -> tuple[str, ...]:
        """Input fields the plan may read, in first-use order."""
        names: list[str] = []
        scheme = self.scheme
        if isinstance(scheme, Quota):
            if scheme.by:
                names.append(scheme.by)
            scheme = scheme.score  # type: ignore[assignment]
        if isinstance(scheme, Chain | Scoring):
            names += [f.field for f in scheme.factors]
        elif isinstance(scheme, Weighted):
            names += [t.field for t in scheme.terms]
        elif isinstance(scheme, Eligibility):
            names += [c.field for c in scheme.conditions]
        names += [split.factor.field for _, split in self.subtiers]
        return tuple(dict.fromkeys(names))


def _kind_of_value(value: Any) -> Kind:
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else "text"


def _number_text(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return str(int(value)) if value == int(value) and abs(value) < 1e15 else repr(value)


def interval(low: float, high: float, low_closed: bool, high_closed: bool) -> Interval:
    """An Interval with its bracket text, e.g. ``[7000, 18000)``."""
    low_closed = low_closed and not math.isinf(low)
    high_closed = high_closed and not math.isinf(high)
    text = (
        f"{'[' if low_closed else '('}{_number_text(low)}, "
        f"{_number_text(high)}{']' if high_closed else ')'}"
    )
    return Interval(low, high, low_closed, high_closed, text)


_CLOSED = {
    "left": (True, False),
    "right": (False, True),
    "both": (True, True),
    "neither": (False, False),
}


class _Compiler:
    """Compiles a validated file, collecting every problem of meaning (``fail`` records one and
    compilation goes on, so that one run reports them all)."""

    def __init__(self, document: Document, rules: schema.RuleFile) -> None:
        self.doc = document
        self.rules = rules
        self.rule_ids: list[str] = []
        self.rule_tiers: list[str] = []
        self.problems: list[RuleFileError] = []

    # -- helpers ---------------------------------------------------------------------------
    def fail(self, reason: str, *where: str | int) -> None:
        self.problems.append(self.doc.error(reason, where))

    def raise_problems(self) -> None:
        """Raise one RuleFileError listing every problem found, in file order."""
        if not self.problems:
            return
        far = float("inf")
        problems = tuple(sorted(self.problems, key=lambda p: (
            far if p.line is None else p.line, far if p.column is None else p.column)))
        first = problems[0]
        raise RuleFileError(first.reason, path=first.path, line=first.line,
                            column=first.column, field=first.field, problems=problems)

    def tier(self, name: str, *where: str | int) -> str:
        if name not in self.rules.tiers:
            self.fail(
                f"unknown tier {name!r}; the file declares: {', '.join(self.rules.tiers)}", *where
            )
        return name

    def rule_id(self, wanted: str, *where: str | int, tier: str) -> str:
        if wanted in self.rule_ids:
            self.fail(f"the rule id {wanted!r} is used twice", *where)
        self.rule_ids.append(wanted)
        self.rule_tiers.append(tier)
        return wanted

    def matcher(self, match: schema.Match, closed: str, *where: str | int) -> Matcher:
        if match.in_ is not None:
            values = tuple(dict.fromkeys(match.in_))
            return ValueSet(values, "{" + ", ".join(str(v) for v in values) + "}")
        if match.range is not None:
            result = interval(*schema.parse_range(match.range))
        else:
            low_closed, high_closed = _CLOSED[match.closed or closed]
            low = -math.inf if match.min is None else match.min
            high = math.inf if match.max is None else match.max
            result = interval(low, high, low_closed, high_closed)
        if math.isnan(result.low) or math.isnan(result.high):
            self.fail("a bound is not a number", *where)
        if result.is_empty:
            self.fail(f"the interval {result.text} holds no value", *where)
        return result

    def kind_of(self, matchers: list[Matcher], *where: str | int) -> Kind:
        kinds: set[Kind] = set()
        for m in matchers:
            if isinstance(m, Interval):
                kinds.add("number")
            else:
                first = m.values[0]
                kinds.add(
                    "boolean"
                    if isinstance(first, bool)
                    else "number"
                    if isinstance(first, int | float)
                    else "text"
                )
        if len(kinds) > 1:
            self.fail(
                f"the bands mix kinds of values ({', '.join(sorted(kinds))}); a field holds "
                "one kind",
                *where,
            )
        return kinds.pop()

    # -- factors ---------------------------------------------------------------------------
    def factor(
        self, spec: schema.ChainFactor | schema.ScoreFactor | schema.SubtierSplit,
        where: tuple[str | int, ...], *, points: bool = False, rule_prefix: str | None = None,
    ) -> Factor:
        factor_id = getattr(spec, "id", None) or spec.field
        closed = spec.closed or self.rules.closed
        bands: list[Band] = []
        matchers: list[Matcher] = []
        specs: Sequence[schema.Band | schema.PointBand] = spec.bands
        for i, band in enumerate(specs):
            at = (*where, "bands", i)
            matcher = self.matcher(band, closed, *at)
            matchers.append(matcher)
            rule_id = band.id or f"{rule_prefix or factor_id}.{i + 1}"
            if points and isinstance(band, schema.PointBand):
                rule = self.rule_id(rule_id, *at, "id", tier=self.rules.tiers[-1])
                bands.append(Band(rule, matcher, points=band.points))
            elif isinstance(band, schema.Band):
                tier = self.tier(band.tier, *at, "tier")
                bands.append(Band(self.rule_id(rule_id, *at, "id", tier=tier), matcher, tier=tier))
            else:  # a scoring model's bands are PointBands, a chain's Bands (schema.py)
                raise TypeError(f"a {type(band).__name__} in a {type(spec).__name__}")
        kind = self.kind_of(matchers, *where, "bands")
        declared = None if isinstance(spec, schema.SubtierSplit) else spec.values
        values = tuple(declared) if declared else None
        reject = not isinstance(spec, schema.SubtierSplit) and spec.unknown == "reject"
        if reject and values is not None:
            values = self.declared_values(values, kind, *where, "values")
        return Factor(
            id=factor_id,
            field=spec.field,
            label=spec.label or factor_id,
            kind=kind,
            bands=tuple(bands),
            otherwise=getattr(spec, "otherwise", None),
            values=values,
            reject_unknown=reject,
        )

    def declared_values(self, values: tuple[Any, ...], kind: Kind,
                        *where: str | int) -> tuple[Any, ...]:
        """The allowed values of an ``unknown: reject`` factor: of the factor's kind, finite."""
        found = {_kind_of_value(v) for v in values}
        if found != {kind}:
            self.fail(f"the values must be of the bands' kind ({kind}), found "
                      f"{', '.join(sorted(found))}: a value of another kind would reject "
                      "every record", *where)
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            self.fail("the values must be finite numbers, not NaN or ±inf", *where)
        return tuple(dict.fromkeys(values))

    def factors(
        self, specs: list[Any], where: tuple[str | int, ...], *, points: bool = False
    ) -> tuple[Factor, ...]:
        result: list[Factor] = []
        for i, spec in enumerate(specs):
            name = spec.id or spec.field
            prefix = None
            if any(f.id == name for f in result):
                self.fail(f"two factors are named {name!r}; give one an id", *where, i, "id")
                prefix = f"{name}#{i}"  # so that its bands' ids do not repeat the problem
            result.append(self.factor(spec, (*where, i), points=points, rule_prefix=prefix))
        return tuple(result)

    def tier_bands(self, specs: list[schema.TierBand], where: tuple[str | int, ...]) -> tuple[
        Band, ...
    ]:
        bands = []
        for i, band in enumerate(specs):
            at = (*where, i)
            matcher = self.matcher(band, self.rules.closed, *at)
            if not isinstance(matcher, Interval):
                self.fail("bands on a score are numeric intervals (range or min/max)", *at)
            tier = self.tier(band.tier, *at, "tier")
            rule = self.rule_id(band.id or f"score.{i + 1}", *at, "id", tier=tier)
            bands.append(Band(rule, matcher, tier=tier))
        return tuple(bands)

    def terms(self, specs: list[schema.Term], where: tuple[str | int, ...]) -> tuple[Term, ...]:
        return tuple(
            Term(
                field=t.field,
                label=t.label or t.field,
                weight=t.weight,
                kind="text" if t.map is not None else "number",
                mapping=tuple(t.map.items()) if t.map is not None else None,
                otherwise=t.otherwise,
            )
            for t in specs
        )

    # -- schemes ---------------------------------------------------------------------------
    def scheme(self) -> Scheme:
        s = self.rules.scheme
        at: tuple[str | int, ...] = ("scheme",)
        if isinstance(s, schema.ChainScheme):
            factors = self.factors(s.factors, (*at, "factors"))
            return Chain(s.policy, factors, self.default(s.default, at))
        if isinstance(s, schema.ScoringScheme):
            factors = self.factors(s.factors, (*at, "factors"), points=True)
            bands = self.tier_bands(s.tiers, (*at, "tiers"))
            return Scoring(factors, bands, self.default(s.default, at))
        if isinstance(s, schema.WeightedScheme):
            terms = self.terms(s.terms, (*at, "terms"))
            bands = self.tier_bands(s.tiers, (*at, "tiers"))
            return Weighted(s.intercept, terms, bands, self.default(s.default, at))
        if isinstance(s, schema.QuotaScheme):
            return self.quota(s, at)
        assert isinstance(s, schema.EligibilityScheme)
        conditions = []
        for i, c in enumerate(s.conditions):
            where = (*at, "conditions", i)
            matcher = self.matcher(c, self.rules.closed, *where)
            kind = self.kind_of([matcher], *where)
            if c.aggregate and kind != "number":
                self.fail("an aggregate of months is a number: use range or min/max", *where)
            conditions.append(
                Condition(c.field, c.label or c.field, kind, matcher, c.aggregate, c.window)
            )
        tier = self.tier(s.tier, *at, "tier")
        rule = self.rule_id(s.rule or "eligible", *at, "rule", tier=tier)
        return Eligibility(tuple(conditions), tier, rule, self.default(s.default, at))

    def default(self, tier: str, at: tuple[str | int, ...]) -> str:
        tier = self.tier(tier, *at, "default")
        self.rule_id("default", *at, "default", tier=tier)
        return tier

    def quota(self, s: schema.QuotaScheme, at: tuple[str | int, ...]) -> Quota:
        score: Scoring | Weighted | None = None
        if s.score is not None:
            where = (*at, "score")
            if s.score.type == "scoring":
                factors = self.factors(s.score.factors or [], (*where, "factors"), points=True)
                score = Scoring(factors, (), "")
            else:
                score = Weighted(s.score.intercept, self.terms(s.score.terms or [], where), (), "")
        cuts: list[tuple[str, Fraction]] = []
        total = Fraction(0)
        slack = Fraction(1, MAX_SHARE_DENOMINATOR)
        for i, q in enumerate(s.quotas):
            where = (*at, "quotas", i)
            last = i == len(s.quotas) - 1
            if q.share is None and not last:
                self.fail("only the last quota may leave out its share (it takes the rest)", *where)
            total = Fraction(1) if q.share is None else (
                total + exact_share(q.share)).limit_denominator(MAX_SHARE_DENOMINATOR)
            if total > 1 + slack:
                self.fail(f"the shares add up to {float(total):g}, more than the whole "
                          "portfolio", *where)
            if last and abs(total - 1) > slack:
                self.fail(
                    f"the shares add up to {float(total):g}; leave out the last share so that "
                    "it takes the rest",
                    *where,
                )
            tier = self.tier(q.tier, *where, "tier")
            cuts.append((tier, Fraction(1) if last else min(total, Fraction(1))))
            self.rule_id(f"quota.{tier}", *where, "tier", tier=tier)
        return Quota(s.by, score, s.order == "descending", tuple(cuts))

    def subtiers(self) -> tuple[tuple[str, Split], ...]:
        splits = []
        for tier, split in (self.rules.subtiers or {}).items():
            where = ("subtiers", tier)
            self.tier(tier, *where)
            factor = self.factor(split, where, rule_prefix=f"{tier}.{split.field}")
            splits.append((tier, Split(factor, self.tier(split.default, *where, "default"))))
        return tuple(splits)


def compile_rules(document: Document, rules: schema.RuleFile) -> Plan:
    """Check a validated rule file's meaning and compile it; errors are located in the file."""
    compiler = _Compiler(document, rules)
    scheme = compiler.scheme()
    subtiers = compiler.subtiers()
    compiler.rule_id("override", "override", tier=rules.tiers[0])
    compiler.raise_problems()
    return Plan(
        name=rules.name,
        version=rules.version,
        tiers=tuple(rules.tiers),
        scheme=scheme,
        subtiers=subtiers,
        override=rules.override or None,
        id_field=rules.id_field,
        rule_ids=tuple(compiler.rule_ids),
        rule_tiers=tuple(compiler.rule_tiers),
    )
