"""Read any Terraform state (format v1-v4) and write v4 exactly as Terraform does.

Reading (Terraform's ``statefile.Read``):
  * v4 is kept field for field: unknown keys, ``private`` (base64, byte for byte),
    ``sensitive_attributes``, ``check_results``, deposed and tainted objects,
    ``identity``. Legacy provider strings (``provider.aws``) are normalised to the
    modern form as Terraform's reader does.
  * v1-v3 are upgraded in memory (``legacy.upgrade_to_v4``).
  * Anything malformed raises StateFormatError naming the file and the JSON field.

Writing (Terraform's ``writeStateV4``): resources sorted by module, mode, type,
name; instances by key then deposed key; struct fields in Go declaration order;
``attributes_flat`` and ``outputs`` sorted (Go maps); two-space indent; Go's HTML
escaping of ``<``, ``>``, ``&``; a trailing newline. Numbers beyond 64 bits
(Terraform writes ``1e20`` as ``100000000000000000000``) survive both ways.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import operator
import re
from typing import Any

import orjson

from driftmgr_tui.core.errors import StateFormatError
from driftmgr_tui.state.model import Json, StateFile
from driftmgr_tui.state.providers import normalize_provider

SUPPORTED_VERSION = 4

TOP_ORDER = ("version", "terraform_version", "serial", "lineage", "outputs", "resources", "check_results")
RESOURCE_ORDER = ("module", "mode", "type", "name", "each", "provider", "instances")
INSTANCE_ORDER = (
    "index_key",
    "status",
    "deposed",
    "schema_version",
    "attributes",
    "attributes_flat",
    "sensitive_attributes",
    "identity_schema_version",
    "identity",
    "private",
    "dependencies",
    "depends_on",
    "create_before_destroy",
)
OUTPUT_ORDER = ("value", "type", "sensitive")
# Go's encoding/json ``omitempty``: these keys are dropped when they hold their zero value.
_INSTANCE_OMIT_EMPTY = {
    "index_key": (None,),
    "status": ("",),
    "deposed": ("",),
    "private": ("",),
    "dependencies": ((),),
    "create_before_destroy": (False,),
}

# orjson parses integers outside [-2**63, 2**64 - 1] as floats. Such a literal has a run of at least 19
# digits; runs are found by mapping every digit to "0" (bytes.translate) and searching for 19 of them,
# an order of magnitude faster than a regex over the whole file. Only a run that is an integer token
# (not inside a string, not a fraction or an exponent) and out of range sends the file to the exact parser.
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 else b for b in range(256))
_DIGIT_RUN = b"0" * 19
_BEFORE_NUMBER = frozenset(b" \t\r\n[,:")
_NOT_INTEGER_AFTER = frozenset(b".eE")
_SCAN_CHUNK = 1 << 18  # translate in cache-sized pieces: no second copy of a large file


# --------------------------------------------------------------------------- reading
def loads_json(data: bytes, *, path: str | None = None) -> Any:
    """Parse JSON bytes, keeping integers beyond 64 bits exact. Errors name the line and column."""
    if not data or data.isspace():  # not data.strip(), which copies the whole file
        raise StateFormatError("the file is empty (expected a JSON state object)", path=path)
    try:
        if not _has_wide_integer(data):
            return orjson.loads(data)
        # orjson turns integers wider than 64 bits into floats; the standard library keeps them exact.
        return json.loads(data)
    except (orjson.JSONDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _json_error(exc, data, path) from None


def _has_wide_integer(data: bytes) -> bool:
    """Whether ``data`` may hold an integer literal orjson would turn into a float (beyond 64 bits)."""
    n = len(data)
    table, run = _DIGITS_AS_ZERO, _DIGIT_RUN
    for pos in range(0, n, _SCAN_CHUNK):
        # The window overlaps the next chunk by a run's length, so every run starting in this chunk is seen.
        window = data[pos : pos + _SCAN_CHUNK + 19].translate(table)
        i = window.find(run)
        while i >= 0:
            start = pos + i
            end = start + 19
            while end < n and 0x30 <= data[end] <= 0x39:
                end += 1
            if _is_wide_integer_token(data, start, end):
                return True
            i = window.find(run, end - pos)
    return False


def _is_wide_integer_token(data: bytes, start: int, end: int) -> bool:
    """``data[start:end]`` is a run of digits: is it a JSON integer outside [-2**63, 2**64 - 1]?"""
    negative = start > 0 and data[start - 1] == 0x2D  # "-"
    before = start - 1 - negative
    if before >= 0 and data[before] not in _BEFORE_NUMBER:
        return False  # inside a string, or the middle of a longer run (already looked at)
    if end < len(data) and data[end] in _NOT_INTEGER_AFTER:
        return False  # a fraction or an exponent: a float for both parsers
    if end - start > 20:
        return True
    value = int(data[start:end])
    return value > 2**63 if negative else value > 2**64 - 1


def _json_error(exc: Exception, data: bytes, path: str | None) -> StateFormatError:
    if isinstance(exc, UnicodeDecodeError):
        line = data.count(b"\n", 0, exc.start) + 1
        return StateFormatError(f"invalid UTF-8 at line {line} (byte {exc.start})", path=path)
    msg = getattr(exc, "msg", str(exc))
    lineno = getattr(exc, "lineno", None)
    colno = getattr(exc, "colno", None)
    truncated = "unexpected end" in msg or ("Expecting" in msg and getattr(exc, "pos", 0) >= len(data.rstrip()))
    detail = "the file is truncated or not valid JSON" if truncated else "not valid JSON"
    where = f" at line {lineno}, column {colno}" if lineno else ""
    return StateFormatError(f"{detail}{where}: {msg}", path=path)


def read_state(data: bytes, *, path: str | None = None) -> StateFile:
    """Parse state bytes of any supported format version into a v4 StateFile."""
    raw = loads_json(data, path=path)
    return state_from_json(raw, path=path)


def state_from_json(raw: Any, *, path: str | None = None) -> StateFile:
    if not isinstance(raw, dict):
        raise StateFormatError(f"expected a JSON object at the top level, found {_kind(raw)}", path=path)
    if "version" not in raw:
        raise StateFormatError("missing the \"version\" field; is this a Terraform state file?", path=path,
                               field="version")
    version = raw["version"]
    if type(version) is not int:
        raise StateFormatError(f"expected an integer, found {_kind(version)}", path=path, field="version")
    if version > SUPPORTED_VERSION:
        raise StateFormatError(
            f"state format version {version} is newer than this driftmgr understands "
            f"(up to {SUPPORTED_VERSION}); it was written by a newer Terraform",
            path=path,
            field="version",
            hint="upgrade driftmgr; the file was left untouched",
        )
    source_version = version
    if version < SUPPORTED_VERSION:
        from driftmgr_tui.state.legacy import upgrade_to_v4

        raw = upgrade_to_v4(raw, path=path)
    state = StateFile(raw, source_version=source_version, path=path)
    _check_v4(state, path)
    state.reindex()
    return state


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _expect(value: Any, kind: type | tuple[type, ...], path: str | None, field: str, what: str) -> None:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise StateFormatError(f"expected {what}, found {_kind(value)}", path=path, field=field)



def _check_v4(state: StateFile, path: str | None) -> None:
    """Type-check the v4 structure (Go's json.Unmarshal into stateV4 plus prepareStateV4's checks)."""
    data = state.data
    tv = data.get("terraform_version", "")
    _expect(tv, str, path, "terraform_version", "a string")
    if tv and not re.match(r"^v?\d+(\.\d+)*([-+][0-9A-Za-z.+-]*)?$", tv):
        raise StateFormatError(f"{tv!r} is not a valid Terraform version string", path=path,
                               field="terraform_version")
    serial = data.get("serial", 0)
    if type(serial) is not int or serial < 0:
        raise StateFormatError(f"expected a non-negative integer, found {_kind(serial)}", path=path, field="serial")
    _expect(data.get("lineage", ""), str, path, "lineage", "a string")

    outputs = data.get("outputs")
    if outputs is not None:
        _expect(outputs, dict, path, "outputs", "an object")
        for name, out in outputs.items():
            _expect(out, dict, path, f"outputs.{name}", "an object")
            if "value" not in out:
                raise StateFormatError("missing \"value\"", path=path, field=f"outputs.{name}")
            if "type" not in out:
                raise StateFormatError("missing \"type\"", path=path, field=f"outputs.{name}")
            if "sensitive" in out and not isinstance(out["sensitive"], bool):
                raise StateFormatError(f"expected a boolean, found {_kind(out['sensitive'])}", path=path,
                                       field=f"outputs.{name}.sensitive")

    checks = data.get("check_results")
    if checks is not None:
        _expect(checks, list, path, "check_results", "an array or null")

    resources = data.get("resources")
    if resources is None:
        data["resources"] = resources = []
    _expect(resources, list, path, "resources", "an array")
    seen = _Seen()
    for r, res in enumerate(resources):
        _check_resource(res, r, path, seen)


class _Seen:
    """Values already found valid while checking one state: a state repeats a few module paths,
    provider addresses and ``private`` blobs across thousands of resources."""

    __slots__ = ("modules", "private", "providers")

    def __init__(self) -> None:
        self.modules: set[str] = set()
        self.providers: dict[str, str] = {}
        self.private: set[str] = set()


def _check_resource(res: Any, r: int, path: str | None, seen: _Seen | None = None) -> None:
    if seen is None:
        seen = _Seen()
    where = f"resources[{r}]"
    _expect(res, dict, path, where, "an object")
    mode = res.get("mode")
    if mode not in ("managed", "data"):
        raise StateFormatError(f"resource mode must be \"managed\" or \"data\", found {mode!r}", path=path,
                               field=f"{where}.mode")
    for key in ("type", "name"):
        value = res.get(key)
        if not isinstance(value, str) or not value:
            raise StateFormatError(f"expected a non-empty string, found {_kind(value)}", path=path,
                                   field=f"{where}.{key}")
    module = res.get("module", "")
    if type(module) is not str:
        _expect(module, str, path, f"{where}.module", "a string")
    if module and module not in seen.modules:
        from driftmgr_tui.state.address import parse_module_path

        try:
            parse_module_path(module)
        except Exception as exc:
            raise StateFormatError(f"invalid module path {module!r}: {exc}", path=path,
                                   field=f"{where}.module") from None
        seen.modules.add(module)
    each = res.get("each")
    if each is not None and each not in ("list", "map", ""):
        raise StateFormatError(f"\"each\" must be \"list\" or \"map\", found {each!r}", path=path,
                               field=f"{where}.each")
    provider = res.get("provider")
    normalized = seen.providers.get(provider) if type(provider) is str else None
    if normalized is None:
        normalized = normalize_provider(provider) if isinstance(provider, str) else None
        if normalized is not None and type(provider) is str:
            seen.providers[provider] = normalized
    if normalized is None:
        raise StateFormatError(
            f"invalid provider configuration address {provider!r} "
            '(expected e.g. provider["registry.terraform.io/hashicorp/aws"])',
            path=path,
            field=f"{where}.provider",
        )
    if normalized != provider:
        res["provider"] = normalized
    instances = res.get("instances")
    if instances is None:
        res["instances"] = instances = []
    if type(instances) is not list:
        _expect(instances, list, path, f"{where}.instances", "an array")
    valid_private = seen.private
    for i, inst in enumerate(instances):
        if type(inst) is not dict:
            raise StateFormatError(f"expected an object, found {_kind(inst)}", path=path,
                                   field=f"{where}.instances[{i}]")
        if not _looks_valid(inst, valid_private):
            # The full check names the field at fault (or finds nothing wrong).
            _check_instance(inst, f"{where}.instances[{i}]", path)
            private = inst.get("private")
            if type(private) is str:
                valid_private.add(private)


def _looks_valid(inst: Json, valid_private: set[str]) -> bool:
    """The fast path of _check_instance for the common shape of an instance object. Conservative:
    True only when _check_instance would pass; rarer fields are left to it."""
    get = inst.get
    key = get("index_key")
    if key is not None and (type(key) is not str and (type(key) is not int or key < 0)):
        return False
    sv = get("schema_version", 0)
    if type(sv) is not int or sv < 0:
        return False
    attrs = get("attributes")
    if attrs is not None and type(attrs) is not dict:
        return False
    sens = get("sensitive_attributes")
    if sens is not None and type(sens) is not list:
        return False
    private = get("private")
    if private is not None and (type(private) is not str or private not in valid_private):
        return False  # base64 not checked yet
    deps = get("dependencies")
    if deps is not None:
        if type(deps) is not list:
            return False
        for dep in deps:
            if type(dep) is not str:
                return False
    cbd = get("create_before_destroy")
    if cbd is not None and type(cbd) is not bool:
        return False
    rare = ("status" in inst) or ("deposed" in inst) or ("attributes_flat" in inst) or ("depends_on" in inst)
    return not rare


def _check_instance(inst: Json, where: str, path: str | None) -> None:
    get = inst.get
    key = get("index_key")
    if key is not None and (type(key) is not int and type(key) is not str):
        raise StateFormatError(f"instance key must be an integer, a string or absent, found {_kind(key)}",
                               path=path, field=f"{where}.index_key")
    if type(key) is int and key < 0:
        raise StateFormatError(f"instance key must not be negative, found {key}", path=path,
                               field=f"{where}.index_key")
    sv = get("schema_version", 0)
    if type(sv) is not int or sv < 0:
        raise StateFormatError(f"expected a non-negative integer, found {_kind(sv)}", path=path,
                               field=f"{where}.schema_version")
    attrs = get("attributes")
    if attrs is not None and type(attrs) is not dict:
        raise StateFormatError(f"expected an object, found {_kind(attrs)}", path=path,
                               field=f"{where}.attributes")
    status = get("status")
    if status is not None and status not in ("", "tainted"):
        raise StateFormatError(f"invalid status {status!r} (only \"tainted\" is allowed)", path=path,
                               field=f"{where}.status")
    deposed = get("deposed")
    if deposed is not None and deposed != "" and (type(deposed) is not str or len(deposed) != 8):
        raise StateFormatError(f"deposed key {deposed!r} is not 8 characters", path=path,
                               field=f"{where}.deposed")
    # Unknown fields are kept as they are.
    flat = get("attributes_flat")
    if flat is not None:
        _expect(flat, dict, path, f"{where}.attributes_flat", "an object")
        for k, v in flat.items():
            if type(v) is not str:
                raise StateFormatError(f"expected a string, found {_kind(v)}", path=path,
                                       field=f"{where}.attributes_flat.{k}")
    sens = get("sensitive_attributes")
    if sens is not None and type(sens) is not list:
        raise StateFormatError(f"expected an array, found {_kind(sens)}", path=path,
                               field=f"{where}.sensitive_attributes")
    private = get("private")
    if private is not None:
        if type(private) is not str:
            raise StateFormatError(f"expected a base64 string, found {_kind(private)}", path=path,
                                   field=f"{where}.private")
        try:
            base64.b64decode(private, validate=True)
        except (binascii.Error, ValueError):
            raise StateFormatError("not valid base64", path=path, field=f"{where}.private") from None
    for key_name in ("dependencies", "depends_on"):
        deps = get(key_name)
        if deps is not None and (type(deps) is not list or not all(type(d) is str for d in deps)):
            raise StateFormatError("expected an array of address strings", path=path,
                                   field=f"{where}.{key_name}")
    cbd = get("create_before_destroy")
    if cbd is not None and type(cbd) is not bool:
        raise StateFormatError(f"expected a boolean, found {_kind(cbd)}", path=path,
                               field=f"{where}.create_before_destroy")


# --------------------------------------------------------------------------- writing
_ORDER_CACHE: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[str, ...] | None] = {}


def _ordered_keys(keys: tuple[str, ...], order: tuple[str, ...]) -> tuple[str, ...] | None:
    """The key order Terraform writes for an object with ``keys``; None when ``keys`` already is it.

    Known keys follow the Go struct order; unknown keys (from a newer Terraform) keep their
    relative order after the known ones. Memoised: a state has few distinct key sets.
    """
    cache_key = (keys, order)
    try:
        return _ORDER_CACHE[cache_key]
    except KeyError:
        pass
    known = [k for k in order if k in keys]
    unknown = [k for k in keys if k not in order]
    wanted = tuple(known + unknown)
    result = None if wanted == keys else wanted
    if len(_ORDER_CACHE) < 10_000:
        _ORDER_CACHE[cache_key] = result
    return result


def _reorder(obj: Json, order: tuple[str, ...]) -> Json:
    wanted = _ordered_keys(tuple(obj), order)
    if wanted is None:
        return obj
    return {k: obj[k] for k in wanted}


def _instance_sort_key(inst: Json) -> tuple:
    key = inst.get("index_key")
    deposed = inst.get("deposed") or ""
    if key is None:
        return (0, 0, "", deposed)
    if type(key) is int:
        return (1, key, "", deposed)
    return (2, 0, key, deposed)


def _resource_sort_key(res: Json) -> tuple[str, str, str, str]:
    return (res.get("module", ""), res["mode"], res["type"], res["name"])


def _is_sorted(items: list, keyfunc) -> bool:
    prev = None
    for item in items:
        k = keyfunc(item)
        if prev is not None and k < prev:
            return False
        prev = k
    return True


# Per key set of an instance object: its omitempty keys with their zero values, whether it has
# attributes_flat, and the key order to write (None: already in order). A state has few key sets.
_InstancePlan = tuple[tuple[tuple[str, tuple[Any, ...]], ...], bool, tuple[str, ...] | None]
_INSTANCE_PLANS: dict[tuple[str, ...], _InstancePlan] = {}


def _instance_plan(keys: tuple[str, ...]) -> _InstancePlan:
    omittable = tuple((k, empties) for k, empties in _INSTANCE_OMIT_EMPTY.items() if k in keys)
    plan = (omittable, "attributes_flat" in keys, _ordered_keys(keys, INSTANCE_ORDER))
    if len(_INSTANCE_PLANS) < 10_000:
        _INSTANCE_PLANS[keys] = plan
    return plan


def _instances_sorted(instances: list[Json]) -> bool:
    """``_is_sorted(instances, _instance_sort_key)``, with a fast path for the usual case: keys all
    integers or all strings and strictly increasing (then deposed keys cannot matter)."""
    keys = [inst.get("index_key") for inst in instances]
    kinds = set(map(type, keys))
    if (kinds == {int} or kinds == {str}) and all(map(operator.lt, keys, keys[1:])):
        return True
    return _is_sorted(instances, _instance_sort_key)


def _prepare_resources(resources: list[Json]) -> list[Json] | None:
    """The prepared resources when they are already in Terraform's order (one pass over memory
    that a large state does not keep in cache); None when they must be sorted first."""
    out = []
    append = out.append
    prev: tuple[str, str, str, str] | None = None
    for res in resources:
        key = (res.get("module", ""), res["mode"], res["type"], res["name"])
        if prev is not None and key < prev:
            return None
        prev = key
        append(_prepare_resource(res))
    return out


def _prepare_instance(inst: Json) -> Json:
    keys = tuple(inst)
    plan = _INSTANCE_PLANS.get(keys)
    if plan is None:
        plan = _instance_plan(keys)
    omittable, has_flat, wanted = plan
    if has_flat:
        return _prepare_instance_full(inst)
    for k, empties in omittable:
        v = inst[k]
        # Only a falsy value can equal a zero value ("", None, False, [] or ()).
        if not v and any(v == e or (e == () and v == []) for e in empties):
            return _prepare_instance_full(inst)
    if wanted is None:
        return inst
    return {k: inst[k] for k in wanted}


def _prepare_instance_full(inst: Json) -> Json:
    out = inst
    for k, empties in _INSTANCE_OMIT_EMPTY.items():
        if k in out:
            v = out[k]
            if any(v == e or (e == () and v == []) for e in empties):
                if out is inst:
                    out = dict(inst)
                del out[k]
    flat = out.get("attributes_flat")
    if flat is not None:
        if flat:
            if list(flat) != sorted(flat):
                if out is inst:
                    out = dict(inst)
                out["attributes_flat"] = {k: flat[k] for k in sorted(flat)}
        else:
            if out is inst:
                out = dict(inst)
            del out["attributes_flat"]
    return _reorder(out, INSTANCE_ORDER)


# Per key set of a resource object: has "module", has "each", key order to write (None: in order).
_RESOURCE_PLANS: dict[tuple[str, ...], tuple[bool, bool, tuple[str, ...] | None]] = {}


def _resource_plan(keys: tuple[str, ...]) -> tuple[bool, bool, tuple[str, ...] | None]:
    plan = ("module" in keys, "each" in keys, _ordered_keys(keys, RESOURCE_ORDER))
    if len(_RESOURCE_PLANS) < 10_000:
        _RESOURCE_PLANS[keys] = plan
    return plan


def _prepare_resource(res: Json) -> Json:
    original = instances = res["instances"]
    if len(instances) == 1:  # the common case, without the list work
        prepared = [_prepare_instance(instances[0])]
        changed = prepared[0] is not instances[0]
    else:
        if len(instances) > 1 and not _instances_sorted(instances):
            instances = sorted(instances, key=_instance_sort_key)
        prepared = [_prepare_instance(i) for i in instances]
        changed = not all(map(operator.is_, prepared, original)) or prepared != instances
    keys = tuple(res)
    plan = _RESOURCE_PLANS.get(keys)
    if plan is None:
        plan = _resource_plan(keys)
    has_module, has_each, wanted = plan
    if changed or (has_module and res["module"] == "") or (has_each and res["each"] == ""):
        return _prepare_resource_full(res, instances, prepared)
    if wanted is None:
        return res
    return {k: res[k] for k in wanted}


def _prepare_resource_full(res: Json, instances: list[Json], prepared: list[Json]) -> Json:
    changed = not all(map(operator.is_, prepared, res["instances"]))
    out = res
    if changed or prepared != instances:
        out = dict(res)
        out["instances"] = prepared
    if out.get("module") == "":
        out = dict(out)
        del out["module"]
    if out.get("each") == "":
        out = dict(out)
        del out["each"]
    return _reorder(out, RESOURCE_ORDER)


def to_terraform_json(state: StateFile) -> Json:
    """The v4 object Terraform would write for ``state`` (shares unchanged sub-objects with it)."""
    data = state.data
    resources = data.get("resources") or []
    prepared = _prepare_resources(resources)
    if prepared is None:
        prepared = [_prepare_resource(r) for r in sorted(resources, key=_resource_sort_key)]
    outputs = data.get("outputs") or {}
    top: Json = {}
    for k in TOP_ORDER:
        if k == "version":
            top[k] = 4
        elif k == "outputs":
            top[k] = {name: _reorder(outputs[name], OUTPUT_ORDER) for name in sorted(outputs)}
        elif k == "resources":
            top[k] = prepared
        elif k in data:
            top[k] = data[k]
        elif k in ("terraform_version", "lineage"):
            top[k] = ""
        elif k == "serial":
            top[k] = 0
    for k, v in data.items():
        if k not in top:
            top[k] = v
    return top


_GO_ESCAPES = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"),
               ("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029"))


_ESCAPED_ASCII = ((0x3C, b"\\u003c"), (0x3E, b"\\u003e"), (0x26, b"\\u0026"))  # < > &
_ESCAPED_LINE_SEPARATORS = {0xA8: b"\\u2028", 0xA9: b"\\u2029"}  # third byte of E2 80 A8 / E2 80 A9


# Large states are serialized a few hundred resources at a time (see _dumps_in_chunks).
_CHUNK_RESOURCES = 128
_INDENT = orjson.OPT_INDENT_2
_CHUNK_HEAD = b'{\n  "resources": [\n'
_CHUNK_TAIL = b"\n  ]\n}"
_RESOURCES_SLOT = b'\n  "resources": []'


def dumps_terraform(obj: Any) -> bytes:
    """JSON bytes formatted as Go's json.MarshalIndent(v, "", "  ") plus a newline."""
    resources = obj.get("resources") if type(obj) is dict else None
    if type(resources) is list and len(resources) > _CHUNK_RESOURCES:
        try:
            return _dumps_in_chunks(obj, resources, _CHUNK_RESOURCES)
        except TypeError:
            pass  # integers wider than 64 bits: the whole document goes through the standard library
    return _dumps_whole(obj)


