"""Small plot panels for the metrics section: a title, the latest figures in words, and the series as a
plotext line chart, or, where the panel is too small for a chart, as a Sparkline of the main series."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Sparkline, Static
from textual_plotext import PlotextPlot

# below this many rows or columns of content a panel shows a Sparkline instead of a chart
PLOT_MIN_HEIGHT = 6
PLOT_MIN_WIDTH = 30


@dataclass(frozen=True)
class Line:
    """One series of a chart: its values per bucket (None: no value there) and its colour (a name both
    plotext and rich know: red, yellow, magenta, cyan, green, blue)."""

    label: str
    values: Sequence[float | None]
    color: str


def words(pairs: Sequence[tuple[str, str]], colors: dict[str, str] | None = None) -> str:
    """``missing 4 · changed 6``, each name in its series' colour (markup)."""
    colors = colors or {}
    out = []
    for name, value in pairs:
        style = colors.get(name)
        label = f"[{style}]{escape(name)}[/]" if style else escape(name)
        out.append(f"{label} [b]{escape(value)}[/]")
    return " · ".join(out)


class MetricPanel(Vertical):
    """A titled panel with the latest figures over a chart of their series."""

    DEFAULT_CSS = """
    MetricPanel { border: round $primary-darken-2; border-title-color: $text; border-title-style: bold;
                  padding: 0 1; height: 1fr; }
    MetricPanel > .figures { height: auto; max-height: 2; }
    MetricPanel > PlotextPlot { height: 1fr; }
    MetricPanel > Sparkline { height: 1fr; display: none; }
    MetricPanel > .empty { height: 1fr; color: $text-muted; display: none; }
    MetricPanel.-compact > PlotextPlot { display: none; }
    MetricPanel.-compact > Sparkline { display: block; }
    MetricPanel.-empty > PlotextPlot { display: none; }
    MetricPanel.-empty > Sparkline { display: none; }
    MetricPanel.-empty > .empty { display: block; }
    """
    COMPACT_CLASS: ClassVar[str] = "-compact"

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = title
        self.lines: list[Line] = []
        self.ticks: tuple[list[int], list[str]] = ([], [])
        self.y_range: tuple[float, float] | None = None

    def compose(self) -> ComposeResult:
        yield Static("", classes="figures")
        yield PlotextPlot()
        yield Sparkline([])
        yield Static("", classes="empty")

    @property
    def compact(self) -> bool:
        return self.has_class(self.COMPACT_CLASS)

    def on_resize(self) -> None:
        size = self.content_size
        self.set_class(size.height < PLOT_MIN_HEIGHT or size.width < PLOT_MIN_WIDTH, self.COMPACT_CLASS)

    def show(self, figures: str, lines: Sequence[Line], *, ticks: tuple[list[int], list[str]],
             spark: Sequence[float | None] | None = None, empty: str | None = None,
             y_range: tuple[float, float] | None = None) -> None:
        """Show ``figures`` (markup) over ``lines``; ``spark`` (default: the first line) is what the compact
        form plots; ``empty`` replaces the chart with a sentence saying why there is nothing to plot."""
        self.query_one(".figures", Static).update(figures)
        self.query_one(".empty", Static).update(escape(empty or ""))
        self.set_class(empty is not None, "-empty")
        self.lines, self.ticks, self.y_range = list(lines), ticks, y_range
        series = list(spark if spark is not None else (lines[0].values if lines else []))
        while series and series[0] is None:  # before the first value: nothing, rather than zeros
            series.pop(0)
        self.query_one(Sparkline).data = [float(v or 0) for v in series]
        self._draw()

    def _draw(self) -> None:
        chart = self.query_one(PlotextPlot)
        plt = chart.plt
        plt.clear_data()
        plt.clear_figure()  # also forgets the ticks and limits of the previous data
        for line in self.lines:
            points = [(x, float(v)) for x, v in enumerate(line.values) if v is not None]
            if points:
                xs, ys = zip(*points, strict=True)
                plt.plot(list(xs), list(ys), marker="braille", color=line.color)
        positions, labels = self.ticks
        if positions:
            plt.xticks(positions, labels)
            plt.xlim(positions[0], positions[-1])
        values = [float(v) for line in self.lines for v in line.values if v is not None]
        if self.y_range is not None:
            plt.ylim(*self.y_range)
        elif values and all(v.is_integer() for v in values):  # counts: whole-number ticks from 0
            top = max(max(values), 1.0)
            plt.ylim(0, top)
            plt.yticks(sorted({0, int(top // 2), int(top)}))
        else:
            plt.yfrequency(3)
        chart.refresh()


class EventTail(VerticalScroll):
    """The latest events, newest at the bottom, kept scrolled to the end."""

    DEFAULT_CSS = """
    EventTail { border: round $primary-darken-2; border-title-color: $text; border-title-style: bold;
                padding: 0 1; }
    EventTail > Static { width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Recent events"
        self.lines: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("", markup=False)

    def show(self, lines: Sequence[str], empty: str = "no events yet") -> None:
        self.lines = list(lines)
        self.query_one(Static).update("\n".join(self.lines) or empty)
        self.call_after_refresh(self.scroll_end, animate=False)
