"""SDK deletes of unmanaged resources: real boto3 against a moto server, the real azure-mgmt-resource client
against a local fake ARM server.

Each AWS test creates the resource (with what hangs off it) through boto3, discovers it with the real AWS
adapter (so the plan sees the attributes discovery stores), checks the preview, runs the delete and then asks
AWS that the resource is really gone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from driftmgr_tui.core.errors import DriftmgrError, ProviderAuthError
from driftmgr_tui.discovery.aws.session import AwsClients
from driftmgr_tui.discovery.azure.adapter import AzureSettings
from driftmgr_tui.discovery.model import DiscoveredResource
from driftmgr_tui.remediation.cloud_ops import (
    GCP_REASON,
    ApiCall,
    AzureClients,
    DeleteBlocked,
    DeleteDenied,
    DeletePlan,
    UnsupportedDelete,
    azure_client_factory,
    execute_delete,
    plan_delete,
    supported_delete,
)
from tests._fixtures.cloudapi import FakeCloudApi, RecordedRequest, Reply
from tests._fixtures.cloudapi import cloudapi as cloudapi  # the fixture
from tests._fixtures.moto import moto_set_auth
from tests.discovery.aws.helpers import discover_type

REGION = "us-east-1"
IMAGE = "ami-12c6146b"  # one of moto's built-in images
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
POLICY = json.dumps({"Version": "2012-10-17",
                     "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def discovered(terraform_type: str, terraform_id: str) -> DiscoveredResource:
    """The resource as the AWS adapter discovers it."""
    found = [r for r in discover_type(terraform_type) if r.terraform_id == terraform_id]
    assert len(found) == 1, f"{terraform_type} {terraform_id} not discovered"
    return found[0]


def plan_for(terraform_type: str, terraform_id: str) -> DeletePlan:
    resource = discovered(terraform_type, terraform_id)
    return plan_delete("aws", resource.terraform_type, resource.terraform_id, resource.region,
                       resource.attributes)


def run(plan: DeletePlan, **options: Any) -> tuple[list[str], list[str]]:
    """(lines returned, calls announced through on_call)."""
    announced: list[str] = []
    lines = execute_delete(plan, aws=AwsClients(), on_call=announced.append, **options)
    return lines, announced


def error_code(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


# --- S3 -----------------------------------------------------------------------------------------------------


def test_a_versioned_bucket_is_emptied_page_by_page_then_deleted(aws: str) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="old-logs")
    s3.put_bucket_versioning(Bucket="old-logs", VersioningConfiguration={"Status": "Enabled"})
    for key in ("a.log", "b.log", "c.log"):
        s3.put_object(Bucket="old-logs", Key=key, Body=b"one")
        s3.put_object(Bucket="old-logs", Key=key, Body=b"two")
    s3.delete_object(Bucket="old-logs", Key="c.log")  # a delete marker on top of c.log's versions
    listed = s3.list_object_versions(Bucket="old-logs")
    assert len(listed["Versions"]) == 6 and len(listed["DeleteMarkers"]) == 1

    plan = plan_for("aws_s3_bucket", "old-logs")
    assert plan.describe() == [
        "s3 ListObjectVersions Bucket=old-logs",
        "s3 DeleteObjects Bucket=old-logs Delete=<each page of object versions and delete markers>",
        "s3 DeleteBucket Bucket=old-logs",
    ]
    assert any("object version and delete marker" in note for note in plan.notes)
    assert not plan.reversible
    assert plan.reverse_note == "a deleted resource cannot be brought back by driftmgr"

    lines, announced = run(plan, page_size=3)

    deletes = [c for c in announced if c.startswith("s3 DeleteObjects")]
    assert len(deletes) == 3  # 7 entries in pages of 3
    assert announced.count("s3 ListObjectVersions Bucket=old-logs") == 4  # listed again until empty
    assert all("Delete={Objects=[" in c for c in deletes)
    assert announced[0] == "s3 ListObjectVersions Bucket=old-logs"
    assert announced[-1] == "s3 DeleteBucket Bucket=old-logs"
    assert "s3 ListObjectVersions Bucket=old-logs: 7 object versions and delete markers" in lines
    assert lines[-1] == "aws_s3_bucket old-logs: deleted"
    assert error_code(lambda: s3.head_bucket(Bucket="old-logs")) == "404"
    assert "old-logs" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_an_unversioned_bucket_with_objects_is_deleted(aws: str) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="plain-bucket")
    for i in range(4):
        s3.put_object(Bucket="plain-bucket", Key=f"dir/{i}.txt", Body=b"x")

    lines, _ = run(plan_for("aws_s3_bucket", "plain-bucket"))

    assert "s3 DeleteObjects Bucket=plain-bucket: 4 deleted" in lines
    assert error_code(lambda: s3.head_bucket(Bucket="plain-bucket")) == "404"


def test_an_empty_bucket_needs_no_object_deletes(aws: str) -> None:
    client("s3").create_bucket(Bucket="empty-one")
    lines, announced = run(plan_for("aws_s3_bucket", "empty-one"))
    assert announced == ["s3 ListObjectVersions Bucket=empty-one", "s3 DeleteBucket Bucket=empty-one"]
    assert "s3 ListObjectVersions Bucket=empty-one: 0 object versions and delete markers" in lines


# --- EC2 networking -----------------------------------------------------------------------------------------


def _vpc(cidr: str = "10.0.0.0/16") -> str:
    return str(client("ec2").create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"])


def test_security_group(aws: str) -> None:
    ec2 = client("ec2")
    vpc = _vpc()
    group = ec2.create_security_group(GroupName="old-sg", Description="unused", VpcId=vpc)["GroupId"]

    plan = plan_for("aws_security_group", group)
    assert plan.describe() == [f"ec2 DeleteSecurityGroup GroupId={group}"]
    lines, announced = run(plan)

    assert announced == [f"ec2 DeleteSecurityGroup GroupId={group}"]
    assert lines == [f"ec2 DeleteSecurityGroup GroupId={group}: done", f"aws_security_group {group}: deleted"]
    assert error_code(lambda: ec2.describe_security_groups(GroupIds=[group])) == "InvalidGroup.NotFound"


def test_a_security_group_used_by_an_instance_is_deleted_by_moto(aws: str) -> None:
    """AWS refuses (DependencyViolation) to delete a group a network interface uses; moto 5.2 does not check.
    The delete therefore succeeds here: this pins what moto does, so that a moto that starts enforcing it
    shows up. The DependencyViolation path is tested with what moto does enforce (a VPC with a subnet)."""
    ec2 = client("ec2")
    group = ec2.create_security_group(GroupName="in-use", Description="used")["GroupId"]
    ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1, SecurityGroupIds=[group])
    lines, _ = run(plan_for("aws_security_group", group))
    assert lines[-1] == f"aws_security_group {group}: deleted"


def test_a_vpc_with_a_subnet_is_blocked_with_the_apis_message(aws: str) -> None:
    ec2 = client("ec2")
    vpc = _vpc()
    ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")

    plan = plan_for("aws_vpc", vpc)
    with pytest.raises(DeleteBlocked) as caught:
        run(plan)

    message = str(caught.value)
    assert message.startswith(f"aws: cannot delete aws_vpc {vpc}: DependencyViolation: ")
    assert "has dependencies and cannot be deleted" in message and "\n" not in message
    assert caught.value.hint and "delete its subnets" in caught.value.hint
    assert ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"]  # still there


def test_vpc_and_subnet(aws: str) -> None:
    ec2 = client("ec2")
    vpc = _vpc()
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]

    subnet_plan = plan_for("aws_subnet", subnet)
    assert subnet_plan.describe() == [f"ec2 DeleteSubnet SubnetId={subnet}"]
    run(subnet_plan)
    assert error_code(lambda: ec2.describe_subnets(SubnetIds=[subnet])) == "InvalidSubnetID.NotFound"

    vpc_plan = plan_for("aws_vpc", vpc)
    assert vpc_plan.describe() == [f"ec2 DeleteVpc VpcId={vpc}"]
    run(vpc_plan)
    assert error_code(lambda: ec2.describe_vpcs(VpcIds=[vpc])) == "InvalidVpcID.NotFound"


def test_an_internet_gateway_is_detached_from_its_vpc_first(aws: str) -> None:
    ec2 = client("ec2")
    vpc = _vpc()
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc)

    plan = plan_for("aws_internet_gateway", gateway)
    assert plan.describe() == [
        f"ec2 DetachInternetGateway InternetGatewayId={gateway} VpcId={vpc}",
        f"ec2 DeleteInternetGateway InternetGatewayId={gateway}",
    ]
    assert any(vpc in note for note in plan.notes)
    _, announced = run(plan)

    assert announced == plan.describe()
    assert error_code(lambda: ec2.describe_internet_gateways(InternetGatewayIds=[gateway])) \
        == "InvalidInternetGatewayID.NotFound"


def test_a_gateway_attached_after_discovery_is_blocked(aws: str) -> None:
    """The detach steps come from the discovered attributes: an attachment made since is refused by the
    API."""
    ec2 = client("ec2")
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    plan = plan_for("aws_internet_gateway", gateway)
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=_vpc())

    expected = f"cannot delete aws_internet_gateway {gateway}: DependencyViolation"
    with pytest.raises(DeleteBlocked, match=expected):
        run(plan)


def test_an_associated_elastic_ip_is_disassociated_then_released(aws: str) -> None:
    ec2 = client("ec2")
    instance = ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    address = ec2.allocate_address(Domain="vpc")
    answer = ec2.associate_address(AllocationId=address["AllocationId"], InstanceId=instance)
    association = answer["AssociationId"]

    plan = plan_for("aws_eip", address["AllocationId"])
    assert plan.describe() == [
        f"ec2 DisassociateAddress AssociationId={association}",
        f"ec2 ReleaseAddress AllocationId={address['AllocationId']}",
    ]
    assert any(instance in note for note in plan.notes)
    run(plan)
    assert error_code(lambda: ec2.describe_addresses(AllocationIds=[address["AllocationId"]])) \
        == "InvalidAllocationID.NotFound"


# --- EC2 compute --------------------------------------------------------------------------------------------


def test_instance_is_terminated(aws: str) -> None:
    ec2 = client("ec2")
    instance = ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]

    plan = plan_for("aws_instance", instance)
    assert plan.describe() == [f"ec2 TerminateInstances InstanceIds=[{instance}]"]
    run(plan)

    state = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state in ("shutting-down", "terminated")
    assert instance not in [r.terraform_id for r in discover_type("aws_instance")]


def test_volume_and_key_pair(aws: str) -> None:
    ec2 = client("ec2")
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=8)["VolumeId"]
    ec2.create_key_pair(KeyName="old-key")

    volume_plan = plan_for("aws_ebs_volume", volume)
    key_plan = plan_for("aws_key_pair", "old-key")
    assert volume_plan.describe() == [f"ec2 DeleteVolume VolumeId={volume}"]
    assert key_plan.describe() == ["ec2 DeleteKeyPair KeyName=old-key"]
    run(volume_plan)
    run(key_plan)

    assert error_code(lambda: ec2.describe_volumes(VolumeIds=[volume])) == "InvalidVolume.NotFound"
    assert ec2.describe_key_pairs()["KeyPairs"] == []


# --- IAM ----------------------------------------------------------------------------------------------------


def test_a_role_loses_its_policies_and_profiles_then_is_deleted(aws: str) -> None:
    iam = client("iam")
    iam.create_role(RoleName="old-app", AssumeRolePolicyDocument=TRUST)
    managed = iam.create_policy(PolicyName="s3-all", PolicyDocument=POLICY)["Policy"]["Arn"]
    other = iam.create_policy(PolicyName="s3-too", PolicyDocument=POLICY)["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="old-app", PolicyArn=managed)
    iam.attach_role_policy(RoleName="old-app", PolicyArn=other)
    iam.put_role_policy(RoleName="old-app", PolicyName="inline-one", PolicyDocument=POLICY)
    iam.create_instance_profile(InstanceProfileName="old-profile")
    iam.add_role_to_instance_profile(InstanceProfileName="old-profile", RoleName="old-app")

    plan = plan_for("aws_iam_role", "old-app")
    assert plan.describe() == [
        "iam ListAttachedRolePolicies RoleName=old-app",
        "iam DetachRolePolicy RoleName=old-app PolicyArn=<each attached policy>",
        "iam ListRolePolicies RoleName=old-app",
        "iam DeleteRolePolicy RoleName=old-app PolicyName=<each inline policy>",
        "iam ListInstanceProfilesForRole RoleName=old-app",
        "iam RemoveRoleFromInstanceProfile RoleName=old-app InstanceProfileName=<each instance profile>",
        "iam DeleteRole RoleName=old-app",
    ]
    lines, announced = run(plan)

    # each listing is asked again after its items were dealt with, until it comes back empty
    assert announced == [
        "iam ListAttachedRolePolicies RoleName=old-app",
        f"iam DetachRolePolicy RoleName=old-app PolicyArn={managed}",
        f"iam DetachRolePolicy RoleName=old-app PolicyArn={other}",
        "iam ListAttachedRolePolicies RoleName=old-app",
        "iam ListRolePolicies RoleName=old-app",
        "iam DeleteRolePolicy RoleName=old-app PolicyName=inline-one",
        "iam ListRolePolicies RoleName=old-app",
        "iam ListInstanceProfilesForRole RoleName=old-app",
        "iam RemoveRoleFromInstanceProfile RoleName=old-app InstanceProfileName=old-profile",
        "iam ListInstanceProfilesForRole RoleName=old-app",
        "iam DeleteRole RoleName=old-app",
    ]
    assert "iam ListAttachedRolePolicies RoleName=old-app: 2 attached policies" in lines
    assert "iam ListRolePolicies RoleName=old-app: 1 inline policy" in lines
    assert lines[-1] == "aws_iam_role old-app: deleted"
    assert error_code(lambda: iam.get_role(RoleName="old-app")) == "NoSuchEntity"
    # what hung off it is kept, only unlinked
    assert [iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] for arn in (managed, other)] == [0, 0]
    assert iam.get_instance_profile(InstanceProfileName="old-profile")["InstanceProfile"]["Roles"] == []


def test_a_user_loses_keys_policies_groups_and_password_then_is_deleted(aws: str) -> None:
    iam = client("iam")
    iam.create_user(UserName="leaver")
    keys = [iam.create_access_key(UserName="leaver")["AccessKey"]["AccessKeyId"] for _ in range(2)]
    iam.put_user_policy(UserName="leaver", PolicyName="inline", PolicyDocument=POLICY)
    managed = iam.create_policy(PolicyName="user-s3", PolicyDocument=POLICY)["Policy"]["Arn"]
    iam.attach_user_policy(UserName="leaver", PolicyArn=managed)
    iam.create_group(GroupName="devs")
    iam.add_user_to_group(GroupName="devs", UserName="leaver")
    iam.create_login_profile(UserName="leaver", Password="Correct-Horse-9")

    plan = plan_for("aws_iam_user", "leaver")
    preview = plan.describe()
    assert preview[0:2] == ["iam ListAccessKeys UserName=leaver",
                            "iam DeleteAccessKey UserName=leaver AccessKeyId=<each access key>"]
    assert "iam RemoveUserFromGroup UserName=leaver GroupName=<each group>" in preview
    assert preview[-2:] == ["iam DeleteLoginProfile UserName=leaver", "iam DeleteUser UserName=leaver"]

    lines, announced = run(plan)

    assert {f"iam DeleteAccessKey UserName=leaver AccessKeyId={k}" for k in keys} <= set(announced)
    assert "iam DeleteUserPolicy UserName=leaver PolicyName=inline" in announced
    assert f"iam DetachUserPolicy UserName=leaver PolicyArn={managed}" in announced
    assert "iam RemoveUserFromGroup UserName=leaver GroupName=devs" in announced
    assert "iam DeleteLoginProfile UserName=leaver: done" in lines
    assert lines.index("iam ListAccessKeys UserName=leaver: 2 access keys") \
        < lines.index(f"iam DeleteAccessKey UserName=leaver AccessKeyId={keys[0]}: done")
    assert error_code(lambda: iam.get_user(UserName="leaver")) == "NoSuchEntity"
    assert iam.get_group(GroupName="devs")["Users"] == []
    assert iam.get_policy(PolicyArn=managed)["Policy"]["AttachmentCount"] == 0


def test_a_user_without_password_or_keys(aws: str) -> None:
    client("iam").create_user(UserName="bare")
    lines, _ = run(plan_for("aws_iam_user", "bare"))
    assert any(line.startswith("iam DeleteLoginProfile UserName=bare: nothing to do (NoSuchEntity)")
               for line in lines)
    assert "iam ListAccessKeys UserName=bare: 0 access keys" in lines
    assert lines[-1] == "aws_iam_user bare: deleted"


def test_a_policy_loses_its_old_versions_then_is_deleted(aws: str) -> None:
    iam = client("iam")
    arn = iam.create_policy(PolicyName="versions", PolicyDocument=POLICY)["Policy"]["Arn"]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=POLICY, SetAsDefault=True)
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=POLICY, SetAsDefault=False)

    plan = plan_for("aws_iam_policy", arn)
    assert plan.describe() == [
        f"iam ListEntitiesForPolicy PolicyArn={arn}",
        f"iam ListPolicyVersions PolicyArn={arn}",
        f"iam DeletePolicyVersion PolicyArn={arn} VersionId=<each non-default version>",
        f"iam DeletePolicy PolicyArn={arn}",
    ]
    _, announced = run(plan)

    assert sorted(c for c in announced if "DeletePolicyVersion" in c) == [
        f"iam DeletePolicyVersion PolicyArn={arn} VersionId=v1",
        f"iam DeletePolicyVersion PolicyArn={arn} VersionId=v3",
    ]
    assert error_code(lambda: iam.get_policy(PolicyArn=arn)) == "NoSuchEntity"


def test_an_attached_policy_is_not_deleted(aws: str) -> None:
    iam = client("iam")
    arn = iam.create_policy(PolicyName="in-use", PolicyDocument=POLICY)["Policy"]["Arn"]
    iam.create_role(RoleName="user-of-it", AssumeRolePolicyDocument=TRUST)
    iam.attach_role_policy(RoleName="user-of-it", PolicyArn=arn)

    with pytest.raises(DeleteBlocked) as caught:
        run(plan_for("aws_iam_policy", arn))

    assert str(caught.value) == (f"aws: aws_iam_policy {arn} is still attached to role user-of-it; deleting "
                                 "it would change their permissions")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1


# --- queues, topics, data, functions, logs, configuration ---------------------------------------------------


def test_queue_topic_table_function_and_log_group(aws: str) -> None:
    queue = client("sqs").create_queue(QueueName="old-queue")["QueueUrl"]
    topic = client("sns").create_topic(Name="old-topic")["TopicArn"]
    client("dynamodb").create_table(
        TableName="old-table", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    role = client("iam").create_role(RoleName="fn-role", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    client("lambda").create_function(FunctionName="old-fn", Runtime="python3.12", Role=role,
                                     Handler="main.handler", Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18})
    client("logs").create_log_group(logGroupName="/old/app")

    cases = [
        ("aws_sqs_queue", queue, f"sqs DeleteQueue QueueUrl={queue}"),
        ("aws_sns_topic", topic, f"sns DeleteTopic TopicArn={topic}"),
        ("aws_dynamodb_table", "old-table", "dynamodb DeleteTable TableName=old-table"),
        ("aws_lambda_function", "old-fn", "lambda DeleteFunction FunctionName=old-fn"),
        ("aws_cloudwatch_log_group", "/old/app", "logs DeleteLogGroup logGroupName=/old/app"),
    ]
    for terraform_type, terraform_id, preview in cases:
        plan = plan_for(terraform_type, terraform_id)
        assert plan.describe() == [preview]
        assert run(plan)[0][-1] == f"{terraform_type} {terraform_id}: deleted"

    assert client("sqs").list_queues().get("QueueUrls", []) == []
    assert client("sns").list_topics()["Topics"] == []
    assert client("dynamodb").list_tables()["TableNames"] == []
    assert client("lambda").list_functions()["Functions"] == []
    assert client("logs").describe_log_groups()["logGroups"] == []


def test_parameter_repository_secret_and_key(aws: str) -> None:
    client("ssm").put_parameter(Name="/old/param", Value="v", Type="String")
    client("ecr").create_repository(repositoryName="old-repo")
    client("ecr").put_image(repositoryName="old-repo", imageTag="v1", imageManifest=json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
                   "digest": "sha256:" + "a" * 64}, "layers": []}))
    secret = client("secretsmanager").create_secret(Name="old-secret", SecretString="s")["ARN"]
    key = client("kms").create_key(Description="old key")["KeyMetadata"]["KeyId"]

    parameter_plan = plan_for("aws_ssm_parameter", "/old/param")
    repository_plan = plan_for("aws_ecr_repository", "old-repo")
    secret_plan = plan_for("aws_secretsmanager_secret", secret)
    key_plan = plan_for("aws_kms_key", key)
    assert parameter_plan.describe() == ["ssm DeleteParameter Name=/old/param"]
    assert repository_plan.describe() == ["ecr DeleteRepository repositoryName=old-repo force=True"]
    assert secret_plan.describe() == [f"secretsmanager DeleteSecret SecretId={secret} RecoveryWindowInDays=7"]
    assert key_plan.describe() == [f"kms ScheduleKeyDeletion KeyId={key} PendingWindowInDays=7"]
    assert secret_plan.reversible and "restore-secret" in secret_plan.reverse_note
    assert key_plan.reversible and "cancel-key-deletion" in key_plan.reverse_note
    assert not parameter_plan.reversible

    for plan in (parameter_plan, repository_plan, secret_plan, key_plan):
        run(plan)

    assert error_code(lambda: client("ssm").get_parameter(Name="/old/param")) == "ParameterNotFound"
    assert client("ecr").describe_repositories()["repositories"] == []
    assert client("secretsmanager").describe_secret(SecretId=secret)["DeletedDate"]
    assert client("kms").describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingDeletion"


# --- already gone, refused, unsupported ---------------------------------------------------------------------


def test_an_already_deleted_resource_is_a_success(aws: str) -> None:
    ec2 = client("ec2")
    group = ec2.create_security_group(GroupName="gone-soon", Description="x")["GroupId"]
    plan = plan_for("aws_security_group", group)
    ec2.delete_security_group(GroupId=group)

    lines, _ = run(plan)

    assert lines == [f"aws_security_group {group}: already deleted (InvalidGroup.NotFound from ec2 "
                     "DeleteSecurityGroup)"]


def test_an_already_deleted_role_stops_at_the_first_listing(aws: str) -> None:
    iam = client("iam")
    iam.create_role(RoleName="gone-role", AssumeRolePolicyDocument=TRUST)
    plan = plan_for("aws_iam_role", "gone-role")
    iam.delete_role(RoleName="gone-role")

    lines, announced = run(plan)

    assert announced == ["iam ListAttachedRolePolicies RoleName=gone-role"]
    assert lines == [
        "aws_iam_role gone-role: already deleted (NoSuchEntity from iam ListAttachedRolePolicies)"]


def test_an_already_deleted_bucket(aws: str) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="gone-bucket")
    plan = plan_for("aws_s3_bucket", "gone-bucket")
    s3.delete_bucket(Bucket="gone-bucket")
    lines, _ = run(plan)
    assert lines == ["aws_s3_bucket gone-bucket: already deleted (NoSuchBucket from s3 ListObjectVersions)"]


def test_what_aws_made_by_itself_is_refused(aws: str) -> None:
    ec2 = client("ec2")
    default_vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    expected = f"will not delete aws_vpc {default_vpc}: it is a default VPC"
    with pytest.raises(UnsupportedDelete, match=expected):
        plan_for("aws_vpc", default_vpc)
    group = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["default"]},
                                                  {"Name": "vpc-id", "Values": [default_vpc]}])
    group_id = group["SecurityGroups"][0]["GroupId"]
    with pytest.raises(UnsupportedDelete, match="default security group AWS creates with every VPC"):
        plan_for("aws_security_group", group_id)


def test_unsupported_types_say_why() -> None:
    assert supported_delete("aws", "aws_security_group") is None
    assert supported_delete("azure", "azurerm_virtual_network") is None
    assert supported_delete("gcp", "google_compute_instance") == GCP_REASON
    assert "no SDK delete for aws_route53_zone" in str(supported_delete("aws", "aws_route53_zone"))
    assert "does not discover aws_made_up" in str(supported_delete("aws", "aws_made_up"))
    assert "every resource in it" in str(supported_delete("azure", "azurerm_resource_group"))
    assert "unknown provider" in str(supported_delete("oci", "oci_core_instance"))

    with pytest.raises(UnsupportedDelete) as caught:
        plan_delete("gcp", "google_compute_instance", "projects/p/zones/z/instances/i", "europe-west1-b", {})
    assert str(caught.value) == ("gcp: cannot delete google_compute_instance projects/p/zones/z/instances/i: "
                                 + GCP_REASON)
    assert caught.value.reason == str(caught.value)
    with pytest.raises(UnsupportedDelete, match="no SDK delete for aws_route53_zone"):
        plan_delete("aws", "aws_route53_zone", "Z123", "global", {})


def test_access_denied_names_the_call_and_the_resource(aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ec2 = client("ec2")
    group = ec2.create_security_group(GroupName="guarded", Description="x")["GroupId"]
    plan = plan_for("aws_security_group", group)
    iam = client("iam")
    iam.create_user(UserName="read-only-person")
    key = iam.create_access_key(UserName="read-only-person")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    moto_set_auth(aws, 0)  # from now on moto checks every request against its IAM users and policies

    with pytest.raises(DeleteDenied) as caught:
        run(plan)

    message = str(caught.value)
    assert message.startswith(f"aws: not allowed to ec2 DeleteSecurityGroup on aws_security_group {group} (")
    assert "\n" not in message
    assert caught.value.hint and "ec2:DeleteSecurityGroup" in caught.value.hint
    moto_set_auth(aws, float("inf"))
    assert ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"]


def test_rejected_credentials_are_a_provider_auth_error(aws: str) -> None:
    group = client("ec2").create_security_group(GroupName="kept", Description="x")["GroupId"]
    plan = plan_for("aws_security_group", group)
    moto_set_auth(aws, 0)  # the test credentials are no IAM user's: moto rejects them
    with pytest.raises(ProviderAuthError, match=r"^aws: credentials rejected \(AuthFailure: "):
        run(plan)


def test_a_plan_survives_json(aws: str) -> None:
    client("iam").create_role(RoleName="stored", AssumeRolePolicyDocument=TRUST)
    plan = plan_for("aws_iam_role", "stored")
    stored = json.loads(json.dumps(plan.to_json()))
    again = DeletePlan.from_json(stored)
    assert again == plan
    lines, _ = run(again)
    assert lines[-1] == "aws_iam_role stored: deleted"


def test_a_stored_plan_only_makes_its_types_calls(aws: str) -> None:
    group = client("ec2").create_security_group(GroupName="kept-too", Description="x")["GroupId"]
    stored = plan_for("aws_security_group", group).to_json()
    stored["calls"].insert(0, {"service": "ec2", "operation": "TerminateInstances",
                               "params": {"InstanceIds": ["i-0123456789abcdef0"]}})
    announced: list[str] = []
    with pytest.raises(DriftmgrError, match="has unexpected call ec2 TerminateInstances"):
        execute_delete(DeletePlan.from_json(stored), aws=AwsClients(), on_call=announced.append)
    assert announced == []
    assert client("ec2").describe_security_groups(GroupIds=[group])["SecurityGroups"]


def test_describe_formats_values() -> None:
    assert ApiCall("ec2", "DeleteSecurityGroup", {"GroupId": "sg-1"}).describe() \
        == "ec2 DeleteSecurityGroup GroupId=sg-1"
    assert ApiCall("x", "Op", {"Ids": ["a", "b"], "Empty": "", "Many": list(range(9))}).describe() \
        == "x Op Ids=[a,b] Empty='' Many=[9 items]"


# --- Azure --------------------------------------------------------------------------------------------------

SUB = "00000000-1111-2222-3333-444444444444"
VNET = f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-old"
LINK = (f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/privateDnsZones/"
        "example.internal/virtualNetworkLinks/link-a")
PROVIDER_PATH = f"/subscriptions/{SUB}/providers/Microsoft.Network"
OPERATION_PATH = (f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/westeurope/"
                  "operationResults/op-1")


class TokenCredential:
    """What azure-identity credentials offer the SDK: ``get_token``."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("test-token", int(time.time()) + 3600)