def _dumps_in_chunks(obj: Json, resources: list[Any], size: int) -> bytes:
    """``_dumps_whole(obj)``, byte for byte, with less memory traffic for a large state.

    Serializing the whole state and then escaping it (see _go_escape) fills two buffers the size
    of the file, and with a large file the page faults of fresh memory cost as much as the copying.
    Here the resources are serialized ``size`` at a time, wrapped as ``{"resources": [...]}`` so
    that orjson indents them exactly as inside the state, and escaped into the output while they
    are in cache; the output is the only buffer the size of the file.
    """
    if not resources:
        return _dumps_whole(obj)
    shell = dict(obj)
    shell["resources"] = []
    head = orjson.dumps(shell, option=_INDENT | orjson.OPT_APPEND_NEWLINE)
    # The top-level key is the only line indented by exactly two spaces that starts with it.
    slot = head.find(_RESOURCES_SLOT)
    if slot < 0:
        return _dumps_whole(obj)
    out = io.BytesIO()
    write = out.write
    _write_escaped(write, head, 0, slot + len(_RESOURCES_SLOT) - 1)  # up to '"resources": ['
    write(b"\n")
    skip_head, skip_tail = len(_CHUNK_HEAD), len(_CHUNK_TAIL)
    for first in range(0, len(resources), size):
        chunk = orjson.dumps({"resources": resources[first : first + size]}, option=_INDENT)
        if not (chunk.startswith(_CHUNK_HEAD) and chunk.endswith(_CHUNK_TAIL)):
            return _dumps_whole(obj)
        if first:
            write(b",\n")
        _write_escaped(write, chunk, skip_head, len(chunk) - skip_tail)
    write(b"\n  ]")
    _write_escaped(write, head, slot + len(_RESOURCES_SLOT), len(head))
    return out.getvalue()  # BytesIO hands over its buffer without a copy


