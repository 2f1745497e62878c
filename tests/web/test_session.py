"""Signing in and out, the session and CSRF cookies, the language choice."""

from __future__ import annotations

import pytest

from tests.server.conftest import LiveServer
from tests.web.conftest import browser, csrf_of, signed_in


class TestSignIn:
    def test_pages_need_a_session(self, web: LiveServer) -> None:
        """Without a session a page sends the browser to the sign-in form, keeping where
        it was going."""
        answer = browser(web).get("/web/inbox?page=2")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/web/login?next=/web/inbox%3Fpage%3D2"

    def test_a_token_signs_in_with_strict_httponly_cookies(self, web: LiveServer) -> None:
        """The session cookie is HttpOnly and SameSite=Strict, not Secure over plain HTTP,
        and holds no token."""
        client = browser(web)
        form = client.get("/web/login")
        csrf_cookie = form.headers["set-cookie"]
        assert "HttpOnly" in csrf_cookie and "SameSite=strict" in csrf_cookie
        answer = client.post("/web/login", data={"csrf": csrf_of(form),
                                                 "token": web.tokens["AM001"]})
        assert answer.status_code == 303
        cookies = answer.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("vw_session="))
        assert "HttpOnly" in session and "SameSite=strict" in session
        assert "Secure" not in session
        assert web.tokens["AM001"] not in session
        assert client.get("/web/inbox").status_code == 200

    def test_secure_cookies_over_tls(self, web: LiveServer) -> None:
        """Behind a TLS proxy (X-Forwarded-Proto: https, trusted from localhost) the cookies
        are Secure."""
        client = browser(web)
        form = client.get("/web/login", headers={"X-Forwarded-Proto": "https"})
        assert "Secure" in form.headers["set-cookie"]
        answer = client.post("/web/login", headers={"X-Forwarded-Proto": "https"},
                             data={"csrf": csrf_of(form), "token": web.tokens["AM001"]})
        assert all("Secure" in c for c in answer.headers.get_list("set-cookie"))

    def test_a_bad_token_is_refused(self, web: LiveServer) -> None:
        client = browser(web, "en")
        form = client.get("/web/login")
        answer = client.post("/web/login", data={"csrf": csrf_of(form), "token": "vwt_x_y"})
        assert answer.status_code == 401
        assert "unknown, revoked or expired" in answer.text
        assert "vw_session" not in answer.headers.get("set-cookie", "")

    def test_sign_out_ends_the_session(self, web: LiveServer) -> None:
        client = signed_in(web, "AM001")
        page = client.get("/web/inbox")
        assert client.post("/web/logout", data={"csrf": csrf_of(page)}).status_code == 303
        assert client.get("/web/inbox").status_code == 303

    def test_a_post_without_a_session_goes_to_sign_in_then_the_inbox(
            self, web: LiveServer) -> None:
        client = browser(web)
        page = client.get("/web/login")
        answer = client.post("/web/instances/x/fire", data={"csrf": csrf_of(page)})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/web/login?next=/web/inbox"

    def test_a_revoked_token_ends_its_sessions(self, web: LiveServer) -> None:
        info, token = web.service.tokens.create("AM009", ("account_manager",))
        web.tokens["AM009"] = token
        client = signed_in(web, "AM009")
        assert client.get("/web/inbox").status_code == 200
        web.service.tokens.revoke(info.id)
        assert client.get("/web/inbox").status_code == 303

    def test_a_forged_session_cookie_is_not_a_session(self, web: LiveServer) -> None:
        client = signed_in(web, "AM001")
        value = client.cookies["vw_session"]
        body, mac = value.split(".")
        client.cookies.set("vw_session", body + "." + mac[::-1])
        assert client.get("/web/inbox").status_code == 303


class TestCsrf:
    def test_a_post_without_the_token_is_refused(self, web: LiveServer) -> None:
        """403 for a missing token, and for a token that is not the cookie's."""
        client = signed_in(web, "AM001", "en")
        missing = client.post("/web/logout", data={})
        assert missing.status_code == 403
        assert "security token" in missing.text
        other = browser(web).get("/web/login")
        assert client.post("/web/logout", data={"csrf": csrf_of(other)}).status_code == 403
        assert client.get("/web/inbox").status_code == 200  # still signed in

    def test_sign_in_needs_the_token_too(self, web: LiveServer) -> None:
        client = browser(web)
        answer = client.post("/web/login", data={"token": web.tokens["AM001"]})
        assert answer.status_code == 403
        assert "vw_session" not in answer.headers.get("set-cookie", "")


class TestLanguage:
    def test_chinese_by_default_english_by_accept_language(self, web: LiveServer) -> None:
        assert "登录" in web.client().get("/web/login").text
        assert '<html lang="zh-CN">' in web.client().get("/web/login").text
        english = web.client(**{"Accept-Language": "en-GB,en;q=0.8"}).get("/web/login")
        assert "Sign in" in english.text and "登录" not in english.text

    def test_the_switch_sets_the_users_choice(self, web: LiveServer) -> None:
        """The language form's choice wins over Accept-Language."""
        client = signed_in(web, "AM001", "en")
        page = client.get("/web/inbox")
        assert "My inbox" in page.text
        answer = client.post("/web/language", data={"csrf": csrf_of(page), "lang": "zh_CN",
                                                     "next": "/web/inbox"})
        assert answer.status_code == 303 and answer.headers["location"] == "/web/inbox"
        assert "我的待办" in client.get("/web/inbox").text

    def test_the_switch_goes_nowhere_else(self, web: LiveServer) -> None:
        client = browser(web)
        page = client.get("/web/login")
        answer = client.post("/web/language", data={"csrf": csrf_of(page), "lang": "en",
                                                     "next": "https://evil.example/"})
        assert answer.headers["location"] == "/web/inbox"


def test_workers_share_the_key_of_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers (two signers) given the key vip-workflow serve put in the environment
    accept each other's sessions; without a key each draws its own; vip.yaml's wins."""
    from vip_workflow.adapters.server.settings import ServerSettings
    from vip_workflow.adapters.server.web.session import ENV_SECRET, signer_for

    monkeypatch.delenv(ENV_SECRET, raising=False)
    alone = signer_for(ServerSettings()).session("d" * 64, 1)
    assert signer_for(ServerSettings()).session_digest(alone) is None
    monkeypatch.setenv(ENV_SECRET, "k" * 43)
    shared = signer_for(ServerSettings()).session("d" * 64, 1)
    assert signer_for(ServerSettings()).session_digest(shared) == "d" * 64
    own = ServerSettings(session_secret="s" * 32)
    assert signer_for(own).session_digest(shared) is None
    assert signer_for(own).session_digest(signer_for(own).session("e" * 64, 1)) == "e" * 64


def test_an_expired_session_is_no_session() -> None:
    from vip_workflow.adapters.server.web.session import Signer

    signer = Signer(b"k" * 32)
    assert signer.session_digest(signer.session("d" * 64, -0.01)) is None
    assert signer.session_digest(signer.session("d" * 64, 0.01)) == "d" * 64
    assert signer.session_digest("not.a-cookie") is None
    assert not signer.csrf_ok(signer.session("d" * 64, 1))  # a session is not a CSRF token
