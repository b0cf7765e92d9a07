"""`driftmgr drift ...` and `driftmgr scan`: what no longer matches Terraform, since when, and how bad."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.markup import escape
from rich.table import Table

from driftmgr_tui.commands.common import emit_json, err, handle_errors, out
from driftmgr_tui.commands.discover import _check_scope, _run_foreground, _split
from driftmgr_tui.commands.drift_output import (
    SEVERITY_STYLE,
    emit_report,
    format_option,
    output_option,
    print_diffs,
    print_report,
    write_file,
)
from driftmgr_tui.core.errors import DriftmgrError, UsageError
from driftmgr_tui.discovery.registry import PROVIDERS

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES = """\b
Exit codes (as driftctl, for cron and CI): 0 in sync, 1 drift found,
2 error (bad input, credentials), or nothing found while part of the
estate could not be evaluated (a region failed)."""


def _service():
    from driftmgr_tui.services.drift_service import DriftService

    return DriftService()


def environment_options(func: F) -> F:
    options = [
        click.option("--env", "env_name", metavar="NAME",
                     help="A configured environment ([environments.NAME] in the config file); its history is "
                          "kept under this name. Default: 'default'."),
        click.option("--state", "states", multiple=True, metavar="PATH|GLOB|SPEC",
                     help="A state of the environment (repeatable): a file, a glob such as "
                          "'envs/*/terraform.tfstate', or a backend spec s3://BUCKET/KEY?region=R."),
        click.option("--backend", "backends", multiple=True, metavar="SPEC",
                     help="A remote state (repeatable), e.g. s3://bucket/app.tfstate?region=eu-west-1."),
        click.option("--chdir", type=click.Path(path_type=Path, file_okay=False),
                     help="A Terraform working dir: its state, its configuration (config drift) and, with "
                          "--engine terraform, where terraform runs."),
        click.option("--terragrunt", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
                     help="A Terragrunt tree: the state of every unit under DIR (remote_state and includes "
                          "resolved as Terragrunt does; `driftmgr state units DIR` lists them)."),
        click.option("--workspace", "-w", "workspaces", multiple=True,
                     help="Workspace(s) of --backend/--chdir (repeatable); '*' means all of them."),
        click.option("--ignore-file", type=click.Path(path_type=Path, dir_okay=False),
                     help="A .driftignore file (default: .driftignore in --chdir or the current dir)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _spec(service: Any, env_name, states, backends, chdir, workspaces, **more: Any) -> Any:
    return service.environment(env_name, states=tuple(states), backends=tuple(backends), chdir=chdir,
                               workspaces=tuple(workspaces), **more)


def _step(show: bool) -> Callable[[str], None] | None:
    if not show:
        return None
    return lambda message: err.print(f"[dim]… {escape(message)}[/]")


def _finish(outcome: Any, fmt: str | None, output: Path | None, as_json: bool) -> None:
    emit_report(outcome.report, fmt or ("json" if as_json else "console"), output)
    sys.exit(outcome.exit_code)


@click.group("drift")
def drift_group() -> None:
    """Detect drift between Terraform state and the cloud, and query its history.

    \b
    driftmgr drift detect --state terraform.tfstate          # against the latest discovery
    driftmgr drift detect --engine terraform --chdir infra/  # Terraform's refresh-only plan
    driftmgr drift list                                      # reports, newest first
    driftmgr drift show latest --kind changed                # one report's items
    driftmgr drift summary                                   # counts, coverage, trend
    driftmgr drift history --open                            # items and since when
    driftmgr drift gen-ignore > .driftignore                 # ignore what a report found
    """


@drift_group.command("detect", epilog=EXIT_CODES)
@environment_options
@click.option("--engine", type=click.Choice(["native", "terraform"]), default=None,
              help="native: compare the states with discovered resources (default); terraform: run "
                   "`terraform plan -refresh-only` in --chdir and normalise its resource_drift.")
@click.option("--plan-json", type=click.Path(path_type=Path, dir_okay=False),
              help="Ingest `terraform show -json PLAN` output of a refresh-only plan instead of running terraform.")
@click.option("--run", "run_ids", multiple=True, type=int,
              help="Compare with these discovery runs (repeatable). Default: the latest finished run per cloud.")
@click.option("--no-config-drift", is_flag=True, help="Skip comparing the working dir's .tf files with its state.")
@format_option
@output_option
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@handle_errors
def detect_cmd(env_name, states, backends, chdir, terragrunt, workspaces, ignore_file, engine, plan_json, run_ids,
               no_config_drift, fmt, output, as_json) -> None:
    """Compare the environment's states with the cloud and save a drift report."""
    from driftmgr_tui.services.drift_service import DetectOptions

    service = _service()
    spec = _spec(service, env_name, states, backends, chdir, workspaces, engine=engine, terragrunt=terragrunt)
    outcome = service.detect(spec, DetectOptions(
        run_ids=tuple(run_ids), plan_json=plan_json, ignore_file=ignore_file, config_drift=not no_config_drift,
        on_step=_step(err.is_terminal and not as_json and fmt in (None, "console"))))
    _finish(outcome, fmt, output, as_json)


