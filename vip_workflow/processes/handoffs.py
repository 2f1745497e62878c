"""Hand-offs between a parent and its child instance, made crash-safe.

A hand-off touches two instances, so it cannot be one commit. The commit that needs the other
instance to move also stores a due *marker* timer for that step (``start_child`` on the
parent, naming the child; ``resume_parent`` on the finished child, naming the parent). Right
after the commit the engine performs the step; if that fails (an error, a crash, conflicts)
the marker is still due and ``tick`` performs it. Both steps are idempotent: a child's id is
derived from its parent (``PARENT/PROCESS/SEQ``, the seq of the parent's ``handoff`` ledger
entry), so it is started at most once, and a parent is resumed only while it still waits for
that child. ``tick`` drops markers whose step is done.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from vip_workflow.domain.instances import SYSTEM, ProcessInstance, Timer
from vip_workflow.errors import ConcurrentUpdateError, ConflictError, NotFoundError, ProcessError
from vip_workflow.processes.change import (
    RESUME_PARENT,
    START_CHILD,
    Change,
    handoff_requester,
)

if TYPE_CHECKING:
    from vip_workflow.processes.engine import ProcessEngine

__all__ = ["Handoffs"]

_log = logging.getLogger("vip_workflow.processes.engine")


class Handoffs:
    """Starts children, resumes parents and completes what a crash left half done."""

    def __init__(self, engine: ProcessEngine) -> None:
        self.engine = engine

    def start_child(self, child: Change) -> None:
        """Commit a child's start; one already started (its id is taken) is left alone."""
        try:
            self.engine._commit_new(child)
        except ConflictError:
            if self.engine.store.get(child.inst.id).definition != child.inst.definition:
                raise

    def apply_result(self, change: Change, child: ProcessInstance) -> None:
        """Move the waiting parent of ``change`` on by its finished child's final state."""
        state = change.get("state")
        handoff = change.compiled.states[state].handoff
        dest = handoff.results.get(child.state) if handoff else None
        change.fields["timers"] = tuple(  # the child evidently started
            t for t in change.get("timers") if (t.kind, t.value) != (START_CHILD, child.id))
        data = {"child": child.id, "result": child.state}
        if dest is None:
            change.fields["waiting_for"] = None
            change.log(SYSTEM.id, "handoff_unmapped", state, state, data=data)
            change.notify("handoff_unmapped", data=data)
        else:
            change.log(SYSTEM.id, "handoff_done", state, dest, data=data)
            self.engine._entry.enter(change, dest, SYSTEM, None, origin=state)

    def resume_parent(self, parent_id: str, child_id: str, now: datetime) -> bool | None:
        """Resume the parent if it still waits for the (finished) child: ``True`` if done
        now, ``False`` if there was nothing to do, ``None`` if its commits kept conflicting."""
        engine = self.engine
        for _attempt in range(3):
            try:
                parent = engine.store.get(parent_id)
            except NotFoundError:
                return False
            if parent.waiting_for != child_id:
                return False  # already resumed (or moved on by a migration)
            child = engine.store.get(child_id)
            if not child.final:
                return False
            change = Change(parent, engine._registry.of(parent), now)
            self.apply_result(change, child)
            try:
                engine._commit_update(change)
            except ConcurrentUpdateError:
                continue
            return True
        _log.warning("resuming %s after %s kept conflicting; the next tick() tries again",
                     parent_id, child_id)
        return None

    def marker_step(self, change: Change, timer: Timer) -> bool:
        """``complete``; a step the definitions make impossible (it raises ``ProcessError``)
        is recorded and its marker dropped, so it cannot stall every tick."""
        saved = dict(change.fields), len(change.entries), len(change.notices), len(change.after)
        try:
            return self.complete(change, timer)
        except ProcessError as exc:
            change.fields = saved[0]
            del change.entries[saved[1]:], change.notices[saved[2]:], change.after[saved[3]:]
            state = change.get("state")
            data = {"timer": timer.kind, "instance": timer.value}
            change.log(SYSTEM.id, "handoff_failed", state, state, comment=str(exc), data=data)
            change.notify("handoff_failed", data={**data, "reason": str(exc)})
            return False

    def complete(self, change: Change, timer: Timer) -> bool:
        """Do the hand-off step a due marker names, unless it is done; ``True`` if it had to
        be done. A marker whose step could not be done yet is put back."""
        inst = change.inst
        if timer.kind == RESUME_PARENT:
            parent_id = timer.value or inst.parent
            done = self.resume_parent(parent_id, inst.id, change.now) if parent_id else False
            if done is None:
                change.fields["timers"] = (*change.get("timers"), timer)
            return bool(done)
        child_id = timer.value or ""
        try:
            child = self.engine.store.get(child_id)
        except NotFoundError:
            return self.restart_child(change, child_id)
        if child.final and child.parent == inst.id and change.get("waiting_for") == child_id:
            self.apply_result(change, child)  # the child's own marker finds nothing to do
            return True
        return False

    def restart_child(self, change: Change, child_id: str) -> bool:
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
            child = self.engine._entry.child_change(
                inst, handoff, change.get("context"), child_id, change.now,
                on_behalf_of=handoff_requester(inst.history, entry))
        except ProcessError as exc:  # e.g. the child's newest version refuses the context
            state, data = change.get("state"), {"process": handoff.process, "child": child_id}
            change.log(SYSTEM.id, "handoff_failed", state, state, comment=str(exc), data=data)
            change.notify("handoff_failed", data={**data, "reason": str(exc)})
            return False
        self.start_child(child)
        _log.info("started %s, the child a crash kept %s from starting", child_id, inst.id)
        return True
