"""The bulletin's bar chart as inline SVG, with zone names that always fit their column.

A zone's name is measured before it is placed: full-width (CJK) characters are one em, Latin
letters less (by the widest of the fonts the page names), so a name that is too long wraps onto
a second line and, past that, is shortened with an ellipsis. The full name stays in the label's
``<title>``, which a browser shows as a tooltip. The estimate errs wide on purpose: a name
wrapped a little early costs nothing, a clipped one misnames a zone in an official document.
``tests/assessment/test_bulletin_chromium.py`` holds it to what Chromium really draws.
"""

from __future__ import annotations

import html
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

FONT_PX = 12
LINE_PX = 14
LABEL_W, VALUE_W, CHANGE_W = 230, 380, 150
"""The three panels, left to right: names, values, rank changes."""
LABEL_GAP = 8
"""Space between a name's right end and the value panel."""
MAX_LABEL_LINES = 2

# Widths in em, measured on Noto Sans CJK SC, DejaVu Sans and Chromium's sans-serif (2026-12),
# each rounded up to the widest of the three.
_WIDE_LATIN = frozenset("@%mMWw—")
_NARROW = frozenset(" ilIjJ.,:;'|!`·")


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of a chart: a label, a value and an optional rank change (positive: up)."""

    label: str
    value: float | None
    change: int | None = None


def rounded(value: float, digits: int) -> Decimal:
    """``value`` rounded half up (四舍五入) on its shortest decimal form, as a bulletin prints it.

    The shortest form is what the JSON API shows (2.675, not the binary 2.67499…), so the
    bulletin rounds what a reader can check: 2.675 → 2.68.
    """
    result = Decimal(repr(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return abs(result) if result.is_zero() else result  # never "-0.00"


def number_text(value: float, digits: int = 2) -> str:
    """A finite number with ``digits`` decimals and thousands separators (1,234.50)."""
    return f"{rounded(value, digits):,.{digits}f}"


def char_em(char: str) -> float:
    """The width of one character in em, an upper bound over the page's fonts."""
    if unicodedata.east_asian_width(char) in ("W", "F", "A") or char in _WIDE_LATIN:
        return 1.0
    if char in _NARROW:
        return 0.35
    if unicodedata.combining(char):
        return 0.0
    if char.isupper():
        return 0.8
    return 0.62


def text_width(text: str, font_px: float = FONT_PX) -> float:
    """The width ``text`` takes at ``font_px``, in pixels (see :func:`char_em`)."""
    return sum(char_em(c) for c in text) * font_px


