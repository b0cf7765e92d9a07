"""Running one claimed job in this process: the handler's context, heartbeats, retries, the outcome.

A :class:`JobRun` is the job as this worker holds it. Its fence (``owner`` + ``attempt``) guards every write,
so once the row leaves ``running`` under this owner and attempt (finished, cancelled, or recovered by another
process after our heartbeat stalled) nothing this worker does later can change it: the write matches no row
and the run is marked lost, which also wakes the handler through ``cancel_event``.

No database session is open while the handler runs; every write is its own short transaction.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.sql import ColumnElement
from sqlmodel import col, select

from driftmgr_tui.core.db import session_scope
from driftmgr_tui.core.errors import JobCancelledError
from driftmgr_tui.core.events import EventBus, decode_json, encode_json
from driftmgr_tui.core.jobs.view import (
    ERROR_FATAL,
    ERROR_RETRYABLE,
    JobStatus,
    JobView,
    backoff_delay,
    describe_error,
)
from driftmgr_tui.core.models import Job, utcnow

if TYPE_CHECKING:
    from driftmgr_tui.core.jobs.queue import JobQueue

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 1.0
CANCEL_POLL_INTERVAL = 0.2


class JobContext:
    """What a handler gets while its job runs: the payload, progress reporting, cancellation, events.

    ``cancel_event`` is set when cancellation is requested (here or, within ~0.2 s, by another process) and
    also when this worker lost the job (recovered elsewhere after its heartbeat stalled); a handler blocked in
    a wait should wait on it (``ctx.cancel_event.wait(timeout)``) and then call :meth:`check_cancelled`.
    """

    def __init__(self, run: JobRun, payload: dict[str, Any], bus: EventBus) -> None:
        self._run = run
        self.job_id = run.job_id
        self.kind = run.kind
        self.payload = payload
        self.attempt = run.attempt
        self.max_attempts = run.max_attempts
        self.bus = bus
        self.cancel_event = run.cancel_event

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check_cancelled(self) -> None:
        """Raise JobCancelledError if the job should stop. Cheap: reads an in-memory flag."""
        if self.cancel_event.is_set():
            if self._run.lost:
                raise JobCancelledError(f"job {self.job_id} is no longer held by this worker")
            raise JobCancelledError(f"job {self.job_id} was cancelled")

    def progress(self, percent: float | None = None, message: str | None = None) -> None:
        """Report progress (0..100, clamped) and/or a status line.

        Always publishes an in-process ``job.progress`` event (not persisted); the row is updated by the
        heartbeat thread within ~0.2 s, so calling this in a tight loop costs no database round trip.
        """
        if percent is not None:
            if math.isnan(percent):
                raise ValueError("progress percent is NaN")
            percent = min(100.0, max(0.0, float(percent)))
        self._run.set_progress(percent, message)
        self.bus.publish(
            "job.progress", {"percent": percent, "message": message}, job_id=self.job_id, persist=False
        )

    def emit(self, type: str, payload: dict[str, Any] | None = None, *, persist: bool = True) -> None:
        """Publish an event tagged with this job's id."""
        self.bus.publish(type, payload, job_id=self.job_id, persist=persist)


Handler = Callable[[JobContext], "dict[str, Any] | None"]


@dataclass(frozen=True)
class _Outcome:
    status: JobStatus | None  # None: retry
    message: str = ""
    error: str | None = None
    error_kind: str | None = None
    result: str | None = None
    delay: float = 0.0
    reraise: BaseException | None = None


