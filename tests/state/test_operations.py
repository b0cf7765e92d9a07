"""State operations on in-memory states: the `terraform state` semantics users rely on."""

from __future__ import annotations

import json

import pytest

from driftmgr_tui.core.errors import ResourceNotFoundError, UsageError
from driftmgr_tui.state import operations as ops
from driftmgr_tui.state.codec import read_state, write_state
from driftmgr_tui.state.model import StateFile

AWS = 'provider["registry.terraform.io/hashicorp/aws"]'


def _res(rtype: str, name: str, keys: list, module: str = "", mode: str = "managed", **inst_extra) -> dict:
    res = {"mode": mode, "type": rtype, "name": name, "provider": AWS, "instances": []}
    if module:
        res = {"module": module, **res}
    for key in keys:
        inst = {"schema_version": 0, "attributes": {"id": f"{name}-{key}"}, "sensitive_attributes": []}
        if key is not None:
            inst = {"index_key": key, **inst}
        inst.update(inst_extra)
        res["instances"].append(inst)
    return res


@pytest.fixture
def state() -> StateFile:
    doc = {
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": 4,
        "lineage": "0b7d7f6e-6f5e-4f45-9d1c-6d2b0c3a9e11",
        "outputs": {},
        "resources": [
            _res("aws_instance", "web", [0, 1]),
            _res("aws_s3_bucket", "logs", [None]),
            _res("aws_ami", "ubuntu", [None], mode="data"),
            _res("aws_subnet", "private", ["a", "b"], module='module.net["eu"]'),
            _res("aws_vpc", "main", [None], module='module.net["eu"]'),
            _res("aws_route", "r", [None], module='module.net["eu"].module.routes'),
        ],
        "check_results": None,
    }
    return read_state(json.dumps(doc).encode())


def test_list_filters(state: StateFile) -> None:
    addrs = [r.address for r in ops.list_instances(state)]
    assert addrs == [
        "aws_instance.web[0]",
        "aws_instance.web[1]",
        "aws_s3_bucket.logs",
        "data.aws_ami.ubuntu",
        'module.net["eu"].aws_subnet.private["a"]',
        'module.net["eu"].aws_subnet.private["b"]',
        'module.net["eu"].aws_vpc.main',
        'module.net["eu"].module.routes.aws_route.r',
    ]
    assert [r.address for r in ops.list_instances(state, types=["aws_vpc"])] == [
        'module.net["eu"].aws_vpc.main'
    ]
    assert len(ops.list_instances(state, module='module.net["eu"]')) == 4
    assert len(ops.list_instances(state, module="root")) == 4
    assert [r.address for r in ops.list_instances(state, patterns=["aws_s3_*"])] == ["aws_s3_bucket.logs"]
    assert len(ops.list_instances(state, patterns=["aws_instance.web"])) == 2
    assert len(ops.list_instances(state, patterns=['module.net["eu"].module.routes'])) == 1


def test_list_json_contract(state: StateFile) -> None:
    item = ops.instance_json(state.index['module.net["eu"].aws_subnet.private["a"]'])
    assert {"address", "type", "name", "module", "mode", "id"} <= set(item)
    assert item["module"] == 'module.net["eu"]' and item["id"] == "private-a" and item["mode"] == "managed"


def test_rm_instance_resource_and_module(state: StateFile) -> None:
    assert ops.remove(state, ["aws_instance.web[1]"]) == ["aws_instance.web[1]"]
    assert "aws_instance.web[0]" in state.index
    removed = ops.remove(state, ['module.net["eu"]'])
    assert len(removed) == 4
    assert not any(a.startswith("module.") for a in state.index)
    assert ops.remove(state, ["aws_instance.web"]) == ["aws_instance.web[0]"]
    assert state.find_resource("", "managed", "aws_instance", "web") is None


def test_rm_of_missing_address_changes_nothing(state: StateFile) -> None:
    before = write_state(state)
    with pytest.raises(ResourceNotFoundError, match=r"aws_instance\.nope"):
        ops.remove(state, ["aws_s3_bucket.logs", "aws_instance.nope"])
    assert write_state(state) == before


def test_mv_resource_into_module(state: StateFile) -> None:
    ops.move(state, "aws_instance.web", "module.app.aws_instance.server")
    assert "module.app.aws_instance.server[0]" in state.index
    assert "module.app.aws_instance.server[1]" in state.index
    assert "aws_instance.web[0]" not in state.index


def test_mv_instance_to_new_key_and_new_resource(state: StateFile) -> None:
    ops.move(state, "aws_instance.web[1]", "aws_instance.web[5]")
    assert "aws_instance.web[5]" in state.index
    ops.move(state, "aws_s3_bucket.logs", "aws_s3_bucket.archive[0]")
    assert "aws_s3_bucket.archive[0]" in state.index
    assert "aws_s3_bucket.logs" not in state.index
    ops.move(state, "aws_instance.web[0]", "aws_instance.single")
    assert state.index["aws_instance.single"].index_key is None


def test_mv_whole_module(state: StateFile) -> None:
    ops.move(state, 'module.net["eu"]', "module.network")
    assert "module.network.aws_vpc.main" in state.index
    assert "module.network.module.routes.aws_route.r" in state.index
    assert not any('"eu"' in a for a in state.index)


def test_mv_refusals(state: StateFile) -> None:
    with pytest.raises(UsageError, match="types differ"):
        ops.move(state, "aws_instance.web", "aws_s3_bucket.web")
    with pytest.raises(UsageError, match="already exists"):
        ops.move(state, "aws_instance.web[0]", "aws_instance.web[1]")
    with pytest.raises(ResourceNotFoundError):
        ops.move(state, "aws_instance.nope", "aws_instance.other")
    with pytest.raises(UsageError, match="into itself"):
        ops.move(state, 'module.net["eu"]', 'module.net["eu"].module.inner')
    with pytest.raises(UsageError, match="module"):
        ops.move(state, 'module.net["eu"]', "aws_instance.x")


def test_import_builds_a_terraform_shaped_instance(state: StateFile) -> None:
    ops.import_instance(state, "aws_iam_role.deploy", {"id": "deploy", "name": "deploy"})
    ref = state.index["aws_iam_role.deploy"]
    assert ref.provider == AWS
    assert ref.instance == {
        "schema_version": 0,
        "attributes": {"id": "deploy", "name": "deploy"},
        "sensitive_attributes": [],
    }
    with pytest.raises(UsageError, match="already exists"):
        ops.import_instance(state, "aws_iam_role.deploy", {"id": "x"})
    with pytest.raises(UsageError, match="id"):
        ops.import_instance(state, "aws_iam_role.other", {"name": "x"})
    with pytest.raises(UsageError, match="other keys"):
        ops.import_instance(state, 'aws_instance.web["x"]', {"id": "i-9"})
    ops.import_instance(state, "aws_instance.web[2]", {"id": "i-2"})
    assert [r.index_key for r in ops.list_instances(state, types=["aws_instance"])] == [0, 1, 2]


def test_show_redacts_sensitive_paths_and_secret_names() -> None:
    doc = {
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": 1,
        "lineage": "l",
        "outputs": {},
        "resources": [
            {
                "mode": "managed",
                "type": "aws_db_instance",
                "name": "db",
                "provider": AWS,
                "instances": [
                    {
                        "schema_version": 2,
                        "attributes": {
                            "id": "db-1",
                            "username": "admin",
                            "password": "hunter2",
                            "connection": {"dsn": "postgres://admin:hunter2@db"},
                            "port": 5432,
                        },
                        "sensitive_attributes": [
                            [
                                {"type": "get_attr", "value": "connection"},
                                {"type": "get_attr", "value": "dsn"},
                            ]
                        ],
                    }
                ],
            }
        ],
    }
    state = read_state(json.dumps(doc).encode())
    shown = ops.show_json(state.index["aws_db_instance.db"])
    assert "hunter2" not in json.dumps(shown)
    assert shown["attributes"]["port"] == 5432 and shown["attributes"]["username"] == "admin"
    revealed = ops.show_json(state.index["aws_db_instance.db"], reveal=True)
    assert revealed["attributes"]["password"] == "hunter2"
    # the state itself is never modified by redaction
    assert state.index["aws_db_instance.db"].attributes["password"] == "hunter2"


def test_validate_finds_real_problems() -> None:
    doc = {
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": 3,
        "lineage": "not-a-uuid",
        "outputs": {},
        "resources": [
            _res("aws_instance", "web", [0], dependencies=["aws_security_group.gone", "aws_vpc.main"]),
            _res("aws_instance", "web", [0]),
            _res("aws_vpc", "main", [None]),
            {**_res("aws_subnet", "mixed", [0, "a"])},
            {
                **_res("aws_eip", "ip", [None]),
                "provider": 'provider["registry.terraform.io/hashicorp/google"]',
            },
        ],
    }
    problems = ops.validate(read_state(json.dumps(doc).encode()))
    codes = {(p.severity, p.code) for p in problems}
    assert ("error", "duplicate-instance") in codes
    assert ("error", "mixed-instance-keys") in codes
    assert ("warning", "dangling-dependency") in codes
    assert ("warning", "provider-type-mismatch") in codes
    assert ("warning", "odd-lineage") in codes
    dangling = [p for p in problems if p.code == "dangling-dependency"]
    assert len(dangling) == 1 and "aws_security_group.gone" in dangling[0].message
    assert problems[0].severity == "error"


def test_validate_clean_state_has_no_errors(state: StateFile) -> None:
    assert [p for p in ops.validate(state) if p.severity == "error"] == []
