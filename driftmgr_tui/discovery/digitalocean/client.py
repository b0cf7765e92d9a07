"""A small client for the DigitalOcean API v2 (urllib3): bearer token, paging, rate limits, retries.

- Paging follows ``links.pages.next`` (``per_page=200``, the API's maximum) one page at a time, cancellably;
  the next link is re-rooted under the configured base URL, so the token never goes to another host. When
  the last page is in, the count is checked against ``meta.total``: a listing that came out short (objects
  deleted while it was paged) fails rather than pass for the whole truth.
- Rate limits: every answer carries ``ratelimit-remaining`` and ``ratelimit-reset`` (epoch seconds). At zero
  remaining, requests wait for the reset (measured against the answer's ``Date``, so a skewed local clock
  does not matter), up to ``max_rate_wait``. A 429 is retried after ``Retry-After`` / the reset, through the
  shared backoff (``discovery/retry.py``), which reports each retry to the scanner.
- 5xx answers, dropped connections and timeouts are retried with the same backoff; 401 and 403 are
  ProviderAuthError naming what the token may not do. Redirects are not followed (the token stays put).
- Plain ``http://`` base URLs are accepted on loopback only (local test servers).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from driftmgr_tui import __version__
from driftmgr_tui.core.errors import DriftmgrError, ProviderAuthError, UsageError
from driftmgr_tui.core.net import is_loopback_host
from driftmgr_tui.discovery.model import ScanCancelled, ScanContext
from driftmgr_tui.discovery.retry import call_with_backoff

DEFAULT_API_URL = "https://api.digitalocean.com"
API_URL_ENV = "DIGITALOCEAN_API_URL"  # the digitalocean Terraform provider's name for it
TOKEN_HINT = ("create a read token at https://cloud.digitalocean.com/account/api/tokens and store it with "
              "`driftmgr config secret set digitalocean.token_secret`, or set DIGITALOCEAN_TOKEN")
SCOPE_HINT = "give the token read access to it (a custom-scoped token needs the matching :read scopes)"


class DoTaskError(DriftmgrError):
    """A listing failed after retries; the message names the call and DigitalOcean's error."""


class DoUnavailableError(DriftmgrError):
    """The API could not be reached at all (network, proxy, base URL)."""


@dataclass
class DoSettings:
    """Client behaviour; tests use small waits."""

    per_page: int = 200
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_rate_wait: float = 120.0  # the longest wait for a rate-limit reset; longer fails the request
    pool_size: int = 8
    connect_backoff: float = 0.5  # backoff base of connect()'s own retries (scan tasks use the scanner's)


class DoApiError(Exception):
    """A non-2xx answer: its status, DigitalOcean's error ``id`` and message, and (429) the wait it asks for."""

    def __init__(self, status: int, error_id: str, message: str, *, retry_after: float | None = None) -> None:
        self.status = status
        self.error_id = error_id
        self.detail = message
        self.retry_after = retry_after
        super().__init__(self.describe())

    def describe(self) -> str:
        text = ": ".join(part for part in (self.error_id, self.detail) if part)
        return f"HTTP {self.status} {text}".strip()


def check_base_url(url: str) -> str:
    """``https://api.digitalocean.com`` (a trailing ``/`` or ``/v2`` is dropped, as the Terraform provider's
    ``api_endpoint`` has none). Plain http only to loopback: the token must not cross a network in clear."""
    url = url.strip().rstrip("/")
    url = url.removesuffix("/v2").rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UsageError(f"digitalocean: API URL {url!r} is not an http(s) URL",
                         hint=f"set {API_URL_ENV} to e.g. {DEFAULT_API_URL}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise UsageError(f"digitalocean: refusing to send the API token over plain http to {parts.hostname}",
                         hint=f"use an https URL in {API_URL_ENV} (plain http is for 127.0.0.1 only)")
    return url


