"""Alert rules: what each kind means, how a rule's fields are validated, and whether a report or a discovery
run meets a rule's condition. Pure: no database, no I/O.

Kinds (``AlertRule.kind``):

- ``drift_count``: more than ``threshold`` drifted items (of ``drift_kind``, or of every kind).
- ``severity``: any item at or above ``severity`` (of ``drift_kind`` when given).
- ``coverage``: coverage below ``threshold`` percent.
- ``scan_failed``: a discovery run failed, finished partially or was cancelled.

:func:`evaluate` and :func:`evaluate_run` return a :class:`Condition` while the rule's condition holds and
None when it does not (the service then resolves an open alert).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from driftmgr_tui.core.errors import UsageError
from driftmgr_tui.drift.model import CONFIG_KINDS, KINDS, SEVERITIES, SEVERITY_RANK, worst

RULE_KINDS = ("drift_count", "severity", "coverage", "scan_failed")
CHANNELS = ("app", "bell", "webhook")
DRIFT_KINDS = (*KINDS, *CONFIG_KINDS)
FAILED_RUN_STATUSES = ("failed", "partial", "cancelled")
WORST_LISTED = 5  # items a severity alert's message names

_RUN_SEVERITY = {"failed": "high", "partial": "medium", "cancelled": "low"}


class RuleLike(Protocol):
    """What evaluation reads from a rule (an :class:`~driftmgr_tui.core.models.AlertRule` row qualifies)."""

    kind: str
    threshold: float | None
    severity: str | None
    drift_kind: str | None


@dataclass(frozen=True)
class Condition:
    """A rule's condition holding: the alert's severity, one-line title, detail and measured value."""

    severity: str
    title: str
    message: str
    value: float | None = None


@dataclass(frozen=True)
class RuleFields:
    """A rule's fields after validation (channels deduplicated, in the order given)."""

    kind: str
    threshold: float | None
    severity: str | None
    drift_kind: str | None
    channels: tuple[str, ...]


def validate_rule(kind: str, *, threshold: float | None = None, severity: str | None = None,
                  drift_kind: str | None = None, channels: Iterable[str] = ("app",),
                  has_webhook: bool = False) -> RuleFields:
    """Check a rule's fields together; a UsageError says which field is wrong and what is expected."""
    if kind not in RULE_KINDS:
        raise UsageError(f"unknown alert kind {kind!r}: choose {', '.join(RULE_KINDS)}")
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold):
            raise UsageError(f"threshold {threshold!r}: expected a number")
        threshold = float(threshold)
    if kind in ("drift_count", "coverage") and threshold is None:
        example = "--threshold 0 (alert on any drift)" if kind == "drift_count" else "--threshold 90 (percent)"
        raise UsageError(f"a {kind} rule needs a threshold", hint=f"e.g. {example}")
    if kind in ("severity", "scan_failed") and threshold is not None:
        raise UsageError(f"a {kind} rule takes no threshold"
                         + (" (it fires on any item at or above --severity)" if kind == "severity" else ""))
    if kind == "drift_count" and threshold is not None and threshold < 0:
        raise UsageError(f"threshold {threshold:g}: a drift count threshold is 0 or more")
    if kind == "coverage" and threshold is not None and not 0 <= threshold <= 100:
        raise UsageError(f"threshold {threshold:g}: coverage is a percentage, 0 to 100")
    if kind == "severity" and severity is None:
        raise UsageError("a severity rule needs a severity", hint=f"--severity {'|'.join(SEVERITIES)}")
    if severity is not None:
        if kind != "severity":
            raise UsageError(f"--severity applies to severity rules, not {kind}")
        if severity not in SEVERITIES:
            raise UsageError(f"unknown severity {severity!r}: choose {', '.join(SEVERITIES)}")
    if drift_kind is not None:
        if kind not in ("drift_count", "severity"):
            raise UsageError(f"a drift kind applies to drift_count and severity rules, not {kind}")
        if drift_kind not in DRIFT_KINDS:
            raise UsageError(f"unknown drift kind {drift_kind!r}: choose {', '.join(DRIFT_KINDS)}")
    chosen: list[str] = []
    for channel in channels:
        if channel not in CHANNELS:
            raise UsageError(f"unknown channel {channel!r}: choose {', '.join(CHANNELS)}")
        if channel not in chosen:
            chosen.append(channel)
    if not chosen:
        raise UsageError(f"an alert rule needs at least one channel ({', '.join(CHANNELS)})")
    if "webhook" in chosen and not has_webhook:
        raise UsageError("the webhook channel needs a webhook URL",
                         hint="give --webhook-url-stdin (or --webhook-url URL)")
    if has_webhook and "webhook" not in chosen:
        raise UsageError("a webhook URL was given but the rule's channels do not include webhook",
                         hint="add --channel webhook")
    return RuleFields(kind=kind, threshold=threshold, severity=severity, drift_kind=drift_kind,
                      channels=tuple(chosen))


# ------------------------------------------------------------------------------------------- evaluation


def evaluate(rule: RuleLike, report: Mapping[str, Any]) -> Condition | None:
    """Whether a drift report (the ``driftmgr.drift-report/1`` JSON) meets ``rule``. scan_failed rules are
    about discovery runs (:func:`evaluate_run`): None here."""
    if rule.kind == "drift_count":
        return _drift_count(rule, report)
    if rule.kind == "severity":
        return _severity(rule, report)
    if rule.kind == "coverage":
        return _coverage(rule, report)
    if rule.kind == "scan_failed":
        return None
    raise UsageError(f"unknown alert kind {rule.kind!r}: choose {', '.join(RULE_KINDS)}")


