"""The SQL back end: runs a portfolio ``Query`` inside the database, through SQLAlchemy Core.

The same expression plan the polars back end runs becomes one SELECT: each named intermediate
(``let``) a column of a nested sub-select, CASE for the when-chains, ``RANK() OVER`` and
``COUNT() OVER`` for quotas. It runs where the customers already are — SQLite, PostgreSQL, or any
database SQLAlchemy speaks that has window functions — and gives the answers ``judge`` gives.

Column kinds come from the table's declared types (numbers, texts, booleans). Monthly lists
(eligibility aggregates over a ``window``) have no SQL column type and are refused.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from vip_workflow.errors import ConfigError
from vip_workflow.rules.tiers import expressions as ex
from vip_workflow.rules.tiers.evaluate import not_finite_reason

__all__ = ["select_judgement"]

_WORDS = {"number": "a number", "text": "a text", "boolean": "true or false"}
_LARGEST = 1.7976931348623157e308  # the largest finite double: only ±inf lie beyond it


def _kind(sql_type: Any) -> str | None:
    if isinstance(sql_type, sa.Boolean):
        return "boolean"
    if isinstance(sql_type, sa.Integer | sa.Numeric | sa.Float):
        return "number"
    if isinstance(sql_type, sa.String | sa.Text | sa.Enum):
        return "text"
    return None


class _Compiler:
    """Translates expression nodes into SQLAlchemy column expressions over one source."""

    def __init__(self, source: Any, dialect: str) -> None:
        self.source = source
        self.dialect = dialect
        self.kinds = {c.name: _kind(c.type) for c in source.columns}

    def state(self, col: ex.Col) -> str:
        if col.kind == "months":
            raise ConfigError(
                f"{col.label}: monthly lists cannot be judged in SQL; use judge_many instead")
        if col.name not in self.kinds:
            return "absent"
        return "ok" if self.kinds[col.name] == col.kind else "wrong"

    def _missing(self, name: str) -> Any:
        """Null, NaN (PostgreSQL; SQLite stores NaN as null) or, in a number column, ±inf."""
        column = self.source.c[name]
        missing = column.is_(None)
        if self.dialect == "postgresql" and isinstance(column.type, sa.Float | sa.Numeric):
            missing = sa.or_(missing, column == sa.literal_column("'NaN'::float8"))
        if self._may_be_infinite(name):
            missing = sa.or_(missing, _infinite(column))
        return missing

    def _may_be_infinite(self, name: str) -> bool:
        column = self.source.c[name]
        if isinstance(column.type, sa.Float | sa.Numeric):
            return True
        # SQLite's columns take any value whatever their declared type
        return self.dialect == "sqlite" and self.kinds.get(name) == "number"

    def __call__(self, node: ex.Expr) -> Any:
        match node:
            case ex.Ref(name=name):
                return self.source.c[name]
            case ex.Col():
                if self.state(node) != "ok":
                    return sa.null()
                return self.source.c[node.name]
            case ex.Lit(value=value, kind=kind):
                if value is None:
                    return sa.null()
                types: dict[str, sa.types.TypeEngine[Any]] = {
                    "int": sa.Integer(), "float": sa.Float(), "text": sa.String(),
                    "bool": sa.Boolean()}
                return sa.literal(value, types.get(kind))
            case ex.Missing(col=col):
                return sa.true() if self.state(col) != "ok" else self._missing(col.name)
            case ex.Problem(col=col):
                state = self.state(col)
                if state == "wrong":
                    held = self.kinds[col.name] or "another type"
                    text = f"{col.label}: expected {_WORDS[col.kind]}, column holds {held}"
                    return sa.literal(text)
                missing = sa.literal(f"{col.label} is missing")
                if state == "ok" and col.kind == "number" and self._may_be_infinite(col.name):
                    return sa.case((_infinite(self.source.c[col.name]),
                                    sa.literal(not_finite_reason(col.label))), else_=missing)
                return missing
            case ex.Concat(items=items):
                parts = [sa.cast(self(item), sa.String()) for item in items]
                result: sa.ColumnElement[str] = parts[0]
                for part in parts[1:]:
                    result = result.concat(part)
                return result
            case ex.NotFinite(value=value):
                computed = self(value)  # NaN: null in SQLite, above every number in PostgreSQL
                return sa.or_(computed.is_(None), _infinite(computed))
            case ex.InInterval(value=value, interval=iv):
                compiled = self(value)
                parts = []
                if iv.low != float("-inf"):
                    parts.append(compiled >= iv.low if iv.low_closed else compiled > iv.low)
                if iv.high != float("inf"):
                    parts.append(compiled <= iv.high if iv.high_closed else compiled < iv.high)
                return sa.and_(*parts) if parts else compiled.is_not(None)
            case ex.InSet(value=value, values=values):
                return self(value).in_(list(values))
            case ex.Lookup(value=value, table=table, default=default):
                source = self(value)
                whens = [(source == key, sa.literal(result)) for key, result in table]
                return sa.case(*whens, else_=sa.null() if default is None
                               else sa.literal(default))
            case ex.Gather(table=table, index=index):
                position = self(index)
                return sa.case(*((position == i, sa.literal(v)) for i, v in enumerate(table)),
                               else_=sa.null())
            case ex.Case(whens=whens, otherwise=otherwise):
                if not whens:
                    return self(otherwise)
                return sa.case(*((self(c), self(v)) for c, v in whens), else_=self(otherwise))
            case ex.Compare(op=op, left=left, right=right):
                lhs, rhs = self(left), self(right)
                return lhs == rhs if op == "==" else lhs < rhs
            case ex.Arith(op=op, left=left, right=right):
                lhs, rhs = self(left), self(right)
                if op == "+":
                    return lhs + rhs
                return lhs * rhs if op == "*" else lhs / rhs
            case ex.Least(items=items):
                least: sa.ColumnElement[Any] = self(items[0])
                for item in items[1:]:
                    other = self(item)
                    least = sa.case((least.is_(None), other), (other.is_(None), least),
                                    (other < least, other), else_=least)
                return least
            case ex.Logic(op="not", items=items):
                return sa.not_(self(items[0]))
            case ex.Logic(op=op, items=items):
                parts = [self(item) for item in items]
                return sa.and_(*parts) if op == "and" else sa.or_(*parts)
            case ex.IsNull(value=value):
                return self(value).is_(None)
            case ex.Better(value=value, descending=descending):
                key = self(value)
                order = key.desc() if descending else key.asc()
                rank = sa.func.rank().over(partition_by=key.is_(None), order_by=order)
                return sa.case((key.is_(None), sa.null()), else_=rank - 1)
            case ex.CountValid(value=value):
                return sa.func.count(self(value)).over()
            case ex.NonEmptyText(col=col):
                if self.state(col) != "ok":
                    return sa.false()
                return sa.func.length(sa.func.trim(self.source.c[col.name])) > 0
            case ex.Present(name=name):
                if name not in self.kinds:
                    return sa.false()
                return sa.not_(self._missing(name))
            case ex.MonthsMissing() | ex.MonthItem():
                raise ConfigError("monthly lists cannot be judged in SQL; use judge_many")
        raise TypeError(f"no SQL translation for {type(node).__name__}")


def _infinite(value: Any) -> Any:
    """True where ``value`` is ±inf (or NaN in PostgreSQL, which sorts it above inf)."""
    largest = sa.literal(_LARGEST, sa.Float())
    return sa.or_(value > largest, value < sa.literal(-_LARGEST, sa.Float()))


def select_judgement(query: ex.Query, table: sa.Table, *, dialect: str,
                     keep: list[str]) -> sa.Select[*tuple[Any, ...]]:
    """A SELECT of the ``keep`` columns plus ``rule_code``, ``tier_code``, ``reason`` and
    ``computed_code`` for every row of ``table``."""
    source: Any = table
    for name, expr in query.lets:  # each intermediate a column of the next sub-select
        compile_ = _Compiler(source, dialect)
        # OFFSET 0 fences the sub-select: without it PostgreSQL pulls sub-selects up into the
        # outer query and pastes each intermediate into every place that reads it, which
        # grows the expression exponentially with the number of intermediates.
        source = sa.select(*source.columns, compile_(expr).label(name)).offset(0).subquery()
    compile_ = _Compiler(source, dialect)
    rule = compile_(query.rule)
    staged = sa.select(
        *(source.c[name] for name in keep),
        rule.label("rule_code"),
        compile_(query.reason).label("reason_text"),
        compile_(query.computed_tier).label("computed_code"),  # type: ignore[arg-type]
    ).offset(0).subquery()
    return sa.select(
        *(staged.c[name] for name in keep), staged.c.rule_code,
        sa.case((staged.c.rule_code.is_(None), staged.c.reason_text),
                else_=sa.null()).label("reason"),
        staged.c.computed_code,
    )
