"""`driftmgr discover ...`: list what really exists in AWS, Azure, Google Cloud or DigitalOcean, as Terraform
types and ids."""

from __future__ import annotations

import sys
import threading
from collections import Counter
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from driftmgr_tui.commands.common import emit_json, err, handle_errors, out
from driftmgr_tui.core.errors import UsageError
from driftmgr_tui.discovery.registry import PROVIDERS

EPILOG = """\b
Credentials come from each SDK's own chain: AWS profiles, SSO, environment and
AWS_ENDPOINT_URL as boto3 reads them; Azure DefaultAzureCredential (az login,
AZURE_CLIENT_ID/...); Google application default credentials; DigitalOcean the
token in the keyring ([digitalocean] token_secret) or DIGITALOCEAN_TOKEN, and
Spaces keys for Spaces buckets.
A run is recorded in the database with the status of every region and service:
'complete' only when all succeeded, 'partial' with the reasons otherwise.
Exit codes: 0 complete, 1 partial or failed, 2 bad input or credentials,
130 cancelled (Ctrl-C cancels cleanly; what finished is kept)."""

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")


def _service():
    from driftmgr_tui.services.discovery_service import DiscoveryService

    return DiscoveryService()


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.strip() for value in values for v in value.split(",") if v.strip())


@click.group("discover", invoke_without_command=True, epilog=EPILOG)
@click.option("--provider", type=click.Choice(PROVIDERS), help="The cloud to discover.")
@click.option("--profile", help="AWS: a named profile from ~/.aws/config (default: AWS_PROFILE or the chain).")
@click.option("--role-arn", help="AWS: assume this role first (e.g. a read-only audit role).")
@click.option("--regions", "regions", multiple=True, metavar="R1,R2|all",
              help="AWS: regions to scan, comma-separated or repeated; 'all' asks the account for every "
                   "enabled region. Default: the configured region. DigitalOcean: only these regions "
                   "(default: all).")
@click.option("--subscription", "subscriptions", multiple=True,
              help="Azure: subscription id (repeatable). Default: AZURE_SUBSCRIPTION_ID or every visible one.")
@click.option("--project", "projects", multiple=True,
              help="GCP: a project id, or folders/ID or organizations/ID (repeatable). Default: the ADC project.")
@click.option("--type", "types", multiple=True, metavar="TF_TYPE",
              help="Only these Terraform types (repeatable or comma-separated), e.g. aws_s3_bucket.")
@json_option
@click.pass_context
@handle_errors
def discover_group(ctx: click.Context, provider, profile, role_arn, regions, subscriptions, projects, types,
                   as_json) -> None:
    """Discover cloud resources and record the run.

    \b
    driftmgr discover --provider aws --regions us-east-1,eu-west-1
    driftmgr discover --provider aws --regions all --profile audit --json
    driftmgr discover --provider azure --subscription 0000-...
    driftmgr discover --provider gcp --project my-project
    driftmgr discover --provider digitalocean --regions nyc1,ams3
    driftmgr discover runs            # recent runs
    driftmgr discover show 12         # one run: tasks, errors, resources
    """
    if ctx.invoked_subcommand is not None:
        return
    if provider is None:
        raise UsageError(f"choose a cloud with --provider {'|'.join(PROVIDERS)}",
                         hint="`driftmgr discover --help` shows every option")
    from driftmgr_tui.discovery.model import Scope

    scope = Scope(provider=provider, regions=_split(regions), profile=profile, role_arn=role_arn,
                  subscriptions=_split(subscriptions), projects=_split(projects), types=_split(types))
    _check_scope(scope)
    service = _service()
    service.recover()
    run = service.start(scope)
    run = _run_foreground(service, run, show_progress=err.is_terminal)
    if as_json:
        emit_json({"run": run.to_json(), "resources": [r.to_json() for r in service.resources(run.id)]})
    else:
        _print_run(service, run)
    sys.exit(_exit_code(run.status))


def _check_scope(scope: Any) -> None:
    if scope.provider != "aws" and (scope.profile or scope.role_arn):
        raise UsageError("--profile and --role-arn apply to --provider aws only")
    if scope.provider != "azure" and scope.subscriptions:
        raise UsageError("--subscription applies to --provider azure only")
    if scope.provider != "gcp" and scope.projects:
        raise UsageError("--project applies to --provider gcp only")
    if scope.provider not in ("aws", "digitalocean") and scope.regions:
        raise UsageError("--regions applies to --provider aws and digitalocean only "
                         "(Azure and Google are listed per scope)")
    if scope.types:
        from driftmgr_tui.discovery.registry import registry

        known = set(registry().terraform_types(scope.provider))
        unknown = [t for t in scope.types if t not in known]
        if unknown:
            raise UsageError(f"{scope.provider} discovery does not know {', '.join(unknown)}",
                             hint="`driftmgr discover types --provider P` lists the supported types")


