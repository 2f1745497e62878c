"""Data that cannot be judged never gets a tier: judge_many gives judge's answer on every row,
whatever a column holds (issue 9: booleans among numbers, integers beyond 64 bits, object columns
mixing numbers, texts and booleans)."""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd
import polars as pl
import pytest

import vip_workflow as vw

HUBEI = vw.preset("hubei-2006")
CREDIT = vw.preset("credit-key-account")


def group(revenue: Any = 0.0, headcount: Any = 0, **extra: Any) -> dict[str, Any]:
    return {"importance": "none", "revenue": revenue, "headcount": headcount, **extra}


def subscriber(bills: Any, arrears: Any = 0) -> dict[str, Any]:
    return {"subscriber_id": "s", "bills": bills, "arrears": arrears}


def answers(out: Any) -> list[tuple[Any, Any, Any]]:
    """(tier, rule, reason) per row of a judge_many result, None for missing."""
    if isinstance(out, pl.DataFrame):
        out = out.to_pandas()

    def plain(value: Any) -> Any:
        return None if value is None or pd.isna(value) else str(value)

    return [(plain(t), plain(r), plain(w))
            for t, r, w in zip(out["tier"].astype(object), out["rule"].astype(object),
                               out["reason"].astype(object), strict=True)]


def expected(book: vw.RuleBook, records: list[dict[str, Any]]) -> list[tuple[Any, Any, Any]]:
    return [(d.tier, d.rule, d.reason) for d in book.judge_rows(records)]


BOOLS_AMONG_NUMBERS = [
    [group(revenue=True), group(revenue=70000.0)],
    [group(revenue=70000.0), group(revenue=False)],
    [group(headcount=True, revenue=100.0), group(headcount=900)],
    [group(revenue=True), group(revenue=5.0), group(revenue="x")],
]
HUGE_INTEGERS = [
    [group(revenue=10**30), group(revenue=2e6)],
    [group(revenue=2**64), group(revenue=5)],
    [group(revenue=2**64), group(revenue=5.0)],
    [group(revenue=-(2**70)), group(revenue=None)],
    [group(headcount=10**30, revenue=10.0), group(headcount=3)],
    [group(revenue=10**400), group(revenue=7000)],
]
MIXED_OBJECTS = [
    [group(revenue="x"), group(revenue=5.0)],
    [group(revenue=5), group(revenue="70000")],
    [group(revenue=5.0, importance=3), group(revenue=7000.0)],
    [group(revenue=None), group(revenue=True), group(revenue="a"), group(revenue=9000)],
]


class TestJudgeManyMatchesJudgeOnBadValues:
    """Each kind of unjudgeable value: every input shape gives judge's tier, rule and reason."""

    @pytest.mark.parametrize("records", BOOLS_AMONG_NUMBERS + HUGE_INTEGERS + MIXED_OBJECTS)
    def test_records_agree_with_judge(self, records: list[dict[str, Any]]) -> None:
        """A list of dicts is judged exactly as each dict alone."""
        assert answers(HUBEI.judge_many(records)) == expected(HUBEI, records)

    @pytest.mark.parametrize("records", BOOLS_AMONG_NUMBERS + HUGE_INTEGERS + MIXED_OBJECTS)
    def test_pandas_object_columns_agree_with_judge(self, records: list[dict[str, Any]]) -> None:
        """A pandas frame whose columns mix kinds of values neither crashes nor guesses."""
        frame = pd.DataFrame(records, dtype=object)
        out = HUBEI.judge_many(frame)
        assert isinstance(out, pd.DataFrame)
        assert answers(out) == expected(HUBEI, records)

    @pytest.mark.parametrize("records", BOOLS_AMONG_NUMBERS + HUGE_INTEGERS + MIXED_OBJECTS)
    def test_pandas_frames_as_built_agree_with_judge(self, records: list[dict[str, Any]]) -> None:
        """The same frames with the dtypes pandas infers."""
        frame = pd.DataFrame(records)
        assert answers(HUBEI.judge_many(frame)) == expected(HUBEI, records)

    def test_a_boolean_is_not_a_number_in_a_pandas_object_column(self) -> None:
        """The issue's case: True among revenues is not 1.0."""
        out = HUBEI.judge_many(pd.DataFrame([group(revenue=True), group(revenue=2e6)]))
        assert answers(out) == [(None, None, "revenue: expected a number, got bool"),
                                ("A+", "revenue.1", None)]

    def test_an_integer_beyond_64_bits_is_a_number(self) -> None:
        """10**30 fits a float: it is judged like 1e30, in every input shape."""
        records = [group(revenue=10**30)]
        assert HUBEI.judge(records[0]).tier == "A+"
        assert answers(HUBEI.judge_many(records)) == [("A+", "revenue.1", None)]
        assert answers(HUBEI.judge_many(pd.DataFrame(records))) == [("A+", "revenue.1", None)]

    def test_an_integer_too_large_for_a_float_is_not_finite(self) -> None:
        """10**400 has no float: it cannot be judged, like ±inf."""
        decision = HUBEI.judge(group(revenue=10**400))
        assert (decision.tier, decision.reason) == (None, "revenue is not a finite number")


