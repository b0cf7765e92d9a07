"""Terraform address parsing and printing: canonical forms, containment, errors, the state fast path."""

from __future__ import annotations

import copy
import json
import os
import pickle
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftmgr_tui.core.errors import AddressError
from driftmgr_tui.state.address import (
    NO_KEY,
    Address,
    ModuleStep,
    format_key,
    instance_address,
    parse_address,
    parse_module_path,
)

# Canonical forms: parse then print gives back the same text.
CANONICAL = [
    "aws_instance.web",
    "aws_instance.web[0]",
    "aws_instance.web[12345]",
    'aws_instance.web["a b"]',
    'aws_instance.web[""]',
    "data.aws_ami.ubuntu",
    'data.aws_ami.ubuntu["x"]',
    'module.a["k"].module.b[0].aws_x.y["z"]',
    "module.a.data.aws_x.y",
    "module.a",
    "module.a[1]",
    'module.a["k"]',
    'module.a["k"].module.b',
    "module.a.module.b.module.c.aws_x.y[3]",
    r'aws_x.y["a\"b"]',
    r'aws_x.y["back\\slash"]',
    r'aws_x.y["\n\r\t"]',
    'aws_x.y["é😀 ünïcode"]',
    'aws_x.y["日本語"]',
    r'aws_x.y["\u0000\u007f\u0085\u00a0\u200b\u2028\ufeff"]',
    r'aws_x.y["\U000e0001"]',
    'aws_x.y["$${x}"]',
    'aws_x.y["%%{y}"]',
    'aws_x.y["$$${z}"]',
    'aws_x.y["$$ %% $ % {}"]',
    'aws_x.y["[0].module.x"]',
    "aws-x.y-z_1",
    "_x._y",
    "aws_x.café",
    "module.data.aws_x.y",
    "module.module.aws_x.module",
    "data.data.data",
    "aws_x.data",
    "Module.a",
]


@pytest.mark.parametrize("text", CANONICAL)
def test_canonical_round_trip(text: str) -> None:
    addr = parse_address(text)
    assert str(addr) == text
    assert parse_address(str(addr)) == addr


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("  aws_x.y\t", "aws_x.y"),
        ("\naws_x.y[0]\n", "aws_x.y[0]"),
        ("aws_x.y[007]", "aws_x.y[7]"),
        ("aws_x.y[1e2]", "aws_x.y[100]"),
        ("aws_x.y[7.0]", "aws_x.y[7]"),
        ("aws_x.y[70e-1]", "aws_x.y[7]"),
        ("aws_x.y[9223372036854775807]", "aws_x.y[9223372036854775807]"),
        ("resource.aws_x.y", "aws_x.y"),
        ("module.a.resource.aws_x.y[1]", "module.a.aws_x.y[1]"),
        ("resource.count.x", "count.x"),
        ('aws_x.y["\\u0041\\U0001F600"]', 'aws_x.y["A😀"]'),
        ('aws_x.y["\\u000a"]', 'aws_x.y["\\n"]'),
        ('aws_x.y["a\tb"]', 'aws_x.y["a\\tb"]'),
        ('aws_x.y["\x01"]', 'aws_x.y["\\u0001"]'),
        ('aws_x.y["$$"]', 'aws_x.y["$$"]'),
        ('module.a[01].aws_x.y["$${"]', 'module.a[1].aws_x.y["$${"]'),
    ],
)
def test_non_canonical_input_is_normalised(text: str, canonical: str) -> None:
    assert str(parse_address(text)) == canonical


