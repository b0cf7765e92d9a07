"""The persistent job queue on real databases (SQLite and PostgreSQL), real threads and real processes.

A "second process" is simulated where it matters by a second engine (its own connections) or is a real
process (``job_worker.py``): claiming races between two processes, and a worker SIGKILLed mid-job.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from driftmgr_tui.core.db import session_scope
from driftmgr_tui.core.errors import (
    DriftmgrError,
    JobCancelledError,
    JobNotFoundError,
    TransientError,
    UsageError,
)
from driftmgr_tui.core.events import EventBus, EventRecord
from driftmgr_tui.core.jobs import (
    JobContext,
    JobQueue,
    JobStatus,
    WorkerPool,
    backoff_delay,
    describe_error,
    owner_is_dead,
    process_owner,
)
from driftmgr_tui.core.models import Job, utcnow

WORKER = Path(__file__).with_name("job_worker.py")


def _url(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def other_engine(engine: sa.Engine) -> Iterator[sa.Engine]:
    """A second engine on the same database: its own pool of connections, as another process would have."""
    second = sa.create_engine(engine.url)
    try:
        yield second
    finally:
        second.dispose()


def _set(engine: sa.Engine, job_id: int, **values: Any) -> None:
    with session_scope(engine) as session:
        session.connection().execute(sa.update(Job).where(Job.id == job_id).values(**values))  # type: ignore[arg-type]


def _wait_for(predicate: Any, timeout: float = 10.0) -> None:
    """Poll a condition on shared state (a row another thread or process writes) until it holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


# --- pure rules ----------------------------------------------------------------------------------------


