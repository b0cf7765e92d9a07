"""The demo estate: a small production-like AWS account, created in a local AWS (moto, reached through
``AWS_ENDPOINT_URL``), with the Terraform state and configuration that manage it.

:func:`build_demo_estate` creates 45 resources of 21 types: two VPCs and six subnets (``count`` and
``for_each``), an internet gateway, a route table, five security groups whose rules are split between inline
blocks and standalone rule resources, a key pair, three EC2 instances, four S3 buckets, three IAM roles (trust
policies), two users, a managed policy, an instance profile and a policy attachment, three SQS queues (one a
dead-letter queue), two SNS topics, three CloudWatch log groups, a DynamoDB table and a SecureString SSM
parameter. Networking sits in ``module.network``, the application tier in ``module.app``, shared services at
the root. Terraform 1.11 with the AWS provider 5.100 accepts the working dir as written: ``validate`` passes
and ``plan -refresh=false`` finds nothing to do.

The state is written the way Terraform 1.11 with the AWS provider 5.x writes it: ``tags`` null next to
``tags_all`` (default tags come from the provider block), policies as JSON strings in ``jsonencode`` form,
unset arguments at their provider defaults, sensitive values listed in ``sensitive_attributes``, ``each`` on
resources with ``count``/``for_each``. The configuration (root ``main.tf`` plus ``modules/network`` and
``modules/app``) declares exactly what the state holds, so the estate as built reports no drift at all.

:func:`plant_demo_drift` then changes the cloud, the way people do from the console, and the code, the way a
half-finished change leaves it; it returns what a scan must report, exactly.
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

REGION = "us-east-1"
PROVIDER = 'provider["registry.terraform.io/hashicorp/aws"]'
TERRAFORM_VERSION = "1.11.4"
NAME = "acme-prod"
SUFFIX = "7f3a"
DEFAULT_TAGS = {"Environment": "prod", "ManagedBy": "terraform", "Project": "acme-shop"}
# Amazon Linux 2023 in us-east-1 (moto runs any AMI id it is given)
AMI_ID = "ami-0c101f26f147fa7fd"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBSBn/rASXFfynxC/kQhb48oJBON5a4VkWVWMyti3imB deployer@acme"
DB_PASSWORD = "sandbox-only-not-a-real-secret"

_NO_KEY = object()


def _jsonencode(document: Any) -> str:
    """A document as Terraform's ``jsonencode`` writes it: compact, keys sorted."""
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


def _rfc3339(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _tags(own: dict[str, str] | None) -> dict[str, Any]:
    """``tags``/``tags_all`` as the provider records them: ``tags`` null when the configuration sets none."""
    return {"tags": dict(own) if own else None, "tags_all": {**DEFAULT_TAGS, **(own or {})}}


def _all_tags(own: dict[str, str] | None = None) -> dict[str, str]:
    return {**DEFAULT_TAGS, **(own or {})}


@dataclass
class DemoEstate:
    """The estate: what was created (``ids``), the state that manages it and the configuration declaring it.

    ``config`` maps a file of the working dir (``main.tf``, ``modules/app/main.tf``...) to its blocks in order
    (a key such as ``resource.aws_s3_bucket.assets`` -> HCL text), so drift can add or drop a declaration;
    other files (the key pair's public key) are one block.
    """

    region: str = REGION
    account: str = "123456789012"
    ids: dict[str, str] = field(default_factory=dict)
    resources: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    config: dict[str, dict[str, str]] = field(default_factory=dict)
    lineage: str = field(default_factory=lambda: str(uuid.uuid4()))
    serial: int = 23

    # --- state -------------------------------------------------------------------------------------------
    def add(self, rtype: str, name: str, attributes: dict[str, Any], *, module: str | None = None,
            key: Any = _NO_KEY, schema_version: int = 0, sensitive: Sequence[str] = (),
            dependencies: Sequence[str] = (), mode: str = "managed") -> None:
        """Record one resource instance (instances of one resource with count/for_each share an entry)."""
        entry: dict[str, Any] | None = next(
            (r for r in self.resources if r.get("module") == module and r["mode"] == mode
             and r["type"] == rtype and r["name"] == name), None)
        if entry is None:  # keys in the order Terraform writes them
            entry = {"module": module} if module else {}
            entry.update(mode=mode, type=rtype, name=name)
            if key is not _NO_KEY:
                entry["each"] = "map" if isinstance(key, str) else "list"
            entry.update(provider=PROVIDER, instances=[])
            self.resources.append(entry)
        instance: dict[str, Any] = {}
        if key is not _NO_KEY:
            instance["index_key"] = key
        instance.update({
            "schema_version": schema_version,
            "attributes": attributes,
            "sensitive_attributes": [[{"type": "get_attr", "value": s}] for s in sensitive],
            "private": "bnVsbA==",
        })
        if dependencies:
            instance["dependencies"] = sorted(dependencies)
        entry["instances"].append(instance)

    @property
    def state(self) -> dict[str, Any]:
        """The v4 state document (resources ordered as Terraform orders them)."""
        ordered = sorted(self.resources, key=lambda r: (r.get("module", ""), r["mode"], r["type"], r["name"]))
        return {"version": 4, "terraform_version": TERRAFORM_VERSION, "serial": self.serial,
                "lineage": self.lineage, "outputs": self.outputs, "resources": ordered, "check_results": None}

    # --- configuration -----------------------------------------------------------------------------------
    @property
    def files(self) -> dict[str, str]:
        """Relative path -> text of every configuration file."""
        return {path: "\n".join(blocks.values()) for path, blocks in self.config.items()}

    @property
    def main_tf(self) -> str:
        return self.files["main.tf"]

    def write_workdir(self, path: Path, *, endpoint: str | None = None) -> Path:
        """Write the configuration and ``terraform.tfstate`` into ``path`` (created); the state file's path.
        With ``endpoint`` (the local AWS), also ``sandbox_override.tf``, which points the provider at it so
        that terraform run in the working dir talks to the sandbox and nothing else."""
        path.mkdir(parents=True, exist_ok=True)
        for rel, text in self.files.items():
            target = path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        if endpoint:
            (path / "sandbox_override.tf").write_text(sandbox_override(endpoint), encoding="utf-8")
        state_path = path / "terraform.tfstate"
        state_path.write_text(json.dumps(self.state, indent=2) + "\n", encoding="utf-8")
        return state_path


def _attributes(est: DemoEstate, rtype: str, name: str, module: str | None = None) -> dict[str, Any]:
    """The attributes of a single-instance resource already recorded."""
    entry = next(r for r in est.resources if r.get("module") == module and r["type"] == rtype and r["name"] == name)
    return entry["instances"][0]["attributes"]


class _Aws:
    """boto3 clients for one region against whatever ``AWS_ENDPOINT_URL`` names."""

    def __init__(self, region: str) -> None:
        from driftmgr_tui.core.boto import new_boto_session

        self.region = region
        self._session = new_boto_session(region_name=region)
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            client = self._clients[service] = self._session.client(service, region_name=self.region)
        return client


# ------------------------------------------------------------------------------------------------ build


def build_demo_estate(region: str = REGION) -> DemoEstate:
    """Create the estate in the AWS that ``AWS_ENDPOINT_URL`` points at (an empty moto) and return it."""
    aws = _Aws(region)
    identity = aws("sts").get_caller_identity()
    est = DemoEstate(region=region, account=identity["Account"])
    est.config = _configuration(region)
    est.add("aws_caller_identity", "current", {"account_id": identity["Account"], "arn": identity["Arn"],
                                               "id": identity["Account"], "user_id": identity["UserId"]},
            mode="data")
    network = _build_network(aws, est)
    _build_shared(aws, est)
    _build_app(aws, est, network)
    est.outputs = {
        "assets_bucket": {"value": est.ids["bucket.assets"], "type": "string"},
        "orders_queue_url": {"value": est.ids["queue.orders"], "type": "string"},
        "vpc_id": {"value": est.ids["vpc.main"], "type": "string"},
    }
    return est


def _arn(est: DemoEstate, service: str, resource: str) -> str:
    return f"arn:aws:{service}:{est.region}:{est.account}:{resource}"


# --- module.network -------------------------------------------------------------------------------------

def _vpc(aws: _Aws, est: DemoEstate, name: str, cidr: str, own_tags: dict[str, str]) -> str:
    ec2 = aws("ec2")
    vpc_id = ec2.create_vpc(CidrBlock=cidr, TagSpecifications=[
        {"ResourceType": "vpc", "Tags": _tag_list(_all_tags(own_tags))}])["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    main_rtb = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                  {"Name": "association.main", "Values": ["true"]}])
    nacl = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                              {"Name": "default", "Values": ["true"]}])
    sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                               {"Name": "group-name", "Values": ["default"]}])
    rtb_id = main_rtb["RouteTables"][0]["RouteTableId"]
    est.add("aws_vpc", name, {
        "arn": _arn(est, "ec2", f"vpc/{vpc_id}"), "assign_generated_ipv6_cidr_block": False, "cidr_block": cidr,
        "default_network_acl_id": nacl["NetworkAcls"][0]["NetworkAclId"], "default_route_table_id": rtb_id,
        "default_security_group_id": sg["SecurityGroups"][0]["GroupId"], "dhcp_options_id": "default",
        "enable_dns_hostnames": True, "enable_dns_support": True, "enable_network_address_usage_metrics": False,
        "id": vpc_id, "instance_tenancy": "default", "ipv4_ipam_pool_id": None, "ipv4_netmask_length": None,
        "ipv6_association_id": "", "ipv6_cidr_block": "", "ipv6_cidr_block_network_border_group": "",
        "ipv6_ipam_pool_id": "", "ipv6_netmask_length": 0, "main_route_table_id": rtb_id,
        "owner_id": est.account, **_tags(own_tags),
    }, module="module.network", schema_version=1)
    est.ids[f"vpc.{name}"] = vpc_id
    return vpc_id


