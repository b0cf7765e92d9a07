"""The config editor's forms: a field row that shows what is wrong with its value under it, the environment
and settings forms (each field checked as it changes, with the settings validators), and the keybindings and
secrets pages."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Label, ProgressBar, Select, Static

from driftmgr_tui.core.errors import ConfigError

# what each field means, shown as the box's placeholder
HELP = {
    "states": "files, globs, s3://bucket/key?region=… (comma-separated)",
    "chdir": "a Terraform working dir",
    "terragrunt": "a Terragrunt tree: every unit's state",
    "workspaces": "workspaces of the backends; * for all",
    "regions": "AWS regions, or all",
    "profile": "AWS profile",
    "role_arn": "AWS role to assume",
    "subscriptions": "Azure subscription ids",
    "projects": "Google projects",
    "ignore_file": "a .driftignore file",
    "database.url": "sqlite (default, in the data dir) or postgresql://user@host/db",
    "database.password_secret": "set on the Secrets page",
    "state.lock_timeout": "0s (e.g. 30s, 5m)",
    "state.backup_retention": "50",
    "drift.retention_days": "90",
    "remediation.approver": "user@host of the OS login",
    "secrets.backend": "os",
    "digitalocean.token_secret": "set on the Secrets page",
    "digitalocean.spaces_access_id": "Spaces access key id (for Spaces buckets)",
    "digitalocean.spaces_key_secret": "set on the Secrets page",
    "digitalocean.spaces_regions": "the Spaces regions to list (default: all of them)",
}


class FieldRow(Vertical):
    """A label, its box (an Input, or a Select for a choice) and, under it, what is wrong with the value."""

    DEFAULT_CSS = """
    FieldRow { height: auto; }
    FieldRow > Horizontal { height: 1; }
    FieldRow .field-label { padding-right: 1; text-align: right; color: $text-muted; }
    FieldRow Input, FieldRow Select { width: 1fr; }
    FieldRow .field-error { color: $error; height: auto; display: none; }
    FieldRow.-invalid .field-error { display: block; }
    FieldRow.-invalid .field-label { color: $error; }
    """

    def __init__(self, field: str, label: str, value: str, *, choices: tuple[str, ...] = (),
                 placeholder: str = "", disabled: bool = False, label_width: int = 15) -> None:
        super().__init__(classes="field-row")
        self.label_width = label_width
        self.field = field
        self.label = label
        self.initial = value
        self.choices = choices
        self.placeholder = placeholder
        self.disabled_box = disabled

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(escape(self.label), classes="field-label")
            if self.choices:
                yield Select([(c, c) for c in self.choices], value=self.initial or Select.NULL,
                             prompt=f"({self.placeholder or 'not set'})", compact=True,
                             disabled=self.disabled_box)
            else:
                yield Input(self.initial, placeholder=self.placeholder, compact=True,
                            disabled=self.disabled_box)
        yield Static("", classes="field-error")

    def on_mount(self) -> None:
        self.query_one(".field-label").styles.width = self.label_width
        self.query_one(".field-error").styles.padding = (0, 0, 0, self.label_width)
        box = self.box
        if isinstance(box, Input):  # a long value shows its start until the box is used
            self.call_after_refresh(setattr, box, "cursor_position", 0)

    @property
    def value(self) -> str:
        if self.choices:
            select = self.query_one(Select)
            return "" if select.is_blank() else str(select.value)
        return self.query_one(Input).value

    @property
    def box(self) -> Input | Select[str]:
        return self.query_one(Select) if self.choices else self.query_one(Input)

    def set_error(self, message: str | None) -> None:
        self.query_one(".field-error", Static).update(escape(message or ""))
        self.set_class(bool(message), "-invalid")

    @property
    def error(self) -> str:
        return str(self.query_one(".field-error", Static).render()) if self.has_class("-invalid") else ""


class ConfigForm(VerticalScroll):
    """Rows of fields checked one by one as they change (``check(field, text)`` raises ConfigError) and, on
    save, as a whole document by the service; a whole-document error without a row shows at the top."""

    DEFAULT_CSS = """
    ConfigForm { height: 1fr; padding: 0 1; }
    ConfigForm .form-title { text-style: bold; padding: 0 0 1 0; }
    ConfigForm .form-error { color: $error; display: none; height: auto; }
    ConfigForm .form-error.shown { display: block; }
    ConfigForm .form-note { color: $text-muted; padding-top: 1; height: auto; }
    """

    def __init__(self, title: str, rows: list[FieldRow], check: Callable[[str, str], Any], *,
                 note: str = "", id: str | None = None) -> None:
        super().__init__(id=id)
        self.title_text = title
        self.rows = rows
        self.check = check
        self.note = note

    def compose(self) -> ComposeResult:
        yield Label(escape(self.title_text), classes="form-title")
        yield Static("", classes="form-error")
        yield from self.rows
        if self.note:
            yield Static(self.note, classes="form-note")

    def row(self, field: str) -> FieldRow | None:
        return next((r for r in self.rows if r.field == field), None)

    def field_of(self, row: FieldRow) -> str:
        return row.field

    def values(self) -> dict[str, str]:
        return {row.field: row.value for row in self.rows}

    @property
    def dirty(self) -> bool:
        return any(row.value != row.initial for row in self.rows)

    def check_row(self, row: FieldRow) -> bool:
        try:
            self.check(self.field_of(row), row.value)
        except ConfigError as exc:
            row.set_error(exc.detail)
            return False
        row.set_error(None)
        return True

    def check_all(self) -> bool:
        return all([self.check_row(row) for row in self.rows if not row.box.disabled])

    def show_error(self, exc: ConfigError) -> None:
        """An error from the whole-document check: under its field when the form has it, else at the top."""
        row = next((r for r in self.rows if exc.field and self.field_of(r) == exc.field), None)
        if row is not None:
            row.set_error(exc.detail)
            row.box.focus()
            self.set_form_error(None)
        else:
            self.set_form_error(exc.detail if exc.field else exc.message)

    def set_form_error(self, message: str | None) -> None:
        line = self.query_one(".form-error", Static)
        line.update(escape(message or ""))
        line.set_class(bool(message), "shown")

    def on_input_changed(self, event: Input.Changed) -> None:
        self._changed(event.input)

    def on_input_blurred(self, event: Input.Blurred) -> None:
        self._changed(event.input)

    def on_select_changed(self, event: Select.Changed) -> None:
        self._changed(event.select)

    def _changed(self, box: Any) -> None:
        row = next((r for r in self.rows if box in r.query("*")), None)
        if row is not None:
            self.check_row(row)
            self.set_form_error(None)


class EnvironmentForm(ConfigForm):
    """An environment: its name and every key of [environments.NAME]; a panel for the connection test."""

    DEFAULT_CSS = """
    EnvironmentForm #test-bar { display: none; height: 1; margin-top: 1; }
    EnvironmentForm #test-bar.shown { display: block; }
    EnvironmentForm #test-result { height: auto; padding-top: 1; }
    """

    def __init__(self, name: str | None, values: Mapping[str, Any], fields: tuple[str, ...],
                 choices: Callable[[str], tuple[str, ...]], check: Callable[[str, str], Any],
                 display: Callable[[Any], str]) -> None:
        self.original = name
        rows = [FieldRow("name", "name", name or "", placeholder="letters, digits, _ . -")]
        for key in fields:
            options = choices(f"environments.x.{key}")
            rows.append(FieldRow(key, key, display(values.get(key)), choices=options,
                                 placeholder=HELP.get(key, "native" if key == "engine" else "")))
        title = f"Environment {name}" if name else "New environment"
        super().__init__(title, rows, check,
                         note="ctrl+s save · t test the connection (saved values) · esc back to the list")

    @property
    def env_name(self) -> str:
        row = self.row("name")
        return row.value.strip() if row is not None else ""

    def field_of(self, row: FieldRow) -> str:
        name = self.env_name or "new"
        return f"environments.{name}" if row.field == "name" else f"environments.{name}.{row.field}"

    def check_row(self, row: FieldRow) -> bool:
        if row.field == "name" and not row.value.strip():
            row.set_error("give the environment a name")
            return False
        return super().check_row(row)

    def show_error(self, exc: ConfigError) -> None:
        if exc.field == f"environments.{self.env_name}" and "states" in (exc.detail or ""):
            row = self.row("states")
            if row is not None:  # "give states or chdir": said where the user can fix it
                row.set_error(exc.detail)
                return
        super().show_error(exc)

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield ProgressBar(id="test-bar", show_eta=False)
        yield Static("", id="test-result")

    def show_test(self, text: str) -> None:
        self.query_one("#test-result", Static).update(text)


class SettingsForm(ConfigForm):
    def __init__(self, values: Mapping[str, Any], fields: list[str], kinds: Callable[[str], str],
                 choices: Callable[[str], tuple[str, ...]], check: Callable[[str, str], Any],
                 display: Callable[[Any], str]) -> None:
        rows = []
        width = max([25, *(len(field) + 1 for field in fields)])  # the longest field name, whole
        for field in fields:
            kind = kinds(field)
            options = ("true", "false") if kind == "bool" else choices(field)
            rows.append(FieldRow(field, field, display(values.get(field)), choices=options,
                                 placeholder=HELP.get(field, ""), label_width=width,
                                 disabled=kind == "secret" or field == "secrets.backend"))
        super().__init__("Settings", rows, check,
                         note="ctrl+s save · empty means the default · the database password and the "
                              "secrets backend are on the Secrets page")


class KeybindingsPanel(Vertical):
    """Every rebindable action; enter edits its keys, delete gives it its default back."""

    DEFAULT_CSS = """
    KeybindingsPanel { padding: 0 1; }
    KeybindingsPanel .form-title { text-style: bold; padding-bottom: 1; }
    KeybindingsPanel DataTable { height: 1fr; }
    KeybindingsPanel .form-note { color: $text-muted; height: auto; }
    """

    def __init__(self, bindings: list[Any]) -> None:
        super().__init__()
        self.bindings = bindings

    def compose(self) -> ComposeResult:
        yield Label("Keybindings", classes="form-title")
        yield DataTable(cursor_type="row", zebra_stripes=True, id="keys-table")
        yield Static("enter: change the keys · delete: back to the default · \\[keys] in the config file",
                     classes="form-note")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("action", "keys", "default", "what")
        self.fill(self.bindings)

    def fill(self, bindings: list[Any]) -> None:
        self.bindings = bindings
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for b in bindings:
            keys = f"[b]{escape(b.keys)}[/]" if b.custom else escape(b.keys)
            table.add_row(escape(b.id), keys, escape(b.default), escape(b.description), key=b.id)
        if bindings:
            table.move_cursor(row=min(row, len(bindings) - 1))

    @property
    def selected(self) -> Any:
        table = self.query_one(DataTable)
        return self.bindings[table.cursor_row] if self.bindings else None


class SecretsPanel(Vertical):
    """Secret fields: their reference and whether the keyring holds them; where secrets are kept."""

    DEFAULT_CSS = """
    SecretsPanel { padding: 0 1; }
    SecretsPanel .form-title { text-style: bold; padding-bottom: 1; }
    SecretsPanel #secrets-backend { height: auto; padding-bottom: 1; }
    SecretsPanel DataTable { height: auto; max-height: 10; }
    SecretsPanel .form-note { color: $text-muted; height: auto; padding-top: 1; }
    """

    def __init__(self, infos: list[Any], warning: str | None) -> None:
        super().__init__()
        self.infos = infos
        self.warning = warning

    def compose(self) -> ComposeResult:
        yield Label("Secrets", classes="form-title")
        yield Static("", id="secrets-backend")
        yield DataTable(cursor_type="row", id="secrets-table")
        yield Static("enter: set or replace the secret (typed into a password box, kept in the OS "
                     "keyring; the file holds only its reference) · delete: remove it", classes="form-note")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("secret", "keyring", "reference", "field")
        self.fill(self.infos, self.warning)

    def fill(self, infos: list[Any], warning: str | None) -> None:
        self.infos, self.warning = infos, warning
        line = (f"[b $warning]PLAINTEXT:[/] {escape(warning)}" if warning
                else "Secrets are kept in the OS keyring.")
        self.query_one("#secrets-backend", Static).update(line)
        table = self.query_one(DataTable)
        table.clear()
        for info in infos:
            state = ("-" if not info.ref else "stored" if info.stored
                     else escape(info.error) if info.error else "[b $error]missing[/]")
            table.add_row(escape(info.label), state, escape(info.ref or "not set"), escape(info.field),
                          key=info.field)

    @property
    def selected(self) -> Any:
        table = self.query_one(DataTable)
        return self.infos[table.cursor_row] if self.infos else None
