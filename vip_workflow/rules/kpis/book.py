"""KPI checks: ratios, sums, counts and means over a portfolio, against targets.

A KPI file (``kind: kpis``) lists KPIs. Each has a ``measure`` — ``ratio`` (numerator /
denominator, each an aggregate), ``sum``, ``count``, ``mean`` or ``n_unique`` — computed over
the rows that pass its ``where`` filters, overall or ``by`` a column (segment, account manager
…), and compared with a ``target`` (or per-group ``targets``) by ``compare``: ``>=``, ``<=``,
``>``, ``<``, ``==`` or ``between`` (target ``[low, high]``).

``KpiBook.check(portfolio)`` returns one row per KPI (and group) with ``kpi, title, by,
segment, value, target, comparison, status (pass / fail / n/a), gap, numerator, denominator,
rows``. ``gap`` is signed: positive = margin over the target, negative = shortfall. A ratio with
a zero denominator, or a group with no rows, has no value and status ``n/a``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal, overload

import polars as pl
from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from vip_workflow.errors import EvaluationError
from vip_workflow.rules import ir
from vip_workflow.rules.files.conditions import Condition, upgrade_where
from vip_workflow.rules.files.document import Document, validate_document
from vip_workflow.rules.files.findings import Finding, LintReport
from vip_workflow.rules.files.header import FileHeader
from vip_workflow.rules.files.kinds import schema_for
from vip_workflow.rules.files.model import FileModel

__all__ = [
    "Aggregate",
    "Kpi",
    "KpiBook",
    "KpiFile",
    "KpiReport",
    "Measure",
    "Where",
    "columns_read",
    "from_document",
    "kpis_schema",
]

Scalar = str | bool | int | float
Compare = Literal[">=", "<=", ">", "<", "==", "between"]
RESULT_SCHEMA: dict[str, pl.DataType] = {
    "kpi": pl.String(), "title": pl.String(), "by": pl.String(), "segment": pl.String(),
    "value": pl.Float64(), "target": pl.String(), "comparison": pl.String(),
    "status": pl.String(), "gap": pl.Float64(), "numerator": pl.Float64(),
    "denominator": pl.Float64(), "rows": pl.Int64(), "unit": pl.String(),
}


_Model = FileModel  # the one strict base of every file model


def _fits_kpis(condition: Condition | None) -> Condition | None:
    """A row filter: comparisons of columns (``field``) combined by all/any/not."""
    for node in condition.walk() if condition is not None else ():
        if node.kind not in ("field", "all", "any", "not"):
            raise ValueError(f"a KPI filter compares columns ({{field: …}}); {node.kind} "
                             "reads months and belongs in trigger files")
        values = node.value if isinstance(node.value, list | tuple) else [node.value]
        if node.kind == "field" and node.value is not None and not all(
                isinstance(v, Scalar) for v in values):
            raise ValueError(f"filter values are text, numbers or booleans, not {node.value!r}")
    return condition


def _upgraded_where(data: Any) -> Any:
    return upgrade_where(data)[0]


#: A KPI row filter: one condition of the one language (``docs/conditions.md``). The list of
#: filters of earlier releases still loads (as ``all``).
Where = Annotated[Condition | None, BeforeValidator(_upgraded_where),
                  AfterValidator(_fits_kpis)]


class Aggregate(_Model):
    """``agg`` of ``field`` over the rows passing ``where`` (count needs no field)."""

    agg: Literal["sum", "count", "mean", "n_unique", "min", "max"]
    field: str | None = None
    where: Where = None

    @model_validator(mode="after")
    def _field_needed(self) -> Aggregate:
        if self.agg not in ("count",) and self.field is None:
            raise ValueError(f"{self.agg} needs a field")
        return self


class Measure(_Model):
    """What the KPI measures."""

    type: Literal["ratio", "sum", "count", "mean", "n_unique"]
    numerator: Aggregate | None = None
    denominator: Aggregate | None = None
    field: str | None = None
    where: Where = None

    @model_validator(mode="after")
    def _shape(self) -> Measure:
        if self.type == "ratio":
            if self.numerator is None or self.denominator is None:
                raise ValueError("a ratio needs a numerator and a denominator")
        elif self.numerator is not None or self.denominator is not None:
            raise ValueError(f"a {self.type} has no numerator/denominator; use field/where")
        elif self.type != "count" and self.field is None:
            raise ValueError(f"a {self.type} needs a field")
        return self


Target = float | Annotated[list[float], Field(min_length=2, max_length=2)]


class Kpi(_Model):
    """One KPI with its target."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]+$")]
    title: str | None = None
    description: str | None = None
    source: str | None = None
    measure: Measure
    where: Where = Field(default=None, description="Population filter.")
    by: str | None = Field(default=None, description="Group by this column (segment …).")
    compare: Compare = ">="
    target: Target | None = None
    targets: dict[str, Target] | None = Field(
        default=None, description="Targets per group value (with `by`).")
    unit: Literal["number", "percent", "per_manager", "cny"] = "number"

    @model_validator(mode="after")
    def _targets(self) -> Kpi:
        if self.target is None and not self.targets:
            raise ValueError("give a target (or targets per group)")
        if self.targets and self.by is None:
            raise ValueError("targets per group need `by`")
        for target in [self.target, *(self.targets or {}).values()]:
            if target is None:
                continue
            if (self.compare == "between") != isinstance(target, list):
                raise ValueError("compare 'between' takes a [low, high] target, and only it")
            if isinstance(target, list) and target[0] > target[1]:
                raise ValueError(f"the range {target} runs backwards")
        return self


