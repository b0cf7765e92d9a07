"""`driftmgr demo`: try driftmgr on a sandbox with drift of every kind, without touching a real cloud."""

from __future__ import annotations

import contextlib
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import click
from rich.markup import escape

from driftmgr_tui.commands.common import emit_json, err, handle_errors, out
from driftmgr_tui.core.errors import UsageError


@contextlib.contextmanager
def _hangup_exits() -> Iterator[None]:
    """SIGTERM and SIGHUP (a dropped SSH session) end the demo through the normal path, so the sandbox is
    cleaned up as on Ctrl-C; the previous handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = [n for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    previous = {}

    def leave(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    for name in names:
        number = getattr(signal, name)
        previous[number] = signal.signal(number, leave)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    s = report["summary"]
    return {"id": report["id"], "status": report["status"], "created_at": report["created_at"],
            **{k: s[k] for k in ("total_resources", "total_managed", "total_changed", "total_missing",
                                 "total_unmanaged", "total_unapplied", "total_orphaned", "total_unevaluated",
                                 "coverage", "by_severity")}}


def _next_commands(sandbox: Any) -> list[str]:
    workdir = shlex.quote(str(sandbox.workdir))
    return [
        f"export DRIFTMGR_DATA_DIR={shlex.quote(str(sandbox.data_dir))} "
        f"DRIFTMGR_CONFIG={shlex.quote(str(sandbox.config_path))}",
        f"driftmgr drift show latest --env {sandbox.environment} --diffs",
        f"driftmgr drift history --env {sandbox.environment} --open",
        f"driftmgr state list --chdir {workdir}",
        "driftmgr remediate plan --report latest",
        f"driftmgr tui --env {sandbox.environment}",
    ]


def _print_summary(sandbox: Any, keep: bool) -> None:
    from driftmgr_tui.commands.drift_output import print_report

    print_report(sandbox.report)
    out.print()
    gone = "" if keep else " [dim](removed when the demo ends; --keep keeps it)[/]"
    out.print(f"[bold]Working dir[/]: {escape(str(sandbox.workdir))} (main.tf, modules/, terraform.tfstate){gone}")
    out.print(f"[bold]Environment[/]: {sandbox.environment} (config {escape(str(sandbox.config_path))})")
    out.print()
    if keep:
        out.print("Next, on the kept sandbox (its code, state and drift history; the local AWS stops with the demo):")
    else:
        out.print("Next: [bold]driftmgr demo[/] opens the terminal UI on a new sandbox; with [bold]--keep[/] it "
                  "stays after the demo, to explore with:")
    for command in _next_commands(sandbox):
        out.print(f"  {escape(command)}")


@click.command("demo")
@click.option("--no-tui", is_flag=True,
              help="Print the report summary, the working dir and commands to try next, then clean up and "
                   "exit 0 (for scripts and tests).")
@click.option("--keep", is_flag=True,
              help="Keep the sandbox directory (working dir, state, database, config) and print where it is.")
@click.option("--json", "as_json", is_flag=True,
              help="With --no-tui: print {workdir, state, environment, report} as JSON.")
@handle_errors
def demo_cmd(no_tui: bool, keep: bool, as_json: bool) -> None:
    """Try driftmgr on a sandbox: a local AWS with drift of every kind, no real cloud touched.

    \b
    The sandbox is made in a temporary directory: a local AWS (moto, on a
    loopback port, in this process), a few dozen resources in it, a
    Terraform working dir that manages them, drift planted by hand (an SSH
    port opened to the world, console edits, deleted and hand-made
    resources, unapplied and orphaned code) and a drift report already
    saved. Then the terminal UI opens on it. When the demo ends (quit,
    Ctrl-C, an error) the local AWS stops, the environment is restored and
    the directory is removed, unless --keep.

    \b
    driftmgr demo                      # the terminal UI on the sandbox
    driftmgr demo --no-tui             # the report, then clean up
    driftmgr demo --no-tui --keep      # keep it to explore with the CLI
    driftmgr demo --no-tui --json      # for scripts
    """
    if as_json and not no_tui:
        raise UsageError("--json goes with --no-tui (the terminal UI has no JSON output)")
    if not no_tui and not (sys.stdin.isatty() and sys.stdout.isatty()):
        err.print("[dim]not a terminal: printing the sandbox's report instead of opening the terminal UI[/]")
        no_tui = True
    run_app = None
    if not no_tui:
        try:
            from driftmgr_tui.app import run_app
        except ImportError as exc:
            raise UsageError(f"the terminal UI is not available: {exc}",
                             hint="`driftmgr demo --no-tui` prints the sandbox's report instead") from None
    from driftmgr_tui.demo.sandbox import Sandbox

    sandbox = Sandbox(keep=keep)
    with _hangup_exits():
        sandbox.start(lambda message: err.print(f"[dim]… {escape(message)}[/]"))
        try:
            if run_app is not None:
                run_app(environment=sandbox.environment, read_only=False)
            elif as_json:
                emit_json({"workdir": str(sandbox.workdir), "state": str(sandbox.state_path),
                           "environment": sandbox.environment, "kept": keep,
                           "root": str(sandbox.root) if keep else None, "report": _summary(sandbox.report)})
            else:
                _print_summary(sandbox, keep)
        finally:
            err.print("[dim]… stopping the local AWS and cleaning up[/]")
            sandbox.stop()
    if keep:
        err.print(f"the sandbox is kept in {escape(str(sandbox.root))} (remove it when done)")
    sys.stdout.flush()
