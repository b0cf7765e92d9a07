"""Code generation for the codify and forget remediations: the HCL we write means what discovery saw.

Pure-text tests parse the output with python-hcl2 and compare the values with the discovered ones; where
terraform and the offline AWS provider are at hand, Terraform itself judges: the strings evaluate to the
text we meant, every argument we write is one the provider accepts, a codified estate discovered in moto
validates and plans as imports with no changes, and ``plan -generate-config-out`` runs and cleans up.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftmgr_tui.core.errors import UsageError
from driftmgr_tui.core.redaction import REDACTED
from driftmgr_tui.core.terraform import Terraform
from driftmgr_tui.discovery.aws.catalog import AWS_TYPES, NO_TAGS
from driftmgr_tui.discovery.model import TAGS_KNOWN
from driftmgr_tui.drift.projections import PROJECTIONS, permission_keys, rule_keys
from driftmgr_tui.remediation.codegen import (
    AWS_IDENTIFIER_ARGUMENTS,
    CodifyItem,
    GeneratedConfigError,
    codify_document,
    codify_item,
    generate_with_terraform,
    hcl_string,
    hcl_value,
    import_block,
    import_id_for,
    removed_block,
    resource_name,
    resource_skeleton,
    write_new_file,
)
from driftmgr_tui.state.address import parse_address
from tests._fixtures.terraform import (  # noqa: F401
    aws_provider_mirror,
    terraform_bin,
    terraform_env,
    tf_aws_workdir,
    tf_cli_config,
    tf_runner,
)

OPTIONS = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*\Z")


def _unescape_templates(value: Any) -> Any:
    """What Terraform makes of the template escapes python-hcl2 leaves in literal strings: ``$${`` is ``${``.
    Expressions (python-hcl2 returns them as ``${...}``, which no literal we write starts with) stay as
    they are, to be parsed again."""
    if isinstance(value, str):
        if value.startswith("${"):
            return value
        return value.replace("$${", "${").replace("%%{", "%{")
    if isinstance(value, list):
        return [_unescape_templates(v) for v in value]
    if isinstance(value, dict):
        return {_unescape_templates(k): _unescape_templates(v) for k, v in value.items()}
    return value


def _parse(text: str) -> dict[str, Any]:
    return _unescape_templates(hcl2.loads(text, serialization_options=OPTIONS))


def _resource(text: str, terraform_type: str, name: str) -> dict[str, Any]:
    parsed = _parse(text)
    assert [list(r) for r in parsed["resource"]] == [[terraform_type]]
    return parsed["resource"][0][terraform_type][name]


def _jsonencoded(expression: str) -> Any:
    """The data inside ``jsonencode(...)`` as python-hcl2 returns the expression (``${jsonencode({...})}``)."""
    match = re.fullmatch(r"\$\{jsonencode\((.*)\)\}", expression, re.S)
    assert match, expression
    return _parse(f"v = {match.group(1)}\n")["v"]


# ------------------------------------------------------------------------------------------ resource_name

@pytest.mark.parametrize(
    ("name", "terraform_id", "expected"),
    [
        ("Web Server (prod)", "i-0abc", "web_server_prod"),
        ("logs.example.com", "logs.example.com", "logs_example_com"),
        ("2024-archive", "2024-archive", "bucket_2024_archive"),
        ("Café Ünïcödé", "x", "cafe_unicode"),
        ("  --weird__--name--  ", "x", "weird_name"),
        ("", "my-bucket", "my_bucket"),
        (None, "sg-0123abcd", "sg_0123abcd"),
        ("日本語", "sg-0123abcd", "sg_0123abcd"),
        (None, "🙂🙂", "bucket"),
        ("A" * 200, "x", "a" * 64),
    ],
)
def test_resource_names_are_lowercase_identifiers_from_the_name_or_the_id(
        name: str | None, terraform_id: str, expected: str) -> None:
    taken: set[str] = set()
    got = resource_name("aws_s3_bucket", terraform_id, name, taken)
    assert got == expected
    assert IDENTIFIER.match(got)
    assert taken == {got}
    assert str(parse_address(f"aws_s3_bucket.{got}")) == f"aws_s3_bucket.{got}"


def test_resource_names_are_unique_within_taken() -> None:
    taken = {"web"}
    names = [resource_name("aws_instance", f"i-{n}", display, taken)
             for n, display in enumerate(["web", "Web", "WEB!", "web_2", None])]
    assert names == ["web_2", "web_3", "web_4", "web_2_2", "i_4"]
    assert taken == {"web", *names}


@settings(max_examples=200, deadline=None)
@given(name=st.one_of(st.none(), st.text(max_size=40)), terraform_id=st.text(max_size=40))
def test_any_input_gives_a_terraform_identifier(name: str | None, terraform_id: str) -> None:
    taken: set[str] = set()
    first = resource_name("aws_iam_role", terraform_id, name, taken)
    second = resource_name("aws_iam_role", terraform_id, name, taken)
    for got in (first, second):
        assert IDENTIFIER.match(got) and len(got) <= 70, got
    assert first != second


# ----------------------------------------------------------------------------------------- HCL strings

def _decode_quoted(body: str) -> str:
    """HCL's quoted template without interpolations, decoded by its spec (hclsyntax's scanner rules): the
    backslash escapes, ``$${``/``%%{`` for a literal ``${``/``%{``; a bare ``${``/``%{`` or a raw control
    character would not be literal text, so they fail here."""
    out, i = [], 0
    simple = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1]
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
            elif nxt in "uU":
                width = 4 if nxt == "u" else 8
                out.append(chr(int(body[i + 2:i + 2 + width], 16)))
                i += 2 + width
            else:
                raise AssertionError(f"unknown escape \\{nxt} in {body!r}")
        elif ch in "$%" and body.startswith(ch * 2 + "{", i):
            out.append(ch + "{")
            i += 3
        elif ch in "$%" and body.startswith(ch + "{", i):
            raise AssertionError(f"template sequence {ch}{{ left unescaped in {body!r}")
        elif ch == '"' or (not ch.isprintable() and ch != " "):
            raise AssertionError(f"raw {ch!r} inside a quoted string {body!r}")
        else:
            out.append(ch)
            i += 1
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.one_of(st.sampled_from('$%{}"\\\n\r\t\x00\x1b\u2028'), st.characters()), max_size=30))
def test_quoted_strings_decode_to_the_original_text(text: str) -> None:
    quoted = hcl_string(text)
    assert quoted[0] == quoted[-1] == '"' and "\n" not in quoted
    assert _decode_quoted(quoted[1:-1]) == text


TRICKY_STRINGS = [
    "${", "$${", "$$${x}", "%{", "%%{ if }", "${aws:username}", 'say "hi"', "back\\slash", "\\n is not a newline",
    "line1\nline2\r\n\tend", "\x01\x7f", "é日本😀", "\u2028", "}{", "$", "%", "{{}}", "",
]


def test_python_hcl2_reads_our_strings_back() -> None:
    # python-hcl2 cannot parse a "$${" that no "}" follows (Terraform can: see the terraform test below)
    readable = [s for s in TRICKY_STRINGS if not re.search(r"[$%]\{[^}]*$", s)]
    text = "".join(f"v{i} = {hcl_string(s)}\n" for i, s in enumerate(readable))
    assert _parse(text) == {f"v{i}": s for i, s in enumerate(readable)}


# ------------------------------------------------------------------------------------ import / removed

@pytest.mark.parametrize(
    ("address", "import_id", "to"),
    [
        ("aws_s3_bucket.logs", "logs-bucket", "aws_s3_bucket.logs"),
        ("aws_iam_role.app", 'we "quote" ${x} and\nnewlines', "aws_iam_role.app"),
        ('aws_instance.web["a b"]', "i-0abc", 'aws_instance.web["a b"]'),
        ("module.net[0].aws_vpc.main", "vpc-1", "module.net[0].aws_vpc.main"),
    ],
)
def test_import_blocks_name_the_address_and_the_escaped_id(address: str, import_id: str, to: str) -> None:
    text = import_block(address, import_id)
    assert text.startswith(f"import {{\n  to = {to}\n  id = ")
    assert _parse(text)["import"] == [{"to": "${" + to + "}", "id": import_id}]


@pytest.mark.parametrize("address", ["data.aws_ami.x", "module.a", "aws_s3_bucket", "aws_s3_bucket.1x"])
def test_import_blocks_need_a_managed_resource_address(address: str) -> None:
    with pytest.raises(UsageError, match="import block"):
        import_block(address, "x")


@pytest.mark.parametrize(
    ("address", "source"),
    [
        ("aws_instance.web", "aws_instance.web"),
        ('aws_instance.web["a"]', "aws_instance.web"),
        ("aws_instance.web[3]", "aws_instance.web"),
        ('module.app["x"].module.db[0].aws_db_instance.main[1]', "module.app.module.db.aws_db_instance.main"),
        ("module.app[2]", "module.app"),
    ],
)
def test_removed_blocks_take_the_resource_without_instance_keys(address: str, source: str) -> None:
    text = removed_block(address)
    assert text == f"removed {{\n  from = {source}\n\n  lifecycle {{\n    destroy = false\n  }}\n}}\n"
    assert _parse(text)["removed"] == [{"from": "${" + source + "}", "lifecycle": [{"destroy": False}]}]


@pytest.mark.parametrize("address", ["data.aws_ami.x", "", "not an address"])
def test_removed_blocks_refuse_data_sources_and_garbage(address: str) -> None:
    with pytest.raises(UsageError, match="removed block"):
        removed_block(address)


# ----------------------------------------------------------------------------------- resource skeletons

ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": 'Say "assume"',
            "Effect": "Allow",
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Principal": {"Service": "ec2.amazonaws.com", "AWS": ["arn:aws:iam::123456789012:root"]},
            "Condition": {
                "StringLike": {"aws:PrincipalTag/home": "home/${aws:username}/*"},
                "Bool": {"aws:MultiFactorAuthPresent": "true"},
                "NumericLessThan": {"aws:MultiFactorAuthAge": 3600},
            },
        },
    ],
}
SECURITY_GROUP = {
    "GroupId": "sg-0aaa", "OwnerId": "123456789012", "GroupName": "web ${tier}", "VpcId": "vpc-0a1",
    "Description": 'Web "tier" & {ssh}!',
    "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "office"}, {"CidrIp": "192.168.0.0/16"}],
         "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}],
         "PrefixListIds": [{"PrefixListId": "pl-0123", "Description": "office"}],
         "UserIdGroupPairs": [{"UserId": "123456789012", "GroupId": "sg-0aaa"},
                              {"UserId": "123456789012", "GroupId": "sg-0bbb", "Description": "lb"},
                              {"UserId": "999999999999", "GroupId": "sg-0ccc"}]},
        {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "50", "IpRanges": [{"CidrIp": "172.16.0.0/12"}]},
    ],
    "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                             "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}],
    "SecurityGroupArn": "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0aaa",
    TAGS_KNOWN: True,
}
# An API answer, as discovery stores it, for every AWS type with a drift projection
API_ANSWERS: dict[str, dict[str, Any]] = {
    "aws_vpc": {"VpcId": "vpc-0a1", "CidrBlock": "10.1.0.0/16", "InstanceTenancy": "dedicated",
                "OwnerId": "123456789012", "IsDefault": False, TAGS_KNOWN: True},
    "aws_subnet": {"SubnetId": "subnet-1", "CidrBlock": "10.1.2.0/24", "AvailabilityZone": "us-east-1b",
                   "MapPublicIpOnLaunch": True, "VpcId": "vpc-0a1", "AvailableIpAddressCount": 251},
    "aws_security_group": SECURITY_GROUP,
    "aws_instance": {"InstanceId": "i-0abc", "InstanceType": "t3.micro", "ImageId": "ami-0abc",
                     "SubnetId": "subnet-1", "KeyName": "ops", "SourceDestCheck": False, "EbsOptimized": True,
                     "SecurityGroups": [{"GroupId": "sg-0bbb", "GroupName": "b"},
                                        {"GroupId": "sg-0aaa", "GroupName": "a"}],
                     "State": {"Name": "running"}},
    "aws_iam_role": {"RoleName": "app-role", "Path": "/service/", "Description": "App's \"role\"\nsecond line",
                     "MaxSessionDuration": 7200, "AssumeRolePolicyDocument": ROLE_POLICY,
                     "Arn": "arn:aws:iam::123456789012:role/service/app-role", "RoleId": "AROA1"},
    "aws_iam_user": {"UserName": "alice", "Path": "/people/", "UserId": "AIDA1"},
    "aws_db_instance": {"DBInstanceIdentifier": "orders-db", "DbiResourceId": "db-ABCDEF",
                        "DBInstanceClass": "db.t3.micro", "AllocatedStorage": 20, "Engine": "postgres",
                        "PubliclyAccessible": False, "StorageEncrypted": True, "MultiAZ": False,
                        "BackupRetentionPeriod": 7, "DeletionProtection": True,
                        "MasterUsername": "admin"},
    "aws_lambda_function": {"FunctionName": "resize", "Runtime": "python3.12", "Handler": "app.handler",
                            "MemorySize": 256, "Timeout": 30, "Description": "Resize ${image}",
                            "Role": "arn:aws:iam::123456789012:role/resize"},
}
TAGS = {"Name": 'The "main" one', "env": "prod\nstaging", "cost:center": "${team}", "aws:cloudformation:stack-name": "s",
        "Ünïcode key": "välue"}


def test_every_aws_projection_has_an_api_answer_here() -> None:
    assert set(API_ANSWERS) == {t for t in PROJECTIONS if t.startswith("aws_")}


@pytest.mark.parametrize("terraform_type", sorted(API_ANSWERS))
def test_skeletons_carry_every_projected_argument_with_its_discovered_value(terraform_type: str) -> None:
    answer = API_ANSWERS[terraform_type]
    text = resource_skeleton(terraform_type, "this", answer, TAGS)
    body = _resource(text, terraform_type, "this")
    for argument, api in PROJECTIONS[terraform_type].fields:
        if api not in answer:
            assert argument not in body
        elif argument == "assume_role_policy":
            assert _jsonencoded(body[argument]) == answer[api]
        else:
            assert body[argument] == answer[api], argument
    known = AWS_IDENTIFIER_ARGUMENTS.get(terraform_type)
    if known is not None:
        assert body[known[0]] == answer[known[1]]
    assert body["tags"] == {k: v for k, v in TAGS.items() if not k.startswith("aws:")}
    assert TAGS_KNOWN not in text
    assert text == resource_skeleton(terraform_type, "this", answer, dict(reversed(TAGS.items())))


def test_instances_list_their_security_groups_sorted() -> None:
    body = _resource(resource_skeleton("aws_instance", "web", API_ANSWERS["aws_instance"], {}), "aws_instance", "web")
    assert body["vpc_security_group_ids"] == ["sg-0aaa", "sg-0bbb"]
    assert "tags" not in body


def test_security_group_rules_are_exactly_the_discovered_permissions() -> None:
    text = resource_skeleton("aws_security_group", "web", SECURITY_GROUP, {})
    body = _resource(text, "aws_security_group", "web")
    # the drift engine's own rule atoms: what the code declares is what the API said, rule for rule (but for
    # a protocol without ports, which the provider writes 0-0 where the API leaves the ports out)
    ported = [p for p in SECURITY_GROUP["IpPermissions"] if p["IpProtocol"] != "50"]
    assert rule_keys([r for r in body["ingress"] if r["protocol"] != "50"], "sg-0aaa") == permission_keys(
        ported, "sg-0aaa")
    assert rule_keys(body["egress"], "sg-0aaa") == permission_keys(SECURITY_GROUP["IpPermissionsEgress"], "sg-0aaa")
    https = [r for r in body["ingress"] if r["from_port"] == 443]
    assert {r.get("description", "") for r in https} == {"", "office", "lb"}
    untitled = next(r for r in https if "description" not in r)
    assert untitled["self"] is True
    assert untitled["ipv6_cidr_blocks"] == ["2001:db8::/32"]
    assert untitled["security_groups"] == ["999999999999/sg-0ccc"]  # another account's group
    assert untitled["cidr_blocks"] == ["192.168.0.0/16"]
    esp = next(r for r in body["ingress"] if r["protocol"] == "50")
    assert (esp["from_port"], esp["to_port"]) == (0, 0)
    assert body["egress"] == [{"from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": ["0.0.0.0/0"],
                               "ipv6_cidr_blocks": ["::/0"]}]
    assert (body["name"], body["description"]) == ("web ${tier}", 'Web "tier" & {ssh}!')


def test_a_group_without_rules_says_so_and_one_whose_rules_were_not_read_leaves_them_alone() -> None:
    empty = dict(SECURITY_GROUP, IpPermissions=[], IpPermissionsEgress=[])
    body = _resource(resource_skeleton("aws_security_group", "g", empty, {}), "aws_security_group", "g")
    assert (body["ingress"], body["egress"]) == ([], [])
    unread = {k: v for k, v in SECURITY_GROUP.items() if not k.startswith("IpPermissions")}
    body = _resource(resource_skeleton("aws_security_group", "g", unread, {}), "aws_security_group", "g")
    assert "ingress" not in body and "egress" not in body


@pytest.mark.parametrize("form", ["dict", "json", "url-encoded json"])
def test_role_policies_are_written_as_data_whatever_form_iam_gave(form: str) -> None:
    document: Any = ROLE_POLICY
    if form != "dict":
        document = json.dumps(ROLE_POLICY)
    if form == "url-encoded json":
        document = urllib.parse.quote(document)
    role = dict(API_ANSWERS["aws_iam_role"], AssumeRolePolicyDocument=document)
    text = resource_skeleton("aws_iam_role", "app", role, {})
    assert "assume_role_policy = jsonencode({\n" in text
    assert '"aws:PrincipalTag/home" = "home/$${aws:username}/*"' in text
    body = _resource(text, "aws_iam_role", "app")
    assert _jsonencoded(body["assume_role_policy"]) == ROLE_POLICY
    assert body["description"] == "App's \"role\"\nsecond line"


def test_redacted_values_are_never_written() -> None:
    function = dict(API_ANSWERS["aws_lambda_function"], Description=REDACTED)
    text = resource_skeleton("aws_lambda_function", "f", function, {})
    assert REDACTED not in text
    assert "description" not in _resource(text, "aws_lambda_function", "f")


def test_a_lambda_skeleton_says_what_is_still_missing() -> None:
    text = resource_skeleton("aws_lambda_function", "f", API_ANSWERS["aws_lambda_function"], {})
    assert "# Still to fill in: the deployment package: filename, s3_bucket and s3_key, or image_uri." in text


def test_an_unknown_type_gets_a_comment_and_nothing_invented() -> None:
    attributes = {"Arn": "arn:aws:thing:us-east-1:1:x", "Secret": REDACTED, TAGS_KNOWN: True}
    text = resource_skeleton("aws_made_up_thing", "x", attributes, {"team": "core", "aws:x": "y"})
    assert text.startswith('resource "aws_made_up_thing" "x" {\n'
                           "  # The arguments of aws_made_up_thing could not be derived from what discovery")
    assert "terraform plan -generate-config-out=FILE" in text
    assert _resource(text, "aws_made_up_thing", "x") == {"tags": {"team": "core"}}
    assert TAGS_KNOWN not in text and REDACTED not in text and "arn:aws:thing" not in text


@pytest.mark.parametrize(
    ("terraform_type", "attributes", "expected"),
    [
        ("aws_s3_bucket", {"Name": "logs.example.com", "CreationDate": "2026-01-01"}, {"bucket": "logs.example.com"}),
        ("aws_sqs_queue", {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"}, {"name": "jobs"}),
        ("aws_sns_topic", {"TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts"}, {"name": "alerts"}),
        ("aws_ecs_cluster", {"clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/main"}, {"name": "main"}),
    ],
)
def test_other_aws_types_get_their_identifier_argument(terraform_type: str, attributes: dict[str, Any],
                                                        expected: dict[str, Any]) -> None:
    text = resource_skeleton(terraform_type, "x", attributes, {})
    assert _resource(text, terraform_type, "x") == expected
    assert ("# Only the arguments below could be derived" in text) is (terraform_type != "aws_s3_bucket")


def test_azure_and_google_types_get_what_their_ids_and_locations_say() -> None:
    arm_id = "/subscriptions/0000/resourceGroups/Core-RG/providers/Microsoft.Network/virtualNetworks/hub"
    text = resource_skeleton("azurerm_virtual_network", "hub", {"id": arm_id, "name": "hub", "location": "westeurope"},
                             {"owner": "net team"})
    assert _resource(text, "azurerm_virtual_network", "hub") == {
        "name": "hub", "resource_group_name": "Core-RG", "location": "westeurope", "tags": {"owner": "net team"}}
    zone = resource_skeleton("azurerm_private_dns_zone", "z", {"id": arm_id, "name": "z.internal",
                                                               "location": "global"}, {})
    assert _resource(zone, "azurerm_private_dns_zone", "z") == {"name": "z.internal",
                                                                 "resource_group_name": "Core-RG"}
    bucket = resource_skeleton("google_storage_bucket", "b", {"location": "EU", "labels": {"env": "prod"}},
                               {"env": "prod"})
    assert _resource(bucket, "google_storage_bucket", "b") == {"labels": {"env": "prod"}}
    assert "# The arguments of google_storage_bucket could not be derived" in bucket


def test_autoscaling_group_tags_are_tag_blocks() -> None:
    text = resource_skeleton("aws_autoscaling_group", "g", {"AutoScalingGroupName": "workers"}, {"b": "2", "a": "1"})
    body = _resource(text, "aws_autoscaling_group", "g")
    assert body["tag"] == [{"key": "a", "value": "1", "propagate_at_launch": True},
                           {"key": "b", "value": "2", "propagate_at_launch": True}]


def test_import_ids_differ_from_state_ids_where_the_provider_says_so() -> None:
    db = API_ANSWERS["aws_db_instance"]
    assert import_id_for("aws_db_instance", "db-ABCDEF", db) == "orders-db"
    assert import_id_for("aws_s3_bucket", "logs", {"Name": "logs"}) == "logs"
    task = {"family": "web", "taskDefinition": {"taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/web:7"}}
    assert import_id_for("aws_ecs_task_definition", "web", task) == "arn:aws:ecs:us-east-1:1:task-definition/web:7"


# ------------------------------------------------------------------------------------------- documents

def test_a_document_holds_a_header_then_an_import_and_a_resource_per_item() -> None:
    taken: set[str] = set()
    items = [
        codify_item("aws_s3_bucket", "logs", "logs", {}, {"Name": "logs"}, taken=taken),
        codify_item("aws_db_instance", "db-ABCDEF", "orders-db", {"team": "data"}, API_ANSWERS["aws_db_instance"],
                    taken=taken),
        codify_item("aws_s3_bucket", "logs-2", "logs", {}, {"Name": "logs-2"}, taken=taken),
    ]
    text = codify_document(items, header="Codified by driftmgr on 2026-11-22\n\nReview before applying.")
    assert text.startswith("# Codified by driftmgr on 2026-11-22\n#\n# Review before applying.\n\nimport {\n")
    assert text.endswith("}\n") and not text.endswith("\n\n")
    parsed = _parse(text)
    assert parsed["import"] == [
        {"to": "${aws_s3_bucket.logs}", "id": "logs"},
        {"to": "${aws_db_instance.orders_db}", "id": "orders-db"},
        {"to": "${aws_s3_bucket.logs_2}", "id": "logs-2"},
    ]
    resources = {(t, n): body for r in parsed["resource"] for t, named in r.items() for n, body in named.items()}
    assert resources[("aws_s3_bucket", "logs_2")] == {"bucket": "logs-2"}
    assert resources[("aws_db_instance", "orders_db")]["identifier"] == "orders-db"
    assert resources[("aws_db_instance", "orders_db")]["tags"] == {"team": "data"}
    assert codify_document(items, header="Codified by driftmgr on 2026-11-22\n\nReview before applying.") == text


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ('aws_s3_bucket.logs["a"]', "instance key"),
        ("module.x.aws_s3_bucket.logs", "inside a module"),
        ("aws_s3_bucket_policy.logs", "does not name a aws_s3_bucket"),
        ("data.aws_s3_bucket.logs", "data source"),
    ],
)
def test_a_document_refuses_addresses_a_resource_block_cannot_declare(address: str, problem: str) -> None:
    item = CodifyItem(address, "aws_s3_bucket", "logs", {"Name": "logs"}, {})
    with pytest.raises(UsageError, match=re.escape(problem)):
        codify_document([item], header="")


def test_a_document_refuses_the_same_address_twice() -> None:
    item = CodifyItem("aws_s3_bucket.logs", "aws_s3_bucket", "logs", {"Name": "logs"}, {})
    with pytest.raises(UsageError, match=re.escape("aws_s3_bucket.logs appears twice")):
        codify_document([item, item], header="x")


# ----------------------------------------------------------------------------------------------- files

def test_write_new_file_creates_the_file(tmp_path: Path) -> None:
    path = write_new_file(tmp_path, "codified.tf", "# é\n")
    assert path == tmp_path / "codified.tf"
    assert path.read_bytes() == "# é\n".encode()
    assert os.listdir(tmp_path) == ["codified.tf"]


def test_write_new_file_never_overwrites(tmp_path: Path) -> None:
    existing = tmp_path / "codified.tf"
    existing.write_text("original\n")
    with pytest.raises(UsageError, match=re.escape(f"{existing} already exists")):
        write_new_file(tmp_path, "codified.tf", "replacement\n")
    assert existing.read_text() == "original\n"
    assert os.listdir(tmp_path) == ["codified.tf"]


def test_write_new_file_does_not_follow_a_symlink_in_the_way(tmp_path: Path) -> None:
    work, outside = tmp_path / "work", tmp_path / "outside.tf"
    work.mkdir()
    (work / "codified.tf").symlink_to(outside)
    with pytest.raises(UsageError, match="already exists"):
        write_new_file(work, "codified.tf", "x\n")
    assert not outside.exists()
    assert os.listdir(work) == ["codified.tf"]


@pytest.mark.parametrize("filename", ["../x.tf", "x.txt", "sub/x.tf", "/tmp/x.tf", ".tf", ".hidden.tf", "",
                                      "x.tf.bak", "x\n.tf"])
def test_write_new_file_takes_only_a_plain_tf_name(tmp_path: Path, filename: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(UsageError, match="not a plain Terraform file name"):
        write_new_file(work, filename, "x\n")
    assert os.listdir(work) == []
    assert sorted(os.listdir(tmp_path)) == ["work"]


def test_write_new_file_needs_the_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        write_new_file(tmp_path / "missing", "x.tf", "x\n")


def test_generate_with_terraform_checks_addresses_before_running_anything(tmp_path: Path) -> None:
    tf = Terraform(tmp_path, binary="terraform")
    assert generate_with_terraform(tf, []) == ""
    for address in ('aws_s3_bucket.a["k"]', "module.m.aws_s3_bucket.a", "data.aws_s3_bucket.a"):
        with pytest.raises(UsageError, match="generate configuration"):
            generate_with_terraform(tf, [(address, "a")])
    with pytest.raises(UsageError, match="appears twice"):
        generate_with_terraform(tf, [("aws_s3_bucket.a", "a"), ("aws_s3_bucket.a", "b")])
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------------------------------- with terraform

needs_terraform = pytest.mark.terraform
needs_aws_provider = pytest.mark.usefixtures("terraform_bin", "tf_cli_config")


def _provider_workdir(tmp_path: Path, moto_url: str) -> Terraform:
    tf = tf_runner(tf_aws_workdir(tmp_path, moto_url, ""))
    tf.init()
    return tf


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name not in (".terraform", ".terraform.lock.hcl"))


@needs_terraform
def test_terraform_reads_our_strings_and_values_as_the_text_we_meant(terraform_bin: str,  # noqa: F811
                                                                     tmp_path: Path) -> None:
    data = {
        "Name": 'The "main" one', "line\nbreak key": "tab\there", "${key}": "%{value}", "true": "null",
        "list": ["$${", "\\", "\u2028", 1, 2.5, True, None], "nested": {"a b": {"c": []}, "d": {}},
    }
    outputs = "".join(f"output \"s{i}\" {{\n  value = {hcl_string(s)}\n}}\n" for i, s in enumerate(TRICKY_STRINGS))
    outputs += f"output \"data\" {{\n  value = {hcl_value(data, indent=2)}\n}}\n"
    outputs += f"output \"policy\" {{\n  value = jsonencode({hcl_value(ROLE_POLICY, indent=2)})\n}}\n"
    (tmp_path / "main.tf").write_text(outputs)
    tf = Terraform(tmp_path, binary=terraform_bin, env=terraform_env(), timeout=300)
    tf.run("fmt", "-check", "main.tf")
    tf.run("apply", "-auto-approve", "-input=false")
    got = json.loads(tf.run("output", "-json", echo_stdout=False).stdout)
    assert [got[f"s{i}"]["value"] for i in range(len(TRICKY_STRINGS))] == TRICKY_STRINGS
    assert got["data"]["value"] == data
    assert json.loads(got["policy"]["value"]) == ROLE_POLICY


@needs_aws_provider
@needs_terraform
def test_every_argument_we_write_is_one_the_aws_provider_accepts(tmp_path: Path) -> None:
    tf = _provider_workdir(tmp_path, "http://127.0.0.1:9")
    schema = json.loads(tf.run("providers", "schema", "-json", echo_stdout=False).stdout)
    resources = schema["provider_schemas"]["registry.terraform.io/hashicorp/aws"]["resource_schemas"]
    taggable = {t for entry in AWS_TYPES if entry.tags != NO_TAGS for t in entry.all_terraform_types}

    skeletons = {t: resource_skeleton(t, "x", answer, {"team": "core"}) for t, answer in API_ANSWERS.items()}
    for terraform_type, (_argument, api) in AWS_IDENTIFIER_ARGUMENTS.items():
        if terraform_type not in skeletons:
            attributes = {api: f"arn:aws:svc:us-east-1:123456789012:thing/{terraform_type}"}
            tags = {"team": "core"} if terraform_type in taggable else {}
            skeletons[terraform_type] = resource_skeleton(terraform_type, "x", attributes, tags)
    for terraform_type in sorted(taggable):  # every taggable type discovery knows writes its tags validly
        if terraform_type in resources and terraform_type not in skeletons:
            skeletons[terraform_type] = resource_skeleton(terraform_type, "x", {}, {"team": "core"})

    wrong = []
    for terraform_type, text in sorted(skeletons.items()):
        assert terraform_type in resources, f"the provider has no {terraform_type}"
        block = resources[terraform_type]["block"]
        for argument in _resource(text, terraform_type, "x"):
            attribute = block.get("attributes", {}).get(argument)
            accepted = bool(attribute and (attribute.get("optional") or attribute.get("required")))
            if not accepted and argument not in block.get("block_types", {}):
                wrong.append(f"{terraform_type}.{argument}")
    assert wrong == []


def _create_estate() -> dict[str, str]:
    """An unmanaged estate in moto with the values that are hard to write: quotes, newlines, ``${`` in tags,
    descriptions and a trust policy, a group with a self reference and IPv6 rules."""
    import boto3

    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": [
        {"Key": "Name", "Value": 'core "vpc"'}, {"Key": "note", "Value": "line one\nline ${two}"}]}])["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="web-${env}", Description="web ${env} & {ssh}!", VpcId=vpc,
                                      TagSpecifications=[{"ResourceType": "security-group", "Tags": [
                                          {"Key": "team", "Value": "web"}]}])["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "office"}],
         "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}], "UserIdGroupPairs": [{"GroupId": group}]},
        {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "10.77.0.0/16"}]},
    ])
    bucket = "driftmgr-codify-logs"
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket)
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Condition": {"StringLike": {"aws:PrincipalTag/home": 'home/${aws:username}/"q"'}}}]}
    boto3.client("iam").create_role(RoleName="codify-app", AssumeRolePolicyDocument=json.dumps(policy),
                                    Description="App role", Tags=[{"Key": "team", "Value": 'a "b"'}])
    return {"aws_vpc": vpc, "aws_subnet": subnet, "aws_security_group": group, "aws_s3_bucket": bucket,
            "aws_iam_role": "codify-app"}


@needs_aws_provider
@needs_terraform
def test_a_codified_estate_validates_and_plans_as_imports_with_no_changes(aws: str, tmp_path: Path) -> None:
    from tests.discovery.aws.helpers import discover_type

    created = _create_estate()
    taken: set[str] = set()
    items = []
    for terraform_type, terraform_id in created.items():
        [found] = [r for r in discover_type(terraform_type) if r.terraform_id == terraform_id]
        items.append(codify_item(found.terraform_type, found.terraform_id, found.name, found.tags,
                                 found.attributes, taken=taken))
    tf = _provider_workdir(tmp_path, aws)
    write_new_file(tmp_path, "codified.tf", codify_document(items, header="Codified by driftmgr"))
    write_new_file(tmp_path, "forget.tf", removed_block('aws_instance.legacy["a"]'))

    tf.run("fmt", "-check", "codified.tf", "forget.tf")
    assert "Success! The configuration is valid." in tf.run("validate").stdout
    plan = tf.run("plan", "-input=false", "-lock=false", "-detailed-exitcode", ok_codes=(2,))
    assert "Plan: 5 to import, 0 to add, 0 to change, 0 to destroy." in plan.stdout, plan.stdout


@needs_aws_provider
@needs_terraform
def test_generate_with_terraform_returns_terraforms_own_configuration(aws: str, tmp_path: Path) -> None:
    import boto3

    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="driftmgr-generated")
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.88.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="gen", Description="generated", VpcId=vpc)["GroupId"]
    tf = _provider_workdir(tmp_path, aws)
    before = _listing(tmp_path)

    text = generate_with_terraform(tf, [("aws_s3_bucket.logs", "driftmgr-generated"),
                                        ("aws_security_group.gen", group)])

    assert 'resource "aws_s3_bucket" "logs"' in text
    parsed = _parse(text)
    resources = {t: named for r in parsed["resource"] for t, named in r.items()}
    assert resources["aws_s3_bucket"]["logs"]["bucket"] == "driftmgr-generated"
    assert resources["aws_security_group"]["gen"]["vpc_id"] == vpc
    assert _listing(tmp_path) == before


@needs_aws_provider
@needs_terraform
def test_generate_with_terraform_hands_back_what_it_wrote_when_the_plan_fails(aws: str, tmp_path: Path) -> None:
    import boto3

    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="driftmgr-half")
    tf = _provider_workdir(tmp_path, aws)
    before = _listing(tmp_path)
    with pytest.raises(GeneratedConfigError, match="Cannot import non-existent remote object") as caught:
        generate_with_terraform(tf, [("aws_s3_bucket.half", "driftmgr-half"), ("aws_iam_role.gone", "driftmgr-no-such-role")])

    assert 'resource "aws_s3_bucket" "half"' in caught.value.generated
    assert "aws_iam_role" not in caught.value.generated
    assert caught.value.returncode == 1
    assert _listing(tmp_path) == before
