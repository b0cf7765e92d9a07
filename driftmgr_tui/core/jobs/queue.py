"""The persistent job queue: enqueue, claim, run with heartbeats, retry, cancel, recover.

Every state change is one short transaction with a conditional UPDATE, which is what makes the queue safe
with several threads and processes on SQLite (WAL) and PostgreSQL alike:

- claiming: ``UPDATE job SET status='running' ... WHERE id=:id AND status='queued'``; rowcount 0 means
  another worker won the race, and the claimer tries the next candidate.
- everything a worker writes while it holds a job (heartbeat, progress, the outcome) is fenced by
  ``status='running' AND owner=:owner AND attempts=:attempt``. A job that was cancelled, finished, or
  recovered from under a worker can never be written back to life by that worker's late writes.

No session is held open while a handler runs. Each running job has a heartbeat thread that writes
``heartbeat_at`` about every second, flushes pending progress, and polls ``cancel_requested`` every 0.2 s
so a cancellation requested by another process reaches the handler through ``ctx.cancel_event``.
"""

from __future__ import annotations

import builtins
import logging
import random
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, update
from sqlmodel import col, select

from driftmgr_tui.core.db import session_scope
from driftmgr_tui.core.errors import JobNotFoundError, UsageError
from driftmgr_tui.core.events import EventBus, encode_json
from driftmgr_tui.core.jobs.runner import HEARTBEAT_INTERVAL, Handler, JobRun
from driftmgr_tui.core.jobs.view import (
    ERROR_RECOVERED,
    JobStatus,
    JobView,
    owner_is_dead,
    process_owner,
)
from driftmgr_tui.core.models import Job, utcnow

log = logging.getLogger(__name__)

_CLAIM_RACE_RETRIES = 100


