"""The one bounded, safe reader of data files: YAML or JSON text → plain data with positions.

Every loader (tier, trigger and KPI books, process definitions; from a file or from text)
reads through :func:`read_file` or :func:`read_text`. Files are data:

* only plain values are built: no tag is accepted (``!!binary``, ``!!python/...``, ``!foo``,
  even ``!!str``), anchors and aliases are refused (no "billion laughs"), merge keys (``<<``)
  and non-scalar keys are refused, and a key written twice is an error;
* one YAML dialect: YAML 1.2 core booleans only (``true``/``false`` in any case; ``yes``,
  ``no``, ``on`` and ``off`` are text), numbers and dates as PyYAML's safe loader reads them;
* every input is bounded before or while it is read — size (:data:`MAX_BYTES`), node count
  (:data:`MAX_NODES`), nesting depth (:data:`MAX_DEPTH`) and number length
  (:data:`MAX_NUMBER_CHARS`) — so that any input is loaded or refused in well under a second;
* every refusal is the caller's located error class (``RuleFileError`` or
  ``ProcessDefinitionError``) with file, line and, where known, column. Errors about a limit
  carry its name in ``error.limit`` (``"bytes"``, ``"nodes"``, ``"depth"`` or ``"number"``).

YAML is parsed by libyaml (``yaml._yaml.CParser``) when PyYAML was built with it, else by
PyYAML's pure-Python parser; either way the document is composed here, one event at a time,
so the limits are checked before anything large is built.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from yaml import events

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_NUMBER_CHARS",
    "Limits",
    "Parsed",
    "read_file",
    "read_text",
]

#: The largest file or text read, in bytes of UTF-8 (1 MiB). The bundled presets and process
#: definitions are at most 8.3 KB: this is over a hundred times the largest of them.
MAX_BYTES = 1_048_576
#: The most values (mappings, lists and scalars, keys included) one file may hold. The largest
#: bundled file holds about 640, so this is close to forty times as many.
MAX_NODES = 25_000
#: The deepest nesting of mappings and lists (the top-level mapping is level 1). The bundled
#: files nest at most 11 deep.
MAX_DEPTH = 64
#: The longest number literal, in characters: Python's own limit on reading integers.
MAX_NUMBER_CHARS = 4_300

PathKey = tuple[str | int, ...]
Position = tuple[int, int]


@dataclass(frozen=True)
class Limits:
    """The bounds of one read; the defaults are the module constants."""

    bytes: int = MAX_BYTES
    nodes: int = MAX_NODES
    depth: int = MAX_DEPTH


DEFAULT_LIMITS = Limits()


@dataclass
class Parsed:
    """A file's plain data, where each value starts, and where each mapping key stands."""

    data: Any
    values: dict[PathKey, Position] = field(default_factory=dict)
    keys: dict[PathKey, Position] = field(default_factory=dict)


class ErrorClass(Protocol):
    """``RuleFileError`` or ``ProcessDefinitionError`` (both take these keywords)."""

    def __call__(self, reason: str, *, path: str | None = ..., line: int | None = ...,
                 column: int | None = ..., field: str | None = ...,
                 problems: tuple[Any, ...] = ..., limit: str | None = ...) -> Exception: ...


def _size(count: int) -> str:
    return f"{count:,}".replace(",", " ")


def _limit_text(limit: int) -> str:
    if limit % 1_048_576 == 0:
        return f"{limit // 1_048_576} MiB"
    if limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{_size(limit)}-byte"


