"""Signing in to the workbench through a real (tiny) OIDC issuer: the authorization-code flow
with PKCE, followed redirect by redirect, and an OIDC token pasted in the sign-in form."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.server.conftest import LiveServer, start_server, write_workspace
from tests.web.conftest import csrf_of
from tests.web.oidc_issuer import CLIENT_ID, Issuer, _s256


@pytest.fixture(autouse=True)
def _issuer_as_usual(issuer: Issuer) -> Iterator[None]:
    yield
    issuer.user, issuer.deny, issuer.wrong_nonce = "AM777", False, False


def _to_issuer(live: LiveServer, client: httpx.Client) -> httpx.Response:
    """Start a sign-in: the service's redirect to the issuer's authorization page."""
    answer = client.get("/web/login/oidc", params={"next": "/web/inbox?page=1"})
    assert answer.status_code == 303, answer.text
    return answer


def _cookie(answer: httpx.Response, name: str) -> str:
    return next(c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{name}="))


class TestCodeFlow:
    def test_a_user_signs_in_at_the_issuer_and_lands_where_they_were_going(
            self, oidc_web: LiveServer, issuer: Issuer) -> None:
        """Authorize with a S256 challenge, back with a code, the code and verifier
        exchanged, the ID token checked; a Strict HttpOnly session; then the inbox."""
        client = oidc_web.client(**{"Accept-Language": "en"})
        start = _to_issuer(oidc_web, client)
        authorize = urlparse(start.headers["location"])
        assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == \
            f"{issuer.url}/authorize"
        query = {k: v[0] for k, v in parse_qs(authorize.query).items()}
        assert query["code_challenge_method"] == "S256"
        assert query["redirect_uri"] == f"{oidc_web.url}/web/login/oidc/callback"
        assert query["scope"] == "openid profile" and query["client_id"] == CLIENT_ID
        flow_cookie = _cookie(start, "vw_oidc")
        assert "HttpOnly" in flow_cookie and "SameSite=lax" in flow_cookie
        assert "Path=/web/login/oidc" in flow_cookie
        back = client.get(start.headers["location"])  # the issuer signs AM777 in
        assert back.status_code == 302
        assert back.headers["location"].startswith(query["redirect_uri"] + "?code=")
        done = client.get(back.headers["location"])
        assert done.status_code == 200, done.text
        assert 'http-equiv="refresh" content="0;url=/web/inbox?page=1"' in done.text
        session = _cookie(done, "vw_session")
        assert "HttpOnly" in session and "SameSite=strict" in session
        assert "Secure" not in session  # plain HTTP here
        verifier = issuer.exchanges[-1]["code_verifier"]
        assert _s256(verifier) == query["code_challenge"] and len(verifier) >= 43
        assert verifier not in done.text and verifier not in start.headers["location"]
        inbox = client.get("/web/inbox?page=1")
        assert inbox.status_code == 200
        assert '<span class="user" data-testid="user">AM777</span>' in inbox.text

    def test_the_mapped_role_lets_the_user_act(self, oidc_web: LiveServer,
                                               issuer: Issuer) -> None:
        """AM777 (an account manager by the role map) sees the case assigned to them."""
        client = oidc_web.client()
        start = _to_issuer(oidc_web, client)
        client.get(client.get(start.headers["location"]).headers["location"])
        case = oidc_web.client("AM001").post("/api/v1/instances", json={
            "process": "retention_case",
            "context": {"customer_id": "G1", "account_manager_id": "AM777"}})
        assert case.status_code == 201, case.text
        page = client.get(f"/web/instances/{case.json()['id']}")
        assert 'data-event="propose_offer"' in page.text

    def test_a_callback_with_another_state_makes_no_session(
            self, oidc_web: LiveServer) -> None:
        client = oidc_web.client(**{"Accept-Language": "en"})
        start = _to_issuer(oidc_web, client)
        back = client.get(start.headers["location"]).headers["location"]
        forged = back.split("&state=")[0] + "&state=someone-elses"
        answer = client.get(forged)
        assert answer.status_code == 401
        assert "state does not match" in answer.text
        assert "vw_session" not in answer.headers.get("set-cookie", "")
        assert client.get("/web/inbox").status_code == 303

    def test_a_callback_without_the_flow_cookie_makes_no_session(
            self, oidc_web: LiveServer) -> None:
        """A code brought by another browser (no vw_oidc cookie there) is refused."""
        start = _to_issuer(oidc_web, oidc_web.client())
        back = oidc_web.client().get(start.headers["location"]).headers["location"]
        other = oidc_web.client(**{"Accept-Language": "en"})
        answer = other.get(back)
        assert answer.status_code == 401 and "start again" in answer.text
        assert other.get("/web/inbox").status_code == 303

    def test_an_id_token_with_another_nonce_is_refused(self, oidc_web: LiveServer,
                                                       issuer: Issuer) -> None:
        issuer.wrong_nonce = True
        client = oidc_web.client(**{"Accept-Language": "en"})
        start = _to_issuer(oidc_web, client)
        answer = client.get(client.get(start.headers["location"]).headers["location"])
        assert answer.status_code == 401 and "nonce" in answer.text
        assert client.get("/web/inbox").status_code == 303

    def test_a_refusal_at_the_issuer_is_shown(self, oidc_web: LiveServer,
                                              issuer: Issuer) -> None:
        issuer.deny = True
        client = oidc_web.client(**{"Accept-Language": "en"})
        start = _to_issuer(oidc_web, client)
        answer = client.get(client.get(start.headers["location"]).headers["location"])
        assert answer.status_code == 401
        assert "access_denied: the user said no" in answer.text

    def test_a_code_is_exchanged_once(self, oidc_web: LiveServer) -> None:
        """Replaying the callback: the issuer refuses the used code, no new session."""
        client = oidc_web.client(**{"Accept-Language": "en"})
        start = _to_issuer(oidc_web, client)
        back = client.get(start.headers["location"]).headers["location"]
        flow = client.cookies.get("vw_oidc")
        assert client.get(back).status_code == 200
        replay = oidc_web.client(**{"Accept-Language": "en"})
        replay.cookies.set("vw_oidc", str(flow), path="/web/login/oidc")
        answer = replay.get(back)
        assert answer.status_code == 401 and "invalid_grant" in answer.text


class TestPastedToken:
    def _post(self, live: LiveServer, token: str) -> tuple[httpx.Client, httpx.Response]:
        client = live.client(**{"Accept-Language": "en"})
        form = client.get("/web/login")
        return client, client.post("/web/login", data={"csrf": csrf_of(form), "token": token})

    @pytest.mark.parametrize("audience", ["vip-workflow", CLIENT_ID])
    def test_an_access_or_id_token_signs_in(self, oidc_web: LiveServer, issuer: Issuer,
                                            audience: str) -> None:
        client, answer = self._post(oidc_web, issuer.token(audience=audience))
        assert answer.status_code == 303
        assert "SameSite=strict" in _cookie(answer, "vw_session")
        assert 'data-testid="user">AM777<' in client.get("/web/inbox").text

    @pytest.mark.parametrize("case", ["expired", "audience"])
    def test_a_token_that_does_not_verify_is_refused(self, oidc_web: LiveServer,
                                                     issuer: Issuer, case: str) -> None:
        token = issuer.token(exp=int(time.time()) - 3600) if case == "expired" \
            else issuer.token(audience="someone-else")
        client, answer = self._post(oidc_web, token)
        assert answer.status_code == 401
        assert "This OIDC token is not accepted" in answer.text and token not in answer.text
        assert client.get("/web/inbox").status_code == 303

    def test_api_tokens_still_sign_in(self, oidc_web: LiveServer) -> None:
        _client, answer = self._post(oidc_web, oidc_web.tokens["AM001"])
        assert answer.status_code == 303


def test_the_sign_in_page_offers_the_issuer_only_when_configured(
        oidc_web: LiveServer, tmp_path: Path) -> None:
    with_issuer = oidc_web.client(**{"Accept-Language": "en"}).get("/web/login").text
    assert 'href="/web/login/oidc?next=/web/inbox"' in with_issuer
    assert "API token or OIDC token" in with_issuer
    plain = start_server(write_workspace(tmp_path, "sqlite:///vip.db"))
    try:
        text = plain.client(**{"Accept-Language": "en"}).get("/web/login").text
        assert "/web/login/oidc" not in text and "OIDC" not in text
        assert plain.client().get("/web/login/oidc").status_code == 404
    finally:
        plain.stop()


def test_an_oidc_session_ends_when_the_issuer_is_no_longer_configured(
        oidc_web: LiveServer, issuer: Issuer, tmp_path: Path) -> None:
    """A session cookie made by the OIDC sign-in is no session on a service without OIDC
    (even one sharing the signing key)."""
    from vip_workflow.adapters.server.web.session import Signer

    signer: Signer = oidc_web.app.state.web.signer
    plain = start_server(write_workspace(tmp_path, "sqlite:///vip.db"))
    try:
        plain.app.state.web.signer = signer
        client = plain.client()
        client.cookies.set("vw_session", signer.user_session("AM777", ["account_manager"], 1))
        assert client.get("/web/inbox").status_code == 303
    finally:
        plain.stop()


def test_the_flow_cookie_and_the_session_are_secure_over_tls(oidc_web: LiveServer,
                                                             issuer: Issuer) -> None:
    """Behind a TLS proxy (X-Forwarded-Proto: https) both cookies are Secure, and the
    callback address the issuer is given is the https one."""
    client = oidc_web.client(**{"X-Forwarded-Proto": "https"})
    start = _to_issuer(oidc_web, client)
    assert "; Secure" in _cookie(start, "vw_oidc")
    query = parse_qs(urlparse(start.headers["location"]).query)
    assert query["redirect_uri"][0].startswith("https://")
    back = urlparse(client.get(start.headers["location"]).headers["location"])
    flow = _cookie(start, "vw_oidc").split(";")[0]  # a Secure cookie httpx keeps off http
    done = client.get(f"{back.path}?{back.query}", headers={"Cookie": flow})
    assert done.status_code == 200, done.text
    assert "; Secure" in _cookie(done, "vw_session")


def test_an_issuer_that_cannot_be_reached_is_a_page_not_a_crash(tmp_path: Path) -> None:
    """No discovery document: the sign-in page says so (502), the token field still works."""
    from tests.server.conftest import free_port

    nowhere = f"http://127.0.0.1:{free_port()}"
    server = (f"server:\n  oidc:\n    issuer: {nowhere}\n    client_id: {CLIENT_ID}\n")
    live = start_server(write_workspace(tmp_path, "sqlite:///vip.db", server))
    try:
        client = live.client(**{"Accept-Language": "en"})
        answer = client.get("/web/login/oidc")
        assert answer.status_code == 502
        assert "The sign-in service cannot be used now" in answer.text
        assert 'id="token"' in answer.text
    finally:
        live.stop()
