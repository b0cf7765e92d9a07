"""The State browser, driven through the real app: a real state file, config, database and workers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input, TextArea

from driftmgr_tui.core.settings import load_settings
from driftmgr_tui.screens.common import ConfirmScreen, ErrorScreen, HelpScreen
from driftmgr_tui.screens.state import StateScreen
from driftmgr_tui.screens.state_modals import (
    BackupsScreen,
    ImportScreen,
    LockScreen,
    PromptScreen,
    ValidationScreen,
)
from driftmgr_tui.services.state_service import StateService, StateSource
from driftmgr_tui.state.backends.base import new_lock_info
from driftmgr_tui.state.backends.local import LocalBackend
from driftmgr_tui.state.codec import read_state
from tests.tui.pilot import drive, notes_of, settle

DB = "aws_db_instance.main"
SUBNETS = [f'module.network.aws_subnet.private["eu-west-1{z}"]' for z in "abc"]
PASSWORD = "correct-horse-battery-staple"


def browser(pilot: Pilot[Any]) -> StateScreen:
    return next(screen for screen in pilot.app.screen_stack if isinstance(screen, StateScreen))


def cursor_address(screen: StateScreen) -> str | None:
    node = screen.tree.cursor_node
    return node.data.key[-1] if node is not None and node.data is not None else None


def tree_keys(screen: StateScreen) -> list[tuple[str, ...]]:
    keys: list[tuple[str, ...]] = []

    def walk(node: Any) -> None:
        for child in node.children:
            keys.append(child.data.key)
            walk(child)

    walk(screen.tree.root)
    return keys


def addresses_in(path: Path) -> set[str]:
    return set(read_state(path.read_bytes()).index)


def service() -> StateService:
    return StateService(load_settings())


async def select(pilot: Pilot[Any], address: str) -> StateScreen:
    screen = browser(pilot)
    screen.reveal_address(None, address)
    await settle(pilot)
    assert cursor_address(screen) == address
    return screen


# -- the tree ---------------------------------------------------------------------------------------------
def test_tree_builds_children_only_when_a_node_is_expanded(state_app: Any) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = browser(pilot)
        location = str(state_app.path)
        assert "env test · 1 state · 11 instances" in str(screen.query_one("#state-status").render())
        state_node = screen.tree.root.children[0]
        assert state_node.is_expanded
        assert [c.data.key for c in state_node.children] == [(location, ""), (location, "module.network")]
        network = state_node.children[1]
        assert list(network.children) == [] and not network.data.loaded

        await pilot.press("down", "down")  # the state node, root module, module.network
        assert screen.tree.cursor_node is network
        await pilot.press("space")
        await settle(pilot)
        assert [c.label.plain.split()[0] for c in network.children] == [
            "aws_security_group.web", "aws_subnet.private", "aws_vpc.main"]
        subnets = network.children[1]
        assert subnets.data.kind == "resource" and list(subnets.children) == []
        subnets.expand()
        await settle(pilot)
        assert [c.data.key[-1] for c in subnets.children] == SUBNETS
        assert [c.label.plain for c in subnets.children] == ['["eu-west-1a"]', '["eu-west-1b"]', '["eu-west-1c"]']

    drive(state_app(), scenario)


def test_a_large_state_opens_without_building_its_resources(state_app: Any) -> None:
    data = orjson.loads(state_app.path.read_bytes())
    template = data["resources"][4]  # aws_s3_bucket.logs
    data["resources"] = [{**template, "name": f"b{i}"} for i in range(10_000)]
    state_app.path.write_bytes(orjson.dumps(data))

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = browser(pilot)
        assert len(tree_keys(screen)) == 2  # the state and its root module: nothing else is built yet
        root_module = screen.tree.root.children[0].children[0]
        root_module.expand()
        await settle(pilot)
        assert len(root_module.children) == 10_000
        await select(pilot, "aws_s3_bucket.b9999")

    drive(state_app(), scenario)


def test_switching_environment_reloads_the_tree(state_app: Any, tmp_path: Path) -> None:
    other = tmp_path / "other.tfstate"
    data = orjson.loads(state_app.path.read_bytes())
    data["resources"] = data["resources"][:2]
    other.write_bytes(orjson.dumps(data))
    config = load_settings().config_path
    config.write_text(config.read_text() + f"\n[environments.other]\nstates = [{json.dumps(str(other))}]\n")

    async def scenario(pilot: Pilot[Any]) -> None:
        pilot.app.switch_environment("other")
        await settle(pilot)
        screen = browser(pilot)
        assert "env other · 1 state · 2 instances" in str(screen.query_one("#state-status").render())
        assert screen.tree.root.children[0].data.key == (str(other),)

    drive(state_app(), scenario)


# -- attributes -------------------------------------------------------------------------------------------
def test_sensitive_values_are_shown_only_after_confirming(state_app: Any) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = await select(pilot, DB)
        view = screen.attributes
        assert "password = (sensitive value)" in view.plain and PASSWORD not in view.plain
        assert "sensitive values hidden" in view.plain

        await pilot.press("r")
        assert isinstance(pilot.app.screen, ConfirmScreen)
        await pilot.press("escape")
        assert PASSWORD not in view.plain and screen.revealed is None

        await pilot.press("r")
        await pilot.press("enter")
        assert f'password = "{PASSWORD}"' in view.plain and "SENSITIVE VALUES SHOWN" in view.plain

        await pilot.press("r")  # hiding again needs no confirmation
        assert isinstance(pilot.app.screen, StateScreen)
        assert PASSWORD not in view.plain

        await pilot.press("r", "enter")
        assert PASSWORD in view.plain
        await pilot.press("down")  # another instance: revealing does not follow the cursor
        await pilot.press("up")
        assert cursor_address(screen) == DB and PASSWORD not in view.plain

    drive(state_app(), scenario)


# -- search ----------------------------------------------------------------------------------------------
def test_search_jumps_to_matching_addresses_and_n_cycles(state_app: Any) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = browser(pilot)
        await pilot.press("slash")
        assert pilot.app.focused is screen.query_one("#search", Input)
        await pilot.press(*"subnet")
        assert str(screen.query_one("#search-count").render()) == "3 matches"
        await pilot.press("enter")
        await settle(pilot)
        assert cursor_address(screen) == SUBNETS[0]
        assert pilot.app.focused is screen.tree
        assert "/subnet: match 1 of 3" in str(screen.query_one("#state-status").render())
        assert SUBNETS[0] in screen.attributes.plain

        await pilot.press("n")
        assert cursor_address(screen) == SUBNETS[1]
        await pilot.press("N", "N")
        assert cursor_address(screen) == SUBNETS[2]  # wraps around
        await pilot.press("n")
        assert cursor_address(screen) == SUBNETS[0]

        notes = notes_of(pilot.app)
        await pilot.press("slash", "ctrl+a")
        screen.query_one("#search", Input).value = "nothing-like-this"
        await pilot.press("enter")
        assert "no match" in str(screen.query_one("#state-status").render())
        assert notes == ["no address contains 'nothing-like-this'"]
        assert cursor_address(screen) == SUBNETS[0]

    drive(state_app(), scenario)


# -- rm ---------------------------------------------------------------------------------------------------
def test_rm_previews_then_removes_the_instance_and_backs_up(state_app: Any) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = await select(pilot, DB)
        notes = notes_of(pilot.app)
        await pilot.press("d")
        await settle(pilot)
        confirm = pilot.app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert confirm.preview.splitlines()[:2] == ["terraform.tfstate: serial 42 -> 43", f"- {DB}"]
        assert DB in addresses_in(state_app.path)  # nothing written by the preview

        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(pilot.app.screen, StateScreen)
        assert DB not in addresses_in(state_app.path)
        assert read_state(state_app.path.read_bytes()).serial == 43
        assert all(key[-1] != DB for key in tree_keys(screen))
        assert "10 instances" in str(screen.query_one("#state-status").render())
        assert notes == [f"rm {DB}: terraform.tfstate serial 42 -> 43, backup 1"]
        backups = service().list_backups(StateSource(state_path=state_app.path))
        assert [(b.serial, b.reason) for b in backups] == [(42, f"before rm {DB}")]

    drive(state_app(), scenario)


def test_rm_cancelled_changes_nothing(state_app: Any) -> None:
    before = state_app.path.read_bytes()

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = await select(pilot, DB)
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(pilot.app.screen, ConfirmScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(pilot.app.screen, StateScreen)
        assert cursor_address(screen) == DB

    drive(state_app(), scenario)
    assert state_app.path.read_bytes() == before
    assert service().list_backups(StateSource(state_path=state_app.path)) == []


def test_rm_of_a_module_removes_everything_in_it(state_app: Any) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        await select(pilot, "module.network")
        await pilot.press("d")
        await settle(pilot)
        preview = pilot.app.screen.preview
        assert all(f"- {a}" in preview.splitlines() for a in SUBNETS)
        await pilot.press("enter")
        await settle(pilot)
        assert not any(a.startswith("module.network") for a in addresses_in(state_app.path))

    drive(state_app(), scenario)


# -- mv ---------------------------------------------------------------------------------------------------
def test_mv_asks_for_the_destination_previews_and_moves(state_app: Any) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = await select(pilot, "aws_s3_bucket.logs")
        await pilot.press("m")
        prompt = pilot.app.screen
        assert isinstance(prompt, PromptScreen)
        assert prompt.query_one(Input).value == "aws_s3_bucket.logs"
        prompt.query_one(Input).value = ""
        await pilot.press(*"aws_s3_bucket.archive", "enter")
        await settle(pilot)
        confirm = pilot.app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert "> aws_s3_bucket.logs -> aws_s3_bucket.archive" in confirm.preview.splitlines()
        await pilot.press("enter")
        await settle(pilot)
        addresses = addresses_in(state_app.path)
        assert "aws_s3_bucket.archive" in addresses and "aws_s3_bucket.logs" not in addresses
        assert cursor_address(screen) == "aws_s3_bucket.archive"

    drive(state_app(), scenario)


def test_mv_to_another_type_is_refused_in_the_error_modal(state_app: Any) -> None:
    before = state_app.path.read_bytes()

    async def scenario(pilot: Pilot[Any]) -> None:
        await select(pilot, "aws_s3_bucket.logs")
        await pilot.press("m")
        pilot.app.screen.query_one(Input).value = "aws_iam_role.logs"
        await pilot.press("enter")
        await settle(pilot)
        error = pilot.app.screen
        assert isinstance(error, ErrorScreen)
        assert error.title_text == "mv aws_s3_bucket.logs aws_iam_role.logs (preview) failed"
        assert "resource types differ" in error.message

    drive(state_app(), scenario)
    assert state_app.path.read_bytes() == before


# -- import -----------------------------------------------------------------------------------------------
def test_import_by_id_previews_and_adds_the_instance(state_app: Any) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = await select(pilot, "module.network")
        await pilot.press("i")
        form = pilot.app.screen
        assert isinstance(form, ImportScreen)
        address = form.query_one("#import-address", Input)
        assert address.value == "module.network."  # the selected module
        address.value = "module.network.aws_s3_bucket.assets"
        form.query_one("#import-id", Input).value = "assets-bucket"
        await pilot.press("enter")
        await settle(pilot)
        confirm = pilot.app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert "+ module.network.aws_s3_bucket.assets" in confirm.preview.splitlines()
        await pilot.press("enter")
        await settle(pilot)
        state = read_state(state_app.path.read_bytes())
        assert state.index["module.network.aws_s3_bucket.assets"].attributes == {"id": "assets-bucket"}
        assert cursor_address(screen) == "module.network.aws_s3_bucket.assets"

    drive(state_app(), scenario)


def test_import_with_attributes_json_and_its_mistakes(state_app: Any) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("i")
        form = pilot.app.screen
        form.query_one("#import-address", Input).value = "aws_sqs_queue.jobs"
        form.query_one("#import-attributes", TextArea).text = '{"name": "jobs"'
        await pilot.press("enter")
        assert pilot.app.screen is form
        assert "not valid JSON" in str(form.query_one("#import-error").render())
        form.query_one("#import-attributes", TextArea).text = json.dumps({"id": "https://q/jobs", "name": "jobs"})
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        attrs = read_state(state_app.path.read_bytes()).index["aws_sqs_queue.jobs"].attributes
        assert attrs == {"id": "https://q/jobs", "name": "jobs"}

    drive(state_app(), scenario)


# -- validate ---------------------------------------------------------------------------------------------
def test_validate_lists_the_problems(state_app: Any) -> None:
    data = orjson.loads(state_app.path.read_bytes())
    data["resources"][1]["instances"][0]["dependencies"] = ["aws_kms_key.gone"]
    state_app.path.write_bytes(orjson.dumps(data))

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("v")
        await settle(pilot)
        modal = pilot.app.screen
        assert isinstance(modal, ValidationScreen)
        codes = [p.code for p in modal.report.problems]
        assert "dangling-dependency" in codes
        table = modal.query_one(DataTable)
        assert table.row_count == len(codes)
        assert str(modal.query_one("#validation-title").render()).startswith("Validation of terraform.tfstate: valid")
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, StateScreen)

    drive(state_app(), scenario)


# -- backups ----------------------------------------------------------------------------------------------
def test_backups_are_listed_and_one_can_be_restored(state_app: Any) -> None:
    service().rm(StateSource(state_path=state_app.path), [DB])  # serial 42 -> 43, backup 1 holds serial 42

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = browser(pilot)
        await pilot.press("b")
        await settle(pilot)
        modal = pilot.app.screen
        assert isinstance(modal, BackupsScreen)
        table = modal.query_one(DataTable)
        row = table.get_row_at(0)
        assert [str(cell) for cell in (row[0], row[2], row[3], row[4])] == ["1", "42", "11", f"before rm {DB}"]
        await pilot.press("r")
        await settle(pilot)
        confirm = pilot.app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert confirm.preview.splitlines()[:2] == ["terraform.tfstate: serial 43 -> 44", f"+ {DB}"]
        await pilot.press("enter")
        await settle(pilot)
        state = read_state(state_app.path.read_bytes())
        assert DB in state.index and state.serial == 44
        assert "11 instances" in str(screen.query_one("#state-status").render())

    drive(state_app(), scenario)


def test_no_backups_yet(state_app: Any) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(pilot.app.screen, BackupsScreen)
        assert "no backups" in str(pilot.app.screen.query_one("#backups-none").render())

    drive(state_app(), scenario)


# -- locks ------------------------------------------------------------------------------------------------
def test_a_held_lock_is_shown_and_writes_are_refused(state_app: Any) -> None:
    holder = LocalBackend(state_app.path)
    lock = holder.lock(new_lock_info("OperationTypeApply", str(state_app.path)))
    before = state_app.path.read_bytes()
    try:
        async def scenario(pilot: Pilot[Any]) -> None:
            screen = browser(pilot)
            line = str(screen.query_one("#lock-line").render())
            assert line.startswith(f"LOCKED terraform.tfstate: ID {lock.id}, held by {lock.who}")
            assert "for OperationTypeApply" in line and "stale" not in line
            assert screen.query_one("#lock-line").display

            await pilot.press("l")
            await settle(pilot)
            modal = pilot.app.screen
            assert isinstance(modal, LockScreen)
            fields = str(modal.query_one("#lock-fields").render())
            assert lock.id in fields and "no: its holder is alive" in fields
            await pilot.press("escape")

            await select(pilot, DB)
            await pilot.press("d")
            await settle(pilot)
            await pilot.press("enter")  # confirm the rm: the write finds the lock
            await settle(pilot)
            error = pilot.app.screen
            assert isinstance(error, ErrorScreen)
            assert error.title_text == f"rm {DB} failed"
            assert f"is locked (ID {lock.id}, held by {lock.who}" in error.message
            await pilot.press("escape")

            await pilot.press("l")  # a live holder's lock cannot be broken, even when forced
            await settle(pilot)
            await pilot.press("f")
            pilot.app.screen.query_one(Input).value = lock.id
            await pilot.pause()
            await pilot.press("enter")
            await settle(pilot)
            error = pilot.app.screen
            assert isinstance(error, ErrorScreen)
            assert error.title_text == "force-unlock of terraform.tfstate failed"
            assert "a live process holds the file lock" in error.message

        drive(state_app(), scenario)
    finally:
        holder.unlock(lock.id)
    assert state_app.path.read_bytes() == before


def test_force_unlock_needs_the_lock_id_typed(state_app: Any) -> None:
    lock_id = "6f1d2a4e-0b3c-4d5e-8f90-a1b2c3d4e5f6"
    info_path = state_app.path.parent / ".terraform.tfstate.lock.info"
    info_path.write_bytes(orjson.dumps({"ID": lock_id, "Operation": "OperationTypeApply", "Who": "ci@runner-7",
                                        "Created": "2024-05-01T10:00:00Z", "Version": "1.9.0"}))

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = browser(pilot)
        assert "stale: its holder is gone" in str(screen.query_one("#lock-line").render())
        await pilot.press("l")
        await settle(pilot)
        assert "yes: no live process holds it" in str(pilot.app.screen.query_one("#lock-fields").render())
        await pilot.press("f")
        confirm = pilot.app.screen
        assert isinstance(confirm, ConfirmScreen) and confirm.typed == lock_id
        ok = confirm.query_one("#ok", Button)
        assert ok.disabled
        await pilot.press(*"6f1d", "enter")
        assert pilot.app.screen is confirm and ok.disabled and info_path.exists()
        confirm.query_one(Input).value = lock_id
        await pilot.pause()
        assert not ok.disabled
        await pilot.press("enter")
        await settle(pilot)
        assert not info_path.exists()
        assert not screen.query_one("#lock-line").display

    drive(state_app(), scenario)


# -- read-only --------------------------------------------------------------------------------------------
def test_read_only_hides_and_refuses_the_destructive_actions(state_app: Any) -> None:
    before = state_app.path.read_bytes()
    service().rm(StateSource(state_path=state_app.path), ["aws_iam_role.deploy"])
    after_rm = state_app.path.read_bytes()
    assert after_rm != before

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = await select(pilot, DB)
        bindings = screen.active_bindings
        for key in ("d", "m", "i"):
            assert key not in bindings or not bindings[key].enabled
        for key in ("slash", "r", "v", "b", "l"):
            assert bindings[key].enabled
        notes = notes_of(pilot.app)
        await pilot.press("d", "m", "i")
        await settle(pilot)
        assert isinstance(pilot.app.screen, StateScreen)
        screen.action_remove()
        screen.action_move()
        await settle(pilot)
        assert isinstance(pilot.app.screen, StateScreen)
        assert notes == ["read-only mode: rm is not allowed", "read-only mode: mv is not allowed"]

        await pilot.press("b")
        await settle(pilot)
        modal = pilot.app.screen
        assert isinstance(modal, BackupsScreen)
        assert "r" not in modal.active_bindings and not modal.query_one("#restore").display
        await pilot.press("r", "enter")
        await settle(pilot)
        assert pilot.app.screen is modal

    drive(state_app(read_only=True), scenario)
    assert state_app.path.read_bytes() == after_rm


def test_help_lists_the_bindings_with_their_descriptions(state_app: Any) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("question_mark")
        assert isinstance(pilot.app.screen, HelpScreen)
        text = "\n".join(str(s.render()) for s in pilot.app.screen.query("Static"))
        for description in ("Search", "Next match", "Previous match", "Reveal", "Remove", "Move", "Import",
                            "Validate", "Backups", "Locks"):
            assert description in text

    drive(state_app(), scenario)


# -- errors -----------------------------------------------------------------------------------------------
def test_a_broken_state_file_shows_the_error_modal(state_app: Any) -> None:
    state_app.path.write_text('{"version": 4, "serial": ')

    async def scenario(pilot: Pilot[Any]) -> None:
        error = pilot.app.screen
        assert isinstance(error, ErrorScreen)
        assert error.title_text == "loading states failed"
        assert str(state_app.path) in error.message
        await pilot.press("escape")
        screen = browser(pilot)
        assert "could not load the states of env test" in str(screen.query_one("#state-status").render())
        assert list(screen.tree.root.children) == []
        notes = notes_of(pilot.app)
        await pilot.press("v")
        assert notes == ["no state is loaded"]

    drive(state_app(), scenario)


# -- reveal_address ---------------------------------------------------------------------------------------
def test_open_state_address_expands_to_the_instance_and_selects_it(state_app: Any) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        pilot.app.open_state_address(str(state_app.path), SUBNETS[1])
        await settle(pilot)
        screen = browser(pilot)
        node = screen.tree.cursor_node
        assert node.data.key[-1] == SUBNETS[1]
        assert node.parent.is_expanded and node.parent.parent.is_expanded
        assert node.line >= 0 and SUBNETS[1] in screen.attributes.plain

        notes = notes_of(pilot.app)
        screen.reveal_address(None, "aws_instance.nope")
        assert notes == ["aws_instance.nope is not in the states of env test"]
        assert cursor_address(screen) == SUBNETS[1]

    drive(state_app(), scenario)


# -- snapshots --------------------------------------------------------------------------------------------
async def _db_selected(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    await select(pilot, DB)


async def _rm_preview_open(pilot: Pilot[Any]) -> None:
    await _db_selected(pilot)
    await pilot.press("d")
    await settle(pilot)


def test_snapshot_instance_selected_120x40(state_app: Any, snap_compare: Any) -> None:
    assert snap_compare(state_app(), terminal_size=(120, 40), run_before=_db_selected)


def test_snapshot_instance_selected_80x24(state_app: Any, snap_compare: Any) -> None:
    assert snap_compare(state_app(), terminal_size=(80, 24), run_before=_db_selected)


def test_snapshot_rm_preview_120x40(state_app: Any, snap_compare: Any) -> None:
    assert snap_compare(state_app(), terminal_size=(120, 40), run_before=_rm_preview_open)


def test_snapshot_rm_preview_80x24(state_app: Any, snap_compare: Any) -> None:
    assert snap_compare(state_app(), terminal_size=(80, 24), run_before=_rm_preview_open)
