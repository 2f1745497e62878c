"""Pydantic models of a tier rule file: what an analyst may write, and nothing else.

The models only describe and validate the file's shape; ``compile.py`` turns a validated file
into the normalised, immutable form that the evaluators run. Every model forbids unknown keys so
that a misspelt key is an error, not a silently ignored line.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from vip_workflow.rules.files.header import FileHeader
from vip_workflow.rules.files.model import FileModel

Closed = Literal["left", "right", "both", "neither"]
Scalar = str | bool | int | float
# Points, weights, intercepts, map values and shares are finite: NaN and ±inf are refused with
# a located error. Bounds (min/max) may be ±inf (no bound, as in a range) but never NaN.
# true/false are not numbers: YAML's `min: true` must not be read as 1.


def _not_a_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("a number is needed, not a truth value")
    return value


Number = Annotated[float, BeforeValidator(_not_a_bool)]
Finite = Annotated[float, BeforeValidator(_not_a_bool), Field(allow_inf_nan=False)]

_NUMBER = r"[-+]?(?:inf|infinity|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
_RANGE = re.compile(rf"^\s*([\[(])\s*({_NUMBER})\s*,\s*({_NUMBER})\s*([\])])\s*$", re.IGNORECASE)


def parse_range(text: str) -> tuple[float, float, bool, bool]:
    """Parse ``"[7000, 18000)"`` into (low, high, low_inclusive, high_inclusive)."""
    found = _RANGE.match(text)
    if not found:
        raise ValueError(
            f"{text!r} is not a range; write it like \"[7000, 18000)\": '[' or ']' includes the "
            "bound, '(' or ')' excludes it, and inf stands for no bound"
        )
    opening, low, high, closing = found.groups()
    return float(low), float(high), opening == "[", closing == "]"


class Match(FileModel):
    """How a value is matched: a list of values (``in``) or a numeric interval."""

    in_: list[Scalar] | None = Field(
        default=None,
        alias="in",
        description="Values that match, e.g. [provincial_gov, municipal_gov] or [true].",
    )
    range: str | None = Field(
        default=None,
        description='Numeric interval in bracket notation, e.g. "[7000, 18000)" or "[60000, inf)".',
    )
    min: Number | None = Field(default=None, description="Lower bound (see `closed`).")
    max: Number | None = Field(default=None, description="Upper bound (see `closed`).")
    closed: Closed | None = Field(
        default=None,
        description="Which bounds of min/max are included: left = [min, max), right = (min, "
        "max], both = [min, max], neither = (min, max). Defaults to the factor's, then the "
        "file's setting.",
    )

    @field_validator("min", "max")
    @classmethod
    def _bound_is_a_number(cls, value: float | None) -> float | None:
        if value is not None and math.isnan(value):
            raise ValueError("a bound is not a number (NaN); leave it out for no bound")
        return value

    @field_validator("range")
    @classmethod
    def _range_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_range(value)
        return value

    @field_validator("in_")
    @classmethod
    def _values_of_one_kind(cls, value: list[Scalar] | None) -> list[Scalar] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("the list of values is empty")
        if any(isinstance(v, float) and not math.isfinite(v) for v in value):
            raise ValueError("the values must be finite numbers, not NaN or ±inf")
        kinds = {_kind_of(v) for v in value}
        if len(kinds) > 1:
            raise ValueError(f"mixes kinds of values ({', '.join(sorted(kinds))}); use one kind")
        return value

    @model_validator(mode="after")
    def _one_way_to_match(self) -> Match:
        ways = [
            name
            for name, used in (
                ("in", self.in_ is not None),
                ("range", self.range is not None),
                ("min/max", self.min is not None or self.max is not None),
            )
            if used
        ]
        if not ways:
            raise ValueError("say which values match: give in, range, or min and/or max")
        if len(ways) > 1:
            raise ValueError(f"give only one of in, range, min/max (found {' and '.join(ways)})")
        if self.closed is not None and ways != ["min/max"]:
            raise ValueError("closed applies to min/max only; a range states its own brackets")
        return self


def _kind_of(value: Scalar) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "text"


class Band(Match):
    """A band of a chain factor or of a sub-tier split: values that match give ``tier``."""

    id: str | None = Field(default=None, description="Rule id reported when this band decides.")
    tier: str = Field(description="Tier given to values in this band.")
    note: str | None = Field(default=None, description="Free text for readers.")


class PointBand(Match):
    """A band of a scoring factor: values that match are worth ``points``."""

    id: str | None = None
    points: Finite = Field(description="Points a value in this band is worth.")
    note: str | None = None


class TierBand(Match):
    """A band on a total score: totals that match give ``tier``."""

    id: str | None = None
    tier: str
    note: str | None = None


class _Factor(FileModel):
    id: str | None = Field(default=None, description="Name of the factor; defaults to field.")
    field: str = Field(description="Name of the input field the factor reads.")
    label: str | None = Field(default=None, description="Readable name used in explanations.")
    closed: Closed | None = Field(default=None, description="Default `closed` for min/max bands.")
    values: list[Scalar] | None = Field(
        default=None,
        description="The field's known values (categorical fields); lint reports values no band "
        "covers and band values that are not known.",
    )
    unknown: Literal["pass", "reject"] | None = Field(
        default=None,
        description="What a value outside `values` does: pass (the default) — it is like any "
        "value no band covers; reject — the record cannot be judged (a typo such as "
        "'provincal_gov' is caught, not silently placed). reject needs `values`.",
    )

    @model_validator(mode="after")
    def _reject_needs_values(self) -> _Factor:
        if self.unknown == "reject" and not self.values:
            raise ValueError("unknown: reject needs the factor's `values` (the allowed values)")
        return self


class ChainFactor(_Factor):
    """A factor of a chain: the first band that matches gives the factor's tier."""

    bands: list[Band] = Field(min_length=1)