def serve_provider(api: FakeCloudApi) -> None:
    api.route(PROVIDER_PATH, {
        "id": PROVIDER_PATH, "namespace": "Microsoft.Network", "registrationState": "Registered",
        "resourceTypes": [
            {"resourceType": "virtualNetworks", "locations": ["West Europe"],
             "apiVersions": ["2024-07-01-preview", "2024-05-01", "2023-09-01"]},
            {"resourceType": "privateDnsZones", "locations": ["global"], "apiVersions": ["2024-06-01"]},
            {"resourceType": "privateDnsZones/virtualNetworkLinks", "locations": ["global"],
             "apiVersions": ["2024-06-01", "2020-06-01", "2018-09-01"]},
        ]})


def serve_async_delete(api: FakeCloudApi, path: str, *, polls_in_progress: int) -> None:
    """ARM's asynchronous delete: 202 with a Location to poll, which answers 202 while the delete runs, then
    200."""
    remaining = [polls_in_progress]
    location = f"{api.url}{OPERATION_PATH}?api-version=2024-05-01"

    def delete(_request: RecordedRequest) -> Reply:
        return Reply(status=202, body=b"", headers={"Location": location})

    def poll(_request: RecordedRequest) -> Reply:
        if remaining[0] > 0:
            remaining[0] -= 1
            return Reply(status=202, body=b"", headers={"Location": location})
        return Reply(status=200, body=b"")

    api.route(path, method="DELETE", handler=delete)
    api.route(OPERATION_PATH, handler=poll)


