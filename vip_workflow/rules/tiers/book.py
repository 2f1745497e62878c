"""RuleBook: a loaded tier rule file that judges one customer or a whole portfolio."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, overload

import polars as pl

from vip_workflow.domain.decisions import Decision
from vip_workflow.errors import EvaluationError, UnknownPresetError
from vip_workflow.rules.files.document import (
    Document,
    dump_yaml,
    read_document,
    validate_document,
    write_rule_file,
)
from vip_workflow.rules.tiers import schema
from vip_workflow.rules.tiers._polars import clean_column, judge_columns, judge_frame, reads
from vip_workflow.rules.tiers.compiled import Plan, compile_rules
from vip_workflow.rules.tiers.evaluate import RowEvaluator
from vip_workflow.rules.tiers.expressions import Query, build_query

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import sqlalchemy as sa
    from typing_extensions import TypeIs

    from vip_workflow.rules.kpis.book import KpiBook
    from vip_workflow.rules.tiers.lint import LintReport
    from vip_workflow.rules.triggers import TriggerBook

__all__ = ["AnyBook", "RuleBook", "RuleKind", "load_rules", "loads_rules", "preset", "presets",
           "rules_schema"]

#: The book a rule file loads into: one per ``kind``.
AnyBook: TypeAlias = "RuleBook | TriggerBook | KpiBook"
#: The kinds of rule file.
RuleKind: TypeAlias = Literal["tiers", "triggers", "kpis"]
#: Records ``judge_many`` takes besides data frames: mappings of field to value.
Records: TypeAlias = Iterable[Mapping[str, Any]]
#: Where ``load_rules`` reads a rule file: a YAML or JSON path, or the file's data.
Source: TypeAlias = str | Path | Mapping[str, Any]

_PRESETS = "vip_workflow.rules.presets"


class RuleBook:
    """A validated, compiled tier rule file.

    ``judge`` takes one record (a mapping or an object with attributes, e.g. a pydantic model)
    and returns a :class:`Decision` with its trace. ``judge_many`` takes a polars or pandas
    DataFrame (or an iterable of mappings) and returns a DataFrame of the same library with
    ``tier``, ``rule`` and ``reason`` appended — the same answers, computed column-wise.
    """

    def __init__(self, rules: schema.RuleFile, plan: Plan, *, path: str | None = None,
                 document: Document | None = None) -> None:
        self.rules = rules
        self.plan = plan
        self.path = path
        self.document = document  # where each field stood in the file, for lint findings
        self._evaluator = RowEvaluator(plan)
        self._query: Query | None = None
        self._read_columns: dict[str, set[str]] | None = None

    # -- facts -----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def version(self) -> str:
        return self.plan.version

    @property
    def tiers(self) -> tuple[str, ...]:
        """Declared tiers, highest first."""
        return self.plan.tiers

    @property
    def fields(self) -> tuple[str, ...]:
        """Input fields the rules may read."""
        return self.plan.fields()

    @property
    def needs_portfolio(self) -> bool:
        """True for quota schemes: tiers depend on the whole portfolio."""
        return self.plan.needs_portfolio

    # -- judging ---------------------------------------------------------------------------
    def judge(self, record: object, *, strict: bool = False) -> Decision:
        """Judge one customer. ``strict=True`` raises EvaluationError instead of returning a
        decision without a tier."""
        decision = self._evaluator.judge(record)
        if strict and decision.tier is None:
            raise EvaluationError(decision.reason or "could not judge", customer=decision.customer)
        return decision

    def judge_rows(self, records: Iterable[object]) -> list[Decision]:
        """Judge records one by one with full traces (quota schemes rank them together)."""
        return self._evaluator.judge_rows(records)

    @overload
    def judge_many(self, data: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame: ...

    @overload
    def judge_many(self, data: pd.DataFrame | Records) -> pd.DataFrame: ...

    @overload
    def judge_many(self, data: object, *, bind: Any = None) -> Any: ...

    def judge_many(
        self, data: pl.DataFrame | pl.LazyFrame | pd.DataFrame | Records | object, *,
        bind: Any = None,
    ) -> Any:
        """Judge a portfolio column-wise; returns a DataFrame of the input's library (polars
        for a polars DataFrame or LazyFrame, pandas for a pandas DataFrame or records).
        Other inputs go to the back end registered for them (``backends.py``): a DuckDB
        relation stays a relation, a SQLAlchemy ``Table`` (with ``bind=engine``: a table
        carries no engine) gives a polars frame fetched as Arrow.

        Every row gets exactly ``judge``'s answer: a column whose values polars would coerce
        (booleans among numbers, integers beyond 64 bits, object columns mixing kinds) is read
        value by value first; clean numeric, text and boolean columns go to polars as they are.
        """
        if isinstance(data, pl.LazyFrame):
            data = data.collect()
        if isinstance(data, pl.DataFrame):
            return self._judge_polars(data)
        if _is_pandas(data):
            return self._judge_pandas(data)
        from vip_workflow.rules.tiers.backends import backend_for

        lowering = backend_for(data)
        if lowering is not None:
            return lowering.judge(self, data, bind=bind)
        return self._judge_records(data)  # type: ignore[arg-type]

    @property
    def _reads(self) -> dict[str, set[str]]:
        """Each input column the portfolio query reads, and how."""
        if self._read_columns is None:
            self._read_columns = reads(self.plan, self.query)
        return self._read_columns

    def _judge_polars(self, frame: pl.DataFrame) -> pl.DataFrame:
        objects = [name for name in self._reads
                   if name in frame.columns and frame.schema[name] == pl.Object]
        if not objects:  # the fast path: polars reads every column as it is
            return judge_frame(self.plan, self.query, frame)
        columns = {name: frame.get_column(name).to_list() for name in objects}
        readable = self._readable(frame.drop(objects), columns)
        if readable is None:  # a column read in two ways: judge row by row
            decisions = self._evaluator.judge_rows(frame.to_dicts())
            tiers, rules = pl.Enum(list(self.tiers)), pl.Enum(list(self.plan.rule_ids))
            answers = [pl.Series("tier", [d.tier for d in decisions], dtype=tiers),
                       pl.Series("rule", [d.rule for d in decisions], dtype=rules),
                       pl.Series("reason", [d.reason for d in decisions], dtype=pl.String)]
            if self._computed(frame.columns):
                answers.append(pl.Series("computed_tier", [d.computed_tier for d in decisions],
                                         dtype=tiers))
            return frame.with_columns(answers)
        return frame.with_columns(**judge_columns(self.plan, self.query, readable))

    def _judge_pandas(self, data: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        clean: dict[str, pl.Series] = {}
        columns: dict[str, list[Any]] = {}
        for name, how in self._reads.items():
            if name not in data.columns:
                continue
            series = data[name]
            if series.dtype == object and not _all_text(series, how):
                columns[name] = series.tolist()
                continue
            try:
                clean[name] = pl.Series(name, pl.from_pandas(series))
            except Exception:  # a dtype polars cannot take: read value by value
                columns[name] = series.tolist()
        frame = pl.DataFrame(list(clean.values())) if clean else pl.DataFrame(height=len(data))
        readable = self._readable(frame, columns) if columns else frame
        if readable is None:
            answers = self._decisions_frame(data.to_dict("records"))
            names = ["tier", "rule", "reason", *self._computed(data.columns)]
            answers = answers[names]
        else:
            answers = pl.DataFrame(judge_columns(self.plan, self.query, readable)).to_pandas()
        answers.index = data.index
        return pd.concat([data.drop(columns=list(answers.columns), errors="ignore"), answers],
                         axis=1)

    def _judge_records(self, records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
        import pandas as pd

        rows = [dict(r) for r in records]
        names = [n for n in self._reads if any(n in row for row in rows)]
        columns = {n: [row.get(n) for row in rows] for n in names}
        readable = self._readable(pl.DataFrame(height=len(rows)), columns)
        if readable is None:
            return self._decisions_frame(rows)
        answers = pl.DataFrame(judge_columns(self.plan, self.query, readable)).to_pandas()
        result = pd.DataFrame(rows)
        return pd.concat([result.drop(columns=list(answers.columns), errors="ignore"), answers],
                         axis=1)

    def _readable(self, frame: pl.DataFrame,
                  columns: Mapping[str, list[Any]]) -> pl.DataFrame | None:
        """``frame`` with each column of Python values cleaned as the rules read it; None when
        a column is read in two ways (then only row-by-row judging is exact)."""
        series: list[pl.Series] = []
        for name, values in columns.items():
            how = self._reads[name]
            if len(how) != 1:
                return None
            series += clean_column(name, next(iter(how)), values)
        return frame.with_columns(series)

    def _decisions_frame(self, rows: Sequence[Mapping[Any, Any]]) -> pd.DataFrame:
        """The rows judged one by one, as a pandas frame with the answer columns."""
        import pandas as pd

        decisions = self._evaluator.judge_rows(rows)
        result = pd.DataFrame(rows)
        result["tier"] = pd.Categorical([d.tier for d in decisions], categories=self.tiers)
        result["rule"] = pd.Categorical([d.rule for d in decisions],
                                        categories=self.plan.rule_ids)
        result["reason"] = [d.reason for d in decisions]
        if self.plan.override and self.plan.override.tier in result.columns:
            result["computed_tier"] = pd.Categorical([d.computed_tier for d in decisions],
                                                     categories=self.tiers)
        return result

    def _computed(self, columns: Iterable[str]) -> list[str]:
        override = self.plan.override
        return ["computed_tier"] if override is not None and override.tier in columns else []

    def judge_sql(self, bind: sa.Engine | sa.Connection | str | duckdb.DuckDBPyConnection,
                  table: sa.Table | str, *, schema: str | None = None,
                  keep: list[str] | None = None, order_by: str | None = None,
                  ordered: bool = True) -> pl.DataFrame:
        """Judge every row of a database table inside the database (SQLAlchemy engine, connection
        or URL, or a raw ``duckdb`` connection; a table name or ``sqlalchemy.Table``). Returns a
        polars DataFrame of the ``keep`` columns (default: all) plus ``tier``, ``rule`` and
        ``reason`` — the answers of ``judge_many``, computed by one SELECT and fetched as Arrow.
        Rows come ordered by ``order_by`` (default: the rule book's ``id_field`` when the table
        has it; SQL tables have no order of their own). ``ordered=False`` skips the sort: rows
        come in whatever order the database gives them, several times faster on a large table
        keyed by text (the answers themselves do not depend on the order)."""
        import sqlalchemy as sa

        from vip_workflow.rules.tiers import _duckdb, _sqlalchemy

        engine = sa.create_engine(bind) if isinstance(bind, str) else bind
        duck = _duckdb.raw_connection(engine)
        if duck is not None and not isinstance(table, sa.Table):
            # DuckDB's own catalogue: duckdb_engine cannot reflect every table
            name = f"{schema}.{table}" if schema else table
            columns = keep or [c for c in duck.table(name).columns]
            return _duckdb.judge_table(self, duck, name, keep=columns,
                                       order_by=self._order(order_by, columns, ordered))
        if isinstance(table, str):
            table = sa.Table(table, sa.MetaData(), autoload_with=engine,  # type: ignore[arg-type]
                             schema=schema)
        keep = list(keep) if keep is not None else [c.name for c in table.columns]
        return _sqlalchemy.judge_table(self, engine, table, keep=keep,  # type: ignore[arg-type]
                                       order_by=self._order(order_by, keep, ordered))

    def _order(self, order_by: str | None, columns: list[str], ordered: bool) -> str | None:
        """The column judge_sql sorts by: ``order_by``, else the id field if kept; none when
        ``ordered`` is false."""
        if not ordered:
            return None
        return order_by or (self.plan.id_field if self.plan.id_field in columns else None)

    def sql(self, table: sa.Table | str, *, dialect: str = "postgresql") -> str:
        """The SELECT that judges ``table`` (a ``sqlalchemy.Table``) in ``dialect``:
        ``postgresql``, ``sqlite``, ``duckdb`` or ``spark`` (Spark SQL and Hive)."""
        from vip_workflow.rules.tiers._sqlalchemy import statement

        if isinstance(table, str):
            raise TypeError("pass a sqlalchemy.Table so the column types are known")
        name = {"postgresql": "postgres"}.get(dialect, dialect)
        return statement(self, table, dialect=name, keep=[c.name for c in table.columns])

    @property
    def query(self) -> Query:
        """The back-end-neutral portfolio query (built on first use)."""
        if self._query is None:
            self._query = build_query(self.plan)
        return self._query

    # -- other views -----------------------------------------------------------------------
    def lint(self) -> LintReport:
        """Gaps, overlaps, shadowed bands and unreachable tiers in this rule book."""
        from vip_workflow.rules.tiers.lint import lint_book

        return lint_book(self)

    def to_dict(self) -> dict[str, Any]:
        """The rule file as plain data."""
        return self.rules.model_dump(mode="json", by_alias=True, exclude_none=True)

    def to_yaml(self) -> str:
        return dump_yaml(self.to_dict())

    def save(self, path: str | Path) -> Path:
        """Write the rule file (YAML, or JSON for a .json path)."""
        return write_rule_file(self.to_dict(), path)

    def __repr__(self) -> str:
        scheme = self.rules.scheme.type
        return f"<RuleBook {self.name!r} v{self.version}: {scheme}, tiers {' > '.join(self.tiers)}>"

    def _repr_html_(self) -> str:
        return (f"<div><strong>RuleBook {html.escape(self.name)}</strong> v"
                f"{html.escape(self.version)} — {html.escape(self.rules.scheme.type)}; tiers "
                f"{html.escape(' > '.join(self.tiers))}; reads "
                f"{html.escape(', '.join(self.fields))}</div>")


def _all_text(series: pd.Series, how: set[str]) -> bool:
    """True for an object column of texts only (no nulls): polars takes it as it is."""
    from pandas.api.types import infer_dtype

    return how <= {"text", "override-text", "override-tier"} and infer_dtype(
        series, skipna=False) == "string"


def _is_pandas(data: object) -> TypeIs[pd.DataFrame]:
    module = type(data).__module__
    return module.startswith("pandas") and type(data).__name__ == "DataFrame"


def tier_book_from(document: Document) -> RuleBook:
    """Validate and compile a tier rule file's Document."""
    rules = validate_document(document, schema.RuleFile)
    plan = compile_rules(document, rules)
    return RuleBook(rules, plan, path=document.path, document=document)


