"""Read the drift Terraform itself found: the ``resource_drift`` of ``terraform show -json PLANFILE``.

A refresh-only plan is Terraform's own answer to "what changed outside Terraform": the provider reads
every managed object and Terraform compares it with the state. Each ``resource_drift`` entry holds the
object as the state recorded it (``before``) and as the provider reads it now (``after``; null when the
object is gone). That is the authoritative drift for attributes the provider knows; the drift engine
merges it with its own cloud discovery and filters provider noise with normalizers.

``prior_state`` (the state the plan started from, *after* the refresh) gives the denominator for
coverage: how many managed instances Terraform tracks. Objects the refresh found deleted are missing
from it and only appear as "delete" entries (:attr:`PlanDrift.recorded_instances` adds them back).
Deposed objects (left behind by a failed create-before-destroy) are not counted: they are not the
instances the configuration describes.

The JSON format is Terraform's ``internal/command/jsonplan``: ``format_version`` "1.x" is compatible
(new minor versions only add keys), a new major version is refused rather than misread.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from driftmgr_tui.core.errors import StateFormatError
from driftmgr_tui.state.codec import loads_json

__all__ = ["SUPPORTED_MAJOR", "PlanDrift", "PlanDriftEntry", "parse_plan_json"]

SUPPORTED_MAJOR = 1
_PLAN_KEYS = ("planned_values", "resource_changes", "resource_drift")
_SHOW_PLAN = "give the output of `terraform show -json PLANFILE` for a saved plan"


@dataclass(frozen=True)
class PlanDriftEntry:
    """One resource instance whose real object differs from the state.

    ``module`` is the module instance address ("" for the root module); ``index`` the count/for_each key
    (None without one). ``actions`` are Terraform's: ("update",) for a changed object, ("delete",) for
    one that is gone. ``before_sensitive``/``after_sensitive`` are the plan's sensitivity masks (True, or a
    structure mirroring the value with True at sensitive leaves); they must be honoured before anything is
    shown or stored. ``previous_address`` is set when a ``moved`` block renamed the instance in this plan.
    """

    address: str
    module: str
    mode: str
    type: str
    name: str
    index: int | str | None
    provider: str
    actions: tuple[str, ...]
    before: Any
    after: Any
    before_sensitive: Any = False
    after_sensitive: Any = False
    deposed: str | None = None
    previous_address: str | None = None


@dataclass
class PlanDrift:
    """The drift part of one plan, plus what coverage needs from its prior state."""

    format_version: str
    terraform_version: str | None
    entries: list[PlanDriftEntry]
    prior_state_resources: int
    prior_state_instances: list[tuple[str, str, str, str]]
    errored: bool = False

    @property
    def recorded_instances(self) -> int:
        """Managed instances the state recorded before the refresh.

        ``prior_state`` is the state *after* the refresh, so an object the refresh found deleted is not
        in it (nor in ``prior_state_resources``): it appears only as a "delete" drift entry."""
        known = {address for address, *_ in self.prior_state_instances}
        gone = {
            e.address for e in self.entries
            if e.mode == "managed" and e.deposed is None and "delete" in e.actions and e.address not in known
        }
        return self.prior_state_resources + len(gone)


def parse_plan_json(data: bytes | str, *, source: str = "plan") -> PlanDrift:
    """Parse ``terraform show -json PLANFILE`` output. ``source`` names the input in error messages.

    Raises StateFormatError for anything that is not a plan JSON document of a supported format version,
    saying what it looks like instead (a state file, ``show -json`` of a state, a ``-json`` log stream).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if not raw or raw.isspace():
        raise StateFormatError(f"empty input; {_SHOW_PLAN}", path=source)
    doc = loads_json(raw, path=source)
    _check_is_plan(doc, source)
    version = doc["format_version"]
    drift = doc.get("resource_drift") or []
    if not isinstance(drift, list):
        raise StateFormatError(f"expected a list, found {_kind(drift)}", path=source, field="resource_drift")
    entries = [_entry(item, source, f"resource_drift[{i}]") for i, item in enumerate(drift)]
    instances = _prior_instances(doc.get("prior_state"), source)
    tf_version = doc.get("terraform_version")
    return PlanDrift(
        format_version=version,
        terraform_version=str(tf_version) if tf_version else None,
        entries=entries,
        prior_state_resources=len(instances),
        prior_state_instances=instances,
        errored=doc.get("errored") is True,
    )


