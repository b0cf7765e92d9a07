"""Notifications: a webhook POST with a Slack-compatible body, retried with backoff, every attempt recorded.

A webhook URL often carries its token in the path (Slack, Teams, Discord) or the query, so it is a secret:
it is read from the keyring by the caller, handed to :func:`post_webhook`, and never logged, stored or shown.
What appears anywhere is :func:`redact_url` of it (scheme and host only), and error text is scrubbed of it.

Retries (default 4 attempts): connection errors, timeouts, HTTP 429 (waiting what ``Retry-After`` says) and
5xx, with exponential backoff between attempts. Other answers (4xx, a redirect) are final: sending the same
request again cannot help. Redirects are not followed: urllib would turn the POST into a GET and lose the body.
A final failure is returned in the :class:`WebhookResult`, never raised: a notification that cannot be
delivered must not fail the scan that raised it.
"""

from __future__ import annotations

import email.utils
import http.client
import logging
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from driftmgr_tui.core.errors import UsageError

log = logging.getLogger(__name__)

DEFAULT_ATTEMPTS = 4
DEFAULT_TIMEOUT = 10.0
DEFAULT_BACKOFF = 1.0  # seconds before the second attempt; doubled each time after
MAX_DELAY = 60.0  # cap of the exponential backoff
MAX_RETRY_AFTER = 300.0  # longest Retry-After honoured (a server asking for an hour gets 5 minutes)
_BODY_SNIPPET = 200
_SEVERITY_MARK = {"critical": ":red_circle:", "high": ":large_orange_circle:", "medium": ":large_yellow_circle:",
                  "low": ":large_blue_circle:", "info": ":white_circle:"}


def redact_url(url: str) -> str:
    """``https://hooks.slack.com/services/T0/B0/XXXX`` -> ``https://hooks.slack.com``: scheme, host and port
    only (no user info, path, query or fragment)."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(invalid URL)"
    if not parts.scheme or not host:
        return "(invalid URL)"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def validate_webhook_url(url: str) -> str:
    """The URL stripped of surrounding whitespace, or a UsageError (which never repeats the URL)."""
    url = url.strip()
    if not url:
        raise UsageError("the webhook URL is empty")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise UsageError("the webhook URL contains spaces or control characters")
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise UsageError("the webhook URL does not parse") from None
    if parts.scheme not in ("http", "https"):
        raise UsageError("the webhook URL must start with https:// (or http://)")
    if not parts.hostname:
        raise UsageError("the webhook URL has no host")
    return url


@dataclass
class WebhookResult:
    """What happened to one notification: delivered or not, and every attempt (JSON-ready dicts)."""

    target: str  # the redacted URL
    delivered: bool = False
    attempts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        if self.delivered or not self.attempts:
            return None
        return self.attempts[-1].get("error")


def webhook_body(alert: Mapping[str, Any], *, event: str = "fired") -> dict[str, Any]:
    """The JSON a webhook receives: Slack's ``text`` + ``blocks`` (Mattermost, Rocket.Chat and most chat
    webhooks read ``text``) and a ``driftmgr`` object with the alert's fields for anything else."""
    severity = str(alert.get("severity") or "medium")
    title = str(alert.get("title") or "driftmgr alert")
    prefix = {"fired": "", "resolved": "Resolved: ", "test": "Test: "}.get(event, "")
    text = f"[{severity.upper()}] {prefix}{title}"
    message = str(alert.get("message") or "")
    context = " · ".join(str(p) for p in (
        "driftmgr", alert.get("environment") and f"env {alert['environment']}",
        alert.get("rule") and f"rule {alert['rule']}", alert.get("id") and f"alert {alert['id']}",
        alert.get("report_id") and f"report {alert['report_id']}", alert.get("run_id") and f"run {alert['run_id']}",
    ) if p)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": f"{_SEVERITY_MARK.get(severity, '')} *{_mrkdwn(prefix + title)}*"[:3000]}},
    ]
    if message:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn(message)[:3000]}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _mrkdwn(context)[:3000]}]})
    fields = ("id", "rule_id", "rule", "environment", "status", "severity", "title", "message", "value",
              "report_id", "run_id", "created_at", "updated_at")
    return {"text": text, "blocks": blocks,
            "driftmgr": {"event": event, **{k: alert.get(k) for k in fields}}}


