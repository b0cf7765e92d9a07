"""Deleting an unmanaged cloud resource with the cloud's own API: the remediation ``delete`` strategy.

An *unmanaged* resource exists in the cloud and in no Terraform state. Deleting it is the one strategy that
cannot be taken back, so this module says, before anything runs, exactly which API calls a delete makes
(:func:`plan_delete`, for the preview), whether a type can be deleted at all and why not
(:func:`supported_delete`), and then makes those calls (:func:`execute_delete`).

A plan is a list of :class:`ApiCall` in the order they run. Three kinds appear in it:

- an ordinary call, run as it is (``ec2 DeleteSecurityGroup GroupId=sg-1``);
- a *listing* (``iam ListAttachedRolePolicies RoleName=app``), run at execute time: what a resource still
  holds (policies, access keys, object versions) is looked up when the delete runs, not when the plan was
  made, so nothing attached in between is missed. After the calls for a page of items, the listing is asked
  again from the start, until nothing is left;
- a call *for each* item the listing before it found (``iam DetachRolePolicy RoleName=app
  PolicyArn=<each attached policy>``); the preview shows the parameter the item fills in.

Plans are plain data (``to_json``/``from_json``): one can be stored with a remediation action, shown, and
executed later. Execution maps every failure to one clear :class:`DriftmgrError` (access denied naming the
call and the resource, a dependency still using the resource, rejected credentials); a resource that is
already gone counts as deleted.

AWS types are deleted with boto3; any Azure resource but a resource group through Azure Resource Manager's
generic delete (``resources.begin_delete_by_id`` with the api-version its resource provider lists); Google
Cloud resources are not deleted. Cloud SDKs are imported inside the functions that use them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from driftmgr_tui.core.errors import DriftmgrError, TransientError, UsageError
from driftmgr_tui.discovery.registry import registry

if TYPE_CHECKING:
    from driftmgr_tui.discovery.aws.session import AwsClients

OnCall = Callable[[str], None]
AzureClientFactory = Callable[[str], Any]  # subscription id -> azure-mgmt-resource ResourceManagementClient

NOT_REVERSIBLE = "a deleted resource cannot be brought back by driftmgr"
GCP_REASON = "delete through the Google console or gcloud; driftmgr does not delete GCP resources"
AWS_GLOBAL_REGIONS = frozenset({"", "global", "aws-global"})
S3_MAX_DELETE = 1000  # DeleteObjects takes at most 1000 keys per request


# --- errors -------------------------------------------------------------------------------------------------

class UnsupportedDelete(UsageError):
    """driftmgr cannot delete this resource; ``reason`` says why and what to use instead."""

    def __init__(self, reason: str, *, hint: str | None = None) -> None:
        super().__init__(reason, hint=hint)
        self.reason = reason


class DeleteDenied(DriftmgrError):
    """The credentials work but may not make one of the delete's calls (AccessDenied, UnauthorizedOperation,
    ARM's AuthorizationFailed). The message names the call and the resource; the hint the permission."""


class DeleteBlocked(DriftmgrError):
    """Something still uses the resource (DependencyViolation, DeleteConflict, a 409 from ARM): the message
    carries the cloud's own explanation, the hint what to remove first."""


# --- plans --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ApiCall:
    """One cloud API call: ``service`` (boto3 service name, or ``arm`` for Azure Resource Manager),
    ``operation`` (the API's name, ``DeleteSecurityGroup``; for ARM the SDK's method,
    ``resources.begin_delete_by_id``) and its parameters."""

    service: str
    operation: str
    params: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """``ec2 DeleteSecurityGroup GroupId=sg-1``. A call repeated per listed item shows the parameters the
        item fills in (``PolicyArn=<each attached policy>``); a call completed at run time, what completes
        it."""
        parts = [self.service, self.operation]
        parts += [f"{key}={_show(value)}" for key, value in self.params.items()]
        each = _EACH.get((self.service, self.operation))
        if each is not None:
            parts += [f"{name}=<each {each.label}>" for name in each.item_params if name not in self.params]
        for name, what in _FILLED_AT_RUN.get((self.service, self.operation), {}).items():
            if name not in self.params:
                parts.append(f"{name}=<{what}>")
        return " ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"service": self.service, "operation": self.operation, "params": self.params}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ApiCall:
        return cls(service=str(data["service"]), operation=str(data["operation"]),
                   params=dict(data.get("params") or {}))


@dataclass(frozen=True)
class DeletePlan:
    """What deleting one resource does: the calls in order and what a user should know (``notes``)."""

    provider: str
    terraform_type: str
    terraform_id: str
    region: str
    calls: list[ApiCall]
    notes: list[str] = field(default_factory=list)
    reversible: bool = False
    reverse_note: str = NOT_REVERSIBLE

    def describe(self) -> list[str]:
        """The preview: one line per call."""
        return [call.describe() for call in self.calls]

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider, "terraform_type": self.terraform_type,
            "terraform_id": self.terraform_id, "region": self.region,
            "calls": [c.to_json() for c in self.calls], "notes": list(self.notes),
            "reversible": self.reversible, "reverse_note": self.reverse_note,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeletePlan:
        return cls(
            provider=str(data["provider"]), terraform_type=str(data["terraform_type"]),
            terraform_id=str(data["terraform_id"]), region=str(data.get("region") or ""),
            calls=[ApiCall.from_json(c) for c in data.get("calls") or ()],
            notes=[str(n) for n in data.get("notes") or ()],
            reversible=bool(data.get("reversible", False)),
            reverse_note=str(data.get("reverse_note") or NOT_REVERSIBLE),
        )


