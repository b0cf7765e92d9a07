"""Spaces buckets: DigitalOcean's S3-compatible object storage, listed per region with boto3.

API v2 does not list Spaces. Each Spaces region has its own S3 endpoint (``https://nyc3.digitaloceanspaces.com``)
whose ``ListBuckets`` answers the buckets of that region, and it takes Spaces keys (an access key id and a
secret key), not the API token. As the digitalocean Terraform provider does, every Spaces region is asked;
the region a bucket is listed in is its region.

Keys come from the config (``[digitalocean] spaces_access_id`` and ``spaces_key_secret``, a keyring
reference), else from SPACES_ACCESS_KEY_ID / SPACES_SECRET_ACCESS_KEY. The endpoint is
``SPACES_ENDPOINT_URL`` when set (``{region}`` or the provider's ``{{.Region}}`` stands for the region).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from driftmgr_tui import __version__
from driftmgr_tui.core.errors import DriftmgrError, ProviderAuthError, UsageError
from driftmgr_tui.core.net import is_loopback_host
from driftmgr_tui.discovery.digitalocean.client import DoTaskError, DoUnavailableError
from driftmgr_tui.discovery.model import ScanContext
from driftmgr_tui.discovery.retry import call_with_backoff

# The regions Spaces runs in (the digitalocean provider's list); [digitalocean] spaces_regions overrides it.
SPACES_REGIONS = ("ams3", "blr1", "fra1", "lon1", "nyc3", "sfo2", "sfo3", "sgp1", "syd1")
ENDPOINT_ENV = "SPACES_ENDPOINT_URL"
DEFAULT_ENDPOINT = "https://{region}.digitaloceanspaces.com"
KEY_ID_ENV = "SPACES_ACCESS_KEY_ID"
SECRET_ENV = "SPACES_SECRET_ACCESS_KEY"
KEYS_HINT = ("create Spaces keys at https://cloud.digitalocean.com/spaces/access_keys, set "
             "[digitalocean] spaces_access_id and store the secret with "
             "`driftmgr config secret set digitalocean.spaces_key_secret`, or set "
             f"{KEY_ID_ENV} and {SECRET_ENV}")
_AUTH_CODES = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "Forbidden",
                         "AuthorizationHeaderMalformed", "InvalidToken", "ExpiredToken"})
_THROTTLE_CODES = frozenset({"SlowDown", "Throttling", "ThrottlingException", "TooManyRequests",
                             "RequestTimeout", "ServiceUnavailable", "InternalError"})


@dataclass(frozen=True)
class SpacesKeys:
    access_id: str
    secret_key: str = field(repr=False)


def endpoint_for(template: str, region: str) -> str:
    """The S3 endpoint of ``region``; plain http only to loopback (local test servers)."""
    url = template.replace("{{.Region}}", region).replace("{region}", region).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UsageError(f"digitalocean: Spaces endpoint {url!r} is not an http(s) URL",
                         hint=f"set {ENDPOINT_ENV} to e.g. {DEFAULT_ENDPOINT}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise UsageError(f"digitalocean: refusing plain http to the Spaces endpoint {parts.hostname}",
                         hint=f"use an https URL in {ENDPOINT_ENV} (plain http is for 127.0.0.1 only)")
    return url


class SpacesLister:
    """``ListBuckets`` per Spaces region, one boto3 client per region (clients are thread-safe)."""

    def __init__(self, keys: SpacesKeys, *, endpoint: str = DEFAULT_ENDPOINT, connect_timeout: float = 10.0,
                 read_timeout: float = 60.0, sdk_retries: int = 3) -> None:
        self.keys = keys
        self.endpoint = endpoint
        self.timeouts = (connect_timeout, read_timeout)
        self.sdk_retries = sdk_retries
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def buckets(self, region: str, ctx: ScanContext) -> list[dict[str, Any]]:
        """The region's buckets as ListBuckets answers them (``Name``, ``CreationDate``)."""
        url = endpoint_for(self.endpoint, region)
        what = f"{region} Spaces ListBuckets"
        client = self._client(region, url)
        try:
            answer = call_with_backoff(what, client.list_buckets, ctx, is_retryable=is_retryable)
        except DriftmgrError:
            raise
        except Exception as exc:
            raise _error(exc, region=region, url=url, what=what) from None
        return [dict(bucket) for bucket in answer.get("Buckets") or ()]

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            close: Callable[[], None] | None = getattr(client, "close", None)
            if close is not None:
                close()

    def _client(self, region: str, url: str) -> Any:
        with self._lock:
            client = self._clients.get(region)
            if client is None:
                import boto3
                import botocore.session
                from botocore.config import Config

                # AWS_PROFILE and the AWS config file are for AWS: this session takes its keys and endpoint
                # from the arguments only.
                core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
                config = Config(connect_timeout=self.timeouts[0], read_timeout=self.timeouts[1],
                                retries={"mode": "standard", "total_max_attempts": self.sdk_retries},
                                user_agent_extra=f"driftmgr/{__version__}")
                client = boto3.session.Session(botocore_session=core).client(
                    "s3", region_name=region, endpoint_url=url, aws_access_key_id=self.keys.access_id,
                    aws_secret_access_key=self.keys.secret_key, config=config)
                self._clients[region] = client
            return client


def is_retryable(exc: BaseException) -> bool:
    """Throttling (``SlowDown``), 5xx, dropped connections and timeouts, after botocore's own retries."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return status == 429 or status >= 500 or exc.response.get("Error", {}).get("Code") in _THROTTLE_CODES
    return isinstance(exc, ConnectionError | HTTPClientError)


def _error(exc: BaseException, *, region: str, url: str, what: str) -> DriftmgrError:
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code, message = str(error.get("Code") or ""), _first_line(error.get("Message") or "")
        detail = " ".join(part for part in (str(status or ""), f"{code}: {message}".strip(": ")) if part)
        if status in (401, 403) or code in _AUTH_CODES:
            return ProviderAuthError(f"digitalocean: Spaces keys rejected in {region} ({detail})", hint=KEYS_HINT)
        return DoTaskError(f"digitalocean: {what} failed: {detail}")
    if isinstance(exc, ConnectionError | HTTPClientError):
        return DoUnavailableError(f"digitalocean: cannot reach Spaces at {url} ({_first_line(exc)})",
                                  hint=f"check the network and proxy settings, or {ENDPOINT_ENV}")
    return DoTaskError(f"digitalocean: {what} failed: {type(exc).__name__}: {_first_line(exc)}")


def _first_line(value: Any) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else ""
