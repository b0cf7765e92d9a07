"""`driftmgr metrics`: what the TUI's metrics panel shows, headless (drift over time, coverage, discovery per
provider, API errors, the job queue, the latest events)."""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from driftmgr_tui.commands.common import emit_json, handle_errors, out

WINDOW_CHOICES = ("24h", "7d", "30d")  # services.metrics_service.WINDOWS (not imported: keeps `--help` light)


@click.command("metrics")
@click.option("--env", "env_name", metavar="NAME",
              help="Only this environment's drift and coverage (default: every environment). Discovery, jobs "
                   "and events belong to no environment.")
@click.option("--window", type=click.Choice(WINDOW_CHOICES), default="7d", show_default=True,
              help="How far back: 24 hourly, 28 six-hourly or 30 daily buckets, the last one holding now.")
@click.option("--events", type=click.IntRange(0, 1000), default=20, show_default=True,
              help="How many of the latest events to list.")
@click.option("--json", "as_json", is_flag=True, help="Every series and figure as JSON.")
@handle_errors
def metrics_cmd(env_name: str | None, window: str, events: int, as_json: bool) -> None:
    """Drift over time by kind and environment, the coverage trend, discovery durations and resources per
    provider, API errors per provider, job queue depth and failures, and the latest events."""
    from driftmgr_tui.services.metrics_service import MetricsService

    snap = MetricsService().snapshot(env_name, window, events=events)
    if as_json:
        emit_json(snap.to_json())
        return
    print_snapshot(snap)


def print_snapshot(snap: Any) -> None:
    from driftmgr_tui.services.metrics_service import DRIFT_KINDS, empty_reason, figures, sparkline

    said = figures(snap)
    scope = f"env {snap.environment}" if snap.environment else "all environments"
    out.print(f"[bold]{escape(scope)}[/] · window {snap.window} · {snap.since:%Y-%m-%d %H:%M} to "
              f"{snap.until:%Y-%m-%d %H:%M} UTC ({len(snap.buckets)} buckets, oldest first)")

    out.print("\n[bold]Drift[/]")
    reason = empty_reason(snap, "drift")
    if reason:
        out.print(f"  {escape(reason)}")
    else:
        total = [None if all(snap.drift[k][b] is None for k in DRIFT_KINDS)
                 else sum(snap.drift[k][b] or 0 for k in DRIFT_KINDS) for b in range(len(snap.buckets))]
        out.print(f"  {_words(said['drift'])}  [dim]{sparkline(total)}[/]")
        out.print(f"  {_words(said['coverage'])}  [dim]{sparkline(snap.coverage)}[/]")
        table = _table("ENVIRONMENT", "REPORT", "WHEN (UTC)", *[k.upper() for k in DRIFT_KINDS[:3]], "COVERAGE",
                       "TREND")
        for e in snap.environments:
            trend = [None if e.series["changed"][b] is None else sum(e.series[k][b] or 0 for k in DRIFT_KINDS)
                     for b in range(len(snap.buckets))]
            table.add_row(escape(e.environment), str(e.report_id), f"{e.created_at:%Y-%m-%d %H:%M}",
                          *[str(e.counts[k]) for k in DRIFT_KINDS[:3]], f"{e.coverage:.1f}%", sparkline(trend))
        out.print(table)

    out.print("\n[bold]Discovery[/]")
    reason = empty_reason(snap, "discovery")
    if reason:
        out.print(f"  {escape(reason)}")
    else:
        table = _table("PROVIDER", "RUNS", "FAILED", "AVG S", "LAST S", "RESOURCES", "API ERRORS", "TREND")
        for p in snap.providers:
            table.add_row(p.provider, str(p.runs), str(p.failed_runs), _seconds(p.avg_duration),
                          _seconds(p.last_duration), "-" if p.resources is None else str(p.resources),
                          str(p.api_errors), sparkline(p.error_series))
        out.print(table)
        for p in snap.providers:
            if p.api_errors:
                out.print(f"  {p.provider} API errors: {_error_breakdown(p)}")

    jobs = snap.jobs
    out.print("\n[bold]Jobs[/]")
    out.print(f"  {_words(said['jobs'])} · succeeded {jobs.succeeded}  [dim]open {sparkline(jobs.depth)}[/]")

    if snap.events:
        out.print(f"\n[bold]Latest events[/] ({len(snap.events)})")
        for e in snap.events:
            out.print(f"  {e.time:%Y-%m-%d %H:%M:%S}  {e.type:<22} {escape(e.summary)}")


def _table(*columns: str) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in columns:  # the trend gives way on a narrow terminal; the figures never do
        trend = name == "TREND"
        table.add_column(name, justify="left" if trend or name in ("ENVIRONMENT", "PROVIDER", "WHEN (UTC)")
                         else "right", no_wrap=not trend, overflow="crop" if trend else "ellipsis")
    return table


def _words(pairs: list[tuple[str, str]]) -> str:
    return " · ".join(f"{escape(name)} [bold]{escape(value)}[/]" for name, value in pairs)


def _error_breakdown(p: Any) -> str:
    parts = [(p.failed_tasks, "failed task", "failed tasks"), (p.retries, "retried call", "retried calls"),
             (p.job_retries, "job retry", "job retries")]
    return ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in parts if n)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
