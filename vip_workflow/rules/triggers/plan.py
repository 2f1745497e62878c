"""Compiled conditions: each leaf computes one *fact* per customer-month, two ways.

A leaf knows how to compute its fact column-wise (a polars expression over a history sorted by
customer and month, with a ``lag`` helper) and one customer at a time (plain Python over the
customer's last months), with the same arithmetic in the same order so both give bit-identical
numbers. It also knows the test on its fact, as a polars expression, a Python predicate and a
durable_rules condition (JSON), and the evidence it shows when its trigger fires.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import polars as pl
from attrs import frozen

from vip_workflow.rules.triggers import schema as s

__all__ = ["Lag", "Leaf", "Node", "TriggerPlan", "compile_condition"]

Lag = Callable[[str, int], pl.Expr]
Stash = Callable[[str, pl.Expr], pl.Expr]


def _keep(name: str, expr: pl.Expr) -> pl.Expr:
    """The default stash: compute in place (the batch path stores intermediates as columns)."""
    del name
    return expr
Value = float | None
Evidence = list[tuple[str, Value]]

_PY_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
    "==": operator.eq, "!=": operator.ne,
}
_DURABLE_OPS = {">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte", "!=": "$neq"}
MAD_SCALE = 1.4826


def _pl_op(expr: pl.Expr, op: str, value: float) -> pl.Expr:
    return {
        ">": expr.__gt__, ">=": expr.__ge__, "<": expr.__lt__, "<=": expr.__le__,
        "==": expr.__eq__, "!=": expr.__ne__,
    }[op](value)


def _durable_op(key: str, op: str, value: float) -> dict[str, Any]:
    if op == "==":
        return {key: value}
    return {_DURABLE_OPS[op]: {key: value}}


def _num(value: Any) -> Value:
    if value is None:
        return None
    if isinstance(value, date):
        return None
    number = float(value)
    return None if math.isnan(number) else number


def unique_items(items: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Evidence items with repeated names dropped (two leaves reading the same value)."""
    seen: set[str] = set()
    kept = []
    for name, value in items:
        if name not in seen:
            seen.add(name)
            kept.append((name, value))
    return kept


def _lag_name(field: str, k: int) -> str:
    return f"{field}[-{k}]" if k else field


