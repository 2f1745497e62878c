"""Properties of the small pure pieces: conditions, durations, the ledger chain."""

from __future__ import annotations

import operator
from datetime import UTC, datetime, timedelta

import hypothesis.strategies as st
from attrs import evolve
from hypothesis import given
from vip_workflow.processes.instance import first_bad_entry

from vip_workflow.processes.conditions import holds
from vip_workflow.processes.definitions import Condition
from vip_workflow.processes.engine import add_duration
from vip_workflow.testing.contract import advance, new_instance

OPS = {"==": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge,
       "<": operator.lt, "<=": operator.le}
numbers = st.one_of(st.integers(-10**6, 10**6), st.floats(-1e6, 1e6, allow_nan=False))
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                       timezones=st.just(UTC))


class TestConditionProperties:
    """Declarative comparisons agree with Python's operators."""

    @given(op=st.sampled_from(sorted(OPS)), left=numbers, right=numbers)
    def test_comparisons_agree_with_python(self, op, left, right):
        """{field, op, value} is op(context[field], value)."""
        condition = Condition(field="x", op=op, value=right)
        assert holds(condition, {"x": left}) == OPS[op](left, right)

    @given(op=st.sampled_from(sorted(OPS)), right=numbers)
    def test_a_missing_field_makes_every_comparison_false(self, op, right):
        """Missing or None never satisfies a comparison; 'missing' holds."""
        assert not holds(Condition(field="x", op=op, value=right), {})
        assert not holds(Condition(field="x", op=op, value=right), {"x": None})
        assert holds(Condition(field="x", op="missing"), {"x": None})

    @given(a=st.booleans(), b=st.booleans())
    def test_all_any_not_combine_like_boolean_logic(self, a, b):
        """all/any/not over two flags match and/or/not."""
        ctx = {"a": a, "b": b}
        fa = Condition(field="a", op="eq", value=True)
        fb = Condition(field="b", op="eq", value=True)
        assert holds(Condition(all=(fa, fb)), ctx) == (a and b)
        assert holds(Condition(any=(fa, fb)), ctx) == (a or b)
        assert holds(Condition(**{"not": fa}), ctx) == (not a)

    @given(value=st.text(max_size=5), other=numbers)
    def test_incomparable_values_are_false_not_errors(self, value, other):
        """A string compared with a number is simply false."""
        assert holds(Condition(field="x", op=">", value=other), {"x": value}) is False


class TestDurationProperties:
    """ISO durations added to aware datetimes."""

    @given(moment=moments, days=st.integers(1, 400), hours=st.integers(0, 48))
    def test_days_and_hours_are_exact(self, moment, days, hours):
        """P{d}DT{h}H adds exactly that many days and hours."""
        text = f"P{days}DT{hours}H" if hours else f"P{days}D"
        assert add_duration(moment, text) == moment + timedelta(days=days, hours=hours)

    @given(moment=moments, months=st.integers(1, 30))
    def test_months_are_calendar_months_clamped_to_the_month_end(self, moment, months):
        """P{n}M lands n months later, on the same day or the month's last day."""
        later = add_duration(moment, f"P{months}M")
        assert (later.year * 12 + later.month) - (moment.year * 12 + moment.month) == months
        assert later.day == moment.day or (later.day < moment.day and (
            later + timedelta(days=1)).month != later.month)
        assert later.time() == moment.time()


class TestLedgerProperties:
    """Any single edit to a chained ledger is found."""

    @given(steps=st.integers(1, 6), data=st.data())
    def test_dropping_any_entry_breaks_the_chain(self, steps, data):
        """Removing one entry of a valid ledger is detected."""
        inst, _ = new_instance()
        for k in range(steps):
            inst, _ = advance(inst, f"s{k}")
        assert first_bad_entry(inst.id, inst.history) is None
        drop = data.draw(st.integers(0, len(inst.history) - 1))
        cut = inst.history[:drop] + inst.history[drop + 1:]
        if drop == len(inst.history) - 1:
            assert not evolve(inst, history=cut).verify_ledger()
        else:
            assert first_bad_entry(inst.id, cut) is not None

