"""ARM id parsing and the canonical casing azurerm stores."""

from __future__ import annotations

import pytest

from driftmgr_tui.discovery.azure.ids import (
    ArmIdError,
    arm_type_of,
    canonical_arm_id,
    parse_arm_id,
    resource_group_id,
    same_arm_id,
)
from driftmgr_tui.discovery.registry import match_key

SUB = "00000000-1111-2222-3333-444444444444"


@pytest.mark.parametrize(
    ("raw", "resource_type", "expected"),
    [
        # lower-case keywords and an upper-case namespace, as some resource providers answer
        (f"/subscriptions/{SUB}/resourcegroups/RG-Prod/providers/MICROSOFT.COMPUTE/virtualmachines/vm-01",
         "Microsoft.Compute/virtualMachines",
         f"/subscriptions/{SUB}/resourceGroups/RG-Prod/providers/Microsoft.Compute/virtualMachines/vm-01"),
        # Application Insights reports its type in lower case
        (f"/subscriptions/{SUB}/resourceGroups/rg/providers/microsoft.insights/components/app-ai",
         "Microsoft.Insights/components",
         f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Insights/components/app-ai"),
        # DNS zones: ARM says dnszones, azurerm says dnsZones; the zone name keeps its dots and case
        (f"/SUBSCRIPTIONS/{SUB}/RESOURCEGROUPS/DNS/PROVIDERS/Microsoft.Network/dnszones/Example.COM",
         "Microsoft.Network/dnsZones",
         f"/subscriptions/{SUB}/resourceGroups/DNS/providers/Microsoft.Network/dnsZones/Example.COM"),
        # Redis: ARM says Redis, azurerm says redis
        (f"/subscriptions/{SUB}/resourceGroups/cache/providers/Microsoft.Cache/Redis/Cache1",
         "Microsoft.Cache/redis",
         f"/subscriptions/{SUB}/resourceGroups/cache/providers/Microsoft.Cache/redis/Cache1"),
        # a child resource: both type segments canonical, both names as given
        (f"subscriptions/{SUB}/resourceGroups/db/providers/microsoft.sql/SERVERS/SqlSrv/DATABASES/AppDb/",
         "Microsoft.Sql/servers/databases",
         f"/subscriptions/{SUB}/resourceGroups/db/providers/Microsoft.Sql/servers/SqlSrv/databases/AppDb"),
        # without a resource type only the keywords change
        (f"/subscriptions/{SUB}/resourcegroups/x/providers/microsoft.web/SITES/app", None,
         f"/subscriptions/{SUB}/resourceGroups/x/providers/microsoft.web/SITES/app"),
    ],
)
def test_canonical_arm_id(raw: str, resource_type: str | None, expected: str) -> None:
    assert canonical_arm_id(raw, resource_type=resource_type) == expected
    assert same_arm_id(raw, expected)
    assert match_key("azurerm_x", canonical_arm_id(raw)) == match_key("azurerm_x", expected)


def test_resource_group_ids_keep_the_name_and_fix_the_keyword() -> None:
    assert canonical_arm_id(f"/subscriptions/{SUB}/resourcegroups/MY-RG",
                            resource_type="Microsoft.Resources/resourceGroups") == \
        f"/subscriptions/{SUB}/resourceGroups/MY-RG"
    assert resource_group_id(SUB, "MY-RG") == f"/subscriptions/{SUB}/resourceGroups/MY-RG"


def test_parse_exposes_the_parts() -> None:
    parsed = parse_arm_id(f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Sql/servers/s/databases/d")
    assert parsed.subscription == SUB
    assert parsed.resource_group == "rg"
    assert parsed.name == "d"
    assert parsed.resource_type == "Microsoft.Sql/servers/databases"
    assert arm_type_of(f"/subscriptions/{SUB}/resourceGroups/rg") == "Microsoft.Resources/resourceGroups"


def test_extension_resources_and_tenant_level_ids() -> None:
    lock = (f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"
            "/providers/microsoft.authorization/LOCKS/no-delete")
    parsed = parse_arm_id(lock)
    assert [s.resource_type for s in parsed.sections] == ["Microsoft.Compute/virtualMachines",
                                                          "microsoft.authorization/LOCKS"]
    assert canonical_arm_id(lock, resource_type="Microsoft.Authorization/locks").endswith(
        "/providers/Microsoft.Compute/virtualMachines/vm/providers/Microsoft.Authorization/locks/no-delete")
    group = parse_arm_id("/providers/Microsoft.Management/managementGroups/platform")
    assert group.subscription is None and group.name == "platform"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not-an-id",
        "/subscriptions",
        f"/subscriptions/{SUB}/resourceGroups",
        f"/subscriptions/{SUB}/resourceGroups/rg/providers",
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute",
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines",
        f"/subscriptions/{SUB}/resourceGroups/rg//providers/Microsoft.Compute/virtualMachines/vm",
        f"/subscriptions/{SUB}/resourceGroups/rg/things/x",
    ],
)
def test_malformed_ids_are_rejected_with_the_id_in_the_message(bad: str) -> None:
    with pytest.raises(ArmIdError) as info:
        parse_arm_id(bad)
    assert bad.strip() in str(info.value) or bad == ""


def test_a_type_that_does_not_match_the_id_is_an_error() -> None:
    with pytest.raises(ArmIdError, match=r"not a Microsoft\.Network/virtualNetworks"):
        canonical_arm_id(f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks/d",
                         resource_type="Microsoft.Network/virtualNetworks")


def test_same_arm_id_ignores_case_and_slashes() -> None:
    assert same_arm_id(f"/subscriptions/{SUB}/resourcegroups/RG/", f"subscriptions/{SUB}/resourceGroups/rg")
    assert not same_arm_id(f"/subscriptions/{SUB}/resourceGroups/rg1", f"/subscriptions/{SUB}/resourceGroups/rg2")