RULE_KINDS: tuple[RuleKind, ...] = ("tiers", "triggers", "kpis")


def _book_from(document: Document, expected: RuleKind | None = None) -> AnyBook:
    """The book of the Document's kind (``tiers`` when unset); ``expected`` refuses another
    kind. The modules of the other kinds are imported on first use."""
    data = document.data
    kind = data.get("kind", "tiers") if isinstance(data, dict) else "tiers"
    if kind not in RULE_KINDS:
        raise document.error(
            f"unknown kind {kind!r}; a rule file is one of: {', '.join(RULE_KINDS)}", ("kind",)
        )
    if expected is not None and kind != expected:
        raise document.error(f"expected a rule file of kind {expected}, not {kind}", ("kind",))
    if kind == "triggers":
        from vip_workflow.rules.triggers import from_document as triggers_from

        return triggers_from(document)
    if kind == "kpis":
        from vip_workflow.rules.kpis.book import from_document as kpis_from

        return kpis_from(document)
    return tier_book_from(document)



@overload
def load_rules(source: Source, *, kind: Literal["tiers"]) -> RuleBook: ...
@overload
def load_rules(source: Source, *, kind: Literal["triggers"]) -> TriggerBook: ...
@overload
def load_rules(source: Source, *, kind: Literal["kpis"]) -> KpiBook: ...
@overload
def load_rules(source: Source, *, kind: None = None) -> AnyBook: ...
def load_rules(source: Source, *, kind: RuleKind | None = None) -> AnyBook:
    """Load a rule file (YAML or JSON path, or a mapping); raises RuleFileError when bad.

    Returns a RuleBook for ``kind: tiers`` (the default), or the book of the file's kind.
    With ``kind`` a file of another kind is a RuleFileError, and type checkers know the book.
    """
    return _book_from(read_document(source), kind)


