"""The notifier contract against real receivers: an HTTP server, an SMTP server (aiosmtpd),
RabbitMQ and NATS JetStream on localhost, and apprise's generic JSON webhook for chat."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from tests.adapters.conftest import need
from tests.adapters.receivers import HTTPReceiver, SMTPReceiver, free_port
from vip_workflow.adapters.notify.broker import AMQPNotifier, NATSNotifier
from vip_workflow.adapters.notify.chat import ChatNotifier
from vip_workflow.adapters.notify.email import EmailNotifier
from vip_workflow.adapters.notify.webhook import WebhookNotifier, verify_signature
from vip_workflow.domain.instances import Notice
from vip_workflow.errors import DeliveryError
from vip_workflow.outbox import send_with_key
from vip_workflow.testing.contract import T0, NotifierContract

NOTICE = Notice("approval_requested", "i-7", "sales", "review", T0, ("department_director",),
                ("dd1",), {"level": "director", "amount": 1.5})


class KeyedNotifierContract(NotifierContract):
    """What our notifiers add to the shared contract: keys, payloads, failures."""

    def test_the_idempotency_key_and_payload_reach_the_receiver(self, notifier: Any) -> None:
        """The key given to send() arrives with the notice's fields."""
        send_with_key(notifier, NOTICE, "key-1")
        (got,) = self.received(notifier)
        assert got.key == "key-1"
        assert (got.kind, got.instance_id, got.state) == ("approval_requested", "i-7", "review")

    def test_a_receiver_that_cannot_be_reached_raises_delivery_error(self, broken: Any) -> None:
        """No receiver: DeliveryError, marked retryable."""
        with pytest.raises(DeliveryError) as info:
            broken.send(NOTICE, key="k")
        assert info.value.retryable


# ----------------------------------------------------------------- webhook


