"""``tasks_page``: an actor's work a page at a time, paged in the store, with the separation of
duties still holding (a page the check shortened is refilled from the index).

On the memory store, SQLite and PostgreSQL, and on a store without a work index (scanned).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import vip_workflow as vw
from tests.adapters.conftest import pg_schema  # noqa: F401 - the fixture
from tests.processes.test_assignment import ScanOnlyStore
from vip_workflow.testing import FrozenClock

AM = vw.Actor("AM001", roles={"account_manager"})
IM = vw.Actor("IM001", roles={"industry_manager"})  # may request and may approve overrides
OVERRIDE = {"customer_id": "G1", "requested_tier": "A", "reason": "集团战略客户"}


@pytest.fixture(params=["memory", "sqlite", "postgresql", "scan"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[vw.ProcessEngine]:
    """An engine on each kind of store, with a frozen clock."""
    from vip_workflow.adapters.notify.memory import MemoryNotifier

    store: Any
    if request.param == "memory":
        store = vw.open_store("memory://")
    elif request.param == "sqlite":
        store = vw.open_store(f"sqlite:///{tmp_path / 'vip.db'}")
    elif request.param == "postgresql":
        store = vw.open_store(request.getfixturevalue("pg_schema"))
    else:
        store = ScanOnlyStore()
    yield vw.ProcessEngine(store=store, notifier=MemoryNotifier(), clock=FrozenClock())
    engine_ = getattr(store, "engine", None)
    if engine_ is not None:
        engine_.dispose()


def _submitted(engine: vw.ProcessEngine, actor: vw.Actor, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        inst = engine.start("tier_override", OVERRIDE, actor=actor)
        ids.append(engine.fire(inst.id, "submit", actor=actor).id)
    return ids


def _pages(engine: vw.ProcessEngine, actor: vw.Actor, limit: int,
           **filters: Any) -> list[list[str]]:
    pages, after = [], None
    while True:
        page = engine.tasks_page(actor, after=after, limit=limit, **filters)
        pages.append([i.id for i in page.items])
        if page.next is None:
            return pages
        after = page.next


class TestTaskPages:
    def test_pages_skip_my_own_requests_and_stay_full(self, engine: vw.ProcessEngine) -> None:
        """IM001 requested 9 overrides and may not approve them (separation of duties); the
        3 AM001 requested fill IM001's pages: every page but the last is full, none twice,
        and the same as tasks_for."""
        mine = _submitted(engine, IM, 9)
        theirs = _submitted(engine, AM, 3)
        whole = [i.id for i in engine.tasks_for(IM)]
        assert sorted(whole) == sorted(theirs) and not set(whole) & set(mine)
        for limit in (1, 2, 3, 4):
            pages = _pages(engine, IM, limit, definition="tier_override")
            assert [i for page in pages for i in page] == whole, limit
            assert all(len(page) == limit for page in pages[:-1]), limit

    def test_state_and_overdue_filters(self, engine: vw.ProcessEngine) -> None:
        """state picks the step; overdue=True only work past its SLA, False the rest."""
        clock: Any = engine.clock
        early = _submitted(engine, AM, 2)
        clock.advance(days=3)
        late = _submitted(engine, AM, 2)
        draft = engine.start("tier_override", OVERRIDE, actor=AM).id
        director = vw.Actor("DD001", roles={"department_director"})
        assert sorted(i.id for i in engine.tasks_page(director, state="approval").items) \
            == sorted(early + late)
        assert engine.tasks_page(director, state="request").items == []
        assert [i.id for i in engine.tasks_page(AM, state="request").items] == [draft]
        clock.advance(days=1)  # the first two are past their first timer (3 days), not the rest
        assert sorted(i.id for i in engine.tasks_page(director, overdue=True).items) == \
            sorted(early)
        assert sorted(i.id for i in engine.tasks_page(director, overdue=False).items) == \
            sorted(late)
        assert [i for page in _pages(engine, director, 1, overdue=False) for i in page] == \
            [i.id for i in engine.tasks_page(director, overdue=False).items]
