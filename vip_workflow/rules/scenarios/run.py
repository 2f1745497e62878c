"""Running a scenario file: each case judged by its book, compared with what it expects.

Tier cases are judged together (``judge_rows``: one call for the whole file, the cases forming
the portfolio of a quota scheme), trigger cases scanned together (one history, one customer per
case), KPI cases checked one by one (each case is its own small portfolio). A failed case says
what it expected, what it got, and the explanation: the decision's trace, the signals with
their evidence, or the KPI's value against its target.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from vip_workflow.domain.decisions import Decision
from vip_workflow.errors import EvaluationError
from vip_workflow.rules.scenarios.coverage import (
    Coverage,
    Item,
    Target,
    kpi_bounds,
    tier_coverage,
    trigger_bounds,
    trigger_targets,
)
from vip_workflow.rules.scenarios.model import Case, ScenarioSuite

__all__ = ["BATCH", "CaseResult", "SuiteResult", "run_suite"]

#: from this many tier cases on, a run without coverage judges them column-wise
BATCH = 1_000


@dataclass(frozen=True)
class CaseResult:
    """One case's outcome: passed or not, expected and got in words, and the explanation."""

    name: str
    passed: bool
    expected: str
    got: str
    trace: str
    #: ``file:line:column`` of the case's name (of a failed case; the file for a passed one)
    location: str

    def message(self) -> str:
        """``file:line:column: case NAME: expected …, got …`` and the trace, indented."""
        head = f"{self.location}: case {self.name!r}: expected {self.expected}, got {self.got}"
        return head + ("\n" + _indent(self.trace) if self.trace else "")


@dataclass
class SuiteResult:
    """The results of one scenario file, with its coverage."""

    suite: ScenarioSuite
    results: list[CaseResult]
    coverage: Coverage | None = None
    #: what the coverage read each value from (tier books; for ``--suggest``)
    targets: dict[str, Target] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]

    @property
    def ok(self) -> bool:
        return not self.failed


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def run_suite(suite: ScenarioSuite, *, coverage: bool = True) -> SuiteResult:
    """Run every case of ``suite``; with ``coverage`` also measure what they exercised."""
    kind = suite.book_kind
    if kind == "tiers":
        return _run_tiers(suite, coverage)
    if kind == "triggers":
        return _run_triggers(suite, coverage)
    return _run_kpis(suite, coverage)


# -- tiers ------------------------------------------------------------------------------------

def tier_records(suite: ScenarioSuite) -> list[dict[str, Any]]:
    """Each case's input over the file's ``defaults``."""
    defaults = suite.spec.defaults or {}
    return [{**defaults, **(case.input or {})} for case in suite.cases]


def _tier_text(tier: str | None, rule: str | None) -> str:
    if tier is None:
        return "cannot judge"
    return f"tier {tier}" + (f" (rule {rule})" if rule else "")


def _answers(book: Any, records: list[dict[str, Any]],
             coverage: bool) -> tuple[list[tuple[str | None, str | None]], list[Decision]]:
    """Each case's (tier, rule), and the decisions with their traces when they were made.

    With coverage (which reads the traces), for a quota scheme and for few cases, every case
    is judged with its trace; else the cases are judged column-wise (``judge_many``: the same
    answers) and only a failed case is judged again, for its explanation."""
    if coverage or book.needs_portfolio or len(records) < BATCH:
        decisions: list[Decision] = book.judge_rows(records)
        return [(d.tier, d.rule) for d in decisions], decisions
    frame = book.judge_many(records)
    tiers, rules = frame["tier"].tolist(), frame["rule"].tolist()
    return [(t if isinstance(t, str) else None, r if isinstance(r, str) else None)
            for t, r in zip(tiers, rules, strict=True)], []


def _run_tiers(suite: ScenarioSuite, coverage: bool) -> SuiteResult:
    book = suite.book
    records = tier_records(suite)
    answers, decisions = _answers(book, records, coverage)
    results = []
    for i, (case, (tier, rule)) in enumerate(zip(suite.cases, answers, strict=True)):
        expect = case.expect
        passed = tier == expect.tier and (expect.rule is None or rule == expect.rule)
        if passed:
            results.append(CaseResult(case.name, True, _tier_text(expect.tier, expect.rule),
                                      _tier_text(tier, rule if expect.rule else None), "",
                                      suite.path))
            continue
        decision = decisions[i] if decisions else book.judge(records[i])
        got = _tier_text(decision.tier, decision.rule if expect.rule else None)
        if decision.tier is None:
            got += f" ({decision.reason})"
        results.append(CaseResult(case.name, False, _tier_text(expect.tier, expect.rule), got,
                                  decision.explain(), suite.locate("cases", i, "name")))
    result = SuiteResult(suite, results, records=records, decisions=decisions)
    if coverage:
        result.coverage, result.targets = tier_coverage(
            suite.name, book.plan, decisions, suite.spec.steps)
    return result


# -- triggers ---------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _cell(value: Any) -> Any:
    """A history's value as the scan reads it: a date written as text (quoted in YAML, or a
    table's cell) is the date, as an unquoted one is."""
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return value
    return value


def _history(suite: ScenarioSuite) -> pl.DataFrame:
    fields = list(suite.book.fields)
    rows = [{"customer_id": case.name, **{f: None for f in fields},
             **{k: _cell(v) for k, v in month.items()}, "period": str(month.get("period"))}
            for case in suite.cases for month in case.history or []]
    return pl.DataFrame(rows, infer_schema_length=None)


