"""Trigger scans in a database: the rule IR of every trigger lowered to one SELECT (sqlglot) for
DuckDB, PostgreSQL and SQLite, giving the signals ``scan`` gives on polars.

The SELECT is a chain of sub-selects over the history:

1. the month of each row as its first day and as a month number (``year · 12 + month``), the
   fields read as the facts read them (numbers as doubles with NaN unknown, dates as dates);
2. ``Lag(field, k)``: the field of the row ``k`` calendar months earlier, a window over the
   month number with the frame ``RANGE BETWEEN k PRECEDING AND k PRECEDING`` — a month missing
   from the history is an empty frame, so a null, never the previous row;
3. the ``Let`` intermediates (mean, spread …), a stage per nesting depth; the facts; whether
   each trigger holds; an onset (the same window one month back);
4. the fired rows crossed with a small table of the triggers, with their evidence: a list of
   ``{name, value}`` structs on DuckDB, one column per item elsewhere (assembled into the same
   list column after the fetch).

``book.scan(relation)`` on a DuckDB relation returns a lazy relation; on a SQLAlchemy ``Table``
(``scan(table, bind=engine)``) a polars frame, fetched as Arrow where the driver can. Both
check first that no customer has two rows for one month and that no row lacks its id or month.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from vip_workflow._extras import require

require("sqlglot", "scanning triggers in a database")  # MissingExtraError names the extra

from sqlglot import exp  # noqa: E402

from vip_workflow.errors import ConfigError, EvaluationError  # noqa: E402
from vip_workflow.rules import _ir_sql as lower  # noqa: E402
from vip_workflow.rules import ir  # noqa: E402
from vip_workflow.rules.triggers.plan import TriggerPlan, unique_items  # noqa: E402

if TYPE_CHECKING:
    import duckdb
    import polars as pl
    import sqlalchemy as sa

__all__ = ["DUCKDB", "SQLALCHEMY", "ScanQuery", "scan_query"]

ID, PERIOD, MONTH, ORDER = "customer_id", "period", "__vw_m", "__vw_order"
_INPUT = "__vw_input"
_DATES = ("agreement_end",)


def _q(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def _as(value: exp.Expr, name: str) -> exp.Expr:
    return value.as_(name, quoted=True, copy=False)


# OFFSET 0 fences a sub-select: PostgreSQL's planner and SQLite's flattener would otherwise
# paste each stage into every place that reads it, which grows exponentially with the stages
_FENCED = ("postgres", "sqlite")


def _select(outputs: Sequence[exp.Expr], inner: exp.Select, alias: str,
            dialect: str) -> exp.Select:
    fenced = inner.offset(0, copy=False) if dialect in _FENCED else inner
    return exp.select(*outputs).from_(fenced.subquery(alias, copy=False), copy=False)


class _Stages:
    """Collects the source, lag and ``Let`` columns the lowered expressions refer to."""

    def __init__(self, kinds: Mapping[str, str], dialect: str) -> None:
        self.kinds, self.dialect = kinds, dialect
        self.sources: dict[str, exp.Expr] = {}
        self.lags: dict[str, exp.Expr] = {}
        self.lets: dict[int, dict[str, exp.Expr]] = {}
        self.depths: dict[str, int] = {}

    def source(self, field: str) -> exp.Expr:
        """The field as facts read it: a date field as a date, numbers as doubles (NaN →
        null); another column type cannot be scanned."""
        kind = self.kinds.get(field)
        column = _q(field)
        if field in _DATES:
            if kind not in ("date", "text"):
                raise EvaluationError(f"the history cannot be scanned: {field} holds {kind}, "
                                      "not dates", field=field)
            if self.dialect == "sqlite":  # SQLite keeps dates as ISO text
                return exp.Substring(this=column, start=exp.Literal.number(1),
                                     length=exp.Literal.number(10))
            return exp.Cast(this=column, to=exp.DataType.build("date"))
        if kind != "number":
            raise EvaluationError(f"the history cannot be scanned: {field} holds {kind}, "
                                  "not numbers", field=field)
        value = exp.Cast(this=column, to=exp.DataType.build("double"))
        if self.dialect == "sqlite":
            return value
        return exp.Case(ifs=[exp.If(this=lower.is_nan(column.copy(), self.dialect),
                                    true=exp.Null())], default=value)

    def lag(self, field: str, k: int) -> exp.Expr:
        base = f"__vw_{field}@0"
        if base not in self.sources:
            self.sources[base] = self.source(field)
        if k == 0:
            return _q(base)
        name = f"__vw_{field}@{k}"
        if name not in self.lags:
            self.lags[name] = _window(_q(base), k)
        return _q(name)

    def stasher(self, prefix: str) -> Any:
        def stash(let: ir.Let, value: exp.Expr) -> exp.Expr:
            name = f"__vw_{prefix}.{let.name}"
            if name not in self.depths:  # a stage after every stashed column it reads
                read = [self.depths[c.name] for c in value.find_all(exp.Column)
                        if c.name in self.depths]
                self.depths[name] = depth = 1 + max(read, default=0)
                self.lets.setdefault(depth, {})[name] = value
            return _q(name)

        return stash


def _window(value: exp.Expr, back: int) -> exp.Expr:
    """``value`` at the row exactly ``back`` calendar months before, null when there is none:
    a ``RANGE`` frame of one month number (row ``LAG``s checked by month number give the same
    answer and were no faster on DuckDB, 6× slower on SQLite)."""
    spec = exp.WindowSpec(kind="RANGE", start=str(back), start_side="PRECEDING",
                          end=str(back), end_side="PRECEDING")
    return exp.Window(this=exp.Max(this=value), partition_by=[_q(ID)],
                      order=exp.Order(expressions=[exp.Ordered(this=_q(MONTH))]), spec=spec)


def _month_start(kind: str | None, dialect: str) -> exp.Expr:
    column = _q(PERIOD)
    if kind not in ("date", "text"):
        raise EvaluationError(f"period must be a date or YYYY-MM text, not {kind}",
                              field="period")
    if dialect == "sqlite":  # ISO text: the first seven characters are the month
        return exp.DPipe(this=exp.Substring(this=exp.Trim(this=column),
                                            start=exp.Literal.number(1),
                                            length=exp.Literal.number(7)),
                         expression=exp.Literal.string("-01"))
    if kind == "text":
        first = exp.DPipe(this=exp.Substring(this=exp.Trim(this=column),
                                             start=exp.Literal.number(1),
                                             length=exp.Literal.number(7)),
                          expression=exp.Literal.string("-01"))
        return exp.Cast(this=first, to=exp.DataType.build("date"))
    truncated = exp.Anonymous(this="DATE_TRUNC", expressions=[exp.Literal.string("month"),
                                                               column])
    return exp.Cast(this=truncated, to=exp.DataType.build("date"))


def _month_number(dialect: str) -> exp.Expr:
    period = _q(PERIOD)
    integer = exp.DataType.build("int")
    if dialect == "sqlite":
        year = exp.Cast(this=exp.Substring(this=period, start=exp.Literal.number(1),
                                           length=exp.Literal.number(4)), to=integer)
        month = exp.Cast(this=exp.Substring(this=period.copy(), start=exp.Literal.number(6),
                                            length=exp.Literal.number(2)), to=integer.copy())
    else:
        year = exp.Cast(this=exp.Extract(this=exp.var("YEAR"), expression=period), to=integer)
        month = exp.Cast(this=exp.Extract(this=exp.var("MONTH"), expression=period.copy()),
                         to=integer.copy())
    return exp.Add(this=exp.Mul(this=year, expression=exp.Literal.number(12)),
                   expression=month)


class ScanQuery:
    """The SELECTs of one scan: ``check`` (a customer's month twice, or a row without id or
    month: none expected), ``signals`` and the evidence names of each trigger."""

    def __init__(self, check: exp.Select, signals: exp.Select,
                 names: list[list[str]]) -> None:
        self.check, self.signals, self.names = check, signals, names


def scan_query(plans: Sequence[TriggerPlan], kinds: Mapping[str, str], source: exp.Expr,
               dialect: str, *, lists: bool) -> ScanQuery:
    """The scan of ``plans`` over ``source`` (a table or sub-select whose columns have the
    ``kinds`` number, date, text …). ``lists``: evidence as a list of structs (DuckDB), else
    one column ``__vw_e{j}`` per item."""
    needed = {ID, PERIOD} | {f for p in plans for f in p.fields}
    missing = sorted(needed - set(kinds))
    if missing:
        raise EvaluationError(f"the history lacks the column(s) {', '.join(missing)}",
                              field=missing[0])
    stages = _Stages(kinds, dialect)
    period = _q(PERIOD)
    facts: dict[str, exp.Expr] = {}
    holds: list[exp.Expr] = []
    evidence: list[list[tuple[str, exp.Expr]]] = []
    for plan in plans:
        refs: dict[str, exp.Expr] = {}
        items: list[tuple[str, Any]] = []
        for leaf in plan.leaves:
            stash = stages.stasher(f"t{plan.index}{leaf.key}")
            ctx = lower.SqlContext(dialect, lag=stages.lag, period=period, stash=stash)
            name = f"__vw_f{plan.index}.{leaf.key}"
            facts[name] = lower.to_sql(leaf.definition.fact, ctx)
            refs[leaf.key] = _q(name)
            shown = lower.SqlContext(dialect, lag=stages.lag, period=period,
                                     refs={leaf.key: _q(name)}, stash=stash)
            items += [(label, lower.to_sql(node, shown))
                      for label, node in leaf.definition.evidence]
        held = lower.to_sql(plan.condition_ir, lower.SqlContext(dialect, refs=refs))
        holds.append(exp.Coalesce(this=held, expressions=[exp.false()]))
        evidence.append(unique_items(items))

    first = exp.select(_q(ID), _as(_month_start(kinds.get(PERIOD), dialect), PERIOD),
                       *(_as(value, name) for name, value in stages.sources.items())
                       ).from_(source, copy=False)
    bad: list[exp.Expr] = [
        exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1)),
        exp.Is(this=_q(ID), expression=exp.Null()),
        exp.Is(this=period.copy(), expression=exp.Null())]
    if kinds.get(ID) == "text":  # a blank id is no id
        bad.append(exp.EQ(this=exp.Trim(this=_q(ID)), expression=exp.Literal.string("")))
    check = exp.select(_q(ID), period.copy()).from_(
        first.copy().subquery("__vw_c", copy=False)).group_by(
        _q(ID), period.copy()).having(exp.or_(*bad)).limit(1)
    work = _select([exp.Star(), _as(_month_number(dialect), MONTH)], first, "__vw_s0", dialect)
    if stages.lags:
        work = _select([exp.Star(), *(_as(v, n) for n, v in stages.lags.items())], work,
                       "__vw_lags", dialect)
    for depth in sorted(stages.lets):
        work = _select([exp.Star(), *(_as(v, n) for n, v in stages.lets[depth].items())],
                       work, f"__vw_let{depth}", dialect)
    work = _select([exp.Star(), *(_as(v, n) for n, v in facts.items())], work, "__vw_facts",
                   dialect)
    work = _select([exp.Star(), *(_as(h, f"__vw_h{i}") for i, h in enumerate(holds))], work,
                   "__vw_holds", dialect)
    flags = []
    for i, plan in enumerate(plans):
        flag: exp.Expr = _q(f"__vw_h{i}")
        if plan.trigger.emit == "onset":  # held last month (a month with data): no onset
            held = exp.Case(ifs=[exp.If(this=flag.copy(), true=exp.Literal.number(1))],
                            default=exp.Literal.number(0))
            before = _window(held, 1)
            flag = exp.and_(flag, exp.Not(this=exp.Paren(this=exp.Coalesce(
                this=exp.EQ(this=before, expression=exp.Literal.number(1)),
                expressions=[exp.false()]))), copy=False)
        flags.append(_as(flag, f"__vw_t{i}"))
    work = _select([exp.Star(), *flags], work, "__vw_flags", dialect)
    signals, names = _signals(plans, evidence, work, dialect, lists=lists)
    return ScanQuery(check, signals, names)


def _clean(value: exp.Expr, dialect: str) -> exp.Expr:
    """An evidence value: a double, NaN shown as null."""
    number = exp.Cast(this=value, to=exp.DataType.build("double"))
    return exp.Case(ifs=[exp.If(this=lower.is_nan(number.copy(), dialect), true=exp.Null())],
                    default=number)


def _signals(plans: Sequence[TriggerPlan], evidence: list[list[tuple[str, exp.Expr]]],
             work: exp.Select, dialect: str, *, lists: bool
             ) -> tuple[exp.Select, list[list[str]]]:
    """The fired rows × the table of triggers, with their evidence."""
    rows = []
    for i, plan in enumerate(plans):
        t = plan.trigger
        rows.append(exp.select(*(exp.Literal.string(v).as_(n, quoted=True, copy=False) for n, v in (
            ("trigger", t.id), ("family", t.family), ("severity", t.severity),
            ("action", t.action))), exp.Literal.number(i).as_(ORDER, quoted=True, copy=False)))
    table: exp.Expr = rows[0]
    for row in rows[1:]:
        table = exp.union(table, row, distinct=False, copy=False)
    order = _q(ORDER)
    fired = exp.or_(*(exp.and_(exp.EQ(this=order.copy(), expression=exp.Literal.number(i)),
                               _q(f"__vw_t{i}"), copy=False) for i in range(len(plans))),
                    copy=False)
    names = [[name for name, _ in items] for items in evidence]
    outputs: list[exp.Expr] = [_q(ID), _q(PERIOD), _q("trigger"), _q("family"),
                                     _q("severity"), _q("action")]
    if lists:
        structs = [exp.Array(expressions=[exp.Struct(expressions=[
            exp.PropertyEQ(this=exp.to_identifier("name"), expression=exp.Literal.string(n)),
            exp.PropertyEQ(this=exp.to_identifier("value"), expression=_clean(v, dialect))])
            for n, v in items]) for items in evidence]
        outputs.append(_by_order(structs).as_("evidence", quoted=True, copy=False))
    else:
        width = max(len(items) for items in evidence)
        for j in range(width):
            column = [_clean(items[j][1], dialect) if j < len(items)
                      else exp.Cast(this=exp.Null(), to=exp.DataType.build("double"))
                      for items in evidence]
            outputs.append(_by_order(column).as_(f"__vw_e{j}", quoted=True, copy=False))
    outputs.append(order.copy())
    fenced = work.offset(0, copy=False) if dialect in _FENCED else work
    select = exp.select(*outputs).from_(fenced.subquery("__vw_rows", copy=False), copy=False).join(
        exp.Subquery(this=table, alias=exp.TableAlias(this=exp.to_identifier("__vw_p"))),
        join_type="cross", copy=False).where(fired, copy=False)
    return select, names


def _by_order(values: Sequence[exp.Expr]) -> exp.Expr:
    if len(values) == 1:
        return values[0]
    return exp.Case(ifs=[exp.If(this=exp.EQ(this=_q(ORDER), expression=exp.Literal.number(i)),
                                true=v) for i, v in enumerate(values)])


# == DuckDB ===================================================================================
def _duck_kind(dtype: Any) -> str:
    kind = str(dtype.id).lower()
    if kind in ("tinyint", "smallint", "integer", "bigint", "hugeint", "utinyint", "usmallint",
                "uinteger", "ubigint", "uhugeint", "float", "double", "decimal"):
        return "number"
    if kind in ("date", "timestamp", "timestamp with time zone", "timestamp_s",
                "timestamp_ms", "timestamp_ns"):
        return "date"
    if kind in ("varchar", "enum"):
        return "text"
    return kind


def duckdb_kinds(relation: duckdb.DuckDBPyRelation) -> dict[str, str]:
    return {name: _duck_kind(dtype) for name, dtype in zip(relation.columns, relation.dtypes,
                                                            strict=True)}


def _raise_found(row: tuple[Any, ...] | None) -> None:
    """The error for the first bad row of the ``check`` SELECT, if any."""
    if row is None:
        return
    customer, period = row[0], row[1]
    if customer is None or (isinstance(customer, str) and not customer.strip()):
        raise EvaluationError("rows without a customer id in the history", field=ID)
    if period is None:
        raise EvaluationError("some periods are empty or not months (write YYYY-MM)",
                              field=PERIOD)
    month = str(period)[:7]
    raise EvaluationError(f"two rows for the same month {month}", customer=customer,
                          field=PERIOD)


class DuckDBTriggers:
    """Trigger scans of a DuckDB relation: a lazy relation of the signals out."""

    def accepts(self, data: object) -> bool:
        return lower.is_duckdb_relation(data)

    def run(self, rules: Any, data: Any, **options: Any) -> Any:
        require("duckdb", "scanning a DuckDB relation")
        plans: Sequence[TriggerPlan] = rules
        if not plans:
            return data.query(_INPUT, _empty_sql(data))
        query = scan_query(plans, duckdb_kinds(data), exp.to_table(_INPUT, quoted=True),
                           "duckdb", lists=True)
        found = data.query(_INPUT, query.check.sql(dialect="duckdb")).fetchall()
        _raise_found(tuple(found[0]) if found else None)
        ordered = exp.select(*(_q(c) for c in ("customer_id", "period", "trigger", "family",
                                               "severity", "action", "evidence"))).from_(
            query.signals.subquery("__vw_out", copy=False)).order_by(_q(ID), _q(PERIOD), _q(ORDER))
        return data.query(_INPUT, ordered.sql(dialect="duckdb"))


def _empty_sql(data: Any) -> str:
    return ('SELECT "customer_id", CAST(NULL AS DATE) AS "period", CAST(NULL AS VARCHAR) AS '
            '"trigger", CAST(NULL AS VARCHAR) AS "family", CAST(NULL AS VARCHAR) AS "severity",'
            ' CAST(NULL AS VARCHAR) AS "action", CAST(NULL AS STRUCT(name VARCHAR, value '
            f'DOUBLE)[]) AS "evidence" FROM "{_INPUT}" WHERE FALSE')


# == SQLAlchemy tables ========================================================================
def _sa_kind(sql_type: Any) -> str:
    import sqlalchemy as sa

    if isinstance(sql_type, sa.Boolean):
        return "boolean"
    if isinstance(sql_type, sa.Integer | sa.Float | sa.Numeric):
        return "number"
    if isinstance(sql_type, sa.Date | sa.DateTime):
        return "date"
    if isinstance(sql_type, sa.String | sa.Text | sa.Enum):
        return "text"
    return str(sql_type)


def table_kinds(table: sa.Table) -> dict[str, str]:
    return {c.name: _sa_kind(c.type) for c in table.columns}


def _first(bind: sa.Engine | sa.Connection, sql: str) -> tuple[Any, ...] | None:
    import sqlalchemy as sa

    with bind.connect() if isinstance(bind, sa.Engine) else bind as connection:
        row = connection.exec_driver_sql(sql).fetchone()
    return None if row is None else tuple(row)


def _assemble(plans: Sequence[TriggerPlan], names: list[list[str]], rows: pl.DataFrame,
              customer_dtype: pl.DataType | None) -> pl.DataFrame:
    """The fetched wide rows as ``scan``'s frame: evidence as a list of ``{name, value}``."""
    import polars as pl

    from vip_workflow.rules.triggers.batch import SIGNAL_SCHEMA, _evidence_column, empty_signals

    if rows.height == 0:
        return empty_signals(customer_dtype)
    if rows.schema[PERIOD] == pl.String:
        rows = rows.with_columns(pl.col(PERIOD).str.to_date("%Y-%m-%d"))
    parts = []
    for i, plan in enumerate(plans):
        part = rows.filter(pl.col(ORDER) == i)
        if part.height == 0:
            continue
        width = len(names[i])
        values = part.select(pl.col(f"__vw_e{j}").cast(pl.Float64).alias(f"v{j}")
                             for j in range(width))
        evidence = _evidence_column(names[i], values)
        parts.append(part.select(ID, PERIOD, ORDER).with_columns(
            evidence, **{name: pl.lit(value, SIGNAL_SCHEMA[name]) for name, value in (
                ("trigger", plan.trigger.id), ("family", plan.trigger.family),
                ("severity", plan.trigger.severity), ("action", plan.trigger.action))}))
    frame = pl.concat(parts).sort(ID, PERIOD, ORDER)
    return frame.select(ID, pl.col(PERIOD).cast(pl.Date),
                        *(pl.col(c).cast(SIGNAL_SCHEMA[c]) for c in SIGNAL_SCHEMA
                          if c not in (ID, PERIOD)))


