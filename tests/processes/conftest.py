"""Shared fixtures for the process-engine tests: a frozen clock, an engine, actors."""

from __future__ import annotations

import pytest

import vip_workflow as vw
from vip_workflow.adapters.notify.memory import MemoryNotifier
from vip_workflow.adapters.storage.memory import MemoryInstanceStore
from vip_workflow.testing import FrozenClock

AM = vw.Actor("am1", roles={"account_manager"})
AM2 = vw.Actor("am2", roles={"account_manager"})
BM = vw.Actor("bm1", roles={"business_manager"})
BM2 = vw.Actor("bm2", roles={"business_manager"})
DD = vw.Actor("dd1", roles={"department_director"})
DD2 = vw.Actor("dd2", roles={"department_director"})
VP = vw.Actor("vp1", roles={"vp_business_development"})
ADMIN = vw.Actor("admin", roles={"process_admin"})
NOBODY = vw.Actor("x1", roles={"researcher"})


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def notifier() -> MemoryNotifier:
    return MemoryNotifier()


@pytest.fixture
def store() -> MemoryInstanceStore:
    return MemoryInstanceStore()


@pytest.fixture
def engine(store, notifier, clock) -> vw.ProcessEngine:
    return vw.ProcessEngine(store=store, notifier=notifier, clock=clock)


def to_gate(engine: vw.ProcessEngine, **context) -> vw.ProcessInstance:
    """A sales instance waiting at 4.3 internal approval, requested by AM."""
    inst = engine.start("sales", {"customer_id": "c1", **context}, actor=AM)
    engine.fire(inst.id, "plan_ready", actor=AM)
    return engine.fire(inst.id, "submit", actor=AM, comment="please approve")
