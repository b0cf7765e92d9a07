"""The Discovery section, driven through the real app: a moto AWS account (in server mode), the real
discovery service and job queue, the real database, and runs started from the modal, from another service
instance on the same database (as another process would) and through a fault-injecting proxy."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from rich.console import Console
from sqlmodel import col
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static

from driftmgr_tui.app import DriftmgrApp
from driftmgr_tui.core.models import DiscoveryRun
from driftmgr_tui.discovery.model import Scope
from driftmgr_tui.screens.common import ConfirmScreen, ErrorScreen, HelpScreen
from driftmgr_tui.screens.discovery import COLUMNS, DiscoveryScreen
from driftmgr_tui.screens.discovery_modals import RunDetailScreen, StartRunScreen
from driftmgr_tui.services.discovery_service import DiscoveryService
from driftmgr_tui.services.hub import ServiceHub
from driftmgr_tui.widgets.run_progress import ProgressRow, RunProgress
from tests._fixtures.faultproxy import FaultPlan, FaultProxy
from tests.tui.conftest import EXAMPLE_STATE
from tests.tui.pilot import drive, notes_of, settle

REGIONS = ("us-east-1", "eu-west-1")
TYPES = ("aws_sns_topic", "aws_sqs_queue")
ACCOUNT = "123456789012"  # moto's


# -- the world ----------------------------------------------------------------------------------------------
def seed() -> dict[str, int]:
    """Two queues in us-east-1, one in eu-west-1 and a topic in eu-west-1: what discovery of TYPES must find."""
    for region, count in (("us-east-1", 2), ("eu-west-1", 1)):
        sqs = boto3.client("sqs", region_name=region)
        for i in range(count):
            sqs.create_queue(QueueName=f"jobs-{region}-{i}")
    boto3.client("sns", region_name="eu-west-1").create_topic(Name="alerts")
    return {"aws_sns_topic": 1, "aws_sqs_queue": 3}


@pytest.fixture
def world(tmp_path: Path, isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Environment ``test``: one state, AWS in REGIONS (what the start modal is prefilled with)."""
    monkeypatch.setenv("DRIFTMGR_THEME", "textual-dark")  # the same colours on every terminal
    path = tmp_path / "live" / "terraform.tfstate"
    path.parent.mkdir()
    shutil.copyfile(EXAMPLE_STATE, path)
    (isolated_dirs / "config.toml").write_text(
        f"[environments.test]\nstates = [{json.dumps(str(path))}]\nprovider = \"aws\"\n"
        f"regions = {json.dumps(list(REGIONS))}\n")
    return isolated_dirs


def make_app(*, read_only: bool = False, hub: ServiceHub | None = None) -> DriftmgrApp:
    return DriftmgrApp(hub or ServiceHub(environment="test", read_only=read_only), initial="discovery")


# -- reading the screen -------------------------------------------------------------------------------------
def section(pilot: Pilot[Any]) -> DiscoveryScreen:
    return next(screen for screen in pilot.app.screen_stack if isinstance(screen, DiscoveryScreen))


def table_rows(screen: DiscoveryScreen) -> list[dict[str, str]]:
    table = screen.query_one("#runs", DataTable)
    titles = [title for title, _key, _width in COLUMNS]
    return [dict(zip(titles, (str(c).strip() for c in table.get_row_at(i)), strict=True))
            for i in range(table.row_count)]


def row_of(screen: DiscoveryScreen, run_id: int) -> dict[str, str]:
    return next(r for r in table_rows(screen) if r["Run"] == str(run_id))


def status_line(screen: DiscoveryScreen) -> str:
    return str(screen.query_one("#runs-status", Static).render())


def bars(screen: DiscoveryScreen) -> dict[str, tuple[float, float, str]]:
    """The progress panel: label -> (progress, total, info line)."""
    panel = screen.query_one(RunProgress)
    return {row.label: (row.bar.progress, row.bar.total or 0, str(row.info.render()))
            for row in panel.query(ProgressRow)}


def progress_title(screen: DiscoveryScreen) -> str:
    return str(screen.query_one("#progress-title", Static).render())


