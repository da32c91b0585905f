"""Rendering ranking bulletins (通报) as HTML (with an inline SVG bar chart), CSV and XLSX.

A :class:`Bulletin` is a title, sections of rows under Chinese column headers, and notes; each
section may carry a chart of one value per row and the row's rank change. The HTML is one
self-contained page: no scripts, no external files, black-and-grey bars with printed labels, so
it reads the same on paper. CSV is UTF-8 with a byte-order mark (so spreadsheet programs pick
the encoding up); several sections share one table with a leading 分项 column.
"""

from __future__ import annotations

import csv
import html
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

Cell = str | int | float | None

KIND_ZH = {"economic": "经济开发区", "high_tech": "高新技术产业开发区"}
"""Zone kinds as a bulletin names them."""


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of a chart: a label, a value and an optional rank change (positive: up)."""

    label: str
    value: float | None
    change: int | None = None


@dataclass
class Section:
    """A table of the bulletin, optionally charted."""

    title: str
    columns: list[str]
    rows: list[list[Cell]]
    chart: list[Bar] | None = None
    value_label: str = "得分"
    notes: list[str] = field(default_factory=list)


@dataclass
class Bulletin:
    """A whole bulletin."""

    title: str
    subtitle: str
    sections: list[Section]
    notes: list[str] = field(default_factory=list)


def fmt(value: Cell, digits: int = 2) -> str:
    """A cell as text: numbers with ``digits`` decimals (integers as they are), None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:,.{digits}f}" if math.isfinite(value) else "—"
    return value


def change_text(change: int | None, movement: str | None = None) -> str:
    """A rank change as a bulletin prints it: ↑3, ↓2, 持平, 新设 (new), or a dash."""
    if movement == "new":
        return "新设"
    if movement in ("unranked_before", "unranked") or change is None:
        return "—"
    if change > 0:
        return f"↑{change}"
    if change < 0:
        return f"↓{-change}"
    return "持平"


# --- CSV ------------------------------------------------------------------------------------------


def render_csv(bulletin: Bulletin) -> bytes:
    """The bulletin's rows as CSV (UTF-8 with BOM); several sections get a leading 分项 column."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    many = len(bulletin.sections) > 1
    if bulletin.sections:
        head = bulletin.sections[0].columns
        writer.writerow(["分项", *head] if many else head)
    for section in bulletin.sections:
        for row in section.rows:
            cells = ["" if c is None else c for c in row]
            writer.writerow([section.title, *cells] if many else cells)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# --- XLSX -----------------------------------------------------------------------------------------

_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def _sheet_title(title: str, used: set[str]) -> str:
    base = _SHEET_BAD.sub(" ", title).strip()[:28] or "Sheet"
    name, n = base, 2
    while name in used:
        name = f"{base[:26]}({n})"
        n += 1
    used.add(name)
    return name


def render_xlsx(bulletin: Bulletin) -> bytes:
    """The bulletin as an Excel workbook: one sheet per section, title and notes above the table."""
    book = Workbook()
    default = book.active
    used: set[str] = set()
    for index, section in enumerate(bulletin.sections or [Section("通报", [], [])]):
        sheet = book.create_sheet(_sheet_title(section.title, used))
        sheet.append([bulletin.title])
        sheet["A1"].font = Font(bold=True, size=14)
        sheet.append([bulletin.subtitle if index == 0 else section.title])
        sheet.append([])
        sheet.append(section.columns)
        for cell in sheet[4]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(horizontal="center", wrap_text=True)
        for row in section.rows:
            sheet.append([c if not (isinstance(c, float) and not math.isfinite(c)) else None for c in row])
        sheet.freeze_panes = "A5"
        for col, header in enumerate(section.columns, start=1):
            width = max([len(str(header)) * 2, *(len(fmt(r[col - 1])) + 2 for r in section.rows if col <= len(r))])
            sheet.column_dimensions[get_column_letter(col)].width = min(max(width, 8), 60)
        notes = [*section.notes, *(bulletin.notes if index == 0 else [])]
        if notes:
            sheet.append([])
            for note in notes:
                sheet.append([note])
    if default is not None:
        book.remove(default)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- HTML with an inline SVG chart ----------------------------------------------------------------

_STYLE = """
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif;
       color: #111; margin: 24px; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
