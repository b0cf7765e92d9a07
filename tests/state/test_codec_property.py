"""Property tests of the v4 codec: random valid states survive read -> write -> read, the writer is
idempotent, and the address index holds exactly the instances that were generated.

The states are deliberately untidy (shuffled resources, instances and fields; zero-valued fields
Terraform omits; legacy provider strings; unknown fields) so that the writer's normalisation is
exercised, and their values reach the edges of the JSON layer: integers beyond 64 bits (both
signs), floats, every kind of Unicode text including ``<>&`` and U+2028.
"""

from __future__ import annotations

import base64
import json
import string
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.generate import generate_state
from driftmgr_tui.state import codec
from driftmgr_tui.state.address import NO_KEY, Address, ModuleStep
from driftmgr_tui.state.codec import dumps_terraform, read_state, to_terraform_json, write_state

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- strategies
_IDENT_START = string.ascii_letters + "_" + "éßπЖ"
_IDENT_REST = _IDENT_START + string.digits + "-"
identifiers = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(_IDENT_START),
    st.text(alphabet=_IDENT_REST, max_size=8),
)
resource_types = st.builds(
    lambda prefix, rest: prefix + "_" + rest,
    st.sampled_from(["aws", "google", "azurerm", "terraform", "x9"]),
    st.text(alphabet=string.ascii_lowercase + string.digits + "_", min_size=1, max_size=10),
)
# Arbitrary Unicode (Hypothesis never draws surrogates), plus the characters that need escaping.
texts = st.text(max_size=12) | st.sampled_from(
    ["", "<b>&amp;</b>", "a\u2028b\u2029c", "x<y>z&", "${var.x} %{if}", '"q" \\ \n\t', "日本語", "\x00\x7f"]
)
int_keys = st.integers(min_value=0, max_value=1000) | st.sampled_from([2**31, 2**63 - 1])
wide_ints = st.sampled_from(
    [2**63 - 1, 2**63, 2**64 - 1, 2**64, 10**20, 10**30, -(2**63), -(2**63) - 1, -(10**19), -(10**25)]
)
numbers = st.integers() | wide_ints | st.floats(allow_nan=False, allow_infinity=False)
scalars = st.none() | st.booleans() | numbers | texts
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
attribute_objects = st.dictionaries(texts, json_values, max_size=5)
module_keys = st.none() | int_keys | texts
module_paths = st.lists(st.builds(ModuleStep, identifiers, module_keys), max_size=3).map(tuple)
sensitive_paths = st.lists(
    st.lists(
        st.builds(lambda name: {"type": "get_attr", "value": name}, identifiers)
        | st.builds(lambda i: {"type": "index", "value": {"value": i, "type": "number"}}, int_keys),
        min_size=1,
        max_size=3,
    ),
    max_size=2,
)
deposed_keys = st.text(alphabet="0123456789abcdef", min_size=8, max_size=8)
private_blobs = st.binary(max_size=40).map(lambda raw: base64.b64encode(raw).decode())
providers = st.sampled_from(
    [
        'provider["registry.terraform.io/hashicorp/aws"]',
        'provider["registry.terraform.io/hashicorp/aws"].west',
        'provider["terraform.io/builtin/terraform"]',
        "provider.random",  # legacy form: the reader normalises it
    ]
)
UNKNOWN_FIELDS = ("future_field", "zz_newer_terraform")
DEPENDENCIES = ("aws_vpc.main", "module.net.aws_subnet.a", "data.aws_ami.ubuntu", "module.m.module.n.aws_x.y")


@st.composite
def instance_objects(draw: st.DrawFn, key: Any, deposed: str | None) -> dict[str, Any]:
    """One instance object with its fields in a random order, zero values included at random."""
    fields: dict[str, Any] = {}
    if key is not None:
        fields["index_key"] = key
    elif draw(st.booleans()):
        fields["index_key"] = None
    status = draw(st.sampled_from([None, None, "tainted", ""]))
    if status is not None:
        fields["status"] = status
    if deposed is not None:
        fields["deposed"] = deposed
    elif draw(st.integers(0, 5)) == 0:
        fields["deposed"] = ""
    fields["schema_version"] = draw(st.integers(0, 5))
    if draw(st.integers(0, 7)):
        fields["attributes"] = draw(attribute_objects)
    else:  # pre-0.12 flatmap attributes
        fields["attributes_flat"] = draw(st.dictionaries(texts, texts, max_size=4))
    fields["sensitive_attributes"] = draw(sensitive_paths)
    if draw(st.booleans()):
        fields["identity_schema_version"] = draw(st.integers(0, 3))
        fields["identity"] = draw(attribute_objects)
    private = draw(st.none() | st.just("") | private_blobs)
    if private is not None:
        fields["private"] = private
    deps = draw(st.none() | st.lists(st.sampled_from(DEPENDENCIES), max_size=3))
    if deps is not None:
        fields["dependencies"] = deps
    cbd = draw(st.none() | st.booleans())
    if cbd is not None:
        fields["create_before_destroy"] = cbd
    for name in draw(st.lists(st.sampled_from(UNKNOWN_FIELDS), unique=True, max_size=2)):
        fields[name] = draw(json_values)
    order = draw(st.permutations(list(fields)))
    return {k: fields[k] for k in order}


