"""driftmgr-tui: find and fix Terraform drift from the terminal."""

__version__ = "0.1.0"
