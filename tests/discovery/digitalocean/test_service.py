"""DigitalOcean end to end: the token from the keyring, `driftmgr discover --provider digitalocean`, the
connection test, and drift detection of a state holding digitalocean_* resources against a discovery run."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from driftmgr_tui.cli import cli
from driftmgr_tui.core.errors import ProviderAuthError
from driftmgr_tui.discovery.model import Scope
from driftmgr_tui.services.config_service import ConfigService
from driftmgr_tui.services.discovery_service import DiscoveryService
from driftmgr_tui.services.drift_service import DetectOptions, DriftService
from tests._fixtures.cloudapi import FakeCloudApi
from tests.alerts import keyring_backend
from tests.test_cli import driftmgr

from . import fake_api as do
from .fake_api import FakeDigitalOcean

PROVIDER = 'provider["registry.terraform.io/digitalocean/digitalocean"]'
VOLUME = "506f78a4-e098-11e5-ad9f-000f53306ae1"
FIREWALL = "bb4b2611-3d72-467b-8602-280330ecd65c"


@pytest.fixture
def estate(do_api: FakeDigitalOcean, monkeypatch: pytest.MonkeyPatch) -> FakeDigitalOcean:
    """An account (droplets in two regions, a domain with records, a firewall) the CLI reaches by environment."""
    do_api.add("droplets", do.droplet(3164444, "web-1", region="nyc1", tags=("web", "env:prod")),
               do.droplet(3164445, "stray", region="nyc1"),
               do.droplet(3164446, "worker-1", region="ams3", tags=("worker",)),
               do.droplet(3164450, "pool-1-abc", region="ams3", tags=("k8s", "k8s:bd5f5959", "k8s:worker")))
    do_api.add_domain("example.com", do.record(28448433, "A", "www", "104.131.186.241"))
    do_api.add("firewalls", do.firewall(FIREWALL, "ssh-in", tags=("web",)))
    monkeypatch.setenv("DIGITALOCEAN_API_URL", do_api.url)
    return do_api


def _resource(rtype: str, name: str, attributes: dict[str, Any]) -> dict[str, Any]:
    return {"mode": "managed", "type": rtype, "name": name, "provider": PROVIDER,
            "instances": [{"schema_version": 1, "attributes": attributes, "sensitive_attributes": []}]}


def _state(path: Path) -> Path:
    """The Terraform state of the account: web-1 (its tags since edited), worker-1, a volume deleted behind
    Terraform's back, the domain, its www record, the firewall and a Spaces bucket."""
    resources = [
        _resource("digitalocean_droplet", "web", {"id": "3164444", "name": "web-1", "region": "nyc1",
                                                  "size": "s-1vcpu-1gb", "tags": ["web"],
                                                  "urn": "do:droplet:3164444"}),
        _resource("digitalocean_droplet", "worker", {"id": "3164446", "name": "worker-1", "region": "ams3",
                                                     "size": "s-1vcpu-1gb", "tags": ["worker"]}),
        _resource("digitalocean_volume", "data", {"id": VOLUME, "name": "data-1", "region": "nyc1", "size": 100,
                                                  "tags": []}),
        _resource("digitalocean_domain", "main", {"id": "example.com", "name": "example.com", "ttl": 1800}),
        _resource("digitalocean_record", "www", {"id": "28448433", "domain": "example.com", "type": "A",
                                                 "name": "www", "value": "104.131.186.241", "ttl": 1800}),
        _resource("digitalocean_firewall", "ssh", {"id": FIREWALL, "name": "ssh-in", "tags": ["web"]}),
        _resource("digitalocean_spaces_bucket", "assets", {"id": "assets", "name": "assets", "region": "nyc3"}),
    ]
    state = {"version": 4, "terraform_version": "1.9.8", "serial": 3, "lineage": str(uuid.uuid4()),
             "outputs": {}, "resources": resources, "check_results": None}
    path.write_text(json.dumps(state), encoding="utf-8")
    return path


def run_cli(*args: str) -> Result:
    """The command in this process (the installed command is run once, in test_cli_discover)."""
    return CliRunner().invoke(cli, list(args))


