"""Per-user work over HTTP: claim, release, reassign, and the inbox that follows them.

A retention case started without ``account_manager_id`` is pool work of the account managers
(the step's ``assignee: {context: account_manager_id}`` finds nobody); with it, the case
belongs to that manager from the start.
"""

from __future__ import annotations

from tests.server.conftest import LiveServer, is_problem

POOL_CASE = {"customer_id": "G1", "trigger": "arpu_drop"}
CASE = {**POOL_CASE, "account_manager_id": "AM001"}


def _case(live: LiveServer, context: dict[str, str] = POOL_CASE) -> str:
    response = live.client("AM001").post("/api/v1/instances", json={
        "process": "retention_case", "context": context})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


class TestClaims:
    def test_pool_work_is_claimed_released_and_claimed_by_another(self, live: LiveServer
                                                                   ) -> None:
        """Claim makes me the assignee; a second claim by another is 409; after release
        the other may claim."""
        iid = _case(live)
        assert live.client("AM001").get(f"/api/v1/instances/{iid}").json()["assignee"] is None
        mine = live.client("AM001").post(f"/api/v1/instances/{iid}/claim")
        assert mine.status_code == 200 and mine.json()["assignee"] == "AM001", mine.text
        taken = live.client("AM002").post(f"/api/v1/instances/{iid}/claim")
        assert is_problem(taken, 409)["code"] == "already_claimed"
        released = live.client("AM001").post(f"/api/v1/instances/{iid}/release",
                                              json={"comment": "休假"})
        assert released.status_code == 200 and released.json()["assignee"] is None
        assert live.client("AM002").post(
            f"/api/v1/instances/{iid}/claim").json()["assignee"] == "AM002"

    def test_reassign_needs_a_supervisor_and_a_reason(self, live: LiveServer) -> None:
        """An account manager may not reassign (403, nothing changes); an admin may."""
        iid = _case(live, CASE)
        before = live.client("ADMIN").get(f"/api/v1/instances/{iid}").json()
        refused = live.client("AM002").post(f"/api/v1/instances/{iid}/reassign",
                                            json={"to": "AM002", "reason": "想要"})
        is_problem(refused, 403)
        assert live.client("ADMIN").get(f"/api/v1/instances/{iid}").json()["version"] == \
            before["version"]
        is_problem(live.client("ADMIN").post(f"/api/v1/instances/{iid}/reassign",
                                             json={"to": "AM002", "reason": ""}), 422)
        moved = live.client("ADMIN").post(f"/api/v1/instances/{iid}/reassign",
                                          json={"to": "AM002", "reason": "客户经理调岗"})
        assert moved.status_code == 200, moved.text
        assert moved.json()["assignee"] == "AM002"

    def test_the_inbox_shows_my_work_and_not_others(self, live: LiveServer) -> None:
        """After a claim the case is in the claimer's inbox and not in a colleague's."""
        iid = _case(live)
        live.client("AM001").post(f"/api/v1/instances/{iid}/claim")
        mine = [i["id"] for i in live.client("AM001").get("/api/v1/inbox").json()["items"]]
        theirs = [i["id"] for i in live.client("AM002").get("/api/v1/inbox").json()["items"]]
        assert iid in mine and iid not in theirs

    def test_a_case_with_its_manager_is_theirs_from_the_start(self, live: LiveServer) -> None:
        """Assigned on start: in AM001's inbox, not AM002's, and AM002 may not act on it."""
        iid = _case(live, CASE)
        assert live.client("AM001").get(f"/api/v1/instances/{iid}").json()["assignee"] == \
            "AM001"
        theirs = [i["id"] for i in live.client("AM002").get("/api/v1/inbox").json()["items"]]
        assert iid not in theirs
        is_problem(live.client("AM002").post(f"/api/v1/instances/{iid}/events/dismiss",
                                             json={"comment": "不是我的"}), 403)
