"""The rule books: each as readable tables, its versions, and the impact of a version on the
latest period (two versions compared, or a new version uploaded as a file)."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from vip_workflow.adapters.server.deps import Service, ServiceDep
from vip_workflow.adapters.server.problems import Problem
from vip_workflow.adapters.server.web.deps import CheckedForm, HtmlRoute, WebActor, form_text
from vip_workflow.adapters.server.web.impact import DRAFT, Drafts, Impact, impact
from vip_workflow.adapters.server.web.render import gettext_for, page
from vip_workflow.adapters.server.web.tables import download
from vip_workflow.reporting.labels import column_labels

router = APIRouter(prefix="/web", route_class=HtmlRoute, include_in_schema=False)

_SAFE = re.compile(r"[^A-Za-z0-9._+-]")
#: the largest rule file the upload form takes
MAX_RULE_FILE = 1024 * 1024


def _all_versions(service: Service) -> list[Any]:
    ws = service.workspace
    return [v for v in (ws.tier_versions, ws.trigger_versions, ws.kpi_versions) if v]


def _versions(service: Service, name: str) -> Any:
    found = next((v for v in _all_versions(service) if v.name == name), None)
    if found is None:
        raise Problem(404, "not_found", f"no rule book named {name!r}")
    return found


def _version(versions: Any, version: str | None) -> Any:
    if not version:
        return versions.latest
    chosen = next((b for b in versions if b.version == version), None)
    if chosen is None:
        raise Problem(404, "not_found", f"{versions.name} has no version {version!r}")
    return chosen


def _drafts(request: Request) -> Drafts:
    drafts: Drafts = request.app.state.web.drafts
    return drafts


@router.get("/books")
def books(request: Request, service: ServiceDep, actor: WebActor) -> Response:
    return page(request, "books.html", actor=actor, books=_all_versions(service))


@router.get("/books/{name}")
def book(name: str, request: Request, service: ServiceDep, actor: WebActor,
         version: str | None = None) -> Response:
    from vip_workflow.adapters.server.web.impact import latest_portfolio
    from vip_workflow.adapters.server.web.rulebook import rule_tables

    versions = _versions(service, name)
    chosen = _version(versions, version)
    document = chosen.rules.model_dump(mode="json", exclude_none=True)
    latest = latest_portfolio(service.workspace) if versions.kind == "tiers" else None
    return page(request, "book.html", actor=actor, versions=versions, book=chosen,
                document=document, sections=rule_tables(document),
                latest_period=latest[0] if latest else None,
                previous=_before(versions, chosen))


def _before(versions: Any, chosen: Any) -> Any:
    """The version before ``chosen`` (itself when it is the first)."""
    books = list(versions)
    at = next(i for i, b in enumerate(books) if b.version == chosen.version)
    return books[at - 1] if at else chosen


def _compare(request: Request, service: Service, name: str, old: str, new: str) -> Impact:
    versions = _versions(service, name)
    if versions.kind != "tiers":
        raise Problem(409, "not_a_tier_book", f"{name} holds {versions.kind} rules: only a "
                      "tier book's versions change customers' tiers")
    before = _version(versions, old)
    after = _drafts(request).get(new.removeprefix(DRAFT)) if new.startswith(DRAFT) \
        else _version(versions, new)
    from vip_workflow.adapters.server.web.impact import latest_portfolio

    latest = latest_portfolio(service.workspace)
    key = (name, before.version, new, latest[0] if latest else "",
           str(latest[1].stat().st_mtime_ns) if latest else "")
    found = _drafts(request).result(key)
    if found is None:
        found = impact(service.workspace, before, after, draft=new.startswith(DRAFT))
        _drafts(request).keep_result(key, found)
    return found


@router.get("/books/{name}/impact")
def impact_page(name: str, request: Request, service: ServiceDep, actor: WebActor,
                old: Annotated[str, Query(max_length=200)],
                new: Annotated[str, Query(max_length=200)],
                page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1
                ) -> Response:
    found = _compare(request, service, name, old, new)
    size = service.settings.page_size
    rows = found.changed.slice((page_no - 1) * size, size).to_dicts()
    pages = max(1, -(-found.changed.height // size))
    _ = gettext_for(request)
    query = urlencode({"old": old, "new": new})
    return page(request, "impact.html", actor=actor, name=name, found=found, rows=rows,
                page_no=page_no, pages=pages, query=query,
                matrix_columns=found.matrix.columns, matrix=found.matrix.to_dicts(),
                value_field=service.workspace.config.value_field,
                labels=column_labels(_, service.workspace.config.value_field),
                versions=_versions(service, name))


@router.post("/books/{name}/impact")
async def upload_version(name: str, request: Request, service: ServiceDep, actor: WebActor,
                         form: CheckedForm) -> Response:
    """A new version as a file: loaded by the library's safe reader, kept as a draft, and
    compared with the chosen version."""
    import vip_workflow as vw

    versions = _versions(service, name)
    old = _version(versions, form_text(form, "old")).version
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise Problem(400, "bad_form", "choose a rule file to upload")
    raw = await upload.read(MAX_RULE_FILE + 1)
    if len(raw) > MAX_RULE_FILE:
        raise Problem(413, "too_large", f"{upload.filename}: a rule file is at most 1 MB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Problem(400, "bad_encoding", f"{upload.filename}: a rule file is UTF-8 "
                      "text") from None
    book = vw.loads_rules(text, name=upload.filename, kind="tiers")
    key = _drafts(request).add(text, book)
    target = f"/web/books/{name}/impact?" + urlencode({"old": old, "new": DRAFT + key})
    return RedirectResponse(target, status_code=303)


@router.get("/books/{name}/impact/{table}.{fmt}")
def impact_table(name: str, table: str, fmt: str, request: Request, service: ServiceDep,
                 actor: WebActor, old: Annotated[str, Query(max_length=200)],
                 new: Annotated[str, Query(max_length=200)]) -> Response:
    if table not in ("changes", "matrix"):
        raise Problem(404, "not_found", f"no table {table!r} (changes or matrix)")
    found = _compare(request, service, name, old, new)
    frame = found.changed if table == "changes" else found.matrix
    filename = _SAFE.sub("_", f"{name}-{old}-to-{new.replace(':', '-')}-{found.period}-{table}")
    return download(frame, fmt, filename)
