"""The specialised band finders give the first band in file order, as the plain loop does."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from vip_workflow.rules.tiers.compiled import Band, Interval, ValueSet
from vip_workflow.rules.tiers.evaluate import _first_band, band_finder

BOUNDS = st.sampled_from([-1e9, -5.0, -0.0, 0.0, 1.0, 2.5, 7000.0, 1e15, float("inf"),
                          float("-inf")])
VALUES = st.one_of(BOUNDS, st.floats(allow_nan=True), st.integers(-10, 10))


@st.composite
def intervals(draw: st.DrawFn) -> Interval:
    low, high = sorted((draw(BOUNDS), draw(BOUNDS)))
    return Interval(low, high, draw(st.booleans()), draw(st.booleans()), f"[{low}, {high}]")


ITEMS = st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b", "甲", ""]), st.booleans(),
                  st.sampled_from([0.0, 1.0, -0.0, 2.5]))


@st.composite
def value_sets(draw: st.DrawFn) -> ValueSet:
    return ValueSet(tuple(draw(st.lists(ITEMS, max_size=4))), "set")


def _bands(matchers: list[Any]) -> list[Band]:
    return [Band(f"f.{i}", m, tier=f"T{i}") for i, m in enumerate(matchers)]


@given(st.lists(intervals(), max_size=6), st.lists(VALUES, min_size=1, max_size=10))
def test_intervals_find_the_first_band_holding_the_value(matchers: list[Interval],
                                                         values: list[Any]) -> None:
    bands = _bands(matchers)
    find = band_finder(bands)
    for value in values:
        assert find(value) is _first_band(bands, value)


@given(st.lists(value_sets(), max_size=5), st.lists(ITEMS, min_size=1, max_size=10))
def test_value_sets_find_the_first_band_holding_the_value(matchers: list[ValueSet],
                                                          values: list[Any]) -> None:
    bands = _bands(matchers)
    find = band_finder(bands)
    for value in values:
        assert find(value) is _first_band(bands, value)


@given(st.lists(st.one_of(intervals(), value_sets()), max_size=5), VALUES)
def test_mixed_bands_fall_back_to_the_loop(matchers: list[Any], value: Any) -> None:
    bands = _bands(matchers)
    try:
        expected = _first_band(bands, value)
    except TypeError:  # comparing a text with a number: the loop itself cannot answer
        return
    assert band_finder(bands)(value) is expected


@st.composite
def partitions(draw: st.DrawFn) -> list[Interval]:
    """Bands that share no value (a tier file's usual shape), in any file order."""
    cuts = sorted(set(draw(st.lists(st.sampled_from(
        [-1e9, -5.0, 0.0, 1.0, 2.5, 7000.0, 18000.0, 60000.0, 1e15]), min_size=3, max_size=9))))
    closed_low = draw(st.booleans())  # [a, b) bands, or (a, b]
    bands = [Interval(low, high, closed_low, not closed_low, f"{low}..{high}")
             for low, high in zip([float("-inf"), *cuts], [*cuts, float("inf")], strict=True)]
    keep = draw(st.lists(st.booleans(), min_size=len(bands), max_size=len(bands)))
    chosen = [b for b, k in zip(bands, keep, strict=True) if k] or bands
    return draw(st.permutations(chosen))


@given(partitions(), st.lists(VALUES, min_size=1, max_size=12))
def test_bands_sharing_no_value_are_searched_as_the_loop_finds(matchers: list[Interval],
                                                              values: list[Any]) -> None:
    bands = _bands(matchers)
    find = band_finder(bands)
    for value in values:
        if value != value:  # NaN never reaches a finder (it is missing)
            continue
        assert find(value) is _first_band(bands, value)
