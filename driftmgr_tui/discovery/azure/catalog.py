"""The Azure catalog: ARM resource types and the azurerm Terraform types that manage them.

Azure is listed through two generic calls per subscription (``resources.list`` and ``resource_groups.list``),
so an entry needs no per-type API call; it says:

- ``cloud_type``: the ARM type *spelled as the azurerm provider spells it in ids* (``Microsoft.Network/dnsZones``,
  ``Microsoft.Cache/redis``, ``Microsoft.Insights/components``). ARM itself answers in varying casing
  (``Microsoft.Network/dnszones``, ``microsoft.insights/components``); lookups ignore case and the adapter
  rewrites ids into this spelling (``azure/ids.py``).
- ``id``: the Terraform id. For every azurerm resource it is the ARM id, canonicalised (``{@arm_id}``).
- ``select``: a discriminator when several Terraform types share one ARM type (``Microsoft.Web/sites`` by
  ``kind``, ``Microsoft.Cdn/profiles`` by SKU). Entries of one ARM type are tried in order; the first whose
  ``select`` accepts the object wins, so a catch-all (``select=None``) comes last.
- ``default``: why Azure made the object by itself (the per-region Network Watcher, the ``master`` database, a
  resource group managed by AKS or Databricks), so drift can leave it out of "unmanaged".
- ``equivalents``: other Terraform types managing the same object under the same id. ARM's generic listing
  does not say whether a VM runs Linux or Windows, so a state instance of either matches.

Ids are what azurerm (v3/v4) stores in state, checked against the provider's import documentation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from driftmgr_tui.discovery.registry import IdRule, TypeMapping

Item = Mapping[str, Any]

RESOURCES = "resources"
RESOURCE_GROUPS = "resource_groups"


@dataclass(frozen=True, kw_only=True)
class AzureType(TypeMapping):
    provider: str = "azure"
    id: IdRule = "{@arm_id}"
    listing: str = RESOURCES  # which generic listing returns this type
    select: Callable[[Item], bool] | None = None
    name: IdRule | None = "{@name}"
    default: Callable[[Item], str | None] | None = None


# --- discriminators -------------------------------------------------------------------------------------------

def _kind_tokens(item: Item) -> frozenset[str]:
    return frozenset(t.strip() for t in str(item.get("kind") or "").lower().split(",") if t.strip())


def _site_is(*, function: bool, linux: bool, workflow: bool = False) -> Callable[[Item], bool]:
    """``Microsoft.Web/sites`` kinds: ``app``, ``app,linux``, ``app,linux,container``, ``functionapp``,
    ``functionapp,linux``, ``functionapp,workflowapp`` (Logic App Standard), ``app,container,windows``..."""

    def select(item: Item) -> bool:
        tokens = _kind_tokens(item)
        if workflow:
            return "workflowapp" in tokens
        if "workflowapp" in tokens:
            return False
        return ("functionapp" in tokens) == function and ("linux" in tokens) == linux

    return select


def _sku_name(item: Item) -> str:
    sku = item.get("sku") or {}
    return str(sku.get("name") or "") if isinstance(sku, Mapping) else ""


def _is_front_door_profile(item: Item) -> bool:
    return _sku_name(item).lower() in ("standard_azurefrontdoor", "premium_azurefrontdoor")


# --- things Azure makes by itself ----------------------------------------------------------------------------

def _managed_resource_group(item: Item) -> str | None:
    if item.get("managedBy"):
        return f"resource group managed by {item['managedBy']}"
    name = str(item.get("name") or "")
    if name == "NetworkWatcherRG":
        return "resource group Azure creates for Network Watchers"
    if name.startswith("DefaultResourceGroup-"):
        return "default resource group Azure Monitor creates"
    return None


def _network_watcher(item: Item) -> str | None:
    if str(item.get("name") or "").startswith("NetworkWatcher_"):
        return "Network Watcher Azure creates per region"
    return None


def _system_database(item: Item) -> str | None:
    if str(item.get("name") or "").rsplit("/", 1)[-1].lower() == "master":
        return "system database of the SQL server"
    return None


def _os_disk(item: Item) -> str | None:
    # An OS disk is created by, and managed through, its virtual machine; its default name carries
    # "_OsDisk_". Data disks are also attached (managedBy set) but are their own Terraform resources.
    if item.get("managedBy") and "_osdisk_" in str(item.get("name") or "").lower():
        return "OS disk created with its virtual machine"
    return None


AZURE_TYPES: tuple[AzureType, ...] = (
    # --- resource groups (resource_groups.list) -----------------------------------------------------------------
    AzureType(cloud_type="Microsoft.Resources/resourceGroups", terraform_type="azurerm_resource_group",
              listing=RESOURCE_GROUPS, default=_managed_resource_group),
    # --- compute ------------------------------------------------------------------------------------------------
    AzureType(cloud_type="Microsoft.Compute/virtualMachines", terraform_type="azurerm_linux_virtual_machine",
              equivalents=("azurerm_windows_virtual_machine", "azurerm_virtual_machine"),
              note="ARM's listing does not give the OS: Linux and Windows VMs match either type"),
    AzureType(cloud_type="Microsoft.Compute/virtualMachineScaleSets",
              terraform_type="azurerm_linux_virtual_machine_scale_set",
              equivalents=("azurerm_windows_virtual_machine_scale_set",
                           "azurerm_orchestrated_virtual_machine_scale_set", "azurerm_virtual_machine_scale_set")),
    AzureType(cloud_type="Microsoft.Compute/virtualMachines/extensions",
              terraform_type="azurerm_virtual_machine_extension"),
    AzureType(cloud_type="Microsoft.Compute/disks", terraform_type="azurerm_managed_disk", default=_os_disk),
    AzureType(cloud_type="Microsoft.Compute/availabilitySets", terraform_type="azurerm_availability_set"),
    AzureType(cloud_type="Microsoft.Compute/images", terraform_type="azurerm_image"),
    AzureType(cloud_type="Microsoft.Compute/snapshots", terraform_type="azurerm_snapshot"),
    AzureType(cloud_type="Microsoft.Compute/sshPublicKeys", terraform_type="azurerm_ssh_public_key"),
    AzureType(cloud_type="Microsoft.Compute/galleries", terraform_type="azurerm_shared_image_gallery"),
    AzureType(cloud_type="Microsoft.Compute/diskEncryptionSets", terraform_type="azurerm_disk_encryption_set"),
    AzureType(cloud_type="Microsoft.Compute/proximityPlacementGroups",
              terraform_type="azurerm_proximity_placement_group"),
    # --- networking ---------------------------------------------------------------------------------------------
    AzureType(cloud_type="Microsoft.Network/virtualNetworks", terraform_type="azurerm_virtual_network"),
    AzureType(cloud_type="Microsoft.Network/networkSecurityGroups",
              terraform_type="azurerm_network_security_group"),
    AzureType(cloud_type="Microsoft.Network/networkInterfaces", terraform_type="azurerm_network_interface"),
    AzureType(cloud_type="Microsoft.Network/publicIPAddresses", terraform_type="azurerm_public_ip"),
    AzureType(cloud_type="Microsoft.Network/publicIPPrefixes", terraform_type="azurerm_public_ip_prefix"),
    AzureType(cloud_type="Microsoft.Network/loadBalancers", terraform_type="azurerm_lb"),
    AzureType(cloud_type="Microsoft.Network/routeTables", terraform_type="azurerm_route_table"),
    AzureType(cloud_type="Microsoft.Network/natGateways", terraform_type="azurerm_nat_gateway"),
    AzureType(cloud_type="Microsoft.Network/applicationGateways", terraform_type="azurerm_application_gateway"),
    AzureType(cloud_type="Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies",
              terraform_type="azurerm_web_application_firewall_policy",
              note="ARM answers ApplicationGateway...; azurerm ids say applicationGateway..."),
    AzureType(cloud_type="Microsoft.Network/applicationSecurityGroups",
              terraform_type="azurerm_application_security_group"),
    AzureType(cloud_type="Microsoft.Network/privateEndpoints", terraform_type="azurerm_private_endpoint"),
    AzureType(cloud_type="Microsoft.Network/privateLinkServices", terraform_type="azurerm_private_link_service"),
    AzureType(cloud_type="Microsoft.Network/dnsZones", terraform_type="azurerm_dns_zone"),
    AzureType(cloud_type="Microsoft.Network/privateDnsZones", terraform_type="azurerm_private_dns_zone"),
    AzureType(cloud_type="Microsoft.Network/privateDnsZones/virtualNetworkLinks",
              terraform_type="azurerm_private_dns_zone_virtual_network_link"),
    AzureType(cloud_type="Microsoft.Network/virtualNetworkGateways",
              terraform_type="azurerm_virtual_network_gateway"),
    AzureType(cloud_type="Microsoft.Network/localNetworkGateways", terraform_type="azurerm_local_network_gateway"),
    AzureType(cloud_type="Microsoft.Network/connections",
              terraform_type="azurerm_virtual_network_gateway_connection"),
    AzureType(cloud_type="Microsoft.Network/networkWatchers", terraform_type="azurerm_network_watcher",
              default=_network_watcher),
    AzureType(cloud_type="Microsoft.Network/bastionHosts", terraform_type="azurerm_bastion_host"),
    AzureType(cloud_type="Microsoft.Network/azureFirewalls", terraform_type="azurerm_firewall"),
    AzureType(cloud_type="Microsoft.Network/firewallPolicies", terraform_type="azurerm_firewall_policy"),
    AzureType(cloud_type="Microsoft.Network/ddosProtectionPlans",
              terraform_type="azurerm_network_ddos_protection_plan"),
    AzureType(cloud_type="Microsoft.Network/trafficManagerProfiles",
              terraform_type="azurerm_traffic_manager_profile"),
    AzureType(cloud_type="Microsoft.Network/ipGroups", terraform_type="azurerm_ip_group"),
    AzureType(cloud_type="Microsoft.Network/virtualWans", terraform_type="azurerm_virtual_wan"),
    AzureType(cloud_type="Microsoft.Network/virtualHubs", terraform_type="azurerm_virtual_hub"),
    AzureType(cloud_type="Microsoft.Cdn/profiles", terraform_type="azurerm_cdn_frontdoor_profile",
              select=_is_front_door_profile),
    AzureType(cloud_type="Microsoft.Cdn/profiles", terraform_type="azurerm_cdn_profile"),
    # --- storage, identity, secrets -----------------------------------------------------------------------------
    AzureType(cloud_type="Microsoft.Storage/storageAccounts", terraform_type="azurerm_storage_account"),
    AzureType(cloud_type="Microsoft.KeyVault/vaults", terraform_type="azurerm_key_vault"),
    AzureType(cloud_type="Microsoft.KeyVault/managedHSMs",
              terraform_type="azurerm_key_vault_managed_hardware_security_module"),
    AzureType(cloud_type="Microsoft.ManagedIdentity/userAssignedIdentities",
              terraform_type="azurerm_user_assigned_identity"),
    AzureType(cloud_type="Microsoft.NetApp/netAppAccounts", terraform_type="azurerm_netapp_account"),
    AzureType(cloud_type="Microsoft.RecoveryServices/vaults", terraform_type="azurerm_recovery_services_vault"),
    # --- App Service --------------------------------------------------------------------------------------------
    AzureType(cloud_type="Microsoft.Web/serverFarms", terraform_type="azurerm_service_plan",
              equivalents=("azurerm_app_service_plan",)),
    AzureType(cloud_type="Microsoft.Web/sites", terraform_type="azurerm_logic_app_standard",
              select=_site_is(function=True, linux=False, workflow=True)),
    AzureType(cloud_type="Microsoft.Web/sites", terraform_type="azurerm_linux_function_app",
              select=_site_is(function=True, linux=True), equivalents=("azurerm_function_app",)),
    AzureType(cloud_type="Microsoft.Web/sites", terraform_type="azurerm_windows_function_app",
              select=_site_is(function=True, linux=False), equivalents=("azurerm_function_app",)),
    AzureType(cloud_type="Microsoft.Web/sites", terraform_type="azurerm_linux_web_app",
              select=_site_is(function=False, linux=True), equivalents=("azurerm_app_service",)),
    AzureType(cloud_type="Microsoft.Web/sites", terraform_type="azurerm_windows_web_app",
              select=_site_is(function=False, linux=False), equivalents=("azurerm_app_service",)),
    AzureType(cloud_type="Microsoft.Web/sites/slots", terraform_type="azurerm_linux_function_app_slot",
              select=_site_is(function=True, linux=True), equivalents=("azurerm_function_app_slot",)),
    AzureType(cloud_type="Microsoft.Web/sites/slots", terraform_type="azurerm_windows_function_app_slot",
              select=_site_is(function=True, linux=False), equivalents=("azurerm_function_app_slot",)),
    AzureType(cloud_type="Microsoft.Web/sites/slots", terraform_type="azurerm_linux_web_app_slot",
              select=_site_is(function=False, linux=True), equivalents=("azurerm_app_service_slot",)),
    AzureType(cloud_type="Microsoft.Web/sites/slots", terraform_type="azurerm_windows_web_app_slot",
              select=_site_is(function=False, linux=False), equivalents=("azurerm_app_service_slot",)),
    AzureType(cloud_type="Microsoft.Web/staticSites", terraform_type="azurerm_static_web_app",
              equivalents=("azurerm_static_site",)),
    # --- containers ---------------------------------------------------------------------------------------------
    AzureType(cloud_type="Microsoft.ContainerService/managedClusters", terraform_type="azurerm_kubernetes_cluster"),
    AzureType(cloud_type="Microsoft.ContainerRegistry/registries", terraform_type="azurerm_container_registry"),
    AzureType(cloud_type="Microsoft.ContainerInstance/containerGroups", terraform_type="azurerm_container_group"),
    AzureType(cloud_type="Microsoft.App/managedEnvironments", terraform_type="azurerm_container_app_environment"),
    AzureType(cloud_type="Microsoft.App/containerApps", terraform_type="azurerm_container_app"),
    # --- databases, caches, messaging ---------------------------------------------------------------------------
    AzureType(cloud_type="Microsoft.Sql/servers", terraform_type="azurerm_mssql_server",
              equivalents=("azurerm_sql_server",)),
    AzureType(cloud_type="Microsoft.Sql/servers/databases", terraform_type="azurerm_mssql_database",
              equivalents=("azurerm_sql_database",), default=_system_database),
    AzureType(cloud_type="Microsoft.DBforPostgreSQL/flexibleServers",
              terraform_type="azurerm_postgresql_flexible_server"),
    AzureType(cloud_type="Microsoft.DBforMySQL/flexibleServers", terraform_type="azurerm_mysql_flexible_server"),
    AzureType(cloud_type="Microsoft.DocumentDB/databaseAccounts", terraform_type="azurerm_cosmosdb_account"),
    AzureType(cloud_type="Microsoft.Cache/redis", terraform_type="azurerm_redis_cache",
              note="ARM answers Microsoft.Cache/Redis; azurerm ids say redis"),
    AzureType(cloud_type="Microsoft.ServiceBus/namespaces", terraform_type="azurerm_servicebus_namespace"),
    AzureType(cloud_type="Microsoft.EventHub/namespaces", terraform_type="azurerm_eventhub_namespace"),
    AzureType(cloud_type="Microsoft.EventGrid/topics", terraform_type="azurerm_eventgrid_topic"),
    AzureType(cloud_type="Microsoft.EventGrid/systemTopics", terraform_type="azurerm_eventgrid_system_topic"),
    AzureType(cloud_type="Microsoft.SignalRService/signalR", terraform_type="azurerm_signalr_service"),
    AzureType(cloud_type="Microsoft.AppConfiguration/configurationStores",
              terraform_type="azurerm_app_configuration"),
    # --- monitoring ---------------------------------------------------------------------------------------------
    AzureType(cloud_type="Microsoft.OperationalInsights/workspaces",
              terraform_type="azurerm_log_analytics_workspace"),
    AzureType(cloud_type="Microsoft.OperationsManagement/solutions",
              terraform_type="azurerm_log_analytics_solution"),
    AzureType(cloud_type="Microsoft.Insights/components", terraform_type="azurerm_application_insights"),
    AzureType(cloud_type="Microsoft.Insights/actionGroups", terraform_type="azurerm_monitor_action_group"),
    AzureType(cloud_type="Microsoft.Insights/metricAlerts", terraform_type="azurerm_monitor_metric_alert"),
    AzureType(cloud_type="Microsoft.Insights/scheduledQueryRules",
              terraform_type="azurerm_monitor_scheduled_query_rules_alert_v2",
              equivalents=("azurerm_monitor_scheduled_query_rules_alert", "azurerm_monitor_scheduled_query_rules_log")),
    AzureType(cloud_type="Microsoft.Insights/dataCollectionRules",
              terraform_type="azurerm_monitor_data_collection_rule"),
    AzureType(cloud_type="Microsoft.Portal/dashboards", terraform_type="azurerm_portal_dashboard",
              equivalents=("azurerm_dashboard",)),
    # --- integration, analytics, ML -----------------------------------------------------------------------------
    AzureType(cloud_type="Microsoft.Logic/workflows", terraform_type="azurerm_logic_app_workflow"),
    AzureType(cloud_type="Microsoft.ApiManagement/service", terraform_type="azurerm_api_management"),
    AzureType(cloud_type="Microsoft.Automation/automationAccounts", terraform_type="azurerm_automation_account"),
    AzureType(cloud_type="Microsoft.DataFactory/factories", terraform_type="azurerm_data_factory"),
    AzureType(cloud_type="Microsoft.Databricks/workspaces", terraform_type="azurerm_databricks_workspace"),
    AzureType(cloud_type="Microsoft.Synapse/workspaces", terraform_type="azurerm_synapse_workspace"),
    AzureType(cloud_type="Microsoft.Kusto/clusters", terraform_type="azurerm_kusto_cluster"),
    AzureType(cloud_type="Microsoft.Search/searchServices", terraform_type="azurerm_search_service"),
    AzureType(cloud_type="Microsoft.CognitiveServices/accounts", terraform_type="azurerm_cognitive_account"),
    AzureType(cloud_type="Microsoft.MachineLearningServices/workspaces",
              terraform_type="azurerm_machine_learning_workspace"),
    AzureType(cloud_type="Microsoft.Batch/batchAccounts", terraform_type="azurerm_batch_account"),
)
