"""``.driftignore`` rules, in driftctl's syntax and with driftctl's meaning.

A ``.driftignore`` written for driftctl must mean the same thing here, so this module follows driftctl's
``pkg/filter/driftignore.go`` (the gitignore-style matcher of driftctl 0.11 and later, which is also the
last version that ignored single fields) and the test cases that pin it down.

Syntax, one rule per line::

    [!]TYPE.ID[.ATTRIBUTE[.ATTRIBUTE...]]

- Blank lines are skipped; a line whose first non-blank character is ``#`` is a comment. A ``#`` anywhere
  else is an ordinary character (driftctl has no inline comments).
- Surrounding whitespace is trimmed; ``\\`` followed by a space keeps a trailing space.
- An unescaped ``.`` separates the parts: the first is the resource type, the second the resource id, any
  further ones the attribute path of a field (``aws_security_group.sg-123.tags.Name``).
- ``\\`` makes the next character literal: ``\\.`` is a dot inside an id, ``\\\\`` a backslash, ``\\*`` a
  star. A backslash before an ordinary character just stands for that character.
- ``*`` matches any run of characters (runs of stars count as one), dots, slashes and colons included, so
  ``aws_iam_policy_attachment.*`` covers ARN-shaped ids and ``aws_s3_bucket.*`` covers ``my.bucket``;
  ``?`` matches one character; ``[abc]``, ``[a-z]``, ``[!a-z]``/``[^a-z]`` are character classes, as in
  gitignore (``]`` first in a class is literal, so is ``-`` first or last).
- Matching is case-sensitive, as in driftctl 0.11 and later (earlier versions compared attribute names
  case-insensitively).

Meaning:

- A two-part rule ignores the matching resources, and with them every one of their fields (driftctl adds
  an implicit ``RULE.*`` to each rule that does not end in ``*``).
- A rule with more than two parts ignores a field of a resource that is otherwise compared: its attribute
  path matches the changed field's dot-separated path or a prefix of it, so ``...tags`` also covers
  ``tags.Name``. A ``*`` there matches across dots too, as in driftctl (``x.y.*.baz`` covers ``a.b.baz``).
- ``!`` negates a rule. Rules are read top to bottom and the last one that matches decides, so a later
  ``!aws_s3_bucket.*`` un-ignores buckets that an earlier ``*.*`` ignored, and a later ``!TYPE.ID`` un-ignores
  that resource's fields as well.

Deliberate differences from driftctl, and why:

- A line that is not a valid rule is an error naming the file and line. driftctl skips it (at most with a
  log line), so a typo quietly stops ignoring (or starts ignoring) something. That covers: a lone type with no
  id (``aws_s3_bucket``, ``*``), an empty part (``.id``, ``type.``, ``a.b..c``), a trailing lone ``\\``, an
  unclosed ``[`` class, POSIX classes such as ``[:alpha:]`` and unescaped whitespace before a ``#`` (an
  attempted inline comment, driftctl issue 1688, which there made the rule match nothing).
- In particular a lone type is rejected rather than read as "every resource of that type": driftctl before
  0.11 skipped such a line as invalid while 0.11 and later ignored the whole type, so the same file meant
  opposite things across versions. Write ``aws_s3_bucket.*`` or ``*.*`` (the hint says so).
- A glob never crosses the boundary between type, id and attribute path. driftctl ran one glob over the
  joined ``TYPE.ID[.PATH]`` string, so there ``*.foo`` also ignored a resource with id ``a.foo`` (the ``*``
  swallowing ``TYPE.a``), and ``t.a.b`` ignored both field ``b`` of ``t.a`` and the resource with id
  ``a.b``. Here an unescaped dot is always a separator, as driftctl before 0.11 read it, and ``\\.`` is how an
  id contains a dot. Terraform type names never contain dots, so only rules that relied on a wildcard type
  eating part of a dotted id, or on unescaped dots in ids, match differently.
- ``/`` is an ordinary character. driftctl replaced it with ``_-_`` on both sides before matching (so
  that ``*`` would cross it), which also made ``a/b`` match the id ``a_-_b``.
- Leading whitespace is trimmed (also after ``!``), and a ``#`` after leading whitespace starts a comment;
  driftctl kept leading whitespace as part of the rule, which then matched nothing. A UTF-8 byte order mark
  at the start of the file is dropped instead of becoming part of the first rule.

driftctl's ``IsTypeIgnored`` (skip enumerating a whole type, with its parent/child type table) has no
counterpart here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from driftmgr_tui.core.errors import ConfigError

__all__ = [
    "IgnoreMatcher",
    "IgnoreRule",
    "escape_id",
    "format_rule",
    "load_driftignore",
    "parse_driftignore",
    "render_driftignore",
    "rule_from_text",
]

_ESCAPED = frozenset("\\.*?[")
_POSIX_CLASS = re.compile(r"\[:([A-Za-z]*):\]")
_PART_NAMES = ("type", "id")
_MATCH_ALL = ".*"


class _RuleSyntaxError(Exception):
    """A rule's text does not parse; the caller adds where the rule came from."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class _Part:
    """One dot-separated part of a rule: its text as written, its regex, and its value when it has no glob."""

    raw: str
    regex: str
    literal: str | None


