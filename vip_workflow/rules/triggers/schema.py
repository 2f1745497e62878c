"""Pydantic models of a trigger file (``kind: triggers``): conditions over a customer's months.

``when`` is a condition of the one condition language (:mod:`vip_workflow.rules.files.conditions`,
``docs/conditions.md``). Trigger files use its numeric comparisons (``== != < <= > >= between``)
and every measure over months:

============== =================================================================================
``field``       the column's value this month ``op`` ``value``
``consecutive`` ``months`` strict month-over-month changes in ``direction`` ending this month
``change_pct``  % change of the column from ``months`` back (default 1) to this month
``anomaly``     score of this month's value against the customer's previous ``window`` months
``days_until``  days from the month's first day to the date in the column, ``op`` ``value``
``sum``         sum of the column over the last ``months`` months (this one included)
``count``       number of the last ``months`` months whose value passes ``where``
``all``/``any`` every / at least one of the conditions listed
============== =================================================================================

The spellings of earlier releases (``{type: threshold, …}``, ``{type: all, conditions: […]}``)
still load, and lint reports them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from vip_workflow.rules.files.conditions import Condition as AnyCondition
from vip_workflow.rules.files.header import FileHeader
from vip_workflow.rules.files.model import FileModel

__all__ = [
    "FAMILIES",
    "NUMERIC_OPS",
    "SEVERITIES",
    "Condition",
    "Trigger",
    "TriggerFile",
]

Family = Literal["develop", "maintain", "retain", "upgrade", "risk"]
Severity = Literal["low", "medium", "high", "critical"]
FAMILIES: tuple[str, ...] = ("develop", "maintain", "retain", "upgrade", "risk")
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
NUMERIC_OPS: tuple[str, ...] = ("==", "!=", "<", "<=", ">", ">=", "between")
MAX_WINDOW = 60
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


_Model = FileModel  # the one strict base of every file model


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numeric_test(op: str | None, value: Any, where: str) -> None:
    if op not in NUMERIC_OPS:
        raise ValueError(f"{where}: trigger conditions compare numbers; op {op!r} is not one of "
                         + ", ".join(NUMERIC_OPS))
    values = value if isinstance(value, list | tuple) else [value]
    if not all(_is_number(v) for v in values):
        raise ValueError(f"{where}: trigger conditions compare numbers, not {value!r}")


def _fits_triggers(condition: AnyCondition) -> AnyCondition:
    """A condition a trigger can evaluate: numeric tests on snapshot columns, no ``not``."""
    for node in condition.walk():
        kind = node.kind
        if kind == "not":
            raise ValueError("'not' is not available in trigger files; use the opposite op")
        if kind in ("all", "any"):
            continue
        subject = node.subject or ""
        if not _FIELD.match(subject):
            raise ValueError(f"{subject!r} is not a snapshot column name (it should match "
                             f"pattern {_FIELD.pattern})")
        if node.op is not None:
            _numeric_test(node.op, node.value, f"{kind}: {subject}")
        if node.where is not None:
            _numeric_test(node.where.op, node.where.value, f"count: {subject}: where")
    return condition


#: A condition of the one language that a trigger can evaluate.
Condition = Annotated[AnyCondition, AfterValidator(_fits_triggers)]


class Trigger(_Model):
    """One trigger: an id, its family, severity, suggested action and condition."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]+$", max_length=80)]
    family: Family
    severity: Severity = "medium"
    title: str | None = None
    description: str | None = None
    action: str = Field(description="What the account manager should do.")
    emit: Literal["every", "onset"] = Field(
        default="every",
        description="every: a signal for each period the condition holds; onset: only for a "
        "period where it holds and did not hold the month before.")
    enabled: bool = True
    when: Condition


class TriggerFile(FileHeader):
    """A trigger rule file."""

    kind: Literal["triggers"] = Field(description="What the file holds.")
    name: str = Field(description="Name of the trigger book.")
    description: str | None = Field(default=None, description="What the trigger book is for.")
    source: str | None = None
    triggers: list[Trigger] = Field(min_length=1)
