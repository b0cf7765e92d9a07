"""The native engine: join state instances and discovered resources on (Terraform type, normalised id).

One pass over the cloud side builds a dict; one pass over the state side looks each instance up. Equivalent
types (``aws_default_vpc`` manages an ``aws_vpc``) share one key space. An instance whose type or region was not
discovered successfully is *unevaluated*, never *missing*: the scan could not see it, which is not the same as
it being gone. Cloud-made defaults (a default VPC nobody manages) are not *unmanaged*.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

from driftmgr_tui.drift.model import (
    CHANGED,
    MISSING,
    UNMANAGED,
    CloudObject,
    DetectionResult,
    Finding,
    ManagedInstance,
    Unevaluated,
)
from driftmgr_tui.drift.projections import STANDALONE_RULE_TYPES, ComparisonContext, compare
from driftmgr_tui.drift.severity import SeverityRules

GLOBAL = "global"
# A task's partition that stands for every partition of its types (a DigitalOcean listing without a region
# filter sees every region at once).
EVERY_PARTITION = "*"


class IgnoreRules(Protocol):
    def ignores_resource(self, terraform_type: str, terraform_id: str) -> bool: ...

    def ignores_field(self, terraform_type: str, terraform_id: str, path: str) -> bool: ...

    def has_field_rules(self, terraform_type: str, terraform_id: str) -> bool: ...


@cache
def canonical_types() -> dict[str, str]:
    """Terraform type -> the key its equivalence group shares (transitively: a type equivalent to two
    primaries joins them)."""
    from driftmgr_tui.discovery.registry import registry

    parent: dict[str, str] = {}

    def find(t: str) -> str:
        parent.setdefault(t, t)
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    for mapping in registry().mappings:
        types = mapping.all_terraform_types
        root = find(types[0])
        for other in types[1:]:
            other_root = find(other)
            if other_root != root:
                parent[max(root, other_root)] = min(root, other_root)
                root = min(root, other_root)
    return {t: find(t) for t in parent}


@cache
def _global_aws_types() -> frozenset[str]:
    from driftmgr_tui.discovery.aws.catalog import AWS_TYPES

    return frozenset(t for e in AWS_TYPES if e.global_service for t in e.all_terraform_types)


_ARN_REGION = re.compile(r"arn:aws[\w-]*:[\w-]+:([a-z]{2}(?:-[a-z]+)+-\d+):")
_AZ = re.compile(r"([a-z]{2}(?:-[a-z]+)+-\d+)[a-z]+\Z")
_SUBSCRIPTION = re.compile(r"/subscriptions/([^/]+)", re.IGNORECASE)


def task_partition(provider: str, account: str, region: str) -> str:
    """The partition a discovery task covered, in :func:`partition_of`'s terms: AWS tasks and DigitalOcean
    tasks are per region (a DigitalOcean listing of ``all`` regions covers :data:`EVERY_PARTITION`), Azure
    and Google tasks per subscription or project."""
    if provider == "aws":
        return region
    if provider == "digitalocean":
        return EVERY_PARTITION if region == "all" else region
    return account


def partition_of(provider: str, terraform_type: str, attrs: Mapping[str, Any]) -> str | None:
    """Where discovery looks for this instance: its AWS region, Azure subscription, Google project or
    DigitalOcean region (``global`` for account-wide DigitalOcean types); None when the attributes do not
    say."""
    if provider == "aws":
        if terraform_type in _global_aws_types():
            return GLOBAL
        arn = attrs.get("arn")
        if isinstance(arn, str):
            match = _ARN_REGION.match(arn)
            if match:
                return match[1]
        region = attrs.get("region")
        if isinstance(region, str) and region:
            return region
        zone = attrs.get("availability_zone")
        if isinstance(zone, str):
            match = _AZ.match(zone)
            if match:
                return match[1]
        return None
    if provider == "azure":
        rid = attrs.get("id")
        match = _SUBSCRIPTION.match(rid) if isinstance(rid, str) else None
        return match[1].lower() if match else None
    if provider == "gcp":
        project = attrs.get("project")
        return project if isinstance(project, str) and project else None
    if provider == "digitalocean":
        region = attrs.get("region")
        return region if isinstance(region, str) and region else GLOBAL
    return None


@dataclass
class Evaluation:
    """What the discovery runs behind a detection could see: per canonical type, the partitions (regions,
    subscriptions, projects) listed successfully and those that failed, with the reason."""

    ok: set[tuple[str, str]] = field(default_factory=set)
    failed: dict[tuple[str, str], str] = field(default_factory=dict)
    types_ok: set[str] = field(default_factory=set)
    types_failed: dict[str, str] = field(default_factory=dict)
    providers: set[str] = field(default_factory=set)

    def add_task(self, provider: str, partition: str, terraform_types: Iterable[str], status: str,
                 error: str | None = None) -> None:
        canon = canonical_types()
        self.providers.add(provider)
        for t in terraform_types:
            key = (canon.get(t, t), partition.lower() if provider == "azure" else partition)
            if status == "succeeded":
                self.ok.add(key)
                self.types_ok.add(key[0])
            else:
                reason = f"discovery {status}" + (f": {error}" if error else "")
                self.failed[key] = reason
                self.types_failed[key[0]] = reason

    def reason_not_evaluated(self, provider: str, ctype: str, partition: str | None) -> str | None:
        """None when the instance was looked for; else why not."""
        if provider not in self.providers:
            return f"provider {provider} was not discovered"
        if partition is not None:
            for key in ((ctype, partition), (ctype, EVERY_PARTITION)):
                if key in self.ok:
                    return None
                if key in self.failed:
                    return self.failed[key]
            if ctype not in self.types_ok and ctype not in self.types_failed:
                return "type not discovered"
            return f"{partition} was not in the discovery scope"
        if ctype in self.types_failed:
            return self.types_failed[ctype]
        if ctype in self.types_ok:
            return None
        return "type not discovered"


def detect(instances: list[ManagedInstance], cloud: Iterable[CloudObject], evaluation: Evaluation, *,
           severity: SeverityRules | None = None, ignore: IgnoreRules | None = None,
           context: ComparisonContext | None = None) -> DetectionResult:
    """Missing, unmanaged and changed resources between the environment's states and the cloud."""
    canon = canonical_types()
    severity = severity or SeverityRules()
    ctx = context if context is not None else ComparisonContext.build(instances)
    result = DetectionResult()
    findings = result.findings

    canon_get = canon.get
    # (canonical type, match key) -> cloud object; a matched object is taken out, what is left is unmanaged
    index: dict[tuple[str, str], CloudObject] = {}
    for obj in cloud:
        t = obj.terraform_type
        index[(canon_get(t, t), obj.match_key)] = obj
    cloud_total = len(index)
    take = index.pop

    matched: dict[tuple[str, str], ManagedInstance] = {}
    unevaluated: Counter[tuple[str, str, str]] = Counter()
    changed = missing = ignored = 0
    for inst in instances:
        t = inst.terraform_type
        key = (canon_get(t, t), inst.match_key)
        obj = take(key, None)
        if obj is not None:
            matched[key] = inst
            diffs = compare(inst, obj, ctx)
            if not diffs:
                continue
            if ignore is not None:
                if ignore.ignores_resource(t, inst.terraform_id):
                    ignored += 1
                    continue
                if ignore.has_field_rules(t, inst.terraform_id):
                    diffs = [d for d in diffs if not ignore.ignores_field(t, inst.terraform_id, d.path)]
                    if not diffs:
                        continue
            finding = Finding(CHANGED, t, inst.terraform_id, inst.match_key, inst.provider, address=inst.address,
                              module=inst.module, account=obj.account, region=obj.region, name=obj.name,
                              state=inst.state, diffs=diffs)
            severity.classify(finding)
            findings.append(finding)
            changed += 1
            continue
        first = matched.get(key)
        if first is not None:
            result.warnings.append(f"{inst.terraform_type} {inst.terraform_id} is managed twice: "
                                   f"{first.address} ({first.state}) and {inst.address} ({inst.state})")
            continue
        if t in STANDALONE_RULE_TYPES:
            continue  # compared as part of its security group (see projections)
        reason = evaluation.reason_not_evaluated(inst.provider, key[0], inst.region)
        if reason is not None:
            unevaluated[(t, inst.region or "", reason)] += 1
            continue
        if ignore is not None and ignore.ignores_resource(t, inst.terraform_id):
            ignored += 1
            continue
        finding = Finding(MISSING, t, inst.terraform_id, inst.match_key, inst.provider, address=inst.address,
                          module=inst.module, region=inst.region or "", state=inst.state)
        severity.classify(finding)
        findings.append(finding)
        missing += 1

    unmanaged = 0
    for obj in index.values():  # what no instance matched
        if obj.cloud_default is not None:
            cloud_total -= 1
            continue
        if ignore is not None and ignore.ignores_resource(obj.terraform_type, obj.terraform_id):
            ignored += 1
            continue
        finding = Finding(UNMANAGED, obj.terraform_type, obj.terraform_id, obj.match_key, obj.provider,
                          account=obj.account, region=obj.region, name=obj.name)
        severity.classify(finding)
        findings.append(finding)
        unmanaged += 1
    result.managed = len(matched)
    result.changed, result.missing, result.unmanaged, result.ignored = changed, missing, unmanaged, ignored
    result.cloud_total = cloud_total

    result.unevaluated = [Unevaluated(t, region, reason, count)
                          for (t, region, reason), count in sorted(unevaluated.items())]
    return result


def nested_loop_detect(instances: list[ManagedInstance], cloud: list[CloudObject]) -> tuple[int, int, int]:
    """The naive baseline the benchmark compares against: for each instance, scan the cloud list (no index,
    no equivalence handling). Returns (managed, missing, unmanaged)."""
    managed = missing = 0
    seen: set[int] = set()
    for inst in instances:
        for n, obj in enumerate(cloud):
            if obj.terraform_type == inst.terraform_type and obj.match_key == inst.match_key:
                managed += 1
                seen.add(n)
                break
        else:
            missing += 1
    return managed, missing, len(cloud) - len(seen)
