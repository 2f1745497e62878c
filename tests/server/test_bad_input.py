"""Bad input: each a clear problem response, nothing written, and the server keeps serving."""

from __future__ import annotations

import pytest

from tests.server.conftest import LiveServer, is_problem

OVERRIDE = {"customer_id": "G1", "requested_tier": "A", "reason": "r"}
JUDGE = "/api/v1/books/hubei-2006/judge"


def _count(live: LiveServer) -> int:
    return len(live.service.engine.store.find())


@pytest.fixture
def server(sqlite_live: LiveServer):  # type: ignore[no-untyped-def]
    """The service; after the test it must still answer and must hold no instance."""
    before = _count(sqlite_live)
    yield sqlite_live
    assert _count(sqlite_live) == before, "a refused request wrote something"
    assert sqlite_live.client("AM001").get("/api/v1/books").status_code == 200


class TestBadInput:
    def test_malformed_json_is_400(self, server: LiveServer) -> None:
        """A body that is not JSON is 400 malformed_json."""
        response = server.client("AM001", **{"Content-Type": "application/json"}).post(
            "/api/v1/instances", content=b'{"process": "tier_override", "context": {')
        assert is_problem(response, 400)["code"] == "malformed_json"

    def test_wrong_types_are_422_with_their_location(self, server: LiveServer) -> None:
        """A list where an object belongs is named by its location."""
        response = server.client("AM001").post(
            "/api/v1/instances", json={"process": "tier_override", "context": [1, 2]})
        body = is_problem(response, 422)
        assert ["body", "context"] in [e["location"] for e in body["errors"]]

    def test_unknown_fields_are_422(self, server: LiveServer) -> None:
        """An unknown field is refused, not ignored."""
        response = server.client("AM001").post(
            "/api/v1/instances", json={"process": "tier_override", "context": OVERRIDE,
                                       "priority": "high"})
        body = is_problem(response, 422)
        assert ["body", "priority"] in [e["location"] for e in body["errors"]]

    def test_a_50_mb_body_is_413(self, server: LiveServer) -> None:
        """A body over the limit (20 MB by default) is refused before it is read."""
        big = b"customer_id,revenue\n" + b"G1,1\n" * (10 * 1024 * 1024)
        response = server.client("AM001").post(
            "/api/v1/books/hubei-2006/judge-file", files={"file": ("big.csv", big)})
        assert is_problem(response, 413)["code"] == "payload_too_large"

    def test_a_50_mb_body_without_a_length_is_413_too(self, server: LiveServer) -> None:
        """A chunked body (no Content-Length) is cut off once it passes the limit."""
        def chunks():  # type: ignore[no-untyped-def]
            yield b'{"customer": {"x": "'
            for _ in range(50):
                yield b"a" * (1024 * 1024)
            yield b'"}}'

        response = server.client("AM001", **{"Content-Type": "application/json"}).post(
            JUDGE, content=chunks())
        is_problem(response, 413)

    def test_a_gbk_csv_is_400_naming_the_encoding_option_and_read_with_it(
            self, server: LiveServer) -> None:
        """GBK bytes sent as UTF-8: 400 naming encoding=; with encoding=gbk it is judged."""
        csv = ("customer_id,name,importance,revenue,headcount\n"
               "G1,湖北省政府,provincial_gov,25000,3000\n")
        files = {"file": ("客户.csv", csv.encode("gbk"), "text/csv")}
        client = server.client("AM001")
        refused = client.post("/api/v1/books/hubei-2006/judge-file", files=files)
        body = is_problem(refused, 400)
        assert "encoding=gb18030" in body["detail"]
        ok = client.post("/api/v1/books/hubei-2006/judge-file", files=files,
                         data={"encoding": "gbk"})
        assert ok.status_code == 200 and "湖北省政府" in ok.content.decode("utf-8")

    @pytest.mark.parametrize("text", [
        "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n",
        "kind: tiers\nname: !!python/object/apply:os.system ['true']\n",
    ], ids=["alias-bomb", "python-tag"])
    def test_a_hostile_rule_file_is_422_with_its_location(self, server: LiveServer,
                                                          text: str) -> None:
        """The safe reader refuses aliases and tags; the problem says where."""
        response = server.client("AM001").post(
            "/api/v1/rule-files/check", files={"file": ("evil.yaml", text.encode())})
        body = is_problem(response, 422)
        assert body["code"] == "rule_file_error"
        assert body["errors"] and body["errors"][0]["line"] is not None

    def test_an_unknown_instance_is_404(self, server: LiveServer) -> None:
        """Reading or commanding an instance that does not exist is 404."""
        client = server.client("AM001")
        assert is_problem(client.get("/api/v1/instances/nope"), 404)["code"] == "not_found"
        is_problem(client.post("/api/v1/instances/nope/approve", json={}), 404)

    def test_a_stale_if_match_is_412_and_changes_nothing(self, sqlite_live: LiveServer
                                                         ) -> None:
        """A command on an old version is refused; the instance stays as it was."""
        client = sqlite_live.client("AM001")
        started = client.post("/api/v1/instances",
                              json={"process": "tier_override", "context": OVERRIDE})
        iid = started.json()["id"]
        response = client.post(f"/api/v1/instances/{iid}/events/submit", json={},
                               headers={"If-Match": '"999"'})
        is_problem(response, 412)
        after = client.get(f"/api/v1/instances/{iid}").json()
        assert (after["version"], after["ledger"]) == (started.json()["version"],
                                                       started.json()["ledger"])

    def test_an_unknown_route_and_method_are_problems(self, server: LiveServer) -> None:
        """404 and 405 from the router are problem documents too."""
        client = server.client("AM001")
        is_problem(client.get("/api/v1/nowhere"), 404)
        is_problem(client.delete("/api/v1/books"), 405)
