"""A local fake of the DigitalOcean API v2: the list endpoints discovery calls, answered as DigitalOcean does.

It runs on the FakeCloudApi server (tests/_fixtures/cloudapi.py: real HTTP on 127.0.0.1, injected faults, a
request log) and adds what DigitalOcean's API does on every call:

- the bearer token is checked: a wrong one is ``401 {"id": "unauthorized", "message": "Unable to
  authenticate you"}``;
- ``page`` / ``per_page`` (at most 200) paging, with ``links.pages`` holding absolute ``first``/``prev``/
  ``next``/``last`` URLs on https://api.digitalocean.com (as the real API writes them, whatever host it was
  asked on) and ``meta.total``;
- ``ratelimit-limit`` / ``ratelimit-remaining`` / ``ratelimit-reset`` (epoch seconds) on every answer;
- ``GET /v2/databases`` answers every cluster at once (no ``links``/``meta``), as the real one does.

Object factories build the JSON shapes of the API reference (trimmed to what matters, never reshaped).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from tests._fixtures.cloudapi import FakeCloudApi, RecordedRequest, Reply

API_HOST = "https://api.digitalocean.com"
TOKEN = "dop_v1_" + "5f" * 32
ACCOUNT_UUID = "b6fr89dbf6d9156cace5f3c78dc9851d957381ef"
TEAM_UUID = "5df3e3004a17e242b7c20ca6c9fc25b701a47ece"
REGIONS = {"nyc1": "New York 1", "nyc3": "New York 3", "ams3": "Amsterdam 3", "sfo3": "San Francisco 3",
           "fra1": "Frankfurt 1", "sgp1": "Singapore 1", "lon1": "London 1"}
# (path, key) of every paged listing the fake serves
LISTINGS = {
    "droplets": ("/v2/droplets", "droplets"), "volumes": ("/v2/volumes", "volumes"),
    "load_balancers": ("/v2/load_balancers", "load_balancers"), "vpcs": ("/v2/vpcs", "vpcs"),
    "kubernetes_clusters": ("/v2/kubernetes/clusters", "kubernetes_clusters"),
    "reserved_ips": ("/v2/reserved_ips", "reserved_ips"), "domains": ("/v2/domains", "domains"),
    "firewalls": ("/v2/firewalls", "firewalls"), "projects": ("/v2/projects", "projects"),
    "ssh_keys": ("/v2/account/keys", "ssh_keys"), "certificates": ("/v2/certificates", "certificates"),
    "cdn_endpoints": ("/v2/cdn/endpoints", "endpoints"), "regions": ("/v2/regions", "regions"),
}
UNAUTHORIZED = {"id": "unauthorized", "message": "Unable to authenticate you"}
FORBIDDEN = {"id": "forbidden", "message": "You are not authorized to perform this operation"}
TOO_MANY = {"id": "too_many_requests", "message": "API Rate limit exceeded."}
SERVER_ERROR = {"id": "server_error", "message": "Server was unable to give you a response."}


class FakeDigitalOcean:
    """The API's state (objects per listing, records per domain) and its routes on ``api``."""

    def __init__(self, api: FakeCloudApi, *, token: str = TOKEN) -> None:
        self.api = api
        self.token = token
        self.account: dict[str, Any] = {
            "droplet_limit": 25, "floating_ip_limit": 5, "volume_limit": 100, "email": "sammy@example.com",
            "name": "Sammy the Shark", "uuid": ACCOUNT_UUID, "email_verified": True, "status": "active",
            "status_message": "", "team": {"uuid": TEAM_UUID, "name": "Acme Ops"},
        }
        self.objects: dict[str, list[dict[str, Any]]] = {name: [] for name in LISTINGS}
        self.objects["regions"] = [region_object(slug) for slug in REGIONS]
        self.databases: list[dict[str, Any]] = []
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.ratelimit_limit = 5000
        self.remaining = 4999
        self.reset_in = 60.0  # ratelimit-reset is this many seconds from now...
        self.reset_at: int | None = None  # ...unless this epoch second is set
        self.overcount = 0  # added to meta.total (a listing that changed while it was paged)
        self.verbatim: dict[str, Any] = {}  # path -> a body answered as is (a broken answer)
        self._lock = threading.Lock()
        api.route("/v2/account", handler=self._authorized(lambda _r: {"account": self.account}))
        api.route("/v2/databases", handler=self._authorized(lambda _r: {"databases": self.databases}))
        for name, (path, key) in LISTINGS.items():
            api.route(path, handler=self._authorized(self._paged(key, lambda n=name: self.objects[n])))

    @property
    def url(self) -> str:
        return self.api.url

    # --- state ----------------------------------------------------------------------------------------------

    def add(self, listing: str, *items: dict[str, Any]) -> None:
        self.objects[listing].extend(items)

    def add_domain(self, name: str, *records: dict[str, Any]) -> None:
        """A domain with DigitalOcean's own SOA and NS records, then ``records``."""
        self.objects["domains"].append({"name": name, "ttl": 1800, "zone_file": f"$ORIGIN {name}.\n..."})
        own = [record(1000 + len(self.records) * 10 + i, "NS", "@", f"ns{i}.digitalocean.com") for i in (1, 2, 3)]
        own.insert(0, record(1000 + len(self.records) * 10, "SOA", "@", "1800"))
        self.records[name] = [*own, *records]
        self.api.route(f"/v2/domains/{name}/records",
                       handler=self._authorized(self._paged("domain_records", lambda: self.records[name])))

    def rate_limit_headers(self, *, remaining: int | None = None, reset_in: float | None = None) -> dict[str, str]:
        reset = int(time.time() + (self.reset_in if reset_in is None else reset_in))
        if reset_in is None and self.reset_at is not None:
            reset = self.reset_at
        return {"ratelimit-limit": str(self.ratelimit_limit),
                "ratelimit-remaining": str(self.remaining if remaining is None else remaining),
                "ratelimit-reset": str(reset)}

    def throttle(self, times: int = 1, *, path: str | None = None, reset_in: float = 0.0,
                 retry_after: str | None = None) -> None:
        """The next ``times`` requests (to ``path``) answer 429 with the rate-limit headers DigitalOcean
        sends: nothing remaining, the reset ``reset_in`` seconds away (0: now)."""
        headers = self.rate_limit_headers(remaining=0, reset_in=reset_in)
        if retry_after is not None:
            headers["retry-after"] = retry_after
        self.api.fail(429, path=path, times=times, body=TOO_MANY, headers=headers)

    # --- serving --------------------------------------------------------------------------------------------

    def _authorized(self, handler: Callable[[RecordedRequest], Any]) -> Callable[[RecordedRequest], Reply]:
        def serve(request: RecordedRequest) -> Reply:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return Reply(status=401, body=UNAUTHORIZED, headers=self.rate_limit_headers())
            with self._lock:
                self.remaining = max(0, self.remaining - 1)
            result = self.verbatim[request.path] if request.path in self.verbatim else handler(request)
            if isinstance(result, Reply):
                return result
            return Reply(body=result, headers=self.rate_limit_headers())

        return serve

    def _paged(self, key: str, items: Callable[[], list[dict[str, Any]]]) -> Callable[[RecordedRequest], Any]:
        def serve(request: RecordedRequest) -> Any:
            every = items()
            page = max(1, int(request.query.get("page") or 1))
            per_page = min(200, max(1, int(request.query.get("per_page") or 20)))
            last = max(1, math.ceil(len(every) / per_page))
            body: dict[str, Any] = {key: every[(page - 1) * per_page: page * per_page], "links": {},
                                    "meta": {"total": len(every) + self.overcount}}

            def link(n: int) -> str:
                return f"{API_HOST}{request.path}?page={n}&per_page={per_page}"

            pages = {}
            if page > 1:
                pages.update(first=link(1), prev=link(page - 1))
            if page < last:
                pages.update(next=link(page + 1), last=link(last))
            if pages:
                body["links"]["pages"] = pages
            return body

        return serve


