"""The SQL lowering: one generator (sqlglot) turns a portfolio ``Query`` into a SELECT for
DuckDB, PostgreSQL, SQLite or Spark SQL, with the semantics of ``docs/semantics.md``.

Each named intermediate (``let``) becomes a column of a nested sub-select; the last select
names the codes (``tier``, ``rule``, ``reason``, ``computed_tier``) in SQL, so nothing but the
answer leaves the database. NaN and ±inf are tested explicitly, NaN first: PostgreSQL and DuckDB
sort NaN above +inf, so a range test alone would call NaN "not a finite number" where ``judge``
says "missing". Lists of months exist only where the database has lists (DuckDB, Spark); any
node this module has no translation for raises ``UnsupportedExpressionError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from attrs import frozen

from vip_workflow._extras import require

require("sqlglot", "judging tiers in a database")  # MissingExtraError names the duckdb extra

from sqlglot import exp  # noqa: E402

from vip_workflow.errors import UnsupportedExpressionError  # noqa: E402
from vip_workflow.rules.tiers import expressions as ex  # noqa: E402
from vip_workflow.rules.tiers.compiled import Plan  # noqa: E402
from vip_workflow.rules.tiers.evaluate import not_finite_reason  # noqa: E402

__all__ = ["Column", "judgement_sql"]

_WORDS = {"number": "a number", "text": "a text", "boolean": "true or false",
          "months": "a list of monthly numbers"}
_LARGEST = 1.7976931348623157e308  # the largest finite double: only ±inf lie beyond it
# what Python's str.strip() removes that matters in practice (ASCII, no-break, ideographic)
_BLANKS = " \t\n\r\x0b\x0c\u00a0\u3000"
_LISTS = {"duckdb", "spark"}
DIALECTS = ("duckdb", "postgres", "sqlite", "spark")


@frozen
class Column:
    """An input column as the lowering sees it: the kind it can be read as (``number``,
    ``text``, ``boolean``, ``months`` or None), the Python type its values have (as ``judge``
    names a wrong type), whether it is a float (may hold NaN, ±inf), and the SQL type name."""

    kind: str | None
    python: str | None
    floating: bool
    held: str


def _lit(value: Any) -> exp.Expression:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            raise UnsupportedExpressionError("SQL", f"the literal {value!r}")
        return exp.Literal.number(repr(float(value)) if isinstance(value, float) else value)
    return exp.Literal.string(str(value))


def _case(whens: Sequence[tuple[exp.Expression, exp.Expression]],
          otherwise: exp.Expression) -> exp.Expression:
    if not whens:
        return otherwise
    return exp.Case(ifs=[exp.If(this=c, true=v) for c, v in whens], default=otherwise)


def _or(*items: exp.Expression) -> exp.Expression:
    if len(items) > 1:
        return exp.Paren(this=exp.or_(*items, wrap=True))
    return exp.Paren(this=items[0])


def _and(*items: exp.Expression) -> exp.Expression:
    if len(items) > 1:
        return exp.Paren(this=exp.and_(*items, wrap=True))
    return exp.Paren(this=items[0])


class _Lowering:
    """Translates expression nodes into sqlglot expressions over one source's columns."""

    def __init__(self, columns: Mapping[str, Column], dialect: str) -> None:
        self.columns = columns
        self.dialect = dialect

    # -- columns ---------------------------------------------------------------------------
    def ref(self, name: str) -> exp.Column:
        return exp.column(name, quoted=True)

    def state(self, col: ex.Col) -> str:
        if col.kind == "months" and self.dialect not in _LISTS:
            raise UnsupportedExpressionError(
                self.dialect, "a list of months",
                f"{col.label}: monthly lists cannot be judged in {self.dialect}; "
                "use DuckDB, Spark or judge_many")
        held = self.columns.get(col.name)
        if held is None:
            return "absent"
        return "ok" if held.kind == col.kind else "wrong"

    def is_nan(self, value: exp.Expression) -> exp.Expression:
        if self.dialect == "postgres":  # PostgreSQL: NaN = NaN, and NaN sorts above +inf
            return exp.EQ(this=value, expression=exp.Cast(
                this=exp.Literal.string("NaN"), to=exp.DataType.build("double")))
        if self.dialect == "sqlite":  # SQLite stores NaN as null
            return exp.false()
        return exp.IsNan(this=value)

    def is_infinite(self, value: exp.Expression) -> exp.Expression:
        beyond = _or(exp.GT(this=value, expression=_lit(_LARGEST)),
                     exp.LT(this=value, expression=_lit(-_LARGEST)))
        if self.dialect == "sqlite":
            return beyond
        return _and(beyond, exp.Not(this=self.is_nan(value)))

    def unusable(self, name: str) -> exp.Expression:
        """Null, NaN or ±inf (the last two only in a float column)."""
        column = self.ref(name)
        missing: exp.Expression = exp.Is(this=column, expression=exp.Null())
        if self.columns[name].floating:
            missing = _or(missing, self.is_nan(column), self.is_infinite(column))
        return missing

    def shown(self, node: ex.Expr) -> exp.Expression:
        """A value as text, as ``judge``'s reasons show it (17500 for 17500.0)."""
        value = self(node)
        text = exp.Cast(this=value, to=exp.DataType.build("text"))
        held = self.columns.get(node.name) if isinstance(node, ex.Col) else None
        if held is not None and held.kind == "boolean":  # SQLite keeps 0/1: say true/false
            return _case([(exp.EQ(this=value, expression=_lit(True)),
                           exp.Literal.string("true")),
                          (exp.EQ(this=value.copy(), expression=_lit(False)),
                           exp.Literal.string("false"))], text)
        if not (isinstance(node, ex.Col) and node.kind == "number"
                and self.state(node) == "ok" and self.columns[node.name].floating):
            return text
        whole = _and(exp.EQ(this=value, expression=exp.Round(this=value.copy())),
                     exp.LT(this=exp.Abs(this=value.copy()), expression=_lit(1e15)))
        as_int = exp.Cast(this=exp.Cast(this=value.copy(), to=exp.DataType.build("bigint")),
                          to=exp.DataType.build("text"))
        return _case([(whole, as_int)], text)

    def problem(self, col: ex.Col, window: int | None) -> exp.Expression:
        state = self.state(col)
        missing = _lit(f"{col.label} is missing")
        if state == "absent":
            return missing
        held = self.columns[col.name]
        if state == "wrong":
            if held.python is None or (col.kind == "months" and held.python == "list"):
                return _lit(f"{col.label}: expected {_WORDS[col.kind]}, column holds {held.held}")
            got = _lit(f"{col.label}: expected {_WORDS[col.kind]}, got {held.python}")
            return _case([(exp.Is(this=self.ref(col.name), expression=exp.Null()), missing)], got)
        if col.kind == "months":
            return self.months_problem(col, window or 0)
        if col.kind == "number" and held.floating:
            infinite = self.is_infinite(self.ref(col.name))
            return _case([(infinite, _lit(not_finite_reason(col.label)))], missing)
        return missing

    # -- lists of months (DuckDB, Spark) ---------------------------------------------------
    def month(self, col: ex.Col, back: int) -> exp.Expression:
        if self.state(col) != "ok":
            return exp.Cast(this=exp.Null(), to=exp.DataType.build("double"))
        months = self.ref(col.name)
        size = exp.ArraySize(this=months.copy())
        index = exp.Add(this=exp.Sub(this=size, expression=_lit(back)), expression=_lit(1))
        item = exp.Bracket(this=months, expressions=[index], offset=1, safe=True)
        inside = exp.GTE(this=exp.ArraySize(this=months.copy()), expression=_lit(back))
        return _case([(inside, exp.Cast(this=item, to=exp.DataType.build("double")))],
                     exp.Null())

    def bad_month(self, col: ex.Col, back: int) -> exp.Expression:
        item = self.month(col, back)
        return _or(exp.Is(this=item, expression=exp.Null()), self.is_nan(item.copy()),
                   self.is_infinite(item.copy()))

    def months_missing(self, col: ex.Col, window: int) -> exp.Expression:
        if self.state(col) != "ok":
            return exp.true()
        months = self.ref(col.name)
        short = exp.LT(this=exp.ArraySize(this=months.copy()), expression=_lit(window))
        return _or(exp.Is(this=months, expression=exp.Null()), short,
                   *(self.bad_month(col, back) for back in range(1, window + 1)))

    def months_problem(self, col: ex.Col, window: int) -> exp.Expression:
        label = col.label
        months = self.ref(col.name)
        size = exp.ArraySize(this=months.copy())
        whens: list[tuple[exp.Expression, exp.Expression]] = [
            (exp.Is(this=months, expression=exp.Null()), _lit(f"{label} is missing"))]
        if window == 0:  # no window: any problem with the list
            return _case(whens, _lit(f"{label}: needs more months or has a gap"))
        needs = exp.DPipe(this=_lit(f"{label}: needs {window} months, has "),
                          expression=exp.Cast(this=size, to=exp.DataType.build("text")))
        whens.append((exp.LT(this=size.copy(), expression=_lit(window)), needs))
        for back in range(window, 0, -1):
            item = self.month(col, back)
            whens.append((_or(exp.Is(this=item, expression=exp.Null()),
                              self.is_nan(item.copy())), _lit(f"{label} is missing")))
            whens.append((self.is_infinite(item.copy()), _lit(not_finite_reason(label))))
        return _case(whens, exp.Null())

    # -- the nodes -------------------------------------------------------------------------
    def __call__(self, node: ex.Expr) -> exp.Expression:
        match node:
            case ex.Ref(name=name):
                return self.ref(name)
            case ex.Col():
                if self.state(node) != "ok":
                    return exp.Null()
                return self.ref(node.name)
            case ex.Lit(value=value, kind=kind):
                if value is None:
                    return exp.Null() if kind != "text" else exp.Cast(
                        this=exp.Null(), to=exp.DataType.build("text"))
                return _lit(float(value) if kind == "float" else value)
            case ex.Missing(col=col):
                return exp.true() if self.state(col) != "ok" else self.unusable(col.name)
            case ex.MonthsMissing(col=col, window=window):
                return self.months_missing(col, window)
            case ex.MonthItem(col=col, back=back):
                return self.month(col, back)
            case ex.Problem(col=col, window=window):
                return self.problem(col, window)
            case ex.Concat(items=items):
                parts = [self.shown(item) for item in items]
                result = parts[0]
                for part in parts[1:]:
                    result = exp.DPipe(this=result, expression=part, safe=True)
                return result
            case ex.NotFinite(value=value):
                computed = self(value)
                return _or(exp.Is(this=computed, expression=exp.Null()),
                           self.is_nan(computed.copy()), self.is_infinite(computed.copy()))
            case ex.InInterval(value=value, interval=iv):
                compiled = self(value)
                bounds: list[exp.Expression] = []
                if iv.low != float("-inf"):
                    low = exp.GTE if iv.low_closed else exp.GT
                    bounds.append(low(this=compiled.copy(), expression=_lit(float(iv.low))))
                if iv.high != float("inf"):
                    high = exp.LTE if iv.high_closed else exp.LT
                    bounds.append(high(this=compiled.copy(), expression=_lit(float(iv.high))))
                if not bounds:
                    return exp.Not(this=exp.Is(this=compiled, expression=exp.Null()))
                return _and(*bounds)
            case ex.InSet(value=value, values=values):
                return self.in_set(value, values)
            case ex.Lookup(value=value, table=table, default=default):
                source = self(value)
                whens = [(exp.EQ(this=source.copy(), expression=self.key(value, key)), _lit(v))
                         for key, v in table]
                return _case(whens, _lit(default))
            case ex.Gather(table=table, index=index):
                position = self(index)
                return _case([(exp.EQ(this=position.copy(), expression=_lit(i)), _lit(v))
                              for i, v in enumerate(table)], exp.Null())
            case ex.Case(whens=whens, otherwise=otherwise):
                return _case([(self(c), self(v)) for c, v in whens], self(otherwise))
            case ex.Compare(op=op, left=left, right=right):
                cls_ = exp.EQ if op == "==" else exp.LT
                return exp.Paren(this=cls_(this=self(left), expression=self(right)))
            case ex.Arith(op=op, left=left, right=right):
                ops = {"+": exp.Add, "*": exp.Mul, "/": exp.Div}
                return exp.Paren(this=ops[op](this=self(left), expression=self(right)))
            case ex.Least(items=items):
                least = self(items[0])
                for item in items[1:]:
                    other = self(item)
                    least = _case([
                        (exp.Is(this=least.copy(), expression=exp.Null()), other.copy()),
                        (exp.Is(this=other.copy(), expression=exp.Null()), least.copy()),
                        (exp.LT(this=other.copy(), expression=least.copy()), other.copy()),
                    ], least.copy())
                return least
            case ex.Logic(op="not", items=items):
                return exp.Not(this=exp.Paren(this=self(items[0])))
            case ex.Logic(op=op, items=items):
                parts = [self(item) for item in items]
                return _and(*parts) if op == "and" else _or(*parts)
            case ex.IsNull(value=value):
                return exp.Is(this=self(value), expression=exp.Null())
            case ex.Better(value=value, descending=descending):
                key = self(value)
                null = exp.Is(this=key.copy(), expression=exp.Null())
                order = exp.Order(expressions=[exp.Ordered(this=key.copy(), desc=descending)])
                rank = exp.Window(this=exp.Anonymous(this="RANK"),
                                  partition_by=[exp.Paren(this=null.copy())], order=order)
                return _case([(null, exp.Null())], exp.Sub(this=rank, expression=_lit(1)))
            case ex.CountValid(value=value):
                return exp.Window(this=exp.Count(this=self(value)))
            case ex.NonEmptyText(col=col):
                if self.state(col) != "ok":
                    return exp.false()
                trimmed = exp.Trim(this=self.ref(col.name), expression=_lit(_BLANKS))
                return exp.GT(this=exp.Length(this=trimmed), expression=_lit(0))
            case ex.Present(name=name):
                if name not in self.columns:
                    return exp.false()
                column = self.ref(name)
                present: exp.Expression = exp.Not(this=exp.Is(this=column, expression=exp.Null()))
                if self.columns[name].floating:
                    present = _and(present, exp.Not(this=self.is_nan(column.copy())))
                return present
        raise UnsupportedExpressionError(self.dialect, type(node).__name__)

    def key(self, value: ex.Expr, key: Any) -> exp.Expression:
        if isinstance(value, ex.Col) and value.kind == "number":
            return _lit(float(key))
        if isinstance(value, ex.Col) and value.kind == "text":
            return _lit(str(key))
        return _lit(key)

    def in_set(self, value: ex.Expr, values: tuple[Any, ...]) -> exp.Expression:
        source = self(value)
        if not values:  # x IN () is no SQL; keep null as null
            return _case([(exp.Is(this=source, expression=exp.Null()), exp.Null())], exp.false())
        members = [self.key(value, v) for v in values]
        return exp.In(this=source, expressions=members)