def _parse_class(pattern: str, start: int, text: str) -> tuple[str, int]:
    """Translate the gitignore character class opening at ``start``; return its regex and the index after it.

    Follows git's wildmatch: ``!`` or ``^`` first negates, a ``]`` right after the opening (and negation) is a
    member, ``-`` forms a range only between two members, ``\\`` escapes. A reversed range matches nothing.
    """
    end = len(pattern)
    i = start + 1
    negate = i < end and pattern[i] in "!^"
    if negate:
        i += 1
    members: list[str] = []
    first = True
    while True:
        if i >= end:
            raise _RuleSyntaxError(f"rule {text!r} has an unclosed '[' character class",
                                   hint="write \\[ for a literal '['")
        char = pattern[i]
        if char == "]" and not first:
            i += 1
            break
        if char == "[":
            posix = _POSIX_CLASS.match(pattern, i)
            if posix:
                raise _RuleSyntaxError(
                    f"rule {text!r} uses the POSIX class {posix.group(0)}, which .driftignore does not support",
                    hint="list the characters instead, e.g. [a-zA-Z]")
        low, i = _class_char(pattern, i, text)
        if i + 1 < end and pattern[i] == "-" and pattern[i + 1] != "]":
            high, i = _class_char(pattern, i + 1, text)
            if low <= high:
                members.append(f"{re.escape(low)}-{re.escape(high)}")
        else:
            members.append(re.escape(low))
        first = False
    if not members:
        return ("." if negate else "(?!)"), i
    return f"[{'^' if negate else ''}{''.join(members)}]", i


def _class_char(pattern: str, i: int, text: str) -> tuple[str, int]:
    if pattern[i] == "\\":
        if i + 1 >= len(pattern):
            raise _RuleSyntaxError(f"rule {text!r} ends with a lone backslash",
                                   hint="write \\\\ for a backslash")
        return pattern[i + 1], i + 2
    return pattern[i], i + 1


def _split_parts(pattern: str, text: str) -> list[_Part]:
    """Split a rule on unescaped dots and translate each part's glob into a regex.

    ``text`` is the rule as the user wrote it (with any ``!``), for error messages.
    """
    parts: list[_Part] = []
    regex: list[str] = []
    literal: list[str] = []
    wild = False
    part_start = 0
    after_space = False
    i = 0
    end = len(pattern)

    def close(stop: int) -> None:
        nonlocal regex, literal, wild
        raw = pattern[part_start:stop]
        if not raw:
            name = _PART_NAMES[len(parts)] if len(parts) < len(_PART_NAMES) else "attribute name"
            raise _RuleSyntaxError(f"rule {text!r} has an empty {name}",
                                   hint="remove the stray dot, or write \\. for a dot inside an id")
        parts.append(_Part(raw, "".join(regex), None if wild else "".join(literal)))
        regex, literal, wild = [], [], False

    while i < end:
        char = pattern[i]
        if char == "\\":
            if i + 1 >= end:
                raise _RuleSyntaxError(f"rule {text!r} ends with a lone backslash",
                                       hint="write \\\\ for a backslash")
            escaped = pattern[i + 1]
            regex.append(re.escape(escaped))
            literal.append(escaped)
            after_space = False
            i += 2
            continue
        if char == ".":
            close(i)
            part_start = i + 1
        elif char == "*":
            if not (regex and regex[-1] == _MATCH_ALL):
                regex.append(_MATCH_ALL)
            wild = True
        elif char == "?":
            regex.append(".")
            wild = True
        elif char == "[":
            fragment, i = _parse_class(pattern, i, text)
            regex.append(fragment)
            wild = True
            after_space = False
            continue
        elif char == "#" and after_space:
            raise _RuleSyntaxError(
                f"rule {text!r} has a '#' after whitespace; comments must be on a line of their own",
                hint="move the comment to its own line, or write \\# if the id contains '#'")
        else:
            regex.append(re.escape(char))
            literal.append(char)
        after_space = char.isspace()
        i += 1
    close(end)
    return parts