def fit_label(text: str, width: float, *, max_lines: int = MAX_LABEL_LINES, font_px: float = FONT_PX) -> list[str]:
    """``text`` broken into at most ``max_lines`` lines no wider than ``width`` pixels.

    CJK text breaks between any two characters; Latin text at the last space of the line when
    there is one in its second half. What does not fit the last line is cut, ending in "…".
    """
    lines: list[str] = []
    rest = text.strip()
    while rest and len(lines) < max_lines:
        end, used = 0, 0.0
        while end < len(rest) and used + char_em(rest[end]) * font_px <= width:
            used += char_em(rest[end]) * font_px
            end += 1
        end = max(end, 1)  # one glyph wider than the column still has to go somewhere
        if end < len(rest) and rest[end] != " " and rest[end - 1] != " ":
            space = rest.rfind(" ", 0, end)
            if space > end // 2 and not _is_wide(rest[end - 1]):
                end = space
        lines.append(rest[:end].rstrip())
        rest = rest[end:].lstrip()
    if rest:
        last = lines[-1]
        while last and text_width(last + "…", font_px) > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    return lines


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def render_svg_chart(bars: Sequence[Bar], *, value_label: str = "得分", digits: int = 2) -> str:
    """A horizontal bar chart of ``bars``: names, then values, then rank changes.

    Bars are dark grey; rank changes are drawn up (filled) or down (outlined) from a centre line,
    with their numbers printed, so colour is never needed to read it. Each row is as tall as its
    name's lines; the value panel leaves room for the widest printed value, and the change panel
    for the widest printed change, so no text leaves the chart.
    """
    bar_h, gap, top = 18, 6, 28
    width = LABEL_W + VALUE_W + CHANGE_W
    label_right = LABEL_W - LABEL_GAP
    values = [b.value for b in bars if b.value is not None and math.isfinite(b.value)]
    low, high = min([0.0, *values]), max([1e-12, *values])
    span = high - low or 1.0
    value_room = max([text_width("未排名"), *(text_width(number_text(v, digits)) for v in values)])
    bar_span = VALUE_W - value_room - 12
    changes = [abs(b.change) for b in bars if b.change]
    max_change = max([1, *changes])
    change_room = max([text_width("持平"), *(text_width(f"↑{c}") for c in changes)])
    change_span = CHANGE_W / 2 - change_room - 6
    names = [fit_label(b.label, label_right) for b in bars]
    heights = [max(bar_h, len(lines) * LINE_PX + 4) for lines in names]
    height = top + sum(h + gap for h in heights) + 10
    x0, cx = LABEL_W, LABEL_W + VALUE_W + CHANGE_W / 2
    zero_x = x0 + (0 - low) / span * bar_span
    heading = fit_label(value_label, VALUE_W - 8, max_lines=1)[0]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(value_label)}及名次变化">',
        f'<text x="{x0}" y="16" font-weight="bold">{html.escape(heading)}</text>',
        f'<text x="{cx}" y="16" text-anchor="middle" font-weight="bold">名次变化</text>',
        f'<line x1="{cx}" y1="{top - 6}" x2="{cx}" y2="{height - 6}" stroke="#555" stroke-width="1"/>',
    ]
    y = top
    for bar, lines, row_h in zip(bars, names, heights, strict=True):
        mid = y + row_h / 2 + 4
        parts.append(_label(bar.label, lines, label_right, mid))
        bar_y = y + (row_h - bar_h) / 2
        if bar.value is not None and math.isfinite(bar.value):
            x_end = x0 + (bar.value - low) / span * bar_span
            left, w = min(zero_x, x_end), abs(x_end - zero_x)
            parts.append(f'<rect x="{left:.1f}" y="{bar_y}" width="{max(w, 0.5):.1f}" height="{bar_h}" fill="#444"/>')
            parts.append(f'<text x="{max(zero_x, x_end) + 4:.1f}" y="{mid}">{number_text(bar.value, digits)}</text>')
        else:
            parts.append(f'<text x="{x0}" y="{mid}">未排名</text>')
        if bar.change:
            w = abs(bar.change) / max_change * change_span
            if bar.change > 0:
                parts.append(
                    f'<rect x="{cx:.1f}" y="{bar_y + 3}" width="{w:.1f}" height="{bar_h - 6}" fill="#222"/>'
                    f'<text x="{cx + w + 3:.1f}" y="{mid}">↑{bar.change}</text>'
                )
            else:
                parts.append(
                    f'<rect x="{cx - w:.1f}" y="{bar_y + 3}" width="{w:.1f}" height="{bar_h - 6}" fill="#fff" '
                    f'stroke="#222" stroke-width="1"/>'
                    f'<text x="{cx - w - 3:.1f}" y="{mid}" text-anchor="end">↓{-bar.change}</text>'
                )
        elif bar.change == 0:
            parts.append(f'<text x="{cx + 4:.1f}" y="{mid}">持平</text>')
        y += row_h + gap
    parts.append("</svg>")
    return "".join(parts)


def _label(full: str, lines: list[str], right: float, mid: float) -> str:
    """A zone's name, right-aligned on its lines, with the full name as its tooltip."""
    tip = f"<title>{html.escape(full)}</title>"
    if len(lines) == 1:
        return f'<g class="zone">{tip}<text x="{right}" y="{mid}" text-anchor="end">{html.escape(lines[0])}</text></g>'
    first = mid - (len(lines) - 1) * LINE_PX / 2
    spans = "".join(
        f'<tspan x="{right}" y="{first + i * LINE_PX:.1f}">{html.escape(line)}</tspan>' for i, line in enumerate(lines)
    )
    return f'<g class="zone">{tip}<text x="{right}" y="{first:.1f}" text-anchor="end">{spans}</text></g>'