class KpiFile(FileHeader):
    """A KPI rule file."""

    kind: Literal["kpis"] = Field(description="What the file holds.")
    name: str = Field(description="Name of the KPI book.")
    description: str | None = Field(default=None, description="What the KPI book is for.")
    source: str | None = None
    kpis: list[Kpi] = Field(min_length=1)


# -- filter types --------------------------------------------------------------------------
_VALUE_WORDS = {"number": "a number", "text": "text", "boolean": "a boolean"}
_COLUMN_WORDS = {"number": "numbers", "text": "text", "boolean": "true or false",
                 "temporal": "dates or times"}
_SUMMED = ("sum", "mean")  # aggregates that need a column of numbers


def _value_kind(value: Scalar) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "number" if isinstance(value, int | float) else "text"


def _show(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else f"{value:g}" if isinstance(
        value, float) else str(value)


def _column_kind(dtype: pl.DataType) -> str | None:
    """The kind of value a column holds, or None when any value may be compared (all null,
    or a type the filters do not know)."""
    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_numeric():
        return "number"
    if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum):
        return "text"
    if dtype.is_temporal():
        return "temporal"
    return None


def _leaves(condition: Condition | None, path: tuple[str | int, ...]
            ) -> Iterable[tuple[tuple[str | int, ...], Condition]]:
    if condition is None:
        return
    if condition.kind == "field":
        yield path, condition
    elif condition.kind == "not":
        yield from _leaves(condition.not_, (*path, "not"))
    else:
        for position, child in enumerate(condition.children):
            yield from _leaves(child, (*path, condition.kind, position))


def _filters(kpi: Kpi) -> Iterable[tuple[tuple[str | int, ...], str, Condition]]:
    """Every comparison in a KPI's filters: (path in the file below the KPI, label, leaf)."""
    groups: list[tuple[tuple[str | int, ...], Condition | None]] = [
        (("where",), kpi.where), (("measure", "where"), kpi.measure.where)]
    for part in ("numerator", "denominator"):
        aggregate = getattr(kpi.measure, part)
        if aggregate is not None:
            groups.append((("measure", part, "where"), aggregate.where))
    for path, where in groups:
        prefix = ".".join(str(p) for p in path[:-1])
        for leaf_path, leaf in _leaves(where, path):
            label = f"{prefix + '.' if prefix else ''}where.{leaf.field}"
            yield leaf_path, label, leaf


