"""The process engine: start instances, fire transitions, decide approvals, run timers.

Every command loads the instance, checks the actor's authority, computes the whole change
(new state, ledger entries, notices) and hands it to the store in one atomic ``commit``; a
command that raises has changed nothing. Time comes only from the injected clock or from the
``now`` given to ``tick``: there are no threads and no sleeps.

A hand-off touches two instances, so it cannot be one commit. It is made crash-safe instead:
the commit that needs the other instance to move also stores a due *marker* timer for that
step (``start_child`` on the parent, naming the child; ``resume_parent`` on the finished child,
naming the parent). Right after the commit the engine performs the step; if that fails (an
error, a crash, conflicts) the marker is still due and ``tick`` performs it. Both steps are
idempotent: a child's id is derived from its parent (``PARENT/PROCESS/SEQ``, the seq of the
parent's ``handoff`` ledger entry), so it is started at most once, and a parent is resumed
only while it still waits for that child. ``tick`` drops markers whose step is done.
"""

from __future__ import annotations

import calendar
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrs import evolve, frozen

from vip_workflow.domain.instances import (
    SYSTEM,
    Actor,
    Delegation,
    GateRound,
    LedgerEntry,
    Notice,
    ProcessInstance,
    Timer,
    Vote,
    entry_hash,
    request_digest,
)
from vip_workflow.errors import (
    ApprovalError,
    ConcurrentUpdateError,
    ConflictError,
    NotFoundError,
    PermissionDenied,
    ProcessDefinitionError,
    ProcessError,
    RequestIdConflictError,
    TransitionNotAllowedError,
)
from vip_workflow.ports import BulkInstanceStore, Clock, InstanceStore, Notifier
from vip_workflow.processes import gates
from vip_workflow.processes.conditions import holds
from vip_workflow.processes.definitions import ProcessDefinition, SlaSpec, parse_duration
from vip_workflow.processes.loader import (
    bundled_definitions,
    check_or_raise,
    definition_from_dict,
    load_definition,
)
from vip_workflow.processes.machine import CompiledProcess

if TYPE_CHECKING:
    from vip_workflow.outbox import Dispatcher

__all__ = ["ADMIN_ROLE", "ProcessEngine", "TickReport", "add_duration", "utc_now"]

_log = logging.getLogger(__name__)

#: The role allowed to migrate instances between definition versions.
ADMIN_ROLE = "process_admin"

#: Marker timers of pending hand-off steps (see the module docstring). They survive the state
#: changes of their instance until ``tick`` finds the step done.
_START_CHILD = "start_child"
_RESUME_PARENT = "resume_parent"
_MARKERS = frozenset({_START_CHILD, _RESUME_PARENT})
_MAX_ID = 200  # the SQL stores' id columns
#: Entries the system writes while entering states on a command's behalf (``_enter``).
_PASS_THROUGH = frozenset({"handoff", "gate_skipped"})

Resolver = Callable[[ProcessInstance], Iterable[str]]
#: One start of ``ProcessEngine.start_many``: ``(instance_id, context)`` or
#: ``(instance_id, context, comment)``.
StartItem = (tuple[str | None, Mapping[str, Any] | None]
             | tuple[str | None, Mapping[str, Any] | None, str])


def utc_now() -> datetime:
    """The default clock: the current time in UTC."""
    return datetime.now(UTC)


def add_duration(moment: datetime, duration: str) -> datetime:
    """``moment`` plus an ISO 8601 duration; months are calendar months (clamped to month end)."""
    months, seconds = parse_duration(duration)
    if months:
        year, month = divmod(moment.month - 1 + months, 12)
        year += moment.year
        day = min(moment.day, calendar.monthrange(year, month + 1)[1])
        moment = moment.replace(year=year, month=month + 1, day=day)
    return moment + timedelta(seconds=seconds)


def _child_id(parent_id: str, process: str, seq: int) -> str:
    """The id of the child a parent's hand-off (its ledger entry ``seq``) starts."""
    child_id = f"{parent_id}/{process}/{seq}"
    if len(child_id) <= _MAX_ID:
        return child_id
    return uuid.uuid5(uuid.NAMESPACE_URL, f"vip_workflow:{child_id}").hex


def _markers(change: _Change) -> tuple[Timer, ...]:
    """The pending hand-off markers of the change's instance (kept across state changes)."""
    return tuple(t for t in change.get("timers") if t.kind in _MARKERS)


def _handoff_requester(history: tuple[LedgerEntry, ...], handoff: LedgerEntry) -> str | None:
    """On whose behalf the hand-off logged as ``handoff`` starts its child: the actor the
    engine entered the hand-off state with (``_enter``'s ``actor``), which is the actor of
    the command's entry before it — past the system's own ``handoff`` and ``gate_skipped``
    entries of the same change (a skipped gate or a hand-off that does not wait enters the
    next state with the same actor)."""
    for entry in reversed(history[:handoff.seq]):
        if entry.action not in _PASS_THROUGH:
            return entry.actor
    return None


def _customer_manager(instance: ProcessInstance) -> Iterable[str]:
    manager = instance.context.get("account_manager_id")
    return (manager,) if manager else ()


@frozen
class _Request:
    """A command called with a ``request_id``: who asked for what, with which arguments.

    ``action`` is the action of the ledger entry the command writes first (where the id is
    kept); ``digest`` stands for the actor, command and arguments (``request_digest``)."""

    id: str
    actor: str
    command: str
    action: str
    digest: str


def _request(
    request_id: str | None, actor: Actor, command: str, action: str, **args: Any
) -> _Request | None:
    if request_id is None:
        return None
    return _Request(request_id, actor.id, command, action,
                    request_digest(command, actor.id, args))


@frozen
class TickReport:
    """What one ``tick`` did."""

    now: datetime
    instances: tuple[str, ...]
    reminders: int = 0
    escalations: int = 0
    overdue: int = 0
    events: int = 0
    handoffs: int = 0  # hand-off steps left undone by a crash: children started, parents resumed


