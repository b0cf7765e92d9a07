"""What the terminal UI shows of alerts and rules: table rows (for the UI's ItemTable), an alert's detail, a
rule's condition in words, and the notification an alert event makes. Pure: the dicts come from
:class:`~driftmgr_tui.services.alert_service.AlertService` (``alert_json``, ``rule_json``) or from the payload
of an ``alert.*`` event."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ALERT_COLUMNS: tuple[tuple[str, int | None], ...] = (
    ("ID", 5), ("Status", 12), ("Severity", 8), ("Env", 10), ("Rule", 12), ("Alert", None), ("Since", 16),
    ("Ack by", 14),
)
# hidden first when the table is narrow, so the alert's title keeps its room: ack by, rule, since, env
ALERT_DROP_ORDER = (7, 4, 6, 3)

RULE_COLUMNS: tuple[tuple[str, int | None], ...] = (
    ("ID", 4), ("Name", 16), ("Env", 12), ("Condition", None), ("Channels", 18), ("Enabled", 7),
)
RULE_DROP_ORDER = (2, 4)

# notification severity and how long it stays, by alert severity
TOAST_SEVERITY = {"critical": "error", "high": "error", "medium": "warning", "low": "warning",
                  "info": "warning"}
TOAST_TIMEOUT = {"critical": 60.0, "high": 20.0}
DEFAULT_TOAST_TIMEOUT = 10.0
QUIET_TIMEOUT = 5.0


def when(iso: str | None) -> str:
    """``2025-03-08T09:30:12+00:00`` -> ``2025-03-08 09:30`` (UTC, as the CLI prints it)."""
    return (iso or "")[:16].replace("T", " ")


def one_line(text: Any) -> str:
    return " ".join(str(text or "").split())


def describe_condition(rule: Mapping[str, Any]) -> str:
    """A rule's condition in words: ``more than 0 drifted items``, ``coverage below 95%``."""
    what = f"{rule['drift_kind']} " if rule.get("drift_kind") else ""
    if rule["kind"] == "drift_count":
        return f"more than {rule['threshold']:g} {what or 'drifted '}items"
    if rule["kind"] == "severity":
        return f"any {what}item at {rule['severity']} or above"
    if rule["kind"] == "coverage":
        return f"coverage below {rule['threshold']:g}%"
    return "a discovery run failed, was partial or cancelled"


