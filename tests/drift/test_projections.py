"""Projections: a discovered object (as the boto3 / ARM / Google APIs describe it) seen through its Terraform
type's attribute names, compared with a state instance written the way the providers write it. A resource in
sync reports nothing; a planted change reports exactly that field."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from driftmgr_tui.discovery.model import TAGS_KNOWN
from driftmgr_tui.drift.model import CloudObject, FieldDiff, ManagedInstance
from driftmgr_tui.drift.projections import (
    ComparisonContext,
    compare,
    format_atom,
    permission_atoms,
    projection_for,
    rule_atoms,
)

ACCOUNT = "123456789012"
REGION = "us-east-1"
SG = "sg-0123456789abcdef0"
APP_SG = "sg-0aaaaaaaaaaaaaaaa"
VPC = "vpc-0fedcba9876543210"


def cloud_object(rtype: str, rid: str, attributes: dict[str, Any], *, tags: dict[str, str] | None = None,
                 provider: str = "aws", region: str = REGION, tags_known: bool = True) -> CloudObject:
    attrs = dict(attributes)
    if provider == "aws":
        attrs[TAGS_KNOWN] = tags_known
    return CloudObject(rtype, rid, rid, provider, ACCOUNT, region, tags=dict(tags or {}), attributes=attrs)


def instance(rtype: str, name: str, attributes: dict[str, Any], *, provider: str = "aws",
             sensitive: frozenset[str] = frozenset()) -> ManagedInstance:
    return ManagedInstance(f"{rtype}.{name}", "", rtype, str(attributes["id"]), provider, attributes,
                           "s3://states/prod.tfstate", sensitive_paths=sensitive, region=REGION,
                           match_key=str(attributes["id"]))


# --- security groups ---------------------------------------------------------------------------------------


def describe_security_group() -> dict[str, Any]:
    """One item of DescribeSecurityGroups' SecurityGroups."""
    return {
        "GroupId": SG, "GroupName": "web", "Description": "web tier", "VpcId": VPC, "OwnerId": ACCOUNT,
        "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
             "IpRanges": [{"CidrIp": "10.0.0.0/16", "Description": "https"}],
             "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32", "Description": "https"}],
             "PrefixListIds": [], "UserIdGroupPairs": []},
            {"IpProtocol": "-1", "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
             "UserIdGroupPairs": [{"GroupId": SG, "UserId": ACCOUNT}]},
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [], "Ipv6Ranges": [],
             "PrefixListIds": [{"PrefixListId": "pl-12345678"}],
             "UserIdGroupPairs": [{"GroupId": APP_SG, "UserId": ACCOUNT, "Description": "app"}]},
        ],
        "IpPermissionsEgress": [
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [], "PrefixListIds": [],
             "UserIdGroupPairs": []},
        ],
        "Tags": [{"Key": "Name", "Value": "web"}],
    }


def _rule(protocol: str, low: int, high: int, **extra: Any) -> dict[str, Any]:
    block = {"cidr_blocks": [], "description": "", "from_port": low, "ipv6_cidr_blocks": [],
             "prefix_list_ids": [], "protocol": protocol, "security_groups": [], "self": False, "to_port": high}
    block.update(extra)
    return block


def security_group_state() -> ManagedInstance:
    """The group with its HTTPS and self rules inline; the database rules are standalone resources."""
    return instance("aws_security_group", "web", {
        "id": SG, "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{SG}", "name": "web",
        "name_prefix": "", "description": "web tier", "vpc_id": VPC, "owner_id": ACCOUNT,
        "revoke_rules_on_delete": False, "timeouts": None,
        "ingress": [
            _rule("tcp", 443, 443, cidr_blocks=["10.0.0.0/16"], ipv6_cidr_blocks=["2001:db8::/32"],
                  description="https"),
            _rule("-1", 0, 0, self=True),
        ],
        "egress": [_rule("-1", 0, 0, cidr_blocks=["0.0.0.0/0"])],
        "tags": {"Name": "web"}, "tags_all": {"Name": "web"},
    })


def standalone_rules() -> list[ManagedInstance]:
    classic = instance("aws_security_group_rule", "db_from_app", {
        "id": "sgrule-1234567890", "type": "ingress", "security_group_id": SG, "protocol": "tcp",
        "from_port": 5432, "to_port": 5432, "cidr_blocks": None, "ipv6_cidr_blocks": None, "prefix_list_ids": [],
        "source_security_group_id": APP_SG, "self": False, "description": "app",
    })
    vpc_rule = instance("aws_vpc_security_group_ingress_rule", "db_from_pl", {
        "id": "sgr-0123456789abcdef0", "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group-rule/sgr-0123",
        "security_group_id": SG, "ip_protocol": "tcp", "from_port": 5432, "to_port": 5432,
        "prefix_list_id": "pl-12345678", "cidr_ipv4": None, "cidr_ipv6": None,
        "referenced_security_group_id": None, "description": None, "tags": None, "tags_all": {},
    })
    return [classic, vpc_rule]