def read_file(source: str | Path, *, error: ErrorClass, limits: Limits = DEFAULT_LIMITS,
              as_json: bool | None = None) -> Parsed:
    """Read a file (JSON for a ``.json`` name, YAML otherwise) within ``limits``."""
    path = str(source)
    try:
        with open(source, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limits.bytes:
                raise _too_big(error, path, "file", size, limits.bytes)
            raw = handle.read(limits.bytes + 1)
    except FileNotFoundError:
        raise error("file not found", path=path) from None
    except IsADirectoryError:
        raise error("this is a folder, not a file", path=path) from None
    except OSError as exc:
        raise error(f"cannot read the file: {exc.strerror or exc}", path=path) from exc
    if len(raw) > limits.bytes:  # a file that grows, or a device
        raise error(f"file: more than {_size(limits.bytes)} bytes exceeds the "
                    f"{_limit_text(limits.bytes)} limit", path=path, line=1, column=1,
                    limit="bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise error(f"not UTF-8 text (byte {exc.start}, 0x{raw[exc.start]:02x})", path=path,
                    line=line, column=column) from None
    return _read(text, path, error, limits, as_json)


def read_text(text: str, *, path: str, error: ErrorClass | None = None,
              limits: Limits = DEFAULT_LIMITS, as_json: bool | None = None) -> Parsed:
    """Read ``text`` (``path`` names it in errors; a ``.json`` name means JSON)."""
    if error is None:
        from vip_workflow.errors import RuleFileError

        error = RuleFileError
    if not isinstance(text, str):
        raise error(f"expected text, got {type(text).__name__}", path=path, line=1)
    if len(text) > limits.bytes:
        raise error(f"text: {_size(len(text))} characters exceeds the "
                    f"{_limit_text(limits.bytes)} limit", path=path, line=1, column=1,
                    limit="bytes")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.bytes:
        raise _too_big(error, path, "text", size, limits.bytes)
    return _read(text.removeprefix("\ufeff"), path, error, limits, as_json)


def _too_big(error: ErrorClass, path: str, what: str, size: int, limit: int) -> Exception:
    return error(f"{what}: {_size(size)} bytes exceeds the {_limit_text(limit)} limit",
                 path=path, line=1, column=1, limit="bytes")


# Characters YAML does not allow anywhere (C0/C1 controls, DEL, lone surrogates, U+FFFE/FFFF).
_NOT_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _position(text: str, offset: int) -> Position:
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def _read(text: str, path: str, error: ErrorClass, limits: Limits,
          as_json: bool | None) -> Parsed:
    bad = _NOT_PRINTABLE.search(text)
    if bad is not None:
        line, column = _position(text, bad.start())
        raise error(f"the character U+{ord(bad.group()):04X} is not allowed: files hold "
                    "printable text only (control characters are refused)",
                    path=path, line=line, column=column)
    if as_json is None:
        as_json = path.lower().endswith(".json")
    if as_json:
        return _JsonReader(text, path, error, limits).read()
    return _YamlReader(text, path, error, limits).read()


# -- YAML -------------------------------------------------------------------------------------

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"

# PyYAML's implicit resolvers for null, int, float and timestamp; booleans are YAML 1.2's
# (true/false only); `=` and `<<` are plain text (a `<<` key is refused as a merge key).
_BOOL_RX = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_RESOLVERS: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
_OURS = {_NULL: _NULL, _INT: _INT, _FLOAT: _FLOAT, _TIMESTAMP: _TIMESTAMP}  # compared with `is`
for _first, _found in yaml.resolver.Resolver.yaml_implicit_resolvers.items():
    _kept = [(_OURS[t], rx) for t, rx in _found if t in _OURS]
    if _kept:
        _RESOLVERS[_first] = _kept
for _first in "tTfF":
    _RESOLVERS[_first] = [(_BOOL, _BOOL_RX), *_RESOLVERS.get(_first, [])]
# the common case, a plain decimal integer, is read without PyYAML's constructor
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]{0,99})")

_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_BUILD: dict[str, Callable[[yaml.ScalarNode], Any]] = {
    _INT: _CONSTRUCTOR.construct_yaml_int,
    _FLOAT: _CONSTRUCTOR.construct_yaml_float,
    _TIMESTAMP: _CONSTRUCTOR.construct_yaml_timestamp,
}

_CParser: Any
try:
    from yaml._yaml import CParser as _CParser
except ImportError:  # PyYAML built without libyaml
    _CParser = None


class _PyParser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)

    def dispose(self) -> None:
        self.states = []
        self.state = None


def _parser(text: str) -> Any:
    return _CParser(text) if _CParser is not None else _PyParser(text)


_NO_KEY = object()


