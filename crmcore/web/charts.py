"""Server-rendered SVG charts for the dashboard.

Charts are plain inline SVG so that pages need no charting script, print well and can be read by
screen readers (``role="img"``, a ``<title>``, and a ``<desc>`` listing the data). Every text is
escaped. Colours come from a fixed palette whose classes (``chart-c1`` …) ``crm.css`` restyles;
the ``fill`` attributes keep a chart readable where that stylesheet is missing.

Layouts are computed left-to-right and mirrored as a whole for right-to-left languages: x
coordinates are flipped and the root carries ``direction="rtl"``, which also flips every
``text-anchor`` so labels keep their place relative to the shapes they describe.

Numbers the chart writes (values, axis ticks, percentages) are localised for ``lang``; labels
are shown as given, so callers pass them already translated and formatted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

from crmcore.web.i18n import format_number, format_percent, text_direction

__all__ = ["PALETTE", "bar_chart", "donut_chart", "stacked_bar_chart"]

# Ten distinguishable colours, one per interaction channel; the order matches --chart-1 …
# --chart-10 in crm.css. All keep at least 3:1 contrast against the white card background.
PALETTE: tuple[str, ...] = (
    "#2563eb",
    "#ea580c",
    "#16a34a",
    "#dc2626",
    "#7c3aed",
    "#0891b2",
    "#db2777",
    "#65a30d",
    "#475569",
    "#92400e",
)

# viewBox widths: text scales with the chart, so each chart is sized for the container it
# usually sits in (a dashboard card, or a full-width card for the weekly chart).
_BAR_WIDTH = 480
_STACKED_WIDTH = 640
_DONUT_WIDTH = 400
_PAD = 12
_FONT_SIZE = 12
_CHAR_WIDTH = 7  # rough advance of one character at _FONT_SIZE, for legend layout only
_LABEL_CHARS = 18
_GRID_COLOUR = "#d0d5dd"


class _Mirror:
    """Maps left-to-right layout coordinates onto the direction the chart is drawn in."""

    def __init__(self, width: float, rtl: bool) -> None:
        self.width = width
        self.rtl = rtl

    def x(self, x: float) -> float:
        return self.width - x if self.rtl else x

    def rect_x(self, x: float, width: float) -> float:
        return self.width - x - width if self.rtl else x

    def sweep(self, clockwise: bool) -> int:
        return int(clockwise != self.rtl)


def _num(value: float) -> str:
    """Coordinates with one decimal at most keep the markup short and stable for tests."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _tag(name: str, attrs: Mapping[str, object], *children: str) -> Markup:
    """One SVG element; attribute values and plain-string children are escaped."""
    attributes = "".join(f' {key}="{escape(value)}"' for key, value in attrs.items())
    return Markup(f"<{name}{attributes}>{Markup('').join(children)}</{name}>")


def _text(x: float, y: float, content: str, anchor: str, css_class: str) -> Markup:
    return _tag(
        "text",
        {
            "x": _num(x),
            "y": _num(y),
            "text-anchor": anchor,
            "class": css_class,
            "fill": "currentColor",
            "font-size": _FONT_SIZE,
        },
        content,
    )


def _line(x1: float, y1: float, x2: float, y2: float, css_class: str) -> Markup:
    return _tag(
        "line",
        {
            "x1": _num(x1),
            "y1": _num(y1),
            "x2": _num(x2),
            "y2": _num(y2),
            "class": css_class,
            "stroke": _GRID_COLOUR,
        },
    )


def _colour(index: int) -> tuple[str, str]:
    """Return the CSS class and the fallback fill for the ``index``-th series."""
    slot = index % len(PALETTE)
    return f"chart-c{slot + 1}", PALETTE[slot]


