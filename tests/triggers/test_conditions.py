"""Each condition type at its boundaries; every case also checks that live agrees with batch."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

import vip_workflow as vw
from tests.triggers.helpers import book_of, evidence, fired, history


class TestThreshold:
    @pytest.mark.parametrize(("op", "expected"), [(">=", ["2026-02", "2026-03"]),
                                                   (">", ["2026-03"]), ("<", ["2026-01"]),
                                                   ("<=", ["2026-01", "2026-02"]),
                                                   ("==", ["2026-02"]),
                                                   ("!=", ["2026-01", "2026-03"])])
    def test_the_bound_is_included_or_not_by_the_operator(self, op: str,
                                                          expected: list[str]) -> None:
        """revenue 90, 100, 110 against 100."""
        book = book_of({"type": "threshold", "field": "revenue", "op": op, "value": 100})
        got = fired(book, history({"revenue": [90.0, 100.0, 110.0]}))
        assert [p for _, p, _ in got] == expected

    def test_a_missing_value_never_fires_even_with_not_equal(self) -> None:
        """Unknown is not 'different from 100'."""
        book = book_of({"type": "threshold", "field": "revenue", "op": "!=", "value": 100})
        assert fired(book, history({"revenue": [None, 50.0]})) == [("c1", "2026-02", "t0")]


class TestConsecutive:
    def test_n_strict_declines_ending_at_the_period(self) -> None:
        """120 → 110 → 100 → 90 fires in month 4 (3 declines) and month 5 only if it falls."""
        book = book_of({"type": "consecutive", "field": "revenue", "direction": "decline",
                        "periods": 3})
        frame = history({"revenue": [120.0, 110.0, 100.0, 90.0, 80.0, 80.0]})
        assert [p for _, p, _ in fired(book, frame)] == ["2026-04", "2026-05"]

    def test_an_equal_month_breaks_the_run(self) -> None:
        """A flat month is not a decline."""
        book = book_of({"type": "consecutive", "field": "revenue", "direction": "decline",
                        "periods": 2})
        assert fired(book, history({"revenue": [10.0, 10.0, 9.0]})) == []

    def test_a_missing_month_breaks_the_run(self) -> None:
        """Months 1, 2, 4, 5: no run spans the gap in month 3."""
        book = book_of({"type": "consecutive", "field": "revenue", "direction": "decline",
                        "periods": 2})
        frame = history({"revenue": [40.0, 30.0, 20.0, 10.0]}, months=[1, 2, 4, 5])
        assert fired(book, frame) == []

    def test_increases_and_the_evidence_shows_the_run(self) -> None:
        """complaints 1, 2, 3 → 2 increases, evidence lists the three values."""
        book = book_of({"type": "consecutive", "field": "complaints", "direction": "increase",
                        "periods": 2})
        result = book.scan(history({"complaints": [1, 2, 3]}))
        assert result.height == 1
        assert evidence(result) == {"complaints[-2]": 1, "complaints[-1]": 2, "complaints": 3}


class TestChange:
    def test_percent_change_over_a_window_includes_the_bound(self) -> None:
        """100 → 80 over 2 months is exactly −20 %."""
        book = book_of({"type": "change", "field": "revenue", "periods": 2, "op": "<=",
                        "percent": -20})
        result = book.scan(history({"revenue": [100.0, 95.0, 80.0]}))
        assert result["period"].to_list() == [date(2026, 3, 1)]
        assert evidence(result)["revenue.change_pct[2]"] == pytest.approx(-20)

    def test_a_zero_or_missing_base_gives_no_change(self) -> None:
        """0 → 50 is not +inf %; an unknown base is unknown."""
        book = book_of({"type": "change", "field": "revenue", "periods": 1, "op": ">=",
                        "percent": 10})
        assert fired(book, history({"revenue": [0.0, 50.0, None, 80.0]})) == []


class TestAnomaly:
    def test_a_spike_against_a_noisy_year_fires(self) -> None:
        """Six ordinary months then a tenfold month."""
        book = book_of({"type": "anomaly", "field": "revenue", "window": 6, "min_periods": 6,
                        "threshold": 3})
        frame = history({"revenue": [100.0, 102.0, 98.0, 101.0, 99.0, 100.0, 1000.0]})
        got = fired(book, frame)
        assert got == [("c1", "2026-07", "t0")]

    def test_too_few_known_months_give_no_score(self) -> None:
        """min_periods counts known months only."""
        book = book_of({"type": "anomaly", "field": "revenue", "window": 6, "min_periods": 5,
                        "threshold": 3})
        frame = history({"revenue": [100.0, None, 98.0, None, 99.0, 100.0, 1000.0]})
        assert fired(book, frame) == []

    def test_a_flat_history_scores_infinite_when_the_value_moves(self) -> None:
        """Spread 0: a move is an anomaly, no move is not."""
        book = book_of({"type": "anomaly", "field": "revenue", "window": 3, "min_periods": 3,
                        "threshold": 3, "direction": "down"})
        frame = history({"revenue": [50.0, 50.0, 50.0, 50.0, 10.0]})
        result = book.scan(frame)
        assert result["period"].to_list() == [date(2026, 5, 1)]
        assert evidence(result)["revenue.zscore"] == float("-inf")
        assert fired(book, frame) == [("c1", "2026-05", "t0")]

    def test_the_robust_score_ignores_one_outlier_in_the_window(self) -> None:
        """Median/MAD: an old spike does not hide a new one."""
        book = book_of({"type": "anomaly", "field": "revenue", "method": "robust",
                        "window": 6, "min_periods": 6, "threshold": 3.5, "direction": "up"})
        frame = history({"revenue": [100.0, 5000.0, 101.0, 99.0, 100.0, 102.0, 400.0]})
        assert ("c1", "2026-07", "t0") in fired(book, frame)


class TestDaysUntil:
    def test_days_are_counted_from_the_first_day_of_the_period(self) -> None:
        """Agreement ends 2026-03-31, 89 days after 2026-01-01: within 88 starts in February."""
        book = book_of({"type": "days_until", "field": "agreement_end", "within": 88})
        frame = history({"agreement_end": [date(2026, 3, 31)] * 5})
        assert [p for _, p, _ in fired(book, frame)] == ["2026-02", "2026-03"]

    def test_an_agreement_already_ended_does_not_fire(self) -> None:
        """Negative days are outside [0, within]."""
        book = book_of({"type": "days_until", "field": "agreement_end", "within": 400})
        assert fired(book, history({"agreement_end": [date(2025, 12, 31)]})) == []


class TestSumAndCount:
    def test_sum_needs_every_month_of_the_window(self) -> None:
        """A missing month leaves the sum unknown (never read as zero)."""
        book = book_of({"type": "sum", "field": "complaints", "periods": 3, "op": ">=",
                        "value": 3})
        frame = history({"complaints": [1, 1, 1, None, 3, 0, 0]})
        assert [p for _, p, _ in fired(book, frame)] == ["2026-03", "2026-07"]

    def test_sum_equal_to_zero_over_months(self) -> None:
        """No key-person contact for 3 months."""
        book = book_of({"type": "sum", "field": "key_person_contacts", "periods": 3,
                        "op": "==", "value": 0})
        frame = history({"key_person_contacts": [1, 0, 0, 0, 2]})
        assert [p for _, p, _ in fired(book, frame)] == ["2026-04"]

    def test_count_counts_known_months_meeting_the_test(self) -> None:
        """arrears > 0 in 2 of the last 3 months; a missing month counts as not."""
        book = book_of({"type": "count", "field": "arrears", "periods": 3, "op": ">=",
                        "value": 2})
        frame = history({"arrears": [10.0, 0.0, 5.0, None, 7.0]})
        assert [p for _, p, _ in fired(book, frame)] == ["2026-03", "2026-05"]


class TestCombinations:
    def test_all_needs_every_part(self) -> None:
        """Declining and below 100."""
        book = book_of({"type": "all", "conditions": [
            {"type": "consecutive", "field": "revenue", "direction": "decline", "periods": 1},
            {"type": "threshold", "field": "revenue", "op": "<", "value": 100}]})
        frame = history({"revenue": [150.0, 120.0, 90.0, 95.0, 80.0]})
        assert [p for _, p, _ in fired(book, frame)] == ["2026-03", "2026-05"]

    def test_any_fires_on_one_part_even_if_another_is_unknown(self) -> None:
        """An unknown part does not block the other."""
        book = book_of({"type": "any", "conditions": [
            {"type": "threshold", "field": "complaints", "op": ">=", "value": 5},
            {"type": "threshold", "field": "arrears", "op": ">", "value": 0}]})
        frame = history({"complaints": [None, 6], "arrears": [3.0, None]})
        assert [p for _, p, _ in fired(book, frame)] == ["2026-01", "2026-02"]


class TestEmission:
    def test_onset_fires_only_when_the_condition_starts_to_hold(self) -> None:
        """Holds in months 2, 3, 5 → onsets 2 and 5."""
        book = book_of({"type": "threshold", "field": "complaints", "op": ">=", "value": 1},
                       emit="onset")
        frame = history({"complaints": [0, 1, 2, 0, 3]})
        assert [p for _, p, _ in fired(book, frame)] == ["2026-02", "2026-05"]

    def test_after_a_missing_month_it_is_a_new_onset(self) -> None:
        """The month before was unknown, so it did not hold."""
        book = book_of({"type": "threshold", "field": "complaints", "op": ">=", "value": 1},
                       emit="onset")
        frame = history({"complaints": [1, 1]}, months=[1, 3])
        assert [p for _, p, _ in fired(book, frame)] == ["2026-01", "2026-03"]


class TestHistories:
    def test_periods_may_be_dates_text_or_datetimes(self) -> None:
        """"2026-01", 2026-01-15 and a datetime all mean January 2026."""
        book = book_of({"type": "threshold", "field": "revenue", "op": ">", "value": 0})
        text = history({"revenue": [1.0]})
        as_date = text.with_columns(pl.lit(date(2026, 1, 15)).alias("period"))
        as_datetime = text.with_columns(pl.lit(date(2026, 1, 15)).cast(pl.Datetime)
                                        .alias("period"))
        for frame in (text, as_date, as_datetime):
            assert book.scan(frame)["period"].to_list() == [date(2026, 1, 1)]

    def test_two_rows_for_one_month_are_an_error(self) -> None:
        """Which one would count?"""
        book = book_of({"type": "threshold", "field": "revenue", "op": ">", "value": 0})
        frame = pl.concat([history({"revenue": [1.0]}), history({"revenue": [2.0]})])
        with pytest.raises(vw.EvaluationError, match="two rows for the same month"):
            book.scan(frame)

    def test_a_missing_column_is_named(self) -> None:
        """The book reads complaints; the history has none."""
        book = book_of({"type": "threshold", "field": "complaints", "op": ">", "value": 0})
        with pytest.raises(vw.EvaluationError, match="complaints"):
            book.scan(history({"revenue": [1.0]}))

    def test_unsorted_histories_and_several_customers(self) -> None:
        """Row order does not matter; windows never cross customers."""
        book = book_of({"type": "consecutive", "field": "revenue", "direction": "decline",
                        "periods": 1})
        a = history({"revenue": [5.0, 4.0]}, customer="a")
        b = history({"revenue": [1.0, 9.0]}, customer="b")
        frame = pl.concat([b, a]).reverse()
        assert fired(book, frame) == [("a", "2026-02", "t0")]

    def test_pandas_in_pandas_out(self) -> None:
        """A pandas history gives a pandas result."""
        book = book_of({"type": "threshold", "field": "revenue", "op": ">", "value": 0})
        result = book.scan(history({"revenue": [1.0]}).to_pandas())
        assert type(result).__name__ == "DataFrame" and len(result) == 1
        assert "evidence" in result.columns


class TestEdges:
    def test_integer_customer_ids_keep_their_type_on_both_paths(self) -> None:
        """customer_id 7 stays an integer."""
        book = book_of({"type": "threshold", "field": "revenue", "op": ">", "value": 0})
        frame = history({"revenue": [1.0, 2.0]}).with_columns(pl.lit(7).alias("customer_id"))
        assert fired(book, frame) == [(7, "2026-01", "t0"), (7, "2026-02", "t0")]

    def test_an_empty_history_gives_an_empty_signal_frame(self) -> None:
        """With the signal columns."""
        book = book_of({"type": "threshold", "field": "revenue", "op": ">", "value": 0})
        empty = history({"revenue": [1.0]}).clear()
        result = book.scan(empty)
        assert result.height == 0
        assert result.columns == ["customer_id", "period", "trigger", "family", "severity",
                                  "action", "evidence"]

    def test_families_and_trigger_ids_select_what_runs(self) -> None:
        """families=… and triggers=…; an unknown one is an error."""
        book = vw.preset("seed-001-triggers")
        frame = history({c: [None] for c in book.fields})
        assert book.scan(frame, families=["retain"]).height == 0
        with pytest.raises(vw.EvaluationError, match="unknown family"):
            book.scan(frame, families=["keep"])
        with pytest.raises(vw.EvaluationError, match="no trigger"):
            book.live(triggers=["nope"])

    def test_nan_is_unknown_like_null(self) -> None:
        """A NaN never fires and never counts."""
        book = book_of({"type": "threshold", "field": "revenue", "op": "!=", "value": 1})
        assert fired(book, history({"revenue": [float("nan")]})) == []


def test_text_where_a_number_is_needed_is_an_evaluation_error() -> None:
    """Both paths name the problem instead of crashing."""
    book = book_of({"type": "threshold", "field": "score", "op": ">", "value": 1})
    frame = history({"revenue": [1.0]}).with_columns(pl.lit("high").alias("score"))
    with pytest.raises(vw.EvaluationError):
        book.scan(frame)
    with book.live() as engine, pytest.raises(vw.EvaluationError, match="score"):
        engine.post({"customer_id": "c", "period": "2026-01", "score": "high"})
