"""Instances and their audit ledger: small immutable values (attrs slots classes).

An instance holds only what differs between instances — its state, context, open approvals,
timers and a version number for optimistic concurrency. Its history is a hash-chained ledger:
each entry carries the hash of the previous one, so any edit shows in ``verify_ledger()``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from attrs import field, frozen

__all__ = [
    "SYSTEM",
    "Actor",
    "Delegation",
    "GateRound",
    "LedgerEntry",
    "Notice",
    "ProcessInstance",
    "Timer",
    "Vote",
    "entry_hash",
    "first_bad_entry",
    "ledger_context",
    "request_digest",
]


def _roles(value: Iterable[str] | str) -> frozenset[str]:
    return frozenset((value,) if isinstance(value, str) else value)


@frozen
class Actor:
    """Who issues a command, with the roles they hold (the caller authenticates them)."""

    id: str
    roles: frozenset[str] = field(factory=frozenset, converter=_roles)

    def has_any(self, roles: Iterable[str]) -> bool:
        """Whether the actor holds at least one of ``roles``."""
        return not self.roles.isdisjoint(roles)


#: The actor of timers, escalations and hand-offs.
SYSTEM = Actor("system", roles={"system"})


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
    return str(value)


def entry_hash(
    instance_id: str, prev_hash: str, seq: int, at: datetime, actor: str,
    on_behalf_of: str | None, action: str, source: str | None, dest: str | None,
    comment: str, data: Mapping[str, Any] | None,
) -> str:
    """SHA-256 over the entry's fields, the previous hash and the instance id (hex)."""
    payload = json.dumps(
        [instance_id, prev_hash, seq, at.isoformat(), actor, on_behalf_of, action, source, dest,
         comment, data or None],
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_json_default,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def request_digest(command: str, actor: str, args: Mapping[str, Any]) -> str:
    """SHA-256 (hex) over a command, its actor and its arguments: what a ``request_id``
    stands for, so a replay can be told from another request reusing the id."""
    payload = json.dumps([command, actor, dict(args)], sort_keys=True, ensure_ascii=False,
                         separators=(",", ":"), default=_json_default)
    return hashlib.sha256(payload.encode()).hexdigest()


@frozen
class LedgerEntry:
    """One change of an instance: who (on whose behalf) did what, from → to, when and why."""

    seq: int
    at: datetime
    actor: str
    on_behalf_of: str | None
    action: str
    source: str | None
    dest: str | None
    comment: str
    data: Mapping[str, Any] | None
    prev_hash: str
    hash: str

    def __repr__(self) -> str:
        move = f"{self.source or '—'} → {self.dest or '—'}"
        who = self.actor + (f" for {self.on_behalf_of}" if self.on_behalf_of else "")
        return f"<LedgerEntry #{self.seq} {self.at:%Y-%m-%d %H:%M} {who} {self.action}: {move}>"

    def _repr_html_(self) -> str:
        from vip_workflow import _html

        return _html.table(_LEDGER_HEADERS, [_ledger_row(self)])

    def expected_hash(self, instance_id: str) -> str:
        """The hash this entry should carry."""
        return entry_hash(
            instance_id, self.prev_hash, self.seq, self.at, self.actor, self.on_behalf_of,
            self.action, self.source, self.dest, self.comment, self.data,
        )


_LEDGER_HEADERS = ("#", "at", "actor", "on behalf of", "action", "from", "to", "comment")


def _ledger_row(entry: LedgerEntry) -> tuple[object, ...]:
    return (entry.seq, f"{entry.at:%Y-%m-%d %H:%M}", entry.actor, entry.on_behalf_of,
            entry.action, entry.source, entry.dest, entry.comment)


def first_bad_entry(instance_id: str, entries: Iterable[LedgerEntry]) -> int | None:
    """Index of the first entry whose chain or hash is broken, ``None`` if all are intact."""
    prev = ""
    for i, entry in enumerate(entries):
        if entry.seq != i or entry.prev_hash != prev or entry.hash != entry.expected_hash(
            instance_id
        ):
            return i
        prev = entry.hash
    return None


def ledger_context(entries: Iterable[LedgerEntry]) -> dict[str, Any] | None:
    """The context the ledger implies: the ``start`` entry's ``context`` with every entry's
    ``changes`` (``{field: [old, new]}``, ``{field: [old]}`` for a removal) applied in
    order; ``None`` if the start entry records no context (a ledger from before 0.4)."""
    context: dict[str, Any] | None = None
    for entry in entries:
        data = entry.data or {}
        if entry.action == "start" and entry.source is None:
            if "context" not in data:
                return None
            context = dict(data["context"])
            continue
        changes = data.get("changes")
        if context is None or not isinstance(changes, Mapping):
            continue
        for name, change in changes.items():
            if len(change) == 1:
                context.pop(name, None)
            else:
                context[name] = change[1]
    return context


def _plain(value: Any) -> Any:
    """``value`` with whole floats as ints (``0`` and ``0.0`` are the same amount)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _canonical(context: Mapping[str, Any]) -> str:
    """A context as JSON text, as a store would give it back (dates as ISO text)."""
    return json.dumps(_plain(context), sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"), default=_json_default)


@frozen
class Vote:
    """One approver's decision on one seat of one level."""

    level: str
    seat: str
    actor: str
    on_behalf_of: str | None
    decision: str  # "approve" or "reject"
    at: datetime
    comment: str = ""

    @property
    def person(self) -> str:
        """The person whose authority was used (the principal of a delegation)."""
        return self.on_behalf_of or self.actor


@frozen
class Delegation:
    """``principal`` lets ``delegate`` decide in their place until ``until`` (this gate only)."""

    principal: str
    delegate: str
    until: datetime
    roles: frozenset[str]


@frozen
class GateRound:
    """The open approvals of a gate: who asked, which levels apply, the votes so far."""

    state: str
    requester: str
    requester_on_behalf_of: str | None
    origin: str
    requested_at: datetime
    levels: tuple[str, ...]
    position: int = 0
    votes: tuple[Vote, ...] = ()
    delegations: tuple[Delegation, ...] = ()

    @property
    def level(self) -> str:
        """The name of the level waiting for decisions."""
        return self.levels[self.position]

    @property
    def requesters(self) -> frozenset[str]:
        """The requester and whoever they acted for."""
        return frozenset(p for p in (self.requester, self.requester_on_behalf_of) if p)


@frozen
class Timer:
    """A due time kept on the instance: ``remind``, ``reassign`` (to ``value``), ``overdue``
    or ``event`` (fire ``value``); or a hand-off marker, ``start_child`` / ``resume_parent``
    (the other instance's id in ``value``), which ``tick`` completes if a crash left it."""

    at: datetime
    kind: str
    value: str | None = None


def _key_set(keys: Iterable[str]) -> frozenset[str]:
    """``ProcessInstance.work`` from any iterable of keys (a typed converter: mypy's attrs
    plugin cannot type ``converter=frozenset``)."""
    return frozenset(keys)


@frozen
class ProcessInstance:
    """A live (or finished) run of a process definition.

    ``version`` counts the instance's changes and is the optimistic-concurrency token;
    ``definition_version`` is the version of the definition it runs on. ``assignee`` is the
    person who holds the current step or approval level (``None``: pool work, or nobody yet);
    ``escalated_to`` the role an SLA reassignment handed it to; ``work`` the keys of who may
    pick it up now (``user:ID`` and ``role:NAME``), which stores index for ``tasks_for``.
    ``ledger_head`` is the ``(seq, hash)`` of the last ledger entry as a store recorded it
    apart from the entries (the SQL store keeps it in the instance row), or ``None``; it takes
    no part in equality.
    """

    id: str
    definition: str
    definition_version: int
    state: str
    context: Mapping[str, Any]
    version: int
    created_at: datetime
    history: tuple[LedgerEntry, ...] = ()
    gate: GateRound | None = None
    timers: tuple[Timer, ...] = ()
    assignee: str | None = None
    escalated_to: str | None = None
    work: frozenset[str] = field(factory=frozenset, converter=_key_set)
    parent: str | None = None
    waiting_for: str | None = None
    final: bool = False
    ledger_head: tuple[int, str] | None = field(default=None, eq=False, repr=False)

    @property
    def next_due(self) -> datetime | None:
        """The earliest timer, or ``None``."""
        return min((t.at for t in self.timers), default=None)

    @property
    def requester(self) -> str | None:
        """Who requested the open approval, if a gate is open."""
        return self.gate.requester if self.gate else None

    def __repr__(self) -> str:
        return (f"<ProcessInstance {self.id!r} of {self.definition} v{self.definition_version}"
                f" in {self.state!r}{' (final)' if self.final else ''}: version {self.version}, "
                f"{len(self.history)} ledger entries>")

    def _repr_html_(self) -> str:
        """The state on the definition's diagram (when the definition was loaded in this
        Python process), the instance's facts, its context and its ledger (the last 50)."""
        from vip_workflow import _html

        definition = _html.remembered_definition(self.definition, self.definition_version)
        visited = {e.dest for e in self.history if e.dest} | {
            e.source for e in self.history if e.source}
        picture = (definition.to_svg(current=self.state, visited=visited)
                   if definition is not None and self.state in definition.state_names
                   else "<p><em>(load the definition to see the diagram)</em></p>")
        facts = {"state": self.state + (" (final)" if self.final else ""),
                 "assignee": self.assignee or "—", "waiting for": self.waiting_for or "—",
                 "approval level": self.gate.level if self.gate else "—",
                 "next due": self.next_due or "—", "version": self.version,
                 "ledger verifies": "yes" if self.verify_ledger() else "NO"}
        shown = self.history[-50:]
        ledger = _html.table(_LEDGER_HEADERS, [_ledger_row(e) for e in shown],
                             total=len(self.history), what="earlier entries, not shown")
        return _html.frame(
            f"{self.definition} v{self.definition_version} — instance {self.id}", picture,
            _html.fields(facts), "<p><strong>context</strong></p>",
            _html.fields(sorted(self.context.items())), "<p><strong>ledger</strong></p>", ledger)

    def verify_ledger(self) -> bool:
        """Whether the ledger is intact: every hash chains, it ends in the current state and,
        if a ``ledger_head`` was recorded, it reaches that entry (so dropping trailing
        entries shows too); and the context is the one the ledger implies (the starting
        context with every recorded change replayed — ledgers written before 0.4, whose
        ``start`` entry records no context, skip this check)."""
        history = self.history
        if first_bad_entry(self.id, history) is not None or not history:
            return False
        if self.ledger_head is not None:
            seq, digest = self.ledger_head
            if not 0 <= seq < len(history) or history[seq].hash != digest:
                return False
        if history[-1].dest != self.state:
            return False
        implied = ledger_context(history)
        return implied is None or _canonical(implied) == _canonical(self.context)


@frozen
class Notice:
    """A notification event: ``task_assigned``, ``approval_requested``, ``approval_granted``,
    ``approval_rejected``, ``reminder``, ``escalated``, ``overdue``, ``completed`` and more.

    ``roles`` and ``users`` say who it is for.
    """

    kind: str
    instance_id: str
    process: str
    state: str
    at: datetime
    roles: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    data: Mapping[str, Any] | None = None
