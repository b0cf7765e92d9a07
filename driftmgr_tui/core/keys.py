"""Key bindings the user can change: the ``[keys]`` section of the config file.

An entry names an action as ``SECTION.ACTION`` and gives it a key: ``"drift.rescan" = "R"``,
``"app.help" = "f1"``. Several keys are comma-separated (``"question_mark,f1"``). The actions are the
bindings of each section's screen (``app`` is the shell: sections, jump, help, environments, quit); the app
gives every section binding the id ``SECTION.ACTION`` and hands the ``[keys]`` map to Textual's keymap.

This module stays free of Textual: the CLI validates ``[keys]`` too. The catalog of actions is read from
the source of the screens and of the app (their ``SECTION`` and ``BINDINGS``) without importing them, so a
section added later is known as soon as its screen exists.
"""

from __future__ import annotations

import ast
import difflib
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent.parent
SCREENS_DIR = PACKAGE_DIR / "screens"
APP_FILE = PACKAGE_DIR / "app.py"
MODIFIERS = ("ctrl", "alt", "shift", "meta", "super", "hyper")
NAMED_KEYS = frozenset({
    "escape", "enter", "tab", "space", "backspace", "delete", "insert", "home", "end", "pageup", "pagedown",
    "up", "down", "left", "right", *(f"f{n}" for n in range(1, 25)),
})
# Keys the terminal UI needs for itself: focus moves, copy, the command palette, Textual's own quit.
RESERVED = frozenset({"tab", "shift+tab", "ctrl+c", "ctrl+p", "ctrl+q"})
# Textual's names for punctuation (the Unicode name, lower case, with a few shortened: "solidus" is "slash")
_REPLACEMENTS = {"solidus": "slash", "reverse_solidus": "backslash", "commercial_at": "at",
                 "hyphen_minus": "minus", "plus_sign": "plus", "low_line": "underscore"}


def _character_key(character: str) -> str:
    if character.isalnum():
        return character
    name = unicodedata.name(character, character).lower().replace("-", "_").replace(" ", "_")
    return _REPLACEMENTS.get(name, name)


_PUNCTUATION_NAMES = frozenset(_character_key(c) for c in string.punctuation)


@dataclass(frozen=True)
class Action:
    """A rebindable action: ``id`` is ``SECTION.ACTION``; ``keys`` its default keys (Textual's names)."""

    id: str
    section: str
    action: str
    keys: tuple[str, ...]
    description: str = ""


def normalize_key(text: str) -> str:
    """One key in Textual's spelling (``?`` -> ``question_mark``, ``Ctrl+S`` -> ``ctrl+s``); ValueError saying
    what is wrong otherwise."""
    raw = text.strip()
    if not raw:
        raise ValueError("an empty key")
    if raw.endswith("+") and (raw == "+" or raw.endswith("++")):  # the plus key itself: "+", "ctrl++"
        *mods, base = [*raw[:-2].split("+"), "+"] if raw != "+" else ["+"]
        mods = [m for m in mods if m]
    else:
        *mods, base = raw.split("+")
    mods = [m.strip().lower() for m in mods]
    for mod in mods:
        if mod not in MODIFIERS:
            raise ValueError(f"{text!r}: unknown modifier {mod!r} (modifiers: {', '.join(MODIFIERS)})")
    if len(set(mods)) != len(mods):
        raise ValueError(f"{text!r}: a modifier is repeated")
    base = base.strip()
    if not base:
        raise ValueError(f"{text!r}: no key after the modifiers")
    if len(base) == 1:
        if not base.isprintable() or base.isspace():
            raise ValueError(f"{text!r}: not a printable character")
        name = _character_key(base)
        if mods and base.isalpha():
            name = base.lower()  # ctrl+S is ctrl+s: a modifier takes the letter's key, not its case
    elif base.lower() in NAMED_KEYS or base.lower() in _PUNCTUATION_NAMES:
        name = base.lower()
    else:
        raise ValueError(f"{text!r}: unknown key {base!r} (a character, a name such as escape, enter, space, "
                         "up, pageup, f1..f24, or a punctuation name such as question_mark or slash)")
    return "+".join([*mods, name])


