"""Replays by ``request_id`` (issue 9): a replay must repeat the first call exactly — the same
actor, the same command, the same arguments — on every built-in store; anything else is a
``RequestIdConflictError`` and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import vip_workflow as vw
from tests.adapters.conftest import pg_schema  # noqa: F401  (the PostgreSQL fixture)
from tests.processes.conftest import AM, AM2, BM, DD, NOBODY, to_gate
from vip_workflow.adapters.storage.sql import SQLInstanceStore
from vip_workflow.errors import RequestIdConflictError
from vip_workflow.testing import FrozenClock


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def engine(request, tmp_path) -> Iterator[vw.ProcessEngine]:
    """An engine on each built-in store (request ids live in the stored ledger)."""
    clock = FrozenClock()
    if request.param == "memory":
        yield vw.ProcessEngine(clock=clock)
        return
    url = f"sqlite:///{tmp_path / 'vip.db'}" if request.param == "sqlite" else \
        request.getfixturevalue("pg_schema")
    with SQLInstanceStore(url) as store:
        yield vw.ProcessEngine(store=store, clock=clock)


def _refused(engine: vw.ProcessEngine, instance_id: str, call: Any) -> RequestIdConflictError:
    """``call()`` raises RequestIdConflictError and leaves the instance as it was."""
    before = engine.get(instance_id)
    with pytest.raises(RequestIdConflictError) as caught:
        call()
    assert engine.get(instance_id) == before
    assert caught.value.code == "request_id_conflict"
    return caught.value


class TestReplays:
    """Same actor, command and arguments: the instance as it is; anything else: refused."""

    def test_a_true_replay_still_returns_the_instance(self, engine):
        """fire, approve, reject, recall and start, each repeated exactly, change nothing."""
        inst = engine.start("sales", {"customer_id": "c1"}, actor=AM, request_id="s-1")
        assert engine.start("sales", {"customer_id": "c1"}, actor=AM, request_id="s-1") == inst
        first = engine.fire(inst.id, "plan_ready", actor=AM, comment="go", request_id="f-1")
        assert engine.fire(inst.id, "plan_ready", actor=AM, comment="go",
                           request_id="f-1") == first
        engine.fire(inst.id, "submit", actor=AM, data={"contract_value": 200_000})
        approved = engine.approve(inst.id, actor=BM, comment="ok", request_id="a-1")
        assert engine.approve(inst.id, actor=BM, comment="ok", request_id="a-1") == approved
        rejected = engine.reject(inst.id, actor=DD, comment="price", request_id="j-1")
        assert engine.reject(inst.id, actor=DD, comment="price", request_id="j-1") == rejected
        gated = engine.fire(inst.id, "submit", actor=AM)
        recalled = engine.recall(gated.id, actor=AM, request_id="r-1")
        assert engine.recall(gated.id, actor=AM, request_id="r-1") == recalled
        assert recalled.verify_ledger()

    def test_an_actor_without_a_role_cannot_reuse_another_users_request_id(self, engine):
        """Before the fix a stranger's 'replay' of am1's request returned success."""
        inst = engine.start("sales", {"customer_id": "c1"}, actor=AM)
        engine.fire(inst.id, "plan_ready", actor=AM, request_id="f-1")
        error = _refused(engine, inst.id, lambda: engine.fire(
            inst.id, "plan_ready", actor=NOBODY, request_id="f-1"))
        assert (error.instance, error.request_id, error.actor) == (inst.id, "f-1", NOBODY.id)
        assert "am1" in str(error)

    def test_another_approver_cannot_reuse_an_approvers_request_id(self, engine):
        """A second business manager's approval is not bm1's replay."""
        inst = to_gate(engine, contract_value=200_000)
        engine.approve(inst.id, actor=BM, request_id="a-1")
        _refused(engine, inst.id, lambda: engine.approve(inst.id, actor=NOBODY,
                                                         request_id="a-1"))
        _refused(engine, inst.id, lambda: engine.approve(inst.id, actor=DD, request_id="a-1"))

    def test_another_command_cannot_reuse_a_request_id(self, engine):
        """Before the fix the second command was silently a no-op."""
        inst = engine.start("sales", {"customer_id": "c1"}, actor=AM)
        engine.fire(inst.id, "plan_ready", actor=AM, request_id="x-1")
        error = _refused(engine, inst.id, lambda: engine.fire(
            inst.id, "submit", actor=AM, request_id="x-1"))
        assert error.command == "fire 'submit'"
        gated = engine.fire(inst.id, "submit", actor=AM, request_id="x-2")
        _refused(engine, gated.id, lambda: engine.recall(gated.id, actor=AM, request_id="x-2"))
        engine.approve(gated.id, actor=BM, request_id="x-3")

    def test_the_same_command_with_other_arguments_is_refused(self, engine):
        """Another comment, other data or another reject target is another request."""
        inst = engine.start("sales", {"customer_id": "c1"}, actor=AM)
        engine.fire(inst.id, "plan_ready", actor=AM, comment="a", request_id="f-1")
        _refused(engine, inst.id, lambda: engine.fire(
            inst.id, "plan_ready", actor=AM, comment="b", request_id="f-1"))
        engine.fire(inst.id, "submit", actor=AM, data={"discount": 0.05}, request_id="f-2")
        _refused(engine, inst.id, lambda: engine.fire(
            inst.id, "submit", actor=AM, data={"discount": 0.06}, request_id="f-2"))
        engine.reject(inst.id, actor=BM, comment="no", to="communication_plan",
                      request_id="j-1")
        _refused(engine, inst.id, lambda: engine.reject(
            inst.id, actor=BM, comment="no", request_id="j-1"))

    def test_a_start_is_replayed_only_by_the_same_actor_with_the_same_start(self, engine):
        """Another starter, another context or another on_behalf_of is refused."""
        inst = engine.start("sales", {"customer_id": "c1"}, actor=AM, request_id="s-1")
        for call in (
            lambda: engine.start("sales", {"customer_id": "c1"}, actor=AM2, request_id="s-1"),
            lambda: engine.start("sales", {"customer_id": "c2"}, actor=AM, request_id="s-1"),
            lambda: engine.start("sales", {"customer_id": "c1"}, actor=AM,
                                 on_behalf_of="dd-1", request_id="s-1"),
        ):
            _refused(engine, inst.id, call)

    def test_request_ids_are_kept_in_the_stored_ledger(self, engine):
        """The first entry of the command carries the id and a digest of the request."""
        inst = engine.start("sales", {"customer_id": "c1"}, actor=AM)
        fired = engine.fire(inst.id, "plan_ready", actor=AM, request_id="f-1")
        data = fired.history[-1].data
        assert data["request_id"] == "f-1"
        assert len(data["request_digest"]) == 64
        assert engine.get(inst.id).history == fired.history

    def test_a_request_id_stored_before_digests_is_matched_by_actor_and_action(
            self, engine, monkeypatch):
        """Ledgers written by earlier releases carry the id alone: the same actor and
        command replay, anyone else is refused."""
        import vip_workflow.processes.change as change_module

        inst = engine.start("sales", {"customer_id": "c1"}, actor=AM)
        with monkeypatch.context() as patched:
            patched.setattr(change_module, "request_digest", lambda *args: None)
            first = engine.fire(inst.id, "plan_ready", actor=AM, request_id="old")
        assert first.history[-1].data.get("request_digest") is None
        assert engine.fire(inst.id, "plan_ready", actor=AM, request_id="old") == first
        _refused(engine, inst.id, lambda: engine.fire(inst.id, "plan_ready", actor=NOBODY,
                                                      request_id="old"))
        _refused(engine, inst.id, lambda: engine.fire(inst.id, "submit", actor=AM,
                                                      request_id="old"))