# --- object factories: the API reference's shapes -----------------------------------------------------------------

def region_object(slug: str) -> dict[str, Any]:
    return {"name": REGIONS.get(slug, slug), "slug": slug, "features": ["backups", "ipv6", "metadata"],
            "available": True, "sizes": ["s-1vcpu-1gb", "s-2vcpu-2gb"]}


def droplet(droplet_id: int, name: str, *, region: str = "nyc1", tags: tuple[str, ...] = (),
            size: str = "s-1vcpu-1gb") -> dict[str, Any]:
    return {"id": droplet_id, "name": name, "memory": 1024, "vcpus": 1, "disk": 25, "locked": False,
            "status": "active", "created_at": "2025-05-01T10:00:00Z", "features": ["monitoring"],
            "backup_ids": [], "snapshot_ids": [], "volume_ids": [], "size_slug": size,
            "image": {"id": 6918990, "slug": "ubuntu-24-04-x64", "distribution": "Ubuntu"},
            "networks": {"v4": [{"ip_address": "104.131.186.241", "type": "public"}], "v6": []},
            "region": region_object(region), "tags": list(tags), "vpc_uuid": "760e09ef-dc84-11e8-981e-3cfdfeaae000"}


def volume(volume_id: str, name: str, *, region: str = "nyc1", size: int = 100,
           tags: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"id": volume_id, "region": region_object(region), "droplet_ids": [], "name": name,
            "description": "", "size_gigabytes": size, "created_at": "2025-05-01T10:00:00Z",
            "filesystem_type": "ext4", "filesystem_label": name[:16], "tags": list(tags)}


def load_balancer(lb_id: str, name: str, *, region: str = "nyc3") -> dict[str, Any]:
    return {"id": lb_id, "name": name, "ip": "104.131.186.241", "size": "lb-small", "algorithm": "round_robin",
            "status": "active", "created_at": "2025-05-01T10:00:00Z", "forwarding_rules": [
                {"entry_protocol": "http", "entry_port": 80, "target_protocol": "http", "target_port": 80,
                 "certificate_id": "", "tls_passthrough": False}],
            "health_check": {"protocol": "http", "port": 80, "path": "/"}, "sticky_sessions": {"type": "none"},
            "region": region_object(region), "tag": "", "droplet_ids": [], "redirect_http_to_https": False,
            "enable_proxy_protocol": False, "vpc_uuid": "c33931f2-a26a-4e61-b85c-4e95a2ec431b"}


