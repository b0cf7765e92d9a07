"""LocalBackend against real files, real OS locks and real processes (and the real terraform when on PATH).

Nothing of the code under test is mocked: other lock holders are separate Python processes (or
``terraform`` itself), stale locks come from processes killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from driftmgr_tui.core.errors import (
    BackendError,
    DriftmgrError,
    LockInfo,
    StateFormatError,
    StateLockedError,
    UsageError,
)
from driftmgr_tui.services.state_service import StateService, StateSource
from driftmgr_tui.state import operations as ops
from driftmgr_tui.state.backends.base import new_lock_info
from driftmgr_tui.state.backends.local import TOMBSTONE, LocalBackend
from driftmgr_tui.state.codec import read_state, write_state
from driftmgr_tui.state.model import StateFile, new_state
from driftmgr_tui.state.store import NoStateError, StateStore

TF_LOCK_KEYS = {"ID", "Operation", "Info", "Who", "Version", "Created", "Path"}
WHO = f"{getpass.getuser()}@{socket.gethostname()}"

# A separate process that takes the lock through LocalBackend, prints its lock info as JSON and holds
# the lock until its stdin is closed.
HOLDER = r"""
import json, sys
from driftmgr_tui.state.backends.base import new_lock_info
from driftmgr_tui.state.backends.local import LocalBackend
backend = LocalBackend(sys.argv[1])
info = backend.lock(new_lock_info(sys.argv[2], backend.location))
print(json.dumps(info.to_terraform()), flush=True)
sys.stdin.read()
backend.unlock(info.id)
print("released", flush=True)
"""


# --------------------------------------------------------------------------------------------- helpers
def make_state(
    path: Path, addresses: tuple[str, ...] = ("aws_instance.a", "aws_instance.b"), *, serial: int = 1
) -> bytes:
    state = new_state(str(uuid.uuid4()))
    for n, address in enumerate(addresses):
        ops.import_instance(state, address, {"id": f"i-{n}", "ami": "ami-0abc"})
    state.serial = serial
    data = write_state(state)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def load(path: Path) -> StateFile:
    return read_state(path.read_bytes(), path=str(path))


def fingerprint(path: Path) -> tuple[bytes, int, int]:
    st = path.stat()
    return path.read_bytes(), st.st_mtime_ns, st.st_ino


@contextlib.contextmanager
def lock_held_elsewhere(path: Path, operation: str = "state mv") -> Iterator[tuple[subprocess.Popen, dict]]:
    """Another process holds the lock on ``path`` while the block runs; yields (process, lock info)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), operation],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line, f"lock holder failed: {proc.stderr.read()}"
        yield proc, json.loads(line)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def kill_while_locked(path: Path, operation: str = "state rm") -> dict:
    """Lock ``path`` in another process and SIGKILL it while it holds the lock: a stale lock."""
    with lock_held_elsewhere(path, operation) as (proc, info):
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=20) == -signal.SIGKILL
    return info


