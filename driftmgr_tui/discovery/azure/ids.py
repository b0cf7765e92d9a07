"""Azure Resource Manager ids: parsing, and the canonical casing the azurerm provider stores.

ARM treats ids case-insensitively and answers in whatever casing the resource provider chose:
``/subscriptions/S/resourcegroups/RG/providers/MICROSOFT.COMPUTE/virtualMachines/vm1`` is common, and
``microsoft.insights/components`` is how Application Insights reports its own type. The azurerm provider
stores ids in one casing (``/subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/vm1``)
and its importers validate that casing, so an id we hand to ``terraform import`` must be canonical.

Only keywords (``subscriptions``, ``resourceGroups``, ``providers``) and the namespace/type segments are
rewritten; names (resource group, resource, child names) are user data and keep the casing ARM gave.
Matching never depends on this: ``registry.match_key`` compares azurerm ids lower-cased.

Nothing here imports an SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from driftmgr_tui.discovery.registry import MappingError


class ArmIdError(MappingError):
    """A string is not an ARM resource id; the message names the id and what is wrong with it."""


@dataclass(frozen=True)
class ProviderSection:
    """``providers/{namespace}/{type}/{name}[/{childType}/{childName}...]``: one resource provider's part of an
    id. An extension resource (a lock on a VM) has a second section after the first."""

    namespace: str
    types: tuple[tuple[str, str], ...]  # ((type, name), (childType, childName), ...)

    @property
    def resource_type(self) -> str:
        """``Microsoft.Sql/servers/databases`` for ``providers/Microsoft.Sql/servers/s/databases/d``."""
        return "/".join((self.namespace, *(t for t, _ in self.types)))

    def path(self) -> str:
        return "/".join(("providers", self.namespace, *(part for pair in self.types for part in pair)))


@dataclass(frozen=True)
class ArmId:
    """A parsed ARM id. ``subscription`` is None only for tenant-level ids (management groups)."""

    subscription: str | None
    resource_group: str | None
    sections: tuple[ProviderSection, ...] = ()

    @property
    def name(self) -> str:
        """The last name in the id: the resource's own (short) name, or the resource group's."""
        if self.sections:
            return self.sections[-1].types[-1][1]
        if self.resource_group is not None:
            return self.resource_group
        return self.subscription or ""

    @property
    def resource_type(self) -> str:
        """The ARM type the id names (of the last provider section), ``Microsoft.Resources/resourceGroups``
        for a resource group id and ``Microsoft.Resources/subscriptions`` for a subscription id."""
        if self.sections:
            return self.sections[-1].resource_type
        if self.resource_group is not None:
            return RESOURCE_GROUP_TYPE
        return "Microsoft.Resources/subscriptions"

    def format(self) -> str:
        """The id with canonical keyword casing (names and type segments as held)."""
        parts: list[str] = []
        if self.subscription is not None:
            parts += ["subscriptions", self.subscription]
        if self.resource_group is not None:
            parts += ["resourceGroups", self.resource_group]
        parts += [section.path() for section in self.sections]
        return "/" + "/".join(parts)

    def with_type_casing(self, resource_type: str) -> ArmId:
        """This id with the last section's namespace and type segments spelled as ``resource_type``
        (``Microsoft.Sql/servers/databases``). The types must agree ignoring case; otherwise ArmIdError."""
        if not self.sections:
            return self
        wanted = [p for p in resource_type.split("/") if p]
        last = self.sections[-1]
        if [p.lower() for p in wanted] != [p.lower() for p in last.resource_type.split("/")]:
            raise ArmIdError(f"ARM id {self.format()!r} is a {last.resource_type}, not a {resource_type}")
        types = tuple((canonical, name) for canonical, (_, name) in zip(wanted[1:], last.types, strict=True))
        return replace(self, sections=(*self.sections[:-1], ProviderSection(namespace=wanted[0], types=types)))


RESOURCE_GROUP_TYPE = "Microsoft.Resources/resourceGroups"


def parse_arm_id(arm_id: str) -> ArmId:
    """Parse an ARM id in any casing. Accepts a missing leading slash and a trailing slash; rejects empty
    segments, a missing name, and anything that does not start at a subscription or a provider."""
    text = arm_id.strip()
    if not text:
        raise ArmIdError("empty ARM id")
    body = text.strip("/")
    parts = body.split("/") if body else []
    if any(part == "" for part in parts):
        raise ArmIdError(f"ARM id {arm_id!r} has an empty segment")
    i = 0
    subscription = resource_group = None
    if i < len(parts) and parts[i].lower() == "subscriptions":
        if i + 1 >= len(parts):
            raise ArmIdError(f"ARM id {arm_id!r} has no subscription id after 'subscriptions'")
        subscription = parts[i + 1]
        i += 2
        if i < len(parts) and parts[i].lower() == "resourcegroups":
            if i + 1 >= len(parts):
                raise ArmIdError(f"ARM id {arm_id!r} has no name after 'resourceGroups'")
            resource_group = parts[i + 1]
            i += 2
    elif not parts or parts[0].lower() != "providers":
        raise ArmIdError(f"{arm_id!r} is not an ARM id (expected /subscriptions/... or /providers/...)")
    sections: list[ProviderSection] = []
    while i < len(parts):
        if parts[i].lower() != "providers":
            raise ArmIdError(f"ARM id {arm_id!r}: expected 'providers' at segment {i + 1}, found {parts[i]!r}")
        if i + 1 >= len(parts):
            raise ArmIdError(f"ARM id {arm_id!r} ends after 'providers' without a namespace")
        namespace = parts[i + 1]
        i += 2
        pairs: list[tuple[str, str]] = []
        while i < len(parts) and parts[i].lower() != "providers":
            if i + 1 >= len(parts):
                raise ArmIdError(f"ARM id {arm_id!r}: type {parts[i]!r} has no name")
            pairs.append((parts[i], parts[i + 1]))
            i += 2
        if not pairs:
            raise ArmIdError(f"ARM id {arm_id!r}: namespace {namespace!r} has no resource type and name")
        sections.append(ProviderSection(namespace=namespace, types=tuple(pairs)))
    return ArmId(subscription=subscription, resource_group=resource_group, sections=tuple(sections))


def canonical_arm_id(arm_id: str, *, resource_type: str | None = None) -> str:
    """``arm_id`` as the azurerm provider stores it: canonical keywords, and when ``resource_type`` is given
    (the catalog's spelling, ``Microsoft.Network/dnsZones``) canonical namespace and type segments."""
    parsed = parse_arm_id(arm_id)
    if resource_type is not None and resource_type.lower() != RESOURCE_GROUP_TYPE.lower():
        parsed = parsed.with_type_casing(resource_type)
    return parsed.format()


def resource_group_id(subscription: str, resource_group: str) -> str:
    """``/subscriptions/{sub}/resourceGroups/{rg}``: the id of ``azurerm_resource_group``."""
    return ArmId(subscription=subscription, resource_group=resource_group).format()


def arm_type_of(arm_id: str) -> str:
    """The resource type an id names, as spelled in the id."""
    return parse_arm_id(arm_id).resource_type


def same_arm_id(a: str, b: str) -> bool:
    """Whether two ids name the same resource (ARM ids compare case-insensitively)."""
    return a.strip().strip("/").lower() == b.strip().strip("/").lower()
