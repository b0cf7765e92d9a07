"""Catalog cases: VPC networking and EC2. Each creates real resources in moto with boto3 and returns what
discovery must report, computed from the create calls' answers."""

from __future__ import annotations

from tests.discovery.aws.helpers import Expect, case, client, ec2_tags, tag_list

TAGS = {"team": "net"}


def _named(name: str) -> dict[str, str]:
    return {"Name": name, **TAGS}


def _vpc(cidr: str = "10.10.0.0/16") -> str:
    return client("ec2").create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]


def _subnet(vpc_id: str, cidr: str = "10.10.1.0/24", zone: str = "us-east-1a") -> str:
    return client("ec2").create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]


@case("aws_vpc")
def _() -> list[Expect]:
    vpc = client("ec2").create_vpc(CidrBlock="10.20.0.0/16", TagSpecifications=ec2_tags("vpc", _named("main")))
    return [Expect(vpc["Vpc"]["VpcId"], "main", _named("main"))]


@case("aws_subnet")
def _() -> list[Expect]:
    answer = client("ec2").create_subnet(VpcId=_vpc(), CidrBlock="10.10.3.0/24",
                                         TagSpecifications=ec2_tags("subnet", _named("private-a")))
    return [Expect(answer["Subnet"]["SubnetId"], "private-a", _named("private-a"))]


@case("aws_security_group")
def _() -> list[Expect]:
    answer = client("ec2").create_security_group(GroupName="web", Description="web", VpcId=_vpc(),
                                                 TagSpecifications=ec2_tags("security-group", TAGS))
    return [Expect(answer["GroupId"], "web", TAGS)]


@case("aws_internet_gateway")
def _() -> list[Expect]:
    igw = client("ec2").create_internet_gateway(TagSpecifications=ec2_tags("internet-gateway", _named("igw")))
    return [Expect(igw["InternetGateway"]["InternetGatewayId"], "igw", _named("igw"))]


@case("aws_route_table")
def _() -> list[Expect]:
    answer = client("ec2").create_route_table(VpcId=_vpc(), TagSpecifications=ec2_tags("route-table", _named("rt")))
    return [Expect(answer["RouteTable"]["RouteTableId"], "rt", _named("rt"))]


@case("aws_network_acl")
def _() -> list[Expect]:
    answer = client("ec2").create_network_acl(VpcId=_vpc(), TagSpecifications=ec2_tags("network-acl", _named("acl")))
    return [Expect(answer["NetworkAcl"]["NetworkAclId"], "acl", _named("acl"))]


@case("aws_eip")
def _() -> list[Expect]:
    answer = client("ec2").allocate_address(Domain="vpc", TagSpecifications=ec2_tags("elastic-ip", _named("ip")))
    return [Expect(answer["AllocationId"], "ip", _named("ip"))]


@case("aws_nat_gateway")
def _() -> list[Expect]:
    ec2 = client("ec2")
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    answer = ec2.create_nat_gateway(SubnetId=_subnet(_vpc()), AllocationId=allocation,
                                    TagSpecifications=ec2_tags("natgateway", _named("nat")))
    return [Expect(answer["NatGateway"]["NatGatewayId"], "nat", _named("nat"))]


@case("aws_vpc_endpoint")
def _() -> list[Expect]:
    answer = client("ec2").create_vpc_endpoint(VpcId=_vpc(), ServiceName="com.amazonaws.us-east-1.s3",
                                               TagSpecifications=ec2_tags("vpc-endpoint", _named("s3")))
    return [Expect(answer["VpcEndpoint"]["VpcEndpointId"], "s3", _named("s3"))]


@case("aws_vpc_peering_connection")
def _() -> list[Expect]:
    answer = client("ec2").create_vpc_peering_connection(
        VpcId=_vpc(), PeerVpcId=_vpc("10.30.0.0/16"),
        TagSpecifications=ec2_tags("vpc-peering-connection", _named("peer")))
    return [Expect(answer["VpcPeeringConnection"]["VpcPeeringConnectionId"], "peer", _named("peer"))]


@case("aws_network_interface")
def _() -> list[Expect]:
    answer = client("ec2").create_network_interface(
        SubnetId=_subnet(_vpc()), TagSpecifications=ec2_tags("network-interface", _named("eni")))
    return [Expect(answer["NetworkInterface"]["NetworkInterfaceId"], "eni", _named("eni"))]