def test_permission_atoms_of_describe_security_groups() -> None:
    assert permission_atoms(describe_security_group()["IpPermissions"], SG) == {
        'tcp 443-443 10.0.0.0/16 "https"',
        'tcp 443-443 2001:db8::/32 "https"',
        "-1 all self",
        "tcp 5432-5432 pl-12345678",
        f'tcp 5432-5432 {APP_SG} "app"',
    }


def test_rule_atoms_match_permission_atoms() -> None:
    sg = security_group_state()
    assert rule_atoms(sg.attributes["egress"], SG) == permission_atoms(
        describe_security_group()["IpPermissionsEgress"], SG)
    # a group named by id, or cross-account as ACCOUNT/sg-id, is "self" when it is the group itself
    assert rule_atoms([_rule("tcp", 22, 22, security_groups=[f"{ACCOUNT}/{SG}"])], SG) == {"tcp 22-22 self"}


def test_rules_split_between_inline_and_standalone_resources_are_in_sync() -> None:
    sg = security_group_state()
    ctx = ComparisonContext.build([sg, *standalone_rules()])
    cloud = cloud_object("aws_security_group", SG, describe_security_group(), tags={"Name": "web"})
    assert compare(sg, cloud, ctx) == []


def test_standalone_rules_are_needed_to_explain_the_cloud() -> None:
    sg = security_group_state()
    cloud = cloud_object("aws_security_group", SG, describe_security_group(), tags={"Name": "web"})
    assert compare(sg, cloud, ComparisonContext.build([sg])) == [
        FieldDiff("ingress", [], ["tcp 5432-5432 pl-12345678", f'tcp 5432-5432 {APP_SG} "app"']),
    ]


def test_vpc_egress_rule_resource_counts_as_egress() -> None:
    egress = instance("aws_vpc_security_group_egress_rule", "all_out", {
        "id": "sgr-0eeeeeeeeeeeeeeee", "security_group_id": SG, "ip_protocol": "-1", "from_port": None,
        "to_port": None, "cidr_ipv4": "0.0.0.0/0", "cidr_ipv6": None, "prefix_list_id": None,
        "referenced_security_group_id": None, "description": None,
    })
    ctx = ComparisonContext.build([egress])
    assert {d: {format_atom(k) for k in keys} for d, keys in ctx.sg_rules[SG].items()} == {
        "ingress": set(), "egress": {"-1 all 0.0.0.0/0"}}


def test_ssh_opened_to_the_world_is_reported() -> None:
    sg = security_group_state()
    ctx = ComparisonContext.build([sg, *standalone_rules()])
    group = describe_security_group()
    group["IpPermissions"].append({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                   "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [],
                                   "PrefixListIds": [], "UserIdGroupPairs": []})
    cloud = cloud_object("aws_security_group", SG, group, tags={"Name": "web"})
    assert compare(sg, cloud, ctx) == [FieldDiff("ingress", [], ["tcp 22-22 0.0.0.0/0"])]


def test_revoked_rule_is_reported_as_expected_only() -> None:
    sg = security_group_state()
    ctx = ComparisonContext.build([sg, *standalone_rules()])
    group = describe_security_group()
    del group["IpPermissions"][1]  # the self rule
    cloud = cloud_object("aws_security_group", SG, group, tags={"Name": "web"})
    assert compare(sg, cloud, ctx) == [FieldDiff("ingress", ["-1 all self"], [])]


def test_security_group_description_change() -> None:
    sg = security_group_state()
    group = describe_security_group()
    group["Description"] = "changed by hand"
    cloud = cloud_object("aws_security_group", SG, group, tags={"Name": "web"})
    diffs = compare(sg, cloud, ComparisonContext.build([sg, *standalone_rules()]))
    assert diffs == [FieldDiff("description", "web tier", "changed by hand")]


# --- tags --------------------------------------------------------------------------------------------------


def describe_vpc() -> dict[str, Any]:
    return {"VpcId": VPC, "CidrBlock": "10.0.0.0/16", "InstanceTenancy": "default", "State": "available",
            "DhcpOptionsId": "dopt-1", "IsDefault": False, "OwnerId": ACCOUNT,
            "CidrBlockAssociationSet": [{"AssociationId": "vpc-cidr-assoc-1", "CidrBlock": "10.0.0.0/16",
                                         "CidrBlockState": {"State": "associated"}}],
            "Tags": [{"Key": "Name", "Value": "main"}, {"Key": "ManagedBy", "Value": "terraform"}]}