def test_parsed_structure() -> None:
    addr = parse_address('module.a["k"].module.b[0].data.aws_x.y["z"]')
    assert addr == Address(
        module=(ModuleStep("a", "k"), ModuleStep("b", 0)), mode="data", type="aws_x", name="y", key="z"
    )
    assert addr.module_str == 'module.a["k"].module.b[0]'
    assert addr.resource_str == "data.aws_x.y"
    assert addr.is_instance and not addr.is_resource and not addr.is_module

    whole = parse_address("aws_x.y")
    assert whole == Address(mode="managed", type="aws_x", name="y")
    assert whole.key is NO_KEY
    assert whole.is_resource and not whole.is_instance and not whole.is_module
    assert whole.module_str == ""
    assert whole.resource_str == "aws_x.y"

    mod = parse_address("module.a[1]")
    assert mod == Address(module=(ModuleStep("a", 1),))
    assert mod.is_module and not mod.is_resource and not mod.is_instance

    assert parse_address('aws_x.y["1"]').key == "1"
    assert parse_address("aws_x.y[1]").key == 1


def test_resource_and_with_key() -> None:
    inst = parse_address('module.a.aws_x.y["k"]')
    assert str(inst.resource()) == "module.a.aws_x.y"
    assert str(inst.resource().with_key(3)) == "module.a.aws_x.y[3]"
    assert inst.with_key(NO_KEY) == inst.resource()
    assert inst.resource().resource() == inst.resource()
    module = parse_address("module.a")
    with pytest.raises(ValueError):
        module.resource()
    with pytest.raises(ValueError):
        module.with_key(0)
    with pytest.raises(ValueError):
        _ = module.resource_str
    with pytest.raises(ValueError):
        inst.with_key(-1)
    with pytest.raises(TypeError):
        inst.with_key(True)


def test_no_key_sentinel() -> None:
    assert repr(NO_KEY) == "NO_KEY"
    assert not NO_KEY
    assert copy.deepcopy(NO_KEY) is NO_KEY
    assert pickle.loads(pickle.dumps(NO_KEY)) is NO_KEY
    addr = parse_address("module.a[0].aws_x.y")
    assert pickle.loads(pickle.dumps(addr)) == addr
    assert "key=NO_KEY" in repr(addr)


def test_addresses_are_hashable_and_frozen() -> None:
    a, b = parse_address("aws_x.y[0]"), parse_address("aws_x.y[0]")
    assert len({a, b, parse_address('aws_x.y["0"]')}) == 2
    with pytest.raises(AttributeError):
        a.name = "z"  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "managed"},
        {"mode": "ephemeral", "type": "x", "name": "y"},
        {"type": "x"},
        {"key": 0},
        {"mode": "managed", "type": "x", "name": "y", "key": -1},
        {"mode": "managed", "type": "x", "name": "y", "key": 1.0},
        {"mode": "managed", "type": "x", "name": "y", "key": None},
        {"module": [ModuleStep("a")]},
    ],
)
def test_invalid_construction(kwargs: dict[str, object]) -> None:
    with pytest.raises((TypeError, ValueError)):
        Address(**kwargs)  # type: ignore[arg-type]


def test_module_step_validation() -> None:
    assert str(ModuleStep("a")) == "module.a"
    assert str(ModuleStep("a", 'k"')) == 'module.a["k\\""]'
    with pytest.raises(TypeError):
        ModuleStep("a", False)
    with pytest.raises(ValueError):
        ModuleStep("a", -2)


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("", ()),
        ("   ", ()),
        ("module.a", (ModuleStep("a"),)),
        ("module.a[0]", (ModuleStep("a", 0),)),
        ('module.a["k"].module.b[0]', (ModuleStep("a", "k"), ModuleStep("b", 0))),
        ('module.a["x.y\\"z"].module.b', (ModuleStep("a", 'x.y"z'), ModuleStep("b"))),
        ("module.data", (ModuleStep("data"),)),
    ],
)
def test_parse_module_path(text: str, steps: tuple[ModuleStep, ...]) -> None:
    assert parse_module_path(text) == steps
    assert Address(module=steps).module_str == text.strip()


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("aws_x.y", 0),
        ("module.a.aws_x.y", 9),
        ("module.a[0].data.aws_x.y", 12),
        ("module", 6),
        ("module.a.", 9),
        ("module.a[0][1]", 11),
        ("module.a!", 8),
    ],
)
def test_parse_module_path_rejects(text: str, position: int) -> None:
    with pytest.raises(AddressError) as info:
        parse_module_path(text)
    assert info.value.position == position