def normalize_keys(text: str) -> tuple[str, ...]:
    """A comma-separated list of keys, each normalized; a comma itself is ``comma``."""
    if not isinstance(text, str):
        raise TypeError("a key string such as \"R\", \"ctrl+r\" or \"f5\"")
    keys = tuple(normalize_key(part) for part in text.split(","))
    if len(set(keys)) != len(keys):
        raise ValueError(f"{text!r}: a key is listed twice")
    for key in keys:
        if key in RESERVED:
            raise ValueError(f"{key} is reserved (tab and shift+tab move the focus, ctrl+c copies, "
                             "ctrl+p opens the command palette, ctrl+q quits)")
    return keys


# --- the catalog of actions --------------------------------------------------------------------------------


def _literal(node: ast.expr | None) -> Any:
    try:
        return ast.literal_eval(node) if node is not None else None
    except ValueError:
        return None


def _binding(node: ast.expr) -> tuple[str, str, str, str | None] | None:
    """(keys, action, description, id) of a ``Binding(...)`` call or a 2/3-tuple in BINDINGS."""
    if isinstance(node, ast.Tuple):
        values = [_literal(e) for e in node.elts]
        if len(values) in (2, 3) and all(isinstance(v, str) for v in values):
            return values[0], values[1], values[2] if len(values) == 3 else "", None
        return None
    name = getattr(node, "func", None)
    if not (isinstance(node, ast.Call) and getattr(name, "id", getattr(name, "attr", "")) == "Binding"):
        return None
    names = ("key", "action", "description")
    values = {name: _literal(arg) for name, arg in zip(names, node.args, strict=False)}
    values |= {kw.arg: _literal(kw.value) for kw in node.keywords if kw.arg}
    if not isinstance(values.get("key"), str) or not isinstance(values.get("action"), str):
        return None
    description = values.get("description") if isinstance(values.get("description"), str) else ""
    binding_id = values.get("id") if isinstance(values.get("id"), str) else None
    return values["key"], values["action"], description or "", binding_id


def _class_bindings(node: ast.ClassDef) -> tuple[Any, list[ast.expr]]:
    """(SECTION, the elements of BINDINGS) of a class body; BINDINGS may be wrapped in ``with_ids(...)``."""
    section: Any = None
    bindings: list[ast.expr] = []
    for statement in node.body:
        target, value = None, None
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign):
            target, value = statement.target, statement.value
        name = getattr(target, "id", None)
        if name == "SECTION":
            section = _literal(value)
        elif name == "BINDINGS":
            if isinstance(value, ast.Call) and value.args:
                value = value.args[-1]
            if isinstance(value, ast.List):
                bindings = value.elts
    return section, bindings


def _actions_of(section: str, elements: list[ast.expr]) -> list[Action]:
    actions = []
    for element in elements:
        parsed = _binding(element)
        if parsed is None:
            continue
        keys, action, description, binding_id = parsed
        # as Textual reads BINDINGS: a single character becomes its key name, the rest is kept
        parts = [part.strip() for part in keys.split(",")]
        defaults = tuple(_character_key(k) if len(k) == 1 else k for k in parts)
        actions.append(Action(binding_id or f"{section}.{action}", section, action, defaults, description))
    return actions


def _parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None


def _app_actions() -> list[Action]:
    """The shell's: a key per section (``app.drift`` = "1", from SECTIONS), jump, help, environments, quit."""
    tree = _parse(APP_FILE)
    if tree is None:
        return []
    actions = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "SECTIONS":
            for key, mode, title in _literal(node.value) or ():
                actions.append(Action(f"app.{mode}", "app", mode, (key,), f"{title} section"))
        if isinstance(node, ast.ClassDef) and node.name == "DriftmgrApp":
            actions += _actions_of("app", _class_bindings(node)[1])
    return actions


def _section_actions(path: Path) -> list[Action]:
    tree = _parse(path)
    if tree is None:
        return []
    found: list[Action] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            section, bindings = _class_bindings(node)
            if isinstance(section, str) and section and section != "app":
                found += _actions_of(section, bindings)
    return found


