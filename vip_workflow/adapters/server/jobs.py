"""Background jobs in the workspace's database, so that every worker of the service sees them.

A job is a period of the monthly cycle run in the background (``POST /periods/{p}/run``). The
worker that accepts it runs it on its own thread and writes its progress into ``vw_job``
(migration ``0007_jobs``): the status (``queued``, ``running``, ``succeeded``, ``failed``),
``done`` of ``total`` stages and the stage under way, and a heartbeat every few seconds; any
worker answers ``GET /jobs/{id}`` from the row.

- One live job per period: the row of a queued or running job holds ``live_key``, unique
  across the table, so a second start of the period — on any worker — gets the live job back
  and runs nothing.
- Idempotent as ``run_cycle`` is: starting a period again with the same data (SHA-256) after
  it succeeded gives that job back; other data, or a failed job, starts a new run.
- A job whose heartbeat is older than ``stale_seconds`` (its worker is gone) is reported
  ``failed`` with a ``stale_job`` problem, and the period may be started again.

``memory://`` workspaces keep their jobs in a private in-memory SQLite database (one worker).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

import attrs
import sqlalchemy as sa

from vip_workflow.adapters.storage._schema import jobs as table
from vip_workflow.errors import VipWorkflowError

__all__ = ["LIVE", "STATUSES", "Job", "JobStore", "Jobs", "problem_of"]

#: Every status a job passes through, in order (``failed`` may follow either live one).
STATUSES = ("queued", "running", "succeeded", "failed")
#: The statuses of a live job.
LIVE = frozenset({"queued", "running"})

_log = logging.getLogger("vip_workflow.server")

Clock = Callable[[], datetime]
#: ``work(progress)`` runs the job and returns its result summary.
Work = Callable[[Callable[[str, int, int], None]], dict[str, Any]]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def worker_name() -> str:
    """This process, as a job's ``worker`` names it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def problem_of(exc: BaseException) -> dict[str, Any]:
    """The RFC 9457 problem document a failed job keeps for ``exc`` (no stack trace)."""
    from vip_workflow.adapters.server.problems import status_of

    if isinstance(exc, VipWorkflowError):
        status, code, detail = status_of(exc), exc.code, str(exc)
    else:
        status, code, detail = 500, "internal_error", f"{type(exc).__name__}: {exc}"
    return {"type": f"urn:vip-workflow:problem:{code}", "title": HTTPStatus(status).phrase,
            "status": status, "detail": detail, "code": code}


@attrs.frozen
class Job:
    """One job as its row says."""

    id: str
    kind: str
    period: str
    digest: str
    status: str
    done: int
    total: int
    stage: str
    started_by: str
    worker: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    heartbeat_at: str
    error: dict[str, Any] | None
    result: dict[str, Any] | None

    @property
    def is_live(self) -> bool:
        """Queued or running."""
        return self.status in LIVE

    def to_dict(self) -> dict[str, Any]:
        """The job as the service shows it."""
        body = attrs.asdict(self)
        body["progress"] = {"done": body.pop("done"), "total": body.pop("total"),
                            "stage": body.pop("stage")}
        return body


def _job(row: Any) -> Job:
    return Job(id=row.id, kind=row.kind, period=row.period, digest=row.digest,
               status=row.status, done=row.done, total=row.total, stage=row.stage,
               started_by=row.started_by, worker=row.worker, created_at=row.created_at,
               started_at=row.started_at, finished_at=row.finished_at,
               heartbeat_at=row.heartbeat_at,
               error=None if row.error is None else json.loads(row.error),
               result=None if row.result is None else json.loads(row.result))


def _memory_engine() -> sa.Engine:
    engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool,
                              connect_args={"check_same_thread": False})
    table.create(engine)
    return engine


