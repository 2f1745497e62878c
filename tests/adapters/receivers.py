"""Real receivers the notifier tests send to: an HTTP server thread and an aiosmtpd server.

Both keep what arrived, can drop duplicates by idempotency key (as a careful receiver would),
and can be told to fail or be stopped and started again on the same port.
"""

from __future__ import annotations

import json
import socket
import threading
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HTTPReceiver:
    """A local HTTP server recording POSTs; ``status`` is the answer to give."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.requests: list[SimpleNamespace] = []
        self.keys: set[str] = set()
        self.duplicates = 0
        self.status = 200
        self.delay = 0.0
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> HTTPReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.status
                if status < 300:  # kept first, answered late: a client timeout may follow
                    receiver._record(dict(self.headers), body)
                if receiver.delay:
                    threading.Event().wait(receiver.delay)
                try:
                    self.send_response(status)
                    self.end_headers()
                    self.wfile.write(b"ok" if status < 300 else b"no")
                except OSError:  # the client gave up (a timeout test)
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _record(self, headers: dict[str, str], body: bytes) -> None:
        key = headers.get("Idempotency-Key")
        with self._lock:
            if key and key in self.keys:
                self.duplicates += 1
                return
            if key:
                self.keys.add(key)
            try:
                payload = json.loads(body)
            except ValueError:
                payload = {}
            self.requests.append(SimpleNamespace(headers=headers, body=body, json=payload))

    def payloads(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(**r.json) for r in self.requests]


class SMTPReceiver:
    """An aiosmtpd server keeping each message (deduplicated by ``X-VW-Idempotency-Key``)."""

    def __init__(self, **controller_options: Any) -> None:
        self.port = free_port()
        self.messages: list[Any] = []
        self.keys: set[str] = set()
        self.duplicates = 0
        self.options = controller_options
        self._controller: Any = None

    def start(self) -> SMTPReceiver:
        from aiosmtpd.controller import Controller

        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                message = message_from_bytes(envelope.content)
                key = message["X-VW-Idempotency-Key"]
                if key and key in receiver.keys:
                    receiver.duplicates += 1
                else:
                    receiver.keys.add(key)
                    text = message.get_payload(decode=True).decode()
                    receiver.messages.append(SimpleNamespace(
                        message=message, rcpt=list(envelope.rcpt_tos),
                        payload=json.loads(text[text.index("{"):])))
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                      **self.options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
