"""The contract every state backend honours.

A backend stores one state (one workspace) as bytes and a lock. It knows
nothing of the v4 format; the codec and StateService do. The write path that
ARCHITECTURE.md rule 1 demands (lock -> back up -> write atomically -> release)
is driven by ``state/store.py`` through these methods.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from driftmgr_tui import __version__
from driftmgr_tui.core.errors import LockInfo, StateLockedError


def new_lock_info(operation: str, path: str, info: str = "") -> LockInfo:
    """A lock-info record as Terraform fills it (``Who`` is ``user@host``, ``Created`` RFC 3339 in UTC)."""
    try:
        user = getpass.getuser()
    except Exception:
        user = str(os.getuid())
    return LockInfo(
        id=str(uuid.uuid4()),
        operation=operation,
        info=info,
        who=f"{user}@{socket.gethostname()}",
        version=f"driftmgr {__version__}",
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        path=path,
    )


def retry_while_locked(
    take: Callable[[], LockInfo], timeout: float, *, first_delay: float = 1.0, max_delay: float = 16.0
) -> LockInfo:
    """Call ``take`` until it stops raising StateLockedError, for at most ``timeout`` seconds (``--lock-timeout``).

    Waits double from ``first_delay`` up to ``max_delay`` (Terraform's LockWithContext: 1 s to 16 s) and never
    past the deadline; when it passes, the last StateLockedError (naming the holder) is raised.
    """
    deadline = time.monotonic() + max(timeout, 0.0)
    delay = max(first_delay, 0.0)
    while True:
        try:
            return take()
        except StateLockedError:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise
            time.sleep(min(delay, remaining))  # waiting for the holder to release it
            delay = min(delay * 2, max_delay)


@dataclass(frozen=True)
class StateObject:
    """The bytes of a state as read, plus what the backend needs to write it back conditionally.

    ``version`` is an opaque token (S3 ETag / VersionId, a file's mtime+size) used for a
    conditional write; ``None`` means the state does not exist yet.
    """

    data: bytes
    version: str | None = None


class StateBackend(ABC):
    """One state in one place. Implementations: local file, S3."""

    #: short kind name shown to users: "local", "s3"
    kind: str = ""

    @property
    @abstractmethod
    def location(self) -> str:
        """Human-readable location, used in every message (``s3://bucket/key``, a path)."""

    @abstractmethod
    def read(self) -> StateObject | None:
        """Current bytes, or None when no state exists here."""

    @abstractmethod
    def write(self, data: bytes, *, lock: LockInfo | None, expected_version: str | None = None) -> StateObject:
        """Replace the state atomically; readers see the old bytes or the new, never a mix.

        ``lock`` is the lock this writer holds (backends that verify lock ownership check it).
        ``expected_version`` (from ``read()``), when the backend supports it, makes the write
        conditional: a concurrent change raises StateConflictError instead of being lost.
        """

    @abstractmethod
    def lock(self, info: LockInfo) -> LockInfo:
        """Take the lock or raise StateLockedError naming the current holder. Returns the lock held."""

    @abstractmethod
    def unlock(self, lock_id: str, *, force: bool = False) -> None:
        """Release the lock ``lock_id``. Without ``force`` the ID must match the holder's."""

    @abstractmethod
    def current_lock(self) -> LockInfo | None:
        """The lock currently held, with its holder info, or None."""

    def workspaces(self) -> list[str]:
        """Workspaces this backend holds (``default`` first)."""
        return ["default"]
