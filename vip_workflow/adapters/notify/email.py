"""A notifier that sends each notice as an e-mail over SMTP (STARTTLS, SSL and login options).

Who gets it: ``recipients`` maps user ids (and ``role:<name>``) to addresses, or is a callable
``notice -> addresses``; ``to`` is added to every message. The idempotency key goes in the
``Message-ID`` (``<key@domain>``) and in ``X-VW-Idempotency-Key``.
"""

from __future__ import annotations

import json
import smtplib
import ssl
from collections.abc import Callable, Iterable, Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from vip_workflow.domain.instances import Notice
from vip_workflow.errors import DeliveryError
from vip_workflow.outbox import notice_payload

__all__ = ["EmailNotifier"]

Recipients = Mapping[str, str | Iterable[str]] | Callable[[Notice], Iterable[str]]


class EmailNotifier:
    """Sends notices by SMTP.

    Args:
        host: the SMTP server's name or address.
        port: the SMTP server's port.
        sender: the ``From`` address.
        to: addresses that get every notice.
        recipients: user id / ``role:<name>`` → address(es), or ``notice -> addresses``.
        starttls: upgrade the connection with STARTTLS (port 587).
        ssl: connect with implicit TLS (port 465).
        username: log in as this user (after STARTTLS when a password is set too).
        password: the password for ``username``.
        timeout: seconds for each SMTP operation.
        ssl_context: TLS settings (default: the system's verified context).
        domain: the right side of the ``Message-ID``.
    """

    def __init__(
        self, host: str = "localhost", port: int = 25, *, sender: str,
        to: Iterable[str] = (), recipients: Recipients | None = None, starttls: bool = False,
        ssl: bool = False, username: str | None = None, password: str | None = None,
        timeout: float = 10.0, ssl_context: ssl.SSLContext | None = None,
        domain: str = "vip-workflow",
    ) -> None:
        if starttls and ssl:
            raise ValueError("choose starttls or ssl, not both")
        self.host, self.port = host, port
        self.sender = sender
        self.to = tuple(to)
        self.recipients = recipients
        self.starttls, self.use_ssl = starttls, ssl
        self.username, self.password = username, password
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.domain = domain

    @classmethod
    def from_url(cls, url: str) -> EmailNotifier:
        """From ``smtp://user:pass@host:587?from=a@x&to=b@y,c@z&starttls=true`` (``smtps://``
        for implicit TLS; ``timeout=`` in seconds)."""
        from urllib.parse import parse_qsl, unquote, urlsplit

        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        secure = parts.scheme.lower() == "smtps"
        flag = query.get("starttls", "false").lower() in {"1", "true", "yes"}
        sender = query.get("from")
        if not sender:
            raise ValueError("an smtp:// URL needs from=<address>")
        return cls(
            parts.hostname or "localhost", parts.port or (465 if secure else 25),
            sender=sender, to=[a for a in query.get("to", "").split(",") if a],
            starttls=flag, ssl=secure,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            timeout=float(query.get("timeout", 10.0)),
        )

    def __repr__(self) -> str:
        return f"EmailNotifier({self.host!r}, {self.port})"

    def addresses(self, notice: Notice) -> list[str]:
        """Where the notice goes: ``to`` plus what ``recipients`` gives for it."""
        found: list[str] = list(self.to)
        if callable(self.recipients):
            found += list(self.recipients(notice))
        elif self.recipients:
            for name in [*notice.users, *(f"role:{r}" for r in notice.roles)]:
                value = self.recipients.get(name)
                if value:
                    found += [value] if isinstance(value, str) else list(value)
        return list(dict.fromkeys(found))

    def message(self, notice: Notice, key: str | None = None) -> EmailMessage:
        """The e-mail for ``notice``."""
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.addresses(notice))
        msg["Subject"] = f"[vip_workflow] {notice.kind}: {notice.process} {notice.instance_id}"
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = f"<{key}@{self.domain}>" if key else make_msgid(domain=self.domain)
        msg["X-VW-Kind"] = notice.kind
        if key:
            msg["X-VW-Idempotency-Key"] = key
        payload = notice_payload(notice, key)
        lines = [f"{notice.kind} — {notice.process} {notice.instance_id}, now in {notice.state}",
                 "", json.dumps(payload, ensure_ascii=False, indent=2, default=str)]
        msg.set_content("\n".join(lines))
        return msg

    def _connect(self) -> smtplib.SMTP:
        context = self.ssl_context or ssl.create_default_context()
        if self.use_ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                                  context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        smtp.ehlo()
        if self.starttls:
            smtp.starttls(context=context)
            smtp.ehlo()
        if self.username is not None:
            smtp.login(self.username, self.password or "")
        return smtp

    def send(self, notice: Notice, *, key: str | None = None) -> None:
        """Send the notice (``DeliveryError``: retryable for 4xx and connection problems)."""
        msg = self.message(notice, key)
        if not msg["To"]:
            raise DeliveryError(f"no e-mail address for {notice.kind} of {notice.instance_id}",
                                retryable=False)
        try:
            smtp = self._connect()
            try:
                smtp.send_message(msg)
            finally:
                try:
                    smtp.quit()
                except smtplib.SMTPException:
                    smtp.close()
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP {self.host}:{self.port} answered {exc.smtp_code}: "
                                f"{exc.smtp_error!r}", retryable=exc.smtp_code < 500) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"SMTP {self.host}:{self.port} refused the recipients: "
                                f"{exc.recipients}", retryable=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}",
                                retryable=True) from exc
