"""`driftmgr state ...`: read and safely change Terraform state (as `terraform state`, plus backups)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson
from rich.markup import escape

from driftmgr_tui.commands.common import (
    emit_json,
    err,
    handle_errors,
    out,
    source_from,
    state_source_options,
)
from driftmgr_tui.core.errors import UsageError

EPILOG = """\b
Where the state is: --state FILE, --chdir DIR (a Terraform working dir; its
backend "s3" block or .terraform/terraform.tfstate is read), --backend SPEC,
or --terragrunt-unit DIR (a Terragrunt unit: its remote_state, includes merged).
Every change takes the lock, backs up the current bytes, writes atomically and
releases the lock; --dry-run shows the diff without touching anything.
Exit codes: 0 ok, 1 failed (locked, conflict, validation errors), 2 bad input."""


def _service():
    from driftmgr_tui.services.state_service import StateService

    return StateService()


lock_timeout_option = click.option(
    "--lock-timeout", type=str, default=None, metavar="DURATION",
    help="How long to retry a held lock (e.g. 30s, 2m). Default: [state] lock_timeout in the config, or 0s.",
)
dry_run_option = click.option("--dry-run", is_flag=True, help="Print the change it would make; write nothing.")
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")


def _timeout(value: str | None) -> float | None:
    if value is None:
        return None
    from driftmgr_tui.core.settings import parse_duration

    return parse_duration(value)


@click.group("state", epilog=EPILOG)
def state_group() -> None:
    """Read and safely change Terraform state."""


# ------------------------------------------------------------------------------------------ list
@state_group.command("list", epilog=EPILOG)
@state_source_options
@click.option("--type", "types", multiple=True, metavar="TYPE", help="Only this resource type (repeatable).")
@click.option("--module", metavar="MODULE", help="Only resources in this module and its children ('root' for the root).")
@click.argument("patterns", nargs=-1)
@json_option
@handle_errors
def list_cmd(state_path, chdir, backend_spec, terragrunt_unit, workspace, types, module, patterns,
             as_json) -> None:
    """List resource instances. PATTERNS are addresses (module.net, aws_instance.web) or globs ('aws_s3_*')."""
    from driftmgr_tui.state.operations import instance_json

    refs = _service().list(source_from(state_path, chdir, backend_spec, workspace, terragrunt_unit), types=list(types),
                           module=module, patterns=list(patterns))
    if as_json:
        emit_json([instance_json(r) for r in refs])
        return
    write = sys.stdout.write
    for ref in refs:
        write(ref.address + "\n")


# ------------------------------------------------------------------------------------------ units
@state_group.command("units")
@click.argument("tree", type=click.Path(path_type=Path, file_okay=False))
@json_option
@handle_errors
def units_cmd(tree: Path, as_json: bool) -> None:
    """List the Terragrunt units under TREE and where each keeps its state (backend type and location),
    as --terragrunt-unit DIR and an environment's `terragrunt = "TREE"` read them. A unit whose
    configuration cannot be resolved is listed with the reason; the exit code is then 1."""
    from driftmgr_tui.state.terragrunt import resolve_tree

    results = resolve_tree(tree)
    if not results:
        raise UsageError(f"{tree}: no Terragrunt unit here (no terragrunt.hcl in it or below it)")
    if as_json:
        emit_json([_unit_json(r) for r in results])
    else:
        width = max(len(r.unit.name) for r in results)
        out.print(f"[bold]{'UNIT':<{width}}  {'BACKEND':<8} STATE[/]")
        for r in results:
            name = escape(r.unit.name.ljust(width))
            if r.error is not None:
                out.print(f"{name}  [red]{'error':<8}[/] {escape(r.error.message)}")
                if r.error.hint:
                    out.print(f"{' ' * width}  {'':<8} [dim]hint: {escape(r.error.hint)}[/]")
                continue
            state = r.state
            assert state is not None
            if state.pending:
                out.print(f"{name}  [yellow]{'none':<8}[/] {escape(state.pending)}")
            else:
                out.print(f"{name}  {escape(state.kind):<8} {escape(state.location)}")
            for warning in state.warnings:
                out.print(f"{' ' * width}  {'':<8} [yellow]warning:[/] {escape(warning)}")
    if any(r.error is not None for r in results):
        sys.exit(1)


def _unit_json(result: Any) -> dict[str, Any]:
    state = result.state
    return {
        "unit": result.unit.name,
        "directory": str(result.unit.directory),
        "config": str(result.unit.config_path),
        "backend": state.kind if state and not state.pending else None,
        "location": state.location if state and not state.pending else None,
        "origin": state.origin if state else None,
        "pending": state.pending if state else None,
        "warnings": list(state.warnings) if state else [],
        "error": result.error.message if result.error else None,
    }


# ------------------------------------------------------------------------------------------ show
@state_group.command("show", epilog=EPILOG)
@state_source_options
@click.argument("address")
@click.option("--reveal", is_flag=True, help="Show sensitive values in clear (they are redacted by default).")
@json_option
@handle_errors
def show_cmd(state_path, chdir, backend_spec, terragrunt_unit, workspace, address, reveal, as_json) -> None:
    """Show one resource instance's attributes (sensitive values redacted unless --reveal)."""
    data = _service().show(source_from(state_path, chdir, backend_spec, workspace, terragrunt_unit), address,
                           reveal=reveal)
    if as_json:
        emit_json(data)
        return
    out.print(f"[bold]# {escape(data['address'])}[/]  [dim]({escape(data['provider'])})[/]")
    if data.get("tainted"):
        out.print("[yellow]# tainted: will be replaced on the next apply[/]")
    _print_attrs(data["attributes"], 0)
    if data["dependencies"]:
        out.print("[dim]depends on: " + escape(", ".join(data["dependencies"])) + "[/]")
    if data["redacted"]:
        out.print("[dim]sensitive values are redacted; --reveal shows them[/]")


