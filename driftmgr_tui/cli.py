"""The `driftmgr` command: every capability, headless, through the service layer."""

from __future__ import annotations

import click

from driftmgr_tui import __version__
from driftmgr_tui.commands.audit import audit_group
from driftmgr_tui.commands.discover import discover_group
from driftmgr_tui.commands.drift import drift_group, scan_cmd
from driftmgr_tui.commands.remediate import remediate_group
from driftmgr_tui.commands.state import state_group

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="driftmgr")
@click.option("-v", "--verbose", count=True, help="Log to stderr (-v warnings and retries, -vv debug).")
def cli(verbose: int) -> None:
    """driftmgr: find and fix Terraform drift.

    \b
    Configuration: $DRIFTMGR_CONFIG (default ~/.config/driftmgr/config.toml).
    Database: $DRIFTMGR_DB_URL (default SQLite in the user data dir).
    """
    _configure_logging(verbose)


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


def main() -> None:
    cli(prog_name="driftmgr")


if __name__ == "__main__":
    main()
