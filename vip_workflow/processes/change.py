"""One command's change to one instance, built up in memory before it is committed.

Also the small values the engine parts share: a command's ``Request`` (its ``request_id``),
the hand-off marker timers and the ids hand-offs give their children.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from attrs import frozen

from vip_workflow.domain.instances import (
    Actor,
    LedgerEntry,
    Notice,
    ProcessInstance,
    Timer,
    request_digest,
)
from vip_workflow.processes.ledger import entry_hash
from vip_workflow.processes.machine import CompiledProcess
from vip_workflow.processes.work import work_keys

__all__ = [
    "MARKERS", "RESUME_PARENT", "START_CHILD", "Change", "Request", "child_id",
    "context_changes", "handoff_requester", "make_request", "markers",
]

#: Marker timers of pending hand-off steps (see ``processes.handoffs``). They survive the
#: state changes of their instance until ``tick`` finds the step done.
START_CHILD = "start_child"
RESUME_PARENT = "resume_parent"
MARKERS = frozenset({START_CHILD, RESUME_PARENT})
_MAX_ID = 200  # the SQL stores' id columns
#: Entries the system writes while entering states on a command's behalf.
_PASS_THROUGH = frozenset({"handoff", "gate_skipped"})


@frozen
class Request:
    """A command called with a ``request_id``: who asked for what, with which arguments.

    ``action`` is the action of the ledger entry the command writes first (where the id is
    kept); ``digest`` stands for the actor, command and arguments (``request_digest``)."""

    id: str
    actor: str
    command: str
    action: str
    digest: str


def make_request(
    request_id: str | None, actor: Actor, command: str, action: str, **args: Any
) -> Request | None:
    """The ``Request`` of a command called with ``request_id`` (``None`` without one)."""
    if request_id is None:
        return None
    return Request(request_id, actor.id, command, action,
                   request_digest(command, actor.id, args))


def context_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, list[Any]]:
    """What a ledger entry records of a context change: ``{field: [old, new]}`` per changed
    field, ``{field: [old]}`` for a field removed (``verify_ledger`` replays these)."""
    changes: dict[str, list[Any]] = {}
    for key in sorted(old.keys() | new.keys()):
        if key not in new:
            changes[key] = [old[key]]
        elif key not in old or old[key] != new[key]:
            changes[key] = [old.get(key), new[key]]
    return changes


def child_id(parent_id: str, process: str, seq: int) -> str:
    """The id of the child a parent's hand-off (its ledger entry ``seq``) starts."""
    found = f"{parent_id}/{process}/{seq}"
    if len(found) <= _MAX_ID:
        return found
    return uuid.uuid5(uuid.NAMESPACE_URL, f"vip_workflow:{found}").hex


def handoff_requester(history: tuple[LedgerEntry, ...], handoff: LedgerEntry) -> str | None:
    """On whose behalf the hand-off logged as ``handoff`` starts its child: the actor the
    engine entered the hand-off state with, which is the actor of the command's entry before
    it — past the system's own ``handoff`` and ``gate_skipped`` entries of the same change (a
    skipped gate or a hand-off that does not wait enters the next state with the same
    actor)."""
    for entry in reversed(history[:handoff.seq]):
        if entry.action not in _PASS_THROUGH:
            return entry.actor
    return None


class Change:
    """One command's change to one instance, built up before it is committed."""

    __slots__ = (
        "after", "compiled", "entries", "fields", "inst", "notices", "now", "request"
    )

    def __init__(
        self, inst: ProcessInstance, compiled: CompiledProcess, now: datetime,
        request: Request | None = None,
    ) -> None:
        self.inst = inst
        self.request = request
        self.compiled = compiled
        self.now = now
        self.fields: dict[str, Any] = {}
        self.entries: list[LedgerEntry] = []
        self.notices: list[Notice] = []
        self.after: list[Callable[[], None]] = []

    def get(self, name: str) -> Any:
        """The field as the change leaves it (changed, or as the instance has it)."""
        fields = self.fields
        return fields[name] if name in fields else getattr(self.inst, name)

    def next_seq(self) -> int:
        """The seq the next ledger entry of this change gets."""
        prev = self.entries[-1] if self.entries else (
            self.inst.history[-1] if self.inst.history else None)
        return prev.seq + 1 if prev else 0

    def log(
        self, actor: str, action: str, source: str | None, dest: str | None, *,
        on_behalf_of: str | None = None, comment: str = "", data: Mapping[str, Any] | None = None,
    ) -> None:
        """Append a ledger entry, chained to the one before it."""
        if self.entries:
            prev: LedgerEntry | None = self.entries[-1]
        else:
            history = self.inst.history
            prev = history[-1] if history else None
            if self.request is not None:
                data = {**(data or {}), "request_id": self.request.id,
                        "request_digest": self.request.digest}
        if prev is None:
            seq, prev_hash = 0, ""
        else:
            seq, prev_hash = prev.seq + 1, prev.hash
        now = self.now
        digest = entry_hash(self.inst.id, prev_hash, seq, now, actor, on_behalf_of, action,
                            source, dest, comment, data)
        self.entries.append(LedgerEntry(seq, now, actor, on_behalf_of, action, source, dest,
                                        comment, data, prev_hash, digest))

    def amend(self, data: Mapping[str, Any]) -> None:
        """Add ``data`` to this change's last ledger entry (not yet committed), hashed anew."""
        last = self.entries[-1]
        merged = {**(last.data or {}), **data}
        digest = entry_hash(self.inst.id, last.prev_hash, last.seq, last.at, last.actor,
                            last.on_behalf_of, last.action, last.source, last.dest,
                            last.comment, merged)
        self.entries[-1] = LedgerEntry(last.seq, last.at, last.actor, last.on_behalf_of,
                                       last.action, last.source, last.dest, last.comment,
                                       merged, last.prev_hash, digest)

    def notify(
        self, kind: str, *, roles: Iterable[str] = (), users: Iterable[str] = (),
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Queue a notice about the instance (in the state the change has put it in)."""
        inst = self.inst
        self.notices.append(Notice(kind, inst.id, inst.definition, self.get("state"), self.now,
                                   tuple(roles), tuple(users), data))

    def result(self) -> ProcessInstance:
        """The instance as the change leaves it, one version on."""
        inst, fields = self.inst, self.fields
        get = fields.get
        args = dict(
            id=inst.id, definition=inst.definition,
            definition_version=get("definition_version", inst.definition_version),
            state=get("state", inst.state), context=get("context", inst.context),
            version=inst.version + 1, created_at=inst.created_at,
            history=inst.history + tuple(self.entries), gate=get("gate", inst.gate),
            timers=get("timers", inst.timers), assignee=get("assignee", inst.assignee),
            escalated_to=get("escalated_to", inst.escalated_to),
            parent=inst.parent, waiting_for=get("waiting_for", inst.waiting_for),
            final=get("final", inst.final),
        )
        # a direct call: attrs.evolve is several times slower
        result = ProcessInstance(**args)
        keys = work_keys(result, self.compiled, self.compiled.resolvers)
        if keys:  # set before anyone sees (or hashes) the new value: one object, not two
            object.__setattr__(result, "work", keys)
        return result


def markers(change: Change) -> tuple[Timer, ...]:
    """The pending hand-off markers of the change's instance (kept across state changes)."""
    return tuple(t for t in change.get("timers") if t.kind in MARKERS)
