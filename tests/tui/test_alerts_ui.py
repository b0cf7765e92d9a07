"""Alerts in the TUI, through the real app: real rules, alerts fired by evaluating real saved reports and by
real detections (in this process, on the app's own services, and in another process through the CLI), the
notification and the terminal bell, the alert list with acknowledge and resolve, the rules list, read-only
mode; and snapshots of the list and of a notification."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from textual.pilot import Pilot
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from driftmgr_tui.app import DriftmgrApp
from driftmgr_tui.core.db import open_database, session_scope
from driftmgr_tui.core.events import decode_json, encode_json
from driftmgr_tui.core.models import Alert
from driftmgr_tui.core.settings import load_settings
from driftmgr_tui.drift.history import ReportMeta, save_report
from driftmgr_tui.drift.model import DetectionResult, FieldDiff, Finding
from driftmgr_tui.screens.alerts import AlertDetailScreen, AlertsScreen
from driftmgr_tui.screens.common import ConfirmScreen
from driftmgr_tui.screens.drift import DriftScreen
from driftmgr_tui.services.alert_service import AlertService
from driftmgr_tui.services.drift_service import DetectOptions, DriftService
from driftmgr_tui.services.hub import ServiceHub
from driftmgr_tui.widgets.item_table import ItemTable
from tests.alerts.test_alert_service import _plan, _state
from tests.tui.pilot import drive, notes_of, settle

FIRED = datetime(2025, 3, 8, 9, 30, tzinfo=UTC)
ACKED = datetime(2025, 3, 8, 9, 42, tzinfo=UTC)
RESOLVED = datetime(2025, 3, 8, 10, 5, tzinfo=UTC)


def _finding(kind: str, severity: str, n: int) -> Finding:
    return Finding(kind=kind, terraform_type="aws_security_group", terraform_id=f"sg-{n}", match_key=f"sg-{n}",
                   provider="aws", address=f"aws_security_group.g{n}" if kind != "unmanaged" else None,
                   region="us-east-1", severity=severity,
                   diffs=[FieldDiff("ingress", [], [{"from_port": 22}], "critical")] if kind == "changed" else [])


@dataclass
class Estate:
    """Rules and alerts in the test's database, and environment ``staging`` (one state, no report yet)."""

    tmp: Path
    rules: dict[str, int]
    alerts: dict[str, int]  # rule name -> the alert it raised on prod

    def app(self, *, read_only: bool = False, initial: str = "drift", interval: float = 0.2) -> DriftmgrApp:
        app = DriftmgrApp(ServiceHub(environment="staging", read_only=read_only), initial=initial)
        app.alert_watch.interval = interval  # the log of other processes is read this often
        return app

    def service(self) -> AlertService:
        """A service of its own (engine and event bus), as another process would have."""
        settings = load_settings()
        return AlertService(settings, open_database(settings))

    def drifted_plan(self) -> Path:
        return _plan(self.tmp / "drift.json", drifted=True)


