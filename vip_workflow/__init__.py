"""vip_workflow: key-account management — tier rules, triggers, KPIs and approval processes."""

# --- rules (owned by the rules core) ---
from vip_workflow.cycle.history import CycleStore, MemoryCycleStore, SQLCycleStore
from vip_workflow.cycle.sample import monthly_portfolios
from vip_workflow.cycle.workspace import CycleResult, Workspace, WorkspaceConfig
from vip_workflow.domain.decisions import Decision, Override, Step
from vip_workflow.errors import (
    AdapterNotFoundError,
    ApprovalError,
    ConcurrentUpdateError,
    ConfigError,
    ConflictError,
    DeliveryError,
    EvaluationError,
    NotFoundError,
    NotificationError,
    PermissionDenied,
    PortfolioRequiredError,
    ProcessDefinitionError,
    ProcessError,
    RuleFileError,
    SchemaVersionError,
    StorageError,
    StorageUnavailableError,
    TransitionNotAllowedError,
    UnknownPresetError,
    VipWorkflowError,
)
from vip_workflow.rules.book import (
    RuleBook,
    load_rules,
    loads_rules,
    preset,
    presets,
    rules_schema,
)
from vip_workflow.rules.fitting import fit_weights
from vip_workflow.rules.kpi import KpiBook, KpiReport, kpis_schema
from vip_workflow.rules.lint import Finding, LintReport
from vip_workflow.rules.signals import IngestReport, Task, TaskBoard
from vip_workflow.rules.snapshots import SNAPSHOT_COLUMNS, MonthlySnapshot, history_frame
from vip_workflow.rules.triggers import (
    LiveTriggerEngine,
    Signal,
    TriggerBook,
    explain_signals,
    triggers_schema,
)
from vip_workflow.rules.versions import (
    RuleVersions,
    SignalDiff,
    TierDiff,
    diff_signals,
    diff_tiers,
)
from vip_workflow.sample_history import sample_history, sample_kpi_portfolio

# --- end rules ---

# --- processes (owned by the process engine) ---
# isort: split
from vip_workflow.adapters.notify.log import LogNotifier
from vip_workflow.adapters.notify.memory import MemoryNotifier
from vip_workflow.adapters.storage.memory import MemoryInstanceStore
from vip_workflow.errors import InvalidContextError
from vip_workflow.ports import ApproverResolver, Clock, InstanceStore, Notifier
from vip_workflow.processes import (
    SYSTEM,
    Actor,
    LedgerEntry,
    Notice,
    ProcessDefinition,
    ProcessEngine,
    ProcessInstance,
    TickReport,
    bundled_definitions,
    load_definition,
    load_definitions,
    process_map,
    process_map_mermaid,
)

# --- end processes ---

# --- sample data ---
# isort: split
from vip_workflow.sample import (
    load_sample_portfolio,
    sample_individuals,
    sample_organisation,
    sample_portfolio,
)

# --- end sample data ---

# --- adapters ---
# isort: split
from vip_workflow.adapters.notify.broker import AMQPNotifier, NATSNotifier
from vip_workflow.adapters.notify.chat import ChatNotifier
from vip_workflow.adapters.notify.email import EmailNotifier
from vip_workflow.adapters.notify.webhook import WebhookNotifier
from vip_workflow.adapters.storage.sql import (
    PostgresInstanceStore,
    SQLInstanceStore,
    SQLiteInstanceStore,
)
from vip_workflow.adapters.storage.sql import upgrade as upgrade_schema
from vip_workflow.bootstrap import bootstrap
from vip_workflow.outbox import (
    Backoff,
    Dispatcher,
    DispatchReport,
    FanoutNotifier,
    OutboxItem,
    OutboxStore,
    retry_on_conflict,
)
from vip_workflow.registry import open_notifier, open_store, register_notifier, register_storage

# --- end adapters ---

__version__ = "0.1.0"

__all__ = [
    "SNAPSHOT_COLUMNS",
    "AMQPNotifier",
    "AdapterNotFoundError",
    "ApprovalError",
    "Backoff",
    "ChatNotifier",
    "ConcurrentUpdateError",
    "ConfigError",
    "ConflictError",
    "CycleResult",
    "CycleStore",
    "Decision",
    "DeliveryError",
    "DispatchReport",
    "Dispatcher",
    "EmailNotifier",
    "EvaluationError",
    "FanoutNotifier",
    "Finding",
    "IngestReport",
    "KpiBook",
    "KpiReport",
    "LintReport",
    "LiveTriggerEngine",
    "MemoryCycleStore",
    "MonthlySnapshot",
    "NATSNotifier",
    "NotFoundError",
    "NotificationError",
    "OutboxItem",
    "OutboxStore",
    "Override",
    "PermissionDenied",
    "PortfolioRequiredError",
    "PostgresInstanceStore",
    "ProcessDefinitionError",
    "ProcessError",
    "RuleBook",
    "RuleFileError",
    "RuleVersions",
    "SQLCycleStore",
    "SQLInstanceStore",
    "SQLiteInstanceStore",
    "SchemaVersionError",
    "Signal",
    "SignalDiff",
    "Step",
    "StorageError",
    "StorageUnavailableError",
    "Task",
    "TaskBoard",
    "TierDiff",
    "TransitionNotAllowedError",
    "TriggerBook",
    "UnknownPresetError",
    "VipWorkflowError",
    "WebhookNotifier",
    "Workspace",
    "WorkspaceConfig",
    "__version__",
    "bootstrap",
    "diff_signals",
    "diff_tiers",
    "explain_signals",
    "fit_weights",
    "history_frame",
    "kpis_schema",
    "load_rules",
    "loads_rules",
    "monthly_portfolios",
    "open_notifier",
    "open_store",
    "preset",
    "presets",
    "register_notifier",
    "register_storage",
    "retry_on_conflict",
    "rules_schema",
    "sample_history",
    "sample_kpi_portfolio",
    "triggers_schema",
    "upgrade_schema",
]
# --- processes __all__ (the process engine appends its names here) ---
__all__ += [
    "SYSTEM",
    "Actor",
    "ApproverResolver",
    "Clock",
    "InstanceStore",
    "InvalidContextError",
    "LedgerEntry",
    "LogNotifier",
    "MemoryInstanceStore",
    "MemoryNotifier",
    "Notice",
    "Notifier",
    "ProcessDefinition",
    "ProcessEngine",
    "ProcessInstance",
    "TickReport",
    "bundled_definitions",
    "load_definition",
    "load_definitions",
    "process_map",
    "process_map_mermaid",
]
# --- sample data __all__ ---
__all__ += ["load_sample_portfolio", "sample_individuals", "sample_organisation",
            "sample_portfolio"]

