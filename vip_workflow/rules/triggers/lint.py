"""Lint for trigger files: conditions that can never fire, always fire, or read oddly.

Severities follow the tier lint: ``error`` — the trigger can never fire as written;
``warning`` — likely a mistake (fires on any known value, a threshold of the wrong sign, a
column that is not part of the snapshot schema); ``info`` — worth knowing (disabled triggers).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import polars as pl

from vip_workflow.rules.files.conditions import Condition, old_spellings
from vip_workflow.rules.files.findings import Finding, LintReport, Severity
from vip_workflow.rules.triggers.snapshots import SNAPSHOT_COLUMNS

if TYPE_CHECKING:
    from vip_workflow.rules.triggers import TriggerBook

__all__ = ["lint_triggers"]

_NON_NEGATIVE = {name for name, dtype in SNAPSHOT_COLUMNS.items()
                 if dtype.is_numeric()}  # every numeric snapshot column is ≥ 0
_UPPER = {"competitor_share": 1.0}
Where = tuple[str | int, ...]


def _range_test(op: str, value: Any, low: float, high: float) -> str | None:
    """'never' / 'always' when ``x op value`` is decided for every x in [low, high]."""
    if op == "between":
        lower = _range_test(">=", value[0], low, high)
        upper = _range_test("<=", value[1], low, high)
        if "never" in (lower, upper) or value[0] > value[1]:
            return "never"
        return "always" if lower == upper == "always" else None
    if op in (">", ">="):
        if value > high or (op == ">" and value == high):
            return "never"
        if value < low or (op == ">=" and value == low):
            return "always"
    elif op in ("<", "<="):
        if value < low or (op == "<" and value == low):
            return "never"
        if value > high or (op == "<=" and value == high):
            return "always"
    elif op == "==" and not low <= value <= high:
        return "never"
    return None


def _bands(spec: Condition) -> set[tuple[str, int]]:
    """(field, months) of changes bounded on both sides in one ``all``: a band such as
    −5 % ≤ change ≤ 5 % (stability) is meant to hold when nothing changed."""
    ops: dict[tuple[str, int], set[str]] = {}
    for child in spec.children:
        if child.kind == "change_pct" and child.op is not None:
            seen = {"<", ">"} if child.op == "between" else {child.op[0]}
            ops.setdefault((child.subject or "", child.span), set()).update(seen)
    return {key for key, seen in ops.items() if {">", "<"} <= seen}


def _shown(op: str, value: Any) -> str:
    if op == "between":
        return f"between {value[0]:g} and {value[1]:g}"
    return f"{op} {value:g}"


def _leaf_findings(spec: Condition, bands: set[tuple[str, int]]
                   ) -> Iterator[tuple[Severity, str, str]]:
    """(severity, code, message) for one leaf condition."""
    field, kind = spec.subject or "", spec.kind
    op, value = spec.op or "==", spec.value
    if field not in SNAPSHOT_COLUMNS:
        yield ("warning", "unknown-field",
               f"{field!r} is not a snapshot column (see MonthlySnapshot); the history must "
               "provide it")
    elif kind == "days_until" and SNAPSHOT_COLUMNS[field] != pl.Date():
        yield "error", "not-a-date", f"days_until reads {field!r}, which is not a date column"
    bounded = True
    low = 0.0 if field in _NON_NEGATIVE else -math.inf
    high = _UPPER.get(field, math.inf)
    n = spec.span
    if kind == "field" and bounded:
        verdict = _range_test(op, value, low, high)
        if verdict == "never":
            yield ("error", "never-fires",
                   f"{field} {_shown(op, value)} can never hold ({field} lies in "
                   f"[{low:g}, {high:g}])")
        elif verdict == "always":
            yield ("warning", "always-fires",
                   f"{field} {_shown(op, value)} holds whenever {field} is known")
    elif kind == "change_pct":
        in_band = (field, n) in bands
        if not in_band and _range_test(op, value, 0.0, 0.0) == "always":
            yield ("warning", "wrong-sign",
                   f"change {_shown(op, value)} % also holds when nothing changed; "
                   "is the sign of the percent right?")
        if field in _NON_NEGATIVE and _range_test(op, value, -100.0, math.inf) == "never":
            yield ("error", "never-fires",
                   f"a non-negative {field} cannot change by {_shown(op, value)} %")
    elif kind == "anomaly":
        threshold = float(spec.anomaly_param("threshold"))
        if threshold <= 0:
            yield ("warning", "always-fires",
                   f"an anomaly threshold of {threshold:g} flags ordinary months")
    elif kind == "sum":
        verdict = _range_test(op, value, low * n, high * n)
        if verdict == "never":
            yield ("error", "never-fires",
                   f"a sum of {n} month(s) of {field} can never be {_shown(op, value)}")
        elif verdict == "always":
            yield ("warning", "always-fires",
                   f"the sum of {field} {_shown(op, value)} holds whenever it is known")
    elif kind == "count":
        where_op, where_value = (spec.where.op, spec.where.value) if spec.where else (">", 0)
        if bounded and _range_test(where_op, where_value, low, high) == "never":
            yield ("error", "never-fires",
                   f"no month can have {field} {_shown(where_op, where_value)}")
        verdict = _range_test(op, value, 0, n)
        if verdict == "never":
            yield ("error", "never-fires",
                   f"a count over {n} month(s) can never be {_shown(op, value)}")
        elif verdict == "always":
            yield ("warning", "always-fires",
                   f"a count over {n} month(s) is always {_shown(op, value)}")


def _bounds(spec: Condition) -> tuple[float, float, bool, bool] | None:
    """The interval of values a comparison admits: (low, high, low_open, high_open)."""
    v = spec.value
    if spec.op == "between":
        return (v[0], v[1], False, False)
    return {
        ">": (v, math.inf, True, True), ">=": (v, math.inf, False, True),
        "<": (-math.inf, v, True, True), "<=": (-math.inf, v, True, False),
        "==": (v, v, False, False),
    }.get(spec.op or "")


def _contradictions(spec: Condition) -> Iterator[str]:
    """Comparisons on one field inside an ``all`` that no value satisfies together."""
    by_field: dict[str, list[Condition]] = {}
    for child in spec.children:
        if child.kind == "field" and child.op != "!=":
            by_field.setdefault(child.subject or "", []).append(child)
    for field, items in by_field.items():
        low, high, low_open, high_open = -math.inf, math.inf, True, True
        for item in items:
            b = _bounds(item)
            assert b is not None
            if b[0] > low or (b[0] == low and b[2]):
                low, low_open = b[0], b[2]
            if b[1] < high or (b[1] == high and b[3]):
                high, high_open = b[1], b[3]
        if low > high or (low == high and (low_open or high_open)):
            shown = " and ".join(f"{field} {_shown(i.op or '==', i.value)}" for i in items)
            yield f"{shown} cannot all hold"


def _walk(spec: Condition, where: Where, bands: frozenset[tuple[str, int]] = frozenset()
          ) -> Iterator[tuple[Condition, Where, frozenset[tuple[str, int]]]]:
    yield spec, where, bands
    if spec.kind in ("all", "any"):
        inner = frozenset(_bands(spec)) if spec.kind == "all" else frozenset()
        for position, child in enumerate(spec.children):
            yield from _walk(child, (*where, spec.kind, position), inner)


def lint_triggers(book: TriggerBook) -> LintReport:
    findings: list[Finding] = []
    document = book.document

    def add(severity: Severity, code: str, message: str, where: Where) -> None:
        line, column = document.locate(where) if document is not None else (None, None)
        field = _describe(where, book)
        findings.append(Finding(severity, code, message, field, line, column))

    for position, trigger in enumerate(book.triggers):
        base: Where = ("triggers", position)
        if not trigger.enabled:
            add("info", "disabled", f"trigger {trigger.id} is disabled", (*base, "enabled"))
        for spec, where, bands in _walk(trigger.when, (*base, "when")):
            if spec.kind == "all":
                for message in _contradictions(spec):
                    add("error", "never-fires", message, where)
            elif spec.kind in ("any", "not"):
                continue
            else:
                for severity, code, message in _leaf_findings(spec, set(bands)):
                    add(severity, code, message, where)
    if document is not None:
        for old in old_spellings(document.data):
            add("warning", "old-spelling", old.reason, old.path)
    return LintReport(findings, path=book.path)


def _describe(where: Where, book: TriggerBook) -> str:
    text = ""
    for step in where:
        if isinstance(step, int):
            text += f"[{step}]"
            if len(text.split(".")) == 1 and text.startswith("triggers"):
                text += f" ({book.triggers[step].id})"
        else:
            text += f".{step}" if text else str(step)
    return text
