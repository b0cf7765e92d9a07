"""Key bindings in the config file: key names as Textual reads them, the catalog of actions (read from the
source) against the real screens' bindings, and the checks of [keys]."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
from textual.binding import Binding
from textual.keys import _character_to_key

import driftmgr_tui.screens
from driftmgr_tui.app import DriftmgrApp
from driftmgr_tui.core.errors import ConfigError
from driftmgr_tui.core.keys import (
    KeymapError,
    catalog,
    flatten,
    normalize_key,
    normalize_keys,
    validate_keymap,
)
from driftmgr_tui.core.settings import load_settings
from driftmgr_tui.screens.common import SectionScreen


@pytest.mark.parametrize(("text", "key"), [
    ("R", "R"), ("r", "r"), ("?", "question_mark"), ("/", "slash"), (":", "colon"), ("+", "plus"),
    ("-", "minus"), ("Ctrl+S", "ctrl+s"), ("ctrl+shift+up", "ctrl+shift+up"), ("F5", "f5"), ("Escape", "escape"),
    ("question_mark", "question_mark"), ("ctrl++", "ctrl+plus"), ("é", "é"), (" f1 ", "f1"),
])
def test_key_names_are_read_as_textual_reads_them(text: str, key: str) -> None:
    assert normalize_key(text) == key
    if len(text) == 1:
        assert _character_to_key(text) == key


@pytest.mark.parametrize(("text", "detail"), [
    ("", "an empty key"),
    ("ctrl+", "'ctrl+': no key after the modifiers"),
    ("cmd+s", "'cmd+s': unknown modifier 'cmd'"),
    ("ctrl+ctrl+s", "'ctrl+ctrl+s': a modifier is repeated"),
    ("enterr", "'enterr': unknown key 'enterr'"),
    ("f25", "'f25': unknown key 'f25'"),
])
def test_bad_key_names_say_what_is_wrong(text: str, detail: str) -> None:
    with pytest.raises(ValueError) as caught:
        normalize_key(text)
    assert str(caught.value).startswith(detail)


def test_several_keys_and_the_reserved_ones() -> None:
    assert normalize_keys("r, ctrl+r") == ("r", "ctrl+r")
    with pytest.raises(ValueError, match="listed twice"):
        normalize_keys("r,r")
    with pytest.raises(ValueError, match=r"ctrl\+p is reserved"):
        normalize_keys("ctrl+p")


def _section_screens() -> list[type[SectionScreen]]:
    for module in pkgutil.iter_modules(driftmgr_tui.screens.__path__):
        importlib.import_module(f"driftmgr_tui.screens.{module.name}")
    found, todo = [], list(SectionScreen.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.SECTION and cls.__module__.startswith("driftmgr_tui."):
            found.append(cls)
    return found


def test_the_catalog_is_every_binding_of_every_section_and_of_the_app() -> None:
    actions = catalog()
    screens = _section_screens()
    assert {"drift", "state", "config"} <= {cls.SECTION for cls in screens}
    for cls in screens:
        real = {b.id: b for b in Binding.make_bindings(cls.BINDINGS)}  # keys as Textual reads them
        assert all(binding_id and binding_id.startswith(f"{cls.SECTION}.") for binding_id in real)
        listed = {a.id: a for a in actions.values() if a.section == cls.SECTION}
        assert set(listed) == set(real), cls.__name__
        for binding_id, action in listed.items():
            keys = {b.key for b in Binding.make_bindings(cls.BINDINGS) if b.id == binding_id}
            assert set(action.keys) == keys, binding_id
    app = {b.id: b for b in Binding.make_bindings(DriftmgrApp.BINDINGS)}
    assert set(app) == {a.id for a in actions.values() if a.section == "app"}
    assert actions["app.help"].keys == ("question_mark", "f1") and actions["app.drift"].keys == ("1",)


def test_keys_written_flat_quoted_or_nested_are_the_same() -> None:
    assert flatten({"drift.rescan": "R", "state": {"reveal": "x"}}) == {"drift.rescan": "R", "state.reveal": "x"}
    assert validate_keymap({"drift": {"rescan": "R"}, "app.help": "f2"}) == {"drift.rescan": "R", "app.help": "f2"}


@pytest.mark.parametrize(("keys", "entry", "detail"), [
    ({"drift.rescan": "1"}, "drift.rescan", "1 is already the key of app.drift (Drift section)"),
    ({"app.help": "r"}, "app.help", "r is already the key of "),  # of the first section that uses r
    ({"drift.rescan": "o", "drift.open_state": "r"}, None, None),  # a swap is fine
    ({"nope.rescan": "x"}, "nope.rescan", "unknown section 'nope'"),
    ({"rescan": "x"}, "rescan", 'expected SECTION.ACTION, e.g. "drift.rescan" = "R"'),
    ({"drift.rescan": ["R"]}, "drift.rescan", 'expected a key string such as "R", "ctrl+r" or "f5"'),
])
def test_keymap_checks(keys: dict, entry: str | None, detail: str | None) -> None:
    if entry is None:
        assert validate_keymap(keys) == keys
        return
    with pytest.raises(KeymapError) as caught:
        validate_keymap(keys)
    assert caught.value.key == entry and caught.value.detail.startswith(detail or "")


def test_the_config_file_names_the_bad_key(isolated_dirs: Path) -> None:
    (isolated_dirs / "config.toml").write_text('[keys]\ndrift.rescn = "R"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.field == "keys.drift.rescn"
    assert caught.value.message.endswith("keys.drift.rescn: unknown action 'rescn' of the drift section")
    assert caught.value.hint == "did you mean drift.rescan?"
    (isolated_dirs / "config.toml").write_text('[keys]\n"drift.rescan" = "R"\n"app.help" = "f2"\n')
    assert load_settings().keys == {"drift.rescan": "R", "app.help": "f2"}
