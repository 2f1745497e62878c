"""The one condition language of every rule-file kind (triggers, KPIs, processes).

A condition is a mapping told apart by its key:

=============== ===========================================================================
``field``       ``{field: revenue, op: ">=", value: 5000}`` — a value compared (``op``: ``==
                != < <= > >= in not_in between is_null not_null``)
``change_pct``  ``{change_pct: revenue, months: 3, op: "<=", value: -20}`` — % change from
                ``months`` back to this month (trigger files)
``sum``         ``{sum: complaints, months: 6, op: "==", value: 0}`` — sum of the last
                ``months`` months, this one included (trigger files)
``count``       ``{count: revenue, months: 6, where: {op: ">", value: 0}, op: ">=", value:
                3}`` — how many of the last ``months`` months pass ``where`` (trigger files)
``days_until``  ``{days_until: agreement_end, op: between, value: [0, 90]}`` — days from the
                month's first day to a date (trigger files)
``consecutive`` ``{consecutive: revenue, direction: decline, months: 3}`` — strict
                month-over-month changes ending this month (trigger files)
``anomaly``     ``{anomaly: revenue, method: zscore, window: 12, threshold: 3}`` — this month
                against the customer's own past (trigger files)
``all``/``any`` ``{all: [...]}``, ``{any: [...]}`` — every / at least one
``not``         ``{not: {...}}`` — the opposite (processes and KPIs)
=============== ===========================================================================

A comparison on a missing (or null) value is false, whatever the operator, except
``is_null``; ``not`` and the combinators then work on plain true/false.

The spellings of earlier releases (``{type: threshold, …}``, ``{type: all, conditions: […]}``,
``periods``, word operators ``eq``/``ge``/``exists``…, a KPI ``where`` list, a comparison
without ``op``) still load for one release: :func:`upgrade_condition` turns them into this
language, :func:`old_spellings` finds them in a file's data (for lint), and :func:`upgrade_file`
rewrites a file in place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from attrs import frozen
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "MEASURES",
    "OPS",
    "Condition",
    "OldSpelling",
    "Test",
    "old_spellings",
    "upgrade_condition",
    "upgrade_file",
    "upgrade_text",
    "upgrade_where",
]

Op = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not_in", "between", "is_null", "not_null"]
OPS: tuple[str, ...] = ("==", "!=", "<", "<=", ">", ">=", "in", "not_in", "between", "is_null",
                        "not_null")
#: Keys of a condition over a customer's months (trigger files only).
MEASURES: tuple[str, ...] = ("change_pct", "sum", "count", "days_until", "consecutive",
                             "anomaly")
_LEAVES = ("field", *MEASURES)
_KEYS = (*_LEAVES, "all", "any", "not")
_MAX_MONTHS = 60
Months = Annotated[int, Field(ge=1, le=_MAX_MONTHS, description="A number of months.")]

_PARAMS: dict[str, frozenset[str]] = {
    "field": frozenset({"op", "value"}),
    "change_pct": frozenset({"months", "op", "value"}),
    "sum": frozenset({"months", "op", "value"}),
    "count": frozenset({"months", "where", "op", "value"}),
    "days_until": frozenset({"op", "value"}),
    "consecutive": frozenset({"months", "direction"}),
    "anomaly": frozenset({"method", "window", "min_periods", "threshold", "direction"}),
    "all": frozenset(), "any": frozenset(), "not": frozenset(),
}
_ANOMALY_DEFAULTS: dict[str, Any] = {"method": "zscore", "window": 12, "min_periods": 6,
                                     "threshold": 3.0, "direction": "both"}


def _check_test(op: str | None, value: Any) -> None:
    """``value`` fits ``op``: a list for in/not_in, [low, high] for between, none for nulls."""
    if op is None:
        raise ValueError("a comparison needs an op: one of " + ", ".join(OPS))
    if op in ("is_null", "not_null"):
        if value is not None:
            raise ValueError(f"op {op!r} takes no value")
    elif op in ("in", "not_in"):
        if not isinstance(value, list | tuple):
            raise ValueError(f"op {op!r} needs a list value")
    elif op == "between":
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise ValueError("op 'between' needs a value [low, high]")
        if _number(value[0]) and _number(value[1]) and value[0] > value[1]:
            raise ValueError(f"the range {list(value)} runs backwards")
    elif isinstance(value, list | tuple):
        raise ValueError(f"op {op!r} compares with one value; use in or between for a list")
    elif value is None:
        raise ValueError(f"op {op!r} needs a value")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              serialize_by_alias=True)


class Test(_Model):
    """The test of each month in a ``count``: ``{op: ">", value: 0}``."""

    op: Op
    value: Any = None

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("op") in _WORD_OPS:
            return {**data, "op": _WORD_OPS[data["op"]]}
        return data

    @model_validator(mode="after")
    def _fits(self) -> Test:
        _check_test(self.op, self.value)
        return self


class Condition(_Model):
    """One condition; exactly one of the keys ``field``, ``change_pct``, ``sum``, ``count``,
    ``days_until``, ``consecutive``, ``anomaly``, ``all``, ``any``, ``not`` says which kind."""

    field: str | None = Field(default=None, description="Compare this value (a column, or a "
                              "dotted path into a process instance's context).")
    change_pct: str | None = Field(default=None, description="% change of this column.")
    sum: str | None = Field(default=None, description="Sum of this column over months.")
    count: str | None = Field(default=None, description="Months where this column passes "
                              "`where`.")
    days_until: str | None = Field(default=None, description="Days until this date column.")
    consecutive: str | None = Field(default=None, description="Strict monthly changes of this "
                                    "column.")
    anomaly: str | None = Field(default=None, description="Score of this column against the "
                                "customer's own past.")
    op: Op | None = None
    value: Any = None
    months: Months | None = None
    where: Test | None = None
    direction: Literal["decline", "increase", "both", "up", "down"] | None = None
    method: Literal["zscore", "robust"] | None = None
    window: Annotated[int, Field(ge=2, le=_MAX_MONTHS)] | None = None
    min_periods: Annotated[int, Field(ge=2, le=_MAX_MONTHS)] | None = None
    threshold: float | None = None
    all: tuple[Condition, ...] | None = Field(default=None, min_length=1)
    any: tuple[Condition, ...] | None = Field(default=None, min_length=1)
    not_: Condition | None = Field(default=None, alias="not")

    @model_validator(mode="before")
    @classmethod
    def _old_spellings(cls, data: Any) -> Any:
        return upgrade_condition(data)[0] if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _one_kind(self) -> Condition:
        given = [key for key in _KEYS if self._get(key) is not None]
        if len(given) != 1:
            raise ValueError("a condition has exactly one of the keys " + ", ".join(_KEYS)
                             + (f" (found {', '.join(given)})" if given else ""))
        kind = given[0]
        extra = [k for k in ("op", "value", "months", "where", "direction", "method", "window",
                             "min_periods", "threshold")
                 if self._get(k) is not None and k not in _PARAMS[kind]]
        if extra:
            raise ValueError(f"a {kind} condition takes no {', '.join(extra)}")
        if kind == "field" or kind in ("change_pct", "sum", "count", "days_until"):
            _check_test(self.op, self.value)
        if kind in ("sum", "count", "consecutive") and self.months is None:
            raise ValueError(f"a {kind} condition needs months")
        if kind == "consecutive" and self.direction not in ("decline", "increase"):
            raise ValueError("a consecutive condition needs direction: decline or increase")
        if kind == "anomaly":
            if self.direction not in (None, "both", "up", "down"):
                raise ValueError("an anomaly's direction is both, up or down")
            if self.anomaly_param("min_periods") > self.anomaly_param("window"):
                raise ValueError(
                    f"min_periods ({self.anomaly_param('min_periods')}) is larger than the "
                    f"window ({self.anomaly_param('window')}): the condition could never fire")
        return self

    def _get(self, key: str) -> Any:
        return self.not_ if key == "not" else getattr(self, key)

    @property
    def kind(self) -> str:
        """The key that says what this condition is (``field``, ``sum``, ``all`` …)."""
        return next(key for key in _KEYS if self._get(key) is not None)

    @property
    def subject(self) -> str | None:
        """The column or path a leaf reads (None for all/any/not)."""
        kind = self.kind
        return str(self._get(kind)) if kind in _LEAVES else None

    @property
    def children(self) -> tuple[Condition, ...]:
        """The conditions inside an all/any/not (empty for a leaf)."""
        return self.all or self.any or ((self.not_,) if self.not_ is not None else ())

    @property
    def span(self) -> int:
        """``months`` with its default (1 for change_pct)."""
        return self.months if self.months is not None else 1

    def anomaly_param(self, name: str) -> Any:
        """An anomaly parameter with its default."""
        value = self._get(name)
        return _ANOMALY_DEFAULTS[name] if value is None else value

    def walk(self) -> Iterator[Condition]:
        """This condition and every condition inside it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()

    def fields(self) -> set[str]:
        """Every column or context path the condition reads."""
        return {c.subject for c in self.walk() if c.subject is not None}

    def text(self) -> str:
        """The condition in words, for diagrams and docs."""
        kind = self.kind
        if kind in ("all", "any"):
            joiner = " and " if kind == "all" else " or "
            return "(" + joiner.join(c.text() for c in self.children) + ")"
        if kind == "not":
            return f"not ({self.children[0].text()})"
        subject = {"field": "{}", "change_pct": "change_pct({}, {m})", "sum": "sum({}, {m})",
                   "count": "count({}, {m})", "days_until": "days_until({})",
                   "consecutive": "consecutive {d}({}, {m})", "anomaly": "anomaly({})"}[kind]
        left = subject.format(self.subject, m=self.months, d=self.direction)
        if self.op is None:
            return left
        if self.op in ("is_null", "not_null"):
            return f"{left} {self.op}"
        return f"{left} {self.op} {self.value!r}"


