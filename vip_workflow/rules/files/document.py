"""Reading rule files safely: YAML or JSON text → plain data with the line of every field.

Rule files are data. They are read by the one bounded reader every file kind shares
(:mod:`vip_workflow.rules.files`): plain values only (no tags, no objects), anchors and aliases
refused (they allow "billion laughs" blow-ups and make a file's meaning depend on distant
lines), duplicate keys are errors, only ``true``/``false`` are booleans (YAML 1.1 would read
``no`` or ``on`` as booleans, a trap for category values), and size, node count and nesting
depth are limited. This module turns what was read into a located, validated Document.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from vip_workflow.errors import RuleFileError, _LocatedFileError
from vip_workflow.rules.files.messages import MAX_PROBLEMS, Problem, explain_error
from vip_workflow.rules.files.reader import MAX_BYTES, ErrorClass, read_file, read_text

__all__ = ["MAX_BYTES", "MAX_PROBLEMS", "Document", "Located", "dump_yaml", "read_document",
           "validate_document", "write_rule_file"]

PathKey = tuple[str | int, ...]
Located = Callable[..., RuleFileError]


class Document:
    """Parsed file content plus where each field stands in the text.

    ``error_class`` is the located error the file's problems are raised as: ``RuleFileError``
    (the default) or ``ProcessDefinitionError``.
    """

    def __init__(self, data: Any, locations: dict[PathKey, tuple[int, int]], path: str, *,
                 error_class: ErrorClass = RuleFileError) -> None:
        self.data = data
        self.locations = locations
        self.path = path
        self.error_class = error_class

    def locate(self, where: Iterable[str | int]) -> tuple[int | None, int | None]:
        """Line and column (1-based) of the nearest located field on this path."""
        key = tuple(where)
        while key:
            if key in self.locations:
                return self.locations[key]
            key = key[:-1]
        return self.locations.get((), (None, None))

    def error(self, reason: str, where: Iterable[str | int] = ()) -> Any:
        """A located error (``RuleFileError`` by default) at ``where`` (a path of keys and
        list indexes)."""
        where = tuple(where)
        line, column = self.locate(where)
        return self.error_class(
            reason, path=self.path, line=line, column=column, field=describe(where, self.data)
        )

    def errors(self, problems: Iterable[Problem]) -> Any:
        """One error for several problems: the first, listing all in ``error.problems``."""
        located: list[_LocatedFileError] = [
            self.error(reason, where) for where, reason in list(problems)[:MAX_PROBLEMS]]
        first = located[0]
        return self.error_class(first.reason, path=first.path, line=first.line,
                                column=first.column, field=first.field,
                                problems=tuple(located))


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
            value = node.get(key)
            if isinstance(value, str):
                return value
    return None


def read_document(source: str | Path | Mapping[str, Any], *, text: str | None = None,
                  error_class: ErrorClass = RuleFileError, at_keys: bool = False) -> Document:
    """Read a data file (a path, or ``text`` with a name) into a Document.

    Reading goes through the shared bounded reader (:mod:`vip_workflow.rules.files`): size,
    node count and depth are limited, tags, anchors and aliases are refused. ``at_keys``
    locates a field at its key (``name: …``) rather than at its value."""
    if isinstance(source, Mapping):
        return Document(dict(source), {}, "<mapping>", error_class=error_class)
    path = str(source)
    if text is None:
        parsed = read_file(path, error=error_class)
    else:
        parsed = read_text(text, path=path, error=error_class)
    if parsed.data is None:
        raise error_class("the file is empty", path=path, line=1)
    locations = {**parsed.values, **parsed.keys} if at_keys else parsed.values
    return Document(parsed.data, locations, path, error_class=error_class)


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
        raise document.errors(explain_error(exc, document.data, model)) from None


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
