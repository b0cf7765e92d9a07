"""What every command shares: error mapping, JSON output, state-source options."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson
from rich.console import Console
from rich.markup import escape

from driftmgr_tui.core.errors import DriftmgrError

F = TypeVar("F", bound=Callable[..., Any])

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def dumps_json(data: Any) -> bytes:
    """Pretty JSON (keys in the order given) as every command prints it."""
    return orjson.dumps(data, option=orjson.OPT_INDENT_2, default=_default) + b"\n"


def emit_json(data: Any) -> None:
    """Pretty JSON on stdout, for scripts."""
    sys.stdout.buffer.write(dumps_json(data))
    sys.stdout.flush()


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, int):  # integers beyond 64 bits
        return str(value)
    raise TypeError(f"cannot serialize {type(value).__name__}")


def handle_errors(func: F) -> F:
    """Turn DriftmgrError into one clear line on stderr and its exit code; never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DriftmgrError as exc:
            err.print(f"[bold red]Error:[/] {escape(exc.message)}")
            if exc.hint:
                err.print(f"[dim]hint: {escape(exc.hint)}[/]")
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            err.print("interrupted")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def state_source_options(func: F) -> F:
    """--state / --chdir / --backend / --terragrunt-unit / --workspace: where the state lives."""
    options = [
        click.option("--state", "state_path", type=click.Path(path_type=Path, dir_okay=True),
                     help="A local state file (e.g. terraform.tfstate)."),
        click.option("--chdir", type=click.Path(path_type=Path, file_okay=False),
                     help="A Terraform working dir: its backend block or .terraform/terraform.tfstate "
                          "says where the state is. Default: the current directory."),
        click.option("--backend", "backend_spec", metavar="SPEC",
                     help="An explicit backend: s3://BUCKET/KEY?region=R&use_lockfile=true, "
                          "gs://BUCKET/PREFIX, azurerm://ACCOUNT/CONTAINER/KEY, "
                          "http+https://HOST/PATH?lock_address=URL, tfc://ORG/WORKSPACE, "
                          "or a file path (docs/backends.md lists every parameter)."),
        click.option("--terragrunt-unit", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
                     help="A Terragrunt unit (a directory with a terragrunt.hcl): the state its "
                          "remote_state, with its includes, names."),
        click.option("--workspace", "-w", help="Workspace (default: TF_WORKSPACE, .terraform/environment, "
                                               "or 'default')."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def source_from(state_path: Path | None, chdir: Path | None, backend_spec: str | None,
                workspace: str | None, terragrunt_unit: Path | None = None):
    from driftmgr_tui.services.state_service import StateSource

    return StateSource(state_path=state_path, chdir=chdir, backend=backend_spec, workspace=workspace,
                       terragrunt_unit=terragrunt_unit)
