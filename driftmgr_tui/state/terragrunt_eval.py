"""The HCL expressions Terragrunt configurations use, evaluated over python-hcl2's parse tree.

python-hcl2 parses a file; this module turns the tree into :class:`Document` (attributes and blocks
whose values stay unevaluated :class:`Expr`) and evaluates an expression on demand: literals, string
templates (``"${...}"`` and heredocs), tuples, objects, attribute and index access, function calls,
conditionals, arithmetic, comparison and logic, and ``for`` expressions. Variables (``local``,
``include``) and Terragrunt's functions come from a :class:`Scope` (``state/terragrunt.py``); the
Terraform functions come from ``state/terragrunt_funcs.py``.

Anything else raises :class:`EvalError` naming the expression: a value is exact or refused, never
guessed. ``terragrunt.hcl.json`` files are read too (strings in them are templates, as in HCL's JSON
syntax).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from lark import Token, Tree

from driftmgr_tui.core.errors import ConfigError
from driftmgr_tui.state.terragrunt_funcs import (
    FUNCTIONS,
    EvalError,
    Lazy,
    equal,
    get_attribute,
    get_index,
    plain,
    to_bool,
    to_number,
    to_string,
    type_name,
)


class Scope(Protocol):
    """Where an expression is evaluated: its file, its variables and the functions beyond Terraform's."""

    path: Path

    def variable(self, name: str) -> Any:
        """The value of the root variable ``name`` (``local``, ``include``); EvalError when unknown."""

    def function(self, name: str) -> Callable[[list[Any]], Any] | None:
        """A Terragrunt function by name, or None when the scope has none of that name."""


# ------------------------------------------------------------------------------------------ documents
@dataclass(frozen=True)
class Expr:
    """One unevaluated expression: a parse-tree node of an HCL file, or a value of a JSON one."""

    node: Any
    path: Path
    source: str  # the text the node's positions refer to ("" for JSON)
    line: int | None
    is_json: bool = False


@dataclass
class Block:
    type: str
    labels: tuple[str, ...]
    attrs: dict[str, Expr] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    line: int | None = None


@dataclass
class Document:
    """A parsed file: its top-level attributes and blocks, nothing evaluated."""

    path: Path
    attrs: dict[str, Expr]
    blocks: list[Block]

    def blocks_of(self, kind: str) -> list[Block]:
        return [b for b in self.blocks if b.type == kind]