class _YamlReader:
    """Compose one YAML document from parser events, within the limits."""

    def __init__(self, text: str, path: str, error: ErrorClass, limits: Limits) -> None:
        self.text = text
        self.path = path
        self.error = error
        self.limits = limits

    def fail(self, reason: str, mark: Any, where: PathKey = (), **extra: Any) -> Exception:
        return self.error(reason, path=self.path, line=mark.line + 1, column=mark.column + 1,
                          field=".".join(str(w) for w in where) or None, **extra)

    def read(self) -> Parsed:
        parser = _parser(self.text)
        try:
            return self._compose(parser)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            reason = f"not valid YAML: {exc.problem or exc.context}"
            limit = None
            if "nesting depth" in reason:  # libyaml looks 1 000 levels ahead of the composer
                reason = self._too_deep()
                limit = "depth"
            if mark is None:
                raise self.error(reason, path=self.path, line=1, limit=limit) from None
            raise self.fail(reason, mark, limit=limit) from None
        except yaml.reader.ReaderError as exc:
            line, column = _position(self.text, min(exc.position, len(self.text)))
            raise self.error(f"not valid YAML: {exc.reason}", path=self.path, line=line,
                             column=column) from None
        except yaml.YAMLError as exc:
            raise self.error(f"not valid YAML: {exc}", path=self.path, line=1) from None
        finally:
            parser.dispose()

    def _compose(self, parser: Any) -> Parsed:
        values: dict[PathKey, Position] = {}
        keys: dict[PathKey, Position] = {}
        root: Any = None
        # each frame: [container, its path, is a mapping, the key waiting for its value]
        stack: list[list[Any]] = []
        nodes = 0
        documents = 0
        max_nodes, max_depth = self.limits.nodes, self.limits.depth
        scalar, mapping_start, sequence_start = (
            events.ScalarEvent, events.MappingStartEvent, events.SequenceStartEvent)
        get_event = parser.get_event
        while True:
            event = get_event()
            kind = type(event)
            if kind is scalar or kind is mapping_start or kind is sequence_start:
                mark = event.start_mark
                if event.anchor is not None:
                    raise self._alias(mark)
                if event.tag is not None:
                    raise self.fail(f"the YAML tag {event.tag} is not allowed: files hold "
                                    "plain data only (no tags)", mark)
                nodes += 1
                if nodes > max_nodes:
                    raise self.fail(
                        f"nodes: more than {_size(max_nodes)} values exceeds the "
                        f"{_size(max_nodes)}-value limit", mark, limit="nodes")
                if stack:
                    frame = stack[-1]
                    if frame[2]:
                        if frame[3] is _NO_KEY:  # this node is a key
                            frame[3] = self._key(event, frame, keys)
                            continue
                        where = (*frame[1], frame[3])
                    else:
                        where = (*frame[1], len(frame[0]))
                else:
                    where = ()
                values[where] = (mark.line + 1, mark.column + 1)
                if kind is scalar:
                    value = self._scalar(event, where)
                else:
                    if len(stack) >= max_depth:
                        raise self.fail(self._too_deep(), mark, limit="depth")
                    value = {} if kind is mapping_start else []
                if stack:
                    frame = stack[-1]
                    if frame[2]:
                        frame[0][frame[3]] = value
                        frame[3] = _NO_KEY
                    else:
                        frame[0].append(value)
                else:
                    root = value
                if kind is not scalar:
                    stack.append([value, where, kind is mapping_start, _NO_KEY])
            elif kind is events.MappingEndEvent or kind is events.SequenceEndEvent:
                stack.pop()
            elif kind is events.AliasEvent:
                raise self._alias(event.start_mark)
            elif kind is events.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise self.fail("a file holds one YAML document; found a second one "
                                    "(---)", event.start_mark)
            elif kind is events.StreamEndEvent:
                return Parsed(root, values, keys)

    def _too_deep(self) -> str:
        return (f"nested too deeply: more than {self.limits.depth} levels exceeds the depth "
                "limit")

    def _alias(self, mark: Any) -> Exception:
        return self.fail("YAML anchors and aliases (&name, *name) are not allowed: write the "
                         "value out", mark)

    def _key(self, event: Any, frame: list[Any], keys: dict[PathKey, Position]) -> Any:
        mark = event.start_mark
        if type(event) is not events.ScalarEvent:
            raise self.fail("a key must be a plain text or number, not a list or mapping",
                            mark, frame[1])
        if event.implicit[0] and event.value == "<<":
            raise self.fail("merge keys (<<) are not allowed", mark, frame[1])
        key = self._scalar(event, frame[1])
        if key in frame[0]:
            raise self.fail(f"duplicate key: the key {key!r} appears twice", mark,
                            (*frame[1], key))
        keys[(*frame[1], key)] = (mark.line + 1, mark.column + 1)
        return key

    def _scalar(self, event: Any, where: PathKey) -> Any:
        value = event.value
        if not event.implicit[0]:  # quoted, or a block scalar: text
            return value
        if _DECIMAL.fullmatch(value):
            return int(value)
        tag = _STR
        for candidate, rx in _RESOLVERS.get(value[:1], ()):
            if rx.match(value):
                tag = candidate
                break
        if tag is _STR:
            return value
        if tag is _NULL:
            return None
        if tag is _BOOL:
            return value[0] in "tT"
        if len(value) > MAX_NUMBER_CHARS:
            raise self.fail(f"a number of {_size(len(value))} digits exceeds the "
                            f"{_size(MAX_NUMBER_CHARS)}-digit limit; quote it if it is a "
                            "text", event.start_mark, where, limit="number")
        try:
            return _BUILD[tag](yaml.ScalarNode(tag, value))
        except (ValueError, OverflowError) as exc:
            what = "date" if tag is _TIMESTAMP else "number"
            raise self.fail(f"{value!r} is not a {what}: {exc}", event.start_mark,
                            where) from None


