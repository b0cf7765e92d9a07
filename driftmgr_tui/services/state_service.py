"""StateService: every state capability, for the CLI and the TUI alike.

Front ends name a state source (a file, a Terraform working dir, or an explicit
backend spec) and call one method per operation. Validation, errors and the
safe write path are wired here once. The database is opened only by operations
that need it (backups), so ``state list`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftmgr_tui.core.errors import DriftmgrError, StateConflictError, UsageError
from driftmgr_tui.core.settings import Settings, load_settings
from driftmgr_tui.state import operations as ops
from driftmgr_tui.state.backends.base import StateBackend
from driftmgr_tui.state.codec import content_digest, read_state, write_state
from driftmgr_tui.state.model import InstanceRef, StateFile, StateProblem
from driftmgr_tui.state.store import CommitResult, StateStore


@dataclass(frozen=True)
class StateSource:
    """Where a state lives. Exactly one of ``state_path``, ``chdir``, ``backend`` (a spec such
    as ``s3://bucket/key?region=eu-west-1``) or ``terragrunt_unit`` (a directory with a
    ``terragrunt.hcl``); none means the current directory as a working dir."""

    state_path: Path | None = None
    chdir: Path | None = None
    backend: str | None = None
    workspace: str | None = None
    terragrunt_unit: Path | None = None

    def __post_init__(self) -> None:
        given = [x for x in (self.state_path, self.chdir, self.backend, self.terragrunt_unit) if x is not None]
        if len(given) > 1:
            raise UsageError("give only one of --state, --chdir, --backend and --terragrunt-unit")


@dataclass
class ValidationReport:
    location: str
    serial: int | None
    lineage: str | None
    instances: int
    problems: list[StateProblem] = field(default_factory=list)

    @property
    def errors(self) -> list[StateProblem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "serial": self.serial,
            "lineage": self.lineage,
            "instances": self.instances,
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.problems) - len(self.errors),
            "problems": [
                {"severity": p.severity, "code": p.code, "message": p.message, "address": p.address}
                for p in self.problems
            ],
        }


@dataclass
class LockStatus:
    location: str
    locked: bool
    stale: bool
    info: dict[str, str] | None

    def to_json(self) -> dict[str, Any]:
        return {"location": self.location, "locked": self.locked, "stale": self.stale, "lock": self.info}


class StateService:
    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        self._backups = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    # -- wiring --------------------------------------------------------------------
    def backend(self, source: StateSource, *, lock_timeout: float | None = None) -> StateBackend:
        timeout = self.settings.lock_timeout if lock_timeout is None else lock_timeout
        if source.state_path is not None:
            from driftmgr_tui.state.backends.local import LocalBackend

            if source.state_path.is_dir():
                raise UsageError(f"--state {source.state_path} is a directory; use --chdir for a working dir")
            return LocalBackend(source.state_path, lock_timeout=timeout)
        if source.backend is not None:
            from driftmgr_tui.state.backends.config import backend_from_spec

            backend = backend_from_spec(source.backend)
            if source.workspace and hasattr(backend, "for_workspace"):
                backend = backend.for_workspace(source.workspace)
        elif source.terragrunt_unit is not None:
            from driftmgr_tui.state.terragrunt import unit_backend

            backend = unit_backend(source.terragrunt_unit, workspace=source.workspace)
        else:
            from driftmgr_tui.state.backends.config import backend_from_chdir

            directory = source.chdir or Path.cwd()
            if not directory.is_dir():
                raise UsageError(f"--chdir {directory}: no such directory")
            backend = backend_from_chdir(directory, workspace=source.workspace)
        if hasattr(backend, "lock_timeout"):
            backend.lock_timeout = timeout
        return backend

    @property
    def backups(self):  # -> BackupStore
        if self._backups is None:
            from driftmgr_tui.core.db import open_database
            from driftmgr_tui.state.backups import BackupStore

            engine = open_database(self.settings)
            self._backups = BackupStore(engine, self.settings.backups_dir,
                                        retention=self.settings.backup_retention)
        return self._backups

    def store(self, source: StateSource, *, lock_timeout: float | None = None,
              with_backups: bool = True) -> StateStore:
        return StateStore(self.backend(source, lock_timeout=lock_timeout),
                          self.backups if with_backups else None)

    # -- reading ---------------------------------------------------------------------
    def load(self, source: StateSource) -> StateFile:
        state, _ = StateStore(self.backend(source), None).read()
        return state

    def list(self, source: StateSource, *, types: list[str] | None = None, module: str | None = None,
             patterns: list[str] | None = None) -> list[InstanceRef]:
        state = self.load(source)
        return ops.list_instances(state, types=types or (), module=module, patterns=patterns or ())

    def show(self, source: StateSource, address: str, *, reveal: bool = False) -> dict[str, Any]:
        return ops.show_json(ops.get_instance(self.load(source), address), reveal=reveal)

    def pull(self, source: StateSource) -> bytes:
        """The current state, as Terraform would write it (legacy formats come out as v4)."""
        return write_state(self.load(source))

    # -- mutating ----------------------------------------------------------------------
    def rm(self, source: StateSource, addresses: list[str], *, dry_run: bool = False,
           lock_timeout: float | None = None) -> CommitResult:
        return self.store(source, lock_timeout=lock_timeout, with_backups=not dry_run).mutate(
            "state rm", lambda s: [f"removed {a}" for a in ops.remove(s, addresses)],
            reason=f"before rm {' '.join(addresses)}", dry_run=dry_run,
        )

    def mv(self, source: StateSource, src: str, dst: str, *, dry_run: bool = False,
           lock_timeout: float | None = None) -> CommitResult:
        return self.store(source, lock_timeout=lock_timeout, with_backups=not dry_run).mutate(
            "state mv", lambda s: [f"moved {m}" for m in ops.move(s, src, dst)],
            reason=f"before mv {src} {dst}", dry_run=dry_run,
        )

    def set_attributes(self, source: StateSource, address: str, values: dict[str, Any], *, reason: str,
                       dry_run: bool = False, lock_timeout: float | None = None) -> CommitResult:
        return self.store(source, lock_timeout=lock_timeout, with_backups=not dry_run).mutate(
            "state edit", lambda s: ops.set_attributes(s, address, values), reason=reason, dry_run=dry_run,
        )

    def import_instance(self, source: StateSource, address: str, attributes: dict[str, Any], *,
                        provider: str | None = None, schema_version: int = 0,
                        dry_run: bool = False, lock_timeout: float | None = None,
                        create: bool = False) -> CommitResult:
        store = self.store(source, lock_timeout=lock_timeout, with_backups=not dry_run)
        if create and store.backend.read() is None:
            return self._import_into_new(store, address, attributes, provider, schema_version, dry_run)
        return store.mutate(
            "state import",
            lambda s: ops.import_instance(s, address, attributes, provider=provider,
                                          schema_version=schema_version),
            reason=f"before import {address}", dry_run=dry_run,
        )

    def _import_into_new(self, store: StateStore, address: str, attributes: dict[str, Any],
                         provider: str | None, schema_version: int, dry_run: bool) -> CommitResult:
        import uuid

        from driftmgr_tui.state.model import new_state

        state = new_state(str(uuid.uuid4()))
        messages = ops.import_instance(state, address, attributes, provider=provider,
                                       schema_version=schema_version)
        state.serial = 1
        result = store.replace(state, "state import", reason=f"import {address} into a new state",
                               check=_require_absent, dry_run=dry_run)
        result.messages[:0] = messages
        return result

    def push(self, source: StateSource, data: bytes, *, path: str = "-", force: bool = False,
             dry_run: bool = False, lock_timeout: float | None = None) -> CommitResult:
        """Replace the state with ``data`` under Terraform's ``state push`` rules."""
        new = read_state(data, path=path)
        check = None if force else check_valid_import
        return self.store(source, lock_timeout=lock_timeout, with_backups=not dry_run).replace(
            new, "state push", reason=f"before push of {path}" + (" (forced)" if force else ""),
            check=check, dry_run=dry_run,
        )

    # -- validation ------------------------------------------------------------------------
    def validate(self, source: StateSource) -> ValidationReport:
        backend = self.backend(source)
        obj = backend.read()
        if obj is None:
            raise DriftmgrError(f"no state at {backend.location}")
        state = read_state(obj.data, path=backend.location)
        problems = ops.validate(state)
        problems += self._history_problems(backend.location, state)
        problems.sort(key=lambda p: (p.severity != "error", p.code, p.address or ""))
        return ValidationReport(backend.location, state.serial, state.lineage, len(state.index), problems)

    def _history_problems(self, location: str, state: StateFile) -> list[StateProblem]:
        """Serial/lineage sanity against what this machine has seen of the same state."""
        try:
            history = self.backups.list(location, limit=200)
        except DriftmgrError:
            return []
        problems = []
        newer = [b for b in history if b.lineage == state.lineage and (b.serial or 0) > state.serial]
        if newer:
            top = max(newer, key=lambda b: b.serial or 0)
            problems.append(StateProblem(
                "error", "serial-went-backwards",
                f"serial {state.serial} is lower than backup {top.id} (serial {top.serial}, "
                f"{top.created_at:%Y-%m-%d %H:%M}): an older state was written over a newer one"))
        lineages = {b.lineage for b in history if b.lineage}
        if history and state.lineage and state.lineage not in lineages:
            problems.append(StateProblem(
                "warning", "lineage-changed",
                f"lineage {state.lineage} differs from every backup of this location "
                f"({', '.join(sorted(lineages))}): the state was replaced by an unrelated one"))
        return problems

    # -- backups -----------------------------------------------------------------------------
    def backup(self, source: StateSource, *, reason: str = "manual backup") -> Any:
        from driftmgr_tui.state.store import meta_of

        backend = self.backend(source)
        obj = backend.read()
        if obj is None:
            raise DriftmgrError(f"no state at {backend.location} to back up")
        state = read_state(obj.data, path=backend.location)
        return self.backups.save(backend.location, obj.data, reason=reason, meta=meta_of(state))

    def list_backups(self, source: StateSource | None = None, *, all_locations: bool = False) -> list[Any]:
        location = None if all_locations or source is None else self.backend(source).location
        return self.backups.list(location)

    def restore(self, source: StateSource, backup_id: str, *, force: bool = False, dry_run: bool = False,
                lock_timeout: float | None = None) -> CommitResult:
        """Write a backup's content back as the newest state: serial = current + 1, lineage kept.
        A backup of another lineage or location needs ``force``."""
        backup = self.backups.get(backup_id)
        data = self.backups.read(backup)
        old = read_state(data, path=f"backup {backup.id}")
        store = self.store(source, lock_timeout=lock_timeout, with_backups=not dry_run)
        if backup.location != store.location and not force:
            raise UsageError(
                f"backup {backup.id} was taken of {backup.location}, not {store.location}; "
                "add --force to restore it here anyway"
            )

        def check(current: StateFile | None, new: StateFile) -> None:
            if current is not None and current.lineage and new.lineage and current.lineage != new.lineage \
                    and not force:
                raise StateConflictError(
                    f"backup {backup.id} has lineage {new.lineage}, the state has {current.lineage}; "
                    "add --force to restore an unrelated state"
                )

        return store.replace(old, "state restore", reason=f"before restore of backup {backup.id}",
                             check=check, bump_serial=True, dry_run=dry_run)

    # -- locks --------------------------------------------------------------------------------
    def locks(self, source: StateSource) -> LockStatus:
        backend = self.backend(source)
        info = backend.current_lock()
        stale = bool(getattr(backend, "lock_is_stale", lambda: False)()) if info else False
        return LockStatus(backend.location, info is not None, stale, info.to_terraform() if info else None)

    def unlock(self, source: StateSource, lock_id: str, *, force: bool = False) -> LockStatus:
        backend = self.backend(source)
        backend.unlock(lock_id, force=force)
        return self.locks(source)


def _require_absent(current: StateFile | None, new: StateFile) -> None:
    if current is not None:
        raise StateConflictError("a state appeared while importing; run the import again")


def check_valid_import(current: StateFile | None, new: StateFile) -> None:
    """Terraform's ``statemgr.CheckValidImport`` (the rules of ``terraform state push``)."""
    if current is None or (not current.index and not current.outputs):
        return
    if new.lineage and current.lineage and new.lineage != current.lineage:
        raise StateConflictError(
            f'cannot import state with lineage "{new.lineage}" over unrelated state with lineage '
            f'"{current.lineage}"',
            hint="use --force only if you really mean to replace an unrelated state",
        )
    if new.serial < current.serial:
        raise StateConflictError(
            f"cannot import state with serial {new.serial} over newer state with serial {current.serial}",
            hint="pull the current state first; --force overrides",
        )
    if new.serial == current.serial and content_digest(new) != content_digest(current):
        raise StateConflictError(
            f"cannot overwrite existing state with serial {new.serial} with a different state "
            "that has the same serial",
        )