CONTAINS = [
    # (container, contained, expected)
    ("aws_x.y", "aws_x.y", True),
    ("aws_x.y", "aws_x.y[0]", True),
    ("aws_x.y", 'aws_x.y["a"]', True),
    ("aws_x.y[0]", "aws_x.y[0]", True),
    ("aws_x.y[0]", "aws_x.y", False),
    ("aws_x.y[0]", "aws_x.y[1]", False),
    ("aws_x.y[0]", 'aws_x.y["0"]', False),
    ("aws_x.y", "aws_x.z", False),
    ("aws_x.y", "data.aws_x.y", False),
    ("data.aws_x.y", "data.aws_x.y[2]", True),
    ("aws_x.y", "module.a.aws_x.y", False),
    ("module.a.aws_x.y", "module.a[0].aws_x.y", False),
    ("module.a", "module.a", True),
    ("module.a", "module.a[0]", True),
    ("module.a", 'module.a["k"].aws_x.y[1]', True),
    ("module.a", "module.a.module.b.data.aws_x.y", True),
    ("module.a", "module.ab", False),
    ("module.a", "module.b.module.a", False),
    ("module.a[0]", "module.a[0].aws_x.y", True),
    ("module.a[0]", "module.a[1].aws_x.y", False),
    ("module.a[0]", "module.a", False),
    ("module.a[0]", "module.a[0].module.b[2].aws_x.y", True),
    ("module.a.module.b", "module.a.module.b[0].aws_x.y", True),
    ("module.a.module.b", "module.a[0].module.b", False),
    ("module.a[0].module.b", "module.a[0].module.b[3]", True),
    ("module.a.module.b", "module.a", False),
    ("module.a", "aws_x.y", False),
    ("aws_x.y", "module.a", False),
]


@pytest.mark.parametrize(("outer", "inner", "expected"), CONTAINS)
def test_contains(outer: str, inner: str, expected: bool) -> None:
    assert parse_address(outer).contains(parse_address(inner)) is expected


def test_root_module_contains_everything() -> None:
    root = Address()
    assert root.is_module and str(root) == ""
    for text in ("aws_x.y", "module.a[0]", 'module.a.data.x.y["k"]'):
        assert root.contains(parse_address(text))


@pytest.mark.parametrize(
    ("key", "text"),
    [
        (0, "[0]"),
        (42, "[42]"),
        ("", '[""]'),
        ("a b", '["a b"]'),
        ('a"b', r'["a\"b"]'),
        ("back\\slash", r'["back\\slash"]'),
        ("\n\r\t", r'["\n\r\t"]'),
        ("${x}", '["$${x}"]'),
        ("%{x}", '["%%{x}"]'),
        ("$${x}", '["$$${x}"]'),
        ("$", '["$"]'),
        ("{$}", '["{$}"]'),
        ("$%{", '["$%%{"]'),
        ("\x00", r'["\u0000"]'),
        ("\x7f", r'["\u007f"]'),
        ("\u00a0", r'["\u00a0"]'),
        ("\u00ad", r'["\u00ad"]'),
        ("\u2028", r'["\u2028"]'),
        ("\U000e0001", r'["\U000e0001"]'),
        ("é😀", '["é😀"]'),
    ],
)
def test_format_key(key: int | str, text: str) -> None:
    assert format_key(key) == text


def test_format_key_rejects_bad_keys() -> None:
    with pytest.raises(ValueError):
        format_key(-1)
    with pytest.raises(TypeError):
        format_key(True)
    with pytest.raises(TypeError):
        format_key(1.5)  # type: ignore[arg-type]


