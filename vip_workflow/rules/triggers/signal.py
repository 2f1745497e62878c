"""Signals: a trigger fired for a customer in a period, with the values that made it fire."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import polars as pl
from attrs import frozen

__all__ = ["Signal", "describe_condition", "explain_evidence", "signals_frame"]


@frozen
class Signal:
    """One trigger firing for one customer and month."""

    customer_id: Any
    period: date
    trigger: str
    family: str
    severity: str
    action: str
    evidence: tuple[tuple[str, float | None], ...]

    @property
    def key(self) -> tuple[Any, date, str]:
        return (self.customer_id, self.period, self.trigger)

    def explain(self) -> str:
        """``retain.spend_declining for C001 in 2026-05: revenue[-3]=120, … → Call …``."""
        return (f"{self.trigger} ({self.family}, {self.severity}) for {self.customer_id} in "
                f"{self.period:%Y-%m}: {explain_evidence(self.evidence)}")

    def as_dict(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "period": self.period,
                "trigger": self.trigger, "family": self.family, "severity": self.severity,
                "action": self.action,
                "evidence": [{"name": n, "value": v} for n, v in self.evidence]}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Signal:
        """A Signal from a row of a signals DataFrame (``df.iter_rows(named=True)``)."""
        evidence = tuple((item["name"], item["value"]) for item in row["evidence"] or ())
        return cls(row["customer_id"], row["period"], row["trigger"], str(row["family"]),
                   str(row["severity"]), row["action"], evidence)


def _show(value: float | None) -> str:
    if value is None:
        return "unknown"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def explain_evidence(evidence: Iterable[tuple[str, float | None]]) -> str:
    return ", ".join(f"{name}={_show(value)}" for name, value in evidence)


def signals_frame(signals: Sequence[Signal], customer_dtype: Any = None) -> pl.DataFrame:
    """Signals as a DataFrame with the columns of ``TriggerBook.scan``."""
    from vip_workflow.rules.triggers.batch import empty_signals

    empty = empty_signals(customer_dtype)
    if not signals:
        return empty
    schema = empty.schema
    return pl.DataFrame([x.as_dict() for x in signals], schema=schema)


def _test_words(op: str | None, value: Any) -> str:
    if op == "between":
        return f"between {_show(value[0])} and {_show(value[1])}"
    return f"{op} {_show(value)}"


def describe_condition(spec: Any) -> str:
    """A condition in words, e.g. ``revenue declines 3 months in a row``."""
    kind, f, n = spec.kind, spec.subject, spec.span
    test = _test_words(spec.op, spec.value)
    if kind == "field":
        return f"{f} {test}"
    if kind == "consecutive":
        verb = "declines" if spec.direction == "decline" else "increases"
        return f"{f} {verb} {n} month(s) in a row"
    if kind == "change_pct":
        return f"{f} change over {n} month(s) {test} %"
    if kind == "anomaly":
        p = spec.anomaly_param
        side = {"both": "up or down", "up": "up", "down": "down"}[p("direction")]
        return (f"{f} {p('method')} score {_show(float(p('threshold')))} or more {side} "
                f"against the previous {p('window')} months (at least {p('min_periods')} known)")
    if kind == "days_until":
        if spec.op == "between" and spec.value[0] == 0:
            return f"{f} within {spec.value[1]} days"
        return f"days until {f} {test}"
    if kind == "sum":
        return f"sum of {f} over {n} month(s) {test}"
    if kind == "count":
        where = _test_words(*(spec.where.op, spec.where.value) if spec.where else (">", 0))
        return f"months with {f} {where} in the last {n} {test}"
    joiner = " and " if kind == "all" else " or "
    return "(" + joiner.join(describe_condition(c) for c in spec.children) + ")"