class TestWebhookNotifier(KeyedNotifierContract):
    """WebhookNotifier POSTs signed JSON to a local HTTP server."""

    @pytest.fixture
    def receiver(self) -> Iterator[HTTPReceiver]:
        receiver = HTTPReceiver().start()
        yield receiver
        receiver.stop()

    @pytest.fixture
    def notifier(self, receiver: HTTPReceiver) -> Iterator[WebhookNotifier]:
        notifier = WebhookNotifier(receiver.url, secret="s3cret", timeout=2)
        notifier.receiver = receiver  # type: ignore[attr-defined]
        yield notifier
        notifier.close()

    @pytest.fixture
    def broken(self) -> Iterator[WebhookNotifier]:
        notifier = WebhookNotifier(f"http://127.0.0.1:{free_port()}/hook", timeout=1)
        yield notifier
        notifier.close()

    def received(self, notifier: Any) -> list[Any]:
        return notifier.receiver.payloads()

    def test_the_body_is_signed_with_hmac_sha256(self, notifier, receiver) -> None:
        """The signature header verifies with the shared secret, and fails with another."""
        notifier.send(NOTICE, key="k1")
        (request,) = receiver.requests
        headers = {k.lower(): v for k, v in request.headers.items()}
        signature, stamp = headers["x-vw-signature"], headers["x-vw-timestamp"]
        assert signature.startswith("sha256=")
        assert verify_signature("s3cret", request.body, signature, stamp)
        assert not verify_signature("other", request.body, signature, stamp)
        assert not verify_signature("s3cret", request.body + b" ", signature, stamp)
        assert headers["idempotency-key"] == "k1"
        assert json.loads(request.body)["data"] == {"level": "director", "amount": 1.5}

    @pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (429, True),
                                                         (400, False), (410, False)])
    def test_an_error_status_raises_delivery_error(self, notifier, receiver, status,
                                                   retryable) -> None:
        """5xx and 429 may be retried; other 4xx are refused for good."""
        receiver.status = status
        with pytest.raises(DeliveryError) as info:
            notifier.send(NOTICE, key="k")
        assert info.value.retryable is retryable

    def test_a_slow_receiver_times_out(self, receiver) -> None:
        """The timeout bounds a send; the failure is retryable."""
        receiver.delay = 1.5
        notifier = WebhookNotifier(receiver.url, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(DeliveryError) as info:
            notifier.send(NOTICE, key="k")
        assert info.value.retryable and time.monotonic() - started < 1.4


# ----------------------------------------------------------------- e-mail


class TestEmailNotifier(KeyedNotifierContract):
    """EmailNotifier sends to an aiosmtpd server."""

    @pytest.fixture
    def receiver(self) -> Iterator[SMTPReceiver]:
        receiver = SMTPReceiver().start()
        yield receiver
        receiver.stop()

    @pytest.fixture
    def notifier(self, receiver: SMTPReceiver) -> EmailNotifier:
        notifier = EmailNotifier("127.0.0.1", receiver.port, sender="vip@example.com",
                                 to=["desk@example.com"],
                                 recipients={"dd1": "dd1@example.com",
                                             "role:department_director": ["dept@example.com"]})
        notifier.receiver = receiver  # type: ignore[attr-defined]
        return notifier

    @pytest.fixture
    def broken(self) -> EmailNotifier:
        return EmailNotifier("127.0.0.1", free_port(), sender="vip@example.com",
                             to=["a@example.com"], timeout=2)

    def received(self, notifier: Any) -> list[Any]:
        return [SimpleNamespace(**m.payload) for m in notifier.receiver.messages]

    def test_recipients_come_from_users_roles_and_to(self, notifier, receiver) -> None:
        """Users and roles map to addresses; the key is the Message-ID."""
        notifier.send(NOTICE, key="abc")
        (got,) = receiver.messages
        assert sorted(got.rcpt) == ["dd1@example.com", "dept@example.com", "desk@example.com"]
        assert got.message["Message-ID"] == "<abc@vip-workflow>"
        assert "approval_requested" in got.message["Subject"]

    def test_login_and_starttls(self, tmp_path) -> None:
        """With STARTTLS and a login, the message arrives over TLS as the authenticated user."""
        import ssl
        import subprocess

        from aiosmtpd.smtp import AuthResult

        cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"],
                       check=True, capture_output=True)
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(cert, key)
        logins = []

        def authenticate(server, session, envelope, mechanism, data):
            logins.append((data.login, session.ssl is not None))
            return AuthResult(success=data.login == b"bot" and data.password == b"pw")

        receiver = SMTPReceiver(tls_context=server_tls, require_starttls=True,
                                authenticator=authenticate, auth_require_tls=True).start()
        try:
            client_tls = ssl.create_default_context(cafile=str(cert))
            client_tls.check_hostname = False
            notifier = EmailNotifier("127.0.0.1", receiver.port, sender="vip@example.com",
                                     to=["x@example.com"], starttls=True, username="bot",
                                     password="pw", ssl_context=client_tls)
            notifier.send(NOTICE, key="tls-1")
            assert len(receiver.messages) == 1
            assert logins == [(b"bot", True)]
        finally:
            receiver.stop()

    def test_from_url(self) -> None:
        """smtp:// URLs carry host, port, login, sender, recipients and STARTTLS."""
        n = EmailNotifier.from_url("smtp://bot:p%40ss@mail.example.com:587?from=v@x.cn"
                                   "&to=a@x.cn,b@x.cn&starttls=true")
        assert (n.host, n.port, n.username, n.password) == ("mail.example.com", 587, "bot",
                                                           "p@ss")
        assert n.starttls and n.to == ("a@x.cn", "b@x.cn") and n.sender == "v@x.cn"


# ----------------------------------------------------------------- RabbitMQ


class TestAMQPNotifier(KeyedNotifierContract):
    """AMQPNotifier publishes with confirms to the local RabbitMQ."""

    @pytest.fixture
    def notifier(self) -> Iterator[AMQPNotifier]:
        need("127.0.0.1", 5672, "RabbitMQ")
        name = f"vw-test-{uuid.uuid4().hex[:10]}"
        notifier = AMQPNotifier("amqp://guest:guest@127.0.0.1:5672/%2F", exchange=name,
                                queue=name)
        yield notifier
        import pika

        notifier.close()
        connection = pika.BlockingConnection(pika.URLParameters(notifier.url))
        channel = connection.channel()
        channel.queue_delete(name)
        channel.exchange_delete(name)
        connection.close()

    @pytest.fixture
    def broken(self) -> Iterator[AMQPNotifier]:
        notifier = AMQPNotifier(f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F", timeout=1)
        yield notifier
        notifier.close()

    def received(self, notifier: Any) -> list[Any]:
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(notifier.url))
        channel = connection.channel()
        got = []
        while True:
            method, properties, body = channel.basic_get(notifier.queue, auto_ack=True)
            if method is None:
                break
            payload = json.loads(body)
            assert properties.message_id == payload["key"]
            got.append(SimpleNamespace(**payload))
        connection.close()
        return got

    def test_an_unroutable_notice_is_a_retryable_failure(self) -> None:
        """With no queue bound, the broker returns the message: DeliveryError."""
        need("127.0.0.1", 5672, "RabbitMQ")
        name = f"vw-test-{uuid.uuid4().hex[:10]}"
        notifier = AMQPNotifier("amqp://guest:guest@127.0.0.1:5672/%2F", exchange=name)
        try:
            with pytest.raises(DeliveryError):
                notifier.send(NOTICE, key="k")
        finally:
            notifier._open().exchange_delete(name)
            notifier.close()


