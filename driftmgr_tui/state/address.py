"""Terraform resource and module addresses, parsed and printed exactly as Terraform does.

Terraform's canonical string is the identity of an instance everywhere: the CLI's
``-target`` and ``state`` commands, plan output, and the ``module`` field of a v4
state. Drift reports, the state index and user input must agree on it byte for
byte, so this module follows ``internal/addrs`` (``ParseTarget``,
``ParseModuleInstanceStr``, ``InstanceKey.String``) and HCL's traversal syntax
rather than inventing a friendlier one.

Grammar accepted by :func:`parse_address`::

    address     = module-path | [ module-path "." ] resource
    module-path = "module." IDENT [ key ] { ".module." IDENT [ key ] }
    resource    = [ "data." | "resource." ] IDENT "." IDENT [ key ]
    key         = "[" ( NUMBER | STRING ) "]"

As in Terraform: identifiers are HCL's (Unicode letters, digits, ``_``, ``-``;
not starting with a digit or ``-``); a key NUMBER is any HCL number literal with
a whole non-negative value below 2**63 (``007``, ``1e2`` and ``7.0`` print as
integers); STRING is an HCL quoted literal without template sequences; a
resource type that is a reserved word (``count``, ``var``...) needs the optional
``resource.`` prefix, which is not printed.

Deliberate differences from Terraform's parser: whitespace between tokens is an
error (HCL skips it); splat keys (``[*]``) and ``ephemeral.``/``list.`` resources
(never stored in state) are rejected. Printing escapes characters that are not
printable in Python's Unicode database, which can lag Go's by a version: a
character new in Unicode 15 prints as ``\\U...`` here but raw from Terraform.
"""

from __future__ import annotations

import enum
import re
import string
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Literal, TypeAlias

from driftmgr_tui.core.errors import AddressError

__all__ = [
    "NO_KEY",
    "Address",
    "InstanceKey",
    "ModuleStep",
    "NoKeyType",
    "format_key",
    "instance_address",
    "parse_address",
    "parse_module_path",
]

InstanceKey: TypeAlias = int | str


class NoKeyType(enum.Enum):
    """Type of :data:`NO_KEY`; an enum so the singleton survives pickling and copying."""

    NO_KEY = "NO_KEY"

    def __repr__(self) -> str:
        return "NO_KEY"

    def __bool__(self) -> bool:
        return False


NO_KEY: Literal[NoKeyType.NO_KEY] = NoKeyType.NO_KEY
"""No instance key given: a whole resource, or the single instance of one without count/for_each."""

# Go's int is 64-bit on every platform Terraform ships for; larger keys do not parse there.
_MAX_INT_KEY = 2**63 - 1

# Words Terraform refuses as the first step of a resource address (parse_target.go);
# such a resource type must be written with the "resource." prefix.
_RESERVED_ROOTS = frozenset(
    {"count", "each", "local", "path", "self", "terraform", "var", "template", "lazy", "arg"}
)
_UNSTORED_MODES = frozenset({"ephemeral", "list"})


def _check_key(key: object, *, allow_none: bool) -> None:
    if key is None and allow_none:
        return
    if type(key) is int:
        if key < 0:
            raise ValueError(f"instance key must be non-negative, got {key}")
        return
    if type(key) is not str:
        raise TypeError(f"instance key must be an int or a str, got {type(key).__name__}")


@dataclass(frozen=True, slots=True)
class ModuleStep:
    """One ``module.NAME[KEY]`` step of a module instance path; ``key`` None means no key."""

    name: str
    key: InstanceKey | None = None

    def __post_init__(self) -> None:
        _check_key(self.key, allow_none=True)

    def __str__(self) -> str:
        if self.key is None:
            return "module." + self.name
        return "module." + self.name + format_key(self.key)


