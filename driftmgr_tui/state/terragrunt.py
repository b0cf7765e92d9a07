"""Terragrunt trees as sets of states: find the units, work out where each one keeps its state.

``find_units(root)`` lists every directory under ``root`` holding a ``terragrunt.hcl`` (or
``terragrunt.hcl.json``), as Terragrunt's ``run --all`` discovers them, except a legacy root
``terragrunt.hcl`` that other configurations of the tree include: that one is shared configuration, not
a unit (``root.hcl``, the current naming, is never a unit).

``resolve_unit(unit)`` evaluates the unit's configuration the way Terragrunt parses it: its ``include``
blocks (one level, merged child > last include > ... > first include, ``no_merge`` skipped), its
``locals`` and the ``remote_state`` block or attribute that applies, with the functions remote state
configurations use (``find_in_parent_folders``, ``path_relative_to_include``, ``read_terragrunt_config``,
``get_env``, ...; see ``state/terragrunt_eval.py``). The result names a Terraform backend type and
config, built into a StateBackend by ``backends/config.py``. A unit without ``remote_state`` keeps the
state Terraform keeps in its working dir: the unit dir itself, or, with ``terraform { source }``, the
copy Terragrunt makes under ``.terragrunt-cache/<hash of the unit dir>/<hash of the source>/<subdir>``.

Evaluation is lazy: a local or a function no state location needs is never evaluated. What cannot be
evaluated exactly is a ConfigError naming the file, the line and the expression.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftmgr_tui.core.errors import ConfigError, DriftmgrError, UsageError
from driftmgr_tui.state.backends.base import StateBackend
from driftmgr_tui.state.terragrunt_context import CONFIG_NAMES, ConfigEval, Session

# never searched for units (Terragrunt skips the first three; the last is never infrastructure)
SKIP_DIRS = frozenset({".git", ".terraform", ".terragrunt-cache", "node_modules"})
# a hidden directory Terragrunt generates units into (`terragrunt stack generate`)
STACK_DIR = ".terragrunt-stack"

# remote_state config keys Terragrunt uses itself and never hands to Terraform's backend
TERRAGRUNT_ONLY_KEYS: dict[str, frozenset[str]] = {
    "s3": frozenset({
        "s3_bucket_tags", "dynamodb_table_tags", "accesslogging_bucket_tags", "skip_bucket_versioning",
        "skip_bucket_ssencryption", "skip_bucket_accesslogging", "skip_bucket_root_access",
        "skip_bucket_enforced_tls", "skip_bucket_public_access_blocking", "disable_bucket_update",
        "enable_lock_table_ssencryption", "disable_aws_client_checksums", "accesslogging_bucket_name",
        "accesslogging_target_object_partition_date_source", "accesslogging_target_prefix",
        "skip_accesslogging_bucket_acl", "skip_accesslogging_bucket_enforced_tls",
        "skip_accesslogging_bucket_public_access_blocking", "skip_accesslogging_bucket_ssencryption",
        "bucket_sse_algorithm", "bucket_sse_kms_key_id",
    }),
    "gcs": frozenset({"project", "location", "gcs_bucket_labels", "skip_bucket_versioning",
                      "skip_bucket_creation", "enable_bucket_policy_only"}),
}


@dataclass(frozen=True)
class Unit:
    """A Terragrunt unit: a directory with a ``terragrunt.hcl``, found under ``root``."""

    directory: Path
    config_path: Path
    root: Path | None = None

    @property
    def name(self) -> str:
        """The unit's path relative to the tree it was found in (``.`` for the tree's root itself)."""
        if self.root is None:
            return str(self.directory)
        return self.directory.relative_to(self.root).as_posix() if self.directory != self.root else "."


@dataclass(frozen=True)
class UnitState:
    """Where a unit keeps its state: a backend ``kind`` and ``location``, decided by ``origin``.

    ``pending`` says why there is no state to read yet (nothing to build a backend from); ``warnings``
    are what a user should know about how the location was found."""

    unit: Unit
    kind: str
    location: str
    origin: str
    warnings: tuple[str, ...] = ()
    pending: str | None = None
    build: Callable[[str | None], StateBackend] | None = field(default=None, repr=False, compare=False)

    def backend(self, workspace: str | None = None) -> StateBackend:
        if self.build is None:
            raise UsageError(f"Terragrunt unit {self.unit.directory}: {self.pending}")
        return self.build(workspace)


@dataclass(frozen=True)
class UnitResult:
    """One unit of a tree: its state location, or the error that stopped its resolution."""

    unit: Unit
    state: UnitState | None = None
    error: DriftmgrError | None = None


# ------------------------------------------------------------------------------------------ discovery
def find_units(root: Path, *, session: Session | None = None) -> list[Unit]:
    """Every unit under ``root``, sorted by path (see the module docstring for what is a unit)."""
    root = Path(os.path.abspath(os.path.expanduser(root)))
    if not root.is_dir():
        raise ConfigError(f"{root}: not a directory (expected a Terragrunt tree)")

    def fail(exc: OSError) -> None:
        raise ConfigError(f"{exc.filename}: cannot list: {exc.strerror or exc}")

    found: list[Unit] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=fail):
        dirnames[:] = sorted(d for d in dirnames
                             if d not in SKIP_DIRS and (not d.startswith(".") or d == STACK_DIR))
        name = next((n for n in CONFIG_NAMES if n in filenames), None)
        if name is not None:
            found.append(Unit(Path(dirpath), Path(dirpath) / name, root))
    session = session or Session()
    shared: set[Path] = set()
    for unit in found:
        try:
            shared.update(inc.path for inc in session.unit_eval(unit.config_path).includes())
        except DriftmgrError:
            continue  # reported when the unit itself is resolved
    return sorted((u for u in found if u.config_path not in shared), key=lambda u: u.directory.parts)


def unit_at(path: Path) -> Unit:
    """The unit in directory ``path`` (or whose config file ``path`` is)."""
    path = Path(os.path.abspath(os.path.expanduser(path)))
    if path.is_file() and path.name in CONFIG_NAMES:
        return Unit(path.parent, path)
    if not path.is_dir():
        raise UsageError(f"--terragrunt-unit {path}: no such directory")
    config = next((path / n for n in CONFIG_NAMES if (path / n).is_file()), None)
    if config is None:
        raise UsageError(f"--terragrunt-unit {path}: not a Terragrunt unit "
                         f"(no {' or '.join(CONFIG_NAMES)} here)")
    return Unit(path, config)


def resolve_tree(root: Path) -> list[UnitResult]:
    """Every unit of the tree at ``root`` with its state location or its error."""
    session = Session()
    results = []
    for unit in find_units(root, session=session):
        try:
            results.append(UnitResult(unit, resolve_unit(unit, session=session)))
        except DriftmgrError as exc:
            results.append(UnitResult(unit, error=exc))
    return results


def unit_backend(path: Path, *, workspace: str | None = None) -> StateBackend:
    """The backend of the unit at ``path`` (a ``--terragrunt-unit`` state source)."""
    return resolve_unit(unit_at(path)).backend(workspace)


# ------------------------------------------------------------------------------------------ resolution
def resolve_unit(unit: Unit, *, session: Session | None = None) -> UnitState:
    """Where ``unit`` keeps its state (ConfigError naming the file and expression when that cannot be told)."""
    session = session or Session()
    ev = session.unit_eval(unit.config_path)
    remote = ev.remote_state()
    warnings: list[str] = []
    if remote is not None:
        if remote.encrypted:
            warnings.append(f"{remote.defined_in}: remote_state sets encryption: the state is encrypted "
                            "(OpenTofu state encryption), which driftmgr cannot read")
        # relative paths of a local backend, and the selected workspace, are the working dir's
        local_paths = remote.backend == "local" and not os.path.isabs(str(remote.config.get("path") or "."))
        try:
            workdir = _working_dir(ev, unit, warnings if local_paths else []) or unit.directory
        except ConfigError:
            if local_paths:
                raise
            workdir = unit.directory  # a source that cannot be evaluated only hides a selected workspace
        config = terraform_backend_config(remote.backend, remote.config)
        return _built(unit, remote.backend, f"remote_state in {remote.defined_in}", warnings,
                      _remote_builder(remote.backend, config, workdir, remote.defined_in))
    source = ev.terraform_source()
    if source is None:
        return _from_workdir(unit, unit.directory, f"Terraform configuration in {unit.directory}", warnings)
    workdir = _working_dir(ev, unit, warnings, source=source)
    if workdir is None:
        cache = _download_dir(ev, unit)
        return UnitState(unit, "", "", "no remote_state", tuple(warnings), pending=(
            f"no state yet: the unit has no remote_state, so Terraform keeps its state in the working dir "
            f"Terragrunt makes under {cache}, and there is none with a state (run terragrunt there first)"))
    return _from_workdir(unit, workdir, f"Terragrunt working dir {workdir} (no remote_state)", warnings)


def _built(unit: Unit, kind: str, origin: str, warnings: list[str],
           build: Callable[[str | None], StateBackend]) -> UnitState:
    backend = build(None)  # a bad backend config fails here, naming the file that defined it
    return UnitState(unit, kind, backend.location, origin, tuple(warnings), build=build)


def _remote_builder(btype: str, config: dict[str, Any], workdir: Path,
                    source: Path) -> Callable[[str | None], StateBackend]:
    from driftmgr_tui.state.backends.config import build_backend, current_workspace

    def build(workspace: str | None) -> StateBackend:
        return build_backend(btype, config, workdir, current_workspace(workdir, workspace), source)

    return build


def _from_workdir(unit: Unit, workdir: Path, origin: str, warnings: list[str]) -> UnitState:
    from driftmgr_tui.state.backends.config import backend_from_chdir

    def build(workspace: str | None) -> StateBackend:
        return backend_from_chdir(workdir, workspace=workspace)

    backend = build(None)
    return UnitState(unit, backend.kind or "local", backend.location, origin, tuple(warnings), build=build)


def terraform_backend_config(btype: str, config: dict[str, Any]) -> dict[str, Any]:
    """The Terraform backend config of a remote_state config: Terragrunt's own keys dropped."""
    dropped = TERRAGRUNT_ONLY_KEYS.get(btype, frozenset())
    out = {k: v for k, v in config.items() if k not in dropped}
    if btype == "s3" and "lock_table" in out:  # Terragrunt's old name for the DynamoDB lock table
        out.setdefault("dynamodb_table", out.pop("lock_table"))
    return out


