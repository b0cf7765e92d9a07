"""Legacy state upgrade (formats 1-3 -> 4) against Terraform's own roundtrip fixtures, plus errors."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftmgr_tui.core.errors import StateFormatError
from driftmgr_tui.state.legacy import upgrade_to_v4

ROUNDTRIP_SUBDIR = Path("states/statefile/testdata/roundtrip")
# Same location as the tf_fixtures fixture (tests/conftest.py), needed here at collection time.
_ROUNDTRIP = (
    Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "terraform" / ROUNDTRIP_SUBDIR
)


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"), parse_int=int)


def _legacy_fixture_names() -> list[str]:
    if not _ROUNDTRIP.is_dir():
        return []
    return [
        path.name.removesuffix(".in.tfstate")
        for path in sorted(_ROUNDTRIP.glob("*.in.tfstate"))
        if _load(path).get("version") in (1, 2, 3)
    ]


LEGACY_FIXTURES = _legacy_fixture_names()


# Where a .out file differs from what Terraform's upgrade produces, the single documented reason.


def _v4_reader_ignores_instance_depends_on(got: dict, want: dict, raw: dict) -> None:
    """The .out files were written by Terraform 0.12, whose v3 upgrade still copied each resource's
    depends_on into its instances. Today's upgradeStateV3ToV4 (version3_upgrade.go) writes no
    dependencies, and the v4 reader never sees the old key: prepareStateV4 (version4.go) decodes
    instances into instanceObjectStateV4, which has no depends_on field, so encoding/json drops it."""
    for resource in got["resources"]:
        for instance in resource["instances"]:
            assert "depends_on" not in instance and "dependencies" not in instance
    for resource in want["resources"]:
        for instance in resource["instances"]:
            instance.pop("depends_on", None)


def _canonical_provider(address: str) -> str:
    """addrs.ParseLegacyAbsProviderConfigStr followed by AbsProviderConfig.String()."""
    steps = address.split(".")
    if "provider" not in steps:
        return address  # already provider["host/namespace/type"]
    at = steps.index("provider")
    provider_type = steps[at + 1]
    source = (
        "terraform.io/builtin/terraform"
        if provider_type == "terraform"
        else f"registry.terraform.io/-/{provider_type}"
    )
    return ".".join([*steps[:at], f'provider["{source}"]', *steps[at + 2 :]])


def _v4_reader_parses_legacy_provider_strings(got: dict, want: dict, raw: dict) -> None:
    """upgradeStateV3ToV4 writes AbsProviderConfig.LegacyString() ("provider.null"). prepareStateV4
    (version4.go) reads that with addrs.ParseLegacyAbsProviderConfigStr once ParseAbsProviderConfigStr
    rejects it, so it means provider["registry.terraform.io/-/null"], the form this .out file holds."""
    for resource in [*got["resources"], *want["resources"]]:
        resource["provider"] = _canonical_provider(resource["provider"])


def _out_file_stamped_by_statefile_write(got: dict, want: dict, raw: dict) -> None:
    """Not a v4 reader normalisation: this .out file was written by statefile.Write (write.go),
    which stamps the writing binary's version (0.12.28) on every snapshot. upgradeStateV3ToV4 keeps
    the file's own terraform_version. Terraform's TestRoundtrip cannot see the difference because
    go-test/deep ignores the unexported fields of version.Version."""
    assert got["terraform_version"] == raw["terraform_version"]
    want["terraform_version"] = got["terraform_version"]


Adjustment = Callable[[dict, dict, dict], None]

ADJUSTMENTS: dict[str, tuple[Adjustment, ...]] = {
    "v1-simple": (_v4_reader_ignores_instance_depends_on, _v4_reader_parses_legacy_provider_strings),
    "v3-bigint": (_v4_reader_ignores_instance_depends_on,),
    "v3-builtin": (_out_file_stamped_by_statefile_write,),
    "v3-grabbag": (_v4_reader_ignores_instance_depends_on,),
    "v3-invalid-depends": (_v4_reader_ignores_instance_depends_on,),
    "v3-simple": (_v4_reader_ignores_instance_depends_on,),
}


def _roundtrip_case(tf_fixtures: Path, name: str) -> tuple[dict, dict, dict]:
    directory = tf_fixtures / ROUNDTRIP_SUBDIR
    raw = _load(directory / f"{name}.in.tfstate")
    want = _load(directory / f"{name}.out.tfstate")
    got = upgrade_to_v4(copy.deepcopy(raw), path=str(directory / f"{name}.in.tfstate"))
    return raw, got, want


def test_every_legacy_fixture_is_covered(tf_fixtures: Path) -> None:
    assert LEGACY_FIXTURES, "no legacy (format 1-3) fixtures found"
    assert set(LEGACY_FIXTURES) == set(ADJUSTMENTS)


@pytest.mark.parametrize("name", LEGACY_FIXTURES)
def test_roundtrip_fixture(tf_fixtures: Path, name: str) -> None:
    raw, got, want = _roundtrip_case(tf_fixtures, name)
    for adjust in ADJUSTMENTS.get(name, ()):
        adjust(got, want, raw)
    assert got == want


@pytest.mark.parametrize("name", LEGACY_FIXTURES)
def test_each_adjustment_is_needed(tf_fixtures: Path, name: str) -> None:
    raw, got, want = _roundtrip_case(tf_fixtures, name)
    adjustments = ADJUSTMENTS.get(name, ())
    for skipped in adjustments:
        trial_got, trial_want = copy.deepcopy(got), copy.deepcopy(want)
        for adjust in adjustments:
            if adjust is not skipped:
                adjust(trial_got, trial_want, raw)
        assert trial_got != trial_want, f"{skipped.__name__} is not needed for {name}"


def test_bigint_fixture_keeps_integers(tf_fixtures: Path) -> None:
    raw = _load(tf_fixtures / ROUNDTRIP_SUBDIR / "v3-bigint.in.tfstate")
    assert raw["backend"]["hash"] == 10669755453527594976  # beyond int64, read as a Python int
    got = upgrade_to_v4(raw)
    assert "backend" not in got


# ------------------------------------------------------------------------------------------
# Behaviour of Terraform's upgrade, case by case


def _state(resources: dict, *, version: int = 3, outputs: dict | None = None, modules: tuple = ()) -> dict:
    return {
        "version": version,
        "terraform_version": "0.11.14",
        "serial": 7,
        "lineage": "f2968801-fa14-41ab-a044-224f3a4adf04",
        "modules": [
            {"path": ["root"], "outputs": outputs or {}, "resources": resources, "depends_on": []},
            *modules,
        ],
    }


def _instance(
    id_: str = "i-1", *, tainted: bool = False, meta: dict | None = None, **attributes: str
) -> dict:
    return {"id": id_, "attributes": {"id": id_, **attributes}, "meta": meta or {}, "tainted": tainted}


def _resource(
    primary: dict | None, *, deposed: tuple = (), provider: str = "", depends_on: tuple = ()
) -> dict:
    return {
        "type": "ignored",
        "depends_on": list(depends_on),
        "primary": primary,
        "deposed": list(deposed),
        "provider": provider,
    }


def _private(instance: dict) -> str:
    return base64.b64decode(instance["private"]).decode("utf-8")


def test_tainted_and_deposed_objects() -> None:
    raw = _state(
        {
            "aws_instance.web": _resource(
                _instance("i-new", tainted=True),
                deposed=(_instance("i-old1"), _instance("i-old2", tainted=True)),
            )
        }
    )
    (resource,) = upgrade_to_v4(raw)["resources"]
    assert resource["instances"] == [
        {"status": "tainted", "schema_version": 0, "attributes_flat": {"id": "i-new"}},
        {"deposed": "00000001", "schema_version": 0, "attributes_flat": {"id": "i-old1"}},
        {
            "status": "tainted",
            "deposed": "00000002",
            "schema_version": 0,
            "attributes_flat": {"id": "i-old2"},
        },
    ]


def test_resource_without_primary_keeps_deposed_objects_only() -> None:
    raw = _state({"aws_instance.web": _resource(None, deposed=(_instance("i-old"),))})
    (resource,) = upgrade_to_v4(raw)["resources"]
    assert resource["instances"] == [
        {"deposed": "00000001", "schema_version": 0, "attributes_flat": {"id": "i-old"}}
    ]


def test_count_keys_and_data_resources() -> None:
    raw = _state(
        {
            "null_resource.bar.1": _resource(_instance("b1")),
            "null_resource.bar.0": _resource(_instance("b0")),
            "data.aws_ami.ubuntu": _resource(_instance("ami-1")),
            "data.aws_ami.pick.2": _resource(_instance("ami-2")),
            "null_resource.octal.010": _resource(_instance("o")),  # strconv.ParseInt(s, 0, 0)
        }
    )
    resources = upgrade_to_v4(raw)["resources"]
    summary = [
        (r["mode"], r["type"], r["name"], r.get("each"), [i.get("index_key") for i in r["instances"]])
        for r in resources
    ]
    assert summary == [
        ("data", "aws_ami", "pick", "list", [2]),
        ("data", "aws_ami", "ubuntu", None, [None]),
        ("managed", "null_resource", "bar", "list", [0, 1]),
        ("managed", "null_resource", "octal", "list", [8]),
    ]
    assert all(r["provider"] in ("provider.aws", "provider.null") for r in resources)


def test_provider_strings_keep_the_legacy_form() -> None:
    child_resources = {
        "aws_instance.implied": _resource(_instance()),
        "aws_instance.compact": _resource(_instance(), provider="aws.east"),
        "aws_instance.absolute": _resource(_instance(), provider="module.child.provider.aws"),
        "aws_instance.rooted": _resource(_instance(), provider="provider.aws.west"),
    }
    raw = _state(
        {
            "terraform_remote_state.builtin": _resource(_instance(), provider="provider.terraform"),
            "google_compute_instance.vm": _resource(_instance()),
        },
        modules=({"path": ["root", "child"], "outputs": {}, "resources": child_resources},),
    )
    providers = {(r.get("module", ""), r["name"]): r["provider"] for r in upgrade_to_v4(raw)["resources"]}
    assert providers == {
        ("", "builtin"): "provider.terraform",
        ("", "vm"): "provider.google",
        ("module.child", "implied"): "module.child.provider.aws",
        ("module.child", "compact"): "module.child.provider.aws.east",
        ("module.child", "absolute"): "module.child.provider.aws",
        ("module.child", "rooted"): "provider.aws.west",
    }


def test_schema_version_and_private_meta() -> None:
    meta = {
        "schema_version": "2",
        "e2bfb730-ecaa-11e6-8f88-34363bc7c4c0": {"create": 600000000000, "delete": 1.0},
        "note": "<a&b>",
    }
    raw = _state(
        {
            "aws_instance.a": _resource(_instance(meta=meta)),
            "aws_instance.b": _resource(_instance(meta={"schema_version": 3})),
            "aws_instance.c": _resource(_instance(meta={"schema_version": "v3"})),
        }
    )
    a, b, c = (r["instances"][0] for r in upgrade_to_v4(raw)["resources"])
    assert a["schema_version"] == 2
    # encoding/json.Marshal: sorted keys, float64 formatting, HTML-safe escapes.
    assert _private(a) == (
        '{"e2bfb730-ecaa-11e6-8f88-34363bc7c4c0":{"create":600000000000,"delete":1},'
        '"note":"\\u003ca\\u0026b\\u003e"}'
    )
    assert b["schema_version"] == 3 and "private" not in b
    assert c["schema_version"] == 0 and _private(c) == '{"schema_version":"v3"}'


def test_outputs_take_their_type_from_the_value() -> None:
    outputs = {
        "s": {"sensitive": False, "type": "string", "value": "x"},
        "l": {"sensitive": False, "type": "list", "value": ["a", "b"]},
        "m": {"sensitive": True, "type": "map", "value": {"k": "v"}},
        "empty_list": {"sensitive": False, "type": "list", "value": []},
        "empty_map": {"sensitive": False, "type": "map", "value": {}},
        "mixed": {"sensitive": False, "type": "list", "value": ["a", 1]},
        "nested": {"sensitive": False, "type": "list", "value": [{"a": "b"}, {"a": "d"}]},
        # Element types are compared before they are simplified: object({a}) != object({c}).
        "ragged": {"sensitive": False, "type": "list", "value": [{"a": "b"}, {"c": "d"}]},
        "n": {"sensitive": False, "type": "string", "value": None},
    }
    child = {"path": ["root", "child"], "outputs": {"dropped": {"value": "x"}}, "resources": {}}
    got = upgrade_to_v4(_state({}, outputs=outputs, modules=(child,)))["outputs"]
    assert got == {
        "s": {"type": "string", "value": "x"},
        "l": {"type": ["list", "string"], "value": ["a", "b"]},
        "m": {"type": ["map", "string"], "value": {"k": "v"}, "sensitive": True},
        "empty_list": {"type": ["tuple", []], "value": []},
        "empty_map": {"type": ["object", {}], "value": {}},
        "mixed": {"type": ["tuple", ["string", "number"]], "value": ["a", 1]},
        "nested": {"type": ["list", ["map", "string"]], "value": [{"a": "b"}, {"a": "d"}]},
        "ragged": {
            "type": ["tuple", [["object", {"a": "string"}], ["object", {"c": "string"}]]],
            "value": [{"a": "b"}, {"c": "d"}],
        },
        "n": {"type": "dynamic", "value": None},
    }


def test_integers_beyond_64_bits_stay_exact() -> None:
    big = 2**70 + 1
    raw = _state(
        {"aws_instance.a": _resource(_instance(meta={"big": big}))},
        outputs={"big": {"sensitive": False, "type": "string", "value": big}},
    )
    got = upgrade_to_v4(raw)
    assert got["outputs"]["big"] == {"type": "number", "value": big}
    assert type(got["outputs"]["big"]["value"]) is int
    assert _private(got["resources"][0]["instances"][0]) == f'{{"big":{big}}}'


def test_depends_on_is_dropped() -> None:
    raw = _state(
        {
            "aws_instance.a": _resource(
                _instance(), depends_on=("aws_vpc.main", "module.x.aws_y.z", "1invalid")
            )
        }
    )
    (instance,) = upgrade_to_v4(raw)["resources"][0]["instances"]
    assert set(instance) == {"schema_version", "attributes_flat"}


def test_first_class_id_fills_a_missing_id_attribute() -> None:
    raw = _state(
        {
            "aws_instance.a": _resource({"id": "i-1", "attributes": {"ami": "x"}}),
            "aws_instance.b": _resource({"id": "", "attributes": {}}),
        }
    )
    a, b = (r["instances"][0] for r in upgrade_to_v4(raw)["resources"])
    assert a["attributes_flat"] == {"ami": "x", "id": "i-1"}
    assert "attributes_flat" not in b  # omitempty


def test_version_2_collection_counts() -> None:
    attributes = {
        "tags.#": "2",
        "tags.Name": "web",
        "tags.Env": "prod",
        "list.#": "2",
        "list.0": "a",
        "list.1": "b",
        "empty.#": "0",
    }
    primary = {"id": "i-1", "attributes": {"id": "i-1", **attributes}}
    v2 = upgrade_to_v4(_state({"aws_instance.a": _resource(primary)}, version=2))
    assert v2["resources"][0]["instances"][0]["attributes_flat"] == {
        "id": "i-1",
        "tags.%": "2",
        "tags.Name": "web",
        "tags.Env": "prod",
        "list.#": "2",
        "list.0": "a",
        "list.1": "b",
    }
    v3 = upgrade_to_v4(_state({"aws_instance.a": _resource(primary)}, version=3))
    assert v3["resources"][0]["instances"][0]["attributes_flat"] == {"id": "i-1", **attributes}


def test_version_1_specifics() -> None:
    raw = {
        "version": 1,
        "serial": 3,
        "remote": {"type": "s3", "config": {"bucket": "b"}},
        "modules": [
            {
                "outputs": {"ip": "10.0.0.1"},
                "resources": {
                    "aws_instance.web": {
                        "type": "aws_instance",
                        "primary": {
                            "id": "i-1",
                            "attributes": {"id": "i-1"},
                            "meta": {"schema_version": "1"},
                        },
                        "tainted": [{"id": "i-gone"}],
                        "deposed": [{"id": "i-old"}],
                        "provider": "aws.west",
                    }
                },
            }
        ],
    }
    assert upgrade_to_v4(raw) == {
        "version": 4,
        "terraform_version": "0.0.0",
        "serial": 3,
        "lineage": "",
        "outputs": {"ip": {"type": "string", "value": "10.0.0.1"}},
        "resources": [
            {
                "mode": "managed",
                "type": "aws_instance",
                "name": "web",
                "provider": "provider.aws.west",
                "instances": [
                    {"schema_version": 1, "attributes_flat": {"id": "i-1"}},
                    {"deposed": "00000001", "schema_version": 0, "attributes_flat": {"id": "i-old"}},
                ],
            }
        ],
    }


def test_input_is_not_modified() -> None:
    raw = _state(
        {"aws_instance.a": _resource({"id": "i-1", "attributes": {"tags.#": "1", "tags.a": "b"}})}, version=2
    )
    before = copy.deepcopy(raw)
    upgrade_to_v4(raw)
    assert raw == before


# ------------------------------------------------------------------------------------------
# Errors: always StateFormatError, naming the file and the JSON field

FILE = "/srv/states/prod/terraform.tfstate"


def _error(raw: Any) -> StateFormatError:
    with pytest.raises(StateFormatError) as caught:
        upgrade_to_v4(raw, path=FILE)
    err = caught.value
    assert err.path == FILE and FILE in str(err)
    if err.field:
        assert err.field in str(err)
    return err


def test_version_0_is_rejected() -> None:
    err = _error({"version": 0, "modules": []})
    assert err.field == "version"
    assert "version 0" in str(err) and "binary" in str(err)


def test_unknown_version_is_rejected() -> None:
    err = _error({"version": 5, "terraform_version": "1.99.0"})
    assert err.field == "version"
    assert "version 5" in str(err) and "1.99.0" in str(err)


def test_version_4_is_not_a_legacy_format() -> None:
    assert "version 4" in str(_error({"version": 4, "resources": []}))


@pytest.mark.parametrize("version", [None, "3", 3.0, -1, True])
def test_missing_or_malformed_version(version: Any) -> None:
    raw = {"modules": []} if version is None else {"version": version, "modules": []}
    assert _error(raw).field == "version"


def test_state_must_be_an_object() -> None:
    assert "object" in str(_error([{"version": 3}]))


def test_modules_not_a_list() -> None:
    err = _error({"version": 3, "modules": {"path": ["root"]}})
    assert err.field == "modules"
    assert "expected an array" in str(err)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("root", "modules[1].path"),
        (["root", 3], "modules[1].path[1]"),
        (["root", "bad name"], "modules[1].path[1]"),
    ],
)
def test_bad_module_path(path: Any, field: str) -> None:
    raw = _state({}, modules=({"path": path, "resources": {}},))
    assert _error(raw).field == field


def test_module_path_must_start_at_root() -> None:
    raw = _state({}, modules=({"path": ["child"], "resources": {}},))
    assert _error(raw).field == "modules[1].path"


def test_primary_not_an_object() -> None:
    raw = _state({}, modules=({"path": ["root", "x"], "resources": {"aws_x.y": {"primary": ["i-1"]}}},))
    err = _error(raw)
    assert err.field == 'modules[1].resources["aws_x.y"].primary'
    assert "expected an object" in str(err)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_attribute_values_must_be_strings(version: int) -> None:
    raw = _state({"aws_x.y": {"primary": {"id": "i", "attributes": {"count": 2}}}}, version=version)
    assert _error(raw).field == 'modules[0].resources["aws_x.y"].primary.attributes["count"]'


@pytest.mark.parametrize("version", [1, 2, 3])
def test_null_entries_terraform_would_crash_on(version: int) -> None:
    assert _error({"version": version, "modules": [None]}).field == "modules[0]"
    assert _error(_state({"aws_x.y": None}, version=version)).field == 'modules[0].resources["aws_x.y"]'
    deposed = _state({"aws_x.y": {"primary": None, "deposed": [None]}}, version=version)
    assert _error(deposed).field == 'modules[0].resources["aws_x.y"].deposed[0]'


@pytest.mark.parametrize(
    "address", ["aws_instance", "a.b.c.d", "aws_instance.web.x", "data.a.b.9999999999999999999999"]
)
def test_bad_resource_address(address: str) -> None:
    err = _error(_state({address: _resource(_instance())}))
    assert err.field == f"modules[0].resources[{json.dumps(address)}]"


@pytest.mark.parametrize(
    ("provider", "fragment"),
    [
        ("provider.aws.${var.region}", "template interpolation"),
        ("module.a[0].provider.aws", "module indexes"),
        ("aws[0]", "invalid legacy provider config reference"),
    ],
)
def test_bad_provider_reference(provider: str, fragment: str) -> None:
    err = _error(_state({"aws_x.y": _resource(_instance(), provider=provider)}))
    assert err.field == 'modules[0].resources["aws_x.y"].provider'
    assert fragment in str(err)


def test_negative_serial() -> None:
    raw = _state({})
    raw["serial"] = -1
    assert _error(raw).field == "serial"


def test_output_number_beyond_float64() -> None:
    raw = _state({}, outputs={"huge": {"value": 10**400}})
    assert _error(raw).field == 'modules[0].outputs["huge"].value'


def test_backend_hash_must_fit_uint64() -> None:
    raw = _state({})
    raw["backend"] = {"hash": 2**64}
    assert _error(raw).field == "backend.hash"


# Anything at all: a dict or StateFormatError, never KeyError/TypeError.

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
_instances = _json | st.fixed_dictionaries(
    {},
    optional={
        "id": _json | st.text(max_size=4),
        "attributes": _json
        | st.dictionaries(st.sampled_from(["id", "a.#", "a.0", "a.b", "a."]), st.text(max_size=2)),
        "meta": _json | st.dictionaries(st.just("schema_version"), _json),
        "tainted": _json,
    },
)
_providers = st.sampled_from(
    [
        "",
        "provider.aws",
        "aws.x",
        "aws.x[0]",
        "module.a.provider.b.c",
        "provider.${x}",
        "module[0].x",
        "provider.",
    ]
)
_resources = _json | st.fixed_dictionaries(
    {},
    optional={
        "primary": _instances,
        "deposed": _json | st.lists(_instances, max_size=2),
        "provider": _json | _providers,
        "depends_on": _json,
    },
)
_modules = _json | st.fixed_dictionaries(
    {},
    optional={
        "path": _json | st.sampled_from([["root"], ["root", "child"], [], ["root", "a b"]]),
        "outputs": _json
        | st.dictionaries(st.text(max_size=3), _json | st.fixed_dictionaries({"value": _json})),
        "resources": _json
        | st.dictionaries(
            st.sampled_from(["a.b", "a.b.0", "a.b.0x1", "data.a.b", "data.a.b.1", "a", "a.b.c.d"])
            | st.text(max_size=6),
            _resources,
            max_size=3,
        ),
    },
)
_states = st.fixed_dictionaries(
    {"version": st.sampled_from([1, 2, 3])},
    optional={
        "serial": _json,
        "lineage": _json,
        "terraform_version": _json,
        "modules": _json | st.lists(_modules, max_size=3),
    },
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_states)
def test_only_state_format_errors_escape(raw: dict) -> None:
    try:
        result = upgrade_to_v4(raw, path=FILE)
    except StateFormatError as err:
        assert FILE in str(err)
    else:
        assert json.loads(json.dumps(result)) == result