def judgement_sql(plan: Plan, query: ex.Query, columns: Mapping[str, Column], source: str, *,
                  dialect: str, keep: list[str]) -> str:
    """The SELECT, in ``dialect``, of the ``keep`` columns of ``source`` (a table name or a
    parenthesised query) plus ``tier``, ``rule``, ``reason`` and, when the input carries the
    override tier, ``computed_tier``: the names ``judge`` gives."""
    if dialect not in DIALECTS:
        raise ValueError(f"no SQL dialect {dialect!r}: one of {', '.join(DIALECTS)}")
    lower = _Lowering(columns, dialect)
    table: exp.Expression = exp.to_table(source, quoted=True) if not source.startswith("(") \
        else exp.maybe_parse(source[1:-1], dialect=dialect).subquery("__vw_in")
    select = exp.select(exp.Star()).from_(table)
    for depth, (name, expr) in enumerate(query.lets):
        select = exp.select(exp.Star(), lower(expr).as_(name, quoted=True)).from_(
            _fenced(select, dialect).subquery(f"__vw_s{depth}"))
    staged = exp.select(exp.Star(), lower(query.rule).as_("__vw_rule", quoted=True),
                        lower(query.computed_tier).as_("__vw_computed", quoted=True),  # type: ignore[arg-type]
                        lower(query.reason).as_("__vw_reason", quoted=True))
    staged = staged.from_(_fenced(select, dialect).subquery("__vw_last"))
    return _named(plan, query, lower, staged, keep).sql(dialect=dialect)