# -- JSON -------------------------------------------------------------------------------------

#: the JSON decoder's string scanner: (the string, the offset after its closing quote)
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]

class _JsonReader:
    """``json.loads``, then one bounded scan for positions, limits and keys written twice.

    A column counts characters, so a tab is one column, as in JSON parse errors and editors'
    "column" readouts.
    """

    _SPACE = frozenset(" \t\n\r")
    _SCALAR = re.compile(r"-?(?:Infinity|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|true|false|null|NaN")

    def __init__(self, text: str, path: str, error: ErrorClass, limits: Limits) -> None:
        self.text = text
        self.path = path
        self.error = error
        self.limits = limits
        self.line_starts: list[int] = []
        self.values: dict[PathKey, Position] = {}
        self.keys: dict[PathKey, Position] = {}
        self.nodes = 0

    def read(self) -> Parsed:
        text = self.text
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self.error(f"not valid JSON: {exc.msg}", path=self.path, line=exc.lineno,
                             column=exc.colno) from None
        except (RecursionError, ValueError):
            # nested beyond Python's recursion limit, or an integer over its digit limit:
            # the scan stops at the first place that breaks a limit and says where it is
            self._scan()
            raise self.error("not valid JSON: nested too deeply or a number too long",
                             path=self.path, line=1, column=1) from None
        self._scan()
        return Parsed(data, self.values, self.keys)

    def _scan(self) -> None:
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        # past the first place json.loads failed (if it did), the text is not valid JSON
        with contextlib.suppress(IndexError, AssertionError, json.JSONDecodeError):
            self.value(self.skip(0), (), 1)

    def position(self, offset: int) -> Position:
        line = bisect.bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1

    def fail(self, reason: str, offset: int, field: str | None = None,
             limit: str | None = None) -> Exception:
        line, column = self.position(offset)
        return self.error(reason, path=self.path, line=line, column=column, field=field,
                          limit=limit)

    def count(self, offset: int) -> None:
        self.nodes += 1
        if self.nodes > self.limits.nodes:
            raise self.fail(f"nodes: more than {_size(self.limits.nodes)} values exceeds the "
                            f"{_size(self.limits.nodes)}-value limit", offset, limit="nodes")

    def skip(self, offset: int) -> int:
        text, space = self.text, self._SPACE
        while offset < len(text) and text[offset] in space:
            offset += 1
        return offset

    def value(self, offset: int, where: PathKey, depth: int) -> int:
        """Record the value at ``offset`` (and everything inside it); return where it ends."""
        self.count(offset)
        self.values[where] = self.position(offset)
        text = self.text
        first = text[offset]
        if first in "{[" and depth > self.limits.depth:
            raise self.fail(f"nested too deeply: more than {self.limits.depth} levels exceeds "
                            "the depth limit", offset, limit="depth")
        if first == "{":
            return self.object(offset + 1, where, depth)
        if first == "[":
            offset = self.skip(offset + 1)
            index = 0
            while text[offset] != "]":
                offset = self.skip(self.value(offset, (*where, index), depth + 1))
                index += 1
                if text[offset] == ",":
                    offset = self.skip(offset + 1)
            return offset + 1
        if first == '"':
            return int(_scanstring(text, offset + 1)[1])
        found = self._SCALAR.match(text, offset)
        assert found is not None, "the text was valid JSON"
        if found.end() - offset > MAX_NUMBER_CHARS:
            raise self.fail(f"a number of {_size(found.end() - offset)} digits exceeds the "
                            f"{_size(MAX_NUMBER_CHARS)}-digit limit", offset,
                            ".".join(str(w) for w in where) or None, limit="number")
        return found.end()

    def object(self, offset: int, where: PathKey, depth: int) -> int:
        text = self.text
        keys: set[str] = set()
        offset = self.skip(offset)
        while text[offset] != "}":
            self.count(offset)
            key, end = _scanstring(text, offset + 1)
            if key in keys:
                raise self.fail(f"duplicate key: the key {key!r} appears twice", offset,
                                ".".join(str(w) for w in (*where, key)))
            keys.add(key)
            self.keys[(*where, key)] = self.position(offset)
            offset = self.skip(end)  # the colon
            offset = self.skip(self.value(self.skip(offset + 1), (*where, key), depth + 1))
            if text[offset] == ",":
                offset = self.skip(offset + 1)
        return offset + 1


