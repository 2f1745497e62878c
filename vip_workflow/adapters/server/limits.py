"""A cap on request bodies: a larger one gets 413 before it is read into memory."""

from __future__ import annotations

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vip_workflow.adapters.server.problems import problem_response

__all__ = ["BodyLimit"]


class _TooLarge(HTTPException):
    """Raised while the body streams in; the app's handlers make it a 413 problem."""


class BodyLimit:
    """Pure ASGI middleware: refuse a body over ``limit`` bytes (by its Content-Length, or
    while it streams in when there is none) with a 413 problem document."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or {}).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge(413, self._detail())
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    def _detail(self) -> str:
        return (f"the request body is larger than the service accepts ({self.limit:,} bytes; "
                "server.max_body_mb in vip.yaml)")

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(413, "payload_too_large", self._detail(),
                                    instance=scope.get("path", ""),
                                    headers={"Connection": "close"})
        await response(scope, receive, send)
