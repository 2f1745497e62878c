"""Reading rule files safely: YAML or JSON text → plain data with the line of every field.

Rule files are data. They are read by the one bounded reader every file kind shares
(:mod:`vip_workflow.rules.files`): plain values only (no tags, no objects), anchors and aliases
refused (they allow "billion laughs" blow-ups and make a file's meaning depend on distant
lines), duplicate keys are errors, only ``true``/``false`` are booleans (YAML 1.1 would read
``no`` or ``on`` as booleans, a trap for category values), and size, node count and nesting
depth are limited. This module turns what was read into a located, validated Document.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from vip_workflow.errors import RuleFileError
from vip_workflow.rules.files import MAX_BYTES, read_file, read_text

__all__ = ["MAX_BYTES", "MAX_PROBLEMS", "Document", "Located", "dump_yaml", "read_document",
           "validate_document", "write_rule_file"]

PathKey = tuple[str | int, ...]
#: The most problems one error lists (``error.problems``); a file may hold more.
MAX_PROBLEMS = 100
Located = Callable[..., RuleFileError]


class Document:
    """Parsed file content plus where each field stands in the text."""

    def __init__(self, data: Any, locations: dict[PathKey, tuple[int, int]], path: str) -> None:
        self.data = data
        self.locations = locations
        self.path = path

    def locate(self, where: Iterable[str | int]) -> tuple[int | None, int | None]:
        """Line and column (1-based) of the nearest located field on this path."""
        key = tuple(where)
        while key:
            if key in self.locations:
                return self.locations[key]
            key = key[:-1]
        return self.locations.get((), (None, None))

    def error(self, reason: str, where: Iterable[str | int] = ()) -> RuleFileError:
        """A RuleFileError located at ``where`` (a path of keys and list indexes)."""
        where = tuple(where)
        line, column = self.locate(where)
        return RuleFileError(
            reason, path=self.path, line=line, column=column, field=describe(where, self.data)
        )


def describe(where: PathKey, data: Any) -> str | None:
    """A field path in words: ``scheme.factors[1] (revenue).bands[0].min``."""
    if not where:
        return None
    text = ""
    node = data
    for step in where:
        if isinstance(step, int):
            text += f"[{step}]"
            node = node[step] if isinstance(node, list) and 0 <= step < len(node) else None
            name = _name_of(node)
            if name:
                text += f" ({name})"
        else:
            text += f".{step}" if text else str(step)
            node = node.get(step) if isinstance(node, dict) else None
    return text


def _name_of(node: Any) -> str | None:
    if isinstance(node, dict):
        for key in ("id", "field", "tier"):
            if isinstance(node.get(key), str):
                return node[key]
    return None


def read_document(source: str | Path | Mapping[str, Any], *, text: str | None = None) -> Document:
    """Read a rule file (a path, or ``text`` with a name) into a Document.

    Reading goes through the shared bounded reader (:mod:`vip_workflow.rules.files`): size,
    node count and depth are limited, tags, anchors and aliases are refused."""
    if isinstance(source, Mapping):
        return Document(dict(source), {}, "<mapping>")
    path = str(source)
    if text is None:
        parsed = read_file(path, error=RuleFileError)
    else:
        parsed = read_text(text, path=path, error=RuleFileError)
    if parsed.data is None:
        raise RuleFileError("the file is empty", path=path, line=1)
    return Document(parsed.data, parsed.values, path)


def validate_document(document: Document, model: type[BaseModel]) -> Any:
    """Validate a Document against a pydantic model; every problem becomes a located error."""
    if not isinstance(document.data, dict):
        raise document.error(
            f"the file must hold a mapping of keys (name:, tiers:, scheme: …), "
            f"not {type(document.data).__name__}"
        )
    try:
        return model.model_validate(document.data)
    except ValidationError as exc:
        vocabulary = _known_keys(model)
        # the first MAX_PROBLEMS are worded and located: a hostile file can hold tens of
        # thousands, each with a "did you mean" search
        problems = _problems(document, exc.errors()[:MAX_PROBLEMS], vocabulary)
        first = problems[0]
        raise RuleFileError(
            first.reason,
            path=first.path,
            line=first.line,
            column=first.column,
            field=first.field,
            problems=problems,
        ) from None


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


def _problems(document: Document, errors: list[Any], vocabulary: list[str]) -> tuple[
    RuleFileError, ...
]:
    """One located error per problem. A value that fits no member of a union gives one
    error per member; they become one ("expected a text or a number, found a list"), and a
    member whose kind the value does not even have is dropped when another member went deeper
    (``override: {tier: 5}`` is about the tier, not about ``false``)."""
    placed = [(_data_path(document.data, e["loc"], e["type"]), e) for e in errors]
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
    problems: list[RuleFileError] = []
    done: set[PathKey] = set()
    for (where, key), e in kept:
        group = groups[where]
        if len(group) > 1 and all(g["type"] in _MISMATCH for g in group):
            if where in done:
                continue
            done.add(where)
            problems.append(document.error(_union_reason(group), where))
            continue
        problems.append(_problem(document, e, where, key, vocabulary))
    return tuple(problems)


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


def _problem(document: Document, error: Any, where: PathKey, missing_key: str | None,
             vocabulary: list[str]) -> RuleFileError:
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
        if isinstance(_node(document.data, where), dict) and kind == "union_tag_invalid":
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
    return document.error(reason, where)


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


def _known_keys(model: type[BaseModel]) -> list[str]:
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


def dump_yaml(data: Any) -> str:
    """Plain data as block YAML in the key order given (the writing side of rule files)."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def write_rule_file(data: Any, path: str | Path) -> Path:
    """Write plain data as a rule file: JSON for a .json path, YAML otherwise."""
    target = Path(path)
    text = (json.dumps(data, indent=2, ensure_ascii=False)
            if target.suffix.lower() == ".json" else dump_yaml(data))
    target.write_text(text, encoding="utf-8")
    return target
