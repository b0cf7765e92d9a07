"""Which backend a Terraform working directory uses, the way Terraform decides it.

``backend_from_chdir(dir)`` reads the backend cache ``.terraform/terraform.tfstate`` that
``terraform init`` writes (it includes ``-backend-config`` values the ``.tf`` files lack) and falls
back to the ``terraform { backend "..." { } }`` block of the directory's ``*.tf`` / ``*.tf.json``
files. ``TF_DATA_DIR`` moves ``.terraform`` as it does for Terraform. The workspace is the argument,
else ``TF_WORKSPACE``, else ``.terraform/environment``, else ``default``.

``backend_from_spec(spec)`` is for explicit CLI use: ``s3://bucket/key?region=..`` or a file path.

Backend classes are imported lazily (the S3 one imports boto3 only when it talks to AWS).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from driftmgr_tui.core.errors import ConfigError
from driftmgr_tui.state.backends.base import StateBackend

DEFAULT_WORKSPACE = "default"


def _data_dir(directory: Path) -> Path:
    data_dir = Path(os.environ.get("TF_DATA_DIR") or ".terraform")
    return data_dir if data_dir.is_absolute() else directory / data_dir


def current_workspace(directory: Path, workspace: str | None = None) -> str:
    """The workspace Terraform would use in ``directory``."""
    if workspace:
        return workspace
    env = os.environ.get("TF_WORKSPACE")
    if env:
        return env
    env_file = _data_dir(directory) / "environment"
    try:
        name = env_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return DEFAULT_WORKSPACE
    except OSError as exc:
        raise ConfigError(f"{env_file}: cannot read the selected workspace: {exc.strerror or exc}") from None
    return name or DEFAULT_WORKSPACE


def _backend_from_cache(path: Path) -> tuple[str, dict[str, Any]] | None:
    """(type, config) from Terraform's backend cache, or None when it records no backend."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a Terraform backend cache (not UTF-8: {exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            hint="run `terraform init` again to rewrite it",
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a Terraform backend cache (expected a JSON object)")
    backend = data.get("backend")
    if backend is None:
        return None
    if not isinstance(backend, dict) or not isinstance(backend.get("type"), str):
        raise ConfigError(f"{path}: field 'backend.type' is missing or not a string")
    config = backend.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: field 'backend.config' is not an object")
    return backend["type"], config