def _mrkdwn(text: str) -> str:
    """Slack's three escapes, so an address like ``module.a["<x>"]`` is shown, not parsed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None  # urllib then raises HTTPError with the 3xx


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_NoRedirect())


def _retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), capped; None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _scrub(text: str, url: str) -> str:
    """``text`` with the URL (and its path and query, which hold the token) cut out."""
    parts = urllib.parse.urlsplit(url)
    secret_parts = [url, url.rstrip("/"), parts.path + (f"?{parts.query}" if parts.query else ""), parts.path,
                    parts.query, parts.netloc if "@" in parts.netloc else ""]
    for part in sorted({p for p in secret_parts if p and p != "/" and len(p) > 1}, key=len, reverse=True):
        text = text.replace(part, "…")
    return text


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return f"{type(exc).__name__}: {exc}"


def post_webhook(url: str, body: Mapping[str, Any], *, attempts: int = DEFAULT_ATTEMPTS,
                 timeout: float = DEFAULT_TIMEOUT, backoff: float = DEFAULT_BACKOFF, max_delay: float = MAX_DELAY,
                 sleep: Callable[[float], None] = time.sleep,
                 opener: urllib.request.OpenerDirector | None = None) -> WebhookResult:
    """POST ``body`` as JSON to ``url``, retrying what can succeed later; never raises for a failed delivery.

    ``sleep`` waits between attempts (tests pass one that records the delays)."""
    target = redact_url(url)
    result = WebhookResult(target=target)
    data = orjson.dumps(dict(body))
    opener = opener or _opener()
    headers = {"Content-Type": "application/json", "User-Agent": _user_agent()}
    for attempt in range(1, max(1, attempts) + 1):
        record: dict[str, Any] = {"channel": "webhook", "target": target, "attempt": attempt,
                                  "at": datetime.now(UTC).isoformat(), "status": None, "error": None}
        retry_after: float | None = None
        retryable = False
        started = time.monotonic()
        try:
            request = urllib.request.Request(url, data=data, headers=headers, method="POST")
            with opener.open(request, timeout=timeout) as response:
                response.read(65536)
                record["status"] = response.status
        except urllib.error.HTTPError as exc:
            record["status"] = exc.code
            snippet = _read_snippet(exc)
            record["error"] = f"HTTP {exc.code}" + (f": {_scrub(snippet, url)}" if snippet else "")
            retryable = exc.code == 429 or exc.code >= 500
            if exc.code == 429:
                retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            exc.close()
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            # refused, reset, timed out, closed mid-answer: worth another try
            record["error"] = _scrub(_describe_error(exc), url)
            retryable = True
        except ValueError as exc:  # a URL urllib cannot use: no retry will change that
            record["error"] = _scrub(_describe_error(exc), url)
        record["duration"] = round(time.monotonic() - started, 4)
        status = record["status"]
        record["ok"] = status is not None and 200 <= status < 300
        result.attempts.append(record)
        if record["ok"]:
            result.delivered = True
            log.info("webhook %s: delivered (attempt %d, HTTP %s)", target, attempt, status)
            return result
        if not retryable or attempt >= attempts:
            break
        delay = retry_after if retry_after is not None else min(backoff * 2 ** (attempt - 1), max_delay)
        record["retry_in"] = round(delay, 3)
        log.warning("webhook %s: attempt %d of %d failed (%s); retrying in %.1fs", target, attempt, attempts,
                    record["error"], delay)
        sleep(delay)
    log.warning("webhook %s: not delivered after %d attempt(s): %s", target, len(result.attempts),
                result.attempts[-1]["error"])
    return result


def _read_snippet(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read(_BODY_SNIPPET * 4) or b""
    except Exception:  # the body of an error answer is a courtesy; its absence is not another error
        return ""
    text = raw.decode("utf-8", "replace").strip().replace("\n", " ")
    return text[:_BODY_SNIPPET]


def _user_agent() -> str:
    from driftmgr_tui import __version__

    return f"driftmgr/{__version__}"