class _TopOfRange(random.Random):
    """Returns the upper bound it is given, so the jitter's ceiling can be read off exactly."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_backoff_is_full_jitter_under_an_exponential_capped_ceiling() -> None:
    top = _TopOfRange()
    ceilings = [backoff_delay(n, base=1.0, cap=60.0, rng=top) for n in range(1, 10)]
    assert ceilings == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
    assert backoff_delay(10_000, base=1.0, cap=60.0, rng=top) == 60.0  # no overflow
    assert backoff_delay(3, base=0.5, cap=60.0, rng=top) == 2.0

    rng = random.Random(42)
    expected = random.Random(42)
    for attempt in range(1, 12):
        delay = backoff_delay(attempt, base=1.0, cap=10.0, rng=rng)
        assert delay == expected.uniform(0, min(10.0, 2.0 ** (attempt - 1)))
        assert 0.0 <= delay <= min(10.0, 2.0 ** (attempt - 1))
    samples = [backoff_delay(6, base=1.0, cap=10.0, rng=rng) for _ in range(500)]
    assert max(samples) <= 10.0
    assert min(samples) < 2.0 < 8.0 < max(samples)  # spread over the range, not clustered at the cap


def test_backoff_honours_retry_after_even_beyond_the_cap() -> None:
    rng = random.Random(1)
    assert backoff_delay(1, base=1.0, cap=60.0, retry_after=5.0, rng=rng) >= 5.0
    assert backoff_delay(1, base=1.0, cap=2.0, retry_after=120.0, rng=rng) == 120.0


def test_describe_error_keeps_user_messages_and_names_surprises() -> None:
    assert describe_error(DriftmgrError("state is locked\n  more detail")) == ("state is locked", False, None)
    assert describe_error(ValueError("bad value")) == ("ValueError: bad value", False, None)
    assert describe_error(KeyError()) == ("KeyError", False, None)
    assert describe_error(TransientError("throttled", retry_after=3)) == ("throttled", True, 3.0)

    class Flaky(Exception):
        retryable = True

    assert describe_error(Flaky("connection reset")) == ("Flaky: connection reset", True, None)


def test_owner_is_dead_for_a_gone_process_on_this_host() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    host = socket.gethostname()
    assert owner_is_dead(f"{host}:{child.pid}") is True
    assert owner_is_dead(process_owner()) is False
    assert owner_is_dead(f"{host}:1") is False  # init is always there (kill(0) may be EPERM: still alive)
    assert owner_is_dead(f"some-other-host:{child.pid}") is None
    assert owner_is_dead("not an owner") is None
    assert owner_is_dead(None) is None


def test_a_zombie_counts_as_dead() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    _wait_for(lambda: _state_of(child.pid) == "Z")
    try:
        assert owner_is_dead(f"{socket.gethostname()}:{child.pid}") is True
    finally:
        child.wait()


def _state_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return ""


# --- enqueue, claim, list ------------------------------------------------------------------------------


def test_enqueue_and_get(engine: sa.Engine) -> None:
    queue = JobQueue(engine)
    view = queue.enqueue("discovery", {"provider": "aws", "regions": ["eu-west-1"]}, priority=3)
    again = queue.get(view.id)
    assert again == view
    assert again.status is JobStatus.QUEUED
    assert again.payload == {"provider": "aws", "regions": ["eu-west-1"]}
    assert (again.attempts, again.max_attempts, again.priority) == (0, 3, 3)
    assert again.created_at.tzinfo is not None
    assert "@" in again.created_by
    assert not again.finished
    with pytest.raises(JobNotFoundError, match="no job 999999"):
        queue.get(999999)
    with pytest.raises(TypeError, match="JSON"):
        queue.enqueue("discovery", {"bad": object()})


def test_claim_order_is_priority_then_age_and_respects_run_after(engine: sa.Engine) -> None:
    queue = JobQueue(engine)
    low = queue.enqueue("scan", {"n": "low"})
    high_old = queue.enqueue("scan", {"n": "high-old"}, priority=5)
    high_new = queue.enqueue("scan", {"n": "high-new"}, priority=5)
    lowest = queue.enqueue("scan", {"n": "lowest"}, priority=-1)
    later = queue.enqueue("scan", {"n": "later"}, priority=9)
    _set(engine, later.id, run_after=utcnow() + timedelta(hours=1))
    other_kind = queue.enqueue("other", priority=100)

    order = []
    while (claimed := queue.claim("w:1", ["scan"])) is not None:
        order.append(claimed.id)
        assert claimed.status is JobStatus.RUNNING
        assert claimed.owner == "w:1"
        assert claimed.attempts == 1
        assert claimed.started_at is not None and claimed.heartbeat_at is not None
    assert order == [high_old.id, high_new.id, low.id, lowest.id]
    assert queue.get(later.id).status is JobStatus.QUEUED
    assert queue.claim("w:1", []) is None
    assert queue.claim("w:1", ["scan"]) is None

    _set(engine, later.id, run_after=utcnow() - timedelta(seconds=1))
    assert queue.claim("w:1").id == other_kind.id  # type: ignore[union-attr]  # any kind, highest priority
    assert queue.claim("w:1").id == later.id  # type: ignore[union-attr]


def test_concurrent_claims_from_threads_never_share_a_job(engine: sa.Engine) -> None:
    queue = JobQueue(engine, EventBus(None))
    ids = {queue.enqueue("race", {"i": i}).id for i in range(50)}
    barrier = threading.Barrier(4)
    claimed: list[list[int]] = [[] for _ in range(4)]

    def claimer(n: int) -> None:
        mine = JobQueue(engine, EventBus(None))
        barrier.wait(timeout=10)
        while (view := mine.claim(f"thread:{n}", ["race"])) is not None:
            claimed[n].append(view.id)

    threads = [threading.Thread(target=claimer, args=(n,), daemon=True) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    everything = [job for per_thread in claimed for job in per_thread]
    assert sorted(everything) == sorted(ids)  # each job exactly once
    views = {v.id: v for v in queue.list(kind="race", limit=100)}
    for n, per_thread in enumerate(claimed):
        for job_id in per_thread:
            assert views[job_id].owner == f"thread:{n}"
            assert views[job_id].attempts == 1


def test_two_processes_claiming_never_share_a_job(engine: sa.Engine, tmp_path: Path) -> None:
    queue = JobQueue(engine, EventBus(None))
    ids = {queue.enqueue("race").id for _ in range(50)}
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), "claim", _url(engine), "2"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=(tmp_path / f"claimer-{n}.err").open("w"),
            text=True,
        )
        for n in range(2)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [json.loads(proc.communicate(timeout=120)[0]) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert [proc.returncode for proc in procs] == [0, 0], [
        (tmp_path / f"claimer-{n}.err").read_text() for n in range(2)
    ]
    everything = results[0] + results[1]
    assert sorted(everything) == sorted(ids)
    owners = {v.owner for v in queue.list(kind="race")}
    assert owners <= {f"{socket.gethostname()}:{proc.pid}" for proc in procs}


def test_list_newest_first_with_filters(engine: sa.Engine) -> None:
    queue = JobQueue(engine)
    a = queue.enqueue("discovery")
    b = queue.enqueue("drift")
    c = queue.enqueue("discovery")
    queue.request_cancel(c.id)
    assert [v.id for v in queue.list()] == [c.id, b.id, a.id]
    assert [v.id for v in queue.list(kind="discovery")] == [c.id, a.id]
    assert [v.id for v in queue.list(status=["queued"])] == [b.id, a.id]
    assert [v.id for v in queue.list(status=[JobStatus.CANCELLED], kind="discovery")] == [c.id]
    assert [v.id for v in queue.list(limit=1)] == [c.id]
    with pytest.raises(UsageError, match="unknown job status 'done'"):
        queue.list(status=["done"])


# --- running, results, errors and retries --------------------------------------------------------------


def test_run_inline_success_stores_result_progress_and_events(engine: sa.Engine) -> None:
    bus = EventBus(engine)
    seen: list[EventRecord] = []
    bus.subscribe(seen.append, prefix="job.")
    queue = JobQueue(engine, bus)
    job = queue.enqueue("discovery", {"regions": ["a", "b"]})

    def handler(ctx: JobContext) -> dict[str, Any]:
        assert (ctx.job_id, ctx.kind, ctx.attempt) == (job.id, "discovery", 1)
        for i, region in enumerate(ctx.payload["regions"]):
            ctx.progress(50 * i, f"scanning {region}")
            ctx.emit("discovery.region.done", {"region": region})
        return {"resources": 7}

    final = queue.run_inline(job.id, handler)
    assert final.status is JobStatus.SUCCEEDED
    assert final.finished
    assert final.result == {"resources": 7}
    assert (final.attempts, final.progress, final.message) == (1, 100.0, "scanning b")
    assert final.error is None and final.finished_at is not None
    assert final.owner == process_owner()

    types = [e.type for e in seen]
    assert types == ["job.queued", "job.started", "job.progress", "job.progress", "job.succeeded"]
    assert all(e.job_id == job.id for e in seen)
    stored = EventBus(engine).recent(job_id=job.id)
    assert [e.type for e in stored] == [
        "job.queued",
        "job.started",
        "discovery.region.done",
        "discovery.region.done",
        "job.succeeded",
    ]  # progress events are in-process only
    assert stored[2].payload == {"region": "a"}


def test_progress_reaches_the_row_while_the_job_runs(engine: sa.Engine, other_engine: sa.Engine) -> None:
    queue = JobQueue(engine)
    watcher = JobQueue(other_engine)
    job = queue.enqueue("scan")
    release = threading.Event()

    def handler(ctx: JobContext) -> None:
        ctx.progress(142, "more than done")  # clamped
        ctx.progress(42, "halfway")
        release.wait(10)

    runner = threading.Thread(target=queue.run_inline, args=(job.id, handler), daemon=True)
    runner.start()
    try:
        _wait_for(lambda: watcher.get(job.id).progress == 42.0)
        view = watcher.get(job.id)
        assert (view.status, view.message) == (JobStatus.RUNNING, "halfway")
    finally:
        release.set()
        runner.join(10)
    assert watcher.get(job.id).status is JobStatus.SUCCEEDED


def test_transient_failures_are_retried_with_backoff_until_success(engine: sa.Engine) -> None:
    bus = EventBus(engine)
    retrying: list[EventRecord] = []
    bus.subscribe(retrying.append, prefix="job.retrying")
    queue = JobQueue(engine, bus, backoff_base=0.02, backoff_cap=0.05, rng=random.Random(7))
    job = queue.enqueue("discovery")
    attempts_seen: list[int] = []

    def handler(ctx: JobContext) -> dict[str, Any]:
        attempts_seen.append(ctx.attempt)
        if ctx.attempt < 3:
            raise TransientError(f"throttled on attempt {ctx.attempt}")
        return {"ok": True}

    final = queue.run_inline(job.id, handler)
    assert final.status is JobStatus.SUCCEEDED
    assert final.attempts == 3
    assert attempts_seen == [1, 2, 3]
    assert final.error is None and final.error_kind is None
    expected = random.Random(7)
    delays = [e.payload["delay"] for e in retrying]
    assert delays == [expected.uniform(0, min(0.05, 0.02 * 2**n)) for n in range(2)]
    assert all(0.0 <= d <= 0.05 for d in delays)
    assert [e.payload["error"] for e in retrying] == ["throttled on attempt 1", "throttled on attempt 2"]


def test_a_pool_requeues_a_retry_with_run_after_in_the_future(engine: sa.Engine) -> None:
    bus = EventBus(engine)
    queue = JobQueue(engine, bus, backoff_base=0.05, backoff_cap=0.2)
    between: list[Any] = []

    def on_retry(event: EventRecord) -> None:  # runs right after the requeue commits
        between.append(queue.get(event.job_id))  # type: ignore[arg-type]

    bus.subscribe(on_retry, prefix="job.retrying")
    job = queue.enqueue("flaky")

    def handler(ctx: JobContext) -> dict[str, Any]:
        if ctx.attempt < 3:
            raise TransientError("503 from the API", retry_after=0.1)
        return {"attempt": ctx.attempt}

    with WorkerPool(queue, {"flaky": handler}, size=1, poll_interval=0.05) as pool:
        assert pool.wait_idle(15)
    final = queue.get(job.id)
    assert (final.status, final.attempts, final.result) == (JobStatus.SUCCEEDED, 3, {"attempt": 3})
    assert len(between) == 2
    for view in between:
        assert view.status is JobStatus.QUEUED
        assert view.owner is None
        assert view.error == "503 from the API" and view.error_kind == "retryable"
        assert view.run_after - view.started_at >= timedelta(seconds=0.1)  # retry_after honoured


def test_a_non_retryable_error_fails_at_once(engine: sa.Engine, caplog: pytest.LogCaptureFixture) -> None:
    queue = JobQueue(engine, backoff_base=0.01)
    job = queue.enqueue("discovery", max_attempts=5)

    def handler(ctx: JobContext) -> None:
        raise ValueError("region 'mars-1' does not exist")

    final = queue.run_inline(job.id, handler)
    assert final.status is JobStatus.FAILED
    assert final.attempts == 1
    assert final.error == "ValueError: region 'mars-1' does not exist"
    assert final.error_kind == "fatal"
    assert "Traceback" not in (final.error or "")
    assert "Traceback" in caplog.text  # kept for the log, not shown as the message


def test_a_driftmgr_error_is_stored_as_its_first_line(engine: sa.Engine) -> None:
    queue = JobQueue(engine)
    job = queue.enqueue("discovery")

    def handler(ctx: JobContext) -> None:
        raise DriftmgrError("credentials rejected by AWS\n  details: ...")

    assert queue.run_inline(job.id, handler).error == "credentials rejected by AWS"


def test_exhausted_attempts_fail_with_the_last_error(engine: sa.Engine) -> None:
    queue = JobQueue(engine, backoff_base=0.01, backoff_cap=0.02)
    job = queue.enqueue("discovery", max_attempts=2)

    def handler(ctx: JobContext) -> None:
        raise TransientError(f"timeout {ctx.attempt}")

    final = queue.run_inline(job.id, handler)
    assert (final.status, final.attempts) == (JobStatus.FAILED, 2)
    assert final.error == "timeout 2"
    assert final.error_kind == "retryable"
    assert final.message == "failed after 2 attempts"


def test_a_bad_result_fails_the_job(engine: sa.Engine) -> None:
    queue = JobQueue(engine)
    not_a_dict = queue.run_inline(queue.enqueue("x").id, lambda ctx: [1, 2])  # type: ignore[arg-type,return-value]
    assert not_a_dict.status is JobStatus.FAILED
    assert not_a_dict.error == "TypeError: handler returned list, expected a dict or None"
    not_json = queue.run_inline(queue.enqueue("x").id, lambda ctx: {"x": object()})
    assert not_json.status is JobStatus.FAILED
    assert not_json.error is not None and "not JSON-serialisable" in not_json.error


def test_run_inline_refuses_a_job_that_is_not_queued(engine: sa.Engine) -> None:
    queue = JobQueue(engine)
    job = queue.enqueue("x")
    queue.claim("elsewhere:1")
    with pytest.raises(UsageError, match=f"job {job.id} cannot be run: it is running by elsewhere:1"):
        queue.run_inline(job.id, lambda ctx: None)
    with pytest.raises(JobNotFoundError):
        queue.run_inline(424242, lambda ctx: None)


# --- cancellation ----------------------------------------------------------------------------------------


def test_a_cancelled_queued_job_never_runs(engine: sa.Engine) -> None:
    queue = JobQueue(engine)
    job = queue.enqueue("scan")
    keep = queue.enqueue("scan")
    cancelled = queue.request_cancel(job.id)
    assert cancelled.status is JobStatus.CANCELLED
    assert cancelled.cancel_requested and cancelled.finished_at is not None
    assert cancelled.message == "cancelled by request"
    assert queue.request_cancel(job.id) == cancelled  # finished: unchanged

    ran: list[int] = []
    with WorkerPool(queue, {"scan": lambda ctx: ran.append(ctx.job_id) and None}, poll_interval=0.05) as pool:
        assert pool.wait_idle(10)
    assert ran == [keep.id]
    assert queue.get(job.id).status is JobStatus.CANCELLED
    assert queue.get(job.id).attempts == 0
    with pytest.raises(UsageError, match="it is cancelled"):
        queue.run_inline(job.id, lambda ctx: None)
    with pytest.raises(JobNotFoundError):
        queue.request_cancel(777777)


def test_a_running_job_is_cancelled_from_another_process(
    engine: sa.Engine, other_engine: sa.Engine
) -> None:
    queue = JobQueue(engine)
    job = queue.enqueue("hash", {"chunks": 200_000})  # far more than fits in the test's bounds
    hashed = {"chunks": 0}

    def handler(ctx: JobContext) -> dict[str, Any]:
        digest = hashlib.sha256()
        block = os.urandom(1 << 16)
        for i in range(ctx.payload["chunks"]):
            ctx.check_cancelled()
            digest.update(block)
            hashed["chunks"] = i + 1
            if i % 64 == 0:
                ctx.progress(min(99.0, i / 1000), f"{i} chunks")
        return {"digest": digest.hexdigest()}

    finals: list[Any] = []
    runner = threading.Thread(target=lambda: finals.append(queue.run_inline(job.id, handler)), daemon=True)
    runner.start()
    other = JobQueue(other_engine)  # another connection pool, as a TUI in another process would have
    _wait_for(lambda: other.get(job.id).status is JobStatus.RUNNING and hashed["chunks"] > 100)

    requested = other.request_cancel(job.id)
    assert requested.status is JobStatus.RUNNING and requested.cancel_requested
    runner.join(timeout=120)  # a hang guard, not a measurement

    assert not runner.is_alive()
    assert hashed["chunks"] < 200_000  # stopped between chunks, long before the end
    final = other.get(job.id)
    assert final.status is JobStatus.CANCELLED
    assert final.message == "cancelled by request"
    assert final.result is None and final.finished_at is not None
    assert finals[0].status is JobStatus.CANCELLED
    assert hashed["chunks"] > 100  # real work happened before the cancel


def test_cancel_cuts_a_retry_backoff_short(engine: sa.Engine, other_engine: sa.Engine) -> None:
    queue = JobQueue(engine)
    job = queue.enqueue("scan", max_attempts=5)

    def handler(ctx: JobContext) -> None:
        raise TransientError("rate limited", retry_after=3600)

    finals: list[Any] = []
    runner = threading.Thread(target=lambda: finals.append(queue.run_inline(job.id, handler)), daemon=True)
    runner.start()
    other = JobQueue(other_engine)
    _wait_for(lambda: other.get(job.id).error_kind == "retryable")
    waiting = other.get(job.id)
    assert waiting.status is JobStatus.RUNNING  # the foreground run keeps the job while it waits
    assert waiting.message == "attempt 1 of 5 failed; retrying in 3600.0 s"
    other.request_cancel(job.id)
    runner.join(timeout=120)  # a hang guard: without the cut the wait is an hour
    assert not runner.is_alive(), "the retry wait ignored the cancel"
    assert finals[0].status is JobStatus.CANCELLED
    assert finals[0].attempts == 1


def test_a_handler_that_finishes_despite_a_cancel_request_succeeds(engine: sa.Engine) -> None:
    queue = JobQueue(engine)
    job = queue.enqueue("scan")

    def handler(ctx: JobContext) -> dict[str, Any]:
        queue.request_cancel(ctx.job_id)
        assert ctx.cancelled and ctx.cancel_event.is_set()
        return {"finished": "anyway"}  # the handler decides: it had nothing left to stop

    final = queue.run_inline(job.id, handler)
    assert final.status is JobStatus.SUCCEEDED and final.cancel_requested


def test_a_handler_raising_job_cancelled_on_its_own_is_cancelled(engine: sa.Engine) -> None:
    queue = JobQueue(engine)

    def handler(ctx: JobContext) -> None:
        raise JobCancelledError("the user closed the plan")

    final = queue.run_inline(queue.enqueue("scan").id, handler)
    assert final.status is JobStatus.CANCELLED
    assert final.message == "cancelled: the user closed the plan"


def test_ctrl_c_in_a_foreground_run_is_recorded_then_propagates(engine: sa.Engine) -> None:
    queue = JobQueue(engine)
    job = queue.enqueue("scan")

    def handler(ctx: JobContext) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        queue.run_inline(job.id, handler)
    final = queue.get(job.id)
    assert (final.status, final.message) == (JobStatus.CANCELLED, "interrupted")
    assert final.finished_at is not None


def test_a_terminal_state_written_elsewhere_is_final(engine: sa.Engine, other_engine: sa.Engine) -> None:
    """Another process ends a running job; the worker's later heartbeats and outcome cannot revive it."""
    queue = JobQueue(engine)
    job = queue.enqueue("scan")
    stopped = threading.Event()

    def handler(ctx: JobContext) -> dict[str, Any]:
        while not ctx.cancel_event.wait(0.05):
            ctx.progress(10, "working")
        stopped.set()
        return {"late": "result"}  # returned after losing the job: must be discarded

    finals: list[Any] = []
    runner = threading.Thread(target=lambda: finals.append(queue.run_inline(job.id, handler)), daemon=True)
    runner.start()
    _wait_for(lambda: queue.get(job.id).progress == 10.0)
    _set(
        other_engine,
        job.id,
        status="failed",
        error="stopped by an operator",
        finished_at=utcnow(),
        progress=5.0,
    )
    assert stopped.wait(5), "the handler was not told it lost the job"
    runner.join(10)
    final = JobQueue(other_engine).get(job.id)
    assert final.status is JobStatus.FAILED
    assert (final.error, final.progress, final.result) == ("stopped by an operator", 5.0, None)
    assert finals[0] == final


