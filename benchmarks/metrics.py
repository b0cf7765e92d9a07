"""Metrics panel speed: ``python -m benchmarks metrics [--reports N] [--runs N] [--events N] [--repeat R] [--json]``.

A SQLite database in a temporary directory holds a month and a bit of history: N drift reports (default 2,000)
over 5 environments, N discovery runs (default 500) over 3 clouds with 10 tasks each (some failed, some
retried), 4 jobs per run (discovery, drift, remediation; some failed, some retried, a few still queued) and N
events (default 50,000) of the types the job queue and discovery write. Measured in one process, best of R:

  (a) ``MetricsService.snapshot`` (SQL aggregates: one row per group comes back), per window   target <= 0.25 s
  (b) the naive way to the same answer: read every row of the five tables into Python objects and aggregate
      there; its result must equal (a)'s, field for field

The figure that matters is the ratio b/a in the same run; the TUI polls (a) every 5 seconds from a worker
thread. Exit status 1 when (a) misses its target or (b) disagrees.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.timing import best_of

SNAPSHOT_TARGET = 0.25
NOW = datetime(2025, 6, 30, 12, 30, tzinfo=UTC)
ENVIRONMENTS = ("prod", "staging", "dev", "qa", "sandbox")
PROVIDERS = ("aws", "azure", "gcp")
JOB_KINDS = ("discovery", "drift.detect", "remediation.apply")
EVENT_TYPES = ("job.queued", "job.started", "job.progress", "job.succeeded", "discovery.run.started",
               "discovery.task.failed", "discovery.run.finished", "remediation.output")


# ------------------------------------------------------------------------------------------------ the data


def populate(engine: Any, *, reports: int, runs: int, events: int, seed: int = 5) -> None:
    """Bulk-insert the history (rows as the services write them, at times spread over 35 days before NOW)."""
    import sqlalchemy as sa

    from driftmgr_tui.core.events import encode_json
    from driftmgr_tui.core.models import DiscoveryRun, DiscoveryTask, DriftReport, Event, Job

    rng = random.Random(seed)
    span = timedelta(days=35).total_seconds()

    def when() -> datetime:
        return NOW - timedelta(seconds=rng.random() * span)

    report_rows = []
    for moment in sorted(when() for _ in range(reports)):  # ids grow with time, as they do when scanning
        changed, missing, unmanaged = rng.randrange(0, 40), rng.randrange(0, 15), rng.randrange(0, 60)
        managed = rng.randrange(200, 1200)
        total = managed + missing + unmanaged
        report_rows.append(dict(
            environment=rng.choice(ENVIRONMENTS), engine="native", status="complete", created_at=moment,
            duration=round(rng.uniform(1, 30), 3), total_resources=managed + unmanaged, total_managed=managed,
            total_unmanaged=unmanaged, total_missing=missing, total_changed=changed,
            total_unapplied=rng.choice((0, 0, 0, 1)), total_orphaned=rng.choice((0, 0, 0, 0, 2)),
            total_ignored=0, total_unevaluated=0, coverage=round(100.0 * managed / total, 2), by_severity="{}",
            sources="{}", unevaluated="[]", config_drift="[]", warnings="[]", created_by="bench@host"))

    job_rows, run_rows, task_rows, event_rows = [], [], [], []
    job_id = 0
    for n, moment in enumerate(sorted(when() for _ in range(runs * len(JOB_KINDS)))):
        job_id += 1
        kind = JOB_KINDS[n % len(JOB_KINDS)]
        status = rng.choices(("succeeded", "failed", "queued", "running"), (90, 8, 1, 1))[0]
        finished = None if status in ("queued", "running") else moment + timedelta(seconds=rng.uniform(1, 600))
        job_rows.append(dict(id=job_id, kind=kind, status=status, priority=0, payload="{}", attempts=1,
                             max_attempts=3, progress=100.0, message="", run_after=moment,
                             cancel_requested=False, created_at=moment, finished_at=finished,
                             started_at=None if status == "queued" else moment, created_by="bench@host"))
        if rng.random() < 0.1:
            event_rows.append(dict(type="job.retrying", time=moment + timedelta(seconds=30), job_id=job_id,
                                   payload=encode_json({"kind": kind, "attempt": 1, "delay": 2.5})))
        if kind != "discovery":
            continue
        provider = rng.choice(PROVIDERS)
        run_status = {"succeeded": rng.choice(("complete", "complete", "partial")), "failed": "failed",
                      "queued": "queued", "running": "running"}[status]
        run_rows.append(dict(id=len(run_rows) + 1, job_id=job_id, provider=provider, scope="{}",
                             status=run_status, regions="[]", task_count=10, failed_tasks=0,
                             resource_count=rng.randrange(100, 5000), retries=0, unsupported="{}",
                             created_at=moment, duration=None if finished is None else round(
                                 (finished - moment).total_seconds(), 3), created_by="bench@host"))
        for t in range(10):
            task_status = "failed" if run_status == "partial" and t == 0 else (
                "succeeded" if run_status in ("complete", "partial") else "pending")
            task_rows.append(dict(run_id=len(run_rows), key=f"{provider}:{t}", provider=provider, account="",
                                  region=f"r{t}", service="s", cloud_types="[]", status=task_status,
                                  resource_count=0, pages=1, retries=rng.choice((0, 0, 0, 1, 2)), duration=1.0))
    while len(event_rows) < events:
        event_rows.append(dict(type=rng.choice(EVENT_TYPES), time=when(), job_id=rng.randrange(1, job_id + 1),
                               payload=encode_json({"kind": "discovery", "attempt": 1, "done": 3, "total": 10})))
    event_rows.sort(key=lambda r: r["time"])

    with engine.begin() as conn:
        for model, rows in ((DriftReport, report_rows), (Job, job_rows), (DiscoveryRun, run_rows),
                            (DiscoveryTask, task_rows), (Event, event_rows)):
            for start in range(0, len(rows), 5_000):
                conn.execute(sa.insert(model.__table__), rows[start:start + 5_000])


# ------------------------------------------------------------------------------------------------ the baseline


def naive_snapshot(service: Any, environment: str | None, window: str, *, now: datetime,
                   events: int = 50) -> Any:
    """The same :class:`MetricsSnapshot` as ``service.snapshot``, from every row read into Python."""
    from sqlmodel import select

    from driftmgr_tui.core.db import session_scope
    from driftmgr_tui.core.models import DiscoveryRun, DiscoveryTask, DriftReport, Event, Job
    from driftmgr_tui.services import metrics_service as m

    buckets = m.Buckets.ending_at(now, window)
    since, until, n = buckets.since, buckets.until, buckets.count
    with session_scope(service.engine) as session:
        reports = session.exec(select(DriftReport)).all()
        runs = session.exec(select(DiscoveryRun)).all()
        tasks = session.exec(select(DiscoveryTask)).all()
        jobs = session.exec(select(Job)).all()
        all_events = session.exec(select(Event)).all()

    per_env: dict[str, list[Any]] = defaultdict(list)
    for r in reports:
        if (environment is None or r.environment == environment) and r.created_at < until:
            per_env[r.environment].append(r)
    environments = []
    for env, rows in sorted(per_env.items()):
        before = [r for r in rows if r.created_at < since]
        inside = [r for r in rows if r.created_at >= since]
        latest: dict[int, Any] = {}
        for r in inside:
            b = buckets.index(r.created_at)
            if b not in latest or r.id > latest[b].id:
                latest[b] = r
        keep = sorted(([max(before, key=lambda r: r.id)] if before else []) + list(latest.values()),
                      key=lambda r: (r.id))
        environments.append(m._environment_drift(env, keep, buckets, len(inside)))
    drift, coverage = m._combine(environments, n)

    acc: dict[str, Any] = {}
    run_by_id = {r.id: r for r in runs}
    run_by_job = {r.job_id: r for r in runs if r.job_id is not None}
    found_latest: dict[str, Any] = {}
    for r in runs:
        if r.status in m.FOUND_RUNS and r.created_at < until and (
                r.provider not in found_latest or r.id > found_latest[r.provider].id):
            found_latest[r.provider] = r
        if not since <= r.created_at < until:
            continue
        a = acc.setdefault(r.provider, m._ProviderAcc(n))
        b = buckets.index(r.created_at)
        a.runs += 1
        a.failed_runs += r.status == "failed"
        if r.duration is not None:
            a.duration_sum += r.duration
            a.timed += 1
        if r.status in m.FOUND_RUNS:
            a.resources[b] = max(a.resources[b] or 0, r.resource_count)
    durations: dict[tuple[str, int], list[float]] = defaultdict(list)
    for r in runs:
        if since <= r.created_at < until and r.duration is not None:
            durations[(r.provider, buckets.index(r.created_at))].append(r.duration)
    for (provider, b), values in durations.items():
        acc[provider].durations[b] = round(sum(values) / len(values), 3)
    for t in tasks:
        r = run_by_id[t.run_id]
        if not since <= r.created_at < until:
            continue
        a = acc.setdefault(t.provider, m._ProviderAcc(n))
        b = buckets.index(r.created_at)
        failed = int(t.status == "failed")
        a.failed_tasks += failed
        a.retries += t.retries
        a.errors[b] += failed + t.retries
    for e in all_events:
        r = run_by_job.get(e.job_id)
        if e.type == "job.retrying" and r is not None and since <= e.time < until:
            a = acc.setdefault(r.provider, m._ProviderAcc(n))
            a.job_retries += 1
            a.errors[buckets.index(e.time)] += 1
    for provider in found_latest:
        acc.setdefault(provider, m._ProviderAcc(n))
    providers = []
    for provider, a in sorted(acc.items()):
        last = found_latest.get(provider)
        providers.append(m.ProviderMetrics(
            provider=provider, runs=a.runs, failed_runs=a.failed_runs,
            avg_duration=round(a.duration_sum / a.timed, 3) if a.timed else None,
            last_duration=last.duration if last else None, resources=last.resource_count if last else None,
            failed_tasks=a.failed_tasks, retries=a.retries, job_retries=a.job_retries, durations=a.durations,
            resource_series=a.resources, error_series=a.errors))

    failed_by_kind: dict[str, int] = defaultdict(int)
    failures, succeeded = [0] * n, 0
    for j in jobs:
        if j.status in ("failed", "succeeded") and j.finished_at is not None and since <= j.finished_at < until:
            if j.status == "failed":
                failed_by_kind[j.kind] += 1
                failures[buckets.index(j.finished_at)] += 1
            else:
                succeeded += 1
    ends = [min(start + buckets.step, now) for start in buckets.starts]
    depth = [sum(1 for j in jobs if j.created_at <= t and (j.finished_at is None or j.finished_at > t))
             for t in ends]
    job_metrics = m.JobMetrics(
        queued=sum(j.status == "queued" for j in jobs), running=sum(j.status == "running" for j in jobs),
        succeeded=succeeded, failed_by_kind=dict(sorted(failed_by_kind.items())), depth=depth, failures=failures)

    tail = sorted(all_events, key=lambda e: e.id)[-events:] if events else []
    lines = [m.EventLine(id=e.id, time=e.time, type=e.type, job_id=e.job_id,
                         summary=m.summarize_payload(json.loads(e.payload) or {}, job_id=e.job_id)) for e in tail]
    return m.MetricsSnapshot(environment=environment, window=window, now=now, since=since, until=until,
                             buckets=buckets.starts, environments=environments, drift=drift, coverage=coverage,
                             providers=providers, jobs=job_metrics, events=lines)


# ------------------------------------------------------------------------------------------------ measuring


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks metrics", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from driftmgr_tui.core.db import open_database
    from driftmgr_tui.core.settings import Settings
    from driftmgr_tui.services.metrics_service import WINDOWS, MetricsService

    figures: dict[str, Any] = {"python": platform.python_version(), "reports": args.reports, "runs": args.runs,
                               "jobs": args.runs * len(JOB_KINDS), "tasks": args.runs * 10,
                               "events": args.events, "windows": {}}
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), config_path=Path(tmp) / "none.toml",
                            db_url=f"sqlite:///{Path(tmp) / 'metrics.db'}")
        engine = open_database(settings)
        started = time.perf_counter()
        populate(engine, reports=args.reports, runs=args.runs, events=args.events)
        figures["populate_s"] = round(time.perf_counter() - started, 2)
        service = MetricsService(settings, engine, clock=lambda: NOW)
        for window in WINDOWS:
            for environment in (None, "prod"):
                t_sql, fast = best_of(lambda w=window, e=environment: service.snapshot(e, w), args.repeat)
                t_naive, slow = best_of(lambda w=window, e=environment: naive_snapshot(service, e, w, now=NOW),
                                      max(1, args.repeat // 2))
                same = fast == slow
                ok = ok and same and t_sql <= SNAPSHOT_TARGET
                figures["windows"][f"{window} {environment or 'all'}"] = {
                    "snapshot_s": round(t_sql, 4), "naive_s": round(t_naive, 4),
                    "ratio": round(t_naive / t_sql, 1), "same_result": same,
                    "environments": len(fast.environments), "providers": len(fast.providers)}
        engine.dispose()
    figures["targets_met"] = ok
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"{args.reports:,} reports, {args.runs:,} discovery runs ({figures['tasks']:,} tasks), "
              f"{figures['jobs']:,} jobs, {args.events:,} events (inserted in {figures['populate_s']} s)")
        for name, f in figures["windows"].items():
            print(f"  {name:<12} snapshot {f['snapshot_s']:.4f} s   naive {f['naive_s']:.4f} s   "
                  f"= {f['ratio']}x   {'same result' if f['same_result'] else 'RESULTS DIFFER'}")
        print(f"target: snapshot <= {SNAPSHOT_TARGET} s")
        print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
