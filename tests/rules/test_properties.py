"""Property tests: the columnar path gives exactly the answers of the row evaluator."""

from __future__ import annotations

from typing import Any

import pandas as pd
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vip_workflow as vw
from tests.rules.strategies import portfolios, rule_files

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _compare(book: vw.RuleBook, frame: pl.DataFrame, out: pl.DataFrame) -> None:
    decisions = book.judge_rows(frame.to_dicts())
    tiers = out.get_column("tier").cast(pl.String).to_list()
    rules = out.get_column("rule").cast(pl.String).to_list()
    reasons = out.get_column("reason").to_list()
    for i, decision in enumerate(decisions):
        context = f"row {i}: {frame.row(i, named=True)}\n{decision.explain()}"
        assert tiers[i] == decision.tier, context
        assert rules[i] == decision.rule, context
        assert (reasons[i] is None) == (decision.reason is None), context
    if "computed_tier" in out.columns:
        computed = out.get_column("computed_tier").cast(pl.String).to_list()
        assert computed == [d.computed_tier for d in decisions]


class TestColumnarAgreesWithRows:
    """judge_many and judge give the same tier, rule and judgeability."""

    @SETTINGS
    @given(data=st.data(), rules=rule_files(portfolio=True))
    def test_polars_frames_agree_with_judge(self, data: st.DataObject,
                                            rules: dict[str, Any]) -> None:
        """Every generated rule file and portfolio: the two paths agree row by row."""
        book = vw.load_rules(rules)
        frame = data.draw(portfolios(rules["tiers"]))
        _compare(book, frame, book.judge_many(frame))

    @settings(max_examples=60, deadline=None)
    @given(data=st.data(), rules=rule_files())
    def test_pandas_input_gives_pandas_output_with_the_same_answers(
        self, data: st.DataObject, rules: dict[str, Any]
    ) -> None:
        """A pandas frame comes back as pandas, in order, with the polars answers."""
        book = vw.load_rules(rules)
        frame = data.draw(portfolios(rules["tiers"])).drop("m0")
        expected = book.judge_many(frame)
        out = book.judge_many(frame.to_pandas())
        assert isinstance(out, pd.DataFrame)
        assert list(out.index) == list(range(frame.height))
        got = [None if pd.isna(t) else t for t in out["tier"].astype(object)]
        assert got == expected.get_column("tier").cast(pl.String).to_list()

    @settings(max_examples=100, deadline=None)
    @given(data=st.data(), rules=rule_files())
    def test_records_agree_with_judge(self, data: st.DataObject, rules: dict[str, Any]) -> None:
        """An iterable of mappings is judged like each mapping alone."""
        book = vw.load_rules(rules)
        records = data.draw(portfolios(rules["tiers"])).to_dicts()
        out = book.judge_many(records)
        got = [None if pd.isna(t) else t for t in out["tier"].astype(object)]
        assert got == [book.judge(r).tier for r in records]

    @SETTINGS
    @given(rules=rule_files(portfolio=True))
    def test_compiled_rule_files_round_trip_through_yaml(self, rules: dict[str, Any]) -> None:
        """A rule book written out as YAML loads back to the same plan."""
        book = vw.load_rules(rules)
        assert vw.loads_rules(book.to_yaml()).plan == book.plan
