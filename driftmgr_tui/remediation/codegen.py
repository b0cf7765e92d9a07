"""Terraform code for resources discovery found outside every state: ``import`` blocks, resource skeletons,
``removed`` blocks, and the file that holds them.

The "codify" remediation turns an unmanaged cloud object into configuration: an ``import {}`` block (Terraform
1.5+) naming the object by its import ID, plus a ``resource`` block with every argument we can derive from
what discovery recorded. The arguments come from the drift projections (:data:`PROJECTIONS`, the same
(Terraform attribute, API field) pairs drift compares), so code and comparison agree on what an attribute
means. A type we know nothing about still gets a block: its identifier argument where we know it (``bucket``,
``name``...), its tags, and a comment saying what to fill in. Where Terraform and the provider are at hand,
:func:`generate_with_terraform` asks Terraform itself (``plan -generate-config-out``) for the full
configuration instead.

The "forget" remediation offers :func:`removed_block` (Terraform 1.7+) as the code-side way to drop a
resource from the state without destroying the object.

Everything here is pure text generation except :func:`write_new_file` (one new file, never an overwrite) and
:func:`generate_with_terraform`. Output is deterministic (same input, same bytes) and laid out as
``terraform fmt`` lays it out: two-space indentation, ``=`` aligned across consecutive one-line arguments.
"""

from __future__ import annotations

import errno
import math
import os
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import orjson

from driftmgr_tui.core.errors import AddressError, UsageError
from driftmgr_tui.core.redaction import REDACTED
from driftmgr_tui.core.terraform import TerraformError
from driftmgr_tui.discovery.model import TAGS_KNOWN
from driftmgr_tui.drift.projections import PROJECTIONS
from driftmgr_tui.state.address import Address, ModuleStep, parse_address

if TYPE_CHECKING:
    from driftmgr_tui.core.terraform import Terraform

__all__ = [
    "AWS_IDENTIFIER_ARGUMENTS",
    "CodifyItem",
    "GeneratedConfigError",
    "codify_document",
    "codify_item",
    "generate_with_terraform",
    "hcl_string",
    "hcl_value",
    "identifier_argument",
    "import_block",
    "import_id_for",
    "removed_block",
    "resource_name",
    "resource_skeleton",
    "write_new_file",
]

# --------------------------------------------------------------------------------------------- HCL values

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_KEYWORDS = frozenset({"true", "false", "null"})
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def hcl_string(value: str) -> str:
    """``value`` as an HCL quoted string that evaluates to exactly ``value``.

    Backslashes, quotes, newlines, carriage returns and tabs get their escapes; ``${`` and ``%{`` (which
    would start a template sequence) are written ``$${`` and ``%%{``; other non-printable characters become
    ``\\uNNNN``/``\\UNNNNNNNN``. Printable non-ASCII text is kept as it is (the file is UTF-8)."""
    out = ['"']
    last = len(value) - 1
    for i, ch in enumerate(value):
        escaped = _ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ch in "$%" and i < last and value[i + 1] == "{":
            out.append(ch + ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


@dataclass(frozen=True)
class _Expr:
    """An HCL expression written as is (a function call); continuation lines relative to column 0."""

    text: str


def hcl_value(value: Any, *, indent: int = 0) -> str:
    """``value`` (None, bool, int, float, str, or a dict/list of them) as an HCL expression, laid out as
    ``terraform fmt`` would for an argument whose line is indented by ``indent`` spaces: objects one key
    per line (bare keys where they are identifiers), lists of one-line items on one line when short."""
    first, *rest = _value_lines(value)
    return "\n".join([first, *(" " * indent + line if line else line for line in rest)])


def _key(name: str) -> str:
    """An object key: bare when it is a plain identifier, quoted otherwise (and for true/false/null)."""
    return name if _IDENT.match(name) and name not in _KEYWORDS else hcl_string(name)


def _value_lines(value: Any) -> list[str]:
    """The lines of ``value`` as an HCL expression; lines after the first are indented relative to the
    line the expression starts on."""
    if isinstance(value, _Expr):
        return value.text.split("\n")
    if value is None:
        return ["null"]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, int):
        return [str(value)]
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} has no HCL literal")
        return [str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)]
    if isinstance(value, str):
        return [hcl_string(value)]
    if isinstance(value, Mapping):
        if not value:
            return ["{}"]
        inner = _align([(_key(str(k)), _value_lines(v)) for k, v in value.items()])
        return ["{", *("  " + line if line else line for line in inner), "}"]
    if isinstance(value, list | tuple):
        items = [_value_lines(v) for v in value]
        if not items:
            return ["[]"]
        if all(len(lines) == 1 for lines in items):
            one_line = "[" + ", ".join(lines[0] for lines in items) + "]"
            if len(one_line) <= 80:
                return [one_line]
        out = ["["]
        for lines in items:
            lines = [*lines[:-1], lines[-1] + ","]
            out += ["  " + line if line else line for line in lines]
        out.append("]")
        return out
    raise TypeError(f"cannot write a {type(value).__name__} as HCL")


