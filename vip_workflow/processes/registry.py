"""The engine's deployed definitions: by name and version, each compiled once.

Not to be confused with ``vip_workflow.registry`` (adapters by name).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from vip_workflow._html import remember_definition
from vip_workflow.domain.instances import ProcessInstance
from vip_workflow.errors import ProcessDefinitionError, ProcessError
from vip_workflow.processes.definitions import ProcessDefinition
from vip_workflow.processes.loader import check_or_raise, definition_from_dict, load_definition
from vip_workflow.processes.machine import CompiledProcess

__all__ = ["DefinitionRegistry", "Resolver"]

Resolver = Callable[[ProcessInstance], Iterable[str]]


class DefinitionRegistry:
    """Deployed definitions by name and version, with their compiled machines.

    Args:
        resolvers: the approver resolvers definitions may name (checked on deploy).
    """

    def __init__(self, resolvers: Mapping[str, Resolver]) -> None:
        self.resolvers = resolvers
        self._compiled: dict[str, dict[int, CompiledProcess]] = {}
        self._newest: dict[str, CompiledProcess] = {}
        self._lookup: dict[tuple[str, int], CompiledProcess] = {}

    def deploy(
        self, definition: ProcessDefinition | Mapping[str, Any] | str | Path
    ) -> ProcessDefinition:
        """Add a definition (an object, plain data, or a file) as a new version; deploying
        the same name and version again is allowed only with identical content."""
        if isinstance(definition, Mapping):
            definition = definition_from_dict(definition)
        elif not isinstance(definition, ProcessDefinition):
            definition = load_definition(definition)
        check_or_raise(definition, resolvers=self.resolvers)
        # the deployed one is what this process's instances draw in a notebook (another
        # object of the same name and version may have been built since)
        remember_definition(definition)
        versions = self._compiled.setdefault(definition.name, {})
        existing = versions.get(definition.version)
        if existing is not None:
            if existing.definition != definition:
                raise ProcessDefinitionError(
                    f"{definition.name} v{definition.version} is already deployed with other "
                    "content; give the new one a higher version",
                    field="version",
                )
            return definition
        compiled = CompiledProcess(definition, self.resolvers)
        versions[definition.version] = compiled
        self._lookup[(definition.name, definition.version)] = compiled
        self._newest[definition.name] = versions[max(versions)]
        return definition

    def compiled(self, name: str, version: int | None = None) -> CompiledProcess:
        """The compiled definition (the newest version unless ``version`` is given)."""
        found = self._newest.get(name) if version is None else self._lookup.get((name, version))
        if found is not None:
            return found
        versions = self._compiled.get(name)
        if not versions:
            known = ", ".join(sorted(self._compiled)) or "none"
            raise ProcessError(f"no process definition {name!r}; deployed: {known}")
        raise ProcessError(f"{name} has no version {version}; deployed: {sorted(versions)}")

    def of(self, instance: ProcessInstance) -> CompiledProcess:
        """The compiled definition an instance runs on."""
        found = self._lookup.get((instance.definition, instance.definition_version))
        if found is None:
            return self.compiled(instance.definition, instance.definition_version)
        return found

    def names(self) -> list[str]:
        """The names of the deployed processes, sorted."""
        return sorted(self._compiled)

    def definitions(self, *, all_versions: bool = False) -> list[ProcessDefinition]:
        """The deployed definitions, by name (newest versions only unless asked)."""
        found = []
        for name in sorted(self._compiled):
            versions = self._compiled[name]
            keys = sorted(versions) if all_versions else [max(versions)]
            found += [versions[v].definition for v in keys]
        return found

    def check(self) -> list[str]:
        """Problems between deployed definitions: hand-offs to processes that are not
        deployed, or whose ``results`` name states that are not final in the child's newest
        version."""
        problems = []
        for definition in self.definitions(all_versions=True):
            for spec in definition.states:
                handoff = spec.handoff
                if handoff is None:
                    continue
                where = f"{definition.name} v{definition.version} state {spec.name!r}"
                if handoff.process not in self._compiled:
                    problems.append(f"{where}: hands off to undeployed {handoff.process!r}")
                    continue
                finals = set(self.compiled(handoff.process).definition.final_states)
                problems += [f"{where}: {result!r} is not a final state of {handoff.process}"
                             for result in sorted(set(handoff.results) - finals)]
        return problems