def _show(value: Any) -> str:
    """A parameter value for a one-line preview: scalars as they are, short lists in full, long ones
    counted."""
    if isinstance(value, str):
        return repr(value) if not value or any(c.isspace() for c in value) else value
    if isinstance(value, bool | int | float) or value is None:
        return str(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}={_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        if len(value) <= 5 and all(isinstance(v, str | int | float) for v in value):
            return "[" + ",".join(_show(v) for v in value) + "]"
        return f"[{len(value)} items]"
    return str(value)


# --- listings and the calls that use their items ------------------------------------------------------------

@dataclass(frozen=True)
class _Listing:
    """A listing call: where its items are in each page (several keys are read in order), what one item is
    called, and for a *check* listing the message when it finds anything (the delete then stops)."""

    items: tuple[str, ...]
    label: str
    refuse: Callable[[str, str, list[Any]], str] | None = None
    plural: str = ""

    def count(self, n: int) -> str:
        if n == 1:
            return f"1 {self.label}"
        consonant_y = self.label.endswith("y") and self.label[-2:-1] not in tuple("aeiou")
        plural = self.plural or (self.label[:-1] + "ies" if consonant_y else self.label + "s")
        return f"{n} {plural}"


@dataclass(frozen=True)
class _Each:
    """A call made for each item of the listing ``listing`` right before it: ``build(item)`` gives the
    item's parameters (None skips the item); with ``batch`` set, one call per ``batch`` items instead,
    ``build_batch(items)`` giving the parameters."""

    listing: str
    label: str
    item_params: tuple[str, ...]
    build: Callable[[Any], dict[str, Any] | None] | None = None
    batch: int = 0
    build_batch: Callable[[list[Any]], dict[str, Any]] | None = None


def _field(name: str, param: str | None = None) -> Callable[[Any], dict[str, Any]]:
    return lambda item: {param or name: item[name]}


def _whole(param: str) -> Callable[[Any], dict[str, Any]]:
    """Listings of plain strings (inline policy names)."""
    return lambda item: {param: item}


def _non_default_version(item: Any) -> dict[str, Any] | None:
    return None if item.get("IsDefaultVersion") else {"VersionId": item["VersionId"]}


def _s3_objects(items: list[Any]) -> dict[str, Any]:
    objects = [{"Key": item["Key"], "VersionId": item["VersionId"]} for item in items]
    return {"Delete": {"Objects": objects, "Quiet": True}}


def _policy_still_attached(terraform_type: str, terraform_id: str, items: list[Any]) -> str:
    names = [_entity_name(item) for item in items]
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return (f"aws: {terraform_type} {terraform_id} is still attached to {shown}; deleting it would change "
            "their permissions")


def _entity_name(item: Mapping[str, Any]) -> str:
    for key, kind in (("RoleName", "role"), ("UserName", "user"), ("GroupName", "group")):
        if key in item:
            return f"{kind} {item[key]}"
    return str(item)


_LISTINGS: dict[tuple[str, str], _Listing] = {
    ("s3", "ListObjectVersions"): _Listing(("Versions", "DeleteMarkers"), "object version or delete marker",
                                            plural="object versions and delete markers"),
    ("iam", "ListAttachedRolePolicies"): _Listing(("AttachedPolicies",), "attached policy"),
    ("iam", "ListRolePolicies"): _Listing(("PolicyNames",), "inline policy"),
    ("iam", "ListInstanceProfilesForRole"): _Listing(("InstanceProfiles",), "instance profile"),
    ("iam", "ListAccessKeys"): _Listing(("AccessKeyMetadata",), "access key"),
    ("iam", "ListSigningCertificates"): _Listing(("Certificates",), "signing certificate"),
    ("iam", "ListSSHPublicKeys"): _Listing(("SSHPublicKeys",), "SSH public key"),
    ("iam", "ListMFADevices"): _Listing(("MFADevices",), "MFA device"),
    ("iam", "ListAttachedUserPolicies"): _Listing(("AttachedPolicies",), "attached policy"),
    ("iam", "ListUserPolicies"): _Listing(("PolicyNames",), "inline policy"),
    ("iam", "ListGroupsForUser"): _Listing(("Groups",), "group"),
    ("iam", "ListEntitiesForPolicy"): _Listing(("PolicyRoles", "PolicyUsers", "PolicyGroups"), "attachment",
                                               refuse=_policy_still_attached),
    ("iam", "ListPolicyVersions"): _Listing(("Versions",), "non-default version"),
}

_EACH: dict[tuple[str, str], _Each] = {
    ("s3", "DeleteObjects"): _Each("ListObjectVersions", "page of object versions and delete markers",
                                   ("Delete",), batch=S3_MAX_DELETE, build_batch=_s3_objects),
    ("iam", "DetachRolePolicy"): _Each("ListAttachedRolePolicies", "attached policy", ("PolicyArn",),
                                       _field("PolicyArn")),
    ("iam", "DeleteRolePolicy"): _Each("ListRolePolicies", "inline policy", ("PolicyName",),
                                       _whole("PolicyName")),
    ("iam", "RemoveRoleFromInstanceProfile"): _Each("ListInstanceProfilesForRole", "instance profile",
                                                    ("InstanceProfileName",), _field("InstanceProfileName")),
    ("iam", "DeleteAccessKey"): _Each("ListAccessKeys", "access key", ("AccessKeyId",),
                                      _field("AccessKeyId")),
    ("iam", "DeleteSigningCertificate"): _Each("ListSigningCertificates", "signing certificate",
                                               ("CertificateId",), _field("CertificateId")),
    ("iam", "DeleteSSHPublicKey"): _Each("ListSSHPublicKeys", "SSH public key", ("SSHPublicKeyId",),
                                         _field("SSHPublicKeyId")),
    ("iam", "DeactivateMFADevice"): _Each("ListMFADevices", "MFA device", ("SerialNumber",),
                                          _field("SerialNumber")),
    ("iam", "DetachUserPolicy"): _Each("ListAttachedUserPolicies", "attached policy", ("PolicyArn",),
                                       _field("PolicyArn")),
    ("iam", "DeleteUserPolicy"): _Each("ListUserPolicies", "inline policy", ("PolicyName",),
                                       _whole("PolicyName")),
    ("iam", "RemoveUserFromGroup"): _Each("ListGroupsForUser", "group", ("GroupName",), _field("GroupName")),
    ("iam", "DeletePolicyVersion"): _Each("ListPolicyVersions", "non-default version", ("VersionId",),
                                          _non_default_version),
}

_FILLED_AT_RUN: dict[tuple[str, str], dict[str, str]] = {
    ("arm", "resources.begin_delete_by_id"): {
        "api_version": "the newest stable api-version the resource provider lists for the type"},
}


# --- AWS: what each type's delete does ----------------------------------------------------------------------

@dataclass(frozen=True)
class _AwsDelete:
    build: Callable[[str, Mapping[str, Any]], tuple[list[ApiCall], list[str]]]
    blocked_hint: str  # what to do when something still uses the resource
    reversible: bool = False
    reverse_note: str = NOT_REVERSIBLE


def _one(service: str, operation: str, param: str, *notes: str,
         extra: Mapping[str, Any] | None = None) -> Callable[..., tuple[list[ApiCall], list[str]]]:
    """A type deleted by one call whose parameter ``param`` is the Terraform id (plus fixed ``extra``)."""

    def build(terraform_id: str, _attributes: Mapping[str, Any]) -> tuple[list[ApiCall], list[str]]:
        return [ApiCall(service, operation, {param: terraform_id, **(extra or {})})], list(notes)

    return build


def _s3_bucket(bucket: str, _attributes: Mapping[str, Any]) -> tuple[list[ApiCall], list[str]]:
    calls = [
        ApiCall("s3", "ListObjectVersions", {"Bucket": bucket}),
        ApiCall("s3", "DeleteObjects", {"Bucket": bucket}),
        ApiCall("s3", "DeleteBucket", {"Bucket": bucket}),
    ]
    notes = [
        "every object in the bucket is deleted first, with every object version and delete marker when the "
        f"bucket is (or was) versioned: listed page by page when the delete runs, up to {S3_MAX_DELETE} per "
        "request",
        "the objects cannot be recovered; if this bucket holds Terraform state, that state is lost with it",
    ]
    return calls, notes


def _instance(instance_id: str, attributes: Mapping[str, Any]) -> tuple[list[ApiCall], list[str]]:
    notes = ["volumes launched with DeleteOnTermination are deleted with the instance; other attached "
             "volumes are detached and kept",
             "a terminated instance stays visible (state terminated) for about an hour"]
    if attributes.get("RootDeviceType") == "instance-store":
        notes.append("the instance-store root volume and its data are lost")
    return [ApiCall("ec2", "TerminateInstances", {"InstanceIds": [instance_id]})], notes


def _internet_gateway(gateway_id: str, attributes: Mapping[str, Any]) -> tuple[list[ApiCall], list[str]]:
    vpcs = [str(attachment["VpcId"]) for attachment in attributes.get("Attachments") or ()
            if isinstance(attachment, Mapping) and attachment.get("VpcId")]
    calls = [ApiCall("ec2", "DetachInternetGateway", {"InternetGatewayId": gateway_id, "VpcId": vpc})
             for vpc in vpcs]
    calls.append(ApiCall("ec2", "DeleteInternetGateway", {"InternetGatewayId": gateway_id}))
    notes = []
    if vpcs:
        notes.append(f"it is detached from {', '.join(vpcs)} first: instances there lose their route to the "
                     "internet")
    return calls, notes


def _eip(allocation_id: str, attributes: Mapping[str, Any]) -> tuple[list[ApiCall], list[str]]:
    calls, notes = [], []
    association = attributes.get("AssociationId")
    if association:
        target = (attributes.get("InstanceId") or attributes.get("NetworkInterfaceId")
                  or "its network interface")
        calls.append(ApiCall("ec2", "DisassociateAddress", {"AssociationId": association}))
        notes.append(f"the address is disassociated from {target} first")
    calls.append(ApiCall("ec2", "ReleaseAddress", {"AllocationId": allocation_id}))
    ip = attributes.get("PublicIp")
    notes.append(f"the public IP address {ip} goes back to AWS's pool" if ip else
                 "the public IP address goes back to AWS's pool")
    return calls, notes


def _iam_role(role: str, _attributes: Mapping[str, Any]) -> tuple[list[ApiCall], list[str]]:
    calls = [
        ApiCall("iam", "ListAttachedRolePolicies", {"RoleName": role}),
        ApiCall("iam", "DetachRolePolicy", {"RoleName": role}),
        ApiCall("iam", "ListRolePolicies", {"RoleName": role}),
        ApiCall("iam", "DeleteRolePolicy", {"RoleName": role}),
        ApiCall("iam", "ListInstanceProfilesForRole", {"RoleName": role}),
        ApiCall("iam", "RemoveRoleFromInstanceProfile", {"RoleName": role}),
        ApiCall("iam", "DeleteRole", {"RoleName": role}),
    ]
    notes = ["managed policies are detached first (the policies are kept), inline policies are deleted, and "
             "the role is removed from its instance profiles (the profiles are kept): all looked up when the "
             "delete runs",
             "anything that assumes the role (instances, functions, other accounts) loses its access"]
    return calls, notes


def _iam_user(user: str, _attributes: Mapping[str, Any]) -> tuple[list[ApiCall], list[str]]:
    calls = [
        ApiCall("iam", "ListAccessKeys", {"UserName": user}),
        ApiCall("iam", "DeleteAccessKey", {"UserName": user}),
        ApiCall("iam", "ListSigningCertificates", {"UserName": user}),
        ApiCall("iam", "DeleteSigningCertificate", {"UserName": user}),
        ApiCall("iam", "ListSSHPublicKeys", {"UserName": user}),
        ApiCall("iam", "DeleteSSHPublicKey", {"UserName": user}),
        ApiCall("iam", "ListMFADevices", {"UserName": user}),
        ApiCall("iam", "DeactivateMFADevice", {"UserName": user}),
        ApiCall("iam", "ListAttachedUserPolicies", {"UserName": user}),
        ApiCall("iam", "DetachUserPolicy", {"UserName": user}),
        ApiCall("iam", "ListUserPolicies", {"UserName": user}),
        ApiCall("iam", "DeleteUserPolicy", {"UserName": user}),
        ApiCall("iam", "ListGroupsForUser", {"UserName": user}),
        ApiCall("iam", "RemoveUserFromGroup", {"UserName": user}),
        ApiCall("iam", "DeleteLoginProfile", {"UserName": user}),
        ApiCall("iam", "DeleteUser", {"UserName": user}),
    ]
    notes = ["the user's access keys, signing certificates and SSH keys are deleted, MFA devices "
             "deactivated, managed policies detached (kept), inline policies deleted, group memberships "
             "removed (groups kept) and the console password deleted first: all looked up when the delete "
             "runs",
             "anything using the user's access keys stops working at once"]
    return calls, notes


def _iam_policy(arn: str, _attributes: Mapping[str, Any]) -> tuple[list[ApiCall], list[str]]:
    calls = [
        ApiCall("iam", "ListEntitiesForPolicy", {"PolicyArn": arn}),
        ApiCall("iam", "ListPolicyVersions", {"PolicyArn": arn}),
        ApiCall("iam", "DeletePolicyVersion", {"PolicyArn": arn}),
        ApiCall("iam", "DeletePolicy", {"PolicyArn": arn}),
    ]
    notes = ["the delete stops if the policy is attached to any role, user or group (it would change their "
             "permissions)", "its non-default versions are deleted first"]
    return calls, notes


_AWS_DELETES: dict[str, _AwsDelete] = {
    "aws_s3_bucket": _AwsDelete(
        _s3_bucket, "something wrote new objects while the bucket was emptied; run the delete again"),
    "aws_security_group": _AwsDelete(
        _one("ec2", "DeleteSecurityGroup", "GroupId"),
        "a network interface (an instance, load balancer, Lambda function...) or another group's rule still "
        "uses it: change or delete those first"),
    "aws_instance": _AwsDelete(
        _instance, "turn off its termination protection (DisableApiTermination) first"),
    "aws_vpc": _AwsDelete(
        _one("ec2", "DeleteVpc", "VpcId",
             "its default security group, network ACL and main route table go with it"),
        "delete its subnets, gateways, endpoints, route tables, security groups and network interfaces first "
        "(driftmgr deletes one resource at a time)"),
    "aws_subnet": _AwsDelete(
        _one("ec2", "DeleteSubnet", "SubnetId"),
        "terminate or move what runs in it (instances, network interfaces, NAT gateways, endpoints) first"),
    "aws_internet_gateway": _AwsDelete(
        _internet_gateway, "release the public addresses (EIPs, public instances) in its VPC first"),
    "aws_iam_role": _AwsDelete(
        _iam_role, "the role still has something driftmgr does not remove: check it in the IAM console"),
    "aws_iam_user": _AwsDelete(
        _iam_user, "the user still has something driftmgr does not remove (service-specific credentials, a "
                   "virtual MFA device): remove it in the IAM console"),
    "aws_iam_policy": _AwsDelete(_iam_policy, "detach the policy from every role, user and group first"),
    "aws_sqs_queue": _AwsDelete(
        _one("sqs", "DeleteQueue", "QueueUrl",
             "the messages in the queue are lost; a queue of the same name cannot be created for 60 seconds"),
        "remove what still uses the queue first"),
    "aws_sns_topic": _AwsDelete(
        _one("sns", "DeleteTopic", "TopicArn", "the topic's subscriptions are deleted with it"),
        "remove what still publishes to the topic first"),
    "aws_dynamodb_table": _AwsDelete(
        _one("dynamodb", "DeleteTable", "TableName",
             "every item in the table is lost (on-demand backups are kept); if it is a Terraform lock table, "
             "state locking stops working"),
        "turn off the table's deletion protection, or wait until it is ACTIVE"),
    "aws_lambda_function": _AwsDelete(
        _one("lambda", "DeleteFunction", "FunctionName",
             "every version and alias of the function goes with it"),
        "remove what still uses the function first"),
    "aws_cloudwatch_log_group": _AwsDelete(
        _one("logs", "DeleteLogGroup", "logGroupName", "every log event in the group is lost"),
        "remove what still writes to the log group first"),
    "aws_ebs_volume": _AwsDelete(
        _one("ec2", "DeleteVolume", "VolumeId", "the volume's data is lost (its snapshots are kept)"),
        "detach the volume from its instance first"),
    "aws_eip": _AwsDelete(_eip, "disassociate the address from its instance or network interface first"),
    "aws_key_pair": _AwsDelete(
        _one("ec2", "DeleteKeyPair", "KeyName", "running instances launched with it keep working"),
        "remove what still uses the key pair first"),
    "aws_ssm_parameter": _AwsDelete(
        _one("ssm", "DeleteParameter", "Name", "every version of the parameter is lost"),
        "remove what still uses the parameter first"),
    "aws_ecr_repository": _AwsDelete(
        _one("ecr", "DeleteRepository", "repositoryName", "every image in the repository is deleted with it",
             extra={"force": True}),
        "remove what still uses the repository first"),
    "aws_secretsmanager_secret": _AwsDelete(
        _one("secretsmanager", "DeleteSecret", "SecretId",
             "the secret is scheduled for deletion in 7 days (the shortest recovery window) and unusable "
             "meanwhile",
             extra={"RecoveryWindowInDays": 7}),
        "remove what still uses the secret first", reversible=True,
        reverse_note="recoverable for 7 days: `aws secretsmanager restore-secret --secret-id ID`"),
    "aws_kms_key": _AwsDelete(
        _one("kms", "ScheduleKeyDeletion", "KeyId",
             "the key is scheduled for deletion in 7 days (the shortest waiting period) and disabled "
             "meanwhile; once deleted, everything encrypted with it can no longer be decrypted",
             extra={"PendingWindowInDays": 7}),
        "remove what still uses the key first", reversible=True,
        reverse_note="recoverable for 7 days: `aws kms cancel-key-deletion --key-id ID`, then enable the "
                     "key"),
}

# Error codes, by meaning. A code ending in ".NotFound" (EC2) or containing "NotFound" is "gone" as well.
_NOT_FOUND = frozenset({
    "NoSuchBucket", "NoSuchEntity", "NoSuchKey", "NoSuchVersion", "ResourceNotFoundException", "NotFound",
    "NotFoundException", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "ParameterNotFound",
    "RepositoryNotFoundException", "InvalidAllocationID.NotFound", "InvalidAssociationID.NotFound",
})
_NOTHING_TO_UNDO = frozenset({"Gateway.NotAttached", "InvalidAddress.NotAssociated"})
_ACCESS_DENIED = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Client.UnauthorizedOperation",
    "AuthorizationError", "UnauthorizedAccess", "Forbidden",
})
_BLOCKED = frozenset({
    "DependencyViolation", "DeleteConflict", "BucketNotEmpty", "VolumeInUse", "InvalidIPAddress.InUse",
    "ResourceInUseException", "ResourceConflictException", "OperationNotPermitted", "InvalidGroup.InUse",
    "CannotDelete", "RepositoryNotEmptyException", "KMSInvalidStateException", "InvalidStateException",
})
# IAM actions whose name differs from the API operation, for the access-denied hint.
_IAM_ACTION = {
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "DeleteObjects"): "s3:DeleteObject and s3:DeleteObjectVersion",
}