def scan_options(func: F) -> F:
    """--provider and the cloud scope: what `scan` (and `remediate plan`) discover first."""
    options = [
        click.option("--provider", type=click.Choice(PROVIDERS),
                     help="The cloud to discover (default: the environment's, else the states' provider)."),
        click.option("--profile", help="AWS: a named profile."),
        click.option("--role-arn", help="AWS: assume this role first."),
        click.option("--regions", multiple=True, metavar="R1,R2|all",
                     help="AWS: regions to scan. DigitalOcean: only these regions."),
        click.option("--subscription", "subscriptions", multiple=True,
                     help="Azure: subscription id (repeatable)."),
        click.option("--project", "projects", multiple=True, help="GCP: project, folders/ID or organizations/ID."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def scan_spec(service: Any, env_name, states, backends, chdir, workspaces, provider, profile, role_arn, regions,
              subscriptions, projects, terragrunt: Path | None = None) -> Any:
    return _spec(service, env_name, states, backends, chdir, workspaces, provider=provider, profile=profile,
                 role_arn=role_arn, regions=_split(regions), subscriptions=_split(subscriptions),
                 projects=_split(projects), terragrunt=terragrunt)


class ScanNotFinished(DriftmgrError):
    """The discovery run of a scan did not finish (failed or cancelled): nothing to compare. ``run`` is the
    run's view, so a caller (``driftmgr watch``) knows which run it was."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.exit_code = 130 if run.status == "cancelled" else 2
        reason = f": {run.error}" if run.error else ""
        super().__init__(f"discovery run {run.id} {run.status}{reason}")


def run_scan(service: Any, spec: Any, *, ignore_file: Path | None, config_drift: bool, show_progress: bool) -> Any:
    """Discover the environment's cloud, then detect drift against its states; the DetectOutcome. A discovery
    run that did not finish raises :class:`ScanNotFinished` (exit 2, 130 when cancelled)."""
    from driftmgr_tui.services.discovery_service import DiscoveryService
    from driftmgr_tui.services.drift_service import DetectOptions

    scope, loaded = service.scan_scope(spec)
    _check_scope(scope)
    discovery = DiscoveryService(settings=service.settings, engine=service.engine)
    discovery.recover()
    run = _run_foreground(discovery, discovery.start(scope), show_progress=show_progress)
    if run.status not in ("complete", "partial"):
        raise ScanNotFinished(run)
    return service.detect(spec, DetectOptions(run_ids=(run.id,), ignore_file=ignore_file,
                                              config_drift=config_drift, loaded=loaded))


@click.command("scan", epilog=EXIT_CODES)
@environment_options
@scan_options
@click.option("--no-config-drift", is_flag=True, help="Skip comparing the working dir's .tf files with its state.")
@format_option
@output_option
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@handle_errors
def scan_cmd(env_name, states, backends, chdir, terragrunt, workspaces, ignore_file, provider, profile, role_arn,
             regions, subscriptions, projects, no_config_drift, fmt, output, as_json) -> None:
    """Discover the cloud, then detect drift against the environment's states (one command for cron/CI).

    \b
    driftmgr scan --state terraform.tfstate --provider aws --regions us-east-1,eu-west-1
    driftmgr scan --state 'envs/*/terraform.tfstate' --provider aws --format json
    driftmgr scan --env prod --format html --output drift.html
    """
    service = _service()
    spec = scan_spec(service, env_name, states, backends, chdir, workspaces, provider, profile, role_arn, regions,
                     subscriptions, projects, terragrunt)
    outcome = run_scan(service, spec, ignore_file=ignore_file, config_drift=not no_config_drift,
                       show_progress=err.is_terminal and not as_json and fmt in (None, "console"))
    _finish(outcome, fmt, output, as_json)


@drift_group.command("list")
@click.option("--env", "env_name", help="Only this environment.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")
@handle_errors
def list_cmd(env_name, limit, as_json) -> None:
    """Drift reports, newest first."""
    reports = _service().list_reports(environment=env_name, limit=limit)
    if as_json:
        emit_json({"reports": reports})
        return
    if not reports:
        out.print("no drift reports yet: `driftmgr scan` or `driftmgr drift detect` makes one")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in ("REPORT", "ENV", "ENGINE", "WHEN", "CHANGED", "MISSING", "UNMANAGED", "COVERAGE", "STATUS"):
        table.add_column(name, justify="right" if name in ("REPORT", "CHANGED", "MISSING", "UNMANAGED",
                                                           "COVERAGE") else "left")
    for r in reports:
        s = r["summary"]
        table.add_row(str(r["id"]), escape(r["environment"]), r["engine"], r["created_at"][:16].replace("T", " "),
                      str(s["total_changed"]), str(s["total_missing"]), str(s["total_unmanaged"]),
                      f"{s['coverage']:.1f}%", r["status"])
    out.print(table)


@drift_group.command("show")
@click.argument("report_id", default="latest")
@click.option("--env", "env_name", help="With 'latest': the latest report of this environment.")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(["changed", "missing", "unmanaged"]))
@click.option("--severity", "severities", multiple=True,
              type=click.Choice(["critical", "high", "medium", "low", "info"]))
@click.option("--type", "types", multiple=True, metavar="TF_TYPE", help="Only these Terraform types.")
@click.option("--limit", type=click.IntRange(0, None), default=50, show_default=True,
              help="Console: items to list (0: all).")
@click.option("--diffs", is_flag=True, help="Console: print each changed item's field diffs.")
@format_option
@output_option
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@handle_errors
def show_cmd(report_id, env_name, kinds, severities, types, limit, diffs, fmt, output, as_json) -> None:
    """One report (default: the latest) with its items; filter by kind, severity, type."""
    report = _service().report(report_id, environment=env_name, kinds=kinds, severities=severities,
                               types=_split(types))
    fmt = fmt or ("json" if as_json else "console")
    if fmt != "console":
        emit_report(report, fmt, output)
        return
    print_report(report, limit=limit or len(report["items"]) or 1)
    if diffs:
        for item in report["items"]:
            if item["kind"] == "changed":
                out.print(f"\n[bold]{escape(item.get('address') or item['terraform_id'])}[/] "
                          f"({item['terraform_type']} {escape(item['terraform_id'])})")
                print_diffs(item)


@drift_group.command("summary")
@click.option("--env", "env_name", help="The environment (default: the latest report's).")
@click.option("--trend", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="How many recent reports the trend covers.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")
@handle_errors
def summary_cmd(env_name, trend, as_json) -> None:
    """The latest counts and coverage, how they moved, and how old the open items are."""
    data = _service().summary(environment=env_name, trend=trend)
    if as_json:
        emit_json(data)
        return
    s = data["summary"]
    out.print(f"[bold]{escape(data['environment'])}[/] · report {data['report_id']} · "
              f"{data['created_at'][:16].replace('T', ' ')} · {data['status']}")
    out.print(f"  changed {s['total_changed']} · missing {s['total_missing']} · unmanaged {s['total_unmanaged']} · "
              f"managed {s['total_managed']} · coverage {s['coverage']:.1f}%")
    sev = " ".join(f"[{SEVERITY_STYLE[k]}]{k} {v}[/]" for k, v in s["by_severity"].items() if v)
    if sev:
        out.print(f"  {sev}")
    since = f", oldest open since {data['oldest_open_since'][:16].replace('T', ' ')}" \
        if data["oldest_open_since"] else ""
    out.print(f"  {data['open_items']} open item(s){since}; {data['resolved_items']} resolved")
    if len(data["trend"]) > 1:
        table = Table(box=None, header_style="bold", pad_edge=False, title_justify="left")
        for name in ("REPORT", "WHEN", "CHANGED", "MISSING", "UNMANAGED", "COVERAGE"):
            table.add_column(name, justify="left" if name == "WHEN" else "right")
        for t in data["trend"]:
            table.add_row(str(t["id"]), t["created_at"][:16].replace("T", " "), str(t["total_changed"]),
                          str(t["total_missing"]), str(t["total_unmanaged"]), f"{t['coverage']:.1f}%")
        out.print(table)


@drift_group.command("history")
@click.option("--env", "env_name", help="Only this environment.")
@click.option("--item", "fingerprint", metavar="FINGERPRINT", help="One item's timeline, report by report.")
@click.option("--address", help="Items of this address or id.")
@click.option("--open", "status", flag_value="open", help="Only items still drifted.")
@click.option("--resolved", "status", flag_value="resolved", help="Only resolved items.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")
@handle_errors
def history_cmd(env_name, fingerprint, address, status, limit, as_json) -> None:
    """When each drift was first seen, last seen and resolved."""
    service = _service()
    if fingerprint:
        timeline = service.item_timeline(fingerprint, environment=env_name)
        entries = service.history(environment=env_name, fingerprint=fingerprint)
        if as_json:
            emit_json({"item": entries[0] if entries else None, "timeline": timeline})
            return
        if not entries:
            raise UsageError(f"no drift item with fingerprint {fingerprint}")
        e = entries[0]
        out.print(f"[bold]{e['kind']} {e['terraform_type']} {escape(e['terraform_id'])}[/] "
                  f"({escape(e['address'] or '-')}) first seen {e['first_seen'][:16]}, last seen "
                  f"{e['last_seen'][:16]}, " + (f"resolved {e['resolved_at'][:16]}" if e["resolved_at"] else "open"))
        for t in timeline:
            paths = ", ".join(d["path"] for d in t["diffs"])
            out.print(f"  report {t['report_id']} {t['report_at'][:16]} {t['severity']} {escape(paths)}")
        return
    rows = service.history(environment=env_name, address=address, status=status or "all", limit=limit)
    if as_json:
        emit_json({"history": rows})
        return
    if not rows:
        out.print("no drift history yet")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in ("ITEM", "KIND", "TYPE", "ID", "SEVERITY", "FIRST SEEN", "LAST SEEN", "RESOLVED", "SEEN"):
        table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(r["fingerprint"][:10], r["kind"], r["terraform_type"], escape(r["terraform_id"]),
                      r["severity"], r["first_seen"][:16].replace("T", " "), r["last_seen"][:16].replace("T", " "),
                      (r["resolved_at"] or "")[:16].replace("T", " ") or "[yellow]open[/]", str(r["occurrences"]))
    out.print(table)


@drift_group.command("gen-ignore")
@click.argument("report_id", default="latest")
@click.option("--env", "env_name", help="With 'latest': the latest report of this environment.")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(["changed", "missing", "unmanaged"]),
              help="Only items of these kinds (default: all).")
@click.option("--fields", is_flag=True, help="Ignore changed items field by field (type.id.path) "
                                             "instead of whole resources.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write to this file (e.g. .driftignore) instead of stdout.")
@handle_errors
def gen_ignore_cmd(report_id, env_name, kinds, fields, output) -> None:
    """Print .driftignore rules that ignore a report's items (review before committing them)."""
    text = _service().gen_ignore(report_id, environment=env_name, kinds=kinds, fields=fields)
    if output is None:
        sys.stdout.write(text)
        return
    if output.exists():
        existing = output.read_text(encoding="utf-8")
        text = existing + ("" if existing.endswith("\n") or not existing else "\n") + text
    write_file(output, text)
    err.print(f"rules written to {escape(str(output))}")


@drift_group.group("ignore")
def ignore_group() -> None:
    """Ignore rules kept in the database (same syntax as .driftignore lines)."""


@ignore_group.command("add")
@click.argument("rule")
@click.option("--env", "env_name", help="Only for this environment (default: every environment).")
@click.option("--reason", help="Why (shown in `ignore list`).")
@handle_errors
def ignore_add_cmd(rule, env_name, reason) -> None:
    """Add a rule, e.g. 'aws_s3_bucket.logs-*' or 'aws_instance.i-0abc.tags.LastPatched'."""
    row = _service().add_ignore_rule(rule, environment=env_name, reason=reason)
    out.print(f"ignore rule {row.id} added: {escape(row.rule)}")


@ignore_group.command("list")
@click.option("--env", "env_name", help="Rules that apply to this environment.")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def ignore_list_cmd(env_name, as_json) -> None:
    rows = _service().list_ignore_rules(env_name)
    if as_json:
        emit_json({"rules": [{"id": r.id, "rule": r.rule, "environment": r.environment, "reason": r.reason,
                              "created_at": r.created_at, "created_by": r.created_by} for r in rows]})
        return
    if not rows:
        out.print("no ignore rules in the database (.driftignore files apply too)")
        return
    for r in rows:
        scope = r.environment or "all"
        out.print(f"{r.id:>4}  {escape(r.rule)}  [dim]{scope}{' · ' + escape(r.reason) if r.reason else ''}[/]")


@ignore_group.command("rm")
@click.argument("rule_id", type=int)
@handle_errors
def ignore_rm_cmd(rule_id) -> None:
    _service().remove_ignore_rule(rule_id)
    out.print(f"ignore rule {rule_id} removed")


@drift_group.command("prune")
@click.option("--older-than", "days", type=click.IntRange(1, None),
              help="Days to keep (default: [drift] retention_days, 90).")
@handle_errors
def prune_cmd(days) -> None:
    """Delete old reports and discovery runs (the latest of each is always kept)."""
    counts = _service().prune(older_than_days=days)
    out.print(", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()) + " deleted")


@drift_group.command("normalizers")
@click.option("--json", "as_json", is_flag=True)
def normalizers_cmd(as_json) -> None:
    """The rules that keep equal values written differently from showing as drift."""
    from driftmgr_tui.drift.normalize import describe_normalizers

    rules = describe_normalizers()
    if as_json:
        emit_json({"normalizers": rules})
        return
    for rule in rules:
        out.print(f"[bold]{rule['name']}[/] [dim]({rule['level']})[/]\n  {escape(rule['reason'])}")
