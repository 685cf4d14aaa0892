"""Charts as inline SVG, drawn on the server: no script or library is needed to see them.

:func:`stacked_bars` lays out a stacked bar chart (one bar per day, one segment per reason);
the template ``_bars.svg.html`` draws it with presentation attributes only (no inline style,
so the page's Content-Security-Policy needs no ``unsafe-inline``). Each segment carries a
``<title>`` (the browser's tooltip, read by screen readers), and the page shows the same numbers
in a table beside the chart.

>>> chart = stacked_bars(["11-30", "12-01"], {"superseded": [3, 5], "keyCompromise": [1, 0]}, ["superseded", "keyCompromise"])
>>> chart.y_max, [len(b.segments) for b in chart.bars]
(8, [2, 1])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: Okabe and Ito's palette: told apart with every common colour-vision deficiency.
PALETTE = {
    "affiliationChanged": "#0072B2",
    "superseded": "#009E73",
    "cessationOfOperation": "#E69F00",
    "certificateHold": "#CC79A7",
    "keyCompromise": "#D55E00",
    "unspecified": "#56B4E9",
    "privilegeWithdrawn": "#F0E442",
    "cACompromise": "#000000",
}
OTHER = "#8C8C8C"
#: The same palette in order, for series without a colour of their own (API keys, endpoints).
SERIES_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000", "#F0E442")


def colour(series: str) -> str:
    return PALETTE.get(series, OTHER)


@dataclass
class Segment:
    series: str
    value: int
    y: float
    height: float
    colour: str


@dataclass
class Bar:
    label: str
    x: float
    width: float
    total: int
    segments: list[Segment] = field(default_factory=list)
    show_label: bool = True


@dataclass
class Chart:
    width: int
    height: int
    left: int
    top: int
    plot_width: float
    plot_height: float
    y_max: int
    ticks: list[tuple[float, int]]
    bars: list[Bar]
    series: list[str]
    legend: list[tuple[str, str]]

    @property
    def bottom(self) -> float:
        return self.top + self.plot_height


def nice_step(value: float) -> int:
    """The smallest of 1, 2 or 5 times a power of ten at or above ``value`` (at least 1).

    >>> [nice_step(v) for v in (0, 1.2, 3, 7, 11, 2600)]
    [1, 2, 5, 10, 20, 5000]
    """
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return int(step * power)
    return 10 * power  # pragma: no cover - the loop ends at 10 * power


def stacked_bars(
    labels: list[str],
    values: dict[str, list[int]],
    series: list[str],
    *,
    width: int = 960,
    height: int = 300,
    colours: dict[str, str] | None = None,
) -> Chart:
    """Lays out one stacked bar per label; ``values[series][i]`` is series' value at label i.
    Colours: ``colours[series]``, else the reason palette, else grey."""
    left, right, top, bottom = 64, 16, 16, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(values.get(s, [0] * len(labels))[i] for s in series) for i in range(len(labels))]
    step = nice_step(max(totals, default=0) / 4)
    y_max = 4 * step
    ticks = [(top + plot_h - plot_h * k / 4, step * k) for k in range(5)]
    n = max(len(labels), 1)
    slot = plot_w / n
    bar_w = max(2.0, min(48.0, slot * 0.7))
    every = max(1, math.ceil(n / 16))  # at most ~16 labels under the axis
    bars = []
    for i, label in enumerate(labels):
        bar = Bar(label, left + slot * i + (slot - bar_w) / 2, bar_w, totals[i], show_label=(i % every == 0 or i == n - 1))
        y = top + plot_h
        for s in series:
            v = values.get(s, [0] * len(labels))[i]
            if not v:
                continue
            h = plot_h * v / y_max
            y -= h
            bar.segments.append(Segment(s, v, y, h, (colours or {}).get(s) or colour(s)))
        bars.append(bar)
    legend = [(s, (colours or {}).get(s) or colour(s)) for s in series]
    return Chart(width, height, left, top, plot_w, plot_h, y_max, ticks, bars, series, legend)
