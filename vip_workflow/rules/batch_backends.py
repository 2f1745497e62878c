"""The back ends trigger scans and KPI checks run on, chosen by the input's type.

``TriggerBook.scan(x)`` and ``KpiBook.check(x)`` run polars (the reference and fast path) for
polars and pandas frames and plain records. Any other input goes to the first back end of its
kind (``"triggers"`` or ``"kpis"``) whose ``accepts(x)`` is true — a DuckDB relation, a
SQLAlchemy ``Table``, a Spark DataFrame — which lowers the same rule IR to its engine and never
falls back (a node it has no rule for raises ``vip_workflow.rules.ir.UnknownNode``).

A back end registers itself by kind and name::

    from vip_workflow.rules.batch_backends import register
    register("triggers", "spark", SparkTriggers())

The built-in ones are imported on first use (their engines are optional extras).
"""

from __future__ import annotations

import importlib
from typing import Any, Literal, Protocol, runtime_checkable

from vip_workflow.errors import AdapterNotFoundError, MissingExtraError

__all__ = ["BatchBackend", "Kind", "backend", "backend_for", "collected", "names", "register"]

Kind = Literal["triggers", "kpis"]


@runtime_checkable
class BatchBackend(Protocol):
    """A back end of one kind: which inputs it takes, and how it runs the rules on one."""

    def accepts(self, data: object) -> bool:
        """True when ``data`` is an input of this back end (checked without importing the
        engine when ``data`` cannot be one of its objects)."""
        ...

    def run(self, rules: Any, data: Any, **options: Any) -> Any:
        """Triggers: the signals of ``rules`` (the active ``TriggerPlan``s) over the history
        ``data``; KPIs: the result rows of ``rules`` (a ``KpiBook`` and ``kpis=`` the wanted
        ids) over the portfolio ``data`` — the columns and values polars gives."""
        ...


# kind -> name -> ("module:attribute", modules of the inputs it takes, to report a missing
# extra for those inputs only)
_BUILT_IN: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "triggers": {
        "duckdb": ("vip_workflow.rules.triggers._sql:DUCKDB", ("duckdb", "_duckdb")),
        "sqlalchemy": ("vip_workflow.rules.triggers._sql:SQLALCHEMY", ("sqlalchemy",)),
        "spark": ("vip_workflow.rules.triggers._spark:SPARK", ("pyspark",)),
    },
    "kpis": {
        "duckdb": ("vip_workflow.rules.kpis._sql:DUCKDB", ("duckdb", "_duckdb")),
        "sqlalchemy": ("vip_workflow.rules.kpis._sql:SQLALCHEMY", ("sqlalchemy",)),
        "spark": ("vip_workflow.rules.kpis._spark:SPARK", ("pyspark",)),
    },
}
_REGISTERED: dict[str, dict[str, BatchBackend]] = {"triggers": {}, "kpis": {}}


def register(kind: Kind, name: str, backend: BatchBackend) -> None:
    """Make ``backend`` the ``kind`` back end called ``name`` (replacing one of that name)."""
    if kind not in _REGISTERED:
        raise ValueError(f"no kind {kind!r}: triggers or kpis")
    if not isinstance(backend, BatchBackend):
        raise TypeError(f"back end {name!r} needs accepts(data) and run(rules, data)")
    _REGISTERED[kind][name] = backend


class _Unavailable:
    """A built-in back end whose extra is missing: it claims its inputs and says so."""

    def __init__(self, modules: tuple[str, ...], error: MissingExtraError) -> None:
        self.modules, self.error = modules, error

    def accepts(self, data: object) -> bool:
        return type(data).__module__.startswith(self.modules)

    def run(self, rules: Any, data: Any, **options: Any) -> Any:
        raise self.error


def _load_built_ins(kind: str) -> dict[str, BatchBackend]:
    registered = _REGISTERED[kind]
    for name, (target, modules) in _BUILT_IN[kind].items():
        if name not in registered:
            module, attribute = target.split(":")
            try:
                registered[name] = getattr(importlib.import_module(module), attribute)
            except MissingExtraError as missing:
                registered[name] = _Unavailable(modules, missing)
    return registered


def names(kind: Kind) -> list[str]:
    """The names of the ``kind`` back ends, built-in and registered."""
    return list(_load_built_ins(kind))


def backend(kind: Kind, name: str) -> BatchBackend:
    """The ``kind`` back end called ``name``."""
    registered = _load_built_ins(kind)
    try:
        return registered[name]
    except KeyError:
        raise AdapterNotFoundError(name, f"{kind[:-1]} back end",
                                   f"known: {', '.join(registered)}") from None


def backend_for(kind: Kind, data: object) -> BatchBackend | None:
    """The first ``kind`` back end that accepts ``data`` (None when none does)."""
    for candidate in _load_built_ins(kind).values():
        if candidate.accepts(data):
            return candidate
    return None


def collected(data: Any) -> Any:
    """A back end's result as a polars DataFrame, computed now: a polars frame (a lazy one
    collected), pandas, a pyarrow table, a DuckDB relation or a Spark DataFrame (fetched as
    Arrow). What shows or explains results (``KpiBook.report``, ``explain_signals``) takes
    every back end's answer through it."""
    import polars as pl

    if isinstance(data, pl.LazyFrame):
        return data.collect()
    if isinstance(data, pl.DataFrame):
        return data
    module = type(data).__module__
    if module.startswith("pandas"):
        return pl.from_pandas(data, include_index=False)
    if module.startswith("pyarrow"):
        return pl.DataFrame(pl.from_arrow(data))
    if module.startswith(("duckdb", "_duckdb")):
        return data.pl()
    if module.startswith("pyspark.sql") and type(data).__name__ == "DataFrame":
        return pl.DataFrame(pl.from_arrow(data.toArrow()))
    raise TypeError(f"cannot read results from a {type(data).__name__}: pass a polars, pandas "
                    "or Arrow frame, a DuckDB relation or a Spark DataFrame")