def _summed_fields(kpi: Kpi) -> set[str]:
    """Fields the KPI sums or averages: they must hold numbers."""
    m = kpi.measure
    found = {m.field} if m.type in _SUMMED and m.field else set()
    for part in (m.numerator, m.denominator):
        if part is not None and part.agg in _SUMMED and part.field:
            found.add(part.field)
    return found


def _values(where: Condition) -> list[Scalar]:
    if where.value is None:
        return []
    return list(where.value) if isinstance(where.value, list | tuple) else [where.value]


def _file_problems(kpi: Kpi) -> Iterable[tuple[tuple[str | int, ...], str]]:
    """Filter values the file itself shows to be of the wrong kind: (path, reason)."""
    summed = _summed_fields(kpi)
    for path, label, where in _filters(kpi):
        values = _values(where)
        kinds = sorted({_value_kind(v) for v in values})
        if len(kinds) > 1:
            words = ", ".join(_VALUE_WORDS[k] for k in kinds)
            yield (*path, "value"), (f"kpi {kpi.id!r}: {label}: the values mix kinds ({words}); "
                                     "a column holds one kind")
            continue
        if where.field in summed and kinds and kinds[0] != "number" \
                and where.op not in ("is_null", "not_null"):
            value = values[0]
            yield (*path, "value"), (
                f"kpi {kpi.id!r}: {label}: {_show(value)} is {_VALUE_WORDS[kinds[0]]} but "
                f"{where.field} is summed, so it holds numbers")


def check_filter_types(kpi: Kpi, schema: pl.Schema) -> None:
    """Raise EvaluationError for a filter value of another kind than its column."""
    for _path, label, where in _filters(kpi):
        dtype = schema.get(where.field or "")
        column = _column_kind(dtype) if dtype is not None else None
        if column is None:
            continue
        for value in _values(where):
            kind = _value_kind(value)
            if kind != column:
                raise EvaluationError(
                    f"kpi {kpi.id!r}: {label}: {_show(value)} is {_VALUE_WORDS[kind]} but "
                    f"column {where.field} holds {_COLUMN_WORDS[column]}",
                    rule=kpi.id, field=label)


# -- evaluation: every filter and aggregate is a rule-IR tree (vip_workflow.rules.ir) --------
def _leaf_ir(w: Condition) -> ir.Node:
    """One comparison; a null value makes it false (except is_null)."""
    column = ir.Column(w.field or "")
    if w.op in ("is_null", "not_null"):
        return ir.IsNull(column) if w.op == "is_null" else ir.Known(column)
    no = ir.Const(False)
    if w.op in ("in", "not_in"):
        values = _values(w)
        # an int column and a float in the list (or the reverse) compare as floats
        numeric = bool(values) and all(_value_kind(v) == "number" for v in values)
        found: ir.Node = ir.InList(column, tuple(values), numeric=numeric)
        expr = found if w.op == "in" else ir.Logic("not", (found,))
        return ir.When(((ir.IsNull(column), no),), ir.FillNull(expr, no))
    if w.op == "between":
        low, high = w.value
        return ir.FillNull(ir.Logic("and", (ir.Cmp(">=", column, ir.Const(low)),
                                            ir.Cmp("<=", column, ir.Const(high)))), no)
    return ir.FillNull(ir.Cmp(w.op or "==", column, ir.Const(w.value)), no)  # type: ignore[arg-type]


def condition_ir(where: Condition | None) -> ir.Node:
    """A filter as one boolean IR tree (no filter keeps every row)."""
    if where is None:
        return ir.Const(True)
    if where.kind == "field":
        return _leaf_ir(where)
    if where.kind == "not":
        return ir.Logic("not", (condition_ir(where.not_),))
    return ir.Logic("and" if where.kind == "all" else "or",
                    tuple(condition_ir(child) for child in where.children))


