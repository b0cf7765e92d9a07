"""A database with a history to measure, for the metrics tests: drift reports of two environments saved by the
real history functions, discovery runs of three clouds with their tasks, jobs and events (rows made with the
models, at fixed times around :data:`NOW`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from driftmgr_tui.core.db import session_scope
from driftmgr_tui.core.models import DiscoveryRun, DiscoveryTask, Event, Job
from driftmgr_tui.drift.history import ReportMeta, save_report
from driftmgr_tui.drift.model import CHANGED, MISSING, UNMANAGED, DetectionResult, Finding

NOW = datetime(2025, 3, 10, 12, 30, tzinfo=UTC)
# the 24h window: 24 hourly buckets from 2025-03-09 13:00 to 2025-03-10 13:00 (the last one holds NOW)
SINCE = datetime(2025, 3, 9, 13, 0, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


def result(*, changed: int = 0, missing: int = 0, unmanaged: int = 0, managed: int = 0,
           tag: str = "") -> DetectionResult:
    findings = [Finding(kind=kind, terraform_type="aws_s3_bucket", terraform_id=f"{tag}{kind}-{n}",
                        match_key=f"{tag}{kind}-{n}", provider="aws", region="eu-west-1")
                for kind, count in ((CHANGED, changed), (MISSING, missing), (UNMANAGED, unmanaged))
                for n in range(count)]
    return DetectionResult(findings=findings, managed=managed, changed=changed, missing=missing,
                           unmanaged=unmanaged, cloud_total=managed + unmanaged)


def report(engine: Engine, environment: str, when: datetime, **counts: int) -> int:
    return save_report(engine, result(**counts), ReportMeta(environment=environment, engine="native"), now=when)


def seed(engine: Engine) -> dict[str, Any]:
    """Reports of two environments, discovery runs of three clouds with their tasks, jobs and events."""
    ids = {
        "r1": report(engine, "prod", at(8, 9), changed=1, missing=1, managed=8),  # before the window
        "r2": report(engine, "prod", at(9, 14, 10), changed=2, missing=1, unmanaged=3, managed=8),
        "r3": report(engine, "prod", at(9, 14, 50), changed=3, unmanaged=3, managed=9),  # same bucket, later
        "s1": report(engine, "staging", at(10, 1), unmanaged=4, managed=6),
        "r4": report(engine, "prod", at(10, 10), missing=2, unmanaged=1, managed=7),
    }

    def run(provider: str, created: datetime, status: str, duration: float | None, resources: int, job: int,
            tasks: tuple[tuple[str, int], ...] = ()) -> tuple[DiscoveryRun, tuple[tuple[str, int], ...]]:
        row = DiscoveryRun(provider=provider, status=status, created_at=created, started_at=created,
                           finished_at=None if duration is None else created + timedelta(seconds=duration),
                           duration=duration, resource_count=resources, job_id=job, task_count=len(tasks),
                           failed_tasks=sum(s == "failed" for s, _ in tasks), retries=sum(r for _, r in tasks))
        return row, tasks

    runs = [
        run("aws", at(9, 20), "complete", 10.0, 50, 101, (("succeeded", 0), ("succeeded", 2), ("succeeded", 1))),
        run("aws", at(10, 8), "partial", 20.0, 40, 102, (("failed", 4), ("succeeded", 0))),
        run("aws", at(10, 8, 30), "failed", 2.0, 0, 103),  # failed before planning (no tasks)
        run("azure", at(9, 10), "complete", 5.0, 7, 104, (("succeeded", 0),)),  # before the window
        run("gcp", at(10, 11), "running", None, 0, 105, (("running", 1),)),
    ]
    with session_scope(engine) as session:
        for r, spec in runs:
            session.add(r)
            session.flush()
            for n, (status, retries) in enumerate(spec):
                session.add(DiscoveryTask(run_id=r.id, key=f"{r.provider}:{n}", provider=r.provider,
                                          region="eu-west-1", status=status, retries=retries,
                                          error="Throttling: Rate exceeded" if status == "failed" else None))

        def job(job_id: int, kind: str, status: str, created: datetime, finished: datetime | None) -> Job:
            return Job(id=job_id, kind=kind, status=status, created_at=created, run_after=created,
                       started_at=None if status == "queued" else created + timedelta(minutes=1),
                       finished_at=finished)

        session.add_all([
            job(101, "discovery", "succeeded", at(9, 19, 59), at(9, 20, 10)),
            job(102, "discovery", "succeeded", at(10, 7, 59), at(10, 8, 20)),
            job(103, "discovery", "failed", at(10, 8, 29), at(10, 8, 35)),
            job(104, "discovery", "succeeded", at(9, 10), at(9, 10, 5)),  # before the window
            job(105, "discovery", "running", at(10, 10, 59), None),
            job(106, "remediation.apply", "failed", at(10, 9), at(10, 9, 30)),
            job(107, "remediation.apply", "queued", at(10, 12), None),
            job(108, "discovery", "queued", at(8, 0), None),  # stuck in the queue since before the window
        ])
        session.flush()
        for when, type_, job_id, payload in (
            (at(9, 10, 1), "job.retrying", 104, '{"kind": "discovery", "attempt": 1}'),  # before the window
            (at(10, 8, 5), "job.retrying", 102, '{"kind": "discovery", "attempt": 1, "delay": 0.5}'),
            (at(10, 8, 31), "job.retrying", 103, '{"kind": "discovery", "attempt": 2}'),
            (at(10, 9, 10), "job.retrying", 106, '{"kind": "remediation.apply", "attempt": 1}'),  # no run
            (at(10, 9, 30), "job.failed", 106,
             '{"kind": "remediation.apply", "attempts": 3, "error": "UsageError: plan 4 changed"}'),
            (at(10, 12), "job.queued", 107, '{"kind": "remediation.apply", "priority": 0}'),
        ):
            session.add(Event(type=type_, time=when, job_id=job_id, payload=payload))
    return ids
