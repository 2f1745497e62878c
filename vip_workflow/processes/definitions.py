"""Process definitions as data: the pydantic models of a process file.

A definition names its states (steps, approval gates, hand-offs, final states), the named
transitions between them, the roles that own each step and the shape of an instance's context.
Everything is declarative: conditions are the one condition language
(``{field, op, value}``), durations are
ISO 8601 strings, nothing is ever evaluated as code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from vip_workflow.rules.files.conditions import Condition
from vip_workflow.rules.files.header import FileHeader
from vip_workflow.rules.files.model import FileModel

__all__ = [
    "RESERVED_EVENTS",
    "STANDARD_ROLES",
    "AssigneeSpec",
    "Condition",
    "ContextField",
    "Escalation",
    "GateSpec",
    "Handoff",
    "LevelSpec",
    "ProcessDefinition",
    "SeatSpec",
    "SeparationOfDuties",
    "SlaSpec",
    "StateSpec",
    "TimerSpec",
    "TransitionSpec",
    "parse_duration",
]

#: The roles of the key-account process (DOMAIN §4), plus the interface processes' owners.
STANDARD_ROLES = frozenset(
    {
        "researcher",
        "industry_manager",
        "account_manager",
        "area_manager",
        "solution_manager",
        "business_manager",
        "customer_service_centre",
        "department_director",
        "vp_business_development",
        "technical_support_manager",
        "marketing_support_manager",
        "product_manager",
        "network_planner",
        "network_operations",
        "process_admin",
    }
)

#: Events with a meaning of their own; a definition may not name a transition after them.
RESERVED_EVENTS = frozenset({"approve", "reject", "recall", "delegate", "migrate", "start", "tick"})

_NAME = r"^[a-z][a-z0-9_]*$"
_DURATION = re.compile(
    r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


def parse_duration(text: str) -> tuple[int, int]:
    """An ISO 8601 duration as ``(months, seconds)``; years count 12 months, weeks 7 days.

    >>> parse_duration("P6M"), parse_duration("PT48H"), parse_duration("P1DT2H")
    ((6, 0), (0, 172800), (0, 93600))
    """
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match or text in {"P", "PT"} or text.endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as P2D, PT48H or P6M")
    part = {k: int(v or 0) for k, v in match.groupdict().items()}
    months = part["years"] * 12 + part["months"]
    seconds = (
        ((part["weeks"] * 7 + part["days"]) * 24 + part["hours"]) * 3600
        + part["minutes"] * 60
        + part["seconds"]
    )
    if months == 0 and seconds == 0:
        raise ValueError(f"{text!r} is a zero duration")
    return months, seconds


_Model = FileModel  # the one strict base of every file model


def _fits_processes(condition: Condition) -> Condition:
    """A process condition compares context values: ``field`` leaves and all/any/not."""
    for node in condition.walk():
        if node.kind not in ("field", "all", "any", "not"):
            raise ValueError(f"a process condition compares context fields ({{field: …}}); "
                             f"{node.kind} reads a customer's months and belongs in trigger "
                             "files")
    return condition


#: A condition of the one language (``docs/conditions.md``) on an instance's context.
ProcessCondition = Annotated[Condition, AfterValidator(_fits_processes)]


class ContextField(_Model):
    """One field of an instance's context."""

    type: Literal[
        "string", "integer", "number", "boolean", "date", "datetime", "list", "object", "any"
    ] = "any"
    required: bool = False
    default: Any = None
    enum: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""


class Escalation(_Model):
    """One rung of an escalation ladder: after a delay, remind or reassign to another role."""

    after: str
    action: Literal["remind", "reassign"]
    to: str | None = None

    @field_validator("after")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @model_validator(mode="after")
    def _target(self) -> Escalation:
        if self.action == "reassign" and not self.to:
            raise ValueError("a reassign escalation names the role it goes to ('to')")
        if self.action == "remind" and self.to:
            raise ValueError("a reminder goes to the current assignee; drop 'to'")
        return self


