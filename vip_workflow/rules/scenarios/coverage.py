"""Rule coverage: which parts of a book a set of cases exercised, and which bounds it tested.

*Items* are the parts of a book a case can exercise: for a tier book its factors, bands
(rule ids), the default and the sub-tier defaults; for a trigger book its triggers (fired at
least once); for a KPI book each KPI's pass and fail. An item is *hit* when a case reached it.

*Bounds* (tier books) are the finite numeric bounds of the bands — of a factor, an eligibility
condition or the total score. A bound is fully tested when cases read a value *at* it, *just
below* and *just above* it: within one *step* (1 for a whole-number bound, else one unit of its
last decimal, or the file's ``steps: {field: …}``). For an interval-scoring book, the totals
the bands can add up to are known: just below a score bound is the highest reachable total
under it, and a bound no total can equal needs no case *at* it.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from vip_workflow.domain.decisions import Decision
from vip_workflow.rules.tiers.compiled import (
    Chain,
    Eligibility,
    Factor,
    Interval,
    Plan,
    Quota,
    Scoring,
    Weighted,
)
from vip_workflow.rules.tiers.evaluate import aggregate_label
from vip_workflow.rules.triggers.snapshots import month_of

__all__ = ["Bound", "Coverage", "Item", "Target", "kpi_bounds", "step_of", "tier_targets",
           "trigger_bounds", "trigger_targets"]

#: the most combinations of bands enumerated to find a scoring model's reachable totals
MAX_COMBINATIONS = 200_000
_CHECKS = ("below", "at", "above")


@dataclass
class Item:
    """One part of a book a case can exercise."""

    kind: str  # factor, band, default, sub-tier default, trigger, kpi
    id: str
    label: str
    hits: int = 0


@dataclass
class Target:
    """What a trace step reads and a bound applies to: a factor, a condition or the score."""

    label: str
    field: str | None  # the input field (None for the total score)
    bounds: list[float]
    window: int | None = None  # an aggregate condition: months given as a list
    factor_id: str | None = None
    #: the totals the score can take (interval scoring), else None
    reachable: list[float] | None = None
    #: one choice of band per factor reaching each total (for --suggest)
    combos: dict[float, tuple[int, ...]] = dataclasses.field(default_factory=dict)
    values: set[float] = dataclasses.field(default_factory=set)
    #: trigger books: the leaf whose facts are tested, and whether the bound is its month
    #: test ("month": a count's ``where``) or its fact ("fact")
    leaf: Any = None
    role: str = "fact"
    _sorted: list[float] | None = None

    def sorted_values(self) -> list[float]:
        """The values read, in order (computed once)."""
        if self._sorted is None or len(self._sorted) != len(self.values):
            self._sorted = sorted(self.values)
        return self._sorted


@dataclass
class Bound:
    """One numeric bound and which of below / at / above the cases tested."""

    target: str
    field: str | None
    value: float
    #: the value a case needs for each check (None: not needed, e.g. no total reaches it)
    wanted: dict[str, float | None]
    tested: dict[str, bool]

    @property
    def missing(self) -> list[str]:
        return [c for c in _CHECKS if self.wanted[c] is not None and not self.tested[c]]

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "field": self.field, "bound": self.value,
                **{c: (None if self.wanted[c] is None else self.tested[c]) for c in _CHECKS}}


@dataclass
class Coverage:
    """Items hit and bounds tested by one scenario file's cases."""

    name: str
    book: str
    kind: str
    items: list[Item]
    bounds: list[Bound] = dataclasses.field(default_factory=list)

    @property
    def rules_percent(self) -> float:
        """Share of items hit, in percent (100 when there is none)."""
        if not self.items:
            return 100.0
        return 100.0 * sum(i.hits > 0 for i in self.items) / len(self.items)

    @property
    def boundary_percent(self) -> float:
        """Share of needed bound checks (below / at / above) tested, in percent."""
        needed = sum(w is not None for b in self.bounds for w in b.wanted.values())
        if not needed:
            return 100.0
        done = sum(b.tested[c] for b in self.bounds for c in _CHECKS if b.wanted[c] is not None)
        return 100.0 * done / needed

    @property
    def never_hit(self) -> list[Item]:
        return [i for i in self.items if not i.hits]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--coverage-json``."""
        return {
            "name": self.name, "book": self.book, "kind": self.kind,
            "rules_percent": round(self.rules_percent, 2),
            "boundary_percent": round(self.boundary_percent, 2),
            "items": [{"kind": i.kind, "id": i.id, "label": i.label, "hits": i.hits}
                      for i in self.items],
            "bounds": [b.to_dict() for b in self.bounds],
        }


# -- tier books -------------------------------------------------------------------------------

def step_of(bound: float, override: float | None = None) -> float:
    """What "just below / above" ``bound`` means: ``override``, else 1 for a whole number,
    else one unit of the bound's last decimal (0.3 → 0.1, 0.012 → 0.001)."""
    if override is not None:
        return override
    if bound == int(bound):
        return 1.0
    text = repr(bound)
    if "e" in text:
        return 10.0 ** math.floor(math.log10(abs(bound)) - 1)
    return 10.0 ** -len(text.partition(".")[2])


