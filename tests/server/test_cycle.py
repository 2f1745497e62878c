"""The monthly cycle over HTTP: a period run in the background, periods, customers, KPIs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import LiveServer, is_problem, start_server, write_workspace


@pytest.fixture
def cycle_live(tmp_path: Path) -> Iterator[LiveServer]:
    """A workspace with tier and KPI rules."""
    live = start_server(write_workspace(tmp_path, "sqlite:///vip.db",
                                        "kpis: {preset: china-mobile-2006-kpis}\n"))
    yield live
    live.stop()


def _portfolio() -> bytes:
    from vip_workflow.samples import sample_portfolio

    return sample_portfolio(60).write_csv().encode()


def _wait(client: Any, job: dict[str, Any]) -> dict[str, Any]:
    for _ in range(600):
        job = client.get(f"/api/v1/jobs/{job['id']}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"the job did not end: {job}")


class TestPeriods:
    def test_a_period_runs_in_the_background_once_for_the_same_data(
            self, cycle_live: LiveServer) -> None:
        """POST /run answers 202 with a job; polling shows it finish; asking again for the
        same period and data gives the same job."""
        admin = cycle_live.client("ADMIN")
        from vip_workflow.samples import sample_kpi_portfolio

        files = {"portfolio": ("portfolio.csv", _portfolio(), "text/csv"),
                 "kpi_data": ("kpis.csv", sample_kpi_portfolio().write_csv().encode(),
                              "text/csv")}
        response = admin.post("/api/v1/periods/2024-01/run", files=files)
        assert response.status_code == 202, response.text
        assert response.headers["location"] == f"/api/v1/jobs/{response.json()['id']}"
        job = _wait(admin, response.json())
        assert job["status"] == "succeeded", job
        assert job["result"]["customers"] == 60
        again = admin.post("/api/v1/periods/2024-01/run", files=files).json()
        assert again["id"] == job["id"]
        periods = admin.get("/api/v1/periods").json()
        assert periods["periods"] == ["2024-01"]
        one = admin.get("/api/v1/periods/2024-01").json()
        assert one["customers"] == 60 and sum(t["len"] for t in one["tiers"]) == 60
        kpis = admin.get("/api/v1/periods/2024-01/kpis").json()
        assert kpis["rows"]
        assert all(r["by"] is None for r in
                   admin.get("/api/v1/periods/2024-01/kpis", params={"by": "overall"})
                   .json()["rows"])
        customer = admin.get("/api/v1/customers/G0000001").json()
        assert customer["current"]["period"] == "2024-01"
        assert customer["explanation"].startswith("customer G0000001: ")
        is_problem(admin.get("/api/v1/customers/NOPE"), 404)

    def test_running_a_period_needs_an_operator(self, cycle_live: LiveServer) -> None:
        """An account manager may not run the cycle: 403, no job, no period."""
        response = cycle_live.client("AM001").post(
            "/api/v1/periods/2024-01/run",
            files={"portfolio": ("portfolio.csv", _portfolio(), "text/csv")})
        is_problem(response, 403)
        assert cycle_live.client("AM001").get("/api/v1/periods").json()["periods"] == []

    def test_a_bad_period_and_an_unknown_job_are_problems(self, cycle_live: LiveServer
                                                          ) -> None:
        """A period not written YYYY-MM is 400; an unknown job is 404."""
        admin = cycle_live.client("ADMIN")
        is_problem(admin.post("/api/v1/periods/January/run",
                              files={"portfolio": ("p.csv", b"a\n1\n", "text/csv")}), 400)
        is_problem(admin.get("/api/v1/jobs/nope"), 404)
        is_problem(admin.get("/api/v1/periods/2030-01"), 404)
