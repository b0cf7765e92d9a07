"""Projections: a discovered resource seen through its Terraform type's attribute names.

The native engine compares only what a projection says the cloud told us, so a field discovery did not fetch
is never reported as drift. Each projection maps a cloud API answer (as the adapter stored it) to a dict keyed
by Terraform attribute names; the state side is taken from the instance's attributes for the same keys (after
the attribute normalizers). Types without a projection are still matched (missing / unmanaged) but not
compared field by field: ``driftmgr drift detect --engine terraform`` compares every attribute.

AWS security group rules are compared as *atoms* (one protocol, port range and source each, see
:func:`rule_atoms`), from the group's inline ``ingress``/``egress`` plus every standalone rule resource in the
environment's states (``aws_security_group_rule``, ``aws_vpc_security_group_ingress_rule`` and ``_egress_rule``):
how the provider groups rules into blocks differs from how the API does, and a rule managed as its own
resource is still managed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson

from driftmgr_tui.discovery.model import TAGS_KNOWN
from driftmgr_tui.drift.model import CloudObject, FieldDiff, ManagedInstance
from driftmgr_tui.drift.normalize import apply_provider_defaults, diff, effective_tags

Actual = Callable[[CloudObject], dict[str, Any]]


@dataclass
class ComparisonContext:
    """What comparing one resource may need from the rest of the environment's states."""

    # security group id -> {"ingress": set of atoms, "egress": set of atoms} from standalone rule resources
    sg_rules: dict[str, dict[str, set[str]]] = field(default_factory=dict)

    @classmethod
    def build(cls, instances: Iterable[ManagedInstance]) -> ComparisonContext:
        ctx = cls()
        for inst in instances:
            if inst.terraform_type in _STANDALONE_RULES:
                direction, atoms = _STANDALONE_RULES[inst.terraform_type](inst.attributes)
                group = inst.attributes.get("security_group_id")
                if group and direction in ("ingress", "egress"):
                    ctx.sg_rules.setdefault(group, {"ingress": set(), "egress": set()})[direction].update(atoms)
        return ctx


# -------------------------------------------------------------------------------------------------- AWS

_PROTOCOLS = {"all": "-1", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}


def _protocol(value: Any) -> str:
    text = str(value if value is not None else "-1").lower()
    return _PROTOCOLS.get(text, text)


def _ports(protocol: str, from_port: Any, to_port: Any) -> str:
    if protocol == "-1":
        return "all"
    low = -1 if from_port is None else int(from_port)
    high = -1 if to_port is None else int(to_port)
    return f"{low}-{high}"


def _atom(protocol: str, ports: str, source: str, description: Any) -> str:
    text = f"{protocol} {ports} {source}"
    return f'{text} "{description}"' if description else text


def _group_ref(value: str, own_id: str | None) -> str:
    group = value.rsplit("/", 1)[-1]
    return "self" if own_id and group == own_id else group


def rule_atoms(rules: Iterable[Mapping[str, Any]] | None, own_id: str | None = None) -> set[str]:
    """Atoms of Terraform-style rule blocks (``ingress``/``egress`` of ``aws_security_group``)."""
    atoms: set[str] = set()
    for rule in rules or ():
        protocol = _protocol(rule.get("protocol"))
        ports = _ports(protocol, rule.get("from_port"), rule.get("to_port"))
        desc = rule.get("description")
        for cidr in rule.get("cidr_blocks") or ():
            atoms.add(_atom(protocol, ports, cidr, desc))
        for cidr in rule.get("ipv6_cidr_blocks") or ():
            atoms.add(_atom(protocol, ports, cidr, desc))
        for prefix in rule.get("prefix_list_ids") or ():
            atoms.add(_atom(protocol, ports, prefix, desc))
        for group in rule.get("security_groups") or ():
            atoms.add(_atom(protocol, ports, _group_ref(group, own_id), desc))
        if rule.get("self"):
            atoms.add(_atom(protocol, ports, "self", desc))
    return atoms