def _bounds(intervals: Iterable[Interval]) -> list[float]:
    found = {b for m in intervals for b in (m.low, m.high) if math.isfinite(b)}
    return sorted(found)


def _intervals(factor: Factor) -> list[Interval]:
    return [b.matcher for b in factor.bands if isinstance(b.matcher, Interval)]


def covers_all(intervals: Sequence[Interval]) -> bool:
    """True when the intervals together hold every real number."""
    reach, closed = -math.inf, False  # covered up to `reach` (inclusive when `closed`)
    for m in sorted(intervals, key=lambda m: (m.low, not m.low_closed)):
        starts_ok = m.low < reach or (m.low == reach and (closed or m.low_closed))
        if reach != -math.inf and not starts_ok:
            return False
        if reach == -math.inf and m.low != -math.inf:
            return False
        if m.high > reach or (m.high == reach and m.high_closed):
            reach, closed = m.high, m.high_closed
    return reach == math.inf


def _factor_target(factor: Factor) -> Target:
    return Target(factor.label, factor.field, _bounds(_intervals(factor)),
                  factor_id=factor.id)


def tier_targets(plan: Plan) -> dict[str, Target]:
    """Every target of a tier plan, by the label its trace steps carry."""
    targets: dict[str, Target] = {}

    def add(target: Target) -> None:
        known = targets.get(target.label)
        if known is None:
            targets[target.label] = target
        else:
            known.bounds = sorted({*known.bounds, *target.bounds})

    scheme = plan.scheme
    if isinstance(scheme, Quota) and scheme.score is not None:
        scheme = scheme.score
    if isinstance(scheme, Chain | Scoring):
        for factor in scheme.factors:
            add(_factor_target(factor))
    if isinstance(scheme, Scoring | Weighted) and scheme.tier_bands:
        score = Target("score", None, _bounds(
            b.matcher for b in scheme.tier_bands if isinstance(b.matcher, Interval)))
        if isinstance(scheme, Scoring):
            _reachable(scheme, score)
        add(score)
    if isinstance(scheme, Eligibility):
        for c in scheme.conditions:
            label = c.label if c.aggregate is None else aggregate_label(c)
            bounds = _bounds([c.matcher]) if isinstance(c.matcher, Interval) else []
            add(Target(label, c.field, bounds, window=c.window))
    for _, split in plan.subtiers:
        add(_factor_target(split.factor))
    return targets


def _reachable(scheme: Scoring, score: Target) -> None:
    choices = [[b.points or 0.0 for b in f.bands] for f in scheme.factors]
    if math.prod(len(c) for c in choices) > MAX_COMBINATIONS:
        return
    combos: dict[float, tuple[int, ...]] = {}
    for pick in itertools.product(*(range(len(c)) for c in choices)):
        total = sum(choices[i][j] for i, j in enumerate(pick))
        combos.setdefault(total, pick)
    score.reachable = sorted(combos)
    score.combos = combos


def tier_items(plan: Plan) -> list[Item]:
    """The factors, bands, reachable default and sub-tier defaults of a tier plan."""
    items: list[Item] = []
    scheme = plan.scheme
    labels: dict[str, str] = {}
    factors: list[Factor] = []
    if isinstance(scheme, Quota) and scheme.score is not None:
        factors += list(scheme.score.factors) if isinstance(scheme.score, Scoring) else []
    if isinstance(scheme, Chain | Scoring):
        factors += list(scheme.factors)
    for factor in factors:
        items.append(Item("factor", factor.id, factor.label))
        for band in factor.bands:
            labels[band.id] = f"{factor.label} {band.matcher.text}"
    if isinstance(scheme, Scoring | Weighted):
        for band in scheme.tier_bands:
            labels[band.id] = f"score {band.matcher.text} → {band.tier}"
    for tier, split in plan.subtiers:
        for band in split.factor.bands:
            labels[band.id] = f"sub-tier of {tier}: {split.factor.label} {band.matcher.text}"
    for rule in plan.rule_ids:
        if rule == "override" or (rule == "default" and not _default_reachable(plan)):
            continue
        if rule == "default":
            items.append(Item("default", rule, f"no band decides → {_default_tier(plan)}"))
        else:
            items.append(Item("band", rule, labels.get(rule, rule)))
    for tier, split in plan.subtiers:
        items.append(Item("sub-tier default", f"{tier}:{split.default}",
                          f"sub-tier of {tier} in no band → {split.default}"))
    return items