def _is_not_found(code: str) -> bool:
    return code in _NOT_FOUND or code.endswith(".NotFound") or code.endswith("NotFoundException")


# --- what can be deleted ------------------------------------------------------------------------------------

def supported_delete(provider: str, terraform_type: str) -> str | None:
    """None when driftmgr can delete resources of ``terraform_type``, else the reason it cannot (one line
    saying what to use instead)."""
    if provider == "gcp":
        return GCP_REASON
    if provider not in ("aws", "azure"):
        return f"unknown provider {provider!r}: driftmgr deletes AWS and Azure resources only"
    mapping = registry().by_terraform_type(terraform_type)
    if mapping is None or mapping.provider != provider:
        return f"driftmgr does not discover {terraform_type}, so it has no delete for it"
    if provider == "aws":
        if terraform_type not in _AWS_DELETES:
            return (f"driftmgr has no SDK delete for {terraform_type}; delete it with the AWS console or "
                    "CLI, or import it into Terraform and destroy it there")
        return None
    if terraform_type == "azurerm_resource_group":
        return ("deleting a resource group deletes every resource in it, including any Terraform manages; "
                "check its contents and delete it with `az group delete` or the portal")
    return None


def plan_delete(provider: str, terraform_type: str, terraform_id: str, region: str,
                attributes: Mapping[str, Any] | None) -> DeletePlan:
    """The calls deleting one discovered resource makes, in order, with notes for the preview. Makes no API
    call. :class:`UnsupportedDelete` when the type (or this object: a default VPC, an AWS-managed key) cannot
    be deleted by driftmgr."""
    reason = supported_delete(provider, terraform_type)
    if reason is not None:
        raise UnsupportedDelete(f"{provider}: cannot delete {terraform_type} {terraform_id}: {reason}")
    if not terraform_id:
        raise UsageError(f"{provider}: {terraform_type}: no id to delete")
    attributes = attributes or {}
    mapping = registry().by_terraform_type(terraform_type)
    made_by_cloud = getattr(mapping, "default", None)
    default = made_by_cloud(attributes) if callable(made_by_cloud) and attributes else None
    if default:
        raise UnsupportedDelete(f"{provider}: will not delete {terraform_type} {terraform_id}: "
                                f"it is a {default}",
                                hint="the cloud made it by itself; it is not an unmanaged leftover")
    if provider == "azure":
        return _plan_azure(terraform_type, terraform_id, region, attributes)
    spec = _AWS_DELETES[terraform_type]
    calls, notes = spec.build(terraform_id, attributes)
    return DeletePlan(provider="aws", terraform_type=terraform_type, terraform_id=terraform_id, region=region,
                      calls=calls, notes=notes, reversible=spec.reversible, reverse_note=spec.reverse_note)


