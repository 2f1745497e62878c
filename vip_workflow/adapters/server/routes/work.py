"""People's work: my inbox, and everything about one customer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Query

from vip_workflow.adapters.server.deps import CurrentActor, Service, ServiceDep, page
from vip_workflow.adapters.server.problems import Problem
from vip_workflow.adapters.server.routes._tables import rows
from vip_workflow.adapters.server.routes.processes import instance_body

router = APIRouter(tags=["work"])

Cursor = Annotated[str | None, Query(description="The next_cursor of the previous page.")]


@router.get("/inbox", summary="Steps and approvals assigned to me, and pool work of my roles")
def inbox(service: ServiceDep, actor: CurrentActor, cursor: Cursor = None,
          limit: Annotated[int | None, Query(ge=1, le=500)] = None,
          definition: str | None = None, state: str | None = None,
          overdue: bool | None = None) -> dict[str, Any]:
    found = service.engine.tasks_for(actor, definition=definition)
    now = datetime.now(UTC)
    if state is not None:
        found = [i for i in found if i.state == state]
    if overdue is not None:
        found = [i for i in found
                 if (i.next_due is not None and i.next_due <= now) == overdue]
    chosen = page(found, lambda i: i.id, cursor=cursor,
                  limit=limit or service.settings.page_size)
    return {"items": [instance_body(service, i, actor, ledger=False) for i in chosen.items],
            "next_cursor": chosen.next_cursor}


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