def _shorten(label: str, limit: int = _LABEL_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _check_values(labels: Sequence[str], values: Sequence[float], what: str) -> None:
    """Charts show counts and amounts: reject data that would draw a misleading picture."""
    if len(labels) != len(values):
        raise ValueError(f"{what}: {len(labels)} labels but {len(values)} values")
    for label, value in zip(labels, values, strict=True):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{what}: value for {label!r} must be a number >= 0, got {value!r}")


def _scale(maximum: float, ticks: int = 4) -> tuple[float, float]:
    """Round the axis up to a readable top value; returns ``(top, step)``."""
    if maximum <= 0:
        return float(ticks), 1.0
    raw_step = maximum / ticks
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw_step)
    if maximum >= 1 and step < 1:
        step = 1.0  # counts never get fractional ticks
    return step * math.ceil(maximum / step), step


def _ticks(top: float, step: float) -> list[float]:
    return [step * i for i in range(round(top / step) + 1)]


def _svg(
    width: float, height: float, title: str, lang: str, summary: list[str], *body: Markup
) -> Markup:
    direction = text_direction(lang)
    return _tag(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {_num(width)} {_num(height)}",
            "width": "100%",
            "role": "img",
            "aria-label": title,
            "class": "chart",
            "direction": direction,
            "lang": lang,
        },
        _tag("title", {}, title),
        _tag("desc", {}, "; ".join(summary)),
        *body,
    )


def bar_chart(
    labels: Sequence[str], values: Sequence[float], title: str, *, lang: str = "en"
) -> Markup:
    """Horizontal bars, one per label, e.g. contacts by lifecycle stage.

    Horizontal bars leave room for long translated labels. In right-to-left languages labels
    sit on the right and bars grow leftwards.
    """
    _check_values(labels, values, "bar_chart")
    row_height, bar_height, axis_height = 32, 20, 24
    label_width, value_room = 130, 56
    x0, x1 = _PAD + label_width, _BAR_WIDTH - _PAD - value_room
    top_y = _PAD
    height = top_y + row_height * len(labels) + axis_height + _PAD
    axis_y = top_y + row_height * len(labels)
    mirror = _Mirror(_BAR_WIDTH, text_direction(lang) == "rtl")
    top, step = _scale(max(values, default=0))

    body: list[Markup] = []
    for tick in _ticks(top, step):
        x = x0 + (x1 - x0) * tick / top
        body.append(_line(mirror.x(x), top_y, mirror.x(x), axis_y, "chart-grid"))
        body.append(
            _text(mirror.x(x), axis_y + 16, format_number(tick, lang), "middle", "chart-tick")
        )
    css_class, fill = _colour(0)
    summary = []
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        shown = format_number(value, lang)
        summary.append(f"{label}: {shown}")
        row_y = top_y + row_height * index
        bar_y = row_y + (row_height - bar_height) / 2
        length = (x1 - x0) * value / top
        body.append(
            _tag(
                "rect",
                {
                    "x": _num(mirror.rect_x(x0, length)),
                    "y": _num(bar_y),
                    "width": _num(length),
                    "height": bar_height,
                    "class": f"chart-bar {css_class}",
                    "fill": fill,
                },
                _tag("title", {}, f"{label}: {shown}"),
            )
        )
        text_y = bar_y + bar_height / 2 + _FONT_SIZE / 3
        body.append(_text(mirror.x(x0 - 8), text_y, _shorten(label), "end", "chart-label"))
        body.append(_text(mirror.x(x0 + length + 6), text_y, shown, "start", "chart-value"))
    body.append(_line(mirror.x(x0), top_y, mirror.x(x0), axis_y, "chart-axis"))
    return _svg(_BAR_WIDTH, height, title, lang, summary, *body)


def _legend(names: Sequence[str], y: float, mirror: _Mirror) -> tuple[list[Markup], float]:
    """Lay legend entries out in rows from the start side; returns the shapes and the y
    coordinate below the last row."""
    shapes: list[Markup] = []
    x = _PAD
    for index, name in enumerate(names):
        text = _shorten(name)
        item_width = 12 + 6 + _CHAR_WIDTH * len(text) + 16
        if x > _PAD and x + item_width > mirror.width - _PAD:
            x, y = _PAD, y + 20
        css_class, fill = _colour(index)
        shapes.append(
            _tag(
                "rect",
                {
                    "x": _num(mirror.rect_x(x, 12)),
                    "y": _num(y - 10),
                    "width": 12,
                    "height": 12,
                    "rx": 2,
                    "class": f"chart-swatch {css_class}",
                    "fill": fill,
                },
            )
        )
        shapes.append(_text(mirror.x(x + 18), y, text, "start", "chart-legend"))
        x += item_width
    return shapes, y + 12


