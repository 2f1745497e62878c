"""The workbench's words for process, step and event names: the bundled definitions' titles
and events in the catalogs, and a workspace's own translations (``server.titles``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vip_workflow.reporting.labels import column_labels

__all__ = ["BUNDLED_TITLES", "EVENTS", "LEDGER_ACTIONS", "Titles", "column_labels"]


def _(text: str) -> str:
    """Marks a text for the catalogs; translated when shown (``Titles``)."""
    return text


#: Titles of the bundled process definitions (processes, steps, and the labels of untitled
#: steps), in the catalogs so the Chinese workbench shows them in Chinese. The definitions
#: carry one title each; the engine is not asked to know languages.
BUNDLED_TITLES = (
    _("After-sales"), _("Satisfaction survey"), _("Analyse results"),
    _("Carry out and track improvements"), _("Customer development application"),
    _("Development application"), _("Application approval"), _("Development plan"),
    _("Carry out the plan"), _("Effect evaluation"), _("Personalised needs analysis"),
    _("Collect customer information"), _("Understand business needs"),
    _("Competitive assessment"), _("Key purchase factors"), _("Demand summary"),
    _("Network planning and construction"), _("Plan the network"), _("Budget approval"),
    _("Build"), _("New product development"), _("Product proposal"), _("Product review"),
    _("Develop and promote"), _("Retention case"), _("Assess the churn risk"),
    _("Retention offer approval"), _("Contact the customer"), _("Sales"),
    _("Sales communication plan"), _("Draft agreement"), _("Internal approval"),
    _("Contract signing"), _("Order entry"), _("CRM filing and management"),
    _("Hand over to service activation"), _("Segmentation"),
    _("Collect information and analyse"), _("Define and select target segments"),
    _("Pick key target customers"), _("Key-customer list approval"),
    _("Key-customer list in force"), _("Service activation"), _("Activate services"),
    _("Customer acceptance"), _("Solution design"), _("Customer solution"),
    _("Can a new solution be created?"), _("Can we provide it now?"),
    _("Decide internal support needed"), _("Shortlist solutions"), _("Analyse and choose"),
    _("Evaluate the solution"), _("Solution review"), _("Tier override"),
    _("Override request"), _("Override approval"), _("Tier override approval"),
    # steps without a title show their name
    _("Abandoned"), _("Active"), _("Agreed"), _("Applied"), _("Built"), _("Cancelled"),
    _("Churned"), _("Closed"), _("Declined"), _("Dropped"), _("Launched"), _("Lost"),
    _("No action"), _("Retained"), _("Retired"), _("Summarised"), _("Withdrawn"), _("Won"),
)

#: The bundled definitions' events (they have names only) as button and ledger labels.
EVENTS = {
    "abandon": _("Abandon"), "accept": _("Accept"), "activated": _("Services activated"),
    "analysed": _("Analysis done"), "assessed": _("Assessment done"),
    "build_network": _("Build the network"), "cancel": _("Cancel"),
    "cannot_provide_now": _("Cannot provide it now"), "chosen": _("Chosen"),
    "collected": _("Information collected"), "complete": _("Complete"),
    "confirm": _("Confirm"), "defect": _("Customer defects"),
    "develop_product": _("Develop a product"), "dismiss": _("Dismiss (no action)"),
    "drop": _("Drop"), "enter_order": _("Enter the order"), "evaluated": _("Evaluated"),
    "executed": _("Carried out"), "factors_ranked": _("Factors ranked"), "file": _("File"),
    "half_yearly_review": _("Half-yearly review"), "improved": _("Improved"),
    "improvements_needed": _("Improvements needed"), "launch": _("Launch"),
    "lose": _("Lose"), "lost": _("Customer lost"), "needs_understood": _("Needs understood"),
    "no_action": _("No action"), "no_solution": _("No solution"),
    "not_effective": _("Not effective"), "plan_ready": _("Plan ready"),
    "planned": _("Planned"), "propose_offer": _("Propose an offer"),
    "provide_now": _("Provide it now"), "retained": _("Customer retained"),
    "retire": _("Retire"), "rework_plan": _("Rework the plan"),
    "segments_selected": _("Segments selected"), "send_back": _("Send back"),
    "shortlisted": _("Shortlisted"), "sign": _("Sign"), "submit": _("Submit"),
    "support_decided": _("Support decided"), "surveyed": _("Surveyed"),
    "withdraw": _("Withdraw"),
}

#: What the engine writes in a ledger entry besides events.
LEDGER_ACTIONS = {
    "start": _("started"), "approve": _("approved"), "reject": _("rejected"),
    "claim": _("claimed"), "release": _("released"), "assign": _("assigned"),
    "reassign": _("reassigned"), "delegate": _("delegated"), "escalate": _("escalated"),
    "remind": _("reminded"), "recall": _("recalled"), "update": _("updated"),
    "overdue": _("overdue"), "migrate": _("moved to a new version"),
    "handoff": _("handed off"), "gate_opened": _("approval opened"),
    # the diagram's labels of approval edges
    "approved": _("approved"), "rejected": _("rejected"), "recalled": _("recalled"),
}


class Titles:
    """Process, step and event names in the reader's language: the workspace's own
    translations first (``server.titles``: text or name → language → text, for definitions
    whose titles are in one language only), then the catalogs, then the text as written."""

    def __init__(self, gettext: Any, lang: str, extra: Mapping[str, Mapping[Any, str]]) -> None:
        self._gettext = gettext
        self._lang = lang
        self._extra = extra

    def text(self, text: str) -> str:
        """A title as the reader reads it."""
        if not text:
            return text
        given = self._extra.get(text, {}).get(self._lang)
        return given if given else str(self._gettext(text))

    def process(self, definition: Any) -> str:
        return self.text(definition.title or definition.name)

    def state(self, definition: Any, name: str | None) -> str:
        if name is None:
            return ""
        spec = next((s for s in definition.states if s.name == name), None)
        if spec is None:
            return name
        return f"{spec.step} {self.text(spec.title)}" if spec.step and spec.title \
            else self.text(spec.title or spec.name.replace("_", " ").capitalize())

    def event(self, name: str) -> str:
        """An event's label (its name with spaces when nobody gave it one)."""
        given = self._extra.get(name, {}).get(self._lang)
        if given:
            return given
        if name in EVENTS:
            return str(self._gettext(EVENTS[name]))
        return name.replace("_", " ")

    def action(self, name: str) -> str:
        """A ledger entry's action: an engine action or an event."""
        if name in LEDGER_ACTIONS and name not in self._extra:
            return str(self._gettext(LEDGER_ACTIONS[name]))
        return self.event(name)
