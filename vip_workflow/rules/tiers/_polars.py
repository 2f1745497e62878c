"""The polars back end: runs a portfolio ``Query`` as polars expressions, no Python loop.

Columns of a clean dtype (numbers, texts, booleans, lists of numbers) go to polars as they are.
A column whose values polars would coerce or refuse — a pandas or polars object column, a list
of dicts, integers beyond 64 bits, booleans among numbers or in a list of months — is first
*cleaned* value by value with the row evaluator's own ``read_value``: a usable value is kept, an
unusable one becomes null and its reason goes to a hidden ``BAD`` column, so that judge_many
says exactly what judge says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import polars as pl

from vip_workflow.domain.decisions import show_value
from vip_workflow.rules.tiers import expressions as ex
from vip_workflow.rules.tiers.compiled import Plan
from vip_workflow.rules.tiers.evaluate import (
    CannotJudge,
    is_missing,
    not_finite_reason,
    read_value,
)

if TYPE_CHECKING:
    from polars.expr.whenthen import ChainedThen, Then

__all__ = ["OVERRIDE_TEXT", "OVERRIDE_TIER", "clean_column", "judge_columns", "judge_frame",
           "reads"]

BAD = "__vw_bad:"  # + column: why a cleaned value was set aside (judge's reason, less the label)
SHOWN = "__vw_shown:"  # + column: each cleaned number as judge's reasons show it
BAD_ITEMS = "__vw_bad_items:"  # + column: the same for each month of a list
OVERRIDE_TIER = "override-tier"  # how the override columns are read (see ``reads``)
OVERRIDE_TEXT = "override-text"
_INT64 = 2**63

_CODE = pl.Int32
_TEXT_TYPES = (pl.String, pl.Categorical, pl.Enum)
_WORDS = {"number": "a number", "text": "a text", "boolean": "true or false",
          "months": "a list of monthly numbers"}


def _fits(dtype: pl.DataType, kind: str) -> bool:
    if kind == "number":
        return dtype.is_numeric()
    if kind == "text":
        return isinstance(dtype, _TEXT_TYPES) or dtype == pl.String
    if kind == "boolean":
        return dtype == pl.Boolean
    if isinstance(dtype, pl.List | pl.Array):
        return dtype.inner.is_numeric()
    return False


def _python_type(dtype: pl.DataType) -> str | None:
    """The Python type name of a column's values (as judge names a wrong type)."""
    if dtype == pl.Boolean:
        return "bool"
    if isinstance(dtype, _TEXT_TYPES) or dtype == pl.String:
        return "str"
    if dtype.is_integer():
        return "int"
    if dtype.is_float():
        return "float"
    if isinstance(dtype, pl.List):
        return "list"
    names = {pl.Date: "date", pl.Datetime: "datetime", pl.Duration: "timedelta",
             pl.Time: "time", pl.Binary: "bytes", pl.Decimal: "Decimal"}
    for base, name in names.items():
        if dtype == base or isinstance(dtype, base):
            return name
    return None


