"""Loading process definitions safely from YAML or JSON, with located errors.

Process files are data files like every other kind (:mod:`vip_workflow.rules.files`): read
by the one bounded reader (plain values only, no tags, aliases or duplicate keys, YAML 1.2
booleans — only ``true``/``false``; ``no`` is text), validated by the one strict base, and
every problem worded the same way ("unknown key 'titel'; did you mean 'title'?") in a
``ProcessDefinitionError`` carrying the file, line, column and field path.

A process file starts with ``kind: process``. A file without it still loads in 0.2, with a
``DeprecationWarning`` (and a ``missing-kind`` finding from ``check_file``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from vip_workflow.errors import ProcessDefinitionError
from vip_workflow.processes.definitions import ProcessDefinition
from vip_workflow.processes.validate import check_definition
from vip_workflow.rules.files.document import Document, read_document
from vip_workflow.rules.files.findings import Finding
from vip_workflow.rules.files.messages import MAX_PROBLEMS, explain_error
from vip_workflow.rules.files.reader import MAX_BYTES

__all__ = [
    "MAX_BYTES",
    "MAX_PROBLEMS",
    "bundled_definitions",
    "check_or_raise",
    "definition_from_dict",
    "definition_from_document",
    "load_definition",
    "load_definitions",
    "missing_kind_finding",
]

FieldPath = tuple[str | int, ...]


def _document(data: Any, path: str | None,
              locations: Mapping[FieldPath, tuple[int, int]] | None) -> Document:
    return Document(data, dict(locations or {}), path or "<definition>",
                    error_class=ProcessDefinitionError)


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
        raise _document(None, path, locations).errors(problems)
    return definition


def definition_from_dict(
    data: Any, *, path: str | None = None,
    locations: Mapping[FieldPath, tuple[int, int]] | None = None,
) -> ProcessDefinition:
    """Validate plain data (as read from a file) into a checked ``ProcessDefinition``."""
    document = _document(dict(data) if isinstance(data, Mapping) else data, path, locations)
    if not isinstance(document.data, dict):
        raise document.error(
            f"a process definition is a mapping of keys (kind:, name:, states: …), not "
            f"{type(data).__name__}")
    try:
        definition = ProcessDefinition.model_validate(document.data)
    except ValidationError as exc:
        raise document.errors(explain_error(exc, document.data, ProcessDefinition)) from None
    return check_or_raise(definition, path=path, locations=locations)


def definition_from_document(document: Document) -> ProcessDefinition:
    """Validate a read ``kind: process`` Document into a checked ``ProcessDefinition``."""
    return definition_from_dict(document.data, path=document.path,
                                locations=document.locations)


def missing_kind_finding(document: Document) -> Finding | None:
    """The deprecation finding of a process file without ``kind: process`` (else None)."""
    if not isinstance(document.data, dict) or "kind" in document.data:
        return None
    line, column = document.locate(())
    return Finding("warning", "missing-kind",
                   "a process file starts with `kind: process`; files without it load in "
                   "0.2 only", "kind", line, column, document.path)


def load_definition(source: str | Path, *, text: str | None = None) -> ProcessDefinition:
    """Load one definition from a YAML/JSON file path, or from ``text`` (``source`` names it).

    Files and texts go through the shared bounded reader (:mod:`vip_workflow.rules.files`):
    at most ``MAX_BYTES``, ``MAX_NODES`` values and ``MAX_DEPTH`` levels; no tags, no aliases.
    """
    # a field is located at its key ("name: ..."), a list item at its value
    document = read_document(str(source), text=text, error_class=ProcessDefinitionError,
                             at_keys=True)
    missing = missing_kind_finding(document)
    if missing is not None:
        warnings.warn(missing.text(), DeprecationWarning, stacklevel=2)
    return definition_from_document(document)


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