def _exit_code(status: str) -> int:
    return {"complete": 0, "cancelled": 130}.get(status, 1)


def _run_foreground(service: Any, run: Any, *, show_progress: bool) -> Any:
    """Run the job in a worker thread while this thread shows progress; Ctrl-C cancels it cleanly."""
    from driftmgr_tui.core.errors import DriftmgrError

    failure: list[BaseException] = []

    def work() -> None:
        try:
            service.run_job(run)
        except BaseException as exc:  # reported below, in the main thread
            failure.append(exc)

    progress = _Progress(service, run.job_id) if show_progress else None
    thread = threading.Thread(target=work, name="discovery", daemon=True)
    try:
        if progress is not None:
            progress.start()
        thread.start()
        while thread.is_alive():
            thread.join(0.1)
    except KeyboardInterrupt:
        err.print("[yellow]cancelling...[/] (what finished is kept)")
        service.cancel(run.id)
        thread.join()
    finally:
        if progress is not None:
            progress.stop()
    if failure and isinstance(failure[0], DriftmgrError):
        raise failure[0]
    return service.get_run(run.id)


class _Progress:
    """A rich progress display fed by the job's in-process events: one bar overall, one per region."""

    def __init__(self, service: Any, job_id: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.job_id = job_id
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(), console=err, transient=False,
        )
        self.overall = self.progress.add_task("connecting", total=None, info="")
        self.regions: dict[str, Any] = {}
        self.found: Counter[str] = Counter()
        self.unsubscribe = service.bus.subscribe(self._on_event, prefix="discovery.")

    def start(self) -> None:
        self.progress.start()

    def stop(self) -> None:
        self.unsubscribe()
        self.progress.stop()

    def _on_event(self, event: Any) -> None:
        if event.job_id != self.job_id:
            return
        data = event.payload
        if event.type == "discovery.run.started":
            self.progress.update(self.overall, description=f"{data['provider']} {data['account']}",
                                 total=data["tasks"], info="")
            for region, count in sorted((data.get("by_region") or {}).items()):
                self.regions[region] = self.progress.add_task(f"  {region}", total=count, info="")
        elif event.type.startswith("discovery.task."):
            region = data.get("region", "")
            self.found[region] += data.get("resources", 0)
            failed = " [red]failed[/]" if data.get("status") == "failed" else ""
            self.progress.update(self.overall, completed=data["done"],
                                 info=f"{sum(self.found.values())} resources")
            if region in self.regions:
                self.progress.advance(self.regions[region])
                self.progress.update(self.regions[region], info=f"{self.found[region]} resources{failed}")


def _print_run(service: Any, run: Any) -> None:
    colour = {"complete": "green", "partial": "yellow", "cancelled": "yellow"}.get(run.status, "red")
    where = f"{run.provider} {run.account or ''}".strip()
    regions = f", {len(run.regions)} region(s)" if run.regions else ""
    duration = f", {run.duration:.1f}s" if run.duration is not None else ""
    out.print(f"Discovery run {run.id}: [{colour}]{run.status}[/] ({escape(where)}{regions}, "
              f"{run.task_count} tasks{duration})")
    counts = service.type_counts(run.id)
    defaults = len(service.resources(run.id)) - len(service.resources(run.id, include_defaults=False))
    if counts:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("TERRAFORM TYPE")
        table.add_column("COUNT", justify="right")
        for tf_type, count in counts.items():
            table.add_row(tf_type, str(count))
        out.print(table)
    out.print(f"{run.resource_count} resources" + (f", of which {defaults} made by the cloud itself "
                                                   "(default VPCs, service-linked roles, ...)" if defaults else ""))
    if run.retries:
        out.print(f"[dim]{run.retries} requests retried after throttling or server errors[/]")
    for task in run.errors:
        err.print(f"[red]failed[/] {escape(task.key)}: {escape(task.error or '')}")
    if run.error and not run.errors:
        err.print(f"[red]error:[/] {escape(run.error)}")
    if run.unsupported:
        listed = ", ".join(f"{k} ({v})" if v else k for k, v in list(run.unsupported.items())[:8])
        out.print(f"[dim]tagged resources of types not covered yet: {escape(listed)}[/]")


