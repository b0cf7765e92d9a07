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
loop), so two writers can never both believe they hold the lock. The new inode
is locked *before* the rename makes it current, so the current file is never
unlocked while a writer still holds the lock.

Terraform does not re-open the file between its lock retries (``-lock-timeout``):
a ``terraform`` that opened the old inode while we held it would, once we let it
go, lock that orphaned inode, read the stale state in it and write its result
into it, where nobody sees it again (a silent lost update). So before a replaced
inode is released its content is overwritten with a tombstone that is not JSON:
such a waiter fails loudly ("could not be parsed") and can simply be re-run. Our
own lock-free readers re-read when the file they opened was replaced meanwhile.

An empty state file means "no state", as in Terraform.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import stat
import struct
import time
from pathlib import Path

import orjson

from driftmgr_tui.core.errors import (
    BackendError,
    DriftmgrError,
    LockInfo,
    StateFormatError,
    StateLockedError,
    UsageError,
)
from driftmgr_tui.state.backends.base import StateBackend, StateObject

# Written over an inode that was replaced while we held its lock (see the module docstring).
TOMBSTONE = (
    b"driftmgr: this copy of the state was replaced by a newer write while you waited for its lock;\n"
    b"it is NOT the current state. Run the command again to use the current file.\n"
)


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so that the file is always either the old or the new content."""
    directory = path.parent
    tmp = directory / f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            os.fchmod(fd, mode)  # exactly ``mode``, whatever the umask
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(directory: Path) -> None:
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
        self._created = False  # our lock created the (empty) file: removed again on unlock

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
        if self._lock_fd is not None:
            data = _read_fd(self._lock_fd)
            st = os.fstat(self._lock_fd)
        else:
            data, found = self._read_unlocked()
            if found is None:
                return None
            st = found
        if not data:
            # Terraform reads an empty file as "no state" (a lock creates one, a crash may leave one).
            return None
        return StateObject(data, version=f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}")

    def _read_unlocked(self) -> tuple[bytes, os.stat_result | None]:
        """The current bytes without the lock: regular files only (opening a FIFO would block), read
        again when a writer replaced the file while we read it (we may be holding its tombstone)."""
        for _ in range(50):
            try:
                fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
            except FileNotFoundError:
                return b"", None
            except OSError as exc:
                raise self._unreadable(exc) from None
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    raise self._not_regular(st)
                data = _read_fd(fd)
                if os.fstat(fd).st_nlink > 0:
                    return data, st
            except OSError as exc:
                raise self._unreadable(exc) from None
            finally:
                os.close(fd)
        raise BackendError(f"cannot read state {self.path}: it keeps being replaced")

    def _unreadable(self, exc: OSError) -> DriftmgrError:
        if exc.errno == errno.EISDIR:
            return StateFormatError("is a directory, not a state file", path=str(self.path))
        return StateFormatError(f"cannot read the state file: {exc.strerror or exc}", path=str(self.path))

    def _not_regular(self, st: os.stat_result) -> DriftmgrError:
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            kind = "a directory"
        elif stat.S_ISFIFO(mode):
            kind = "a FIFO"
        elif stat.S_ISSOCK(mode):
            kind = "a socket"
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            kind = "a device"
        else:
            kind = "not a regular file"
        return StateFormatError(f"is {kind}, not a state file", path=str(self.path))

    def write(self, data: bytes, *, lock: LockInfo | None, expected_version: str | None = None) -> StateObject:
        if lock is not None and (self._held is None or self._held.id != lock.id):
            raise BackendError(f"refusing to write {self.path}: lock {lock.id} is not held by this process")
        previous = self.read()
        mode = 0o644
        owner: tuple[int, int] | None = None
        if previous is not None:
            st = os.fstat(self._lock_fd) if self._lock_fd is not None else self.path.stat()
            mode = stat.S_IMODE(st.st_mode)
            owner = (st.st_uid, st.st_gid)
            # Terraform's own rollback file, refreshed before every write.
            try:
                atomic_write(self.backup_path, previous.data, mode=mode & 0o777)
            except OSError as exc:
                raise BackendError(f"cannot write {self.backup_path}: {exc.strerror or exc}") from None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            st = self._replace(data, mode, owner)
        except OSError as exc:
            raise BackendError(f"cannot write state {self.path}: {exc.strerror or exc}") from None
        return StateObject(data, version=f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}")

    def _replace(self, data: bytes, mode: int, owner: tuple[int, int] | None) -> os.stat_result:
        """Atomic write (temp + fsync + rename + fsync of the directory) keeping the file's mode and
        owner; when we hold the lock, the new inode is locked before the rename makes it current."""
        tmp = self.path.parent / f".{self.path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                if owner is not None and owner != (os.geteuid(), os.getegid()):
                    # Not ours to give away otherwise: the file becomes the writer's, as with any rename.
                    with contextlib.suppress(PermissionError):
                        os.fchown(fd, *owner)
                os.fchmod(fd, mode)
                _write_all(fd, data)
                os.fsync(fd)
                if self._lock_fd is not None:
                    _lock_fd(fd)  # a private, unique name: nobody else can hold this lock
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
            _fsync_dir(self.path.parent)
            st = os.fstat(fd)
        except BaseException:
            os.close(fd)
            raise
        if self._lock_fd is None:
            os.close(fd)
            return st
        old, self._lock_fd = self._lock_fd, fd
        self._created = False
        try:
            _bury(old)
        finally:
            os.close(old)  # releases our lock on the replaced inode
        return st

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
                raise StateLockedError(self.location, self._holder(),
                                       detail="another process holds the file lock")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        self._lock_fd = fd
        try:
            atomic_write(self.lock_info_path, orjson.dumps(info.to_terraform()), mode=0o600)
        except OSError as exc:
            self._drop_created()
            self._release_fd()
            raise BackendError(f"cannot write lock info {self.lock_info_path}: {exc.strerror or exc}") from None
        self._held = info
        self._sweep_temp_files()
        return info

    def _sweep_temp_files(self) -> None:
        """Remove temp files that writers killed mid-write left beside the state (they may hold a copy
        of it, secrets included). Only we write them, under the lock we now hold; a live PID's are kept."""
        name = re.escape(self.path.name)
        pattern = re.compile(rf"\.\.?{name}(?:\.backup|\.lock\.info)?\.(\d+)\.\d+\.tmp")
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.path.parent):
                match = pattern.fullmatch(entry.name)
                if match is None or int(match.group(1)) == os.getpid() or _pid_alive(int(match.group(1))):
                    continue
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)

    def _holder(self) -> LockInfo | None:
        """Who holds the lock. A holder writes its lock info just after taking the OS lock: give it a
        moment rather than report an anonymous lock."""
        deadline = time.monotonic() + 2.0
        while True:
            current = self.current_lock()
            if current is None or current.id or time.monotonic() >= deadline:
                return current
            time.sleep(0.02)

    def _try_lock(self) -> int | None:
        """Take the POSIX write lock on the current state file, or None if another process holds it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:  # a path component is a file
            raise UsageError(f"cannot create the directory for {self.path}: "
                             f"{self.path.parent} is not a directory") from None
        except OSError as exc:
            raise BackendError(f"cannot create the directory for {self.path}: {exc.strerror or exc}") from None
        for _ in range(100):
            created = False
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
                created = True
            except FileExistsError:
                try:
                    fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    raise self._unlockable(exc) from None
            except OSError as exc:
                raise self._unlockable(exc) from None
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                os.close(fd)
                raise self._not_regular(st)
            try:
                _lock_fd(fd)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EACCES, errno.EAGAIN):
                    return None
                raise BackendError(f"cannot lock {self.path}: {exc.strerror or exc}") from None
            # The file may have been replaced (renamed over) between open and lock: verify.
            try:
                same = st.st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._created = created
                return fd
            os.close(fd)
        raise BackendError(f"could not lock {self.path}: it keeps being replaced")

    def _unlockable(self, exc: OSError) -> DriftmgrError:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENXIO):
            return UsageError(f"cannot open {self.path} for writing (needed to lock it): {exc.strerror or exc}")
        return BackendError(f"cannot open {self.path} to lock it: {exc.strerror or exc}")

    def _drop_created(self) -> None:
        """An empty file created only to hold the lock is not a state: remove it while still holding the
        lock (a waiter that then locks the unlinked inode sees it is gone and retries)."""
        if self._created and self._lock_fd is not None and os.fstat(self._lock_fd).st_size == 0:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        self._created = False

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
            self._drop_created()
            self._release_fd()
            return
        # Unlocking from another process: only a stale lock (info file without a live OS lock) can go.
        current = self.current_lock()
        if current is None:
            raise BackendError(f"{self.path} is not locked")
        if not force and lock_id != current.id:
            raise BackendError(f"lock ID {lock_id!r} does not match the current lock ({current.describe()})")
        if self._os_lock_held_elsewhere():
            detail = "a live process holds the file lock; local locks cannot be broken from another process"
            exc = StateLockedError(self.location, current, detail=detail)
            exc.hint = "let that process finish, or stop it: its lock dies with it"
            raise exc
        self._remove_info()

    def _remove_info(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.lock_info_path.unlink()

    def _os_lock_held_elsewhere(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            return False
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return False
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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, not ours to signal
    return True


def _bury(fd: int) -> None:
    """Overwrite a replaced (unlinked) inode so that a process still holding it open (a Terraform
    waiting for the lock) cannot take it for the state. Left alone if another name still links it."""
    with contextlib.suppress(OSError):
        if os.fstat(fd).st_nlink == 0:
            os.pwrite(fd, TOMBSTONE, 0)
            os.ftruncate(fd, len(TOMBSTONE))