def toasts(app: DriftmgrApp) -> list[dict[str, Any]]:
    """Every notification the app shows from now on, with its title, severity and timeout."""
    seen: list[dict[str, Any]] = []
    original = app.notify

    def notify(message: str, **kwargs: Any) -> None:
        seen.append({"message": str(message), **kwargs})
        original(message, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    return seen


def bells(app: DriftmgrApp) -> list[int]:
    """Every ring of the terminal bell from now on."""
    rung: list[int] = []
    original = app.bell

    def bell() -> None:
        rung.append(1)
        original()

    app.bell = bell  # type: ignore[method-assign]
    return rung


@pytest.fixture
def estate(tmp_path: Path, isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> Estate:
    """Rules: drift (prod, more than 0 drifted items), critical (every environment, high or above, with the
    bell), coverage (prod, below 95%), scans (scan_failed, disabled). A prod report fired drift, critical and
    coverage: critical was acknowledged by alice@ops, coverage resolved by hand; times fixed for snapshots."""
    monkeypatch.setenv("DRIFTMGR_THEME", "textual-dark")
    monkeypatch.chdir(tmp_path)
    state = _state(tmp_path / "terraform.tfstate")
    (isolated_dirs / "config.toml").write_text(f"[environments.staging]\nstates = [{json.dumps(str(state))}]\n")
    settings = load_settings()
    engine = open_database(settings)
    service = AlertService(settings, engine)
    rules = {
        "drift": service.add_rule("drift", "drift_count", threshold=0, environment="prod")["id"],
        "critical": service.add_rule("critical", "severity", severity="high", channels=["app", "bell"])["id"],
        "coverage": service.add_rule("coverage", "coverage", threshold=95, environment="prod")["id"],
        "scans": service.add_rule("scans", "scan_failed")["id"],
    }
    service.disable_rule(rules["scans"])
    result = DetectionResult(findings=[_finding("changed", "critical", 1), _finding("unmanaged", "medium", 2)],
                             managed=8, changed=1, unmanaged=1, cloud_total=9)
    report_id = save_report(engine, result, ReportMeta(environment="prod", engine="native"), now=FIRED)
    fired = service.evaluate_report(DriftService(settings, engine).report(report_id))
    alerts = {change.alert["rule"]: change.alert["id"] for change in fired}
    assert sorted(alerts) == ["coverage", "critical", "drift"]
    service.acknowledge(alerts["critical"], actor="alice@ops")
    service.resolve(alerts["coverage"])
    with session_scope(engine) as session:
        for alert in session.exec(select(Alert)).all():
            alert.created_at = alert.updated_at = FIRED
            if alert.acknowledged_at is not None:
                alert.acknowledged_at = ACKED
            if alert.resolved_at is not None:
                alert.resolved_at = alert.updated_at = RESOLVED
            alert.deliveries = encode_json([{**d, "at": FIRED.isoformat()} for d in decode_json(alert.deliveries)])
            session.add(alert)
    return Estate(tmp_path, rules, alerts)


# -- reading the screen -------------------------------------------------------------------------------------
def alerts_screen(pilot: Pilot[Any]) -> AlertsScreen:
    screen = pilot.app.screen
    assert isinstance(screen, AlertsScreen)
    return screen


def table_rows(screen: AlertsScreen, table: str = "#alert-list") -> list[tuple[str, ...]]:
    items = screen.query_one(table, ItemTable)
    source = items.source
    return [tuple(source.row(i)) for i in range(items.row_count)] if source is not None else []


def summary(screen: AlertsScreen) -> str:
    from rich.text import Text

    content = screen.query_one("#alerts-summary", Static).content
    return Text.from_markup(str(content)).plain


def footer_keys(screen: Any) -> set[str]:
    return {key.description for key in screen.query(FooterKey)}


async def wait_for(pilot: Pilot[Any], done: Any, what: str, *, rounds: int = 300) -> None:
    """Let the app run until ``done()`` holds (without a key pressed), or fail saying ``what`` never came."""
    for _ in range(rounds):
        if done():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"{what} never came")


# -- notifications ------------------------------------------------------------------------------------------
def test_an_alert_fired_by_a_detection_of_the_app_notifies_and_rings_the_bell(estate: Estate) -> None:
    app = estate.app()
    shown, rung = toasts(app), bells(app)

    async def scenario(pilot: Pilot[Any]) -> None:
        notes = [t["message"] for t in shown]
        assert isinstance(pilot.app.screen, DriftScreen)
        assert notes == [] and rung == []  # the alerts that fired before the app opened are not announced
        assert pilot.app.sub_title == "env staging · 2 open alerts"

        hub = pilot.app.hub  # the TUI's own services, as its rescan uses them, in a worker thread
        spec = hub.spec()
        outcome = await asyncio.to_thread(hub.drift.detect, spec, DetectOptions(plan_json=estate.drifted_plan()))
        await pilot.pause()
        [alert] = hub.alerts.list_alerts(status="firing", environment="staging")
        assert alert["report_id"] == outcome.report["id"] and alert["rule"] == "critical"
        assert shown == [{"message": "staging: 1 drifted item at high or above",
                          "title": f"Alert {alert['id']} · critical · staging", "severity": "error",
                          "timeout": 60.0, "markup": False}]
        assert rung == [1]  # the rule asks for the bell
        await settle(pilot)
        assert pilot.app.sub_title == "env staging · 3 open alerts"

        # the condition clears: the alert resolves, quietly (no bell)
        await asyncio.to_thread(hub.drift.detect, spec, DetectOptions(plan_json=_plan(estate.tmp / "clean.json",
                                                                                      drifted=False)))
        await pilot.pause()
        await settle(pilot)
        assert len(shown) == 2  # the fired alert was announced once, though both sources delivered it
        assert shown[-1] == {"message": "staging: 1 drifted item at high or above",
                             "title": f"Alert {alert['id']} resolved", "severity": "information",
                             "timeout": 5.0, "markup": False}
        assert rung == [1]
        assert pilot.app.sub_title == "env staging · 2 open alerts"

    drive(app, scenario)


def test_an_alert_fired_in_another_process_notifies_without_a_key(estate: Estate) -> None:
    app = estate.app()
    notes, rung = notes_of(app), bells(app)

    async def scenario(pilot: Pilot[Any]) -> None:
        assert notes == []
        proc = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "driftmgr_tui.cli", "drift", "detect", "--env", "staging",
                             "--plan-json", str(estate.drifted_plan()), "--json"],
            capture_output=True, text=True, env=os.environ.copy(), timeout=120)
        assert proc.returncode == 1, proc.stderr  # drift found
        report_id = json.loads(proc.stdout)["id"]
        await wait_for(pilot, lambda: notes, "the notification of the other process's alert")
        [alert] = estate.service().list_alerts(status="firing", environment="staging")
        assert alert["report_id"] == report_id
        assert notes == ["staging: 1 drifted item at high or above"]
        assert rung == [1]
        await wait_for(pilot, lambda: pilot.app.sub_title == "env staging · 3 open alerts", "the new count")

        # acknowledged elsewhere: no notification, the count stays (acknowledged is still open)
        estate.service().acknowledge(alert["id"], actor="bob@ops")
        await wait_for(pilot, lambda: pilot.app.alert_watch.announced >= 2, "the acknowledgement")
        assert notes == ["staging: 1 drifted item at high or above"] and rung == [1]

    drive(app, scenario)