@pytest.fixture
def azure_clients(cloudapi: FakeCloudApi) -> Iterator[AzureClients]:
    clients = azure_client_factory(credential=TokenCredential(), base_url=cloudapi.url,
                                   settings=AzureSettings(retry_total=0))
    yield clients
    clients.close()


def azure_plan(terraform_type: str = "azurerm_virtual_network", arm_id: str = VNET) -> DeletePlan:
    return plan_delete("azure", terraform_type, arm_id, "westeurope",
                       {"id": arm_id, "location": "westeurope"})


def run_azure(plan: DeletePlan, clients: AzureClients) -> tuple[list[str], list[str]]:
    announced: list[str] = []
    lines = execute_delete(plan, azure_client_factory=clients, on_call=announced.append,
                           azure_polling_interval=0)
    return lines, announced


def test_azure_delete_uses_the_providers_api_version_and_waits_for_the_operation(
        cloudapi: FakeCloudApi, azure_clients: AzureClients) -> None:
    serve_provider(cloudapi)
    serve_async_delete(cloudapi, VNET, polls_in_progress=2)

    plan = azure_plan()
    assert plan.describe() == [
        "arm providers.get resource_provider_namespace=Microsoft.Network",
        f"arm resources.begin_delete_by_id resource_id={VNET} "
        "api_version=<the newest stable api-version the resource provider lists for the type>",
    ]
    lines, announced = run_azure(plan, azure_clients)

    assert announced == ["arm providers.get resource_provider_namespace=Microsoft.Network",
                         f"arm resources.begin_delete_by_id resource_id={VNET} api_version=2024-05-01"]
    assert lines[-1] == f"azurerm_virtual_network {VNET}: deleted"
    deletes = [r for r in cloudapi.requests if r.method == "DELETE"]
    assert [(r.path, r.query.get("api-version")) for r in deletes] == [(VNET, "2024-05-01")]
    assert deletes[0].headers.get("authorization") == "Bearer test-token"
    assert len(cloudapi.requests_to(PROVIDER_PATH)) == 1
    assert len(cloudapi.requests_to(OPERATION_PATH)) == 3  # two "still running", then done