# --- recovery ---------------------------------------------------------------------------------------------


def _start_blocking_worker(
    engine: sa.Engine, job_id: int, tmp_path: Path
) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), "block", _url(engine), str(job_id)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "worker.err").open("w"),
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line.startswith("running "), (tmp_path / "worker.err").read_text()
    return proc, line.removeprefix("running ")


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


def test_a_job_of_a_killed_worker_is_requeued(engine: sa.Engine, tmp_path: Path) -> None:
    queue = JobQueue(engine)
    job = queue.enqueue("discovery", {"provider": "aws"}, max_attempts=3)
    proc, owner = _start_blocking_worker(engine, job.id, tmp_path)
    assert owner == f"{socket.gethostname()}:{proc.pid}"
    running = queue.get(job.id)
    assert (running.status, running.owner, running.attempts) == (JobStatus.RUNNING, owner, 1)
    assert queue.recover() == []  # alive: left alone
    _kill(proc)

    fresh = JobQueue(engine)
    recovered = fresh.recover()
    assert [v.id for v in recovered] == [job.id]
    view = fresh.get(job.id)
    assert view.status is JobStatus.QUEUED
    assert view.owner is None and view.attempts == 1
    assert view.error_kind == "recovered"
    assert view.message.startswith(f"recovered: worker {owner} died")
    assert view.error == view.message
    assert [e.payload["status"] for e in fresh.bus.recent(prefix="job.recovered")] == ["queued"]
    assert fresh.recover() == []  # done once

    final = fresh.run_inline(job.id, lambda ctx: {"attempt": ctx.attempt})
    assert (final.status, final.attempts, final.result) == (JobStatus.SUCCEEDED, 2, {"attempt": 2})