class ScoreFactor(_Factor):
    """A factor of a scoring model: the first band that matches gives its points."""

    bands: list[PointBand] = Field(min_length=1)
    otherwise: Finite | None = Field(
        default=None,
        description="Points for a value no band covers. Unset means 0 points, and lint warns "
        "about the gap.",
    )


class Term(FileModel):
    """A term ``weight × value`` of a weighted model; ``map`` turns categories into numbers."""

    field: str
    weight: Finite = 1.0
    map: dict[str, Finite] | None = Field(
        default=None, description="Numbers for the values of a categorical field."
    )
    otherwise: Finite | None = Field(
        default=None,
        description="Number for a category missing from `map`; unset means such a record "
        "cannot be judged.",
    )
    label: str | None = None


class ChainScheme(FileModel):
    """Factor chain (DOMAIN §3.1): factors in order, each with bands mapped to tiers."""

    type: Literal["chain"]
    policy: Literal["first", "highest"] = Field(
        default="first",
        description="first: the first factor with a matching band decides; highest: the highest "
        "tier any factor reaches (stopping early at the top tier).",
    )
    default: str = Field(description="Tier when no factor matches.")
    factors: list[ChainFactor] = Field(min_length=1)


class ScoringScheme(FileModel):
    """Interval scoring: each factor's band is worth points; the total picks the tier."""

    type: Literal["scoring"]
    factors: list[ScoreFactor] = Field(min_length=1)
    tiers: list[TierBand] = Field(min_length=1, description="Bands on the total score.")
    default: str = Field(description="Tier when the total falls in no band.")


class WeightedScheme(FileModel):
    """Weighted model: y = intercept + Σ weight × value; y picks the tier."""

    type: Literal["weighted"]
    intercept: Finite = 0.0
    terms: list[Term] = Field(min_length=1)
    tiers: list[TierBand] = Field(min_length=1, description="Bands on y.")
    default: str


class ScoreSpec(FileModel):
    """A score to rank by: interval scoring or a weighted sum, without tier bands."""

    type: Literal["scoring", "weighted"]
    factors: list[ScoreFactor] | None = None
    intercept: Finite = 0.0
    terms: list[Term] | None = None

    @model_validator(mode="after")
    def _parts_match_type(self) -> ScoreSpec:
        if self.type == "scoring" and not self.factors:
            raise ValueError("a scoring score needs factors")
        if self.type == "weighted" and not self.terms:
            raise ValueError("a weighted score needs terms")
        return self


