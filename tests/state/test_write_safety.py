"""ARCHITECTURE.md safety rules 1 and 5 on local state, against real processes and real files.

Racing writers are separate processes (multiprocessing spawn), crashes are SIGKILLs at random (seeded)
moments, bad input goes through the installed CLI in a subprocess. Nothing under test is mocked.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import multiprocessing
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from driftmgr_tui.core.errors import ResourceNotFoundError, StateLockedError
from driftmgr_tui.services.state_service import StateService, StateSource
from driftmgr_tui.state import operations as ops
from driftmgr_tui.state.backends.base import new_lock_info
from driftmgr_tui.state.backends.local import LocalBackend
from driftmgr_tui.state.codec import read_state, write_state
from driftmgr_tui.state.model import StateFile, new_state

WHO = f"{getpass.getuser()}@{socket.gethostname()}"
CLI = [sys.executable, "-m", "driftmgr_tui.cli"]


def make_state(path: Path, addresses: list[str], *, serial: int = 1) -> bytes:
    """A state with one managed instance per ``aws_instance.NAME`` (built directly: fast for thousands)."""
    state = new_state(str(uuid.uuid4()))
    if addresses:
        ops.import_instance(state, addresses[0], {"id": "i-000000"})
        provider = state.resources[0]["provider"]
        state.resources.clear()
    for n, address in enumerate(addresses):
        rtype, name = address.split(".")
        state.resources.append(
            {
                "mode": "managed",
                "type": rtype,
                "name": name,
                "provider": provider,
                "instances": [
                    {
                        "schema_version": 0,
                        "sensitive_attributes": [],
                        "attributes": {"id": f"i-{n:06d}", "ami": "ami-0abc", "tags": {"Name": address}},
                    }
                ],
            }
        )
    state.reindex()
    state.serial = serial
    data = write_state(state)
    path.write_bytes(data)
    return data


def load(path: Path) -> StateFile:
    return read_state(path.read_bytes(), path=str(path))


def addresses(path: Path) -> set[str]:
    return {r.address for r in load(path).instances()}


def untouched(path: Path) -> tuple[bytes, int, int]:
    st = path.stat()
    return path.read_bytes(), st.st_mtime_ns, st.st_ino


# ------------------------------------------------------------------------------------ racing writers
def _racer(path: str, name: str, rounds: int, barrier, results) -> None:
    """A spawned process: per round, wait at the barrier (with the other racer and the parent), then
    import one address."""
    service = StateService()
    source = StateSource(state_path=Path(path))
    service.backups  # noqa: B018 - open the database before the race, not inside it
    for n, timeout in enumerate([0.0] * rounds + [10.0]):
        barrier.wait(timeout=120)
        started = time.monotonic()
        try:
            result = service.import_instance(
                source, f"aws_instance.{name}_{n}", {"id": f"{name}-{n}"}, lock_timeout=timeout
            )
            results.put((n, name, "ok", result.old_serial, result.new_serial, time.monotonic() - started))
        except StateLockedError as exc:
            results.put((n, name, "locked", str(exc), exc.lock.to_terraform() if exc.lock else None, 0.0))
        except BaseException as exc:
            results.put((n, name, "error", repr(exc), None, 0.0))


def test_two_processes_racing_for_one_state(tmp_path: Path) -> None:
    """lock_timeout=0: exactly one of two simultaneous writers wins, the other is told who holds the
    lock, and no update is lost. lock_timeout=10s: both get through, one after the other."""
    path = tmp_path / "terraform.tfstate"
    # A big state keeps the winner inside its critical section (read, parse, back up, write) for a
    # few hundred milliseconds, so the loser's attempt right after the barrier meets a held lock.
    make_state(path, [f"aws_instance.r{i}" for i in range(2000)], serial=7)
    StateService().backups  # noqa: B018 - migrate the database once, before the racers open it
    rounds = 4  # the race is retried until the two attempts collide
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)  # both racers and this process, which reads the state between rounds
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_racer, args=(str(path), name, rounds, barrier, results))
        for name in ("left", "right")
    ]
    for worker in workers:
        worker.start()
    try:
        collisions = 0
        for n in range(rounds + 1):
            before = load(path)
            barrier.wait(timeout=120)
            got = sorted(results.get(timeout=120) for _ in range(2))
            assert not [g for g in got if g[2] == "error"], got
            after = load(path)
            assert after.lineage == before.lineage
            new = addresses(path) - {r.address for r in before.instances()}
            winners = [g for g in got if g[2] == "ok"]
            losers = [g for g in got if g[2] == "locked"]
            if n == rounds:  # lock_timeout=10s: both wrote, serially, nothing lost
                assert len(winners) == 2, got
                assert new == {f"aws_instance.left_{n}", f"aws_instance.right_{n}"}
                assert after.serial == before.serial + 2
                assert sorted(w[4] for w in winners) == [before.serial + 1, before.serial + 2]
                continue
            if len(winners) == 2:  # no collision this time (one finished first): still no lost update
                assert len(new) == 2 and after.serial == before.serial + 2
                continue
            collisions += 1
            assert len(winners) == 1 and len(losers) == 1, got
            winner, loser = winners[0], losers[0]
            assert new == {f"aws_instance.{winner[1]}_{n}"}
            assert after.serial == before.serial + 1 == winner[4]
            message, holder = loser[3], loser[4]
            assert f"state {path} is locked" in message
            assert holder is not None and holder["ID"], message
            for part in (
                f"ID {holder['ID']}",
                f"held by {WHO}",
                f"since {holder['Created']}",
                "for state import",
            ):
                assert part in message, (part, message)
            assert re.fullmatch(r"[0-9a-f-]{36}", holder["ID"])
        assert collisions >= 1, "the two writers never collided"
    finally:
        barrier.abort()  # never leave a racer waiting for a round that will not come
        for worker in workers:
            worker.join(timeout=60)
            if worker.is_alive():
                worker.kill()
    assert [w.exitcode for w in workers] == [0, 0]
    assert not StateService().locks(StateSource(state_path=path)).locked
    for backup in StateService().list_backups(StateSource(state_path=path)):
        assert read_state(StateService().backups.read(backup)).serial == backup.serial


# ------------------------------------------------------------------------------------ crashing writer
# Cycles the state through three shapes, so every serial has exactly one valid content:
#   serial % 3 == 0: keep.*        1: + aws_instance.x (id i-<serial-1>)        2: x moved to y
def _crashing_writer(path: str, count: int, progress: str, env: dict[str, str]) -> None:
    """A forked process doing ``count`` writes through StateService, reporting each one in ``progress``
    (one O_APPEND write per line: a kill never leaves half a line)."""
    os.environ.update(env)  # the forkserver may predate this test's data dir
    service, source = StateService(), StateSource(state_path=Path(path))
    service.backups  # noqa: B018 - open the database first: the kills should land on the writes
    out = os.open(progress, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.write(out, b"ready\n")
    for _ in range(count):
        serial = service.load(source).serial
        if serial % 3 == 0:
            service.import_instance(source, "aws_instance.x", {"id": f"i-{serial}"}, lock_timeout=5)
        elif serial % 3 == 1:
            service.mv(source, "aws_instance.x", "aws_instance.y", lock_timeout=5)
        else:
            service.rm(source, ["aws_instance.y"], lock_timeout=5)
        os.write(out, f"wrote {serial + 1}\n".encode())
    os.write(out, b"done\n")


KEEP = [f"aws_instance.keep{i}" for i in range(150)]


def check_shape(state: StateFile) -> None:
    """The state is exactly what the writer makes at its serial: never half of one write."""
    found = {r.address: r for r in state.instances()}
    extra = set(found) - set(KEEP)
    assert set(KEEP) <= set(found)
    step = state.serial % 3
    if step == 0:
        assert extra == set(), (state.serial, extra)
    elif step == 1:
        assert extra == {"aws_instance.x"}, (state.serial, extra)
        assert found["aws_instance.x"].attributes["id"] == f"i-{state.serial - 1}"
    else:
        assert extra == {"aws_instance.y"}, (state.serial, extra)
        assert found["aws_instance.y"].attributes["id"] == f"i-{state.serial - 2}"


@pytest.mark.slow
def test_writer_killed_at_random_points_never_corrupts_anything(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from driftmgr_tui.cli import cli

    rng = random.Random(20261122)
    path = tmp_path / "terraform.tfstate"
    make_state(path, KEEP, serial=3)
    lineage = load(path).lineage
    service = StateService()
    source = StateSource(state_path=path)
    service.backups  # noqa: B018 - migrate the database before any writer can be killed
    rounds, writes, killed = 12, 50, 0
    # Writers are forked from a server that imported everything once: a round costs a fork, not a
    # fresh interpreter, so the time goes into writes and kills.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["driftmgr_tui.services.state_service", "driftmgr_tui.core.db", __name__])
    env = {k: os.environ[k] for k in ("DRIFTMGR_DATA_DIR", "DRIFTMGR_CONFIG")}
    for round_no in range(rounds):
        serial_before = load(path).serial
        progress = tmp_path.parent / f"{tmp_path.name}-progress-{round_no}"
        proc = ctx.Process(target=_crashing_writer, args=(str(path), writes, str(progress), env))
        proc.start()
        deadline = time.monotonic() + 60
        while not progress.exists() or b"ready" not in progress.read_bytes():
            assert proc.exitcode is None, f"the writer died: {proc.exitcode}"
            assert time.monotonic() < deadline, "the writer never got ready"
            time.sleep(0.01)
        # Kill after a random number of writes plus a random part of the next one (a write takes some
        # 10-30 ms here): the kill lands in any phase of a write (read, backup, rename, unlock).
        after_writes, delay = rng.randrange(0, writes - 1), rng.uniform(0.0, 0.04)
        while progress.read_bytes().count(b"wrote") < after_writes and proc.exitcode is None:
            assert time.monotonic() < deadline + 60, "the writer got stuck"
            time.sleep(0.001)
        time.sleep(delay)
        proc.kill()  # SIGKILL
        proc.join(timeout=30)
        code = proc.exitcode
        assert code in (0, -signal.SIGKILL), code  # an exception in the writer would exit 1
        killed += code == -signal.SIGKILL
        lines = [line for line in progress.read_text().split("\n") if line]
        print(
            f"round {round_no}: exit {code}, {len([x for x in lines if x.startswith('wrote')])} writes, "
            f"leftovers {[p.name for p in tmp_path.iterdir() if p.name.endswith('.tmp')]}"
        )
        reported = [int(line.split()[1]) for line in lines if line.startswith("wrote")]
        last = reported[-1] if reported else serial_before

        # The state parses and is the last reported write or the one in flight: never garbage.
        state = load(path)
        assert state.lineage == lineage
        assert state.serial in (last, last + 1), (round_no, state.serial, last)
        assert state.serial >= serial_before
        check_shape(state)
        if "done" in lines:
            assert state.serial == serial_before + writes

        # Terraform's .backup is a whole earlier state, too (the same one when the kill came after the
        # .backup refresh but before the rename).
        backup_file = tmp_path / "terraform.tfstate.backup"
        if backup_file.exists():
            previous = load(backup_file)
            assert previous.serial in (state.serial - 1, state.serial)
            check_shape(previous)

        # Temp files a kill left behind are never taken for the state.
        for tmp in tmp_path.iterdir():
            if tmp.name.endswith(".tmp"):
                assert re.fullmatch(
                    r"\.\.?terraform\.tfstate(\.backup|\.lock\.info)?\.\d+\.\d+\.tmp", tmp.name
                )
        assert service.load(source).serial == state.serial
        assert [r.address for r in service.list(source)] == [r.address for r in state.instances()]

        # Every backup lists cleanly, and its blob exists and matches its SHA-256.
        listed = CliRunner().invoke(cli, ["state", "backups", "--state", str(path), "--json"])
        assert listed.exit_code == 0, listed.output
        rows = json.loads(listed.stdout)
        assert rows, "no backups were recorded"
        by_id = {b.id: b for b in service.list_backups(source)}
        assert set(by_id) == {row["id"] for row in rows}
        for row in rows:
            data = service.backups.read(by_id[row["id"]])  # raises BackupCorruptError on a bad blob
            backed_up = read_state(data)
            assert backed_up.serial == row["serial"] and backed_up.lineage == lineage
            check_shape(backed_up)

        # A lock left by the killed writer is stale, and does not wedge the next writer, which also
        # sweeps away the temp files killed writers left (copies of the state).
        status = service.locks(source)
        assert not status.locked or status.stale, status
        backend = LocalBackend(path, lock_timeout=0)
        held = backend.lock(new_lock_info("test", backend.location))
        backend.unlock(held.id)
        assert not service.locks(source).locked
        assert sorted(p.name for p in tmp_path.iterdir()) == ["terraform.tfstate", "terraform.tfstate.backup"]
    assert killed >= rounds - 1, f"only {killed} of {rounds} writers were killed mid-run"

    # The real CLI in its own process agrees.
    listed = subprocess.run(
        [*CLI, "state", "backups", "--state", str(path), "--json"], capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == len(service.list_backups(source))


# ------------------------------------------------------------------------------------ no-op writes
def test_mutations_write_only_real_changes(tmp_path: Path) -> None:
    path = tmp_path / "terraform.tfstate"
    original = make_state(path, ["aws_instance.a", "aws_instance.b"], serial=5)
    service = StateService()
    source = StateSource(state_path=path)

    assert service.mv(source, "aws_instance.a", "aws_instance.c").new_serial == 6
    assert service.mv(source, "aws_instance.c", "aws_instance.a").new_serial == 7
    back = load(path)
    assert back.serial == 7
    back.serial = 5
    assert write_state(back) == original  # the same content, two real writes

    service.rm(source, ["aws_instance.b"])
    assert load(path).serial == 8
    before = untouched(path)
    backups_before = len(service.list_backups(source))
    listing_before = sorted(os.listdir(tmp_path))
    time.sleep(0.01)
    with pytest.raises(ResourceNotFoundError, match=re.escape("aws_instance.b")):
        service.rm(source, ["aws_instance.b"])  # already gone: a failed op
    with pytest.raises(ResourceNotFoundError):
        service.rm(source, ["aws_instance.a", "aws_instance.nope"])  # all or nothing
    with pytest.raises(ResourceNotFoundError):
        service.mv(source, "aws_instance.nope", "aws_instance.z")
    pushed = service.push(source, path.read_bytes(), path="same.tfstate")  # identical: nothing to write
    assert not pushed.changed and pushed.new_serial == 8
    assert untouched(path) == before
    assert len(service.list_backups(source)) == backups_before
    assert sorted(os.listdir(tmp_path)) == listing_before  # no lock info, no temp file left

    # Through the CLI: a failed rm exits 2 and leaves the bytes and mtime alone.
    cli = subprocess.run(
        [*CLI, "state", "rm", "--state", str(path), "aws_instance.b"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 2 and "aws_instance.b" in cli.stderr and "Traceback" not in cli.stderr
    assert untouched(path) == before


def test_dry_run_never_writes_or_locks(tmp_path: Path) -> None:
    path = tmp_path / "terraform.tfstate"
    make_state(path, ["aws_instance.a", "aws_instance.b"], serial=2)
    service = StateService()
    source = StateSource(state_path=path)
    before = untouched(path)
    holder = LocalBackend(path)
    held = holder.lock(new_lock_info("state mv", holder.location))  # a dry run does not even ask for it
    try:
        info_before = holder.lock_info_path.read_bytes()
        result = service.rm(source, ["aws_instance.a"], dry_run=True)
        assert result.dry_run and result.changed and result.new_serial == 3
        result = service.mv(source, "aws_instance.a", "aws_instance.z", dry_run=True)
        assert result.dry_run and result.changed
        result = service.import_instance(source, "aws_instance.c", {"id": "i-9"}, dry_run=True)
        assert result.dry_run and result.changed
        push = load(path)
        push.serial = 9
        result = service.push(source, write_state(push), dry_run=True)
        assert result.dry_run and not result.changed
        cli = subprocess.run(
            [*CLI, "state", "mv", "--state", str(path), "--dry-run", "aws_instance.a", "aws_instance.z"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 0, cli.stderr
        assert "dry run" in cli.stdout and "nothing was changed" in cli.stdout
        assert holder.lock_info_path.read_bytes() == info_before
    finally:
        holder.unlock(held.id)
    assert untouched(path) == before
    assert sorted(os.listdir(tmp_path)) == ["terraform.tfstate"]
    assert service.list_backups(source) == []

    fresh = tmp_path / "new" / "terraform.tfstate"
    result = service.import_instance(
        StateSource(state_path=fresh), "aws_instance.a", {"id": "i-1"}, create=True, dry_run=True
    )
    assert result.dry_run and result.changed
    assert not fresh.exists() and not fresh.parent.exists()


# ------------------------------------------------------------------------------------ malformed input
GOOD = {
    "version": 4,
    "terraform_version": "1.11.4",
    "serial": 3,
    "lineage": "6d6b8c1e-1111-2222-3333-444455556666",
    "outputs": {},
    "resources": [
        {
            "mode": "managed",
            "type": "aws_instance",
            "name": "a",
            "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
            "instances": [{"schema_version": 1, "attributes": {"id": "i-1"}, "sensitive_attributes": []}],
        }
    ],
    "check_results": None,
}


def _variant(**changes) -> bytes:
    data = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        if key == "schema_version":
            data["resources"][0]["instances"][0]["schema_version"] = value
        else:
            data[key] = value
    return json.dumps(data, indent=2).encode()


def _make_fifo(path: Path) -> None:
    os.mkfifo(path)


def _make_socket(path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()  # the socket file stays; open() on it fails (ENXIO), even as root


def _make_unreadable(path: Path) -> None:
    path.write_bytes(_variant())
    path.chmod(0)


# name -> (how to make the bad file, what the error names besides the file)
MALFORMED = {
    "malformed-json": (
        lambda p: p.write_bytes(_variant().replace(b'"serial": 3,', b'"serial": 3,,')),
        r"not valid JSON at line \d+, column \d+",
    ),
    "truncated": (lambda p: p.write_bytes(_variant()[: len(_variant()) // 2]), r"truncated"),
    "future-version": (lambda p: p.write_bytes(_variant(version=5)), r"version: state format version 5"),
    "wrong-type-serial": (lambda p: p.write_bytes(_variant(serial="3")), r"serial: expected a non-negative"),
    "wrong-type-nested": (
        lambda p: p.write_bytes(_variant(schema_version="1")),
        re.escape("resources[0].instances[0].schema_version: expected a non-negative"),
    ),
    "fifo": (_make_fifo, r"is a FIFO, not a state file"),
    "socket": (_make_socket, r"cannot (read|open) .*No such device or address"),
    "chmod-000": (_make_unreadable, r"cannot (read|open) .*Permission denied"),
}


# Runs many `driftmgr` invocations, each in its own forked process of one interpreter that imported the
# CLI once (a fresh interpreter per invocation costs about a second of CPU each). A child's exit code and
# stderr are exactly what `driftmgr` gives; an uncaught exception prints its traceback, as Python would;
# a child that blocks is killed by SIGALRM.
CLI_DRIVER = r"""
import json, os, signal, sys, tempfile, traceback
from driftmgr_tui.cli import main
# What the commands import lazily, imported once here (the database itself is opened by each child).
import driftmgr_tui.services.state_service, driftmgr_tui.state.backups, driftmgr_tui.core.db
import alembic.command, alembic.config, alembic.runtime.migration, alembic.script, alembic.util

