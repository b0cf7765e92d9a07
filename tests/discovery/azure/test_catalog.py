"""Every Azure catalog entry, fed a realistic ARM object through the adapter's conversion.

Each case gives the ARM type as ARM answers it (often in odd casing), the id as ARM answers it, and the id the
azurerm provider stores, written out by hand from the provider's import documentation: the conversion must
produce exactly that id and Terraform type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from driftmgr_tui.discovery.azure.adapter import AzureAdapter
from driftmgr_tui.discovery.azure.catalog import AZURE_TYPES, RESOURCE_GROUPS, RESOURCES
from driftmgr_tui.discovery.model import Scope
from driftmgr_tui.discovery.registry import match_key, registry

from .conftest import SUB, TokenCredential

RG = "Rg-Prod"


@dataclass(frozen=True)
class Case:
    terraform_type: str
    arm_type: str  # as ARM answers it
    canonical: str  # namespace/type segments as azurerm spells them in ids
    names: tuple[str, ...]
    extra: dict[str, Any] = field(default_factory=dict)
    odd_casing: bool = False  # answer with lower-case keywords and an upper-case namespace

    @property
    def raw_id(self) -> str:
        namespace, *types = self.arm_type.split("/")
        if self.odd_casing:
            namespace = namespace.upper()
        path = "/".join(part for pair in zip(types, self.names, strict=True) for part in pair)
        keyword = "resourcegroups" if self.odd_casing else "resourceGroups"
        return f"/subscriptions/{SUB}/{keyword}/{RG}/providers/{namespace}/{path}"

    @property
    def expected_id(self) -> str:
        namespace, *types = self.canonical.split("/")
        path = "/".join(part for pair in zip(types, self.names, strict=True) for part in pair)
        return f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/{namespace}/{path}"

    def arm_json(self) -> dict[str, Any]:
        return {"id": self.raw_id, "name": "/".join(self.names), "type": self.arm_type, "location": "westeurope",
                "tags": {"env": "prod", "owner": "team-a"}, **self.extra}


C = Case
CASES: list[Case] = [
    # compute
    C("azurerm_linux_virtual_machine", "Microsoft.Compute/virtualMachines", "Microsoft.Compute/virtualMachines",
      ("vm-web-01",), odd_casing=True),
    C("azurerm_linux_virtual_machine_scale_set", "Microsoft.Compute/virtualMachineScaleSets",
      "Microsoft.Compute/virtualMachineScaleSets", ("vmss-api",)),
    C("azurerm_virtual_machine_extension", "Microsoft.Compute/virtualMachines/extensions",
      "Microsoft.Compute/virtualMachines/extensions", ("vm-web-01", "AzureMonitorLinuxAgent"), odd_casing=True),
    C("azurerm_managed_disk", "Microsoft.Compute/disks", "Microsoft.Compute/disks", ("data-disk-01",),
      {"sku": {"name": "Premium_LRS"}, "managedBy": f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/"
                                                      "Microsoft.Compute/virtualMachines/vm-web-01"}),
    C("azurerm_availability_set", "Microsoft.Compute/availabilitySets", "Microsoft.Compute/availabilitySets",
      ("AVSET-WEB",), odd_casing=True),
    C("azurerm_image", "Microsoft.Compute/images", "Microsoft.Compute/images", ("img-base",)),
    C("azurerm_snapshot", "Microsoft.Compute/snapshots", "Microsoft.Compute/snapshots", ("snap-1",)),
    C("azurerm_ssh_public_key", "Microsoft.Compute/sshPublicKeys", "Microsoft.Compute/sshPublicKeys", ("ops-key",)),
    C("azurerm_shared_image_gallery", "Microsoft.Compute/galleries", "Microsoft.Compute/galleries", ("gallery1",)),
    C("azurerm_disk_encryption_set", "Microsoft.Compute/diskEncryptionSets", "Microsoft.Compute/diskEncryptionSets",
      ("des-1",)),
    C("azurerm_proximity_placement_group", "Microsoft.Compute/proximityPlacementGroups",
      "Microsoft.Compute/proximityPlacementGroups", ("ppg-1",)),
    # networking
    C("azurerm_virtual_network", "Microsoft.Network/virtualNetworks", "Microsoft.Network/virtualNetworks",
      ("vnet-hub",), odd_casing=True),
    C("azurerm_network_security_group", "Microsoft.Network/networkSecurityGroups",
      "Microsoft.Network/networkSecurityGroups", ("nsg-web",)),
    C("azurerm_network_interface", "Microsoft.Network/networkInterfaces", "Microsoft.Network/networkInterfaces",
      ("vm-web-01-nic",)),
    C("azurerm_public_ip", "Microsoft.Network/publicIPAddresses", "Microsoft.Network/publicIPAddresses",
      ("pip-lb",), {"sku": {"name": "Standard"}}),
    C("azurerm_public_ip_prefix", "Microsoft.Network/publicIPPrefixes", "Microsoft.Network/publicIPPrefixes",
      ("pipp-egress",)),
    C("azurerm_lb", "Microsoft.Network/loadBalancers", "Microsoft.Network/loadBalancers", ("lb-web",)),
    C("azurerm_route_table", "Microsoft.Network/routeTables", "Microsoft.Network/routeTables", ("rt-spoke",)),
    C("azurerm_nat_gateway", "Microsoft.Network/natGateways", "Microsoft.Network/natGateways", ("natgw-1",)),
    C("azurerm_application_gateway", "Microsoft.Network/applicationGateways",
      "Microsoft.Network/applicationGateways", ("agw-edge",)),
    C("azurerm_web_application_firewall_policy", "Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies",
      "Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies", ("waf-edge",)),
    C("azurerm_application_security_group", "Microsoft.Network/applicationSecurityGroups",
      "Microsoft.Network/applicationSecurityGroups", ("asg-web",)),
    C("azurerm_private_endpoint", "Microsoft.Network/privateEndpoints", "Microsoft.Network/privateEndpoints",
      ("pe-sql",)),
    C("azurerm_private_link_service", "Microsoft.Network/privateLinkServices",
      "Microsoft.Network/privateLinkServices", ("pls-1",)),
    C("azurerm_dns_zone", "Microsoft.Network/dnszones", "Microsoft.Network/dnsZones", ("example.com",),
      {"location": "global"}),
    C("azurerm_private_dns_zone", "Microsoft.Network/privateDnsZones", "Microsoft.Network/privateDnsZones",
      ("privatelink.database.windows.net",), {"location": "global"}),
    C("azurerm_private_dns_zone_virtual_network_link", "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
      "Microsoft.Network/privateDnsZones/virtualNetworkLinks", ("privatelink.database.windows.net", "hub-link"),
      {"location": "global"}, odd_casing=True),
    C("azurerm_virtual_network_gateway", "Microsoft.Network/virtualNetworkGateways",
      "Microsoft.Network/virtualNetworkGateways", ("vpngw",)),
    C("azurerm_local_network_gateway", "Microsoft.Network/localNetworkGateways",
      "Microsoft.Network/localNetworkGateways", ("onprem",)),
    C("azurerm_virtual_network_gateway_connection", "Microsoft.Network/connections",
      "Microsoft.Network/connections", ("to-onprem",)),
    C("azurerm_network_watcher", "Microsoft.Network/networkWatchers", "Microsoft.Network/networkWatchers",
      ("nw-custom",)),
    C("azurerm_bastion_host", "Microsoft.Network/bastionHosts", "Microsoft.Network/bastionHosts", ("bastion",)),
    C("azurerm_firewall", "Microsoft.Network/azureFirewalls", "Microsoft.Network/azureFirewalls", ("fw-hub",)),
    C("azurerm_firewall_policy", "Microsoft.Network/firewallPolicies", "Microsoft.Network/firewallPolicies",
      ("fwp-hub",)),
    C("azurerm_network_ddos_protection_plan", "Microsoft.Network/ddosProtectionPlans",
      "Microsoft.Network/ddosProtectionPlans", ("ddos",)),
    C("azurerm_traffic_manager_profile", "Microsoft.Network/trafficmanagerprofiles",
      "Microsoft.Network/trafficManagerProfiles", ("tm-global",), {"location": "global"}),
    C("azurerm_ip_group", "Microsoft.Network/ipGroups", "Microsoft.Network/ipGroups", ("ipg-onprem",)),
    C("azurerm_virtual_wan", "Microsoft.Network/virtualWans", "Microsoft.Network/virtualWans", ("vwan",)),
    C("azurerm_virtual_hub", "Microsoft.Network/virtualHubs", "Microsoft.Network/virtualHubs", ("vhub-weu",)),
    C("azurerm_cdn_frontdoor_profile", "Microsoft.Cdn/profiles", "Microsoft.Cdn/profiles", ("afd-main",),
      {"sku": {"name": "Standard_AzureFrontDoor"}, "location": "global"}),
    C("azurerm_cdn_profile", "Microsoft.Cdn/profiles", "Microsoft.Cdn/profiles", ("cdn-static",),
      {"sku": {"name": "Standard_Microsoft"}, "location": "global"}),
    # storage, identity, secrets
    C("azurerm_storage_account", "Microsoft.Storage/storageAccounts", "Microsoft.Storage/storageAccounts",
      ("stprodlogs01",), {"kind": "StorageV2", "sku": {"name": "Standard_LRS"}}, odd_casing=True),
    C("azurerm_key_vault", "Microsoft.KeyVault/vaults", "Microsoft.KeyVault/vaults", ("kv-prod",)),
    C("azurerm_key_vault_managed_hardware_security_module", "Microsoft.KeyVault/managedHSMs",
      "Microsoft.KeyVault/managedHSMs", ("hsm-prod",)),
    C("azurerm_user_assigned_identity", "Microsoft.ManagedIdentity/userAssignedIdentities",
      "Microsoft.ManagedIdentity/userAssignedIdentities", ("id-app",), odd_casing=True),
    C("azurerm_netapp_account", "Microsoft.NetApp/netAppAccounts", "Microsoft.NetApp/netAppAccounts", ("anf",)),
    C("azurerm_recovery_services_vault", "Microsoft.RecoveryServices/vaults", "Microsoft.RecoveryServices/vaults",
      ("rsv-backup",)),
    # App Service
    C("azurerm_service_plan", "Microsoft.Web/serverFarms", "Microsoft.Web/serverFarms", ("asp-linux",),
      {"kind": "linux", "sku": {"name": "P1v3"}}),
    C("azurerm_logic_app_standard", "Microsoft.Web/sites", "Microsoft.Web/sites", ("la-orders",),
      {"kind": "functionapp,workflowapp"}),
    C("azurerm_linux_function_app", "Microsoft.Web/sites", "Microsoft.Web/sites", ("func-linux",),
      {"kind": "functionapp,linux"}),
    C("azurerm_windows_function_app", "Microsoft.Web/sites", "Microsoft.Web/sites", ("func-win",),
      {"kind": "functionapp"}),
    C("azurerm_linux_web_app", "Microsoft.Web/sites", "Microsoft.Web/sites", ("app-linux",),
      {"kind": "app,linux"}, odd_casing=True),
    C("azurerm_windows_web_app", "Microsoft.Web/sites", "Microsoft.Web/sites", ("app-win",), {"kind": "app"}),
    C("azurerm_linux_function_app_slot", "Microsoft.Web/sites/slots", "Microsoft.Web/sites/slots",
      ("func-linux", "staging"), {"kind": "functionapp,linux"}),
    C("azurerm_windows_function_app_slot", "Microsoft.Web/sites/slots", "Microsoft.Web/sites/slots",
      ("func-win", "staging"), {"kind": "functionapp"}),
    C("azurerm_linux_web_app_slot", "Microsoft.Web/sites/slots", "Microsoft.Web/sites/slots",
      ("app-linux", "staging"), {"kind": "app,linux,container"}),
    C("azurerm_windows_web_app_slot", "Microsoft.Web/sites/slots", "Microsoft.Web/sites/slots",
      ("app-win", "staging"), {"kind": "app"}),
    C("azurerm_static_web_app", "Microsoft.Web/staticSites", "Microsoft.Web/staticSites", ("swa-docs",)),
    # containers
    C("azurerm_kubernetes_cluster", "Microsoft.ContainerService/managedClusters",
      "Microsoft.ContainerService/managedClusters", ("aks-prod",)),
    C("azurerm_container_registry", "Microsoft.ContainerRegistry/registries", "Microsoft.ContainerRegistry/registries",
      ("acrprod",)),
    C("azurerm_container_group", "Microsoft.ContainerInstance/containerGroups",
      "Microsoft.ContainerInstance/containerGroups", ("aci-job",)),
    C("azurerm_container_app_environment", "Microsoft.App/managedEnvironments", "Microsoft.App/managedEnvironments",
      ("cae-prod",)),
    C("azurerm_container_app", "Microsoft.App/containerApps", "Microsoft.App/containerApps", ("ca-api",)),
    # databases, caches, messaging
    C("azurerm_mssql_server", "Microsoft.Sql/servers", "Microsoft.Sql/servers", ("sql-prod",), {"kind": "v12.0"}),
    C("azurerm_mssql_database", "Microsoft.Sql/servers/databases", "Microsoft.Sql/servers/databases",
      ("sql-prod", "orders"), {"kind": "v12.0,user", "sku": {"name": "S0"}}, odd_casing=True),
    C("azurerm_postgresql_flexible_server", "Microsoft.DBforPostgreSQL/flexibleServers",
      "Microsoft.DBforPostgreSQL/flexibleServers", ("psql-prod",)),
    C("azurerm_mysql_flexible_server", "Microsoft.DBforMySQL/flexibleServers", "Microsoft.DBforMySQL/flexibleServers",
      ("mysql-prod",)),
    C("azurerm_cosmosdb_account", "Microsoft.DocumentDb/databaseAccounts", "Microsoft.DocumentDB/databaseAccounts",
      ("cosmos-prod",), {"kind": "GlobalDocumentDB"}),
    C("azurerm_redis_cache", "Microsoft.Cache/Redis", "Microsoft.Cache/redis", ("redis-prod",)),
    C("azurerm_servicebus_namespace", "Microsoft.ServiceBus/namespaces", "Microsoft.ServiceBus/namespaces",
      ("sb-prod",)),
    C("azurerm_eventhub_namespace", "Microsoft.EventHub/namespaces", "Microsoft.EventHub/namespaces", ("evh-prod",)),
    C("azurerm_eventgrid_topic", "Microsoft.EventGrid/topics", "Microsoft.EventGrid/topics", ("egt-orders",)),
    C("azurerm_eventgrid_system_topic", "Microsoft.EventGrid/systemTopics", "Microsoft.EventGrid/systemTopics",
      ("egst-storage",)),
    C("azurerm_signalr_service", "Microsoft.SignalRService/SignalR", "Microsoft.SignalRService/signalR",
      ("signalr-prod",)),
    C("azurerm_app_configuration", "Microsoft.AppConfiguration/configurationStores",
      "Microsoft.AppConfiguration/configurationStores", ("appcs-prod",)),
    # monitoring
    C("azurerm_log_analytics_workspace", "Microsoft.OperationalInsights/workspaces",
      "Microsoft.OperationalInsights/workspaces", ("log-prod",), odd_casing=True),
    C("azurerm_log_analytics_solution", "Microsoft.OperationsManagement/solutions",
      "Microsoft.OperationsManagement/solutions", ("ContainerInsights(log-prod)",)),
    C("azurerm_application_insights", "microsoft.insights/components", "Microsoft.Insights/components",
      ("appi-prod",), {"kind": "web"}),
    C("azurerm_monitor_action_group", "microsoft.insights/actiongroups", "Microsoft.Insights/actionGroups",
      ("ag-oncall",), {"location": "global"}),
    C("azurerm_monitor_metric_alert", "microsoft.insights/metricalerts", "Microsoft.Insights/metricAlerts",
      ("cpu-high",), {"location": "global"}),
    C("azurerm_monitor_scheduled_query_rules_alert_v2", "microsoft.insights/scheduledqueryrules",
      "Microsoft.Insights/scheduledQueryRules", ("errors-5xx",)),
    C("azurerm_monitor_data_collection_rule", "Microsoft.Insights/dataCollectionRules",
      "Microsoft.Insights/dataCollectionRules", ("dcr-linux",)),
    C("azurerm_portal_dashboard", "Microsoft.Portal/dashboards", "Microsoft.Portal/dashboards",
      ("7a5c3e39-2b8f-4b6e-9d2f-0c5f4b1f9e01",)),
    # integration, analytics, machine learning
    C("azurerm_logic_app_workflow", "Microsoft.Logic/workflows", "Microsoft.Logic/workflows", ("wf-sync",)),
    C("azurerm_api_management", "Microsoft.ApiManagement/service", "Microsoft.ApiManagement/service", ("apim-prod",)),
    C("azurerm_automation_account", "Microsoft.Automation/automationAccounts",
      "Microsoft.Automation/automationAccounts", ("aa-ops",)),
    C("azurerm_data_factory", "Microsoft.DataFactory/factories", "Microsoft.DataFactory/factories", ("adf-etl",)),
    C("azurerm_databricks_workspace", "Microsoft.Databricks/workspaces", "Microsoft.Databricks/workspaces",
      ("dbw-analytics",)),
    C("azurerm_synapse_workspace", "Microsoft.Synapse/workspaces", "Microsoft.Synapse/workspaces", ("syn-dw",)),
    C("azurerm_kusto_cluster", "Microsoft.Kusto/Clusters", "Microsoft.Kusto/clusters", ("adxprod",)),
    C("azurerm_search_service", "Microsoft.Search/searchServices", "Microsoft.Search/searchServices", ("srch-prod",)),
    C("azurerm_cognitive_account", "Microsoft.CognitiveServices/accounts", "Microsoft.CognitiveServices/accounts",
      ("oai-prod",), {"kind": "OpenAI"}),
    C("azurerm_machine_learning_workspace", "Microsoft.MachineLearningServices/workspaces",
      "Microsoft.MachineLearningServices/workspaces", ("mlw-prod",)),
    C("azurerm_batch_account", "Microsoft.Batch/batchAccounts", "Microsoft.Batch/batchAccounts", ("batchprod",)),
]


@pytest.fixture(scope="module")
def adapter() -> AzureAdapter:
    return AzureAdapter(Scope(provider="azure", subscriptions=(SUB,)), credential=TokenCredential(),
                        base_url="http://127.0.0.1:9")


def _through_the_sdk(arm_json: dict[str, Any], *, group: bool = False) -> dict[str, Any]:
    """The object as the adapter receives it: deserialised by the SDK's model, then ``as_dict()``."""
    from azure.mgmt.resource.resources import models

    model = models.ResourceGroup(arm_json) if group else models.GenericResourceExpanded(arm_json)
    return model.as_dict()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.terraform_type)
