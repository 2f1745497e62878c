"""Rules: the workspace's rule books and versions, JSON Schemas, judging and diffs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import attrs
import polars as pl
from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import Route

from vip_workflow.adapters.server.deps import (
    CurrentActor,
    Service,
    ServiceDep,
    actor_of,
    body_of,
    json_response,
)
from vip_workflow.adapters.server.problems import Problem
from vip_workflow.adapters.server.routes._tables import read_upload, rows, table_response

router = APIRouter(tags=["rules"])

Kind = Literal["tiers", "triggers", "kpis"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JudgeRequest(_Body):
    """One customer's record; ``period`` picks the version in force (default: the latest)."""

    customer: dict[str, Any] = Field(description="The customer's fields, by name.")
    period: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}(-\d{2})?$")
    version: str | None = Field(default=None, description="A version by its number.")


class BatchRequest(_Body):
    """Customers to judge, one object each (at most the body limit)."""

    rows: list[dict[str, Any]] = Field(max_length=100_000)
    period: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}(-\d{2})?$")
    version: str | None = None


def _versions(service: Service) -> list[Any]:
    ws = service.workspace
    return [v for v in (ws.tier_versions, ws.trigger_versions, ws.kpi_versions) if v]


def _book_info(versions: Any) -> dict[str, Any]:
    return {"name": versions.name, "kind": versions.kind,
            "latest": versions.latest.version,
            "versions": [{"version": b.version, "effective": b.rules.effective}
                         for b in versions]}


def _versions_of(service: Service, name: str) -> Any:
    for versions in _versions(service):
        if versions.name == name:
            return versions
    known = ", ".join(v.name for v in _versions(service))
    raise Problem(404, "not_found", f"no rule book named {name!r} in this workspace "
                  f"(known: {known})")


def _tier_book(service: Service, name: str, period: str | None, version: str | None) -> Any:
    versions = _versions_of(service, name)
    if versions.kind != "tiers":
        raise Problem(409, "not_a_tier_book", f"{name} holds {versions.kind} rules: only "
                      "tier books judge customers")
    if version is not None:
        for book in versions:
            if book.version == version:
                return book
        raise Problem(404, "not_found", f"{name} has no version {version!r}")
    return versions.in_force(period) if period else versions.latest


def _decision(decision: Any) -> dict[str, Any]:
    body = attrs.asdict(decision, recurse=False)
    body["trace"] = [step._asdict() for step in decision.trace]  # steps are named tuples
    if decision.override is not None:
        body["override"] = attrs.asdict(decision.override)
    body["ok"] = decision.ok
    return body


@router.get("/books", summary="The workspace's rule books and their versions")
def list_books(service: ServiceDep, _actor: CurrentActor) -> list[dict[str, Any]]:
    return [_book_info(v) for v in _versions(service)]


@router.get("/books/{name}", summary="One rule book: versions, tiers and fields")
def get_book(name: str, service: ServiceDep, _actor: CurrentActor) -> dict[str, Any]:
    versions = _versions_of(service, name)
    info = _book_info(versions)
    if versions.kind == "tiers":
        info |= {"tiers": list(versions.latest.tiers), "fields": list(versions.latest.fields)}
    return info


@router.get("/schemas/{kind}", summary="The JSON Schema of a kind of rule file")
def rule_schema(kind: Kind, _actor: CurrentActor) -> dict[str, Any]:
    if kind == "tiers":
        from vip_workflow.rules.tiers.book import rules_schema
        return rules_schema()
    if kind == "triggers":
        from vip_workflow.rules.triggers import triggers_schema
        return triggers_schema()
    from vip_workflow.rules.kpis.book import kpis_schema
    return kpis_schema()


# Judging one customer takes about 5 µs; FastAPI's work around it (solving the route's
# dependencies, thread hops, encoding the result and validating it again) took about 480 µs
# of CPU. So the route below is what the OpenAPI document describes, and ``_fast_judge`` is
# what serves it (mounted first by the app; 59 µs): the same checks in the same order
# (credential, then body), the same errors, no thread hop, the body written once.
@router.post("/books/{name}/judge", summary="Judge one customer",
             response_model=dict[str, Any])
async def judge(name: str, body: JudgeRequest, service: ServiceDep,
                _actor: CurrentActor) -> Response:
    book = _tier_book(service, name, body.period, body.version)
    return json_response(_decision(book.judge(body.customer)))