def test_a_separate_service_on_the_same_database_is_heard_once(estate: Estate) -> None:
    app = estate.app()
    notes = notes_of(app)

    async def scenario(pilot: Pilot[Any]) -> None:
        other = estate.service()  # its own event bus: only the persisted log reaches the app
        other.add_rule("staging-any", "drift_count", threshold=0, environment="staging")
        spec = DriftService(other.settings, other.engine).environment("staging")
        await asyncio.to_thread(DriftService(other.settings, other.engine, bus=other.bus).detect, spec,
                                DetectOptions(plan_json=estate.drifted_plan()))
        await wait_for(pilot, lambda: len(notes) >= 2, "two notifications")
        assert sorted(notes) == ["staging: 1 drifted item at high or above",
                                 "staging: 1 drifted resource (more than 0)"]
        newest = other.bus.recent(limit=1)[-1].id
        read = pilot.app.alert_watch.reads
        await wait_for(pilot, lambda: pilot.app.alert_watch.reads >= read + 2, "two more reads of the log")
        await settle(pilot)
        assert pilot.app.alert_watch._last_id >= newest
        assert len(notes) == 2  # each once

    drive(app, scenario)


# -- the alert list -----------------------------------------------------------------------------------------
def test_the_list_shows_open_alerts_and_f_shows_every_alert(estate: Estate) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("exclamation_mark")
        await settle(pilot)
        screen = alerts_screen(pilot)
        assert pilot.app.current_mode == "alerts"
        ids = estate.alerts
        assert table_rows(screen) == [
            (str(ids["critical"]), "acknowledged", "critical", "prod", "critical",
             "prod: 1 drifted item at high or above", "2025-03-08 09:30", "alice@ops"),
            (str(ids["drift"]), "firing", "critical", "prod", "drift", "prod: 2 drifted resources (more than 0)",
             "2025-03-08 09:30", ""),
        ]
        assert summary(screen).startswith("2 open: 1 firing, 1 acknowledged · showing open alerts · 4 rule(s), "
                                          "3 enabled")
        await pilot.press("f")
        await settle(pilot)
        assert [row[:2] for row in table_rows(screen)] == [
            (str(ids["coverage"]), "resolved"), (str(ids["critical"]), "acknowledged"), (str(ids["drift"]), "firing")]
        assert "showing every alert" in summary(screen)

        await pilot.press("g", "enter")  # the detail of the alert under the cursor (the resolved one)
        detail = pilot.app.screen
        assert isinstance(detail, AlertDetailScreen)
        fields = str(detail.query_one("#alert-fields", Static).content)
        assert "coverage 88.9% (below 95%)" in str(detail.query_one("#alert-title").content)
        for text in ("resolved", "2025-03-08 10:05", "88.89", f"(rule {estate.rules['coverage']})"):
            assert text in fields
        await pilot.press("escape")
        assert pilot.app.screen is screen

        await pilot.press("escape")  # back where the list was opened from
        await settle(pilot)
        assert isinstance(pilot.app.screen, DriftScreen)

    drive(estate.app(), scenario)