def test_each_resource_mapping(adapter: AzureAdapter, case: Case) -> None:
    resource = adapter.to_resource(_through_the_sdk(case.arm_json()), subscription=SUB, listing=RESOURCES)
    assert resource is not None
    assert resource.terraform_type == case.terraform_type
    assert resource.terraform_id == case.expected_id
    assert resource.native_id == case.raw_id
    assert resource.provider == "azure" and resource.account == SUB
    assert resource.region == case.arm_json()["location"]
    assert resource.tags == {"env": "prod", "owner": "team-a"}
    assert resource.name == "/".join(case.names)
    assert match_key(resource.terraform_type, resource.terraform_id) == match_key(case.terraform_type, case.raw_id)


def test_resource_group_mapping(adapter: AzureAdapter) -> None:
    arm_json = {"id": f"/subscriptions/{SUB}/resourcegroups/RG-Payments", "name": "RG-Payments",
                "type": "Microsoft.Resources/resourceGroups", "location": "northeurope", "tags": {"cc": "42"},
                "properties": {"provisioningState": "Succeeded"}}
    resource = adapter.to_resource(_through_the_sdk(arm_json, group=True), subscription=SUB, listing=RESOURCE_GROUPS)
    assert resource is not None
    assert (resource.terraform_type, resource.terraform_id) == (
        "azurerm_resource_group", f"/subscriptions/{SUB}/resourceGroups/RG-Payments")
    assert resource.region == "northeurope" and resource.tags == {"cc": "42"} and resource.cloud_default is None


