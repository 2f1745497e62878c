"""The one translation of pydantic's validation errors into an analyst's words.

Every kind of data file (tier, trigger and KPI books, process definitions, ``vip.yaml``)
reports a validation problem the same way: where it is (a path of keys and list indexes in the
file) and a plain reason — "unknown key 'polcy'; did you mean 'policy'?", "expected a text,
found the number 5; quote it ("5") if it is a name", "'ten' is not a number" — never
pydantic's own "Extra inputs are not permitted".
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = ["MAX_PROBLEMS", "Problem", "explain", "explain_error", "known_keys"]

PathKey = tuple[str | int, ...]
#: A problem: where it is in the file, and why.
Problem = tuple[PathKey, str]
#: The most problems worded for one file (``error.problems``); a file may hold more.
MAX_PROBLEMS = 100


def explain_error(exc: ValidationError, data: Any, model: type[BaseModel]) -> list[Problem]:
    """The first :data:`MAX_PROBLEMS` problems of ``exc`` (raised validating ``data`` as
    ``model``), worded, with did-you-mean for unknown keys and values."""
    # only the first MAX_PROBLEMS are worded: a hostile file can hold tens of thousands,
    # each with a "did you mean" search
    return explain(exc.errors()[:MAX_PROBLEMS], data, known_keys(model))


# What a pydantic type error expected, in an analyst's words.
_EXPECTED = {
    "string_type": "a text",
    "float_type": "a number", "float_parsing": "a number",
    "int_type": "a whole number", "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false", "bool_parsing": "true or false",
    "dict_type": "a mapping of keys", "model_type": "a mapping of keys",
    "model_attributes_type": "a mapping of keys",
    "list_type": "a list",
    "date_type": "a date (YYYY-MM-DD)", "date_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "a date (YYYY-MM-DD)",
}
_MISMATCH = {*_EXPECTED, "literal_error"}


def explain(errors: list[Any], data: Any, vocabulary: list[str]) -> list[Problem]:
    """One ``(where, reason)`` per problem, ``where`` a path of keys and list indexes in
    ``data`` (pydantic's ``exc.errors()``, the file's plain data, the known keys).

    A value that fits no member of a union gives one error per member; they become one
    ("expected a text or a number, found a list"), and a member whose kind the value does not
    even have is dropped when another member went deeper (``override: {tier: 5}`` is about
    the tier, not about ``false``)."""
    placed = [(_data_path(data, e["loc"], e["type"]), e) for e in errors]
    # every path some other error went deeper than (one pass, not one per pair of errors:
    # a hostile file can hold tens of thousands of errors)
    above = {other[:depth] for (other, _), _ in placed for depth in range(len(other))}
    kept = [
        ((where, key), e) for (where, key), e in placed
        if not (e["type"] in _MISMATCH and isinstance(e.get("input"), dict | list)
                and where in above)
    ]
    groups: dict[PathKey, list[Any]] = {}
    for (where, _key), e in kept:
        groups.setdefault(where, []).append(e)
    problems: list[Problem] = []
    done: set[PathKey] = set()
    for (where, key), e in kept:
        group = groups[where]
        if len(group) > 1 and all(g["type"] in _MISMATCH for g in group):
            if where in done:
                continue
            done.add(where)
            problems.append((where, _union_reason(group)))
            continue
        problems.append(_problem(data, e, where, key, vocabulary))
    return problems


def _union_reason(errors: list[Any]) -> str:
    wanted: list[str] = []
    for e in errors:
        if e["type"] == "literal_error":
            words = [_literal_text(option) for option in _options(e["ctx"]["expected"])]
        else:
            words = [_EXPECTED[e["type"]]]
        wanted += [w for w in words if w not in wanted]
    if "a number" in wanted and "a whole number" in wanted:
        wanted.remove("a whole number")
    return f"expected {_either(wanted)}, found {_shown(errors[0].get('input'))}"


def _either(words: list[str]) -> str:
    """[a, b, c] → ``a, b, or c``; [a, b] → ``a or b``."""
    if len(words) <= 2:
        return " or ".join(words)
    return ", ".join(words[:-1]) + f", or {words[-1]}"


def _options(expected: str) -> list[str]:
    """``'first' or 'highest'`` → [first, highest] (pydantic's text of a literal's options)."""
    quoted = re.findall(r"'((?:[^'\\]|\\.)*)'", expected)
    return quoted or [part.strip() for part in re.split(r",| or ", expected) if part.strip()]


def _literal_text(option: str) -> str:
    return {"False": "false", "True": "true", "None": "null"}.get(option, repr(option))


def _shown(value: Any) -> str:
    """A found value in words: ``'ten'``, ``the number 5``, ``true``, ``a list``."""
    if isinstance(value, dict):
        return "a mapping of keys"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return repr(value)


def _did_you_mean(value: Any, options: list[str]) -> str:
    options = [o for o in options if o != str(value)]  # never suggest the key itself
    close = difflib.get_close_matches(str(value), options, n=1) if options else []
    return f"; did you mean {close[0]!r}?" if close else ""


def _problem(data: Any, error: Any, where: PathKey, missing_key: str | None,
             vocabulary: list[str]) -> Problem:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if isinstance(value, dict | list):
        found = ""
    elif isinstance(value, int | float) and not isinstance(value, bool):
        found = f" (found {_plain(value)})"
    else:
        found = f" (found {_shown(value)})"
    name = next((str(step) for step in reversed(where) if isinstance(step, str)), "value")
    if kind == "missing":
        reason = f"the required key {missing_key!r} is missing"
    elif kind == "extra_forbidden":
        unknown = str(error["loc"][-1])
        reason = f"unknown key {unknown!r}" + _did_you_mean(unknown, vocabulary)
    elif kind in {"union_tag_invalid", "union_tag_not_found"}:
        key = str(ctx.get("discriminator", "'type'")).strip("'")
        if isinstance(_node(data, where), dict) and kind == "union_tag_invalid":
            where = (*where, key)
        if kind == "union_tag_not_found":
            reason = f"the required key {key!r} is missing: it says which kind of {name} this is"
        else:
            options = _options(str(ctx.get("expected_tags", "")))
            reason = (f"unknown {key} {ctx.get('tag')!r}; expected one of "
                      f"{', '.join(options)}" + _did_you_mean(ctx.get("tag"), options))
    elif kind == "literal_error":
        options = _options(str(ctx.get("expected", "")))
        head = f"unknown {name} {_shown(value)}" if name != "unknown" else (
            f"{_shown(value)} is not a choice")
        reason = (f"{head}; expected {ctx.get('expected')}"
                  + (_did_you_mean(value, options) if isinstance(value, str) else ""))
    elif kind in {"float_parsing", "int_parsing"} and isinstance(value, str):
        whole = " whole" if kind == "int_parsing" else ""
        reason = f"{value!r} is not a{whole} number"
    elif kind == "int_from_float":
        reason = f"{_shown(value).removeprefix('the number ')} is not a whole number"
    elif kind == "string_type" and isinstance(value, int | float):
        reason = (f"expected a text, found {_shown(value)}; quote it (\"{_plain(value)}\") if "
                  "it is a name")
    elif kind.startswith("date_") and isinstance(value, str):
        reason = f"{value!r} is not a date; write it as YYYY-MM-DD"
    elif kind in _EXPECTED:
        reason = f"expected {_EXPECTED[kind]}, found {_shown(value)}"
    elif kind in {"too_short", "too_long"}:
        limit = ctx.get("min_length" if kind == "too_short" else "max_length")
        actual = ctx.get("actual_length")
        noun = "entry" if limit == 1 else "entries"
        has = "none" if not actual else str(actual)
        reason = (f"needs at least {limit} {noun}, has {has}" if kind == "too_short"
                  else f"takes at most {limit} {noun}, has {has}")
    elif kind in _BOUNDS:
        words, key = _BOUNDS[kind]
        reason = f"must be {words} {_plain(ctx.get(key))}{found}"
    elif kind == "finite_number":
        reason = f"must be a finite number, not NaN or ±inf{found}"
    elif kind == "string_pattern_mismatch":
        reason = (f"{_shown(value)} is not allowed here: it should match pattern "
                  f"{ctx.get('pattern')!r}")
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
        message = message.removeprefix("Assertion failed, ")
        reason = f"{message}{found}"
    return where, reason


_BOUNDS = {
    "greater_than_equal": ("greater than or equal to", "ge"),
    "greater_than": ("greater than", "gt"),
    "less_than_equal": ("less than or equal to", "le"),
    "less_than": ("less than", "lt"),
}


def _plain(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _node(data: Any, where: PathKey) -> Any:
    for step in where:
        data = data[step]
    return data


def _data_path(data: Any, loc: tuple[Any, ...], kind: str) -> tuple[PathKey, str | None]:
    """Map a pydantic error location onto the file's keys, skipping union tags."""
    node = data
    where: list[str | int] = []
    for position, step in enumerate(loc):
        last = position == len(loc) - 1
        in_dict = isinstance(node, dict) and step in node
        in_list = isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
        if in_dict or in_list:
            where.append(step)
            node = node[step]
        elif last and kind in {"missing", "extra_forbidden"}:
            if kind == "extra_forbidden":
                where.append(step)
            return tuple(where), str(step)
    return tuple(where), None


def known_keys(model: type[BaseModel]) -> list[str]:
    """Every key the model and the models inside it know: the vocabulary for "did you mean"."""
    keys: set[str] = set()
    seen: set[type[BaseModel]] = set()

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation in seen:
                return
            seen.add(annotation)
            for name, info in annotation.model_fields.items():
                keys.add(info.alias or name)
                visit(info.annotation)
        for argument in getattr(annotation, "__args__", ()) or ():
            visit(argument)
        for argument in getattr(annotation, "__metadata__", ()) or ():
            visit(argument)

    visit(model)
    return sorted(keys)
