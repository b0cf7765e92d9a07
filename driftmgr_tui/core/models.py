"""Database tables (SQLModel). Every table here is created by a hand-written Alembic migration in
``driftmgr_tui/core/migrations/versions``; ``tests/core/test_db.py`` checks that the migrated schema and
these models agree on SQLite and PostgreSQL.

Portable types only: no SQLite-only SQL. Timestamps are timezone-aware UTC on both backends
(:class:`UTCDateTime`); integers that can exceed 2**31 are ``BigInteger``.
"""

from __future__ import annotations

import getpass
import os
import socket
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

# Named constraints from the first table on: SQLite's batch migrations can only drop or alter a constraint
# that has a name. Migrations must spell the same names (op.f("pk_<table>") ...).
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def current_actor() -> str:
    """``user@host`` for audit-style columns (who made this backup)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always hands back an aware UTC datetime.

    PostgreSQL stores ``timestamptz`` natively; SQLite has no time zones, so values are stored as naive UTC
    and re-tagged as UTC on the way out. Naive datetimes are refused on the way in: a naive local time
    silently stored as UTC is the bug this type exists to prevent.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value!r}: pass a timezone-aware datetime (e.g. datetime.now(UTC))"
            )
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class StateBackup(SQLModel, table=True):
    """One backed-up copy of a state's bytes, taken before a write.

    The bytes themselves live on disk, content-addressed by ``sha256`` (see ``Settings.backups_dir``); the
    same bytes may be backed up more than once (different reasons), so nothing here is unique but ``id``.
    """

    __tablename__ = "state_backup"

    id: int | None = Field(default=None, primary_key=True)
    location: str = Field(index=True)
    sha256: str = Field(index=True)
    serial: int | None = Field(default=None, sa_type=sa.BigInteger)
    lineage: str | None = None
    terraform_version: str | None = None
    resource_count: int
    size: int = Field(sa_type=sa.BigInteger)
    reason: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(default_factory=current_actor)


class Job(SQLModel, table=True):
    """One long operation (discovery, drift detection, remediation) in the persistent queue.

    Rows are the single source of truth for every process: the CLI running a job in the foreground, a TUI
    polling the table, and a restart recovering what a dead worker left behind all read the same columns.
    The lifecycle and the write rules live in :mod:`driftmgr_tui.core.jobs`; every update there is
    conditional (``WHERE status = ... AND owner = ... AND attempts = ...``) so a finished job stays finished.

    ``payload`` and ``result`` are orjson-encoded JSON objects stored as text (portable across SQLite and
    PostgreSQL). ``run_after`` is the earliest time the job may be claimed (retry backoff). ``owner`` is the
    ``host:pid`` of the worker process holding a running job, ``heartbeat_at`` the last time it proved alive.
    """

    __tablename__ = "job"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True)
    status: str = Field(default="queued", index=True)
    priority: int = 0
    payload: str = Field(default="{}", sa_type=sa.Text)
    result: str | None = Field(default=None, sa_type=sa.Text)
    attempts: int = 0
    max_attempts: int = 3
    progress: float = 0.0
    message: str = ""
    error: str | None = Field(default=None, sa_type=sa.Text)
    error_kind: str | None = None
    run_after: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    cancel_requested: bool = False
    owner: str | None = None
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: str = Field(default_factory=current_actor)


# BIGSERIAL on PostgreSQL; on SQLite only an INTEGER PRIMARY KEY is the auto-assigned rowid (64-bit anyway).
_EVENT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Event(SQLModel, table=True):
    """One persisted event (``job.started``, ``discovery.region.failed`` ...), the log other processes poll.

    ``id`` only grows, so a reader can ask for everything after the last id it saw. ``job_id`` names the job
    that emitted it (no foreign key: events outlive pruned jobs). ``payload`` is an orjson-encoded object.
    """

    __tablename__ = "event"

    id: int | None = Field(default=None, primary_key=True, sa_type=_EVENT_ID)
    type: str = Field(index=True)
    time: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    job_id: int | None = Field(default=None, index=True)
    payload: str = Field(default="{}", sa_type=sa.Text)


# ----------------------------------------------------------------------------------------------- discovery


class DiscoveryRun(SQLModel, table=True):
    """One discovery of one provider's scope: what was asked, how each task went, what was found.

    ``status``: queued -> running -> complete | partial | failed | cancelled. *partial* means some region or
    service failed (the reasons are on its :class:`DiscoveryTask` rows): a run is never marked complete
    unless every task succeeded. ``scope``, ``regions`` and ``unsupported`` are orjson-encoded text.
    """

    __tablename__ = "discovery_run"

    id: int | None = Field(default=None, primary_key=True)
    job_id: int | None = Field(default=None, index=True)
    provider: str = Field(index=True)
    scope: str = Field(default="{}", sa_type=sa.Text)
    status: str = Field(default="queued", index=True)
    account: str | None = None
    principal: str | None = None
    regions: str = Field(default="[]", sa_type=sa.Text)
    task_count: int = 0
    failed_tasks: int = 0
    resource_count: int = 0
    retries: int = 0
    unsupported: str = Field(default="{}", sa_type=sa.Text)
    error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    duration: float | None = None
    created_by: str = Field(default_factory=current_actor)


class DiscoveryTask(SQLModel, table=True):
    """One unit of a run (a region and service, a subscription, a scope) and how it went."""

    __tablename__ = "discovery_task"
    __table_args__ = (sa.UniqueConstraint("run_id", "key", name="uq_discovery_task_run_id_key"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="discovery_run.id", ondelete="CASCADE", index=True)
    key: str
    provider: str
    account: str = ""
    region: str = ""
    service: str = ""
    cloud_types: str = Field(default="[]", sa_type=sa.Text)
    status: str = "pending"  # pending | running | succeeded | failed | cancelled
    resource_count: int = 0
    pages: int = 0
    retries: int = 0
    duration: float | None = None
    error: str | None = Field(default=None, sa_type=sa.Text)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


_RESOURCE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class CloudResource(SQLModel, table=True):
    """One resource a run found, as Terraform would know it: ``(terraform_type, match_key)`` is what drift
    detection joins state instances on. ``tags`` and ``attributes`` are orjson-encoded (secrets redacted)."""

    __tablename__ = "cloud_resource"
    __table_args__ = (
        sa.Index("ix_cloud_resource_run_type_key", "run_id", "terraform_type", "match_key"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=_RESOURCE_ID)
    run_id: int = Field(foreign_key="discovery_run.id", ondelete="CASCADE")
    task_id: int | None = Field(default=None, foreign_key="discovery_task.id", ondelete="CASCADE", index=True)
    provider: str
    account: str
    region: str
    cloud_type: str
    terraform_type: str
    terraform_id: str = Field(sa_type=sa.Text)
    match_key: str = Field(sa_type=sa.Text)
    name: str | None = None
    native_id: str | None = Field(default=None, sa_type=sa.Text)
    tags: str = Field(default="{}", sa_type=sa.Text)
    attributes: str = Field(default="{}", sa_type=sa.Text)
    cloud_default: str | None = None


# --------------------------------------------------------------------------------------------------- drift


class DriftReport(SQLModel, table=True):
    """One detection over one environment: the counts, coverage and what could not be evaluated.
    ``by_severity``, ``sources``, ``unevaluated``, ``config_drift``, ``warnings`` are orjson-encoded text."""

    __tablename__ = "drift_report"

    id: int | None = Field(default=None, primary_key=True)
    environment: str = Field(index=True)
    engine: str = "native"
    status: str = "complete"  # complete | partial (something was not evaluated)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    duration: float | None = None
    total_resources: int = 0
    total_managed: int = 0
    total_unmanaged: int = 0
    total_missing: int = 0
    total_changed: int = 0
    total_unapplied: int = 0
    total_orphaned: int = 0
    total_ignored: int = 0
    total_unevaluated: int = 0
    coverage: float = 100.0
    by_severity: str = Field(default="{}", sa_type=sa.Text)
    sources: str = Field(default="{}", sa_type=sa.Text)
    unevaluated: str = Field(default="[]", sa_type=sa.Text)
    config_drift: str = Field(default="[]", sa_type=sa.Text)
    warnings: str = Field(default="[]", sa_type=sa.Text)
    created_by: str = Field(default_factory=current_actor)


class DriftItem(SQLModel, table=True):
    """One drifted resource in one report. ``fingerprint`` is stable across reports of an environment
    (kind + type + id), so history can say when an item was first seen and when it went away."""

    __tablename__ = "drift_item"
    __table_args__ = (sa.Index("ix_drift_item_report_id_kind", "report_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=_RESOURCE_ID)
    report_id: int = Field(foreign_key="drift_report.id", ondelete="CASCADE")
    fingerprint: str = Field(index=True)
    kind: str
    terraform_type: str = Field(index=True)
    terraform_id: str = Field(sa_type=sa.Text)
    address: str | None = Field(default=None, sa_type=sa.Text)
    module: str = ""
    provider: str = ""
    account: str = ""
    region: str = ""
    name: str | None = None
    severity: str = "medium"
    state: str | None = Field(default=None, sa_type=sa.Text)
    diffs: str = Field(default="[]", sa_type=sa.Text)
    first_seen: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    status: str = "new"  # new | persisting (relative to the environment's previous report)


class DriftHistory(SQLModel, table=True):
    """The life of one fingerprint in one environment: first seen, last seen, resolved (None while open).
    Seen again after being resolved, it reopens (``resolved_at`` cleared, ``occurrences`` counts reports)."""

    __tablename__ = "drift_history"
    __table_args__ = (sa.UniqueConstraint("environment", "fingerprint", name="uq_drift_history_environment"),)

    id: int | None = Field(default=None, primary_key=True)
    environment: str = Field(index=True)
    fingerprint: str
    kind: str
    terraform_type: str
    terraform_id: str = Field(sa_type=sa.Text)
    address: str | None = Field(default=None, sa_type=sa.Text)
    severity: str = "medium"
    first_seen: datetime = Field(sa_type=UTCDateTime)
    last_seen: datetime = Field(sa_type=UTCDateTime)
    last_report_id: int | None = None
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    resolved_report_id: int | None = None
    occurrences: int = 1


class IgnoreRuleRow(SQLModel, table=True):
    """An ignore rule kept in the database (``driftmgr drift ignore add``), in ``.driftignore`` syntax;
    ``environment`` None applies everywhere."""

    __tablename__ = "ignore_rule"

    id: int | None = Field(default=None, primary_key=True)
    environment: str | None = Field(default=None, index=True)
    rule: str = Field(sa_type=sa.Text)
    reason: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(default_factory=current_actor)


# ---------------------------------------------------------------------------------------------- remediation


class RemediationPlan(SQLModel, table=True):
    """Ordered remediation actions for drift of one environment, usually made from one drift report.

    ``status``: draft (actions being decided) -> applying -> applied | failed | cancelled; a plan whose executed
    actions were undone is rolled_back. ``options`` (orjson) keeps what the plan was made with (strategies
    asked for, the report's sources); ``workdir`` is the Terraform working dir terraform-based actions run in.
    """

    __tablename__ = "remediation_plan"

    id: int | None = Field(default=None, primary_key=True)
    environment: str = Field(index=True)
    report_id: int | None = None
    status: str = Field(default="draft", index=True)
    risk: str = "low"
    workdir: str | None = Field(default=None, sa_type=sa.Text)
    options: str = Field(default="{}", sa_type=sa.Text)
    job_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    created_by: str = Field(default_factory=current_actor)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    applied_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RemediationAction(SQLModel, table=True):
    """One step of a plan: one drift item and the strategy chosen for it.

    ``status``: pending -> approved | skipped -> running -> succeeded | failed -> rolled_back. ``preview``
    (orjson) is exactly what the action will do (commands, API calls, state diff, generated HCL); ``params``
    what it needs to do it; ``undo`` what running it changed, for rollback (a state backup id, files written,
    lines added); ``depends_on`` the ``seq`` of actions that must run before it.
    """

    __tablename__ = "remediation_action"
    __table_args__ = (sa.UniqueConstraint("plan_id", "seq", name="uq_remediation_action_plan_id_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="remediation_plan.id", ondelete="CASCADE", index=True)
    seq: int
    fingerprint: str
    kind: str
    terraform_type: str
    terraform_id: str = Field(sa_type=sa.Text)
    address: str | None = Field(default=None, sa_type=sa.Text)
    module: str = ""
    provider: str = ""
    account: str = ""
    region: str = ""
    state: str | None = Field(default=None, sa_type=sa.Text)
    strategy: str
    status: str = "pending"
    risk: str = "low"
    dangerous: bool = False
    preview: str = Field(default="{}", sa_type=sa.Text)
    params: str = Field(default="{}", sa_type=sa.Text)
    depends_on: str = Field(default="[]", sa_type=sa.Text)
    decided_by: str | None = None
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    output: str = Field(default="", sa_type=sa.Text)
    error: str | None = Field(default=None, sa_type=sa.Text)
    undo: str = Field(default="{}", sa_type=sa.Text)
    rolled_back_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditEntry(SQLModel, table=True):
    """One append-only audit record. ``hash`` = sha256 over the entry's canonical JSON and ``prev_hash`` (the
    previous entry's hash), so changing or deleting any entry breaks the chain (``driftmgr audit verify``).
    ``seq`` is unique and gap-free; ``detail`` is orjson text."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True, sa_type=_EVENT_ID)
    seq: int = Field(sa_type=sa.BigInteger, unique=True)
    time: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str
    action: str = Field(index=True)
    plan_id: int | None = Field(default=None, index=True)
    action_id: int | None = None
    target: str | None = Field(default=None, sa_type=sa.Text)
    before_digest: str | None = None
    after_digest: str | None = None
    result: str = "ok"
    detail: str = Field(default="{}", sa_type=sa.Text)
    prev_hash: str
    hash: str = Field(unique=True)


class RemediationApproval(SQLModel, table=True):
    """One user's approval of one remediation action. With the four-eyes setting on, an action needs
    approvals from two different users before its plan may be applied; (action, approver) is unique, so one
    user cannot approve twice."""

    __tablename__ = "remediation_approval"
    __table_args__ = (sa.UniqueConstraint("action_id", "approver", name="uq_remediation_approval_action_id"),)

    id: int | None = Field(default=None, primary_key=True)
    action_id: int = Field(foreign_key="remediation_action.id", ondelete="CASCADE", index=True)
    plan_id: int = Field(index=True)
    approver: str
    approved_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# --------------------------------------------------------------------------------------------------- alerts


class AlertRule(SQLModel, table=True):
    """When to raise an alert, evaluated after every scan. ``kind``: drift_count (more than ``threshold``
    drifted items, optionally of one ``drift_kind``), severity (any item at or above ``severity``), coverage
    (below ``threshold`` %), scan_failed (a discovery run failed or was partial). ``environment`` None: every
    environment. ``channels`` (orjson list): app, bell, webhook. A webhook URL may hold a token, so only a
    keyring reference to it is stored (``webhook_ref``)."""

    __tablename__ = "alert_rule"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    environment: str | None = Field(default=None, index=True)
    kind: str
    threshold: float | None = None
    severity: str | None = None
    drift_kind: str | None = None
    channels: str = Field(default='["app"]', sa_type=sa.Text)
    webhook_ref: str | None = None
    enabled: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(default_factory=current_actor)


class Alert(SQLModel, table=True):
    """A rule that fired for an environment: firing -> acknowledged -> resolved (or straight to resolved when
    the condition clears). One open alert per (rule, environment); ``deliveries`` (orjson) records each
    notification attempt and its result."""

    __tablename__ = "alert"
    # the database keeps "one open alert per (rule, environment)" even when two scans evaluate at once
    __table_args__ = (
        sa.Index("uq_alert_open_rule_environment", "rule_id", "environment", unique=True,
                 sqlite_where=sa.text("status IN ('firing', 'acknowledged')"),
                 postgresql_where=sa.text("status IN ('firing', 'acknowledged')")),
    )

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = Field(foreign_key="alert_rule.id", ondelete="CASCADE", index=True)
    environment: str = Field(index=True)
    status: str = Field(default="firing", index=True)
    severity: str = "medium"
    title: str = Field(sa_type=sa.Text)
    message: str = Field(default="", sa_type=sa.Text)
    value: float | None = None
    report_id: int | None = None
    run_id: int | None = None
    deliveries: str = Field(default="[]", sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
