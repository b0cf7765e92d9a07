"""The one write path for Terraform state (ARCHITECTURE.md safety rule 1).

    lock -> read -> change a copy -> back up the replaced bytes -> write atomically -> release

The serial goes up by one only when the content changed; the lineage never
changes (``push`` and ``restore`` follow Terraform's import rules instead). A
locked state is refused with the holder's who/when/operation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from driftmgr_tui.core.errors import DriftmgrError, LockInfo, StateConflictError, StateFormatError
from driftmgr_tui.state.backends.base import StateBackend, StateObject, new_lock_info
from driftmgr_tui.state.codec import content_digest, read_state, write_state
from driftmgr_tui.state.diff import StateDiff, diff_states
from driftmgr_tui.state.model import BackupMeta, StateFile

if TYPE_CHECKING:  # the database layer is imported only by writes that back up
    from driftmgr_tui.state.backups import BackupStore


class NoStateError(DriftmgrError):
    """There is no state at the location."""

    exit_code = 1


@dataclass
class CommitResult:
    """What a mutation did (or, in a dry run, would do)."""

    location: str
    changed: bool
    dry_run: bool
    diff: StateDiff
    old_serial: int | None
    new_serial: int | None
    lineage: str
    backup_id: int | None = None
    messages: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "location": self.location,
            "changed": self.changed,
            "dry_run": self.dry_run,
            "old_serial": self.old_serial,
            "new_serial": self.new_serial,
            "lineage": self.lineage,
            "backup_id": self.backup_id,
            "diff": self.diff.to_json(),
            "messages": self.messages,
        }


def meta_of(state: StateFile) -> BackupMeta:
    return BackupMeta(state.serial, state.lineage, state.terraform_version or None, len(state.index))


class StateStore:
    """Reads and safely writes the state held by one backend."""

    def __init__(self, backend: StateBackend, backups: BackupStore | None) -> None:
        self.backend = backend
        self.backups = backups

    @property
    def location(self) -> str:
        return self.backend.location

    def read(self) -> tuple[StateFile, StateObject]:
        obj = self.backend.read()
        if obj is None:
            raise NoStateError(f"no state at {self.location}")
        return read_state(obj.data, path=self.location), obj

    def read_optional(self) -> tuple[StateFile | None, StateObject | None]:
        obj = self.backend.read()
        if obj is None:
            return None, None
        return read_state(obj.data, path=self.location), obj

    @contextmanager
    def locked(self, operation: str) -> Iterator[LockInfo]:
        info = self.backend.lock(new_lock_info(operation, self.location))
        try:
            yield info
        finally:
            self.backend.unlock(info.id)

    def mutate(
        self,
        operation: str,
        change: Callable[[StateFile], list[str] | None],
        *,
        reason: str,
        dry_run: bool = False,
    ) -> CommitResult:
        """Apply ``change`` to a copy of the current state and persist it safely.

        ``change`` edits the StateFile in place and may return messages for the user.
        A dry run reads without locking and returns the diff it would write.
        """
        if dry_run:
            current, _ = self.read()
            proposed = current.copy()
            messages = change(proposed) or []
            proposed.reindex()
            return self._result(current, proposed, dry_run=True, messages=messages)
        with self.locked(operation) as lock:
            current, obj = self.read()
            _refuse_broken(current)
            proposed = current.copy()
            messages = change(proposed) or []
            proposed.reindex()
            return self._commit(current, obj, proposed, lock, reason=reason, messages=messages)

    def replace(
        self,
        new: StateFile,
        operation: str,
        *,
        reason: str,
        check: Callable[[StateFile | None, StateFile], None] | None = None,
        bump_serial: bool = False,
        dry_run: bool = False,
    ) -> CommitResult:
        """Write ``new`` over the current state (push, restore). ``check`` enforces the caller's
        serial/lineage rules against the current state before anything is written."""
        if dry_run:
            current, _ = self.read_optional()
            if check:
                check(current, new)
            proposed = self._prepare_replacement(current, new, bump_serial)
            return self._result(current, proposed, dry_run=True, messages=[])
        with self.locked(operation) as lock:
            current, obj = self.read_optional()
            if check:
                check(current, new)
            proposed = self._prepare_replacement(current, new, bump_serial)
            return self._commit(current, obj, proposed, lock, reason=reason, messages=[], keep_serial=True)

    @staticmethod
    def _prepare_replacement(current: StateFile | None, new: StateFile, bump_serial: bool) -> StateFile:
        proposed = new.copy()
        if bump_serial and current is not None:
            proposed.serial = max(current.serial, new.serial) + 1
            proposed.lineage = current.lineage or new.lineage
        proposed.reindex()
        return proposed

    def _result(self, current: StateFile | None, proposed: StateFile, *, dry_run: bool,
                messages: list[str]) -> CommitResult:
        changed = current is None or content_digest(current) != content_digest(proposed)
        new_serial = proposed.serial
        if changed and current is not None and proposed.serial <= current.serial and proposed.lineage == current.lineage:
            new_serial = current.serial + 1
        return CommitResult(
            location=self.location,
            changed=changed,
            dry_run=dry_run,
            diff=diff_states(current, proposed),
            old_serial=current.serial if current else None,
            new_serial=new_serial if changed else (current.serial if current else None),
            lineage=proposed.lineage,
            messages=messages,
        )

    def _commit(
        self,
        current: StateFile | None,
        obj: StateObject | None,
        proposed: StateFile,
        lock: LockInfo,
        *,
        reason: str,
        messages: list[str],
        keep_serial: bool = False,
    ) -> CommitResult:
        result = self._result(current, proposed, dry_run=False, messages=messages)
        if not result.changed:
            result.messages.append("no changes: the state was left as it was (serial unchanged)")
            return result
        if current is not None:
            if not keep_serial:
                if proposed.lineage != current.lineage:
                    raise StateConflictError(
                        f"refusing to change the lineage of {self.location} "
                        f"({current.lineage!r} -> {proposed.lineage!r})"
                    )
                proposed.serial = current.serial + 1
            result.new_serial = proposed.serial
        data = write_state(proposed)
        if current is not None and obj is not None and self.backups is not None:
            backup = self.backups.save(self.location, obj.data, reason=reason, meta=meta_of(current))
            result.backup_id = backup.id
        self.backend.write(data, lock=lock, expected_version=obj.version if obj else None)
        return result


def _refuse_broken(state: StateFile) -> None:
    errors = [p for p in state.problems if p.severity == "error"]
    if errors:
        raise StateFormatError(
            f"the state has {len(errors)} problem(s), first: {errors[0].message}; "
            "run `driftmgr state validate` and fix them before changing it",
            path=state.path,
        )
