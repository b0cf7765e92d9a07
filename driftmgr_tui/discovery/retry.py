"""Our own backoff around one cloud request, on top of what the SDK already retries.

SDK retries (botocore's adaptive mode, azure-core's retry policy, google-api-core) absorb short bursts. When
a provider keeps throttling past them, this loop waits longer, with full jitter, and stays cancellable: a
cancelled run wakes from the wait at once instead of sleeping out the backoff.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from driftmgr_tui.core.jobs.view import backoff_delay
from driftmgr_tui.discovery.model import ScanCancelled, ScanContext

T = TypeVar("T")


def call_with_backoff(
    what: str,
    call: Callable[[], T],
    ctx: ScanContext,
    *,
    is_retryable: Callable[[BaseException], bool],
    retry_after: Callable[[BaseException], float | None] | None = None,
) -> T:
    """``call()``; on a retryable error wait (cancellably) and try again, up to ``ctx.max_retries`` times.
    ``retry_after(exc)``, when given, is the least wait the remote side asked for (a rate limit's reset)."""
    attempt = 0
    while True:
        ctx.check_cancelled()
        try:
            return call()
        except ScanCancelled:
            raise
        except Exception as exc:
            attempt += 1
            if attempt > ctx.max_retries or not is_retryable(exc):
                raise
            delay = backoff_delay(attempt, base=ctx.backoff_base, cap=ctx.backoff_cap,
                                  retry_after=retry_after(exc) if retry_after is not None else None)
            if ctx.on_retry is not None:
                ctx.on_retry(what, exc, delay)
            if ctx.cancel_event.wait(delay):
                raise ScanCancelled("discovery cancelled") from None
