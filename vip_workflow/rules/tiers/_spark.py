"""The Spark back end: lowers a portfolio ``Query`` to PySpark ``Column`` expressions.

``book.judge_many(spark_df)`` returns a Spark DataFrame — lazy in, lazy out: nothing runs
until the caller writes or collects it. The answers are the polars back end's (``_polars.py``,
the reference), cell for cell: NaN is missing, ±inf is "not a finite number", numbers inside
reasons print as polars prints them (``17500`` for 17500.0, ``0.00001``, ``1.5e+20``).

Quotas scale out: a rank is not ``RANK() OVER (ORDER BY …)`` (one task for the whole
portfolio) but counts per distinct key, summed over the keys before each one. The keys fall
in buckets that are a monotone function of the key (a sixteenth of an octave, grouped 64 to a
coarse bucket), so each bucket's running sum is a window *partitioned by bucket*, and the
offsets of the buckets before it come from small self-joins of the bucket totals. No stage
runs on a single partition.

pyspark is imported on first use (``vip_workflow[spark]``): importing this module, or
checking whether an input is a Spark DataFrame, does not load it. This module is the only
one in the library that imports pyspark.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vip_workflow._extras import LazyModule, require
from vip_workflow.errors import UnsupportedExpressionError
from vip_workflow.rules.tiers import expressions as ex
from vip_workflow.rules.tiers.evaluate import not_finite_reason

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, Window
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from vip_workflow.rules.tiers.book import RuleBook
    from vip_workflow.rules.tiers.compiled import Interval, Plan
else:
    F = LazyModule("pyspark.sql.functions", "judging a Spark DataFrame")
    T = LazyModule("pyspark.sql.types", "judging a Spark DataFrame")

__all__ = ["LOWERING", "SparkLowering", "judge_frame"]

_WORDS = {"number": "a number", "text": "a text", "boolean": "true or false",
          "months": "a list of monthly numbers"}
_INF = float("inf")
_FINE_PER_OCTAVE = 16  # rank buckets: a sixteenth of an octave of the key …
_FINE_PER_COARSE = 64  # … 64 of them to a coarse bucket


def _window() -> type[Window]:
    window: type[Window] = require("pyspark.sql.window", "judging a Spark DataFrame").Window
    return window


def _col(name: str) -> Column:
    """A column by its exact name (dots and backticks in it are not paths)."""
    return F.col("`" + name.replace("`", "``") + "`")


def _kind(dtype: T.DataType) -> str | None:
    """The Col kind a Spark type holds (None for another type)."""
    if isinstance(dtype, T.BooleanType):
        return "boolean"
    if isinstance(dtype, T.NumericType):
        return "number"
    if isinstance(dtype, T.StringType | T.CharType | T.VarcharType):
        return "text"
    if isinstance(dtype, T.ArrayType) and isinstance(dtype.elementType, T.NumericType):
        return "months"
    return None


def _python_type(dtype: T.DataType) -> str | None:
    """The Python type name of a column's values (as judge names a wrong type)."""
    names: tuple[tuple[type[T.DataType], str], ...] = (
        (T.BooleanType, "bool"), (T.StringType, "str"), (T.CharType, "str"),
        (T.VarcharType, "str"), (T.IntegralType, "int"), (T.FractionalType, "float"),
        (T.ArrayType, "list"), (T.DateType, "date"), (T.TimestampType, "datetime"),
        (T.TimestampNTZType, "datetime"), (T.DayTimeIntervalType, "timedelta"),
        (T.BinaryType, "bytes"),
    )
    if isinstance(dtype, T.DecimalType):
        return "Decimal"
    for base, name in names:
        if isinstance(dtype, base):
            return name
    return None


def _is_float(dtype: T.DataType | None) -> bool:
    return isinstance(dtype, T.FloatType | T.DoubleType)


def _infinite(value: Column) -> Column:
    return F.abs(value) == F.lit(_INF)


def _lit(value: Any, kind: str) -> Column:
    spark_type = {"int": "int", "float": "double", "text": "string", "bool": "boolean",
                  "null-int": "int"}[kind]
    return F.lit(value).cast(spark_type)


