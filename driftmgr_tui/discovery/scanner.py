"""The scanner: runs a provider's tasks with bounded concurrency and reports each task's outcome.

Concurrency is bounded three ways: overall (``max_workers``), per group (a region, subscription or scope,
``per_group``) and per service within a group (``per_service``: AWS throttles each API per region), so one
slow region or one throttled service never takes every thread. A task either completes (all its pages listed: its resources are handed to
``on_task_done`` together, so a consumer can store them in one transaction) or it fails or is cancelled and
hands over nothing: a half-listed type is never mistaken for a complete one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from driftmgr_tui.core.errors import DriftmgrError
from driftmgr_tui.discovery.model import (
    DiscoveredResource,
    ProviderAdapter,
    ScanCancelled,
    ScanContext,
    ScanTask,
    describe_error,
)

log = logging.getLogger(__name__)


@dataclass
class TaskOutcome:
    task: ScanTask
    status: str  # succeeded | failed | cancelled
    resources: list[DiscoveredResource] = field(default_factory=list)
    duration: float = 0.0
    pages: int = 0
    retries: int = 0
    error: str | None = None


@dataclass
class ScanLimits:
    """Cloud APIs throttle per account, region and API, so the tightest bound is per service within a group
    (a region, subscription or scope); the per-group bound keeps one region from taking every thread."""

    max_workers: int = 24
    per_group: int = 8
    per_service: int = 4


class Scanner:
    """Run ``adapter``'s tasks. Callbacks are invoked from worker threads and must be thread-safe;
    ``on_task_done`` is called for every task that started (tasks a cancellation kept from starting are only
    in the returned outcomes)."""

    def __init__(
        self,
        adapter: ProviderAdapter,
        *,
        limits: ScanLimits | None = None,
        cancel_event: threading.Event | None = None,
        on_task_start: Callable[[ScanTask], None] | None = None,
        on_task_done: Callable[[TaskOutcome], None] | None = None,
        on_retry: Callable[[ScanTask, str, BaseException, float], None] | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        max_retries: int = 6,
        cancel_grace: float = 0.1,
    ) -> None:
        self.adapter = adapter
        self.limits = limits or ScanLimits()
        self.cancel_event = cancel_event or threading.Event()
        self.on_task_start = on_task_start
        self.on_task_done = on_task_done
        self.on_retry = on_retry
        self.backoff = (backoff_base, backoff_cap, max_retries)
        self.cancel_grace = cancel_grace
        self._done_lock = threading.Lock()
        self._abandoned = False

    def run(self, tasks: list[ScanTask]) -> list[TaskOutcome]:
        """Every task's outcome, in task order. Tasks not started before a cancellation are ``cancelled``."""
        pending: deque[ScanTask] = deque(tasks)
        outcomes: dict[str, TaskOutcome] = {}
        by_group: Counter[str] = Counter()
        by_service: Counter[tuple[str, str]] = Counter()
        running: dict[Future[TaskOutcome], ScanTask] = {}

        def next_runnable() -> ScanTask | None:
            for task in pending:
                if (by_group[task.group] < self.limits.per_group
                        and by_service[task.group, task.service] < self.limits.per_service):
                    pending.remove(task)
                    return task
            return None

        pool = ThreadPoolExecutor(max_workers=self.limits.max_workers, thread_name_prefix="scan")
        abandon_at: float | None = None
        try:
            while pending or running:
                while not self.cancel_event.is_set() and len(running) < self.limits.max_workers:
                    task = next_runnable()
                    if task is None:
                        break
                    by_group[task.group] += 1
                    by_service[task.group, task.service] += 1
                    running[pool.submit(self._run_one, task)] = task
                if self.cancel_event.is_set():
                    # Not reported one by one: the caller records every unstarted task in one statement.
                    while pending:
                        task = pending.popleft()
                        outcomes[task.key] = TaskOutcome(task=task, status="cancelled",
                                                         error="cancelled before it started")
                    abandon_at = abandon_at or time.monotonic() + self.cancel_grace
                    if running and time.monotonic() >= abandon_at:
                        self._abandon(running, outcomes)
                        break
                if not running:
                    continue
                done, _ = wait(running, timeout=0.05 if abandon_at else 0.25, return_when=FIRST_COMPLETED)
                for future in done:
                    task = running.pop(future)
                    by_group[task.group] -= 1
                    by_service[task.group, task.service] -= 1
                    outcomes[task.key] = future.result()
        finally:
            pool.shutdown(wait=not running, cancel_futures=True)
        return [outcomes[t.key] for t in tasks]

    def _abandon(self, running: dict[Future[TaskOutcome], ScanTask], outcomes: dict[str, TaskOutcome]) -> None:
        """Stop waiting for tasks stuck in a request after a cancel: they are recorded as cancelled now, and
        whatever they finish later is dropped (``_done`` checks ``_abandoned`` under the same lock)."""
        with self._done_lock:
            self._abandoned = True
            for future, task in running.items():
                if future.done() and not future.exception():
                    outcomes[task.key] = future.result()
                else:
                    outcomes[task.key] = TaskOutcome(task=task, status="cancelled",
                                                     error="cancelled while a request was in flight")

    def _run_one(self, task: ScanTask) -> TaskOutcome:
        retries = 0

        def count_retry(what: str, exc: BaseException, delay: float) -> None:
            nonlocal retries
            retries += 1
            if self.on_retry is not None:
                self.on_retry(task, what, exc, delay)

        base, cap, max_retries = self.backoff
        ctx = ScanContext(cancel_event=self.cancel_event, backoff_base=base, backoff_cap=cap,
                          max_retries=max_retries, on_retry=count_retry)
        started = time.monotonic()
        outcome = TaskOutcome(task=task, status="succeeded")
        if self.on_task_start is not None:
            self.on_task_start(task)
        try:
            for page in self.adapter.run_task(task, ctx):
                outcome.pages += 1
                outcome.resources.extend(page)
                ctx.check_cancelled()
        except ScanCancelled:
            outcome.status, outcome.error, outcome.resources = "cancelled", "cancelled while listing", []
        except Exception as exc:
            if not isinstance(exc, DriftmgrError):
                log.debug("task %s failed", task.key, exc_info=True)
            outcome.status, outcome.error, outcome.resources = "failed", describe_error(exc), []
        outcome.duration = time.monotonic() - started
        outcome.retries = retries
        self._done(outcome)
        return outcome

    def _done(self, outcome: TaskOutcome) -> None:
        with self._done_lock:
            if self._abandoned:
                outcome.status, outcome.resources = "cancelled", []
                return
            if self.on_task_done is None:
                return
            try:
                self.on_task_done(outcome)
            except Exception:
                log.exception("recording the outcome of %s failed", outcome.task.key)
                raise
