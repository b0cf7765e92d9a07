"""`driftmgr alerts ...` (rules, alerts, test notifications) and `driftmgr watch` (scan on a schedule)."""

from __future__ import annotations

import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from driftmgr_tui.alerts.view import describe_condition
from driftmgr_tui.commands.common import emit_json, err, handle_errors, out
from driftmgr_tui.commands.drift import (
    ScanNotFinished,
    environment_options,
    run_scan,
    scan_options,
    scan_spec,
)
from driftmgr_tui.commands.drift_output import SEVERITY_STYLE
from driftmgr_tui.core.errors import DriftmgrError, UsageError
from driftmgr_tui.core.settings import parse_duration

STATUS_STYLE = {"firing": "bold red", "acknowledged": "yellow", "resolved": "green"}
MIN_INTERVAL = 1.0


def _service() -> Any:
    from driftmgr_tui.services.alert_service import AlertService

    return AlertService()


@click.group("alerts")
def alerts_group() -> None:
    """Alert rules evaluated after every scan, and the alerts they raise.

    \b
    driftmgr alerts rule add drift --kind drift_count --threshold 0 --env prod
    driftmgr alerts rule add critical --kind severity --severity high \\
        --channel app --channel bell --channel webhook --webhook-url-stdin < hook.txt
    driftmgr alerts rule add coverage --kind coverage --threshold 95
    driftmgr alerts rule add scans --kind scan_failed
    driftmgr alerts list --status open
    driftmgr alerts ack 12
    driftmgr alerts test 3            # send a test notification

    A webhook URL (it usually holds a token) is kept in the OS keyring; the database
    and every output show only a reference to it.
    """


@alerts_group.group("rule")
def rule_group() -> None:
    """Alert rules: add, list, enable, disable, remove."""


@rule_group.command("add")
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice(["drift_count", "severity", "coverage", "scan_failed"]),
              help="drift_count: more than --threshold drifted items; severity: any item at or above --severity; "
                   "coverage: below --threshold percent; scan_failed: a discovery run failed or was partial.")
@click.option("--env", "env_name", metavar="NAME", help="Only this environment (default: every environment).")
@click.option("--threshold", type=float, help="drift_count: a count (fires above it); coverage: a percentage "
                                              "(fires below it).")
@click.option("--severity", type=click.Choice(["critical", "high", "medium", "low", "info"]),
              help="severity rules: the lowest severity that fires.")
@click.option("--drift-kind", type=click.Choice(["changed", "missing", "unmanaged", "unapplied", "orphaned"]),
              help="drift_count and severity rules: count only items of this kind.")
@click.option("--channel", "channels", multiple=True, type=click.Choice(["app", "bell", "webhook"]),
              help="Where to notify (repeatable): app (the TUI shows it), bell (and rings the terminal bell), "
                   "webhook. Default: app, plus webhook when a URL is given.")
@click.option("--webhook-url", metavar="URL",
              help="A Slack-compatible incoming webhook. Prefer --webhook-url-stdin: a URL on the command line "
                   "stays in the shell history.")
@click.option("--webhook-url-stdin", is_flag=True, help="Read the webhook URL from the first line of stdin.")
@click.option("--json", "as_json", is_flag=True, help="Print the rule as JSON.")
@handle_errors
def rule_add_cmd(name, kind, env_name, threshold, severity, drift_kind, channels, webhook_url, webhook_url_stdin,
                 as_json) -> None:
    """Add a rule named NAME."""
    if webhook_url is not None and webhook_url_stdin:
        raise UsageError("give --webhook-url or --webhook-url-stdin, not both")
    if webhook_url_stdin:
        webhook_url = sys.stdin.readline().strip()
        if not webhook_url:
            raise UsageError("--webhook-url-stdin: stdin held no URL")
    rule = _service().add_rule(name, kind, environment=env_name, threshold=threshold, severity=severity,
                               drift_kind=drift_kind, channels=channels or None, webhook_url=webhook_url)
    if as_json:
        emit_json({"rule": rule})
        return
    out.print(f"alert rule {rule['id']} added: {escape(describe_rule(rule))}")
    if rule["webhook_ref"]:
        out.print(f"[dim]webhook URL stored in the OS keyring as {rule['webhook_ref']}[/]")