class _Change:
    """One command's change to one instance, built up before it is committed."""

    __slots__ = (
        "after", "compiled", "entries", "fields", "inst", "notices", "now", "request"
    )

    def __init__(
        self, inst: ProcessInstance, compiled: CompiledProcess, now: datetime,
        request: _Request | None = None,
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
        return self.fields[name] if name in self.fields else getattr(self.inst, name)

    def next_seq(self) -> int:
        """The seq the next ledger entry of this change gets."""
        prev = self.entries[-1] if self.entries else (
            self.inst.history[-1] if self.inst.history else None)
        return prev.seq + 1 if prev else 0

    def log(
        self, actor: str, action: str, source: str | None, dest: str | None, *,
        on_behalf_of: str | None = None, comment: str = "", data: Mapping[str, Any] | None = None,
    ) -> None:
        if self.entries:
            prev = self.entries[-1]
        else:
            prev = self.inst.history[-1] if self.inst.history else None
            if self.request is not None:
                data = {**(data or {}), "request_id": self.request.id,
                        "request_digest": self.request.digest}
        seq = prev.seq + 1 if prev else 0
        prev_hash = prev.hash if prev else ""
        digest = entry_hash(
            self.inst.id, prev_hash, seq, self.now, actor, on_behalf_of, action, source, dest,
            comment, data,
        )
        self.entries.append(
            LedgerEntry(seq, self.now, actor, on_behalf_of, action, source, dest, comment, data,
                        prev_hash, digest)
        )

    def notify(
        self, kind: str, *, roles: Iterable[str] = (), users: Iterable[str] = (),
        data: Mapping[str, Any] | None = None,
    ) -> None:
        self.notices.append(
            Notice(kind, self.inst.id, self.inst.definition, self.get("state"), self.now,
                   tuple(roles), tuple(users), data)
        )

    def result(self) -> ProcessInstance:
        inst, get = self.inst, self.get
        return ProcessInstance(  # a direct call: attrs.evolve is several times slower
            id=inst.id, definition=inst.definition,
            definition_version=get("definition_version"), state=get("state"),
            context=get("context"), version=inst.version + 1, created_at=inst.created_at,
            history=inst.history + tuple(self.entries), gate=get("gate"), timers=get("timers"),
            assignee=get("assignee"), parent=inst.parent, waiting_for=get("waiting_for"),
            final=get("final"),
        )


class ProcessEngine:
    """Runs process instances against a store, a notifier and a clock.

    Args:
        store: an ``InstanceStore``; default a fresh ``MemoryInstanceStore``.
        notifier: a ``Notifier``; default a ``MemoryNotifier`` (see ``engine.notifier``).
        clock: a callable returning an aware ``datetime``; default UTC now.
        resolvers: approver resolvers by name; ``customer_manager`` (the context's
            ``account_manager_id``) is built in.
        definitions: definitions (or paths) to deploy besides the bundled ones.
        bundled: deploy the bundled key-account definitions (default ``True``).
        id_factory: makes new instance ids (default: uuid4 hex).
    """

    def __init__(
        self,
        *,
        store: InstanceStore | None = None,
        notifier: Notifier | None = None,
        clock: Clock | Callable[[], datetime] | None = None,
        resolvers: Mapping[str, Resolver] | None = None,
        definitions: Iterable[ProcessDefinition | Mapping[str, Any] | str | Path] = (),
        bundled: bool = True,
        id_factory: Callable[[], str] | None = None,
    ) -> None:
        if store is None:  # the in-memory defaults; imported late so ports stay the boundary
            from vip_workflow.adapters.storage.memory import MemoryInstanceStore

            store = MemoryInstanceStore()
        if notifier is None:
            from vip_workflow.adapters.notify.memory import MemoryNotifier

            notifier = MemoryNotifier()
        self.store = store
        self.notifier = notifier
        self.clock = clock or utc_now
        self.resolvers: dict[str, Resolver] = {"customer_manager": _customer_manager}
        self.resolvers.update(resolvers or {})
        self._new_id = id_factory or (lambda: uuid.uuid4().hex)
        self._compiled: dict[str, dict[int, CompiledProcess]] = {}
        for definition in bundled_definitions() if bundled else ():
            self.deploy(definition)
        self._deferred = 0
        self._dispatcher: Dispatcher | None = None
        for definition in definitions:
            self.deploy(definition)

    # ----------------------------------------------------------------- definitions

    def deploy(
        self, definition: ProcessDefinition | Mapping[str, Any] | str | Path
    ) -> ProcessDefinition:
        """Add a definition (an object, plain data, or a file) as a new version; running
        instances keep theirs.

        Deploying the same name and version again is allowed only with identical content.
        """
        if isinstance(definition, Mapping):
            definition = definition_from_dict(definition)
        elif not isinstance(definition, ProcessDefinition):
            definition = load_definition(definition)
        check_or_raise(definition, resolvers=self.resolvers)
        versions = self._compiled.setdefault(definition.name, {})
        existing = versions.get(definition.version)
        if existing is not None:
            if existing.definition != definition:
                raise ProcessDefinitionError(
                    f"{definition.name} v{definition.version} is already deployed with other "
                    "content; give the new one a higher version",
                    field="version",
                )
            return definition
        versions[definition.version] = CompiledProcess(definition)
        return definition

    def compiled(self, name: str, version: int | None = None) -> CompiledProcess:
        """The compiled definition (the newest version unless ``version`` is given)."""
        versions = self._compiled.get(name)
        if not versions:
            known = ", ".join(sorted(self._compiled)) or "none"
            raise ProcessError(f"no process definition {name!r}; deployed: {known}")
        if version is None:
            return versions[max(versions)]
        if version not in versions:
            raise ProcessError(f"{name} has no version {version}; deployed: {sorted(versions)}")
        return versions[version]

    def definition(self, name: str, version: int | None = None) -> ProcessDefinition:
        """The deployed definition (the newest version unless ``version`` is given)."""
        return self.compiled(name, version).definition

    def definitions(self, *, all_versions: bool = False) -> list[ProcessDefinition]:
        """The deployed definitions, by name (newest versions only unless asked)."""
        found = []
        for name in sorted(self._compiled):
            versions = self._compiled[name]
            keys = sorted(versions) if all_versions else [max(versions)]
            found += [versions[v].definition for v in keys]
        return found

    def check(self) -> list[str]:
        """Problems between deployed definitions: hand-offs to processes that are not deployed,
        or whose ``results`` name states that are not final states of the child's newest
        version. An empty list means every hand-off can complete."""
        problems = []
        for definition in self.definitions(all_versions=True):
            for spec in definition.states:
                handoff = spec.handoff
                if handoff is None:
                    continue
                where = f"{definition.name} v{definition.version} state {spec.name!r}"
                if handoff.process not in self._compiled:
                    problems.append(f"{where}: hands off to undeployed {handoff.process!r}")
                    continue
                finals = set(self.definition(handoff.process).final_states)
                for result in sorted(set(handoff.results) - finals):
                    problems.append(
                        f"{where}: {result!r} is not a final state of {handoff.process}"
                    )
        return problems

    # ----------------------------------------------------------------- reading

    def get(self, instance_id: str) -> ProcessInstance:
        """The instance with its history (``vw.NotFoundError`` if unknown)."""
        return self.store.get(instance_id)

    def available_events(self, instance_id: str, actor: Actor | None = None) -> list[str]:
        """The named events that may be fired now (by ``actor``, if given)."""
        inst = self.store.get(instance_id)
        compiled = self.compiled(inst.definition, inst.definition_version)
        events = []
        for event in compiled.events(inst.state):
            ways = compiled.ways(inst.state, event)
            if actor is None or actor.has_any(self._fire_roles(inst, ways)):
                events.append(event)
        return events

    def tasks_for(self, actor: Actor, *, definition: str | None = None) -> list[ProcessInstance]:
        """The actor's workbench: running instances where they may fire an event now, or
        decide on the open approval level (separation of duties taken into account)."""
        actor = _actor(actor)
        now = self.clock()
        found = []
        for instance_id in self.store.find(definition=definition, include_final=False):
            inst = self.store.get(instance_id)
            compiled = self.compiled(inst.definition, inst.definition_version)
            gate = compiled.states[inst.state].gate
            if inst.gate is not None and gate is not None:
                try:
                    gates.choose_authority(actor=actor, gate=gate, round_=inst.gate,
                                           instance=inst, resolvers=self.resolvers, now=now,
                                           action="approve")
                except (ApprovalError, PermissionDenied):
                    continue
                found.append(inst)
            elif any(actor.has_any(self._fire_roles(inst, compiled.ways(inst.state, event)))
                     for event in compiled.events(inst.state)):
                found.append(inst)
        return found

    # ----------------------------------------------------------------- commands

    def start(
        self,
        name: str,
        context: Mapping[str, Any] | None = None,
        *,
        actor: Actor,
        on_behalf_of: str | None = None,
        comment: str = "",
        version: int | None = None,
        instance_id: str | None = None,
        parent: str | None = None,
        request_id: str | None = None,
    ) -> ProcessInstance:
        """Start an instance of the named process (its newest version unless ``version``).

        With ``request_id`` a repeated call (the same actor, process, context and other
        arguments) returns the instance the first call started; any other call reusing the
        id raises ``RequestIdConflictError``.
        """
        actor = _actor(actor)
        request = _request(request_id, actor, f"start {name!r}", "start", context=context or {},
                           on_behalf_of=on_behalf_of, comment=comment, version=version,
                           instance_id=instance_id, parent=parent)
        if request is not None:
            instance_id = instance_id or uuid.uuid5(
                uuid.NAMESPACE_URL, f"vip_workflow:{name}:{request.id}").hex
            replay = self._replay(instance_id, request)
            if replay is not None:
                return replay
        compiled = self.compiled(name, version)
        definition = compiled.definition
        if actor is not SYSTEM and not actor.has_any(definition.starter_roles):
            raise PermissionDenied(
                actor.id, f"start {name}", f"needs one of {sorted(definition.starter_roles)}"
            )
        ctx = compiled.validate_context(context or {})
        change = self._start_change(
            compiled, ctx, instance_id or self._new_id(), self.clock(), actor=actor,
            on_behalf_of=on_behalf_of, comment=comment, parent=parent, request=request)
        return self._commit(change, expected=None)

    def start_many(
        self,
        name: str,
        items: Iterable[StartItem],
        *,
        actor: Actor,
        on_behalf_of: str | None = None,
        comment: str = "",
        version: int | None = None,
    ) -> list[ProcessInstance]:
        """Start many instances of the named process, in one store transaction if the store
        can (a ``BulkInstanceStore``); returns the instances started, in item order.

        Each item is ``(instance_id, context)`` or ``(instance_id, context, comment)`` (its
        own ledger comment instead of ``comment``); an id of ``None`` gets a new one. Every
        start is built as ``start`` builds it (the actor's authority, each context validated,
        the initial state entered, its ledger entry and notices) before anything is
        committed, so an error changes nothing. An id that is already stored, or that an
        earlier item names, is skipped: a re-run starts only what is missing.

        With a ``BulkInstanceStore`` the starts are one ``commit_many``, all or nothing (an id
        another writer takes meanwhile is skipped and the rest committed again); with another
        store they are committed one by one. The notices go out once, at the end (or with
        the next ``dispatch()`` inside ``deferred_dispatch``).
        """
        actor = _actor(actor)
        compiled = self.compiled(name, version)
        definition = compiled.definition
        if actor is not SYSTEM and not actor.has_any(definition.starter_roles):
            raise PermissionDenied(
                actor.id, f"start {name}", f"needs one of {sorted(definition.starter_roles)}"
            )
        wanted: dict[str, tuple[dict[str, Any], str]] = {}
        for item in items:
            instance_id, context, *rest = item
            if len(rest) > 1:
                raise ProcessError(f"start_many items are (instance_id, context[, comment]), "
                                   f"not {len(item)} values")
            instance_id = instance_id or self._new_id()
            ctx = compiled.validate_context(context or {})
            if instance_id not in wanted:
                wanted[instance_id] = (ctx, rest[0] if rest else comment)
        store = self.store
        bulk = isinstance(store, BulkInstanceStore)
        taken = store.existing_ids(wanted) if bulk and wanted else set()
        now = self.clock()
        changes = [
            self._start_change(compiled, ctx, instance_id, now, actor=actor,
                               on_behalf_of=on_behalf_of, comment=text, parent=None)
            for instance_id, (ctx, text) in wanted.items() if instance_id not in taken
        ]
        done = [(change, change.result()) for change in changes]
        if bulk:
            for attempt in (1, 2, 3):
                if not done:
                    break
                try:
                    store.commit_many([(result, None, change.entries, change.notices)
                                       for change, result in done])
                    break
                except ConflictError:  # someone else started some of them meanwhile?
                    taken = store.existing_ids(result.id for _, result in done)
                    if attempt == 3 or not taken:
                        raise
                    done = [(change, result) for change, result in done
                            if result.id not in taken]
        else:
            committed = []
            for change, result in done:
                try:
                    store.commit(result, None, change.entries, change.notices)
                except ConflictError:  # the id is taken
                    continue
                committed.append((change, result))
            done = committed
        if not self._deferred and any(change.notices for change, _ in done):
            self._dispatch_after_commit()
        return [self._after_commit(change, result) for change, result in done]

    def fire(
        self,
        instance_id: str,
        event: str,
        *,
        actor: Actor,
        on_behalf_of: str | None = None,
        comment: str = "",
        data: Mapping[str, Any] | None = None,
        request_id: str | None = None,
    ) -> ProcessInstance:
        """Fire a named transition; ``data`` is merged into the (re-validated) context.

        With ``request_id`` (any caller-chosen key) a repeated call changes nothing and
        returns the instance as it is: retries are safe. A replay must be the same call (the
        same actor, event and arguments); any other reuse of the id on this instance raises
        ``RequestIdConflictError``.
        """
        actor = _actor(actor)
        request = _request(request_id, actor, f"fire {event!r}", event,
                           on_behalf_of=on_behalf_of, comment=comment, data=data or {})
        replay = self._replay(instance_id, request)
        if replay is not None:
            return replay
        inst = self.store.get(instance_id)
        compiled = self.compiled(inst.definition, inst.definition_version)
        change = _Change(inst, compiled, self.clock(), request)
        self._fire(change, event, actor, on_behalf_of, comment, data)
        return self._commit(change)

    def update_context(
        self, instance_id: str, data: Mapping[str, Any], *, actor: Actor, comment: str = ""
    ) -> ProcessInstance:
        """Change context fields; the current step's owner (or assignee) or an admin may."""
        actor = _actor(actor)
        inst = self.store.get(instance_id)
        compiled = self.compiled(inst.definition, inst.definition_version)
        spec = compiled.states[inst.state]
        owner = inst.assignee or spec.owner  # an escalated step belongs to its new role
        allowed = {ADMIN_ROLE} | ({owner} if owner else set())
        if inst.final or not actor.has_any(allowed):
            raise PermissionDenied(actor.id, f"update the context of {instance_id}")
        change = _Change(inst, compiled, self.clock())
        change.fields["context"] = compiled.validate_context({**inst.context, **data})
        change.log(actor.id, "update", inst.state, inst.state, comment=comment, data=dict(data))
        return self._commit(change)

    def approve(
        self, instance_id: str, *, actor: Actor, comment: str = "",
        request_id: str | None = None,
    ) -> ProcessInstance:
        """Approve the open level of the instance's gate (as oneself or as a delegate)."""
        return self._decide(instance_id, _actor(actor), "approve", comment, None, request_id)

    def reject(
        self, instance_id: str, *, actor: Actor, comment: str, to: str | None = None,
        request_id: str | None = None,
    ) -> ProcessInstance:
        """Reject, with a reason, back to the gate's default step or the named step ``to``."""
        if not comment or not comment.strip():
            raise ApprovalError("a rejection needs a reason (comment)")
        return self._decide(instance_id, _actor(actor), "reject", comment, to, request_id)

    def recall(
        self, instance_id: str, *, actor: Actor, comment: str = "",
        request_id: str | None = None,
    ) -> ProcessInstance:
        """The requester withdraws an open approval request; the instance goes back."""
        actor = _actor(actor)
        request = _request(request_id, actor, "recall", "recall", comment=comment)
        replay = self._replay(instance_id, request)
        if replay is not None:
            return replay
        inst = self.store.get(instance_id)
        compiled = self.compiled(inst.definition, inst.definition_version)
        round_ = inst.gate
        if round_ is None:
            raise TransitionNotAllowedError(inst.id, inst.state, "recall", "no open approval")
        if actor.id not in round_.requesters:
            raise PermissionDenied(actor.id, f"recall {instance_id}", "only the requester may")
        change = _Change(inst, compiled, self.clock(), request)
        change.log(actor.id, "recall", inst.state, round_.origin, comment=comment)
        self._leave_gate(change, round_, "approval_recalled", actor, comment)
        self._enter(change, round_.origin, actor, None, origin=inst.state)
        return self._commit(change)

    def delegate(
        self, instance_id: str, *, actor: Actor, to: str, until: datetime, comment: str = ""
    ) -> ProcessInstance:
        """Let user ``to`` decide in the actor's place on this gate until ``until``.

        The actor must be an approver of the open level in their own right (no chains); a
        delegation back to someone who delegated to the actor (a cycle), to oneself or to a
        requester is refused, and so is one by a requester (``ApprovalError``, four-eyes:
        unless the gate lets requesters approve). Requesters are those of
        ``gates.requesters``: the instance's author included.
        """
        actor = _actor(actor)
        inst = self.store.get(instance_id)
        compiled = self.compiled(inst.definition, inst.definition_version)
        round_, gate = self._open_gate(inst, compiled, "delegate")
        now = self.clock()
        level = gates.level_spec(gate, round_.level)
        users = gates.seat_users(level, inst, self.resolvers)
        direct = [
            key for key, role in gates.seat_roles(level, inst.assignee).items()
            if (role in actor.roles) or actor.id in users.get(key, frozenset())
        ]
        live = [d for d in round_.delegations if d.until > now]
        if not direct:
            if any(d.delegate == actor.id for d in live):
                raise ApprovalError(f"{actor.id!r} acts by delegation and may not delegate on")
            raise PermissionDenied(actor.id, f"delegate on {instance_id}", "not an approver")
        asked = gates.requesters(round_, inst)
        gates.check_not_requester(actor.id, (actor.id,), gate, asked)
        if to == actor.id:
            raise ApprovalError("one cannot delegate to oneself")
        if to in asked:
            raise ApprovalError("the requester may not receive a delegation for their request")
        if until <= now:
            raise ApprovalError("a delegation must end in the future")
        if any(d.principal == to and d.delegate == actor.id for d in live):
            raise ApprovalError(f"{to!r} delegated to {actor.id!r}: that would be a cycle")
        if any(d.principal == actor.id for d in live):
            raise ApprovalError(f"{actor.id!r} has already delegated on this gate")
        if any(d.principal == to for d in live):
            raise ApprovalError(f"{to!r} has delegated their own authority; no chains")
        change = _Change(inst, compiled, now)
        delegation = Delegation(actor.id, to, until, actor.roles)
        change.fields["gate"] = evolve(round_, delegations=(*live, delegation))
        change.log(actor.id, "delegate", inst.state, inst.state, comment=comment,
                   data={"to": to, "until": until.isoformat()})
        change.notify("task_assigned", users=(to,),
                      data={"delegated_by": actor.id, "until": until.isoformat()})
        return self._commit(change)

    def migrate(
        self,
        instance_id: str,
        *,
        to_version: int,
        actor: Actor,
        state_map: Mapping[str, str] | None = None,
        context: Mapping[str, Any] | None = None,
        comment: str = "",
    ) -> ProcessInstance:
        """Move an instance to another version of its definition.

        ``state_map`` maps old state names to new ones; a state not in the map keeps its name
        and must exist in the new version. Context fields the new version does not declare are
        dropped (and listed in the ledger), ``context`` sets new values, and the result is
        validated. An open gate starts over (votes and delegations are dropped and recorded as
        such); timers restart.
        """
        actor = _actor(actor)
        if ADMIN_ROLE not in actor.roles:
            raise PermissionDenied(actor.id, f"migrate {instance_id}", f"needs {ADMIN_ROLE}")
        inst = self.store.get(instance_id)
        target = self.compiled(inst.definition, to_version)
        state = (state_map or {}).get(inst.state, inst.state)
        if state not in target.states:
            raise ProcessError(
                f"state {inst.state!r} has no counterpart in {inst.definition} v{to_version}; "
                "map it in state_map"
            )
        change = _Change(inst, target, self.clock())
        declared = target.definition.context
        dropped = sorted(k for k in inst.context if k not in declared)
        kept = {k: v for k, v in inst.context.items() if k in declared}
        change.fields["context"] = target.validate_context({**kept, **(context or {})})
        change.fields["definition_version"] = to_version
        data: dict[str, Any] = {"from_version": inst.definition_version, "to_version": to_version}
        if dropped:
            data["dropped_fields"] = dropped
        if inst.gate is not None:
            data["dropped_votes"] = len(inst.gate.votes)
        change.log(actor.id, "migrate", inst.state, state, comment=comment, data=data)
        spawn = not (inst.waiting_for and target.states[state].handoff is not None)
        if not spawn:
            change.fields["waiting_for"] = inst.waiting_for
        self._enter(change, state, actor, None, origin=inst.gate.origin if inst.gate else None,
                    spawn=spawn)
        return self._commit(change)

    def migrate_all(
        self,
        name: str,
        *,
        from_version: int,
        to_version: int,
        actor: Actor,
        state_map: Mapping[str, str] | None = None,
        context: Mapping[str, Any] | None = None,
        comment: str = "",
    ) -> list[str]:
        """Migrate every running instance of ``name`` v``from_version``; returns their ids."""
        ids = self.store.find(definition=name, definition_version=from_version,
                              include_final=False)
        for instance_id in ids:
            self.migrate(instance_id, to_version=to_version, actor=actor, state_map=state_map,
                         context=context, comment=comment)
        return ids

    def open_for_trigger(
        self, family: str, context: Mapping[str, Any] | None = None, *,
        actor: Actor = SYSTEM, comment: str = "",
    ) -> list[ProcessInstance]:
        """Start every process whose ``triggers`` include ``family`` (e.g. ``retain``)."""
        started = []
        for definition in self.definitions():
            if family in definition.triggers:
                started.append(
                    self.start(definition.name, context, actor=actor, comment=comment)
                )
        return started

    def tick(self, now: datetime | None = None, *, batch: int = 1000) -> TickReport:
        """Run every timer due at ``now`` (default: the clock): reminders, reassignments,
        overdue notices and timed events; complete hand-offs a crash or failure left half
        done (start a missing child, resume a parent whose child finished); then deliver
        pending notices.

        Due instances are read from the store ``batch`` at a time until none is left; an
        instance whose commit keeps conflicting is left for the next tick.
        """
        now = now or self.clock()
        counts = {"remind": 0, "reassign": 0, "overdue": 0, "event": 0, "handoff": 0}
        done: list[str] = []
        seen: set[str] = set()
        while True:
            ids = [i for i in self.store.due(now, batch) if i not in seen]
            if not ids:
                break
            for instance_id in ids:
                seen.add(instance_id)
                for _attempt in range(3):
                    try:
                        fired = self._run_timers(instance_id, now)
                    except ConcurrentUpdateError:
                        continue
                    for kind in fired:
                        counts[kind] += 1
                    done.append(instance_id)
                    break
        self.dispatch()
        return TickReport(
            now, tuple(done), counts["remind"], counts["reassign"], counts["overdue"],
            counts["event"], counts["handoff"],
        )

    @contextlib.contextmanager
    def deferred_dispatch(self) -> Iterator[ProcessEngine]:
        """Within the block, commands leave their notices in the outbox instead of sending
        them at once; they go out with the next ``dispatch()`` (or ``tick()``).

        For bulk work: a command is then one store transaction, not three (commit, read the
        outbox, acknowledge). Nothing is lost if the block fails: the notices of committed
        changes are in the outbox. Blocks may nest.
        """
        self._deferred += 1
        try:
            yield self
        finally:
            self._deferred -= 1

    @property
    def dispatcher(self) -> Dispatcher:
        """The engine's ``vip_workflow.outbox.Dispatcher`` over its store and notifier: keys,
        retries with backoff on the engine's clock, dead letters. Replace it to tune those."""
        if self._dispatcher is None:
            from vip_workflow.outbox import Dispatcher

            self._dispatcher = Dispatcher(self.store, self.notifier, clock=self.clock)
        return self._dispatcher

    @dispatcher.setter
    def dispatcher(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher

    def dispatch(self, limit: int = 1000) -> int:
        """Deliver the due notices of the store's outbox; returns how many were delivered.

        Each goes to the notifier with its idempotency key; a failed one is tried again after
        a backoff and dead-lettered after ``dispatcher.max_attempts`` (see ``dispatcher``).
        """
        return self.dispatcher.dispatch(limit).delivered

    def _dispatch_after_commit(self) -> None:
        # The command has committed: a notifier's failure must not look like the command's.
        try:
            self.dispatch()
        except Exception:
            _log.exception("dispatching the outbox after a commit failed; the notices wait "
                           "for the next dispatch()")

    # ----------------------------------------------------------------- internals

    def _replay(self, instance_id: str, request: _Request | None) -> ProcessInstance | None:
        """The current instance if ``request`` was already applied to it; ``None`` if its id
        is new there. ``RequestIdConflictError`` if the id was used by another actor, command
        or arguments (an entry written before digests were kept is matched by actor and
        action)."""
        if request is None:
            return None
        try:
            inst = self.store.get(instance_id)
        except NotFoundError:
            return None
        for entry in reversed(inst.history):
            if not entry.data or entry.data.get("request_id") != request.id:
                continue
            digest = entry.data.get("request_digest")
            if digest == request.digest or (digest is None and entry.actor == request.actor
                                            and entry.action == request.action):
                return inst
            raise RequestIdConflictError(
                inst.id, request.id, request.actor, request.command,
                f"it was first used by {entry.actor!r} for {entry.action!r} (ledger entry "
                f"{entry.seq}); a replay must repeat that call exactly")
        return None

    def _start_change(
        self, compiled: CompiledProcess, ctx: dict[str, Any], instance_id: str, now: datetime,
        *, actor: Actor, on_behalf_of: str | None, comment: str, parent: str | None,
        request: _Request | None = None,
    ) -> _Change:
        """The (uncommitted) start of a new instance, its initial state entered."""
        initial = compiled.definition.initial
        inst = ProcessInstance(
            id=instance_id, definition=compiled.name, definition_version=compiled.version,
            state=initial, context=ctx, version=0, created_at=now, parent=parent,
        )
        change = _Change(inst, compiled, now, request)
        change.log(actor.id, "start", None, initial, on_behalf_of=on_behalf_of, comment=comment)
        self._enter(change, initial, actor, on_behalf_of, origin=None)
        return change

    def _commit(self, change: _Change, expected: int | bool | None = True) -> ProcessInstance:
        result = change.result()
        version = change.inst.version if expected is True else expected
        self.store.commit(result, version, change.entries, change.notices)  # type: ignore[arg-type]
        if change.notices and not self._deferred:
            self._dispatch_after_commit()
        return self._after_commit(change, result)

    def _after_commit(self, change: _Change, result: ProcessInstance) -> ProcessInstance:
        """Run the committed change's follow-up steps (hand-offs); the instance as it is then."""
        if not change.after:
            return result
        # The change has committed, with a marker for each step below: a failure here must
        # not look like the command's. The marker stays due and tick() does the step.
        for action in change.after:
            try:
                action()
            except Exception:
                _log.exception("a hand-off step after committing %s failed; its marker stays "
                               "due and the next tick() completes it", result.id)
        try:
            return self.store.get(result.id)
        except Exception:
            _log.exception("re-reading %s after its hand-off steps failed", result.id)
            return result

    def _fire_roles(self, inst: ProcessInstance, ways: Iterable[Any]) -> set[str]:
        if inst.assignee:  # escalated: the step now belongs to the role it was reassigned to
            return {inst.assignee}
        roles: set[str] = set()
        for way in ways:
            roles |= way.roles
        return roles

    def _fire(
        self, change: _Change, event: str, actor: Actor, on_behalf_of: str | None,
        comment: str, data: Mapping[str, Any] | None,
    ) -> None:
        inst, compiled = change.inst, change.compiled
        if inst.final:
            raise TransitionNotAllowedError(inst.id, inst.state, event, "the instance is finished")
        ways = compiled.ways(inst.state, event)
        if not ways:
            hint = "use approve/reject/recall" if inst.gate is not None else ""
            raise TransitionNotAllowedError(inst.id, inst.state, event, hint)
        roles = self._fire_roles(inst, ways)
        if actor is not SYSTEM and not actor.has_any(roles):
            raise PermissionDenied(actor.id, f"fire {event!r} in {inst.state!r}",
                                   f"needs one of {sorted(roles)}")
        ctx = inst.context
        if data:
            ctx = compiled.validate_context({**inst.context, **data})
            change.fields["context"] = ctx
        for way in ways:
            if way.when is None or holds(way.when, ctx):
                break
        else:
            raise TransitionNotAllowedError(inst.id, inst.state, event, "no condition holds")
        change.log(actor.id, event, inst.state, way.dest, on_behalf_of=on_behalf_of,
                   comment=comment, data=dict(data) if data else None)
        self._enter(change, way.dest, actor, on_behalf_of, origin=inst.state)

    def _open_gate(
        self, inst: ProcessInstance, compiled: CompiledProcess, action: str
    ) -> tuple[GateRound, Any]:
        spec = compiled.states[inst.state]
        if inst.gate is None or spec.gate is None:
            raise TransitionNotAllowedError(inst.id, inst.state, action, "no open approval")
        return inst.gate, spec.gate

    def _decide(
        self, instance_id: str, actor: Actor, decision: str, comment: str, to: str | None,
        request_id: str | None,
    ) -> ProcessInstance:
        request = _request(request_id, actor, decision, decision, comment=comment, to=to)
        replay = self._replay(instance_id, request)
        if replay is not None:
            return replay
        inst = self.store.get(instance_id)
        compiled = self.compiled(inst.definition, inst.definition_version)
        round_, gate = self._open_gate(inst, compiled, decision)
        now = self.clock()
        authority = gates.choose_authority(
            actor=actor, gate=gate, round_=round_, instance=inst, resolvers=self.resolvers,
            now=now, action=f"{decision} {instance_id}",
        )
        if to is not None and to not in gate.reject_targets:
            raise ApprovalError(
                f"cannot reject to {to!r}; allowed: {', '.join(gate.reject_targets)}"
            )
        level = gates.level_spec(gate, round_.level)
        vote = Vote(level.name, authority.seats[0], actor.id, authority.on_behalf_of, decision,
                    now, comment)
        votes = (*round_.votes, vote)
        if inst.assignee:  # escalated: the role it was reassigned to decides the level alone
            outcome = "approved" if decision == "approve" else "rejected"
        else:
            outcome = gates.level_outcome(level, votes)
        last_level = round_.position + 1 >= len(round_.levels)
        if outcome == "approved" and last_level:
            people = gates.requesters(round_, inst) | {v.person for v in votes} | {
                v.actor for v in votes}
            if len(people) < gate.separation_of_duties.min_people:
                raise ApprovalError(
                    f"gate {inst.state!r} needs {gate.separation_of_duties.min_people} different "
                    "people (requester included)"
                )
        change = _Change(inst, compiled, now, request)
        round_ = evolve(round_, votes=votes)
        change.fields["gate"] = round_
        data = {"level": level.name, "seat": vote.seat}
        if outcome == "pending":
            change.log(actor.id, decision, inst.state, inst.state, comment=comment,
                       on_behalf_of=authority.on_behalf_of, data=data)
        elif outcome == "approved" and not last_level:
            change.log(actor.id, decision, inst.state, inst.state, comment=comment,
                       on_behalf_of=authority.on_behalf_of, data=data)
            change.fields["gate"] = evolve(round_, position=round_.position + 1, delegations=())
            change.fields["assignee"] = None
            self._open_level(change, gate, change.fields["gate"])
        elif outcome == "approved":
            change.log(actor.id, decision, inst.state, gate.approved, comment=comment,
                       on_behalf_of=authority.on_behalf_of, data=data)
            self._leave_gate(change, round_, "approval_granted", actor, comment)
            self._enter(change, gate.approved, actor, None, origin=inst.state)
        else:
            target = to or gate.rejected
            change.log(actor.id, decision, inst.state, target, comment=comment,
                       on_behalf_of=authority.on_behalf_of, data=data)
            self._leave_gate(change, round_, "approval_rejected", actor, comment)
            self._enter(change, target, actor, None, origin=inst.state)
        return self._commit(change)

    def _leave_gate(
        self, change: _Change, round_: GateRound, kind: str, actor: Actor, comment: str
    ) -> None:
        change.notify(kind, users=tuple(sorted(round_.requesters)),
                      data={"by": actor.id, "comment": comment, "gate": round_.state})

    def _enter(
        self, change: _Change, state: str, actor: Actor, on_behalf_of: str | None, *,
        origin: str | None, spawn: bool = True,
    ) -> None:
        """Put the instance in ``state``: reset timers, open gates, start hand-offs."""
        compiled = change.compiled
        if len(change.entries) > 2 * len(compiled.states) + 4:
            raise ProcessError(  # skipped gates and hand-offs chained into a loop
                f"{compiled.name}: entering {state!r} loops through states that pass on their own"
            )
        spec = compiled.states[state]
        now = change.now
        fields = change.fields
        fields["state"] = state
        fields["gate"] = None
        fields["assignee"] = None
        fields["timers"] = _markers(change)
        if "waiting_for" not in fields or spawn:
            fields["waiting_for"] = None
        if spec.final:
            fields["final"] = True
            change.notify("completed", data={"outcome": spec.outcome or state})
            if change.inst.parent:
                parent, child = change.inst.parent, change.inst.id
                fields["timers"] += (Timer(now, _RESUME_PARENT, parent),)
                change.after.append(lambda: self._resume_parent(parent, child, now))
            return
        fields["final"] = False
        if spec.gate is not None:
            gate = spec.gate
            levels = gates.active_levels(gate, change.get("context"))
            if not levels:
                change.log(SYSTEM.id, "gate_skipped", state, gate.approved,
                           comment="no approval level applies")
                self._enter(change, gate.approved, actor, None, origin=state)
                return
            round_ = GateRound(state, actor.id, on_behalf_of, origin or state, now, levels)
            fields["gate"] = round_
            self._open_level(change, gate, round_)
            return
        if spec.handoff is not None:
            self._hand_off(change, spec, actor, spawn)
            return
        fields["timers"] = _markers(change) + self._timers(now, spec.sla) + tuple(
            Timer(add_duration(now, t.after), "event", t.event) for t in spec.timers
        )
        change.notify("task_assigned", roles=(spec.owner,) if spec.owner else ())

    def _open_level(self, change: _Change, gate: Any, round_: GateRound) -> None:
        level = gates.level_spec(gate, round_.level)
        change.fields["timers"] = _markers(change) + self._timers(change.now, gate.sla)
        roles, users = self._recipients(change, level)
        change.notify("approval_requested", roles=roles, users=users,
                      data={"level": level.name, "requester": round_.requester})

    def _recipients(self, change: _Change, level: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
        assignee = change.get("assignee")
        roles = tuple(dict.fromkeys(
            r for r in gates.seat_roles(level, assignee).values() if r is not None
        ))
        inst = evolve(change.inst, context=change.get("context"), assignee=assignee)
        found = gates.seat_users(level, inst, self.resolvers)
        users = tuple(sorted({u for group in found.values() for u in group}))
        return roles, users

    def _timers(self, now: datetime, sla: SlaSpec | None) -> tuple[Timer, ...]:
        if sla is None:
            return ()
        timers = [Timer(add_duration(now, sla.due), "overdue")]
        for rung in sla.escalation:
            kind = "remind" if rung.action == "remind" else "reassign"
            timers.append(Timer(add_duration(now, rung.after), kind, rung.to))
        return tuple(sorted(timers, key=lambda t: t.at))

    def _hand_off(self, change: _Change, spec: Any, actor: Actor, spawn: bool) -> None:
        handoff = spec.handoff
        if not spawn:
            return
        parent = change.inst
        child_id = _child_id(parent.id, handoff.process, change.next_seq())
        # built (and so checked) before anything is committed; committed right after the
        # parent, whose commit carries the start_child marker in case that never happens
        child = self._child_change(parent, handoff, change.get("context"), child_id, change.now,
                                   on_behalf_of=actor.id)
        change.fields["timers"] = (*change.get("timers"),
                                   Timer(change.now, _START_CHILD, child_id))
        change.after.append(lambda: self._start_child(child))
        data = {"process": handoff.process, "child": child_id}
        if handoff.wait:
            change.fields["waiting_for"] = child_id
            change.log(SYSTEM.id, "handoff", spec.name, spec.name, data=data)
        else:
            change.log(SYSTEM.id, "handoff", spec.name, handoff.next, data=data)
            self._enter(change, handoff.next, actor, None, origin=spec.name)

    def _child_change(
        self, parent: ProcessInstance, handoff: Any, ctx: Mapping[str, Any], child_id: str,
        now: datetime, *, on_behalf_of: str | None, comment: str = "",
    ) -> _Change:
        """The start of a hand-off's child (raises if the child's context does not fit)."""
        compiled = self.compiled(handoff.process)
        child_ctx = compiled.validate_context(
            {child: ctx[field] for child, field in handoff.context.items()
             if ctx.get(field) is not None})
        return self._start_change(
            compiled, child_ctx, child_id, now, actor=SYSTEM, on_behalf_of=on_behalf_of,
            comment=comment or f"hand-off from {parent.definition} {parent.id}",
            parent=parent.id if handoff.wait else None)

    def _start_child(self, child: _Change) -> None:
        """Commit a child's start; one already started (its id is taken) is left alone."""
        try:
            self._commit(child, expected=None)
        except ConflictError:
            if self.store.get(child.inst.id).definition != child.inst.definition:
                raise

    def _apply_result(self, change: _Change, child: ProcessInstance) -> None:
        """Move the waiting parent of ``change`` on by its finished child's final state."""
        state = change.get("state")
        handoff = change.compiled.states[state].handoff
        dest = handoff.results.get(child.state) if handoff else None
        change.fields["timers"] = tuple(  # the child evidently started
            t for t in change.get("timers") if (t.kind, t.value) != (_START_CHILD, child.id))
        data = {"child": child.id, "result": child.state}
        if dest is None:
            change.fields["waiting_for"] = None
            change.log(SYSTEM.id, "handoff_unmapped", state, state, data=data)
            change.notify("handoff_unmapped", data=data)
        else:
            change.log(SYSTEM.id, "handoff_done", state, dest, data=data)
            self._enter(change, dest, SYSTEM, None, origin=state)

    def _resume_parent(self, parent_id: str, child_id: str, now: datetime) -> bool | None:
        """Resume the parent if it still waits for the (finished) child: ``True`` if done
        now, ``False`` if there was nothing to do, ``None`` if its commits kept conflicting."""
        for _attempt in range(3):
            try:
                parent = self.store.get(parent_id)
            except NotFoundError:
                return False
            if parent.waiting_for != child_id:
                return False  # already resumed (or moved on by a migration)
            child = self.store.get(child_id)
            if not child.final:
                return False
            change = _Change(parent, self.compiled(parent.definition, parent.definition_version),
                             now)
            self._apply_result(change, child)
            try:
                self._commit(change)
            except ConcurrentUpdateError:
                continue
            return True
        _log.warning("resuming %s after %s kept conflicting; the next tick() tries again",
                     parent_id, child_id)
        return None

    def _marker_step(self, change: _Change, timer: Timer) -> bool:
        """``_complete_handoff``; a step the definitions make impossible (it raises
        ``ProcessError``) is recorded and its marker dropped, so it cannot stall every tick."""
        saved = dict(change.fields), len(change.entries), len(change.notices), len(change.after)
        try:
            return self._complete_handoff(change, timer)
        except ProcessError as exc:
            change.fields = saved[0]
            del change.entries[saved[1]:], change.notices[saved[2]:], change.after[saved[3]:]
            state = change.get("state")
            data = {"timer": timer.kind, "instance": timer.value}
            change.log(SYSTEM.id, "handoff_failed", state, state, comment=str(exc), data=data)
            change.notify("handoff_failed", data={**data, "reason": str(exc)})
            return False

    def _complete_handoff(self, change: _Change, timer: Timer) -> bool:
        """Do the hand-off step a due marker names, unless it is done; ``True`` if it had to
        be done. A marker whose step could not be done yet is put back."""
        inst = change.inst
        if timer.kind == _RESUME_PARENT:
            parent_id = timer.value or inst.parent
            done = self._resume_parent(parent_id, inst.id, change.now) if parent_id else False
            if done is None:
                change.fields["timers"] = (*change.get("timers"), timer)
            return bool(done)
        child_id = timer.value or ""
        try:
            child = self.store.get(child_id)
        except NotFoundError:
            return self._restart_child(change, child_id)
        if child.final and child.parent == inst.id and change.get("waiting_for") == child_id:
            self._apply_result(change, child)  # the child's own marker finds nothing to do
            return True
        return False

    def _restart_child(self, change: _Change, child_id: str) -> bool:
        """Start the child a committed hand-off names but that was never committed."""
        inst = change.inst
        entry = next((e for e in reversed(inst.history) if e.action == "handoff"
                      and (e.data or {}).get("child") == child_id), None)
        spec = change.compiled.states.get(entry.source) if entry and entry.source else None
        handoff = spec.handoff if spec is not None else None
        if handoff is None or (handoff.wait and change.get("waiting_for") != child_id):
            return False  # no longer pending: the parent was migrated away from it
        assert entry is not None  # a handoff spec was found through it
        try:  # as the hand-off would have: on behalf of its requester, the same comment
            child = self._child_change(
                inst, handoff, change.get("context"), child_id, change.now,
                on_behalf_of=_handoff_requester(inst.history, entry))
        except ProcessError as exc:  # e.g. the child's newest version refuses the context
            state, data = change.get("state"), {"process": handoff.process, "child": child_id}
            change.log(SYSTEM.id, "handoff_failed", state, state, comment=str(exc), data=data)
            change.notify("handoff_failed", data={**data, "reason": str(exc)})
            return False
        self._start_child(child)
        _log.info("started %s, the child a crash kept %s from starting", child_id, inst.id)
        return True

    def _run_timers(self, instance_id: str, now: datetime) -> list[str]:
        inst = self.store.get(instance_id)
        compiled = self.compiled(inst.definition, inst.definition_version)
        change = _Change(inst, compiled, now)
        due = [t for t in inst.timers if t.at <= now]
        change.fields["timers"] = tuple(t for t in inst.timers if t.at > now)
        fired = ["handoff" for t in due if t.kind in _MARKERS and self._marker_step(change, t)]
        if change.get("state") != inst.state:
            due = []  # a parent resumed: the timers of the state it left are void
        for timer in due:
            if timer.kind in _MARKERS:
                continue
            fired.append(timer.kind)
            if timer.kind == "event":
                try:
                    self._fire(change, timer.value or "", SYSTEM, None, "timer", None)
                except ProcessError as exc:  # e.g. no condition holds: record, do not stop
                    change.log(SYSTEM.id, "timer_failed", inst.state, inst.state,
                               comment=str(exc), data={"event": timer.value})
                    continue
                break  # entering the next state replaced every timer
            self._escalate(change, timer, compiled)
        self._commit(change)
        return fired

    def _escalate(self, change: _Change, timer: Timer, compiled: CompiledProcess) -> None:
        state = change.get("state")
        spec = compiled.states[state]
        round_ = change.get("gate")
        if spec.gate is not None and round_ is not None:
            level = gates.level_spec(spec.gate, round_.level)
            roles, users = self._recipients(change, level)
        else:
            assignee = change.get("assignee")
            roles, users = ((assignee or spec.owner),) if (assignee or spec.owner) else (), ()
        if timer.kind == "remind":
            change.log(SYSTEM.id, "remind", state, state)
            change.notify("reminder", roles=roles, users=users)
        elif timer.kind == "overdue":
            change.log(SYSTEM.id, "overdue", state, state)
            change.notify("overdue", roles=roles, users=users)
        else:
            change.fields["assignee"] = timer.value
            change.log(SYSTEM.id, "escalate", state, state, data={"to": timer.value})
            change.notify("escalated", roles=(timer.value,),
                          data={"from": list(roles), "to": timer.value})


def _actor(actor: Any) -> Actor:
    if not isinstance(actor, Actor):
        raise TypeError(f"actor must be a vip_workflow Actor, not {type(actor).__name__}")
    return actor
