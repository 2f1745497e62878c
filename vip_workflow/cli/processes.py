"""``vip-workflow process …``: list, show and draw process definitions.

Mounted by the main CLI as ``process``; uses only the public API.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

import vip_workflow as vw
from vip_workflow.cli.common import fail, print_problems

__all__ = ["process_app"]

process_app = typer.Typer(
    name="process",
    no_args_is_help=True,
    help="Process definitions: list, show, graph, map, check, schema.",
)

ExtraFiles = Annotated[
    list[Path] | None,
    typer.Option("--file", "-f", help="Also load this definition file (repeatable)."),
]


class GraphFormat(StrEnum):
    mermaid = "mermaid"
    dot = "dot"


def _engine(files: list[Path] | None) -> vw.ProcessEngine:
    try:
        return vw.ProcessEngine(definitions=files or ())
    except vw.ProcessDefinitionError as exc:
        _fail(exc)
        raise  # pragma: no cover


def _fail(exc: vw.ProcessDefinitionError) -> None:
    print_problems(exc)
    raise typer.Exit(1)


def _definition(name: str, files: list[Path] | None) -> vw.ProcessDefinition:
    engine = _engine(files)
    try:
        return engine.definition(name)
    except vw.ProcessError as exc:
        fail(str(exc), 2)


@process_app.command("list")
def list_processes(files: ExtraFiles = None) -> None:
    """List the process definitions (bundled, plus any --file)."""
    rows = [("name", "version", "stage", "states", "title")]
    for d in _engine(files).definitions():
        rows.append((d.name, str(d.version), d.stage or "-", str(len(d.states)), d.title))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(row[:4], widths, strict=True)) + "  "
                   + row[4])


@process_app.command("show")
def show(name: Annotated[str, typer.Argument(help="The process name.")],
         files: ExtraFiles = None) -> None:
    """Show one definition: context, states with owners, gates and transitions."""
    d = _definition(name, files)
    typer.echo(f"{d.name} v{d.version}: {d.title}" + (f" (stage {d.stage})" if d.stage else ""))
    if d.description:
        typer.echo(f"  {d.description}")
    typer.echo(f"starters: {', '.join(sorted(d.starter_roles)) or 'system only'}")
    if d.triggers:
        typer.echo(f"opened by triggers: {', '.join(d.triggers)}")
    if d.context:
        typer.echo("context:")
        for field, spec in d.context.items():
            need = "required" if spec.required else f"default {spec.default!r}"
            typer.echo(f"  {field}: {spec.type}, {need}")
    typer.echo("states:")
    for s in d.states:
        extra = f" owner={s.owner}" if s.owner else ""
        if s.sla:
            extra += f" sla={s.sla.due}"
        typer.echo(f"  {s.name} [{s.kind}] {s.label}{extra}")
        if s.gate is not None:
            for level in s.gate.levels:
                seats = ", ".join(seat.role or f"resolver:{seat.resolver}"
                                  for seat in level.approvers)
                when = f" when {level.when.text()}" if level.when else ""
                typer.echo(f"    level {level.name}: {seats} quorum={level.quorum}{when}")
            sod = s.gate.separation_of_duties
            typer.echo(
                f"    approved → {s.gate.approved}; rejected → {', '.join(s.gate.reject_targets)}"
                f"; requester may approve: {sod.requester_may_approve}; "
                f"one level per person: {sod.one_level_per_person}; min people: {sod.min_people}"
            )
        if s.handoff is not None:
            typer.echo(f"    hand-off to {s.handoff.process} (wait: {s.handoff.wait})")
    typer.echo("transitions:")
    for t in d.transitions:
        roles = f" by {', '.join(t.roles)}" if t.roles else ""
        typer.echo(f"  {t.event}: {' | '.join(t.sources)} → {t.dest}{roles}")


@process_app.command("graph")
def graph(
    name: Annotated[str, typer.Argument(help="The process name.")],
    fmt: Annotated[GraphFormat, typer.Option("--format", help="Output format.")] = (
        GraphFormat.mermaid
    ),
    files: ExtraFiles = None,
) -> None:
    """Print a definition as a Mermaid state diagram or Graphviz DOT."""
    d = _definition(name, files)
    typer.echo(d.to_mermaid() if fmt is GraphFormat.mermaid else d.to_dot(), nl=False)


@process_app.command("map")
def process_map(files: ExtraFiles = None) -> None:
    """Print the map of processes linked by their hand-offs (Mermaid flowchart)."""
    from vip_workflow.processes.graphs import process_map_mermaid

    typer.echo(process_map_mermaid(_engine(files).definitions()), nl=False)


@process_app.command("check")
def check(paths: Annotated[list[Path], typer.Argument(help="Definition files to check.")]
          ) -> None:
    """Check definition files; print every problem as file:line:column: field: reason."""
    failed = False
    for path in paths:
        try:
            d = vw.load_definition(path)
        except vw.ProcessDefinitionError as exc:
            failed = True
            print_problems(exc)
            continue
        typer.echo(f"{path}: {d.name} v{d.version} ok")
    if failed:
        raise typer.Exit(1)


@process_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of a process definition file."""
    typer.echo(json.dumps(vw.ProcessDefinition.json_schema(), indent=2))
