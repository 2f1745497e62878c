"""Definitions as graphs: networkx DiGraphs, Mermaid and Graphviz DOT text, the process map."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import networkx as nx

if TYPE_CHECKING:
    from vip_workflow.processes.definitions import ProcessDefinition

__all__ = [
    "definition_graph",
    "process_map",
    "process_map_mermaid",
    "to_dot",
    "to_mermaid",
]


def _add_edge(graph: nx.DiGraph, source: str, dest: str, kind: str, label: str) -> None:
    if graph.has_edge(source, dest):
        data = graph.edges[source, dest]
        data["labels"].append(label)
        data["kinds"].append(kind)
    else:
        graph.add_edge(source, dest, labels=[label], kinds=[kind])


def definition_graph(definition: ProcessDefinition) -> nx.DiGraph:
    """States as nodes, every way between them as edges.

    Node attributes: ``kind`` (step, gate, handoff, final), ``label``, ``owner``, ``step``.
    Edge attributes: ``labels`` and ``kinds`` (transition, approve, reject, recall, handoff), one
    entry per way between the two states. Edges to unknown states are left out (the validator
    reports them).
    """
    graph = nx.DiGraph(name=definition.name, version=definition.version)
    known = set(definition.state_names)
    for spec in definition.states:
        graph.add_node(
            spec.name, kind=spec.kind, label=spec.label, owner=spec.owner, step=spec.step
        )
    entering: dict[str, list[str]] = {}
    for transition in definition.transitions:
        for source in transition.sources:
            if source in known and transition.dest in known:
                _add_edge(graph, source, transition.dest, "transition", transition.event)
                entering.setdefault(transition.dest, []).append(source)
    for spec in definition.states:
        if spec.gate is not None:
            if spec.gate.approved in known:
                _add_edge(graph, spec.name, spec.gate.approved, "approve", "approved")
            for target in spec.gate.reject_targets:
                if target in known:
                    _add_edge(graph, spec.name, target, "reject", "rejected")
            for origin in entering.get(spec.name, ()):
                if origin != spec.name:
                    _add_edge(graph, spec.name, origin, "recall", "recalled")
        if spec.handoff is not None:
            handoff = spec.handoff
            targets = handoff.results.items() if handoff.wait else [("started", handoff.next)]
            for result, dest in targets:
                if dest in known:
                    _add_edge(graph, spec.name, dest, "handoff", f"{handoff.process} {result}")
    return graph


def _mermaid_text(text: str) -> str:
    return text.replace('"', "'").replace(":", " -").replace(";", ",")


def to_mermaid(definition: ProcessDefinition) -> str:
    """A Mermaid ``stateDiagram-v2``: steps with their owner, gates with their levels."""
    graph = definition_graph(definition)
    lines = ["stateDiagram-v2"]
    for spec in definition.states:
        text = spec.label
        if spec.owner:
            text += f" ({spec.owner})"
        if spec.gate is not None:
            text += " gate: " + " then ".join(level.name for level in spec.gate.levels)
        if spec.handoff is not None:
            text += f" hand-off to {spec.handoff.process}"
        lines.append(f'    state "{_mermaid_text(text)}" as {spec.name}')
    lines.append(f"    [*] --> {definition.initial}")
    for source, dest, data in graph.edges(data=True):
        label = ", ".join(dict.fromkeys(data["labels"]))
        lines.append(f"    {source} --> {dest}: {_mermaid_text(label)}")
    for name in definition.final_states:
        lines.append(f"    {name} --> [*]")
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped + '"'


_DOT_SHAPES = {"step": "box", "gate": "diamond", "handoff": "box3d", "final": "doublecircle"}


def to_dot(definition: ProcessDefinition) -> str:
    """A Graphviz DOT digraph; gates are diamonds, hand-offs 3-D boxes, final states circles."""
    graph = definition_graph(definition)
    lines = [f"digraph {_dot_quote(definition.name)} {{", "  rankdir=LR;"]
    lines.append('  __start__ [shape=point, label=""];')
    for name, data in graph.nodes(data=True):
        label = data["label"] + (f"\n({data['owner']})" if data["owner"] else "")
        shape = _DOT_SHAPES[data["kind"]]
        lines.append(f"  {_dot_quote(name)} [shape={shape}, label={_dot_quote(label)}];")
    lines.append(f"  __start__ -> {_dot_quote(definition.initial)};")
    for source, dest, data in graph.edges(data=True):
        label = ", ".join(dict.fromkeys(data["labels"]))
        style = ", style=dashed" if "reject" in data["kinds"] or "recall" in data["kinds"] else ""
        lines.append(
            f"  {_dot_quote(source)} -> {_dot_quote(dest)} [label={_dot_quote(label)}{style}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def process_map(definitions: Iterable[ProcessDefinition]) -> nx.DiGraph:
    """Processes as nodes, linked by hand-offs (``kind="handoff"``) and ``leads_to`` links.

    Only the newest version of each process is drawn. Node attributes: ``title``, ``stage``.
    """
    newest: dict[str, ProcessDefinition] = {}
    for definition in definitions:
        current = newest.get(definition.name)
        if current is None or definition.version > current.version:
            newest[definition.name] = definition
    graph = nx.DiGraph()
    for name, definition in sorted(newest.items(), key=lambda kv: (kv[1].stage or "z", kv[0])):
        graph.add_node(name, title=definition.title or name, stage=definition.stage)
    for name, definition in newest.items():
        for spec in definition.states:
            if spec.handoff is not None:
                graph.add_edge(
                    name, spec.handoff.process, kind="handoff", state=spec.name,
                    wait=spec.handoff.wait,
                )
        for target in definition.leads_to:
            if not graph.has_edge(name, target):
                graph.add_edge(name, target, kind="leads_to", state=None, wait=False)
    return graph


def process_map_mermaid(definitions: Iterable[ProcessDefinition]) -> str:
    """The process map as a Mermaid flowchart: solid arrows are hand-offs, dotted ones lead-ons."""
    graph = process_map(definitions)
    lines = ["flowchart LR"]
    for name, data in graph.nodes(data=True):
        stage = f"{data['stage']} " if data.get("stage") else ""
        title = data.get("title") or name
        lines.append(f'    {name}["{_mermaid_text(stage + title)}"]')
    for source, dest, data in graph.edges(data=True):
        if data["kind"] == "handoff":
            note = "waits for" if data["wait"] else "starts"
            lines.append(f"    {source} -->|{note}| {dest}")
        else:
            lines.append(f"    {source} -.-> {dest}")
    return "\n".join(lines) + "\n"