_SEPARATOR = "\x1f"  # the ASCII unit separator (a name holding it takes the long way)


def _pick(code: Column, names: tuple[Any, ...]) -> Column:
    """``names[code]`` (null for a null code or one out of range)."""
    if not names:
        return F.lit(None)
    texts = [str(name) for name in names]
    if all(isinstance(name, str | int) and not isinstance(name, bool)
           and _SEPARATOR not in text and text for name, text in zip(names, texts, strict=True)):
        # a few calls into the JVM instead of four a name (a book has dozens of rules)
        table = F.split(F.lit(_SEPARATOR.join(texts)), _SEPARATOR)
        picked = F.when(code >= F.lit(0), F.try_element_at(table, code.cast("int") + F.lit(1)))
        return picked.cast("int") if all(isinstance(n, int) for n in names) else picked
    chain = F.when(code == F.lit(0), F.lit(names[0]))
    for i, name in enumerate(names[1:], start=1):
        chain = chain.when(code == F.lit(i), F.lit(name))
    return chain


def float_text(value: Column) -> Column:
    """A float as polars casts it to text: the shortest digits, positional for decimal
    exponents from -5 to 15 (``0.00001``, ``1000000000000000.0``), else ``1.5e+20``,
    ``2.5e-7``; ``NaN``, ``inf``, ``-inf``. (Spark prints Java's ``1.5E20``.)"""
    java = value.cast("string")
    pattern = r"^(-?)(\d+)\.(\d+)(?:E(-?\d+))?$"
    sign = F.regexp_extract(java, pattern, 1)
    whole, fraction = F.regexp_extract(java, pattern, 2), F.regexp_extract(java, pattern, 3)
    exponent = F.coalesce(F.regexp_extract(java, pattern, 4).try_cast("int"), F.lit(0))
    digits = F.concat(whole, fraction)
    # significant digits: strip leading and trailing zeros; ``point`` = digits before the point
    stripped_left = F.regexp_replace(digits, r"^0+", "")
    lead = F.length(digits) - F.length(stripped_left)
    significant = F.regexp_replace(stripped_left, r"0+$", "")
    significant = F.when(significant == F.lit(""), F.lit("0")).otherwise(significant)
    point = F.length(whole) + exponent - lead
    e = point - F.lit(1)
    n = F.length(significant)
    scientific = F.concat(
        significant.substr(F.lit(1), F.lit(1)),
        F.when(n > 1, F.concat(F.lit("."), significant.substr(F.lit(2), n))).otherwise(""),
        F.lit("e"), F.when(e < 0, F.lit("-")).otherwise(F.lit("+")), F.abs(e).cast("string"),
    )
    positional = (
        F.when(point <= 0, F.concat(F.lit("0."), F.repeat(F.lit("0"), -point), significant))
        .when(point >= n, F.concat(significant, F.repeat(F.lit("0"), point - n), F.lit(".0")))
        .otherwise(F.concat(significant.substr(F.lit(1), point), F.lit("."),
                            significant.substr(point + 1, n)))
    )
    text = F.concat(sign, F.when((e < -5) | (e >= 16), scientific).otherwise(positional))
    return (F.when(value.isNull(), F.lit(None).cast("string"))
            .when(F.isnan(value), F.lit("NaN"))
            .when(value == F.lit(_INF), F.lit("inf"))
            .when(value == F.lit(-_INF), F.lit("-inf"))
            .when(value == F.lit(0.0), F.when(java.startswith("-"), F.lit("-0.0"))
                  .otherwise(F.lit("0.0")))
            .otherwise(text))


