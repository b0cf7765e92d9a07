"""A real PostgreSQL for the tests, started from the machine's ``initdb``/``pg_ctl``.

- ``postgres_url`` (session): one throwaway server per pytest process (so one per xdist worker) on a free
  127.0.0.1 port, with trust auth. Missing binaries skip the tests locally and fail them under ``CI``.
- ``db_url`` (per test, parametrized sqlite/postgres): a fresh SQLite file, or a fresh PostgreSQL database
  created for the test and dropped afterwards.
- ``engine``: the driftmgr engine for ``db_url`` with the schema migrated to head.

As root, ``initdb`` refuses to run: the cluster directory is chowned to the ``postgres`` user and the server
runs as that user (``runuser -u postgres --``). The directory lives directly under the system temp dir, not
under pytest's basetemp, whose root-only (0700) parents the ``postgres`` user could not enter.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import psycopg

SERVER_USER = "postgres"
START_ATTEMPTS = 5


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required in CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


def _find_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl: PATH first, then Debian/Ubuntu's versioned dirs."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl", path=str(Path(initdb).parent)):
        return Path(initdb).parent
    if initdb and shutil.which("pg_ctl"):
        return None  # on PATH, in different dirs: call them by name
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(Path(candidate) / "initdb", os.X_OK) and os.access(Path(candidate) / "pg_ctl", os.X_OK):
            return Path(candidate)
    raise LookupError("initdb/pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Cluster:
    """One initdb'd cluster in a temp dir; runs its commands as ``postgres`` when we are root."""

    def __init__(self, bindir: Path | None, worker: str) -> None:
        self.bindir = bindir
        self.as_root = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix=f"driftmgr-pg-{worker}-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port: int | None = None
        if self.as_root:
            entry = pwd.getpwnam(SERVER_USER)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)

    def _tool(self, name: str) -> str:
        return str(self.bindir / name) if self.bindir else name

    def run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [self._tool(argv[0]), *argv[1:]]
        if self.as_root:
            runuser = shutil.which("runuser")
            if runuser:
                command = [runuser, "-u", SERVER_USER, "--", *command]
            else:
                command = ["su", SERVER_USER, "-s", "/bin/sh", "-c", shlex.join(command)]
        return subprocess.run(
            command, cwd=self.dir, capture_output=True, text=True, timeout=timeout, check=False,
            env={**os.environ, "LC_ALL": "C", "LANG": "C"},
        )  # fmt: skip

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return "(no server log)"

    def init(self) -> None:
        done = self.run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
            "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def start(self) -> None:
        """Start on a free port; retry with another port if a parallel worker grabbed ours first."""
        last = ""
        for _ in range(START_ATTEMPTS):
            port = _free_port()
            options = shlex.join(
                [
                    "-p", str(port), "-k", str(self.dir), "-c", "listen_addresses=127.0.0.1",
                    "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                ]
            )  # fmt: skip
            done = self.run(
                "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", "60", "start"
            )
            if done.returncode == 0:
                self.port = port
                return
            last = f"{done.stdout}\n{done.stderr}\n{self._log_tail()}"
            if "already in use" not in last and "could not bind" not in last:
                break
        raise RuntimeError(f"pg_ctl start failed:\n{last}")

    def stop(self) -> None:
        if self.port is not None:
            self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            self.port = None
        shutil.rmtree(self.dir, ignore_errors=True)


def _wait_until_ready(url: str, deadline: float) -> None:
    import psycopg

    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(url.replace("+psycopg", ""), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
                return
        except psycopg.OperationalError as e:
            last = e
            time.sleep(0.05)
    raise RuntimeError(f"PostgreSQL did not accept connections at {url}: {last}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """``postgresql+psycopg://postgres@127.0.0.1:PORT/postgres`` of a server private to this pytest process."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    try:
        bindir = _find_bindir()
    except LookupError as e:
        _missing(str(e))
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            _missing(f"running as root and there is no {SERVER_USER!r} user to run the server as")

    cluster = _Cluster(bindir, worker)
    try:
        cluster.init()
        cluster.start()
        url = f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/postgres"
        _wait_until_ready(url, time.monotonic() + 30)
    except Exception as e:
        cluster.stop()
        pytest.fail(f"could not start PostgreSQL: {e}", pytrace=False)
    try:
        yield url
    finally:
        cluster.stop()


@contextlib.contextmanager
def _admin(postgres_url: str) -> Iterator[psycopg.Connection]:
    import psycopg

    with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as conn:
        yield conn


@pytest.fixture
def postgres_database_url(postgres_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (dropped afterwards, even with connections left)."""
    from driftmgr_tui.core import db

    name = f"test_{uuid.uuid4().hex}"
    with _admin(postgres_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        db.dispose_engine(url)
        with _admin(postgres_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL for one test, on each backend in turn."""
    if request.param == "postgres":
        yield request.getfixturevalue("postgres_database_url")
        return
    url = f"sqlite:///{tmp_path / 'driftmgr-test.db'}"
    try:
        yield url
    finally:
        from driftmgr_tui.core import db

        db.dispose_engine(url)


@pytest.fixture
def engine(db_url: str):  # type: ignore[no-untyped-def]
    """The driftmgr engine for ``db_url`` with migrations applied."""
    from driftmgr_tui.core import db

    engine = db.engine_for_url(db_url)
    db.migrate(engine)
    return engine
