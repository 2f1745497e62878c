"""Compiled conditions: each leaf is one definition in the rule IR (:mod:`vip_workflow.rules.ir`).

A leaf kind (``field``, ``consecutive``, ``change_pct`` …) is written once, as three IR trees:
its *fact* per customer-month (over ``Lag(field, k)``, the field k calendar months back), the
*test* on that fact (over ``Ref(key)``) and the *evidence* it shows when its trigger fires. Every
form the library runs is generated from them: the polars expressions of the batch scan, the
plain-Python closures of the live engine (the same arithmetic in the same order, so both give
bit-identical numbers) and the durable_rules JSON condition of the live ruleset.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Literal

import polars as pl
from attrs import field as attr
from attrs import frozen

from vip_workflow.rules import ir
from vip_workflow.rules.files.conditions import Condition
from vip_workflow.rules.triggers import schema as s

__all__ = ["Lag", "Leaf", "LeafIR", "Node", "TriggerPlan", "compile_condition"]

Lag = Callable[[str, int], pl.Expr]
Stash = Callable[[str, pl.Expr], pl.Expr]
Value = float | None
Evidence = list[tuple[str, Value]]
MAD_SCALE = 1.4826


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


# -- the one definition of each leaf kind -------------------------------------------------------
@frozen
class LeafIR:
    """A leaf as IR: ``fact`` per customer-month, ``test`` over ``Ref(key)`` (the fact), and
    the named ``evidence`` values (which may read the fact as ``Ref(key)``)."""

    fact: ir.Node
    test: ir.Node
    evidence: tuple[tuple[str, ir.Node], ...]


def _test(value: ir.Node, op: str, against: Any) -> ir.Node:
    """``value op against`` (``between``: both bounds included)."""
    if op == "between":
        low, high = against
        return ir.Logic("and", (ir.Cmp(">=", value, ir.Const(low)),
                                ir.Cmp("<=", value, ir.Const(high))))
    return ir.Cmp(op, value, ir.Const(against))  # type: ignore[arg-type]


def _spec_test(spec: Condition, fact: ir.Ref) -> ir.Node:
    return _test(fact, spec.op or "==", _as_float(spec.value))


def _where(spec: Condition) -> tuple[str, Any]:
    """The month test of a count (``{op: ">", value: 0}`` unless given)."""
    if spec.where is None:
        return ">", 0.0
    return spec.where.op, _as_float(spec.where.value)


def _field_ir(spec: Condition, fact: ir.Ref) -> LeafIR:
    f = spec.subject or ""
    return LeafIR(ir.Lag(f, 0), _spec_test(spec, fact), ((f, fact),))


def _consecutive_ir(spec: Condition, fact: ir.Ref) -> LeafIR:
    f, n = spec.subject or "", spec.span
    op: Literal["<", ">"] = "<" if spec.direction == "decline" else ">"
    steps = tuple(ir.Cmp(op, ir.Lag(f, k), ir.Lag(f, k + 1)) for k in range(n))
    value = ir.When(((ir.Logic("and", steps), ir.Const(1.0)),), ir.Const(0.0))
    evidence = tuple((_lag_name(f, k), ir.Lag(f, k)) for k in range(n, -1, -1))
    return LeafIR(value, ir.Cmp("==", fact, ir.Const(1.0)), evidence)


def _change_pct_ir(spec: Condition, fact: ir.Ref) -> LeafIR:
    f, n = spec.subject or "", spec.span
    x, base = ir.Lag(f, 0), ir.Lag(f, n)
    value = ir.SafeDiv(ir.Math("*", ir.Math("-", x, base), ir.Const(100.0)), ir.Abs(base))
    evidence = ((_lag_name(f, n), base), (f, x), (f"{f}.change_pct[{n}]", fact))
    return LeafIR(value, _spec_test(spec, fact), evidence)


def _center_spread(prev: tuple[ir.Node, ...], n: ir.Node, method: str
                   ) -> tuple[ir.Node, ir.Node]:
    """(mean, sample std) or (median, scaled MAD) of the known ``prev`` months."""
    if method == "zscore":
        total = ir.fold("+", [ir.FillNull(p, ir.Const(0.0)) for p in prev])
        center = ir.Let("center", ir.Math("/", total, n))
        squares = [ir.When(((ir.Known(p), ir.Math("*", ir.Math("-", p, center),
                                                   ir.Math("-", p, center))),), ir.Const(0.0))
                   for p in prev]
        spread = ir.Sqrt(ir.Math("/", ir.fold("+", squares), ir.Math("-", n, ir.Const(1))))
        return center, ir.Let("spread", spread)
    center = ir.Let("center", ir.ListMedian(prev))
    deviations = ir.ListMedian(tuple(ir.Abs(ir.Math("-", p, center)) for p in prev))
    return center, ir.Let("spread", ir.Math("*", deviations, ir.Const(MAD_SCALE)))


def _anomaly_ir(spec: Condition, fact: ir.Ref) -> LeafIR:
    f, window = spec.subject or "", int(spec.anomaly_param("window"))
    x = ir.Lag(f, 0)
    prev = tuple(ir.Lag(f, k) for k in range(window, 0, -1))
    n = ir.Let("n", ir.CountKnown(prev))
    center, spread = _center_spread(prev, n, str(spec.anomaly_param("method")))
    enough = ir.Logic("and", (ir.Cmp(">=", n, ir.Const(int(spec.anomaly_param("min_periods")))),
                              ir.Known(x)))
    diff = ir.Math("-", x, center)
    score = ir.When(((ir.Cmp("!=", spread, ir.Const(0)), ir.Math("/", diff, spread)),
                     (ir.Cmp(">", diff, ir.Const(0)), ir.Const(math.inf)),
                     (ir.Cmp("<", diff, ir.Const(0)), ir.Const(-math.inf))))
    limit = float(spec.anomaly_param("threshold"))
    up, down = ir.Cmp(">=", fact, ir.Const(limit)), ir.Cmp("<=", fact, ir.Const(-limit))
    test = {"both": ir.Logic("or", (up, down)), "up": up, "down": down}[
        str(spec.anomaly_param("direction"))]
    shown = (x, ir.When(((enough, center),)), ir.When(((enough, spread),)), fact)
    return LeafIR(ir.When(((enough, score),)), test,
                  tuple(zip(_anomaly_names(spec), shown, strict=True)))


def _days_until_ir(spec: Condition, fact: ir.Ref) -> LeafIR:
    f = spec.subject or ""
    return LeafIR(ir.DaysBetween(ir.Lag(f, 0), ir.Period()), _spec_test(spec, fact),
                  ((f"{f}.days_left", fact),))


def _sum_ir(spec: Condition, fact: ir.Ref) -> LeafIR:
    f, n = spec.subject or "", spec.span
    values = [ir.Lag(f, k) for k in range(n - 1, -1, -1)]
    known = ir.Logic("and", tuple(ir.Known(v) for v in values))
    return LeafIR(ir.When(((known, ir.fold("+", values)),)), _spec_test(spec, fact),
                  ((f"{f}.sum[{n}]", fact),))


def _count_ir(spec: Condition, fact: ir.Ref) -> LeafIR:
    f, n = spec.subject or "", spec.span
    op, against = _where(spec)
    hits = [ir.AsFloat(ir.FillNull(_test(ir.Lag(f, k), op, against), ir.Const(False)))
            for k in range(n - 1, -1, -1)]
    return LeafIR(ir.fold("+", hits), _spec_test(spec, fact), ((f"{f}.count[{n}]", fact),))


_LEAF_KINDS: dict[str, Callable[[Condition, ir.Ref], LeafIR]] = {
    "field": _field_ir, "consecutive": _consecutive_ir, "change_pct": _change_pct_ir,
    "anomaly": _anomaly_ir, "days_until": _days_until_ir, "sum": _sum_ir, "count": _count_ir,
}


def leaf_ir(spec: Condition, key: str) -> LeafIR:
    """The IR of one trigger condition; the fact is ``Ref(key)`` in its test and evidence."""
    build = _LEAF_KINDS.get(spec.kind)
    if build is None:
        raise TypeError(f"a trigger condition has no rule for {spec.kind!r}")
    return build(spec, ir.Ref(key))


@frozen
class _LeafPy:
    """A leaf's plain-Python closures (compiled once from its IR)."""

    fact: ir.PyFn
    test: ir.PyFn
    evidence: tuple[tuple[str, ir.PyFn], ...]


