"""The AWS catalog: each entry says how to list one resource type with boto3 and what Terraform calls it.

An entry is data read by ``aws/adapter.py``:

- ``service``/``operation``/``params``: the boto3 call (paginated when boto3 has a paginator for it);
- ``items``: where the objects are in each page (``"Vpcs"``, ``"Reservations.*.Instances"``: ``*`` flattens a
  list); ``item_key`` wraps answers that are plain strings (SQS queue URLs) as ``{item_key: value}``;
- ``detail``: extra calls per object whose answers are merged in, in order (``describe_key`` for a KMS key's
  manager; a tags call where neither the listing nor the tagging API has them). A parameter is a rule over the
  object's fields; :func:`_as_list` makes a one-element list parameter (``ResourceIdList=[arn]``);
- ``id``, ``name``, ``arn``: rules over the object's fields (see ``registry.render``), plus ``@region`` and
  ``@account``; ``tags``: the field holding tags (a dotted path), None to take them from the Resource Groups
  Tagging API index by ARN, or :data:`NO_TAGS` for types that cannot be tagged;
- ``default``: why AWS made this object by itself (default VPC, main route table, service-linked role), so
  drift can leave it out as driftctl does; ``include``: objects to keep (terminated instances are not).

Ids are what the AWS provider (v5) stores in state as ``id``: checked against state the provider (5.100)
wrote when it created the resources, or against its import documentation where it could not run here. Where an
``id`` differs from the obvious (the DBI resource id of a DB instance, the ARN of a trail or a stack, the family
of a task definition) the entry's ``note`` says so. Every entry has a test against moto
(``tests/discovery/aws``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from driftmgr_tui.discovery.registry import IdRule, TypeMapping, lookup, render

Item = Mapping[str, Any]
NO_TAGS = ""  # ``tags`` of a type AWS cannot tag: no field, and no tagging API lookup


@dataclass(frozen=True, kw_only=True)
class Detail:
    """One extra call per object: ``operation(**params)`` (params are rules over the object's fields, or
    functions of them for non-string parameters); ``result`` picks part of the answer (dotted path, "" for
    all); the value is merged into the object, or stored under ``into`` when given. Details run in order, so
    one may use what an earlier one added."""

    operation: str
    params: Mapping[str, IdRule | Callable[[Item], Any]]
    result: str = ""
    into: str | None = None
    ignore_errors: tuple[str, ...] = ()  # error codes meaning "nothing to add" (NoSuchTagSet)


@dataclass(frozen=True, kw_only=True)
class AwsType(TypeMapping):
    provider: str = "aws"
    service: str
    operation: str
    items: str
    params: Mapping[str, Any] = field(default_factory=dict)
    item_key: str | None = None
    detail: tuple[Detail, ...] = ()
    name: IdRule | None = None
    arn: IdRule | None = None
    tags: str | None = "Tags"
    global_service: bool = False
    region_param: str | None = None  # a listing parameter that takes the task's region
    default: Callable[[Item], str | None] | None = None
    include: Callable[[Item], bool] | None = None


def _is_main_route_table(item: Item) -> str | None:
    if any(assoc.get("Main") for assoc in item.get("Associations") or ()):
        return "main route table AWS creates with every VPC"
    return None


def _as_list(rule: str) -> Callable[[Item], list[str]]:
    """A detail parameter that is a one-element list (``ResourceIdList=[arn]``). ``registry.render`` passes a
    callable rule's answer through, so the call receives the list."""
    return lambda fields: [render(rule, fields, what=f"detail parameter {rule}")]


def _state_not(*states: str, key: str = "State") -> Callable[[Item], bool]:
    """Keep objects whose ``key`` (a dotted path) is not one of ``states``, compared case-insensitively
    (deleted objects linger in listings for a while)."""
    gone = frozenset(s.lower() for s in states)
    return lambda item: str(lookup(item, key) or "").lower() not in gone


# "it is gone": an object deleted between the listing and its detail call adds nothing (instead of failing
# the whole task); entries whose id needs the detail leave such objects out with ``include``
_NOT_FOUND = (
    "ResourceNotFoundException", "NotFoundException", "NoSuchEntity", "RepositoryNotFoundException",
    "DBSubnetGroupNotFoundFault", "DBParameterGroupNotFound", "DBClusterParameterGroupNotFound",
    "NoSuchHostedZone", "NoSuchHealthCheck", "NoSuchResource", "TrailNotFoundException",
)


def _detail(operation: str, result: str = "", into: str | None = None, **params: Any) -> Detail:
    return Detail(operation=operation, params=params, result=result, into=into, ignore_errors=_NOT_FOUND)


def _tags_detail(operation: str, result: str, into: str = "Tags", **params: Any) -> Detail:
    """A per-object tags call for types whose listing has no tags and that the tagging API index does not
    cover reliably (global services, IAM, or services it leaves out)."""
    return _detail(operation, result, into, **params)


def _has(key: str) -> Callable[[Item], bool]:
    """Keep objects whose detail call answered (``key`` is where it put the answer)."""
    return lambda item: item.get(key) is not None


# --- id, name and flag rules that a template cannot say -------------------------------------------------


def _default_dhcp_options(item: Item) -> str | None:
    """AWS makes one DHCP option set per region (``ec2.internal`` in us-east-1, ``<region>.compute.internal``
    elsewhere, AmazonProvidedDNS) for the default VPC. An untagged set of exactly that shape is taken as it."""
    config = {c.get("Key"): sorted(v.get("Value") for v in c.get("Values") or ())
              for c in item.get("DhcpConfigurations") or ()}
    names = config.get("domain-name") or []
    if (set(config) == {"domain-name", "domain-name-servers"} and len(names) == 1
            and (names[0] == "ec2.internal" or names[0].endswith(".compute.internal"))
            and config.get("domain-name-servers") == ["AmazonProvidedDNS"] and not item.get("Tags")):
        return "default DHCP options AWS creates in every region"
    return None


