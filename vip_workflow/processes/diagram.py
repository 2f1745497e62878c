"""A process definition as an SVG picture, drawn here: no Mermaid or Graphviz needed.

Notebooks show it (``ProcessDefinition._repr_html_``, ``ProcessInstance._repr_html_`` with the
current state highlighted); it renders offline in JupyterLab, classic Notebook, VS Code and
nbconvert's HTML, where a Mermaid diagram needs a JavaScript runtime and Graphviz the ``dot``
program. The layout is layered, top to bottom: states in rows by their longest distance from
the initial state (back edges — rejections, recalls, rework — left out of the count), final
states on the last row, each row ordered by where its predecessors stand. Forward edges are
curves down; back edges loop round the right-hand side, dashed.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING

from attrs import frozen

from vip_workflow.processes.graphs import definition_graph

if TYPE_CHECKING:
    import networkx as nx

    from vip_workflow.processes.definitions import ProcessDefinition, StateSpec

__all__ = ["to_svg"]

_FONT = 12
_SMALL = 11
_PAD = 12
_HEIGHT = 42
_ROW_GAP = 58
_COL_GAP = 36
_MARGIN = 24

_FILL = {"step": "#eef3fb", "gate": "#fff4e0", "handoff": "#f1ecf9", "final": "#f2f2f2"}
_STROKE = {"step": "#4a6fa5", "gate": "#c98a1b", "handoff": "#7b5ea7", "final": "#555555"}
_CURRENT = ("#ffe082", "#d84315")
_VISITED = "#e3f4e4"
_EDGE = {"transition": "#4a6fa5", "approve": "#2e7d32", "reject": "#c62828",
         "recall": "#8d6e63", "handoff": "#7b5ea7"}


def _width(text: str, size: int = _FONT) -> float:
    """Rough width of ``text`` in pixels: wide (Chinese) characters count a whole em."""
    return sum(size if unicodedata.east_asian_width(c) in "WF" else size * 0.6 for c in text)


def _cut(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _detail(spec: StateSpec) -> str:
    """The second line of a state's box: its owner, its gate levels, its hand-off."""
    if spec.gate is not None:
        return "gate: " + " → ".join(level.name for level in spec.gate.levels)
    if spec.handoff is not None:
        return f"hand-off to {spec.handoff.process}"
    if spec.final:
        return f"final: {spec.outcome}" if spec.outcome else "final"
    return spec.owner or ""


@frozen
class _Box:
    name: str
    x: float
    y: float
    w: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2


def _back_edges(graph: nx.DiGraph, order: list[str], start: str) -> set[tuple[str, str]]:
    """Edges that close a cycle in a depth-first walk from ``start`` (definition order)."""
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    rank = {name: i for i, name in enumerate(order)}

    def visit(node: str) -> None:
        state[node] = 1
        for nxt in sorted(graph.successors(node), key=rank.__getitem__):
            if state.get(nxt) == 1 or nxt == node:
                back.add((node, nxt))
            elif nxt not in state:
                visit(nxt)
        state[node] = 2

    for root in [start, *order]:
        if root in graph and root not in state:
            visit(root)
    return back


def _layers(definition: ProcessDefinition, graph: nx.DiGraph,
            back: set[tuple[str, str]]) -> list[list[str]]:
    """Rows of state names: the longest forward distance from the start, finals last."""
    import networkx as nx

    forward = nx.DiGraph([e for e in graph.edges if e not in back])
    forward.add_nodes_from(graph.nodes)
    level: dict[str, int] = {}
    for node in nx.topological_sort(forward):
        preds = [level[p] + 1 for p in forward.predecessors(node)]
        level[node] = max(preds, default=0)
    finals = set(definition.final_states)
    last = max((v for k, v in level.items() if k not in finals), default=0) + 1
    for name in finals:
        level[name] = max(last, level[name])
    rows: list[list[str]] = [[] for _ in range(max(level.values(), default=0) + 1)]
    for name in definition.state_names:
        rows[level[name]].append(name)
    return [row for row in rows if row]


