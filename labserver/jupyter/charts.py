"""Two small charts in SVG for topic notebooks: grouped bars and a scatter plot.

Enough for a course picture (axes with round ticks, axis labels, a legend, an optional
``y = x`` line to compare two sizes) without a plotting library in the kernel.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from .svg import COLOURS, GRID, INK, Drawing, fmt, shorten

DIAGONAL = "#999999"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``low``..``high`` (1, 2 or 5 times a power of ten apart)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value < high + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


class _Axes:
    """A plot area inside a drawing, mapping data to pixels."""

    def __init__(self, d: Drawing, x0: float, y0: float, x1: float, y1: float,
                 xticks: list[float] | None, yticks: list[float]) -> None:
        self.d, self.x0, self.y0, self.x1, self.y1 = d, x0, y0, x1, y1
        self.xticks, self.yticks = xticks, yticks

    def px(self, x: float) -> float:
        assert self.xticks is not None
        lo, hi = self.xticks[0], self.xticks[-1]
        return self.x0 + (x - lo) / (hi - lo) * (self.x1 - self.x0)

    def py(self, y: float) -> float:
        lo, hi = self.yticks[0], self.yticks[-1]
        return self.y1 - (y - lo) / (hi - lo) * (self.y1 - self.y0)

    def draw(self, xlabel: str, ylabel: str) -> None:
        d = self.d
        for t in self.yticks:
            y = self.py(t)
            d.line(self.x0, y, self.x1, y, colour=GRID, stroke_width=1)
            d.text(self.x0 - 6, y + 4, fmt(t), text_anchor="end", font_size=11)
        for t in self.xticks or []:
            x = self.px(t)
            d.line(x, self.y0, x, self.y1, colour=GRID, stroke_width=1)
            d.text(x, self.y1 + 16, fmt(t), text_anchor="middle", font_size=11)
        d.line(self.x0, self.y1, self.x1, self.y1)
        d.line(self.x0, self.y0, self.x0, self.y1)
        if xlabel:
            d.text((self.x0 + self.x1) / 2, self.y1 + 36, xlabel, text_anchor="middle")
        if ylabel:
            cy = (self.y0 + self.y1) / 2
            d.text(16, cy, ylabel, text_anchor="middle", transform=f"rotate(-90 16 {fmt(cy)})")


def _frame(title: str, width: int, height: int, legend: list[tuple[str, str]]) -> Drawing:
    d = Drawing(width, height, title or "chart")
    if title:
        d.text(width / 2, 22, title, text_anchor="middle", font_size=15, font_weight="bold")
    if len(legend) > 1:
        d.legend(70, 44, legend)
    return d


def bar_chart(labels: Sequence[str], series: Mapping[str, Sequence[float]] | Sequence[float],
              *, title: str = "", xlabel: str = "", ylabel: str = "", width: int = 640,
              height: int = 360, values: bool = True) -> Drawing:
    """Grouped bars: one group per label, one bar per series (``{"name": [values]}``).

    A plain list of numbers is one series named after ``ylabel``. With ``values`` each
    bar carries its number on top.
    """
    named = dict(series) if isinstance(series, Mapping) else {ylabel or "value": series}
    for name, vals in named.items():
        if len(vals) != len(labels):
            raise ValueError(f"series {name!r} has {len(vals)} values for {len(labels)} labels")
    colours = dict(zip(named, COLOURS * (len(named) // len(COLOURS) + 1), strict=False))
    d = _frame(title, width, height, list(colours.items()))
    everything = [v for vals in named.values() for v in vals] or [0]
    yticks = nice_ticks(min(0, *everything), max(0, *everything))
    axes = _Axes(d, 70, 60, width - 20, height - 50, None, yticks)
    axes.draw(xlabel, ylabel)
    group = (axes.x1 - axes.x0) / max(len(labels), 1)
    bar = group * 0.8 / max(len(named), 1)
    for i, label in enumerate(labels):
        gx = axes.x0 + i * group + group * 0.1
        for j, (name, vals) in enumerate(named.items()):
            top, base = axes.py(vals[i]), axes.py(0)
            rect = d.rect(gx + j * bar, min(top, base), bar * 0.92, abs(base - top),
                          fill=colours[name])
            d.add("title", {}, f"{label}, {name}: {fmt(vals[i])}", parent=rect)
            if values:
                d.text(gx + j * bar + bar * 0.46, min(top, base) - 3, fmt(vals[i]),
                       text_anchor="middle", font_size=10, fill=INK)
        d.text(axes.x0 + (i + 0.5) * group, axes.y1 + 16, shorten(str(label), 18),
               text_anchor="middle", font_size=11)
    return d


def scatter_plot(series: Mapping[str, Sequence[tuple[float, float]]]
                 | Sequence[tuple[float, float]], *, title: str = "", xlabel: str = "",
                 ylabel: str = "", diagonal: bool = False, width: int = 560,
                 height: int = 400) -> Drawing:
    """Points ``(x, y)``, one colour per series; ``diagonal`` draws the line ``y = x``.

    Comparing two sizes of the same messages (bytes on disk against the size POP3
    reports), points above the diagonal are messages whose second size is larger.
    """
    named = dict(series) if isinstance(series, Mapping) else {ylabel or "points": series}
    colours = dict(zip(named, COLOURS * (len(named) // len(COLOURS) + 1), strict=False))
    legend = list(colours.items()) + ([("y = x", DIAGONAL)] if diagonal else [])
    d = _frame(title, width, height, legend if len(named) > 1 or diagonal else [])
    points = [p for pts in named.values() for p in pts] or [(0.0, 0.0)]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    if diagonal:
        low, high = min(*xs, *ys), max(*xs, *ys)
        xticks = yticks = nice_ticks(low, high)
    else:
        xticks, yticks = nice_ticks(min(xs), max(xs)), nice_ticks(min(ys), max(ys))
    axes = _Axes(d, 70, 60, width - 20, height - 50, xticks, yticks)
    axes.draw(xlabel, ylabel)
    if diagonal:
        lo, hi = xticks[0], xticks[-1]
        d.line(axes.px(lo), axes.py(lo), axes.px(hi), axes.py(hi), colour=DIAGONAL,
               stroke_dasharray="5 4")
    for name, pts in named.items():
        for x, y in pts:
            dot = d.add("circle", {"cx": axes.px(x), "cy": axes.py(y), "r": 4,
                                   "fill": colours[name], "fill_opacity": 0.8})
            d.add("title", {}, f"{name}: ({fmt(x)}, {fmt(y)})", parent=dot)
    return d
