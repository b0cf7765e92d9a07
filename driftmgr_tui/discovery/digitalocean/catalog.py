"""The DigitalOcean catalog: API v2 listings and the digitalocean Terraform types they hold.

DigitalOcean's API is account-wide: ``GET /v2/droplets`` answers every droplet of every region, so a listing is
one paged call, not one per region. A :class:`Listing` names the call and the array its answer holds; a
:class:`DoType` maps the objects of a listing to a Terraform type. The domains listing holds two types: the
domains, and (one more listing per domain) their records. Spaces buckets are not in API v2 at all: they are
listed over the S3-compatible API of each Spaces region, with Spaces keys (``spaces.py``).

Rules see the API object as the API answers it (``id``, ``name``, ``region`` as a slug or a region object,
``tags`` as a list of strings) plus what the adapter adds: ``@region`` (the region slug, ``global`` for
account-wide objects) and, for records, ``@domain``.

Ids are what the digitalocean provider (v2) stores as ``id`` in state, checked against its import
documentation and importers. Two types import by a compound id the importer splits: a record imports as
``domain,record_id`` but stores the record id alone, a Spaces bucket imports as ``region,name`` but stores the
name; the compound form is what ``terraform import`` takes (``remediation.codegen.import_id_for``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from driftmgr_tui.discovery.registry import IdRule, TypeMapping

Item = Mapping[str, Any]

GLOBAL_REGION = "global"
SPACES = "spaces"
# The nameservers DigitalOcean's DNS serves every domain from; the NS records naming them come with the domain.
DO_NAMESERVERS = frozenset({"ns1.digitalocean.com", "ns2.digitalocean.com", "ns3.digitalocean.com"})


@dataclass(frozen=True)
class Listing:
    """One API v2 list call: ``path`` answers ``{key: [...], "links": {...}, "meta": {"total": N}}``.
    ``regional``: its objects carry a region (a region filter applies to them)."""

    name: str
    path: str
    key: str
    regional: bool


LISTINGS: dict[str, Listing] = {listing.name: listing for listing in (
    Listing("droplets", "/v2/droplets", "droplets", regional=True),
    Listing("volumes", "/v2/volumes", "volumes", regional=True),
    Listing("load_balancers", "/v2/load_balancers", "load_balancers", regional=True),
    Listing("databases", "/v2/databases", "databases", regional=True),
    Listing("vpcs", "/v2/vpcs", "vpcs", regional=True),
    Listing("kubernetes_clusters", "/v2/kubernetes/clusters", "kubernetes_clusters", regional=True),
    Listing("reserved_ips", "/v2/reserved_ips", "reserved_ips", regional=True),
    Listing("domains", "/v2/domains", "domains", regional=False),
    Listing("firewalls", "/v2/firewalls", "firewalls", regional=False),
    Listing("projects", "/v2/projects", "projects", regional=False),
    Listing("ssh_keys", "/v2/account/keys", "ssh_keys", regional=False),
    Listing("certificates", "/v2/certificates", "certificates", regional=False),
    Listing("cdn_endpoints", "/v2/cdn/endpoints", "endpoints", regional=False),
    # not API v2: ListBuckets against each Spaces region's S3 endpoint
    Listing(SPACES, "", "Buckets", regional=True),
)}
RECORDS_PATH = "/v2/domains/{domain}/records"
RECORDS_KEY = "domain_records"


@dataclass(frozen=True, kw_only=True)
class DoType(TypeMapping):
    provider: str = "digitalocean"
    id: IdRule = "{id}"
    listing: str
    name: IdRule | None = "{name}"
    default: Callable[[Item], str | None] | None = None


def region_of(item: Item) -> str:
    """The region slug of an API object: ``region`` is a region object on droplets, volumes, load balancers and
    reserved IPs, a plain slug on databases, VPCs and Kubernetes clusters; absent on account-wide objects."""
    region = item.get("region")
    if isinstance(region, Mapping):
        region = region.get("slug")
    return str(region) if region else GLOBAL_REGION


def record_fqdn(item: Item) -> str:
    """``www.example.com`` for record ``www`` of ``example.com``; the domain itself for ``@``."""
    name, domain = str(item.get("name") or "@"), str(item["@domain"])
    return domain if name == "@" else f"{name}.{domain}"


# --- things DigitalOcean makes by itself ------------------------------------------------------------------------

def _kubernetes_node(item: Item) -> str | None:
    """DigitalOcean Kubernetes tags the droplets of a node pool ``k8s``, ``k8s:<cluster id>``, ``k8s:worker``."""
    tags = item.get("tags") or ()
    if any(tag == "k8s" or str(tag).startswith("k8s:") for tag in tags):
        return "created by DigitalOcean Kubernetes for a cluster's node pool"
    return None


def _domain_record_default(item: Item) -> str | None:
    kind = str(item.get("type") or "")
    if kind == "SOA":
        return "SOA record DigitalOcean keeps for every domain"
    data = str(item.get("data") or "").rstrip(".").lower()
    if kind == "NS" and item.get("name") == "@" and data in DO_NAMESERVERS:
        return "NS record DigitalOcean creates with a domain"
    return None


def _flagged(field: str, reason: str) -> Callable[[Item], str | None]:
    return lambda item: reason if item.get(field) is True else None


DIGITALOCEAN_TYPES: tuple[DoType, ...] = (
    # --- compute and storage --------------------------------------------------------------------------------
    DoType(cloud_type="droplet", terraform_type="digitalocean_droplet", listing="droplets",
           default=_kubernetes_node),
    DoType(cloud_type="volume", terraform_type="digitalocean_volume", listing="volumes"),
    DoType(cloud_type="kubernetes_cluster", terraform_type="digitalocean_kubernetes_cluster",
           listing="kubernetes_clusters"),
    DoType(cloud_type="database_cluster", terraform_type="digitalocean_database_cluster", listing="databases"),
    DoType(cloud_type="spaces_bucket", terraform_type="digitalocean_spaces_bucket", listing=SPACES,
           id="{Name}", name="{Name}", note="imported as region,name; state stores the name"),
    DoType(cloud_type="cdn_endpoint", terraform_type="digitalocean_cdn", listing="cdn_endpoints", name="{origin}"),
    # --- networking -----------------------------------------------------------------------------------------
    DoType(cloud_type="vpc", terraform_type="digitalocean_vpc", listing="vpcs",
           default=_flagged("default", "default VPC DigitalOcean creates in a region")),
    DoType(cloud_type="load_balancer", terraform_type="digitalocean_loadbalancer", listing="load_balancers"),
    DoType(cloud_type="firewall", terraform_type="digitalocean_firewall", listing="firewalls"),
    DoType(cloud_type="reserved_ip", terraform_type="digitalocean_reserved_ip", listing="reserved_ips",
           id="{ip}", name="{ip}", equivalents=("digitalocean_floating_ip",),
           note="floating IPs were renamed reserved IPs: the same object, the same id"),
    DoType(cloud_type="domain", terraform_type="digitalocean_domain", listing="domains", id="{name}"),
    DoType(cloud_type="domain_record", terraform_type="digitalocean_record", listing="domains",
           name=record_fqdn, default=_domain_record_default,
           note="imported as domain,record_id; state stores the record id"),
    DoType(cloud_type="certificate", terraform_type="digitalocean_certificate", listing="certificates",
           id="{name}", note="provider v2 stores the certificate's name as its id (older states: the uuid)"),
    # --- account ----------------------------------------------------------------------------------------------
    DoType(cloud_type="project", terraform_type="digitalocean_project", listing="projects",
           default=_flagged("is_default", "the account's default project")),
    DoType(cloud_type="ssh_key", terraform_type="digitalocean_ssh_key", listing="ssh_keys"),
)
