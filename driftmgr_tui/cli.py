"""The `driftmgr` command: every capability, headless, through the service layer."""

from __future__ import annotations

import click

from driftmgr_tui import __version__
from driftmgr_tui.commands.alerts import alerts_group, watch_cmd
from driftmgr_tui.commands.audit import audit_group
from driftmgr_tui.commands.config import config_group
from driftmgr_tui.commands.demo import demo_cmd
from driftmgr_tui.commands.discover import discover_group
from driftmgr_tui.commands.drift import drift_group, scan_cmd
from driftmgr_tui.commands.metrics import metrics_cmd
from driftmgr_tui.commands.remediate import remediate_group
from driftmgr_tui.commands.state import state_group
from driftmgr_tui.commands.web import web_cmd

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


@click.group(context_settings=CONTEXT_SETTINGS, invoke_without_command=True)
@click.version_option(__version__, prog_name="driftmgr")
@click.option("-v", "--verbose", count=True, help="Log to stderr (-v warnings and retries, -vv debug).")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """driftmgr: find and fix Terraform drift. With no command, in a terminal: the TUI.

    \b
    Configuration: $DRIFTMGR_CONFIG (default ~/.config/driftmgr/config.toml).
    Database: $DRIFTMGR_DB_URL (default SQLite in the user data dir).
    """
    _configure_logging(verbose)
    if ctx.invoked_subcommand is None:
        import sys

        if sys.stdin.isatty() and sys.stdout.isatty():
            ctx.invoke(tui_cmd)
        else:
            click.echo(ctx.get_help())


@cli.command("tui")
@click.option("--env", "env_name", metavar="NAME", help="The environment to show (default: 'default').")
@click.option("--read-only", is_flag=True, help="Hide and disable every action that changes a state, a file or "
                                                "the cloud (for browsing production safely).")
@click.option("--section", type=click.Choice(["drift", "remediation", "state", "discovery", "config", "metrics",
                                              "alerts"]), default="drift",
              show_default=True, help="The section to open first.")
def tui_cmd(env_name: str | None = None, read_only: bool = False, section: str = "drift") -> None:
    """The terminal UI: keys 1-6 switch sections, ':' jumps, ctrl+p searches, '?' lists the keys."""
    from driftmgr_tui.app import run_app

    run_app(environment=env_name, read_only=read_only, initial=section)


def _configure_logging(verbose: int) -> None:
    """Quiet by default: errors reach the user as one line from the command, never as a logged traceback
    or an SDK's multi-line warning (azure-identity logs every credential it tried). ``-v`` shows driftmgr's
    info (retries, recovered jobs) and SDK warnings, ``-vv`` driftmgr's debug."""
    import logging

    root = logging.getLogger()
    if not verbose:
        root.addHandler(logging.NullHandler())  # keeps logging's last-resort stderr handler out of it
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("driftmgr_tui").setLevel(logging.DEBUG if verbose > 1 else logging.INFO)


cli.add_command(state_group)
cli.add_command(discover_group)
cli.add_command(drift_group)
cli.add_command(scan_cmd)
cli.add_command(remediate_group)
cli.add_command(audit_group)
cli.add_command(config_group)
cli.add_command(demo_cmd)
cli.add_command(alerts_group)
cli.add_command(watch_cmd)
cli.add_command(metrics_cmd)
cli.add_command(web_cmd)


def main() -> None:
    cli(prog_name="driftmgr")


if __name__ == "__main__":
    main()
