"""A tiny real OpenID Connect issuer for the tests: a Starlette app served by uvicorn on a free
port, with discovery, JWKS, an authorization endpoint that signs ``user`` in at once and sends
the browser back with a code, and a token endpoint that checks the PKCE verifier."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.server.conftest import free_port

CLIENT_ID = "vip-workbench"


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


class Issuer:
    """The issuer; ``user`` and ``groups`` say who signs in next, ``deny`` refuses them,
    ``wrong_nonce`` answers with another nonce; ``codes`` and ``exchanges`` record requests."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.user = "AM777"
        self.groups = ["/crm/key-account"]
        self.deny = False
        self.wrong_nonce = False
        self.codes: dict[str, dict[str, str]] = {}
        self.exchanges: list[dict[str, str]] = []
        app = Starlette(routes=[
            Route("/.well-known/openid-configuration", self._discovery),
            Route("/jwks", self._jwks),
            Route("/authorize", self._authorize),
            Route("/token", self._token, methods=["POST"]),
        ])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test issuer did not start")
            time.sleep(0.02)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def token(self, *, audience: str = CLIENT_ID, **claims: Any) -> str:
        """A JWT of this issuer for ``user``."""
        now = int(time.time())
        payload = {"iss": self.url, "aud": audience, "sub": f"sub-{self.user}", "iat": now,
                   "exp": now + 300, "preferred_username": self.user,
                   "groups": self.groups} | claims
        return jwt.encode(payload, self.key, algorithm="RS256", headers={"kid": "k1"})

    async def _discovery(self, _request: Request) -> Response:
        return JSONResponse({"issuer": self.url, "authorization_endpoint": f"{self.url}/authorize",
                             "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks",
                             "response_types_supported": ["code"],
                             "code_challenge_methods_supported": ["S256"]})

    async def _jwks(self, _request: Request) -> Response:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return JSONResponse({"keys": [jwk | {"kid": "k1", "use": "sig", "alg": "RS256"}]})

    async def _authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code" \
                or q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        back = q["redirect_uri"]
        if self.deny:
            answer = {"error": "access_denied", "error_description": "the user said no",
                      "state": q.get("state", "")}
            return RedirectResponse(f"{back}?{urlencode(answer)}", status_code=302)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"challenge": q["code_challenge"], "nonce": q.get("nonce", ""),
                            "redirect_uri": back, "user": self.user, "scope": q.get("scope", "")}
        return RedirectResponse(f"{back}?{urlencode({'code': code, 'state': q['state']})}",
                                status_code=302)

    async def _token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.exchanges.append(form)
        grant = self.codes.pop(form.get("code", ""), None)  # a code is used once
        if form.get("grant_type") != "authorization_code" or grant is None \
                or form.get("client_id") != CLIENT_ID \
                or form.get("redirect_uri") != grant["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        if _s256(form.get("code_verifier", "")) != grant["challenge"]:
            return JSONResponse({"error": "invalid_grant",
                                 "error_description": "PKCE verification failed"},
                                status_code=400)
        nonce = "another" if self.wrong_nonce else grant["nonce"]
        return JSONResponse({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                             "expires_in": 300, "id_token": self.token(nonce=nonce)})
