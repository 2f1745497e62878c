"""What the workbench's routes share: the signed-in actor, the CSRF check, HTML errors."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote

import attrs
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from vip_workflow.adapters.server.deps import Service
from vip_workflow.adapters.server.problems import Problem, status_of
from vip_workflow.adapters.server.web.impact import Drafts
from vip_workflow.adapters.server.web.render import gettext_for, page
from vip_workflow.adapters.server.web.session import CSRF, SESSION, Signer
from vip_workflow.domain.instances import Actor
from vip_workflow.errors import VipWorkflowError

__all__ = ["CheckedForm", "HtmlRoute", "Web", "WebActor", "safe_next"]


@attrs.define
class Web:
    """The workbench's part of an app: its cookie signer, uploaded rule versions, the OIDC
    issuer's metadata once read."""

    signer: Signer
    drafts: Drafts = attrs.field(factory=Drafts)
    oidc_metadata: dict[str, Any] | None = None


class SignInNeeded(Exception):
    """No live session: the browser goes to the sign-in page."""


class CsrfRefused(Exception):
    """A POST without the form's CSRF token, or with a wrong one (403)."""


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a workbench path of this site only."""
    if not target or not target.startswith("/web/") or target.startswith("//") \
            or "\\" in target:
        return "/web/inbox"
    return target


def _actor(request: Request) -> Actor:
    service: Service = request.app.state.service
    web: Web = request.app.state.web
    value = request.cookies.get(SESSION)
    digest = web.signer.session_digest(value)
    actor = None if digest is None else service.tokens.actor_of_digest(digest)
    user = web.signer.session_user(value) if service.settings.oidc is not None else None
    if user is not None:  # signed in through the OIDC issuer
        actor = Actor(user[0], roles=user[1])
    if actor is None:
        raise SignInNeeded
    request.state.actor = actor
    return actor


WebActor = Annotated[Actor, Depends(_actor)]


async def _checked_form(request: Request) -> FormData:
    form = await request.form()
    web: Web = request.app.state.web
    sent = form.get("csrf")
    cookie = request.cookies.get(CSRF)
    if not isinstance(sent, str) or cookie is None or sent != cookie \
            or not web.signer.csrf_ok(sent):
        raise CsrfRefused
    return form


CheckedForm = Annotated[FormData, Depends(_checked_form)]


def _error(request: Request, status: int, message: str) -> Response:
    _ = gettext_for(request)
    titles = {401: _("Please sign in"), 403: _("Not allowed"), 404: _("Not found"),
              409: _("Conflict"), 412: _("Changed meanwhile")}
    return page(request, "error.html", status=status, actor=getattr(request.state, "actor",
                                                                      None),
                title=titles.get(status, _("Something went wrong")), message=message)


class HtmlRoute(APIRoute):
    """A route whose errors are pages: no session → the sign-in page; a refused CSRF token →
    403; the library's errors → a page with the error's status and message."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInNeeded:
                target = request.url.path + (f"?{request.url.query}" if request.url.query
                                             else "")
                if request.method != "GET":  # back to the form's page is unknown: the inbox
                    target = "/web/inbox"
                return RedirectResponse(f"/web/login?next={quote(target)}", status_code=303)
            except CsrfRefused:
                _ = gettext_for(request)
                return _error(request, 403, _("The form is missing its security token or it "
                                              "has expired: reload the page and try again."))
            except Problem as exc:
                return _error(request, exc.status, exc.detail)
            except RequestValidationError as exc:
                where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                  for e in exc.errors())
                return _error(request, 422, where)
            except VipWorkflowError as exc:
                return _error(request, status_of(exc), str(exc))

        return handle


def form_text(form: FormData, name: str) -> str:
    """A text field of a form ('' if absent)."""
    value: Any = form.get(name)
    return value.strip() if isinstance(value, str) else ""
