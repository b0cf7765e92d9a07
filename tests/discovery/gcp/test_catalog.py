"""Every Google catalog entry, fed a realistic Cloud Asset search result through the adapter's conversion.

Each case is a ``searchAllResources`` result as the REST API answers it and the id the google provider stores
for that resource, written out by hand from the provider's import documentation.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from driftmgr_tui.discovery.gcp.adapter import GcpAdapter, normalize_scope
from driftmgr_tui.discovery.gcp.catalog import GCP_TYPES
from driftmgr_tui.discovery.model import Scope
from driftmgr_tui.discovery.registry import registry

from .conftest import NUMBER, PROJECT, asset

P = PROJECT
CE = f"//compute.googleapis.com/projects/{P}"
SCOPE = f"projects/{P}"

# (terraform type, search result, expected terraform id)
CASES: list[tuple[str, dict[str, Any], str]] = [
    ("google_project", asset(f"//cloudresourcemanager.googleapis.com/projects/{P}",
                             "cloudresourcemanager.googleapis.com/Project",
                             additionalAttributes={"projectId": P}), f"projects/{P}"),
    # compute: instances and disks
    ("google_compute_instance", asset(f"{CE}/zones/europe-west1-b/instances/web-1", "compute.googleapis.com/Instance",
                                      location="europe-west1-b", labels={"env": "prod"}),
     f"projects/{P}/zones/europe-west1-b/instances/web-1"),
    ("google_compute_disk", asset(f"{CE}/zones/europe-west1-b/disks/data-1", "compute.googleapis.com/Disk",
                                  location="europe-west1-b"), f"projects/{P}/zones/europe-west1-b/disks/data-1"),
    ("google_compute_region_disk", asset(f"{CE}/regions/europe-west1/disks/ha-data",
                                         "compute.googleapis.com/RegionDisk", location="europe-west1"),
     f"projects/{P}/regions/europe-west1/disks/ha-data"),
    ("google_compute_image", asset(f"{CE}/global/images/base-2025", "compute.googleapis.com/Image"),
     f"projects/{P}/global/images/base-2025"),
    ("google_compute_snapshot", asset(f"{CE}/global/snapshots/data-1-daily", "compute.googleapis.com/Snapshot"),
     f"projects/{P}/global/snapshots/data-1-daily"),
    ("google_compute_instance_template", asset(f"{CE}/global/instanceTemplates/web-tpl-v3",
                                               "compute.googleapis.com/InstanceTemplate"),
     f"projects/{P}/global/instanceTemplates/web-tpl-v3"),
    ("google_compute_region_instance_template", asset(f"{CE}/regions/europe-west1/instanceTemplates/web-tpl-r",
                                                      "compute.googleapis.com/InstanceTemplate",
                                                      location="europe-west1"),
     f"projects/{P}/regions/europe-west1/instanceTemplates/web-tpl-r"),
    ("google_compute_instance_group_manager", asset(f"{CE}/zones/europe-west1-b/instanceGroupManagers/web-mig",
                                                    "compute.googleapis.com/InstanceGroupManager",
                                                    location="europe-west1-b"),
     f"projects/{P}/zones/europe-west1-b/instanceGroupManagers/web-mig"),
    ("google_compute_region_instance_group_manager", asset(f"{CE}/regions/europe-west1/instanceGroupManagers/api-mig",
                                                           "compute.googleapis.com/InstanceGroupManager",
                                                           location="europe-west1"),
     f"projects/{P}/regions/europe-west1/instanceGroupManagers/api-mig"),
    ("google_compute_autoscaler", asset(f"{CE}/zones/europe-west1-b/autoscalers/web-as",
                                        "compute.googleapis.com/Autoscaler", location="europe-west1-b"),
     f"projects/{P}/zones/europe-west1-b/autoscalers/web-as"),
    ("google_compute_region_autoscaler", asset(f"{CE}/regions/europe-west1/autoscalers/api-as",
                                               "compute.googleapis.com/Autoscaler", location="europe-west1"),
     f"projects/{P}/regions/europe-west1/autoscalers/api-as"),
    ("google_compute_resource_policy", asset(f"{CE}/regions/europe-west1/resourcePolicies/daily-snap",
                                             "compute.googleapis.com/ResourcePolicy", location="europe-west1"),
     f"projects/{P}/regions/europe-west1/resourcePolicies/daily-snap"),
    # compute: networking
    ("google_compute_network", asset(f"{CE}/global/networks/vpc-main", "compute.googleapis.com/Network"),
     f"projects/{P}/global/networks/vpc-main"),
    ("google_compute_subnetwork", asset(f"{CE}/regions/europe-west1/subnetworks/snet-app",
                                        "compute.googleapis.com/Subnetwork", location="europe-west1"),
     f"projects/{P}/regions/europe-west1/subnetworks/snet-app"),
    ("google_compute_firewall", asset(f"{CE}/global/firewalls/allow-https", "compute.googleapis.com/Firewall"),
     f"projects/{P}/global/firewalls/allow-https"),
    ("google_compute_route", asset(f"{CE}/global/routes/to-onprem", "compute.googleapis.com/Route"),
     f"projects/{P}/global/routes/to-onprem"),
    ("google_compute_router", asset(f"{CE}/regions/europe-west1/routers/nat-router", "compute.googleapis.com/Router",
                                    location="europe-west1"),
     f"projects/{P}/regions/europe-west1/routers/nat-router"),
    ("google_compute_address", asset(f"{CE}/regions/europe-west1/addresses/nat-ip", "compute.googleapis.com/Address",
                                     location="europe-west1"),
     f"projects/{P}/regions/europe-west1/addresses/nat-ip"),
    ("google_compute_global_address", asset(f"{CE}/global/addresses/lb-ip", "compute.googleapis.com/GlobalAddress"),
     f"projects/{P}/global/addresses/lb-ip"),
    ("google_compute_forwarding_rule", asset(f"{CE}/regions/europe-west1/forwardingRules/ilb-fr",
                                             "compute.googleapis.com/ForwardingRule", location="europe-west1"),
     f"projects/{P}/regions/europe-west1/forwardingRules/ilb-fr"),
    ("google_compute_global_forwarding_rule", asset(f"{CE}/global/forwardingRules/https-fr",
                                                    "compute.googleapis.com/GlobalForwardingRule"),
     f"projects/{P}/global/forwardingRules/https-fr"),
    ("google_compute_backend_service", asset(f"{CE}/global/backendServices/web-be",
                                             "compute.googleapis.com/BackendService"),
     f"projects/{P}/global/backendServices/web-be"),
    ("google_compute_region_backend_service", asset(f"{CE}/regions/europe-west1/backendServices/ilb-be",
                                                    "compute.googleapis.com/RegionBackendService",
                                                    location="europe-west1"),
     f"projects/{P}/regions/europe-west1/backendServices/ilb-be"),
    ("google_compute_health_check", asset(f"{CE}/global/healthChecks/http-hc", "compute.googleapis.com/HealthCheck"),
     f"projects/{P}/global/healthChecks/http-hc"),
    ("google_compute_region_health_check", asset(f"{CE}/regions/europe-west1/healthChecks/ilb-hc",
                                                 "compute.googleapis.com/HealthCheck", location="europe-west1"),
     f"projects/{P}/regions/europe-west1/healthChecks/ilb-hc"),
    ("google_compute_url_map", asset(f"{CE}/global/urlMaps/web-map", "compute.googleapis.com/UrlMap"),
     f"projects/{P}/global/urlMaps/web-map"),
    ("google_compute_region_url_map", asset(f"{CE}/regions/europe-west1/urlMaps/int-map",
                                            "compute.googleapis.com/UrlMap", location="europe-west1"),
     f"projects/{P}/regions/europe-west1/urlMaps/int-map"),
    ("google_compute_target_http_proxy", asset(f"{CE}/global/targetHttpProxies/web-http",
                                               "compute.googleapis.com/TargetHttpProxy"),
     f"projects/{P}/global/targetHttpProxies/web-http"),
    ("google_compute_target_https_proxy", asset(f"{CE}/global/targetHttpsProxies/web-https",
                                                "compute.googleapis.com/TargetHttpsProxy"),
     f"projects/{P}/global/targetHttpsProxies/web-https"),
    ("google_compute_target_pool", asset(f"{CE}/regions/europe-west1/targetPools/legacy-pool",
                                         "compute.googleapis.com/TargetPool", location="europe-west1"),
     f"projects/{P}/regions/europe-west1/targetPools/legacy-pool"),
    ("google_compute_ssl_certificate", asset(f"{CE}/global/sslCertificates/web-cert",
                                             "compute.googleapis.com/SslCertificate"),
     f"projects/{P}/global/sslCertificates/web-cert"),
    ("google_compute_region_ssl_certificate", asset(f"{CE}/regions/europe-west1/sslCertificates/int-cert",
                                                    "compute.googleapis.com/SslCertificate", location="europe-west1"),
     f"projects/{P}/regions/europe-west1/sslCertificates/int-cert"),
    ("google_compute_ssl_policy", asset(f"{CE}/global/sslPolicies/modern-tls", "compute.googleapis.com/SslPolicy"),
     f"projects/{P}/global/sslPolicies/modern-tls"),
    ("google_compute_security_policy", asset(f"{CE}/global/securityPolicies/edge-waf",
                                             "compute.googleapis.com/SecurityPolicy"),
     f"projects/{P}/global/securityPolicies/edge-waf"),
    ("google_compute_network_endpoint_group", asset(f"{CE}/zones/europe-west1-b/networkEndpointGroups/gke-neg",
                                                    "compute.googleapis.com/NetworkEndpointGroup",
                                                    location="europe-west1-b"),
     f"projects/{P}/zones/europe-west1-b/networkEndpointGroups/gke-neg"),
    ("google_compute_region_network_endpoint_group", asset(f"{CE}/regions/europe-west1/networkEndpointGroups/run-neg",
                                                           "compute.googleapis.com/NetworkEndpointGroup",
                                                           location="europe-west1"),
     f"projects/{P}/regions/europe-west1/networkEndpointGroups/run-neg"),
    ("google_compute_global_network_endpoint_group", asset(f"{CE}/global/networkEndpointGroups/ext-neg",
                                                           "compute.googleapis.com/NetworkEndpointGroup"),
     f"projects/{P}/global/networkEndpointGroups/ext-neg"),
    ("google_dns_managed_zone", asset(f"//dns.googleapis.com/projects/{P}/managedZones/public-zone",
                                      "dns.googleapis.com/ManagedZone"), f"projects/{P}/managedZones/public-zone"),
    # containers and serverless
    ("google_container_cluster", asset(f"//container.googleapis.com/projects/{P}/locations/europe-west1/clusters/gke-1",
                                       "container.googleapis.com/Cluster", location="europe-west1"),
     f"projects/{P}/locations/europe-west1/clusters/gke-1"),
    ("google_container_node_pool", asset(f"//container.googleapis.com/projects/{P}/zones/europe-west1-b/clusters/gke-z"
                                         "/nodePools/pool-a", "container.googleapis.com/NodePool",
                                         location="europe-west1-b"),
     f"projects/{P}/locations/europe-west1-b/clusters/gke-z/nodePools/pool-a"),
    ("google_cloud_run_v2_service", asset(f"//run.googleapis.com/projects/{P}/locations/europe-west1/services/api",
                                          "run.googleapis.com/Service", location="europe-west1"),
     f"projects/{P}/locations/europe-west1/services/api"),
    ("google_cloudfunctions_function", asset(f"//cloudfunctions.googleapis.com/projects/{P}/locations/europe-west1/"
                                             "functions/on-upload", "cloudfunctions.googleapis.com/CloudFunction",
                                             location="europe-west1"),
     f"projects/{P}/locations/europe-west1/functions/on-upload"),
    ("google_cloudfunctions2_function", asset(f"//cloudfunctions.googleapis.com/projects/{P}/locations/europe-west1/"
                                              "functions/resize", "cloudfunctions.googleapis.com/Function",
                                              location="europe-west1"),
     f"projects/{P}/locations/europe-west1/functions/resize"),
    ("google_cloud_scheduler_job", asset(f"//cloudscheduler.googleapis.com/projects/{P}/locations/europe-west1/jobs/"
                                         "nightly", "cloudscheduler.googleapis.com/Job", location="europe-west1"),
     f"projects/{P}/locations/europe-west1/jobs/nightly"),
    ("google_artifact_registry_repository", asset(f"//artifactregistry.googleapis.com/projects/{P}/locations/europe/"
                                                  "repositories/images", "artifactregistry.googleapis.com/Repository",
                                                  location="europe"),
     f"projects/{P}/locations/europe/repositories/images"),
    ("google_composer_environment", asset(f"//composer.googleapis.com/projects/{P}/locations/europe-west1/"
                                          "environments/airflow", "composer.googleapis.com/Environment",
                                          location="europe-west1"),
     f"projects/{P}/locations/europe-west1/environments/airflow"),
    # storage and data
    ("google_storage_bucket", asset("//storage.googleapis.com/acme-prod-logs", "storage.googleapis.com/Bucket",
                                    location="eu"), "acme-prod-logs"),
    ("google_sql_database_instance", asset(f"//cloudsql.googleapis.com/projects/{P}/instances/pg-main",
                                           "sqladmin.googleapis.com/Instance", location="europe-west1"), "pg-main"),
    ("google_bigquery_dataset", asset(f"//bigquery.googleapis.com/projects/{P}/datasets/analytics",
                                      "bigquery.googleapis.com/Dataset", location="EU"),
     f"projects/{P}/datasets/analytics"),
    ("google_bigquery_table", asset(f"//bigquery.googleapis.com/projects/{P}/datasets/analytics/tables/events",
                                    "bigquery.googleapis.com/Table", location="EU"),
     f"projects/{P}/datasets/analytics/tables/events"),
    ("google_bigquery_routine", asset(f"//bigquery.googleapis.com/projects/{P}/datasets/analytics/routines/clean",
                                      "bigquery.googleapis.com/Routine", location="EU"),
     f"projects/{P}/datasets/analytics/routines/clean"),
    ("google_spanner_instance", asset(f"//spanner.googleapis.com/projects/{P}/instances/orders",
                                      "spanner.googleapis.com/Instance"), f"{P}/orders"),
    ("google_spanner_database", asset(f"//spanner.googleapis.com/projects/{P}/instances/orders/databases/ordersdb",
                                      "spanner.googleapis.com/Database"), "orders/ordersdb"),
    ("google_bigtable_instance", asset(f"//bigtableadmin.googleapis.com/projects/{P}/instances/metrics",
                                       "bigtableadmin.googleapis.com/Instance"), f"projects/{P}/instances/metrics"),
    ("google_redis_instance", asset(f"//redis.googleapis.com/projects/{P}/locations/europe-west1/instances/cache",
                                    "redis.googleapis.com/Instance", location="europe-west1"),
     f"projects/{P}/locations/europe-west1/instances/cache"),
    ("google_filestore_instance", asset(f"//file.googleapis.com/projects/{P}/locations/europe-west1-b/instances/nfs",
                                        "file.googleapis.com/Instance", location="europe-west1-b"),
     f"projects/{P}/locations/europe-west1-b/instances/nfs"),
    # messaging
    ("google_pubsub_topic", asset(f"//pubsub.googleapis.com/projects/{P}/topics/orders",
                                  "pubsub.googleapis.com/Topic"), f"projects/{P}/topics/orders"),
    ("google_pubsub_subscription", asset(f"//pubsub.googleapis.com/projects/{P}/subscriptions/orders-worker",
                                         "pubsub.googleapis.com/Subscription"),
     f"projects/{P}/subscriptions/orders-worker"),
    ("google_pubsub_schema", asset(f"//pubsub.googleapis.com/projects/{P}/schemas/order-v1",
                                   "pubsub.googleapis.com/Schema"), f"projects/{P}/schemas/order-v1"),
    # IAM, keys, secrets, logging
    ("google_service_account", asset(f"//iam.googleapis.com/projects/{P}/serviceAccounts/104857650123456789012",
                                     "iam.googleapis.com/ServiceAccount",
                                     additionalAttributes={"email": f"deployer@{P}.iam.gserviceaccount.com",
                                                           "oauth2ClientId": "104857650123456789012"}),
     f"projects/{P}/serviceAccounts/deployer@{P}.iam.gserviceaccount.com"),
    ("google_project_iam_custom_role", asset(f"//iam.googleapis.com/projects/{P}/roles/deployReader",
                                             "iam.googleapis.com/Role"), f"projects/{P}/roles/deployReader"),
    ("google_organization_iam_custom_role", asset("//iam.googleapis.com/organizations/555000111/roles/auditor",
                                                  "iam.googleapis.com/Role", project=""),
     "organizations/555000111/roles/auditor"),
    ("google_iam_workload_identity_pool", asset(f"//iam.googleapis.com/projects/{NUMBER}/locations/global/"
                                                "workloadIdentityPools/github", "iam.googleapis.com/WorkloadIdentityPool"),
     f"projects/{P}/locations/global/workloadIdentityPools/github"),
    ("google_kms_key_ring", asset(f"//cloudkms.googleapis.com/projects/{P}/locations/europe/keyRings/app",
                                  "cloudkms.googleapis.com/KeyRing", location="europe"),
     f"projects/{P}/locations/europe/keyRings/app"),
    ("google_kms_crypto_key", asset(f"//cloudkms.googleapis.com/projects/{P}/locations/europe/keyRings/app/"
                                    "cryptoKeys/data", "cloudkms.googleapis.com/CryptoKey", location="europe"),
     f"projects/{P}/locations/europe/keyRings/app/cryptoKeys/data"),
    ("google_secret_manager_secret", asset(f"//secretmanager.googleapis.com/projects/{NUMBER}/secrets/db-password",
                                           "secretmanager.googleapis.com/Secret"),
     f"projects/{P}/secrets/db-password"),
    ("google_logging_project_sink", asset(f"//logging.googleapis.com/projects/{P}/sinks/to-bigquery",
                                          "logging.googleapis.com/LogSink"), f"projects/{P}/sinks/to-bigquery"),
]


def _through_the_sdk(api_json: dict[str, Any]) -> dict[str, Any]:
    """The result as the adapter receives it: parsed by the SDK's proto type, then ``to_dict``."""
    from google.cloud import asset_v1

    result = asset_v1.ResourceSearchResult.from_json(json.dumps(api_json), ignore_unknown_fields=True)
    return asset_v1.ResourceSearchResult.to_dict(result)


