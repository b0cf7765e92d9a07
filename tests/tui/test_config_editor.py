"""The config editor, driven through the real app: a real config file, keyring backend, database and moto."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from keyring.backends import fail
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input

from driftmgr_tui.app import DriftmgrApp
from driftmgr_tui.core.secrets import PLAINTEXT_FILE, SERVICE
from driftmgr_tui.core.settings import load_settings
from driftmgr_tui.screens.common import ConfirmScreen, HelpScreen
from driftmgr_tui.screens.config import ConfigScreen
from driftmgr_tui.screens.config_forms import EnvironmentForm, FieldRow, KeybindingsPanel, SecretsPanel
from driftmgr_tui.screens.config_modals import EditErrorScreen, KeyEditScreen, SecretEntryScreen
from driftmgr_tui.services.hub import ServiceHub
from tests.alerts import MemoryKeyring, keyring_backend
from tests.tui.pilot import drive, notes_of, settle
from tests.tui.test_tmux import DRIFTMGR, TMUX, Pane

CONFIG = """\
# team settings
[database]
url = "postgresql://driftmgr@db.internal/driftmgr"  # the team database

[state]
lock_timeout = "30s"  # CI holds locks

[environments.prod]  # production
states = ["envs/prod/*.tfstate"]
provider = "aws"
regions = ["us-east-1"]

[environments.staging]
chdir = "/infra/staging"
provider = "aws"
profile = "no-such-profile"
"""
EXAMPLE_STATE = Path(__file__).resolve().parents[2] / "examples" / "terraform.tfstate"


@pytest.fixture
def config_file(isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = isolated_dirs / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    # the file names a team database; this machine keeps to its local SQLite file
    monkeypatch.setenv("DRIFTMGR_DB_URL", f"sqlite:///{isolated_dirs / 'data' / 'driftmgr.db'}")
    monkeypatch.setenv("DRIFTMGR_THEME", "textual-dark")
    monkeypatch.setenv("HOME", str(isolated_dirs))  # the status line shows ~/config.toml
    return path


@pytest.fixture
def kr() -> Iterator[MemoryKeyring]:
    with keyring_backend() as backend:
        yield backend


def app(*, read_only: bool = False) -> DriftmgrApp:
    return DriftmgrApp(ServiceHub(read_only=read_only), initial="config")


def editor(pilot: Pilot[Any]) -> ConfigScreen:
    screen = pilot.app.screen
    if not isinstance(screen, ConfigScreen):
        screen = next(s for s in pilot.app.screen_stack if isinstance(s, ConfigScreen))
    return screen


async def type_into(pilot: Pilot[Any], row: FieldRow | None, text: str, *, keys: bool = False) -> None:
    """Replace the box's text: key by key (``keys``), or at once (the same Changed event, faster)."""
    assert row is not None
    box = row.box
    assert isinstance(box, Input)
    box.focus()
    box.value = "" if keys else text
    if keys and text:
        await pilot.press(*text)
    await settle(pilot)


async def open_entry(pilot: Pilot[Any], label: str) -> Any:
    await settle(pilot)
    screen = editor(pilot)
    labels = [item.query_one("Label").render().plain for item in screen.nav.children]  # type: ignore[attr-defined]
    screen.nav.focus()
    screen.nav.index = labels.index(label)
    await pilot.press("enter")
    await settle(pilot)
    return screen.form


