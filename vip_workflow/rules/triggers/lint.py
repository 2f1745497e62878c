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

from vip_workflow.rules.files.findings import Finding, LintReport, Severity
from vip_workflow.rules.triggers import schema as s
from vip_workflow.rules.triggers.snapshots import SNAPSHOT_COLUMNS

if TYPE_CHECKING:
    from vip_workflow.rules.triggers import TriggerBook

__all__ = ["lint_triggers"]

_NON_NEGATIVE = {name for name, dtype in SNAPSHOT_COLUMNS.items()
                 if dtype.is_numeric()}  # every numeric snapshot column is ≥ 0
_UPPER = {"competitor_share": 1.0}
Where = tuple[str | int, ...]


def _range_test(op: str, value: float, low: float, high: float) -> str | None:
    """'never' / 'always' when ``x op value`` is decided for every x in [low, high]."""
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


def _bands(spec: s.AllOf) -> set[tuple[str, int]]:
    """(field, periods) of changes bounded on both sides in one ``all``: a band such as
    −5 % ≤ change ≤ 5 % (stability) is meant to hold when nothing changed."""
    ops: dict[tuple[str, int], set[str]] = {}
    for child in spec.conditions:
        if isinstance(child, s.Change):
            ops.setdefault((child.field, child.periods), set()).add(child.op[0])
    return {key for key, seen in ops.items() if {">", "<"} <= seen}


def _leaf_findings(spec: Any, bands: set[tuple[str, int]]
                   ) -> Iterator[tuple[Severity, str, str]]:
    """(severity, code, message) for one leaf condition."""
    field = spec.field
    if field not in SNAPSHOT_COLUMNS:
        yield ("warning", "unknown-field",
               f"{field!r} is not a snapshot column (see MonthlySnapshot); the history must "
               "provide it")
    elif isinstance(spec, s.DaysUntil) and SNAPSHOT_COLUMNS[field] != pl.Date():
        yield "error", "not-a-date", f"days_until reads {field!r}, which is not a date column"
    bounded = True
    low = 0.0 if field in _NON_NEGATIVE else -math.inf
    high = _UPPER.get(field, math.inf)
    if isinstance(spec, s.Threshold) and bounded:
        verdict = _range_test(spec.op, spec.value, low, high)
        if verdict == "never":
            yield ("error", "never-fires",
                   f"{field} {spec.op} {spec.value:g} can never hold ({field} lies in "
                   f"[{low:g}, {high:g}])")
        elif verdict == "always":
            yield ("warning", "always-fires",
                   f"{field} {spec.op} {spec.value:g} holds whenever {field} is known")
    elif isinstance(spec, s.Change):
        in_band = (field, spec.periods) in bands
        if not in_band and _range_test(spec.op, spec.percent, 0.0, 0.0) == "always":
            yield ("warning", "wrong-sign",
                   f"change {spec.op} {spec.percent:g} % also holds when nothing changed; "
                   "is the sign of the percent right?")
        if field in _NON_NEGATIVE and _range_test(spec.op, spec.percent, -100.0, math.inf) \
                == "never":
            yield ("error", "never-fires",
                   f"a non-negative {field} cannot change by {spec.op} {spec.percent:g} %")
    elif isinstance(spec, s.Anomaly):
        if spec.threshold <= 0:
            yield ("warning", "always-fires",
                   f"an anomaly threshold of {spec.threshold:g} flags ordinary months")
    elif isinstance(spec, s.Sum):
        verdict = _range_test(spec.op, spec.value, low * spec.periods, high * spec.periods)
        if verdict == "never":
            yield ("error", "never-fires",
                   f"a sum of {spec.periods} month(s) of {field} can never be {spec.op} "
                   f"{spec.value:g}")
        elif verdict == "always":
            yield ("warning", "always-fires",
                   f"the sum of {field} {spec.op} {spec.value:g} holds whenever it is known")
    elif isinstance(spec, s.Count):
        if bounded and _range_test(spec.where_op, spec.where_value, low, high) == "never":
            yield ("error", "never-fires",
                   f"no month can have {field} {spec.where_op} {spec.where_value:g}")
        verdict = _range_test(spec.op, spec.value, 0, spec.periods)
        if verdict == "never":
            yield ("error", "never-fires",
                   f"a count over {spec.periods} month(s) can never be {spec.op} "
                   f"{spec.value:g}")
        elif verdict == "always":
            yield ("warning", "always-fires",
                   f"a count over {spec.periods} month(s) is always {spec.op} {spec.value:g}")


def _bounds(spec: s.Threshold) -> tuple[float, float, bool, bool] | None:
    """The interval of values a threshold admits: (low, high, low_open, high_open)."""
    v = spec.value
    return {
        ">": (v, math.inf, True, True), ">=": (v, math.inf, False, True),
        "<": (-math.inf, v, True, True), "<=": (-math.inf, v, True, False),
        "==": (v, v, False, False),
    }.get(spec.op)


def _contradictions(spec: s.AllOf) -> Iterator[str]:
    """Thresholds on one field inside an ``all`` that no value satisfies together."""
    by_field: dict[str, list[s.Threshold]] = {}
    for child in spec.conditions:
        if isinstance(child, s.Threshold) and child.op != "!=":
            by_field.setdefault(child.field, []).append(child)
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
            shown = " and ".join(f"{field} {i.op} {i.value:g}" for i in items)
            yield f"{shown} cannot all hold"


def _walk(spec: Any, where: Where, bands: frozenset[tuple[str, int]] = frozenset()
          ) -> Iterator[tuple[Any, Where, frozenset[tuple[str, int]]]]:
    yield spec, where, bands
    if isinstance(spec, s.AllOf | s.AnyOf):
        inner = frozenset(_bands(spec)) if isinstance(spec, s.AllOf) else frozenset()
        for position, child in enumerate(spec.conditions):
            yield from _walk(child, (*where, "conditions", position), inner)


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
            if isinstance(spec, s.AllOf):
                for message in _contradictions(spec):
                    add("error", "never-fires", message, where)
            elif isinstance(spec, s.AnyOf):
                continue
            else:
                for severity, code, message in _leaf_findings(spec, set(bands)):
                    add(severity, code, message, where)
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
