"""The rule IR: every lowering has a rule for every node it accepts, refuses the rest, and the
polars and plain-Python forms agree value for value on null, NaN, ±inf and division by zero."""

from __future__ import annotations

import math
import random
from datetime import date
from typing import Any

import polars as pl
import pytest
from attrs import frozen

from tests.triggers import generated as g
from vip_workflow.rules import ir
from vip_workflow.rules.kpis.book import query_ir

EDGE = [None, 0.0, -0.0, 1.0, -2.5, 3.0, math.inf, -math.inf, math.nan, 1e308]


@frozen
class Mystery(ir.Node):
    """A node kind no lowering knows."""

    value: ir.Node


class TestUnknownNodes:
    def test_every_lowering_refuses_a_node_it_has_no_rule_for(self) -> None:
        node = Mystery(ir.Const(1.0))
        with pytest.raises(ir.UnknownNode, match="polars lowering has no rule for Mystery"):
            ir.to_polars(node)
        with pytest.raises(ir.UnknownNode, match="python lowering"):
            ir.to_python(node)
        with pytest.raises(ir.UnknownNode, match="durable_rules lowering"):
            ir.to_durable(node)

    def test_an_unknown_node_inside_a_tree_is_refused_too(self) -> None:
        tree = ir.Math("+", ir.Lag("x"), Mystery(ir.Const(1.0)))
        with pytest.raises(ir.UnknownNode):
            ir.to_polars(tree)
        with pytest.raises(ir.UnknownNode):
            ir.to_python(tree)

    def test_durable_rules_takes_only_tests_of_posted_facts(self) -> None:
        with pytest.raises(ir.UnknownNode):
            ir.to_durable(ir.Cmp(">", ir.Lag("x"), ir.Const(1.0)))
        with pytest.raises(ir.UnknownNode):
            ir.to_durable(ir.Logic("not", (ir.Cmp(">", ir.Ref("f0"), ir.Const(1.0)),)))
        test = ir.Logic("or", (ir.Cmp("==", ir.Ref("f0"), ir.Const(1.0)),
                               ir.Cmp("<=", ir.Ref("f1"), ir.Const(-2.0))))
        assert ir.to_durable(test) == {"$or": [{"f0": 1.0}, {"$lte": {"f1": -2.0}}]}


def _both(node: ir.Node, rows: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    """The node over ``rows`` (this month's ``x`` and ``y``, last month's ``x``) by polars and
    by the Python closure."""
    frame = pl.DataFrame(rows, schema={"x": pl.Float64, "x1": pl.Float64, "y": pl.Float64,
                                       "end": pl.Date, "period": pl.Date})

    def lag(field: str, k: int) -> pl.Expr:
        return pl.col(f"{field}1" if k else field)

    got = frame.with_columns(ir.to_polars(node, ir.PolarsContext(lag, pl.col("period")))
                             .alias("v"))["v"].to_list()
    fn = ir.to_python(node)
    want = [fn(ir.PyEnv({"x": [r["x1"], r["x"]], "y": [None, r["y"]], "end": [r["end"]]},
                        r["period"])) for r in rows]
    return got, want


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float | int) and not isinstance(b, bool):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a)
                                                     == math.copysign(1, b))
    return (bool(a == b) and type(a) is type(b)) or (a is None and b is None)


def _tree(r: random.Random, depth: int = 0) -> ir.Node:
    """A random numeric tree over x, x[-1], y and constants."""
    leaves: list[ir.Node] = [ir.Lag("x"), ir.Lag("x", 1), ir.Lag("y"),
                             ir.Const(r.choice([0.0, 1.0, -2.0, 2.5]))]
    if depth >= 3 or r.random() < 0.3:
        return r.choice(leaves)
    a, b = _tree(r, depth + 1), _tree(r, depth + 1)
    test = ir.Cmp(r.choice(["==", "!=", "<", "<=", ">", ">="]), a, b)
    return r.choice([
        ir.Math(r.choice(["+", "-", "*", "/"]), a, b), ir.SafeDiv(a, b), ir.Abs(a), ir.Sqrt(a),
        ir.FillNull(a, b), ir.When(((test, a),), b), ir.AsFloat(ir.FillNull(test, ir.Const(False))),
        ir.ListMedian((a, b, ir.Lag("x"))), ir.AsFloat(ir.CountKnown((a, b))),
        ir.When(((ir.Logic(r.choice(["and", "or"]), (test, ir.Known(b))), a),)),
        ir.When(((ir.Logic("not", (ir.IsNull(a),)), b),), ir.Const(7.0)),
    ])


ROWS = [{"x": x, "x1": x1, "y": y, "end": date(2026, 3, 9), "period": date(2026, 1, 1)}
        for x in EDGE for x1 in EDGE[:6] for y in (None, 0.0, 2.0, math.nan)]


class TestPolarsAndPythonAgree:

    @pytest.mark.parametrize("seed", range(150))
    def test_random_trees_give_the_same_values(self, seed: int) -> None:
        node = _tree(random.Random(seed))
        got, want = _both(node, ROWS)
        bad = [(r, a, b) for r, a, b in zip(ROWS, got, want, strict=True)
               if not _same(a, b)]
        assert not bad, (node, bad[:3])

    def test_division_by_zero_is_ieee_and_safe_division_is_null(self) -> None:
        rows = [{"x": x, "x1": None, "y": 0.0, "end": None, "period": date(2026, 1, 1)}
                for x in (1.0, -1.0, 0.0)]
        got, want = _both(ir.Math("/", ir.Lag("x"), ir.Lag("y")), rows)
        assert got[:2] == want[:2] == [math.inf, -math.inf]
        assert math.isnan(got[2]) and math.isnan(want[2])
        got, want = _both(ir.SafeDiv(ir.Lag("x"), ir.Lag("y")), rows)
        assert got == want == [None, None, None]

    def test_days_between_dates(self) -> None:
        rows = [{"x": None, "x1": None, "y": None, "end": end, "period": date(2026, 1, 1)}
                for end in (date(2026, 3, 9), date(2025, 12, 31), None)]
        got, want = _both(ir.DaysBetween(ir.Lag("end"), ir.Period()), rows)
        assert got == want == [67.0, -1.0, None]


class TestGroupAggregate:
    @pytest.mark.parametrize("seed", range(g.KPI_FILES))
    def test_polars_and_plain_rows_give_the_same_groups(self, seed: int) -> None:
        """Every generated KPI's group-aggregate, on the generated portfolio without NaN (the
        plain-Python form sums exactly; these integers sum exactly either way)."""
        frame = g.portfolio(seed).with_columns(pl.col(pl.Float64).fill_nan(None))
        for kpi in g.kpi_book(seed).kpis:
            query = query_ir(kpi)
            got = ir.run_group_aggregate(query, frame).to_dicts()
            want = ir.group_aggregate_python(query, frame.to_dicts())
            assert [{k: row[k] for k in want[0]} for row in got] == want if want else not got
