"""A real moto server on 127.0.0.1 for AWS tests: real HTTP, real boto3, no mocking in-process.

``moto_server`` (session scope) starts one ``moto_server`` subprocess per pytest process, so each
pytest-xdist worker gets its own server and tests on different workers never see each other's
buckets. ``aws`` (function scope) resets that server, switches request authentication off again
and points every boto3 client at it through ``AWS_ENDPOINT_URL``.

Helpers for tests: ``moto_set_auth(url, n)`` makes the server authenticate every request after the
next ``n`` (``POST /moto-api/reset-auth``); ``aws`` undoes it for the next test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

_STARTUP_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _moto_command(port: int) -> list[str]:
    script = Path(sys.executable).with_name("moto_server")
    if script.exists():
        return [str(script), "-H", "127.0.0.1", "-p", str(port)]
    return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]


def _post(url: str, data: bytes = b"", timeout: float = 60.0) -> bytes:
    # text/plain: with urllib's default form content type the server parses the body away
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read()


def moto_reset(url: str) -> None:
    _post(f"{url}/moto-api/reset")


def moto_set_auth(url: str, unauthenticated_requests: float) -> None:
    """Authenticate every request after the next ``unauthenticated_requests`` ("inf" switches auth off)."""
    _post(f"{url}/moto-api/reset-auth", str(unauthenticated_requests).encode())


def _start(log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
    last_error = "not started"
    for _attempt in range(3):
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                _moto_command(port), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                last_error = f"exited with code {proc.returncode}"
                break
            try:
                moto_reset(url)
                return proc, url
            except (OSError, urllib.error.URLError) as exc:
                last_error = str(exc)
                time.sleep(0.05)
        else:
            last_error = f"no answer within {_STARTUP_TIMEOUT:.0f}s ({last_error})"
        _stop(proc)
    tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
    raise RuntimeError(f"moto_server did not start: {last_error}\n{tail}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a moto server private to this pytest process (one per xdist worker)."""
    log_path = tmp_path_factory.mktemp("moto") / "moto_server.log"
    proc, url = _start(log_path)
    try:
        yield url
    finally:
        _stop(proc)


@pytest.fixture
def aws(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A clean moto (no buckets, tables, users; auth off) that every boto3 client talks to."""
    moto_reset(moto_server)
    moto_set_auth(moto_server, float("inf"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server
