"""Property tests: the columnar path gives exactly the answers of the row evaluator."""

from __future__ import annotations

from typing import Any

import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vip_workflow as vw
from tests.rules.strategies import messy_records, portfolios, rule_files

pytestmark = pytest.mark.slow  # more than a few seconds: `pytest -m 'not slow'` skips it

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


def _plain(value: Any) -> Any:
    return None if value is None or pd.isna(value) else str(value)


def _agree(book: vw.RuleBook, records: list[dict[str, Any]], out: pd.DataFrame) -> None:
    """judge_many's pandas answers are judge's: tier, rule, computed tier, and the reason."""
    decisions = book.judge_rows(records)
    columns = [out[name].astype(object).tolist() for name in ("tier", "rule", "reason")]
    for i, decision in enumerate(decisions):
        got = tuple(_plain(column[i]) for column in columns)
        context = f"row {i}: {records[i]}\n{decision.explain()}"
        assert got[:2] == (decision.tier, decision.rule), context
        if decision.reason is not None and decision.reason.startswith("override tier"):
            assert got[2] is not None, context  # the columnar text leaves out the value
        else:
            assert got[2] == decision.reason, context
    if "computed_tier" in out.columns:
        computed = [_plain(t) for t in out["computed_tier"].astype(object)]
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
    @given(data=st.data(), rules=rule_files(portfolio=True))
    def test_records_with_values_of_any_kind_agree_with_judge(
        self, data: st.DataObject, rules: dict[str, Any]
    ) -> None:
        """Booleans among numbers or months, integers beyond 64 bits, texts among numbers:
        a list of dicts gets judge's tier, rule and reason on every row."""
        book = vw.load_rules(rules)
        records = data.draw(messy_records(rules["tiers"]))
        _agree(book, records, book.judge_many(records))

    @SETTINGS
    @given(data=st.data(), rules=rule_files(portfolio=True),
           as_objects=st.booleans())
    def test_pandas_object_columns_agree_with_judge(
        self, data: st.DataObject, rules: dict[str, Any], as_objects: bool
    ) -> None:
        """The same records as a pandas frame (object columns mixing kinds, or every column
        an object column): judge's answers on the frame's rows, on the frame's index.

        The rows are compared as pandas holds them: building the frame may already change a
        value (an int beside a gap becomes a float), and judge_many sees only the frame."""
        book = vw.load_rules(rules)
        records = data.draw(messy_records(rules["tiers"]))
        frame = pd.DataFrame(records, dtype=object if as_objects else None,
                             index=[2 * i + 1 for i in range(len(records))])
        out = book.judge_many(frame)
        assert isinstance(out, pd.DataFrame)
        assert list(out.index) == list(frame.index)
        rows = [{k: v for k, v in zip(frame.columns, values, strict=True)
                 if k in record}  # a key the record lacked stays absent, not NaN
                for record, values in zip(records, frame.astype(object).itertuples(index=False),
                                          strict=True)]
        _agree(book, rows, out)

    @settings(max_examples=100, deadline=None)
    @given(data=st.data(), rules=rule_files(portfolio=True))
    def test_polars_object_columns_agree_with_judge(
        self, data: st.DataObject, rules: dict[str, Any]
    ) -> None:
        """The same records as a polars frame of Object columns: judge's answers."""
        book = vw.load_rules(rules)
        records = data.draw(messy_records(rules["tiers"]))
        names = sorted({name for record in records for name in record})
        frame = pl.DataFrame([pl.Series(name, [r.get(name) for r in records], dtype=pl.Object)
                              for name in names]) if names else pl.DataFrame(
            {"n9": [0] * len(records)})
        out = book.judge_many(frame)
        assert isinstance(out, pl.DataFrame)
        _agree(book, records, out.select("tier", "rule", "reason", *(
            ["computed_tier"] if "computed_tier" in out.columns else [])).to_pandas())

    @SETTINGS
    @given(rules=rule_files(portfolio=True))
    def test_compiled_rule_files_round_trip_through_yaml(self, rules: dict[str, Any]) -> None:
        """A rule book written out as YAML loads back to the same plan."""
        book = vw.load_rules(rules)
        assert vw.loads_rules(book.to_yaml()).plan == book.plan
