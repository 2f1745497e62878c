"""Signing in to the workbench through the OIDC issuer: the authorization-code flow with PKCE.

1. ``start``: a fresh state, nonce and PKCE verifier, kept in the signed ``vw_oidc`` cookie
   (ten minutes), and the issuer's authorization address to send the browser to.
2. The issuer signs the user in and sends the browser back with ``code`` and ``state``.
3. ``finish``: the state must be the cookie's; the code and the verifier are exchanged at the
   token endpoint for an ID token, which is checked as the API checks bearer JWTs (signature
   by the issuer's JWKS, issuer, expiry), for the client id as audience and with the nonce.

The issuer's endpoints come from its discovery document, read once per service.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import attrs

from vip_workflow.adapters.server.auth import Authenticator, Unauthorized
from vip_workflow.adapters.server.settings import OidcSettings
from vip_workflow.adapters.server.web.session import Signer
from vip_workflow.domain.instances import Actor

__all__ = ["FLOW_SECONDS", "Flow", "finish", "metadata", "start"]

#: how long a sign-in at the issuer may take
FLOW_SECONDS = 600
_TIMEOUT = 10


@attrs.frozen
class Flow:
    """A sign-in under way: what the callback must see again."""

    state: str
    nonce: str
    verifier: str
    next: str
    redirect_uri: str

    def cookie(self, signer: Signer) -> str:
        return signer.sign("oidc", {"s": self.state, "n": self.nonce, "v": self.verifier,
                                    "t": self.next, "r": self.redirect_uri,
                                    "e": int(time.time()) + FLOW_SECONDS})

    @classmethod
    def from_cookie(cls, signer: Signer, value: str | None) -> Flow | None:
        payload = signer.unsign("oidc", value)
        if payload is None or not isinstance(payload.get("e"), int) \
                or payload["e"] < time.time():
            return None
        fields = [payload.get(k) for k in ("s", "n", "v", "t", "r")]
        if not all(isinstance(f, str) for f in fields):
            return None
        return cls(*[str(f) for f in fields])


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _json(request: urllib.request.Request | str, what: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as answer:
            body = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read())
        except ValueError:
            detail = {}
        error = detail.get("error_description") or detail.get("error") or exc.reason
        raise Unauthorized(f"the issuer refused {what}: {error}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise Unauthorized(f"the issuer cannot be reached for {what} ({exc})") from None
    if not isinstance(body, dict):
        raise Unauthorized(f"the issuer's answer to {what} is not a JSON object")
    return body


def metadata(settings: OidcSettings) -> dict[str, Any]:
    """The issuer's discovery document (its issuer must be the configured one)."""
    found = _json(settings.metadata_url, "its discovery document")
    if found.get("issuer") != settings.issuer:
        raise Unauthorized(f"the discovery document names the issuer {found.get('issuer')!r}, "
                           f"not {settings.issuer!r}")
    for key in ("authorization_endpoint", "token_endpoint"):
        if not isinstance(found.get(key), str):
            raise Unauthorized(f"the issuer's discovery document has no {key}")
    return found


def start(settings: OidcSettings, meta: dict[str, Any], *, next_path: str,
          redirect_uri: str) -> tuple[Flow, str]:
    """A new sign-in and the address of the issuer's authorization page for it."""
    assert settings.client_id is not None
    flow = Flow(state=secrets.token_urlsafe(24), nonce=secrets.token_urlsafe(24),
                verifier=secrets.token_urlsafe(48), next=next_path, redirect_uri=redirect_uri)
    challenge = _b64(hashlib.sha256(flow.verifier.encode("ascii")).digest())
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": settings.client_id,
        "redirect_uri": redirect_uri, "scope": " ".join(settings.scopes),
        "state": flow.state, "nonce": flow.nonce,
        "code_challenge": challenge, "code_challenge_method": "S256"})
    endpoint = str(meta["authorization_endpoint"])
    return flow, endpoint + ("&" if "?" in endpoint else "?") + query


def finish(settings: OidcSettings, meta: dict[str, Any], auth: Authenticator, flow: Flow,
           *, code: str, state: str) -> Actor:
    """The user of a completed sign-in (``Unauthorized`` saying why it is not)."""
    assert settings.client_id is not None
    if not state or not hmac.compare_digest(state, flow.state):
        raise Unauthorized("the sign-in's state does not match: start again")
    if not code:
        raise Unauthorized("the issuer sent no authorization code")
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": flow.redirect_uri, "code_verifier": flow.verifier}
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "Accept": "application/json"}
    if settings.client_secret:  # client_secret_basic (RFC 6749 2.3.1)
        pair = (f"{urllib.parse.quote_plus(settings.client_id)}:"
                f"{urllib.parse.quote_plus(settings.client_secret)}")
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    else:
        form["client_id"] = settings.client_id
    request = urllib.request.Request(str(meta["token_endpoint"]), method="POST",
                                     data=urllib.parse.urlencode(form).encode("ascii"),
                                     headers=headers)
    answer = _json(request, "the authorization code")
    id_token = answer.get("id_token")
    if not isinstance(id_token, str):
        raise Unauthorized("the issuer's token answer has no ID token")
    return auth.oidc_actor(id_token, audience=settings.client_id, nonce=flow.nonce)
