"""Live path: monthly events posted one by one, conditions decided by durable_rules.

durable_rules cannot express windows over periods, so the engine keeps each customer's recent
months in Python, computes every leaf's *fact* for the posted month (the same arithmetic as the
batch path), and posts one event per trigger — ``{"t": <trigger index>, "f0": …, "f1": …}`` — to
a durable_rules ruleset compiled from the same trigger definitions (``m.t == 3 and m.f0 < -20``).
Unknown facts are left out of the event; durable_rules then does not match them, just as an
unknown value never fires in the batch path. The rule actions collect the triggers that fired.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from vip_workflow.errors import CustomerIdError, EvaluationError
from vip_workflow.rules.triggers._durable import DurableRuleset
from vip_workflow.rules.triggers.plan import TriggerPlan, unique_items
from vip_workflow.rules.triggers.signal import Signal
from vip_workflow.rules.triggers.snapshots import MonthlySnapshot, month_of

__all__ = ["LiveTriggerEngine"]

_BIG = sys.float_info.max


def _month_index(period: date) -> int:
    return period.year * 12 + period.month - 1


def _json_number(value: float) -> float:
    if value == float("inf"):
        return _BIG
    if value == float("-inf"):
        return -_BIG
    return value


class LiveTriggerEngine:
    """Evaluates triggers as monthly snapshots arrive, one customer-month at a time.

    Post each customer's months in increasing order (gaps are allowed and count as unknown
    months). ``post`` returns the signals of that customer-month — the same signals
    ``TriggerBook.scan`` gives for that row of the whole history. Close the engine (or use it
    as a context manager) to free its durable_rules ruleset; a fresh engine never clashes with
    an older one, so re-running a notebook cell is safe.
    """

    def __init__(self, plans: Sequence[TriggerPlan], *, name: str = "triggers") -> None:
        self.plans = tuple(plans)
        self._by_index = {plan.index: plan for plan in self.plans}
        self.lookback = max((plan.lookback for plan in self.plans), default=0)
        self._leaves = [(plan, [(leaf, leaf.lookback) for leaf in plan.leaves])
                        for plan in self.plans]
        self._fields = tuple(dict.fromkeys(f for plan in self.plans for f in plan.fields))
        self._months: dict[Any, dict[int, Mapping[str, Any]]] = {}
        self._last: dict[Any, int] = {}
        self._held: dict[tuple[Any, int], int] = {}
        self._fired: list[int] = []
        self.posted = 0
        prefix = "vw_" + re.sub(r"[^A-Za-z0-9_]", "_", name)[:40]
        rules = {f"t{plan.index}": (plan.durable(), self._on_fire) for plan in self.plans}
        self._ruleset = DurableRuleset(prefix, rules)

    @property
    def ruleset_name(self) -> str:
        return self._ruleset.name

    @property
    def closed(self) -> bool:
        return self._ruleset.closed

    def _on_fire(self, event: dict[str, Any]) -> None:
        self._fired.append(int(event["t"]))

    def post(self, snapshot: MonthlySnapshot | Mapping[str, Any]) -> list[Signal]:
        """Take one customer-month; return the signals it raises (trigger order)."""
        record = snapshot.model_dump() if isinstance(snapshot, MonthlySnapshot) else snapshot
        try:
            customer = record["customer_id"]
            period = month_of(record["period"])
        except (KeyError, ValueError) as exc:
            raise EvaluationError(f"a monthly event needs customer_id and period: {exc}",
                                  customer=record.get("customer_id")) from None
        if customer is None or (isinstance(customer, str) and not customer.strip()):
            raise CustomerIdError("empty customer id", source="live event",
                                  column="customer_id", rows=[self.posted], ids=[customer])
        now = _month_index(period)
        last = self._last.get(customer)
        if last is not None and now <= last:
            raise EvaluationError(
                f"months must be posted in increasing order per customer; {period:%Y-%m} "
                "comes after a later or equal month", customer=customer, field="period")
        months = self._months.setdefault(customer, {})
        months[now] = {field: (_value(record, field) if field == "agreement_end"
                               else _number(record, field)) for field in self._fields}
        for old in [m for m in months if m < now - self.lookback]:
            del months[old]
        self._last[customer] = now
        self.posted += 1

        window = self.lookback
        recent = [months.get(now - k) for k in range(window, -1, -1)]  # oldest first
        values = {field: [r[field] if r is not None else None for r in recent]
                  for field in self._fields}
        events = []
        evidence: dict[int, list[tuple[str, float | None]]] = {}
        for plan, leaves in self._leaves:
            facts: dict[str, float] = {}
            items: list[tuple[str, float | None]] = []
            for leaf, lookback in leaves:
                fact, shown = leaf.fact_py(values[leaf.field][window - lookback:], period,
                                           numeric=True)
                items += shown
                if fact is not None:
                    facts[leaf.key] = _json_number(fact)
            evidence[plan.index] = items
            if facts:
                events.append({"t": plan.index, **facts})
        self._fired.clear()
        self._ruleset.post(events)
        signals = []
        for index in sorted(set(self._fired)):
            plan = self._by_index[index]
            before = self._held.get((customer, index))
            self._held[(customer, index)] = now
            if plan.trigger.emit == "onset" and before == now - 1:
                continue
            t = plan.trigger
            signals.append(Signal(customer, period, t.id, t.family, t.severity, t.action,
                                  tuple(unique_items(evidence[index]))))
        return signals

    def post_many(self, snapshots: Iterable[MonthlySnapshot | Mapping[str, Any]]) -> list[Signal]:
        """Post several events in order; all their signals."""
        found: list[Signal] = []
        for snapshot in snapshots:
            found += self.post(snapshot)
        return found

    def forget(self, customer: Any) -> None:
        """Drop what the engine remembers of a customer."""
        self._months.pop(customer, None)
        self._last.pop(customer, None)
        for key in [k for k in self._held if k[0] == customer]:
            del self._held[key]

    def close(self) -> None:
        """Free the durable_rules ruleset (idempotent)."""
        self._ruleset.close()

    def __enter__(self) -> LiveTriggerEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{len(self._months)} customers"
        return f"<LiveTriggerEngine {self.ruleset_name}: {len(self.plans)} triggers, {state}>"


def _number(record: Mapping[str, Any] | None, field: str) -> float | None:
    """A numeric field as float; None when unknown (missing, null or NaN)."""
    if record is None:
        return None
    value = record.get(field)
    if value is None or isinstance(value, date):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise EvaluationError(f"{field} must be a number, not {value!r}",
                              customer=record.get("customer_id"), field=field) from None
    return None if number != number else number


def _value(record: Mapping[str, Any] | None, field: str) -> Any:
    if record is None:
        return None
    value = record.get(field)
    if isinstance(value, datetime):  # also pandas Timestamps
        return value.date()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return value if isinstance(value, date) else None
