"""A small AWS estate in moto plus the Terraform state that manages it, written the way the AWS provider
(5.x) writes its state: ``tags`` null next to ``tags_all``, policies as JSON strings in Terraform's own
formatting, defaults left null, security group rules split between inline blocks and standalone rule
resources. A clean estate must report zero drift; :func:`plant_drift` then changes the cloud behind the
state's back, one drift of each kind."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3

REGION = "us-east-1"
ACCOUNT = "123456789012"
PROVIDER = 'provider["registry.terraform.io/hashicorp/aws"]'

ASSUME_ROLE = {
    "Version": "2012-10-17",
    "Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}}],
}


@dataclass
class Estate:
    ids: dict[str, str] = field(default_factory=dict)
    resources: list[dict[str, Any]] = field(default_factory=list)

    def add(self, rtype: str, name: str, attributes: dict[str, Any], *, module: str | None = None,
            sensitive: list[Any] | None = None) -> None:
        entry: dict[str, Any] = {"mode": "managed", "type": rtype, "name": name, "provider": PROVIDER,
                                 "instances": [{"schema_version": 0, "attributes": attributes,
                                                "sensitive_attributes": sensitive or [], "private": "bnVsbA=="}]}
        if module:
            entry["module"] = module
        self.resources.append(entry)

    def state(self, serial: int = 7) -> dict[str, Any]:
        return {"version": 4, "terraform_version": "1.11.4", "serial": serial, "lineage": str(uuid.uuid4()),
                "outputs": {}, "resources": self.resources, "check_results": None}


def _clients(region: str = REGION) -> tuple[Any, Any, Any]:
    return (boto3.client("ec2", region_name=region), boto3.client("s3", region_name=region),
            boto3.client("iam", region_name=region))


def build_estate() -> Estate:
    """Create the estate in moto (AWS_ENDPOINT_URL must point at it) and return its state."""
    ec2, s3, iam = _clients()
    est = Estate()
    default_tags = {"ManagedBy": "terraform"}

    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]
    vpc_id = vpc["VpcId"]
    ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": "Name", "Value": "main"}, {"Key": "ManagedBy",
                                                                                 "Value": "terraform"}])
    est.ids["vpc"] = vpc_id
    est.add("aws_vpc", "main", {
        "id": vpc_id, "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{vpc_id}", "cidr_block": "10.0.0.0/16",
        "instance_tenancy": "default", "enable_dns_support": True, "enable_dns_hostnames": False,
        "tags": {"Name": "main"}, "tags_all": {"Name": "main", **default_tags}, "ipv6_cidr_block": "",
        "owner_id": ACCOUNT, "main_route_table_id": "rtb-unknown", "assign_generated_ipv6_cidr_block": False,
    })

    subnets = {}
    for name, cidr, az in (("a", "10.0.1.0/24", "us-east-1a"), ("b", "10.0.2.0/24", "us-east-1b")):
        sub = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]
        ec2.create_tags(Resources=[sub["SubnetId"]], Tags=[{"Key": "ManagedBy", "Value": "terraform"}])
        subnets[name] = sub["SubnetId"]
        est.ids[f"subnet_{name}"] = sub["SubnetId"]
        est.add("aws_subnet", name, {
            "id": sub["SubnetId"], "arn": sub.get("SubnetArn") or
            f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/{sub['SubnetId']}",
            "vpc_id": vpc_id, "cidr_block": cidr, "availability_zone": az, "map_public_ip_on_launch": None,
            "tags": None, "tags_all": default_tags, "ipv6_cidr_block": "", "timeouts": None,
        }, module="module.network")

    web = ec2.create_security_group(GroupName="web", Description="web tier", VpcId=vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "10.0.0.0/16", "Description": "https"}]}])
    ec2.create_tags(Resources=[web], Tags=[{"Key": "ManagedBy", "Value": "terraform"}])
    est.ids["sg_web"] = web
    est.add("aws_security_group", "web", {
        "id": web, "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{web}", "name": "web",
        "description": "web tier", "vpc_id": vpc_id, "revoke_rules_on_delete": False, "name_prefix": "",
        "ingress": [{"cidr_blocks": ["10.0.0.0/16"], "description": "https", "from_port": 443,
                     "ipv6_cidr_blocks": [], "prefix_list_ids": [], "protocol": "tcp", "security_groups": [],
                     "self": False, "to_port": 443}],
        "egress": [{"cidr_blocks": ["0.0.0.0/0"], "description": "", "from_port": 0, "ipv6_cidr_blocks": [],
                    "prefix_list_ids": [], "protocol": "-1", "security_groups": [], "self": False,
                    "to_port": 0}],
        "tags": {}, "tags_all": default_tags, "owner_id": ACCOUNT, "timeouts": None,
    })

    db = ec2.create_security_group(GroupName="db", Description="Managed by Terraform", VpcId=vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": web}]}])
    ec2.create_tags(Resources=[db], Tags=[{"Key": "ManagedBy", "Value": "terraform"}])
    est.ids["sg_db"] = db
    est.add("aws_security_group", "db", {
        "id": db, "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{db}", "name": "db",
        "description": "Managed by Terraform", "vpc_id": vpc_id, "ingress": [], "egress": [],
        "tags": None, "tags_all": default_tags,
    })
    # the db group's rule is its own resource, and the egress rule AWS added is kept (revoke not done)
    est.add("aws_security_group_rule", "db_from_web", {
        "id": f"sgrule-{uuid.uuid4().int % 10**10}", "security_group_id": db, "type": "ingress",
        "protocol": "tcp", "from_port": 5432, "to_port": 5432, "source_security_group_id": web,
        "cidr_blocks": None, "ipv6_cidr_blocks": None, "prefix_list_ids": [], "self": False, "description": None,
    })
    est.add("aws_vpc_security_group_egress_rule", "db_all", {
        "id": "sgr-0000000000000001", "security_group_id": db, "ip_protocol": "-1", "cidr_ipv4": "0.0.0.0/0",
        "from_port": None, "to_port": None, "description": None, "tags": None, "tags_all": {},
    })
    # the web group keeps the allow-all egress AWS adds to every new group, as its state says above

    for bucket in ("app-assets-7f3a", "app-logs-7f3a"):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "ManagedBy", "Value": "terraform"}]})
        est.ids[f"bucket_{bucket}"] = bucket
        est.add("aws_s3_bucket", bucket.split("-")[1], {
            "id": bucket, "bucket": bucket, "arn": f"arn:aws:s3:::{bucket}", "region": REGION,
            "force_destroy": False, "tags": None, "tags_all": default_tags, "object_lock_enabled": False,
            "bucket_prefix": "", "policy": "", "acceleration_status": "",
        })

    role = iam.create_role(RoleName="app-runner", AssumeRolePolicyDocument=json.dumps(ASSUME_ROLE),
                           Tags=[{"Key": "ManagedBy", "Value": "terraform"}])["Role"]
    est.ids["role"] = "app-runner"
    est.add("aws_iam_role", "runner", {
        "id": "app-runner", "name": "app-runner", "arn": role["Arn"], "unique_id": role["RoleId"],
        # Terraform's jsonencode order and compact form, not AWS's
        "assume_role_policy": json.dumps(ASSUME_ROLE, separators=(",", ":"), sort_keys=True),
        "description": "", "max_session_duration": 3600, "path": "/", "permissions_boundary": "",
        "force_detach_policies": False, "managed_policy_arns": [], "inline_policy": [],
        "tags": None, "tags_all": default_tags, "name_prefix": "",
    })
    iam.create_user(UserName="deployer", Tags=[{"Key": "ManagedBy", "Value": "terraform"}])
    est.ids["user"] = "deployer"
    est.add("aws_iam_user", "deployer", {
        "id": "deployer", "name": "deployer", "arn": f"arn:aws:iam::{ACCOUNT}:user/deployer", "path": None,
        "force_destroy": False, "permissions_boundary": "", "tags": None, "tags_all": default_tags,
        "unique_id": "AIDAEXAMPLE",
    })
    # something the AWS catalog cannot discover: counted as not evaluated, never "missing"
    est.add("aws_iam_role_policy_attachment", "runner_ssm", {
        "id": "app-runner-2024", "role": "app-runner",
        "policy_arn": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    })
    # a resource of another provider: ignored by the AWS comparison
    est.resources.append({"mode": "managed", "type": "random_id", "name": "suffix",
                          "provider": 'provider["registry.terraform.io/hashicorp/random"]',
                          "instances": [{"schema_version": 0, "attributes": {"id": "f3a", "byte_length": 2},
                                         "sensitive_attributes": []}]})
    return est


def plant_drift(est: Estate) -> dict[str, Any]:
    """One drift of each kind behind Terraform's back; returns what must be reported, exactly."""
    ec2, s3, iam = _clients()
    # changed: a tag edited in the console (low), SSH opened to the world (critical), a role's session length
    ec2.create_tags(Resources=[est.ids["vpc"]], Tags=[{"Key": "Name", "Value": "main-edited"}])
    ec2.authorize_security_group_ingress(GroupId=est.ids["sg_web"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    iam.update_role(RoleName="app-runner", MaxSessionDuration=7200)
    # missing: deleted by hand
    s3.delete_bucket_tagging(Bucket="app-logs-7f3a")
    s3.delete_bucket(Bucket="app-logs-7f3a")
    ec2.delete_subnet(SubnetId=est.ids["subnet_b"])
    # unmanaged: created outside Terraform
    s3.create_bucket(Bucket="shadow-exports")
    iam.create_user(UserName="temp-admin")
    hand = ec2.create_security_group(GroupName="hand-made", Description="console", VpcId=est.ids["vpc"])
    return {
        "changed": {
            ("aws_vpc", est.ids["vpc"]): {"tags.Name": ("main", "main-edited")},
            ("aws_security_group", est.ids["sg_web"]): {"ingress": ([], ["tcp 22-22 0.0.0.0/0"])},
            ("aws_iam_role", "app-runner"): {"max_session_duration": (3600, 7200)},
        },
        "missing": {("aws_s3_bucket", "app-logs-7f3a"), ("aws_subnet", est.ids["subnet_b"])},
        "unmanaged": {("aws_s3_bucket", "shadow-exports"), ("aws_iam_user", "temp-admin"),
                      ("aws_security_group", hand["GroupId"])},
    }