class JobStore:
    """The ``vw_job`` rows of a SQL database (``engine=None``: a private in-memory one)."""

    def __init__(self, engine: sa.Engine | None, *, stale_seconds: float = 60.0,
                 clock: Clock = _utc_now) -> None:
        self._memory = engine is None
        self._engine = _memory_engine() if engine is None else engine
        self._write = self._engine.execution_options(vw_write=True)  # BEGIN IMMEDIATE
        self._lock = threading.Lock()  # the in-memory database has one shared connection
        self.stale_seconds = stale_seconds
        self.clock = clock

    @contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        if self._memory:
            with self._lock, self._write.begin() as c:
                yield c
        else:
            with self._write.begin() as c:
                yield c

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        if self._memory:
            with self._lock, self._engine.connect() as c:
                yield c
        else:
            with self._engine.connect() as c:
                yield c

    def _row(self, c: sa.Connection, job_id: str) -> Job | None:
        row = c.execute(table.select().where(table.c.id == job_id)).first()
        return None if row is None else _job(row)

    def _is_stale(self, job: Job, now: datetime) -> bool:
        horizon = now - timedelta(seconds=self.stale_seconds)
        return job.is_live and job.heartbeat_at < _text(horizon)

    def _expire(self, c: sa.Connection, job: Job, now: datetime) -> None:
        """Mark a live job whose heartbeat stopped as failed (unless it beat meanwhile)."""
        problem = {"type": "urn:vip-workflow:problem:stale_job", "title": "Gone",
                   "status": 410, "code": "stale_job",
                   "detail": (f"the worker {job.worker} running the job sent no heartbeat "
                              f"since {job.heartbeat_at} (more than {self.stale_seconds:g} s):"
                              " it is gone; start the period again")}
        c.execute(table.update().where(table.c.id == job.id,
                                       table.c.heartbeat_at == job.heartbeat_at,
                                       table.c.status.in_(LIVE))
                  .values(status="failed", live_key=None, finished_at=_text(now),
                          error=json.dumps(problem, ensure_ascii=False)))

    def submit(self, kind: str, period: str, digest: str, *, started_by: str,
               worker: str, total: int = 0) -> tuple[Job, bool]:
        """The job of ``kind`` for ``period`` on data of SHA-256 ``digest``, and whether it is
        new (the caller runs a new one): the live job of the period if there is one, else a
        succeeded job on the same data, else a new queued job."""
        live_key = f"{kind}:{period}"
        for _attempt in range(5):
            now = self.clock()
            try:
                with self._begin() as c:
                    live = c.execute(table.select().where(table.c.live_key == live_key)).first()
                    if live is not None:
                        job = _job(live)
                        if not self._is_stale(job, now):
                            return job, False
                        self._expire(c, job, now)
                    done = c.execute(table.select().where(
                        table.c.kind == kind, table.c.period == period,
                        table.c.digest == digest, table.c.status == "succeeded",
                    ).order_by(table.c.created_at.desc()).limit(1)).first()
                    if done is not None:
                        return _job(done), False
                    job_id = uuid.uuid4().hex
                    c.execute(table.insert().values(
                        id=job_id, kind=kind, period=period, digest=digest, status="queued",
                        live_key=live_key, done=0, total=total, stage="queued",
                        started_by=started_by, worker=worker, created_at=_text(now),
                        heartbeat_at=_text(now)))
                    created = self._row(c, job_id)
                    assert created is not None
                    return created, True
            except sa.exc.IntegrityError:
                continue  # another worker made the period's live job meanwhile: read it
        raise RuntimeError(f"could not start or find the job of {period}")  # pragma: no cover

    def get(self, job_id: str) -> Job | None:
        """The job (a live one whose worker is gone comes back failed), or ``None``."""
        now = self.clock()
        with self._read() as c:  # a poll reads; it writes only to expire a stale job
            job = self._row(c, job_id)
        if job is None or not self._is_stale(job, now):
            return job
        with self._begin() as c:
            self._expire(c, job, now)
            return self._row(c, job_id)

    def of_period(self, kind: str, period: str) -> list[Job]:
        """The period's jobs, newest first (stale ones as ``get`` reports them)."""
        with self._read() as c:
            ids = c.execute(sa.select(table.c.id).where(
                table.c.kind == kind, table.c.period == period,
            ).order_by(table.c.created_at.desc())).scalars().all()
        return [job for job in map(self.get, ids) if job is not None]

    def _update(self, job_id: str, **values: Any) -> bool:
        values["heartbeat_at"] = _text(self.clock())
        with self._begin() as c:
            done = c.execute(table.update().where(table.c.id == job_id,
                                                  table.c.status.in_(LIVE)).values(**values))
        return bool(done.rowcount)

    def start(self, job_id: str, worker: str) -> bool:
        """The job runs now on ``worker`` (``False``: it is no longer live)."""
        return self._update(job_id, status="running", worker=worker,
                            started_at=_text(self.clock()), stage="starting")

    def progress(self, job_id: str, stage: str, done: int, total: int) -> bool:
        """``done`` of ``total`` steps are over; ``stage`` is under way."""
        return self._update(job_id, stage=stage[:200], done=done, total=total)

    def beat(self, job_ids: list[str]) -> None:
        """The worker running ``job_ids`` is alive."""
        if not job_ids:
            return
        with self._begin() as c:
            c.execute(table.update().where(table.c.id.in_(job_ids), table.c.status.in_(LIVE))
                      .values(heartbeat_at=_text(self.clock())))

    def finish(self, job_id: str, result: dict[str, Any]) -> bool:
        """The job succeeded with ``result``."""
        return self._update(job_id, status="succeeded", live_key=None, stage="finished",
                            finished_at=_text(self.clock()),
                            result=json.dumps(result, ensure_ascii=False, default=str))

    def fail(self, job_id: str, problem: dict[str, Any]) -> bool:
        """The job failed with ``problem`` (an RFC 9457 document)."""
        return self._update(job_id, status="failed", live_key=None,
                            finished_at=_text(self.clock()),
                            error=json.dumps(problem, ensure_ascii=False))


