"""`driftmgr remediate ...`: plans, decisions, apply, rollback, history."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from driftmgr_tui.commands.common import emit_json, err, handle_errors, out
from driftmgr_tui.commands.drift import _service as _drift_service
from driftmgr_tui.commands.drift import environment_options, run_scan, scan_options, scan_spec

STATUS_STYLE = {"pending": "yellow", "approved": "green", "skipped": "dim", "rejected": "bold red", "running": "cyan",
                "succeeded": "bold green", "failed": "bold red", "rolled_back": "magenta"}
RISK_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "green"}


def _service(drift: Any = None) -> Any:
    from driftmgr_tui.services.remediation_service import RemediationService

    if drift is not None:
        return RemediationService(settings=drift.settings, engine=drift.engine, state_service=drift.state_service)
    return RemediationService()


def _seqs(values: tuple[int, ...], every: bool) -> list[int] | None:
    if every and values:
        raise click.UsageError("give action numbers or --all, not both")
    if not every and not values:
        raise click.UsageError("name the actions (numbers from `remediate show`) or give --all")
    return None if every else list(values)


@click.group("remediate")
def remediate_group() -> None:
    """Fix drift through a reviewed plan: preview every action, decide each, then apply.

    \b
    driftmgr remediate plan --state terraform.tfstate --provider aws --strategy missing=forget
    driftmgr remediate show 3                 # every action with its preview
    driftmgr remediate approve 3 1 2          # or --all; a delete needs --confirm ID
    driftmgr remediate skip 3 4
    driftmgr remediate apply 3                # dry run: what would run, in order
    driftmgr remediate apply 3 --execute      # run it
    driftmgr remediate rollback 3             # undo what ran

    \b
    Strategies (KIND=STRATEGY, the first is the default):
      missing:   forget (state rm, backed up) | recreate (terraform apply -target)
      unmanaged: ignore (.driftignore) | codify (import block + HCL) | delete (cloud API, dangerous)
      changed:   accept (cloud -> state) | revert (terraform apply -target) | ignore (field rules)
    """


@remediate_group.command("plan")
@click.option("--report", "report_id", metavar="ID|latest",
              help="Plan from this saved drift report. Default: scan first (discover + detect) when states are "
                   "given, else the latest report.")
@click.option("--strategy", "strategies", multiple=True, metavar="KIND=STRATEGY",
              help="How to fix each kind (repeatable), e.g. missing=forget, unmanaged=codify, changed=revert.")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(["changed", "missing", "unmanaged"]),
              help="Only items of these kinds (repeatable).")
@click.option("--type", "types", multiple=True, metavar="TYPE", help="Only items of these Terraform types.")
@environment_options
@scan_options
@click.option("--no-generate-config", is_flag=True,
              help="codify: build the HCL from the discovered attributes even where terraform could generate it.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@handle_errors
def plan_cmd(report_id, strategies, kinds, types, env_name, states, backends, chdir, terragrunt, workspaces,
             ignore_file, provider, profile, role_arn, regions, subscriptions, projects, no_generate_config,
             as_json) -> None:
    """Make a remediation plan (a draft: nothing runs until it is approved and applied)."""
    from driftmgr_tui.remediation.strategies import parse_strategy_options

    chosen = parse_strategy_options(strategies)
    drift = _drift_service()
    given = bool(states or backends or chdir or terragrunt or env_name)
    spec = scan_spec(drift, env_name, states, backends, chdir, workspaces, provider, profile, role_arn, regions,
                     subscriptions, projects, terragrunt) if given else None
    show = err.is_terminal and not as_json
    if report_id is None and spec is not None:
        outcome = run_scan(drift, spec, ignore_file=ignore_file, config_drift=False, show_progress=show)
        report = outcome.report
        if show:
            s = report["summary"]
            err.print(f"drift report {report['id']}: {s['total_changed']} changed, {s['total_missing']} missing, "
                      f"{s['total_unmanaged']} unmanaged")
    else:
        report = drift.report(report_id or "latest", environment=spec.name if spec and env_name else None)
    service = _service(drift)
    plan = service.create_plan(spec, report, strategies=chosen, kinds=kinds, types=types,
                               ignore_file=ignore_file, generate_config=not no_generate_config,
                               on_step=(lambda msg: err.print(f"[dim]… {escape(msg)}[/]")) if show else None)
    if as_json:
        emit_json(plan)
        return
    _print_plan(plan, brief=True)
    out.print(f"\nnext: [bold]driftmgr remediate show {plan['id']}[/] to review, then approve/skip each action")


@remediate_group.command("show")
@click.argument("plan_id", default="latest")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def show_cmd(plan_id, as_json) -> None:
    """A plan with every action's preview."""
    service = _service()
    service.recover()
    plan = service.get_plan(plan_id)
    if as_json:
        emit_json(plan)
        return
    _print_plan(plan, brief=False)


