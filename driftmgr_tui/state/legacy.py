"""Upgrade legacy Terraform state (format versions 1, 2 and 3) to the version 4 shape.

This is a port of Terraform's own in-memory upgrade in ``internal/states/statefile``:

* ``read.go``: the version sniff and the errors for format 0 and unknown formats;
* ``version1.go`` / ``version1_upgrade.go``: the v1 structures and ``upgradeStateV1ToV2``;
* ``version2.go`` / ``version2_upgrade.go``: the v2 structures and ``upgradeStateV2ToV3``
  (collection counts that look like maps become ``%``, counts of empty collections go);
* ``version3.go`` / ``version3_upgrade.go``: ``upgradeStateV3ToV4``;
* ``version4.go``: the target ``stateV4`` structure, its JSON tags (``omitempty`` fields are left
  out when empty) and ``normalize`` (resource and instance order).

The result is the ``stateV4`` value that ``upgradeStateV3ToV4`` hands to ``prepareStateV4``, as
``encoding/json`` would render it. Like Terraform's upgrade it keeps provider addresses in the
legacy string form (``provider.null``, ``module.child.provider.aws.west``) and drops what v4 has
no place for: ``remote``, ``backend``, module and resource ``depends_on`` (the current upgrade
writes no dependencies at all), non-root outputs, v1 ``tainted`` instance lists and the v2/v3
output ``type`` (the v4 type is implied from the value).

Input is checked the way ``encoding/json`` checks it when it decodes into Terraform's structs:
a wrong JSON type anywhere, even in a field the upgrade later drops, is an error naming the field.
Where Terraform's Go code would crash on a ``null`` entry (a module, resource, deposed object or
root output), this raises :class:`StateFormatError` instead.

Deliberate differences from Terraform, all in how numbers are held:

* Terraform decodes instance ``meta`` values and output values into ``float64``, so integers
  beyond 2**53 lose precision (and ints of 1e21 or more print with an exponent in ``private``).
  Here they stay exact Python ints. Numbers too large for a float64 are still rejected, as
  Terraform rejects them.
* A numeric ``meta.schema_version`` outside the uint64 range (Go's conversion there is
  platform-dependent) is an error rather than an arbitrary number.
* Where Terraform iterates Go maps in random order (which instance supplies a resource's provider
  string, which of several errors is reported), this uses document order.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from driftmgr_tui.core.errors import StateFormatError

__all__ = ["upgrade_to_v4"]

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_UINT64_MAX = 2**64 - 1


def upgrade_to_v4(raw: dict, *, path: str | None = None) -> dict:
    """Upgrade the parsed JSON of a format 1, 2 or 3 state to the format 4 JSON shape.

    ``path`` names the file in error messages. Raises :class:`StateFormatError` (and nothing
    else) for format 0, formats this does not upgrade, and malformed content.
    """
    try:
        version = _sniff_version(raw)
        if version == 1:
            state = _upgrade_v2_to_v3(_upgrade_v1_to_v2(_decode_v1(raw)))
        elif version == 2:
            state = _upgrade_v2_to_v3(_decode_v2(raw))
        elif version == 3:
            state = _decode_v2(raw)
        else:
            raise _unsupported_version(version, raw)
        return _upgrade_v3_to_v4(state)
    except _Fail as exc:
        raise StateFormatError(exc.message, path=path, field=exc.field or None) from None
    except RecursionError:
        raise StateFormatError("the state is nested too deeply to read", path=path) from None


# --------------------------------------------------------------------------------------------
# Errors and JSON field paths


class _Fail(Exception):
    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _attr_path(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _index_path(where: str, index: int) -> str:
    return f"{where}[{index}]"


def _key_path(where: str, key: str) -> str:
    return f"{where}[{json.dumps(key, ensure_ascii=False)}]"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {_number_text(value)}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a Python {type(value).__name__} (not a JSON value)"


def _number_text(value: float) -> str:
    if isinstance(value, int) and value.bit_length() > 128:
        return f"of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# Version sniffing (read.go)


def _sniff_version(raw: Any) -> int:
    fields = _struct(raw, "", ("version",))
    if fields is None:
        raise _Fail("a state file must be a JSON object, found null")
    value, where = _field(fields, "version", "")
    if value is None:
        raise _Fail(
            'the state has no "version" attribute, which is required to identify the format version',
            "version",
        )
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _UINT64_MAX:
        raise _Fail(f"the state format version is {_describe(value)}; a whole number is required", where)
    return value


_GO_VERSION = re.compile(r"v?[0-9]+(\.[0-9]+)*([-+~][0-9A-Za-z.+~-]*)?")


def _unsupported_version(version: int, raw: dict) -> _Fail:
    if version == 0:
        return _Fail(
            "unsupported state format version 0: there was never a JSON state format 0 (format 0 "
            "was Terraform's original binary state, unsupported since Terraform v0.7; upgrade such "
            "a state with Terraform 0.6.16 or earlier)",
            "version",
        )
    if version == 4:
        return _Fail(
            "state format version 4 is the current format; only legacy formats 1, 2 and 3 are upgraded",
            "version",
        )
    creator = raw.get("terraform_version")
    if isinstance(creator, str) and _GO_VERSION.fullmatch(creator):
        origin = f"it was created by Terraform {creator}"
    else:
        origin = "it may have been created by a newer version of Terraform"
    return _Fail(f"unsupported state format version {version}; {origin}", "version")


# --------------------------------------------------------------------------------------------
# Decoding: the checks encoding/json makes when Terraform unmarshals into its structs


def _fold(name: str) -> str:
    # encoding/json matches object keys to struct fields case-insensitively (bytes.EqualFold):
    # for our ASCII field names that is lower-casing, plus the two non-ASCII runes that fold to
    # ASCII letters: KELVIN SIGN (lower() gives "k") and LATIN SMALL LETTER LONG S.
    return name.lower().replace("\u017f", "s")


def _struct(value: Any, where: str, names: tuple[str, ...]) -> dict[str, tuple[Any, str]] | None:
    """A JSON object decoded into a Go struct: ``{field: (value, json path)}``; None for null."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Fail(f"expected an object, found {_describe(value)}", where)
    found: dict[str, tuple[Any, str]] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise _Fail(f"object keys must be strings, found {_describe(key)}", where)
        folded = _fold(key)
        if folded in names:
            found[folded] = (item, _attr_path(where, key))
    return found


