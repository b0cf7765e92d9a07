"""State operations as pure edits of a StateFile: list, show, rm, mv, import, validate.

They mirror ``terraform state list|show|rm|mv`` and ``import`` semantics and
never touch storage; ``StateStore.mutate`` wraps the mutating ones in the
lock/backup/atomic-write path.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from typing import Any

from driftmgr_tui.core.errors import ResourceNotFoundError, UsageError
from driftmgr_tui.core.redaction import REDACTED, redact_names
from driftmgr_tui.state.address import NO_KEY, Address, parse_address, parse_module_path
from driftmgr_tui.state.model import InstanceRef, Json, StateFile, StateProblem
from driftmgr_tui.state.providers import parse_provider

# ----------------------------------------------------------------------------- list / show


def _module_matches(module: str, wanted: str) -> bool:
    """``wanted`` (``module.a`` / ``module.a["k"]`` / ``root``) names this module or an ancestor."""
    if wanted in ("", "root"):
        return module == ""
    return bool(module == wanted or module.startswith(wanted + ".") or module.startswith(wanted + "["))


def list_instances(
    state: StateFile,
    *,
    types: Iterable[str] = (),
    module: str | None = None,
    patterns: Iterable[str] = (),
    include_data: bool = True,
) -> list[InstanceRef]:
    """Current instance objects, filtered. ``patterns`` are shell globs over the full address or
    Terraform address prefixes (``module.net`` matches everything inside it)."""
    type_set = set(types)
    pats = list(patterns)
    parsed_prefixes: list[Address] = []
    globs: list[str] = []
    for pat in pats:
        if any(ch in pat for ch in "*?") or ("[" in pat and '"' not in pat and not re.search(r"\[\d+\]", pat)):
            globs.append(pat)
        else:
            parsed_prefixes.append(parse_address(pat))
    out = []
    for ref in state.index.values():
        if type_set and ref.type not in type_set:
            continue
        if module is not None and not _module_matches(ref.module, module):
            continue
        if not include_data and ref.mode == "data":
            continue
        if pats:
            addr = ref.address
            if not any(fnmatch.fnmatchcase(addr, g) for g in globs) and not any(
                p.contains(parse_address(addr)) for p in parsed_prefixes
            ):
                continue
        out.append(ref)
    return out


def instance_json(ref: InstanceRef) -> Json:
    """The scripting contract of ``state list --json``: address, type, name, module, mode, id (+ more)."""
    return {
        "address": ref.address,
        "type": ref.type,
        "name": ref.name,
        "module": ref.module,
        "mode": ref.mode,
        "index_key": ref.index_key,
        "id": ref.id,
        "provider": ref.provider,
        "tainted": ref.tainted,
    }


def get_instance(state: StateFile, address: str) -> InstanceRef:
    addr = parse_address(address)
    if addr.is_module:
        raise UsageError(f"{address} is a module; `show` needs a resource instance address")
    ref = state.index.get(str(addr))
    if ref is None and addr.is_resource:
        keyed = [r for a, r in state.index.items() if addr.contains(parse_address(a))]
        if len(keyed) == 1:
            return keyed[0]
        if keyed:
            raise UsageError(
                f"{address} has {len(keyed)} instances; name one, e.g. {keyed[0].address}"
            )
    if ref is None:
        raise ResourceNotFoundError(f"no resource instance {address} in the state")
    return ref


# ----------------------------------------------------------------------------- sensitive values

def _sensitive_paths(instance: Json) -> list[list[Any]]:
    paths = []
    for path in instance.get("sensitive_attributes") or ():
        steps = []
        if isinstance(path, list):
            for step in path:
                if isinstance(step, dict) and "value" in step:
                    steps.append(step["value"])
        if steps:
            paths.append(steps)
    return paths


def redact(attributes: Any, instance: Json) -> Any:
    """A copy of ``attributes`` with every sensitive path (per ``sensitive_attributes``) and every
    secret-ish attribute name replaced by a marker. Flatmap attributes are handled by key prefix."""
    import copy

    out = copy.deepcopy(attributes)
    for steps in _sensitive_paths(instance):
        _redact_path(out, steps)
    redact_names(out)
    return out


def _redact_path(node: Any, steps: list[Any]) -> None:
    if not steps:
        return
    head, rest = steps[0], steps[1:]
    if (isinstance(node, dict) and head in node) or (isinstance(node, list) and isinstance(head, int) and 0 <= head < len(node)):
        if rest:
            _redact_path(node[head], rest)
        else:
            node[head] = REDACTED


def show_json(ref: InstanceRef, *, reveal: bool = False) -> Json:
    attrs = ref.attributes
    return {
        **instance_json(ref),
        "schema_version": ref.instance.get("schema_version", 0),
        "attributes": attrs if reveal else redact(attrs, ref.instance),
        "sensitive_attributes": ref.instance.get("sensitive_attributes") or [],
        "dependencies": ref.instance.get("dependencies") or [],
        "create_before_destroy": bool(ref.instance.get("create_before_destroy")),
        "redacted": not reveal,
    }


# ----------------------------------------------------------------------------- rm


def _resource_addr(res: Json) -> Address:
    return Address(
        module=parse_module_path(res.get("module", "")),
        mode=res["mode"],
        type=res["type"],
        name=res["name"],
    )


def remove(state: StateFile, addresses: Iterable[str]) -> list[str]:
    """Remove instances, resources or whole modules (``terraform state rm``). Every address must
    match something, or nothing is removed."""
    targets = [parse_address(a) for a in addresses]
    if not targets:
        raise UsageError("name at least one address to remove")
    removed: list[str] = []
    for target, text in zip(targets, addresses, strict=False):
        hits = [ref for addr, ref in state.index.items() if target.contains(parse_address(addr))]
        hits += [ref for ref in state.deposed_objects if target.contains(parse_address(ref.address))]
        if not hits:
            raise ResourceNotFoundError(f"no matching objects for {text} (nothing was removed)")
    for target in targets:
        for res in list(state.resources):
            raddr = _resource_addr(res)
            keep = []
            for inst in res["instances"]:
                iaddr = raddr.with_key(_key(inst))
                if target.contains(iaddr):
                    label = str(iaddr) + (f" (deposed {inst['deposed']})" if inst.get("deposed") else "")
                    if label not in removed:
                        removed.append(label)
                else:
                    keep.append(inst)
            res["instances"] = keep
            if not keep:
                state.resources.remove(res)
    state.reindex()
    return removed


def _key(inst: Json) -> Any:
    key = inst.get("index_key")
    return NO_KEY if key is None else key


# ----------------------------------------------------------------------------- set attributes


def set_attributes(state: StateFile, address: str, values: Json) -> list[str]:
    """Set top-level attributes of one instance (accepting the cloud's values without terraform). Only
    attributes the instance already has may be set: a state edit never invents the provider's schema."""
    if not isinstance(values, dict) or not values:
        raise UsageError("name at least one attribute to set")
    ref = get_instance(state, address)
    attrs = ref.instance.get("attributes")
    if not isinstance(attrs, dict):
        raise UsageError(f"{ref.address} has no attributes object (a legacy flatmap instance?)")
    unknown = sorted(k for k in values if k not in attrs)
    if unknown:
        raise UsageError(f"{ref.address} has no attribute {', '.join(unknown)} in its state")
    changed = []
    for key, value in values.items():
        if attrs[key] != value:
            attrs[key] = _cty_order(value)
            changed.append(f"set {ref.address}.{key}")
    return changed or [f"{ref.address} already has these values"]


# ----------------------------------------------------------------------------- mv


def move(state: StateFile, source: str, destination: str) -> list[str]:
    """Move a module, a resource or one instance to a new address (``terraform state mv``)."""
    src = parse_address(source)
    dst = parse_address(destination)
    if src.is_module != dst.is_module:
        raise UsageError(f"cannot move {source} to {destination}: a module moves only to a module address")
    if src.is_module:
        return _move_module(state, src, dst)
    if src.type != dst.type or src.mode != dst.mode:
        raise UsageError(
            f"cannot move {source} to {destination}: the resource types differ "
            f"({src.resource_str.rsplit('.', 1)[0]} vs {dst.resource_str.rsplit('.', 1)[0]})"
        )
    src_res = state.find_resource(src.module_str, src.mode, src.type, src.name)
    if src_res is None:
        raise ResourceNotFoundError(f"no resource {src.resource()} in the state (nothing was moved)")
    if src.is_resource and dst.is_resource:
        return _move_resource(state, src_res, src, dst)
    return _move_instance(state, src_res, src, dst)


def _move_module(state: StateFile, src: Address, dst: Address) -> list[str]:
    src_mod = src.module_str
    dst_mod = dst.module_str
    if dst_mod == src_mod:
        raise UsageError(f"{src} and {dst} are the same module")
    if _module_matches(dst_mod, src_mod):
        raise UsageError(f"cannot move {src} into itself ({dst})")
    moving = [r for r in state.resources if _module_matches(r.get("module", ""), src_mod)]
    if not moving:
        raise ResourceNotFoundError(f"no resources in {src} (nothing was moved)")
    if any(_module_matches(r.get("module", ""), dst_mod) for r in state.resources):
        raise UsageError(f"cannot move to {dst}: it already holds resources")
    moved = []
    for res in moving:
        old = res.get("module", "")
        new = dst_mod + old[len(src_mod):]
        before = [str(_resource_addr(res).with_key(_key(i))) for i in res["instances"]]
        res["module"] = new
        after = [str(_resource_addr(res).with_key(_key(i))) for i in res["instances"]]
        moved += [f"{a} -> {b}" for a, b in zip(before, after, strict=True)]
    state.reindex()
    return moved


def _move_resource(state: StateFile, res: Json, src: Address, dst: Address) -> list[str]:
    if state.find_resource(dst.module_str, dst.mode, dst.type, dst.name) is not None:
        raise UsageError(f"cannot move {src} to {dst}: {dst} already exists in the state")
    raddr = _resource_addr(res)
    before = [str(raddr.with_key(_key(i))) for i in res["instances"]]
    if dst.module_str:
        res["module"] = dst.module_str
    else:
        res.pop("module", None)
    res["name"] = dst.name
    raddr = _resource_addr(res)
    after = [str(raddr.with_key(_key(i))) for i in res["instances"]]
    state.reindex()
    return [f"{a} -> {b}" for a, b in zip(before, after, strict=True)]


def _move_instance(state: StateFile, src_res: Json, src: Address, dst: Address) -> list[str]:
    src_key = None if src.key is NO_KEY else src.key
    objects = [i for i in src_res["instances"] if i.get("index_key") == src_key]
    if not objects:
        raise ResourceNotFoundError(f"no resource instance {src} in the state (nothing was moved)")
    dst_key = None if dst.key is NO_KEY else dst.key
    dst_res = state.find_resource(dst.module_str, dst.mode, dst.type, dst.name)
    if dst_res is not None:
        if any(i.get("index_key") == dst_key for i in dst_res["instances"]):
            raise UsageError(f"cannot move {src} to {dst}: {dst} already exists in the state")
        kinds = {type(i.get("index_key")) for i in dst_res["instances"] if i is not None}
        if kinds and type(dst_key) not in kinds and dst_res is not src_res:
            raise UsageError(f"cannot move {src} to {dst}: {dst.resource()} uses another kind of instance key")
    for obj in objects:
        src_res["instances"].remove(obj)
        if dst_key is None:
            obj.pop("index_key", None)
        else:
            obj["index_key"] = dst_key
    if dst_res is None:
        dst_res = {k: v for k, v in src_res.items() if k not in ("instances", "each")}
        if dst.module_str:
            dst_res["module"] = dst.module_str
        else:
            dst_res.pop("module", None)
        dst_res["name"] = dst.name
        dst_res["instances"] = []
        state.resources.append(dst_res)
    dst_res["instances"].extend(objects)
    if "each" in dst_res:
        dst_res.pop("each")
    if not src_res["instances"]:
        state.resources.remove(src_res)
    state.reindex()
    return [f"{src} -> {dst}"]


# ----------------------------------------------------------------------------- import


def default_provider_for(state: StateFile, rtype: str, module: str = "") -> str:
    """The provider a new ``rtype`` instance is bound to: one already used in the state for that
    provider type (same module first), else ``registry.terraform.io/hashicorp/<prefix>``."""
    ptype = rtype.split("_", 1)[0]
    best = None
    for res in state.resources:
        parsed = parse_provider(res["provider"])
        same_type = parsed is not None and parsed.type == ptype and parsed.alias is None
        if same_type and (res.get("module", "") == module or best is None):
            best = res["provider"]
    return best or f'provider["registry.terraform.io/hashicorp/{ptype}"]'


def import_instance(
    state: StateFile,
    address: str,
    attributes: Json,
    *,
    provider: str | None = None,
    schema_version: int = 0,
    private: str | None = None,
    dependencies: list[str] | None = None,
    sensitive_attributes: list | None = None,
) -> list[str]:
    """Add one managed resource instance built from known attributes (the remediation building block)."""
    addr = parse_address(address)
    if addr.is_module:
        raise UsageError(f"{address} is a module; import needs a resource instance address")
    if addr.mode != "managed":
        raise UsageError(f"{address} is a data source; only managed resources can be imported")
    if not isinstance(attributes, dict):
        raise UsageError("attributes must be a JSON object")
    if not attributes.get("id"):
        raise UsageError("attributes must include a non-empty \"id\" (the cloud object's Terraform ID)")
    if str(addr) in state.index:
        raise UsageError(f"{addr} already exists in the state; remove it first or choose another address")
    if provider is not None:
        parsed = parse_provider(provider)
        if parsed is None:
            raise UsageError(f"invalid provider address {provider!r}")
        provider = str(parsed)
    key = None if addr.key is NO_KEY else addr.key
    res = state.find_resource(addr.module_str, addr.mode, addr.type, addr.name)
    if res is not None:
        existing = {i.get("index_key") for i in res["instances"]}
        if (None in existing) != (key is None) or (
            key is not None and existing and {type(k) for k in existing if k is not None} != {type(key)}
        ):
            raise UsageError(f"cannot add {addr}: {addr.resource()} already has instances with other keys")
        if provider is not None and provider != res["provider"]:
            raise UsageError(f"{addr.resource()} is bound to {res['provider']}, not {provider}")
    else:
        res = {
            "mode": "managed",
            "type": addr.type,
            "name": addr.name,
            "provider": provider or default_provider_for(state, addr.type, addr.module_str),
            "instances": [],
        }
        if addr.module_str:
            res = {"module": addr.module_str, **res}
        state.resources.append(res)
    inst: Json = {}
    if key is not None:
        inst["index_key"] = key
    inst["schema_version"] = schema_version
    inst["attributes"] = _cty_order(attributes)
    inst["sensitive_attributes"] = sensitive_attributes or []
    if private:
        inst["private"] = private
    if dependencies:
        for dep in dependencies:
            parse_address(dep)
        inst["dependencies"] = sorted(dependencies)
    res["instances"].append(inst)
    state.reindex()
    return [f"imported {addr} (id {attributes['id']})"]


def _cty_order(value: Any) -> Any:
    """Objects with keys sorted, as Terraform's cty JSON encoder writes attributes."""
    if isinstance(value, dict):
        return {k: _cty_order(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_cty_order(v) for v in value]
    return value


# ----------------------------------------------------------------------------- validate

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def validate(state: StateFile) -> list[StateProblem]:
    """Everything Terraform would reject, and what usually means trouble. Errors first."""
    problems = list(state.problems)
    resources_present = {
        (r.get("module", ""), r["mode"], r["type"], r["name"]) for r in state.resources
    }
    seen_resources: dict[tuple, int] = {}
    for res in state.resources:
        rkey = (res.get("module", ""), res["mode"], res["type"], res["name"])
        seen_resources[rkey] = seen_resources.get(rkey, 0) + 1
        raddr = str(_resource_addr(res))
        keys = [i.get("index_key") for i in res["instances"] if not i.get("deposed")]
        kinds = {type(k).__name__ for k in keys}
        if len(kinds) > 1:
            problems.append(StateProblem("error", "mixed-instance-keys",
                                         f"{raddr} mixes instance key kinds ({', '.join(sorted(kinds))})", raddr))
        provider = parse_provider(res["provider"])
        if provider is not None:
            ptype = provider.type
            if not (res["type"] == ptype or res["type"].startswith(ptype + "_")) and ptype != "terraform":
                problems.append(StateProblem(
                    "warning", "provider-type-mismatch",
                    f"{raddr} is bound to provider {res['provider']} whose type '{ptype}' does not prefix "
                    f"the resource type (fine only with a provider local name or alias)", raddr))
            if provider.source.split("/")[1] == "-":
                problems.append(StateProblem(
                    "warning", "legacy-provider",
                    f"{raddr} uses a legacy provider address ({provider.source}); "
                    "terraform will ask for `terraform state replace-provider`", raddr))
        for inst in res["instances"]:
            iaddr = str(_resource_addr(res).with_key(_key(inst)))
            for dep in inst.get("dependencies") or ():
                try:
                    daddr = parse_address(dep)
                except UsageError as exc:
                    problems.append(StateProblem("error", "bad-dependency",
                                                 f"{iaddr} has a malformed dependency {dep!r}: {exc}", iaddr))
                    continue
                if daddr.is_module:
                    continue
                dkey = (daddr.module_str, daddr.mode, daddr.type, daddr.name)
                if dkey not in resources_present:
                    problems.append(StateProblem("warning", "dangling-dependency",
                                                 f"{iaddr} depends on {dep}, which is not in the state", iaddr))
            if inst.get("deposed"):
                problems.append(StateProblem("warning", "deposed-object",
                                             f"{iaddr} has a deposed object {inst['deposed']} "
                                             "(an interrupted create_before_destroy replacement)", iaddr))
            if inst.get("status") == "tainted":
                problems.append(StateProblem("warning", "tainted", f"{iaddr} is tainted (will be replaced)", iaddr))
            attrs = inst.get("attributes")
            if attrs is None:
                attrs = inst.get("attributes_flat")
            if res["mode"] == "managed" and not (attrs or {}).get("id"):
                problems.append(StateProblem("warning", "missing-id", f"{iaddr} has no id attribute", iaddr))
    for rkey, count in seen_resources.items():
        if count > 1:
            addr = str(Address(parse_module_path(rkey[0]), rkey[1], rkey[2], rkey[3]))
            problems.append(StateProblem("warning", "split-resource",
                                         f"{addr} appears in {count} resource entries", addr))
    if not state.lineage:
        problems.append(StateProblem("warning", "no-lineage",
                                     "the state has no lineage (a legacy state; Terraform assigns one on write)"))
    elif not _UUID.match(state.lineage):
        problems.append(StateProblem("warning", "odd-lineage",
                                     f"lineage {state.lineage!r} is not a UUID as Terraform generates"))
    if state.serial == 0 and state.index:
        problems.append(StateProblem("warning", "serial-zero",
                                     "serial is 0 although the state holds resources"))
    problems.sort(key=lambda p: (p.severity != "error", p.code, p.address or ""))
    return problems
