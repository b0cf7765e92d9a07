"""Plain values of the job queue: statuses, the detached :class:`JobView`, backoff, worker identity, errors.

Nothing here touches the database, so each rule (full-jitter backoff, which exception is retryable, when a
worker process counts as dead) is a pure function that tests pin down directly.
"""

from __future__ import annotations

import math
import os
import random
import re
import socket
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from driftmgr_tui.core.errors import DriftmgrError
from driftmgr_tui.core.events import decode_json
from driftmgr_tui.core.models import Job


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})

# error_kind values written by the queue.
ERROR_RETRYABLE = "retryable"
ERROR_FATAL = "fatal"
ERROR_RECOVERED = "recovered"

_MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class JobView:
    """A snapshot of one ``job`` row, detached from any session (safe to hand to another thread or a UI)."""

    id: int
    kind: str
    status: JobStatus
    priority: int
    payload: dict[str, Any]
    result: dict[str, Any] | None
    attempts: int
    max_attempts: int
    progress: float
    message: str
    error: str | None
    error_kind: str | None
    cancel_requested: bool
    owner: str | None
    heartbeat_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    run_after: datetime
    created_by: str

    @property
    def finished(self) -> bool:
        """True once the job is succeeded, failed or cancelled: nothing will change it any more."""
        return self.status in FINISHED

    @classmethod
    def from_row(cls, row: Job) -> JobView:
        assert row.id is not None
        return cls(
            id=row.id,
            kind=row.kind,
            status=JobStatus(row.status),
            priority=row.priority,
            payload=decode_json(row.payload) or {},
            result=decode_json(row.result),
            attempts=row.attempts,
            max_attempts=row.max_attempts,
            progress=row.progress,
            message=row.message,
            error=row.error,
            error_kind=row.error_kind,
            cancel_requested=row.cancel_requested,
            owner=row.owner,
            heartbeat_at=row.heartbeat_at,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            run_after=row.run_after,
            created_by=row.created_by,
        )


def backoff_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): "full jitter".

    ``uniform(0, min(cap, base * 2 ** (attempt - 1)))``, spreading retries of many jobs that failed together
    (a throttled API) instead of stampeding in lockstep; but never less than ``retry_after`` when the remote
    side named a wait (which may exceed ``cap``: the server knows best).
    """
    exponent = min(max(attempt - 1, 0), 60)  # 2**60 is already far beyond any cap; avoids float overflow
    ceiling = max(0.0, min(cap, base * 2.0**exponent))
    delay = (rng or random).uniform(0.0, ceiling)
    if retry_after is not None and math.isfinite(retry_after):
        delay = max(delay, retry_after)
    return delay


def describe_error(error: BaseException) -> tuple[str, bool, float | None]:
    """``(one-line message, retryable, retry_after)`` for an exception a handler raised.

    A DriftmgrError is already worded for a user: its first line is kept. Anything else is a surprise and is
    shown as ``TypeName: message`` so the user can report it; the traceback goes to the log, never here.
    Retryable means the exception says so (``retryable = True``: TransientError, or a library error marked
    by the caller).
    """
    text = str(error).strip()
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if isinstance(error, DriftmgrError):
        message = first or type(error).__name__
    else:
        message = f"{type(error).__name__}: {first}" if first else type(error).__name__
    if len(message) > _MAX_ERROR_CHARS:
        message = message[: _MAX_ERROR_CHARS - 1] + "…"
    retryable = getattr(error, "retryable", False) is True
    retry_after = getattr(error, "retry_after", None)
    if isinstance(retry_after, bool) or not isinstance(retry_after, int | float):
        retry_after = None
    return message, retryable, None if retry_after is None else float(retry_after)


# --- worker identity ---------------------------------------------------------------------------------------

_OWNER = re.compile(r"(?P<host>[^:/]+):(?P<pid>\d+)(?:/.*)?")


def process_owner() -> str:
    """``host:pid`` of this process: what a running job's ``owner`` column holds."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_is_dead(owner: str | None) -> bool | None:
    """Whether the worker process named by ``owner`` (``host:pid``, optionally ``/suffix``) is gone.

    True: it ran on this host and that pid no longer exists (or is a zombie). False: it is alive. None: no
    way to tell from here (another host, or an owner string of another shape); only a stale heartbeat can
    say. A recycled pid reads as alive, which errs on the safe side: the heartbeat rule still applies.
    """
    match = _OWNER.fullmatch(owner or "")
    if match is None or match["host"] != socket.gethostname():
        return None
    pid = int(match["pid"])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, belongs to another user
    except OSError:
        return None
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed child its parent has not reaped yet still answers kill(0); /proc says it is dead (Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()
    return bool(state) and state[0] in ("Z", "X")
