"""ItemTable in a small app driven by Pilot: cursor and scrolling, messages, marks, refresh, rendering."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar

from rich.color import ColorType
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.pilot import Pilot

from driftmgr_tui.services.drift_view import DriftView
from driftmgr_tui.widgets.item_table import ELLIPSIS, MARK, ItemTable, fit

SEVERITIES = ("critical", "high", "medium", "low", "info")


class Rows:
    """A plain source without item ids: row keys are indices."""

    columns: ClassVar[list[tuple[str, int | None]]] = [("Name", 10), ("Severity", 9), ("Note", None)]
    styled_columns = (1,)

    def __init__(self, count: int, note: str = "note") -> None:
        self.rows = [(f"row-{n}", SEVERITIES[n % 5], f"{note} {n}") for n in range(count)]

    def __len__(self) -> int:
        return len(self.rows)

    def row(self, index: int) -> Sequence[str]:
        return self.rows[index]


def _items(count: int) -> list[dict[str, Any]]:
    return [{"id": 1000 + n, "kind": ("changed", "missing", "unmanaged")[n % 3], "severity": SEVERITIES[n % 5],
             "terraform_type": ("aws_s3_bucket", "aws_instance")[n % 2], "terraform_id": f"id-{n:03d}",
             "address": f"aws_thing.r{n}", "module": "", "provider": "aws", "account": "1", "region": "us-east-1",
             "name": f"n{n}", "status": "new", "first_seen": "2026-01-01T00:00:00+00:00"} for n in range(count)]


class TableApp(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("space", "focused.toggle_mark", "Mark")]

    def __init__(self, source: Any, columns: Any = None) -> None:
        super().__init__()
        self.source = source
        self.columns = columns
        self.messages: list[tuple[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield ItemTable(self.source, self.columns)

    def on_mount(self) -> None:
        self.query_one(ItemTable).focus()

    def on_item_table_highlighted(self, event: ItemTable.Highlighted) -> None:
        self.messages.append(("highlighted", event.index))

    def on_item_table_selected(self, event: ItemTable.Selected) -> None:
        self.messages.append(("selected", event.index))

    def on_item_table_marks_changed(self, event: ItemTable.MarksChanged) -> None:
        self.messages.append(("marks", event.marks))

    def on_item_table_header_selected(self, event: ItemTable.HeaderSelected) -> None:
        self.messages.append(("header", event.column))


def drive(app: TableApp, scenario: Callable[[Pilot[Any], ItemTable], Awaitable[None]],
          size: tuple[int, int] = (80, 12)) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await scenario(pilot, app.query_one(ItemTable))

    asyncio.run(main())


def lines(table: ItemTable) -> list[str]:
    """What the table shows, line by line (through Textual's own rendering of the widget)."""
    width, height = table.size
    return [strip.text for strip in table.render_lines(Region(0, 0, width, height))]


def cursor_visible(table: ItemTable) -> bool:
    return 0 <= table.cursor_row - int(table.scroll_y) < table.page_rows


def highlights(app: TableApp) -> list[int]:
    return [index for kind, index in app.messages if kind == "highlighted"]


# ------------------------------------------------------------------------------------------------ keys


def test_keyboard_moves_the_cursor_and_scrolls() -> None:
    app = TableApp(Rows(100))

    async def scenario(pilot: Pilot[Any], table: ItemTable) -> None:
        assert (table.cursor_row, table.page_rows, table.row_count) == (0, 11, 100)
        assert highlights(app) == [0]
        await pilot.press("down", "j", "j")
        assert table.cursor_row == 3
        await pilot.press("k", "up")
        assert table.cursor_row == 1
        await pilot.press("up", "up")
        assert table.cursor_row == 0 and table.scroll_y == 0
        await pilot.press("pagedown")
        assert table.cursor_row == 11 and cursor_visible(table) and table.scroll_y > 0
        await pilot.press("pagedown", "pagedown", "pageup")
        assert table.cursor_row == 22 and cursor_visible(table)
        await pilot.press("end")
        assert table.cursor_row == 99 and table.scroll_y == table.max_scroll_y == 89 and cursor_visible(table)
        await pilot.press("g")
        assert table.cursor_row == 0 and table.scroll_y == 0
        await pilot.press("G")
        assert table.cursor_row == 99 and cursor_visible(table)
        await pilot.press("home")
        for _ in range(13):  # walking past the bottom line scrolls one line at a time
            await pilot.press("down")
            assert cursor_visible(table)
        assert (table.cursor_row, table.scroll_y) == (13, 3)
        await pilot.pause()
        assert highlights(app) == [0, 1, 2, 3, 2, 1, 0, 11, 22, 33, 22, 99, 0, 99, 0, *range(1, 14)]

    drive(app, scenario)


def test_the_header_stays_on_top_while_scrolling() -> None:
    app = TableApp(Rows(100))

    async def scenario(pilot: Pilot[Any], table: ItemTable) -> None:
        shown = lines(table)
        assert shown[0].split() == ["Name", "Severity", "Note"]
        assert shown[1].split()[:2] == ["row-0", "critical"]
        await pilot.press("end")
        await pilot.pause()
        shown = lines(table)
        assert shown[0].split() == ["Name", "Severity", "Note"]
        assert [line.split()[0] for line in shown[1:]] == [f"row-{n}" for n in range(89, 100)]
        await pilot.press("pageup")
        await pilot.pause()
        assert lines(table)[0].split() == ["Name", "Severity", "Note"]

    drive(app, scenario)


def test_enter_and_clicks_select() -> None:
    app = TableApp(Rows(100))

    async def scenario(pilot: Pilot[Any], table: ItemTable) -> None:
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.messages[-1] == ("selected", 1)
        await pilot.press("pagedown")
        top = int(table.scroll_y)
        await pilot.click(ItemTable, offset=(4, 3))  # line 3 = the third row on screen
        await pilot.pause()
        assert table.cursor_row == top + 2
        assert app.messages[-1] == ("highlighted", top + 2)
        await pilot.click(ItemTable, offset=(4, 3))  # the cursor row again: selects it
        await pilot.pause()
        assert app.messages[-1] == ("selected", top + 2)
        await pilot.click(ItemTable, offset=(14, 0))  # the header: "Severity" starts at 2 + 10 + 1
        await pilot.pause()
        assert app.messages[-1] == ("header", 1)
        assert table.cursor_row == top + 2

    drive(app, scenario)


# ------------------------------------------------------------------------------------------------ marks


def test_space_marks_and_moves_down() -> None:
    app = TableApp(Rows(20))

    async def scenario(pilot: Pilot[Any], table: ItemTable) -> None:
        await pilot.press("space", "space")
        assert table.marks == {0, 1} and table.cursor_row == 2
        await pilot.press("k", "space")
        assert table.marks == {0} and table.marked == {0}
        await pilot.pause()
        shown = lines(table)
        assert shown[1].startswith(MARK + "row-0")
        assert shown[2].startswith("  row-1")
        assert [m[1] for m in app.messages if m[0] == "marks"] == [{0}, {0, 1}, {0}]
        table.toggle_mark(5)
        table.clear_marks()
        await pilot.pause()
        assert table.marks == set()
        assert [m[1] for m in app.messages if m[0] == "marks"][-2:] == [{0, 5}, set()]
        assert not any(line.startswith(MARK) for line in lines(table))

    drive(app, scenario)


def test_marks_and_cursor_follow_items_across_filters_and_sorts() -> None:
    view = DriftView.from_items(_items(60))
    app = TableApp(view)

    async def scenario(pilot: Pilot[Any], table: ItemTable) -> None:
        table.move_cursor(30)
        item = view.item_id(30)
        table.toggle_mark()
        assert table.marks == {item}
        view.set_filter("s3")  # even rows: item 30 is now row 15
        table.refresh_rows()
        await pilot.pause()
        assert (table.cursor_row, table.cursor_key) == (view.find(item), item) == (15, item)
        assert highlights(app)[-1] == 15
        assert cursor_visible(table)
        view.sort("severity", reverse=True)
        table.refresh_rows()
        await pilot.pause()
        assert table.cursor_key == item and view.item_id(table.cursor_row) == item and cursor_visible(table)
        row = lines(table)[table.cursor_row - int(table.scroll_y) + 1]
        assert row.startswith(MARK) and view.row(table.cursor_row)[4] in row
        # the item filtered out: the cursor keeps its place, on another item
        before = table.cursor_row
        view.set_filter("s3 kind:missing")
        table.refresh_rows()
        await pilot.pause()
        assert view.find(item) is None
        assert table.cursor_row == min(before, len(view) - 1)
        assert table.cursor_key == view.item_id(table.cursor_row)
        assert highlights(app)[-1] == table.cursor_row
        assert table.marks == {item}  # marks are kept for items out of view
        view.set_filter("")
        table.refresh_rows()
        await pilot.pause()
        marked_rows = [line for line in lines(table) if line.startswith(MARK)]
        assert len(marked_rows) <= 1

    drive(app, scenario)


def test_an_empty_table_and_a_new_model() -> None:
    app = TableApp(None, Rows.columns)

    async def scenario(pilot: Pilot[Any], table: ItemTable) -> None:
        assert table.cursor_row == -1 and table.cursor_key is None and table.source is None
        await pilot.press("down", "end", "enter", "space")
        await pilot.pause()
        assert table.cursor_row == -1
        assert [m for m in app.messages if m[0] in ("highlighted", "selected")] == []
        assert lines(table)[0].split() == ["Name", "Severity", "Note"]
        table.set_model(Rows(5))
        await pilot.pause()
        assert table.cursor_row == 0 and highlights(app) == [0]
        assert table.virtual_size.width == table.size.width  # the flexible column fills the line
        table.set_model(Rows(100))
        await pilot.pause()
        # ... and leaves room for the scrollbar when one is needed: nothing to scroll sideways
        assert table.virtual_size.width == table.scrollable_content_region.width == table.size.width - 2
        assert table.max_scroll_x == 0
        await pilot.press("end")
        table.set_model(Rows(3))  # no item ids: the cursor keeps its index, within the rows
        await pilot.pause()
        assert table.cursor_row == 2
        table.set_model(None)
        await pilot.pause()
        assert table.cursor_row == -1 and highlights(app)[-1] == -1
        assert lines(table)[1].strip() == ""

    drive(app, scenario)


# ------------------------------------------------------------------------------------------------ rendering


def test_fit_pads_and_cuts_with_an_ellipsis() -> None:
    assert fit("abc", 5) == "abc  "
    assert fit("abcdef", 4) == "abc" + ELLIPSIS
    assert fit("abcd", 4) == "abcd"
    assert fit("日本語です", 5) == "日本" + ELLIPSIS  # by cells: 4 + 1
    assert fit("a\nb\x1b", 4) == "a?b?"
    assert fit("anything", 0) == ""


def test_cells_are_cut_to_their_column_with_an_ellipsis() -> None:
    source = Rows(3, note="a long note that cannot fit in what is left of the line")
    source.rows[1] = ("a-name-far-too-long", "high", "short")

    async def scenario(pilot: Pilot[Any], table: ItemTable) -> None:
        shown = lines(table)
        assert shown[2].startswith("  a-name-fa" + ELLIPSIS + " high")
        note = shown[1][2 + 10 + 1 + 9 + 1:].rstrip()
        assert note.endswith(ELLIPSIS) and "a long note".startswith(note[:11])
        assert len(shown[1]) == table.size.width

    drive(TableApp(source), scenario, size=(50, 8))


def test_fixed_columns_wider_than_the_table_scroll_sideways() -> None:
    columns = [("Name", 10), ("Severity", 9), ("Note", 40)]

    async def scenario(pilot: Pilot[Any], table: ItemTable) -> None:
        assert table.virtual_size.width == 2 + 10 + 1 + 9 + 1 + 40 > table.size.width
        await pilot.press("right", "right")
        await pilot.pause()
        assert table.scroll_x == 2
        shown = lines(table)
        assert shown[0].startswith("Name")
        assert shown[1].startswith("row-0")

    drive(TableApp(Rows(5), columns), scenario, size=(40, 8))


def _cell_style(table: ItemTable, line: int, text: str) -> Any:
    return next(segment.style for segment in table.render_line(line) if segment.text.strip() == text)


def test_severity_and_kind_cells_are_styled_by_component_classes() -> None:
    view = DriftView.from_items(_items(10))
    app = TableApp(view)

    async def scenario(pilot: Pilot[Any], table: ItemTable) -> None:
        await pilot.press("end")  # the cursor row takes the cursor style; look at the others
        await pilot.pause()
        for line, (severity, kind) in enumerate([(view.row(i)[0], view.row(i)[1]) for i in range(3)], start=1):
            assert _cell_style(table, line, severity).color == \
                table.get_component_rich_style(f"item-table--{severity}", partial=True).color
            assert _cell_style(table, line, kind).color == \
                table.get_component_rich_style(f"item-table--{kind}", partial=True).color
        assert _cell_style(table, 1, "critical").bold
        assert _cell_style(table, 2, "high").color != _cell_style(table, 3, "medium").color
        # the 16-colour theme: plain ANSI colours
        app.theme = "ansi-dark"
        await pilot.pause()
        for line, text in ((1, "critical"), (2, "missing"), (3, "unmanaged")):
            color = _cell_style(table, line, text).color
            assert color is not None and color.type == ColorType.STANDARD
        header = table.render_line(0)
        assert all(segment.style.bold for segment in header)

    drive(app, scenario)


class DroppingRows(Rows):
    """Rows whose severity column gives way to the note on a narrow table."""

    drop_order = (1,)


def test_a_narrow_table_hides_the_drop_order_columns_so_the_flexible_one_keeps_its_room() -> None:
    async def scenario(pilot: Pilot[Any], table: ItemTable) -> None:
        shown = lines(table)
        assert shown[0].split() == ["Name", "Note"]
        assert shown[1].startswith("  row-0      note 0")  # no severity cell, no gap left for it
        assert table.virtual_size.width <= table.size.width
        await pilot.click(table, offset=(13, 0))  # the Note title, now where Severity was
        await pilot.pause()
        assert [m for m in pilot.app.messages if m[0] == "header"][-1][1] == 2

    drive(TableApp(DroppingRows(3)), scenario, size=(40, 8))

    async def wide(pilot: Pilot[Any], table: ItemTable) -> None:
        assert lines(table)[0].split() == ["Name", "Severity", "Note"]

    drive(TableApp(DroppingRows(3)), wide, size=(80, 8))