def _eni_owned_elsewhere(item: Item) -> str | None:
    """Network interfaces that are part of something else: an instance's primary interface (part of the
    ``aws_instance``, unless someone attached their own ``aws_network_interface`` at index 0, which still
    matches by id) and interfaces a service manages (load balancers, NAT gateways, endpoints, Lambda)."""
    if item.get("RequesterManaged"):
        return "interface a service manages for you (requester-managed)"
    if item.get("InterfaceType") not in (None, "", "interface"):
        return f"{item['InterfaceType']} interface AWS manages"
    attachment = item.get("Attachment") or {}
    if attachment.get("DeviceIndex") == 0 and attachment.get("InstanceId"):
        return f"primary interface of {attachment['InstanceId']} (part of the aws_instance)"
    return None


_ROOT_DEVICES = frozenset({"/dev/sda1", "/dev/xvda", "/dev/sda", "/dev/nvme0n1"})


def _volume_of_instance(item: Item) -> str | None:
    """A volume launched with an instance (its root, or a block device deleted with it) is managed through
    ``aws_instance``'s ``root_block_device``/``ebs_block_device``, not as an ``aws_ebs_volume``."""
    for attachment in item.get("Attachments") or ():
        if attachment.get("DeleteOnTermination") or attachment.get("Device") in _ROOT_DEVICES:
            return f"block device of instance {attachment.get('InstanceId')} (managed by aws_instance)"
    return None


def _event_rule_id(item: Item) -> str:
    bus = item.get("EventBusName") or "default"
    name = str(item["Name"])
    return name if bus == "default" else f"{bus}/{name}"


def _ssm_parameter_arn(fields: Item) -> str:
    name = str(fields["Name"]).lstrip("/")
    return f"arn:aws:ssm:{fields['@region']}:{fields['@account']}:parameter/{name}"


def _arn_resource_name(fields: Item, key: str = "Arn") -> str:
    """The part of an ARN after the resource type (``...:saml-provider/NAME`` -> ``NAME``)."""
    return str(fields[key]).split(":", 5)[-1].split("/", 1)[-1]


def _event_source_mapping_name(fields: Item) -> str:
    """``SOURCE -> FUNCTION``: the source ARN's resource part (``orders``, ``stream/clicks``) and the function's
    name (with its qualifier, if any)."""
    source = str(fields.get("EventSourceArn") or "?").split(":", 5)[-1]
    function = str(fields["FunctionArn"]).split(":", 6)[-1]
    return f"{source} -> {function}"


def _topic_name(fields: Item) -> str:
    return str(fields["TopicArn"]).rsplit(":", 1)[-1]


def _is_service_linked_role(item: Item) -> str | None:
    if str(item.get("Path", "")).startswith("/aws-service-role/"):
        return "service-linked role"
    return None


def _default_parameter_group(key: str) -> Callable[[Item], str | None]:
    return lambda i: "default parameter group AWS provides" if str(i.get(key, "")).startswith("default.") else None


def _named_default(key: str, names: tuple[str, ...], reason: str) -> Callable[[Item], str | None]:
    return lambda i: reason if i.get(key) in names else None


_GONE_EC2 = ("deleted", "deleting")
_ACM_KEY_TYPES = ("RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1")