@rule_group.command("list")
@click.option("--env", "env_name", help="Rules that apply to this environment.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")
@handle_errors
def rule_list_cmd(env_name, as_json) -> None:
    """Alert rules (a webhook appears only as its keyring reference)."""
    rules = _service().list_rules(env_name)
    if as_json:
        emit_json({"rules": rules})
        return
    if not rules:
        out.print("no alert rules: `driftmgr alerts rule add NAME --kind ...` adds one")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "NAME", "ENV", "CONDITION", "CHANNELS", "ENABLED"):
        table.add_column(column, justify="right" if column == "ID" else "left", overflow="fold")
    for r in rules:
        table.add_row(str(r["id"]), escape(r["name"]), escape(r["environment"] or "all"),
                      escape(describe_condition(r)),
                      ", ".join(r["channels"]), "yes" if r["enabled"] else "[dim]no[/]")
    out.print(table)


@rule_group.command("rm")
@click.argument("rule_id", type=int)
@handle_errors
def rule_rm_cmd(rule_id) -> None:
    """Remove a rule, its alerts and its webhook secret."""
    removed = _service().remove_rule(rule_id)
    out.print(f"alert rule {rule_id} removed ({escape(removed['name'])})")
    if removed["secret_left"]:
        err.print(f"[yellow]warning:[/] the keyring could not be reached; secret {removed['secret_left']} "
                  f"(service 'driftmgr') is still there: delete it with your keyring's tool")


@rule_group.command("enable")
@click.argument("rule_id", type=int)
@handle_errors
def rule_enable_cmd(rule_id) -> None:
    """Evaluate a rule again after every scan."""
    rule = _service().enable_rule(rule_id)
    out.print(f"alert rule {rule_id} enabled ({escape(rule['name'])})")


@rule_group.command("disable")
@click.argument("rule_id", type=int)
@handle_errors
def rule_disable_cmd(rule_id) -> None:
    """Stop evaluating a rule (its open alerts stay open until resolved)."""
    rule = _service().disable_rule(rule_id)
    out.print(f"alert rule {rule_id} disabled ({escape(rule['name'])})")


@alerts_group.command("list")
@click.option("--status", type=click.Choice(["open", "firing", "acknowledged", "resolved", "all"]), default="all",
              show_default=True, help="open: firing or acknowledged.")
@click.option("--env", "env_name", help="Only this environment.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")
@handle_errors
def list_cmd(status, env_name, limit, as_json) -> None:
    """Alerts, newest first."""
    alerts = _service().list_alerts(status=status, environment=env_name, limit=limit)
    if as_json:
        emit_json({"alerts": alerts})
        return
    if not alerts:
        out.print("no alerts" + ("" if status == "all" else f" ({status})"))
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ALERT", "STATUS", "SEVERITY", "ENV", "RULE", "TITLE", "SINCE", "DELIVERED"):
        table.add_column(column, justify="right" if column == "ALERT" else "left", overflow="fold")
    for a in alerts:
        table.add_row(str(a["id"]), f"[{STATUS_STYLE.get(a['status'], '')}]{a['status']}[/]",
                      f"[{SEVERITY_STYLE.get(a['severity'], '')}]{a['severity']}[/]", escape(a["environment"]),
                      escape(a["rule"] or ""), escape(a["title"]), _when(a["created_at"]), _delivered(a))
    out.print(table)


@alerts_group.command("ack")
@click.argument("alert_id", type=int)
@handle_errors
def ack_cmd(alert_id) -> None:
    """Acknowledge an alert (someone is on it); it resolves when its condition clears."""
    alert = _service().acknowledge(alert_id)
    out.print(f"alert {alert_id} acknowledged by {escape(alert['acknowledged_by'] or '')}: {escape(alert['title'])}")


@alerts_group.command("resolve")
@click.argument("alert_id", type=int)
@handle_errors
def resolve_cmd(alert_id) -> None:
    """Resolve an alert by hand (if its condition still holds, the next scan fires a new one)."""
    alert = _service().resolve(alert_id)
    out.print(f"alert {alert_id} resolved: {escape(alert['title'])}")


@alerts_group.command("test")
@click.argument("rule_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")
@handle_errors
def test_cmd(rule_id, as_json) -> None:
    """Send a test notification through every channel of a rule (exit 1 when the webhook is unreachable)."""
    result = _service().test_rule(rule_id)
    if as_json:
        emit_json(result)
    else:
        for channel, outcome in result["channels"].items():
            if channel != "webhook":
                out.print(f"{channel}: event published")
            elif outcome["ok"]:
                out.print(f"webhook {outcome['target']}: delivered (attempt {len(outcome['attempts'])})")
            else:
                out.print(f"[red]webhook {outcome['target']}: not delivered after {len(outcome['attempts'])} "
                          f"attempt(s): {escape(outcome['error'] or '')}[/]")
    sys.exit(0 if result["ok"] else 1)


def describe_rule(rule: dict[str, Any]) -> str:
    scope = rule["environment"] or "every environment"
    return f"{rule['name']}: {describe_condition(rule)} in {scope} -> {', '.join(rule['channels'])}"


