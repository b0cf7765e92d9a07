"""An environment's managed set: every state that belongs to it, read and turned into drift-engine input.

An environment is named in the config file (``[environments.NAME]``) or given on the command line: state files
(paths or globs), backend specs (``s3://bucket/key?region=...``, one per key), a Terraform working dir,
workspaces (``*`` for all of them) and a Terragrunt tree (the state of each of its units). Together they form
one managed set: a resource managed by any of them is managed.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from driftmgr_tui.core.errors import UsageError
from driftmgr_tui.core.settings import EnvironmentConfig, Settings
from driftmgr_tui.discovery.registry import match_key
from driftmgr_tui.drift.matcher import partition_of
from driftmgr_tui.drift.model import ManagedInstance, provider_of
from driftmgr_tui.drift.normalize import sensitive_paths_of
from driftmgr_tui.services.state_service import StateService, StateSource
from driftmgr_tui.state.backends.base import StateBackend
from driftmgr_tui.state.model import StateFile
from driftmgr_tui.state.store import StateStore

DEFAULT_ENVIRONMENT = "default"
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class EnvironmentSpec:
    """What to compare: the merged result of the config file's environment and command-line options."""

    name: str = DEFAULT_ENVIRONMENT
    states: tuple[str, ...] = ()
    backends: tuple[str, ...] = ()
    chdir: Path | None = None
    terragrunt: Path | None = None
    workspaces: tuple[str, ...] = ()
    provider: str | None = None
    regions: tuple[str, ...] = ()
    profile: str | None = None
    role_arn: str | None = None
    subscriptions: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    ignore_file: Path | None = None
    engine: str = "native"

    @property
    def has_states(self) -> bool:
        return bool(self.states or self.backends or self.chdir or self.terragrunt)


def resolve_environment(settings: Settings, name: str | None, **overrides: object) -> EnvironmentSpec:
    """The environment ``name`` from the config file with command-line ``overrides`` (non-empty values win).
    An unknown name is fine when the command line says where the states are; otherwise a UsageError listing
    the configured environments."""
    env_name = name or DEFAULT_ENVIRONMENT
    config: EnvironmentConfig | None = settings.environments.get(env_name)
    spec = EnvironmentSpec(name=env_name)
    if config is not None:
        states, backends = _split_states(config.states)
        spec = replace(
            spec, states=states, backends=backends,
            chdir=Path(config.chdir).expanduser() if config.chdir else None, workspaces=config.workspaces,
            terragrunt=Path(config.terragrunt).expanduser() if config.terragrunt else None,
            provider=config.provider, regions=config.regions, profile=config.profile, role_arn=config.role_arn,
            subscriptions=config.subscriptions, projects=config.projects,
            ignore_file=Path(config.ignore_file).expanduser() if config.ignore_file else None,
            engine=config.engine,
        )
    given = {k: v for k, v in overrides.items() if v not in (None, (), [], "")}
    if "states" in given:
        states, backends = _split_states(given.pop("states"))  # type: ignore[arg-type]
        given["states"] = states
        given["backends"] = tuple(given.get("backends", ())) + backends  # type: ignore[operator]
    spec = replace(spec, **given)  # type: ignore[arg-type]
    if not spec.has_states:
        if name and config is None:
            known = ", ".join(sorted(settings.environments)) or "none configured"
            raise UsageError(f"unknown environment {name!r} (known: {known})",
                             hint=f"define [environments.{name}] in {settings.config_path}, or give --state")
        if not name and (Path("terraform.tfstate").exists() or Path(".terraform").is_dir()):
            spec = replace(spec, chdir=Path.cwd())
        else:
            raise UsageError("no state to compare: give --state PATH (repeatable, globs allowed), --backend SPEC, "
                             "--chdir DIR, --terragrunt DIR, or --env NAME of a configured environment")
    return spec