def _subnet(aws: _Aws, est: DemoEstate, name: str, key: Any, vpc: str, cidr: str, az: str,
            own_tags: dict[str, str], public: bool) -> str:
    ec2 = aws("ec2")
    sub = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az, TagSpecifications=[
        {"ResourceType": "subnet", "Tags": _tag_list(_all_tags(own_tags))}])["Subnet"]
    if public:
        ec2.modify_subnet_attribute(SubnetId=sub["SubnetId"], MapPublicIpOnLaunch={"Value": True})
    est.add("aws_subnet", name, {
        "arn": sub.get("SubnetArn") or _arn(est, "ec2", f"subnet/{sub['SubnetId']}"),
        "assign_ipv6_address_on_creation": False, "availability_zone": az,
        "availability_zone_id": sub.get("AvailabilityZoneId", ""), "cidr_block": cidr,
        "customer_owned_ipv4_pool": "", "enable_dns64": False, "enable_lni_at_device_index": 0,
        "enable_resource_name_dns_a_record_on_launch": False,
        "enable_resource_name_dns_aaaa_record_on_launch": False, "id": sub["SubnetId"], "ipv6_cidr_block": "",
        "ipv6_cidr_block_association_id": "", "ipv6_native": False, "map_customer_owned_ip_on_launch": False,
        "map_public_ip_on_launch": public, "outpost_arn": "", "owner_id": est.account,
        "private_dns_hostname_type_on_launch": "ip-name", **_tags(own_tags), "timeouts": None, "vpc_id": vpc,
    }, module="module.network", key=key, schema_version=1,
        dependencies=[f"module.network.aws_vpc.{'data' if name == 'data' else 'main'}"])
    est.ids[f"subnet.{name}[{key}]"] = sub["SubnetId"]
    return sub["SubnetId"]


def _build_network(aws: _Aws, est: DemoEstate) -> dict[str, Any]:
    ec2 = aws("ec2")
    region = est.region
    main = _vpc(aws, est, "main", "10.10.0.0/16", {"Name": NAME, "Owner": "platform-team"})
    data = _vpc(aws, est, "data", "10.20.0.0/16", {"Name": f"{NAME}-data"})

    igw_tags = {"Name": f"{NAME}-igw"}
    igw = ec2.create_internet_gateway(TagSpecifications=[
        {"ResourceType": "internet-gateway", "Tags": _tag_list(_all_tags(igw_tags))}]
    )["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=main)
    est.add("aws_internet_gateway", "main", {
        "arn": _arn(est, "ec2", f"internet-gateway/{igw}"), "id": igw, "owner_id": est.account,
        **_tags(igw_tags), "timeouts": None, "vpc_id": main,
    }, module="module.network", dependencies=["module.network.aws_vpc.main"])
    est.ids["igw"] = igw

    rtb_tags = {"Name": f"{NAME}-public"}
    rtb = ec2.create_route_table(VpcId=main, TagSpecifications=[
        {"ResourceType": "route-table", "Tags": _tag_list(_all_tags(rtb_tags))}])["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    est.add("aws_route_table", "public", {
        "arn": _arn(est, "ec2", f"route-table/{rtb}"), "id": rtb, "owner_id": est.account,
        "propagating_vgws": [],
        "route": [{"carrier_gateway_id": "", "cidr_block": "0.0.0.0/0", "core_network_arn": "",
                   "destination_prefix_list_id": "", "egress_only_gateway_id": "", "gateway_id": igw,
                   "ipv6_cidr_block": "", "local_gateway_id": "", "nat_gateway_id": "",
                   "network_interface_id": "", "transit_gateway_id": "", "vpc_endpoint_id": "",
                   "vpc_peering_connection_id": ""}],
        **_tags(rtb_tags), "timeouts": None, "vpc_id": main,
    }, module="module.network", dependencies=["module.network.aws_internet_gateway.main",
                                              "module.network.aws_vpc.main"])
    est.ids["rtb.public"] = rtb

    public = [_subnet(aws, est, "public", i, main, f"10.10.{i}.0/24", f"{region}{'ab'[i]}",
                      {"Name": f"{NAME}-public-{i}", "Tier": "public"}, public=True) for i in range(2)]
    private = {k: _subnet(aws, est, "private", k, main, cidr, f"{region}{k}",
                          {"Name": f"{NAME}-private-{k}", "Tier": "private"}, public=False)
               for k, cidr in (("a", "10.10.10.0/24"), ("b", "10.10.11.0/24"))}
    for k, cidr in (("a", "10.20.10.0/24"), ("b", "10.20.11.0/24")):
        _subnet(aws, est, "data", k, data, cidr, f"{region}{k}", {"Name": f"{NAME}-data-{k}", "Tier": "data"},
                public=False)
    return {"vpc": main, "public": public, "private": private}


# --- module.app -----------------------------------------------------------------------------------------

_ALL_OUT = {"cidr_blocks": ["0.0.0.0/0"], "description": "", "from_port": 0, "ipv6_cidr_blocks": [],
            "prefix_list_ids": [], "protocol": "-1", "security_groups": [], "self": False, "to_port": 0}


def _inline_rule(port: int, cidr: str, description: str) -> dict[str, Any]:
    return {"cidr_blocks": [cidr], "description": description, "from_port": port, "ipv6_cidr_blocks": [],
            "prefix_list_ids": [], "protocol": "tcp", "security_groups": [], "self": False, "to_port": port}


def _group_rule(port: int, group: str, description: str) -> dict[str, Any]:
    return {"cidr_blocks": [], "description": description, "from_port": port, "ipv6_cidr_blocks": [],
            "prefix_list_ids": [], "protocol": "tcp", "security_groups": [group], "self": False, "to_port": port}


