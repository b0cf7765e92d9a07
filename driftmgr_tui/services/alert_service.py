"""AlertService: alert rules, their evaluation after every scan, and the alerts they raise.

After a drift report is saved (``DriftService.detect`` calls :meth:`AlertService.evaluate_report`), every
enabled rule of the report's environment (or of every environment) is evaluated:

- the condition holds and no alert is open for (rule, environment): a new alert fires and is notified;
- it holds and one is open (firing or acknowledged): that alert is kept, with the new value and message
  (no second notification);
- it no longer holds: the open alert is resolved.

A discovery run that failed, finished partially or was cancelled is a scan_failed condition: evaluated from the
report's discovery runs, or directly with :meth:`evaluate_run` when a scan ended without a report.

Notifications: an ``alert.fired`` / ``alert.resolved`` event on the bus (persisted, so a TUI in another process
sees it; the event says whether the rule asks for the terminal bell), and a webhook when the rule has the
webhook channel. The webhook URL is a secret: the table holds only its keyring reference. Every notification
attempt is recorded in the alert's ``deliveries``; a webhook that cannot be reached is reported
(``alert.delivery_failed``), never raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from driftmgr_tui.alerts import rules as alert_rules
from driftmgr_tui.alerts.notify import (
    DEFAULT_ATTEMPTS,
    DEFAULT_BACKOFF,
    DEFAULT_TIMEOUT,
    WebhookResult,
    post_webhook,
    validate_webhook_url,
    webhook_body,
)
from driftmgr_tui.core.db import session_scope
from driftmgr_tui.core.errors import DriftmgrError, UsageError
from driftmgr_tui.core.events import EventBus, decode_json, encode_json
from driftmgr_tui.core.models import Alert, AlertRule, DiscoveryRun, current_actor, utcnow
from driftmgr_tui.core.settings import Settings
from driftmgr_tui.drift.model import SEVERITY_RANK
from driftmgr_tui.services.base import ServiceBase

log = logging.getLogger(__name__)

OPEN_STATUSES = ("firing", "acknowledged")
ALERT_STATUSES = ("firing", "acknowledged", "resolved")
STATUS_FILTERS = (*ALERT_STATUSES, "open", "all")


@dataclass(frozen=True)
class AlertChange:
    """What an evaluation did to one alert: ``fired``, ``updated`` (still open) or ``resolved``."""

    action: str
    alert: dict[str, Any]


@dataclass(frozen=True)
class ScanFailure:
    """A scan that failed without a discovery run to show for it (states unreadable, credentials refused):
    evaluated by scan_failed rules like a failed run."""

    error: str
    status: str = "failed"
    id: int | None = None
    provider: str | None = None
    failed_tasks: int = 0
    task_count: int = 0


class AlertService(ServiceBase):
    def __init__(self, settings: Settings | None = None, engine: Engine | None = None,
                 bus: EventBus | None = None, sleep: Callable[[float], None] = time.sleep, *,
                 webhook_attempts: int = DEFAULT_ATTEMPTS, webhook_timeout: float = DEFAULT_TIMEOUT,
                 webhook_backoff: float = DEFAULT_BACKOFF) -> None:
        self._settings = settings
        self._engine = engine
        self._bus = bus
        self.sleep = sleep
        self.webhook_attempts = webhook_attempts
        self.webhook_timeout = webhook_timeout
        self.webhook_backoff = webhook_backoff

    # -- rules ------------------------------------------------------------------------------------------
    def add_rule(self, name: str, kind: str, *, environment: str | None = None, threshold: float | None = None,
                 severity: str | None = None, drift_kind: str | None = None,
                 channels: Iterable[str] | None = None, webhook_url: str | None = None) -> dict[str, Any]:
        """Create a rule. ``webhook_url`` goes to the OS keyring; the table keeps only its reference."""
        from driftmgr_tui.core.secrets import delete_secret, new_ref, set_secret

        name = (name or "").strip()
        if not name:
            raise UsageError("an alert rule needs a name")
        environment = (environment or "").strip() or None
        if webhook_url is not None:
            webhook_url = validate_webhook_url(webhook_url)
        chosen = tuple(channels) if channels else (("app", "webhook") if webhook_url else ("app",))
        fields = alert_rules.validate_rule(kind, threshold=threshold, severity=severity, drift_kind=drift_kind,
                                           channels=chosen, has_webhook=webhook_url is not None)
        with session_scope(self.engine) as session:
            if session.exec(select(AlertRule).where(AlertRule.name == name)).first() is not None:
                raise UsageError(f"an alert rule named {name!r} exists",
                                 hint="`driftmgr alerts rule list` lists them; choose another name")
        ref = None
        if webhook_url is not None:
            ref = new_ref("webhook")
            set_secret(ref, webhook_url)  # KeyringUnavailable here: nothing stored anywhere
        try:
            with session_scope(self.engine) as session:
                row = AlertRule(name=name, environment=environment, kind=fields.kind, threshold=fields.threshold,
                                severity=fields.severity, drift_kind=fields.drift_kind,
                                channels=encode_json(list(fields.channels)), webhook_ref=ref)
                session.add(row)
                session.flush()
                result = rule_json(row)
        except BaseException as exc:
            if ref is not None:
                try:
                    delete_secret(ref)
                except DriftmgrError as cleanup:
                    log.warning("could not remove secret %s after a failed rule insert: %s", ref, cleanup)
            if isinstance(exc, sa.exc.IntegrityError):
                raise UsageError(f"an alert rule named {name!r} exists") from None
            raise
        log.info("alert rule %s (%s) added", result["id"], name)
        return result

    def list_rules(self, environment: str | None = None) -> list[dict[str, Any]]:
        """Every rule, or the rules that apply to ``environment`` (its own and the every-environment ones)."""
        with session_scope(self.engine) as session:
            query = select(AlertRule).order_by(col(AlertRule.id))
            if environment is not None:
                query = query.where(sa.or_(col(AlertRule.environment) == environment,
                                           col(AlertRule.environment).is_(None)))
            return [rule_json(r) for r in session.exec(query).all()]

    def get_rule(self, rule_id: int) -> dict[str, Any]:
        with session_scope(self.engine) as session:
            return rule_json(self._rule_row(session, rule_id))

    def remove_rule(self, rule_id: int) -> dict[str, Any]:
        """Delete a rule, its alerts and its keyring secret. The returned rule has ``secret_left`` set to the
        reference when the keyring could not be reached (the secret is still there; delete it by hand)."""
        from driftmgr_tui.core.secrets import delete_secret

        with session_scope(self.engine) as session:
            row = self._rule_row(session, rule_id)
            result = rule_json(row)
            session.execute(sa.delete(Alert).where(col(Alert.rule_id) == rule_id))
            session.delete(row)
        result["secret_left"] = None
        if result["webhook_ref"]:
            try:
                delete_secret(result["webhook_ref"])
            except DriftmgrError as exc:
                log.warning("alert rule %s removed; its secret %s stays in the keyring: %s", rule_id,
                            result["webhook_ref"], exc)
                result["secret_left"] = result["webhook_ref"]
        return result

    def enable_rule(self, rule_id: int) -> dict[str, Any]:
        return self._set_enabled(rule_id, True)

    def disable_rule(self, rule_id: int) -> dict[str, Any]:
        """Stop evaluating a rule. Its open alerts stay open (resolve them with :meth:`resolve`)."""
        return self._set_enabled(rule_id, False)

    def _set_enabled(self, rule_id: int, enabled: bool) -> dict[str, Any]:
        with session_scope(self.engine) as session:
            row = self._rule_row(session, rule_id)
            row.enabled = enabled
            session.add(row)
            return rule_json(row)

    @staticmethod
    def _rule_row(session: Any, rule_id: int) -> AlertRule:
        row = session.get(AlertRule, rule_id)
        if row is None:
            raise UsageError(f"no alert rule {rule_id}", hint="`driftmgr alerts rule list` lists them")
        return row

    def _enabled_rules(self, environment: str) -> list[AlertRule]:
        with session_scope(self.engine) as session:
            return list(session.exec(
                select(AlertRule).where(col(AlertRule.enabled).is_(True),
                                        sa.or_(col(AlertRule.environment) == environment,
                                               col(AlertRule.environment).is_(None)))
                .order_by(col(AlertRule.id))).all())

    # -- evaluation -------------------------------------------------------------------------------------
    def evaluate_report(self, report: Mapping[str, Any]) -> list[AlertChange]:
        """Evaluate every enabled rule of the report's environment against a saved report (its JSON); fire,
        keep or resolve alerts, then notify. Returns what changed."""
        environment = str(report.get("environment") or "default")
        rules = self._enabled_rules(environment)
        if not rules:
            return []
        runs: list[DiscoveryRun] | None = None
        changes: list[tuple[AlertRule, AlertChange]] = []
        for rule in rules:
            if rule.kind == "scan_failed":
                run_ids = (report.get("sources") or {}).get("discovery_runs") or []
                if not run_ids:
                    continue  # a Terraform-engine report says nothing about discovery
                if runs is None:
                    runs = self._runs(run_ids)
                condition, run_id = _worst_run_condition(rule, runs)
                change = self._apply(rule, environment, condition, report_id=report.get("id"), run_id=run_id)
            else:
                change = self._apply(rule, environment, alert_rules.evaluate(rule, report),
                                     report_id=report.get("id"), run_id=None)
            if change is not None:
                changes.append((rule, change))
        return self._notify(changes)

    def evaluate_run(self, run: Any, environment: str) -> list[AlertChange]:
        """Evaluate the environment's scan_failed rules against one discovery run (a RunView, a DiscoveryRun
        row, or a :class:`ScanFailure`): a failed run fires, a complete one resolves."""
        changes: list[tuple[AlertRule, AlertChange]] = []
        for rule in self._enabled_rules(environment):
            if rule.kind != "scan_failed":
                continue
            condition = alert_rules.evaluate_run(rule, run)
            change = self._apply(rule, environment, condition, report_id=None, run_id=getattr(run, "id", None))
            if change is not None:
                changes.append((rule, change))
        return self._notify(changes)

    def _runs(self, run_ids: Iterable[int]) -> list[DiscoveryRun]:
        ids = [int(i) for i in run_ids]
        with session_scope(self.engine) as session:
            return list(session.exec(select(DiscoveryRun).where(col(DiscoveryRun.id).in_(ids))
                                     .order_by(col(DiscoveryRun.id))).all())

    def _apply(self, rule: AlertRule, environment: str, condition: alert_rules.Condition | None, *,
               report_id: int | None, run_id: int | None) -> AlertChange | None:
        """Fire, update or resolve the rule's open alert for ``environment``. Two scans evaluating at once
        cannot both open one: the database allows one open alert per (rule, environment), and the scan that
        loses the race updates the alert the other one opened."""
        try:
            return self._apply_once(rule, environment, condition, report_id=report_id, run_id=run_id)
        except sa.exc.IntegrityError:
            return self._apply_once(rule, environment, condition, report_id=report_id, run_id=run_id)

    def _apply_once(self, rule: AlertRule, environment: str, condition: alert_rules.Condition | None, *,
                    report_id: int | None, run_id: int | None) -> AlertChange | None:
        now = utcnow()
        with session_scope(self.engine) as session:
            current = session.exec(
                select(Alert).where(Alert.rule_id == rule.id, Alert.environment == environment,
                                    col(Alert.status).in_(OPEN_STATUSES))
                .order_by(col(Alert.id).desc())).first()
            if condition is None:
                if current is None:
                    return None
                current.status = "resolved"
                current.resolved_at = now
                current.updated_at = now
                session.add(current)
                session.flush()
                log.info("alert %s resolved: %s", current.id, current.title)
                return AlertChange("resolved", alert_json(current, rule.name))
            if current is None:
                assert rule.id is not None
                current = Alert(rule_id=rule.id, environment=environment, status="firing",
                                severity=condition.severity, title=condition.title, message=condition.message,
                                value=condition.value, report_id=report_id, run_id=run_id, created_at=now,
                                updated_at=now)
                session.add(current)
                session.flush()
                log.info("alert %s fired (%s): %s", current.id, condition.severity, condition.title)
                return AlertChange("fired", alert_json(current, rule.name))
            current.severity = condition.severity
            current.title = condition.title
            current.message = condition.message
            current.value = condition.value
            current.report_id = report_id if report_id is not None else current.report_id
            current.run_id = run_id if run_id is not None else current.run_id
            current.updated_at = now
            session.add(current)
            session.flush()
            return AlertChange("updated", alert_json(current, rule.name))

    # -- notification -----------------------------------------------------------------------------------
    def _notify(self, changes: list[tuple[AlertRule, AlertChange]]) -> list[AlertChange]:
        out: list[AlertChange] = []
        for rule, change in changes:
            channels = decode_json(rule.channels) or ["app"]
            payload = {**_event_fields(change.alert), "channels": channels, "bell": "bell" in channels}
            if change.action == "updated":
                self.bus.publish("alert.updated", payload, persist=False)
                out.append(change)
                continue
            event = self.bus.publish(f"alert.{change.action}", payload)
            if change.action != "fired":
                out.append(change)
                continue
            deliveries: list[dict[str, Any]] = [
                {"channel": channel, "at": event.time.isoformat(), "event_id": event.id, "ok": True}
                for channel in channels if channel in ("app", "bell")
            ]
            if "webhook" in channels:
                result = self._send_webhook(rule, webhook_body(change.alert))
                deliveries += result.attempts
                if not result.delivered:
                    self._delivery_failed(rule, change.alert, result)
            alert = self._record_deliveries(change.alert["id"], deliveries, rule.name)
            out.append(AlertChange(change.action, alert))
        return out

    def _send_webhook(self, rule: AlertRule, body: dict[str, Any]) -> WebhookResult:
        from driftmgr_tui.core.secrets import get_secret

        if not rule.webhook_ref:
            return WebhookResult(target="(none)", attempts=[_failed_attempt("(none)", "the rule has no webhook")])
        try:
            url = get_secret(rule.webhook_ref)
        except DriftmgrError as exc:
            log.warning("alert rule %s: webhook URL unavailable: %s", rule.id, exc)
            return WebhookResult(target="(keyring)", attempts=[_failed_attempt("(keyring)", exc.message)])
        return post_webhook(url, body, attempts=self.webhook_attempts, timeout=self.webhook_timeout,
                            backoff=self.webhook_backoff, sleep=self.sleep)

    def _delivery_failed(self, rule: AlertRule, alert: Mapping[str, Any], result: WebhookResult) -> None:
        self.bus.publish("alert.delivery_failed", {
            "alert_id": alert.get("id"), "rule_id": rule.id, "rule": rule.name,
            "environment": alert.get("environment"), "title": alert.get("title"), "channel": "webhook",
            "target": result.target, "attempts": len(result.attempts), "error": result.error,
            "deliveries": result.attempts,
        })

    def _record_deliveries(self, alert_id: int, deliveries: list[dict[str, Any]], rule_name: str) -> dict[str, Any]:
        with session_scope(self.engine) as session:
            row = session.get(Alert, alert_id)
            if row is None:  # removed meanwhile (its rule was deleted)
                return {"id": alert_id, "deliveries": deliveries}
            row.deliveries = encode_json([*(decode_json(row.deliveries) or []), *deliveries])
            session.add(row)
            session.flush()
            return alert_json(row, rule_name)

    def test_rule(self, rule_id: int) -> dict[str, Any]:
        """Send a test notification through every channel of a rule. Nothing is stored on an alert; the
        result says what was delivered (``ok`` False when the webhook could not be reached)."""
        with session_scope(self.engine) as session:
            rule = self._rule_row(session, rule_id)
        channels = decode_json(rule.channels) or ["app"]
        alert = {"id": None, "rule_id": rule.id, "rule": rule.name,
                 "environment": rule.environment or "(every environment)", "status": "test",
                 "severity": rule.severity or "info", "title": f"test notification from alert rule {rule.name}",
                 "message": "driftmgr can reach this channel.", "value": None, "report_id": None,
                 "run_id": None, "created_at": utcnow().isoformat(), "updated_at": None}
        event = self.bus.publish("alert.test", {**alert, "channels": channels, "bell": "bell" in channels})
        result: dict[str, Any] = {"rule": rule_json(rule), "channels": {}, "ok": True}
        for channel in channels:
            if channel in ("app", "bell"):
                result["channels"][channel] = {"ok": True, "event_id": event.id}
        if "webhook" in channels:
            sent = self._send_webhook(rule, webhook_body(alert, event="test"))
            result["channels"]["webhook"] = {"ok": sent.delivered, "target": sent.target, "error": sent.error,
                                             "attempts": sent.attempts}
            if not sent.delivered:
                result["ok"] = False
                self._delivery_failed(rule, alert, sent)
        return result

    # -- alerts -----------------------------------------------------------------------------------------
    def list_alerts(self, status: str | None = None, environment: str | None = None, *,
                    rule_id: int | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Alerts, newest first. ``status``: firing | acknowledged | resolved | open (firing or acknowledged) |
        all (default)."""
        status = status or "all"
        if status not in STATUS_FILTERS:
            raise UsageError(f"unknown alert status {status!r}: choose {', '.join(STATUS_FILTERS)}")
        query = (select(Alert, AlertRule.name).join(AlertRule, col(AlertRule.id) == col(Alert.rule_id))
                 .order_by(col(Alert.id).desc()).limit(limit))
        if status == "open":
            query = query.where(col(Alert.status).in_(OPEN_STATUSES))
        elif status != "all":
            query = query.where(Alert.status == status)
        if environment is not None:
            query = query.where(Alert.environment == environment)
        if rule_id is not None:
            query = query.where(Alert.rule_id == rule_id)
        with session_scope(self.engine) as session:
            return [alert_json(alert, name) for alert, name in session.exec(query).all()]

    def get_alert(self, alert_id: int) -> dict[str, Any]:
        with session_scope(self.engine) as session:
            alert, rule = self._alert_row(session, alert_id)
            return alert_json(alert, rule.name)

    def acknowledge(self, alert_id: int, actor: str | None = None) -> dict[str, Any]:
        """firing -> acknowledged (someone is on it). Acknowledging twice keeps the first; a resolved alert
        cannot be acknowledged."""
        with session_scope(self.engine) as session:
            alert, rule = self._alert_row(session, alert_id)
            if alert.status == "resolved":
                raise UsageError(f"alert {alert_id} is resolved; nothing to acknowledge")
            if alert.status == "acknowledged":
                return alert_json(alert, rule.name)
            now = utcnow()
            alert.status = "acknowledged"
            alert.acknowledged_by = actor or current_actor()
            alert.acknowledged_at = now
            alert.updated_at = now
            session.add(alert)
            session.flush()
            result = alert_json(alert, rule.name)
        self.bus.publish("alert.acknowledged", _event_fields(result))
        return result

    def resolve(self, alert_id: int, actor: str | None = None) -> dict[str, Any]:
        """Close an alert by hand. If its condition still holds at the next scan, a new alert fires."""
        with session_scope(self.engine) as session:
            alert, rule = self._alert_row(session, alert_id)
            if alert.status == "resolved":
                return alert_json(alert, rule.name)
            now = utcnow()
            alert.status = "resolved"
            alert.resolved_at = now
            alert.updated_at = now
            session.add(alert)
            session.flush()
            result = alert_json(alert, rule.name)
        self.bus.publish("alert.resolved", {**_event_fields(result), "by": actor or current_actor()})
        return result

    @staticmethod
    def _alert_row(session: Any, alert_id: int) -> tuple[Alert, AlertRule]:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise UsageError(f"no alert {alert_id}", hint="`driftmgr alerts list` lists them")
        rule = session.get(AlertRule, alert.rule_id)
        assert rule is not None  # alert.rule_id is a foreign key
        return alert, rule


