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
from functools import cache, lru_cache
from typing import Any

import orjson

from driftmgr_tui.discovery.model import TAGS_KNOWN
from driftmgr_tui.drift.model import CloudObject, FieldDiff, ManagedInstance
from driftmgr_tui.drift.normalize import PROVIDER_DEFAULTS, diff, effective_tags

# A security group rule atom as compared: (protocol, (from port, to port) or "all", source, description or "")
RuleKey = tuple[str, Any, str, str]


@dataclass
class ComparisonContext:
    """What comparing one resource may need from the rest of the environment's states."""

    # security group id -> {"ingress": rule atoms, "egress": rule atoms} from standalone rule resources
    sg_rules: dict[str, dict[str, set[RuleKey]]] = field(default_factory=dict)

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

_PROTOCOLS: dict[Any, str] = {"all": "-1", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", None: "-1",
                              -1: "-1", 6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}


def _protocol(value: Any) -> str:
    try:
        return _PROTOCOL_SEEN[value]
    except (KeyError, TypeError):
        pass
    known = _PROTOCOLS.get(value) if isinstance(value, str | int | None) else None
    text = known if known is not None else _PROTOCOLS.get(str(value).lower(), str(value).lower())
    if isinstance(value, str | int | None) and len(_PROTOCOL_SEEN) < 256:
        _PROTOCOL_SEEN[value] = text
    return text


_PROTOCOL_SEEN: dict[Any, str] = {}


_PORTED = frozenset({"tcp", "udp", "icmp", "icmpv6"})


def _ports(protocol: str, from_port: Any, to_port: Any) -> Any:
    """The port range (or ICMP type and code) of a rule; "all" for protocols without ports (all traffic, ESP,
    GRE...), which the API answers without ports and the provider records as 0-0."""
    if protocol not in _PORTED:
        return "all"
    return (-1 if from_port is None else int(from_port), -1 if to_port is None else int(to_port))


def format_atom(key: RuleKey) -> str:
    """``tcp 443-443 10.0.0.0/16 "https"``: one rule atom as a diff shows it."""
    protocol, ports, source, description = key
    span = ports if isinstance(ports, str) else f"{ports[0]}-{ports[1]}"
    text = f"{protocol} {span} {source}"
    return f'{text} "{description}"' if description else text


def _group_ref(value: str, own_id: str | None) -> str:
    group = value.rsplit("/", 1)[-1]
    return "self" if own_id and group == own_id else group


def rule_keys(rules: Iterable[Mapping[str, Any]] | None, own_id: str | None = None) -> set[RuleKey]:
    """Atoms of Terraform-style rule blocks (``ingress``/``egress`` of ``aws_security_group``)."""
    keys: set[RuleKey] = set()
    if not rules:
        return keys
    add = keys.add
    for rule in rules:
        protocol = _protocol(rule.get("protocol"))
        ports = _ports(protocol, rule.get("from_port"), rule.get("to_port"))
        desc = rule.get("description") or ""
        for sources in (rule.get("cidr_blocks"), rule.get("ipv6_cidr_blocks"), rule.get("prefix_list_ids")):
            if sources:
                for source in sources:
                    add((protocol, ports, source, desc))
        for group in rule.get("security_groups") or ():
            add((protocol, ports, _group_ref(group, own_id), desc))
        if rule.get("self"):
            add((protocol, ports, "self", desc))
    return keys


def permission_keys(permissions: Iterable[Mapping[str, Any]] | None, own_id: str | None) -> set[RuleKey]:
    """Atoms of EC2 ``IpPermissions`` as DescribeSecurityGroups returns them."""
    keys: set[RuleKey] = set()
    if not permissions:
        return keys
    add = keys.add
    for perm in permissions:
        protocol = _protocol(perm.get("IpProtocol"))
        ports = _ports(protocol, perm.get("FromPort"), perm.get("ToPort"))
        for r in perm.get("IpRanges") or ():
            add((protocol, ports, r.get("CidrIp"), r.get("Description") or ""))
        for r in perm.get("Ipv6Ranges") or ():
            add((protocol, ports, r.get("CidrIpv6"), r.get("Description") or ""))
        for r in perm.get("PrefixListIds") or ():
            add((protocol, ports, r.get("PrefixListId"), r.get("Description") or ""))
        for r in perm.get("UserIdGroupPairs") or ():
            add((protocol, ports, _group_ref(str(r.get("GroupId")), own_id), r.get("Description") or ""))
    return keys


