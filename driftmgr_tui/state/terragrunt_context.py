"""One Terragrunt configuration file evaluated as Terragrunt parses it: context, includes, locals, functions.

A :class:`ConfigEval` is what Terragrunt's ``ParseConfigFile`` builds for a file: the file is evaluated
in the context of a config path (the unit's ``terragrunt.hcl``; for a file read with
``read_terragrunt_config``, that file), either on its own or as the include of a child, in which case
``get_terragrunt_dir()``, ``find_in_parent_folders()`` and ``path_relative_to_include()`` answer for the
child. Its :class:`Locals` are evaluated one by one when first read. A :class:`Session` shares parsed
files, files read with ``read_terragrunt_config`` and the AWS caller identity across the units of a tree.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftmgr_tui.core.errors import ConfigError
from driftmgr_tui.state.terragrunt_eval import Document, Expr, evaluate, parse_document
from driftmgr_tui.state.terragrunt_funcs import (
    EvalError,
    Lazy,
    check_arity,
    plain,
    to_bool,
    to_string,
    type_name,
)

CONFIG_NAMES = ("terragrunt.hcl", "terragrunt.hcl.json")
MERGE_STRATEGIES = ("no_merge", "shallow", "deep")
MAX_FOLDERS_TO_CHECK = 100  # Terragrunt's default bound on find_in_parent_folders

# the Terragrunt config fields read_terragrunt_config and an exposed include return (null when unset)
CONFIG_FIELDS = frozenset({
    "terraform", "remote_state", "inputs", "locals", "generate", "download_dir", "iam_role",
    "iam_assume_role_duration", "iam_assume_role_session_name", "iam_web_identity_token", "terraform_binary",
    "terraform_version_constraint", "terragrunt_version_constraint", "prevent_destroy", "skip",
    "retryable_errors", "retry_max_attempts", "retry_sleep_interval_sec", "engine", "exclude", "errors",
})


def default_config(directory: Path) -> Path:
    """``terragrunt.hcl`` in ``directory``, or ``terragrunt.hcl.json`` when only that exists."""
    found = next((directory / n for n in CONFIG_NAMES if (directory / n).is_file()), None)
    return found or directory / CONFIG_NAMES[0]


def _posix(path: Path | str) -> str:
    return Path(path).as_posix()


@dataclass(frozen=True)
class IncludeRef:
    """An evaluated ``include`` block: the file it names (absolute), how it merges, where it was declared."""

    name: str  # "" for a bare include
    path: Path
    expose: bool
    merge_strategy: str
    declared_in: Path
    line: int | None


@dataclass(frozen=True)
class RemoteState:
    """A ``remote_state``: the Terraform backend type and config, and the file that defined it."""

    backend: str
    config: dict[str, Any]
    defined_in: Path
    encrypted: bool = False


class Session:
    """What the units of one tree share while they are resolved."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.stack: list[tuple[Path, str]] = []  # locals being evaluated, innermost last (cycles)
        self._docs: dict[Path, Document] = {}
        self._units: dict[Path, ConfigEval] = {}
        self._reads: dict[tuple[Path, Path], ConfigEval] = {}
        self._aws: dict[str, Any] | EvalError | None = None

    def document(self, path: Path) -> Document:
        if path not in self._docs:
            self._docs[path] = parse_document(path)
        return self._docs[path]

    def unit_eval(self, config_path: Path) -> ConfigEval:
        if config_path not in self._units:
            self._units[config_path] = ConfigEval(self, config_path, config_path=config_path,
                                                  original=config_path)
        return self._units[config_path]

    def read_eval(self, target: Path, original: Path) -> ConfigEval:
        key = (target, original)
        if key not in self._reads:
            self._reads[key] = ConfigEval(self, target, config_path=target, original=original)
        return self._reads[key]

    def aws_identity(self) -> dict[str, Any]:
        """STS GetCallerIdentity with the default AWS credentials (once per session)."""
        if self._aws is None:
            self._aws = _caller_identity()
        if isinstance(self._aws, EvalError):
            raise EvalError(self._aws.message)
        return self._aws