def _order(rows: list[list[str]], graph: nx.DiGraph) -> list[list[str]]:
    """Each row sorted by the mean position of its predecessors in the rows above."""
    position: dict[str, float] = {}
    ordered: list[list[str]] = []
    for row in rows:
        def key(name: str, row: list[str] = row) -> tuple[float, int]:
            seen = [position[p] for p in graph.predecessors(name) if p in position]
            return (sum(seen) / len(seen) if seen else float(row.index(name)), row.index(name))
        row = sorted(row, key=key)
        for i, name in enumerate(row):
            position[name] = i - (len(row) - 1) / 2
        ordered.append(row)
    return ordered


def _place(definition: ProcessDefinition, rows: list[list[str]]) -> dict[str, _Box]:
    widths = {s.name: max(_width(_cut(s.label)), _width(_cut(_detail(s)), _SMALL)) + 2 * _PAD
              for s in definition.states}
    row_widths = [sum(widths[n] for n in row) + _COL_GAP * (len(row) - 1) for row in rows]
    full = max(row_widths)
    boxes: dict[str, _Box] = {}
    for r, (row, row_width) in enumerate(zip(rows, row_widths, strict=True)):
        x = _MARGIN + (full - row_width) / 2
        y = _MARGIN + 20 + r * (_HEIGHT + _ROW_GAP)
        for name in row:
            boxes[name] = _Box(name, x, y, widths[name])
            x += widths[name] + _COL_GAP
    return boxes


def _node(spec: StateSpec, box: _Box, current: str | None, visited: set[str]) -> str:
    fill, stroke, width = _FILL[spec.kind], _STROKE[spec.kind], 1.5
    css = f"state {spec.kind}"
    if spec.name == current:
        (fill, stroke), width, css = _CURRENT, 3.0, css + " current"
    elif spec.name in visited:
        fill, css = _VISITED, css + " visited"
    x, y, w, h = box.x, box.y, box.w, _HEIGHT
    style = f"fill='{fill}' stroke='{stroke}' stroke-width='{width}'"
    if spec.kind == "gate":
        pts = [(x + 10, y), (x + w - 10, y), (x + w, y + h / 2), (x + w - 10, y + h),
               (x + 10, y + h), (x, y + h / 2)]
        shape = f"<polygon points='{' '.join(f'{a:.1f},{b:.1f}' for a, b in pts)}' {style}/>"
    else:
        radius = h / 2 if spec.kind == "final" else 4
        shape = (f"<rect x='{x:.1f}' y='{y:.1f}' width='{w:.1f}' height='{h}' rx='{radius}' "
                 f"{style}/>")
        if spec.kind == "handoff":
            shape = (f"<rect x='{x + 4:.1f}' y='{y - 4:.1f}' width='{w:.1f}' height='{h}' "
                     f"rx='4' fill='{fill}' stroke='{stroke}'/>" + shape)
    tip = spec.label + (f" — {spec.description}" if spec.description else "")
    tip += " (current state)" if spec.name == current else ""
    text = (f"<text x='{box.cx:.1f}' y='{y + 17}' text-anchor='middle' font-size='{_FONT}' "
            f"font-weight='{'bold' if spec.name == current else 'normal'}'>"
            f"{html.escape(_cut(spec.label))}</text>"
            f"<text x='{box.cx:.1f}' y='{y + 33}' text-anchor='middle' font-size='{_SMALL}' "
            f"fill='#555'>{html.escape(_cut(_detail(spec)))}</text>")
    return (f"<g class='{css}' data-state='{html.escape(spec.name)}'>"
            f"<title>{html.escape(tip)}</title>{shape}{text}</g>")


def _label(x: float, y: float, text: str, color: str, anchor: str = "start") -> str:
    return (f"<text x='{x:.1f}' y='{y:.1f}' font-size='{_SMALL}' fill='{color}' "
            f"text-anchor='{anchor}' stroke='white' stroke-width='3' paint-order='stroke'>"
            f"{html.escape(_cut(text, 48))}</text>")