# --- running a plan -----------------------------------------------------------------------------------------

def execute_delete(plan: DeletePlan, *, aws: AwsClients | None = None,
                   azure_client_factory: AzureClientFactory | None = None,
                   on_call: OnCall | None = None, page_size: int | None = None,
                   azure_polling_interval: float | None = None) -> list[str]:
    """Make the plan's calls in order, calling ``on_call(call.describe())`` before each request; returns lines
    saying what happened. A resource that is already gone is a success ("already deleted").

    ``aws`` is an :class:`~driftmgr_tui.discovery.aws.session.AwsClients` (the default credential chain when
    None); ``azure_client_factory`` maps a subscription id to a ResourceManagementClient (the default
    credential and ARM endpoint when None, see :func:`azure_client_factory`). ``page_size`` caps each page of
    a listing (the API's default when None); ``azure_polling_interval`` is the wait between polls of ARM's
    asynchronous delete when ARM does not say (``Retry-After``)."""
    notify = on_call or (lambda _line: None)
    if plan.provider == "aws":
        return _AwsRun(plan, aws, notify, page_size).run()
    if plan.provider == "azure":
        return _run_azure(plan, azure_client_factory, notify, azure_polling_interval)
    reason = supported_delete(plan.provider, plan.terraform_type) or f"unknown provider {plan.provider!r}"
    raise UnsupportedDelete(
        f"{plan.provider}: cannot delete {plan.terraform_type} {plan.terraform_id}: {reason}")