@discover_group.command("runs")
@click.option("--provider", type=click.Choice(PROVIDERS), help="Only runs of this cloud.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@json_option
@handle_errors
def runs_cmd(provider, limit, as_json) -> None:
    """Recent discovery runs, newest first."""
    service = _service()
    service.reconcile()
    runs = service.list_runs(provider=provider, limit=limit)
    if as_json:
        emit_json({"runs": [r.to_json(with_tasks=False) for r in runs]})
        return
    if not runs:
        out.print("no discovery runs yet: `driftmgr discover --provider aws` starts one")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in ("RUN", "STATUS", "CLOUD", "ACCOUNT", "REGIONS", "FOUND", "FAILED", "STARTED", "TOOK"):
        table.add_column(name, justify="right" if name in ("RUN", "FOUND", "FAILED", "TOOK") else "left",
                         no_wrap=name != "REGIONS")
    for r in runs:
        regions = ",".join(r.regions) if len(r.regions) <= 2 else f"{len(r.regions)} regions"
        table.add_row(
            str(r.id), r.status, r.provider, r.account or "-", regions or "-", str(r.resource_count),
            str(r.failed_tasks), r.created_at.astimezone().strftime("%m-%d %H:%M") if r.created_at else "-",
            f"{r.duration:.1f}s" if r.duration is not None else "-",
        )
    out.print(table)


@discover_group.command("show")
@click.argument("run_id", type=int)
@click.option("--type", "types", multiple=True, metavar="TF_TYPE",
              help="Only resources of these Terraform types (repeatable or comma-separated).")
@click.option("--no-defaults", is_flag=True, help="Leave out objects the cloud made itself.")
@click.option("--attributes", is_flag=True, help="JSON: include each resource's attributes (secrets redacted).")
@json_option
@handle_errors
def show_cmd(run_id, types, no_defaults, attributes, as_json) -> None:
    """One run: its scope, every task's status, errors, and the resources it found."""
    service = _service()
    service.reconcile(run_ids=[run_id])
    run = service.get_run(run_id)
    resources = service.resources(run_id, terraform_types=_split(types), include_defaults=not no_defaults,
                                  with_attributes=attributes)
    if as_json:
        emit_json({"run": run.to_json(), "resources": [r.to_json() for r in resources]})
        return
    _print_run(service, run)
    if run.error and run.errors:
        err.print(f"[dim]{escape(run.error)}[/]")
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in ("TERRAFORM TYPE", "ID", "NAME", "REGION", "NOTE"):
        table.add_column(name, overflow="fold")
    for r in resources:
        table.add_row(r.terraform_type, escape(r.terraform_id), escape(r.name or ""), r.region,
                      f"[dim]{escape(r.cloud_default)}[/]" if r.cloud_default else "")
    out.print(table)


@discover_group.command("cancel")
@click.argument("run_id", type=int)
@json_option
@handle_errors
def cancel_cmd(run_id, as_json) -> None:
    """Cancel a queued or running run (the worker stops within about a second)."""
    run = _service().cancel(run_id)
    if as_json:
        emit_json({"run": run.to_json(with_tasks=False)})
    else:
        out.print(f"discovery run {run.id}: {run.status}")


@discover_group.command("types")
@click.option("--provider", type=click.Choice(PROVIDERS), help="Only this cloud.")
@json_option
@handle_errors
def types_cmd(provider, as_json) -> None:
    """The resource types discovery knows: cloud type, Terraform type, and the id Terraform stores."""
    from driftmgr_tui.discovery.registry import registry

    mappings = [m for m in registry().mappings if provider in (None, m.provider)]
    if as_json:
        emit_json({"types": [{"provider": m.provider, "cloud_type": m.cloud_type,
                              "terraform_type": m.terraform_type, "equivalents": list(m.equivalents),
                              "id": m.id if isinstance(m.id, str) else (m.note or "computed")}
                             for m in mappings]})
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in ("PROVIDER", "TERRAFORM TYPE", "CLOUD TYPE", "ID"):
        table.add_column(name, overflow="fold")
    for m in mappings:
        table.add_row(m.provider, m.terraform_type, m.cloud_type,
                      escape(m.id if isinstance(m.id, str) else (m.note or "computed")))
    out.print(table)
    counts = Counter(m.provider for m in mappings)
    out.print(", ".join(f"{p}: {n} types" for p, n in sorted(counts.items())))