def limits_markdown() -> list[str]:
    """The "Limits" section of the rule-file reference, from the constants above."""
    return [
        "## Limits of every data file", "",
        "Every rule file and process definition — read from a file or given as text — goes "
        "through one bounded reader (`vip_workflow.rules.files`). A file over a limit is "
        "refused with a located `RuleFileError` (or `ProcessDefinitionError`) whose `limit` "
        "attribute names the limit, e.g. "
        "`rules.yaml:1:1: file: 5 242 881 bytes exceeds the 1 MiB limit`.", "",
        "| limit | value | `error.limit` | constant |", "|---|---|---|---|",
        f"| size of a file or text | {_limit_text(MAX_BYTES)} ({_size(MAX_BYTES)} bytes of "
        "UTF-8) | `bytes` | `MAX_BYTES` |",
        f"| values (mappings, lists, scalars, keys included) | {_size(MAX_NODES)} | `nodes` "
        "| `MAX_NODES` |",
        f"| nesting of mappings and lists | {MAX_DEPTH} levels | `depth` | `MAX_DEPTH` |",
        f"| length of a number | {_size(MAX_NUMBER_CHARS)} characters | `number` | "
        "`MAX_NUMBER_CHARS` |", "",
        "The largest bundled file is 8.3 KB, holds about 640 values and nests 11 deep. With "
        "these limits any input is read or refused in well under a second and a few tens of "
        "megabytes (`python -m bench hostile` measures it over 10 000 hostile files).", "",
        "Always refused, with the line and column: characters YAML does not allow (control "
        "characters, U+FFFE, U+FFFF, lone surrogates); bytes that are not UTF-8 (a UTF-8 "
        "byte-order mark is allowed); any explicit YAML tag (`!!binary`, `!!python/object`, "
        "`!!set`, `!!timestamp`, `!!str`, `!foo` …); anchors and aliases (`&a`, `*a`); merge "
        "keys (`<<`); keys that are lists or mappings; a key written twice; a second YAML "
        "document (`---`). Only `true` and `false` (any case) are booleans: `yes`, `no`, "
        "`on`, `off` are text. A file with many problems lists the first 100 in "
        "`error.problems`.", "",
    ]
