"""The in-memory Terraform state: v4 JSON kept as plain dicts, plus an address index.

Why plain dicts: reading a 50,000-instance state must cost little more than the
JSON parse itself, and every field Terraform (or a future Terraform) wrote must
survive a round trip untouched, including fields we do not know. So resources
and instance objects stay the dicts the JSON parser produced; this module adds
the index and the typed accessors the rest of driftmgr uses.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from driftmgr_tui.state.address import instance_address

Json = dict[str, Any]


@dataclass(slots=True)
class InstanceRef:
    """One resource instance object in a state: its resource entry and its instance entry (both live dicts)."""

    address: str
    resource: Json
    instance: Json

    @property
    def module(self) -> str:
        return self.resource.get("module", "")

    @property
    def mode(self) -> str:
        return self.resource["mode"]

    @property
    def type(self) -> str:
        return self.resource["type"]

    @property
    def name(self) -> str:
        return self.resource["name"]

    @property
    def provider(self) -> str:
        return self.resource["provider"]

    @property
    def index_key(self) -> int | str | None:
        return self.instance.get("index_key")

    @property
    def deposed(self) -> str | None:
        return self.instance.get("deposed") or None

    @property
    def tainted(self) -> bool:
        return self.instance.get("status") == "tainted"

    @property
    def attributes(self) -> Json:
        """Attributes as a nested dict; legacy flatmap attributes are returned as-is (flat)."""
        attrs = self.instance.get("attributes")
        if attrs is None:
            attrs = self.instance.get("attributes_flat") or {}
        return attrs

    @property
    def id(self) -> str | None:
        value = self.attributes.get("id")
        return None if value is None else str(value)

    @property
    def resource_address(self) -> str:
        return instance_address(self.module, self.mode, self.type, self.name, None)


@dataclass(frozen=True)
class BackupMeta:
    """What a backup row records about the state it holds."""

    serial: int | None
    lineage: str | None
    terraform_version: str | None
    resource_count: int


@dataclass(slots=True)
class StateProblem:
    """Something Terraform itself would reject or warn about; reported by `state validate`."""

    severity: str  # "error" | "warning"
    code: str
    message: str
    address: str | None = None


@dataclass
class StateFile:
    """A Terraform state in v4 shape.

    ``data`` is the whole top-level JSON object (``version`` 4, ``terraform_version``,
    ``serial``, ``lineage``, ``outputs``, ``resources``, ``check_results`` and any
    unknown keys). ``source_version`` is the format version the bytes had (1-4).
    ``problems`` lists semantic issues found while reading (duplicate instances),
    kept so ``validate`` can report them instead of the reader refusing the file.
    """

    data: Json
    source_version: int = 4
    path: str | None = None
    problems: list[StateProblem] = field(default_factory=list)
    _index: dict[str, InstanceRef] | None = field(default=None, repr=False)
    _deposed: list[InstanceRef] | None = field(default=None, repr=False)

    # -- top-level fields -------------------------------------------------
    @property
    def serial(self) -> int:
        return self.data.get("serial", 0)

    @serial.setter
    def serial(self, value: int) -> None:
        self.data["serial"] = value

    @property
    def lineage(self) -> str:
        return self.data.get("lineage", "")

    @lineage.setter
    def lineage(self, value: str) -> None:
        self.data["lineage"] = value

    @property
    def terraform_version(self) -> str:
        return self.data.get("terraform_version", "")

    @property
    def resources(self) -> list[Json]:
        return self.data.setdefault("resources", [])

    @property
    def outputs(self) -> Json:
        return self.data.setdefault("outputs", {})

    # -- index --------------------------------------------------------------
    def reindex(self) -> None:
        """(Re)build the address index; called by the reader and after every mutation."""
        index: dict[str, InstanceRef] = {}
        deposed: list[InstanceRef] = []
        duplicates: list[str] = []
        for res in self.data.get("resources") or ():
            module = res.get("module", "")
            mode = res["mode"]
            rtype = res["type"]
            name = res["name"]
            instances = res["instances"]
            if not instances:
                continue
            # The resource's address once; per instance only the key is appended (the common
            # no-key and integer-key cases inline, as instance_address formats them).
            base = instance_address(module, mode, rtype, name, None)
            for inst in instances:
                key = inst.get("index_key")
                if key is None:
                    addr = base
                elif type(key) is int and key >= 0:
                    addr = f"{base}[{key}]"
                else:
                    addr = instance_address(module, mode, rtype, name, key)
                ref = InstanceRef(addr, res, inst)
                if inst.get("deposed"):
                    deposed.append(ref)
                elif addr in index:
                    duplicates.append(addr)
                else:
                    index[addr] = ref
        self._index = index
        self._deposed = deposed
        self.problems = [p for p in self.problems if p.code != "duplicate-instance"]
        for addr in duplicates:
            self.problems.append(
                StateProblem("error", "duplicate-instance", f"instance {addr} appears more than once", addr)
            )

    @property
    def index(self) -> dict[str, InstanceRef]:
        if self._index is None:
            self.reindex()
        assert self._index is not None
        return self._index

    @property
    def deposed_objects(self) -> list[InstanceRef]:
        if self._deposed is None:
            self.reindex()
        assert self._deposed is not None
        return self._deposed

    def instances(self) -> Iterator[InstanceRef]:
        """Current objects, in state order."""
        return iter(self.index.values())

    def find_resource(self, module: str, mode: str, rtype: str, name: str) -> Json | None:
        for res in self.resources:
            if (
                res.get("module", "") == module
                and res["mode"] == mode
                and res["type"] == rtype
                and res["name"] == name
            ):
                return res
        return None

    def copy(self) -> StateFile:
        """A deep copy: mutations on it never touch this state."""
        return StateFile(copy.deepcopy(self.data), self.source_version, self.path, list(self.problems))

    def __len__(self) -> int:
        return len(self.index)


def new_state(lineage: str, terraform_version: str = "1.11.4") -> StateFile:
    """An empty state as ``terraform`` would write it (serial 0)."""
    return StateFile(
        {
            "version": 4,
            "terraform_version": terraform_version,
            "serial": 0,
            "lineage": lineage,
            "outputs": {},
            "resources": [],
            "check_results": None,
        }
    )