def _worst_run_condition(rule: AlertRule, runs: Iterable[Any]) -> tuple[alert_rules.Condition | None, int | None]:
    found = [(c, getattr(run, "id", None)) for run in runs if (c := alert_rules.evaluate_run(rule, run))]
    if not found:
        return None, None
    return min(found, key=lambda pair: SEVERITY_RANK.get(pair[0].severity, 99))


def _failed_attempt(target: str, error: str) -> dict[str, Any]:
    return {"channel": "webhook", "target": target, "attempt": 1, "at": utcnow().isoformat(), "status": None,
            "error": error, "duration": 0.0, "ok": False}


def rule_json(row: AlertRule) -> dict[str, Any]:
    """A rule as the CLI and the TUI show it: the webhook only as its keyring reference, never the URL."""
    return {
        "id": row.id, "name": row.name, "environment": row.environment, "kind": row.kind,
        "threshold": row.threshold, "severity": row.severity, "drift_kind": row.drift_kind,
        "channels": decode_json(row.channels) or [], "webhook_ref": row.webhook_ref, "enabled": row.enabled,
        "created_at": row.created_at.isoformat() if row.created_at else None, "created_by": row.created_by,
    }


def alert_json(row: Alert, rule_name: str | None = None) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": row.id, "rule_id": row.rule_id, "rule": rule_name, "environment": row.environment,
        "status": row.status, "severity": row.severity, "title": row.title, "message": row.message,
        "value": row.value, "report_id": row.report_id, "run_id": row.run_id, "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at), "acknowledged_by": row.acknowledged_by,
        "acknowledged_at": iso(row.acknowledged_at), "resolved_at": iso(row.resolved_at),
        "deliveries": decode_json(row.deliveries) or [],
    }


def _event_fields(alert: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in alert.items() if k != "deliveries"}