INSTANCES = [
    ("", "managed", "aws_instance", "web", None),
    ("", "managed", "aws_instance", "web", 0),
    ("", "managed", "aws_instance", "web", 10),
    ("", "managed", "aws_instance", "web", "a b"),
    ("", "data", "aws_ami", "ubuntu", None),
    ("", "data", "aws_ami", "ubuntu", "x"),
    ("module.a", "managed", "aws_x", "y", None),
    ('module.a["k"].module.b[0]', "managed", "aws_x", "y", "z"),
    ("module.a[1]", "data", "aws_x", "y", 3),
    ('module.a["k\\"q"]', "data", "aws_x", "y", None),
    ("", "managed", "aws_x", "y", 'a"b'),
    ("", "managed", "aws_x", "y", "back\\slash"),
    ("", "managed", "aws_x", "y", "\n\r\t"),
    ("", "managed", "aws_x", "y", "${x} %{y} $${z}"),
    ("", "managed", "aws_x", "y", "\x00\x7f\u0085\u00a0\u200b\ufeff"),
    ("", "managed", "aws_x", "y", "é😀日本語"),
    ("", "managed", "aws_x", "y", ""),
    ("", "managed", "aws_x", "y", "[0]"),
]


@pytest.mark.parametrize(("module", "mode", "type_", "name", "key"), INSTANCES)
def test_instance_address_matches_parser(
    module: str, mode: str, type_: str, name: str, key: int | str | None
) -> None:
    text = instance_address(module, mode, type_, name, key)
    addr = parse_address(text)
    assert str(addr) == text
    assert addr.module_str == module
    assert addr.mode == mode and addr.type == type_ and addr.name == name
    assert addr.key == (NO_KEY if key is None else key)


def test_instance_address_examples() -> None:
    assert instance_address("", "managed", "aws_instance", "web", None) == "aws_instance.web"
    assert instance_address("", "data", "aws_ami", "u", 0) == "data.aws_ami.u[0]"
    assert instance_address("module.a[0]", "managed", "x", "y", 'k"') == 'module.a[0].x.y["k\\""]'