def _align(pairs: list[tuple[str, list[str]]]) -> list[str]:
    """``key = value`` lines, ``=`` aligned across each run of one-line values as ``terraform fmt`` does
    (a multi-line value neither takes part in nor continues a run)."""
    out: list[str] = []
    run: list[tuple[str, str]] = []

    def flush() -> None:
        width = max((len(k) for k, _ in run), default=0)
        out.extend(f"{k.ljust(width)} = {v}" for k, v in run)
        run.clear()

    for key, lines in pairs:
        if len(lines) == 1:
            run.append((key, lines[0]))
            continue
        flush()
        out.append(f"{key} = {lines[0]}")
        out.extend(lines[1:])
    flush()
    return out


# A body entry: ("attr", name, value), ("block", header, entries), ("comment", text) or ("blank",)
_Entry = tuple[Any, ...]


def _body(entries: list[_Entry]) -> list[str]:
    """Body lines at column 0: attributes aligned per run, blocks and comments break runs."""
    out: list[str] = []
    pending: list[tuple[str, list[str]]] = []

    def flush() -> None:
        out.extend(_align(pending))
        pending.clear()

    for entry in entries:
        kind = entry[0]
        if kind == "attr":
            pending.append((entry[1], _value_lines(entry[2])))
            continue
        flush()
        if kind == "block":
            out.append(f"{entry[1]} {{")
            out.extend("  " + line if line else line for line in _body(entry[2]))
            out.append("}")
        elif kind == "comment":
            out.extend(f"# {line}".rstrip() for line in str(entry[1]).split("\n"))
        else:
            out.append("")
    flush()
    return out


def _block(header: str, entries: list[_Entry]) -> str:
    lines = _body(entries)
    return "\n".join([f"{header} {{", *("  " + line if line else line for line in lines), "}"]) + "\n"


def _spaced(groups: Iterable[list[_Entry]]) -> list[_Entry]:
    """Entry groups joined with one blank line between non-empty groups."""
    out: list[_Entry] = []
    for group in groups:
        if not group:
            continue
        if out:
            out.append(("blank",))
        out.extend(group)
    return out


# ------------------------------------------------------------------------------------------- addresses

def _parse(address: str, what: str) -> Address:
    try:
        parsed = parse_address(address)
    except AddressError as exc:
        raise UsageError(f"{what}: {exc}") from None
    return parsed


def _managed_resource(address: str, what: str) -> Address:
    parsed = _parse(address, what)
    if parsed.mode != "managed":
        kind = "a data source" if parsed.mode == "data" else "a module"
        raise UsageError(f"{what}: {address!r} is {kind}, not a managed resource")
    return parsed


def _root_resource(address: str, what: str) -> Address:
    """A managed resource in the root module, without an instance key: what a resource block we write (or
    Terraform generates) in the working directory declares."""
    parsed = _managed_resource(address, what)
    if parsed.module:
        raise UsageError(f"{what}: {address!r} is inside a module; code is generated for the root module only")
    if parsed.is_instance:
        raise UsageError(f"{what}: {address!r} has an instance key; a generated resource block has no "
                         "count or for_each, so name the resource without a key")
    return parsed


_MAX_NAME = 64


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9_]+", "_", ascii_text)
    slug = re.sub(r"_{2,}", "_", slug).strip("_-")
    if len(slug) > _MAX_NAME:
        slug = slug[:_MAX_NAME].rstrip("_-")
    return slug


