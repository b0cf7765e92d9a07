"""AWS credentials and clients: boto3's own chain, profiles, optional role assumption, regions.

boto3 is imported here, lazily, and nowhere above the discovery adapter. Everything the standard AWS
environment says (``AWS_PROFILE``, ``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL[_<SERVICE>]``,
shared config and credentials files, SSO) is honoured because boto3 honours it: we never read those
variables ourselves.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from driftmgr_tui import __version__
from driftmgr_tui.core.boto import new_boto_session
from driftmgr_tui.core.errors import DriftmgrError, ProviderAuthError, UsageError
from driftmgr_tui.core.models import current_actor

# Error codes that mean "these credentials are not accepted", as opposed to "not allowed to do this".
AUTH_ERROR_CODES = frozenset({
    "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException",
    "UnrecognizedClientException", "InvalidAccessKeyId", "AuthFailure", "InvalidToken",
    "RequestExpired", "IncompleteSignature", "MissingAuthenticationToken",
})
THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
    "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
    "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException",
})
FALLBACK_REGION = "us-east-1"


class ProviderUnavailableError(DriftmgrError):
    """The provider's API could not be reached at all (network, endpoint)."""


@dataclass
class AwsSettings:
    """Client behaviour: botocore's adaptive retry mode (client-side rate limiting) with a few attempts;
    our own backoff (``retry.py``) takes over when throttling outlasts them."""

    max_attempts: int = 3
    retry_mode: str = "adaptive"
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_pool_connections: int = 32


class AwsClients:
    """boto3 clients per (service, region), created once and shared by threads (clients are thread-safe;
    sessions are not, so creation is serialised)."""

    def __init__(self, *, profile: str | None = None, role_arn: str | None = None,
                 settings: AwsSettings | None = None) -> None:
        self.profile = profile
        self.role_arn = role_arn
        self.settings = settings or AwsSettings()
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}
        self._session: Any = None
        self._config: Any = None

    # --- session -------------------------------------------------------------------------------------------

    def session(self) -> Any:
        with self._lock:
            if self._session is None:
                self._session = self._build_session()
            return self._session

    def _build_session(self) -> Any:
        import botocore.exceptions as bex
        from botocore.config import Config

        self._config = Config(
            retries={"mode": self.settings.retry_mode, "total_max_attempts": self.settings.max_attempts},
            connect_timeout=self.settings.connect_timeout,
            read_timeout=self.settings.read_timeout,
            max_pool_connections=self.settings.max_pool_connections,
            user_agent_extra=f"driftmgr/{__version__}",
        )
        try:
            session = new_boto_session(profile_name=self.profile)
        except bex.ProfileNotFound as exc:
            raise auth_error_from(exc) from None
        if self.role_arn:
            session = self._assume_role(session)
        return session

    def _assume_role(self, base: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        sts = base.client("sts", region_name=base.region_name or FALLBACK_REGION, config=self._config)
        user = current_actor().split("@", 1)[0]
        try:
            answer = sts.assume_role(RoleArn=self.role_arn, RoleSessionName=f"driftmgr-{user}"[:64])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise ProviderAuthError(
                f"aws: cannot assume role {self.role_arn}: {code}: {_message(exc)}",
                hint="check the role's trust policy allows your principal, and that the ARN is right",
            ) from None
        except BotoCoreError as exc:
            raise auth_error_from(exc) from None
        creds = answer["Credentials"]
        return new_boto_session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=base.region_name,
        )

    @property
    def default_region(self) -> str | None:
        return self.session().region_name

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        client = self._clients.get(key)
        if client is not None:
            return client
        session = self.session()
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = session.client(service, region_name=region, config=self._config)
                self._clients[key] = client
            return client

    # --- who am I, where ------------------------------------------------------------------------------------

    def identity(self) -> tuple[str, str]:
        """(account id, principal ARN), or ProviderAuthError with one line saying what to fix."""
        from botocore.exceptions import BotoCoreError, ClientError

        region = self.default_region or FALLBACK_REGION
        try:
            answer = self.client("sts", region).get_caller_identity()
        except ClientError as exc:
            raise auth_error_from(exc) from None
        except BotoCoreError as exc:
            raise auth_error_from(exc) from None
        return str(answer["Account"]), str(answer.get("Arn", ""))

    def enabled_regions(self) -> list[str]:
        """Every region the account has enabled (``--regions all``)."""
        from botocore.exceptions import BotoCoreError, ClientError

        region = self.default_region or FALLBACK_REGION
        try:
            answer = self.client("ec2", region).describe_regions(AllRegions=False)
        except (ClientError, BotoCoreError) as exc:
            raise auth_error_from(exc) from None
        return sorted(r["RegionName"] for r in answer.get("Regions", []))

    def resolve_regions(self, requested: tuple[str, ...]) -> list[str]:
        if any(r.lower() == "all" for r in requested):
            return self.enabled_regions()
        if requested:
            return list(dict.fromkeys(requested))
        if self.default_region:
            return [self.default_region]
        raise UsageError(
            "aws: no region given and none configured",
            hint="pass --regions us-east-1,eu-west-1 (or 'all'), or set AWS_REGION / a profile region",
        )