class _Compiler:
    """Translates expression nodes into polars expressions for one input schema."""

    def __init__(self, schema: pl.Schema) -> None:
        self.schema = schema

    def state(self, col: ex.Col) -> str:
        """``ok``, ``absent``, ``null`` (all-null column) or ``wrong`` for a column."""
        dtype = self.schema.get(col.name)
        if dtype is None:
            return "absent"
        if dtype == pl.Null:
            return "null"
        return "ok" if _fits(dtype, col.kind) else "wrong"

    def __call__(self, node: ex.Expr) -> pl.Expr:
        match node:
            case ex.Ref(name=name):
                return pl.col(name)
            case ex.Col():
                return self.column(node)
            case ex.Lit(value=value, kind=kind):
                dtype = {"int": _CODE, "float": pl.Float64, "text": pl.String,
                         "bool": pl.Boolean, "null-int": _CODE}[kind]
                return pl.lit(value, dtype=dtype)
            case ex.Missing(col=col):
                if self.state(col) != "ok":
                    return pl.lit(True)
                missing = pl.col(col.name).is_null()
                if self.schema[col.name].is_float():  # NaN is missing, ±inf is not finite
                    missing = missing | ~pl.col(col.name).is_finite()
                return missing
            case ex.MonthsMissing(col=col, window=window):
                if self.state(col) != "ok":
                    return pl.lit(True)
                months = pl.col(col.name)
                gaps = [self._month(col, back).is_null() for back in range(1, window + 1)]
                gaps += [~self._month(col, back).is_finite() for back in range(1, window + 1)]
                return months.is_null() | (months.list.len() < window) | pl.any_horizontal(gaps)
            case ex.Problem(col=col, window=window):
                return self.problem(col, window)
            case ex.MonthItem(col=col, back=back):
                return self._month(col, back)
            case ex.NotFinite(value=value):
                return ~self(value).is_finite()
            case ex.Concat(items=items):
                return pl.concat_str([self.shown(item) for item in items])
            case ex.InInterval(value=value, interval=iv):
                compiled = self(value)
                parts = []
                if iv.low != float("-inf"):
                    parts.append(compiled >= iv.low if iv.low_closed else compiled > iv.low)
                if iv.high != float("inf"):
                    parts.append(compiled <= iv.high if iv.high_closed else compiled < iv.high)
                if not parts:
                    return compiled.is_not_null()
                return parts[0] if len(parts) == 1 else parts[0] & parts[1]
            case ex.InSet(value=value, values=values):
                members = self._set_values(value, values)
                source = self(value)
                if members.dtype == pl.Float64:
                    source = source.cast(pl.Float64)
                return source.is_in(members.implode())
            case ex.Lookup(value=value, table=table, default=default, kind=kind):
                keys = [k for k, _ in table]
                dtype = _CODE if kind == "int" else pl.Float64
                source = self(value)
                if isinstance(value, ex.Col) and value.kind == "number":
                    keys = [float(k) for k in keys]
                    source = source.cast(pl.Float64)
                return source.replace_strict(
                    keys, [v for _, v in table], default=pl.lit(default, dtype=dtype),
                    return_dtype=dtype,
                )
            case ex.Gather(table=table, index=index):
                return pl.lit(pl.Series(list(table), dtype=_CODE)).gather(
                    self(index).cast(pl.UInt32)
                )
            case ex.Case(whens=whens, otherwise=otherwise):
                if not whens:
                    return self(otherwise)
                chain: Then | ChainedThen = pl.when(self(whens[0][0])).then(self(whens[0][1]))
                for condition, value in whens[1:]:
                    chain = chain.when(self(condition)).then(self(value))
                return chain.otherwise(self(otherwise))
            case ex.Compare(op=op, left=left, right=right):
                lhs, rhs = self(left), self(right)
                return lhs == rhs if op == "==" else lhs < rhs
            case ex.Arith(op=op, left=left, right=right):
                lhs, rhs = self(left), self(right)
                if op == "+":
                    return lhs + rhs
                return lhs * rhs if op == "*" else lhs / rhs
            case ex.Least(items=items):
                return pl.min_horizontal([self(item) for item in items])
            case ex.Logic(op="not", items=items):
                return ~self(items[0])
            case ex.Logic(op=op, items=items):
                parts = [self(item) for item in items]
                result = parts[0]
                for part in parts[1:]:
                    result = result & part if op == "and" else result | part
                return result
            case ex.IsNull(value=value):
                return self(value).is_null()
            case ex.Better(value=value, descending=descending):
                rank = self(value).rank("min", descending=descending)
                return rank.cast(pl.Int64) - 1
            case ex.CountValid(value=value):
                return self(value).count().cast(pl.Int64)
            case ex.NonEmptyText(col=col):
                if self.state(col) != "ok":
                    return pl.lit(False)
                return self.column(col).str.strip_chars().str.len_chars() > 0
            case ex.Present(name=name):
                held = self.schema.get(name)
                if held is None or held == pl.Null:
                    return pl.lit(False)
                present = pl.col(name).is_not_null()
                if held.is_float():
                    present = present & pl.col(name).is_not_nan()
                return present
        raise TypeError(f"no polars translation for {type(node).__name__}")

    def column(self, col: ex.Col) -> pl.Expr:
        if self.state(col) != "ok":
            empty = {"number": pl.Float64, "text": pl.String, "boolean": pl.Boolean}.get(
                col.kind, pl.Float64
            )
            return pl.lit(None, dtype=empty)
        expr = pl.col(col.name)
        dtype = self.schema[col.name]
        if col.kind == "text" and dtype != pl.String:
            expr = expr.cast(pl.String)
        return expr

    def shown(self, item: ex.Expr) -> pl.Expr:
        """A value as text, as judge's reasons show it (``show_value``: 17500 for 17500.0)."""
        if not (isinstance(item, ex.Col) and item.kind == "number" and self.state(item) == "ok"):
            return self(item).cast(pl.String)
        if SHOWN + item.name in self.schema:
            return pl.col(SHOWN + item.name)
        value = pl.col(item.name)
        if not self.schema[item.name].is_float():
            return value.cast(pl.String)
        whole = value.is_finite() & (value == value.round(0)) & (value.abs() < 1e15)
        return pl.when(whole).then(value.cast(pl.Int64).cast(pl.String)).otherwise(
            value.cast(pl.String))

    def _month(self, col: ex.Col, back: int) -> pl.Expr:
        if self.state(col) != "ok":
            return pl.lit(None, dtype=pl.Float64)
        return pl.col(col.name).list.get(-back, null_on_oob=True).cast(pl.Float64)

    @staticmethod
    def _set_values(value: ex.Expr, values: tuple[Any, ...]) -> pl.Series:
        if isinstance(value, ex.Col) and value.kind == "number":
            return pl.Series([float(v) for v in values], dtype=pl.Float64)
        if isinstance(value, ex.Col) and value.kind == "boolean":
            return pl.Series(list(values), dtype=pl.Boolean)
        return pl.Series([str(v) for v in values], dtype=pl.String)

    def problem(self, col: ex.Col, window: int | None = None) -> pl.Expr:
        """Why ``col`` cannot be read; a value a cleaned column set aside (``BAD``) says why
        itself, in judge's words."""
        reason = self._plain_problem(col, window)
        if BAD + col.name in self.schema:
            bad = pl.col(BAD + col.name)
            reason = pl.when(bad.is_not_null()).then(pl.lit(col.label) + bad).otherwise(reason)
        return reason

    def _plain_problem(self, col: ex.Col, window: int | None) -> pl.Expr:
        state = self.state(col)
        if state == "wrong":
            dtype = self.schema[col.name]
            got = _python_type(dtype)
            if got is None or (col.kind == "months" and got == "list"):
                return pl.lit(f"{col.label}: expected {_WORDS[col.kind]}, column holds {dtype}")
            return (pl.when(pl.col(col.name).is_null()).then(pl.lit(f"{col.label} is missing"))
                    .otherwise(pl.lit(f"{col.label}: expected {_WORDS[col.kind]}, got {got}")))
        if col.kind == "number" and state == "ok" and self.schema[col.name].is_float():
            return (
                pl.when(pl.col(col.name).is_infinite())
                .then(pl.lit(not_finite_reason(col.label)))
                .otherwise(pl.lit(f"{col.label} is missing"))
            )
        if col.kind == "months" and state == "ok":
            if window is not None:
                return self._months_problem(col, window)
            return (
                pl.when(pl.col(col.name).is_not_null())
                .then(pl.format("{}: needs more months or has a gap", pl.lit(col.label)))
                .otherwise(pl.lit(f"{col.label} is missing"))
            )
        return pl.lit(f"{col.label} is missing")


    def _months_problem(self, col: ex.Col, window: int) -> pl.Expr:
        """judge's reason for a list of months: missing, too short, or the first unusable month
        of the last ``window``, oldest first."""
        label = col.label
        months = pl.col(col.name)
        chain: Then | ChainedThen = pl.when(months.is_null()).then(
            pl.lit(f"{label} is missing"))
        chain = chain.when(months.list.len() < window).then(pl.format(
            "{}: needs {} months, has {}", pl.lit(label), pl.lit(window), months.list.len()))
        items = BAD_ITEMS + col.name
        for back in range(window, 0, -1):
            if items in self.schema:
                bad = pl.col(items).list.get(-back, null_on_oob=True)
                chain = chain.when(bad.is_not_null()).then(pl.lit(label) + bad)
            month = months.list.get(-back, null_on_oob=True).cast(pl.Float64)
            chain = chain.when(month.is_null() | month.is_nan()).then(
                pl.lit(f"{label} is missing"))
            chain = chain.when(month.is_infinite()).then(pl.lit(not_finite_reason(label)))
        return chain.otherwise(pl.lit(None, dtype=pl.String))