@remediate_group.command("list")
@click.option("--env", "env_name", help="Only this environment.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def list_cmd(env_name, limit, as_json) -> None:
    """Remediation plans, newest first."""
    service = _service()
    service.recover()
    plans = service.list_plans(environment=env_name, limit=limit)
    if as_json:
        emit_json({"plans": plans})
        return
    if not plans:
        out.print("no remediation plans yet: `driftmgr remediate plan` makes one")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in ("PLAN", "ENV", "REPORT", "STATUS", "RISK", "ACTIONS", "CREATED", "BY"):
        table.add_column(name)
    for p in plans:
        counts = ", ".join(f"{n} {k}" for k, n in sorted(p["counts"].items()))
        table.add_row(str(p["id"]), escape(p["environment"]), str(p["report_id"] or ""), p["status"],
                      f"[{RISK_STYLE.get(p['risk'], '')}]{p['risk']}[/]", counts,
                      p["created_at"].strftime("%Y-%m-%d %H:%M"), escape(p["created_by"]))
    out.print(table)


def _decide(plan_id: str, actions: tuple[int, ...], every: bool, decision: str, confirm: str | None,
            as_json: bool) -> None:
    plan = _service().decide(plan_id, _seqs(actions, every), decision, confirm=confirm)
    if as_json:
        emit_json(plan)
        return
    for note in plan.get("notes", []):
        err.print(f"[yellow]{escape(note)}[/]")
    _print_plan(plan, brief=True)
    service = _service()
    reason = service.readiness(plan)
    out.print("\n" + (escape(reason) if reason else
                                          f"ready: [bold]driftmgr remediate apply {plan['id']}[/]"))


@remediate_group.command("approve")
@click.argument("plan_id")
@click.argument("actions", nargs=-1, type=int)
@click.option("--all", "every", is_flag=True, help="Every undecided action that is available (a dangerous one "
                                                   "still needs approving on its own with --confirm).")
@click.option("--confirm", metavar="ID", help="A dangerous action's resource id, typed back.")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def approve_cmd(plan_id, actions, every, confirm, as_json) -> None:
    """Approve actions of a draft plan."""
    _decide(plan_id, actions, every, "approved", confirm, as_json)


@remediate_group.command("skip")
@click.argument("plan_id")
@click.argument("actions", nargs=-1, type=int)
@click.option("--all", "every", is_flag=True, help="Every undecided action.")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def skip_cmd(plan_id, actions, every, as_json) -> None:
    """Skip actions of a draft plan (they will not run)."""
    _decide(plan_id, actions, every, "skipped", None, as_json)


@remediate_group.command("reject")
@click.argument("plan_id")
@click.argument("actions", nargs=-1, type=int)
@click.option("--all", "every", is_flag=True, help="Every undecided action.")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def reject_cmd(plan_id, actions, every, as_json) -> None:
    """Reject actions of a draft plan: the plan cannot be applied until they are reset (or a new plan made)."""
    _decide(plan_id, actions, every, "rejected", None, as_json)


@remediate_group.command("reset")
@click.argument("plan_id")
@click.argument("actions", nargs=-1, type=int)
@click.option("--all", "every", is_flag=True, help="Every decided action.")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def reset_cmd(plan_id, actions, every, as_json) -> None:
    """Take decisions back (pending again)."""
    _decide(plan_id, actions, every, "pending", None, as_json)


@remediate_group.command("apply")
@click.argument("plan_id")
@click.option("--execute", is_flag=True, help="Really run the approved actions (without it: a dry run that "
                                              "shows what would run, in order).")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def apply_cmd(plan_id, execute, as_json) -> None:
    """Apply a plan whose every action is decided. Dry run unless --execute.

    \b
    Exit codes: 0 applied (or dry run of a ready plan), 1 an action failed or
    the run was cancelled, 2 the plan cannot be applied (undecided actions,
    nothing approved, not a draft): nothing was changed.
    """
    from driftmgr_tui.core.errors import UsageError

    service = _service()
    service.recover()
    plan = service.get_plan(plan_id)
    reason = service.readiness(plan)
    if not execute:
        if reason:
            raise UsageError(reason)
        approved = [a for a in plan["actions"] if a["status"] == "approved"]
        if as_json:
            emit_json({"dry_run": True, "plan": plan, "would_run": [a["id"] for a in approved]})
            return
        out.print(f"[bold]dry run[/] of plan {plan['id']}: {len(approved)} action(s) would run, in this order")
        for a in approved:
            _print_action(a, brief=False)
        out.print(f"\nnothing was changed. To run it: [bold]driftmgr remediate apply {plan['id']} --execute[/]")
        return

    def line(seq: int, text: str) -> None:
        if not as_json:
            out.print(f"[dim]{seq:>3}[/] {escape(text)}")

    try:
        result = service.apply(plan["id"], on_line=line)
    except KeyboardInterrupt:
        err.print("[yellow]cancelling: the running action finishes or stops cleanly, the rest do not run[/]")
        service.cancel(plan["id"])
        result = service.get_plan(plan["id"])
    if as_json:
        emit_json(result)
    else:
        style = "green" if result["status"] == "applied" else "red"
        out.print(f"\nplan {result['id']}: [{style}]{result['status']}[/]")
        if result["status"] != "applied":
            out.print(f"to undo what ran: driftmgr remediate rollback {result['id']}")
    sys.exit(0 if result["status"] == "applied" else 1)


@remediate_group.command("rollback")
@click.argument("plan_id")
@click.argument("actions", nargs=-1, type=int)
@click.option("--force", is_flag=True, help="Restore even when the state or file changed after the action.")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def rollback_cmd(plan_id, actions, force, as_json) -> None:
    """Undo what a plan ran (newest first): state restored from the backup taken before each action, written
    files removed, .driftignore lines taken out. A cloud delete cannot be undone."""
    def line(seq: int, text: str) -> None:
        if not as_json:
            out.print(f"[dim]{seq:>3}[/] {escape(text)}")

    result = _service().rollback(plan_id, list(actions) or None, force=force, on_line=line)
    if as_json:
        emit_json(result)
    else:
        out.print(f"plan {result['id']}: {result['status']}")
    sys.exit(1 if any(r["result"] == "failed" for r in result["rollback"]) else 0)


@remediate_group.command("cancel")
@click.argument("plan_id")
@handle_errors
def cancel_cmd(plan_id) -> None:
    """Stop a plan being applied (in another process) after its current action."""
    _service().cancel(plan_id)
    out.print(f"cancellation requested for plan {plan_id}")


@remediate_group.command("history")
@click.option("--env", "env_name", help="Only this environment.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def history_cmd(env_name, limit, as_json) -> None:
    """Actions that ran, newest first."""
    rows = _service().history(environment=env_name, limit=limit)
    if as_json:
        emit_json({"history": rows})
        return
    if not rows:
        out.print("no remediation has run yet")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in ("WHEN", "PLAN", "ACTION", "STRATEGY", "TARGET", "STATUS", "APPROVED BY"):
        table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(r["started_at"].strftime("%Y-%m-%d %H:%M"), str(r["plan"]), str(r["action"]), r["strategy"],
                      escape(r["address"] or f"{r['terraform_type']}.{r['terraform_id']}"),
                      f"[{STATUS_STYLE.get(r['status'], '')}]{r['status']}[/]", escape(r["decided_by"] or ""))
    out.print(table)


# ------------------------------------------------------------------------------------------------ printing


def _print_plan(plan: dict[str, Any], *, brief: bool) -> None:
    counts = ", ".join(f"{n} {k}" for k, n in sorted(plan["counts"].items()))
    out.print(f"[bold]plan {plan['id']}[/] ({escape(plan['environment'])}, report {plan['report_id']}): "
              f"{plan['status']}, risk [{RISK_STYLE.get(plan['risk'], '')}]{plan['risk']}[/], {counts}")
    if plan.get("workdir"):
        out.print(f"[dim]working dir {escape(plan['workdir'])}[/]")
    for warning in plan.get("warnings", []):
        err.print(f"[yellow]warning:[/] {escape(warning)}")
    for action in plan["actions"]:
        _print_action(action, brief=brief)


def _print_action(a: dict[str, Any], *, brief: bool) -> None:
    target = a["address"] or f"{a['terraform_type']}.{a['terraform_id']}"
    status = f"[{STATUS_STYLE.get(a['status'], '')}]{a['status']:<9}[/]"
    risk = f"[{RISK_STYLE.get(a['risk'], '')}]{a['risk']}[/]"
    after = f" [dim](after {', '.join(map(str, a['depends_on']))})[/]" if a["depends_on"] else ""
    out.print(f"{a['id']:>3}. {status} {a['kind']:<9} [bold]{a['strategy']}[/] {escape(target)} {risk}{after}")
    preview = a["preview"]
    if not a["available"]:
        out.print(f"      [red]unavailable:[/] {escape(a['unavailable_reason'] or '')}")
    elif preview.get("summary"):
        out.print(f"      {escape(preview['summary'])}")
    if brief:
        return
    for change in preview.get("changes") or ():
        out.print(f"      ~ {escape(change['path'])}: {escape(_short(change['from']))} -> {escape(_short(change['to']))}")
    for key, title in (("state_diff", "state"), ("commands", "runs"), ("api_calls", "calls"), ("lines", "adds"),
                       ("notes", "note")):
        for entry in preview.get(key) or ():
            out.print(f"      [dim]{title}:[/] {escape(str(entry))}")
    for key in ("hcl", "hcl_alternative"):
        if preview.get(key):
            label = "writes" if key == "hcl" else "or in code"
            out.print(f"      [dim]{label}{' ' + escape(preview['file']) if key == 'hcl' else ''}:[/]")
            for text in preview[key].rstrip().splitlines():
                out.print(f"        {escape(text)}")
    if preview.get("confirm"):
        out.print(f"      [bold red]{escape(preview['confirm'])}[/]")
    others = [alt for alt in a["alternatives"] if alt["strategy"] != a["strategy"]]
    for alt in others:
        state = "available" if alt["available"] else f"unavailable: {alt['reason']}"
        out.print(f"      [dim]alternative {alt['strategy']}: {escape(state)}[/]")
    if a.get("error"):
        out.print(f"      [red]error:[/] {escape(a['error'])}")
    if a.get("output") and a["status"] != "approved":
        for text in a["output"].splitlines()[-5:]:
            out.print(f"      [dim]| {escape(text)}[/]")


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"