@pytest.fixture
def adapter() -> GcpAdapter:
    return GcpAdapter(Scope(provider="gcp", projects=(P,)), credentials=object(), api_endpoint="http://127.0.0.1:9")


@pytest.mark.parametrize(("terraform_type", "api_json", "expected_id"), CASES, ids=[c[0] for c in CASES])
def test_each_mapping(adapter: GcpAdapter, terraform_type: str, api_json: dict[str, Any], expected_id: str) -> None:
    resource = adapter.to_resource(_through_the_sdk(api_json), scope=SCOPE)
    assert resource is not None
    assert resource.terraform_type == terraform_type
    assert resource.terraform_id == expected_id
    assert resource.provider == "gcp"
    assert resource.native_id == api_json["name"]
    assert resource.region == api_json["location"]
    assert resource.account == (P if api_json["project"] else SCOPE.removeprefix("projects/"))
    assert resource.tags == api_json.get("labels", {})


def test_every_catalog_entry_has_a_case() -> None:
    assert {t.terraform_type for t in GCP_TYPES} == {c[0] for c in CASES}


def test_registry_counts() -> None:
    assert len(registry().terraform_types("gcp")) >= 30
    assert all(t.startswith("google_") for t in registry().terraform_types("gcp"))


def test_zonal_clusters_and_numeric_dns_zone_names() -> None:
    adapter = GcpAdapter(Scope(provider="gcp", projects=(P,)), credentials=object())
    zonal = asset(f"//container.googleapis.com/projects/{P}/zones/europe-west1-b/clusters/gke-z",
                  "container.googleapis.com/Cluster", location="europe-west1-b")
    zone = asset(f"//dns.googleapis.com/projects/{P}/managedZones/4471234567890", "dns.googleapis.com/ManagedZone",
                 displayName="internal-zone")
    assert adapter.to_resource(_through_the_sdk(zonal), scope=SCOPE).terraform_id == \
        f"projects/{P}/locations/europe-west1-b/clusters/gke-z"
    converted = adapter.to_resource(_through_the_sdk(zone), scope=SCOPE)
    assert (converted.terraform_id, converted.name) == (f"projects/{P}/managedZones/internal-zone", "internal-zone")


