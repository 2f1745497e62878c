"""Signals become work: tasks for account managers, retention cases, notices.

A :class:`TaskBoard` takes signals (a ``TriggerBook.scan`` DataFrame, a list of ``Signal`` or
the output of a live engine) and, for each one:

1. **deduplicates** — while a task for the same customer and trigger is open, a new signal
   only adds its period to that task (``Task.seen``); no second task is opened;
2. **assigns** the task to the customer's ``account_manager`` (from the ``managers`` mapping or
   a column of the history); without one — or when the manager is not in the board's pool,
   if a pool was given — to the pool's manager with the fewest open tasks (ties by name);
3. for a **retain**-family signal, opens a **retention case** — one open case per customer,
   shared by its retain tasks — with ``retention``: a ``vw.ProcessEngine`` (starts the bundled
   ``retention_case`` process as ``SYSTEM``) or any callable ``(task) -> case id``. The case
   stays the customer's while it is open, whether or not its tasks are: a later retain task
   *joins* it (gets its ``case_id``) instead of opening a second one. With an engine, "open"
   means not in a final state (a customer's open case already in the engine is found too), and
   each task joining a case opened by an earlier ``ingest`` is recorded in the case's ledger
   (``record_join``); with a callable, pass ``case_open`` to say when a case has closed
   (default: it stays open while the board lives);
4. sends a ``task_assigned`` notice through the ``notifier`` (any object with
   ``send(notice)``, e.g. ``MemoryNotifier``), addressed to the assignee.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

import polars as pl
from attrs import define, field

from vip_workflow.domain.instances import SYSTEM, Notice
from vip_workflow.errors import EvaluationError, NotFoundError
from vip_workflow.rules.triggers.signal import Signal

if TYPE_CHECKING:
    from typing_extensions import TypeIs

    from vip_workflow.ports import Notifier
    from vip_workflow.processes.engine import ProcessEngine

__all__ = ["IngestReport", "Task", "TaskBoard", "open_cases", "record_join"]

TaskStatus = Literal["open", "done", "dismissed"]


@define
class Task:
    """Work for one customer and trigger, opened by a signal."""

    id: str
    customer_id: Any
    trigger: str
    family: str
    severity: str
    action: str
    period: date
    assignee: str | None
    evidence: tuple[tuple[str, float | None], ...]
    created_at: datetime
    status: TaskStatus = "open"
    case_id: str | None = None
    seen: list[date] = field(factory=list)
    closed_at: datetime | None = None
    note: str = ""

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "customer_id": self.customer_id, "trigger": self.trigger,
                "family": self.family, "severity": self.severity, "action": self.action,
                "period": self.period, "assignee": self.assignee, "status": self.status,
                "case_id": self.case_id, "seen": len(self.seen), "created_at": self.created_at}


@define
class IngestReport:
    """What one ``ingest`` call did."""

    created: list[Task] = field(factory=list)
    duplicates: int = 0
    cases: list[str] = field(factory=list)
    unassigned: int = 0

    def __repr__(self) -> str:
        return (f"<IngestReport: {len(self.created)} task(s), {self.duplicates} duplicate(s), "
                f"{len(self.cases)} retention case(s), {self.unassigned} unassigned>")


Retention = Callable[[Task], str | None]


class TaskBoard:
    """In-memory task board fed by signals.

    Args:
        managers: the pool for fallback assignment (and the only valid assignees, if given).
        notifier: receives a ``task_assigned`` Notice per new task (optional).
        retention: a ``ProcessEngine`` or a callable ``(task) -> case id`` for retain signals.
        clock: returns the current aware datetime (default UTC now).
        open_elsewhere: open tasks per manager kept outside this board (e.g. from earlier
            cycles), counted in ``load()`` so fallback assignment balances all of them.
        case_open: whether a retention case is still open (default: with an engine, not in a
            final state; with a callable, always).
    """

    def __init__(
        self,
        *,
        managers: Iterable[str] = (),
        notifier: Notifier | None = None,
        retention: ProcessEngine | Retention | None = None,
        clock: Callable[[], datetime] | None = None,
        open_elsewhere: Mapping[str, int] | None = None,
        case_open: Callable[[str], bool] | None = None,
    ) -> None:
        self.pool: list[str] = sorted(dict.fromkeys(managers))
        self._elsewhere = Counter(dict(open_elsewhere or {}))
        self.notifier = notifier
        self.retention = _retention(retention)
        self._engine = retention if _is_engine(retention) else None
        self._case_open = case_open or (_case_open(self._engine) if self._engine else None)
        self._in_engine: dict[str, str] | None = None
        self.clock = clock or (lambda: datetime.now(UTC))
        self.tasks: dict[str, Task] = {}
        self._open: dict[tuple[Any, str], str] = {}
        self._cases: dict[Any, str] = {}
        self._ids = itertools.count(1)

    # -- reading -------------------------------------------------------------------------
    def __repr__(self) -> str:
        opened = sum(t.is_open for t in self.tasks.values())
        return (f"<TaskBoard: {len(self.tasks):,} task(s), {opened:,} open, "
                f"{len(self._cases):,} retention case(s), {len(self.pool)} manager(s) in the pool>")

    def _repr_html_(self) -> str:
        from vip_workflow import _html

        status = Counter[str](t.status for t in self.tasks.values())
        families = Counter(t.family for t in self.tasks.values() if t.is_open)
        opened = self.open_tasks()
        rows = [(t.id, t.customer_id, t.trigger, t.severity, t.period, t.assignee, t.case_id)
                for t in opened[:20]]
        counts: dict[str, int] = {**status, **{f"open {k}": v for k, v in
                                              sorted(families.items())}}
        return _html.frame(
            "task board", _html.fields(counts),
            "<p><strong>open tasks per manager</strong></p>",
            _html.table(("manager", "open tasks"), list(self.load().items()), limit=20,
                        what="managers"),
            "<p><strong>open tasks</strong></p>",
            _html.table(("task", "customer", "trigger", "severity", "period", "assignee",
                         "case"), rows, total=len(opened), what="open tasks"),
            note=f"{len(self.tasks):,} task(s), {len(opened):,} open")

    def open_tasks(self, assignee: str | None = None) -> list[Task]:
        return [t for t in self.tasks.values()
                if t.is_open and (assignee is None or t.assignee == assignee)]

    def load(self) -> dict[str, int]:
        """Open tasks per manager of the pool (and any other assignee)."""
        counts = Counter(t.assignee for t in self.tasks.values() if t.is_open and t.assignee)
        counts.update(self._elsewhere)
        return {m: counts.get(m, 0) for m in sorted({*self.pool, *counts})}

    def frame(self) -> pl.DataFrame:
        """Every task as a row."""
        rows = [t.as_dict() for t in self.tasks.values()]
        return pl.DataFrame(rows) if rows else pl.DataFrame(
            schema={"id": pl.String, "customer_id": pl.String, "trigger": pl.String,
                    "family": pl.String, "severity": pl.String, "action": pl.String,
                    "period": pl.Date, "assignee": pl.String, "status": pl.String,
                    "case_id": pl.String, "seen": pl.Int64,
                    "created_at": pl.Datetime("us", "UTC")})

    def task(self, task_id: str) -> Task:
        try:
            return self.tasks[task_id]
        except KeyError:
            raise NotFoundError(f"no task {task_id!r}") from None

    # -- commands ------------------------------------------------------------------------
    def ingest(self, signals: Any, *, managers: Any = None) -> IngestReport:
        """Turn signals into tasks (see the module docstring).

        ``managers`` gives each customer's account manager: a mapping customer → manager, or
        a DataFrame with ``customer_id`` and ``account_manager`` (e.g. the history; the last
        row per customer counts).
        """
        owners = _owners(managers)
        report = IngestReport()
        opened: set[str] = set()  # the cases this call opens: their tasks need no join entry
        self._in_engine = None  # the engine's open cases, read once per call if needed
        for signal in _signals(signals):
            key = (signal.customer_id, signal.trigger)
            if key in self._open:
                self.tasks[self._open[key]].seen.append(signal.period)
                report.duplicates += 1
                continue
            task = self._create(signal, owners.get(signal.customer_id))
            report.created.append(task)
            report.unassigned += task.assignee is None
            if signal.family == "retain" and self.retention is not None:
                case = self._case_for(task, opened)
                if case is not None and case not in report.cases:
                    report.cases.append(case)
            self._notify(task)
        return report

    def close(self, task_id: str, *, status: TaskStatus = "done", note: str = "") -> Task:
        """Close a task (done or dismissed); a new signal may then open a new one."""
        if status == "open":
            raise EvaluationError("close a task with status done or dismissed")
        task = self.task(task_id)
        if task.is_open:
            task.status = status
            task.note = note
            task.closed_at = self.clock()
            self._open.pop((task.customer_id, task.trigger), None)
        return task

    def reassign(self, task_id: str, manager: str) -> Task:
        task = self.task(task_id)
        task.assignee = manager
        self._notify(task)
        return task

    # -- internals -----------------------------------------------------------------------
    def _create(self, signal: Signal, owner: str | None) -> Task:
        assignee = owner if owner and (not self.pool or owner in self.pool) else self._least()
        task = Task(id=f"T{next(self._ids):06d}", customer_id=signal.customer_id,
                    trigger=signal.trigger, family=signal.family, severity=signal.severity,
                    action=signal.action, period=signal.period, assignee=assignee,
                    evidence=signal.evidence, created_at=self.clock())
        self.tasks[task.id] = task
        self._open[(task.customer_id, task.trigger)] = task.id
        return task

    def _least(self) -> str | None:
        if not self.pool:
            return None
        load = self.load()
        return min(self.pool, key=lambda m: (load.get(m, 0), m))

    def _case_for(self, task: Task, opened: set[str]) -> str | None:
        """The customer's open retention case, joined; or a new one."""
        case = self._cases.get(task.customer_id)
        if case is not None and case not in opened and self._case_open \
                and not self._case_open(case):
            case = None  # closed since: the next retain task opens a new case
        if case is None and self._engine is not None:  # one opened elsewhere, still open
            if self._in_engine is None:
                self._in_engine = open_cases(self._engine)
            case = self._in_engine.get(str(task.customer_id))
        if case is None:
            assert self.retention is not None
            case = self.retention(task)
            if case is not None:
                opened.add(case)
        elif case not in opened and self._engine is not None:
            record_join(self._engine, case, task_id=task.id, trigger=task.trigger,
                        period=f"{task.period:%Y-%m}")
        if case is not None:
            self._cases[task.customer_id] = case
        task.case_id = case
        return case

    def _notify(self, task: Task) -> None:
        if self.notifier is None:
            return
        self.notifier.send(Notice(
            "task_assigned", task.id, "trigger_task", task.status, self.clock(),
            roles=("account_manager",), users=(task.assignee,) if task.assignee else (),
            data={"customer_id": task.customer_id, "trigger": task.trigger,
                  "family": task.family, "severity": task.severity, "action": task.action,
                  "period": task.period.isoformat(), "case_id": task.case_id}))


