"""Objects AWS makes by itself are flagged with the reason (``cloud_default``), so drift can leave them out of
"unmanaged"; the same kind of object made by someone is not flagged. Where moto can make the AWS-made object,
the flag is proved through the adapter; where it cannot (AWS-managed KMS keys, default parameter groups), the
entry's rule is checked on the object AWS's API returns."""

from __future__ import annotations

from typing import Any

import pytest

from driftmgr_tui.discovery.aws.catalog import AWS_TYPES
from driftmgr_tui.discovery.model import DiscoveredResource, Scope
from tests.discovery.aws.helpers import REGION, client, discover, discover_type

ENTRIES = {t.terraform_type: t for t in AWS_TYPES}


def _flags(found: list[DiscoveredResource], terraform_type: str) -> dict[str, str | None]:
    return {r.terraform_id: r.cloud_default for r in found if r.terraform_type == terraform_type}


def test_default_vpc_subnets_security_groups_route_tables_and_acls_are_flagged(aws: str) -> None:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.50.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc)["GroupId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]

    def ids(call: str, key: str, items: str, *filters: tuple[str, str]) -> set[str]:
        answer = getattr(ec2, call)(Filters=[{"Name": n, "Values": [v]} for n, v in filters])
        return {item[key] for item in answer[items]}

    default_vpc = ids("describe_vpcs", "VpcId", "Vpcs", ("is-default", "true"))
    default_subnets = ids("describe_subnets", "SubnetId", "Subnets", ("default-for-az", "true"))
    default_groups = ids("describe_security_groups", "GroupId", "SecurityGroups", ("group-name", "default"))
    main_tables = ids("describe_route_tables", "RouteTableId", "RouteTables", ("association.main", "true"))
    default_acls = ids("describe_network_acls", "NetworkAclId", "NetworkAcls", ("default", "true"))
    assert len(default_vpc) == 1 and len(default_subnets) >= 2
    assert len(default_groups) == len(main_tables) == len(default_acls) == 2  # the default VPC's and ours

    found = discover(Scope(provider="aws", regions=(REGION,), types=(
        "aws_vpc", "aws_subnet", "aws_security_group", "aws_route_table", "aws_network_acl")))
    for terraform_type, made_by_aws, made_by_us in (
        ("aws_vpc", default_vpc, {vpc}),
        ("aws_subnet", default_subnets, {subnet}),
        ("aws_security_group", default_groups, {group}),
        ("aws_route_table", main_tables, {table}),
        ("aws_network_acl", default_acls, {acl}),
    ):
        flags = _flags(found, terraform_type)
        assert set(flags) == made_by_aws | made_by_us, terraform_type
        assert all(flags[i] for i in made_by_aws), (terraform_type, flags)
        assert all(flags[i] is None for i in made_by_us), (terraform_type, flags)
    assert _flags(found, "aws_vpc")[next(iter(default_vpc))] == "default VPC"


def test_the_regions_default_dhcp_options_are_flagged(aws: str) -> None:
    ec2 = client("ec2")
    # the shape AWS gives every region's default set (moto does not make one)
    aws_made = ec2.create_dhcp_options(DhcpConfigurations=[
        {"Key": "domain-name", "Values": ["ec2.internal"]},
        {"Key": "domain-name-servers", "Values": ["AmazonProvidedDNS"]},
    ])["DhcpOptions"]["DhcpOptionsId"]
    ours = ec2.create_dhcp_options(DhcpConfigurations=[
        {"Key": "domain-name", "Values": ["corp.example"]},
        {"Key": "domain-name-servers", "Values": ["AmazonProvidedDNS"]},
    ])["DhcpOptions"]["DhcpOptionsId"]
    flags = _flags(discover_type("aws_vpc_dhcp_options"), "aws_vpc_dhcp_options")
    assert flags == {aws_made: "default DHCP options AWS creates in every region", ours: None}


def test_service_linked_roles_are_flagged(aws: str) -> None:
    iam = client("iam")
    linked = iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com")["Role"]
    assert linked["Path"].startswith("/aws-service-role/")
    iam.create_role(RoleName="app", AssumeRolePolicyDocument="{}", Path="/apps/")
    flags = _flags(discover_type("aws_iam_role"), "aws_iam_role")
    assert flags == {linked["RoleName"]: "service-linked role", "app": None}


def test_aws_managed_kms_aliases_are_flagged(aws: str) -> None:
    kms = client("kms")
    kms.create_alias(AliasName="alias/app", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    aws_aliases = {a["AliasName"] for a in kms.list_aliases()["Aliases"] if a["AliasName"].startswith("alias/aws/")}
    assert aws_aliases  # moto lists the reserved aliases like AWS does
    flags = _flags(discover_type("aws_kms_alias"), "aws_kms_alias")
    assert flags.pop("alias/app") is None
    assert set(flags) == aws_aliases and set(flags.values()) == {"AWS-managed alias"}


def test_customer_managed_kms_keys_are_not_flagged(aws: str) -> None:
    key = client("kms").create_key(Description="ours")["KeyMetadata"]
    assert key["KeyManager"] == "CUSTOMER"
    assert _flags(discover_type("aws_kms_key"), "aws_kms_key") == {key["KeyId"]: None}


def test_the_default_event_bus_is_flagged(aws: str) -> None:
    client("events").create_event_bus(Name="orders")
    flags = _flags(discover_type("aws_cloudwatch_event_bus"), "aws_cloudwatch_event_bus")
    assert flags == {"default": "default event bus AWS creates in every region", "orders": None}


def test_a_transit_gateways_default_route_table_is_flagged(aws: str) -> None:
    ec2 = client("ec2")
    tgw = ec2.create_transit_gateway()["TransitGateway"]
    default_table = tgw["Options"]["AssociationDefaultRouteTableId"]
    ours = ec2.create_transit_gateway_route_table(TransitGatewayId=tgw["TransitGatewayId"])
    ours_id = ours["TransitGatewayRouteTable"]["TransitGatewayRouteTableId"]
    flags = _flags(discover_type("aws_ec2_transit_gateway_route_table"), "aws_ec2_transit_gateway_route_table")
    assert flags == {default_table: "default route table AWS creates with a transit gateway", ours_id: None}


def test_network_interfaces_that_are_part_of_an_instance_are_flagged(aws: str) -> None:
    ec2 = client("ec2")
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]
    primary = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
    subnet = instance["SubnetId"]
    ours = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    flags = _flags(discover_type("aws_network_interface"), "aws_network_interface")
    assert flags == {primary: f"primary interface of {instance['InstanceId']} (part of the aws_instance)",
                     ours: None}


def test_aws_managed_prefix_lists_are_left_out(aws: str) -> None:
    ec2 = client("ec2")
    assert any(p["OwnerId"] == "AWS" for p in ec2.describe_managed_prefix_lists()["PrefixLists"])
    ours = ec2.create_managed_prefix_list(PrefixListName="ours", AddressFamily="IPv4", MaxEntries=1)
    found = discover_type("aws_ec2_managed_prefix_list")
    assert [r.terraform_id for r in found] == [ours["PrefixList"]["PrefixListId"]]


@pytest.mark.parametrize(("terraform_type", "item", "reason"), [
    ("aws_kms_key", {"KeyId": "k", "KeyMetadata": {"KeyManager": "AWS", "KeyState": "Enabled"}}, "AWS-managed key"),
    ("aws_kms_key", {"KeyId": "k", "KeyMetadata": {"KeyManager": "CUSTOMER"}}, None),
    ("aws_db_parameter_group", {"DBParameterGroupName": "default.postgres16"}, "default parameter group AWS provides"),
    ("aws_db_parameter_group", {"DBParameterGroupName": "tuned"}, None),
    ("aws_rds_cluster_parameter_group", {"DBClusterParameterGroupName": "default.aurora-mysql8.0"},
     "default parameter group AWS provides"),
    ("aws_db_subnet_group", {"DBSubnetGroupName": "default"}, "default DB subnet group AWS creates"),
    ("aws_db_subnet_group", {"DBSubnetGroupName": "app"}, None),
    ("aws_elasticache_subnet_group", {"CacheSubnetGroupName": "default"}, "default cache subnet group AWS creates"),
    # moto does not list a replication group's nodes as cache clusters; AWS does
    ("aws_elasticache_cluster", {"CacheClusterId": "ha-001", "ReplicationGroupId": "ha"},
     "node of replication group ha (aws_elasticache_replication_group)"),
    ("aws_network_interface", {"RequesterManaged": True}, "interface a service manages for you (requester-managed)"),
    ("aws_network_interface", {"InterfaceType": "nat_gateway"}, "nat_gateway interface AWS manages"),
    ("aws_ebs_volume", {"Attachments": [{"InstanceId": "i-1", "Device": "/dev/xvdb", "DeleteOnTermination": True}]},
     "block device of instance i-1 (managed by aws_instance)"),
    ("aws_ebs_volume", {"Attachments": [{"InstanceId": "i-1", "Device": "/dev/xvdb", "DeleteOnTermination": False}]},
     None),
    ("aws_backup_vault", {"BackupVaultName": "Default"}, "backup vault AWS creates"),
    ("aws_backup_vault", {"BackupVaultName": "aws/efs/automatic-backup-vault"}, "backup vault AWS creates"),
    ("aws_backup_vault", {"BackupVaultName": "nightly"}, None),
    ("aws_vpc_dhcp_options", {"DhcpConfigurations": [
        {"Key": "domain-name", "Values": [{"Value": "eu-west-1.compute.internal"}]},
        {"Key": "domain-name-servers", "Values": [{"Value": "AmazonProvidedDNS"}]}]},
     "default DHCP options AWS creates in every region"),
])
def test_default_rules_on_objects_moto_cannot_make(terraform_type: str, item: dict[str, Any],
                                                   reason: str | None) -> None:
    rule = ENTRIES[terraform_type].default
    assert rule is not None
    assert rule(item) == reason


def test_volumes_made_with_an_instance_are_flagged(aws: str) -> None:
    ec2 = client("ec2")
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]
    root = instance["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    ours = ec2.create_volume(AvailabilityZone=instance["Placement"]["AvailabilityZone"], Size=1)["VolumeId"]
    ec2.attach_volume(VolumeId=ours, InstanceId=instance["InstanceId"], Device="/dev/sdf")
    flags = _flags(discover_type("aws_ebs_volume"), "aws_ebs_volume")
    assert flags == {root: f"block device of instance {instance['InstanceId']} (managed by aws_instance)",
                     ours: None}
