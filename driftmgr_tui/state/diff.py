"""What a state change does, instance by instance: shown by every ``--dry-run`` and after every write."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import orjson

from driftmgr_tui.state.model import StateFile


@dataclass
class StateDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    moved: list[tuple[str, str]] = field(default_factory=list)
    outputs_changed: list[str] = field(default_factory=list)
    serial: tuple[int | None, int | None] = (None, None)
    lineage: tuple[str | None, str | None] = (None, None)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.moved or self.outputs_changed)

    def lines(self) -> list[str]:
        """Human-readable lines: ``- removed``, ``+ added``, ``~ changed``, ``> moved -> to``."""
        out = [f"- {a}" for a in self.removed]
        out += [f"> {a} -> {b}" for a, b in self.moved]
        out += [f"+ {a}" for a in self.added]
        out += [f"~ {a}" for a in self.changed]
        out += [f"~ output.{o}" for o in self.outputs_changed]
        if self.lineage[0] is not None and self.lineage[0] != self.lineage[1]:
            out.append(f"! lineage {self.lineage[0]} -> {self.lineage[1]}")
        return out

    def to_json(self) -> dict:
        return {
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "moved": [{"from": a, "to": b} for a, b in self.moved],
            "outputs_changed": self.outputs_changed,
        }


def _fingerprint(state: StateFile) -> dict[str, object]:
    return {addr: ref.instance for addr, ref in state.index.items()}


def _key(obj: object) -> bytes:
    try:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return json.dumps(obj, sort_keys=True).encode()


def diff_states(old: StateFile | None, new: StateFile) -> StateDiff:
    """Instance-level difference. A removed and an added instance with identical objects is a move."""
    old_map = _fingerprint(old) if old is not None else {}
    new_map = _fingerprint(new)
    removed = [a for a in old_map if a not in new_map]
    added = [a for a in new_map if a not in old_map]
    changed = [a for a in new_map if a in old_map and old_map[a] != new_map[a]]
    moved: list[tuple[str, str]] = []
    by_content: dict[bytes, list[str]] = {}
    for dst in added:
        by_content.setdefault(_key(new_map[dst]), []).append(dst)
    moved_dst: set[str] = set()
    still_removed = []
    for src in removed:
        candidates = by_content.get(_key(old_map[src]))
        if candidates:
            dst = candidates.pop(0)
            moved.append((src, dst))
            moved_dst.add(dst)
        else:
            still_removed.append(src)
    removed = still_removed
    remaining_added = [a for a in added if a not in moved_dst]
    old_outputs = old.data.get("outputs") or {} if old is not None else {}
    new_outputs = new.data.get("outputs") or {}
    outputs_changed = sorted(
        name for name in set(old_outputs) | set(new_outputs) if old_outputs.get(name) != new_outputs.get(name)
    )
    return StateDiff(
        added=remaining_added,
        removed=removed,
        changed=changed,
        moved=moved,
        outputs_changed=outputs_changed,
        serial=(old.serial if old else None, new.serial),
        lineage=(old.lineage if old else None, new.lineage),
    )