def _field(fields: dict[str, tuple[Any, str]], name: str, where: str) -> tuple[Any, str]:
    return fields.get(name, (None, _attr_path(where, name)))


def _string(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _Fail(f"expected a string, found {_describe(value)}", where)
    return value


def _bool(value: Any, where: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _Fail(f"expected true or false, found {_describe(value)}", where)
    return value


def _int(value: Any, where: str, low: int, high: int) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Fail(f"expected a whole number, found {_describe(value)}", where)
    if not low <= value <= high:
        raise _Fail(f"the number {_number_text(value)} is out of range ({low} to {high})", where)
    return value


def _list(value: Any, where: str, item: Callable[[Any, str], Any]) -> list | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise _Fail(f"expected an array, found {_describe(value)}", where)
    return [item(element, _index_path(where, i)) for i, element in enumerate(value)]


def _map(value: Any, where: str, item: Callable[[Any, str], Any]) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Fail(f"expected an object, found {_describe(value)}", where)
    result = {}
    for key, element in value.items():
        if not isinstance(key, str):
            raise _Fail(f"object keys must be strings, found {_describe(key)}", where)
        result[key] = item(element, _key_path(where, key))
    return result


def _any(value: Any, where: str) -> Any:
    """A value decoded into Go's ``interface{}``: a copy, numbers checked against float64's range."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        try:
            float(value)
        except OverflowError:
            raise _Fail("the number is too large (Terraform reads it as a 64-bit float)", where) from None
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Fail(f"{_describe(value)} is not a finite JSON number", where)
        return value
    if isinstance(value, list):
        return [_any(element, _index_path(where, i)) for i, element in enumerate(value)]
    if isinstance(value, dict):
        return _map(value, where, _any)
    raise _Fail(f"expected a JSON value, found {_describe(value)}", where)


def _string_list(value: Any, where: str) -> list[str] | None:
    return _list(value, where, _string)


def _string_map(value: Any, where: str) -> dict[str, str] | None:
    return _map(value, where, _string)


@dataclass
class _Null:
    """A JSON null where Terraform expects an object it will dereference (a Go nil pointer)."""

    where: str


@dataclass
class _Instance:
    id: str
    attributes: dict[str, str] | None
    meta: dict[str, Any] | None
    tainted: bool
    where: str


@dataclass
class _Resource:
    provider: str
    primary: _Instance | None
    deposed: list[_Instance | _Null] | None
    where: str


@dataclass
class _Output:
    sensitive: bool
    value: Any


@dataclass
class _Module:
    path: list[str] | None
    outputs: dict[str, _Output | _Null] | None
    resources: dict[str, _Resource | _Null] | None
    where: str


@dataclass
class _State:
    terraform_version: str
    serial: int
    lineage: str
    modules: list[_Module | _Null] | None = field(default=None)


def _pointer(decode: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    def element(value: Any, where: str) -> Any:
        return _Null(where) if value is None else decode(value, where)

    return element


def _decode_remote(value: Any, where: str) -> None:
    fields = _struct(value, where, ("type", "config"))
    if fields is not None:
        _string(*_field(fields, "type", where))
        _string_map(*_field(fields, "config", where))


# stateV1 and friends (version1.go)


def _decode_v1(raw: dict) -> _State:
    fields = _struct(raw, "", ("version", "serial", "remote", "modules"))
    assert fields is not None
    serial = _int(*_field(fields, "serial", ""), _INT64_MIN, _INT64_MAX)
    _decode_remote(*_field(fields, "remote", ""))
    modules = _list(*_field(fields, "modules", ""), _pointer(_decode_module_v1))
    return _State(terraform_version="", serial=serial, lineage="", modules=modules)


def _decode_module_v1(value: Any, where: str) -> _Module:
    fields = _struct(value, where, ("path", "outputs", "resources", "depends_on"))
    assert fields is not None
    path = _string_list(*_field(fields, "path", where))
    outputs = _string_map(*_field(fields, "outputs", where))
    resources = _map(*_field(fields, "resources", where), _pointer(_decode_resource_v1))
    _string_list(*_field(fields, "depends_on", where))
    # upgradeStateV1ToV2 (moduleStateV1.upgradeToV2): outputs become strings, a missing path root.
    return _Module(
        path=path if path else ["root"],
        outputs={name: _Output(sensitive=False, value=text) for name, text in (outputs or {}).items()},
        resources=resources,
        where=where,
    )


def _decode_resource_v1(value: Any, where: str) -> _Resource:
    fields = _struct(value, where, ("type", "depends_on", "primary", "tainted", "deposed", "provider"))
    assert fields is not None
    _string(*_field(fields, "type", where))
    _string_list(*_field(fields, "depends_on", where))
    primary = _decode_instance_v1(*_field(fields, "primary", where))
    # v1 "tainted" instance lists are read and dropped (resourceStateV1.upgradeToV2).
    _list(*_field(fields, "tainted", where), _pointer(_decode_instance_v1))
    deposed = _list(*_field(fields, "deposed", where), _pointer(_decode_instance_v1))
    provider = _string(*_field(fields, "provider", where))
    return _Resource(provider=provider, primary=primary, deposed=deposed or None, where=where)


def _decode_instance_v1(value: Any, where: str) -> _Instance | None:
    fields = _struct(value, where, ("id", "attributes", "meta"))
    if fields is None:
        return None
    return _Instance(
        id=_string(*_field(fields, "id", where)),
        attributes=_string_map(*_field(fields, "attributes", where)),
        meta=_string_map(*_field(fields, "meta", where)),
        tainted=False,
        where=where,
    )


def _upgrade_v1_to_v2(state: _State) -> _State:
    # upgradeStateV1ToV2's remaining work (paths, outputs, meta) happened while decoding.
    return state


# stateV2 / stateV3 (version2.go; version3.go's stateV3 is the same structure)


def _decode_v2(raw: dict) -> _State:
    names = ("version", "terraform_version", "serial", "lineage", "remote", "backend", "modules")
    fields = _struct(raw, "", names)
    assert fields is not None
    terraform_version = _string(*_field(fields, "terraform_version", ""))
    serial = _int(*_field(fields, "serial", ""), _INT64_MIN, _INT64_MAX)
    lineage = _string(*_field(fields, "lineage", ""))
    _decode_remote(*_field(fields, "remote", ""))
    backend, where = _field(fields, "backend", "")
    backend_fields = _struct(backend, where, ("type", "config", "hash"))
    if backend_fields is not None:
        _string(*_field(backend_fields, "type", where))
        _int(*_field(backend_fields, "hash", where), 0, _UINT64_MAX)  # "config" is raw JSON
    modules = _list(*_field(fields, "modules", ""), _pointer(_decode_module_v2))
    return _State(terraform_version=terraform_version, serial=serial, lineage=lineage, modules=modules)


def _decode_module_v2(value: Any, where: str) -> _Module:
    fields = _struct(value, where, ("path", "outputs", "resources", "depends_on"))
    assert fields is not None
    path = _string_list(*_field(fields, "path", where))
    outputs = _map(*_field(fields, "outputs", where), _pointer(_decode_output_v2))
    resources = _map(*_field(fields, "resources", where), _pointer(_decode_resource_v2))
    _string_list(*_field(fields, "depends_on", where))
    return _Module(path=path, outputs=outputs, resources=resources, where=where)


def _decode_output_v2(value: Any, where: str) -> _Output:
    fields = _struct(value, where, ("sensitive", "type", "value"))
    assert fields is not None
    _string(*_field(fields, "type", where))
    return _Output(
        sensitive=_bool(*_field(fields, "sensitive", where)),
        value=_any(*_field(fields, "value", where)),
    )


def _decode_resource_v2(value: Any, where: str) -> _Resource:
    fields = _struct(value, where, ("type", "depends_on", "primary", "deposed", "provider"))
    assert fields is not None
    _string(*_field(fields, "type", where))
    _string_list(*_field(fields, "depends_on", where))
    return _Resource(
        provider=_string(*_field(fields, "provider", where)),
        primary=_decode_instance_v2(*_field(fields, "primary", where)),
        deposed=_list(*_field(fields, "deposed", where), _pointer(_decode_instance_v2)),
        where=where,
    )


def _decode_instance_v2(value: Any, where: str) -> _Instance | None:
    fields = _struct(value, where, ("id", "attributes", "meta", "tainted"))
    if fields is None:
        return None
    return _Instance(
        id=_string(*_field(fields, "id", where)),
        attributes=_string_map(*_field(fields, "attributes", where)),
        meta=_map(*_field(fields, "meta", where), _any),
        tainted=_bool(*_field(fields, "tainted", where)),
        where=where,
    )


# --------------------------------------------------------------------------------------------
# Version 2 -> 3 (version2_upgrade.go)

_COLLECTION_KEY = re.compile(r"(.*\.)#")  # ^(.*\.)#$
_COLLECTION_SUBKEY = re.compile(r"([^.]+)\.")  # ^([^\.]+)\..*
_ATOI = re.compile(r"[+-]?[0-9]+")


def _go_sort_key(text: str) -> bytes:
    # Go sorts strings by their UTF-8 bytes.
    return text.encode("utf-8", "surrogatepass")


def _atoi_ok(text: str) -> bool:
    """Whether Go's strconv.Atoi accepts ``text``."""
    if not _ATOI.fullmatch(text) or len(text.lstrip("+-").lstrip("0")) > 19:
        return False
    return _INT64_MIN <= int(text) <= _INT64_MAX


def _upgrade_v2_to_v3(state: _State) -> _State:
    for module in state.modules or []:
        if isinstance(module, _Null):
            raise _Fail("a module entry must be an object, not null", module.where)
        for resource in (module.resources or {}).values():
            if isinstance(resource, _Null):
                raise _Fail("a resource entry must be an object, not null", resource.where)
            if resource.primary is not None:
                _upgrade_attributes_v2_to_v3(resource.primary)
            for deposed in resource.deposed or []:
                if isinstance(deposed, _Null):
                    raise _Fail("a deposed object must be an object, not null", deposed.where)
                _upgrade_attributes_v2_to_v3(deposed)
    return state


def _upgrade_attributes_v2_to_v3(instance: _Instance) -> None:
    """upgradeAttributesV2ToV3: map counts become ``%``, counts of empty collections go."""
    attributes = instance.attributes
    if not attributes:
        return
    prefixes = sorted(
        (match.group(1) for key in attributes if (match := _COLLECTION_KEY.fullmatch(key))),
        key=_go_sort_key,
    )
    for prefix in prefixes:
        potential = sorted(
            (key[len(prefix) :] for key in attributes if key.startswith(prefix)), key=_go_sort_key
        )
        actual: set[str] = set()
        for key in potential:
            match = _COLLECTION_SUBKEY.match(key)
            if match:
                actual.add(match.group(1))
            elif key != "#":
                actual.add(key)
        old_count_key = prefix + "#"
        if any(not _atoi_ok(key) for key in actual):
            attributes[prefix + "%"] = attributes.get(old_count_key, "")
            attributes.pop(old_count_key, None)
        if not actual:
            attributes.pop(old_count_key, None)


# --------------------------------------------------------------------------------------------
# Version 3 -> 4 (version3_upgrade.go)


def _upgrade_v3_to_v4(state: _State) -> dict:
    if state.serial < 0:
        raise _Fail("the state has a serial less than zero, which is invalid", "serial")

    outputs: dict[str, dict] = {}
    resources: list[dict] = []
    for module in state.modules or []:
        if isinstance(module, _Null):
            raise _Fail("a module entry must be an object, not null", module.where)
        module_path = module.path or []
        path_where = _attr_path(module.where, "path")
        if len(module_path) < 1 or module_path[0] != "root":
            raise _Fail(f"the state contains the invalid module path {_quote_list(module_path)}", path_where)
        for position, name in enumerate(module_path[1:], start=1):
            if not _valid_identifier(name):
                raise _Fail(
                    f"the state contains the invalid module path {_quote_list(module_path)}: "
                    f"{_quote(name)} is not a valid identifier; rename it in Terraform 0.11 "
                    "before upgrading to Terraform 0.12",
                    _index_path(path_where, position),
                )
        module_names = module_path[1:]
        module_address = ".".join(f"module.{name}" for name in module_names)

        by_address: dict[tuple[str, str, str], dict] = {}
        for legacy_address, old in (module.resources or {}).items():
            where = _key_path(_attr_path(module.where, "resources"), legacy_address)
            mode, type_name, name, key = _parse_legacy_resource_address(legacy_address, where)
            instance_address = _resource_string(mode, type_name, name) + ("" if key is None else f"[{key}]")
            if isinstance(old, _Null):
                raise _Fail("a resource entry must be an object, not null", where)

            resource = by_address.get((mode, type_name, name))
            if resource is None:
                resource = {
                    "module": module_address,
                    "mode": mode,
                    "type": type_name,
                    "name": name,
                    "each": "",
                    "provider": _upgrade_provider(
                        old.provider, module_names, type_name, instance_address, _attr_path(where, "provider")
                    ),
                    "instances": [],
                }
                by_address[(mode, type_name, name)] = resource

            if old.primary is not None:
                resource["instances"].append(_upgrade_instance(old.primary, key, ""))
            for number, deposed in enumerate(old.deposed or []):
                if isinstance(deposed, _Null):
                    raise _Fail("a deposed object must be an object, not null", deposed.where)
                # Sequential deposed keys keep the upgrade deterministic.
                resource["instances"].append(_upgrade_instance(deposed, key, f"{number + 1:08x}"))

            if key is not None and not resource["each"]:
                resource["each"] = "list"

        resources.extend(by_address.values())

        if len(module_path) == 1 and module_path[0] == "root":
            for name, output in (module.outputs or {}).items():
                if isinstance(output, _Null):
                    raise _Fail("an output must be an object, not null", output.where)
                rendered = {
                    "value": output.value,
                    "type": _simplify_implied_type(_implied_type(output.value)),
                }
                if output.sensitive:
                    rendered["sensitive"] = True
                outputs[name] = rendered

    # stateV4.normalize: stable sorts of resources and of each resource's instances.
    resources.sort(key=lambda r: tuple(_go_sort_key(r[k]) for k in ("module", "mode", "type", "name")))
    for resource in resources:
        resource["instances"].sort(key=_instance_sort_key)
        if not resource["module"]:
            del resource["module"]
        if not resource["each"]:
            del resource["each"]

    return {
        "version": 4,
        "terraform_version": state.terraform_version or "0.0.0",
        "serial": state.serial,
        "lineage": state.lineage,
        "outputs": outputs,
        "resources": resources,
    }


def _quote_list(items: list[str]) -> str:
    return "[" + ", ".join(_quote(item) for item in items) + "]"


def _resource_string(mode: str, type_name: str, name: str) -> str:
    return f"data.{type_name}.{name}" if mode == "data" else f"{type_name}.{name}"


def _instance_sort_key(instance: dict) -> tuple:
    key = instance.get("index_key")
    return (0, 0) if key is None else (1, key), _go_sort_key(instance.get("deposed", ""))


def _upgrade_instance(old: _Instance, key: int | None, deposed: str) -> dict:
    """upgradeInstanceObjectV3ToV4."""
    meta = old.meta if old.meta is not None else {}
    schema_version = 0
    migrated = False
    if "schema_version" in meta:
        raw = meta["schema_version"]
        where = _attr_path(_attr_path(old.where, "meta"), "schema_version")
        if isinstance(raw, str):
            parsed = _parse_uint64(raw)
            if parsed is not None:
                schema_version, migrated = parsed, True
        elif isinstance(raw, int | float) and not isinstance(raw, bool):
            truncated = math.trunc(raw)
            if not 0 <= truncated <= _UINT64_MAX:
                raise _Fail(f"schema_version {_number_text(raw)} is out of range (0 to {_UINT64_MAX})", where)
            schema_version, migrated = truncated, True

    private = {k: v for k, v in meta.items() if not (k == "schema_version" and migrated)}

    attributes = dict(old.attributes) if old.attributes is not None else None
    if old.id != "":
        # A first-class ID with no "id" attribute becomes a synthetic one.
        if attributes is None:
            attributes = {}
        if attributes.get("id", "") == "":
            attributes["id"] = old.id

    result: dict[str, Any] = {}
    if key is not None:
        result["index_key"] = key
    if old.tainted:
        result["status"] = "tainted"
    if deposed:
        result["deposed"] = deposed
    result["schema_version"] = schema_version
    if attributes:
        result["attributes_flat"] = attributes
    if private:
        result["private"] = base64.b64encode(_go_json(private).encode("utf-8")).decode("ascii")
    return result


def _parse_uint64(text: str) -> int | None:
    """strconv.ParseUint(text, 10, 64), None on error."""
    if not re.fullmatch(r"[0-9]+", text) or len(text.lstrip("0")) > 20:
        return None
    value = int(text)
    return value if value <= _UINT64_MAX else None


def _parse_legacy_resource_address(address: str, where: str) -> tuple[str, str, str, int | None]:
    """parseLegacyResourceAddress: ``type.name``, ``type.name.N``, ``data.type.name[.N]``."""
    parts = address.split(".")
    if len(parts) < 2 or len(parts) > 4:
        raise _Fail(f"invalid internal resource address format: {address}", where)
    mode = "managed"
    if len(parts) > 2 and parts[0] == "data":
        mode = "data"
        parts = parts[1:]
    if len(parts) > 3 and mode != "data":
        raise _Fail(f"invalid internal resource address format: {address}", where)
    key = None
    if len(parts) > 2:
        try:
            key = _go_parse_int(parts[2])
        except ValueError as exc:
            raise _Fail(
                f"error parsing resource address {_quote(address)}: strconv.ParseInt: "
                f"parsing {_quote(parts[2])}: {exc}",
                where,
            ) from None
    return mode, parts[0], parts[1], key


def _go_parse_int(text: str) -> int:
    """strconv.ParseInt(text, 0, 0) on a 64-bit platform (base prefixes, leading-0 octal, ``_``)."""
    if not text:
        raise ValueError("invalid syntax")
    negative = text[0] == "-"
    digits = text[1:] if text[0] in "+-" else text
    unsigned = digits
    if not digits:
        raise ValueError("invalid syntax")
    base = 10
    if digits[0] == "0":
        prefix = digits[1:2].lower()
        if len(digits) >= 3 and prefix in ("b", "o", "x"):
            base = {"b": 2, "o": 8, "x": 16}[prefix]
            digits = digits[2:]
        else:
            base = 8
            digits = digits[1:]
    value = 0
    underscores = False
    for char in digits:
        if char == "_":
            underscores = True
            continue
        if "0" <= char <= "9":
            digit = ord(char) - ord("0")
        elif "a" <= char <= "z":
            digit = ord(char) - ord("a") + 10
        elif "A" <= char <= "Z":
            digit = ord(char) - ord("A") + 10
        else:
            raise ValueError("invalid syntax")
        if digit >= base:
            raise ValueError("invalid syntax")
        value = value * base + digit
        if value > _UINT64_MAX:
            raise ValueError("value out of range")
    if underscores and not _underscore_ok(unsigned):
        raise ValueError("invalid syntax")
    if (not negative and value > _INT64_MAX) or (negative and value > -_INT64_MIN):
        raise ValueError("value out of range")
    return -value if negative else value


def _underscore_ok(text: str) -> bool:
    """strconv's underscoreOK: underscores only between digits or after a base prefix."""
    saw = "^"
    i = 0
    hexadecimal = False
    if len(text) >= 2 and text[0] == "0" and text[1].lower() in ("b", "o", "x"):
        i = 2
        saw = "0"
        hexadecimal = text[1].lower() == "x"
    while i < len(text):
        char = text[i]
        if "0" <= char <= "9" or (hexadecimal and "a" <= char.lower() <= "f"):
            saw = "0"
        elif char == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
        i += 1
    return saw != "_"


# Outputs: ctyjson.ImpliedType, simplifyImpliedValueType, ctyjson.MarshalType


def _implied_type(value: Any) -> Any:
    if value is None:
        return "dynamic"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return ["tuple", [_implied_type(element) for element in value]]
    return ["object", {key: _implied_type(element) for key, element in value.items()}]


def _simplify_implied_type(ty: Any) -> Any:
    """Uniform tuples become lists and uniform objects maps, as pre-0.12 values were."""
    if isinstance(ty, list) and ty[0] == "tuple":
        elements = ty[1]
        if elements and all(element == elements[0] for element in elements[1:]):
            return ["list", _simplify_implied_type(elements[0])]
    elif isinstance(ty, list) and ty[0] == "object":
        attributes = list(ty[1].values())
        if attributes and all(element == attributes[0] for element in attributes[1:]):
            return ["map", _simplify_implied_type(attributes[0])]
    return ty


# Provider addresses


def _upgrade_provider(old: str, module_names: list[str], type_name: str, instance: str, where: str) -> str:
    if "provider." in old:
        # Smells like a new-style (0.11) address: addrs.ParseLegacyAbsProviderConfigStr.
        try:
            modules, provider_type, alias = _parse_legacy_abs_provider_config(old)
        except _AddressError as exc:
            raise _Fail(
                _provider_error("invalid provider config reference", old, instance, exc), where
            ) from None
        return _legacy_provider_string(modules, provider_type, alias)
    if old:
        # An old module-local form ("aws", "aws.west"): configs.ParseProviderConfigCompactStr,
        # assumed to belong to the resource's own module.
        try:
            local_name, alias = _parse_provider_config_compact(old)
        except _AddressError as exc:
            message = _provider_error("invalid legacy provider config reference", old, instance, exc)
            raise _Fail(message, where) from None
        return _legacy_provider_string(module_names, local_name, alias)
    # No provider recorded: the default configuration of the implied provider.
    return _legacy_provider_string(module_names, type_name.split("_", 1)[0], "")


def _provider_error(what: str, old: str, instance: str, exc: _AddressError) -> str:
    if "${" in old:
        return (
            f"{what} {_quote(old)} for {instance}: this alias seems to contain a template "
            "interpolation sequence, which was not supported but also not error-checked in "
            "Terraform 0.11. To proceed, rename the associated provider alias to a valid "
            "identifier and apply the change with Terraform 0.11 before upgrading to Terraform 0.12"
        )
    return f"{what} {_quote(old)} for {instance}: {exc}"


def _legacy_provider_string(module_names: list[str], provider_type: str, alias: str) -> str:
    """AbsProviderConfig.LegacyString for a legacy or built-in provider."""
    text = f"provider.{provider_type}" + (f".{alias}" if alias else "")
    if module_names:
        return ".".join(f"module.{name}" for name in module_names) + "." + text
    return text


class _AddressError(Exception):
    pass


def _parse_legacy_abs_provider_config(text: str) -> tuple[list[str], str, str]:
    """addrs.ParseLegacyAbsProviderConfigStr: ``[module.NAME.]*provider.TYPE[.ALIAS]``."""
    steps = _parse_traversal(text)
    # parseModuleInstancePrefix
    modules: list[str] = []
    keyed = False
    problem = ""
    remain = steps
    while remain:
        kind, name = remain[0]
        if kind == "index":
            problem = "Module address prefix must be followed by dot and then a name."
            break
        if name != "module":
            break
        remain = remain[1:]
        if not remain or remain[0][0] != "attr":
            problem = 'Prefix "module." must be followed by a module name.'
            break
        modules.append(remain[0][1])
        remain = remain[1:]
        if remain and remain[0][0] == "index":
            keyed = True
            remain = remain[1:]
    if keyed:
        raise _AddressError("Provider address cannot contain module indexes")
    if len(remain) < 2 or remain[0][0] == "index" or remain[0][1] != "provider":
        raise _AddressError(
            problem or 'Provider address must begin with "provider.", followed by a provider type name.'
        )
    if len(remain) > 3:
        raise _AddressError("Extraneous operators after provider configuration alias.")
    if remain[1][0] != "attr":
        raise _AddressError('The prefix "provider." must be followed by a provider type name.')
    alias = ""
    if len(remain) == 3:
        if remain[2][0] != "attr":
            raise _AddressError("Provider type name must be followed by a configuration alias name.")
        alias = remain[2][1]
    if problem:
        raise _AddressError(problem)
    return modules, remain[1][1], alias


def _parse_provider_config_compact(text: str) -> tuple[str, str]:
    """configs.ParseProviderConfigCompactStr: ``NAME`` or ``NAME.ALIAS`` (later steps ignored)."""
    steps = _parse_traversal(text)
    if len(steps) < 2:
        return steps[0][1], ""
    if steps[1][0] == "attr":
        return steps[0][1], steps[1][1]
    raise _AddressError(
        "The provider type name must either stand alone or be followed by an alias name separated with a dot."
    )


# A small port of hclsyntax.ParseTraversalAbs: ROOT ( "." NAME | "[" NUMBER "]" | "[" "STRING" "]" )*,
# newlines, spaces and comments between tokens ignored.

_NUMBER_TOKEN = re.compile(r"[0-9](?:[0-9]|\.|[eE][+-]?[0-9])*")
_NUMBER_VALUE = re.compile(r"[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?")


def _is_ident_start(char: str) -> bool:
    return char == "_" or char.isidentifier()


def _is_ident_continue(char: str) -> bool:
    return char == "-" or ("_" + char).isidentifier()


def _valid_identifier(name: str) -> bool:
    """hclsyntax.ValidIdentifier."""
    return bool(name) and _is_ident_start(name[0]) and all(_is_ident_continue(c) for c in name[1:])


def _lex(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in " \t\n":
            i += 1
        elif text.startswith("\r\n", i):
            i += 2
        elif char == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise _AddressError("Unterminated comment.")
            i = end + 2
        elif _is_ident_start(char):
            j = i + 1
            while j < n and _is_ident_continue(text[j]):
                j += 1
            tokens.append(("ident", text[i:j]))
            i = j
        elif "0" <= char <= "9":
            match = _NUMBER_TOKEN.match(text, i)
            assert match is not None
            literal = match.group(0).rstrip(".")
            tokens.append(("number", literal))
            i += len(literal)
        elif char == '"':
            i = _lex_quoted(text, i + 1)
            tokens.append(("string", ""))
        elif char in ".[]":
            tokens.append((char, char))
            i += 1
        else:
            raise _AddressError(f"Invalid character {_quote(char)}.")
    return tokens


def _lex_quoted(text: str, i: int) -> int:
    """Skip a quoted string literal starting after its opening quote; return the index past it."""
    n = len(text)
    while i < n:
        char = text[i]
        if char == '"':
            return i + 1
        if char == "\n":
            break
        if char == "\\":
            escape = text[i + 1 : i + 2]
            if escape in ('"', "\\", "n", "r", "t"):
                i += 2
                continue
            width = {"u": 4, "U": 8}.get(escape)
            if width and re.fullmatch(rf"[0-9A-Fa-f]{{{width}}}", text[i + 2 : i + 2 + width]):
                i += 2 + width
                continue
            raise _AddressError("Invalid escape sequence in a string.")
        if char in "$%" and text.startswith(char + char + "{", i):
            i += 3
            continue
        if char in "$%" and text[i + 1 : i + 2] == "{":
            raise _AddressError("Template sequences are not allowed in this string.")
        i += 1
    raise _AddressError("Unterminated string literal.")


def _parse_traversal(text: str) -> list[tuple[str, str]]:
    """Steps as ``("root"|"attr", name)`` or ``("index", "")``."""
    tokens = _lex(text)
    if not tokens or tokens[0][0] != "ident":
        raise _AddressError("Must begin with a variable name.")
    steps = [("root", tokens[0][1])]
    i = 1
    while i < len(tokens):
        kind = tokens[i][0]
        if kind == ".":
            if i + 1 >= len(tokens) or tokens[i + 1][0] != "ident":
                raise _AddressError("Dot must be followed by attribute name.")
            steps.append(("attr", tokens[i + 1][1]))
            i += 2
        elif kind == "[":
            key = tokens[i + 1] if i + 1 < len(tokens) else ("", "")
            if key[0] not in ("number", "string"):
                raise _AddressError(
                    "Index brackets must contain either a literal number or a literal string."
                )
            if key[0] == "number" and not _NUMBER_VALUE.fullmatch(key[1]):
                raise _AddressError(f"Invalid number literal {key[1]}.")
            if i + 2 >= len(tokens) or tokens[i + 2][0] != "]":
                raise _AddressError("Index key must be followed by a closing bracket.")
            steps.append(("index", ""))
            i += 3
        else:
            raise _AddressError("Expected an attribute access or an index operator.")
    return steps


# encoding/json.Marshal, for the private blob (map keys sorted, HTML-safe escaping)


def _go_json(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return _go_string(value)
    if isinstance(value, list):
        return "[" + ",".join(_go_json(element) for element in value) + "]"
    items = sorted(value.items(), key=lambda item: _go_sort_key(item[0]))
    return "{" + ",".join(f"{_go_string(k)}:{_go_json(v)}" for k, v in items) + "}"


_GO_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _go_string(text: str) -> str:
    out = ['"']
    for char in text:
        code = ord(char)
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif code < 0x20 or char in "<>&\u2028\u2029":
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\ufffd")  # Go decodes a lone surrogate escape to U+FFFD
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _go_float(number: float) -> str:
    """encoding/json's float64 format: shortest digits, exponent only below 1e-6 or from 1e21."""
    if number == 0:
        return "-0" if math.copysign(1.0, number) < 0 else "0"
    decimal = Decimal(repr(number)).normalize()
    if abs(number) < 1e-6 or abs(number) >= 1e21:
        sign, digits, exponent = decimal.as_tuple()
        assert isinstance(exponent, int)
        mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
        power = exponent + len(digits) - 1
        text = f"{'-' if sign else ''}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
        if power < 0 and abs(power) < 10:
            text = text[:-2] + text[-1]  # e-07 -> e-7
        return text
    return format(decimal, "f")