def _when(iso: str | None) -> str:
    return (iso or "")[:16].replace("T", " ")


def _delivered(alert: dict[str, Any]) -> str:
    hooks = [d for d in alert["deliveries"] if d.get("channel") == "webhook"]
    if not hooks:
        return ""
    return "webhook" if any(d.get("ok") for d in hooks) else f"[red]webhook failed ({len(hooks)}x)[/]"


# ------------------------------------------------------------------------------------------------ watch


def parse_interval(text: str) -> float:
    """``30s``, ``15m``, ``1h`` (or ``1h30m``) to seconds; a UsageError that shows the accepted forms."""
    value = (text or "").strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        raise UsageError(f"--every {text}: give a unit, e.g. {value}s, {value}m or {value}h")
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise UsageError(f"--every {text!r}: expected an interval such as 30s, 15m or 1h") from None
    if seconds < MIN_INTERVAL:
        raise UsageError(f"--every {text}: the interval must be at least 1s")
    return seconds


class Watcher:
    """Scans an environment again and again, headless: one line per scan and per alert event. A failed scan
    is reported (and evaluated by scan_failed rules); the next one runs on schedule."""

    def __init__(self, drift: Any, spec: Any, alerts: Any, *, ignore_file: Path | None, config_drift: bool,
                 emit: Callable[[str], None]) -> None:
        from driftmgr_tui.core.events import EventBus

        self.drift = drift
        self.spec = spec
        self.alerts = alerts
        self.ignore_file = ignore_file
        self.config_drift = config_drift
        self.emit = emit
        self.bus = EventBus(drift.engine)
        self.scans = 0  # started
        self.completed = 0  # finished, well or not
        self.failures = 0
        self.stop = threading.Event()  # set by SIGINT/SIGTERM (see _stop_signals)
        self._last_event = self._newest_event_id()

    def run(self, *, interval: float, once: bool, wait: Callable[[float], bool],
            clock: Callable[[], float] = time.monotonic) -> int:
        """Scan until ``wait`` returns True (stop requested) or, with ``once``, after one scan; the exit code
        is the last scan's (0 in sync, 1 drift, 2 failed) with ``once``, else 0."""
        while True:
            started = clock()
            try:
                code = self.scan_once()
            except KeyboardInterrupt:
                self.stop.set()
                self.emit(f"{_now()} {self.stopped_line()}")
                return 130 if once else 0
            if once:
                return code
            if wait(max(0.0, interval - (clock() - started))):
                self.emit(f"{_now()} {self.stopped_line()}")
                return 0

    def stopped_line(self) -> str:
        interrupted = f" (scan {self.scans} interrupted)" if self.completed < self.scans else ""
        return f"watch stopped after {self.completed} scan(s), {self.failures} failed{interrupted}"

    def scan_once(self) -> int:
        self.scans += 1
        name = self.spec.name
        before = self._newest_run_id()
        try:
            outcome = run_scan(self.drift, self.spec, ignore_file=self.ignore_file, config_drift=self.config_drift,
                               show_progress=False)
        except ScanNotFinished as exc:  # discovery did not finish: nothing was compared
            if self.stop.is_set():  # Ctrl-C or SIGTERM cancelled the discovery run
                raise KeyboardInterrupt from None
            self._failed(exc.run, exc.run.error or exc.message, name)
            return 2
        except DriftmgrError as exc:
            self._failed(self._new_run(before), exc.message, name)
            return 2
        self.completed += 1
        report = outcome.report
        s = report["summary"]
        partial = " (partial: part of the estate could not be evaluated)" if report["status"] == "partial" else ""
        self.emit(f"{_now()} scan {self.scans} {name}: report {report['id']}: changed {s['total_changed']}, "
                  f"missing {s['total_missing']}, unmanaged {s['total_unmanaged']}, coverage "
                  f"{s['coverage']:.1f}%{partial}")
        self._alert_lines()
        return outcome.exit_code

    def _failed(self, run: Any, error: str, environment: str) -> None:
        from driftmgr_tui.services.alert_service import ScanFailure

        self.completed += 1
        self.failures += 1
        run_failed = run is not None and run.status in ("failed", "partial", "cancelled")
        where = f" (discovery run {run.id} {run.status})" if run_failed else ""
        self.emit(f"{_now()} scan {self.scans} {environment}: failed{where}: {_one_line(error)}")
        # discovery finished but the comparison failed (states unreadable): the scan failed, not the run
        failure = run if run_failed else ScanFailure(error=error, provider=getattr(run, "provider", None))
        try:
            self.alerts.evaluate_run(failure, environment)
        except DriftmgrError as exc:
            self.emit(f"{_now()} alert evaluation failed: {_one_line(exc.message)}")
        self._alert_lines()

    def _alert_lines(self) -> None:
        for event in self.bus.recent(prefix="alert.", after_id=self._last_event, limit=1000):
            self._last_event = event.id or self._last_event
            line = alert_event_line(event.type, event.payload)
            if line:
                self.emit(f"{_now()} {line}")

    def _newest_event_id(self) -> int:
        newest = self.bus.recent(limit=1)
        return (newest[-1].id or 0) if newest else 0

    def _newest_run_id(self) -> int:
        import sqlalchemy as sa

        from driftmgr_tui.core.models import DiscoveryRun

        t = DiscoveryRun.__table__
        with self.drift.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(t.c.id))).scalar() or 0)

    def _new_run(self, before: int) -> Any:
        """The discovery run this scan started (the newest one after ``before``), if it got that far."""
        from driftmgr_tui.services.discovery_service import DiscoveryService

        if self._newest_run_id() <= before:
            return None
        discovery = DiscoveryService(settings=self.drift.settings, engine=self.drift.engine)
        runs = [r for r in discovery.list_runs(limit=20) if r.id > before]
        return runs[-1] if runs else None