class _Compiler:
    """Translates expression nodes into Spark columns for one input schema."""

    def __init__(self, schema: T.StructType, ranks: dict[ex.Expr, str] | None = None) -> None:
        self.types: dict[str, T.DataType] = {f.name: f.dataType for f in schema.fields}
        self.ranks = ranks if ranks is not None else {}  # Better/CountValid → joined column
        # every node's column, built once: each pyspark call is a round trip to the JVM
        # (~0.1 ms), and a plan repeats its subtrees (a field's missing test, a shown number)
        self.built: dict[ex.Expr, Column] = {}
        self.texts: dict[ex.Expr, Column] = {}
        self.cols: dict[str, Column] = {}

    def col(self, name: str) -> Column:
        """The column ``name`` (one object for every use)."""
        done = self.cols.get(name)
        if done is None:
            done = self.cols[name] = _col(name)
        return done

    def state(self, col: ex.Col) -> str:
        """``ok``, ``absent``, ``null`` (a column of Spark's null type) or ``wrong``."""
        dtype = self.types.get(col.name)
        if dtype is None:
            return "absent"
        if isinstance(dtype, T.NullType):
            return "null"
        return "ok" if _kind(dtype) == col.kind else "wrong"

    def __call__(self, node: ex.Expr) -> Column:
        built = self.built.get(node)
        if built is None:
            built = self.built[node] = self._build(node)
        return built

    def _build(self, node: ex.Expr) -> Column:
        match node:
            case ex.Ref(name=name):
                return self.col(name)
            case ex.Col():
                return self.column(node)
            case ex.Lit(value=value, kind=kind):
                return _lit(value, kind)
            case ex.Missing(col=col):
                return self.missing(col)
            case ex.MonthsMissing(col=col, window=window):
                return self.months_missing(col, window)
            case ex.Problem(col=col, window=window):
                return self.problem(col, window)
            case ex.MonthItem(col=col, back=back):
                return self.month(col, back)
            case ex.NotFinite(value=value):
                compiled = self(value)
                return F.isnan(compiled) | _infinite(compiled)
            case ex.Concat(items=items):
                return F.concat(*(self.shown(item) for item in items))
            case ex.InInterval(value=value, interval=interval):
                return self.interval(self(value), interval)
            case ex.InSet(value=value, values=values):
                source, members = self.members(value, values)
                return source.isin(members) if members else F.lit(False)
            case ex.Lookup(value=value, table=table, default=default, kind=kind):
                return self.lookup(value, table, default, kind)
            case ex.Gather(table=table, index=index):
                return _pick(self(index), table).cast("int")
            case ex.Case(whens=whens, otherwise=otherwise):
                if not whens:
                    return self(otherwise)
                chain = F.when(self(whens[0][0]), self(whens[0][1]))
                for condition, value in whens[1:]:
                    chain = chain.when(self(condition), self(value))
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
                parts = [self(item) for item in items]
                return parts[0] if len(parts) == 1 else F.least(*parts)
            case ex.Logic(op="not", items=items):
                return ~self(items[0])
            case ex.Logic(op=op, items=items):
                parts = [self(item) for item in items]
                result = parts[0]
                for part in parts[1:]:
                    result = result & part if op == "and" else result | part
                return result
            case ex.IsNull(value=value):
                return self(value).isNull()
            case ex.Better() | ex.CountValid():
                if node not in self.ranks:
                    raise UnsupportedExpressionError(
                        "spark", type(node).__name__, "a rank is joined in before the let "
                        "that reads it (judge_frame does this)")
                return self.col(self.ranks[node])
            case ex.NonEmptyText(col=col):
                if self.state(col) != "ok":
                    return F.lit(False)
                return self.column(col).rlike(r"(?U)\S")  # not blanks only (Unicode spaces)
            case ex.Present(name=name):
                return self.present(name)
        raise UnsupportedExpressionError("spark", type(node).__name__)

    # -- columns ---------------------------------------------------------------------------
    def column(self, col: ex.Col) -> Column:
        if self.state(col) != "ok":
            empty = {"number": "double", "text": "string", "boolean": "boolean"}
            return F.lit(None).cast(empty.get(col.kind, "double"))
        dtype = self.types[col.name]
        if col.kind == "text" and not isinstance(dtype, T.StringType):
            return self.col(col.name).cast("string")
        if isinstance(dtype, T.DecimalType):  # polars reads decimals as numbers, not exactly
            return self.col(col.name).cast("double")
        return self.col(col.name)

    def missing(self, col: ex.Col) -> Column:
        if self.state(col) != "ok":
            return F.lit(True)
        value = self.col(col.name)
        missing = value.isNull()
        if _is_float(self.types[col.name]):  # NaN is missing, ±inf is not finite
            missing = missing | F.isnan(value) | _infinite(value)
        return missing

    def month(self, col: ex.Col, back: int) -> Column:
        """The month ``back`` places from the end (null when the list is shorter)."""
        if self.state(col) != "ok":
            return F.lit(None).cast("double")
        return F.try_element_at(self.col(col.name), F.lit(-back)).cast("double")

    def months_missing(self, col: ex.Col, window: int) -> Column:
        if self.state(col) != "ok":
            return F.lit(True)
        months = self.col(col.name)
        result = months.isNull() | (F.size(months) < F.lit(window))
        for back in range(1, window + 1):
            item = self.month(col, back)
            result = result | item.isNull() | F.isnan(item) | _infinite(item)
        return result

    def present(self, name: str) -> Column:
        held = self.types.get(name)
        if held is None or isinstance(held, T.NullType):
            return F.lit(False)
        present = self.col(name).isNotNull()
        if _is_float(held):
            present = present & ~F.isnan(self.col(name))
        return present

    def shown(self, item: ex.Expr) -> Column:
        """A value as text, as the polars back end shows it (17500 for 17500.0)."""
        done = self.texts.get(item)
        if done is None:
            done = self.texts[item] = self._shown(item)
        return done

    def _shown(self, item: ex.Expr) -> Column:
        if not (isinstance(item, ex.Col) and item.kind == "number" and self.state(item) == "ok"):
            return self(item).cast("string")
        value = self.col(item.name)
        if not _is_float(self.types[item.name]):
            return value.cast("string")
        whole = (~F.isnan(value) & ~_infinite(value) & (value == F.round(value, 0))
                 & (F.abs(value) < F.lit(1e15)))
        return F.when(whole, value.cast("long").cast("string")).otherwise(float_text(value))

    # -- matching --------------------------------------------------------------------------
    @staticmethod
    def interval(value: Column, interval: Interval) -> Column:
        parts = []
        if interval.low != -_INF:
            low = F.lit(float(interval.low))
            parts.append(value >= low if interval.low_closed else value > low)
        if interval.high != _INF:
            high = F.lit(float(interval.high))
            parts.append(value <= high if interval.high_closed else value < high)
        if not parts:
            return value.isNotNull()
        return parts[0] if len(parts) == 1 else parts[0] & parts[1]

    def members(self, value: ex.Expr, values: tuple[Any, ...]) -> tuple[Column, list[Any]]:
        """The value and the set's members, of one type (as ``_polars._set_values``)."""
        source = self(value)
        if isinstance(value, ex.Col) and value.kind == "number":
            return source.cast("double"), [float(v) for v in values]
        if isinstance(value, ex.Col) and value.kind == "boolean":
            return source, list(values)
        return source.cast("string"), [str(v) for v in values]

    def lookup(self, value: ex.Expr, table: tuple[tuple[Any, Any], ...], default: Any,
               kind: str) -> Column:
        """``table[value]``, ``default`` for a value not in it (a null value too)."""
        spark_type = "int" if kind == "int" else "double"
        source = self(value)
        keys = [k for k, _ in table]
        if isinstance(value, ex.Col) and value.kind == "number":
            source, keys = source.cast("double"), [float(k) for k in keys]
        fallback = F.lit(default).cast(spark_type)
        if not table:
            return fallback
        chain = F.when(source == F.lit(keys[0]), F.lit(table[0][1]).cast(spark_type))
        for key, (_, result) in zip(keys[1:], table[1:], strict=True):
            chain = chain.when(source == F.lit(key), F.lit(result).cast(spark_type))
        return chain.otherwise(fallback)

    # -- reasons ---------------------------------------------------------------------------
    def problem(self, col: ex.Col, window: int | None = None) -> Column:
        """Why ``col`` cannot be read, in judge's words."""
        state = self.state(col)
        missing = F.lit(f"{col.label} is missing")
        if state == "wrong":
            dtype = self.types[col.name]
            got = _python_type(dtype)
            if got is None or (col.kind == "months" and got == "list"):
                return F.lit(f"{col.label}: expected {_WORDS[col.kind]}, column holds "
                             f"{dtype.simpleString()}")
            return F.when(self.col(col.name).isNull(), missing).otherwise(
                F.lit(f"{col.label}: expected {_WORDS[col.kind]}, got {got}"))
        if state != "ok":
            return missing
        if col.kind == "number" and _is_float(self.types[col.name]):
            return F.when(_infinite(self.col(col.name)),
                          F.lit(not_finite_reason(col.label))).otherwise(missing)
        if col.kind == "months":
            if window is not None:
                return self.months_problem(col, window)
            return F.when(self.col(col.name).isNotNull(),
                          F.lit(f"{col.label}: needs more months or has a gap")).otherwise(missing)
        return missing

    def months_problem(self, col: ex.Col, window: int) -> Column:
        """judge's reason for a list of months: missing, too short, or the first unusable month
        of the last ``window``, oldest first."""
        label = col.label
        months = self.col(col.name)
        chain = F.when(months.isNull(), F.lit(f"{label} is missing"))
        chain = chain.when(F.size(months) < F.lit(window), F.concat(
            F.lit(f"{label}: needs {window} months, has "), F.size(months).cast("string")))
        for back in range(window, 0, -1):
            month = self.month(col, back)
            chain = chain.when(month.isNull() | F.isnan(month), F.lit(f"{label} is missing"))
            chain = chain.when(_infinite(month), F.lit(not_finite_reason(label)))
        return chain.otherwise(F.lit(None).cast("string"))


