"""Templates: one Jinja2 environment per language, autoescaped, with formatting filters."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from vip_workflow.adapters.server.web import i18n
from vip_workflow.adapters.server.web.session import CSRF, set_cookie
from vip_workflow.reporting import templating

__all__ = ["SECURITY_HEADERS", "duration", "environment", "page"]

TEMPLATES = Path(__file__).parent / "templates"

#: Sent with every page: scripts only from the service itself (no inline script), no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def duration(seconds: float, gettext: Any) -> str:
    """``seconds`` in days and hours (or hours and minutes under a day), translated."""
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return str(gettext("%(d)d d %(h)d h") % {"d": days, "h": hours})
    return str(gettext("%(h)d h %(m)d min") % {"h": hours, "m": rest // 60})


@lru_cache(maxsize=len(i18n.LANGUAGES))
def environment(lang: str) -> jinja2.Environment:
    """The template environment of ``lang`` (gettext installed, every value escaped): the
    workbench's templates, then the dashboard's (``vip_workflow.reporting``)."""
    env: jinja2.Environment = templating.environment(lang, i18n.translations(lang),
                                                     search=(TEMPLATES,))
    env.globals["languages"] = i18n.LANGUAGES
    return env


def language(request: Request) -> str:
    """The request's language."""
    from vip_workflow.adapters.server.web.session import LANG

    return i18n.choose(request.cookies.get(LANG), request.headers.get("accept-language"))


def gettext_for(request: Request) -> Any:
    """The ``gettext`` of the request's language."""
    return i18n.translations(language(request)).gettext


def page(request: Request, template: str, *, status: int = 200, actor: Any = None,
         **context: Any) -> HTMLResponse:
    """Render ``template`` for the request (its language, its CSRF token) as a page."""
    web = request.app.state.web
    csrf = request.cookies.get(CSRF)
    fresh = not web.signer.csrf_ok(csrf)
    if fresh:
        csrf = web.signer.new_csrf()
    lang = language(request)
    body = environment(lang).get_template(template).render(
        request=request, actor=actor, csrf=csrf, path=request.url.path,
        here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        **context)
    response = HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)
    response.headers["Content-Language"] = "zh-CN" if lang == "zh_CN" else lang
    if fresh:
        set_cookie(response, request, CSRF, str(csrf))
    return response
