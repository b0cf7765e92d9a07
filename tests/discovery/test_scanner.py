"""The scanner: bounded concurrency, all-or-nothing tasks, retries with backoff, cancellation."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from driftmgr_tui.core.errors import TransientError
from driftmgr_tui.discovery.model import (
    AccountInfo,
    DiscoveredResource,
    ProviderAdapter,
    ScanCancelled,
    ScanContext,
    ScanTask,
)
from driftmgr_tui.discovery.retry import call_with_backoff
from driftmgr_tui.discovery.scanner import ScanLimits, Scanner


def _resource(key: str, n: int) -> DiscoveredResource:
    return DiscoveredResource(provider="aws", account="1", region="r", cloud_type="T", terraform_type="aws_t",
                              terraform_id=f"{key}-{n}")


class PagedAdapter(ProviderAdapter):
    """Each task lists ``pages`` pages; a page takes a real wait on a condition (the test's clock), so
    concurrency can be observed. ``fail`` names tasks whose last page raises."""

    provider = "aws"

    def __init__(self, tasks: list[ScanTask], *, pages: int = 3, page_time: float = 0.02,
                 fail: frozenset[str] = frozenset()) -> None:
        self.tasks, self.pages, self.page_time, self.fail = tasks, pages, page_time, fail
        self.lock = threading.Lock()
        self.active: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.requests = 0

    def connect(self) -> AccountInfo:
        return AccountInfo(provider="aws", account="1")

    def plan(self) -> list[ScanTask]:
        return self.tasks

    def run_task(self, task: ScanTask, ctx: ScanContext) -> Iterator[list[DiscoveredResource]]:
        for key in (f"group:{task.group}", f"service:{task.group}/{task.service}", "all"):
            with self.lock:
                self.active[key] += 1
                self.peak[key] = max(self.peak[key], self.active[key])
        try:
            for page in range(self.pages):
                ctx.check_cancelled()
                with self.lock:
                    self.requests += 1
                ctx.cancel_event.wait(self.page_time)
                if task.key in self.fail and page == self.pages - 1:
                    raise RuntimeError("boom on the last page")
                yield [_resource(task.key, page)]
        finally:
            for key in (f"group:{task.group}", f"service:{task.group}/{task.service}", "all"):
                with self.lock:
                    self.active[key] -= 1


def _tasks(groups: int, services: int, types: int = 1) -> list[ScanTask]:
    return [ScanTask(key=f"g{g}/s{s}/t{t}", provider="aws", account="1", region=f"g{g}", service=f"s{s}",
                     cloud_types=(f"T{t}",), group=f"g{g}")
            for g in range(groups) for s in range(services) for t in range(types)]


def test_concurrency_is_bounded_overall_per_group_and_per_service() -> None:
    adapter = PagedAdapter(_tasks(4, 2, types=3))
    outcomes = Scanner(adapter, limits=ScanLimits(max_workers=8, per_group=3, per_service=2)).run(adapter.tasks)
    assert [o.status for o in outcomes] == ["succeeded"] * 24
    assert adapter.peak["all"] <= 8
    assert max(v for k, v in adapter.peak.items() if k.startswith("group:")) <= 3
    assert max(v for k, v in adapter.peak.items() if k.startswith("service:")) <= 2
    assert adapter.peak["all"] >= 4  # and it does run things in parallel


def test_a_failed_task_hands_over_nothing_and_names_the_error() -> None:
    adapter = PagedAdapter(_tasks(1, 3), fail=frozenset({"g0/s1/t0"}))
    reported = []
    outcomes = Scanner(adapter, on_task_done=reported.append).run(adapter.tasks)
    failed = next(o for o in outcomes if o.task.key == "g0/s1/t0")
    assert failed.status == "failed" and failed.resources == [] and failed.error == "RuntimeError: boom on the last page"
    assert {o.task.key for o in reported} == {"g0/s0/t0", "g0/s1/t0", "g0/s2/t0"}
    assert all(len(o.resources) == 3 for o in outcomes if o.status == "succeeded")


def test_cancel_stops_promptly_and_reports_unstarted_tasks_as_cancelled() -> None:
    cancel = threading.Event()
    adapter = PagedAdapter(_tasks(2, 20), pages=50, page_time=0.05)
    scanner = Scanner(adapter, limits=ScanLimits(max_workers=4), cancel_event=cancel)
    threading.Timer(0.2, cancel.set).start()
    outcomes = scanner.run(adapter.tasks)
    assert {o.status for o in outcomes} == {"cancelled"}
    assert sum(o.error == "cancelled before it started" for o in outcomes) >= 30


def test_retries_back_off_and_then_succeed() -> None:
    ctx = ScanContext(cancel_event=threading.Event(), backoff_base=0.01, backoff_cap=0.05, max_retries=4)
    calls = []

    def flaky() -> str:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise TransientError("throttled")
        return "ok"

    assert call_with_backoff("x", flaky, ctx, is_retryable=lambda e: getattr(e, "retryable", False)) == "ok"
    assert len(calls) == 3


def test_retries_give_up_and_non_retryable_errors_are_not_retried() -> None:
    ctx = ScanContext(cancel_event=threading.Event(), backoff_base=0.001, backoff_cap=0.002, max_retries=2)
    attempts = []

    def always(exc: Exception):
        def call() -> None:
            attempts.append(1)
            raise exc
        return call

    with pytest.raises(TransientError):
        call_with_backoff("x", always(TransientError("slow down")), ctx, is_retryable=lambda e: True)
    assert len(attempts) == 3
    attempts.clear()
    with pytest.raises(ValueError):
        call_with_backoff("x", always(ValueError("bad")), ctx, is_retryable=lambda e: False)
    assert len(attempts) == 1


def test_a_cancel_cuts_a_backoff_wait_short() -> None:
    cancel = threading.Event()
    ctx = ScanContext(cancel_event=cancel, backoff_base=3600.0, backoff_cap=3600.0, max_retries=3)
    raised: list[BaseException] = []

    def call() -> None:
        try:
            call_with_backoff("x", lambda: (_ for _ in ()).throw(TransientError("busy")), ctx,
                              is_retryable=lambda e: True)
        except BaseException as exc:
            raised.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    cancel.set()
    worker.join(timeout=120)  # a hang guard: without the cut the wait is an hour
    assert not worker.is_alive(), "the backoff wait ignored the cancel"
    assert len(raised) == 1 and isinstance(raised[0], ScanCancelled)