class Jobs:
    """Runs the jobs this worker accepted, one at a time, and beats their heart."""

    def __init__(self, store: JobStore, *, heartbeat_seconds: float = 5.0) -> None:
        self.store = store
        self.worker = worker_name()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vw-job")
        self._mine: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._heart = threading.Thread(target=self._beat, args=(heartbeat_seconds,),
                                       name="vw-job-heartbeat", daemon=True)
        self._heart.start()

    def submit(self, kind: str, period: str, data: bytes, work: Work, *,
               started_by: str, total: int = 0) -> Job:
        """The job of ``kind`` for ``period`` on ``data`` (see ``JobStore.submit``); a new one
        is run here."""
        digest = hashlib.sha256(data).hexdigest()
        job, created = self.store.submit(kind, period, digest, started_by=started_by,
                                         worker=self.worker, total=total)
        if created:
            with self._lock:
                self._mine.add(job.id)
            self._pool.submit(self._run, job.id, work)
        return job

    def _run(self, job_id: str, work: Work) -> None:
        try:
            if not self.store.start(job_id, self.worker):
                return

            def progress(stage: str, done: int, total: int) -> None:
                self.store.progress(job_id, stage, done, total)

            try:
                result = work(progress)
            except Exception as exc:  # the job records it; the service keeps serving
                self.store.fail(job_id, problem_of(exc))
            else:
                self.store.finish(job_id, result)
        finally:
            with self._lock:
                self._mine.discard(job_id)

    def _beat(self, every: float) -> None:
        while not self._stop.wait(every):
            with self._lock:
                mine = sorted(self._mine)
            try:
                self.store.beat(mine)
            except Exception:  # a missed beat is retried on the next one
                _log.warning("job heartbeat of %s failed", self.worker, exc_info=True)

    def get(self, job_id: str) -> Job | None:
        """The job, as any worker sees it."""
        return self.store.get(job_id)

    def close(self) -> None:
        """Stop: jobs queued here and not begun are failed; a running one is let finish."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._stop.set()
        with self._lock:
            left = sorted(self._mine)
        for job_id in left:
            self.store.fail(job_id, {
                "type": "urn:vip-workflow:problem:service_stopped", "title": "Gone",
                "status": 410, "code": "service_stopped",
                "detail": "the service stopped before the job ran; start the period again"})
