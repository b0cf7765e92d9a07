"""HTTP with go-retryablehttp's retry policy, for the state backends that speak HTTP (http, HCP Terraform).

Connection errors, 429 and 5xx (not 501) are retried ``retry_max`` times, waiting ``wait_min`` * 2^attempt
seconds capped at ``wait_max``, or what a 429 / 503 asked for (``Retry-After``, else ``X-RateLimit-Reset``),
capped the same way. urllib3 (installed with botocore) is imported when the first request is made.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from driftmgr_tui.core.errors import BackendError, TransientError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry connection errors, 429 and 5xx (except 501)."""

    retry_max: int = 2
    wait_min: float = 1.0
    wait_max: float = 30.0

    def wait(self, attempt: int, headers: Mapping[str, str] | None, status: int | None) -> float:
        """Seconds before retry number ``attempt + 1``: what a 429 / 503 asked for, else exponential."""
        if headers is not None and status in (429, 503):
            asked = _retry_after(headers)
            if asked is not None:
                return min(max(asked, 0.0), self.wait_max)
        return min(self.wait_min * (2**attempt), self.wait_max)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` (seconds or an HTTP date), else ``X-RateLimit-Reset`` (seconds), else None."""
    raw = headers.get("Retry-After")
    if raw:
        raw = raw.strip()
        try:
            return float(raw)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                return when.timestamp() - time.time()
    raw = headers.get("X-RateLimit-Reset")
    if raw:
        try:
            return float(raw)
        except ValueError:
            return None
    return None


def retryable_status(status: int) -> bool:
    return status == 429 or (status >= 500 and status != 501)


@dataclass
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    data: bytes
    attempts: int = 1

    def text(self, limit: int = 300) -> str:
        """The body as one line of text, shortened, for an error message."""
        body = self.data[: limit * 4].decode("utf-8", "replace")
        body = " ".join(body.split())
        return body[:limit] + ("..." if len(body) > limit else "")


class RetryingHttp:
    """One urllib3 pool; ``request`` retries as the policy says and returns the final response.

    A connection that cannot be made after every retry raises TransientError; a TLS certificate that is
    not trusted raises BackendError at once (retrying cannot fix it).
    """

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        ssl_context: Any = None,
        verify: bool = True,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        user_agent: str = "",
    ) -> None:
        self.policy = policy
        self._ssl_context = ssl_context
        self._verify = verify
        self._timeouts = (connect_timeout, read_timeout)
        self._user_agent = user_agent or _user_agent()
        self._pool: Any = None
        self._lock = threading.Lock()

    def _manager(self) -> Any:
        with self._lock:
            if self._pool is None:
                import urllib3

                kwargs: dict[str, Any] = {
                    "retries": False,
                    "timeout": urllib3.Timeout(connect=self._timeouts[0], read=self._timeouts[1]),
                }
                if self._ssl_context is not None:
                    kwargs["ssl_context"] = self._ssl_context
                if not self._verify:
                    import warnings

                    warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
                    kwargs["cert_reqs"] = "CERT_NONE"
                    kwargs["assert_hostname"] = False
                self._pool = urllib3.PoolManager(**kwargs)
            return self._pool

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = False,
        retry_on: Callable[[int], bool] = retryable_status,
    ) -> HttpResponse:
        """Send the request; ``what`` ("reading state s3://..") names it in errors."""
        import urllib3

        pool = self._manager()
        send_headers = {"User-Agent": self._user_agent, **(headers or {})}
        # retries are ours (below); urllib3 only follows redirects, when asked (Authorization is dropped
        # on a redirect to another host)
        retries: Any = (
            urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=10)
            if follow_redirects
            else False
        )
        attempt = 0
        while True:
            try:
                try:
                    resp = pool.request(
                        method,
                        url,
                        body=body,
                        headers=send_headers,
                        redirect=follow_redirects,
                        retries=retries,
                        preload_content=True,
                    )
                except urllib3.exceptions.MaxRetryError as exc:
                    if isinstance(exc.reason, urllib3.exceptions.HTTPError):
                        raise exc.reason from None
                    raise
            except urllib3.exceptions.SSLError as exc:
                raise BackendError(
                    f"TLS connection to {origin(url)} failed while {what}: {_reason(exc)}",
                    hint="trust the server's CA (client_ca_certificate_pem, SSL_CERT_FILE), give the client "
                    "certificate a server asks for, or, for a test server only, set skip_cert_verification",
                ) from None
            except urllib3.exceptions.HTTPError as exc:
                if attempt >= self.policy.retry_max:
                    raise TransientError(
                        f"cannot reach {origin(url)} while {what} ({_reason(exc)}; "
                        f"gave up after {attempt + 1} attempt(s))",
                        hint="check the address, the network and any proxy",
                    ) from None
                wait = self.policy.wait(attempt, None, None)
                log.debug("%s %s: %s; retrying in %.2fs", method, redact(url), _reason(exc), wait)
            else:
                if not retry_on(resp.status) or attempt >= self.policy.retry_max:
                    return HttpResponse(resp.status, resp.headers, resp.data or b"", attempts=attempt + 1)
                wait = self.policy.wait(attempt, resp.headers, resp.status)
                log.debug("%s %s: HTTP %s; retrying in %.2fs", method, redact(url), resp.status, wait)
            attempt += 1
            time.sleep(wait)


def _user_agent() -> str:
    from driftmgr_tui import __version__

    return f"driftmgr/{__version__}"


def _reason(exc: BaseException) -> str:
    inner = getattr(exc, "reason", None)
    text = str(inner if inner is not None else exc) or type(exc).__name__
    return " ".join(text.split())


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


def redact(url: str) -> str:
    """The URL without credentials in its userinfo."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host))


def transient_error(resp: HttpResponse, what: str, url: str) -> TransientError:
    wait = _retry_after(resp.headers) if resp.status in (429, 503) else None
    return TransientError(
        f"{what} failed: HTTP {resp.status} from {origin(url)} after {resp.attempts} attempt(s)"
        + (f" ({resp.text()})" if resp.data else ""),
        retry_after=wait,
        hint="the server is overloaded or failing; try again later",
    )