def resource_name(terraform_type: str, terraform_id: str, name: str | None, taken: set[str]) -> str:
    """A Terraform resource name for a discovered object, unique within ``taken`` (which it is added to).

    Made from the display name when there is one, else the id: lowercased, accents dropped, every run of
    other characters (``-`` and ``.`` included) turned into ``_``, at most 64 characters. A result that would start with a digit gets the type's last word in front (``bucket_2024_logs``); one that
    would be empty is that word alone. A name already in ``taken`` gets ``_2``, ``_3``... Pass the names
    already used for resources of this type (in the document and in the configuration)."""
    word = _slug(terraform_type.rsplit("_", 1)[-1]) or "resource"
    slug = _slug(name or "") or _slug(terraform_id) or word
    if not slug[0].isalpha() and slug[0] != "_":
        slug = f"{word}_{slug}"
    candidate, n = slug, 1
    while candidate in taken:
        n += 1
        candidate = f"{slug}_{n}"
    taken.add(candidate)
    return candidate


def import_block(address: str, import_id: str) -> str:
    """``import { to = ADDRESS  id = "ID" }`` (Terraform 1.5+). ``address`` is printed in Terraform's
    canonical form; UsageError when it is not a managed resource address."""
    to = _managed_resource(address, "import block")
    return _block("import", [("attr", "to", _Expr(str(to))), ("attr", "id", import_id)])


def removed_block(address: str) -> str:
    """``removed { from = ADDRESS  lifecycle { destroy = false } }`` (Terraform 1.7+): Terraform forgets the
    resource and leaves the object alone. ``removed`` takes a configuration address, so instance keys are
    dropped, the module path's included (``module.app["a"].aws_instance.web[0]`` becomes
    ``module.app.aws_instance.web``); a module address removes the whole module."""
    parsed = _parse(address, "removed block")
    if parsed.mode == "data":
        raise UsageError(f"removed block: {address!r} is a data source; only resources and modules are removed")
    module = tuple(ModuleStep(step.name) for step in parsed.module)
    if parsed.mode is None:
        if not module:
            raise UsageError("removed block: the root module cannot be removed")
        target = Address(module=module)
    else:
        target = Address(module=module, mode="managed", type=parsed.type, name=parsed.name)
    return _block("removed", [
        ("attr", "from", _Expr(str(target))),
        ("blank",),
        ("block", "lifecycle", [("attr", "destroy", False)]),
    ])


# ------------------------------------------------------------------------------------ deriving arguments

Fields = Mapping[str, Any]


def _last(separator: str) -> Callable[[Fields, str], Any]:
    """The last ``separator``-separated part of a field (an ARN's or a URL's final name)."""
    def pick(fields: Fields, key: str) -> Any:
        value = fields.get(key)
        return str(value).rsplit(separator, 1)[-1] if value else None

    return pick


def _field(fields: Fields, key: str) -> Any:
    return fields.get(key)


