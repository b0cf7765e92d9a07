"""LogView: an append-only log rendered with the Line API, for output that streams in (a remediation's apply).

Appending is cheap: a line is stored as it comes and turned into a strip only when it is on screen (strips are
cached by the line's absolute number). At most ``max_lines`` lines are kept; older ones are dropped from the
top. While the view is at its end it follows the tail: new lines scroll into view. Scroll up and it stays
where you are; ``end`` (or scrolling back down) follows again.

Lines are plain strings (ANSI colour codes are interpreted, other control characters dropped) or rich
``Text``. Keys: up/down, page up/down, home, end, left/right.
"""

from __future__ import annotations

from collections import deque
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

DEFAULT_MAX_LINES = 10_000


def as_text(line: str | Text) -> Text:
    """One log line as rich Text on a single row: ANSI codes interpreted, tabs expanded, newlines flattened."""
    if isinstance(line, Text):
        text = line.copy()
    else:
        line = line.replace("\r", "")
        text = Text.from_ansi(line) if "\x1b" in line else Text(line)
    text.expand_tabs(4)
    if "\n" in text.plain:
        text = Text(" ").join(text.split("\n", allow_blank=True))
    text.no_wrap = True
    text.end = ""
    return text


class LogView(ScrollView, can_focus=True):
    """A scrolling log of at most ``max_lines`` lines that follows its tail (see the module docstring)."""

    ALLOW_SELECT = False

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "scroll_up", "Up", show=False),
        Binding("down,j", "scroll_down", "Down", show=False),
        Binding("left", "scroll_left", "Left", show=False),
        Binding("right", "scroll_right", "Right", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "scroll_home", "Top", show=False),
        Binding("end,G", "scroll_end", "End", show=False),
    ]

    DEFAULT_CSS = """
    LogView {
        background: $surface;
        color: $foreground;
        height: 1fr;
        &:focus { background-tint: $foreground 5%; }
    }
    """

    def __init__(self, *, max_lines: int = DEFAULT_MAX_LINES, name: str | None = None, id: str | None = None,
                 classes: str | None = None, disabled: bool = False) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        if max_lines < 1:
            raise ValueError(f"max_lines must be at least 1, not {max_lines}")
        self.max_lines = max_lines
        self._lines: deque[Text] = deque(maxlen=max_lines)
        self._dropped = 0  # lines dropped from the top: the absolute number of self._lines[0]
        self._width = 0  # the widest line kept, in cells
        self._cache: LRUCache[int, Strip] = LRUCache(1024)
        self._style = Style()
        self.follow = True
        """Whether new lines scroll into view (true while the view is at its end)."""

    # -- content ----------------------------------------------------------------------------------------
    @property
    def line_count(self) -> int:
        return len(self._lines)

    @property
    def dropped(self) -> int:
        """How many lines were dropped from the top to keep ``max_lines``."""
        return self._dropped

    @property
    def lines(self) -> list[str]:
        """The text of the lines kept, oldest first."""
        return [line.plain for line in self._lines]

    def write_line(self, line: str | Text) -> None:
        self.write_lines([line])

    def write_lines(self, lines: list[str | Text] | tuple[str | Text, ...]) -> None:
        """Append lines; the oldest go once there are more than ``max_lines``."""
        if not lines:
            return
        for line in lines:
            text = as_text(line)
            if len(self._lines) == self.max_lines:
                self._dropped += 1
            self._lines.append(text)
            self._width = max(self._width, text.cell_len)
        if not self.is_mounted:
            return
        self.virtual_size = Size(self._width, len(self._lines))
        if self.follow:
            self.scroll_to(y=max(0, len(self._lines) - self.scrollable_content_region.height), animate=False,
                           force=True, immediate=True)
        self.refresh()

    def clear(self) -> None:
        self._dropped += len(self._lines)
        self._lines.clear()
        self._width = 0
        self._cache.clear()
        if self.is_mounted:
            self.virtual_size = Size(0, 0)
            self.scroll_to(0, 0, animate=False, force=True, immediate=True)
            self.refresh()
        self.follow = True

    # -- scrolling ----------------------------------------------------------------------------------------
    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # at the end: follow; went back up: stay there (new lines do not move the view)
        self.follow = self.is_vertical_scroll_end or (new_value >= old_value and self.follow)

    def action_scroll_end(self) -> None:
        self.follow = True
        super().action_scroll_end()

    # -- rendering ------------------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.virtual_size = Size(self._width, len(self._lines))
        if self.follow:
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def render_lines(self, crop: Region) -> list[Strip]:
        self._style = self.rich_style  # once per update, not per line
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        index = scroll_y + y
        if not 0 <= index < len(self._lines):
            return Strip.blank(width, self._style)
        number = self._dropped + index
        strip = self._cache.get(number)
        if strip is None:
            text = self._lines[index]
            strip = Strip(text.render(self.app.console), text.cell_len)
            self._cache[number] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, self._style).apply_style(self._style)
