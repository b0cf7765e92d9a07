"""Terraform as the authority: a refresh-only plan's resource_drift turned into findings. Terraform's own plan
fixtures give the drift it found; synthetic entries show the provider noise that must not reach the user."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from driftmgr_tui.drift.ignore import IgnoreMatcher, parse_driftignore
from driftmgr_tui.drift.model import CHANGED, MISSING, DetectionResult, FieldDiff
from driftmgr_tui.drift.normalize import SENSITIVE
from driftmgr_tui.drift.plan_engine import detect_from_plan, entry_diffs, prepare, sensitive_paths
from driftmgr_tui.drift.tfplan import PlanDrift, parse_plan_json

SHOW_JSON = "command/testdata/show-json"
AWS = "registry.terraform.io/hashicorp/aws"


def _fixture(tf_fixtures: Path, rel: str) -> PlanDrift:
    path = tf_fixtures / rel
    return parse_plan_json(path.read_bytes(), source=str(path))


def _summary(result: DetectionResult) -> list[tuple[Any, ...]]:
    return [(f.kind, f.address, f.terraform_type, f.terraform_id, f.provider,
             [(d.path, d.expected, d.actual) for d in f.diffs]) for f in result.findings]


# --- Terraform's fixtures ----------------------------------------------------------------------------------


def test_show_json_drift_fixture(tf_fixtures: Path) -> None:
    result = detect_from_plan(_fixture(tf_fixtures, f"{SHOW_JSON}/drift/output.json"), state_label="fixture")
    assert _summary(result) == [
        (CHANGED, "test_instance.should_refresh", "test_instance", "placeholder", "test",
         [("ami", "refresh-me", "refreshed")]),
    ]
    [finding] = result.findings
    assert finding.state == "fixture"
    assert finding.severity == "medium"
    # no_refresh has a planned update in resource_changes, which is not drift
    assert (result.changed, result.missing, result.unmanaged, result.managed) == (1, 0, 0, 2)
    assert result.warnings == []
    assert result.coverage == 100.0


def test_show_json_moved_drift_fixture(tf_fixtures: Path) -> None:
    result = detect_from_plan(_fixture(tf_fixtures, f"{SHOW_JSON}/moved-drift/output.json"), state_label="fixture")
    assert _summary(result) == [
        (CHANGED, "test_instance.should_refresh_with_move", "test_instance", "placeholder", "test",
         [("ami", "refresh-me", "refreshed")]),
    ]
    assert (result.changed, result.managed) == (1, 2)


def test_equivalence_drift_refresh_only_fixture(tf_fixtures: Path) -> None:
    plan = _fixture(tf_fixtures, "testing/equivalence-tests/outputs/drift_refresh_only/plan.json")
    result = detect_from_plan(plan, state_label="fixture")
    # the null bool/float/integer/number attributes are equal on both sides: only the string drifted
    assert _summary(result) == [
        (CHANGED, "tfcoremock_simple_resource.drift", "tfcoremock_simple_resource",
         "cb79269e-dc39-1e68-0a9c-63cb392afda9", "tfcoremock", [("string", "Hello, world!", "Hello, drift!")]),
    ]
    assert (result.changed, result.missing, result.managed) == (1, 0, 1)


# --- synthetic plans ---------------------------------------------------------------------------------------


def drift_entry(address: str, rtype: str, before: Any, after: Any, *, actions: tuple[str, ...] = ("update",),
                before_sensitive: Any = None, after_sensitive: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "address": address, "mode": "managed", "type": rtype, "name": address.rsplit(".", 1)[-1],
        "provider_name": AWS,
        "change": {"actions": list(actions), "before": before, "after": after,
                   "before_sensitive": before_sensitive if before_sensitive is not None else {},
                   "after_sensitive": after_sensitive if after_sensitive is not None else {},
                   "after_unknown": {}},
        **extra,
    }


def plan(drift: list[dict[str, Any]], prior: list[tuple[str, str, str]]) -> PlanDrift:
    """A refresh-only plan document: ``prior`` is the refreshed state as (address, type, id)."""
    doc = {
        "format_version": "1.2", "terraform_version": "1.9.0", "applyable": False, "complete": True,
        "planned_values": {"root_module": {}},
        "resource_drift": drift,
        "prior_state": {"format_version": "1.0", "terraform_version": "1.9.0", "values": {"root_module": {
            "resources": [{"address": a, "mode": "managed", "type": t, "name": a.rsplit(".", 1)[-1],
                           "provider_name": AWS, "schema_version": 0, "values": {"id": i}}
                          for a, t, i in prior],
        }}},
    }
    return parse_plan_json(json.dumps(doc), source="synthetic")


VPC_BEFORE = {"id": "vpc-1", "cidr_block": "10.0.0.0/16", "instance_tenancy": "default",
              "tags": None, "tags_all": {"Name": "main", "ManagedBy": "terraform"}, "timeouts": None}


def test_refresh_noise_is_not_drift() -> None:
    # after a refresh: tags null -> {}, tags_all unchanged, policy re-serialised, set reordered
    policy_before = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'
    policy_after = ('{\n  "Statement": {"Resource": ["*"], "Action": ["s3:*"], "Effect": "Allow"},\n'
                    '  "Version": "2012-10-17"\n}')
    entries = [
        drift_entry("aws_vpc.main", "aws_vpc", VPC_BEFORE, {**VPC_BEFORE, "tags": {}}),
        drift_entry("aws_iam_policy.p", "aws_iam_policy",
                    {"id": "arn:aws:iam::1:policy/p", "policy": policy_before, "path": None, "tags": None,
                     "tags_all": {}},
                    {"id": "arn:aws:iam::1:policy/p", "policy": policy_after, "path": "/", "tags": {},
                     "tags_all": {}}),
        drift_entry("aws_instance.web", "aws_instance",
                    {"id": "i-1", "vpc_security_group_ids": ["sg-1", "sg-2"], "tags": {"Name": "web"},
                     "tags_all": {"Name": "web"}},
                    {"id": "i-1", "vpc_security_group_ids": ["sg-2", "sg-1"], "tags": {"Name": "web"},
                     "tags_all": {"Name": "web"}}),
    ]
    result = detect_from_plan(plan(entries, [("aws_vpc.main", "aws_vpc", "vpc-1"),
                                             ("aws_iam_policy.p", "aws_iam_policy", "arn:aws:iam::1:policy/p"),
                                             ("aws_instance.web", "aws_instance", "i-1")]), state_label="prod")
    assert result.findings == []
    assert result.changed == 0
    assert result.managed == 3
    assert result.warnings == [
        "3 resource(s) Terraform reported as changed differ only in form (null vs empty, tags_all, ordering): "
        "not drift",
    ]


def test_real_change_among_noise_is_reported() -> None:
    after = {**VPC_BEFORE, "tags": {}, "cidr_block": "10.1.0.0/16",
             "tags_all": {"Name": "main", "ManagedBy": "terraform", "Owner": "bob"}}
    result = detect_from_plan(plan([drift_entry("aws_vpc.main", "aws_vpc", VPC_BEFORE, after)],
                                   [("aws_vpc.main", "aws_vpc", "vpc-1")]), state_label="prod")
    assert _summary(result) == [
        (CHANGED, "aws_vpc.main", "aws_vpc", "vpc-1", "aws",
         [("cidr_block", "10.0.0.0/16", "10.1.0.0/16"), ("tags.Owner", None, "bob")]),
    ]
    assert [d.severity for d in result.findings[0].diffs] == ["medium", "low"]
    assert result.warnings == []


def test_world_open_ingress_from_a_plan_is_critical() -> None:
    rule = {"cidr_blocks": ["10.0.0.0/8"], "description": "", "from_port": 22, "to_port": 22, "protocol": "tcp",
            "ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": [], "self": False}
    before = {"id": "sg-1", "ingress": [rule], "tags": None, "tags_all": {}}
    after = {**before, "ingress": [{**rule, "cidr_blocks": ["10.0.0.0/8", "0.0.0.0/0"]}], "tags": {}}
    result = detect_from_plan(plan([drift_entry("aws_security_group.ssh", "aws_security_group", before, after)],
                                   [("aws_security_group.ssh", "aws_security_group", "sg-1")]), state_label="p")
    [finding] = result.findings
    assert finding.diffs == [FieldDiff("ingress.0.cidr_blocks", [], ["0.0.0.0/0"], "critical")]
    assert finding.severity == "critical"


def test_sensitive_masks_hide_values() -> None:
    before = {"id": "/app/db-url", "name": "/app/db-url", "type": "SecureString", "value": "postgres://old",
              "insecure_value": None, "tags": None, "tags_all": {}}
    after = {**before, "value": "postgres://new", "tags": {}}
    entry = drift_entry("aws_ssm_parameter.db", "aws_ssm_parameter", before, after,
                        before_sensitive={"value": True}, after_sensitive={"value": True})
    result = detect_from_plan(plan([entry], [("aws_ssm_parameter.db", "aws_ssm_parameter", "/app/db-url")]),
                              state_label="p")
    [finding] = result.findings
    assert [(d.path, d.expected, d.actual) for d in finding.diffs] == [("value", SENSITIVE, SENSITIVE)]
    assert "postgres://" not in json.dumps(finding.to_json())


def test_sensitive_paths_of_a_mask() -> None:
    mask = {"value": True, "tags": {}, "settings": [{"token": True, "name": False}], "other": False}
    assert sensitive_paths(mask) == {"value", "settings.0.token"}
    assert sensitive_paths(True) == {"."}
    assert sensitive_paths(False) == set()


def test_sensitive_field_in_a_changed_block_set_stays_hidden() -> None:
    certs = [{"name": "www", "data": "PFX-WWW-OLD", "password": "pw-www"},
             {"name": "api", "data": "PFX-API", "password": "pw-api"}]
    before = {"id": "agw-1", "ssl_certificate": certs, "tags": {}, "tags_all": {}}
    after = {**before, "ssl_certificate": [{**certs[0], "data": "PFX-WWW-NEW"}, certs[1]]}
    mask = {"ssl_certificate": [{"data": True, "password": True}, {"data": True, "password": True}]}
    entry = drift_entry("azurerm_application_gateway.main", "azurerm_application_gateway", before, after,
                        before_sensitive=mask, after_sensitive=mask)
    result = detect_from_plan(plan([entry], [("azurerm_application_gateway.main", "azurerm_application_gateway",
                                              "agw-1")]), state_label="p")
    [finding] = result.findings
    shown = json.dumps(finding.to_json())
    assert "PFX-WWW" not in shown
    assert "pw-www" not in shown


def test_deleted_object_is_missing_with_its_id() -> None:
    gone = {"id": "my-logs-bucket", "bucket": "my-logs-bucket", "arn": "arn:aws:s3:::my-logs-bucket",
            "tags": None, "tags_all": {}}
    entry = drift_entry("module.logs.aws_s3_bucket.this", "aws_s3_bucket", gone, None, actions=("delete",),
                        module_address="module.logs")
    result = detect_from_plan(plan([entry], [("aws_vpc.main", "aws_vpc", "vpc-1")]), state_label="prod")
    [finding] = result.findings
    assert (finding.kind, finding.terraform_id, finding.match_key, finding.address, finding.module) == (
        MISSING, "my-logs-bucket", "my-logs-bucket", "module.logs.aws_s3_bucket.this", "module.logs")
    assert finding.diffs == []
    assert finding.severity == "high"
    assert result.missing == 1


def test_deleted_object_does_not_lower_the_managed_count_twice() -> None:
    # the refreshed prior state already leaves the deleted object out
    gone = {"id": "my-logs-bucket", "tags": None, "tags_all": {}}
    entry = drift_entry("aws_s3_bucket.logs", "aws_s3_bucket", gone, None, actions=("delete",))
    prior = [("aws_vpc.main", "aws_vpc", "vpc-1"), ("aws_subnet.a", "aws_subnet", "subnet-1")]
    result = detect_from_plan(plan([entry], prior), state_label="prod")
    assert (result.managed, result.missing) == (2, 1)
    assert result.coverage == 66.67


def test_data_sources_and_deposed_objects_are_skipped() -> None:
    data = drift_entry("data.aws_ami.latest", "aws_ami", {"id": "ami-1"}, {"id": "ami-2"}, mode="data")
    deposed = drift_entry("aws_instance.web", "aws_instance", {"id": "i-old"}, None, actions=("delete",),
                          deposed="00000001")
    result = detect_from_plan(plan([data, deposed], []), state_label="p")
    assert result.findings == []
    assert (result.missing, result.changed) == (0, 0)


def test_ignore_rules_apply_to_plan_findings() -> None:
    gone = drift_entry("aws_s3_bucket.logs", "aws_s3_bucket", {"id": "logs"}, None, actions=("delete",))
    changed = drift_entry("aws_vpc.main", "aws_vpc", VPC_BEFORE,
                          {**VPC_BEFORE, "cidr_block": "10.1.0.0/16", "tags_all": {"Name": "other"}})
    matcher = IgnoreMatcher(parse_driftignore("aws_s3_bucket.logs\naws_vpc.vpc-1.tags\n"))
    result = detect_from_plan(plan([gone, changed], [("aws_vpc.main", "aws_vpc", "vpc-1")]), state_label="p",
                              ignore=matcher)
    assert _summary(result) == [(CHANGED, "aws_vpc.main", "aws_vpc", "vpc-1", "aws",
                                 [("cidr_block", "10.0.0.0/16", "10.1.0.0/16")])]
    assert (result.ignored, result.missing) == (1, 0)


def test_ignored_changed_resource_is_counted_not_called_noise() -> None:
    changed = drift_entry("aws_vpc.main", "aws_vpc", VPC_BEFORE, {**VPC_BEFORE, "cidr_block": "10.1.0.0/16"})
    matcher = IgnoreMatcher(parse_driftignore("aws_vpc.vpc-1\n"))
    result = detect_from_plan(plan([changed], [("aws_vpc.main", "aws_vpc", "vpc-1")]), state_label="p",
                              ignore=matcher)
    assert result.findings == []
    assert result.ignored == 1
    assert result.warnings == []


def test_prepare_shapes_an_attribute_dict_for_comparison() -> None:
    assert prepare("aws_iam_role", {"path": None, "tags": None, "tags_all": {"a": "1"}, "timeouts": None}) == {
        "path": "/", "tags": {"a": "1"},
    }
    assert prepare("aws_iam_role", {"id": "r"}) == {"id": "r"}  # no tags attribute: none invented
    assert prepare("aws_iam_role", None) == {}


def test_entry_diffs_of_a_fixture_entry(tf_fixtures: Path) -> None:
    [entry] = _fixture(tf_fixtures, f"{SHOW_JSON}/drift/output.json").entries
    assert entry_diffs(entry) == [FieldDiff("ami", "refresh-me", "refreshed")]
