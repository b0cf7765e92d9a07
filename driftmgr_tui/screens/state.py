"""The State browser: the environment's states as a tree (state -> module -> resource -> instance) whose
children are built only when a node is expanded, so a state with 10,000 resources opens at once; the
selected instance's attributes with sensitive values redacted (revealed only after a confirmation); search
over addresses; and the state operations (rm, mv, import, validate, backups and restore, locks and
force-unlock) in modals that preview their effect before anything is written. Reading, previewing and
writing all run in thread workers; a failure is shown in the error modal, a locked state in a line of its
own."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Input, Label, Static, Tree
from textual.widgets.tree import TreeNode
from textual.worker import WorkerState, get_current_worker

from driftmgr_tui.core.errors import DriftmgrError, LockInfo, StateLockedError
from driftmgr_tui.core.text import plural
from driftmgr_tui.screens.common import ConfirmScreen, SectionScreen, describe_error
from driftmgr_tui.screens.state_modals import StateOperations, StateView, read_views
from driftmgr_tui.widgets.attributes import AttributeView, short_provider


@dataclass
class NodeData:
    kind: str  # "state" | "module" | "resource" | "instance"
    key: tuple[str, ...]  # (location, module, resource address, instance address), as deep as the kind
    loaded: bool = False

    @property
    def location(self) -> str:
        return self.key[0]

    @property
    def address(self) -> str | None:
        """What rm and mv act on: the instance, the resource, or the module (never the root module)."""
        if self.kind in ("instance", "resource", "module") and self.key[-1]:
            return self.key[-1]
        return None


class StateScreen(StateOperations, SectionScreen):
    SECTION = "state"
    TITLE = "driftmgr · State"
    DESTRUCTIVE: ClassVar[frozenset[str]] = frozenset({"remove", "move", "import_resource", "restore",
                                                       "force_unlock"})
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("slash", "search", "Search", key_display="/"),
        Binding("n", "step(1)", "Next match", show=False),
        Binding("N", "step(-1)", "Previous match", show=False),
        Binding("r", "reveal", "Reveal"),
        Binding("d", "remove", "Remove"),
        Binding("m", "move", "Move"),
        Binding("i", "import_resource", "Import"),
        Binding("v", "validate", "Validate"),
        Binding("b", "backups", "Backups"),
        Binding("l", "locks", "Locks"),
        Binding("ctrl+r", "reload", "Reload", show=False),
        Binding("escape", "close_search", "Close search", show=False),
    ]
    DEFAULT_CSS = """
    StateScreen #state-status { height: 1; padding: 0 1; color: $text-muted; }
    StateScreen #lock-line { height: auto; padding: 0 1; color: $error; text-style: bold; display: none; }
    StateScreen #lock-line.locked { display: block; }
    StateScreen #state-body { height: 1fr; }
    StateScreen #state-tree { width: 45%; overflow-x: hidden; border-right: vkey $primary-darken-2; }
    StateScreen #attributes { width: 1fr; }
    StateScreen #search-bar { height: 1; display: none; background: $boost; }
    StateScreen #search-bar.open { display: block; }
    StateScreen #search-bar Input { border: none; height: 1; padding: 0; width: 1fr; }
    StateScreen #search-bar Label { padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.views: dict[str, StateView] = {}
        self.revealed: tuple[str, str] | None = None  # (location, address) whose secrets are shown
        self.needle = ""
        self.matches: list[tuple[str, str]] = []
        self.match = -1
        self._pending_reveal: tuple[str | None, str] | None = None
        self._status = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="state-status")
        yield Static("", id="lock-line")
        with Horizontal(id="state-body"):
            yield Tree[NodeData]("states", id="state-tree")
            yield AttributeView(id="attributes")
        with Horizontal(id="search-bar"):
            yield Label("/")
            yield Input(placeholder="part of an address; enter jumps, n/N next/previous", id="search")
            yield Label("", id="search-count")
        yield Footer()

    @property
    def tree(self) -> Tree[NodeData]:
        return self.query_one("#state-tree", Tree)

    @property
    def attributes(self) -> AttributeView:
        return self.query_one(AttributeView)

    def on_mount(self) -> None:
        self.tree.show_root = False
        self.tree.guide_depth = 3
        self.tree.focus()
        self.watch(self.app, "environment", self._environment_changed, init=False)
        self.reload(keep=False)

    # -- loading ---------------------------------------------------------------------------------------
    def reload(self, *, keep: bool = True) -> None:
        memory = self._memory() if keep else None
        self._set_status(f"loading the states of env {self.app.environment}…")
        self._load(memory)

    @work(thread=True, exclusive=True, exit_on_error=False, group="load", name="loading states")
    def _load(self, memory: Any) -> None:
        views, warnings = read_views(self.app.hub)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_views, views, warnings, memory)

    def _show_views(self, views: list[StateView], warnings: list[str], memory: Any) -> None:
        self.views = {view.location: view for view in views}
        self.tree.clear()
        for view in views:
            self.tree.root.add(self._state_label(view), NodeData("state", (view.location,)))
        self._update_lock_line()
        total = sum(len(view.state.index) for view in views)
        self._set_status(f"env {self.app.environment} · {len(views)} state{'s' * (len(views) != 1)} · "
                         f"{total} instances" + "".join(f" · {w}" for w in warnings))
        self.matches = self._find(self.needle)
        self.match = min(self.match, len(self.matches) - 1)
        if memory is not None:
            expanded, cursor = memory
            for key in expanded:
                node, exact = self._locate(key)
                if node is not None and exact:
                    self._open(node)
            node = self._locate(cursor)[0] if cursor else None
        else:
            node = self.tree.root.children[0] if views else None
            if node is not None and len(views) == 1:
                self._open(node)
        if node is not None:
            self._select(node)
        pending, self._pending_reveal = self._pending_reveal, None
        if pending is not None:
            self._reveal(*pending)

    def _memory(self) -> tuple[list[tuple[str, ...]], tuple[str, ...] | None]:
        expanded: list[tuple[str, ...]] = []

        def walk(node: TreeNode[NodeData]) -> None:
            for child in node.children:
                if child.is_expanded and child.data is not None:
                    expanded.append(child.data.key)
                    walk(child)

        walk(self.tree.root)
        cursor = self.tree.cursor_node
        return expanded, cursor.data.key if cursor is not None and cursor.data is not None else None

    def _environment_changed(self) -> None:
        self.needle, self.matches, self.match, self.revealed = "", [], -1, None
        self.reload(keep=False)

    def on_worker_state_changed(self, event: Any) -> None:
        # SectionScreen's handler (Textual calls it too, walking the MRO) shows the error modal.
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, StateLockedError) and error.location in self.views:
            from driftmgr_tui.services.state_service import LockStatus

            info = error.lock.to_terraform() if error.lock else None
            self.views[error.location].lock = LockStatus(error.location, True, False, info)
            self._update_lock_line()
        if event.worker.group == "load":
            self.views = {}
            self.tree.clear()
            self.attributes.clear("no state loaded")
            self._set_status(f"could not load the states of env {self.app.environment}: "
                             f"{describe_error(error)[0]}")

    # -- the tree --------------------------------------------------------------------------------------
    @staticmethod
    def _state_label(view: StateView) -> Text:
        label = Text(view.label, style="bold")
        label.append(f"  serial {view.state.serial} · {len(view.state.index)} instances", style="dim")
        if view.lock is not None and view.lock.locked:
            label.append("  LOCKED", style="bold red")
        return label

    def _populate(self, node: TreeNode[NodeData]) -> None:
        """Build a node's children, once, when it is first expanded (or revealed)."""
        data = node.data
        if data is None or data.loaded or data.kind == "instance" or data.location not in self.views:
            return
        data.loaded = True
        view = self.views[data.location]
        if data.kind == "state":
            for module, resources in view.modules.items():
                label = Text(module or "root module", style="bold")
                label.append(f"  {plural(len(resources), 'resource')}", style="dim")
                node.add(label, NodeData("module", (view.location, module)))
        elif data.kind == "module":
            module = data.key[1]
            for raddr, refs in view.modules.get(module, {}).items():
                short = raddr[len(module) + 1:] if module else raddr
                if len(refs) == 1 and refs[0].index_key is None:
                    node.add_leaf(self._instance_label(short, refs[0]),
                                  NodeData("instance", (view.location, module, raddr, refs[0].address)))
                else:
                    label = Text(short)
                    label.append(f"  {len(refs)} instances", style="dim")
                    node.add(label, NodeData("resource", (view.location, module, raddr)))
        else:
            _, module, raddr = data.key
            for ref in view.modules.get(module, {}).get(raddr, []):
                node.add_leaf(self._instance_label(ref.address[len(raddr):], ref),
                              NodeData("instance", (view.location, module, raddr, ref.address)))

    @staticmethod
    def _instance_label(text: str, ref: Any) -> Text:
        label = Text(text)
        if ref.tainted:
            label.append("  tainted", style="red")
        return label

    def _locate(self, key: tuple[str, ...]) -> tuple[TreeNode[NodeData] | None, bool]:
        """The node with ``key`` (building the children on the way), else its nearest existing ancestor."""
        node = self.tree.root
        while True:
            self._populate(node)
            child = next((c for c in node.children if c.data is not None and c.data.key == key[:len(c.data.key)]),
                         None)
            if child is None:
                return (None if node.is_root else node), False
            if child.data is not None and child.data.key == key:
                return child, True
            node = child

    def _open(self, node: TreeNode[NodeData]) -> None:
        self._populate(node)
        while node is not None and not node.is_root:
            if not node.is_expanded:
                node.expand()
            node = node.parent  # type: ignore[assignment]

    def _select(self, node: TreeNode[NodeData]) -> None:
        if node.parent is not None and not node.parent.is_root:
            self._open(node.parent)
        if self.tree.last_line >= 0 and node.line >= 0:  # last_line rebuilds the lines, so node.line is current
            self.tree.move_cursor(node)
        self._show(node)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[NodeData]) -> None:
        self._populate(event.node)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[NodeData]) -> None:
        self._show(event.node)

    def _show(self, node: TreeNode[NodeData]) -> None:
        data = node.data
        view = self.views.get(data.location) if data is not None else None
        if data is None or view is None:
            return self.attributes.clear("nothing selected")
        if data.kind == "instance":
            ref = view.state.index.get(data.key[3])
            if ref is None:
                return self.attributes.clear(f"{data.key[3]} is no longer in the state")
            if self.revealed != (view.location, ref.address):
                self.revealed = None
            return self.attributes.show_instance(ref, view.label, revealed=self.revealed is not None)
        if data.kind == "state":
            state, lock = view.state, view.lock
            locked = f"unknown: {view.lock_error}" if view.lock_error else (
                "LOCKED" if lock is not None and lock.locked else "not locked")
            return self.attributes.show(view.label, [
                ("location", view.location), ("serial", str(state.serial)), ("lineage", state.lineage),
                ("terraform", state.terraform_version or "unknown"), ("modules", str(len(view.modules))),
                ("instances", str(len(state.index))), ("lock", locked)])
        resources = view.modules.get(data.key[1], {})
        refs = resources.get(data.key[2], []) if data.kind == "resource" else []
        fields = ([("resources", str(len(resources))), ("instances", str(sum(map(len, resources.values()))))]
                  if data.kind == "module" else [("instances", str(len(refs)))])
        if refs:
            fields += [("type", refs[0].type), ("provider", short_provider(refs[0].provider))]
        self.attributes.show(data.key[-1] or "root module", [*fields, ("state", view.label)],
                             note="expand it to see what it holds")

    # -- revealing and finding ---------------------------------------------------------------------------
    def reveal_address(self, location: str | None, address: str) -> None:
        """Expand the tree down to ``address`` (in the state at ``location``, or any) and select it."""
        if not self.views:
            self._pending_reveal = (location, address)  # shown once the states are loaded
            return
        self._reveal(location, address)

    def _reveal(self, location: str | None, address: str) -> None:
        from driftmgr_tui.state.address import parse_address

        with contextlib.suppress(DriftmgrError):
            address = str(parse_address(address))
        views = list(self.views.values())
        if location is not None:
            same = [v for v in views if v.location == location or Path(v.location) == Path(location).absolute()]
            views = same or views
        for view in views:
            ref = view.state.index.get(address)
            if ref is not None:
                key: tuple[str, ...] = (view.location, ref.module, ref.resource_address, ref.address)
            else:
                key = next(((view.location, m, address) for m, res in view.modules.items() if address in res),
                           (view.location, address) if address in view.modules else ())
            node, exact = self._locate(key) if key else (None, False)
            if node is not None and exact:
                self._select(node)
                self.tree.focus()
                return
        self._say(f"{address} is not in the states of env {self.app.environment}", severity="warning")

    def _find(self, needle: str) -> list[tuple[str, str]]:
        needle = needle.strip().lower()
        if not needle:
            return []
        return [(view.location, ref.address) for view in self.views.values()
                for resources in view.modules.values() for refs in resources.values()
                for ref in refs if needle in ref.address.lower()]

    def _set_status(self, text: str | None = None) -> None:
        if text is not None:
            self._status = text
        search = ""
        if self.needle:
            found = f"match {self.match + 1} of {len(self.matches)}" if self.matches else "no match"
            search = f" · /{self.needle}: {found}"
        self.query_one("#state-status", Static).update(Text(self._status + search))

    def action_search(self) -> None:
        self.query_one("#search-bar").add_class("open")
        search = self.query_one("#search", Input)
        search.value = self.needle
        search.focus()

    def action_close_search(self) -> None:
        self.query_one("#search-bar").remove_class("open")
        self.tree.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "search":
            count = len(self._find(event.value))
            self.query_one("#search-count", Label).update(f"{count} match{'es' * (count != 1)}" if event.value
                                                          else "")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "search":
            return
        event.stop()
        self.action_close_search()
        self.needle = event.value.strip()
        self.matches, self.match = self._find(self.needle), -1
        self.action_step(1)

    def action_step(self, delta: int) -> None:
        """To the next (1) or previous (-1) address that matches the search."""
        if not self.matches:
            self._set_status()
            if self.needle:
                self._say(f"no address contains {self.needle!r}", severity="warning")
            return
        self.match = (self.match + delta) % len(self.matches)
        self._set_status()
        self._reveal(*self.matches[self.match])

    def action_reload(self) -> None:
        self.reload()

    def action_reveal(self) -> None:
        node = self.tree.cursor_node
        data = node.data if node is not None else None
        if node is None or data is None or data.kind != "instance":
            self._say("select an instance to reveal its sensitive values", severity="warning")
            return
        key = (data.location, data.key[3])
        if self.revealed == key:
            self.revealed = None
            self._show(node)
            return

        def answer(ok: bool | None) -> None:
            if ok and self.tree.cursor_node is node:
                self.revealed = key
                self._show(node)

        self.app.push_screen(ConfirmScreen(f"Reveal the sensitive values of {key[1]}?",
                                           "They stay on screen until you press r again or select something else.",
                                           action="Reveal"), answer)

    def _update_lock_line(self) -> None:
        lines = []
        for view in self.views.values():
            if view.lock_error:
                lines.append(f"{view.label}: lock status unknown ({view.lock_error})")
            elif view.lock is not None and view.lock.locked:
                holder = LockInfo.from_terraform(view.lock.info or {}).describe()
                stale = " · stale: its holder is gone (l to force-unlock)" if view.lock.stale else ""
                lines.append(f"LOCKED {view.label}: {holder}{stale}")
        line = self.query_one("#lock-line", Static)
        line.update(Text("\n".join(lines)))
        line.set_class(bool(lines), "locked")
        for node in self.tree.root.children:
            if node.data is not None and node.data.location in self.views:
                node.set_label(self._state_label(self.views[node.data.location]))
