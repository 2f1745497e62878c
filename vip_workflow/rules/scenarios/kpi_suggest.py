"""``--suggest`` for a KPI book: for every KPI value a target lacks a case at (or just below,
or just above), a small portfolio giving exactly that value, with the outcome the book gives.

The portfolio starts from a row of the file's cases that belongs to the KPI's population (its
``where`` and, for a KPI computed ``by`` a column, the group), then sets what the measure
reads: the field of a mean or sum; the two sums of a ratio (``0.27`` is 27 over 100); for a
share of rows (a count passing a test over a count), so many rows passing and so many not;
for rows per distinct value (customers per account manager), so many rows over so many
values. Every portfolio is checked by the book before it is proposed: one that does not give
the value wanted is left out.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import Any

import polars as pl

from vip_workflow.domain.decisions import show_value
from vip_workflow.rules import ir
from vip_workflow.rules.kpis.book import columns_read, condition_ir
from vip_workflow.rules.scenarios.coverage import step_of
from vip_workflow.rules.scenarios.run import SuiteResult

__all__ = ["kpi_cases", "portfolio"]

#: the most rows of one proposed portfolio
MAX_ROWS = 5_000
_WORDS = {"below": "just below", "at": "at", "above": "just above"}
Test = Callable[[dict[str, Any]], bool]


def _test(where: Any) -> Test:
    if where is None:
        return lambda row: True
    run = ir.to_python(condition_ir(where))
    return lambda row: bool(run(ir.PyEnv(row=row)))


def _number(value: float) -> int | float:
    return int(value) if value == int(value) and abs(value) < 1e15 else value


def _candidates(where: Any) -> dict[str, list[Any]]:
    """Values worth trying per field a filter reads: its constants and one step around."""
    found: dict[str, list[Any]] = {}
    for leaf in where.walk():
        if leaf.kind != "field" or leaf.field is None:
            continue
        values = leaf.value if isinstance(leaf.value, list | tuple) else [leaf.value]
        tries: list[Any] = []
        for value in values:
            if isinstance(value, bool):
                tries += [True, False]
            elif isinstance(value, int | float):
                step = step_of(float(value))
                tries += [_number(value), _number(value - step), _number(value + step)]
            elif value is not None:
                tries += [value, f"not {value}"]
        found.setdefault(leaf.field, [])
        found[leaf.field] += [t for t in tries if t not in found[leaf.field]]
    return {name: [*values, None] for name, values in found.items()}


def _rows_for(where: Any, base: dict[str, Any], wanted: bool) -> dict[str, Any] | None:
    """``base`` with the filter's fields set so the filter gives ``wanted``."""
    test = _test(where)
    choices = _candidates(where)
    names = list(choices)
    for combo in itertools.islice(itertools.product(*(choices[n] for n in names)), 2_000):
        row = {**base, **dict(zip(names, combo, strict=True))}
        if test(row) == wanted:
            return row
    return None


def _base(kpi: Any, group: str | None,
          templates: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """A row in the KPI's population (and group)."""
    population = _test(kpi.where)
    read = columns_read(kpi)
    for template in [*templates, {}]:
        row = {k: v for k, v in template.items() if k in read}
        if kpi.by is not None and group is not None:
            row[kpi.by] = group
        if population(row):
            return row
        if kpi.where is not None:
            fixed = _rows_for(kpi.where, row, True)
            if fixed is not None:
                return fixed
    return None


def _fraction(value: float) -> Fraction:
    """``value`` as the fraction an analyst would write (0.013 is 13/1000)."""
    shown = repr(round(value, 10))
    return Fraction(shown) if "e" not in shown else Fraction(value).limit_denominator(10**6)


def _decimal(value: float) -> tuple[int, int] | None:
    """``value`` as so many over a power of ten (0.27 is 27 over 100), as an analyst writes a
    share of sums."""
    shown = repr(round(value, 10))
    if "e" in shown:
        return None
    q = 10 ** len(shown.partition(".")[2].rstrip("0")) if "." in shown else 1
    return round(value * q), q


def portfolio(kpi: Any, group: str | None, value: float,
              templates: Iterable[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Rows whose KPI value (of ``group``) is ``value``, or None when none is found."""
    base = _base(kpi, group, templates)
    m = kpi.measure
    if base is None:
        return None
    if m.type in ("mean", "sum") and m.where is None:
        return [{**base, m.field: _number(value)}]
    if m.type == "count" and m.where is None and value == int(value) and 0 < value <= MAX_ROWS:
        return [dict(base) for _ in range(int(value))]
    if m.type != "ratio" or value < 0:
        return None
    num, den = m.numerator, m.denominator
    share = _fraction(value)
    p, q = share.numerator, share.denominator
    if num.agg == "sum" and den.agg == "sum" and num.where is None and den.where is None:
        p, q = _decimal(value) or (p, q)
        return [{**base, num.field: p, den.field: q}]
    if num.agg == "count" and den.agg == "count" and den.where is None and p <= q <= MAX_ROWS:
        if num.where is None:
            return None
        yes, no = _rows_for(num.where, base, True), _rows_for(num.where, base, False)
        if yes is None or (no is None and p < q):
            return None
        return [dict(yes) for _ in range(p)] + [dict(no or {}) for _ in range(q - p)]
    if num.agg == "count" and num.where is None and den.agg == "n_unique" and \
            den.where is None and p <= MAX_ROWS and q <= p:
        return [{**base, den.field: f"m{i % q + 1}"} for i in range(p)]
    return None


def _statuses(book: Any, kpi: Any, rows: list[dict[str, Any]], group: str | None
              ) -> tuple[float | None, Any]:
    frame = book.check(pl.DataFrame(rows, infer_schema_length=None), kpis=[kpi.id])
    found = {g: (v, s) for g, v, s in frame.select("segment", "value", "status").iter_rows()}
    value = found.get(group, (None, None))[0]
    if kpi.by is None:
        return value, found.get(None, (None, "n/a"))[1]
    return value, {str(g): s for g, (_, s) in found.items() if g is not None}


def kpi_cases(result: SuiteResult) -> list[dict[str, Any]]:
    """One case per missing bound check of a KPI suite, with the outcome the book gives."""
    coverage, book = result.coverage, result.suite.book
    if coverage is None:
        return []
    kpis = {k.id: k for k in book.kpis}
    templates = [dict(row) for case in result.suite.cases for row in case.rows or []]
    cases = []
    for bound in coverage.bounds:
        kpi_id, _, rest = bound.target.partition("[")
        group = rest.removesuffix("]") or None
        kpi = kpis.get(kpi_id)
        for check in bound.missing if kpi is not None else []:
            wanted = bound.wanted[check]
            rows = None if wanted is None else portfolio(kpi, group, wanted, templates)
            if rows is None:
                continue
            value, status = _statuses(book, kpi, rows, group)
            if value is None or not math.isclose(value, wanted or 0.0, rel_tol=1e-12,
                                                 abs_tol=1e-12):
                continue
            cases.append({"name": f"{bound.target} {_WORDS[check]} "
                                  f"{show_value(bound.value)}",
                          "rows": rows, "expect": {"kpis": {kpi_id: status}}})
    return cases