def _security_group(aws: _Aws, est: DemoEstate, name: str, description: str | None, vpc: str,
                    ingress: list[dict[str, Any]], egress_all: bool) -> str:
    """A group as the provider creates it: AWS's default allow-all egress revoked, then the inline rules."""
    ec2 = aws("ec2")
    own_tags = {"Name": f"{NAME}-{name}"}
    group = ec2.create_security_group(
        GroupName=f"{NAME}-{name}", Description=description or "Managed by Terraform", VpcId=vpc,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": _tag_list(_all_tags(own_tags))}])["GroupId"]
    all_out = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    ec2.revoke_security_group_egress(GroupId=group, IpPermissions=all_out)
    if ingress:
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": r["from_port"], "ToPort": r["to_port"],
             "IpRanges": [{"CidrIp": c, "Description": r["description"]} for c in r["cidr_blocks"]]}
            for r in ingress])
    if egress_all:
        ec2.authorize_security_group_egress(GroupId=group, IpPermissions=all_out)
    est.add("aws_security_group", name, {
        "arn": _arn(est, "ec2", f"security-group/{group}"), "description": description or "Managed by Terraform",
        "egress": [dict(_ALL_OUT)] if egress_all else [], "id": group, "ingress": ingress,
        "name": f"{NAME}-{name}", "name_prefix": "", "owner_id": est.account, "revoke_rules_on_delete": False,
        **_tags(own_tags), "timeouts": None, "vpc_id": vpc,
    }, module="module.app", schema_version=1)
    est.ids[f"sg.{name}"] = group
    return group


def _vpc_rule(aws: _Aws, est: DemoEstate, rtype: str, name: str, group: str, *, port: int | None,
              protocol: str, cidr: str | None = None, source_group: str | None = None,
              description: str | None = None, dependencies: Sequence[str] = ()) -> None:
    """A standalone ``aws_vpc_security_group_{ingress,egress}_rule``: one rule, with its own id and tags."""
    ec2 = aws("ec2")
    permission: dict[str, Any] = {"IpProtocol": protocol}
    if port is not None:
        permission.update(FromPort=port, ToPort=port)
    extra = {"Description": description} if description else {}
    if cidr:
        permission["IpRanges"] = [{"CidrIp": cidr, **extra}]
    if source_group:
        permission["UserIdGroupPairs"] = [{"GroupId": source_group, **extra}]
    call = ec2.authorize_security_group_egress if rtype.endswith("egress_rule") \
        else ec2.authorize_security_group_ingress
    answer = call(GroupId=group, IpPermissions=[permission], TagSpecifications=[
        {"ResourceType": "security-group-rule", "Tags": _tag_list(DEFAULT_TAGS)}])
    rule_id = answer["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    est.add(rtype, name, {
        "arn": _arn(est, "ec2", f"security-group-rule/{rule_id}"), "cidr_ipv4": cidr, "cidr_ipv6": None,
        "description": description, "from_port": port, "id": rule_id, "ip_protocol": protocol,
        "prefix_list_id": None, "referenced_security_group_id": source_group, "security_group_id": group,
        "security_group_rule_id": rule_id, **_tags(None), "to_port": port,
    }, module="module.app", dependencies=dependencies)


def _instance(aws: _Aws, est: DemoEstate, name: str, key: Any, *, instance_type: str, subnet: str,
              groups: list[str], own_tags: dict[str, str], profile: str | None = None) -> str:
    ec2 = aws("ec2")
    kwargs: dict[str, Any] = {}
    if profile:
        kwargs["IamInstanceProfile"] = {"Name": profile}
    inst = ec2.run_instances(
        ImageId=AMI_ID, MinCount=1, MaxCount=1, InstanceType=instance_type, SubnetId=subnet,
        SecurityGroupIds=groups, KeyName="deployer", MetadataOptions={"HttpTokens": "required"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": _tag_list(_all_tags(own_tags))}], **kwargs,
    )["Instances"][0]
    iid = inst["InstanceId"]
    root = next((m for m in inst.get("BlockDeviceMappings") or () if m.get("DeviceName") == inst.get(
        "RootDeviceName")), {})
    eni = (inst.get("NetworkInterfaces") or [{}])[0]
    est.add("aws_instance", name, {
        "ami": AMI_ID, "arn": _arn(est, "ec2", f"instance/{iid}"),
        "associate_public_ip_address": bool(inst.get("PublicIpAddress")),
        "availability_zone": (inst.get("Placement") or {}).get("AvailabilityZone"),
        "capacity_reservation_specification": [{"capacity_reservation_preference": "open",
                                                "capacity_reservation_target": []}],
        "cpu_core_count": 1, "cpu_options": [{"amd_sev_snp": "", "core_count": 1, "threads_per_core": 2}],
        "cpu_threads_per_core": 2, "credit_specification": [{"cpu_credits": "unlimited"}],
        "disable_api_stop": False, "disable_api_termination": False, "ebs_block_device": [],
        "ebs_optimized": False, "enable_primary_ipv6": None, "enclave_options": [{"enabled": False}],
        "ephemeral_block_device": [], "get_password_data": False, "hibernation": False, "host_id": "",
        "host_resource_group_arn": None, "iam_instance_profile": profile or "", "id": iid,
        "instance_initiated_shutdown_behavior": "stop", "instance_lifecycle": "",
        "instance_market_options": [], "instance_state": "running", "instance_type": instance_type,
        "ipv6_address_count": 0, "ipv6_addresses": [], "key_name": "deployer", "launch_template": [],
        "maintenance_options": [{"auto_recovery": "default"}],
        "metadata_options": [{"http_endpoint": "enabled", "http_protocol_ipv6": "disabled",
                              "http_put_response_hop_limit": 1, "http_tokens": "required",
                              "instance_metadata_tags": "disabled"}],
        "monitoring": False, "network_interface": [], "outpost_arn": "", "password_data": "",
        "placement_group": "", "placement_partition_number": 0,
        "primary_network_interface_id": eni.get("NetworkInterfaceId", ""),
        "private_dns": inst.get("PrivateDnsName", ""),
        "private_dns_name_options": [{"enable_resource_name_dns_a_record": False,
                                      "enable_resource_name_dns_aaaa_record": False,
                                      "hostname_type": "ip-name"}],
        "private_ip": inst.get("PrivateIpAddress", ""), "public_dns": inst.get("PublicDnsName", ""),
        "public_ip": inst.get("PublicIpAddress", ""),
        "root_block_device": [{"delete_on_termination": True, "device_name": inst.get("RootDeviceName"),
                               "encrypted": False, "iops": 100, "kms_key_id": "", "tags": None, "tags_all": {},
                               "throughput": 0, "volume_id": (root.get("Ebs") or {}).get("VolumeId", ""),
                               "volume_size": 8, "volume_type": "gp2"}],
        "secondary_private_ips": [], "security_groups": [], "source_dest_check": True, "spot_instance_request_id": "",
        "subnet_id": subnet, **_tags(own_tags), "tenancy": "default", "timeouts": None, "user_data": None,
        "user_data_base64": None, "user_data_replace_on_change": False, "volume_tags": None,
        "vpc_security_group_ids": groups,
    }, module="module.app", key=key, schema_version=1,
        dependencies=["module.app.aws_key_pair.deployer", "module.app.aws_security_group.app",
                      "module.app.aws_security_group.web", "module.network.aws_subnet.private",
                      "module.network.aws_subnet.public"])
    est.ids[f"instance.{name}" + ("" if key is _NO_KEY else f"[{key}]")] = iid
    return iid


def _queue(aws: _Aws, est: DemoEstate, name: str, queue: str, attributes: dict[str, str],
           state: dict[str, Any]) -> str:
    sqs = aws("sqs")
    # the provider sends its defaults with the create call
    attributes = {"MaximumMessageSize": "262144", **attributes}
    url = sqs.create_queue(QueueName=queue, Attributes=attributes, tags=DEFAULT_TAGS)["QueueUrl"]
    est.add("aws_sqs_queue", name, {
        "arn": _arn(est, "sqs", queue), "content_based_deduplication": False, "deduplication_scope": "",
        "delay_seconds": 0, "fifo_queue": False, "fifo_throughput_limit": "", "id": url,
        "kms_data_key_reuse_period_seconds": 300, "kms_master_key_id": "", "max_message_size": 262144,
        "message_retention_seconds": 345600, "name": queue, "name_prefix": "", "policy": "",
        "receive_wait_time_seconds": 0, "redrive_allow_policy": "", "redrive_policy": "",
        "sqs_managed_sse_enabled": True, **_tags(None), "timeouts": None, "url": url,
        "visibility_timeout_seconds": 30, **state,
    }, module="module.app")
    est.ids[f"queue.{name}"] = url
    return url


def _topic(aws: _Aws, est: DemoEstate, name: str, topic: str) -> str:
    arn = aws("sns").create_topic(Name=topic, Tags=_tag_list(DEFAULT_TAGS))["TopicArn"]
    policy = {"Id": "__default_policy_ID", "Statement": [{
        "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                   "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic",
                   "SNS:Publish"],
        "Condition": {"StringEquals": {"AWS:SourceOwner": est.account}}, "Effect": "Allow",
        "Principal": {"AWS": "*"}, "Resource": arn, "Sid": "__default_statement_ID"}], "Version": "2008-10-17"}
    est.add("aws_sns_topic", name, {
        "application_failure_feedback_role_arn": "", "application_success_feedback_role_arn": "",
        "application_success_feedback_sample_rate": 0, "archive_policy": "", "arn": arn, "beginning_archive_time": "",
        "content_based_deduplication": False, "delivery_policy": "", "display_name": "", "fifo_throughput_scope": "",
        "fifo_topic": False, "firehose_failure_feedback_role_arn": "", "firehose_success_feedback_role_arn": "",
        "firehose_success_feedback_sample_rate": 0, "http_failure_feedback_role_arn": "",
        "http_success_feedback_role_arn": "", "http_success_feedback_sample_rate": 0, "id": arn,
        "kms_master_key_id": "", "lambda_failure_feedback_role_arn": "", "lambda_success_feedback_role_arn": "",
        "lambda_success_feedback_sample_rate": 0, "name": topic, "name_prefix": "", "owner": est.account,
        "policy": _jsonencode(policy), "signature_version": 0, "sqs_failure_feedback_role_arn": "",
        "sqs_success_feedback_role_arn": "", "sqs_success_feedback_sample_rate": 0, **_tags(None),
        "tracing_config": "",
    }, module="module.app")
    est.ids[f"topic.{name}"] = arn
    return arn


