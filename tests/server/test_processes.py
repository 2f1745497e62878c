"""Processes over HTTP: definitions, start, commands, versions (ETag / If-Match), retries."""

from __future__ import annotations

from tests.server.conftest import LiveServer, is_problem

OVERRIDE = {"customer_id": "G1", "requested_tier": "A", "reason": "provincial account",
            "computed_tier": "B"}


def _start(live: LiveServer, **headers: str) -> dict:
    response = live.client("AM001", **headers).post(
        "/api/v1/instances", json={"process": "tier_override", "context": OVERRIDE})
    assert response.status_code == 201, response.text
    return response.json()


class TestDefinitions:
    def test_definitions_are_listed_and_drawn_in_mermaid_and_dot(self, sqlite_live: LiveServer
                                                                  ) -> None:
        """GET /processes lists the bundled definitions; one comes with both diagrams."""
        client = sqlite_live.client("AM001")
        names = {d["name"] for d in client.get("/api/v1/processes").json()}
        assert {"tier_override", "retention_case", "sales"} <= names
        one = client.get("/api/v1/processes/tier_override").json()
        assert one["mermaid"].startswith("stateDiagram-v2")
        assert one["dot"].startswith("digraph")
        assert one["definition"]["initial"] == "request"


class TestInstances:
    def test_start_fire_and_approve_walk_the_process(self, live: LiveServer) -> None:
        """An override is started, submitted and approved by a director; the ledger holds."""
        started = _start(live)
        assert started["state"] == "request" and started["ledger_verified"]
        iid = started["id"]
        submitted = live.client("AM001").post(f"/api/v1/instances/{iid}/events/submit",
                                              json={"comment": "请审批"})
        assert submitted.status_code == 200, submitted.text
        assert submitted.json()["state"] == "approval"
        approved = live.client("DD001").post(f"/api/v1/instances/{iid}/approve",
                                             json={"comment": "同意"})
        assert approved.status_code == 200, approved.text
        final = live.client("DD001").get(f"/api/v1/instances/{iid}").json()
        assert (final["state"], final["final"], final["ledger_verified"]) == (
            "applied", True, True)
        assert {"请审批", "同意"} <= {e["comment"] for e in final["ledger"]}

    def test_a_user_without_the_right_gets_403_and_nothing_changes(self, live: LiveServer
                                                                    ) -> None:
        """An account manager cannot approve; the instance's version is unchanged."""
        iid = _start(live)["id"]
        live.client("AM001").post(f"/api/v1/instances/{iid}/events/submit", json={})
        before = live.client("AM001").get(f"/api/v1/instances/{iid}").json()
        refused = live.client("AM002").post(f"/api/v1/instances/{iid}/approve", json={})
        assert refused.status_code in (403, 409)
        is_problem(refused, refused.status_code)
        nobody = live.client("NOBODY").post(f"/api/v1/instances/{iid}/events/withdraw",
                                            json={})
        assert nobody.status_code in (403, 409)
        after = live.client("AM001").get(f"/api/v1/instances/{iid}").json()
        assert after["version"] == before["version"]
        assert after["ledger"] == before["ledger"]

    def test_a_start_by_a_role_that_may_not_start_is_403(self, sqlite_live: LiveServer
                                                          ) -> None:
        """The engine's PermissionDenied becomes 403."""
        response = sqlite_live.client("NOBODY").post(
            "/api/v1/instances", json={"process": "tier_override", "context": OVERRIDE})
        assert is_problem(response, 403)["code"] == "permission_denied"

    def test_a_context_that_breaks_the_schema_is_422_with_each_field(
            self, sqlite_live: LiveServer) -> None:
        """InvalidContextError lists every field in errors."""
        response = sqlite_live.client("AM001").post(
            "/api/v1/instances", json={"process": "tier_override", "context": {}})
        body = is_problem(response, 422)
        assert body["code"] == "invalid_context"
        assert {e["field"] for e in body["errors"]} >= {"customer_id", "requested_tier"}

    def test_the_etag_is_the_version_and_a_stale_if_match_is_412(self, live: LiveServer
                                                                  ) -> None:
        """A command with the ETag read goes through; with an old one it is refused."""
        client = live.client("AM001")
        read = client.get(f"/api/v1/instances/{_start(live)['id']}")
        iid, tag = read.json()["id"], read.headers["etag"]
        assert tag == f'"{read.json()["version"]}"'
        ok = client.post(f"/api/v1/instances/{iid}/events/submit", json={},
                         headers={"If-Match": tag})
        assert ok.status_code == 200 and ok.headers["etag"] != tag
        stale = client.post(f"/api/v1/instances/{iid}/recall", json={},
                            headers={"If-Match": tag})
        body = is_problem(stale, 412)
        assert body["current_etag"] == ok.headers["etag"]
        assert client.get(f"/api/v1/instances/{iid}").json()["state"] == "approval"

    def test_an_idempotency_key_makes_a_retry_safe(self, live: LiveServer) -> None:
        """The same start twice with one key starts one instance; the fire twice, one change."""
        first = _start(live, **{"Idempotency-Key": "crm-42"})
        again = _start(live, **{"Idempotency-Key": "crm-42"})
        assert first["id"] == again["id"] and first["version"] == again["version"]
        client = live.client("AM001", **{"Idempotency-Key": "crm-43"})
        one = client.post(f"/api/v1/instances/{first['id']}/events/submit", json={}).json()
        two = client.post(f"/api/v1/instances/{first['id']}/events/submit", json={}).json()
        assert one["version"] == two["version"]
        other = live.client("AM001", **{"Idempotency-Key": "crm-43"}).post(
            f"/api/v1/instances/{first['id']}/events/withdraw", json={})
        assert is_problem(other, 409)["code"] == "request_id_conflict"

    def test_reject_recall_delegate_and_context_update(self, sqlite_live: LiveServer) -> None:
        """The other commands reach the engine: recall, reject with a reason, delegate."""
        live = sqlite_live
        iid = _start(live)["id"]
        am, dd = live.client("AM001"), live.client("DD001")
        changed = am.patch(f"/api/v1/instances/{iid}/context",
                           json={"data": {"reason": "省级政府客户"}, "comment": "补充"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["context"]["reason"] == "省级政府客户"
        am.post(f"/api/v1/instances/{iid}/events/submit", json={})
        assert am.post(f"/api/v1/instances/{iid}/recall", json={}).json()["state"] == "request"
        am.post(f"/api/v1/instances/{iid}/events/submit", json={})
        is_problem(dd.post(f"/api/v1/instances/{iid}/reject", json={}), 422)
        delegated = dd.post(f"/api/v1/instances/{iid}/delegate",
                            json={"to": "DD002", "until": "2099-01-01T00:00:00Z"})
        assert delegated.status_code == 200, delegated.text
        rejected = dd.post(f"/api/v1/instances/{iid}/reject", json={"comment": "理由不足"})
        assert rejected.status_code == 200, rejected.text
        last = rejected.json()["ledger"][-1]
        assert (last["action"], last["actor"], last["comment"]) == ("reject", "DD001", "理由不足")

    def test_available_events_are_those_of_the_caller(self, sqlite_live: LiveServer) -> None:
        """GET /events lists what the caller may fire now."""
        iid = _start(sqlite_live)["id"]
        mine = sqlite_live.client("AM001").get(f"/api/v1/instances/{iid}/events").json()
        theirs = sqlite_live.client("NOBODY").get(f"/api/v1/instances/{iid}/events").json()
        assert "submit" in mine and theirs == []

    def test_a_command_answers_with_the_instance_as_stored(self, live: LiveServer) -> None:
        """Start, fire and approve answer with what GET then reads (body, ETag, Location),
        their available events those of GET /events for the caller (answered without reading
        the instance again)."""
        am, dd = live.client("AM001"), live.client("DD001")
        started = am.post("/api/v1/instances",
                          json={"process": "tier_override", "context": OVERRIDE})
        assert started.status_code == 201, started.text
        iid = started.json()["id"]
        for client, command, body in (
                (am, None, None), (am, "events/submit", {"comment": "请审批"}),
                (dd, "approve", {})):
            answer = started if command is None else client.post(
                f"/api/v1/instances/{iid}/{command}", json=body)
            assert answer.status_code in (200, 201), answer.text
            assert answer.headers["content-type"] == "application/json"
            read = client.get(f"/api/v1/instances/{iid}")
            assert answer.json() == read.json()
            assert answer.json()["available_events"] == client.get(
                f"/api/v1/instances/{iid}/events").json()
            version = read.json()["version"]
            assert answer.headers["etag"] == read.headers["etag"] == f'"{version}"'
            assert answer.headers["location"] == f"/api/v1/instances/{iid}"
            if command is None:  # a step only account managers act on, read by another
                theirs = dd.get(f"/api/v1/instances/{iid}").json()["available_events"]
                assert answer.json()["available_events"] and theirs == []
        assert read.json()["final"] and read.json()["ledger_verified"]


class TestInbox:
    def test_the_inbox_pages_by_cursor_through_my_work(self, live: LiveServer) -> None:
        """The director's inbox holds the submitted overrides, two a page, none twice."""
        ids = set()
        for _ in range(3):
            iid = _start(live)["id"]
            live.client("AM001").post(f"/api/v1/instances/{iid}/events/submit", json={})
            ids.add(iid)
        client = live.client("DD001")
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2, "definition": "tier_override"}
            if cursor:
                params["cursor"] = cursor
            body = client.get("/api/v1/inbox", params=params).json()
            seen += [i["id"] for i in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(ids)
        assert client.get("/api/v1/inbox", params={"state": "request"}).json()["items"] == []
        is_problem(client.get("/api/v1/inbox", params={"cursor": "%%%"}), 400)


class TestConcurrency:
    def test_eight_directors_approving_at_once_one_wins(self, live: LiveServer) -> None:
        """8 clients approve the same level at the same moment: one 200, the rest 409, and
        the ledger verifies."""
        import threading
        from concurrent.futures import ThreadPoolExecutor

        iid = _start(live)["id"]
        live.client("AM001").post(f"/api/v1/instances/{iid}/events/submit", json={})
        tokens = [live.service.tokens.create(f"DD1{n:02d}", ["department_director"])[1]
                  for n in range(8)]
        barrier = threading.Barrier(8)

        def approve(token: str) -> int:
            client = live.client(Authorization=f"Bearer {token}")
            barrier.wait()
            return client.post(f"/api/v1/instances/{iid}/approve",
                               json={"comment": "同意"}).status_code

        with ThreadPoolExecutor(8) as pool:
            codes = sorted(pool.map(approve, tokens))
        assert codes == [200] + [409] * 7, codes
        final = live.client("DD001").get(f"/api/v1/instances/{iid}").json()
        assert (final["state"], final["ledger_verified"]) == ("applied", True)
        assert sum(e["action"] == "approve" for e in final["ledger"]) == 1
