"""DigitalOcean discovery tests: the adapter's own urllib3 client against a local fake API v2 (real HTTP), and
boto3 against moto for Spaces."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from driftmgr_tui.discovery.digitalocean.adapter import DigitalOceanAdapter
from driftmgr_tui.discovery.digitalocean.client import DoSettings
from driftmgr_tui.discovery.model import ScanContext, Scope
from tests._fixtures.cloudapi import FakeCloudApi
from tests._fixtures.cloudapi import cloudapi as cloudapi  # the fixture, for this directory

from .fake_api import TOKEN, FakeDigitalOcean

ENVIRONMENT = ("DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN", "DIGITALOCEAN_API_URL", "SPACES_ACCESS_KEY_ID",
               "SPACES_SECRET_ACCESS_KEY", "SPACES_ENDPOINT_URL")


@pytest.fixture(autouse=True)
def no_digitalocean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials of the machine running the tests never leak in."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def do_api(cloudapi: FakeCloudApi) -> Iterator[FakeDigitalOcean]:
    yield FakeDigitalOcean(cloudapi)


def scan_context(event: threading.Event | None = None, *, retries: list[tuple[str, BaseException, float]] | None = None,
                 max_retries: int = 4) -> ScanContext:
    """Tiny backoff waits; ``retries`` collects what was retried (as the scanner's counter sees it)."""
    return ScanContext(cancel_event=event or threading.Event(), backoff_base=0.01, backoff_cap=0.05,
                       max_retries=max_retries,
                       on_retry=(lambda what, exc, delay: retries.append((what, exc, delay)))
                       if retries is not None else None)


@pytest.fixture
def make_adapter(do_api: FakeDigitalOcean) -> Callable[..., DigitalOceanAdapter]:
    """An adapter on the fake API with the right token (unless told otherwise) and short rate-limit waits."""

    def make(*, regions: tuple[str, ...] = (), types: tuple[str, ...] = (), token: str | None = TOKEN,
             config: dict[str, Any] | None = None, max_rate_wait: float = 5.0, **kwargs: Any) -> DigitalOceanAdapter:
        return DigitalOceanAdapter(
            Scope(provider="digitalocean", regions=regions, types=types), token=token, base_url=do_api.url,
            settings=DoSettings(max_rate_wait=max_rate_wait, connect_backoff=0.01, read_timeout=10.0),
            config=config if config is not None else {}, **kwargs)

    return make


def scan(adapter: DigitalOceanAdapter) -> dict[str, list[Any]]:
    """Connect, plan, and run every task; the resources by task key."""
    adapter.connect()
    return {task.key: [r for page in adapter.run_task(task, scan_context()) for r in page]
            for task in adapter.plan()}