def alert_event_line(kind: str, payload: dict[str, Any]) -> str | None:
    """One line for an alert event, as `watch` prints it (None for events it does not show)."""
    alert_id = payload.get("id", payload.get("alert_id"))
    if kind == "alert.fired":
        return (f"alert {alert_id} FIRED [{payload.get('severity')}] {payload.get('rule')}: "
                f"{_one_line(payload.get('title') or '')}")
    if kind == "alert.resolved":
        return f"alert {alert_id} resolved: {_one_line(payload.get('title') or '')}"
    if kind == "alert.acknowledged":
        return f"alert {alert_id} acknowledged by {payload.get('acknowledged_by')}"
    if kind == "alert.delivery_failed" and alert_id is not None:
        return (f"alert {alert_id} webhook {payload.get('target')} not delivered after {payload.get('attempts')} "
                f"attempt(s): {_one_line(payload.get('error') or '')}")
    return None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _now() -> str:
    return datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S%z")


@contextmanager
def _stop_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM stop the watch: the scan in progress is cancelled cleanly, what finished is kept."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        stop.set()
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@click.command("watch")
@environment_options
@scan_options
@click.option("--every", "every", default="15m", show_default=True, metavar="INTERVAL",
              help="How often to scan: 30s, 15m, 1h (from the start of one scan to the start of the next).")
@click.option("--once", is_flag=True, help="Scan once and exit with the scan's code (0 in sync, 1 drift, "
                                           "2 failed).")
@click.option("--no-config-drift", is_flag=True, help="Skip comparing the working dir's .tf files with its state.")
@handle_errors
def watch_cmd(env_name, states, backends, chdir, terragrunt, workspaces, ignore_file, provider, profile, role_arn,
              regions, subscriptions, projects, every, once, no_config_drift) -> None:
    """Scan the environment every INTERVAL until Ctrl-C or SIGTERM, evaluating alert rules after each scan.

    \b
    driftmgr watch --env prod --every 15m
    driftmgr watch --state terraform.tfstate --provider aws --regions us-east-1 --every 1h
    driftmgr watch --env prod --once          # one scan, for cron

    One line per scan and per alert on stdout. A failed scan is reported (scan_failed
    rules fire) and the next scan runs on schedule.
    """
    from driftmgr_tui.commands.discover import _check_scope
    from driftmgr_tui.services.alert_service import AlertService
    from driftmgr_tui.services.drift_service import DriftService

    interval = parse_interval(every)
    drift = DriftService()
    spec = scan_spec(drift, env_name, states, backends, chdir, workspaces, provider, profile, role_arn, regions,
                     subscriptions, projects, terragrunt)
    if spec.provider:  # the scope is known without reading the states: check it once, before the loop
        _check_scope(drift.scan_scope(spec)[0])
    alerts = AlertService(drift.settings, drift.engine)

    def emit(line: str) -> None:
        out.print(line, markup=False, highlight=False)

    watcher = Watcher(drift, spec, alerts, ignore_file=ignore_file, config_drift=not no_config_drift, emit=emit)
    emit(f"{_now()} watching {spec.name} every {every.strip()}" + (" (once)" if once else "")
         + "; Ctrl-C stops")
    with _stop_signals(watcher.stop):
        try:
            code = watcher.run(interval=interval, once=once, wait=watcher.stop.wait)
        except KeyboardInterrupt:  # between two statements of the loop
            emit(f"{_now()} {watcher.stopped_line()}")
            code = 0
    sys.exit(code)
