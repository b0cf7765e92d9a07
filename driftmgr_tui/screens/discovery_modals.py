"""The modals of the Discovery section: starting a run (provider and the scope it needs, checked field by
field as it is typed) and a run's detail (summary, resources by type, errors with their reasons, types seen
but not covered), plus the formatting both share with the runs table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static
from textual.worker import WorkerState

from driftmgr_tui.discovery.registry import PROVIDERS

Bindings = list[Binding | tuple[str, str] | tuple[str, str, str]]

STATUS_STYLE = {"queued": "dim", "running": "bold cyan", "complete": "green", "partial": "yellow",
                "failed": "bold red", "cancelled": "magenta"}


# -- formatting shared with the runs table ----------------------------------------------------------------
def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


def when(moment: datetime | None, fmt: str = "%m-%d %H:%M") -> str:
    return moment.astimezone(UTC).strftime(fmt) if moment else "-"


def took(run: Any, now: datetime | None = None) -> str:
    """A finished run's duration; a running one's time so far; "-" before it started."""
    seconds = run.duration
    if seconds is None:
        if run.status != "running" or run.started_at is None:
            return "-"
        seconds = max(0.0, ((now or datetime.now(UTC)) - run.started_at).total_seconds())
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def scope_words(scope: dict[str, Any]) -> str:
    """What a run was asked to cover, in a few words (regions, profile, role, subscriptions, projects, types)."""
    words = []
    for key, label in (("regions", "regions"), ("profile", "profile"), ("role_arn", "role"),
                       ("subscriptions", "subscriptions"), ("projects", "projects"), ("types", "types")):
        value = scope.get(key)
        if value:
            words.append(f"{label} {', '.join(value) if isinstance(value, list) else value}")
    return " · ".join(words) or "the provider's default scope"


def account_label(run: Any, width: int = 24) -> str:
    """The account the run found; before it connects, what it was asked for (profile, subscriptions...)."""
    scope = run.scope or {}
    text = run.account or scope.get("profile") or ",".join(scope.get("subscriptions") or scope.get("projects")
                                                           or []) or "-"
    return text if len(text) <= width else text[: width - 1] + "…"


def regions_label(regions: list[str]) -> str:
    if not regions:
        return "-"
    return regions[0] if len(regions) == 1 else f"{regions[0]} +{len(regions) - 1}"


# -- starting a run ----------------------------------------------------------------------------------------
def split_list(text: str) -> tuple[str, ...]:
    """``"us-east-1, eu-west-1"`` (commas and/or spaces) as a tuple, without duplicates."""
    return tuple(dict.fromkeys(v for v in text.replace(",", " ").split() if v))


def scope_defaults(hub: Any) -> Any:
    """The scope the current environment names (its provider, regions, profile, role, subscriptions,
    projects); an empty AWS scope when no environment is configured."""
    from driftmgr_tui.discovery.model import Scope

    try:
        spec = hub.spec()
    except Exception:  # no environment configured: nothing to prefill
        return Scope(provider="aws")
    return Scope(provider=spec.provider if spec.provider in PROVIDERS else "aws", regions=tuple(spec.regions),
                 profile=spec.profile, role_arn=spec.role_arn, subscriptions=tuple(spec.subscriptions),
                 projects=tuple(spec.projects))


# field id -> (label, which providers have it, placeholder, hint shown when there is no problem)
FIELDS = {
    "regions": ("Regions", ("aws", "digitalocean"), "us-east-1, eu-west-1 or all",
                "empty: the configured region (AWS_REGION or the profile's); all: every enabled region"),
    "profile": ("Profile", ("aws",), "default chain", "a profile of ~/.aws/config; empty: AWS_PROFILE or the chain"),
    "role_arn": ("Role ARN", ("aws",), "none", "optional: assume this role first (e.g. a read-only audit role)"),
    "subscriptions": ("Subscriptions", ("azure",), "AZURE_SUBSCRIPTION_ID or every visible one",
                      "subscription ids, comma-separated"),
    "projects": ("Projects", ("gcp",), "the ADC project", "project ids, folders/NUMBER or organizations/NUMBER"),
    "types": ("Types", PROVIDERS, "every type", "optional: only these Terraform types, e.g. aws_s3_bucket"),
}
# (field, provider) -> placeholder and hint where a field means something else for that provider
PROVIDER_FIELDS = {
    ("regions", "digitalocean"): ("every region", "optional: only these regions, e.g. nyc1, ams3"),
}


class StartRunScreen(ModalScreen[Any]):
    """The provider and the fields it needs, prefilled from the environment; each field is checked as it is
    typed and its problem shown under it. Returns the :class:`Scope` to discover, or None."""

    BINDINGS: ClassVar[Bindings] = [
        Binding("escape", "close", "Cancel"),
        Binding("ctrl+s", "submit", "Start"),
    ]
    DEFAULT_CSS = """
    StartRunScreen { align: center middle; }
    StartRunScreen > Vertical { width: 90; max-width: 95%; height: auto; max-height: 95%; border: thick $primary;
                                background: $surface; padding: 0 1; }
    StartRunScreen #start-title { text-style: bold; padding: 1 0 0 0; }
    StartRunScreen #start-help { color: $text-muted; margin-bottom: 1; }
    StartRunScreen VerticalScroll { height: auto; max-height: 60vh; }
    StartRunScreen .field { height: auto; }
    StartRunScreen .field.hidden { display: none; }
    StartRunScreen .field-row { height: 1; }
    StartRunScreen .field-label { width: 15; }
    StartRunScreen .field Input { width: 1fr; background: $panel; }
    StartRunScreen Select { width: 20; }
    StartRunScreen .field-note { color: $text-muted; padding-left: 15; }
    StartRunScreen .field-note.problem { color: $error; }
    StartRunScreen #start-buttons { height: auto; align-horizontal: right; }
    StartRunScreen Button { margin-left: 2; }
    """

    def __init__(self, defaults: Any, known_types: dict[str, list[str]]) -> None:
        super().__init__()
        self.defaults = defaults
        self.known_types = known_types
        self.problems: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        d = self.defaults
        values = {"regions": ", ".join(d.regions), "profile": d.profile or "", "role_arn": d.role_arn or "",
                  "subscriptions": ", ".join(d.subscriptions), "projects": ", ".join(d.projects),
                  "types": ", ".join(d.types)}
        with Vertical():
            yield Label("Start a discovery run", id="start-title")
            yield Label("Discovery only reads the cloud. enter or ctrl+s starts, esc cancels.", id="start-help")
            with VerticalScroll():
                with Vertical(classes="field"), Horizontal(classes="field-row"):
                    yield Label("Provider", classes="field-label")
                    yield Select([(p, p) for p in PROVIDERS], value=d.provider, allow_blank=False, id="provider",
                                 compact=True)
                for name, (label, _owners, placeholder, hint) in FIELDS.items():
                    with Vertical(id=f"field-{name}", classes="field"):
                        with Horizontal(classes="field-row"):
                            yield Label(label, classes="field-label")
                            yield Input(values[name], placeholder=placeholder, id=name, compact=True)
                        yield Static(escape(hint), id=f"note-{name}", classes="field-note")
            with Horizontal(id="start-buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Start", id="start", variant="primary", compact=True)

    def on_mount(self) -> None:
        self._show_fields()
        self.check()
        self.query_one("#provider", Select).focus()

    @property
    def provider(self) -> str:
        return str(self.query_one("#provider", Select).value)

    def _show_fields(self) -> None:
        for name, (_label, owners, placeholder, _hint) in FIELDS.items():
            self.query_one(f"#field-{name}").set_class(self.provider not in owners, "hidden")
            override = PROVIDER_FIELDS.get((name, self.provider))
            self.query_one(f"#{name}", Input).placeholder = override[0] if override else placeholder

    def scope(self) -> Any:
        """The scope the visible fields describe (the hidden fields of other providers are left out)."""
        from driftmgr_tui.discovery.model import Scope

        def value(name: str) -> str:
            owners = FIELDS[name][1]
            return self.query_one(f"#{name}", Input).value.strip() if self.provider in owners else ""

        return Scope(provider=self.provider, regions=split_list(value("regions")), profile=value("profile") or None,
                     role_arn=value("role_arn") or None, subscriptions=split_list(value("subscriptions")),
                     projects=split_list(value("projects")), types=split_list(value("types")))

    def check(self) -> dict[str, str]:
        """Check the fields and show each one's problem (or its hint) under it."""
        from driftmgr_tui.services.discovery_service import scope_problems

        self.problems = scope_problems(self.scope(), known_types=self.known_types.get(self.provider, []))
        for name, (_label, _owners, _placeholder, hint) in FIELDS.items():
            note = self.query_one(f"#note-{name}", Static)
            problem = self.problems.get(name)
            override = PROVIDER_FIELDS.get((name, self.provider))
            note.update(escape(problem or (override[1] if override else hint)))
            note.set_class(problem is not None, "problem")
        return self.problems

    def on_select_changed(self, event: Select.Changed) -> None:
        self._show_fields()
        self.check()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.check()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_submit(self) -> None:
        problems = self.check()
        if problems:
            first = next(iter(problems))
            if first in FIELDS:
                self.query_one(f"#{first}", Input).focus()
            self.notify(f"{FIELDS.get(first, ('Provider',))[0]}: {problems[first]}", severity="error")
            return
        self.dismiss(self.scope())

    def action_close(self) -> None:
        self.dismiss(None)


