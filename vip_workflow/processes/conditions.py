"""Evaluating declarative conditions on an instance's context (never ``eval``)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from vip_workflow.rules.files.conditions import Condition

__all__ = ["holds", "lookup"]

_MISSING = object()
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "in": lambda a, b: a in b,
    "not_in": lambda a, b: a not in b,
    "between": lambda a, b: bool(b[0] <= a <= b[1]),
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
    """Whether ``condition`` (the one condition language) is true of ``context``.

    A missing field (or ``None``) makes every comparison false except ``is_null``; values that
    cannot be compared (a string against a number) are false, not an error.
    """
    kind = condition.kind
    if kind == "all":
        return all(holds(part, context) for part in condition.children)
    if kind == "any":
        return any(holds(part, context) for part in condition.children)
    if kind == "not":
        return not holds(condition.children[0], context)
    if kind != "field":
        raise ValueError(f"a {kind} condition reads a customer's months, not a context")
    value = lookup(context, condition.field or "")
    absent = value is _MISSING or value is None
    if condition.op == "not_null":
        return not absent
    if condition.op == "is_null":
        return absent
    if absent:
        return False
    try:
        return bool(_COMPARE[condition.op or "=="](value, condition.value))
    except TypeError:
        return False
