"""Driving the real app in tests: wait for workers to settle, run a scenario at a terminal size, and collect
the notifications it shows, and read what a Static shows."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Awaitable, Callable
from typing import Any

from rich.console import Console
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Static
from textual.worker import WorkerCancelled, WorkerError, WorkerFailed


async def settle(pilot: Pilot[Any]) -> None:
    """Until no worker is pending or running (a finished worker may have started the next one)."""
    for _ in range(200):
        await pilot.pause()
        pending = [w for w in pilot.app.workers if not w.is_finished]
        if not pending:
            await pilot.pause()
            return
        with contextlib.suppress(WorkerFailed, WorkerCancelled, WorkerError):
            await pilot.app.workers.wait_for_complete(pending)
    raise AssertionError("workers never finished")


def drive(app: Any, scenario: Callable[[Pilot[Any]], Awaitable[None]], size: tuple[int, int] = (120, 40)) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await scenario(pilot)

    asyncio.run(main())


def notes_of(app: Any) -> list[str]:
    """Every notification the app shows from now on."""
    seen: list[str] = []
    original = app.notify

    def notify(message: str, **kwargs: Any) -> None:
        seen.append(str(message))
        original(message, **kwargs)

    app.notify = notify
    return seen


def plain(static: Static, width: int = 200) -> str:
    """The text a Static shows (markup or a rich renderable), without styles."""
    content = static.content
    if isinstance(content, str):
        return Text.from_markup(content).plain
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(content)
    return console.file.getvalue()  # type: ignore[attr-defined]
