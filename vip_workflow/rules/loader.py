"""Reading rule files safely: YAML or JSON text → plain data with the line of every field.

Rule files are data. YAML is read with a safe loader that builds only plain values (no tags, no
objects), anchors and aliases are refused (they allow "billion laughs" blow-ups and make a
file's meaning depend on distant lines), duplicate keys are errors, and only ``true``/``false``
are booleans (YAML 1.1 would read ``no`` or ``on`` as booleans, a trap for category values).
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

__all__ = ["Document", "Located", "dump_yaml", "read_document", "validate_document",
           "write_rule_file"]

MAX_BYTES = 5_000_000
PathKey = tuple[str | int, ...]
Located = Callable[..., RuleFileError]


class _StrictBoolLoader(yaml.SafeLoader):
    """A safe loader where only true/false (any case) are booleans."""


_StrictBoolLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictBoolLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


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
    """Read a rule file (a path, or ``text`` with a name) into a Document."""
    if isinstance(source, Mapping):
        return Document(dict(source), {}, "<mapping>")
    path = str(source)
    if text is None:
        try:
            raw = Path(path).read_bytes()
        except FileNotFoundError:
            raise RuleFileError("file not found", path=path) from None
        except OSError as exc:
            raise RuleFileError(f"cannot read the file: {exc.strerror or exc}", path=path) from exc
        if len(raw) > MAX_BYTES:
            raise RuleFileError(f"file is larger than {MAX_BYTES} bytes", path=path)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise RuleFileError(f"not UTF-8 text (byte {exc.start})", path=path) from exc
    if path.lower().endswith(".json"):
        return _read_json(text, path)
    return _read_yaml(text, path)


def _read_yaml(text: str, path: str) -> Document:
    loader = _StrictBoolLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise RuleFileError("the file is empty", path=path, line=1)
        locations: dict[PathKey, tuple[int, int]] = {}
        _index(node, (), locations, set(), path)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        reason = f"not valid YAML: {exc.problem or exc.context}"
        raise RuleFileError(reason, path=path, line=line, column=column) from None
    except yaml.YAMLError as exc:
        raise RuleFileError(f"not valid YAML: {exc}", path=path) from None
    finally:
        loader.dispose()
    return Document(data, locations, path)


def _index(
    node: yaml.Node,
    where: PathKey,
    locations: dict[PathKey, tuple[int, int]],
    seen: set[int],
    path: str,
) -> None:
    """Record each node's position; refuse aliases, custom tags and duplicate keys."""
    mark = node.start_mark
    if id(node) in seen or getattr(node, "anchor", None):
        raise RuleFileError(
            "anchors and aliases (&name, *name) are not allowed in rule files",
            path=path,
            line=mark.line + 1,
            column=mark.column + 1,
        )
    seen.add(id(node))
    if node.tag.startswith("!") or (
        node.tag.startswith("tag:yaml.org,2002:")
        and node.tag.rsplit(":", 1)[1]
        not in {"str", "int", "float", "bool", "null", "map", "seq", "timestamp"}
    ):
        raise RuleFileError(
            f"the tag {node.tag} is not allowed: rule files hold plain data only",
            path=path,
            line=mark.line + 1,
            column=mark.column + 1,
        )
    locations[where] = (mark.line + 1, mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        keys: set[Any] = set()
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise RuleFileError(
                    "merge keys (<<) are not allowed in rule files",
                    path=path,
                    line=key_node.start_mark.line + 1,
                    column=key_node.start_mark.column + 1,
                )
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node)
            if key in keys:
                raise RuleFileError(
                    f"the key {key!r} appears twice",
                    path=path,
                    line=key_node.start_mark.line + 1,
                    column=key_node.start_mark.column + 1,
                    field=".".join(str(w) for w in (*where, key)),
                )
            keys.add(key)
            _index(value_node, (*where, key), locations, seen, path)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _index(item, (*where, position), locations, seen, path)


def _read_json(text: str, path: str) -> Document:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise RuleFileError(f"the key {key!r} appears twice", path=path)
            result[key] = value
        return result

    try:
        data = json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise RuleFileError(
            f"not valid JSON: {exc.msg}", path=path, line=exc.lineno, column=exc.colno
        ) from None
    locations: dict[PathKey, tuple[int, int]] = {}
    try:  # JSON is YAML: use the YAML composer only to learn where each field stands
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is not None:
            _index(node, (), locations, set(), path)
    except (yaml.YAMLError, RuleFileError):
        locations = {}
    return Document(data, locations, path)


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
        problems = tuple(_problem(document, error, vocabulary) for error in exc.errors())
        first = problems[0]
        raise RuleFileError(
            first.reason,
            path=first.path,
            line=first.line,
            column=first.column,
            field=first.field,
            problems=problems,
        ) from None


def _problem(document: Document, error: Any, vocabulary: list[str]) -> RuleFileError:
    where, missing_key = _data_path(document.data, error["loc"], error["type"])
    kind = error["type"]
    if kind == "missing":
        reason = f"the required key {missing_key!r} is missing"
    elif kind == "extra_forbidden":
        unknown = str(error["loc"][-1])
        reason = f"unknown key {unknown!r}"
        close = difflib.get_close_matches(unknown, vocabulary, n=1)
        if close:
            reason += f"; did you mean {close[0]!r}?"
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
        value = error.get("input")
        shown = "" if isinstance(value, dict | list) else f" (found {value!r})"
        reason = f"{message}{shown}"
    return document.error(reason, where)


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