def test_a_killed_worker_on_the_last_attempt_fails_the_job(engine: sa.Engine, tmp_path: Path) -> None:
    queue = JobQueue(engine)
    job = queue.enqueue("discovery", max_attempts=1)
    proc, owner = _start_blocking_worker(engine, job.id, tmp_path)
    _kill(proc)
    [view] = JobQueue(engine).recover()
    assert view.id == job.id
    assert view.status is JobStatus.FAILED
    assert view.finished_at is not None
    assert view.error_kind == "recovered"
    assert view.error is not None and view.error.startswith(f"recovered: worker {owner} died")
    assert view.message.endswith("no attempts left (1 of 1)")


def test_a_stale_heartbeat_from_another_host_is_recovered(engine: sa.Engine) -> None:
    queue = JobQueue(engine, stale_after=30)
    stale = queue.enqueue("scan", priority=1)
    fresh = queue.enqueue("scan")
    queue.claim("build-host-7:4242", ["scan"])
    queue.claim("build-host-8:4243", ["scan"])
    long_ago = utcnow() - timedelta(minutes=5)
    _set(engine, stale.id, heartbeat_at=long_ago)

    [view] = queue.recover()
    assert view.id == stale.id
    assert view.status is JobStatus.QUEUED
    assert view.message == (
        f"recovered: worker build-host-7:4242 stopped heartbeating at {long_ago:%Y-%m-%d %H:%M:%S} UTC"
    )
    assert queue.get(fresh.id).status is JobStatus.RUNNING  # heartbeat recent: left alone


