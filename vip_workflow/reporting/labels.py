"""Column headings of the dashboard's and customer page's tables, in the reader's language."""

from __future__ import annotations

from typing import Any

__all__ = ["column_labels", "value_labels"]


def column_labels(_: Any, value_field: str) -> dict[str, str]:
    """Column name -> its heading (a column not listed shows its own name)."""
    labels = {
        "tier": _("Tier"), "customers": _("Customers"), "share": _("Share"),
        "reference": _("Reference"), "customer": _("Customer"), "name": _("Name"),
        "account_manager": _("Account manager"), "previous_tier": _("Previous tier"),
        "direction": _("Direction"), "family": _("Family"), "severity": _("Severity"),
        "signals": _("Signals"), "assignee": _("Assigned to"), "open": _("open"),
        "closed": _("closed"), "tasks": _("Tasks"), "kpi": _("KPI"), "title": _("Title"),
        "by": _("By"), "segment": _("Segment"), "value": _("Value"), "target": _("Target"),
        "comparison": _("Comparison"), "status": _("Status"), "gap": _("Gap"),
        "unit": _("Unit"), "period": _("Period"), "rule": _("Rule"),
        "computed_tier": _("Computed tier"), "book_version": _("Rule version"),
        "trigger": _("Trigger"), "action": _("Action"), "case_id": _("Case"),
        "revenue": _("Revenue"), "old_tier": _("Tier before"), "new_tier": _("Tier after"),
        "old_rule": _("Rule before"), "new_rule": _("Rule after"),
        "top": _("Largest customers"),
        "value_share": _("Share of the total"), "evidence": _("Evidence"),
    }
    labels.setdefault(value_field, value_field)
    return labels


def value_labels(_: Any) -> dict[str, dict[str, str]]:
    """Column -> {value -> its words}: a tier change's direction and a signal's severity as
    the reader says them (the files keep the values themselves)."""
    return {
        "direction": {"up": _("up"), "down": _("down"), "new": _("new"), "left": _("left"),
                      "changed": _("changed")},
        "severity": {"critical": _("critical"), "high": _("high"), "medium": _("medium"),
                     "low": _("low")},
    }