@dataclass(frozen=True, slots=True)
class Address:
    """A module instance, a whole resource, or one resource instance.

    ``mode`` None makes a module address (``type``, ``name`` None and ``key``
    NO_KEY); ``Address()`` is the root module, which contains everything. Values
    are validated for shape (mode, key types), not for identifier syntax: build
    addresses from text with :func:`parse_address`.
    """

    module: tuple[ModuleStep, ...] = ()
    mode: Literal["managed", "data"] | None = None
    type: str | None = None
    name: str | None = None
    key: InstanceKey | NoKeyType = NO_KEY

    def __post_init__(self) -> None:
        if self.mode is None:
            if self.type is not None or self.name is not None or self.key is not NO_KEY:
                raise ValueError("a module address (mode None) has no type, name or key")
        else:
            if self.mode not in ("managed", "data"):
                raise ValueError(f"mode must be 'managed' or 'data', got {self.mode!r}")
            if not self.type or not self.name:
                raise ValueError("a resource address needs a type and a name")
            if self.key is not NO_KEY:
                _check_key(self.key, allow_none=False)
        if type(self.module) is not tuple:
            raise TypeError("module must be a tuple of ModuleStep")

    @property
    def is_module(self) -> bool:
        """Names a module instance (or the root module): no resource part."""
        return self.mode is None

    @property
    def is_resource(self) -> bool:
        """A resource part without a key: the whole resource, or its single no-key instance."""
        return self.mode is not None and self.key is NO_KEY

    @property
    def is_instance(self) -> bool:
        """A resource part with an explicit instance key."""
        return self.mode is not None and self.key is not NO_KEY

    @property
    def module_str(self) -> str:
        """The module path as Terraform writes it in a v4 state's ``module`` field ("" for root)."""
        return ".".join([str(step) for step in self.module])

    @property
    def resource_str(self) -> str:
        """``TYPE.NAME`` or ``data.TYPE.NAME``: no module path, no key."""
        if self.mode is None:
            raise ValueError(f"module address {str(self)!r} has no resource part")
        if self.mode == "data":
            return f"data.{self.type}.{self.name}"
        return f"{self.type}.{self.name}"

    def resource(self) -> Address:
        """The whole resource this address belongs to (the key dropped)."""
        if self.mode is None:
            raise ValueError(f"module address {str(self)!r} has no resource part")
        if self.key is NO_KEY:
            return self
        return replace(self, key=NO_KEY)

    def with_key(self, key: InstanceKey | NoKeyType) -> Address:
        """The same resource with ``key`` (NO_KEY drops it)."""
        if self.mode is None:
            raise ValueError(f"module address {str(self)!r} has no resource part to key")
        return replace(self, key=key)

    def contains(self, other: Address) -> bool:
        """Whether ``other`` falls under this address used as a ``-target`` (Terraform's TargetContains).

        A module address contains its descendants and their resources; only its
        last step matches any key when written without one (``module.a`` contains
        ``module.a[0].x.y``, ``module.a.module.b`` does not contain
        ``module.a[0].module.b``). A keyless resource contains all its instances in
        the same module instance; a keyed instance contains only itself.
        """
        if self.mode is None:
            ours, theirs = self.module, other.module
            if len(theirs) < len(ours):
                return False
            last = len(ours) - 1
            for i, step in enumerate(ours):
                their = theirs[i]
                if step.name != their.name:
                    return False
                if i == last and step.key is None:
                    return True
                if step.key != their.key:
                    return False
            return True
        if other.mode is None:
            return False
        if self.key is NO_KEY:
            return (
                self.name == other.name
                and self.type == other.type
                and self.mode == other.mode
                and self.module == other.module
            )
        return self == other

    def __str__(self) -> str:
        if self.mode is None:
            return self.module_str
        text = self.resource_str
        if self.key is not NO_KEY:
            text += format_key(self.key)
        if self.module:
            return self.module_str + "." + text
        return text


# --- printing -------------------------------------------------------------------------------------

_SIMPLE_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"', "\\": "\\\\"}


