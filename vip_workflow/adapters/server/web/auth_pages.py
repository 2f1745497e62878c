"""Signing in (an API token, an OIDC token pasted, or the OIDC issuer's own sign-in page),
signing out, and the language switch."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from vip_workflow.adapters.server.auth import Unauthorized
from vip_workflow.adapters.server.deps import Service, ServiceDep
from vip_workflow.adapters.server.problems import Problem
from vip_workflow.adapters.server.settings import OidcSettings
from vip_workflow.adapters.server.tokens import PREFIX, digest
from vip_workflow.adapters.server.web import oidc as oidc_flow
from vip_workflow.adapters.server.web.deps import CheckedForm, HtmlRoute, form_text, safe_next
from vip_workflow.adapters.server.web.i18n import LANGUAGES
from vip_workflow.adapters.server.web.render import (
    SECURITY_HEADERS,
    environment,
    gettext_for,
    page,
)
from vip_workflow.adapters.server.web.render import language as language_of
from vip_workflow.adapters.server.web.session import CSRF, LANG, OIDC, SESSION, set_cookie
from vip_workflow.domain.instances import Actor

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)


@router.get("/")
def home() -> Response:
    return RedirectResponse("/web/inbox", status_code=303)


def _login(request: Request, service: Service, *, next_path: str, error: str | None = None,
           status: int = 200) -> Response:
    oidc = service.settings.oidc
    return page(request, "login.html", status=status, next=next_path, error=error,
                oidc=oidc is not None, oidc_flow=oidc is not None and bool(oidc.client_id))


@router.get("/web/login")
def login_page(request: Request, service: ServiceDep,
               next: Annotated[str | None, Query()] = None) -> Response:
    return _login(request, service, next_path=safe_next(next))


def _signed_in(request: Request, response: Response, service: Service,
               value: str) -> Response:
    """``response`` with a new session cookie and a new CSRF token."""
    hours = service.settings.session_hours
    set_cookie(response, request, SESSION, value, max_age=int(hours * 3600))
    set_cookie(response, request, CSRF, request.app.state.web.signer.new_csrf())
    return response


def _pasted_jwt(service: Service, token: str) -> Actor:
    """The actor of a pasted OIDC access token (the configured audience) or ID token (the
    client id's)."""
    oidc = service.settings.oidc
    assert oidc is not None
    try:
        return service.auth.oidc_actor(token)
    except Unauthorized:
        if not oidc.client_id or oidc.client_id == oidc.audience:
            raise
        return service.auth.oidc_actor(token, audience=oidc.client_id)


@router.post("/web/login")
def login(request: Request, service: ServiceDep, form: CheckedForm) -> Response:
    token = form_text(form, "token")
    target = safe_next(form_text(form, "next"))
    _ = gettext_for(request)
    signer = request.app.state.web.signer
    hours = service.settings.session_hours
    if service.settings.oidc is not None and token.count(".") == 2 \
            and not token.startswith(PREFIX):
        try:
            actor = _pasted_jwt(service, token)
        except Unauthorized as exc:
            return _login(request, service, status=401, next_path=target, error=_(
                "This OIDC token is not accepted: %(reason)s") % {"reason": exc.reason})
        return _signed_in(request, RedirectResponse(target, status_code=303), service,
                          signer.user_session(actor.id, list(actor.roles), hours))
    known = service.tokens.actor(token) if token else None
    if known is None:
        return _login(request, service, status=401, next_path=target,
                      error=_("This API token is unknown, revoked or expired."))
    return _signed_in(request, RedirectResponse(target, status_code=303), service,
                      signer.session(digest(token), hours))


def _oidc(service: Service) -> OidcSettings:
    oidc = service.settings.oidc
    if oidc is None or not oidc.client_id:
        raise Problem(404, "not_found", "sign-in through an OIDC issuer is not configured")
    return oidc


def _metadata(request: Request, settings: OidcSettings) -> dict[str, Any]:
    web = request.app.state.web
    if web.oidc_metadata is None:
        web.oidc_metadata = oidc_flow.metadata(settings)
    found: dict[str, Any] = web.oidc_metadata
    return found


@router.get("/web/login/oidc")
def oidc_start(request: Request, service: ServiceDep,
               next: Annotated[str | None, Query()] = None) -> Response:
    """Off to the issuer's sign-in page, with a new state, nonce and PKCE challenge."""
    settings = _oidc(service)
    target = safe_next(next)
    _ = gettext_for(request)
    try:
        meta = _metadata(request, settings)
    except Unauthorized as exc:
        return _login(request, service, status=502, next_path=target, error=_(
            "The sign-in service cannot be used now: %(reason)s") % {"reason": exc.reason})
    redirect_uri = settings.redirect_url or str(request.url_for("oidc_callback"))
    flow, address = oidc_flow.start(settings, meta, next_path=target,
                                    redirect_uri=redirect_uri)
    response = RedirectResponse(address, status_code=303)
    set_cookie(response, request, OIDC, flow.cookie(request.app.state.web.signer),
               max_age=oidc_flow.FLOW_SECONDS, path="/web/login/oidc", samesite="lax")
    return response


@router.get("/web/login/oidc/callback", name="oidc_callback")
def oidc_callback(request: Request, service: ServiceDep,
                  code: Annotated[str, Query(max_length=4096)] = "",
                  state: Annotated[str, Query(max_length=512)] = "",
                  error: Annotated[str, Query(max_length=512)] = "",
                  error_description: Annotated[str, Query(max_length=2048)] = "") -> Response:
    """Back from the issuer: the code exchanged, the ID token checked, the session made.

    The answer is a page that moves on to where the user was going: the issuer's redirect
    was a cross-site navigation, and the SameSite=Strict session cookie is only sent on the
    next, same-site one."""
    settings = _oidc(service)
    signer = request.app.state.web.signer
    flow = oidc_flow.Flow.from_cookie(signer, request.cookies.get(OIDC))
    _ = gettext_for(request)
    target = flow.next if flow is not None else "/web/inbox"
    try:
        if error:
            raise Unauthorized(f"{error}: {error_description}" if error_description
                               else error)
        if flow is None:
            raise Unauthorized("the sign-in took too long or was started elsewhere: start "
                               "again")
        actor = oidc_flow.finish(settings, _metadata(request, settings), service.auth, flow,
                                 code=code, state=state)
    except Unauthorized as exc:
        response = _login(request, service, status=401, next_path=safe_next(target), error=_(
            "Signing in through the issuer failed: %(reason)s") % {"reason": exc.reason})
        response.delete_cookie(OIDC, path="/web/login/oidc")
        return response
    target = safe_next(target)
    body = environment(language_of(request)).get_template("signed_in.html").render(
        target=target, lang_attr=language_of(request).replace("_", "-"))
    response = HTMLResponse(body, headers=SECURITY_HEADERS)
    response.delete_cookie(OIDC, path="/web/login/oidc")
    return _signed_in(request, response, service, signer.user_session(
        actor.id, list(actor.roles), service.settings.session_hours))


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
