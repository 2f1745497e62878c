"""OIDC bearer JWTs: checked against the issuer's JWKS, served by a real local HTTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.server.conftest import (
    LiveServer,
    free_port,
    is_problem,
    start_server,
    write_workspace,
)

OVERRIDE = {"customer_id": "G1", "requested_tier": "A", "reason": "r"}


class Issuer:
    """An RSA key pair and a JWKS endpoint on a local port."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        body = json.dumps({"keys": [jwk | {"kid": "k1", "use": "sig", "alg": "RS256"}]})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *_: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def token(self, key: Any = None, **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": self.url, "aud": "vip-workflow", "iat": now, "exp": now + 300,
                   "preferred_username": "AM777", "groups": ["/crm/key-account"]} | claims
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": "k1"})

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    made = Issuer()
    yield made
    made.close()


@pytest.fixture
def oidc_live(tmp_path: Path, issuer: Issuer) -> Iterator[LiveServer]:
    """The service with the issuer configured in vip.yaml's server section."""
    server = (f"server:\n  oidc:\n    issuer: {issuer.url}\n"
              f"    jwks_url: {issuer.url}/jwks\n    audience: vip-workflow\n"
              "    user_claim: preferred_username\n    roles_claim: groups\n"
              "    role_map: {/crm/key-account: account_manager}\n")
    live = start_server(write_workspace(tmp_path, "sqlite:///vip.db", server))
    yield live
    live.stop()


def _client(live: LiveServer, token: str) -> Any:
    return live.client(Authorization=f"Bearer {token}")


class TestOidc:
    def test_a_valid_jwt_acts_as_its_user_with_the_mapped_roles(
            self, oidc_live: LiveServer, issuer: Issuer) -> None:
        """The user claim and the mapped group make an account manager who may start."""
        response = _client(oidc_live, issuer.token()).post(
            "/api/v1/instances", json={"process": "tier_override", "context": OVERRIDE})
        assert response.status_code == 201, response.text
        assert response.json()["ledger"][0]["actor"] == "AM777"

    def test_a_jwt_whose_groups_map_to_no_role_is_403(self, oidc_live: LiveServer,
                                                      issuer: Issuer) -> None:
        """Authenticated but without the right: 403, nothing started."""
        response = _client(oidc_live, issuer.token(groups=["/crm/other"])).post(
            "/api/v1/instances", json={"process": "tier_override", "context": OVERRIDE})
        is_problem(response, 403)
        assert oidc_live.service.engine.store.find() == []

    @pytest.mark.parametrize("case", ["expired", "audience", "issuer", "other-key"])
    def test_a_jwt_that_does_not_verify_is_401(self, oidc_live: LiveServer, issuer: Issuer,
                                                case: str) -> None:
        """Expired, for another audience or issuer, or signed by another key: 401."""
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = {"expired": lambda: issuer.token(exp=int(time.time()) - 3600),
                 "audience": lambda: issuer.token(aud="someone-else"),
                 "issuer": lambda: issuer.token(iss="https://evil.example"),
                 "other-key": lambda: issuer.token(key=other)}[case]()
        response = _client(oidc_live, token).get("/api/v1/books")
        is_problem(response, 401)
        assert token not in response.text

    def test_api_tokens_still_work_beside_oidc(self, oidc_live: LiveServer) -> None:
        """An API token is accepted on a service that also accepts JWTs."""
        assert oidc_live.client("AM001").get("/api/v1/books").status_code == 200