# AWS types whose identifying argument discovery records: type -> (argument, API field, how to read it)
_AWS_IDENTIFIERS: dict[str, tuple[str, str, Callable[[Fields, str], Any]]] = {
    t: (arg, api, how) for t, arg, api, how in (
        ("aws_s3_bucket", "bucket", "Name", _field),
        ("aws_security_group", "name", "GroupName", _field),
        ("aws_iam_role", "name", "RoleName", _field),
        ("aws_iam_user", "name", "UserName", _field),
        ("aws_iam_group", "name", "GroupName", _field),
        ("aws_iam_policy", "name", "PolicyName", _field),
        ("aws_iam_instance_profile", "name", "InstanceProfileName", _field),
        ("aws_db_instance", "identifier", "DBInstanceIdentifier", _field),
        ("aws_rds_cluster", "cluster_identifier", "DBClusterIdentifier", _field),
        ("aws_db_subnet_group", "name", "DBSubnetGroupName", _field),
        ("aws_db_parameter_group", "name", "DBParameterGroupName", _field),
        ("aws_rds_cluster_parameter_group", "name", "DBClusterParameterGroupName", _field),
        ("aws_db_snapshot", "db_snapshot_identifier", "DBSnapshotIdentifier", _field),
        ("aws_elasticache_cluster", "cluster_id", "CacheClusterId", _field),
        ("aws_elasticache_replication_group", "replication_group_id", "ReplicationGroupId", _field),
        ("aws_elasticache_subnet_group", "name", "CacheSubnetGroupName", _field),
        ("aws_lambda_function", "function_name", "FunctionName", _field),
        ("aws_key_pair", "key_name", "KeyName", _field),
        ("aws_launch_template", "name", "LaunchTemplateName", _field),
        ("aws_autoscaling_group", "name", "AutoScalingGroupName", _field),
        ("aws_launch_configuration", "name", "LaunchConfigurationName", _field),
        ("aws_lb", "name", "LoadBalancerName", _field),
        ("aws_lb_target_group", "name", "TargetGroupName", _field),
        ("aws_elb", "name", "LoadBalancerName", _field),
        ("aws_sqs_queue", "name", "QueueUrl", _last("/")),
        ("aws_sns_topic", "name", "TopicArn", _last(":")),
        ("aws_dynamodb_table", "name", "TableName", _field),
        ("aws_kinesis_stream", "name", "StreamName", _field),
        ("aws_kinesis_firehose_delivery_stream", "name", "DeliveryStreamName", _field),
        ("aws_redshift_cluster", "cluster_identifier", "ClusterIdentifier", _field),
        ("aws_msk_cluster", "cluster_name", "ClusterName", _field),
        ("aws_opensearch_domain", "domain_name", "DomainName", _field),
        ("aws_ecs_cluster", "name", "clusterArn", _last("/")),
        ("aws_ecs_task_definition", "family", "family", _field),
        ("aws_eks_cluster", "name", "Name", _field),
        ("aws_ecr_repository", "name", "repositoryName", _field),
        ("aws_cloudwatch_log_group", "name", "logGroupName", _field),
        ("aws_cloudwatch_metric_alarm", "alarm_name", "AlarmName", _field),
        ("aws_cloudwatch_dashboard", "dashboard_name", "DashboardName", _field),
        ("aws_cloudwatch_event_bus", "name", "Name", _field),
        ("aws_cloudwatch_event_rule", "name", "Name", _field),
        ("aws_cloudtrail", "name", "Name", _field),
        ("aws_ssm_parameter", "name", "Name", _field),
        ("aws_ssm_document", "name", "Name", _field),
        ("aws_secretsmanager_secret", "name", "Name", _field),
        ("aws_kms_alias", "name", "AliasName", _field),
        ("aws_acm_certificate", "domain_name", "DomainName", _field),
        ("aws_backup_vault", "name", "BackupVaultName", _field),
        ("aws_backup_plan", "name", "BackupPlanName", _field),
        ("aws_sfn_state_machine", "name", "name", _field),
        ("aws_api_gateway_rest_api", "name", "name", _field),
        ("aws_apigatewayv2_api", "name", "Name", _field),
        ("aws_appsync_graphql_api", "name", "name", _field),
        ("aws_cloudformation_stack", "name", "StackName", _field),
        ("aws_glue_catalog_database", "name", "Name", _field),
        ("aws_glue_job", "name", "Name", _field),
        ("aws_cognito_user_pool", "name", "Name", _field),
        ("aws_cognito_identity_pool", "identity_pool_name", "IdentityPoolName", _field),
        ("aws_route53_zone", "name", "Name", _field),
        ("aws_ami", "name", "Name", _field),
        ("aws_ec2_managed_prefix_list", "name", "PrefixListName", _field),
    )
}

# type -> (argument, API field it is read from): the identifying argument of each AWS type we know it for
AWS_IDENTIFIER_ARGUMENTS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {t: (arg, api) for t, (arg, api, _how) in _AWS_IDENTIFIERS.items()})

# What a derived skeleton of a known type still lacks (the comment tells the reader to fill it in)
_STILL_NEEDED: dict[str, str] = {
    "aws_lambda_function": "the deployment package: filename, s3_bucket and s3_key, or image_uri",
}

# Types whose identifier argument is all their configuration holds (provider v5 made every bucket
# setting a resource of its own)
_IDENTIFIER_SUFFICES = frozenset({"aws_s3_bucket"})

# Projection pairs that name attributes Terraform computes rather than accepts (never written as arguments)
_COMPUTED_ONLY = frozenset({"id", "arn", "owner_id", "unique_id", "create_date", "tags_all"})

# azurerm types without a location argument, and those whose parent is not a resource group
_AZURE_NO_LOCATION = frozenset({
    "azurerm_dns_zone", "azurerm_private_dns_zone", "azurerm_private_dns_zone_virtual_network_link",
    "azurerm_mssql_database", "azurerm_virtual_machine_extension", "azurerm_linux_web_app_slot",
    "azurerm_windows_web_app_slot", "azurerm_linux_function_app_slot", "azurerm_windows_function_app_slot",
    "azurerm_monitor_metric_alert",
})
_AZURE_CHILD = frozenset({
    "azurerm_mssql_database", "azurerm_virtual_machine_extension", "azurerm_linux_web_app_slot",
    "azurerm_windows_web_app_slot", "azurerm_linux_function_app_slot", "azurerm_windows_function_app_slot",
})
_AZURE_RESOURCE_GROUP = re.compile(r"/resourceGroups/([^/]+)", re.IGNORECASE)


