"""``Server-Timing: app;dur=<ms>`` on every response: how long the service worked on it."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ServerTiming"]


class ServerTiming:
    """Pure ASGI middleware: the milliseconds from the request reaching the app to its
    response starting (routing, authentication, the handler, rendering; not the network nor
    uvicorn's parsing), as a ``Server-Timing`` header a browser's developer tools show."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = f"app;dur={(time.perf_counter() - began) * 1000:.1f}".encode("ascii")
                message = {**message, "headers": [*message.get("headers", ()),
                                                  (b"server-timing", took)]}
            await send(message)

        await self.app(scope, receive, timed)
