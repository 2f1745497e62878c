"""Processes: definitions (with Mermaid and DOT), instances and every command on them.

A command answers with the instance as it is after the command and its ``ETag`` (the
instance's version). ``If-Match`` on a command is checked against the stored version before
the engine runs (412 when stale); ``Idempotency-Key`` becomes the engine's ``request_id``, so
a retried command changes nothing and answers as the first did.

A command is answered from the instance the engine returns (no second read of the store) and
written once (``json_response``): the routes declare ``response_model`` for the OpenAPI
document, so FastAPI neither validates nor encodes the body again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import attrs
from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, ConfigDict, Field

from vip_workflow.adapters.server.deps import (
    CurrentActor,
    Service,
    ServiceDep,
    check_if_match,
    etag,
    json_response,
)
from vip_workflow.processes.commands import may_fire

router = APIRouter(tags=["processes"])

IfMatch = Annotated[str | None, Header(description="The ETag of the version you read; a "
                                       "stale one is refused with 412.")]
IdempotencyKey = Annotated[str | None, Header(max_length=200, description=(
    "Any key of yours: a retry with the same key changes nothing and answers as the "
    "first call did (the engine's request_id)."))]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartRequest(_Body):
    process: str = Field(description="The process name.")
    context: dict[str, Any] = Field(default_factory=dict)
    comment: str = ""
    on_behalf_of: str | None = None
    version: int | None = Field(default=None, ge=1)


class FireRequest(_Body):
    comment: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    on_behalf_of: str | None = None


class DecideRequest(_Body):
    comment: str = ""


class RejectRequest(_Body):
    comment: str = Field(min_length=1, description="Why (required).")
    to: str | None = Field(default=None, description="The step to send it back to.")


class DelegateRequest(_Body):
    to: str = Field(min_length=1)
    until: datetime
    comment: str = ""


class ReassignRequest(_Body):
    to: str = Field(min_length=1, description="The user who takes the work over.")
    reason: str = Field(min_length=1)


class ContextUpdate(_Body):
    data: dict[str, Any]
    comment: str = ""


def _plain(value: Any) -> Any:
    """An attrs value as plain data (``json_response`` writes its dates)."""
    return None if value is None else attrs.asdict(value)


def _events(service: Service, inst: Any, actor: Any) -> list[str]:
    """``engine.available_events`` of ``inst`` as the command left it, without reading it
    again: the events of its state that ``actor`` may fire."""
    if inst.final:
        return []
    compiled = service.engine.compiled(inst.definition, inst.definition_version)
    return [event for event in compiled.events(inst.state)
            if may_fire(actor, inst, compiled, compiled.ways(inst.state, event))]


def instance_body(service: Service, inst: Any, actor: Any, *, ledger: bool = True
                  ) -> dict[str, Any]:
    """An instance as plain data: its state, gate, timers and (if asked) ledger and its
    check; what ``json`` cannot write (dates) ``json_response`` writes as FastAPI would."""
    body: dict[str, Any] = {
        "id": inst.id, "definition": inst.definition,
        "definition_version": inst.definition_version, "state": inst.state,
        "context": dict(inst.context), "version": inst.version,
        "created_at": inst.created_at, "final": inst.final, "assignee": inst.assignee,
        "escalated_to": inst.escalated_to, "work": sorted(inst.work), "parent": inst.parent,
        "waiting_for": inst.waiting_for, "next_due": inst.next_due,
        "gate": _plain(inst.gate), "timers": [_plain(t) for t in inst.timers],
    }
    if ledger:
        body["ledger"] = [_plain(e) for e in inst.history]
        body["ledger_verified"] = inst.verify_ledger()
        body["available_events"] = _events(service, inst, actor)
    return body


def _answer(service: Service, inst: Any, actor: Any, status_code: int = 200) -> Response:
    response = json_response(instance_body(service, inst, actor), status_code)
    response.headers["ETag"] = etag(inst.version)
    response.headers["Location"] = f"/api/v1/instances/{inst.id}"
    return response


def _guard(service: Service, instance_id: str, if_match: str | None) -> None:
    if if_match is not None:
        check_if_match(if_match, service.engine.get(instance_id).version)


@router.get("/processes", summary="The deployed process definitions")
def list_processes(service: ServiceDep, _actor: CurrentActor) -> list[dict[str, Any]]:
    return [{"name": d.name, "version": d.version, "title": d.title,
             "description": d.description, "roles": list(d.roles),
             "states": [s.name for s in d.states]}
            for d in service.engine.definitions()]


@router.get("/processes/{name}", summary="A definition, with its Mermaid and DOT diagrams")
def get_process(name: str, service: ServiceDep, _actor: CurrentActor,
                version: int | None = None) -> dict[str, Any]:
    from vip_workflow.processes.graphs import to_dot, to_mermaid

    definition = service.engine.definition(name, version)
    return {"definition": definition.model_dump(mode="json", exclude_none=True),
            "mermaid": to_mermaid(definition), "dot": to_dot(definition)}


@router.post("/instances", status_code=201, summary="Start an instance of a process",
             response_model=dict[str, Any])
def start(body: StartRequest, service: ServiceDep, actor: CurrentActor,
          idempotency_key: IdempotencyKey = None) -> Response:
    inst = service.engine.start(body.process, body.context, actor=actor,
                                on_behalf_of=body.on_behalf_of, comment=body.comment,
                                version=body.version, request_id=idempotency_key)
    return _answer(service, inst, actor, 201)


@router.get("/instances/{instance_id}", summary="An instance with its ledger",
            response_model=dict[str, Any])
def get_instance(instance_id: str, service: ServiceDep, actor: CurrentActor) -> Response:
    return _answer(service, service.engine.get(instance_id), actor)


@router.get("/instances/{instance_id}/events", summary="The events you may fire now")
def available_events(instance_id: str, service: ServiceDep,
                     actor: CurrentActor) -> list[str]:
    return service.engine.available_events(instance_id, actor)


@router.post("/instances/{instance_id}/events/{event}", summary="Fire an event",
             response_model=dict[str, Any])
def fire(instance_id: str, event: str, body: FireRequest, service: ServiceDep,
         actor: CurrentActor, if_match: IfMatch = None,
         idempotency_key: IdempotencyKey = None) -> Response:
    _guard(service, instance_id, if_match)
    inst = service.engine.fire(instance_id, event, actor=actor, comment=body.comment,
                               data=body.data, on_behalf_of=body.on_behalf_of,
                               request_id=idempotency_key)
    return _answer(service, inst, actor)


@router.post("/instances/{instance_id}/approve", summary="Approve the open approval level",
             response_model=dict[str, Any])
def approve(instance_id: str, body: DecideRequest, service: ServiceDep, actor: CurrentActor,
            if_match: IfMatch = None, idempotency_key: IdempotencyKey = None) -> Response:
    _guard(service, instance_id, if_match)
    inst = service.engine.approve(instance_id, actor=actor, comment=body.comment,
                                  request_id=idempotency_key)
    return _answer(service, inst, actor)


@router.post("/instances/{instance_id}/reject", summary="Reject, with a reason",
             response_model=dict[str, Any])
def reject(instance_id: str, body: RejectRequest, service: ServiceDep, actor: CurrentActor,
           if_match: IfMatch = None, idempotency_key: IdempotencyKey = None) -> Response:
    _guard(service, instance_id, if_match)
    inst = service.engine.reject(instance_id, actor=actor, comment=body.comment, to=body.to,
                                 request_id=idempotency_key)
    return _answer(service, inst, actor)


@router.post("/instances/{instance_id}/recall", summary="Withdraw your approval request",
             response_model=dict[str, Any])
def recall(instance_id: str, body: DecideRequest, service: ServiceDep, actor: CurrentActor,
           if_match: IfMatch = None, idempotency_key: IdempotencyKey = None) -> Response:
    _guard(service, instance_id, if_match)
    inst = service.engine.recall(instance_id, actor=actor, comment=body.comment,
                                 request_id=idempotency_key)
    return _answer(service, inst, actor)


@router.post("/instances/{instance_id}/delegate", summary="Let someone decide in your place",
             response_model=dict[str, Any])
def delegate(instance_id: str, body: DelegateRequest, service: ServiceDep,
             actor: CurrentActor, if_match: IfMatch = None) -> Response:
    _guard(service, instance_id, if_match)
    inst = service.engine.delegate(instance_id, actor=actor, to=body.to, until=body.until,
                                   comment=body.comment)
    return _answer(service, inst, actor)


@router.patch("/instances/{instance_id}/context", summary="Change context fields",
              response_model=dict[str, Any])
def update_context(instance_id: str, body: ContextUpdate, service: ServiceDep,
                   actor: CurrentActor, if_match: IfMatch = None) -> Response:
    _guard(service, instance_id, if_match)
    inst = service.engine.update_context(instance_id, body.data, actor=actor,
                                         comment=body.comment)
    return _answer(service, inst, actor)


# -- per-user work (issue 11 part 1: the engine's claim, release and reassign) --------------

@router.post("/instances/{instance_id}/claim", summary="Take pool work as yours",
             response_model=dict[str, Any])
def claim(instance_id: str, service: ServiceDep, actor: CurrentActor,
          if_match: IfMatch = None, idempotency_key: IdempotencyKey = None) -> Response:
    _guard(service, instance_id, if_match)
    engine: Any = service.engine
    inst = engine.claim(instance_id, actor=actor, request_id=idempotency_key)
    return _answer(service, inst, actor)


@router.post("/instances/{instance_id}/release", summary="Give claimed work back to the pool",
             response_model=dict[str, Any])
def release(instance_id: str, body: DecideRequest, service: ServiceDep, actor: CurrentActor,
            if_match: IfMatch = None) -> Response:
    _guard(service, instance_id, if_match)
    engine: Any = service.engine
    inst = engine.release(instance_id, actor=actor, comment=body.comment)
    return _answer(service, inst, actor)


@router.post("/instances/{instance_id}/reassign", summary="Hand the work to another person "
             "(a supervisor, with a reason)", response_model=dict[str, Any])
def reassign(instance_id: str, body: ReassignRequest, service: ServiceDep,
             actor: CurrentActor, if_match: IfMatch = None) -> Response:
    _guard(service, instance_id, if_match)
    engine: Any = service.engine
    inst = engine.reassign(instance_id, to=body.to, actor=actor, reason=body.reason)
    return _answer(service, inst, actor)