def _log_group(aws: _Aws, est: DemoEstate, name: str, group: str, retention: int, module: str | None) -> None:
    logs = aws("logs")
    logs.create_log_group(logGroupName=group, tags=DEFAULT_TAGS)
    logs.put_retention_policy(logGroupName=group, retentionInDays=retention)
    est.add("aws_cloudwatch_log_group", name, {
        "arn": _arn(est, "logs", f"log-group:{group}"), "id": group, "kms_key_id": "",
        "log_group_class": "STANDARD", "name": group, "name_prefix": "", "retention_in_days": retention,
        "skip_destroy": False, **_tags(None),
    }, module=module)
    est.ids[f"log_group.{name}"] = group


def _build_app(aws: _Aws, est: DemoEstate, network: dict[str, Any]) -> None:
    ec2 = aws("ec2")
    vpc = network["vpc"]
    web = _security_group(aws, est, "web", "Web tier: HTTPS from the internet", vpc, [
        _inline_rule(443, "0.0.0.0/0", "HTTPS"), _inline_rule(80, "0.0.0.0/0", "HTTP, redirected to HTTPS")],
        egress_all=True)
    app = _security_group(aws, est, "app", "App tier: traffic from the web tier only", vpc, [], egress_all=False)
    db = _security_group(aws, est, "db", None, vpc, [], egress_all=False)
    _security_group(aws, est, "bastion", "SSH from the office VPN", vpc,
                    [_inline_rule(22, "203.0.113.0/24", "Office VPN")], egress_all=True)
    monitoring = _security_group(aws, est, "monitoring", "Prometheus scrapes from inside the VPC", vpc, [],
                                 egress_all=False)
    # rules managed as their own resources
    _vpc_rule(aws, est, "aws_vpc_security_group_ingress_rule", "app_from_web", app, port=8080, protocol="tcp",
              source_group=web, description="App traffic from the web tier",
              dependencies=["module.app.aws_security_group.app", "module.app.aws_security_group.web"])
    _vpc_rule(aws, est, "aws_vpc_security_group_egress_rule", "app_all", app, port=None, protocol="-1",
              cidr="0.0.0.0/0", dependencies=["module.app.aws_security_group.app"])
    _vpc_rule(aws, est, "aws_vpc_security_group_ingress_rule", "node_exporter", monitoring, port=9100,
              protocol="tcp", cidr="10.10.0.0/16", description="Prometheus node exporter",
              dependencies=["module.app.aws_security_group.monitoring"])
    answer = ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
         "UserIdGroupPairs": [{"GroupId": app, "Description": "Postgres from the app tier"}]}])
    rule_id = answer["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    est.add("aws_security_group_rule", "db_from_app", {
        "cidr_blocks": None, "description": "Postgres from the app tier", "from_port": 5432,
        "id": f"sgrule-{zlib.crc32(f'{db}-{app}-5432'.encode())}", "ipv6_cidr_blocks": None,
        "prefix_list_ids": None, "protocol": "tcp", "security_group_id": db, "security_group_rule_id": rule_id,
        "self": False, "source_security_group_id": app, "timeouts": None, "to_port": 5432, "type": "ingress",
    }, module="module.app", schema_version=2,
        dependencies=["module.app.aws_security_group.app", "module.app.aws_security_group.db"])
    # every later refresh copied the standalone rules into the groups' computed ingress/egress
    _attributes(est, "aws_security_group", "app", "module.app").update(
        ingress=[_group_rule(8080, web, "App traffic from the web tier")], egress=[dict(_ALL_OUT)])
    _attributes(est, "aws_security_group", "db", "module.app")["ingress"] = [
        _group_rule(5432, app, "Postgres from the app tier")]
    _attributes(est, "aws_security_group", "monitoring", "module.app")["ingress"] = [
        _inline_rule(9100, "10.10.0.0/16", "Prometheus node exporter")]

    key = ec2.import_key_pair(KeyName="deployer", PublicKeyMaterial=PUBLIC_KEY.encode(),
                              TagSpecifications=[{"ResourceType": "key-pair", "Tags": _tag_list(DEFAULT_TAGS)}])
    est.add("aws_key_pair", "deployer", {
        "arn": _arn(est, "ec2", "key-pair/deployer"), "fingerprint": key.get("KeyFingerprint", ""),
        "id": "deployer", "key_name": "deployer", "key_name_prefix": "", "key_pair_id": key.get("KeyPairId", ""),
        "key_type": "ed25519", "public_key": PUBLIC_KEY, **_tags(None),
    }, module="module.app", schema_version=1)

    for i in range(2):
        _instance(aws, est, "web", i, instance_type="t3.micro", subnet=network["public"][i], groups=[web],
                  own_tags={"Name": f"{NAME}-web-{i + 1}", "Role": "web"})
    _instance(aws, est, "worker", _NO_KEY, instance_type="t3.small", subnet=network["private"]["a"],
              groups=[app], own_tags={"Name": f"{NAME}-worker", "Role": "worker", "Team": "orders"},
              profile=f"{NAME}-app-runner")

    dlq_arn = _arn(est, "sqs", f"{NAME}-orders-dlq")
    _queue(aws, est, "orders_dlq", f"{NAME}-orders-dlq", {"MessageRetentionPeriod": "1209600"},
           {"message_retention_seconds": 1209600})
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}
    _queue(aws, est, "orders", f"{NAME}-orders",
           {"VisibilityTimeout": "60", "RedrivePolicy": json.dumps(redrive)},
           {"visibility_timeout_seconds": 60, "redrive_policy": _jsonencode(redrive)})
    _queue(aws, est, "emails", f"{NAME}-emails", {}, {})

    _topic(aws, est, "alerts", f"{NAME}-alerts")
    _topic(aws, est, "order_events", f"{NAME}-order-events")

    _log_group(aws, est, "web", "/acme/prod/web", 30, "module.app")
    _log_group(aws, est, "worker", "/acme/prod/worker", 30, "module.app")
    _log_group(aws, est, "legacy_api", "/acme/prod/legacy-api", 14, "module.app")


