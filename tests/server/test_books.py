"""Rules over HTTP: books, schemas, judging one customer and a batch, a diff."""

from __future__ import annotations

import io
import logging

import polars as pl
import pytest

from tests.server.conftest import LiveServer, is_problem

CUSTOMER = {"customer_id": "G1", "importance": "provincial_gov", "revenue": 25000.0,
            "headcount": 3000}


class TestAuthentication:
    def test_no_token_is_401_with_a_problem_document(self, live: LiveServer) -> None:
        """Without Authorization the service answers 401 and says how to authenticate."""
        response = live.client().get("/api/v1/books")
        body = is_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert body["code"] == "unauthorized"

    def test_an_unknown_or_revoked_token_is_401_and_never_echoed(self, live: LiveServer
                                                                  ) -> None:
        """A bad token is refused; the token appears in no part of the answer."""
        bad = "vwt_000000000000_notarealtoken"
        response = live.client(Authorization=f"Bearer {bad}").get("/api/v1/books")
        is_problem(response, 401)
        assert bad not in response.text
        info = next(i for i in live.service.tokens.list() if i.user == "AM002")
        live.service.tokens.revoke(info.id)
        revoked = live.client("AM002").get("/api/v1/books")
        is_problem(revoked, 401)
        assert live.tokens["AM002"] not in revoked.text

    def test_tokens_never_reach_the_log(self, sqlite_live: LiveServer,
                                        caplog: pytest.LogCaptureFixture) -> None:
        """Good, bad and failing requests log nothing that holds a token."""
        bad = "vwt_000000000000_secretsecret"
        with caplog.at_level(logging.DEBUG):
            sqlite_live.client("AM001").get("/api/v1/books")
            sqlite_live.client("AM001").get("/api/v1/instances/nope")
            sqlite_live.client(Authorization=f"Bearer {bad}").get("/api/v1/books")
        text = "\n".join(r.getMessage() for r in caplog.records)
        assert bad not in text and sqlite_live.tokens["AM001"] not in text

    def test_tokens_are_stored_as_hashes_only(self, live: LiveServer) -> None:
        """The token table holds no token, only SHA-256 digests of them."""
        import sqlalchemy as sa

        from vip_workflow.adapters.server.tokens import digest

        engine = live.service.workspace.store.instances.engine
        with engine.connect() as c:
            stored = {r.hash for r in c.execute(sa.text("select hash from vw_api_token"))}
            text = " ".join(str(v) for r in c.execute(sa.text("select * from vw_api_token"))
                            for v in r)
        assert digest(live.tokens["AM001"]) in stored
        assert all(token not in text for token in live.tokens.values())