@case("aws_vpc_dhcp_options")
def _() -> list[Expect]:
    ec2 = client("ec2")
    options = ec2.create_dhcp_options(
        DhcpConfigurations=[{"Key": "domain-name", "Values": ["corp.example"]}])["DhcpOptions"]["DhcpOptionsId"]
    ec2.create_tags(Resources=[options], Tags=tag_list(_named("corp")))  # moto drops TagSpecifications here
    return [Expect(options, "corp", _named("corp"))]


@case("aws_egress_only_internet_gateway")
def _() -> list[Expect]:
    answer = client("ec2").create_egress_only_internet_gateway(
        VpcId=_vpc(), TagSpecifications=ec2_tags("egress-only-internet-gateway", _named("eigw")))
    return [Expect(answer["EgressOnlyInternetGateway"]["EgressOnlyInternetGatewayId"], "eigw", _named("eigw"))]


@case("aws_customer_gateway")
def _() -> list[Expect]:
    answer = client("ec2").create_customer_gateway(
        Type="ipsec.1", PublicIp="203.0.113.10", BgpAsn=65000,
        TagSpecifications=ec2_tags("customer-gateway", _named("office")))
    return [Expect(answer["CustomerGateway"]["CustomerGatewayId"], "office", _named("office"))]


@case("aws_vpn_gateway")
def _() -> list[Expect]:
    answer = client("ec2").create_vpn_gateway(Type="ipsec.1", TagSpecifications=ec2_tags("vpn-gateway", _named("vgw")))
    return [Expect(answer["VpnGateway"]["VpnGatewayId"], "vgw", _named("vgw"))]


@case("aws_vpn_connection")
def _() -> list[Expect]:
    ec2 = client("ec2")
    cgw = ec2.create_customer_gateway(Type="ipsec.1", PublicIp="203.0.113.11", BgpAsn=65000)
    vgw = ec2.create_vpn_gateway(Type="ipsec.1")
    answer = ec2.create_vpn_connection(
        Type="ipsec.1", CustomerGatewayId=cgw["CustomerGateway"]["CustomerGatewayId"],
        VpnGatewayId=vgw["VpnGateway"]["VpnGatewayId"], TagSpecifications=ec2_tags("vpn-connection", _named("vpn")))
    return [Expect(answer["VpnConnection"]["VpnConnectionId"], "vpn", _named("vpn"))]


@case("aws_ec2_transit_gateway")
def _() -> list[Expect]:
    answer = client("ec2").create_transit_gateway(TagSpecifications=ec2_tags("transit-gateway", _named("tgw")))
    return [Expect(answer["TransitGateway"]["TransitGatewayId"], "tgw", _named("tgw"))]


@case("aws_ec2_transit_gateway_vpc_attachment")
def _() -> list[Expect]:
    ec2 = client("ec2")
    tgw = ec2.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]
    vpc = _vpc()
    answer = ec2.create_transit_gateway_vpc_attachment(TransitGatewayId=tgw, VpcId=vpc, SubnetIds=[_subnet(vpc)])
    attachment = answer["TransitGatewayVpcAttachment"]["TransitGatewayAttachmentId"]
    ec2.create_tags(Resources=[attachment], Tags=tag_list(_named("attach")))  # moto drops TagSpecifications here
    return [Expect(attachment, "attach", _named("attach"))]


@case("aws_ec2_transit_gateway_route_table")
def _() -> list[Expect]:
    ec2 = client("ec2")
    tgw = ec2.create_transit_gateway(Options={"DefaultRouteTableAssociation": "disable"})
    answer = ec2.create_transit_gateway_route_table(
        TransitGatewayId=tgw["TransitGateway"]["TransitGatewayId"],
        TagSpecifications=ec2_tags("transit-gateway-route-table", _named("tgw-rt")))
    route_table = answer["TransitGatewayRouteTable"]["TransitGatewayRouteTableId"]
    return [Expect(route_table, "tgw-rt", _named("tgw-rt"))]


@case("aws_flow_log")
def _() -> list[Expect]:
    client("s3").create_bucket(Bucket="flow-logs-bucket")
    answer = client("ec2").create_flow_logs(
        ResourceIds=[_vpc()], ResourceType="VPC", TrafficType="ALL", LogDestinationType="s3",
        LogDestination="arn:aws:s3:::flow-logs-bucket", TagSpecifications=ec2_tags("vpc-flow-log", _named("flows")))
    return [Expect(answer["FlowLogIds"][0], "flows", _named("flows"))]