def database(db_id: str, name: str, *, region: str = "nyc3", engine: str = "pg", version: str = "16",
             tags: tuple[str, ...] = ()) -> dict[str, Any]:
    password = "wv78n3zpz42xezdk"
    uri = f"postgresql://doadmin:{password}@{name}-do-user-1.db.ondigitalocean.com:25060/defaultdb?sslmode=require"
    return {"id": db_id, "name": name, "engine": engine, "version": version, "num_nodes": 1,
            "size": "db-s-2vcpu-4gb", "region": region, "status": "online", "created_at": "2025-05-01T10:00:00Z",
            "connection": {"protocol": "postgresql", "uri": uri, "database": "defaultdb",
                           "host": f"{name}-do-user-1.db.ondigitalocean.com", "port": 25060, "user": "doadmin",
                           "password": password, "ssl": True},
            "users": [{"name": "doadmin", "role": "primary", "password": password}],
            "db_names": ["defaultdb"], "tags": list(tags), "private_network_uuid": "d455e75d-4858-4eec-8c95",
            "storage_size_mib": 61440}


def record(record_id: int, kind: str, name: str, data: str, *, ttl: int = 1800) -> dict[str, Any]:
    return {"id": record_id, "type": kind, "name": name, "data": data, "priority": None, "port": None,
            "ttl": ttl, "weight": None, "flags": None, "tag": None}


def firewall(fw_id: str, name: str, *, tags: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"id": fw_id, "name": name, "status": "succeeded", "created_at": "2025-05-01T10:00:00Z",
            "pending_changes": [], "inbound_rules": [
                {"protocol": "tcp", "ports": "22", "sources": {"addresses": ["0.0.0.0/0", "::/0"]}}],
            "outbound_rules": [], "droplet_ids": [], "tags": list(tags)}


def vpc(vpc_id: str, name: str, *, region: str = "nyc1", default: bool = False) -> dict[str, Any]:
    return {"id": vpc_id, "urn": f"do:vpc:{vpc_id}", "name": name, "description": "", "region": region,
            "ip_range": "10.10.10.0/24", "default": default, "created_at": "2025-05-01T10:00:00Z"}


def kubernetes_cluster(cluster_id: str, name: str, *, region: str = "ams3",
                       tags: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"id": cluster_id, "name": name, "region": region, "version": "1.31.1-do.0",
            "cluster_subnet": "10.244.0.0/16", "service_subnet": "10.245.0.0/16",
            "vpc_uuid": "c33931f2-a26a-4e61-b85c-4e95a2ec431b", "ipv4": "68.183.121.157",
            "endpoint": f"https://{cluster_id}.k8s.ondigitalocean.com",
            "tags": ["k8s", f"k8s:{cluster_id}", *tags],
            "node_pools": [{"id": "cdda885e-7663-40c8-bc74-3a036c66545d", "name": "pool-1",
                            "size": "s-1vcpu-2gb", "count": 3, "tags": ["k8s", f"k8s:{cluster_id}", "k8s:worker"]}],
            "auto_upgrade": False, "status": {"state": "running"}, "created_at": "2025-05-01T10:00:00Z",
            "surge_upgrade": True, "registry_enabled": False, "ha": False}


def reserved_ip(ip: str, *, region: str = "nyc3") -> dict[str, Any]:
    return {"ip": ip, "region": region_object(region), "droplet": None, "locked": False,
            "project_id": "746c6152-2fa2-11ed-92d3-27aaa54e4988"}


def project(project_id: str, name: str, *, is_default: bool = False) -> dict[str, Any]:
    return {"id": project_id, "owner_uuid": ACCOUNT_UUID, "owner_id": 258992, "name": name,
            "description": "", "purpose": "Web Application", "environment": "Production",
            "is_default": is_default, "created_at": "2025-05-01T10:00:00Z", "updated_at": "2025-05-01T10:00:00Z"}


def ssh_key(key_id: int, name: str) -> dict[str, Any]:
    return {"id": key_id, "fingerprint": "3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa",
            "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample sammy@example.com", "name": name}


def certificate(cert_id: str, name: str) -> dict[str, Any]:
    return {"id": cert_id, "name": name, "not_after": "2026-02-28T00:00:00Z",
            "sha1_fingerprint": "dfcc9f57d86bf58e321c2c6c31c7a971be244ac7", "created_at": "2025-05-01T10:00:00Z",
            "dns_names": ["www.example.com"], "state": "verified", "type": "lets_encrypt"}


def cdn_endpoint(endpoint_id: str, origin: str) -> dict[str, Any]:
    return {"id": endpoint_id, "origin": origin, "endpoint": origin.replace(".digitaloceanspaces.", ".cdn."
                                                                           "digitaloceanspaces."),
            "created_at": "2025-05-01T10:00:00Z", "ttl": 3600}