def evaluate_run(rule: RuleLike, run: Any) -> Condition | None:
    """Whether a discovery run (anything with ``status`` and ``error``; ``id``, ``provider``,
    ``failed_tasks`` and ``task_count`` when known) meets a scan_failed rule."""
    if rule.kind != "scan_failed":
        return None
    status = getattr(run, "status", None)
    if status not in FAILED_RUN_STATUSES:
        return None
    run_id = getattr(run, "id", None)
    provider = getattr(run, "provider", None)
    failed, total = getattr(run, "failed_tasks", 0) or 0, getattr(run, "task_count", 0) or 0
    what = " ".join(p for p in (provider, "discovery run" if run_id is not None else "scan",
                                str(run_id) if run_id is not None else None) if p)
    tasks = f" ({failed} of {total} tasks failed)" if total and status == "partial" else ""
    error = getattr(run, "error", None)
    return Condition(severity=_RUN_SEVERITY[status], title=f"{what} {status}{tasks}",
                     message=error or f"the {what} was {status}",
                     value=float(failed) if status == "partial" else None)


def _items(report: Mapping[str, Any], drift_kind: str | None) -> list[Mapping[str, Any]]:
    items = [*report.get("items", ()), *report.get("config_drift", ())]
    if drift_kind:
        items = [i for i in items if i.get("kind") == drift_kind]
    return items


def _count(summary: Mapping[str, Any], kinds: Sequence[str]) -> int:
    return sum(int(summary.get(f"total_{k}", 0) or 0) for k in kinds)


def _drift_count(rule: RuleLike, report: Mapping[str, Any]) -> Condition | None:
    summary = report.get("summary", {})
    kinds = (rule.drift_kind,) if rule.drift_kind else DRIFT_KINDS
    count = _count(summary, kinds)
    threshold = rule.threshold or 0.0
    if count <= threshold:
        return None
    severity = worst((i["severity"] for i in _items(report, rule.drift_kind) if i.get("severity") in SEVERITY_RANK),
                     default="medium")
    what = f"{rule.drift_kind} " if rule.drift_kind else "drifted "
    noun = "resource" if count == 1 else "resources"
    breakdown = ", ".join(f"{k} {n}" for k in kinds if (n := _count(summary, (k,))))
    return Condition(severity=severity,
                     title=f"{_env(report)}: {count} {what}{noun} (more than {threshold:g})",
                     message=f"{breakdown} in report {report.get('id')}", value=float(count))


def _severity(rule: RuleLike, report: Mapping[str, Any]) -> Condition | None:
    assert rule.severity is not None
    limit = SEVERITY_RANK[rule.severity]
    items = [i for i in _items(report, rule.drift_kind) if SEVERITY_RANK.get(i.get("severity", ""), 99) <= limit]
    if not items and "items" not in report and not rule.drift_kind:
        # a report header without its items: the counts still say whether the condition holds
        by_severity = report.get("summary", {}).get("by_severity", {})
        count = sum(n for name, n in by_severity.items() if SEVERITY_RANK.get(name, 99) <= limit)
        if not count:
            return None
        top = worst(name for name, n in by_severity.items() if n and SEVERITY_RANK.get(name, 99) <= limit)
        return Condition(severity=top, title=f"{_env(report)}: {count} item(s) at {rule.severity} or above",
                         message=f"report {report.get('id')}", value=float(count))
    if not items:
        return None
    items.sort(key=lambda i: (SEVERITY_RANK[i["severity"]], i.get("kind", ""), i.get("terraform_type", "")))
    top = items[0]["severity"]
    lines = [_describe(i) for i in items[:WORST_LISTED]]
    if len(items) > WORST_LISTED:
        lines.append(f"and {len(items) - WORST_LISTED} more")
    noun = "item" if len(items) == 1 else "items"
    return Condition(severity=top,
                     title=f"{_env(report)}: {len(items)} drifted {noun} at {rule.severity} or above",
                     message="\n".join(lines), value=float(len(items)))


def _coverage(rule: RuleLike, report: Mapping[str, Any]) -> Condition | None:
    coverage = float(report.get("summary", {}).get("coverage", 100.0))
    threshold = rule.threshold if rule.threshold is not None else 0.0
    if coverage >= threshold:
        return None
    s = report.get("summary", {})
    return Condition(severity="medium",
                     title=f"{_env(report)}: coverage {coverage:.1f}% (below {threshold:g}%)",
                     message=f"managed {s.get('total_managed', 0)}, unmanaged {s.get('total_unmanaged', 0)}, "
                             f"missing {s.get('total_missing', 0)} in report {report.get('id')}",
                     value=coverage)


def _describe(item: Mapping[str, Any]) -> str:
    head = f"{item['severity']} {item.get('kind', '')}"
    address, ident = item.get("address"), item.get("terraform_id")
    if address:
        return f"{head} {address}" + (f" ({ident})" if ident else "")
    return f"{head} {item.get('terraform_type', '')} {ident or ''}".rstrip()


def _env(report: Mapping[str, Any]) -> str:
    return str(report.get("environment") or "default")
