"""The config editor: the config file's environments, settings, keybindings and secrets.

Left, a list: the environments, then "settings", "keybindings" and "secrets"; right, the form of the entry
opened with enter. Each field is checked as it changes, with the settings validators, and what is wrong shows
under it in red; ctrl+s writes only a fully valid document (atomically, the old file kept as .bak), and a
whole-document error is shown at its field with nothing written. Secrets are typed into password boxes and go
to the OS keyring; the file gets a reference. ``t`` tests the environment's provider connection (a job), ``e``
opens the raw file in $VISUAL/$EDITOR with the app suspended and checks it when the editor exits: a broken
file offers editing again or restoring the previous one, so the app never runs on a broken config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.markup import escape
from textual import work
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Label, ListItem, ListView, ProgressBar, Static

from driftmgr_tui.core.errors import ConfigError, DriftmgrError
from driftmgr_tui.screens.common import ConfirmScreen, SectionScreen
from driftmgr_tui.screens.config_forms import (
    ConfigForm,
    EnvironmentForm,
    KeybindingsPanel,
    SecretsPanel,
    SettingsForm,
)
from driftmgr_tui.screens.config_modals import EditErrorScreen, KeyEditScreen, SecretEntryScreen

PAGES = (("settings", "settings"), ("keys", "keybindings"), ("secrets", "secrets"))


def _short(path: str) -> str:
    """``~/...`` for a path under the home directory."""
    home = str(Path.home())
    return "~" + path[len(home):] if path.startswith(home + "/") else path


class NavItem(ListItem):
    def __init__(self, kind: str, name: str, label: str) -> None:
        super().__init__(Label(label))
        self.kind = kind
        self.entry = name


class ConfigScreen(SectionScreen):
    SECTION = "config"
    TITLE = "driftmgr · Config"
    DESTRUCTIVE: ClassVar[frozenset[str]] = frozenset({"save", "new_environment", "delete_item", "edit_raw"})
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("t", "test_connection", "Test connection"),
        Binding("e", "edit_raw", "Edit file"),
        Binding("n", "new_environment", "New env"),
        Binding("d,delete", "delete_item", "Delete"),
        Binding("escape", "back", "List", show=False),
        Binding("ctrl+r", "reload", "Reload", show=False),
    ]
    DEFAULT_CSS = """
    ConfigScreen #config-status { height: 1; padding: 0 1; color: $text-muted; }
    ConfigScreen #config-body { height: 1fr; }
    ConfigScreen #config-nav { width: 22; border-right: vkey $primary-darken-2; }
    ConfigScreen #config-pane { width: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, Any] = {}
        self.current: tuple[str, str] | None = None  # (kind, name) of the open form
        self._service: Any = None
        self._form: Any = None  # the widget in the right pane

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("loading…", id="config-status")
        with Horizontal(id="config-body"):
            yield ListView(id="config-nav")
            yield Vertical(id="config-pane")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        allowed = super().check_action(action, parameters)
        kind = self.current[0] if self.current else ""
        where = {"save": ("env", "new", "settings"), "test_connection": ("env",),
                 "delete_item": ("env", "keys", "secrets")}.get(action)
        if allowed and where is not None and kind not in where:
            return None  # shown dimmed: not on this page
        return allowed

    @property
    def service(self) -> Any:
        if self._service is None:
            try:
                self._service = self.app.hub.config
            except ConfigError:  # a broken file: the editor still opens it (and can restore it)
                from driftmgr_tui.services.config_service import ConfigService

                self._service = ConfigService()
        return self._service

    @property
    def nav(self) -> ListView:
        return self.query_one("#config-nav", ListView)

    @property
    def form(self) -> Any:
        return self._form

    # -- loading ---------------------------------------------------------------------------------------
    def reload(self, select: tuple[str, str] | None = None) -> None:
        self._load(select or self.current)

    @work(thread=True, exclusive=True, exit_on_error=False, group="load", name="reading the config file")
    def _load(self, select: tuple[str, str] | None) -> None:
        from driftmgr_tui.core.keys import catalog

        service = self.service
        catalog()  # the key catalog reads the screens' source once
        data: dict[str, Any] = {"path": str(service.path)}
        try:
            names = service.environment_names()
            data["envs"] = {name: service.environment(name) for name in names}
            data["settings"] = service.settings_values()
            data["keys"] = service.keybindings()
            data["secrets"] = service.secret_infos()
            data["warning"] = service.plaintext_warning()
            data["error"] = None
        except ConfigError as exc:
            data.update(envs={}, settings={}, keys=[], secrets=[], warning=None, error=exc)
        try:
            data["tests"] = service.last_tests() if data["envs"] else {}
        except DriftmgrError:  # no database: tests cannot be recorded, the rest still works
            data["tests"] = {}
        self.app.call_from_thread(self._show, data, select)

    def _show(self, data: dict[str, Any], select: tuple[str, str] | None) -> None:
        self.data = data
        error = data["error"]
        status = escape(_short(data["path"]))
        if data["warning"]:
            status += " · [b $warning]secrets in a PLAINTEXT file[/]"
        self.query_one("#config-status", Static).update(status)
        self.nav.clear()
        items = [NavItem("env", name, f"env {name}") for name in data["envs"]]
        items += [NavItem(kind, kind, label) for kind, label in PAGES]
        self.nav.extend(items)
        if error is not None:
            self.current = None
            self._mount(Static(f"[b $error]{escape(error.message)}[/]\n\ne opens the file in your editor.",
                               classes="config-broken"))
            return
        wanted = select if select and (select[0] != "env" or select[1] in data["envs"]) else None
        wanted = wanted or (("env", next(iter(data["envs"]))) if data["envs"] else ("settings", "settings"))
        index = next((i for i, item in enumerate(items) if (item.kind, item.entry) == wanted), 0)
        self.nav.index = index
        self.open(*wanted)

    # -- forms -----------------------------------------------------------------------------------------
    def _mount(self, widget: Any, *, focus: bool = False) -> None:
        pane = self.query_one("#config-pane")
        pane.remove_children()
        mounted = pane.mount(widget)
        self._form = widget
        if focus:
            async def focus_when_mounted() -> None:
                await mounted
                self._focus_form()

            self.call_later(focus_when_mounted)

    def open(self, kind: str, name: str, *, focus: bool = False) -> None:
        from driftmgr_tui.core.settings import ENVIRONMENT_FIELDS, choices_of, field_kind, setting_fields
        from driftmgr_tui.services.config_service import display

        self.current = (kind, name)
        self.refresh_bindings()
        if kind in ("env", "new"):
            values = self.data["envs"].get(name, {}) if kind == "env" else {}
            form = EnvironmentForm(name if kind == "env" else None, values, ENVIRONMENT_FIELDS, choices_of,
                                   self.service.check, display)
            self._mount(form, focus=focus)
            if kind == "env" and name in self.data.get("tests", {}):
                self.call_after_refresh(form.show_test, self._describe_test(self.data["tests"][name]))
        elif kind == "settings":
            self._mount(SettingsForm(self.data["settings"], setting_fields(), field_kind, choices_of,
                                     self.service.check, display), focus=focus)
        elif kind == "keys":
            self._mount(KeybindingsPanel(self.data["keys"]), focus=focus)
        elif kind == "secrets":
            self._mount(SecretsPanel(self.data["secrets"], self.data["warning"]), focus=focus)

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        item = event.item
        if not isinstance(item, NavItem) or (item.kind, item.entry) == self.current:
            self._focus_form()
            return
        self._leave(lambda: self.open(item.kind, item.entry, focus=True))

    def _leave(self, then: Any) -> None:
        """Run ``then`` unless the open form has unsaved changes the user wants to keep."""
        form = self.form
        if isinstance(form, ConfigForm) and form.dirty:
            self.app.push_screen(ConfirmScreen("Discard the unsaved changes?", action="Discard"),
                                 lambda ok: then() if ok else None)
        else:
            then()

    def _focus_form(self) -> None:
        form = self.form
        if isinstance(form, ConfigForm):
            next((row.box for row in form.rows if not row.box.disabled), form).focus()
        elif form is not None:
            for table in form.query(DataTable):
                table.focus()

    def action_back(self) -> None:
        self.nav.focus()

    def action_new_environment(self) -> None:
        self._leave(lambda: self.open("new", "", focus=True))

    def action_reload(self) -> None:
        self._leave(lambda: self.reload())

    # -- saving ----------------------------------------------------------------------------------------
    def action_save(self) -> None:
        form = self.form
        if not isinstance(form, ConfigForm):
            self.notify("nothing to save here: keybindings and secrets are saved as you change them")
            return
        if not form.check_all():
            self.notify("nothing written: fix the fields marked in red", severity="error")
            return
        if isinstance(form, EnvironmentForm):
            values = {key: self.service.check(form.field_of(form.row(key)), text)  # type: ignore[arg-type]
                      for key, text in form.values().items() if key != "name"}
            self._save_environment(form, form.original, form.env_name, values)
        else:
            values = {row.field: self.service.check(row.field, row.value) for row in form.rows
                      if not row.box.disabled and row.value != row.initial}
            self._save_settings(form, values)

    @work(thread=True, exclusive=True, exit_on_error=False, group="save", name="saving the config file")
    def _save_environment(self, form: EnvironmentForm, original: str | None, name: str,
                          values: dict[str, Any]) -> None:
        try:
            self.service.put_environment(name, values, original=original)
        except ConfigError as exc:
            self.app.call_from_thread(form.show_error, exc)
            self.app.call_from_thread(self.notify, "nothing written: " + exc.detail, severity="error")
            return
        self.app.call_from_thread(self._saved, f"environment {name} saved", ("env", name))

    @work(thread=True, exclusive=True, exit_on_error=False, group="save", name="saving the config file")
    def _save_settings(self, form: SettingsForm, values: dict[str, Any]) -> None:
        if not values:
            self.app.call_from_thread(self.notify, "no changes")
            return
        try:
            self.service.set_many(values)
        except ConfigError as exc:
            self.app.call_from_thread(form.show_error, exc)
            self.app.call_from_thread(self.notify, "nothing written: " + exc.detail, severity="error")
            return
        self.app.call_from_thread(self._saved, "settings saved", ("settings", "settings"))

    def _saved(self, message: str, select: tuple[str, str]) -> None:
        self._apply()
        self.notify(message)
        self.reload(select)

    def _apply(self) -> None:
        """The saved file takes effect: settings read again, the keymap applied."""
        hub = self.app.hub
        before = hub.__dict__.get("settings")
        try:
            fresh = hub.reload_settings()
        except DriftmgrError as exc:
            self.app.show_error("the saved settings cannot be loaded", exc)
            return
        self._service = None
        self.app.apply_keymap()
        if before is not None and "engine" in hub.__dict__ and before.db_url != fresh.db_url:
            self.notify("the database setting changed: restart driftmgr to use it", severity="warning",
                        timeout=10)

    # -- delete ----------------------------------------------------------------------------------------
    def action_delete_item(self) -> None:
        kind, name = self.current or ("", "")
        form = self.form
        if kind == "env":
            self.app.push_screen(ConfirmScreen(f"Remove environment {name} from the config file?",
                                               action="Remove"),
                                 lambda ok: self._delete_environment(name) if ok else None)
        elif kind == "keys" and isinstance(form, KeybindingsPanel) and form.selected is not None:
            binding = form.selected
            self._run_saving(lambda: self.service.set_key(binding.id, None), f"{binding.id}: default keys",
                             ("keys", "keys"))
        elif kind == "secrets" and isinstance(form, SecretsPanel) and form.selected is not None:
            info = form.selected
            if info.ref:
                question = f"Remove {info.label} from the keyring and the config file?"

                def remove(ok: bool | None) -> None:
                    if ok:
                        self._run_saving(lambda: self.service.delete_secret(info.field),
                                         f"{info.field} removed", ("secrets", "secrets"))

                self.app.push_screen(ConfirmScreen(question, action="Remove"), remove)

    def _delete_environment(self, name: str) -> None:
        self._run_saving(lambda: self.service.remove_environment(name), f"environment {name} removed",
                         ("settings", "settings"))

    @work(thread=True, exclusive=True, exit_on_error=False, group="save", name="saving the config file")
    def _run_saving(self, change: Any, message: str, select: tuple[str, str]) -> None:
        change()
        self.app.call_from_thread(self._saved, message, select)

    # -- keybindings and secrets -----------------------------------------------------------------------
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        form = self.form
        if isinstance(form, KeybindingsPanel) and form.selected is not None:
            self.edit_key(form.selected)
        elif isinstance(form, SecretsPanel) and form.selected is not None:
            self.enter_secret(form.selected)

    def edit_key(self, binding: Any) -> None:
        if self.app.read_only:
            self.notify("read-only: the config file is not changed", severity="warning")
            return
        from driftmgr_tui.core.settings import check_field

        def saved(keys: str | None) -> None:
            if keys:
                self._saved(f"{binding.id}: {keys}", ("keys", "keys"))

        self.app.push_screen(KeyEditScreen(binding, lambda keys: self.service.set_key(binding.id, keys),
                                           lambda text: check_field(f"keys.{binding.id}", text)), saved)

    def enter_secret(self, info: Any) -> None:
        if self.app.read_only:
            self.notify("read-only: the config file is not changed", severity="warning")
            return
        plaintext = None if self.service.secrets_backend() == "plaintext" else self._offer_plaintext
        self.app.push_screen(SecretEntryScreen(info.field, info.label,
                                               lambda value: self.service.set_secret(info.field, value),
                                               plaintext),
                             lambda ref: self._saved(f"{info.field} stored as {ref}", ("secrets", "secrets"))
                             if ref else None)

    def _offer_plaintext(self) -> None:
        from driftmgr_tui.core.secrets import PLAINTEXT_FILE
        from driftmgr_tui.core.settings import data_dir_path

        where = data_dir_path() / PLAINTEXT_FILE
        warning = (f"Secrets will be kept UNENCRYPTED in {where}, readable by anyone who can read that "
                   "file or a backup of it. Use this only where no OS keyring can run. Secrets already in "
                   "the OS keyring are not moved. `driftmgr config show` will repeat this warning.")
        self.app.push_screen(ConfirmScreen("Keep secrets in a plaintext file?", warning, typed="plaintext",
                                           action="Use plaintext"), self._plaintext_chosen)

    def _plaintext_chosen(self, ok: bool | None) -> None:
        if ok:
            self._run_saving(lambda: self.service.set_secrets_backend("plaintext"),
                             "secrets are now kept in a plaintext file: store the secret again",
                             ("secrets", "secrets"))

    # -- test connection -------------------------------------------------------------------------------
    def action_test_connection(self) -> None:
        kind, name = self.current or ("", "")
        form = self.form
        if kind != "env" or not isinstance(form, EnvironmentForm):
            self.notify("open an environment to test its connection", severity="warning")
            return
        if form.dirty:
            self.notify("save first: the test uses the saved environment", severity="warning")
            return
        bar = form.query_one("#test-bar", ProgressBar)
        bar.add_class("shown")
        bar.update(total=None, progress=0)
        form.show_test(f"testing {escape(name)}…")
        self._test(form, name)

    @work(thread=True, exclusive=True, exit_on_error=False, group="test", name="testing the connection")
    def _test(self, form: EnvironmentForm, name: str) -> None:
        service = self.service
        try:
            job = service.start_test(name)

            def on_event(event: Any) -> None:
                if event.job_id == job.id and event.type == "job.progress" and event.payload.get("message"):
                    text = escape(str(event.payload["message"]))
                    self.app.call_from_thread(form.show_test, f"testing {escape(name)}: {text}")

            unsubscribe = service.queue.bus.subscribe(on_event, prefix="job.")
            try:
                final = service.queue.run_inline(job.id, service.execute_test)
            finally:
                unsubscribe()
            from driftmgr_tui.services.config_service import ConnectionResult

            result = ConnectionResult.from_job(final)
            self.data.setdefault("tests", {})[name] = result  # shown again when the form is opened
            text = self._describe_test(result)
        except DriftmgrError as exc:
            text = f"[b $error]cannot test: {escape(exc.message)}[/]" + (
                f"\n[dim]hint: {escape(exc.hint)}[/]" if exc.hint else "")
        finally:
            self.app.call_from_thread(form.query_one("#test-bar", ProgressBar).remove_class, "shown")
        self.app.call_from_thread(form.show_test, text)

    @staticmethod
    def _describe_test(result: Any) -> str:
        if result.ok:
            return (f"[b $success]connected[/] ({escape(result.provider)}, job {result.job_id})\n"
                    f"account   {escape(result.account or '-')}\n"
                    f"principal {escape(result.principal or '-')}\n"
                    f"regions   {escape(', '.join(result.regions) or '-')}")
        error = escape(result.error or "unknown error")
        return f"[b $error]connection failed[/] (job {result.job_id}): {error}"

    # -- the raw file in $EDITOR -----------------------------------------------------------------------
    def action_edit_raw(self) -> None:
        form = self.form
        if isinstance(form, ConfigForm) and form.dirty:
            self.notify("the form's unsaved changes are not written: the editor opens the file as saved",
                        severity="warning")
        self.edit_raw(self.service.last_good(), suspend=True)

    def edit_raw(self, good: bytes | None, *, suspend: bool = True) -> None:
        """Run the editor on the file (the app suspended), then check what it left; ``good`` is the file to
        restore if the user gives up on a broken edit. ``suspend=False`` runs the editor as is (no terminal
        to hand over: tests)."""
        try:
            if suspend:
                with self.app.suspend():
                    code = self.service.run_editor()
            else:
                code = self.service.run_editor()
        except SuspendNotSupported:
            self.notify(f"this terminal cannot be handed to an editor: edit {self.service.path} in another "
                        "terminal, then press ctrl+r here to reload it", severity="error", timeout=10)
            return
        except DriftmgrError as exc:
            self.app.show_error("cannot run the editor", exc)
            return
        try:
            self.service.validate_file()
        except ConfigError as exc:
            self.app.push_screen(EditErrorScreen(exc.message, exc.hint),
                                 lambda choice: self._after_broken_edit(choice, good, suspend))
            return
        self._edited("config file reloaded" + (f" (the editor exited with {code})" if code else ""))

    def _after_broken_edit(self, choice: str | None, good: bytes | None, suspend: bool) -> None:
        if choice == "edit":
            self.edit_raw(good, suspend=suspend)
            return
        self.service.restore(good)
        self._edited("the previous config file is back; your edit was kept as "
                     f"{self.service.path.name}.rejected")

    def _edited(self, message: str) -> None:
        self._apply()
        self.notify(message)
        self.reload()