def test_acknowledge_and_resolve_with_keys_change_the_database(estate: Estate) -> None:
    app = estate.app(initial="alerts")
    notes = notes_of(app)

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = alerts_screen(pilot)
        ids = estate.alerts
        table = screen.query_one("#alert-list", ItemTable)
        await pilot.press("a")  # the cursor is on the acknowledged one: it says so, changes nothing
        await settle(pilot)
        assert notes == [f"alert {ids['critical']} was acknowledged by alice@ops"]

        await pilot.press("down", "a")
        await settle(pilot)
        alert = estate.service().get_alert(ids["drift"])
        assert alert["status"] == "acknowledged" and alert["acknowledged_by"]
        assert notes[-1] == f"alert {ids['drift']} acknowledged by {alert['acknowledged_by']}"
        assert [row[1] for row in table_rows(screen)] == ["acknowledged", "acknowledged"]
        assert summary(screen).startswith("2 open: 0 firing, 2 acknowledged")

        assert table.cursor_key == ids["drift"]
        await pilot.press("x")
        confirm = pilot.app.screen
        assert isinstance(confirm, ConfirmScreen)
        await pilot.press("escape")  # cancelled: still open
        await settle(pilot)
        assert estate.service().get_alert(ids["drift"])["status"] == "acknowledged"
        await pilot.press("x")
        assert isinstance(pilot.app.screen, ConfirmScreen)
        await pilot.press("enter")
        await settle(pilot)
        assert estate.service().get_alert(ids["drift"])["status"] == "resolved"
        assert [row[0] for row in table_rows(screen)] == [str(ids["critical"])]  # the open ones
        assert pilot.app.sub_title == "env staging · 1 open alert"

    drive(app, scenario)


def test_rules_list_enables_disables_and_tests(estate: Estate) -> None:
    app = estate.app(initial="alerts")
    notes, rung = notes_of(app), bells(app)

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = alerts_screen(pilot)
        assert {"Acknowledge", "Resolve"} <= footer_keys(screen) and "Test" not in footer_keys(screen)
        await pilot.press("l")
        await settle(pilot)
        assert {"Enable/disable", "Test"} <= footer_keys(screen) and "Acknowledge" not in footer_keys(screen)
        assert table_rows(screen, "#rule-list") == [
            (str(estate.rules["drift"]), "drift", "prod", "more than 0 drifted items", "app", "yes"),
            (str(estate.rules["critical"]), "critical", "all", "any item at high or above", "app, bell", "yes"),
            (str(estate.rules["coverage"]), "coverage", "prod", "coverage below 95%", "app", "yes"),
            (str(estate.rules["scans"]), "scans", "all", "a discovery run failed, was partial or cancelled",
             "app", "no"),
        ]
        await pilot.press("G", "e")  # the disabled one
        await settle(pilot)
        assert estate.service().get_rule(estate.rules["scans"])["enabled"] is True
        assert table_rows(screen, "#rule-list")[-1][-1] == "yes"
        await pilot.press("e")
        await settle(pilot)
        assert estate.service().get_rule(estate.rules["scans"])["enabled"] is False

        await pilot.press("k", "k", "t")  # critical: app and bell
        await settle(pilot)
        await wait_for(pilot, lambda: any(n.startswith("test notification") for n in notes), "the test")
        assert notes[-1] == "test notification from alert rule critical" and rung == [1]
        assert len(estate.service().list_alerts()) == 3  # a test stores no alert

        await pilot.press("l")
        assert screen.query_one("#alert-list", ItemTable) is pilot.app.focused

    drive(app, scenario)


