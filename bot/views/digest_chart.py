"""The digest's chart: new vs resolved per department (or category), drawn with matplotlib's object
API on the Agg backend; call it in a worker thread (it takes tens of milliseconds)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache

from bot.core.text import truncate

CHART_SIZE_INCHES = (8.0, 6.0)
CHART_DPI = 100  # 800 x 600 pixels, whatever the data
CHART_LABEL_LIMIT = 40


@dataclass(frozen=True)
class ChartData:
    """What the chart shows, already in the recipient's language."""

    title: str
    new_label: str
    resolved_label: str
    axis_label: str
    empty_label: str
    rows: tuple[tuple[str, int, int], ...]  # label, new, resolved


@lru_cache(maxsize=1)
def _font_chars() -> frozenset[int]:
    """Code points the default font can draw (a missing glyph is a warning, and tests make those errors)."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans"))
    return frozenset(FT2Font(path).get_charmap())


def _drawable(text: str) -> str:
    chars = _font_chars()
    cleaned = "".join(ch for ch in text if ord(ch) in chars or ch == " ").strip()
    return cleaned.replace("$", r"\$")  # no mathtext


def render_chart(data: ChartData) -> bytes:
    """A PNG of horizontal bars, new vs resolved per row; fixed 800×600 px. Blocking: run in a thread."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=CHART_SIZE_INCHES, dpi=CHART_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(_drawable(data.title))
    rows = list(data.rows) if any(new or resolved for _, new, resolved in data.rows) else []
    if not rows:
        axes.text(0.5, 0.5, _drawable(data.empty_label), ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
    else:
        labels = [_drawable(truncate(label, CHART_LABEL_LIMIT)) for label, _, _ in rows]
        positions = list(range(len(rows)))
        height = 0.4
        new_bars = axes.barh(
            [p - height / 2 for p in positions],
            [r[1] for r in rows],
            height=height,
            label=_drawable(data.new_label),
            color="#d9822b",
        )
        resolved_bars = axes.barh(
            [p + height / 2 for p in positions],
            [r[2] for r in rows],
            height=height,
            label=_drawable(data.resolved_label),
            color="#2b8a3e",
        )
        axes.set_yticks(positions, labels, fontsize=8 if len(rows) > 12 else 9)
        axes.invert_yaxis()
        axes.set_xlabel(_drawable(data.axis_label))
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(axis="x", alpha=0.3)
        for bars, values in ((new_bars, [r[1] for r in rows]), (resolved_bars, [r[2] for r in rows])):
            axes.bar_label(bars, labels=[str(v) if v else "" for v in values], padding=2, fontsize=8)
        axes.margins(x=0.08)
        axes.legend(loc="best")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=CHART_DPI, metadata={"Software": None})
    return buffer.getvalue()
