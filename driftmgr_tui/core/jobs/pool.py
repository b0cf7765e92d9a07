"""A pool of worker threads that claim and run jobs of the kinds it has handlers for.

Each thread loops: claim (only our kinds, so a job another process knows how to run is left for it), run
with heartbeats, repeat; when nothing is claimable it sleeps until :meth:`JobQueue.enqueue` in this process
wakes it or ``poll_interval`` passes (jobs enqueued by other processes are found by the poll). The pool also
runs :meth:`JobQueue.recover` every ``stale_after`` seconds, so a worker process that dies while the TUI is
open does not leave its jobs running forever.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from types import TracebackType

from driftmgr_tui.core.jobs.queue import JobQueue
from driftmgr_tui.core.jobs.runner import Handler
from driftmgr_tui.core.jobs.view import process_owner

log = logging.getLogger(__name__)

_IDLE_POLL = 0.05


class WorkerPool:
    """``size`` threads running jobs from ``queue`` with ``handlers`` (kind -> handler).

    Use as a context manager (recover, start; on exit stop and wait for running jobs, cancelling them first
    if the block raised) or call :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self, queue: JobQueue, handlers: Mapping[str, Handler], *, size: int = 2, poll_interval: float = 0.5
    ) -> None:
        if size < 1:
            raise ValueError(f"a worker pool needs at least one thread, got size={size}")
        if not handlers:
            raise ValueError("a worker pool needs at least one handler")
        self.queue = queue
        self.handlers = dict(handlers)
        self.size = size
        self.poll_interval = poll_interval
        self.owner = process_owner()
        self._threads: list[threading.Thread] = []
        self._wakeups: list[threading.Event] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._current: dict[int, int] = {}  # worker index -> job id it is running
        self._next_recover = 0.0
        self._started = False

    def __enter__(self) -> WorkerPool:
        self.queue.recover()
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop(wait=True, cancel_running=exc_type is not None)

    @property
    def kinds(self) -> list[str]:
        return list(self.handlers)

    def start(self) -> None:
        """Start the worker threads (once; a stopped pool is not restarted, make a new one)."""
        with self._lock:
            if self._started:
                raise RuntimeError("this worker pool was already started")
            self._started = True
            self._next_recover = time.monotonic() + self.queue.stale_after
        for index in range(self.size):
            wakeup = threading.Event()
            wakeup.set()  # look for work straight away
            self.queue.add_wakeup(wakeup)
            thread = threading.Thread(
                target=self._work, args=(index, wakeup), name=f"driftmgr-job-worker-{index}", daemon=True
            )
            self._wakeups.append(wakeup)
            self._threads.append(thread)
            thread.start()

    def stop(self, *, wait: bool = True, cancel_running: bool = False) -> None:
        """Stop claiming. ``cancel_running``: also request cancellation of the jobs being run (recorded in
        the database as any cancel). ``wait``: return only when every worker thread has ended; otherwise
        running handlers finish in the background (and, if the process exits first, are recovered later)."""
        self._stopping.set()
        for wakeup in self._wakeups:
            wakeup.set()
        if cancel_running:
            with self._lock:
                running = list(self._current.values())
            for job_id in running:
                try:
                    self.queue.request_cancel(job_id)
                except Exception:
                    log.warning("could not cancel job %s while stopping", job_id, exc_info=True)
        if wait:
            for thread in self._threads:
                thread.join()
        for wakeup in self._wakeups:
            self.queue.remove_wakeup(wakeup)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job of our kinds is running, or queued and not cancelled; False on timeout.

        Queued jobs waiting out a retry backoff count as pending (they will run), so a caller that waits
        for idle does not return in the middle of a job's retries.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self.queue.count_pending(self.kinds) == 0:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(_IDLE_POLL, remaining))

    def running_job_ids(self) -> list[int]:
        """Ids of the jobs this pool's threads are running right now."""
        with self._lock:
            return list(self._current.values())

    def _work(self, index: int, wakeup: threading.Event) -> None:
        kinds = self.kinds
        while not self._stopping.is_set():
            self._maybe_recover()
            wakeup.clear()
            try:
                view = self.queue.claim(self.owner, kinds)
            except Exception:
                log.warning("worker %s: claiming a job failed", index, exc_info=True)
                view = None
            if view is None:
                wakeup.wait(self.poll_interval)
                continue
            with self._lock:
                self._current[index] = view.id
            try:
                self.queue.run_claimed(view, self.handlers[view.kind], owner=self.owner)
            except Exception:
                log.exception("worker %s: running job %s failed", index, view.id)
            finally:
                with self._lock:
                    self._current.pop(index, None)

    def _maybe_recover(self) -> None:
        with self._lock:
            if time.monotonic() < self._next_recover:
                return
            self._next_recover = time.monotonic() + self.queue.stale_after
        try:
            self.queue.recover()
        except Exception:
            log.warning("periodic job recovery failed", exc_info=True)