class DoClient:
    """GET requests to API v2 with one token. Thread-safe: scan tasks share it (and its rate-limit view)."""

    def __init__(self, token: str, *, base_url: str = DEFAULT_API_URL, settings: DoSettings | None = None) -> None:
        self.base_url = check_base_url(base_url)
        self.settings = settings or DoSettings()
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json",
                         "User-Agent": f"driftmgr/{__version__}"}
        self._pool = _pool_manager(self.base_url, self.settings)
        self._lock = threading.Lock()
        self._resume_at = 0.0  # time.monotonic() before which the rate limit is used up

    # --- calls ------------------------------------------------------------------------------------------------

    def get(self, path: str, ctx: ScanContext, *, what: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One GET (``path`` under the base URL, or an already re-rooted URL), retried as the module says;
        errors come out as ProviderAuthError, DoTaskError or DoUnavailableError, in one line."""
        url = path if path.startswith(self.base_url) else self._url(path, params)
        try:
            return call_with_backoff(what, lambda: self._get_once(url, ctx), ctx, is_retryable=self.is_retryable,
                                     retry_after=lambda exc: getattr(exc, "retry_after", None))
        except (DriftmgrError, ScanCancelled):
            raise
        except DoApiError as exc:
            raise self._error(exc, what) from None
        except Exception as exc:
            if _is_connection_failure(exc):
                raise DoUnavailableError(f"digitalocean: cannot reach the API at {self.base_url} "
                                         f"({_first_line(exc)})",
                                         hint=f"check the network and proxy settings, or {API_URL_ENV}") from None
            raise DoTaskError(f"digitalocean: {what} failed: {type(exc).__name__}: {_first_line(exc)}") from None

    def pages(self, path: str, key: str, ctx: ScanContext, *, what: str,
              params: Mapping[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
        """The ``key`` array of every page, a page at a time; cancellation is checked before each request."""
        url: str | None = self._url(path, {"page": 1, "per_page": self.settings.per_page, **(params or {})})
        seen: set[str] = set()
        count, total = 0, None
        while url is not None:
            ctx.check_cancelled()
            seen.add(url)
            body = self.get(url, ctx, what=what)
            items = body.get(key)
            if not isinstance(items, list):
                raise DoTaskError(f"digitalocean: {what}: the answer has no {key!r} list")
            count += len(items)
            meta = body.get("meta")
            if isinstance(meta, Mapping) and isinstance(meta.get("total"), int):
                total = meta["total"]
            yield [item for item in items if isinstance(item, dict)]
            url = self._next(body, what=what)
            if url is not None and url in seen:
                raise DoTaskError(f"digitalocean: {what}: the next page link repeats an earlier page ({url})")
        if total is not None and count < total:
            raise DoTaskError(f"digitalocean: {what}: the listing ended after {count} of its {total} objects "
                              "(they changed while it was paged)", hint="run discovery again")

    def close(self) -> None:
        self._pool.clear()

    # --- one request ------------------------------------------------------------------------------------------

    def _get_once(self, url: str, ctx: ScanContext) -> dict[str, Any]:
        self._await_rate_limit(ctx)
        import urllib3

        response = self._pool.request(
            "GET", url, headers=self._headers, retries=False, redirect=False, preload_content=True,
            timeout=urllib3.Timeout(connect=self.settings.connect_timeout, read=self.settings.read_timeout))
        self._note_rate_limit(response.headers, response.status)
        data = response.data or b""
        if response.status >= 300:
            raise self._api_error(response.status, response.headers, data)
        try:
            body = json.loads(data or b"{}")
        except ValueError:
            raise DoTaskError(f"digitalocean: GET {_path_of(url)} answered HTTP {response.status} that is not JSON "
                              f"({response.headers.get('content-type') or 'no content type'})") from None
        if not isinstance(body, dict):
            raise DoTaskError(f"digitalocean: GET {_path_of(url)} answered JSON that is not an object")
        return body

    def _api_error(self, status: int, headers: Mapping[str, str], data: bytes) -> DoApiError:
        error_id, message = "", ""
        try:
            body = json.loads(data)
            if isinstance(body, dict):
                error_id, message = str(body.get("id") or ""), _first_line(body.get("message") or "")
        except ValueError:
            message = _first_line(data.decode("utf-8", "replace"))[:200]
        retry_after = None
        if status == 429:
            retry_after = _seconds(headers.get("retry-after"))
            if retry_after is None:
                retry_after = self._until_reset(headers)
        return DoApiError(status, error_id, message, retry_after=retry_after)

    # --- rate limits ------------------------------------------------------------------------------------------

    def _note_rate_limit(self, headers: Mapping[str, str], status: int) -> None:
        remaining = _seconds(headers.get("ratelimit-remaining"))
        if remaining is None:
            return
        with self._lock:
            if remaining <= 0 or status == 429:
                wait = self._until_reset(headers) or 0.0
                self._resume_at = max(self._resume_at, time.monotonic() + wait)
            else:
                self._resume_at = 0.0

    def _await_rate_limit(self, ctx: ScanContext) -> None:
        with self._lock:
            wait = self._resume_at - time.monotonic()
        if wait <= 0:
            return
        if wait > self.settings.max_rate_wait:
            raise DoTaskError(f"digitalocean: the API rate limit is used up for another {_duration(wait)}",
                              hint="run discovery again after the reset (limits are per token: 5,000 requests "
                                   "an hour)")
        if ctx.cancel_event.wait(wait):
            raise ScanCancelled("discovery cancelled")

    @staticmethod
    def _until_reset(headers: Mapping[str, str]) -> float | None:
        """Seconds until ``ratelimit-reset`` by the server's clock (its ``Date``), never negative."""
        reset = _seconds(headers.get("ratelimit-reset"))
        if reset is None:
            return None
        now = time.time()
        date = headers.get("date")
        if date:
            with contextlib.suppress(TypeError, ValueError):
                now = parsedate_to_datetime(date).astimezone(UTC).timestamp()
        return max(0.0, reset - now)

    def is_retryable(self, exc: BaseException) -> bool:
        """429 within ``max_rate_wait``, 5xx, dropped connections and timeouts; never 4xx otherwise."""
        if isinstance(exc, DoApiError):
            if exc.status == 429:
                return (exc.retry_after or 0.0) <= self.settings.max_rate_wait
            return exc.status >= 500
        return _is_connection_failure(exc)

    # --- errors and URLs --------------------------------------------------------------------------------------

    def _error(self, exc: DoApiError, what: str) -> DriftmgrError:
        if exc.status == 401:
            return ProviderAuthError(f"digitalocean: the API token was rejected ({exc.describe()})", hint=TOKEN_HINT)
        if exc.status == 403:
            return ProviderAuthError(f"digitalocean: access denied to {what} ({exc.describe()})", hint=SCOPE_HINT)
        if exc.status == 429:
            wait = f"; the limit resets in {_duration(exc.retry_after)}" if exc.retry_after else ""
            return DoTaskError(f"digitalocean: {what}: rate limited ({exc.describe()}){wait}",
                               hint="run discovery again after the reset")
        return DoTaskError(f"digitalocean: {what} failed: {exc.describe()}")

    def _url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        query = urlencode({k: v for k, v in (params or {}).items() if v is not None})
        return f"{self.base_url}{path}" + (f"?{query}" if query else "")

    def _next(self, body: Mapping[str, Any], *, what: str) -> str | None:
        """The next page's URL under our base URL, from ``links.pages.next`` (absolute, on api.digitalocean.com)."""
        links = body.get("links")
        pages = links.get("pages") if isinstance(links, Mapping) else None
        link = pages.get("next") if isinstance(pages, Mapping) else None
        if not link:
            return None
        parts = urlsplit(str(link))
        start = parts.path.find("/v2/")
        if start < 0:
            raise DoTaskError(f"digitalocean: {what}: the next page link {link!r} is not an API v2 URL")
        return f"{self.base_url}{parts.path[start:]}" + (f"?{parts.query}" if parts.query else "")


# --- helpers ----------------------------------------------------------------------------------------------------

def _pool_manager(base_url: str, settings: DoSettings) -> Any:
    """A connection pool, through the proxy the environment names (HTTPS_PROXY, NO_PROXY) unless loopback."""
    import urllib3

    host = urlsplit(base_url).hostname or ""
    proxy = urllib.request.getproxies().get(urlsplit(base_url).scheme)
    if proxy and not is_loopback_host(host) and not urllib.request.proxy_bypass(host):
        return urllib3.ProxyManager(proxy, maxsize=settings.pool_size)
    return urllib3.PoolManager(maxsize=settings.pool_size)


def _is_connection_failure(exc: BaseException) -> bool:
    import urllib3

    return isinstance(exc, urllib3.exceptions.HTTPError | OSError)


def _seconds(value: Any) -> float | None:
    """A header's number (``Retry-After: 3``, ``ratelimit-reset: 1444931833``); None when absent or not one
    (a ``Retry-After`` HTTP date is read as the seconds until it)."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(text).timestamp() - datetime.now(UTC).timestamp())
    except (TypeError, ValueError):
        return None


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _path_of(url: str) -> str:
    return urlsplit(url).path


def _first_line(value: Any) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else ""