def _caller_identity() -> dict[str, Any] | EvalError:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        session = boto3.session.Session()
        return session.client("sts", region_name=session.region_name or "us-east-1").get_caller_identity()
    except NoCredentialsError:
        return EvalError("no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
                         "AWS_SECRET_ACCESS_KEY)")
    except ClientError as exc:
        error = exc.response.get("Error", {})
        return EvalError(f"AWS STS GetCallerIdentity was refused: {error.get('Code', 'error')}: "
                         f"{error.get('Message', exc)}")
    except BotoCoreError as exc:
        return EvalError(f"AWS STS GetCallerIdentity failed: {exc}")


def _as_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EvalError(f"expected an object, got a {type_name(value)}")
    return value


def _as_text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise EvalError(f"expected a non-empty string, got {type_name(value)} {value!r}")
    return value


def _deep_merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = dict(parent)
    for key, value in child.items():
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            out[key] = _deep_merge(old, value)
        elif isinstance(old, list) and isinstance(value, list):
            out[key] = old + value
        else:
            out[key] = value
    return out


class ConfigEval:
    """One file evaluated in one Terragrunt context (see the module docstring). It is the :class:`Scope`
    its expressions are evaluated in."""

    def __init__(self, session: Session, path: Path, *, config_path: Path, original: Path,
                 include_from_child: IncludeRef | None = None) -> None:
        self.session = session
        self.path = path
        self.doc = session.document(path)
        self.config_path = config_path
        self.original = original
        self.include_from_child = include_from_child
        self.locals = Locals(self)
        self._includes: list[IncludeRef] | None = None
        self._in_includes = False
        self._included: dict[IncludeRef, ConfigEval] = {}

    # -- Scope ---------------------------------------------------------------------------------------
    def variable(self, name: str) -> Any:
        if name == "local":
            if self._in_includes:
                raise EvalError("locals cannot be used in an include block (Terragrunt reads includes first)")
            return self.locals
        if name == "include":
            return self._include_variable()
        if name in ("dependency", "feature", "values", "unit", "stack"):
            raise EvalError(f"{name}.* is not available: it needs Terragrunt itself to run")
        raise EvalError(f"unknown variable {name!r}")

    def function(self, name: str) -> Callable[[list[Any]], Any] | None:
        impl = TERRAGRUNT_FUNCTIONS.get(name)
        return None if impl is None else (lambda args: impl(self, args))

    # -- evaluation with errors that name the file ---------------------------------------------------
    def eval_as(self, expr: Expr, where: str, convert: Callable[[Any], Any] | None = None) -> Any:
        try:
            value = evaluate(expr, self)
            return convert(plain(value)) if convert is not None else value
        except EvalError as exc:
            line = exc.line or expr.line
            place = f"{self.path}:{line}" if line else str(self.path)
            what = f"cannot evaluate {exc.snippet}: " if exc.snippet else ""
            hint = None
            if self.path != self.original:
                hint = f"evaluated for the Terragrunt unit in {self.original.parent}"
            raise ConfigError(f"{place}: {where}: {what}{exc.message}", hint=hint) from None

    # -- includes ------------------------------------------------------------------------------------
    def includes(self) -> list[IncludeRef]:
        """The include blocks of this file, evaluated (paths absolute and checked to exist)."""
        if self._includes is not None:
            return self._includes
        blocks = self.doc.blocks_of("include")
        if blocks and self.include_from_child is not None:
            raise self._nested_include_error(blocks[0].line)
        refs: list[IncludeRef] = []
        self._in_includes = True
        try:
            for block in blocks:
                name = block.labels[0] if block.labels else ""
                label = f'include "{name}"' if name else "include"
                where = f"{self.path}:{block.line}: {label}"
                if len(block.labels) > 1:
                    raise ConfigError(f"{where}: an include block has at most one label")
                if any(r.name == name for r in refs):
                    raise ConfigError(f"{where}: there is already an include block named {name!r}"
                                      if name else f"{where}: there is more than one bare include block")
                if "path" not in block.attrs:
                    raise ConfigError(f"{where}: the block must set path")
                path = Path(self.eval_as(block.attrs["path"], f"{label}.path", _as_text))
                path = Path(os.path.normpath(path if path.is_absolute() else self.config_path.parent / path))
                expose = self.eval_as(block.attrs["expose"], f"{label}.expose", to_bool) \
                    if "expose" in block.attrs else False
                strategy = self.eval_as(block.attrs["merge_strategy"], f"{label}.merge_strategy", to_string) \
                    if "merge_strategy" in block.attrs else "shallow"
                if strategy not in MERGE_STRATEGIES:
                    raise ConfigError(f"{where}: merge_strategy {strategy!r} is not one of "
                                      f"{', '.join(MERGE_STRATEGIES)}")
                if not path.is_file():
                    raise ConfigError(f"{where}: {path} does not exist", hint="find_in_parent_folders() "
                                      "searches from the unit's parent directory up")
                if path == self.path:
                    raise ConfigError(f"{where}: the file includes itself (a cycle of includes)")
                refs.append(IncludeRef(name, path, expose, strategy, self.path, block.line))
        finally:
            self._in_includes = False
        self._includes = refs
        return refs

    def _nested_include_error(self, line: int | None) -> ConfigError:
        parent = self.include_from_child
        assert parent is not None
        try:  # say "cycle" when the nested include points back at the file that included this one
            probe = ConfigEval(self.session, self.path, config_path=self.config_path, original=self.original)
            back = any(ref.path == parent.declared_in for ref in probe.includes())
        except ConfigError:
            back = False
        what = (f"includes {parent.declared_in} back: a cycle of includes" if back
                else "itself includes another file: Terragrunt allows only one level of includes")
        return ConfigError(f"{self.path}:{line}: this file is included by {parent.declared_in} and {what}",
                           hint="include every shared file from the unit itself")

    def included(self, ref: IncludeRef) -> ConfigEval:
        """The file ``ref`` names, evaluated as this file's include."""
        if ref not in self._included:
            included = ConfigEval(self.session, ref.path, config_path=self.config_path, original=self.original,
                                  include_from_child=ref)
            included.includes()  # an included file may not include another: refused here, as Terragrunt does
            self._included[ref] = included
        return self._included[ref]

    def selected_include(self, args: list[Any], function: str) -> IncludeRef | None:
        """The include ``path_relative_*_include(name?)`` and ``get_parent_terragrunt_dir(name?)`` answer for."""
        if self._in_includes:
            return None
        if self.include_from_child is not None:
            return self.include_from_child
        refs = self.includes()
        if len(refs) <= 1:
            return refs[0] if refs else None
        names = ", ".join(repr(r.name) for r in refs)
        if len(args) != 1:
            raise EvalError(f"this file has several include blocks ({names}): name one, "
                            f'e.g. {function}("{refs[0].name}")')
        wanted = to_string(args[0])
        ref = next((r for r in refs if r.name == wanted), None)
        if ref is None:
            raise EvalError(f"there is no include block named {wanted!r} (the include blocks are {names})")
        return ref

    def _include_variable(self) -> Any:
        if self._in_includes:
            raise EvalError("include.* cannot be used in an include block")
        if self.include_from_child is not None:
            raise EvalError("include.* is only available in the file that has the include blocks")
        refs = self.includes()
        if not refs:
            raise EvalError(f"{self.path} has no include block")
        if len(refs) == 1 and refs[0].name == "":
            return self.exposed(refs[0])
        return IncludeMap(self, refs)

    def exposed(self, ref: IncludeRef) -> ConfigObject:
        if not ref.expose:
            raise EvalError(f"the include block at {ref.declared_in}:{ref.line} is not exposed "
                            "(add expose = true to it to read its values)")
        return ConfigObject(self.included(ref))

    # -- the merged configuration ----------------------------------------------------------------------
    def _chain(self) -> list[ConfigEval]:
        """This file and its merged includes, highest precedence first (child, last include, ..., first)."""
        return [self] + [self.included(r) for r in reversed(self.includes()) if r.merge_strategy != "no_merge"]

    def own_remote_state(self) -> RemoteState | None:
        blocks, attr = self.doc.blocks_of("remote_state"), self.doc.attrs.get("remote_state")
        if not blocks and attr is None:
            return None
        if len(blocks) + (attr is not None) > 1:
            raise ConfigError(f"{self.path}: remote_state is defined more than once")
        if attr is not None:
            body = self.eval_as(attr, "remote_state", _as_object)
            line, encrypted = attr.line, body.get("encryption") is not None
            backend, config = body.get("backend"), body.get("config")
        else:
            block = blocks[0]
            line = block.line
            encrypted = "encryption" in block.attrs or any(b.type == "encryption" for b in block.blocks)
            for required in ("backend", "config"):
                if required not in block.attrs:
                    raise ConfigError(f"{self.path}:{line}: remote_state: the block must set {required}")
            backend = self.eval_as(block.attrs["backend"], "remote_state.backend", _as_text)
            config = self.eval_as(block.attrs["config"], "remote_state.config", _as_object)
        if not isinstance(backend, str) or not backend:
            raise ConfigError(f"{self.path}:{line}: remote_state: backend must be a non-empty string")
        if not isinstance(config, dict):
            raise ConfigError(f"{self.path}:{line}: remote_state: config must be an object")
        return RemoteState(backend, config, self.path, encrypted)

    def remote_state(self) -> RemoteState | None:
        """The remote_state that applies: this file's, else that of the last include defining one."""
        return next((rs for ev in self._chain() if (rs := ev.own_remote_state()) is not None), None)

    def own_field(self, name: str) -> Any:
        """A top-level attribute, or a block as an object (labelled blocks keyed by label); None if absent."""
        if name in self.doc.attrs:
            return self.eval_as(self.doc.attrs[name], name)
        blocks = self.doc.blocks_of(name)
        if not blocks:
            return None

        def body(block: Any) -> dict[str, Any]:
            return {k: self.eval_as(v, f"{name}.{k}") for k, v in block.attrs.items()}

        return {b.labels[0]: body(b) for b in blocks} if blocks[0].labels else body(blocks[0])

    def field(self, name: str) -> Any:
        """A config field after the includes are merged (the child's value wins)."""
        return next((v for ev in self._chain() if (v := ev.own_field(name)) is not None), None)

    def terraform_source(self) -> str | None:
        for ev in self._chain():
            block = next((b for b in ev.doc.blocks_of("terraform") if "source" in b.attrs), None)
            if block is not None:
                source = ev.eval_as(block.attrs["source"], "terraform.source",
                                    lambda v: v if v is None else _as_text(v))
                if source is not None:
                    return source
        return None

    def download_dir(self) -> str | None:
        value = self.field("download_dir")
        return None if value is None else to_string(value)

    def inputs(self) -> dict[str, Any] | None:
        merged = self.own_field("inputs")
        for ref in reversed(self.includes()):
            parent = self.included(ref).own_field("inputs") if ref.merge_strategy != "no_merge" else None
            if parent is None:
                continue
            child = plain(merged) or {}
            merged = _deep_merge(parent, child) if ref.merge_strategy == "deep" else {**parent, **child}
        return merged