def _fenced(select: exp.Select, dialect: str) -> exp.Select:
    # OFFSET 0 fences a sub-select in PostgreSQL: without it the planner pastes each
    # intermediate into every place that reads it, which grows exponentially
    return select.offset(0) if dialect == "postgres" else select


def _named(plan: Plan, query: ex.Query, lower: _Lowering, staged: exp.Select,
           keep: list[str]) -> exp.Select:
    """The final select: codes turned into tier and rule names, the reason of unjudged rows."""
    rule, computed = exp.column("__vw_rule", quoted=True), exp.column("__vw_computed",
                                                                       quoted=True)
    null_rule = exp.Is(this=rule.copy(), expression=exp.Null())
    computed_name = _case([(exp.EQ(this=computed.copy(), expression=_lit(i)), _lit(t))
                           for i, t in enumerate(plan.tiers)], exp.Null())
    override = plan.override
    given = override.tier if override is not None and query.uses_override \
        and override.tier in lower.columns and override.tier in keep else None
    tier_whens: list[tuple[exp.Expression, exp.Expression]] = [(null_rule, exp.Null())]
    if given is not None:
        wanted = exp.column(given, quoted=True)
        chosen = _case([(exp.In(this=wanted, expressions=[_lit(t) for t in plan.tiers]),
                         exp.Cast(this=wanted.copy(), to=exp.DataType.build("text")))],
                       exp.Null())
        at = exp.EQ(this=rule.copy(), expression=_lit(plan.rule_ids.index("override")))
        tier_whens.append((at, chosen))
    outputs: list[Any] = [exp.column(name, quoted=True) for name in keep]
    outputs += [
        _case(tier_whens, computed_name.copy()).as_("tier", quoted=True),
        _case([(exp.EQ(this=rule.copy(), expression=_lit(i)), _lit(r))
               for i, r in enumerate(plan.rule_ids)], exp.Null()).as_("rule", quoted=True),
        _case([(null_rule.copy(), exp.column("__vw_reason", quoted=True))],
              exp.Cast(this=exp.Null(), to=exp.DataType.build("text"))).as_("reason",
                                                                          quoted=True),
    ]
    if given is not None:
        outputs.append(computed_name.as_("computed_tier", quoted=True))
    return exp.select(*outputs).from_(_fenced(staged, lower.dialect).subquery("__vw_out"))