# --- root: storage, identity, data ------------------------------------------------------------------------

EC2_TRUST = {"Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow",
                            "Principal": {"Service": "ec2.amazonaws.com"}}], "Version": "2012-10-17"}
LAMBDA_TRUST = {"Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow",
                               "Principal": {"Service": "lambda.amazonaws.com"}}], "Version": "2012-10-17"}


def _ci_trust(account: str) -> dict[str, Any]:
    return {"Statement": [{"Action": "sts:AssumeRole",
                           "Condition": {"StringEquals": {"sts:ExternalId": "acme-ci"}}, "Effect": "Allow",
                           "Principal": {"AWS": f"arn:aws:iam::{account}:root"}}], "Version": "2012-10-17"}


def _bucket(aws: _Aws, est: DemoEstate, name: str, bucket: str, own_tags: dict[str, str] | None) -> None:
    s3 = aws("s3")
    config = {} if est.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": est.region}}
    s3.create_bucket(Bucket=bucket, **config)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": _tag_list(_all_tags(own_tags))})
    owner = s3.get_bucket_acl(Bucket=bucket)["Owner"]["ID"]
    est.add("aws_s3_bucket", name, {
        "acceleration_status": "", "acl": None, "arn": f"arn:aws:s3:::{bucket}", "bucket": bucket,
        "bucket_domain_name": f"{bucket}.s3.amazonaws.com", "bucket_prefix": "",
        "bucket_regional_domain_name": f"{bucket}.s3.{est.region}.amazonaws.com", "cors_rule": [],
        "force_destroy": False,
        "grant": [{"id": owner, "permissions": ["FULL_CONTROL"], "type": "CanonicalUser", "uri": ""}],
        "hosted_zone_id": "Z3AQBSTGFYJSTF", "id": bucket,
        "lifecycle_rule": [], "logging": [], "object_lock_configuration": [], "object_lock_enabled": False,
        "policy": "", "region": est.region, "replication_configuration": [], "request_payer": "BucketOwner",
        "server_side_encryption_configuration": [{"rule": [{
            "apply_server_side_encryption_by_default": [{"kms_master_key_id": "", "sse_algorithm": "AES256"}],
            "bucket_key_enabled": False}]}],
        **_tags(own_tags), "timeouts": None, "versioning": [{"enabled": False, "mfa_delete": False}],
        "website": [], "website_domain": None, "website_endpoint": None,
    })
    est.ids[f"bucket.{name}"] = bucket


def _role(aws: _Aws, est: DemoEstate, name: str, role: str, trust: dict[str, Any], description: str,
          own_tags: dict[str, str] | None = None) -> str:
    answer = aws("iam").create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust),
                                    Description=description, Tags=_tag_list(_all_tags(own_tags)))["Role"]
    est.add("aws_iam_role", name, {
        "arn": answer["Arn"], "assume_role_policy": _jsonencode(trust),
        "create_date": _rfc3339(answer.get("CreateDate")), "description": description,
        "force_detach_policies": False, "id": role, "inline_policy": [], "managed_policy_arns": [],
        "max_session_duration": 3600, "name": role, "name_prefix": "", "path": "/", "permissions_boundary": "",
        **_tags(own_tags), "unique_id": answer["RoleId"],
    })
    est.ids[f"role.{name}"] = role
    return answer["Arn"]


def _user(aws: _Aws, est: DemoEstate, name: str, user: str, own_tags: dict[str, str]) -> None:
    answer = aws("iam").create_user(UserName=user, Tags=_tag_list(_all_tags(own_tags)))["User"]
    est.add("aws_iam_user", name, {
        "arn": answer["Arn"], "force_destroy": False, "id": user, "name": user, "path": "/",
        "permissions_boundary": "", **_tags(own_tags), "unique_id": answer["UserId"],
    })
    est.ids[f"user.{name}"] = user