class Locals(Lazy):
    """``local.*`` of one file, each evaluated on first use."""

    def __init__(self, ev: ConfigEval) -> None:
        self.ev = ev
        self._values: dict[str, Any] = {}
        self._defined: dict[str, Expr] | None = None

    def defined(self) -> dict[str, Expr]:
        if self._defined is None:
            found: dict[str, Expr] = {}
            for block in self.ev.doc.blocks_of("locals"):
                for name, expr in block.attrs.items():
                    if name in found:
                        raise ConfigError(f"{self.ev.path}:{expr.line}: local {name!r} is defined twice")
                    found[name] = expr
            self._defined = found
        return self._defined

    def names(self) -> list[str]:
        return list(self.defined())

    def get(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        defined = self.defined()
        if name not in defined:
            known = f"its locals: {', '.join(sorted(defined))}" if defined else "it has no locals"
            raise EvalError(f"local.{name} is not defined in {self.ev.path} ({known})")
        key, stack = (self.ev.path, name), self.ev.session.stack
        if key in stack:
            chain = [*stack[stack.index(key):], key]
            raise EvalError("a cycle of locals: " + " -> ".join(f"{p.name} local.{n}" for p, n in chain))
        stack.append(key)
        try:
            value = self.ev.eval_as(defined[name], f"locals.{name}")
        finally:
            stack.pop()
        self._values[name] = value
        return value


class ConfigObject(Lazy):
    """A configuration as ``read_terragrunt_config()`` and an exposed include return it."""

    def __init__(self, ev: ConfigEval) -> None:
        self.ev = ev

    def names(self) -> list[str]:
        present = {"locals", *self.ev.doc.attrs, *(b.type for b in self.ev.doc.blocks)}
        return sorted(n for n in present if n in CONFIG_FIELDS)

    def get(self, name: str) -> Any:
        if name == "locals":
            return self.ev.locals
        if name == "inputs":
            return self.ev.inputs()
        if name == "remote_state":
            rs = self.ev.remote_state()
            return None if rs is None else {"backend": rs.backend, "config": rs.config}
        if name in ("dependency", "dependencies", "feature"):
            raise EvalError(f"{name} values of {self.ev.path} are not available: "
                            "they need Terragrunt itself to run")
        if name not in CONFIG_FIELDS:
            raise EvalError(f"a Terragrunt configuration has no field {name!r}")
        return self.ev.field(name)


class IncludeMap(Lazy):
    """``include.NAME`` for a file with named include blocks."""

    def __init__(self, ev: ConfigEval, refs: list[IncludeRef]) -> None:
        self.ev = ev
        self.refs = {r.name: r for r in refs}

    def names(self) -> list[str]:
        return [name for name, ref in self.refs.items() if ref.expose]

    def get(self, name: str) -> Any:
        if name not in self.refs:
            raise EvalError(f"there is no include block named {name!r} (the include blocks are "
                            f"{', '.join(repr(n) for n in self.refs)})")
        return self.ev.exposed(self.refs[name])


# ------------------------------------------------------------------------------------------ functions
TERRAGRUNT_FUNCTIONS: dict[str, Callable[[ConfigEval, list[Any]], Any]] = {}


def _tg(name: str, low: int, high: int | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(impl: Callable[..., Any]) -> Callable[..., Any]:
        def call(ev: ConfigEval, args: list[Any]) -> Any:
            check_arity(name, args, low, high)
            return impl(ev, *[plain(a) for a in args])

        TERRAGRUNT_FUNCTIONS[name] = call
        return impl

    return wrap


def _refuse(name: str, reason: str) -> None:
    def call(ev: ConfigEval, args: list[Any]) -> Any:
        raise EvalError(f"{name}() is not evaluated: {reason}")

    TERRAGRUNT_FUNCTIONS[name] = call


_refuse("run_cmd", "driftmgr does not run commands found in configuration files")
_refuse("sops_decrypt_file", "driftmgr does not decrypt files")
_refuse("get_terraform_command", "it depends on the terraform command Terragrunt is running")
_refuse("get_terraform_cli_args", "it depends on the terraform command Terragrunt is running")
_refuse("get_working_dir", "it needs Terragrunt to download the unit's source")
_refuse("get_aws_account_alias", "use get_aws_account_id() or a fixed value")
_refuse("read_tfvars_file", "reading .tfvars files is not supported")

for _name, _commands in {
    "get_terraform_commands_that_need_vars": ["apply", "console", "destroy", "import", "plan", "push",
                                              "refresh"],
    "get_terraform_commands_that_need_locking": ["apply", "destroy", "import", "plan", "refresh", "taint",
                                                 "untaint"],
    "get_terraform_commands_that_need_input": ["apply", "import", "init", "plan", "refresh"],
    "get_terraform_commands_that_need_parallelism": ["apply", "plan", "destroy"],
}.items():
    _tg(_name, 0)(lambda ev, _c=_commands: list(_c))


@_tg("find_in_parent_folders", 0, 2)
def _find_in_parent_folders(ev: ConfigEval, *args: Any) -> Any:
    name = to_string(args[0]) if args else ""
    previous = Path(os.path.abspath(ev.config_path)).parent
    for _ in range(MAX_FOLDERS_TO_CHECK):
        current = previous.parent
        if current == previous:
            if len(args) == 2:
                return to_string(args[1])
            raise EvalError(f"no {name or CONFIG_NAMES[0]} in any parent folder of {ev.config_path}")
        target = current / name if name else default_config(current)
        if target.exists():
            return _posix(target)
        previous = current
    raise EvalError(f"no {name or CONFIG_NAMES[0]} within {MAX_FOLDERS_TO_CHECK} parent folders "
                    f"of {ev.config_path}")


@_tg("path_relative_to_include", 0, 1)
def _path_relative_to_include(ev: ConfigEval, *args: Any) -> str:
    ref = ev.selected_include(list(args), "path_relative_to_include")
    if ref is None:
        return "."
    return _posix(os.path.relpath(ev.config_path.parent, ref.path.parent))


@_tg("path_relative_from_include", 0, 1)
def _path_relative_from_include(ev: ConfigEval, *args: Any) -> str:
    ref = ev.selected_include(list(args), "path_relative_from_include")
    if ref is None:
        return "."
    return _posix(os.path.relpath(ref.path.parent, ev.config_path.parent))


@_tg("get_parent_terragrunt_dir", 0, 1)
def _get_parent_terragrunt_dir(ev: ConfigEval, *args: Any) -> str:
    relative = _path_relative_from_include(ev, *args)
    return _posix(os.path.normpath(ev.config_path.parent / relative))


_tg("get_terragrunt_dir", 0)(lambda ev: _posix(Path(os.path.abspath(ev.config_path)).parent))
_tg("get_original_terragrunt_dir", 0)(lambda ev: _posix(Path(os.path.abspath(ev.original)).parent))
_tg("get_platform", 0)(lambda ev: {"win32": "windows", "darwin": "darwin"}.get(sys.platform, sys.platform))
_tg("get_terragrunt_source_cli_flag", 0)(lambda ev: "")  # driftmgr is never given --source
_tg("mark_as_read", 1)(lambda ev, path: to_string(path))
_tg("get_aws_account_id", 0)(lambda ev: ev.session.aws_identity()["Account"])
_tg("get_aws_caller_identity_arn", 0)(lambda ev: ev.session.aws_identity()["Arn"])
_tg("get_aws_caller_identity_user_id", 0)(lambda ev: ev.session.aws_identity()["UserId"])


@_tg("get_env", 1, 2)
def _get_env(ev: ConfigEval, name: Any, *default: Any) -> str:
    var = to_string(name)
    if not var:
        raise EvalError("the variable name is empty")
    if var in ev.session.env:
        return ev.session.env[var]
    if default:
        return to_string(default[0])
    raise EvalError(f"environment variable {var} is not set (and get_env() was given no default)")


def _repo_root(ev: ConfigEval) -> Path:
    start = Path(os.path.abspath(ev.original)).parent
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    raise EvalError(f"{start} is not in a git repository")


_tg("get_repo_root", 0)(lambda ev: _posix(_repo_root(ev)))
_tg("get_path_from_repo_root", 0)(
    lambda ev: _posix(os.path.relpath(Path(os.path.abspath(ev.original)).parent, _repo_root(ev))))
_tg("get_path_to_repo_root", 0)(
    lambda ev: _posix(os.path.relpath(_repo_root(ev), Path(os.path.abspath(ev.original)).parent)))


def _relative_to_file(ev: ConfigEval, path: Any) -> Path:
    target = Path(os.path.expanduser(to_string(path)))
    return target if target.is_absolute() else ev.path.parent / target


@_tg("file", 1)
def _file(ev: ConfigEval, path: Any) -> str:
    target = _relative_to_file(ev, path)
    try:
        return target.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise EvalError(f"{target} is not UTF-8 text") from None
    except OSError as exc:
        raise EvalError(f"cannot read {target}: {exc.strerror or exc}") from None


_tg("fileexists", 1)(lambda ev, path: _relative_to_file(ev, path).is_file())


@_tg("read_terragrunt_config", 1, 2)
def _read_terragrunt_config(ev: ConfigEval, path: Any, *default: Any) -> Any:
    target = Path(to_string(path))
    target = Path(os.path.normpath(target if target.is_absolute() else ev.config_path.parent / target))
    if target.is_dir():
        target = default_config(target)
    if not target.is_file():
        if default:
            return default[0]
        raise EvalError(f"{target} does not exist")
    return ConfigObject(ev.session.read_eval(target, ev.original))