def test_service_accounts_named_by_email() -> None:
    adapter = GcpAdapter(Scope(provider="gcp", projects=(P,)), credentials=object())
    sa = asset(f"//iam.googleapis.com/projects/{P}/serviceAccounts/ci@{P}.iam.gserviceaccount.com",
               "iam.googleapis.com/ServiceAccount")
    assert adapter.to_resource(_through_the_sdk(sa), scope=SCOPE).terraform_id == \
        f"projects/{P}/serviceAccounts/ci@{P}.iam.gserviceaccount.com"


@pytest.mark.parametrize(
    ("api_json", "reason"),
    [
        (asset(f"{CE}/global/networks/default", "compute.googleapis.com/Network"), "default network"),
        (asset(f"{CE}/global/firewalls/default-allow-ssh", "compute.googleapis.com/Firewall"), "default network"),
        (asset(f"{CE}/global/routes/default-route-8a1f2b", "compute.googleapis.com/Route"), "route Google creates"),
        (asset(f"//logging.googleapis.com/projects/{P}/sinks/_Default", "logging.googleapis.com/LogSink"),
         "every project"),
        (asset(f"//iam.googleapis.com/projects/{P}/serviceAccounts/1", "iam.googleapis.com/ServiceAccount",
               additionalAttributes={"email": f"{NUMBER}-compute@developer.gserviceaccount.com"}),
         "Compute Engine default"),
        (asset(f"{CE}/zones/europe-west1-b/instances/gke-pool-a-1", "compute.googleapis.com/Instance",
               labels={"goog-gke-node": ""}), "goog-gke-node"),
    ],
)
def test_objects_google_makes_by_itself_are_marked(adapter: GcpAdapter, api_json: dict[str, Any],
                                                   reason: str) -> None:
    resource = adapter.to_resource(_through_the_sdk(api_json), scope=SCOPE)
    assert resource is not None and reason in (resource.cloud_default or "")


