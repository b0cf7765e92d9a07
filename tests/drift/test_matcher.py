"""The native engine's join of state instances and discovered objects: what is managed, missing, unmanaged or
changed, and what could not be evaluated (never reported as missing)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from driftmgr_tui.discovery.model import TAGS_KNOWN
from driftmgr_tui.discovery.registry import match_key
from driftmgr_tui.drift.ignore import IgnoreMatcher, parse_driftignore
from driftmgr_tui.drift.matcher import (
    GLOBAL,
    Evaluation,
    canonical_types,
    detect,
    nested_loop_detect,
    partition_of,
)
from driftmgr_tui.drift.model import (
    CHANGED,
    MISSING,
    UNMANAGED,
    CloudObject,
    DetectionResult,
    FieldDiff,
    ManagedInstance,
    Unevaluated,
)

ACCOUNT = "123456789012"
REGION = "us-east-1"
SUB = "00000000-0000-0000-0000-000000000001"
AWS_TYPES = ("aws_vpc", "aws_subnet", "aws_s3_bucket", "aws_sqs_queue", "aws_iam_role",
             "aws_cloudwatch_log_group")


def managed(rtype: str, rid: str, attributes: dict[str, Any] | None = None, *, provider: str = "aws",
            region: str | None = REGION, state: str = "s3://states/prod.tfstate",
            address: str | None = None) -> ManagedInstance:
    attrs = {"id": rid, **(attributes or {})}
    return ManagedInstance(address or f"{rtype}.r_{rid}", "", rtype, rid, provider, attrs, state,
                           region=region, match_key=match_key(rtype, rid))


def discovered(rtype: str, rid: str, attributes: dict[str, Any] | None = None, *, provider: str = "aws",
               region: str = REGION, tags: dict[str, str] | None = None,
               cloud_default: str | None = None) -> CloudObject:
    return CloudObject(rtype, rid, match_key(rtype, rid), provider, ACCOUNT, region, tags=dict(tags or {}),
                       attributes=dict(attributes or {}), cloud_default=cloud_default)


def aws_evaluation(*regions: str, types: tuple[str, ...] = AWS_TYPES) -> Evaluation:
    ev = Evaluation()
    for region in regions or (REGION,):
        ev.add_task("aws", region, types, "succeeded")
    return ev


def kinds(result: DetectionResult) -> list[tuple[str, str, str]]:
    return sorted((f.kind, f.terraform_type, f.terraform_id) for f in result.findings)


# --- a clean estate ----------------------------------------------------------------------------------------


def test_clean_estate_reports_nothing() -> None:
    instances = [managed("aws_vpc", "vpc-1", {"cidr_block": "10.0.0.0/16", "tags": None, "tags_all": {"a": "1"}}),
                 managed("aws_sqs_queue", "https://sqs/q1")]
    cloud = [discovered("aws_vpc", "vpc-1", {"CidrBlock": "10.0.0.0/16", TAGS_KNOWN: True}, tags={"a": "1"}),
             discovered("aws_sqs_queue", "https://sqs/q1")]
    result = detect(instances, cloud, aws_evaluation())
    assert result.findings == []
    assert (result.managed, result.missing, result.unmanaged, result.changed) == (2, 0, 0, 0)
    assert result.cloud_total == 2
    assert result.coverage == 100.0
    assert result.unevaluated == [] and result.warnings == []


def test_each_kind_is_reported() -> None:
    instances = [managed("aws_vpc", "vpc-1", {"cidr_block": "10.0.0.0/16"}),
                 managed("aws_iam_role", "gone", region=GLOBAL)]
    cloud = [discovered("aws_vpc", "vpc-1", {"CidrBlock": "10.9.0.0/16"}),
             discovered("aws_cloudwatch_log_group", "/aws/lambda/x")]
    ev = aws_evaluation()
    ev.add_task("aws", GLOBAL, ["aws_iam_role"], "succeeded")
    result = detect(instances, cloud, ev)
    assert kinds(result) == [(CHANGED, "aws_vpc", "vpc-1"), (MISSING, "aws_iam_role", "gone"),
                             (UNMANAGED, "aws_cloudwatch_log_group", "/aws/lambda/x")]
    by_kind = {f.kind: f for f in result.findings}
    assert by_kind[CHANGED].diffs == [FieldDiff("cidr_block", "10.0.0.0/16", "10.9.0.0/16", "medium")]
    assert by_kind[CHANGED].address == "aws_vpc.r_vpc-1"
    assert by_kind[MISSING].severity == "high"
    assert by_kind[UNMANAGED].severity == "low"
    assert (result.managed, result.changed, result.missing, result.unmanaged) == (1, 1, 1, 1)


# --- equivalence and ids -----------------------------------------------------------------------------------


def test_default_vpc_in_state_matches_a_discovered_vpc() -> None:
    assert canonical_types()["aws_default_vpc"] == canonical_types()["aws_vpc"]
    result = detect([managed("aws_default_vpc", "vpc-default")],
                    [discovered("aws_vpc", "vpc-default", cloud_default="default VPC")], aws_evaluation())
    assert result.findings == []
    assert (result.managed, result.missing, result.unmanaged) == (1, 0, 0)
    assert result.cloud_total == 1  # a managed default counts


def test_default_vpc_type_evaluated_through_its_group() -> None:
    # discovery reports aws_vpc; a missing aws_default_vpc is missing, not "type not discovered"
    result = detect([managed("aws_default_vpc", "vpc-gone")], [], aws_evaluation(types=("aws_vpc",)))
    assert kinds(result) == [(MISSING, "aws_default_vpc", "vpc-gone")]


def test_azure_ids_match_case_insensitively() -> None:
    state_id = f"/subscriptions/{SUB}/resourceGroups/RG-App/providers/Microsoft.Network/virtualNetworks/vnet"
    cloud_id = f"/subscriptions/{SUB}/resourcegroups/rg-app/providers/Microsoft.Network/virtualNetworks/vnet"
    assert match_key("azurerm_virtual_network", state_id) == match_key("azurerm_virtual_network", cloud_id)
    assert match_key("aws_s3_bucket", "Bucket") != match_key("aws_s3_bucket", "bucket")
    inst = managed("azurerm_virtual_network", state_id, {"location": "westeurope", "tags": {}}, provider="azure",
                   region=partition_of("azure", "azurerm_virtual_network", {"id": state_id}))
    ev = Evaluation()
    ev.add_task("azure", SUB.upper(), ["azurerm_virtual_network"], "succeeded")
    cloud = discovered("azurerm_virtual_network", cloud_id, {"location": "West Europe"}, provider="azure",
                       region=SUB)
    result = detect([inst], [cloud], ev)
    assert result.findings == []
    assert result.managed == 1


# --- partitions --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("provider", "rtype", "attrs", "expected"), [
    ("aws", "aws_vpc", {"arn": "arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-1"}, "eu-west-1"),
    ("aws", "aws_vpc", {"arn": "arn:aws-us-gov:ec2:us-gov-west-1:123456789012:vpc/vpc-1"}, "us-gov-west-1"),
    ("aws", "aws_sqs_queue", {"region": "ap-south-1"}, "ap-south-1"),
    ("aws", "aws_subnet", {"availability_zone": "us-east-1a"}, "us-east-1"),
    ("aws", "aws_s3_bucket", {"arn": "arn:aws:s3:::my-bucket"}, None),
    ("aws", "aws_iam_role", {"arn": "arn:aws:iam::123456789012:role/app"}, GLOBAL),
    ("aws", "aws_iam_user", {}, GLOBAL),
    ("azure", "azurerm_virtual_network", {"id": f"/subscriptions/{SUB.upper()}/resourceGroups/rg"}, SUB),
    ("azure", "azurerm_virtual_network", {"id": "not-an-arm-id"}, None),
    ("gcp", "google_storage_bucket", {"project": "my-project"}, "my-project"),
    ("gcp", "google_storage_bucket", {"project": ""}, None),
    ("random", "random_id", {"region": "us-east-1"}, None),
])
def test_partition_of(provider: str, rtype: str, attrs: dict[str, Any], expected: str | None) -> None:
    assert partition_of(provider, rtype, attrs) == expected


# --- missing versus unevaluated ----------------------------------------------------------------------------


def test_type_not_discovered_is_unevaluated() -> None:
    result = detect([managed("aws_sqs_queue", "q1")], [], aws_evaluation(types=("aws_vpc",)))
    assert result.findings == [] and result.missing == 0
    assert result.unevaluated == [Unevaluated("aws_sqs_queue", REGION, "type not discovered", 1)]
    assert result.unevaluated_count == 1


def test_failed_region_is_unevaluated_with_the_task_error() -> None:
    ev = aws_evaluation(REGION)
    ev.add_task("aws", "eu-west-1", AWS_TYPES, "failed", "AccessDenied: not authorized (HTTP 403)")
    instances = [managed("aws_vpc", "vpc-eu1", region="eu-west-1"), managed("aws_vpc", "vpc-eu2", region="eu-west-1"),
                 managed("aws_vpc", "vpc-us", region=REGION)]
    result = detect(instances, [], ev)
    assert kinds(result) == [(MISSING, "aws_vpc", "vpc-us")]
    assert result.unevaluated == [
        Unevaluated("aws_vpc", "eu-west-1", "discovery failed: AccessDenied: not authorized (HTTP 403)", 2),
    ]


def test_region_outside_the_scope_is_unevaluated() -> None:
    result = detect([managed("aws_vpc", "vpc-ap", region="ap-south-1")], [], aws_evaluation(REGION))
    assert result.missing == 0
    assert result.unevaluated == [Unevaluated("aws_vpc", "ap-south-1", "ap-south-1 was not in the discovery scope",
                                              1)]


def test_unknown_partition_with_a_failed_type_is_unevaluated() -> None:
    ev = aws_evaluation(REGION)
    ev.add_task("aws", "eu-west-1", ["aws_s3_bucket"], "failed", "Throttling: rate exceeded")
    result = detect([managed("aws_s3_bucket", "my-bucket", region=None)], [], ev)
    assert result.missing == 0
    assert result.unevaluated == [Unevaluated("aws_s3_bucket", "", "discovery failed: Throttling: rate exceeded", 1)]


def test_unknown_partition_of_a_discovered_type_is_missing() -> None:
    result = detect([managed("aws_s3_bucket", "my-bucket", region=None)], [], aws_evaluation())
    assert kinds(result) == [(MISSING, "aws_s3_bucket", "my-bucket")]
    assert result.findings[0].severity == "high"


def test_provider_not_discovered_is_unevaluated() -> None:
    inst = managed("google_storage_bucket", "b", provider="gcp", region="my-project")
    result = detect([inst], [], aws_evaluation())
    assert result.missing == 0
    assert result.unevaluated == [Unevaluated("google_storage_bucket", "my-project",
                                              "provider gcp was not discovered", 1)]


def test_evaluation_reasons() -> None:
    ev = Evaluation()
    ev.add_task("aws", REGION, ["aws_vpc"], "succeeded")
    ev.add_task("aws", "eu-west-1", ["aws_vpc"], "cancelled")
    vpc = canonical_types()["aws_vpc"]
    assert ev.reason_not_evaluated("aws", vpc, REGION) is None
    assert ev.reason_not_evaluated("aws", vpc, "eu-west-1") == "discovery cancelled"
    assert ev.reason_not_evaluated("aws", vpc, "ap-south-1") == "ap-south-1 was not in the discovery scope"
    assert ev.reason_not_evaluated("aws", "aws_sqs_queue", REGION) == "type not discovered"
    assert ev.reason_not_evaluated("aws", "aws_sqs_queue", None) == "type not discovered"
    assert ev.reason_not_evaluated("azure", "azurerm_resource_group", SUB) == "provider azure was not discovered"


# --- cloud defaults, duplicates ----------------------------------------------------------------------------


def test_cloud_defaults_are_never_unmanaged() -> None:
    cloud = [discovered("aws_vpc", "vpc-default", cloud_default="default VPC"),
             discovered("aws_iam_role", "AWSServiceRoleForSupport", region=GLOBAL,
                        cloud_default="service-linked role"),
             discovered("aws_sqs_queue", "q-made-by-hand")]
    result = detect([], cloud, aws_evaluation())
    assert kinds(result) == [(UNMANAGED, "aws_sqs_queue", "q-made-by-hand")]
    assert result.cloud_total == 1
    assert result.unmanaged == 1


def test_resource_in_two_states_is_managed_once_with_a_warning() -> None:
    first = managed("aws_vpc", "vpc-1", address="aws_vpc.main", state="states/network.tfstate")
    second = managed("aws_vpc", "vpc-1", address="module.legacy.aws_vpc.this", state="states/legacy.tfstate")
    result = detect([first, second], [discovered("aws_vpc", "vpc-1")], aws_evaluation())
    assert result.findings == []
    assert result.managed == 1
    [warning] = result.warnings
    assert "vpc-1 is managed twice" in warning
    assert "aws_vpc.main (states/network.tfstate)" in warning
    assert "module.legacy.aws_vpc.this (states/legacy.tfstate)" in warning
    assert result.coverage == 100.0


def test_standalone_security_group_rules_are_compared_through_their_group() -> None:
    sg = managed("aws_security_group", "sg-1", {"ingress": [], "egress": []})
    rule = managed("aws_vpc_security_group_ingress_rule", "sgr-1", {
        "security_group_id": "sg-1", "ip_protocol": "tcp", "from_port": 443, "to_port": 443,
        "cidr_ipv4": "10.0.0.0/16"})
    cloud = discovered("aws_security_group", "sg-1", {
        "GroupId": "sg-1", "IpPermissionsEgress": [],
        "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                           "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}]})
    # the rule is not a discovered type of its own: neither missing nor unevaluated
    result = detect([sg, rule], [cloud], aws_evaluation(types=("aws_security_group",)))
    assert result.findings == []
    assert result.unevaluated == []
    assert (result.managed, result.missing) == (1, 0)
    # without its rule resource the group's cloud rule is unexplained
    result = detect([sg], [cloud], aws_evaluation(types=("aws_security_group",)))
    [finding] = result.findings
    assert finding.diffs == [FieldDiff("ingress", [], ["tcp 443-443 10.0.0.0/16"], "high")]


# --- ignore rules ------------------------------------------------------------------------------------------


def ignore(text: str) -> IgnoreMatcher:
    return IgnoreMatcher(parse_driftignore(text))


def test_ignored_missing_and_unmanaged_resources_are_counted() -> None:
    instances = [managed("aws_vpc", "vpc-gone"), managed("aws_vpc", "vpc-also-gone")]
    cloud = [discovered("aws_sqs_queue", "q1"), discovered("aws_sqs_queue", "q2")]
    result = detect(instances, cloud, aws_evaluation(), ignore=ignore("aws_vpc.vpc-gone\naws_sqs_queue.*\n"))
    assert kinds(result) == [(MISSING, "aws_vpc", "vpc-also-gone")]
    assert result.ignored == 3
    assert (result.missing, result.unmanaged) == (1, 0)


def changed_vpc() -> tuple[list[ManagedInstance], list[CloudObject]]:
    inst = managed("aws_vpc", "vpc-1", {"cidr_block": "10.0.0.0/16", "tags": {"Owner": "a"},
                                        "tags_all": {"Owner": "a"}})
    obj = discovered("aws_vpc", "vpc-1", {"CidrBlock": "10.1.0.0/16", TAGS_KNOWN: True}, tags={"Owner": "b"})
    return [inst], [obj]


def test_ignored_changed_resource_is_not_reported() -> None:
    instances, cloud = changed_vpc()
    result = detect(instances, cloud, aws_evaluation(), ignore=ignore("aws_vpc.vpc-1\n"))
    assert result.findings == []
    assert result.changed == 0
    assert result.managed == 1


def test_ignored_changed_resource_is_counted() -> None:
    instances, cloud = changed_vpc()
    result = detect(instances, cloud, aws_evaluation(), ignore=ignore("aws_vpc.vpc-1\n"))
    assert result.ignored == 1


def test_field_rule_removes_only_that_field() -> None:
    instances, cloud = changed_vpc()
    result = detect(instances, cloud, aws_evaluation(), ignore=ignore("aws_vpc.vpc-1.tags\n"))
    [finding] = result.findings
    assert [(d.path, d.expected, d.actual) for d in finding.diffs] == [("cidr_block", "10.0.0.0/16",
                                                                         "10.1.0.0/16")]
    assert finding.severity == "medium"


def test_field_rule_drops_a_finding_with_nothing_left() -> None:
    instances, cloud = changed_vpc()
    cloud[0].attributes["CidrBlock"] = "10.0.0.0/16"
    result = detect(instances, cloud, aws_evaluation(), ignore=ignore("aws_vpc.*.tags.Owner\n"))
    assert result.findings == []
    assert (result.changed, result.managed) == (0, 1)


# --- coverage ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("managed_n", "unmanaged_n", "missing_n", "expected"), [
    (2, 1, 1, 50.0), (1, 2, 0, 33.33), (0, 0, 0, 100.0), (0, 3, 0, 0.0), (3, 0, 0, 100.0),
])
def test_coverage_percent(managed_n: int, unmanaged_n: int, missing_n: int, expected: float) -> None:
    assert DetectionResult(managed=managed_n, unmanaged=unmanaged_n, missing=missing_n).coverage == expected


def test_coverage_from_a_detection() -> None:
    instances = [managed("aws_sqs_queue", f"q{n}") for n in range(3)]
    cloud = [discovered("aws_sqs_queue", "q0"), discovered("aws_sqs_queue", "q1"),
             discovered("aws_sqs_queue", "q-extra")]
    result = detect(instances, cloud, aws_evaluation())
    assert (result.managed, result.missing, result.unmanaged) == (2, 1, 1)
    assert result.coverage == 50.0


# --- the naive baseline agrees -----------------------------------------------------------------------------


def test_nested_loop_detect_agrees_with_detect() -> None:
    rng = random.Random(20240611)
    types = ("aws_sqs_queue", "aws_s3_bucket", "aws_cloudwatch_log_group", "aws_subnet")
    instances: list[ManagedInstance] = []
    cloud: list[CloudObject] = []
    for rtype in types:
        ids = [f"{rtype}-{n}" for n in range(rng.randint(20, 60))]
        for rid in ids:
            roll = rng.random()
            if roll < 0.6:  # managed
                instances.append(managed(rtype, rid))
                cloud.append(discovered(rtype, rid))
            elif roll < 0.8:  # missing
                instances.append(managed(rtype, rid))
            else:  # unmanaged
                cloud.append(discovered(rtype, rid))
    rng.shuffle(instances)
    rng.shuffle(cloud)
    result = detect(instances, cloud, aws_evaluation(types=types))
    assert nested_loop_detect(instances, cloud) == (result.managed, result.missing, result.unmanaged)
    assert result.managed + result.missing == len(instances)
    assert result.managed + result.unmanaged == len(cloud) == result.cloud_total
