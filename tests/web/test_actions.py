"""Acting on an instance through its page's forms: only what the engine allows."""

from __future__ import annotations

import re

from tests.server.conftest import LiveServer
from tests.web.conftest import csrf_of, signed_in, start_case


def _version(page_text: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', page_text)
    return found.group(1) if found else "1"


def _state(live: LiveServer, iid: str) -> tuple[str, int, str | None]:
    inst = live.service.engine.get(iid)
    return inst.state, inst.version, inst.assignee


class TestActions:
    def test_the_assignee_sees_the_events_and_fires_one(self, web: LiveServer) -> None:
        iid = start_case(web, "G0000002", "AM001")
        client = signed_in(web, "AM001", "en")
        page = client.get(f"/web/instances/{iid}")
        assert 'data-event="propose_offer"' in page.text and 'data-event="dismiss"' in page.text
        answer = client.post(f"/web/instances/{iid}/fire", data={
            "csrf": csrf_of(page), "version": _version(page.text), "event": "propose_offer",
            "comment": "提供 10% 折扣"})
        assert answer.status_code == 303
        assert _state(web, iid)[0] == "offer_approval"
        after = client.get(f"/web/instances/{iid}").text
        assert "提供 10% 折扣" in after and 'data-testid="verified"' in after

    def test_a_colleague_sees_no_action_and_a_forged_post_is_refused(
            self, web: LiveServer) -> None:
        """AM002 sees no button on AM001's case; a POST they forge (with a valid CSRF token
        of their own session) is 403 and the instance does not change."""
        iid = start_case(web, "G0000002", "AM001")
        client = signed_in(web, "AM002", "en")
        page = client.get(f"/web/instances/{iid}")
        assert 'data-testid="no-actions"' in page.text and "data-event=" not in page.text
        before = _state(web, iid)
        for what, data in (("fire", {"event": "dismiss", "comment": "不是我的"}),
                           ("claim", {}), ("release", {"comment": "x"}),
                           ("approve", {"comment": "ok"})):
            answer = client.post(f"/web/instances/{iid}/{what}", data={
                "csrf": csrf_of(page), "version": str(before[1]), **data})
            assert answer.status_code in (403, 409), (what, answer.text)
            assert answer.headers["content-type"].startswith("text/html")
        forged = client.post(f"/web/instances/{iid}/fire", data={
            "csrf": csrf_of(page), "version": str(before[1]), "event": "dismiss"})
        assert forged.status_code == 403
        assert _state(web, iid) == before

    def test_an_approver_who_is_not_the_assignee_sees_no_approve_button(
            self, web: LiveServer) -> None:
        """At the approval gate the account manager (the requester) may not approve: no
        button, and a forged approve is refused; the department director may."""
        iid = start_case(web, "G0000002", "AM001")
        web.client("AM001").post(f"/api/v1/instances/{iid}/events/propose_offer",
                                 json={"comment": "offer"})
        mine = signed_in(web, "AM001", "en")
        page = mine.get(f"/web/instances/{iid}")
        assert 'data-testid="approve"' not in page.text
        before = _state(web, iid)
        forged = mine.post(f"/web/instances/{iid}/approve", data={
            "csrf": csrf_of(page), "version": str(before[1]), "comment": "自己批"})
        assert forged.status_code == 403
        assert _state(web, iid) == before

    def test_a_post_without_csrf_changes_nothing(self, web: LiveServer) -> None:
        iid = start_case(web, "G0000002", "AM001")
        client = signed_in(web, "AM001", "en")
        before = _state(web, iid)
        answer = client.post(f"/web/instances/{iid}/fire", data={
            "version": str(before[1]), "event": "dismiss", "comment": "x"})
        assert answer.status_code == 403
        assert _state(web, iid) == before

    def test_a_stale_form_is_refused(self, web: LiveServer) -> None:
        """A form read before someone else acted is 412 and changes nothing."""
        iid = start_case(web, "G0000002", "AM001")
        client = signed_in(web, "AM001", "en")
        page = client.get(f"/web/instances/{iid}")
        web.client("AM001").post(f"/api/v1/instances/{iid}/events/propose_offer", json={})
        before = _state(web, iid)
        answer = client.post(f"/web/instances/{iid}/fire", data={
            "csrf": csrf_of(page), "version": _version(page.text), "event": "dismiss"})
        assert answer.status_code == 412
        assert _state(web, iid) == before

    def test_pool_work_is_claimed_and_released(self, web: LiveServer) -> None:
        iid = start_case(web, "G0000005", None)
        client = signed_in(web, "AM002", "en")
        page = client.get(f"/web/instances/{iid}")
        assert 'data-testid="claim"' in page.text
        client.post(f"/web/instances/{iid}/claim", data={
            "csrf": csrf_of(page), "version": _version(page.text)})
        assert _state(web, iid)[2] == "AM002"
        page = client.get(f"/web/instances/{iid}")
        assert 'data-testid="release"' in page.text and 'data-testid="claim"' not in page.text
        client.post(f"/web/instances/{iid}/release", data={
            "csrf": csrf_of(page), "version": _version(page.text), "comment": "休假"})
        assert _state(web, iid)[2] is None

    def test_a_rejection_needs_a_reason(self, web: LiveServer) -> None:
        """The business manager may decide; an empty reason is refused by the engine and the
        form marks the field required."""
        iid = start_case(web, "G0000002", "AM001")
        web.client("AM001").post(f"/api/v1/instances/{iid}/events/propose_offer", json={})
        client = signed_in(web, "BM001", "en")
        page = client.get(f"/web/instances/{iid}")
        assert 'data-testid="reject"' in page.text
        assert re.search(r'id="reject-comment" name="comment" rows="2" required', page.text)
        before = _state(web, iid)
        answer = client.post(f"/web/instances/{iid}/reject", data={
            "csrf": csrf_of(page), "version": str(before[1]), "comment": " "})
        assert answer.status_code in (409, 422)
        assert _state(web, iid) == before
        approved = client.post(f"/web/instances/{iid}/approve", data={
            "csrf": csrf_of(page), "version": str(before[1]), "comment": "同意"})
        assert approved.status_code == 303
        assert _state(web, iid)[0] == "contact_customer"

    def test_a_form_without_the_version_is_refused(self, web: LiveServer) -> None:
        iid = start_case(web, "G0000002", "AM001")
        client = signed_in(web, "AM001", "en")
        page = client.get(f"/web/instances/{iid}")
        before = _state(web, iid)
        answer = client.post(f"/web/instances/{iid}/fire", data={
            "csrf": csrf_of(page), "version": "x", "event": "dismiss"})
        assert answer.status_code == 400 and "reload the page" in answer.text
        assert _state(web, iid) == before

    def test_an_unknown_action_is_404(self, web: LiveServer) -> None:
        iid = start_case(web, "G0000002", "AM001")
        client = signed_in(web, "AM001", "en")
        page = client.get(f"/web/instances/{iid}")
        answer = client.post(f"/web/instances/{iid}/delete", data={
            "csrf": csrf_of(page), "version": _version(page.text)})
        assert answer.status_code == 404
