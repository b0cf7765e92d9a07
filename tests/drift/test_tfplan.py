"""Ingesting ``terraform show -json PLANFILE``: Terraform's own plan JSON fixtures, and everything that is
not a plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftmgr_tui.core.errors import StateFormatError
from driftmgr_tui.drift.tfplan import PlanDrift, PlanDriftEntry, parse_plan_json

SHOW_JSON = "command/testdata/show-json"
REFRESH_ONLY = "testing/equivalence-tests/outputs/drift_refresh_only"


def _parse(tf_fixtures: Path, rel: str) -> PlanDrift:
    path = tf_fixtures / rel
    return parse_plan_json(path.read_bytes(), source=str(path))


def test_drift_fixture(tf_fixtures: Path) -> None:
    plan = _parse(tf_fixtures, f"{SHOW_JSON}/drift/output.json")

    assert plan.format_version == "1.0"
    assert plan.terraform_version is None
    assert plan.errored is False
    # resource_changes also lists no_refresh (a planned update): only resource_drift is drift
    assert plan.entries == [
        PlanDriftEntry(
            address="test_instance.should_refresh", module="", mode="managed", type="test_instance",
            name="should_refresh", index=None, provider="registry.terraform.io/hashicorp/test",
            actions=("update",),
            before={"ami": "refresh-me", "id": "placeholder"}, after={"ami": "refreshed", "id": "placeholder"},
            before_sensitive={}, after_sensitive={}, deposed=None,
        )
    ]
    assert plan.prior_state_resources == 2
    assert plan.prior_state_instances == [
        ("test_instance.no_refresh", "test_instance", "placeholder", "registry.terraform.io/hashicorp/test"),
        ("test_instance.should_refresh", "test_instance", "placeholder", "registry.terraform.io/hashicorp/test"),
    ]


def test_moved_drift_fixture_keeps_the_previous_address(tf_fixtures: Path) -> None:
    plan = _parse(tf_fixtures, f"{SHOW_JSON}/moved-drift/output.json")

    [entry] = plan.entries
    assert entry.address == "test_instance.should_refresh_with_move"
    assert entry.previous_address == "test_instance.should_refresh"
    assert entry.actions == ("update",)
    assert (entry.before["ami"], entry.after["ami"]) == ("refresh-me", "refreshed")
    assert [a for a, *_ in plan.prior_state_instances] == [
        "test_instance.no_refresh", "test_instance.should_refresh_with_move",
    ]


def test_refresh_only_equivalence_fixture(tf_fixtures: Path) -> None:
    plan = _parse(tf_fixtures, f"{REFRESH_ONLY}/plan.json")

    assert plan.format_version == "1.2"
    assert plan.errored is False
    [entry] = plan.entries
    assert entry.address == "tfcoremock_simple_resource.drift"
    assert entry.type == "tfcoremock_simple_resource"
    assert entry.provider == "registry.terraform.io/hashicorp/tfcoremock"
    assert entry.actions == ("update",)
    # the human-readable plan shows: ~ string = "Hello, world!" -> "Hello, drift!"
    assert entry.before["string"] == "Hello, world!"
    assert entry.after["string"] == "Hello, drift!"
    assert entry.before["id"] == entry.after["id"] == "cb79269e-dc39-1e68-0a9c-63cb392afda9"
    assert plan.prior_state_instances == [(
        "tfcoremock_simple_resource.drift", "tfcoremock_simple_resource",
        "cb79269e-dc39-1e68-0a9c-63cb392afda9", "registry.terraform.io/hashicorp/tfcoremock",
    )]


def test_a_str_is_accepted_like_bytes(tf_fixtures: Path) -> None:
    path = tf_fixtures / f"{REFRESH_ONLY}/plan.json"
    assert parse_plan_json(path.read_text()) == parse_plan_json(path.read_bytes())


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        (f"{REFRESH_ONLY}/state.json", "looks like a state file (`terraform show -json` of a state)"),
        (f"{SHOW_JSON}/drift/terraform.tfstate", "looks like a state file, not a plan"),
        (f"{REFRESH_ONLY}/apply.json", "machine-readable log of a terraform command"),
    ],
    ids=["show-json-of-state", "raw-state", "json-log"],
)
def test_json_that_is_not_a_plan_says_what_it_is(tf_fixtures: Path, rel: str, expected: str) -> None:
    path = tf_fixtures / rel
    with pytest.raises(StateFormatError) as caught:
        parse_plan_json(path.read_bytes(), source=str(path))

    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "`terraform show -json PLANFILE`" in message


def test_human_readable_plan_output_is_not_json(tf_fixtures: Path) -> None:
    path = tf_fixtures / f"{REFRESH_ONLY}/plan"
    with pytest.raises(StateFormatError, match=r"plan: not valid JSON at line 1, column 1"):
        parse_plan_json(path.read_bytes(), source="plan")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "plan.json: empty input"),
        (b'{"format_version": "1.2", "planned_values": {}\n  "x": 1}', "plan.json: not valid JSON at line 2, column 3"),
        (b'{"format_version": "1.2", "resource_drift": [', "truncated"),
        (b"[1, 2]", "expected a JSON object at the top level, found a list"),
        (b'{"format_version": "2.0", "planned_values": {}}', "format_version: plan JSON format version 2.0 is newer"),
        (b'{"format_version": 1, "planned_values": {}}', "format_version: expected a string, found a number"),
        (b'{"format_version": "1.0", "provider_schemas": {}}', "`terraform providers schema -json` output"),
        (b'{"hello": "world"}', "not a Terraform plan (no \"format_version\")"),
        (b'{"format_version": "1.2", "resource_drift": [{"address": "a.b", "type": "a", "name": "b"}]}',
         "resource_drift[0].change: expected an object, found null"),
        (b'{"format_version": "1.2", "resource_drift": [{"address": "a.b", "type": "a", "name": "b", '
         b'"index": true, "change": {"actions": ["update"]}}]}',
         "resource_drift[0].index: expected a number or a string, found a boolean"),
    ],
    ids=["empty", "syntax", "truncated", "list", "major-2", "numeric-version", "schema", "other-json",
         "entry-without-change", "bool-index"],
)
def test_malformed_input(data: bytes, expected: str) -> None:
    with pytest.raises(StateFormatError) as caught:
        parse_plan_json(data, source="plan.json")
    assert expected in str(caught.value)


def test_no_drift_and_newer_minor_versions() -> None:
    plan = parse_plan_json(json.dumps({
        "format_version": "1.9", "terraform_version": "1.14.0", "planned_values": {"root_module": {}},
        "some_future_key": {"ignored": True}, "errored": True,
    }))
    assert plan.entries == []
    assert plan.prior_state_resources == 0
    assert plan.prior_state_instances == []
    assert plan.terraform_version == "1.14.0"
    assert plan.errored is True


def test_modules_indexes_deposed_and_sensitive_values() -> None:
    """Entries keep the module address, count/for_each key, deposed key and sensitivity masks; the
    prior state is walked through nested child modules, skipping data sources and deposed objects."""
    doc = {
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "planned_values": {"root_module": {}},
        "resource_drift": [
            {
                "address": 'module.net["eu"].aws_db_instance.main[0]', "module_address": 'module.net["eu"]',
                "mode": "managed", "type": "aws_db_instance", "name": "main", "index": 0,
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": {
                    "actions": ["update"], "before": {"password": "a", "port": 5432},
                    "after": {"password": "b", "port": 5433}, "after_unknown": {},
                    "before_sensitive": {"password": True}, "after_sensitive": {"password": True},
                },
            },
            {
                "address": 'aws_instance.web["blue"]', "mode": "managed", "type": "aws_instance", "name": "web",
                "index": "blue", "deposed": "00000001", "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": {"actions": ["delete"], "before": {"id": "i-1"}, "after": None,
                           "before_sensitive": False},
            },
        ],
        "prior_state": {
            "format_version": "1.0",
            "values": {"root_module": {
                "resources": [
                    {"address": 'aws_instance.web["blue"]', "mode": "managed", "type": "aws_instance",
                     "name": "web", "index": "blue", "provider_name": "registry.terraform.io/hashicorp/aws",
                     "values": {"id": "i-2"}},
                    {"address": 'aws_instance.web["blue"]', "mode": "managed", "type": "aws_instance",
                     "name": "web", "index": "blue", "deposed_key": "00000001",
                     "provider_name": "registry.terraform.io/hashicorp/aws", "values": {"id": "i-1"}},
                    {"address": "data.aws_region.here", "mode": "data", "type": "aws_region", "name": "here",
                     "provider_name": "registry.terraform.io/hashicorp/aws", "values": {"id": "us-east-1"}},
                ],
                "child_modules": [{
                    "address": 'module.net["eu"]',
                    "resources": [
                        {"address": 'module.net["eu"].aws_db_instance.main[0]', "mode": "managed",
                         "type": "aws_db_instance", "name": "main", "index": 0,
                         "provider_name": "registry.terraform.io/hashicorp/aws", "values": {"id": "db-1"}},
                    ],
                    "child_modules": [{
                        "address": 'module.net["eu"].module.sub',
                        "resources": [
                            {"address": 'module.net["eu"].module.sub.terraform_data.x', "mode": "managed",
                             "type": "terraform_data", "name": "x",
                             "provider_name": "terraform.io/builtin/terraform", "values": {"id": None}},
                        ],
                    }],
                }],
            }},
        },
    }
    plan = parse_plan_json(json.dumps(doc), source="nested")

    db, old_web = plan.entries
    assert (db.module, db.index, db.deposed) == ('module.net["eu"]', 0, None)
    assert db.before_sensitive == {"password": True} and db.after_sensitive == {"password": True}
    assert (old_web.module, old_web.index, old_web.deposed, old_web.actions) == ("", "blue", "00000001", ("delete",))
    assert old_web.after is None
    assert old_web.after_sensitive is False
    assert plan.prior_state_resources == 3
    assert plan.prior_state_instances == [
        ('aws_instance.web["blue"]', "aws_instance", "i-2", "registry.terraform.io/hashicorp/aws"),
        ('module.net["eu"].aws_db_instance.main[0]', "aws_db_instance", "db-1",
         "registry.terraform.io/hashicorp/aws"),
        ('module.net["eu"].module.sub.terraform_data.x', "terraform_data", "", "terraform.io/builtin/terraform"),
    ]


def test_integers_beyond_64_bits_stay_exact() -> None:
    big = 2**70 + 1
    doc = (
        '{"format_version": "1.2", "planned_values": {}, "resource_drift": [{"address": "a.b", "type": "a", '
        f'"name": "b", "change": {{"actions": ["update"], "before": {{"n": {big}}}, "after": {{"n": 1}}}}}}]}}'
    )
    [entry] = parse_plan_json(doc).entries
    assert entry.before == {"n": big}
