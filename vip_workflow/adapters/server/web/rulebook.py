"""A rule file as readable tables: its settings, then every list of items (factors, bands,
triggers, KPIs …) as a table of its own, named by where it sits."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["rule_tables"]

_ABOUT = ("kind", "name", "version", "effective", "description", "source", "tiers")


def _cell(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format(value, ",.10g")
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def _label(item: dict[str, Any], index: int) -> str:
    for key in ("id", "name", "label", "tier"):
        if isinstance(item.get(key), str):
            return str(item[key])
    return str(index + 1)


def _walk(value: Any, where: list[str], out: list[dict[str, Any]]) -> None:
    if isinstance(value, dict):
        settings = {k: _cell(v) for k, v in value.items()
                    if not (isinstance(v, list) and v and all(isinstance(i, dict) for i in v))
                    and not isinstance(v, dict)}
        if settings and where:
            out.append({"title": " › ".join(where), "columns": ["setting", "value"],
                        "rows": [[k, v] for k, v in settings.items()]})
        for key, child in value.items():
            if isinstance(child, dict):
                _walk(child, [*where, key], out)
            elif isinstance(child, list) and child and all(isinstance(i, dict) for i in child):
                _items(child, [*where, key], out)


def _items(items: list[dict[str, Any]], where: list[str], out: list[dict[str, Any]]) -> None:
    columns: list[str] = []
    for item in items:
        columns += [k for k, v in item.items() if k not in columns and not (
            isinstance(v, list) and v and all(isinstance(i, dict) for i in v))]
    out.append({"title": " › ".join(where), "columns": columns,
                "rows": [[_cell(item.get(c)) for c in columns] for item in items]})
    for index, item in enumerate(items):
        for key, child in item.items():
            if isinstance(child, list) and child and all(isinstance(i, dict) for i in child):
                _items(child, [*where, _label(item, index), key], out)


def rule_tables(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's sections as tables ``{title, columns, rows}``, the book's own settings
    first."""
    rest = {k: v for k, v in document.items() if k not in _ABOUT}
    about = [[k, _cell(document[k])] for k in _ABOUT if k in document]
    about += [[k, _cell(v)] for k, v in rest.items() if not isinstance(v, dict | list)
              or (isinstance(v, list) and not any(isinstance(i, dict) for i in v))]
    out: list[dict[str, Any]] = [{"title": "", "columns": ["setting", "value"],
                                  "rows": about}]
    _walk(rest, [], out)
    return out