def _is_engine(retention: object) -> TypeIs[ProcessEngine]:
    """A process engine (anything that starts processes), not a plain ``(task) -> case id``."""
    return hasattr(retention, "start")


def _retention(retention: ProcessEngine | Retention | None) -> Retention | None:
    if retention is None or not _is_engine(retention):
        return retention
    engine = retention

    def start(task: Task) -> str:
        context = {"customer_id": str(task.customer_id), "trigger": task.trigger}
        if task.assignee:
            context["account_manager_id"] = task.assignee
        return engine.start("retention_case", context, actor=SYSTEM,
                            comment=f"opened by {task.trigger}").id

    return start


def _case_open(engine: ProcessEngine) -> Callable[[str], bool]:
    def is_open(case_id: str) -> bool:
        try:
            return not engine.get(case_id).final
        except NotFoundError:
            return False

    return is_open


def open_cases(engine: ProcessEngine, customers: set[str] | None = None) -> dict[str, str]:
    """The open (not final) ``retention_case`` of each customer (of ``customers``, if given)
    that has one in the engine: customer id → case id (the first in id order, should a
    customer have several)."""
    found: dict[str, str] = {}
    for case_id in sorted(engine.store.find(definition="retention_case",
                                            include_final=False)):
        customer = str(engine.get(case_id).context.get("customer_id"))
        if customers is None or customer in customers:
            found.setdefault(customer, case_id)
    return found