def identifier_argument(terraform_type: str, attributes: Fields) -> tuple[str, Any] | None:
    """(argument, value) of the argument that names the object (an S3 bucket's ``bucket``, a role's
    ``name``), when the type has one we know and discovery recorded it; else None."""
    known = _AWS_IDENTIFIERS.get(terraform_type)
    if known is None:
        return None
    argument, api, how = known
    value = how(attributes, api)
    return (argument, value) if _usable(value) else None


def import_id_for(terraform_type: str, terraform_id: str, attributes: Fields) -> str:
    """The ID ``terraform import`` takes for a discovered object: its ``terraform_id`` (what the provider
    stores as ``id``) except where the two differ. AWS provider v5 stores a DB instance's resource id
    (``db-...``) but imports by its identifier, and stores a task definition's family but imports by ARN.
    The digitalocean provider stores a record's id but imports ``domain,id``, and a Spaces bucket's name but
    imports ``region,name``."""
    if terraform_type == "aws_db_instance" and attributes.get("DBInstanceIdentifier"):
        return str(attributes["DBInstanceIdentifier"])
    if terraform_type == "aws_ecs_task_definition":
        arn = (attributes.get("taskDefinition") or {}).get("taskDefinitionArn")
        if arn:
            return str(arn)
    if terraform_type == "digitalocean_record" and attributes.get("domain"):
        return f"{attributes['domain']},{terraform_id}"
    if terraform_type == "digitalocean_spaces_bucket" and attributes.get("region"):
        return f"{attributes['region']},{terraform_id}"
    return terraform_id


def _usable(value: Any) -> bool:
    return value is not None and value != "" and value != REDACTED


def _policy_data(value: Any) -> Any:
    """A policy document as data: a dict or list as is, JSON text (IAM's URL-encoded form included) parsed;
    None when it is neither."""
    if isinstance(value, Mapping | list):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text[:3].upper() in ("%7B", "%5B"):
        text = unquote(text)
    if text[:1] not in "{[":
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def _jsonencode(data: Any) -> _Expr:
    return _Expr("jsonencode(" + "\n".join(_value_lines(data)) + ")")


def _argument_value(argument: str, value: Any) -> Any:
    """How a discovered value is written: policy documents through ``jsonencode`` (data, not a string of
    JSON, so the reader sees the document), everything else as the literal it is."""
    if argument == "policy" or argument.endswith("_policy"):
        data = _policy_data(value)
        if data is not None:
            return _jsonencode(data)
    return value


def _sg_rules(permissions: Any, own_id: Any, owner: Any) -> list[dict[str, Any]]:
    """EC2 ``IpPermissions`` as ``aws_security_group`` ingress/egress rules, grouped as the provider reads
    them back: one rule per permission and description, holding every source with that description
    (CIDRs, IPv6 CIDRs, prefix lists, other groups, and ``self`` for the group itself)."""
    rules: dict[tuple[Any, ...], dict[str, Any]] = {}
    for perm in permissions or ():
        protocol = str(perm.get("IpProtocol", "-1"))
        # the API leaves the ports out where a protocol has none ("-1", ESP...); the rule then says 0-0
        from_port = 0 if protocol == "-1" or perm.get("FromPort") is None else int(perm["FromPort"])
        to_port = 0 if protocol == "-1" or perm.get("ToPort") is None else int(perm["ToPort"])
        sources = (
            [("cidr_blocks", r.get("CidrIp"), r) for r in perm.get("IpRanges") or ()]
            + [("ipv6_cidr_blocks", r.get("CidrIpv6"), r) for r in perm.get("Ipv6Ranges") or ()]
            + [("prefix_list_ids", r.get("PrefixListId"), r) for r in perm.get("PrefixListIds") or ()]
        )
        for pair in perm.get("UserIdGroupPairs") or ():
            group = pair.get("GroupId")
            if group and own_id and group == own_id:
                sources.append(("self", True, pair))
            elif group:
                user = pair.get("UserId")
                ref = f"{user}/{group}" if user and owner and user != owner else group
                sources.append(("security_groups", ref, pair))
        for kind, source, entry in sources:
            if source is None:
                continue
            description = entry.get("Description") or ""
            key = (protocol, from_port, to_port, description)
            rule = rules.setdefault(key, {"protocol": protocol, "from_port": from_port, "to_port": to_port,
                                          "description": description})
            if kind == "self":
                rule["self"] = True
            else:
                rule.setdefault(kind, set()).add(str(source))
    out = []
    for key in sorted(rules):
        rule = rules[key]
        ordered: dict[str, Any] = {"description": rule["description"], "from_port": rule["from_port"],
                                   "to_port": rule["to_port"], "protocol": rule["protocol"]}
        for kind in ("cidr_blocks", "ipv6_cidr_blocks", "prefix_list_ids", "security_groups"):
            if rule.get(kind):
                ordered[kind] = sorted(rule[kind])
        if rule.get("self"):
            ordered["self"] = True
        if not ordered["description"]:
            del ordered["description"]
        out.append(ordered)
    return out