def vpc_state(**overrides: Any) -> ManagedInstance:
    attrs = {"id": VPC, "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{VPC}", "cidr_block": "10.0.0.0/16",
             "instance_tenancy": None, "enable_dns_support": True, "enable_dns_hostnames": False,
             "ipv6_cidr_block": "", "owner_id": ACCOUNT, "tags": {"Name": "main"},
             "tags_all": {"Name": "main", "ManagedBy": "terraform"}}
    attrs.update(overrides)
    return instance("aws_vpc", "main", attrs)


VPC_TAGS = {"Name": "main", "ManagedBy": "terraform"}


def test_vpc_in_sync() -> None:
    # instance_tenancy null in the state is the provider default "default"
    assert compare(vpc_state(), cloud_object("aws_vpc", VPC, describe_vpc(), tags=VPC_TAGS),
                   ComparisonContext()) == []


def test_vpc_cidr_and_tag_changes() -> None:
    vpc = describe_vpc()
    vpc["CidrBlock"] = "10.1.0.0/16"
    cloud = cloud_object("aws_vpc", VPC, vpc, tags={"Name": "main", "ManagedBy": "console", "Owner": "bob"})
    assert compare(vpc_state(), cloud, ComparisonContext()) == [
        FieldDiff("cidr_block", "10.0.0.0/16", "10.1.0.0/16"),
        FieldDiff("tags.ManagedBy", "terraform", "console"),
        FieldDiff("tags.Owner", None, "bob"),
    ]


def test_default_vpc_state_compares_with_the_discovered_vpc() -> None:
    default = instance("aws_default_vpc", "default", {**vpc_state().attributes})
    assert compare(default, cloud_object("aws_vpc", VPC, describe_vpc(), tags=VPC_TAGS), ComparisonContext()) == []


def test_tags_not_compared_when_discovery_did_not_know_them() -> None:
    cloud = cloud_object("aws_vpc", VPC, describe_vpc(), tags={}, tags_known=False)
    assert compare(vpc_state(), cloud, ComparisonContext()) == []
    # other fields are still compared
    vpc = describe_vpc()
    vpc["CidrBlock"] = "10.9.0.0/16"
    cloud = cloud_object("aws_vpc", VPC, vpc, tags={"Name": "other"}, tags_known=False)
    assert compare(vpc_state(), cloud, ComparisonContext()) == [
        FieldDiff("cidr_block", "10.0.0.0/16", "10.9.0.0/16"),
    ]


def test_aws_reserved_tags_are_ignored() -> None:
    tags = {**VPC_TAGS, "aws:cloudformation:stack-name": "legacy", "aws:createdBy": "someone"}
    assert compare(vpc_state(), cloud_object("aws_vpc", VPC, describe_vpc(), tags=tags), ComparisonContext()) == []


def test_untagged_type_compares_no_tags() -> None:
    # a state without any tags attribute says nothing about tags
    state = vpc_state()
    attrs = {k: v for k, v in state.attributes.items() if k not in ("tags", "tags_all")}
    untagged = instance("aws_vpc", "main", attrs)
    assert compare(untagged, cloud_object("aws_vpc", VPC, describe_vpc(), tags={"Owner": "x"}),
                   ComparisonContext()) == []


# --- instances and IAM -------------------------------------------------------------------------------------


def describe_instance() -> dict[str, Any]:
    """One item of DescribeInstances' Reservations[].Instances."""
    return {
        "InstanceId": "i-0123456789abcdef0", "ImageId": "ami-0abcdef1234567890", "InstanceType": "t3.micro",
        "KeyName": "deploy", "SubnetId": "subnet-0123", "VpcId": VPC, "PrivateIpAddress": "10.0.1.10",
        "Placement": {"AvailabilityZone": "us-east-1a", "Tenancy": "default"},
        "State": {"Code": 16, "Name": "running"}, "EbsOptimized": False, "SourceDestCheck": True,
        "SecurityGroups": [{"GroupName": "web", "GroupId": SG}, {"GroupName": "app", "GroupId": APP_SG}],
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeId": "vol-1", "Status": "attached"}}],
        "Tags": [{"Key": "Name", "Value": "web-1"}],
    }