# -- environment form ---------------------------------------------------------------------------------------
async def _bad_region(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    form = editor(pilot).form
    await type_into(pilot, form.row("regions"), "us-east-1, eu west 1", keys=True)


def test_environment_form_shows_the_error_under_the_field_and_writes_nothing(config_file: Path) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        notes = notes_of(pilot.app)
        screen = editor(pilot)
        assert screen.current == ("env", "prod")
        assert "~/config.toml" in str(screen.query_one("#config-status").render())
        form = screen.form
        assert isinstance(form, EnvironmentForm)
        assert form.values()["states"] == "envs/prod/*.tfstate" and form.values()["provider"] == "aws"
        await _bad_region(pilot)
        row = form.row("regions")
        assert row is not None and row.error == "'eu west 1': a region, subscription or project name has no spaces"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "nothing written: fix the fields marked in red" in notes
        assert config_file.read_text() == CONFIG
        await type_into(pilot, row, "us-east-1, eu-west-1")
        assert row.error == ""
        await type_into(pilot, form.row("profile"), "audit")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "environment prod saved" in notes
        text = config_file.read_text()
        assert 'regions = ["us-east-1", "eu-west-1"]' in text and 'profile = "audit"' in text
        assert "# production" in text and "# CI holds locks" in text and "# the team database" in text
        assert load_settings().environments["prod"].regions == ("us-east-1", "eu-west-1")
        assert config_file.with_name("config.toml.bak").read_text() == CONFIG

    drive(app(), scenario)


def test_a_new_environment_with_document_errors_at_their_fields(config_file: Path) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = editor(pilot)
        screen.nav.focus()
        await pilot.press("n")
        await settle(pilot)
        form = screen.form
        assert isinstance(form, EnvironmentForm) and form.original is None
        await type_into(pilot, form.row("name"), "prod")
        await type_into(pilot, form.row("chdir"), "/infra/prod")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert form.row("name").error == "an environment of this name exists"  # type: ignore[union-attr]
        await type_into(pilot, form.row("name"), "dev")
        await type_into(pilot, form.row("chdir"), "")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert form.row("states").error == ("give states (files, globs, backend specs), chdir (a Terraform "  # type: ignore[union-attr]
                                            "working dir) or terragrunt (a Terragrunt tree)")
        assert config_file.read_text() == CONFIG
        await type_into(pilot, form.row("chdir"), "/infra/dev")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert load_settings().environments["dev"].chdir == "/infra/dev"
        assert screen.current == ("env", "dev")
        assert [item.entry for item in screen.nav.children][:3] == ["prod", "staging", "dev"]  # type: ignore[attr-defined]

    drive(app(), scenario)


def test_settings_form_and_discarding_unsaved_changes(config_file: Path) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        notes = notes_of(pilot.app)
        screen = editor(pilot)
        await type_into(pilot, screen.form.row("profile"), "typed-but-not-saved")
        form = await open_entry(pilot, "settings")
        assert isinstance(pilot.app.screen, ConfirmScreen)  # the environment form has unsaved changes
        await pilot.click("#ok")
        await settle(pilot)
        form = screen.form
        assert form.values()["state.lock_timeout"] == "30s"
        assert form.row("database.password_secret").box.disabled
        await type_into(pilot, form.row("state.lock_timeout"), "5 minutes")
        assert form.row("state.lock_timeout").error.startswith("invalid duration '5 minutes'")
        await type_into(pilot, form.row("state.lock_timeout"), "1m")
        await type_into(pilot, form.row("drift.retention_days"), "30")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "settings saved" in notes
        text = config_file.read_text()
        assert 'lock_timeout = "1m"  # CI holds locks' in text and "retention_days = 30" in text
        assert "typed-but-not-saved" not in text
        assert pilot.app.hub.settings.lock_timeout == 60.0  # the app reads the saved file again

    drive(app(), scenario)


def test_delete_an_environment_after_confirming(config_file: Path) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = editor(pilot)
        screen.nav.focus()
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(pilot.app.screen, ConfirmScreen)
        await pilot.click("#ok")
        await settle(pilot)
        assert set(load_settings().environments) == {"staging"}
        assert "# team settings" in config_file.read_text()

    drive(app(), scenario)


def test_read_only_mode_writes_nothing(config_file: Path) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        notes = notes_of(pilot.app)
        screen = editor(pilot)
        assert not any(b.binding.action in ("save", "edit_raw", "delete_item")
                       for b in screen.active_bindings.values() if b.enabled)
        await type_into(pilot, screen.form.row("profile"), "audit")
        await pilot.press("ctrl+s")
        await settle(pilot)
        await open_entry(pilot, "keybindings")  # discards the form after asking
        await pilot.click("#ok")
        await settle(pilot)
        await open_entry(pilot, "secrets")
        await pilot.press("enter")
        await settle(pilot)
        assert "read-only: the config file is not changed" in notes
        assert not isinstance(pilot.app.screen, SecretEntryScreen)
        assert config_file.read_text() == CONFIG

    drive(app(read_only=True), scenario)


# -- keybindings --------------------------------------------------------------------------------------------
async def _key_editor_with_a_clash(pilot: Pilot[Any]) -> None:
    panel = await open_entry(pilot, "keybindings")
    assert isinstance(panel, KeybindingsPanel)
    table = panel.query_one(DataTable)
    table.move_cursor(row=[b.id for b in panel.bindings].index("drift.rescan"))
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(pilot.app.screen, KeyEditScreen)
    await pilot.press("f", "enter")
    await settle(pilot)


def test_keybindings_editor_refuses_a_clash_and_applies_the_new_key(config_file: Path) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        await _key_editor_with_a_clash(pilot)
        modal = pilot.app.screen
        assert isinstance(modal, KeyEditScreen)
        error = modal.query_one(".modal-error").render()
        assert "f is already the key of drift.facets (Facets)" in str(error)
        assert config_file.read_text() == CONFIG
        modal.query_one(Input).value = ""
        await pilot.press("ctrl+x")  # not a key name: said while typing
        modal.query_one(Input).value = "ctrl+x+y"
        await settle(pilot)
        assert "unknown modifier 'x'" in str(modal.query_one(".modal-error").render())
        modal.query_one(Input).value = ""
        await pilot.press("R", "enter")
        await settle(pilot)
        assert not isinstance(pilot.app.screen, KeyEditScreen)
        assert '"drift.rescan" = "R"' in config_file.read_text()
        panel = editor(pilot).form
        assert next(b for b in panel.bindings if b.id == "drift.rescan").keys == "R"
        # the running app uses it: in the drift section, R rescans and r does nothing
        pilot.app.switch_mode("drift")
        await settle(pilot)
        active = pilot.app.screen.active_bindings
        assert active["R"].binding.action == "rescan" and "r" not in active
        pilot.app.switch_mode("config")
        await settle(pilot)
        panel = editor(pilot).form
        panel.query_one(DataTable).focus()
        panel.query_one(DataTable).move_cursor(row=[b.id for b in panel.bindings].index("drift.rescan"))
        await pilot.press("delete")
        await settle(pilot)
        assert "[keys]" not in config_file.read_text()
        assert pilot.app._keymap == {}

    drive(app(), scenario)


def test_keys_from_the_file_apply_when_the_app_starts(config_file: Path) -> None:
    config_file.write_text(CONFIG + '\n[keys]\n"app.help" = "f2"\n')

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("question_mark")
        await settle(pilot)
        assert not isinstance(pilot.app.screen, HelpScreen)
        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(pilot.app.screen, HelpScreen)

    drive(app(), scenario)


# -- secrets ------------------------------------------------------------------------------------------------
async def _secret_entry(pilot: Pilot[Any], value: str = "hunter2-typed") -> SecretEntryScreen:
    panel = await open_entry(pilot, "secrets")
    assert isinstance(panel, SecretsPanel)
    panel.query_one(DataTable).focus()
    await pilot.press("enter")
    await settle(pilot)
    modal = pilot.app.screen
    assert isinstance(modal, SecretEntryScreen)
    await pilot.press(*value, "enter", *value)
    return modal


def test_a_secret_typed_in_goes_to_the_keyring_and_its_reference_to_the_file(config_file: Path,
                                                                            kr: MemoryKeyring) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        modal = await _secret_entry(pilot)
        assert all(box.password for box in modal.query(Input))
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(pilot.app.screen, SecretEntryScreen)
        [(service, ref)] = kr.secrets
        assert service == SERVICE and kr.secrets[(service, ref)] == "hunter2-typed"
        text = config_file.read_text()
        assert f'password_secret = "{ref}"' in text and "hunter2" not in text
        panel = editor(pilot).form
        assert panel.infos[0].ref == ref and panel.infos[0].stored is True

    drive(app(), scenario)


def test_no_keyring_says_so_writes_nothing_and_offers_plaintext_behind_a_typed_confirmation(
        config_file: Path, isolated_dirs: Path) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        modal = await _secret_entry(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert pilot.app.screen is modal
        error = str(modal.query_one(".modal-error").render())
        assert "the OS keyring is unavailable: no keyring backend is available on this machine" in error
        assert "Nothing was written." in error
        assert config_file.read_text() == CONFIG
        plaintext = modal.query_one("#plaintext", Button)
        assert plaintext.display
        await pilot.click("#plaintext")
        await settle(pilot)
        confirm = pilot.app.screen
        assert isinstance(confirm, ConfirmScreen) and confirm.typed == "plaintext"
        assert "UNENCRYPTED" in confirm.preview
        await pilot.press(*"plaintext", "enter")
        await settle(pilot)
        assert 'backend = "plaintext"' in config_file.read_text()
        assert pilot.app.screen is modal
        await pilot.click("#store")
        await settle(pilot)
        assert not isinstance(pilot.app.screen, SecretEntryScreen)
        stored = json.loads((isolated_dirs / "data" / PLAINTEXT_FILE).read_text())
        assert list(stored[SERVICE].values()) == ["hunter2-typed"]
        assert "PLAINTEXT" in str(editor(pilot).query_one("#config-status").render())

    with keyring_backend(fail.Keyring()):
        drive(app(), scenario)


async def _secret_typed(pilot: Pilot[Any]) -> None:
    await _secret_entry(pilot, "s3cr")


# -- test connection ----------------------------------------------------------------------------------------
def test_test_connection_shows_account_principal_and_regions_or_the_error(config_file: Path, aws: str) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = editor(pilot)
        screen.nav.focus()
        await pilot.press("t")
        await settle(pilot)
        result = str(screen.form.query_one("#test-result").render())
        assert "connected" in result and "123456789012" in result
        assert "arn:aws:sts::123456789012:user/moto" in result and "us-east-1" in result
        await open_entry(pilot, "env staging")
        await pilot.press("escape", "t")
        await settle(pilot)
        result = str(screen.form.query_one("#test-result").render())
        assert "connection failed" in result and "profile 'no-such-profile' is not in your AWS config" in result
        # the results are jobs: they are shown again when the form is opened later
        await open_entry(pilot, "env prod")
        assert "123456789012" in str(screen.form.query_one("#test-result").render())

    drive(app(), scenario)


# -- the raw file in $EDITOR --------------------------------------------------------------------------------
def write_editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *steps: str) -> None:
    """$EDITOR is a script that applies the next of ``steps`` (shell) to the file on each run."""
    counter = tmp_path / "runs"
    script = tmp_path / "editor.sh"
    cases = "\n".join(f"  {i}) {step} ;;" for i, step in enumerate(steps))
    script.write_text(f'#!/bin/sh\nn=$(cat "{counter}" 2>/dev/null || echo 0)\necho $((n+1)) > "{counter}"\n'
                      f'case "$n" in\n{cases}\nesac\n')
    script.chmod(0o755)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", str(script))


def test_e_without_a_terminal_to_hand_over_says_so(config_file: Path) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        notes = notes_of(pilot.app)
        editor(pilot).nav.focus()
        await pilot.press("e")
        await settle(pilot)
        assert any("this terminal cannot be handed to an editor" in n and "ctrl+r" in n for n in notes)
        assert config_file.read_text() == CONFIG

    drive(app(), scenario)


def test_a_broken_edit_can_be_edited_again_or_restored(config_file: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    write_editor(tmp_path, monkeypatch,
                 """printf '[environments.dev\\n' >> "$1\"""",            # broken TOML
                 """printf 'chdir = "/infra/dev"\\n' >> "$1\"""",        # still broken: the header is open
                 """printf '[environments.qa]\\nchdir = "/qa"\\n' > "$1\"""")  # valid, replaces everything

    async def scenario(pilot: Pilot[Any]) -> None:
        notes = notes_of(pilot.app)
        screen = editor(pilot)
        good = config_file.read_bytes()
        screen.edit_raw(good, suspend=False)
        await settle(pilot)
        modal = pilot.app.screen
        assert isinstance(modal, EditErrorScreen)
        assert modal.message == (f"{config_file}: line 17, column 18: invalid TOML: Expected ']' at the end of a "
                                 "table declaration")
        await pilot.press("e")  # edit again: still broken
        await settle(pilot)
        assert isinstance(pilot.app.screen, EditErrorScreen)
        await pilot.press("r")  # restore the previous file
        await settle(pilot)
        assert config_file.read_bytes() == good
        assert config_file.with_name("config.toml.rejected").read_text().endswith('chdir = "/infra/dev"\n')
        assert any("the previous config file is back" in n for n in notes)
        screen.edit_raw(config_file.read_bytes(), suspend=False)  # a valid edit is read at once
        await settle(pilot)
        assert "config file reloaded" in notes
        assert [item.entry for item in screen.nav.children] == ["qa", "settings", "keys", "secrets"]  # type: ignore[attr-defined]
        assert set(pilot.app.hub.settings.environments) == {"qa"}

    drive(app(), scenario)


# -- the canary ---------------------------------------------------------------------------------------------
CANARY_UI = "CANARYui7c1d5e0b"
CANARY_CLI = "CANARYcli93fa21d"


def test_a_planted_secret_appears_nowhere_but_the_keyring(config_file: Path, isolated_dirs: Path,
                                                          kr: MemoryKeyring, aws: str, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    from driftmgr_tui.cli import cli

    caplog.set_level(logging.DEBUG)
    state = tmp_path / "live" / "terraform.tfstate"
    state.parent.mkdir()
    shutil.copyfile(EXAMPLE_STATE, state)
    config_file.write_text(CONFIG.replace('"envs/prod/*.tfstate"', json.dumps(str(state))))

    async def scenario(pilot: Pilot[Any]) -> None:  # through the UI
        modal = await _secret_entry(pilot, CANARY_UI)
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(pilot.app.screen, type(modal))
        await open_entry(pilot, "env prod")
        await pilot.press("escape", "t")  # a connection test: a job in the database
        await settle(pilot)

    drive(app(), scenario)
    assert list(kr.secrets.values()) == [CANARY_UI]

    runner = CliRunner()
    outputs: list[str] = []

    def run(*args: str, input: str | None = None) -> None:
        result = runner.invoke(cli, list(args), input=input)
        assert result.exit_code in (0, 1), result.output  # 1: drift found
        outputs.append(result.output)

    run("config", "secret", "set", "database.password_secret", "--stdin", input=CANARY_CLI + "\n")  # and the CLI
    assert list(kr.secrets.values()) == [CANARY_CLI]
    exports = tmp_path / "exports"
    exports.mkdir()
    run("scan", "--env", "prod", "--regions", "us-east-1", "--format", "json", "--output",
        str(exports / "scan.json"))
    run("drift", "show", "latest", "--env", "prod", "--format", "json", "--output", str(exports / "report.json"))
    run("config", "show", "--json")
    run("config", "show")
    run("config", "test", "prod", "--json")
    assert (exports / "report.json").stat().st_size > 0
    files = [p for p in [*isolated_dirs.rglob("*"), *exports.rglob("*")] if p.is_file()]
    assert any(p.name == "driftmgr.db" for p in files) and config_file in files
    for canary in (CANARY_UI, CANARY_CLI):
        assert [str(p) for p in files if canary.encode() in p.read_bytes()] == []
        assert canary not in caplog.text
        assert all(canary not in output for output in outputs)
    assert list(kr.secrets.values()) == [CANARY_CLI]  # the keyring holds it, and only it


# -- snapshots ----------------------------------------------------------------------------------------------
SIZES = [(120, 40), (80, 24)]


def still(scenario: Callable[[Pilot[Any]], Any]) -> Callable[[Pilot[Any]], Any]:
    """``scenario``, then no widget focused: a text box's blinking cursor would make the picture vary."""

    async def run(pilot: Pilot[Any]) -> None:
        await scenario(pilot)
        pilot.app.screen.set_focus(None)
        await settle(pilot)

    return run


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_environment_form_with_an_error(config_file: Path, snap_compare: Callable[..., bool],
                                                 size: tuple[int, int]) -> None:
    assert snap_compare(app(), terminal_size=size, run_before=still(_bad_region))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_keybindings_editor(config_file: Path, snap_compare: Callable[..., bool],
                                     size: tuple[int, int]) -> None:
    assert snap_compare(app(), terminal_size=size, run_before=still(_key_editor_with_a_clash))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_secret_entry(config_file: Path, kr: MemoryKeyring, snap_compare: Callable[..., bool],
                               size: tuple[int, int]) -> None:
    assert snap_compare(app(), terminal_size=size, run_before=still(_secret_typed))


# -- the installed command, in tmux: the terminal really handed to $EDITOR and back ----------------------------
@pytest.mark.slow
def test_e_hands_the_terminal_to_the_editor_and_reloads(tmp_path: Path) -> None:
    if TMUX is None:
        pytest.skip("tmux is not installed")
    if not DRIFTMGR.exists():
        pytest.skip(f"driftmgr is not installed at {DRIFTMGR}")
    config = tmp_path / "config.toml"
    config.write_text('[environments.prod]\nstates = ["envs/prod/*.tfstate"]\n')
    script = tmp_path / "editor.sh"
    script.write_text('#!/bin/sh\nprintf "EDITOR-RUNNING, name? "\nread name\n'
                      'printf \'[environments.%s]\\nchdir = "/qa"\\n\' "$name" >> "$1"\n')
    script.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k.startswith(("PATH", "HOME", "LANG", "LC_"))}
    env.update(TERM="xterm-256color", DRIFTMGR_DATA_DIR=str(tmp_path / "data"), DRIFTMGR_CONFIG=str(config),
               EDITOR=str(script), TMPDIR=str(tmp_path))
    command = " ".join(f"{k}='{v}'" for k, v in env.items()) + f" '{DRIFTMGR}' tui --section config; sleep 600"
    socket, session = f"driftmgr-test-{uuid.uuid4().hex[:8]}", "config"
    subprocess.run([TMUX, "-L", socket, "new-session", "-d", "-s", session, "-x", "100", "-y", "30",
                    "env", "-i", "sh", "-c", command], check=True)
    pane = Pane(socket, session)
    try:
        pane.wait_for(lambda s: "env prod" in s and "Environment prod" in s, "the config editor")
        pane.keys("e")
        pane.wait_for(lambda s: "EDITOR-RUNNING, name?" in s, "the editor, with the terminal")
        pane.keys("qa", "Enter")
        screen = pane.wait_for(lambda s: "env qa" in s, "the reloaded list")
        assert "config file reloaded" in screen
        assert '[environments.qa]\nchdir = "/qa"' in config.read_text()
    finally:
        subprocess.run([TMUX, "-L", socket, "kill-server"], capture_output=True, check=False)


async def _settings_with_an_error(pilot: Pilot[Any]) -> None:
    form = await open_entry(pilot, "settings")
    await type_into(pilot, form.row("state.backup_retention"), "0")


async def _connection_tested(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    editor(pilot).nav.focus()
    await pilot.press("t")
    await settle(pilot)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_settings_form(config_file: Path, snap_compare: Callable[..., bool], size: tuple[int, int]) -> None:
    assert snap_compare(app(), terminal_size=size, run_before=still(_settings_with_an_error))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_connection_tested(config_file: Path, aws: str, snap_compare: Callable[..., bool],
                                    size: tuple[int, int]) -> None:
    assert snap_compare(app(), terminal_size=size, run_before=still(_connection_tested))
