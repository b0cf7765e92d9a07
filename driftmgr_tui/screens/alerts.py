"""The alert list (``!`` from anywhere, ``:alerts``): the alerts the rules raised, open ones first shown, with
acknowledge (``a``) and resolve (``x``); and the rules themselves (``l``), to enable, disable or test them.

Acknowledging says someone is on it (the alert stays open until its condition clears); resolving closes it
now (if its condition still holds at the next scan, a new alert fires). Both, and the rule actions, change
the database: read-only mode hides them. The list reloads by itself when an alert fires, resolves or is
acknowledged anywhere (the app's alert watcher says so).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import ContentSwitcher, Footer, Header, Label, Static

from driftmgr_tui.alerts.view import AlertRows, RuleRows, alert_detail, counts_line, describe_condition
from driftmgr_tui.screens.common import ConfirmScreen, SectionScreen
from driftmgr_tui.widgets.item_table import ItemTable

LIST_LIMIT = 500
ALERT_ACTIONS = frozenset({"acknowledge", "resolve", "toggle_filter"})
RULE_ACTIONS = frozenset({"toggle_rule", "test_rule"})


class AlertsScreen(SectionScreen):
    SECTION = "alerts"
    TITLE = "driftmgr · Alerts"
    DESTRUCTIVE: ClassVar[frozenset[str]] = frozenset({"acknowledge", "resolve", "toggle_rule", "test_rule"})
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "back", "Back"),
        Binding("l", "switch_list", "Alerts/rules"),
        Binding("f", "toggle_filter", "Open/all"),
        Binding("a", "acknowledge", "Acknowledge"),
        Binding("x", "resolve", "Resolve"),
        Binding("e", "toggle_rule", "Enable/disable"),
        Binding("t", "test_rule", "Test"),
        Binding("r", "reload", "Refresh"),
    ]
    DEFAULT_CSS = """
    AlertsScreen #alerts-summary { height: auto; padding: 0 1; background: $boost; }
    AlertsScreen ContentSwitcher { height: 1fr; }
    AlertsScreen #alerts-status { height: 1; padding: 0 1; color: $text-muted; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.status_filter = "open"  # or "all"
        self.alerts = AlertRows([])
        self.rules = RuleRows([])
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading…", id="alerts-summary")
        with ContentSwitcher(initial="alert-list"):
            yield ItemTable(None, id="alert-list")
            yield ItemTable(None, id="rule-list")
        yield Static("", id="alerts-status")
        yield Footer()

    def on_mount(self) -> None:
        watch = getattr(self.app, "alert_watch", None)
        if watch is not None:
            watch.changed.subscribe(self, lambda _count: self.load())
        self.query_one("#alert-list", ItemTable).focus()
        self.load()

    def on_screen_resume(self) -> None:
        if self.loaded:
            self.load()

    @property
    def showing_rules(self) -> bool:
        return self.query_one(ContentSwitcher).current == "rule-list"

    # -- loading ----------------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="load", name="loading the alerts")
    def load(self) -> None:
        service = self.app.hub.alerts
        alerts = service.list_alerts(status=self.status_filter, limit=LIST_LIMIT)
        opened = alerts if self.status_filter == "open" else [a for a in alerts if a["status"] != "resolved"]
        rules = service.list_rules()
        self.app.call_from_thread(self._show, alerts, opened, rules)

    def _show(self, alerts: list[dict[str, Any]], opened: list[dict[str, Any]],
              rules: list[dict[str, Any]]) -> None:
        self.loaded = True
        self.alerts, self.rules = AlertRows(alerts), RuleRows(rules)
        self.query_one("#alert-list", ItemTable).set_model(self.alerts)
        self.query_one("#rule-list", ItemTable).set_model(self.rules)
        shown = "open alerts" if self.status_filter == "open" else "every alert"
        enabled = sum(1 for r in rules if r["enabled"])
        summary = f"[b]{counts_line(opened)}[/] · showing {shown} · {len(rules)} rule(s), {enabled} enabled"
        if not rules:
            summary += ("\nNo alert rules yet: they are evaluated after every scan. Add one with "
                        "[b]driftmgr alerts rule add NAME --kind drift_count --threshold 0[/].")
        elif not alerts:
            summary += "\nNothing to show" + (": f shows resolved alerts too." if self.status_filter == "open"
                                              else ".")
        self.query_one("#alerts-summary", Static).update(summary)
        self._update_status()

    def _update_status(self) -> None:
        if self.showing_rules:
            rule = self._current_rule()
            text = f"rule {rule['id']}: {describe_condition(rule)}" if rule else ""
        else:
            alert = self._current_alert()
            text = f"alert {alert['id']}: {alert['title']}" if alert else ""
        self.query_one("#alerts-status", Static).update(escape(" ".join(text.split())))

    def on_item_table_highlighted(self, event: ItemTable.Highlighted) -> None:
        self._update_status()

    def on_item_table_selected(self, event: ItemTable.Selected) -> None:
        if event.table.id == "alert-list" and 0 <= event.index < len(self.alerts):
            self.app.push_screen(AlertDetailScreen(self.alerts.alerts[event.index]))

    def _current_alert(self) -> dict[str, Any] | None:
        index = self.query_one("#alert-list", ItemTable).cursor_row
        return dict(self.alerts.alerts[index]) if 0 <= index < len(self.alerts) else None

    def _current_rule(self) -> dict[str, Any] | None:
        index = self.query_one("#rule-list", ItemTable).cursor_row
        return dict(self.rules.rules[index]) if 0 <= index < len(self.rules) else None

    # -- keys -------------------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.is_mounted and ((action in ALERT_ACTIONS and self.showing_rules)
                                or (action in RULE_ACTIONS and not self.showing_rules)):
            return False  # the other list's keys: hidden from the footer
        return super().check_action(action, parameters)

    def action_back(self) -> None:
        self.app.action_alerts()

    def action_reload(self) -> None:
        self.load()

    def action_switch_list(self) -> None:
        switcher = self.query_one(ContentSwitcher)
        switcher.current = "alert-list" if self.showing_rules else "rule-list"
        self.query_one(f"#{switcher.current}", ItemTable).focus()
        self.refresh_bindings()
        self._update_status()

    def action_toggle_filter(self) -> None:
        self.status_filter = "all" if self.status_filter == "open" else "open"
        self.load()

    def action_acknowledge(self) -> None:
        alert = self._current_alert()
        if alert is None:
            self.notify("no alert selected", severity="warning")
        elif alert["status"] == "resolved":
            self.notify(f"alert {alert['id']} is resolved; nothing to acknowledge", severity="warning")
        elif alert["status"] == "acknowledged":
            self.notify(f"alert {alert['id']} was acknowledged by {alert['acknowledged_by']}")
        else:
            self._change(alert["id"], "acknowledge")

    def action_resolve(self) -> None:
        alert = self._current_alert()
        if alert is None:
            self.notify("no alert selected", severity="warning")
            return
        if alert["status"] == "resolved":
            self.notify(f"alert {alert['id']} is resolved already")
            return
        preview = (f"{alert['title']}\n\nResolving closes the alert now. If its condition still holds at the "
                   "next scan, a new alert fires.")
        self.app.push_screen(ConfirmScreen(f"Resolve alert {alert['id']}?", preview, action="Resolve"),
                             lambda ok: self._change(alert["id"], "resolve") if ok else None)

    @work(thread=True, exit_on_error=False, group="change", name="changing the alert")
    def _change(self, alert_id: int, how: str) -> None:
        service = self.app.hub.alerts
        if how == "acknowledge":
            alert = service.acknowledge(alert_id)
            message = f"alert {alert_id} acknowledged by {alert['acknowledged_by']}"
        else:
            service.resolve(alert_id)
            message = f"alert {alert_id} resolved"
        self.app.call_from_thread(self.notify, message)
        self.app.call_from_thread(self.load)

    def action_toggle_rule(self) -> None:
        rule = self._current_rule()
        if rule is None:
            self.notify("no rule selected", severity="warning")
            return
        self._toggle_rule(rule["id"], not rule["enabled"])

    @work(thread=True, exit_on_error=False, group="change", name="changing the rule")
    def _toggle_rule(self, rule_id: int, enable: bool) -> None:
        service = self.app.hub.alerts
        rule = service.enable_rule(rule_id) if enable else service.disable_rule(rule_id)
        state = "enabled" if enable else "disabled (its open alerts stay open until resolved)"
        self.app.call_from_thread(self.notify, f"alert rule {rule_id} ({rule['name']}) {state}")
        self.app.call_from_thread(self.load)

    def action_test_rule(self) -> None:
        rule = self._current_rule()
        if rule is None:
            self.notify("no rule selected", severity="warning")
            return
        self.notify(f"sending a test notification through {', '.join(rule['channels'])}…")
        self._test_rule(rule["id"])

    @work(thread=True, exit_on_error=False, group="test", name="testing the rule")
    def _test_rule(self, rule_id: int) -> None:
        result = self.app.hub.alerts.test_rule(rule_id)
        webhook = result["channels"].get("webhook")
        if webhook is None:
            return  # the app (and bell) channels: the watcher shows the test notification itself
        if webhook["ok"]:
            message, severity = f"webhook {webhook['target']}: delivered", "information"
        else:
            message = (f"webhook {webhook['target']}: not delivered after {len(webhook['attempts'])} "
                       f"attempt(s): {webhook['error']}")
            severity = "error"
        self.app.call_from_thread(self.notify, message, severity=severity, markup=False)


