"""Every error as an RFC 9457 ``application/problem+json`` document, never a stack trace.

The library's error tree maps to a status by each class's stable ``code`` (the nearest
class of the error's MRO found in ``STATUS``); the document carries the code, the message,
and for rule files, contexts and request validation, every located problem in ``errors``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from vip_workflow.adapters.server.auth import Unauthorized
from vip_workflow.errors import VipWorkflowError

__all__ = ["MEDIA_TYPE", "STATUS", "Problem", "install", "problem_response"]

MEDIA_TYPE = "application/problem+json"
_log = logging.getLogger("vip_workflow.server")

#: error code -> HTTP status (the first code found along the error class's MRO wins)
STATUS: dict[str, int] = {
    "permission_denied": 403,
    "not_found": 404,
    "unknown_preset": 404,
    "concurrent_update": 409,
    "conflict": 409,
    "already_claimed": 409,
    "request_id_conflict": 409,
    "transition_not_allowed": 409,
    "approval_error": 409,
    "process_error": 409,
    "rule_file_error": 422,
    "process_definition_error": 422,
    "invalid_context": 422,
    "evaluation_error": 422,
    "portfolio_required": 422,
    "data_error": 400,
    "config_error": 400,
    "missing_extra": 501,
    "unsupported_expression": 501,
    "storage_unavailable": 503,
    "storage_error": 500,
    "notification_error": 502,
    "vip_workflow_error": 500,
}


class Problem(Exception):
    """An error the service itself raises (bad header, precondition, payload too large)."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        self.status, self.code, self.detail, self.extra = status, code, detail, extra
        super().__init__(detail)


def problem_response(status: int, code: str, detail: str, *, instance: str = "",
                     headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    """A problem document response."""
    from http import HTTPStatus

    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body = {"type": f"urn:vip-workflow:problem:{code}", "title": title, "status": status,
            "detail": detail, "code": code, **extra}
    if instance:
        body["instance"] = instance
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def status_of(exc: VipWorkflowError) -> int:
    """The HTTP status of a library error."""
    for cls in type(exc).__mro__:
        code = cls.__dict__.get("code")
        if isinstance(code, str) and code in STATUS:
            return STATUS[code]
    return 500


def _located(exc: Any) -> list[dict[str, Any]]:
    """Every located problem of a rule-file or definition error."""
    return [{"location": p.location, "path": p.path, "line": p.line, "column": p.column,
             "field": p.field, "reason": p.reason} for p in getattr(exc, "problems", ())]


def _library(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VipWorkflowError)
    status = status_of(exc)
    extra: dict[str, Any] = {}
    if hasattr(exc, "reason") and hasattr(exc, "problems") and hasattr(exc, "location"):
        extra["errors"] = _located(exc)
    elif exc.code == "invalid_context":
        extra["errors"] = [{"field": f, "reason": r} for f, r in getattr(exc, "problems", [])]
    if status >= 500:
        _log.error("%s %s failed: %s: %s", request.method, request.url.path,
                   type(exc).__name__, exc)
    return problem_response(status, exc.code, str(exc), instance=request.url.path, **extra)


def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"location": list(e.get("loc", ())), "reason": e.get("msg", ""),
               "type": e.get("type", "")} for e in exc.errors()]
    malformed = any(e["type"] in ("json_invalid", "json_type") for e in errors)
    if malformed:
        return problem_response(400, "malformed_json", "the body is not valid JSON",
                                instance=request.url.path, errors=errors)
    return problem_response(422, "invalid_request", "the request does not match the API: "
                            + "; ".join(f"{'.'.join(map(str, e['location']))}: {e['reason']}"
                                        for e in errors),
                            instance=request.url.path, errors=errors)


def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "no_such_route", 405: "method_not_allowed", 413: "payload_too_large"}
    return problem_response(exc.status_code, codes.get(exc.status_code, "http_error"),
                            str(exc.detail), instance=request.url.path,
                            headers=dict(exc.headers or {}))


def _unauthorized(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Unauthorized)
    return problem_response(401, "unauthorized", exc.reason, instance=request.url.path,
                            headers={"WWW-Authenticate": 'Bearer realm="vip-workflow"'})


def _problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc.status, exc.code, exc.detail, instance=request.url.path,
                            **exc.extra)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    _log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__,
               exc_info=exc)
    return problem_response(500, "internal_error", "the service failed on this request; "
                            "the error is in the server log", instance=request.url.path)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem document."""
    app.add_exception_handler(VipWorkflowError, _library)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Unauthorized, _unauthorized)
    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(Exception, _unexpected)
