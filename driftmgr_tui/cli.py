"""The `driftmgr` command: every capability, headless, through the service layer."""

from __future__ import annotations

import click

from driftmgr_tui import __version__
from driftmgr_tui.commands.state import state_group

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="driftmgr")
def cli() -> None:
    """driftmgr: find and fix Terraform drift.

    \b
    Configuration: $DRIFTMGR_CONFIG (default ~/.config/driftmgr/config.toml).
    Database: $DRIFTMGR_DB_URL (default SQLite in the user data dir).
    """


cli.add_command(state_group)


def main() -> None:
    cli(prog_name="driftmgr")


if __name__ == "__main__":
    main()
