"""Persistent jobs: every long operation runs as a row in the ``job`` table.

The CLI, the TUI (another process polling the table) and a restart all see the same progress. See
:mod:`~driftmgr_tui.core.jobs.queue` for the write rules that make this safe across threads and processes,
:mod:`~driftmgr_tui.core.jobs.pool` for the worker threads, and ``docs/architecture.md`` (Jobs and events).
"""

from __future__ import annotations

from driftmgr_tui.core.jobs.pool import WorkerPool
from driftmgr_tui.core.jobs.queue import JobQueue
from driftmgr_tui.core.jobs.runner import CANCEL_POLL_INTERVAL, HEARTBEAT_INTERVAL, Handler, JobContext
from driftmgr_tui.core.jobs.view import (
    ERROR_FATAL,
    ERROR_RECOVERED,
    ERROR_RETRYABLE,
    FINISHED,
    JobStatus,
    JobView,
    backoff_delay,
    describe_error,
    owner_is_dead,
    process_owner,
)

__all__ = [
    "CANCEL_POLL_INTERVAL",
    "ERROR_FATAL",
    "ERROR_RECOVERED",
    "ERROR_RETRYABLE",
    "FINISHED",
    "HEARTBEAT_INTERVAL",
    "Handler",
    "JobContext",
    "JobQueue",
    "JobStatus",
    "JobView",
    "WorkerPool",
    "backoff_delay",
    "describe_error",
    "owner_is_dead",
    "process_owner",
]