def _dumps_whole(obj: Any) -> bytes:
    try:
        out = orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        # Integers wider than 64 bits: the standard library writes them exactly.
        out = (json.dumps(obj, indent=2, ensure_ascii=False, separators=(",", ": ")) + "\n").encode()
    return _go_escape(out)


# Go's HTML-safe escaping of <, >, &, U+2028 and U+2029. None of them occurs in JSON syntax, so each
# occurrence is inside a string. A bytes.replace pass per character costs about 1 ns a byte even
# with little to replace, and so does searching for a 3-byte sequence. Instead, single bytes are
# found with bytes.find (memchr speed; U+2028/9 through their rare lead byte E2) and the output is
# copied once around them. With very many hits the work per hit would dominate: replace then.


def _go_escape(out: bytes) -> bytes:
    hits = _escape_hits(out, 0, len(out))
    if hits is None:
        return _go_escape_replace(out)
    if not hits:
        return out
    parts: list[Any] = []
    _write_hits(parts.append, out, 0, len(out), hits)
    return b"".join(parts)


def _write_escaped(write: Any, data: bytes, start: int, end: int) -> None:
    """Write ``data[start:end]``, escaped, with ``write``."""
    hits = _escape_hits(data, start, end)
    if hits is None:
        write(_go_escape_replace(data[start:end]))
    else:
        _write_hits(write, data, start, end, hits)