@st.composite
def states(draw: st.DrawFn) -> tuple[dict[str, Any], set[str], set[tuple[str, str]]]:
    """A valid v4 state document, the addresses of its current objects, and its deposed objects."""
    current: set[str] = set()
    deposed_objects: set[tuple[str, str]] = set()
    resources = []
    seen: set[tuple[str, str, str, str]] = set()
    for _ in range(draw(st.integers(0, 5))):
        steps = draw(module_paths)
        mode = draw(st.sampled_from(["managed", "managed", "data"]))
        rtype = draw(resource_types)
        name = draw(identifiers)
        module = ".".join(str(step) for step in steps)
        if (module, mode, rtype, name) in seen:
            continue
        seen.add((module, mode, rtype, name))
        kind = draw(st.sampled_from(["none", "int", "str"]))
        if kind == "none":
            keys: list[Any] = [None]
        elif kind == "int":
            keys = draw(st.lists(int_keys, unique=True, max_size=3))
        else:
            keys = draw(st.lists(texts, unique=True, max_size=3))
        instances = []
        for key in keys:
            addr = str(Address(steps, mode, rtype, name, NO_KEY if key is None else key))
            if draw(st.integers(0, 5)):
                instances.append(draw(instance_objects(key, None)))
                current.add(addr)
            for dk in draw(st.lists(deposed_keys, unique=True, max_size=1 if mode == "managed" else 0)):
                instances.append(draw(instance_objects(key, dk)))
                deposed_objects.add((addr, dk))
        resource: dict[str, Any] = {
            "mode": mode,
            "type": rtype,
            "name": name,
            "provider": draw(providers),
            "instances": draw(st.permutations(instances)),
        }
        if module or draw(st.booleans()):
            resource["module"] = module
        each = draw(st.sampled_from([None, "", "list" if kind == "int" else "map"]))
        if each is not None:
            resource["each"] = each
        if draw(st.booleans()):
            resource[UNKNOWN_FIELDS[0]] = draw(json_values)
        order = draw(st.permutations(list(resource)))
        resources.append({k: resource[k] for k in order})

    outputs = {}
    for name in draw(st.lists(identifiers, unique=True, max_size=3)):
        out = {
            "value": draw(json_values),
            "type": draw(st.sampled_from(["string", ["list", "string"], "number"])),
        }
        if draw(st.booleans()):
            out["sensitive"] = draw(st.booleans())
        outputs[name] = out
    doc: dict[str, Any] = {
        "version": 4,
        "terraform_version": draw(st.sampled_from(["1.11.4", "1.5.7", "0.12.31", "1.12.0-alpha20250101"])),
        "serial": draw(st.integers(0, 2**40)),
        "lineage": draw(st.uuids()).hex,
        "outputs": outputs,
        "resources": draw(st.permutations(resources)),
        "check_results": draw(st.none() | st.just([])),
    }
    if draw(st.booleans()):
        doc["future_top_field"] = draw(json_values)
    order = draw(st.permutations(list(doc)))
    return {k: doc[k] for k in order}, current, deposed_objects


def _encode(doc: dict[str, Any], ascii_only: bool, indent: int | None) -> bytes:
    return json.dumps(doc, ensure_ascii=ascii_only, indent=indent).encode()


