"""Severity: the built-in ratings a person on call would expect, user rules that override them, and config
mistakes reported with the entry that holds them."""

from __future__ import annotations

from typing import Any

import pytest

from driftmgr_tui.core.errors import ConfigError
from driftmgr_tui.drift.model import CHANGED, MISSING, ORPHANED, UNAPPLIED, UNMANAGED, FieldDiff, Finding
from driftmgr_tui.drift.severity import DEFAULT_RULES, SeverityRule, SeverityRules, rules_from_config

DEFAULTS = SeverityRules()


@pytest.mark.parametrize(("rtype", "path", "actual", "expected"), [
    ("aws_security_group", "ingress", ["tcp 22-22 0.0.0.0/0"], "critical"),
    ("aws_security_group", "ingress", ["tcp 443-443 ::/0"], "critical"),
    ("aws_security_group", "ingress.0.cidr_blocks", ["0.0.0.0/0"], "critical"),
    ("aws_security_group", "ingress", ["tcp 22-22 10.0.0.0/8"], "high"),
    ("aws_security_group", "ingress", ["tcp 443-443 10.0.0.0/16"], "high"),
    ("aws_security_group", "ingress", [], "high"),
    ("aws_security_group", "egress", ["-1 all 0.0.0.0/0"], "high"),
    ("aws_db_instance", "publicly_accessible", True, "critical"),
    ("aws_db_instance", "publicly_accessible", False, "high"),
    ("aws_iam_role", "assume_role_policy.Statement.0.Effect", "Deny", "high"),
    ("aws_instance", "vpc_security_group_ids", ["sg-1"], "high"),
    ("aws_vpc", "tags", {"Owner": "x"}, "low"),
    ("aws_vpc", "tags.Owner", "x", "low"),
    ("google_storage_bucket", "labels.env", "dev", "low"),
    ("aws_security_group", "description", "changed", "low"),
    ("aws_iam_role", "max_session_duration", 43200, "high"),
    ("aws_instance", "instance_type", "m5.large", "medium"),
])
def test_default_field_severities(rtype: str, path: str, actual: Any, expected: str) -> None:
    assert DEFAULTS.for_field(rtype, path, actual) == expected


@pytest.mark.parametrize(("kind", "rtype", "expected"), [
    (MISSING, "aws_iam_role", "high"),
    (MISSING, "aws_security_group", "high"),
    (MISSING, "aws_db_instance", "high"),
    (MISSING, "aws_sqs_queue", "medium"),
    (UNMANAGED, "aws_iam_user", "high"),
    (UNMANAGED, "aws_instance", "medium"),
    (UNMANAGED, "aws_cloudwatch_log_group", "low"),
    (ORPHANED, "aws_s3_bucket", "medium"),
    (UNAPPLIED, "aws_s3_bucket", "low"),
])
def test_default_resource_severities(kind: str, rtype: str, expected: str) -> None:
    assert DEFAULTS.for_resource(kind, rtype) == expected


def test_changed_finding_is_as_severe_as_its_worst_field() -> None:
    finding = Finding(CHANGED, "aws_security_group", "sg-1", "sg-1", "aws", diffs=[
        FieldDiff("tags.Owner", None, "bob"),
        FieldDiff("ingress", [], ["tcp 22-22 0.0.0.0/0"]),
        FieldDiff("name", "a", "b"),
    ])
    assert DEFAULTS.classify(finding) == "critical"
    assert finding.severity == "critical"
    assert [d.severity for d in finding.diffs] == ["low", "critical", "high"]


def test_missing_finding_is_rated_by_type() -> None:
    finding = Finding(MISSING, "aws_iam_role", "app", "app", "aws")
    assert DEFAULTS.classify(finding) == "high"
    assert finding.severity == "high"


