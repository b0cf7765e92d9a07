"""Spaces buckets: boto3 against moto's S3 (server mode) standing in for a Spaces region's S3-compatible
endpoint; keys from the adapter, the keyring or the environment; no keys, half the keys, rejected keys."""

from __future__ import annotations

from collections.abc import Callable

import boto3
import pytest

from driftmgr_tui.core.errors import ProviderAuthError
from driftmgr_tui.core.secrets import new_ref, set_secret
from driftmgr_tui.discovery.digitalocean.adapter import DigitalOceanAdapter
from driftmgr_tui.discovery.digitalocean.spaces import SpacesKeys, endpoint_for
from driftmgr_tui.discovery.scanner import Scanner
from driftmgr_tui.remediation.codegen import import_id_for
from tests._fixtures.moto import moto_set_auth
from tests.alerts import keyring_backend

from .conftest import scan

BUCKETS = ("static-assets", "backups-2025")
SPACES_TYPE = ("digitalocean_spaces_bucket",)


@pytest.fixture
def spaces(aws: str) -> str:
    """moto's S3 with two buckets: the endpoint every Spaces region resolves to in these tests."""
    s3 = boto3.client("s3")
    for name in BUCKETS:
        s3.create_bucket(Bucket=name)
    return aws


def test_buckets_are_listed_per_spaces_region(spaces: str, make_adapter: Callable[..., DigitalOceanAdapter],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")  # AWS settings are not Spaces settings
    adapter = make_adapter(types=SPACES_TYPE, spaces_keys=SpacesKeys("testing", "testing"), spaces_endpoint=spaces,
                           config={"spaces_regions": ["ams3"]})
    found = scan(adapter)
    assert list(found) == ["ams3/spaces"]
    buckets = sorted(found["ams3/spaces"], key=lambda r: r.terraform_id)
    assert [(r.terraform_type, r.terraform_id, r.name, r.region, r.native_id) for r in buckets] == [
        ("digitalocean_spaces_bucket", "backups-2025", "backups-2025", "ams3", "do:space:backups-2025"),
        ("digitalocean_spaces_bucket", "static-assets", "static-assets", "ams3", "do:space:static-assets")]
    assert import_id_for("digitalocean_spaces_bucket", "static-assets", buckets[1].attributes) == "ams3,static-assets"
    assert adapter.unsupported() == {}


def test_the_region_filter_picks_the_spaces_regions(spaces: str,
                                                   make_adapter: Callable[..., DigitalOceanAdapter]) -> None:
    adapter = make_adapter(types=SPACES_TYPE, regions=("nyc1", "nyc3", "sfo3"),
                           spaces_keys=SpacesKeys("testing", "testing"), spaces_endpoint=spaces)
    adapter.connect()
    assert [t.key for t in adapter.plan()] == ["nyc3/spaces", "sfo3/spaces"]  # nyc1 has no Spaces


def test_keys_from_the_keyring(spaces: str, make_adapter: Callable[..., DigitalOceanAdapter]) -> None:
    with keyring_backend() as kr:
        ref = new_ref("spaces")
        set_secret(ref, "testing")
        adapter = make_adapter(types=SPACES_TYPE, spaces_endpoint=spaces,
                               config={"spaces_access_id": "testing", "spaces_key_secret": ref,
                                       "spaces_regions": ["nyc3"]})
        found = scan(adapter)
        assert sorted(r.terraform_id for r in found["nyc3/spaces"]) == sorted(BUCKETS)
        assert list(kr.secrets.values()) == ["testing"]


def test_keys_from_the_environment(spaces: str, make_adapter: Callable[..., DigitalOceanAdapter],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPACES_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("SPACES_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("SPACES_ENDPOINT_URL", spaces)
    found = scan(make_adapter(types=SPACES_TYPE, config={"spaces_regions": ["fra1"]}))
    assert sorted(r.terraform_id for r in found["fra1/spaces"]) == sorted(BUCKETS)


@pytest.mark.parametrize(("environment", "config", "reason"), [
    ({}, {}, "no Spaces keys"),
    ({"SPACES_ACCESS_KEY_ID": "DO00EXAMPLE"}, {}, "SPACES_SECRET_ACCESS_KEY is not set"),
    ({}, {"spaces_access_id": "DO00EXAMPLE"}, "[digitalocean] spaces_key_secret is not set"),
])
def test_without_keys_the_type_is_skipped_and_says_why(
        make_adapter: Callable[..., DigitalOceanAdapter], monkeypatch: pytest.MonkeyPatch,
        environment: dict[str, str], config: dict[str, str], reason: str) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    adapter = make_adapter(types=(*SPACES_TYPE, "digitalocean_domain"), config=config)
    adapter.connect()
    assert [t.key for t in adapter.plan()] == ["global/domains"]
    assert adapter.unsupported() == {f"digitalocean_spaces_bucket (skipped: {reason})": 0}


def test_a_spaces_secret_the_keyring_lost_is_named(make_adapter: Callable[..., DigitalOceanAdapter]) -> None:
    with keyring_backend():
        adapter = make_adapter(types=SPACES_TYPE, config={"spaces_access_id": "DO00EXAMPLE",
                                                          "spaces_key_secret": new_ref("spaces")})
        with pytest.raises(ProviderAuthError, match=r"the Spaces secret key \(digitalocean.spaces_key_secret = "
                                                    r"spaces:[0-9a-f-]+\) is not in the OS keyring"):
            adapter.connect()


def test_rejected_keys_fail_the_task_with_the_reason(spaces: str,
                                                     make_adapter: Callable[..., DigitalOceanAdapter]) -> None:
    adapter = make_adapter(types=SPACES_TYPE, spaces_keys=SpacesKeys("DO00WRONGKEY", "wrong-secret"),
                           spaces_endpoint=spaces, config={"spaces_regions": ["nyc3"]})
    adapter.connect()
    moto_set_auth(spaces, 0)  # moto now checks every request's keys, as Spaces does
    [outcome] = Scanner(adapter, backoff_base=0.01, backoff_cap=0.05).run(adapter.plan())
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.startswith(
        "digitalocean: Spaces keys rejected in nyc3 (403 InvalidAccessKeyId: ")
    assert "wrong-secret" not in outcome.error


def test_the_endpoint_template() -> None:
    assert endpoint_for("https://{region}.digitaloceanspaces.com", "ams3") == "https://ams3.digitaloceanspaces.com"
    assert endpoint_for("https://{{.Region}}.digitaloceanspaces.com/", "sgp1") == "https://sgp1.digitaloceanspaces.com"
    with pytest.raises(Exception, match="refusing plain http to the Spaces endpoint"):
        endpoint_for("http://{region}.digitaloceanspaces.com", "nyc3")