def test_instance_address_rejects_bad_fields() -> None:
    with pytest.raises(ValueError):
        instance_address("", "ephemeral", "x", "y", None)
    with pytest.raises(ValueError):
        instance_address("", "managed", "x", "y", -1)
    with pytest.raises(TypeError):
        instance_address("", "managed", "x", "y", 1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        instance_address("", "managed", "x", "y", False)


ERRORS = [
    # (input, position, fragment of the message)
    ("", 0, "empty address"),
    ("   ", 3, "empty address"),
    ("aws_x", 5, "expected '.' and a resource name after 'aws_x'"),
    ("aws_x.", 6, "expected a resource name after 'aws_x.'"),
    ("aws_x. y", 6, "whitespace is not allowed"),
    ("aws_x .y", 5, "whitespace is not allowed"),
    ("aws_x.y [0]", 7, "whitespace is not allowed"),
    ("aws_x.y[ 0]", 8, "whitespace is not allowed"),
    ("  aws_x. y", 8, "whitespace is not allowed"),
    ("data.", 5, "expected a resource type after 'data.'"),
    ("data", 4, "expected '.' and a resource type after 'data'"),
    ("data[0]", 4, "expected '.' and a resource type after 'data'"),
    ("data.aws_x", 10, "expected '.' and a resource name after 'aws_x'"),
    ("aws_x.y[-1]", 8, "instance key must be a non-negative integer or a string"),
    ("aws_x.y[1.5]", 8, "instance key must be a non-negative integer or a string"),
    ("aws_x.y[15e-1]", 8, "instance key must be a non-negative integer or a string"),
    ("aws_x.y[abc]", 8, "instance key must be a non-negative integer or a string"),
    ("aws_x.y[]", 8, "instance key must be a non-negative integer or a string"),
    ("aws_x.y[true]", 8, "instance key must be a non-negative integer or a string"),
    ("aws_x.y[99999999999999999999]", 8, "too large"),
    ("aws_x.y[9223372036854775808]", 8, "too large"),
    ("aws_x.y[1e400]", 8, "too large"),
    ("aws_x.y[*]", 8, "splat"),
    ("aws_x.y[", 8, "expected an instance key after '['"),
    ("aws_x.y[0", 9, "expected ']'"),
    ('aws_x.y["a"', 11, "expected ']'"),
    ("aws_x.y[0x1]", 9, "expected ']'"),
    ('aws_x.y["a', 8, "unterminated string key"),
    ('aws_x.y["a\\"]', 8, "unterminated string key"),
    ('aws_x.y["a\\', 8, "unterminated string key"),
    ("aws_x.y['a']", 8, "instance key must be a non-negative integer or a string"),
    ('aws_x.y["a\\qb"]', 10, "invalid escape sequence '\\q'"),
    ('aws_x.y["\\u12"]', 9, "four hexadecimal digits"),
    ('aws_x.y["\\u12zz"]', 9, "four hexadecimal digits"),
    ('aws_x.y["\\U0000004"]', 9, "eight hexadecimal digits"),
    ('aws_x.y["\\ud800"]', 9, "not a valid character"),
    ('aws_x.y["\\U00110000"]', 9, "not a valid character"),
    ('aws_x.y["ab${x}"]', 11, "template sequence '${'"),
    ('aws_x.y["%{if}"]', 9, "template sequence '%{'"),
    ('aws_x.y["a\nb"]', 10, "line break"),
    ("aws_x.y!", 7, "unexpected character '!'"),
    ("aws_x.y[0]!", 10, "unexpected character '!'"),
    ("aws_x!y", 5, "unexpected character '!'"),
    ("!aws_x.y", 0, "unexpected character '!'"),
    ("aws_x.y.z", 7, "instance key goes in brackets"),
    ("aws_x.y[0].z", 10, "after the instance key"),
    ("aws_x.y[0][1]", 10, "after the instance key"),
    ("1aws.y", 0, "must start with a letter or underscore"),
    ("aws_x.1y", 6, "a resource name must start with a letter or underscore"),
    ("aws_x.-y", 6, "a resource name must start with a letter or underscore"),
    ("module", 6, "expected '.' and a module name after 'module'"),
    ("module.", 7, "expected a module name after 'module.'"),
    ("module[0]", 6, "expected '.' and a module name after 'module'"),
    ("module.a.", 9, "expected a resource type or 'module' after 'module.a.'"),
    ("module.a[0][1]", 11, "only one instance key"),
    ("module.a[0]x", 11, "unexpected character 'x'"),
    ("module.a.aws_x", 14, "expected '.' and a resource name after 'aws_x'"),
    ("module.a.count.x", 9, "'count' is a reserved word"),
    ("var.x", 0, "'var' is a reserved word"),
    ("ephemeral.aws_x.y", 0, "ephemeral resources are never stored in state"),
    ("list.aws_x.y", 0, "list resources are never stored in state"),
    ("resource.", 9, "expected a resource type after 'resource.'"),
    ("aws_x..y", 6, "unexpected character '.'"),
]


@pytest.mark.parametrize(("text", "position", "fragment"), ERRORS)
def test_errors_point_at_offending_character(text: str, position: int, fragment: str) -> None:
    with pytest.raises(AddressError) as info:
        parse_address(text)
    err = info.value
    assert err.position == position, err.message
    assert fragment in err.detail
    assert err.address == text


def test_error_message_shows_pointer() -> None:
    with pytest.raises(AddressError) as info:
        parse_address("aws_x.y[-1]")
    lines = str(info.value).splitlines()
    assert lines[0] == (
        "invalid address 'aws_x.y[-1]': instance key must be a non-negative integer or a string at character 9"
    )
    assert lines[1] == "  aws_x.y[-1]"
    assert lines[2] == "          ^"
    assert info.value.exit_code == 2


# --- property test -------------------------------------------------------------------------------

_SPECIAL_ROOTS = {"module", "data", "resource", "ephemeral", "list"} | {
    "count", "each", "local", "path", "self", "terraform", "var", "template", "lazy", "arg",
}  # fmt: skip

identifiers = st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,15}", fullmatch=True),
    st.sampled_from(["café", "naïve_x", "日本", "_1", "a-b"]),
)
# The first word of a resource part decides its meaning, so a type may not be one of those words.
resource_types = identifiers.filter(lambda word: word not in _SPECIAL_ROOTS)
keys = st.one_of(st.integers(min_value=0, max_value=2**63 - 1), st.text())
optional_keys = st.one_of(st.none(), keys)
module_steps = st.lists(st.builds(ModuleStep, identifiers, optional_keys), max_size=4).map(tuple)


