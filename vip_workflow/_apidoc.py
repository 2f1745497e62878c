"""Renders docs/api.md from the public API (``python -m vip_workflow._apidoc > docs/api.md``).

A test checks that docs/api.md is current, so the reference never drifts from ``__all__``.
"""

from __future__ import annotations

import inspect

import vip_workflow as vw

_GROUPS: list[tuple[str, tuple[str, ...]]] = [
    ("Tier rules", ("load_rules", "loads_rules", "preset", "presets", "rules_schema",
                    "fit_weights", "RuleBook", "Decision", "Step", "Override", "LintReport",
                    "Finding", "RuleVersions", "TierDiff", "diff_tiers", "SignalDiff",
                    "diff_signals")),
    ("Triggers, signals and KPIs", ("TriggerBook", "LiveTriggerEngine", "Signal",
                                    "explain_signals", "triggers_schema", "MonthlySnapshot",
                                    "SNAPSHOT_COLUMNS", "history_frame", "TaskBoard", "Task",
                                    "IngestReport", "KpiBook", "KpiReport", "kpis_schema")),
    ("The monthly cycle", ("Workspace", "WorkspaceConfig", "CycleResult", "CycleStore",
                           "MemoryCycleStore", "SQLCycleStore")),
    ("Storage, outbox and notifiers", ("SQLInstanceStore", "SQLiteInstanceStore",
                                       "PostgresInstanceStore", "upgrade_schema", "bootstrap",
                                       "open_store", "open_notifier", "register_storage",
                                       "register_notifier", "Dispatcher", "DispatchReport",
                                       "Backoff", "OutboxItem", "OutboxStore", "FanoutNotifier",
                                       "retry_on_conflict", "WebhookNotifier", "EmailNotifier",
                                       "AMQPNotifier", "NATSNotifier", "ChatNotifier")),
    ("Sample data", ("sample_portfolio", "sample_individuals", "load_sample_portfolio",
                     "sample_organisation", "monthly_portfolios", "sample_history",
                     "sample_kpi_portfolio")),
]


def _summary(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.split("\n\n")[0].replace("\n", " ").replace("|", "\\|")


def _signature(name: str, obj: object) -> str:
    if inspect.isclass(obj) or not callable(obj):
        return f"`{name}`"
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return f"`{name}`"
    parts: list[str] = []
    star = False
    for p in signature.parameters.values():
        if p.kind is p.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        text = p.name
        if p.annotation is not p.empty:
            text += f": {p.annotation}"
        if p.default is not p.empty:
            text += f" = {p.default!r}"
        parts.append(text)
    returns = signature.return_annotation
    arrow = f" -> {returns}" if returns is not signature.empty else ""
    return f"`{name}({', '.join(parts)}){arrow}`".replace("|", "\\|")


def render() -> str:
    """The Markdown of docs/api.md."""
    public = [n for n in vw.__all__ if n != "__version__"]
    errors = [n for n in public if inspect.isclass(getattr(vw, n))
              and issubclass(getattr(vw, n), BaseException)]
    grouped = {n for _, names in _GROUPS for n in names}
    groups = [*_GROUPS, ("Processes and ports",
                         tuple(n for n in public if n not in grouped and n not in errors)),
              ("Errors (see [errors](errors.md))", tuple(sorted(errors)))]
    lines = ["# Python API", "",
             "Everything below is exported from `vip_workflow` (`import vip_workflow as vw`).",
             "This page is generated from the code: `python -m vip_workflow._apidoc > "
             "docs/api.md`.", ""]
    for title, names in groups:
        lines += [f"## {title}", "", "| name | what it is |", "|---|---|"]
        lines += [f"| {_signature(n, getattr(vw, n))} | {_summary(getattr(vw, n))} |"
                  for n in names if n in public]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