class JobRun:
    """A job held by this process: its fence (owner, attempt), cancel flag, pending progress, heartbeat."""

    def __init__(self, queue: JobQueue, view: JobView, owner: str) -> None:
        self.queue = queue
        self.job_id = view.id
        self.kind = view.kind
        self.owner = owner
        self.attempt = view.attempts
        self.max_attempts = view.max_attempts
        self.payload_text = encode_json(view.payload)
        self.cancel_event = threading.Event()
        self.lost = False
        self.last_message: str | None = None
        self._pending: dict[str, Any] = {}
        self._pending_lock = threading.Lock()
        # Held by every fenced write and by each heartbeat tick, so the heartbeat never checks or writes with
        # a fence the handler thread is moving (inline retries bump the attempt).
        self._write_lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def fence(self) -> list[ColumnElement[bool]]:
        return [
            col(Job.id) == self.job_id,
            col(Job.status) == JobStatus.RUNNING.value,
            col(Job.owner) == self.owner,
            col(Job.attempts) == self.attempt,
        ]

    def write(self, values: dict[str, Any], *extra: ColumnElement[bool], next_attempt: bool = False) -> bool:
        """Conditional UPDATE of the row this worker holds; False if it is no longer ours (or ``extra`` fails).

        ``next_attempt``: also bump ``attempts`` and move the fence with it (inline retries).
        """
        with self._write_lock:
            if next_attempt:
                values = {**values, "attempts": self.attempt + 1}
            with session_scope(self.queue.engine) as session:
                done = session.connection().execute(update(Job).where(*self.fence(), *extra).values(**values))
                ok = done.rowcount == 1
            if ok and next_attempt:
                self.attempt += 1
            return ok

    def set_progress(self, percent: float | None, message: str | None) -> None:
        with self._pending_lock:
            if percent is not None:
                self._pending["progress"] = percent
            if message is not None:
                self._pending["message"] = message
                self.last_message = message

    def take_pending(self) -> dict[str, Any]:
        with self._pending_lock:
            pending, self._pending = self._pending, {}
        return pending

    def mark_lost(self) -> None:
        if not self.lost:
            self.lost = True
            log.warning(
                "job %s is no longer held by worker %s (recovered or finished elsewhere)",
                self.job_id,
                self.owner,
            )
        self.cancel_event.set()

    # --- heartbeat thread ---

    def start_heartbeat(self) -> None:
        self._thread = threading.Thread(
            target=self._beat, name=f"driftmgr-job-{self.job_id}-heartbeat", daemon=True
        )
        self._thread.start()

    def stop_heartbeat(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _beat(self) -> None:
        last_beat = time.monotonic()
        failing_since: float | None = None
        while not self._stop.wait(CANCEL_POLL_INTERVAL) and not self.lost:
            due = time.monotonic() - last_beat >= HEARTBEAT_INTERVAL
            try:
                if not self._tick(beat=due):
                    return
            except Exception:
                # A database hiccup must not kill the heartbeat; if it lasts past stale_after the job is
                # recovered elsewhere and the fence tells us on the next successful write. Logged once per
                # outage, not five times a second.
                if failing_since is None:
                    failing_since = time.monotonic()
                    log.warning("job %s: heartbeat failed; retrying", self.job_id, exc_info=True)
                continue
            if due:
                last_beat = time.monotonic()
            if failing_since is not None:
                log.warning(
                    "job %s: heartbeat restored after %.1f s", self.job_id, time.monotonic() - failing_since
                )
                failing_since = None

    def _tick(self, *, beat: bool) -> bool:
        """One heartbeat turn: flush progress / beat if due, then poll for a cancel. False once lost."""
        with self._write_lock:
            pending = self.take_pending()
            try:
                if (pending or beat) and not self.write({"heartbeat_at": utcnow(), **pending}):
                    self.mark_lost()
                    return False
            except Exception:
                with self._pending_lock:
                    self._pending = {**pending, **self._pending}
                raise
            with session_scope(self.queue.engine) as session:
                row = session.exec(
                    select(Job.status, Job.owner, Job.attempts, Job.cancel_requested).where(
                        Job.id == self.job_id
                    )
                ).first()
            if row is None or (row[0], row[1], row[2]) != (JobStatus.RUNNING.value, self.owner, self.attempt):
                if not self._stop.is_set():
                    self.mark_lost()
                return False
            if row[3]:
                self.cancel_event.set()
            return True

    # --- running the handler ---

    def execute(self, handler: Handler, *, inline: bool) -> JobView:
        """Run attempts until the job is finished or, when not ``inline``, queued again for a retry."""
        self.start_heartbeat()
        stopped = False
        try:
            while True:
                outcome = self._attempt(handler)
                if outcome.status is None and not self.lost:  # a retryable failure with attempts left
                    if not inline:
                        self.stop_heartbeat()
                        stopped = True
                        return self._requeue(outcome)
                    try:
                        ended = self._wait_and_retry(outcome)
                    except KeyboardInterrupt as e:  # Ctrl-C while a foreground run waits to retry
                        ended = _Outcome(JobStatus.CANCELLED, message="interrupted", reraise=e)
                    if ended is None:
                        continue
                    outcome = ended
                break
            self.stop_heartbeat()
            stopped = True
            final = self._finish(outcome)
            if outcome.reraise is not None:
                raise outcome.reraise
            return final
        finally:
            if not stopped:
                self.stop_heartbeat()

    def _attempt(self, handler: Handler) -> _Outcome:
        ctx = JobContext(self, decode_json(self.payload_text) or {}, self.queue.bus)
        try:
            result = handler(ctx)
        except JobCancelledError as e:
            requested = self.cancel_event.is_set()
            return _Outcome(
                JobStatus.CANCELLED, message="cancelled by request" if requested else f"cancelled: {e}"
            )
        except Exception as e:
            if self.cancel_event.is_set():
                log.info("job %s raised after cancellation was requested", self.job_id, exc_info=True)
                return _Outcome(JobStatus.CANCELLED, message="cancelled by request")
            log.exception(
                "job %s (%s) attempt %d of %d failed", self.job_id, self.kind, self.attempt, self.max_attempts
            )
            message, retryable, retry_after = describe_error(e)
            if not retryable:
                return _Outcome(JobStatus.FAILED, message="failed", error=message, error_kind=ERROR_FATAL)
            if self.attempt >= self.max_attempts:
                return _Outcome(
                    JobStatus.FAILED,
                    message=f"failed after {self.attempt} attempts",
                    error=message,
                    error_kind=ERROR_RETRYABLE,
                )
            delay = backoff_delay(
                self.attempt,
                base=self.queue.backoff_base,
                cap=self.queue.backoff_cap,
                retry_after=retry_after,
                rng=self.queue.rng,
            )
            return _Outcome(None, error=message, error_kind=ERROR_RETRYABLE, delay=delay)
        except BaseException as e:  # KeyboardInterrupt in a foreground run: record it, then let it propagate
            interrupted = isinstance(e, KeyboardInterrupt)
            return _Outcome(
                JobStatus.CANCELLED if interrupted else JobStatus.FAILED,
                message="interrupted" if interrupted else "failed",
                error=None if interrupted else describe_error(e)[0],
                error_kind=None if interrupted else ERROR_FATAL,
                reraise=e,
            )
        if result is not None and not isinstance(result, dict):
            error = f"TypeError: handler returned {type(result).__name__}, expected a dict or None"
            return _Outcome(JobStatus.FAILED, message="failed", error=error, error_kind=ERROR_FATAL)
        try:
            text = None if result is None else encode_json(result)
        except TypeError as e:
            return _Outcome(
                JobStatus.FAILED, message="failed", error=f"TypeError: result {e}", error_kind=ERROR_FATAL
            )
        return _Outcome(JobStatus.SUCCEEDED, message=self.last_message or "done", result=text)

    def _retry_message(self, outcome: _Outcome) -> str:
        return f"attempt {self.attempt} of {self.max_attempts} failed; retrying in {outcome.delay:.1f} s"

    def _requeue(self, outcome: _Outcome) -> JobView:
        """Pool path: back to queued with ``run_after`` in the future, unless cancelled meanwhile."""
        values = {
            "status": JobStatus.QUEUED.value,
            "owner": None,
            "heartbeat_at": None,
            "run_after": utcnow() + timedelta(seconds=outcome.delay),
            "error": outcome.error,
            "error_kind": outcome.error_kind,
            "message": self._retry_message(outcome),
            **{k: v for k, v in self.take_pending().items() if k == "progress"},
        }
        if self.write(values, col(Job.cancel_requested).is_(False)):
            self.queue.bus.publish(
                "job.retrying",
                {"kind": self.kind, "attempt": self.attempt, "delay": outcome.delay, "error": outcome.error},
                job_id=self.job_id,
            )
            self.queue.wake()
            return self.queue.get(self.job_id)
        # Still ours but cancel_requested was set while the handler failed: the cancellation wins.
        return self._finish(_Outcome(JobStatus.CANCELLED, message="cancelled by request"))

    def _wait_and_retry(self, outcome: _Outcome) -> _Outcome | None:
        """Inline path: stay running, wait the backoff (cut short by a cancel), start the next attempt.

        Returns None to run the next attempt, or the outcome that ends the job.
        """
        values = {
            "error": outcome.error,
            "error_kind": outcome.error_kind,
            "message": self._retry_message(outcome),
            "run_after": utcnow() + timedelta(seconds=outcome.delay),
        }
        if not self.write(values):
            self.mark_lost()
            return outcome
        self.queue.bus.publish(
            "job.retrying",
            {"kind": self.kind, "attempt": self.attempt, "delay": outcome.delay, "error": outcome.error},
            job_id=self.job_id,
        )
        if self.cancel_event.wait(outcome.delay):
            return _Outcome(JobStatus.CANCELLED, message="cancelled by request")
        if not self.write({"message": "running", "started_at": utcnow()}, next_attempt=True):
            self.mark_lost()
            return outcome
        self.queue.bus.publish(
            "job.started",
            {"kind": self.kind, "attempt": self.attempt, "owner": self.owner},
            job_id=self.job_id,
        )
        return None

    def _finish(self, outcome: _Outcome) -> JobView:
        """Write the final status (fenced) and publish ``job.<status>``."""
        if self.lost or outcome.status is None:
            log.warning(
                "job %s: discarding this worker's outcome (%s); the job is no longer ours",
                self.job_id,
                outcome.status or "retry",
            )
            return self.queue.get(self.job_id)
        now = utcnow()
        values: dict[str, Any] = {
            **self.take_pending(),
            "status": outcome.status.value,
            "finished_at": now,
            "heartbeat_at": now,
            "message": outcome.message,
        }
        if outcome.status is JobStatus.SUCCEEDED:
            values.update(result=outcome.result, progress=100.0, error=None, error_kind=None)
        elif outcome.status is JobStatus.FAILED:
            values.update(error=outcome.error, error_kind=outcome.error_kind)
        if not self.write(values):
            self.mark_lost()
            return self.queue.get(self.job_id)
        payload: dict[str, Any] = {"kind": self.kind, "attempts": self.attempt}
        if outcome.error:
            payload.update(error=outcome.error, error_kind=outcome.error_kind)
        self.queue.bus.publish(f"job.{outcome.status.value}", payload, job_id=self.job_id)
        return self.queue.get(self.job_id)