def _typed(value: Any) -> Any:
    """``value`` with every number tagged by its type: 1e20 (a float) must not pass for 10**20."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (type(value).__name__, value)
    return value


# --------------------------------------------------------------------------- properties
# One @given test checks all three properties on each example: generating a state costs more than
# checking it, and the suite has to stay fast.
@SETTINGS
@given(states(), st.booleans(), st.sampled_from([None, 2]))
def test_random_states_round_trip(generated, ascii_only: bool, indent: int | None) -> None:
    doc, current, deposed = generated
    first = read_state(_encode(doc, ascii_only, indent))
    written = write_state(first)
    second = read_state(written)
    _check_write_is_stable(first, second, written)
    _check_chunked_dump(first)
    for state in (first, second):
        _check_index(state, current, deposed)
        _check_values(state, doc)


def _check_write_is_stable(first, second, written: bytes) -> None:
    # read(write(read(bytes))) == read(bytes), compared after the writer's normalisation ...
    assert _typed(json.loads(write_state(second))) == _typed(json.loads(write_state(first)))
    # ... and the writer is idempotent, byte for byte.
    assert write_state(second) == written
    assert write_state(read_state(write_state(second))) == written
    assert written.endswith(b"}\n")
    for raw in (b"<", b">", b"&", "\u2028".encode(), "\u2029".encode()):
        assert raw not in written  # Go's HTML-safe escaping


def _check_chunked_dump(state) -> None:
    """Large states are serialized a few resources at a time; the bytes must not change."""
    top = to_terraform_json(state)
    if not top["resources"]:
        return
    try:
        chunked = codec._dumps_in_chunks(top, top["resources"], 1)
    except TypeError:  # integers beyond 64 bits: dumps_terraform serializes the whole document instead
        return
    assert chunked == codec._dumps_whole(top)


def _check_index(state, current: set[str], deposed: set[tuple[str, str]]) -> None:
    """The index holds exactly the generated current objects; deposed ones are listed apart."""
    assert set(state.index) == current
    assert len(state.index) == len(current)
    assert {(ref.address, ref.deposed) for ref in state.deposed_objects} == deposed
    assert state.problems == []


def _check_values(state, doc: dict[str, Any]) -> None:
    """Attributes, private blobs and outputs keep their values and number types."""
    originals = {}
    for res in doc["resources"]:
        for inst in res["instances"]:
            ident = (
                res.get("module", ""),
                res["mode"],
                res["type"],
                res["name"],
                inst.get("index_key"),
                inst.get("deposed") or "",
            )
            originals[ident] = inst
    refs = [*state.index.values(), *state.deposed_objects]
    assert len(refs) == len(originals)
    for ref in refs:
        original = originals[(ref.module, ref.mode, ref.type, ref.name, ref.index_key, ref.deposed or "")]
        for field in ("attributes", "sensitive_attributes", "identity", "schema_version"):
            if field in original:
                assert _typed(ref.instance[field]) == _typed(original[field]), field
        if original.get("private"):
            assert ref.instance["private"] == original["private"]
    assert _typed(state.outputs) == _typed(doc["outputs"])


@settings(max_examples=300, deadline=None)
@given(
    wide_ints | st.integers(min_value=-(2**66), max_value=2**66) | numbers,
    st.sampled_from(["attribute", "list", "output"]),
    st.sampled_from([None, 2]),
)
def test_numbers_survive_exactly(number, where: str, indent: int | None) -> None:
    """orjson parses integers outside [-2**63, 2**64) as floats: the codec must notice every one."""
    attributes: dict[str, Any] = {"id": "x"}
    outputs: dict[str, Any] = {}
    if where == "attribute":
        attributes["n"] = number
    elif where == "list":
        attributes["l"] = ["a1234567890123456789012", number, 0]
    else:
        outputs["o"] = {"value": number, "type": "number"}
    doc = {
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": 1,
        "lineage": "l",
        "outputs": outputs,
        "resources": [
            {
                "mode": "managed",
                "type": "aws_x",
                "name": "a",
                "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
                "instances": [{"schema_version": 0, "attributes": attributes}],
            }
        ],
    }
    for state in (
        read_state(_encode(doc, True, indent)),
        read_state(write_state(read_state(_encode(doc, True, indent)))),
    ):
        assert _typed(state.index["aws_x.a"].attributes) == _typed(attributes)
        assert _typed(state.outputs) == _typed(outputs)


def test_generated_state_is_written_back_byte_for_byte() -> None:
    """The benchmark generator writes what Terraform writes: the codec reproduces it exactly."""
    raw = dumps_terraform(generate_state(400, seed=3))
    state = read_state(raw)
    assert write_state(state) == raw
    assert len(state.index) + len(state.deposed_objects) == 400
