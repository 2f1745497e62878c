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

from vip_workflow.rules.files.conditions import Condition
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


def _pl_op(expr: pl.Expr, op: str, value: Any) -> pl.Expr:
    if op == "between":
        within: pl.Expr = (expr >= value[0]) & (expr <= value[1])
        return within
    result: pl.Expr = {
        ">": expr.__gt__, ">=": expr.__ge__, "<": expr.__lt__, "<=": expr.__le__,
        "==": expr.__eq__, "!=": expr.__ne__,
    }[op](value)
    return result


def _py_op(fact: float, op: str, value: Any) -> bool:
    if op == "between":
        return bool(value[0] <= fact <= value[1])
    return _PY_OPS[op](fact, value)


def _durable_op(key: str, op: str, value: Any) -> dict[str, Any]:
    if op == "between":
        return {"$and": [{"$gte": {key: value[0]}}, {"$lte": {key: value[1]}}]}
    if op == "==":
        return {key: value}
    return {_DURABLE_OPS[op]: {key: value}}


def _as_float(value: Any) -> Any:
    """A test's value as floats (the numbers a trigger compares)."""
    return [float(v) for v in value] if isinstance(value, list | tuple) else float(value)


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

    spec: Condition
    key: str

    @property
    def field(self) -> str:
        return self.spec.subject or ""

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def lookback(self) -> int:
        """How many earlier months the fact reads."""
        spec, kind = self.spec, self.spec.kind
        if kind in ("consecutive", "change_pct"):
            return spec.span
        if kind == "anomaly":
            return int(spec.anomaly_param("window"))
        if kind in ("sum", "count"):
            return spec.span - 1
        return 0

    @property
    def _test(self) -> tuple[str, Any]:
        return self.spec.op or "==", _as_float(self.spec.value)

    # -- column-wise ---------------------------------------------------------------------
    def fact_expr(self, lag: Lag, period: pl.Expr, stash: Stash = _keep) -> pl.Expr:
        spec, kind, f, n = self.spec, self.kind, self.field, self.spec.span
        if kind == "field":
            return lag(f, 0)
        if kind == "consecutive":
            steps = [_step(lag(f, k), lag(f, k + 1), spec.direction or "") for k in range(n)]
            return pl.when(pl.all_horizontal(steps)).then(1.0).otherwise(0.0)
        if kind == "change_pct":
            x, base = lag(f, 0), lag(f, n)
            return pl.when(base != 0).then((x - base) * 100.0 / base.abs())
        if kind == "anomaly":
            return _anomaly_exprs(spec, lag, stash)[0]
        if kind == "days_until":
            return (lag(f, 0) - period).dt.total_days().cast(pl.Float64)
        if kind == "sum":
            values = [lag(f, k) for k in range(n - 1, -1, -1)]
            known = pl.all_horizontal([v.is_not_null() for v in values])
            return pl.when(known).then(_fold_sum(values))
        if kind == "count":
            where = _where(spec)
            hits = [_pl_op(lag(f, k), where[0], where[1]).fill_null(False)
                    for k in range(n - 1, -1, -1)]
            return _fold_sum([h.cast(pl.Float64) for h in hits])
        raise TypeError(spec)

    def test_expr(self, fact: pl.Expr) -> pl.Expr:
        spec, kind = self.spec, self.kind
        if kind == "consecutive":
            return fact == 1.0
        if kind == "anomaly":
            limit = float(spec.anomaly_param("threshold"))
            up, down = fact >= limit, fact <= -limit
            return {"both": up | down, "up": up, "down": down}[spec.anomaly_param("direction")]
        return _pl_op(fact, *self._test)

    def evidence_exprs(self, lag: Lag, fact: pl.Expr, stash: Stash = _keep
                       ) -> list[tuple[str, pl.Expr]]:
        spec, kind, f, n = self.spec, self.kind, self.field, self.spec.span
        if kind == "field":
            return [(f, fact)]
        if kind == "consecutive":
            return [(_lag_name(f, k), lag(f, k)) for k in range(n, -1, -1)]
        if kind == "change_pct":
            return [(_lag_name(f, n), lag(f, n)), (f, lag(f, 0)), (f"{f}.change_pct[{n}]", fact)]
        if kind == "anomaly":
            _, center, spread = _anomaly_exprs(spec, lag, stash)
            names = _anomaly_names(spec)
            return list(zip(names, (lag(f, 0), center, spread, fact), strict=True))
        if kind == "days_until":
            return [(f"{f}.days_left", fact)]
        if kind == "sum":
            return [(f"{f}.sum[{n}]", fact)]
        return [(f"{f}.count[{n}]", fact)]

    # -- one customer at a time ----------------------------------------------------------
    def fact_py(self, series: Sequence[Any], period: date, *,
                numeric: bool = False) -> tuple[Value, Evidence]:
        """The fact and its evidence; ``series`` holds the field's values for the months
        t−lookback … t (None where unknown; ``numeric``: already floats or None)."""
        spec, kind, f, n = self.spec, self.kind, self.field, self.spec.span
        xs = series if numeric or kind == "days_until" else [_num(v) for v in series]

        def lag(k: int) -> float | None:
            value: float | None = xs[len(xs) - 1 - k]
            return value
        if kind == "field":
            return lag(0), [(f, lag(0))]
        if kind == "consecutive":
            evidence = [(_lag_name(f, k), lag(k)) for k in range(n, -1, -1)]
            ok = all((now := lag(k)) is not None and (before := lag(k + 1)) is not None
                     and _step_py(now, before, spec.direction or "")
                     for k in range(n))
            return (1.0 if ok else 0.0), evidence
        if kind == "change_pct":
            x, base = lag(0), lag(n)
            fact = None if x is None or base is None or base == 0 else \
                (x - base) * 100.0 / abs(base)
            return fact, [(_lag_name(f, n), base), (f, x), (f"{f}.change_pct[{n}]", fact)]
        if kind == "anomaly":
            window = int(spec.anomaly_param("window"))
            fact, center, spread = _anomaly_py(spec, [lag(k) for k in range(window, 0, -1)],
                                               lag(0))
            return fact, list(zip(_anomaly_names(spec), (lag(0), center, spread, fact),
                                  strict=True))
        if kind == "days_until":
            end = series[-1]
            fact = None if not isinstance(end, date) else float((end - period).days)
            return fact, [(f"{f}.days_left", fact)]
        if kind == "sum":
            values = [lag(k) for k in range(n - 1, -1, -1)]
            known = [v for v in values if v is not None]
            fact = None if len(known) < len(values) else _py_sum(known)
            return fact, [(f"{f}.sum[{n}]", fact)]
        where_op, where_value = _where(spec)
        hits = [1.0 if (v := lag(k)) is not None and _py_op(v, where_op, where_value) else 0.0
                for k in range(n - 1, -1, -1)]
        fact = _py_sum(hits)
        return fact, [(f"{f}.count[{n}]", fact)]

    def test_py(self, fact: Value) -> bool:
        if fact is None:
            return False
        spec, kind = self.spec, self.kind
        if kind == "consecutive":
            return fact == 1.0
        if kind == "anomaly":
            limit = float(spec.anomaly_param("threshold"))
            up, down = fact >= limit, fact <= -limit
            return bool({"both": up or down, "up": up, "down": down}[
                spec.anomaly_param("direction")])
        return _py_op(fact, *self._test)

    # -- durable_rules -------------------------------------------------------------------
    def durable(self) -> dict[str, Any]:
        """The test as a durable_rules condition on the posted fact ``self.key``."""
        spec, key, kind = self.spec, self.key, self.kind
        if kind == "consecutive":
            return {key: 1.0}
        if kind == "anomaly":
            limit = float(spec.anomaly_param("threshold"))
            up = {"$gte": {key: limit}}
            down = {"$lte": {key: -limit}}
            shapes: dict[str, dict[str, Any]] = {"both": {"$or": [up, down]}, "up": up,
                                                 "down": down}
            return shapes[str(spec.anomaly_param("direction"))]
        return _durable_op(key, *self._test)


