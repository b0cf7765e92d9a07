"""Every AWS catalog entry, proved against moto: real resources are created with boto3, the real adapter
discovers them, and the Terraform id, name and tags must be exactly what the create calls imply."""

from __future__ import annotations

import pytest

from driftmgr_tui.discovery.aws.catalog import AWS_TYPES
from driftmgr_tui.discovery.registry import registry
from tests.discovery.aws import cases_network, cases_services  # noqa: F401  (they register CASES)
from tests.discovery.aws.helpers import CASES, discover_type


def test_the_aws_catalog_covers_at_least_65_terraform_types() -> None:
    assert len({t.terraform_type for t in AWS_TYPES}) >= 65
    assert len(registry().terraform_types("aws")) >= 65


def test_every_catalog_entry_has_a_creation_case() -> None:
    assert set(CASES) == {t.terraform_type for t in AWS_TYPES}


def test_cloud_types_are_unique_and_look_like_cloudformation_names() -> None:
    cloud_types = [t.cloud_type for t in AWS_TYPES]
    assert len(cloud_types) == len(set(cloud_types))
    assert all(c.startswith("AWS::") and c.count("::") == 2 for c in cloud_types)


@pytest.mark.parametrize("terraform_type", sorted(CASES))
def test_discovers_what_was_created(aws: str, terraform_type: str) -> None:
    expected = CASES[terraform_type]()
    assert expected, "a case must create something"
    found = discover_type(terraform_type)
    by_id = {r.terraform_id: r for r in found}
    for want in expected:
        assert want.id in by_id, f"{want.id} not discovered; found {sorted(by_id)}"
        resource = by_id[want.id]
        assert resource.terraform_type == terraform_type
        assert (resource.name, resource.tags) == (want.name, want.tags)
        assert resource.cloud_default is None, resource.cloud_default
        assert resource.region in ("us-east-1", "global")
