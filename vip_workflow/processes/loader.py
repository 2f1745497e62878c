"""Loading process definitions safely from YAML or JSON, with located errors.

Files are data: they are read by the shared bounded reader of every data file
(:mod:`vip_workflow.rules.files`): plain values only (no tags, no objects), aliases and
duplicate keys refused, only ``true``/``false`` are booleans, and size, node count and depth
are limited. Every problem becomes a ``ProcessDefinitionError`` carrying the file, line, column
and field path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from vip_workflow.errors import ProcessDefinitionError
from vip_workflow.processes.definitions import ProcessDefinition
from vip_workflow.processes.validate import check_definition
from vip_workflow.rules.files import MAX_BYTES, read_file, read_text

__all__ = [
    "MAX_BYTES",
    "bundled_definitions",
    "check_or_raise",
    "definition_from_dict",
    "load_definition",
    "load_definitions",
]

FieldPath = tuple[str | int, ...]
#: The most problems one error lists (``error.problems``); a definition may hold more.
MAX_PROBLEMS = 100


def _field_text(where: Iterable[str | int]) -> str:
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _locate(locations: Mapping[FieldPath, tuple[int, int]], where: FieldPath) -> tuple[Any, Any]:
    key = tuple(where)
    while key:
        if key in locations:
            return locations[key]
        key = key[:-1]
    return locations.get((), (None, None))


def _raise(problems: list[tuple[FieldPath, str]], path: str | None,
           locations: Mapping[FieldPath, tuple[int, int]]) -> None:
    errors = []
    path = path or "<definition>"
    for where, reason in problems[:MAX_PROBLEMS]:
        line, column = _locate(locations, where)
        errors.append(
            ProcessDefinitionError(
                reason, path=path, line=line, column=column, field=_field_text(where) or None
            )
        )
    first = errors[0]
    raise ProcessDefinitionError(
        first.reason, path=first.path, line=first.line, column=first.column, field=first.field,
        problems=tuple(errors),
    )


def _pydantic_problems(exc: ValidationError) -> list[tuple[FieldPath, str]]:
    problems = []
    for item in exc.errors(include_url=False):
        where = tuple(part for part in item["loc"] if not str(part).startswith("function-"))
        where = tuple(p for p in where if p not in {"str", "tuple[str, ...]", "int"})
        problems.append((where, item["msg"]))
    return problems


def check_or_raise(
    definition: ProcessDefinition,
    *,
    path: str | None = None,
    locations: Mapping[FieldPath, tuple[int, int]] | None = None,
    resolvers: Iterable[str] | None = None,
) -> ProcessDefinition:
    """Run every check on ``definition``; raise ``ProcessDefinitionError`` listing the problems."""
    problems = check_definition(definition, resolvers=resolvers)
    if problems:
        _raise(problems, path, locations or {})
    return definition


def definition_from_dict(
    data: Any, *, path: str | None = None,
    locations: Mapping[FieldPath, tuple[int, int]] | None = None,
) -> ProcessDefinition:
    """Validate plain data (as read from a file) into a checked ``ProcessDefinition``."""
    if not isinstance(data, Mapping):
        line, column = _locate(locations or {}, ())
        raise ProcessDefinitionError(
            f"a process definition is a mapping of keys (name:, states: …), not "
            f"{type(data).__name__}", path=path, line=line, column=column)
    try:
        definition = ProcessDefinition.model_validate(data)
    except ValidationError as exc:
        _raise(_pydantic_problems(exc), path, locations or {})
    return check_or_raise(definition, path=path, locations=locations)


def load_definition(source: str | Path, *, text: str | None = None) -> ProcessDefinition:
    """Load one definition from a YAML/JSON file path, or from ``text`` (``source`` names it).

    Files and texts go through the shared bounded reader (:mod:`vip_workflow.rules.files`):
    at most ``MAX_BYTES``, ``MAX_NODES`` values and ``MAX_DEPTH`` levels; no tags, no aliases.
    """
    path = str(source)
    if text is None:
        parsed = read_file(path, error=ProcessDefinitionError)
    else:
        parsed = read_text(text, path=path, error=ProcessDefinitionError)
    if parsed.data is None:
        raise ProcessDefinitionError("the file is empty", path=path, line=1)
    # a field is located at its key ("name: ..."), a list item at its value
    locations = {**parsed.values, **parsed.keys}
    return definition_from_dict(parsed.data, path=path, locations=locations)


def load_definitions(directory: str | Path) -> list[ProcessDefinition]:
    """Every ``*.yaml``/``*.yml``/``*.json`` definition in a directory, sorted by file name."""
    folder = Path(directory)
    files = sorted(p for p in folder.iterdir() if p.suffix in {".yaml", ".yml", ".json"})
    return [load_definition(p) for p in files]


@cache
def _bundled() -> tuple[ProcessDefinition, ...]:
    library = resources.files("vip_workflow.processes") / "library"
    found = []
    for entry in sorted(library.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            found.append(load_definition(f"library/{entry.name}", text=entry.read_text("utf-8")))
    return tuple(found)


def bundled_definitions() -> list[ProcessDefinition]:
    """The definitions shipped with vip_workflow (one per key-account stage, and more)."""
    return list(_bundled())
