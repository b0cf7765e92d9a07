"""ItemTable: a virtual table that renders only the rows on screen, so 100,000 rows cost what 40 do.

The rows come from a *source* (or none: an empty table): any object with ``__len__`` and ``row(index) ->
tuple[str, ...]`` (display cells). The columns are a sequence of ``(title, width)``, given to the table or taken
from the source's ``columns``; a width of None is flexible and shares what the fixed columns leave. When the
table is too narrow for the flexible columns to get ``FLEX_WANTED`` cells, it hides fixed columns in the order
of the source's optional ``drop_order`` (column indices, least useful first) rather than scroll sideways.
Optional on the source: ``item_id(index)`` and ``find(item_id)`` give rows stable keys, so marks and the cursor follow an
item across filtering and sorting (without them the key is the index); ``styled_columns`` lists the columns
whose cell value names a style (``critical`` ... ``info``, ``changed``, ``missing``, ``unmanaged``: the
component classes ``item-table--<value>``).

Line 0 is the header and stays put; line ``y`` shows row ``scroll_y + y - 1``. Keys: up/down or k/j, page
up/down, home/g, end/G, enter (``Selected``). A click moves the cursor; a click on the cursor row selects it.
Marks are a set of row keys: bind a key (space) to ``toggle_mark``, e.g. ``Binding("space",
"focused.toggle_mark")`` on the screen or ``Binding("space", "toggle_mark")`` in a subclass.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any, ClassVar, Protocol

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

MARK_WIDTH = 2
MARK = "● "
FLEX_MIN = 8
FLEX_WANTED = 32  # cells a flexible column (the address) gets before fixed columns are dropped for it
ELLIPSIS = "…"
VALUE_STYLES = frozenset({"critical", "high", "medium", "low", "info", "changed", "missing", "unmanaged"})


Columns = Sequence[tuple[str, int | None]]


class TableSource(Protocol):
    def __len__(self) -> int: ...

    def row(self, index: int) -> Sequence[str]: ...


class _Empty:
    columns: Columns = ()

    def __len__(self) -> int:
        return 0

    def row(self, index: int) -> Sequence[str]:
        raise IndexError(index)


EMPTY = _Empty()


def fit(text: str, width: int) -> str:
    """``text`` in exactly ``width`` cells: padded, or cut with an ellipsis."""
    if width <= 0:
        return ""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else "?" for c in text)
    if text.isascii():
        if len(text) <= width:
            return text.ljust(width)
        return text[: width - 1] + ELLIPSIS
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, width - 1) + ELLIPSIS


class ItemTable(ScrollView, can_focus=True):
    """A virtual table over a source (see the module docstring)."""

    ALLOW_SELECT = False

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "last", "Last", show=False),
        Binding("enter", "select_cursor", "Open", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "item-table--header",
        "item-table--cursor",
        "item-table--marked",
        "item-table--marker",
        *(f"item-table--{value}" for value in VALUE_STYLES),
    }

    DEFAULT_CSS = """
    ItemTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        &:focus {
            background-tint: $foreground 5%;
            & > .item-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        & > .item-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .item-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .item-table--marked { background: $accent 20%; }
        & > .item-table--marker { color: $accent; text-style: bold; }
        & > .item-table--critical { color: $text-error; text-style: bold; }
        & > .item-table--high { color: $text-error; }
        & > .item-table--medium { color: $text-warning; }
        & > .item-table--low { color: $text-primary; }
        & > .item-table--info { text-style: dim; }
        & > .item-table--changed { color: $text-warning; }
        & > .item-table--missing { color: $text-error; }
        & > .item-table--unmanaged { color: $text-secondary; }
        &:ansi {
            & > .item-table--header { background: ansi_bright_blue; color: ansi_default; }
            & > .item-table--marked { background: ansi_default; text-style: bold; }
        }
    }
    """

    class Highlighted(Message):
        """The cursor moved to row ``index`` (-1: the table is empty)."""

        def __init__(self, table: ItemTable, index: int) -> None:
            self.table = table
            self.index = index
            super().__init__()

        @property
        def control(self) -> ItemTable:
            return self.table

    class Selected(Message):
        """Enter (or a click on the cursor row) on row ``index``."""

        def __init__(self, table: ItemTable, index: int) -> None:
            self.table = table
            self.index = index
            super().__init__()

        @property
        def control(self) -> ItemTable:
            return self.table

    class MarksChanged(Message):
        """The set of marked row keys changed."""

        def __init__(self, table: ItemTable, marks: frozenset[Hashable]) -> None:
            self.table = table
            self.marks = marks
            super().__init__()

        @property
        def control(self) -> ItemTable:
            return self.table

    class HeaderSelected(Message):
        """A click on column ``column``'s title."""

        def __init__(self, table: ItemTable, column: int) -> None:
            self.table = table
            self.column = column
            super().__init__()

        @property
        def control(self) -> ItemTable:
            return self.table

    def __init__(self, source: TableSource | None = None, columns: Columns | None = None, *,
                 name: str | None = None, id: str | None = None, classes: str | None = None,
                 disabled: bool = False) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._source: TableSource = EMPTY if source is None else source
        self._columns = columns
        self._cursor = -1
        self._cursor_key: Hashable | None = None
        self._marks: set[Hashable] = set()
        self._widths: list[int] = []
        self._offsets: list[int] = []
        self._total_width = 0
        self._layout_width = -1
        self._cache: LRUCache[tuple[Any, ...], Strip] = LRUCache(512)
        self._style = Style()
        self.sort_indicator: tuple[int, bool] | None = None
        """(column, descending) to mark a column title with an arrow, or None."""
        self._sync_rows(post=False)

    # -- public state ---------------------------------------------------------------------------------------
    @property
    def source(self) -> TableSource | None:
        return None if self._source is EMPTY else self._source

    @source.setter
    def source(self, source: TableSource | None) -> None:
        self.set_model(source)

    def set_model(self, source: TableSource | None) -> None:
        """Show another source (None: nothing); the cursor stays on the same item if the new source has it."""
        self._source = EMPTY if source is None else source
        self._layout_width = -1
        self.refresh_rows()

    @property
    def columns(self) -> Columns:
        if self._columns is not None:
            return self._columns
        return tuple(getattr(self._source, "columns", ()))

    @columns.setter
    def columns(self, columns: Columns | None) -> None:
        self._columns = columns
        self._layout_width = -1
        if self.is_mounted:
            self._update_virtual_size()
            self.refresh()

    @property
    def cursor_row(self) -> int:
        """The cursor's row index (-1 when the table is empty)."""
        return self._cursor

    @property
    def cursor_key(self) -> Hashable | None:
        """The key of the item under the cursor."""
        return self._cursor_key

    @property
    def row_count(self) -> int:
        return len(self._source)

    @property
    def page_rows(self) -> int:
        """Rows that fit under the header."""
        return max(1, self.scrollable_content_region.height - 1)

    def row_key(self, index: int) -> Hashable:
        item_id = getattr(self._source, "item_id", None)
        return item_id(index) if item_id is not None else index

    # -- model changes --------------------------------------------------------------------------------------
    def refresh_rows(self) -> None:
        """Call after the source changed (filter, sort, new rows): the cursor stays on the same item when
        the source can ``find`` it, and keeps its place on screen."""
        self._sync_rows(post=True)

    def _sync_rows(self, *, post: bool) -> None:
        source = self._source
        count = len(source)
        old_index, old_key = self._cursor, self._cursor_key
        index = -1
        if count:
            find = getattr(source, "find", None)
            if old_key is not None and find is not None:
                found = find(old_key)
                index = found if found is not None else -1
            if index < 0:
                index = min(max(old_index, 0), count - 1)
        self._cursor = index
        self._cursor_key = self.row_key(index) if index >= 0 else None
        self._cache.clear()
        if not self.is_mounted:
            return
        self._update_virtual_size()
        if index >= 0 and old_index >= 0 and self.size.height:
            # keep the cursor on the same screen line when its item moved
            on_screen = old_index - int(self.scroll_y)
            if 0 <= on_screen < self.page_rows:
                self.scroll_to(y=max(0, index - on_screen), animate=False, force=True)
        self.scroll_to_cursor()
        self.refresh()
        if post and (index != old_index or self._cursor_key != old_key):
            self.post_message(self.Highlighted(self, index))

    def _update_virtual_size(self) -> None:
        self._layout_columns()
        self.virtual_size = Size(self._total_width, len(self._source) + 1)

    def _layout_columns(self) -> None:
        width, height = self.size
        styles = self.styles
        if styles.overflow_y == "scroll" or (styles.overflow_y == "auto" and len(self._source) + 1 > height) \
                or styles.scrollbar_gutter == "stable":
            width -= styles.scrollbar_size_vertical  # the flexible columns leave room for the scrollbar
        width = max(width, 0)
        if width == self._layout_width and self._widths:
            return
        self._layout_width = width
        columns = list(self.columns)
        visible = [True] * len(columns)
        drop_order = [i for i in getattr(self._source, "drop_order", ()) if 0 <= i < len(columns)]
        flexible = [i for i, (_, w) in enumerate(columns) if w is None]

        def room() -> int:
            shown = [w for (_, w), v in zip(columns, visible, strict=True) if v]
            return width - MARK_WIDTH - max(0, len(shown) - 1) - sum(w for w in shown if w is not None)

        while flexible and drop_order and room() < FLEX_WANTED * len(flexible):
            visible[drop_order.pop(0)] = False
        widths = [(w or 0) if v else -1 for (_, w), v in zip(columns, visible, strict=True)]
        if flexible:
            share, extra = divmod(max(room(), FLEX_MIN * len(flexible)), len(flexible))
            for n, i in enumerate(flexible):
                widths[i] = share + (1 if n < extra else 0)
        self._widths = widths  # -1: a hidden column
        offsets, x = [], MARK_WIDTH
        for w in widths:
            offsets.append(x)
            if w >= 0:
                x += w + 1
        self._offsets = offsets
        self._total_width = max(MARK_WIDTH, x - 1)
        self._cache.clear()

    # -- marks ----------------------------------------------------------------------------------------------
    @property
    def marks(self) -> frozenset[Hashable]:
        """The keys of the marked rows (item ids when the source has them)."""
        return frozenset(self._marks)

    @property
    def marked(self) -> frozenset[Hashable]:
        return self.marks

    def set_marks(self, keys: Iterable[Hashable]) -> None:
        self._marks = set(keys)
        self._marks_changed()

    def clear_marks(self) -> None:
        self.set_marks(())

    def toggle_mark(self, index: int | None = None) -> None:
        """Mark or unmark a row (the cursor row by default)."""
        index = self._cursor if index is None else index
        if not 0 <= index < len(self._source):
            return
        key = self.row_key(index)
        if key in self._marks:
            self._marks.discard(key)
        else:
            self._marks.add(key)
        self._marks_changed()

    def action_toggle_mark(self) -> None:
        """Toggle the cursor row's mark and move down (to mark a run of rows key by key)."""
        self.toggle_mark()
        self.action_cursor_down()

    def _marks_changed(self) -> None:
        self._cache.clear()
        self.refresh()
        self.post_message(self.MarksChanged(self, frozenset(self._marks)))

    # -- cursor ---------------------------------------------------------------------------------------------
    def move_cursor(self, index: int, *, scroll: bool = True) -> None:
        count = len(self._source)
        if not count:
            return
        index = min(max(index, 0), count - 1)
        if index != self._cursor:
            old = self._cursor
            self._cursor = index
            self._cursor_key = self.row_key(index)
            self._refresh_row(old)
            self._refresh_row(index)
            self.post_message(self.Highlighted(self, index))
        if scroll:
            self.scroll_to_cursor()

    def scroll_to_cursor(self) -> None:
        """Scroll the least needed to show the cursor row under the header."""
        if self._cursor < 0 or not self.size.height:
            return
        top, page = int(self.scroll_y), self.page_rows
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, force=True)
        elif self._cursor >= top + page:
            self.scroll_to(y=self._cursor - page + 1, animate=False, force=True)

    def _refresh_row(self, index: int) -> None:
        if index >= 0:
            self.refresh_line(index + 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        page = self.page_rows
        self.scroll_to(y=max(0, int(self.scroll_y) - page), animate=False, force=True)
        self.move_cursor(self._cursor - page)

    def action_page_down(self) -> None:
        page = self.page_rows
        self.scroll_to(y=min(int(self.max_scroll_y), int(self.scroll_y) + page), animate=False, force=True)
        self.move_cursor(self._cursor + page)

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self._source) - 1)

    def action_select_cursor(self) -> None:
        if self._cursor >= 0:
            self.post_message(self.Selected(self, self._cursor))

    # -- events ---------------------------------------------------------------------------------------------
    def on_mount(self) -> None:  # (ScrollView's own on_mount runs too: handlers are called along the MRO)
        self._update_virtual_size()
        if self._cursor >= 0:
            self.post_message(self.Highlighted(self, self._cursor))

    def on_resize(self, event: events.Resize) -> None:
        self._update_virtual_size()
        self.scroll_to_cursor()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def on_focus(self) -> None:
        self._cache.clear()
        self.refresh()

    def on_blur(self) -> None:
        self._cache.clear()
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        event.stop()
        if offset.y == 0:
            x = offset.x + int(self.scroll_x)
            for column, (start, width) in enumerate(zip(self._offsets, self._widths, strict=True)):
                if width >= 0 and start <= x < start + width:
                    self.post_message(self.HeaderSelected(self, column))
                    break
            return
        index = int(self.scroll_y) + offset.y - 1
        if 0 <= index < len(self._source):
            if index == self._cursor:
                self.post_message(self.Selected(self, index))
            else:
                self.move_cursor(index)

    # -- rendering ------------------------------------------------------------------------------------------
    def render_lines(self, crop: Region) -> list[Strip]:
        self._style = self.rich_style  # the widget's style walks its ancestors: once per update, not per line
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        style = self._style
        if not self._widths:
            self._layout_columns()
        if y == 0:
            strip = self._header_strip()
        else:
            index = scroll_y + y - 1
            if index >= len(self._source):
                return Strip.blank(width, style)
            strip = self._row_strip(index)
        return strip.crop_extend(scroll_x, scroll_x + width, style)

    def _header_strip(self) -> Strip:
        cache_key = ("header", self.sort_indicator)
        strip = self._cache.get(cache_key)
        if strip is None:
            style = self._style + self.get_component_rich_style("item-table--header")
            titles = [title for title, _ in self.columns]
            if self.sort_indicator is not None:
                column, descending = self.sort_indicator
                if 0 <= column < len(titles):
                    titles[column] = f"{titles[column]} {'▼' if descending else '▲'}"
            segments = [Segment(" " * MARK_WIDTH, style)]
            first = True
            for title, width in zip(titles, self._widths, strict=True):
                if width < 0:
                    continue
                if not first:
                    segments.append(Segment(" ", style))
                first = False
                segments.append(Segment(fit(title, width), style))
            strip = Strip(segments, self._total_width)
            self._cache[cache_key] = strip
        return strip

    def _row_strip(self, index: int) -> Strip:
        key = self.row_key(index)
        cursor = index == self._cursor
        marked = key in self._marks
        cache_key = (index, key, cursor, marked)
        strip = self._cache.get(cache_key)
        if strip is not None:
            return strip
        get = self.get_component_rich_style
        row_style = self._style
        if marked:
            row_style += get("item-table--marked")
        over: Style | None = get("item-table--cursor") if cursor else None
        styled = getattr(self._source, "styled_columns", ())
        cells = self._source.row(index)

        def final(style: Style) -> Style:
            return style + over if over is not None else style

        base = final(row_style)
        marker = final(row_style + get("item-table--marker", partial=True)) if marked else base
        segments = [Segment(MARK if marked else " " * MARK_WIDTH, marker)]
        first = True
        for n, (text, width) in enumerate(zip(cells, self._widths, strict=False)):
            if width < 0:
                continue
            if not first:
                segments.append(Segment(" ", base))
            first = False
            style = base
            if n in styled and text in VALUE_STYLES:
                style = final(row_style + get(f"item-table--{text}", partial=True))
            segments.append(Segment(fit(text, width), style))
        strip = Strip(segments, self._total_width)
        self._cache[cache_key] = strip
        return strip
