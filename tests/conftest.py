"""Shared test wiring. Real components only: see tests/_fixtures/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = [
    "tests._fixtures.env",
    "tests._fixtures.postgres",
    "tests._fixtures.moto",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"
TF_FIXTURES = SHARED_FIXTURES / "terraform"


@pytest.fixture(scope="session")
def tf_fixtures() -> Path:
    """Terraform's own test data (../shared/fixtures/terraform). CI always has it beside the checkout."""
    if not TF_FIXTURES.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"reference fixtures missing at {TF_FIXTURES}")
        pytest.skip(f"reference fixtures not found at {TF_FIXTURES} (../shared beside the checkout)")
    return TF_FIXTURES


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long tests (marked slow, then terraform) first: under pytest-xdist they start at once on one
    worker while the other workers drain the short ones, instead of starting last and running alone."""

    def weight(item: pytest.Item) -> int:
        return 0 if item.get_closest_marker("slow") else 1 if item.get_closest_marker("terraform") else 2

    items.sort(key=weight)  # stable: the collection order within each group