def _refs(node: Any) -> set[str]:
    """Names of the intermediates an expression reads."""
    if isinstance(node, ex.Ref):
        return {node.name}
    if isinstance(node, tuple):
        return set().union(*(_refs(item) for item in node)) if node else set()
    if attrs.has(type(node)):
        fields = attrs.fields(type(node))
        return set().union(*(_refs(getattr(node, f.name)) for f in fields)) if fields else set()
    return set()


def reads(plan: Plan, query: ex.Query) -> dict[str, set[str]]:
    """Each input column the query reads, and how: a Col kind, or OVERRIDE_TIER/OVERRIDE_TEXT."""
    found: dict[str, set[str]] = {}
    override = plan.override if query.uses_override else None
    if override is not None:
        found[override.tier] = {OVERRIDE_TIER}
        found.setdefault(override.by, set()).add(OVERRIDE_TEXT)
        found.setdefault(override.reason, set()).add(OVERRIDE_TEXT)
    skip = {override.tier, override.by, override.reason} if override is not None else set()

    def walk(node: Any) -> None:
        if isinstance(node, ex.Col):
            if node.name not in skip:
                found.setdefault(node.name, set()).add(node.kind)
        elif isinstance(node, tuple):
            for item in node:
                walk(item)
        elif attrs.has(type(node)):
            for f in attrs.fields(type(node)):
                walk(getattr(node, f.name))

    walk((query.lets, query.rule, query.reason, query.computed_tier))
    return found


