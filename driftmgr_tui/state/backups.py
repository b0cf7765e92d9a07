"""Content-addressed state backups: every write can be undone.

Each backup is a row (location, serial, lineage, time, reason, who) pointing at
a blob named by the SHA-256 of the exact bytes that were replaced, stored
gzip-compressed under ``<data dir>/backups/ab/abcdef....tfstate.gz``. The blob
is written (atomically) before its row is committed, so a crash leaves at worst
an unreferenced blob, never a row without its bytes. Identical bytes are stored
once however many times they are backed up.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import col, select

from driftmgr_tui.core.db import session_scope
from driftmgr_tui.core.errors import DriftmgrError, UsageError
from driftmgr_tui.core.models import StateBackup
from driftmgr_tui.state.backends.base import new_lock_info
from driftmgr_tui.state.backends.local import atomic_write
from driftmgr_tui.state.model import BackupMeta


class BackupNotFoundError(UsageError):
    """No backup has the given ID."""


class BackupCorruptError(DriftmgrError):
    """A backup blob is missing or its bytes no longer match their digest."""


class BackupStore:
    def __init__(self, engine: Engine, root: Path, *, retention: int = 50) -> None:
        self.engine = engine
        self.root = root
        self.retention = retention

    def blob_path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}.tfstate.gz"

    @contextlib.contextmanager
    def _blob_lock(self):
        """Serialises blob writes with pruning across processes, so a prune never deletes a blob that a
        concurrent save of identical bytes is about to reference."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def save(self, location: str, data: bytes, *, reason: str, meta: BackupMeta) -> StateBackup:
        """Store ``data`` (the bytes about to be replaced) and record it. Returns the row."""
        digest = hashlib.sha256(data).hexdigest()
        path = self.blob_path(digest)
        with self._blob_lock():
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                atomic_write(path, gzip.compress(data, compresslevel=6, mtime=0), mode=0o600)
            return self._record(location, digest, data, reason, meta)

    def _record(self, location: str, digest: str, data: bytes, reason: str, meta: BackupMeta) -> StateBackup:
        row = StateBackup(
            location=location,
            sha256=digest,
            serial=meta.serial,
            lineage=meta.lineage,
            terraform_version=meta.terraform_version,
            resource_count=meta.resource_count,
            size=len(data),
            reason=reason,
            created_at=datetime.now(UTC),
            created_by=new_lock_info("backup", location).who,
        )
        with session_scope(self.engine) as session:
            session.add(row)
            session.flush()
            session.refresh(row)
            session.expunge(row)
        self._prune_locked(location)
        return row

    def list(self, location: str | None = None, *, limit: int | None = None) -> list[StateBackup]:
        """Backups, newest first (optionally of one location)."""
        with session_scope(self.engine) as session:
            query = select(StateBackup).order_by(col(StateBackup.created_at).desc(), col(StateBackup.id).desc())
            if location is not None:
                query = query.where(StateBackup.location == location)
            if limit:
                query = query.limit(limit)
            rows = list(session.exec(query).all())
            for row in rows:
                session.expunge(row)
        return rows

    def get(self, backup_id: int | str) -> StateBackup:
        """A backup by numeric ID or by a unique prefix (>= 6 hex digits) of its SHA-256."""
        with session_scope(self.engine) as session:
            row = None
            text = str(backup_id).strip()
            if text.isdigit():
                row = session.get(StateBackup, int(text))
            if row is None and len(text) >= 6 and all(c in "0123456789abcdef" for c in text.lower()):
                rows = session.exec(
                    select(StateBackup).where(col(StateBackup.sha256).startswith(text.lower()))
                    .order_by(col(StateBackup.id).desc())
                ).all()
                if len({r.sha256 for r in rows}) > 1:
                    raise UsageError(f"backup prefix {text!r} is ambiguous; use more characters or the numeric ID")
                row = rows[0] if rows else None
            if row is None:
                raise BackupNotFoundError(f"no backup with ID {text!r} (see `driftmgr state backups`)")
            session.expunge(row)
            return row

    def read(self, backup: StateBackup) -> bytes:
        """The backed-up bytes, verified against their digest."""
        path = self.blob_path(backup.sha256)
        try:
            data = gzip.decompress(path.read_bytes())
        except FileNotFoundError:
            raise BackupCorruptError(f"backup {backup.id}: blob {path} is missing") from None
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise BackupCorruptError(f"backup {backup.id}: blob {path} is unreadable: {exc}") from None
        if hashlib.sha256(data).hexdigest() != backup.sha256:
            raise BackupCorruptError(f"backup {backup.id}: blob {path} does not match its SHA-256 digest")
        return data

    def blob_exists(self, backup: StateBackup) -> bool:
        return self.blob_path(backup.sha256).exists()

    def prune(self, location: str) -> int:
        """Keep the newest ``retention`` backups of ``location``; delete blobs nothing references."""
        with self._blob_lock():
            return self._prune_locked(location)

    def _prune_locked(self, location: str) -> int:
        with session_scope(self.engine) as session:
            rows = session.exec(
                select(StateBackup).where(StateBackup.location == location)
                .order_by(col(StateBackup.created_at).desc(), col(StateBackup.id).desc())
            ).all()
            doomed = rows[self.retention:]
            digests = {r.sha256 for r in doomed}
            for row in doomed:
                session.delete(row)
            session.flush()
            still_used = set()
            if digests:
                still_used = set(session.exec(
                    select(StateBackup.sha256).where(col(StateBackup.sha256).in_(digests))
                ).all())
        for digest in digests - still_used:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.blob_path(digest))
        return len(doomed)
