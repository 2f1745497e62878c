"""Notifiers that publish each notice to a message broker: RabbitMQ (AMQP 0-9-1, pika) and
NATS JetStream (nats-py).

Both publish the JSON body of ``vip_workflow.outbox.notice_payload`` and wait for the broker's
confirmation, so a return means the broker has the message. The idempotency key travels as the
AMQP ``message_id`` and as the NATS ``Nats-Msg-Id`` header, which JetStream itself uses to drop
duplicates within the stream's duplicate window.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Coroutine
from typing import Any

from vip_workflow.domain.instances import Notice
from vip_workflow.errors import DeliveryError
from vip_workflow.outbox import notice_payload

__all__ = ["AMQPNotifier", "NATSNotifier"]

_log = logging.getLogger(__name__)


async def _quiet_nats_error(exc: Exception) -> None:
    # nats-py logs every failed attempt with a traceback; send() raises DeliveryError instead.
    _log.debug("NATS connection error: %s: %s", type(exc).__name__, exc)


def _body(notice: Notice, key: str | None) -> bytes:
    return json.dumps(notice_payload(notice, key), ensure_ascii=False, sort_keys=True,
                      default=str).encode()


class AMQPNotifier:
    """Publishes notices to a RabbitMQ exchange with publisher confirms (pika).

    Args:
        url: an AMQP URL, e.g. ``amqp://guest:guest@localhost:5672/%2F``.
        exchange: the exchange (declared durable, of ``exchange_type``, when ``declare``).
        routing_key: a template; ``{kind}``, ``{process}`` and ``{state}`` are filled in.
        queue: a durable queue to declare and bind with ``bind_key`` (optional).
        mandatory: an unroutable message is a (retryable) delivery failure.
        timeout: seconds to connect.
    """

    def __init__(
        self, url: str = "amqp://guest:guest@localhost:5672/%2F", *,
        exchange: str = "vip_workflow", exchange_type: str = "topic",
        routing_key: str = "notice.{kind}", queue: str | None = None,
        bind_key: str = "notice.#", declare: bool = True, mandatory: bool = True,
        timeout: float = 5.0,
    ) -> None:
        import pika

        self._pika = pika
        self.url = url
        self.exchange, self.exchange_type = exchange, exchange_type
        self.routing_key = routing_key
        self.queue, self.bind_key = queue, bind_key
        self.declare, self.mandatory = declare, mandatory
        self.timeout = timeout
        self._connection: Any = None
        self._channel: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AMQPNotifier(exchange={self.exchange!r})"

    def _open(self) -> Any:
        if self._channel is not None and self._channel.is_open:
            return self._channel
        params = self._pika.URLParameters(self.url)
        params.socket_timeout = self.timeout
        params.blocked_connection_timeout = self.timeout
        self._connection = self._pika.BlockingConnection(params)
        channel = self._connection.channel()
        channel.confirm_delivery()
        if self.declare:
            channel.exchange_declare(self.exchange, self.exchange_type, durable=True)
            if self.queue:
                channel.queue_declare(self.queue, durable=True)
                channel.queue_bind(self.queue, self.exchange, self.bind_key)
        self._channel = channel
        return channel

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._connection is not None and self._connection.is_open:
                with contextlib.suppress(Exception):
                    self._connection.close()
            self._connection = self._channel = None

    def send(self, notice: Notice, *, key: str | None = None) -> None:
        """Publish the notice persistently and wait for the broker's confirm."""
        pika = self._pika
        properties = pika.BasicProperties(
            content_type="application/json", delivery_mode=2, message_id=key,
            type=notice.kind, headers={"idempotency-key": key} if key else None)
        routing = self.routing_key.format(kind=notice.kind, process=notice.process,
                                          state=notice.state)
        with self._lock:
            try:
                channel = self._open()
                channel.basic_publish(self.exchange, routing, _body(notice, key), properties,
                                      mandatory=self.mandatory)
            except pika.exceptions.UnroutableError as exc:
                raise DeliveryError(f"AMQP: no queue takes {routing!r} on {self.exchange!r}",
                                    retryable=True) from exc
            except (pika.exceptions.AMQPError, OSError) as exc:
                self._connection = self._channel = None
                raise DeliveryError(f"AMQP {self.exchange}: {type(exc).__name__}: {exc}",
                                    retryable=True) from exc


class NATSNotifier:
    """Publishes notices to NATS JetStream and waits for the stream's acknowledgement.

    Args:
        servers: NATS server URL(s).
        subject: a template; ``{kind}``, ``{process}`` and ``{state}`` are filled in.
        stream: the JetStream stream; created over ``stream_subjects`` if missing
            (``create_stream``).
        timeout: seconds to connect and to wait for the acknowledgement.

    The asyncio client runs on a private event loop in a background thread, so ``send`` can
    be called from plain code and from inside a running event loop alike.
    """

    def __init__(
        self, servers: str | list[str] = "nats://localhost:4222", *,
        subject: str = "vip_workflow.notices.{kind}", stream: str = "VIP_WORKFLOW",
        stream_subjects: tuple[str, ...] = ("vip_workflow.notices.>",),
        create_stream: bool = True, timeout: float = 5.0,
    ) -> None:
        import nats  # noqa: F401 - fail early when the extra is missing

        self.servers = [servers] if isinstance(servers, str) else list(servers)
        self.subject, self.stream = subject, stream
        self.stream_subjects = list(stream_subjects)
        self.create_stream = create_stream
        self.timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._nc: Any = None
        self._js: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"NATSNotifier(stream={self.stream!r})"

    def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                            name="vw-nats")
            self._thread.start()
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(self.timeout * 3)
        except BaseException:
            future.cancel()  # never leave a coroutine retrying on the background loop
            raise

    async def _connect(self) -> Any:
        import nats

        if self._nc is not None and self._nc.is_connected:
            return self._js
        self._nc = await nats.connect(servers=self.servers, connect_timeout=self.timeout,
                                      allow_reconnect=False, max_reconnect_attempts=1,
                                      reconnect_time_wait=0, error_cb=_quiet_nats_error)
        self._js = self._nc.jetstream(timeout=self.timeout)
        if self.create_stream:
            from nats.js.errors import NotFoundError

            try:
                await self._js.stream_info(self.stream)
            except NotFoundError:
                await self._js.add_stream(name=self.stream, subjects=self.stream_subjects)
        return self._js

    async def _publish(self, subject: str, body: bytes, key: str | None) -> None:
        js = await self._connect()
        headers = {"Nats-Msg-Id": key} if key else None
        await js.publish(subject, body, timeout=self.timeout, stream=self.stream,
                         headers=headers)

    def send(self, notice: Notice, *, key: str | None = None) -> None:
        """Publish the notice and wait for JetStream's acknowledgement."""
        subject = self.subject.format(kind=notice.kind, process=notice.process,
                                      state=notice.state)
        with self._lock:
            try:
                self._run(self._publish(subject, _body(notice, key), key))
            except Exception as exc:
                self._drop()
                raise DeliveryError(f"NATS {subject}: {type(exc).__name__}: {exc}",
                                    retryable=True) from exc

    def _drop(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and self._loop is not None:
            with contextlib.suppress(Exception):
                self._run(nc.close())

    def close(self) -> None:
        """Close the connection and stop the background loop."""
        with self._lock:
            self._drop()
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
                if self._thread is not None:
                    self._thread.join(2)
                self._loop.close()
                self._loop = self._thread = None
