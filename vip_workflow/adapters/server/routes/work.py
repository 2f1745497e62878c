"""People's work: my inbox, and everything about one customer."""

from __future__ import annotations

from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Query

from vip_workflow.adapters.server.deps import CurrentActor, Service, ServiceDep
from vip_workflow.adapters.server.problems import Problem
from vip_workflow.adapters.server.routes._tables import rows
from vip_workflow.adapters.server.routes.processes import instance_body
from vip_workflow.ports import WorkCursor

router = APIRouter(tags=["work"])

Cursor = Annotated[str | None, Query(description="The next_cursor of the previous page.")]


@router.get("/inbox", summary="Steps and approvals assigned to me, and pool work of my roles")
def inbox(service: ServiceDep, actor: CurrentActor, cursor: Cursor = None,
          limit: Annotated[int | None, Query(ge=1, le=500)] = None,
          definition: str | None = None, state: str | None = None,
          overdue: Annotated[bool | None, Query(description=(
              "true: only work whose SLA timer has passed; false: only work not overdue"))
          ] = None) -> dict[str, Any]:
    """Overdue first (earliest timer first, work without one last), then by id; paged in the
    store by a keyset cursor, with the filters applied there."""
    after = None
    if cursor:
        try:
            after = WorkCursor.decode(cursor)
        except ValueError:
            raise Problem(400, "bad_cursor", "the cursor is not one this service gave") from None
    found = service.engine.tasks_page(actor, definition=definition, state=state,
                                      overdue=overdue, after=after,
                                      limit=limit or service.settings.page_size)
    return {"items": [instance_body(service, i, actor, ledger=False) for i in found.items],
            "next_cursor": None if found.next is None else found.next.encode()}


def _explanation(service: Service, customer: str, current: dict[str, Any]) -> str | None:
    """The current tier explained, from the judged row the period's outputs kept."""
    ws = service.workspace
    period = current.get("period")
    path = (ws.base_dir / ws.config.reports / str(period) / "tiers.parquet").resolve()
    if not period or not path.exists():
        return None
    id_field = ws.config.id_field
    row = pl.scan_parquet(path).filter(pl.col(id_field).cast(pl.String) == customer).collect()
    if row.is_empty():
        return None
    book = ws.tier_book(str(period))
    record = row.drop([c for c in ("tier", "rule", "reason") if c in row.columns]).to_dicts()[0]
    text: str = book.judge(record).explain()
    return text


def _cases(service: Service, case_ids: list[str], actor: Any) -> list[dict[str, Any]]:
    from vip_workflow.errors import NotFoundError

    found = []
    for case_id in case_ids:
        try:
            inst = service.engine.get(case_id)
        except NotFoundError:
            continue
        found.append(instance_body(service, inst, actor, ledger=False))
    return found


@router.get("/customers/{customer_id}", summary="A customer's tiers, signals, tasks and cases")
def customer(customer_id: str, service: ServiceDep, actor: CurrentActor) -> dict[str, Any]:
    store = service.workspace.store
    history = rows(store.history(customer_id))
    tasks = store.tasks()
    if "customer" in tasks.columns:
        tasks = tasks.filter(pl.col("customer") == customer_id)
    signals = store.signals(customer=customer_id)
    if not history and tasks.is_empty() and signals.is_empty():
        raise Problem(404, "not_found", f"no customer {customer_id!r} in any period")
    current = history[-1] if history else None
    case_ids = sorted({c for c in tasks.get_column("case_id").to_list() if c}) \
        if "case_id" in tasks.columns else []
    return {"id": customer_id, "current": current,
            "explanation": _explanation(service, customer_id, current) if current else None,
            "history": history, "signals": rows(signals), "tasks": rows(tasks),
            "cases": _cases(service, case_ids, actor)}