def _escape_hits(data: bytes, start: int, end: int) -> list[int] | None:
    """Where ``data[start:end]`` needs escaping, in order, as position * 8 + what (0-2: the index in
    _ESCAPED_ASCII, 3: a line separator); None when there are too many for this to pay."""
    limit = max(4096, (end - start) >> 10)
    hits: list[int] = []
    find = data.find
    for what, (byte, _) in enumerate(_ESCAPED_ASCII):
        i = find(byte, start, end)
        while i >= 0:
            hits.append(i << 3 | what)
            if len(hits) > limit:
                return None
            i = find(byte, i + 1, end)
    candidates = 0
    i = find(0xE2, start, end)
    while i >= 0:
        if data[i + 1 : min(i + 3, end)] in (b"\x80\xa8", b"\x80\xa9"):
            hits.append(i << 3 | 3)
        candidates += 1
        if candidates > limit:
            return None
        i = find(0xE2, i + 1, end)
    hits.sort()
    return hits


def _write_hits(write: Any, data: bytes, start: int, end: int, hits: list[int]) -> None:
    view = memoryview(data)
    pos = start
    for hit in hits:
        i, what = hit >> 3, hit & 7
        write(view[pos:i])
        if what == 3:
            write(_ESCAPED_LINE_SEPARATORS[data[i + 2]])
            pos = i + 3
        else:
            write(_ESCAPED_ASCII[what][1])
            pos = i + 1
    write(view[pos:end])


def _go_escape_replace(out: bytes) -> bytes:
    for raw, escaped in _GO_ESCAPES:
        if raw in out:
            out = out.replace(raw, escaped)
    return out


def write_state(state: StateFile) -> bytes:
    """Serialize ``state`` as Terraform writes a v4 state file."""
    return dumps_terraform(to_terraform_json(state))


def content_digest(state: StateFile) -> bytes:
    """The bytes that decide "did the content change?" (Terraform's ``StatesMarshalEqual``): the
    resources, outputs and check results, without serial, lineage or terraform_version."""
    obj = to_terraform_json(state)
    obj = {k: v for k, v in obj.items() if k not in ("serial", "lineage", "terraform_version")}
    return dumps_terraform(obj)