@st.composite
def addresses(draw: st.DrawFn) -> Address:
    module = draw(module_steps)
    if draw(st.booleans()) and module:
        return Address(module=module)
    return Address(
        module=module,
        mode=draw(st.sampled_from(["managed", "data"])),
        type=draw(resource_types),
        name=draw(identifiers),
        key=draw(st.one_of(st.just(NO_KEY), keys)),
    )


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(addresses())
def test_property_round_trip(addr: Address) -> None:
    text = str(addr)
    assert parse_address(text) == addr
    assert parse_module_path(addr.module_str) == addr.module
    if not addr.is_module:
        index_key = None if addr.key is NO_KEY else addr.key
        assert instance_address(addr.module_str, addr.mode, addr.type, addr.name, index_key) == text


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text())
def test_property_any_string_key_round_trips(key: str) -> None:
    text = "aws_x.y" + format_key(key)
    assert parse_address(text).key == key
    assert "\n" not in text and "\r" not in text


# --- Terraform itself as the oracle --------------------------------------------------------------

ORACLE_KEYS: list[int | str] = [
    0,
    7,
    "a b",
    'a"b',
    "back\\slash",
    "${x}",
    "%{y}",
    "$${z}",
    "$$",
    "\n\r\t",
    "\x00\x7f\u0085\u00a0\u200b\u2028\ufeff",
    "é😀",
    "\U000e0001",
    " ",
    "",
    "\u00ad",
]


@pytest.mark.terraform
def test_instance_address_matches_terraform_state_list(tmp_path: Path) -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform binary not on PATH")
    provider = 'provider["registry.terraform.io/hashicorp/null"]'
    resources = [
        {
            "mode": "managed",
            "type": "null_resource",
            "name": f"r{i}",
            "provider": provider,
            "instances": [{"index_key": key, "schema_version": 0, "attributes": {"id": "1"}}],
        }
        for i, key in enumerate(ORACLE_KEYS)
    ]
    resources.append(
        {
            "module": 'module.a["k\\"q"].module.b[0]',
            "mode": "data",
            "type": "null_data_source",
            "name": "d",
            "provider": provider,
            "instances": [{"schema_version": 0, "attributes": {"id": "1"}}],
        }
    )
    state = {"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "x", "outputs": {},
             "resources": resources}  # fmt: skip
    state_path = tmp_path / "terraform.tfstate"
    state_path.write_text(json.dumps(state))
    env = {**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "TF_IN_AUTOMATION": "1"}
    listed = subprocess.run(
        [terraform, "state", "list", f"-state={state_path}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    ours = [
        instance_address(r.get("module", ""), r["mode"], r["type"], r["name"], inst.get("index_key"))
        for r in resources
        for inst in r["instances"]
    ]
    assert sorted(listed) == sorted(ours)
    for text in listed:
        assert str(parse_address(text)) == text
