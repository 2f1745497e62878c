"""Loading process definitions safely from YAML or JSON, with located errors.

Files are data: they are read with ``yaml.safe_load`` only (no tags, no objects), aliases and
duplicate keys are refused, and every problem becomes a ``ProcessDefinitionError`` carrying the
file, line, column and field path (line and column come from ``yaml.compose`` node marks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from vip_workflow.errors import ProcessDefinitionError
from vip_workflow.processes.definitions import ProcessDefinition
from vip_workflow.processes.validate import check_definition

__all__ = [
    "bundled_definitions",
    "check_or_raise",
    "definition_from_dict",
    "load_definition",
    "load_definitions",
]

MAX_BYTES = 2_000_000
FieldPath = tuple[str | int, ...]


def _field_text(where: Iterable[str | int]) -> str:
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _locations(root: yaml.Node | None, path: str) -> dict[FieldPath, tuple[int, int]]:
    """Line and column (1-based) of every field, refusing aliases and duplicate keys."""
    found: dict[FieldPath, tuple[int, int]] = {}
    seen: set[int] = set()

    def walk(node: yaml.Node, where: FieldPath) -> None:
        if id(node) in seen:
            raise ProcessDefinitionError(
                "YAML aliases are not allowed in process definitions",
                path=path, line=node.start_mark.line + 1, column=node.start_mark.column + 1,
                field=_field_text(where),
            )
        seen.add(id(node))
        found[where] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            keys: set[Any] = set()
            for key_node, value_node in node.value:
                key = key_node.value
                if key in keys:
                    raise ProcessDefinitionError(
                        f"duplicate key {key!r}", path=path, line=key_node.start_mark.line + 1,
                        column=key_node.start_mark.column + 1, field=_field_text(where),
                    )
                keys.add(key)
                walk(value_node, (*where, key))
                mark = key_node.start_mark
                found[(*where, key)] = (mark.line + 1, mark.column + 1)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*where, i))

    if root is not None:
        walk(root, ())
    return found


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
    for where, reason in problems:
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
        raise ProcessDefinitionError("a process definition is a mapping", path=path)
    try:
        definition = ProcessDefinition.model_validate(data)
    except ValidationError as exc:
        _raise(_pydantic_problems(exc), path, locations or {})
    return check_or_raise(definition, path=path, locations=locations)


def load_definition(source: str | Path, *, text: str | None = None) -> ProcessDefinition:
    """Load one definition from a YAML/JSON file path, or from ``text`` (``source`` names it)."""
    path = str(source)
    if text is None:
        try:
            raw = Path(source).read_bytes()
        except OSError as exc:
            raise ProcessDefinitionError(f"cannot read the file: {exc}", path=path) from exc
        if len(raw) > MAX_BYTES:
            raise ProcessDefinitionError(f"file larger than {MAX_BYTES} bytes", path=path)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProcessDefinitionError("the file is not UTF-8", path=path) from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ProcessDefinitionError(
            f"not valid YAML: {getattr(exc, 'problem', None) or exc}", path=path,
            line=mark.line + 1 if mark else None, column=mark.column + 1 if mark else None,
        ) from exc
    return definition_from_dict(data, path=path, locations=_locations(root, path))


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