def rule_atoms(rules: Iterable[Mapping[str, Any]] | None, own_id: str | None = None) -> set[str]:
    return {format_atom(k) for k in rule_keys(rules, own_id)}


def permission_atoms(permissions: Iterable[Mapping[str, Any]] | None, own_id: str | None) -> set[str]:
    return {format_atom(k) for k in permission_keys(permissions, own_id)}


def _classic_rule(attrs: Mapping[str, Any]) -> tuple[str, set[RuleKey]]:
    own = attrs.get("security_group_id")
    rule = dict(attrs)
    if attrs.get("source_security_group_id"):
        rule["security_groups"] = [attrs["source_security_group_id"]]
    return str(attrs.get("type")), rule_keys([rule], own)


def _vpc_rule(direction: str) -> Callable[[Mapping[str, Any]], tuple[str, set[RuleKey]]]:
    def atoms(attrs: Mapping[str, Any]) -> tuple[str, set[RuleKey]]:
        protocol = _protocol(attrs.get("ip_protocol"))
        ports = _ports(protocol, attrs.get("from_port"), attrs.get("to_port"))
        source = (attrs.get("cidr_ipv4") or attrs.get("cidr_ipv6") or attrs.get("prefix_list_id")
                  or _group_ref(str(attrs.get("referenced_security_group_id") or ""),
                                attrs.get("security_group_id")))
        return direction, {(protocol, ports, source, attrs.get("description") or "")}

    return atoms


_STANDALONE_RULES: dict[str, Callable[[Mapping[str, Any]], tuple[str, set[RuleKey]]]] = {
    "aws_security_group_rule": _classic_rule,
    "aws_vpc_security_group_ingress_rule": _vpc_rule("ingress"),
    "aws_vpc_security_group_egress_rule": _vpc_rule("egress"),
}
STANDALONE_RULE_TYPES = frozenset(_STANDALONE_RULES)


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


# A computed comparison yields (key, expected, actual) for keys whose values are derived on both sides
Computed = Callable[[ManagedInstance, CloudObject, ComparisonContext], Iterable[tuple[str, Any, Any]]]


def _security_group_rules(inst: ManagedInstance, cloud: CloudObject,
                          ctx: ComparisonContext) -> Iterable[tuple[str, Any, Any]]:
    a = cloud.attributes
    if "IpPermissions" not in a and "IpPermissionsEgress" not in a:
        return ()
    attrs = inst.attributes
    own = attrs.get("id")
    standalone = ctx.sg_rules.get(own or "")
    out = []
    for key, api in (("ingress", "IpPermissions"), ("egress", "IpPermissionsEgress")):
        expected = rule_keys(attrs.get(key), own)
        if standalone:
            expected |= standalone[key]
        actual = permission_keys(a.get(api), a.get("GroupId"))
        if expected != actual:
            out.append((key, sorted(map(format_atom, expected)), sorted(map(format_atom, actual))))
    return out


def _instance_security_groups(inst: ManagedInstance, cloud: CloudObject,
                              ctx: ComparisonContext) -> Iterable[tuple[str, Any, Any]]:
    groups = cloud.attributes.get("SecurityGroups", _ABSENT)
    if groups is _ABSENT or "vpc_security_group_ids" not in inst.attributes:
        return ()
    return (("vpc_security_group_ids", inst.attributes["vpc_security_group_ids"],
             [g.get("GroupId") for g in groups or ()]),)


def _azure_location(value: Any) -> Any:
    return value.replace(" ", "").lower() if isinstance(value, str) else value


def _azure_location_pair(inst: ManagedInstance, cloud: CloudObject,
                         ctx: ComparisonContext) -> Iterable[tuple[str, Any, Any]]:
    actual = cloud.attributes.get("location")
    if not actual or "location" not in inst.attributes:
        return ()
    expected = _azure_location(inst.attributes.get("location"))
    return (("location", expected, _azure_location(actual)),)


@dataclass(frozen=True)
class Projection:
    """What the native engine compares for one Terraform type."""

    # (terraform attribute, API field): compared value to value when the API answer has the field and the
    # state the attribute
    fields: tuple[tuple[str, str], ...] = ()
    computed: Computed | None = None
    # how tags (labels) are compared: "aws", "azure", "gcp", "digitalocean", or not at all
    tags: str | None = None


