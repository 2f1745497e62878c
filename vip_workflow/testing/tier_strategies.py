"""Hypothesis strategies: random rule files and portfolios that hit their boundaries.

Bounds are whole numbers 0–8, and the portfolio numbers sit at them, a hair (one ulp) below and
above them, between them, and at NaN, ±inf and null; texts include unknown categories and
blanks. Used by the tests and by the back-end agreement suite (``tier_agreement``)."""

from __future__ import annotations

import math
from typing import Any

import polars as pl
from hypothesis import strategies as st

NUMBER_FIELDS = ("n0", "n1", "n2")
TEXT_FIELDS = ("t0", "t1")
BOOL_FIELDS = ("b0",)
MONTHS_FIELD = "m0"
CATEGORIES = ("a", "b", "c", "d")
ALL_TIERS = ("A+", "A", "B+", "B", "C")

bound = st.integers(min_value=0, max_value=8).map(float)
closed = st.sampled_from(["left", "right", "both", "neither"])


@st.composite
def tiers(draw: st.DrawFn) -> list[str]:
    chosen = draw(st.sets(st.sampled_from(ALL_TIERS), min_size=2, max_size=5))
    return [t for t in ALL_TIERS if t in chosen]


@st.composite
def numeric_match(draw: st.DrawFn) -> dict[str, Any]:
    low = draw(st.one_of(st.none(), bound))
    high = draw(st.one_of(st.none(), bound))
    if low is not None and high is not None and low > high:
        low, high = high, low
    how = draw(closed)
    if low is None and high is None:
        return {"range": "(-inf, inf)"}
    if low is not None and high is not None and low == high:
        how = "both"
    if draw(st.booleans()):
        opening = "[" if how in ("left", "both") else "("
        closing = "]" if how in ("right", "both") else ")"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        if low is None:
            opening = "("
        if high is None:
            closing = ")"
        return {"range": f"{opening}{lo}, {hi}{closing}"}
    match: dict[str, Any] = {"closed": how}
    if low is not None:
        match["min"] = low
    if high is not None:
        match["max"] = high
    return match


def field_match(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    if kind == "number":
        return st.one_of(
            numeric_match(),
            st.lists(bound, min_size=1, max_size=3).map(lambda v: {"in": v}),
        )
    if kind == "text":
        return st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=3).map(
            lambda v: {"in": v}
        )
    return st.sampled_from([True, False]).map(lambda v: {"in": [v]})


@st.composite
def field_and_kind(draw: st.DrawFn) -> tuple[str, str]:
    kind = draw(st.sampled_from(["number", "number", "text", "boolean"]))
    names = {"number": NUMBER_FIELDS, "text": TEXT_FIELDS, "boolean": BOOL_FIELDS}[kind]
    return draw(st.sampled_from(names)), kind


@st.composite
def band_list(draw: st.DrawFn, kind: str, tier_names: list[str] | None) -> list[dict[str, Any]]:
    bands = []
    for _ in range(draw(st.integers(1, 3))):
        band = draw(field_match(kind))
        if tier_names is None:
            band["points"] = draw(st.integers(-2, 6))
        else:
            band["tier"] = draw(st.sampled_from(tier_names))
        bands.append(band)
    return bands