def instance_state() -> ManagedInstance:
    return instance("aws_instance", "web", {
        "id": "i-0123456789abcdef0", "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0123456789abcdef0",
        "ami": "ami-0abcdef1234567890", "instance_type": "t3.micro", "key_name": "deploy",
        "subnet_id": "subnet-0123", "availability_zone": "us-east-1a", "vpc_security_group_ids": [APP_SG, SG],
        "source_dest_check": None, "ebs_optimized": None, "user_data": None, "private_ip": "10.0.1.10",
        "root_block_device": [{"volume_size": 8, "volume_type": "gp3", "encrypted": False}],
        "tags": {"Name": "web-1"}, "tags_all": {"Name": "web-1"}, "timeouts": None,
    })


def test_instance_in_sync() -> None:
    cloud = cloud_object("aws_instance", "i-0123456789abcdef0", describe_instance(), tags={"Name": "web-1"})
    assert compare(instance_state(), cloud, ComparisonContext()) == []


def test_instance_type_and_security_groups_changed() -> None:
    described = describe_instance()
    described["InstanceType"] = "m5.large"
    described["SecurityGroups"].append({"GroupName": "debug", "GroupId": "sg-0dddddddddddddddd"})
    cloud = cloud_object("aws_instance", "i-0123456789abcdef0", described, tags={"Name": "web-1"})
    assert compare(instance_state(), cloud, ComparisonContext()) == [
        FieldDiff("instance_type", "t3.micro", "m5.large"),
        FieldDiff("vpc_security_group_ids", [], ["sg-0dddddddddddddddd"]),
    ]


ASSUME_ROLE = {"Version": "2012-10-17",
               "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                              "Action": "sts:AssumeRole"}]}


def get_role() -> dict[str, Any]:
    """GetRole's Role: boto3 hands the trust policy over as a dict."""
    return {"Path": "/", "RoleName": "app", "RoleId": "AROAEXAMPLEID", "Arn": f"arn:aws:iam::{ACCOUNT}:role/app",
            "CreateDate": "2024-01-01T00:00:00+00:00", "AssumeRolePolicyDocument": copy.deepcopy(ASSUME_ROLE),
            "MaxSessionDuration": 3600, "RoleLastUsed": {}, "Tags": [{"Key": "team", "Value": "core"}]}


def role_state() -> ManagedInstance:
    # Terraform's jsonencode order, a Sid "" and the defaults left null
    policy = json.dumps({"Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow",
                                        "Principal": {"Service": "ec2.amazonaws.com"}, "Sid": ""}],
                         "Version": "2012-10-17"}, separators=(",", ":"))
    return instance("aws_iam_role", "app", {
        "id": "app", "name": "app", "arn": f"arn:aws:iam::{ACCOUNT}:role/app", "assume_role_policy": policy,
        "description": "", "path": None, "max_session_duration": None, "force_detach_policies": False,
        "managed_policy_arns": [], "inline_policy": [], "permissions_boundary": None, "name_prefix": "",
        "unique_id": "AROAEXAMPLEID", "tags": {"team": "core"}, "tags_all": {"team": "core"},
    })


def test_iam_role_in_sync() -> None:
    cloud = cloud_object("aws_iam_role", "app", get_role(), tags={"team": "core"}, region="global")
    assert compare(role_state(), cloud, ComparisonContext()) == []


def test_iam_role_trust_policy_widened() -> None:
    role = get_role()
    role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] = {"AWS": "999999999999"}
    role["MaxSessionDuration"] = 43200
    cloud = cloud_object("aws_iam_role", "app", role, tags={"team": "core"}, region="global")
    assert compare(role_state(), cloud, ComparisonContext()) == [
        FieldDiff("assume_role_policy.Statement.0.Principal.AWS", None, ["arn:aws:iam::999999999999:root"]),
        FieldDiff("assume_role_policy.Statement.0.Principal.Service", ["ec2.amazonaws.com"], None),
        FieldDiff("max_session_duration", 3600, 43200),
    ]


# --- Azure, Google, types without a projection -------------------------------------------------------------

AZ_VNET = ("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/"
           "Microsoft.Network/virtualNetworks/vnet-app")


def azure_vnet(location: str = "West Europe", tags: dict[str, str] | None = None) -> CloudObject:
    return cloud_object("azurerm_virtual_network", AZ_VNET.lower(),
                        {"id": AZ_VNET, "name": "vnet-app", "location": location,
                         "properties": {"addressSpace": {"addressPrefixes": ["10.1.0.0/16"]}}},
                        tags={"env": "prod"} if tags is None else tags, provider="azure",
                        region="00000000-0000-0000-0000-000000000001")


