"""The config editor's modals: secret entry (a password box; the value goes to the keyring in a worker, and a
keyring that is unavailable is said in the modal with nothing written), the key editor, and the choice after a
broken outside edit (edit again or restore)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from driftmgr_tui.core.errors import ConfigError, DriftmgrError

_MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 80; max-width: 95%; height: auto; max-height: 90%; border: thick $primary;
                     background: $surface; padding: 0 1; }}
{name} .modal-title {{ text-style: bold; padding: 1 0; }}
{name} .modal-error {{ color: $error; height: auto; display: none; }}
{name} .modal-error.shown {{ display: block; }}
{name} Input {{ margin-bottom: 1; }}
{name} Horizontal {{ height: auto; align-horizontal: right; margin-top: 1; }}
{name} Button {{ margin-left: 1; }}
"""


class SecretEntryScreen(ModalScreen[str | None]):
    """The secret typed twice into password boxes; ``store(value)`` (in a worker) keeps it in the keyring and
    writes its reference. A failure (no keyring) stays in the modal; ``plaintext`` is offered then, and only
    then, behind its own typed confirmation (the caller's)."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "dismiss(None)", "Cancel"),
    ]
    DEFAULT_CSS = _MODAL_CSS.format(name="SecretEntryScreen")

    def __init__(self, field: str, label: str, store: Callable[[str], str],
                 plaintext: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.field = field
        self.label = label
        self.store = store
        self.plaintext = plaintext

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Set {escape(self.label)} ({escape(self.field)})", classes="modal-title")
            yield Static("The value goes to the OS keyring only; the config file gets a reference.")
            yield Input(placeholder="secret", password=True, id="secret-value")
            yield Input(placeholder="the same again", password=True, id="secret-again")
            yield Static("", classes="modal-error")
            with Horizontal():
                yield Button("Use a plaintext file…", id="plaintext", variant="warning")
                yield Button("Cancel", id="cancel")
                yield Button("Store", id="store", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#plaintext", Button).display = False
        self.query_one("#secret-value", Input).focus()

    def set_error(self, message: str | None) -> None:
        line = self.query_one(".modal-error", Static)
        line.update(escape(message or ""))
        line.set_class(bool(message), "shown")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "secret-value":
            self.query_one("#secret-again", Input).focus()
        else:
            self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "store":
            self.submit()
        elif event.button.id == "plaintext" and self.plaintext is not None:
            self.plaintext()
        else:
            self.dismiss(None)

    def submit(self) -> None:
        value = self.query_one("#secret-value", Input).value
        if not value:
            self.set_error("type the secret")
            return
        if value != self.query_one("#secret-again", Input).value:
            self.set_error("the two entries differ")
            return
        self.set_error(None)
        self.query_one("#store", Button).disabled = True
        self._store(value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="secret", name="storing the secret")
    def _store(self, value: str) -> None:
        from driftmgr_tui.core.secrets import KeyringUnavailable

        try:
            ref = self.store(value)
        except KeyringUnavailable as exc:
            self.app.call_from_thread(self._failed, exc, True)
            return
        except DriftmgrError as exc:
            self.app.call_from_thread(self._failed, exc, False)
            return
        self.app.call_from_thread(self.dismiss, ref)

    def _failed(self, exc: DriftmgrError, keyring: bool) -> None:
        self.set_error(exc.message + (f"\nhint: {exc.hint}" if exc.hint else "") +
                       ("\nNothing was written." if keyring else ""))
        self.query_one("#store", Button).disabled = False
        self.query_one("#plaintext", Button).display = keyring and self.plaintext is not None


class KeyEditScreen(ModalScreen[str | None]):
    """Keys for one action, typed as names (``R``, ``ctrl+r``, ``f5``; comma-separated for several). ``save``
    (in a worker) validates the whole file with them and writes it; an error stays here."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "dismiss(None)", "Cancel"),
    ]
    DEFAULT_CSS = _MODAL_CSS.format(name="KeyEditScreen")

    def __init__(self, binding: Any, save: Callable[[str | None], None],
                 check: Callable[[str], Any]) -> None:
        super().__init__()
        self.binding = binding
        self.save = save
        self.check = check

    def compose(self) -> ComposeResult:
        b = self.binding
        with Vertical():
            yield Label(f"Keys of {escape(b.id)} ({escape(b.description)})", classes="modal-title")
            yield Static(f"default: {escape(b.default)}")
            yield Input(b.custom or "", placeholder=b.default, id="key-value")
            yield Static("", classes="modal-error")
            with Horizontal():
                yield Button("Default", id="default")
                yield Button("Cancel", id="cancel")
                yield Button("Save", id="save", variant="primary")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def set_error(self, message: str | None) -> None:
        line = self.query_one(".modal-error", Static)
        line.update(escape(message or ""))
        line.set_class(bool(message), "shown")

    def on_input_changed(self, event: Input.Changed) -> None:
        try:
            if event.value.strip():
                self.check(event.value)
        except ConfigError as exc:
            self.set_error(exc.detail)
            return
        self.set_error(None)

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self._save(self.query_one(Input).value.strip() or None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self._save(self.query_one(Input).value.strip() or None)
        elif event.button.id == "default":
            self._save(None)
        else:
            self.dismiss(None)

    @work(thread=True, exclusive=True, exit_on_error=False, group="key", name="saving the key")
    def _save(self, keys: str | None) -> None:
        try:
            self.save(keys)
        except DriftmgrError as exc:
            detail = exc.detail if isinstance(exc, ConfigError) else exc.message
            self.app.call_from_thread(self.set_error, detail + (f" ({exc.hint})" if exc.hint else ""))
            return
        self.app.call_from_thread(self.dismiss, keys or self.binding.default)


class EditErrorScreen(ModalScreen[str]):
    """After an outside edit left the file invalid: the error (file, line, column) and the way out: edit
    again, or put the previous file back. The app never runs on a broken config."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("e", "choose('edit')", "Edit again"),
        Binding("r,escape", "choose('restore')", "Restore"),
    ]
    DEFAULT_CSS = _MODAL_CSS.format(name="EditErrorScreen").replace("$primary", "$error")

    def __init__(self, message: str, hint: str | None) -> None:
        super().__init__()
        self.message = message
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("The edited config file is not valid", classes="modal-title")
            yield Static(escape(self.message), id="edit-error")
            if self.hint:
                yield Static(f"[dim]hint: {escape(self.hint)}[/]")
            yield Static("Restoring keeps your edit beside the file as config.toml.rejected.")
            with Horizontal():
                yield Button("Restore the previous file", id="restore", variant="warning")
                yield Button("Edit again", id="edit", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#edit", Button).focus()

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "restore")