def _aggregate_ir(agg: str, field: str | None, where: Condition | None) -> ir.Aggregate:
    if agg == "count":
        return (ir.Aggregate("count_true", condition_ir(where)) if where is not None
                else ir.Aggregate("len"))
    return ir.Aggregate(agg, ir.Filter(ir.Column(field or ""),  # type: ignore[arg-type]
                                       condition_ir(where)))


def query_ir(kpi: Kpi) -> ir.GroupAggregate:
    """The KPI's population, groups and aggregates (``numerator``, and ``denominator`` for a
    ratio) as one group-aggregate of the rule IR."""
    m = kpi.measure
    aggregates: tuple[tuple[str, ir.Aggregate], ...]
    if m.type == "ratio":
        assert m.numerator is not None and m.denominator is not None
        aggregates = (
            ("numerator", _aggregate_ir(m.numerator.agg, m.numerator.field, m.numerator.where)),
            ("denominator", _aggregate_ir(m.denominator.agg, m.denominator.field,
                                          m.denominator.where)))
    else:
        aggregates = (("numerator", _aggregate_ir(m.type, m.field, m.where)),)
    where = condition_ir(kpi.where) if kpi.where is not None else None
    return ir.GroupAggregate(where, kpi.by, aggregates)


def columns_read(kpi: Kpi) -> set[str]:
    """Every column a KPI reads: its filters', its measure's and its ``by``."""
    return _columns(kpi)


def _columns(kpi: Kpi) -> set[str]:
    m = kpi.measure
    wheres = [kpi.where, m.where]
    fields = {m.field} if m.field else set()
    for part in (m.numerator, m.denominator):
        if part is not None:
            wheres.append(part.where)
            fields |= {part.field} if part.field else set()
    read = set().union(*(w.fields() for w in wheres if w is not None))
    return read | fields | ({kpi.by} if kpi.by else set())


def _judge(value: float | None, compare: str, target: Any) -> tuple[str, float | None]:
    if target is None:
        return "no target", None
    if value is None:
        return "n/a", None
    if compare == "between":
        low, high = target
        gap = min(value - low, high - value)
        return ("pass" if gap >= 0 else "fail"), gap
    gap = {">=": value - target, ">": value - target, "<=": target - value,
           "<": target - value, "==": -abs(value - target)}[compare]
    ok = {">=": gap >= 0, ">": gap > 0, "<=": gap >= 0, "<": gap > 0, "==": gap == 0}[compare]
    return ("pass" if ok else "fail"), gap


def _show_target(target: Any) -> str | None:
    if target is None:
        return None
    if isinstance(target, list):
        return f"[{target[0]:g}, {target[1]:g}]"
    return f"{target:g}"


def check_kpi(kpi: Kpi, frame: pl.DataFrame) -> list[dict[str, Any]]:
    check_columns(kpi, frame.schema)
    table = ir.run_group_aggregate(query_ir(kpi), frame, extra_groups=list(kpi.targets or {}))
    return kpi_rows(kpi, table)


def check_columns(kpi: Kpi, schema: pl.Schema) -> None:
    """Raise EvaluationError for a column the KPI reads that ``schema`` lacks, or a filter
    value of another kind than its column."""
    missing = sorted(c for c in _columns(kpi) if c not in schema)
    if missing:
        raise EvaluationError(f"KPI {kpi.id} needs the column(s) {', '.join(missing)}",
                              rule=kpi.id, field=missing[0])
    check_filter_types(kpi, schema)