def _kinds(report: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    found: dict[str, set[tuple[str, str]]] = {"changed": set(), "missing": set(), "unmanaged": set()}
    for item in report["items"]:
        found[item["kind"]].add((item["terraform_type"], item["terraform_id"]))
    return found


def test_the_token_comes_from_the_keyring(estate: FakeDigitalOcean, cloudapi: FakeCloudApi,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", "dop_v1_an-old-token-in-the-shell")  # the keyring's token wins
    with keyring_backend() as kr:
        config = ConfigService()
        ref = config.set_secret("digitalocean.token_secret", do.TOKEN)
        assert ref.startswith("digitalocean:") and list(kr.secrets.values()) == [do.TOKEN]
        assert do.TOKEN not in config.path.read_text() and f'token_secret = "{ref}"' in config.path.read_text()

        run = DiscoveryService().run(Scope(provider="digitalocean", types=("digitalocean_droplet",)))

    assert run.status == "complete", run.error
    assert (run.account, run.principal) == (do.TEAM_UUID, "sammy@example.com (team Acme Ops)")
    assert run.resource_count == 4
    assert {r.headers["authorization"] for r in cloudapi.requests} == {f"Bearer {do.TOKEN}"}


def test_no_token_anywhere_is_one_clear_line(estate: FakeDigitalOcean) -> None:
    with pytest.raises(ProviderAuthError, match=r"^digitalocean: no API token: create a read token"):
        DiscoveryService().run(Scope(provider="digitalocean"))
    result = run_cli("discover", "--provider", "digitalocean")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: digitalocean: no API token: "), lines


def test_cli_discover(estate: FakeDigitalOcean, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", do.TOKEN)
    result = driftmgr("discover", "--provider", "digitalocean", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["run"]["status"] == "complete" and data["run"]["provider"] == "digitalocean"
    assert data["run"]["unsupported"] == {"digitalocean_spaces_bucket (skipped: no Spaces keys)": 0}
    found = {(r["terraform_type"], r["terraform_id"]) for r in data["resources"]}
    assert {("digitalocean_droplet", "3164444"), ("digitalocean_record", "28448433"),
            ("digitalocean_domain", "example.com"), ("digitalocean_firewall", FIREWALL)} <= found

    text = run_cli("discover", "--provider", "digitalocean", "--regions", "ams3", "--type", "digitalocean_droplet")
    assert text.exit_code == 0, text.output
    out = text.stdout
    assert "digitalocean_droplet" in out and "2 resources, of which 1 made by the cloud itself" in out


def test_cli_discover_with_a_listing_denied_is_partial(estate: FakeDigitalOcean, cloudapi: FakeCloudApi,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", do.TOKEN)
    cloudapi.fail(403, path="/v2/firewalls", times=5, body=do.FORBIDDEN)
    result = run_cli("discover", "--provider", "digitalocean", "--type", "digitalocean_droplet",
                     "--type", "digitalocean_firewall")
    assert result.exit_code == 1
    assert "partial" in result.stdout
    assert "failed global/firewalls: digitalocean: access denied to GET /v2/firewalls (HTTP 403 forbidden" in \
        " ".join(result.stderr.split())


def test_the_connection_test(estate: FakeDigitalOcean, monkeypatch: pytest.MonkeyPatch) -> None:
    service = ConfigService()
    service.put_environment("do", {"states": ["do.tfstate"], "provider": "digitalocean", "regions": ["nyc1"]})
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", do.TOKEN)
    result = service.run_test("do")
    assert result.ok, result.error
    assert (result.provider, result.account, result.principal, result.regions) == (
        "digitalocean", do.TEAM_UUID, "sammy@example.com (team Acme Ops)", ("nyc1",))
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", "dop_v1_revoked")
    failed = service.run_test("do")
    assert not failed.ok and (failed.error or "").startswith("digitalocean: the API token was rejected (HTTP 401")


def test_drift_of_a_digitalocean_state(estate: FakeDigitalOcean, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", do.TOKEN)
    state = _state(tmp_path / "terraform.tfstate")
    result = run_cli("scan", "--state", str(state), "--provider", "digitalocean", "--format", "json")
    assert result.exit_code == 1, result.output  # drift found
    report = json.loads(result.stdout)
    kinds = _kinds(report)
    assert kinds["missing"] == {("digitalocean_volume", VOLUME)}
    # the stray droplet; not the Kubernetes node, nor the SOA and NS records DigitalOcean keeps itself
    assert kinds["unmanaged"] == {("digitalocean_droplet", "3164445")}
    assert kinds["changed"] == {("digitalocean_droplet", "3164444")}
    [changed] = [i for i in report["items"] if i["kind"] == "changed"]
    assert [(d["path"], d["expected"], d["actual"]) for d in changed["diffs"]] == [
        ("tags", [], ["env:prod"])]  # what the set of tags gained
    summary = report["summary"]
    assert summary["total_managed"] == 5  # two droplets, the domain, the record, the firewall
    # no Spaces keys: the bucket could not be looked for, which is not "missing"
    assert [(u["terraform_type"], u["reason"]) for u in summary["unevaluated"]] == [
        ("digitalocean_spaces_bucket", "type not discovered")]


def test_a_region_filter_leaves_other_regions_unevaluated(estate: FakeDigitalOcean, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITALOCEAN_TOKEN", do.TOKEN)
    state = _state(tmp_path / "terraform.tfstate")
    service = DriftService()
    run = DiscoveryService(settings=service.settings, engine=service.engine).run(
        Scope(provider="digitalocean", regions=("ams3",)))
    assert run.status == "complete", run.error
    outcome = service.detect(service.environment(None, states=(str(state),)), DetectOptions(run_ids=(run.id,)))
    kinds = _kinds(outcome.report)
    # nyc1 was not listed: web-1 and the volume there are not evaluated, and nothing in nyc1 is unmanaged
    assert kinds == {"changed": set(), "missing": set(), "unmanaged": set()}
    unevaluated = {(u.terraform_type, u.region, u.reason) for u in outcome.result.unevaluated}
    assert unevaluated == {("digitalocean_droplet", "nyc1", "nyc1 was not in the discovery scope"),
                           ("digitalocean_volume", "nyc1", "nyc1 was not in the discovery scope"),
                           ("digitalocean_spaces_bucket", "nyc3", "type not discovered")}
    assert outcome.report["summary"]["total_managed"] == 4  # worker-1, the domain, the record, the firewall