# --------------------------------------------------------------------------------------------- the lock
def test_second_backend_is_refused_naming_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "terraform.tfstate"
    original = make_state(path)
    first = LocalBackend(path)
    held = first.lock(new_lock_info("state mv", first.location, info="moving things"))

    second = LocalBackend(path)
    with pytest.raises(StateLockedError) as caught:
        second.lock(new_lock_info("state rm", second.location))
    message = str(caught.value)
    assert "locked" in message
    for part in (held.id, held.who, held.created, "state mv"):
        assert part in message, (part, message)
    assert held.who == WHO
    assert caught.value.lock is not None and caught.value.lock.id == held.id

    # A lock timeout retries for (about) that long, then gives up naming the same holder.
    patient = LocalBackend(path, lock_timeout=0.6)
    attempts: list[int] = []
    try_lock = patient._try_lock
    patient._try_lock = lambda: (attempts.append(1), try_lock())[1]  # type: ignore[method-assign]
    with pytest.raises(StateLockedError, match=re.escape(held.id)):
        patient.lock(new_lock_info("state rm", patient.location))
    assert len(attempts) > 2  # retried while the timeout lasted

    # The lock file is Terraform's .NAME.lock.info with Terraform's JSON keys.
    info_path = tmp_path / ".terraform.tfstate.lock.info"
    assert first.lock_info_path == info_path
    raw = json.loads(info_path.read_text())
    assert set(raw) == TF_LOCK_KEYS
    assert raw["ID"] == held.id
    assert raw["Operation"] == "state mv"
    assert raw["Info"] == "moving things"
    assert raw["Who"] == WHO
    assert raw["Version"].startswith("driftmgr ")
    assert raw["Path"] == str(path)
    datetime.strptime(raw["Created"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert LocalBackend(path).current_lock() == LockInfo.from_terraform(raw)

    # Only the holder's ID unlocks; unlocking removes the info file and frees the lock.
    with pytest.raises(BackendError, match="does not match"):
        first.unlock("not-the-id")
    first.unlock(held.id)
    assert not info_path.exists()
    assert LocalBackend(path).current_lock() is None
    again = second.lock(new_lock_info("state rm", second.location))
    second.unlock(again.id)
    assert path.read_bytes() == original  # locking never changes the state bytes


def test_lock_held_by_another_process_cannot_be_taken_or_broken(tmp_path: Path) -> None:
    path = tmp_path / "terraform.tfstate"
    make_state(path)
    before = fingerprint(path)
    service = StateService()
    source = StateSource(state_path=path)
    with lock_held_elsewhere(path, "state import") as (proc, info):
        assert set(info) == TF_LOCK_KEYS

        with pytest.raises(StateLockedError) as caught:
            LocalBackend(path).lock(new_lock_info("state rm", str(path)))
        for part in (info["ID"], info["Who"], info["Created"], "state import"):
            assert part in str(caught.value)

        status = service.locks(source)
        assert status.locked and not status.stale
        assert status.info["ID"] == info["ID"]

        for force in (False, True):
            with pytest.raises(StateLockedError) as refused:
                service.unlock(source, info["ID"], force=force)
            assert "cannot be broken from another process" in str(refused.value)
            assert info["ID"] in str(refused.value)
        with pytest.raises(StateLockedError, match="cannot be broken"):
            service.unlock(source, "some-other-id", force=True)
        with pytest.raises(DriftmgrError, match="does not match"):
            service.unlock(source, "some-other-id")

        # Through the CLI too: exit 1, one clear error, the holder's lock untouched.
        cli = subprocess.run(
            [
                sys.executable,
                "-m",
                "driftmgr_tui.cli",
                "state",
                "unlock",
                "--state",
                str(path),
                info["ID"],
                "--yes",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 1, cli.stderr
        assert "cannot be broken from another process" in cli.stderr
        assert "Traceback" not in cli.stderr

        assert json.loads(LocalBackend(path).lock_info_path.read_text())["ID"] == info["ID"]
        assert proc.poll() is None
        proc.stdin.close()
        assert proc.stdout.readline().strip() == "released"
        assert proc.wait(timeout=20) == 0
    assert not service.locks(source).locked
    assert fingerprint(path) == before


def test_stale_lock_of_a_killed_process_is_reported_and_removed(tmp_path: Path) -> None:
    path = tmp_path / "terraform.tfstate"
    make_state(path)
    before = fingerprint(path)
    service = StateService()
    source = StateSource(state_path=path)

    info = kill_while_locked(path)
    backend = LocalBackend(path)
    assert backend.lock_info_path.exists()  # the info file outlives its process ...
    assert backend.lock_is_stale()  # ... the OS lock does not
    status = service.locks(source)
    assert status.locked and status.stale
    assert status.info == info

    cli = subprocess.run(
        [sys.executable, "-m", "driftmgr_tui.cli", "state", "locks", "--state", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    assert "stale" in cli.stdout and info["ID"] in cli.stdout

    with pytest.raises(DriftmgrError, match="does not match"):
        service.unlock(source, "wrong-id")
    after = service.unlock(source, info["ID"])
    assert not after.locked
    assert not backend.lock_info_path.exists()
    assert fingerprint(path) == before


def test_stale_lock_does_not_wedge_the_next_writer(tmp_path: Path) -> None:
    path = tmp_path / "terraform.tfstate"
    make_state(path)
    service = StateService()
    source = StateSource(state_path=path)
    dead = kill_while_locked(path)
    result = service.rm(source, ["aws_instance.a"], lock_timeout=0)
    assert result.changed and result.new_serial == 2
    assert not LocalBackend(path).lock_info_path.exists()  # the new holder's info replaced the stale one
    assert [r.address for r in load(path).instances()] == ["aws_instance.b"]
    assert dead["ID"] and not StateService().locks(source).locked


def test_killed_lock_on_a_new_state_leaves_an_empty_file_that_means_no_state(tmp_path: Path) -> None:
    path = tmp_path / "new.tfstate"
    kill_while_locked(path, "state import")
    assert path.exists() and path.stat().st_size == 0  # as Terraform leaves it: the lock created it
    service = StateService()
    source = StateSource(state_path=path)
    with pytest.raises(NoStateError):
        service.list(source)
    result = service.import_instance(source, "aws_instance.web", {"id": "i-1"}, create=True, lock_timeout=0)
    assert result.new_serial == 1
    assert [r.address for r in load(path).instances()] == ["aws_instance.web"]
    assert not service.locks(source).locked


def test_failed_operations_leave_no_trace(tmp_path: Path) -> None:
    service = StateService()
    missing = tmp_path / "missing.tfstate"
    with pytest.raises(NoStateError):
        service.rm(StateSource(state_path=missing), ["aws_instance.a"])
    assert sorted(os.listdir(tmp_path)) == []  # the empty file created to hold the lock is gone again

    # An empty file that was already there is the user's: "no state", and it is not deleted.
    empty = tmp_path / "empty.tfstate"
    empty.write_bytes(b"")
    before = fingerprint(empty)
    with pytest.raises(NoStateError):
        service.rm(StateSource(state_path=empty), ["aws_instance.a"])
    assert fingerprint(empty) == before
    assert sorted(os.listdir(tmp_path)) == ["empty.tfstate"]


def test_next_lock_sweeps_temp_files_of_dead_writers(tmp_path: Path) -> None:
    path = tmp_path / "terraform.tfstate"
    make_state(path)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)  # exited: its temp files are litter (possibly with secrets in them)
    litter = [
        f".terraform.tfstate.{dead_pid}.123456.tmp",
        f".terraform.tfstate.backup.{dead_pid}.123457.tmp",
        f"..terraform.tfstate.lock.info.{dead_pid}.123458.tmp",
    ]
    kept = [
        ".terraform.tfstate.1.99.tmp",  # PID 1 is alive: maybe a writer of another kind, leave it
        f".other.tfstate.{dead_pid}.5.tmp",  # another state's
        "notes.tmp",
    ]
    for name in litter + kept:
        (tmp_path / name).write_text("{}")
    backend = LocalBackend(path)
    held = backend.lock(new_lock_info("state rm", backend.location))
    backend.unlock(held.id)
    assert sorted(os.listdir(tmp_path)) == sorted(["terraform.tfstate", *kept])


# --------------------------------------------------------------------------------------------- writing
def test_backup_file_holds_the_previous_bytes(tmp_path: Path) -> None:
    path = tmp_path / "terraform.tfstate"
    backup = tmp_path / "terraform.tfstate.backup"
    service = StateService()
    source = StateSource(state_path=path)
    service.import_instance(source, "aws_instance.a", {"id": "i-1"}, create=True)
    assert not backup.exists()  # nothing was replaced yet
    first = path.read_bytes()
    service.import_instance(source, "aws_instance.b", {"id": "i-2"})
    assert backup.read_bytes() == first
    second = path.read_bytes()
    service.mv(source, "aws_instance.a", "aws_instance.c")
    assert backup.read_bytes() == second
    assert load(backup).serial == 2 and load(path).serial == 3
    # Nothing else is left behind: no temp files, no lock info.
    assert sorted(os.listdir(tmp_path)) == ["terraform.tfstate", "terraform.tfstate.backup"]


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o664, 0o666])
def test_write_keeps_the_file_mode(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "terraform.tfstate"
    make_state(path)
    path.chmod(mode)
    old_umask = os.umask(0o022)  # the modes above with group/other write bits must survive a umask
    try:
        StateService().rm(StateSource(state_path=path), ["aws_instance.a"])
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "terraform.tfstate.backup").stat().st_mode) == mode


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another owner")
def test_write_as_root_keeps_the_file_owner(tmp_path: Path) -> None:
    path = tmp_path / "terraform.tfstate"
    make_state(path)
    os.chown(path, 65534, 65534)
    StateService().rm(StateSource(state_path=path), ["aws_instance.a"])
    st = path.stat()
    assert (st.st_uid, st.st_gid) == (65534, 65534)


def test_write_into_a_missing_directory(tmp_path: Path) -> None:
    path = tmp_path / "does" / "not" / "exist" / "terraform.tfstate"
    result = StateService().import_instance(
        StateSource(state_path=path), "aws_instance.a", {"id": "i-1"}, create=True
    )
    assert result.changed and result.new_serial == 1
    assert [r.address for r in load(path).instances()] == ["aws_instance.a"]

    # The backend alone, too: lock -> write -> unlock into a directory that does not exist yet.
    other = tmp_path / "elsewhere" / "deep" / "x.tfstate"
    backend = LocalBackend(other)
    held = backend.lock(new_lock_info("state push", backend.location))
    assert backend.read() is None
    state = new_state(str(uuid.uuid4()))
    backend.write(write_state(state), lock=held)
    backend.unlock(held.id)
    assert load(other).lineage == state.lineage
    assert sorted(os.listdir(other.parent)) == ["x.tfstate"]


def test_state_path_that_is_a_directory_is_a_clear_error(tmp_path: Path) -> None:
    directory = tmp_path / "states"
    directory.mkdir()
    backend = LocalBackend(directory)
    with pytest.raises(StateFormatError, match=re.escape(f"{directory}: is a directory")):
        backend.read()
    with pytest.raises(UsageError, match=re.escape(str(directory))):
        backend.lock(new_lock_info("state rm", backend.location))
    with pytest.raises(UsageError, match="is a directory"):
        StateService().list(StateSource(state_path=directory))
    with pytest.raises(UsageError, match="is a directory"):
        StateService().rm(StateSource(state_path=directory), ["aws_instance.a"])
    assert directory.is_dir() and os.listdir(directory) == []
    assert sorted(os.listdir(tmp_path)) == ["states"]
    # Under a path component that is a file: a clear error, not a traceback.
    a_file = tmp_path / "plain"
    a_file.write_text("x")
    under = LocalBackend(a_file / "terraform.tfstate")
    with pytest.raises(StateFormatError, match="Not a directory"):
        under.read()
    with pytest.raises(DriftmgrError, match=re.escape(str(a_file))):
        under.lock(new_lock_info("state rm", under.location))


def test_replaced_inode_is_tombstoned_unless_still_linked(tmp_path: Path) -> None:
    """Whoever still holds the old file open (Terraform waiting for the lock) must not take it for the
    state; a hard link elsewhere keeps its bytes."""
    path = tmp_path / "terraform.tfstate"
    original = make_state(path)
    stale_reader = os.open(path, os.O_RDONLY)  # opened before the write, as a waiting terraform has it
    try:
        StateService().rm(StateSource(state_path=path), ["aws_instance.a"])
        assert os.fstat(stale_reader).st_nlink == 0
        assert os.pread(stale_reader, 1 << 16, 0) == TOMBSTONE
    finally:
        os.close(stale_reader)
    assert load(path).serial == 2

    snapshot = tmp_path / "snapshot.tfstate"
    os.link(path, snapshot)
    kept = snapshot.read_bytes()
    StateService().rm(StateSource(state_path=path), ["aws_instance.b"])
    assert snapshot.read_bytes() == kept  # still linked: not ours to overwrite
    assert load(path).serial == 3
    assert original != kept


def test_read_without_lock_never_sees_a_tombstone(tmp_path: Path) -> None:
    """Lock-free readers (`state list`, `state pull`) racing many writers always parse a real state."""
    path = tmp_path / "terraform.tfstate"
    make_state(path, ("aws_instance.a",))
    source = StateSource(state_path=path)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        service = StateService()
        n = 0
        try:
            while not stop.is_set():
                service.mv(
                    source,
                    f"aws_instance.a{'' if n % 2 == 0 else '2'}",
                    f"aws_instance.a{'2' if n % 2 == 0 else ''}",
                    lock_timeout=5,
                )
                n += 1
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    serials = []
    try:
        backend = LocalBackend(path)
        # Read until the writer has visibly moved on a few serials (a busy machine may take a while to
        # schedule it); the deadline only stops a hang and is never an assertion.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (len(set(serials)) <= 3 or len(serials) < 200):
            obj = backend.read()
            serials.append(read_state(obj.data, path=str(path)).serial)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not errors, errors
    assert len(set(serials)) > 3  # the writer really was writing meanwhile
    assert serials == sorted(serials)


# --------------------------------------------------------------------------------------------- terraform
TERRAFORM = shutil.which("terraform")
needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="terraform is not on PATH")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def tf(tmp_path: Path) -> dict[str, str]:
    """Environment for running the real terraform offline from an empty working dir."""
    config = tmp_path / "empty.tfrc"
    config.write_text("")
    env = dict(os.environ, TF_CLI_CONFIG_FILE=str(config), CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1")
    env.pop("TF_WORKSPACE", None)
    (tmp_path / "work").mkdir()
    return env


def terraform(args: list[str], env: dict[str, str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [TERRAFORM, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, **kwargs
    )
    result.stdout, result.stderr = ANSI.sub("", result.stdout), ANSI.sub("", result.stderr)
    return result


@pytest.mark.terraform
@needs_terraform
def test_terraform_reads_what_driftmgr_writes_and_back(tmp_path: Path, tf: dict[str, str]) -> None:
    path = tmp_path / "terraform.tfstate"
    service = StateService()
    source = StateSource(state_path=path)
    service.import_instance(source, "aws_instance.a", {"id": "i-1"}, create=True)
    service.import_instance(source, "aws_instance.b", {"id": "i-2"})
    listed = terraform(["state", "list", f"-state={path}"], tf, tmp_path / "work")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["aws_instance.a", "aws_instance.b"]
    removed = terraform(
        ["state", "rm", f"-state={path}", "-lock-timeout=0s", "aws_instance.a"], tf, tmp_path / "work"
    )
    assert removed.returncode == 0, removed.stderr + removed.stdout
    assert [r.address for r in service.list(source)] == ["aws_instance.b"]
    assert load(path).serial == 3


@pytest.mark.terraform
@needs_terraform
def test_terraform_is_refused_while_driftmgr_holds_the_lock(tmp_path: Path, tf: dict[str, str]) -> None:
    path = tmp_path / "terraform.tfstate"
    make_state(path)
    before = fingerprint(path)
    backend = LocalBackend(path)
    held = backend.lock(new_lock_info("state mv", backend.location))
    try:
        result = terraform(
            ["state", "rm", f"-state={path}", "-lock-timeout=0s", "aws_instance.a"], tf, tmp_path / "work"
        )
    finally:
        backend.unlock(held.id)
    assert result.returncode == 1, result.stdout
    assert "Error acquiring the state lock" in result.stderr
    # Terraform reads our .lock.info and shows who holds the lock.
    assert held.id in result.stderr and "state mv" in result.stderr and WHO in result.stderr
    assert fingerprint(path) == before


@pytest.mark.terraform
@needs_terraform
def test_driftmgr_is_refused_while_terraform_holds_the_lock(tmp_path: Path, tf: dict[str, str]) -> None:
    """`terraform console` holds the state lock for as long as it reads commands from stdin."""
    path = tmp_path / "terraform.tfstate"
    make_state(path)
    before = fingerprint(path)
    source = StateSource(state_path=path)
    service = StateService()
    info_path = LocalBackend(path).lock_info_path
    console = subprocess.Popen(
        [TERRAFORM, "console", f"-state={path}"],
        env=tf,
        cwd=tmp_path / "work",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not info_path.exists():
            assert console.poll() is None, console.stderr.read()
            assert time.monotonic() < deadline, "terraform console never took the lock"
            time.sleep(0.05)
        tf_lock = json.loads(info_path.read_text())
        assert set(tf_lock) == TF_LOCK_KEYS  # the same file format, written by terraform itself

        with pytest.raises(StateLockedError) as caught:
            service.rm(source, ["aws_instance.a"], lock_timeout=0)
        for part in (tf_lock["ID"], tf_lock["Who"], tf_lock["Created"], tf_lock["Operation"]):
            assert part in str(caught.value)
        status = service.locks(source)
        assert status.locked and not status.stale and status.info["ID"] == tf_lock["ID"]
        with pytest.raises(StateLockedError, match="cannot be broken"):
            service.unlock(source, tf_lock["ID"], force=True)
        assert fingerprint(path) == before
    finally:
        console.stdin.close()
        console.wait(timeout=60)
    assert not info_path.exists()
    result = service.rm(source, ["aws_instance.a"], lock_timeout=0)
    assert result.new_serial == 2


def _open_fds(pid: int) -> set[str]:
    targets = set()
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                targets.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return targets


@pytest.mark.terraform
@needs_terraform
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to see terraform's open files")
def test_terraform_waiting_for_our_lock_never_loses_its_change_silently(
    tmp_path: Path, tf: dict[str, str]
) -> None:
    """Terraform keeps the file it opened across its -lock-timeout retries. Once our write has replaced
    that inode, terraform would lock the orphan and write its change where nobody sees it. It must fail
    loudly instead (the orphan holds a tombstone), and a re-run must work on the current state."""
    path = tmp_path / "terraform.tfstate"
    make_state(path, ("aws_instance.a", "aws_instance.b"))
    work = tmp_path / "work"
    go = threading.Event()
    outcome: list[object] = []

    def slow_change(state: StateFile) -> list[str]:
        assert go.wait(60), "terraform never started waiting"
        return ops.remove(state, ["aws_instance.b"])

    def driftmgr_rm() -> None:
        try:
            outcome.append(
                StateStore(LocalBackend(path), None).mutate("state rm", slow_change, reason="test")
            )
        except BaseException as exc:
            outcome.append(exc)

    writer = threading.Thread(target=driftmgr_rm)
    writer.start()
    try:
        deadline = time.monotonic() + 30
        while not LocalBackend(path).lock_info_path.exists():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        waiting = subprocess.Popen(
            [TERRAFORM, "state", "rm", f"-state={path}", "-lock-timeout=60s", "aws_instance.a"],
            env=tf,
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        while str(path) not in _open_fds(waiting.pid):  # terraform has opened (the current inode of) it
            assert waiting.poll() is None, waiting.communicate()
            assert time.monotonic() < deadline, "terraform never opened the state"
            time.sleep(0.02)
        time.sleep(0.3)  # let it fail its first lock attempt and start retrying
    finally:
        go.set()
        writer.join(timeout=60)
    out, err = waiting.communicate(timeout=120)
    out, err = ANSI.sub("", out), ANSI.sub("", err)
    assert len(outcome) == 1 and not isinstance(outcome[0], BaseException), outcome
    assert outcome[0].new_serial == 2

    final = load(path)
    addresses = [r.address for r in final.instances()]
    if waiting.returncode == 0:  # had it succeeded, its change would have to be in the state
        assert addresses == [], (out, err)
    else:
        assert "could not be parsed" in err or "Unsupported state file format" in err, (out, err)
        assert addresses == ["aws_instance.a"] and final.serial == 2
    assert not LocalBackend(path).lock_info_path.exists()

    again = terraform(["state", "rm", f"-state={path}", "-lock-timeout=0s", "aws_instance.a"], tf, work)
    assert again.returncode == 0, again.stderr
    assert [r.address for r in load(path).instances()] == []
    assert load(path).serial == 3
