"""Background jobs in the workspace's database: any worker answers a poll, one run per period,
a job whose worker is gone is reported failed and may be started again.

The job store is tested on real SQLite and PostgreSQL databases (two stores on one database
stand for two workers); the service is tested as ``vip-workflow serve --workers 2`` runs it:
a real uvicorn with two worker processes, polled over fresh connections so that both answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import free_port, write_workspace
from vip_workflow.adapters.server.jobs import Jobs, JobStore

ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database (its ``vw_job`` table made by migration 0007_jobs)."""
    from vip_workflow.adapters.storage.sql.migrate import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'jobs.db'}"
    else:
        url = request.getfixturevalue("pg_storage")
    upgrade(url)
    return url


@pytest.fixture
def two_workers(db_url: str) -> Iterator[tuple[JobStore, JobStore, FakeClock]]:
    """Two job stores on one database (two workers' views), sharing a test clock."""
    from vip_workflow.adapters.storage.sql.engine import make_engine

    clock = FakeClock()
    engines = [make_engine(db_url), make_engine(db_url)]
    yield (JobStore(engines[0], stale_seconds=30, clock=clock),
           JobStore(engines[1], stale_seconds=30, clock=clock), clock)
    for engine in engines:
        engine.dispose()


class TestJobStore:
    def test_a_second_start_of_a_live_period_gets_the_live_job(self, two_workers: Any) -> None:
        """Whichever worker is asked, a period has one live job; other data does not start a
        second run while it lives."""
        one, other, _clock = two_workers
        job, created = one.submit("cycle", "2024-01", "a" * 64, started_by="ADMIN", worker="w1")
        assert created and job.status == "queued" and job.started_by == "ADMIN"
        again, created_again = other.submit("cycle", "2024-01", "b" * 64, started_by="X",
                                            worker="w2")
        assert not created_again and again.id == job.id
        elsewhere, created_elsewhere = other.submit("cycle", "2024-02", "a" * 64,
                                                    started_by="X", worker="w2")
        assert created_elsewhere and elsewhere.id != job.id

    def test_progress_written_by_one_worker_is_read_by_the_other(self, two_workers: Any
                                                                 ) -> None:
        """start → progress → finish on one store; the other sees each step, then the result;
        the same data again gives the succeeded job, other data a new one."""
        one, other, clock = two_workers
        job, _ = one.submit("cycle", "2024-01", "a" * 64, started_by="ADMIN", worker="w1")
        assert one.start(job.id, "w1")
        assert other.get(job.id).status == "running"  # type: ignore[union-attr]
        assert one.progress(job.id, "judge tiers", 3, 11)
        seen = other.get(job.id)
        assert seen is not None and seen.to_dict()["progress"] == {
            "done": 3, "total": 11, "stage": "judge tiers"}
        assert one.finish(job.id, {"customers": 60, "说明": "完成"})
        done = other.get(job.id)
        assert done is not None and done.status == "succeeded"
        assert done.result == {"customers": 60, "说明": "完成"} and done.finished_at
        assert other.submit("cycle", "2024-01", "a" * 64, started_by="X", worker="w2") == (
            done, False)
        clock.now += timedelta(seconds=1)
        rerun, created = other.submit("cycle", "2024-01", "c" * 64, started_by="X",
                                      worker="w2")
        assert created and rerun.id != job.id
        assert [j.id for j in one.of_period("cycle", "2024-01")] == [rerun.id, job.id]

    def test_a_job_whose_worker_is_gone_is_failed_and_the_period_may_start_again(
            self, two_workers: Any) -> None:
        """No heartbeat for longer than stale_seconds: the job reads as failed (stale_job),
        a late write of the gone worker changes nothing, and a new start runs anew."""
        one, other, clock = two_workers
        job, _ = one.submit("cycle", "2024-01", "a" * 64, started_by="ADMIN", worker="w1")
        one.start(job.id, "w1")
        clock.now += timedelta(seconds=20)
        one.beat([job.id])
        clock.now += timedelta(seconds=20)
        assert other.get(job.id).status == "running"  # type: ignore[union-attr]
        clock.now += timedelta(seconds=31)
        stale = other.get(job.id)
        assert stale is not None and stale.status == "failed"
        assert stale.error is not None and stale.error["code"] == "stale_job"
        assert not one.finish(job.id, {"late": True})  # the gone worker's write is refused
        assert other.get(job.id).result is None  # type: ignore[union-attr]
        again, created = other.submit("cycle", "2024-01", "a" * 64, started_by="ADMIN",
                                      worker="w2")
        assert created and again.id != job.id

    def test_a_stale_live_job_is_replaced_by_the_next_start(self, two_workers: Any) -> None:
        """Starting a period whose live job went stale fails that job and starts a new one,
        without anyone polling it first."""
        one, other, clock = two_workers
        job, _ = one.submit("cycle", "2024-01", "a" * 64, started_by="ADMIN", worker="w1")
        clock.now += timedelta(seconds=31)
        again, created = other.submit("cycle", "2024-01", "a" * 64, started_by="ADMIN",
                                      worker="w2")
        assert created and again.id != job.id
        assert one.get(job.id).status == "failed"  # type: ignore[union-attr]

    def test_a_failure_keeps_a_problem_document_and_frees_the_period(self, two_workers: Any
                                                                     ) -> None:
        """A job whose work raises is failed with the error as a problem document (no stack
        trace); the period can be started again at once."""
        from vip_workflow.errors import ConfigError

        one, other, _clock = two_workers
        jobs = Jobs(one, heartbeat_seconds=0.05)
        gate = threading.Event()

        def work(progress: Any) -> dict[str, Any]:
            progress("judge tiers", 0, 2)
            gate.wait(30)
            raise ConfigError("the data has no 'customer_id' column")

        try:
            job = jobs.submit("cycle", "2024-01", b"data", work, started_by="ADMIN")
            while (seen := other.get(job.id)) is None or seen.stage != "judge tiers":
                time.sleep(0.01)
            assert seen.status == "running" and seen.worker == jobs.worker
            gate.set()
            while (seen := other.get(job.id)) is not None and seen.is_live:
                time.sleep(0.01)
        finally:
            gate.set()
            jobs.close()
        assert seen is not None and seen.status == "failed"
        assert seen.error == {"type": "urn:vip-workflow:problem:config_error",
                              "title": "Bad Request", "status": 400, "code": "config_error",
                              "detail": "the data has no 'customer_id' column"}
        assert other.submit("cycle", "2024-01", "x" * 64, started_by="A", worker="w2")[1]