def _bezier(p: tuple[float, float, float, float, float, float, float, float],
            t: float) -> tuple[float, float]:
    """The point at ``t`` of a cubic curve given as x0, y0, x1, y1, x2, y2, x3, y3."""
    u = 1 - t
    w = (u ** 3, 3 * u * u * t, 3 * u * t * t, t ** 3)
    return (sum(c * p[2 * i] for i, c in enumerate(w)),
            sum(c * p[2 * i + 1] for i, c in enumerate(w)))


@frozen
class _Route:
    """Where an edge runs: a cubic curve, where its label goes and which way it reads."""

    curve: tuple[float, float, float, float, float, float, float, float]
    label: tuple[float, float]
    anchor: str


def _route(a: _Box, b: _Box, kind: str, loop: float, spread: tuple[int, int]) -> _Route:
    """Down to the next row: a curve; further down: a loop on the left; up: one on the
    right. ``loop`` is how far out a loop reaches (clear of the rows it passes); ``spread``
    is (this edge's index, how many) among its source's short edges down, to keep their
    labels apart."""
    if kind == "down":
        x0, y0, x3, y3 = a.cx, a.y + _HEIGHT, b.cx, b.y
        bend = (y3 - y0) / 2
        curve = (x0, y0, x0, y0 + bend, x3, y3 - bend, x3, y3)
        index, count = spread
        t = 0.5 if count < 2 else 0.3 + 0.4 * index / (count - 1)
        x, y = _bezier(curve, t)
        return _Route(curve, (x + 4, y + 4), "start")
    if kind == "left":
        reach = loop
        y0, y3 = a.y + _HEIGHT / 2, b.y + _HEIGHT / 2
        curve = (a.x, y0, reach, y0, reach, y3, b.x, y3)
        x, y = _bezier(curve, 0.5)
        return _Route(curve, (x - 3, y), "end")
    reach = loop
    y0, y3 = a.y + _HEIGHT / 2, b.y + _HEIGHT / 2
    if a.name == b.name:
        y0, y3 = a.y + 10, a.y + _HEIGHT - 10
    curve = (a.x + a.w, y0, reach, y0, reach, y3, b.x + b.w, y3)
    x, y = _bezier(curve, 0.5)
    return _Route(curve, (x + 3, y), "start")