@overload
def loads_rules(text: str, *, name: str = ..., kind: Literal["tiers"]) -> RuleBook: ...
@overload
def loads_rules(text: str, *, name: str = ..., kind: Literal["triggers"]) -> TriggerBook: ...
@overload
def loads_rules(text: str, *, name: str = ..., kind: Literal["kpis"]) -> KpiBook: ...
@overload
def loads_rules(text: str, *, name: str = ..., kind: None = None) -> AnyBook: ...
def loads_rules(text: str, *, name: str = "<text>.yaml",
                kind: RuleKind | None = None) -> AnyBook:
    """Load rules from text; ``name`` (ending .json for JSON) appears in error messages;
    ``kind`` as in ``load_rules``."""
    return _book_from(read_document(name, text=text), kind)


def presets(kind: str | None = None) -> list[str]:
    """Names of the bundled rule books; ``kind`` keeps one kind (tiers, triggers, kpis)."""
    folder = resources.files(_PRESETS)
    names = sorted(p.name.removesuffix(".yaml") for p in folder.iterdir()
                   if p.name.endswith(".yaml") and not p.name.endswith(".scenarios.yaml"))
    if kind is None:
        return names
    return [n for n in names if _preset_kind(n) == kind]


def _preset_kind(name: str) -> str:
    text = resources.files(_PRESETS).joinpath(f"{name}.yaml").read_text("utf-8")
    data = read_document(f"preset:{name}.yaml", text=text).data
    found = data.get("kind", "tiers") if isinstance(data, dict) else "tiers"
    return found if isinstance(found, str) else "tiers"


@overload
def preset(name: str, *, kind: Literal["tiers"]) -> RuleBook: ...
@overload
def preset(name: str, *, kind: Literal["triggers"]) -> TriggerBook: ...
@overload
def preset(name: str, *, kind: Literal["kpis"]) -> KpiBook: ...
@overload
def preset(name: str, *, kind: None = None) -> AnyBook: ...
def preset(name: str, *, kind: RuleKind | None = None) -> AnyBook:
    """Load a bundled rule book by name, e.g. ``preset("hubei-2006", kind="tiers")``;
    ``kind`` as in ``load_rules``."""
    known = presets()
    if name not in known:
        raise UnknownPresetError(name, known)
    item = resources.files(_PRESETS).joinpath(f"{name}.yaml")
    return _book_from(read_document(f"preset:{name}.yaml", text=item.read_text("utf-8")), kind)


def rules_schema() -> dict[str, Any]:
    """The JSON Schema of tier rule files, for editors (``schema_for("tiers")``)."""
    from vip_workflow.rules.files.kinds import schema_for

    return schema_for("tiers")