def _check_is_plan(doc: Any, source: str) -> None:
    if isinstance(doc, list):
        if doc and isinstance(doc[0], dict) and "@message" in doc[0]:
            what = "this looks like the machine-readable log of a terraform command (`-json` output)"
        else:
            what = f"expected a JSON object at the top level, found {_kind(doc)}"
        raise StateFormatError(f"{what}; {_SHOW_PLAN}", path=source)
    if not isinstance(doc, dict):
        raise StateFormatError(f"expected a JSON object at the top level, found {_kind(doc)}; {_SHOW_PLAN}",
                               path=source)
    if "format_version" not in doc:
        if "version" in doc and ("resources" in doc or "lineage" in doc):
            what = "this looks like a state file, not a plan"
        elif "@message" in doc:
            what = "this looks like the machine-readable log of a terraform command (`-json` output)"
        else:
            what = "this is not a Terraform plan (no \"format_version\")"
        raise StateFormatError(f"{what}; {_SHOW_PLAN}", path=source)
    version = doc["format_version"]
    if not isinstance(version, str):
        raise StateFormatError(f"expected a string, found {_kind(version)}", path=source, field="format_version")
    major, _, _minor = version.partition(".")
    if not major.isdigit():
        raise StateFormatError(f"unrecognised format version {version!r}", path=source, field="format_version")
    if int(major) > SUPPORTED_MAJOR:
        raise StateFormatError(
            f"plan JSON format version {version} is newer than this driftmgr understands "
            f"({SUPPORTED_MAJOR}.x)", path=source, field="format_version",
            hint="upgrade driftmgr, or produce the plan with an older Terraform",
        )
    if not any(key in doc for key in _PLAN_KEYS):
        if "values" in doc:
            what = "this looks like a state file (`terraform show -json` of a state), not a plan"
        elif "provider_schemas" in doc:
            what = "this looks like `terraform providers schema -json` output, not a plan"
        else:
            what = "this is not a Terraform plan (no planned_values, resource_changes or resource_drift)"
        raise StateFormatError(f"{what}; {_SHOW_PLAN}", path=source)


def _entry(item: Any, source: str, field: str) -> PlanDriftEntry:
    if not isinstance(item, dict):
        raise StateFormatError(f"expected an object, found {_kind(item)}", path=source, field=field)
    address = _str(item, "address", source, field)
    change = item.get("change")
    if not isinstance(change, dict):
        raise StateFormatError(f"expected an object, found {_kind(change)}", path=source, field=f"{field}.change")
    actions = change.get("actions")
    if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
        raise StateFormatError("expected a list of action names", path=source, field=f"{field}.change.actions")
    index = item.get("index")
    if isinstance(index, bool) or (index is not None and not isinstance(index, (int, str))):
        raise StateFormatError(f"expected a number or a string, found {_kind(index)}", path=source,
                               field=f"{field}.index")
    deposed = item.get("deposed")
    previous = item.get("previous_address")
    return PlanDriftEntry(
        address=address,
        module=str(item.get("module_address") or ""),
        mode=str(item.get("mode") or "managed"),
        type=_str(item, "type", source, field),
        name=_str(item, "name", source, field),
        index=index,
        provider=str(item.get("provider_name") or ""),
        actions=tuple(actions),
        before=change.get("before"),
        after=change.get("after"),
        before_sensitive=change.get("before_sensitive", False),
        after_sensitive=change.get("after_sensitive", False),
        deposed=str(deposed) if deposed else None,
        previous_address=str(previous) if previous else None,
    )


def _prior_instances(prior: Any, source: str) -> list[tuple[str, str, str, str]]:
    """(address, type, id or "", provider) of each current managed instance in the plan's prior state."""
    if prior is None:
        return []
    if not isinstance(prior, dict):
        raise StateFormatError(f"expected an object, found {_kind(prior)}", path=source, field="prior_state")
    values = prior.get("values") or {}
    root = values.get("root_module") if isinstance(values, dict) else None
    if root is None:
        return []
    found: list[tuple[str, str, str, str]] = []
    for resource in _walk_module(root, source, "prior_state.values.root_module"):
        if resource.get("mode", "managed") != "managed" or resource.get("deposed_key"):
            continue
        attrs = resource.get("values")
        rid = attrs.get("id") if isinstance(attrs, dict) else None
        found.append((
            str(resource.get("address", "")),
            str(resource.get("type", "")),
            rid if isinstance(rid, str) else ("" if rid is None else str(rid)),
            str(resource.get("provider_name", "")),
        ))
    return found


def _walk_module(module: Any, source: str, field: str) -> Iterator[dict[str, Any]]:
    if not isinstance(module, dict):
        raise StateFormatError(f"expected an object, found {_kind(module)}", path=source, field=field)
    resources = module.get("resources") or []
    if not isinstance(resources, list):
        raise StateFormatError(f"expected a list, found {_kind(resources)}", path=source, field=f"{field}.resources")
    for i, resource in enumerate(resources):
        if not isinstance(resource, dict):
            raise StateFormatError(f"expected an object, found {_kind(resource)}", path=source,
                                   field=f"{field}.resources[{i}]")
        yield resource
    children = module.get("child_modules") or []
    if not isinstance(children, list):
        raise StateFormatError(f"expected a list, found {_kind(children)}", path=source,
                               field=f"{field}.child_modules")
    for i, child in enumerate(children):
        yield from _walk_module(child, source, f"{field}.child_modules[{i}]")


def _str(item: dict[str, Any], key: str, source: str, field: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise StateFormatError(f"expected a non-empty string, found {_kind(value)}", path=source,
                               field=f"{field}.{key}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
