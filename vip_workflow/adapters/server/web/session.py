"""The workbench's cookies: a signed session, a signed CSRF token, the language.

The session cookie holds the SHA-256 of the API token the user signed in with (never the
token) and when it ends, signed with HMAC-SHA256; every request looks the token up again, so
a revoked token ends its sessions. A sign-in through the OIDC issuer holds the user and roles
its ID token gave instead, until the session ends. Cookies are HttpOnly, SameSite=Strict, and
Secure when the request came over TLS. Every form carries the CSRF token of the ``vw_csrf``
cookie; a POST whose form token is missing or differs is refused with 403 (double-submit, the
cookie signed so it cannot be planted). The short-lived ``vw_oidc`` cookie of an OIDC sign-in
under way (its state, nonce and PKCE verifier) is SameSite=Lax: the issuer's redirect back is
a cross-site navigation, on which a Strict cookie would not be sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response

from vip_workflow.adapters.server.settings import ServerSettings

__all__ = ["CSRF", "LANG", "OIDC", "SESSION", "Signer", "set_cookie", "signer_for"]

SESSION = "vw_session"
CSRF = "vw_csrf"
LANG = "vw_lang"
OIDC = "vw_oidc"
ENV_SECRET = "VIP_WORKFLOW_SESSION_SECRET"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs and checks cookie values with one key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, purpose: str, body: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}:{body}".encode(), hashlib.sha256).digest())

    def sign(self, purpose: str, payload: dict[str, Any]) -> str:
        """``payload`` as a signed cookie value for ``purpose``."""
        body = _b64(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
        return f"{body}.{self._mac(purpose, body)}"

    def unsign(self, purpose: str, value: str | None) -> dict[str, Any] | None:
        """The payload of a value this signer made for ``purpose``, or ``None``."""
        if not value or value.count(".") != 1:
            return None
        body, mac = value.split(".")
        if not hmac.compare_digest(mac, self._mac(purpose, body)):
            return None
        try:
            payload = json.loads(_unb64(body))
        except ValueError:
            return None
        return payload if isinstance(payload, dict) else None

    def session(self, token_digest: str, hours: float) -> str:
        """A session cookie value for the token with SHA-256 ``token_digest``."""
        return self.sign("session", {"d": token_digest, "e": int(time.time() + hours * 3600)})

    def user_session(self, user: str, roles: list[str], hours: float) -> str:
        """A session cookie value for a user the OIDC issuer vouched for."""
        return self.sign("session", {"u": user, "r": roles, "e": int(time.time() + hours * 3600)})

    def _live(self, value: str | None) -> dict[str, Any] | None:
        payload = self.unsign("session", value)
        if payload is None:
            return None
        expires = payload.get("e")
        if not isinstance(expires, int) or expires < time.time():
            return None
        return payload

    def session_digest(self, value: str | None) -> str | None:
        """The token digest of a live session cookie value, or ``None``."""
        payload = self._live(value)
        if payload is None or not isinstance(payload.get("d"), str):
            return None
        return str(payload["d"])

    def session_user(self, value: str | None) -> tuple[str, list[str]] | None:
        """The user and roles of a live OIDC session cookie value, or ``None``."""
        payload = self._live(value)
        if payload is None or not isinstance(payload.get("u"), str):
            return None
        roles = payload.get("r")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            return None
        return str(payload["u"]), roles

    def new_csrf(self) -> str:
        """A fresh CSRF token."""
        return self.sign("csrf", {"n": secrets.token_urlsafe(18)})

    def csrf_ok(self, value: str | None) -> bool:
        """Whether ``value`` is a CSRF token this signer made."""
        return self.unsign("csrf", value) is not None


def signer_for(settings: ServerSettings) -> Signer:
    """The signer of ``server.session_secret`` (or the environment's), else a random key."""
    secret = settings.session_secret or os.environ.get(ENV_SECRET)
    key = secret.encode("utf-8") if secret else secrets.token_bytes(32)
    return Signer(hashlib.sha256(b"vip-workflow-web:" + key).digest())


def set_cookie(response: Response, request: Request, name: str, value: str, *,
               max_age: int | None = None, path: str = "/",
               samesite: Literal["strict", "lax"] = "strict") -> None:
    """Set a workbench cookie: HttpOnly, SameSite=Strict (unless told), Secure over TLS."""
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True,
                        secure=request.url.scheme == "https", samesite=samesite)