class Quota(FileModel):
    tier: str
    share: Finite | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Share of the portfolio, e.g. 0.05; leave it out on the last quota to take "
        "the rest.",
    )


class QuotaScheme(FileModel):
    """Population-relative tiers (ABC): rank the portfolio and cut it by shares."""

    type: Literal["quota"]
    by: str | None = Field(default=None, description="Field to rank by.")
    score: ScoreSpec | None = Field(default=None, description="Score to rank by, instead of by.")
    order: Literal["descending", "ascending"] = "descending"
    quotas: list[Quota] = Field(min_length=1)
    ties: Literal["share-better-tier"] = Field(
        default="share-better-tier",
        description="Customers with equal values always share a tier: the better one, so a tier "
        "may hold more than its share when a tie straddles a cut.",
    )

    @model_validator(mode="after")
    def _one_ranking(self) -> QuotaScheme:
        if (self.by is None) == (self.score is None):
            raise ValueError("give exactly one of `by` (a field) or `score`")
        return self


class Condition(Match):
    """A condition of an eligibility rule, optionally on an aggregate of recent months."""

    field: str
    aggregate: Literal["mean", "sum", "min", "max", "last"] | None = Field(
        default=None, description="Aggregate of a list field (monthly values, latest last)."
    )
    window: int | None = Field(default=None, ge=1, le=36, description="Months to aggregate.")
    label: str | None = None

    @model_validator(mode="after")
    def _window_with_aggregate(self) -> Condition:
        if (self.aggregate is None) != (self.window is None):
            raise ValueError("aggregate and window go together")
        return self


class EligibilityScheme(FileModel):
    """Eligibility: all conditions hold → ``tier``; otherwise ``default``."""

    type: Literal["eligibility"]
    conditions: list[Condition] = Field(min_length=1)
    tier: str
    rule: str | None = Field(default=None, description="Rule id when eligible.")
    default: str


class SubtierSplit(FileModel):
    """Splits one tier into sub-tiers by a second criterion (e.g. A → A1 / A2)."""

    field: str
    label: str | None = None
    closed: Closed | None = None
    bands: list[Band] = Field(min_length=1)
    default: str = Field(description="Sub-tier when no band matches.")


class OverrideFields(FileModel):
    """Names of the fields that carry a manual override."""

    tier: str = "override_tier"
    by: str = "override_by"
    reason: str = "override_reason"


Scheme = Annotated[
    ChainScheme | ScoringScheme | WeightedScheme | QuotaScheme | EligibilityScheme,
    Field(discriminator="type"),
]


class RuleFile(FileHeader):
    """A tier rule file."""

    kind: Literal["tiers"] = Field(default="tiers", description="What the file holds.")
    name: str = Field(description="Name of the rule book, e.g. hubei-2006.")
    description: str | None = Field(default=None, description="What the rule book is for.")
    source: str | None = Field(default=None, description="Where the rules come from.")
    tiers: list[str] = Field(
        min_length=1, description="Every tier the file uses, highest first, e.g. [A+, A, B, C]."
    )
    closed: Closed = Field(
        default="left",
        description="Default for min/max bands: left = lower bound included, upper excluded.",
    )
    id_field: str | None = Field(default=None, description="Field that identifies a customer.")
    override: OverrideFields | Literal[False] = Field(
        default_factory=OverrideFields,
        description="Fields of a manual override, or false to ignore overrides.",
    )
    scheme: Scheme = Field(description="How the tier is computed; `type` picks the scheme.")
    subtiers: dict[str, SubtierSplit] | None = Field(
        default=None, description="Sub-tier splits, keyed by the tier they split."
    )

    @field_validator("tiers")
    @classmethod
    def _tiers_unique(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for tier in value:
            if tier in seen:
                raise ValueError(f"tier {tier!r} is listed twice")
            seen.add(tier)
        return value
