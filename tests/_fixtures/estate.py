"""Seed a moto account with a realistic estate and say exactly what Terraform would call each resource.

``seed_estate(endpoint, regions, scale)`` creates, per region, VPCs with subnets, route tables, network
ACLs, security groups, internet gateways, instances, volumes, key pairs, elastic IPs, SQS queues, SNS
topics, DynamoDB tables, log groups and KMS keys, plus account-wide S3 buckets, IAM roles, users and
policies and Route 53 zones, and returns ``{(terraform_type, terraform_id)}`` computed from the create
calls' answers (never from a listing), i.e. what a correct discovery must report besides AWS's defaults.
``scale=1`` makes about 540 resources over 3 regions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

_ASSUME = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})


def _client(service: str, region: str, endpoint: str) -> Any:
    import boto3

    return boto3.client(service, region_name=region, endpoint_url=endpoint,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _tags(name: str, **extra: str) -> list[dict[str, str]]:
    return [{"Key": "Name", "Value": name}, {"Key": "env", "Value": "test"},
            *({"Key": k, "Value": v} for k, v in extra.items())]


def _seed_region(endpoint: str, region: str, scale: int) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    ec2 = _client("ec2", region, endpoint)
    image = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
    for v in range(5 * scale):
        vpc = ec2.create_vpc(CidrBlock=f"10.{v % 250}.0.0/16",
                             TagSpecifications=[{"ResourceType": "vpc", "Tags": _tags(f"vpc-{v}")}])["Vpc"]
        vpc_id = vpc["VpcId"]
        found.add(("aws_vpc", vpc_id))
        # every VPC comes with a main route table, default NACL and default SG (flagged as AWS-made)
        for s in range(4):
            subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.{v % 250}.{s}.0/24",
                                       TagSpecifications=[{"ResourceType": "subnet", "Tags": _tags(f"subnet-{v}-{s}")}])
            found.add(("aws_subnet", subnet["Subnet"]["SubnetId"]))
        for g in range(4):
            sg = ec2.create_security_group(GroupName=f"app-{v}-{g}", Description="app", VpcId=vpc_id)
            found.add(("aws_security_group", sg["GroupId"]))
        for r in range(2):
            rt = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]
            found.add(("aws_route_table", rt["RouteTableId"]))
            del r
        acl = ec2.create_network_acl(VpcId=vpc_id)["NetworkAcl"]
        found.add(("aws_network_acl", acl["NetworkAclId"]))
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
        found.add(("aws_internet_gateway", igw))
        subnet_id = subnet["Subnet"]["SubnetId"]
        reservation = ec2.run_instances(ImageId=image, MinCount=6, MaxCount=6, InstanceType="t3.micro",
                                        SubnetId=subnet_id,
                                        TagSpecifications=[{"ResourceType": "instance", "Tags": _tags(f"web-{v}")}])
        for instance in reservation["Instances"]:
            found.add(("aws_instance", instance["InstanceId"]))
    for i in range(10 * scale):
        volume = ec2.create_volume(AvailabilityZone=f"{region}a", Size=8,
                                  TagSpecifications=[{"ResourceType": "volume", "Tags": _tags(f"data-{i}")}])
        found.add(("aws_ebs_volume", volume["VolumeId"]))
    for i in range(5 * scale):
        found.add(("aws_key_pair", ec2.create_key_pair(KeyName=f"key-{region}-{i}")["KeyName"]))
        found.add(("aws_eip", ec2.allocate_address(Domain="vpc")["AllocationId"]))
    sqs = _client("sqs", region, endpoint)
    sns = _client("sns", region, endpoint)
    logs = _client("logs", region, endpoint)
    for i in range(10 * scale):
        found.add(("aws_sqs_queue", sqs.create_queue(QueueName=f"jobs-{region}-{i}", tags={"team": "core"})["QueueUrl"]))
        found.add(("aws_sns_topic", sns.create_topic(Name=f"alerts-{i}")["TopicArn"]))
        logs.create_log_group(logGroupName=f"/app/{region}/service-{i}", tags={"team": "core"})
        found.add(("aws_cloudwatch_log_group", f"/app/{region}/service-{i}"))
    dynamodb = _client("dynamodb", region, endpoint)
    kms = _client("kms", region, endpoint)
    for i in range(5 * scale):
        dynamodb.create_table(TableName=f"orders-{region}-{i}", BillingMode="PAY_PER_REQUEST",
                              KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        found.add(("aws_dynamodb_table", f"orders-{region}-{i}"))
        key = kms.create_key(Description=f"key {i}")["KeyMetadata"]["KeyId"]
        found.add(("aws_kms_key", key))
    return found


def _seed_global(endpoint: str, regions: Iterable[str], scale: int) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for region in regions:
        s3 = _client("s3", region, endpoint)
        for i in range(10 * scale):
            name = f"bucket-{region}-{i}"
            if region == "us-east-1":
                s3.create_bucket(Bucket=name)
            else:
                s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "team", "Value": "data"}]})
            found.add(("aws_s3_bucket", name))
    iam = _client("iam", "us-east-1", endpoint)
    for i in range(20 * scale):
        found.add(("aws_iam_role", iam.create_role(RoleName=f"role-{i}", AssumeRolePolicyDocument=_ASSUME)["Role"]["RoleName"]))
    for i in range(10 * scale):
        found.add(("aws_iam_user", iam.create_user(UserName=f"user-{i}")["User"]["UserName"]))
        found.add(("aws_iam_policy", iam.create_policy(PolicyName=f"policy-{i}", PolicyDocument=_POLICY)["Policy"]["Arn"]))
    route53 = _client("route53", "us-east-1", endpoint)
    for i in range(5 * scale):
        zone = route53.create_hosted_zone(Name=f"zone{i}.example.com", CallerReference=f"ref-{i}")["HostedZone"]
        found.add(("aws_route53_zone", zone["Id"].rsplit("/", 1)[-1]))
    return found


def seed_estate(endpoint: str, regions: Iterable[str] = ("us-east-1", "eu-west-1", "ap-southeast-2"),
                scale: int = 1) -> set[tuple[str, str]]:
    """Create the estate (regions in parallel) and return what discovery must find."""
    regions = list(regions)
    with ThreadPoolExecutor(max_workers=len(regions) + 1) as pool:
        futures = [pool.submit(_seed_region, endpoint, region, scale) for region in regions]
        futures.append(pool.submit(_seed_global, endpoint, regions, scale))
        found: set[tuple[str, str]] = set()
        for future in futures:
            found |= future.result()
    return found
