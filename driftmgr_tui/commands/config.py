"""`driftmgr config ...`: the config file, headless: show, validate, set, environments, secrets, key bindings
and connection tests. Every change is validated as a whole before it is written (atomically, the previous file
kept as config.toml.bak); secrets go to the OS keyring and only their reference to the file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from driftmgr_tui.commands.common import emit_json, err, handle_errors, out
from driftmgr_tui.core.errors import UsageError
from driftmgr_tui.discovery.registry import PROVIDERS


def _service(path: Path | None = None) -> Any:
    from driftmgr_tui.services.config_service import ConfigService

    return ConfigService(path=path)


def _warn_plaintext(service: Any) -> str | None:
    warning = service.plaintext_warning()
    if warning:
        err.print(f"[bold yellow]warning:[/] {escape(warning)}")
    return warning


@click.group("config")
def config_group() -> None:
    """The config file: show and validate it, change settings, environments, secrets and keys.

    \b
    driftmgr config show                      # effective settings; secrets only as references
    driftmgr config validate                  # exit 2 with the file, line and key at fault
    driftmgr config set state.lock_timeout 30s
    driftmgr config set keys.drift.rescan R   # key bindings: SECTION.ACTION
    driftmgr config env add prod --state 'envs/prod/*.tfstate' --provider aws --region eu-west-1
    driftmgr config secret set database.password_secret --stdin < password.txt
    driftmgr config test prod                 # test the provider connection (a job)

    Secrets live in the OS keyring; the file holds only a reference (db:<uuid>).
    """


@config_group.command("path")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")
@handle_errors
def path_cmd(as_json: bool) -> None:
    """The config file (it may not exist yet) and the data dir."""
    from driftmgr_tui.core.settings import config_file_path, data_dir_path

    path, data = config_file_path(), data_dir_path()
    if as_json:
        emit_json({"config": str(path), "exists": path.exists(), "data_dir": str(data)})
        return
    out.print(str(path))


@config_group.command("validate")
@click.argument("file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print {\"valid\", \"error\", \"field\"} as JSON.")
def validate_cmd(file: Path | None, as_json: bool) -> None:
    """Check FILE (default: the config file) as driftmgr reads it: exit 0 when valid, 2 with the error."""
    from driftmgr_tui.core.errors import ConfigError

    service = _service(file.absolute() if file else None)
    try:
        service.validate_file()
    except ConfigError as exc:
        if as_json:
            emit_json({"valid": False, "path": str(service.path), "error": exc.message, "field": exc.field,
                       "hint": exc.hint})
        else:
            err.print(f"[bold red]Error:[/] {escape(exc.message)}")
            if exc.hint:
                err.print(f"[dim]hint: {escape(exc.hint)}[/]")
        sys.exit(exc.exit_code)
    if as_json:
        emit_json({"valid": True, "path": str(service.path), "error": None, "field": None, "hint": None})
    else:
        out.print(f"{escape(str(service.path))}: valid")


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")
@handle_errors
def show_cmd(as_json: bool) -> None:
    """The effective settings: the file, the database (password redacted), secrets as references with
    whether the keyring holds them, environments and changed key bindings."""
    from driftmgr_tui.core.settings import load_settings

    service = _service()
    settings = load_settings()
    warning = _warn_plaintext(service)
    secrets = [info.to_json() for info in service.secret_infos()]
    keys = [binding.to_json() for binding in service.keybindings() if binding.custom]
    environments = {name: _env_json(env) for name, env in settings.environments.items()}
    data = {
        "config": str(settings.config_path), "data_dir": str(settings.data_dir),
        "database": {"url": settings.db_url_redacted, "password_secret": settings.db_password_ref},
        "state": {"lock_timeout": settings.lock_timeout, "backup_retention": settings.backup_retention},
        "drift": {"retention_days": settings.drift_retention_days,
                  "severity_rules": len(settings.severity_rules)},
        "remediation": {"four_eyes": settings.four_eyes, "approver": settings.approver},
        "secrets": {"backend": settings.secrets_backend, "fields": secrets},
        "environments": environments, "keys": keys, "warnings": [warning] if warning else [],
    }
    if as_json:
        emit_json(data)
        return
    out.print(f"[b]config[/]   {escape(data['config'])}")
    out.print(f"[b]data dir[/] {escape(data['data_dir'])}")
    out.print(f"[b]database[/] {escape(settings.db_url_redacted)}")
    out.print(f"[b]state[/]    lock_timeout {settings.lock_timeout:g}s, "
              f"backup_retention {settings.backup_retention}")
    out.print(f"[b]drift[/]    retention_days {settings.drift_retention_days}, "
              f"{len(settings.severity_rules)} severity rules")
    out.print(f"[b]remediation[/] four_eyes {'on' if settings.four_eyes else 'off'}"
              + (f", approver {escape(settings.approver)}" if settings.approver else ""))
    out.print(f"[b]secrets[/]  backend {settings.secrets_backend}"
              + (" [bold yellow](PLAINTEXT)[/]" if warning else ""))
    for info in secrets:
        state = ("not set" if not info["ref"] else "in the keyring" if info["stored"]
                 else f"keyring: {info['error']}" if info["error"] else "MISSING from the keyring")
        out.print(f"  {escape(info['field'])}: {escape(info['ref'] or '-')} ({escape(state)})")
    table = Table(box=None, header_style="bold", pad_edge=False, title=None)
    for column in ("ENVIRONMENT", "PROVIDER", "STATES / CHDIR", "SCOPE"):
        table.add_column(column, overflow="fold")
    for name, env in environments.items():
        where = ", ".join(env["states"]) + (f" chdir {env['chdir']}" if env["chdir"] else "") \
            + (f" terragrunt {env['terragrunt']}" if env["terragrunt"] else "")
        scope = ", ".join(env["regions"] + env["subscriptions"] + env["projects"])
        if env["profile"]:
            scope += f" profile {env['profile']}"
        table.add_row(escape(name), env["provider"] or "-", escape(where.strip()),
                      escape(scope.strip() or "-"))
    if environments:
        out.print(table)
    else:
        out.print("no environments: `driftmgr config env add NAME --state ...` adds one")
    for binding in keys:
        out.print(f"  key {escape(binding['id'])} = {escape(binding['custom'])} "
                  f"(default {escape(binding['default'])})")


def _env_json(env: Any) -> dict[str, Any]:
    return {"states": list(env.states), "chdir": env.chdir, "terragrunt": env.terragrunt,
            "workspaces": list(env.workspaces),
            "provider": env.provider, "regions": list(env.regions), "profile": env.profile,
            "role_arn": env.role_arn, "subscriptions": list(env.subscriptions),
            "projects": list(env.projects),
            "ignore_file": env.ignore_file, "engine": env.engine}


@config_group.command("set")
@click.argument("field")
@click.argument("value")
@handle_errors
def set_cmd(field: str, value: str) -> None:
    """Set FIELD (section.key: state.lock_timeout, environments.prod.regions, keys.drift.rescan) to
    VALUE. Lists are comma-separated; the whole file is validated before anything is written."""
    from driftmgr_tui.services.config_service import coerce

    service = _service()
    service.set(field, coerce(field, value))
    out.print(f"{escape(field)} set in {escape(str(service.path))}")
    _warn_plaintext(service)


@config_group.command("unset")
@click.argument("field")
@handle_errors
def unset_cmd(field: str) -> None:
    """Remove FIELD from the file (its default applies again)."""
    service = _service()
    service.set(field, None)
    out.print(f"{escape(field)} removed from {escape(str(service.path))}")


@config_group.command("keys")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")
@handle_errors
def keys_cmd(as_json: bool) -> None:
    """Every action a key can be given ([keys] "SECTION.ACTION" = "key"), with its default and current
    keys."""
    bindings = _service().keybindings()
    if as_json:
        emit_json({"keys": [b.to_json() for b in bindings]})
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ACTION", "KEYS", "DEFAULT", "WHAT"):
        table.add_column(column, overflow="fold")
    for b in bindings:
        table.add_row(escape(b.id), escape(b.keys) if not b.custom else f"[b]{escape(b.keys)}[/]",
                      escape(b.default), escape(b.description))
    out.print(table)


@config_group.group("env")
def env_group() -> None:
    """Environments: add or remove [environments.NAME]."""


@env_group.command("add")
@click.argument("name")
@click.option("--state", "states", multiple=True, metavar="PATH|GLOB|SPEC", help="A state (repeatable).")
@click.option("--chdir", help="A Terraform working dir.")
@click.option("--terragrunt", help="A Terragrunt tree (the state of every unit under it).")
@click.option("--workspace", "workspaces", multiple=True, help="Workspaces of the backends ('*': all).")
@click.option("--provider", type=click.Choice(PROVIDERS), help="The cloud to compare with.")
@click.option("--region", "regions", multiple=True, help="AWS regions; DigitalOcean region filter (repeatable).")
@click.option("--profile", help="AWS profile.")
@click.option("--role-arn", help="AWS role to assume.")
@click.option("--subscription", "subscriptions", multiple=True, help="Azure subscriptions (repeatable).")
@click.option("--project", "projects", multiple=True, help="Google projects (repeatable).")
@click.option("--ignore-file", help="A .driftignore file.")
@click.option("--engine", type=click.Choice(["native", "terraform"]), help="Detection engine.")
@click.option("--replace", is_flag=True, help="Replace an environment of that name.")
@handle_errors
def env_add_cmd(name: str, states, chdir, terragrunt, workspaces, provider, regions, profile, role_arn,
                subscriptions, projects, ignore_file, engine, replace: bool) -> None:
    """Add environment NAME (validated before anything is written)."""
    service = _service()
    values = {"states": list(states), "chdir": chdir, "terragrunt": terragrunt, "workspaces": list(workspaces),
              "provider": provider, "regions": list(regions), "profile": profile, "role_arn": role_arn,
              "subscriptions": list(subscriptions), "projects": list(projects), "ignore_file": ignore_file,
              "engine": engine}
    exists = name in service.environment_names()
    if exists and not replace:
        raise UsageError(f"environment {name!r} exists in {service.path}",
                         hint="pass --replace to replace it")
    service.put_environment(name, values, original=name if exists else None)
    done = "replaced" if exists else "added"
    out.print(f"environment {escape(name)} {done} in {escape(str(service.path))}")


@env_group.command("rm")
@click.argument("name")
@handle_errors
def env_rm_cmd(name: str) -> None:
    """Remove environment NAME from the file."""
    service = _service()
    service.remove_environment(name)
    out.print(f"environment {escape(name)} removed from {escape(str(service.path))}")


@config_group.group("secret")
def secret_group() -> None:
    """Secrets (e.g. database.password_secret): the value goes to the OS keyring, a reference to the file."""


@secret_group.command("set")
@click.argument("field")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the secret from the first line of stdin.")
@handle_errors
def secret_set_cmd(field: str, from_stdin: bool) -> None:
    """Store the secret for FIELD in the OS keyring (asked without echo, or --stdin) and write its
    reference."""
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise UsageError("--stdin: stdin held no secret")
    else:
        value = click.prompt(f"{field}", hide_input=True, confirmation_prompt=True, err=True)
    service = _service()
    ref = service.set_secret(field, value)
    where = "plaintext file" if service.plaintext_warning() else "OS keyring"
    out.print(f"{escape(field)} stored in the {where} as {ref}")
    _warn_plaintext(service)


@secret_group.command("rm")
@click.argument("field")
@handle_errors
def secret_rm_cmd(field: str) -> None:
    """Remove FIELD's reference from the file and its secret from the keyring."""
    service = _service()
    removed = service.delete_secret(field)
    out.print(f"{escape(field)} removed" + ("" if removed else " (the keyring held nothing under it)"))


@config_group.command("test")
@click.argument("environment")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")
@handle_errors
def test_cmd(environment: str, as_json: bool) -> None:
    """Test ENVIRONMENT's provider connection (a job): the account, principal and regions, or the error."""
    result = _service().run_test(environment)
    if as_json:
        emit_json({"test": result.to_json()})
    elif result.ok:
        out.print(f"{escape(environment)}: {result.provider} account {escape(result.account or '')} as "
                  f"{escape(result.principal or '?')}; regions {escape(', '.join(result.regions) or '-')}")
    else:
        err.print(f"[bold red]Error:[/] {escape(environment)}: {escape(result.error or 'failed')}")
    if not result.ok:
        sys.exit(1)
