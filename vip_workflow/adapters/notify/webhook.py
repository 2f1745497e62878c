"""A notifier that POSTs each notice as JSON to a URL (httpx), signed with HMAC-SHA256.

Headers: ``Idempotency-Key`` (the notice's key: drop duplicates by it), ``X-VW-Timestamp``
(Unix seconds) and, with a ``secret``, ``X-VW-Signature: sha256=<hex>`` — the HMAC-SHA256 of
``"<timestamp>." + body``. Receivers check it with ``verify_signature``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from vip_workflow.domain.instances import Notice
from vip_workflow.errors import DeliveryError
from vip_workflow.outbox import notice_payload

__all__ = ["WebhookNotifier", "sign", "verify_signature"]

_RETRYABLE = {408, 425, 429}


def sign(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The signature header value: ``sha256=`` and the HMAC of ``timestamp.body``."""
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str | bytes, body: bytes, signature: str, timestamp: str, *,
                     tolerance: float | None = 300.0) -> bool:
    """Whether ``signature`` signs ``body`` at ``timestamp`` (not older than ``tolerance`` s)."""
    if tolerance is not None:
        try:
            if abs(time.time() - float(timestamp)) > tolerance:
                return False
        except ValueError:
            return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookNotifier:
    """POSTs notices to ``url``.

    Args:
        url: where to POST.
        secret: HMAC key of the signature header (none: unsigned).
        timeout: seconds for connect, read and write.
        headers: extra headers (e.g. an ``Authorization``).
        signature_header: the signature header's name.
        verify: TLS verification (``True``, ``False`` or a CA bundle path).
    """

    def __init__(self, url: str, *, secret: str | bytes | None = None, timeout: float = 5.0,
                 headers: Mapping[str, str] | None = None,
                 signature_header: str = "X-VW-Signature", verify: Any = True) -> None:
        import httpx

        self.url = url
        self.secret = secret
        self.signature_header = signature_header
        self._httpx = httpx
        self._client = httpx.Client(timeout=timeout, headers=dict(headers or {}), verify=verify)

    def __repr__(self) -> str:
        return f"WebhookNotifier({self.url!r})"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def send(self, notice: Notice, *, key: str | None = None) -> None:
        """POST the notice; ``DeliveryError`` (retryable unless the receiver refused it for
        good, a 4xx other than 408/425/429) when it was not accepted."""
        body = json.dumps(notice_payload(notice, key), ensure_ascii=False, sort_keys=True,
                          default=str).encode()
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-VW-Timestamp": timestamp,
                   "X-VW-Kind": notice.kind}
        if key:
            headers["Idempotency-Key"] = key
        if self.secret is not None:
            headers[self.signature_header] = sign(self.secret, timestamp, body)
        try:
            response = self._client.post(self.url, content=body, headers=headers)
        except self._httpx.HTTPError as exc:
            raise DeliveryError(f"webhook {self.url}: {type(exc).__name__}: {exc}",
                                retryable=True) from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        retryable = status >= 500 or status in _RETRYABLE
        raise DeliveryError(f"webhook {self.url} answered {status}: {response.text[:200]}",
                            retryable=retryable)