# ------------------------------------------------------------------------------------------ .terragrunt-cache
def _b64sha1(text: str) -> str:
    """Terragrunt's name for a cache directory: unpadded URL-safe base64 of a SHA-1."""
    return base64.urlsafe_b64encode(hashlib.sha1(text.encode()).digest()).decode().rstrip("=")


def _download_dir(ev: ConfigEval, unit: Unit) -> Path:
    """Where Terragrunt copies the unit's source: TG_DOWNLOAD_DIR, else ``download_dir``, else
    ``.terragrunt-cache`` in the unit."""
    configured = (os.environ.get("TG_DOWNLOAD_DIR") or os.environ.get("TERRAGRUNT_DOWNLOAD")
                  or ev.download_dir())
    if configured:
        path = Path(os.path.expanduser(configured))
        return Path(os.path.normpath(path if path.is_absolute() else unit.directory / path))
    return unit.directory / ".terragrunt-cache"


def _module_subdir(source: str) -> str:
    """The part of a ``terraform.source`` after ``//``: where in the downloaded copy Terraform runs."""
    rest = re.sub(r"^[A-Za-z0-9]+::", "", source).split("?", 1)[0]
    rest = rest.split("://", 1)[1] if "://" in rest else rest
    return rest.split("//", 1)[1].strip("/") if "//" in rest else ""


