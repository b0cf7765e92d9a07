"""`driftmgr web`: the real server in a subprocess serves the page and its static files, a browser session
(a websocket, as textual.js opens it) runs the real TUI with the options given; loopback only unless
--allow-remote, which warns; Ctrl-C stops it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner

from driftmgr_tui.cli import cli
from driftmgr_tui.commands.web import tui_command
from driftmgr_tui.core.net import is_loopback_host


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(*args: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`driftmgr web --port FREE ARGS...` in a subprocess, until it answers on 127.0.0.1; stopped after."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "driftmgr_tui.cli", "web", "--port", str(port), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise AssertionError(f"driftmgr web exited with {proc.returncode}: {proc.stderr.read()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/css/xterm.css", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=0.1)  # still starting
        else:
            raise AssertionError("driftmgr web never answered")
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def stop(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    """Ctrl-C, as a terminal sends it; the exit code and what it printed."""
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read().decode()


async def session_then_stop(proc: subprocess.Popen[str], port: int, wanted: list[bytes]) -> tuple[bytes, str]:
    """Open a session as the page's script does, collect what the TUI draws until every ``wanted`` piece of
    text has arrived, then press Ctrl-C on the server while the browser is still connected. What was drawn,
    and how the session ended."""
    received = b""
    async with aiohttp.ClientSession() as session, \
            session.ws_connect(f"http://127.0.0.1:{port}/ws?width=120&height=30") as ws:
        await ws.send_json(["resize", {"width": 120, "height": 30}])
        while not all(piece in received for piece in wanted):
            message = await ws.receive(timeout=90)
            assert message.type == aiohttp.WSMsgType.BINARY, f"the session ended early: {message}"
            received += message.data
        proc.send_signal(signal.SIGINT)
        while True:
            message = await ws.receive(timeout=90)
            if message.type != aiohttp.WSMsgType.BINARY:
                return received, message.type.name


@pytest.fixture
def environment(isolated_dirs: Path, tmp_path: Path) -> str:
    state = tmp_path / "terraform.tfstate"
    state.write_text(json.dumps({"version": 4, "terraform_version": "1.11.4", "serial": 1,
                                 "lineage": "5a0c1b7e-0000-4000-8000-000000000009", "outputs": {},
                                 "resources": []}))
    (isolated_dirs / "config.toml").write_text(f"[environments.web-test]\nstates = [{json.dumps(str(state))}]\n")
    return "web-test"


def test_serves_the_page_a_session_runs_the_tui_and_ctrl_c_ends_it(environment: str) -> None:
    with serving("--env", environment, "--read-only", "--section", "alerts") as (proc, port):
        status, page = get(f"http://127.0.0.1:{port}/")
        assert status == 200
        assert f'data-session-websocket-url="ws://127.0.0.1:{port}/ws"' in page
        assert f"http://127.0.0.1:{port}/static/js/textual.js" in page
        status, script = get(f"http://127.0.0.1:{port}/static/js/textual.js")  # shipped: works offline
        assert status == 200 and len(script) > 10_000

        # the real TUI, on the alert list, in the environment and mode asked for, having read the database
        frames, ending = asyncio.run(session_then_stop(proc, port, [
            b"driftmgr \xc2\xb7 Alerts", b"env web-test", b"READ-ONLY", b"No alert rules yet"]))
        assert b"\x1b[?1049h" in frames  # the alternate screen: a terminal app started
        out, err = proc.communicate(timeout=60)
    assert ending in ("CLOSE", "CLOSED", "CLOSING")  # Ctrl-C ended the open session
    assert proc.returncode == 0, err
    assert f"serving the terminal UI on http://127.0.0.1:{port}" in out and "stopped" in out
    assert "Traceback" not in err


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.10.4", "drift.example.com"])
def test_refuses_any_other_address_without_allow_remote(host: str) -> None:
    result = CliRunner().invoke(cli, ["web", "--host", host, "--port", "8123"])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert f"refusing to listen on {host} without --allow-remote" in message
    assert "anyone who can reach" in message and "remediation" in message  # the risk, named
    assert "ssh -L 8123:127.0.0.1:8123" in message  # and the way to do it safely


def test_allow_remote_warns_and_serves(environment: str) -> None:
    with serving("--host", "0.0.0.0", "--allow-remote", "--public-url", "https://drift.example.com",
                 "--env", environment) as (proc, port):
        status, page = get(f"http://127.0.0.1:{port}/")
        assert status == 200
        assert 'data-session-websocket-url="wss://drift.example.com/ws"' in page
        code, out, err = stop(proc)
    assert code == 0
    warning = " ".join(err.split())
    assert f"warning: listening on 0.0.0.0:{port}: anyone who can reach 0.0.0.0:{port} gets the terminal UI" in warning
    assert "There is no login" in warning
    assert "serving the terminal UI on https://drift.example.com" in out


def test_loopback_addresses() -> None:
    for host in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST", "localhost."):
        assert is_loopback_host(host), host
    for host in ("0.0.0.0", "::", "10.0.0.1", "192.168.1.1", "example.com", "127.0.0.1.example.com", ""):
        assert not is_loopback_host(host), host


def test_the_session_command_is_this_interpreter_with_the_options_quoted() -> None:
    command = tui_command(env_name="prod 'eu'; rm -rf /", read_only=True, section="state")
    assert shlex.split(command) == [sys.executable, "-m", "driftmgr_tui.cli", "tui", "--section", "state",
                                    "--env", "prod 'eu'; rm -rf /", "--read-only"]
    assert shlex.split(tui_command(env_name=None, read_only=False, section="drift"))[4:] == ["--section", "drift"]


@pytest.mark.parametrize(("args", "message"), [
    (["--section", "nowhere"], "unknown section 'nowhere': choose drift, remediation, state, discovery, config, metrics, alerts"),
    (["--public-url", "ftp://x"], "--public-url 'ftp://x': expected http://HOST[:PORT] or https://HOST[:PORT]"),
    (["--public-url", "https://x/app"], "give the scheme, host and port only"),
    (["--host", " "], "--host is empty"),
])
def test_bad_options_are_named(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["web", *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "driftmgr_tui.cli", "web", "--port", str(port)],
                              capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr and "--port" in proc.stderr
    assert "Traceback" not in proc.stderr
