"""Templates: one Jinja2 environment per language, autoescaped, with formatting filters."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from babel.numbers import format_decimal, format_percent
from starlette.requests import Request
from starlette.responses import HTMLResponse

from vip_workflow.adapters.server.web import i18n
from vip_workflow.adapters.server.web.session import CSRF, set_cookie

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


def _number(value: Any, lang: str, digits: int = 2) -> str:
    if value is None or value == "":
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number.is_integer() and abs(number) < 1e15:
        return format_decimal(int(number), locale=lang)
    return format_decimal(round(number, digits), format=f"#,##0.{'0' * digits}", locale=lang)


def _percent(value: Any, lang: str, digits: int = 1) -> str:
    if value is None or value == "":
        return ""
    return format_percent(float(value), format=f"#,##0.{'0' * digits}%", locale=lang)


def _when(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return str(value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"))


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
    """The template environment of ``lang`` (gettext installed, every value escaped)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined,
                             extensions=["jinja2.ext.i18n"], trim_blocks=True,
                             lstrip_blocks=True)
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["number"] = lambda v, digits=2: _number(v, lang, digits)
    env.filters["percent"] = lambda v, digits=1: _percent(v, lang, digits)
    env.filters["when"] = _when
    env.globals["lang"] = lang
    env.globals["html_lang"] = "zh-CN" if lang == "zh_CN" else lang
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
