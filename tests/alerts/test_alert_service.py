"""AlertService: alerts fire once, stay open, resolve when the condition clears; acknowledgement; rules per
environment; evaluation of real saved reports and through DriftService.detect; webhook notifications."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from driftmgr_tui.commands.alerts import Watcher, alerts_group, parse_interval, watch_cmd
from driftmgr_tui.commands.drift import scan_spec
from driftmgr_tui.core.db import open_database, session_scope
from driftmgr_tui.core.errors import UsageError
from driftmgr_tui.core.events import EventBus, EventRecord
from driftmgr_tui.core.models import DiscoveryRun
from driftmgr_tui.core.secrets import get_secret
from driftmgr_tui.core.settings import load_settings
from driftmgr_tui.drift.history import ReportMeta, save_report
from driftmgr_tui.drift.model import DetectionResult, FieldDiff, Finding
from driftmgr_tui.services.alert_service import AlertService, ScanFailure
from driftmgr_tui.services.drift_service import DetectOptions, DriftService
from tests._fixtures.moto import moto_set_auth
from tests.alerts import MemoryKeyring, item, keyring_backend, report, webhook_receiver


@pytest.fixture
def kr() -> Iterator[MemoryKeyring]:
    with keyring_backend() as backend:
        yield backend


@pytest.fixture
def events() -> list[EventRecord]:
    return []


@pytest.fixture
def delays() -> list[float]:
    return []


@pytest.fixture
def service(events: list[EventRecord], delays: list[float]) -> AlertService:
    settings = load_settings()
    engine = open_database(settings)
    bus = EventBus(engine)
    bus.subscribe(events.append, prefix="alert.")
    return AlertService(settings, engine, bus, sleep=delays.append)


def _types(events: list[EventRecord]) -> list[str]:
    return [e.type for e in events]


# ------------------------------------------------------------------------------------- fire, keep, resolve


def test_fires_once_stays_open_then_resolves(service: AlertService, events: list[EventRecord]) -> None:
    rule = service.add_rule("any-drift", "drift_count", threshold=0, channels=["app", "bell"])
    [fired] = service.evaluate_report(report(items=[item("changed", "high", 1)], report_id=1))
    assert fired.action == "fired"
    alert = fired.alert
    assert (alert["status"], alert["severity"], alert["environment"], alert["rule"], alert["report_id"]) == \
        ("firing", "high", "prod", "any-drift", 1)
    assert [d["channel"] for d in alert["deliveries"]] == ["app", "bell"]
    assert _types(events) == ["alert.fired"]
    assert events[0].payload["bell"] is True and events[0].payload["id"] == alert["id"]
    assert events[0].id is not None  # persisted: a TUI in another process sees it

    # still drifting, worse: the same alert, updated, not fired again
    [kept] = service.evaluate_report(report(items=[item("changed", "high", 1), item("missing", "critical", 2)],
                                            report_id=2))
    assert kept.action == "updated" and kept.alert["id"] == alert["id"]
    assert kept.alert["value"] == 2.0 and kept.alert["severity"] == "critical" and kept.alert["report_id"] == 2
    assert len(service.list_alerts(status="open")) == 1
    assert _types(events) == ["alert.fired", "alert.updated"]

    [resolved] = service.evaluate_report(report(report_id=3))
    assert resolved.action == "resolved" and resolved.alert["id"] == alert["id"]
    assert resolved.alert["resolved_at"] is not None
    assert service.list_alerts(status="open") == []
    assert [a["status"] for a in service.list_alerts()] == ["resolved"]
    assert _types(events)[-1] == "alert.resolved"
    # nothing open, nothing holding: nothing happens
    assert service.evaluate_report(report(report_id=4)) == []
    assert rule["id"] == resolved.alert["rule_id"]


def test_acknowledge_and_resolve_by_hand(service: AlertService, events: list[EventRecord]) -> None:
    service.add_rule("crit", "severity", severity="critical")
    [fired] = service.evaluate_report(report(items=[item("missing", "critical")]))
    alert_id = fired.alert["id"]

    acked = service.acknowledge(alert_id, actor="alice@host")
    assert acked["status"] == "acknowledged" and acked["acknowledged_by"] == "alice@host"
    assert acked["acknowledged_at"] is not None
    assert service.acknowledge(alert_id, actor="bob@host")["acknowledged_by"] == "alice@host"  # first one kept
    # acknowledged is still open: evaluation keeps it, does not fire another
    [kept] = service.evaluate_report(report(items=[item("missing", "critical")], report_id=2))
    assert kept.action == "updated" and kept.alert["status"] == "acknowledged"
    assert service.list_alerts(status="acknowledged")[0]["id"] == alert_id
    assert service.list_alerts(status="firing") == []

    resolved = service.resolve(alert_id)
    assert resolved["status"] == "resolved"
    assert service.resolve(alert_id)["resolved_at"] == resolved["resolved_at"]  # twice is harmless
    with pytest.raises(UsageError, match=f"alert {alert_id} is resolved"):
        service.acknowledge(alert_id)
    # resolved by hand while the condition still holds: the next scan fires a new alert
    [again] = service.evaluate_report(report(items=[item("missing", "critical")], report_id=3))
    assert again.action == "fired" and again.alert["id"] != alert_id
    assert "alert.acknowledged" in _types(events)
    with pytest.raises(UsageError, match="no alert 999"):
        service.acknowledge(999)
    with pytest.raises(UsageError, match="no alert 999"):
        service.resolve(999)


def test_rules_apply_to_their_environment(service: AlertService) -> None:
    service.add_rule("prod-only", "drift_count", threshold=0, environment="prod")
    service.add_rule("everywhere", "coverage", threshold=90)
    drifted = [item("unmanaged", "medium")]
    assert service.evaluate_report(report("staging", items=drifted, coverage=100.0)) == []
    changes = service.evaluate_report(report("staging", items=drifted, coverage=80.0))
    assert [(c.action, c.alert["rule"], c.alert["environment"]) for c in changes] == \
        [("fired", "everywhere", "staging")]
    changes = service.evaluate_report(report("prod", items=drifted, coverage=80.0))
    assert sorted((c.alert["rule"], c.alert["environment"]) for c in changes) == \
        [("everywhere", "prod"), ("prod-only", "prod")]
    # one open alert per (rule, environment)
    assert sorted((a["rule"], a["environment"]) for a in service.list_alerts(status="open")) == \
        [("everywhere", "prod"), ("everywhere", "staging"), ("prod-only", "prod")]
    assert [a["environment"] for a in service.list_alerts(environment="staging")] == ["staging"]
    assert [r["name"] for r in service.list_rules("staging")] == ["everywhere"]
    assert [r["name"] for r in service.list_rules("prod")] == ["prod-only", "everywhere"]


def test_disabled_rules_are_not_evaluated(service: AlertService) -> None:
    rule = service.add_rule("any", "drift_count", threshold=0)
    assert service.disable_rule(rule["id"])["enabled"] is False
    assert service.evaluate_report(report(items=[item("changed", "low")])) == []
    assert service.enable_rule(rule["id"])["enabled"] is True
    assert [c.action for c in service.evaluate_report(report(items=[item("changed", "low")]))] == ["fired"]
    with pytest.raises(UsageError, match="no alert rule 42"):
        service.disable_rule(42)


def test_rule_names_are_unique_and_validated(service: AlertService) -> None:
    service.add_rule("r", "scan_failed")
    with pytest.raises(UsageError, match="an alert rule named 'r' exists"):
        service.add_rule("r", "scan_failed")
    with pytest.raises(UsageError, match="needs a name"):
        service.add_rule("  ", "scan_failed")
    with pytest.raises(UsageError, match="unknown alert kind"):
        service.add_rule("x", "cost")
    assert [r["name"] for r in service.list_rules()] == ["r"]


def test_removing_a_rule_removes_its_alerts(service: AlertService) -> None:
    rule = service.add_rule("any", "drift_count", threshold=0)
    service.evaluate_report(report(items=[item("changed", "low")]))
    removed = service.remove_rule(rule["id"])
    assert removed["name"] == "any" and removed["secret_left"] is None
    assert service.list_alerts() == [] and service.list_rules() == []
    with pytest.raises(UsageError, match="no alert rule"):
        service.remove_rule(rule["id"])


# ------------------------------------------------------------------------------------- scan_failed


def _run(service: AlertService, status: str, error: str | None = None) -> int:
    with session_scope(service.engine) as session:
        run = DiscoveryRun(provider="aws", status=status, error=error, task_count=4,
                           failed_tasks=1 if status == "partial" else 0)
        session.add(run)
        session.flush()
        assert run.id is not None
        return run.id


def test_scan_failed_from_the_reports_runs_and_from_a_failed_scan(service: AlertService) -> None:
    service.add_rule("scans", "scan_failed", environment="prod")
    partial = _run(service, "partial", "1 of 4 tasks failed: ec2/eu-west-1: AccessDenied")
    [fired] = service.evaluate_report(report(runs=[partial]))
    assert fired.action == "fired" and fired.alert["run_id"] == partial
    assert fired.alert["title"] == f"aws discovery run {partial} partial (1 of 4 tasks failed)"
    assert "AccessDenied" in fired.alert["message"] and fired.alert["severity"] == "medium"
    # a Terraform-engine report (no discovery runs) says nothing either way
    assert service.evaluate_report(report(runs=[])) == []
    complete = _run(service, "complete")
    [resolved] = service.evaluate_report(report(runs=[complete]))
    assert resolved.action == "resolved"

    # a scan that ended without a report
    [failed] = service.evaluate_run(ScanFailure(error="no state at s3://bucket/prod.tfstate", provider="aws"),
                                    "prod")
    assert failed.action == "fired" and failed.alert["title"] == "aws scan failed"
    assert failed.alert["severity"] == "high"
    assert service.evaluate_run(ScanFailure(error="x"), "staging") == []  # the rule is prod's
    [cleared] = service.evaluate_run(service_run(service, complete), "prod")
    assert cleared.action == "resolved"


def service_run(service: AlertService, run_id: int) -> DiscoveryRun:
    with session_scope(service.engine) as session:
        run = session.get(DiscoveryRun, run_id)
        assert run is not None
        return run


# ------------------------------------------------------------------------------------- real reports


def _finding(kind: str, severity: str, n: int) -> Finding:
    return Finding(kind=kind, terraform_type="aws_security_group", terraform_id=f"sg-{n}", match_key=f"sg-{n}",
                   provider="aws", address=f"aws_security_group.g{n}" if kind != "unmanaged" else None,
                   region="us-east-1", severity=severity,
                   diffs=[FieldDiff("ingress", [], [{"from_port": 22}], "critical")] if kind == "changed" else [])


def test_evaluates_a_real_saved_report(service: AlertService) -> None:
    drift = DriftService(service.settings, service.engine)
    result = DetectionResult(findings=[_finding("changed", "critical", 1), _finding("unmanaged", "medium", 2)],
                             managed=8, changed=1, unmanaged=1, cloud_total=9)
    report_id = save_report(service.engine, result, ReportMeta(environment="prod", engine="native"))
    saved = drift.report(report_id)
    service.add_rule("crit", "severity", severity="high")
    service.add_rule("cov", "coverage", threshold=95)
    service.add_rule("unmanaged", "drift_count", threshold=0, drift_kind="unmanaged")
    changes = {c.alert["rule"]: c.alert for c in service.evaluate_report(saved)}
    assert set(changes) == {"crit", "cov", "unmanaged"}
    assert changes["crit"]["message"] == "critical changed aws_security_group.g1 (sg-1)"
    assert changes["cov"]["value"] == saved["summary"]["coverage"] == 88.89
    assert changes["unmanaged"]["value"] == 1.0 and changes["unmanaged"]["report_id"] == report_id


def _plan(path: Path, drifted: bool) -> Path:
    resource = {"address": "aws_security_group.web", "mode": "managed", "type": "aws_security_group",
                "name": "web", "provider_name": "registry.terraform.io/hashicorp/aws"}
    before = {"id": "sg-1", "name": "web", "ingress": []}
    after = {**before, "ingress": [{"from_port": 22, "to_port": 22, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"]}]}
    plan = {"format_version": "1.2", "terraform_version": "1.11.4", "planned_values": {"root_module": {}},
            "resource_drift": [{**resource, "change": {"actions": ["update"], "before": before, "after": after,
                                                       "before_sensitive": {}, "after_sensitive": {}}}]
            if drifted else [],
            "prior_state": {"values": {"root_module": {"resources": [{**resource, "values": {"id": "sg-1"}}]}}}}
    path.write_text(json.dumps(plan), encoding="utf-8")
    return path


def _state(path: Path) -> Path:
    state = {"version": 4, "terraform_version": "1.11.4", "serial": 1,
             "lineage": "5a0c1b7e-0000-4000-8000-000000000001", "outputs": {},
             "resources": [{"mode": "managed", "type": "aws_security_group", "name": "web",
                            "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
                            "instances": [{"schema_version": 1, "attributes": {"id": "sg-1", "name": "web",
                                                                                "ingress": []}}]}]}
    path.write_text(json.dumps(state), encoding="utf-8")
    return path


def test_detect_evaluates_alerts_after_saving_the_report(service: AlertService, tmp_path: Path,
                                                         kr: MemoryKeyring) -> None:
    drift = DriftService(service.settings, service.engine)
    spec = drift.environment("prod", states=(str(_state(tmp_path / "terraform.tfstate")),))
    with webhook_receiver() as hook:
        service.add_rule("sg-open", "severity", severity="high", environment="prod",
                         webhook_url=f"{hook.base}/services/T1/B1/abc")
        outcome = drift.detect(spec, DetectOptions(plan_json=_plan(tmp_path / "drift.json", drifted=True)))
        [alert] = service.list_alerts(status="open")
        assert alert["report_id"] == outcome.report["id"] and alert["severity"] == "critical"
        assert alert["title"] == "prod: 1 drifted item at high or above"
        [request] = hook.received
        assert request.path == "/services/T1/B1/abc"
        assert request.json()["driftmgr"]["id"] == alert["id"]
        assert [(d["channel"], d["ok"]) for d in alert["deliveries"]] == [("app", True), ("webhook", True)]

        drift.detect(spec, DetectOptions(plan_json=_plan(tmp_path / "clean.json", drifted=False)))
        assert service.list_alerts(status="open") == []
        assert service.get_alert(alert["id"])["status"] == "resolved"
        assert len(hook.received) == 1  # resolution is an event, not another webhook call


def test_an_alerting_failure_never_fails_a_saved_detection(service: AlertService, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    drift = DriftService(service.settings, service.engine)
    spec = drift.environment("prod", states=(str(_state(tmp_path / "terraform.tfstate")),))
    service.add_rule("any", "drift_count", threshold=0)
    with service.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE alert"))
    caplog.set_level(logging.WARNING)
    outcome = drift.detect(spec, DetectOptions(plan_json=_plan(tmp_path / "drift.json", drifted=True)))
    assert outcome.report["summary"]["total_changed"] == 1
    assert drift.report(outcome.report["id"])["id"] == outcome.report["id"]  # saved
    assert f"alert evaluation after report {outcome.report['id']} failed" in caplog.text


# ------------------------------------------------------------------------------------- webhook notifications


def test_webhook_failure_is_recorded_and_reported_not_raised(service: AlertService, events: list[EventRecord],
                                                             delays: list[float], kr: MemoryKeyring) -> None:
    with webhook_receiver([(500, {})] * 10) as hook:
        service.add_rule("hook", "drift_count", threshold=0, channels=["webhook"],
                         webhook_url=f"{hook.base}/hooks/secret-path")
        [fired] = service.evaluate_report(report(items=[item("changed", "low")]))
    assert len(hook.received) == 4 and delays == [1.0, 2.0, 4.0]
    deliveries = fired.alert["deliveries"]
    assert [(d["attempt"], d["status"], d["ok"]) for d in deliveries] == [(n, 500, False) for n in (1, 2, 3, 4)]
    assert service.get_alert(fired.alert["id"])["deliveries"] == deliveries  # stored on the alert
    assert _types(events) == ["alert.fired", "alert.delivery_failed"]
    failed = events[1].payload
    assert failed["alert_id"] == fired.alert["id"] and failed["attempts"] == 4
    assert failed["target"] == hook.base and failed["error"].startswith("HTTP 500")
    # an update does not notify again
    service.evaluate_report(report(items=[item("changed", "low")], report_id=2))
    assert len(hook.received) == 4


def test_webhook_secret_missing_from_the_keyring_is_a_failed_delivery(service: AlertService,
                                                                      events: list[EventRecord],
                                                                      kr: MemoryKeyring) -> None:
    rule = service.add_rule("hook", "scan_failed", channels=["app", "webhook"],
                            webhook_url="https://hooks.example.com/services/abc")
    kr.secrets.clear()
    [fired] = service.evaluate_run(ScanFailure(error="boom"), "prod")
    webhook = [d for d in fired.alert["deliveries"] if d["channel"] == "webhook"]
    assert len(webhook) == 1 and webhook[0]["ok"] is False
    assert f"secret {rule['webhook_ref']} is not in the OS keyring" in webhook[0]["error"]
    assert "alert.delivery_failed" in _types(events)


def test_test_notification(service: AlertService, events: list[EventRecord], kr: MemoryKeyring) -> None:
    with webhook_receiver([(404, {})]) as hook:
        rule = service.add_rule("hook", "coverage", threshold=90, channels=["bell", "webhook"],
                                webhook_url=f"{hook.base}/x/y")
        missing = service.test_rule(rule["id"])
        ok = service.test_rule(rule["id"])
    assert missing["ok"] is False and missing["channels"]["webhook"]["error"] == "HTTP 404: error 404"
    assert ok["ok"] is True and ok["channels"]["bell"]["ok"] is True
    assert [r.json()["driftmgr"]["event"] for r in hook.received] == ["test", "test"]
    assert _types(events) == ["alert.test", "alert.delivery_failed", "alert.test"]
    assert service.list_alerts() == []  # a test leaves no alert behind


def test_webhook_url_lives_in_the_keyring_only(service: AlertService, kr: MemoryKeyring) -> None:
    rule = service.add_rule("hook", "scan_failed", channels=["webhook"],
                            webhook_url=" https://hooks.example.com/services/T/B/tok ")
    assert rule["webhook_ref"].startswith("webhook:")
    assert get_secret(rule["webhook_ref"]) == "https://hooks.example.com/services/T/B/tok"
    assert "tok" not in json.dumps(service.list_rules())
    service.remove_rule(rule["id"])
    assert kr.secrets == {}


def test_bad_webhook_url_is_refused_before_anything_is_stored(service: AlertService, kr: MemoryKeyring) -> None:
    with pytest.raises(UsageError, match="must start with https://"):
        service.add_rule("hook", "scan_failed", webhook_url="file:///etc/passwd")
    with pytest.raises(UsageError, match="channels do not include webhook"):
        service.add_rule("hook", "scan_failed", channels=["app"], webhook_url="https://h/x")
    assert kr.secrets == {} and service.list_rules() == []


# ------------------------------------------------------------------------------------- CLI


def _cli(*args: str, input: str | None = None, code: int = 0) -> str:
    result = CliRunner().invoke(alerts_group, list(args), input=input)
    assert result.exit_code == code, result.output
    return result.output


def test_cli_rules_and_alerts(kr: MemoryKeyring) -> None:
    out = _cli("rule", "add", "prod-drift", "--kind", "drift_count", "--threshold", "2", "--env", "prod",
               "--channel", "app", "--channel", "bell")
    assert "alert rule 1 added: prod-drift: more than 2 drifted items in prod -> app, bell" in out
    rule = json.loads(_cli("rule", "add", "crit", "--kind", "severity", "--severity", "critical", "--json"))["rule"]
    assert rule["channels"] == ["app"] and rule["environment"] is None
    listed = json.loads(_cli("rule", "list", "--json"))["rules"]
    assert [(r["id"], r["name"], r["kind"], r["threshold"]) for r in listed] == \
        [(1, "prod-drift", "drift_count", 2.0), (2, "crit", "severity", None)]
    table = _cli("rule", "list")
    assert "more than 2 drifted items" in table and "any item at critical or above" in table

    out = _cli("rule", "add", "x", "--kind", "coverage", code=2)
    assert "a coverage rule needs a threshold" in out and "--threshold 90" in out
    assert "give --webhook-url or --webhook-url-stdin, not both" in _cli(
        "rule", "add", "x", "--kind", "scan_failed", "--webhook-url", "https://h/x", "--webhook-url-stdin",
        input="https://h/y\n", code=2)
    assert "stdin held no URL" in _cli("rule", "add", "x", "--kind", "scan_failed", "--webhook-url-stdin",
                                       input="\n", code=2)
    assert "unknown alert kind" not in _cli("rule", "add", "x", "--kind", "nope", code=2)  # click's own check

    assert "no alerts" in _cli("list")
    AlertService().evaluate_report(report(items=[item("missing", "critical", n) for n in range(3)]))
    alerts = json.loads(_cli("list", "--json"))["alerts"]
    assert sorted(a["rule"] for a in alerts) == ["crit", "prod-drift"]
    table = _cli("list", "--status", "open")
    assert "firing" in table and "critical" in table and "prod-drift" in table
    first = alerts[0]["id"]
    assert f"alert {first} acknowledged by" in _cli("ack", str(first))
    assert [a["id"] for a in json.loads(_cli("list", "--status", "acknowledged", "--json"))["alerts"]] == [first]
    assert f"alert {first} resolved" in _cli("resolve", str(first))
    assert "no alert 99" in _cli("ack", "99", code=2)
    assert "app: event published" in _cli("test", "2")
    assert "disabled" in _cli("rule", "disable", "2") and "enabled" in _cli("rule", "enable", "2")
    assert "alert rule 2 removed (crit)" in _cli("rule", "rm", "2")
    assert [a["rule"] for a in json.loads(_cli("list", "--json"))["alerts"]] == ["prod-drift"]
    assert "no alert rule 2" in _cli("rule", "rm", "2", code=2)


def test_cli_test_notification_exit_code_follows_the_webhook(kr: MemoryKeyring) -> None:
    with webhook_receiver([(403, {})]) as hook:
        _cli("rule", "add", "hook", "--kind", "scan_failed", "--webhook-url-stdin", input=f"{hook.base}/s/tok\n")
        failed = _cli("test", "1", code=1)
        delivered = _cli("test", "1")
    assert f"webhook {hook.base}: not delivered after 1 attempt(s): HTTP 403" in failed
    assert f"webhook {hook.base}: delivered (attempt 1)" in delivered
    assert "tok" not in failed + delivered


# ------------------------------------------------------------------------------------- watch


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30.0), ("15m", 900.0), ("1h", 3600.0), ("1h30m", 5400.0),
                                               (" 2M ", 120.0)])
def test_interval_parser(text: str, seconds: float) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize(("text", "message"), [
    ("15", "--every 15: give a unit, e.g. 15s, 15m or 15h"),
    ("soon", "--every 'soon': expected an interval such as 30s, 15m or 1h"),
    ("", "expected an interval such as 30s, 15m or 1h"),
    ("0s", "--every 0s: the interval must be at least 1s"),
    ("500ms", "the interval must be at least 1s"),
])
def test_interval_parser_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_interval(text)
    assert message in caught.value.message


def test_watch_rejects_a_bad_interval_before_scanning(tmp_path: Path) -> None:
    result = CliRunner().invoke(watch_cmd, ["--state", str(tmp_path / "x.tfstate"), "--every", "5"])
    assert result.exit_code == 2 and "give a unit" in result.output


GHOST = {"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "6b1d2c3e-0000-4000-8000-00000000000a",
         "outputs": {}, "resources": [{
             "mode": "managed", "type": "aws_s3_bucket", "name": "ghost",
             "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
             "instances": [{"schema_version": 0, "attributes": {
                 "id": "ghost-bucket-4e1a", "bucket": "ghost-bucket-4e1a", "arn": "arn:aws:s3:::ghost-bucket-4e1a",
                 "region": "us-east-1", "tags": None, "tags_all": {}}}]}]}


def test_watch_loop_reports_a_failed_scan_and_goes_on(aws: str, tmp_path: Path) -> None:
    state = tmp_path / "terraform.tfstate"
    state.write_text(json.dumps(GHOST), encoding="utf-8")
    settings = load_settings()
    engine = open_database(settings)
    alerts = AlertService(settings, engine)
    alerts.add_rule("scans", "scan_failed")
    alerts.add_rule("missing", "drift_count", threshold=0, drift_kind="missing", channels=["bell"])
    drift = DriftService(settings, engine)
    spec = scan_spec(drift, "prod", (str(state),), (), None, (), "aws", None, None, ("us-east-1",), (), ())
    lines: list[str] = []
    waits: list[float] = []

    auth = iter([1, float("inf")])

    def wait(delay: float) -> bool:  # between scans: change what moto accepts; stop after the third scan
        waits.append(delay)
        if len(waits) == 3:
            return True
        moto_set_auth(aws, next(auth))
        return False

    moto_set_auth(aws, 0)  # scan 1: the credentials are refused outright (the scan raises)
    # scan 2: the identity check passes, then every task is refused (the run ends "failed", run_scan exits)
    # scan 3: all is well
    watcher = Watcher(drift, spec, alerts, ignore_file=None, config_drift=False, emit=lines.append)
    assert watcher.run(interval=900.0, once=False, wait=wait) == 0
    assert watcher.scans == 3 and watcher.failures == 2
    assert len(waits) == 3
    text = "\n".join(line.split(" ", 2)[2] for line in lines)  # without the timestamps
    assert "scan 1 prod: failed (discovery run 1 failed): aws: credentials rejected" in text
    assert "alert 1 FIRED [high] scans: aws discovery run 1 failed" in text
    assert "scan 2 prod: failed (discovery run 2 failed): " in text and "tasks failed" in text
    assert "scan 3 prod: report 1: changed 0, missing 1, unmanaged 0" in text
    assert "alert 1 resolved: aws discovery run 2 failed" in text  # the same alert, kept open, then resolved
    assert "alert 2 FIRED [high] missing: prod: 1 missing resource (more than 0)" in text
    assert text.count("FIRED") == 2
    assert text.splitlines()[-1] == "watch stopped after 3 scan(s), 2 failed"
    assert sorted((a["rule"], a["status"]) for a in alerts.list_alerts()) == \
        [("missing", "firing"), ("scans", "resolved")]


def test_watch_once_reports_a_scan_that_cannot_start(tmp_path: Path) -> None:
    state = tmp_path / "terraform.tfstate"
    state.write_text("{ not json", encoding="utf-8")
    AlertService().add_rule("scans", "scan_failed", environment="prod")
    result = CliRunner().invoke(watch_cmd, ["--env", "prod", "--state", str(state), "--regions", "us-east-1",
                                            "--once", "--every", "30s"])
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert "watching prod every 30s (once)" in lines[0]
    assert "scan 1 prod: failed: " in lines[1] and "terraform.tfstate" in lines[1]
    assert lines[2].endswith("alert 1 FIRED [high] scans: scan failed")
    assert len(lines) == 3
    [alert] = AlertService().list_alerts()
    assert "terraform.tfstate" in alert["message"] and alert["run_id"] is None


def test_watch_stops_cleanly_on_sigterm(aws: str, tmp_path: Path) -> None:
    state = tmp_path / "terraform.tfstate"
    state.write_text(json.dumps(GHOST), encoding="utf-8")
    code = "from driftmgr_tui.commands.alerts import watch_cmd; watch_cmd()"
    proc = subprocess.Popen([sys.executable, "-c", code, "--state", str(state), "--provider", "aws",
                             "--regions", "us-east-1", "--every", "1h"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert proc.stdout is not None
        seen = [proc.stdout.readline(), proc.stdout.readline()]  # "watching ...", then the first scan
        assert "scan 1 default: report 1" in seen[1], seen
        proc.send_signal(signal.SIGTERM)  # now waiting an hour for the next scan
        rest, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert rest.strip().endswith("watch stopped after 1 scan(s), 0 failed")


def test_two_scans_racing_to_open_the_same_alert_leave_one_open(service: AlertService,
                                                                events: list[EventRecord]) -> None:
    """The scan that loses the race (its insert meets the other scan's open alert) updates that alert."""
    from sqlmodel import Session

    from driftmgr_tui.core.models import Alert, utcnow

    rule = service.add_rule("any-drift", "drift_count", threshold=0)
    competitor: list[int] = []

    def other_scan_first(session: Session, _context: object, _instances: object) -> None:
        if competitor or not any(isinstance(o, Alert) for o in session.new):
            return
        with service.engine.begin() as conn:  # another process, committing between our read and our insert
            now = utcnow()
            result = conn.execute(Alert.__table__.insert().values(
                rule_id=rule["id"], environment="prod", status="firing", severity="high", title="other scan",
                message="", deliveries="[]", created_at=now, updated_at=now))
            competitor.append(result.inserted_primary_key[0])

    sa.event.listen(Session, "before_flush", other_scan_first)
    try:
        [change] = service.evaluate_report(report(items=[item("changed", "high", 1)], report_id=7))
    finally:
        sa.event.remove(Session, "before_flush", other_scan_first)
    assert competitor and change.action == "updated" and change.alert["id"] == competitor[0]
    assert [(a["id"], a["report_id"]) for a in service.list_alerts(status="open")] == [(competitor[0], 7)]
    # and the database itself refuses a second open alert
    with pytest.raises(sa.exc.IntegrityError), service.engine.begin() as conn:
        now = utcnow()
        conn.execute(Alert.__table__.insert().values(
            rule_id=rule["id"], environment="prod", status="acknowledged", severity="high", title="dup",
            message="", deliveries="[]", created_at=now, updated_at=now))
