"""Drift history in the database: reports, their items, and each item's life across reports.

A report is written in one transaction with its items and the history updates, so a report is either there
whole or not at all. An item's ``fingerprint`` (kind, type group, normalised id) is stable across reports of an
environment; :class:`~driftmgr_tui.core.models.DriftHistory` keeps first seen, last seen and resolved per
fingerprint. An open item is resolved only by a report that could have seen it: an engine that detects its
kind (Terraform's plan never reports unmanaged resources), and a scan that evaluated its type.

Bulk statements (``executemany``) keep persisting 100,000 items within a couple of seconds on SQLite.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from driftmgr_tui.core.events import decode_json, encode_json
from driftmgr_tui.core.models import DriftHistory, DriftItem, DriftReport, current_actor, utcnow
from driftmgr_tui.drift.matcher import canonical_types
from driftmgr_tui.drift.model import CHANGED, MISSING, SEVERITIES, UNMANAGED, DetectionResult, Finding

SCHEMA = "driftmgr.drift-report/1"
ENGINE_KINDS = {"native": (CHANGED, MISSING, UNMANAGED), "terraform": (CHANGED, MISSING)}


def fingerprint(kind: str, terraform_type: str, match_key: str) -> str:
    ctype = canonical_types().get(terraform_type, terraform_type)
    return hashlib.sha1(f"{kind}\0{ctype}\0{match_key}".encode()).hexdigest()[:20]


@dataclass
class ReportMeta:
    environment: str
    engine: str
    sources: dict[str, Any] = field(default_factory=dict)
    config_drift: list[dict[str, Any]] = field(default_factory=list)
    duration: float | None = None
    partial: bool = False


def _by_severity(findings: Iterable[Finding]) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        counts[f.severity] += 1
    return counts


def save_report(engine: Engine, result: DetectionResult, meta: ReportMeta, *,
                now: datetime | None = None) -> int:
    """Write a report, its items and the history changes in one transaction; return the report id."""
    now = now or utcnow()
    findings = result.findings
    unevaluated_types = {u.terraform_type for u in result.unevaluated}
    config = meta.config_drift
    report_values = dict(
        environment=meta.environment, engine=meta.engine, status="partial" if meta.partial else "complete",
        created_at=now, duration=meta.duration,
        total_resources=result.cloud_total, total_managed=result.managed, total_unmanaged=result.unmanaged,
        total_missing=result.missing, total_changed=result.changed,
        total_unapplied=sum(1 for c in config if c["kind"] == "unapplied"),
        total_orphaned=sum(1 for c in config if c["kind"] == "orphaned"),
        total_ignored=result.ignored, total_unevaluated=result.unevaluated_count, coverage=result.coverage,
        by_severity=encode_json(_by_severity(findings)), sources=encode_json(meta.sources),
        unevaluated=encode_json([u.to_json() for u in result.unevaluated]),
        config_drift=encode_json(config), warnings=encode_json(result.warnings), created_by=current_actor(),
    )
    report_t = DriftReport.__table__
    item_t = DriftItem.__table__
    hist_t = DriftHistory.__table__
    with engine.begin() as conn:
        report_id = conn.execute(sa.insert(report_t).values(**report_values)).inserted_primary_key[0]
        history = {row.fingerprint: row for row in conn.execute(
            sa.select(hist_t.c.id, hist_t.c.fingerprint, hist_t.c.first_seen, hist_t.c.resolved_at,
                      hist_t.c.occurrences, hist_t.c.kind, hist_t.c.terraform_type)
            .where(hist_t.c.environment == meta.environment))}
        items, new_hist, seen_hist, reopened = [], [], [], []
        current: set[str] = set()
        for f in findings:
            fp = fingerprint(f.kind, f.terraform_type, f.match_key)
            if fp in current:
                continue
            current.add(fp)
            past = history.get(fp)
            if past is not None and past.resolved_at is None:
                status, first_seen = "persisting", past.first_seen
                seen_hist.append({"hid": past.id, "last_seen": now, "last_report_id": report_id,
                                  "occurrences": past.occurrences + 1, "severity": f.severity})
            else:
                status, first_seen = "new", now
                if past is not None:
                    reopened.append({"hid": past.id, "first_seen": now, "last_seen": now,
                                     "last_report_id": report_id, "occurrences": past.occurrences + 1,
                                     "severity": f.severity})
                else:
                    new_hist.append(dict(environment=meta.environment, fingerprint=fp, kind=f.kind,
                                         terraform_type=f.terraform_type, terraform_id=f.terraform_id,
                                         address=f.address, severity=f.severity, first_seen=now, last_seen=now,
                                         last_report_id=report_id, resolved_at=None, resolved_report_id=None,
                                         occurrences=1))
            items.append(dict(
                report_id=report_id, fingerprint=fp, kind=f.kind, terraform_type=f.terraform_type,
                terraform_id=f.terraform_id, address=f.address, module=f.module, provider=f.provider,
                account=f.account, region=f.region, name=f.name, severity=f.severity, state=f.state,
                diffs=encode_json([d.to_json() for d in f.diffs]), first_seen=first_seen, status=status,
            ))
        if items:
            conn.execute(sa.insert(item_t), items)
        if new_hist:
            conn.execute(sa.insert(hist_t), new_hist)
        hid = sa.bindparam("hid")
        if seen_hist:
            conn.execute(sa.update(hist_t).where(hist_t.c.id == hid).values(
                last_seen=sa.bindparam("last_seen"), last_report_id=sa.bindparam("last_report_id"),
                occurrences=sa.bindparam("occurrences"), severity=sa.bindparam("severity")), seen_hist)
        if reopened:
            conn.execute(sa.update(hist_t).where(hist_t.c.id == hid).values(
                first_seen=sa.bindparam("first_seen"), last_seen=sa.bindparam("last_seen"),
                last_report_id=sa.bindparam("last_report_id"), occurrences=sa.bindparam("occurrences"),
                severity=sa.bindparam("severity"), resolved_at=None, resolved_report_id=None), reopened)
        kinds = ENGINE_KINDS.get(meta.engine, ())
        resolved = [
            {"hid": row.id, "resolved_at": now, "resolved_report_id": report_id}
            for fp, row in history.items()
            if row.resolved_at is None and fp not in current and row.kind in kinds
            and row.terraform_type not in unevaluated_types
        ]
        if resolved:
            conn.execute(sa.update(hist_t).where(hist_t.c.id == hid).values(
                resolved_at=sa.bindparam("resolved_at"), resolved_report_id=sa.bindparam("resolved_report_id")),
                resolved)
    return int(report_id)


def prune(engine: Engine, *, older_than_days: int, now: datetime | None = None,
          keep_latest: bool = True) -> dict[str, int]:
    """Delete reports (and their items) older than the retention, keeping each environment's latest report;
    resolved history entries older than the retention go too. Returns what was deleted."""
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    report_t, item_t, hist_t = DriftReport.__table__, DriftItem.__table__, DriftHistory.__table__
    with engine.begin() as conn:
        latest = sa.select(sa.func.max(report_t.c.id)).group_by(report_t.c.environment)
        doomed = sa.select(report_t.c.id).where(report_t.c.created_at < cutoff)
        if keep_latest:
            doomed = doomed.where(report_t.c.id.not_in(latest))
        ids = [r[0] for r in conn.execute(doomed)]
        items = 0
        if ids:
            items = conn.execute(sa.delete(item_t).where(item_t.c.report_id.in_(ids))).rowcount or 0
            conn.execute(sa.delete(report_t).where(report_t.c.id.in_(ids)))
        hist = conn.execute(sa.delete(hist_t).where(hist_t.c.resolved_at.is_not(None),
                                                    hist_t.c.resolved_at < cutoff)).rowcount or 0
    return {"reports": len(ids), "items": items, "history": hist}


# ------------------------------------------------------------------------------------------------ reading


def report_json(row: Any, items: Iterable[Any], *, resolved: Iterable[Any] = ()) -> dict[str, Any]:
    """A report row and its item rows as the documented JSON (schema ``driftmgr.drift-report/1``)."""
    return {
        "schema": SCHEMA,
        "id": row.id,
        "environment": row.environment,
        "engine": row.engine,
        "status": row.status,
        "created_at": row.created_at.isoformat(),
        "duration": row.duration,
        "sources": decode_json(row.sources) or {},
        "summary": {
            "total_resources": row.total_resources,
            "total_managed": row.total_managed,
            "total_unmanaged": row.total_unmanaged,
            "total_missing": row.total_missing,
            "total_changed": row.total_changed,
            "total_unapplied": row.total_unapplied,
            "total_orphaned": row.total_orphaned,
            "total_ignored": row.total_ignored,
            "total_unevaluated": row.total_unevaluated,
            "coverage": row.coverage,
            "by_severity": decode_json(row.by_severity) or {},
            "unevaluated": decode_json(row.unevaluated) or [],
        },
        "items": [item_json(i) for i in items],
        "config_drift": decode_json(row.config_drift) or [],
        "resolved": [history_json(h) for h in resolved],
        "warnings": decode_json(row.warnings) or [],
    }


def item_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "fingerprint": row.fingerprint,
        "kind": row.kind,
        "terraform_type": row.terraform_type,
        "terraform_id": row.terraform_id,
        "address": row.address,
        "module": row.module,
        "provider": row.provider,
        "account": row.account,
        "region": row.region,
        "name": row.name,
        "severity": row.severity,
        "diffs": decode_json(row.diffs) or [],
        "first_seen": row.first_seen.isoformat(),
        "status": row.status,
        "state": row.state,
    }


def history_json(row: Any) -> dict[str, Any]:
    return {
        "fingerprint": row.fingerprint,
        "environment": row.environment,
        "kind": row.kind,
        "terraform_type": row.terraform_type,
        "terraform_id": row.terraform_id,
        "address": row.address,
        "severity": row.severity,
        "first_seen": row.first_seen.isoformat(),
        "last_seen": row.last_seen.isoformat(),
        "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
        "occurrences": row.occurrences,
        "last_report_id": row.last_report_id,
        "resolved_report_id": row.resolved_report_id,
    }


SEVERITY_ORDER = sa.case({name: rank for rank, name in enumerate(SEVERITIES)}, value=DriftItem.__table__.c.severity)


def load_items(engine: Engine, report_id: int, *, kinds: Iterable[str] = (), severities: Iterable[str] = (),
               types: Iterable[str] = (), limit: int | None = None) -> list[Any]:
    item_t = DriftItem.__table__
    query = sa.select(item_t).where(item_t.c.report_id == report_id)
    if kinds := list(kinds):
        query = query.where(item_t.c.kind.in_(kinds))
    if severities := list(severities):
        query = query.where(item_t.c.severity.in_(severities))
    if types := list(types):
        query = query.where(item_t.c.terraform_type.in_(types))
    query = query.order_by(SEVERITY_ORDER, item_t.c.kind, item_t.c.terraform_type, item_t.c.terraform_id)
    if limit:
        query = query.limit(limit)
    with engine.connect() as conn:
        return list(conn.execute(query))