def test_recovery_of_a_job_whose_cancel_was_requested_cancels_it(engine: sa.Engine) -> None:
    queue = JobQueue(engine)
    job = queue.enqueue("scan")
    queue.claim("gone-host:1")
    queue.request_cancel(job.id)
    _set(engine, job.id, heartbeat_at=utcnow() - timedelta(minutes=5))
    [view] = queue.recover()
    assert view.status is JobStatus.CANCELLED


def test_recover_leaves_jobs_this_process_is_running(engine: sa.Engine) -> None:
    queue = JobQueue(engine)
    job = queue.enqueue("scan")
    inside = threading.Event()
    release = threading.Event()

    def handler(ctx: JobContext) -> None:
        inside.set()
        release.wait(10)

    runner = threading.Thread(target=queue.run_inline, args=(job.id, handler), daemon=True)
    runner.start()
    try:
        assert inside.wait(10)
        _set(engine, job.id, heartbeat_at=utcnow() - timedelta(minutes=5))
        assert queue.recover() == []
    finally:
        release.set()
        runner.join(10)
    assert queue.get(job.id).status is JobStatus.SUCCEEDED


# --- worker pool -----------------------------------------------------------------------------------------


def test_pool_runs_kinds_in_parallel_and_leaves_unknown_kinds_queued(engine: sa.Engine) -> None:
    queue = JobQueue(engine)
    both_running = threading.Barrier(2)

    def rendezvous(ctx: JobContext) -> dict[str, Any]:
        both_running.wait(timeout=10)  # only passes if the two jobs run at the same time
        return {"kind": ctx.kind, "thread": threading.current_thread().name}

    discovery = queue.enqueue("discovery")
    drift = queue.enqueue("drift")
    unknown = queue.enqueue("remediation", priority=100)
    with WorkerPool(
        queue, {"discovery": rendezvous, "drift": rendezvous}, size=2, poll_interval=0.05
    ) as pool:
        assert pool.wait_idle(20)
    results = [queue.get(discovery.id), queue.get(drift.id)]
    assert [v.status for v in results] == [JobStatus.SUCCEEDED, JobStatus.SUCCEEDED], [
        v.error for v in results
    ]
    assert {v.result["kind"] for v in results if v.result} == {"discovery", "drift"}
    assert len({v.result["thread"] for v in results if v.result}) == 2
    left = queue.get(unknown.id)
    assert (left.status, left.attempts, left.owner) == (JobStatus.QUEUED, 0, None)