# -- old spellings -------------------------------------------------------------------------
_WORD_OPS = {"eq": "==", "=": "==", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<=",
             "exists": "not_null", "missing": "is_null"}
_TYPE_KEYS = {"threshold": "field", "change": "change_pct", "sum": "sum", "count": "count",
              "days_until": "days_until", "consecutive": "consecutive", "anomaly": "anomaly"}


def _from_type(data: dict[str, Any]) -> dict[str, Any]:
    """A trigger condition of earlier releases (``type: …``) in the one language."""
    old = {k: v for k, v in data.items() if k != "type"}
    kind = data["type"]
    if kind in ("all", "any"):
        rest = {k: v for k, v in old.items() if k != "conditions"}
        return {kind: old.get("conditions"), **rest}
    key = _TYPE_KEYS[kind]
    new: dict[str, Any] = {key: old.pop("field", "agreement_end" if kind == "days_until"
                                        else None)}
    if "periods" in old:
        new["months"] = old.pop("periods")
    if kind == "change":
        new.setdefault("months", 1)
        if "percent" in old:
            old["value"] = old.pop("percent")
    elif kind == "days_until" and "within" in old:
        new.update(op="between", value=[0, old.pop("within")])
    elif kind == "count":
        new["where"] = {"op": old.pop("where_op", ">"), "value": old.pop("where_value", 0)}
        old.setdefault("op", ">=")
    return {**new, **old}