def test_a_heartbeat_slower_than_the_stale_limit_is_refused() -> None:
    """server.job_heartbeat_seconds must be under job_stale_seconds (a ConfigError saying
    both), else every running job would read stale."""
    from vip_workflow.adapters.server.settings import settings_from
    from vip_workflow.errors import ConfigError

    with pytest.raises(ConfigError, match=r"job_heartbeat_seconds \(60\).*job_stale_seconds"):
        settings_from({"job_heartbeat_seconds": 60, "job_stale_seconds": 30})
    assert settings_from({"job_stale_seconds": 30}).job_heartbeat_seconds == 5


def _portfolio_csv(n: int) -> bytes:
    from vip_workflow.samples import sample_portfolio

    return sample_portfolio(n).write_csv().encode()


@pytest.fixture(params=["sqlite", "postgresql"])
def two_worker_server(request: pytest.FixtureRequest, tmp_path: Path
                      ) -> Iterator[tuple[str, str]]:
    """``vip-workflow serve --workers 2`` on a free port: (base URL, an operator's token)."""
    from typer.testing import CliRunner

    from vip_workflow.cli.main import app

    storage = ("sqlite:///vip.db" if request.param == "sqlite"
               else request.getfixturevalue("pg_storage"))
    vip = write_workspace(tmp_path, storage, "server: {job_heartbeat_seconds: 0.5, "
                                             "job_stale_seconds: 10}\n")
    made = CliRunner().invoke(app, ["token", "create", "--workspace", str(vip), "--user",
                                    "OPS", "--roles", "cycle_operator"])
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", "from vip_workflow.cli.main import main; main()", "serve",
         "--workspace", str(vip), "--port", str(port), "--workers", "2",
         "--log-level", "warning"],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("the server did not start")
        yield url, token
    finally:
        process.terminate()
        output = process.communicate(timeout=60)[0].decode(errors="replace")
        assert "Traceback" not in output, output