class AlertDetailScreen(ModalScreen[None]):
    """Every field of one alert: what fired, on which report or run, who acknowledged it, where it was
    sent."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape,enter", "dismiss", "Close"),
    ]
    DEFAULT_CSS = """
    AlertDetailScreen { align: center middle; }
    AlertDetailScreen > Vertical { width: 100; max-width: 95%; height: auto; max-height: 90%;
                                   border: thick $primary; background: $surface; padding: 0 1; }
    AlertDetailScreen #alert-title { text-style: bold; padding: 1 0; }
    AlertDetailScreen VerticalScroll { height: auto; max-height: 30; }
    AlertDetailScreen #alert-message { padding: 1 0 0 0; }
    """

    def __init__(self, alert: dict[str, Any]) -> None:
        super().__init__()
        self.alert = alert

    def compose(self) -> ComposeResult:
        fields = "\n".join(f"[b]{label:>15}[/]  {escape(value)}" for label, value in alert_detail(self.alert))
        with Vertical():
            yield Label(f"Alert {self.alert['id']}: {escape(self.alert['title'])}", id="alert-title")
            with VerticalScroll():
                yield Static(fields, id="alert-fields")
                if self.alert.get("message"):
                    yield Static(escape(self.alert["message"]), id="alert-message")
            yield Label("[dim]esc: close[/]")
