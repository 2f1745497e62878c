"""``--suggest``: the boundary cases a scenario file lacks, judged by the current book.

For every bound check no case covers (at, just below or just above a bound), one case is
proposed: the case that came closest to the bound, with the field set to the value needed (for
an interval-scoring total, one band per factor adding up to it), and the tier and rule the
book gives it *today*. The analyst confirms the tier is the one meant, then pastes the YAML
under ``cases:``. For a trigger book, each proposed case is a small history whose fact (the
month's value, a sum, a count, a change, the days left) is the value needed in its last
month, with the signals the book raises on it; for a KPI book, a small portfolio whose KPI
value is the one needed, with the outcome the book gives it.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import yaml

from vip_workflow.domain.decisions import show_value
from vip_workflow.rules.scenarios.coverage import Target, step_of
from vip_workflow.rules.scenarios.run import SuiteResult
from vip_workflow.rules.tiers.compiled import Interval, Scoring

__all__ = ["suggest_cases", "suggestions_table", "suggestions_yaml"]

_WORDS = {"below": "just below", "at": "at", "above": "just above"}


def _number(value: float) -> int | float:
    return int(value) if value == int(value) and abs(value) < 1e15 else value


class _Dumper(yaml.SafeDumper):
    """Block YAML without anchors or aliases (rule files refuse them)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _closest(result: SuiteResult, target: Target, value: float) -> dict[str, Any]:
    """The template of a suggested case: the case closest to ``value`` among those that
    ``target`` decided, else the file's ``defaults``, else the closest case that read it."""
    deciding: tuple[float, int] | None = None
    reading: tuple[float, int] | None = None
    for i, decision in enumerate(result.decisions):
        for step in decision.trace:
            read = step.value
            if step.factor != target.label or not isinstance(read, int | float) \
                    or isinstance(read, bool):
                continue
            distance = (abs(float(read) - value), i)
            reading = min(reading or distance, distance)
            if step.outcome == "match" and step.rule == decision.rule:
                deciding = min(deciding or distance, distance)
    defaults = result.suite.spec.defaults
    if deciding is None and defaults:
        return dict(defaults)
    best = deciding or reading
    return dict(result.records[best[1] if best else 0]) if result.records else {}