class TestTwoWorkers:
    def test_a_job_is_polled_on_both_workers_from_start_to_success(
            self, two_worker_server: tuple[str, str]) -> None:
        """POST /run on one worker; polls over fresh connections reach both workers, each
        sees the same job, its progress only moving forward, then success; a second start
        while it lives gets the same job; the cycle's results are in the periods endpoints."""
        url, token = two_worker_server
        auth = {"Authorization": f"Bearer {token}", "Connection": "close"}
        files = {"portfolio": ("portfolio.csv", _portfolio_csv(3000), "text/csv")}
        started = httpx.post(f"{url}/api/v1/periods/2024-01/run", files=files, headers=auth,
                             timeout=60)
        assert started.status_code == 202, started.text
        job_id = started.json()["id"]
        again = httpx.post(f"{url}/api/v1/periods/2024-01/run", files=files, headers=auth,
                           timeout=60)
        assert again.status_code == 202 and again.json()["id"] == job_id
        pids: set[str] = set()
        seen: list[dict[str, Any]] = []
        for _ in range(6000):
            poll = httpx.get(f"{url}/api/v1/jobs/{job_id}", headers=auth, timeout=30)
            assert poll.status_code == 200, poll.text
            pids.add(poll.headers["x-worker-pid"])
            seen.append(poll.json())
            if seen[-1]["status"] in ("succeeded", "failed") and len(pids) > 1:
                break
            time.sleep(0.01)
        statuses = [s["status"] for s in seen]
        assert statuses[-1] == "succeeded", seen[-1]
        assert len(pids) == 2, "every poll reached the same worker"
        order = {"queued": 0, "running": 1, "succeeded": 2}
        assert [order[s] for s in statuses] == sorted(order[s] for s in statuses)
        assert any(s["status"] == "running" and 0 < s["progress"]["done"] < 11 for s in seen)
        done = [s["progress"]["done"] for s in seen]
        assert done == sorted(done) and seen[-1]["progress"] == {
            "done": 11, "total": 11, "stage": "finished"}
        assert seen[-1]["result"]["customers"] == 3000 and seen[-1]["started_by"] == "OPS"
        periods = httpx.get(f"{url}/api/v1/periods", headers=auth, timeout=30).json()
        assert periods["periods"] == ["2024-01"]
        assert [r["status"] for r in periods["runs"]] == ["started", "finished"]
        one = httpx.get(f"{url}/api/v1/periods/2024-01", headers=auth, timeout=30).json()
        assert one["customers"] == 3000
        listed = httpx.get(f"{url}/api/v1/periods/2024-01/jobs", headers=auth,
                           timeout=30).json()
        assert [j["id"] for j in listed["jobs"]] == [job_id]
        same = httpx.post(f"{url}/api/v1/periods/2024-01/run", files=files, headers=auth,
                          timeout=60)
        assert same.json()["id"] == job_id  # the same data again: the succeeded job

    def test_a_job_whose_worker_is_killed_is_failed_and_the_period_runs_again(
            self, two_worker_server: tuple[str, str]) -> None:
        """SIGKILL the worker running a job: once its heartbeat is older than
        job_stale_seconds the job reads failed (stale_job) from the surviving worker, and
        starting the period again runs a new job to success."""
        import signal

        url, token = two_worker_server
        auth = {"Authorization": f"Bearer {token}", "Connection": "close"}
        files = {"portfolio": ("portfolio.csv", _portfolio_csv(20_000), "text/csv")}
        started = httpx.post(f"{url}/api/v1/periods/2024-02/run", files=files, headers=auth,
                             timeout=60)
        assert started.status_code == 202, started.text
        job = started.json()
        assert job["status"] in ("queued", "running")
        os.kill(int(job["worker"].rsplit(":", 1)[1]), signal.SIGKILL)
        for _ in range(1200):  # the stale limit is 10 s; wait up to 2 minutes
            try:
                seen = httpx.get(f"{url}/api/v1/jobs/{job['id']}", headers=auth,
                                 timeout=30).json()
            except httpx.TransportError:  # the killed worker's socket
                seen = job
            if seen["status"] not in ("queued", "running"):
                break
            time.sleep(0.1)
        assert seen["status"] == "failed" and seen["error"]["code"] == "stale_job", seen
        again = httpx.post(f"{url}/api/v1/periods/2024-02/run", files=files, headers=auth,
                           timeout=60).json()
        assert again["id"] != job["id"]
        for _ in range(3000):
            done = httpx.get(f"{url}/api/v1/jobs/{again['id']}", headers=auth,
                             timeout=30).json()
            if done["status"] not in ("queued", "running"):
                break
            time.sleep(0.1)
        assert done["status"] == "succeeded", done
        assert done["result"]["customers"] == 20_000