def record_join(engine: ProcessEngine, case_id: str, *, task_id: str, trigger: str,
                period: str) -> bool:
    """Note in an open retention case's ledger that a retain task joined it: an ``update``
    entry (context unchanged) with the comment ``retain signal <trigger> of <period> joined:
    task <task_id>``, once per task. Returns whether an entry was written."""
    from vip_workflow.domain.instances import Actor
    from vip_workflow.processes.engine import ADMIN_ROLE

    comment = f"retain signal {trigger} of {period} joined: task {task_id}"
    case = engine.get(case_id)
    if case.final or any(entry.comment == comment for entry in case.history):
        return False
    engine.update_context(case_id, {}, actor=Actor(SYSTEM.id, roles={*SYSTEM.roles, ADMIN_ROLE}),
                          comment=comment)
    return True


def _owners(managers: Any) -> Mapping[Any, str]:
    if managers is None:
        return {}
    if isinstance(managers, Mapping):
        return managers
    frame = managers if isinstance(managers, pl.DataFrame) else pl.from_pandas(managers)
    if "account_manager" not in frame.columns:
        raise EvaluationError("the managers frame needs customer_id and account_manager",
                              field="account_manager")
    if "period" in frame.columns:
        frame = frame.sort("period")
    last = frame.group_by("customer_id", maintain_order=True).agg(
        pl.col("account_manager").drop_nulls().last())
    return dict(zip(last["customer_id"].to_list(), last["account_manager"].to_list(),
                    strict=True))


def _signals(signals: Any) -> Iterable[Signal]:
    if isinstance(signals, Signal):
        return [signals]
    if isinstance(signals, pl.DataFrame):
        return (Signal.from_row(r) for r in signals.iter_rows(named=True))
    if type(signals).__module__.startswith("pandas"):
        return _signals(pl.from_pandas(signals))
    return list(signals)
