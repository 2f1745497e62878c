"""Pydantic models of a trigger file (``kind: triggers``): declarative conditions over periods.

Every condition is a mapping with a ``type``:

========== ===================================================================================
threshold  the field's value this period ``op`` ``value``
consecutive ``periods`` strict month-over-month changes in ``direction`` ending this period
change     % change of the field from ``periods`` months back to this period ``op`` ``percent``
anomaly    score of this period's value against the customer's previous ``window`` months
days_until days from the period's first day to the date in ``field`` is in ``[0, within]``
sum        sum of the field over the last ``periods`` months (this one included) ``op`` ``value``
count      number of the last ``periods`` months where ``field`` ``where_op`` ``where_value``,
           then ``op`` ``value``
all / any  every / at least one of ``conditions``
========== ===================================================================================
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from vip_workflow.rules.files.header import FileHeader
from vip_workflow.rules.files.model import FileModel

__all__ = [
    "FAMILIES",
    "SEVERITIES",
    "AllOf",
    "Anomaly",
    "AnyOf",
    "Change",
    "Condition",
    "Consecutive",
    "Count",
    "DaysUntil",
    "Sum",
    "Threshold",
    "Trigger",
    "TriggerFile",
]

Op = Literal[">", ">=", "<", "<=", "==", "!="]
Family = Literal["develop", "maintain", "retain", "upgrade", "risk"]
Severity = Literal["low", "medium", "high", "critical"]
FAMILIES: tuple[str, ...] = ("develop", "maintain", "retain", "upgrade", "risk")
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
MAX_WINDOW = 60
_FIELD = r"^[A-Za-z_][A-Za-z0-9_]*$"


_Model = FileModel  # the one strict base of every file model


FieldName = Annotated[str, Field(pattern=_FIELD, description="A snapshot column.")]
Periods = Annotated[int, Field(ge=1, le=MAX_WINDOW, description="A number of months.")]


class Threshold(_Model):
    """The field's value this period compared with ``value``."""

    type: Literal["threshold"]
    field: FieldName
    op: Op
    value: float


class Consecutive(_Model):
    """``periods`` strict month-over-month decreases (or increases) ending this period."""

    type: Literal["consecutive"]
    field: FieldName
    direction: Literal["decline", "increase"]
    periods: Periods


class Change(_Model):
    """Percent change from ``periods`` months back: 100·(x_t − x_{t−n}) / |x_{t−n}| op percent.

    A zero or missing base gives no change (the condition does not fire).
    """

    type: Literal["change"]
    field: FieldName
    periods: Periods = 1
    op: Op
    percent: float


class Anomaly(_Model):
    """This period's value against the customer's own previous ``window`` months.

    ``zscore``: (x − mean) / sample std; ``robust``: (x − median) / (1.4826 · MAD). Needs at
    least ``min_periods`` known months in the window. A flat history (spread 0) gives an
    infinite score when the value moved, no score when it did not.
    """

    type: Literal["anomaly"]
    field: FieldName
    method: Literal["zscore", "robust"] = "zscore"
    window: Annotated[int, Field(ge=2, le=MAX_WINDOW)] = 12
    min_periods: Annotated[int, Field(ge=2, le=MAX_WINDOW)] = 6
    threshold: float = 3.0
    direction: Literal["both", "up", "down"] = "both"

    @model_validator(mode="after")
    def _min_within_window(self) -> Anomaly:
        if self.min_periods > self.window:
            raise ValueError(f"min_periods ({self.min_periods}) is larger than the window "
                             f"({self.window}): the condition could never fire")
        return self


class DaysUntil(_Model):
    """Days from the period's first day to the date in ``field`` lie in ``[0, within]``."""

    type: Literal["days_until"]
    field: FieldName = "agreement_end"
    within: Annotated[int, Field(ge=0, le=3660)]


class Sum(_Model):
    """Sum of the field over the last ``periods`` months, this one included (all must be known)."""

    type: Literal["sum"]
    field: FieldName
    periods: Periods
    op: Op
    value: float


class Count(_Model):
    """How many of the last ``periods`` months (this one included) have ``field where_op
    where_value``; unknown months do not count."""

    type: Literal["count"]
    field: FieldName
    periods: Periods
    where_op: Op = ">"
    where_value: float = 0
    op: Op = ">="
    value: float


class AllOf(_Model):
    """Every condition holds."""

    type: Literal["all"]
    conditions: list[Condition] = Field(min_length=1)


class AnyOf(_Model):
    """At least one condition holds."""

    type: Literal["any"]
    conditions: list[Condition] = Field(min_length=1)


Condition = Annotated[
    Threshold | Consecutive | Change | Anomaly | DaysUntil | Sum | Count | AllOf | AnyOf,
    Field(discriminator="type"),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()


class Trigger(_Model):
    """One trigger: an id, its family, severity, suggested action and condition."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]+$", max_length=80)]
    family: Family
    severity: Severity = "medium"
    title: str | None = None
    description: str | None = None
    action: str = Field(description="What the account manager should do.")
    emit: Literal["every", "onset"] = Field(
        default="every",
        description="every: a signal for each period the condition holds; onset: only for a "
        "period where it holds and did not hold the month before.")
    enabled: bool = True
    when: Condition


class TriggerFile(FileHeader):
    """A trigger rule file."""

    kind: Literal["triggers"] = Field(description="What the file holds.")
    name: str = Field(description="Name of the trigger book.")
    description: str | None = Field(default=None, description="What the trigger book is for.")
    source: str | None = None
    triggers: list[Trigger] = Field(min_length=1)