def _default_tier(plan: Plan) -> str:
    return str(getattr(plan.scheme, "default", ""))


def _default_reachable(plan: Plan) -> bool:
    scheme = plan.scheme
    if isinstance(scheme, Scoring | Weighted):
        bands = [b.matcher for b in scheme.tier_bands if isinstance(b.matcher, Interval)]
        return len(bands) != len(scheme.tier_bands) or not covers_all(bands)
    return True


def tier_coverage(name: str, plan: Plan, decisions: Sequence[Decision],
                  steps: Mapping[str, float] | None = None) -> tuple[Coverage, dict[str, Target]]:
    """Items hit and bounds tested by judged cases (their decisions and traces)."""
    items = tier_items(plan)
    by_id = {(i.kind, i.id): i for i in items}
    targets = tier_targets(plan)
    factor_items = {label: by_id.get(("factor", t.factor_id or ""))
                    for label, t in targets.items()}
    splits = dict(plan.subtiers)
    for decision in decisions:
        decided = decision.rule
        for step in decision.trace:
            outcome = step.outcome
            target = targets.get(step.factor)
            if target is not None:
                value = step.value
                if type(value) is int or type(value) is float:
                    target.values.add(float(value))
                item = factor_items[step.factor]
                if item is not None and outcome != "note":
                    item.hits += 1
            if outcome == "match" and step.rule is not None:
                _hit(by_id, step.rule)
                if step.rule == decided:
                    decided = None
            elif outcome == "miss" and step.note and step.note.startswith("sub-tier of "):
                tier = step.note.removeprefix("sub-tier of ").partition(" ")[0]
                if tier in splits:
                    _hit(by_id, f"{tier}:{splits[tier].default}", "sub-tier default")
        if decided is not None:
            _hit(by_id, decided)
    bounds = [_bound(t, b, (steps or {}).get(t.field or "score"))
              for t in targets.values() for b in t.bounds]
    return Coverage(name, plan.name, "tiers", items, bounds), targets


def _hit(by_id: dict[tuple[str, str], Item], rule: str, *kinds: str) -> None:
    for kind in kinds or ("band", "default"):
        item = by_id.get((kind, rule))
        if item is not None:
            item.hits += 1
            return


def _bound(target: Target, bound: float, step: float | None) -> Bound:
    values = target.values
    if target.reachable is not None:
        below = max((r for r in target.reachable if r < bound), default=None)
        above = min((r for r in target.reachable if r > bound), default=None)
        wanted = {"below": below, "at": bound if bound in target.reachable else None,
                  "above": above}
        tested = {c: w is not None and w in values for c, w in wanted.items()}
        return Bound(target.label, target.field, bound, wanted, tested)
    size = step_of(bound, step)
    slack = size * 1e-9
    ordered = target.sorted_values()
    under = ordered[bisect.bisect_left(ordered, bound) - 1] if ordered and \
        ordered[0] < bound else None
    over_at = bisect.bisect_right(ordered, bound)
    over = ordered[over_at] if over_at < len(ordered) else None
    wanted = {"below": bound - size, "at": bound, "above": bound + size}
    tested = {
        "below": under is not None and under >= bound - size - slack,
        "at": bound in values,
        "above": over is not None and over <= bound + size + slack,
    }
    return Bound(target.label, target.field, bound, wanted, tested)


# -- KPI books --------------------------------------------------------------------------------

def kpi_bounds(kpis: Iterable[Any], values: Mapping[str, set[float]],
               steps: Mapping[str, float] | None = None) -> list[Bound]:
    """Each KPI target (per group where the KPI has targets per group; both ends of a
    ``between``) tested at, just below and just above by the KPI values the cases gave.
    ``steps`` may set a KPI's step by its id."""
    bounds: list[Bound] = []
    for kpi in kpis:
        groups: dict[str | None, Any] = dict(kpi.targets or {})
        if kpi.target is not None and not groups:
            groups[None] = kpi.target
        for group, target in groups.items():
            label = kpi.id if group is None else f"{kpi.id}[{group}]"
            ends = target if isinstance(target, list) else [target]
            found = Target(label, None, sorted(float(t) for t in ends))
            found.values = set(values.get(label, set()))
            for b in found.bounds:
                bound = _bound(found, b, (steps or {}).get(kpi.id))
                if _is_share(kpi):  # a share of rows is 0 … 1: nothing to test beyond
                    bound.wanted = {c: w if w is None or 0 <= w <= 1 else None
                                    for c, w in bound.wanted.items()}
                bounds.append(bound)
    return bounds


def _is_share(kpi: Any) -> bool:
    """A ratio of the rows passing a test to all rows (of the same population)."""
    m = kpi.measure
    return bool(m.type == "ratio" and m.numerator.agg == "count"
                and m.denominator.agg == "count" and m.denominator.where is None)