# The reverse of a recoverable delete: (service, [(operation, id parameter)]) made in order
_UNDO: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "aws_secretsmanager_secret": ("secretsmanager", [("restore_secret", "SecretId")]),
    "aws_kms_key": ("kms", [("cancel_key_deletion", "KeyId"), ("enable_key", "KeyId")]),
}


def undo_delete(plan: DeletePlan, *, aws: AwsClients | None = None, on_call: OnCall | None = None) -> list[str]:
    """Bring back a resource whose delete is recoverable (a secret in its recovery window, a KMS key pending
    deletion) with the reverse API calls; lines saying what happened. NotReversible-style DriftmgrError when
    the plan's delete cannot be undone, or the cloud refuses (the window has passed)."""
    undo = _UNDO.get(plan.terraform_type) if plan.provider == "aws" and plan.reversible else None
    if undo is None:
        raise DriftmgrError(f"{plan.terraform_type} {plan.terraform_id}: {plan.reverse_note}")
    from botocore.exceptions import BotoCoreError, ClientError

    from driftmgr_tui.discovery.aws.session import AwsClients, auth_error_from

    clients = aws or AwsClients()
    service, calls = undo
    client = clients.client(service, plan.region or clients.default_region or "us-east-1")
    lines = []
    for operation, param in calls:
        call = ApiCall(service, "".join(part.title() for part in operation.split("_")), {param: plan.terraform_id})
        if on_call is not None:
            on_call(call.describe())
        try:
            getattr(client, operation)(**{param: plan.terraform_id})
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise DriftmgrError(f"{call.describe()} failed: {error.get('Code', '')}: {error.get('Message', '')}",
                                hint="past the recovery window a deleted resource cannot come back") from None
        except BotoCoreError as exc:
            raise auth_error_from(exc) from None
        lines.append(f"{call.describe()}: done")
    lines.append(f"{plan.terraform_type} {plan.terraform_id} is back")
    return lines


