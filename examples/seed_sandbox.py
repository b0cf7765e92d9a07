"""Create a small estate in a local moto server (AWS_ENDPOINT_URL) for the discovery tour in run-example.sh."""

from __future__ import annotations

import json

import boto3

ASSUME = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})

for region in ("us-east-1", "eu-west-1"):
    ec2 = boto3.client("ec2", region_name=region)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": f"main-{region}"}]}])["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    ec2.create_security_group(GroupName="web", Description="web tier", VpcId=vpc)
    image = ec2.describe_images(Owners=["amazon"], MaxResults=5)["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2, InstanceType="t3.micro", SubnetId=subnet,
                      TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"}]}])
    s3 = boto3.client("s3", region_name=region)
    config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=f"logs-{region}", **config)
    boto3.client("sqs", region_name=region).create_queue(QueueName=f"jobs-{region}")
boto3.client("iam").create_role(RoleName="app", AssumeRolePolicyDocument=ASSUME)
print("seeded a sandbox account: 2 regions, VPCs, subnets, instances, buckets, queues, a role")
