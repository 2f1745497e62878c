"""Tier history and signals per customer and period, tasks, and the record of cycle runs.

The port ``CycleStore`` (with its ``unit_of_work()``) lives in ``vip_workflow.ports``; the
stores live with the other adapters, on the one storage stack: ``MemoryCycleStore``
(``vip_workflow.adapters.storage.memory_cycle``) and ``SQLCycleStore``
(``vip_workflow.adapters.storage.sql``, the engine and schema of ``SQLInstanceStore``).
This module keeps the names importable from here; the stores are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vip_workflow.ports import CycleStore, CycleUnitOfWork

if TYPE_CHECKING:
    from vip_workflow.adapters.storage.memory_cycle import MemoryCycleStore
    from vip_workflow.adapters.storage.sql import SQLCycleStore
    from vip_workflow.ports import SIGNAL_COLUMNS, TASK_COLUMNS, TIER_COLUMNS

__all__ = ["SIGNAL_COLUMNS", "TASK_COLUMNS", "TIER_COLUMNS", "CycleStore", "CycleUnitOfWork",
           "MemoryCycleStore", "SQLCycleStore", "open_cycle_store"]

_LAZY = {
    "MemoryCycleStore": "vip_workflow.adapters.storage.memory_cycle",
    "SQLCycleStore": "vip_workflow.adapters.storage.sql",
    "TIER_COLUMNS": "vip_workflow.ports",
    "TASK_COLUMNS": "vip_workflow.ports",
    "SIGNAL_COLUMNS": "vip_workflow.ports",
}


def open_cycle_store(url: str, **options: Any) -> CycleStore:
    """The ``CycleStore`` for a storage URL (``memory://``, ``sqlite:///file.db``,
    ``postgresql…``): ``open_store(url).cycle``, its schema made or checked by the
    migrations. See ``vip_workflow.registry.open_cycle_store``."""
    from vip_workflow.registry import open_cycle_store as _open

    return _open(url, **options)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
