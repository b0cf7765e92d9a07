"""What can be done about each kind of drift, and whether it can be done here.

=========  ==========  ============================================================================
kind       strategy    what it does
=========  ==========  ============================================================================
missing    forget      remove the instance from its state (backed up first); a ``removed`` block is
                       offered as the code-side alternative
missing    recreate    ``terraform apply -target=ADDR``: Terraform creates it again from the code
unmanaged  codify      write ``import {}`` blocks and a resource skeleton into a new ``.tf`` file
unmanaged  ignore      append a rule to ``.driftignore``
unmanaged  delete      delete it with the cloud SDK (dangerous: the id must be typed back)
changed    revert      ``terraform apply -target=ADDR``: the code is the truth
changed    accept      ``terraform apply -refresh-only -target=ADDR``, or without terraform a reviewed
                       state edit of the differing attributes
changed    ignore      append field rules (``type.id.path``) to ``.driftignore``
=========  ==========  ============================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftmgr_tui.core.errors import UsageError
from driftmgr_tui.drift.model import CHANGED, MISSING, UNMANAGED


@dataclass(frozen=True)
class Strategy:
    name: str
    kind: str
    risk: str
    summary: str
    needs_terraform: bool = False
    needs_workdir: bool = False
    dangerous: bool = False
    removes: bool = False  # takes something away: runs before what it depends on


_ALL = [
    Strategy("forget", MISSING, "medium", "remove it from the state (backed up first)", removes=True),
    Strategy("recreate", MISSING, "high", "terraform apply -target: create it again from the code",
             needs_terraform=True, needs_workdir=True),
    Strategy("codify", UNMANAGED, "low", "write import {} and resource blocks into a new .tf file",
             needs_workdir=True),
    Strategy("ignore", UNMANAGED, "low", "add a rule to .driftignore"),
    Strategy("delete", UNMANAGED, "critical", "delete it with the cloud SDK (cannot be undone)", dangerous=True,
             removes=True),
    Strategy("revert", CHANGED, "high", "terraform apply -target: set the cloud back to the code",
             needs_terraform=True, needs_workdir=True),
    Strategy("accept", CHANGED, "medium", "take the cloud's values into the state"),
    Strategy("ignore", CHANGED, "low", "add field rules to .driftignore"),
]
STRATEGIES: dict[tuple[str, str], Strategy] = {(s.kind, s.name): s for s in _ALL}
DEFAULTS = {MISSING: "forget", UNMANAGED: "ignore", CHANGED: "accept"}
KINDS = (CHANGED, MISSING, UNMANAGED)


def strategy(kind: str, name: str) -> Strategy:
    found = STRATEGIES.get((kind, name))
    if found is None:
        names = ", ".join(s.name for s in _ALL if s.kind == kind)
        raise UsageError(f"no strategy {name!r} for {kind} drift (choose from: {names})")
    return found


def strategies_for(kind: str) -> list[Strategy]:
    return [s for s in _ALL if s.kind == kind]


def parse_strategy_options(values: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``KIND=STRATEGY`` pairs (``missing=forget``) checked against the table above."""
    chosen: dict[str, str] = {}
    for value in values:
        kind, sep, name = value.partition("=")
        kind, name = kind.strip(), name.strip()
        if not sep or kind not in KINDS:
            raise UsageError(f"--strategy {value!r}: expected KIND=STRATEGY with KIND one of {', '.join(KINDS)}")
        chosen[kind] = strategy(kind, name).name
    return chosen


@dataclass
class Capabilities:
    """What this machine and environment allow: a terraform binary, a working dir and the state it uses."""

    terraform: str | None = None
    terraform_reason: str | None = None  # why there is no terraform
    workdir: Path | None = None
    workdir_states: frozenset[str] = frozenset()  # locations of the working dir's states
    cloud_delete: dict[str, str | None] = field(default_factory=dict)  # "provider type" -> reason or None


def unavailable_reason(s: Strategy, item: Any, caps: Capabilities) -> str | None:
    """None when ``s`` can be applied to ``item`` (a :class:`~driftmgr_tui.remediation.items.PlanItem`) here;
    else why not, in a sentence the user can act on."""
    if s.needs_workdir and caps.workdir is None:
        return "needs the Terraform working dir: give --chdir DIR (or set chdir for the environment)"
    if s.needs_terraform:
        if caps.terraform is None:
            return caps.terraform_reason or "terraform is not installed"
        if item.state not in caps.workdir_states:
            return (f"{item.address} is in {item.state}, not in the state of the working dir {caps.workdir}: "
                    "terraform there cannot change it")
    if s.name in ("forget", "accept") and not item.state:
        return "the drift item does not say which state holds it"
    if s.name == "accept" and not accept_with_terraform(item, caps):
        reason = item.state_edit_blocker()
        if reason:
            return f"{reason}; with terraform and --chdir the refresh-only apply can accept it"
    if s.name == "codify" and item.cloud is None:
        return "the discovered attributes are not available (the discovery run was pruned): scan again"
    if s.name == "delete":
        key = f"{item.provider} {item.terraform_type}"
        if key not in caps.cloud_delete:
            from driftmgr_tui.remediation.cloud_ops import supported_delete

            caps.cloud_delete[key] = supported_delete(item.provider, item.terraform_type)
        return caps.cloud_delete[key]
    return None


def accept_with_terraform(item: Any, caps: Capabilities) -> bool:
    """Whether ``accept`` runs a refresh-only apply (else it is a reviewed state edit)."""
    return caps.terraform is not None and caps.workdir is not None and item.state in caps.workdir_states