def detail_text(modal: RunDetailScreen) -> str:
    """The detail's parts as plain text, 150 columns wide."""
    parts = []
    for part in ("summary", "errors", "types", "unsupported"):
        console = Console(width=150, file=io.StringIO(), color_system=None)
        console.print(modal.query_one(f"#detail-{part}", Static).content)
        parts.append(console.file.getvalue())  # type: ignore[attr-defined]
    return "\n".join(parts)


def summary_of(text: str) -> dict[str, str]:
    """The detail's summary: field -> value."""
    lines = text.split("\n\n")[0].splitlines()
    return {line[:11].strip(): line[11:].strip() for line in lines if line[:11].strip()}


def by_type(text: str) -> dict[str, int]:
    """The detail's "Resources by type" table."""
    lines = text.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("Terraform type")))
    counts = {}
    for line in lines[start + 1:]:
        words = line.split()
        if len(words) != 2 or not words[1].isdigit():
            break
        counts[words[0]] = int(words[1])
    return counts


async def until(pilot: Pilot[Any], condition: Any, what: str, *, limit: float = 30.0) -> None:
    """Let the app run until ``condition()`` holds (a bound on waiting, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        assert loop.time() < deadline, f"never happened: {what}"
        await pilot.pause(0.05)


async def start_from_modal(pilot: Pilot[Any], **fields: str) -> StartRunScreen:
    await pilot.press("s")
    await settle(pilot)
    modal = pilot.app.screen
    assert isinstance(modal, StartRunScreen)
    for name, value in fields.items():
        modal.query_one(f"#{name}", Input).value = value
    await pilot.pause()
    return modal


# -- starting a run -----------------------------------------------------------------------------------------
def test_a_run_started_from_the_modal_scans_and_shows_its_counts(aws: str, world: Path) -> None:
    expected = seed()

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = section(pilot)
        assert status_line(screen).startswith("No discovery runs yet")
        notes = notes_of(pilot.app)
        modal = await start_from_modal(pilot, types=", ".join(TYPES))
        assert modal.query_one("#regions", Input).value == "us-east-1, eu-west-1"  # from the environment
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert pilot.app.screen is screen
        run = screen.app.hub.discovery.list_runs()[0]
        assert run.status == "complete" and run.regions == list(REGIONS)
        assert notes == [f"discovery run {run.id} started: aws",
                         f"discovery run {run.id}: complete, 4 resources"]
        await until(pilot, lambda: row_of(screen, run.id)["Status"] == "complete", "the row is complete")
        row = row_of(screen, run.id)
        assert (row["Cloud"], row["Account"], row["Regions"], row["Found"], row["Errors"]) == (
            "aws", ACCOUNT, "us-east-1 +1", "4", "0")
        assert status_line(screen).startswith("1 run · 1 complete")
        # one bar per region and one for the run, all full
        assert bars(screen) == {
            "all regions": (4, 4, "4/4 tasks · 4 resources"),
            "eu-west-1": (2, 2, "2/2 tasks · 2 resources"),
            "us-east-1": (2, 2, "2/2 tasks · 2 resources"),
        }
        assert progress_title(screen).startswith(f"run {run.id} · aws {ACCOUNT} · complete · 4/4 tasks")

        await pilot.press("enter")
        await settle(pilot)
        detail = pilot.app.screen
        assert isinstance(detail, RunDetailScreen)
        text = detail_text(detail)
        assert by_type(text) == expected
        summary = summary_of(text)
        assert (summary["Account"], summary["Regions"]) == (ACCOUNT, "us-east-1, eu-west-1")
        assert summary["Scope"] == "regions us-east-1, eu-west-1 · types aws_sns_topic, aws_sqs_queue"
        assert (summary["Tasks"], summary["Resources"]) == ("4", "4")
        assert "No errors." in text
        await pilot.press("escape")
        assert pilot.app.screen is screen

    drive(make_app(), scenario)


def test_bad_credentials_open_the_error_window_and_the_run_is_failed(aws: str, world: Path) -> None:
    from tests._fixtures.moto import moto_set_auth

    moto_set_auth(aws, 0)  # every request is now refused

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = section(pilot)
        await start_from_modal(pilot, types="aws_sqs_queue")
        await pilot.press("ctrl+s")
        await settle(pilot)
        error = pilot.app.screen
        assert isinstance(error, ErrorScreen)
        assert error.title_text == "running discovery failed"
        assert error.message.startswith("aws: credentials rejected") and "Traceback" not in error.detail
        await pilot.press("escape")
        run = screen.app.hub.discovery.list_runs()[0]
        assert run.status == "failed"
        await until(pilot, lambda: table_rows(screen) and row_of(screen, run.id)["Status"] == "failed",
                    "the row says failed")
        assert row_of(screen, run.id)["Errors"] == "error"
        assert "failed · " in progress_title(screen) and "credentials rejected" in progress_title(screen)

    drive(make_app(), scenario)


# -- progress -----------------------------------------------------------------------------------------------
def gated(region: str, gate: threading.Event) -> Any:
    """An adapter factory: the real AWS adapter, whose tasks in ``region`` wait for ``gate`` (or a cancel)
    before listing, so a test sees a run half done for as long as it needs to."""
    from driftmgr_tui.discovery.aws.adapter import AwsAdapter

    def factory(scope: Scope) -> Any:
        adapter = AwsAdapter(scope)
        listing = adapter.run_task

        def run_task(task: Any, ctx: Any) -> Iterator[Any]:
            if task.region == region:
                while not gate.wait(0.02):
                    ctx.check_cancelled()
            yield from listing(task, ctx)

        adapter.run_task = run_task  # type: ignore[method-assign]
        return adapter

    return factory


def gated_hub(gate: threading.Event, region: str = "eu-west-1") -> ServiceHub:
    hub = ServiceHub(environment="test")
    hub.discovery = DiscoveryService(settings=hub.settings, engine=hub.engine, adapter_factory=gated(region, gate))
    return hub


def releasing(gate: threading.Event, scenario: Any) -> Any:
    """``scenario``, opening the gate if it fails (the app would otherwise wait for the held run on exit)."""

    async def run(pilot: Pilot[Any]) -> None:
        try:
            await scenario(pilot)
        except BaseException:
            gate.set()
            raise

    return run


async def start_gated(pilot: Pilot[Any]) -> tuple[DiscoveryScreen, int]:
    """Start a run of TYPES in REGIONS from the modal and wait until us-east-1 is done and eu-west-1 held."""
    screen = section(pilot)
    modal = await start_from_modal(pilot, types=", ".join(TYPES))
    modal.query_one("#types", Input).focus()
    await pilot.press("enter")  # in a field: starts too
    await until(pilot, lambda: bool(screen.runs), "the run is listed")
    run_id = max(screen.runs)
    await until(pilot, lambda: bars(screen).get("us-east-1", (0, 1))[0] == 2, "us-east-1 is done")
    return screen, run_id


def test_the_bars_follow_a_running_run_region_by_region(aws: str, world: Path) -> None:
    seed()
    gate = threading.Event()

    async def scenario(pilot: Pilot[Any]) -> None:
        screen, run_id = await start_gated(pilot)
        # half way: us-east-1 listed, eu-west-1 held back
        assert row_of(screen, run_id)["Status"] == "running"
        now = bars(screen)
        assert now["us-east-1"] == (2, 2, "2/2 tasks · 2 resources")
        assert now["eu-west-1"][:2] == (0, 2) and "2 running" in now["eu-west-1"][2]
        assert now["all regions"][:2] == (2, 4)
        assert f"run {run_id} · aws {ACCOUNT} · running · 2/4 tasks · 2 resources" in progress_title(screen)
        assert "1 running" in status_line(screen)
        await pilot.press("enter")  # the detail follows the run too
        detail = pilot.app.screen
        assert isinstance(detail, RunDetailScreen)
        await until(pilot, lambda: detail.run is not None, "the detail is read")
        assert detail.run.status == "running" and by_type(detail_text(detail)) == {"aws_sqs_queue": 2}
        gate.set()
        await until(pilot, lambda: detail.run is not None and detail.run.status == "complete", "detail done")
        assert by_type(detail_text(detail)) == {"aws_sns_topic": 1, "aws_sqs_queue": 3}
        await pilot.press("escape")
        await settle(pilot)
        assert row_of(screen, run_id)["Status"] == "complete" and row_of(screen, run_id)["Found"] == "4"
        assert bars(screen)["eu-west-1"] == (2, 2, "2/2 tasks · 2 resources")

    drive(make_app(hub=gated_hub(gate)), releasing(gate, scenario))


def test_a_failing_region_makes_the_run_partial_and_the_detail_says_why(aws: str, world: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    seed()
    with FaultProxy(aws, FaultPlan(failing_regions=frozenset({"eu-west-1"}))) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)

        async def scenario(pilot: Pilot[Any]) -> None:
            screen = section(pilot)
            notes = notes_of(pilot.app)
            await start_from_modal(pilot, types=", ".join(TYPES))
            await pilot.press("ctrl+s")
            await settle(pilot)
            run = screen.app.hub.discovery.list_runs()[0]
            assert run.status == "partial"
            assert notes[-1] == f"discovery run {run.id}: partial, 2 resources, 2 failed task(s)"
            await until(pilot, lambda: row_of(screen, run.id)["Status"] == "partial", "the row is partial")
            assert (row_of(screen, run.id)["Found"], row_of(screen, run.id)["Errors"]) == ("2", "2")
            assert bars(screen)["eu-west-1"][2] == "2/2 tasks · 0 resources · 2 failed"
            assert screen.query_one(RunProgress).rows["eu-west-1"].has_class("failed")
            assert not screen.query_one(RunProgress).rows["us-east-1"].has_class("failed")

            await pilot.press("enter")
            await settle(pilot)
            detail = pilot.app.screen
            assert isinstance(detail, RunDetailScreen)
            text = detail_text(detail)
            assert by_type(text) == {"aws_sqs_queue": 2}  # the healthy region's queues only
            assert summary_of(text)["Tasks"] == "4 (2 failed)" and "Errors (2)" in text
            reasons = [line for line in text.splitlines() if line.startswith("eu-west-1")]
            assert sorted(line.split()[1] for line in reasons) == ["sns", "sqs"]
            assert all("region unavailable" in line and "(HTTP 401)" in line for line in reasons), reasons
            assert "Error" not in summary_of(text)  # the run's one-line summary would only repeat them
            copied: list[str] = []
            pilot.app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
            await pilot.press("c")
            assert copied and copied[0].startswith(f"discovery run {run.id}: partial\neu-west-1/")
            assert copied[0].count("region unavailable") == 2

        drive(make_app(), scenario)


# -- runs of other processes --------------------------------------------------------------------------------
def test_a_run_of_the_cli_appears_and_finishes_without_a_key(aws: str, world: Path) -> None:
    seed()

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = section(pilot)
        assert not table_rows(screen)
        cli = subprocess.Popen([sys.executable, "-m", "driftmgr_tui.cli", "discover", "--provider", "aws",
                                "--regions", "us-east-1,eu-west-1", "--type", ",".join(TYPES), "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            await until(pilot, lambda: len(table_rows(screen)) == 1, "the CLI's run appears")
            run_id = int(table_rows(screen)[0]["Run"])
            await until(pilot, lambda: row_of(screen, run_id)["Status"] == "complete", "the run completes")
        finally:
            out, err = cli.communicate(timeout=120)
        assert cli.returncode == 0, err
        assert json.loads(out)["run"]["id"] == run_id
        assert (row_of(screen, run_id)["Found"], row_of(screen, run_id)["Account"]) == ("4", ACCOUNT)
        await until(pilot, lambda: bars(screen).get("all regions", (0, 0))[0] == 4, "its progress is read")
        assert bars(screen)["eu-west-1"] == (2, 2, "2/2 tasks · 2 resources")

    drive(make_app(), scenario)


def test_a_killed_cli_run_is_put_right_by_r_and_can_be_cancelled(world: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # an AWS endpoint that accepts connections and never answers: the CLI's run hangs in its first request
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{hung.getsockname()[1]}")

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = section(pilot)
        cli = subprocess.Popen([sys.executable, "-m", "driftmgr_tui.cli", "discover", "--provider", "aws",
                                "--regions", "us-east-1", "--type", "aws_sqs_queue"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            await until(pilot, lambda: [r["Status"] for r in table_rows(screen)] == ["running"], "the run runs")
        finally:
            cli.kill()
            cli.wait(30)
        run_id = int(table_rows(screen)[0]["Run"])
        assert row_of(screen, run_id)["Status"] == "running"  # what a dead process leaves behind
        await pilot.press("r")  # its worker is dead: the job is queued again, and the run follows it
        await settle(pilot)
        assert row_of(screen, run_id)["Status"] == "queued"
        run = screen.app.hub.discovery.get_run(run_id)
        assert f"worker {socket.gethostname()}:{cli.pid} died" in (run.error or "")
        assert "waiting for a worker" in progress_title(screen) and f"{cli.pid} died" in progress_title(screen)
        await pilot.press("c")
        await pilot.click("#ok")
        await settle(pilot)
        assert row_of(screen, run_id)["Status"] == "cancelled"

    try:
        drive(make_app(), scenario)
    finally:
        hung.close()


def test_a_failing_poll_is_said_in_the_status_line_and_r_shows_the_error(world: Path) -> None:
    other = DiscoveryService()
    queued = other.start(Scope(provider="gcp", projects=("my-project",)))  # live: polled every second

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = section(pilot)
        assert row_of(screen, queued.id)["Status"] == "queued"
        with other.engine.begin() as conn:  # the database loses the table under the running app
            conn.execute(sa.text("ALTER TABLE discovery_run RENAME TO discovery_run_gone"))
        try:
            await until(pilot, lambda: "cannot read the runs" in status_line(screen), "the poll says it failed")
            assert "no such table: discovery_run" in status_line(screen)
            assert pilot.app.screen is screen  # no window every second
            await pilot.press("r")  # asked for: the error in full
            await settle(pilot)
            assert isinstance(pilot.app.screen, ErrorScreen)
            assert pilot.app.screen.title_text == "reading the discovery runs failed"
            await pilot.press("escape")
        finally:
            with other.engine.begin() as conn:
                conn.execute(sa.text("ALTER TABLE discovery_run_gone RENAME TO discovery_run"))
        await until(pilot, lambda: "cannot read" not in status_line(screen), "the next poll reads again")
        assert status_line(screen).startswith("1 run · 1 queued")

    drive(make_app(), scenario)


# -- cancelling -----------------------------------------------------------------------------------------------
def test_cancelling_a_queued_run_started_elsewhere(aws: str, world: Path) -> None:
    other = DiscoveryService()
    done = other.run(Scope(provider="aws", regions=("us-east-1",), types=("aws_sqs_queue",)))
    queued = other.start(Scope(provider="aws", regions=("eu-west-1",), types=("aws_sqs_queue",)))

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = section(pilot)
        assert [r["Status"] for r in table_rows(screen)] == ["queued", "complete"]
        notes = notes_of(pilot.app)
        await pilot.press("j")  # the finished run cannot be cancelled
        assert screen.selected == done.id
        await pilot.press("c")
        assert notes == [f"run {done.id} is already complete"]
        await pilot.press("k", "c")
        confirm = pilot.app.screen
        assert isinstance(confirm, ConfirmScreen) and confirm.title_text == f"Cancel discovery run {queued.id}?"
        await pilot.press("escape")  # not cancelled after all
        await settle(pilot)
        assert other.get_run(queued.id).status == "queued"
        await pilot.press("c")
        await pilot.click("#ok")
        await settle(pilot)
        assert notes[-1] == f"discovery run {queued.id}: cancelled"
        await until(pilot, lambda: row_of(screen, queued.id)["Status"] == "cancelled", "the row is cancelled")
        assert other.get_run(queued.id).status == "cancelled"
        assert other.queue.get(queued.job_id).status.value == "cancelled"

    drive(make_app(), scenario)


def test_cancelling_a_running_run_keeps_what_finished(aws: str, world: Path) -> None:
    seed()
    gate = threading.Event()  # never opened: eu-west-1 waits until the cancel

    async def scenario(pilot: Pilot[Any]) -> None:
        screen, run_id = await start_gated(pilot)
        await pilot.press("c")
        assert isinstance(pilot.app.screen, ConfirmScreen)
        await pilot.click("#ok")
        await settle(pilot)  # the cancel reaches the held tasks: the run's worker ends too
        run = screen.app.hub.discovery.get_run(run_id)
        assert run.status == "cancelled"
        assert {(t.region, t.status) for t in run.tasks} == {("us-east-1", "succeeded"), ("eu-west-1", "cancelled")}
        await until(pilot, lambda: row_of(screen, run_id)["Status"] == "cancelled", "the row is cancelled")
        assert row_of(screen, run_id)["Found"] == "2"  # us-east-1's queues are kept
        await pilot.press("enter")
        await settle(pilot)
        text = detail_text(pilot.app.screen)
        assert summary_of(text)["Tasks"] == "4 (2 cancelled)" and by_type(text) == {"aws_sqs_queue": 2}
        assert summary_of(text)["Error"] == "cancelled by request"

    drive(make_app(hub=gated_hub(gate)), releasing(gate, scenario))


def test_quitting_while_a_run_goes_on_cancels_it_and_keeps_what_finished(aws: str, world: Path) -> None:
    seed()
    gate = threading.Event()  # opened only if the quit did not stop the run: the test then fails below
    safety = threading.Timer(60, gate.set)
    safety.start()
    started: list[int] = []

    async def scenario(pilot: Pilot[Any]) -> None:
        _screen, run_id = await start_gated(pilot)
        started.append(run_id)
        await pilot.press("q")

    try:
        drive(make_app(hub=gated_hub(gate)), releasing(gate, scenario))
    finally:
        safety.cancel()
    run = DiscoveryService().get_run(started[0])
    assert run.status == "cancelled" and not gate.is_set()
    assert {(t.region, t.status) for t in run.tasks} == {("us-east-1", "succeeded"), ("eu-west-1", "cancelled")}
    assert run.resource_count == 2


# -- the start modal ------------------------------------------------------------------------------------------
def notes_under(modal: StartRunScreen) -> dict[str, str]:
    """The line under each visible field, for the fields with a problem."""
    return {name: str(modal.query_one(f"#note-{name}", Static).render())
            for name in ("regions", "profile", "role_arn", "subscriptions", "projects", "types")
            if modal.query_one(f"#note-{name}", Static).has_class("problem")}


def visible_fields(modal: StartRunScreen) -> list[str]:
    return [w.id.removeprefix("field-") for w in modal.query(".field") if w.id and not w.has_class("hidden")]


def test_the_start_modal_checks_each_field_as_it_is_typed(world: Path) -> None:
    async def scenario(pilot: Pilot[Any]) -> None:
        screen = section(pilot)
        modal = await start_from_modal(pilot)
        assert visible_fields(modal) == ["regions", "profile", "role_arn", "types"]
        assert notes_under(modal) == {}
        regions = modal.query_one("#regions", Input)
        regions.focus()
        regions.value = ""
        await pilot.press(*"us-east-1, eu-west1")
        assert notes_under(modal) == {
            "regions": "'eu-west1' is not an AWS region name (like eu-west-1), nor 'all'"}
        notes = notes_of(pilot.app)
        await pilot.press("enter")  # refused: nothing is started
        assert pilot.app.screen is modal and pilot.app.focused is regions
        assert notes == ["Regions: 'eu-west1' is not an AWS region name (like eu-west-1), nor 'all'"]
        regions.value = "all, us-east-1"
        modal.query_one("#role_arn", Input).value = "arn:aws:iam::12345:role/audit"
        modal.query_one("#types", Input).value = "aws_sqs_queue, aws_sqs_queues"
        modal.query_one("#profile", Input).value = "my profile"
        await pilot.pause()
        assert notes_under(modal) == {
            "regions": "'all' already means every enabled region: give it alone",
            "role_arn": "'arn:aws:iam::12345:role/audit' is not a role ARN (arn:aws:iam::123456789012:role/NAME)",
            "types": "aws discovery does not know aws_sqs_queues",
            "profile": "'my profile': a profile name has no spaces",
        }
        regions.value = "all"
        modal.query_one("#role_arn", Input).value = "arn:aws:iam::123456789012:role/audit"
        modal.query_one("#types", Input).value = "aws_sqs_queue"
        modal.query_one("#profile", Input).value = "audit"
        await pilot.pause()
        assert notes_under(modal) == {}
        assert modal.scope() == Scope(provider="aws", regions=("all",), profile="audit",
                                      role_arn="arn:aws:iam::123456789012:role/audit", types=("aws_sqs_queue",))

        # another provider: its own fields, checked by its own rules (the AWS fields are left out)
        select = modal.query_one("#provider", Select)
        select.focus()
        await pilot.press("enter", "down", "enter")  # open the list, pick azure
        await pilot.pause()
        assert select.value == "azure"
        assert visible_fields(modal) == ["subscriptions", "types"]
        assert notes_under(modal) == {"types": "azure discovery does not know aws_sqs_queue"}
        modal.query_one("#types", Input).value = ""
        modal.query_one("#subscriptions", Input).value = "prod-sub"
        await pilot.pause()
        assert notes_under(modal) == {
            "subscriptions": "'prod-sub' is not a subscription id (00000000-0000-0000-0000-000000000000)"}
        modal.query_one("#subscriptions", Input).value = "00000000-1111-2222-3333-444444444444"
        await pilot.pause()
        assert modal.scope() == Scope(provider="azure", subscriptions=("00000000-1111-2222-3333-444444444444",))

        select.value = "gcp"
        modal.query_one("#projects", Input).value = "my-project, folders/eng"
        await pilot.pause()
        assert visible_fields(modal) == ["projects", "types"]
        assert notes_under(modal) == {
            "projects": "'folders/eng' is not a project id, projects/ID, folders/NUMBER or organizations/NUMBER"}

        await pilot.press("escape")  # cancelled: no run
        await settle(pilot)
        assert pilot.app.screen is screen
        assert screen.app.hub.discovery.list_runs() == []

    drive(make_app(), scenario)


def test_the_start_modal_is_prefilled_from_the_environment(world: Path) -> None:
    # an unknown environment names no scope
    with (world / "config.toml").open("a") as config:
        config.write('\n[environments.gcp-only]\nstates = ["x.tfstate"]\nprovider = "gcp"\nprojects = ["my-project", "folders/123"]\n'
                     '\n[environments.audit]\nstates = ["x.tfstate"]\nprovider = "aws"\nprofile = "audit"\n'
                     'role_arn = "arn:aws:iam::123456789012:role/audit"\n')

    async def scenario(pilot: Pilot[Any]) -> None:
        for environment, provider, values in (
            ("gcp-only", "gcp", {"projects": "my-project, folders/123"}),
            ("audit", "aws", {"regions": "", "profile": "audit", "role_arn": "arn:aws:iam::123456789012:role/audit"}),
            ("nowhere", "aws", {"regions": "", "profile": "", "role_arn": ""}),
        ):
            pilot.app.switch_environment(environment)
            modal = await start_from_modal(pilot)
            assert modal.query_one("#provider", Select).value == provider
            assert {name: modal.query_one(f"#{name}", Input).value for name in values} == values
            await pilot.press("escape")
            await settle(pilot)

    drive(make_app(), scenario)


# -- keys -----------------------------------------------------------------------------------------------------
def test_provider_filter_select_run_help_and_read_only(aws: str, world: Path) -> None:
    other = DiscoveryService()
    run = other.run(Scope(provider="aws", regions=("us-east-1",), types=("aws_sqs_queue",)))
    with other.engine.begin() as conn:  # a run of another cloud, as a failed Azure run leaves it
        azure = conn.execute(sa.insert(DiscoveryRun).values(
            provider="azure", status="failed", error="azure: no credentials", scope="{}", regions="[]",
            unsupported="{}", created_by="someone@host")).inserted_primary_key[0]

    async def scenario(pilot: Pilot[Any]) -> None:
        screen = section(pilot)
        assert [r["Run"] for r in table_rows(screen)] == [str(azure), str(run.id)]
        assert status_line(screen) == "2 runs · 1 complete · 1 failed · provider: all"
        await pilot.press("f")
        await settle(pilot)
        assert [r["Run"] for r in table_rows(screen)] == [str(run.id)]
        assert status_line(screen).endswith("provider: aws")
        await pilot.press("f")
        await settle(pilot)
        assert [r["Run"] for r in table_rows(screen)] == [str(azure)]
        assert row_of(screen, azure)["Errors"] == "error"
        # selecting a run the filter hides (as the command palette may) drops the filter
        screen.select_run(run.id)
        await settle(pilot)
        assert screen.provider is None and len(table_rows(screen)) == 2
        assert screen.selected == run.id and screen.query_one("#runs", DataTable).cursor_row == 1
        assert progress_title(screen).startswith(f"run {run.id} · aws {ACCOUNT} · complete")

        # read-only: discovery only reads the cloud, so starting and cancelling stay
        bindings = screen.active_bindings
        for key in ("s", "c", "enter", "r", "f"):
            assert bindings[key].enabled, key
        await pilot.press("question_mark")
        assert isinstance(pilot.app.screen, HelpScreen)
        text = "\n".join(str(s.render()) for s in pilot.app.screen.query("Static"))
        for description in ("Start run", "Cancel run", "Details", "Refresh", "Provider filter", "Down", "Up"):
            assert description in text
        await pilot.press("escape")

    drive(make_app(read_only=True), scenario)


# -- snapshots ------------------------------------------------------------------------------------------------
FIXED = datetime(2025, 3, 8, 9, 30, tzinfo=UTC)


@pytest.fixture
def three_runs(aws: str, world: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """A complete run, a partial one (eu-west-1 down) and a queued one, with fixed times and author so that
    the screen is the same on every run of the tests."""
    seed()
    service = DiscoveryService()
    complete = service.run(Scope(provider="aws", regions=REGIONS, types=TYPES))
    with FaultProxy(aws, FaultPlan(failing_regions=frozenset({"eu-west-1"}))) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        partial = service.run(Scope(provider="aws", regions=REGIONS, types=TYPES))
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws)
    queued = service.start(Scope(provider="aws", regions=("ap-southeast-2",), types=("aws_sqs_queue",)))
    with service.engine.begin() as conn:
        for i, (run, took) in enumerate(((complete, 1.4), (partial, 2.7), (queued, None))):
            created = FIXED + timedelta(minutes=10 * i)
            conn.execute(sa.update(DiscoveryRun).where(col(DiscoveryRun.id) == run.id).values(
                created_at=created, started_at=created if took else None,
                finished_at=created + timedelta(seconds=took) if took else None, duration=took,
                created_by="oncall@bastion"))
    return {"complete": complete.id, "partial": partial.id, "queued": queued.id}


async def _partial_selected(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    await pilot.press("j")  # from the queued run (the newest, on top) to the partial one
    await settle(pilot)
    assert progress_title(section(pilot)).startswith("run 2 · aws 123456789012 · partial")


async def _start_modal_with_a_mistake(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    modal = await start_from_modal(pilot, regions="us-east-1, eu-west1", types="aws_sqs_queue")
    assert "regions" in notes_under(modal)


async def _partial_detail(pilot: Pilot[Any]) -> None:
    await _partial_selected(pilot)
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(pilot.app.screen, RunDetailScreen)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_snapshot_runs_with_the_progress_of_the_selected_one(three_runs: dict[str, int], snap_compare: Any,
                                                             size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=_partial_selected)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_snapshot_start_modal(world: Path, snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=_start_modal_with_a_mistake)


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_snapshot_run_detail(three_runs: dict[str, int], snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=_partial_detail)


# -- the checks behind the modal --------------------------------------------------------------------------------
@pytest.mark.parametrize(("scope", "problems"), [
    (Scope("aws", regions=("us-gov-west-1", "il-central-1", "us-isob-east-1"),
           role_arn="arn:aws-us-gov:iam::123456789012:role/path/audit"), {}),
    (Scope("aws", regions=("US-EAST-1",)), {"regions": "'US-EAST-1' is not an AWS region name (like eu-west-1), "
                                                       "nor 'all'"}),
    (Scope("azure", subscriptions=("00000000-1111-2222-3333-444444444444",), types=("azurerm_resource_group",)),
     {}),
    (Scope("gcp", projects=("my-project", "projects/my-project", "folders/123", "organizations/456")), {}),
    (Scope("gcp", projects=("My_Project",)), {"projects": "'My_Project' is not a project id, projects/ID, "
                                                          "folders/NUMBER or organizations/NUMBER"}),
    (Scope("gcp", regions=("us-east-1",), profile="audit"), {
        "regions": "regions: for aws and digitalocean discovery only", "profile": "profile: for aws discovery only"}),
    (Scope("digitalocean", regions=("nyc1", "ams3"), types=("digitalocean_droplet",)), {}),
    (Scope("digitalocean", regions=("us-east-1",), profile="audit"), {
        "regions": "'us-east-1' is not a DigitalOcean region slug (like nyc1 or ams3), nor 'all'",
        "profile": "profile: for aws discovery only"}),
    (Scope("openstack"), {"provider": "unknown provider 'openstack': choose aws, azure, gcp or digitalocean"}),
])
def test_scope_problems(scope: Scope, problems: dict[str, str]) -> None:
    from driftmgr_tui.services.discovery_service import scope_problems

    assert scope_problems(scope) == problems
