"""From drift items to an ordered list of actions, each with a preview of exactly what it will do.

Order: an action runs after the actions of what its resource depends on (the state's ``dependencies``; for
unmanaged resources, a discovered attribute naming another item's id), except that removals (``forget``,
``delete``) run the other way round: a dependent goes first, as ``terraform destroy`` would do it.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftmgr_tui.drift.model import CHANGED, MISSING, UNMANAGED
from driftmgr_tui.remediation.items import PlanItem
from driftmgr_tui.remediation.strategies import (
    Capabilities,
    Strategy,
    accept_with_terraform,
    strategies_for,
    unavailable_reason,
)

_INDEX = re.compile(r"\[[^\]]*\]\Z")
_UNORDERED = frozenset({"ignore", "codify"})  # they touch neither the cloud nor a state: order is irrelevant


@dataclass
class ActionSpec:
    """One action before it is saved."""

    item: PlanItem
    strategy: Strategy
    unavailable: str | None = None
    preview: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    depends_on: list[int] = field(default_factory=list)  # seq numbers (1-based) of actions that run first
    alternatives: list[dict[str, Any]] = field(default_factory=list)


def resource_of(address: str) -> str:
    """``module.a.aws_instance.web["x"]`` -> ``module.a.aws_instance.web``."""
    return _INDEX.sub("", address)


def _strings(value: Any, out: set[str], depth: int = 0) -> None:
    if depth > 6:
        return
    if isinstance(value, str):
        out.add(value)
        if value.startswith("arn:"):
            out.add(value.rsplit("/", 1)[-1])
    elif isinstance(value, Mapping):
        for v in value.values():
            _strings(v, out, depth + 1)
    elif isinstance(value, list | tuple):
        for v in value:
            _strings(v, out, depth + 1)


def references(items: list[PlanItem]) -> dict[int, set[int]]:
    """index -> indexes of the items it depends on."""
    by_resource: dict[str, list[int]] = {}
    by_id: dict[str, list[int]] = {}
    for n, item in enumerate(items):
        if item.address:
            by_resource.setdefault(resource_of(item.address), []).append(n)
        by_id.setdefault(item.terraform_id, []).append(n)
    refs: dict[int, set[int]] = {n: set() for n in range(len(items))}
    for n, item in enumerate(items):
        for dep in item.dependencies:
            refs[n].update(m for m in by_resource.get(resource_of(dep), ()) if m != n)
        if item.kind == UNMANAGED and item.cloud:
            seen: set[str] = set()
            _strings(item.cloud.get("attributes"), seen)
            for value in seen & by_id.keys():
                refs[n].update(m for m in by_id[value] if m != n)
    return refs


def order(specs: list[ActionSpec]) -> tuple[list[ActionSpec], list[str]]:
    """Actions in execution order with ``depends_on`` filled in (seq numbers), and warnings (a cycle)."""
    refs = references([s.item for s in specs])
    before: dict[int, set[int]] = {n: set() for n in range(len(specs))}  # n runs after every member
    for n, deps in refs.items():
        for m in deps:
            if specs[n].strategy.name in _UNORDERED or specs[m].strategy.name in _UNORDERED:
                continue
            if specs[n].strategy.removes and specs[m].strategy.removes:
                before[m].add(n)  # remove the dependent first
            elif not specs[n].strategy.removes and not specs[m].strategy.removes:
                before[n].add(m)  # create/change what it depends on first
    waiting = {n: len(b) for n, b in before.items()}
    unlocks: dict[int, list[int]] = {n: [] for n in before}
    for n, b in before.items():
        for m in b:
            unlocks[m].append(n)
    ready = [n for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    out: list[int] = []
    while ready:
        n = heapq.heappop(ready)
        out.append(n)
        for m in unlocks[n]:
            waiting[m] -= 1
            if waiting[m] == 0:
                heapq.heappush(ready, m)
    warnings = []
    if len(out) < len(specs):
        stuck = [n for n in range(len(specs)) if n not in set(out)]
        warnings.append("dependency cycle between " + ", ".join(specs[n].item.label for n in stuck)
                        + ": kept in report order")
        out += stuck
    seq_of = {n: pos + 1 for pos, n in enumerate(out)}
    ordered = []
    for n in out:
        spec = specs[n]
        spec.depends_on = sorted(seq_of[m] for m in before[n])
        ordered.append(spec)
    return ordered, warnings


def choose(item: PlanItem, chosen: Mapping[str, str], caps: Capabilities) -> tuple[Strategy, list[dict[str, Any]]]:
    """The strategy for ``item`` (the one asked for its kind, else the default) and every alternative with
    its availability."""
    from driftmgr_tui.remediation.strategies import DEFAULTS, strategy

    picked = strategy(item.kind, chosen.get(item.kind, DEFAULTS[item.kind]))
    alternatives = []
    for s in strategies_for(item.kind):
        reason = unavailable_reason(s, item, caps)
        alternatives.append({"strategy": s.name, "available": reason is None, "reason": reason,
                             "risk": s.risk, "summary": s.summary})
    return picked, alternatives


PreviewBuilder = Callable[[ActionSpec], None]


def build_specs(items: Iterable[PlanItem], chosen: Mapping[str, str], caps: Capabilities,
                preview: PreviewBuilder) -> tuple[list[ActionSpec], list[str]]:
    specs = []
    for item in items:
        if item.kind not in (CHANGED, MISSING, UNMANAGED):
            continue
        picked, alternatives = choose(item, chosen, caps)
        spec = ActionSpec(item, picked, alternatives=alternatives,
                          unavailable=next(a["reason"] for a in alternatives if a["strategy"] == picked.name))
        if picked.name == "accept":
            spec.params["mode"] = "terraform" if accept_with_terraform(item, caps) else "state-edit"
        if spec.unavailable is None:
            preview(spec)
        else:
            spec.preview = {"summary": f"{picked.name} is not available here: {spec.unavailable}"}
        specs.append(spec)
    return order(specs)


def codify_filename(resource_name: str, taken: set[str], workdir: Path) -> str:
    """``import_<name>.tf``, not clashing with a file of the working dir or another action of the plan."""
    base = f"import_{resource_name}"
    name, n = f"{base}.tf", 2
    while name in taken or (workdir / name).exists():
        name, n = f"{base}_{n}.tf", n + 1
    taken.add(name)
    return name