AWS_TYPES: tuple[AwsType, ...] = (
    # --- VPC networking -------------------------------------------------------------------------------------
    AwsType(
        cloud_type="AWS::EC2::VPC", terraform_type="aws_vpc", service="ec2", operation="describe_vpcs",
        items="Vpcs", id="{VpcId}", name="{tag:Name}",
        arn="arn:aws:ec2:{@region}:{OwnerId}:vpc/{VpcId}",
        default=lambda i: "default VPC" if i.get("IsDefault") else None,
        equivalents=("aws_default_vpc",),
    ),
    AwsType(
        cloud_type="AWS::EC2::Subnet", terraform_type="aws_subnet", service="ec2", operation="describe_subnets",
        items="Subnets", id="{SubnetId}", name="{tag:Name}", arn="{SubnetArn}",
        default=lambda i: "default subnet of the default VPC" if i.get("DefaultForAz") else None,
        equivalents=("aws_default_subnet",),
    ),
    AwsType(
        cloud_type="AWS::EC2::SecurityGroup", terraform_type="aws_security_group", service="ec2",
        operation="describe_security_groups", items="SecurityGroups", id="{GroupId}", name="{GroupName}",
        arn="arn:aws:ec2:{@region}:{OwnerId}:security-group/{GroupId}",
        default=lambda i: "default security group AWS creates with every VPC" if i.get("GroupName") == "default" else None,
        equivalents=("aws_default_security_group",),
    ),
    AwsType(
        cloud_type="AWS::EC2::InternetGateway", terraform_type="aws_internet_gateway", service="ec2",
        operation="describe_internet_gateways", items="InternetGateways", id="{InternetGatewayId}",
        name="{tag:Name}", arn="arn:aws:ec2:{@region}:{OwnerId}:internet-gateway/{InternetGatewayId}",
    ),
    AwsType(
        cloud_type="AWS::EC2::RouteTable", terraform_type="aws_route_table", service="ec2",
        operation="describe_route_tables", items="RouteTables", id="{RouteTableId}", name="{tag:Name}",
        arn="arn:aws:ec2:{@region}:{OwnerId}:route-table/{RouteTableId}",
        default=_is_main_route_table, equivalents=("aws_default_route_table",),
    ),
    AwsType(
        cloud_type="AWS::EC2::NetworkAcl", terraform_type="aws_network_acl", service="ec2",
        operation="describe_network_acls", items="NetworkAcls", id="{NetworkAclId}", name="{tag:Name}",
        arn="arn:aws:ec2:{@region}:{OwnerId}:network-acl/{NetworkAclId}",
        default=lambda i: "default network ACL AWS creates with every VPC" if i.get("IsDefault") else None,
        equivalents=("aws_default_network_acl",),
    ),
    AwsType(
        cloud_type="AWS::EC2::EIP", terraform_type="aws_eip", service="ec2", operation="describe_addresses",
        items="Addresses", id="{AllocationId}", name="{tag:Name}",
        arn="arn:aws:ec2:{@region}:{@account}:elastic-ip/{AllocationId}",
    ),
    AwsType(
        cloud_type="AWS::EC2::NatGateway", terraform_type="aws_nat_gateway", service="ec2",
        operation="describe_nat_gateways", items="NatGateways", id="{NatGatewayId}", name="{tag:Name}",
        arn="arn:aws:ec2:{@region}:{@account}:natgateway/{NatGatewayId}",
        include=_state_not("deleted", "deleting", "failed"),
    ),
    AwsType(
        cloud_type="AWS::EC2::VPCEndpoint", terraform_type="aws_vpc_endpoint", service="ec2",
        operation="describe_vpc_endpoints", items="VpcEndpoints", id="{VpcEndpointId}", name="{tag:Name}",
        arn="arn:aws:ec2:{@region}:{OwnerId}:vpc-endpoint/{VpcEndpointId}",
        include=_state_not("deleted", "deleting", "rejected", "failed", "expired"),
    ),
    AwsType(
        cloud_type="AWS::EC2::VPCPeeringConnection", terraform_type="aws_vpc_peering_connection", service="ec2",
        operation="describe_vpc_peering_connections", items="VpcPeeringConnections",
        id="{VpcPeeringConnectionId}", name="{tag:Name}",
        arn="arn:aws:ec2:{@region}:{@account}:vpc-peering-connection/{VpcPeeringConnectionId}",
        include=_state_not("deleted", "deleting", "rejected", "failed", "expired", key="Status.Code"),
        equivalents=("aws_vpc_peering_connection_accepter",),
        note="the accepting account sees the same connection (aws_vpc_peering_connection_accepter)",
    ),
    AwsType(
        cloud_type="AWS::EC2::NetworkInterface", terraform_type="aws_network_interface", service="ec2",
        operation="describe_network_interfaces", items="NetworkInterfaces", id="{NetworkInterfaceId}",
        name="{tag:Name}", tags="TagSet",
        arn="arn:aws:ec2:{@region}:{OwnerId}:network-interface/{NetworkInterfaceId}",
        default=_eni_owned_elsewhere,
    ),
    AwsType(
        cloud_type="AWS::EC2::DHCPOptions", terraform_type="aws_vpc_dhcp_options", service="ec2",
        operation="describe_dhcp_options", items="DhcpOptions", id="{DhcpOptionsId}", name="{tag:Name}",
        arn="arn:aws:ec2:{@region}:{OwnerId}:dhcp-options/{DhcpOptionsId}",
        default=_default_dhcp_options, equivalents=("aws_default_vpc_dhcp_options",),
    ),
    AwsType(
        cloud_type="AWS::EC2::EgressOnlyInternetGateway", terraform_type="aws_egress_only_internet_gateway",
        service="ec2", operation="describe_egress_only_internet_gateways", items="EgressOnlyInternetGateways",
        id="{EgressOnlyInternetGatewayId}", name="{tag:Name}",
        arn="arn:aws:ec2:{@region}:{@account}:egress-only-internet-gateway/{EgressOnlyInternetGatewayId}",
    ),
    AwsType(
        cloud_type="AWS::EC2::CustomerGateway", terraform_type="aws_customer_gateway", service="ec2",
        operation="describe_customer_gateways", items="CustomerGateways", id="{CustomerGatewayId}",
        name="{tag:Name}", arn="arn:aws:ec2:{@region}:{@account}:customer-gateway/{CustomerGatewayId}",
        include=_state_not(*_GONE_EC2),
    ),
    AwsType(
        cloud_type="AWS::EC2::VPNGateway", terraform_type="aws_vpn_gateway", service="ec2",
        operation="describe_vpn_gateways", items="VpnGateways", id="{VpnGatewayId}", name="{tag:Name}",
        arn="arn:aws:ec2:{@region}:{@account}:vpn-gateway/{VpnGatewayId}", include=_state_not(*_GONE_EC2),
    ),
    AwsType(
        cloud_type="AWS::EC2::VPNConnection", terraform_type="aws_vpn_connection", service="ec2",
        operation="describe_vpn_connections", items="VpnConnections", id="{VpnConnectionId}", name="{tag:Name}",
        arn="arn:aws:ec2:{@region}:{@account}:vpn-connection/{VpnConnectionId}", include=_state_not(*_GONE_EC2),
    ),
    AwsType(
        cloud_type="AWS::EC2::TransitGateway", terraform_type="aws_ec2_transit_gateway", service="ec2",
        operation="describe_transit_gateways", items="TransitGateways", id="{TransitGatewayId}",
        name="{tag:Name}", arn="{TransitGatewayArn}", include=_state_not(*_GONE_EC2),
    ),
    AwsType(
        cloud_type="AWS::EC2::TransitGatewayVpcAttachment",
        terraform_type="aws_ec2_transit_gateway_vpc_attachment", service="ec2",
        operation="describe_transit_gateway_vpc_attachments", items="TransitGatewayVpcAttachments",
        id="{TransitGatewayAttachmentId}", name="{tag:Name}",
        arn="arn:aws:ec2:{@region}:{@account}:transit-gateway-attachment/{TransitGatewayAttachmentId}",
        include=_state_not("deleted", "deleting", "failed", "rejected"),
        equivalents=("aws_ec2_transit_gateway_vpc_attachment_accepter",),
    ),
    AwsType(
        cloud_type="AWS::EC2::TransitGatewayRouteTable", terraform_type="aws_ec2_transit_gateway_route_table",
        service="ec2", operation="describe_transit_gateway_route_tables", items="TransitGatewayRouteTables",
        id="{TransitGatewayRouteTableId}", name="{tag:Name}",
        arn="arn:aws:ec2:{@region}:{@account}:transit-gateway-route-table/{TransitGatewayRouteTableId}",
        include=_state_not(*_GONE_EC2),
        default=lambda i: ("default route table AWS creates with a transit gateway"
                           if i.get("DefaultAssociationRouteTable") else None),
    ),
    AwsType(
        cloud_type="AWS::EC2::FlowLog", terraform_type="aws_flow_log", service="ec2",
        operation="describe_flow_logs", items="FlowLogs", id="{FlowLogId}", name="{tag:Name}",
        arn="arn:aws:ec2:{@region}:{@account}:vpc-flow-log/{FlowLogId}",
    ),
    AwsType(
        cloud_type="AWS::EC2::PrefixList", terraform_type="aws_ec2_managed_prefix_list", service="ec2",
        operation="describe_managed_prefix_lists", items="PrefixLists", id="{PrefixListId}",
        name="{PrefixListName}", arn="{PrefixListArn}",
        include=lambda i: i.get("OwnerId") != "AWS",  # AWS-managed lists (com.amazonaws.*) are read-only
    ),
    # --- EC2 compute ----------------------------------------------------------------------------------------
    AwsType(
        cloud_type="AWS::EC2::Instance", terraform_type="aws_instance", service="ec2",
        operation="describe_instances", items="Reservations.*.Instances", id="{InstanceId}", name="{tag:Name}",
        arn="arn:aws:ec2:{@region}:{@account}:instance/{InstanceId}",
        include=lambda i: (i.get("State") or {}).get("Name") not in ("terminated", "shutting-down"),
    ),
    AwsType(
        cloud_type="AWS::EC2::Volume", terraform_type="aws_ebs_volume", service="ec2",
        operation="describe_volumes", items="Volumes", id="{VolumeId}", name="{tag:Name}",
        arn="arn:aws:ec2:{@region}:{@account}:volume/{VolumeId}", default=_volume_of_instance,
    ),
    AwsType(
        cloud_type="AWS::EC2::Image", terraform_type="aws_ami", service="ec2", operation="describe_images",
        params={"Owners": ["self"]}, items="Images", id="{ImageId}", name="{Name}",
        arn="arn:aws:ec2:{@region}::image/{ImageId}", include=_state_not("deregistered", "failed"),
        equivalents=("aws_ami_copy", "aws_ami_from_instance"),
    ),
    AwsType(
        cloud_type="AWS::EC2::KeyPair", terraform_type="aws_key_pair", service="ec2",
        operation="describe_key_pairs", items="KeyPairs", id="{KeyName}", name="{KeyName}",
        arn="arn:aws:ec2:{@region}:{@account}:key-pair/{KeyName}",
    ),
    AwsType(
        cloud_type="AWS::EC2::LaunchTemplate", terraform_type="aws_launch_template", service="ec2",
        operation="describe_launch_templates", items="LaunchTemplates", id="{LaunchTemplateId}",
        name="{LaunchTemplateName}", arn="arn:aws:ec2:{@region}:{@account}:launch-template/{LaunchTemplateId}",
    ),
    AwsType(
        cloud_type="AWS::AutoScaling::AutoScalingGroup", terraform_type="aws_autoscaling_group",
        service="autoscaling", operation="describe_auto_scaling_groups", items="AutoScalingGroups",
        id="{AutoScalingGroupName}", name="{AutoScalingGroupName}", arn="{AutoScalingGroupARN}",
    ),
    AwsType(
        cloud_type="AWS::AutoScaling::LaunchConfiguration", terraform_type="aws_launch_configuration",
        service="autoscaling", operation="describe_launch_configurations", items="LaunchConfigurations",
        id="{LaunchConfigurationName}", name="{LaunchConfigurationName}", arn="{LaunchConfigurationARN}",
        tags=NO_TAGS, note="launch configurations have no tags",
    ),
    # --- load balancing ---------------------------------------------------------------------------------------
    AwsType(
        cloud_type="AWS::ElasticLoadBalancingV2::LoadBalancer", terraform_type="aws_lb", service="elbv2",
        operation="describe_load_balancers", items="LoadBalancers", id="{LoadBalancerArn}",
        name="{LoadBalancerName}", arn="{LoadBalancerArn}", tags=None, equivalents=("aws_alb",),
    ),
    AwsType(
        cloud_type="AWS::ElasticLoadBalancingV2::TargetGroup", terraform_type="aws_lb_target_group",
        service="elbv2", operation="describe_target_groups", items="TargetGroups", id="{TargetGroupArn}",
        name="{TargetGroupName}", arn="{TargetGroupArn}", tags=None, equivalents=("aws_alb_target_group",),
    ),
    AwsType(
        cloud_type="AWS::ElasticLoadBalancing::LoadBalancer", terraform_type="aws_elb", service="elb",
        operation="describe_load_balancers", items="LoadBalancerDescriptions", id="{LoadBalancerName}",
        name="{LoadBalancerName}", tags=None,
        arn="arn:aws:elasticloadbalancing:{@region}:{@account}:loadbalancer/{LoadBalancerName}",
    ),
    # --- storage, queues, data --------------------------------------------------------------------------------
    AwsType(
        cloud_type="AWS::S3::Bucket", terraform_type="aws_s3_bucket", service="s3", operation="list_buckets",
        items="Buckets", id="{Name}", name="{Name}", arn="arn:aws:s3:::{Name}", tags=None,
        region_param="BucketRegion",  # one listing per region: a region that is down fails only its buckets
    ),
    AwsType(
        cloud_type="AWS::EFS::FileSystem", terraform_type="aws_efs_file_system", service="efs",
        operation="describe_file_systems", items="FileSystems", id="{FileSystemId}", name="{tag:Name}",
        arn="{FileSystemArn}",
    ),
    AwsType(
        cloud_type="AWS::EFS::AccessPoint", terraform_type="aws_efs_access_point", service="efs",
        operation="describe_access_points", items="AccessPoints", id="{AccessPointId}", name="{tag:Name}",
        arn="{AccessPointArn}",
    ),
    AwsType(
        cloud_type="AWS::SQS::Queue", terraform_type="aws_sqs_queue", service="sqs", operation="list_queues",
        items="QueueUrls", item_key="QueueUrl", id="{QueueUrl}", name="{QueueUrl|basename}",
        arn="arn:aws:sqs:{@region}:{@account}:{QueueUrl|basename}", tags=None,
    ),
    AwsType(
        cloud_type="AWS::SNS::Topic", terraform_type="aws_sns_topic", service="sns", operation="list_topics",
        items="Topics", id="{TopicArn}", name=_topic_name, arn="{TopicArn}", tags=None,
    ),
    AwsType(
        cloud_type="AWS::SNS::Subscription", terraform_type="aws_sns_topic_subscription", service="sns",
        operation="list_subscriptions", items="Subscriptions", id="{SubscriptionArn}", arn="{SubscriptionArn}",
        name=_topic_name, tags=NO_TAGS,
        # "PendingConfirmation" / "Deleted" stand in for the ARN until a subscription is confirmed
        include=lambda i: str(i.get("SubscriptionArn", "")).startswith("arn:"),
        note="subscriptions have no tags; the name is the topic's",
    ),
    AwsType(
        cloud_type="AWS::DynamoDB::Table", terraform_type="aws_dynamodb_table", service="dynamodb",
        operation="list_tables", items="TableNames", item_key="TableName", id="{TableName}", name="{TableName}",
        arn="arn:aws:dynamodb:{@region}:{@account}:table/{TableName}", tags=None,
    ),
    AwsType(
        cloud_type="AWS::Kinesis::Stream", terraform_type="aws_kinesis_stream", service="kinesis",
        operation="list_streams", items="StreamSummaries", id="{StreamARN}", name="{StreamName}",
        arn="{StreamARN}",
        detail=(_tags_detail("list_tags_for_stream", "Tags", StreamName="{StreamName}"),),
        include=_state_not("DELETING", key="StreamStatus"),
    ),
    AwsType(
        cloud_type="AWS::KinesisFirehose::DeliveryStream", terraform_type="aws_kinesis_firehose_delivery_stream",
        service="firehose", operation="list_delivery_streams", params={"Limit": 10000},
        items="DeliveryStreamNames", item_key="DeliveryStreamName", id="{Stream.DeliveryStreamARN}",
        name="{DeliveryStreamName}", arn="{Stream.DeliveryStreamARN}", tags=None,
        detail=(_detail("describe_delivery_stream", "DeliveryStreamDescription", "Stream",
                        DeliveryStreamName="{DeliveryStreamName}"),),
        include=_has("Stream"),
    ),
    AwsType(
        cloud_type="AWS::Redshift::Cluster", terraform_type="aws_redshift_cluster", service="redshift",
        operation="describe_clusters", items="Clusters", id="{ClusterIdentifier}", name="{ClusterIdentifier}",
        arn="arn:aws:redshift:{@region}:{@account}:cluster:{ClusterIdentifier}",
    ),
    AwsType(
        cloud_type="AWS::MSK::Cluster", terraform_type="aws_msk_cluster", service="kafka",
        operation="list_clusters", items="ClusterInfoList", id="{ClusterArn}", name="{ClusterName}",
        arn="{ClusterArn}", tags=None,
    ),
    AwsType(
        cloud_type="AWS::OpenSearchService::Domain", terraform_type="aws_opensearch_domain", service="opensearch",
        operation="list_domain_names", items="DomainNames", id="{Domain.ARN}", name="{DomainName}",
        arn="{Domain.ARN}",
        detail=(_detail("describe_domain", "DomainStatus", "Domain", DomainName="{DomainName}"),
                _tags_detail("list_tags", "TagList", ARN="{Domain.ARN}")),
        include=_has("Domain"),
        equivalents=("aws_elasticsearch_domain",),
    ),
    # --- databases and caches ---------------------------------------------------------------------------------
    AwsType(
        cloud_type="AWS::RDS::DBInstance", terraform_type="aws_db_instance", service="rds",
        operation="describe_db_instances", items="DBInstances", id="{DbiResourceId}",
        name="{DBInstanceIdentifier}", arn="{DBInstanceArn}", tags="TagList",
        # members of Aurora / DocumentDB / Neptune clusters are aws_rds_cluster_instance (and kin)
        include=lambda i: not i.get("DBClusterIdentifier"),
        note="provider v5 stores the DBI resource id (db-...) as id; the identifier is the name",
    ),
    AwsType(
        cloud_type="AWS::RDS::DBCluster", terraform_type="aws_rds_cluster", service="rds",
        operation="describe_db_clusters", items="DBClusters", id="{DBClusterIdentifier}",
        name="{DBClusterIdentifier}", arn="{DBClusterArn}", tags="TagList",
        include=lambda i: i.get("Engine") not in ("docdb", "neptune"),
    ),
    AwsType(
        cloud_type="AWS::RDS::DBSubnetGroup", terraform_type="aws_db_subnet_group", service="rds",
        operation="describe_db_subnet_groups", items="DBSubnetGroups", id="{DBSubnetGroupName}",
        name="{DBSubnetGroupName}", arn="{DBSubnetGroupArn}",
        detail=(_tags_detail("list_tags_for_resource", "TagList", ResourceName="{DBSubnetGroupArn}"),),
        default=_named_default("DBSubnetGroupName", ("default",), "default DB subnet group AWS creates"),
    ),
    AwsType(
        cloud_type="AWS::RDS::DBParameterGroup", terraform_type="aws_db_parameter_group", service="rds",
        operation="describe_db_parameter_groups", items="DBParameterGroups", id="{DBParameterGroupName}",
        name="{DBParameterGroupName}", arn="{DBParameterGroupArn}",
        detail=(_tags_detail("list_tags_for_resource", "TagList", ResourceName="{DBParameterGroupArn}"),),
        default=_default_parameter_group("DBParameterGroupName"),
    ),
    AwsType(
        cloud_type="AWS::RDS::DBClusterParameterGroup", terraform_type="aws_rds_cluster_parameter_group",
        service="rds", operation="describe_db_cluster_parameter_groups", items="DBClusterParameterGroups",
        id="{DBClusterParameterGroupName}", name="{DBClusterParameterGroupName}",
        arn="{DBClusterParameterGroupArn}",
        detail=(_tags_detail("list_tags_for_resource", "TagList", ResourceName="{DBClusterParameterGroupArn}"),),
        default=_default_parameter_group("DBClusterParameterGroupName"),
    ),
    AwsType(
        cloud_type="AWS::RDS::DBSnapshot", terraform_type="aws_db_snapshot", service="rds",
        operation="describe_db_snapshots", params={"SnapshotType": "manual"}, items="DBSnapshots",
        id="{DBSnapshotIdentifier}", name="{DBSnapshotIdentifier}", arn="{DBSnapshotArn}", tags="TagList",
    ),
    AwsType(
        cloud_type="AWS::ElastiCache::CacheCluster", terraform_type="aws_elasticache_cluster",
        service="elasticache", operation="describe_cache_clusters", items="CacheClusters", id="{CacheClusterId}",
        name="{CacheClusterId}", arn="{ARN}", tags=None,
        default=lambda i: (f"node of replication group {i['ReplicationGroupId']} (aws_elasticache_replication_group)"
                           if i.get("ReplicationGroupId") else None),
    ),
    AwsType(
        cloud_type="AWS::ElastiCache::ReplicationGroup", terraform_type="aws_elasticache_replication_group",
        service="elasticache", operation="describe_replication_groups", items="ReplicationGroups",
        id="{ReplicationGroupId}", name="{ReplicationGroupId}", arn="{ARN}", tags=None,
    ),
    AwsType(
        cloud_type="AWS::ElastiCache::SubnetGroup", terraform_type="aws_elasticache_subnet_group",
        service="elasticache", operation="describe_cache_subnet_groups", items="CacheSubnetGroups",
        id="{CacheSubnetGroupName}", name="{CacheSubnetGroupName}", arn="{ARN}", tags=None,
        default=_named_default("CacheSubnetGroupName", ("default",), "default cache subnet group AWS creates"),
    ),
    # --- containers and functions -----------------------------------------------------------------------------
    AwsType(
        cloud_type="AWS::Lambda::Function", terraform_type="aws_lambda_function", service="lambda",
        operation="list_functions", items="Functions", id="{FunctionName}", name="{FunctionName}",
        arn="{FunctionArn}", tags=None,
    ),
    AwsType(
        cloud_type="AWS::Lambda::EventSourceMapping", terraform_type="aws_lambda_event_source_mapping",
        service="lambda", operation="list_event_source_mappings", items="EventSourceMappings", id="{UUID}",
        name=_event_source_mapping_name,
        arn="arn:aws:lambda:{@region}:{@account}:event-source-mapping:{UUID}", tags=None,
    ),
    AwsType(
        cloud_type="AWS::ECS::Cluster", terraform_type="aws_ecs_cluster", service="ecs", operation="list_clusters",
        items="clusterArns", item_key="clusterArn", id="{clusterArn}", name="{clusterArn|basename}",
        arn="{clusterArn}", tags=None,
    ),
    AwsType(
        cloud_type="AWS::ECS::TaskDefinition", terraform_type="aws_ecs_task_definition", service="ecs",
        operation="list_task_definition_families", params={"status": "ACTIVE"}, items="families",
        item_key="family", id="{family}", name="{family}", arn="{taskDefinition.taskDefinitionArn}", tags="tags",
        # the answer (taskDefinition, tags) is merged in: the latest ACTIVE revision stands for the family
        detail=(Detail(operation="describe_task_definition",
                       params={"taskDefinition": "{family}", "include": lambda f: ["TAGS"]}),),
        note="provider v5 stores the family as id",
    ),
    AwsType(
        cloud_type="AWS::EKS::Cluster", terraform_type="aws_eks_cluster", service="eks", operation="list_clusters",
        items="clusters", item_key="Name", id="{Name}", name="{Name}", arn="{Cluster.arn}", tags="Cluster.tags",
        detail=(_detail("describe_cluster", "cluster", "Cluster", name="{Name}"),),
    ),
    AwsType(
        cloud_type="AWS::ECR::Repository", terraform_type="aws_ecr_repository", service="ecr",
        operation="describe_repositories", items="repositories", id="{repositoryName}", name="{repositoryName}",
        arn="{repositoryArn}",
        detail=(_tags_detail("list_tags_for_resource", "tags", resourceArn="{repositoryArn}"),),
    ),
    # --- monitoring, events, logs -----------------------------------------------------------------------------
    AwsType(
        cloud_type="AWS::Logs::LogGroup", terraform_type="aws_cloudwatch_log_group", service="logs",
        operation="describe_log_groups", items="logGroups", id="{logGroupName}", name="{logGroupName}",
        arn="arn:aws:logs:{@region}:{@account}:log-group:{logGroupName}", tags=None,
    ),
    AwsType(
        cloud_type="AWS::Logs::MetricFilter", terraform_type="aws_cloudwatch_log_metric_filter", service="logs",
        operation="describe_metric_filters", items="metricFilters", id="{filterName}", name="{filterName}",
        tags=NO_TAGS, note="metric filters have no tags or ARN",
    ),
    AwsType(
        cloud_type="AWS::CloudWatch::Alarm", terraform_type="aws_cloudwatch_metric_alarm", service="cloudwatch",
        operation="describe_alarms", params={"AlarmTypes": ["MetricAlarm"]}, items="MetricAlarms",
        id="{AlarmName}", name="{AlarmName}", arn="{AlarmArn}", tags=None,
    ),
    AwsType(
        cloud_type="AWS::CloudWatch::Dashboard", terraform_type="aws_cloudwatch_dashboard", service="cloudwatch",
        operation="list_dashboards", items="DashboardEntries", id="{DashboardName}", name="{DashboardName}",
        arn="{DashboardArn}", tags=NO_TAGS, note="dashboards have no tags",
    ),
    AwsType(
        cloud_type="AWS::Events::EventBus", terraform_type="aws_cloudwatch_event_bus", service="events",
        operation="list_event_buses", params={"Limit": 100}, items="EventBuses", id="{Name}", name="{Name}",
        arn="{Arn}", tags=None,
        default=_named_default("Name", ("default",), "default event bus AWS creates in every region"),
        note="one page of up to 100 buses (the default quota); ListEventBuses has no boto3 paginator",
    ),
    AwsType(
        cloud_type="AWS::Events::Rule", terraform_type="aws_cloudwatch_event_rule", service="events",
        operation="list_rules", items="Rules", id=_event_rule_id, name="{Name}", arn="{Arn}",
        detail=(_tags_detail("list_tags_for_resource", "Tags", ResourceARN="{Arn}"),),
        note="rules of the default event bus (ListRules without a bus); id is NAME, or BUS/NAME",
    ),
    AwsType(
        cloud_type="AWS::CloudTrail::Trail", terraform_type="aws_cloudtrail", service="cloudtrail",
        operation="describe_trails", params={"includeShadowTrails": False}, items="trailList", id="{TrailARN}",
        name="{Name}", arn="{TrailARN}", tags="TagSet.0.TagsList",
        detail=(_detail("list_tags", "ResourceTagList", "TagSet", ResourceIdList=_as_list("{TrailARN}")),),
        note="provider v5 stores the trail ARN as id",
    ),
    # --- configuration, secrets, keys -------------------------------------------------------------------------
    AwsType(
        cloud_type="AWS::SSM::Parameter", terraform_type="aws_ssm_parameter", service="ssm",
        operation="describe_parameters", items="Parameters", id="{Name}", name="{Name}", arn=_ssm_parameter_arn,
        tags=None,
    ),
    AwsType(
        cloud_type="AWS::SSM::Document", terraform_type="aws_ssm_document", service="ssm",
        operation="list_documents", params={"Filters": [{"Key": "Owner", "Values": ["Self"]}]},
        items="DocumentIdentifiers", id="{Name}", name="{Name}",
        arn="arn:aws:ssm:{@region}:{@account}:document/{Name}",
    ),
    AwsType(
        cloud_type="AWS::SecretsManager::Secret", terraform_type="aws_secretsmanager_secret",
        service="secretsmanager", operation="list_secrets", items="SecretList", id="{ARN}", name="{Name}",
        arn="{ARN}",
    ),
    AwsType(
        cloud_type="AWS::KMS::Key", terraform_type="aws_kms_key", service="kms", operation="list_keys",
        items="Keys", id="{KeyId}", arn="{KeyArn}", tags=None, name="{KeyMetadata.Description}",
        detail=(Detail(operation="describe_key", params={"KeyId": "{KeyId}"}, result="KeyMetadata",
                       into="KeyMetadata"),),
        default=lambda i: "AWS-managed key" if (i.get("KeyMetadata") or {}).get("KeyManager") == "AWS" else None,
        include=lambda i: (i.get("KeyMetadata") or {}).get("KeyState") != "PendingDeletion",
    ),
    AwsType(
        cloud_type="AWS::KMS::Alias", terraform_type="aws_kms_alias", service="kms", operation="list_aliases",
        items="Aliases", id="{AliasName}", name="{AliasName}", arn="{AliasArn}", tags=NO_TAGS,
        default=lambda i: "AWS-managed alias" if str(i.get("AliasName", "")).startswith("alias/aws/") else None,
        note="aliases have no tags",
    ),
    AwsType(
        cloud_type="AWS::CertificateManager::Certificate", terraform_type="aws_acm_certificate", service="acm",
        # without Includes, ListCertificates answers RSA-1024/2048 certificates only (no ECDSA, no RSA-4096)
        operation="list_certificates", params={"Includes": {"keyTypes": list(_ACM_KEY_TYPES)}},
        items="CertificateSummaryList", id="{CertificateArn}",
        name="{DomainName}", arn="{CertificateArn}", tags=None,
    ),
    AwsType(
        cloud_type="AWS::Backup::BackupVault", terraform_type="aws_backup_vault", service="backup",
        operation="list_backup_vaults", items="BackupVaultList", id="{BackupVaultName}",
        name="{BackupVaultName}", arn="{BackupVaultArn}", tags=None,
        default=lambda i: ("backup vault AWS creates" if i.get("BackupVaultName") == "Default"
                           or str(i.get("BackupVaultName", "")).startswith("aws/") else None),
    ),
    AwsType(
        cloud_type="AWS::Backup::BackupPlan", terraform_type="aws_backup_plan", service="backup",
        operation="list_backup_plans", items="BackupPlansList", id="{BackupPlanId}", name="{BackupPlanName}",
        arn="{BackupPlanArn}",
        detail=(_tags_detail("list_tags", "Tags", ResourceArn="{BackupPlanArn}"),),
    ),
    # --- application integration and APIs ---------------------------------------------------------------------
    AwsType(
        cloud_type="AWS::StepFunctions::StateMachine", terraform_type="aws_sfn_state_machine",
        service="stepfunctions", operation="list_state_machines", items="stateMachines",
        id="{stateMachineArn}", name="{name}", arn="{stateMachineArn}", tags=None,
    ),
    AwsType(
        cloud_type="AWS::ApiGateway::RestApi", terraform_type="aws_api_gateway_rest_api", service="apigateway",
        operation="get_rest_apis", items="items", id="{id}", name="{name}",
        arn="arn:aws:apigateway:{@region}::/restapis/{id}", tags="tags",
    ),
    AwsType(
        cloud_type="AWS::ApiGatewayV2::Api", terraform_type="aws_apigatewayv2_api", service="apigatewayv2",
        operation="get_apis", items="Items", id="{ApiId}", name="{Name}",
        arn="arn:aws:apigateway:{@region}::/apis/{ApiId}",
    ),
    AwsType(
        cloud_type="AWS::AppSync::GraphQLApi", terraform_type="aws_appsync_graphql_api", service="appsync",
        operation="list_graphql_apis", items="graphqlApis", id="{apiId}", name="{name}", arn="{arn}",
        tags="tags",
    ),
    AwsType(
        cloud_type="AWS::CloudFormation::Stack", terraform_type="aws_cloudformation_stack",
        service="cloudformation", operation="describe_stacks", items="Stacks", id="{StackId}",
        name="{StackName}", arn="{StackId}",
        # nested stacks belong to their parent's template
        include=lambda i: i.get("StackStatus") != "DELETE_COMPLETE" and not i.get("ParentId"),
        note="provider v5 stores the stack ARN (StackId) as id",
    ),
    AwsType(
        cloud_type="AWS::Glue::Database", terraform_type="aws_glue_catalog_database", service="glue",
        operation="get_databases", items="DatabaseList", id="{CatalogId}:{Name}", name="{Name}",
        arn="arn:aws:glue:{@region}:{CatalogId}:database/{Name}", tags=None,
    ),
    AwsType(
        cloud_type="AWS::Glue::Job", terraform_type="aws_glue_job", service="glue", operation="get_jobs",
        items="Jobs", id="{Name}", name="{Name}", arn="arn:aws:glue:{@region}:{@account}:job/{Name}", tags=None,
    ),
    AwsType(
        cloud_type="AWS::Cognito::UserPool", terraform_type="aws_cognito_user_pool", service="cognito-idp",
        operation="list_user_pools", params={"MaxResults": 60}, items="UserPools", id="{Id}", name="{Name}",
        arn="{Pool.Arn}", tags="Pool.UserPoolTags",
        detail=(_detail("describe_user_pool", "UserPool", "Pool", UserPoolId="{Id}"),),
    ),
    AwsType(
        cloud_type="AWS::Cognito::IdentityPool", terraform_type="aws_cognito_identity_pool",
        service="cognito-identity", operation="list_identity_pools", params={"MaxResults": 60},
        items="IdentityPools", id="{IdentityPoolId}", name="{IdentityPoolName}",
        arn="arn:aws:cognito-identity:{@region}:{@account}:identitypool/{IdentityPoolId}",
        tags="Pool.IdentityPoolTags",
        detail=(_detail("describe_identity_pool", "", "Pool", IdentityPoolId="{IdentityPoolId}"),),
    ),
    # --- IAM (global) ---------------------------------------------------------------------------------------
    AwsType(
        cloud_type="AWS::IAM::Role", terraform_type="aws_iam_role", service="iam", operation="list_roles",
        items="Roles", id="{RoleName}", name="{RoleName}", arn="{Arn}", global_service=True,
        # ListRoles leaves tags out; GetRole has them
        detail=(_detail("get_role", "Role", RoleName="{RoleName}"),),
        default=_is_service_linked_role,
    ),
    AwsType(
        cloud_type="AWS::IAM::User", terraform_type="aws_iam_user", service="iam", operation="list_users",
        items="Users", id="{UserName}", name="{UserName}", arn="{Arn}", global_service=True,
        detail=(_detail("get_user", "User", UserName="{UserName}"),),
    ),
    AwsType(
        cloud_type="AWS::IAM::Group", terraform_type="aws_iam_group", service="iam", operation="list_groups",
        items="Groups", id="{GroupName}", name="{GroupName}", arn="{Arn}", global_service=True, tags=NO_TAGS,
        note="IAM groups have no tags",
    ),
    AwsType(
        cloud_type="AWS::IAM::ManagedPolicy", terraform_type="aws_iam_policy", service="iam",
        operation="list_policies", params={"Scope": "Local"}, items="Policies", id="{Arn}", name="{PolicyName}",
        arn="{Arn}", global_service=True,
        detail=(_detail("get_policy", "Policy", PolicyArn="{Arn}"),),
    ),
    AwsType(
        cloud_type="AWS::IAM::InstanceProfile", terraform_type="aws_iam_instance_profile", service="iam",
        operation="list_instance_profiles", items="InstanceProfiles", id="{InstanceProfileName}",
        name="{InstanceProfileName}", arn="{Arn}", global_service=True,
        detail=(_detail("get_instance_profile", "InstanceProfile", InstanceProfileName="{InstanceProfileName}"),),
    ),
    AwsType(
        cloud_type="AWS::IAM::OIDCProvider", terraform_type="aws_iam_openid_connect_provider", service="iam",
        operation="list_open_id_connect_providers", items="OpenIDConnectProviderList", id="{Arn}",
        name=_arn_resource_name, arn="{Arn}", global_service=True,
        detail=(_tags_detail("list_open_id_connect_provider_tags", "Tags", OpenIDConnectProviderArn="{Arn}"),),
    ),
    AwsType(
        cloud_type="AWS::IAM::SAMLProvider", terraform_type="aws_iam_saml_provider", service="iam",
        operation="list_saml_providers", items="SAMLProviderList", id="{Arn}", name=_arn_resource_name,
        arn="{Arn}", global_service=True, tags="Provider.Tags",
        detail=(_detail("get_saml_provider", "", "Provider", SAMLProviderArn="{Arn}"),),
    ),
    # --- DNS and CDN (global) ---------------------------------------------------------------------------------
    AwsType(
        cloud_type="AWS::Route53::HostedZone", terraform_type="aws_route53_zone", service="route53",
        operation="list_hosted_zones", items="HostedZones", id="{Id|basename}", name="{Name}",
        arn="arn:aws:route53:::hostedzone/{Id|basename}", global_service=True,
        detail=(_tags_detail("list_tags_for_resource", "ResourceTagSet.Tags", ResourceType="hostedzone",
                             ResourceId="{Id|basename}"),),
    ),
    AwsType(
        cloud_type="AWS::Route53::HealthCheck", terraform_type="aws_route53_health_check", service="route53",
        operation="list_health_checks", items="HealthChecks", id="{Id}", name="{HealthCheckConfig.FullyQualifiedDomainName}",
        arn="arn:aws:route53:::healthcheck/{Id}", global_service=True,
        detail=(_tags_detail("list_tags_for_resource", "ResourceTagSet.Tags", ResourceType="healthcheck",
                             ResourceId="{Id}"),),
    ),
    AwsType(
        cloud_type="AWS::CloudFront::Distribution", terraform_type="aws_cloudfront_distribution",
        service="cloudfront", operation="list_distributions", items="DistributionList.Items", id="{Id}",
        name="{DomainName}", arn="{ARN}", global_service=True,
        detail=(_tags_detail("list_tags_for_resource", "Tags.Items", Resource="{ARN}"),),
    ),
)