def _shown_input(record: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """The fields of a suggested case that differ from the file's ``defaults``."""
    return {k: v for k, v in record.items() if k not in defaults or defaults[k] != v}


def _representative(matcher: Any) -> Any:
    """A value inside a band: its first value, or a number inside its interval."""
    if not isinstance(matcher, Interval):
        return matcher.values[0]
    if math.isfinite(matcher.low):
        low = matcher.low if matcher.low_closed else matcher.low + step_of(matcher.low)
        return _number(low)
    if math.isfinite(matcher.high):
        return _number(matcher.high if matcher.high_closed else
                       matcher.high - step_of(matcher.high))
    return 0


def _record(result: SuiteResult, target: Target, value: float) -> dict[str, Any] | None:
    if target.field is not None:
        record = _closest(result, target, value)
        record[target.field] = ([_number(value)] * target.window if target.window
                                else _number(value))
        return record
    scheme = result.suite.book.plan.scheme
    pick = target.combos.get(value)
    if pick is None or not isinstance(scheme, Scoring):
        return None
    record = dict(result.records[0]) if result.records else {}
    for factor, band in zip(scheme.factors, pick, strict=True):
        record[factor.field] = _representative(factor.bands[band].matcher)
    return record


def suggest_cases(result: SuiteResult) -> list[dict[str, Any]]:
    """One case per missing bound check, with what the book gives it today: the tier (tier
    books), the signals per month (trigger books) or the outcome (KPI books)."""
    coverage = result.coverage
    if coverage is None:
        return []
    if coverage.kind == "triggers":
        return _trigger_cases(result)
    if coverage.kind == "kpis":
        from vip_workflow.rules.scenarios.kpi_suggest import kpi_cases

        return kpi_cases(result)
    return _tier_cases(result)


def _tier_cases(result: SuiteResult) -> list[dict[str, Any]]:
    book = result.suite.book
    coverage = result.coverage
    if coverage is None or book.needs_portfolio:
        return []
    proposed: list[tuple[str, dict[str, Any]]] = []
    for bound in coverage.bounds:
        target = result.targets[bound.target]
        for check in bound.missing:
            value = bound.wanted[check]
            record = None if value is None else _record(result, target, value)
            if record is not None:
                name = f"{target.label} {_WORDS[check]} {show_value(bound.value)}"
                proposed.append((name, record))
    decisions = book.judge_rows([record for _, record in proposed])
    defaults = result.suite.spec.defaults or {}
    return [
        {"name": name, "input": _shown_input(record, defaults),
         "expect": {"tier": d.tier, "rule": d.rule} if d.tier is not None else {"tier": None}}
        for (name, record), d in zip(proposed, decisions, strict=True)
    ]


# -- trigger books ----------------------------------------------------------------------------

_START = date(2026, 1, 1)


def _month(offset: int) -> str:
    index = _START.year * 12 + _START.month - 1 + offset
    return f"{index // 12}-{index % 12 + 1:02d}"


def _meets(op: str, value: Any, step: float) -> tuple[Any, Any] | None:
    """A month value passing a count's month test, and one failing it."""
    if op == "between" and isinstance(value, list | tuple):
        low = float(value[0])
        return _number(low), _number(low - step)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    v = float(value)
    table = {">": (v + step, v), ">=": (v, v - step), "<": (v - step, v),
             "<=": (v, v + step), "==": (v, v + step), "!=": (v + step, v)}
    found = table.get(op)
    return None if found is None else (_number(found[0]), _number(found[1]))


def trigger_history(target: Target, value: float) -> list[dict[str, Any]] | None:
    """A history whose fact for ``target`` is ``value`` in its last month (None when no
    simple history gives it)."""
    leaf, field = target.leaf, target.field or ""
    if target.role == "month" or leaf.kind == "field":
        return [{"period": _month(0), field: _number(value)}]
    n = leaf.spec.span
    if leaf.kind == "sum":
        return [{"period": _month(k), field: 0} for k in range(n - 1)] + [
            {"period": _month(n - 1), field: _number(value)}]
    if leaf.kind == "change_pct":
        return [{"period": _month(k), field: 100} for k in range(n)] + [
            {"period": _month(n), field: _number(100 + value)}]
    if leaf.kind == "days_until":
        end = _START + timedelta(days=int(value))
        return [{"period": _month(0), field: end}] if value == int(value) else None
    if leaf.kind == "count":
        where = leaf.spec.where
        op, against = (">", 0) if where is None else (where.op, where.value)
        pair = _meets(op, against, step_of(float(against[0] if isinstance(against, list)
                                                 else against)))
        if pair is None or not 0 <= value <= n:
            return None
        yes, no = pair
        return [{"period": _month(k), field: no if k < n - value else yes} for k in range(n)]
    return None


def _trigger_cases(result: SuiteResult) -> list[dict[str, Any]]:
    import polars as pl

    book = result.suite.book
    coverage = result.coverage
    assert coverage is not None
    proposed: list[tuple[str, list[dict[str, Any]]]] = []
    for bound in coverage.bounds:
        target = result.targets.get(bound.target)
        if target is None:
            continue
        for check in bound.missing:
            value = bound.wanted[check]
            history = None if value is None else trigger_history(target, value)
            if history is not None:
                proposed.append((f"{target.label} {_WORDS[check]} {show_value(bound.value)}",
                                 history))
    if not proposed:
        return []
    fields = list(book.fields)
    rows = [{"customer_id": str(i), **{f: None for f in fields}, **month}
            for i, (_, history) in enumerate(proposed) for month in history]
    signals = book.scan(pl.DataFrame(rows, infer_schema_length=None))
    fired: dict[str, dict[str, list[str]]] = {}
    for customer, period, trigger in signals.select("customer_id", "period",
                                                    "trigger").iter_rows():
        fired.setdefault(str(customer), {}).setdefault(f"{period:%Y-%m}", []).append(trigger)
    return [{"name": name, "history": history, "expect": {"signals": fired.get(str(i), {})}}
            for i, (name, history) in enumerate(proposed)]


def suggestions_yaml(result: SuiteResult) -> str:
    """The suggested cases as YAML to paste under ``cases:`` (empty when none is missing)."""
    cases = suggest_cases(result)
    if not cases:
        return ""
    what = {"tiers": "The tier is the one the current rule file gives:\n# check each is "
                     "the tier you mean",
            "triggers": "The signals are the ones the current rule file raises:\n# check "
                        "each month's signals are the ones you mean",
            "kpis": "The outcome is the one the current rule file gives:\n# check each is "
                    "the outcome you mean"}[result.suite.book_kind]
    head = (f"# {result.suite.path}: {len(cases)} boundary case(s) missing. {what}, then "
            "paste them under cases:\n")
    text = yaml.dump(cases, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=None, width=100)
    return head + text


# -- the same as table rows ---------------------------------------------------------------------

def _cell(value: Any) -> str:
    """A value as a scenario table's cell holds it (read back to the same value)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return str(yaml.dump(value, Dumper=_Dumper, default_flow_style=True, allow_unicode=True,
                             width=10_000)).strip()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _table_rows(kind: str, case: dict[str, Any]) -> list[dict[str, str]]:
    name, expect = case["name"], case["expect"]
    if kind == "tiers":
        return [{"case": name, **{k: _cell(v) for k, v in case["input"].items()},
                 "expect tier": expect["tier"] or "null",
                 "expect rule": expect.get("rule") or ""}]
    if kind == "triggers":
        signals = expect["signals"]
        return [{"case": name if j == 0 else "", **{k: _cell(v) for k, v in month.items()},
                 "expect signals": ", ".join(signals.get(str(month["period"]), []))}
                for j, month in enumerate(case["history"])]
    rows = [{"case": name if j == 0 else "", **{k: _cell(v) for k, v in row.items()}}
            for j, row in enumerate(case["rows"])]
    for kpi, status in expect["kpis"].items():
        rows[0][f"expect {kpi}"] = _cell(status)
    return rows


def suggestions_table(result: SuiteResult) -> str:
    """The suggested cases as CSV rows for a scenario table (``NAME.scenarios.csv`` /
    ``.xlsx``): a comment line, then a header and one row per case (or month, or portfolio
    row); copy the rows under the table's own header, matching its columns."""
    import csv
    import io

    cases = suggest_cases(result)
    if not cases:
        return ""
    kind = result.suite.book_kind
    rows = [row for case in cases for row in _table_rows(kind, case)]
    columns = list(dict.fromkeys(["case", *(k for row in rows for k in row
                                            if not k.startswith("expect ")),
                                  *(k for row in rows for k in row if k.startswith("expect "))]))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    head = (f"# {result.suite.path}: {len(cases)} boundary case(s) missing; what each "
            "expects is what the current rule file gives it: check it, then add the rows "
            "to the table under its columns\n")
    return head + out.getvalue()
