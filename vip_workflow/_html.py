"""Small HTML pieces for the notebook reprs (``_repr_html_``) of the library's objects.

Standard library only, and no import of the rest of the package, so every layer — the domain
values included — may use it lazily without breaking the import contracts. Everything a
caller passes in is text to show, never markup: it is escaped here (a context value
``<script>`` shows as text).

The registry at the bottom lets an instance find the definition it runs on for its diagram:
a :class:`~vip_workflow.processes.definitions.ProcessDefinition` remembers itself when it is
built (weakly: nothing is kept alive by it), and a ``ProcessInstance`` asks for its process
name and version.
"""

from __future__ import annotations

import contextlib
import html
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["esc", "fields", "frame", "remember_definition", "remembered_definition", "shorten",
           "table"]

#: How many characters of one value a cell shows before it is cut with an ellipsis.
CELL_CHARS = 120

_STYLE = "font-family:sans-serif;font-size:13px"


def shorten(value: object, limit: int = CELL_CHARS) -> str:
    """``value`` as text (``""`` for ``None``), cut at ``limit`` characters with ``…``."""
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def esc(value: object, limit: int = CELL_CHARS) -> str:
    """``value`` as escaped, shortened text for HTML."""
    return html.escape(shorten(value, limit))


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, limit: int = 50,
          total: int | None = None, what: str = "rows") -> str:
    """An HTML table of at most ``limit`` rows; a note says how many more there are.

    ``total`` is the number of rows there are in all when ``rows`` is already cut.
    """
    shown: list[Sequence[object]] = []
    count = 0
    for row in rows:
        count += 1
        if len(shown) < limit:
            shown.append(row)
    total = count if total is None else total
    head = "".join(f"<th style='text-align:left'>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td style='text-align:left'>{esc(v)}</td>" for v in row) + "</tr>"
        for row in shown)
    more = total - len(shown)
    note = f"<p><em>… and {more:,} more {esc(what)}</em></p>" if more > 0 else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"


def fields(pairs: Mapping[str, object] | Iterable[tuple[str, object]]) -> str:
    """A two-column table of names and values (values shortened and escaped)."""
    items = pairs.items() if isinstance(pairs, Mapping) else pairs
    rows = "".join(f"<tr><th style='text-align:left'>{esc(k)}</th>"
                   f"<td style='text-align:left'>{esc(v)}</td></tr>" for k, v in items)
    return f"<table><tbody>{rows}</tbody></table>"


def frame(title: str, *parts: str, note: str = "") -> str:
    """A titled block: the escaped ``title`` in bold, a plain ``note``, then ready HTML parts."""
    line = f"<strong>{esc(title, 300)}</strong>"
    if note:
        line += f" — {esc(note, 500)}"
    return f"<div style='{_STYLE}'><div>{line}</div>{''.join(parts)}</div>"


_DEFINITIONS: weakref.WeakValueDictionary[tuple[str, int], Any] = weakref.WeakValueDictionary()


def remember_definition(definition: Any) -> None:
    """Keep a weak reference to a process definition under ``(name, version)``."""
    # an object without weak references (TypeError): no diagram for its instances
    with contextlib.suppress(TypeError):
        _DEFINITIONS[(definition.name, definition.version)] = definition


def remembered_definition(name: str, version: int) -> Any | None:
    """The definition ``name`` ``version`` built in this process and still alive, or None."""
    return _DEFINITIONS.get((name, version))
