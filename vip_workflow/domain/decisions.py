"""Tier decisions and the steps that explain them: plain immutable values, no I/O."""

from __future__ import annotations

import html
import math
from typing import Any, Literal, NamedTuple

from attrs import frozen

__all__ = ["Decision", "Override", "Step"]

Outcome = Literal["match", "miss", "missing", "wrong-type", "note"]


def show_value(value: Any) -> str:
    """A value as an explanation prints it: ``17500`` for 17500.0, ``'none'`` for a text,
    ``inf`` and ``nan`` for the non-finite floats."""
    if isinstance(value, float) and math.isfinite(value) and value == int(value) \
            and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, str):
        return repr(value)
    return str(value)


class Step(NamedTuple):
    """One step of a decision: a factor read, the band it fell in or missed, and the result.

    A named tuple (immutable, compared by value, ``step._asdict()`` for a dict): a judge
    makes several per customer, and a tuple is built several times faster than a frozen
    attrs class."""

    factor: str
    outcome: Outcome
    value: Any = None
    band: str | None = None
    tier: str | None = None
    points: float | None = None
    rule: str | None = None
    note: str | None = None

    def text(self) -> str:
        """The step in words, e.g. ``revenue 17500 in [7000, 18000) → B``."""
        if self.outcome == "note":
            return f"{self.factor}: {self.note}"
        if self.outcome == "missing":
            return f"{self.factor} is missing → cannot judge"
        if self.outcome == "wrong-type":
            return f"{self.factor} {show_value(self.value)}: {self.note} → cannot judge"
        if self.outcome == "miss":
            extra = f"; {self.note}" if self.note else ""
            return f"{self.factor} {show_value(self.value)} in no band{extra}"
        if self.tier is not None:
            result = self.tier
        elif self.points is not None:
            result = f"{show_value(self.points)} points"
        else:  # an eligibility condition: it gives no tier and no points, it holds
            result = "holds"
        extra = f" ({self.note})" if self.note else ""
        return f"{self.factor} {show_value(self.value)} in {self.band} → {result}{extra}"


@frozen
class Override:
    """A manual override: the tier given by hand, by whom and why."""

    tier: str
    by: str
    reason: str


@frozen
class Decision:
    """The tier a rule book gave a customer, and why.

    ``tier`` is ``None`` when the customer could not be judged; ``reason`` then says why (a
    missing field, a value of the wrong type, an invalid override). ``computed_tier`` is the tier
    the rules gave before a manual override; ``base_tier`` the tier before a sub-tier split.
    """

    tier: str | None
    rule: str | None
    trace: tuple[Step, ...]
    reason: str | None = None
    computed_tier: str | None = None
    base_tier: str | None = None
    override: Override | None = None
    score: float | None = None
    customer: Any = None
    book: str | None = None

    @property
    def ok(self) -> bool:
        """True when a tier was decided."""
        return self.tier is not None

    def explain(self) -> str:
        """The decision in readable text, one step a line."""
        head = f"customer {self.customer}: " if self.customer is not None else ""
        if self.tier is None:
            head += f"could not judge: {self.reason}"
        else:
            head += f"tier {self.tier} (rule {self.rule})"
        lines = [head, *("  " + step.text() for step in self.trace)]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain()

    def _repr_html_(self) -> str:
        title = html.escape(
            f"tier {self.tier}" if self.tier is not None else f"could not judge: {self.reason}"
        )
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape('' if v is None else str(v))}</td>"
                for v in (s.factor, s.value, s.band, s.tier or s.points, s.outcome, s.note)
            )
            + "</tr>"
            for s in self.trace
        )
        who = f" — {html.escape(str(self.customer))}" if self.customer is not None else ""
        return (
            f"<div><strong>{title}</strong>{who}"
            f"{' (rule ' + html.escape(self.rule) + ')' if self.rule else ''}"
            "<table><thead><tr><th>factor</th><th>value</th><th>band</th><th>result</th>"
            f"<th>outcome</th><th>note</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )
