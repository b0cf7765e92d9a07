"""The v4 codec against Terraform's own spec: its round-trip fixtures, a file Terraform 1.11 wrote,
and the terraform binary itself where it is installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from driftmgr_tui.core.errors import StateFormatError
from driftmgr_tui.state.codec import read_state, write_state
from driftmgr_tui.state.providers import normalize_provider

DATA = Path(__file__).parent / "data"


def _roundtrip_cases() -> list[str]:
    from tests.conftest import TF_FIXTURES

    folder = TF_FIXTURES / "states/statefile/testdata/roundtrip"
    return sorted(p.name[: -len(".in.tfstate")] for p in folder.glob("*.in.tfstate")) or [
        "<fixtures missing>"
    ]


def _canonical(doc: dict, *, legacy: bool) -> dict:
    """What Terraform's own round-trip test compares: it reads both files through readStateV4, which
    normalises legacy provider strings and ignores the old instance ``depends_on`` key, and its writer
    sorts resources (stateV4.normalize). For upgraded v1-v3 input, the .out files carry the
    ``terraform_version`` of the binary that wrote them (write.go stamps it); we keep the input's."""
    doc = json.loads(json.dumps(doc))
    if legacy:
        doc.pop("terraform_version", None)
    for res in doc.get("resources", []):
        res["provider"] = normalize_provider(res["provider"]) or res["provider"]
        for inst in res.get("instances", []):
            inst.pop("depends_on", None)
    doc["resources"] = sorted(
        doc.get("resources", []), key=lambda r: (r.get("module", ""), r["mode"], r["type"], r["name"])
    )
    return doc


@pytest.mark.parametrize("name", _roundtrip_cases())
def test_roundtrip_matches_terraform_spec(tf_fixtures: Path, name: str) -> None:
    folder = tf_fixtures / "states/statefile/testdata/roundtrip"
    source = folder / f"{name}.in.tfstate"
    written = write_state(read_state(source.read_bytes(), path=str(source)))
    got = json.loads(written)
    want = json.loads((folder / f"{name}.out.tfstate").read_text())
    assert got["version"] == 4
    legacy = json.loads(source.read_text())["version"] < 4
    assert _canonical(got, legacy=legacy) == _canonical(want, legacy=legacy)


@pytest.mark.parametrize("name", ["v4-simple", "v4-cbd", "v4-foreach", "v4-future", "v4-legacy-foreach"])
def test_v4_roundtrip_is_literal(tf_fixtures: Path, name: str) -> None:
    """Where the .out file is literally what Terraform writes, no normalisation is needed at all."""
    folder = tf_fixtures / "states/statefile/testdata/roundtrip"
    got = json.loads(write_state(read_state((folder / f"{name}.in.tfstate").read_bytes())))
    assert got == json.loads((folder / f"{name}.out.tfstate").read_text())


def test_terraform_written_file_is_rewritten_byte_for_byte() -> None:
    """A state Terraform 1.11.4 wrote (terraform_data, for_each, count, a module, sensitive values,
    an HTML-escaped string and a number beyond 64 bits) comes back out byte-identical."""
    raw = (DATA / "terraform-1.11-written.tfstate").read_bytes()
    assert write_state(read_state(raw)) == raw


def test_integers_beyond_64_bits_stay_exact() -> None:
    raw = (DATA / "terraform-1.11-written.tfstate").read_bytes()
    state = read_state(raw)
    value = state.index["terraform_data.a"].attributes["input"]["value"]["list"][2]
    assert value == 10**20 and isinstance(value, int)


def test_bad_state_file_is_refused(tf_fixtures: Path) -> None:
    path = tf_fixtures / "states/statefile/testdata/bad-state-files/invalid-provider-for-resource.tfstate"
    with pytest.raises(StateFormatError) as info:
        read_state(path.read_bytes(), path=str(path))
    message = str(info.value)
    assert str(path) in message
    assert "resources[0].provider" in message
    assert "this is an invalid value for this field" in message


def test_unknown_fields_private_and_identity_are_preserved() -> None:
    doc = {
        "version": 4,
        "terraform_version": "1.12.0",
        "serial": 3,
        "lineage": "5d2d6a44-8d11-4a3c-9f0f-3f9c7f1f2a11",
        "outputs": {},
        "resources": [
            {
                "mode": "managed",
                "type": "aws_s3_bucket",
                "name": "logs",
                "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
                "instances": [
                    {
                        "schema_version": 0,
                        "attributes": {"id": "logs", "bucket": "logs"},
                        "sensitive_attributes": [],
                        "identity_schema_version": 0,
                        "identity": {"bucket": "logs", "region": "eu-west-1"},
                        "private": "eyJzY2hlbWFfdmVyc2lvbiI6IjAifQ==",
                        "future_instance_field": {"x": 1},
                    }
                ],
                "future_resource_field": True,
            },
            {
                "mode": "managed",
                "type": "aws_instance",
                "name": "web",
                "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
                "instances": [
                    {"status": "tainted", "schema_version": 1, "attributes": {"id": "i-1"}},
                    {"deposed": "00000001", "schema_version": 1, "attributes": {"id": "i-0"}},
                ],
            },
        ],
        "check_results": [
            {"object_kind": "resource", "config_addr": "aws_instance.web", "status": "pass", "objects": None}
        ],
        "future_top_field": "kept",
    }
    state = read_state(json.dumps(doc).encode())
    again = json.loads(write_state(state))
    assert again["future_top_field"] == "kept"
    bucket = next(r for r in again["resources"] if r["type"] == "aws_s3_bucket")
    assert bucket["future_resource_field"] is True
    inst = bucket["instances"][0]
    assert inst["private"] == "eyJzY2hlbWFfdmVyc2lvbiI6IjAifQ=="
    assert inst["identity"] == {"bucket": "logs", "region": "eu-west-1"}
    assert inst["future_instance_field"] == {"x": 1}
    assert again["check_results"] == doc["check_results"]
    web = next(r for r in again["resources"] if r["type"] == "aws_instance")
    assert [i.get("status") for i in web["instances"]] == ["tainted", None]
    assert web["instances"][1]["deposed"] == "00000001"
    # Terraform's order: sorted resources, struct field order inside instances.
    assert [r["type"] for r in again["resources"]] == ["aws_instance", "aws_s3_bucket"]
    assert list(inst)[:6] == [
        "schema_version",
        "attributes",
        "sensitive_attributes",
        "identity_schema_version",
        "identity",
        "private",
    ]
    assert state.index["aws_instance.web"].tainted
    assert [r.deposed for r in state.deposed_objects] == ["00000001"]


def _state_doc(**overrides) -> dict:
    doc = {
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": 1,
        "lineage": "5d2d6a44-8d11-4a3c-9f0f-3f9c7f1f2a11",
        "outputs": {},
        "resources": [
            {
                "mode": "managed",
                "type": "aws_instance",
                "name": "web",
                "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
                "instances": [{"schema_version": 1, "attributes": {"id": "i-1"}}],
            }
        ],
    }
    doc.update(overrides)
    return doc


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (lambda d: d.update(serial="7"), "serial", "non-negative integer"),
        (lambda d: d.update(lineage=5), "lineage", "a string"),
        (lambda d: d.update(resources={}), "resources", "an array"),
        (lambda d: d["resources"][0].update(mode="weird"), "resources[0].mode", "managed"),
        (lambda d: d["resources"][0].update(type=3), "resources[0].type", "non-empty string"),
        (
            lambda d: d["resources"][0]["instances"][0].update(index_key=1.5),
            "resources[0].instances[0].index_key",
            "instance key",
        ),
        (
            lambda d: d["resources"][0]["instances"][0].update(attributes=[1]),
            "resources[0].instances[0].attributes",
            "an object",
        ),
        (
            lambda d: d["resources"][0]["instances"][0].update(private="%%%"),
            "resources[0].instances[0].private",
            "base64",
        ),
        (
            lambda d: d["resources"][0]["instances"][0].update(status="broken"),
            "resources[0].instances[0].status",
            "tainted",
        ),
        (
            lambda d: d["resources"][0]["instances"][0].update(dependencies="aws_vpc.main"),
            "resources[0].instances[0].dependencies",
            "array",
        ),
        (lambda d: d["resources"][0].update(module="module.[x"), "resources[0].module", "module path"),
        (lambda d: d.update(outputs={"o": {"value": 1}}), "outputs.o", "type"),
    ],
)
def test_wrong_field_types_name_file_and_field(mutate, field: str, words: str) -> None:
    doc = _state_doc()
    mutate(doc)
    with pytest.raises(StateFormatError) as info:
        read_state(json.dumps(doc).encode(), path="prod.tfstate")
    assert info.value.field == field
    assert str(info.value).startswith(f"prod.tfstate: {field}: ")
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"", "empty"),
        (b'{"version": 4, "serial": 1,', "truncated"),
        (b'{"version": 4, "serial": ]}', "line 1"),
        (b"[1, 2]", "JSON object"),
        (b'{"serial": 1}', "version"),
        (b'{"version": 5, "serial": 1}', "newer"),
        (b'{"version": "4"}', "integer"),
        (b"\xff\xfe{}", "UTF-8"),
        (b'{"version": 0}', "version 0"),
    ],
)
def test_malformed_input_is_a_clear_error(raw: bytes, words: str) -> None:
    with pytest.raises(StateFormatError) as info:
        read_state(raw, path="broken.tfstate")
    assert "broken.tfstate" in str(info.value)
    assert words in str(info.value)


def test_duplicate_instances_are_reported_not_hidden() -> None:
    doc = _state_doc()
    doc["resources"].append(json.loads(json.dumps(doc["resources"][0])))
    state = read_state(json.dumps(doc).encode())
    assert [p.code for p in state.problems] == ["duplicate-instance"]


# --------------------------------------------------------------------------- against terraform itself


def _terraform() -> str:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform is not on PATH; the default path never needs it")
    return binary


def test_terraform_accepts_files_we_wrote(tmp_path: Path, tf_fixtures: Path) -> None:
    """`terraform state list -state=FILE` reads what we wrote and lists the addresses we list."""
    binary = _terraform()
    cfg = tmp_path / "cli.tfrc"
    cfg.write_text("")
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(cfg), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    sources = [DATA / "terraform-1.11-written.tfstate"]
    sources += sorted((tf_fixtures / "states/statefile/testdata/roundtrip").glob("v4-*.in.tfstate"))
    for source in sources:
        state = read_state(source.read_bytes(), path=str(source))
        out = tmp_path / f"{source.name}.ours.tfstate"
        out.write_bytes(write_state(state))
        proc = subprocess.run(
            [binary, "state", "list", f"-state={out}"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )
        assert proc.returncode == 0, f"{source.name}: {proc.stderr}"
        theirs = sorted(proc.stdout.split())
        ours = sorted(state.index)
        assert theirs == ours, source.name