def permission_atoms(permissions: Iterable[Mapping[str, Any]] | None, own_id: str | None) -> set[str]:
    """Atoms of EC2 ``IpPermissions`` as DescribeSecurityGroups returns them."""
    atoms: set[str] = set()
    for perm in permissions or ():
        protocol = _protocol(perm.get("IpProtocol"))
        ports = _ports(protocol, perm.get("FromPort"), perm.get("ToPort"))
        for r in perm.get("IpRanges") or ():
            atoms.add(_atom(protocol, ports, r.get("CidrIp"), r.get("Description")))
        for r in perm.get("Ipv6Ranges") or ():
            atoms.add(_atom(protocol, ports, r.get("CidrIpv6"), r.get("Description")))
        for r in perm.get("PrefixListIds") or ():
            atoms.add(_atom(protocol, ports, r.get("PrefixListId"), r.get("Description")))
        for r in perm.get("UserIdGroupPairs") or ():
            atoms.add(_atom(protocol, ports, _group_ref(str(r.get("GroupId")), own_id), r.get("Description")))
    return atoms


def _classic_rule(attrs: Mapping[str, Any]) -> tuple[str, set[str]]:
    own = attrs.get("security_group_id")
    rule = dict(attrs)
    if attrs.get("source_security_group_id"):
        rule["security_groups"] = [attrs["source_security_group_id"]]
    return str(attrs.get("type")), rule_atoms([rule], own)


def _vpc_rule(direction: str) -> Callable[[Mapping[str, Any]], tuple[str, set[str]]]:
    def atoms(attrs: Mapping[str, Any]) -> tuple[str, set[str]]:
        protocol = _protocol(attrs.get("ip_protocol"))
        ports = _ports(protocol, attrs.get("from_port"), attrs.get("to_port"))
        source = (attrs.get("cidr_ipv4") or attrs.get("cidr_ipv6") or attrs.get("prefix_list_id")
                  or _group_ref(str(attrs.get("referenced_security_group_id") or ""),
                                attrs.get("security_group_id")))
        return direction, {_atom(protocol, ports, source, attrs.get("description"))}

    return atoms


_STANDALONE_RULES: dict[str, Callable[[Mapping[str, Any]], tuple[str, set[str]]]] = {
    "aws_security_group_rule": _classic_rule,
    "aws_vpc_security_group_ingress_rule": _vpc_rule("ingress"),
    "aws_vpc_security_group_egress_rule": _vpc_rule("egress"),
}
STANDALONE_RULE_TYPES = frozenset(_STANDALONE_RULES)


def _picker(**names: str) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """A function giving ``{terraform_name: source[api_name]}`` for the API names present in ``source``."""
    pairs = tuple(names.items())
    return lambda source: {tf: source[api] for tf, api in pairs if api in source}


_VPC = _picker(cidr_block="CidrBlock", instance_tenancy="InstanceTenancy")
_SUBNET = _picker(cidr_block="CidrBlock", availability_zone="AvailabilityZone",
                  map_public_ip_on_launch="MapPublicIpOnLaunch", vpc_id="VpcId")
_SG = _picker(name="GroupName", description="Description", vpc_id="VpcId")
_INSTANCE = _picker(instance_type="InstanceType", ami="ImageId", subnet_id="SubnetId", key_name="KeyName",
                    source_dest_check="SourceDestCheck", ebs_optimized="EbsOptimized")
_ROLE = _picker(assume_role_policy="AssumeRolePolicyDocument", description="Description",
                max_session_duration="MaxSessionDuration", path="Path")
_USER = _picker(path="Path")
_DB = _picker(instance_class="DBInstanceClass", allocated_storage="AllocatedStorage", engine="Engine",
              publicly_accessible="PubliclyAccessible", storage_encrypted="StorageEncrypted", multi_az="MultiAZ",
              backup_retention_period="BackupRetentionPeriod", deletion_protection="DeletionProtection")