class AlertRows:
    """Alerts as ItemTable rows (newest first, as the service lists them); row keys are alert ids."""

    columns = ALERT_COLUMNS
    drop_order = ALERT_DROP_ORDER
    styled_columns = (2,)  # the severity cell carries the style named after its value

    def __init__(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        self.alerts = list(alerts)
        self._index = {a["id"]: i for i, a in enumerate(self.alerts)}

    def __len__(self) -> int:
        return len(self.alerts)

    def row(self, index: int) -> tuple[str, ...]:
        a = self.alerts[index]
        return (str(a["id"]), a["status"], a["severity"], a["environment"], a.get("rule") or "",
                one_line(a["title"]), when(a.get("created_at")), a.get("acknowledged_by") or "")

    def item_id(self, index: int) -> int:
        return int(self.alerts[index]["id"])

    def find(self, item_id: Any) -> int | None:
        return self._index.get(item_id)


class RuleRows:
    """Alert rules as ItemTable rows; row keys are rule ids."""

    columns = RULE_COLUMNS
    drop_order = RULE_DROP_ORDER

    def __init__(self, rules: Sequence[Mapping[str, Any]]) -> None:
        self.rules = list(rules)
        self._index = {r["id"]: i for i, r in enumerate(self.rules)}

    def __len__(self) -> int:
        return len(self.rules)

    def row(self, index: int) -> tuple[str, ...]:
        r = self.rules[index]
        return (str(r["id"]), r["name"], r["environment"] or "all", describe_condition(r),
                ", ".join(r["channels"]), "yes" if r["enabled"] else "no")

    def item_id(self, index: int) -> int:
        return int(self.rules[index]["id"])

    def find(self, item_id: Any) -> int | None:
        return self._index.get(item_id)


def counts_line(alerts: Sequence[Mapping[str, Any]]) -> str:
    """``2 open: 1 firing, 1 acknowledged`` for the alerts given (open ones counted)."""
    firing = sum(1 for a in alerts if a["status"] == "firing")
    acknowledged = sum(1 for a in alerts if a["status"] == "acknowledged")
    if not firing and not acknowledged:
        return "no open alerts"
    return f"{firing + acknowledged} open: {firing} firing, {acknowledged} acknowledged"


def alert_detail(alert: Mapping[str, Any]) -> list[tuple[str, str]]:
    """An alert's fields as (label, value) lines, in reading order; empty fields left out."""
    lines: list[tuple[str, str]] = [
        ("status", alert["status"]),
        ("severity", alert["severity"]),
        ("environment", alert["environment"]),
        ("rule", f"{alert.get('rule') or ''} (rule {alert['rule_id']})"),
    ]
    if alert.get("value") is not None:
        lines.append(("value", f"{alert['value']:g}"))
    if alert.get("report_id") is not None:
        lines.append(("report", f"{alert['report_id']} (driftmgr drift show {alert['report_id']})"))
    if alert.get("run_id") is not None:
        lines.append(("discovery run", str(alert["run_id"])))
    lines.append(("fired", when(alert.get("created_at"))))
    if alert.get("updated_at") and alert.get("updated_at") != alert.get("created_at"):
        lines.append(("updated", when(alert["updated_at"])))
    if alert.get("acknowledged_by"):
        lines.append(("acknowledged", f"{when(alert.get('acknowledged_at'))} by {alert['acknowledged_by']}"))
    if alert.get("resolved_at"):
        lines.append(("resolved", when(alert["resolved_at"])))
    for delivery in alert.get("deliveries") or []:
        lines.append(("notified", delivery_line(delivery)))
    return lines


def delivery_line(delivery: Mapping[str, Any]) -> str:
    channel = delivery.get("channel", "?")
    at = when(delivery.get("at"))
    if channel != "webhook":
        return f"{channel} {at}"
    outcome = f"HTTP {delivery['status']}" if delivery.get("status") is not None else "no answer"
    if not delivery.get("ok"):
        outcome += f": {one_line(delivery.get('error'))}" if delivery.get("error") else " (failed)"
    return f"webhook {delivery.get('target', '')} attempt {delivery.get('attempt', 1)} {at}: {outcome}"


@dataclass(frozen=True)
class Toast:
    """The notification an alert event makes in the UI."""

    message: str
    title: str
    severity: str  # information | warning | error (Textual's notification severities)
    timeout: float
    bell: bool = False


def toast_for(kind: str, payload: Mapping[str, Any]) -> Toast | None:
    """The notification for an ``alert.*`` event, or None for events the UI does not announce
    (``alert.updated``: an open alert re-evaluated; ``alert.acknowledged``: only the count changes)."""
    alert_id = payload.get("id", payload.get("alert_id"))
    severity = str(payload.get("severity") or "medium")
    env = payload.get("environment") or ""
    title = one_line(payload.get("title"))
    if kind == "alert.fired":
        return Toast(message=title, title=f"Alert {alert_id} · {severity} · {env}",
                     severity=TOAST_SEVERITY.get(severity, "warning"),
                     timeout=TOAST_TIMEOUT.get(severity, DEFAULT_TOAST_TIMEOUT),
                     bell=bool(payload.get("bell")))
    if kind == "alert.resolved":
        return Toast(message=title, title=f"Alert {alert_id} resolved", severity="information",
                     timeout=QUIET_TIMEOUT)
    if kind == "alert.test":
        return Toast(message=title, title=f"Test notification · {payload.get('rule') or ''}",
                     severity="information", timeout=DEFAULT_TOAST_TIMEOUT, bell=bool(payload.get("bell")))
    if kind == "alert.delivery_failed" and alert_id is not None:
        return Toast(message=f"webhook {payload.get('target')} not delivered after {payload.get('attempts')} "
                             f"attempt(s): {one_line(payload.get('error'))}",
                     title=f"Alert {alert_id}: notification failed", severity="warning",
                     timeout=DEFAULT_TOAST_TIMEOUT)
    return None
