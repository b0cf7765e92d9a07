"""`driftmgr web`: the terminal UI in a browser, served by textual-serve.

Every browser tab that connects gets its own ``driftmgr tui`` process (the same interpreter as this command,
so it works from a virtualenv that is not activated), with the options given here. The server listens on
loopback unless told otherwise: whoever reaches the port drives the UI with this user's credentials, so any
other address needs ``--allow-remote`` and prints a warning.
"""

from __future__ import annotations

import os
import shlex
import sys
import urllib.parse
from typing import Any, ClassVar

import click
from rich.markup import escape

from driftmgr_tui.commands.common import err, handle_errors, out
from driftmgr_tui.core.errors import DriftmgrError, UsageError
from driftmgr_tui.core.net import is_loopback_host

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
RISK = ("anyone who can reach {where} gets the terminal UI with your credentials: they can edit and remove "
        "resources from Terraform states, run remediation against the cloud and read what the states hold")


def url_host(host: str) -> str:
    """A host as it appears in a URL (an IPv6 address in brackets)."""
    host = host.strip().strip("[]")
    return f"[{host}]" if ":" in host else host


def check_public_url(url: str) -> str:
    url = url.strip().rstrip("/")
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise UsageError(f"--public-url {url!r} does not parse") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--public-url {url!r}: expected http://HOST[:PORT] or https://HOST[:PORT]")
    if parts.path or parts.query or parts.fragment:
        raise UsageError(f"--public-url {url!r}: give the scheme, host and port only "
                         "(the server answers at /)")
    return url


def tui_command(*, env_name: str | None, read_only: bool, section: str) -> str:
    """The shell command each browser session runs: this interpreter, the TUI, the options (quoted)."""
    argv = [sys.executable, "-m", "driftmgr_tui.cli", "tui", "--section", section]
    if env_name:
        argv += ["--env", env_name]
    if read_only:
        argv.append("--read-only")
    return shlex.join(argv)


def _sections() -> list[str]:
    from driftmgr_tui.cli import tui_cmd

    option = next(p for p in tui_cmd.params if p.name == "section")
    return list(option.type.choices)  # type: ignore[attr-defined]


def make_server(command: str, host: str, port: int, public_url: str) -> Any:
    """A textual-serve Server that prints driftmgr's own start line and logs its errors to stderr."""
    import asyncio
    import gc
    import logging

    from rich.console import Console
    from rich.logging import RichHandler
    from textual_serve.server import Server

    class WebServer(Server):
        def initialize_logging(self) -> None:
            logger = logging.getLogger("textual-serve")
            logger.addHandler(RichHandler(console=Console(stderr=True), show_path=False, show_time=False))
            logger.setLevel(logging.INFO if self.debug else logging.WARNING)
            logger.propagate = False

        sessions: ClassVar[set[asyncio.Task[Any]]] = set()

        async def on_startup(self, app: Any) -> None:
            out.print(f"driftmgr web: serving the terminal UI on [bold]{escape(self.public_url)}[/] "
                      "(Ctrl-C stops)")
            sys.stdout.flush()

        async def handle_websocket(self, request: Any) -> Any:
            task = asyncio.current_task()
            assert task is not None
            self.sessions.add(task)
            try:
                return await super().handle_websocket(request)
            finally:
                self.sessions.discard(task)

        async def on_shutdown(self, app: Any) -> None:
            # Ctrl-C: end every browser session now (each TUI is told to quit and awaited), rather than
            # leaving the server waiting for the browsers to hang up
            for task in list(self.sessions):
                task.cancel()
            if self.sessions:
                await asyncio.wait(list(self.sessions), timeout=10)
            # textual-serve never closes an ended session's subprocess transport: finalise the dropped ones
            # while the loop still runs, or their __del__ prints "Event loop is closed" after Ctrl-C
            gc.collect()
            await asyncio.sleep(0)

    return WebServer(command, host=host, port=port, title="driftmgr", public_url=public_url)


@click.command("web")
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="The address to listen on. Anything but loopback needs --allow-remote.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option("--env", "env_name", metavar="NAME", help="The environment the UI opens on.")
@click.option("--read-only", is_flag=True,
              help="Serve the UI in read-only mode (no action changes anything).")
@click.option("--section", default="drift", show_default=True, help="The section to open first.")
@click.option("--public-url", metavar="URL",
              help="The URL browsers use to reach the server, when it is not http://HOST:PORT (a forwarded "
                   "port, a reverse proxy).")
@click.option("--allow-remote", is_flag=True,
              help="Allow listening on an address other than loopback (read the warning it prints).")
@handle_errors
def web_cmd(host: str, port: int, env_name: str | None, read_only: bool, section: str, public_url: str | None,
            allow_remote: bool) -> None:
    """The terminal UI in a browser (textual-serve): each browser tab runs its own `driftmgr tui`.

    \b
    driftmgr web                          # http://127.0.0.1:8000
    driftmgr web --env prod --read-only --port 8080
    ssh -L 8000:127.0.0.1:8000 ops-host   # then, on ops-host: driftmgr web

    Listens on loopback only by default. From another machine, forward the port over SSH
    rather than listening on a public address.
    """
    host = host.strip()
    if not host:
        raise UsageError("--host is empty: give an address such as 127.0.0.1")
    sections = _sections()
    if section not in sections:
        raise UsageError(f"unknown section {section!r}: choose {', '.join(sections)}")
    where = f"{url_host(host)}:{port}"
    if not is_loopback_host(host):
        if not allow_remote:
            raise UsageError(
                f"refusing to listen on {host} without --allow-remote: {RISK.format(where=where)}",
                hint=f"keep the default --host {DEFAULT_HOST} and forward the port over SSH "
                     f"(ssh -L {port}:127.0.0.1:{port} HOST), or add --allow-remote behind a firewall or an "
                     "authenticating proxy")
        err.print(f"[bold yellow]warning:[/] listening on {escape(where)}: "
                  f"{escape(RISK.format(where=where))}. "
                  "There is no login: restrict who can reach the port (firewall, VPN, authenticating proxy), "
                  "and prefer --read-only.")
    url = check_public_url(public_url) if public_url else f"http://{where}"
    # the browser's terminal (xterm.js) shows 24-bit colour: the UI picks its full theme, not the ANSI one
    os.environ.setdefault("COLORTERM", "truecolor")
    server = make_server(tui_command(env_name=env_name, read_only=read_only, section=section),
                         host.strip("[]"), port, url)
    try:
        server.serve()
    except OSError as exc:
        raise DriftmgrError(f"cannot listen on {where}: {exc.strerror or exc}",
                            hint="another program may use the port: choose another with --port") from None
    except KeyboardInterrupt:
        pass
    out.print("driftmgr web: stopped")