def _is_null(value: Any) -> bool:
    """Not given, as judge reads an override: None or NaN."""
    return value is None or (isinstance(value, float) and value != value)


def _read(value: Any, kind: str) -> tuple[Any, str | None]:
    """The value as judge reads it, or None and judge's reason less the label."""
    try:
        return read_value(lambda _name, _default: value, "", kind, ""), None
    except CannotJudge as problem:
        return None, problem.reason


def _numbers(values: Sequence[Any]) -> pl.Series:
    """Int64 when every number is a whole number that fits, else Float64."""
    if all(type(v) is int and -_INT64 <= v < _INT64 for v in values if v is not None):
        return pl.Series(values, dtype=pl.Int64)
    return pl.Series([None if v is None else float(v) for v in values], dtype=pl.Float64)


def _months(values: Sequence[Any]) -> list[pl.Series]:
    clean: list[list[float | None] | None] = []
    row_bad: list[str | None] = []
    item_bad: list[list[str | None] | None] = []
    for value in values:
        if is_missing(value):
            clean.append(None)
            row_bad.append(None)
            item_bad.append(None)
        elif isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
            clean.append(None)
            row_bad.append(f": expected a list of monthly numbers, got {type(value).__name__}")
            item_bad.append(None)
        else:
            read = [_read(item, "number") for item in value]
            clean.append([None if v is None else float(v) for v, _ in read])
            row_bad.append(None)
            item_bad.append([why for _, why in read])
    result = [pl.Series(clean, dtype=pl.List(pl.Float64)),
              pl.Series(row_bad, dtype=pl.String),
              pl.Series(item_bad, dtype=pl.List(pl.String))]
    return result