def test_read_only_hides_and_refuses_acknowledge_and_resolve(estate: Estate) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = alerts_screen(pilot)
        shown = footer_keys(screen)
        assert "Open/all" in shown and not {"Acknowledge", "Resolve"} & shown
        await pilot.press("down", "a", "x")
        await settle(pilot)
        assert pilot.app.screen is screen
        await pilot.press("l")
        shown = footer_keys(screen)
        assert not {"Enable/disable", "Test"} & shown
        await pilot.press("e", "t")
        await settle(pilot)
        service = estate.service()
        assert service.get_alert(estate.alerts["drift"])["status"] == "firing"
        assert service.get_rule(estate.rules["scans"])["enabled"] is False
        assert pilot.app.sub_title == "env staging · 2 open alerts · READ-ONLY"

    drive(estate.app(read_only=True, initial="alerts"), scenario)


def test_jump_bar_and_bang_open_and_leave_the_list(estate: Estate) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("colon")
        pilot.app.screen.query_one("Input").value = "alerts"
        await pilot.press("enter")
        await settle(pilot)
        alerts_screen(pilot)
        await pilot.press("exclamation_mark")  # back to the state browser it was opened from
        await settle(pilot)
        assert pilot.app.current_mode == "state"

    drive(estate.app(), scenario)


def test_no_rules_says_how_to_add_one(tmp_path: Path, isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    async def scenario(pilot: Pilot[Any]) -> None:
        text = summary(alerts_screen(pilot))
        assert text.splitlines() == [
            "no open alerts · showing open alerts · 0 rule(s), 0 enabled",
            "No alert rules yet: they are evaluated after every scan. Add one with driftmgr alerts rule add NAME "
            "--kind drift_count --threshold 0.",
        ]
        assert pilot.app.sub_title == "env default"

    drive(DriftmgrApp(ServiceHub(), initial="alerts"), scenario)


# -- snapshots ----------------------------------------------------------------------------------------------
async def _list_open(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    await pilot.press("f")  # every alert: firing, acknowledged, resolved
    await settle(pilot)


async def _detail_open(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    await pilot.press("down", "enter")  # the firing alert
    await settle(pilot)
    assert isinstance(pilot.app.screen, AlertDetailScreen)


async def _rules_shown(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    await pilot.press("l", "down")
    await settle(pilot)


def _notification(estate: Estate) -> Any:
    async def run(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        hub = pilot.app.hub
        await asyncio.to_thread(hub.drift.detect, hub.spec(), DetectOptions(plan_json=estate.drifted_plan()))
        await pilot.pause()
        await settle(pilot)

    return run


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_snapshot_alert_list(estate: Estate, snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(estate.app(initial="alerts", interval=60), terminal_size=size, run_before=_list_open)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_snapshot_notification(estate: Estate, snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(estate.app(interval=60), terminal_size=size, run_before=_notification(estate))


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_snapshot_alert_detail(estate: Estate, snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(estate.app(initial="alerts", interval=60), terminal_size=size, run_before=_detail_open)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_snapshot_rules(estate: Estate, snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(estate.app(initial="alerts", interval=60), terminal_size=size, run_before=_rules_shown)