def _quote(value: str) -> str:
    """HCL quoted-string form of ``value``, as Terraform's ``toHCLQuotedString`` writes it."""
    # Fast path: nothing to escape (isprintable is false for \n, \r, \t and all of Go's non-printables).
    if value.isprintable() and '"' not in value and "\\" not in value and "{" not in value:
        return '"' + value + '"'
    out = ['"']
    last = len(value) - 1
    for i, ch in enumerate(value):
        esc = _SIMPLE_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch == "$" or ch == "%":
            # "${" and "%{" would start a template sequence: double the introducer.
            out.append(ch + ch if i < last and value[i + 1] == "{" else ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def format_key(key: InstanceKey) -> str:
    """``[0]`` or ``["a\\"b"]``: an instance key in brackets, escaped as Terraform writes it."""
    if type(key) is int:
        if key < 0:
            raise ValueError(f"instance key must be non-negative, got {key}")
        return f"[{key}]"
    if type(key) is str:
        return "[" + _quote(key) + "]"
    raise TypeError(f"instance key must be an int or a str, got {type(key).__name__}")


def instance_address(module: str, mode: str, type_: str, name: str, index_key: InstanceKey | None) -> str:
    """The canonical address of one v4 state instance, built straight from its fields.

    This is the hot path of state indexing (called once per instance), so it does
    no parsing: ``module`` is trusted to be in the canonical form Terraform writes
    (as :attr:`Address.module_str` produces it) and ``type_``/``name`` to be valid
    identifiers. The result equals ``str(parse_address(result))``. ``index_key``
    None means no key. Raises ValueError for an unknown mode or a negative key,
    TypeError for a key that is neither int nor str.
    """
    if mode == "managed":
        text = type_ + "." + name
    elif mode == "data":
        text = "data." + type_ + "." + name
    else:
        raise ValueError(f"unknown resource mode {mode!r} (expected 'managed' or 'data')")
    if module:
        text = module + "." + text
    if index_key is None:
        return text
    key_type = type(index_key)
    if key_type is str:
        return text + "[" + _quote(index_key) + "]"
    if key_type is int:
        if index_key < 0:
            raise ValueError(f"instance key must be non-negative, got {index_key}")
        return f"{text}[{index_key}]"
    raise TypeError(f"instance key must be an int or a str, got {key_type.__name__}")


# --- parsing --------------------------------------------------------------------------------------

_ASCII_IDENT_START = frozenset(string.ascii_letters + "_")
_ASCII_IDENT_CONTINUE = frozenset(string.ascii_letters + string.digits + "_-")
_DIGITS = frozenset(string.digits)
_HEX = frozenset(string.hexdigits)
_KEY_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
# A run of string-key characters that need no interpretation.
_PLAIN_RUN = re.compile(r'[^"\\$%\r\n]+')
_ANY_KEY_MSG = "instance key must be a non-negative integer or a string"
_SPACE_MSG = "whitespace is not allowed inside an address"


def _is_ident_start(ch: str) -> bool:
    # HCL: (ID_Start | '_'); Python's isidentifier() is XID_Start | '_' for one character.
    return ch in _ASCII_IDENT_START or (ch > "\x7f" and ch.isidentifier())


def _is_ident_continue(ch: str) -> bool:
    # HCL: (ID_Continue | '-').
    return ch in _ASCII_IDENT_CONTINUE or (ch > "\x7f" and ("_" + ch).isidentifier())


class _Parser:
    """Scanner over ``text[pos:end]`` that reports errors against the original input."""

    __slots__ = ("end", "pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        stripped = text.lstrip()
        self.pos = len(text) - len(stripped)
        self.end = self.pos + len(stripped.rstrip())

    def fail(self, message: str, position: int) -> AddressError:
        return AddressError(message, address=self.text, position=position)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < self.end else ""

    def unexpected(self, expected: str) -> AddressError:
        """The error for whatever is at ``pos`` when ``expected`` should have been."""
        ch = self.peek()
        if not ch:
            return self.fail(expected, self.pos)
        if ch.isspace():
            return self.fail(_SPACE_MSG, self.pos)
        return self.fail(f"unexpected character {ch!r}; {expected}", self.pos)

    def ident(self, what: str, after: str | None) -> str:
        """Read an identifier; ``what`` (and what it follows) describe it for the error message."""
        start = self.pos
        text, end = self.text, self.end
        if start < end and _is_ident_start(text[start]):
            pos = start + 1
            while pos < end and _is_ident_continue(text[pos]):
                pos += 1
            self.pos = pos
            return text[start:pos]
        if start < end and _is_ident_continue(text[start]):
            raise self.fail(f"{what} must start with a letter or underscore", start)
        raise self.unexpected(f"expected {what}" if after is None else f"expected {what} after {after!r}")

    def dot(self, expected: str) -> None:
        if self.peek() != ".":
            raise self.unexpected(expected)
        self.pos += 1

    def key(self) -> InstanceKey:
        """Read ``[KEY]`` with ``pos`` at the ``[``."""
        self.pos += 1
        ch = self.peek()
        if ch == '"':
            key: InstanceKey = self.string_key()
        elif ch in _DIGITS:
            key = self.number_key()
        elif ch == "*":
            raise self.fail("splat [*] is not allowed; name a single instance", self.pos)
        elif not ch:
            raise self.fail("expected an instance key after '['", self.pos)
        elif ch.isspace():
            raise self.fail(_SPACE_MSG, self.pos)
        else:
            raise self.fail(_ANY_KEY_MSG, self.pos)
        if self.peek() != "]":
            raise self.unexpected("expected ']' to close the instance key")
        self.pos += 1
        return key

    def number_key(self) -> int:
        # HCL's number literal: digits, optional fraction, optional exponent.
        text, end, start = self.text, self.end, self.pos
        pos = start
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        plain = pos
        if pos + 1 < end and text[pos] == "." and text[pos + 1] in _DIGITS:
            pos += 2
            while pos < end and text[pos] in _DIGITS:
                pos += 1
        if pos < end and text[pos] in "eE":
            exp = pos + 1
            if exp < end and text[exp] in "+-":
                exp += 1
            if exp < end and text[exp] in _DIGITS:
                pos = exp + 1
                while pos < end and text[pos] in _DIGITS:
                    pos += 1
        self.pos = pos
        literal = text[start:pos]
        if pos == plain:
            digits = literal.lstrip("0") or "0"
            if len(digits) <= 19 and int(digits) <= _MAX_INT_KEY:
                return int(digits)
            raise self.fail(f"instance key {literal} is too large", start)
        # Terraform accepts any number literal with a whole value (1.0, 1e2) and prints it as an integer.
        try:
            value = Decimal(literal)
            too_large = value > _MAX_INT_KEY
            whole = not too_large and value == value.to_integral_value()
        except InvalidOperation:
            too_large, whole = True, False
        if too_large:
            raise self.fail(f"instance key {literal} is too large", start)
        if not whole:
            raise self.fail(_ANY_KEY_MSG, start)
        return int(value)

    def string_key(self) -> str:
        """Read an HCL quoted string literal (no template sequences) with ``pos`` at the opening quote."""
        text, end, quote = self.text, self.end, self.pos
        pos = quote + 1
        out: list[str] = []
        while True:
            if pos >= end:
                raise self.fail("unterminated string key", quote)
            ch = text[pos]
            if ch == '"':
                self.pos = pos + 1
                return "".join(out)
            if ch == "\\":
                if pos + 1 >= end:
                    raise self.fail("unterminated string key", quote)
                sel = text[pos + 1]
                simple = _KEY_ESCAPES.get(sel)
                if simple is not None:
                    out.append(simple)
                    pos += 2
                    continue
                if sel == "u" or sel == "U":
                    width, count = (4, "four") if sel == "u" else (8, "eight")
                    digits = text[pos + 2 : pos + 2 + width]
                    if pos + 2 + width > end or not all(d in _HEX for d in digits):
                        raise self.fail(f"escape \\{sel} must be followed by {count} hexadecimal digits", pos)
                    code = int(digits, 16)
                    if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                        raise self.fail(f"escape \\{sel}{digits} is not a valid character", pos)
                    out.append(chr(code))
                    pos += 2 + width
                    continue
                raise self.fail(f"invalid escape sequence '\\{sel}'", pos)
            if ch == "$" or ch == "%":
                nxt = text[pos + 1] if pos + 1 < end else ""
                if nxt == "{":
                    raise self.fail(
                        f"template sequence '{ch}{{' is not allowed in a string key; "
                        f"write '{ch}{ch}{{' for a literal '{ch}{{'",
                        pos,
                    )
                if nxt == ch and pos + 2 < end and text[pos + 2] == "{":
                    out.append(ch + "{")
                    pos += 3
                else:
                    out.append(ch)
                    pos += 1
                continue
            if ch == "\r" or ch == "\n":
                raise self.fail("string key cannot contain a line break; write \\n", pos)
            run = _PLAIN_RUN.match(text, pos, end)
            assert run is not None
            out.append(run.group())
            pos = run.end()

    def modules(self) -> tuple[tuple[ModuleStep, ...], int, str | None]:
        """Read leading ``module.NAME[KEY]`` steps.

        Returns the steps and, when something follows them, the position and text
        of the identifier that starts the rest (None at the end of input).
        """
        if self.pos >= self.end:
            raise self.fail("empty address", self.pos)
        steps: list[ModuleStep] = []
        start = self.pos
        word = self.ident("an address", None)
        while word == "module":
            self.dot("expected '.' and a module name after 'module'")
            name = self.ident("a module name", "module.")
            key: InstanceKey | None = self.key() if self.peek() == "[" else None
            step = ModuleStep(name, key)
            steps.append(step)
            nxt = self.peek()
            if not nxt:
                return tuple(steps), self.pos, None
            if nxt == "[":
                raise self.fail("a module step takes only one instance key", self.pos)
            self.dot(f"expected '.' after {str(step)!r}")
            start = self.pos
            word = self.ident("a resource type or 'module'", str(step) + ".")
        return tuple(steps), start, word

    def resource(self, steps: tuple[ModuleStep, ...], start: int, word: str) -> Address:
        """Read the resource part; ``word`` (at ``start``) has already been consumed."""
        mode: Literal["managed", "data"] = "managed"
        if word == "data" or word == "resource":
            if word == "data":
                mode = "data"
            self.dot(f"expected '.' and a resource type after {word!r}")
            type_ = self.ident("a resource type", word + ".")
        elif word in _UNSTORED_MODES:
            raise self.fail(f"{word} resources are never stored in state", start)
        elif word in _RESERVED_ROOTS:
            raise self.fail(
                f"{word!r} is a reserved word, not a resource type "
                f"(write 'resource.{word}.NAME' for a resource type of that name)",
                start,
            )
        else:
            type_ = word
        self.dot(f"expected '.' and a resource name after {type_!r}")
        name = self.ident("a resource name", type_ + ".")
        key: InstanceKey | NoKeyType = NO_KEY
        if self.peek() == "[":
            key = self.key()
        ch = self.peek()
        if ch:
            if ch == "." and key is NO_KEY:
                raise self.fail(
                    "unexpected '.' after the resource name; an instance key goes in brackets", self.pos
                )
            if ch == "." or ch == "[":
                raise self.fail(f"unexpected {ch!r} after the instance key", self.pos)
            raise self.unexpected("expected the end of the address")
        return Address(steps, mode, type_, name, key)


def parse_address(text: str) -> Address:
    """Parse a module, resource or resource instance address in Terraform's syntax.

    Leading and trailing whitespace is ignored; whitespace inside is an error.
    Raises AddressError whose ``position`` is the offending character's 0-based
    index in ``text`` (just past the last non-blank character when the address
    ends too early).
    """
    parser = _Parser(text)
    steps, start, word = parser.modules()
    if word is None:
        return Address(steps)
    return parser.resource(steps, start, word)


def parse_module_path(text: str) -> tuple[ModuleStep, ...]:
    """Parse a v4 state's ``module`` field (``module.a["k"].module.b[0]``); "" is the root module."""
    parser = _Parser(text)
    if parser.pos >= parser.end:
        return ()
    steps, start, word = parser.modules()
    if word is not None:
        raise parser.fail("a module path may contain only 'module.NAME' steps", start)
    return steps
