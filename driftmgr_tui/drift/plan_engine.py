"""Terraform as the authority: a refresh-only plan's ``resource_drift`` as drift findings.

Terraform compares every attribute with the provider's own read, so nothing is left uncompared; but its report
is noisy (after a refresh against most APIs ``tags: null`` becomes ``tags: {}``, ``tags_all`` repeats ``tags``).
Every entry goes through the same normalizers as the native engine, and an entry with no difference left is
dropped: only real changes reach the user. A ``delete`` entry (the object is gone) is *missing*. Terraform never
sees resources outside its state, so this engine reports no *unmanaged* resources.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftmgr_tui.discovery.registry import match_key
from driftmgr_tui.drift.matcher import IgnoreRules
from driftmgr_tui.drift.model import CHANGED, MISSING, DetectionResult, Finding, provider_of
from driftmgr_tui.drift.normalize import apply_provider_defaults, diff, effective_tags
from driftmgr_tui.drift.severity import SeverityRules
from driftmgr_tui.drift.tfplan import PlanDrift, PlanDriftEntry

# attributes a refresh recomputes without anything having changed in the cloud
VOLATILE = frozenset({"tags_all", "timeouts"})


def prepare(terraform_type: str, attrs: Any) -> dict[str, Any]:
    """An attribute dict as the comparison sees it: effective tags under ``tags``, provider defaults filled
    in, volatile attributes dropped."""
    if not isinstance(attrs, Mapping):
        return {}
    out = {k: v for k, v in attrs.items() if k not in VOLATILE}
    tags = effective_tags(attrs)
    if tags is not None:
        out["tags"] = tags
    return apply_provider_defaults(terraform_type, out)


def sensitive_paths(mask: Any, prefix: str = "") -> set[str]:
    """Dotted paths marked ``true`` in a plan's ``before_sensitive`` / ``after_sensitive`` mask."""
    if mask is True:
        return {prefix or "."}
    paths: set[str] = set()
    if isinstance(mask, Mapping):
        for key, sub in mask.items():
            paths |= sensitive_paths(sub, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(mask, list):
        for n, sub in enumerate(mask):
            paths |= sensitive_paths(sub, f"{prefix}.{n}" if prefix else str(n))
    return paths


def _identity(entry: PlanDriftEntry) -> str:
    for side in (entry.before, entry.after):
        if isinstance(side, Mapping) and side.get("id") not in (None, ""):
            return str(side["id"])
    return entry.address


def entry_diffs(entry: PlanDriftEntry) -> list:
    sensitive = frozenset(sensitive_paths(entry.before_sensitive) | sensitive_paths(entry.after_sensitive))
    return diff(prepare(entry.type, entry.before), prepare(entry.type, entry.after), sensitive=sensitive)


def detect_from_plan(plan: PlanDrift, *, state_label: str, severity: SeverityRules | None = None,
                     ignore: IgnoreRules | None = None) -> DetectionResult:
    severity = severity or SeverityRules()
    result = DetectionResult()
    noise = 0
    for entry in plan.entries:
        if entry.mode != "managed" or entry.deposed:
            continue
        rid = _identity(entry)
        provider = provider_of(entry.provider)
        base = dict(terraform_type=entry.type, terraform_id=rid, match_key=match_key(entry.type, rid),
                    provider=provider, address=entry.address, module=entry.module, state=state_label)
        if "delete" in entry.actions and entry.after is None:
            if ignore is not None and ignore.ignores_resource(entry.type, rid):
                result.ignored += 1
                continue
            finding = Finding(MISSING, **base)
            result.missing += 1
        else:
            diffs = entry_diffs(entry)
            if diffs and ignore is not None:
                if ignore.ignores_resource(entry.type, rid):
                    result.ignored += 1
                    continue
                if ignore.has_field_rules(entry.type, rid):
                    diffs = [d for d in diffs if not ignore.ignores_field(entry.type, rid, d.path)]
                    if not diffs:
                        result.ignored += 1
                        continue
            if not diffs:
                noise += 1
                continue
            finding = Finding(CHANGED, diffs=diffs, **base)
            result.changed += 1
        severity.classify(finding)
        result.findings.append(finding)
    result.managed = plan.prior_state_resources  # the refreshed state: what still exists
    result.cloud_total = result.managed
    if noise:
        result.warnings.append(f"{noise} resource(s) Terraform reported as changed differ only in form "
                               "(null vs empty, tags_all, ordering): not drift")
    return result
