"""What drift detection works on and what it produces.

Inputs are plain and cheap to build at 100,000 scale: :class:`ManagedInstance` (one state instance, from any
state of the environment) and :class:`CloudObject` (one discovered resource). The output is a
:class:`DetectionResult`: :class:`Finding` objects for what drifted, the counts coverage is computed from, and
what could not be evaluated (a type we cannot discover, a region whose discovery failed): "not known" is never
reported as "missing".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MISSING = "missing"
UNMANAGED = "unmanaged"
CHANGED = "changed"
KINDS = (CHANGED, MISSING, UNMANAGED)

UNAPPLIED = "unapplied"
ORPHANED = "orphaned"
CONFIG_KINDS = (UNAPPLIED, ORPHANED)

SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}  # lower is worse

# provider name in a state's provider string -> discovery provider
STATE_PROVIDERS = {"aws": "aws", "azurerm": "azure", "google": "gcp", "google-beta": "gcp",
                   "digitalocean": "digitalocean"}


def worst(severities: Any, default: str = "info") -> str:
    """The most severe of ``severities`` (names from :data:`SEVERITIES`)."""
    best = None
    for name in severities:
        if best is None or SEVERITY_RANK[name] < SEVERITY_RANK[best]:
            best = name
    return best or default


def provider_of(provider_string: str) -> str:
    """``provider["registry.terraform.io/hashicorp/aws"].west`` -> ``aws`` (the discovery provider name), or the
    Terraform provider type when discovery does not know it (``random``)."""
    inner = provider_string
    start = inner.find('["')
    if start >= 0:
        inner = inner[start + 2: inner.find('"]', start)]
    name = inner.rsplit("/", 1)[-1]
    return STATE_PROVIDERS.get(name, name)


@dataclass(slots=True)
class FieldDiff:
    """One attribute that differs: ``expected`` is what the state says, ``actual`` what the cloud has."""

    path: str
    expected: Any
    actual: Any
    severity: str = "info"

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "expected": self.expected, "actual": self.actual, "severity": self.severity}


@dataclass(slots=True)
class ManagedInstance:
    """A resource instance of some state of the environment."""

    address: str
    module: str
    terraform_type: str
    terraform_id: str
    provider: str  # discovery provider name: aws | azure | gcp | digitalocean | (other providers as is)
    attributes: dict[str, Any]
    state: str  # location of the state that holds it
    sensitive_paths: frozenset[str] = frozenset()
    region: str | None = None  # AWS region / Azure subscription / GCP project when the attributes say
    match_key: str = ""


@dataclass(slots=True)
class CloudObject:
    """A discovered resource, as the drift engine needs it."""

    terraform_type: str
    terraform_id: str
    match_key: str
    provider: str
    account: str
    region: str
    name: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    cloud_default: str | None = None
    run_id: int | None = None


@dataclass(slots=True)
class Finding:
    """One drifted resource."""

    kind: str
    terraform_type: str
    terraform_id: str
    match_key: str
    provider: str
    address: str | None = None
    module: str = ""
    account: str = ""
    region: str = ""
    name: str | None = None
    state: str | None = None
    diffs: list[FieldDiff] = field(default_factory=list)
    severity: str = "medium"
    # which ignore/normalizer decisions touched it, for "why" questions
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "terraform_type": self.terraform_type,
            "terraform_id": self.terraform_id,
            "address": self.address,
            "module": self.module,
            "provider": self.provider,
            "account": self.account,
            "region": self.region,
            "name": self.name,
            "severity": self.severity,
            "diffs": [d.to_json() for d in self.diffs],
            "state": self.state,
        }


@dataclass(slots=True)
class Unevaluated:
    """Resources that were not checked, and why (counted, never reported as drift)."""

    terraform_type: str
    region: str
    reason: str
    count: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"terraform_type": self.terraform_type, "region": self.region, "reason": self.reason,
                "count": self.count}


@dataclass
class DetectionResult:
    findings: list[Finding] = field(default_factory=list)
    managed: int = 0  # in state and in the cloud (changed or not)
    unmanaged: int = 0
    missing: int = 0
    changed: int = 0
    ignored: int = 0
    cloud_total: int = 0  # discovered resources considered (cloud-made defaults left out)
    unevaluated: list[Unevaluated] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def coverage(self) -> float:
        """managed / (managed + unmanaged + missing), in percent (100 when there is nothing at all)."""
        total = self.managed + self.unmanaged + self.missing
        return round(100.0 * self.managed / total, 2) if total else 100.0

    @property
    def unevaluated_count(self) -> int:
        return sum(u.count for u in self.unevaluated)