def test_azure_child_resource_uses_its_own_types_version(cloudapi: FakeCloudApi,
                                                          azure_clients: AzureClients) -> None:
    serve_provider(cloudapi)
    cloudapi.route(LINK, method="DELETE", status=200, body=b"")
    lines, _ = run_azure(azure_plan("azurerm_private_dns_zone_virtual_network_link", LINK), azure_clients)
    assert [(r.path, r.query.get("api-version")) for r in cloudapi.requests if r.method == "DELETE"] \
        == [(LINK, "2024-06-01")]
    assert lines[-1] == f"azurerm_private_dns_zone_virtual_network_link {LINK}: deleted"


def test_azure_already_deleted(cloudapi: FakeCloudApi, azure_clients: AzureClients) -> None:
    serve_provider(cloudapi)
    cloudapi.route(VNET, method="DELETE", status=404, body={"error": {
        "code": "ResourceNotFound", "message": "The Resource 'vnet-old' was not found."}})
    lines, _ = run_azure(azure_plan(), azure_clients)
    assert lines[-1] == (f"azurerm_virtual_network {VNET}: already deleted (ResourceNotFound from arm "
                         "resources.begin_delete_by_id)")


def test_azure_in_use_is_blocked(cloudapi: FakeCloudApi, azure_clients: AzureClients) -> None:
    serve_provider(cloudapi)
    cloudapi.route(VNET, method="DELETE", status=409, body={"error": {
        "code": "InUseSubnetCannotBeDeleted", "message": "Subnet snet-a is in use by nic-1."}})
    with pytest.raises(DeleteBlocked) as caught:
        run_azure(azure_plan(), azure_clients)
    assert str(caught.value) == (f"azure: cannot delete azurerm_virtual_network {VNET}: "
                                 "InUseSubnetCannotBeDeleted: Subnet snet-a is in use by nic-1.")


