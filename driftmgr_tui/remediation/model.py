"""Remediation plans and actions: the statuses and the moves between them.

An action is one drift item with the strategy chosen for it::

    pending -> approved | skipped | rejected;  approved -> running -> succeeded | failed -> rolled_back

A decision can be changed (approved <-> skipped <-> pending) while the plan is a draft; nothing runs before
it is applied, and a plan applies only when every action is decided and at least one is approved. A reviewer
who rejects an action blocks the whole plan until the action is reset (to decide again) or a new plan is
made: a rejection is an objection, not a skip. A plan is
``draft`` until applied, then ``applying`` -> ``applied`` | ``failed`` | ``cancelled``; ``rolled_back`` once
what it executed was undone.
"""

from __future__ import annotations

from driftmgr_tui.core.errors import UsageError

PENDING = "pending"
APPROVED = "approved"
SKIPPED = "skipped"
REJECTED = "rejected"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
ROLLED_BACK = "rolled_back"
ACTION_STATUSES = (PENDING, APPROVED, SKIPPED, REJECTED, RUNNING, SUCCEEDED, FAILED, ROLLED_BACK)
DECIDED = frozenset({APPROVED, SKIPPED})

_MOVES: dict[str, frozenset[str]] = {
    PENDING: frozenset({APPROVED, SKIPPED, REJECTED}),
    APPROVED: frozenset({PENDING, SKIPPED, REJECTED, RUNNING}),
    SKIPPED: frozenset({PENDING, APPROVED, REJECTED}),
    REJECTED: frozenset({PENDING}),
    RUNNING: frozenset({SUCCEEDED, FAILED}),
    SUCCEEDED: frozenset({ROLLED_BACK}),
    FAILED: frozenset({ROLLED_BACK}),
    ROLLED_BACK: frozenset(),
}

DRAFT = "draft"
APPLYING = "applying"
APPLIED = "applied"
PLAN_FAILED = "failed"
CANCELLED = "cancelled"
PLAN_ROLLED_BACK = "rolled_back"
PLAN_STATUSES = (DRAFT, APPLYING, APPLIED, PLAN_FAILED, CANCELLED, PLAN_ROLLED_BACK)

RISKS = ("low", "medium", "high", "critical")
RISK_RANK = {name: rank for rank, name in enumerate(RISKS)}


def can_move(current: str, new: str) -> bool:
    return new in _MOVES.get(current, frozenset())


def check_move(current: str, new: str, what: str) -> None:
    """UsageError naming ``what`` (``action 3``) when ``current`` cannot become ``new``."""
    if not can_move(current, new):
        allowed = ", ".join(sorted(_MOVES.get(current, ()))) or "nothing (final)"
        raise UsageError(f"{what} is {current}; it cannot become {new} (from {current}: {allowed})")


def highest_risk(risks: list[str]) -> str:
    return max(risks, key=RISK_RANK.__getitem__, default="low")
