"""Every DigitalOcean catalog entry, listed from the fake API and named as the digitalocean provider stores it.

The expected ids are written out by hand from the provider's import documentation and importers: most types
store the API's ``id``; a domain its name, a reserved IP its address, a certificate its name, a record its
record id (imported as ``domain,id``), a Spaces bucket its name (imported as ``region,name``).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from driftmgr_tui.core.redaction import REDACTED
from driftmgr_tui.discovery.digitalocean.adapter import DigitalOceanAdapter
from driftmgr_tui.discovery.digitalocean.catalog import DIGITALOCEAN_TYPES, LISTINGS
from driftmgr_tui.discovery.registry import normalize_tags, registry
from driftmgr_tui.remediation.codegen import import_id_for

from . import fake_api as do
from .conftest import scan
from .fake_api import FakeDigitalOcean

K8S = "bd5f5959-5e1e-4205-a714-a914373942af"


def _estate(api: FakeDigitalOcean) -> None:
    api.add("droplets", do.droplet(3164444, "web-1", region="nyc1", tags=("web", "env:prod")),
            do.droplet(3164450, "pool-1-abc", region="ams3", tags=("k8s", f"k8s:{K8S}", "k8s:worker")))
    api.add("volumes", do.volume("506f78a4-e098-11e5-ad9f-000f53306ae1", "data-1", region="nyc1", tags=("db",)))
    api.add("load_balancers", do.load_balancer("4de7ac8b-495b-4884-9a69-1050c6793cd6", "edge-lb", region="nyc3"))
    api.databases.append(do.database("9cc10173-e9ea-4176-9dbc-a4cee4c4ff30", "backend", region="nyc3",
                                     tags=("production",)))
    api.add_domain("example.com", do.record(28448433, "A", "www", "104.131.186.241"),
                   do.record(28448434, "MX", "@", "mail.example.com", ttl=14400))
    api.add("firewalls", do.firewall("bb4b2611-3d72-467b-8602-280330ecd65c", "ssh-in", tags=("web",)))
    api.add("vpcs", do.vpc("5a4981aa-9653-4bd1-bef5-d6bff52042e4", "prod-vpc", region="nyc1"),
            do.vpc("e0fe0f4d-596a-465e-a902-571ce57b79fa", "default-ams3", region="ams3", default=True))
    api.add("kubernetes_clusters", do.kubernetes_cluster(K8S, "prod-cluster-01", region="ams3", tags=("team:web",)))
    api.add("reserved_ips", do.reserved_ip("45.55.96.47", region="nyc3"))
    api.add("projects", do.project("4e1bfbc3-dc3e-41f2-a18f-1b4d7ba71679", "my-web-api"),
            do.project("b7a4f1d9-1c73-4c58-8e1e-9d8e4c3f2a10", "first-project", is_default=True))
    api.add("ssh_keys", do.ssh_key(512189, "sammy-laptop"))
    api.add("certificates", do.certificate("892071a0-bb95-49bc-8021-3afd67a210bf", "web-cert-01"))
    api.add("cdn_endpoints", do.cdn_endpoint("19f06b6a-3ace-4315-b086-499a0e521b76",
                                             "static-images.nyc3.digitaloceanspaces.com"))


# (terraform type, terraform id, name, region, made by DigitalOcean)
EXPECTED = {
    ("digitalocean_droplet", "3164444", "web-1", "nyc1", False),
    ("digitalocean_droplet", "3164450", "pool-1-abc", "ams3", True),
    ("digitalocean_volume", "506f78a4-e098-11e5-ad9f-000f53306ae1", "data-1", "nyc1", False),
    ("digitalocean_loadbalancer", "4de7ac8b-495b-4884-9a69-1050c6793cd6", "edge-lb", "nyc3", False),
    ("digitalocean_database_cluster", "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30", "backend", "nyc3", False),
    ("digitalocean_domain", "example.com", "example.com", "global", False),
    ("digitalocean_record", "1000", "example.com", "global", True),  # SOA
    ("digitalocean_record", "1001", "example.com", "global", True),  # NS ns1.digitalocean.com
    ("digitalocean_record", "1002", "example.com", "global", True),
    ("digitalocean_record", "1003", "example.com", "global", True),
    ("digitalocean_record", "28448433", "www.example.com", "global", False),
    ("digitalocean_record", "28448434", "example.com", "global", False),
    ("digitalocean_firewall", "bb4b2611-3d72-467b-8602-280330ecd65c", "ssh-in", "global", False),
    ("digitalocean_vpc", "5a4981aa-9653-4bd1-bef5-d6bff52042e4", "prod-vpc", "nyc1", False),
    ("digitalocean_vpc", "e0fe0f4d-596a-465e-a902-571ce57b79fa", "default-ams3", "ams3", True),
    ("digitalocean_kubernetes_cluster", K8S, "prod-cluster-01", "ams3", False),
    ("digitalocean_reserved_ip", "45.55.96.47", "45.55.96.47", "nyc3", False),
    ("digitalocean_project", "4e1bfbc3-dc3e-41f2-a18f-1b4d7ba71679", "my-web-api", "global", False),
    ("digitalocean_project", "b7a4f1d9-1c73-4c58-8e1e-9d8e4c3f2a10", "first-project", "global", True),
    ("digitalocean_ssh_key", "512189", "sammy-laptop", "global", False),
    ("digitalocean_certificate", "web-cert-01", "web-cert-01", "global", False),
    ("digitalocean_cdn", "19f06b6a-3ace-4315-b086-499a0e521b76", "static-images.nyc3.digitaloceanspaces.com",
     "global", False),
}


def test_every_type_is_found_with_its_terraform_type_and_id(do_api: FakeDigitalOcean,
                                                            make_adapter: Callable[..., DigitalOceanAdapter]) -> None:
    _estate(do_api)
    found = [r for resources in scan(make_adapter()).values() for r in resources]
    got = {(r.terraform_type, r.terraform_id, r.name, r.region, r.cloud_default is not None) for r in found}
    assert got == EXPECTED
    assert len(found) == len(EXPECTED)
    assert {r.account for r in found} == {do.TEAM_UUID}
    # every catalog type but Spaces buckets (no Spaces keys here) was listed
    assert {r.terraform_type for r in found} == {e.terraform_type for e in DIGITALOCEAN_TYPES} - {
        "digitalocean_spaces_bucket"}


def test_the_terraform_import_ids_of_compound_types(do_api: FakeDigitalOcean,
                                                    make_adapter: Callable[..., DigitalOceanAdapter]) -> None:
    do_api.add_domain("example.com", do.record(28448433, "A", "www", "104.131.186.241"))
    found = scan(make_adapter(types=("digitalocean_record",)))
    www = next(r for r in found["global/domains"] if r.terraform_id == "28448433")
    assert import_id_for(www.terraform_type, www.terraform_id, www.attributes) == "example.com,28448433"
    assert www.attributes["domain"] == "example.com"
    bucket_attrs = {"Name": "assets", "region": "ams3"}
    assert import_id_for("digitalocean_spaces_bucket", "assets", bucket_attrs) == "ams3,assets"
    assert import_id_for("digitalocean_droplet", "3164444", {}) == "3164444"


def test_tags_native_ids_and_reasons(do_api: FakeDigitalOcean,
                                     make_adapter: Callable[..., DigitalOceanAdapter]) -> None:
    _estate(do_api)
    found = {r.terraform_id: r for resources in scan(make_adapter()).values() for r in resources}
    web = found["3164444"]
    assert web.tags == {"web": "", "env:prod": ""}  # plain strings: each a key, "env:prod" unsplit
    assert web.attributes["tags"] == ["web", "env:prod"]
    assert web.native_id == "do:droplet:3164444"
    assert found["5a4981aa-9653-4bd1-bef5-d6bff52042e4"].native_id == "do:vpc:5a4981aa-9653-4bd1-bef5-d6bff52042e4"
    assert found["3164450"].cloud_default == "created by DigitalOcean Kubernetes for a cluster's node pool"
    assert found["1000"].cloud_default == "SOA record DigitalOcean keeps for every domain"
    assert found["1001"].cloud_default == "NS record DigitalOcean creates with a domain"
    assert found["e0fe0f4d-596a-465e-a902-571ce57b79fa"].cloud_default == "default VPC DigitalOcean creates in a region"
    assert "zone_file" not in found["example.com"].attributes


def test_database_passwords_never_reach_the_record(do_api: FakeDigitalOcean,
                                                   make_adapter: Callable[..., DigitalOceanAdapter]) -> None:
    do_api.databases.append(do.database("9cc10173-e9ea-4176-9dbc-a4cee4c4ff30", "backend"))
    [cluster] = scan(make_adapter(types=("digitalocean_database_cluster",)))["all/databases"]
    text = json.dumps(cluster.attributes)
    assert "wv78n3zpz42xezdk" not in text
    assert cluster.attributes["connection"]["password"] == REDACTED
    assert cluster.attributes["connection"]["uri"].startswith("postgresql://doadmin:***@backend-do-user-1")
    assert cluster.attributes["users"][0]["password"] == REDACTED
    assert cluster.attributes["num_nodes"] == 1 and cluster.attributes["size"] == "db-s-2vcpu-4gb"


def test_the_catalog_is_in_the_registry() -> None:
    reg = registry()
    assert set(reg.terraform_types("digitalocean")) == {
        "digitalocean_droplet", "digitalocean_volume", "digitalocean_loadbalancer", "digitalocean_database_cluster",
        "digitalocean_domain", "digitalocean_record", "digitalocean_firewall", "digitalocean_vpc",
        "digitalocean_kubernetes_cluster", "digitalocean_spaces_bucket", "digitalocean_reserved_ip",
        "digitalocean_floating_ip", "digitalocean_project", "digitalocean_ssh_key", "digitalocean_certificate",
        "digitalocean_cdn"}
    # a floating IP (the old name) matches the reserved IP with the same address
    assert reg.equivalent_types("digitalocean_floating_ip") == {"digitalocean_floating_ip", "digitalocean_reserved_ip"}
    assert all(entry.listing in LISTINGS for entry in DIGITALOCEAN_TYPES)


def test_do_tags_are_plain_strings() -> None:
    assert normalize_tags(["web", "env:prod", ""]) == {"web": "", "env:prod": ""}
    assert normalize_tags([]) == {}
