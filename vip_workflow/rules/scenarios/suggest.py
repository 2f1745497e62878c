"""``--suggest``: the boundary cases a tier scenario file lacks, judged by the current book.

For every bound check no case covers (at, just below or just above a bound), one case is
proposed: the case that came closest to the bound, with the field set to the value needed (for
an interval-scoring total, one band per factor adding up to it), and the tier and rule the
book gives it *today*. The analyst confirms the tier is the one meant, then pastes the YAML
under ``cases:``.
"""

from __future__ import annotations

import math
from typing import Any

import yaml

from vip_workflow.domain.decisions import show_value
from vip_workflow.rules.scenarios.coverage import Target, step_of
from vip_workflow.rules.scenarios.run import SuiteResult
from vip_workflow.rules.tiers.compiled import Interval, Scoring

__all__ = ["suggest_cases", "suggestions_yaml"]

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
    """One case per missing bound check of a tier suite, with the tier the book gives it."""
    book = result.suite.book
    coverage = result.coverage
    if coverage is None or coverage.kind != "tiers" or book.needs_portfolio:
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


def suggestions_yaml(result: SuiteResult) -> str:
    """The suggested cases as YAML to paste under ``cases:`` (empty when none is missing)."""
    cases = suggest_cases(result)
    if not cases:
        return ""
    head = (f"# {result.suite.path}: {len(cases)} boundary case(s) missing. The tier is the "
            "one the current rule file gives:\n# check each is the tier you mean, then paste "
            "them under cases:\n")
    text = yaml.dump(cases, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=None, width=100)
    return head + text
