"""The drift explorer, driven through the real app: a real state file, config, database, saved reports and
workers (and a moto account for the rescan)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, ProgressBar, SelectionList, Static, TextArea

from driftmgr_tui.app import DriftmgrApp
from driftmgr_tui.core.db import open_database
from driftmgr_tui.core.settings import load_settings
from driftmgr_tui.discovery.registry import match_key
from driftmgr_tui.drift.history import ReportMeta, save_report
from driftmgr_tui.drift.model import CHANGED, MISSING, UNMANAGED, DetectionResult, FieldDiff, Finding
from driftmgr_tui.screens.common import ConfirmScreen, ErrorScreen
from driftmgr_tui.screens.drift import DriftScreen
from driftmgr_tui.screens.drift_modals import FacetScreen, FieldScreen
from driftmgr_tui.screens.state import StateScreen
from driftmgr_tui.services.drift_view import COLUMNS
from driftmgr_tui.services.hub import ServiceHub
from driftmgr_tui.widgets.item_table import ItemTable
from tests._fixtures.drift_estate import build_estate, plant_drift
from tests.tui.conftest import EXAMPLE_STATE
from tests.tui.pilot import drive, notes_of, plain, settle

# The state, under the test's working directory: the explorer shows its location relative to it, so no
# temporary path is on screen (snapshots stay the same from run to run).
STATE = "live/terraform.tfstate"
FIRST = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
SECOND = datetime(2025, 3, 8, 9, 30, tzinfo=UTC)
REGION = "eu-west-1"
ACCOUNT = "123456789012"

SG_WEB = "module.network.aws_security_group.web"
WEB0 = "aws_instance.web[0]"


def findings(location: str) -> list[Finding]:
    """Twenty findings of every kind and severity; the managed ones are examples/terraform.tfstate's, in the
    state at ``location`` (absolute, as detection records it)."""

    def _finding(kind: str, rtype: str, rid: str, severity: str, *, address: str | None = None,
                 module: str = "", name: str | None = None, diffs: tuple[FieldDiff, ...] = ()) -> Finding:
        return Finding(kind=kind, terraform_type=rtype, terraform_id=rid, match_key=match_key(rtype, rid),
                       provider="aws", address=address, module=module, account=ACCOUNT, region=REGION,
                       name=name, state=location if address else None, diffs=list(diffs), severity=severity)

    return [
        _finding(CHANGED, "aws_security_group", "sg-0123456789abcdef0", "critical", address=SG_WEB,
                 module="module.network", name="web", diffs=(
                     FieldDiff("ingress", ["tcp 443-443 10.0.0.0/16"],
                               ["tcp 22-22 0.0.0.0/0", "tcp 443-443 10.0.0.0/16"], "critical"),)),
        _finding(CHANGED, "aws_db_instance", "db-ABCDEFGHIJKLMNOPQRSTUVWXY", "high", address="aws_db_instance.main",
                 name="prod-main", diffs=(FieldDiff("publicly_accessible", False, True, "high"),)),
        _finding(CHANGED, "aws_iam_role", "deploy", "medium", address="aws_iam_role.deploy", name="deploy",
                 diffs=(FieldDiff("max_session_duration", 3600, 7200, "medium"),)),
        _finding(CHANGED, "aws_s3_bucket", "acme-prod-logs", "low", address="aws_s3_bucket.logs",
                 name="acme-prod-logs", diffs=(FieldDiff("tags.Owner", "platform", "data", "low"),
                                               FieldDiff("tags.CostCenter", None, "cc-1234", "low"))),
        _finding(CHANGED, "aws_vpc", "vpc-0a1b2c3d4e5f60718", "info", address="module.network.aws_vpc.main",
                 module="module.network", diffs=(FieldDiff("enable_dns_hostnames", True, False, "info"),)),
        _finding(MISSING, "aws_instance", "i-0abc023456789def0", "high", address=WEB0),
        _finding(MISSING, "aws_subnet", "subnet-02f3e2d1c0b9a827", "medium", module="module.network",
                 address='module.network.aws_subnet.private["eu-west-1c"]'),
        _finding(MISSING, "aws_route53_record", "Z0123456789ABCDEFGHIJ_www.example.com_A", "low",
                 address="aws_route53_record.www"),
        _finding(UNMANAGED, "aws_iam_role", "break-glass", "critical", name="break-glass"),
        _finding(UNMANAGED, "aws_s3_bucket", "acme-public-share", "critical", name="acme-public-share"),
        _finding(UNMANAGED, "aws_iam_user", "temp-admin", "high", name="temp-admin"),
        _finding(UNMANAGED, "aws_security_group", "sg-0feedface0000001", "high", name="hand-made"),
        _finding(UNMANAGED, "aws_db_instance", "db-SHADOWCOPY", "high", name="shadow-copy"),
        _finding(UNMANAGED, "aws_s3_bucket", "acme-shadow-exports", "medium", name="acme-shadow-exports"),
        _finding(UNMANAGED, "aws_iam_user", "ci-bot", "medium", name="ci-bot"),
        _finding(UNMANAGED, "aws_instance", "i-0deadbeef0000001", "medium", name="scratch-1"),
        _finding(UNMANAGED, "aws_instance", "i-0deadbeef0000002", "medium", name="scratch-2"),
        _finding(UNMANAGED, "aws_s3_bucket", "acme-tmp-upload", "low", name="acme-tmp-upload"),
        _finding(UNMANAGED, "aws_subnet", "subnet-0aaaabbbbcccc0001", "low"),
        _finding(UNMANAGED, "aws_s3_bucket", "acme-scratch", "info", name="acme-scratch"),
    ]


def result_of(items: list[Finding], *, managed: int) -> DetectionResult:
    kinds = [f.kind for f in items]
    return DetectionResult(findings=items, managed=managed, unmanaged=kinds.count(UNMANAGED),
                           missing=kinds.count(MISSING), changed=kinds.count(CHANGED),
                           cloud_total=managed + kinds.count(UNMANAGED))


def save(environment: str, items: list[Finding], *, managed: int, now: datetime) -> int:
    states = sorted({f.state for f in items if f.state})
    meta = ReportMeta(environment=environment, engine="native", sources={"states": states})
    return save_report(open_database(load_settings()), result_of(items, managed=managed), meta, now=now)


@dataclass
class Explorer:
    """Environment ``test`` (one state, ``path``) with two saved reports; ``report`` is the latest."""

    path: Path
    first: int
    report: int

    def app(self, *, read_only: bool = False, environment: str = "test") -> DriftmgrApp:
        return DriftmgrApp(ServiceHub(environment=environment, read_only=read_only), initial="drift")


def make_explorer(tmp_path: Path, isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch, *,
                  reports: bool = True) -> Explorer:
    """Environment ``test`` whose one state is a copy of examples/terraform.tfstate at ``STATE`` under
    ``tmp_path`` (the working directory from now on), and, unless ``reports`` is false, its two reports."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DRIFTMGR_THEME", "textual-dark")  # the same colours on every terminal
    path = tmp_path / STATE
    path.parent.mkdir()
    shutil.copyfile(EXAMPLE_STATE, path)
    (isolated_dirs / "config.toml").write_text(f"[environments.test]\nstates = [{json.dumps(str(path))}]\n")
    first = report = 0
    if reports:
        everything = findings(str(path))
        earlier = [f for f in everything if f.terraform_id in (
            "sg-0123456789abcdef0", "acme-prod-logs", "i-0abc023456789def0", "temp-admin", "acme-shadow-exports")]
        first = save("test", earlier, managed=9, now=FIRST)
        report = save("test", everything, managed=8, now=SECOND)
    return Explorer(path, first, report)