def _print_attrs(value: Any, indent: int) -> None:
    pad = "  " * indent
    if isinstance(value, dict):
        width = max((len(str(k)) for k in value), default=0)
        for k, v in value.items():
            if isinstance(v, dict | list) and v:
                out.print(f"{pad}{escape(str(k))} =")
                _print_attrs(v, indent + 1)
            else:
                out.print(f"{pad}{escape(str(k)).ljust(width)} = {escape(_scalar(v))}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list) and item:
                out.print(f"{pad}-")
                _print_attrs(item, indent + 1)
            else:
                out.print(f"{pad}- {escape(_scalar(item))}")


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value if value == "(sensitive value)" else orjson.dumps(value).decode()
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    return str(value)


# ------------------------------------------------------------------------------------------ mutations
def _report(result, as_json: bool) -> None:
    if as_json:
        emit_json(result.to_json())
        return
    for line in result.diff.lines():
        colour = {"-": "red", "+": "green", "~": "yellow", ">": "cyan", "!": "magenta"}.get(line[0], "")
        out.print(f"[{colour}]{escape(line)}[/]" if colour else escape(line))
    if result.dry_run:
        if result.changed:
            out.print(f"[bold]dry run:[/] would write {escape(result.location)} "
                      f"(serial {result.old_serial} -> {result.new_serial}); nothing was changed")
        else:
            out.print("[bold]dry run:[/] no changes")
        return
    for message in result.messages:
        if message.startswith("no changes"):
            out.print(escape(message))
    if result.changed:
        backup = f", backup {result.backup_id}" if result.backup_id else ""
        serial = (f"serial {result.old_serial} -> {result.new_serial}" if result.old_serial is not None
                  else f"new state, serial {result.new_serial}")
        out.print(f"[green]wrote[/] {escape(result.location)} ({serial}{backup})")


@state_group.command("rm", epilog=EPILOG)
@state_source_options
@click.argument("addresses", nargs=-1, required=True)
@dry_run_option
@lock_timeout_option
@json_option
@handle_errors
def rm_cmd(state_path, chdir, backend_spec, terragrunt_unit, workspace, addresses, dry_run, lock_timeout,
           as_json) -> None:
    """Remove instances, resources or whole modules from the state (the cloud objects are untouched)."""
    result = _service().rm(source_from(state_path, chdir, backend_spec, workspace, terragrunt_unit), list(addresses),
                           dry_run=dry_run, lock_timeout=_timeout(lock_timeout))
    _report(result, as_json)


@state_group.command("mv", epilog=EPILOG)
@state_source_options
@click.argument("source")
@click.argument("destination")
@dry_run_option
@lock_timeout_option
@json_option
@handle_errors
def mv_cmd(state_path, chdir, backend_spec, terragrunt_unit, workspace, source, destination, dry_run,
           lock_timeout, as_json) -> None:
    """Move a resource, an instance or a whole module to a new address (as `terraform state mv`)."""
    result = _service().mv(source_from(state_path, chdir, backend_spec, workspace, terragrunt_unit), source, destination,
                           dry_run=dry_run, lock_timeout=_timeout(lock_timeout))
    _report(result, as_json)


@state_group.command("import", epilog=EPILOG)
@state_source_options
@click.argument("address")
@click.option("--attributes", "attributes_src", required=True, metavar="JSON|@FILE|-",
              help="The instance's attributes as a JSON object (must include \"id\"): inline, @file, or - for stdin.")
@click.option("--provider", help='Provider address, e.g. provider["registry.terraform.io/hashicorp/aws"]. '
                                 "Default: the one the state already uses for this type's provider.")
@click.option("--schema-version", type=int, default=0, show_default=True,
              help="The provider's schema version for this resource type.")
@click.option("--create", is_flag=True, help="Create a new state (fresh lineage) if none exists yet.")
@dry_run_option
@lock_timeout_option
@json_option
@handle_errors
def import_cmd(state_path, chdir, backend_spec, terragrunt_unit, workspace, address, attributes_src,
               provider, schema_version, create, dry_run, lock_timeout, as_json) -> None:
    """Add a resource instance built from known attributes (no provider call is made)."""
    attributes = _read_json_arg(attributes_src)
    if not isinstance(attributes, dict):
        raise UsageError("--attributes must be a JSON object")
    result = _service().import_instance(
        source_from(state_path, chdir, backend_spec, workspace, terragrunt_unit), address, attributes, provider=provider,
        schema_version=schema_version, dry_run=dry_run, lock_timeout=_timeout(lock_timeout), create=create,
    )
    _report(result, as_json)


def _read_json_arg(src: str) -> Any:
    if src == "-":
        raw = sys.stdin.buffer.read()
        where = "stdin"
    elif src.startswith("@"):
        path = Path(src[1:])
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
        where = str(path)
    else:
        raw = src.encode()
        where = "--attributes"
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"{where}: not valid JSON ({exc})") from None


