"""Values of Terragrunt expressions and the Terraform functions configurations use on them.

Values are plain Python: str, int/float (HCL numbers), bool, None (null), list (tuple), dict (object),
plus :class:`Lazy` objects whose attributes are evaluated when read. :data:`FUNCTIONS` holds the
Terraform functions the evaluator (``state/terragrunt_eval.py``) offers besides Terragrunt's own; each
refuses what it cannot do exactly with an :class:`EvalError`.
"""

from __future__ import annotations

import json
import math
import os
import posixpath
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any


class EvalError(Exception):
    """An expression that cannot be evaluated: ``message`` says why; ``snippet`` and ``line`` say which one
    (filled in by the evaluator from the innermost node that failed)."""

    def __init__(self, message: str, *, snippet: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.snippet = snippet
        self.line = line


class Lazy(ABC):
    """An object whose attributes are evaluated when first read (a file's locals, a config read with
    ``read_terragrunt_config``), so that a value nobody uses is never computed."""

    @abstractmethod
    def get(self, name: str) -> Any:
        """The attribute ``name``; EvalError when there is none."""

    @abstractmethod
    def names(self) -> list[str]:
        """Every attribute name."""

    def materialize(self) -> dict[str, Any]:
        return {name: plain(self.get(name)) for name in self.names()}


def plain(value: Any) -> Any:
    """``value`` with every :class:`Lazy` inside it evaluated: plain str/int/float/bool/None/list/dict."""
    if isinstance(value, Lazy):
        return value.materialize()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "tuple"
    return "object"


def to_string(value: Any) -> str:
    """A value as HCL converts it to a string (templates, string arguments)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if value is None:
        raise EvalError("the value is null, which cannot be used as a string")
    raise EvalError(f"a {type_name(value)} cannot be used as a string")


def to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise EvalError("a bool cannot be used as a number")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                raise EvalError(f"{value!r} is not a number") from None
            if math.isfinite(number):
                return number
        raise EvalError(f"{value!r} is not a number")
    raise EvalError(f"a {type_name(value)} cannot be used as a number")


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise EvalError(f"a {type_name(value)} ({value!r}) cannot be used as a bool")


def get_attribute(value: Any, name: str) -> Any:
    if isinstance(value, Lazy):
        return value.get(name)
    if isinstance(value, dict):
        if name in value:
            return value[name]
        known = ", ".join(sorted(value)) or "none"
        raise EvalError(f"the object has no attribute {name!r} (it has: {known})")
    raise EvalError(f"a {type_name(value)} has no attributes (reading {name!r})")


def get_index(value: Any, key: Any) -> Any:
    if isinstance(value, list):
        index = to_number(key)
        if not float(index).is_integer() or not 0 <= index < len(value):
            raise EvalError(f"index {key!r} is out of range (the tuple has {len(value)} elements)")
        return value[int(index)]
    if isinstance(value, dict | Lazy):
        return get_attribute(value, to_string(key))
    raise EvalError(f"a {type_name(value)} cannot be indexed")


def equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if type_name(a) != type_name(b):
        return False
    return bool(a == b)


# ------------------------------------------------------------------------------------------ functions
def check_arity(name: str, args: list[Any], low: int, high: int | None = None) -> None:
    high = low if high is None else high
    if not low <= len(args) <= (high if high >= 0 else len(args)):
        want = str(low) if low == high else f"{low} to {high}" if high >= 0 else f"at least {low}"
        raise EvalError(f"{name}() takes {want} argument(s), got {len(args)}")


def _fn(name: str, low: int, high: int | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``impl`` as the function ``name`` taking ``low`` to ``high`` arguments (-1: no limit)."""

    def wrap(impl: Callable[..., Any]) -> Callable[..., Any]:
        def call(args: list[Any]) -> Any:
            check_arity(name, args, low, high)
            return impl(*[plain(a) for a in args])

        FUNCTIONS[name] = call
        return impl

    return wrap


FUNCTIONS: dict[str, Callable[[list[Any]], Any]] = {}
"""Terraform's functions, the subset Terragrunt configurations use for state locations."""


def _strs(*values: Any) -> list[str]:
    return [to_string(v) for v in values]


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise EvalError(f"{what} must be a list, got a {type_name(value)}")
    return value


def _map(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EvalError(f"{what} must be an object, got a {type_name(value)}")
    return value


_fn("lower", 1)(lambda s: to_string(s).lower())
_fn("upper", 1)(lambda s: to_string(s).upper())
_fn("title", 1)(lambda s: re.sub(r"(?<![\w'])\w", lambda m: m.group(0).upper(), to_string(s)))
_fn("trimspace", 1)(lambda s: to_string(s).strip())
_fn("trimprefix", 2)(lambda s, p: (lambda a, b: a[len(b):] if b and a.startswith(b) else a)(*_strs(s, p)))
_fn("trimsuffix", 2)(lambda s, p: (lambda a, b: a[:-len(b)] if b and a.endswith(b) else a)(*_strs(s, p)))
_fn("trim", 2)(lambda s, cut: (lambda a, b: a.strip(b))(*_strs(s, cut)))
_fn("startswith", 2)(lambda s, p: (lambda a, b: a.startswith(b))(*_strs(s, p)))
_fn("endswith", 2)(lambda s, p: (lambda a, b: a.endswith(b))(*_strs(s, p)))
_fn("strcontains", 2)(lambda s, p: (lambda a, b: b in a)(*_strs(s, p)))
_fn("basename", 1)(lambda p: posixpath.basename(to_string(p).rstrip("/")) or ("/" if to_string(p) else "."))
_fn("dirname", 1)(lambda p: posixpath.normpath(posixpath.dirname(to_string(p)) or "."))
_fn("pathexpand", 1)(lambda p: os.path.expanduser(to_string(p)))
_fn("abspath", 1)(lambda p: _abspath(to_string(p)))
_fn("tostring", 1)(lambda v: None if v is None else _tostring(v))
_fn("tonumber", 1)(lambda v: None if v is None else to_number(v))
_fn("tobool", 1)(lambda v: None if v is None else to_bool(v))
_fn("tolist", 1)(lambda v: list(_list(v, "the argument")))
_fn("tomap", 1)(lambda v: dict(_map(v, "the argument")))
_fn("toset", 1)(lambda v: sorted({json.dumps(x, sort_keys=True): x for x in _list(v, "the argument")}.values(),
                                 key=lambda x: json.dumps(x, sort_keys=True)))
_fn("concat", 0, -1)(lambda *lists: [x for i, lst in enumerate(lists) for x in _list(lst, f"argument {i + 1}")])
_fn("reverse", 1)(lambda v: list(reversed(_list(v, "the argument"))))
_fn("contains", 2)(lambda v, x: any(equal(item, x) for item in _list(v, "the first argument")))
_fn("keys", 1)(lambda m: sorted(_map(m, "the argument")))
_fn("values", 1)(lambda m: [v for _, v in sorted(_map(m, "the argument").items())])
_fn("compact", 1)(lambda v: [x for x in _list(v, "the argument") if x not in (None, "")])
_fn("jsondecode", 1)(lambda s: _jsondecode(to_string(s)))
_fn("jsonencode", 1)(lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False)
                     .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
_fn("yamldecode", 1)(lambda s: _yamldecode(to_string(s)))
_fn("abs", 1)(lambda n: abs(to_number(n)))
_fn("floor", 1)(lambda n: math.floor(to_number(n)))
_fn("ceil", 1)(lambda n: math.ceil(to_number(n)))
_fn("max", 1, -1)(lambda *ns: max(to_number(n) for n in ns))
_fn("min", 1, -1)(lambda *ns: min(to_number(n) for n in ns))


def _abspath(path: str) -> str:
    if not path.startswith("/"):
        # Terraform resolves it against the directory terragrunt was started in, which is not known here
        raise EvalError(f"abspath() of the relative path {path!r} depends on where terragrunt runs; "
                        "use get_terragrunt_dir() to build the path")
    return posixpath.normpath(path)


def _tostring(value: Any) -> str:
    if isinstance(value, list | dict):
        raise EvalError(f"a {type_name(value)} cannot be converted to a string")
    return to_string(value)


def _jsondecode(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise EvalError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None


def _yamldecode(text: str) -> Any:
    try:
        import yaml
    except ImportError:
        raise EvalError("yamldecode() needs the PyYAML package (pip install pyyaml)") from None
    try:
        return yaml.load(text, Loader=_yaml12_loader(yaml))  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise EvalError(f"invalid YAML: {' '.join(str(exc).split())}") from None


_YAML_LOADER: Any = None


def _yaml12_loader(yaml: Any) -> Any:
    """A SafeLoader with YAML 1.2 core-schema booleans and integers, as Terraform's yamldecode reads them
    (PyYAML's 1.1 rules would turn ``on``/``no`` into booleans and ``0755`` into an octal number)."""
    global _YAML_LOADER
    if _YAML_LOADER is not None:
        return _YAML_LOADER

    class Loader(yaml.SafeLoader):
        pass

    dropped = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int")
    Loader.yaml_implicit_resolvers = {
        first: [r for r in resolvers if r[0] not in dropped]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    booleans = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
    integers = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
    Loader.add_implicit_resolver("tag:yaml.org,2002:bool", booleans, list("tTfF"))
    Loader.add_implicit_resolver("tag:yaml.org,2002:int", integers, list("-+0123456789"))

    def construct_int(loader: Any, node: Any) -> int:
        text = loader.construct_scalar(node)
        if text.startswith(("0o", "0x")):
            return int(text[2:], 8 if text[1] == "o" else 16)
        return int(text, 10)

    Loader.add_constructor("tag:yaml.org,2002:int", construct_int)
    _YAML_LOADER = Loader
    return Loader


@_fn("replace", 3)
def _replace(string: Any, substr: Any, replacement: Any) -> str:
    text, pattern, repl = _strs(string, substr, replacement)
    if len(pattern) >= 2 and pattern.startswith("/") and pattern.endswith("/"):
        try:
            regex = re.compile(pattern[1:-1])
        except re.error as exc:
            raise EvalError(f"invalid regular expression {pattern!r}: {exc}") from None

        def expand(match: re.Match[str]) -> str:
            def group(ref: re.Match[str]) -> str:
                if ref.group(0) == "$$":
                    return "$"
                name = ref.group(1) or ref.group(2)
                try:  # as Go's Regexp.Expand: an unknown group expands to nothing
                    return match.group(int(name) if name.isdigit() else name) or ""
                except IndexError:
                    return ""

            return re.sub(r"\$\$|\$\{(\w+)\}|\$(\w+)", group, repl)

        return regex.sub(expand, text)
    return text.replace(pattern, repl) if pattern else text


@_fn("split", 2)
def _split(separator: Any, string: Any) -> list[str]:
    sep, text = _strs(separator, string)
    return list(text) if sep == "" else text.split(sep)


@_fn("join", 2, -1)
def _join(separator: Any, *lists: Any) -> str:
    sep = to_string(separator)
    items = [x for i, lst in enumerate(lists) for x in _list(lst, f"argument {i + 2}")]
    return sep.join(to_string(x) for x in items)


@_fn("element", 2)
def _element(values: Any, index: Any) -> Any:
    items = _list(values, "the first argument")
    i = to_number(index)
    if not items:
        raise EvalError("cannot use element() with an empty list")
    if i < 0:
        raise EvalError("cannot use element() with a negative index")
    return items[int(i) % len(items)]


@_fn("length", 1)
def _length(value: Any) -> int:
    if isinstance(value, str | list | dict):
        return len(value)
    raise EvalError(f"a {type_name(value)} has no length")


@_fn("lookup", 2, 3)
def _lookup(mapping: Any, key: Any, *default: Any) -> Any:
    values = _map(mapping, "the first argument")
    name = to_string(key)
    if name in values:
        return values[name]
    if default:
        return default[0]
    raise EvalError(f"the object has no key {name!r} and no default was given")


@_fn("merge", 0, -1)
def _merge(*maps: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, value in enumerate(maps):
        if value is not None:
            out.update(_map(value, f"argument {i + 1}"))
    return out


@_fn("coalesce", 1, -1)
def _coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    raise EvalError("no non-null, non-empty-string argument")


@_fn("distinct", 1)
def _distinct(values: Any) -> list[Any]:
    out: list[Any] = []
    for item in _list(values, "the argument"):
        if not any(equal(item, seen) for seen in out):
            out.append(item)
    return out


@_fn("flatten", 1)
def _flatten(values: Any) -> list[Any]:
    out: list[Any] = []
    for item in _list(values, "the argument"):
        out.extend(_flatten(item) if isinstance(item, list) else [item])
    return out


@_fn("substr", 3)
def _substr(string: Any, offset: Any, length: Any) -> str:
    text = to_string(string)
    start, count = int(to_number(offset)), int(to_number(length))
    if start < 0:
        start += len(text)
    if not 0 <= start <= len(text):
        raise EvalError(f"offset {start} is out of range for a string of length {len(text)}")
    return text[start:] if count == -1 else text[start:start + count]


_FORMAT_VERB = re.compile(r"%(?:%|([-+# 0]*)(\d*)(?:\.(\d+))?([sdvqftebxXo]))")


@_fn("format", 1, -1)
def _format(spec: Any, *args: Any) -> str:
    pending = list(args)

    def verb(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        if not pending:
            raise EvalError(f"not enough arguments for format {to_string(spec)!r}")
        flags, width, precision, kind = match.groups()
        value = pending.pop(0)
        if kind in ("s", "v") and not isinstance(value, list | dict):
            text = to_string(value)
        elif kind == "v":
            text = json.dumps(value, separators=(",", ":"))
        elif kind == "q":
            text = json.dumps(to_string(value))
        elif kind == "d":
            number = to_number(value)
            if not float(number).is_integer():
                raise EvalError(f"%d needs a whole number, got {value!r}")
            text = str(int(number))
        elif kind in "fe":
            text = f"{float(to_number(value)):.{int(precision or 6)}{kind}}"
        else:
            raise EvalError(f"the verb %{kind} is not supported")
        if width:
            fill = "0" if "0" in flags else " "
            text = text.ljust(int(width)) if "-" in flags else text.rjust(int(width), fill)
        return text

    result = _FORMAT_VERB.sub(verb, to_string(spec))
    if pending:
        raise EvalError(f"too many arguments for format {to_string(spec)!r}")
    return result