def parse_document(path: Path) -> Document:
    """Parse an HCL (or, for ``*.json``, HCL-JSON) file. ConfigError names the file and, for HCL, the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if path.name.endswith(".json"):
        return _json_document(path, text)
    return _hcl_document(path, text)


def _hcl_document(path: Path, text: str) -> Document:
    import hcl2
    from lark.exceptions import LarkError, UnexpectedInput

    try:
        tree = hcl2.parses_to_tree(text)
    except UnexpectedInput as exc:
        line, column = getattr(exc, "line", -1), getattr(exc, "column", -1)
        where = f" at line {line}, column {column}" if line not in (-1, None) else ""
        raise ConfigError(f"{path}: invalid HCL{where}") from None
    except (LarkError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: invalid HCL ({first})") from None
    body = tree.children[0]
    attrs, blocks = _hcl_body(path, text, body)
    return Document(path, attrs, blocks)


def _trees(node: Tree) -> list[Tree]:
    """The child trees that matter (comments and newlines dropped)."""
    return [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]


def _line(node: Any) -> int | None:
    if isinstance(node, Token):
        return node.line
    if isinstance(node, Tree) and not node.meta.empty:
        return node.meta.line
    return None


def _name_of(node: Tree) -> str:
    """The text of an identifier / keyword / literal_value node (attribute names, block types)."""
    return str(node.children[0])


def _hcl_body(path: Path, text: str, body: Tree) -> tuple[dict[str, Expr], list[Block]]:
    attrs: dict[str, Expr] = {}
    blocks: list[Block] = []
    for item in _trees(body):
        if item.data == "attribute":
            name_node, value = _trees(item)[0], _trees(item)[-1]
            name = _name_of(name_node)
            if name in attrs:
                raise ConfigError(f"{path}:{_line(item)}: attribute '{name}' is defined twice "
                                  f"(first at line {attrs[name].line})")
            attrs[name] = Expr(value, path, text, _line(item))
        elif item.data == "block":
            parts = _trees(item)
            kind = _name_of(parts[0])
            labels = []
            for label in parts[1:-1]:
                if label.data == "string":
                    labels.append("".join(str(p.children[0]) for p in _trees(label)))
                else:
                    labels.append(_name_of(label))
            inner_attrs, inner_blocks = _hcl_body(path, text, parts[-1])
            blocks.append(Block(kind, tuple(labels), inner_attrs, inner_blocks, _line(item)))
    return attrs, blocks


def _json_document(path: Path, text: str) -> Document:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: malformed JSON at line {exc.lineno}, column {exc.colno}: "
                          f"{exc.msg}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: an HCL JSON file must hold a JSON object")
    attrs: dict[str, Expr] = {}
    blocks: list[Block] = []

    def jexpr(value: Any) -> Expr:
        return Expr(value, path, "", None, is_json=True)

    def block(kind: str, labels: tuple[str, ...], body: Any) -> Block:
        if not isinstance(body, dict):
            raise ConfigError(f"{path}: '{kind}' must be a JSON object")
        return Block(kind, labels, {k: jexpr(v) for k, v in body.items()})

    for key, value in data.items():
        if key in ("locals", "terraform"):
            for body in value if isinstance(value, list) else [value]:
                blocks.append(block(key, (), body))
        elif key == "include":
            for body in value if isinstance(value, list) else [value]:
                if isinstance(body, dict) and "path" not in body:  # {"name": {"path": ...}, ...}
                    for label, inner in body.items():
                        blocks.append(block(key, (label,), inner))
                else:
                    blocks.append(block(key, (), body))
        else:
            attrs[key] = jexpr(value)
    return Document(path, attrs, blocks)


# ------------------------------------------------------------------------------------------ evaluation
def evaluate(expr: Expr, scope: Scope) -> Any:
    """The value of ``expr`` in ``scope`` (may hold :class:`Lazy` objects; see :func:`plain`)."""
    evaluator = _Evaluator(scope, expr.source, expr.line)
    if expr.is_json:
        return evaluator.json_value(expr.node)
    return evaluator.eval(expr.node)


_ESCAPES = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.S)
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def _unescape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] in "uU":
            return chr(int(code[1:], 16))
        if code in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[code]
        raise EvalError(f"invalid escape sequence \\{code} in a string")

    return _ESCAPES.sub(one, text)


_HEREDOC = re.compile(r"<<(-?)([A-Za-z][A-Za-z0-9._-]*)\r?\n(.*?)^[ \t]*\2[ \t]*\r?\n?\Z", re.S | re.M)


def _heredoc_body(token: str) -> str:
    match = _HEREDOC.match(token)
    if match is None:
        raise EvalError("malformed heredoc")
    trim, _, body = match.groups()
    lines = body.splitlines(keepends=True)
    if trim:
        widths = [len(ln) - len(ln.lstrip(" \t")) for ln in lines if ln.strip()]
        cut = min(widths, default=0)
        lines = [ln[cut:] if ln.strip() else ln.lstrip(" \t") for ln in lines]
    return "".join(lines)


def _closing_brace(text: str, start: int) -> int:
    """Index of the ``}`` closing an interpolation whose expression starts at ``start`` (-1 when none)."""
    depth, i, quote = 0, start, False
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                quote = False
        elif ch == '"':
            quote = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


class _Evaluator:
    def __init__(self, scope: Scope, source: str, line: int | None,
                 variables: dict[str, Any] | None = None) -> None:
        self.scope = scope
        self.source = source
        self.line = line
        self.vars: dict[str, Any] = dict(variables or {})

    # -- error placement -------------------------------------------------------------------------
    def _snippet(self, node: Any) -> str:
        if isinstance(node, Tree) and not node.meta.empty and self.source:
            text = self.source[node.meta.start_pos:node.meta.end_pos]
        elif isinstance(node, Token):
            text = str(node)
        else:
            text = ""
        text = " ".join(text.split())
        return text if len(text) <= 120 else text[:117] + "..."

    def eval(self, node: Any) -> Any:
        try:
            return self._dispatch(node)
        except EvalError as exc:
            if exc.snippet is None:
                exc.snippet = self._snippet(node) or None
            if exc.line is None:
                exc.line = _line(node) or self.line
            raise

    def _dispatch(self, node: Any) -> Any:
        if not isinstance(node, Tree):
            raise EvalError(f"unexpected token {node!s}")
        method = getattr(self, f"_x_{node.data}", None)
        if method is None:
            what = str(node.data).replace("_expr_term", "").replace("_", " ")
            raise EvalError(f"{what} expressions are not supported")
        return method(node)

    # -- terms -------------------------------------------------------------------------------------
    def _x_expr_term(self, node: Tree) -> Any:
        return self.eval(_trees(node)[0])

    def _x_int_lit(self, node: Tree) -> Any:
        return int(str(node.children[0]))

    def _x_float_lit(self, node: Tree) -> Any:
        return float(str(node.children[0]))

    def _x_literal_value(self, node: Tree) -> Any:
        return {"true": True, "false": False, "null": None}[str(node.children[0])]

    def _x_identifier(self, node: Tree) -> Any:
        name = _name_of(node)
        if name in self.vars:
            return self.vars[name]
        return self.scope.variable(name)

    def _x_tuple(self, node: Tree) -> Any:
        return [self.eval(item) for item in _trees(node)]

    def _x_object(self, node: Tree) -> Any:
        out: dict[str, Any] = {}
        for elem in _trees(node):
            key_node, value_node = _trees(elem)[0], _trees(elem)[-1]
            key = self._object_key(key_node)
            if key in out:
                raise EvalError(f"duplicate object key {key!r}")
            out[key] = self.eval(value_node)
        return out

    def _object_key(self, node: Tree) -> str:
        inner = node.children[0]
        if isinstance(inner, Token):  # a keyword used as a key
            return str(inner)
        if inner.data == "expr_term" and len(inner.children) == 1 and isinstance(inner.children[0], Tree) \
                and inner.children[0].data in ("identifier", "literal_value"):
            return _name_of(inner.children[0])  # a bare name is the key itself, not a variable
        return to_string(self.eval(inner))

    def _x_heredoc_template(self, node: Tree) -> Any:
        return self.template(_heredoc_body(str(node.children[0])))

    _x_heredoc_template_trim = _x_heredoc_template

    def _x_string(self, node: Tree) -> Any:
        parts = [p.children[0] for p in _trees(node)]
        if len(parts) == 1 and isinstance(parts[0], Tree) and parts[0].data == "interpolation":
            return self.eval(_trees(parts[0])[0])  # "${x}" is x itself, whatever its type
        out = []
        for part in parts:
            if isinstance(part, Token):
                if part.type in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"):  # $${ and %%{
                    out.append(str(part)[1:])
                else:
                    out.append(_unescape(str(part)))
            elif part.data == "interpolation":
                out.append(to_string(plain(self.eval(_trees(part)[0]))))
            else:
                raise EvalError("template directives (%{if}, %{for}) are not supported")
        return "".join(out)

    def template(self, text: str) -> Any:
        """A template given as text (a heredoc body, a JSON string): ``${...}`` evaluated, ``$${`` kept."""
        pieces: list[str | list[Any]] = []  # literal text, or [value] of an interpolation
        i = 0
        while i < len(text):
            if text.startswith(("$${", "%%{"), i):
                pieces.append(text[i + 1:i + 3])
                i += 3
            elif text.startswith("${", i):
                end = _closing_brace(text, i + 2)
                if end < 0:
                    raise EvalError("unterminated ${ in a template")
                pieces.append([self._eval_text(text[i + 2:end].strip().strip("~").strip())])
                i = end + 1
            elif text.startswith("%{", i):
                raise EvalError("template directives (%{if}, %{for}) are not supported")
            else:
                pieces.append(text[i])
                i += 1
        if len(pieces) == 1 and isinstance(pieces[0], list):
            return pieces[0][0]  # "${x}" is x itself, whatever its type
        return "".join(to_string(plain(p[0])) if isinstance(p, list) else p for p in pieces)

    def _eval_text(self, text: str) -> Any:
        import hcl2
        from lark.exceptions import LarkError

        try:
            tree = hcl2.parses_to_tree(f"_ = {text}\n")
        except (LarkError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise EvalError(f"invalid expression ({first})", snippet=text) from None
        attribute = _trees(tree.children[0])[0]
        sub = _Evaluator(self.scope, f"_ = {text}\n", self.line, self.vars)
        return sub.eval(_trees(attribute)[-1])

    def json_value(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return self.template(value)
            except EvalError as exc:
                exc.snippet = exc.snippet or value
                raise
        if isinstance(value, list):
            return [self.json_value(v) for v in value]
        if isinstance(value, dict):
            return {k: self.json_value(v) for k, v in value.items()}
        return value

    # -- access ------------------------------------------------------------------------------------
    def _x_get_attr_expr_term(self, node: Tree) -> Any:
        target, get_attr = _trees(node)
        name = _name_of(_trees(get_attr)[0])
        return get_attribute(self.eval(target), name)

    def _x_index_expr_term(self, node: Tree) -> Any:
        target, index = _trees(node)
        if index.data == "short_index":
            key: Any = int(str(index.children[-1]))
        else:
            key = self.eval(_trees(index)[0])
        return get_index(self.eval(target), key)

    # -- operators ---------------------------------------------------------------------------------
    def _x_conditional(self, node: Tree) -> Any:
        cond, yes, no = _trees(node)
        return self.eval(yes) if to_bool(plain(self.eval(cond))) else self.eval(no)

    def _x_unary_op(self, node: Tree) -> Any:
        op = str(node.children[0])
        value = plain(self.eval(_trees(node)[0]))
        return -to_number(value) if op == "-" else not to_bool(value)

    def _x_binary_op(self, node: Tree) -> Any:
        lhs_node, term = _trees(node)[:2]
        operator, rhs_node = _trees(term)
        op = str(operator.children[0])
        lhs, rhs = plain(self.eval(lhs_node)), plain(self.eval(rhs_node))
        if op == "==":
            return equal(lhs, rhs)
        if op == "!=":
            return not equal(lhs, rhs)
        if op in ("&&", "||"):
            a, b = to_bool(lhs), to_bool(rhs)
            return (a and b) if op == "&&" else (a or b)
        a, b = to_number(lhs), to_number(rhs)
        if op in ("<", ">", "<=", ">="):
            return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if b == 0:
            raise EvalError("division by zero")
        if op == "/":
            quotient = a / b
            return int(quotient) if quotient.is_integer() and isinstance(a, int) and isinstance(b, int) \
                else quotient
        return math.fmod(a, b) if isinstance(a, float) or isinstance(b, float) else int(math.fmod(a, b))

    # -- for expressions ---------------------------------------------------------------------------
    def _for_items(self, intro: Tree) -> tuple[list[str], Iterator[tuple[Any, Any]]]:
        names = [_name_of(n) for n in _trees(intro) if n.data == "identifier"]
        collection = _trees(intro)[-1]
        value = self.eval(collection)
        if isinstance(value, Lazy):
            value = value.materialize()
        if isinstance(value, list):
            return names, iter(enumerate(value))
        if isinstance(value, dict):
            return names, iter(sorted(value.items()))
        raise EvalError(f"a for expression needs a tuple or an object, got a {type_name(value)}")

    def _loop(self, node: Tree) -> Iterator[_Evaluator]:
        parts = _trees(node)
        names, items = self._for_items(parts[0])
        cond = parts[-1] if parts[-1].data == "for_cond" else None
        for key, value in items:
            bound = dict(zip(names, [key, value] if len(names) == 2 else [value], strict=True))
            inner = _Evaluator(self.scope, self.source, self.line, {**self.vars, **bound})
            if cond is not None and not to_bool(plain(inner.eval(_trees(cond)[0]))):
                continue
            yield inner

    def _x_for_tuple_expr(self, node: Tree) -> Any:
        body = _trees(node)[1]
        return [inner.eval(body) for inner in self._loop(node)]

    def _x_for_object_expr(self, node: Tree) -> Any:
        parts = _trees(node)
        key_node, value_node = parts[1], parts[2]
        group = any(isinstance(c, Token) and c.type == "ELLIPSIS" for c in node.children)
        out: dict[str, Any] = {}
        for inner in self._loop(node):
            key = to_string(plain(inner.eval(key_node)))
            value = inner.eval(value_node)
            if group:
                out.setdefault(key, []).append(value)
            elif key in out:
                raise EvalError(f"duplicate object key {key!r} (use ... to group values by key)")
            else:
                out[key] = value
        return out

    # -- functions ---------------------------------------------------------------------------------
    def _x_function_call(self, node: Tree) -> Any:
        names = [_name_of(n) for n in _trees(node) if n.data == "identifier"]
        if len(names) > 1:
            raise EvalError(f"provider function {'::'.join(names)}() is not supported")
        name = names[0]
        arguments = next((n for n in _trees(node) if n.data == "arguments"), None)
        arg_nodes = _trees(arguments) if arguments is not None else []
        if arguments is not None and any(isinstance(c, Token) and c.type == "ELLIPSIS"
                                         for c in arguments.children):
            raise EvalError("expanding arguments with ... is not supported")
        if name in ("try", "can"):
            return self._try(name, arg_nodes)
        func = self.scope.function(name) or FUNCTIONS.get(name)
        if func is None:
            raise EvalError(f"function {name}() is not supported")
        return func([self.eval(a) for a in arg_nodes])

    def _try(self, name: str, arg_nodes: list[Tree]) -> Any:
        if not arg_nodes or (name == "can" and len(arg_nodes) != 1):
            raise EvalError(f"{name}() takes {'one argument' if name == 'can' else 'at least one argument'}")
        for arg in arg_nodes:
            try:
                value = plain(self.eval(arg))
            except (EvalError, ConfigError):
                continue
            return True if name == "can" else value
        if name == "can":
            return False
        raise EvalError("no argument of try() could be evaluated")
