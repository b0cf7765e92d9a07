"""Realistic Terraform v4 states, as Terraform 1.11 with the AWS provider 5.x writes them.

``generate_state(n_instances, seed)`` returns the state as plain JSON-ready dicts:

* a weighted mix of AWS resource types with the attribute sets the provider stores
  (ids, ARNs, ``tags``/``tags_all`` maps, nested blocks as lists of objects, nulls,
  numbers, booleans, RFC 3339 timestamps, JSON policy documents as strings, hex
  digests), a few ``random_password`` resources and ``data`` sources;
* single, ``count`` (integer keys) and ``for_each`` (string keys) resources, spread
  over the root module and several module levels (``module.app["prod"].module.db``);
* ``private`` base64 blobs (timeouts metadata), sorted ``dependencies`` (config
  addresses: module path without keys), ``sensitive_attributes`` paths for
  sensitive values, a few tainted and deposed objects, outputs with a sensitive one;
* the order Terraform writes: object keys inside attributes sorted (cty), instance
  fields in struct order with empty ones left out, instances sorted by key and
  deposed key, resources sorted by module, mode, type and name, outputs by name.

Exactly ``n_instances`` instance objects (deposed ones included); deterministic for
a given ``seed``. ``dumps_terraform(generate_state(n))`` is byte for byte what
``write_state(read_state(...))`` gives back for it.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from driftmgr_tui.state.address import format_key

Json = dict[str, Any]

AWS = 'provider["registry.terraform.io/hashicorp/aws"]'
AWS_US_EAST_1 = AWS + ".us_east_1"
RANDOM = 'provider["registry.terraform.io/hashicorp/random"]'

_ACCOUNT = "123456789012"
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
_TIMEOUTS_KEY = "e2bfb730-ecaa-11e6-8f88-34363bc7c4c0"

# (module steps, weight): a step is (name, key or None). Instances of the same module call share a config path.
_MODULES: list[tuple[tuple[tuple[str, int | str | None], ...], int]] = [
    ((), 30),
    ((("network", None),), 10),
    ((("app", "prod"),), 10),
    ((("app", "staging"),), 8),
    ((("app", "prod"), ("db", None)), 4),
    ((("app", "staging"), ("db", None)), 3),
    ((("workers", 0),), 5),
    ((("workers", 1),), 5),
    ((("workers", 2),), 5),
    ((("eks", None), ("node_group", "general")), 5),
    ((("eks", None), ("node_group", "gpu-a100")), 3),
    ((("dns", None),), 7),
    ((("iam", None),), 5),
]

_NAMES = (
    "main",
    "web",
    "api",
    "worker",
    "logs",
    "assets",
    "backend",
    "frontend",
    "queue",
    "cache",
    "batch",
    "monitoring",
    "ingest",
    "billing",
    "auth",
    "search",
    "reports",
    "admin",
    "edge",
    "internal",
)
_EACH_KEYS = (
    "us-east-1a",
    "us-east-1b",
    "us-east-1c",
    "blue",
    "green",
    "payments",
    "orders",
    "inventory",
    "eu-west-1",
    "analytics",
    "team-a",
    "team-b",
    "read-replica",
    "primary",
    "canary",
    "legacy",
)
_INSTANCE_TYPES = ("t3.micro", "t3.small", "t3.medium", "m6i.large", "m6i.xlarge", "c6g.2xlarge", "r6i.large")
_AZS = ("us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d")
_TEAMS = ("platform", "payments", "data", "R&D", "sre", "growth")


def _module_str(steps: tuple[tuple[str, int | str | None], ...]) -> str:
    return ".".join("module." + name + ("" if key is None else format_key(key)) for name, key in steps)


def _module_config_str(steps: tuple[tuple[str, int | str | None], ...]) -> str:
    """The module part of a config address (dependencies): no instance keys."""
    return ".".join("module." + name for name, _ in steps)


def _sorted_deep(value: Any) -> Any:
    """cty writes object attributes and map keys in lexical order."""
    if type(value) is dict:
        return {k: _sorted_deep(value[k]) for k in sorted(value)}
    if type(value) is list:
        return [_sorted_deep(v) for v in value]
    return value


def _compact_json(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)


def _private(obj: Json) -> str:
    return base64.b64encode(_compact_json(obj).encode()).decode()


_PRIVATE_SCHEMA_1 = _private({"schema_version": "1"})
_PRIVATE_SCHEMA_0 = _private({"schema_version": "0"})


def _private_timeouts(create: int, delete: int, update: int | None = None, schema: str = "1") -> str:
    timeouts: Json = {"create": create * 60_000_000_000, "delete": delete * 60_000_000_000}
    if update is not None:
        timeouts["update"] = update * 60_000_000_000
    return _private({_TIMEOUTS_KEY: timeouts, "schema_version": schema})


class _Ctx:
    """Random helpers for one generated state."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.region = "us-east-1"

    def hex(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def timestamp(self) -> str:
        moment = _EPOCH + timedelta(seconds=self.rng.randrange(0, 700 * 86400))
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{_ACCOUNT}:{resource}"

    def ip(self, prefix: str = "10.0") -> str:
        return f"{prefix}.{self.rng.randrange(0, 256)}.{self.rng.randrange(1, 255)}"

    def tags(self, name: str, extra: int = 0) -> tuple[Json | None, Json]:
        """``tags`` (None sometimes, as when unset) and ``tags_all`` (with the provider's default_tags)."""
        rng = self.rng
        tags: Json = {"Name": name}
        if rng.random() < 0.7:
            tags["Team"] = rng.choice(_TEAMS)
        if rng.random() < 0.5:
            tags["CostCenter"] = str(rng.randrange(1000, 9999))
        for i in range(extra):
            tags[f"k8s.io/cluster-autoscaler/{i}"] = "owned"
        tags_all = {
            "Environment": "production",
            "ManagedBy": "terraform",
            "Repository": "github.com/acme/infra",
        }
        tags_all.update(tags)
        if rng.random() < 0.08:
            return None, tags_all
        return tags, tags_all


# --------------------------------------------------------------------------- resource types
# A builder returns (attributes, sensitive attribute names, schema_version, private or None).
Built = tuple[Json, list[str], int, str | None]


def _aws_instance(c: _Ctx, name: str) -> Built:
    rng = c.rng
    iid = "i-" + c.hex(17)
    az = rng.choice(_AZS)
    private_ip = c.ip()
    tags, tags_all = c.tags(name)
    root_volume = {
        "delete_on_termination": True,
        "device_name": "/dev/xvda",
        "encrypted": True,
        "iops": 3000,
        "kms_key_id": c.arn("kms", "key/" + c.uuid()),
        "tags": None,
        "tags_all": {},
        "throughput": 125,
        "volume_id": "vol-" + c.hex(17),
        "volume_size": rng.choice((8, 20, 50, 100)),
        "volume_type": "gp3",
    }
    public = rng.random() < 0.3
    attrs = {
        "ami": "ami-" + c.hex(17),
        "arn": c.arn("ec2", "instance/" + iid),
        "associate_public_ip_address": public,
        "availability_zone": az,
        "capacity_reservation_specification": [
            {"capacity_reservation_preference": "open", "capacity_reservation_target": []}
        ],
        "cpu_core_count": rng.choice((1, 2, 4)),
        "cpu_options": [{"amd_sev_snp": "", "core_count": 1, "threads_per_core": 2}],
        "cpu_threads_per_core": 2,
        "credit_specification": [{"cpu_credits": "unlimited"}],
        "disable_api_stop": False,
        "disable_api_termination": rng.random() < 0.2,
        "ebs_block_device": [],
        "ebs_optimized": False,
        "enable_primary_ipv6": None,
        "enclave_options": [{"enabled": False}],
        "ephemeral_block_device": [],
        "get_password_data": False,
        "hibernation": False,
        "host_id": "",
        "host_resource_group_arn": None,
        "iam_instance_profile": name + "-profile",
        "id": iid,
        "instance_initiated_shutdown_behavior": "stop",
        "instance_lifecycle": "",
        "instance_market_options": [],
        "instance_state": "running",
        "instance_type": rng.choice(_INSTANCE_TYPES),
        "ipv6_address_count": 0,
        "ipv6_addresses": [],
        "key_name": "deploy",
        "launch_template": [],
        "maintenance_options": [{"auto_recovery": "default"}],
        "metadata_options": [
            {
                "http_endpoint": "enabled",
                "http_protocol_ipv6": "disabled",
                "http_put_response_hop_limit": 2,
                "http_tokens": "required",
                "instance_metadata_tags": "disabled",
            }
        ],
        "monitoring": rng.random() < 0.5,
        "network_interface": [],
        "outpost_arn": "",
        "password_data": "",
        "placement_group": "",
        "placement_partition_number": 0,
        "primary_network_interface_id": "eni-" + c.hex(17),
        "private_dns": f"ip-{private_ip.replace('.', '-')}.ec2.internal",
        "private_dns_name_options": [
            {
                "enable_resource_name_dns_a_record": False,
                "enable_resource_name_dns_aaaa_record": False,
                "hostname_type": "ip-name",
            }
        ],
        "private_ip": private_ip,
        "public_dns": f"ec2-54-{rng.randrange(256)}-{rng.randrange(256)}-{rng.randrange(256)}.compute-1.amazonaws.com"
        if public
        else "",
        "public_ip": c.ip("54." + str(rng.randrange(256))) if public else "",
        "root_block_device": [root_volume],
        "secondary_private_ips": [],
        "security_groups": [],
        "source_dest_check": True,
        "spot_instance_request_id": "",
        "subnet_id": "subnet-" + c.hex(17),
        "tags": tags,
        "tags_all": tags_all,
        "tenancy": "default",
        "timeouts": None,
        "user_data": c.hex(40),
        "user_data_base64": None,
        "user_data_replace_on_change": False,
        "volume_tags": None,
        "vpc_security_group_ids": ["sg-" + c.hex(17) for _ in range(rng.randrange(1, 4))],
    }
    return attrs, [], 1, _private_timeouts(10, 20, 10)


def _rule(c: _Ctx, port: int, cidrs: list[str], description: str) -> Json:
    return {
        "cidr_blocks": cidrs,
        "description": description,
        "from_port": port,
        "ipv6_cidr_blocks": [],
        "prefix_list_ids": [],
        "protocol": "tcp" if port else "-1",
        "security_groups": [],
        "self": False,
        "to_port": port,
    }


def _aws_security_group(c: _Ctx, name: str) -> Built:
    rng = c.rng
    sgid = "sg-" + c.hex(17)
    tags, tags_all = c.tags(name)
    ingress = [
        _rule(
            c,
            rng.choice((22, 80, 443, 5432, 6379, 8080, 9090)),
            [f"10.{rng.randrange(256)}.0.0/16"],
            rng.choice(("HTTPS from the load balancer", "SSH from <bastion>", "metrics & health checks", "")),
        )
        for _ in range(rng.randrange(1, 6))
    ]
    egress = [_rule(c, 0, ["0.0.0.0/0"], "")]
    egress[0]["ipv6_cidr_blocks"] = ["::/0"]
    attrs = {
        "arn": c.arn("ec2", "security-group/" + sgid),
        "description": f"Security group for {name}",
        "egress": egress,
        "id": sgid,
        "ingress": ingress,
        "name": f"{name}-sg",
        "name_prefix": "",
        "owner_id": _ACCOUNT,
        "revoke_rules_on_delete": False,
        "tags": tags,
        "tags_all": tags_all,
        "timeouts": None,
        "vpc_id": "vpc-" + c.hex(17),
    }
    return attrs, [], 1, _private_timeouts(10, 15)


def _aws_vpc_security_group_ingress_rule(c: _Ctx, name: str) -> Built:
    rng = c.rng
    rid = "sgr-" + c.hex(17)
    port = rng.choice((443, 80, 22, 3306))
    tags, tags_all = c.tags(name)
    attrs = {
        "arn": c.arn("ec2", "security-group-rule/" + rid),
        "cidr_ipv4": f"10.{rng.randrange(256)}.0.0/16",
        "cidr_ipv6": None,
        "description": "Managed by Terraform",
        "from_port": port,
        "id": rid,
        "ip_protocol": "tcp",
        "prefix_list_id": None,
        "referenced_security_group_id": None,
        "security_group_id": "sg-" + c.hex(17),
        "security_group_rule_id": rid,
        "tags": tags,
        "tags_all": tags_all,
        "to_port": port,
    }
    return attrs, [], 0, None


def _aws_s3_bucket(c: _Ctx, name: str) -> Built:
    rng = c.rng
    bucket = f"acme-{name.replace('_', '-')}-{c.hex(8)}"
    tags, tags_all = c.tags(name)
    attrs = {
        "acceleration_status": "",
        "acl": None,
        "arn": f"arn:aws:s3:::{bucket}",
        "bucket": bucket,
        "bucket_domain_name": f"{bucket}.s3.amazonaws.com",
        "bucket_prefix": "",
        "bucket_regional_domain_name": f"{bucket}.s3.us-east-1.amazonaws.com",
        "cors_rule": [],
        "force_destroy": False,
        "grant": [{"id": c.hex(64), "permissions": ["FULL_CONTROL"], "type": "CanonicalUser", "uri": ""}],
        "hosted_zone_id": "Z3AQBSTGFYJSTF",
        "id": bucket,
        "lifecycle_rule": [],
        "logging": [],
        "object_lock_configuration": [],
        "object_lock_enabled": False,
        "policy": "",
        "region": c.region,
        "replication_configuration": [],
        "request_payer": "BucketOwner",
        "server_side_encryption_configuration": [
            {
                "rule": [
                    {
                        "apply_server_side_encryption_by_default": [
                            {"kms_master_key_id": "", "sse_algorithm": "AES256"}
                        ],
                        "bucket_key_enabled": rng.random() < 0.5,
                    }
                ]
            }
        ],
        "tags": tags,
        "tags_all": tags_all,
        "timeouts": None,
        "versioning": [{"enabled": rng.random() < 0.6, "mfa_delete": False}],
        "website": [],
        "website_domain": None,
        "website_endpoint": None,
    }
    return attrs, [], 0, _private_timeouts(20, 60, 20, schema="0")


def _aws_s3_object(c: _Ctx, name: str) -> Built:
    rng = c.rng
    bucket = f"acme-{name.replace('_', '-')}"
    key = f"releases/{name}/{rng.randrange(1, 400)}/bundle.zip"
    etag = c.hex(32)
    tags, tags_all = c.tags(name)
    attrs = {
        "acl": None,
        "arn": f"arn:aws:s3:::{bucket}/{key}",
        "bucket": bucket,
        "bucket_key_enabled": False,
        "cache_control": "",
        "checksum_algorithm": None,
        "checksum_crc32": "",
        "checksum_crc32c": "",
        "checksum_crc64nvme": "",
        "checksum_sha1": "",
        "checksum_sha256": "",
        "content": None,
        "content_base64": None,
        "content_disposition": "",
        "content_encoding": "",
        "content_language": "",
        "content_type": "application/zip",
        "etag": etag,
        "force_destroy": False,
        "id": key,
        "key": key,
        "kms_key_id": None,
        "metadata": {"build": str(rng.randrange(10_000, 99_999))},
        "object_lock_legal_hold_status": "",
        "object_lock_mode": "",
        "object_lock_retain_until_date": "",
        "override_provider": [],
        "server_side_encryption": "AES256",
        "source": f"build/{name}.zip",
        "source_hash": c.hex(64),
        "storage_class": "STANDARD",
        "tags": tags,
        "tags_all": tags_all,
        "version_id": "",
        "website_redirect": "",
    }
    return attrs, [], 0, None


def _policy_document(c: _Ctx, name: str) -> str:
    rng = c.rng
    statements = [
        {
            "Sid": f"Allow{name.title().replace('_', '')}{i}",
            "Effect": "Allow",
            "Action": sorted(
                rng.sample(
                    [
                        "s3:GetObject",
                        "s3:PutObject",
                        "s3:ListBucket",
                        "kms:Decrypt",
                        "sqs:SendMessage",
                        "logs:PutLogEvents",
                        "dynamodb:Query",
                    ],
                    3,
                )
            ),
            "Resource": [f"arn:aws:s3:::acme-{name}-{c.hex(6)}/*"],
        }
        for i in range(rng.randrange(1, 4))
    ]
    return _compact_json({"Statement": statements, "Version": "2012-10-17"})


def _aws_iam_role(c: _Ctx, name: str) -> Built:
    rng = c.rng
    role = f"{name}-role"
    tags, tags_all = c.tags(name)
    assume = _compact_json(
        {
            "Statement": [
                {
                    "Action": "sts:AssumeRole",
                    "Effect": "Allow",
                    "Principal": {
                        "Service": rng.choice(
                            ("ec2.amazonaws.com", "lambda.amazonaws.com", "ecs-tasks.amazonaws.com")
                        )
                    },
                }
            ],
            "Version": "2012-10-17",
        }
    )
    attrs = {
        "arn": c.arn("iam", "role/" + role, region=False),
        "assume_role_policy": assume,
        "create_date": c.timestamp(),
        "description": "",
        "force_detach_policies": False,
        "id": role,
        "inline_policy": [{"name": f"{name}-inline", "policy": _policy_document(c, name)}],
        "managed_policy_arns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
        "max_session_duration": 3600,
        "name": role,
        "name_prefix": "",
        "path": "/",
        "permissions_boundary": "",
        "tags": tags,
        "tags_all": tags_all,
        "unique_id": "AROA" + c.hex(17).upper(),
    }
    return attrs, [], 0, None


def _aws_iam_policy(c: _Ctx, name: str) -> Built:
    tags, tags_all = c.tags(name)
    policy = f"{name}-policy"
    attrs = {
        "arn": c.arn("iam", "policy/" + policy, region=False),
        "attachment_count": c.rng.randrange(0, 4),
        "description": "Managed by Terraform",
        "id": c.arn("iam", "policy/" + policy, region=False),
        "name": policy,
        "name_prefix": "",
        "path": "/",
        "policy": _policy_document(c, name),
        "policy_id": "ANPA" + c.hex(17).upper(),
        "tags": tags,
        "tags_all": tags_all,
    }
    return attrs, [], 0, None


def _aws_iam_role_policy_attachment(c: _Ctx, name: str) -> Built:
    role = f"{name}-role"
    attrs = {
        "id": f"{role}-{c.hex(26)}",
        "policy_arn": c.arn("iam", f"policy/{name}-policy", region=False),
        "role": role,
    }
    return attrs, [], 0, None


def _aws_subnet(c: _Ctx, name: str) -> Built:
    rng = c.rng
    sid = "subnet-" + c.hex(17)
    tags, tags_all = c.tags(name)
    attrs = {
        "arn": c.arn("ec2", "subnet/" + sid),
        "assign_ipv6_address_on_creation": False,
        "availability_zone": rng.choice(_AZS),
        "availability_zone_id": f"use1-az{rng.randrange(1, 7)}",
        "cidr_block": f"10.{rng.randrange(256)}.{rng.randrange(0, 256, 16)}.0/20",
        "customer_owned_ipv4_pool": "",
        "enable_dns64": False,
        "enable_lni_at_device_index": 0,
        "enable_resource_name_dns_a_record_on_launch": False,
        "enable_resource_name_dns_aaaa_record_on_launch": False,
        "id": sid,
        "ipv6_cidr_block": "",
        "ipv6_cidr_block_association_id": "",
        "ipv6_native": False,
        "map_customer_owned_ip_on_launch": False,
        "map_public_ip_on_launch": rng.random() < 0.3,
        "outpost_arn": "",
        "owner_id": _ACCOUNT,
        "private_dns_hostname_type_on_launch": "ip-name",
        "tags": tags,
        "tags_all": tags_all,
        "timeouts": None,
        "vpc_id": "vpc-" + c.hex(17),
    }
    return attrs, [], 1, _private_timeouts(10, 20, schema="1")


def _aws_route53_record(c: _Ctx, name: str) -> Built:
    rng = c.rng
    zone = "Z" + c.hex(20).upper()
    record = f"{name.replace('_', '-')}.{rng.choice(('acme.io', 'acme.internal', 'corp.acme.io'))}"
    rtype = rng.choice(("A", "CNAME", "TXT", "A"))
    alias = []
    records = None
    ttl = None
    if rtype == "A" and rng.random() < 0.5:
        alias = [
            {
                "evaluate_target_health": True,
                "name": f"dualstack.{name}-{c.hex(8)}.elb.amazonaws.com",
                "zone_id": "Z35SXDOTRQ7X7K",
            }
        ]
    elif rtype == "TXT":
        records = [f"v=spf1 include:_spf.{record} ~all", "google-site-verification=" + c.hex(43)]
        ttl = 300
    else:
        records = [c.ip("10." + str(rng.randrange(256)))] if rtype == "A" else [f"{name}.elb.amazonaws.com"]
        ttl = rng.choice((60, 300, 3600))
    attrs = {
        "alias": alias,
        "allow_overwrite": None,
        "cidr_routing_policy": [],
        "failover_routing_policy": [],
        "fqdn": record,
        "geolocation_routing_policy": [],
        "geoproximity_routing_policy": [],
        "health_check_id": "",
        "id": f"{zone}_{record}_{rtype}",
        "latency_routing_policy": [],
        "multivalue_answer_routing_policy": False,
        "name": record,
        "records": records,
        "set_identifier": "",
        "timeouts": None,
        "ttl": ttl,
        "type": rtype,
        "weighted_routing_policy": [],
        "zone_id": zone,
    }
    return attrs, [], 2, _private({"schema_version": "2"})


def _aws_lb(c: _Ctx, name: str) -> Built:
    rng = c.rng
    lb = f"{name.replace('_', '-')}-lb"[:32]
    suffix = c.hex(16)
    tags, tags_all = c.tags(name)
    subnets = ["subnet-" + c.hex(17) for _ in range(3)]
    attrs = {
        "access_logs": [{"bucket": f"acme-lb-logs-{c.hex(6)}", "enabled": True, "prefix": lb}],
        "arn": c.arn("elasticloadbalancing", f"loadbalancer/app/{lb}/{suffix}"),
        "arn_suffix": f"app/{lb}/{suffix}",
        "client_keep_alive": 3600,
        "connection_logs": [{"bucket": "", "enabled": False, "prefix": ""}],
        "customer_owned_ipv4_pool": "",
        "desync_mitigation_mode": "defensive",
        "dns_name": f"{lb}-{rng.randrange(10**9)}.us-east-1.elb.amazonaws.com",
        "dns_record_client_routing_policy": None,
        "drop_invalid_header_fields": True,
        "enable_cross_zone_load_balancing": True,
        "enable_deletion_protection": rng.random() < 0.5,
        "enable_http2": True,
        "enable_tls_version_and_cipher_suite_headers": False,
        "enable_waf_fail_open": False,
        "enable_xff_client_port": False,
        "enable_zonal_shift": False,
        "enforce_security_group_inbound_rules_on_private_link_traffic": "",
        "id": c.arn("elasticloadbalancing", f"loadbalancer/app/{lb}/{suffix}"),
        "idle_timeout": 60,
        "internal": rng.random() < 0.4,
        "ip_address_type": "ipv4",
        "ipam_pools": [],
        "load_balancer_type": "application",
        "minimum_load_balancer_capacity": [],
        "name": lb,
        "name_prefix": "",
        "preserve_host_header": False,
        "security_groups": ["sg-" + c.hex(17)],
        "subnet_mapping": [
            {
                "allocation_id": "",
                "ipv6_address": "",
                "outpost_id": "",
                "private_ipv4_address": "",
                "subnet_id": s,
            }
            for s in subnets
        ],
        "subnets": subnets,
        "tags": tags,
        "tags_all": tags_all,
        "timeouts": None,
        "vpc_id": "vpc-" + c.hex(17),
        "xff_header_processing_mode": "append",
        "zone_id": "Z35SXDOTRQ7X7K",
    }
    return attrs, [], 0, _private_timeouts(10, 10, 10)


def _aws_lb_target_group(c: _Ctx, name: str) -> Built:
    rng = c.rng
    tg = f"{name.replace('_', '-')}-tg"[:32]
    port = rng.choice((80, 8080, 3000, 9000))
    tags, tags_all = c.tags(name)
    arn = c.arn("elasticloadbalancing", f"targetgroup/{tg}/{c.hex(16)}")
    attrs = {
        "arn": arn,
        "arn_suffix": arn.split(":")[-1],
        "connection_termination": None,
        "deregistration_delay": "300",
        "health_check": [
            {
                "enabled": True,
                "healthy_threshold": 3,
                "interval": 30,
                "matcher": "200-399",
                "path": "/healthz",
                "port": "traffic-port",
                "protocol": "HTTP",
                "timeout": 5,
                "unhealthy_threshold": 3,
            }
        ],
        "id": arn,
        "ip_address_type": "ipv4",
        "lambda_multi_value_headers_enabled": False,
        "load_balancer_arns": [],
        "load_balancing_algorithm_type": "round_robin",
        "load_balancing_anomaly_mitigation": "off",
        "load_balancing_cross_zone_enabled": "use_load_balancer_configuration",
        "name": tg,
        "name_prefix": "",
        "port": port,
        "preserve_client_ip": None,
        "protocol": "HTTP",
        "protocol_version": "HTTP1",
        "proxy_protocol_v2": False,
        "slow_start": 0,
        "stickiness": [{"cookie_duration": 86400, "cookie_name": "", "enabled": False, "type": "lb_cookie"}],
        "tags": tags,
        "tags_all": tags_all,
        "target_failover": [],
        "target_group_health": [],
        "target_health_state": [],
        "target_type": "instance",
        "vpc_id": "vpc-" + c.hex(17),
    }
    return attrs, [], 0, None


def _aws_db_instance(c: _Ctx, name: str) -> Built:
    rng = c.rng
    ident = f"{name.replace('_', '-')}-db"
    tags, tags_all = c.tags(name)
    resource_id = "db-" + c.hex(26).upper()
    attrs = {
        "address": f"{ident}.{c.hex(12)}.us-east-1.rds.amazonaws.com",
        "allocated_storage": rng.choice((20, 100, 500)),
        "allow_major_version_upgrade": None,
        "apply_immediately": False,
        "arn": c.arn("rds", "db:" + ident),
        "auto_minor_version_upgrade": True,
        "availability_zone": rng.choice(_AZS),
        "backup_retention_period": 7,
        "backup_target": "region",
        "backup_window": "03:00-04:00",
        "blue_green_update": [],
        "ca_cert_identifier": "rds-ca-rsa2048-g1",
        "character_set_name": "",
        "copy_tags_to_snapshot": True,
        "custom_iam_instance_profile": "",
        "customer_owned_ip_enabled": False,
        "database_insights_mode": "standard",
        "db_name": "app",
        "db_subnet_group_name": f"{ident}-subnets",
        "dedicated_log_volume": False,
        "delete_automated_backups": True,
        "deletion_protection": True,
        "domain": "",
        "domain_auth_secret_arn": "",
        "domain_dns_ips": [],
        "domain_fqdn": "",
        "domain_iam_role_name": "",
        "domain_ou": "",
        "enabled_cloudwatch_logs_exports": ["postgresql", "upgrade"],
        "endpoint": f"{ident}.{c.hex(12)}.us-east-1.rds.amazonaws.com:5432",
        "engine": "postgres",
        "engine_lifecycle_support": "open-source-rds-extended-support",
        "engine_version": "16.4",
        "engine_version_actual": "16.4",
        "final_snapshot_identifier": None,
        "hosted_zone_id": "Z2R2ITUGPM61AM",
        "iam_database_authentication_enabled": False,
        "id": resource_id,
        "identifier": ident,
        "identifier_prefix": "",
        "instance_class": rng.choice(("db.t4g.medium", "db.r6g.large", "db.m6g.xlarge")),
        "iops": 3000,
        "kms_key_id": c.arn("kms", "key/" + c.uuid()),
        "latest_restorable_time": c.timestamp(),
        "license_model": "postgresql-license",
        "listener_endpoint": [],
        "maintenance_window": "sun:05:00-sun:06:00",
        "manage_master_user_password": None,
        "master_user_secret": [],
        "master_user_secret_kms_key_id": None,
        "max_allocated_storage": 1000,
        "monitoring_interval": 60,
        "monitoring_role_arn": c.arn("iam", "role/rds-monitoring", region=False),
        "multi_az": True,
        "nchar_character_set_name": "",
        "network_type": "IPV4",
        "option_group_name": "default:postgres-16",
        "parameter_group_name": f"{ident}-params",
        "password": "s3cr3t-" + c.hex(24),
        "password_wo": None,
        "password_wo_version": None,
        "performance_insights_enabled": True,
        "performance_insights_kms_key_id": c.arn("kms", "key/" + c.uuid()),
        "performance_insights_retention_period": 7,
        "port": 5432,
        "publicly_accessible": False,
        "replica_mode": "",
        "replicas": [],
        "replicate_source_db": "",
        "resource_id": resource_id,
        "restore_to_point_in_time": [],
        "s3_import": [],
        "skip_final_snapshot": False,
        "snapshot_identifier": None,
        "status": "available",
        "storage_encrypted": True,
        "storage_throughput": 125,
        "storage_type": "gp3",
        "tags": tags,
        "tags_all": tags_all,
        "timeouts": None,
        "timezone": "",
        "upgrade_storage_config": None,
        "username": "app_admin",
        "vpc_security_group_ids": ["sg-" + c.hex(17)],
    }
    return attrs, ["password"], 2, _private_timeouts(40, 60, 80, schema="2")


def _aws_lambda_function(c: _Ctx, name: str) -> Built:
    rng = c.rng
    fn = f"{name}-handler"
    tags, tags_all = c.tags(name)
    arn = c.arn("lambda", "function:" + fn)
    code_hash = base64.b64encode(c.rng.randbytes(32)).decode()
    attrs = {
        "architectures": ["arm64"],
        "arn": arn,
        "code_sha256": code_hash,
        "code_signing_config_arn": "",
        "dead_letter_config": [],
        "description": "",
        "environment": [
            {
                "variables": {
                    "LOG_LEVEL": rng.choice(("info", "debug")),
                    "QUEUE_URL": f"https://sqs.us-east-1.amazonaws.com/{_ACCOUNT}/{name}",
                    "STAGE": "prod",
                }
            }
        ],
        "ephemeral_storage": [{"size": 512}],
        "file_system_config": [],
        "filename": f"build/{name}.zip",
        "function_name": fn,
        "handler": "main.handler",
        "id": fn,
        "image_config": [],
        "image_uri": "",
        "invoke_arn": f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations",
        "kms_key_arn": "",
        "last_modified": c.timestamp().replace("Z", ".000+0000"),
        "layers": [],
        "logging_config": [
            {
                "application_log_level": "",
                "log_format": "Text",
                "log_group": f"/aws/lambda/{fn}",
                "system_log_level": "",
            }
        ],
        "memory_size": rng.choice((128, 256, 512, 1024)),
        "package_type": "Zip",
        "publish": False,
        "qualified_arn": arn + ":$LATEST",
        "qualified_invoke_arn": "",
        "replace_security_groups_on_destroy": None,
        "replacement_security_group_ids": None,
        "reserved_concurrent_executions": -1,
        "role": c.arn("iam", f"role/{name}-role", region=False),
        "runtime": "python3.12",
        "s3_bucket": None,
        "s3_key": None,
        "s3_object_version": None,
        "signing_job_arn": "",
        "signing_profile_version_arn": "",
        "skip_destroy": False,
        "snap_start": [],
        "source_code_hash": code_hash,
        "source_code_size": rng.randrange(10**3, 10**7),
        "tags": tags,
        "tags_all": tags_all,
        "timeout": rng.choice((3, 30, 900)),
        "timeouts": None,
        "tracing_config": [{"mode": "PassThrough"}],
        "version": "$LATEST",
        "vpc_config": [],
    }
    return attrs, [], 0, _private_timeouts(10, 10, 10, schema="0")


def _aws_cloudwatch_log_group(c: _Ctx, name: str) -> Built:
    tags, tags_all = c.tags(name)
    group = f"/acme/{name}"
    attrs = {
        "arn": c.arn("logs", f"log-group:{group}"),
        "id": group,
        "kms_key_id": "",
        "log_group_class": "STANDARD",
        "name": group,
        "name_prefix": "",
        "retention_in_days": c.rng.choice((7, 30, 90, 365)),
        "skip_destroy": False,
        "tags": tags,
        "tags_all": tags_all,
    }
    return attrs, [], 0, None


def _aws_kms_key(c: _Ctx, name: str) -> Built:
    kid = c.uuid()
    tags, tags_all = c.tags(name)
    attrs = {
        "arn": c.arn("kms", "key/" + kid),
        "bypass_policy_lockout_safety_check": False,
        "custom_key_store_id": "",
        "customer_master_key_spec": "SYMMETRIC_DEFAULT",
        "deletion_window_in_days": 30,
        "description": f"{name} data key",
        "enable_key_rotation": True,
        "id": kid,
        "is_enabled": True,
        "key_id": kid,
        "key_usage": "ENCRYPT_DECRYPT",
        "multi_region": False,
        "policy": _policy_document(c, name),
        "rotation_period_in_days": 365,
        "tags": tags,
        "tags_all": tags_all,
        "timeouts": None,
        "xks_key_id": "",
    }
    return attrs, [], 0, _private_timeouts(2, 2, schema="0")


def _random_password(c: _Ctx, name: str) -> Built:
    rng = c.rng
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#%&*()-_=+[]{}<>:?"
    result = "".join(rng.choice(alphabet) for _ in range(32))
    attrs = {
        "bcrypt_hash": "$2a$10$" + c.hex(53),
        "id": "none",
        "keepers": None,
        "length": 32,
        "lower": True,
        "min_lower": 0,
        "min_numeric": 0,
        "min_special": 0,
        "min_upper": 0,
        "number": True,
        "numeric": True,
        "override_special": None,
        "result": result,
        "special": True,
        "upper": True,
    }
    return attrs, ["bcrypt_hash", "result"], 3, None


def _data_aws_iam_policy_document(c: _Ctx, name: str) -> Built:
    doc = _policy_document(c, name)
    attrs = {
        "id": str(c.rng.randrange(10**9, 10**10)),
        "json": doc,
        "minified_json": doc,
        "override_policy_documents": None,
        "policy_id": None,
        "source_policy_documents": None,
        "statement": [
            {
                "actions": ["s3:GetObject"],
                "condition": [],
                "effect": "Allow",
                "not_actions": [],
                "not_principals": [],
                "not_resources": [],
                "principals": [],
                "resources": [f"arn:aws:s3:::acme-{name}/*"],
                "sid": "",
            }
        ],
        "version": "2012-10-17",
    }
    return attrs, [], 0, None


def _data_aws_caller_identity(c: _Ctx, name: str) -> Built:
    attrs = {
        "account_id": _ACCOUNT,
        "arn": f"arn:aws:sts::{_ACCOUNT}:assumed-role/ci-deploy/{c.hex(12)}",
        "id": _ACCOUNT,
        "user_id": "AROA" + c.hex(17).upper() + ":ci",
    }
    return attrs, [], 0, None


def _data_aws_availability_zones(c: _Ctx, name: str) -> Built:
    attrs = {
        "all_availability_zones": None,
        "exclude_names": None,
        "exclude_zone_ids": None,
        "filter": None,
        "group_names": ["us-east-1"],
        "id": c.region,
        "names": list(_AZS),
        "state": "available",
        "timeouts": None,
        "zone_ids": ["use1-az1", "use1-az2", "use1-az4", "use1-az6"],
    }
    return attrs, [], 0, None


# (mode, type, builder, provider, weight)
_TYPES: list[tuple[str, str, Callable[[_Ctx, str], Built], str, int]] = [
    ("managed", "aws_instance", _aws_instance, AWS, 8),
    ("managed", "aws_security_group", _aws_security_group, AWS, 6),
    ("managed", "aws_vpc_security_group_ingress_rule", _aws_vpc_security_group_ingress_rule, AWS, 6),
    ("managed", "aws_s3_bucket", _aws_s3_bucket, AWS, 5),
    ("managed", "aws_s3_object", _aws_s3_object, AWS, 4),
    ("managed", "aws_iam_role", _aws_iam_role, AWS, 5),
    ("managed", "aws_iam_policy", _aws_iam_policy, AWS, 3),
    ("managed", "aws_iam_role_policy_attachment", _aws_iam_role_policy_attachment, AWS, 6),
    ("managed", "aws_subnet", _aws_subnet, AWS, 5),
    ("managed", "aws_route53_record", _aws_route53_record, AWS_US_EAST_1, 10),
    ("managed", "aws_lb", _aws_lb, AWS, 2),
    ("managed", "aws_lb_target_group", _aws_lb_target_group, AWS, 3),
    ("managed", "aws_db_instance", _aws_db_instance, AWS, 1),
    ("managed", "aws_lambda_function", _aws_lambda_function, AWS, 2),
    ("managed", "aws_cloudwatch_log_group", _aws_cloudwatch_log_group, AWS, 4),
    ("managed", "aws_kms_key", _aws_kms_key, AWS, 2),
    ("managed", "random_password", _random_password, RANDOM, 1),
    ("data", "aws_iam_policy_document", _data_aws_iam_policy_document, AWS, 3),
    ("data", "aws_caller_identity", _data_aws_caller_identity, AWS, 1),
    ("data", "aws_availability_zones", _data_aws_availability_zones, AWS, 1),
]


# Go struct field order of an instance object (the fields this generator writes).
_INSTANCE_FIELDS = (
    "index_key",
    "status",
    "deposed",
    "schema_version",
    "attributes",
    "sensitive_attributes",
    "private",
    "dependencies",
    "create_before_destroy",
)


def _instance_sort_key(inst: Json) -> tuple:
    key = inst.get("index_key")
    deposed = inst.get("deposed", "")
    if key is None:
        return (0, 0, "", deposed)
    if type(key) is int:
        return (1, key, "", deposed)
    return (2, 0, key, deposed)


def generate_state(n_instances: int, seed: int = 0) -> Json:
    """A v4 state with exactly ``n_instances`` instance objects, as Terraform 1.11 writes it."""
    if n_instances < 0:
        raise ValueError("n_instances must be >= 0")
    rng = random.Random(seed)
    ctx = _Ctx(rng)
    modules = [m for m, _ in _MODULES]
    module_weights = [w for _, w in _MODULES]
    type_weights = [t[4] for t in _TYPES]
    resources: list[Json] = []
    # Config addresses of managed resources already generated, per module config path (for dependencies).
    earlier: dict[str, list[str]] = {}
    used_names: set[tuple[str, str, str, str]] = set()
    remaining = n_instances
    while remaining > 0:
        steps = rng.choices(modules, module_weights)[0]
        mode, rtype, build, provider, _ = rng.choices(_TYPES, type_weights)[0]
        module = _module_str(steps)
        config_module = _module_config_str(steps)
        base = rng.choice(_NAMES)
        name = base
        serial = 1
        while (module, mode, rtype, name) in used_names:
            serial += 1
            name = f"{base}_{serial}"
        used_names.add((module, mode, rtype, name))

        roll = rng.random()
        keys: list[int | str | None]
        if roll < 0.6 or (mode == "data" and roll < 0.9):
            keys = [None]
        elif roll < 0.8:
            keys = list(range(rng.randrange(2, 7)))
        else:
            keys = sorted(rng.sample(_EACH_KEYS, rng.randrange(2, 7)))
        keys = keys[:remaining]

        deps: list[str] = []
        pool = earlier.get(config_module, [])
        if mode == "managed" and pool:
            deps = sorted(set(rng.sample(pool, min(len(pool), rng.randrange(0, 5)))))

        cbd = mode == "managed" and rtype == "aws_security_group" and rng.random() < 0.3
        instances: list[Json] = []
        for key in keys:
            instances.append(_instance(ctx, build, name, key, mode, deps, cbd))
            remaining -= 1
            if remaining and mode == "managed" and rng.random() < 0.002:
                # An object left behind by create_before_destroy: same key, a deposed key.
                deposed = _instance(ctx, build, name, key, mode, deps, cbd)
                deposed["deposed"] = ctx.hex(8)
                instances.append({k: deposed[k] for k in _INSTANCE_FIELDS if k in deposed})
                remaining -= 1
        instances.sort(key=_instance_sort_key)

        res: Json = {}
        if module:
            res["module"] = module
        res.update(mode=mode, type=rtype, name=name, provider=provider, instances=instances)
        resources.append(res)
        if mode == "managed":
            prefix = config_module + "." if config_module else ""
            earlier.setdefault(config_module, []).append(f"{prefix}{rtype}.{name}")

    resources.sort(key=lambda r: (r.get("module", ""), r["mode"], r["type"], r["name"]))
    return {
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": rng.randrange(1, 5000),
        "lineage": ctx.uuid(),
        "outputs": _outputs(ctx),
        "resources": resources,
        "check_results": None,
    }


def _instance(
    ctx: _Ctx,
    build: Callable[[_Ctx, str], Built],
    name: str,
    key: int | str | None,
    mode: str,
    deps: list[str],
    cbd: bool,
) -> Json:
    label = name if key is None else f"{name}-{key}"
    attrs, sensitive, schema_version, private = build(ctx, label)
    inst: Json = {}
    if key is not None:
        inst["index_key"] = key
    if mode == "managed" and ctx.rng.random() < 0.003:
        inst["status"] = "tainted"
    inst["schema_version"] = schema_version
    inst["attributes"] = _sorted_deep(attrs)
    inst["sensitive_attributes"] = [[{"type": "get_attr", "value": attr}] for attr in sensitive]
    if mode == "managed":
        inst["private"] = private if private is not None else _PRIVATE_SCHEMA_0
        if deps:
            inst["dependencies"] = list(deps)
        if cbd:
            inst["create_before_destroy"] = True
    return inst


def _outputs(ctx: _Ctx) -> Json:
    subnets = ["subnet-" + ctx.hex(17) for _ in range(6)]
    outputs = {
        "vpc_id": {"value": "vpc-" + ctx.hex(17), "type": "string"},
        "private_subnet_ids": {"value": subnets, "type": ["list", "string"]},
        "db_master_password": {"value": "s3cr3t-" + ctx.hex(24), "type": "string", "sensitive": True},
        "endpoints": {
            "value": {"api": "https://api.acme.io", "web": "https://www.acme.io"},
            "type": ["object", {"api": "string", "web": "string"}],
        },
        "instance_count": {"value": ctx.rng.randrange(10, 500), "type": "number"},
    }
    return {k: outputs[k] for k in sorted(outputs)}


def write_example(path: str | Path, n: int, seed: int = 0) -> Path:
    """Write a generated state of ``n`` instances to ``path`` as Terraform formats it."""
    from driftmgr_tui.state.codec import dumps_terraform

    target = Path(path)
    target.write_bytes(dumps_terraform(generate_state(n, seed)))
    return target
