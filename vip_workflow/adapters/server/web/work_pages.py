"""People's work: my inbox, and one instance with the actions I may take."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from vip_workflow.adapters.server.deps import Service, ServiceDep, check_if_match, etag
from vip_workflow.adapters.server.problems import Problem
from vip_workflow.adapters.server.web.deps import CheckedForm, HtmlRoute, WebActor, form_text
from vip_workflow.adapters.server.web.labels import Titles
from vip_workflow.adapters.server.web.render import duration, gettext_for, language, page
from vip_workflow.domain.instances import Actor
from vip_workflow.ports import WorkCursor

router = APIRouter(prefix="/web", route_class=HtmlRoute, include_in_schema=False)


def titles_for(request: Request, service: Service) -> Titles:
    """Process, step and event names in the request's language."""
    return Titles(gettext_for(request), language(request), service.settings.titles)


def _titles(service: Service, inst: Any, titles: Titles) -> tuple[str, str]:
    """The process's title and the current state's title."""
    definition = service.engine.definition(inst.definition, inst.definition_version)
    return titles.process(definition), titles.state(definition, inst.state)


def _clock(inst: Any, now: datetime, gettext: Any) -> dict[str, Any] | None:
    if inst.next_due is None:
        return None
    left = (inst.next_due - now).total_seconds()
    if left < 0:
        return {"overdue": True, "text": gettext("overdue by %(time)s") % {
            "time": duration(left, gettext)}}
    return {"overdue": False, "text": gettext("due in %(time)s") % {
        "time": duration(left, gettext)}}


def _row(service: Service, inst: Any, now: datetime, gettext: Any,
         titles: Titles) -> dict[str, Any]:
    process, state = _titles(service, inst, titles)
    context = dict(inst.context)
    return {"id": inst.id, "process": process, "state": state, "assignee": inst.assignee,
            "customer": context.get("customer_id"),
            "customer_name": context.get("customer_name"), "due": inst.next_due,
            "clock": _clock(inst, now, gettext), "gate": inst.gate is not None}


@router.get("/inbox")
def inbox(request: Request, service: ServiceDep, actor: WebActor,
          cursor: Annotated[str | None, Query(max_length=2000)] = None,
          overdue: bool = False) -> Response:
    """My work, overdue first, a page at a time (paged in the store by a keyset cursor)."""
    now = datetime.now(UTC)
    after = None
    if cursor:
        try:
            after = WorkCursor.decode(cursor)
        except ValueError:
            raise Problem(400, "bad_cursor", "the cursor is not one this service gave") from None
    found = service.engine.tasks_page(actor, overdue=True if overdue else None, after=after,
                                      limit=service.settings.page_size)
    gettext = gettext_for(request)
    titles = titles_for(request, service)
    rows = [_row(service, inst, now, gettext, titles) for inst in found.items]
    template = "inbox_rows.html" if request.headers.get("hx-request") else "inbox.html"
    return page(request, template, actor=actor, rows=rows, cursor=cursor, overdue=overdue,
                next_cursor=None if found.next is None else found.next.encode())


def _mermaid_text(text: str) -> str:
    return text.replace('"', "'").replace(":", " -").replace(";", ",").replace("\n", " ")


def _mermaid(service: Service, inst: Any, titles: Titles) -> str:
    """The process diagram with the reader's titles, the current state highlighted."""
    from vip_workflow.processes.graphs import definition_graph

    definition = service.engine.definition(inst.definition, inst.definition_version)
    lines = ["stateDiagram-v2"]
    for spec in definition.states:
        text = titles.state(definition, spec.name)
        if spec.owner:
            text += f" ({spec.owner})"
        if spec.gate is not None:  # the approval levels, in order
            text += " [" + " → ".join(level.name for level in spec.gate.levels) + "]"
        if spec.handoff is not None:
            text += f" ⇒ {spec.handoff.process}"
        lines.append(f'    state "{_mermaid_text(text)}" as {spec.name}')
    lines.append(f"    [*] --> {definition.initial}")
    for source, dest, data in definition_graph(definition).edges(data=True):
        label = ", ".join(dict.fromkeys(titles.action(n) for n in data["labels"]))
        lines.append(f"    {source} --> {dest}: {_mermaid_text(label)}")
    lines += [f"    {name} --> [*]" for name in definition.final_states]
    lines += ["    classDef current fill:#fde68a,stroke:#b45309,stroke-width:3px",
              f"    class {inst.state} current"]
    return "\n".join(lines) + "\n"