def _compiled(definition: LeafIR) -> _LeafPy:
    return _LeafPy(ir.to_python(definition.fact), ir.to_python(definition.test),
                   tuple((name, ir.to_python(node)) for name, node in definition.evidence))


@frozen
class Leaf:
    """One condition of a trigger; ``key`` names its fact (``f0``, ``f1`` …)."""

    spec: Condition
    key: str
    definition: LeafIR = attr(eq=False, repr=False)
    _py: _LeafPy = attr(eq=False, repr=False)

    @classmethod
    def of(cls, spec: Condition, key: str) -> Leaf:
        definition = leaf_ir(spec, key)
        return cls(spec, key, definition, _compiled(definition))

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

    # -- polars ----------------------------------------------------------------------------
    def fact_expr(self, lag: Lag, period: pl.Expr, stash: Stash | None = None) -> pl.Expr:
        """The fact column-wise; ``stash`` may compute a named intermediate once."""
        return ir.to_polars(self.definition.fact, ir.PolarsContext(lag, period, stash=stash))

    def test_expr(self, fact: pl.Expr) -> pl.Expr:
        return ir.to_polars(self.definition.test, ir.PolarsContext(refs={self.key: fact}))

    def evidence_exprs(self, lag: Lag, fact: pl.Expr, stash: Stash | None = None
                       ) -> list[tuple[str, pl.Expr]]:
        ctx = ir.PolarsContext(lag, refs={self.key: fact}, stash=stash)
        return [(name, ir.to_polars(node, ctx)) for name, node in self.definition.evidence]

    # -- one customer at a time -------------------------------------------------------------
    def fact_py(self, series: Sequence[Any], period: date, *,
                numeric: bool = False) -> tuple[Value, Evidence]:
        """The fact and its evidence; ``series`` holds the field's values for the months
        t−lookback … t (None where unknown; ``numeric``: already floats or None)."""
        xs = series if numeric or self.kind == "days_until" else [_num(v) for v in series]
        env = ir.PyEnv({self.field: xs}, period)
        py = self._py
        fact: Value = py.fact(env)
        env.refs = {self.key: fact}
        return fact, [(name, value(env)) for name, value in py.evidence]

    def test_py(self, fact: Value) -> bool:
        return bool(self._py.test(ir.PyEnv(refs={self.key: fact})))

    # -- durable_rules ----------------------------------------------------------------------
    def durable(self) -> dict[str, Any]:
        """The test as a durable_rules condition on the posted fact ``self.key``."""
        return ir.to_durable(self.definition.test)


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
    leaf = Leaf.of(spec, f"f{len(leaves)}")
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

    @property
    def condition_ir(self) -> ir.Node:
        """The whole condition over the leaves' facts (``Ref(f0)`` …)."""
        return _tree_ir(self.root)

    def holds_expr(self, facts: dict[str, pl.Expr]) -> pl.Expr:
        return ir.to_polars(self.condition_ir, ir.PolarsContext(refs=facts)).fill_null(False)

    def holds_py(self, facts: dict[str, Value]) -> bool:
        return bool(ir.to_python(self.condition_ir)(ir.PyEnv(refs=facts)))

    def durable(self) -> dict[str, Any]:
        """The whole condition as one durable_rules expression, keyed on ``t`` = index."""
        return {"$and": [{"t": self.index}, ir.to_durable(self.condition_ir)]}


def _tree_ir(node: Leaf | Node) -> ir.Node:
    if isinstance(node, Leaf):
        return node.definition.test
    return ir.Logic("and" if node.kind == "all" else "or",
                    tuple(_tree_ir(c) for c in node.children))


def _anomaly_names(spec: Condition) -> tuple[str, str, str, str]:
    f, w = str(spec.subject), spec.anomaly_param("window")
    if spec.anomaly_param("method") == "zscore":
        return f, f"{f}.mean[{w}]", f"{f}.std[{w}]", f"{f}.zscore"
    return f, f"{f}.median[{w}]", f"{f}.mad[{w}]", f"{f}.robust_score"
