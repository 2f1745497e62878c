"""A back-end-neutral expression tree for judging a whole portfolio at once.

``build_query(plan)`` turns a compiled plan into a ``Query``: three expressions over the input
columns — the index of the deciding rule (``None`` when the customer cannot be judged), the
reason when it cannot, and the tier before a manual override. Tiers and rules are small integer
codes (positions in ``plan.tiers`` and ``plan.rule_ids``), so a back end only compares numbers
and maps codes to names at the end.

The nodes are the vocabulary a SQL back end also has: CASE, comparisons, IN, COALESCE-free
arithmetic, LEAST, RANK() OVER and COUNT() OVER. The polars back end is ``_polars.py``.
"""

from __future__ import annotations

from typing import Any, Literal

from attrs import frozen

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
    Weighted,
)
from vip_workflow.rules.tiers.evaluate import (
    aggregate_label,
    not_finite_reason,
    undeclared_reason,
)

__all__ = ["Query", "build_query"]

Kind = Literal["number", "text", "boolean", "months"]


class Expr:
    """Base of the expression nodes."""


@frozen
class Col(Expr):
    """An input column read as ``kind``; unusable values (absent, wrong type, null, NaN, ±inf)
    make the record unjudgeable (see ``Missing``)."""

    name: str
    kind: Kind
    label: str


@frozen
class Lit(Expr):
    value: Any
    kind: Literal["int", "float", "text", "bool", "null-int"] = "int"


@frozen
class Missing(Expr):
    """True where ``col`` cannot be read as its kind (absent, wrong type, null, NaN, or ±inf in
    a number column)."""

    col: Col


@frozen
class MonthsMissing(Expr):
    """True where a list column lacks ``window`` usable (finite) trailing numbers."""

    col: Col
    window: int


@frozen
class Problem(Expr):
    """The reason text for a Missing column (``"revenue is missing"``, ``"revenue is not a
    finite number"`` for ±inf, wrong type …). For a list of months, ``window`` is how many
    trailing months the condition reads, so a back end can say which one is unusable."""

    col: Col
    window: int | None = None


@frozen
class Concat(Expr):
    """A text joined from parts: literal texts, and column values shown as text."""

    items: tuple[Expr, ...]


@frozen
class NotFinite(Expr):
    """True where a computed number (a score, an aggregate of months) is NaN or ±inf."""

    value: Expr


@frozen
class InInterval(Expr):
    value: Expr
    interval: Interval


@frozen
class InSet(Expr):
    value: Expr
    values: tuple[Any, ...]


@frozen
class Lookup(Expr):
    """Map values through a table; values not in it give ``default``."""

    value: Expr
    table: tuple[tuple[Any, Any], ...]
    default: Any
    kind: Literal["int", "float"]


@frozen
class Gather(Expr):
    """``table[index]``; a null index gives null."""

    table: tuple[int, ...]
    index: Expr


@frozen
class Case(Expr):
    whens: tuple[tuple[Expr, Expr], ...]
    otherwise: Expr


@frozen
class Compare(Expr):
    op: Literal["==", "<"]
    left: Expr
    right: Expr


@frozen
class Arith(Expr):
    op: Literal["+", "*", "/"]
    left: Expr
    right: Expr


@frozen
class Least(Expr):
    """The smallest non-null operand (null when all are null)."""

    items: tuple[Expr, ...]


@frozen
class Logic(Expr):
    op: Literal["and", "or", "not"]
    items: tuple[Expr, ...]


@frozen
class IsNull(Expr):
    value: Expr


@frozen
class MonthItem(Expr):
    """The element ``back`` places from the end of a list column (1 = the last)."""

    col: Col
    back: int


@frozen
class Better(Expr):
    """Window: how many rows have a strictly better (non-null) value, as an integer."""

    value: Expr
    descending: bool


@frozen
class CountValid(Expr):
    """Window: how many rows have a non-null value, as an integer."""

    value: Expr


@frozen
class NonEmptyText(Expr):
    """True where the column is text with something other than blanks."""

    col: Col


@frozen
class Present(Expr):
    """True where the column exists and holds a non-null (non-NaN) value of any type."""

    name: str


@frozen
class Ref(Expr):
    """A named intermediate result (a ``let``): computed once, used many times."""

    name: str