def upgrade_condition(data: Any) -> tuple[Any, list[str]]:
    """One condition node (not its children) in the one language, and what was upgraded.

    The second item lists one sentence per old spelling found, naming the new spelling; it is
    empty when ``data`` is already written in the one language (or is not a condition at all).
    """
    if not isinstance(data, dict):
        return data, []
    reasons: list[str] = []
    new = dict(data)
    if "type" in new and new["type"] not in (*_TYPE_KEYS, "all", "any"):
        raise ValueError(f"unknown type {new['type']!r}; write a condition as "
                         + ", ".join(f"{{{k}: …}}" for k in _KEYS))
    if isinstance(new.get("type"), str) and new["type"] in (*_TYPE_KEYS, "all", "any"):
        old_type = new["type"]
        new = _from_type(new)
        key = next(k for k in _KEYS if k in new)
        reasons.append(f"'type: {old_type}' is the old spelling; write {_show(new, key)}")
    if new.get("op") in _WORD_OPS:
        reasons.append(f"op {new['op']!r} is the old spelling; write op: "
                       f"{_WORD_OPS[new['op']]!r}")
        new["op"] = _WORD_OPS[new["op"]]
    if "field" in new and "op" not in new and "all" not in new and "any" not in new:
        new["op"] = "=="
        reasons.append("a comparison without op is the old spelling; write op: '=='")
    where = new.get("where")
    if isinstance(where, dict) and where.get("op") in _WORD_OPS:
        reasons.append(f"op {where['op']!r} is the old spelling; write op: "
                       f"{_WORD_OPS[where['op']]!r}")
        new["where"] = {**where, "op": _WORD_OPS[where["op"]]}
    return (_ordered(new) if reasons else data), reasons


