"""The ``kind: scenarios`` file: named cases kept beside a rule file, with what they expect.

A scenario file names the book it tests (``book:``, a path relative to the file or
``preset:NAME``; by default ``NAME.yaml`` beside ``NAME.scenarios.yaml``) and lists cases:

- for a tier book, ``input`` (the customer's fields) and ``expect: {tier, rule}``;
- for a trigger book, ``history`` (one row per month) and ``expect: {signals: {MONTH: [ids]}}``
  (a month not listed expects no signal);
- for a KPI book, ``rows`` (a small portfolio) and ``expect: {kpis: {ID: pass | fail}}`` (or
  ``{ID: {GROUP: pass}}`` for a KPI computed ``by`` a column).

The file is read by the one rule-file kernel (:mod:`vip_workflow.rules.files`), so every problem
— in the file's shape or in what it refers to (an unknown tier, rule, field, trigger or KPI) —
is a located ``RuleFileError``: ``file:line:column: field: reason``.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from vip_workflow.errors import RuleFileError, UnknownPresetError
from vip_workflow.rules.files.document import Document, read_document, validate_document
from vip_workflow.rules.files.header import FileHeader
from vip_workflow.rules.files.model import FileModel

__all__ = ["SUFFIXES", "Case", "Expect", "ScenarioFile", "ScenarioSuite", "from_document",
           "is_scenario_file", "load_scenarios", "loads_scenarios", "preset_scenarios"]

Status = Literal["pass", "fail", "n/a"]
SUFFIX = ".scenarios.yaml"
#: the names of scenario files: YAML, JSON, and the tables (CSV, Excel)
SUFFIXES = (".scenarios.yaml", ".scenarios.json", ".scenarios.csv", ".scenarios.xlsx")
_PRESETS = "vip_workflow.rules.presets"
Where = tuple[str | int, ...]


class Expect(FileModel):
    """What a case expects: a tier (and rule), signals per month, or KPI outcomes."""

    tier: str | None = Field(default=None, description="The tier expected (tier books); null "
                             "expects the customer cannot be judged.")
    rule: str | None = Field(default=None, description="The rule expected to decide (optional).")
    signals: dict[str, list[str]] | None = Field(
        default=None, description="Trigger books: the trigger ids expected per month "
        "(YYYY-MM); a month not listed expects no signal.")
    kpis: dict[str, Status | dict[str, Status]] | None = Field(
        default=None, description="KPI books: pass, fail or n/a per KPI id (per group for a KPI "
        "computed by a column).")


class Case(FileModel):
    """One named case: the data (``input``, ``history`` or ``rows``) and what it expects."""

    name: str = Field(description="Name of the case, shown in results (unique in the file).")
    note: str | None = Field(default=None, description="Free text for readers.")
    input: dict[str, Any] | None = Field(
        default=None, description="Tier books: the customer's fields (merged over `defaults`).")
    history: list[dict[str, Any]] | None = Field(
        default=None, description="Trigger books: one mapping per month with `period` "
        "(YYYY-MM) and the snapshot's fields.")
    rows: list[dict[str, Any]] | None = Field(
        default=None, description="KPI books: the rows of a small portfolio.")
    expect: Expect = Field(description="What the case expects.")

    @model_validator(mode="after")
    def _one_kind_of_data(self) -> Case:
        given = [n for n in ("input", "history", "rows") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of input, history or rows (found {' and '.join(given)})")
        return self


class ScenarioFile(FileHeader):
    """A scenario file: the book it tests and named cases with what they expect."""

    kind: Literal["scenarios"] = Field(description="What the file holds: scenarios.")
    name: str = Field(description="Name of the scenario set, e.g. hubei-2006.")
    book: str | None = Field(
        default=None, description="The rule file tested: a path relative to this file or "
        "preset:NAME. Default: NAME.yaml beside NAME.scenarios.yaml.")
    defaults: dict[str, Any] | None = Field(
        default=None, description="Tier books: field values every case's input starts from.")
    steps: dict[str, float] | None = Field(
        default=None, description="Boundary coverage: what 'just below' and 'just above' a "
        "bound mean per field (e.g. {revenue: 0.01}); default 1 for a whole-number bound, "
        "else one unit of its last decimal.")
    cases: list[Case] = Field(min_length=1, description="The cases, in order.")


class ScenarioSuite:
    """A loaded scenario file with the book it tests (a ``RuleBook``, ``TriggerBook`` or
    ``KpiBook``); run it with :func:`vip_workflow.rules.scenarios.run.run_suite`."""

    def __init__(self, spec: ScenarioFile, book: Any, document: Document) -> None:
        self.spec = spec
        self.book = book
        self.document = document
        self.path = document.path

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> str:
        return self.spec.version

    @property
    def cases(self) -> list[Case]:
        return self.spec.cases

    @property
    def rules(self) -> ScenarioFile:
        """The scenario file's content (``rules.kind`` is ``scenarios``)."""
        return self.spec

    @property
    def book_kind(self) -> str:
        """``tiers``, ``triggers`` or ``kpis``."""
        return str(getattr(self.book.rules, "kind", "tiers"))

    def locate(self, *where: str | int) -> str:
        """``file:line:column`` of a field of this file."""
        line, column = self.document.locate(where)
        text = self.path
        if line is not None:
            text += f":{line}" + (f":{column}" if column is not None else "")
        return text

    def lint(self) -> Any:
        """A scenario file that loaded has no further findings (``vw.LintReport``)."""
        from vip_workflow.rules.files.findings import LintReport

        return LintReport([], path=self.path)

    def __repr__(self) -> str:
        return (f"<ScenarioSuite {self.name!r}: {len(self.cases)} cases for "
                f"{self.book_kind} book {self.book.name!r}>")