def _has_state(workdir: Path) -> float | None:
    """The newest mtime of what shows Terraform ran in ``workdir`` (a state, a backend cache), or None."""
    marks = [workdir / "terraform.tfstate", workdir / ".terraform" / "terraform.tfstate",
             workdir / "terraform.tfstate.d"]
    times = [m.stat().st_mtime for m in marks if m.exists()]
    return max(times) if times else None


def _working_dir(ev: ConfigEval, unit: Unit, warnings: list[str], *, source: str | None = None) -> Path | None:
    """The directory Terraform runs in for ``unit``: the unit dir without ``terraform.source``, else the
    newest of Terragrunt's copies that shows a Terraform run (None when there is none)."""
    if source is None:
        source = ev.terraform_source()
        if source is None:
            return unit.directory
    cache = _download_dir(ev, unit)
    subdir = _module_subdir(source)
    pattern = f"{_b64sha1(str(unit.directory))}/*"
    candidates = [p / subdir if subdir else p for p in sorted(cache.glob(pattern))]
    if not candidates and cache == unit.directory / ".terragrunt-cache":
        # the tree was moved or cloned since Terragrunt ran: the first hash is of the old unit path
        candidates = [p / subdir if subdir else p for p in sorted(cache.glob("*/*"))]
        if candidates:
            warnings.append(f"{cache}: Terragrunt ran in this unit at another path; using its copy there")
    ran = [(t, p) for p in candidates if p.is_dir() and (t := _has_state(p)) is not None]
    if not ran:
        return None
    ran.sort(reverse=True)
    if len(ran) > 1:
        others = ", ".join(str(p) for _, p in ran[1:])
        warnings.append(f"several Terragrunt working dirs of this unit hold a state; using the newest, "
                        f"{ran[0][1]} (also: {others})")
    return ran[0][1]
