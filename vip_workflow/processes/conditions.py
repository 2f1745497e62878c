"""Evaluating declarative conditions on an instance's context (never ``eval``)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from vip_workflow.processes.definitions import Condition

__all__ = ["holds", "lookup"]

_MISSING = object()
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
    "in": lambda a, b: a in b,
    "not_in": lambda a, b: a not in b,
}


def lookup(context: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` in ``context``, or a private missing marker."""
    value: Any = context
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def holds(condition: Condition, context: Mapping[str, Any]) -> bool:
    """Whether ``condition`` is true of ``context``.

    A missing field (or ``None``) makes every comparison false except ``missing``; values that
    cannot be compared (a string against a number) are false, not an error.
    """
    if condition.all is not None:
        return all(holds(part, context) for part in condition.all)
    if condition.any is not None:
        return any(holds(part, context) for part in condition.any)
    if condition.not_ is not None:
        return not holds(condition.not_, context)
    value = lookup(context, condition.field or "")
    absent = value is _MISSING or value is None
    if condition.op == "exists":
        return not absent
    if condition.op == "missing":
        return absent
    if absent:
        return False
    try:
        return bool(_COMPARE[condition.op or "eq"](value, condition.value))
    except TypeError:
        return False
