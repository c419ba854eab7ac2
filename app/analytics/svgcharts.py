"""Small bar and line charts as SVG markup, drawn in Python for the PDF exports (weasyprint runs no JavaScript,
so the pages' Chart.js cannot draw them there).

Built with ElementTree, which escapes every label (funnel and step names are people's text). Colours and
sizes are SVG presentation attributes, not `style`: the markup carries no inline style.
"""
import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence

from markupsafe import Markup

SVG_NS = "http://www.w3.org/2000/svg"
ACCENT = "#4f46e5"
GRID = "#e5e7eb"
INK = "#374151"
MUTED = "#6b7280"
FONT = "Helvetica, Arial, sans-serif"
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 44  # room for the value axis and the labels
MAX_LABELS = 8  # x-axis labels shown at most (a year of days shows every ~46th)
LABEL_CHARS = 16


def nice_ceiling(value: float) -> float:
    """The round number (1, 2, 2.5 or 5 times a power of ten) at or above `value`: the top of the value axis."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * power:
            return factor * power
    return 10 * power


def short(text: str, limit: int = LABEL_CHARS) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def compact(value: float) -> str:
    """1234 -> "1.2k", 2500000 -> "2.5M": the value axis' labels."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:.2f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))


def _canvas(width: int, height: int, title: str) -> ET.Element:
    svg = ET.Element("svg", {"xmlns": SVG_NS, "width": str(width), "height": str(height),
                             "viewBox": f"0 0 {width} {height}", "role": "img", "aria-label": title,
                             "font-family": FONT, "font-size": "10"})
    ET.SubElement(svg, "title").text = title
    return svg


def _text(parent, x: float, y: float, text: str, anchor: str = "middle", fill: str = MUTED) -> None:
    ET.SubElement(parent, "text", {"x": f"{x:.1f}", "y": f"{y:.1f}", "text-anchor": anchor,
                                   "fill": fill}).text = text


def _value_axis(svg, width: int, height: int, top_value: float, format_value: Callable) -> None:
    plot_height = height - TOP - BOTTOM
    for index in range(5):
        value = top_value * index / 4
        y = TOP + plot_height - plot_height * index / 4
        ET.SubElement(svg, "line", {"x1": str(LEFT), "x2": str(width - RIGHT), "y1": f"{y:.1f}",
                                    "y2": f"{y:.1f}", "stroke": GRID, "stroke-width": "1"})
        _text(svg, LEFT - 6, y + 3, format_value(value), anchor="end")


def _label_indexes(count: int) -> list[int]:
    if count <= MAX_LABELS:
        return list(range(count))
    stride = math.ceil(count / MAX_LABELS)
    return list(range(0, count, stride))


def _render(svg: ET.Element) -> Markup:
    return Markup(ET.tostring(svg, encoding="unicode"))


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str, width: int = 640, height: int = 240,
              format_value: Callable[[float], str] = compact) -> Markup:
    """Vertical bars, one per label, with the value above each (when there are few enough to read)."""
    svg = _canvas(width, height, title)
    values = [max(float(value or 0), 0.0) for value in values]
    top_value = nice_ceiling(max(values, default=0))
    _value_axis(svg, width, height, top_value, format_value)
    plot_width, plot_height = width - LEFT - RIGHT, height - TOP - BOTTOM
    band = plot_width / max(len(values), 1)
    bar = max(band * 0.7, 1.0)
    shown = set(_label_indexes(len(values)))
    for index, (label, value) in enumerate(zip(labels, values, strict=False)):
        x = LEFT + band * index + (band - bar) / 2
        bar_height = plot_height * value / top_value
        y = TOP + plot_height - bar_height
        ET.SubElement(svg, "rect", {"x": f"{x:.1f}", "y": f"{y:.1f}", "width": f"{bar:.1f}",
                                    "height": f"{bar_height:.1f}", "fill": ACCENT, "rx": "2"})
        if len(values) <= 12:
            _text(svg, x + bar / 2, y - 3, format_value(value), fill=INK)
        if index in shown:
            _text(svg, LEFT + band * index + band / 2, height - BOTTOM + 14, short(label))
    return _render(svg)


def line_chart(labels: Sequence[str], values: Sequence[float], title: str, width: int = 640, height: int = 240,
               format_value: Callable[[float], str] = compact) -> Markup:
    """One line over time (labels are the buckets, in order), dots when there are few points."""
    svg = _canvas(width, height, title)
    values = [float(value or 0) for value in values]
    top_value = nice_ceiling(max(values, default=0))
    _value_axis(svg, width, height, top_value, format_value)
    plot_width, plot_height = width - LEFT - RIGHT, height - TOP - BOTTOM
    count = len(values)

    def point(index: int, value: float) -> tuple[float, float]:
        x = LEFT + (plot_width * index / (count - 1) if count > 1 else plot_width / 2)
        return x, TOP + plot_height - plot_height * max(value, 0) / top_value

    points = [point(index, value) for index, value in enumerate(values)]
    if points:
        ET.SubElement(svg, "polyline", {"points": " ".join(f"{x:.1f},{y:.1f}" for x, y in points),
                                        "fill": "none", "stroke": ACCENT, "stroke-width": "2",
                                        "stroke-linejoin": "round"})
    if count <= 40:
        for x, y in points:
            ET.SubElement(svg, "circle", {"cx": f"{x:.1f}", "cy": f"{y:.1f}", "r": "2.5", "fill": ACCENT})
    for index in _label_indexes(count):
        _text(svg, points[index][0], height - BOTTOM + 14, short(labels[index]))
    return _render(svg)
