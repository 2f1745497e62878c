"""Every public exception of vip_workflow, in one tree.

    VipWorkflowError
    ├── ConfigError (also ValueError)
    │   ├── RuleFileError             path, line, column, field, reason, limit
    │   ├── ProcessDefinitionError    path, line, column, field, reason, limit
    │   ├── UnknownPresetError        name, known
    │   ├── AdapterNotFoundError      name, group, hint
    │   ├── MissingExtraError         feature, module, extra (also ImportError)
    │   └── UnsupportedExpressionError  backend, node (also TypeError)
    ├── DataError (also ValueError)   source, reason: input data a run cannot use
    │   ├── CustomerIdError           source, column, rows, ids (empty or repeated ids)
    │   └── MissingColumnsError       source, columns, rule_file
    ├── EvaluationError               rule, customer, field, reason
    │   └── PortfolioRequiredError    a quota scheme judged one record at a time
    ├── ProcessError
    │   ├── TransitionNotAllowedError instance, state, event
    │   ├── ApprovalError             not an approver, separation of duties
    │   ├── PermissionDenied          actor, action
    │   ├── RequestIdConflictError    instance, request_id, actor, command
    │   ├── AlreadyClaimedError       instance, holder
    │   └── InvalidContextError       process, version, problems (also ValueError)
    ├── StorageError
    │   ├── NotFoundError
    │   ├── ConflictError             stale version, duplicate key
    │   │   └── ConcurrentUpdateError
    │   ├── StorageUnavailableError
    │   └── SchemaVersionError        url, found, expected
    └── NotificationError
        └── DeliveryError             retryable flag

Every class has a stable ``code`` (see ``docs/errors.md``); the data an error is about is kept
in attributes, not only in the message.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AdapterNotFoundError",
    "AlreadyClaimedError",
    "ApprovalError",
    "ConcurrentUpdateError",
    "ConfigError",
    "ConflictError",
    "CustomerIdError",
    "DataError",
    "DeliveryError",
    "EvaluationError",
    "InvalidContextError",
    "MissingColumnsError",
    "MissingExtraError",
    "NotFoundError",
    "NotificationError",
    "PermissionDenied",
    "PortfolioRequiredError",
    "ProcessDefinitionError",
    "ProcessError",
    "RequestIdConflictError",
    "RuleFileError",
    "SchemaVersionError",
    "StorageError",
    "StorageUnavailableError",
    "TransitionNotAllowedError",
    "UnknownPresetError",
    "UnsupportedExpressionError",
    "VipWorkflowError",
]


class VipWorkflowError(Exception):
    """Base of every error raised by vip_workflow."""

    code = "vip_workflow_error"


class ConfigError(VipWorkflowError, ValueError):
    """A configuration (rule file, process definition, adapter URL) is not usable."""

    code = "config_error"


class _LocatedFileError(ConfigError):
    """An error in a data file, located by file, line, column and field path."""

    def __init__(
        self,
        reason: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
        problems: tuple[_LocatedFileError, ...] = (),
        limit: str | None = None,
    ) -> None:
        self.reason = reason
        #: the cost limit the file broke ("bytes", "nodes", "depth", "number"), if any
        self.limit = limit
        self.path = path
        self.line = line
        self.column = column
        self.field = field
        #: every problem found, this one first (a file may have several)
        self.problems: tuple[_LocatedFileError, ...] = problems or (self,)
        super().__init__(self._render())

    @property
    def location(self) -> str:
        """``file:line:column`` as far as it is known."""
        where = self.path or "<rules>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def _render(self) -> str:
        """The one format of a located problem: ``file:line:column: field: reason``."""
        text = self.location
        if self.field:
            text += f": {self.field}"
        text = f"{text}: {self.reason}"
        if len(self.problems) > 1:
            text += f" (and {len(self.problems) - 1} more problem(s))"
        return text


class RuleFileError(_LocatedFileError):
    """A rule file cannot be read, parsed or validated; nothing of it was loaded."""

    code = "rule_file_error"


class ProcessDefinitionError(_LocatedFileError):
    """A process definition cannot be read, parsed or validated."""

    code = "process_definition_error"


class UnknownPresetError(ConfigError, LookupError):
    """No bundled preset has this name."""

    code = "unknown_preset"

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(f"no preset named {name!r}; known presets: {', '.join(known)}")


class AdapterNotFoundError(ConfigError, LookupError):
    """No adapter is registered under this name or URL scheme."""

    code = "adapter_not_found"

    def __init__(self, name: str, group: str, hint: str = "") -> None:
        self.name = name
        self.group = group
        self.hint = hint
        message = f"no {group} adapter named {name!r}"
        super().__init__(f"{message}; {hint}" if hint else message)


class MissingExtraError(ConfigError, ImportError):
    """A feature needs an optional dependency that is not installed."""

    code = "missing_extra"

    def __init__(self, feature: str, module: str, extra: str) -> None:
        self.feature = feature
        self.module = module
        self.extra = extra
        super().__init__(f"{feature} needs {module!r}, which is not installed; "
                         f"install it with: pip install 'vip_workflow[{extra}]'")


class UnsupportedExpressionError(ConfigError, TypeError):
    """A back end has no translation for a node of the portfolio query; it never falls back
    to another engine."""

    code = "unsupported_expression"

    def __init__(self, backend: str, node: str, hint: str = "") -> None:
        self.backend = backend
        self.node = node
        message = f"the {backend} back end cannot run {node}"
        super().__init__(f"{message}: {hint}" if hint else message)


class DataError(VipWorkflowError, ValueError):
    """Input data (a portfolio, a monthly history) cannot be used as a whole; a run that
    meets it fails before anything is written. ``source`` names the input."""

    code = "data_error"

    def __init__(self, reason: str, *, source: str = "data") -> None:
        self.reason = reason
        self.source = source
        super().__init__(f"{source}: {reason}")


class CustomerIdError(DataError):
    """Rows without a customer id, or repeating one that must be unique. ``rows`` are the
    0-based row positions in the input, ``ids`` the offending ids (None for an empty one),
    both capped at ``LIMIT`` (``count`` is the total)."""

    code = "customer_id_error"
    LIMIT = 20

    def __init__(self, reason: str, *, source: str, column: str, rows: list[int],
                 ids: list[Any], count: int | None = None) -> None:
        self.column = column
        self.rows = tuple(rows[:self.LIMIT])
        self.ids = tuple(ids[:self.LIMIT])
        self.count = len(rows) if count is None else count
        shown = ", ".join(str(r) for r in self.rows) if self.rows else f"{self.count:,}"
        more = f" and {self.count - len(self.rows)} more" if self.count > len(self.rows) else ""
        named = sorted({str(i) for i in self.ids if i is not None})
        which = f" (id(s) {', '.join(named)})" if named else ""
        super().__init__(f"{reason} in column {column!r}: row(s) {shown}{more}{which}",
                         source=source)


class MissingColumnsError(DataError):
    """The input lacks columns the rules read; ``rule_file`` names the rules needing them."""

    code = "missing_columns"

    def __init__(self, columns: list[str], *, source: str, rule_file: str) -> None:
        self.columns = tuple(columns)
        self.rule_file = rule_file
        super().__init__(f"no column(s) {', '.join(columns)}, which {rule_file} needs",
                         source=source)


class EvaluationError(VipWorkflowError):
    """A customer could not be judged (raised by ``judge(..., strict=True)``)."""

    code = "evaluation_error"

    def __init__(
        self,
        reason: str,
        *,
        rule: str | None = None,
        customer: Any = None,
        field: str | None = None,
    ) -> None:
        self.reason = reason
        self.rule = rule
        self.customer = customer
        self.field = field
        where = f"customer {customer!r}: " if customer is not None else ""
        super().__init__(f"{where}{reason}")


class PortfolioRequiredError(EvaluationError):
    """A population-relative scheme (quotas) needs the whole portfolio, not one record."""

    code = "portfolio_required"


class ProcessError(VipWorkflowError):
    """A process command cannot be carried out."""

    code = "process_error"


class TransitionNotAllowedError(ProcessError):
    """The event is not allowed in the instance's current state."""

    code = "transition_not_allowed"

    def __init__(self, instance: str, state: str, event: str, reason: str = "") -> None:
        self.instance = instance
        self.state = state
        self.event = event
        text = f"instance {instance}: {event!r} is not allowed in state {state!r}"
        super().__init__(f"{text}: {reason}" if reason else text)