def kpi_rows(kpi: Kpi, table: pl.DataFrame) -> list[dict[str, Any]]:
    """The result rows of ``kpi`` from its group table (``segment``, ``numerator`` and, for a
    ratio, ``denominator``, ``rows``: what ``ir.run_group_aggregate`` gives)."""
    results = []
    for row in table.iter_rows(named=True):
        numerator, denominator = row["numerator"], row.get("denominator")
        ratio = kpi.measure.type == "ratio"
        value = ir.safe_div(numerator, denominator) if ratio else numerator
        if row["rows"] == 0:
            value = None
        target = (kpi.targets or {}).get(row["segment"], kpi.target) \
            if row["segment"] is not None else kpi.target
        status, gap = _judge(value, kpi.compare, target)
        results.append({
            "kpi": kpi.id, "title": kpi.title or kpi.id, "by": kpi.by,
            "segment": row["segment"], "value": value, "target": _show_target(target),
            "comparison": kpi.compare, "status": status, "gap": gap,
            "numerator": numerator,
            "denominator": denominator if kpi.measure.type == "ratio" else None,
            "rows": row["rows"], "unit": kpi.unit,
        })
    return results


class KpiReport:
    """The results of ``KpiBook.check``: a DataFrame plus terminal and notebook views."""

    def __init__(self, frame: pl.DataFrame, name: str = "kpis") -> None:
        self.frame = frame
        self.name = name

    @property
    def ok(self) -> bool:
        """True when no KPI failed."""
        return not (self.frame["status"] == "fail").any()

    @property
    def failed(self) -> pl.DataFrame:
        return self.frame.filter(pl.col("status") == "fail")

    def to_pandas(self) -> Any:
        return self.frame.to_pandas()

    def to_rich_table(self) -> Any:
        """A ``rich.table.Table`` (print it with a rich Console)."""
        from rich.table import Table

        table = Table(title=f"KPIs — {self.name}")
        for column in ("kpi", "segment", "value", "target", "status", "gap"):
            table.add_column(column, justify="right" if column in ("value", "gap") else "left")
        colours = {"pass": "green", "fail": "red"}
        for row in self.frame.iter_rows(named=True):
            status = row["status"]
            colour = colours.get(status, "yellow")
            table.add_row(
                row["title"], row["segment"] or "all", _fmt(row["value"], row["unit"]),
                f"{row['comparison']} {_fmt_target(row['target'], row['unit'])}",
                f"[{colour}]{status}[/{colour}]", _fmt(row["gap"], row["unit"], signed=True))
        return table

    def _repr_html_(self) -> str:
        colours = {"pass": "#1a7f37", "fail": "#cf222e"}
        body = "".join(
            f"<tr><td>{html.escape(r['title'])}</td><td>{html.escape(r['segment'] or 'all')}"
            f"</td><td style='text-align:right'>{_fmt(r['value'], r['unit'])}</td>"
            f"<td>{html.escape(r['comparison'])} {_fmt_target(r['target'], r['unit'])}</td>"
            f"<td style='color:{colours.get(r['status'], '#9a6700')}'>{r['status']}</td>"
            f"<td style='text-align:right'>{_fmt(r['gap'], r['unit'], signed=True)}</td></tr>"
            for r in self.frame.iter_rows(named=True))
        return (f"<table><caption>KPIs — {html.escape(self.name)}</caption><thead><tr>"
                "<th>kpi</th><th>segment</th><th>value</th><th>target</th><th>status</th>"
                f"<th>gap</th></tr></thead><tbody>{body}</tbody></table>")

    def __repr__(self) -> str:
        counts = self.frame["status"].value_counts().sort("status").iter_rows()
        return f"<KpiReport {self.name}: " + ", ".join(f"{n} {s}" for s, n in counts) + ">"


def _fmt(value: float | None, unit: str, *, signed: bool = False) -> str:
    if value is None:
        return "—"
    sign = "+" if signed else ""
    if unit == "percent":
        return f"{value * 100:{sign}.1f} %"
    if unit == "cny":
        return f"{value:{sign},.0f}"
    return f"{value:{sign},.2f}".rstrip("0").rstrip(".")


