"""The error hierarchy every layer raises and every front end maps.

Each error carries what a user needs to act: the file, the field, the lock
holder. The CLI turns them into one clear line and an exit code; the TUI into
an error modal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class DriftmgrError(Exception):
    """Base of every error driftmgr reports to a user (never a traceback)."""

    exit_code = 1
    # Job workers retry an exception whose ``retryable`` is True (see core.jobs); most errors are final.
    retryable = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(DriftmgrError):
    """The user asked for something that cannot be done as asked."""

    exit_code = 2


class ConfigError(DriftmgrError):
    """A configuration file or setting is invalid.

    ``field`` is the dotted key at fault (``environments.prod.regions``, ``keys.drift.rescan``) when one is,
    and ``detail`` what is wrong with it, without the file name: what a form shows under the field.
    """

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None, field: str | None = None,
                 detail: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field
        self.detail = detail or message


class StateFormatError(DriftmgrError):
    """A state file cannot be read: malformed JSON, wrong types, unknown version.

    ``path`` names the file, ``field`` the JSON path inside it (``resources[3].instances[0].index_key``).
    """

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, field: str | None = None,
                 hint: str | None = None) -> None:
        where = ""
        if path:
            where = f"{path}: "
        if field:
            where += f"{field}: "
        super().__init__(f"{where}{message}", hint=hint)
        self.path = path
        self.field = field
        self.detail = message


class AddressError(UsageError):
    """A Terraform address does not parse. ``position`` is the 0-based offending character."""

    def __init__(self, message: str, *, address: str, position: int) -> None:
        self.address = address
        self.position = position
        pointer = " " * position + "^"
        super().__init__(f"invalid address {address!r}: {message} at character {position + 1}\n  {address}\n  {pointer}")
        self.detail = message


class ResourceNotFoundError(UsageError):
    """An address names nothing in the state."""


class StateConflictError(DriftmgrError):
    """A write would break Terraform's serial/lineage rules, or a remote object changed underneath us."""

    exit_code = 1


@dataclass
class LockInfo:
    """Terraform's lock metadata (the JSON in ``.terraform.tfstate.lock.info``, DynamoDB ``Info``, ``.tflock``)."""

    id: str
    operation: str = ""
    info: str = ""
    who: str = ""
    version: str = ""
    created: str = ""
    path: str = ""

    def to_terraform(self) -> dict[str, str]:
        return {
            "ID": self.id,
            "Operation": self.operation,
            "Info": self.info,
            "Who": self.who,
            "Version": self.version,
            "Created": self.created,
            "Path": self.path,
        }

    @classmethod
    def from_terraform(cls, data: dict[str, Any]) -> LockInfo:
        return cls(
            id=str(data.get("ID", "")),
            operation=str(data.get("Operation", "")),
            info=str(data.get("Info", "")),
            who=str(data.get("Who", "")),
            version=str(data.get("Version", "")),
            created=str(data.get("Created", "")),
            path=str(data.get("Path", "")),
        )

    def describe(self) -> str:
        parts = [f"ID {self.id}" if self.id else "unknown ID"]
        if self.who:
            parts.append(f"held by {self.who}")
        if self.created:
            parts.append(f"since {self.created}")
        if self.operation:
            parts.append(f"for {self.operation}")
        return ", ".join(parts)


class StateLockedError(DriftmgrError):
    """The state is locked by someone else; ``lock`` says who, when and for what (when known)."""

    exit_code = 1

    def __init__(self, location: str, lock: LockInfo | None, *, detail: str | None = None) -> None:
        self.location = location
        self.lock = lock
        what = lock.describe() if lock else (detail or "holder unknown")
        extra = f": {detail}" if lock and detail else ""
        super().__init__(
            f"state {location} is locked ({what}){extra}",
            hint="wait for the other operation to finish; if it died, release the lock with "
            "`driftmgr state unlock ID` (check the holder first)",
        )


class BackendError(DriftmgrError):
    """A state backend failed (network, permissions, missing bucket)."""

    exit_code = 1


class ProviderAuthError(DriftmgrError):
    """Cloud credentials are missing or rejected: exit 2, like any other input the user must fix.

    The message is one line naming the provider, what is wrong and what to do (the hint is folded in, so a
    script that keeps only the first line of stderr still learns how to fix it)."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{message}: {hint}" if hint else message)


class TransientError(DriftmgrError):
    """A failure worth retrying as is: throttling, a timeout, a dropped connection, a 5xx.

    A job whose handler raises it is requeued with backoff while attempts remain. ``retry_after`` (seconds),
    when the remote side said how long to wait, is the least delay before the next attempt.
    """

    exit_code = 1
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class JobCancelledError(DriftmgrError):
    """A job stopped because its cancellation was requested. Handlers raise it via ``ctx.check_cancelled()``."""

    exit_code = 130


class JobNotFoundError(UsageError):
    """No job has the given id."""