class ApprovalError(ProcessError):
    """An approval command breaks the gate's rules (not an approver, separation of duties)."""

    code = "approval_error"


class PermissionDenied(ProcessError):
    """The actor lacks the role or right the command needs; nothing was changed."""

    code = "permission_denied"

    def __init__(self, actor: str, action: str, reason: str = "") -> None:
        self.actor = actor
        self.action = action
        text = f"{actor!r} may not {action}"
        super().__init__(f"{text}: {reason}" if reason else text)


class RequestIdConflictError(ProcessError):
    """A ``request_id`` already used on this instance came back with another actor, command
    or arguments: it is not a replay, and nothing was changed.

    ``actor`` and ``command`` are those of the new call; the message names the first use.
    Not a ``ConflictError``: retrying cannot help, and callers that treat a ``ConflictError``
    as "already done" must not swallow it.
    """

    code = "request_id_conflict"

    def __init__(self, instance: str, request_id: str, actor: str, command: str,
                 reason: str = "") -> None:
        self.instance = instance
        self.request_id = request_id
        self.actor = actor
        self.command = command
        text = (f"instance {instance}: request_id {request_id!r} was already used; {actor!r} "
                f"may not reuse it for {command}")
        super().__init__(f"{text}: {reason}" if reason else text)


class AlreadyClaimedError(ProcessError):
    """The work is held by another person (claimed, assigned or reassigned to them); nothing
    was changed. ``holder`` is who holds it."""

    code = "already_claimed"

    def __init__(self, instance: str, holder: str, actor: str) -> None:
        self.instance = instance
        self.holder = holder
        self.actor = actor
        super().__init__(f"instance {instance}: {actor!r} may not claim work {holder!r} "
                         "holds; they may release it, or a supervisor may reassign it")