def _fields(**names: str) -> tuple[tuple[str, str], ...]:
    return tuple(names.items())


PROJECTIONS: dict[str, Projection] = {
    "aws_vpc": Projection(_fields(cidr_block="CidrBlock", instance_tenancy="InstanceTenancy"), tags="aws"),
    "aws_subnet": Projection(_fields(cidr_block="CidrBlock", availability_zone="AvailabilityZone",
                                     map_public_ip_on_launch="MapPublicIpOnLaunch", vpc_id="VpcId"), tags="aws"),
    "aws_security_group": Projection(_fields(name="GroupName", description="Description", vpc_id="VpcId"),
                                     _security_group_rules, "aws"),
    "aws_instance": Projection(_fields(instance_type="InstanceType", ami="ImageId", subnet_id="SubnetId",
                                       key_name="KeyName", source_dest_check="SourceDestCheck",
                                       ebs_optimized="EbsOptimized"), _instance_security_groups, "aws"),
    "aws_iam_role": Projection(_fields(assume_role_policy="AssumeRolePolicyDocument", description="Description",
                                       max_session_duration="MaxSessionDuration", path="Path"), tags="aws"),
    "aws_iam_user": Projection(_fields(path="Path"), tags="aws"),
    "aws_db_instance": Projection(_fields(instance_class="DBInstanceClass", allocated_storage="AllocatedStorage",
                                          engine="Engine", publicly_accessible="PubliclyAccessible",
                                          storage_encrypted="StorageEncrypted", multi_az="MultiAZ",
                                          backup_retention_period="BackupRetentionPeriod",
                                          deletion_protection="DeletionProtection"), tags="aws"),
    "aws_lambda_function": Projection(_fields(runtime="Runtime", handler="Handler", memory_size="MemorySize",
                                              timeout="Timeout", role="Role", description="Description"),
                                      tags="aws"),
    "digitalocean_droplet": Projection(_fields(size="size_slug"), tags="digitalocean"),
    "digitalocean_volume": Projection(_fields(size="size_gigabytes"), tags="digitalocean"),
    "digitalocean_vpc": Projection(_fields(ip_range="ip_range")),
    "digitalocean_database_cluster": Projection(_fields(engine="engine", version="version", size="size",
                                                        node_count="num_nodes"), tags="digitalocean"),
    "digitalocean_kubernetes_cluster": Projection(_fields(version="version"), tags="digitalocean"),
}
GENERIC: dict[str, Projection] = {
    "aws": Projection(tags="aws"),
    "azure": Projection(computed=_azure_location_pair, tags="azure"),
    "gcp": Projection(tags="gcp"),
    "digitalocean": Projection(tags="digitalocean"),
}


def projection_for(provider: str, terraform_type: str) -> Projection | None:
    return PROJECTIONS.get(terraform_type) or GENERIC.get(provider)


_ABSENT = object()
_NO_PROJECTION = Projection()


@dataclass(frozen=True)
class _Compiled:
    """A projection bound to one Terraform type: its fields with their provider defaults looked up once."""

    fields: tuple[tuple[str, str, Any], ...]  # (terraform attribute, API field, default for null or _ABSENT)
    computed: Computed | None
    tags: str | None


_COMPILED: dict[str, _Compiled | None] = {}  # by Terraform type (which names its provider)


def _compiled(provider: str, terraform_type: str) -> _Compiled | None:
    key = terraform_type
    if key not in _COMPILED:
        projection = projection_for(provider, terraform_type)
        if projection is None:
            _COMPILED[key] = None
        else:
            tags = projection.tags
            if tags == "aws" and not _aws_tags_reliable(terraform_type):
                tags = None
            fields = tuple((tf, api, PROVIDER_DEFAULTS.get((terraform_type, tf), _ABSENT))
                           for tf, api in projection.fields)
            _COMPILED[key] = _Compiled(fields, projection.computed, tags)
    return _COMPILED[key]


