"""Old module paths of moved modules, kept importable for one release.

A module that moved (``vip_workflow.processes.instance`` → ``vip_workflow.domain.instances``)
leaves no stub file behind: this finder answers the old name with the module at its new home,
the very same module object, and warns once with a ``DeprecationWarning`` naming the new path.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

__all__ = ["MOVED_MODULES", "install"]

#: Old module path → new module path.
MOVED_MODULES: dict[str, str] = {
    "vip_workflow.processes.instance": "vip_workflow.domain.instances",
    "vip_workflow.sample": "vip_workflow.samples.portfolio",
    "vip_workflow.sample_history": "vip_workflow.samples.history",
    "vip_workflow.cycle.sample": "vip_workflow.samples.monthly",
    "vip_workflow.rules.book": "vip_workflow.rules.tiers.book",
    "vip_workflow.rules.compiled": "vip_workflow.rules.tiers.compiled",
    "vip_workflow.rules.evaluate": "vip_workflow.rules.tiers.evaluate",
    "vip_workflow.rules.expressions": "vip_workflow.rules.tiers.expressions",
    "vip_workflow.rules.lint": "vip_workflow.rules.tiers.lint",
    "vip_workflow.rules._polars": "vip_workflow.rules.tiers._polars",
    "vip_workflow.rules.schema": "vip_workflow.rules.tiers.schema",
    "vip_workflow.rules.fitting": "vip_workflow.rules.tiers.fitting",
    "vip_workflow.rules.loader": "vip_workflow.rules.files.document",
    "vip_workflow.rules.kpi": "vip_workflow.rules.kpis.book",
    "vip_workflow.rules._durable": "vip_workflow.rules.triggers._durable",
    "vip_workflow.rules.snapshots": "vip_workflow.rules.triggers.snapshots",
    "vip_workflow.rules.signals": "vip_workflow.work.board",
    "vip_workflow.cycle.report": "vip_workflow.reporting.report",
    "vip_workflow.cycle.demo": "vip_workflow.samples.demo",
    "vip_workflow.cli_triggers": "vip_workflow.cli.triggers",
    "vip_workflow.cli_adapters": "vip_workflow.cli.db",
    "vip_workflow.processes.cli": "vip_workflow.cli.processes",
    "vip_workflow.processes.serial": "vip_workflow.domain.serial",
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old module path and loads the module from its new one."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED_MODULES:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # a throw-away module: exec_module puts the real one in its place

    def exec_module(self, module: ModuleType) -> None:
        new = MOVED_MODULES[module.__name__]
        warnings.warn(f"{module.__name__} moved to {new}", DeprecationWarning, stacklevel=2)
        sys.modules[module.__name__] = importlib.import_module(new)


def install() -> None:
    """Put the finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedModuleFinder())