# ----------------------------------------------------------------- NATS JetStream


class TestNATSNotifier(KeyedNotifierContract):
    """NATSNotifier publishes to a JetStream stream and waits for its acknowledgement."""

    @pytest.fixture
    def notifier(self) -> Iterator[NATSNotifier]:
        need("127.0.0.1", 4222, "NATS")
        tag = uuid.uuid4().hex[:10]
        notifier = NATSNotifier("nats://127.0.0.1:4222", stream=f"VWTEST_{tag}",
                                subject=f"vwtest.{tag}.{{kind}}",
                                stream_subjects=(f"vwtest.{tag}.>",))
        yield notifier
        notifier._run(notifier._js.delete_stream(notifier.stream)) if notifier._js else None
        notifier.close()

    @pytest.fixture
    def broken(self) -> Iterator[NATSNotifier]:
        notifier = NATSNotifier(f"nats://127.0.0.1:{free_port()}", timeout=1)
        yield notifier
        notifier.close()

    def test_an_unreachable_server_leaves_no_retry_loop_behind(self, broken) -> None:
        """After a failed send, the background loop runs no task that keeps reconnecting."""
        with pytest.raises(DeliveryError):
            broken.send(NOTICE, key="k")

        async def pending() -> int:
            return len(asyncio.all_tasks()) - 1  # this coroutine's own task

        assert broken._run(pending()) == 0

    def received(self, notifier: Any) -> list[Any]:
        async def fetch() -> list[Any]:
            js = await notifier._connect()
            info = await js.stream_info(notifier.stream)
            got = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                message = await js.get_msg(notifier.stream, seq)
                got.append(SimpleNamespace(**json.loads(message.data)))
            return got

        return notifier._run(fetch())

    def test_jetstream_drops_a_repeated_key(self, notifier) -> None:
        """The same key sent twice is stored once (Nats-Msg-Id deduplication)."""
        notifier.send(NOTICE, key="same")
        notifier.send(NOTICE, key="same")
        notifier.send(NOTICE, key="other")
        assert [n.key for n in self.received(notifier)] == ["same", "other"]


# ----------------------------------------------------------------- chat (apprise)


class TestChatNotifier(KeyedNotifierContract):
    """ChatNotifier goes through apprise; its generic json:// service posts to a local server."""

    @pytest.fixture
    def receiver(self) -> Iterator[HTTPReceiver]:
        receiver = HTTPReceiver().start()
        yield receiver
        receiver.stop()

    @pytest.fixture
    def notifier(self, receiver: HTTPReceiver) -> ChatNotifier:
        notifier = ChatNotifier(f"json://127.0.0.1:{receiver.port}/hook",
                                text=lambda n: (n.kind, f"{n.instance_id} {n.state}"))
        notifier.receiver = receiver  # type: ignore[attr-defined]
        return notifier

    @pytest.fixture
    def broken(self) -> ChatNotifier:
        return ChatNotifier(f"json://127.0.0.1:{free_port()}/hook")

    def received(self, notifier: Any) -> list[Any]:
        got = []
        for payload in notifier.receiver.payloads():
            instance_id, state, *rest = payload.message.split()
            key = rest[-1] if rest else None
            got.append(SimpleNamespace(kind=payload.title, instance_id=instance_id,
                                       state=state, key=key))
        return got

    @pytest.mark.parametrize("factory", ["wecom", "dingtalk", "feishu"])
    def test_enterprise_chat_urls_are_understood(self, factory) -> None:
        """WeCom, DingTalk and Feishu robots are apprise URLs (nothing is sent here)."""
        notifier = getattr(ChatNotifier, factory)("abcdef0123456789")
        assert len(notifier._apprise) == 1

    def test_slack_webhooks_are_understood(self) -> None:
        """A Slack incoming-webhook URL is accepted as is."""
        notifier = ChatNotifier.slack("https://hooks.slack.com/services/T000/B000/XXXXXXXX")
        assert len(notifier._apprise) == 1

    def test_an_unknown_url_is_refused(self) -> None:
        """A URL apprise does not know raises ValueError at construction."""
        with pytest.raises(ValueError):
            ChatNotifier("nosuchservice://x")