def _security_group_blocks(attributes: Fields) -> list[_Entry]:
    entries: list[_Entry] = []
    own, owner = attributes.get("GroupId"), attributes.get("OwnerId")
    for argument, api in (("ingress", "IpPermissions"), ("egress", "IpPermissionsEgress")):
        if api not in attributes or attributes[api] is None:
            continue  # not discovered: leave the rules unmanaged rather than claim there are none
        rules = _sg_rules(attributes[api], own, owner)
        if not rules:
            entries.append(("attr", argument, _Expr("[]")))
            continue
        for rule in rules:
            if entries:
                entries.append(("blank",))
            entries.append(("block", argument, [("attr", k, v) for k, v in rule.items()]))
    return entries


def _instance_security_groups(attributes: Fields) -> list[_Entry]:
    groups = attributes.get("SecurityGroups")
    if not isinstance(groups, list):
        return []
    ids = sorted({str(g["GroupId"]) for g in groups if isinstance(g, Mapping) and g.get("GroupId")})
    return [("attr", "vpc_security_group_ids", ids)]


_EXTRA_ARGUMENTS: dict[str, Callable[[Fields], list[_Entry]]] = {
    "aws_instance": _instance_security_groups,
}
_NESTED_BLOCKS: dict[str, Callable[[Fields], list[_Entry]]] = {
    "aws_security_group": _security_group_blocks,
}


def _visible_tags(terraform_type: str, tags: Mapping[str, Any]) -> dict[str, str]:
    out = {str(k): str(v) for k, v in tags.items() if k != TAGS_KNOWN and v is not None}
    if terraform_type.startswith("aws_"):
        out = {k: v for k, v in out.items() if not k.lower().startswith("aws:")}  # AWS's own, read-only
    return dict(sorted(out.items()))


def _tag_entries(terraform_type: str, tags: Mapping[str, Any]) -> list[_Entry]:
    visible = _visible_tags(terraform_type, tags)
    if not visible:
        return []
    if terraform_type == "aws_autoscaling_group":
        # tags of an autoscaling group are `tag` blocks (propagation is not recorded: the provider's default)
        return _spaced([("block", "tag", [("attr", "key", k), ("attr", "value", v),
                                          ("attr", "propagate_at_launch", True)])] for k, v in visible.items())
    argument = "labels" if terraform_type.startswith("google_") else "tags"
    return [("attr", argument, visible)]


def _azure_arguments(terraform_type: str, attributes: Fields) -> list[_Entry]:
    entries: list[_Entry] = []
    name = attributes.get("name")
    if terraform_type not in _AZURE_CHILD and terraform_type != "azurerm_log_analytics_solution":
        if _usable(name):
            entries.append(("attr", "name", str(name)))
        group = _AZURE_RESOURCE_GROUP.search(str(attributes.get("id") or ""))
        if group and terraform_type != "azurerm_resource_group":
            entries.append(("attr", "resource_group_name", group.group(1)))
    location = attributes.get("location")
    if _usable(location) and str(location).lower() != "global" and terraform_type not in _AZURE_NO_LOCATION:
        entries.append(("attr", "location", str(location)))
    return entries


def _fill_in_comment(terraform_type: str, *, partly: bool) -> str:
    if partly:
        return (f"Only the arguments below could be derived for {terraform_type} from what discovery recorded:\n"
                "add the others it requires, and those whose provider default differs from the object\n"
                "(`terraform plan` shows them as changes), or let `terraform plan -generate-config-out=FILE`\n"
                "write them all.")
    return (f"The arguments of {terraform_type} could not be derived from what discovery recorded:\n"
            "fill in its required arguments (`terraform providers schema -json` lists them), or let\n"
            "`terraform plan -generate-config-out=FILE` write them.")