class SlaSpec(_Model):
    """A due time and the escalation ladder that runs while a step or gate level waits."""

    due: str
    escalation: tuple[Escalation, ...] = ()

    @field_validator("due")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class TimerSpec(_Model):
    """Fire ``event`` on its own (as the system) once the state has lasted ``after``."""

    after: str
    event: str

    @field_validator("after")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class AssigneeSpec(_Model):
    """Who holds a step or an approval level once it opens: exactly one of ``context`` (a
    context field holding a user id), ``resolver`` (the first user a named resolver returns)
    or ``pool`` (a role: anyone holding it may claim the work or act on it).

    A ``context`` or ``resolver`` spec that names nobody leaves the work in the pool of the
    roles that may act (and the ledger says so)."""

    context: str | None = None
    resolver: str | None = None
    pool: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> AssigneeSpec:
        if sum(v is not None for v in (self.context, self.resolver, self.pool)) != 1:
            raise ValueError("an assignee names exactly one of context, resolver or pool")
        return self

    @property
    def source(self) -> str:
        """``context:FIELD``, ``resolver:NAME`` or ``pool:ROLE`` (for the ledger)."""
        if self.context is not None:
            return f"context:{self.context}"
        if self.resolver is not None:
            return f"resolver:{self.resolver}"
        return f"pool:{self.pool}"


class SeatSpec(_Model):
    """One approver seat: any holder of ``role``, or the users a named resolver returns."""

    name: str | None = None
    role: str | None = None
    resolver: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SeatSpec:
        if (self.role is None) == (self.resolver is None):
            raise ValueError("a seat names exactly one of role or resolver")
        return self

    @property
    def key(self) -> str:
        """The seat's name within its level."""
        return self.name or self.role or f"resolver:{self.resolver}"


class LevelSpec(_Model):
    """One approval level: its seats, how many must approve, and when the level applies."""

    name: str = Field(pattern=_NAME)
    approvers: tuple[SeatSpec, ...] = Field(min_length=1)
    quorum: Literal["all", "any"] | int = "all"
    veto: tuple[str, ...] = ()
    when: ProcessCondition | None = None
    assignee: AssigneeSpec | None = None

    @model_validator(mode="after")
    def _quorum_fits(self) -> LevelSpec:
        keys = [seat.key for seat in self.approvers]
        if len(set(keys)) != len(keys):
            raise ValueError("seat names within a level must be unique; name them with 'name'")
        if isinstance(self.quorum, int) and not 1 <= self.quorum <= len(self.approvers):
            raise ValueError(f"quorum {self.quorum} is not between 1 and {len(self.approvers)}")
        unknown = set(self.veto) - set(keys)
        if unknown:
            raise ValueError(f"veto names unknown seat(s) {sorted(unknown)}; seats: {keys}")
        return self

    @property
    def needed(self) -> int:
        """How many approvals decide the level."""
        if self.quorum == "all":
            return len(self.approvers)
        return 1 if self.quorum == "any" else int(self.quorum)


class SeparationOfDuties(_Model):
    """Who may not approve: declared per gate."""

    requester_may_approve: bool = False
    one_level_per_person: bool = True
    #: distinct people (requester included) the gate needs before it can pass: 2 is four-eyes
    min_people: int = Field(default=2, ge=1)


class GateSpec(_Model):
    """An approval gate: sequential levels, each with seats and a quorum."""

    levels: tuple[LevelSpec, ...] = Field(min_length=1)
    approved: str
    rejected: str
    reject_to: tuple[str, ...] = ()
    separation_of_duties: SeparationOfDuties = SeparationOfDuties()
    sla: SlaSpec | None = None

    @model_validator(mode="after")
    def _unique_levels(self) -> GateSpec:
        names = [level.name for level in self.levels]
        if len(set(names)) != len(names):
            raise ValueError("level names within a gate must be unique")
        return self

    @property
    def reject_targets(self) -> tuple[str, ...]:
        """Every step a rejection may send the instance back to (the default first)."""
        return (self.rejected, *(s for s in self.reject_to if s != self.rejected))


