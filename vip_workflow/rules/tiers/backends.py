"""The back ends a tier book judges a portfolio on, chosen by the input's type.

``book.judge_many(x)`` runs the hand-tuned polars lowering (``_polars.py``, the reference and
fast path) for polars and pandas frames and plain records. Any other input goes to the first
registered back end whose ``accepts(x)`` is true — a DuckDB relation or table, a SQLAlchemy
``Table``, a Spark DataFrame — and that back end lowers the same ``Query`` to its engine.
A back end never falls back: a node it has no translation for raises
``UnsupportedExpressionError``.

A back end registers itself once, by name::

    from vip_workflow.rules.tiers.backends import register
    register("spark", SparkLowering())

``backend(name)`` gives it back; ``backend_for(x)`` finds the one for an input. The built-in
back ends are imported on first use (their engines are optional extras).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from vip_workflow.errors import AdapterNotFoundError, MissingExtraError

if TYPE_CHECKING:
    from vip_workflow.rules.tiers.book import RuleBook

__all__ = ["Lowering", "backend", "backend_for", "names", "register"]


@runtime_checkable
class Lowering(Protocol):
    """A back end: which inputs it takes, and how it judges one."""

    def accepts(self, data: object) -> bool:
        """True when ``data`` is an input of this back end (checked without importing the
        engine when ``data`` cannot be one of its objects)."""
        ...

    def judge(self, book: RuleBook, data: Any, **options: Any) -> Any:
        """``data`` with ``tier``, ``rule`` and ``reason`` (and ``computed_tier`` when the input
        carries overrides): the answers ``judge`` gives, as an object of the input's kind."""
        ...


# the built-in back ends, imported on first use: name -> ("module:attribute", the modules
# of the inputs they take — so a missing extra is reported for those inputs only)
_BUILT_IN = {
    "duckdb": ("vip_workflow.rules.tiers._duckdb:LOWERING", ("duckdb", "_duckdb")),
    "sqlalchemy": ("vip_workflow.rules.tiers._sqlalchemy:LOWERING", ("sqlalchemy",)),
    "spark": ("vip_workflow.rules.tiers._spark:LOWERING", ("pyspark",)),
}
_REGISTERED: dict[str, Lowering] = {}


def register(name: str, lowering: Lowering) -> None:
    """Make ``lowering`` the back end called ``name`` (replacing one of that name)."""
    if not isinstance(lowering, Lowering):
        raise TypeError(f"back end {name!r} needs accepts(data) and judge(book, data)")
    _REGISTERED[name] = lowering


class _Unavailable:
    """A built-in back end whose extra is missing: it claims its inputs and says so."""

    def __init__(self, modules: tuple[str, ...], error: MissingExtraError) -> None:
        self.modules, self.error = modules, error

    def accepts(self, data: object) -> bool:
        return type(data).__module__.startswith(self.modules)

    def judge(self, book: RuleBook, data: Any, **options: Any) -> Any:
        raise self.error


def _load_built_ins() -> None:
    for name, (target, modules) in _BUILT_IN.items():
        if name not in _REGISTERED:
            module, attribute = target.split(":")
            try:
                _REGISTERED[name] = getattr(importlib.import_module(module), attribute)
            except MissingExtraError as missing:
                _REGISTERED[name] = _Unavailable(modules, missing)


def names() -> list[str]:
    """The names of the back ends, built-in and registered."""
    _load_built_ins()
    return list(_REGISTERED)


def backend(name: str) -> Lowering:
    """The back end called ``name``."""
    _load_built_ins()
    try:
        return _REGISTERED[name]
    except KeyError:
        raise AdapterNotFoundError(name, "tier back end",
                                   f"known: {', '.join(_REGISTERED)}") from None


def backend_for(data: object) -> Lowering | None:
    """The first back end that accepts ``data`` (None when none does)."""
    _load_built_ins()
    for lowering in _REGISTERED.values():
        if lowering.accepts(data):
            return lowering
    return None