async def _fast_judge(request: Request) -> Response:
    await actor_of(request)
    body = body_of(JudgeRequest, await request.body())
    service: Service = request.app.state.service
    book = _tier_book(service, request.path_params["name"], body.period, body.version)
    return json_response(_decision(book.judge(body.customer)))


def fast_routes(prefix: str) -> list[Route]:
    """The hot routes served without FastAPI's dependency solving (same path as the
    documented route, mounted before it)."""
    return [Route(f"{prefix}/books/{{name}}/judge", _fast_judge, methods=["POST"])]


@router.post("/books/{name}/explain", summary="Judge one customer and explain the decision",
             response_model=dict[str, Any])
async def explain(name: str, body: JudgeRequest, service: ServiceDep,
                  _actor: CurrentActor) -> Response:
    book = _tier_book(service, name, body.period, body.version)
    decision = book.judge(body.customer)
    return json_response(_decision(decision) | {
        "explanation": decision.explain(), "steps": [s.text() for s in decision.trace],
        "book_version": book.version})


@router.post("/books/{name}/judge-batch", summary="Judge customers given as JSON rows")
def judge_batch(name: str, body: BatchRequest, service: ServiceDep,
                _actor: CurrentActor) -> dict[str, Any]:
    book = _tier_book(service, name, body.period, body.version)
    if not body.rows:
        return {"book_version": book.version, "rows": []}
    frame = pl.from_dicts(body.rows, infer_schema_length=None)
    return {"book_version": book.version, "rows": rows(book.judge_many(frame))}


Upload = Annotated[UploadFile, File(description="Customers: CSV, TSV, Parquet, JSON or NDJSON.")]
Encoding = Annotated[str, Form(description="The text encoding of a CSV/JSON file "
                               "(a Chinese Excel export is usually gb18030).")]


@router.post("/books/{name}/judge-file", summary="Judge an uploaded file; the judged file back",
             response_class=Response, responses={200: {"content": {
                 "text/csv": {}, "application/vnd.apache.parquet": {}}}})
def judge_file(name: str, file: Upload, service: ServiceDep, _actor: CurrentActor,
               encoding: Encoding = "utf-8",
               output: Annotated[Literal["csv", "parquet"], Form()] = "csv",
               period: Annotated[str | None, Form()] = None) -> Response:
    book = _tier_book(service, name, period, None)
    frame = read_upload(file.file.read(), file.filename or "", encoding=encoding)
    return table_response(book.judge_many(frame), output, f"{name}-judged")


@router.post("/books/{name}/diff", summary="Compare two versions on uploaded customers")
def diff(name: str, file: Upload, service: ServiceDep, _actor: CurrentActor,
         old: Annotated[str, Form(description="The version before.")],
         new: Annotated[str, Form(description="The version after.")],
         encoding: Encoding = "utf-8",
         limit: Annotated[int, Query(ge=0, le=10_000)] = 100) -> dict[str, Any]:
    from vip_workflow.rules.versions import diff_tiers

    before = _tier_book(service, name, None, old)
    after = _tier_book(service, name, None, new)
    frame = read_upload(file.file.read(), file.filename or "", encoding=encoding)
    result = diff_tiers(before, after, frame, id_field=service.workspace.config.id_field)
    return {"old": old, "new": new, "total": result.total, "moves": result.moves(),
            "summary": result.summary(), "matrix": rows(result.matrix),
            "changed": rows(result.changed.head(limit))}


@router.post("/rule-files/check", summary="Load and lint an uploaded rule file (nothing kept)")
def check_rule_file(file: Upload, _actor: CurrentActor) -> dict[str, Any]:
    """The file is read by the library's safe reader (no tags, no alias bombs, size and depth
    limits): a broken file is a 422 problem with every location; a loaded one is linted."""
    import vip_workflow as vw

    raw = file.file.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(400, "bad_encoding", "a rule file is UTF-8 text") from None
    book = vw.loads_rules(text, name=file.filename or "upload.yaml")
    report = book.lint()
    return {"name": book.name, "version": book.version, "kind": book.rules.kind,
            "ok": report.ok, "findings": [jsonable_encoder(attrs.asdict(f))
                                          for f in report.findings]}