class Handoff(_Model):
    """Start another process from this state, and (if ``wait``) continue when it finishes.

    ``results`` maps the child's final states to this process's next state; ``context`` maps the
    child's context fields to this instance's fields (``child_field: parent_field``).
    """

    process: str = Field(pattern=_NAME)
    wait: bool = True
    results: dict[str, str] = Field(default_factory=dict)
    next: str | None = None
    context: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _continuation(self) -> Handoff:
        if self.wait and not self.results:
            raise ValueError("a waiting hand-off maps the child's final states in 'results'")
        if not self.wait and not self.next:
            raise ValueError("a hand-off that does not wait names the 'next' state")
        if not self.wait and self.results:
            raise ValueError("'results' only applies to a hand-off that waits")
        return self


class StateSpec(_Model):
    """A state: a step owned by a role, an approval gate, a hand-off, or a final state."""

    name: str = Field(pattern=_NAME)
    step: str | None = None
    title: str = ""
    description: str = ""
    owner: str | None = None
    final: bool = False
    outcome: str | None = None
    gate: GateSpec | None = None
    handoff: Handoff | None = None
    sla: SlaSpec | None = None
    timers: tuple[TimerSpec, ...] = ()
    assignee: AssigneeSpec | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> StateSpec:
        kinds = [self.final, self.gate is not None, self.handoff is not None]
        if sum(kinds) > 1:
            raise ValueError("a state is at most one of final, gate or handoff")
        if self.final and (self.sla or self.timers or self.owner):
            raise ValueError("a final state has no owner, sla or timers")
        if self.assignee is not None and any(kinds):
            raise ValueError("only a step has an assignee (a gate's levels name theirs)")
        if self.gate is not None and self.sla is not None:
            raise ValueError("a gate's SLA goes under gate.sla")
        if not any(kinds) and self.owner is None:
            raise ValueError("a step names its owner role")
        return self

    @property
    def kind(self) -> str:
        """``final``, ``gate``, ``handoff`` or ``step``."""
        if self.final:
            return "final"
        if self.gate is not None:
            return "gate"
        return "handoff" if self.handoff is not None else "step"

    @property
    def label(self) -> str:
        """``4.3 Internal approval`` style label."""
        title = self.title or self.name.replace("_", " ").capitalize()
        return f"{self.step} {title}" if self.step else title


class TransitionSpec(_Model):
    """A named transition: who may fire ``event`` in ``source`` and where it leads."""

    event: str = Field(pattern=_NAME)
    source: str | tuple[str, ...]
    dest: str
    roles: tuple[str, ...] | None = None
    when: ProcessCondition | None = None
    description: str = ""

    @field_validator("event")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_EVENTS:
            raise ValueError(f"{value!r} is reserved; reserved events: {sorted(RESERVED_EVENTS)}")
        return value

    @property
    def sources(self) -> tuple[str, ...]:
        """The source states as a tuple."""
        return (self.source,) if isinstance(self.source, str) else self.source


_PY_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "date": date,
    "datetime": datetime,
    "list": list,
    "object": dict,
    "any": Any,
}