# -- loading ----------------------------------------------------------------------------------

def from_document(document: Document) -> ScenarioSuite:
    """Validate a scenario file's Document, load the book it tests and check every case
    against it; every problem is a located ``RuleFileError``."""
    spec: ScenarioFile = validate_document(document, ScenarioFile)
    book = _load_book(document, spec)
    problems = list(_problems(spec, book))
    if problems:
        raise document.errors(problems)
    return ScenarioSuite(spec, book, document)


def is_scenario_file(path: str | Path) -> bool:
    """True for a scenario file's name (``NAME.scenarios.yaml``, ``.json``, ``.csv`` or
    ``.xlsx``; not an Excel lock file ``~$NAME…``)."""
    name = Path(path).name
    return name.lower().endswith(SUFFIXES) and not name.startswith("~$")


def load_scenarios(path: str | Path, *, note: Callable[[str], None] | None = None
                   ) -> ScenarioSuite:
    """Load a scenario file (YAML or JSON) or table (``NAME.scenarios.csv`` / ``.xlsx``);
    raises a located ``RuleFileError`` when bad. ``note`` hears what was guessed in reading
    a table (a GBK file)."""
    from vip_workflow.rules.scenarios.table import is_table, read_table

    if is_table(path):
        return from_document(read_table(path, note=note))
    return from_document(read_document(path))


def loads_scenarios(text: str, *, name: str = "<text>.scenarios.yaml") -> ScenarioSuite:
    """Load a scenario file from text (``name`` locates its problems and its book)."""
    return from_document(read_document(name, text=text))


def preset_scenarios(name: str) -> ScenarioSuite:
    """The scenarios shipped with a bundled preset (``UnknownPresetError`` if it has none)."""
    folder = resources.files(_PRESETS)
    item = folder.joinpath(f"{name}{SUFFIX}")
    if not item.is_file():
        known = sorted(p.name.removesuffix(SUFFIX) for p in folder.iterdir()
                       if p.name.endswith(SUFFIX))
        raise UnknownPresetError(name, known)
    return loads_scenarios(item.read_text("utf-8"), name=f"preset:{name}{SUFFIX}")


