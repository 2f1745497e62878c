"""Compiling a definition: one ``transitions`` machine per definition, shared by all instances.

This is the only module that imports ``transitions``. The machine is built without models
(``model=None``) and checked by ``transitions`` itself; its event table is then read into plain
dicts so firing an event for one of 100 000 instances is a dict lookup, not a model object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from attrs import frozen
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from transitions import Machine

from vip_workflow.errors import InvalidContextError, ProcessDefinitionError
from vip_workflow.processes.definitions import (
    Condition,
    ContextField,
    ProcessDefinition,
    StateSpec,
    context_python_type,
)

if TYPE_CHECKING:
    from vip_workflow.domain.instances import ProcessInstance

__all__ = ["CompiledProcess", "CompiledTransition", "compile_definition"]


@frozen
class CompiledTransition:
    """One way out of a state for an event: destination, allowed roles, condition."""

    event: str
    source: str
    dest: str
    roles: frozenset[str]
    when: Condition | None
    kind: str = "transition"


def _context_model(definition: ProcessDefinition) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for name, spec in definition.context.items():
        fields[name] = _field(spec)
    return create_model(
        f"{definition.name}_v{definition.version}_context",
        __config__=ConfigDict(extra="forbid", strict=False),
        **fields,
    )


def _field(spec: ContextField) -> tuple[Any, Any]:
    kind: Any = context_python_type(spec)
    if spec.enum is not None:
        kind = Literal[spec.enum]
    bounds: dict[str, Any] = {}
    if spec.minimum is not None:
        bounds["ge"] = spec.minimum
    if spec.maximum is not None:
        bounds["le"] = spec.maximum
    if spec.required:
        return kind, Field(..., **bounds)
    return kind | None, Field(default=spec.default, **bounds)


class CompiledProcess:
    """A definition ready to run: its machine, transition table and context validator."""

    def __init__(
        self, definition: ProcessDefinition,
        resolvers: Mapping[str, Callable[[ProcessInstance], Iterable[str]]] | None = None,
    ) -> None:
        self.definition = definition
        #: the pool keys of each step (``processes.work``), computed once on first use
        self.pool_keys: dict[str, frozenset[str]] = {}
        #: the engine's resolvers (seats, assignees and work keys name them)
        self.resolvers = resolvers if resolvers is not None else {}
        self.name = definition.name
        self.version = definition.version
        self.states: dict[str, StateSpec] = {s.name: s for s in definition.states}
        self.machine = Machine(
            model=None,
            states=list(self.states),
            initial=definition.initial,
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )
        specs: dict[tuple[str, str], list[CompiledTransition]] = {}
        for transition in definition.transitions:
            roles = transition.roles
            for source in transition.sources:
                owner = self.states[source].owner
                allowed = frozenset(roles) if roles is not None else frozenset(
                    {owner} if owner is not None else ()
                )
                self.machine.add_transition(transition.event, source, transition.dest)
                specs.setdefault((source, transition.event), []).append(
                    CompiledTransition(
                        transition.event, source, transition.dest, allowed, transition.when
                    )
                )
        for spec in definition.states:
            if spec.gate is not None:
                self.machine.add_transition("approve", spec.name, spec.gate.approved)
                for target in spec.gate.reject_targets:
                    self.machine.add_transition("reject", spec.name, target)
        self.table: dict[tuple[str, str], tuple[CompiledTransition, ...]] = {}
        for event_name, event in self.machine.events.items():
            for source, ways in event.transitions.items():
                if event_name in {"approve", "reject"}:
                    continue
                compiled = specs[(source, event_name)]
                if [w.dest for w in ways] != [c.dest for c in compiled]:  # pragma: no cover
                    raise ProcessDefinitionError(
                        f"transitions compiled {event_name!r} from {source!r} differently",
                        field="transitions",
                    )
                self.table[(source, event_name)] = tuple(compiled)
        self.events_by_state: dict[str, tuple[str, ...]] = {}
        for source, event_name in self.table:
            self.events_by_state[source] = (*self.events_by_state.get(source, ()), event_name)
        self.context_model = _context_model(definition)
        self.final_states = frozenset(definition.final_states)
        self.starter_roles: frozenset[str] = definition.starter_roles

    def __repr__(self) -> str:
        return f"<CompiledProcess {self.name} v{self.version}>"

    def ways(self, state: str, event: str) -> tuple[CompiledTransition, ...]:
        """The candidate transitions for ``event`` in ``state`` (empty if none)."""
        return self.table.get((state, event), ())

    def events(self, state: str) -> tuple[str, ...]:
        """The named events that may be fired in ``state``."""
        return self.events_by_state.get(state, ())

    def validate_context(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The context checked against the definition's schema, with defaults filled in."""
        try:
            model = self.context_model.model_validate(dict(data))
        except ValidationError as exc:
            problems = [
                (".".join(map(str, e["loc"])) or "context", e["msg"])
                for e in exc.errors(include_url=False)
            ]
            raise InvalidContextError(self.name, self.version, problems) from None
        return {k: v for k, v in model.__dict__.items() if not (v is None and k not in data)}


def compile_definition(definition: ProcessDefinition) -> CompiledProcess:
    """Compile a (checked) definition into its shared machine."""
    return CompiledProcess(definition)