class TestBooks:
    def test_the_workspace_books_are_listed_with_their_versions(self, live: LiveServer
                                                                 ) -> None:
        """GET /books lists the tier book of vip.yaml with its versions."""
        response = live.client("AM001").get("/api/v1/books")
        assert response.status_code == 200
        (book,) = response.json()
        assert (book["name"], book["kind"]) == ("hubei-2006", "tiers")
        assert book["versions"][0]["version"] == book["latest"]

    def test_the_json_schema_of_each_kind_is_served(self, sqlite_live: LiveServer) -> None:
        """GET /schemas/{kind} is a JSON Schema; an unknown kind is a 422 problem."""
        client = sqlite_live.client("AM001")
        for kind in ("tiers", "triggers", "kpis"):
            schema = client.get(f"/api/v1/schemas/{kind}").json()
            assert "properties" in schema or "$defs" in schema
        is_problem(client.get("/api/v1/schemas/nonsense"), 422)

    def test_judge_one_customer_gives_the_library_decision(self, live: LiveServer) -> None:
        """POST /books/{name}/judge answers what RuleBook.judge decides."""
        import vip_workflow as vw

        response = live.client("AM001").post("/api/v1/books/hubei-2006/judge",
                                             json={"customer": CUSTOMER})
        assert response.status_code == 200, response.text
        expected = vw.preset("hubei-2006").judge(CUSTOMER)
        assert (response.json()["tier"], response.json()["rule"]) == (expected.tier,
                                                                     expected.rule)

    def test_judge_refuses_like_every_other_route(self, sqlite_live: LiveServer) -> None:
        """The judge route (served without FastAPI's dependency solving) answers no token,
        malformed JSON, an empty body, a wrong type and an unknown field as the others do."""
        path = "/api/v1/books/hubei-2006/judge"
        anonymous = sqlite_live.client()
        assert is_problem(anonymous.post(path, json={"customer": CUSTOMER}),
                          401)["code"] == "unauthorized"
        client = sqlite_live.client("AM001", **{"Content-Type": "application/json"})
        assert is_problem(client.post(path, content=b'{"customer": {'),
                          400)["code"] == "malformed_json"
        assert ["body"] in [e["location"] for e in is_problem(
            client.post(path, content=b""), 422)["errors"]]
        for body, where in (({"customer": [1, 2]}, ["body", "customer"]),
                            ({"customer": CUSTOMER, "speed": 1}, ["body", "speed"]),
                            ({"customer": CUSTOMER, "period": "May"}, ["body", "period"])):
            found = is_problem(client.post(path, json=body), 422)
            assert where in [e["location"] for e in found["errors"]], found

    def test_judge_writes_what_json_cannot_hold_as_fastapi_would(
            self, sqlite_live: LiveServer) -> None:
        """A customer's values come back in the decision as JSON (the body is written by the
        route itself, not by FastAPI)."""
        customer = CUSTOMER | {"customer_id": "客户-1"}
        body = sqlite_live.client("AM001").post("/api/v1/books/hubei-2006/judge",
                                                json={"customer": customer}).json()
        assert body["customer"] == "客户-1"
        assert body["ok"] is True
        assert isinstance(body["trace"], list)

    def test_every_answer_says_how_long_the_service_worked(
            self, sqlite_live: LiveServer) -> None:
        """Server-Timing: app;dur=<ms> on answers and refusals alike."""
        client = sqlite_live.client("AM001")
        for response in (client.post("/api/v1/books/hubei-2006/judge",
                                     json={"customer": CUSTOMER}),
                         client.get("/api/v1/books"), client.get("/api/v1/nowhere")):
            timing = response.headers["server-timing"]
            assert timing.startswith("app;dur=")
            assert float(timing.removeprefix("app;dur=")) >= 0

    def test_explain_gives_the_steps_in_words(self, sqlite_live: LiveServer) -> None:
        """POST /explain adds the readable explanation of the decision."""
        body = sqlite_live.client("AM001").post("/api/v1/books/hubei-2006/explain",
                                                json={"customer": CUSTOMER}).json()
        assert body["explanation"].startswith("customer G1: tier")
        assert body["steps"]

    def test_an_unknown_book_is_a_404_problem(self, sqlite_live: LiveServer) -> None:
        """A book the workspace does not have is 404, naming the known ones."""
        body = is_problem(sqlite_live.client("AM001").post(
            "/api/v1/books/nope/judge", json={"customer": CUSTOMER}), 404)
        assert "hubei-2006" in body["detail"]

    def test_a_batch_of_json_rows_is_judged(self, sqlite_live: LiveServer) -> None:
        """POST /judge-batch judges every row as judge_many does."""
        rows = [CUSTOMER, {**CUSTOMER, "customer_id": "G2", "revenue": 10.0}]
        body = sqlite_live.client("AM001").post("/api/v1/books/hubei-2006/judge-batch",
                                                json={"rows": rows}).json()
        assert [r["customer_id"] for r in body["rows"]] == ["G1", "G2"]
        assert all("tier" in r for r in body["rows"])

    def test_an_uploaded_csv_comes_back_judged_as_csv_or_parquet(
            self, sqlite_live: LiveServer) -> None:
        """POST /judge-file returns the judged file in the format asked for."""
        csv = pl.DataFrame([CUSTOMER]).write_csv().encode()
        client = sqlite_live.client("AM001")
        as_csv = client.post("/api/v1/books/hubei-2006/judge-file",
                             files={"file": ("c.csv", csv, "text/csv")})
        assert as_csv.status_code == 200, as_csv.text
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert "tier" in pl.read_csv(io.BytesIO(as_csv.content)).columns
        as_parquet = client.post("/api/v1/books/hubei-2006/judge-file",
                                 files={"file": ("c.csv", csv, "text/csv")},
                                 data={"output": "parquet"})
        assert pl.read_parquet(io.BytesIO(as_parquet.content)).height == 1

    def test_a_diff_of_a_version_with_itself_moves_nobody(self, sqlite_live: LiveServer
                                                           ) -> None:
        """POST /diff compares two versions on uploaded customers."""
        client = sqlite_live.client("AM001")
        version = client.get("/api/v1/books/hubei-2006").json()["latest"]
        csv = pl.DataFrame([CUSTOMER]).write_csv().encode()
        body = client.post("/api/v1/books/hubei-2006/diff",
                           files={"file": ("c.csv", csv, "text/csv")},
                           data={"old": version, "new": version}).json()
        assert body["total"] == 1 and body["changed"] == []


class TestUploads:
    def test_a_parquet_upload_is_judged(self, sqlite_live: LiveServer) -> None:
        """Parquet files are read as such and may come back as Parquet."""
        buffer = io.BytesIO()
        pl.DataFrame([CUSTOMER]).write_parquet(buffer)
        response = sqlite_live.client("AM001").post(
            "/api/v1/books/hubei-2006/judge-file",
            files={"file": ("c.parquet", buffer.getvalue())}, data={"output": "parquet"})
        assert response.status_code == 200, response.text
        assert pl.read_parquet(io.BytesIO(response.content))["customer_id"].to_list() == ["G1"]

    def test_an_unknown_format_and_an_empty_file_are_400(self, sqlite_live: LiveServer
                                                         ) -> None:
        """Files the service cannot read are named in a 400 problem."""
        client = sqlite_live.client("AM001")
        body = is_problem(client.post("/api/v1/books/hubei-2006/judge-file",
                                      files={"file": ("c.xlsx", b"PK\x03\x04")}), 400)
        assert "c.xlsx" in body["detail"]
        is_problem(client.post("/api/v1/books/hubei-2006/judge-file",
                               files={"file": ("c.csv", b"")}), 400)


class TestMissingExtra:
    def test_without_fastapi_the_server_names_its_extra(self) -> None:
        """Importing the service without the server extra is a MissingExtraError."""
        import subprocess
        import sys

        code = ("import sys; sys.modules['fastapi'] = None\n"
                "from vip_workflow.errors import MissingExtraError\n"
                "try:\n    import vip_workflow.adapters.server\n"
                "except MissingExtraError as e:\n    print(e.extra)\n")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True)
        assert done.stdout.strip() == "server"
