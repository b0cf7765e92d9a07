"""The type registry: id rules, tags, equivalent types, match keys, and coverage per provider."""

from __future__ import annotations

import pytest

from driftmgr_tui.discovery.registry import (
    MappingError,
    Registry,
    TypeMapping,
    match_key,
    normalize_tags,
    registry,
    render,
)


def test_templates_take_nested_fields_and_filters() -> None:
    fields = {"HostedZone": {"Id": "/hostedzone/Z123"}, "Url": "https://q/123/jobs", "__tags__": {"Name": "web"}}
    assert render("{HostedZone.Id|basename}", fields) == "Z123"
    assert render("{Url|basename}", fields) == "jobs"
    assert render("{tag:Name}-{HostedZone.Id|basename|lower}", fields) == "web-z123"
    assert render(lambda f: f["Url"].upper(), fields) == "HTTPS://Q/123/JOBS"


def test_a_missing_field_is_an_error_naming_it_never_an_empty_id() -> None:
    with pytest.raises(MappingError, match="has no 'VpcId'"):
        render("{VpcId}", {"SubnetId": "subnet-1"}, what="aws_vpc id")
    with pytest.raises(MappingError, match="unknown filter"):
        render("{A|nope}", {"A": "x"})
    with pytest.raises(MappingError, match="empty value"):
        render(lambda f: "", {})


@pytest.mark.parametrize("raw, expected", [
    (None, {}),
    ({"a": "1", "b": None}, {"a": "1", "b": ""}),
    ([{"Key": "Name", "Value": "web"}], {"Name": "web"}),
    ([{"key": "team", "value": "core"}], {"team": "core"}),
    ([{"TagKey": "env", "TagValue": "prod"}], {"env": "prod"}),
    ([{"Value": "no key"}, "junk"], {}),
])
def test_tags_from_every_shape_clouds_use(raw, expected) -> None:
    assert normalize_tags(raw) == expected


def test_equivalent_types_match_each_other() -> None:
    reg = Registry([
        TypeMapping(provider="azure", cloud_type="Microsoft.Compute/virtualMachines",
                    terraform_type="azurerm_linux_virtual_machine", id="{id}",
                    equivalents=("azurerm_windows_virtual_machine",)),
    ])
    assert reg.equivalent_types("azurerm_windows_virtual_machine") == {
        "azurerm_linux_virtual_machine", "azurerm_windows_virtual_machine"}
    assert reg.by_cloud_type("azure", "microsoft.compute/VIRTUALMACHINES")[0].terraform_type == (
        "azurerm_linux_virtual_machine")
    assert reg.equivalent_types("aws_vpc") == {"aws_vpc"}


def test_the_registry_refuses_inconsistent_catalogs() -> None:
    ok = TypeMapping(provider="aws", cloud_type="AWS::EC2::VPC", terraform_type="aws_vpc", id="{VpcId}")
    with pytest.raises(ValueError, match="mapped twice"):
        Registry([ok, ok])
    with pytest.raises(ValueError, match="must start with google_"):
        Registry([TypeMapping(provider="gcp", cloud_type="x", terraform_type="aws_vpc", id="{a}")])


def test_azure_ids_compare_case_insensitively_others_exactly() -> None:
    arm = "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/Net"
    assert match_key("azurerm_virtual_network", arm) == match_key("azurerm_virtual_network", arm.upper())
    assert match_key("aws_s3_bucket", "Bucket") != match_key("aws_s3_bucket", "bucket")


def test_coverage_per_provider() -> None:
    reg = registry()
    assert len(reg.terraform_types("aws")) >= 60
    assert len(reg.terraform_types("azure")) >= 40
    assert len(reg.terraform_types("gcp")) >= 30
    assert len(reg.terraform_types("digitalocean")) >= 15
    cloud_keys = [(m.provider, m.cloud_type) for m in reg.mappings]
    assert all(t.startswith(("aws_", "azurerm_", "google_", "digitalocean_")) for t in reg.terraform_types())
    assert cloud_keys  # every provider's catalog loaded
