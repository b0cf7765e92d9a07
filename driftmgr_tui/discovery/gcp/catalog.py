"""The Google catalog: Cloud Asset Inventory types and the google Terraform types that manage them.

Google is listed with one Cloud Asset ``searchAllResources`` per scope, asking for exactly the asset types
below, so an entry needs no per-type API call. Rules see the search result as a dict (snake_case fields:
``name``, ``asset_type``, ``project``, ``location``, ``display_name``, ``labels``, ``additional_attributes``)
plus what the adapter derives from it:

- ``@path``: the asset name without its ``//service.googleapis.com/`` prefix, with a leading
  ``projects/<number>`` rewritten to ``projects/<project id>`` (Secret Manager and a few others name projects by
  number; Terraform ids use the id);
- ``@project``: the project id; ``@leaf``: the last segment of the name; ``@location``.

Most google ids *are* that path (``projects/P/zones/Z/instances/N``), which is the default rule. Where they are
not, the entry says so: a bucket and a Cloud SQL instance are their bare names, a Spanner instance is
``{project}/{name}``, a service account is named by its e-mail, a GKE cluster is always under ``locations/``.
``select`` picks between entries sharing an asset type (zonal and regional variants share some).

Ids are what the google provider (v5/v6) stores in state, checked against its import documentation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from driftmgr_tui.discovery.registry import IdRule, MappingError, TypeMapping

Item = Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class GcpType(TypeMapping):
    provider: str = "gcp"
    id: IdRule = "{@path}"
    select: Callable[[Item], bool] | None = None
    name: IdRule | None = "{@leaf}"
    default: Callable[[Item], str | None] | None = None


# --- selectors and id rules -----------------------------------------------------------------------------------

def _under(collection: str) -> Callable[[Item], bool]:
    """The asset's path has ``/{collection}/`` (``zones``, ``regions``, ``global``, ``locations``)."""
    marker = f"/{collection}/"
    return lambda item: marker in f"/{item.get('@path', '')}"


def _gke_path(item: Item) -> str:
    """GKE names zonal clusters ``.../zones/Z/clusters/C``; Terraform ids always say ``locations``."""
    parts = str(item["@path"]).split("/")
    return "/".join("locations" if p == "zones" and i == 2 else p for i, p in enumerate(parts))


def _service_account_id(item: Item) -> str:
    """``projects/{project}/serviceAccounts/{email}``; the asset name may end in the numeric unique id."""
    leaf = str(item.get("@leaf") or "")
    email = leaf if "@" in leaf else (item.get("additional_attributes") or {}).get("email")
    if not email:
        raise MappingError("google_service_account id: the asset carries no e-mail")
    return f"projects/{item['@project']}/serviceAccounts/{email}"


def _managed_zone_id(item: Item) -> str:
    """``projects/{project}/managedZones/{zone name}``; some asset names end in the numeric zone id, while
    ``display_name`` is the zone's name."""
    leaf = str(item.get("@leaf") or "")
    name = item.get("display_name") if leaf.isdigit() and item.get("display_name") else leaf
    return f"projects/{item['@project']}/managedZones/{name}"


def _spanner_database_id(item: Item) -> str:
    """``{instance}/{database}`` from ``projects/P/instances/I/databases/D``."""
    parts = str(item["@path"]).split("/")
    return f"{parts[3]}/{parts[5]}"


# --- things Google makes by itself -------------------------------------------------------------------------------

def _named(reason: str, *names: str, prefixes: tuple[str, ...] = ()) -> Callable[[Item], str | None]:
    def default(item: Item) -> str | None:
        leaf = str(item.get("@leaf") or "")
        return reason if leaf in names or leaf.startswith(prefixes) else None

    return default


def _default_service_account(item: Item) -> str | None:
    email = str(item.get("@leaf") or "")
    if "@" not in email:
        email = str((item.get("additional_attributes") or {}).get("email") or "")
    if email.endswith("-compute@developer.gserviceaccount.com"):
        return "Compute Engine default service account"
    if email.endswith("@appspot.gserviceaccount.com"):
        return "App Engine default service account"
    return None