class SQLAlchemyTriggers:
    """Trigger scans of a SQLAlchemy ``Table`` (``scan(table, bind=engine)``): a polars frame
    of the signals, computed inside the database."""

    def accepts(self, data: object) -> bool:
        return type(data).__module__.startswith("sqlalchemy") and hasattr(data, "columns") \
            and hasattr(data, "metadata")

    def run(self, rules: Any, data: Any, **options: Any) -> Any:
        bind = options.get("bind")
        if bind is None:
            raise ConfigError(f"scanning the table {data.name!r} needs its database: "
                              "scan(table, bind=engine)")
        plans: Sequence[TriggerPlan] = rules
        dialect = lower.dialect_of(bind.dialect.name)
        query = scan_query(plans or [], table_kinds(data), lower.table_source(data), dialect,
                           lists=False) if plans else None
        from vip_workflow.rules.triggers.batch import empty_signals

        if query is None:
            return empty_signals()
        _raise_found(_first(bind, query.check.sql(dialect=dialect)))
        rows = lower.fetch(bind, query.signals.sql(dialect=dialect), dialect)
        return _assemble(plans, query.names, rows, None if rows.height else _id_dtype(data))


def _id_dtype(table: sa.Table) -> pl.DataType | None:
    import polars as pl
    import sqlalchemy as sa

    return pl.Int64() if isinstance(table.columns[ID].type, sa.Integer) else None


DUCKDB = DuckDBTriggers()
SQLALCHEMY = SQLAlchemyTriggers()
