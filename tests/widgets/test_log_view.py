"""LogView in a small app driven by Pilot: appending, the cap on lines kept, following the tail, rendering."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.pilot import Pilot

from driftmgr_tui.widgets.log_view import LogView, as_text


class LogApp(App[None]):
    def __init__(self, max_lines: int) -> None:
        super().__init__()
        self.max_lines = max_lines

    def compose(self) -> ComposeResult:
        yield LogView(max_lines=self.max_lines)

    def on_mount(self) -> None:
        self.query_one(LogView).focus()


def drive(scenario: Callable[[Pilot[Any], LogView], Awaitable[None]], *, max_lines: int = 1000,
          size: tuple[int, int] = (40, 10)) -> None:
    app = LogApp(max_lines)

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await scenario(pilot, app.query_one(LogView))

    asyncio.run(main())


def screen_lines(log: LogView) -> list[str]:
    """What the view shows, line by line (through Textual's own rendering of the widget)."""
    width, height = log.size
    return [strip.text.rstrip() for strip in log.render_lines(Region(0, 0, width, height))]


def test_many_lines_keep_only_the_newest_and_the_view_follows_the_tail() -> None:
    async def scenario(pilot: Pilot[Any], log: LogView) -> None:
        for start in range(0, 50_000, 5_000):  # in batches, as a busy apply would stream them
            log.write_lines([f"line {n}" for n in range(start, start + 5_000)])
        await pilot.pause()
        assert log.line_count == 1000 and log.dropped == 49_000
        assert log.lines[0] == "line 49000" and log.lines[-1] == "line 49999"
        assert log.virtual_size.height == 1000
        assert screen_lines(log) == [f"line {n}" for n in range(49_990, 50_000)]
        log.write_line("the newest")
        await pilot.pause()
        assert screen_lines(log)[-1] == "the newest" and log.dropped == 49_001

    drive(scenario)


def test_scrolling_up_stops_following_and_end_follows_again() -> None:
    async def scenario(pilot: Pilot[Any], log: LogView) -> None:
        log.write_lines([f"line {n}" for n in range(30)])
        await pilot.pause()
        assert log.follow and screen_lines(log)[-1] == "line 29"
        await pilot.press("pageup")
        assert not log.follow
        shown = screen_lines(log)
        log.write_lines(["line 30", "line 31"])
        await pilot.pause()
        assert screen_lines(log) == shown  # the reader stays where they are
        await pilot.press("end")
        assert log.follow and screen_lines(log)[-2:] == ["line 30", "line 31"]
        log.write_line("line 32")
        await pilot.pause()
        assert screen_lines(log)[-1] == "line 32"
        await pilot.press("home")
        assert screen_lines(log)[0] == "line 0" and not log.follow

    drive(scenario)


def test_render_line_shows_text_styles_and_long_lines_scroll_sideways() -> None:
    async def scenario(pilot: Pilot[Any], log: LogView) -> None:
        log.write_line(Text.assemble(("  1 ", "dim"), "== action 1: forget aws_s3_bucket.logs"))
        log.write_line("\x1b[31mred\x1b[0m plain\ttab")
        log.write_line("x" * 60 + "END")
        await pilot.pause()
        assert log.lines == ["  1 == action 1: forget aws_s3_bucket.logs", "red plain   tab", "x" * 60 + "END"]
        first = log.render_line(0)
        assert first.text == "  1 == action 1: forget aws_s3_bucket.lo"  # cut at the view's 40 columns
        assert next(s.style for s in first if s.text.strip() == "1").dim
        red = next(s.style for s in log.render_line(1) if s.text == "red")
        assert red.color is not None and red.color.number == 1  # ANSI red, not the escape code
        assert "\x1b" not in log.render_line(1).text
        assert log.virtual_size.width == 63
        await pilot.press("right", "right", "right")
        assert log.scroll_x == 3 and log.render_line(0).text.startswith(" == action 1: forget")
        assert log.render_line(5).text == " " * 40  # past the last line: blank

    drive(scenario)


def test_clear_and_a_fresh_view() -> None:
    async def scenario(pilot: Pilot[Any], log: LogView) -> None:
        assert screen_lines(log) == [""] * 10 and log.line_count == 0
        log.write_lines(["a", "b", "c", "d"])
        await pilot.pause()
        assert log.line_count == 3 and log.lines == ["b", "c", "d"] and log.dropped == 1
        log.clear()
        await pilot.pause()
        assert log.line_count == 0 and screen_lines(log)[0] == "" and log.follow
        log.write_lines([])
        log.write_line("again")
        await pilot.pause()
        assert screen_lines(log)[0] == "again"

    drive(scenario, max_lines=3)


def test_lines_are_one_row_each() -> None:
    assert as_text("two\nrows").plain == "two rows"
    assert as_text("carriage\r").plain == "carriage"
    styled = Text("kept", style="bold")
    assert as_text(styled).plain == "kept" and as_text(styled) is not styled
    with pytest.raises(ValueError, match="max_lines must be at least 1"):
        LogView(max_lines=0)
