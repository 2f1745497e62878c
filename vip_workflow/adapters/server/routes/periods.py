"""The monthly cycle: periods and their runs, running a period in the background, KPIs."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from vip_workflow.adapters.server.deps import CurrentActor, Service, ServiceDep
from vip_workflow.adapters.server.problems import Problem
from vip_workflow.adapters.server.routes._tables import read_upload, rows

router = APIRouter(tags=["cycle"])

Period = Annotated[str, "a period"]
_PATTERN = r"^\d{4}-\d{2}$"


def _runs(service: Service, period: str | None = None) -> list[dict[str, Any]]:
    return [r for r in service.workspace.store.runs() if period is None or r["period"] == period]


@router.get("/periods", summary="Periods with recorded tiers, and every cycle run")
def list_periods(service: ServiceDep, _actor: CurrentActor) -> dict[str, Any]:
    return {"periods": service.workspace.store.periods(), "runs": _runs(service)}


@router.get("/periods/{period}", summary="A period's tier counts and runs")
def get_period(period: str, service: ServiceDep, _actor: CurrentActor) -> dict[str, Any]:
    store = service.workspace.store
    if period not in store.periods():
        raise Problem(404, "not_found", f"no recorded period {period!r}")
    tiers = store.tiers(period)
    counts = rows(tiers.group_by("tier").len().sort("tier")) if "tier" in tiers.columns else []
    return {"period": period, "customers": tiers.height, "tiers": counts,
            "runs": _runs(service, period)}


def _admin(actor: Any) -> None:
    if not actor.has_any({"process_admin", "cycle_operator"}):
        raise Problem(403, "permission_denied", f"{actor.id} may not run the monthly cycle "
                      "(roles process_admin or cycle_operator)")


@router.post("/periods/{period}/run", status_code=202,
             summary="Run the period's cycle in the background (idempotent; one run of a "
             "period at a time, whichever worker is asked)")
def run_period(period: str, service: ServiceDep, actor: CurrentActor, response: Response,
               portfolio: Annotated[UploadFile, File(description="The period's customers.")],
               history: Annotated[UploadFile | None, File(description=(
                   "Monthly history (one row per customer and month) for the triggers."))
               ] = None,
               kpi_data: Annotated[UploadFile | None, File(description=(
                   "The portfolio the KPIs are checked on (default: the judged one)."))
               ] = None,
               encoding: Annotated[str, Form()] = "utf-8") -> dict[str, Any]:
    import re

    if not re.fullmatch(_PATTERN, period):
        raise Problem(400, "bad_period", f"period {period!r}: write it as YYYY-MM")
    _admin(actor)
    raw = portfolio.file.read()
    frame = read_upload(raw, portfolio.filename or "", encoding=encoding)
    extra: dict[str, Any] = {}
    for name, upload in (("history", history), ("kpi_data", kpi_data)):
        if upload is not None:
            data = upload.file.read()
            raw += name.encode() + data
            extra[name] = read_upload(data, upload.filename or "", encoding=encoding)

    def work(progress: Callable[[str, int, int], None]) -> dict[str, Any]:
        result = service.workspace.run_cycle(period, frame, progress=progress, **extra)
        return {"summary": result.summary(), "reviews": list(result.reviews),
                "rules": result.rules, "customers": result.judged.height,
                "timings": {k: round(v, 3) for k, v in result.timings.items()},
                "warnings": list(result.warnings)}

    job = service.jobs.submit("cycle", period, raw, work, started_by=actor.id)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return job.to_dict()


@router.get("/periods/{period}/jobs", summary="The period's background runs, newest first")
def period_jobs(period: str, service: ServiceDep, _actor: CurrentActor) -> dict[str, Any]:
    return {"period": period,
            "jobs": [job.to_dict() for job in service.jobs.store.of_period("cycle", period)]}


@router.get("/jobs/{job_id}", summary="A background run's status, progress and result")
def get_job(job_id: str, service: ServiceDep, _actor: CurrentActor,
            response: Response) -> dict[str, Any]:
    response.headers["X-Worker-Pid"] = str(os.getpid())  # which worker answered the poll
    job = service.jobs.get(job_id)
    if job is None:
        raise Problem(404, "not_found", f"no job {job_id!r}")
    return job.to_dict()


@router.get("/periods/{period}/kpis", summary="The period's KPIs, overall or by a column")
def kpis(period: str, service: ServiceDep, _actor: CurrentActor,
         by: Annotated[str | None, Query(description="segment, account_manager …; "
                                         "'overall' for the ungrouped KPIs")] = None
         ) -> dict[str, Any]:
    ws = service.workspace
    path = (ws.base_dir / ws.config.reports / period / "kpis.csv").resolve()
    if not path.exists():
        raise Problem(404, "not_found", f"no KPI results for period {period!r} (run the "
                      "period with a workspace that has KPI rules)")
    frame = pl.read_csv(path, infer_schema_length=None)
    if by == "overall":
        frame = frame.filter(pl.col("by").is_null())
    elif by is not None:
        frame = frame.filter(pl.col("by") == by)
    return {"period": period, "by": by, "rows": rows(frame)}
