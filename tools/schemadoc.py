"""Renders the file-reference pages from the rule files' JSON Schemas.

One page per kind of file (the schemas ``vip-workflow schema --kind`` prints):

- ``python -m tools.schemadoc > docs/rule-file-reference.md`` (tier rule files),
- ``python -m tools.schemadoc triggers > docs/trigger-file-reference.md``,
- ``python -m tools.schemadoc kpis > docs/kpi-file-reference.md``,

or ``python -m tools.schemadoc --write docs`` for all three. A test checks they are
current.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class _Page:
    """One reference page: where its schema comes from and how the page is titled."""

    page: str
    title: str
    what: str
    guide: str
    schema: tuple[str, str]
    root: str
    order: tuple[str, ...]
    notes: dict[str, str] = field(default_factory=dict)
    """Meanings for ``Model.key`` that the schema leaves undescribed (the schema wins)."""

    def load(self) -> dict[str, Any]:
        module, function = self.schema
        make: Callable[[], dict[str, Any]] = getattr(import_module(module), function)
        return make()


PAGES: dict[str, _Page] = {
    "tiers": _Page(
        "rule-file-reference.md", "Rule-file reference", "a tier rule file",
        "[tier rule files](rules.md)", ("vip_workflow.rules.tiers.book", "rules_schema"),
        "RuleFile",
        ("RuleFile", "ChainScheme", "ChainFactor", "Band", "ScoringScheme", "ScoreFactor",
         "PointBand", "TierBand", "WeightedScheme", "Term", "QuotaScheme", "Quota", "ScoreSpec",
         "EligibilityScheme", "Condition", "SubtierSplit", "OverrideFields")),
    "triggers": _Page(
        "trigger-file-reference.md", "Trigger-file reference", "a trigger file",
        "[triggers](triggers.md#the-trigger-file)",
        ("vip_workflow.rules.triggers", "triggers_schema"), "TriggerFile",
        ("TriggerFile", "Trigger", "Condition", "Test"),
        {"TriggerFile.kind": "What the file holds.",
         "TriggerFile.name": "Name of the trigger book.",
         "TriggerFile.description": "What the trigger book is for.",
         "TriggerFile.source": "Where the triggers come from.",
         "TriggerFile.triggers": "The triggers, at least one; ids must be unique.",
         "Trigger.id": "Unique id: letters, digits, `.`, `_`, `-` (at most 80), e.g. "
                       "retain.spend_declining.",
         "Trigger.family": "Trigger family (DOMAIN §5).",
         "Trigger.severity": "How urgent a signal is.",
         "Trigger.title": "Short title shown with signals (the id when absent).",
         "Trigger.description": "Longer explanation.",
         "Trigger.enabled": "false keeps the trigger in the file without running it.",
         "Trigger.when": "The condition; its key picks the kind (see [conditions](conditions.md)).",
         "Condition.field": "Compare this month's value of the column.",
         "Condition.change_pct": "Percent change of the column over `months`.",
         "Condition.sum": "Sum of the column over the last `months`.",
         "Condition.count": "Months among the last `months` where the column passes `where`.",
         "Condition.days_until": "Days from the month to the date in the column.",
         "Condition.consecutive": "The column moves one way for `months` months in a row.",
         "Condition.anomaly": "The column's value is unusual against its own past.",
         "Condition.op": "The comparison: == != < <= > >= in not_in between is_null not_null.",
         "Condition.value": "The value compared with (two values for between).",
         "Condition.months": "How many months the measure looks at.",
         "Condition.where": "The test that makes a month count (`op` and `value`).",
         "Condition.direction": "decline or increase (consecutive); up, down or both (anomaly).",
         "Condition.method": "zscore: mean and sample std; robust: median and MAD.",
         "Condition.window": "Previous months the score is measured against.",
         "Condition.min_periods": "Known months the window needs (at most `window`).",
         "Condition.threshold": "Score to reach.",
         "Condition.all": "Conditions that must all hold (at least one).",
         "Condition.any": "Conditions of which one must hold (at least one).",
         "Condition.not": "A condition that must not hold."}),
    "kpis": _Page(
        "kpi-file-reference.md", "KPI-file reference", "a KPI file",
        "[KPI checks](kpis.md#the-kpi-file)", ("vip_workflow.rules.kpis.book", "kpis_schema"),
        "KpiFile", ("KpiFile", "Kpi", "Measure", "Aggregate", "Condition"),
        {"KpiFile.kind": "What the file holds.",
         "KpiFile.name": "Name of the KPI book.",
         "KpiFile.description": "What the KPI book is for.",
         "KpiFile.source": "Where the KPIs and targets come from.",
         "KpiFile.kpis": "The KPIs, at least one; ids must be unique.",
         "Kpi.id": "Unique id: letters, digits, `.`, `_`, `-`.",
         "Kpi.title": "Title shown in reports (the id when absent).",
         "Kpi.description": "Longer explanation.",
         "Kpi.source": "Where the KPI and its target come from.",
         "Kpi.measure": "What is measured over the rows passing `where`.",
         "Kpi.compare": "How the value is compared with its target; between takes "
                        "[low, high].",
         "Kpi.target": "The target, or the default for groups `targets` does not name; "
                       "[low, high] with between.",
         "Kpi.unit": "Display only; percent targets are fractions (0.27 for 27 %).",
         "Measure.type": "ratio: numerator / denominator; otherwise that aggregate of `field`.",
         "Measure.numerator": "With ratio: the aggregate on top.",
         "Measure.denominator": "With ratio: the aggregate below; zero gives no value (n/a).",
         "Measure.field": "Column aggregated (not needed by count).",
         "Measure.where": "Row filters for this measure, on top of the KPI's.",
         "Aggregate.agg": "How the rows are aggregated.",
         "Aggregate.field": "Column aggregated (not needed by count).",
         "Aggregate.where": "Row filters for this aggregate (all must hold)."}),
}


def _type(spec: dict[str, Any]) -> str:
    if "$ref" in spec:
        name = spec["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in spec or "oneOf" in spec:
        return _one_of(spec.get("anyOf") or spec.get("oneOf") or [])
    if "const" in spec:
        value = spec["const"]
        return f"`{str(value).lower() if isinstance(value, bool) else value}`"
    if "enum" in spec:
        return " \\| ".join(f"`{v}`" for v in spec["enum"])
    kind = spec.get("type")
    if kind == "array":
        return f"list of {_grouped(spec.get('items', {}))}"
    if kind == "object":
        values = spec.get("additionalProperties")
        return f"mapping to {_grouped(values)}" if isinstance(values, dict) else "mapping"
    if kind == "string" and spec.get("format") == "date":
        return "date"
    return {"string": "text", "number": "number", "integer": "whole number",
            "boolean": "true/false"}.get(kind or "", kind or "any")


def _one_of(options: list[dict[str, Any]]) -> str:
    """The alternatives, each once: "a, b or c" (a whole number is a number too)."""
    names = list(dict.fromkeys(_type(o) for o in options if o.get("type") != "null"))
    if "number" in names and "whole number" in names:
        names.remove("whole number")
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _grouped(spec: dict[str, Any]) -> str:
    """The type of list items or mapping values, in brackets when it has alternatives."""
    text = _type(spec)
    return f"({text})" if ("anyOf" in spec or "oneOf" in spec) and " or " in text else text


def _limits(spec: dict[str, Any]) -> str:
    """Allowed numeric range, e.g. "1–60", from minimum/maximum."""
    low, high = spec.get("minimum"), spec.get("maximum")
    if low is not None and high is not None:
        return f"Allowed: {low}–{high}."
    if low is not None:
        return f"At least {low}."
    if high is not None:
        return f"At most {high}."
    return ""


def _default(spec: dict[str, Any], required: bool) -> str:
    if required:
        return "**required**"
    if "default" in spec:
        value = spec["default"]
        return "—" if value is None else f"`{value}`".replace("True", "true").replace(
            "False", "false")
    return ""


def render(kind: str = "tiers") -> str:
    """The Markdown of the reference page for ``kind`` (tiers, triggers or kpis)."""
    if kind not in PAGES:
        raise ValueError(f"no kind {kind!r}: one of {', '.join(PAGES)}")
    page = PAGES[kind]
    schema = page.load()
    models = {page.root: schema, **schema.get("$defs", {})}
    command = "vip-workflow schema" + ("" if kind == "tiers" else f" --kind {kind}")
    regenerate = "python -m tools.schemadoc" + ("" if kind == "tiers" else f" {kind}")
    lines = [f"# {page.title}", "",
             f"Every key {page.what} may hold, generated from its JSON Schema "
             f"(`{command}`). See {page.guide} for the guide and "
             f"examples. Regenerate with `{regenerate} > docs/{page.page}`.", ""]
    order = page.order
    names = [n for n in order if n in models] + sorted(set(models) - set(order))
    for name in names:
        model = models[name]
        lines += [f"## {name}", ""]
        if model.get("description"):
            lines += [" ".join(model["description"].split()), ""]
        lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
        required = set(model.get("required", []))
        for key, spec in model.get("properties", {}).items():
            text = spec.get("description") or page.notes.get(f"{name}.{key}", "")
            meaning = " ".join(f"{text} {_limits(spec)}".split()).replace("|", "\\|")
            lines.append(f"| `{key}` | {_type(spec)} | {_default(spec, key in required)} | "
                         f"{meaning} |")
        lines.append("")
    if kind == "tiers":  # the limits of every data file, stated once, from the reader itself
        from vip_workflow.rules.files.reader import limits_markdown

        lines += limits_markdown()
    return "\n".join(lines)


def write(directory: str | Path) -> list[Path]:
    """Write every reference page into ``directory`` (the docs folder); the paths written."""
    written = []
    for kind, page in PAGES.items():
        path = Path(directory) / page.page
        path.write_text(render(kind), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    if argv[:1] == ["--write"] and len(argv) == 2:
        for path in write(argv[1]):
            print(f"wrote {path}")
        return 0
    if len(argv) > 1 or (argv and argv[0] not in PAGES):
        print(f"usage: python -m tools.schemadoc [{'|'.join(PAGES)}] | --write DIR",
              file=sys.stderr)
        return 2
    sys.stdout.write(render(*argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
