"""Triggers: develop / maintain / retain / upgrade / risk signals over monthly periods.

A trigger file (``kind: triggers``) lists triggers, each with a family, a severity, a suggested
action and a declarative condition over a customer's monthly history. A :class:`TriggerBook`
scans a whole history column-wise (``scan``) or evaluates monthly events as they arrive
(``live``, through durable_rules) — the same signals either way.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import polars as pl

from vip_workflow.errors import EvaluationError
from vip_workflow.rules.files.document import Document, validate_document
from vip_workflow.rules.triggers import schema
from vip_workflow.rules.triggers.batch import SIGNAL_SCHEMA, scan_frame
from vip_workflow.rules.triggers.live import LiveTriggerEngine
from vip_workflow.rules.triggers.plan import Leaf, TriggerPlan, compile_condition
from vip_workflow.rules.triggers.signal import (
    Signal,
    describe_condition,
    explain_evidence,
    signals_frame,
)

__all__ = [
    "SIGNAL_SCHEMA",
    "LiveTriggerEngine",
    "Signal",
    "TriggerBook",
    "explain_evidence",
    "explain_signals",
    "from_document",
    "triggers_schema",
]


class TriggerBook:
    """A validated trigger file: scan histories in batch or evaluate events live."""

    def __init__(self, rules: schema.TriggerFile, *, path: str | None = None,
                 document: Document | None = None) -> None:
        self.rules = rules
        self.path = path
        self.document = document
        self.plans: tuple[TriggerPlan, ...] = tuple(_plan(t, i) for i, t in
                                                    enumerate(rules.triggers))

    # -- facts ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.rules.name

    @property
    def version(self) -> str:
        return self.rules.version

    @property
    def triggers(self) -> tuple[schema.Trigger, ...]:
        return tuple(self.rules.triggers)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.rules.triggers)

    @property
    def fields(self) -> tuple[str, ...]:
        """Snapshot columns the enabled triggers read."""
        return tuple(dict.fromkeys(f for p in self._active() for f in p.fields))

    @property
    def lookback(self) -> int:
        """Earlier months the triggers read at most (besides the current one)."""
        return max((p.lookback for p in self._active()), default=0)

    def trigger(self, trigger_id: str) -> schema.Trigger:
        for t in self.rules.triggers:
            if t.id == trigger_id:
                return t
        raise KeyError(trigger_id)

    def __len__(self) -> int:
        return len(self.rules.triggers)

    def __iter__(self) -> Iterator[schema.Trigger]:
        return iter(self.rules.triggers)

    def _active(self, families: Iterable[str] | None = None,
                ids: Iterable[str] | None = None) -> list[TriggerPlan]:
        wanted_families = set(families) if families is not None else None
        wanted_ids = set(ids) if ids is not None else None
        if wanted_families is not None and (bad := wanted_families - set(schema.FAMILIES)):
            raise EvaluationError(f"unknown family {sorted(bad)[0]!r}; families are "
                                  f"{', '.join(schema.FAMILIES)}")
        if wanted_ids is not None and (bad := wanted_ids - set(self.ids)):
            raise EvaluationError(f"no trigger {sorted(bad)[0]!r} in {self.name}")
        return [p for p in self.plans if p.trigger.enabled
                and (wanted_families is None or p.trigger.family in wanted_families)
                and (wanted_ids is None or p.id in wanted_ids)]

    # -- evaluation ----------------------------------------------------------------------
    def scan(self, history: Any, *, families: Iterable[str] | None = None,
             triggers: Iterable[str] | None = None, bind: Any = None) -> Any:
        """Signals over a whole history (one row per customer × month), column-wise.

        Returns a DataFrame with ``customer_id, period, trigger, family, severity, action,
        evidence`` (a list of ``{name, value}``), sorted by customer, period and trigger order;
        pandas in, pandas out. ``families`` / ``triggers`` restrict the triggers run.

        Other inputs go to the back end registered for them
        (``vip_workflow.rules.batch_backends``): a DuckDB relation gives a lazy relation of the
        signals; a SQLAlchemy ``Table`` (with ``bind=engine``) a polars frame computed inside
        the database; a Spark DataFrame a lazy Spark DataFrame, unsorted.
        """
        plans = self._active(families, triggers)
        if not isinstance(history, pl.DataFrame | pl.LazyFrame) \
                and not type(history).__module__.startswith("pandas"):
            from vip_workflow.rules.batch_backends import backend_for

            backend = backend_for("triggers", history)
            if backend is not None:
                return backend.run(plans, history, bind=bind)
        result = scan_frame(plans, history)
        if type(history).__module__.startswith("pandas"):
            return result.to_pandas()
        return result

    def live(self, *, families: Iterable[str] | None = None,
             triggers: Iterable[str] | None = None) -> LiveTriggerEngine:
        """A live engine: post monthly snapshots one by one, get signals through durable_rules.

        Close it when done (``with book.live() as engine: …``).
        """
        return LiveTriggerEngine(self._active(families, triggers), name=self.name)

    def scan_live(self, history: Any, *, families: Iterable[str] | None = None,
                  triggers: Iterable[str] | None = None) -> pl.DataFrame:
        """Replay a history through a fresh live engine (month by month); same result as
        ``scan``. Slow: for checking and demos."""
        from vip_workflow.rules.triggers.snapshots import normalise_history

        frame = normalise_history(history, required=self.fields).sort("period", "customer_id")
        with self.live(families=families, triggers=triggers) as engine:
            found = engine.post_many(frame.iter_rows(named=True))
        result = signals_frame(found, frame.schema["customer_id"])
        order = {t: i for i, t in enumerate(self.ids)}
        return (result.with_columns(pl.col("trigger").replace_strict(order, default=-1)
                                    .alias("__o"))
                .sort("customer_id", "period", "__o").drop("__o"))

    # -- other views ---------------------------------------------------------------------
    def lint(self) -> Any:
        """Triggers that can never fire or always fire, thresholds of the wrong sign, unknown
        fields. Returns a ``vw.LintReport``."""
        from vip_workflow.rules.triggers.lint import lint_triggers

        return lint_triggers(self)

    def describe(self) -> pl.DataFrame:
        """One row per trigger: id, family, severity, emit, condition in words, action."""
        return pl.DataFrame(
            [{"id": t.id, "family": t.family, "severity": t.severity, "emit": t.emit,
              "enabled": t.enabled, "condition": describe_condition(t.when), "action": t.action}
             for t in self.rules.triggers],
            schema={"id": pl.String, "family": pl.String, "severity": pl.String,
                    "emit": pl.String, "enabled": pl.Boolean, "condition": pl.String,
                    "action": pl.String})

    def to_dict(self) -> dict[str, Any]:
        return self.rules.model_dump(mode="json", exclude_none=True,
                                     exclude_defaults=False)

    def to_yaml(self) -> str:
        from vip_workflow.rules.files.document import dump_yaml

        return dump_yaml(self.to_dict())

    def save(self, path: str | Path) -> Path:
        """Write the trigger file (YAML, or JSON for a .json path)."""
        from vip_workflow.rules.files.document import write_rule_file

        return write_rule_file(self.to_dict(), path)

    def __repr__(self) -> str:
        counts = {f: sum(t.family == f for t in self.rules.triggers) for f in schema.FAMILIES}
        shown = ", ".join(f"{n} {f}" for f, n in counts.items() if n)
        return f"<TriggerBook {self.name!r} v{self.version}: {len(self)} triggers ({shown})>"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(t.id)}</td><td>{t.family}</td><td>{t.severity}</td>"
            f"<td>{html.escape(describe_condition(t.when))}</td>"
            f"<td>{html.escape(t.action)}</td></tr>" for t in self.rules.triggers)
        return (f"<div><strong>TriggerBook {html.escape(self.name)}</strong> v"
                f"{html.escape(self.version)}<table><thead><tr><th>id</th><th>family</th>"
                f"<th>severity</th><th>condition</th><th>action</th></tr></thead>"
                f"<tbody>{rows}</tbody></table></div>")


def _plan(trigger: schema.Trigger, index: int) -> TriggerPlan:
    leaves: list[Leaf] = []
    root = compile_condition(trigger.when, leaves)
    return TriggerPlan(trigger, index, root, tuple(leaves))


def explain_signals(signals: Any) -> list[str]:
    """One sentence per signal row of a ``scan`` result, from any back end (a Spark or
    DuckDB result is computed and fetched first)."""
    from vip_workflow.rules.batch_backends import collected

    frame = collected(signals)
    return [Signal.from_row(row).explain() for row in frame.iter_rows(named=True)]


def from_document(document: Document) -> TriggerBook:
    """Validate a ``kind: triggers`` Document into a TriggerBook (located errors)."""
    rules = validate_document(document, schema.TriggerFile)
    seen: dict[str, int] = {}
    for position, trigger in enumerate(rules.triggers):
        if trigger.id in seen:
            first = seen[trigger.id]
            raise document.error(
                f"the trigger id {trigger.id!r} is used twice (first at triggers[{first}])",
                ("triggers", position, "id"))
        seen[trigger.id] = position
    return TriggerBook(rules, path=document.path, document=document)


def triggers_schema() -> dict[str, Any]:
    """The JSON Schema of trigger files, for editors (``schema_for("triggers")``)."""
    from vip_workflow.rules.files.kinds import schema_for

    return schema_for("triggers")