class StorageError(VipWorkflowError):
    """A storage adapter failed."""

    code = "storage_error"


class NotFoundError(StorageError, KeyError):
    """No record with this key."""

    code = "not_found"

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ConflictError(StorageError):
    """A write conflicts with the stored data (stale version, duplicate key)."""

    code = "conflict"


class ConcurrentUpdateError(ConflictError):
    """The record changed since it was read: the expected version is stale."""

    code = "concurrent_update"


class StorageUnavailableError(StorageError):
    """The storage back end cannot be reached."""

    code = "storage_unavailable"


class NotificationError(VipWorkflowError):
    """A notifier failed."""

    code = "notification_error"


class DeliveryError(NotificationError):
    """A notice could not be delivered; ``retryable`` says whether trying again may help."""

    code = "delivery_error"

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        self.retryable = retryable
        super().__init__(message)


class InvalidContextError(ProcessError, ValueError):
    """An instance's context does not fit its definition's context schema; nothing changed.

    ``problems`` holds ``(field, message)`` pairs.
    """

    code = "invalid_context"

    def __init__(self, process: str, version: int, problems: list[tuple[str, str]]) -> None:
        self.process = process
        self.version = version
        self.problems = problems
        text = "; ".join(f"{field}: {message}" for field, message in problems)
        super().__init__(f"invalid context for {process} v{version}: {text}")


class SchemaVersionError(StorageError):
    """The database is not one this release can use: foreign, corrupt, or at another schema
    revision. Nothing was written; ``vip-workflow db upgrade URL`` brings an old one up to date.
    """

    code = "schema_version"

    def __init__(self, message: str, *, url: str = "", found: str | None = None,
                 expected: str | None = None) -> None:
        self.url = url
        self.found = found
        self.expected = expected
        super().__init__(message)
