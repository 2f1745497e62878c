"""The "hubei-2006" factor chain written independently, once per competing engine.

DOMAIN.md §3.1, policy ``highest``: the tier is the highest one any factor reaches (A+ > A > B+ >
B > C), lower bounds inclusive, upper bounds exclusive, default C.

- importance: provincial_gov / municipal_gov → A+, county_gov → A, township_gov → B+
- revenue (monthly CNY): ≥ 60 000 → A+, [18 000, 60 000) → A, [7 000, 18 000) → B
- headcount (members): ≥ 800 → A+, [220, 800) → A, [150, 220) → B+

None of this code reads vip_workflow's rule file: it is a second, hand-made implementation, so
agreement with ``RuleBook.judge_many`` is a real cross-check.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import polars as pl

TIERS = ("A+", "A", "B+", "B", "C")  # highest first
_RANK = {tier: len(TIERS) - 1 - i for i, tier in enumerate(TIERS)}  # A+ → 4 … C → 0

IMPORTANCE_TIER = {
    "provincial_gov": "A+",
    "municipal_gov": "A+",
    "county_gov": "A",
    "township_gov": "B+",
}
# (lower bound inclusive, tier), highest band first; each band ends where the previous starts.
REVENUE_BANDS = ((60_000.0, "A+"), (18_000.0, "A"), (7_000.0, "B"))
HEADCOUNT_BANDS = ((800, "A+"), (220, "A"), (150, "B+"))
FIELDS = ("importance", "revenue", "headcount")


# -- plain Python ----------------------------------------------------------------------------
def python_tier(record: Mapping[str, Any]) -> str:
    """One record, the obvious way: best tier over the three factors, stop at A+."""
    best = IMPORTANCE_TIER.get(record["importance"], "C")
    if best == "A+":
        return best
    revenue = record["revenue"]
    for low, tier in REVENUE_BANDS:
        if revenue >= low:
            if _RANK[tier] > _RANK[best]:
                best = tier
            break
    if best == "A+":
        return best
    headcount = record["headcount"]
    for low, tier in HEADCOUNT_BANDS:
        if headcount >= low:
            if _RANK[tier] > _RANK[best]:
                best = tier
            break
    return best


def python_loop(records: Iterable[Mapping[str, Any]]) -> list[str]:
    return [python_tier(record) for record in records]


# -- hand-written polars ---------------------------------------------------------------------
def polars_tier_expr() -> pl.Expr:
    """The chain as one polars expression: rank per factor, max, then the label."""
    importance = pl.col("importance")
    imp_rank = (
        pl.when(importance.is_in(["provincial_gov", "municipal_gov"]))
        .then(4)
        .when(importance == "county_gov")
        .then(3)
        .when(importance == "township_gov")
        .then(2)
        .otherwise(0)
    )
    revenue = pl.col("revenue")
    rev_rank = (
        pl.when(revenue >= 60_000).then(4).when(revenue >= 18_000).then(3)
        .when(revenue >= 7_000).then(1).otherwise(0)
    )
    headcount = pl.col("headcount")
    head_rank = (
        pl.when(headcount >= 800).then(4).when(headcount >= 220).then(3)
        .when(headcount >= 150).then(2).otherwise(0)
    )
    rank = pl.max_horizontal(imp_rank, rev_rank, head_rank).cast(pl.UInt32)
    labels = pl.Series("labels", list(reversed(TIERS)), dtype=pl.String)  # index = rank
    return pl.lit(labels).gather(rank).alias("tier")


def polars_handwritten(frame: pl.DataFrame) -> pl.DataFrame:
    """Input columns plus ``tier`` (no rule id, no reason: the minimum a user would write)."""
    return frame.with_columns(polars_tier_expr())


RULE_IDS = (
    "importance.1", "importance.2", "importance.3",
    "revenue.1", "revenue.2", "revenue.3",
    "headcount.1", "headcount.2", "headcount.3",
    "default",
)  # vw's band ids: factor id + 1-based band position; "default" when no factor matched


def polars_handwritten_with_rule(frame: pl.DataFrame) -> pl.DataFrame:
    """Tier and the deciding band (the first factor, in chain order, that reaches the best
    tier), in three lazy stages so each factor is matched once."""
    importance, revenue, headcount = pl.col("importance"), pl.col("revenue"), pl.col("headcount")
    bands = [  # band position 0..2 per factor, null when no band matches
        pl.when(importance.is_in(["provincial_gov", "municipal_gov"])).then(0)
        .when(importance == "county_gov").then(1)
        .when(importance == "township_gov").then(2).alias("_b0"),
        pl.when(revenue >= 60_000).then(0).when(revenue >= 18_000).then(1)
        .when(revenue >= 7_000).then(2).alias("_b1"),
        pl.when(headcount >= 800).then(0).when(headcount >= 220).then(1)
        .when(headcount >= 150).then(2).alias("_b2"),
    ]
    band_ranks = ((4, 3, 2), (4, 3, 1), (4, 3, 2))  # A+ → 4 … B → 1, per factor and band
    ranks = [
        pl.col(f"_b{i}").replace_strict([0, 1, 2], list(r), default=0).alias(f"_r{i}")
        for i, r in enumerate(band_ranks)
    ]
    best = pl.max_horizontal("_r0", "_r1", "_r2")
    rule = (
        pl.when(best == 0).then(9)
        .when(pl.col("_r0") == best).then(pl.col("_b0"))
        .when(pl.col("_r1") == best).then(3 + pl.col("_b1"))
        .otherwise(6 + pl.col("_b2"))
    )
    tier_labels = pl.Series(list(reversed(TIERS)), dtype=pl.String)
    return (
        frame.lazy()
        .with_columns(bands)
        .with_columns(ranks)
        .with_columns(
            pl.lit(tier_labels).gather(best.cast(pl.UInt32)).alias("tier"),
            pl.lit(pl.Series(RULE_IDS)).gather(rule.cast(pl.UInt32)).alias("rule"),
        )
        .drop("_b0", "_b1", "_b2", "_r0", "_r1", "_r2")
        .collect()
    )


# -- durable_rules ---------------------------------------------------------------------------
_durable_names = itertools.count()


def durable_rules_engine() -> tuple[str, list[str]]:
    """Define a fresh ruleset with one rule per tier (mutually exclusive conditions).

    Returns the ruleset name and the list the actions append tiers to. Each posted event is
    consumed by exactly one rule, so nothing is left pending in the host.
    """
    from durable.lang import m, ruleset, when_all

    name = f"vw_bench_hubei_{next(_durable_names)}"
    hits: list[str] = []
    imp = m.importance
    top_gov = (imp == "provincial_gov") | (imp == "municipal_gov")
    not_top_gov = (imp != "provincial_gov") & (imp != "municipal_gov")
    not_gov = not_top_gov & (imp != "county_gov") & (imp != "township_gov")

    with ruleset(name):

        @when_all(top_gov | (m.revenue >= 60_000) | (m.headcount >= 800))
        def tier_a_plus(c):
            hits.append("A+")

        @when_all(
            not_top_gov & (m.revenue < 60_000) & (m.headcount < 800)
            & ((imp == "county_gov") | (m.revenue >= 18_000) | (m.headcount >= 220))
        )
        def tier_a(c):
            hits.append("A")

        @when_all(
            not_top_gov & (imp != "county_gov") & (m.revenue < 18_000) & (m.headcount < 220)
            & ((imp == "township_gov") | (m.headcount >= 150))
        )
        def tier_b_plus(c):
            hits.append("B+")

        @when_all(not_gov & (m.revenue >= 7_000) & (m.revenue < 18_000) & (m.headcount < 150))
        def tier_b(c):
            hits.append("B")

        @when_all(not_gov & (m.revenue < 7_000) & (m.headcount < 150))
        def tier_c(c):
            hits.append("C")

    return name, hits


def durable_rules_runner() -> Callable[[Sequence[Mapping[str, Any]]], list[str]]:
    """Build a fresh ruleset; the runner posts every record as one event, tiers in order."""
    from durable.lang import post

    name, hits = durable_rules_engine()

    def run(records: Sequence[Mapping[str, Any]]) -> list[str]:
        hits.clear()
        for record in records:
            post(name, record)
        if len(hits) != len(records):
            raise RuntimeError(f"durable_rules fired {len(hits)} rules for {len(records)} records")
        return list(hits)

    return run


# -- GoRules zen-engine ----------------------------------------------------------------------
def zen_decision_content() -> str:
    """A JDM graph: input → decision table (hit policy ``first``, rows highest tier first)."""
    inputs = [
        {"id": "in_importance", "name": "Importance", "type": "expression", "field": "importance"},
        {"id": "in_revenue", "name": "Revenue", "type": "expression", "field": "revenue"},
        {"id": "in_headcount", "name": "Headcount", "type": "expression", "field": "headcount"},
    ]
    rows = [
        ("A+", '"provincial_gov", "municipal_gov"', "", ""),
        ("A+", "", ">= 60000", ""),
        ("A+", "", "", ">= 800"),
        ("A", '"county_gov"', "", ""),
        ("A", "", "[18000..60000)", ""),
        ("A", "", "", "[220..800)"),
        ("B+", '"township_gov"', "", ""),
        ("B+", "", "", "[150..220)"),
        ("B", "", "[7000..18000)", ""),
        ("C", "", "", ""),
    ]
    rules = [
        {
            "_id": f"row{i}",
            "in_importance": importance,
            "in_revenue": revenue,
            "in_headcount": headcount,
            "out_tier": json.dumps(tier),
        }
        for i, (tier, importance, revenue, headcount) in enumerate(rows)
    ]
    table = {
        "id": "tier_table",
        "type": "decisionTableNode",
        "name": "hubei-2006",
        "position": {"x": 300, "y": 100},
        "content": {
            "hitPolicy": "first",
            "inputs": inputs,
            "outputs": [{"id": "out_tier", "name": "Tier", "type": "expression", "field": "tier"}],
            "rules": rules,
        },
    }
    graph = {
        "contentType": "application/vnd.gorules.decision",
        "nodes": [
            {"id": "request", "type": "inputNode", "name": "Request",
             "position": {"x": 0, "y": 100}},
            table,
            {"id": "response", "type": "outputNode", "name": "Response",
             "position": {"x": 600, "y": 100}},
        ],
        "edges": [
            {"id": "e1", "sourceId": "request", "targetId": "tier_table", "type": "edge"},
            {"id": "e2", "sourceId": "tier_table", "targetId": "response", "type": "edge"},
        ],
    }
    return json.dumps(graph)


def zen_runner() -> Callable[[Sequence[Mapping[str, Any]]], list[str]]:
    """Compile the JDM once; the runner evaluates the decision once per record."""
    import zen

    evaluate = zen.ZenEngine().create_decision(zen_decision_content()).evaluate

    def run(records: Sequence[Mapping[str, Any]]) -> list[str]:
        return [evaluate(record)["result"]["tier"] for record in records]

    return run


def zen_runner_cached() -> Callable[[Sequence[Mapping[str, Any]]], list[str]]:
    """Serve the JDM through a static loader; the runner calls ``ZenEngine.evaluate(key, …)``.

    The engine caches the loaded decision by key. In zen-engine 2.1 this is ~30× faster per call
    than ``ZenDecision.evaluate``, so this is the fair number for zen.
    """
    import zen

    engine = zen.ZenEngine(
        {"loader": {"type": "static", "content": {"tier": json.loads(zen_decision_content())}}}
    )
    evaluate = engine.evaluate

    def run(records: Sequence[Mapping[str, Any]]) -> list[str]:
        return [evaluate("tier", record)["result"]["tier"] for record in records]

    return run


def minimal_records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Records holding only the three fields the chain reads (the cheapest input for engines
    that copy the whole record across a language boundary)."""
    return frame.select(FIELDS).to_dicts()
