"""vip_workflow: key-account management — tier rules, triggers, KPIs and approval processes.

The names below are the curated public surface. Each is imported on first use (PEP 562), so
``import vip_workflow`` loads no data-frame, database or state-machine library: a program that
only judges one customer never pays for polars, SQLAlchemy or transitions.

Adapters, back ends and sample data live in their own modules
(``vip_workflow.adapters.storage.sql``, ``vip_workflow.adapters.notify.webhook``,
``vip_workflow.samples``, …); the names that used to be re-exported here still work for one
release and warn with the module to import them from.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

from vip_workflow import _moved

__version__ = "0.1.0"

_moved.install()

#: Public name → the module that defines it.
_PUBLIC: dict[str, str] = {
    # rules: tier, trigger and KPI books
    "Decision": "vip_workflow.domain.decisions",
    "Finding": "vip_workflow.rules.files.findings",
    "KpiBook": "vip_workflow.rules.kpis.book",
    "KpiReport": "vip_workflow.rules.kpis.book",
    "LintReport": "vip_workflow.rules.files.findings",
    "RuleBook": "vip_workflow.rules.tiers.book",
    "RuleVersions": "vip_workflow.rules.versions",
    "Signal": "vip_workflow.rules.triggers",
    "TriggerBook": "vip_workflow.rules.triggers",
    "load_rules": "vip_workflow.rules.tiers.book",
    "loads_rules": "vip_workflow.rules.tiers.book",
    "preset": "vip_workflow.rules.tiers.book",
    "presets": "vip_workflow.rules.tiers.book",
    # work: signals into tasks and cases
    "Task": "vip_workflow.work.board",
    "TaskBoard": "vip_workflow.work.board",
    # processes
    "SYSTEM": "vip_workflow.domain.instances",
    "Actor": "vip_workflow.domain.instances",
    "LedgerEntry": "vip_workflow.domain.instances",
    "Notice": "vip_workflow.domain.instances",
    "ProcessDefinition": "vip_workflow.processes.definitions",
    "ProcessEngine": "vip_workflow.processes.engine",
    "ProcessInstance": "vip_workflow.domain.instances",
    "TickReport": "vip_workflow.processes.engine",
    "load_definition": "vip_workflow.processes.loader",
    # ports and composition
    "Clock": "vip_workflow.ports",
    "CycleStore": "vip_workflow.cycle.history",
    "InstanceStore": "vip_workflow.ports",
    "Notifier": "vip_workflow.ports",
    "bootstrap": "vip_workflow.bootstrap",
    "open_notifier": "vip_workflow.registry",
    "open_store": "vip_workflow.registry",
    "retry_on_conflict": "vip_workflow.outbox",
    # the monthly cycle
    "CycleResult": "vip_workflow.cycle.workspace",
    "Workspace": "vip_workflow.cycle.workspace",
    "WorkspaceConfig": "vip_workflow.cycle.workspace",
}

#: Every error class is public, from the one tree in ``vip_workflow.errors``.
_ERRORS = (
    "AdapterNotFoundError",
    "ApprovalError",
    "ConcurrentUpdateError",
    "ConfigError",
    "ConflictError",
    "DeliveryError",
    "EvaluationError",
    "InvalidContextError",
    "MissingExtraError",
    "NotFoundError",
    "NotificationError",
    "PermissionDenied",
    "PortfolioRequiredError",
    "ProcessDefinitionError",
    "ProcessError",
    "RuleFileError",
    "SchemaVersionError",
    "StorageError",
    "StorageUnavailableError",
    "TransitionNotAllowedError",
    "UnknownPresetError",
    "UnsupportedExpressionError",
    "VipWorkflowError",
    "DataError",
    "CustomerIdError",
    "MissingColumnsError",
    "RequestIdConflictError",
    "AlreadyClaimedError",
)
_PUBLIC.update(dict.fromkeys(_ERRORS, "vip_workflow.errors"))

#: Names re-exported here before 0.2, now imported from their module (warns for one release).
_MOVED: dict[str, tuple[str, str]] = {
    "AMQPNotifier": ("vip_workflow.adapters.notify.broker", "AMQPNotifier"),
    "ApproverResolver": ("vip_workflow.ports", "ApproverResolver"),
    "Backoff": ("vip_workflow.outbox", "Backoff"),
    "ChatNotifier": ("vip_workflow.adapters.notify.chat", "ChatNotifier"),
    "DispatchReport": ("vip_workflow.outbox", "DispatchReport"),
    "Dispatcher": ("vip_workflow.outbox", "Dispatcher"),
    "EmailNotifier": ("vip_workflow.adapters.notify.email", "EmailNotifier"),
    "FanoutNotifier": ("vip_workflow.outbox", "FanoutNotifier"),
    "IngestReport": ("vip_workflow.work.board", "IngestReport"),
    "LiveTriggerEngine": ("vip_workflow.rules.triggers", "LiveTriggerEngine"),
    "LogNotifier": ("vip_workflow.adapters.notify.log", "LogNotifier"),
    "MemoryCycleStore": ("vip_workflow.cycle.history", "MemoryCycleStore"),
    "MemoryInstanceStore": ("vip_workflow.adapters.storage.memory", "MemoryInstanceStore"),
    "MemoryNotifier": ("vip_workflow.adapters.notify.memory", "MemoryNotifier"),
    "MonthlySnapshot": ("vip_workflow.rules.triggers.snapshots", "MonthlySnapshot"),
    "NATSNotifier": ("vip_workflow.adapters.notify.broker", "NATSNotifier"),
    "OutboxItem": ("vip_workflow.outbox", "OutboxItem"),
    "OutboxStore": ("vip_workflow.outbox", "OutboxStore"),
    "Override": ("vip_workflow.domain.decisions", "Override"),
    "PostgresInstanceStore": ("vip_workflow.adapters.storage.sql", "PostgresInstanceStore"),
    "SNAPSHOT_COLUMNS": ("vip_workflow.rules.triggers.snapshots", "SNAPSHOT_COLUMNS"),
    "SQLCycleStore": ("vip_workflow.cycle.history", "SQLCycleStore"),
    "SQLInstanceStore": ("vip_workflow.adapters.storage.sql", "SQLInstanceStore"),
    "SQLiteInstanceStore": ("vip_workflow.adapters.storage.sql", "SQLiteInstanceStore"),
    "SignalDiff": ("vip_workflow.rules.versions", "SignalDiff"),
    "Step": ("vip_workflow.domain.decisions", "Step"),
    "TierDiff": ("vip_workflow.rules.versions", "TierDiff"),
    "WebhookNotifier": ("vip_workflow.adapters.notify.webhook", "WebhookNotifier"),
    "bundled_definitions": ("vip_workflow.processes.loader", "bundled_definitions"),
    "diff_signals": ("vip_workflow.rules.versions", "diff_signals"),
    "diff_tiers": ("vip_workflow.rules.versions", "diff_tiers"),
    "explain_signals": ("vip_workflow.rules.triggers", "explain_signals"),
    "fit_weights": ("vip_workflow.rules.tiers.fitting", "fit_weights"),
    "history_frame": ("vip_workflow.rules.triggers.snapshots", "history_frame"),
    "kpis_schema": ("vip_workflow.rules.kpis.book", "kpis_schema"),
    "load_definitions": ("vip_workflow.processes.loader", "load_definitions"),
    "load_sample_portfolio": ("vip_workflow.samples", "load_sample_portfolio"),
    "monthly_portfolios": ("vip_workflow.samples", "monthly_portfolios"),
    "process_map": ("vip_workflow.processes.graphs", "process_map"),
    "process_map_mermaid": ("vip_workflow.processes.graphs", "process_map_mermaid"),
    "register_notifier": ("vip_workflow.registry", "register_notifier"),
    "register_storage": ("vip_workflow.registry", "register_storage"),
    "rules_schema": ("vip_workflow.rules.tiers.book", "rules_schema"),
    "sample_history": ("vip_workflow.samples", "sample_history"),
    "sample_individuals": ("vip_workflow.samples", "sample_individuals"),
    "sample_kpi_portfolio": ("vip_workflow.samples", "sample_kpi_portfolio"),
    "sample_organisation": ("vip_workflow.samples", "sample_organisation"),
    "sample_portfolio": ("vip_workflow.samples", "sample_portfolio"),
    "triggers_schema": ("vip_workflow.rules.triggers", "triggers_schema"),
    "upgrade_schema": ("vip_workflow.adapters.storage.sql", "upgrade"),
}


def __getattr__(name: str) -> Any:
    """Import a public name on first use (and a moved one, with a DeprecationWarning)."""
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
    elif name in _MOVED:
        module, attribute = _MOVED[name]
        warnings.warn(f"vip_workflow.{name} moved: import {attribute} from {module}",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(module), attribute)
    else:
        raise AttributeError(f"module 'vip_workflow' has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])


if TYPE_CHECKING:  # what type checkers and IDEs see; nothing here runs
    from vip_workflow.bootstrap import bootstrap
    from vip_workflow.cycle.history import CycleStore
    from vip_workflow.cycle.workspace import CycleResult, Workspace, WorkspaceConfig
    from vip_workflow.domain.decisions import Decision
    from vip_workflow.domain.instances import (
        SYSTEM,
        Actor,
        LedgerEntry,
        Notice,
        ProcessInstance,
    )
    from vip_workflow.errors import (
        AdapterNotFoundError,
        AlreadyClaimedError,
        ApprovalError,
        ConcurrentUpdateError,
        ConfigError,
        ConflictError,
        CustomerIdError,
        DataError,
        DeliveryError,
        EvaluationError,
        InvalidContextError,
        MissingColumnsError,
        MissingExtraError,
        NotFoundError,
        NotificationError,
        PermissionDenied,
        PortfolioRequiredError,
        ProcessDefinitionError,
        ProcessError,
        RequestIdConflictError,
        RuleFileError,
        SchemaVersionError,
        StorageError,
        StorageUnavailableError,
        TransitionNotAllowedError,
        UnknownPresetError,
        UnsupportedExpressionError,
        VipWorkflowError,
    )
    from vip_workflow.outbox import retry_on_conflict
    from vip_workflow.ports import Clock, InstanceStore, Notifier
    from vip_workflow.processes.definitions import ProcessDefinition
    from vip_workflow.processes.engine import ProcessEngine, TickReport
    from vip_workflow.processes.loader import load_definition
    from vip_workflow.registry import open_notifier, open_store
    from vip_workflow.rules.kpis.book import KpiBook, KpiReport
    from vip_workflow.rules.tiers.book import RuleBook, load_rules, loads_rules, preset, presets
    from vip_workflow.rules.tiers.lint import Finding, LintReport
    from vip_workflow.rules.triggers import Signal, TriggerBook
    from vip_workflow.rules.versions import RuleVersions
    from vip_workflow.work.board import Task, TaskBoard

__all__ = [
    "SYSTEM",
    "Actor",
    "AdapterNotFoundError",
    "AlreadyClaimedError",
    "ApprovalError",
    "Clock",
    "ConcurrentUpdateError",
    "ConfigError",
    "ConflictError",
    "CustomerIdError",
    "CycleResult",
    "CycleStore",
    "DataError",
    "Decision",
    "DeliveryError",
    "EvaluationError",
    "Finding",
    "InstanceStore",
    "InvalidContextError",
    "KpiBook",
    "KpiReport",
    "LedgerEntry",
    "LintReport",
    "MissingColumnsError",
    "MissingExtraError",
    "NotFoundError",
    "Notice",
    "NotificationError",
    "Notifier",
    "PermissionDenied",
    "PortfolioRequiredError",
    "ProcessDefinition",
    "ProcessDefinitionError",
    "ProcessEngine",
    "ProcessError",
    "ProcessInstance",
    "RequestIdConflictError",
    "RuleBook",
    "RuleFileError",
    "RuleVersions",
    "SchemaVersionError",
    "Signal",
    "StorageError",
    "StorageUnavailableError",
    "Task",
    "TaskBoard",
    "TickReport",
    "TransitionNotAllowedError",
    "TriggerBook",
    "UnknownPresetError",
    "UnsupportedExpressionError",
    "VipWorkflowError",
    "Workspace",
    "WorkspaceConfig",
    "__version__",
    "bootstrap",
    "load_definition",
    "load_rules",
    "loads_rules",
    "open_notifier",
    "open_store",
    "preset",
    "presets",
    "retry_on_conflict",
]