# -- trigger books ----------------------------------------------------------------------------

#: the leaf kinds whose fact is compared with a number (``consecutive`` has no threshold and
#: an anomaly's score is not measured)
MEASURED = ("field", "sum", "count", "change_pct", "days_until")


def _numbers(value: Any) -> list[float] | None:
    ends = value if isinstance(value, list | tuple) else [value]
    if not ends or not all(type(v) is int or type(v) is float for v in ends):
        return None
    return sorted({float(v) for v in ends})


def _leaf_label(trigger: str, leaf: Any) -> str:
    spec, field = leaf.spec, leaf.field
    n = spec.span
    return {
        "field": f"{trigger}: {field}",
        "sum": f"{trigger}: sum of {field} over {_months(n)}",
        "count": f"{trigger}: months (of {n}) with {field} {_where_text(spec)}",
        "change_pct": f"{trigger}: change of {field} over {_months(n)} (%)",
        "days_until": f"{trigger}: days until {field}",
    }[leaf.kind]


def _months(n: int) -> str:
    return "1 month" if n == 1 else f"{n} months"


def _where_text(spec: Any) -> str:
    if spec.where is None:
        return "> 0"
    return f"{spec.where.op} {spec.where.value}"


def trigger_targets(plans: Iterable[Any]) -> dict[str, Target]:
    """Every numeric threshold of the enabled triggers, by label: a month-value condition's
    (``{field: members, op: ">=", value: 220}``), a sum's, a count's (and the month test
    inside it, read on each month's value), a change's and a days-until's. Each target keeps
    its leaf (``target.leaf``) to compute the facts of a history."""
    targets: dict[str, Target] = {}

    def add(target: Target) -> None:
        known = targets.get(target.label)
        if known is None:
            targets[target.label] = target
        else:
            known.bounds = sorted({*known.bounds, *target.bounds})

    for plan in plans:
        if not plan.trigger.enabled:
            continue
        for leaf in plan.leaves:
            if leaf.kind not in MEASURED:
                continue
            bounds = _numbers(leaf.spec.value)
            if bounds is not None:
                target = Target(_leaf_label(plan.trigger.id, leaf), leaf.field, bounds,
                                leaf=leaf)
                if leaf.kind == "count":  # a count of n months is 0 … n
                    target.reachable = [float(k) for k in range(leaf.spec.span + 1)]
                add(target)
            inner = _numbers(leaf.spec.where.value) if leaf.kind == "count" and \
                leaf.spec.where is not None else None
            if inner is not None:
                add(Target(f"{plan.trigger.id}: {leaf.field} (each month of the count)",
                           leaf.field, inner, leaf=leaf, role="month"))
    return targets


def _month_index(value: Any) -> int | None:
    try:
        month = month_of(value)
    except ValueError:
        return None
    return month.year * 12 + month.month - 1


def _read(value: Any, kind: str) -> Any:
    """A history's value as a leaf reads it (days-until reads dates)."""
    if kind == "days_until" and isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    if kind == "days_until":
        return value if isinstance(value, date) else None
    if type(value) is int or type(value) is float:
        return float(value)
    return None


def _facts(target: Target, history: Iterable[Mapping[str, Any]]) -> Iterator[float]:
    """The values ``target`` compares with its bounds, month by month of one history."""
    leaf = target.leaf
    months: dict[int, Mapping[str, Any]] = {}
    for row in history:
        index = _month_index(row.get("period"))
        if index is not None:
            months[index] = row
    for index, row in months.items():
        if target.role == "month":
            value = _read(row.get(target.field or ""), "field")
            if value is not None:
                yield value
            continue
        series = [_read(months.get(index - k, {}).get(leaf.field), leaf.kind)
                  for k in range(leaf.lookback, -1, -1)]
        fact, _ = leaf.fact_py(series, date(index // 12, index % 12 + 1, 1), numeric=True)
        if type(fact) is float or type(fact) is int:
            yield float(fact)


def trigger_bounds(plans: Iterable[Any], histories: Iterable[Iterable[Mapping[str, Any]]],
                   steps: Mapping[str, float] | None = None,
                   targets: dict[str, Target] | None = None) -> list[Bound]:
    """Every numeric threshold of the triggers (see :func:`trigger_targets`) tested at, just
    below and just above by the facts the histories give, month by month. ``steps`` sets a
    step by a target's label or by its field."""
    found = trigger_targets(plans) if targets is None else targets
    listed = [list(history) for history in histories]
    bounds: list[Bound] = []
    for target in found.values():
        for history in listed:
            target.values.update(_facts(target, history))
        step = (steps or {}).get(target.label, (steps or {}).get(target.field or ""))
        bounds += [_bound(target, b, step) for b in target.bounds]
    return bounds