# -- quotas: an exact rank without a single-partition window -------------------------------
def _rank_nodes(node: Any) -> list[ex.Better | ex.CountValid]:
    """The Better and CountValid nodes inside an expression."""
    import attrs

    if isinstance(node, ex.Better | ex.CountValid):
        return [node]
    if isinstance(node, tuple):
        return [found for item in node for found in _rank_nodes(item)]
    if attrs.has(type(node)):
        return [found for f in attrs.fields(type(node))
                for found in _rank_nodes(getattr(node, f.name))]
    return []


def _bucket(order: Column) -> Column:
    """A fine bucket of a finite number, non-decreasing in it: a sixteenth of an octave of
    its size (log2 is semi-monotonic, so the buckets never cross), zero on its own."""
    size = F.floor(F.log2(F.abs(order)) * F.lit(_FINE_PER_OCTAVE))
    shift = F.lit(200_000)  # beyond 16 × 1075 octaves: positives above zero, negatives below
    return (F.when(order > 0, shift + size).when(order < 0, -shift - size)
            .otherwise(F.lit(0)).cast("long"))


def _ranks(frame: DataFrame, key: Column, descending: bool) -> DataFrame:
    """For each distinct non-null ``key``: ``better`` (how many rows have a strictly better
    key) and ``total`` (how many rows have a key). Counts per key, then running sums inside
    each bucket plus the totals of the buckets before it."""
    counts = (frame.select(key.cast("double").alias("key")).where(F.col("key").isNotNull())
              .groupBy("key").agg(F.count(F.lit(1)).alias("n")))
    order = -F.col("key") if descending else F.col("key")  # smaller is better
    counts = counts.withColumn("order", order).withColumn("fine", _bucket(F.col("order")))
    counts = counts.withColumn("coarse", F.floor(F.col("fine") / F.lit(_FINE_PER_COARSE)))
    earlier = (_window().partitionBy("fine").orderBy("order")
               .rowsBetween(_window().unboundedPreceding, -1))
    counts = counts.withColumn("within", F.coalesce(F.sum("n").over(earlier), F.lit(0)))
    fine = counts.groupBy("coarse", "fine").agg(F.sum("n").alias("fine_n"))
    a, b = fine.alias("a"), fine.alias("b")
    fine_before = (a.join(b, (F.col("a.coarse") == F.col("b.coarse"))
                          & (F.col("b.fine") < F.col("a.fine")), "left")
                   .groupBy(F.col("a.coarse").alias("coarse"), F.col("a.fine").alias("fine"))
                   .agg(F.coalesce(F.sum("b.fine_n"), F.lit(0)).alias("fine_before")))
    coarse = fine.groupBy("coarse").agg(F.sum("fine_n").alias("coarse_n"))
    c, d = coarse.alias("c"), coarse.alias("d")
    coarse_before = c.crossJoin(d).groupBy(F.col("c.coarse").alias("coarse")).agg(
        F.sum(F.when(F.col("d.coarse") < F.col("c.coarse"), F.col("d.coarse_n"))
              .otherwise(F.lit(0))).alias("coarse_before"),
        F.sum("d.coarse_n").alias("total"))
    return (counts.join(fine_before, ["coarse", "fine"]).join(coarse_before, "coarse")
            .select("key", (F.col("coarse_before") + F.col("fine_before") + F.col("within"))
                    .cast("long").alias("better"), F.col("total").cast("long")))


