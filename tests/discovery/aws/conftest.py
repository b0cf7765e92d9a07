"""Speed for the catalog tests: every test builds a fresh adapter (a fresh boto3 session), and each session
would read botocore's service models from disk again (~0.2 s per service). One shared, read-only model
loader per process keeps each test to its moto calls."""

from __future__ import annotations

import functools
from typing import Any

import pytest


@functools.cache
def _shared_loader(data_path: str | None = None) -> Any:
    from botocore.loaders import create_loader

    return create_loader(data_path)


@pytest.fixture(autouse=True)
def _share_botocore_models(monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.session

    monkeypatch.setattr(botocore.session, "create_loader", _shared_loader)