def _message(exc: Any) -> str:
    try:
        return str(exc.response.get("Error", {}).get("Message") or exc)
    except AttributeError:
        return str(exc)


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def http_status(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return 0


def is_retryable(exc: BaseException) -> bool:
    """Throttling, 5xx and transient network errors are worth another try; auth and 4xx are not."""
    from botocore.exceptions import (
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
        ResponseStreamingError,
    )
    from botocore.parsers import ResponseParserError

    if isinstance(exc, (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError,
                        ConnectTimeoutError, ResponseStreamingError)):
        return True
    if isinstance(exc, ResponseParserError):  # an HTML 5xx page from a load balancer, a truncated answer
        return True
    code = error_code(exc)
    if code in THROTTLING_CODES:
        return True
    status = http_status(exc)
    return status == 429 or status >= 500


def auth_error_from(exc: BaseException) -> DriftmgrError:
    """One line naming the provider and what to fix, for a failure to authenticate or reach AWS."""
    import botocore.exceptions as bex

    if isinstance(exc, bex.NoCredentialsError):
        return ProviderAuthError(
            "aws: no credentials found",
            hint="set AWS_PROFILE (or pass --profile), run `aws sso login`, or export AWS_ACCESS_KEY_ID and "
                 "AWS_SECRET_ACCESS_KEY",
        )
    if isinstance(exc, bex.ProfileNotFound):  # raised when the profile is first read, not at Session()
        return ProviderAuthError(
            f"aws: profile {exc.kwargs.get('profile')!r} is not in your AWS config",
            hint="check ~/.aws/config and ~/.aws/credentials, or drop --profile to use the default chain",
        )
    if isinstance(exc, bex.NoRegionError):
        return UsageError("aws: no region configured", hint="pass --regions or set AWS_REGION")
    if isinstance(exc, (bex.SSOTokenLoadError, bex.UnauthorizedSSOTokenError, bex.TokenRetrievalError)):
        return ProviderAuthError(f"aws: SSO session expired or missing ({exc})",
                                 hint="run `aws sso login` for this profile")
    if isinstance(exc, bex.ClientError):
        code = error_code(exc)
        if code in AUTH_ERROR_CODES or http_status(exc) in (401, 403) or code == "AccessDenied":
            return ProviderAuthError(
                f"aws: credentials rejected ({code}: {_message(exc)})",
                hint="check the access key / session token (expired?) or the profile in use (AWS_PROFILE)",
            )
        return ProviderUnavailableError(f"aws: {code or 'error'}: {_message(exc)}")
    if isinstance(exc, (bex.EndpointConnectionError, bex.ConnectTimeoutError, bex.ConnectionClosedError)):
        return ProviderUnavailableError(
            f"aws: cannot reach the AWS API ({exc})",
            hint="check the network, proxy settings and AWS_ENDPOINT_URL",
        )
    return ProviderUnavailableError(f"aws: {type(exc).__name__}: {exc}")