def _trim(text: str) -> str:
    """Strip surrounding whitespace, keeping a trailing whitespace character that a backslash escapes."""
    text = text.lstrip()
    stop = len(text.rstrip())
    if stop < len(text):
        head = text[:stop]
        if (len(head) - len(head.rstrip("\\"))) % 2:
            stop += 1
    return text[:stop]


def _compile(regex: str) -> re.Pattern[str] | None:
    """A compiled full-match regex, or None for a glob that matches everything."""
    return None if regex == _MATCH_ALL else re.compile(regex, re.DOTALL)


@dataclass(frozen=True)
class IgnoreRule:
    """One ``.driftignore`` rule, parsed and validated when constructed.

    ``pattern`` is the rule without its ``!``, trimmed, exactly as it would be written in a file.
    ``source`` names where it came from (a file path, ``"database"``, ``"cli"``) and ``line`` its 1-based
    line in a file, so errors and :meth:`IgnoreMatcher.explain` can point at it. Constructing one from text
    that is not a valid rule raises :class:`ConfigError` with that location.

    ``type_glob``, ``id_glob`` and ``path_globs`` are the parts as written (escapes kept);
    ``type_literal``/``id_literal`` hold the unescaped value of a part without wildcards, else None.
    """

    pattern: str
    negate: bool
    source: str
    line: int | None = None
    type_glob: str = field(init=False, repr=False, compare=False)
    id_glob: str = field(init=False, repr=False, compare=False)
    path_globs: tuple[str, ...] = field(init=False, repr=False, compare=False)
    type_literal: str | None = field(init=False, repr=False, compare=False)
    id_literal: str | None = field(init=False, repr=False, compare=False)
    _type_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _id_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _path_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            parts = self._parse()
        except _RuleSyntaxError as problem:
            raise ConfigError(f"{self.location}: {problem.message}", hint=problem.hint) from None
        type_part, id_part, *path_parts = parts
        values = {
            "type_glob": type_part.raw,
            "id_glob": id_part.raw,
            "path_globs": tuple(part.raw for part in path_parts),
            "type_literal": type_part.literal,
            "id_literal": id_part.literal,
            "_type_re": None if type_part.literal is not None else _compile(type_part.regex),
            "_id_re": None if id_part.literal is not None else _compile(id_part.regex),
            "_path_re": (re.compile(r"\.".join(part.regex for part in path_parts) + r"(?:\..*)?", re.DOTALL)
                         if path_parts else None),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _parse(self) -> list[_Part]:
        text = self.text
        if not self.pattern:
            raise _RuleSyntaxError("empty rule" if not self.negate else "'!' with no rule after it")
        if "\n" in self.pattern or "\r" in self.pattern:
            raise _RuleSyntaxError(f"rule {text!r} spans more than one line")
        if _trim(self.pattern) != self.pattern:
            raise _RuleSyntaxError(f"rule {text!r} has whitespace around it",
                                   hint="write '\\ ' for a space that belongs to the id")
        if self.pattern[0] in "!#":
            raise _RuleSyntaxError(f"rule {text!r}: a type cannot start with {self.pattern[0]!r}",
                                   hint=f"write \\{self.pattern[0]} if it really does")
        parts = _split_parts(self.pattern, text)
        if len(parts) < 2:
            raise _RuleSyntaxError(
                f"rule {text!r} has a type but no id; a rule is TYPE.ID or TYPE.ID.ATTRIBUTE.PATH",
                hint=f"write {text + '.*'!r} to match every resource of that type")
        return parts

    @property
    def text(self) -> str:
        """The rule as a ``.driftignore`` line, ``!`` included."""
        return f"!{self.pattern}" if self.negate else self.pattern

    @property
    def location(self) -> str:
        """``source:line`` for a rule read from a file, else just ``source``."""
        return f"{self.source}:{self.line}" if self.line is not None else self.source

    @property
    def is_field_rule(self) -> bool:
        """True for a rule with an attribute path: it ignores fields, never a whole resource."""
        return bool(self.path_globs)

    def matches_type(self, terraform_type: str) -> bool:
        """Whether the type part matches ``terraform_type``."""
        if self.type_literal is not None:
            return terraform_type == self.type_literal
        return self._type_re is None or self._type_re.fullmatch(terraform_type) is not None

    def matches_id(self, terraform_id: str) -> bool:
        """Whether the id part matches ``terraform_id`` (a ``*`` there spans dots, slashes and colons)."""
        if self.id_literal is not None:
            return terraform_id == self.id_literal
        return self._id_re is None or self._id_re.fullmatch(terraform_id) is not None

    def matches(self, terraform_type: str, terraform_id: str, path: str | None = None) -> bool:
        """Whether the pattern applies, ignoring ``negate``.

        Without ``path`` only a two-part rule applies (to the resource); with one, a two-part rule applies to
        every field and a field rule to the fields its attribute path covers.
        """
        if not (self.matches_type(terraform_type) and self.matches_id(terraform_id)):
            return False
        if path is None:
            return self._path_re is None
        return self._path_re is None or self._path_re.fullmatch(path) is not None

    def __str__(self) -> str:
        return self.text


def _rule_from_line(raw: str, *, source: str, line: int | None) -> IgnoreRule | None:
    text = _trim(raw)
    if not text or text.startswith("#"):
        return None
    negate = text.startswith("!")
    pattern = text[1:].lstrip() if negate else text
    return IgnoreRule(pattern=pattern, negate=negate, source=source, line=line)


def parse_driftignore(text: str, *, source: str = ".driftignore") -> list[IgnoreRule]:
    """Parse the text of a ``.driftignore`` into its rules, in file order (which decides negations).

    Lines end at ``\\n`` (a ``\\r`` before it is dropped). Raises :class:`ConfigError` ``SOURCE:LINE: ...``
    for the first line that is not a comment, blank, or valid rule.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    rules = []
    for number, raw in enumerate(text.split("\n"), start=1):
        rule = _rule_from_line(raw.removesuffix("\r"), source=source, line=number)
        if rule is not None:
            rules.append(rule)
    return rules


def load_driftignore(path: Path) -> list[IgnoreRule]:
    """Read the rules of a ``.driftignore`` file; a file that does not exist has none.

    Raises :class:`ConfigError` naming the file when it cannot be read, with the line when it is not UTF-8,
    and ``PATH:LINE: ...`` for a line that is not a valid rule.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ignore file: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(f"{path}:{line}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at column {column})",
                          hint="save the file as UTF-8") from None
    return parse_driftignore(text, source=str(path))


def rule_from_text(text: str, *, source: str = "cli") -> IgnoreRule:
    """Parse one rule (``[!]TYPE.ID[.PATH]``) given outside a file: on the command line or from the database.

    Same syntax and validation as a file line; a blank or comment text is an error here, since a caller
    asked for a rule.
    """
    if "\n" in text or "\r" in text:
        raise ConfigError(f"{source}: an ignore rule is a single line, got {text!r}")
    rule = _rule_from_line(text, source=source, line=None)
    if rule is None:
        what = "a comment" if _trim(text) else "empty"
        raise ConfigError(f"{source}: ignore rule {text!r} is {what}, not a rule",
                          hint="a rule is TYPE.ID or TYPE.ID.ATTRIBUTE.PATH, e.g. aws_s3_bucket.my-bucket")
    return rule


def _escape_part(value: str, *, first: bool) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError(f"{value!r} contains a line break, which a .driftignore line cannot hold")
    escaped = "".join(f"\\{char}" if char in _ESCAPED or char.isspace() else char for char in value)
    if first and escaped[:1] in ("!", "#"):
        escaped = "\\" + escaped
    return escaped


def escape_id(terraform_id: str) -> str:
    """Escape an id so a rule matches exactly it: ``\\``, ``.``, ``*``, ``?``, ``[`` and whitespace.

    Slashes, colons and everything else stay as they are (ARNs and Azure ids read naturally). Raises
    ValueError for an id with a line break, which no ``.driftignore`` line can express.
    """
    return _escape_part(terraform_id, first=False)


def format_rule(terraform_type: str, terraform_id: str, path: str | None = None) -> str:
    """One ``.driftignore`` line ignoring exactly this resource, or with ``path`` this field of it.

    ``path`` is dot-separated (``tags.Name``); its dots stay separators and each name is escaped. The line
    parses back (:func:`parse_driftignore`) to a rule with these literal values. Raises ValueError for an
    empty type, id or attribute name, which the syntax cannot express.
    """
    if not terraform_type or not terraform_id:
        raise ValueError("a rule needs a non-empty type and id")
    parts = [_escape_part(terraform_type, first=True), escape_id(terraform_id)]
    if path:
        names = path.split(".")
        if not all(names):
            raise ValueError(f"attribute path {path!r} has an empty name")
        parts.extend(_escape_part(name, first=False) for name in names)
    return ".".join(parts)


def render_driftignore(entries: Iterable[tuple[str, str, str | None]], *, header: str | None = None) -> str:
    """The text of a ``.driftignore`` ignoring each ``(type, id, field path or None)``.

    Rules are sorted by type, id, then path (a resource before its fields) and duplicates dropped. ``header``
    becomes ``#`` comment lines at the top, followed by a blank line. Empty input without a header is ``""``.
    """
    keyed: dict[str, tuple[str, str, str]] = {}
    for terraform_type, terraform_id, path in entries:
        keyed.setdefault(format_rule(terraform_type, terraform_id, path), (terraform_type, terraform_id, path or ""))
    lines = []
    if header is not None:
        lines = [f"# {text}".rstrip() for text in header.splitlines() or [""]]
        if keyed:
            lines.append("")
    lines.extend(sorted(keyed, key=lambda rule: (keyed[rule], rule)))
    return "\n".join(lines) + "\n" if lines else ""


_IdMatch = Callable[[str], object] | None


class _TypeRules:
    """The rules that can apply to one resource type, arranged for last-match-wins lookups.

    Indices are positions in the matcher's rule list; every sequence is in descending index order so the
    first hit is the deciding (last) rule.
    """

    __slots__ = ("exact", "fields", "positive_fields", "wild")

    def __init__(self, rules: tuple[IgnoreRule, ...], indices: list[int]) -> None:
        self.exact: dict[str, int] = {}
        wild: list[tuple[int, _IdMatch]] = []
        fields: list[tuple[int, _IdMatch, _IdMatch]] = []
        positive_fields: list[tuple[int, _IdMatch]] = []
        for index in indices:
            rule = rules[index]
            id_match = _id_matcher(rule)
            path_match = rule._path_re.fullmatch if rule._path_re is not None else None
            fields.append((index, id_match, path_match))
            if rule.is_field_rule:
                if not rule.negate:
                    positive_fields.append((index, id_match))
            elif rule.id_literal is not None:
                self.exact[rule.id_literal] = index
            else:
                wild.append((index, id_match))
        self.wild = tuple(reversed(wild))
        self.fields = tuple(reversed(fields))
        self.positive_fields = tuple(reversed(positive_fields))


def _id_matcher(rule: IgnoreRule) -> _IdMatch:
    if rule.id_literal is not None:
        return rule.id_literal.__eq__
    return rule._id_re.fullmatch if rule._id_re is not None else None


_UNBUILT = _TypeRules((), [])


class IgnoreMatcher:
    """Answers "is this ignored?" for a list of rules, in driftctl's last-match-wins order.

    Built once per scan and asked for every resource, so rules are indexed by literal type, wildcard-type
    rules are sorted into a per-type table the first time a type is seen, and literal ids are a dict lookup:
    :meth:`ignores_resource` costs one dict lookup plus the wildcard-id rules for that type. With no rules
    every question returns at once.
    """

    __slots__ = ("_by_type", "_rules", "_types", "_wild_types")

    def __init__(self, rules: Iterable[IgnoreRule]) -> None:
        self._rules = tuple(rules)
        by_type: dict[str, list[int]] = {}
        wild_types: list[int] = []
        for index, rule in enumerate(self._rules):
            if rule.type_literal is not None:
                by_type.setdefault(rule.type_literal, []).append(index)
            else:
                wild_types.append(index)
        self._by_type = by_type
        self._wild_types = tuple(wild_types)
        self._types: dict[str, _TypeRules | None] = {}

    @property
    def rules(self) -> tuple[IgnoreRule, ...]:
        return self._rules

    def __len__(self) -> int:
        return len(self._rules)

    def __repr__(self) -> str:
        return f"IgnoreMatcher({len(self._rules)} rules)"

    def _for_type(self, terraform_type: str) -> _TypeRules | None:
        table = self._types.get(terraform_type, _UNBUILT)
        if table is _UNBUILT:
            indices = self._by_type.get(terraform_type, []) + [
                index for index in self._wild_types if self._rules[index].matches_type(terraform_type)
            ]
            table = _TypeRules(self._rules, sorted(indices)) if indices else None
            self._types[terraform_type] = table
        return table

    @staticmethod
    def _resource_index(table: _TypeRules, terraform_id: str) -> int:
        best = table.exact.get(terraform_id, -1)
        for index, id_match in table.wild:
            if index < best:
                break
            if id_match is None or id_match(terraform_id):
                return index
        return best

    @staticmethod
    def _field_index(table: _TypeRules, terraform_id: str, path: str) -> int:
        for index, id_match, path_match in table.fields:
            if (id_match is None or id_match(terraform_id)) and (path_match is None or path_match(path)):
                return index
        return -1

    def ignores_resource(self, terraform_type: str, terraform_id: str) -> bool:
        """Whether the resource is ignored as a whole (by the last matching two-part rule)."""
        if not self._rules:
            return False
        table = self._for_type(terraform_type)
        if table is None:
            return False
        index = self._resource_index(table, terraform_id)
        return index >= 0 and not self._rules[index].negate

    def ignores_field(self, terraform_type: str, terraform_id: str, path: str) -> bool:
        """Whether a change at ``path`` (dot-separated, e.g. ``tags.Name``) of this resource is ignored.

        A rule for a path covers everything below it, and a two-part rule covers every field.
        """
        if not self._rules:
            return False
        table = self._for_type(terraform_type)
        if table is None:
            return False
        index = self._field_index(table, terraform_id, path)
        return index >= 0 and not self._rules[index].negate

    def has_field_rules(self, terraform_type: str, terraform_id: str) -> bool:
        """False when :meth:`ignores_field` is False for every path of this resource, so callers can skip it.

        True when some field rule could ignore a field of it (a rule whose attribute path matches nothing
        real still counts), and also when the resource itself is ignored, since then every field is.
        """
        if not self._rules:
            return False
        table = self._for_type(terraform_type)
        if table is None:
            return False
        decided = self._resource_index(table, terraform_id)
        if decided >= 0 and not self._rules[decided].negate:
            return True
        for index, id_match in table.positive_fields:
            if index < decided:
                break
            if id_match is None or id_match(terraform_id):
                return True
        return False

    def explain(self, terraform_type: str, terraform_id: str, path: str | None = None) -> IgnoreRule | None:
        """The rule that decides for this resource (or, with ``path``, this field of it): the last one that
        matches, negated or not. None when no rule matches, i.e. it is not ignored by default."""
        if not self._rules:
            return None
        table = self._for_type(terraform_type)
        if table is None:
            return None
        if path is None:
            index = self._resource_index(table, terraform_id)
        else:
            index = self._field_index(table, terraform_id, path)
        return self._rules[index] if index >= 0 else None