@lru_cache(maxsize=1)
def catalog() -> dict[str, Action]:
    """Every rebindable action by id: the shell's first, then each section's (in the order of the section
    keys, then the others by name), each in its screen's order."""
    actions: dict[str, Action] = {}
    shell = _app_actions()
    order = [a.action for a in shell if a.keys and a.keys[0].isdigit()]  # app.drift = "1", ...
    found: list[Action] = []
    for path in sorted(SCREENS_DIR.glob("*.py")):
        found += _section_actions(path)
    found.sort(key=lambda a: (order.index(a.section) if a.section in order else len(order), a.section))
    for action in shell + found:
        known = actions.get(action.id)
        if known is not None:  # the same action bound twice (two keys, two descriptions): one entry
            action = Action(known.id, known.section, known.action, known.keys + action.keys,
                            known.description or action.description)
        actions[action.id] = action
    return actions


def sections(actions: Mapping[str, Action] | None = None) -> list[str]:
    """``app`` and every section that has a screen with bindings."""
    found = {a.section for a in (catalog() if actions is None else actions).values()}
    return ["app", *sorted(found - {"app"})]


class KeymapError(ValueError):
    """A ``[keys]`` entry that cannot be used; ``key`` is the entry (``drift.rescan``)."""

    def __init__(self, key: str, detail: str, hint: str | None = None) -> None:
        super().__init__(detail)
        self.key = key
        self.detail = detail
        self.hint = hint


def flatten(body: Mapping[str, Any]) -> dict[str, Any]:
    """``[keys]`` as ``{"drift.rescan": "R"}``, whether written ``"drift.rescan" = "R"``,
    ``drift.rescan = "R"`` (a nested table in TOML) or under ``[keys.drift]``."""
    flat: dict[str, Any] = {}
    for name, value in body.items():
        if isinstance(value, Mapping):
            for action, key in value.items():
                flat[f"{name}.{action}"] = key
        else:
            flat[name] = value
    return flat


def validate_keymap(body: Mapping[str, Any], actions: Mapping[str, Action] | None = None) -> dict[str, str]:
    """Check ``[keys]``: known actions, valid key names, no key given to two actions where both apply (the
    shell's keys work in every section). Returns ``{id: "key1,key2"}`` in Textual's spelling; raises
    KeymapError naming the first bad entry."""
    actions = catalog() if actions is None else actions
    wanted: dict[str, tuple[str, ...]] = {}
    for entry, value in flatten(body).items():
        section, dot, name = entry.partition(".")
        if not dot or not name:
            raise KeymapError(entry, "expected SECTION.ACTION, e.g. \"drift.rescan\" = \"R\"")
        if entry not in actions:
            known = [a.action for a in actions.values() if a.section == section]
            if not known:
                raise KeymapError(entry, f"unknown section {section!r} "
                                         f"(sections: {', '.join(sections(actions))})")
            close = difflib.get_close_matches(name, known, n=1)
            raise KeymapError(entry, f"unknown action {name!r} of the {section} section",
                              hint=f"did you mean {section}.{close[0]}?" if close
                              else f"its actions: {', '.join(known)}")
        try:
            wanted[entry] = normalize_keys(value)
        except TypeError as exc:
            raise KeymapError(entry, f"expected {exc}") from None
        except ValueError as exc:
            raise KeymapError(entry, str(exc)) from None
    _check_clashes(wanted, actions)
    return {entry: ",".join(keys) for entry, keys in wanted.items()}


def effective_keys(action: Action, wanted: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    return wanted.get(action.id, action.keys)


def _check_clashes(wanted: Mapping[str, tuple[str, ...]], actions: Mapping[str, Action]) -> None:
    """Within a section (plus the shell's keys, which every section sees), a key names one action. Only
    clashes that involve a rebound action are reported: the built-in bindings are as their screens want."""
    for section in sections(actions)[1:] or ["app"]:
        owners: dict[str, Action] = {}
        scope = [a for a in actions.values() if a.section in ("app", section)]
        for action in scope:
            for key in effective_keys(action, wanted):
                other = owners.get(key)
                if other is None or other.id == action.id:
                    owners[key] = action
                    continue
                rebound = [a for a in (other, action) if a.id in wanted]
                if not rebound:
                    continue
                mine, theirs = (rebound[0], other if rebound[0] is action else action)
                raise KeymapError(mine.id, f"{key} is already the key of {theirs.id}"
                                           f"{f' ({theirs.description})' if theirs.description else ''}",
                                  hint=f"give {theirs.id} another key too, or pick a free key")