def test_terraform_attribution_label_is_not_a_service_label(adapter: GcpAdapter) -> None:
    api_json = asset(f"{CE}/zones/europe-west1-b/instances/web-2", "compute.googleapis.com/Instance",
                     labels={"goog-terraform-provisioned": "true"})
    assert adapter.to_resource(_through_the_sdk(api_json), scope=SCOPE).cloud_default is None


def test_unmapped_types_and_variants_are_counted(adapter: GcpAdapter) -> None:
    unknown = asset(f"//apigee.googleapis.com/organizations/{P}", "apigee.googleapis.com/Organization")
    regional_proxy = asset(f"{CE}/regions/europe-west1/targetHttpsProxies/int", "compute.googleapis.com/TargetHttpsProxy")
    assert adapter.to_resource(_through_the_sdk(unknown), scope=SCOPE) is None
    assert adapter.to_resource(_through_the_sdk(regional_proxy), scope=SCOPE) is None
    assert adapter.unsupported() == {
        "apigee.googleapis.com/Organization": 1,
        "compute.googleapis.com/TargetHttpsProxy (projects/*/regions/*/targetHttpsProxies/*)": 1,
    }


def test_a_type_filter_on_one_variant_leaves_the_others_out_quietly() -> None:
    zonal_only = GcpAdapter(Scope(provider="gcp", projects=(P,), types=("google_compute_instance_group_manager",)),
                            credentials=object())
    regional = asset(f"{CE}/regions/europe-west1/instanceGroupManagers/api-mig",
                     "compute.googleapis.com/InstanceGroupManager", location="europe-west1")
    assert zonal_only.to_resource(_through_the_sdk(regional), scope=SCOPE) is None
    assert zonal_only.unsupported() == {}


