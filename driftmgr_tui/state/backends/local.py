"""A state file on local disk, locked the way Terraform locks it.

Terraform's local backend takes a POSIX record lock (``fcntl`` F_SETLK, write
lock) on the state file itself and writes who/when/what to
``.<name>.lock.info`` beside it. We take the same lock, so driftmgr and
``terraform`` exclude each other, and write the same info file.

The lock is an open-file-description lock (``F_OFD_SETLK``) where the OS has
them (Linux): it conflicts with Terraform's classic POSIX locks, but unlike them
is not silently dropped when this process closes some other descriptor of the
same file, and it excludes threads of one process from each other too.

Writes are atomic (temp file in the same directory, fsync, rename, fsync of the
directory): a reader or a crash sees the old bytes or the new, never a mix.
Because rename swaps the inode, a lock taken on an old inode is re-checked
after acquisition and retaken on the current file (the classic lock-then-verify
loop), so two writers can never both believe they hold the lock.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import time
from pathlib import Path

import orjson

from driftmgr_tui.core.errors import BackendError, LockInfo, StateLockedError
from driftmgr_tui.state.backends.base import StateBackend, StateObject


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so that the file is always either the old or the new content."""
    directory = path.parent
    tmp = directory / f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class LocalBackend(StateBackend):
    kind = "local"

    def __init__(self, path: Path | str, *, lock_timeout: float = 0.0) -> None:
        self.path = Path(path).absolute()
        self.lock_timeout = lock_timeout
        self._lock_fd: int | None = None
        self._held: LockInfo | None = None

    # -- paths ---------------------------------------------------------------
    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def lock_info_path(self) -> Path:
        """Terraform's ``.terraform.tfstate.lock.info`` for ``terraform.tfstate``."""
        return self.path.parent / f".{self.path.name}.lock.info"

    @property
    def backup_path(self) -> Path:
        """Terraform's ``terraform.tfstate.backup``: the state as it was before the last write."""
        return self.path.with_name(self.path.name + ".backup")

    # -- read/write ------------------------------------------------------------
    def read(self) -> StateObject | None:
        try:
            if self._lock_fd is not None:
                data = _read_fd(self._lock_fd)
            else:
                data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise BackendError(f"{self.path} is a directory, not a state file") from None
        except PermissionError as exc:
            raise BackendError(f"cannot read state {self.path}: {exc.strerror}") from None
        except OSError as exc:
            raise BackendError(f"cannot read state {self.path}: {exc.strerror or exc}") from None
        if not data and self._lock_fd is not None:
            # The lock creates an empty file when none existed: that is "no state" still.
            return None
        st = self.path.stat()
        return StateObject(data, version=f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}")

    def write(self, data: bytes, *, lock: LockInfo | None, expected_version: str | None = None) -> StateObject:
        if lock is not None and (self._held is None or self._held.id != lock.id):
            raise BackendError(f"refusing to write {self.path}: lock {lock.id} is not held by this process")
        previous = self.read()
        mode = 0o644
        if previous is not None:
            mode = self.path.stat().st_mode & 0o777
            # Terraform's own rollback file, refreshed before every write.
            try:
                atomic_write(self.backup_path, previous.data, mode=mode)
            except OSError as exc:
                raise BackendError(f"cannot write {self.backup_path}: {exc.strerror or exc}") from None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, data, mode=mode)
        except OSError as exc:
            raise BackendError(f"cannot write state {self.path}: {exc.strerror or exc}") from None
        if self._lock_fd is not None:
            self._relock_current_inode()
        st = self.path.stat()
        return StateObject(data, version=f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}")

    # -- locking -----------------------------------------------------------------
    def lock(self, info: LockInfo) -> LockInfo:
        if self._lock_fd is not None:
            raise BackendError(f"{self.path} is already locked by this process ({self._held and self._held.id})")
        info.path = str(self.path)
        deadline = time.monotonic() + max(self.lock_timeout, 0.0)
        delay = 0.05
        while True:
            fd = self._try_lock()
            if fd is not None:
                break
            if time.monotonic() >= deadline:
                raise StateLockedError(self.location, self.current_lock(),
                                       detail="another process holds the file lock")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        self._lock_fd = fd
        try:
            atomic_write(self.lock_info_path, orjson.dumps(info.to_terraform()), mode=0o600)
        except OSError as exc:
            self._release_fd()
            raise BackendError(f"cannot write lock info {self.lock_info_path}: {exc.strerror or exc}") from None
        self._held = info
        return info

    def _try_lock(self) -> int | None:
        """Take the POSIX write lock on the current state file, or None if another process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise BackendError(f"cannot open {self.path} to lock it: {exc.strerror or exc}") from None
            try:
                _lock_fd(fd)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EACCES, errno.EAGAIN):
                    return None
                raise BackendError(f"cannot lock {self.path}: {exc.strerror or exc}") from None
            # The file may have been replaced (renamed over) between open and lock: verify.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)
        raise BackendError(f"could not lock {self.path}: it keeps being replaced")

    def _relock_current_inode(self) -> None:
        """After our own rename, move the lock onto the new inode so later waiters block on it."""
        assert self._lock_fd is not None
        fd = os.open(self.path, os.O_RDWR)
        try:
            _lock_fd(fd)
        except OSError:
            os.close(fd)
            return  # another process already locked the new file; ours still covers our write
        old = self._lock_fd
        self._lock_fd = fd
        os.close(old)

    def _release_fd(self) -> None:
        if self._lock_fd is not None:
            try:
                _unlock_fd(self._lock_fd)
            finally:
                os.close(self._lock_fd)
                self._lock_fd = None

    def unlock(self, lock_id: str, *, force: bool = False) -> None:
        if self._lock_fd is not None and self._held is not None:
            if not force and lock_id != self._held.id:
                raise BackendError(f"lock ID {lock_id!r} does not match the held lock {self._held.id!r}")
            self._remove_info()
            self._held = None
            self._release_fd()
            # An empty file created only to hold the lock is not a state.
            try:
                if self.path.stat().st_size == 0:
                    self.path.unlink()
            except FileNotFoundError:
                pass
            return
        # Unlocking from another process: only a stale lock (info file without a live OS lock) can go.
        current = self.current_lock()
        if current is None:
            raise BackendError(f"{self.path} is not locked")
        if not force and lock_id != current.id:
            raise BackendError(f"lock ID {lock_id!r} does not match the current lock ({current.describe()})")
        if self._os_lock_held_elsewhere():
            raise StateLockedError(
                self.location, current,
                detail="a live process holds the file lock; local locks cannot be broken from another process",
            )
        self._remove_info()

    def _remove_info(self) -> None:
        try:
            self.lock_info_path.unlink()
        except FileNotFoundError:
            pass

    def _os_lock_held_elsewhere(self) -> bool:
        if not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDONLY)
        try:
            lock = fcntl.fcntl(fd, _GETLK, _flock_struct(fcntl.F_WRLCK))
        finally:
            os.close(fd)
        return _flock_type(lock) != fcntl.F_UNLCK

    def current_lock(self) -> LockInfo | None:
        try:
            raw = self.lock_info_path.read_bytes()
        except FileNotFoundError:
            if self._os_lock_held_elsewhere():
                return LockInfo(id="", info="file lock held, no lock info written", path=str(self.path))
            return None
        try:
            return LockInfo.from_terraform(orjson.loads(raw))
        except (orjson.JSONDecodeError, AttributeError):
            return LockInfo(id="", info=f"unreadable lock info in {self.lock_info_path}", path=str(self.path))

    def lock_is_stale(self) -> bool:
        """True when lock info exists but no process holds the file lock (its holder died)."""
        return self.lock_info_path.exists() and not self._os_lock_held_elsewhere() and self._lock_fd is None

    def workspaces(self) -> list[str]:
        return ["default"]


# struct flock: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid (+ padding)
_FLOCK_FMT = "hhqqi4x"
_OFD = hasattr(fcntl, "F_OFD_SETLK")
_SETLK = fcntl.F_OFD_SETLK if _OFD else fcntl.F_SETLK
_GETLK = fcntl.F_OFD_GETLK if _OFD else fcntl.F_GETLK


def _flock_struct(lock_type: int) -> bytes:
    return struct.pack(_FLOCK_FMT, lock_type, os.SEEK_SET, 0, 0, 0)


def _flock_type(raw: bytes) -> int:
    return struct.unpack(_FLOCK_FMT, raw)[0]


def _lock_fd(fd: int) -> None:
    """Non-blocking whole-file write lock; OSError(EAGAIN/EACCES) when someone else holds it."""
    fcntl.fcntl(fd, _SETLK, _flock_struct(fcntl.F_WRLCK))


def _unlock_fd(fd: int) -> None:
    fcntl.fcntl(fd, _SETLK, _flock_struct(fcntl.F_UNLCK))


def _read_fd(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    chunks = []
    offset = 0
    while offset < size:
        chunk = os.pread(fd, size - offset, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)
