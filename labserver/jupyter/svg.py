"""A small SVG toolkit for the course's pictures: built with ElementTree, so escaped.

Pictures are plain SVG (no plotting library, no JavaScript): they show inline in
JupyterLab through ``_repr_svg_``, survive nbconvert to HTML, and can be saved as files.
Text goes through ``clean()`` first: XML 1.0 forbids most control characters, and a
session transcript may contain any byte, so those become visible ``\\xNN`` escapes.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET

FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"
CHAR_WIDTH = 0.6  # a monospace glyph's advance, as a fraction of the font size
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]
PASS, FAIL, SKIP, INK, GRID = "#2e7d32", "#c62828", "#9e9e9e", "#222222", "#dddddd"

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def clean(text: object) -> str:
    """Text that XML can carry: control characters shown as ``\\xNN``."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when something was cut."""
    return text if len(text) <= limit else text[:max(limit - 1, 0)] + "…"


def fmt(value: float) -> str:
    """A number as a label: no trailing zeros, thousands kept readable."""
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", " ") if abs(value) >= 10000 else str(int(value))
    return f"{value:.3g}"


class Drawing:
    """An SVG picture: shows inline in a notebook, ``str()`` is the SVG text."""

    def __init__(self, width: float, height: float, title: str = "") -> None:
        self.root = ET.Element("svg", {
            "xmlns": "http://www.w3.org/2000/svg", "width": fmt(width),
            "height": fmt(height), "viewBox": f"0 0 {fmt(width)} {fmt(height)}",
            "font-family": FONT, "font-size": "12"})
        ET.SubElement(self.root, "rect", {"x": "0", "y": "0", "width": "100%",
                                          "height": "100%", "fill": "white"})
        if title:
            ET.SubElement(self.root, "title").text = clean(title)
        defs = ET.SubElement(self.root, "defs")
        self._markers: set[str] = set()
        self._defs = defs

    @property
    def width(self) -> float:
        return float(self.root.get("width", "0"))

    def resize(self, height: float) -> None:
        """Set the height once the content is laid out."""
        self.root.set("height", fmt(height))
        self.root.set("viewBox", f"0 0 {self.root.get('width')} {fmt(height)}")

    def marker(self, colour: str) -> str:
        """The id of an arrowhead marker in ``colour`` (made once)."""
        ident = "arrow-" + colour.lstrip("#")
        if ident not in self._markers:
            self._markers.add(ident)
            marker = ET.SubElement(self._defs, "marker", {
                "id": ident, "viewBox": "0 0 10 10", "refX": "10", "refY": "5",
                "markerWidth": "8", "markerHeight": "8", "orient": "auto-start-reverse"})
            ET.SubElement(marker, "path", {"d": "M 0 0 L 10 5 L 0 10 z", "fill": colour})
        return ident

    def add(self, tag: str, attrs: dict[str, object], text: str | None = None,
            parent: ET.Element | None = None) -> ET.Element:
        element = ET.SubElement(self.root if parent is None else parent, tag,
                                {k.replace("_", "-"): fmt(v) if isinstance(v, float | int)
                                 else str(v) for k, v in attrs.items()})
        if text is not None:
            element.text = clean(text)
        return element

    def text(self, x: float, y: float, text: str, **attrs: object) -> ET.Element:
        return self.add("text", {"x": x, "y": y, **attrs}, text)

    def line(self, x1: float, y1: float, x2: float, y2: float, colour: str = INK,
             arrow: bool = False, **attrs: object) -> ET.Element:
        extra: dict[str, object] = {"marker_end": f"url(#{self.marker(colour)})"} if arrow \
            else {}
        return self.add("line", {"x1": x1, "y1": y1, "x2": x2, "y2": y2, "stroke": colour,
                                 "stroke_width": 1.4, **extra, **attrs})

    def rect(self, x: float, y: float, w: float, h: float, **attrs: object) -> ET.Element:
        return self.add("rect", {"x": x, "y": y, "width": w, "height": h, **attrs})

    def legend(self, x: float, y: float, entries: list[tuple[str, str]]) -> float:
        """Colour swatches with names, left to right from (x, y); returns the right edge."""
        for name, colour in entries:
            self.rect(x, y - 9, 10, 10, fill=colour)
            self.text(x + 14, y, name)
            x += 14 + 7 * len(name) + 16
        return x

    @property
    def svg(self) -> str:
        return ET.tostring(self.root, encoding="unicode")

    def __str__(self) -> str:
        return self.svg

    def _repr_svg_(self) -> str:
        return self.svg

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the picture as an .svg file."""
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.svg)