_LAMBDA = _picker(runtime="Runtime", handler="Handler", memory_size="MemorySize", timeout="Timeout", role="Role",
                  description="Description")


@cache
def _aws_tags_reliable(terraform_type: str) -> bool:
    """Whether discovery's tags for this type are the object's tags: an explicit tag field of the listing, the
    EC2 describe calls (which always carry Tags), IAM's get_* details, or the tagging index (then only for the
    resources the index returned, see TAGS_KNOWN)."""
    from driftmgr_tui.discovery.aws.catalog import AWS_TYPES

    for entry in AWS_TYPES:
        if terraform_type in entry.all_terraform_types:
            return (entry.tags is None or entry.tags not in ("Tags", "")
                    or entry.service == "ec2" or terraform_type in ("aws_iam_role", "aws_iam_user"))
    return False


def _aws_tags(cloud: CloudObject) -> dict[str, Any]:
    if not cloud.attributes.get(TAGS_KNOWN) or not _aws_tags_reliable(cloud.terraform_type):
        return {}
    return {"tags": cloud.tags}  # AWS's own aws:* tags are dropped in compare() when tags differ


def _aws_generic(cloud: CloudObject) -> dict[str, Any]:
    return _aws_tags(cloud)


def _vpc(cloud: CloudObject) -> dict[str, Any]:
    a = cloud.attributes
    return {**_VPC(a), **_aws_tags(cloud)}


def _subnet(cloud: CloudObject) -> dict[str, Any]:
    a = cloud.attributes
    return {**_SUBNET(a), **_aws_tags(cloud)}


def _security_group(cloud: CloudObject) -> dict[str, Any]:
    a = cloud.attributes
    own = a.get("GroupId")
    out = {**_SG(a), **_aws_tags(cloud)}
    if "IpPermissions" in a or "IpPermissionsEgress" in a:
        out["ingress"] = sorted(permission_atoms(a.get("IpPermissions"), own))
        out["egress"] = sorted(permission_atoms(a.get("IpPermissionsEgress"), own))
    return out


def _security_group_expected(inst: ManagedInstance, ctx: ComparisonContext) -> dict[str, Any]:
    attrs = inst.attributes
    own = attrs.get("id")
    standalone = ctx.sg_rules.get(own or "", {})
    return {
        "ingress": sorted(rule_atoms(attrs.get("ingress"), own) | standalone.get("ingress", set())),
        "egress": sorted(rule_atoms(attrs.get("egress"), own) | standalone.get("egress", set())),
    }


def _instance(cloud: CloudObject) -> dict[str, Any]:
    a = cloud.attributes
    out = {**_INSTANCE(a), **_aws_tags(cloud)}
    if "SecurityGroups" in a:
        out["vpc_security_group_ids"] = sorted(g.get("GroupId") for g in a["SecurityGroups"] or ())
    return out


def _iam_role(cloud: CloudObject) -> dict[str, Any]:
    return {**_ROLE(cloud.attributes), **_aws_tags(cloud)}


def _iam_user(cloud: CloudObject) -> dict[str, Any]:
    return {**_USER(cloud.attributes), **_aws_tags(cloud)}


def _db_instance(cloud: CloudObject) -> dict[str, Any]:
    return {**_DB(cloud.attributes), **_aws_tags(cloud)}


def _lambda(cloud: CloudObject) -> dict[str, Any]:
    return {**_LAMBDA(cloud.attributes), **_aws_tags(cloud)}


# ----------------------------------------------------------------------------------------- Azure, Google


def _azure_location(value: Any) -> Any:
    return value.replace(" ", "").lower() if isinstance(value, str) else value


def _azure_generic(cloud: CloudObject) -> dict[str, Any]:
    out: dict[str, Any] = {"tags": dict(cloud.tags)}
    if cloud.attributes.get("location"):
        out["location"] = _azure_location(cloud.attributes["location"])
    return out