# ------------------------------------------------------------------------------------------ validate
@state_group.command("validate", epilog=EPILOG)
@state_source_options
@json_option
@handle_errors
def validate_cmd(state_path, chdir, backend_spec, terragrunt_unit, workspace, as_json) -> None:
    """Check the state: duplicate addresses, dangling dependencies, provider references, serial/lineage.
    Exits 1 when there are errors (warnings alone exit 0)."""
    report = _service().validate(source_from(state_path, chdir, backend_spec, workspace, terragrunt_unit))
    if as_json:
        emit_json(report.to_json())
    else:
        out.print(f"[bold]{escape(report.location)}[/]: serial {report.serial}, lineage {report.lineage}, "
                  f"{report.instances} instances")
        for p in report.problems:
            colour = "red" if p.severity == "error" else "yellow"
            out.print(f"  [{colour}]{p.severity:<7}[/] {p.code:<22} {escape(p.message)}")
        warnings = len(report.problems) - len(report.errors)
        verdict = "[green]valid[/]" if report.ok else "[red]invalid[/]"
        out.print(f"{verdict}: {len(report.errors)} error(s), {warnings} warning(s)")
    if not report.ok:
        sys.exit(1)


# ------------------------------------------------------------------------------------------ pull/push
@state_group.command("pull", epilog=EPILOG)
@state_source_options
@handle_errors
def pull_cmd(state_path, chdir, backend_spec, terragrunt_unit, workspace) -> None:
    """Print the current state to stdout, formatted as Terraform writes it (legacy formats upgraded to v4)."""
    data = _service().pull(source_from(state_path, chdir, backend_spec, workspace, terragrunt_unit))
    sys.stdout.buffer.write(data)
    sys.stdout.flush()


@state_group.command("push", epilog=EPILOG)
@state_source_options
@click.argument("file", type=str)
@click.option("--force", is_flag=True, help="Skip the lineage and serial checks (dangerous).")
@dry_run_option
@lock_timeout_option
@json_option
@handle_errors
def push_cmd(state_path, chdir, backend_spec, terragrunt_unit, workspace, file, force, dry_run, lock_timeout,
             as_json) -> None:
    """Replace the state with FILE ('-' for stdin) under Terraform's rules: same lineage, serial not
    older, same serial only with the same content."""
    if file == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            data = Path(file).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {file}: {exc.strerror or exc}") from None
    result = _service().push(source_from(state_path, chdir, backend_spec, workspace, terragrunt_unit), data, path=file,
                             force=force, dry_run=dry_run, lock_timeout=_timeout(lock_timeout))
    _report(result, as_json)


# ------------------------------------------------------------------------------------------ backups
def _backup_json(b) -> dict[str, Any]:
    return {
        "id": b.id,
        "location": b.location,
        "sha256": b.sha256,
        "serial": b.serial,
        "lineage": b.lineage,
        "terraform_version": b.terraform_version,
        "resource_count": b.resource_count,
        "size": b.size,
        "reason": b.reason,
        "created_at": b.created_at.isoformat(),
        "created_by": b.created_by,
    }