def clean_column(name: str, how: str, values: Sequence[Any]) -> list[pl.Series]:
    """A column of Python values as judge reads them ``how`` (a Col kind or an override
    reading): the clean column, and the hidden reason columns of the values set aside."""
    if how == "months":
        clean, row_bad, item_bad = _months(values)
        return [clean.alias(name), row_bad.alias(BAD + name), item_bad.alias(BAD_ITEMS + name)]
    if how == OVERRIDE_TIER:  # judge: a non-text tier is given but is no declared tier
        marked = [None if _is_null(v) else v if isinstance(v, str) else f"\x00{v!r}"
                  for v in values]
        return [pl.Series(name, marked, dtype=pl.String)]
    if how == OVERRIDE_TEXT:
        return [pl.Series(name, [v if isinstance(v, str) else None for v in values],
                          dtype=pl.String)]
    read = [_read(v, how) for v in values]
    kept = [v for v, _ in read]
    why = pl.Series(BAD + name, [why for _, why in read], dtype=pl.String)
    if how == "number":
        shown = [None if v is None else show_value(v) for v in kept]
        return [_numbers(kept).alias(name), why, pl.Series(SHOWN + name, shown, dtype=pl.String)]
    else:
        clean = pl.Series(name, kept, dtype=pl.String if how == "text" else pl.Boolean)
    return [clean, why]


def judge_frame(plan: Plan, query: ex.Query, frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with ``tier``, ``rule`` and ``reason`` (and ``computed_tier`` when the input
    carries overrides) appended."""
    return frame.with_columns(**judge_columns(plan, query, frame))


def judge_columns(plan: Plan, query: ex.Query, frame: pl.DataFrame) -> dict[str, pl.Series]:
    """The answer columns ``tier``, ``rule``, ``reason`` (and ``computed_tier``) for a frame
    (which may carry hidden ``BAD`` columns from ``clean_column``)."""
    compile_ = _Compiler(frame.schema)
    tiers = pl.Enum(list(plan.tiers))
    rules = pl.Enum(list(plan.rule_ids))
    tier_names = pl.lit(pl.Series(list(plan.tiers), dtype=tiers))
    rule_names = pl.lit(pl.Series(list(plan.rule_ids), dtype=rules))
    staged = frame.lazy()
    for name, expr in query.lets:  # each intermediate once, in order (with_columns broadcasts)
        staged = staged.with_columns(compile_(expr).alias(name))
    staged = staged.with_columns(
        compile_(query.rule).alias("__vw_rule"),
        compile_(query.computed_tier).cast(pl.UInt32).alias("__vw_computed"),  # type: ignore[arg-type]
    )
    needed = sorted(_refs(query.reason))
    codes = staged.select(pl.col("__vw_rule").alias("rule"),
                          pl.col("__vw_computed").alias("computed"), *needed).collect()
    rule_code = codes.get_column("rule")
    columns: dict[str, pl.Series] = {}
    override_index = plan.rule_ids.index("override")
    override_given = query.uses_override and plan.override is not None and (
        plan.override.tier in frame.columns
    )
    computed = codes.select(tier_names.gather(pl.col("computed")).alias("computed_tier"))
    if override_given:
        wanted = compile_(ex.Col(plan.override.tier, "text", "override"))  # type: ignore[union-attr]
        final = frame.with_columns(
            pl.when(pl.lit(rule_code).is_null()).then(pl.lit(None, dtype=tiers))
            .when(pl.lit(rule_code) == override_index)
            .then(wanted.cast(pl.String).cast(tiers, strict=False))
            .otherwise(pl.lit(computed.get_column("computed_tier"))).alias("__vw_tier")
        ).get_column("__vw_tier").alias("tier")
    else:
        final = codes.select(
            pl.when(pl.col("rule").is_null()).then(pl.lit(None, dtype=tiers))
            .otherwise(tier_names.gather(pl.col("computed")))
            .alias("tier")
        ).get_column("tier")
    columns["tier"] = final
    columns["rule"] = codes.select(
        rule_names.gather(pl.col("rule").cast(pl.UInt32)).alias("rule")
    ).get_column("rule")
    if rule_code.null_count():
        columns["reason"] = pl.concat([frame, codes.select(needed)], how="horizontal").with_columns(
            pl.when(pl.lit(rule_code).is_null()).then(compile_(query.reason))
            .otherwise(pl.lit(None, dtype=pl.String)).alias("__vw_reason")
        ).get_column("__vw_reason").alias("reason")
    else:
        columns["reason"] = pl.repeat(None, frame.height, dtype=pl.String,
                                      eager=True).alias("reason")
    if override_given:
        columns["computed_tier"] = computed.get_column("computed_tier")
    return columns
