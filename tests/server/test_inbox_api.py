"""``GET /api/v1/inbox``: paged in the store by cursor, filters applied there, and the
separation of duties holding on every page (on SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import LiveServer, is_problem

OVERRIDE = {"customer_id": "G1", "requested_tier": "A", "reason": "集团战略客户"}


def _submitted(live: LiveServer, user: str, n: int) -> list[str]:
    ids = []
    client = live.client(user)
    for _ in range(n):
        made = client.post("/api/v1/instances", json={"process": "tier_override",
                                                      "context": OVERRIDE})
        assert made.status_code == 201, made.text
        iid = made.json()["id"]
        assert client.post(f"/api/v1/instances/{iid}/events/submit", json={}).status_code \
            == 200
        ids.append(iid)
    return ids


def _walk(live: LiveServer, user: str, **params: Any) -> list[list[str]]:
    client = live.client(user)
    pages: list[list[str]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/v1/inbox", params=query).json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100


class TestInboxPages:
    def test_pages_hold_only_what_i_may_decide_and_are_full_but_the_last(
            self, live: LiveServer) -> None:
        """IM001 requested four overrides and may not approve them; the two AM001 requested
        come one a page, none twice, the last page's cursor null; filters narrow in the
        store."""
        own = _submitted(live, "IM001", 4)
        theirs = _submitted(live, "AM001", 2)
        pages = _walk(live, "IM001", limit=1)
        assert sorted(i for page in pages for i in page) == sorted(theirs)
        assert [len(page) for page in pages] == [1, 1]
        assert not {i for page in pages for i in page} & set(own)
        assert _walk(live, "IM001", limit=1, state="approval") == pages
        assert _walk(live, "IM001", state="request") == [[]]
        assert _walk(live, "IM001", overdue="true") == [[]]
        assert [i for page in _walk(live, "IM001", overdue="false", limit=5)
                for i in page] == [i for page in pages for i in page]
        assert _walk(live, "IM001", definition="retention_case") == [[]]
        director = _walk(live, "DD001", limit=4)
        assert [len(page) for page in director] == [4, 2]
        assert sorted(i for page in director for i in page) == sorted(own + theirs)

    def test_a_cursor_not_made_here_is_a_problem(self, live: LiveServer) -> None:
        """A forged or damaged cursor is 400 bad_cursor, not a 500 or an empty page."""
        client = live.client("DD001")
        for cursor in ("%%%", "bm90IGpzb24", "WzEsMl0"):
            body = is_problem(client.get("/api/v1/inbox", params={"cursor": cursor}), 400)
            assert body["code"] == "bad_cursor"