@frozen
class Leaf:
    """One condition of a trigger; ``key`` names its fact (``f0``, ``f1`` …)."""

    spec: Any
    key: str

    @property
    def field(self) -> str:
        return self.spec.field

    @property
    def lookback(self) -> int:
        """How many earlier months the fact reads."""
        spec = self.spec
        if isinstance(spec, s.Consecutive | s.Change):
            return spec.periods
        if isinstance(spec, s.Anomaly):
            return spec.window
        if isinstance(spec, s.Sum | s.Count):
            return spec.periods - 1
        return 0

    # -- column-wise ---------------------------------------------------------------------
    def fact_expr(self, lag: Lag, period: pl.Expr, stash: Stash = _keep) -> pl.Expr:
        spec = self.spec
        f = spec.field
        if isinstance(spec, s.Threshold):
            return lag(f, 0)
        if isinstance(spec, s.Consecutive):
            steps = [_step(lag(f, k), lag(f, k + 1), spec.direction) for k in range(spec.periods)]
            return pl.when(pl.all_horizontal(steps)).then(1.0).otherwise(0.0)
        if isinstance(spec, s.Change):
            x, base = lag(f, 0), lag(f, spec.periods)
            return pl.when(base != 0).then((x - base) * 100.0 / base.abs())
        if isinstance(spec, s.Anomaly):
            return _anomaly_exprs(spec, lag, stash)[0]
        if isinstance(spec, s.DaysUntil):
            return (lag(f, 0) - period).dt.total_days().cast(pl.Float64)
        if isinstance(spec, s.Sum):
            values = [lag(f, k) for k in range(spec.periods - 1, -1, -1)]
            known = pl.all_horizontal([v.is_not_null() for v in values])
            return pl.when(known).then(_fold_sum(values))
        if isinstance(spec, s.Count):
            hits = [_pl_op(lag(f, k), spec.where_op, spec.where_value).fill_null(False)
                    for k in range(spec.periods - 1, -1, -1)]
            return _fold_sum([h.cast(pl.Float64) for h in hits])
        raise TypeError(spec)

    def test_expr(self, fact: pl.Expr) -> pl.Expr:
        spec = self.spec
        if isinstance(spec, s.Consecutive):
            return fact == 1.0
        if isinstance(spec, s.Anomaly):
            up, down = fact >= spec.threshold, fact <= -spec.threshold
            return {"both": up | down, "up": up, "down": down}[spec.direction]
        if isinstance(spec, s.DaysUntil):
            return (fact >= 0) & (fact <= spec.within)
        if isinstance(spec, s.Change):
            return _pl_op(fact, spec.op, spec.percent)
        return _pl_op(fact, spec.op, spec.value)

    def evidence_exprs(self, lag: Lag, fact: pl.Expr, stash: Stash = _keep
                       ) -> list[tuple[str, pl.Expr]]:
        spec = self.spec
        f = spec.field
        if isinstance(spec, s.Threshold):
            return [(f, fact)]
        if isinstance(spec, s.Consecutive):
            return [(_lag_name(f, k), lag(f, k)) for k in range(spec.periods, -1, -1)]
        if isinstance(spec, s.Change):
            return [(_lag_name(f, spec.periods), lag(f, spec.periods)), (f, lag(f, 0)),
                    (f"{f}.change_pct[{spec.periods}]", fact)]
        if isinstance(spec, s.Anomaly):
            _, center, spread = _anomaly_exprs(spec, lag, stash)
            names = _anomaly_names(spec)
            return list(zip(names, (lag(f, 0), center, spread, fact), strict=True))
        if isinstance(spec, s.DaysUntil):
            return [(f"{f}.days_left", fact)]
        if isinstance(spec, s.Sum):
            return [(f"{f}.sum[{spec.periods}]", fact)]
        return [(f"{f}.count[{spec.periods}]", fact)]

    # -- one customer at a time ----------------------------------------------------------
    def fact_py(self, series: Sequence[Any], period: date, *,
                numeric: bool = False) -> tuple[Value, Evidence]:
        """The fact and its evidence; ``series`` holds the field's values for the months
        t−lookback … t (None where unknown; ``numeric``: already floats or None)."""
        spec = self.spec
        f = spec.field
        xs = series if numeric or isinstance(spec, s.DaysUntil) else [_num(v) for v in series]
        lag = lambda k: xs[len(xs) - 1 - k]  # noqa: E731
        if isinstance(spec, s.Threshold):
            return lag(0), [(f, lag(0))]
        if isinstance(spec, s.Consecutive):
            evidence = [(_lag_name(f, k), lag(k)) for k in range(spec.periods, -1, -1)]
            ok = all(lag(k) is not None and lag(k + 1) is not None
                     and _step_py(lag(k), lag(k + 1), spec.direction)
                     for k in range(spec.periods))
            return (1.0 if ok else 0.0), evidence
        if isinstance(spec, s.Change):
            x, base = lag(0), lag(spec.periods)
            fact = None if x is None or base is None or base == 0 else \
                (x - base) * 100.0 / abs(base)
            return fact, [(_lag_name(f, spec.periods), base), (f, x),
                          (f"{f}.change_pct[{spec.periods}]", fact)]
        if isinstance(spec, s.Anomaly):
            fact, center, spread = _anomaly_py(spec, [lag(k) for k in range(spec.window, 0, -1)],
                                               lag(0))
            return fact, list(zip(_anomaly_names(spec), (lag(0), center, spread, fact),
                                  strict=True))
        if isinstance(spec, s.DaysUntil):
            end = series[-1]
            fact = None if not isinstance(end, date) else float((end - period).days)
            return fact, [(f"{f}.days_left", fact)]
        if isinstance(spec, s.Sum):
            values = [lag(k) for k in range(spec.periods - 1, -1, -1)]
            fact = None if any(v is None for v in values) else _py_sum(values)
            return fact, [(f"{f}.sum[{spec.periods}]", fact)]
        test = _PY_OPS[spec.where_op]
        hits = [1.0 if (v := lag(k)) is not None and test(v, spec.where_value) else 0.0
                for k in range(spec.periods - 1, -1, -1)]
        fact = _py_sum(hits)
        return fact, [(f"{f}.count[{spec.periods}]", fact)]

    def test_py(self, fact: Value) -> bool:
        if fact is None:
            return False
        spec = self.spec
        if isinstance(spec, s.Consecutive):
            return fact == 1.0
        if isinstance(spec, s.Anomaly):
            up, down = fact >= spec.threshold, fact <= -spec.threshold
            return {"both": up or down, "up": up, "down": down}[spec.direction]
        if isinstance(spec, s.DaysUntil):
            return 0 <= fact <= spec.within
        if isinstance(spec, s.Change):
            return _PY_OPS[spec.op](fact, spec.percent)
        return _PY_OPS[spec.op](fact, spec.value)

    # -- durable_rules -------------------------------------------------------------------
    def durable(self) -> dict[str, Any]:
        """The test as a durable_rules condition on the posted fact ``self.key``."""
        spec, key = self.spec, self.key
        if isinstance(spec, s.Consecutive):
            return {key: 1.0}
        if isinstance(spec, s.Anomaly):
            up = {"$gte": {key: spec.threshold}}
            down = {"$lte": {key: -spec.threshold}}
            return {"both": {"$or": [up, down]}, "up": up, "down": down}[spec.direction]
        if isinstance(spec, s.DaysUntil):
            return {"$and": [{"$gte": {key: 0}}, {"$lte": {key: spec.within}}]}
        if isinstance(spec, s.Change):
            return _durable_op(key, spec.op, spec.percent)
        return _durable_op(key, spec.op, spec.value)