class JobQueue:
    """The job table as a queue. Cheap to create; one per process is typical, several are fine.

    ``rng`` drives the backoff jitter (pass ``random.Random(seed)`` for reproducible delays).
    """

    def __init__(
        self,
        engine: Engine,
        bus: EventBus | None = None,
        *,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        stale_after: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        if stale_after <= 2 * HEARTBEAT_INTERVAL:
            raise ValueError(
                f"stale_after must exceed {2 * HEARTBEAT_INTERVAL} s (heartbeats come every "
                f"{HEARTBEAT_INTERVAL} s), got {stale_after}"
            )
        self.engine = engine
        self.bus = bus if bus is not None else EventBus(engine)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.stale_after = stale_after
        self.rng = rng or random.Random()
        self._active: dict[int, JobRun] = {}
        self._active_lock = threading.Lock()
        self._wakeups: set[threading.Event] = set()

    # --- reading ---

    def get(self, job_id: int) -> JobView:
        """The job's current row. JobNotFoundError ("no job 42") if there is none."""
        with session_scope(self.engine) as session:
            row = session.get(Job, job_id)
        if row is None:
            raise JobNotFoundError(f"no job {job_id}")
        return JobView.from_row(row)

    def list(
        self, *, kind: str | None = None, status: Iterable[str] | None = None, limit: int = 100
    ) -> builtins.list[JobView]:
        """Jobs, newest first, optionally of one kind and/or in some statuses (UsageError for a bad status)."""
        query = select(Job).order_by(col(Job.created_at).desc(), col(Job.id).desc()).limit(limit)
        if kind is not None:
            query = query.where(Job.kind == kind)
        if status is not None:
            wanted = [s.strip() for s in ([status] if isinstance(status, str) else status)]
            unknown = [s for s in wanted if s not in JobStatus.__members__.values()]
            if unknown:
                choices = ", ".join(s.value for s in JobStatus)
                raise UsageError(f"unknown job status {unknown[0]!r} (expected one of: {choices})")
            query = query.where(col(Job.status).in_(wanted))
        with session_scope(self.engine) as session:
            rows = session.exec(query).all()
        return [JobView.from_row(row) for row in rows]

    # --- writing ---

    def enqueue(
        self, kind: str, payload: dict[str, Any] | None = None, *, priority: int = 0, max_attempts: int = 3
    ) -> JobView:
        """Add a queued job. ``payload`` must be JSON-serialisable (TypeError otherwise)."""
        if not kind:
            raise ValueError("a job needs a kind")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        if payload is not None and not isinstance(payload, dict):
            raise TypeError(f"a job payload is a dict, got {payload.__class__.__name__}")
        row = Job(
            kind=kind,
            priority=priority,
            payload=encode_json(payload or {}),
            max_attempts=max_attempts,
            message="queued",
        )
        with session_scope(self.engine) as session:
            session.add(row)
            session.flush()
            view = JobView.from_row(row)
        self.bus.publish("job.queued", {"kind": kind, "priority": priority}, job_id=view.id)
        self.wake()
        return view

    def request_cancel(self, job_id: int) -> JobView:
        """Cancel a job: queued -> cancelled at once; running -> ``cancel_requested`` (its worker stops it);
        finished -> unchanged. Returns the job as it is afterwards."""
        now = utcnow()
        event = None
        with session_scope(self.engine) as session:
            connection = session.connection()
            for _ in range(
                10
            ):  # a job moving between queued and running (a retry) is caught on the next turn
                done = connection.execute(
                    update(Job)
                    .where(col(Job.id) == job_id, col(Job.status) == JobStatus.QUEUED.value)
                    .values(
                        status=JobStatus.CANCELLED.value,
                        cancel_requested=True,
                        finished_at=now,
                        message="cancelled by request",
                    )
                )
                if done.rowcount:
                    event = "job.cancelled"
                    break
                done = connection.execute(
                    update(Job)
                    .where(col(Job.id) == job_id, col(Job.status) == JobStatus.RUNNING.value)
                    .values(cancel_requested=True)
                )
                if done.rowcount:
                    event = "job.cancel_requested"
                    break
                status = session.exec(select(Job.status).where(Job.id == job_id)).first()
                if status is None:
                    raise JobNotFoundError(f"no job {job_id}")
                if JobStatus(status) not in (JobStatus.QUEUED, JobStatus.RUNNING):
                    break
        with self._active_lock:
            run = self._active.get(job_id)
        if run is not None:
            run.cancel_event.set()  # no need to wait for the heartbeat's poll in our own process
        view = self.get(job_id)
        if event:
            self.bus.publish(event, {"kind": view.kind}, job_id=job_id)
        return view

    def claim(self, worker_id: str, kinds: Iterable[str] | None = None) -> JobView | None:
        """Take the best claimable job (queued, due, not cancelled; highest priority, then oldest) for
        ``worker_id`` (``host:pid``, see :func:`process_owner`), or None. Safe across threads and processes.

        The caller must then run it (the pool and :meth:`run_inline` do); a claimed job that nobody heartbeats
        is recovered after ``stale_after``.
        """
        kinds = None if kinds is None else builtins.list(kinds)
        if kinds == []:
            return None
        return self._claim(worker_id, kinds=kinds)

    def _claim(
        self, owner: str, *, kinds: builtins.list[str] | None = None, job_id: int | None = None
    ) -> JobView | None:
        for _ in range(_CLAIM_RACE_RETRIES):
            now = utcnow()
            with session_scope(self.engine) as session:
                if job_id is None:
                    query = (
                        select(Job.id)
                        .where(
                            Job.status == JobStatus.QUEUED.value,
                            col(Job.run_after) <= now,
                            col(Job.cancel_requested).is_(False),
                        )
                        .order_by(col(Job.priority).desc(), col(Job.created_at), col(Job.id))
                        .limit(1)
                    )
                    if kinds is not None:
                        query = query.where(col(Job.kind).in_(kinds))
                    candidate = session.exec(query).first()
                    if candidate is None:
                        return None
                else:
                    candidate = job_id
                done = session.connection().execute(
                    update(Job)
                    .where(
                        col(Job.id) == candidate,
                        col(Job.status) == JobStatus.QUEUED.value,
                        col(Job.cancel_requested).is_(False),
                    )
                    .values(
                        status=JobStatus.RUNNING.value,
                        attempts=Job.attempts + 1,
                        owner=owner,
                        started_at=now,
                        heartbeat_at=now,
                        finished_at=None,
                        message="running",
                    )
                )
                view = (
                    JobView.from_row(row)
                    if done.rowcount == 1 and (row := session.get(Job, candidate))
                    else None
                )
            if view is not None:
                self.bus.publish(
                    "job.started",
                    {"kind": view.kind, "attempt": view.attempts, "owner": owner},
                    job_id=view.id,
                )
                return view
            if job_id is not None:
                return None
        log.warning("gave up claiming after %d lost races", _CLAIM_RACE_RETRIES)
        return None

    def run_inline(self, job_id: int, handler: Handler, *, worker_id: str | None = None) -> JobView:
        """Claim this queued job and run it in the calling thread until it is finished; returns the final view.

        Used by the CLI to run in the foreground while other processes watch. Unlike a pool worker, it keeps
        the job ``running`` between attempts and waits out the backoff itself (a cancellation cuts the wait
        short). UsageError if the job is not queued (already running, finished or cancelled).
        """
        owner = worker_id or process_owner()
        view = self._claim(owner, job_id=job_id)
        if view is None:
            current = self.get(job_id)
            where = f" by {current.owner}" if current.status is JobStatus.RUNNING and current.owner else ""
            raise UsageError(f"job {job_id} cannot be run: it is {current.status.value}{where}")
        return self.run_claimed(view, handler, owner=owner, inline=True)

    def run_claimed(self, view: JobView, handler: Handler, *, owner: str, inline: bool = False) -> JobView:
        """Run a job already claimed by ``owner`` (as :meth:`claim` returned it) to its next resting state:
        finished, or (``inline`` False) queued again for a retry. Returns the job as it is afterwards."""
        run = JobRun(self, view, owner)
        with self._active_lock:
            self._active[run.job_id] = run
        try:
            return run.execute(handler, inline=inline)
        finally:
            with self._active_lock:
                self._active.pop(run.job_id, None)

    # --- start-up recovery ---

    def recover(self) -> builtins.list[JobView]:
        """Take back running jobs whose worker is gone: its process is dead (same host) or its heartbeat is
        older than ``stale_after`` (any host). Each is requeued if attempts remain, else failed; cancelled if
        cancellation had been requested. Returns the jobs changed; publishes ``job.recovered`` for each."""
        now = utcnow()
        stale_before = now - timedelta(seconds=self.stale_after)
        with session_scope(self.engine) as session:
            rows = session.exec(select(Job).where(Job.status == JobStatus.RUNNING.value)).all()
        with self._active_lock:
            ours = set(self._active)
        changed = []
        for row in rows:
            if row.id in ours:
                continue
            seen = _when(row.heartbeat_at)
            if owner_is_dead(row.owner):
                reason = f"recovered: worker {row.owner} died (last heartbeat at {seen})"
            elif row.heartbeat_at is None or row.heartbeat_at < stale_before:
                reason = f"recovered: worker {row.owner} stopped heartbeating at {seen}"
            else:
                continue
            view = self._recover_one(row, reason, now)
            if view is not None:
                changed.append(view)
        return changed

    def _recover_one(self, row: Job, reason: str, now: datetime) -> JobView | None:
        values: dict[str, Any] = {"error": reason, "error_kind": ERROR_RECOVERED, "owner": None}
        if row.cancel_requested:
            values.update(
                status=JobStatus.CANCELLED.value,
                finished_at=now,
                message=f"cancelled by request; {reason}",
                error=None,
                error_kind=None,
            )
        elif row.attempts < row.max_attempts:
            values.update(status=JobStatus.QUEUED.value, run_after=now, heartbeat_at=None, message=reason)
        else:
            values.update(
                status=JobStatus.FAILED.value,
                finished_at=now,
                message=f"{reason}; no attempts left ({row.attempts} of {row.max_attempts})",
            )
        fence = [
            col(Job.id) == row.id,
            col(Job.status) == JobStatus.RUNNING.value,
            col(Job.attempts) == row.attempts,
            col(Job.owner).is_(None) if row.owner is None else col(Job.owner) == row.owner,
            col(Job.heartbeat_at).is_(None)
            if row.heartbeat_at is None
            else col(Job.heartbeat_at) == row.heartbeat_at,
        ]
        with session_scope(self.engine) as session:
            done = session.connection().execute(update(Job).where(*fence).values(**values))
        if done.rowcount != 1:
            return None  # it heartbeat, finished or was recovered by someone else meanwhile
        view = self.get(row.id)  # type: ignore[arg-type]
        log.warning("job %s (%s): %s -> %s", view.id, view.kind, reason, view.status.value)
        self.bus.publish(
            "job.recovered",
            {"kind": view.kind, "owner": row.owner, "status": view.status.value, "reason": reason},
            job_id=view.id,
        )
        if view.status is not JobStatus.QUEUED:
            self.bus.publish(
                f"job.{view.status.value}",
                {
                    "kind": view.kind,
                    "attempts": view.attempts,
                    "error": reason,
                    "error_kind": ERROR_RECOVERED,
                },
                job_id=view.id,
            )
        self.wake()
        return view

    # --- for WorkerPool ---

    def count_pending(self, kinds: Iterable[str]) -> int:
        """Jobs of ``kinds`` that are running, or queued and not cancelled (including ones waiting to retry)."""
        kinds = builtins.list(kinds)
        if not kinds:
            return 0
        with session_scope(self.engine) as session:
            query = (
                select(func.count())
                .select_from(Job)
                .where(
                    col(Job.kind).in_(kinds),
                    (col(Job.status) == JobStatus.RUNNING.value)
                    | ((col(Job.status) == JobStatus.QUEUED.value) & col(Job.cancel_requested).is_(False)),
                )
            )
            return int(session.exec(query).one())

    def add_wakeup(self, event: threading.Event) -> None:
        """``event`` is set whenever this queue makes a job claimable (enqueue, requeue, recovery)."""
        with self._active_lock:
            self._wakeups.add(event)

    def remove_wakeup(self, event: threading.Event) -> None:
        with self._active_lock:
            self._wakeups.discard(event)

    def wake(self) -> None:
        """Set every registered wakeup (a job may have become claimable)."""
        with self._active_lock:
            wakeups = builtins.list(self._wakeups)
        for event in wakeups:
            event.set()


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "an unknown time"