@frozen
class Node:
    """An all/any combination of leaves and nodes."""

    kind: str  # "all" | "any"
    children: tuple[Leaf | Node, ...]


def compile_condition(spec: Condition, leaves: list[Leaf]) -> Leaf | Node:
    """Turn a schema condition into a tree of Leaf and Node; appends leaves in order."""
    if spec.kind in ("all", "any"):
        children = tuple(compile_condition(c, leaves) for c in spec.children)
        return Node(spec.kind, children)
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


def _where(spec: Condition) -> tuple[str, Any]:
    """The month test of a count (``{op: ">", value: 0}`` unless given)."""
    if spec.where is None:
        return ">", 0.0
    return spec.where.op, _as_float(spec.where.value)


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


def _anomaly_names(spec: Condition) -> tuple[str, str, str, str]:
    f, w = str(spec.subject), spec.anomaly_param("window")
    if spec.anomaly_param("method") == "zscore":
        return f, f"{f}.mean[{w}]", f"{f}.std[{w}]", f"{f}.zscore"
    return f, f"{f}.median[{w}]", f"{f}.mad[{w}]", f"{f}.robust_score"


def _anomaly_exprs(spec: Condition, lag: Lag, stash: Stash) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(score, center, spread) over the previous ``window`` months, oldest first.

    ``stash`` may turn an intermediate (count, center, spread) into a column computed once.
    """
    field, window = spec.subject or "", int(spec.anomaly_param("window"))
    min_periods = int(spec.anomaly_param("min_periods"))
    x = lag(field, 0)
    prev = [lag(field, k) for k in range(window, 0, -1)]
    n = stash("n", pl.sum_horizontal([p.is_not_null().cast(pl.Int32) for p in prev]))
    if spec.anomaly_param("method") == "zscore":
        center = stash("center", _fold_sum([p.fill_null(0.0) for p in prev]) / n)
        squares = [pl.when(p.is_not_null()).then((p - center) * (p - center)).otherwise(0.0)
                   for p in prev]
        spread = stash("spread", (_fold_sum(squares) / (n - 1)).sqrt())
    else:
        center = stash("center", _median(pl.concat_list(prev).list.drop_nulls()))
        deviations = pl.concat_list([(p - center).abs() for p in prev]).list.drop_nulls()
        spread = stash("spread", _median(deviations) * MAD_SCALE)
    enough = (n >= min_periods) & x.is_not_null()
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


def _anomaly_py(spec: Condition, prev: Sequence[Value], x: Value) -> tuple[Value, Value, Value]:
    known = [p for p in prev if p is not None]
    n = len(known)
    if n < int(spec.anomaly_param("min_periods")) or x is None:
        return None, None, None
    if spec.anomaly_param("method") == "zscore":
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