@pytest.fixture
def explorer(tmp_path: Path, isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> Explorer:
    return make_explorer(tmp_path, isolated_dirs, monkeypatch)


# -- reading the screen -------------------------------------------------------------------------------------
def explorer_screen(pilot: Pilot[Any]) -> DriftScreen:
    return next(screen for screen in pilot.app.screen_stack if isinstance(screen, DriftScreen))


def summary(screen: DriftScreen) -> str:
    return plain(screen.query_one("#summary", Static))


def status(screen: DriftScreen) -> str:
    return plain(screen.query_one("#status", Static))


def detail(screen: DriftScreen) -> str:
    return plain(screen.query_one("#detail-body", Static))


def history(text: str) -> list[list[str]]:
    """The rows of the detail pane's history table, split into words."""
    lines = [line.strip() for line in text.splitlines()]
    return [line.split() for line in lines[lines.index("history") + 2:] if line]


def rows(screen: DriftScreen) -> list[tuple[str, ...]]:
    table = screen.query_one(ItemTable)
    assert table.source is screen.view or screen.view is None
    return [screen.view.row(i) for i in range(table.row_count)] if screen.view is not None else []


def column(screen: DriftScreen, name: str) -> list[str]:
    index = [title for title, _ in COLUMNS].index(name)
    return [row[index] for row in rows(screen)]


def current(screen: DriftScreen) -> tuple[str, ...]:
    return screen.view.row(screen.query_one(ItemTable).cursor_row)


async def cursor_to(pilot: Pilot[Any], terraform_id: str) -> DriftScreen:
    """Put the table's cursor on the row of ``terraform_id`` with the keys, and wait for its detail."""
    screen = explorer_screen(pilot)
    target = column(screen, "ID").index(terraform_id)
    table = screen.query_one(ItemTable)
    await pilot.press(*["down" if target > table.cursor_row else "up"] * abs(target - table.cursor_row))
    await settle(pilot)
    assert current(screen)[3] == terraform_id
    return screen


async def type_filter(pilot: Pilot[Any], text: str, *, keys: bool = False) -> None:
    """Open the filter box (``/``) unless it has the focus, and put ``text`` in it: typed key by key, or as a
    paste would (one change)."""
    box = explorer_screen(pilot).query_one("#filter", Input)
    if pilot.app.focused is not box:
        await pilot.press("slash")
    assert pilot.app.focused is box
    if keys:
        box.value = ""
        await pilot.press(*text)
    else:
        box.value = text
    await settle(pilot)


def ignore_rules() -> list[tuple[str | None, str, str | None]]:
    rows_ = ServiceHub(environment="test").drift.list_ignore_rules("test")
    return [(r.environment, r.rule, r.reason) for r in rows_]


# -- opening ------------------------------------------------------------------------------------------------
def test_opens_on_the_latest_report(explorer: Explorer) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = explorer_screen(pilot)
        header = pilot.app.hub.drift.report_header(explorer.report)["summary"]
        assert header["coverage"] == round(100 * 8 / (8 + 12 + 3), 2)
        assert summary(screen).splitlines() == [
            f"report {explorer.report} · test · 2025-03-08 09:30 · managed 8 · coverage {header['coverage']}%",
            "changed 5  missing 3  unmanaged 12   critical 3  high 5  medium 6  low 4  info 2",
        ]
        assert screen.query_one(ItemTable).row_count == 20
        assert status(screen) == "20 of 20 items · sort severity"
        assert pilot.app.focused is screen.query_one(ItemTable)
        assert rows(screen)[0] == ("critical", "changed", "aws_security_group", "sg-0123456789abcdef0", SG_WEB,
                                   REGION, "2025-03-01 09:00")
        assert column(screen, "Severity") == ["critical"] * 3 + ["high"] * 5 + ["medium"] * 6 + ["low"] * 4 \
            + ["info"] * 2

        text = detail(screen)
        lines = [line.rstrip() for line in text.splitlines()]
        assert lines[0] == f" CRITICAL  changed {SG_WEB}"
        assert lines[1] == "aws_security_group  sg-0123456789abcdef0"
        assert lines[2] == f"aws · {ACCOUNT} · {REGION}  ·  state {STATE}"
        assert lines[3] == "first seen 2025-03-01 09:00 · persisting"
        diff = next(line for line in lines if line.startswith("ingress"))
        assert '"tcp 443-443 10.0.0.0/16"' in diff and '"tcp 22-22 0.0.0.0/0"' in diff
        assert history(text) == [
            [str(explorer.first), "2025-03-01", "09:00", "new", "ingress"],
            [str(explorer.report), "2025-03-08", "09:30", "persisting", "ingress"],
        ]

        await pilot.press("down")  # the detail follows the cursor
        await settle(pilot)
        text = detail(screen)
        assert text.startswith(" CRITICAL  unmanaged aws_iam_role.break-glass")
        assert "In the cloud, in no state of this environment." in text
        assert text.splitlines()[2].rstrip() == f"aws · {ACCOUNT} · {REGION}"  # in no state
        assert history(text) == [[str(explorer.report), "2025-03-08", "09:30", "new", "-"]]

    drive(explorer.app(), scenario)


def test_no_report_yet_says_how_to_make_one(tmp_path: Path, isolated_dirs: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    explorer = make_explorer(tmp_path, isolated_dirs, monkeypatch, reports=False)

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = explorer_screen(pilot)
        assert summary(screen) == ("No drift report for environment test yet. Press r to scan, or run "
                                   "driftmgr scan.")
        assert screen.query_one(ItemTable).row_count == 0
        assert status(screen) == ""
        assert detail(screen).strip() == "Select an item to see what differs."
        notes = notes_of(pilot.app)
        await pilot.press("space", "s", "S", "f", "i", "I", "o", "a")
        await settle(pilot)
        assert pilot.app.screen is screen
        assert notes == ["no item selected"] * 3 + ["mark items (space) or select one first"]
        assert ignore_rules() == [] and pilot.app.hub.remediation.list_plans() == []

    drive(explorer.app(), scenario)


# -- filter, facets, sort -----------------------------------------------------------------------------------
def test_filter_text_and_tokens_narrow_the_rows_and_escape_clears(explorer: Explorer) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = explorer_screen(pilot)
        box = screen.query_one("#filter", Input)
        assert not box.display
        await pilot.press("slash")
        assert box.display and pilot.app.focused is box

        await type_filter(pilot, "acme", keys=True)
        assert sorted(column(screen, "ID")) == ["acme-prod-logs", "acme-public-share", "acme-scratch",
                                                "acme-shadow-exports", "acme-tmp-upload"]
        assert status(screen) == "5 of 20 items · sort severity · filter: acme"

        await type_filter(pilot, "kind:missing", keys=True)
        assert column(screen, "Kind") == ["missing"] * 3
        assert column(screen, "Address / name") == [WEB0, 'module.network.aws_subnet.private["eu-west-1c"]',
                                                    "aws_route53_record.www"]
        await type_filter(pilot, "sev:critical")
        assert column(screen, "ID") == ["sg-0123456789abcdef0", "break-glass", "acme-public-share"]
        await type_filter(pilot, "kind:unmanaged sev:critical")
        assert column(screen, "ID") == ["break-glass", "acme-public-share"]
        await type_filter(pilot, "module:network kind:changed,missing")
        assert sorted(column(screen, "Type")) == ["aws_security_group", "aws_subnet", "aws_vpc"]
        await type_filter(pilot, "no-such-thing")
        assert rows(screen) == [] and status(screen) == "0 of 20 items · sort severity · filter: no-such-thing"
        assert detail(screen).strip() == "Select an item to see what differs."

        await pilot.press("enter")  # back to the table, the filter stays
        assert pilot.app.focused is screen.query_one(ItemTable)
        assert box.display and box.value == "no-such-thing"
        await pilot.press("escape")
        await settle(pilot)
        assert box.value == "" and not box.display
        assert len(rows(screen)) == 20 and status(screen) == "20 of 20 items · sort severity"
        assert detail(screen).startswith(f" CRITICAL  changed {SG_WEB}")

    drive(explorer.app(), scenario)


def test_keys_typed_right_after_slash_go_to_the_filter(explorer: Explorer) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = explorer_screen(pilot)
        box = screen.query_one("#filter", Input)
        # queued at once, as a terminal hands over a fast typist's keys: none may reach the table (i: ignore)
        for character in "/kind:missing":
            pilot.app.post_message(events.Key({"/": "slash", ":": "colon"}.get(character, character), character))
        await settle(pilot)
        assert pilot.app.screen is screen and pilot.app.focused is box
        assert box.value == "kind:missing" and column(screen, "Kind") == ["missing"] * 3

        box.value = "role"
        await pilot.press("slash")  # in the box, "/" is text (ARNs, Azure ids)
        assert box.value == "role/" and pilot.app.focused is box
        assert ignore_rules() == []

    drive(explorer.app(), scenario)


async def _check_facet(pilot: Pilot[Any], value: str) -> FacetScreen:
    await pilot.press("f")
    modal = pilot.app.screen
    assert isinstance(modal, FacetScreen)
    choices = modal.query_one(SelectionList)
    values = [choices.get_option_at_index(i).value for i in range(choices.option_count)]
    choices.highlighted = values.index(value)
    await pilot.press("space")
    return modal


def test_facets_modal_applies_and_cancels(explorer: Explorer) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = explorer_screen(pilot)
        await pilot.press("f")
        modal = pilot.app.screen
        assert isinstance(modal, FacetScreen)
        prompts = [str(modal.query_one(SelectionList).get_option_at_index(i).prompt)
                   for i in range(modal.query_one(SelectionList).option_count)]
        assert prompts[:9] == ["kind: changed  (5)", "kind: missing  (3)", "kind: unmanaged  (12)",
                               "severity: critical  (3)", "severity: high  (5)", "severity: medium  (6)",
                               "severity: low  (4)", "severity: info  (2)", "provider: aws  (20)"]
        assert "module: module.network  (3)" in prompts and "module: (root)  (17)" in prompts
        await pilot.press("escape")
        assert pilot.app.screen is screen

        modal = await _check_facet(pilot, "severity\0critical")
        await pilot.press("escape")  # cancelled: nothing applies
        assert len(rows(screen)) == 20 and screen.view.facets() == {}

        modal = await _check_facet(pilot, "severity\0critical")
        await pilot.press("enter")
        await settle(pilot)
        assert pilot.app.screen is screen
        assert column(screen, "Severity") == ["critical"] * 3
        assert status(screen) == "3 of 20 items · sort severity"
        assert screen.view.facets() == {"severity": frozenset({"critical"})}

        await pilot.press("f")  # the modal shows what is checked; counts take the filter into account
        modal = pilot.app.screen
        assert modal.query_one(SelectionList).selected == ["severity\0critical"]
        await pilot.press("escape")
        await type_filter(pilot, "kind:unmanaged")
        assert column(screen, "ID") == ["break-glass", "acme-public-share"]
        await pilot.press("enter", "f")
        modal = pilot.app.screen
        choices = modal.query_one(SelectionList)
        prompts = [str(choices.get_option_at_index(i).prompt) for i in range(choices.option_count)]
        # each facet's counts: under the filter and the other facets (the kind token counts apart)
        assert prompts[:5] == ["kind: changed  (1)", "kind: missing  (0)", "kind: unmanaged  (2)",
                               "severity: critical  (2)", "severity: high  (3)"]

        choices.deselect_all()  # nothing checked: no facet
        await pilot.press("enter")
        await settle(pilot)
        assert len(rows(screen)) == 12 and screen.view.facets() == {}

    drive(explorer.app(), scenario)


def test_s_cycles_the_sort_keys_and_capital_s_reverses(explorer: Explorer) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = explorer_screen(pilot)
        await pilot.press("s")
        assert status(screen) == "20 of 20 items · sort kind"
        assert column(screen, "Kind") == ["changed"] * 5 + ["missing"] * 3 + ["unmanaged"] * 12
        assert column(screen, "Severity")[:5] == ["critical", "high", "medium", "low", "info"]

        await pilot.press("s")
        assert status(screen) == "20 of 20 items · sort type"
        types = column(screen, "Type")
        assert types == sorted(types) and types[0] == "aws_db_instance"

        await pilot.press("S")
        assert status(screen) == "20 of 20 items · sort type ↑"
        assert column(screen, "Type") == sorted(types, reverse=True)

        await pilot.press("s")  # the next key keeps the direction
        assert status(screen) == "20 of 20 items · sort id ↑"
        ids = column(screen, "ID")
        assert ids == sorted(ids, reverse=True)
        await pilot.press("S")
        assert column(screen, "ID") == sorted(ids)

        for key in ("address", "first_seen", "region", "severity"):
            await pilot.press("s")
            assert status(screen) == f"20 of 20 items · sort {key}"
        assert column(screen, "Severity")[0] == "critical" and column(screen, "Severity")[-1] == "info"

        await pilot.press("s", "s", "s", "s", "s")  # first seen: the five items of the first report lead
        assert status(screen) == "20 of 20 items · sort first_seen"
        assert column(screen, "First seen") == ["2025-03-01 09:00"] * 5 + ["2025-03-08 09:30"] * 15

    drive(explorer.app(), scenario)


# -- marks and plans ----------------------------------------------------------------------------------------
def test_marked_items_go_to_a_new_remediation_plan(explorer: Explorer) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = explorer_screen(pilot)
        table = screen.query_one(ItemTable)
        notes = notes_of(pilot.app)
        marked = []
        for terraform_id in ("sg-0123456789abcdef0", "i-0abc023456789def0", "break-glass"):
            await cursor_to(pilot, terraform_id)
            await pilot.press("space")
            marked.append(current(screen))
        assert status(screen) == "20 of 20 items · 3 marked · sort severity"
        await pilot.press("space")  # unmark, mark again
        assert status(screen) == "20 of 20 items · 2 marked · sort severity"
        await pilot.press("space")
        assert len(table.marked) == 3

        await pilot.press("a")
        await settle(pilot)
        assert isinstance(pilot.app.screen, DriftScreen)
        plans = pilot.app.hub.remediation.list_plans()
        assert [(p["environment"], p["report_id"], p["status"]) for p in plans] == [
            ("test", explorer.report, "draft")]
        plan = pilot.app.hub.remediation.get_plan(plans[0]["id"])
        assert sorted((a["kind"], a["terraform_type"], a["terraform_id"], a["address"] or a["terraform_id"])
                      for a in plan["actions"]) == sorted((kind, rtype, rid, target)
                                                          for _sev, kind, rtype, rid, target, *_ in marked)
        assert {a["state"] for a in plan["actions"] if a["kind"] != "unmanaged"} == {str(explorer.path)}
        assert notes == [f"remediation plan {plan['id']}: 3 action(s), risk {plan['risk']}; review it in "
                         "Remediation (key 2)"]
        assert table.marked == frozenset() and "marked" not in status(screen)

        await cursor_to(pilot, "acme-prod-logs")  # nothing marked: the item under the cursor
        await pilot.press("a")
        await settle(pilot)
        plan = pilot.app.hub.remediation.get_plan("latest")
        assert [(a["kind"], a["terraform_id"]) for a in plan["actions"]] == [("changed", "acme-prod-logs")]

    drive(explorer.app(), scenario)


# -- ignore rules -------------------------------------------------------------------------------------------
def test_ignore_item_asks_then_adds_a_database_rule(explorer: Explorer) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        await cursor_to(pilot, "break-glass")
        await pilot.press("i")
        confirm = pilot.app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert "    aws_iam_role.break-glass\n" in confirm.preview and "for environment test" in confirm.preview
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(pilot.app.screen, DriftScreen)
        assert ignore_rules() == []

        notes = notes_of(pilot.app)
        await pilot.press("i", "enter")
        await settle(pilot)
        assert ignore_rules() == [("test", "aws_iam_role.break-glass", "from the drift explorer")]
        rule_id = ServiceHub(environment="test").drift.list_ignore_rules("test")[0].id
        assert notes == [f"ignore rule {rule_id} added: aws_iam_role.break-glass"]

    drive(explorer.app(), scenario)


def test_ignore_field_picks_a_field_of_a_changed_item(explorer: Explorer) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        await cursor_to(pilot, "acme-prod-logs")
        await pilot.press("I")
        picker = pilot.app.screen
        assert isinstance(picker, FieldScreen) and picker.paths == ["tags.Owner", "tags.CostCenter"]
        await pilot.press("down", "enter")
        confirm = pilot.app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert "    aws_s3_bucket.acme-prod-logs.tags.CostCenter\n" in confirm.preview
        await pilot.press("enter")
        await settle(pilot)
        assert ignore_rules() == [("test", "aws_s3_bucket.acme-prod-logs.tags.CostCenter",
                                   "from the drift explorer")]

        await pilot.press("I", "escape")  # no field picked: nothing asked, nothing added
        await settle(pilot)
        assert isinstance(pilot.app.screen, DriftScreen) and len(ignore_rules()) == 1

        notes = notes_of(pilot.app)
        await cursor_to(pilot, "i-0abc023456789def0")
        await pilot.press("I")
        assert isinstance(pilot.app.screen, DriftScreen)
        assert notes == ["this item has no fields to ignore (it is not a changed resource)"]

    drive(explorer.app(), scenario)


# -- the state browser --------------------------------------------------------------------------------------
def test_o_opens_the_item_in_the_state_browser(explorer: Explorer) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        await cursor_to(pilot, "i-0abc023456789def0")
        await pilot.press("o")
        await settle(pilot)
        state = pilot.app.screen
        assert isinstance(state, StateScreen) and pilot.app.current_mode == "state"
        assert state.tree.cursor_node.data.key == (str(explorer.path), "", "aws_instance.web", WEB0)
        assert "i-0abc023456789def0" in state.attributes.plain

        await pilot.press("1")
        await settle(pilot)
        screen = await cursor_to(pilot, "break-glass")
        notes = notes_of(pilot.app)
        await pilot.press("o")
        assert pilot.app.screen is screen
        assert notes == ["an unmanaged resource is in no state"]

    drive(explorer.app(), scenario)


# -- rescan -------------------------------------------------------------------------------------------------
def test_rescan_discovers_detects_and_shows_the_new_report(aws: str, explorer: Explorer,
                                                           isolated_dirs: Path, tmp_path: Path) -> None:
    estate = build_estate()
    live = tmp_path / "moto.tfstate"
    live.write_text(json.dumps(estate.state()))
    with (isolated_dirs / "config.toml").open("a") as config:
        config.write(f'\n[environments.moto]\nstates = [{json.dumps(str(live))}]\nprovider = "aws"\n'
                     'regions = ["us-east-1"]\n')
    planted = plant_drift(estate)

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = explorer_screen(pilot)
        assert summary(screen).startswith("No drift report for environment moto yet.")
        notes = notes_of(pilot.app)
        await pilot.press("r")
        await settle(pilot)
        assert pilot.app.screen is screen
        bar = screen.query_one("#scan", ProgressBar)
        assert not bar.display  # shown while scanning only
        assert bar.total and bar.progress == bar.total  # every discovery task reported its end
        report = ServiceHub(environment="moto").latest_report_id()
        assert report is not None and report > explorer.report
        assert summary(screen).startswith(f"report {report} · moto · ")
        assert "changed 3  missing 2  unmanaged 3" in summary(screen)
        found = {(kind, (rtype, rid)) for _sev, kind, rtype, rid, *_ in rows(screen)}
        assert found == {(kind, key) for kind in ("changed", "missing", "unmanaged") for key in planted[kind]}
        assert notes == ["scanning aws…", f"report {report}: 3 changed, 2 missing, 3 unmanaged"]
        assert detail(screen).startswith(" CRITICAL  changed aws_security_group.web")

    drive(explorer.app(environment="moto"), scenario)


def test_a_failing_rescan_shows_the_error_modal_and_the_app_goes_on(explorer: Explorer, tmp_path: Path,
                                                                     isolated_dirs: Path) -> None:
    broken = tmp_path / "broken.tfstate"
    broken.write_text('{"version": 4, "serial": ')
    with (isolated_dirs / "config.toml").open("a") as config:
        config.write(f"\n[environments.broken]\nstates = [{json.dumps(str(broken))}]\n")

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = explorer_screen(pilot)
        await pilot.press("r")
        await settle(pilot)
        error = pilot.app.screen
        assert isinstance(error, ErrorScreen)
        assert error.title_text == "rescanning failed"
        assert str(broken) in error.message
        assert "Traceback" not in error.detail and "File \"" not in error.detail
        assert error.query_one("#error-detail", TextArea).text == error.detail
        await pilot.press("escape")
        assert pilot.app.screen is screen and pilot.app.is_running
        assert not screen.query_one("#scan", ProgressBar).display
        assert summary(screen).startswith("No drift report for environment broken yet.")

        pilot.app.switch_environment("test")  # still working: another environment loads
        await settle(pilot)
        assert summary(screen).startswith(f"report {explorer.report} · test")

    drive(explorer.app(environment="broken"), scenario)


# -- scale --------------------------------------------------------------------------------------------------
BIG = 20_000


def test_a_big_report_opens_filters_and_counts(tmp_path: Path, isolated_dirs: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    explorer = make_explorer(tmp_path, isolated_dirs, monkeypatch, reports=False)
    kinds = (CHANGED, MISSING, UNMANAGED, UNMANAGED)
    severities = ("critical", "high", "medium", "low", "info")
    big = [Finding(kind=kinds[n % 4], terraform_type="aws_s3_bucket", terraform_id=f"bucket-{n:05d}",
                   match_key=f"bucket-{n:05d}", provider="aws", account=ACCOUNT, region=REGION,
                   address=None if kinds[n % 4] == UNMANAGED else f"aws_s3_bucket.b{n}",
                   state=None if kinds[n % 4] == UNMANAGED else str(explorer.path), severity=severities[n % 5],
                   diffs=[FieldDiff("tags.Owner", "a", "b", severities[n % 5])] if n % 4 == 0 else [])
           for n in range(BIG)]
    report = save("test", big, managed=BIG // 2, now=SECOND)

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = explorer_screen(pilot)
        assert screen.view.complete and screen.view.loaded == BIG
        assert screen.query_one(ItemTable).row_count == BIG
        assert status(screen) == f"{BIG:,} of {BIG:,} items · sort severity"
        assert summary(screen).startswith(f"report {report} · test")
        assert "changed 5000  missing 5000  unmanaged 10000" in summary(screen)

        await type_filter(pilot, "kind:missing")
        assert status(screen) == f"5,000 of {BIG:,} items · sort severity · filter: kind:missing"
        await type_filter(pilot, "bucket-1234")
        assert sorted(column(screen, "ID")) == [f"bucket-1234{d}" for d in range(10)]
        await pilot.press("enter", "G")
        await settle(pilot)
        assert current(screen)[3] in detail(screen).splitlines()[1]

    drive(explorer.app(), scenario)
