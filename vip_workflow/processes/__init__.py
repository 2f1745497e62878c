"""The process engine: key-account stages as durable state machines with approval gates."""

from vip_workflow.domain.instances import (
    SYSTEM,
    Actor,
    LedgerEntry,
    Notice,
    ProcessInstance,
)
from vip_workflow.processes.definitions import (
    Condition,
    GateSpec,
    LevelSpec,
    ProcessDefinition,
    SeatSpec,
    StateSpec,
    TransitionSpec,
)
from vip_workflow.processes.engine import ProcessEngine, TickReport
from vip_workflow.processes.graphs import process_map, process_map_mermaid
from vip_workflow.processes.loader import bundled_definitions, load_definition, load_definitions

__all__ = [
    "SYSTEM",
    "Actor",
    "Condition",
    "GateSpec",
    "LedgerEntry",
    "LevelSpec",
    "Notice",
    "ProcessDefinition",
    "ProcessEngine",
    "ProcessInstance",
    "SeatSpec",
    "StateSpec",
    "TickReport",
    "TransitionSpec",
    "bundled_definitions",
    "load_definition",
    "load_definitions",
    "process_map",
    "process_map_mermaid",
]