def stacked_bar_chart(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    title: str,
    *,
    lang: str = "en",
) -> Markup:
    """Vertical stacked columns, e.g. interactions per week (categories) by channel (series).

    Each series keeps its palette colour across columns and is named in the legend below.
    Zero values draw nothing. In right-to-left languages the value axis is on the right and
    the first category is the rightmost column.
    """
    for name, values in series.items():
        _check_values(categories, values, f"stacked_bar_chart series {name!r}")
    plot_top, plot_height, axis_width = _PAD + 4, 200, 48
    x0, x1 = _PAD + axis_width, _STACKED_WIDTH - _PAD
    baseline = plot_top + plot_height
    mirror = _Mirror(_STACKED_WIDTH, text_direction(lang) == "rtl")
    totals = [sum(values[i] for values in series.values()) for i in range(len(categories))]
    top, step = _scale(max(totals, default=0))

    body: list[Markup] = []
    for tick in _ticks(top, step):
        y = baseline - plot_height * tick / top
        body.append(_line(mirror.x(x0), y, mirror.x(x1), y, "chart-grid"))
        body.append(_text(mirror.x(x0 - 6), y + 4, format_number(tick, lang), "end", "chart-tick"))

    band = (x1 - x0) / max(len(categories), 1)
    bar_width = min(band * 0.64, 48)
    label_every = max(1, math.ceil(len(categories) / 12))
    summary = []
    for index, category in enumerate(categories):
        bar_x = x0 + band * index + (band - bar_width) / 2
        y = baseline
        parts = []
        for series_index, (name, values) in enumerate(series.items()):
            value = values[index]
            if value == 0:
                continue
            shown = format_number(value, lang)
            parts.append(f"{name} {shown}")
            segment = plot_height * value / top
            y -= segment
            css_class, fill = _colour(series_index)
            body.append(
                _tag(
                    "rect",
                    {
                        "x": _num(mirror.rect_x(bar_x, bar_width)),
                        "y": _num(y),
                        "width": _num(bar_width),
                        "height": _num(segment),
                        "class": f"chart-bar {css_class}",
                        "fill": fill,
                    },
                    _tag("title", {}, f"{category} · {name}: {shown}"),
                )
            )
        summary.append(f"{category}: {', '.join(parts) or format_number(0, lang)}")
        if index % label_every == 0:
            centre = mirror.x(bar_x + bar_width / 2)
            body.append(
                _text(centre, baseline + 16, _shorten(category, 12), "middle", "chart-label")
            )
    body.append(_line(mirror.x(x0), baseline, mirror.x(x1), baseline, "chart-axis"))
    legend, bottom = _legend(list(series), baseline + 44, mirror)
    body.extend(legend)
    return _svg(_STACKED_WIDTH, bottom + _PAD, title, lang, summary, *body)


def _ring_point(cx: float, cy: float, radius: float, angle: float) -> tuple[float, float]:
    """Point on a circle, with angle 0 at twelve o'clock and growing clockwise."""
    return cx + radius * math.sin(angle), cy - radius * math.cos(angle)


def _slice_path(
    mirror: _Mirror, cx: float, cy: float, outer: float, inner: float, start: float, end: float
) -> str:
    """Path data for one ring segment from ``start`` to ``end`` radians."""
    large = int(end - start > math.pi)
    points = [
        _ring_point(cx, cy, outer, start),
        _ring_point(cx, cy, outer, end),
        _ring_point(cx, cy, inner, end),
        _ring_point(cx, cy, inner, start),
    ]
    (ax, ay), (bx, by), (cx2, cy2), (dx, dy) = [(mirror.x(x), y) for x, y in points]
    clockwise, back = mirror.sweep(True), mirror.sweep(False)
    return (
        f"M{_num(ax)} {_num(ay)} A{_num(outer)} {_num(outer)} 0 {large} {clockwise} "
        f"{_num(bx)} {_num(by)} L{_num(cx2)} {_num(cy2)} "
        f"A{_num(inner)} {_num(inner)} 0 {large} {back} {_num(dx)} {_num(dy)}Z"
    )