p.sub { color: #333; margin: 0 0 16px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13px; }
th, td { border: 1px solid #555; padding: 3px 8px; }
th { background: #eee; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.notes { font-size: 12px; color: #333; }
svg text { font-size: 12px; fill: #111; }
@media print {
  body { margin: 0; }
  h2 { break-after: avoid; }
  svg, table { break-inside: avoid; }
  th { background: #eee; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def render_svg_chart(bars: Sequence[Bar], *, value_label: str = "得分", width: int = 760) -> str:
    """A horizontal bar chart of ``bars``: values on the left panel, rank changes on the right.

    Bars are dark grey; rank changes are drawn up (filled) or down (outlined) from a centre line,
    with their numbers printed, so colour is never needed to read it.
    """
    row_h, gap, top = 18, 6, 28
    label_w, value_w, change_w = 190, 380, 150
    values = [b.value for b in bars if b.value is not None and math.isfinite(b.value)]
    low = min([0.0, *values])
    high = max([1e-12, *values])
    span = high - low or 1.0
    changes = [abs(b.change) for b in bars if b.change is not None]
    max_change = max([1, *changes])
    height = top + len(bars) * (row_h + gap) + 10
    x0 = label_w
    zero_x = x0 + (0 - low) / span * (value_w - 60)
    cx = label_w + value_w + change_w / 2
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(value_label)}及名次变化">',
        f'<text x="{x0}" y="16" font-weight="bold">{html.escape(value_label)}</text>',
        f'<text x="{cx}" y="16" text-anchor="middle" font-weight="bold">名次变化</text>',
        f'<line x1="{cx}" y1="{top - 6}" x2="{cx}" y2="{height - 6}" stroke="#555" stroke-width="1"/>',
    ]
    for i, bar in enumerate(bars):
        y = top + i * (row_h + gap)
        mid = y + row_h / 2 + 4
        parts.append(f'<text x="{label_w - 8}" y="{mid}" text-anchor="end">{html.escape(_clip(bar.label, 16))}</text>')
        if bar.value is not None and math.isfinite(bar.value):
            x_end = x0 + (bar.value - low) / span * (value_w - 60)
            left, w = min(zero_x, x_end), abs(x_end - zero_x)
            parts.append(f'<rect x="{left:.1f}" y="{y}" width="{max(w, 0.5):.1f}" height="{row_h}" fill="#444"/>')
            parts.append(f'<text x="{max(zero_x, x_end) + 4:.1f}" y="{mid}">{fmt(bar.value)}</text>')
        else:
            parts.append(f'<text x="{x0}" y="{mid}">未排名</text>')
        if bar.change is not None and bar.change != 0:
            w = abs(bar.change) / max_change * (change_w / 2 - 24)
            if bar.change > 0:
                parts.append(
                    f'<rect x="{cx:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="#222"/>'
                    f'<text x="{cx + w + 3:.1f}" y="{mid}">↑{bar.change}</text>'
                )
            else:
                parts.append(
                    f'<rect x="{cx - w:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="#fff" '
                    f'stroke="#222" stroke-width="1"/>'
                    f'<text x="{cx - w - 3:.1f}" y="{mid}" text-anchor="end">↓{-bar.change}</text>'
                )
        elif bar.change == 0:
            parts.append(f'<text x="{cx + 4:.1f}" y="{mid}">持平</text>')
    parts.append("</svg>")
    return "".join(parts)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_html(bulletin: Bulletin) -> str:
    """The bulletin as one printable HTML page with inline SVG charts."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{html.escape(bulletin.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(bulletin.title)}</h1>",
        f'<p class="sub">{html.escape(bulletin.subtitle)}</p>',
    ]
    for section in bulletin.sections:
        out.append(f"<section><h2>{html.escape(section.title)}</h2>")
        if section.chart:
            out.append(render_svg_chart(section.chart, value_label=section.value_label))
        out.append("<table><thead><tr>")
        out.extend(f"<th>{html.escape(c)}</th>" for c in section.columns)
        out.append("</tr></thead><tbody>")
        for row in section.rows:
            out.append("<tr>")
            for cell in row:
                numeric = isinstance(cell, int | float) and not isinstance(cell, bool)
                out.append(f'<td class="n">{fmt(cell)}</td>' if numeric else f"<td>{html.escape(fmt(cell))}</td>")
            out.append("</tr>")
        out.append("</tbody></table>")
        if section.notes:
            out.append('<div class="notes">' + "".join(f"<p>{html.escape(n)}</p>" for n in section.notes) + "</div>")
        out.append("</section>")
    if bulletin.notes:
        out.append('<div class="notes">' + "".join(f"<p>{html.escape(n)}</p>" for n in bulletin.notes) + "</div>")
    out.append("</body></html>")
    return "".join(out)
