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
import json
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

_BIGINT = re.compile(rb"[0-9]{20}")


# --------------------------------------------------------------------------- reading
def loads_json(data: bytes, *, path: str | None = None) -> Any:
    """Parse JSON bytes, keeping integers beyond 64 bits exact. Errors name the line and column."""
    if not data.strip():
        raise StateFormatError("the file is empty (expected a JSON state object)", path=path)
    try:
        if _BIGINT.search(data) is None:
            return orjson.loads(data)
        # orjson turns integers wider than 64 bits into floats; the standard library keeps them exact.
        return json.loads(data)
    except (orjson.JSONDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _json_error(exc, data, path) from None


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


_KNOWN_INSTANCE_KEYS = frozenset(INSTANCE_ORDER)


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
    for r, res in enumerate(resources):
        _check_resource(res, r, path)


def _check_resource(res: Any, r: int, path: str | None) -> None:
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
    _expect(module, str, path, f"{where}.module", "a string")
    if module:
        from driftmgr_tui.state.address import parse_module_path

        try:
            parse_module_path(module)
        except Exception as exc:
            raise StateFormatError(f"invalid module path {module!r}: {exc}", path=path,
                                   field=f"{where}.module") from None
    each = res.get("each")
    if each is not None and each not in ("list", "map", ""):
        raise StateFormatError(f"\"each\" must be \"list\" or \"map\", found {each!r}", path=path,
                               field=f"{where}.each")
    provider = res.get("provider")
    normalized = normalize_provider(provider) if isinstance(provider, str) else None
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
    _expect(instances, list, path, f"{where}.instances", "an array")
    for i, inst in enumerate(instances):
        if type(inst) is not dict:
            raise StateFormatError(f"expected an object, found {_kind(inst)}", path=path,
                                   field=f"{where}.instances[{i}]")
        _check_instance(inst, f"{where}.instances[{i}]", path)


def _check_instance(inst: Json, where: str, path: str | None) -> None:
    get = inst.get
    key = get("index_key")
    if key is not None and (type(key) is not int and type(key) is not str):
        raise StateFormatError(f"instance key must be an integer, a string or absent, found {_kind(key)}",
                               path=path, field=f"{where}.index_key")
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
    if len(inst) > 4 and not _KNOWN_INSTANCE_KEYS.issuperset(inst):
        pass  # unknown fields are kept as they are
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


def _prepare_instance(inst: Json) -> Json:
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


def _prepare_resource(res: Json) -> Json:
    instances = res["instances"]
    if len(instances) > 1 and not _is_sorted(instances, _instance_sort_key):
        instances = sorted(instances, key=_instance_sort_key)
    prepared = [_prepare_instance(i) for i in instances]
    changed = any(a is not b for a, b in zip(prepared, res["instances"], strict=True))
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
    if not _is_sorted(resources, _resource_sort_key):
        resources = sorted(resources, key=_resource_sort_key)
    outputs = data.get("outputs") or {}
    top: Json = {}
    for k in TOP_ORDER:
        if k == "version":
            top[k] = 4
        elif k == "outputs":
            top[k] = {name: _reorder(outputs[name], OUTPUT_ORDER) for name in sorted(outputs)}
        elif k == "resources":
            top[k] = [_prepare_resource(r) for r in resources]
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


def dumps_terraform(obj: Any) -> bytes:
    """JSON bytes formatted as Go's json.MarshalIndent(v, "", "  ") plus a newline."""
    try:
        out = orjson.dumps(obj, option=orjson.OPT_INDENT_2)
    except TypeError:
        # Integers wider than 64 bits: the standard library writes them exactly.
        out = json.dumps(obj, indent=2, ensure_ascii=False, separators=(",", ": ")).encode()
    for raw, escaped in _GO_ESCAPES:
        if raw in out:
            out = out.replace(raw, escaped)
    return out + b"\n"


def write_state(state: StateFile) -> bytes:
    """Serialize ``state`` as Terraform writes a v4 state file."""
    return dumps_terraform(to_terraform_json(state))


def content_digest(state: StateFile) -> bytes:
    """The bytes that decide "did the content change?" (Terraform's ``StatesMarshalEqual``): the
    resources, outputs and check results, without serial, lineage or terraform_version."""
    obj = to_terraform_json(state)
    obj = {k: v for k, v in obj.items() if k not in ("serial", "lineage", "terraform_version")}
    return dumps_terraform(obj)
