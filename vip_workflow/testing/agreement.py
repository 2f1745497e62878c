"""Agreement test: random engine commands on a candidate store and on the in-memory reference
must give the same instances, ledgers, outboxes and due lists.

Use it from an adapter's tests (needs hypothesis)::

    TestSQLiteAgrees = store_agreement(lambda: SQLiteInstanceStore(":memory:")).TestCase
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule

from vip_workflow.adapters.storage.memory import MemoryInstanceStore
from vip_workflow.domain.instances import Actor
from vip_workflow.errors import VipWorkflowError
from vip_workflow.ports import InstanceStore
from vip_workflow.processes.engine import ProcessEngine
from vip_workflow.testing import FrozenClock

__all__ = ["store_agreement"]

_ACTORS = [
    Actor("am1", roles={"account_manager"}),
    Actor("bm1", roles={"business_manager"}),
    Actor("bm2", roles={"business_manager", "department_director"}),
    Actor("dd1", roles={"department_director"}),
    Actor("vp1", roles={"vp_business_development"}),
]
_EVENTS = ["plan_ready", "submit", "rework_plan", "sign", "enter_order", "file", "lose"]


def store_agreement(
    make_store: Callable[[], InstanceStore], *, max_examples: int = 30
) -> type[RuleBasedStateMachine]:
    """A state machine whose ``TestCase`` checks ``make_store()`` agrees with the memory store."""

    class StoreAgreement(RuleBasedStateMachine):
        instances = Bundle("instances")

        def __init__(self) -> None:
            super().__init__()
            self.clock = FrozenClock()
            self.engines = []
            for store in (MemoryInstanceStore(), make_store()):
                self.engines.append(ProcessEngine(
                    store=store, clock=self.clock, id_factory=_numbered_ids()))
            self.ids: list[str] = []

        def _both(self, command: Callable[[ProcessEngine], Any]) -> Any:
            outcomes = []
            for engine in self.engines:
                try:
                    outcomes.append(("ok", command(engine)))
                except VipWorkflowError as exc:
                    outcomes.append(("error", type(exc).__name__))
            assert outcomes[0] == outcomes[1], outcomes
            return outcomes[0]

        @rule(target=instances, value=st.sampled_from([0, 200_000, 900_000]))
        def start(self, value: int) -> str:
            _, inst = self._both(lambda e: e.start(
                "sales", {"customer_id": "c", "contract_value": value}, actor=_ACTORS[0]))
            instance_id: str = inst.id
            self.ids.append(instance_id)
            return instance_id

        @rule(target=instances, values=st.lists(st.sampled_from([0, 200_000, 900_000]),
                                                max_size=4),
              again=st.integers(0, 3))
        def start_many(self, values: list[int], again: int) -> Any:
            """Bulk starts (through ``commit_many`` where the store has it), some of them of
            ids already started, which are skipped."""
            items: list[tuple[str | None, dict[str, Any]]] = [
                (instance_id, {"customer_id": "c"}) for instance_id in self.ids[-again:]
            ] if again else []
            items += [(None, {"customer_id": "c", "contract_value": v}) for v in values]
            outcome, started = self._both(
                lambda e: e.start_many("sales", items, actor=_ACTORS[0]))
            ids = [inst.id for inst in started] if outcome == "ok" else []
            self.ids += ids
            return multiple(*ids)

        @rule(target=instances, value=st.sampled_from([0, 200_000, 900_000]))
        def submitted(self, value: int) -> str:
            instance_id = str(self.start(value))
            for event in ("plan_ready", "submit"):
                self._fire_both(instance_id, event)
            return instance_id

        def _fire_both(self, instance_id: str, event: str) -> None:
            self._both(lambda e: e.fire(instance_id, event, actor=_ACTORS[0]))

        @rule(instance=instances, event=st.sampled_from(_EVENTS),
              actor=st.sampled_from(_ACTORS))
        def fire(self, instance: str, event: str, actor: Actor) -> None:
            self._both(lambda e: e.fire(instance, event, actor=actor))

        @rule(instance=instances, actor=st.sampled_from(_ACTORS), approve=st.booleans())
        def decide(self, instance: str, actor: Actor, approve: bool) -> None:
            if approve:
                self._both(lambda e: e.approve(instance, actor=actor))
            else:
                self._both(lambda e: e.reject(instance, actor=actor, comment="no"))

        @rule(instance=instances, actor=st.sampled_from(_ACTORS), hours=st.integers(1, 30))
        def delegate(self, instance: str, actor: Actor, hours: int) -> None:
            until = self.clock() + timedelta(hours=hours)
            self._both(lambda e: e.delegate(instance, actor=actor, to="deputy", until=until))

        @rule(hours=st.integers(1, 60))
        def tick(self, hours: int) -> None:
            now = self.clock.advance(hours=hours)
            self._both(lambda e: e.tick(now))

        @invariant()
        def stores_agree(self) -> None:
            reference, candidate = (e.store for e in self.engines)
            for instance_id in self.ids:
                assert reference.get(instance_id) == candidate.get(instance_id)
                assert reference.ledger(instance_id) == candidate.ledger(instance_id)
            assert [n for _, n in reference.pending_notices()] == [
                n for _, n in candidate.pending_notices()]
            later = self.clock() + timedelta(days=400)
            assert sorted(reference.due(later)) == sorted(candidate.due(later))
            assert reference.find(include_final=False) == candidate.find(include_final=False)

    StoreAgreement.TestCase.settings = settings(max_examples=max_examples,
                                                stateful_step_count=30, deadline=None)
    return StoreAgreement


def _numbered_ids() -> Callable[[], str]:
    """Instance ids i0, i1, … (one counter per engine, so both engines agree)."""
    ids = itertools.count()
    return lambda: f"i{next(ids)}"