class _Gone(Exception):
    """A call answered "no such thing"."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class _AwsRun:
    def __init__(self, plan: DeletePlan, aws: AwsClients | None, on_call: OnCall,
                 page_size: int | None) -> None:
        self.plan = plan
        self.on_call = on_call
        self.page_size = page_size
        self.lines: list[str] = []
        if aws is None:
            from driftmgr_tui.discovery.aws.session import AwsClients

            aws = AwsClients()
        self.aws = aws
        self._region: str | None = None

    @property
    def what(self) -> str:
        return f"{self.plan.terraform_type} {self.plan.terraform_id}"

    def run(self) -> list[str]:
        calls = self.plan.calls
        _check_aws_plan(self.plan)
        i = 0
        while i < len(calls):
            call = calls[i]
            key = (call.service, call.operation)
            try:
                if key in _LISTINGS:
                    users = []
                    j = i + 1
                    while j < len(calls) and (each := _EACH.get((calls[j].service, calls[j].operation))) \
                            and each.listing == call.operation:
                        users.append(calls[j])
                        j += 1
                    self._listing(call, _LISTINGS[key], users)
                    i = j
                    continue
                if key in _EACH:
                    raise DriftmgrError(f"aws: malformed delete plan for {self.what}: {call.describe()} "
                                        f"does not follow its listing {_EACH[key].listing}")
                last = i == len(calls) - 1
                try:
                    self._invoke(call)
                    self.lines.append(f"{call.describe()}: done")
                except _Gone as gone:
                    if last:
                        raise
                    self.lines.append(f"{call.describe()}: nothing to do ({gone.code})")
            except _Gone as gone:
                self.lines.append(
                    f"{self.what}: already deleted ({gone.code} from {call.service} {call.operation})")
                return self.lines
            i += 1
        if self.plan.reversible:
            self.lines.append(f"{self.what}: deleted ({self.plan.reverse_note})")
        else:
            self.lines.append(f"{self.what}: deleted")
        return self.lines

    # --- calls ----------------------------------------------------------------------------------------------

    def _region_name(self) -> str:
        if self._region is None:
            region = self.plan.region
            if region in AWS_GLOBAL_REGIONS:
                from driftmgr_tui.discovery.aws.session import FALLBACK_REGION

                region = self.aws.default_region or FALLBACK_REGION
            self._region = region
        return self._region

    def _client(self, service: str) -> Any:
        from botocore.exceptions import BotoCoreError

        from driftmgr_tui.discovery.aws.session import auth_error_from

        try:
            return self.aws.client(service, self._region_name())
        except BotoCoreError as exc:
            raise auth_error_from(exc) from None

    def _invoke(self, call: ApiCall) -> dict[str, Any]:
        from botocore import xform_name

        client = self._client(call.service)
        self.on_call(call.describe())
        try:
            return getattr(client, xform_name(call.operation))(**call.params)
        except Exception as exc:
            raise self._failure(exc, call) from None

    def _pages(self, call: ApiCall, *, first_only: bool = False) -> Iterator[dict[str, Any]]:
        """The listing's pages, requested one at a time (boto3's paginator when there is one); the listing is
        announced once. ``first_only`` stops after the first page."""
        from botocore import xform_name

        client = self._client(call.service)
        method = xform_name(call.operation)
        if client.can_paginate(method):
            config = {"PageSize": self.page_size} if self.page_size else {}
            paginator = client.get_paginator(method)
            pages: Iterator[Any] = iter(paginator.paginate(**call.params, PaginationConfig=config))
        else:
            pages = iter([None])
        self.on_call(call.describe())
        while True:
            try:
                page = next(pages)
                if page is None:
                    page = getattr(client, method)(**call.params)
            except StopIteration:
                return
            except Exception as exc:
                raise self._failure(exc, call) from None
            yield page
            if first_only:
                return

    def _listing(self, call: ApiCall, listing: _Listing, users: Sequence[ApiCall]) -> None:
        """A check listing reads every page and stops the delete if it finds anything. Otherwise: list, make
        the calls for each item of the first page, and list again from the start until no item is left to act
        on (a marker into a listing whose items were just deleted is not reliable, and what appeared meanwhile
        is caught too). An item still listed after its calls succeeded is not retried: the final delete then
        says what is left."""
        if listing.refuse is not None:
            found = [item for page in self._pages(call) for item in _items(page, listing)]
            if found:
                raise DeleteBlocked(listing.refuse(self.plan.terraform_type, self.plan.terraform_id, found),
                                    hint=_AWS_DELETES[self.plan.terraform_type].blocked_hint)
            self.lines.append(f"{call.describe()}: none")
            return
        eaches = [(user, _EACH[(user.service, user.operation)]) for user in users]
        summary_at = len(self.lines)  # the listing's line goes before the lines of the calls it led to
        done: set[str] = set()
        while True:
            page = next(self._pages(call, first_only=True), {})
            fresh = [item for item in _items(page, listing)
                     if _identity(item) not in done and any(_acts_on(each, item) for _, each in eaches)]
            if not fresh:
                break
            for user, each in eaches:
                self._for_each(user, each, fresh)
            done.update(_identity(item) for item in fresh)
        self.lines.insert(summary_at, f"{call.describe()}: {listing.count(len(done))}")

    def _for_each(self, call: ApiCall, each: _Each, items: list[Any]) -> None:
        if each.batch:
            assert each.build_batch is not None
            for start in range(0, len(items), each.batch):
                chunk = items[start:start + each.batch]
                concrete = ApiCall(call.service, call.operation, {**call.params, **each.build_batch(chunk)})
                answer = self._invoke(concrete)
                self._check_batch_errors(concrete, answer)
                self.lines.append(
                    f"{call.service} {call.operation} {_show_static(call)}: {len(chunk)} deleted")
            return
        assert each.build is not None
        for item in items:
            extra = each.build(item)
            if extra is None:
                continue
            concrete = ApiCall(call.service, call.operation, {**call.params, **extra})
            try:
                self._invoke(concrete)
                self.lines.append(f"{concrete.describe()}: done")
            except _Gone as gone:
                self.lines.append(f"{concrete.describe()}: already gone ({gone.code})")

    def _check_batch_errors(self, call: ApiCall, answer: Mapping[str, Any]) -> None:
        """DeleteObjects answers 200 with per-key errors; any is a failure of the delete."""
        errors = [e for e in answer.get("Errors") or () if not _is_not_found(str(e.get("Code", "")))]
        if not errors:
            return
        first = errors[0]
        code, message = str(first.get("Code", "")), str(first.get("Message", ""))
        detail = f"{len(errors)} key(s) failed, first {first.get('Key')!r}: {code}: {message}"
        if code in _ACCESS_DENIED:
            raise DeleteDenied(f"aws: not allowed to {call.service} {call.operation} on {self.what} "
                               f"({detail})", hint=f"grant {_iam_action(call)} on the bucket's objects")
        raise DriftmgrError(f"aws: {call.service} {call.operation} on {self.what} failed: {detail}")

    # --- errors ---------------------------------------------------------------------------------------------

    def _failure(self, exc: BaseException, call: ApiCall) -> BaseException:
        import botocore.exceptions as bex

        from driftmgr_tui.discovery.aws.session import (
            AUTH_ERROR_CODES,
            _message,
            auth_error_from,
            error_code,
            is_retryable,
        )

        if isinstance(exc, DriftmgrError | _Gone):
            return exc
        if not isinstance(exc, bex.ClientError):
            if isinstance(exc, bex.BotoCoreError):
                if is_retryable(exc):
                    return TransientError(f"aws: {call.describe()} failed for {self.what}: {exc}")
                return auth_error_from(exc)
            return DriftmgrError(
                f"aws: {call.describe()} failed for {self.what}: {type(exc).__name__}: {exc}")
        code = error_code(exc)
        message = _message(exc)
        if _is_not_found(code) or code in _NOTHING_TO_UNDO:
            return _Gone(code)
        if code in AUTH_ERROR_CODES:
            return auth_error_from(exc)
        if code in _ACCESS_DENIED:
            return DeleteDenied(
                f"aws: not allowed to {call.service} {call.operation} on {self.what} ({code}: {message})",
                hint=f"grant {_iam_action(call)} to the principal driftmgr runs as, or delete it as someone "
                     "who may")
        if code in _BLOCKED or "InUse" in code or "DependencyViolation" in code:
            return DeleteBlocked(f"aws: cannot delete {self.what}: {code}: {message}",
                                 hint=_AWS_DELETES[self.plan.terraform_type].blocked_hint)
        if is_retryable(exc):
            return TransientError(f"aws: {call.describe()} failed for {self.what}: {code}: {message}")
        return DriftmgrError(f"aws: {call.describe()} failed for {self.what}: {code or 'error'}: {message}")


# What a plan of each type may call: a stored plan is data, and only these operations are ever made from it.
_SAMPLE_ATTRIBUTES = {"Attachments": [{"VpcId": "vpc"}], "AssociationId": "association"}


def _check_aws_plan(plan: DeletePlan) -> None:
    spec = _AWS_DELETES.get(plan.terraform_type)
    if spec is None:
        reason = supported_delete("aws", plan.terraform_type) or "unknown type"
        raise UnsupportedDelete(f"aws: cannot delete {plan.terraform_type} {plan.terraform_id}: {reason}")
    allowed = {(c.service, c.operation) for c in spec.build(plan.terraform_id, _SAMPLE_ATTRIBUTES)[0]}
    unexpected = [c.describe() for c in plan.calls if (c.service, c.operation) not in allowed]
    if unexpected or not plan.calls:
        what = f"unexpected call {unexpected[0]}" if unexpected else "no calls"
        raise DriftmgrError(f"aws: the delete plan for {plan.terraform_type} {plan.terraform_id} has {what}",
                            hint="make the plan again from the discovered resource")


def _items(page: Mapping[str, Any], listing: _Listing) -> list[Any]:
    return [item for key in listing.items for item in page.get(key) or ()]


def _identity(item: Any) -> str:
    return json.dumps(item, sort_keys=True, default=str)


def _acts_on(each: _Each, item: Any) -> bool:
    return bool(each.batch) or (each.build is not None and each.build(item) is not None)


def _show_static(call: ApiCall) -> str:
    return " ".join(f"{key}={_show(value)}" for key, value in call.params.items() if key != "Delete")


def _iam_action(call: ApiCall) -> str:
    return _IAM_ACTION.get((call.service, call.operation), f"{call.service}:{call.operation}")


# --- Azure --------------------------------------------------------------------------------------------------

_STABLE_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _plan_azure(terraform_type: str, terraform_id: str, region: str,
                attributes: Mapping[str, Any]) -> DeletePlan:
    from driftmgr_tui.discovery.azure.ids import ArmIdError, parse_arm_id

    try:
        arm_id = parse_arm_id(terraform_id)
    except ArmIdError as exc:
        raise UsageError(f"azure: cannot delete {terraform_type}: {exc}") from None
    if not arm_id.sections or arm_id.subscription is None:
        raise UnsupportedDelete(f"azure: cannot delete {terraform_type} {terraform_id}: not a resource id")
    resource_id = arm_id.format()
    section = arm_id.sections[-1]
    calls = [
        ApiCall("arm", "providers.get", {"resource_provider_namespace": section.namespace}),
        ApiCall("arm", "resources.begin_delete_by_id", {"resource_id": resource_id}),
    ]
    notes = [f"the api-version is the newest stable one {section.namespace} lists for {arm_id.resource_type}",
             "ARM deletes asynchronously; driftmgr waits until the delete has finished",
             "resources that only belong to it by convention (a VM's disks and network interfaces) are not "
             "deleted with it"]
    return DeletePlan(provider="azure", terraform_type=terraform_type, terraform_id=terraform_id,
                      region=region, calls=calls, notes=notes)


class AzureClients:
    """ResourceManagementClients per subscription, built like discovery builds them (shared token, retries,
    the ARM endpoint from ``DRIFTMGR_AZURE_ARM_ENDPOINT``, plain http for loopback test servers only).
    Call it with a subscription id; ``close()`` when done."""

    def __init__(self, *, credential: Any = None, base_url: str | None = None, settings: Any = None) -> None:
        from driftmgr_tui.discovery.azure.adapter import AzureAdapter
        from driftmgr_tui.discovery.model import Scope

        self._adapter = AzureAdapter(Scope(provider="azure"), credential=credential, base_url=base_url,
                                     settings=settings)

    def __call__(self, subscription: str) -> Any:
        return self._adapter._client(subscription)

    def close(self) -> None:
        self._adapter.close()


def azure_client_factory(*, credential: Any = None, base_url: str | None = None,
                         settings: Any = None) -> AzureClients:
    """A factory for :func:`execute_delete` (``credential``: an azure-identity credential,
    DefaultAzureCredential when None; ``base_url``: the ARM endpoint)."""
    return AzureClients(credential=credential, base_url=base_url, settings=settings)


def _run_azure(plan: DeletePlan, factory: AzureClientFactory | None, on_call: OnCall,
               polling_interval: float | None) -> list[str]:
    from driftmgr_tui.discovery.azure.ids import parse_arm_id

    by_op = {call.operation: call for call in plan.calls if call.service == "arm"}
    provider_call = by_op.get("providers.get")
    delete_call = by_op.get("resources.begin_delete_by_id")
    if provider_call is None or delete_call is None:
        raise DriftmgrError(f"azure: malformed delete plan for {plan.terraform_type} {plan.terraform_id}")
    resource_id = str(delete_call.params["resource_id"])
    arm_id = parse_arm_id(resource_id)
    subscription = str(arm_id.subscription)
    what = f"{plan.terraform_type} {plan.terraform_id}"
    owned = factory is None
    clients: Any = factory if factory is not None else AzureClients()
    lines: list[str] = []
    try:
        client = clients(subscription)
        on_call(provider_call.describe())
        try:
            provider = client.providers.get(**provider_call.params)
        except Exception as exc:
            raise _azure_failure(exc, provider_call, what, subscription, gone_ok=False) from None
        api_version = _api_version(provider, arm_id.sections[-1], what)
        lines.append(f"{provider_call.describe()}: api-version {api_version} for {arm_id.resource_type}")
        concrete = ApiCall("arm", delete_call.operation, {**delete_call.params, "api_version": api_version})
        on_call(concrete.describe())
        try:
            options: dict[str, Any] = {}
            if polling_interval is not None:
                options["polling_interval"] = polling_interval
            client.resources.begin_delete_by_id(resource_id, api_version=api_version, **options).result()
        except Exception as exc:
            failure = _azure_failure(exc, concrete, what, subscription, gone_ok=True)
            if isinstance(failure, _Gone):
                lines.append(f"{what}: already deleted ({failure.code} from arm {concrete.operation})")
                return lines
            raise failure from None
        lines.append(f"{concrete.describe()}: done")
        lines.append(f"{what}: deleted")
        return lines
    finally:
        if owned:
            clients.close()


def _api_version(provider: Any, section: Any, what: str) -> str:
    """The newest stable api-version the provider lists for the section's type (the newest preview when it
    lists no stable one)."""
    wanted = "/".join(t for t, _ in section.types).lower()
    for resource_type in getattr(provider, "resource_types", None) or ():
        if str(resource_type.resource_type or "").lower() == wanted:
            versions = [str(v) for v in resource_type.api_versions or ()]
            stable = [v for v in versions if _STABLE_VERSION.match(v)]
            if stable or versions:
                return max(stable or versions)
    raise DriftmgrError(f"azure: cannot delete {what}: the resource provider {section.namespace} lists no "
                        f"api-version for {section.resource_type}",
                        hint=f"check the provider is registered: `az provider show -n {section.namespace}`")


def _azure_failure(exc: BaseException, call: ApiCall, what: str, subscription: str, *,
                   gone_ok: bool) -> BaseException:
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    from driftmgr_tui.discovery.azure.adapter import (
        _auth_error,
        _error_text,
        _is_connection_failure,
        describe,
        is_retryable,
    )

    if isinstance(exc, DriftmgrError):
        return exc
    status = getattr(exc, "status_code", None)
    if isinstance(exc, ClientAuthenticationError) and status in (None, 401):
        return _auth_error(exc, subscription=subscription)
    if isinstance(exc, HttpResponseError):
        response = getattr(exc, "response", None)
        detail = _error_text(response) if response is not None else ""
        detail = detail or describe(exc)
        if status == 404 and gone_ok:
            return _Gone(detail.split(":", 1)[0] or "404")
        if status == 403:
            return DeleteDenied(f"azure: not allowed to {call.operation} on {what} ({detail})",
                                hint="the identity needs the resource type's delete action (for example "
                                     "through the Contributor role) on the resource or its resource group")
        if status == 409:
            return DeleteBlocked(f"azure: cannot delete {what}: {detail}",
                                 hint="something still uses it or holds a lock on it: remove that first")
        if is_retryable(exc):
            return TransientError(f"azure: {call.operation} failed for {what}: {describe(exc)}")
        return DriftmgrError(f"azure: {call.operation} failed for {what}: {describe(exc)}")
    if _is_connection_failure(exc):
        return TransientError(
            f"azure: cannot reach Azure Resource Manager for {call.operation} on {what} ({exc})")
    return DriftmgrError(f"azure: {call.operation} failed for {what}: {type(exc).__name__}: {exc}")