def scenarios_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files, for editors (``schema_for("scenarios")``)."""
    from vip_workflow.rules.files.kinds import schema_for

    return schema_for("scenarios")


def shipped_presets() -> list[str]:
    """Names of the presets that ship a scenario file."""
    folder = resources.files(_PRESETS)
    return sorted(p.name.removesuffix(SUFFIX) for p in folder.iterdir()
                  if p.name.endswith(SUFFIX))


def _load_book(document: Document, spec: ScenarioFile) -> Any:
    from vip_workflow.rules.tiers.book import load_rules, preset

    path = document.path
    default = Path(path.removeprefix("preset:")).name
    default = default.removesuffix(SUFFIX).removesuffix(".scenarios.json")
    wanted = spec.book or f"{default}.yaml"
    try:
        if wanted.startswith("preset:"):
            return preset(wanted.removeprefix("preset:"))
        if path.startswith("preset:"):
            return preset(wanted.removesuffix(".yaml"))
        return load_rules(Path(path).parent / wanted)
    except UnknownPresetError as exc:
        raise document.error(str(exc), ("book",)) from None
    except RuleFileError as exc:
        if exc.reason == "file not found":
            raise document.error(f"the book {wanted!r} is not found (looked for "
                                 f"{exc.path})", ("book",)) from None
        raise


# -- checking cases against the book ----------------------------------------------------------

def _did_you_mean(value: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(options), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _problems(spec: ScenarioFile, book: Any) -> Iterable[tuple[Where, str]]:
    kind = str(getattr(book.rules, "kind", "tiers"))
    data_key = {"tiers": "input", "triggers": "history", "kpis": "rows"}[kind]
    known = _tier_fields(book) if kind == "tiers" else set()
    rules = set(book.plan.rule_ids) if kind == "tiers" else set()
    seen: set[str] = set()
    for i, case in enumerate(spec.cases):
        at: Where = ("cases", i)
        if case.name in seen:
            yield (*at, "name"), f"the case name {case.name!r} is used twice"
        seen.add(case.name)
        for other in ("input", "history", "rows"):
            if other != data_key and getattr(case, other) is not None:
                yield (*at, other), (f"a case for the {kind} book {book.name!r} gives "
                                     f"{data_key}, not {other}")
        if kind == "tiers":
            yield from _tier_problems(case, at, book, spec.defaults or {}, known, rules)
        elif kind == "triggers":
            yield from _trigger_problems(case, at, book)
        else:
            yield from _kpi_problems(case, at, book)
    for field, step in (spec.steps or {}).items():
        if not (math.isfinite(step) and step > 0):
            yield ("steps", field), "a step is a positive number"


def _tier_fields(book: Any) -> set[str]:
    """The fields a tier case may give: those the book reads, its override and id fields."""
    known = set(book.fields)
    override = book.plan.override
    if override is not None:
        known |= {override.tier, override.by, override.reason}
    if book.plan.id_field:
        known.add(book.plan.id_field)
    return known


def _tier_problems(case: Case, at: Where, book: Any, defaults: dict[str, Any],
                   known: set[str], rules: set[str]) -> Iterable[tuple[Where, str]]:
    expect = case.expect
    if "tier" not in expect.model_fields_set:
        yield (*at, "expect"), "say which tier the case expects (expect: {tier: …})"
    elif expect.tier is not None and expect.tier not in book.tiers:
        yield (*at, "expect", "tier"), (f"unknown tier {expect.tier!r}; the book declares: "
                                        f"{', '.join(book.tiers)}"
                                        f"{_did_you_mean(expect.tier, book.tiers)}")
    if expect.rule is not None and expect.rule not in rules:
        ids = book.plan.rule_ids
        yield (*at, "expect", "rule"), (f"unknown rule {expect.rule!r}; the book's rules: "
                                        f"{', '.join(ids)}{_did_you_mean(expect.rule, ids)}")
    if expect.signals is not None or expect.kpis is not None:
        yield (*at, "expect"), "a tier case expects a tier (and rule), not signals or kpis"
    given = case.input or {}
    for field in [*given, *(f for f in defaults if f not in given)] if defaults else given:
        if field not in known:
            where = (*at, "input", field) if field in given else ("defaults", field)
            yield where, (f"the book {book.name!r} reads no field {field!r}"
                          f"{_did_you_mean(field, sorted(known))}")


def _trigger_problems(case: Case, at: Where, book: Any) -> Iterable[tuple[Where, str]]:
    expect = case.expect
    if case.history is None:
        return
    if expect.signals is None:
        yield (*at, "expect"), "say which signals the case expects (expect: {signals: …})"
        return
    months = {str(row.get("period")) for row in case.history}
    for month, ids in expect.signals.items():
        if month not in months:
            yield (*at, "expect", "signals", month), (
                f"the month {month} is not in the case's history")
        for j, trigger in enumerate(ids):
            if trigger not in book.ids:
                yield (*at, "expect", "signals", month, j), (
                    f"unknown trigger {trigger!r}{_did_you_mean(trigger, book.ids)}")
    for j, row in enumerate(case.history):
        if "period" not in row:
            yield (*at, "history", j), "each month of a history gives its period (YYYY-MM)"
        elif not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", str(row["period"])):
            yield (*at, "history", j, "period"), (
                f"{row['period']!r} is not a month: write it YYYY-MM, e.g. 2026-01")
        for field in row:
            if field not in ("period", *book.fields):
                yield (*at, "history", j, field), (
                    f"the triggers read no field {field!r}"
                    f"{_did_you_mean(field, book.fields)}")


def _kpi_problems(case: Case, at: Where, book: Any) -> Iterable[tuple[Where, str]]:
    if case.rows is None:
        return
    if case.expect.kpis is None:
        yield (*at, "expect"), "say which KPIs the case expects to pass or fail (expect: {kpis: …})"
        return
    known = list(book.ids())
    for kpi in case.expect.kpis:
        if kpi not in known:
            yield (*at, "expect", "kpis", kpi), (
                f"unknown KPI {kpi!r}{_did_you_mean(kpi, known)}")
