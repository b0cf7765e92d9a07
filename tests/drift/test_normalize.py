"""The named normalizers: each one hides a false positive Terraform state and a cloud API produce for the same
object, and none of them hides a real change. A case per rule shows both sides."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from driftmgr_tui.drift.model import FieldDiff
from driftmgr_tui.drift.normalize import (
    NORMALIZERS,
    PROVIDER_DEFAULTS,
    SENSITIVE,
    apply_provider_defaults,
    canonical,
    canonical_cidr,
    canonical_policy,
    describe_normalizers,
    diff,
    effective_tags,
    is_empty,
    same,
    sensitive_path,
    sensitive_paths_of,
)

ACCOUNT = "123456789012"


def test_every_normalizer_is_documented() -> None:
    assert set(NORMALIZERS) == {
        "empty_values", "json_documents", "iam_policy_documents", "cidr_forms", "azure_id_case", "number_forms",
        "set_ordering", "tags_vs_tags_all", "provider_defaults", "sensitive_values",
    }
    for name, normalizer in NORMALIZERS.items():
        assert normalizer.name == name
        assert normalizer.level in ("value", "attributes")
        assert normalizer.reason.strip(), f"{name} has no reason"
    assert [d["name"] for d in describe_normalizers()] == list(NORMALIZERS)
    assert all(set(d) == {"name", "level", "reason"} for d in describe_normalizers())


# --- empty_values ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "cloud"), [
    (None, {}), (None, ""), (None, []), ("", {}), ([], {}), ({}, None),
])
def test_empty_values_are_equal(state: Any, cloud: Any) -> None:
    assert diff({"tags": state}, {"tags": cloud}) == []
    assert same(state, cloud)


def test_refreshed_null_tags_are_not_drift() -> None:
    # after a refresh the provider turns tags: null into tags: {}; nested empties count the same
    assert diff({"tags": None, "settings": {"a": None, "b": []}}, {"tags": {}, "settings": {}}) == []


@pytest.mark.parametrize(("state", "cloud"), [(False, None), (0, None), (None, False), (False, "")])
def test_false_and_zero_are_values_not_emptiness(state: Any, cloud: Any) -> None:
    # an explicit false/0 is a setting; only the per-attribute provider defaults may equate it with null
    assert not is_empty(False) and not is_empty(0)
    assert diff({"enabled": state}, {"enabled": cloud}) == [FieldDiff("enabled", state, cloud)]


def test_empty_versus_a_value_is_a_diff() -> None:
    assert diff({"key_name": None}, {"key_name": "deploy"}) == [FieldDiff("key_name", None, "deploy")]
    assert diff({"tags": {}}, {"tags": {"Owner": "mallory"}}) == [FieldDiff("tags.Owner", None, "mallory")]


# --- json_documents ----------------------------------------------------------------------------------------

STATE_DOC = '{"family":"app","containers":[{"name":"web","image":"nginx:1.25","ports":[80,443]}]}'
CLOUD_DOC = """{
  "containers": [ { "ports": [443, 80], "image": "nginx:1.25", "name": "web" } ],
  "family": "app"
}"""


def test_json_documents_compare_as_data() -> None:
    assert diff({"doc": STATE_DOC}, {"doc": CLOUD_DOC}) == []
    # one side already parsed (the API returned an object)
    assert diff({"doc": STATE_DOC}, {"doc": json.loads(CLOUD_DOC)}) == []
    assert same(STATE_DOC, CLOUD_DOC)


def test_json_document_change_is_reported_as_data() -> None:
    changed = CLOUD_DOC.replace("nginx:1.25", "nginx:1.27")
    assert diff({"doc": STATE_DOC}, {"doc": changed}) == [
        FieldDiff("doc.containers.0.image", "nginx:1.25", "nginx:1.27"),
    ]
    # documents of different shapes are shown parsed, not as escaped text
    [d] = diff('{"a": 1}', '["a"]', "doc")
    assert (d.path, d.expected, d.actual) == ("doc", {"a": 1}, ["a"])


def test_text_that_only_looks_like_json_is_compared_as_text() -> None:
    assert diff({"name": "{not json"}, {"name": "{not json!"}) == [FieldDiff("name", "{not json", "{not json!")]


# --- iam_policy_documents ----------------------------------------------------------------------------------

STATE_POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{
        "Sid": "",
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": "*",
        "Principal": {"AWS": ACCOUNT},
        "Condition": {"StringEquals": {"aws:PrincipalTag/team": "core"}},
    }],
})
# what IAM returns for the same document: single statement as an object, lists reordered, the account id as
# its root ARN, the empty Sid gone, condition values as lists
CLOUD_POLICY = {
    "Version": "2012-10-17",
    "Statement": {
        "Effect": "Allow",
        "Action": ["s3:ListBucket", "s3:GetObject"],
        "Resource": ["*"],
        "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:root"]},
        "Condition": {"StringEquals": {"aws:PrincipalTag/team": ["core"]}},
    },
}


def test_iam_policy_in_canonical_form_is_not_drift() -> None:
    assert diff({"policy": STATE_POLICY}, {"policy": CLOUD_POLICY}) == []
    assert diff({"policy": STATE_POLICY}, {"policy": json.dumps(CLOUD_POLICY)}) == []
    assert canonical(canonical_policy(json.loads(STATE_POLICY))) == canonical(canonical_policy(CLOUD_POLICY))


def test_iam_statements_are_unordered() -> None:
    state = {"Statement": [{"Effect": "Allow", "Action": "a:Get", "Resource": "*"},
                           {"Effect": "Deny", "Action": "a:Put", "Resource": "*"}]}
    cloud = {"Statement": [{"Effect": "Deny", "Action": ["a:Put"], "Resource": "*"},
                           {"Effect": "Allow", "Action": ["a:Get"], "Resource": ["*"]}]}
    assert diff(json.dumps(state), cloud, "policy") == []


def test_iam_effect_flip_is_drift() -> None:
    cloud = json.loads(json.dumps(CLOUD_POLICY))
    cloud["Statement"]["Effect"] = "Deny"
    assert diff({"policy": STATE_POLICY}, {"policy": cloud}) == [
        FieldDiff("policy.Statement.0.Effect", "Allow", "Deny"),
    ]


def test_iam_other_account_principal_is_drift() -> None:
    cloud = json.loads(json.dumps(CLOUD_POLICY))
    cloud["Statement"]["Principal"]["AWS"] = ["arn:aws:iam::999999999999:root"]
    assert diff({"policy": STATE_POLICY}, {"policy": cloud}) == [
        FieldDiff("policy.Statement.0.Principal.AWS", [f"arn:aws:iam::{ACCOUNT}:root"],
                  ["arn:aws:iam::999999999999:root"]),
    ]


def test_iam_added_action_shows_only_the_new_action() -> None:
    cloud = json.loads(json.dumps(CLOUD_POLICY))
    cloud["Statement"]["Action"].append("s3:DeleteObject")
    assert diff({"policy": STATE_POLICY}, {"policy": cloud}) == [
        FieldDiff("policy.Statement.0.Action", [], ["s3:DeleteObject"]),
    ]


def test_iam_url_encoded_document_compares_as_data() -> None:
    assert diff({"policy": STATE_POLICY}, {"policy": quote(json.dumps(CLOUD_POLICY))}) == []


# --- cidr_forms --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "cloud"), [
    ("10.0.0.0/16", "10.0.12.7/16"),
    ("2001:db8::/32", "2001:DB8:0:0::/32"),
    ("fe80::/10", "FE80::/10"),
    ("::/0", "0:0::/0"),
])
def test_cidr_forms_are_equal(state: str, cloud: str) -> None:
    assert diff({"cidr_block": state}, {"cidr_block": cloud}) == []
    assert diff({"cidr_blocks": [state, "192.168.0.0/24"]}, {"cidr_blocks": ["192.168.0.9/24", cloud]}) == []


def test_other_network_is_drift() -> None:
    assert diff({"cidr_block": "10.0.0.0/16"}, {"cidr_block": "10.1.0.0/16"}) == [
        FieldDiff("cidr_block", "10.0.0.0/16", "10.1.0.0/16"),
    ]
    assert diff({"cidr_block": "10.0.0.0/16"}, {"cidr_block": "10.0.0.0/24"}) != []


def test_canonical_cidr() -> None:
    assert canonical_cidr("10.0.0.1/16") == "10.0.0.0/16"
    assert canonical_cidr("2001:DB8:0::/32") == "2001:db8::/32"
    assert canonical_cidr("10.0.0.0/33") is None
    assert canonical_cidr("sg-12345") is None
    assert canonical_cidr("10.0.0.0") is None


# --- azure_id_case -----------------------------------------------------------------------------------------

VNET_ID = ("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/RG-App/providers/"
           "Microsoft.Network/virtualNetworks/vnet-app")


def test_azure_ids_are_case_insensitive() -> None:
    assert diff({"virtual_network_id": VNET_ID}, {"virtual_network_id": VNET_ID.lower()}) == []
    assert same(VNET_ID, VNET_ID.replace("resourceGroups", "resourcegroups"))


def test_other_azure_resource_is_drift() -> None:
    other = VNET_ID.replace("vnet-app", "vnet-shared")
    assert diff({"virtual_network_id": VNET_ID}, {"virtual_network_id": other}) == [
        FieldDiff("virtual_network_id", VNET_ID, other),
    ]


def test_case_matters_outside_azure_ids() -> None:
    assert diff({"name": "App"}, {"name": "app"}) == [FieldDiff("name", "App", "app")]


# --- number_forms ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "cloud"), [("3600", 3600), (3600, "3600"), ("1.5", 1.5), ("-1", -1),
                                              (3600, 3600.0)])
def test_number_and_its_decimal_string_are_equal(state: Any, cloud: Any) -> None:
    assert diff({"ttl": state}, {"ttl": cloud}) == []


def test_other_number_is_drift() -> None:
    assert diff({"max_session_duration": "3600"}, {"max_session_duration": 7200}) == [
        FieldDiff("max_session_duration", "3600", 7200),
    ]


def test_numeric_looking_ids_are_not_numbers() -> None:
    # a leading zero is not a decimal number form: account ids and such stay text
    assert canonical("0123") == "0123"
    assert diff({"owner_id": "012345678901"}, {"owner_id": 12345678901}) != []


def test_version_strings_are_not_numbers() -> None:
    # OpenSearch/Elasticsearch 7.1 and 7.10 are different engine versions
    assert diff({"elasticsearch_version": "7.1"}, {"elasticsearch_version": "7.10"}) == [
        FieldDiff("elasticsearch_version", "7.1", "7.10"),
    ]


def test_large_integer_ids_keep_every_digit() -> None:
    assert not same("6915435315498326521", "6915435315498326522")


# --- set_ordering ------------------------------------------------------------------------------------------


def test_reordered_sets_are_equal() -> None:
    assert diff({"vpc_security_group_ids": ["sg-1", "sg-2", "sg-3"]},
                {"vpc_security_group_ids": ["sg-3", "sg-1", "sg-2"]}) == []
    assert diff({"blocks": [{"a": 1}, {"b": 2}]}, {"blocks": [{"b": 2}, {"a": 1}]}) == []


def test_set_change_shows_only_the_delta() -> None:
    assert diff({"vpc_security_group_ids": ["sg-1", "sg-2"]},
                {"vpc_security_group_ids": ["sg-2", "sg-9", "sg-1"]}) == [
        FieldDiff("vpc_security_group_ids", [], ["sg-9"]),
    ]
    assert diff({"vpc_security_group_ids": ["sg-1", "sg-2"]}, {"vpc_security_group_ids": ["sg-2", "sg-3"]}) == [
        FieldDiff("vpc_security_group_ids", ["sg-1"], ["sg-3"]),
    ]


def test_set_delta_counts_duplicates() -> None:
    assert diff(["a", "a", "b"], ["a", "b"], "x") == [FieldDiff("x", ["a"], [])]


def test_ordered_lists_report_a_reordering() -> None:
    assert diff(["first", "second"], ["second", "first"], "rules", ordered=lambda p: p == "rules") == [
        FieldDiff("rules", ["first", "second"], ["second", "first"]),
    ]


def test_ordered_lists_show_whole_lists_on_change() -> None:
    assert diff(["a", "b"], ["a", "c"], "rules", ordered=lambda p: p == "rules") == [
        FieldDiff("rules", ["a", "b"], ["a", "c"]),
    ]


# --- nested blocks -----------------------------------------------------------------------------------------


def test_single_nested_block_recurses_with_index_zero() -> None:
    state = {"root_block_device": [{"volume_size": 8, "volume_type": "gp3", "kms_key_id": ""}]}
    cloud = {"root_block_device": [{"volume_size": 20, "volume_type": "gp3", "kms_key_id": None}]}
    assert diff(state, cloud) == [FieldDiff("root_block_device.0.volume_size", 8, 20)]
    assert diff(state, {"root_block_device": [dict(state["root_block_device"][0])]}) == []


# --- tags_vs_tags_all --------------------------------------------------------------------------------------


def test_effective_tags_merge_default_tags() -> None:
    attrs = {"tags": {"Name": "main"}, "tags_all": {"Name": "main", "ManagedBy": "terraform"}}
    assert effective_tags(attrs) == {"Name": "main", "ManagedBy": "terraform"}
    # provider 5 writes tags null when only default_tags apply
    assert effective_tags({"tags": None, "tags_all": {"ManagedBy": "terraform"}}) == {"ManagedBy": "terraform"}
    assert effective_tags({"tags": {"Name": "x"}}) == {"Name": "x"}
    assert effective_tags({"tags": None}) == {}


def test_effective_tags_none_without_a_tags_attribute() -> None:
    assert effective_tags({"id": "x", "name": "y"}) is None


def test_effective_tags_against_the_cloud() -> None:
    attrs = {"tags": {"Name": "main"}, "tags_all": {"Name": "main", "ManagedBy": "terraform"}}
    cloud = {"Name": "main", "ManagedBy": "terraform"}
    assert diff({"tags": effective_tags(attrs)}, {"tags": cloud}) == []
    assert diff({"tags": effective_tags(attrs)}, {"tags": {**cloud, "ManagedBy": "console"}}) == [
        FieldDiff("tags.ManagedBy", "terraform", "console"),
    ]


# --- provider_defaults -------------------------------------------------------------------------------------


def test_provider_defaults_fill_null_attributes() -> None:
    attrs = {"name": "app", "path": None, "max_session_duration": None}
    filled = apply_provider_defaults("aws_iam_role", attrs)
    assert filled == {"name": "app", "path": "/", "max_session_duration": 3600}
    assert attrs["path"] is None  # the state's dict is not modified
    assert diff(filled, {"name": "app", "path": "/", "max_session_duration": 3600}) == []


def test_provider_defaults_do_not_hide_a_real_change() -> None:
    filled = apply_provider_defaults("aws_iam_role", {"path": None})
    assert diff(filled, {"path": "/service-role/"}) == [FieldDiff("path", "/", "/service-role/")]


def test_provider_defaults_only_for_their_type_and_null_values() -> None:
    attrs = {"path": None}
    assert apply_provider_defaults("aws_s3_bucket", attrs) is attrs
    set_attrs = {"path": "/ops/"}
    assert apply_provider_defaults("aws_iam_role", set_attrs) is set_attrs
    assert ("aws_iam_role", "path") in PROVIDER_DEFAULTS


# --- sensitive_values --------------------------------------------------------------------------------------


def test_sensitive_values_keep_the_diff_but_hide_the_values() -> None:
    assert diff({"user_data": "a"}, {"user_data": "b"}, sensitive=frozenset({"user_data"})) == [
        FieldDiff("user_data", SENSITIVE, SENSITIVE),
    ]
    # nothing sensitive to hide on an empty side: the user sees it was set or removed
    assert diff({"user_data": None}, {"user_data": "b"}, sensitive=frozenset({"user_data"})) == [
        FieldDiff("user_data", None, SENSITIVE),
    ]


def test_secret_looking_names_are_hidden_without_a_mark() -> None:
    assert diff({"master_password": "old"}, {"master_password": "new"}) == [
        FieldDiff("master_password", SENSITIVE, SENSITIVE),
    ]
    assert diff({"auth": [{"client_secret": "s1"}]}, {"auth": [{"client_secret": "s2"}]}) == [
        FieldDiff("auth.0.client_secret", SENSITIVE, SENSITIVE),
    ]


def test_a_sensitive_parent_hides_its_children() -> None:
    [d] = diff({"settings": [{"value": "a"}]}, {"settings": [{"value": "b"}]}, sensitive=frozenset({"settings"}))
    assert (d.path, d.expected, d.actual) == ("settings.0.value", SENSITIVE, SENSITIVE)
    assert sensitive_path("settings.0.value", frozenset({"settings"}))
    assert not sensitive_path("settings_other", frozenset({"settings"}))


def test_sensitive_equal_values_are_not_drift() -> None:
    assert diff({"user_data": "same"}, {"user_data": "same"}, sensitive=frozenset({"user_data"})) == []


def test_sensitive_paths_of_a_v4_instance() -> None:
    instance = {
        "schema_version": 0,
        "attributes": {"user_data": "x", "password": "y"},
        "sensitive_attributes": [
            [{"type": "get_attr", "value": "user_data"}],
            [{"type": "get_attr", "value": "password"}],
        ],
    }
    assert sensitive_paths_of(instance) == frozenset({"user_data", "password"})
    assert sensitive_paths_of({"attributes": {}}) == frozenset()
    assert sensitive_paths_of({"sensitive_attributes": None}) == frozenset()


def test_sensitive_field_inside_a_nested_block_stays_hidden() -> None:
    instance = {"sensitive_attributes": [[
        {"type": "get_attr", "value": "endpoint"},
        {"type": "index", "value": {"value": 0, "type": "number"}},
        {"type": "get_attr", "value": "url"},
    ]]}
    paths = sensitive_paths_of(instance)
    [d] = diff({"endpoint": [{"url": "https://old.internal"}]}, {"endpoint": [{"url": "https://new.internal"}]},
               sensitive=paths)
    assert (d.expected, d.actual) == (SENSITIVE, SENSITIVE)