def test_azure_authorization_failed_is_denied(cloudapi: FakeCloudApi, azure_clients: AzureClients) -> None:
    serve_provider(cloudapi)
    cloudapi.route(VNET, method="DELETE", status=403, body={"error": {
        "code": "AuthorizationFailed",
        "message": "The client does not have authorization to perform action "
                   "'Microsoft.Network/virtualNetworks/delete'."}})
    with pytest.raises(DeleteDenied) as caught:
        run_azure(azure_plan(), azure_clients)
    message = str(caught.value)
    assert message.startswith("azure: not allowed to resources.begin_delete_by_id on "
                              f"azurerm_virtual_network {VNET} (AuthorizationFailed: ")
    assert "Microsoft.Network/virtualNetworks/delete" in message


def test_azure_rejected_token_is_a_provider_auth_error(cloudapi: FakeCloudApi,
                                                       azure_clients: AzureClients) -> None:
    cloudapi.route(PROVIDER_PATH, status=401, body={"error": {"code": "InvalidAuthenticationToken",
                                                              "message": "The access token is invalid."}})
    with pytest.raises(ProviderAuthError, match=f"azure: credentials rejected for subscription {SUB}"):
        run_azure(azure_plan(), azure_clients)
    assert [r for r in cloudapi.requests if r.method == "DELETE"] == []


def test_azure_type_the_provider_does_not_list(cloudapi: FakeCloudApi, azure_clients: AzureClients) -> None:
    serve_provider(cloudapi)
    nsg = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-1"
    expected = r"lists no api-version for Microsoft\.Network/networkSecurityGroups"
    with pytest.raises(DriftmgrError, match=expected):
        run_azure(azure_plan("azurerm_network_security_group", nsg), azure_clients)
    assert [r for r in cloudapi.requests if r.method == "DELETE"] == []
