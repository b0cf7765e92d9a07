"""Shared set-up of the gcs backend tests: a bucket on the local GCS, backends and specs pointing at it,
and hooks acting as another client at an exact moment."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from driftmgr_tui.core.errors import LockInfo
from driftmgr_tui.state.backends.base import new_lock_info
from driftmgr_tui.state.backends.gcs import GcsBackend
from driftmgr_tui.state.backends.gcs_config import ENV_FALLBACKS, GcsBackendConfig
from tests._fixtures.gcs_server import FakeGcs, Request, multipart_parts

BUCKET = "tfstate-bucket"
PREFIX = "network/prod"
STATE_OBJ = f"{PREFIX}/default.tfstate"
LOCK_OBJ = f"{PREFIX}/default.tflock"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "terraform.tfstate"
STATE1 = b'{"version": 4, "serial": 1, "lineage": "abc", "resources": []}\n'
STATE2 = b'{"version": 4, "serial": 2, "lineage": "abc", "resources": []}\n'
STATE3 = b'{"version": 4, "serial": 3, "lineage": "abc", "resources": []}\n'
TERRAFORM_LOCK_KEYS = ["ID", "Operation", "Info", "Who", "Version", "Created", "Path"]


@pytest.fixture
def no_google_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Google setting of this machine leaks in: credentials, endpoints, keys, its gcloud login."""
    for variables in ENV_FALLBACKS.values():
        for var in variables:
            monkeypatch.delenv(var, raising=False)
    for var in (
        "GOOGLE_APPLICATION_CREDENTIALS",
        "STORAGE_EMULATOR_HOST",
        "GOOGLE_CLOUD_PROJECT",
        "TF_WORKSPACE",
        "TF_DATA_DIR",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))  # never the user's gcloud login


@pytest.fixture
def bucket(gcs: FakeGcs) -> FakeGcs:
    """The local GCS with an empty bucket ``BUCKET``."""
    gcs.create_bucket(BUCKET)
    return gcs


def backend(server: FakeGcs, **kw: Any) -> GcsBackend:
    kw.setdefault("bucket", BUCKET)
    kw.setdefault("prefix", PREFIX)
    kw.setdefault("storage_custom_endpoint", f"{server.url}/storage/v1/")
    kw.setdefault("retry_initial_delay", 0.01)
    kw.setdefault("retry_max_delay", 0.02)
    kw.setdefault("retry_timeout", 5.0)
    return GcsBackend(GcsBackendConfig(**kw))


def spec(server: FakeGcs, path: str = PREFIX, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"storage_custom_endpoint": server.url, **params}.items())
    return f"gs://{BUCKET}/{path}?{query}"


def lock_as(who: str, operation: str = "OperationTypeApply") -> LockInfo:
    info = new_lock_info(operation, "")
    info.who = who
    return info


def uploads_of(server: FakeGcs, name: str) -> list[Request]:
    return [r for r in server.requests_for(name) if r.method == "POST"]


def media_of(req: Request) -> bytes:
    return multipart_parts(req)[1][1]


def once(server: FakeGcs, match: Callable[[Request], bool], action: Callable[[Request], None]) -> None:
    """Run ``action(req)`` on the first request matching ``match``, before the server handles it."""

    def hook(req: Request) -> None:
        if not match(req):
            return
        try:
            server.hooks.remove(hook)
        except ValueError:
            return
        action(req)

    server.hooks.append(hook)


def on_object(name: str, method: str = "POST") -> Callable[[Request], bool]:
    return lambda req: req.method == method and req.object_name == name


def object_requests(req: Request) -> bool:
    return "/o" in req.path  # not the client's own background bucket-metadata fetch


def gcs_backend_block(**attributes: str) -> str:
    body = "".join(f"    {name} = {json.dumps(value)}\n" for name, value in attributes.items())
    return f'terraform {{\n  backend "gcs" {{\n{body}  }}\n}}\n'


def seed_example(server: FakeGcs, name: str = STATE_OBJ) -> None:
    server.put(BUCKET, name, EXAMPLE.read_bytes())


def no_lock_left(server: FakeGcs) -> bool:
    return not [n for n in server.names(BUCKET) if n.endswith(".tflock")]