def _join_ranks(frame: DataFrame, expr: ex.Expr, compile_: _Compiler) -> DataFrame:
    """``frame`` with a column for each Better/CountValid node ``expr`` reads."""
    for node in _rank_nodes(expr):
        if node in compile_.ranks:
            continue
        descending = node.descending if isinstance(node, ex.Better) else False
        n = len(compile_.ranks) // 2
        ranks = _ranks(frame, compile_(node.value), descending)
        key, better, total = f"__vw_rank{n}_key", f"__vw_rank{n}_better", f"__vw_rank{n}_total"
        ranks = ranks.select(F.col("key").alias(key), F.col("better").alias(better),
                             F.col("total").alias(total))
        frame = frame.withColumn(key, compile_(node.value).cast("double"))
        frame = frame.join(ranks, key, "left")
        compile_.ranks[ex.Better(node.value, descending)] = better
        compile_.ranks[ex.CountValid(node.value)] = total
    return frame


# -- the whole judgement --------------------------------------------------------------------
def judge_frame(plan: Plan, query: ex.Query, frame: DataFrame) -> DataFrame:
    """``frame`` with ``tier``, ``rule`` and ``reason`` (and ``computed_tier`` when it carries
    the override columns), as a lazy Spark DataFrame."""
    compile_ = _Compiler(frame.schema)
    staged = frame
    for name, expr in query.lets:  # each intermediate once, in order
        staged = _join_ranks(staged, expr, compile_)
        staged = staged.withColumn(name, compile_(expr))
    for expr in (query.rule, query.reason):
        staged = _join_ranks(staged, expr, compile_)
    rule = "__vw_rule_code"
    computed = "__vw_computed_code"
    staged = staged.withColumns({rule: compile_(query.rule),
                                 computed: compile_(query.computed_tier)})  # type: ignore[arg-type]
    computed_name = _pick(compile_.col(computed), plan.tiers).cast("string")
    tier = F.when(compile_.col(rule).isNull(), F.lit(None).cast("string"))
    override = plan.override
    given = query.uses_override and override is not None and override.tier in frame.columns
    if given:
        assert override is not None
        wanted = compile_(ex.Col(override.tier, "text", "override"))
        tier = tier.when(compile_.col(rule) == F.lit(plan.rule_ids.index("override")),
                         F.when(wanted.isin(list(plan.tiers)), wanted))
    answers = {
        "tier": tier.otherwise(computed_name),
        "rule": _pick(compile_.col(rule), plan.rule_ids).cast("string"),
        "reason": F.when(compile_.col(rule).isNull(), compile_(query.reason))
                   .otherwise(F.lit(None).cast("string")),
    }
    if given:
        answers["computed_tier"] = computed_name
    kept = [answers.pop(name).alias(name) if name in answers else compile_.col(name)
            for name in frame.columns]
    return staged.select(*kept, *(value.alias(name) for name, value in answers.items()))


class SparkLowering:
    """The ``spark`` back end: takes a pyspark DataFrame (classic or Spark Connect), gives
    one back, unevaluated."""

    name = "spark"

    def accepts(self, data: object) -> bool:
        kind = type(data)
        return kind.__name__ == "DataFrame" and kind.__module__.startswith("pyspark.sql")

    def judge(self, book: RuleBook, data: Any, **options: Any) -> DataFrame:
        given = [name for name, value in options.items() if value is not None]
        if given:
            raise TypeError(f"the spark back end takes no options: {', '.join(given)}")
        return judge_frame(book.plan, book.query, data)


#: The registered instance (``backends.backend("spark")``).
LOWERING = SparkLowering()