def azure_state(**overrides: Any) -> ManagedInstance:
    attrs = {"id": AZ_VNET, "name": "vnet-app", "location": "westeurope", "resource_group_name": "rg-app",
             "address_space": ["10.1.0.0/16"], "tags": {"env": "prod"}}
    attrs.update(overrides)
    return instance("azurerm_virtual_network", "app", attrs, provider="azure")


def test_azure_location_display_name_equals_its_code() -> None:
    assert compare(azure_state(), azure_vnet(), ComparisonContext()) == []


def test_azure_location_and_tags_are_compared() -> None:
    diffs = compare(azure_state(), azure_vnet("North Europe", {"env": "dev"}), ComparisonContext())
    assert diffs == [FieldDiff("location", "westeurope", "northeurope"), FieldDiff("tags.env", "prod", "dev")]


def test_azure_null_tags_equal_no_tags() -> None:
    assert compare(azure_state(tags=None), azure_vnet(tags={}), ComparisonContext()) == []


def gcp_bucket(labels: dict[str, str]) -> CloudObject:
    return cloud_object("google_storage_bucket", "my-bucket",
                        {"name": "my-bucket", "location": "EU", "labels": labels}, provider="gcp",
                        region="my-project")


def test_gcp_labels_come_from_effective_labels() -> None:
    # provider 5: labels holds only the configured labels, effective_labels all of them
    state = instance("google_storage_bucket", "b", {
        "id": "my-bucket", "name": "my-bucket", "project": "my-project", "labels": {"env": "prod"},
        "effective_labels": {"env": "prod", "goog-terraform-provisioned": "true"},
        "terraform_labels": {"env": "prod", "goog-terraform-provisioned": "true"},
    }, provider="gcp")
    assert compare(state, gcp_bucket({"env": "prod", "goog-terraform-provisioned": "true"}),
                   ComparisonContext()) == []
    assert compare(state, gcp_bucket({"env": "dev", "goog-terraform-provisioned": "true"}),
                   ComparisonContext()) == [FieldDiff("labels.env", "prod", "dev")]


def test_gcp_without_labels_in_state_compares_nothing() -> None:
    state = instance("google_storage_bucket", "b", {"id": "my-bucket", "name": "my-bucket"}, provider="gcp")
    assert compare(state, gcp_bucket({"env": "dev"}), ComparisonContext()) == []


@pytest.mark.parametrize("rtype", ["aws_sqs_queue", "aws_cloudwatch_log_group"])
def test_aws_type_without_projection_compares_only_tags(rtype: str) -> None:
    state = instance(rtype, "q", {"id": "q-1", "name": "q", "retention_in_days": 7, "tags": {"a": "1"},
                                  "tags_all": {"a": "1"}})
    assert compare(state, cloud_object(rtype, "q-1", {"RetentionInDays": 30}, tags={"a": "1"}),
                   ComparisonContext()) == []
    assert compare(state, cloud_object(rtype, "q-1", {}, tags={"a": "2"}), ComparisonContext()) == [
        FieldDiff("tags.a", "1", "2"),
    ]


def test_provider_without_projection_compares_nothing() -> None:
    assert projection_for("random", "random_id") is None
    state = instance("random_id", "x", {"id": "abc", "byte_length": 8}, provider="random")
    cloud = CloudObject("random_id", "abc", "abc", "random", "", "", attributes={"byte_length": 16})
    assert compare(state, cloud, ComparisonContext()) == []


def test_sensitive_state_paths_hide_projected_values() -> None:
    state = instance("aws_iam_role", "app", {**role_state().attributes, "description": "old"},
                     sensitive=frozenset({"description"}))
    role = get_role()
    role["Description"] = "new"
    cloud = cloud_object("aws_iam_role", "app", role, tags={"team": "core"}, region="global")
    assert compare(state, cloud, ComparisonContext()) == [FieldDiff("description", "(sensitive)", "(sensitive)")]


def test_portless_protocol_rules_compare_without_ports() -> None:
    """ESP (50) has no ports: the API leaves them out, the provider records 0-0; not drift."""
    state_rules = [{"protocol": "50", "from_port": 0, "to_port": 0, "cidr_blocks": ["10.1.0.0/16"],
                    "ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": [], "self": False,
                    "description": ""}]
    api = [{"IpProtocol": "50", "IpRanges": [{"CidrIp": "10.1.0.0/16"}], "Ipv6Ranges": [], "PrefixListIds": [],
            "UserIdGroupPairs": []}]
    assert rule_atoms(state_rules) == permission_atoms(api, None) == {"50 all 10.1.0.0/16"}
    tcp = [{**state_rules[0], "protocol": "tcp", "from_port": 443, "to_port": 443}]
    assert rule_atoms(tcp) == {"tcp 443-443 10.1.0.0/16"}