_ORDER = (*_KEYS, "direction", "months", "where", "method", "window", "min_periods", "threshold",
          "op", "value")


def _ordered(data: dict[str, Any]) -> dict[str, Any]:
    """Keys in reading order: what is read, its parameters, then op and value."""
    rank = {key: i for i, key in enumerate(_ORDER)}
    return dict(sorted(data.items(), key=lambda item: rank.get(item[0], len(rank))))


def _show(new: dict[str, Any], key: str) -> str:
    if key in ("all", "any"):
        return f"{{{key}: [...]}}"
    return _flow(new)


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.+\- ]*")


def _flow(value: Any) -> str:
    """``value`` as one line of YAML flow style (ops always in double quotes)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        plain = (_PLAIN.fullmatch(value) and value == value.strip()
                 and value.lower() not in ("true", "false", "null", "yes", "no", "on", "off")
                 and value not in OPS[:6])
        return value if plain else json.dumps(value, ensure_ascii=False)
    return repr(value) if isinstance(value, float) else str(value)


def _block(value: dict[str, Any], indent: str) -> str:
    """A condition as block YAML starting at a column ``indent`` wide (its first line bare)."""
    lines: list[str] = []
    for key, item in value.items():
        if key in ("all", "any") and isinstance(item, list):
            lines.append(f"{key}:")
            lines += [f"  - {_flow(child)}" for child in item]
        else:
            lines.append(f"{key}: {_flow(item)}")
    return ("\n" + indent).join(lines)


def upgrade_where(data: Any) -> tuple[Any, list[str]]:
    """A KPI ``where`` in the one language: a list of filters (all must hold) becomes the one
    filter, or ``{all: [...]}``; an empty list no filter."""
    if not isinstance(data, list):
        return data, []
    if not data:
        return None, ["an empty where list is the old spelling; leave where out"]
    if len(data) == 1:
        return data[0], ["a where list is the old spelling; write the one condition itself"]
    return {"all": list(data)}, ["a where list is the old spelling; write where: {all: [...]}"]


# -- finding and rewriting old spellings in a file's data ----------------------------------
PathKey = tuple[str | int, ...]


@frozen
class OldSpelling:
    """One old spelling at ``path`` in a file's data; ``reason`` names the new spelling."""

    path: PathKey
    reason: str


def condition_places(data: Any) -> Iterator[tuple[PathKey, Any, bool]]:
    """(path, node, is_kpi_where) of every condition in a rule file's data, by its kind."""
    if not isinstance(data, dict):
        return
    kind = data.get("kind")
    if kind == "triggers":
        for i, trigger in _items(data.get("triggers")):
            if isinstance(trigger, dict) and "when" in trigger:
                yield ("triggers", i, "when"), trigger["when"], False
    elif kind == "kpis":
        for i, kpi in _items(data.get("kpis")):
            if not isinstance(kpi, dict):
                continue
            yield from _where(kpi, ("kpis", i))
            measure = kpi.get("measure")
            if isinstance(measure, dict):
                yield from _where(measure, ("kpis", i, "measure"))
                for part in ("numerator", "denominator"):
                    if isinstance(measure.get(part), dict):
                        yield from _where(measure[part], ("kpis", i, "measure", part))
    elif "states" in data or kind == "process":
        for t, transition in _items(data.get("transitions")):
            if isinstance(transition, dict) and "when" in transition:
                yield ("transitions", t, "when"), transition["when"], False
        for s, state in _items(data.get("states")):
            gate = state.get("gate") if isinstance(state, dict) else None
            levels = gate.get("levels") if isinstance(gate, dict) else None
            for lv, level in _items(levels):
                if isinstance(level, dict) and "when" in level:
                    path = ("states", s, "gate", "levels", lv, "when")
                    yield path, level["when"], False


def _items(value: Any) -> Iterator[tuple[int, Any]]:
    return iter(enumerate(value)) if isinstance(value, list) else iter(())


def _where(node: dict[str, Any], path: PathKey) -> Iterator[tuple[PathKey, Any, bool]]:
    if "where" in node:
        yield (*path, "where"), node["where"], True