def _kinds(graph: nx.DiGraph, boxes: dict[str, _Box],
           back: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """``down`` (to the next row), ``left`` (further down) or ``right`` (up, or across)."""
    step = _HEIGHT + _ROW_GAP
    kinds: dict[tuple[str, str], str] = {}
    for source, dest in graph.edges:
        a, b = boxes[source], boxes[dest]
        if (source, dest) in back or b.y <= a.y:
            kinds[source, dest] = "right"
        else:
            kinds[source, dest] = "down" if b.y - a.y <= step + 1 else "left"
    return kinds


def _reach(boxes: dict[str, _Box], a: _Box, b: _Box, side: str) -> float:
    """How far a loop between ``a`` and ``b`` must go out to clear the rows in between."""
    top, bottom = min(a.y, b.y), max(a.y, b.y)
    between = [box for box in boxes.values() if top <= box.y <= bottom]
    if side == "left":
        return min(box.x for box in between) - 24
    return max(box.x + box.w for box in between) + 24


def _edges(graph: nx.DiGraph, boxes: dict[str, _Box], back: set[tuple[str, str]],
           arrow: str) -> tuple[list[str], float, float]:
    """The edges' SVG and how far left and right the loops and labels reach."""
    parts: list[str] = []
    left = min(b.x for b in boxes.values())
    right = max(b.x + b.w for b in boxes.values())
    kinds = _kinds(graph, boxes, back)
    loops = {"left": 0, "right": 0}
    for source, dest, data in graph.edges(data=True):
        kind = kinds[source, dest]
        siblings = [d for s, d in graph.out_edges(source) if kinds[s, d] == "down"]
        spread = (siblings.index(dest), len(siblings)) if kind == "down" else (0, 1)
        reach = 0.0
        if kind != "down":
            loops[kind] += 1
            reach = _reach(boxes, boxes[source], boxes[dest], kind) + (
                16 * loops[kind] if kind == "right" else -16 * loops[kind])
        route = _route(boxes[source], boxes[dest], kind, reach, spread)
        way = next((k for k in ("reject", "recall", "approve", "handoff") if k in data["kinds"]),
                   "transition")
        color, label = _EDGE[way], ", ".join(dict.fromkeys(data["labels"]))
        dash = " stroke-dasharray='5,3'" if kind == "right" or way in ("reject", "recall") else ""
        c = route.curve
        path = (f"M{c[0]:.1f},{c[1]:.1f} C{c[2]:.1f},{c[3]:.1f} {c[4]:.1f},{c[5]:.1f} "
                f"{c[6]:.1f},{c[7]:.1f}")
        lx, ly = route.label
        size = _width(_cut(label, 48), _SMALL)
        left, right = ((min(left, lx - size, c[2]), right) if route.anchor == "end"
                       else (left, max(right, lx + size, c[2])))
        parts.append(f"<g class='edge {way}' data-edge='{html.escape(source)}→"
                     f"{html.escape(dest)}'><path d='{path}' fill='none' stroke='{color}' "
                     f"stroke-width='1.4'{dash} marker-end='url(#{arrow}-{way})'/>"
                     f"{_label(lx, ly, label, color, route.anchor)}</g>")
    return parts, left, right


def _markers(arrow: str) -> str:
    """One arrowhead per edge colour (``context-stroke`` is too new to rely on)."""
    return "".join(
        f"<marker id='{arrow}-{kind}' viewBox='0 0 10 10' refX='10' refY='5' markerWidth='7' "
        f"markerHeight='7' orient='auto'><path d='M0,0 L10,5 L0,10 z' fill='{color}'/></marker>"
        for kind, color in [*_EDGE.items(), ("start", "#333333")])


def to_svg(definition: ProcessDefinition, *, current: str | None = None,
           visited: Iterable[str] = ()) -> str:
    """The definition as an SVG document: ``current`` highlighted, ``visited`` states tinted.

    Every text is escaped; Chinese labels are measured as wide characters.
    """
    graph = definition_graph(definition)
    back = _back_edges(graph, list(definition.state_names), definition.initial)
    rows = _order(_layers(definition, graph, back), graph)
    boxes = _place(definition, rows)
    arrow = f"vw-arrow-{definition.name}"
    edges, left, right = _edges(graph, boxes, back, arrow)
    seen = set(visited)
    nodes = [_node(spec, boxes[spec.name], current, seen) for spec in definition.states]
    start = boxes.get(definition.initial)
    marker = ""
    if start is not None:
        marker = (f"<circle cx='{start.cx:.1f}' cy='{_MARGIN:.1f}' r='5' fill='#333'/>"
                  f"<path d='M{start.cx:.1f},{_MARGIN + 5:.1f} L{start.cx:.1f},{start.y:.1f}' "
                  f"stroke='#333' marker-end='url(#{arrow}-start)'/>")
    origin = min(0.0, left - _MARGIN)
    width = right + _MARGIN - origin
    height = max(b.y for b in boxes.values()) + _HEIGHT + _MARGIN
    title = f"{definition.name} v{definition.version}" + (
        f" — {definition.title}" if definition.title else "")
    return (f"<svg xmlns='http://www.w3.org/2000/svg' class='vw-process' width='{width:.0f}' "
            f"height='{height:.0f}' viewBox='{origin:.0f} 0 {width:.0f} {height:.0f}' "
            "font-family='sans-serif' role='img'>"
            f"<title>{html.escape(title)}</title>"
            f"<defs>{_markers(arrow)}</defs>"
            f"{marker}{''.join(edges)}{''.join(nodes)}</svg>")


def legend() -> str:
    """A one-line HTML legend of the diagram's shapes and colours."""
    return ("<div style='font-size:11px;color:#555'>boxes are steps, hexagons approval gates, "
            "stacked boxes hand-offs, pills final states; "
            f"<span style='background:{_CURRENT[0]}'>current state</span>, "
            f"<span style='background:{_VISITED}'>visited</span>; dashed arrows are "
            "rejections, recalls and rework loops</div>")