def _build_shared(aws: _Aws, est: DemoEstate) -> None:
    iam = aws("iam")
    _bucket(aws, est, "assets", f"{NAME}-assets-{SUFFIX}", {"CostCenter": "web", "DataClass": "public"})
    _bucket(aws, est, "logs", f"{NAME}-logs-{SUFFIX}", None)
    _bucket(aws, est, "backups", f"{NAME}-backups-{SUFFIX}", {"DataClass": "confidential"})
    _bucket(aws, est, "artifacts", f"acme-ci-artifacts-{SUFFIX}", None)

    _role(aws, est, "app_runner", f"{NAME}-app-runner", EC2_TRUST, "Instance role of the app tier")
    _role(aws, est, "ci_deploy", f"{NAME}-ci-deploy", _ci_trust(est.account), "Assumed by CI to deploy",
          {"Owner": "platform-team"})
    _role(aws, est, "lambda_exec", f"{NAME}-lambda-exec", LAMBDA_TRUST, "Execution role of the functions")

    document = {"Statement": [{"Action": ["s3:GetObject", "s3:ListBucket"], "Effect": "Allow",
                               "Resource": [f"arn:aws:s3:::{NAME}-assets-{SUFFIX}",
                                            f"arn:aws:s3:::{NAME}-assets-{SUFFIX}/*"]}],
                "Version": "2012-10-17"}
    policy = iam.create_policy(PolicyName=f"{NAME}-assets-read", PolicyDocument=json.dumps(document),
                               Description="Read the public assets bucket",
                               Tags=_tag_list(DEFAULT_TAGS))["Policy"]
    est.add("aws_iam_policy", "assets_read", {
        "arn": policy["Arn"], "attachment_count": 1, "description": "Read the public assets bucket",
        "id": policy["Arn"], "name": f"{NAME}-assets-read", "name_prefix": "", "path": "/",
        "policy": _jsonencode(document), "policy_id": policy["PolicyId"], **_tags(None),
    })
    est.ids["policy.assets_read"] = policy["Arn"]
    iam.attach_role_policy(RoleName=f"{NAME}-app-runner", PolicyArn=policy["Arn"])
    # refreshed since: the role's computed managed_policy_arns lists the attachment
    _attributes(est, "aws_iam_role", "app_runner")["managed_policy_arns"] = [policy["Arn"]]
    est.add("aws_iam_role_policy_attachment", "app_runner_assets", {
        "id": f"{NAME}-app-runner-20250114093012345600000001", "policy_arn": policy["Arn"],
        "role": f"{NAME}-app-runner",
    }, dependencies=["aws_iam_policy.assets_read", "aws_iam_role.app_runner"])

    profile = iam.create_instance_profile(InstanceProfileName=f"{NAME}-app-runner",
                                          Tags=_tag_list(DEFAULT_TAGS))["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName=f"{NAME}-app-runner", RoleName=f"{NAME}-app-runner")
    est.add("aws_iam_instance_profile", "app_runner", {
        "arn": profile["Arn"], "create_date": _rfc3339(profile.get("CreateDate")), "id": f"{NAME}-app-runner",
        "name": f"{NAME}-app-runner", "name_prefix": "", "path": "/", "role": f"{NAME}-app-runner",
        **_tags(None), "unique_id": profile["InstanceProfileId"],
    }, dependencies=["aws_iam_role.app_runner"])

    _user(aws, est, "ci_deployer", "ci-deployer", {"Owner": "platform-team"})
    _user(aws, est, "auditor", "security-auditor", {"Owner": "security"})

    ddb = aws("dynamodb")
    table = f"{NAME}-sessions"
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "session_id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "session_id", "KeyType": "HASH"}], Tags=_tag_list(DEFAULT_TAGS))
    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
    est.add("aws_dynamodb_table", "sessions", {
        "arn": _arn(est, "dynamodb", f"table/{table}"), "attribute": [{"name": "session_id", "type": "S"}],
        "billing_mode": "PAY_PER_REQUEST", "deletion_protection_enabled": False, "global_secondary_index": [],
        "hash_key": "session_id", "id": table, "import_table": [], "local_secondary_index": [], "name": table,
        "on_demand_throughput": [],
        "point_in_time_recovery": [{"enabled": False, "recovery_period_in_days": 0}], "range_key": None,
        "read_capacity": 0, "replica": [], "restore_date_time": None, "restore_source_name": None,
        "restore_source_table_arn": None, "restore_to_latest_time": None, "server_side_encryption": [],
        "stream_arn": "", "stream_enabled": False, "stream_label": "", "stream_view_type": "",
        "table_class": "STANDARD", **_tags(None), "timeouts": None,
        "ttl": [{"attribute_name": "expires_at", "enabled": True}], "write_capacity": 0,
    }, schema_version=1)
    est.ids["table.sessions"] = table

    parameter = "/acme/prod/db/password"
    aws("ssm").put_parameter(Name=parameter, Value=DB_PASSWORD, Type="SecureString",
                             Description="Postgres password of the app", Tags=_tag_list(DEFAULT_TAGS))
    est.add("aws_ssm_parameter", "db_password", {
        "allowed_pattern": "", "arn": _arn(est, "ssm", f"parameter{parameter}"), "data_type": "text",
        "description": "Postgres password of the app", "has_value_wo": None, "id": parameter,
        "insecure_value": None,
        "key_id": "alias/aws/ssm", "name": parameter, "overwrite": None, **_tags(None), "tier": "Standard",
        "type": "SecureString", "value": DB_PASSWORD, "value_wo": None, "value_wo_version": None, "version": 1,
    }, sensitive=["value", "value_wo"])
    est.ids["parameter.db_password"] = parameter


# ------------------------------------------------------------------------------------------------ drift


def plant_demo_drift(est: DemoEstate) -> dict[str, Any]:
    """Drift of every kind behind Terraform's back; returns what a scan must report, exactly:

    ``changed``: {(type, id): {field path: (expected, actual)}}; ``severity``: {(type, id): severity} of each
    changed item; ``missing`` / ``unmanaged``: sets of (type, id); ``unapplied`` / ``orphaned``: sets of
    addresses (config drift of the working dir)."""
    aws = _Aws(est.region)
    ec2, s3, iam, sqs, sns, logs = aws("ec2"), aws("s3"), aws("iam"), aws("sqs"), aws("sns"), aws("logs")
    ids = est.ids

    # changed -------------------------------------------------------------------------------------------
    # SSH opened to the world "just for a minute" while debugging
    ec2.authorize_security_group_ingress(GroupId=ids["sg.web"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    # a private subnet that now gives every instance a public address
    ec2.modify_subnet_attribute(SubnetId=ids["subnet.private[a]"], MapPublicIpOnLaunch={"Value": True})
    # a role's sessions stretched to 12 hours in the console
    iam.update_role(RoleName=ids["role.app_runner"], MaxSessionDuration=43200)
    # the worker resized by hand during an incident
    worker = ids["instance.worker"]
    ec2.stop_instances(InstanceIds=[worker])
    ec2.modify_instance_attribute(InstanceId=worker, InstanceType={"Value": "t3.xlarge"})
    ec2.start_instances(InstanceIds=[worker])
    # tags edited in the console
    ec2.create_tags(Resources=[ids["vpc.main"]], Tags=[{"Key": "Owner", "Value": "jdoe"}])
    assets_tags = _all_tags({"DataClass": "public"})  # CostCenter removed
    s3.put_bucket_tagging(Bucket=ids["bucket.assets"], Tagging={"TagSet": _tag_list(assets_tags)})

    # missing: deleted by hand -----------------------------------------------------------------------------
    s3.delete_bucket(Bucket=ids["bucket.backups"])
    sqs.delete_queue(QueueUrl=ids["queue.emails"])
    ec2.delete_subnet(SubnetId=ids["subnet.data[b]"])
    sns.delete_topic(TopicArn=ids["topic.order_events"])

    # unmanaged: created outside Terraform ---------------------------------------------------------------------
    s3.create_bucket(Bucket="acme-tmp-export-jdoe")
    iam.create_user(UserName="temp-admin")
    hand = ec2.create_security_group(GroupName="hand-made", Description="launch-wizard-1 created 2025-01-14",
                                     VpcId=ids["vpc.main"])["GroupId"]
    logs.create_log_group(logGroupName="/debug/jdoe-tracing")
    replay = sqs.create_queue(QueueName=f"{NAME}-orders-replay")["QueueUrl"]

    # config drift: code changed, never applied ----------------------------------------------------------------
    est.config["main.tf"] = _insert_before(est.config["main.tf"], "output.vpc_id",
                                           "resource.aws_s3_bucket.reports", REPORTS_BUCKET)
    del est.config["modules/app/main.tf"]["resource.aws_cloudwatch_log_group.legacy_api"]

    return {
        "changed": {
            ("aws_security_group", ids["sg.web"]): {
                "ingress": ([], ["tcp 22-22 0.0.0.0/0"])},  # a set: what was added, what was removed
            ("aws_subnet", ids["subnet.private[a]"]): {"map_public_ip_on_launch": (False, True)},
            ("aws_iam_role", ids["role.app_runner"]): {"max_session_duration": (3600, 43200)},
            ("aws_instance", worker): {"instance_type": ("t3.small", "t3.xlarge")},
            ("aws_vpc", ids["vpc.main"]): {"tags.Owner": ("platform-team", "jdoe")},
            ("aws_s3_bucket", ids["bucket.assets"]): {"tags.CostCenter": ("web", None)},
        },
        "severity": {
            ("aws_security_group", ids["sg.web"]): "critical",
            ("aws_subnet", ids["subnet.private[a]"]): "critical",
            ("aws_iam_role", ids["role.app_runner"]): "high",
            ("aws_instance", worker): "medium",
            ("aws_vpc", ids["vpc.main"]): "low",
            ("aws_s3_bucket", ids["bucket.assets"]): "low",
        },
        "missing": {("aws_s3_bucket", ids["bucket.backups"]), ("aws_sqs_queue", ids["queue.emails"]),
                    ("aws_subnet", ids["subnet.data[b]"]), ("aws_sns_topic", ids["topic.order_events"])},
        "unmanaged": {("aws_s3_bucket", "acme-tmp-export-jdoe"), ("aws_iam_user", "temp-admin"),
                      ("aws_security_group", hand), ("aws_cloudwatch_log_group", "/debug/jdoe-tracing"),
                      ("aws_sqs_queue", replay)},
        "unapplied": {"aws_s3_bucket.reports"},
        "orphaned": {"module.app.aws_cloudwatch_log_group.legacy_api"},
    }


def _insert_before(blocks: dict[str, str], before: str, key: str, text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in blocks.items():
        if k == before:
            out[key] = text
        out[k] = v
    if key not in out:
        out[key] = text
    return out


# ------------------------------------------------------------------------------------------ configuration

# the services the estate uses, as the provider's ``endpoints`` block names them
_ENDPOINT_SERVICES = ("dynamodb", "ec2", "iam", "logs", "s3", "sns", "sqs", "ssm", "sts")


def sandbox_override(endpoint: str) -> str:
    """An override file that points the AWS provider at the local AWS (Terraform merges it into the provider
    block of main.tf): the code itself stays as it would be for the real account."""
    width = max(map(len, _ENDPOINT_SERVICES))
    lines = [f'    {name.ljust(width)} = "{endpoint}"' for name in _ENDPOINT_SERVICES]
    return (
        "# The demo sandbox: every AWS call of this working dir goes to the local AWS at\n"
        f"# {endpoint}, with its dummy credentials. Delete this file and the code is the real one.\n"
        'provider "aws" {\n'
        "  skip_metadata_api_check = true\n"
        "  s3_use_path_style       = true\n"
        "\n"
        "  endpoints {\n" + "\n".join(lines) + "\n  }\n}\n"
    )


REPORTS_BUCKET = """\
# Monthly finance exports (ticket FIN-2291)
resource "aws_s3_bucket" "reports" {
  bucket = "acme-prod-reports-7f3a"

  tags = {
    DataClass = "confidential"
  }
}
"""


def _configuration(region: str) -> dict[str, dict[str, str]]:
    def blocks(*items: tuple[str, str]) -> dict[str, str]:
        return {k: v.replace("__REGION__", region) for k, v in items}

    return {
        "main.tf": blocks(*ROOT_BLOCKS),
        "modules/network/main.tf": blocks(*NETWORK_BLOCKS),
        "modules/network/variables.tf": blocks(("variables", NETWORK_VARIABLES)),
        "modules/network/outputs.tf": blocks(("outputs", NETWORK_OUTPUTS)),
        "modules/app/main.tf": blocks(*APP_BLOCKS),
        "modules/app/variables.tf": blocks(("variables", APP_VARIABLES)),
        "modules/app/deployer.pub": blocks(("key", PUBLIC_KEY + "\n")),
    }


ROOT_BLOCKS: tuple[tuple[str, str], ...] = (
    ("terraform", """\
terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}
"""),
    ("provider.aws", """\
provider "aws" {
  region = "__REGION__"

  default_tags {
    tags = {
      Environment = "prod"
      ManagedBy   = "terraform"
      Project     = "acme-shop"
    }
  }
}
"""),
    ("module.network", """\
module "network" {
  source = "./modules/network"

  name            = "acme-prod"
  cidr_block      = "10.10.0.0/16"
  data_cidr_block = "10.20.0.0/16"
  azs             = ["__REGION__a", "__REGION__b"]
}
"""),
    ("module.app", """\
module "app" {
  source = "./modules/app"

  name               = "acme-prod"
  vpc_id             = module.network.vpc_id
  vpc_cidr_block     = module.network.vpc_cidr_block
  public_subnet_ids  = module.network.public_subnet_ids
  private_subnet_ids = module.network.private_subnet_ids
  ami_id             = "ami-0c101f26f147fa7fd"
  instance_profile   = aws_iam_instance_profile.app_runner.name
}
"""),
    ("resource.aws_s3_bucket.assets", """\
resource "aws_s3_bucket" "assets" {
  bucket = "acme-prod-assets-7f3a"

  tags = {
    CostCenter = "web"
    DataClass  = "public"
  }
}
"""),
    ("resource.aws_s3_bucket.logs", """\
resource "aws_s3_bucket" "logs" {
  bucket = "acme-prod-logs-7f3a"
}
"""),
    ("resource.aws_s3_bucket.backups", """\
resource "aws_s3_bucket" "backups" {
  bucket = "acme-prod-backups-7f3a"

  tags = {
    DataClass = "confidential"
  }
}
"""),
    ("resource.aws_s3_bucket.artifacts", """\
resource "aws_s3_bucket" "artifacts" {
  bucket = "acme-ci-artifacts-7f3a"
}
"""),
    ("resource.aws_iam_role.app_runner", """\
resource "aws_iam_role" "app_runner" {
  name        = "acme-prod-app-runner"
  description = "Instance role of the app tier"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Action    = "sts:AssumeRole"
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
    }]
  })
}
"""),
    ("resource.aws_iam_role.ci_deploy", """\
resource "aws_iam_role" "ci_deploy" {
  name        = "acme-prod-ci-deploy"
  description = "Assumed by CI to deploy"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Action    = "sts:AssumeRole"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
      Condition = { StringEquals = { "sts:ExternalId" = "acme-ci" } }
    }]
  })

  tags = {
    Owner = "platform-team"
  }
}
"""),
    ("resource.aws_iam_role.lambda_exec", """\
resource "aws_iam_role" "lambda_exec" {
  name        = "acme-prod-lambda-exec"
  description = "Execution role of the functions"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Action    = "sts:AssumeRole"
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
    }]
  })
}
"""),
    ("data.aws_caller_identity.current", """\
data "aws_caller_identity" "current" {}
"""),
    ("resource.aws_iam_policy.assets_read", """\
resource "aws_iam_policy" "assets_read" {
  name        = "acme-prod-assets-read"
  description = "Read the public assets bucket"

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Action   = ["s3:GetObject", "s3:ListBucket"]
      Effect   = "Allow"
      Resource = [aws_s3_bucket.assets.arn, "${aws_s3_bucket.assets.arn}/*"]
    }]
  })
}
"""),
    ("resource.aws_iam_role_policy_attachment.app_runner_assets", """\
resource "aws_iam_role_policy_attachment" "app_runner_assets" {
  role       = aws_iam_role.app_runner.name
  policy_arn = aws_iam_policy.assets_read.arn
}
"""),
    ("resource.aws_iam_instance_profile.app_runner", """\
resource "aws_iam_instance_profile" "app_runner" {
  name = "acme-prod-app-runner"
  role = aws_iam_role.app_runner.name
}
"""),
    ("resource.aws_iam_user.ci_deployer", """\
resource "aws_iam_user" "ci_deployer" {
  name = "ci-deployer"

  tags = {
    Owner = "platform-team"
  }
}
"""),
    ("resource.aws_iam_user.auditor", """\
resource "aws_iam_user" "auditor" {
  name = "security-auditor"

  tags = {
    Owner = "security"
  }
}
"""),
    ("resource.aws_dynamodb_table.sessions", """\
resource "aws_dynamodb_table" "sessions" {
  name         = "acme-prod-sessions"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "session_id"

  attribute {
    name = "session_id"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }
}
"""),
    ("resource.aws_ssm_parameter.db_password", """\
resource "aws_ssm_parameter" "db_password" {
  name        = "/acme/prod/db/password"
  description = "Postgres password of the app"
  type        = "SecureString"
  value       = var.db_password
}
"""),
    ("variable.db_password", """\
variable "db_password" {
  type      = string
  sensitive = true
}
"""),
    ("output.vpc_id", """\
output "vpc_id" {
  value = module.network.vpc_id
}
"""),
    ("output.assets_bucket", """\
output "assets_bucket" {
  value = aws_s3_bucket.assets.id
}
"""),
    ("output.orders_queue_url", """\
output "orders_queue_url" {
  value = module.app.orders_queue_url
}
"""),
)

NETWORK_BLOCKS: tuple[tuple[str, str], ...] = (
    ("resource.aws_vpc.main", """\
resource "aws_vpc" "main" {
  cidr_block           = var.cidr_block
  enable_dns_hostnames = true

  tags = {
    Name  = var.name
    Owner = "platform-team"
  }
}
"""),
    ("resource.aws_vpc.data", """\
resource "aws_vpc" "data" {
  cidr_block           = var.data_cidr_block
  enable_dns_hostnames = true

  tags = {
    Name = "${var.name}-data"
  }
}
"""),
    ("resource.aws_internet_gateway.main", """\
resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id

  tags = {
    Name = "${var.name}-igw"
  }
}
"""),
    ("resource.aws_route_table.public", """\
resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.main.id
  }

  tags = {
    Name = "${var.name}-public"
  }
}
"""),
    ("resource.aws_subnet.public", """\
resource "aws_subnet" "public" {
  count = 2

  vpc_id                  = aws_vpc.main.id
  cidr_block              = cidrsubnet(var.cidr_block, 8, count.index)
  availability_zone       = var.azs[count.index]
  map_public_ip_on_launch = true

  tags = {
    Name = "${var.name}-public-${count.index}"
    Tier = "public"
  }
}
"""),
    ("resource.aws_subnet.private", """\
resource "aws_subnet" "private" {
  for_each = {
    a = "10.10.10.0/24"
    b = "10.10.11.0/24"
  }

  vpc_id            = aws_vpc.main.id
  cidr_block        = each.value
  availability_zone = "__REGION__${each.key}"

  tags = {
    Name = "${var.name}-private-${each.key}"
    Tier = "private"
  }
}
"""),
    ("resource.aws_subnet.data", """\
resource "aws_subnet" "data" {
  for_each = {
    a = "10.20.10.0/24"
    b = "10.20.11.0/24"
  }

  vpc_id            = aws_vpc.data.id
  cidr_block        = each.value
  availability_zone = "__REGION__${each.key}"

  tags = {
    Name = "${var.name}-data-${each.key}"
    Tier = "data"
  }
}
"""),
)

NETWORK_VARIABLES = """\
variable "name" {
  type = string
}

variable "cidr_block" {
  type = string
}

variable "data_cidr_block" {
  type = string
}

variable "azs" {
  type = list(string)
}
"""

NETWORK_OUTPUTS = """\
output "vpc_id" {
  value = aws_vpc.main.id
}

output "vpc_cidr_block" {
  value = aws_vpc.main.cidr_block
}

output "public_subnet_ids" {
  value = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  value = [for s in aws_subnet.private : s.id]
}
"""

APP_BLOCKS: tuple[tuple[str, str], ...] = (
    ("resource.aws_security_group.web", """\
resource "aws_security_group" "web" {
  name        = "${var.name}-web"
  description = "Web tier: HTTPS from the internet"
  vpc_id      = var.vpc_id

  ingress {
    description = "HTTPS"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  ingress {
    description = "HTTP, redirected to HTTPS"
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = {
    Name = "${var.name}-web"
  }
}
"""),
    ("resource.aws_security_group.app", """\
resource "aws_security_group" "app" {
  name        = "${var.name}-app"
  description = "App tier: traffic from the web tier only"
  vpc_id      = var.vpc_id

  tags = {
    Name = "${var.name}-app"
  }
}
"""),
    ("resource.aws_vpc_security_group_ingress_rule.app_from_web", """\
resource "aws_vpc_security_group_ingress_rule" "app_from_web" {
  security_group_id            = aws_security_group.app.id
  referenced_security_group_id = aws_security_group.web.id
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
  description                  = "App traffic from the web tier"
}
"""),
    ("resource.aws_vpc_security_group_egress_rule.app_all", """\
resource "aws_vpc_security_group_egress_rule" "app_all" {
  security_group_id = aws_security_group.app.id
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}
"""),
    ("resource.aws_security_group.db", """\
resource "aws_security_group" "db" {
  name   = "${var.name}-db"
  vpc_id = var.vpc_id

  tags = {
    Name = "${var.name}-db"
  }
}
"""),
    ("resource.aws_security_group_rule.db_from_app", """\
resource "aws_security_group_rule" "db_from_app" {
  type                     = "ingress"
  security_group_id        = aws_security_group.db.id
  source_security_group_id = aws_security_group.app.id
  protocol                 = "tcp"
  from_port                = 5432
  to_port                  = 5432
  description              = "Postgres from the app tier"
}
"""),
    ("resource.aws_security_group.bastion", """\
resource "aws_security_group" "bastion" {
  name        = "${var.name}-bastion"
  description = "SSH from the office VPN"
  vpc_id      = var.vpc_id

  ingress {
    description = "Office VPN"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["203.0.113.0/24"]
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = {
    Name = "${var.name}-bastion"
  }
}
"""),
    ("resource.aws_security_group.monitoring", """\
resource "aws_security_group" "monitoring" {
  name        = "${var.name}-monitoring"
  description = "Prometheus scrapes from inside the VPC"
  vpc_id      = var.vpc_id

  tags = {
    Name = "${var.name}-monitoring"
  }
}
"""),
    ("resource.aws_vpc_security_group_ingress_rule.node_exporter", """\
resource "aws_vpc_security_group_ingress_rule" "node_exporter" {
  security_group_id = aws_security_group.monitoring.id
  cidr_ipv4         = var.vpc_cidr_block
  ip_protocol       = "tcp"
  from_port         = 9100
  to_port           = 9100
  description       = "Prometheus node exporter"
}
"""),
    ("resource.aws_key_pair.deployer", """\
resource "aws_key_pair" "deployer" {
  key_name   = "deployer"
  public_key = file("${path.module}/deployer.pub")
}
"""),
    ("resource.aws_instance.web", """\
resource "aws_instance" "web" {
  count = 2

  ami                    = var.ami_id
  instance_type          = "t3.micro"
  subnet_id              = var.public_subnet_ids[count.index]
  vpc_security_group_ids = [aws_security_group.web.id]
  key_name               = aws_key_pair.deployer.key_name

  metadata_options {
    http_tokens = "required"
  }

  tags = {
    Name = "${var.name}-web-${count.index + 1}"
    Role = "web"
  }
}
"""),
    ("resource.aws_instance.worker", """\
resource "aws_instance" "worker" {
  ami                    = var.ami_id
  instance_type          = "t3.small"
  subnet_id              = var.private_subnet_ids[0]
  vpc_security_group_ids = [aws_security_group.app.id]
  key_name               = aws_key_pair.deployer.key_name
  iam_instance_profile   = var.instance_profile

  metadata_options {
    http_tokens = "required"
  }

  tags = {
    Name = "${var.name}-worker"
    Role = "worker"
    Team = "orders"
  }
}
"""),
    ("resource.aws_sqs_queue.orders_dlq", """\
resource "aws_sqs_queue" "orders_dlq" {
  name                      = "${var.name}-orders-dlq"
  message_retention_seconds = 1209600
}
"""),
    ("resource.aws_sqs_queue.orders", """\
resource "aws_sqs_queue" "orders" {
  name                       = "${var.name}-orders"
  visibility_timeout_seconds = 60

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.orders_dlq.arn
    maxReceiveCount     = 5
  })
}
"""),
    ("resource.aws_sqs_queue.emails", """\
resource "aws_sqs_queue" "emails" {
  name = "${var.name}-emails"
}
"""),
    ("resource.aws_sns_topic.alerts", """\
resource "aws_sns_topic" "alerts" {
  name = "${var.name}-alerts"
}
"""),
    ("resource.aws_sns_topic.order_events", """\
resource "aws_sns_topic" "order_events" {
  name = "${var.name}-order-events"
}
"""),
    ("resource.aws_cloudwatch_log_group.web", """\
resource "aws_cloudwatch_log_group" "web" {
  name              = "/acme/prod/web"
  retention_in_days = 30
}
"""),
    ("resource.aws_cloudwatch_log_group.worker", """\
resource "aws_cloudwatch_log_group" "worker" {
  name              = "/acme/prod/worker"
  retention_in_days = 30
}
"""),
    ("resource.aws_cloudwatch_log_group.legacy_api", """\
resource "aws_cloudwatch_log_group" "legacy_api" {
  name              = "/acme/prod/legacy-api"
  retention_in_days = 14
}
"""),
    ("output.orders_queue_url", """\
output "orders_queue_url" {
  value = aws_sqs_queue.orders.url
}
"""),
)

APP_VARIABLES = """\
variable "name" {
  type = string
}

variable "vpc_id" {
  type = string
}

variable "vpc_cidr_block" {
  type = string
}

variable "public_subnet_ids" {
  type = list(string)
}

variable "private_subnet_ids" {
  type = list(string)
}

variable "ami_id" {
  type = string
}

variable "instance_profile" {
  type = string
}
"""