def _fmt_target(target: str | None, unit: str) -> str:
    if target is None:
        return "—"
    if target.startswith("["):
        low, high = (float(x) for x in target.strip("[]").split(","))
        return f"[{_fmt(low, unit)}, {_fmt(high, unit)}]"
    return _fmt(float(target), unit)


class KpiBook:
    """A validated KPI file."""

    def __init__(self, rules: KpiFile, *, path: str | None = None,
                 document: Document | None = None) -> None:
        self.rules = rules
        self.path = path
        self.document = document

    @property
    def name(self) -> str:
        return self.rules.name

    @property
    def version(self) -> str:
        return self.rules.version

    @property
    def kpis(self) -> tuple[Kpi, ...]:
        return tuple(self.rules.kpis)

    @property
    def fields(self) -> tuple[str, ...]:
        """Portfolio columns the KPIs read."""
        return tuple(sorted(set().union(*(_columns(k) for k in self.rules.kpis))))

    def __len__(self) -> int:
        return len(self.rules.kpis)

    def ids(self) -> tuple[str, ...]:
        """The KPIs' ids, in file order."""
        return tuple(k.id for k in self.rules.kpis)

    def missing_columns(self, columns: Iterable[str]) -> dict[str, list[str]]:
        """KPI id → the columns it reads that ``columns`` lacks (only KPIs lacking some)."""
        have = set(columns)
        missing = {k.id: sorted(c for c in _columns(k) if c not in have)
                   for k in self.rules.kpis}
        return {kpi: cols for kpi, cols in missing.items() if cols}

    @overload
    def check(self, portfolio: pl.DataFrame | pl.LazyFrame, *,
              kpis: Iterable[str] | None = None, bind: Any = None) -> pl.DataFrame: ...

    @overload
    def check(self, portfolio: object, *, kpis: Iterable[str] | None = None,
              bind: Any = None) -> Any: ...

    def check(self, portfolio: object, *, kpis: Iterable[str] | None = None,
              bind: Any = None) -> Any:
        """One result row per KPI (and group); see the module docstring for the columns.

        A DuckDB relation, or a SQLAlchemy ``Table`` with ``bind=engine``, is checked inside
        its database by the back end registered for it
        (``vip_workflow.rules.batch_backends``): the same rows, as a DuckDB relation for a
        relation and a polars frame for a table; a Spark DataFrame gives a lazy Spark
        DataFrame."""
        wanted = set(kpis) if kpis is not None else None
        chosen = [k for k in self.rules.kpis if wanted is None or k.id in wanted]
        if not isinstance(portfolio, pl.DataFrame | pl.LazyFrame) \
                and not type(portfolio).__module__.startswith("pandas"):
            from vip_workflow.rules.batch_backends import backend_for

            backend = backend_for("kpis", portfolio)
            if backend is not None:
                return backend.run(chosen, portfolio, bind=bind)
        frame = _frame(portfolio)
        rows: list[dict[str, Any]] = []
        for kpi in chosen:
            rows += check_kpi(kpi, frame)
        return pl.DataFrame(rows, schema=RESULT_SCHEMA)

    def report(self, portfolio: Any, *, kpis: Iterable[str] | None = None) -> KpiReport:
        """``check`` wrapped for display: ``to_rich_table()`` and HTML in notebooks."""
        from vip_workflow.rules.batch_backends import collected

        return KpiReport(collected(self.check(portfolio, kpis=kpis)), self.name)

    def to_rich_table(self, results: pl.DataFrame) -> Any:
        """A rich table of ``check`` results."""
        return KpiReport(results, self.name).to_rich_table()

    def lint(self) -> Any:
        """Targets on the wrong scale or impossible to meet; a ``vw.LintReport``.

        ``old-spelling`` (warning): a filter in a spelling of earlier releases (see
        ``docs/conditions.md``); ``percent-scale`` (warning): a percent KPI with a target
        above 1 — targets are fractions, 0.27 for 27 %; ``never-passes`` (error): a ratio of
        counts (a share) with
        ``>``/``>=`` a target above 1.
        """
        findings: list[Finding] = []
        for position, kpi in enumerate(self.rules.kpis):
            targets: list[tuple[str | tuple[str, str], Any]] = (
                [("target", kpi.target)] if kpi.target is not None else [])
            targets += [(("targets", key), value) for key, value in (kpi.targets or {}).items()]
            share = (kpi.measure.type == "ratio" and kpi.measure.numerator is not None
                     and kpi.measure.numerator.agg == "count"
                     and kpi.measure.denominator is not None
                     and kpi.measure.denominator.agg == "count")
            for key, target in targets:
                high = max(target) if isinstance(target, list) else target
                where = ("kpis", position, *(key if isinstance(key, tuple) else (key,)))
                line, column = (self.document.locate(where) if self.document is not None
                                else (None, None))
                field = f"kpis[{position}] ({kpi.id}).{'.'.join(map(str, where[2:]))}"
                if kpi.unit == "percent" and high > 1:
                    findings.append(Finding(
                        "warning", "percent-scale",
                        f"a percent target of {high:g} means {high * 100:g} %; write 27 % as "
                        "0.27", field, line, column))
                if share and kpi.compare in (">", ">=") and high > 1:
                    findings.append(Finding(
                        "error", "never-passes",
                        f"a share of counts is at most 1, so {kpi.compare} {high:g} never "
                        "passes", field, line, column))
        if self.document is not None:
            from vip_workflow.rules.files.conditions import old_spellings

            for old in old_spellings(self.document.data):
                field = ".".join(str(p) for p in old.path)
                findings.append(Finding("warning", "old-spelling", old.reason, field,
                                        self.document.locate(old.path)[0]))
        return LintReport(findings, path=self.path)

    def to_dict(self) -> dict[str, Any]:
        return self.rules.model_dump(mode="json", exclude_none=True)

    def save(self, path: str | Path) -> Path:
        """Write the KPI file (YAML, or JSON for a .json path)."""
        from vip_workflow.rules.files.document import write_rule_file

        return write_rule_file(self.to_dict(), path)

    def __repr__(self) -> str:
        return f"<KpiBook {self.name!r} v{self.version}: {len(self)} KPIs>"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(k.id)}</td><td>{html.escape(k.title or '')}</td>"
            f"<td>{html.escape(k.compare)} "
            f"{html.escape(_show_target(k.target) or json.dumps(k.targets))}</td></tr>"
            for k in self.rules.kpis)
        return (f"<div><strong>KpiBook {html.escape(self.name)}</strong><table><thead><tr>"
                f"<th>id</th><th>title</th><th>target</th></tr></thead><tbody>{rows}</tbody>"
                "</table></div>")


def _frame(portfolio: Any) -> pl.DataFrame:
    if isinstance(portfolio, pl.LazyFrame):
        return portfolio.collect()
    if isinstance(portfolio, pl.DataFrame):
        return portfolio
    if type(portfolio).__module__.startswith("pandas"):
        frame: pl.DataFrame = pl.from_pandas(portfolio, include_index=False)
        return frame
    return pl.DataFrame(list(portfolio))


def from_document(document: Document) -> KpiBook:
    """Validate a ``kind: kpis`` Document into a KpiBook (located errors)."""
    rules = validate_document(document, KpiFile)
    seen: dict[str, int] = {}
    for position, kpi in enumerate(rules.kpis):
        if kpi.id in seen:
            raise document.error(f"the KPI id {kpi.id!r} is used twice",
                                 ("kpis", position, "id"))
        seen[kpi.id] = position
        for path, reason in _file_problems(kpi):
            raise document.error(reason, ("kpis", position, *path))
    return KpiBook(rules, path=document.path, document=document)


def kpis_schema() -> dict[str, Any]:
    """The JSON Schema of KPI files (``schema_for("kpis")``)."""
    return schema_for("kpis")