def test_user_rules_override_the_defaults() -> None:
    rules = SeverityRules(rules_from_config([
        {"severity": "info", "kind": "changed", "path": "tags*"},
        {"severity": "critical", "type": "aws_s3_bucket"},
        {"severity": "low", "kind": "missing", "type": "aws_iam_role"},
    ], "driftmgr.toml"))
    assert rules.for_field("aws_vpc", "tags.Owner", "x") == "info"
    assert rules.for_field("aws_s3_bucket", "versioning.0.enabled", False) == "critical"
    assert rules.for_resource(MISSING, "aws_s3_bucket") == "critical"
    assert rules.for_resource(UNMANAGED, "aws_s3_bucket") == "critical"
    assert rules.for_resource(MISSING, "aws_iam_role") == "low"
    # untouched defaults still apply
    assert rules.for_field("aws_security_group", "ingress", ["tcp 22-22 0.0.0.0/0"]) == "critical"
    assert rules.for_resource(UNMANAGED, "aws_cloudwatch_log_group") == "low"


def test_first_matching_user_rule_wins() -> None:
    rules = SeverityRules([
        SeverityRule("low", CHANGED, "aws_security_group", "ingress", r"10\.0\.0\.0/8"),
        SeverityRule("critical", CHANGED, "aws_security_group", "ingress"),
        SeverityRule("info", CHANGED, "aws_security_group", "ingress"),
    ])
    assert rules.for_field("aws_security_group", "ingress", ["tcp 22-22 10.0.0.0/8"]) == "low"
    assert rules.for_field("aws_security_group", "ingress", ["tcp 22-22 172.16.0.0/12"]) == "critical"


def test_value_pattern_reads_structured_values_as_json() -> None:
    rules = SeverityRules([SeverityRule("critical", CHANGED, "*", "tags.*", '"prod"')])
    assert rules.for_field("aws_vpc", "tags.env", "prod") == "low"  # plain text: no quotes to find
    assert rules.for_field("aws_vpc", "tags.env", {"v": "prod"}) == "critical"


def test_defaults_are_valid_and_end_with_catch_alls() -> None:
    kinds = {r.kind for r in DEFAULT_RULES if r.type == "*" and r.path == "*" and r.value is None}
    assert {CHANGED, MISSING, UNMANAGED, ORPHANED, UNAPPLIED} <= kinds
    assert all(r.source == "built-in" for r in DEFAULT_RULES)


def test_rule_to_json() -> None:
    rule = SeverityRule("high", CHANGED, "aws_*", "tags", "x", source="cfg")
    assert rule.to_json() == {"severity": "high", "kind": CHANGED, "type": "aws_*", "path": "tags", "value": "x",
                              "source": "cfg"}
    assert "value" not in SeverityRule("low").to_json()


@pytest.mark.parametrize(("entry", "message"), [
    ({"severity": "high", "colour": "red"}, "unknown key 'colour'"),
    ({"severity": "urgent"}, "severity 'urgent' is not one of"),
    ({"severity": "high", "kind": "deleted"}, "kind 'deleted' is not one of"),
    ({"severity": "high", "value": "(unclosed"}, "is not a valid regex"),
    ({"severity": 3}, "severity must be a string"),
    ({"severity": "high", "path": ["tags"]}, "path must be a string"),
    ({"kind": "changed"}, "severity is required"),
])
def test_config_errors_name_the_entry(entry: dict[str, Any], message: str) -> None:
    entries = [{"severity": "low", "type": "aws_vpc"}, entry]
    with pytest.raises(ConfigError) as err:
        rules_from_config(entries, "driftmgr.toml")
    text = str(err.value)
    assert "driftmgr.toml: drift.severity[2]" in text
    assert message in text


def test_config_entry_must_be_a_table() -> None:
    with pytest.raises(ConfigError, match=r"drift\.severity\[1\]: expected a table"):
        rules_from_config(["high"], "driftmgr.toml")  # type: ignore[list-item]


def test_config_rules_carry_their_source() -> None:
    [rule] = rules_from_config([{"severity": "info", "path": "tags*"}], "driftmgr.toml")
    assert rule == SeverityRule("info", "*", "*", "tags*", None, source="driftmgr.toml: drift.severity[1]")