def _actions(service: Service, inst: Any, actor: Actor) -> dict[str, Any]:
    """What the actor may do now: events to fire, a decision, claim or release."""
    engine: Any = service.engine
    if inst.final:
        return {"events": [], "decide": False, "claim": False, "release": False,
                "reason_needed": False}
    events = engine.available_events(inst.id, actor)
    decide = inst.gate is not None and engine.may_decide(inst.id, actor)
    may_act = bool(events) or decide
    return {"events": events, "decide": decide,
            "claim": inst.assignee is None and may_act,
            "release": inst.assignee is not None and (inst.assignee == actor.id or may_act),
            "reason_needed": inst.assignee not in (None, actor.id)}


def _ledger(service: Service, inst: Any, titles: Titles) -> list[dict[str, Any]]:
    definition = service.engine.definition(inst.definition, inst.definition_version)
    return [{"seq": e.seq, "at": e.at, "actor": e.actor, "on_behalf_of": e.on_behalf_of,
             "action": titles.action(e.action), "source": titles.state(definition, e.source),
             "dest": titles.state(definition, e.dest), "comment": e.comment,
             "data": dict(e.data) if e.data else None} for e in reversed(inst.history)]


@router.get("/instances/{instance_id}")
def instance(instance_id: str, request: Request, service: ServiceDep,
             actor: WebActor) -> Response:
    inst = service.engine.get(instance_id)
    titles = titles_for(request, service)
    process, state = _titles(service, inst, titles)
    now = datetime.now(UTC)
    actions = _actions(service, inst, actor)
    actions["labels"] = {e: titles.event(e) for e in actions["events"]}
    return page(request, "instance.html", actor=actor, inst=inst, process=process,
                state=state, context=dict(inst.context), mermaid=_mermaid(service, inst, titles),
                ledger=_ledger(service, inst, titles), verified=inst.verify_ledger(),
                actions=actions,
                clock=_clock(inst, now, gettext_for(request)))


def _act(service: Service, instance_id: str, form: Any, actor: Actor, what: str) -> None:
    """Run one command of the form on the instance, after checking it was not changed."""
    engine: Any = service.engine
    version = form_text(form, "version")
    if not version.isdigit():
        raise Problem(400, "bad_form", "the form has no instance version: reload the page")
    check_if_match(etag(int(version)), engine.get(instance_id).version)
    comment = form_text(form, "comment")
    if what == "fire":
        engine.fire(instance_id, form_text(form, "event"), actor=actor, comment=comment)
    elif what == "approve":
        engine.approve(instance_id, actor=actor, comment=comment)
    elif what == "reject":
        engine.reject(instance_id, actor=actor, comment=comment)
    elif what == "claim":
        engine.claim(instance_id, actor=actor)
    elif what == "release":
        engine.release(instance_id, actor=actor, comment=comment)
    else:
        raise Problem(404, "not_found", f"no action {what!r}")


@router.post("/instances/{instance_id}/{what}")
def act(instance_id: str, what: str, service: ServiceDep, actor: WebActor,
        form: CheckedForm) -> Response:
    if what not in ("fire", "approve", "reject", "claim", "release"):
        raise Problem(404, "not_found", f"no action {what!r}")
    _act(service, instance_id, form, actor, what)
    return RedirectResponse(f"/web/instances/{instance_id}", status_code=303)