# -- a run's detail ----------------------------------------------------------------------------------------
class RunDetailScreen(ModalScreen[None]):
    """One run: what it covered and who ran it, how it went, the resources it found by type, and every
    failed task with its reason. Follows the run while it is going on."""

    BINDINGS: ClassVar[Bindings] = [
        Binding("escape,q", "close", "Close"),
        Binding("r", "reload", "Refresh"),
        Binding("c", "copy", "Copy errors"),
    ]
    DEFAULT_CSS = """
    RunDetailScreen { align: center middle; }
    RunDetailScreen > Vertical { width: 110; max-width: 95%; height: auto; max-height: 95%;
                                 border: thick $primary; background: $surface; padding: 0 1; }
    RunDetailScreen #detail-title { text-style: bold; padding: 1 0; }
    RunDetailScreen VerticalScroll { height: auto; max-height: 70vh; }
    RunDetailScreen .detail-part { height: auto; margin-bottom: 1; }
    RunDetailScreen #detail-keys { color: $text-muted; }
    """

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id
        self.run: Any = None
        self.counts: dict[str, int] = {}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Discovery run {self.run_id}", id="detail-title")
            with VerticalScroll(id="detail-body"):
                yield Static("loading…", id="detail-summary", classes="detail-part")
                yield Static("", id="detail-errors", classes="detail-part")
                yield Static("", id="detail-types", classes="detail-part")
                yield Static("", id="detail-unsupported", classes="detail-part")
            yield Label("esc closes · r refreshes · c copies the errors", id="detail-keys")

    def on_mount(self) -> None:
        self.query_one("#detail-body", VerticalScroll).focus()
        self.load()
        self.set_interval(1.0, self._follow)

    def _follow(self) -> None:
        if self.run is not None and not self.run.finished and self.app.screen is self:
            self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail", name="reading the discovery run")
    def load(self) -> None:
        service = self.app.hub.discovery
        run = service.get_run(self.run_id)
        counts = service.type_counts(self.run_id)
        self.app.call_from_thread(self._show, run, counts)

    def _show(self, run: Any, counts: dict[str, int]) -> None:
        self.run, self.counts = run, counts
        title = Text.assemble(f"Discovery run {run.id} · ", status_text(run.status))
        self.query_one("#detail-title", Label).update(title)
        self.query_one("#detail-summary", Static).update(self._summary(run))
        self.query_one("#detail-types", Static).update(self._types(run, counts))
        self.query_one("#detail-errors", Static).update(self._errors(run))
        unsupported = self.query_one("#detail-unsupported", Static)
        unsupported.display = bool(run.unsupported)
        if run.unsupported:
            listed = ", ".join(f"{k} ({v})" if v else k for k, v in sorted(run.unsupported.items()))
            unsupported.update(Text.assemble(("Seen but not covered yet: ", "bold"), listed))

    @staticmethod
    def _summary(run: Any) -> Table:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        cancelled = sum(1 for t in run.tasks if t.status == "cancelled")
        tasks = f"{run.task_count}"
        extra = [f"{len(run.errors)} failed"] if run.errors else []
        extra += [f"{cancelled} cancelled"] if cancelled else []
        tasks += f" ({', '.join(extra)})" if extra else ""
        tasks += f" · {run.retries} requests retried" if run.retries else ""
        rows = [
            ("Provider", run.provider),
            ("Scope", scope_words(run.scope)),
            ("Account", run.account or "-"),
            ("Principal", run.principal or "-"),
            ("Regions", ", ".join(run.regions) or "-"),
            ("Started", f"{when(run.started_at or run.created_at, '%Y-%m-%d %H:%M:%S')} UTC · took {took(run)}"),
            ("Tasks", tasks),
            ("Resources", str(run.resource_count)),
            ("By", run.created_by),
        ]
        for key, value in rows:
            grid.add_row(key, value)
        if run.error and not run.errors:  # failed tasks are listed with their reasons below
            grid.add_row("Error", Text(run.error, style="red"))
        return grid

    @staticmethod
    def _types(run: Any, counts: dict[str, int]) -> Any:
        if not counts:
            return Text("No resources found." if run.finished else "No resources recorded yet.", style="dim")
        table = Table(title="Resources by type", title_justify="left", title_style="bold", box=None,
                      header_style="bold", pad_edge=False)
        table.add_column("Terraform type")
        table.add_column("Count", justify="right")
        for tf_type, count in counts.items():
            table.add_row(tf_type, str(count))
        return table

    @staticmethod
    def _errors(run: Any) -> Any:
        if not run.errors:
            return Text("No errors." if run.finished else "No errors so far.", style="dim")
        table = Table(title=f"Errors ({len(run.errors)})", title_justify="left", title_style="bold red",
                      box=None, header_style="bold", pad_edge=False, expand=True)
        table.add_column("Region", no_wrap=True)
        table.add_column("Service", no_wrap=True)
        table.add_column("Reason", overflow="fold", ratio=1)
        for task in run.errors:
            table.add_row(task.region, task.service, task.error or "")
        return table

    def errors_text(self) -> str:
        if self.run is None:
            return ""
        lines = [f"discovery run {self.run.id}: {self.run.status}"]
        lines += [f"{t.key}: {t.error}" for t in self.run.errors]
        if self.run.error and not self.run.errors:
            lines.append(self.run.error)
        return "\n".join(lines)

    def on_worker_state_changed(self, event: Any) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.app.show_error(f"{event.worker.name} failed", event.worker.error)

    def action_reload(self) -> None:
        self.load()

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.errors_text())
        self.notify("the run's errors were copied to the clipboard")

    def action_close(self) -> None:
        self.dismiss(None)