commands = json.load(sys.stdin)
children = []
for args in commands:
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    pid = os.fork()
    if pid == 0:
        signal.alarm(60)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.argv = ["driftmgr", *args]
        code = 0
        try:
            main()
        except SystemExit as exc:
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    children.append((args, pid, out, err))
results = []
for args, pid, out, err in children:
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    results.append({"args": args, "code": code, "stdout": out.read().decode(), "stderr": err.read().decode()})
json.dump(results, sys.stdout)
"""


def _run_all(commands: list[list[str]]) -> list[subprocess.CompletedProcess]:
    """Run CLI invocations concurrently, each in its own process; a hang (SIGALRM, -14) is a failure."""
    driver = subprocess.run(
        [sys.executable, "-c", CLI_DRIVER],
        input=json.dumps(commands),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert driver.returncode == 0, driver.stderr
    results = [
        subprocess.CompletedProcess(r["args"], r["code"], r["stdout"], r["stderr"])
        for r in json.loads(driver.stdout)
    ]
    for result in results:
        assert result.returncode != -signal.SIGALRM, f"driftmgr {' '.join(result.args)} hung"
    return results


def _snapshot(path: Path) -> tuple:
    st = os.lstat(path)
    content = path.read_bytes() if os.access(path, os.R_OK) and path.is_file() else None
    return st.st_mode, st.st_ino, st.st_mtime_ns, st.st_size, content


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_input_through_the_cli(tmp_path: Path, case: str) -> None:
    if case == "chmod-000" and os.geteuid() == 0:
        pytest.skip("root reads a chmod 000 file anyway (the fifo/socket/directory cases cover read errors)")
    make, names = MALFORMED[case]
    # Each invocation gets its own directory: run at once, they must not meet each other's locks.
    invocations = {
        "list": lambda bad, good: ["state", "list", "--state", str(bad)],
        "rm": lambda bad, good: ["state", "rm", "--state", str(bad), "aws_instance.a"],
        "mv": lambda bad, good: ["state", "mv", "--state", str(bad), "aws_instance.a", "aws_instance.b"],
        # a bad state is not replaced blindly ...
        "push-onto": lambda bad, good: ["state", "push", "--state", str(bad), str(good)],
        # ... and a bad file is not pushed (not for a FIFO: `push FILE` reads a pipe until its writer
        # closes it, like `cat`, so that `push <(...)` works)
        "push-from": lambda bad, good: ["state", "push", "--state", str(good), str(bad)],
    }
    if case == "fifo":
        del invocations["push-from"]
    runs = []
    for name, command in invocations.items():
        directory = tmp_path / name
        directory.mkdir()
        bad, good = directory / "bad.tfstate", directory / "good.tfstate"
        make(bad)
        good.write_bytes(_variant(serial=4))
        runs.append((directory, bad, good, command(bad, good), {bad: _snapshot(bad), good: _snapshot(good)}))
    try:
        results = _run_all([command for _, _, _, command, _ in runs])
    finally:
        if case == "chmod-000":
            for _, bad, _, _, _ in runs:
                bad.chmod(0o644)
    for (directory, bad, good, _, before), result in zip(runs, results, strict=True):
        where = " ".join(result.args)
        assert result.returncode == 2, (where, result.returncode, result.stderr)
        assert "Traceback" not in result.stderr, where
        lines = result.stderr.strip().splitlines()
        errors = [line for line in lines if line.startswith("Error:")]
        assert len(errors) == 1, (where, result.stderr)
        assert all(line.startswith(("Error:", "hint:")) for line in lines), (where, result.stderr)
        assert str(bad) in errors[0], (where, errors[0])
        assert re.search(names, errors[0]), (where, names, errors[0])
        assert result.stdout == "", (where, result.stdout)
        if case != "chmod-000":
            assert {bad: _snapshot(bad), good: _snapshot(good)} == before, where
        # no lock info, temp or backup file left behind
        assert sorted(os.listdir(directory)) == ["bad.tfstate", "good.tfstate"], where


def test_state_path_that_is_a_directory_through_the_cli(tmp_path: Path) -> None:
    directory = tmp_path / "states"
    directory.mkdir()
    good = tmp_path / "good.tfstate"
    good.write_bytes(_variant())
    before = untouched(good)
    results = _run_all(
        [
            ["state", "list", "--state", str(directory)],
            ["state", "rm", "--state", str(directory), "aws_instance.a"],
            ["state", "mv", "--state", str(directory), "aws_instance.a", "aws_instance.b"],
            ["state", "push", "--state", str(directory), str(good)],
            ["state", "push", "--state", str(good), str(directory)],
        ]
    )
    for result in results:
        where = " ".join(result.args)
        assert result.returncode == 2, (where, result.stderr)
        assert "Traceback" not in result.stderr
        first = result.stderr.strip().splitlines()[0]
        assert first.startswith("Error:") and str(directory) in first and "directory" in first, first
    assert os.listdir(directory) == []
    assert untouched(good) == before
    assert sorted(os.listdir(tmp_path)) == ["good.tfstate", "states"]


def test_cli_import_creates_and_races_are_refused_with_exit_1(tmp_path: Path) -> None:
    """The CLI path end to end: create, then a held lock gives exit 1 naming the holder."""
    path = tmp_path / "terraform.tfstate"
    created = subprocess.run(
        [
            *CLI,
            "state",
            "import",
            "--state",
            str(path),
            "--create",
            "aws_instance.a",
            "--attributes",
            '{"id": "i-1"}',
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    assert load(path).serial == 1
    holder = LocalBackend(path)
    held = holder.lock(new_lock_info("state mv", holder.location))
    try:
        before = untouched(path)
        refused = subprocess.run(
            [*CLI, "state", "rm", "--state", str(path), "aws_instance.a"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        with contextlib.suppress(Exception):
            holder.unlock(held.id)
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert f"is locked (ID {held.id}, held by {WHO}, since {held.created}, for state mv)" in refused.stderr
    assert untouched(path) == before
