"""Signing in with an API token, signing out, and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from vip_workflow.adapters.server.deps import ServiceDep
from vip_workflow.adapters.server.tokens import digest
from vip_workflow.adapters.server.web.deps import CheckedForm, HtmlRoute, form_text, safe_next
from vip_workflow.adapters.server.web.i18n import LANGUAGES
from vip_workflow.adapters.server.web.render import gettext_for, page
from vip_workflow.adapters.server.web.session import CSRF, LANG, SESSION, set_cookie

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)


@router.get("/")
def home() -> Response:
    return RedirectResponse("/web/inbox", status_code=303)


@router.get("/web/login")
def login_page(request: Request, next: Annotated[str | None, Query()] = None) -> Response:
    return page(request, "login.html", next=safe_next(next), error=None)


@router.post("/web/login")
def login(request: Request, service: ServiceDep, form: CheckedForm) -> Response:
    token = form_text(form, "token")
    target = safe_next(form_text(form, "next"))
    actor = service.tokens.actor(token) if token else None
    if actor is None:
        _ = gettext_for(request)
        return page(request, "login.html", status=401, next=target,
                    error=_("This API token is unknown, revoked or expired."))
    web = request.app.state.web
    hours = service.settings.session_hours
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, request, SESSION, web.signer.session(digest(token), hours),
               max_age=int(hours * 3600))
    set_cookie(response, request, CSRF, web.signer.new_csrf())  # a new token per session
    return response


@router.post("/web/logout")
def logout(request: Request, _form: CheckedForm) -> Response:
    response = RedirectResponse("/web/login", status_code=303)
    response.delete_cookie(SESSION, path="/")
    set_cookie(response, request, CSRF, request.app.state.web.signer.new_csrf())
    return response


@router.post("/web/language")
def language(request: Request, form: CheckedForm) -> Response:
    chosen = form_text(form, "lang")
    target = form_text(form, "next")
    if not target.startswith("/web/") or target.startswith("//"):
        target = "/web/inbox"
    response = RedirectResponse(target, status_code=303)
    if chosen in LANGUAGES:
        set_cookie(response, request, LANG, chosen, max_age=365 * 86400)
    return response