MONTHS_CASES = [
    subscriber([900.0, True, 900.0]),
    subscriber([900.0, 900.0, False]),
    subscriber([True, 900.0, 900.0, 900.0]),  # outside the 3-month window: not read
    subscriber([900.0, "900", 900.0]),
    subscriber([900.0, 10**30, 900.0]),
    subscriber([900.0, 2**64, 900.0]),
    subscriber([900.0, 900.0, 900.0]),
    subscriber([900.0, None, 900.0]),
    subscriber([900.0, 900.0]),
    subscriber("900"),
    subscriber(None),
    subscriber([900.0, 900.0, 900.0], arrears=True),
]


class TestListFields:
    """A list-valued field (months of bills): its items are read like numbers."""

    @pytest.mark.parametrize("record", MONTHS_CASES)
    def test_each_record_alone_agrees_with_judge(self, record: dict[str, Any]) -> None:
        """One record at a time, as a list of dicts and as pandas."""
        want = expected(CREDIT, [record])
        assert answers(CREDIT.judge_many([record])) == want
        assert answers(CREDIT.judge_many(pd.DataFrame([record]))) == want

    def test_a_portfolio_agrees_with_judge(self) -> None:
        """All the cases together, as records and as pandas."""
        want = expected(CREDIT, MONTHS_CASES)
        assert answers(CREDIT.judge_many(MONTHS_CASES)) == want
        assert answers(CREDIT.judge_many(pd.DataFrame(MONTHS_CASES))) == want

    def test_a_boolean_month_gives_no_tier(self) -> None:
        """The issue's case: [900.0, True, 900.0] is not a mean of 600.33."""
        out = CREDIT.judge_many([subscriber([900.0, True, 900.0])])
        assert answers(out) == [(None, None, "monthly bills: expected a number, got bool")]

    def test_a_polars_object_column_is_read_value_by_value(self) -> None:
        """A polars Object column is checked like a pandas one."""
        frame = pl.DataFrame({"bills": pl.Series([[900.0, True, 900.0], [900.0] * 3],
                                                 dtype=pl.Object),
                              "arrears": [0, 0]})
        out = CREDIT.judge_many(frame)
        assert isinstance(out, pl.DataFrame)
        assert answers(out) == [(None, None, "monthly bills: expected a number, got bool"),
                                ("credit_key_account", "credit", None)]


class TestCleanInputKeepsItsShape:
    """The fixes leave clean input and the caller's columns as they were."""

    def test_pandas_columns_come_back_unchanged(self) -> None:
        """The input columns keep their values and dtypes; tier, rule, reason are added."""
        frame = pd.DataFrame([group(revenue=70000.0, note=1), group(revenue=True, note="x")],
                             index=[10, 20])
        out = HUBEI.judge_many(frame)
        assert list(out.index) == [10, 20]
        pd.testing.assert_frame_equal(out[list(frame.columns)], frame)
        assert list(out.columns)[-3:] == ["tier", "rule", "reason"]

    def test_a_column_the_rules_do_not_read_may_hold_anything(self) -> None:
        """A notes column mixing kinds does not stop the judging."""
        records = [group(revenue=70000.0, note=1), group(revenue=1.0, note="x"),
                   group(revenue=1.0, note=2**70)]
        assert answers(HUBEI.judge_many(records)) == expected(HUBEI, records)
        assert answers(HUBEI.judge_many(pd.DataFrame(records))) == expected(HUBEI, records)


class TestAFieldReadTwoWays:
    """A field read as a number by one factor and as a text by another is judged row by row."""

    BOOK = vw.load_rules({
        "name": "two-ways", "tiers": ["A", "B"],
        "scheme": {"type": "chain", "policy": "first", "default": "B", "factors": [
            {"field": "x", "bands": [{"min": 5, "tier": "A"}]},
            {"id": "y", "field": "x", "bands": [{"in": ["k"], "tier": "A"}]}]}})
    RECORDS: ClassVar[list[dict[str, Any]]] = [{"x": 7}, {"x": "k"}, {"x": True}, {"x": None}]

    def test_records_pandas_and_polars_objects_agree_with_judge(self) -> None:
        """Every input shape, with a column mixing kinds."""
        want = expected(self.BOOK, self.RECORDS)
        assert answers(self.BOOK.judge_many(self.RECORDS)) == want
        assert answers(self.BOOK.judge_many(pd.DataFrame(self.RECORDS))) == want
        objects = pl.DataFrame({"x": pl.Series([r["x"] for r in self.RECORDS], dtype=pl.Object)})
        assert answers(self.BOOK.judge_many(objects)) == want
