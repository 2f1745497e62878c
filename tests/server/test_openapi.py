"""The served OpenAPI document: the resource layout of the issue, bearer auth everywhere."""

from __future__ import annotations

from tests.server.conftest import LiveServer

LAYOUT = [
    ("get", "/api/v1/books"), ("get", "/api/v1/books/{name}"),
    ("get", "/api/v1/schemas/{kind}"), ("post", "/api/v1/books/{name}/judge"),
    ("post", "/api/v1/books/{name}/explain"), ("post", "/api/v1/books/{name}/judge-batch"),
    ("post", "/api/v1/books/{name}/judge-file"), ("post", "/api/v1/books/{name}/diff"),
    ("post", "/api/v1/rule-files/check"),
    ("get", "/api/v1/processes"), ("get", "/api/v1/processes/{name}"),
    ("post", "/api/v1/instances"), ("get", "/api/v1/instances/{instance_id}"),
    ("get", "/api/v1/instances/{instance_id}/events"),
    ("post", "/api/v1/instances/{instance_id}/events/{event}"),
    *[("post", f"/api/v1/instances/{{instance_id}}/{command}") for command in (
        "approve", "reject", "recall", "delegate", "claim", "release", "reassign")],
    ("patch", "/api/v1/instances/{instance_id}/context"),
    ("get", "/api/v1/inbox"), ("get", "/api/v1/customers/{customer_id}"),
    ("get", "/api/v1/periods"), ("get", "/api/v1/periods/{period}"),
    ("post", "/api/v1/periods/{period}/run"), ("get", "/api/v1/jobs/{job_id}"),
    ("get", "/api/v1/periods/{period}/jobs"),
    ("get", "/api/v1/periods/{period}/kpis"),
]


class TestOpenApi:
    def test_the_document_is_served_without_a_token(self, sqlite_live: LiveServer) -> None:
        """GET /openapi.json needs no credential and is OpenAPI 3."""
        response = sqlite_live.client().get("/openapi.json")
        assert response.status_code == 200
        assert response.json()["openapi"].startswith("3.")

    def test_every_resource_of_the_layout_is_there(self, sqlite_live: LiveServer) -> None:
        """The paths and methods of the issue's layout, no more operations than documented."""
        paths = sqlite_live.client().get("/openapi.json").json()["paths"]
        served = {(m, p) for p, ops in paths.items() for m in ops}
        assert set(LAYOUT) == served

    def test_every_operation_asks_for_a_bearer_token(self, sqlite_live: LiveServer) -> None:
        """Each operation names the bearer scheme, so generated clients send it."""
        document = sqlite_live.client().get("/openapi.json").json()
        assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
        for path, ops in document["paths"].items():
            for method, op in ops.items():
                assert op.get("security") == [{"HTTPBearer": []}], (method, path)

    def test_commands_document_if_match_and_idempotency_key(self, sqlite_live: LiveServer
                                                            ) -> None:
        """Approve takes If-Match and Idempotency-Key headers."""
        op = sqlite_live.client().get("/openapi.json").json()["paths"][
            "/api/v1/instances/{instance_id}/approve"]["post"]
        headers = {p["name"] for p in op["parameters"] if p["in"] == "header"}
        assert {"if-match", "idempotency-key"} <= headers
