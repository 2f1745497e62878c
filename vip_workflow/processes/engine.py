"""The process engine: start instances, fire transitions, decide approvals, run timers.

Every command loads the instance, checks the actor's authority, computes the whole change
(new state, ledger entries, notices) and hands it to the store in one atomic ``commit``; a
command that raises has changed nothing. Time comes only from the injected clock or from the
``now`` given to ``tick``: there are no threads and no sleeps.

``ProcessEngine`` is a façade over its parts, each a module of this package:

- ``registry`` — the deployed definitions by name and version, compiled once;
- ``commands`` — fire, approve, reject, recall, delegate, migrate… building a ``Change``;
- ``entering`` — entering a state: timers, gates opened or skipped, hand-offs begun;
- ``timers`` — SLA reminders, reassignments, overdue notices, timed events (``tick``);
- ``handoffs`` — parent and child instances, and completing what a crash left half done;
- ``change`` — one command's change to one instance, before it is committed.

The engine commits a change with ``_commit_new`` (a new instance) or ``_commit_update`` (the
version it was read at), then delivers the notices through the outbox's dispatcher and runs
the change's follow-up hand-off steps. A hand-off touches two instances, so it cannot be one
commit; it is made crash-safe by marker timers (see ``processes.handoffs``).

The engine imports no adapter: without a ``store`` or ``notifier`` it opens ``memory://``
through ``vip_workflow.registry`` (by name, on first use).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vip_workflow.domain.instances import SYSTEM, Actor, ProcessInstance
from vip_workflow.errors import ApprovalError, ConflictError, PermissionDenied, ProcessError
from vip_workflow.ports import (
    BulkInstanceStore,
    Clock,
    CommitItem,
    InstanceStore,
    Notifier,
    WorkCursor,
    WorkIndex,
)
from vip_workflow.processes import gates
from vip_workflow.processes.change import Change, Request, make_request
from vip_workflow.processes.commands import ADMIN_ROLE, Commands, check_starter, may_fire
from vip_workflow.processes.definitions import ProcessDefinition
from vip_workflow.processes.entering import StateEntry
from vip_workflow.processes.handoffs import Handoffs
from vip_workflow.processes.loader import bundled_definitions
from vip_workflow.processes.machine import CompiledProcess
from vip_workflow.processes.registry import DefinitionRegistry, Resolver
from vip_workflow.processes.schedule import add_duration, utc_now
from vip_workflow.processes.timers import TickReport, Timers
from vip_workflow.processes.work import TaskPage, actor_keys, page_tasks, scan_tasks, work_keys

if TYPE_CHECKING:
    from vip_workflow.outbox import Dispatcher

__all__ = ["ADMIN_ROLE", "ProcessEngine", "StartPlan", "TickReport", "add_duration", "utc_now"]

_log = logging.getLogger(__name__)

#: One start of ``ProcessEngine.start_many``: ``(instance_id, context)`` or
#: ``(instance_id, context, comment)``.
StartItem = (tuple[str | None, Mapping[str, Any] | None]
             | tuple[str | None, Mapping[str, Any] | None, str])


def _customer_manager(instance: ProcessInstance) -> Iterable[str]:
    manager = instance.context.get("account_manager_id")
    return (manager,) if manager else ()


def _actor(actor: Any) -> Actor:
    if not isinstance(actor, Actor):
        raise TypeError(f"actor must be a vip_workflow Actor, not {type(actor).__name__}")
    return actor


def _default_store() -> InstanceStore:
    from vip_workflow.registry import open_store

    return open_store("memory://")


def _default_notifier() -> Notifier:
    from vip_workflow.registry import open_notifier

    return open_notifier("memory://")


class ProcessEngine:
    """Runs process instances against a store, a notifier and a clock.

    Args:
        store: an ``InstanceStore``; default a fresh ``memory://`` store (opened through
            ``vip_workflow.registry``).
        notifier: a ``Notifier``; default a ``memory://`` notifier (see ``engine.notifier``).
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
        self.store = store if store is not None else _default_store()
        self.notifier = notifier if notifier is not None else _default_notifier()
        self.clock = clock or utc_now
        self.resolvers: dict[str, Resolver] = {"customer_manager": _customer_manager}
        self.resolvers.update(resolvers or {})
        self._new_id = id_factory or (lambda: uuid.uuid4().hex)
        self._registry = DefinitionRegistry(self.resolvers)
        self._commands = Commands(self)
        self._entry = StateEntry(self)
        self._handoffs = Handoffs(self)
        self._timers = Timers(self)
        self._deferred = 0
        self._dispatcher: Dispatcher | None = None
        for bundled_definition in bundled_definitions() if bundled else ():
            self.deploy(bundled_definition)
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
        return self._registry.deploy(definition)

    def compiled(self, name: str, version: int | None = None) -> CompiledProcess:
        """The compiled definition (the newest version unless ``version`` is given)."""
        return self._registry.compiled(name, version)

    def definition(self, name: str, version: int | None = None) -> ProcessDefinition:
        """The deployed definition (the newest version unless ``version`` is given)."""
        return self._registry.compiled(name, version).definition

    def definitions(self, *, all_versions: bool = False) -> list[ProcessDefinition]:
        """The deployed definitions, by name (newest versions only unless asked)."""
        return self._registry.definitions(all_versions=all_versions)

    def check(self) -> list[str]:
        """Problems between deployed definitions: hand-offs to processes that are not deployed,
        or whose ``results`` name states that are not final states of the child's newest
        version. An empty list means every hand-off can complete."""
        return self._registry.check()

    # ----------------------------------------------------------------- reading

    def get(self, instance_id: str) -> ProcessInstance:
        """The instance with its history (``vw.NotFoundError`` if unknown)."""
        return self.store.get(instance_id)

    def available_events(self, instance_id: str, actor: Actor | None = None) -> list[str]:
        """The named events that may be fired now (by ``actor``, if given)."""
        inst = self.store.get(instance_id)
        compiled = self._registry.of(inst)
        return [event for event in compiled.events(inst.state)
                if actor is None
                or may_fire(actor, inst, compiled, compiled.ways(inst.state, event))]

    def tasks_for(
        self, actor: Actor, *, definition: str | None = None, limit: int | None = None
    ) -> list[ProcessInstance]:
        """The actor's workbench: running instances where they may fire an event now, or
        decide on the open approval level (separation of duties taken into account) —
        what is assigned to them, and pool work of their roles.

        Overdue first (earliest timer first, none last), then by id; at most ``limit``. A
        store with a ``WorkIndex`` answers from its index of work keys; another store is
        scanned. ``tasks_page`` gives the same a page at a time."""
        return self.tasks_page(actor, definition=definition, limit=limit).items

    def tasks_page(
        self, actor: Actor, *, definition: str | None = None, state: str | None = None,
        overdue: bool | None = None, after: WorkCursor | None = None,
        limit: int | None = 50,
    ) -> TaskPage:
        """A page of ``tasks_for``: at most ``limit`` of the actor's tasks after the cursor
        ``after`` (the ``next`` of the page before), with the cursor of the next page.

        Filters: ``definition``, ``state``, and ``overdue`` (``True``: only work whose timer
        has passed; ``False``: only work not overdue). With a ``WorkIndex`` the store applies
        the filters and the cursor; the separation-of-duties check that follows may drop some
        of a store's page, which is then refilled from the index, so a page is short only when
        it is the last."""
        actor = _actor(actor)
        now = self.clock()
        filters: dict[str, Any] = {"definition": definition, "state": state}
        if overdue is not None:
            filters["due_by" if overdue else "due_after"] = now

        def is_task(inst: ProcessInstance) -> bool:
            return self._is_task_of(actor, inst, now)

        store = self.store
        if isinstance(store, WorkIndex):
            keys = actor_keys(actor.id, actor.roles)
            return page_tasks(store, keys, is_task, after=after, limit=limit, filters=filters)
        running = (store.get(i) for i in store.find(definition=definition, state=state,
                                                     include_final=False))
        if overdue is not None:
            running = (i for i in running
                       if (i.next_due is not None and i.next_due <= now) == overdue)
        return scan_tasks(running, is_task, after=after, limit=limit)

    def reindex_work(self, *, batch: int = 1000, skip_unknown: bool = False) -> int:
        """Recompute the work keys of every running instance and store them (after an
        upgrade: a migration cannot compute them); returns how many instances were read.
        Needs a store with a ``WorkIndex``.

        An instance whose definition (name and version) is not deployed here raises
        ``ProcessError``, or with ``skip_unknown`` keeps its keys (the command line's
        ``db upgrade`` knows only the bundled definitions and those it is given)."""
        store = self.store
        if not isinstance(store, WorkIndex):
            raise ProcessError(f"{type(store).__name__} keeps no work index to rewrite")
        ids = store.find(include_final=False)
        for start in range(0, len(ids), batch):
            items = []
            for inst in store.get_many(ids[start:start + batch]):
                try:
                    compiled = self._registry.of(inst)
                except ProcessError:
                    if skip_unknown:
                        continue
                    raise
                keys = work_keys(inst, compiled, self.resolvers)
                if keys != inst.work:
                    items.append((inst.id, keys))
            store.rewrite_work(items)
        return len(ids)

    def may_decide(self, instance_id: str, actor: Actor) -> bool:
        """Whether ``actor`` may approve or reject the open level of the instance's gate now
        (as its assignee, an approver of the level, a live delegate or a supervisor)."""
        inst = self.store.get(instance_id)
        gate = self._registry.of(inst).states[inst.state].gate
        if inst.final or inst.gate is None or gate is None:
            return False
        try:
            gates.choose_authority(actor=_actor(actor), gate=gate, round_=inst.gate,
                                   instance=inst, resolvers=self.resolvers, now=self.clock(),
                                   action="approve")
        except (ApprovalError, PermissionDenied):
            return False
        return True

    def _is_task_of(self, actor: Actor, inst: ProcessInstance, now: datetime) -> bool:
        if inst.final or inst.waiting_for:
            return False
        compiled = self._registry.of(inst)
        gate = compiled.states[inst.state].gate
        if inst.gate is not None and gate is not None:
            try:
                gates.choose_authority(actor=actor, gate=gate, round_=inst.gate, instance=inst,
                                       resolvers=self.resolvers, now=now, action="approve")
            except (ApprovalError, PermissionDenied):
                return False
            return True
        return any(may_fire(actor, inst, compiled, compiled.ways(inst.state, event))
                   for event in compiled.events(inst.state))

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
        request = make_request(
            request_id, actor, f"start {name!r}", "start", context=context or {},
            on_behalf_of=on_behalf_of, comment=comment, version=version,
            instance_id=instance_id, parent=parent)
        if request is not None:
            instance_id = instance_id or uuid.uuid5(
                uuid.NAMESPACE_URL, f"vip_workflow:{name}:{request.id}").hex
            replay = self._commands.replay(instance_id, request)
            if replay is not None:
                return replay
        compiled = self._registry.compiled(name, version)
        check_starter(actor, compiled)
        ctx = compiled.validate_context(context or {})
        change = self._entry.start_change(
            compiled, ctx, instance_id or self._new_id(), self.clock(), actor=actor,
            on_behalf_of=on_behalf_of, comment=comment, parent=parent, request=request)
        return self._commit_new(change)

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
        compiled = self._registry.compiled(name, version)
        check_starter(actor, compiled)
        wanted = self._wanted_starts(compiled, items, comment)
        bulk = isinstance(self.store, BulkInstanceStore)
        taken = self.store.existing_ids(wanted) if bulk and wanted else set()  # type: ignore[attr-defined]
        now = self.clock()
        changes = [
            self._entry.start_change(compiled, ctx, instance_id, now, actor=actor,
                                     on_behalf_of=on_behalf_of, comment=text, parent=None)
            for instance_id, (ctx, text) in wanted.items() if instance_id not in taken
        ]
        done = [(change, change.result()) for change in changes]
        done = self._commit_bulk(done) if bulk else self._commit_each(done)
        if not self._deferred and any(change.notices for change, _ in done):
            self._dispatch_after_commit()
        return [self._after_commit(change, result) for change, result in done]

    def plan_start_many(
        self,
        name: str,
        items: Iterable[StartItem],
        *,
        actor: Actor,
        on_behalf_of: str | None = None,
        comment: str = "",
        version: int | None = None,
    ) -> StartPlan:
        """Build the starts ``start_many`` would commit, and commit nothing: the caller
        commits ``plan.items`` in its own transaction (a ``CycleStore`` unit of work's
        ``commit_instances``), then calls ``plan.finish()`` for the follow-up steps and the
        notices. Ids already stored, or named twice, are left out as ``start_many`` does."""
        actor = _actor(actor)
        compiled = self._registry.compiled(name, version)
        check_starter(actor, compiled)
        wanted = self._wanted_starts(compiled, items, comment)
        taken = (self.store.existing_ids(wanted)
                 if isinstance(self.store, BulkInstanceStore) and wanted else set())
        now = self.clock()
        changes = [
            self._entry.start_change(compiled, ctx, instance_id, now, actor=actor,
                                     on_behalf_of=on_behalf_of, comment=text, parent=None)
            for instance_id, (ctx, text) in wanted.items() if instance_id not in taken
        ]
        return StartPlan(self, [(change, change.result()) for change in changes])

    def _finish_plan(self, done: list[tuple[Change, ProcessInstance]]) -> list[ProcessInstance]:
        if not self._deferred and any(change.notices for change, _ in done):
            self._dispatch_after_commit()
        return [self._after_commit(change, result) for change, result in done]

    def _wanted_starts(
        self, compiled: CompiledProcess, items: Iterable[StartItem], comment: str
    ) -> dict[str, tuple[dict[str, Any], str]]:
        """The items of ``start_many`` by id (the first of each), contexts validated."""
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
        return wanted

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
        request = None
        if request_id is not None:
            request = make_request(request_id, actor, f"fire {event!r}", event,
                                   on_behalf_of=on_behalf_of, comment=comment, data=data or {})
            replay = self._commands.replay(instance_id, request)
            if replay is not None:
                return replay
        change = self._commands.load(instance_id, request=request)
        self._commands.fire_event(change, event, actor, on_behalf_of, comment, data)
        return self._commit_update(change)

    def update_context(
        self, instance_id: str, data: Mapping[str, Any], *, actor: Actor, comment: str = ""
    ) -> ProcessInstance:
        """Change context fields; the current step's owner (or assignee) or an admin may."""
        actor = _actor(actor)
        change = self._commands.load(instance_id)
        self._commands.update_context(change, data, actor, comment)
        return self._commit_update(change)

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

    def _decide(
        self, instance_id: str, actor: Actor, decision: str, comment: str, to: str | None,
        request_id: str | None,
    ) -> ProcessInstance:
        request = make_request(request_id, actor, decision, decision, comment=comment, to=to)
        return self._apply(instance_id, request, lambda change: self._commands.decide(
            change, actor, decision, comment, to))

    def _apply(self, instance_id: str, request: Request | None,
               build: Callable[[Change], object]) -> ProcessInstance:
        """A command on a stored instance: the instance as it is if ``request`` was already
        applied, else ``build`` the change on it and commit it at the version read."""
        replay = self._commands.replay(instance_id, request)
        if replay is not None:
            return replay
        change = self._commands.load(instance_id, request=request)
        build(change)
        return self._commit_update(change)

    def recall(
        self, instance_id: str, *, actor: Actor, comment: str = "",
        request_id: str | None = None,
    ) -> ProcessInstance:
        """The requester withdraws an open approval request; the instance goes back."""
        actor = _actor(actor)
        request = make_request(request_id, actor, "recall", "recall", comment=comment)
        return self._apply(instance_id, request,
                           lambda change: self._commands.recall(change, actor, comment))

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
        change = self._commands.load(instance_id)
        self._commands.delegate(change, actor, to, until, comment)
        return self._commit_update(change)

    # ----------------------------------------------------------------- who holds the work

    def claim(
        self, instance_id: str, *, actor: Actor, request_id: str | None = None
    ) -> ProcessInstance:
        """Take pool work: the step (or the approval level one decision settles) is then the
        actor's alone until they ``release`` it or a supervisor ``reassign``s it.

        The actor must be able to act on it (``PermissionDenied``); work another person
        holds raises ``AlreadyClaimedError``; claiming what one already holds changes
        nothing."""
        actor = _actor(actor)
        request = make_request(request_id, actor, "claim", "claim")
        replay = self._commands.replay(instance_id, request)
        if replay is not None:
            return replay
        change = self._commands.load(instance_id, request=request)
        if change.inst.assignee == actor.id:
            return change.inst
        self._commands.claim(change, actor)
        return self._commit_update(change)

    def release(
        self, instance_id: str, *, actor: Actor, comment: str = "",
        request_id: str | None = None,
    ) -> ProcessInstance:
        """Give held work back to its pool: by the person holding it, or by a supervisor
        with a reason (``comment``)."""
        actor = _actor(actor)
        request = make_request(request_id, actor, "release", "release", comment=comment)
        return self._apply(instance_id, request,
                           lambda change: self._commands.release(change, actor, comment))

    def reassign(
        self, instance_id: str, *, to: str, actor: Actor, reason: str,
        request_id: str | None = None,
    ) -> ProcessInstance:
        """A supervisor (a role of the definition's ``supervisors``, or ``process_admin``)
        gives the current work to person ``to``, with a reason; ``to`` is told
        (``task_assigned``)."""
        actor = _actor(actor)
        request = make_request(request_id, actor, "reassign", "reassign", to=to, reason=reason)
        return self._apply(instance_id, request,
                           lambda change: self._commands.reassign(change, to, actor, reason))

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
        target = self._registry.compiled(inst.definition, to_version)
        change = self._commands.migrate(inst, target, actor, state_map, context, comment)
        return self._commit_update(change)

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
        return [self.start(definition.name, context, actor=actor, comment=comment)
                for definition in self.definitions() if family in definition.triggers]

    def tick(self, now: datetime | None = None, *, batch: int = 1000) -> TickReport:
        """Run every timer due at ``now`` (default: the clock): reminders, reassignments,
        overdue notices and timed events; complete hand-offs a crash or failure left half
        done (start a missing child, resume a parent whose child finished); then deliver
        pending notices.

        Due instances are read from the store ``batch`` at a time until none is left; an
        instance whose commit keeps conflicting is left for the next tick.
        """
        report = self._timers.tick(now or self.clock(), batch)
        self.dispatch()
        return report

    # ----------------------------------------------------------------- the outbox

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

    # ----------------------------------------------------------------- committing

    def _commit_new(self, change: Change) -> ProcessInstance:
        """Commit the start of a new instance (``ConflictError`` if its id is taken)."""
        result = change.result()
        self.store.commit(result, None, change.entries, change.notices)
        return self._committed(change, result)

    def _commit_update(self, change: Change) -> ProcessInstance:
        """Commit a change of a stored instance, checked against the version it was read at
        (``ConcurrentUpdateError`` if it moved meanwhile)."""
        result = change.result()
        self.store.commit(result, change.inst.version, change.entries, change.notices)
        return self._committed(change, result)

    def _committed(self, change: Change, result: ProcessInstance) -> ProcessInstance:
        if change.notices and not self._deferred:
            self._dispatch_after_commit()
        return self._after_commit(change, result) if change.after else result

    def _commit_bulk(
        self, done: list[tuple[Change, ProcessInstance]]
    ) -> list[tuple[Change, ProcessInstance]]:
        """Commit new instances in one ``commit_many``; ids taken meanwhile are skipped."""
        store: BulkInstanceStore = self.store  # type: ignore[assignment]
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
                done = [(change, result) for change, result in done if result.id not in taken]
        return done

    def _commit_each(
        self, done: list[tuple[Change, ProcessInstance]]
    ) -> list[tuple[Change, ProcessInstance]]:
        """Commit new instances one by one; those whose id is taken are skipped."""
        committed = []
        for change, result in done:
            try:
                self.store.commit(result, None, change.entries, change.notices)
            except ConflictError:  # the id is taken
                continue
            committed.append((change, result))
        return committed

    def _after_commit(self, change: Change, result: ProcessInstance) -> ProcessInstance:
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


class StartPlan:
    """Starts built by ``ProcessEngine.plan_start_many``, committed by the caller."""

    def __init__(self, engine: ProcessEngine,
                 done: list[tuple[Change, ProcessInstance]]) -> None:
        self._engine = engine
        self._done = done

    def __len__(self) -> int:
        return len(self._done)

    @property
    def items(self) -> list[CommitItem]:
        """What to commit: ``(instance, None, ledger entries, notices)`` per start."""
        return [(result, None, change.entries, change.notices) for change, result in self._done]

    def finish(self) -> list[ProcessInstance]:
        """After the commit: the starts' follow-up steps and notices; the instances."""
        return self._engine._finish_plan(self._done)