@case("aws_ec2_managed_prefix_list")
def _() -> list[Expect]:
    answer = client("ec2").create_managed_prefix_list(
        PrefixListName="office-ranges", AddressFamily="IPv4", MaxEntries=5,
        TagSpecifications=ec2_tags("prefix-list", TAGS))
    return [Expect(answer["PrefixList"]["PrefixListId"], "office-ranges", TAGS)]


# --- EC2 compute ------------------------------------------------------------------------------------------


def _image_id() -> str:
    return "ami-12c6146b"  # one of moto's built-in images (listing them all is slow)


@case("aws_instance")
def _() -> list[Expect]:
    answer = client("ec2").run_instances(ImageId=_image_id(), MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                         TagSpecifications=ec2_tags("instance", _named("web-1")))
    return [Expect(answer["Instances"][0]["InstanceId"], "web-1", _named("web-1"))]


@case("aws_ebs_volume")
def _() -> list[Expect]:
    answer = client("ec2").create_volume(AvailabilityZone="us-east-1a", Size=8,
                                         TagSpecifications=ec2_tags("volume", _named("data")))
    return [Expect(answer["VolumeId"], "data", _named("data"))]


@case("aws_ami")
def _() -> list[Expect]:
    ec2 = client("ec2")
    instance = ec2.run_instances(ImageId=_image_id(), MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    answer = ec2.create_image(InstanceId=instance, Name="golden-2026", TagSpecifications=ec2_tags("image", TAGS))
    return [Expect(answer["ImageId"], "golden-2026", TAGS)]


@case("aws_key_pair")
def _() -> list[Expect]:
    client("ec2").create_key_pair(KeyName="deploy", TagSpecifications=ec2_tags("key-pair", TAGS))
    return [Expect("deploy", "deploy", TAGS)]


@case("aws_launch_template")
def _() -> list[Expect]:
    answer = client("ec2").create_launch_template(
        LaunchTemplateName="web-lt", LaunchTemplateData={"InstanceType": "t3.micro"},
        TagSpecifications=ec2_tags("launch-template", TAGS))
    return [Expect(answer["LaunchTemplate"]["LaunchTemplateId"], "web-lt", TAGS)]


@case("aws_autoscaling_group")
def _() -> list[Expect]:
    client("ec2").create_launch_template(LaunchTemplateName="asg-lt", LaunchTemplateData={"ImageId": _image_id()})
    client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName="web-asg", MinSize=0, MaxSize=1, AvailabilityZones=["us-east-1a"],
        LaunchTemplate={"LaunchTemplateName": "asg-lt"},
        Tags=[{"Key": "team", "Value": "net", "PropagateAtLaunch": True}])
    return [Expect("web-asg", "web-asg", TAGS)]


@case("aws_launch_configuration")
def _() -> list[Expect]:
    client("autoscaling").create_launch_configuration(
        LaunchConfigurationName="web-lc", ImageId=_image_id(), InstanceType="t3.micro")
    return [Expect("web-lc", "web-lc", {})]


# --- load balancing ---------------------------------------------------------------------------------------


def _two_subnets() -> list[str]:
    vpc = _vpc()
    return [_subnet(vpc, "10.10.1.0/24", "us-east-1a"), _subnet(vpc, "10.10.2.0/24", "us-east-1b")]


@case("aws_lb")
def _() -> list[Expect]:
    answer = client("elbv2").create_load_balancer(Name="web-alb", Subnets=_two_subnets(),
                                                  Tags=[{"Key": "team", "Value": "net"}])
    return [Expect(answer["LoadBalancers"][0]["LoadBalancerArn"], "web-alb", TAGS)]


@case("aws_lb_target_group")
def _() -> list[Expect]:
    answer = client("elbv2").create_target_group(Name="web-tg", Protocol="HTTP", Port=80, VpcId=_vpc(),
                                                 Tags=[{"Key": "team", "Value": "net"}])
    return [Expect(answer["TargetGroups"][0]["TargetGroupArn"], "web-tg", TAGS)]


@case("aws_elb")
def _() -> list[Expect]:
    client("elb").create_load_balancer(
        LoadBalancerName="classic", AvailabilityZones=["us-east-1a"],
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080}],
        Tags=[{"Key": "team", "Value": "net"}])
    return [Expect("classic", "classic", TAGS)]

