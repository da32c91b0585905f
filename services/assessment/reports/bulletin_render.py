"""Rendering ranking bulletins (通报) as HTML (with an inline SVG bar chart), CSV and XLSX.

A :class:`Bulletin` is a title, sections of rows under Chinese column headers, and notes; each
section may carry a chart of one value per row and the row's rank change. The HTML is one
self-contained page: no scripts, no external files, black-and-grey bars with printed labels, so
it reads the same on paper. CSV is UTF-8 with a byte-order mark (so spreadsheet programs pick
the encoding up); several sections share one table with a leading 分项 column.

The three formats print the same numbers: every decimal column is rounded half up to its
section's digits (:attr:`Section.digits`, two by default) in all three, and the XLSX cells hold
that rounded number with a matching number format. A draft bulletin (not yet published) says so
in every format: a 草稿 watermark and "（草稿）" in the HTML, a first line "草稿 – 未发布" in the
CSV, the same in each sheet's heading.
"""

from __future__ import annotations

import csv
import html
import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from services.assessment.reports.bulletin_chart import Bar, number_text, render_svg_chart, rounded

Cell = str | int | float | None

KIND_ZH = {"economic": "经济开发区", "high_tech": "高新技术产业开发区"}
"""Zone kinds as a bulletin names them."""

DRAFT_MARK = "草稿 – 未发布"
"""What a draft bulletin says first, in every format."""

DEFAULT_DIGITS = 2


@dataclass
class Section:
    """A table of the bulletin, optionally charted.

    ``digits`` gives the decimals of a column by its header (others: two); the chart prints its
    values with ``value_digits``.
    """

    title: str
    columns: list[str]
    rows: list[list[Cell]]
    chart: list[Bar] | None = None
    value_label: str = "得分"
    notes: list[str] = field(default_factory=list)
    digits: Mapping[str, int] = field(default_factory=dict)
    value_digits: int = DEFAULT_DIGITS

    def column_digits(self) -> list[int]:
        """The decimals of each column, in order."""
        return [self.digits.get(c, DEFAULT_DIGITS) for c in self.columns]


@dataclass
class Bulletin:
    """A whole bulletin; ``draft`` marks one not yet published."""

    title: str
    subtitle: str
    sections: list[Section]
    notes: list[str] = field(default_factory=list)
    draft: bool = False

    @property
    def heading(self) -> str:
        """The title as the page's <title> and <h1> show it."""
        return f"{self.title}（草稿）" if self.draft else self.title


def fmt(value: Cell, digits: int = DEFAULT_DIGITS) -> str:
    """A cell as text: numbers with ``digits`` decimals (integers as they are), None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return number_text(value, digits) if math.isfinite(value) else "—"
    return value


def _plain(value: Cell, digits: int) -> Cell:
    """A cell for CSV and XLSX: a float rounded as the HTML prints it, non-finite as empty."""
    if isinstance(value, float) and not isinstance(value, bool):
        return float(rounded(value, digits)) if math.isfinite(value) else None
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
    """The bulletin's rows as CSV (UTF-8 with BOM); several sections get a leading 分项 column.

    Decimals are written without thousands separators, with exactly the digits the HTML shows.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if bulletin.draft:
        writer.writerow([DRAFT_MARK])
    many = len(bulletin.sections) > 1
    if bulletin.sections:
        head = bulletin.sections[0].columns
        writer.writerow(["分项", *head] if many else head)
    for section in bulletin.sections:
        digits = section.column_digits()
        for row in section.rows:
            cells = [_csv_cell(c, digits[i] if i < len(digits) else DEFAULT_DIGITS) for i, c in enumerate(row)]
            writer.writerow([section.title, *cells] if many else cells)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _csv_cell(value: Cell, digits: int) -> str | int:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{rounded(value, digits):.{digits}f}" if math.isfinite(value) else ""
    return value


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


def number_format(digits: int) -> str:
    """The Excel number format of a column with ``digits`` decimals (#,##0.00 for two)."""
    return "#,##0" + ("." + "0" * digits if digits > 0 else "")