def compare(inst: ManagedInstance, cloud: CloudObject, ctx: ComparisonContext) -> list[FieldDiff]:
    """Field-level drift between a state instance and the cloud object it matched (empty: in sync).

    Only what the projection says the cloud told us is compared. Plain equality settles most pairs of a clean
    estate; a value that differs gets the cheap normalizations (a null standing for the provider's default, a
    set in another order, a JSON document as text on one side), and only what is still different goes through
    the full normalizers of :func:`~driftmgr_tui.drift.normalize.diff`.
    """
    compiled = _COMPILED.get(cloud.terraform_type, _ABSENT)
    if compiled is _ABSENT:
        compiled = _compiled(cloud.provider, cloud.terraform_type)
    if compiled is None:
        return []
    attrs = inst.attributes
    api = cloud.attributes
    left: dict[str, tuple[Any, Any]] | None = None
    for tf, name, default in compiled.fields:
        actual = api.get(name, _ABSENT)
        if actual is _ABSENT:
            continue
        expected = attrs.get(tf, _ABSENT)
        if expected == actual or expected is _ABSENT:
            continue
        if expected is None and default is not _ABSENT:
            expected = default
            if expected == actual:
                continue
        if not _cheaply_equal(expected, actual):
            if left is None:
                left = {}
            left[tf] = (expected, actual)
    if compiled.computed is not None:
        for key, expected, actual in compiled.computed(inst, cloud, ctx):
            if expected != actual and not _cheaply_equal(expected, actual):
                if left is None:
                    left = {}
                left[key] = (_listed(expected), _listed(actual))
    if compiled.tags is not None:
        pair = _tags_pair(compiled.tags, inst, cloud)
        if pair is not None:
            if left is None:
                left = {}
            left[pair[0]] = pair[1:]
    if left is None:
        return []
    return diff({k: v[0] for k, v in left.items()}, {k: v[1] for k, v in left.items()},
                sensitive=inst.sensitive_paths)


def _tags_pair(mode: str, inst: ManagedInstance, cloud: CloudObject) -> tuple[str, Any, Any] | None:
    """("tags" or "labels", expected, actual) when they differ; None when in sync or not comparable."""
    attrs = inst.attributes
    if mode == "aws":
        if not cloud.attributes.get(TAGS_KNOWN):
            return None
        expected = effective_tags(attrs)
        actual = cloud.tags
        if expected is None or expected == actual:
            return None
        actual = {k: v for k, v in actual.items() if not k.startswith("aws:")}  # AWS's own tags
    elif mode == "azure":
        expected = effective_tags(attrs)
        actual = dict(cloud.tags)
    elif mode == "digitalocean":
        return _digitalocean_tags(inst, cloud)
    else:
        expected = attrs.get("effective_labels")
        if expected is None:
            expected = attrs.get("labels")
        labels = cloud.attributes.get("labels")
        actual = dict(labels) if isinstance(labels, Mapping) else {}
        if expected is None or expected == actual:
            return None
        return "labels", expected, actual
    if expected is None or expected == actual or _cheaply_equal(expected, actual):
        return None
    return "tags", expected, actual


# Tags DigitalOcean Kubernetes puts on its clusters itself; the provider leaves them out of a cluster's tags.
_DOKS_TAG_PREFIXES = ("k8s:", "terraform:")


def _digitalocean_tags(inst: ManagedInstance, cloud: CloudObject) -> tuple[str, Any, Any] | None:
    """DigitalOcean tags are a set of strings on both sides (case-insensitive, as DigitalOcean treats them);
    compared only when the state has ``tags`` and the API answer listed them."""
    expected = inst.attributes.get("tags")
    actual = cloud.attributes.get("tags")
    if not isinstance(expected, list) or not isinstance(actual, list):
        return None
    if cloud.terraform_type == "digitalocean_kubernetes_cluster":
        actual = [t for t in actual if t != "k8s" and not str(t).startswith(_DOKS_TAG_PREFIXES)]
    if {str(t).lower() for t in expected} == {str(t).lower() for t in actual}:
        return None
    return "tags", sorted(map(str, expected)), sorted(map(str, actual))


def _listed(value: Any) -> Any:
    return sorted(value) if isinstance(value, set | frozenset) else value


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
        return _parsed(expected) == actual
    return False


@lru_cache(maxsize=1024)
def _parsed(text: str) -> Any:
    """A JSON document as data (None when it is not one); read-only use: the result is shared. Trust and
    resource policies repeat across an estate, hence the cache."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