def test_pool_stop_can_cancel_running_jobs(engine: sa.Engine) -> None:
    queue = JobQueue(engine)
    job = queue.enqueue("scan")
    inside = threading.Event()

    def handler(ctx: JobContext) -> None:
        inside.set()
        while not ctx.cancel_event.wait(0.05):
            pass
        ctx.check_cancelled()

    pool = WorkerPool(queue, {"scan": handler}, size=1, poll_interval=0.05)
    pool.start()
    assert inside.wait(10)
    assert pool.running_job_ids() == [job.id]
    pool.stop(wait=True, cancel_running=True)
    assert queue.get(job.id).status is JobStatus.CANCELLED
    with pytest.raises(RuntimeError, match="already started"):
        pool.start()


def test_pool_picks_up_a_job_a_killed_worker_left(engine: sa.Engine, tmp_path: Path) -> None:
    queue = JobQueue(engine)
    job = queue.enqueue("discovery")
    proc, _owner = _start_blocking_worker(engine, job.id, tmp_path)
    _kill(proc)
    with WorkerPool(queue, {"discovery": lambda ctx: {"attempt": ctx.attempt}}, poll_interval=0.05) as pool:
        assert pool.wait_idle(15)
    final = queue.get(job.id)
    assert (final.status, final.result) == (JobStatus.SUCCEEDED, {"attempt": 2})


def test_constructor_checks() -> None:
    with pytest.raises(ValueError, match="stale_after"):
        JobQueue(sa.create_engine("sqlite://"), stale_after=1.0)
    queue = JobQueue(sa.create_engine("sqlite://"))
    with pytest.raises(ValueError, match="at least one thread"):
        WorkerPool(queue, {"x": lambda ctx: None}, size=0)
    with pytest.raises(ValueError, match="max_attempts"):
        queue.enqueue("x", max_attempts=0)