@frozen
class Node:
    """An all/any combination of leaves and nodes."""

    kind: str  # "all" | "any"
    children: tuple[Leaf | Node, ...]


def compile_condition(spec: Any, leaves: list[Leaf]) -> Leaf | Node:
    """Turn a schema condition into a tree of Leaf and Node; appends leaves in order."""
    if isinstance(spec, s.AllOf | s.AnyOf):
        children = tuple(compile_condition(c, leaves) for c in spec.conditions)
        return Node(spec.type, children)
    leaf = Leaf(spec, f"f{len(leaves)}")
    leaves.append(leaf)
    return leaf


@frozen
class TriggerPlan:
    """A compiled trigger: its definition, condition tree and leaves."""

    trigger: s.Trigger
    index: int
    root: Leaf | Node
    leaves: tuple[Leaf, ...]

    @property
    def id(self) -> str:
        return self.trigger.id

    @property
    def lookback(self) -> int:
        return max(leaf.lookback for leaf in self.leaves)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(leaf.field for leaf in self.leaves))

    def holds_expr(self, facts: dict[str, pl.Expr]) -> pl.Expr:
        return _tree_expr(self.root, facts).fill_null(False)

    def holds_py(self, facts: dict[str, Value]) -> bool:
        return _tree_py(self.root, facts)

    def durable(self) -> dict[str, Any]:
        """The whole condition as one durable_rules expression, keyed on ``t`` = index."""
        return {"$and": [{"t": self.index}, _tree_durable(self.root)]}


def _tree_expr(node: Leaf | Node, facts: dict[str, pl.Expr]) -> pl.Expr:
    if isinstance(node, Leaf):
        return node.test_expr(facts[node.key])
    parts = [_tree_expr(c, facts) for c in node.children]
    return pl.all_horizontal(parts) if node.kind == "all" else pl.any_horizontal(parts)


def _tree_py(node: Leaf | Node, facts: dict[str, Value]) -> bool:
    if isinstance(node, Leaf):
        return node.test_py(facts[node.key])
    parts = (_tree_py(c, facts) for c in node.children)
    return all(parts) if node.kind == "all" else any(parts)