def render_xlsx(bulletin: Bulletin) -> bytes:
    """The bulletin as an Excel workbook: one sheet per section, title and notes above the table.

    Numbers stay numbers: decimals are rounded as the HTML shows them and carry a number format
    with the same digits, integers the format ``0``. A draft says "草稿 – 未发布" in A1.
    """
    book = Workbook()
    default = book.active
    used: set[str] = set()
    heading = f"{bulletin.title}（{DRAFT_MARK}）" if bulletin.draft else bulletin.title
    for index, section in enumerate(bulletin.sections or [Section("通报", [], [])]):
        sheet = book.create_sheet(_sheet_title(section.title, used))
        sheet.append([heading])
        sheet["A1"].font = Font(bold=True, size=14, color="C00000" if bulletin.draft else None)
        sheet.append([bulletin.subtitle if index == 0 else section.title])
        sheet.append([])
        sheet.append(section.columns)
        for cell in sheet[4]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(horizontal="center", wrap_text=True)
        digits = section.column_digits()
        for row in section.rows:
            sheet.append([_plain(c, digits[i] if i < len(digits) else DEFAULT_DIGITS) for i, c in enumerate(row)])
            for i, cell in enumerate(sheet[sheet.max_row]):
                if isinstance(cell.value, float):
                    cell.number_format = number_format(digits[i] if i < len(digits) else DEFAULT_DIGITS)
                elif isinstance(cell.value, int):
                    cell.number_format = "0"
        sheet.freeze_panes = "A5"
        for col, header in enumerate(section.columns, start=1):
            d = digits[col - 1]
            width = max([len(str(header)) * 2, *(len(fmt(r[col - 1], d)) + 2 for r in section.rows if col <= len(r))])
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

FONT_STACK = '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif'
"""CJK-capable fonts first, so names are never drawn in a fallback with missing glyphs."""

_STYLE = f"""
body {{ font-family: {FONT_STACK}; color: #111; margin: 24px; }}
h1 {{ font-size: 20px; margin: 0 0 4px; }}
h2 {{ font-size: 16px; margin: 24px 0 8px; }}
p.sub {{ color: #333; margin: 0 0 16px; }}
table {{ border-collapse: collapse; margin: 8px 0 12px; font-size: 13px; }}
th, td {{ border: 1px solid #555; padding: 3px 8px; }}
th {{ background: #eee; }}
td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
.notes {{ font-size: 12px; color: #333; }}
svg text {{ font-family: {FONT_STACK}; font-size: 12px; fill: #111; }}
p.draft {{ font-weight: bold; border: 2px solid #111; display: inline-block; padding: 2px 8px; }}
.watermark {{ position: fixed; top: 45%; left: 50%; transform: translate(-50%, -50%) rotate(-30deg);
  font-size: 160px; font-weight: bold; color: rgba(0, 0, 0, 0.12); pointer-events: none; user-select: none;
  z-index: 10; white-space: nowrap; }}
@media print {{
  body {{ margin: 0; }}
  h2 {{ break-after: avoid; }}
  svg, table {{ break-inside: avoid; }}
  th {{ background: #eee; -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
  .watermark {{ color: #d0d0d0; -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
}}
"""
# The watermark is text, not a background image, so printers print it without "background
# graphics"; position: fixed repeats it on every printed page.


def render_html(bulletin: Bulletin) -> str:
    """The bulletin as one printable HTML page with inline SVG charts."""
    heading = html.escape(bulletin.heading)
    out = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{heading}</title><style>{_STYLE}</style></head><body>",
    ]
    if bulletin.draft:
        out.append('<div class="watermark" aria-hidden="true">草稿</div>')
    out.append(f"<h1>{heading}</h1>")
    if bulletin.draft:
        out.append(f'<p class="draft">{DRAFT_MARK}：本通报为草稿，尚未发布，不作为正式结果。</p>')
    out.append(f'<p class="sub">{html.escape(bulletin.subtitle)}</p>')
    for section in bulletin.sections:
        out.append(f"<section><h2>{html.escape(section.title)}</h2>")
        if section.chart:
            out.append(render_svg_chart(section.chart, value_label=section.value_label, digits=section.value_digits))
        out.append("<table><thead><tr>")
        out.extend(f"<th>{html.escape(c)}</th>" for c in section.columns)
        out.append("</tr></thead><tbody>")
        digits = section.column_digits()
        for row in section.rows:
            out.append("<tr>")
            for i, cell in enumerate(row):
                numeric = isinstance(cell, int | float) and not isinstance(cell, bool)
                text = fmt(cell, digits[i] if i < len(digits) else DEFAULT_DIGITS)
                out.append(f'<td class="n">{text}</td>' if numeric else f"<td>{html.escape(text)}</td>")
            out.append("</tr>")
        out.append("</tbody></table>")
        if section.notes:
            out.append('<div class="notes">' + "".join(f"<p>{html.escape(n)}</p>" for n in section.notes) + "</div>")
        out.append("</section>")
    if bulletin.notes:
        out.append('<div class="notes">' + "".join(f"<p>{html.escape(n)}</p>" for n in bulletin.notes) + "</div>")
    out.append("</body></html>")
    return "".join(out)