def test_every_catalog_entry_has_a_case() -> None:
    covered = {c.terraform_type for c in CASES} | {"azurerm_resource_group"}
    assert {t.terraform_type for t in AZURE_TYPES} == covered


def test_registry_counts() -> None:
    assert len(registry().terraform_types("azure")) >= 40
    assert all(t.startswith("azurerm_") for t in registry().terraform_types("azure"))
    equivalents = registry().equivalent_types("azurerm_linux_virtual_machine")
    assert {"azurerm_windows_virtual_machine", "azurerm_virtual_machine"} <= equivalents


@pytest.mark.parametrize(
    ("arm_json", "reason"),
    [
        ({"id": f"/subscriptions/{SUB}/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/"
               "NetworkWatcher_westeurope", "name": "NetworkWatcher_westeurope",
          "type": "Microsoft.Network/networkWatchers", "location": "westeurope"}, "Network Watcher"),
        ({"id": f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Sql/servers/sql-prod/databases/master",
          "name": "sql-prod/master", "type": "Microsoft.Sql/servers/databases", "location": "westeurope"},
         "system database"),
        ({"id": f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/disks/vm1_OsDisk_1_abc",
          "name": "vm1_OsDisk_1_abc", "type": "Microsoft.Compute/disks", "location": "westeurope",
          "managedBy": f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/virtualMachines/vm1"},
         "OS disk"),
        ({"id": f"/subscriptions/{SUB}/resourceGroups/MC_rg_aks_westeurope/providers/Microsoft.Compute/"
               "virtualMachineScaleSets/aks-system-123-vmss", "name": "aks-system-123-vmss",
          "type": "Microsoft.Compute/virtualMachineScaleSets", "location": "westeurope",
          "tags": {"aks-managed-poolName": "system"}}, "AKS"),
    ],
)
def test_objects_azure_makes_by_itself_are_marked(adapter: AzureAdapter, arm_json: dict[str, Any],
                                                  reason: str) -> None:
    resource = adapter.to_resource(_through_the_sdk(arm_json), subscription=SUB)
    assert resource is not None and resource.cloud_default is not None
    assert reason in resource.cloud_default


def test_managed_resource_groups_are_marked(adapter: AzureAdapter) -> None:
    arm_json = {"id": f"/subscriptions/{SUB}/resourceGroups/MC_rg_aks_westeurope", "name": "MC_rg_aks_westeurope",
                "location": "westeurope", "managedBy": f"/subscriptions/{SUB}/resourceGroups/rg/providers/"
                                                       "Microsoft.ContainerService/managedClusters/aks"}
    resource = adapter.to_resource(_through_the_sdk(arm_json, group=True), subscription=SUB, listing=RESOURCE_GROUPS)
    assert resource is not None and "managed by" in (resource.cloud_default or "")


def test_unmapped_types_and_kinds_are_counted(adapter: AzureAdapter) -> None:
    fresh = AzureAdapter(Scope(provider="azure", subscriptions=(SUB,)), credential=TokenCredential(),
                         base_url="http://127.0.0.1:9")
    unknown = {"id": f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Maps/accounts/maps1",
               "name": "maps1", "type": "Microsoft.Maps/accounts", "location": "global"}
    slot = {"id": f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Web/sites/la/slots/s",
            "name": "la/s", "type": "Microsoft.Web/sites/slots", "kind": "functionapp,workflowapp",
            "location": "westeurope"}
    assert fresh.to_resource(_through_the_sdk(unknown), subscription=SUB) is None
    assert fresh.to_resource(_through_the_sdk(unknown), subscription=SUB) is None
    assert fresh.to_resource(_through_the_sdk(slot), subscription=SUB) is None
    assert fresh.unsupported() == {"Microsoft.Maps/accounts": 2,
                                   "Microsoft.Web/sites/slots (kind=functionapp,workflowapp)": 1}


def test_a_type_filter_skips_other_types_without_calling_them_unsupported() -> None:
    only_vnets = AzureAdapter(Scope(provider="azure", subscriptions=(SUB,), types=("azurerm_virtual_network",)),
                              credential=TokenCredential(), base_url="http://127.0.0.1:9")
    disk = next(c for c in CASES if c.terraform_type == "azurerm_managed_disk")
    assert only_vnets.to_resource(_through_the_sdk(disk.arm_json()), subscription=SUB) is None
    assert only_vnets.unsupported() == {}
    assert [t.service for t in _planned(only_vnets)] == ["resources"]


def test_a_type_filter_on_one_kind_leaves_the_other_kinds_out_quietly() -> None:
    linux_apps = AzureAdapter(Scope(provider="azure", subscriptions=(SUB,), types=("azurerm_linux_web_app",)),
                              credential=TokenCredential(), base_url="http://127.0.0.1:9")
    by_type = {c.terraform_type: c for c in CASES}
    windows, linux = by_type["azurerm_windows_web_app"], by_type["azurerm_linux_web_app"]
    assert linux_apps.to_resource(_through_the_sdk(windows.arm_json()), subscription=SUB) is None
    converted = linux_apps.to_resource(_through_the_sdk(linux.arm_json()), subscription=SUB)
    assert converted is not None and converted.terraform_type == "azurerm_linux_web_app"
    assert linux_apps.unsupported() == {}


def _planned(adapter: AzureAdapter) -> list[Any]:
    adapter.subscriptions = [SUB]
    return adapter.plan()


def test_secret_looking_attributes_are_redacted(adapter: AzureAdapter) -> None:
    arm_json = {"id": f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Web/sites/app",
                "name": "app", "type": "Microsoft.Web/sites", "kind": "app", "location": "westeurope",
                "properties": {"siteConfig": {"connectionString": "Server=x;Password=hunter2"},
                               "adminPassword": "hunter2"}}
    resource = adapter.to_resource(_through_the_sdk(arm_json), subscription=SUB)
    assert resource is not None
    assert "hunter2" not in repr(resource.attributes)
    assert resource.attributes["properties"]["adminPassword"] == "(sensitive value)"
