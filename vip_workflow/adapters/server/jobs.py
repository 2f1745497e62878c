"""Cycle runs in the background: one at a time, polled through ``/api/v1/jobs/{id}``.

A run is keyed by its period and the SHA-256 of its data: asking again for a run that is
queued, running or finished returns that job (as ``run_cycle`` is idempotent, asking after a
failure starts a new attempt).
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import attrs

__all__ = ["Job", "Jobs"]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@attrs.define
class Job:
    """One background run and what is known of it so far."""

    id: str
    period: str
    digest: str
    status: str = "queued"  # queued, running, finished, failed
    created_at: str = attrs.field(factory=_now)
    started_at: str | None = None
    finished_at: str | None = None
    result: dict[str, Any] | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


class Jobs:
    """The service's background runs (kept in memory by the process that runs them)."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vw-cycle")

    def submit(self, period: str, data: bytes, work: Callable[[], dict[str, Any]]) -> Job:
        """The job of ``period`` on ``data``: a live or finished one, else a new one."""
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            for job in self._jobs.values():
                if (job.period, job.digest) == (period, digest) and job.status != "failed":
                    return job
            job = Job(id=uuid.uuid4().hex, period=period, digest=digest)
            self._jobs[job.id] = job
        self._pool.submit(self._run, job, work)
        return job

    def _run(self, job: Job, work: Callable[[], dict[str, Any]]) -> None:
        job.status, job.started_at = "running", _now()
        try:
            job.result = work()
        except Exception as exc:  # the job records it; the service keeps serving
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
        else:
            job.status = "finished"
        job.finished_at = _now()

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
