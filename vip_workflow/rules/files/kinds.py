"""Every kind of data file, by the name its header's ``kind`` gives.

One registry maps a kind to its file model (the JSON Schema), the function that turns a read
:class:`~vip_workflow.rules.files.document.Document` into its book or definition, and the
located error it raises. The modules are named, not imported: each is imported on first use.

:func:`schema_for` is the one JSON Schema entry point (``rules_schema()``,
``triggers_schema()``, ``kpis_schema()`` and ``ProcessDefinition.json_schema()`` wrap it);
:func:`check_file` reads and validates a file of any kind into a ``LintReport`` of findings.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

from vip_workflow.errors import ProcessDefinitionError, RuleFileError, _LocatedFileError
from vip_workflow.rules.files.document import Document, read_document
from vip_workflow.rules.files.findings import Finding, LintReport, findings_of

__all__ = ["KINDS", "Kind", "check_file", "kind_of", "load_document", "model_for",
           "schema_for"]

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class Kind:
    """One kind of data file: its model, its loader and its error (``module:name`` each)."""

    name: str
    model: str
    loader: str
    title: str
    #: a rule book (tiers, triggers, kpis: loaded by ``load_rules``), not a process
    is_book: bool = True

    @property
    def error(self) -> type[_LocatedFileError]:
        """The located error this kind's problems are raised as."""
        return RuleFileError if self.is_book else ProcessDefinitionError


def _object(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)


KINDS: dict[str, Kind] = {
    kind.name: kind for kind in (
        Kind("tiers", "vip_workflow.rules.tiers.schema:RuleFile",
             "vip_workflow.rules.tiers.book:tier_book_from", "vip_workflow tier rule file"),
        Kind("triggers", "vip_workflow.rules.triggers.schema:TriggerFile",
             "vip_workflow.rules.triggers:from_document", "vip_workflow trigger file"),
        Kind("kpis", "vip_workflow.rules.kpis.book:KpiFile",
             "vip_workflow.rules.kpis.book:from_document", "vip_workflow KPI file"),
        Kind("process", "vip_workflow.processes.definitions:ProcessDefinition",
             "vip_workflow.processes.loader:definition_from_document",
             "vip_workflow process definition", is_book=False),
        Kind("scenarios", "vip_workflow.rules.scenarios.model:ScenarioFile",
             "vip_workflow.rules.scenarios.model:from_document",
             "vip_workflow scenario file"),
    )
}


def _kind(name: str) -> Kind:
    if name not in KINDS:
        raise ValueError(f"no kind {name!r}: one of {', '.join(KINDS)}")
    return KINDS[name]


def model_for(kind: str) -> Any:
    """The pydantic model of a kind's files (``RuleFile``, ``TriggerFile`` …)."""
    return _object(_kind(kind).model)


def schema_for(kind: str) -> dict[str, Any]:
    """The JSON Schema of a kind's files (tiers, triggers, kpis, process or scenarios), for
    editors."""
    spec = _kind(kind)
    result: dict[str, Any] = _object(spec.model).model_json_schema(by_alias=True)
    result["$schema"] = _DIALECT
    result["title"] = spec.title
    return result


def kind_of(data: Any, *, default: str = "tiers") -> Any:
    """The ``kind`` a file's data declares (``default`` when it declares none)."""
    return data.get("kind", default) if isinstance(data, dict) else default


def load_document(document: Document, *, default: str = "tiers") -> Any:
    """The book or definition a read Document holds, by its ``kind``."""
    kind = kind_of(document.data, default=default)
    spec = KINDS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        raise document.error(
            f"unknown kind {kind!r}; a data file is one of: {', '.join(KINDS)}", ("kind",))
    return _object(spec.loader)(document)


def check_file(source: str | Path, *, text: str | None = None,
               default: str = "tiers") -> LintReport:
    """Read and validate a data file of any kind: its problems and deprecations as findings.

    ``default`` is the kind of a file that names none (tier rule files may leave it out);
    ``lint()`` of the loaded book adds the findings of its kind's lint.
    """
    missing_kind_finding = _object("vip_workflow.processes.loader:missing_kind_finding")

    path = str(source)
    findings: list[Finding] = []
    try:
        document = read_document(path, text=text)
        kind = kind_of(document.data, default=default)
        if kind == "process":
            document = read_document(path, text=text, error_class=ProcessDefinitionError,
                                     at_keys=True)
            missing = missing_kind_finding(document)
            findings += [missing] if missing is not None else []
        loaded = load_document(document, default=default)
    except _LocatedFileError as error:
        return LintReport([*findings, *findings_of(error)], path=path)
    lint = getattr(loaded, "lint", None)
    if callable(lint):
        findings += list(lint())
    return LintReport(findings, path=path)