def resource_skeleton(terraform_type: str, name: str, attributes: dict, tags: dict) -> str:
    """``resource "TYPE" "NAME" { ... }`` with every argument derivable from the discovered ``attributes``.

    Known AWS types get their identifier argument, then the arguments of their drift projection in its
    order (only those discovery recorded; IAM policies as ``jsonencode({...})`` of the document), then
    derived ones (an instance's ``vpc_security_group_ids``), then nested blocks (a security group's
    ``ingress``/``egress`` built from ``IpPermissions``, sorted), then ``tags`` (sorted, without AWS's
    reserved ``aws:`` tags; ``labels`` for Google types). Azure types get ``name``, ``resource_group_name``
    (from the ARM id) and ``location`` where the type has them. A type whose arguments cannot be derived
    gets a comment saying what to fill in. Values redacted by discovery are never written."""
    address = f"{terraform_type}.{name}"
    _managed_resource(address, "resource block")
    identity: list[_Entry] = []
    arguments: list[_Entry] = []
    known = identifier_argument(terraform_type, attributes)
    if known is not None:
        identity.append(("attr", known[0], known[1]))
    projection = PROJECTIONS.get(terraform_type)
    derived = projection is not None or (terraform_type in _IDENTIFIER_SUFFICES and known is not None)
    if projection is not None:
        for argument, api in projection.fields:
            if argument in _COMPUTED_ONLY or (known is not None and argument == known[0]):
                continue
            value = attributes.get(api)
            if _usable(value):
                arguments.append(("attr", argument, _argument_value(argument, value)))
    extra = _EXTRA_ARGUMENTS.get(terraform_type)
    if extra is not None:
        arguments += extra(attributes)
    if terraform_type.startswith("azurerm_"):
        arguments += _azure_arguments(terraform_type, attributes)
    blocks_of = _NESTED_BLOCKS.get(terraform_type)
    blocks = blocks_of(attributes) if blocks_of is not None else []
    comment: list[_Entry] = []
    if not derived:
        comment = [("comment", _fill_in_comment(terraform_type, partly=bool(identity or arguments)))]
    elif _STILL_NEEDED.get(terraform_type):
        comment = [("comment", f"Still to fill in: {_STILL_NEEDED[terraform_type]}.")]
    entries = _spaced([comment, identity + arguments, blocks, _tag_entries(terraform_type, tags)])
    return _block(f"resource {hcl_string(terraform_type)} {hcl_string(name)}", entries)


# ---------------------------------------------------------------------------------------------- documents

@dataclass(frozen=True)
class CodifyItem:
    """One unmanaged object to codify: the root-module ``address`` its resource block declares
    (``aws_s3_bucket.logs``), its Terraform type, the ID ``terraform import`` takes, and what discovery
    recorded (API ``attributes`` and ``tags``)."""

    address: str
    terraform_type: str
    import_id: str
    attributes: dict
    tags: dict


def codify_item(terraform_type: str, terraform_id: str, name: str | None, tags: Mapping[str, Any],
                attributes: Mapping[str, Any], *, taken: set[str]) -> CodifyItem:
    """A :class:`CodifyItem` for a discovered resource: a fresh resource name (see :func:`resource_name`;
    ``taken`` is updated) and the import ID (see :func:`import_id_for`)."""
    label = resource_name(terraform_type, terraform_id, name, taken)
    return CodifyItem(address=f"{terraform_type}.{label}", terraform_type=terraform_type,
                      import_id=import_id_for(terraform_type, terraform_id, attributes),
                      attributes=dict(attributes), tags=dict(tags))


def codify_document(items: list[CodifyItem], *, header: str) -> str:
    """A whole ``.tf`` file: ``header`` as ``#`` comment lines, then per item its import block and resource
    skeleton, in the order given. UsageError when an address is not a root-module resource without a key,
    names another type than the item's, or repeats."""
    parts = ["\n".join(f"# {line}".rstrip() for line in header.strip("\n").split("\n")) + "\n"] if header else []
    seen: set[str] = set()
    for item in items:
        parsed = _root_resource(item.address, "codify")
        if parsed.type != item.terraform_type:
            raise UsageError(f"codify: address {item.address!r} does not name a {item.terraform_type}")
        canonical = str(parsed)
        if canonical in seen:
            raise UsageError(f"codify: {canonical} appears twice")
        seen.add(canonical)
        parts.append(import_block(canonical, item.import_id))
        parts.append(resource_skeleton(item.terraform_type, str(parsed.name), item.attributes, item.tags))
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------------ files