@frozen
class Query:
    """The portfolio query: ``lets`` are computed first, in order, as named intermediates
    (a SQL back end makes them CTE columns); then ``rule``, ``reason`` and ``computed_tier``."""

    lets: tuple[tuple[str, Expr], ...]
    rule: Expr
    reason: Expr
    computed_tier: Expr | None
    tier_of_rule: tuple[int, ...]
    uses_override: bool


NULL = Lit(None, "null-int")


def _and(*items: Expr) -> Expr:
    return items[0] if len(items) == 1 else Logic("and", items)


def _or(*items: Expr) -> Expr:
    return items[0] if len(items) == 1 else Logic("or", items)


def _not(item: Expr) -> Expr:
    return Logic("not", (item,))


class _Builder:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.rule_index = {rule: i for i, rule in enumerate(plan.rule_ids)}
        self.tier_rank = {tier: i for i, tier in enumerate(plan.tiers)}
        self.table = tuple(self.tier_rank[tier] for tier in plan.rule_tiers)
        self.lets: list[tuple[str, Expr]] = []

    def let(self, expr: Expr, hint: str) -> Ref:
        """Name an intermediate result so that it is computed once."""
        name = f"__vw_{len(self.lets)}_{hint}"
        self.lets.append((name, expr))
        return Ref(name)

    def rule(self, band_or_id: Band | str) -> Lit:
        """The code of a rule (a band or a rule id)."""
        rule_id = band_or_id if isinstance(band_or_id, str) else band_or_id.id
        return Lit(self.rule_index[rule_id])

    # -- factors ---------------------------------------------------------------------------
    @staticmethod
    def col(factor: Factor) -> Col:
        return Col(factor.field, factor.kind, factor.label)

    def fails(self, factor: Factor) -> list[tuple[Expr, Expr]]:
        """(condition, reason) pairs, in order, that stop a record at this factor: an unusable
        value, then (``unknown: reject``) a value outside the declared ones."""
        col = self.col(factor)
        result: list[tuple[Expr, Expr]] = [(Missing(col), Problem(col))]
        if factor.reject_unknown:
            quote = "'" if factor.kind == "text" else ""
            marker = "\x00value\x00"  # where the value goes in the reason
            head, tail = undeclared_reason(factor, marker).split(marker)
            reason = Concat((Lit(head + quote, "text"), col, Lit(quote + tail, "text")))
            result.append((_not(InSet(col, factor.values or ())), reason))
        return result

    def band_value(self, factor: Factor, value_of: Any, default: Expr, kind: str) -> Expr:
        """The first band's value for the factor's column (rule index or points)."""
        col = self.col(factor)
        if factor.kind != "number" or all(not isinstance(b.matcher, Interval)
                                           for b in factor.bands):
            table: dict[Any, Any] = {}
            for band in factor.bands:
                for v in band.matcher.values:  # type: ignore[union-attr]
                    table.setdefault(v, value_of(band).value)
            fallback = default.value if isinstance(default, Lit) else None
            return Lookup(col, tuple(table.items()), fallback, kind)  # type: ignore[arg-type]
        whens = tuple((self.matches(col, b), value_of(b)) for b in factor.bands)
        return Case(whens, default)

    def matches(self, value: Expr, band: Band) -> Expr:
        if isinstance(band.matcher, Interval):
            return InInterval(value, band.matcher)
        return InSet(value, band.matcher.values)

    # -- schemes ---------------------------------------------------------------------------
    def chain(self, scheme: Chain) -> tuple[Expr, Expr]:
        rule_of = {f.id: self.let(self.band_value(f, self.rule, NULL, "int"), "band")
                   for f in scheme.factors}
        default = self.rule("default")
        whens: list[tuple[Expr, Expr]] = []
        problems: list[tuple[Expr, Expr]] = []
        if scheme.policy == "first":
            for factor in scheme.factors:
                decided = _not(IsNull(rule_of[factor.id]))
                for cond, why in self.fails(factor):
                    whens.append((cond, NULL))
                    problems.append((cond, why))
                whens += [(decided, rule_of[factor.id])]
                problems += [(decided, Lit(None, "text"))]
            return Case(tuple(whens), default), Case(tuple(problems), Lit(None, "text"))
        # highest: the best tier any factor reaches, stopping at the top tier
        tier_of = {f.id: self.let(Gather(self.table, rule_of[f.id]), "tier")
                   for f in scheme.factors}
        least = Least(tuple(tier_of.values()))
        top = Lit(0)
        for factor in scheme.factors:
            at_top = Compare("==", tier_of[factor.id], top)
            for cond, why in self.fails(factor):
                whens.append((cond, NULL))
                problems.append((cond, why))
            whens += [(at_top, top)]
            problems += [(at_top, Lit(None, "text"))]
        default_rank = Lit(self.tier_rank[scheme.default])
        best = self.let(Case(tuple(whens), Case(((IsNull(least), default_rank),), least)),
                        "best")
        rule_whens: list[tuple[Expr, Expr]] = [(IsNull(best), NULL)]
        rule_whens += [(Compare("==", tier_of[f.id], best), rule_of[f.id])
                       for f in scheme.factors]
        return Case(tuple(rule_whens), default), Case(tuple(problems), Lit(None, "text"))

    def score(self, scheme: Scoring | Weighted) -> tuple[Expr, list[tuple[Expr, Expr]]]:
        """The total (or y) and the (condition, reason) pairs that stop it."""
        fails: list[tuple[Expr, Expr]] = []
        if isinstance(scheme, Scoring):
            total: Expr = Lit(0.0, "float")
            for factor in scheme.factors:
                fails += self.fails(factor)
                otherwise = Lit(factor.otherwise if factor.otherwise is not None else 0.0, "float")
                points = self.let(self.band_value(factor, lambda b: Lit(b.points, "float"),
                                                  otherwise, "float"), "points")
                total = Arith("+", total, points)
            return self.let(total, "total"), fails
        y: Expr = Lit(scheme.intercept, "float")
        for term in scheme.terms:
            col = Col(term.field, term.kind, term.label)
            fails.append((Missing(col), Problem(col)))
            x: Expr = col
            if term.mapping is not None:
                x = Lookup(col, term.mapping, term.otherwise, "float")
                if term.otherwise is None:
                    why = Concat((Lit(f"{term.label} '", "text"), col,  # as judge: the value
                                  Lit("' has no number in the model's map", "text")))
                    fails.append((IsNull(x), why))
            y = Arith("+", y, Arith("*", Lit(term.weight, "float"), x))
        return self.let(y, "y"), fails

    def scored(self, scheme: Scoring | Weighted) -> tuple[Expr, Expr]:
        total, fails = self.score(scheme)
        fails.append((NotFinite(total), Lit(not_finite_reason("score"), "text")))
        whens = [(cond, NULL) for cond, _ in fails]
        whens += [(self.matches(total, b), self.rule(b)) for b in scheme.tier_bands]
        default = self.rule("default")
        return Case(tuple(whens), default), Case(tuple(fails), Lit(None, "text"))

    def quota(self, scheme: Quota) -> tuple[Expr, Expr]:
        if scheme.by is not None:
            col = Col(scheme.by, "number", scheme.by)
            fails: list[tuple[Expr, Expr]] = [(Missing(col), Problem(col))]
            key: Expr = col
        else:
            assert scheme.score is not None  # compile_rules gives a quota a field or a score
            key, fails = self.score(scheme.score)
            fails.append((NotFinite(key), Lit(not_finite_reason("score"), "text")))
        failed = _or(*(cond for cond, _ in fails))
        valid_key = self.let(Case(((failed, Lit(None, "float")),), key), "key")
        better = Better(valid_key, scheme.descending)
        count = CountValid(valid_key)
        whens: list[tuple[Expr, Expr]] = [(failed, NULL)]
        for tier, cumulative in scheme.cuts[:-1]:
            # better < (p/q) × count, exactly: better × q < p × count in integers (shares are
            # fractions with q ≤ 10**9, so the products fit in 64 bits for any real portfolio)
            scaled = Arith("*", better, Lit(cumulative.denominator))
            limit = Arith("*", Lit(cumulative.numerator), count)
            whens.append((Compare("<", scaled, limit), self.rule(f"quota.{tier}")))
        last = scheme.cuts[-1][0]
        return Case(tuple(whens), self.rule(f"quota.{last}")), Case(
            tuple(fails), Lit(None, "text")
        )

    def eligibility(self, scheme: Eligibility) -> tuple[Expr, Expr]:
        default = self.rule("default")
        whens: list[tuple[Expr, Expr]] = []
        problems: list[tuple[Expr, Expr]] = []
        for condition in scheme.conditions:
            missing, value = self.condition_value(condition)
            holds = (InInterval(value, condition.matcher)
                     if isinstance(condition.matcher, Interval)
                     else InSet(value, condition.matcher.values))
            whens += [(missing, NULL)]
            problems += [(missing, Problem(self._months_col(condition), condition.window)
                          if condition.aggregate else Problem(value))]  # type: ignore[arg-type]
            if condition.aggregate is not None:  # a sum of finite months can still overflow
                label = aggregate_label(condition)
                whens += [(NotFinite(value), NULL)]
                problems += [(NotFinite(value), Lit(not_finite_reason(label), "text"))]
            whens += [(_not(holds), default)]
            problems += [(_not(holds), Lit(None, "text"))]
        return (Case(tuple(whens), self.rule(scheme.rule)),
                Case(tuple(problems), Lit(None, "text")))

    @staticmethod
    def _months_col(condition: Condition) -> Col:
        return Col(condition.field, "months", condition.label)

    def condition_value(self, condition: Condition) -> tuple[Expr, Expr]:
        if condition.aggregate is None:
            col = Col(condition.field, condition.kind, condition.label)
            return Missing(col), col
        col = self._months_col(condition)
        window: int = condition.window  # type: ignore[assignment]
        items = [MonthItem(col, back) for back in range(window, 0, -1)]
        how = condition.aggregate
        value: Expr
        if how == "last":
            value = items[-1]
        elif how == "min":
            value = Least(tuple(items))
        elif how == "max":
            value = Arith("*", Lit(-1.0, "float"),
                          Least(tuple(Arith("*", Lit(-1.0, "float"), i) for i in items)))
        else:
            value = Lit(0.0, "float")
            for item in items:
                value = Arith("+", value, item)
            if how == "mean":
                value = Arith("/", value, Lit(float(window), "float"))
        return MonthsMissing(col, window), self.let(value, "months")

    # -- sub-tiers and overrides -----------------------------------------------------------
    def build(self) -> Query:
        scheme = self.plan.scheme
        if isinstance(scheme, Chain):
            rule, reason = self.chain(scheme)
        elif isinstance(scheme, Scoring | Weighted):
            rule, reason = self.scored(scheme)
        elif isinstance(scheme, Quota):
            rule, reason = self.quota(scheme)
        else:
            rule, reason = self.eligibility(scheme)
        rule = self.let(rule, "rule")
        tier: Expr = self.let(Gather(self.table, rule), "base")
        if self.plan.subtiers:
            split_whens: list[tuple[Expr, Expr]] = []
            split_fail: list[Expr] = []
            split_reasons: list[tuple[Expr, Expr]] = []
            for base, split in self.plan.subtiers:
                is_base = Compare("==", tier, Lit(self.tier_rank[base]))
                fails = [(_and(is_base, cond), why) for cond, why in self.fails(split.factor)]
                split_fail += [fail for fail, _ in fails]
                split_reasons += fails
                sub_rank = self.let(self.band_value(
                    split.factor, lambda b: Lit(self.tier_rank[b.tier]),
                    Lit(self.tier_rank[split.default]), "int",
                ), "split")
                split_whens += [(fail, NULL) for fail, _ in fails] + [(is_base, sub_rank)]
            tier = self.let(Case(tuple(split_whens), tier), "subtier")
            rule = self.let(Case(tuple((f, NULL) for f in split_fail), rule), "subrule")
            reason = Case(tuple(split_reasons), reason)
        override = self.plan.override
        if override is None:
            return Query(tuple(self.lets), rule, reason, tier, self.table, False)
        wanted = Col(override.tier, "text", "override")
        given = Present(override.tier)
        valid = _and(given, InSet(wanted, self.plan.tiers), _not(Missing(wanted)))
        complete = _and(valid, NonEmptyText(Col(override.by, "text", override.by)),
                        NonEmptyText(Col(override.reason, "text", override.reason)))
        override_rule = Lit(self.rule_index["override"])
        final_rule = Case(((complete, override_rule), (given, NULL)), rule)
        bad_tier = Lit("override tier is not a declared tier "
                       f"({', '.join(self.plan.tiers)})", "text")
        incomplete = Lit(f"an override needs who ({override.by}) and why ({override.reason}) "
                         "as non-empty texts", "text")
        final_reason = Case(((complete, Lit(None, "text")), (valid, incomplete),
                             (given, bad_tier)), reason)
        return Query(tuple(self.lets), final_rule, final_reason, tier, self.table, True)


def build_query(plan: Plan) -> Query:
    """The portfolio query of a compiled plan."""
    return _Builder(plan).build()