def _split_states(entries: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    files, backends = [], []
    for entry in entries:
        (backends if "://" in entry and not entry.startswith("file://") else files).append(
            entry.removeprefix("file://"))
    return tuple(files), tuple(backends)


@dataclass
class LoadedStates:
    states: list[tuple[str, StateFile]] = field(default_factory=list)
    workdir_state: StateFile | None = None  # the state of the working dir's current workspace
    warnings: list[str] = field(default_factory=list)
    sources: dict[str, StateSource] = field(default_factory=dict)  # location -> how to open it again


def _expand_files(patterns: Iterable[str]) -> list[Path]:
    paths: list[Path] = []
    for pattern in patterns:
        expanded = os.path.expanduser(pattern)
        if _GLOB_CHARS & set(expanded):
            matches = sorted(glob.glob(expanded, recursive=True))
            matches = [m for m in matches if Path(m).is_file()]
            if not matches:
                raise UsageError(f"--state {pattern}: no state file matches this pattern")
            paths.extend(Path(m) for m in matches)
        else:
            path = Path(expanded)
            if not path.exists():
                raise UsageError(f"--state {pattern}: no such file")
            paths.append(path)
    return paths


def _local_workspaces(directory: Path) -> list[str]:
    names = ["default"]
    root = directory / "terraform.tfstate.d"
    if root.is_dir():
        names += sorted(p.name for p in root.iterdir() if p.is_dir())
    return names


def load_states(service: StateService, spec: EnvironmentSpec) -> LoadedStates:
    """Read every state of the environment (errors name the state; nothing is written)."""
    loaded = LoadedStates()
    seen: set[str] = set()

    def add(source: StateSource, *, optional: bool = False, backend: StateBackend | None = None) -> StateFile | None:
        # ``backend``: the source's backend when the caller has built it already (a Terragrunt unit's)
        store = StateStore(backend, None) if backend is not None else service.store(source, with_backups=False)
        if store.location in seen:  # the same state named twice (a file and its working dir): read once
            return next((state for location, state in loaded.states if location == store.location), None)
        seen.add(store.location)
        state, _ = store.read_optional()
        if state is None:
            if not optional:
                raise UsageError(f"no state at {store.location}")
            loaded.warnings.append(f"no state at {store.location} (nothing applied yet?)")
            return None
        loaded.states.append((store.location, state))
        loaded.sources[store.location] = source
        return state

    for path in _expand_files(spec.states):
        add(StateSource(state_path=path))
    for backend in spec.backends:
        workspaces = _workspaces_of(service, StateSource(backend=backend), spec.workspaces)
        for ws in workspaces:
            add(StateSource(backend=backend, workspace=ws), optional=len(workspaces) > 1)
    if spec.chdir is not None:
        if not spec.chdir.is_dir():
            raise UsageError(f"--chdir {spec.chdir}: no such directory")
        current = add(StateSource(chdir=spec.chdir), optional=True)
        loaded.workdir_state = current
        for ws in _workspaces_of(service, StateSource(chdir=spec.chdir), spec.workspaces):
            add(StateSource(chdir=spec.chdir, workspace=ws), optional=True)
    if spec.terragrunt is not None:
        _load_terragrunt(spec.terragrunt, loaded, add)
    if not loaded.states:
        raise UsageError(f"environment {spec.name}: none of its states exist yet",
                         hint="; ".join(loaded.warnings) or None)
    return loaded


def _load_terragrunt(tree: Path, loaded: LoadedStates, add: Callable[..., StateFile | None]) -> None:
    """Every unit's state of the Terragrunt tree at ``tree``; a unit with no state yet is a warning."""
    from driftmgr_tui.state.terragrunt import resolve_tree

    if not tree.is_dir():
        raise UsageError(f"--terragrunt {tree}: no such directory")
    results = resolve_tree(tree)
    if not results:
        raise UsageError(f"--terragrunt {tree}: no Terragrunt unit here (no terragrunt.hcl in it or below it)")
    owners: dict[str, str] = {}
    for result in results:
        if result.error is not None:
            raise UsageError(f"Terragrunt unit {result.unit.directory}: {result.error.message}",
                             hint=result.error.hint or f"`driftmgr state units {tree}` lists every unit")
        state = result.state
        assert state is not None
        loaded.warnings.extend(f"Terragrunt unit {result.unit.name}: {w}" for w in state.warnings)
        if state.pending:
            loaded.warnings.append(f"Terragrunt unit {result.unit.name}: {state.pending}")
            continue
        if state.location in owners:
            loaded.warnings.append(f"Terragrunt units {owners[state.location]} and {result.unit.name} use the "
                                   f"same state {state.location} (is path_relative_to_include() missing "
                                   "from the key?)")
            continue
        owners[state.location] = result.unit.name
        add(StateSource(terragrunt_unit=result.unit.directory), optional=True, backend=state.backend())


def _workspaces_of(service: StateService, source: StateSource, wanted: tuple[str, ...]) -> list[str]:
    if not wanted:
        return [source.workspace or ""] if source.backend else []
    if "*" not in wanted:
        return list(wanted)
    backend = service.backend(source)
    if hasattr(backend, "workspaces"):
        return list(backend.workspaces())
    if source.chdir is not None:
        return _local_workspaces(source.chdir)
    raise UsageError(f"{backend.location}: this backend cannot list workspaces; name them with --workspace")


def managed_instances(states: Iterable[tuple[str, StateFile]]) -> list[ManagedInstance]:
    """Every managed resource instance with an id, from every state, as drift-engine input."""
    out: list[ManagedInstance] = []
    for location, state in states:
        for ref in state.instances():
            if ref.mode != "managed":
                continue
            attrs = ref.attributes
            rid = attrs.get("id")
            if rid is None or rid == "":
                continue
            rid = str(rid)
            rtype = ref.type
            provider = provider_of(ref.provider)
            out.append(ManagedInstance(
                address=ref.address, module=ref.module, terraform_type=rtype, terraform_id=rid,
                provider=provider, attributes=attrs, state=location,
                sensitive_paths=sensitive_paths_of(ref.instance),
                region=partition_of(provider, rtype, attrs), match_key=match_key(rtype, rid),
            ))
    return out