def test_secret_looking_attributes_are_redacted(adapter: GcpAdapter) -> None:
    api_json = asset(f"{CE}/zones/europe-west1-b/instances/web-3", "compute.googleapis.com/Instance",
                     additionalAttributes={"metadata": {"api_key": "AIzaSy-secret"}, "machineType": "e2-small"})
    resource = adapter.to_resource(_through_the_sdk(api_json), scope=SCOPE)
    assert "AIzaSy-secret" not in repr(resource.attributes)
    assert resource.attributes["additional_attributes"]["machineType"] == "e2-small"


@pytest.mark.parametrize(
    ("value", "scope"),
    [("acme-prod", "projects/acme-prod"), ("projects/acme-prod", "projects/acme-prod"),
     ("folders/123", "folders/123"), ("organizations/456/", "organizations/456"), ("  my-proj ", "projects/my-proj")],
)
def test_normalize_scope(value: str, scope: str) -> None:
    assert normalize_scope(value) == scope


@pytest.mark.parametrize("value", ["", "projects/", "buckets/x", "folders/1/projects/2", "my project"])
def test_bad_scopes_are_usage_errors(value: str) -> None:
    from driftmgr_tui.core.errors import UsageError

    with pytest.raises(UsageError, match="is not a project id"):
        normalize_scope(value)