def _walk_old(node: Any, path: PathKey) -> Iterator[OldSpelling]:
    _, reasons = upgrade_condition(node)
    for reason in reasons:
        yield OldSpelling(path, reason)
    if not isinstance(node, dict):
        return
    if isinstance(node.get("type"), str) and node["type"] in ("all", "any"):
        children, key = node.get("conditions"), "conditions"
    else:
        key = next((k for k in ("all", "any") if k in node), "")
        children = node.get(key)
    for i, child in _items(children):
        yield from _walk_old(child, (*path, key, i))
    if isinstance(node.get("not"), dict):
        yield from _walk_old(node["not"], (*path, "not"))


def old_spellings(data: Any) -> list[OldSpelling]:
    """Every old spelling of a condition in a rule file's data (any kind), in file order."""
    found: list[OldSpelling] = []
    for path, node, is_where in condition_places(data):
        if is_where:
            _, reasons = upgrade_where(node)
            found += [OldSpelling(path, reason) for reason in reasons]
            if isinstance(node, list):
                for i, child in enumerate(node):
                    found += _walk_old(child, (*path, i))
                continue
        found += _walk_old(node, path)
    return found


def upgrade_data(node: Any, *, is_where: bool = False) -> Any:
    """A condition (or KPI where) with every old spelling inside it upgraded."""
    if is_where:
        node = upgrade_where(node)[0]
    new, _ = upgrade_condition(node)
    if not isinstance(new, dict):
        return new
    out = dict(new)
    for key in ("all", "any"):
        if isinstance(out.get(key), list):
            out[key] = [upgrade_data(c) for c in out[key]]
    if isinstance(out.get("not"), dict):
        out["not"] = upgrade_data(out["not"])
    return out


def upgrade_text(text: str, *, path: str = "<text>") -> str:
    """The text of a rule file with every old condition spelling rewritten.

    Each condition written in an old spelling is replaced where it stands in the text, in the
    style it was written (``{...}`` on one line stays flow style; a block stays a block, at its
    indentation). Comments outside the rewritten conditions are kept; comments *inside* a
    rewritten block condition are lost (conditions already in the one language are left
    untouched, comments and all).
    """
    import yaml

    from vip_workflow.rules.files.document import read_document

    data = read_document(path, text=text).data  # the safe, bounded reader first
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:
        return text
    edits: list[tuple[int, int, str]] = []
    for where, node, is_where in condition_places(data):
        if not _has_old(node, is_where):
            continue
        yaml_node = _node_at(root, where)
        if yaml_node is None:
            continue
        new = upgrade_data(node, is_where=is_where)
        edits.append((yaml_node.start_mark.index, _end(yaml_node), _render(new, yaml_node)))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def _has_old(node: Any, is_where: bool) -> bool:
    if is_where and upgrade_where(node)[1]:
        return True
    return any(True for _ in _walk_old(node, ()))


def _node_at(root: Any, path: PathKey) -> Any:
    import yaml

    node = root
    for step in path:
        if isinstance(step, int) and isinstance(node, yaml.SequenceNode):
            node = node.value[step] if step < len(node.value) else None
        elif isinstance(step, str) and isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == step), None)
        else:
            return None
        if node is None:
            return None
    return node


def _end(node: Any) -> int:
    """Where a node's own text ends (a block's end mark would take in the comments and blank
    lines after it)."""
    import yaml

    if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and not node.flow_style \
            and node.value:
        last = node.value[-1]
        return _end(last[1] if isinstance(last, tuple) else last)
    return int(node.end_mark.index)


def _render(new: Any, node: Any) -> str:
    """``new`` as YAML text to put where ``node`` stood, in the node's style."""
    import yaml

    block = isinstance(node, yaml.MappingNode | yaml.SequenceNode) and not node.flow_style
    if not block or not isinstance(new, dict):
        return _flow(new)
    return _block(new, " " * node.start_mark.column)


def upgrade_file(path: str | Path) -> bool:
    """Rewrite the old condition spellings of a rule file in place; True when it changed.

    The file is first read with the safe, bounded reader (so it must load), then each old
    condition is rewritten where it stands (see :func:`upgrade_text`).
    """
    target = Path(path)
    text = target.read_text(encoding="utf-8")
    new = upgrade_text(text, path=str(target))
    if new == text:
        return False
    target.write_text(new, encoding="utf-8")
    return True