_TF_NAME = re.compile(r"[^./\\\x00-\x1f][^/\\\x00-\x1f]*\.tf\Z")


def _check_tf_name(filename: str) -> None:
    if not _TF_NAME.match(filename) or filename in (".", "..") or os.sep in filename or (
            os.altsep and os.altsep in filename):
        raise UsageError(f"{filename!r} is not a plain Terraform file name: give a name like codified.tf, "
                         "without a directory and ending in .tf")


def write_new_file(workdir: Path, filename: str, text: str) -> Path:
    """Create ``workdir/filename`` holding ``text``, atomically, and never over an existing file.

    The text goes to a hidden temporary file in the same directory (Terraform skips dot files), is flushed
    to disk, and is then hard-linked to its name: the link fails if the name exists, so an existing file
    (or symlink) is never touched and a reader never sees a half-written one. On filesystems without hard
    links the file is created with ``O_EXCL`` instead. UsageError for a name that is not a plain ``*.tf``
    name, a missing directory, or a name that exists."""
    _check_tf_name(filename)
    workdir = Path(workdir)
    if not workdir.is_dir():
        raise UsageError(f"terraform working directory {workdir} does not exist")
    target = workdir / filename
    data = text.encode("utf-8")
    tmp = workdir / f".driftmgr-{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise _exists(target) from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
                raise
            _create_exclusive(target, data)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(workdir)
    return target


def _exists(target: Path) -> UsageError:
    return UsageError(f"{target} already exists: refusing to overwrite it",
                      hint="choose another file name, or move the existing file away first")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _create_exclusive(target: Path, data: bytes) -> None:
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise _exists(target) from None
    try:
        _write_all(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        target.unlink(missing_ok=True)
        raise
    os.close(fd)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------- terraform

class GeneratedConfigError(TerraformError):
    """``terraform plan -generate-config-out`` failed after writing configuration for some resources (a
    generated block that does not validate, one object that does not exist): ``generated`` holds what
    Terraform wrote, for the user to fix by hand."""

    def __init__(self, cause: TerraformError, generated: str) -> None:
        super().__init__(
            f"{cause.message} (Terraform still generated configuration: review and fix it by hand)",
            returncode=cause.returncode, stderr_tail=cause.stderr_tail, hint=cause.hint,
        )
        self.generated = generated


def generate_with_terraform(tf: Terraform, imports: list[tuple[str, str]]) -> str:
    """The configuration Terraform itself generates for ``imports`` ((address, import ID) pairs of
    root-module resources without keys), as HCL text; "" when there is nothing to import.

    Writes the import blocks to a new ``driftmgr_import_<random>.tf`` in ``tf.chdir`` and runs ``terraform
    plan -generate-config-out=driftmgr_generated_<random>.tf``: Terraform 1.11 needs import blocks in the
    root module and a target file that does not exist yet. ``-refresh=false`` skips refreshing the rest of
    the state (imported objects are still read) and ``-lock=false`` keeps a plan that saves nothing from
    queueing behind, or blocking, a state lock. Both files are removed afterwards whatever happens. The
    working directory must be initialised. A failed plan raises the runner's error; when Terraform had
    written configuration before failing, :class:`GeneratedConfigError` carrying it."""
    if not imports:
        return ""
    blocks = []
    seen: set[str] = set()
    for address, import_id in imports:
        canonical = str(_root_resource(address, "generate configuration"))
        if canonical in seen:
            raise UsageError(f"generate configuration: {canonical} appears twice")
        seen.add(canonical)
        blocks.append(import_block(canonical, import_id))
    token = secrets.token_hex(6)
    import_name = f"driftmgr_import_{token}.tf"
    out_name = f"driftmgr_generated_{token}.tf"
    workdir = Path(tf.chdir)
    import_path, out_path = workdir / import_name, workdir / out_name
    header = "# Temporary import blocks for `terraform plan -generate-config-out`; removed when it ends.\n"
    if out_path.exists() or out_path.is_symlink():
        raise UsageError(f"{out_path} already exists")
    write_new_file(workdir, import_name, header + "\n" + "\n".join(blocks))
    try:
        try:
            tf.run("plan", "-input=false", "-lock=false", "-refresh=false", f"-generate-config-out={out_name}")
        except TerraformError as exc:
            generated = _read(out_path)
            if generated.strip():
                raise GeneratedConfigError(exc, generated) from exc
            raise
        return _read(out_path)
    finally:
        import_path.unlink(missing_ok=True)
        out_path.unlink(missing_ok=True)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