def _run_triggers(suite: ScenarioSuite, coverage: bool) -> SuiteResult:
    from vip_workflow.rules.triggers import explain_signals
    from vip_workflow.rules.triggers.signal import describe_condition

    book = suite.book
    try:
        signals = book.scan(_history(suite))
    except pl.exceptions.PolarsError as exc:  # e.g. a number in one month, a text in another
        first = str(exc).strip().splitlines()[0]
        raise EvaluationError(f"{suite.path}: the histories cannot be scanned: {first}"
                              ) from None
    signals = signals.with_columns(pl.col("period").dt.strftime("%Y-%m").alias("month"))
    fired: dict[tuple[str, str], list[str]] = {}
    for row in signals.select("customer_id", "month", "trigger").iter_rows():
        fired.setdefault((str(row[0]), row[1]), []).append(row[2])
    results = []
    for i, case in enumerate(suite.cases):
        wanted = case.expect.signals or {}
        months = [str(m.get("period")) for m in case.history or []]
        wrong = [m for m in months
                 if sorted(wanted.get(m, [])) != sorted(fired.get((case.name, m), []))]
        expected = "; ".join(f"{m}: {', '.join(wanted.get(m, [])) or 'none'}" for m in wrong)
        got = "; ".join(f"{m}: {', '.join(fired.get((case.name, m), [])) or 'none'}"
                        for m in wrong)
        trace = ""
        if wrong:
            mine = signals.filter(pl.col("customer_id").cast(pl.String) == case.name)
            lines = explain_signals(mine.drop("month")) or ["no signal fired"]
            missing = {t for m in wrong for t in wanted.get(m, [])
                       if t not in fired.get((case.name, m), [])}
            lines += [f"{t} did not fire: it needs {describe_condition(book.trigger(t).when)}"
                      for t in sorted(missing)]
            trace = "\n".join(lines)
        results.append(CaseResult(case.name, not wrong, expected or "as listed", got or "same",
                                  trace, suite.locate("cases", i, "name")))
    result = SuiteResult(suite, results)
    if coverage:
        counts = signals.get_column("trigger").value_counts()
        hits = dict(counts.iter_rows())
        items = [Item("trigger", t.id, t.title or t.id, int(hits.get(t.id, 0)))
                 for t in book.triggers if t.enabled]
        targets = trigger_targets(book.plans)
        result.coverage = Coverage(suite.name, book.name, "triggers", items, trigger_bounds(
            book.plans, (case.history or [] for case in suite.cases), suite.spec.steps,
            targets))
        result.targets = targets
    return result


# -- KPIs -------------------------------------------------------------------------------------

def _statuses(frame: pl.DataFrame) -> dict[str, dict[str | None, str]]:
    found: dict[str, dict[str | None, str]] = {}
    for row in frame.select("kpi", "segment", "status").iter_rows():
        found.setdefault(row[0], {})[row[1]] = row[2]
    return found


def _kpi_case(suite: ScenarioSuite, i: int, case: Case, seen: dict[tuple[str, str], int],
              values: dict[str, set[float]]) -> CaseResult:
    book = suite.book
    wanted = case.expect.kpis or {}
    try:
        frame = book.check(pl.DataFrame(case.rows or [], infer_schema_length=None),
                           kpis=list(wanted))
    except pl.exceptions.PolarsError as exc:  # e.g. a text in a column a KPI sums
        raise EvaluationError(f"{suite.locate('cases', i, 'rows')}: case {case.name!r}: its "
                              f"rows cannot be checked: {exc}") from None
    got = _statuses(frame)
    for kpi, group, value in frame.select("kpi", "segment", "value").iter_rows():
        if value is not None:
            values.setdefault(kpi if group is None else f"{kpi}[{group}]", set()).add(value)
    wrong: list[tuple[str, str, str]] = []
    for kpi, expect in wanted.items():
        groups = expect if isinstance(expect, dict) else {None: expect}
        for group, status in groups.items():
            found = got.get(kpi, {}).get(group, "absent")
            seen[(kpi, found)] = seen.get((kpi, found), 0) + 1
            if found != status:
                where = kpi if group is None else f"{kpi}[{group}]"
                wrong.append((where, status, found))
    trace = ""
    if wrong:
        shown = frame.select("kpi", "segment", "value", "comparison", "target", "status")
        trace = "\n".join(
            f"{r['kpi']}{'' if r['segment'] is None else '[' + str(r['segment']) + ']'}: "
            f"{r['value']} {r['comparison']} {r['target']} → {r['status']}"
            for r in shown.iter_rows(named=True))
    return CaseResult(case.name, not wrong, ", ".join(f"{w} {s}" for w, s, _ in wrong) or "-",
                      ", ".join(f"{w} {g}" for w, _, g in wrong) or "-", trace,
                      suite.locate("cases", i, "name"))


def _run_kpis(suite: ScenarioSuite, coverage: bool) -> SuiteResult:
    seen: dict[tuple[str, str], int] = {}
    values: dict[str, set[float]] = {}
    results = [_kpi_case(suite, i, case, seen, values) for i, case in enumerate(suite.cases)]
    result = SuiteResult(suite, results)
    if coverage:
        items = [Item("kpi", f"{k.id}:{status}", f"{k.title or k.id} {status}",
                      seen.get((k.id, status), 0))
                 for k in suite.book.kpis for status in ("pass", "fail")]
        result.coverage = Coverage(suite.name, suite.book.name, "kpis", items,
                                   kpi_bounds(suite.book.kpis, values, suite.spec.steps))
    return result


def run_many(suites: Sequence[ScenarioSuite], *, coverage: bool = True) -> list[SuiteResult]:
    """Run several scenario files."""
    return [run_suite(s, coverage=coverage) for s in suites]
