"""Renders docs/rule-file-reference.md from the rule files' JSON Schema.

``python -m vip_workflow._schemadoc > docs/rule-file-reference.md``; a test checks it is current.
"""

from __future__ import annotations

from typing import Any

from vip_workflow.rules.book import rules_schema

_ORDER = ["RuleFile", "ChainScheme", "ChainFactor", "Band", "ScoringScheme", "ScoreFactor",
          "PointBand", "TierBand", "WeightedScheme", "Term", "QuotaScheme", "Quota", "ScoreSpec",
          "EligibilityScheme", "Condition", "SubtierSplit", "OverrideFields"]


def _type(spec: dict[str, Any]) -> str:
    if "$ref" in spec:
        name = spec["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in spec or "oneOf" in spec:
        options = spec.get("anyOf") or spec.get("oneOf")
        return " or ".join(_type(o) for o in options if o.get("type") != "null")
    if "const" in spec:
        value = spec["const"]
        return f"`{str(value).lower() if isinstance(value, bool) else value}`"
    if "enum" in spec:
        return " \\| ".join(f"`{v}`" for v in spec["enum"])
    kind = spec.get("type")
    if kind == "array":
        return f"list of {_type(spec.get('items', {}))}"
    if kind == "object":
        values = spec.get("additionalProperties")
        return f"mapping to {_type(values)}" if isinstance(values, dict) else "mapping"
    if kind == "string" and spec.get("format") == "date":
        return "date"
    return {"string": "text", "number": "number", "integer": "whole number",
            "boolean": "true/false"}.get(kind or "", kind or "any")


def _default(spec: dict[str, Any], required: bool) -> str:
    if required:
        return "**required**"
    if "default" in spec:
        value = spec["default"]
        return "—" if value is None else f"`{value}`".replace("True", "true").replace(
            "False", "false")
    return ""


def render() -> str:
    """The Markdown of the reference page."""
    schema = rules_schema()
    models = {"RuleFile": schema, **schema.get("$defs", {})}
    lines = ["# Rule-file reference", "",
             "Every key a tier rule file may hold, generated from its JSON Schema "
             "(`vip-workflow schema`). See [tier rule files](rules.md) for the guide and "
             "examples. Regenerate with `python -m vip_workflow._schemadoc > "
             "docs/rule-file-reference.md`.", ""]
    names = [n for n in _ORDER if n in models] + sorted(set(models) - set(_ORDER))
    for name in names:
        model = models[name]
        lines += [f"## {name}", ""]
        if model.get("description"):
            lines += [" ".join(model["description"].split()), ""]
        lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
        required = set(model.get("required", []))
        for key, spec in model.get("properties", {}).items():
            meaning = " ".join(spec.get("description", "").split()).replace("|", "\\|")
            lines.append(f"| `{key}` | {_type(spec)} | {_default(spec, key in required)} | "
                         f"{meaning} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