def _tree_durable(node: Leaf | Node) -> dict[str, Any]:
    if isinstance(node, Leaf):
        return node.durable()
    return {"$and" if node.kind == "all" else "$or": [_tree_durable(c) for c in node.children]}


# -- arithmetic shared in spirit by both paths ---------------------------------------------
def _step(now: pl.Expr, before: pl.Expr, direction: str) -> pl.Expr:
    return now < before if direction == "decline" else now > before


def _step_py(now: float, before: float, direction: str) -> bool:
    return now < before if direction == "decline" else now > before


def _fold_sum(values: Sequence[pl.Expr]) -> pl.Expr:
    """Left-to-right sum (the order the Python path adds in)."""
    total = values[0]
    for value in values[1:]:
        total = total + value
    return total


def _py_sum(values: Sequence[float]) -> float:
    total = values[0]
    for value in values[1:]:
        total = total + value
    return total


def _anomaly_names(spec: s.Anomaly) -> tuple[str, str, str, str]:
    f, w = spec.field, spec.window
    if spec.method == "zscore":
        return f, f"{f}.mean[{w}]", f"{f}.std[{w}]", f"{f}.zscore"
    return f, f"{f}.median[{w}]", f"{f}.mad[{w}]", f"{f}.robust_score"


def _anomaly_exprs(spec: s.Anomaly, lag: Lag, stash: Stash) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(score, center, spread) over the previous ``window`` months, oldest first.

    ``stash`` may turn an intermediate (count, center, spread) into a column computed once.
    """
    x = lag(spec.field, 0)
    prev = [lag(spec.field, k) for k in range(spec.window, 0, -1)]
    n = stash("n", pl.sum_horizontal([p.is_not_null().cast(pl.Int32) for p in prev]))
    if spec.method == "zscore":
        center = stash("center", _fold_sum([p.fill_null(0.0) for p in prev]) / n)
        squares = [pl.when(p.is_not_null()).then((p - center) * (p - center)).otherwise(0.0)
                   for p in prev]
        spread = stash("spread", (_fold_sum(squares) / (n - 1)).sqrt())
    else:
        center = stash("center", _median(pl.concat_list(prev).list.drop_nulls()))
        deviations = pl.concat_list([(p - center).abs() for p in prev]).list.drop_nulls()
        spread = stash("spread", _median(deviations) * MAD_SCALE)
    enough = (n >= spec.min_periods) & x.is_not_null()
    diff = x - center
    score = (pl.when(spread != 0).then(diff / spread)
             .when(diff > 0).then(float("inf"))
             .when(diff < 0).then(float("-inf")))
    return (pl.when(enough).then(score), pl.when(enough).then(center),
            pl.when(enough).then(spread))


def _median(values: pl.Expr) -> pl.Expr:
    ordered = values.list.sort()
    n = ordered.list.len()
    low = ordered.list.get((n - 1) // 2, null_on_oob=True)
    high = ordered.list.get(n // 2, null_on_oob=True)
    return (low + high) / 2.0


def _median_py(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return (ordered[(n - 1) // 2] + ordered[n // 2]) / 2.0


def _anomaly_py(spec: s.Anomaly, prev: Sequence[Value], x: Value) -> tuple[Value, Value, Value]:
    known = [p for p in prev if p is not None]
    n = len(known)
    if n < spec.min_periods or x is None:
        return None, None, None
    if spec.method == "zscore":
        total = 0.0
        for p in prev:
            total = total + (p if p is not None else 0.0)
        center = total / n
        squares = 0.0
        for p in prev:
            squares = squares + ((p - center) * (p - center) if p is not None else 0.0)
        spread = math.sqrt(squares / (n - 1))
    else:
        center = _median_py(known)
        spread = _median_py([abs(p - center) for p in known]) * MAD_SCALE
    diff = x - center
    if spread != 0:
        return diff / spread, center, spread
    if diff > 0:
        return math.inf, center, spread
    if diff < 0:
        return -math.inf, center, spread
    return None, center, spread