def _load_hcl(path: Path) -> dict[str, Any]:
    import hcl2
    from lark.exceptions import LarkError, UnexpectedInput

    try:
        src = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return hcl2.loads(
            src,
            serialization_options=hcl2.SerializationOptions(
                strip_string_quotes=True, explicit_blocks=False, with_comments=False
            ),
        )
    except UnexpectedInput as exc:
        where = f"line {exc.line}, column {exc.column}" if getattr(exc, "line", -1) not in (-1, None) else ""
        raise ConfigError(f"{path}: invalid HCL{' at ' + where if where else ''}") from None
    except (LarkError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: invalid HCL ({first})") from None


def _load_tf_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a .tf.json file must hold a JSON object")
    return data


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _backend_blocks(doc: dict[str, Any], path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every ``terraform { backend "TYPE" { ... } }`` in one parsed file (HCL or JSON syntax)."""
    found: list[tuple[str, dict[str, Any]]] = []
    for terraform in _as_list(doc.get("terraform")):
        if not isinstance(terraform, dict):
            continue
        if terraform.get("cloud") is not None:
            cloud = _as_list(terraform["cloud"])
            if not all(isinstance(block, dict) for block in cloud):
                raise ConfigError(f"{path}: malformed cloud block")
            found.append(("cloud", cloud[0] if cloud else {}))
        for backend in _as_list(terraform.get("backend")):
            if not isinstance(backend, dict):
                raise ConfigError(f"{path}: malformed backend block")
            for btype, body in backend.items():
                body = _as_list(body)
                config = body[0] if body else {}
                if not isinstance(config, dict):
                    raise ConfigError(f'{path}: malformed backend "{btype}" block')
                found.append((btype, config))
    return found


def _backend_from_tf_files(directory: Path) -> tuple[str, dict[str, Any], Path] | None:
    """The backend block of the root module (override files replace it, as in Terraform)."""
    try:
        files = sorted(p for p in directory.iterdir() if p.is_file() and p.name.endswith((".tf", ".tf.json")))
    except OSError as exc:
        raise ConfigError(f"{directory}: cannot list the Terraform files: {exc.strerror or exc}") from None

    def is_override(p: Path) -> bool:
        stem = p.name.removesuffix(".json").removesuffix(".tf")
        return stem == "override" or stem.endswith("_override")

    chosen: tuple[str, dict[str, Any], Path] | None = None
    for override in (False, True):
        for path in files:
            if is_override(path) != override:
                continue
            doc = _load_tf_json(path) if path.name.endswith(".tf.json") else _load_hcl(path)
            for btype, config in _backend_blocks(doc, path):
                if chosen is not None and not override:
                    raise ConfigError(
                        f"{path}: duplicate backend configuration (a backend is already defined in {chosen[2].name})",
                        hint="a module may only have one backend block",
                    )
                chosen = (btype, config, path)
    return chosen


def _relative(directory: Path, value: Any, source: Path, attr: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{source}: backend \"local\" attribute '{attr}' must be a non-empty string")
    path = Path(value).expanduser()
    return path if path.is_absolute() else directory / path


def _local_backend(
    directory: Path, config: dict[str, Any], workspace: str, source: Path | None
) -> StateBackend:
    from driftmgr_tui.state.backends.local import LocalBackend

    src = source or directory
    if workspace == DEFAULT_WORKSPACE:
        path = (
            _relative(directory, config["path"], src, "path")
            if config.get("path")
            else directory / "terraform.tfstate"
        )
    else:
        ws_dir = (
            _relative(directory, config["workspace_dir"], src, "workspace_dir")
            if config.get("workspace_dir")
            else directory / "terraform.tfstate.d"
        )
        path = ws_dir / workspace / "terraform.tfstate"
    return LocalBackend(path)


# Terraform backend type -> "module:function" building it from the backend block's (or cache's) config.
# Each builder is called as ``builder(config, workspace=..., directory=..., source=...)`` and returns a
# StateBackend; it raises ConfigError naming the attribute that is wrong. Imported only when used.
BUILDERS: dict[str, str] = {
    "s3": "driftmgr_tui.state.backends.s3:build_from_terraform",
    "http": "driftmgr_tui.state.backends.http:build_from_terraform",
    "remote": "driftmgr_tui.state.backends.tfc:build_remote",
    "cloud": "driftmgr_tui.state.backends.tfc:build_cloud",
    "gcs": "driftmgr_tui.state.backends.gcs:build_from_terraform",
    "azurerm": "driftmgr_tui.state.backends.azurerm:build_from_terraform",
}

# spec scheme -> "module:function" building a backend from ``backend_from_spec``'s parsed URL
# (``builder(spec, parts, params)``, params the query as a dict with no repeats).
SPEC_SCHEMES: dict[str, str] = {
    "s3": "driftmgr_tui.state.backends.s3:build_from_spec",
    "http+http": "driftmgr_tui.state.backends.http:build_from_spec",
    "http+https": "driftmgr_tui.state.backends.http:build_from_spec",
    "tfc": "driftmgr_tui.state.backends.tfc:build_from_spec",
    "gs": "driftmgr_tui.state.backends.gcs:build_from_spec",
    "azurerm": "driftmgr_tui.state.backends.azurerm:build_from_spec",
}

SUPPORTED_TYPES = ("local", *BUILDERS)


def _load_builder(target: str) -> Any:
    import importlib

    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _build(
    btype: str, config: dict[str, Any], directory: Path, workspace: str, source: Path | None
) -> StateBackend:
    where = f"{source}: " if source else ""
    if btype == "local":
        return _local_backend(directory, config, workspace, source)
    target = BUILDERS.get(btype)
    if target is None:
        raise ConfigError(
            f"{where}backend type '{btype}' is not supported yet (supported: {', '.join(SUPPORTED_TYPES)})",
            hint="point driftmgr at the state explicitly (a backend spec or a file path) if you can reach it",
        )
    try:
        return _load_builder(target)(config, workspace=workspace, directory=directory, source=source)
    except ConfigError as exc:
        if where and exc.message.startswith(where):
            raise
        raise ConfigError(f"{where}{exc.message}", hint=exc.hint) from None


build_backend = _build  # a backend from a Terraform backend type and config (Terragrunt's remote_state)


def backend_from_chdir(directory: Path, *, workspace: str | None = None) -> StateBackend:
    """The state backend Terraform uses in working directory ``directory`` for ``workspace``."""
    directory = Path(directory).expanduser().absolute()
    if not directory.is_dir():
        raise ConfigError(f"{directory}: not a directory")
    ws = current_workspace(directory, workspace)
    cache = _data_dir(directory) / "terraform.tfstate"
    if cache.is_file():
        cached = _backend_from_cache(cache)
        if cached is not None:
            return _build(cached[0], cached[1], directory, ws, cache)
    found = _backend_from_tf_files(directory)
    if found is None:
        return _local_backend(directory, {}, ws, None)
    return _build(found[0], found[1], directory, ws, found[2])


def nested_block(where: str, name: str, value: Any) -> dict[str, Any]:
    """A nested block of a backend config: ``x {..}`` as HCL parses it (a list of one dict), ``x = {..}``, or
    the backend cache's object; null attributes dropped. ``where`` starts the message ("s3 backend")."""
    if value is None:
        return {}
    if isinstance(value, list):
        if not value:
            return {}
        if len(value) > 1 or not isinstance(value[0], dict):
            raise ConfigError(f"{where}: attribute '{name}' must be a single block")
        value = value[0]
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: attribute '{name}' must be a block, got {value!r}")
    return {k: v for k, v in value.items() if v is not None}


def spec_bool(name: str, value: str) -> bool:
    """A ``true``/``false`` spec parameter (also 1/0, yes/no, on/off)."""
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"state spec: parameter '{name}' must be true or false, got {value!r}")


def check_spec_params(spec: str, params: dict[str, str], known: set[str] | frozenset[str]) -> None:
    """Refuse a parameter the backend does not know, naming the ones it does."""
    for name in params:
        if name not in known:
            raise ConfigError(
                f"state spec {spec!r}: unknown parameter '{name}' (known: {', '.join(sorted(known))})"
            )


def backend_from_spec(spec: str) -> StateBackend:
    """``s3://bucket/key?region=..&dynamodb_table=..&use_lockfile=true&endpoint_url=..&workspace=..``,
    or a path to a local state file (``file://`` accepted)."""
    spec = spec.strip()
    if not spec:
        raise ConfigError("state spec is empty (expected s3://bucket/key or a file path)")
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", spec)
    scheme = match.group(1).lower() if match else ""
    parts = urlsplit(spec)
    if scheme in SPEC_SCHEMES:
        params: dict[str, str] = {}
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name in params:
                raise ConfigError(f"state spec {spec!r}: parameter '{name}' given twice")
            params[name] = value
        return _load_builder(SPEC_SCHEMES[scheme])(spec, parts, params)
    if scheme == "file":
        from driftmgr_tui.state.backends.local import LocalBackend

        return LocalBackend(Path(unquote(parts.path)))
    if scheme:
        raise ConfigError(
            f"state spec {spec!r}: scheme '{scheme}://' is not supported yet "
            f"(supported: {', '.join(s + '://' for s in SPEC_SCHEMES)}, a file path)"
        )
    from driftmgr_tui.state.backends.local import LocalBackend

    return LocalBackend(Path(spec).expanduser())