class ProcessDefinition(FileHeader):
    """A whole process: states, transitions, context schema, roles, resolvers and metadata.

    The header is every data file's (:class:`~vip_workflow.rules.files.header.FileHeader`),
    with ``kind: process``. Three header keys are narrower here, because the engine and its
    stores rely on them: ``name`` is a lower-case identifier, ``version`` a whole number
    (deployed versions are ordered by it), and ``title``/``description`` are text, empty
    when left out. A file without ``kind`` still loads in 0.2, with a deprecation finding.
    """

    kind: Literal["process"] | None = Field(  # type: ignore[assignment]
        default=None, description="What the file holds: process (required from 0.3).")
    name: str = Field(pattern=_NAME, description="Name of the process: lower case, digits "
                      "and _, e.g. sales.")
    version: int = Field(default=1, ge=1, description="Version of the definition; deployed "
                         "versions are ordered by it.")  # type: ignore[assignment]
    title: str = Field(default="", description="Short title shown to readers.")
    stage: str | None = None
    description: str = Field(default="", description="What the process is for.")
    roles: tuple[str, ...] = ()
    resolvers: tuple[str, ...] = ()
    supervisors: tuple[str, ...] = Field(default=(), description="Roles that may reassign "
                                         "work and act in an assignee's place, with a reason "
                                         "(process_admin always may).")
    starters: tuple[str, ...] | None = None
    triggers: tuple[str, ...] = ()
    leads_to: tuple[str, ...] = ()
    context: dict[str, ContextField] = Field(default_factory=dict)
    initial: str
    states: tuple[StateSpec, ...] = Field(min_length=1)
    transitions: tuple[TransitionSpec, ...] = ()

    @property
    def supervisor_roles(self) -> frozenset[str]:
        """``supervisors`` plus ``process_admin``."""
        return frozenset(self.supervisors) | {"process_admin"}

    @property
    def known_roles(self) -> frozenset[str]:
        """The standard roles plus the ones this definition declares."""
        return STANDARD_ROLES | frozenset(self.roles)

    def state(self, name: str) -> StateSpec:
        """The state called ``name`` (``KeyError`` if there is none)."""
        for spec in self.states:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def state_names(self) -> tuple[str, ...]:
        """State names in definition order."""
        return tuple(spec.name for spec in self.states)

    @property
    def final_states(self) -> tuple[str, ...]:
        """Names of the final states."""
        return tuple(spec.name for spec in self.states if spec.final)

    @property
    def starter_roles(self) -> frozenset[str]:
        """Roles that may start an instance: ``starters``, else the initial step's owner."""
        if self.starters is not None:
            return frozenset(self.starters)
        owner = self.state(self.initial).owner if self.initial in self.state_names else None
        return frozenset({owner}) if owner else frozenset()

    def graph(self) -> Any:
        """The definition as a networkx ``DiGraph`` (see :mod:`vip_workflow.processes.graphs`)."""
        from vip_workflow.processes.graphs import definition_graph

        return definition_graph(self)

    def to_mermaid(self) -> str:
        """A Mermaid ``stateDiagram-v2`` of the definition."""
        from vip_workflow.processes.graphs import to_mermaid

        return to_mermaid(self)

    def to_dot(self) -> str:
        """A Graphviz DOT digraph of the definition."""
        from vip_workflow.processes.graphs import to_dot

        return to_dot(self)

    def to_svg(self, current: str | None = None, visited: Iterable[str] = ()) -> str:
        """The definition drawn as SVG, ``current`` highlighted and ``visited`` tinted (see
        :mod:`vip_workflow.processes.diagram`; no Graphviz or Mermaid needed)."""
        from vip_workflow.processes.diagram import to_svg

        return to_svg(self, current=current, visited=visited)

    def model_post_init(self, context: Any, /) -> None:
        """Remembered (weakly) so an instance of it can draw itself in a notebook."""
        from vip_workflow._html import remember_definition

        remember_definition(self)

    def __repr__(self) -> str:
        return (f"<ProcessDefinition {self.name!r} v{self.version}: {len(self.states)} states, "
                f"{len(self.transitions)} transitions, starts in {self.initial!r}>")

    def _repr_html_(self) -> str:
        from vip_workflow._html import frame
        from vip_workflow.processes.diagram import legend

        note = (f"{len(self.states)} states, {len(self.transitions)} transitions"
                + (f"; {self.description}" if self.description else ""))
        return frame(f"{self.name} v{self.version}" + (f" — {self.title}" if self.title else ""),
                     self.to_svg(), legend(), note=note)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The JSON Schema of a process file (for editors and CI checks):
        ``schema_for("process")``."""
        from vip_workflow.rules.files.kinds import schema_for

        return schema_for("process")


def context_python_type(spec: ContextField) -> Any:
    """The Python type a context field is validated as."""
    return _PY_TYPES[spec.type]