@st.composite
def declared_values(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """Often nothing; else a factor's ``values`` of its kind, and maybe ``unknown``."""
    if draw(st.integers(0, 2)) == 0:
        return {}
    values: list[Any]
    if kind == "number":
        values = sorted(draw(st.sets(bound, min_size=1, max_size=4)))
    elif kind == "text":
        values = sorted(draw(st.sets(st.sampled_from([*CATEGORIES, "e", ""]), min_size=1,
                                     max_size=4)))
    else:
        values = draw(st.sampled_from([[True], [False], [True, False]]))
    result: dict[str, Any] = {"values": values}
    unknown = draw(st.sampled_from(["reject", "reject", "pass", None]))
    if unknown is not None:
        result["unknown"] = unknown
    return result


@st.composite
def score_part(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        factors = []
        for i in range(draw(st.integers(1, 3))):
            name, kind = draw(field_and_kind())
            factor = {"id": f"s{i}", "field": name, "bands": draw(band_list(kind, None)),
                      **draw(declared_values(kind))}
            if draw(st.booleans()):
                factor["otherwise"] = draw(st.integers(-1, 3))
            factors.append(factor)
        return {"type": "scoring", "factors": factors}
    terms = []
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            term: dict[str, Any] = {"field": draw(st.sampled_from(NUMBER_FIELDS))}
        else:
            keys = draw(st.sets(st.sampled_from(CATEGORIES), min_size=1, max_size=4))
            term = {"field": draw(st.sampled_from(TEXT_FIELDS)),
                    "map": {k: draw(st.integers(0, 5)) for k in sorted(keys)}}
            if draw(st.booleans()):
                term["otherwise"] = draw(st.integers(0, 2))
        term["weight"] = draw(st.sampled_from([1.0, 2.0, 0.5, -1.0, 3.0]))
        terms.append(term)
    return {"type": "weighted", "intercept": draw(st.sampled_from([0.0, 1.0, -2.0])),
            "terms": terms}


@st.composite
def score_bands(draw: st.DrawFn, tier_names: list[str]) -> list[dict[str, Any]]:
    bands = []
    for _ in range(draw(st.integers(1, 3))):
        band = draw(numeric_match())
        band["tier"] = draw(st.sampled_from(tier_names))
        bands.append(band)
    return bands


@st.composite
def rule_files(draw: st.DrawFn, *, portfolio: bool = False) -> dict[str, Any]:
    """A random valid rule file (quota schemes only when ``portfolio``)."""
    names = draw(tiers())
    kinds = ["chain", "chain", "scoring", "weighted", "eligibility"]
    if portfolio:
        kinds.append("quota")
    kind = draw(st.sampled_from(kinds))
    scheme: dict[str, Any]
    if kind == "chain":
        factors = []
        for i in range(draw(st.integers(1, 3))):
            name, field_kind = draw(field_and_kind())
            factors.append({"id": f"f{i}", "field": name,
                            "bands": draw(band_list(field_kind, names)),
                            **draw(declared_values(field_kind))})
        scheme = {"type": "chain", "policy": draw(st.sampled_from(["first", "highest"])),
                  "default": draw(st.sampled_from(names)), "factors": factors}
    elif kind in ("scoring", "weighted"):
        scheme = draw(score_part())
        scheme["tiers"] = draw(score_bands(names))
        scheme["default"] = draw(st.sampled_from(names))
    elif kind == "eligibility":
        conditions = []
        for _ in range(draw(st.integers(1, 3))):
            if draw(st.booleans()):
                condition = draw(numeric_match())
                condition.update(field=MONTHS_FIELD, window=draw(st.integers(1, 3)),
                                 aggregate=draw(st.sampled_from(
                                     ["mean", "sum", "min", "max", "last"])))
            else:
                name, field_kind = draw(field_and_kind())
                condition = draw(field_match(field_kind))
                condition["field"] = name
            conditions.append(condition)
        scheme = {"type": "eligibility", "conditions": conditions,
                  "tier": names[0], "default": names[-1]}
    else:
        cut_count = draw(st.integers(1, len(names)))
        chosen = names[:cut_count]
        shares = [draw(st.sampled_from([0.05, 0.1, 0.25, 0.3, 0.5])) for _ in chosen[:-1]]
        while sum(shares) > 0.95:
            shares = shares[:-1]
            chosen = chosen[:-1]
        quotas = [{"tier": t, "share": s} for t, s in zip(chosen, shares, strict=False)]
        quotas.append({"tier": chosen[len(shares)] if len(shares) < len(chosen) else names[-1]})
        if len({q["tier"] for q in quotas}) != len(quotas):
            quotas = [{"tier": names[-1]}]
        scheme = {"type": "quota", "quotas": quotas,
                  "order": draw(st.sampled_from(["descending", "ascending"]))}
        if draw(st.booleans()):
            scheme["by"] = draw(st.sampled_from(NUMBER_FIELDS))
        else:
            scheme["score"] = draw(score_part())
    rules: dict[str, Any] = {"name": "generated", "tiers": names, "scheme": scheme}
    if draw(st.booleans()):
        split_tier = draw(st.sampled_from(names))
        name, field_kind = draw(field_and_kind())
        rules["subtiers"] = {split_tier: {"field": name,
                                          "bands": draw(band_list(field_kind, names)),
                                          "default": draw(st.sampled_from(names))}}
    if draw(st.booleans()):
        rules["override"] = False
    return rules


hairs = st.tuples(st.integers(1, 8), st.sampled_from([-math.inf, math.inf])).map(
    lambda at: math.nextafter(float(at[0]), at[1]))  # one ulp off a bound (no subnormals)
number_values = st.one_of(
    st.integers(-1, 9),
    hairs,
    st.integers(-1, 9).map(float),
    st.sampled_from([0.5, 2.5, 7.999, 8.0001, float("nan"), -0.0, float("inf"),
                     float("-inf")]),
    st.none(),
)
text_values = st.one_of(st.sampled_from([*CATEGORIES, "e", ""]), st.none())
bool_values = st.one_of(st.booleans(), st.none())
month_values = st.one_of(
    st.none(),
    st.lists(st.one_of(st.integers(0, 9).map(float), st.none(),
                       st.sampled_from([float("nan"), float("inf"), float("-inf")])),
             max_size=4),
)


@st.composite
def portfolios(draw: st.DrawFn, tier_names: list[str], rows: int | None = None) -> pl.DataFrame:
    """A small frame (``rows`` rows, else 1 to 12): every field, each column of a right or a
    wrong type, or absent."""
    rows = rows if rows is not None else draw(st.integers(1, 12))
    columns: dict[str, pl.Series] = {}
    for name in NUMBER_FIELDS:
        shape = draw(st.sampled_from(["int", "float", "float", "float", "text", "absent"]))
        if shape == "absent":
            continue
        if shape == "text":
            columns[name] = pl.Series(name, draw(st.lists(text_values, min_size=rows,
                                                           max_size=rows)), dtype=pl.String)
            continue
        values = draw(st.lists(number_values, min_size=rows, max_size=rows))
        if shape == "int":
            values = [None if v is None or not math.isfinite(v) else int(v) for v in values]
            columns[name] = pl.Series(name, values, dtype=pl.Int64)
        else:
            columns[name] = pl.Series(name, [None if v is None else float(v) for v in values],
                                      dtype=pl.Float64)
    for name in TEXT_FIELDS:
        if draw(st.integers(0, 9)) == 0:
            continue
        columns[name] = pl.Series(name, draw(st.lists(text_values, min_size=rows, max_size=rows)),
                                  dtype=pl.String)
    for name in BOOL_FIELDS:
        if draw(st.booleans()):
            columns[name] = pl.Series(name, draw(st.lists(bool_values, min_size=rows,
                                                          max_size=rows)), dtype=pl.Boolean)
        elif draw(st.booleans()):
            columns[name] = pl.Series(name, draw(st.lists(st.integers(0, 1), min_size=rows,
                                                          max_size=rows)), dtype=pl.Int64)
    columns[MONTHS_FIELD] = pl.Series(
        MONTHS_FIELD, draw(st.lists(month_values, min_size=rows, max_size=rows)),
        dtype=pl.List(pl.Float64),
    )
    if draw(st.booleans()):
        override_tiers = st.one_of(st.none(), st.sampled_from([*tier_names, "Z"]))
        who = st.one_of(st.none(), st.sampled_from(["", "  ", "li", "wang"]))
        columns["override_tier"] = pl.Series(
            "override_tier", draw(st.lists(override_tiers, min_size=rows, max_size=rows)),
            dtype=pl.String)
        columns["override_by"] = pl.Series(
            "override_by", draw(st.lists(who, min_size=rows, max_size=rows)), dtype=pl.String)
        columns["override_reason"] = pl.Series(
            "override_reason", draw(st.lists(who, min_size=rows, max_size=rows)),
            dtype=pl.String)
    return pl.DataFrame(list(columns.values()))


# -- values judge cannot read, or that polars would coerce (issue 9) ---------------------------
HUGE_INTEGERS = (10**30, 2**63, 2**64, -(2**70), 10**400, -(10**400))
huge_integers = st.sampled_from(HUGE_INTEGERS)
odd_numbers = st.one_of(number_values, st.booleans(), huge_integers,
                        st.sampled_from(["5", "x", ""]))
odd_texts = st.one_of(text_values, st.booleans(), st.integers(-1, 9), huge_integers,
                      st.just(float("nan")))
odd_bools = st.one_of(bool_values, st.integers(0, 1), st.sampled_from(["true", 1.0]))
odd_months = st.one_of(
    month_values,
    st.lists(st.one_of(st.integers(0, 9).map(float), st.none(), st.booleans(), huge_integers,
                       st.integers(0, 9), st.sampled_from(["5", float("inf")])), max_size=4),
    st.sampled_from(["900", 900.0, True]),
)


@st.composite
def messy_records(draw: st.DrawFn, tier_names: list[str]) -> list[dict[str, Any]]:
    """Records whose fields may hold any kind of value: booleans among numbers and in lists of
    months, integers beyond 64 bits (and beyond a float), texts among numbers, numbers among
    texts; sometimes a field is left out of a record. As a pandas frame these columns are
    object columns mixing kinds."""
    rows = draw(st.integers(1, 10))
    fields: dict[str, st.SearchStrategy[Any]] = {
        **{name: draw(st.sampled_from([number_values, odd_numbers])) for name in NUMBER_FIELDS},
        **{name: draw(st.sampled_from([text_values, odd_texts])) for name in TEXT_FIELDS},
        **{name: draw(st.sampled_from([bool_values, odd_bools])) for name in BOOL_FIELDS},
        MONTHS_FIELD: draw(st.sampled_from([month_values, odd_months])),
    }
    overrides = draw(st.booleans())
    override_tiers = st.one_of(st.none(), st.sampled_from([*tier_names, "Z"]),
                               st.sampled_from([5, True, float("nan")]))
    who = st.one_of(st.none(), st.sampled_from(["", " ", "li", 7]))
    records = []
    for _ in range(rows):
        record = {name: draw(values) for name, values in fields.items()
                  if draw(st.integers(0, 19))}  # now and then a field is absent
        if overrides:
            record.update(override_tier=draw(override_tiers), override_by=draw(who),
                          override_reason=draw(who))
        records.append(record)
    return records
