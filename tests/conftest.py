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
