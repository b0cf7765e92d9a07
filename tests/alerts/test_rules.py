"""Alert rules: every kind, thresholds at the boundary, validation that names what is wrong."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from driftmgr_tui.alerts.rules import WORST_LISTED, evaluate, evaluate_run, validate_rule
from driftmgr_tui.core.errors import UsageError
from driftmgr_tui.services.alert_service import ScanFailure
from tests.alerts import item, report


@dataclass
class Rule:
    kind: str
    threshold: float | None = None
    severity: str | None = None
    drift_kind: str | None = None


@dataclass
class Run:
    status: str
    error: str | None = None
    id: int | None = 7
    provider: str | None = "aws"
    failed_tasks: int = 0
    task_count: int = 0


# ------------------------------------------------------------------------------------------- drift_count


def test_drift_count_fires_above_the_threshold_not_at_it() -> None:
    rule = Rule("drift_count", threshold=2)
    at = report(items=[item("changed", "low", 1), item("missing", "high", 2)])
    assert evaluate(rule, at) is None
    above = report(items=[item("changed", "low", 1), item("missing", "high", 2), item("unmanaged", "medium", 3)])
    condition = evaluate(rule, above)
    assert condition is not None
    assert condition.value == 3.0
    assert condition.severity == "high"  # the worst item's
    assert condition.title == "prod: 3 drifted resources (more than 2)"
    assert "changed 1, missing 1, unmanaged 1" in condition.message and "report 1" in condition.message


def test_drift_count_zero_threshold_fires_on_any_drift() -> None:
    rule = Rule("drift_count", threshold=0)
    assert evaluate(rule, report()) is None
    condition = evaluate(rule, report(items=[item("changed", "info")]))
    assert condition is not None and condition.value == 1.0
    assert condition.title == "prod: 1 drifted resource (more than 0)"


def test_drift_count_of_one_kind_counts_only_that_kind() -> None:
    rule = Rule("drift_count", threshold=1, drift_kind="missing")
    r = report(items=[item("changed", "critical", 1), item("changed", "critical", 2), item("missing", "low", 3)])
    assert evaluate(rule, r) is None
    r = report(items=[item("changed", "critical", 1), item("missing", "low", 2), item("missing", "medium", 3)])
    condition = evaluate(rule, r)
    assert condition is not None
    assert condition.value == 2.0
    assert condition.severity == "medium"  # of the missing items only
    assert "missing resources" in condition.title


def test_drift_count_includes_config_drift_when_counting_everything() -> None:
    r = report(unapplied=2, orphaned=1)
    assert evaluate(Rule("drift_count", threshold=2), r).value == 3.0  # type: ignore[union-attr]
    assert evaluate(Rule("drift_count", threshold=2, drift_kind="unapplied"), r) is None


# ------------------------------------------------------------------------------------------- severity


def test_severity_fires_at_or_above_and_lists_the_worst_first() -> None:
    rule = Rule("severity", severity="high")
    assert evaluate(rule, report(items=[item("changed", "medium", 1), item("missing", "low", 2)])) is None
    exactly = evaluate(rule, report(items=[item("changed", "medium", 1), item("missing", "high", 2)]))
    assert exactly is not None and exactly.severity == "high" and exactly.value == 1.0
    assert exactly.message == "high missing aws_security_group.r2 (sg-0002)"
    worse = evaluate(rule, report(items=[item("missing", "high", 1), item("changed", "critical", 2),
                                         item("changed", "low", 3)]))
    assert worse is not None and worse.severity == "critical" and worse.value == 2.0
    assert worse.message.splitlines() == ["critical changed aws_security_group.r2 (sg-0002)",
                                          "high missing aws_security_group.r1 (sg-0001)"]
    assert worse.title == "prod: 2 drifted items at high or above"


def test_severity_message_names_a_few_and_counts_the_rest() -> None:
    items = [item("unmanaged", "critical", n) for n in range(WORST_LISTED + 3)]
    condition = evaluate(Rule("severity", severity="critical"), report(items=items))
    assert condition is not None
    lines = condition.message.splitlines()
    assert len(lines) == WORST_LISTED + 1
    assert lines[0] == "critical unmanaged aws_security_group sg-0000"  # no address: type and id
    assert lines[-1] == "and 3 more"


def test_severity_of_one_drift_kind() -> None:
    rule = Rule("severity", severity="high", drift_kind="unmanaged")
    assert evaluate(rule, report(items=[item("missing", "critical")])) is None
    assert evaluate(rule, report(items=[item("unmanaged", "high")])) is not None


def test_severity_from_a_report_header_uses_the_counts() -> None:
    header = report(items=[item("changed", "high")])
    del header["items"]
    condition = evaluate(Rule("severity", severity="medium"), header)
    assert condition is not None and condition.value == 1.0 and condition.severity == "high"
    assert evaluate(Rule("severity", severity="critical"), header) is None


# ------------------------------------------------------------------------------------------- coverage


def test_coverage_fires_below_the_threshold_not_at_it() -> None:
    rule = Rule("coverage", threshold=95)
    assert evaluate(rule, report(coverage=95.0)) is None
    assert evaluate(rule, report(coverage=100.0)) is None
    condition = evaluate(rule, report(coverage=94.99))
    assert condition is not None and condition.value == 94.99
    assert condition.title == "prod: coverage 95.0% (below 95%)"


# ------------------------------------------------------------------------------------------- scan_failed


@pytest.mark.parametrize(("status", "severity"), [("failed", "high"), ("partial", "medium"), ("cancelled", "low")])
def test_scan_failed_fires_for_unfinished_runs(status: str, severity: str) -> None:
    condition = evaluate_run(Rule("scan_failed"), Run(status, error="AccessDenied in us-east-1", failed_tasks=2,
                                                      task_count=5))
    assert condition is not None
    assert condition.severity == severity
    assert condition.message == "AccessDenied in us-east-1"
    assert condition.title.startswith(f"aws discovery run 7 {status}")
    if status == "partial":
        assert condition.title.endswith("(2 of 5 tasks failed)")


def test_scan_failed_clears_on_a_complete_run_and_ignores_reports() -> None:
    assert evaluate_run(Rule("scan_failed"), Run("complete")) is None
    assert evaluate(Rule("scan_failed"), report(items=[item("changed", "critical")])) is None
    # other kinds say nothing about runs
    assert evaluate_run(Rule("drift_count", threshold=0), Run("failed")) is None


def test_scan_failed_without_a_run() -> None:
    condition = evaluate_run(Rule("scan_failed"), ScanFailure(error="no state at s3://b/k"))
    assert condition is not None
    assert condition.title == "scan failed" and condition.message == "no state at s3://b/k"


# ------------------------------------------------------------------------------------------- validation


def test_valid_rules_are_normalised() -> None:
    fields = validate_rule("drift_count", threshold=3, drift_kind="changed", channels=["app", "bell", "app"])
    assert fields.threshold == 3.0 and fields.channels == ("app", "bell")
    assert validate_rule("scan_failed").channels == ("app",)
    assert validate_rule("severity", severity="low", channels=["webhook"], has_webhook=True).channels == ("webhook",)
    assert validate_rule("coverage", threshold=0).threshold == 0.0
    assert validate_rule("coverage", threshold=100).threshold == 100.0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"kind": "drift"}, "unknown alert kind 'drift': choose drift_count, severity, coverage, scan_failed"),
    ({"kind": "drift_count"}, "a drift_count rule needs a threshold"),
    ({"kind": "coverage"}, "a coverage rule needs a threshold"),
    ({"kind": "drift_count", "threshold": -1}, "threshold -1: a drift count threshold is 0 or more"),
    ({"kind": "coverage", "threshold": 100.5}, "threshold 100.5: coverage is a percentage, 0 to 100"),
    ({"kind": "coverage", "threshold": float("nan")}, "threshold nan: expected a number"),
    ({"kind": "severity"}, "a severity rule needs a severity"),
    ({"kind": "severity", "severity": "urgent"}, "unknown severity 'urgent': choose critical, high, medium, low, info"),
    ({"kind": "severity", "severity": "high", "threshold": 2}, "a severity rule takes no threshold"),
    ({"kind": "scan_failed", "threshold": 1}, "a scan_failed rule takes no threshold"),
    ({"kind": "coverage", "threshold": 90, "severity": "high"}, "--severity applies to severity rules, not coverage"),
    ({"kind": "coverage", "threshold": 90, "drift_kind": "changed"}, "a drift kind applies to drift_count"),
    ({"kind": "drift_count", "threshold": 1, "drift_kind": "gone"}, "unknown drift kind 'gone'"),
    ({"kind": "scan_failed", "channels": ["email"]}, "unknown channel 'email': choose app, bell, webhook"),
    ({"kind": "scan_failed", "channels": []}, "an alert rule needs at least one channel"),
    ({"kind": "scan_failed", "channels": ["webhook"]}, "the webhook channel needs a webhook URL"),
    ({"kind": "scan_failed", "has_webhook": True}, "a webhook URL was given but the rule's channels do not include"),
])
def test_validation_errors_say_what_is_wrong(kwargs: dict, message: str) -> None:
    kind = kwargs.pop("kind")
    with pytest.raises(UsageError) as caught:
        validate_rule(kind, **kwargs)
    assert message in caught.value.message