GCP_TYPES: tuple[GcpType, ...] = (
    # --- resource manager -------------------------------------------------------------------------------------
    GcpType(cloud_type="cloudresourcemanager.googleapis.com/Project", terraform_type="google_project",
            id="projects/{@project}", name="{@project}"),
    # --- compute: instances and disks ---------------------------------------------------------------------------
    GcpType(cloud_type="compute.googleapis.com/Instance", terraform_type="google_compute_instance"),
    GcpType(cloud_type="compute.googleapis.com/Disk", terraform_type="google_compute_disk"),
    GcpType(cloud_type="compute.googleapis.com/RegionDisk", terraform_type="google_compute_region_disk"),
    GcpType(cloud_type="compute.googleapis.com/Image", terraform_type="google_compute_image"),
    GcpType(cloud_type="compute.googleapis.com/Snapshot", terraform_type="google_compute_snapshot"),
    GcpType(cloud_type="compute.googleapis.com/InstanceTemplate", terraform_type="google_compute_instance_template",
            select=_under("global")),
    GcpType(cloud_type="compute.googleapis.com/InstanceTemplate",
            terraform_type="google_compute_region_instance_template", select=_under("regions")),
    GcpType(cloud_type="compute.googleapis.com/InstanceGroupManager",
            terraform_type="google_compute_instance_group_manager", select=_under("zones")),
    GcpType(cloud_type="compute.googleapis.com/InstanceGroupManager",
            terraform_type="google_compute_region_instance_group_manager", select=_under("regions")),
    GcpType(cloud_type="compute.googleapis.com/Autoscaler", terraform_type="google_compute_autoscaler",
            select=_under("zones")),
    GcpType(cloud_type="compute.googleapis.com/Autoscaler", terraform_type="google_compute_region_autoscaler",
            select=_under("regions")),
    GcpType(cloud_type="compute.googleapis.com/ResourcePolicy", terraform_type="google_compute_resource_policy"),
    # --- compute: networking ------------------------------------------------------------------------------------
    GcpType(cloud_type="compute.googleapis.com/Network", terraform_type="google_compute_network",
            default=_named("default network Google creates with a project", "default")),
    GcpType(cloud_type="compute.googleapis.com/Subnetwork", terraform_type="google_compute_subnetwork",
            default=_named("subnet of the auto-mode default network", "default")),
    GcpType(cloud_type="compute.googleapis.com/Firewall", terraform_type="google_compute_firewall",
            default=_named("firewall rule Google creates with the default network", "default-allow-internal",
                           "default-allow-ssh", "default-allow-rdp", "default-allow-icmp")),
    GcpType(cloud_type="compute.googleapis.com/Route", terraform_type="google_compute_route",
            default=_named("route Google creates for a network or subnet", prefixes=("default-route-",))),
    GcpType(cloud_type="compute.googleapis.com/Router", terraform_type="google_compute_router"),
    GcpType(cloud_type="compute.googleapis.com/Address", terraform_type="google_compute_address"),
    GcpType(cloud_type="compute.googleapis.com/GlobalAddress", terraform_type="google_compute_global_address"),
    GcpType(cloud_type="compute.googleapis.com/ForwardingRule", terraform_type="google_compute_forwarding_rule"),
    GcpType(cloud_type="compute.googleapis.com/GlobalForwardingRule",
            terraform_type="google_compute_global_forwarding_rule"),
    GcpType(cloud_type="compute.googleapis.com/BackendService", terraform_type="google_compute_backend_service"),
    GcpType(cloud_type="compute.googleapis.com/RegionBackendService",
            terraform_type="google_compute_region_backend_service"),
    GcpType(cloud_type="compute.googleapis.com/HealthCheck", terraform_type="google_compute_health_check",
            select=_under("global")),
    GcpType(cloud_type="compute.googleapis.com/HealthCheck", terraform_type="google_compute_region_health_check",
            select=_under("regions")),
    GcpType(cloud_type="compute.googleapis.com/UrlMap", terraform_type="google_compute_url_map",
            select=_under("global")),
    GcpType(cloud_type="compute.googleapis.com/UrlMap", terraform_type="google_compute_region_url_map",
            select=_under("regions")),
    GcpType(cloud_type="compute.googleapis.com/TargetHttpProxy", terraform_type="google_compute_target_http_proxy",
            select=_under("global")),
    GcpType(cloud_type="compute.googleapis.com/TargetHttpsProxy",
            terraform_type="google_compute_target_https_proxy", select=_under("global")),
    GcpType(cloud_type="compute.googleapis.com/TargetPool", terraform_type="google_compute_target_pool"),
    GcpType(cloud_type="compute.googleapis.com/SslCertificate", terraform_type="google_compute_ssl_certificate",
            select=_under("global")),
    GcpType(cloud_type="compute.googleapis.com/SslCertificate",
            terraform_type="google_compute_region_ssl_certificate", select=_under("regions")),
    GcpType(cloud_type="compute.googleapis.com/SslPolicy", terraform_type="google_compute_ssl_policy"),
    GcpType(cloud_type="compute.googleapis.com/SecurityPolicy", terraform_type="google_compute_security_policy"),
    GcpType(cloud_type="compute.googleapis.com/NetworkEndpointGroup",
            terraform_type="google_compute_network_endpoint_group", select=_under("zones")),
    GcpType(cloud_type="compute.googleapis.com/NetworkEndpointGroup",
            terraform_type="google_compute_region_network_endpoint_group", select=_under("regions")),
    GcpType(cloud_type="compute.googleapis.com/NetworkEndpointGroup",
            terraform_type="google_compute_global_network_endpoint_group", select=_under("global")),
    GcpType(cloud_type="dns.googleapis.com/ManagedZone", terraform_type="google_dns_managed_zone",
            id=_managed_zone_id, name=lambda i: str(i["@leaf"]) if not str(i["@leaf"]).isdigit()
            else str(i.get("display_name") or i["@leaf"])),
    # --- containers and serverless ------------------------------------------------------------------------------
    GcpType(cloud_type="container.googleapis.com/Cluster", terraform_type="google_container_cluster", id=_gke_path),
    GcpType(cloud_type="container.googleapis.com/NodePool", terraform_type="google_container_node_pool",
            id=_gke_path),
    GcpType(cloud_type="run.googleapis.com/Service", terraform_type="google_cloud_run_v2_service",
            note="google_cloud_run_service (v1) stores locations/L/namespaces/P/services/S: not equivalent"),
    GcpType(cloud_type="cloudfunctions.googleapis.com/CloudFunction",
            terraform_type="google_cloudfunctions_function"),
    GcpType(cloud_type="cloudfunctions.googleapis.com/Function", terraform_type="google_cloudfunctions2_function"),
    GcpType(cloud_type="cloudscheduler.googleapis.com/Job", terraform_type="google_cloud_scheduler_job"),
    GcpType(cloud_type="artifactregistry.googleapis.com/Repository",
            terraform_type="google_artifact_registry_repository"),
    GcpType(cloud_type="composer.googleapis.com/Environment", terraform_type="google_composer_environment"),
    # --- storage and data ---------------------------------------------------------------------------------------
    GcpType(cloud_type="storage.googleapis.com/Bucket", terraform_type="google_storage_bucket", id="{@leaf}"),
    GcpType(cloud_type="sqladmin.googleapis.com/Instance", terraform_type="google_sql_database_instance",
            id="{@leaf}"),
    GcpType(cloud_type="bigquery.googleapis.com/Dataset", terraform_type="google_bigquery_dataset"),
    GcpType(cloud_type="bigquery.googleapis.com/Table", terraform_type="google_bigquery_table"),
    GcpType(cloud_type="bigquery.googleapis.com/Routine", terraform_type="google_bigquery_routine"),
    GcpType(cloud_type="spanner.googleapis.com/Instance", terraform_type="google_spanner_instance",
            id="{@project}/{@leaf}"),
    GcpType(cloud_type="spanner.googleapis.com/Database", terraform_type="google_spanner_database",
            id=_spanner_database_id),
    GcpType(cloud_type="bigtableadmin.googleapis.com/Instance", terraform_type="google_bigtable_instance"),
    GcpType(cloud_type="redis.googleapis.com/Instance", terraform_type="google_redis_instance"),
    GcpType(cloud_type="file.googleapis.com/Instance", terraform_type="google_filestore_instance"),
    # --- messaging ----------------------------------------------------------------------------------------------
    GcpType(cloud_type="pubsub.googleapis.com/Topic", terraform_type="google_pubsub_topic"),
    GcpType(cloud_type="pubsub.googleapis.com/Subscription", terraform_type="google_pubsub_subscription"),
    GcpType(cloud_type="pubsub.googleapis.com/Schema", terraform_type="google_pubsub_schema"),
    # --- IAM, keys, secrets, logging ----------------------------------------------------------------------------
    GcpType(cloud_type="iam.googleapis.com/ServiceAccount", terraform_type="google_service_account",
            id=_service_account_id, default=_default_service_account,
            name=lambda i: str((i.get("additional_attributes") or {}).get("email") or i["@leaf"])),
    GcpType(cloud_type="iam.googleapis.com/Role", terraform_type="google_project_iam_custom_role",
            select=lambda i: str(i.get("@path", "")).startswith("projects/")),
    GcpType(cloud_type="iam.googleapis.com/Role", terraform_type="google_organization_iam_custom_role",
            select=lambda i: str(i.get("@path", "")).startswith("organizations/")),
    GcpType(cloud_type="iam.googleapis.com/WorkloadIdentityPool",
            terraform_type="google_iam_workload_identity_pool"),
    GcpType(cloud_type="cloudkms.googleapis.com/KeyRing", terraform_type="google_kms_key_ring"),
    GcpType(cloud_type="cloudkms.googleapis.com/CryptoKey", terraform_type="google_kms_crypto_key"),
    GcpType(cloud_type="secretmanager.googleapis.com/Secret", terraform_type="google_secret_manager_secret"),
    GcpType(cloud_type="logging.googleapis.com/LogSink", terraform_type="google_logging_project_sink",
            select=lambda i: str(i.get("@path", "")).startswith("projects/"),
            default=_named("log sink Google creates in every project", "_Default", "_Required")),
)