def _ring_path(cx: float, cy: float, outer: float, inner: float) -> str:
    """A whole ring (one slice with 100 %), drawn as two circles with even-odd filling because
    an SVG arc cannot start and end at the same point."""
    parts = []
    for radius in (outer, inner):
        parts.append(
            f"M{_num(cx)} {_num(cy - radius)} "
            f"A{_num(radius)} {_num(radius)} 0 1 1 {_num(cx)} {_num(cy + radius)} "
            f"A{_num(radius)} {_num(radius)} 0 1 1 {_num(cx)} {_num(cy - radius)}Z"
        )
    return " ".join(parts)


def donut_chart(
    labels: Sequence[str], values: Sequence[float], title: str, *, lang: str = "en"
) -> Markup:
    """A ring of slices with the total in the middle and a legend with values and shares.

    Slices start at twelve o'clock and run clockwise, or anticlockwise with the ring on the
    right in right-to-left languages. Zero values are listed in the legend but draw no slice.
    """
    _check_values(labels, values, "donut_chart")
    outer, inner = 72, 46
    mirror = _Mirror(_DONUT_WIDTH, text_direction(lang) == "rtl")
    height = max(2 * outer + 2 * _PAD, 20 * len(labels) + 2 * _PAD + 8)
    cx, cy = _PAD + outer, height / 2
    total = sum(values)

    body: list[Markup] = []
    entries = [
        (
            label,
            f"{format_number(value, lang)} ({format_percent(value / total if total else 0, lang)})",
        )
        for label, value in zip(labels, values, strict=True)
    ]
    if total == 0:
        body.append(
            _tag(
                "path",
                {
                    "d": _ring_path(mirror.x(cx), cy, outer, inner),
                    "fill-rule": "evenodd",
                    "class": "chart-empty",
                    "fill": _GRID_COLOUR,
                },
            )
        )
    angle = 0.0
    for index, ((label, shown), value) in enumerate(zip(entries, values, strict=True)):
        if value == 0:
            continue
        sweep = 2 * math.pi * value / total
        css_class, fill = _colour(index)
        if value == total:
            attrs = {"d": _ring_path(mirror.x(cx), cy, outer, inner), "fill-rule": "evenodd"}
        else:
            attrs = {"d": _slice_path(mirror, cx, cy, outer, inner, angle, angle + sweep)}
        attrs |= {"class": f"chart-slice {css_class}", "fill": fill}
        body.append(_tag("path", attrs, _tag("title", {}, f"{label}: {shown}")))
        angle += sweep
    body.append(
        _tag(
            "text",
            {
                "x": _num(mirror.x(cx)),
                "y": _num(cy + 8),
                "text-anchor": "middle",
                "class": "chart-total",
                "fill": "currentColor",
                "font-size": 22,
            },
            format_number(total, lang),
        )
    )
    legend_x = cx + outer + 24
    first_y = cy - 20 * (len(labels) - 1) / 2 + 4
    for index, (label, shown) in enumerate(entries):
        y = first_y + 20 * index
        css_class, fill = _colour(index)
        body.append(
            _tag(
                "rect",
                {
                    "x": _num(mirror.rect_x(legend_x, 12)),
                    "y": _num(y - 10),
                    "width": 12,
                    "height": 12,
                    "rx": 2,
                    "class": f"chart-swatch {css_class}",
                    "fill": fill,
                },
            )
        )
        text = f"{_shorten(label)}: {shown}"
        body.append(_text(mirror.x(legend_x + 18), y, text, "start", "chart-legend"))
    summary = [f"{label}: {shown}" for label, shown in entries]
    return _svg(_DONUT_WIDTH, height, title, lang, summary, *body)