@state_group.command("backup", epilog=EPILOG)
@state_source_options
@click.option("--reason", default="manual backup", show_default=True, help="Why, shown in `state backups`.")
@json_option
@handle_errors
def backup_cmd(state_path, chdir, backend_spec, terragrunt_unit, workspace, reason, as_json) -> None:
    """Take a backup of the current state now."""
    row = _service().backup(source_from(state_path, chdir, backend_spec, workspace, terragrunt_unit),
                            reason=reason)
    if as_json:
        emit_json(_backup_json(row))
    else:
        out.print(f"backup [bold]{row.id}[/] of {escape(row.location)} (serial {row.serial}, "
                  f"sha256 {row.sha256[:12]})")


@state_group.command("backups", epilog=EPILOG)
@state_source_options
@click.option("--all", "all_locations", is_flag=True, help="Backups of every state, not just this one.")
@json_option
@handle_errors
def backups_cmd(state_path, chdir, backend_spec, terragrunt_unit, workspace, all_locations, as_json) -> None:
    """List backups, newest first: ID, time, serial, lineage, reason."""
    service = _service()
    source = None if all_locations else source_from(state_path, chdir, backend_spec, workspace, terragrunt_unit)
    rows = service.list_backups(source, all_locations=all_locations)
    if as_json:
        emit_json([_backup_json(r) for r in rows])
        return
    if not rows:
        out.print("no backups yet")
        return
    header = f"{'ID':>4}  {'TIME (UTC)':<19}  {'SERIAL':>6}  {'LINEAGE':<8}  {'RES':>5}  {'SHA256':<12}  REASON"
    out.print(f"[bold]{header}[/]")
    for r in rows:
        line = (f"{r.id:>4}  {r.created_at:%Y-%m-%d %H:%M:%S}  {r.serial!s:>6}  {(r.lineage or '')[:8]:<8}  "
                f"{r.resource_count:>5}  {r.sha256[:12]}  {r.reason}")
        if all_locations:
            line += f"  [{r.location}]"
        out.print(escape(line))


@state_group.command("restore", epilog=EPILOG)
@state_source_options
@click.argument("backup_id")
@click.option("--force", is_flag=True, help="Allow a backup of another location or lineage.")
@dry_run_option
@lock_timeout_option
@json_option
@handle_errors
def restore_cmd(state_path, chdir, backend_spec, terragrunt_unit, workspace, backup_id, force, dry_run,
                lock_timeout, as_json) -> None:
    """Write a backup back as the current state (serial = current + 1, so every client sees it as newest).
    The state being replaced is itself backed up first."""
    result = _service().restore(source_from(state_path, chdir, backend_spec, workspace, terragrunt_unit), backup_id,
                                force=force, dry_run=dry_run, lock_timeout=_timeout(lock_timeout))
    _report(result, as_json)


# ------------------------------------------------------------------------------------------ locks
@state_group.command("locks", epilog=EPILOG)
@state_source_options
@json_option
@handle_errors
def locks_cmd(state_path, chdir, backend_spec, terragrunt_unit, workspace, as_json) -> None:
    """Show who holds the state lock, since when and for what."""
    status = _service().locks(source_from(state_path, chdir, backend_spec, workspace, terragrunt_unit))
    if as_json:
        emit_json(status.to_json())
        return
    if not status.locked:
        out.print(f"{escape(status.location)}: not locked")
        return
    info = status.info or {}
    stale = " [yellow](stale: no live process holds it)[/]" if status.stale else ""
    out.print(f"{escape(status.location)}: [bold red]locked[/]{stale}")
    for key in ("ID", "Who", "Created", "Operation", "Info", "Version"):
        if info.get(key):
            out.print(f"  {key:<9} {escape(info[key])}")


@state_group.command("unlock", epilog=EPILOG)
@state_source_options
@click.argument("lock_id")
@click.option("--force", is_flag=True, help="Release even if LOCK_ID does not match the holder's ID.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@handle_errors
def unlock_cmd(state_path, chdir, backend_spec, terragrunt_unit, workspace, lock_id, force, yes) -> None:
    """Release a lock left by a dead process. Check `state locks` first: releasing a live lock lets two
    writers collide."""
    service = _service()
    source = source_from(state_path, chdir, backend_spec, workspace, terragrunt_unit)
    status = service.locks(source)
    if not status.locked:
        raise UsageError(f"{status.location} is not locked")
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("refusing to unlock without confirmation; pass --yes")
        holder = (status.info or {}).get("Who", "unknown")
        if not click.confirm(f"Release the lock held by {holder}?", default=False, err=True):
            err.print("left locked")
            sys.exit(1)
    service.unlock(source, lock_id, force=force)
    out.print(f"{escape(status.location)}: lock {escape(lock_id)} released")