def _azure_expected(inst: ManagedInstance, ctx: ComparisonContext) -> dict[str, Any]:
    attrs = inst.attributes
    return {"location": _azure_location(attrs.get("location"))} if "location" in attrs else {}


def _gcp_generic(cloud: CloudObject) -> dict[str, Any]:
    labels = cloud.attributes.get("labels")
    return {"labels": dict(labels) if isinstance(labels, Mapping) else {}}


def _gcp_expected(inst: ManagedInstance, ctx: ComparisonContext) -> dict[str, Any]:
    attrs = inst.attributes
    if "effective_labels" in attrs and attrs["effective_labels"] is not None:
        return {"labels": attrs["effective_labels"]}
    return {}


@dataclass(frozen=True)
class Projection:
    actual: Actual
    # state-side values for keys that are not plain attribute lookups (None: take attributes[key])
    expected: Callable[[ManagedInstance, ComparisonContext], dict[str, Any]] | None = None


PROJECTIONS: dict[str, Projection] = {
    "aws_vpc": Projection(_vpc),
    "aws_subnet": Projection(_subnet),
    "aws_security_group": Projection(_security_group, _security_group_expected),
    "aws_instance": Projection(_instance),
    "aws_iam_role": Projection(_iam_role),
    "aws_iam_user": Projection(_iam_user),
    "aws_db_instance": Projection(_db_instance),
    "aws_lambda_function": Projection(_lambda),
}
GENERIC: dict[str, Projection] = {
    "aws": Projection(_aws_generic),
    "azure": Projection(_azure_generic, _azure_expected),
    "gcp": Projection(_gcp_generic, _gcp_expected),
}


def projection_for(provider: str, terraform_type: str) -> Projection | None:
    return PROJECTIONS.get(terraform_type) or GENERIC.get(provider)


def compare(inst: ManagedInstance, cloud: CloudObject, ctx: ComparisonContext) -> list[FieldDiff]:
    """Field-level drift between a state instance and the cloud object it matched (empty: in sync)."""
    projection = projection_for(cloud.provider, cloud.terraform_type)
    if projection is None:
        return []
    actual = projection.actual(cloud)
    if not actual:
        return []
    attrs = apply_provider_defaults(cloud.terraform_type, inst.attributes)
    special = projection.expected(inst, ctx) if projection.expected is not None else {}
    expected: dict[str, Any] = {}
    for key in list(actual):
        if key in special:
            expected[key] = special[key]
        elif key == "tags" or key == "labels":
            tags = effective_tags(attrs) if key == "tags" else attrs.get(key)
            if tags is None:
                del actual[key]
            else:
                expected[key] = tags
        elif key in attrs:
            expected[key] = attrs[key]
        else:
            del actual[key]
    if expected == actual:
        return []
    # cheap equalities first (most pairs of a clean estate end here): sets in another order, a JSON document
    # as text on one side and parsed on the other; only what is left goes through the normalizers
    left = [key for key in actual if not _cheaply_equal(expected[key], actual[key])]
    if not left:
        return []
    if "tags" in left and cloud.provider == "aws":
        actual["tags"] = {k: v for k, v in actual["tags"].items() if not k.startswith("aws:")}
        if actual["tags"] == expected["tags"]:
            left.remove("tags")
            if not left:
                return []
    return diff({k: expected[k] for k in left}, {k: actual[k] for k in left}, sensitive=inst.sensitive_paths)


def _cheaply_equal(expected: Any, actual: Any) -> bool:
    if expected == actual:
        return True
    kind = type(expected)
    if kind is list and type(actual) is list and len(expected) == len(actual):
        try:
            return sorted(expected) == sorted(actual)
        except TypeError:
            return False
    if kind is str and type(actual) in (dict, list) and expected[:1] in "{[":
        try:
            return orjson.loads(expected) == actual
        except orjson.JSONDecodeError:
            return False
    return False
