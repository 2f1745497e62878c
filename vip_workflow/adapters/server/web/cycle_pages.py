"""Customers and the monthly cycle's dashboard per period (the rule books: book_pages)."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

import polars as pl
from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from vip_workflow.adapters.server.deps import Service, ServiceDep
from vip_workflow.adapters.server.problems import Problem
from vip_workflow.adapters.server.web.deps import HtmlRoute, WebActor
from vip_workflow.adapters.server.web.render import environment, gettext_for, language, page
from vip_workflow.adapters.server.web.tables import download
from vip_workflow.reporting import charts, dashboard
from vip_workflow.reporting.labels import column_labels
from vip_workflow.reporting.report import render_dashboard

router = APIRouter(prefix="/web", route_class=HtmlRoute, include_in_schema=False)

_PERIOD = re.compile(r"^\d{4}-\d{2}$")


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.with_columns(pl.col(pl.Enum, pl.Categorical).cast(pl.String)).to_dicts()


@router.get("/customers")
def find_customer(actor: WebActor, customer_id: Annotated[str, Query(alias="id")]
                  ) -> Response:
    return RedirectResponse(f"/web/customers/{quote(customer_id.strip(), safe='')}",
                            status_code=303)


def _cases(service: Service, case_ids: list[str]) -> list[Any]:
    from vip_workflow.errors import NotFoundError

    found = []
    for case_id in case_ids:
        try:
            found.append(service.engine.get(case_id))
        except NotFoundError:
            continue
    return found


def _explanation(service: Service, period: str, record: dict[str, Any] | None) -> str | None:
    if record is None:
        return None
    book = service.workspace.tier_book(period)
    given = {k: v for k, v in record.items() if k not in ("tier", "rule", "reason")}
    text: str = book.judge(given).explain()
    return text


@router.get("/customers/{customer_id}")
def customer(customer_id: str, request: Request, service: ServiceDep,
             actor: WebActor) -> Response:
    ws = service.workspace
    history = _rows(ws.store.history(customer_id))
    tasks = ws.store.tasks()
    tasks = tasks.filter(pl.col("customer") == customer_id) if "customer" in tasks.columns \
        else tasks.clear()
    signals = ws.store.signals(customer=customer_id)
    if not history and tasks.is_empty() and signals.is_empty():
        raise Problem(404, "not_found", f"no customer {customer_id!r} in any period")
    current = history[-1] if history else None
    record = dashboard.customer_record(ws, current["period"], customer_id) if current else None
    name = str((record or {}).get("name") or customer_id)
    _ = gettext_for(request)
    number = environment(language(request)).filters["number"]
    tiers = list(ws.tier_book(current["period"]).tiers) if current else []
    case_ids = sorted({c for c in tasks.get_column("case_id").to_list() if c})
    return page(request, "customer.html", actor=actor, customer_id=customer_id, name=name,
                current=current, record=record, history=history,
                explanation=_explanation(service, current["period"], record)
                if current else None,
                history_chart=charts.tier_history_chart(name, history, tiers, _),
                signals=[s | {"evidence_text": dashboard.evidence_text(s["evidence"], number)}
                         for s in _rows(signals)],
                tasks=_rows(tasks), cases=_cases(service, case_ids),
                labels=column_labels(_, ws.config.value_field))


@router.get("/periods")
def periods(request: Request, service: ServiceDep, actor: WebActor) -> Response:
    store = service.workspace.store
    return page(request, "periods.html", actor=actor, periods=list(reversed(store.periods())),
                runs=list(reversed(store.runs()))[:20])


def _period(service: Service, period: str) -> str:
    if not _PERIOD.match(period) or period not in service.workspace.store.periods():
        raise Problem(404, "not_found", f"no recorded period {period!r}")
    return period


@router.get("/periods/{period}")
def period_page(period: str, request: Request, service: ServiceDep,
                actor: WebActor) -> Response:
    period = _period(service, period)
    ws = service.workspace
    lang = language(request)
    number = environment(lang).filters["number"]
    board = dashboard.period_dashboard(ws, period, number)

    def render(**context: Any) -> str:
        return render_dashboard(
            board, tiers=list(ws.tier_book(period).tiers), value_field=ws.config.value_field,
            language=lang, gettext=gettext_for(request),
            href=f"/web/periods/{period}/tables/{{name}}.{{fmt}}",
            template=environment(lang).get_template("dashboard.html"), **context)

    return page(request, "period.html", actor=actor, period=period,
                periods=ws.store.periods(), dashboard=render)


@router.get("/periods/{period}/tables/{name}.{fmt}")
def period_table(period: str, name: str, fmt: str, request: Request, service: ServiceDep,
                 actor: WebActor) -> Response:
    period = _period(service, period)
    number = environment(language(request)).filters["number"]
    tables = dashboard.period_tables(service.workspace, period, number)
    if name not in tables:
        raise Problem(404, "not_found", f"no table {name!r} (one of {', '.join(tables)})")
    return download(tables[name], fmt, f"{period}-{name}")

